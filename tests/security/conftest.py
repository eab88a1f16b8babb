"""mixctl against one control plane process per module, as in tests/cli."""

from tests.cli.conftest import cp, mixctl  # noqa: F401  (fixtures)
