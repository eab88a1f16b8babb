"""The API's core logic over a Store: create, apply, update, get, list, delete.

The gRPC servicer is a thin adapter over this class; controllers inside the control plane
call it directly. Errors (``api.errors.InvalidObjectError`` and ``store.base`` errors, plus
``RegistryError`` below) are mapped to gRPC status codes in one place: controlplane/server.py.

Deletion follows Kubernetes: a pod bound to a node is first marked with
``metadata.deletionTimestamp`` so its node agent can stop the container gracefully; the agent
then finalises it with a zero grace period. Owner references drive cascading deletion
(background, foreground, orphan), finished by the garbage collector controller.

**One write path.** Every write to the store goes through this class: users' requests
(create, apply, update, delete), node agents' status updates, and the control plane's own
writers, which batch: ``txn`` commits creates, updates and deletes of several objects in one
store transaction (a controller's whole decision), and ``bind`` commits a batch of the
scheduler's bindings. Each object is defaulted and validated as an API write would be, and
each write is a compare-and-swap on the revision its writer read; all or nothing: an
invalid object or a lost race writes none of the batch. A registry made with ``fenced``
additionally refuses every write once its check (the leader elector's ``is_leader``) says
no: a deposed leader that has noticed stops at once; one that has not is stopped by the CAS.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import contextvars
import copy
import functools
import secrets
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Iterator

from mixfleet.api import claims, defaults, kinds, limits, names, podsecurity, schema, selectors, times, validation
from mixfleet.api.errors import FieldError, InvalidObjectError
from mixfleet.api.types import Obj, ObjView
from mixfleet.controlplane import claimbinding, gmsa
from mixfleet.controlplane.objects import decode, encode, meta, thaw
from mixfleet.store.base import (
    KV,
    AlreadyExistsError,
    ConflictError,
    NotFoundError,
    Op,
    Store,
)
from mixfleet.util import log

_log = log.get("registry")

SYSTEM_NAMESPACES = ("default", "mixfleet-system", "mixfleet-node-lease")
# Fields that other writers own: a user's apply must not wipe a binding or a cordon.
_PRESERVED_SPEC_FIELDS = {"Pod": ("nodeName", "binding"), "Node": ("unschedulable", "taints")}
# Annotations the controllers write on users' objects (the Deployment's revision): a user's
# apply that does not name them keeps them, else every re-apply would be a change.
# The claim's node (api/claims.py) is the scheduler's to set: an apply without it keeps it.
_SYSTEM_ANNOTATION_PREFIXES = ("deployment.kubernetes.io/", "volume.kubernetes.io/")
_APPLY_RETRIES = 5
# A delete without a precondition re-reads this often when a concurrent write wins the CAS.
_DELETE_ATTEMPTS = 5
# Registry.delete_many's objects per store transaction. etcd's --max-txn-ops (default 128)
# bounds a transaction's compares too, and a CAS costs two (mod revision, existence): 100
# deletes were refused with "too many operations in txn request".
DELETE_CHUNK = 60
# Registry.txn trusts a namespace it saw exist this recently (see _namespace_exists).
NAMESPACE_SEEN_SECONDS = 10.0
# How many objects one Apply may carry; a larger one is refused before anything is read.
# An apply is one store commit, and a commit the request's deadline overtakes has an
# unknown outcome: 40,000 Namespaces took the embedded store past mixctl's 10 s while it
# went on to commit all of them. On the project's shared 2-core machine (load 6), with the
# scheduler busy, applying 5,000 Pods took 7.6 s of the 9.5 s the server has; 2,000 took
# 2.1 s, 1,000 1.4 s: 1,000 keeps a margin of several times for a loaded host. mixctl
# splits a larger file into batches by itself.
MAX_OBJECTS_PER_APPLY = 1000
# etcd refuses a txn of more than --max-txn-ops operations (default 128) whatever its time;
# 100 like the scheduler's batches (controlplane/scheduling.py TXN_OPS).
ETCD_OBJECTS_PER_APPLY = 100


class RegistryError(Exception):
    """Request-level errors that are not validation or store errors."""


class NamespaceNotFoundError(RegistryError):
    def __init__(self, namespace: str) -> None:
        super().__init__(f'namespaces "{namespace}" not found')


class ObjectNotFoundError(RegistryError):
    def __init__(self, kind: kinds.Kind, name: str) -> None:
        super().__init__(f'{kind.plural} "{name}" not found')


class ObjectExistsError(RegistryError):
    def __init__(self, kind: kinds.Kind, name: str) -> None:
        super().__init__(f'{kind.plural} "{name}" already exists')


class NotLeaderError(RegistryError):
    def __init__(self) -> None:
        super().__init__("this control plane is no longer the leader: write refused")


class TooManyObjectsError(RegistryError):
    """An apply of more objects than one request may carry; nothing was read or written."""

    def __init__(self, count: int, limit: int) -> None:
        super().__init__(
            f"apply of {count} objects refused: at most {limit} per request "
            "(--max-objects-per-apply); nothing was applied. Send them in batches "
            "(mixctl apply does so by itself)"
        )
        self.count = count
        self.limit = limit


class OutcomeUnknownError(RegistryError):
    """A request's deadline passed while its store commit was under way: the write may or
    may not be committed. Every write of the API is safe to repeat (apply is idempotent; a
    create answers AlreadyExists, an update with a resourceVersion a conflict)."""

    def __init__(self, seconds: float, *, verb: str = "apply") -> None:
        super().__init__(
            f"outcome unknown: no answer from the store within {seconds:.1f}s while it was "
            f"committing; the write may have been committed; repeating the {verb} is safe"
        )


class StaleObjectError(RegistryError):
    def __init__(self, kind: kinds.Kind, name: str) -> None:
        super().__init__(
            f'Operation cannot be fulfilled on {kind.plural} "{name}": the object has been '
            "modified; please apply your changes to the latest version and try again"
        )


@dataclass(frozen=True, slots=True)
class ApplyResult:
    object: Obj
    outcome: str  # created | configured | unchanged


# ---- the batched writes of the control plane's own writers (Registry.txn) -------------


@dataclass(frozen=True, slots=True)
class Create:
    """Create ``obj`` (defaulted, validated, given a fresh identity)."""

    obj: ObjView
    created: str | None = None  # creationTimestamp; default: now, to the second
    # The new object's uid, when the writer must name it in another write of the same
    # batch (a CronJob's status.active lists the Job it creates); default: a fresh one.
    uid: str | None = None


@dataclass(frozen=True, slots=True)
class Update:
    """Replace ``base`` (the object as read: its resourceVersion is the CAS revision) with
    ``obj``: its spec, labels, annotations, owners, finalizers and status as the writer
    wants them; identity and deletion marks stay the stored ones; generation grows with a
    changed spec."""

    base: ObjView
    obj: ObjView


@dataclass(frozen=True, slots=True)
class Delete:
    """Delete ``obj`` (as read: CAS on its resourceVersion) as ``Registry.delete`` would
    (background): a pod running on a node is only marked, for its agent to stop it."""

    obj: ObjView
    grace: int = -1


@dataclass(frozen=True, slots=True)
class Guard:
    """No change, but the batch fails if ``obj`` changed since it was read (it is rewritten
    as it is, so its resourceVersion moves on)."""

    obj: ObjView


Write = Create | Update | Delete | Guard


@dataclass(frozen=True, slots=True)
class TxnResult:
    revision: int  # the batch's store revision (0: nothing was written)
    # Per write: the object stored now (its resourceVersion is ``revision`` unless the
    # write had nothing to do, as deleting a pod already marked), None: removed.
    objects: builtins.list[Obj | None]


@dataclass(frozen=True, slots=True)
class Deleted:
    """One object of ``Registry.delete_many``: the write, what the store holds now (a pod
    marked for its agent to stop; None: removed) and the revision written (0: nothing was,
    as for a pod already marked or an object already gone)."""

    write: Delete
    obj: Obj | None
    revision: int


@dataclass(frozen=True, slots=True)
class DeleteManyResult:
    deleted: builtins.list[Deleted]
    lost: builtins.list[Delete]  # changed since read: not deleted


@dataclass(frozen=True, slots=True)
class Binding:
    """The scheduler's decision for one pending pod, as ``Registry.bind`` writes it."""

    pod: ObjView  # as read: the bind is a CAS on its resourceVersion
    node_name: str
    binding: Mapping[str, Any]  # spec.binding: resolved isolation, image per container


def _checked(obj: ObjView, within: limits.Limits | None = None) -> Obj:
    """Default and validate one object; raises InvalidObjectError naming its field paths.
    ``within``: the control plane's limits, for users' writes (api/limits.py)."""
    if not isinstance(obj, dict):
        raise InvalidObjectError([FieldError("", "object must be a mapping")])
    try:
        kinds.by_kind(str(obj.get("kind", "")))
    except kinds.UnknownKindError as e:
        raise InvalidObjectError([FieldError("kind", str(e))]) from e
    out = defaults.apply_defaults(obj)
    errors = validation.validate(out)
    if not errors and within is not None:
        errors = limits.errors(out, within)
    if errors:
        raise InvalidObjectError(errors)
    return out


# The commits started by the current request's task, while ``tracked_commits`` is active.
_TRACKED: contextvars.ContextVar[builtins.list["asyncio.Future[int]"] | None] = contextvars.ContextVar(
    "mixfleet_tracked_commits", default=None
)


@contextlib.contextmanager
def tracked_commits() -> Iterator[builtins.list["asyncio.Future[int]"]]:
    """Within this block, every store commit the current task starts through a Registry is
    recorded in the yielded list and shielded from the task's cancellation: a deadline that
    cancels the request then no longer cuts a commit in half (etcd) or lets it finish
    unseen (the SQLite thread goes on regardless), and the caller can tell "nothing was
    written" (no commit began) from "outcome unknown" (one was under way)."""
    commits: builtins.list[asyncio.Future[int]] = []
    token = _TRACKED.set(commits)
    try:
        yield commits
    finally:
        _TRACKED.reset(token)


def _retrieve(commit: "asyncio.Future[int]") -> None:
    # A commit whose waiter was cancelled keeps its error: fetch it so asyncio does not
    # log "exception was never retrieved"; the request that gave up reports it.
    if not commit.cancelled():
        commit.exception()


def _label(obj: ObjView) -> str:
    m = obj.get("metadata") or {}
    return f"{obj.get('kind')}/{m.get('name')}"


