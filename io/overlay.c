/*
 * io/overlay.c - Grad-CAM overlays, class maps, galleries; see io/overlay.h.
 * Implements the pictures of DESIGN.md section 5 (Grad-CAM of section 1,
 * shown over the input). The CAM is resized with metric/resample.h
 * (PyTorch's bilinear, align_corners=False), the same code as --cam-grid.
 */
#include "io/overlay.h"

#include <math.h>
#include <string.h>

#include "io/png.h"
#include "metric/resample.h"

#define PAD 6            /* white margin around everything (>= half a glyph at font 2) */
#define GAP 8            /* between tiles, and between tiles and the colour bar */
#define BORDER 2         /* gallery frame width */
#define CB_BAR_W 12      /* colour bar width, including its 1-pixel frame */
#define CB_TICK 4        /* tick mark length */
#define CB_LABEL_GAP 2   /* between tick and label */
#define FONT_W 3
#define FONT_H 5
#define FONT_ADVANCE 4   /* glyph width plus one column of space */
#define FONT_BIG_FROM 200 /* content height from which text is drawn at 2x */

static const unsigned char BLACK[3] = {0, 0, 0};
static const unsigned char DARK[3] = {64, 64, 64};
static const unsigned char GREEN[3] = {0, 160, 0};
static const unsigned char RED[3] = {220, 0, 0};
static const unsigned char GRAY[3] = {160, 160, 160};

overlay_opts overlay_opts_default(void)
{
    overlay_opts o;
    o.alpha = 0.5;
    o.range = OVERLAY_RANGE_SYMMETRIC;
    o.cmap = COLORMAP_TURBO;
    o.scale = 1;
    o.colorbar = 1;
    return o;
}

void overlay_image_free(overlay_image *img)
{
    if (!img) return;
    free(img->rgb);
    img->rgb = NULL;
    img->height = img->width = 0;
}

/* ---- canvas helpers (all drawing is clipped to the canvas) ---- */

static int canvas_alloc(overlay_image *out, size_t height, size_t width, gc_error *err)
{
    size_t n, bytes, i;
    out->rgb = NULL;
    out->height = out->width = 0;
    if (!gc_mul_size(height, width, &n) || n > OVERLAY_MAX_PIXELS)
        return gc_fail(err, "overlay: picture of %zux%zu pixels exceeds the limit of %zu",
                       height, width, OVERLAY_MAX_PIXELS);
    bytes = n * 3;
    out->rgb = (unsigned char *)malloc(bytes ? bytes : 1);
    if (!out->rgb) return gc_fail(err, "overlay: out of memory for %zux%zu pixels", height, width);
    for (i = 0; i < bytes; i++) out->rgb[i] = 255;
    out->height = height;
    out->width = width;
    return GC_OK;
}

static void put_px(overlay_image *c, size_t x, size_t y, const unsigned char rgb[3])
{
    unsigned char *p;
    if (x >= c->width || y >= c->height) return;
    p = c->rgb + (y * c->width + x) * 3;
    p[0] = rgb[0];
    p[1] = rgb[1];
    p[2] = rgb[2];
}

static void fill_rect(overlay_image *c, size_t x0, size_t y0, size_t w, size_t h,
                      const unsigned char rgb[3])
{
    size_t x, y;
    for (y = y0; y < y0 + h && y < c->height; y++)
        for (x = x0; x < x0 + w && x < c->width; x++) put_px(c, x, y, rgb);
}

/* 3x5 glyphs, one byte per row, bit 2 = left column. */
static const unsigned char *glyph(char ch)
{
    static const unsigned char digits[10][FONT_H] = {
        {7, 5, 5, 5, 7}, {2, 6, 2, 2, 7}, {7, 1, 7, 4, 7}, {7, 1, 7, 1, 7}, {5, 5, 7, 1, 1},
        {7, 4, 7, 1, 7}, {7, 4, 7, 5, 7}, {7, 1, 1, 1, 1}, {7, 5, 7, 5, 7}, {7, 5, 7, 1, 7}};
    static const unsigned char dot[FONT_H] = {0, 0, 0, 0, 2};
    static const unsigned char minus[FONT_H] = {0, 0, 7, 0, 0};
    static const unsigned char slash[FONT_H] = {1, 1, 2, 4, 4};
    static const unsigned char colon[FONT_H] = {0, 2, 0, 2, 0};
    if (ch >= '0' && ch <= '9') return digits[ch - '0'];
    switch (ch) {
    case '.': return dot;
    case '-': return minus;
    case '/': return slash;
    case ':': return colon;
    default: return NULL; /* space and anything else: blank */
    }
}

