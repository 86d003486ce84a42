/*
 * tests/test_conv2d.c - nn/conv2d.c: the four functions against finite
 * differences (tests/layercheck.h) for several geometries, hand-computed
 * outputs, the weight layout, PyTorch's default init, accumulation and
 * grad_params. Set GC_TEST_VERBOSE=1 to print every checker error.
 *
 * Kinks: a convolution is bilinear in (W, x) and smooth everywhere, so the
 * finite differences never cross a kink; central differences of a quadratic
 * function are exact up to rounding.
 */
#include "nn/layers.h"
#include "tests/layercheck.h"
#include "tests/test.h"

#include <math.h>
#include <string.h>

static int verbose(void) { return getenv("GC_TEST_VERBOSE") != NULL; }

/* Build one conv in a fresh context and run the full derivative check. */
static void check_conv(int ic, int h, int w, int oc, int k, int stride, int pad, int bias,
                       int train, int n)
{
    lc_env e;
    lc_opts o;
    layer *l;
    double worst;
    lc_env_init(&e, 3, train, 7);
    l = conv2d_create(&e.ctx, "features.0", ic, h, w, oc, k, stride, pad, bias);
    lc_default(&o);
    o.n = n;
    o.verbose = verbose();
    worst = layercheck(l, &o);
    if (o.verbose)
        printf("  conv2d ic=%d %dx%d oc=%d k=%d s=%d p=%d bias=%d: worst %.2e\n", ic, h, w,
               oc, k, stride, pad, bias, worst);
    layer_destroy(l);
    lc_env_free(&e);
}

static void test_fd_k3_pad1(void) { check_conv(2, 5, 5, 3, 3, 1, 1, 1, 1, 2); }
static void test_fd_k1_skip(void) { check_conv(3, 4, 4, 2, 1, 1, 0, 1, 1, 2); }
static void test_fd_k1_stride2(void) { check_conv(2, 5, 4, 3, 1, 2, 0, 1, 0, 2); }
static void test_fd_stride2_odd(void) { check_conv(2, 7, 6, 2, 3, 2, 1, 1, 0, 3); }
static void test_fd_no_bias_odd(void) { check_conv(2, 5, 7, 3, 3, 1, 0, 0, 1, 2); }
static void test_fd_k2_stride2(void) { check_conv(1, 6, 5, 2, 2, 2, 0, 1, 1, 1); }

static void set_param(param_store *ps, const char *name, const real *v, size_t count)
{
    int idx = ps_find(ps, name);
    CHECK(idx >= 0);
    if (idx < 0) return;
    CHECK(ps->entry[idx].numel == count);
    memcpy(ps_value(ps, idx), v, count * sizeof(real));
}

/* x[i][j] = 4i + j + 1 on a 4x4 image, W = [[1,2,0],[0,-1,0],[0,0,3]], b = 0.5.
 * pad 0: y[r][c] = x[r][c] + 2x[r][c+1] - x[r+1][c+1] + 3x[r+2][c+2] + 0.5
 *              = 20r + 5c + 32.5  -> [[32.5, 37.5], [52.5, 57.5]]
 * (a flipped kernel would give 20r + 5c + 29, a transposed one other values).
 * pad 1, stride 2: windows start at rows/cols -1 and 1:
 *   y00 = -x[0][0] + 3x[1][1] + .5 = -1 + 18 + .5 = 17.5
 *   y01 = -x[0][2] + 3x[1][3] + .5 = -3 + 24 + .5 = 21.5
 *   y10 = 2x[1][0] - x[2][0] + 3x[3][1] + .5 = 10 - 9 + 42 + .5 = 43.5
 *   y11 = x[1][1] + 2x[1][2] - x[2][2] + 3x[3][3] + .5 = 6 + 14 - 11 + 48 + .5 = 57.5 */
static void test_values_3x3_on_4x4(void)
{
    static const real wv[9] = {1, 2, 0, 0, -1, 0, 0, 0, 3};
    static const real bv[1] = {0.5};
    static const real want_p0[4] = {32.5, 37.5, 52.5, 57.5};
    static const real want_p1s2[4] = {17.5, 21.5, 43.5, 57.5};
    real x[16], y[4];
    int i, pass;
    for (i = 0; i < 16; i++) x[i] = (real)(i + 1);
    for (pass = 0; pass < 2; pass++) {
        lc_env e;
        layer *l;
        const real *want = pass == 0 ? want_p0 : want_p1s2;
        lc_env_init(&e, 1, 0, 1);
        l = pass == 0 ? conv2d_create(&e.ctx, "c", 1, 4, 4, 1, 3, 1, 0, 1)
                      : conv2d_create(&e.ctx, "c", 1, 4, 4, 1, 3, 2, 1, 1);
        CHECK(l->out_h == 2 && l->out_w == 2);
        set_param(&e.ps, "c.weight", wv, 9);
        set_param(&e.ps, "c.bias", bv, 1);
        layer_forward(l, x, y, 1);
        for (i = 0; i < 4; i++) CHECK_NEAR(y[i], want[i], 1e-12);
        layer_destroy(l);
        lc_env_free(&e);
    }
}

