#!/usr/bin/env bash
# Debian's chromium for the browser tests and figure export (kaleido); never a downloaded browser.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
    exit 0
fi
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
$SUDO apt-get update -q
$SUDO DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium
