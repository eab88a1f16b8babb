#!/usr/bin/env bash
# README command 1: install, then run `mixfleet dev`: control plane on the embedded store,
# a real Linux node through the local Docker Engine (started here if none runs), and the
# simulated Windows nodes named below. Extra arguments go to `mixfleet dev`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
exec python3 -m mixfleet dev --log-format console \
  --simulate windows/17763 --simulate windows/20348 --simulate windows/26100+hyperv "$@"
