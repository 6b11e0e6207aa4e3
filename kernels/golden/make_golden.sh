#!/usr/bin/env bash
# Regenerates the golden fixtures under kernels/src/test/resources/golden/ with Hugging Face transformers.
# CI does not run this: the fixtures are committed. Needs network access to PyPI on first run.
set -euo pipefail
VENV="${NURI_VENV:-$HOME/.cache/nuri/venv}"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
  "$VENV/bin/pip" install -q "torch==2.15.0" "transformers==5.24.0" "safetensors==0.8.0" "numpy==2.4.6"
fi
cd "$(dirname "$0")"
"$VENV/bin/python" make_golden.py "${1:-../src/test/resources/golden}" "${@:2}"  # then fixture names: only those
"$VENV/bin/python" make_config_defaults.py ../src/test/resources/config-defaults
