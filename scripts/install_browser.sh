#!/usr/bin/env bash
# Debian's chromium for the browser tests and figure export (kaleido); never a downloaded browser.
# LT_CHROMIUM names the binary to look for (tests point it at a missing path to exercise the install).
set -euo pipefail
CHROMIUM="${LT_CHROMIUM:-/usr/bin/chromium}"
if [ -x "$CHROMIUM" ]; then
    exit 0
fi
# As root apt-get runs directly; otherwise through sudo. `env` sets the variable in both cases
# (a bare `VAR=x cmd` after an empty $SUDO would make bash run VAR=x as the command).
SUDO=()
[ "$(id -u)" -ne 0 ] && SUDO=(sudo)
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium
