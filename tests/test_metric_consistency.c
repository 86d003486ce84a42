/*
 * tests/test_metric_consistency.c - metric/consistency.c, metric/resample.c
 * and metric/bootstrap.c: L_CAM on hand-built CAM sets (expected values
 * worked out in the comments), the NaN rules, both distances, the grid
 * resampling against PyTorch's bilinear values, and the bootstrap's
 * determinism, resampling unit and interval.
 */
#include "metric/consistency.h"
#include "metric/resample.h"
#include "nn/rng.h"
#include "tests/test.h"

#include <math.h>
#include <string.h>

#define TOL 1e-14

/* The hand-built set, 2x2 maps, 4 classes (values worked out below).
 * class 0: A = [1,0,0,0], B = [0,0,0,1]
 *   mean = [.5,0,0,.5]; A-mean = [.5,0,0,-.5], ||.||^2 = 0.5 (same for B)
 *   l2sq = 0.5/4 = 0.125 each; l2 = sqrt(0.5)/4 each
 * class 1: C = [1,1,0,0], D = [0,0,0,0], E = [1,1,1,1]
 *   mean = [2/3,2/3,1/3,1/3]
 *   C: diff [1/3,1/3,-1/3,-1/3], ||.||^2 = 4/9  -> l2sq 1/9,  l2 (2/3)/4 = 1/6
 *   D: diff [-2/3,-2/3,-1/3,-1/3], ||.||^2 = 10/9 -> l2sq 5/18, l2 sqrt(10)/12
 *   E: diff [1/3,1/3,2/3,2/3],     ||.||^2 = 10/9 -> l2sq 5/18, l2 sqrt(10)/12
 *   class mean l2sq = (1/9 + 5/18 + 5/18)/3 = 2/9
 * class 2: one sample F (NaN, left out); class 3: none (NaN, mean NaN).
 * L_CAM l2sq = (0.125 + 0.125 + 1/9 + 5/18 + 5/18)/5 = (11/12)/5 = 11/60
 * L_CAM l2   = (2 sqrt(0.5)/4 + 1/6 + 2 sqrt(10)/12)/5
 * The batch below also holds two misclassified rows that must be skipped. */
static const real SET_MAPS[8][4] = {
    {1, 0, 0, 0},          /* A, class 0, id 10 */
    {9, 9, 9, 9},          /* misclassified (label 0, pred 1), id 11 */
    {1, 1, 0, 0},          /* C, class 1, id 12 */
    {0.3, 0.1, 0.2, 0.4},  /* F, class 2, id 13 */
    {0, 0, 0, 1},          /* B, class 0, id 14 */
    {0, 0, 0, 0},          /* D, class 1, id 15 */
    {7, 7, 7, 7},          /* misclassified (label 3, pred 2), id 16 */
    {1, 1, 1, 1},          /* E, class 1, id 17 */
};
static const int SET_LABELS[8] = {0, 0, 1, 2, 0, 1, 3, 1};
static const int SET_PREDS[8] = {0, 1, 1, 2, 0, 1, 2, 1};

static void fill_set(consistency_acc *acc)
{
    gc_error err;
    CHECK(consistency_init(acc, 4, 2, 2, &err) == GC_OK);
    CHECK(consistency_add_batch(acc, &SET_MAPS[0][0], 8, SET_LABELS, SET_PREDS, 10, &err) ==
          GC_OK);
}

