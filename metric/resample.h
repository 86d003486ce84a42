/*
 * metric/resample.h - bilinear resampling of one map, PyTorch semantics.
 *
 * Implements the `--cam-grid N` step of DESIGN.md section 1 ("Known
 * differences": every CAM is resampled to N x N before the consistency metric
 * compares maps). Semantics are those of
 *     torch.nn.functional.interpolate(x, size=(oh, ow), mode="bilinear",
 *                                     align_corners=False, antialias=False)
 * for an explicit output size:
 *     scale = in / out                                (per axis, in `real`)
 *     src   = max(0, scale * (o + 0.5) - 0.5)
 *     i0 = floor(src), i1 = min(i0 + 1, in - 1), l1 = src - i0, l0 = 1 - l1
 *     out   = l0_h * (l0_w * x[i0h,i0w] + l1_w * x[i0h,i1w])
 *           + l1_h * (l0_w * x[i1h,i0w] + l1_w * x[i1h,i1w])
 * evaluated in that order and in `real`, as PyTorch's CPU kernel does.
 * Downsampling samples (no area averaging, no antialias filter): a 14x14 map
 * taken to 7x7 averages pairs of neighbours, a larger factor skips pixels.
 *
 * Deliberately not here: other modes, align_corners=True, batches/channels
 * (call once per map).
 */
#ifndef GC_METRIC_RESAMPLE_H
#define GC_METRIC_RESAMPLE_H

#include "nn/core.h"

/* in: (ih, iw), out: (oh, ow); all sizes > 0; in and out must not overlap.
 * oh == ih && ow == iw copies the map unchanged. */
void resample_bilinear(const real *in, size_t ih, size_t iw,
                       real *out, size_t oh, size_t ow);

#endif
