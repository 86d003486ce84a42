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
    gradcam_buf b = {alpha, s, cam, NULL, 0};
    double l = 0;
    int i;
    gradcam_forward(A, G, NULL, NS, K, Z, &b);
    for (i = 0; i < NS * Z; i++) l += w[i] * cam[i];
    return l;
}

static void test_backward_matches_finite_differences(void)
{
    real A[NS * K * Z], G[NS * K * Z], w[NS * Z];
    real alpha[NS * K], s[NS * Z], cam[NS * Z], dA[NS * K * Z], dG[NS * K * Z], ds[NS * Z];
    gradcam_buf b = {alpha, s, cam, NULL, 0};
    rng r;
    int i, trial;
    double h = 1e-6, worst = 0;
    for (trial = 0; trial < 5; trial++) {
        rng_seed(&r, 100 + trial);
        for (i = 0; i < NS * K * Z; i++) A[i] = rng_uniform_range(&r, 0, 2);   /* A >= 0 like post-ReLU */
        for (i = 0; i < NS * K * Z; i++) G[i] = rng_uniform_range(&r, -1, 1);
        for (i = 0; i < NS * Z; i++) w[i] = rng_uniform_range(&r, -1, 1);
        gradcam_forward(A, G, NULL, NS, K, Z, &b);
        memset(dA, 0, sizeof dA);
        memset(dG, 0, sizeof dG);
        gradcam_backward(A, NULL, &b, w, NS, K, Z, dA, dG, ds);
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
    gradcam_buf b = {alpha, s, cam, NULL, 0};
    gradcam_forward(A, G, NULL, 1, 2, 2, &b);
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
    gradcam_buf b = {alpha, s, cam, NULL, 0};
    int i, finite = 1;
    gradcam_forward(A, G, NULL, 1, 1, 4, &b);
    for (i = 0; i < 4; i++) CHECK_NEAR(cam[i], 0.0, 0.0);
    gradcam_norm_backward(s, cam, dcam, 4, ds);
    for (i = 0; i < 4; i++) finite &= ds[i] == ds[i];
    CHECK(finite);
}

/* The selected rows read and written in place: with rows = {4, 1, 3} of a
 * batch of 5, every output equals that of the gathered (3, K, Z) copies
 * (bit for bit), the rows not listed in dA and dG are left as they were,
 * the three backward parts compose to gradcam_backward, and dG's rows are
 * written over (not added to). */
static void test_rows_in_place_match_gathered_copies(void)
{
    enum { NB = 5, NSEL = 3 };
    static const int rows[NSEL] = {4, 1, 3};
    real A[NB * K * Z], G[NB * K * Z], dA[NB * K * Z], dG[NB * K * Z], dA2[NB * K * Z];
    real dG2[NB * K * Z];
    real A_sel[NSEL * K * Z], G_sel[NSEL * K * Z], dA_sel[NSEL * K * Z], dG_sel[NSEL * K * Z];
    real alpha[NSEL * K], s[NSEL * Z], cam[NSEL * Z], ds[NSEL * Z], dcam[NSEL * Z];
    real alpha_sel[NSEL * K], s_sel[NSEL * Z], cam_sel[NSEL * Z], ds_sel[NSEL * Z];
    gradcam_buf b = {alpha, s, cam, NULL, 0}, b_sel = {alpha_sel, s_sel, cam_sel, NULL, 0};
    size_t row = (size_t)K * Z;
    int i, j, same = 1, untouched = 1, split_same;
    rng r;
    rng_seed(&r, 31);
    for (i = 0; i < NB * K * Z; i++) A[i] = rng_uniform_range(&r, 0, 2);
    for (i = 0; i < NB * K * Z; i++) G[i] = rng_uniform_range(&r, -1, 1);
    for (i = 0; i < NB * K * Z; i++) dA[i] = dA2[i] = rng_uniform_range(&r, -1, 1);
    for (i = 0; i < NB * K * Z; i++) dG[i] = dG2[i] = rng_uniform_range(&r, -1, 1);
    for (i = 0; i < NSEL * Z; i++) dcam[i] = rng_uniform_range(&r, -1, 1);
    for (j = 0; j < NSEL; j++) {
        memcpy(A_sel + j * row, A + rows[j] * row, row * sizeof(real));
        memcpy(G_sel + j * row, G + rows[j] * row, row * sizeof(real));
        memcpy(dA_sel + j * row, dA + rows[j] * row, row * sizeof(real));
        memcpy(dG_sel + j * row, dG + rows[j] * row, row * sizeof(real));
    }
    gradcam_forward(A, G, rows, NSEL, K, Z, &b);
    gradcam_forward(A_sel, G_sel, NULL, NSEL, K, Z, &b_sel);
    gradcam_backward(A, rows, &b, dcam, NSEL, K, Z, dA, dG, ds);
    gradcam_backward(A_sel, NULL, &b_sel, dcam, NSEL, K, Z, dA_sel, dG_sel, ds_sel);
    same &= memcmp(alpha, alpha_sel, sizeof alpha) == 0;
    same &= memcmp(s, s_sel, sizeof s) == 0 && memcmp(cam, cam_sel, sizeof cam) == 0;
    same &= memcmp(ds, ds_sel, sizeof ds) == 0;
    for (j = 0; j < NSEL; j++) {
        same &= memcmp(dA + rows[j] * row, dA_sel + j * row, row * sizeof(real)) == 0;
        same &= memcmp(dG + rows[j] * row, dG_sel + j * row, row * sizeof(real)) == 0;
    }
    for (i = 0; i < NB; i++) {   /* rows 0 and 2 are not selected */
        if (i != 0 && i != 2) continue;
        untouched &= memcmp(dA + i * row, dA2 + i * row, row * sizeof(real)) == 0;
        untouched &= memcmp(dG + i * row, dG2 + i * row, row * sizeof(real)) == 0;
    }
    CHECK_MSG(same, "in-place rows differ from the gathered copies");
    CHECK_MSG(untouched, "rows outside the selection were written");
    CHECK(memcmp(dA + 4 * row, dA2 + 4 * row, row * sizeof(real)) != 0);   /* a selected row was */
    CHECK(memcmp(dG + 4 * row, dG2 + 4 * row, row * sizeof(real)) != 0);
    /* the parts in step.c's order: ds, dG, then dA_direct */
    gradcam_backward_s(&b, dcam, NSEL, Z, ds);
    gradcam_backward_G(A, ds, rows, NSEL, K, Z, dG2);
    gradcam_backward_A(&b, ds, rows, NSEL, K, Z, dA2);
    split_same = memcmp(dA, dA2, sizeof dA) == 0 && memcmp(dG, dG2, sizeof dG) == 0;
    CHECK_MSG(split_same, "gradcam_backward_s/_A/_G differ from gradcam_backward");
    /* dG is written, not accumulated: the same rows from a zeroed dG */
    memset(dG2, 0, sizeof dG2);
    gradcam_backward_G(A, ds, rows, NSEL, K, Z, dG2);
    for (j = 0; j < NSEL; j++)
        CHECK(memcmp(dG + rows[j] * row, dG2 + rows[j] * row, row * sizeof(real)) == 0);
}

/* gradcam_backward_g: dG's value per (sample, channel), the same bits as
 * each entry of gradcam_backward_G's row, 0 for the samples not selected
 * (whatever g held before). */
static void test_per_channel_g_matches_dG_rows(void)
{
    enum { NB = 5, NSEL = 3 };
    static const int rows[NSEL] = {4, 1, 3};
    real A[NB * K * Z], dG[NB * K * Z], ds[NSEL * Z], g[NB * K];
    int i, j, c, same = 1, nonzero = 0;
    rng r;
    rng_seed(&r, 32);
    for (i = 0; i < NB * K * Z; i++) A[i] = rng_uniform_range(&r, -1, 2);
    for (i = 0; i < NSEL * Z; i++) ds[i] = rng_uniform_range(&r, -1, 1);
    for (i = 0; i < NB * K; i++) g[i] = 7;
    memset(dG, 0, sizeof dG);
    gradcam_backward_G(A, ds, rows, NSEL, K, Z, dG);
    gradcam_backward_g(A, ds, rows, NULL, NSEL, NB, K, Z, g);
    for (i = 0; i < NB; i++)
        for (c = 0; c < K; c++) {
            real v = g[i * K + c];
            nonzero += v != 0;
            for (j = 0; j < Z; j++) same &= dG[(i * K + c) * Z + j] == v;
        }
    CHECK_MSG(same, "g differs from dG's rows (or unselected rows are not zero)");
    CHECK(nonzero == NSEL * K);
    CHECK(g[0] == 0 && g[2 * K + 1] == 0);
    /* rows NULL: samples 0 .. ns-1 */
    gradcam_backward_g(A, ds, NULL, NULL, 2, NB, K, Z, g);
    memset(dG, 0, sizeof dG);
    gradcam_backward_G(A, ds, NULL, 2, K, Z, dG);
    for (i = 0, same = 1; i < NB * K; i++) same &= dG[i * Z] == g[i] && dG[i * Z + Z - 1] == g[i];
    CHECK(same && g[2 * K] == 0 && g[K] != 0);
}

/* The loops split by samples (gradcam_buf.row_of, as cam/step.c sets it):
 * the same bits as split by rows, for the maps, ds, dA_direct and g, and g
 * zero on the samples not selected. */
static void test_row_of_matches_rows(void)
{
    enum { NB = 5, NSEL = 3 };
    static const int rows[NSEL] = {4, 1, 3};
    static const int row_of[NB] = {-1, 1, -1, 2, 0};
    real A[NB * K * Z], dA[NB * K * Z], dA2[NB * K * Z], g[NB * K], g2[NB * K];
    real alpha[NSEL * K], s[NSEL * Z], cam[NSEL * Z], ds[NSEL * Z], dcam[NSEL * Z];
    real s2[NSEL * Z], cam2[NSEL * Z], ds2[NSEL * Z];
    gradcam_buf b = {alpha, s, cam, NULL, 0}, b2 = {alpha, s2, cam2, NULL, 0};
    int i, same = 1;
    rng r;
    rng_seed(&r, 33);
    b2.row_of = row_of;
    b2.n = NB;
    for (i = 0; i < NB * K * Z; i++) A[i] = rng_uniform_range(&r, -1, 2);
    for (i = 0; i < NB * K * Z; i++) dA[i] = dA2[i] = rng_uniform_range(&r, -1, 1);
    for (i = 0; i < NSEL * K; i++) alpha[i] = rng_uniform_range(&r, -1, 1);
    for (i = 0; i < NSEL * Z; i++) dcam[i] = rng_uniform_range(&r, -1, 1);
    for (i = 0; i < NB * K; i++) g[i] = g2[i] = 7;
    gradcam_map(A, rows, NSEL, K, Z, &b);
    gradcam_map(A, rows, NSEL, K, Z, &b2);
    gradcam_backward_s(&b, dcam, NSEL, Z, ds);
    gradcam_backward_s(&b2, dcam, NSEL, Z, ds2);
    gradcam_backward_A(&b, ds, rows, NSEL, K, Z, dA);
    gradcam_backward_A(&b2, ds2, rows, NSEL, K, Z, dA2);
    gradcam_backward_g(A, ds, rows, NULL, NSEL, NB, K, Z, g);
    gradcam_backward_g(A, ds2, rows, row_of, NSEL, NB, K, Z, g2);
    same &= memcmp(s, s2, sizeof s) == 0 && memcmp(cam, cam2, sizeof cam) == 0;
    same &= memcmp(ds, ds2, sizeof ds) == 0 && memcmp(dA, dA2, sizeof dA) == 0;
    same &= memcmp(g, g2, sizeof g) == 0;
    CHECK_MSG(same, "split by samples differs from split by rows");
    CHECK(g2[0] == 0 && g2[2 * K] == 0 && g2[4 * K] != 0);
}

int main(int argc, char **argv)
{
    static const test_case cases[] = {
        TEST_CASE(test_per_channel_g_matches_dG_rows),
        TEST_CASE(test_row_of_matches_rows),
        TEST_CASE(test_backward_matches_finite_differences),
        TEST_CASE(test_ties_share_gradient_evenly),
        TEST_CASE(test_known_map),
        TEST_CASE(test_constant_map_is_zero_not_nan),
        TEST_CASE(test_rows_in_place_match_gathered_copies),
    };
    return test_main(argc, argv, cases, TEST_COUNT(cases));
}