/* Weight layout (OC, IC, K, K): a 1x1 conv 2 -> 2 channels computes
 * y[o] = sum_i W[o][i] x[i] + b[o]. Also the backward by hand:
 * dx[i] = sum_o W[o][i] dy[o], dW[o][i] = sum_p dy[o,p] x[i,p], db[o] = sum_p dy[o,p]. */
static void test_values_channel_layout(void)
{
    static const real wv[4] = {1, 2, 3, 4};   /* W[0] = (1, 2), W[1] = (3, 4) */
    static const real bv[2] = {10, 20};
    static const real x[4] = {1, 2, 5, 7};    /* channel 0: (1, 2), channel 1: (5, 7) */
    static const real dy[4] = {1, 0, 0, 1};
    real y[4], dx[4] = {0, 0, 0, 0};
    const real *dw, *db;
    lc_env e;
    layer *l;
    lc_env_init(&e, 1, 1, 1);
    l = conv2d_create(&e.ctx, "c", 2, 1, 2, 2, 1, 1, 0, 1);
    set_param(&e.ps, "c.weight", wv, 4);
    set_param(&e.ps, "c.bias", bv, 2);
    layer_forward(l, x, y, 1);
    CHECK_NEAR(y[0], 1 * 1 + 2 * 5 + 10, 1e-12);
    CHECK_NEAR(y[1], 1 * 2 + 2 * 7 + 10, 1e-12);
    CHECK_NEAR(y[2], 3 * 1 + 4 * 5 + 20, 1e-12);
    CHECK_NEAR(y[3], 3 * 2 + 4 * 7 + 20, 1e-12);
    ps_zero_grad(&e.ps);
    layer_backward(l, dy, dx);
    /* dy: output channel 0 at pixel 0, channel 1 at pixel 1 */
    CHECK_NEAR(dx[0], 1, 1e-12);   /* W[0][0] */
    CHECK_NEAR(dx[1], 3, 1e-12);   /* W[1][0] */
    CHECK_NEAR(dx[2], 2, 1e-12);   /* W[0][1] */
    CHECK_NEAR(dx[3], 4, 1e-12);   /* W[1][1] */
    dw = ps_grad(&e.ps, ps_find(&e.ps, "c.weight"));
    db = ps_grad(&e.ps, ps_find(&e.ps, "c.bias"));
    CHECK_NEAR(dw[0], 1, 1e-12);   /* dy[0,0] x[0,0] */
    CHECK_NEAR(dw[1], 5, 1e-12);   /* dy[0,0] x[1,0] */
    CHECK_NEAR(dw[2], 2, 1e-12);   /* dy[1,1] x[0,1] */
    CHECK_NEAR(dw[3], 7, 1e-12);   /* dy[1,1] x[1,1] */
    CHECK_NEAR(db[0], 1, 1e-12);
    CHECK_NEAR(db[1], 1, 1e-12);
    layer_destroy(l);
    lc_env_free(&e);
}

/* PyTorch default init: weight then bias, each U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
 * fan_in = IC*K*K, drawn from ctx->rng in that order; names and shapes. */
static void test_init_pytorch_defaults(void)
{
    lc_env e;
    layer *l;
    rng r;
    int wi, bi;
    size_t i;
    double bound = 1.0 / sqrt(4.0 * 3 * 3), maxabs = 0, sumabs = 0;
    const real *w, *b;
    lc_env_init(&e, 2, 1, 99);
    r = e.r;
    l = conv2d_create(&e.ctx, "features.0", 4, 5, 5, 6, 3, 1, 1, 1);
    wi = ps_find(&e.ps, "features.0.weight");
    bi = ps_find(&e.ps, "features.0.bias");
    CHECK(wi == 0 && bi == 1);
    if (wi != 0 || bi != 1) goto done;
    CHECK(e.ps.entry[wi].ndim == 4 && e.ps.entry[wi].shape[0] == 6 &&
          e.ps.entry[wi].shape[1] == 4 && e.ps.entry[wi].shape[2] == 3 &&
          e.ps.entry[wi].shape[3] == 3);
    CHECK(e.ps.entry[bi].ndim == 1 && e.ps.entry[bi].shape[0] == 6);
    CHECK(l->out_c == 6 && l->out_h == 5 && l->out_w == 5);
    w = ps_value(&e.ps, wi);
    b = ps_value(&e.ps, bi);
    for (i = 0; i < 216; i++) {
        double v = rng_uniform_range(&r, -bound, bound);
        CHECK_NEAR(w[i], v, 0);
        if (fabs(w[i]) > maxabs) maxabs = fabs(w[i]);
        sumabs += fabs(w[i]);
    }
    for (i = 0; i < 6; i++) CHECK_NEAR(b[i], rng_uniform_range(&r, -bound, bound), 0);
    CHECK(maxabs <= bound && maxabs > 0.9 * bound);
    CHECK(fabs(sumabs / 216 - bound / 2) < 0.1 * bound);   /* E|U(-a,a)| = a/2 */
done:
    layer_destroy(l);
    lc_env_free(&e);
}