static void test_hand_set_l2sq(void)
{
    consistency_acc acc;
    consistency_result res;
    consistency_variant v = {CONS_L2SQ, 0};
    gc_error err;
    fill_set(&acc);
    CHECK(acc.n == 6);
    CHECK(consistency_finish(&acc, v, &res, &err) == GC_OK);
    CHECK(strcmp(res.variant, "l2sq") == 0);
    CHECK_NEAR(res.value, 11.0 / 60.0, TOL);
    CHECK(res.reason[0] == '\0');
    CHECK(res.n_used == 5 && res.classes_used == 2);
    CHECK(res.h == 2 && res.w == 2 && res.n == 6);
    CHECK(res.class_count[0] == 2 && res.class_count[1] == 3);
    CHECK(res.class_count[2] == 1 && res.class_count[3] == 0);
    CHECK_NEAR(res.class_value[0], 0.125, TOL);
    CHECK_NEAR(res.class_value[1], 2.0 / 9.0, TOL);
    CHECK(isnan(res.class_value[2]) && isnan(res.class_value[3]));
    /* per-sample l_n in add order: A, C, F, B, D, E */
    CHECK(res.sample_id[0] == 10 && res.sample_id[1] == 12 && res.sample_id[2] == 13);
    CHECK(res.sample_id[3] == 14 && res.sample_id[4] == 15 && res.sample_id[5] == 17);
    CHECK(res.label[2] == 2 && res.label[5] == 1);
    CHECK_NEAR(res.l[0], 0.125, TOL);
    CHECK_NEAR(res.l[1], 1.0 / 9.0, TOL);
    CHECK(isnan(res.l[2]));
    CHECK_NEAR(res.l[3], 0.125, TOL);
    CHECK_NEAR(res.l[4], 5.0 / 18.0, TOL);
    CHECK_NEAR(res.l[5], 5.0 / 18.0, TOL);
    /* representative maps */
    CHECK_NEAR(res.class_mean[0], 0.5, TOL);
    CHECK_NEAR(res.class_mean[1], 0.0, TOL);
    CHECK_NEAR(res.class_mean[3], 0.5, TOL);
    CHECK_NEAR(res.class_mean[4 + 0], 2.0 / 3.0, TOL);
    CHECK_NEAR(res.class_mean[4 + 3], 1.0 / 3.0, TOL);
    CHECK_NEAR(res.class_mean[8 + 0], 0.3, TOL);   /* single sample: its map */
    CHECK_NEAR(res.class_mean[8 + 3], 0.4, TOL);
    CHECK(isnan(res.class_mean[12]) && isnan(res.class_mean[15]));
    consistency_result_free(&res);
    consistency_free(&acc);
}

static void test_hand_set_l2(void)
{
    consistency_acc acc;
    consistency_result res;
    consistency_variant v = {CONS_L2, 0};
    gc_error err;
    double a = sqrt(0.5) / 4.0, d = sqrt(10.0) / 12.0;
    fill_set(&acc);
    CHECK(consistency_finish(&acc, v, &res, &err) == GC_OK);
    CHECK(strcmp(res.variant, "l2") == 0);
    CHECK_NEAR(res.value, (2 * a + 1.0 / 6.0 + 2 * d) / 5.0, TOL);
    CHECK_NEAR(res.l[0], a, TOL);
    CHECK_NEAR(res.l[1], 1.0 / 6.0, TOL);
    CHECK_NEAR(res.l[4], d, TOL);
    CHECK_NEAR(res.class_value[1], (1.0 / 6.0 + 2 * d) / 3.0, TOL);
    /* public code's per-class number is the sum: class_value * count */
    CHECK_NEAR(res.class_value[0] * (double)res.class_count[0], 2 * a, TOL);
    consistency_result_free(&res);
    consistency_free(&acc);
}

static void test_single_add_and_reset(void)
{
    consistency_acc acc;
    consistency_result res;
    consistency_variant v = {CONS_L2SQ, 0};
    gc_error err;
    int i;
    /* 200 adds force the storage to grow past its first capacity */
    CHECK(consistency_init(&acc, 2, 2, 2, &err) == GC_OK);
    for (i = 0; i < 200; i++) {
        real m[4] = {0, 0, 0, 0};
        m[0] = (real)(i % 2); /* alternating [0..] and [1,0,0,0]: l2sq = 0.25/4 each */
        CHECK(consistency_add(&acc, m, 1, (size_t)i, &err) == GC_OK);
    }
    CHECK(acc.n == 200);
    CHECK(consistency_finish(&acc, v, &res, &err) == GC_OK);
    CHECK_NEAR(res.value, 0.0625, TOL);
    CHECK(res.sample_id[199] == 199);
    consistency_result_free(&res);
    consistency_reset(&acc);
    CHECK(acc.n == 0);
    CHECK(consistency_finish(&acc, v, &res, &err) == GC_OK);
    CHECK(isnan(res.value) && res.reason[0] != '\0');
    consistency_result_free(&res);
    consistency_free(&acc);
}

