#!/bin/sh
# tests/test_crosscheck.sh - the quick part of `make crosscheck` (tests/crosscheck.sh) for
# `make test`: one regularised step, C (double, $GC_TOOLS/tool_dump_step) against PyTorch
# float64 (tolerance 1e-9): every level at the paper target, detached l2 at Level 2, the
# earlier targets of Levels 3 and 4 (BatchNorm / residual and SE blocks in the head), a batch
# with no selected sample, and the self-test that a perturbed gradient is caught. Needs
# /usr/bin/python3 with torch and numpy; without them the case is reported as skipped
# (passed=0 failed=0), never as passed.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
if [ ! -x "$PY" ] || ! "$PY" -c 'import torch, numpy' >/dev/null 2>&1; then
    echo "  skipped: no torch ($PY -c 'import torch, numpy' failed): PyTorch cross-check not run"
    finish
    exit 0
fi
: "${GC_TOOLS:=$(dirname "$0")/../build/tests}"
exec "$PY" "$(dirname "$0")/crosscheck.py" --exe "$GC_TOOLS/tool_dump_step" --real double --quick \
    --name test_crosscheck
