/*
 * tests/test_batchnorm.c - BatchNorm2d (nn/batchnorm.c).
 *
 * - layercheck in train mode (batch statistics: the second-order terms of
 *   docs/second-order.md section 1) for N = 2..4 and small C, H, W, including
 *   H = W = 1 where only the batch couples; and in eval mode with non-trivial
 *   running statistics.
 * - forward output, running_mean / running_var (unbiased) and
 *   num_batches_tracked after several steps against the closed form;
 *   eval forward, tangent and the backward passes leave the buffers alone.
 * - registration: names, order, shapes, disk_int64 and PyTorch's initial values.
 * - the pure second-order sweep tangent_backward(NULL, dy_t) gives a non-zero
 *   dx in train mode and exactly zero dx in eval mode.
 * - shift invariance: in train mode every x-gradient (backward, second-order)
 *   and the tangent sum to zero over each channel.
 * Set LC_VERBOSE=1 to print every layercheck error.
 */
#include "nn/layers.h"
#include "tests/layercheck.h"
#include "tests/test.h"

#include <math.h>
#include <string.h>

#define EPS 1e-5
#define MOMENTUM 0.1

static int verbose(void) { return getenv("LC_VERBOSE") != NULL; }

/* Give running statistics non-trivial values (eval-mode checks need them). */
static void set_running_stats(param_store *ps, const char *name, int c, uint64_t seed)
{
    char full[PS_NAME_MAX];
    real *rm, *rv;
    rng r;
    int i;
    rng_seed(&r, seed);
    layer_child_name(full, name, "running_mean");
    rm = ps_value(ps, ps_find(ps, full));
    layer_child_name(full, name, "running_var");
    rv = ps_value(ps, ps_find(ps, full));
    for (i = 0; i < c; i++) {
        rm[i] = (real)rng_uniform_range(&r, -0.5, 0.5);
        rv[i] = (real)rng_uniform_range(&r, 0.3, 2.0);
    }
}

static double check_bn(int n, int c, int h, int w, int train, uint64_t seed)
{
    lc_env e;
    lc_opts o;
    layer *l;
    double worst;
    lc_env_init(&e, n, train, seed);
    l = batchnorm2d_create(&e.ctx, "bn", c, h, w);
    if (!train) set_running_stats(&e.ps, "bn", c, seed + 1);
    lc_default(&o);
    o.n = n;
    o.seed = seed;
    o.verbose = verbose();
    worst = layercheck(l, &o);
    if (o.verbose) printf("  batchnorm n=%d c=%d h=%d w=%d %s: worst %.2e\n", n, c, h, w,
                          train ? "train" : "eval", worst);
    layer_destroy(l);
    lc_env_free(&e);
    return worst;
}

static void test_layercheck_train(void)
{
    check_bn(2, 3, 2, 3, 1, 11);
    check_bn(3, 2, 3, 2, 1, 12);
    check_bn(4, 2, 2, 2, 1, 13);
    check_bn(3, 4, 1, 1, 1, 14);   /* M = N: only the batch couples */
}

static void test_layercheck_eval(void)
{
    check_bn(2, 3, 2, 3, 0, 21);
    check_bn(4, 2, 3, 2, 0, 22);
    check_bn(3, 4, 1, 1, 0, 23);
}

static void test_registration(void)
{
    static const char *names[5] = {"f.1.weight", "f.1.bias", "f.1.running_mean",
                                   "f.1.running_var", "f.1.num_batches_tracked"};
    lc_env e;
    layer *l;
    int i, k;
    lc_env_init(&e, 2, 1, 1);
    l = batchnorm2d_create(&e.ctx, "f.1", 5, 2, 2);
    CHECK(e.ps.count == 5);
    for (i = 0; i < 5 && i < e.ps.count; i++) {
        const ps_entry *en = &e.ps.entry[i];
        CHECK_MSG(strcmp(en->name, names[i]) == 0, "entry %d is %s, expected %s", i, en->name,
                  names[i]);
        CHECK(en->kind == (i < 2 ? PS_PARAM : PS_BUFFER));
        CHECK(en->disk_int64 == (i == 4));
        if (i < 4) CHECK(en->ndim == 1 && en->shape[0] == 5 && en->numel == 5);
        else CHECK(en->ndim == 0 && en->numel == 1);
    }
    for (k = 0; k < 5; k++) {
        CHECK(ps_value(&e.ps, 0)[k] == 1);
        CHECK(ps_value(&e.ps, 1)[k] == 0);
        CHECK(ps_value(&e.ps, 2)[k] == 0);
        CHECK(ps_value(&e.ps, 3)[k] == 1);
    }
    CHECK(ps_value(&e.ps, 4)[0] == 0);
    CHECK(l->has_batchnorm == 1);
    CHECK(layer_batch_coupled(l));
    CHECK(l->out_c == 5 && l->out_h == 2 && l->out_w == 2);
    CHECK(strcmp(l->ops->kind, "batchnorm2d") == 0);
    layer_destroy(l);
    lc_env_free(&e);
}

