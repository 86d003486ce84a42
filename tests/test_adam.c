/*
 * tests/test_adam.c - nn/adam against the textbook formulas (three steps,
 * computed here in a different order), against values PyTorch 1.13 printed
 * for the same steps (torch.optim.Adam, float64, foreach=False), weight
 * decay in PyTorch's L2 form, state export/import and parameter checks.
 */
#include "nn/adam.h"
#include "tests/test.h"

#include <string.h>

#define NP 3
#define NSTEPS 3

static const double p0[NP] = {1.0, -0.5, 2.0};
static const double grads[NSTEPS][NP] = {{0.5, -0.25, 1.0}, {-0.25, 0.125, 3.0}, {1.0, 0.0, -2.0}};

/* torch: p = tensor([1, -0.5, 2], float64); Adam(lr=0.1, betas=(0.9, 0.999),
 * eps=1e-8, weight_decay=wd, foreach=False); p after each step. */
static const double torch_wd0[NSTEPS][NP] = {
    {0.900000002, -0.4000000039999998, 1.900000001},
    {0.8733662987078463, -0.3733663013817326, 1.8082218895123323},
    {0.8075551396770898, -0.35277837229950354, 1.782431509122174}};
static const double torch_wd001[NSTEPS][NP] = {
    {0.9000000019607843, -0.4000000039215685, 1.9000000009803921},
    {0.8712293476231743, -0.3713830556100628, 1.8080597670137166},
    {0.8046143342173858, -0.34842275639807413, 1.7814701776645878}};

/* Textbook Adam (Kingma & Ba, with PyTorch's eps placement and L2 decay). */
static void textbook(double wd, double out[NSTEPS][NP])
{
    double p[NP], m[NP] = {0, 0, 0}, v[NP] = {0, 0, 0};
    int t, i;
    memcpy(p, p0, sizeof p);
    for (t = 1; t <= NSTEPS; t++)
        for (i = 0; i < NP; i++) {
            double g = grads[t - 1][i] + wd * p[i];
            double mhat, vhat;
            m[i] = 0.9 * m[i] + 0.1 * g;
            v[i] = 0.999 * v[i] + 0.001 * g * g;
            mhat = m[i] / (1 - pow(0.9, t));
            vhat = v[i] / (1 - pow(0.999, t));
            p[i] -= 0.1 * mhat / (sqrt(vhat) + 1e-8);
            out[t - 1][i] = p[i];
        }
}

static void run(double wd, double out[NSTEPS][NP], adam *a)
{
    real p[NP], g[NP];
    gc_error e;
    int t, i;
    for (i = 0; i < NP; i++) p[i] = (real)p0[i];
    CHECK(adam_init(a, NP, 0.1, 0.9, 0.999, 1e-8, wd, &e) == GC_OK);
    for (t = 0; t < NSTEPS; t++) {
        for (i = 0; i < NP; i++) g[i] = (real)grads[t][i];
        adam_step(a, p, g);
        for (i = 0; i < NP; i++) out[t][i] = (double)p[i];
    }
}

static void test_three_steps(void)
{
    double got[NSTEPS][NP], ref[NSTEPS][NP];
    adam a;
    int t, i;
    run(0.0, got, &a);
    textbook(0.0, ref);
    CHECK(a.step == 3);
    /* step 1 by hand: m = 0.05, v = 0.00025, step 0.1/0.1 = 1,
     * denom = sqrt(0.00025)/sqrt(0.001) + 1e-8 = 0.5 + 1e-8 */
    CHECK_NEAR(got[0][0], 1.0 - 0.05 / (0.5 + 1e-8), 1e-15);
    CHECK_NEAR(a.m[0], 0.9 * (0.9 * 0.05 + 0.1 * -0.25) + 0.1 * 1.0, 1e-15);
    for (t = 0; t < NSTEPS; t++)
        for (i = 0; i < NP; i++) {
            CHECK_NEAR(got[t][i], ref[t][i], 1e-14);
            CHECK_MSG(got[t][i] == torch_wd0[t][i], "step %d p[%d] = %.17g, torch %.17g", t + 1,
                      i, got[t][i], torch_wd0[t][i]);
        }
    adam_free(&a);
}

static void test_weight_decay(void)
{
    double got[NSTEPS][NP], ref[NSTEPS][NP];
    adam a;
    int t, i;
    run(0.01, got, &a);
    textbook(0.01, ref);
    for (t = 0; t < NSTEPS; t++)
        for (i = 0; i < NP; i++) {
            CHECK_NEAR(got[t][i], ref[t][i], 1e-14);
            CHECK_MSG(got[t][i] == torch_wd001[t][i], "step %d p[%d] = %.17g, torch %.17g",
                      t + 1, i, got[t][i], torch_wd001[t][i]);
        }
    CHECK(got[0][0] != torch_wd0[0][0]);   /* decay changed something */
    adam_free(&a);
}

/* Where a fused multiply-add and a plain a*b+c round differently, PyTorch's
 * CPU kernels follow the fused form (nn/adam.h). torch 1.13 (float64,
 * foreach=False, lr 1e-3, weight_decay 0.01), p_i = sin(i),
 * g_i(t) = cos(0.37 i + t) 10^((i mod 7) - 4), after 5 steps: p[0], and
 * p[399], p[91], p[308], which an unfused first moment, an unfused weight
 * decay and an unfused second moment respectively get off by an ulp or two. */
