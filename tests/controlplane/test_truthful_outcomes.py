"""A write either commits and says so, or fails and changed nothing; when a deadline passes
while the store is committing, the answer says "outcome unknown", never a plain failure.
An apply larger than the store commits in time is refused up front naming the limit, and
mixctl applies a larger file in batches below it. On the embedded store and on etcd."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path
from typing import Any, AsyncIterator, Callable, Sequence

import pytest
import pytest_asyncio

from mixfleet.client import Client, OutcomeUnknownError, TooLargeError
from mixfleet.controlplane.app import ControlPlane, ControlPlaneConfig
from mixfleet.controlplane.registry import ETCD_OBJECTS_PER_APPLY, MAX_OBJECTS_PER_APPLY
from mixfleet.store.base import Op, Store
from mixfleet.store.embedded import EmbeddedStore
from mixfleet.store.etcd import EtcdStore
from tests.cli.conftest import Mixctl
from tests.controllers.conftest import eventually
from tests.fixtures.controlplane import start_controlplane_process
from tests.fixtures.etcd import unique_prefix


class _LateAnswers:
    """Mixed into a real store: once ``delay`` is set, a commit goes on in a task of its
    own (as the embedded store's does on its SQLite thread, which no cancellation stops)
    while its answer comes ``delay`` seconds late, past the request's deadline. With
    ``answer_lost``, a commit is sent again after it went through, as the etcd store's
    retry does when etcd committed but its answer timed out."""

    delay = 0.0
    answer_lost = False

    async def txn(self, ops: Sequence[Op]) -> int:
        commit = asyncio.ensure_future(super().txn(ops))  # type: ignore[misc]
        if self.delay:
            await asyncio.sleep(self.delay)
        rev = await commit
        if self.answer_lost:
            return await super().txn(ops)  # type: ignore[misc, no-any-return]
        return rev


class _LateEmbedded(_LateAnswers, EmbeddedStore):
    pass


class _LateEtcd(_LateAnswers, EtcdStore):
    pass


@pytest.fixture(params=["embedded", "etcd"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, Callable[[], Store]]:
    """(store URL, a factory of a late-answering real store at that URL)."""
    if request.param == "embedded":
        path = tmp_path / "state.db"
        return f"sqlite:///{path}", lambda: _LateEmbedded(str(path))
    etcd = request.getfixturevalue("etcd_server")
    prefix = unique_prefix()
    return f"etcd://{etcd.endpoint}{prefix}", lambda: _LateEtcd([etcd.endpoint], prefix=prefix)


@pytest_asyncio.fixture
async def served(backend: tuple[str, Callable[[], Store]]) -> AsyncIterator[ControlPlane]:
    url, make_store = backend
    cp = ControlPlane(ControlPlaneConfig(store_url=url, listen="127.0.0.1:0"), store=make_store())
    await cp.start()
    try:
        yield cp
    finally:
        await cp.stop()


def _namespaces(prefix: str, n: int) -> list[dict[str, Any]]:
    return [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": f"{prefix}-{i}"}} for i in range(n)]


async def _names(client: Client, prefix: str) -> set[str]:
    items, _ = await client.list("namespaces")
    return {o["metadata"]["name"] for o in items if o["metadata"]["name"].startswith(prefix)}


async def test_apply_over_the_limit_is_refused_and_creates_nothing(served: ControlPlane) -> None:
    """One object more than a request may carry: refused naming the limit, nothing made."""
    limit = MAX_OBJECTS_PER_APPLY if served.config.store_url.startswith("sqlite") else ETCD_OBJECTS_PER_APPLY
    async with Client(served.address, retry_seconds=0) as client:
        with pytest.raises(TooLargeError) as refused:
            await client.apply(_namespaces("over", limit + 1))
        assert refused.value.limit == limit
        assert (f"apply of {limit + 1} objects refused: at most {limit} per request "
                "(--max-objects-per-apply)") in refused.value.message
        assert await _names(client, "over-") == set()
        # At the limit it goes through, as one commit.
        results = await client.apply(_namespaces("at", limit))
        assert {outcome for _, outcome in results} == {"created"}


@pytest.mark.parametrize("verb", ["apply", "create"])
async def test_commit_past_the_deadline_is_outcome_unknown_and_then_found(
    served: ControlPlane, verb: str
) -> None:
    """A commit still under way when the deadline passes: "outcome unknown", repeating is
    safe, and the objects are there once it ends (not "failed" while they were written)."""
    store = served.store
    assert isinstance(store, _LateAnswers)
    store.delay = 3.0  # the server answers at the client's 2 s deadline less 0.5 s
    objs = _namespaces(f"late-{verb}", 3)
    async with Client(served.address, timeout=2.0, retry_seconds=0) as client:
        with pytest.raises(OutcomeUnknownError) as unknown:
            if verb == "apply":
                await client.apply(objs)
            else:
                await client.create(objs[0])
        assert unknown.value.message.startswith("outcome unknown")
        assert f"the write may have been committed; repeating the {verb} is safe" in unknown.value.message
        wanted = {o["metadata"]["name"] for o in (objs if verb == "apply" else objs[:1])}
        store.delay = 0.0
        async with Client(served.address) as reader:
            await eventually(lambda: _found(reader, f"late-{verb}", wanted), what="the late commit's objects")
            if verb == "apply":  # and repeating it is safe: nothing changes
                outcomes = {outcome for _, outcome in await reader.apply(objs)}
                assert outcomes == {"unchanged"}


async def test_a_commit_sent_twice_is_still_a_success(served: ControlPlane) -> None:
    """The store commits, loses the answer and sends the commit again, which then finds the
    objects there: the create, the apply and the update still succeed, not "already
    exists" or "the object has been modified"."""
    store = served.store
    assert isinstance(store, _LateAnswers)
    store.answer_lost = True
    async with Client(served.address, retry_seconds=0) as client:
        created = await client.create(_namespaces("twice-create", 1)[0])
        assert created["metadata"]["name"] == "twice-create-0"
        results = await client.apply(_namespaces("twice-apply", 3))
        assert [o["metadata"]["name"] for o, _ in results] == [f"twice-apply-{i}" for i in range(3)]
        created["metadata"]["labels"] = {"changed": "yes"}
        updated = await client.update(created)  # a CAS on the revision it read
        assert updated["metadata"]["labels"] == {"changed": "yes"}
        store.answer_lost = False
        assert await _names(client, "twice-apply") == {f"twice-apply-{i}" for i in range(3)}


async def _found(client: Client, prefix: str, wanted: set[str]) -> bool:
    return await _names(client, prefix) == wanted


def _manifest(path: Path, *, namespaces: int, pods: int, pod_namespace: str) -> Path:
    """Pods first, their Namespace last: a batch must never hold a pod whose namespace
    comes in a later one."""
    docs: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"pod-{i}", "namespace": pod_namespace},
         "spec": {"containers": [{"name": "c", "image": "example/app:1"}]}}
        for i in range(pods)
    ]
    docs += _namespaces("bulk", namespaces - 1)
    docs.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": pod_namespace}})
    path.write_text("\n---\n".join(json.dumps(d) for d in docs))
    return path