class Registry:
    def __init__(
        self,
        store: Store,
        *,
        max_object_bytes: int = limits.MAX_OBJECT_BYTES,
        max_objects_per_apply: int = MAX_OBJECTS_PER_APPLY,
        max_replicas: int = limits.MAX_REPLICAS_PER_WORKLOAD,
        pod_security_default: str = podsecurity.DEFAULT_LEVEL,
    ) -> None:
        self.store = store
        self.max_object_bytes = max_object_bytes
        self.max_objects_per_apply = max_objects_per_apply
        self.limits = limits.Limits(max_replicas=max_replicas)
        self._fence: Callable[[], bool] | None = None
        self.pod_security_default = pod_security_default
        # namespace -> (when last seen to exist, its Pod Security policy then)
        self._namespaces: dict[str, tuple[float, podsecurity.Policy]] = {}

    def fenced(self, may_write: Callable[[], bool]) -> "Registry":
        """This registry, over the same store, refusing every write (``NotLeaderError``)
        while ``may_write()`` is false; for the leader's loops (``may_write`` is the
        elector's ``is_leader``). Checked just before each store write; the CAS of every
        write covers the moment between the check and the commit."""
        fenced = copy.copy(self)
        fenced._fence = may_write
        return fenced

    async def _commit(self, ops: Sequence[Op]) -> int:
        """The one place this class writes to the store."""
        if self._fence is not None and not self._fence():
            raise NotLeaderError()
        self._check_sizes(ops)
        tracked = _TRACKED.get()
        if tracked is None:  # the control plane's own writers: no request deadline
            return await self.store.txn(ops)
        commit = asyncio.ensure_future(self.store.txn(ops))
        commit.add_done_callback(_retrieve)
        tracked.append(commit)
        return await asyncio.shield(commit)

    def _check_sizes(self, ops: Sequence[Op]) -> None:
        """Every object written is at most ``max_object_bytes`` encoded: checked here, the
        one place every write passes, so controllers' writes are held to it too."""
        errors = [
            FieldError(
                "",
                f"object is {limits.mebibytes(len(op.value))} encoded, above the limit of "
                f"{limits.mebibytes(self.max_object_bytes)} per object (--max-object-bytes)",
                object=op.key.removeprefix(kinds.REGISTRY_PREFIX),
            )
            for op in ops
            if len(op.value) > self.max_object_bytes
        ]
        if errors:
            raise InvalidObjectError(errors)

    # ---- reads -------------------------------------------------------------------------

    async def get(self, kind: str, name: str, namespace: str = "") -> Obj:
        k = kinds.lookup(kind)
        kv = await self.store.get(k.key(name, namespace or "default"))
        if kv is None:
            raise ObjectNotFoundError(k, name)
        return decode(kv)

    async def list(
        self,
        kind: str,
        *,
        namespace: str = "",
        all_namespaces: bool = False,
        label_selector: str = "",
        field_selector: str = "",
    ) -> tuple[builtins.list[Obj], int]:
        k = kinds.lookup(kind)
        ns = None if all_namespaces else (namespace or "default")
        match = ObjectFilter(label_selector, field_selector)
        kvs, rev = await self.store.list(k.prefix(ns))
        items = [o for o in (decode(kv) for kv in kvs) if match(o)]
        return items, rev

    # ---- writes ------------------------------------------------------------------------

    async def create(self, obj: Obj) -> Obj:
        obj = _checked(_generated_name(obj), self.limits)
        k = kinds.by_kind(obj["kind"])
        await self._inline_gmsa(obj)
        self._admit(obj, await self._require_namespace(k, obj, pending={}))
        new = _new_object(obj)
        key = kinds.key_for(new)
        try:
            rev = await self._commit([Op.create(key, encode(new))])
        except AlreadyExistsError as e:
            # The store retried a commit whose answer was lost (etcd, after a timeout):
            # the object there with this very uid is this create's, not someone else's.
            current = await self.store.get(key)
            if current is None or decode(current)["metadata"].get("uid") != new["metadata"]["uid"]:
                raise ObjectExistsError(k, new["metadata"]["name"]) from e
            rev = current.mod_revision
        meta(new)["resourceVersion"] = str(rev)
        _log.info("object.created", object=_label(new), revision=rev)
        return new

    async def apply(
        self, objects: builtins.list[Obj], *, dry_run: bool = False
    ) -> builtins.list[ApplyResult]:
        """Create or update every object atomically (one store transaction); at most
        ``max_objects_per_apply`` of them (TooManyObjectsError)."""
        if len(objects) > self.max_objects_per_apply:
            raise TooManyObjectsError(len(objects), self.max_objects_per_apply)
        checked: builtins.list[Obj] = []
        errors: builtins.list[FieldError] = []
        for i, raw in enumerate(objects, start=1):
            m = raw.get("metadata") if isinstance(raw, dict) else None
            if isinstance(m, dict) and not m.get("name") and m.get("generateName"):
                # As kubectl: apply finds an object by its name, which a generated one lacks.
                errors.append(FieldError("metadata.generateName", "cannot be used with apply: "
                                         "give metadata.name, or use create", document=i))
                continue
            try:
                checked.append(_checked(raw, self.limits))
            except InvalidObjectError as e:
                errors.extend(
                    FieldError(
                        err.path, err.message, document=i, object=err.object or _label(raw)
                    )
                    for err in e.errors
                )
        errors.extend(_duplicates(checked))
        if errors:
            raise InvalidObjectError(errors)
        for attempt in range(_APPLY_RETRIES):
            try:
                return await self._apply_once(checked, dry_run=dry_run)
            # AlreadyExists: a concurrent create, or the store retrying a commit whose
            # answer was lost; read again, and what is there is "unchanged".
            except (ConflictError, AlreadyExistsError):
                if attempt == _APPLY_RETRIES - 1:
                    raise
                _log.info("apply.conflict_retry", attempt=attempt + 1)
        raise AssertionError("unreachable")

    async def _apply_once(
        self, objs: builtins.list[Obj], *, dry_run: bool
    ) -> builtins.list[ApplyResult]:
        # Namespaces this batch creates count as existing; each other one is looked up once.
        known_ns: dict[str, Obj | None] = {
            o["metadata"]["name"]: o for o in objs if o["kind"] == "Namespace"
        }
        ops: builtins.list[Op] = []
        results: builtins.list[tuple[Obj, str]] = []
        for document, obj in enumerate(objs, start=1):
            k = kinds.by_kind(obj["kind"])
            namespace = await self._require_namespace(k, obj, pending=known_ns)
            if k.namespaced:
                known_ns[obj["metadata"].get("namespace") or "default"] = namespace
            key = kinds.key_for(obj)
            await self._inline_gmsa(obj, document=document, pending=objs)
            current = await self.store.get(key)
            if current is None:
                self._admit(obj, namespace, document=document)
                new = _new_object(obj)
                ops.append(Op.create(key, encode(new)))
                results.append((new, "created"))
                continue
            old = decode(current)
            merged = _merge_applied(old, obj)
            if encode(merged) == encode(old):
                results.append((old, "unchanged"))
                continue
            errs = validation.validate_update(old, merged)
            if errs:
                raise InvalidObjectError(errs)
            if podsecurity.pod_spec(merged) != podsecurity.pod_spec(old):
                self._admit(merged, namespace, document=document)
            ops.append(Op.update(key, encode(merged), current.mod_revision))
            results.append((merged, "configured"))
        if dry_run or not ops:
            return [ApplyResult(o, r) for o, r in results]
        rev = await self._commit(ops)
        out = []
        for obj, outcome in results:
            if outcome != "unchanged":
                meta(obj)["resourceVersion"] = str(rev)
                _log.info("object.applied", object=_label(obj), outcome=outcome, revision=rev)
            out.append(ApplyResult(obj, outcome))
        return out

    async def update(self, obj: Obj, *, status_only: bool = False) -> Obj:
        """Replace an object; compare-and-swap when metadata.resourceVersion is given."""
        k = kinds.by_kind(str(obj.get("kind", "")))
        m = obj.get("metadata") or {}
        name, ns = m.get("name", ""), m.get("namespace") or "default"
        key = k.key(name, ns)
        current = await self.store.get(key)
        if current is None:
            raise ObjectNotFoundError(k, name)
        expected = _expected_revision(m, current)
        old = decode(current)
        if status_only:
            new = copy.deepcopy(old)
            new["status"] = copy.deepcopy(obj.get("status") or {})
            new = _checked(new)
        else:
            new = _checked(obj, self.limits)
            await self._inline_gmsa(new)
            new["metadata"] = _carry_system_meta(old["metadata"], new["metadata"])
            new["status"] = copy.deepcopy(old.get("status") or new.get("status") or {})
            if new.get("spec") != old.get("spec"):
                new["metadata"]["generation"] = int(old["metadata"].get("generation", 1)) + 1
            errs = validation.validate_update(old, new)
            if errs:
                raise InvalidObjectError(errs)
            if podsecurity.pod_spec(new) != podsecurity.pod_spec(old):
                self._admit(new, await self._require_namespace(k, new, pending={}))
        if not new.get("status"):
            new.pop("status", None)
        if encode(new) == encode(old):
            return old
        value = encode(new)
        try:
            rev = await self._commit([Op.update(key, value, expected)])
        except ConflictError as e:
            # The store retried a commit whose answer was lost (etcd, after a timeout):
            # the bytes there being exactly this update's, it is this update that won.
            now = await self.store.get(key)
            if now is None or now.value != value:
                raise StaleObjectError(k, name) from e
            rev = now.mod_revision
        meta(new)["resourceVersion"] = str(rev)
        if k.kind != "Pod" and _deletable(new):
            await self._remove_if_finalized(k, new)
        return new

    async def delete(
        self,
        kind: str,
        name: str,
        namespace: str = "",
        *,
        propagation_policy: str = "",
        grace_period_seconds: int = -1,
        precondition_resource_version: str = "",
    ) -> Obj:
        """Delete (or mark deleting). Without a precondition a concurrent write to the
        object (say its node agent's status update) is not the caller's concern: re-read
        and try again, as Kubernetes' GuaranteedUpdate does, instead of failing the delete."""
        for attempt in range(_DELETE_ATTEMPTS):
            try:
                return await self._delete_once(
                    kind, name, namespace, propagation_policy=propagation_policy,
                    grace_period_seconds=grace_period_seconds,
                    precondition_resource_version=precondition_resource_version,
                )
            except StaleObjectError:
                if precondition_resource_version or attempt == _DELETE_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def _delete_once(
        self,
        kind: str,
        name: str,
        namespace: str,
        *,
        propagation_policy: str,
        grace_period_seconds: int,
        precondition_resource_version: str,
    ) -> Obj:
        k = kinds.lookup(kind)
        key = k.key(name, namespace or "default")
        current = await self.store.get(key)
        if current is None:
            raise ObjectNotFoundError(k, name)
        obj = decode(current)
        if precondition_resource_version and precondition_resource_version != str(
            current.mod_revision
        ):
            raise StaleObjectError(k, name)
        policy = propagation_policy or "Background"
        if errors := validation.validate_propagation(policy):
            raise InvalidObjectError(errors)
        if k.kind == "Pod" and _needs_graceful_stop(obj, grace_period_seconds):
            return await self._mark_deleting(k, key, obj, current, grace_period_seconds)
        if k.kind == claims.KIND and meta(obj).get("finalizers"):
            # Kept while a pod uses it (controllers/claims.py removes it after).
            return await self._mark_deleting(k, key, obj, current, 0)
        if policy == "Foreground" and k.kind in _FOREGROUND_KINDS:
            return await self._mark_deleting(
                k, key, obj, current, 0, finalizer="foregroundDeletion"
            )
        ops = [Op.delete(key, current.mod_revision)]
        if policy == "Orphan":
            ops.extend(await self._orphan_ops(obj))
        try:
            rev = await self._commit(ops)
        except ConflictError as e:
            raise StaleObjectError(k, name) from e
        except NotFoundError as e:
            raise ObjectNotFoundError(k, name) from e
        meta(obj)["resourceVersion"] = str(rev)
        if k.kind == "Namespace":
            self._namespaces.pop(name, None)
        _log.info("object.deleted", object=_label(obj), policy=policy, revision=rev)
        return obj

    # ---- batched writes: controllers, events, the scheduler ----------------------------

    async def txn(self, writes: Sequence[Write]) -> TxnResult:
        """Commit ``writes`` in one store transaction, all or nothing. Every object is
        defaulted and validated like an API write (InvalidObjectError lists every problem,
        each naming its object, and nothing is written); creates need their namespace;
        every update and delete is a CAS on the revision of the object as read, so a lost
        race raises StaleObjectError (ObjectNotFoundError when it is gone, ObjectExistsError
        for a create) and writes nothing. Keep batches within etcd's 128 operations, counting
        two for each update or delete (its CAS is two compares)."""
        ops: builtins.list[Op | None] = []
        stored: builtins.list[Obj | None] = []
        labels: builtins.list[tuple[kinds.Kind, str]] = []
        errors: builtins.list[FieldError] = []
        namespaces: set[str] = set()
        pods: builtins.list[Obj] = []  # created objects with a pod spec: Pod Security
        for w in writes:
            try:
                if isinstance(w, Create) and gmsa.names(w.obj):
                    w = replace(w, obj=await self._inlined_gmsa(w.obj, pending=[
                        x.obj for x in writes if isinstance(x, (Create, Update))]))
                op, out, k = _prepare(w)
            except InvalidObjectError as e:
                who = _label(w.obj)
                errors.extend(replace(err, object=err.object or who) for err in e.errors)
                continue
            if isinstance(w, Create) and k.namespaced:
                namespaces.add(out["metadata"].get("namespace") or "default")  # type: ignore[index]
                if out is not None and podsecurity.pod_spec(out) is not None:
                    pods.append(out)
            ops.append(op)
            stored.append(out)
            labels.append((k, str((w.obj.get("metadata") or {}).get("name", ""))))
        if errors:
            raise InvalidObjectError(errors)
        created_ns = {o["metadata"]["name"] for o in stored if o is not None and o["kind"] == "Namespace"}
        policies = {ns: await self._namespace_exists(ns) for ns in sorted(namespaces - created_ns)}
        for pod in pods:
            policy = policies.get(pod["metadata"].get("namespace") or "default")
            if policy is not None:
                errors.extend(replace(e, object=_label(pod)) for e in podsecurity.check(pod, policy))
        if errors:
            raise InvalidObjectError(errors)
        real = [op for op in ops if op is not None]
        if not real:
            return TxnResult(0, stored)
        try:
            rev = await self._commit(real)
        except (ConflictError, NotFoundError, AlreadyExistsError) as e:
            raise _lost(e, ops, labels) from e
        for op, obj in zip(ops, stored):
            if op is not None and obj is not None:
                meta(obj)["resourceVersion"] = str(rev)
        _log.debug("objects.written", writes=len(real), revision=rev)
        return TxnResult(rev, stored)

    async def delete_many(
        self, deletes: Sequence[Delete], *, chunk: int = DELETE_CHUNK
    ) -> DeleteManyResult:
        """Delete each object as ``txn`` would (a CAS on its revision as read; a pod running
        on a node only marked), ``chunk`` objects per store transaction: the garbage
        collector's cascades, where one transaction per object made 10,000 pods take
        minutes. Unlike ``txn`` not all or nothing: an object that changed since it was read
        is left out of its chunk (returned in ``lost``: read it again and retry) and the rest
        is committed; one already gone counts as deleted."""
        deleted: builtins.list[Deleted] = []
        lost: builtins.list[Delete] = []
        for start in range(0, len(deletes), chunk):
            part = builtins.list(deletes[start : start + chunk])
            while part:
                try:
                    result = await self.txn(part)
                except (StaleObjectError, ObjectNotFoundError) as e:
                    # The store error names the key whose precondition failed.
                    key = getattr(e.__cause__, "key", None)
                    hit = next((w for w in part if _store_key(w.obj) == key), None)
                    if hit is None:
                        lost.extend(part)
                        break
                    part.remove(hit)
                    if isinstance(e, ObjectNotFoundError):
                        deleted.append(Deleted(hit, None, 0))
                    else:
                        lost.append(hit)
                    continue
                for w, obj in zip(part, result.objects):
                    written = obj is None or obj["metadata"].get("resourceVersion") == str(result.revision)
                    deleted.append(Deleted(w, obj, result.revision if written else 0))
                break
        if deleted:
            _log.info("objects.deleted", objects=len(deleted), lost=len(lost))
        return DeleteManyResult(deleted, lost)

    async def bind(self, bindings: Sequence[Binding]) -> int:
        """Commit the scheduler's bindings in one store transaction (all or nothing): each
        pod gets ``spec.nodeName``, ``spec.binding`` and PodScheduled=True, with a CAS on
        the revision it was read at; returns the revision. A lost race raises
        StaleObjectError (ObjectNotFoundError: deleted) naming the pod, and binds none.

        Validation is of what a binding changes, which is cheap: the rest of the pod was
        validated when it was stored, and the CAS proves it is still exactly that. A pod
        already bound or being deleted, a node name that is not a valid name, or a binding
        that does not fit the pod's schema or containers raises InvalidObjectError."""
        ops: builtins.list[Op] = []
        labels: builtins.list[tuple[kinds.Kind, str]] = []
        errors: builtins.list[FieldError] = []
        pod_kind = kinds.by_kind("Pod")
        for b in bindings:
            problems = _binding_errors(b)
            if problems:
                errors.extend(replace(err, object=_label(b.pod)) for err in problems)
                continue
            m = b.pod["metadata"]
            ops.append(Op.update(
                pod_kind.key(m["name"], m.get("namespace") or "default"),
                encode(bound_pod(b.pod, b.node_name, b.binding)),
                int(m["resourceVersion"]),
            ))
            labels.append((pod_kind, str(m["name"])))
        if errors:
            raise InvalidObjectError(errors)
        if not ops:
            return 0
        try:
            claim_ops = await claimbinding.binding_ops(self.store, [(b.pod, b.node_name) for b in bindings])
        except claimbinding.ClaimRefused as e:
            _log.info("scheduler.claim_refused", error=str(e))
            raise StaleObjectError(pod_kind, e.pod) from e
        claim_kind = kinds.by_kind(claims.KIND)
        for name, op in claim_ops:
            ops.append(op)
            labels.append((claim_kind, name))
        try:
            return await self._commit(ops)
        except (ConflictError, NotFoundError) as e:
            raise _lost(e, ops, labels) from e

    # ---- helpers -----------------------------------------------------------------------

    async def ensure_system_namespaces(self) -> None:
        for ns in SYSTEM_NAMESPACES:
            key = kinds.by_kind("Namespace").key(ns)
            if await self.store.get(key) is None:
                try:
                    await self.create(
                        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
                    )
                except ObjectExistsError:
                    pass

    async def _namespace_exists(self, ns: str) -> podsecurity.Policy:
        """The Pod Security policy of ``ns``; NamespaceNotFoundError unless it exists. For
        the batched writes of the control plane's own writers, whose objects belong to
        objects already in that namespace: a namespace seen within NAMESPACE_SEEN_SECONDS is
        not read again (one store read per scheduler batch queued behind the store's commits
        cost more than the batch's other writes), so a changed level reaches controllers'
        pods that late; one this registry deletes is forgotten at once."""
        now = time.monotonic()
        seen, policy = self._namespaces.get(ns, (-NAMESPACE_SEEN_SECONDS, None))
        if policy is not None and now - seen < NAMESPACE_SEEN_SECONDS:
            return policy
        current = await self.store.get(kinds.by_kind("Namespace").key(ns))
        if current is None:
            self._namespaces.pop(ns, None)
            raise NamespaceNotFoundError(ns)
        policy = podsecurity.policy_of(decode(current), self.pod_security_default)
        self._namespaces[ns] = (now, policy)
        return policy

    async def _require_namespace(
        self, k: kinds.Kind, obj: Obj, *, pending: Mapping[str, Obj | None]
    ) -> Obj | None:
        """The namespace ``obj`` belongs to (None for a cluster-scoped kind, or one known to
        exist that ``pending`` has no object for); NamespaceNotFoundError if it is missing.
        ``pending``: namespaces this batch creates or already read."""
        if not k.namespaced:
            return None
        ns = obj["metadata"].get("namespace") or "default"
        if ns in pending:
            return pending[ns]
        current = await self.store.get(kinds.by_kind("Namespace").key(ns))
        if current is None:
            raise NamespaceNotFoundError(ns)
        return decode(current)

    async def _inline_gmsa(self, obj: Obj, *, document: int | None = None,
                           pending: Sequence[ObjView] = ()) -> None:
        """Inline the gMSA credential specs ``obj``'s pods name (controlplane/gmsa.py); a
        spec written in the same batch (``pending``) counts as there."""
        if not gmsa.names(obj):
            return
        batch = {str(o["metadata"]["name"]): o for o in pending
                 if o.get("kind") == gmsa.KIND and isinstance(o.get("metadata"), dict)}

        async def get(name: str) -> ObjView | None:
            return batch[name] if name in batch else await self._gmsa_spec(name)

        errors = await gmsa.inline(obj, get)
        if errors:
            raise InvalidObjectError([replace(e, document=document, object=_label(obj)) for e in errors])

    async def _inlined_gmsa(self, obj: ObjView, *, pending: Sequence[ObjView] = ()) -> Obj:
        out: Obj = thaw(obj)
        await self._inline_gmsa(out, pending=pending)
        return out

    async def _gmsa_spec(self, name: str) -> Obj | None:
        current = await self.store.get(kinds.by_kind(gmsa.KIND).key(name))
        return decode(current) if current is not None else None

    def _admit(self, obj: Obj, namespace: Obj | None, *, document: int | None = None) -> None:
        """Refuse what ``namespace``'s Pod Security level forbids in ``obj``'s pod spec;
        ``document``: its place in an apply."""
        if namespace is None or podsecurity.pod_spec(obj) is None:
            return
        errors = podsecurity.check(obj, podsecurity.policy_of(namespace, self.pod_security_default))
        if errors:
            raise InvalidObjectError([replace(e, document=document, object=_label(obj)) for e in errors])

    async def _mark_deleting(
        self,
        k: kinds.Kind,
        key: str,
        obj: Obj,
        current: KV,
        grace: int,
        *,
        finalizer: str | None = None,
    ) -> Obj:
        if meta(obj).get("deletionTimestamp"):
            return obj
        obj = marked_for_deletion(obj, grace, finalizer=finalizer)
        m = obj["metadata"]
        try:
            rev = await self._commit([Op.update(key, encode(obj), current.mod_revision)])
        except ConflictError as e:
            raise StaleObjectError(k, m["name"]) from e
        m["resourceVersion"] = str(rev)
        _log.info(
            "object.deleting",
            object=_label(obj),
            grace_seconds=m["deletionGracePeriodSeconds"],
            revision=rev,
        )
        return obj

    async def _remove_if_finalized(self, k: kinds.Kind, obj: Obj) -> None:
        m = obj["metadata"]
        try:
            await self._commit([Op.delete(k.key(m["name"], m.get("namespace")), int(m["resourceVersion"]))])
        except (ConflictError, NotFoundError):
            pass  # someone else changed or removed it; they own the next step

    async def _orphan_ops(self, owner: Obj) -> builtins.list[Op]:
        uid = owner["metadata"].get("uid")
        ns = owner["metadata"].get("namespace")
        ops: builtins.list[Op] = []
        for dep_kind in ("ReplicaSet", "Job", "Pod"):
            kvs, _ = await self.store.list(kinds.by_kind(dep_kind).prefix(ns))
            for kv in kvs:
                dep = decode(kv)
                refs = dep["metadata"].get("ownerReferences") or []
                kept = [r for r in refs if r.get("uid") != uid]
                if len(kept) != len(refs):
                    if kept:
                        dep["metadata"]["ownerReferences"] = kept
                    else:
                        dep["metadata"].pop("ownerReferences")
                    ops.append(Op.update(kv.key, encode(dep), kv.mod_revision))
        return ops