static void test_nan_rules(void)
{
    consistency_acc acc;
    consistency_result res;
    consistency_variant v = {CONS_L2SQ, 0};
    gc_error err;
    const real a[4] = {1, 0, 0, 0}, b[4] = {0, 1, 0, 0};
    /* empty: NaN with a reason */
    CHECK(consistency_init(&acc, 3, 2, 2, &err) == GC_OK);
    CHECK(consistency_finish(&acc, v, &res, &err) == GC_OK);
    CHECK(isnan(res.value));
    CHECK_MSG(strstr(res.reason, "no correctly classified") != NULL, "reason: %s", res.reason);
    consistency_result_free(&res);
    /* one sample in each of two classes: no class qualifies */
    CHECK(consistency_add(&acc, a, 0, 0, &err) == GC_OK);
    CHECK(consistency_add(&acc, b, 2, 1, &err) == GC_OK);
    CHECK(consistency_finish(&acc, v, &res, &err) == GC_OK);
    CHECK(isnan(res.value));
    CHECK(res.n_used == 0 && res.classes_used == 0);
    CHECK(isnan(res.class_value[0]) && isnan(res.class_value[1]) && isnan(res.class_value[2]));
    CHECK(isnan(res.l[0]) && isnan(res.l[1]));
    CHECK_MSG(strstr(res.reason, ">= 2") != NULL && strstr(res.reason, "1 0 1") != NULL,
              "reason: %s", res.reason);
    consistency_result_free(&res);
    /* a second sample in class 2 makes it qualify; class 0 stays out:
     * class 2 = {b, a}: mean [.5,.5,0,0], ||diff||^2 = 0.5 -> 0.125 each */
    CHECK(consistency_add(&acc, a, 2, 2, &err) == GC_OK);
    CHECK(consistency_finish(&acc, v, &res, &err) == GC_OK);
    CHECK_NEAR(res.value, 0.125, TOL);
    CHECK(res.n_used == 2 && res.classes_used == 1);
    CHECK(isnan(res.class_value[0]) && isnan(res.l[0]));
    consistency_result_free(&res);
    consistency_free(&acc);
}

static void test_zero_distance_l2(void)
{
    /* two identical maps: ||diff|| = 0; sqrt(0) must give 0, not NaN */
    consistency_acc acc;
    consistency_result res;
    consistency_variant v2 = {CONS_L2, 0}, v2g = {CONS_L2, 3};
    gc_error err;
    const real a[4] = {0.2, 0.7, 1, 0};
    CHECK(consistency_init(&acc, 1, 2, 2, &err) == GC_OK);
    CHECK(consistency_add(&acc, a, 0, 0, &err) == GC_OK);
    CHECK(consistency_add(&acc, a, 0, 1, &err) == GC_OK);
    CHECK(consistency_finish(&acc, v2, &res, &err) == GC_OK);
    CHECK(res.value == 0.0 && res.l[0] == 0.0 && res.l[1] == 0.0);
    consistency_result_free(&res);
    CHECK(consistency_finish(&acc, v2g, &res, &err) == GC_OK);
    CHECK(res.value == 0.0);
    consistency_result_free(&res);
    consistency_free(&acc);
}

