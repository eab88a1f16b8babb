"""Shared by the install tests: the repository root, Debian's interpreter, a fresh clone."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEBIAN_PYTHON = Path("/usr/bin/python3")
# Debian's directories only: `python3` is /usr/bin/python3, not pyenv's shim.
DEBIAN_PATH = "/usr/bin:/bin"
# Enough for an install from the index on a loaded 2-core machine (one from the wheelhouse
# below takes about 10 s).
TIMEOUT = 240
# Bytecode is beside the point here and compiling it is half of an install's time. (Not
# PIP_NO_COMPILE=1: pip reads that as --compile.)
NO_BYTECODE = {"PIP_COMPILE": "0"}



def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without what points into its own venv, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "PYTHON"}}
    env.update(extra)
    return env


def run(args: list[str | Path], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Runs a command to its end and keeps its output (never raises on its exit code)."""
    return subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=TIMEOUT, check=False, **kwargs
    )


def need_debian_python() -> None:
    """Skips the test where Debian's own interpreter is not there."""
    if not DEBIAN_PYTHON.exists():
        pytest.skip(f"{DEBIAN_PYTHON} does not exist: not a Debian machine with its python3")


def clone_head(dest: Path) -> Path:
    """A fresh `git clone` of the repository's committed HEAD (others' uncommitted edits are not in it)."""
    if not (ROOT / ".git").exists() or shutil.which("git") is None:
        pytest.skip(f"{ROOT} is not a git checkout (or there is no git): nothing to clone")
    done = run(["git", "clone", "-q", ROOT, dest])
    assert done.returncode == 0, done.stderr
    return dest


def version_of(python: str | Path) -> str:
    """An interpreter's major.minor."""
    done = run([python, "-c", 'import sys; print("%d.%d" % sys.version_info[:2])'])
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture(scope="session")
def wheelhouse() -> Iterator[Path]:
    """Every wheel `pip install -e .` of HEAD needs, downloaded once into a directory any user can read.

    pip's cache holds nothing on this machine (~/.cache/pip is never written), so each
    install.sh run would fetch its ~25 MB anew; with PIP_NO_INDEX and this directory as
    PIP_FIND_LINKS it installs offline instead. (test_wheel.py installs from the index.)
    """
    need_debian_python()
    shown = run(["git", "-C", ROOT, "show", "HEAD:pyproject.toml"])
    if shown.returncode != 0:
        pytest.skip(f"{ROOT} is not a git checkout: {shown.stderr.strip()}")
    pyproject = tomllib.loads(shown.stdout)
    wanted = [*pyproject["build-system"]["requires"], *pyproject["project"]["dependencies"]]
    with tempfile.TemporaryDirectory(prefix="mixfleet-wheels-") as tmp:
        os.chmod(tmp, 0o755)
        download: list[str | Path] = [sys.executable, "-m", "pip", "download", "-q", "-d", tmp, "--only-binary=:all:"]
        for version in sorted({version_of(DEBIAN_PYTHON), f"{sys.version_info.major}.{sys.version_info.minor}"}):
            done = run([*download, "--python-version", version, *wanted], env=clean_env(), cwd=tmp)
            assert done.returncode == 0, done.stderr
        yield Path(tmp)
