/*
 * tests/test_conv_lowering.c - the two lowerings of nn/conv2d.c against a
 * naive convolution written out in the test (its definition, in double):
 * - the per-sample path (maps of >= 1024 output pixels, or >= 128 with
 *   small weights, or small products; test_path_choice: one product per
 *   sample, dW summed in fixed blocks of samples, including empty blocks
 *   when the batch is smaller than the block count),
 * - the group path (small maps: several samples' columns side by side),
 *   including a last group of one sample, for 3x3 and direct 1x1 convs,
 *   and with many input channels on both paths; and with more output
 *   channels than taps (IC*K*K < OC: dW computed in the other orientation).
 * Forward (with and without bias), dx, dW, db, and the tangent pair
 * (dW += dy_t col(x_t)^T, dx_t) must equal the reference to rounding; the
 * per-sample path also gets the full derivative check (tests/layercheck.h).
 * The per-sample path of stride-1 convs (implicit im2col through gemm_src)
 * must also give the explicit lowering's bits (im2col + gemm, written out
 * here) for y, dW and db; so must the group path with large columns.
 * The unit tests of the layer itself are tests/test_conv2d.c.
 */
#include "nn/gemm.h"
#include "nn/im2col.h"
#include "nn/lanes.h"
#include "nn/layers.h"
#include "tests/layercheck.h"
#include "tests/test.h"

#include <math.h>
#include <string.h>

typedef struct geo {
    int ic, h, w, oc, k, stride, pad;
    int oh, ow;
} geo;

static geo make_geo(int ic, int h, int w, int oc, int k, int stride, int pad)
{
    geo g;
    g.ic = ic;
    g.h = h;
    g.w = w;
    g.oc = oc;
    g.k = k;
    g.stride = stride;
    g.pad = pad;
    g.oh = (h + 2 * pad - k) / stride + 1;
    g.ow = (w + 2 * pad - k) / stride + 1;
    return g;
}

/* The same geometry as nn/im2col.h takes it. */
static conv_geom conv_geom_of(geo g)
{
    conv_geom cg;
    cg.c = g.ic;
    cg.h = g.h;
    cg.w = g.w;
    cg.k = g.k;
    cg.stride = g.stride;
    cg.pad = g.pad;
    cg.oh = g.oh;
    cg.ow = g.ow;
    return cg;
}

/* x value seen by tap (c, ki, kj) of output (oi, oj), 0 in the padding */
static double tap(const geo *g, const real *xs, int c, int oi, int oj, int ki, int kj)
{
    int ii = oi * g->stride - g->pad + ki, jj = oj * g->stride - g->pad + kj;
    if (ii < 0 || ii >= g->h || jj < 0 || jj >= g->w) return 0;
    return xs[((size_t)c * g->h + ii) * g->w + jj];
}

/* The reference: y, and for dy: dx, dW, db (all in double). */
static void naive(const geo *g, int n, const real *x, const real *w, const real *b,
                  const real *dy, double *y, double *dx, double *dw, double *db)
{
    size_t in_sz = (size_t)g->ic * g->h * g->w, out_sz = (size_t)g->oc * g->oh * g->ow;
    int s, o, c, oi, oj, ki, kj;
    memset(dx, 0, (size_t)n * in_sz * sizeof(double));
    memset(dw, 0, (size_t)g->oc * g->ic * g->k * g->k * sizeof(double));
    memset(db, 0, (size_t)g->oc * sizeof(double));
    for (s = 0; s < n; s++)
        for (o = 0; o < g->oc; o++)
            for (oi = 0; oi < g->oh; oi++)
                for (oj = 0; oj < g->ow; oj++) {
                    size_t yi = s * out_sz + ((size_t)o * g->oh + oi) * g->ow + oj;
                    double acc = b ? b[o] : 0, d = dy[yi];
                    for (c = 0; c < g->ic; c++)
                        for (ki = 0; ki < g->k; ki++)
                            for (kj = 0; kj < g->k; kj++) {
                                size_t wi = (((size_t)o * g->ic + c) * g->k + ki) * g->k + kj;
                                int ii = oi * g->stride - g->pad + ki;
                                int jj = oj * g->stride - g->pad + kj;
                                double xv = tap(g, x + s * in_sz, c, oi, oj, ki, kj);
                                acc += w[wi] * xv;
                                dw[wi] += d * xv;
                                if (ii >= 0 && ii < g->h && jj >= 0 && jj < g->w)
                                    dx[s * in_sz + ((size_t)c * g->h + ii) * g->w + jj] +=
                                        d * w[wi];
                            }
                    y[yi] = acc;
                    db[o] += d;
                }
}

