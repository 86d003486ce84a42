/*
 * nn/pool.c - pooling layers: MaxPool2d and AvgPool2d (k x k windows, stride
 * s, no padding, floor mode, as PyTorch's defaults) and global average
 * pooling (AdaptiveAvgPool2d(1)).
 *   x (N, C, H, W) -> y (N, C, OH, OW), OH = floor((H - k) / s) + 1;
 *   gap: (N, C, H, W) -> (N, C, 1, 1).
 *
 * DESIGN.md section 2: max-pool is piecewise linear. Forward records one
 * argmax route per output (the first maximum in row-major window order:
 * only a strictly greater value, or a NaN, replaces the running maximum, as
 * PyTorch's CPU kernel scans); tangent, backward and tangent_backward all
 * route through it, with no second-order term. Average and global pooling
 * are linear: the tangent is the forward applied to x_t and the adjoint
 * spreads dy / (window size) over the window.
 *
 * Not done here: padding, ceil mode, dilation, count_include_pad (no model
 * of DESIGN.md section 4 uses them).
 */
#include "nn/layers.h"
#include "nn/fuse.h"
#include "nn/lanes.h"
#include "nn/parallel.h"

#include <limits.h>
#include <math.h>
#include <string.h>

typedef struct pool {
    layer base;
    int k, stride;
    int *route;   /* maxpool: (max_n, C, OH, OW) argmax index into the (H, W) plane */
    /* maxpool 2x2 stride 2 instead of route (a quarter of the memory): */
    int *win;          /* (OH*OW) first index of each window in the plane */
    uint8_t *code;     /* (max_n, C, OH, OW) argmax within the window: 0..3 = a, b, c, d */
    int relu_mask;     /* maxpool: the next backward adds [x > 0] dy (nn/fuse.h) */
    int zero_dx;       /* maxpool 2x2: the next backward writes all of dx (nn/fuse.h) */
    /* maxpool 2x2, armed by maxpool2d_fuse_plane_sums: the next backward
     * writes the plane sums of its adjoint instead of adding into dx */
    double *plane_sums;   /* (n * C) */
    real *sum_scratch;    /* (sum_nt, H*W): one plane per thread */
    int sum_nt;
} pool;

static pool *pool_new(const layer_ops *ops, nn_ctx *ctx, const char *name, int c, int h,
                      int w, int k, int stride)
{
    pool *p;
    GC_CHECK(c >= 1 && h >= 1 && w >= 1 && k >= 1 && stride >= 1);
    GC_CHECK(h >= k && w >= k);
    GC_CHECK((size_t)h * (size_t)w <= (size_t)INT_MAX);   /* routes are int plane indices */
    p = (pool *)gc_calloc(1, sizeof *p);
    layer_init(&p->base, ops, ctx, name, c, h, w, c, (h - k) / stride + 1,
               (w - k) / stride + 1);
    p->k = k;
    p->stride = stride;
    return p;
}

static void pool_destroy(layer *l)
{
    pool *p = (pool *)l;
    free(p->route);
    free(p->win);
    free(p->code);
    free(p);
}

/* ---- max pooling ---- */

/* v replaces the running maximum m (route *best) if v > m or v is NaN, as
 * the general scan below. */
#define MAXPOOL_TAKE(m, best, v, idx)             \
    do {                                         \
        int take_ = ((v) > (m)) | ((v) != (v));  \
        (m) = take_ ? (v) : (m);                 \
        (best) = take_ ? (idx) : (best);         \
    } while (0)

