#!/usr/bin/env bash
# Static checks that CI runs before the tests: the import layers (import-linter, contracts in
# .importlinter, drawn in docs/ARCHITECTURE.md) and the types (mypy, config in pyproject.toml).
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/lint-imports --no-cache
.venv/bin/python -m mypy
