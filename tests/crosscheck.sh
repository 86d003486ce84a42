#!/bin/sh
# tests/crosscheck.sh - what `make crosscheck` runs: one regularised training step of every
# model level, both CAM gradient modes, both distances, the paper's and an earlier target
# layer, C against PyTorch tensor by tensor (tests/crosscheck.py, docs/CROSSCHECK.md), for the
# double build (tolerance 1e-9) and the float build (1e-4).
#
# The C side is `train --dump-step` (build/<real>/train) when that program exists and lists
# --dump-step in its --help; otherwise tests/tool_dump_step.c (the same flags, cam/dump.h):
# build/tests/tool_dump_step for double (built by `make test`; compiled here if absent) and a
# float variant compiled here against build/float/libgc.a.
#
# Needs /usr/bin/python3 with torch and numpy: without them it says so and fails (exit 1);
# `make test` runs the quick, skipping variant tests/test_crosscheck.sh instead.
# Environment: PYTHON (default /usr/bin/python3), CC (default cc), CROSSCHECK_ARGS (extra
# arguments for crosscheck.py, e.g. "--levels 1,2 --verbose").
set -u
cd "$(dirname "$0")/.." || exit 1
PY=${PYTHON:-/usr/bin/python3}
CC=${CC:-cc}
if [ ! -x "$PY" ] || ! "$PY" -c 'import torch, numpy' >/dev/null 2>&1; then
    echo "crosscheck: no torch: '$PY -c \"import torch, numpy\"' failed." >&2
    echo "crosscheck: install python3-torch and python3-numpy (Debian) to compare with PyTorch." >&2
    exit 1
fi

# dump_exe REAL: print the program that writes the dump for build REAL, building it if needed.
dump_exe() {
    real=$1
    train=build/$real/train
    if [ -x "$train" ] && "$train" --help 2>&1 | grep -q -- '--dump-step'; then
        echo "$train"
        return 0
    fi
    lib=build/$real/libgc.a
    if [ ! -f "$lib" ]; then
        echo "crosscheck: $lib is missing: run 'make REAL=$real' first" >&2
        return 1
    fi
    if [ "$real" = double ]; then
        exe=build/tests/tool_dump_step
        def=-DGC_REAL_DOUBLE
        if [ -x "$exe" ] && [ "$exe" -nt "$lib" ] && [ "$exe" -nt tests/tool_dump_step.c ]; then
            echo "$exe"
            return 0
        fi
        exe=build/tests/tool_dump_step_double
    else
        exe=build/tests/tool_dump_step_float
        def=
    fi
    mkdir -p build/tests
    # shellcheck disable=SC2086
    if ! $CC -std=c99 -Wall -Wextra -pedantic -O2 -ffp-contract=off -D_POSIX_C_SOURCE=200809L \
        -I. $def tests/tool_dump_step.c "$lib" -lm -o "$exe" >&2; then
        echo "crosscheck: could not build $exe" >&2
        return 1
    fi
    echo "$exe"
}

status=0
for real in double float; do
    echo "== crosscheck, $real build"
    if ! exe=$(dump_exe "$real"); then
        status=1
        continue
    fi
    # shellcheck disable=SC2086
    "$PY" tests/crosscheck.py --exe "$exe" --real "$real" --name "crosscheck_$real" \
        ${CROSSCHECK_ARGS:-} || status=1
done
if [ "$status" -eq 0 ]; then
    echo "crosscheck: PASS (double and float builds agree with PyTorch)"
else
    echo "crosscheck: FAIL"
fi
exit "$status"
