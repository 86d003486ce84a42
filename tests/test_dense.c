/*
 * tests/test_dense.c - nn/dense.c: the four functions against finite
 * differences (tests/layercheck.h), hand-computed outputs and gradients,
 * PyTorch's default init, accumulation and grad_params.
 * Set GC_TEST_VERBOSE=1 to print every checker error.
 *
 * Kinks: dense is bilinear in (W, x) and smooth everywhere; no difference
 * can cross a kink.
 */
#include "nn/layers.h"
#include "tests/layercheck.h"
#include "tests/test.h"

#include <math.h>
#include <string.h>

static int verbose(void) { return getenv("GC_TEST_VERBOSE") != NULL; }

static void check_dense(int in, int out, int n, int train)
{
    lc_env e;
    lc_opts o;
    layer *l;
    double worst;
    lc_env_init(&e, 4, train, 11);
    l = dense_create(&e.ctx, "classifier.2", in, out);
    lc_default(&o);
    o.n = n;
    o.verbose = verbose();
    worst = layercheck(l, &o);
    if (o.verbose) printf("  dense %d -> %d, n=%d: worst %.2e\n", in, out, n, worst);
    layer_destroy(l);
    lc_env_free(&e);
}

static void test_fd_7_to_3(void) { check_dense(7, 3, 3, 1); }
static void test_fd_single_sample(void) { check_dense(5, 4, 1, 0); }
static void test_fd_wide(void) { check_dense(64, 10, 4, 1); }

/* W = [[1, 2, 3], [-1, 0, 1]], b = (0.5, -2), x = (1, 2, 3) and (0, -1, 4):
 * y = x W^T + b = (14.5, 0) and (10.5, 2).
 * dy = (1, 0) and (0, 1): dx = dy W = (1, 2, 3) and (-1, 0, 1);
 * dW = dy^T x = [[1, 2, 3], [0, -1, 4]]; db = (1, 1). */
static void test_values(void)
{
    static const real wv[6] = {1, 2, 3, -1, 0, 1};
    static const real bv[2] = {0.5, -2};
    static const real x[6] = {1, 2, 3, 0, -1, 4};
    static const real dy[4] = {1, 0, 0, 1};
    static const real want_y[4] = {14.5, 0, 10.5, 2};
    static const real want_dx[6] = {1, 2, 3, -1, 0, 1};
    static const real want_dw[6] = {1, 2, 3, 0, -1, 4};
    real y[4], dx[6] = {0, 0, 0, 0, 0, 0};
    const real *dw, *db;
    lc_env e;
    layer *l;
    int i;
    lc_env_init(&e, 2, 1, 1);
    l = dense_create(&e.ctx, "fc", 3, 2);
    memcpy(ps_value(&e.ps, ps_find(&e.ps, "fc.weight")), wv, sizeof wv);
    memcpy(ps_value(&e.ps, ps_find(&e.ps, "fc.bias")), bv, sizeof bv);
    layer_forward(l, x, y, 2);
    for (i = 0; i < 4; i++) CHECK_NEAR(y[i], want_y[i], 1e-12);
    ps_zero_grad(&e.ps);
    layer_backward(l, dy, dx);
    dw = ps_grad(&e.ps, ps_find(&e.ps, "fc.weight"));
    db = ps_grad(&e.ps, ps_find(&e.ps, "fc.bias"));
    for (i = 0; i < 6; i++) CHECK_NEAR(dx[i], want_dx[i], 1e-12);
    for (i = 0; i < 6; i++) CHECK_NEAR(dw[i], want_dw[i], 1e-12);
    CHECK_NEAR(db[0], 1, 1e-12);
    CHECK_NEAR(db[1], 1, 1e-12);
    layer_destroy(l);
    lc_env_free(&e);
}

/* The tangent has no bias, and tangent_backward's weight term is dy_t^T x_t:
 * with dy = 0 (NULL), dW = dy_t^T x_t exactly and db is untouched. */
static void test_second_order_weight_term(void)
{
    static const real x[3] = {1, 2, 3}, x_t[3] = {2, 0, -1}, dy_t[2] = {3, -1};
    real y[2], y_t[2], dx_t[3] = {0, 0, 0};
    const real *w, *dw, *db;
    lc_env e;
    layer *l;
    int o, i;
    lc_env_init(&e, 1, 1, 3);
    l = dense_create(&e.ctx, "fc", 3, 2);
    w = ps_value(&e.ps, 0);
    layer_forward(l, x, y, 1);
    layer_tangent(l, x_t, y_t);
    for (o = 0; o < 2; o++)
        CHECK_NEAR(y_t[o], w[o * 3] * 2 - w[o * 3 + 2], 1e-12);
    ps_zero_grad(&e.ps);
    layer_tangent_backward(l, NULL, dy_t, NULL, dx_t);
    dw = ps_grad(&e.ps, 0);
    db = ps_grad(&e.ps, 1);
    for (o = 0; o < 2; o++)
        for (i = 0; i < 3; i++) CHECK_NEAR(dw[o * 3 + i], dy_t[o] * x_t[i], 1e-12);
    CHECK(db[0] == 0 && db[1] == 0);
    for (i = 0; i < 3; i++) CHECK_NEAR(dx_t[i], 3 * w[i] - w[3 + i], 1e-12);
    layer_destroy(l);
    lc_env_free(&e);
}