def _duplicates(objs: Sequence[Obj]) -> builtins.list[FieldError]:
    """One apply names each object once: it is one store transaction, which writes a key
    once (and which of two versions should win would be a guess)."""
    first: dict[str, int] = {}
    errors: builtins.list[FieldError] = []
    for i, obj in enumerate(objs, start=1):
        key = kinds.key_for(obj)
        if key in first:
            errors.append(FieldError(
                "metadata.name", f"duplicate: document {first[key]} is the same object",
                document=i, object=_label(obj)))
        else:
            first.setdefault(key, i)
    return errors


def _prepare(w: Write) -> tuple[Op | None, Obj | None, kinds.Kind]:
    """(store op or None for nothing to write, what the store will hold, kind) for one
    write of a batch; raises InvalidObjectError."""
    if isinstance(w, Create):
        new = _new_object(_checked(w.obj), created=w.created, uid=w.uid)
        return Op.create(kinds.key_for(new), encode(new)), new, kinds.by_kind(new["kind"])
    base = w.obj if isinstance(w, (Delete, Guard)) else w.base
    k = kinds.by_kind(str(base.get("kind", "")))
    m = base.get("metadata") or {}
    key = k.key(str(m.get("name", "")), m.get("namespace") or "default")
    rv = _read_revision(m)
    if isinstance(w, Delete):
        if k.kind == "Pod" and _needs_graceful_stop(base, w.grace):
            if m.get("deletionTimestamp"):
                return None, thaw(base), k  # already on its way out
            marked = marked_for_deletion(base, w.grace)
            return Op.update(key, encode(marked), rv), marked, k
        return Op.delete(key, rv), None, k
    target = base if isinstance(w, Guard) else w.obj
    new = _checked(target)
    if isinstance(w, Update):
        new["metadata"] = _carry_system_meta(dict(m), new["metadata"])
        if new.get("spec") != base.get("spec"):
            new["metadata"]["generation"] = int(m.get("generation", 1)) + 1
        errs = validation.validate_update(dict(base), new)
        if errs:
            raise InvalidObjectError(errs)
    else:
        new["metadata"] = _carry_system_meta(dict(m), new["metadata"])
    return Op.update(key, encode(new), rv), new, k