/* The 2x2, stride-2 windows of the models (DESIGN.md section 4) run
 * MAXPOOL_CHUNK outputs of a row at a time: a fixed-length loop of selects
 * that compilers vectorise, with no branch per element (random data would
 * mispredict them). Same scan as the general loop: a, b, c, d in row-major
 * order; the first value always replaces -inf, or is -inf itself, which
 * gives the same m and route. The route is stored as the window position
 * 0..3 (p->code).
 * - Rows of MAXPOOL_CHUNK outputs or more read the two input rows in place
 *   (maxpool_windows); a row whose length is not a multiple of the chunk
 *   ends with a chunk that overlaps the one before (those windows are
 *   computed twice, to the same values).
 * - Shorter rows (Level 1 28x28: 14 and 7) read a whole chunk in place
 *   too, past the row's end into the next rows of x (the extra windows are
 *   computed and dropped), and keep their own len windows; where that
 *   would read past the end of x (the last rows of the batch), the 2 * len
 *   values of each input row are copied into local arrays padded to a
 *   chunk (the last window repeated). (Chunks of 8 or 4 read in place
 *   compiled to branches: the eval forward went 1.5 -> 2.8 ms; dropped.)
 * Against copying every chunk into local arrays first (1 thread, -O3
 * -march=native, min of 200): Level 1 eval forward 6.2 -> 5.4 ms at 64x64,
 * 1.50 -> 1.30 ms at 28x28. */
#define MAXPOOL_CHUNK 16

static void maxpool_windows(const real *restrict r0, const real *restrict r1,
                            real *restrict yo, uint8_t *restrict ro)
{
    int j;
    for (j = 0; j < MAXPOOL_CHUNK; j++) {
        int bj = 0;
        real mj = r0[2 * j];
        MAXPOOL_TAKE(mj, bj, r0[2 * j + 1], 1);
        MAXPOOL_TAKE(mj, bj, r1[2 * j], 2);
        MAXPOOL_TAKE(mj, bj, r1[2 * j + 1], 3);
        yo[j] = mj;
        ro[j] = (uint8_t)bj;
    }
}

/* A row of len < MAXPOOL_CHUNK windows, through padded local copies. */
static void maxpool_short_row(const real *r0, const real *r1, real *yo, uint8_t *ro, int len)
{
    real t0[2 * MAXPOOL_CHUNK], t1[2 * MAXPOOL_CHUNK], m[MAXPOOL_CHUNK];
    uint8_t best[MAXPOOL_CHUNK];
    int j;
    for (j = 0; j < 2 * len; j++) {
        t0[j] = r0[j];
        t1[j] = r1[j];
    }
    for (; j < 2 * MAXPOOL_CHUNK; j++) {
        t0[j] = t0[j - 2];
        t1[j] = t1[j - 2];
    }
    maxpool_windows(t0, t1, m, best);
    for (j = 0; j < len; j++) {
        yo[j] = m[j];
        ro[j] = best[j];
    }
}

static void maxpool_plane_2x2(const pool *p, const real *xp, real *yp, uint8_t *rp,
                              const real *x_end)
{
    const layer *l = &p->base;
    int w = l->in_w, ow = l->out_w, oi, oj;
    for (oi = 0; oi < l->out_h; oi++) {
        const real *r0 = xp + (size_t)(2 * oi) * w, *r1 = r0 + w;
        real *yo = yp + (size_t)oi * ow;
        uint8_t *ro = rp + (size_t)oi * ow;
        if (ow < MAXPOOL_CHUNK) {
            if (r1 + 2 * MAXPOOL_CHUNK <= x_end) {
                /* a whole chunk read in place, past the row end (inside x),
                 * only the row's own windows kept */
                real m[MAXPOOL_CHUNK];
                uint8_t b[MAXPOOL_CHUNK];
                int j;
                maxpool_windows(r0, r1, m, b);
                for (j = 0; j < ow; j++) {
                    yo[j] = m[j];
                    ro[j] = b[j];
                }
            } else {
                maxpool_short_row(r0, r1, yo, ro, ow);
            }
            continue;
        }
        for (oj = 0;; oj += MAXPOOL_CHUNK) {
            if (oj + MAXPOOL_CHUNK > ow) oj = ow - MAXPOOL_CHUNK;   /* the last overlaps */
            maxpool_windows(r0 + 2 * oj, r1 + 2 * oj, yo + oj, ro + oj);
            if (oj + MAXPOOL_CHUNK >= ow) break;
        }
    }
}

