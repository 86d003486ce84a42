/*
 * tests/test_activation.c - nn/activation.c (ReLU, sigmoid): the four
 * functions against finite differences (tests/layercheck.h), ReLU'(0) = 0,
 * sigmoid's values and stability at large |x|, and the split of
 * tangent_backward into its dy and dy_t parts.
 * Set GC_TEST_VERBOSE=1 to print every checker error.
 *
 * Kinks: ReLU's only kink is x = 0. Its checks draw x with |x| >= 0.05
 * (opts.x_min_abs) while the finite-difference step moves x by at most
 * h = 1e-5 per unit of direction, so no difference crosses 0 (the checker
 * would count and report any that did). Sigmoid is smooth; its inputs span
 * U(-4, 4) so that s'' is exercised with both signs.
 */
#include "nn/fuse.h"
#include "nn/layers.h"
#include "tests/layercheck.h"
#include "tests/test.h"

#include <math.h>
#include <string.h>

static int verbose(void) { return getenv("GC_TEST_VERBOSE") != NULL; }

static void run_check(lc_env *e, layer *l, int n, double x_scale, double x_min_abs,
                      const char *what)
{
    lc_opts o;
    double worst;
    lc_default(&o);
    o.n = n;
    o.x_scale = x_scale;
    o.x_min_abs = x_min_abs;
    o.verbose = verbose();
    worst = layercheck(l, &o);
    if (o.verbose) printf("  %s: worst %.2e\n", what, worst);
    layer_destroy(l);
    lc_env_free(e);
}

static void test_fd_relu_train(void)
{
    lc_env e;
    lc_env_init(&e, 2, 1, 21);
    run_check(&e, relu_create(&e.ctx, "features.1", 3, 4, 5), 2, 1.0, 0.05, "relu 3x4x5");
}

static void test_fd_relu_eval_vector(void)
{
    lc_env e;
    lc_env_init(&e, 3, 0, 22);
    run_check(&e, relu_create(&e.ctx, "fc.3", 7, 1, 1), 3, 2.0, 0.05, "relu 7x1x1");
}

static void test_fd_sigmoid(void)
{
    lc_env e;
    lc_env_init(&e, 2, 1, 23);
    run_check(&e, sigmoid_create(&e.ctx, "se.sig", 2, 3, 3), 2, 4.0, 0, "sigmoid 2x3x3");
}

static void test_fd_sigmoid_vector(void)
{
    lc_env e;
    lc_env_init(&e, 4, 0, 24);
    run_check(&e, sigmoid_create(&e.ctx, "se.sig", 16, 1, 1), 4, 4.0, 0, "sigmoid 16x1x1");
}

/* ReLU'(0) = 0 (PyTorch): at x = 0 neither the tangent nor the adjoints pass. */
static void test_relu_values_and_zero(void)
{
    static const real x[4] = {-1, 0, 2, (real)1e-300};
    static const real ones[4] = {1, 1, 1, 1};
    real y[4], y_t[4], dx[4] = {0, 0, 0, 0}, dx_t[4] = {0, 0, 0, 0};
    lc_env e;
    layer *l;
    lc_env_init(&e, 1, 1, 1);
    l = relu_create(&e.ctx, "r", 4, 1, 1);
    layer_forward(l, x, y, 1);
    CHECK(y[0] == 0 && y[1] == 0 && y[2] == 2 && y[3] == x[3]);
    layer_tangent(l, ones, y_t);
    CHECK(y_t[0] == 0 && y_t[1] == 0 && y_t[2] == 1 && y_t[3] == 1);
    layer_tangent_backward(l, ones, ones, dx, dx_t);
    CHECK(dx[0] == 0 && dx[1] == 0 && dx[2] == 1 && dx[3] == 1);
    CHECK(dx_t[0] == 0 && dx_t[1] == 0 && dx_t[2] == 1 && dx_t[3] == 1);
    layer_destroy(l);
    lc_env_free(&e);
}

/* ReLU's backward armed by relu_fuse_zero (nn/fuse.h) writes dx whole, as
 * the unarmed backward adding into a zeroed dx: bit for bit, over 37 values
 * (two chunks of 16 and a tail), with -0 in dy (0 + -0 = +0 at x > 0) and
 * garbage in dx before; then disarmed, it adds again. */
