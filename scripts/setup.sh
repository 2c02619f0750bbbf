#!/usr/bin/env bash
# Sets up everything the bot and its tests need: the Chinese font for notices and
# charts (Debian's fonts-wqy-microhei), and the project in ./.venv. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"

FONT=/usr/share/fonts/truetype/wqy/wqy-microhei.ttc
if [ ! -f "$FONT" ]; then
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo"; else
    echo "setup: the Chinese font is missing; as root run: apt-get install fonts-wqy-microhei" >&2
    exit 1
  fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq fonts-wqy-microhei >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test]'