static void maxpool_forward(layer *l, const real *x, real *y, int n)
{
    pool *p = (pool *)l;
    size_t planes = (size_t)n * l->in_c, pl;
    size_t in_hw = (size_t)l->in_h * l->in_w, out_hw = (size_t)l->out_h * l->out_w;
    int oi, oj, ki, kj;
    if (p->k == 2 && p->stride == 2) {
        long q, nq = (long)planes;
        GC_OMP_FOR(planes * in_hw)
        for (q = 0; q < nq; q++)
            maxpool_plane_2x2(p, x + (size_t)q * in_hw, y + (size_t)q * out_hw,
                              p->code + (size_t)q * out_hw, x + planes * in_hw);
        return;
    }
    for (pl = 0; pl < planes; pl++) {
        const real *xp = x + pl * in_hw;
        real *yp = y + pl * out_hw;
        int *rp = p->route + pl * out_hw;
        for (oi = 0; oi < l->out_h; oi++)
            for (oj = 0; oj < l->out_w; oj++) {
                int hs = oi * p->stride, ws = oj * p->stride;
                int best = hs * l->in_w + ws;
                real m = -INFINITY;
                for (ki = 0; ki < p->k; ki++)
                    for (kj = 0; kj < p->k; kj++) {
                        int idx = (hs + ki) * l->in_w + ws + kj;
                        real v = xp[idx];
                        if (v > m || isnan(v)) {
                            m = v;
                            best = idx;
                        }
                    }
                yp[(size_t)oi * l->out_w + oj] = m;
                rp[(size_t)oi * l->out_w + oj] = best;
            }
    }
}

/* Index in the (H, W) plane of the argmax of output o of plane pl. */
static size_t maxpool_src(const pool *p, size_t pl, size_t o)
{
    size_t out_hw = (size_t)p->base.out_h * p->base.out_w;
    if (p->code) {
        int c = p->code[pl * out_hw + o];
        return (size_t)p->win[o] + (size_t)(c & 1) + (size_t)(c >> 1) * (size_t)p->base.in_w;
    }
    return (size_t)p->route[pl * out_hw + o];
}

static void maxpool_tangent(layer *l, const real *x_t, real *y_t)
{
    pool *p = (pool *)l;
    size_t planes = (size_t)l->n * l->in_c;
    size_t in_hw = (size_t)l->in_h * l->in_w, out_hw = (size_t)l->out_h * l->out_w;
    long q, nq = (long)planes;
    GC_OMP_FOR(planes * out_hw)
    for (q = 0; q < nq; q++) {
        size_t pl = (size_t)q, o;
        for (o = 0; o < out_hw; o++)
            y_t[pl * out_hw + o] = x_t[pl * in_hw + maxpool_src(p, pl, o)];
    }
}

/* The adjoint of MAXPOOL_CHUNK windows of the 2x2 pool: output j's
 * v = dy[j] (times [y[j] > 0] if ym, the chunk's outputs, is given: the
 * fused ReLU) goes to its window position code[j] of the input rows d0, d1.
 * Accumulating: d = d + v at the route and d untouched elsewhere, as the
 * scatter (not "+ 0" elsewhere, which would turn a -0 into +0). With
 * zero_dx: d = 0 + v at the route, 0 elsewhere, what the scatter into a
 * zeroed buffer gives. The window values and codes are first spread to
 * one per input column (vv, cc), then fixed-length loops over the two
 * rows, which compilers vectorise, instead of a scattered store per
 * output. The last loops are plain adds, not selects on the store: under
 * -ftrapping-math (the default) a compiler may not compute an add it was
 * told to skip, so without masked stores (the plain SSE2 build) a select
 * stays a branch per element; Level 1 224x224's CE step, plain build,
 * spent 25% here that way. */
