/*
 * io/overlay.h - Grad-CAM pictures: a CAM blended over its input image, the
 * per-class representative (mean) maps, and a gallery of overlays.
 *
 * The CAM (cam_h, cam_w), values in [0,1] (DESIGN.md section 1), is resized
 * to the input's (h, w) by bilinear interpolation with align_corners=False
 * (metric/resample.h, PyTorch's F.interpolate(mode="bilinear"), the usual
 * Grad-CAM visualisation):
 *     src = (dst + 0.5) * in / out - 0.5,  clamped below at 0,
 *     i0 = floor(src), i1 = min(i0 + 1, in - 1), weight of i1 = src - i0.
 * Each pixel is then (1 - alpha) * gray + alpha * colormap(cam), rounded,
 * where gray is the input mapped to 0..255 from [0,1] or from [-1,1] (the
 * project's normalisation (x/maxval - 0.5)/0.5, DESIGN.md section 5).
 * Pictures are enlarged by an integer factor `scale` (nearest neighbour, so
 * a pixel of the input stays a visible square) and get a vertical colour
 * bar at the right with tick marks and labels 0, 0.5 and 1 drawn in a
 * built-in 3x5 pixel font (digits and . - / : only; no font files).
 * Representative maps are drawn at their own resolution, enlarged by
 * `scale` with nearest neighbour (no smoothing: a 3x3 map looks like one).
 * A NaN map value (e.g. the mean map of a class with fewer than two correct
 * samples) is drawn mid gray, and a class map that is NaN everywhere gets a
 * dark cross over its gray tile.
 *
 * Everything is white-background 8-bit RGB, (height, width, 3) row-major.
 * Does not: draw text other than those characters, or write files other
 * than through overlay_write_png.
 */
#ifndef GC_IO_OVERLAY_H
#define GC_IO_OVERLAY_H

#include <stddef.h>

#include "io/colormap.h"
#include "nn/core.h"

/* Largest picture (pixels) the functions build; larger requests fail. */
#define OVERLAY_MAX_PIXELS ((size_t)1 << 25)

typedef enum overlay_range {
    OVERLAY_RANGE_SYMMETRIC = 0, /* input in [-1, 1]: gray = (x + 1) / 2 * 255 */
    OVERLAY_RANGE_UNIT = 1       /* input in [0, 1]:  gray = x * 255 */
} overlay_range;

typedef struct overlay_opts {
    double alpha;          /* weight of the colour map in the blend, [0,1] (0.5) */
    overlay_range range;   /* value range of the input images (SYMMETRIC) */
    colormap_kind cmap;    /* (COLORMAP_TURBO) */
    size_t scale;          /* integer enlargement >= 1 (1) */
    int colorbar;          /* 1: draw the colour bar at the right (1) */
} overlay_opts;

/* The defaults in parentheses above. */
overlay_opts overlay_opts_default(void);

typedef struct overlay_image {
    unsigned char *rgb;    /* (height, width, 3); free with overlay_image_free */
    size_t height, width;
} overlay_image;

void overlay_image_free(overlay_image *img);

/* A batch of samples for the gallery. labels/preds may both be NULL (then
 * borders are gray and no "label/pred" text is drawn). */
typedef struct overlay_samples {
    const real *images;    /* (n, h, w) */
    const real *cams;      /* (n, cam_h, cam_w), values in [0,1] */
    const int *labels;     /* (n) true classes, or NULL */
    const int *preds;      /* (n) predicted classes, or NULL */
    size_t n, h, w, cam_h, cam_w;
} overlay_samples;

/* One overlay: image (h, w) (or NULL: the colour-mapped CAM alone) and its
 * CAM (cam_h, cam_w). out is allocated. */
int overlay_render(overlay_image *out, const real *image, size_t h, size_t w, const real *cam,
                   size_t cam_h, size_t cam_w, const overlay_opts *opts, gc_error *err);

/* Representative maps side by side, n_classes tiles (cols per row; 0 = all
 * in one row), each labelled with its class index underneath, and one
 * colour bar. maps: (n_classes, h, w). opts->alpha and ->range unused. */
int overlay_class_maps(overlay_image *out, const real *maps, size_t n_classes, size_t h,
                       size_t w, size_t cols, const overlay_opts *opts, gc_error *err);

/* A grid of overlays, cols per row (0 = a near-square grid), each framed by
 * a border that is green when labels[i] == preds[i], red otherwise, with
 * "label/pred" written underneath; one colour bar at the right. */
int overlay_gallery(overlay_image *out, const overlay_samples *s, size_t cols,
                    const overlay_opts *opts, gc_error *err);

/* Write img as an RGB PNG (io/png.h), atomically. */
int overlay_write_png(const overlay_image *img, const char *path, gc_error *err);

#endif
