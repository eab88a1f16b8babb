#!/usr/bin/env bash
# README command 2: install everything the tests need, then check the layers and types and
# run the whole suite. The tests start their own etcd, dockerd and control planes, and stop
# them after. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh test
bash scripts/check.sh
set +e
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
rc=$?
set -e
if [ "$rc" = 5 ]; then
  echo "pytest collected no tests" >&2
  exit 1
fi
exit "$rc"