static void maxpool_back_chunk(const real *restrict dy, const uint8_t *restrict code,
                               const real *restrict ym, real *restrict d0,
                               real *restrict d1, int zero_dx)
{
    real vv[2 * MAXPOOL_CHUNK], v0[2 * MAXPOOL_CHUNK], v1[2 * MAXPOOL_CHUNK];
    int cc[2 * MAXPOOL_CHUNK];
    int j, n = 2 * MAXPOOL_CHUNK;
    for (j = 0; j < MAXPOOL_CHUNK; j++) {
        real v = ym ? (ym[j] > 0 ? dy[j] : 0) : dy[j];
        vv[2 * j] = vv[2 * j + 1] = v;
        cc[2 * j] = cc[2 * j + 1] = code[j];
    }
    /* row 0 holds positions 0, 1 (a, b), row 1 positions 2, 3 (c, d); off
     * the route the addend is -0, and d + (-0) = d for every d, -0 and NaN
     * included: the add leaves d untouched there, as the scatter does,
     * with no select on the store */
    for (j = 0; j < n; j++) {
        v0[j] = cc[j] == (j & 1) ? vv[j] : (real)-0.0;
        v1[j] = cc[j] == 2 + (j & 1) ? vv[j] : (real)-0.0;
    }
    if (zero_dx) {
        for (j = 0; j < n; j++) {   /* 0 + (-0) = 0 off the route */
            d0[j] = (real)0 + v0[j];
            d1[j] = (real)0 + v1[j];
        }
    } else {
        for (j = 0; j < n; j++) {
            d0[j] += v0[j];
            d1[j] += v1[j];
        }
    }
}

/* The same for the last len < MAXPOOL_CHUNK windows of a row, one window
 * at a time: an add at the route, w being the row stride (d1 = d0 + w),
 * the route's offset computed without a branch (random codes would
 * mispredict one); with zero_dx the two row segments are zeroed first.
 * Rows shorter than a chunk (Level 1 28x28: 14 and 7 windows) go only
 * through here: padding them to a chunk in local copies made Level 1
 * 28x28's exact step 1.5x slower. */
static void maxpool_back_tail(const real *dy, const uint8_t *code, const real *ym, real *d0,
                              size_t w, int len, int zero_dx)
{
    int j;
    if (zero_dx)
        for (j = 0; j < 2 * len; j++) d0[j] = d0[w + (size_t)j] = 0;
    for (j = 0; j < len; j++) {
        int c = code[j];
        size_t k = (size_t)(2 * j + (c & 1)) + (size_t)(c >> 1) * w;
        d0[k] += ym ? (ym[j] > 0 ? dy[j] : (real)0) : dy[j];
    }
}

/* One plane of the 2x2 pool's adjoint (maxpool_back_chunk row by row);
 * with zero_dx also the last row / column no window covers (odd H or W)
 * is set to 0. */
static void maxpool_plane_2x2_back(const pool *p, const real *dyp, const uint8_t *cp,
                                   const real *yp, real *dxp, int zero_dx)
{
    const layer *l = &p->base;
    int w = l->in_w, ow = l->out_w, oi, oj;
    for (oi = 0; oi < l->out_h; oi++) {
        size_t r = (size_t)(2 * oi) * w, o0 = (size_t)oi * ow;
        real *d0 = dxp + r, *d1 = d0 + w;
        for (oj = 0; oj + MAXPOOL_CHUNK <= ow; oj += MAXPOOL_CHUNK)
            maxpool_back_chunk(dyp + o0 + oj, cp + o0 + oj, yp ? yp + o0 + oj : NULL,
                               d0 + 2 * oj, d1 + 2 * oj, zero_dx);
        if (oj < ow)
            maxpool_back_tail(dyp + o0 + oj, cp + o0 + oj, yp ? yp + o0 + oj : NULL,
                              d0 + 2 * oj, (size_t)w, ow - oj, zero_dx);
        if (zero_dx && w > 2 * ow) d0[w - 1] = d1[w - 1] = 0;
    }
    if (zero_dx && l->in_h > 2 * l->out_h) {
        int j;
        for (j = 0; j < w; j++) dxp[(size_t)(l->in_h - 1) * w + j] = 0;
    }
}

