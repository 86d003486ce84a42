/*
 * tests/test_residual.c - the residual block (nn/residual.c).
 *
 * - layercheck in train mode (batch statistics in both BatchNorms: real
 *   second-order terms through the block) and eval mode (running statistics
 *   set to non-trivial values), with a projection skip (IC != OC) and with an
 *   identity skip (IC == OC).
 * - registration: names and order equal PyTorch's state_dict of
 *   ResidualBlock(in, out), with and without the skip conv.
 * - wiring: with the last BatchNorm's gamma = 0 the conv branch is the
 *   constant beta, so y = relu(skip(x) + beta), checked in closed form for an
 *   identity skip and for a hand-set 1x1 projection.
 * - a NULL dx (first block of a trunk) gives the same parameter gradients.
 * Set LC_VERBOSE=1 to print every layercheck error.
 */
#include "nn/layers.h"
#include "tests/layercheck.h"
#include "tests/test.h"

#include <string.h>

static int verbose(void) { return getenv("LC_VERBOSE") != NULL; }

static void check_block(int train, int n, int in_c, int out_c, int h, int w, uint64_t seed)
{
    lc_env e;
    lc_opts o;
    layer *l;
    double worst;
    lc_env_init(&e, n, train, seed);
    l = residual_create(&e.ctx, "features.4", in_c, h, w, out_c);
    CHECK(l->has_batchnorm == 1);
    CHECK(l->in_c == in_c && l->out_c == out_c && l->out_h == h && l->out_w == w);
    if (!train) lc_set_running_stats(&e.ps, seed + 3);
    lc_default(&o);
    o.n = n;
    o.seed = seed;
    o.verbose = verbose();
    worst = layercheck(l, &o);
    if (o.verbose) printf("  residual %d->%d %dx%d n=%d %s: worst %.2e\n", in_c, out_c, h, w, n,
                          train ? "train" : "eval", worst);
    layer_destroy(l);
    lc_env_free(&e);
}

static void test_layercheck_train(void)
{
    check_block(1, 2, 2, 3, 3, 3, 51);   /* projection skip */
    check_block(1, 3, 3, 3, 3, 2, 52);   /* identity skip */
}

static void test_layercheck_eval(void)
{
    check_block(0, 2, 2, 3, 3, 3, 61);
    check_block(0, 3, 3, 3, 2, 3, 62);
}

static void check_names(int in_c, int out_c)
{
    static const char *sub[] = {
        "conv.0.weight", "conv.0.bias",
        "conv.1.weight", "conv.1.bias", "conv.1.running_mean", "conv.1.running_var",
        "conv.1.num_batches_tracked",
        "conv.3.weight", "conv.3.bias",
        "conv.4.weight", "conv.4.bias", "conv.4.running_mean", "conv.4.running_var",
        "conv.4.num_batches_tracked",
        "skip.weight", "skip.bias"};
    lc_env e;
    layer *l;
    int i, want = in_c != out_c ? 16 : 14;
    char full[PS_NAME_MAX];
    lc_env_init(&e, 2, 1, 1);
    l = residual_create(&e.ctx, "features.4", in_c, 4, 4, out_c);
    CHECK_MSG(e.ps.count == want, "%d entries, expected %d", e.ps.count, want);
    for (i = 0; i < want && i < e.ps.count; i++) {
        layer_child_name(full, "features.4", sub[i]);
        CHECK_MSG(strcmp(e.ps.entry[i].name, full) == 0, "entry %d is %s, expected %s", i,
                  e.ps.entry[i].name, full);
    }
    /* shapes of the convolutions (OC, IC, K, K) */
    CHECK(e.ps.entry[0].ndim == 4 && e.ps.entry[0].shape[0] == out_c &&
          e.ps.entry[0].shape[1] == in_c && e.ps.entry[0].shape[2] == 3);
    CHECK(e.ps.entry[7].ndim == 4 && e.ps.entry[7].shape[1] == out_c);
    if (want == 16)
        CHECK(e.ps.entry[14].ndim == 4 && e.ps.entry[14].shape[0] == out_c &&
              e.ps.entry[14].shape[1] == in_c && e.ps.entry[14].shape[2] == 1);
    CHECK(strcmp(l->ops->kind, "residual") == 0);
    layer_destroy(l);
    lc_env_free(&e);
}