static double *dalloc(size_t count) { return (double *)calloc(count, sizeof(double)); }

static double max_rel(const real *a, const double *ref, size_t count)
{
    double worst = 0, scale = 1e-3;
    size_t i;
    for (i = 0; i < count; i++)
        if (fabs(ref[i]) > scale) scale = fabs(ref[i]);
    for (i = 0; i < count; i++) {
        double e = fabs((double)a[i] - ref[i]) / scale;
        if (e > worst) worst = e;
    }
    return worst;
}

/* Run conv2d on n samples (capacity max_n) of geometry g and compare every
 * pass with the reference. */
static void compare(geo g, int n, int max_n, int bias)
{
    lc_env e;
    layer *l;
    size_t in_sz = (size_t)g.ic * g.h * g.w, out_sz = (size_t)g.oc * g.oh * g.ow;
    size_t nw = (size_t)g.oc * g.ic * g.k * g.k;
    size_t nx = (size_t)n * in_sz, ny = (size_t)n * out_sz;
    real *x = (real *)calloc(nx, sizeof(real)), *xt = (real *)calloc(nx, sizeof(real));
    real *y = (real *)calloc(ny, sizeof(real)), *yt = (real *)calloc(ny, sizeof(real));
    real *dy = (real *)calloc(ny, sizeof(real)), *dyt = (real *)calloc(ny, sizeof(real));
    real *dx = (real *)calloc(nx, sizeof(real)), *dxt = (real *)calloc(nx, sizeof(real));
    double *ry = dalloc(ny), *rdx = dalloc(nx), *rdw = dalloc(nw), *rdb = dalloc((size_t)g.oc);
    double *ryt = dalloc(ny), *rdxt = dalloc(nx), *rdwt = dalloc(nw);
    double *rdbt = dalloc((size_t)g.oc);
    double *rsum = dalloc(nw);
    const real *w, *b = NULL;
    real *dw, *db = NULL;
    int widx, bidx = -1;
    size_t i;
    double tol = sizeof(real) == sizeof(double) ? 1e-12 : 1e-4;

    lc_env_init(&e, max_n, 1, 9);
    l = conv2d_create(&e.ctx, "c", g.ic, g.h, g.w, g.oc, g.k, g.stride, g.pad, bias);
    widx = ps_find(&e.ps, "c.weight");
    if (bias) bidx = ps_find(&e.ps, "c.bias");
    w = ps_value(&e.ps, widx);
    dw = ps_grad(&e.ps, widx);
    if (bias) {
        b = ps_value(&e.ps, bidx);
        db = ps_grad(&e.ps, bidx);
    }
    lc_fill(&e.r, x, nx, 1, 0);
    lc_fill(&e.r, xt, nx, 1, 0);
    lc_fill(&e.r, dy, ny, 1, 0);
    lc_fill(&e.r, dyt, ny, 1, 0);

    layer_forward(l, x, y, n);
    layer_tangent(l, xt, yt);
    ps_zero_grad(&e.ps);
    layer_tangent_backward(l, dy, dyt, dx, dxt);
    naive(&g, n, x, w, b, dy, ry, rdx, rdw, rdb);
    naive(&g, n, xt, w, NULL, dyt, ryt, rdxt, rdwt, rdbt);
    for (i = 0; i < nw; i++) rsum[i] = rdw[i] + rdwt[i];

    CHECK_MSG(max_rel(y, ry, ny) < tol, "forward");
    CHECK_MSG(max_rel(yt, ryt, ny) < tol, "tangent (no bias)");
    CHECK_MSG(max_rel(dx, rdx, nx) < tol, "dx");
    CHECK_MSG(max_rel(dxt, rdxt, nx) < tol, "dx_t");
    CHECK_MSG(max_rel(dw, rsum, nw) < tol, "dW = dy col(x)^T + dy_t col(x_t)^T");
    if (bias) CHECK_MSG(max_rel(db, rdb, (size_t)g.oc) < tol, "db = sum dy (no dy_t term)");

    /* backward alone accumulates on top of what is there */
    layer_backward(l, dy, dx);
    for (i = 0; i < nx; i++) rdx[i] *= 2;
    CHECK_MSG(max_rel(dx, rdx, nx) < tol, "backward accumulates into dx");

    layer_destroy(l);
    lc_env_free(&e);
    free(x); free(xt); free(y); free(yt); free(dy); free(dyt); free(dx); free(dxt);
    free(ry); free(rdx); free(rdw); free(rdb); free(ryt); free(rdxt); free(rdwt); free(rdbt);
    free(rsum);
}