static void test_nonfinite_map(void)
{
    consistency_acc acc;
    consistency_result res;
    consistency_variant v = {CONS_L2SQ, 0};
    gc_error err;
    real a[4] = {0, 0, 0, 0}, b[4] = {1, 1, 1, 1}, bad[4] = {0, 0, 0, 0};
    bad[2] = (real)NAN;
    CHECK(consistency_init(&acc, 2, 2, 2, &err) == GC_OK);
    CHECK(consistency_add(&acc, a, 0, 0, &err) == GC_OK);
    CHECK(consistency_add(&acc, b, 0, 1, &err) == GC_OK);
    CHECK(consistency_add(&acc, a, 1, 2, &err) == GC_OK);
    CHECK(consistency_add(&acc, bad, 1, 3, &err) == GC_OK);
    CHECK(consistency_finish(&acc, v, &res, &err) == GC_OK);
    /* class 0 is fine (0.25) but the NaN in class 1 must not be hidden */
    CHECK_NEAR(res.class_value[0], 0.25, TOL);
    CHECK(isnan(res.class_value[1]));
    CHECK(isnan(res.value));
    CHECK_MSG(strstr(res.reason, "non-finite") != NULL && strstr(res.reason, "class 1"),
              "reason: %s", res.reason);
    consistency_result_free(&res);
    consistency_free(&acc);
}

static void test_bad_input(void)
{
    consistency_acc acc;
    consistency_result res;
    consistency_variant big = {CONS_L2SQ, CONS_GRID_MAX + 1};
    consistency_distance d;
    gc_error err;
    const real a[4] = {0, 0, 0, 0};
    const int lab[2] = {0, 5}, pred[2] = {0, 5};
    CHECK(consistency_init(&acc, 0, 2, 2, &err) == GC_FAIL);
    CHECK(consistency_init(&acc, 2, 0, 2, &err) == GC_FAIL);
    CHECK(consistency_init(&acc, 2, (size_t)-1, 3, &err) == GC_FAIL);
    CHECK(consistency_init(&acc, 2, 2, 2, &err) == GC_OK);
    CHECK(consistency_add(&acc, a, 2, 0, &err) == GC_FAIL);
    CHECK_MSG(strstr(err.msg, "metric/consistency") && strstr(err.msg, "label 2"), "%s", err.msg);
    CHECK(consistency_add(&acc, a, -1, 0, &err) == GC_FAIL);
    CHECK(consistency_add_batch(&acc, a, 2, lab, pred, 0, &err) == GC_FAIL);
    CHECK(acc.n == 1); /* the good first row went in before the bad one */
    CHECK(consistency_finish(&acc, big, &res, &err) == GC_FAIL);
    CHECK_MSG(strstr(err.msg, "cam-grid") != NULL, "%s", err.msg);
    consistency_result_free(&res);
    consistency_free(&acc);
    CHECK(consistency_distance_parse("l2sq", &d, &err) == GC_OK && d == CONS_L2SQ);
    CHECK(consistency_distance_parse("l2", &d, &err) == GC_OK && d == CONS_L2);
    CHECK(consistency_distance_parse("L1", &d, &err) == GC_FAIL);
    CHECK_MSG(strstr(err.msg, "'L1'") != NULL, "%s", err.msg);
}

static void test_variant_names(void)
{
    char buf[CONS_VARIANT_LEN];
    consistency_variant a = {CONS_L2SQ, 0}, b = {CONS_L2, 0}, c = {CONS_L2SQ, 7},
                        d = {CONS_L2, 14};
    consistency_variant_name(a, buf, sizeof buf);
    CHECK(strcmp(buf, "l2sq") == 0);
    consistency_variant_name(b, buf, sizeof buf);
    CHECK(strcmp(buf, "l2") == 0);
    consistency_variant_name(c, buf, sizeof buf);
    CHECK(strcmp(buf, "l2sq@grid7") == 0);
    consistency_variant_name(d, buf, sizeof buf);
    CHECK(strcmp(buf, "l2@grid14") == 0);
}

static void test_distance_eval(void)
{
    const real a[4] = {1, 0, 0, 0}, b[4] = {0, 0, 0, 1};
    /* ||a-b||^2 = 2: l2sq = 2/4, l2 = sqrt(2)/4 */
    CHECK_NEAR(consistency_distance_eval(a, b, 4, CONS_L2SQ), 0.5, TOL);
    CHECK_NEAR(consistency_distance_eval(a, b, 4, CONS_L2), sqrt(2.0) / 4.0, TOL);
    CHECK(consistency_distance_eval(a, a, 4, CONS_L2) == 0.0);
}

