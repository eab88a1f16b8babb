"""scripts/install.sh in a fresh clone: it makes `.venv` from the interpreter it is given
(Debian's own python3 included, which pip may not install into), mends a `.venv` it cannot
use, runs apt only for what is missing, and when pip fails it says so with pip's own words."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.install.conftest import (
    DEBIAN_PATH,
    DEBIAN_PYTHON,
    NO_BYTECODE,
    clean_env,
    clone_head,
    need_debian_python,
    run,
)

pytestmark = pytest.mark.install

NOBODY = 65534
ORIGIN = 'import sys; print(sys.base_prefix, "%d.%d" % sys.version_info[:2])'


def other_python() -> Path:
    """A Python 3.11+ that is not Debian's: the one beneath this test run's venv (pyenv's here)."""
    found = Path(sys.base_prefix) / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    if sys.base_prefix == "/usr" or not found.exists():
        pytest.skip(f"the tests run on {sys.base_prefix}'s Python: no second 3.11+ interpreter to try")
    return found


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A directory any user can reach (pytest's tmp_path is its user's alone)."""
    with tempfile.TemporaryDirectory(prefix="mixfleet-install-") as tmp:
        os.chmod(tmp, 0o755)
        yield Path(tmp)


@pytest.mark.parametrize(
    ("python", "leftover", "drop_root"),
    [
        # PYTHON unset, PATH=/usr/bin:/bin: `python3` is Debian's, externally managed one.
        pytest.param(None, None, True, id="debian-python3-first-on-path-non-root"),
        pytest.param("other", None, False, id="other-python-3.11"),
        pytest.param("debian", "other", False, id="venv-left-by-another-python"),
        # What `python3 -m venv` leaves when Debian's python3-venv is missing: no pip in it.
        pytest.param(None, "no-pip", False, id="half-made-venv"),
    ],
)
def test_install_makes_a_working_venv(
    shared_tmp: Path, wheelhouse: Path, python: str | None, leftover: str | None, drop_root: bool
) -> None:
    """install.sh exits 0 leaving .venv from PYTHON (else PATH's python3) with a working mixctl, and runs no apt."""
    need_debian_python()
    interpreter = other_python() if python == "other" else DEBIAN_PYTHON
    repo = clone_head(shared_tmp / "mixfleet")
    env = clean_env(PATH=DEBIAN_PATH, PIP_NO_INDEX="1", PIP_FIND_LINKS=str(wheelhouse), **NO_BYTECODE)
    if python is not None:
        env["PYTHON"] = str(interpreter)
    if leftover == "other":
        made = run([other_python(), "-m", "venv", repo / ".venv"], env=env)
        assert made.returncode == 0, made.stderr
    elif leftover == "no-pip":
        made = run([DEBIAN_PYTHON, "-m", "venv", "--without-pip", repo / ".venv"], env=env)
        assert made.returncode == 0, made.stderr
    command: list[str | Path] = ["bash", "scripts/install.sh"]
    if drop_root and os.getuid() == 0:  # (not root: it runs as a non-root user already)
        home = shared_tmp / "home"
        home.mkdir()
        for path in [home, repo, *repo.rglob("*")]:
            os.lchown(path, NOBODY, NOBODY)
        env["HOME"] = str(home)
        command = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *command]

    done = run(command, cwd=repo, env=env)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "(apt)" not in done.stdout, done.stdout
    origin = run([repo / ".venv" / "bin" / "python", "-c", ORIGIN], env=env, cwd=shared_tmp)
    prefix, version = origin.stdout.split()
    assert (prefix, version) == tuple(run([interpreter, "-c", ORIGIN], env=env).stdout.split()), done.stdout
    assert tuple(int(n) for n in version.split(".")) >= (3, 11)
    if interpreter == DEBIAN_PYTHON:
        assert prefix == "/usr"
    helped = run([repo / ".venv" / "bin" / "mixctl", "--help"], env=env, cwd=shared_tmp)
    assert helped.returncode == 0 and helped.stdout.startswith("usage: mixctl"), helped.stderr


def test_dev_sh_installs_then_runs_mixfleet_dev(tmp_path: Path, wheelhouse: Path) -> None:
    """scripts/dev.sh with Debian's python3 first on PATH installs, says how to reach mixctl, then runs `mixfleet dev`."""
    need_debian_python()
    repo = clone_head(tmp_path / "mixfleet")
    env = clean_env(PATH=DEBIAN_PATH, PIP_NO_INDEX="1", PIP_FIND_LINKS=str(wheelhouse), **NO_BYTECODE)

    done = run(["bash", "scripts/dev.sh", "--help"], cwd=repo, env=env)  # extra arguments go to `mixfleet dev`

    assert done.returncode == 0, done.stdout + done.stderr
    assert "usage: mixfleet dev" in done.stdout, done.stdout
    assert run([repo / ".venv" / "bin" / "python", "-c", ORIGIN], env=env).stdout.split()[0] == "/usr"
    assert f'export PATH="{repo}/.venv/bin:$PATH"' in done.stderr, done.stderr


PIP_FAILS = "No matching distribution found for setuptools"  # pip's own words: no build backend to be had


@pytest.mark.parametrize(
    "pip_env",
    [
        pytest.param({"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": "/nonexistent"}, id="no-index"),
        pytest.param(
            {
                "PIP_CONFIG_FILE": os.devnull,  # none of this machine's local indexes
                "PIP_INDEX_URL": "http://127.0.0.1:9/simple",  # the discard port: nothing answers
                "PIP_FIND_LINKS": "/nonexistent",
                "PIP_RETRIES": "0",
            },
            id="index-unreachable",
        ),
    ],
)
def test_pip_failure_is_loud(tmp_path: Path, pip_env: dict[str, str]) -> None:
    """When pip fails, install.sh exits non-zero with pip's error text and its own line, no traceback."""
    need_debian_python()
    repo = clone_head(tmp_path / "mixfleet")

    done = run(["bash", "scripts/install.sh"], cwd=repo, env=clean_env(PATH=DEBIAN_PATH, **pip_env))

    assert done.returncode != 0
    assert PIP_FAILS in done.stderr, done.stderr
    assert done.stderr.rstrip().endswith("error: pip could not install mixfleet into .venv (its message is above)")
    assert "Traceback" not in done.stdout + done.stderr


def test_missing_interpreter_is_one_line(tmp_path: Path) -> None:
    """PYTHON naming no interpreter stops install.sh with exit 1 and one error line, before any venv."""
    repo = clone_head(tmp_path / "mixfleet")

    done = run(["bash", "scripts/install.sh"], cwd=repo, env=clean_env(PATH=DEBIAN_PATH, PYTHON="/nonexistent/python3"))

    assert (done.returncode, done.stderr) == (1, "error: PYTHON=/nonexistent/python3: no such interpreter\n")
    assert not (repo / ".venv").exists()
