"""Image references compare the way Docker reads them (one normaliser for every component)."""

from __future__ import annotations

import pytest

from mixfleet.api import images
from mixfleet.nodeagent.backoff import BackoffState
from mixfleet.nodeagent.reconcile import plan
from tests.nodeagent.builders import at, make_pod

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize("ref, canonical, familiar", [
    pytest.param("nginx", "docker.io/library/nginx:latest", "nginx:latest", id="bare-name"),
    pytest.param("docker.io/library/nginx:latest", "docker.io/library/nginx:latest", "nginx:latest", id="full"),
    pytest.param("library/nginx:1.25", "docker.io/library/nginx:1.25", "nginx:1.25", id="library"),
    pytest.param("index.docker.io/nginx", "docker.io/library/nginx:latest", "nginx:latest", id="legacy-index"),
    pytest.param("user/app", "docker.io/user/app:latest", "user/app:latest", id="user-repo"),
    pytest.param("localhost/app", "localhost/app:latest", "localhost/app:latest", id="localhost"),
    pytest.param("127.0.0.1:5000/team/app:v1", "127.0.0.1:5000/team/app:v1", "127.0.0.1:5000/team/app:v1",
                 id="registry-port-not-a-tag"),
    pytest.param("mcr.microsoft.com/windows/servercore:ltsc2022", "mcr.microsoft.com/windows/servercore:ltsc2022",
                 "mcr.microsoft.com/windows/servercore:ltsc2022", id="mcr"),
    pytest.param(f"busybox@{DIGEST}", f"docker.io/library/busybox@{DIGEST}", f"busybox@{DIGEST}",
                 id="digest-no-default-tag"),
    pytest.param(f"nginx:1@{DIGEST}", f"docker.io/library/nginx:1@{DIGEST}", f"nginx:1@{DIGEST}", id="tag-and-digest"),
])
def test_normalise_like_docker(ref: str, canonical: str, familiar: str) -> None:
    """Every spelling of one image has one canonical form; Docker's short form for messages."""
    assert images.normalize(ref) == canonical
    assert images.familiar(ref) == familiar


@pytest.mark.parametrize("ref, why", [
    pytest.param("Nginx", "must be lowercase", id="uppercase"),
    pytest.param("nginx:", "bad tag", id="empty-tag"),
    pytest.param("nginx@sha256:xyz", "bad digest", id="bad-digest"),
    pytest.param("a/-b", "bad repository name", id="bad-component"),
    pytest.param("", "non-empty", id="empty"),
])
def test_invalid_references_say_why(ref: str, why: str) -> None:
    """A reference Docker refuses is an ImageRefError naming the bad part; normalize keeps it."""
    with pytest.raises(images.ImageRefError, match=why):
        images.parse(ref)
    assert images.normalize(ref) == ref


def test_agent_sees_fully_qualified_name_as_present() -> None:
    """An image the engine lists as ``nginx:latest`` is present for a pod that asks for
    ``docker.io/library/nginx:latest``: no pull on every start."""
    pod = make_pod()
    pod["spec"]["containers"][0]["image"] = "docker.io/library/nginx:latest"
    actions = plan([pod], [], now=at(0), backoff_state=BackoffState(), present_images=frozenset({"nginx:latest"}))
    assert [type(a).__name__ for a in actions] == ["Create", "ReportStatus"]