/* PyTorch: F.interpolate(torch.tensor([[[[1.,2.],[3.,4.]]]]), size=(4,4),
 * mode="bilinear", align_corners=False) (the example in the Upsample docs). */
static void test_resample_up_pytorch(void)
{
    const real in[4] = {1, 2, 3, 4};
    const double want[16] = {1.0, 1.25, 1.75, 2.0,
                             1.5, 1.75, 2.25, 2.5,
                             2.5, 2.75, 3.25, 3.5,
                             3.0, 3.25, 3.75, 4.0};
    real out[16];
    int i;
    resample_bilinear(in, 2, 2, out, 4, 4);
    for (i = 0; i < 16; i++) CHECK_NEAR(out[i], want[i], TOL);
}

static void test_resample_down_and_odd(void)
{
    real in[16], out[4], in3[9], out2[4], in23[6], out34[12];
    int i;
    /* 4x4 -> 2x2: src = 2o + 0.5, so each output averages a 2x2 block:
     * v = 4r + c -> (0+1+4+5)/4 = 2.5, 4.5, 10.5, 12.5 */
    for (i = 0; i < 16; i++) in[i] = (real)i;
    resample_bilinear(in, 4, 4, out, 2, 2);
    CHECK_NEAR(out[0], 2.5, TOL);
    CHECK_NEAR(out[1], 4.5, TOL);
    CHECK_NEAR(out[2], 10.5, TOL);
    CHECK_NEAR(out[3], 12.5, TOL);
    /* 3x3 -> 2x2: scale 1.5, src = 0.25 and 1.75; bilinear reproduces the
     * linear v = 3r + c there: 3*0.25+0.25 = 1, 2.5, 5.5, 7 */
    for (i = 0; i < 9; i++) in3[i] = (real)i;
    resample_bilinear(in3, 3, 3, out2, 2, 2);
    CHECK_NEAR(out2[0], 1.0, TOL);
    CHECK_NEAR(out2[1], 2.5, TOL);
    CHECK_NEAR(out2[2], 5.5, TOL);
    CHECK_NEAR(out2[3], 7.0, TOL);
    /* non-square 2x3 -> 3x4, v = 3r + c: rows src = max(0, (2/3)(o+.5)-.5) =
     * 0, 0.5, 1.1667 -> clamped rows (0, 0.5, 1); cols scale 0.75: src =
     * 0 (clamped from -0.125), 0.625, 1.375, 2 (i1 clamped, frac 0.125) */
    for (i = 0; i < 6; i++) in23[i] = (real)i;
    resample_bilinear(in23, 2, 3, out34, 3, 4);
    CHECK_NEAR(out34[0], 0.0, TOL);
    CHECK_NEAR(out34[1], 0.625, TOL);
    CHECK_NEAR(out34[2], 1.375, TOL);
    CHECK_NEAR(out34[3], 2.0, TOL);
    CHECK_NEAR(out34[4], 1.5, TOL);
    CHECK_NEAR(out34[4 + 2], 1.5 + 1.375, TOL);
    CHECK_NEAR(out34[8], 3.0, TOL);
    CHECK_NEAR(out34[11], 5.0, TOL);
    /* same size: a copy */
    resample_bilinear(in3, 3, 3, in, 3, 3);
    for (i = 0; i < 9; i++) CHECK(in[i] == in3[i]);
}

static void test_grid_variant(void)
{
    /* class 0 = {P = [[1,2],[3,4]], Z = 0}. On a 4x4 grid P becomes the table
     * of test_resample_up_pytorch (R), Z stays 0; mean = R/2, so both diffs
     * are +-R/2 and ||diff||^2 = sum R^2 / 4. sum R^2 = 9.625 + 16.625 +
     * 36.625 + 49.625 = 112.5 -> 28.125; l2sq@grid4 = 28.125/16 = 1.7578125,
     * l2@grid4 = sqrt(28.125)/16. Native: sum P^2 = 30 -> 7.5/4 = 1.875. */
    consistency_acc acc;
    consistency_result res;
    consistency_variant g = {CONS_L2SQ, 4}, g2 = {CONS_L2, 4}, n = {CONS_L2SQ, 0};
    gc_error err;
    const real p[4] = {1, 2, 3, 4}, z[4] = {0, 0, 0, 0};
    CHECK(consistency_init(&acc, 1, 2, 2, &err) == GC_OK);
    CHECK(consistency_add(&acc, p, 0, 0, &err) == GC_OK);
    CHECK(consistency_add(&acc, z, 0, 1, &err) == GC_OK);
    CHECK(consistency_finish(&acc, g, &res, &err) == GC_OK);
    CHECK(strcmp(res.variant, "l2sq@grid4") == 0);
    CHECK(res.h == 4 && res.w == 4);
    CHECK_NEAR(res.value, 1.7578125, TOL);
    CHECK_NEAR(res.class_mean[1], 0.625, TOL);   /* R[0][1] / 2 */
    consistency_result_free(&res);
    CHECK(consistency_finish(&acc, g2, &res, &err) == GC_OK);
    CHECK(strcmp(res.variant, "l2@grid4") == 0);
    CHECK_NEAR(res.value, sqrt(28.125) / 16.0, TOL);
    consistency_result_free(&res);
    CHECK(consistency_finish(&acc, n, &res, &err) == GC_OK); /* acc unchanged */
    CHECK_NEAR(res.value, 1.875, TOL);
    consistency_result_free(&res);
    consistency_free(&acc);
}

/* ---- bootstrap ---- */

/* classes x per_class random h x w maps: a class-specific blob plus noise */
static void random_set(consistency_acc *acc, size_t classes, size_t per_class,
                       size_t h, size_t w, uint64_t seed)
{
    gc_error err;
    rng r;
    real *m = malloc(h * w * sizeof *m);
    size_t c, i, p;
    rng_seed(&r, seed);
    CHECK(consistency_init(acc, classes, h, w, &err) == GC_OK);
    for (i = 0; i < per_class; i++)
        for (c = 0; c < classes; c++) {
            for (p = 0; p < h * w; p++)
                m[p] = (real)(0.5 * (double)((p + c) % 3 == 0) + 0.5 * rng_uniform(&r));
            CHECK(consistency_add(acc, m, (int)c, i * classes + c, &err) == GC_OK);
        }
    free(m);
}

static void test_boot_deterministic(void)
{
    consistency_acc acc;
    consistency_boot_opts o;
    consistency_ci a, b;
    consistency_variant v = {CONS_L2SQ, 0};
    gc_error err;
    double ra[200], rb[200];
    random_set(&acc, 3, 20, 3, 3, 5);
    consistency_boot_defaults(&o);
    CHECK(o.resamples == 1000 && o.level == 0.95 && o.method == CONS_BOOT_AUTO);
    o.resamples = 200;
    o.seed = 77;
    CHECK(consistency_bootstrap(&acc, v, &o, &a, ra, &err) == GC_OK);
    CHECK(consistency_bootstrap(&acc, v, &o, &b, rb, &err) == GC_OK);
    CHECK(memcmp(ra, rb, sizeof ra) == 0);
    CHECK(memcmp(&a.lo, &b.lo, sizeof a.lo) == 0 && memcmp(&a.hi, &b.hi, sizeof a.hi) == 0);
    CHECK(strcmp(a.variant, "l2sq") == 0 && a.seed == 77 && a.resamples == 200);
    o.seed = 78;
    CHECK(consistency_bootstrap(&acc, v, &o, &b, rb, &err) == GC_OK);
    CHECK(memcmp(ra, rb, sizeof ra) != 0);
    consistency_free(&acc);
}