/* >= 1024 output pixels: one sample at a time, dW in blocks */
static void test_per_sample_3x3(void) { compare(make_geo(2, 33, 32, 3, 3, 1, 1), 3, 3, 1); }
static void test_per_sample_batch_over_blocks(void)
{
    compare(make_geo(1, 32, 32, 2, 3, 1, 1), 11, 12, 1);   /* 11 samples in 8 blocks */
}
static void test_per_sample_direct_1x1(void)
{
    compare(make_geo(3, 32, 32, 2, 1, 1, 0), 2, 4, 1);
}
static void test_per_sample_stride2(void) { compare(make_geo(1, 64, 65, 2, 3, 2, 1), 2, 2, 0); }
/* 28x28 would make groups of two, but the product is small: per sample */
static void test_per_sample_small_product(void)
{
    compare(make_geo(1, 28, 28, 4, 3, 1, 1), 5, 5, 1);
}

/* small maps: samples grouped side by side */
static void test_group_3x3(void) { compare(make_geo(3, 6, 6, 4, 3, 1, 1), 5, 5, 1); }
static void test_group_last_single(void)
{
    /* 20x20 = 400 pixels: groups of 3, so 7 samples = 3 + 3 + 1 (weights
     * too large for the per-sample path's dW partials, see below) */
    compare(make_geo(64, 20, 20, 16, 3, 1, 1), 7, 7, 1);
    compare(make_geo(128, 20, 20, 64, 1, 1, 0), 7, 7, 1);   /* direct 1x1 */
}

static int group_size(geo g, int max_n)
{
    lc_env e;
    layer *l;
    int nb;
    lc_env_init(&e, max_n, 1, 3);
    l = conv2d_create(&e.ctx, "c", g.ic, g.h, g.w, g.oc, g.k, g.stride, g.pad, 1);
    nb = conv2d_group_size(l);
    layer_destroy(l);
    lc_env_free(&e);
    return nb;
}

/* Which path: per sample from 1024 pixels, or from 128 when the layer's 8
 * block partials of dW are under 65536 reals, or when a group of two would
 * be a small product; else groups of ceil(1024 / OH*OW) samples. */
