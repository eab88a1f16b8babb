#!/usr/bin/env bash
# README command 2: install everything the tests need, then run the whole suite.
# The tests start their own etcd, dockerd and control planes, and stop them after.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh test
set +e
python3 -m pytest -q -p no:cacheprovider "$@"
rc=$?
set -e
if [ "$rc" = 5 ]; then
  echo "pytest collected no tests" >&2
  exit 1
fi
exit "$rc"
