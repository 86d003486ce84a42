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
#include "nn/parallel.h"

#include <limits.h>
#include <math.h>

typedef struct pool {
    layer base;
    int k, stride;
    int *route;   /* maxpool: (max_n, C, OH, OW) argmax index into the (H, W) plane */
    /* maxpool 2x2 stride 2 instead of route (a quarter of the memory): */
    int *win;          /* (OH*OW) first index of each window in the plane */
    uint8_t *code;     /* (max_n, C, OH, OW) argmax within the window: 0..3 = a, b, c, d */
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
 * MAXPOOL_CHUNK outputs of a row at a time: the two input rows' 2 *
 * MAXPOOL_CHUNK values are copied into local arrays (contiguous loads; the
 * last chunk of a row repeats its last window), then a fixed-length loop of
 * selects that compilers vectorise, with no branch per element (random data
 * would mispredict them). Same scan as the general loop: a, b, c, d in
 * row-major order; the first value always replaces -inf, or is -inf itself,
 * which gives the same m and route. The route is stored as the window
 * position 0..3 (p->code). */
#define MAXPOOL_CHUNK 16

static void maxpool_plane_2x2(const pool *p, const real *xp, real *yp, uint8_t *rp)
{
    const layer *l = &p->base;
    int w = l->in_w, ow = l->out_w, oi, oj, j;
    for (oi = 0; oi < l->out_h; oi++) {
        const real *r0 = xp + (size_t)(2 * oi) * w, *r1 = r0 + w;
        real *yo = yp + (size_t)oi * ow;
        uint8_t *ro = rp + (size_t)oi * ow;
        for (oj = 0; oj < ow; oj += MAXPOOL_CHUNK) {
            real t0[2 * MAXPOOL_CHUNK], t1[2 * MAXPOOL_CHUNK], m[MAXPOOL_CHUNK];
            int best[MAXPOOL_CHUNK];
            int len = ow - oj < MAXPOOL_CHUNK ? ow - oj : MAXPOOL_CHUNK;
            if (len == MAXPOOL_CHUNK) {
                for (j = 0; j < 2 * MAXPOOL_CHUNK; j++) {
                    t0[j] = r0[2 * oj + j];
                    t1[j] = r1[2 * oj + j];
                }
            } else {
                for (j = 0; j < 2 * len; j++) {
                    t0[j] = r0[2 * oj + j];
                    t1[j] = r1[2 * oj + j];
                }
                for (; j < 2 * MAXPOOL_CHUNK; j++) {
                    t0[j] = t0[j - 2];
                    t1[j] = t1[j - 2];
                }
            }
            for (j = 0; j < MAXPOOL_CHUNK; j++) {
                int bj = 0;
                real mj = t0[2 * j];
                MAXPOOL_TAKE(mj, bj, t0[2 * j + 1], 1);
                MAXPOOL_TAKE(mj, bj, t1[2 * j], 2);
                MAXPOOL_TAKE(mj, bj, t1[2 * j + 1], 3);
                m[j] = mj;
                best[j] = bj;
            }
            for (j = 0; j < len; j++) {
                yo[oj + j] = m[j];
                ro[oj + j] = (uint8_t)best[j];
            }
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
                              p->code + (size_t)q * out_hw);
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

/* dx[route] += dy over all outputs */
static void maxpool_route_add(const pool *p, const real *dy, real *dx)
{
    const layer *l = &p->base;
    size_t planes = (size_t)l->n * l->in_c;
    size_t in_hw = (size_t)l->in_h * l->in_w, out_hw = (size_t)l->out_h * l->out_w;
    long q, nq = (long)planes;
    GC_OMP_FOR(planes * out_hw)
    for (q = 0; q < nq; q++) {   /* planes are independent; in order within one */
        size_t pl = (size_t)q, o;
        for (o = 0; o < out_hw; o++)
            dx[pl * in_hw + maxpool_src(p, pl, o)] += dy[pl * out_hw + o];
    }
}

static void maxpool_tangent_backward(layer *l, const real *dy, const real *dy_t, real *dx,
                                     real *dx_t)
{
    pool *p = (pool *)l;
    if (dx && dy) maxpool_route_add(p, dy, dx);
    if (dx_t && dy_t) maxpool_route_add(p, dy_t, dx_t);
}

static void maxpool_backward(layer *l, const real *dy, real *dx)
{
    maxpool_tangent_backward(l, dy, NULL, dx, NULL);
}

static const layer_ops maxpool_ops = {"maxpool2d", maxpool_forward, maxpool_backward,
                                      maxpool_tangent, maxpool_tangent_backward,
                                      pool_destroy};

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
