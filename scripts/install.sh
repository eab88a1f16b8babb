#!/usr/bin/env bash
# Installs what Mixfleet needs on a fresh Debian machine: a virtual environment `.venv` with
# the package (editable) and, for the real components the tests and `mixfleet dev` start,
# etcd, Docker Engine and a static busybox (the local test image is built from it: there is
# no image registry here). Safe to run again: it installs only what is missing.
#
# A virtual environment because Debian's own python3 is "externally managed" (PEP 668): pip
# refuses to install into it, and must not. PYTHON picks the interpreter (default python3,
# any 3.11+); an install that fails stops here with pip's own message.
#
#   bash scripts/install.sh [EXTRAS]      e.g. `test` for what the test suite needs
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
VENV=.venv
if [ "$(id -u)" != 0 ]; then SUDO=sudo; else SUDO=; fi

apt_install() {
  echo "installing $* (apt)"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "error: Mixfleet needs Python 3.11 or newer; $PYTHON is $("$PYTHON" --version 2>&1)" >&2
  exit 1
fi

need_apt=()
command -v etcd >/dev/null 2>&1 || need_apt+=(etcd-server etcd-client)
{ command -v dockerd >/dev/null 2>&1 || [ -x /usr/sbin/dockerd ]; } || need_apt+=(docker.io)
[ -x /usr/bin/busybox ] || need_apt+=(busybox-static)
# Debian splits venv's pip bootstrap (ensurepip) into python3-venv.
if ! "$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1; then
  need_apt+=("python3-venv")
fi
if [ ${#need_apt[@]} -gt 0 ]; then apt_install "${need_apt[@]}"; fi

# A venv left by another interpreter that is gone (or half made) is made anew.
if ! "$VENV/bin/python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1; then
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
fi

extras="${1:-}"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! PIP_ROOT_USER_ACTION=ignore "$VENV/bin/python" -m pip install -q --disable-pip-version-check \
    -e ".${extras:+[$extras]}" >"$log" 2>&1; then
  cat "$log" >&2
  echo "error: pip could not install mixfleet into $VENV (its message is above)" >&2
  exit 1
fi
# pip's warnings about this machine's unused index locations are noise; anything else shows.
grep -v -e "is ignored: it is neither" "$log" >&2 || true
"$VENV/bin/python" -c "import mixfleet.client, mixfleet.store, mixfleet.api" # fails loudly if broken
