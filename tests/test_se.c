/*
 * tests/test_se.c - the squeeze-excitation block (nn/se.c).
 *
 * - layercheck in train and eval mode (no BatchNorm inside, so both modes
 *   compute the same function; both are run as the layer contract asks):
 *   C = 32 with reduction 16 (2 hidden units, the paper's ratio) and a small
 *   C = 4, reduction 2 case. The product x * w and the sigmoid carry real
 *   second-order terms (docs/second-order.md, sections 2 and 3).
 * - registration: fc.2.weight, fc.2.bias, fc.4.weight, fc.4.bias with
 *   PyTorch's shapes, in that order.
 * - forward against the closed form from the stored weights.
 * - a NULL dx (first block) gives the same parameter gradients.
 * Set LC_VERBOSE=1 to print every layercheck error.
 */
#include "nn/layers.h"
#include "tests/layercheck.h"
#include "tests/test.h"

#include <math.h>
#include <string.h>

static int verbose(void) { return getenv("LC_VERBOSE") != NULL; }

/* Hidden biases of 0.5 keep the ReLU between fc.2 and fc.4 open for these
 * inputs (|gap(x)| is small): with every hidden unit off, w would not depend
 * on x and the path's derivatives would go unchecked. */
static void set_hidden_bias(param_store *ps, const char *name, int hidden)
{
    char full[PS_NAME_MAX];
    real *b;
    int j;
    layer_child_name(full, name, "fc.2.bias");
    b = ps_value(ps, ps_find(ps, full));
    for (j = 0; j < hidden; j++) b[j] = (real)0.5;
}

static void check_se(int train, int n, int c, int h, int w, int red, uint64_t seed)
{
    lc_env e;
    lc_opts o;
    layer *l;
    double worst;
    lc_env_init(&e, n, train, seed);
    l = se_create(&e.ctx, "features.7", c, h, w, red);
    CHECK(l->has_batchnorm == 0);
    CHECK(l->in_c == c && l->out_c == c && l->out_h == h && l->out_w == w);
    set_hidden_bias(&e.ps, "features.7", c / red);
    lc_default(&o);
    o.n = n;
    o.seed = seed;
    o.verbose = verbose();
    worst = layercheck(l, &o);
    if (o.verbose) printf("  se c=%d r=%d %dx%d n=%d %s: worst %.2e\n", c, red, h, w, n,
                          train ? "train" : "eval", worst);
    layer_destroy(l);
    lc_env_free(&e);
}

static void test_layercheck_train(void)
{
    check_se(1, 2, 32, 2, 2, 16, 71);
    check_se(1, 3, 4, 3, 2, 2, 72);
}

static void test_layercheck_eval(void)
{
    check_se(0, 2, 32, 2, 2, 16, 81);
    check_se(0, 3, 4, 3, 2, 2, 82);
}

static void test_state_dict_names(void)
{
    static const char *names[4] = {"features.7.fc.2.weight", "features.7.fc.2.bias",
                                   "features.7.fc.4.weight", "features.7.fc.4.bias"};
    static const int64_t shapes[4][2] = {{4, 64}, {4, 0}, {64, 4}, {64, 0}};
    lc_env e;
    layer *l;
    int i;
    lc_env_init(&e, 2, 1, 1);
    l = se_create(&e.ctx, "features.7", 64, 3, 3, 16);
    CHECK(e.ps.count == 4);
    for (i = 0; i < 4 && i < e.ps.count; i++) {
        const ps_entry *en = &e.ps.entry[i];
        CHECK_MSG(strcmp(en->name, names[i]) == 0, "entry %d is %s, expected %s", i, en->name,
                  names[i]);
        CHECK(en->kind == PS_PARAM);
        CHECK(en->shape[0] == shapes[i][0]);
        if (shapes[i][1]) CHECK(en->ndim == 2 && en->shape[1] == shapes[i][1]);
        else CHECK(en->ndim == 1);
    }
    CHECK(strcmp(l->ops->kind, "se") == 0);
    layer_destroy(l);
    lc_env_free(&e);
}

/* y = x * sigmoid(W2 relu(W1 gap(x) + b1) + b2), computed here from the weights. */
static void test_forward_closed_form(void)
{
    enum { N = 3, C = 8, R = 4, HID = C / R, H = 2, W = 3, HW = H * W };
    lc_env e;
    layer *l;
    real x[N * C * HW], y[N * C * HW];
    const real *w1, *b1, *w2, *b2;
    int s, c, j;
    size_t i;
    lc_env_init(&e, N, 1, 29);
    l = se_create(&e.ctx, "se", C, H, W, R);
    w1 = ps_value(&e.ps, ps_find(&e.ps, "se.fc.2.weight"));
    b1 = ps_value(&e.ps, ps_find(&e.ps, "se.fc.2.bias"));
    w2 = ps_value(&e.ps, ps_find(&e.ps, "se.fc.4.weight"));
    b2 = ps_value(&e.ps, ps_find(&e.ps, "se.fc.4.bias"));
    lc_fill(&e.r, x, sizeof x / sizeof x[0], 2.0, 0.0);
    layer_forward(l, x, y, N);
    for (s = 0; s < N; s++) {
        double g[C], hid[HID];
        for (c = 0; c < C; c++) {
            g[c] = 0;
            for (i = 0; i < HW; i++) g[c] += x[((size_t)s * C + c) * HW + i];
            g[c] /= HW;
        }
        for (j = 0; j < HID; j++) {
            double v = b1[j];
            for (c = 0; c < C; c++) v += w1[j * C + c] * g[c];
            hid[j] = v > 0 ? v : 0;
        }
        for (c = 0; c < C; c++) {
            double v = b2[c], wc;
            for (j = 0; j < HID; j++) v += w2[c * HID + j] * hid[j];
            wc = 1 / (1 + exp(-v));
            for (i = 0; i < HW; i++) {
                size_t k = ((size_t)s * C + c) * HW + i;
                CHECK_NEAR(y[k], x[k] * wc, 1e-12);
            }
        }
    }
    layer_destroy(l);
    lc_env_free(&e);
}

static void test_null_dx(void)
{
    enum { N = 2, C = 4, H = 2, W = 2 };
    lc_env e;
    layer *l;
    lc_env_init(&e, N, 1, 31);
    l = se_create(&e.ctx, "se", C, H, W, 2);
    lc_check_null_adjoints(&e, l, N, (size_t)C * H * W, (size_t)C * H * W);
    layer_destroy(l);
    lc_env_free(&e);
}

int main(int argc, char **argv)
{
    static const test_case cases[] = {
        TEST_CASE(test_layercheck_train),
        TEST_CASE(test_layercheck_eval),
        TEST_CASE(test_state_dict_names),
        TEST_CASE(test_forward_closed_form),
        TEST_CASE(test_null_dx),
    };
    return test_main(argc, argv, cases, TEST_COUNT(cases));
}
