"""The simulated engine refuses what a real Windows (HCS) or Linux host refuses, in its words."""

from __future__ import annotations

import pytest

from mixfleet.nodeagent.engines.base import (
    ContainerSpec,
    ImageInfo,
    ImageNotFound,
    PullError,
    RunState,
    StartError,
)
from mixfleet.nodeagent.engines.simulated import SimulatedEngine

MCR = "mcr.microsoft.com/windows/servercore"
ALL_WINDOWS = [f"{MCR}:ltsc2019", f"{MCR}:ltsc2022", f"{MCR}:ltsc2025"]


def _spec(
    image: str, isolation: str | None = None, *, args: tuple[str, ...] | None = None
) -> ContainerSpec:
    return ContainerSpec(
        name=f"c-{image.rsplit(':', 1)[-1]}-{isolation}",
        image=image,
        isolation=isolation,
        args=args,
        labels={"mixfleet.io/managed": "true"},
    )


@pytest.mark.parametrize(
    "host, image, isolation, refusal",
    [
        pytest.param(
            dict(build=17763),
            f"{MCR}:ltsc2022",
            "process",
            "hcs::System::Start",
            id="process-newer-image-on-2019",
        ),
        pytest.param(
            dict(build=20348),
            f"{MCR}:ltsc2019",
            "process",
            "hcs::System::Start",
            id="process-older-image-on-2022",
        ),
        pytest.param(
            dict(build=26100), f"{MCR}:ltsc2022", "process", None, id="process-2022-image-on-2025"
        ),
        pytest.param(
            dict(build=20348), f"{MCR}:ltsc2019", "hyperv", None, id="hyperv-older-image-on-2022"
        ),
        pytest.param(
            dict(build=20348, hyperv=False),
            f"{MCR}:ltsc2019",
            "hyperv",
            "required feature is not installed",
            id="hyperv-without-role",
        ),
        pytest.param(
            dict(build=20348),
            f"{MCR}:ltsc2025",
            "hyperv",
            "hcs::CreateComputeSystem",
            id="hyperv-newer-image",
        ),
        pytest.param(
            dict(build=20348),
            "busybox",
            None,
            'image operating system "linux"',
            id="linux-image-on-windows",
        ),
        pytest.param(
            dict(os="linux"),
            f"{MCR}:ltsc2022",
            None,
            'image operating system "windows"',
            id="windows-image-on-linux",
        ),
    ],
)
async def test_start_refusals_match_the_engine(host, image, isolation, refusal):
    """Starting an image the host cannot run fails with the engine's own message."""
    engine = SimulatedEngine(images=[*ALL_WINDOWS, "busybox"], **host)
    if refusal is None:
        cid = await engine.create_and_start(_spec(image, isolation))
        [state] = await engine.list_containers()
        assert (state.id, state.state, state.isolation) == (cid, RunState.RUNNING, isolation)
        return
    with pytest.raises(StartError) as err:
        await engine.create_and_start(_spec(image, isolation))
    assert refusal in err.value.message
    assert await engine.list_containers() == []


def _windows_image(os_version: str) -> ImageInfo:
    return ImageInfo(
        id=f"sha256:{os_version}",
        names=(f"example/app:{os_version}",),
        os="windows",
        architecture="amd64",
        os_version=os_version,
        size=1,
    )