static void test_state_dict_names(void)
{
    check_names(2, 3);
    check_names(3, 3);
}

/* conv.4's gamma = 0: the conv branch outputs beta, so y = relu(skip(x) + beta). */
static void check_wiring(int in_c, int out_c)
{
    enum { N = 2, H = 2, W = 3, HW = H * W };
    lc_env e;
    layer *l;
    real x[N * 3 * HW], y[N * 3 * HW];
    real *g4, *b4;
    int s, c, ic;
    size_t i;
    char full[PS_NAME_MAX];
    GC_CHECK(in_c <= 3 && out_c <= 3);
    lc_env_init(&e, N, 1, 17);
    l = residual_create(&e.ctx, "r", in_c, H, W, out_c);
    g4 = ps_value(&e.ps, ps_find(&e.ps, "r.conv.4.weight"));
    b4 = ps_value(&e.ps, ps_find(&e.ps, "r.conv.4.bias"));
    for (c = 0; c < out_c; c++) {
        g4[c] = 0;
        b4[c] = (real)(0.1 * (c + 1));
    }
    if (in_c != out_c) {
        /* skip weight (OC, IC, 1, 1): out c reads in (c mod IC) times (c+1); bias -0.2 */
        real *sw, *sb;
        layer_child_name(full, "r", "skip.weight");
        sw = ps_value(&e.ps, ps_find(&e.ps, full));
        layer_child_name(full, "r", "skip.bias");
        sb = ps_value(&e.ps, ps_find(&e.ps, full));
        for (c = 0; c < out_c; c++) {
            for (ic = 0; ic < in_c; ic++) sw[c * in_c + ic] = (real)(ic == c % in_c ? c + 1 : 0);
            sb[c] = (real)-0.2;
        }
    }
    lc_fill(&e.r, x, (size_t)N * in_c * HW, 1.0, 0.0);
    layer_forward(l, x, y, N);
    for (s = 0; s < N; s++)
        for (c = 0; c < out_c; c++)
            for (i = 0; i < HW; i++) {
                double sk;
                if (in_c == out_c) sk = x[((size_t)s * in_c + c) * HW + i];
                else sk = (c + 1) * x[((size_t)s * in_c + c % in_c) * HW + i] - 0.2;
                sk += 0.1 * (c + 1);
                CHECK_NEAR(y[((size_t)s * out_c + c) * HW + i], sk > 0 ? sk : 0, 1e-12);
            }
    layer_destroy(l);
    lc_env_free(&e);
}

static void test_wiring(void)
{
    check_wiring(3, 3);
    check_wiring(2, 3);
}

/* tangent_backward with dx = dx_t = NULL (first block) gives the same
 * parameter gradients as with them. */
static void test_null_dx(void)
{
    enum { N = 2, IC = 2, OC = 3, H = 3, W = 3 };
    lc_env e;
    layer *l;
    lc_env_init(&e, N, 1, 23);
    l = residual_create(&e.ctx, "r", IC, H, W, OC);
    lc_check_null_adjoints(&e, l, N, (size_t)IC * H * W, (size_t)OC * H * W);
    layer_destroy(l);
    lc_env_free(&e);
}

int main(int argc, char **argv)
{
    static const test_case cases[] = {
        TEST_CASE(test_layercheck_train),
        TEST_CASE(test_layercheck_eval),
        TEST_CASE(test_state_dict_names),
        TEST_CASE(test_wiring),
        TEST_CASE(test_null_dx),
    };
    return test_main(argc, argv, cases, TEST_COUNT(cases));
}