static void test_boot_ci_contains_point(void)
{
    /* 2 classes x 60 maps of 4x4: the interval brackets the point estimate */
    consistency_acc acc;
    consistency_boot_opts o;
    consistency_ci ci;
    consistency_result res;
    consistency_variant vs[3] = {{CONS_L2SQ, 0}, {CONS_L2, 0}, {CONS_L2SQ, 7}};
    gc_error err;
    int k;
    random_set(&acc, 2, 60, 4, 4, 11);
    consistency_boot_defaults(&o);
    o.resamples = 400;
    o.seed = 3;
    for (k = 0; k < 3; k++) {
        CHECK(consistency_finish(&acc, vs[k], &res, &err) == GC_OK);
        CHECK(consistency_bootstrap(&acc, vs[k], &o, &ci, NULL, &err) == GC_OK);
        CHECK(ci.point == res.value);
        CHECK(strcmp(ci.variant, res.variant) == 0);
        CHECK_MSG(ci.lo < ci.point && ci.point < ci.hi, "%s: [%g, %g] vs %g", ci.variant,
                  ci.lo, ci.hi, ci.point);
        CHECK(ci.se > 0 && ci.hi - ci.lo < 0.5 * ci.point);
        /* the documented bias: replicates centre below the point, by about
         * 1/60 of it for l2sq (exactly in expectation) */
        CHECK_MSG(ci.bias < 0 && fabs(ci.bias) < 4.0 * ci.point / 60.0, "%s: bias %g",
                  ci.variant, ci.bias);
        CHECK(ci.reason[0] == '\0');
        consistency_result_free(&res);
    }
    consistency_free(&acc);
}

static void test_boot_recomputes_mean(void)
{
    /* one class {A = [1,0,0,0], B = [0,0,0,1]}: point l2sq = 0.125. A resample
     * is (A,A), (B,B) -> mean equals the map, L = 0, or (A,B)/(B,A) -> L =
     * 0.125. A bootstrap that kept the data's mean would give 0.125 always. */
    consistency_acc acc;
    consistency_boot_opts o;
    consistency_ci ci;
    consistency_variant v = {CONS_L2SQ, 0};
    gc_error err;
    const real a[4] = {1, 0, 0, 0}, b[4] = {0, 0, 0, 1};
    static double rep[1000];
    int i, zeros = 0, other = 0, m;
    CHECK(consistency_init(&acc, 1, 2, 2, &err) == GC_OK);
    CHECK(consistency_add(&acc, a, 0, 0, &err) == GC_OK);
    CHECK(consistency_add(&acc, b, 0, 1, &err) == GC_OK);
    consistency_boot_defaults(&o);
    for (m = CONS_BOOT_DIRECT; m <= CONS_BOOT_GRAM; m++) {
        o.method = (consistency_boot_method)m;
        zeros = other = 0;
        CHECK(consistency_bootstrap(&acc, v, &o, &ci, rep, &err) == GC_OK);
        for (i = 0; i < 1000; i++) {
            if (fabs(rep[i]) < 1e-15) zeros++;
            else if (fabs(rep[i] - 0.125) > 1e-15) other++;
        }
        CHECK_MSG(other == 0, "method %d: %d replicates neither 0 nor 0.125", m, other);
        CHECK_MSG(zeros > 400 && zeros < 600, "method %d: %d zero replicates of 1000", m, zeros);
        CHECK_NEAR(ci.lo, 0.0, 1e-15);
        CHECK_NEAR(ci.hi, 0.125, 1e-15);
        CHECK_NEAR(ci.point, 0.125, TOL);
        /* E[replicate] = (n-1)/n * point = 0.0625: bias about -0.0625 */
        CHECK_MSG(fabs(ci.bias + 0.0625) < 0.01, "bias %g", ci.bias);
    }
    consistency_free(&acc);
}

