/*
 * tests/test_dropout.c - nn/dropout.c: the four functions against finite
 * differences (tests/layercheck.h) with p = 0.5 in train mode (the checker
 * restores the RNG state before every forward, so every evaluation draws
 * the same mask), p = 0 and eval mode; the scaling 1/(1-p) and the fraction
 * of zeros; the mask's dependence on the RNG state only; that eval mode and
 * p = 0 draw nothing; that the derivative passes reuse the forward's mask.
 * Set GC_TEST_VERBOSE=1 to print every checker error.
 *
 * Kinks: with the mask fixed dropout is linear in x; there are none.
 */
#include "nn/layers.h"
#include "tests/layercheck.h"
#include "tests/test.h"

#include <math.h>
#include <string.h>

static int verbose(void) { return getenv("GC_TEST_VERBOSE") != NULL; }

static void check_dropout(double p, int train, const char *what)
{
    lc_env e;
    lc_opts o;
    layer *l;
    double worst;
    lc_env_init(&e, 3, train, 41);
    l = dropout_create(&e.ctx, "classifier.1", 4, 3, 3, p);
    lc_default(&o);
    o.n = 3;
    o.verbose = verbose();
    worst = layercheck(l, &o);
    if (o.verbose) printf("  %s: worst %.2e\n", what, worst);
    layer_destroy(l);
    lc_env_free(&e);
}

static void test_fd_train_p05(void) { check_dropout(0.5, 1, "dropout p=0.5 train"); }
static void test_fd_train_p0(void) { check_dropout(0.0, 1, "dropout p=0 train"); }
static void test_fd_eval_p05(void) { check_dropout(0.5, 0, "dropout p=0.5 eval"); }

enum { BIG = 20000 };

/* Kept entries are x / (1-p) exactly, dropped ones 0; about p of them are
 * dropped (binomial sd sqrt(p(1-p)/BIG) < 0.004; tolerance 0.02). */
static void check_scaling(double p)
{
    static real x[BIG], y[BIG];
    lc_env e;
    layer *l;
    size_t i, zeros = 0, bad = 0;
    real scale = (real)(1.0 / (1.0 - p));
    lc_env_init(&e, 2, 1, 77);
    l = dropout_create(&e.ctx, "d", BIG / 2, 1, 1, p);
    for (i = 0; i < BIG; i++) x[i] = (real)(1 + (i % 7));   /* never 0 */
    layer_forward(l, x, y, 2);
    for (i = 0; i < BIG; i++) {
        if (y[i] == 0) zeros++;
        else if (y[i] != x[i] * scale) bad++;
    }
    CHECK(bad == 0);
    CHECK_MSG(fabs((double)zeros / BIG - p) < 0.02, "p = %g: %zu of %d zeroed", p, zeros, BIG);
    layer_destroy(l);
    lc_env_free(&e);
}

static void test_scaling_p05(void) { check_scaling(0.5); }
static void test_scaling_p02(void) { check_scaling(0.2); }
static void test_scaling_p06(void) { check_scaling(0.6); }

/* Same RNG state -> same mask; the layer draws exactly one uniform per
 * element (the RNG ends where count draws would leave it). */
static void test_mask_from_rng_state(void)
{
    enum { N = 2, C = 50 };
    real x[N * C], y1[N * C], y2[N * C];
    lc_env e;
    layer *l;
    rng saved, ref;
    int i, differs = 0;
    lc_env_init(&e, N, 1, 5);
    l = dropout_create(&e.ctx, "d", C, 1, 1, 0.5);
    for (i = 0; i < N * C; i++) x[i] = 1;
    saved = e.r;
    layer_forward(l, x, y1, N);
    ref = saved;
    for (i = 0; i < N * C; i++) {
        double u = rng_uniform(&ref);
        CHECK(y1[i] == (u >= 0.5 ? 2 : 0));
    }
    CHECK(memcmp(&ref, &e.r, sizeof ref) == 0);
    layer_forward(l, x, y2, N);        /* RNG moved on: another mask */
    for (i = 0; i < N * C; i++) differs |= y1[i] != y2[i];
    CHECK(differs);
    e.r = saved;
    layer_forward(l, x, y2, N);        /* restored: the same mask */
    CHECK(memcmp(y1, y2, sizeof y1) == 0);
    layer_destroy(l);
    lc_env_free(&e);
}

/* Eval mode and p == 0: identity, and the RNG is not touched. */
static void test_identity_without_draws(void)
{
    enum { C = 30 };
    real x[C], y[C];
    lc_env e;
    layer *l;
    rng before;
    int i, pass;
    for (i = 0; i < C; i++) x[i] = (real)(i - 10);
    for (pass = 0; pass < 2; pass++) {
        lc_env_init(&e, 1, pass == 0 ? 0 : 1, 9);
        l = dropout_create(&e.ctx, "d", C, 1, 1, pass == 0 ? 0.5 : 0.0);
        before = e.r;
        layer_forward(l, x, y, 1);
        CHECK(memcmp(x, y, sizeof x) == 0);
        CHECK(memcmp(&before, &e.r, sizeof before) == 0);
        layer_destroy(l);
        lc_env_free(&e);
    }
}

/* backward, tangent and tangent_backward use the mask of the last forward,
 * even if ctx->train is switched off in between; dropout_set_p takes effect
 * at the next forward. */
static void test_passes_reuse_mask_and_set_p(void)
{
    enum { C = 40 };
    real x[C], y[C], ones[C], y_t[C], dx[C], dx_t[C];
    lc_env e;
    layer *l;
    int i, zeros = 0;
    for (i = 0; i < C; i++) x[i] = ones[i] = 1;
    lc_env_init(&e, 1, 1, 13);
    l = dropout_create(&e.ctx, "d", C, 1, 1, 0.75);
    layer_forward(l, x, y, 1);
    e.ctx.train = 0;
    layer_tangent(l, ones, y_t);
    memset(dx, 0, sizeof dx);
    memset(dx_t, 0, sizeof dx_t);
    layer_tangent_backward(l, ones, ones, dx, dx_t);
    for (i = 0; i < C; i++) {
        CHECK(y[i] == 0 || y[i] == 4);
        CHECK(y_t[i] == y[i] && dx[i] == y[i] && dx_t[i] == y[i]);
        zeros += y[i] == 0;
    }
    CHECK(zeros > 0 && zeros < C);
    e.ctx.train = 1;
    dropout_set_p(l, 0.0);
    layer_forward(l, x, y, 1);
    for (i = 0; i < C; i++) CHECK(y[i] == 1);
    layer_destroy(l);
    lc_env_free(&e);
}

int main(int argc, char **argv)
{
    static const test_case cases[] = {
        TEST_CASE(test_fd_train_p05),
        TEST_CASE(test_fd_train_p0),
        TEST_CASE(test_fd_eval_p05),
        TEST_CASE(test_scaling_p05),
        TEST_CASE(test_scaling_p02),
        TEST_CASE(test_scaling_p06),
        TEST_CASE(test_mask_from_rng_state),
        TEST_CASE(test_identity_without_draws),
        TEST_CASE(test_passes_reuse_mask_and_set_p),
    };
    return test_main(argc, argv, cases, TEST_COUNT(cases));
}