@pytest.mark.parametrize(
    "host, image_version, isolation, refusal",
    [
        pytest.param(
            dict(build=14393, revision=3930), "10.0.14393.3930", "process", None, id="2016-same-revision"
        ),
        pytest.param(
            dict(build=14393, revision=3930),
            "10.0.14393.2273",
            "process",
            "hcs::System::Start",
            id="2016-revision-mismatch",
        ),
        pytest.param(
            dict(build=14393, revision=3930), "10.0.14393.2273", "hyperv", None, id="2016-revision-hyperv"
        ),
        pytest.param(
            dict(build=17134, edition="client"),
            "10.0.17134.1",
            "process",
            "hcs::System::Start",
            id="client-1803-no-process",
        ),
        pytest.param(
            dict(build=17763, edition="client"), "10.0.17763.6189", "process", None, id="client-1809-process"
        ),
        pytest.param(dict(build=25398), "10.0.20348.2655", "process", None, id="23h2-runs-2022"),
        pytest.param(
            dict(build=22631, edition="client"), "10.0.20348.2655", "process", None, id="win11-runs-2022"
        ),
        pytest.param(
            dict(build=22631, edition="client"),
            "10.0.26100.2314",
            "process",
            "hcs::System::Start",
            id="win11-23h2-no-2025",
        ),
    ],
)
async def test_start_follows_the_hcs_table(host, image_version, isolation, refusal):
    """Starts follow Microsoft's matrix (engines/hcs_matrix.py), revisions and editions included."""
    image = _windows_image(image_version)
    engine = SimulatedEngine(images=[image], **host)
    spec = _spec(image.names[0], isolation)
    if refusal is None:
        await engine.create_and_start(spec)
        [state] = await engine.list_containers()
        assert (state.state, state.isolation) == (RunState.RUNNING, isolation)
        return
    with pytest.raises(StartError) as err:
        await engine.create_and_start(spec)
    assert refusal in err.value.message
    assert "(0xc0370101)" in err.value.message


async def test_process_mismatch_uses_hcs_text():
    """The HCS error text and code are those Docker on Windows shows."""
    engine = SimulatedEngine(build=17763, images=ALL_WINDOWS)
    with pytest.raises(StartError) as err:
        await engine.create_and_start(_spec(f"{MCR}:ltsc2022", "process"))
    assert err.value.message.startswith("container ")
    assert err.value.message.endswith(
        "encountered an error during hcs::System::Start: failure in a Windows system call: "
        "The container operating system does not match the host operating system. (0xc0370101)"
    )


@pytest.mark.parametrize(
    "host, image, message",
    [
        pytest.param(
            dict(build=17763),
            f"{MCR}:1903",
            "a Windows version 10.0.18362-based image is incompatible with a 10.0.17763 host",
            id="newer-windows-image",
        ),
        pytest.param(
            dict(build=20348),
            "example/nope:1",
            "manifest for example/nope:1 not found: manifest unknown",
            id="unknown-image",
        ),
        pytest.param(
            dict(build=20348),
            "nginx",
            "no matching manifest for windows/amd64 10.0.20348",
            id="linux-image-on-windows",
        ),
    ],
)
async def test_pull_refusals(host, image, message):
    """Pulls fail as Docker's do: incompatible Windows version, unknown manifest, wrong OS."""
    engine = SimulatedEngine(**host)
    with pytest.raises(PullError) as err:
        await engine.pull(image)
    assert message in err.value.message
    assert not await engine.image_present(image)


async def test_pull_then_run_until_stopped():
    """A pulled image runs until stopped; an absent one is ImageNotFound."""
    engine = SimulatedEngine(build=20348)
    with pytest.raises(ImageNotFound):
        await engine.create_and_start(_spec(f"{MCR}:ltsc2022"))
    await engine.pull(f"{MCR}:ltsc2022")
    cid = await engine.create_and_start(_spec(f"{MCR}:ltsc2022"))
    await engine.stop(cid, grace_seconds=5)
    [state] = await engine.list_containers()
    assert (state.state, state.exit_code) == (RunState.EXITED, 0)
    await engine.remove(cid)
    assert await engine.list_containers() == []


async def test_exit_command_exits_with_its_code():
    """A command ending in `exit N` exits at once with code N (for crash tests)."""
    engine = SimulatedEngine(os="linux", images=["busybox"])
    await engine.create_and_start(_spec("busybox", args=("sh", "-c", "echo hi; exit 3")))
    [state] = await engine.list_containers()
    assert (state.state, state.exit_code) == (RunState.EXITED, 3)


async def test_hollow_node_facts():
    """host_facts() describes the simulated host like a real one, marked simulated."""
    facts = SimulatedEngine(build=26100, revision=2314, hyperv=False).host_facts()
    assert (
        facts.os_version,
        facts.os_image,
        facts.windows_edition,
        facts.hyperv,
        facts.simulated,
    ) == ("10.0.26100.2314", "Windows Server 2025 Datacenter", "server", False, True)