def _store_key(obj: ObjView) -> str:
    m = obj.get("metadata") or {}
    return kinds.by_kind(str(obj.get("kind", ""))).key(str(m.get("name", "")), m.get("namespace") or "default")


def _read_revision(m: Mapping[str, Any]) -> int:
    rv = str(m.get("resourceVersion") or "")
    if not rv.isdigit():
        raise InvalidObjectError([FieldError(
            "metadata.resourceVersion", f'invalid value "{rv}": the object as read is needed')])
    return int(rv)


def _lost(
    e: Exception, ops: Sequence[Op | None], labels: Sequence[tuple[kinds.Kind, str]]
) -> RegistryError:
    """The registry's error for a batch's failed precondition, naming the object."""
    key = getattr(e, "key", None)
    k, name = next(
        (lab for op, lab in zip(ops, labels) if op is not None and op.key == key),
        labels[0] if labels else (kinds.by_kind("Pod"), "?"),
    )
    if isinstance(e, NotFoundError):
        return ObjectNotFoundError(k, name)
    if isinstance(e, AlreadyExistsError):
        return ObjectExistsError(k, name)
    return StaleObjectError(k, name)


@functools.lru_cache(maxsize=8192)  # a cluster's few thousand node names recur in every batch
def _node_name_problems(name: str) -> tuple[str, ...]:
    return tuple(names.dns_subdomain(name))