/* Closed-form forward and running statistics over several train steps. */
static void test_running_stats(void)
{
    enum { N = 3, C = 2, H = 2, W = 3, STEPS = 4 };
    const size_t hw = H * W, total = (size_t)N * C * H * W, m = (size_t)N * H * W;
    lc_env e;
    layer *l;
    real x[N * C * H * W], y[N * C * H * W], y_t[N * C * H * W], dx[N * C * H * W];
    double rm[C] = {0, 0}, rv[C] = {1, 1};
    real *gamma, *beta, *prm, *prv, *nbt;
    int step, c, s;
    size_t i;
    lc_env_init(&e, N, 1, 5);
    l = batchnorm2d_create(&e.ctx, "bn", C, H, W);
    gamma = ps_value(&e.ps, 0);
    beta = ps_value(&e.ps, 1);
    prm = ps_value(&e.ps, 2);
    prv = ps_value(&e.ps, 3);
    nbt = ps_value(&e.ps, 4);
    gamma[0] = 1.5; gamma[1] = -0.7;
    beta[0] = 0.25; beta[1] = -2;
    for (step = 0; step < STEPS; step++) {
        lc_fill(&e.r, x, total, 1.0 + step, 0.0);
        for (i = 0; i < total; i++) x[i] += (real)(0.3 * step);   /* moving mean */
        layer_forward(l, x, y, N);
        for (c = 0; c < C; c++) {
            double mu = 0, var = 0;
            for (s = 0; s < N; s++)
                for (i = 0; i < hw; i++) mu += x[((size_t)s * C + c) * hw + i];
            mu /= (double)m;
            for (s = 0; s < N; s++)
                for (i = 0; i < hw; i++) {
                    double d = x[((size_t)s * C + c) * hw + i] - mu;
                    var += d * d;
                }
            var /= (double)m;
            for (s = 0; s < N; s++)
                for (i = 0; i < hw; i++) {
                    size_t k = ((size_t)s * C + c) * hw + i;
                    double want = gamma[c] * (x[k] - mu) / sqrt(var + EPS) + beta[c];
                    CHECK_NEAR(y[k], want, 1e-12);
                }
            rm[c] = (1 - MOMENTUM) * rm[c] + MOMENTUM * mu;
            rv[c] = (1 - MOMENTUM) * rv[c] + MOMENTUM * var * (double)m / (double)(m - 1);
            CHECK_NEAR(prm[c], rm[c], 1e-12);
            CHECK_NEAR(prv[c], rv[c], 1e-12);
        }
        CHECK(nbt[0] == step + 1);
    }
    /* the other passes do not touch the buffers */
    lc_fill(&e.r, dx, total, 1.0, 0.0);
    layer_tangent(l, dx, y_t);
    layer_backward(l, y, dx);
    layer_tangent_backward(l, y, y_t, dx, x);
    CHECK(nbt[0] == STEPS);
    for (c = 0; c < C; c++) {
        CHECK_NEAR(prm[c], rm[c], 1e-12);
        CHECK_NEAR(prv[c], rv[c], 1e-12);
    }
    /* eval forward uses the running statistics and leaves them alone */
    e.ctx.train = 0;
    lc_fill(&e.r, x, total, 1.0, 0.0);
    layer_forward(l, x, y, N);
    CHECK(!layer_batch_coupled(l));
    for (c = 0; c < C; c++)
        for (s = 0; s < N; s++)
            for (i = 0; i < hw; i++) {
                size_t k = ((size_t)s * C + c) * hw + i;
                double want = gamma[c] * (x[k] - rm[c]) / sqrt(rv[c] + EPS) + beta[c];
                CHECK_NEAR(y[k], want, 1e-12);
            }
    CHECK(nbt[0] == STEPS);
    for (c = 0; c < C; c++) {
        CHECK_NEAR(prm[c], rm[c], 1e-12);
        CHECK_NEAR(prv[c], rv[c], 1e-12);
    }
    layer_destroy(l);
    lc_env_free(&e);
}

