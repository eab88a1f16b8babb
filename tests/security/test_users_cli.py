"""Users as an operator makes them and a user meets them: `mixfleet user create` against a
running `mixfleet controlplane` over TLS, the token in a mixctl context (file mode 0600), `mixctl auth can-i` (yes/no, exit 0/1) and `whoami`, refusals worded as kubectl's,
and `mixfleet user delete` revoking."""

from __future__ import annotations

import socket
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Iterator

import pytest

from mixfleet.pki import layout
from tests.cli.conftest import Mixctl
from tests.fixtures.controlplane import REPO, ControlPlaneProcess, start_controlplane_process


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def secure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ControlPlaneProcess, str, str, Path]]:
    """`mixfleet controlplane --pki-dir` (TLS): the process, its store, the token port's
    address, the CA file."""
    work = tmp_path_factory.mktemp("secure")
    store = f"sqlite:///{work / 'state.db'}"
    pki = layout.init(work / "pki", ("127.0.0.1",)).directory
    token_listen = f"127.0.0.1:{_free_port()}"
    proc = start_controlplane_process(work, store, "--pki-dir", str(pki), "--token-listen", token_listen)
    try:
        yield proc, store, token_listen, pki / layout.CA_CERT
    finally:
        proc.stop()


def mixfleet(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mixfleet", *args], capture_output=True, text=True,
                          cwd=REPO, timeout=60)


def user(store: str, name: str, *groups: str) -> str:
    made = mixfleet("user", "create", name, *(a for g in groups for a in ("--group", g)), "--store", store)
    assert made.returncode == 0, made.stderr
    return made.stdout.strip()


def test_users_roles_and_can_i(secure: tuple[ControlPlaneProcess, str, str, Path], tmp_path: Path) -> None:
    """Anonymous is refused; an admin token in a context works and the config is 0600; a
    view user's can-i says yes to get and no to create, and their apply is Forbidden."""
    _, store, address, ca = secure
    mixctl = Mixctl(server=address, config=tmp_path / "config")
    assert mixctl("config", "set-context", "nobody", "--certificate-authority", str(ca)).returncode == 0
    refused = mixctl("get", "ns")
    assert refused.returncode == 1
    assert refused.stderr.startswith("Error from server (Unauthorized): ")

    root = user(store, "root", "system:masters")
    assert root.startswith("mixfleet_") and root not in mixfleet("user", "list", "--store", store).stdout
    assert mixctl("config", "set-context", "admin", "--certificate-authority", str(ca), "--token", root).returncode == 0
    assert mixctl("config", "use-context", "admin").returncode == 0
    assert stat.S_IMODE((tmp_path / "config").stat().st_mode) == 0o600
    assert root not in mixctl("config", "get-contexts").stdout
    manifest = tmp_path / "rbac.yaml"
    manifest.write_text(textwrap.dedent("""\
        apiVersion: v1
        kind: Namespace
        metadata: {name: team}
        ---
        apiVersion: rbac.authorization.k8s.io/v1
        kind: RoleBinding
        metadata: {name: val-view, namespace: team}
        roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
        subjects:
          - {apiGroup: rbac.authorization.k8s.io, kind: User, name: val}
        """))
    applied = mixctl("apply", "-f", str(manifest))
    assert applied.returncode == 0, applied.stderr
    assert mixctl("auth", "can-i", "delete", "nodes").stdout == "yes\n"
    listed = mixctl("get", "rolebindings", "-n", "team", "-o", "wide").stdout.split("\n")[1].split()
    assert listed[:2] == ["val-view", "ClusterRole/view"] and listed[-1] == "val"

    assert mixctl("config", "set-context", "val", "--certificate-authority", str(ca),
                  "--token", user(store, "val"), "-n", "team").returncode == 0
    assert mixctl("config", "use-context", "val").returncode == 0
    assert mixctl("auth", "whoami").stdout.startswith("Username: val\n")
    can_get = mixctl("auth", "can-i", "get", "pods")
    assert (can_get.returncode, can_get.stdout) == (0, "yes\n")
    can_create = mixctl("auth", "can-i", "create", "pods")
    assert (can_create.returncode, can_create.stdout) == (1, "no\n")
    assert mixctl("auth", "can-i", "get", "secrets").returncode == 1
    assert mixctl("auth", "can-i", "list", "pods", "-n", "default").returncode == 1
    pod = tmp_path / "pod.yaml"
    pod.write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: busybox}]\n")
    denied = mixctl("apply", "-f", str(pod))
    assert denied.returncode == 1
    assert 'Error from server (Forbidden): user "val" cannot create resource "pods" in namespace "team"' in denied.stderr
    assert "Traceback" not in denied.stderr

    assert mixfleet("user", "delete", "val", "--store", store).returncode == 0
    deadline = time.monotonic() + 30  # a token lookup is cached for up to 10 s
    while mixctl("get", "pods").returncode == 0 and time.monotonic() < deadline:
        time.sleep(0.5)
    gone = mixctl("get", "pods")
    assert "Unauthorized" in gone.stderr and "bearer token is not valid" in gone.stderr