def _binding_errors(b: Binding) -> builtins.list[FieldError]:
    pod = b.pod
    spec = pod.get("spec") or {}
    errs: builtins.list[FieldError] = []
    if pod.get("kind") != "Pod":
        errs.append(FieldError("kind", f"only pods are bound, not {pod.get('kind')}"))
    if spec.get("nodeName"):
        errs.append(FieldError("spec.nodeName", f'already bound to "{spec["nodeName"]}": field is immutable'))
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        errs.append(FieldError("metadata.deletionTimestamp", "a pod being deleted is not bound"))
    if not isinstance(b.node_name, str) or not b.node_name:
        errs.append(FieldError("spec.nodeName", "required value"))
    else:
        for problem in _node_name_problems(b.node_name):
            errs.append(FieldError("spec.nodeName", f'invalid value "{b.node_name}": {problem}'))
    schema.BINDING.check(b.binding, "spec.binding", errs)
    containers = {c.get("name") for c in (spec.get("initContainers") or []) + (spec.get("containers") or [])
                  if isinstance(c, Mapping)}
    images = b.binding.get("images") if isinstance(b.binding, Mapping) else None
    for name in images if isinstance(images, Mapping) else ():
        if name not in containers:
            errs.append(FieldError(schema.sub("spec", "binding", "images", str(name)),
                                   f'container "{name}" not found'))
    return errs