/* Largest |dx| of the pure second-order sweep tangent_backward(NULL, dy_t). */
static double second_order_dx(int train)
{
    enum { N = 2, C = 2, H = 2, W = 2, T = N * C * H * W };
    lc_env e;
    layer *l;
    real x[T], x_t[T], y[T], y_t[T], dy_t[T], dx[T];
    double mx = 0;
    int i;
    lc_env_init(&e, N, train, 9);
    l = batchnorm2d_create(&e.ctx, "bn", C, H, W);
    set_running_stats(&e.ps, "bn", C, 3);
    lc_fill(&e.r, x, T, 1.0, 0.0);
    lc_fill(&e.r, x_t, T, 1.0, 0.0);
    lc_fill(&e.r, dy_t, T, 1.0, 0.0);
    memset(dx, 0, sizeof dx);
    layer_forward(l, x, y, N);
    layer_tangent(l, x_t, y_t);
    layer_tangent_backward(l, NULL, dy_t, dx, NULL);
    for (i = 0; i < T; i++)
        if (fabs(dx[i]) > mx) mx = fabs(dx[i]);
    layer_destroy(l);
    lc_env_free(&e);
    return mx;
}

static void test_second_order_term_presence(void)
{
    double tr = second_order_dx(1), ev = second_order_dx(0);
    CHECK_MSG(tr > 1e-3, "train-mode second-order dx is %g, expected non-zero", tr);
    CHECK_MSG(ev == 0, "eval-mode second-order dx is %g, expected exactly 0", ev);
}

/* Train-mode BatchNorm is invariant under a per-channel shift of x, so are
 * F and dy_t . J x_t: every x-gradient it returns must sum to 0 over each
 * channel (an exact identity, independent of finite differences). */
static void test_shift_invariance(void)
{
    enum { N = 3, C = 2, H = 2, W = 2, HW = H * W, T = N * C * HW };
    lc_env e;
    layer *l;
    real x[T], x_t[T], y[T], y_t[T], dy[T], dy_t[T], dx1[T], dx2[T];
    int c, s, i;
    lc_env_init(&e, N, 1, 19);
    l = batchnorm2d_create(&e.ctx, "bn", C, H, W);
    ps_value(&e.ps, 0)[0] = (real)1.7;
    ps_value(&e.ps, 0)[1] = (real)-0.6;
    lc_fill(&e.r, x, T, 2.0, 0.0);
    lc_fill(&e.r, x_t, T, 1.0, 0.0);
    lc_fill(&e.r, dy, T, 1.0, 0.0);
    lc_fill(&e.r, dy_t, T, 1.0, 0.0);
    memset(dx1, 0, sizeof dx1);
    memset(dx2, 0, sizeof dx2);
    layer_forward(l, x, y, N);
    layer_tangent(l, x_t, y_t);
    layer_backward(l, dy, dx1);
    layer_tangent_backward(l, NULL, dy_t, dx2, NULL);
    for (c = 0; c < C; c++) {
        double s1 = 0, s2 = 0, a2 = 0, st = 0;
        for (s = 0; s < N; s++)
            for (i = 0; i < HW; i++) {
                size_t k = ((size_t)s * C + c) * HW + (size_t)i;
                s1 += dx1[k];
                s2 += dx2[k];
                a2 += fabs(dx2[k]);
                st += y_t[k];
            }
        CHECK_MSG(fabs(s1) < 1e-12, "channel %d: sum of backward dx = %g", c, s1);
        CHECK_MSG(fabs(s2) < 1e-12, "channel %d: sum of second-order dx = %g", c, s2);
        CHECK_MSG(fabs(st) < 1e-12, "channel %d: sum of y_t = %g", c, st);
        CHECK(a2 > 1e-3);
    }
    layer_destroy(l);
    lc_env_free(&e);
}

int main(int argc, char **argv)
{
    static const test_case cases[] = {
        TEST_CASE(test_layercheck_train),
        TEST_CASE(test_layercheck_eval),
        TEST_CASE(test_registration),
        TEST_CASE(test_running_stats),
        TEST_CASE(test_second_order_term_presence),
        TEST_CASE(test_shift_invariance),
    };
    return test_main(argc, argv, cases, TEST_COUNT(cases));
}
