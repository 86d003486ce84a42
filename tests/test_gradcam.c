/*
 * tests/test_gradcam.c - Grad-CAM maps and their backward (cam/gradcam.c)
 * against finite differences and hand-computed values, in double.
 * The loss is L = sum w * cam for a random w. Random A and G make ReLU
 * zeros (s < 0) common but exact ties at the max impossible; the tie rule
 * (gradient shared evenly, as torch.amax) is checked on a hand-built map.
 */
#include "cam/gradcam.h"
#include "nn/rng.h"
#include "tests/test.h"

#include <string.h>

#define NS 2
#define K 3
#define Z 12

static double loss_of(const real *A, const real *G, const real *w)
{
    real alpha[NS * K], s[NS * Z], cam[NS * Z];
    gradcam_buf b = {alpha, s, cam};
    double l = 0;
    int i;
    gradcam_forward(A, G, NS, K, Z, &b);
    for (i = 0; i < NS * Z; i++) l += w[i] * cam[i];
    return l;
}

static void test_backward_matches_finite_differences(void)
{
    real A[NS * K * Z], G[NS * K * Z], w[NS * Z];
    real alpha[NS * K], s[NS * Z], cam[NS * Z], dA[NS * K * Z], dG[NS * K * Z], ds[Z];
    gradcam_buf b = {alpha, s, cam};
    rng r;
    int i, trial;
    double h = 1e-6, worst = 0;
    for (trial = 0; trial < 5; trial++) {
        rng_seed(&r, 100 + trial);
        for (i = 0; i < NS * K * Z; i++) A[i] = rng_uniform_range(&r, 0, 2);   /* A >= 0 like post-ReLU */
        for (i = 0; i < NS * K * Z; i++) G[i] = rng_uniform_range(&r, -1, 1);
        for (i = 0; i < NS * Z; i++) w[i] = rng_uniform_range(&r, -1, 1);
        gradcam_forward(A, G, NS, K, Z, &b);
        memset(dA, 0, sizeof dA);
        memset(dG, 0, sizeof dG);
        gradcam_backward(A, &b, w, NS, K, Z, dA, dG, ds);
        for (i = 0; i < NS * K * Z; i++) {
            real save = A[i];
            double fp, fm, fd;
            A[i] = save + h; fp = loss_of(A, G, w);
            A[i] = save - h; fm = loss_of(A, G, w);
            A[i] = save;
            fd = (fp - fm) / (2 * h);
            if (test_rel_err(dA[i], fd, 1e-3) > worst) worst = test_rel_err(dA[i], fd, 1e-3);
            save = G[i];
            G[i] = save + h; fp = loss_of(A, G, w);
            G[i] = save - h; fm = loss_of(A, G, w);
            G[i] = save;
            fd = (fp - fm) / (2 * h);
            if (test_rel_err(dG[i], fd, 1e-3) > worst) worst = test_rel_err(dG[i], fd, 1e-3);
        }
    }
    CHECK_MSG(worst < 1e-6, "worst relative error %.3e", worst);
}

/* One channel, alpha = 1: s = A. Map [0, 2, 2, 1]: max 2 is tied at two
 * positions, min 0 at one. cam = (r - 0) / (2 + eps). With dcam = e_3
 * (the value 1 at index 3): d cam_3 / d r_3 = 1/D; dM = -cam_3/D is shared
 * by positions 1 and 2; dm = (cam_3 - 1)/D goes to position 0, whose s = 0
 * then kills it (ReLU'(0) = 0). */
static void test_ties_share_gradient_evenly(void)
{
    real s[4] = {0, 2, 2, 1}, cam[4], dcam[4] = {0, 0, 0, 1}, ds[4];
    double d = 2 + GRADCAM_EPS;
    int i;
    for (i = 0; i < 4; i++) cam[i] = (real)(s[i] / d);
    gradcam_norm_backward(s, cam, dcam, 4, ds);
    CHECK_NEAR(ds[0], 0.0, 1e-15);
    CHECK_NEAR(ds[1], -0.5 * cam[3] / d, 1e-15);
    CHECK_NEAR(ds[2], -0.5 * cam[3] / d, 1e-15);
    CHECK_NEAR(ds[3], 1 / d, 1e-15);
}

static void test_known_map(void)
{
    /* K = 2, Z = 2: G channel means 1 and -1 -> alpha = (1, -1);
     * A = [[3, 1], [1, 2]] -> s = (3-1, 1-2) = (2, -1) -> r = (2, 0) -> cam = (1, 0) */
    real A[4] = {3, 1, 1, 2}, G[4] = {0.5, 1.5, -1, -1}, alpha[2], s[2], cam[2];
    gradcam_buf b = {alpha, s, cam};
    gradcam_forward(A, G, 1, 2, 2, &b);
    CHECK_NEAR(alpha[0], 1.0, 1e-15);
    CHECK_NEAR(alpha[1], -1.0, 1e-15);
    CHECK_NEAR(s[0], 2.0, 1e-15);
    CHECK_NEAR(s[1], -1.0, 1e-15);
    CHECK_NEAR(cam[0], 2 / (2 + GRADCAM_EPS), 1e-15);
    CHECK_NEAR(cam[1], 0.0, 1e-15);
}

static void test_constant_map_is_zero_not_nan(void)
{
    real A[4] = {1, 1, 1, 1}, G[4] = {-1, -1, -1, -1}, alpha[1], s[4], cam[4], ds[4];
    real dcam[4] = {1, 2, 3, 4};
    gradcam_buf b = {alpha, s, cam};
    int i, finite = 1;
    gradcam_forward(A, G, 1, 1, 4, &b);
    for (i = 0; i < 4; i++) CHECK_NEAR(cam[i], 0.0, 0.0);
    gradcam_norm_backward(s, cam, dcam, 4, ds);
    for (i = 0; i < 4; i++) finite &= ds[i] == ds[i];
    CHECK(finite);
}

int main(int argc, char **argv)
{
    static const test_case cases[] = {
        TEST_CASE(test_backward_matches_finite_differences),
        TEST_CASE(test_ties_share_gradient_evenly),
        TEST_CASE(test_known_map),
        TEST_CASE(test_constant_map_is_zero_not_nan),
    };
    return test_main(argc, argv, cases, TEST_COUNT(cases));
}
