#!/usr/bin/env bash
# Installs what Mixfleet needs on a fresh Debian machine: the Python package (editable) and,
# for the real components the tests and `mixfleet dev` start, etcd, Docker Engine and a
# static busybox (the local test image is built from it: there is no image registry here).
# Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v etcd >/dev/null 2>&1 || need_apt+=(etcd-server etcd-client)
{ command -v dockerd >/dev/null 2>&1 || [ -x /usr/sbin/dockerd ]; } || need_apt+=(docker.io)
[ -x /usr/bin/busybox ] || need_apt+=(busybox-static)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then SUDO=sudo; else SUDO=; fi
  echo "installing ${need_apt[*]} (apt)"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

extras="${1:-}"
python3 -m pip install -q --disable-pip-version-check -e ".${extras:+[$extras]}" 2>&1 \
  | grep -v -e "Running pip as the 'root' user" -e "is ignored: it is neither" || true
python3 -c "import controlplane.client, store, api" # fails loudly if the install is broken
