"""The static checks CI runs (scripts/check.sh) catch what they are there to catch: a
crossed layer fails import-linter, a type error in the domain core fails mypy --strict."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the package and its check configuration, to break on purpose."""
    shutil.copytree(REPO / "mixfleet", tmp_path / "mixfleet", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def _run(tree: Path, *cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cmd, cwd=tree, capture_output=True, text=True, timeout=300, check=False,
        env={"PATH": f"{BIN}:/usr/bin:/bin", "PYTHONPATH": str(tree)},
    )


def test_layers_hold_on_the_real_tree(tree: Path) -> None:
    """Every import-linter contract is kept by the code as it is."""
    result = _run(tree, str(BIN / "lint-imports"), "--no-cache")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("module, line, contract", [
    pytest.param("mixfleet/scheduler/leak.py", "import mixfleet.store", "The scheduler is a pure library",
                 id="scheduler-imports-store"),
    pytest.param("mixfleet/api/leak.py", "import mixfleet.controlplane", "Layers",
                 id="domain-core-imports-control-plane"),
    pytest.param("mixfleet/mixctl/leak.py", "import mixfleet.controlplane.registry", "The CLI uses the client library",
                 id="cli-imports-registry"),
    pytest.param("mixfleet/nodeagent/engines/leak.py", "import mixfleet.scheduler.versions",
                 "Node agents", id="simulated-engine-imports-scheduler-rule"),
    pytest.param("mixfleet/controlplane/leak.py", "import docker", "Only the engine adapters import the Docker SDK",
                 id="docker-outside-engines"),
])
def test_crossed_layer_fails(tree: Path, module: str, line: str, contract: str) -> None:
    """An import that crosses a layer breaks the build, naming the contract."""
    (tree / module).write_text(f'"""A deliberate layering violation."""\n\n{line}\n')
    result = _run(tree, str(BIN / "lint-imports"), "--no-cache")
    assert result.returncode != 0
    assert f"{contract}" in result.stdout and "BROKEN" in result.stdout


def test_type_error_in_domain_core_fails_strict_mypy(tree: Path) -> None:
    """mypy --strict over api, scheduler and util refuses an untyped or wrongly typed function."""
    (tree / "mixfleet/api/leak.py").write_text(
        '"""A deliberate type error."""\n\n\ndef build(pod):\n    return pod["spec"]\n\n\n'
        'def count() -> int:\n    return "three"\n'
    )
    result = _run(tree, sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tree / ".mc"),
                  "mixfleet/api", "mixfleet/scheduler", "mixfleet/util")
    assert result.returncode != 0
    assert "mixfleet/api/leak.py:4: error: Function is missing a type annotation" in result.stdout
    assert 'mixfleet/api/leak.py:9: error: Incompatible return value type (got "str", expected "int")' in result.stdout
