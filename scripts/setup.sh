#!/usr/bin/env bash
# Sets up everything the bot and its tests need: Debian's Chinese font and zbarimg, and
# the project in ./.venv. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"

# Debian packages: the Chinese font (notices, charts, certificates) and zbarimg, which
# the tests use to read QR codes back as a phone would.
NEED=()
[ -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || NEED+=(fonts-wqy-microhei)
command -v zbarimg >/dev/null || NEED+=(zbar-tools)
if [ ${#NEED[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo"; else
    echo "setup: missing Debian packages; as root run: apt-get install ${NEED[*]}" >&2
    exit 1
  fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${NEED[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test]'