/* Text width in pixels at font scale f. */
static size_t text_width(const char *s, size_t f)
{
    size_t n = strlen(s);
    return n ? (n * FONT_ADVANCE - 1) * f : 0;
}

static void draw_text(overlay_image *c, size_t x0, size_t y0, const char *s, size_t f,
                      const unsigned char rgb[3])
{
    for (; *s; s++, x0 += FONT_ADVANCE * f) {
        const unsigned char *g = glyph(*s);
        size_t r, col;
        if (!g) continue;
        for (r = 0; r < FONT_H; r++)
            for (col = 0; col < FONT_W; col++)
                if (g[r] & (4u >> col)) fill_rect(c, x0 + col * f, y0 + r * f, f, f, rgb);
    }
}

static size_t font_scale(size_t content_h)
{
    return content_h >= FONT_BIG_FROM ? 2 : 1;
}

static size_t colorbar_width(size_t f)
{
    return CB_BAR_W + CB_TICK + CB_LABEL_GAP + text_width("0.5", f);
}

/* Vertical bar, value 1 at the top row y0, 0 at the bottom row; ticks and
 * labels at 1, 0.5 and 0. bar_h >= 2. */
static void draw_colorbar(overlay_image *c, size_t x0, size_t y0, size_t bar_h, size_t f,
                          colormap_kind kind)
{
    static const char *labels[3] = {"1", "0.5", "0"};
    size_t r, k;
    if (bar_h < 2) bar_h = 2;
    for (r = 0; r < bar_h; r++) {
        unsigned char rgb[3];
        double v = (double)(bar_h - 1 - r) / (double)(bar_h - 1);
        colormap_rgb(rgb, kind, v);
        fill_rect(c, x0 + 1, y0 + r, CB_BAR_W - 2, 1, rgb);
    }
    fill_rect(c, x0, y0, CB_BAR_W, 1, BLACK);
    fill_rect(c, x0, y0 + bar_h - 1, CB_BAR_W, 1, BLACK);
    fill_rect(c, x0, y0, 1, bar_h, BLACK);
    fill_rect(c, x0 + CB_BAR_W - 1, y0, 1, bar_h, BLACK);
    for (k = 0; k < 3; k++) {
        size_t ty = y0 + k * (bar_h - 1) / 2;
        size_t half = FONT_H * f / 2;
        fill_rect(c, x0 + CB_BAR_W, ty, CB_TICK, 1, BLACK);
        draw_text(c, x0 + CB_BAR_W + CB_TICK + CB_LABEL_GAP, ty >= half ? ty - half : 0,
                  labels[k], f, BLACK);
    }
}

/* ---- resampling and blending ---- */

static double gray_of(double x, overlay_range range)
{
    double g;
    if (isnan(x)) return 0.0;
    g = range == OVERLAY_RANGE_UNIT ? x : (x + 1.0) * 0.5;
    if (g < 0.0) g = 0.0;
    if (g > 1.0) g = 1.0;
    return g * 255.0;
}

static unsigned char round_byte(double v)
{
    v += 0.5;
    if (v < 0.0) v = 0.0;
    if (v > 255.0) v = 255.0;
    return (unsigned char)v;
}

/* Blend one image with its already resized CAM (both (h, w)) and draw it
 * enlarged by scale at (x0, y0). */
static void draw_blend(overlay_image *c, size_t x0, size_t y0, const real *image,
                       const real *cam_big, size_t h, size_t w, const overlay_opts *o)
{
    size_t y, x;
    double a = o->alpha;
    for (y = 0; y < h; y++)
        for (x = 0; x < w; x++) {
            unsigned char cm[3], px[3];
            int k;
            colormap_rgb(cm, o->cmap, (double)cam_big[y * w + x]);
            if (image) {
                double g = gray_of((double)image[y * w + x], o->range);
                for (k = 0; k < 3; k++) px[k] = round_byte((1.0 - a) * g + a * (double)cm[k]);
            } else {
                for (k = 0; k < 3; k++) px[k] = cm[k];
            }
            fill_rect(c, x0 + x * o->scale, y0 + y * o->scale, o->scale, o->scale, px);
        }
}

static int check_opts(const overlay_opts *o, gc_error *err)
{
    if (!o) return gc_fail(err, "overlay: no options");
    if (o->scale < 1 || o->scale > OVERLAY_MAX_PIXELS)
        return gc_fail(err, "overlay: scale %zu out of range", o->scale);
    if (!(o->alpha >= 0.0 && o->alpha <= 1.0))
        return gc_fail(err, "overlay: alpha %g outside [0,1]", o->alpha);
    return GC_OK;
}

