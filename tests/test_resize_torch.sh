#!/bin/sh
# tests/test_resize_torch.sh - cross-check io/preprocess.c's resize_bilinear
# against PyTorch's F.interpolate(mode="bilinear", align_corners=False,
# antialias=True) in double precision, on shrinking, enlarging and mixed
# sizes. Prints the largest difference per case. Skipped (not passed) when
# the Python given by GC_PYTHON (default /usr/bin/python3) has no torch.
# Needs build/double/libgc.a (make builds it before the tests).
. "$(dirname "$0")/lib.sh"
root=$(cd "$(dirname "$0")/.." && pwd)
py=${GC_PYTHON:-/usr/bin/python3}
if ! "$py" -c 'import torch' >/dev/null 2>&1; then
    echo "  skip resize_matches_torch: no PyTorch importable by $py"
    finish
    exit $?
fi
lib="$root/build/double/libgc.a"
if [ ! -f "$lib" ]; then
    fail resize_matches_torch "$lib missing: run make first"
    finish
    exit $?
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/gc-resize.XXXXXX")
trap 'rm -rf "$work"' EXIT
cat >"$work/driver.c" <<'CEOF'
/* reads "in_h in_w out_h out_w" and in_h*in_w samples, prints the resize */
#include <stdio.h>
#include <stdlib.h>
#include "io/preprocess.h"
int main(void)
{
    int ih, iw, oh, ow, i;
    real *in, *out, *tmp;
    if (scanf("%d %d %d %d", &ih, &iw, &oh, &ow) != 4) return 1;
    in = malloc(sizeof *in * (size_t)ih * iw);
    out = malloc(sizeof *out * (size_t)oh * ow);
    tmp = malloc(sizeof *tmp * (size_t)ih * ow);
    for (i = 0; i < ih * iw; i++) if (scanf("%lf", &in[i]) != 1) return 1;
    resize_bilinear(in, ih, iw, out, oh, ow, tmp);
    for (i = 0; i < oh * ow; i++) printf("%.17g\n", out[i]);
    return 0;
}
CEOF
if ! ${CC:-cc} -std=c99 -O2 -DGC_REAL_DOUBLE -D_POSIX_C_SOURCE=200809L -I"$root" \
        "$work/driver.c" "$lib" -lm -o "$work/driver" 2>"$work/cc.log"; then
    fail resize_matches_torch "cannot build the driver: $(head -n 3 "$work/cc.log")"
    finish
    exit $?
fi
if "$py" - "$work/driver" <<'PYEOF'
import subprocess, sys
import torch
import torch.nn.functional as F
torch.manual_seed(0)
cases = [(4, 6, 3, 5), (28, 28, 224, 224), (224, 224, 28, 28), (100, 37, 13, 50),
         (5, 5, 5, 5), (64, 48, 200, 33), (17, 300, 40, 7)]
worst = 0.0
for ih, iw, oh, ow in cases:
    x = torch.rand(ih, iw, dtype=torch.float64) * 255.0
    ref = F.interpolate(x[None, None], size=(oh, ow), mode="bilinear",
                        align_corners=False, antialias=True)[0, 0]
    text = "%d %d %d %d\n" % (ih, iw, oh, ow) + "\n".join("%.17g" % v for v in x.flatten().tolist())
    out = subprocess.run([sys.argv[1]], input=text, capture_output=True, text=True, check=True).stdout
    got = torch.tensor([float(v) for v in out.split()], dtype=torch.float64).reshape(oh, ow)
    diff = (got - ref).abs().max().item()
    worst = max(worst, diff)
    print("    %dx%d -> %dx%d: max |C - torch| = %.3g" % (ih, iw, oh, ow, diff))
sys.exit(0 if worst < 1e-9 else 1)
PYEOF
then ok resize_matches_torch
else fail resize_matches_torch "differs from torch (see above)"
fi
finish
