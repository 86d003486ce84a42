/*
 * io/preprocess.c - bilinear (antialiased) resize, flip, RandomResizedCrop
 * parameters. DESIGN.md section 5 (paper protocol); formulas in
 * io/preprocess.h.
 */
#include "io/preprocess.h"

#include <math.h>

/* Bilinear's triangle filter (PIL / torch aa_filter with support 1). */
static double triangle(double t)
{
    t = fabs(t);
    return t < 1.0 ? 1.0 - t : 0.0;
}

/* Tap range and normalising sum for output index i of an axis n_in -> n_out. */
typedef struct axis_taps {
    double center, invscale, total;
    int xmin, xsize;
} axis_taps;

static axis_taps axis_taps_at(int i, int n_in, int n_out)
{
    axis_taps a;
    double scale = (double)n_in / (double)n_out;
    double support = scale >= 1.0 ? scale : 1.0;
    long lo, hi;
    int j;
    a.center = scale * (i + 0.5);
    a.invscale = scale >= 1.0 ? 1.0 / scale : 1.0;
    lo = (long)(a.center - support + 0.5);   /* truncation, as torch's int64 cast */
    hi = (long)(a.center + support + 0.5);
    if (lo < 0) lo = 0;
    if (hi > n_in) hi = n_in;
    a.xmin = (int)lo;
    a.xsize = hi > lo ? (int)(hi - lo) : 0;
    a.total = 0.0;
    for (j = 0; j < a.xsize; j++) a.total += triangle((j + a.xmin - a.center + 0.5) * a.invscale);
    return a;
}

static real tap_weight(const axis_taps *a, int j)
{
    double w = triangle((j + a->xmin - a->center + 0.5) * a->invscale);
    return (real)(a->total != 0.0 ? w / a->total : w);
}

void resize_bilinear(const real *in, int in_h, int in_w, real *out, int out_h, int out_w,
                     real *tmp)
{
    int x, y, j;
    size_t k;
    GC_CHECK(in_h > 0 && in_w > 0 && out_h > 0 && out_w > 0);
    /* width pass: in (in_h, in_w) -> tmp (in_h, out_w) */
    for (k = 0; k < (size_t)in_h * (size_t)out_w; k++) tmp[k] = 0;
    for (x = 0; x < out_w; x++) {
        axis_taps a = axis_taps_at(x, in_w, out_w);
        for (j = 0; j < a.xsize; j++) {
            real w = tap_weight(&a, j);
            const real *src = in + a.xmin + j;
            for (y = 0; y < in_h; y++)
                tmp[(size_t)y * out_w + x] += w * src[(size_t)y * in_w];
        }
    }
    /* height pass: tmp (in_h, out_w) -> out (out_h, out_w) */
    for (k = 0; k < (size_t)out_h * (size_t)out_w; k++) out[k] = 0;
    for (y = 0; y < out_h; y++) {
        axis_taps a = axis_taps_at(y, in_h, out_h);
        real *dst = out + (size_t)y * out_w;
        for (j = 0; j < a.xsize; j++) {
            real w = tap_weight(&a, j);
            const real *src = tmp + (size_t)(a.xmin + j) * out_w;
            for (x = 0; x < out_w; x++) dst[x] += w * src[x];
        }
    }
}

void flip_horizontal(real *img, int h, int w)
{
    int y, x;
    for (y = 0; y < h; y++) {
        real *row = img + (size_t)y * w;
        for (x = 0; x < w / 2; x++) {
            real t = row[x];
            row[x] = row[w - 1 - x];
            row[w - 1 - x] = t;
        }
    }
}

crop_range crop_range_paper(void)
{
    crop_range c;
    c.scale_lo = RRC_SCALE_LO;
    c.scale_hi = RRC_SCALE_HI;
    c.ratio_lo = RRC_RATIO_LO;
    c.ratio_hi = RRC_RATIO_HI;
    return c;
}

/* Python's round() on a non-negative double: half to even (rint in the
 * default rounding mode). */
static long round_half_even(double v) { return (long)rint(v); }

int random_resized_crop_params(int height, int width, const crop_range *range, rng *r,
                               crop_box *box)
{
    double area = (double)height * (double)width;
    double log_lo = log(range->ratio_lo), log_hi = log(range->ratio_hi);
    double in_ratio;
    int attempt;
    GC_CHECK(height > 0 && width > 0);
    for (attempt = 1; attempt <= RRC_ATTEMPTS; attempt++) {
        double target = area * rng_uniform_range(r, range->scale_lo, range->scale_hi);
        double aspect = exp(rng_uniform_range(r, log_lo, log_hi));
        long w = round_half_even(sqrt(target * aspect));
        long h = round_half_even(sqrt(target / aspect));
        if (w > 0 && w <= width && h > 0 && h <= height) {
            box->height = (int)h;
            box->width = (int)w;
            box->top = (int)rng_below(r, (uint32_t)(height - h + 1));
            box->left = (int)rng_below(r, (uint32_t)(width - w + 1));
            return attempt;
        }
    }
    in_ratio = (double)width / (double)height;
    if (in_ratio < range->ratio_lo) {
        box->width = width;
        box->height = (int)round_half_even(width / range->ratio_lo);
    } else if (in_ratio > range->ratio_hi) {
        box->height = height;
        box->width = (int)round_half_even(height * range->ratio_hi);
    } else {
        box->width = width;
        box->height = height;
    }
    if (box->height < 1) box->height = 1;
    if (box->width < 1) box->width = 1;
    if (box->height > height) box->height = height;
    if (box->width > width) box->width = width;
    box->top = (height - box->height) / 2;
    box->left = (width - box->width) / 2;
    return 0;
}
