#!/bin/sh
# tests/test_torch_models.sh - the five model levels against PyTorch: weights
# written by PyTorch load here and give the same logits, weights written here
# load into PyTorch (strict) - see tests/check_torch_models.py. Needs
# /usr/bin/python3 with torch; without it the case is reported as skipped
# (passed=0 failed=0), never as passed.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
if [ ! -x "$PY" ] || ! "$PY" -c 'import torch' >/dev/null 2>&1; then
    echo "  skipped: no torch ($PY -c 'import torch' failed): PyTorch model check not run"
    finish
    exit 0
fi
: "${GC_TOOLS:=$(dirname "$0")/../build/tests}"
export GC_TOOLS
exec "$PY" "$(dirname "$0")/check_torch_models.py" --tools "$GC_TOOLS"