/* Scaled size, each side bounded so that later sums cannot overflow. */
static int scaled(size_t *out, size_t n, size_t scale, gc_error *err)
{
    if (n == 0 || !gc_mul_size(n, scale, out) || *out > OVERLAY_MAX_PIXELS)
        return gc_fail(err, "overlay: side of %zu pixels x scale %zu out of range", n, scale);
    return GC_OK;
}

int overlay_render(overlay_image *out, const real *image, size_t h, size_t w, const real *cam,
                   size_t cam_h, size_t cam_w, const overlay_opts *opts, gc_error *err)
{
    size_t hs, ws, f, width, height, n;
    real *big;
    out->rgb = NULL;
    out->height = out->width = 0;
    if (check_opts(opts, err) != GC_OK) return GC_FAIL;
    if (!cam || cam_h == 0 || cam_w == 0) return gc_fail(err, "overlay: empty CAM");
    if (scaled(&hs, h, opts->scale, err) != GC_OK || scaled(&ws, w, opts->scale, err) != GC_OK)
        return GC_FAIL;
    if (!gc_mul_size(h, w, &n) || n > OVERLAY_MAX_PIXELS)
        return gc_fail(err, "overlay: image %zux%zu too large", h, w);
    f = font_scale(hs);
    width = PAD + ws + PAD + (opts->colorbar ? GAP + colorbar_width(f) : 0);
    height = PAD + hs + PAD;
    if (canvas_alloc(out, height, width, err) != GC_OK) return GC_FAIL;
    big = (real *)malloc(n * sizeof *big);
    if (!big) {
        overlay_image_free(out);
        return gc_fail(err, "overlay: out of memory");
    }
    resample_bilinear(cam, cam_h, cam_w, big, h, w);
    draw_blend(out, PAD, PAD, image, big, h, w, opts);
    free(big);
    if (opts->colorbar) draw_colorbar(out, PAD + ws + GAP, PAD, hs, f, opts->cmap);
    return GC_OK;
}

/* Grid geometry shared by class maps and the gallery. */
static size_t default_cols(size_t n)
{
    size_t c = 1;
    while (c * c < n) c++;
    return c;
}

int overlay_class_maps(overlay_image *out, const real *maps, size_t n_classes, size_t h,
                       size_t w, size_t cols, const overlay_opts *opts, gc_error *err)
{
    size_t hs, ws, f, label_h, tile_h, rows, width, height, grid_w, k, plane;
    out->rgb = NULL;
    out->height = out->width = 0;
    if (check_opts(opts, err) != GC_OK) return GC_FAIL;
    if (!maps || n_classes == 0) return gc_fail(err, "overlay: no class maps");
    if (n_classes > OVERLAY_MAX_PIXELS) return gc_fail(err, "overlay: too many class maps");
    if (scaled(&hs, h, opts->scale, err) != GC_OK || scaled(&ws, w, opts->scale, err) != GC_OK)
        return GC_FAIL;
    if (!gc_mul_size(h, w, &plane)) return gc_fail(err, "overlay: map too large");
    if (cols == 0 || cols > n_classes) cols = n_classes;
    rows = (n_classes + cols - 1) / cols;
    f = font_scale(hs);
    label_h = 2 + FONT_H * f + 2;
    tile_h = hs + label_h;
    if (!gc_mul_size(cols, ws + GAP, &grid_w) || !gc_mul_size(rows, tile_h + GAP, &height) ||
        grid_w > OVERLAY_MAX_PIXELS || height > OVERLAY_MAX_PIXELS)
        return gc_fail(err, "overlay: class map grid too large");
    width = PAD + grid_w - GAP + PAD + (opts->colorbar ? GAP + colorbar_width(f) : 0);
    height = PAD + height - GAP + PAD;
    if (canvas_alloc(out, height, width, err) != GC_OK) return GC_FAIL;
    for (k = 0; k < n_classes; k++) {
        const real *m = maps + k * plane;
        size_t x0 = PAD + (k % cols) * (ws + GAP), y0 = PAD + (k / cols) * (tile_h + GAP);
        size_t y, x, finite = 0;
        char label[32];
        for (y = 0; y < h; y++)
            for (x = 0; x < w; x++) {
                unsigned char rgb[3];
                double v = (double)m[y * w + x];
                if (!isnan(v)) finite++;
                colormap_rgb(rgb, opts->cmap, v);
                fill_rect(out, x0 + x * opts->scale, y0 + y * opts->scale, opts->scale,
                          opts->scale, rgb);
            }
        if (finite == 0) { /* no representative map for this class: cross it out */
            size_t i, diag = hs < ws ? hs : ws;
            for (i = 0; i < diag; i++) {
                fill_rect(out, x0 + i * ws / diag, y0 + i * hs / diag, 1, 1, DARK);
                fill_rect(out, x0 + ws - 1 - i * ws / diag, y0 + i * hs / diag, 1, 1, DARK);
            }
        }
        snprintf(label, sizeof label, "%zu", k);
        draw_text(out, x0 + (ws > text_width(label, f) ? (ws - text_width(label, f)) / 2 : 0),
                  y0 + hs + 2, label, f, BLACK);
    }
    if (opts->colorbar) draw_colorbar(out, width - PAD - colorbar_width(f), PAD, hs, f, opts->cmap);
    return GC_OK;
}