/* PyTorch Linear init: weight then bias, U(-1/sqrt(IN), 1/sqrt(IN)) from ctx->rng. */
static void test_init_pytorch_defaults(void)
{
    lc_env e;
    layer *l;
    rng r;
    size_t i;
    double bound = 1.0 / sqrt(50.0), maxabs = 0;
    const real *w, *b;
    lc_env_init(&e, 2, 1, 42);
    r = e.r;
    l = dense_create(&e.ctx, "classifier.3", 50, 8);
    CHECK(ps_find(&e.ps, "classifier.3.weight") == 0);
    CHECK(ps_find(&e.ps, "classifier.3.bias") == 1);
    CHECK(e.ps.entry[0].ndim == 2 && e.ps.entry[0].shape[0] == 8 && e.ps.entry[0].shape[1] == 50);
    CHECK(e.ps.entry[1].ndim == 1 && e.ps.entry[1].shape[0] == 8);
    CHECK(l->in_c == 50 && l->in_h == 1 && l->out_c == 8 && l->out_w == 1);
    w = ps_value(&e.ps, 0);
    b = ps_value(&e.ps, 1);
    for (i = 0; i < 400; i++) {
        CHECK_NEAR(w[i], rng_uniform_range(&r, -bound, bound), 0);
        if (fabs(w[i]) > maxabs) maxabs = fabs(w[i]);
    }
    for (i = 0; i < 8; i++) CHECK_NEAR(b[i], rng_uniform_range(&r, -bound, bound), 0);
    CHECK(maxabs <= bound && maxabs > 0.95 * bound);
    layer_destroy(l);
    lc_env_free(&e);
}

/* += semantics and grad_params = 0. */
static void test_accumulates_and_grad_params(void)
{
    enum { IN = 6, OUT = 4, N = 3 };
    lc_env e;
    layer *l;
    real x[N * IN], x_t[N * IN], y[N * OUT], y_t[N * OUT], dy[N * OUT], dy_t[N * OUT];
    real dx1[N * IN], dxt1[N * IN], dx2[N * IN], dxt2[N * IN], g1[OUT * IN + OUT];
    size_t i, np;
    lc_env_init(&e, N, 1, 5);
    l = dense_create(&e.ctx, "fc", IN, OUT);
    np = ps_param_count(&e.ps);
    lc_fill(&e.r, x, N * IN, 1, 0);
    lc_fill(&e.r, x_t, N * IN, 1, 0);
    lc_fill(&e.r, dy, N * OUT, 1, 0);
    lc_fill(&e.r, dy_t, N * OUT, 1, 0);
    layer_forward(l, x, y, N);
    layer_tangent(l, x_t, y_t);
    memset(dx1, 0, sizeof dx1);
    memset(dxt1, 0, sizeof dxt1);
    ps_zero_grad(&e.ps);
    layer_tangent_backward(l, dy, dy_t, dx1, dxt1);
    memcpy(g1, e.ps.grad, np * sizeof(real));
    for (i = 0; i < N * IN; i++) dx2[i] = dxt2[i] = -2;
    layer_tangent_backward(l, dy, dy_t, dx2, dxt2);
    for (i = 0; i < N * IN; i++) {
        CHECK_NEAR(dx2[i] + 2, dx1[i], 1e-12);
        CHECK_NEAR(dxt2[i] + 2, dxt1[i], 1e-12);
    }
    for (i = 0; i < np; i++) CHECK_NEAR(e.ps.grad[i], 2 * g1[i], 1e-12);
    e.ctx.grad_params = 0;
    ps_zero_grad(&e.ps);
    layer_tangent_backward(l, dy, dy_t, NULL, NULL);
    layer_backward(l, dy, NULL);
    for (i = 0; i < np; i++) CHECK(e.ps.grad[i] == 0);
    layer_destroy(l);
    lc_env_free(&e);
}

int main(int argc, char **argv)
{
    static const test_case cases[] = {
        TEST_CASE(test_fd_7_to_3),
        TEST_CASE(test_fd_single_sample),
        TEST_CASE(test_fd_wide),
        TEST_CASE(test_values),
        TEST_CASE(test_second_order_weight_term),
        TEST_CASE(test_init_pytorch_defaults),
        TEST_CASE(test_accumulates_and_grad_params),
    };
    return test_main(argc, argv, cases, TEST_COUNT(cases));
}