/* dx[route] += dy over all outputs; with mask (y = the output of the
 * forward), dx[route] += [y > 0] dy: the ReLU before the pool, fused
 * (nn/fuse.h). The mask of that ReLU is [x > 0] at its input x = this
 * pool's input, and only x[route] matters, which is y itself: so the pool
 * needs only its own output, and its input may be overwritten after the
 * forward (nn/sequential.c plans its memory that way). zero_dx (2x2 only):
 * dx is overwritten, as if zeroed first. */
static void maxpool_route_add(const pool *p, const real *dy, real *dx, const real *mask,
                              int zero_dx)
{
    const layer *l = &p->base;
    size_t planes = (size_t)l->n * l->in_c;
    size_t in_hw = (size_t)l->in_h * l->in_w, out_hw = (size_t)l->out_h * l->out_w;
    long q, nq = (long)planes;
    GC_CHECK(!zero_dx || p->code);
    GC_OMP_FOR(planes * in_hw)
    for (q = 0; q < nq; q++) {   /* planes are independent; in order within one */
        size_t pl = (size_t)q, o;
        if (p->code)
            maxpool_plane_2x2_back(p, dy + pl * out_hw, p->code + pl * out_hw,
                                   mask ? mask + pl * out_hw : NULL, dx + pl * in_hw, zero_dx);
        else
            for (o = 0; o < out_hw; o++) {
                size_t k = pl * in_hw + maxpool_src(p, pl, o), ko = pl * out_hw + o;
                dx[k] += !mask || mask[ko] > 0 ? dy[ko] : (real)0;
            }
    }
}

/* sums[q] = lanes_sum (nn/lanes.h) of plane q of the adjoint of dy as
 * written into a zeroed dx, for the n * C planes of the last forward: each
 * plane is written whole (zero_dx) into the thread's scratch plane, where
 * it stays in cache, and summed there. Same writer, same sum: the bits of
 * maxpool_route_add into a zeroed buffer followed by lanes_sum, without
 * the passes over a buffer of the input's size in memory. */
static void maxpool_plane_sums(const pool *p, const real *dy, double *sums)
{
    const layer *l = &p->base;
    size_t in_hw = (size_t)l->in_h * l->in_w, out_hw = (size_t)l->out_h * l->out_w;
    long q, nq = (long)l->n * l->in_c;
    GC_OMP_FOR_TEAM(p->sum_nt)
    for (q = 0; q < nq; q++) {
        real *plane = p->sum_scratch + (size_t)GC_THREAD_NUM() * in_hw;
        size_t pl = (size_t)q;
        maxpool_plane_2x2_back(p, dy + pl * out_hw, p->code + pl * out_hw, NULL, plane, 1);
        sums[pl] = lanes_sum(plane, in_hw);
    }
}

static void maxpool_tangent_backward(layer *l, const real *dy, const real *dy_t, real *dx,
                                     real *dx_t)
{
    pool *p = (pool *)l;
    if (dx && dy) maxpool_route_add(p, dy, dx, NULL, 0);
    if (dx_t && dy_t) maxpool_route_add(p, dy_t, dx_t, NULL, 0);
}

static void maxpool_backward(layer *l, const real *dy, real *dx)
{
    pool *p = (pool *)l;
    if (p->plane_sums) {
        if (dy) maxpool_plane_sums(p, dy, p->plane_sums);
        else memset(p->plane_sums, 0, (size_t)l->n * l->in_c * sizeof(double));
        return;
    }
    if (!dx) return;
    if (dy) maxpool_route_add(p, dy, dx, p->relu_mask ? l->y : NULL, p->zero_dx);
    else if (p->zero_dx) memset(dx, 0, (size_t)l->n * layer_in_size(l) * sizeof(real));
}

static const layer_ops maxpool_ops = {"maxpool2d", maxpool_forward, maxpool_backward,
                                      maxpool_tangent, maxpool_tangent_backward,
                                      pool_destroy};

void maxpool2d_fuse_relu_mask(layer *l, int on)
{
    GC_CHECK(l->ops == &maxpool_ops);
    ((pool *)l)->relu_mask = on;
}