static void test_path_choice(void)
{
    CHECK(group_size(make_geo(2, 33, 32, 3, 3, 1, 1), 32) == 1);      /* 1056 pixels */
    CHECK(group_size(make_geo(1, 28, 28, 16, 3, 1, 1), 32) == 1);     /* small product */
    CHECK(group_size(make_geo(16, 14, 14, 32, 3, 1, 1), 32) == 1);    /* Level 1 28x28 */
    CHECK(group_size(make_geo(32, 14, 14, 64, 1, 1, 0), 32) == 1);    /* Level 3's skip */
    CHECK(group_size(make_geo(64, 14, 14, 128, 1, 1, 0), 32) == 6);   /* 8 x 8192 */
    CHECK(group_size(make_geo(32, 14, 14, 64, 3, 1, 1), 32) == 6);    /* Level 2 28x28 */
    CHECK(group_size(make_geo(2, 11, 11, 3, 3, 1, 1), 32) == 9);      /* 121 < 128 */
    CHECK(group_size(make_geo(2, 11, 11, 3, 3, 1, 1), 4) == 4);       /* capped at max_n */
}
static void test_group_partial_batch(void)
{
    compare(make_geo(4, 3, 3, 5, 3, 1, 1), 2, 32, 1);   /* 3x3 maps, batch < capacity */
}

/* more input channels, on both paths */
static void test_many_channels(void)
{
    compare(make_geo(8, 32, 32, 2, 3, 1, 1), 2, 2, 1);    /* per-sample */
    compare(make_geo(9, 6, 6, 3, 3, 1, 1), 29, 29, 1);    /* one group of 29 */
    compare(make_geo(70, 4, 4, 2, 1, 1, 0), 64, 64, 0);   /* direct 1x1, one group of 64 */
}

/* dW is computed as dW^T = cols dy^T when IC*K*K > OC (every case above)
 * and as dy cols^T otherwise: the latter on both paths */
static void test_more_outputs_than_taps(void)
{
    compare(make_geo(1, 32, 32, 12, 3, 1, 1), 3, 3, 1);   /* per-sample, 9 < 12 */
    compare(make_geo(2, 32, 32, 5, 1, 1, 0), 3, 3, 1);    /* per-sample direct, 2 < 5 */
    compare(make_geo(1, 6, 6, 10, 3, 1, 1), 7, 7, 1);     /* group, 9 < 10 */
}

/*
 * The per-sample path of a stride-1 conv reads its columns through gemm_src
 * panels (implicit im2col, nn/conv2d.c): its forward output and its weight
 * gradient must be bit for bit those of the explicit lowering, written out
 * here with im2col and gemm: y_s = W im2col(x_s) (+ b), and dW as
 * nn/conv2d.c sums it, per block of samples (8 fixed blocks of the batch)
 * part = sum_j (dy_j cols_j^T, or cols_j dy_j^T transposed when IC*K*K > OC)
 * with gemm's beta = 0 for the block's first sample, then the blocks added
 * to dW in order (empty blocks skipped) (the layer itself takes dy cols^T in
 * both cases on this path: the two orientations are the same sums in the
 * same order, so this also checks that they give the same bits); and db,
 * whose per-sample sums are
 * taken inside that loop, bit for bit as db[o] += lanes_sum(dy_s[o]) in
 * sample order.
 */
#define TEST_DW_BLOCKS 8

