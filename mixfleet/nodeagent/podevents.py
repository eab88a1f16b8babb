"""Which Event each step of a pod's work records, worded as the kubelet words it:

    Pull            Normal  Pulling  Pulling image "busybox"
                    Normal  Pulled   Successfully pulled image "busybox" in 1.2s
    Create (no pull)Normal  Pulled   Container image "busybox" already present on machine
    Create / Start  Normal  Created  Created container: main
                    Normal  Started  Started container main
    Stop            Normal  Killing  Stopping container main
                                     (or: Container main failed liveness probe, will be restarted)
    a failed pull   Warning Failed   Failed to pull image "x": <engine text>
    a failed create Warning FailedCreate  Error: <engine text>
    a failed mount  Warning FailedMount   MountVolume.SetUp failed for volume "v" : ...
    a config error  Warning Failed   Error: secret "db" not found
    back-off        Warning BackOff  Back-off restarting failed container main in pod web_default(uid)
    a new sandbox   Normal  SandboxChanged  Pod sandbox changed, it will be killed and re-created.
    a failed one    Warning FailedCreatePodSandBox  Failed to create pod sandbox: <text>
(the pod's sandbox, ``nodeagent.sandbox``, gets no container events of its own, as in the kubelet)

The executor calls ``before``/``after`` around each action and ``failed`` for each recorded
failure; all of it only adds to the node's event table (``nodeagent.events``), so it costs
the pod's worker nothing it could wait on.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Mapping, Sequence

from mixfleet.api import images as image_ref
from mixfleet.nodeagent.engines.base import ContainerState
from mixfleet.nodeagent.events import NORMAL, WARNING, NodeEvents
from mixfleet.nodeagent.podspec import LABEL_CONTAINER
from mixfleet.nodeagent.reconcile import Action, Create, Pull, Start, Stop
from mixfleet.nodeagent.sandbox import FAILED_SANDBOX, SANDBOX_NAME

PodLookup = Callable[[str], Mapping[str, Any] | None]


class PodEvents:
    def __init__(self, recorder: NodeEvents | None, lookup: PodLookup) -> None:
        self.recorder = recorder
        self.lookup = lookup
        self._names: dict[str, dict[str, str]] = {}  # pod uid -> container id -> name
        self._pulled: dict[str, set[str]] = {}  # pod uid -> containers pulled in this group
        self._began: dict[tuple[str, str], float] = {}

    def emit(self, uid: str, *, type: str, reason: str, message: str, container: str = "") -> None:
        pod = self.lookup(uid)
        if self.recorder is None or pod is None:
            return  # an orphan's pod is gone: nothing to attach an event to
        self.recorder.emit(pod, type=type, reason=reason, message=message, container=container)

    def begin_group(self, uid: str, snapshot: Sequence[ContainerState]) -> None:
        self._names[uid] = {c.id: c.labels.get(LABEL_CONTAINER, "") for c in snapshot}
        self._pulled[uid] = set()

    def before(self, action: Action) -> None:
        uid = action.pod_uid
        if getattr(action, "container", "") == SANDBOX_NAME:
            if isinstance(action, Create) and action.spec.name.rsplit("_", 1)[-1] != "0":
                self.emit(uid, type=NORMAL, reason="SandboxChanged",
                          message="Pod sandbox changed, it will be killed and re-created.")
            return
        if isinstance(action, Pull):
            self._began[(uid, action.container)] = time.monotonic()
            self.emit(uid, type=NORMAL, reason="Pulling", container=action.container,
                      message=f'Pulling image "{image_ref.familiar(action.image)}"')
        elif isinstance(action, Create) and action.container not in self._pulled.get(uid, ()):
            self.emit(uid, type=NORMAL, reason="Pulled", container=action.container,
                      message=f'Container image "{image_ref.familiar(action.spec.image)}" '
                              "already present on machine")
        elif isinstance(action, Stop):
            name = self._names.get(uid, {}).get(action.container_id, "")
            if name and name != SANDBOX_NAME:
                self.emit(uid, type=NORMAL, reason="Killing", container=name,
                          message=killing_message(name, action.reason))

    def after(self, action: Action) -> None:
        uid = action.pod_uid
        if getattr(action, "container", "") == SANDBOX_NAME:
            return
        if isinstance(action, Pull):
            self._pulled.setdefault(uid, set()).add(action.container)
            took = time.monotonic() - self._began.pop((uid, action.container), time.monotonic())
            self.emit(uid, type=NORMAL, reason="Pulled", container=action.container,
                      message=f'Successfully pulled image "{image_ref.familiar(action.image)}" '
                              f"in {took:.3f}s")
        elif isinstance(action, (Create, Start)):
            name = action.container
            if isinstance(action, Create):
                self.emit(uid, type=NORMAL, reason="Created", container=name,
                          message=f"Created container: {name}")
            self.emit(uid, type=NORMAL, reason="Started", container=name,
                      message=f"Started container {name}")

    def failed(self, uid: str, container: str, reason: str, message: str) -> None:
        """A pull, create or start failed (``reason`` as the pod status shows it)."""
        self._began.pop((uid, container), None)
        if reason == FAILED_SANDBOX:
            self.emit(uid, type=WARNING, reason=FAILED_SANDBOX,
                      message=f"Failed to create pod sandbox: {message}")
        elif reason == "ErrImagePull":
            image = self.image_of(uid, container)
            self.emit(uid, type=WARNING, reason="Failed", container=container,
                      message=f'Failed to pull image "{image}": {message}')
        elif reason == "ErrImageNeverPull":
            image = self.image_of(uid, container)
            self.emit(uid, type=WARNING, reason="ErrImageNeverPull", container=container,
                      message=f'Container image "{image}" is not present with pull policy of Never')
        elif reason == "ContainerCreating":  # a volume could not be set up (nodeagent/volumes)
            self.emit(uid, type=WARNING, reason="FailedMount", message=message)
        elif reason == "CreateContainerConfigError":
            self.emit(uid, type=WARNING, reason="Failed", container=container,
                      message=f"Error: {message}")
        else:
            self.emit(uid, type=WARNING, reason="FailedCreate", container=container,
                      message=f"Error: {message}")

    def unhealthy(self, uid: str, container: str, message: str) -> None:
        """A probe failed ("Liveness probe failed: HTTP probe failed with statuscode: 500")."""
        self.emit(uid, type=WARNING, reason="Unhealthy", container=container, message=message)

    def back_off(self, uid: str, container: str, *, pulling: str = "") -> None:
        pod = self.lookup(uid) or {}
        m = pod.get("metadata") or {}
        if pulling:
            message = f'Back-off pulling image "{image_ref.familiar(pulling)}"'
        else:
            where = f"{m.get('name')}_{m.get('namespace') or 'default'}({uid})"
            message = f"Back-off restarting failed container {container} in pod {where}"
        self.emit(uid, type=WARNING, reason="BackOff", container=container, message=message)

    def image_of(self, uid: str, container: str) -> str:
        pod = self.lookup(uid) or {}
        for c in (pod.get("spec") or {}).get("containers") or ():
            if c.get("name") == container:
                return image_ref.familiar(str(c.get("image") or ""))
        return ""


def killing_message(container: str, reason: str) -> str:
    """The kubelet's words: why a container is stopped."""
    if reason.startswith("failed ") and reason.endswith(" probe"):
        return f"Container {container} {reason}, will be restarted"
    if reason == "FailedPostStartHook":
        return "FailedPostStartHook"
    return f"Stopping container {container}"