int maxpool2d_fuse_zero(layer *l, int on)
{
    pool *p = (pool *)l;
    GC_CHECK(l->ops == &maxpool_ops);
    if (!p->code) return 0;   /* not 2x2 stride 2: the caller zeroes */
    p->zero_dx = on;
    return 1;
}

int maxpool2d_fuse_plane_sums(layer *l, double *sums, real *scratch, int nt)
{
    pool *p = (pool *)l;
    GC_CHECK(l->ops == &maxpool_ops);
    if (!p->code) return 0;
    GC_CHECK(!sums || (scratch && nt >= 1 && !p->relu_mask));
    p->plane_sums = sums;
    p->sum_scratch = sums ? scratch : NULL;
    p->sum_nt = sums ? nt : 0;
    return 1;
}

int maxpool2d_is_2x2(const layer *l)
{
    return l->ops == &maxpool_ops && ((const pool *)l)->code != NULL;
}

layer *maxpool2d_create(nn_ctx *ctx, const char *name, int c, int h, int w, int k, int stride)
{
    pool *p = pool_new(&maxpool_ops, ctx, name, c, h, w, k, stride);
    size_t count;
    GC_CHECK(gc_mul_size((size_t)ctx->max_n, layer_out_size(&p->base), &count));
    if (k == 2 && stride == 2) {
        int oi, oj, ow = p->base.out_w;
        p->code = (uint8_t *)gc_calloc(count, sizeof(uint8_t));
        p->win = (int *)gc_calloc((size_t)p->base.out_h * ow, sizeof(int));
        for (oi = 0; oi < p->base.out_h; oi++)
            for (oj = 0; oj < ow; oj++) p->win[oi * ow + oj] = 2 * oi * w + 2 * oj;
    } else {
        p->route = (int *)gc_calloc(count, sizeof(int));
    }
    return &p->base;
}

/* ---- average pooling ---- */

/* y = window sums / (k*k); used for forward and tangent. */
static void avgpool_apply(const pool *p, const real *x, real *y)
{
    const layer *l = &p->base;
    size_t planes = (size_t)l->n * l->in_c, pl;
    size_t in_hw = (size_t)l->in_h * l->in_w, out_hw = (size_t)l->out_h * l->out_w;
    real area = (real)(p->k * p->k);
    int oi, oj, ki, kj;
    for (pl = 0; pl < planes; pl++) {
        const real *xp = x + pl * in_hw;
        real *yp = y + pl * out_hw;
        for (oi = 0; oi < l->out_h; oi++)
            for (oj = 0; oj < l->out_w; oj++) {
                const real *win = xp + (size_t)oi * p->stride * l->in_w + (size_t)oj * p->stride;
                real s = 0;
                for (ki = 0; ki < p->k; ki++)
                    for (kj = 0; kj < p->k; kj++) s += win[(size_t)ki * l->in_w + kj];
                yp[(size_t)oi * l->out_w + oj] = s / area;
            }
    }
}

/* dx[window] += dy / (k*k) */
static void avgpool_adjoint(const pool *p, const real *dy, real *dx)
{
    const layer *l = &p->base;
    size_t planes = (size_t)l->n * l->in_c, pl;
    size_t in_hw = (size_t)l->in_h * l->in_w, out_hw = (size_t)l->out_h * l->out_w;
    real area = (real)(p->k * p->k);
    int oi, oj, ki, kj;
    for (pl = 0; pl < planes; pl++) {
        real *xp = dx + pl * in_hw;
        const real *yp = dy + pl * out_hw;
        for (oi = 0; oi < l->out_h; oi++)
            for (oj = 0; oj < l->out_w; oj++) {
                real *win = xp + (size_t)oi * p->stride * l->in_w + (size_t)oj * p->stride;
                real g = yp[(size_t)oi * l->out_w + oj] / area;
                for (ki = 0; ki < p->k; ki++)
                    for (kj = 0; kj < p->k; kj++) win[(size_t)ki * l->in_w + kj] += g;
            }
    }
}

static void avgpool_forward(layer *l, const real *x, real *y, int n)
{
    (void)n;
    avgpool_apply((pool *)l, x, y);
}

