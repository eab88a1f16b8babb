#!/usr/bin/env bash
# Static checks that CI runs before the tests: the import layers (import-linter, contracts in
# pyproject.toml, drawn in docs/ARCHITECTURE.md) and the types (mypy, config in
# pyproject.toml): the whole package, then the domain core, scheduler and utilities strictly.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/lint-imports --no-cache
.venv/bin/python -m mypy
.venv/bin/python -m mypy --strict mixfleet/api mixfleet/scheduler mixfleet/util