int overlay_gallery(overlay_image *out, const overlay_samples *s, size_t cols,
                    const overlay_opts *opts, gc_error *err)
{
    size_t hs, ws, f, label_h, tile_w, tile_h, rows, width, height, grid_w, i, plane, cam_plane;
    real *big;
    out->rgb = NULL;
    out->height = out->width = 0;
    if (check_opts(opts, err) != GC_OK) return GC_FAIL;
    if (!s || s->n == 0 || !s->images || !s->cams) return gc_fail(err, "overlay: no samples");
    if (s->n > OVERLAY_MAX_PIXELS) return gc_fail(err, "overlay: too many samples");
    if ((s->labels == NULL) != (s->preds == NULL))
        return gc_fail(err, "overlay: give both labels and predictions, or neither");
    if (s->cam_h == 0 || s->cam_w == 0) return gc_fail(err, "overlay: empty CAM");
    if (scaled(&hs, s->h, opts->scale, err) != GC_OK ||
        scaled(&ws, s->w, opts->scale, err) != GC_OK)
        return GC_FAIL;
    if (!gc_mul_size(s->h, s->w, &plane) || plane > OVERLAY_MAX_PIXELS ||
        !gc_mul_size(s->cam_h, s->cam_w, &cam_plane))
        return gc_fail(err, "overlay: image too large");
    if (cols == 0) cols = default_cols(s->n);
    if (cols > s->n) cols = s->n;
    rows = (s->n + cols - 1) / cols;
    f = font_scale(hs);
    label_h = s->labels ? 2 + FONT_H * f + 2 : 0;
    tile_w = ws + 2 * BORDER;
    tile_h = hs + 2 * BORDER + label_h;
    if (!gc_mul_size(cols, tile_w + GAP, &grid_w) || !gc_mul_size(rows, tile_h + GAP, &height) ||
        grid_w > OVERLAY_MAX_PIXELS || height > OVERLAY_MAX_PIXELS)
        return gc_fail(err, "overlay: gallery too large");
    width = PAD + grid_w - GAP + PAD + (opts->colorbar ? GAP + colorbar_width(f) : 0);
    height = PAD + height - GAP + PAD;
    if (canvas_alloc(out, height, width, err) != GC_OK) return GC_FAIL;
    big = (real *)malloc(plane * sizeof *big);
    if (!big) {
        overlay_image_free(out);
        return gc_fail(err, "overlay: out of memory");
    }
    for (i = 0; i < s->n; i++) {
        size_t x0 = PAD + (i % cols) * (tile_w + GAP), y0 = PAD + (i / cols) * (tile_h + GAP);
        const unsigned char *frame = GRAY;
        if (s->labels) frame = s->labels[i] == s->preds[i] ? GREEN : RED;
        fill_rect(out, x0, y0, tile_w, hs + 2 * BORDER, frame);
        resample_bilinear(s->cams + i * cam_plane, s->cam_h, s->cam_w, big, s->h, s->w);
        draw_blend(out, x0 + BORDER, y0 + BORDER, s->images + i * plane, big, s->h, s->w, opts);
        if (s->labels) {
            char label[48];
            size_t tw;
            snprintf(label, sizeof label, "%d/%d", s->labels[i], s->preds[i]);
            tw = text_width(label, f);
            draw_text(out, x0 + (tile_w > tw ? (tile_w - tw) / 2 : 0), y0 + hs + 2 * BORDER + 2,
                      label, f, BLACK);
        }
    }
    free(big);
    if (opts->colorbar)
        draw_colorbar(out, width - PAD - colorbar_width(f), PAD + BORDER, hs, f, opts->cmap);
    return GC_OK;
}

int overlay_write_png(const overlay_image *img, const char *path, gc_error *err)
{
    if (!img || !img->rgb) return gc_fail(err, "%s: no picture to write", path);
    return png_write(path, img->rgb, img->width, img->height, 3, err);
}