static int implicit_bits(geo g, int n, int bias)
{
    lc_env e;
    layer *l;
    size_t in_sz = (size_t)g.ic * g.h * g.w, ohw = (size_t)g.oh * g.ow;
    size_t out_sz = (size_t)g.oc * ohw, ckk = (size_t)g.ic * g.k * g.k, nw = (size_t)g.oc * ckk;
    size_t nx = (size_t)n * in_sz, ny = (size_t)n * out_sz, i, q;
    real *x = (real *)calloc(nx, sizeof(real)), *y = (real *)calloc(ny, sizeof(real));
    real *dy = (real *)calloc(ny, sizeof(real)), *dx = (real *)calloc(nx, sizeof(real));
    real *yr = (real *)calloc(ny, sizeof(real)), *dwr = (real *)calloc(nw, sizeof(real));
    real *cols = (real *)calloc(ckk * ohw, sizeof(real)), *part = (real *)calloc(nw, sizeof(real));
    real *dbr = (real *)calloc((size_t)g.oc, sizeof(real));
    const real *w, *b = NULL;
    int dw_t = ckk > (size_t)g.oc, s, blk, o, bad = 0;
    conv_geom cg = conv_geom_of(g);
    lc_env_init(&e, n, 1, 21);
    l = conv2d_create(&e.ctx, "c", g.ic, g.h, g.w, g.oc, g.k, g.stride, g.pad, bias);
    w = ps_value(&e.ps, ps_find(&e.ps, "c.weight"));
    if (bias) b = ps_value(&e.ps, ps_find(&e.ps, "c.bias"));
    lc_fill(&e.r, x, nx, 1, 0);
    lc_fill(&e.r, dy, ny, 1, 0);
    layer_forward(l, x, y, n);
    ps_zero_grad(&e.ps);
    layer_backward(l, dy, dx);
    for (s = 0; s < n; s++) {
        real *ys = yr + (size_t)s * out_sz;
        im2col(&cg, x + (size_t)s * in_sz, cols);
        gemm(0, 0, g.oc, (int)ohw, (int)ckk, 1, w, (int)ckk, cols, (int)ohw, 0, ys, (int)ohw);
        if (b)
            for (q = 0; q < out_sz; q++) ys[q] = ys[q] + b[q / ohw];
    }
    for (blk = 0; blk < TEST_DW_BLOCKS; blk++) {
        int lo = n * blk / TEST_DW_BLOCKS, hi = n * (blk + 1) / TEST_DW_BLOCKS;
        for (s = lo; s < hi; s++) {
            const real *dys = dy + (size_t)s * out_sz;
            im2col(&cg, x + (size_t)s * in_sz, cols);
            if (dw_t)
                gemm(0, 1, (int)ckk, g.oc, (int)ohw, 1, cols, (int)ohw, dys, (int)ohw,
                     s == lo ? 0 : 1, part, g.oc);
            else
                gemm(0, 1, g.oc, (int)ckk, (int)ohw, 1, dys, (int)ohw, cols, (int)ohw,
                     s == lo ? 0 : 1, part, (int)ckk);
        }
        if (hi == lo) continue;
        for (q = 0; q < nw; q++)   /* dW (OC, IC*K*K) += part, or part^T */
            dwr[q] += dw_t ? part[(q % ckk) * (size_t)g.oc + q / ckk] : part[q];
    }
    for (o = 0; o < g.oc; o++)   /* db: each sample's lane sum, added in sample order */
        for (s = 0; s < n; s++)
            dbr[o] += (real)lanes_sum(dy + (size_t)s * out_sz + (size_t)o * ohw, ohw);
    if (bias) bad += 4 * (memcmp(ps_grad(&e.ps, ps_find(&e.ps, "c.bias")), dbr,
                                 (size_t)g.oc * sizeof(real)) != 0);
    bad += memcmp(y, yr, ny * sizeof(real)) != 0;
    bad += 2 * (memcmp(ps_grad(&e.ps, ps_find(&e.ps, "c.weight")), dwr, nw * sizeof(real)) != 0);
    for (i = 0; i < ny && !bad; i++) bad += y[i] != y[i];
    layer_destroy(l);
    lc_env_free(&e);
    free(x); free(y); free(dy); free(dx); free(yr); free(dwr); free(cols); free(part); free(dbr);
    return bad;
}