static void test_relu_fuse_zero(void)
{
    enum { C = 37 };
    real x[C], y[C], dy[C], dx[C], ref[C];
    lc_env e;
    layer *l;
    int i, bad = 0;
    lc_env_init(&e, 1, 1, 3);
    l = relu_create(&e.ctx, "r", C, 1, 1);
    lc_fill(&e.r, x, C, 1.0, 0.0);
    lc_fill(&e.r, dy, C, 1.0, 0.0);
    for (i = 0; i < C; i += 3) dy[i] = (real)-0.0;
    layer_forward(l, x, y, 1);
    memset(ref, 0, sizeof ref);
    layer_backward(l, dy, ref);
    for (i = 0; i < C; i++) dx[i] = (real)(100 + i);
    CHECK(relu_fuse_zero(l, 1) == 1);
    layer_backward(l, dy, dx);
    relu_fuse_zero(l, 0);
    for (i = 0; i < C; i++) bad += memcmp(&dx[i], &ref[i], sizeof(real)) != 0;
    CHECK_MSG(bad == 0, "%d of %d values differ from the backward into zeros", bad, C);
    for (i = 0; i < C; i++) bad += x[i] > 0 && dy[i] == 0 && signbit(ref[i]);
    CHECK_MSG(bad == 0, "a -0 survived at x > 0");
    layer_backward(l, dy, dx);   /* disarmed: adds */
    for (i = 0; i < C; i++) bad += dx[i] != ref[i] + (x[i] > 0 ? dy[i] : 0);
    CHECK_MSG(bad == 0, "%d values after the disarmed backward", bad);
    layer_destroy(l);
    lc_env_free(&e);
}

/* s(0) = 1/2, s'(0) = 1/4; s(2) = 1/(1+e^-2), s(-2) = 1 - s(2); no overflow
 * or NaN at |x| = 1000 (s = 1 and 0 exactly, s' = 0). */
static void test_sigmoid_values_and_stability(void)
{
    static const real x[5] = {0, 2, -2, 1000, -1000};
    static const real dy[5] = {1, 1, 1, 1, 1};
    real y[5], dx[5] = {0, 0, 0, 0, 0};
    lc_env e;
    layer *l;
    double s2 = 1.0 / (1.0 + exp(-2.0));
    int i;
    lc_env_init(&e, 1, 1, 1);
    l = sigmoid_create(&e.ctx, "s", 5, 1, 1);
    layer_forward(l, x, y, 1);
    CHECK_NEAR(y[0], 0.5, 1e-16);
    CHECK_NEAR(y[1], s2, 1e-15);
    CHECK_NEAR(y[2], 1 - s2, 1e-15);
    CHECK(y[3] == 1 && y[4] == 0);
    layer_backward(l, dy, dx);
    CHECK_NEAR(dx[0], 0.25, 1e-16);
    CHECK_NEAR(dx[1], s2 * (1 - s2), 1e-15);
    CHECK(dx[3] == 0 && dx[4] == 0);
    for (i = 0; i < 5; i++) CHECK(isfinite(y[i]) && isfinite(dx[i]));
    layer_destroy(l);
    lc_env_free(&e);
}

/* tangent_backward is linear in (dy, dy_t): (dy, NULL) + (NULL, dy_t) equals
 * (dy, dy_t); the pure second-order sweep gives dx = s'' x_t dy_t exactly. */
static void test_sigmoid_second_order_split(void)
{
    enum { N = 6 };
    real x[N], x_t[N], dy[N], dy_t[N], y[N], y_t[N];
    real dx_all[N], dxt_all[N], dx_a[N], dx_b[N], dxt_b[N];
    lc_env e;
    layer *l;
    int i;
    lc_env_init(&e, 1, 1, 31);
    lc_fill(&e.r, x, N, 3, 0);
    lc_fill(&e.r, x_t, N, 1, 0);
    lc_fill(&e.r, dy, N, 1, 0);
    lc_fill(&e.r, dy_t, N, 1, 0);
    memset(dx_all, 0, sizeof dx_all);
    memset(dxt_all, 0, sizeof dxt_all);
    memset(dx_a, 0, sizeof dx_a);
    memset(dx_b, 0, sizeof dx_b);
    memset(dxt_b, 0, sizeof dxt_b);
    l = sigmoid_create(&e.ctx, "s", N, 1, 1);
    layer_forward(l, x, y, 1);
    layer_tangent(l, x_t, y_t);
    layer_tangent_backward(l, dy, dy_t, dx_all, dxt_all);
    layer_tangent_backward(l, dy, NULL, dx_a, NULL);
    layer_tangent_backward(l, NULL, dy_t, dx_b, dxt_b);
    for (i = 0; i < N; i++) {
        double s = 1 / (1 + exp(-(double)x[i])), s1 = s * (1 - s), s2 = s1 * (1 - 2 * s);
        CHECK_NEAR(dx_a[i] + dx_b[i], dx_all[i], 1e-15);
        CHECK_NEAR(dxt_b[i], dxt_all[i], 1e-15);
        CHECK_NEAR(dx_b[i], s2 * x_t[i] * dy_t[i], 1e-14);
        CHECK_NEAR(dxt_b[i], s1 * dy_t[i], 1e-14);
    }
    layer_destroy(l);
    lc_env_free(&e);
}

int main(int argc, char **argv)
{
    static const test_case cases[] = {
        TEST_CASE(test_fd_relu_train),
        TEST_CASE(test_fd_relu_eval_vector),
        TEST_CASE(test_fd_sigmoid),
        TEST_CASE(test_fd_sigmoid_vector),
        TEST_CASE(test_relu_values_and_zero),
        TEST_CASE(test_relu_fuse_zero),
        TEST_CASE(test_sigmoid_values_and_stability),
        TEST_CASE(test_sigmoid_second_order_split),
    };
    return test_main(argc, argv, cases, TEST_COUNT(cases));
}