static void avgpool_tangent(layer *l, const real *x_t, real *y_t)
{
    avgpool_apply((pool *)l, x_t, y_t);
}

static void avgpool_tangent_backward(layer *l, const real *dy, const real *dy_t, real *dx,
                                     real *dx_t)
{
    pool *p = (pool *)l;
    if (dx && dy) avgpool_adjoint(p, dy, dx);
    if (dx_t && dy_t) avgpool_adjoint(p, dy_t, dx_t);
}

static void avgpool_backward(layer *l, const real *dy, real *dx)
{
    avgpool_tangent_backward(l, dy, NULL, dx, NULL);
}

static const layer_ops avgpool_ops = {"avgpool2d", avgpool_forward, avgpool_backward,
                                      avgpool_tangent, avgpool_tangent_backward,
                                      pool_destroy};

layer *avgpool2d_create(nn_ctx *ctx, const char *name, int c, int h, int w, int k, int stride)
{
    return &pool_new(&avgpool_ops, ctx, name, c, h, w, k, stride)->base;
}

/* ---- global average pooling ---- */

/* Plane sums run in GAP_LANES interleaved partial sums (lane j takes the
 * positions i = j mod GAP_LANES), folded in a fixed order: independent
 * additions the compiler vectorises, the same bits on every run. */
#define GAP_LANES 8

static real plane_sum(const real *xp, size_t hw)
{
    real acc[GAP_LANES] = {0};
    size_t i;
    int j;
    for (i = 0; i + GAP_LANES <= hw; i += GAP_LANES)
        for (j = 0; j < GAP_LANES; j++) acc[j] += xp[i + j];
    for (j = 0; i + (size_t)j < hw; j++) acc[j] += xp[i + j];
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

/* y[n,c] = sum_hw x[n,c,:] / (H*W); used for forward and tangent. */
static void gap_apply(const layer *l, const real *x, real *y)
{
    size_t planes = (size_t)l->n * l->in_c;
    size_t hw = (size_t)l->in_h * l->in_w;
    long q, nq = (long)planes;
    GC_OMP_FOR(planes * hw)
    for (q = 0; q < nq; q++) y[q] = plane_sum(x + (size_t)q * hw, hw) / (real)hw;
}

/* dx[n,c,:] += dy[n,c] / (H*W) */
static void gap_adjoint(const layer *l, const real *dy, real *dx)
{
    size_t planes = (size_t)l->n * l->in_c;
    size_t hw = (size_t)l->in_h * l->in_w;
    long q, nq = (long)planes;
    GC_OMP_FOR(planes * hw)
    for (q = 0; q < nq; q++) {
        real g = dy[q] / (real)hw;
        real *xp = dx + (size_t)q * hw;
        size_t i;
        for (i = 0; i < hw; i++) xp[i] += g;
    }
}

static void gap_forward(layer *l, const real *x, real *y, int n)
{
    (void)n;
    gap_apply(l, x, y);
}

static void gap_tangent(layer *l, const real *x_t, real *y_t) { gap_apply(l, x_t, y_t); }

static void gap_tangent_backward(layer *l, const real *dy, const real *dy_t, real *dx,
                                 real *dx_t)
{
    if (dx && dy) gap_adjoint(l, dy, dx);
    if (dx_t && dy_t) gap_adjoint(l, dy_t, dx_t);
}

static void gap_backward(layer *l, const real *dy, real *dx)
{
    gap_tangent_backward(l, dy, NULL, dx, NULL);
}

static const layer_ops gap_ops = {"gap", gap_forward, gap_backward, gap_tangent,
                                  gap_tangent_backward, pool_destroy};

layer *gap_create(nn_ctx *ctx, const char *name, int c, int h, int w)
{
    pool *p;
    GC_CHECK(c >= 1 && h >= 1 && w >= 1);
    p = (pool *)gc_calloc(1, sizeof *p);
    layer_init(&p->base, &gap_ops, ctx, name, c, h, w, c, 1, 1);
    return &p->base;
}