static void test_no_bias_registers_weight_only(void)
{
    lc_env e;
    layer *l;
    lc_env_init(&e, 1, 1, 1);
    l = conv2d_create(&e.ctx, "skip", 3, 4, 4, 5, 1, 1, 0, 0);
    CHECK(e.ps.count == 1 && ps_find(&e.ps, "skip.weight") == 0);
    CHECK(ps_find(&e.ps, "skip.bias") < 0);
    CHECK(ps_param_count(&e.ps) == 15);
    layer_destroy(l);
    lc_env_free(&e);
}

/* Adjoints accumulate (+=) into dx, dx_t and the parameter gradients, and
 * grad_params = 0 leaves the parameter gradients untouched. */
static void test_accumulates_and_grad_params(void)
{
    enum { NX = 2 * 2 * 5 * 5, NY = 2 * 3 * 3 * 3 };
    lc_env e;
    layer *l;
    real x[NX], x_t[NX], y[NY], y_t[NY], dy[NY], dy_t[NY];
    real dx1[NX], dxt1[NX], dx2[NX], dxt2[NX], g1[256];
    size_t i, np;
    lc_env_init(&e, 2, 1, 5);
    l = conv2d_create(&e.ctx, "c", 2, 5, 5, 3, 3, 2, 1, 1);
    np = ps_param_count(&e.ps);
    CHECK(np <= 256);
    lc_fill(&e.r, x, NX, 1, 0);
    lc_fill(&e.r, x_t, NX, 1, 0);
    lc_fill(&e.r, dy, NY, 1, 0);
    lc_fill(&e.r, dy_t, NY, 1, 0);
    layer_forward(l, x, y, 2);
    layer_tangent(l, x_t, y_t);
    memset(dx1, 0, sizeof dx1);
    memset(dxt1, 0, sizeof dxt1);
    ps_zero_grad(&e.ps);
    layer_tangent_backward(l, dy, dy_t, dx1, dxt1);
    memcpy(g1, e.ps.grad, np * sizeof(real));
    for (i = 0; i < NX; i++) dx2[i] = dxt2[i] = 1;
    layer_tangent_backward(l, dy, dy_t, dx2, dxt2);   /* grads now doubled */
    for (i = 0; i < NX; i++) {
        CHECK_NEAR(dx2[i] - 1, dx1[i], 1e-12);
        CHECK_NEAR(dxt2[i] - 1, dxt1[i], 1e-12);
    }
    for (i = 0; i < np; i++) CHECK_NEAR(e.ps.grad[i], 2 * g1[i], 1e-12);
    e.ctx.grad_params = 0;
    ps_zero_grad(&e.ps);
    memset(dx2, 0, sizeof dx2);
    layer_tangent_backward(l, dy, dy_t, dx2, NULL);
    layer_backward(l, dy, NULL);
    for (i = 0; i < np; i++) CHECK(e.ps.grad[i] == 0);
    for (i = 0; i < NX; i++) CHECK_NEAR(dx2[i], dx1[i], 1e-12);
    layer_destroy(l);
    lc_env_free(&e);
}

int main(int argc, char **argv)
{
    static const test_case cases[] = {
        TEST_CASE(test_fd_k3_pad1),
        TEST_CASE(test_fd_k1_skip),
        TEST_CASE(test_fd_k1_stride2),
        TEST_CASE(test_fd_stride2_odd),
        TEST_CASE(test_fd_no_bias_odd),
        TEST_CASE(test_fd_k2_stride2),
        TEST_CASE(test_values_3x3_on_4x4),
        TEST_CASE(test_values_channel_layout),
        TEST_CASE(test_init_pytorch_defaults),
        TEST_CASE(test_no_bias_registers_weight_only),
        TEST_CASE(test_accumulates_and_grad_params),
    };
    return test_main(argc, argv, cases, TEST_COUNT(cases));
}
