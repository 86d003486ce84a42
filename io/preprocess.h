/*
 * io/preprocess.h - the image transforms of the paper's protocol (DESIGN.md
 * section 5): bilinear resize, horizontal flip, RandomResizedCrop.
 *
 * resize_bilinear matches torchvision's tensor Resize / F.interpolate with
 * mode="bilinear", align_corners=False, antialias=True: a separable triangle
 * filter, width pass first, then height pass. Per output index i along an axis
 * of input length n and scale s = n_in / n_out:
 *     center  = s * (i + 0.5)
 *     support = s >= 1 ? s : 1            (the filter widens when shrinking)
 *     xmin    = max(trunc(center - support + 0.5), 0)
 *     xmax    = min(trunc(center + support + 0.5), n)
 *     w_j     = tri((xmin + j - center + 0.5) / max(s, 1)),  tri(t) = max(0, 1 - |t|)
 * normalised to sum 1; output = sum_j w_j * in[xmin + j]. When enlarging
 * (s < 1) this is exactly plain bilinear interpolation with edge clamping;
 * when shrinking it is PIL's / torchvision's antialiased resize. Weights are
 * computed in double, accumulation is in `real` in ascending tap order, as
 * torch does for float tensors (results agree to rounding, not bit for bit).
 *
 * random_resized_crop_params is torchvision's RandomResizedCrop.get_params:
 * up to 10 attempts of
 *     area = H*W * U(scale_lo, scale_hi),  ratio = exp(U(log ratio_lo, log ratio_hi)),
 *     w = round(sqrt(area * ratio)),  h = round(sqrt(area / ratio))   (round half even)
 * accepted when 0 < w <= W and 0 < h <= H, then top = randint(0, H-h+1),
 * left = randint(0, W-w+1); after 10 failures, a centre crop whose aspect
 * ratio is W/H clamped to [ratio_lo, ratio_hi] (the whole image when in range).
 * Random numbers come from the project's rng (nn/rng.h), so the sequence of
 * crops differs from PyTorch's generator; the distribution is the same.
 */
#ifndef GC_IO_PREPROCESS_H
#define GC_IO_PREPROCESS_H

#include <stddef.h>

#include "nn/core.h"
#include "nn/rng.h"

/* The paper's RandomResizedCrop parameters (DESIGN.md section 5). */
#define RRC_SCALE_LO 0.9
#define RRC_SCALE_HI 1.0
#define RRC_RATIO_LO (3.0 / 4.0)
#define RRC_RATIO_HI (4.0 / 3.0)
#define RRC_ATTEMPTS 10

/* Resize in (in_h, in_w) to out (out_h, out_w); tmp: (in_h, out_w) scratch.
 * in, out and tmp must not overlap. All sizes >= 1. No allocation. */
void resize_bilinear(const real *in, int in_h, int in_w, real *out, int out_h, int out_w,
                     real *tmp);

/* Mirror left-right in place. img: (h, w). */
void flip_horizontal(real *img, int h, int w);

typedef struct crop_box {
    int top, left, height, width;
} crop_box;

typedef struct crop_range {
    double scale_lo, scale_hi;   /* fraction of the image area */
    double ratio_lo, ratio_hi;   /* width / height */
} crop_range;

/* The paper's range: scale (0.9, 1.0), ratio (3/4, 4/3). */
crop_range crop_range_paper(void);

/* Draw a crop box for an image of height x width (see above). Returns the
 * 1-based attempt that was accepted, or 0 when the fallback centre crop was
 * used. The box always lies inside the image and is non-empty. */
int random_resized_crop_params(int height, int width, const crop_range *range, rng *r,
                               crop_box *box);

#endif
