#!/usr/bin/env bash
# README command 1: install, then run `mixfleet dev`: control plane on the embedded store,
# a real Linux node through the local Docker Engine (started here if none runs), and the
# simulated Windows nodes named below. Extra arguments go to `mixfleet dev`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
echo "mixfleet and mixctl are in $PWD/.venv/bin: in another terminal run" \
  "'export PATH=\"$PWD/.venv/bin:\$PATH\"' (or '. .venv/bin/activate') to use them" >&2
exec .venv/bin/python -m mixfleet dev --log-format console \
  --simulate windows/17763 --simulate windows/20348 --simulate windows/26100+hyperv "$@"
