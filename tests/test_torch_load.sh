#!/bin/sh
# tests/test_torch_load.sh - safetensors files between PyTorch and io/checkpoint on a small
# model-independent fixture (tests/check_torch_load.py): PyTorch's float32 state_dict (with and
# without the _target_layer.* duplicates) loads here, and what is written here loads into
# PyTorch with load_state_dict(strict=True), bit for bit. Needs /usr/bin/python3 with torch and
# numpy; without them the case is reported as skipped (passed=0 failed=0), never as passed.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
if [ ! -x "$PY" ] || ! "$PY" -c 'import torch, numpy' >/dev/null 2>&1; then
    echo "  skipped: no torch ($PY -c 'import torch, numpy' failed): PyTorch load check not run"
    finish
    exit 0
fi
: "${GC_TOOLS:=$(dirname "$0")/../build/tests}"
exec "$PY" "$(dirname "$0")/check_torch_load.py" run --bin "$GC_TOOLS/test_checkpoint"