static void test_per_sample_implicit_bits(void)
{
    CHECK(implicit_bits(make_geo(2, 32, 32, 3, 3, 1, 1), 11, 1) == 0);    /* dW^T, 11 in 8 blocks */
    CHECK(implicit_bits(make_geo(1, 64, 64, 16, 3, 1, 1), 3, 1) == 0);   /* 9 < 16: dy cols^T */
    CHECK(implicit_bits(make_geo(16, 32, 32, 8, 3, 1, 1), 2, 0) == 0);   /* 144 taps, 16-wide rows */
    CHECK(implicit_bits(make_geo(1, 28, 28, 4, 3, 1, 1), 5, 1) == 0);    /* rows cross panels */
    CHECK(implicit_bits(make_geo(2, 34, 34, 3, 3, 1, 0), 3, 1) == 0);    /* no padding */
    CHECK(implicit_bits(make_geo(1, 30, 28, 2, 3, 1, 2), 2, 1) == 0);    /* more padding */
    CHECK(implicit_bits(make_geo(2, 33, 31, 3, 5, 1, 2), 2, 1) == 0);    /* 5x5 */
}

/*
 * The group path with large columns (IC*K*K x nb*OH*OW of 2^18 reals or
 * more) also reads them through gemm_src panels: y, dW and db must be bit
 * for bit the explicit group lowering's, written out here: per group of nb
 * samples, cols = im2col_ld of each sample side by side, stage = W cols
 * then y = stage (+ b); dW^T += cols stage_dy^T (IC*K*K > OC; dW^T starts
 * as 0 and is transposed into dW at the end) or dW += stage_dy cols^T; db
 * += lanes_sum of each stage_dy row, group by group. nb = ceil(1024 / OH*OW)
 * for these maps (nn/conv2d.c: CONV_GROUP_COLS).
 */
static int group_bits(geo g, int n, int nb)
{
    lc_env e;
    layer *l;
    size_t in_sz = (size_t)g.ic * g.h * g.w, ohw = (size_t)g.oh * g.ow;
    size_t out_sz = (size_t)g.oc * ohw, ckk = (size_t)g.ic * g.k * g.k, nw = (size_t)g.oc * ckk;
    size_t nx = (size_t)n * in_sz, ny = (size_t)n * out_sz, q, ncol_max = (size_t)nb * ohw;
    real *x = (real *)calloc(nx, sizeof(real)), *y = (real *)calloc(ny, sizeof(real));
    real *dy = (real *)calloc(ny, sizeof(real)), *dx = (real *)calloc(nx, sizeof(real));
    real *yr = (real *)calloc(ny, sizeof(real)), *dwr = (real *)calloc(nw, sizeof(real));
    real *acc = (real *)calloc(nw, sizeof(real)), *dbr = (real *)calloc((size_t)g.oc, sizeof(real));
    real *cols = (real *)calloc(ckk * ncol_max, sizeof(real));
    real *stage = (real *)calloc((size_t)g.oc * ncol_max, sizeof(real));
    const real *w, *b;
    int dw_t = ckk > (size_t)g.oc, s0, j, o, bad = 0;
    conv_geom cg = conv_geom_of(g);
    lc_env_init(&e, n, 1, 23);
    l = conv2d_create(&e.ctx, "c", g.ic, g.h, g.w, g.oc, g.k, g.stride, g.pad, 1);
    w = ps_value(&e.ps, ps_find(&e.ps, "c.weight"));
    b = ps_value(&e.ps, ps_find(&e.ps, "c.bias"));
    lc_fill(&e.r, x, nx, 1, 0);
    lc_fill(&e.r, dy, ny, 1, 0);
    layer_forward(l, x, y, n);
    ps_zero_grad(&e.ps);
    layer_backward(l, dy, dx);
    for (s0 = 0; s0 < n; s0 += nb) {
        int gs = n - s0 < nb ? n - s0 : nb, ncol = gs * (int)ohw;
        for (j = 0; j < gs; j++)
            im2col_ld(&cg, x + (size_t)(s0 + j) * in_sz, cols + (size_t)j * ohw, (size_t)ncol);
        gemm(0, 0, g.oc, ncol, (int)ckk, 1, w, (int)ckk, cols, ncol, 0, stage, ncol);
        for (j = 0; j < gs; j++)
            for (q = 0; q < out_sz; q++)
                yr[(size_t)(s0 + j) * out_sz + q] =
                    stage[(q / ohw) * (size_t)ncol + (size_t)j * ohw + q % ohw] + b[q / ohw];
        for (j = 0; j < gs; j++)   /* the group's dy as (OC, ncol) */
            for (q = 0; q < out_sz; q++)
                stage[(q / ohw) * (size_t)ncol + (size_t)j * ohw + q % ohw] =
                    dy[(size_t)(s0 + j) * out_sz + q];
        for (o = 0; o < g.oc; o++)
            dbr[o] += (real)lanes_sum(stage + (size_t)o * ncol, (size_t)ncol);
        if (dw_t)
            gemm(0, 1, (int)ckk, g.oc, ncol, 1, cols, ncol, stage, ncol, 1, acc, g.oc);
        else
            gemm(0, 1, g.oc, (int)ckk, ncol, 1, stage, ncol, cols, ncol, 1, dwr, (int)ckk);
    }
    if (dw_t)
        for (q = 0; q < nw; q++) dwr[q] = acc[(q % ckk) * (size_t)g.oc + q / ckk];
    bad += memcmp(y, yr, ny * sizeof(real)) != 0;
    bad += 2 * (memcmp(ps_grad(&e.ps, ps_find(&e.ps, "c.weight")), dwr, nw * sizeof(real)) != 0);
    bad += 4 * (memcmp(ps_grad(&e.ps, ps_find(&e.ps, "c.bias")), dbr,
                       (size_t)g.oc * sizeof(real)) != 0);
    layer_destroy(l);
    lc_env_free(&e);
    free(x); free(y); free(dy); free(dx); free(yr); free(dwr); free(acc); free(dbr);
    free(cols); free(stage);
    return bad;
}