static void test_boot_methods_agree(void)
{
    /* same draws, DIRECT vs GRAM: equal to rounding; AUTO picks GRAM for
     * 16x16 maps and 10 samples per class (bit-identical to forced GRAM) */
    consistency_acc acc;
    consistency_boot_opts o;
    consistency_ci ci;
    consistency_variant vs[2] = {{CONS_L2SQ, 0}, {CONS_L2, 0}};
    gc_error err;
    static double rd[300], rg[300], ra[300];
    int i, k;
    random_set(&acc, 3, 10, 16, 16, 21);
    consistency_boot_defaults(&o);
    o.resamples = 300;
    o.seed = 9;
    for (k = 0; k < 2; k++) {
        double worst = 0;
        o.method = CONS_BOOT_DIRECT;
        CHECK(consistency_bootstrap(&acc, vs[k], &o, &ci, rd, &err) == GC_OK);
        o.method = CONS_BOOT_GRAM;
        CHECK(consistency_bootstrap(&acc, vs[k], &o, &ci, rg, &err) == GC_OK);
        o.method = CONS_BOOT_AUTO;
        CHECK(consistency_bootstrap(&acc, vs[k], &o, &ci, ra, &err) == GC_OK);
        for (i = 0; i < 300; i++) {
            double e = test_rel_err(rg[i], rd[i], 1e-300);
            if (e > worst) worst = e;
        }
        CHECK_MSG(worst < 1e-11, "%s: GRAM vs DIRECT rel err %g", ci.variant, worst);
        CHECK(memcmp(ra, rg, sizeof ra) == 0);
    }
    consistency_free(&acc);
}

static void test_boot_nan_and_bad_options(void)
{
    consistency_acc acc;
    consistency_boot_opts o;
    consistency_ci ci;
    consistency_variant v = {CONS_L2SQ, 0};
    gc_error err;
    const real a[4] = {1, 0, 0, 0};
    double rep[10];
    CHECK(consistency_init(&acc, 2, 2, 2, &err) == GC_OK);
    CHECK(consistency_add(&acc, a, 0, 0, &err) == GC_OK);
    consistency_boot_defaults(&o);
    o.resamples = 10;
    CHECK(consistency_bootstrap(&acc, v, &o, &ci, rep, &err) == GC_OK);
    CHECK(isnan(ci.point) && isnan(ci.lo) && isnan(ci.hi) && isnan(rep[0]));
    CHECK(ci.reason[0] != '\0');
    o.resamples = 0;
    CHECK(consistency_bootstrap(&acc, v, &o, &ci, NULL, &err) == GC_FAIL);
    CHECK_MSG(strstr(err.msg, "metric/bootstrap") != NULL, "%s", err.msg);
    o.resamples = 10;
    o.level = 1.0;
    CHECK(consistency_bootstrap(&acc, v, &o, &ci, NULL, &err) == GC_FAIL);
    o.level = 0.9;
    o.method = (consistency_boot_method)7;
    CHECK(consistency_bootstrap(&acc, v, &o, &ci, NULL, &err) == GC_FAIL);
    consistency_free(&acc);
}

int main(int argc, char **argv)
{
    static const test_case cases[] = {
        TEST_CASE(test_hand_set_l2sq),
        TEST_CASE(test_hand_set_l2),
        TEST_CASE(test_single_add_and_reset),
        TEST_CASE(test_nan_rules),
        TEST_CASE(test_zero_distance_l2),
        TEST_CASE(test_nonfinite_map),
        TEST_CASE(test_bad_input),
        TEST_CASE(test_variant_names),
        TEST_CASE(test_distance_eval),
        TEST_CASE(test_resample_up_pytorch),
        TEST_CASE(test_resample_down_and_odd),
        TEST_CASE(test_grid_variant),
        TEST_CASE(test_boot_deterministic),
        TEST_CASE(test_boot_ci_contains_point),
        TEST_CASE(test_boot_recomputes_mean),
        TEST_CASE(test_boot_methods_agree),
        TEST_CASE(test_boot_nan_and_bad_options),
    };
    return test_main(argc, argv, cases, TEST_COUNT(cases));
}
