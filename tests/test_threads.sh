#!/bin/sh
# tests/test_threads.sh - an OpenMP build gives the same bits with 1, 2 and 3
# threads (nn/parallel.h: every parallel loop writes disjoint outputs and keeps
# each sum inside one iteration in a fixed order), and the same bits as the
# plain build: two epochs of training (the exact regularised step from epoch
# 2 on) write byte-identical checkpoints. The cases cover the convolutions'
# lowerings (nn/conv2d.c): Level 1 at 28x28 runs both convs per sample (dW
# in fixed blocks of samples, side by side on the threads, and the trunk's
# buffers in a private arena); at 20x20 its second conv (10x10 maps) runs
# the group path with explicit columns, whose weight gradient splits dW^T's
# rows over the threads in one region for the whole batch; Level 3 at 28x28
# runs it with implicit im2col (one region per group). Level 1 also takes
# the Grad-CAM alpha from the max-pool's plane sums on per-thread scratch
# planes, and every case's Grad-CAM loops split the selected rows by their
# samples (cam/gradcam.h row_of), which the class-major order interleaves.
# Builds its own OpenMP train (make OMP=1 into a temporary build folder,
# with the make variables of the calling `make test`). First the compiler
# that make uses is asked to build and run a small OpenMP program; where it
# cannot (tcc has no -fopenmp; musl-gcc links glibc's libgomp, which does
# not load), the case is reported as skipped. Any failure after that fails.
. "$(dirname "$0")/lib.sh"
: "${GC_BIN:=$(dirname "$0")/../build/float}"
T_NAME=test_threads
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PLAIN=$GC_BIN/train
W=$(mktemp -d "${TMPDIR:-/tmp}/gc-threads.XXXXXX") || exit 1
trap 'rm -rf "$W"' EXIT

# the compiler make would use (CC from the calling make's command line
# reaches this make through MAKEFLAGS; a -w there adds "make[N]: ..." lines)
CCX=$(printf 'p:\n\t@echo "CC=$(CC)"\n' | make -s --no-print-directory -f - p 2>/dev/null |
    sed -n 's/^CC=//p' | tail -n 1)
cat >"$W/probe.c" <<'EOF_C'
#include <omp.h>
int main(void) { return omp_get_max_threads() >= 1 ? 0 : 1; }
EOF_C
if ! ${CCX:-cc} -fopenmp "$W/probe.c" -o "$W/probe" >"$W/probe.log" 2>&1 ||
    ! "$W/probe" >>"$W/probe.log" 2>&1; then
    echo "  skipped: ${CCX:-cc} cannot build and run an OpenMP program: $(head -n 1 "$W/probe.log")"
    finish
    exit 0
fi
if ! make -s -C "$ROOT" REAL="${GC_REAL:-float}" BUILD="$W/omp" OMP=1 "$W/omp/train" \
    >"$W/build.log" 2>&1; then
    fail "OpenMP build of train" "$(tail -n 5 "$W/build.log")"
    finish
    exit 1
fi
OMPT=$W/omp/train
if [ ! -x "$PLAIN" ]; then
    fail setup "$PLAIN not built"
    finish
    exit 1
fi

RUN="--limit-train 64 --limit-test 32 --batch 32 --epochs 2 --lambda 50 --t0 1 --t1 1 --quiet"
for case in 1:28 1:20 3:28; do
    level=${case%:*}
    size=${case#*:}
    c=$level-$size
    ck() { echo "$W/$1/L${level}_lam50/checkpoint.safetensors"; }
    st=0
    "$PLAIN" $RUN --level $level --size $size --out "$W/plain$c" >/dev/null 2>"$W/err" || st=1
    for t in 1 2 3; do
        OMP_NUM_THREADS=$t "$OMPT" $RUN --level $level --size $size --out "$W/t$t-$c" \
            >/dev/null 2>>"$W/err" || st=1
    done
    if [ $st -ne 0 ]; then
        fail "level $level ${size}x$size: training runs" "$(cat "$W/err")"
        continue
    fi
    if cmp -s "$(ck t1-$c)" "$(ck t2-$c)" && cmp -s "$(ck t1-$c)" "$(ck t3-$c)"; then
        ok "level $level ${size}x$size: OpenMP checkpoints identical with 1, 2 and 3 threads (cmp)"
    else
        fail "level $level ${size}x$size: 1, 2 and 3 threads" "checkpoints differ"
    fi
    if cmp -s "$(ck plain$c)" "$(ck t2-$c)"; then
        ok "level $level ${size}x$size: OpenMP (2 threads) checkpoint identical to the plain build's"
    else
        fail "level $level ${size}x$size: OpenMP vs plain" "checkpoints differ"
    fi
done
finish