def bound_pod(pod: ObjView, node_name: str, binding: Mapping[str, Any]) -> Obj:
    """What binding ``pod`` stores: spec.nodeName and spec.binding set, phase Pending and
    PodScheduled=True. A new spec and status over the read pod's other parts (which are
    never mutated): deep-copying every bound pod cost more than placing it."""
    status = dict(pod.get("status") or {})
    status["phase"] = "Pending"
    status["conditions"] = [
        c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"
    ] + [{"type": "PodScheduled", "status": "True", "lastTransitionTime": times.now()}]
    spec = {**pod["spec"], "nodeName": node_name, "binding": dict(binding)}
    return {**pod, "spec": spec, "status": status}


class ObjectFilter:
    """Label and field selectors parsed once, applied to many objects."""

    def __init__(self, label_selector: str = "", field_selector: str = "") -> None:
        try:
            self._labels = selectors.parse_label_selector(label_selector) if label_selector else None
        except ValueError as e:
            raise InvalidObjectError([FieldError("labelSelector", str(e))]) from e
        try:
            self._fields = selectors.parse_field_selector(field_selector) if field_selector else None
        except ValueError as e:
            raise InvalidObjectError([FieldError("fieldSelector", str(e))]) from e

    def required_value(self, path: str) -> str | None:
        """The value a field at ``path`` must equal for a match (``spec.nodeName=n1``), or
        None when the selector does not pin it. Lets a watch cache index its watchers."""
        terms = self._fields.terms if self._fields is not None else ()
        return next((t.value for t in terms if t.path == path and not t.negate), None)

    def __call__(self, obj: Obj) -> bool:
        if self._labels is not None and not self._labels.matches(
            (obj.get("metadata") or {}).get("labels") or {}
        ):
            return False
        return self._fields is None or self._fields.matches(obj)


