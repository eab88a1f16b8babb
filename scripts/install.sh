#!/usr/bin/env bash
# Installs what Mixfleet needs on a fresh Debian machine: a virtual environment `.venv` with
# the package (editable) and, for the real components the tests and `mixfleet dev` start,
# etcd, Docker Engine and a static busybox (the local test image is built from it: there is
# no image registry here). Safe to run again: it installs only what is missing, and apt runs
# only when a package is missing (as root, else through sudo).
#
# A virtual environment because Debian's own python3 is "externally managed" (PEP 668): pip
# refuses to install into it, and must not. PYTHON picks the interpreter (default python3,
# any 3.11+). A `.venv` that is broken or half made (its interpreter gone, older than 3.11,
# no pip) is made anew; so is one made by another interpreter when PYTHON names one. An
# install that fails stops here with pip's own message.
#
#   bash scripts/install.sh [EXTRAS]      e.g. `test` for what the test suite needs
set -euo pipefail
cd "$(dirname "$0")/.."

python_asked="${PYTHON:+yes}"
PYTHON="${PYTHON:-python3}"
VENV=.venv

die() { echo "error: $*" >&2; exit 1; }

apt_install() {
  local sudo=
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null 2>&1 ||
      die "$* must come from apt, and this is not root and there is no sudo: as root run 'apt-get install $*', then run this again"
    sudo=sudo
  fi
  command -v apt-get >/dev/null 2>&1 || die "no apt-get here: install $* yourself, then run this again"
  echo "installing $* (apt)"
  $sudo apt-get update -qq
  # Through env: sudo drops the caller's environment.
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

if ! command -v "$PYTHON" >/dev/null 2>&1; then
  [ -z "$python_asked" ] || die "PYTHON=$PYTHON: no such interpreter"
  apt_install python3 python3-venv
fi
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  die "Mixfleet needs Python 3.11 or newer; $PYTHON is $("$PYTHON" --version 2>&1 || true)"
fi

need_apt=()
command -v etcd >/dev/null 2>&1 || need_apt+=(etcd-server etcd-client)
{ command -v dockerd >/dev/null 2>&1 || [ -x /usr/sbin/dockerd ]; } || need_apt+=(docker.io)
[ -x /usr/bin/busybox ] || need_apt+=(busybox-static)
# Debian splits venv's pip bootstrap (ensurepip) into python3.X-venv.
if ! "$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1; then
  if [ "$("$PYTHON" -c 'import sys; print(sys.base_prefix)')" = /usr ]; then
    need_apt+=("$("$PYTHON" -c 'import sys; print("python%d.%d-venv" % sys.version_info[:2])')")
  else
    die "$PYTHON has no ensurepip (it cannot make a virtual environment with pip): pick another with PYTHON=..."
  fi
fi
if [ ${#need_apt[@]} -gt 0 ]; then apt_install "${need_apt[@]}"; fi

# Which interpreter a venv comes from: its base prefix and version.
origin='import sys; print(sys.base_prefix, "%d.%d.%d" % sys.version_info[:3])'
want=$("$PYTHON" -c "$origin")
remake=yes why=
if [ -e "$VENV" ] || [ -L "$VENV" ]; then
  if ! have=$("$VENV/bin/python" -c "import sys, pip; sys.version_info >= (3, 11) or sys.exit(1); $origin" 2>/dev/null); then
    why=": the one here is broken or half made (no Python 3.11+ with pip in it)"
  elif [ -n "$python_asked" ] && [ "$have" != "$want" ]; then
    why=": the one here comes from another interpreter ($have)"
  elif [ ! -w "$VENV" ]; then
    die "$VENV belongs to another user (made by a root run?): remove it or run as its owner"
  else
    remake=
  fi
fi
if [ -n "$remake" ]; then
  echo "making $VENV with $PYTHON ($want)$why"
  rm -rf "$VENV"
  if ! "$PYTHON" -m venv "$VENV"; then
    rm -rf "$VENV"
    die "$PYTHON could not make the virtual environment $VENV (its message is above)"
  fi
fi

extras="${1:-}"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! PIP_ROOT_USER_ACTION=ignore "$VENV/bin/python" -m pip install -q --disable-pip-version-check \
    -e ".${extras:+[$extras]}" >"$log" 2>&1; then
  cat "$log" >&2
  die "pip could not install mixfleet into $VENV (its message is above)"
fi
# pip's warnings about this machine's unused index locations are noise; anything else shows.
grep -v -e "is ignored: it is neither" "$log" >&2 || true
"$VENV/bin/python" -c "import mixfleet.client, mixfleet.store, mixfleet.api" # fails loudly if broken
