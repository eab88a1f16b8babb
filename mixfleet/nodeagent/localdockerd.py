"""Starts a private Docker Engine (as root) on its own socket, data root and exec root: what
the tests and `mixfleet dev` use when no engine is running. Not Docker's default bridge
(docker0) and no iptables, so it leaves the host's network set-up alone and several can run
side by side: pods get their addresses on a network of its own, ``mixfleet``, a bridge named
after the data root (``mx-<hash>``) whose subnet Docker picks clear of the host's routes. The
host reaches pod IPs over that bridge; nothing is NATed or forwarded."""

from __future__ import annotations

import os
import shutil
import hashlib
import signal
import subprocess
import time
from dataclasses import dataclass

import docker

from mixfleet.nodeagent.images import import_busybox_image
from mixfleet.util import log

_log = log.get("nodeagent.localdockerd")
START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0
POD_NETWORK = "mixfleet"


class DockerdUnavailable(RuntimeError):
    pass


def find_dockerd() -> str | None:
    """$MIXFLEET_DOCKERD if set, else dockerd on PATH, else where Debian puts it (/usr/sbin
    is not on every PATH)."""
    if "MIXFLEET_DOCKERD" in os.environ:
        chosen = os.environ["MIXFLEET_DOCKERD"]
        return chosen if os.access(chosen, os.X_OK) else None
    found = shutil.which("dockerd")
    if found:
        return found
    return next((p for p in ("/usr/sbin/dockerd", "/usr/bin/dockerd") if os.access(p, os.X_OK)), None)


@dataclass
class LocalDockerd:
    socket_url: str  # "unix:///tmp/mxd-.../docker.sock"
    client: docker.DockerClient
    root: str
    proc: subprocess.Popen[bytes]
    network: str = POD_NETWORK  # the network pod sandboxes go on (DockerEngine network_mode)

    def stop(self, *, remove_containers: bool = False) -> None:
        """Stop dockerd; with ``remove_containers`` also remove them and the pod network
        (its bridge leaves the host). Kept otherwise, so a restart adopts both."""
        if remove_containers:
            try:
                for c in self.client.containers.list(all=True):
                    c.remove(force=True)
                for n in self.client.networks.list(names=[self.network]):
                    n.remove()
            except Exception:  # best effort: dockerd may already be gone
                pass
        self.client.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        _log.info("dockerd.stopped", root=self.root)


def _tail(path: str) -> str:
    with open(path, errors="replace") as f:
        return f.read()[-2000:]


def _connect(url: str, proc: subprocess.Popen[bytes], log_path: str) -> docker.DockerClient:
    """A client once dockerd answers a ping (the SDK negotiates the API version on connect)."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise DockerdUnavailable(f"dockerd exited with {proc.returncode}: {_tail(log_path)}")
        try:
            client = docker.DockerClient(base_url=url, timeout=60)
            if client.ping():
                return client
        except Exception:  # not listening yet
            time.sleep(0.2)
    raise DockerdUnavailable(f"dockerd did not answer within {START_TIMEOUT}s: {_tail(log_path)}")


def start_dockerd(root: str, *, with_busybox: bool = True) -> LocalDockerd:
    """Start dockerd with everything under ``root`` (keep the path short: a unix socket path
    must fit in 108 bytes) and import the busybox image. Raises DockerdUnavailable."""
    binary = find_dockerd()
    if binary is None:
        raise DockerdUnavailable("dockerd is not installed (Debian package docker.io)")
    os.makedirs(root, exist_ok=True)
    sock = os.path.join(root, "docker.sock")
    log_path = os.path.join(root, "dockerd.log")
    cmd = [
        binary,
        "--data-root", os.path.join(root, "data"),
        "--exec-root", os.path.join(root, "exec"),
        "--pidfile", os.path.join(root, "docker.pid"),
        "--host", f"unix://{sock}",
        "--bridge=none",
        "--iptables=false",
        "--ip-masq=false",
    ]  # fmt: skip
    with open(log_path, "wb") as log_file:
        proc = subprocess.Popen(
            cmd, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        client = _connect(f"unix://{sock}", proc, log_path)
        ensure_pod_network(client, root)
        if with_busybox:
            import_busybox_image(client)
    except BaseException:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        raise
    _log.info("dockerd.started", socket=sock)
    return LocalDockerd(socket_url=f"unix://{sock}", client=client, root=root, proc=proc)


def bridge_name(root: str) -> str:
    """One bridge per data root; Linux interface names hold 15 characters."""
    return "mx-" + hashlib.sha256(os.path.realpath(root).encode()).hexdigest()[:12]


def ensure_pod_network(client: docker.DockerClient, root: str) -> None:
    """The ``mixfleet`` bridge network, made once per data root (kept across restarts)."""
    if client.networks.list(names=[POD_NETWORK]):
        return
    client.networks.create(
        POD_NETWORK, driver="bridge",
        options={"com.docker.network.bridge.name": bridge_name(root)},
        labels={"mixfleet.io/managed": "true"},
    )
    _log.info("dockerd.network_created", network=POD_NETWORK, bridge=bridge_name(root))


def engine_reachable(url: str) -> bool:
    try:
        client = docker.DockerClient(base_url=url, timeout=3)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        return False