# Kinds whose dependents a foreground delete waits for (the garbage collector's owners).
_FOREGROUND_KINDS = ("Deployment", "ReplicaSet", "DaemonSet", "Job", "CronJob")


def marked_for_deletion(obj: ObjView, grace: int = -1, *, finalizer: str | None = None) -> Obj:
    new: Obj = thaw(obj)
    m = meta(new)
    m["deletionTimestamp"] = times.now()
    if grace < 0:
        grace = int((obj.get("spec") or {}).get("terminationGracePeriodSeconds", 30))
    m["deletionGracePeriodSeconds"] = grace
    if finalizer:
        m["finalizers"] = sorted({*m.get("finalizers", []), finalizer})
    return new


def _new_object(obj: Obj, *, created: str | None = None, uid: str | None = None) -> Obj:
    """``obj`` (a defaulted copy the registry owns: ``_checked``'s result, never changed
    after) with a fresh identity. Only the metadata is copied: a second deep copy of every
    object created cost more than validating it."""
    new = {**obj, "metadata": dict(obj.get("metadata") or {})}
    m = new["metadata"]
    m["uid"] = uid or str(uuid.uuid4())
    m["creationTimestamp"] = created or times.now()
    m["generation"] = 1
    for f in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds"):
        m.pop(f, None)
    return new


# Kubernetes' generated-name suffix: 5 characters with no vowels (no words) and no
# look-alikes (0/o, 1/l), after at most 58 of the prefix, so the name fits 63.
_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def _generated_name(obj: Obj) -> Obj:
    """``obj`` with ``metadata.name`` made from ``metadata.generateName`` when it has none."""
    m = obj.get("metadata")
    if not isinstance(m, dict) or m.get("name") or not isinstance(m.get("generateName"), str):
        return obj
    suffix = "".join(secrets.choice(_NAME_ALPHABET) for _ in range(5))
    return {**obj, "metadata": {**m, "name": m["generateName"][:58] + suffix}}


def _merge_applied(old: Obj, applied: Obj) -> Obj:
    """What the store should hold after a user applies ``applied`` over ``old``: the user's
    spec, labels and annotations; the system's identity, status and co-owned spec fields."""
    new = copy.deepcopy(applied)
    new["metadata"] = _carry_system_meta(old["metadata"], new["metadata"])
    old_spec = old.get("spec") or {}
    for field in _PRESERVED_SPEC_FIELDS.get(old["kind"], ()):
        if field in old_spec and field not in (applied.get("spec") or {}):
            new.setdefault("spec", {})[field] = copy.deepcopy(old_spec[field])
    if "status" in old:
        new["status"] = copy.deepcopy(old["status"])
    if new.get("spec") != old.get("spec"):
        new["metadata"]["generation"] = int(old["metadata"].get("generation", 1)) + 1
    return new


def _carry_system_meta(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(new)
    for f in ("uid", "creationTimestamp", "generation", "deletionTimestamp",
              "deletionGracePeriodSeconds"):
        if f in old:
            out[f] = old[f]
        else:
            out.pop(f, None)
    for f in ("ownerReferences", "finalizers"):
        if f in old and f not in new:
            out[f] = copy.deepcopy(old[f])
    system = {k: v for k, v in (old.get("annotations") or {}).items()
              if k.startswith(_SYSTEM_ANNOTATION_PREFIXES) and k not in (new.get("annotations") or {})}
    if system:
        out["annotations"] = {**(out.get("annotations") or {}), **system}
    out.pop("resourceVersion", None)
    return out


def _expected_revision(m: dict[str, Any], current: KV) -> int:
    rv = str(m.get("resourceVersion") or "")
    if not rv:
        return current.mod_revision
    try:
        return int(rv)
    except ValueError:
        raise InvalidObjectError(
            [FieldError("metadata.resourceVersion", f'invalid value "{rv}": must be an integer')]
        ) from None


def _needs_graceful_stop(pod: ObjView, grace: int) -> bool:
    if grace == 0:
        return False
    return bool((pod.get("spec") or {}).get("nodeName")) and (pod.get("status") or {}).get(
        "phase"
    ) not in ("Succeeded", "Failed")


def _deletable(obj: Obj) -> bool:
    m = obj.get("metadata") or {}
    return bool(m.get("deletionTimestamp")) and not m.get("finalizers")