static void test_group_implicit_bits(void)
{
    CHECK(group_bits(make_geo(64, 14, 14, 16, 3, 1, 1), 7, 6) == 0);    /* dW^T; 6 + 1 */
    CHECK(group_bits(make_geo(32, 16, 16, 300, 3, 1, 1), 7, 4) == 0);   /* 288 < 300; 4 + 3 */
    CHECK(group_bits(make_geo(128, 7, 7, 4, 3, 1, 1), 25, 21) == 0);    /* 7x7 rows; 21 + 4 */
}

/* the per-sample path through the full derivative checker */
static void test_per_sample_layercheck(void)
{
    lc_env e;
    lc_opts o;
    layer *l;
    lc_env_init(&e, 2, 1, 4);
    l = conv2d_create(&e.ctx, "c", 2, 32, 32, 2, 3, 1, 1, 1);
    lc_default(&o);
    o.n = 2;
    o.max_coords = 16;
    o.verbose = getenv("GC_TEST_VERBOSE") != NULL;
    layercheck(l, &o);
    layer_destroy(l);
    lc_env_free(&e);
}

int main(int argc, char **argv)
{
    static const test_case cases[] = {
        TEST_CASE(test_per_sample_3x3),
        TEST_CASE(test_per_sample_batch_over_blocks),
        TEST_CASE(test_per_sample_direct_1x1),
        TEST_CASE(test_per_sample_stride2),
        TEST_CASE(test_group_3x3),
        TEST_CASE(test_group_last_single),
        TEST_CASE(test_path_choice),
        TEST_CASE(test_group_partial_batch),
        TEST_CASE(test_many_channels),
        TEST_CASE(test_more_outputs_than_taps),
        TEST_CASE(test_per_sample_small_product),
        TEST_CASE(test_per_sample_implicit_bits),
        TEST_CASE(test_group_implicit_bits),
        TEST_CASE(test_per_sample_layercheck),
    };
    return test_main(argc, argv, cases, TEST_COUNT(cases));
}