@pytest.mark.parametrize("store, extra, total", [
    pytest.param("embedded", ("--max-objects-per-apply", "20"), 55, id="embedded-limit-20"),
    pytest.param("etcd", (), 150, id="etcd-default-limit"),
])
def test_mixctl_applies_a_file_above_the_limit_in_batches(
    request: pytest.FixtureRequest, tmp_path: Path, store: str, extra: tuple[str, ...], total: int
) -> None:
    """A file of more objects than one request may carry applies completely, exit 0."""
    if store == "etcd":
        url = f"etcd://{request.getfixturevalue('etcd_server').endpoint}{unique_prefix()}"
    else:
        url = f"sqlite:///{tmp_path / 'state.db'}"
    cp = start_controlplane_process(tmp_path, url, *extra)
    try:
        mixctl = Mixctl(cp.address, tmp_path / "config")
        pods = total // 3
        path = _manifest(tmp_path / "big.yaml", namespaces=total - pods, pods=pods, pod_namespace="bulk-pods")
        done = mixctl("apply", "-f", str(path))
        assert done.returncode == 0, done.stderr
        lines = done.stdout.splitlines()
        assert len(lines) == total and all(line.endswith(" created") for line in lines)
        got = mixctl("get", "pods", "-n", "bulk-pods", "-o", "name")
        assert len(got.stdout.split()) == pods
        again = mixctl("apply", "-f", str(path))
        assert again.returncode == 0 and again.stdout.count(" unchanged") == total
    finally:
        cp.stop()


def test_mixctl_says_how_much_a_failed_batch_left_applied(tmp_path: Path) -> None:
    """A later batch refused by the server: exit 1, one message that says how many objects
    were applied before it and that repeating the apply is safe; no traceback."""
    cp = start_controlplane_process(tmp_path, f"sqlite:///{tmp_path / 'state.db'}",
                                    "--max-objects-per-apply", "10")
    try:
        mixctl = Mixctl(cp.address, tmp_path / "config")
        docs = _namespaces("part", 12) + [
            {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "lost", "namespace": "missing"},
             "spec": {"containers": [{"name": "c", "image": "example/app:1"}]}}]
        path = tmp_path / "part.yaml"
        path.write_text("\n---\n".join(json.dumps(d) for d in docs))
        done = mixctl("apply", "-f", str(path))
        assert done.returncode == 1
        assert 'namespaces "missing" not found' in done.stderr
        assert "10 of 13 objects were applied" in done.stderr
        assert "the other 3 were not. Repeating the apply is safe." in done.stderr
        assert "Traceback" not in done.stderr
        assert done.stdout.count(" created") == 10
    finally:
        cp.stop()


def test_mixctl_apply_with_no_answer_says_outcome_unknown(tmp_path: Path) -> None:
    """The control plane takes the request and never answers (it is SIGSTOPped): mixctl
    says the outcome is unknown and repeating is safe, not "cannot reach" or "failed"."""
    cp = start_controlplane_process(tmp_path, f"sqlite:///{tmp_path / 'state.db'}")
    try:
        mixctl = Mixctl(cp.address, tmp_path / "config")
        path = tmp_path / "ns.yaml"
        path.write_text(json.dumps(_namespaces("silent", 1)[0]))
        os.kill(cp.proc.pid, signal.SIGSTOP)
        try:
            done = mixctl("apply", "-f", str(path))
        finally:
            os.kill(cp.proc.pid, signal.SIGCONT)
        assert done.returncode == 1
        assert "outcome unknown: the apply may have been committed; repeating the apply is safe" in done.stderr
        assert "Traceback" not in done.stderr
        assert mixctl("apply", "-f", str(path)).returncode == 0  # and repeating it is
    finally:
        cp.stop()