static void test_torch_rounding(void)
{
    enum { N = 400, T = 5 };
    static const size_t idx[5] = {0, 44, 91, 308, 399};
    static const double torch_p[5] = {0x1.5f3959bdf2238p-11, 0x1.cb11535ca2348p-7,
                                      0x1.9d9614d7248c9p-4, 0x1.e5cd4f8ef6e0ep-4,
                                      -0x1.b0f748da8c037p-7};
    real p[N], g[N];
    adam a;
    gc_error e;
    size_t i;
    int t;
    for (i = 0; i < N; i++) p[i] = (real)sin((double)i);
    CHECK(adam_init(&a, N, 1e-3, 0.9, 0.999, 1e-8, 0.01, &e) == GC_OK);
    for (t = 1; t <= T; t++) {
        for (i = 0; i < N; i++)
            g[i] = (real)(cos(0.37 * (double)i + t) * pow(10.0, (double)(i % 7) - 4));
        adam_step(&a, p, g);
    }
    for (i = 0; i < 5; i++)
        CHECK_MSG((double)p[idx[i]] == torch_p[i], "p[%zu] = %a, torch %a", idx[i],
                  (double)p[idx[i]], torch_p[i]);
    adam_free(&a);
}

static void test_state_export_import(void)
{
    adam a, b;
    double s[ADAM_STATE_LEN], bad[ADAM_STATE_LEN];
    real pa[NP] = {1, 2, 3}, pb[NP], g[NP] = {0.3, -0.1, 0.2};
    gc_error e;
    int k;
    CHECK(adam_init(&a, NP, 1e-3, 0.8, 0.99, 1e-6, 0.0, &e) == GC_OK);
    CHECK(adam_init(&b, NP, 1.0, 0.1, 0.1, 1.0, 0.5, &e) == GC_OK);
    adam_step(&a, pa, g);
    adam_step(&a, pa, g);
    adam_state_export(&a, s);
    CHECK(s[0] == 1e-3 && s[1] == 0.8 && s[2] == 0.99 && s[3] == 1e-6 && s[4] == 0 && s[5] == 2);
    CHECK(adam_state_import(&b, s, &e) == GC_OK);
    memcpy(b.m, a.m, sizeof pa);
    memcpy(b.v, a.v, sizeof pa);
    memcpy(pb, pa, sizeof pa);
    for (k = 0; k < 3; k++) {
        adam_step(&a, pa, g);
        adam_step(&b, pb, g);
    }
    CHECK(memcmp(pa, pb, sizeof pa) == 0 && b.step == 5);

    memcpy(bad, s, sizeof s);
    bad[5] = -1;
    CHECK(adam_state_import(&b, bad, &e) == GC_FAIL && strstr(e.msg, "step"));
    bad[5] = 2.5;
    CHECK(adam_state_import(&b, bad, &e) == GC_FAIL);
    memcpy(bad, s, sizeof s);
    bad[1] = 1.0;
    CHECK(adam_state_import(&b, bad, &e) == GC_FAIL && strstr(e.msg, "beta1"));
    CHECK(b.beta1 == 0.8 && b.step == 5);   /* unchanged by the failed imports */
    adam_free(&a);
    adam_free(&b);
}

static void test_invalid_and_lr_zero(void)
{
    adam a;
    gc_error e;
    real p[NP] = {1, 2, 3}, g[NP] = {1, 1, 1};
    CHECK(adam_init(&a, 3, -1e-3, 0.9, 0.999, 1e-8, 0, &e) == GC_FAIL && strstr(e.msg, "learning"));
    CHECK(adam_init(&a, 3, 1e-3, 0.9, 1.0, 1e-8, 0, &e) == GC_FAIL && strstr(e.msg, "beta2"));
    CHECK(adam_init(&a, 3, 1e-3, 0.9, 0.999, -1, 0, &e) == GC_FAIL);
    CHECK(adam_init(&a, 3, 1e-3, 0.9, 0.999, 1e-8, -0.1, &e) == GC_FAIL);
    CHECK(adam_init(&a, 3, 1e-3, 0.9, 0.999, NAN, 0, &e) == GC_FAIL);
    CHECK(adam_init(&a, 3, 0.0, 0.9, 0.999, 1e-8, 0, &e) == GC_OK);
    adam_step(&a, p, g);
    CHECK(p[0] == 1 && p[1] == 2 && p[2] == 3);
    CHECK_NEAR(a.m[0], 0.1, 1e-15);
    CHECK_NEAR(a.v[0], 0.001, 1e-15);
    adam_free(&a);
}

int main(int argc, char **argv)
{
    static const test_case cases[] = {
        TEST_CASE(test_three_steps),
        TEST_CASE(test_weight_decay),
        TEST_CASE(test_torch_rounding),
        TEST_CASE(test_state_export_import),
        TEST_CASE(test_invalid_and_lr_zero),
    };
    return test_main(argc, argv, cases, TEST_COUNT(cases));
}
