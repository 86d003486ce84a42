/*
 * metric/resample.c - bilinear resampling of one map (align_corners=False),
 * the `--cam-grid N` step of DESIGN.md section 1. See resample.h for the
 * exact formula; it mirrors PyTorch's CPU upsample_bilinear2d: the scale is a
 * `real` division, the source coordinate is computed in double and rounded to
 * `real`, weights and the weighted sum are `real`.
 */
#include "metric/resample.h"

/* Source index pair and weights for output index o of an axis in -> out. */
static void axis_weights(size_t in, size_t out, size_t o,
                         size_t *i0, size_t *i1, real *l0, real *l1)
{
    real scale = (real)in / (real)out;
    real src = (real)((double)scale * ((double)o + 0.5) - 0.5);
    real frac;
    size_t lo;
    if (src < 0) src = 0;
    lo = (size_t)src;
    if (lo > in - 1) lo = in - 1;
    frac = src - (real)lo;
    if (frac < 0) frac = 0;
    if (frac > 1) frac = 1;
    *i0 = lo;
    *i1 = lo < in - 1 ? lo + 1 : lo;
    *l1 = frac;
    *l0 = (real)1 - frac;
}

void resample_bilinear(const real *in, size_t ih, size_t iw,
                       real *out, size_t oh, size_t ow)
{
    size_t oy, ox;
    GC_CHECK(ih > 0 && iw > 0 && oh > 0 && ow > 0);
    if (ih == oh && iw == ow) {
        for (oy = 0; oy < oh * ow; oy++) out[oy] = in[oy];
        return;
    }
    for (oy = 0; oy < oh; oy++) {
        size_t y0, y1;
        real hy0, hy1;
        const real *r0, *r1;
        axis_weights(ih, oh, oy, &y0, &y1, &hy0, &hy1);
        r0 = in + y0 * iw;
        r1 = in + y1 * iw;
        for (ox = 0; ox < ow; ox++) {
            size_t x0, x1;
            real wx0, wx1, top, bottom;
            axis_weights(iw, ow, ox, &x0, &x1, &wx0, &wx1);
            top = wx0 * r0[x0] + wx1 * r0[x1];
            bottom = wx0 * r1[x0] + wx1 * r1[x1];
            out[oy * ow + ox] = hy0 * top + hy1 * bottom;
        }
    }
}
