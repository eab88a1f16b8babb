"""`pip install .` puts one top-level package, `mixfleet`, in site-packages, so it sits beside
anything else: proto-plus (whose import name is `proto`) included."""

from __future__ import annotations

import json
import re
import shutil
import sys
import zipfile
from pathlib import Path

import pytest

from tests.install.conftest import DEBIAN_PYTHON, NO_BYTECODE, ROOT, clean_env, need_debian_python, run

pytestmark = pytest.mark.install

# What a developer's checkout holds that is not source: left out of the copy the wheel is
# built from (a build in place would write build/ and *.egg-info into the shared checkout,
# and setuptools puts whatever a stale build/lib still holds into the wheel).
NOT_SOURCE = (".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".mixfleet", ".*_cache")
DIST_INFO = re.compile(r"mixfleet-[^/]+\.dist-info")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel `pip wheel --no-deps` builds from the repository as it is on disk."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    shutil.copytree(ROOT, src, symlinks=True, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    built = run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", tmp / "dist", src], env=clean_env())
    assert built.returncode == 0, built.stderr
    (found,) = (tmp / "dist").glob("mixfleet-*.whl")
    return found


@pytest.fixture(scope="module")
def debian_venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv of Debian's python3 with the wheel and proto-plus installed."""
    need_debian_python()
    venv = tmp_path_factory.mktemp("venv") / "v"
    made = run([DEBIAN_PYTHON, "-m", "venv", venv], env=clean_env())
    assert made.returncode == 0, made.stderr
    installed = run(
        [venv / "bin" / "python", "-m", "pip", "install", "-q", "--disable-pip-version-check", wheel, "proto-plus"],
        env=clean_env(**NO_BYTECODE),
    )
    assert installed.returncode == 0, installed.stderr
    return venv


def top_level(paths: list[str]) -> set[str]:
    """The first path component of every entry that lands in site-packages (not ../../bin)."""
    return {p.split("/", 1)[0] for p in paths if not p.startswith("..")}


def test_wheel_record_lists_only_mixfleet(wheel: Path) -> None:
    """The wheel's RECORD has two top-level entries: `mixfleet/` and its dist-info."""
    with zipfile.ZipFile(wheel) as whl:
        (record,) = [n for n in whl.namelist() if re.fullmatch(rf"{DIST_INFO.pattern}/RECORD", n)]
        paths = [line.split(",", 1)[0] for line in whl.read(record).decode().splitlines() if line]
    entries = top_level(paths)
    dist_info = {e for e in entries if DIST_INFO.fullmatch(e)}
    assert len(dist_info) == 1 and entries == {"mixfleet"} | dist_info, sorted(entries)
    assert "mixfleet/proto/mixfleet_pb2.py" in paths


def test_site_packages_gets_only_mixfleet(debian_venv: Path) -> None:
    """Installed, the distribution's files in site-packages are `mixfleet/` and its dist-info only."""
    listed = run(
        [
            debian_venv / "bin" / "python",
            "-c",
            "import importlib.metadata as m, json; print(json.dumps([str(f) for f in m.distribution('mixfleet').files]))",
        ],
        env=clean_env(),
        cwd=debian_venv,  # not the checkout: `python -c` imports from its working directory first
    )
    assert listed.returncode == 0, listed.stderr
    entries = top_level(json.loads(listed.stdout))
    assert {e for e in entries if not DIST_INFO.fullmatch(e)} == {"mixfleet"}, sorted(entries)


PROBE = """
import json, sys, sysconfig
import proto
import mixfleet.client
import mixfleet.proto.mixfleet_pb2 as pb2
print(json.dumps({
    "site": sysconfig.get_paths()["purelib"],
    "proto": proto.__file__,
    "message": isinstance(proto.Message, type),
    "pb2": pb2.__file__,
    "client": mixfleet.client.__file__,
}))
"""


def test_proto_plus_and_mixfleet_proto_import_together(debian_venv: Path) -> None:
    """In one interpreter `import proto` is proto-plus (proto.Message) and mixfleet.proto is ours."""
    probed = run([debian_venv / "bin" / "python", "-c", PROBE], env=clean_env(), cwd=debian_venv)
    assert probed.returncode == 0, probed.stderr
    got = json.loads(probed.stdout)
    site = Path(got["site"])
    assert got["message"] is True
    assert Path(got["proto"]) == site / "proto" / "__init__.py"
    assert Path(got["pb2"]) == site / "mixfleet" / "proto" / "mixfleet_pb2.py"
    assert Path(got["client"]) == site / "mixfleet" / "client" / "__init__.py"


@pytest.mark.parametrize("script", [pytest.param("mixfleet", id="mixfleet"), pytest.param("mixctl", id="mixctl")])
def test_console_script_runs(debian_venv: Path, script: str) -> None:
    """The installed console script answers --help with its usage and exit 0."""
    helped = run(
        [debian_venv / "bin" / script, "--help"],
        env=clean_env(PATH=f"{debian_venv / 'bin'}:/usr/bin:/bin"),
        cwd=debian_venv,
    )
    assert helped.returncode == 0, helped.stderr
    assert helped.stdout.startswith(f"usage: {script}"), helped.stdout
