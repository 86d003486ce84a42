/*
 * tests/test_loss.c - nn/loss: cross-entropy value against PyTorch's
 * F.cross_entropy (printed by torch 1.13 for a fixed input) and closed
 * forms, its gradient against central finite differences (double), large
 * logits, the overwrite semantics of dlogits, and torch.argmax's tie / NaN
 * rules for the predictions.
 */
#include "nn/loss.h"
#include "nn/rng.h"
#include "tests/test.h"

#include <string.h>

static void test_against_torch(void)
{
    /* torch: F.cross_entropy(tensor([[1.5,-0.3,2.2],[0.1,0.1,-4.0]], float64), [2, 0]) */
    static const real z[6] = {1.5, -0.3, 2.2, 0.1, 0.1, -4.0};
    static const int y[2] = {2, 0};
    static const double grad[6] = {0.15727961152865544, 0.025998144925609774,
                                   -0.18327775645426525, -0.25205455965013257,
                                   0.24794544034986746, 0.004109119300265111};
    real dz[6];
    int pred[2], i;
    double loss = ce_loss(z, y, 2, 3, dz, pred);
    CHECK_NEAR(loss, 0.5789911435054367, 1e-15);
    for (i = 0; i < 6; i++) CHECK_NEAR(dz[i], grad[i], 1e-15);
    CHECK(pred[0] == 2 && pred[1] == 0);   /* tie 0.1, 0.1: the first */
}

static void test_closed_forms(void)
{
    real z[8] = {0.5, 0.5, 0.5, 0.5, 0, 0, 0, 0};
    int y[2] = {3, 0};
    real dz[8];
    double loss;
    int i;
    loss = ce_loss(z, y, 2, 4, dz, NULL);
    CHECK_NEAR(loss, log(4.0), 1e-15);
    for (i = 0; i < 8; i++) {
        double onehot = (i == 3 || i == 4) ? 1.0 : 0.0;
        CHECK_NEAR(dz[i], (0.25 - onehot) / 2, 1e-15);
    }
    /* two classes, z = (0, log 3), y = 1: p = (1/4, 3/4), loss = -log(3/4) */
    z[0] = 0;
    z[1] = (real)log(3.0);
    y[0] = 1;
    loss = ce_loss(z, y, 1, 2, dz, NULL);
    CHECK_NEAR(loss, -log(0.75), 1e-15);
    CHECK_NEAR(dz[0], 0.25, 1e-15);
    CHECK_NEAR(dz[1], -0.25, 1e-15);
}

static void test_large_logits(void)
{
    real z[4] = {1000, 1001, -1e4, -1e4 - 1};
    int y[2] = {0, 0};
    real dz[4];
    double loss = ce_loss(z, y, 2, 2, dz, NULL);
    double expect = ((1.0 + log1p(exp(-1.0))) + log1p(exp(-1.0))) / 2;
    CHECK(isfinite(loss));
    CHECK_NEAR(loss, expect, 1e-15);
    CHECK(isfinite(dz[0]) && isfinite(dz[1]) && isfinite(dz[2]) && isfinite(dz[3]));
    CHECK_NEAR(dz[0] + dz[1], 0.0, 1e-15);
}

/* dCE/dz by central differences, and rows of the gradient sum to zero. */
static void test_gradient_fd(void)
{
    enum { N = 4, C = 5 };
    real z[N * C], dz[N * C], junk[N * C];
    int y[N] = {0, 4, 2, 2}, i, j, pred[N], pred2[N];
    double h = 1e-5, worst = 0, rowsum;
    rng r;
    rng_seed(&r, 3);
    for (i = 0; i < N * C; i++) z[i] = (real)(3.0 * rng_normal(&r));
    for (i = 0; i < N * C; i++) dz[i] = (real)1e30;   /* must be overwritten */
    ce_loss(z, y, N, C, dz, pred);
    for (i = 0; i < N * C; i++) {
        real keep = z[i];
        double lp, lm, fd;
        z[i] = (real)(keep + h);
        lp = ce_loss(z, y, N, C, junk, NULL);
        z[i] = (real)(keep - h);
        lm = ce_loss(z, y, N, C, NULL, NULL);
        z[i] = keep;
        fd = (lp - lm) / (2 * h);
        if (test_rel_err(dz[i], fd, 1e-3) > worst) worst = test_rel_err(dz[i], fd, 1e-3);
    }
    CHECK_MSG(worst < 1e-7, "worst relative error %g", worst);   /* h^2 truncation ~2e-8 */
    for (i = 0; i < N; i++) {
        for (j = 0, rowsum = 0; j < C; j++) rowsum += dz[i * C + j];
        CHECK_NEAR(rowsum, 0.0, 1e-15);
    }
    ce_argmax(z, N, C, pred2);
    CHECK(memcmp(pred, pred2, sizeof pred) == 0);
}

static void test_argmax_rules(void)
{
    real z[12] = {1, 3, 3, 2, /* tie: first */
                  -5, -6, -7, -5, /* tie at 0 */
                  0, 9, 0, 0};
    int pred[3];
    ce_argmax(z, 3, 4, pred);
    CHECK(pred[0] == 1 && pred[1] == 0 && pred[2] == 1);
    z[2] = (real)NAN;
    z[3] = (real)NAN;
    z[8] = (real)NAN;
    ce_argmax(z, 3, 4, pred);
    CHECK(pred[0] == 2 && pred[2] == 0);   /* the first NaN, as torch.argmax */
}

int main(int argc, char **argv)
{
    static const test_case cases[] = {
        TEST_CASE(test_against_torch),
        TEST_CASE(test_closed_forms),
        TEST_CASE(test_large_logits),
        TEST_CASE(test_gradient_fd),
        TEST_CASE(test_argmax_rules),
    };
    return test_main(argc, argv, cases, TEST_COUNT(cases));
}
