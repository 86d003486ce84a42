/*
 * tests/test_layercheck.c - the checker itself must be able to fail.
 * A toy layer y = w[c] * x^2 (per-channel w) has a real second-order term;
 * the checker must pass the correct implementation and fail versions with
 * a wrong backward, a wrong tangent and a missing second-order term.
 */
#include "nn/layer.h"
#include "tests/layercheck.h"
#include "tests/test.h"

#include <string.h>

typedef struct toy {
    layer base;
    int w_idx;
    int bug;   /* 0 none, 1 backward, 2 tangent, 3 second-order term */
} toy;

static void toy_forward(layer *l, const real *x, real *y, int n)
{
    toy *t = (toy *)l;
    const real *w = ps_value(l->ctx->ps, t->w_idx);
    size_t hw = (size_t)l->in_h * l->in_w, i;
    int b, c;
    for (b = 0; b < n; b++)
        for (c = 0; c < l->in_c; c++)
            for (i = 0; i < hw; i++) {
                size_t k = ((size_t)b * l->in_c + c) * hw + i;
                y[k] = w[c] * x[k] * x[k];
            }
}

static void toy_tangent_backward(layer *l, const real *dy, const real *dy_t, real *dx,
                                 real *dx_t)
{
    toy *t = (toy *)l;
    const real *w = ps_value(l->ctx->ps, t->w_idx);
    real *dw = ps_grad(l->ctx->ps, t->w_idx);
    const real *x = l->x, *x_t = l->x_t;
    size_t hw = (size_t)l->in_h * l->in_w, i;
    int b, c;
    real two = t->bug == 1 ? (real)2.5 : (real)2;
    for (b = 0; b < l->n; b++)
        for (c = 0; c < l->in_c; c++)
            for (i = 0; i < hw; i++) {
                size_t k = ((size_t)b * l->in_c + c) * hw + i;
                if (dy) {
                    if (dx) dx[k] += dy[k] * two * w[c] * x[k];
                    if (l->ctx->grad_params) dw[c] += dy[k] * x[k] * x[k];
                }
                if (dy_t) {
                    if (dx_t) dx_t[k] += dy_t[k] * 2 * w[c] * x[k];
                    if (t->bug != 3) {
                        if (dx) dx[k] += dy_t[k] * 2 * w[c] * x_t[k];
                        if (l->ctx->grad_params) dw[c] += dy_t[k] * 2 * x[k] * x_t[k];
                    }
                }
            }
}

static void toy_backward(layer *l, const real *dy, real *dx)
{
    toy_tangent_backward(l, dy, NULL, dx, NULL);
}

static void toy_tangent(layer *l, const real *x_t, real *y_t)
{
    toy *t = (toy *)l;
    const real *w = ps_value(l->ctx->ps, t->w_idx);
    size_t hw = (size_t)l->in_h * l->in_w, i;
    int b, c;
    for (b = 0; b < l->n; b++)
        for (c = 0; c < l->in_c; c++)
            for (i = 0; i < hw; i++) {
                size_t k = ((size_t)b * l->in_c + c) * hw + i;
                y_t[k] = (t->bug == 2 ? 3 : 2) * w[c] * l->x[k] * x_t[k];
            }
}

static void toy_destroy(layer *l) { free(l); }

static const layer_ops toy_ops = {"toy", toy_forward, toy_backward, toy_tangent,
                                  toy_tangent_backward, toy_destroy};

static layer *toy_create(nn_ctx *ctx, int bug)
{
    toy *t = (toy *)gc_calloc(1, sizeof *t);
    int64_t shape[1] = {3};
    layer_init(&t->base, &toy_ops, ctx, "toy", 3, 2, 2, 3, 2, 2);
    t->w_idx = ps_add(ctx->ps, "toy.weight", PS_PARAM, 1, shape);
    t->bug = bug;
    return &t->base;
}

/* Run the checker on a toy layer and return how many checks it failed. */
static int failures_for(int bug)
{
    lc_env e;
    lc_opts o;
    layer *l;
    int before = test_case_failures, found;
    if (bug) printf("    (a deliberately broken layer: the failures printed below are expected)\n");
    lc_env_init(&e, 2, 1, 1);
    l = toy_create(&e.ctx, bug);
    lc_default(&o);
    layercheck(l, &o);
    found = test_case_failures - before;
    test_case_failures = before;
    layer_destroy(l);
    lc_env_free(&e);
    return found;
}

static void test_correct_layer_passes(void) { CHECK(failures_for(0) == 0); }
static void test_wrong_backward_fails(void) { CHECK(failures_for(1) > 0); }
static void test_wrong_tangent_fails(void) { CHECK(failures_for(2) > 0); }
static void test_missing_second_order_fails(void) { CHECK(failures_for(3) > 0); }

int main(int argc, char **argv)
{
    static const test_case cases[] = {
        TEST_CASE(test_correct_layer_passes),
        TEST_CASE(test_wrong_backward_fails),
        TEST_CASE(test_wrong_tangent_fails),
        TEST_CASE(test_missing_second_order_fails),
    };
    return test_main(argc, argv, cases, TEST_COUNT(cases));
}
