/*
 * tests/test_metric_ema.c - metric/ema.c (EMA class references: a known
 * three-update sequence, untouched classes, batch mean over selected rows,
 * save / restore) and metric/curriculum.c (lambda_t of the paper's schedule,
 * the T1 <= T0 step, negative lambda).
 */
#include "metric/curriculum.h"
#include "metric/ema.h"
#include "tests/test.h"

#include <math.h>
#include <string.h>

#define TOL 1e-14

static void test_ema_sequence(void)
{
    /* a = 0.9, class 0, 1x2 maps:
     *   m1 = [1, 0]     -> ref = m1 (first time)            = [1, 0]
     *   m2 = [0, 1]     -> 0.9*[1,0] + 0.1*[0,1]            = [0.9, 0.1]
     *   m3 = [0.5, 0.5] -> 0.9*[0.9,0.1] + 0.1*[0.5,0.5]    = [0.86, 0.14] */
    ema_refs e;
    gc_error err;
    const real m1[2] = {1, 0}, m2[2] = {0, 1}, m3[2] = {0.5, 0.5};
    CHECK(ema_init(&e, 2, 1, 2, EMA_DEFAULT_ALPHA, &err) == GC_OK);
    CHECK(ema_ref(&e, 0) == NULL && e.initialized[0] == 0);
    ema_update(&e, 0, m1);
    CHECK(e.initialized[0] == 1 && ema_ref(&e, 0) == e.ref);
    CHECK(e.ref[0] == 1 && e.ref[1] == 0);
    ema_update(&e, 0, m2);
    CHECK_NEAR(e.ref[0], 0.9, TOL);
    CHECK_NEAR(e.ref[1], 0.1, TOL);
    ema_update(&e, 0, m3);
    CHECK_NEAR(e.ref[0], 0.86, TOL);
    CHECK_NEAR(e.ref[1], 0.14, TOL);
    /* class 1 was never updated: still uninitialised, zero */
    CHECK(ema_ref(&e, 1) == NULL && e.initialized[1] == 0);
    CHECK(e.ref[2] == 0 && e.ref[3] == 0);
    ema_reset(&e);
    CHECK(ema_ref(&e, 0) == NULL && e.ref[0] == 0);
    ema_free(&e);
}

static void test_ema_update_maps(void)
{
    /* rows {0, 2} of three 1x2 maps: mean of [1,3] and [3,5] = [2,4] (first:
     * copied); then rows NULL, first 2 maps: mean [1.5, 2.5] ->
     * 0.5*[2,4] + 0.5*[1.5,2.5] = [1.75, 3.25] with a = 0.5 */
    ema_refs e;
    gc_error err;
    const real cams[6] = {1, 3, 2, 2, 3, 5};
    const int rows[2] = {0, 2};
    CHECK(ema_init(&e, 3, 1, 2, 0.5, &err) == GC_OK);
    ema_update_maps(&e, 2, cams, rows, 2);
    CHECK(ema_ref(&e, 2) != NULL);
    CHECK_NEAR(ema_ref(&e, 2)[0], 2.0, TOL);
    CHECK_NEAR(ema_ref(&e, 2)[1], 4.0, TOL);
    ema_update_maps(&e, 2, cams, NULL, 2);
    CHECK_NEAR(ema_ref(&e, 2)[0], 1.75, TOL);
    CHECK_NEAR(ema_ref(&e, 2)[1], 3.25, TOL);
    CHECK(ema_ref(&e, 0) == NULL && ema_ref(&e, 1) == NULL);
    ema_free(&e);
}

static void test_ema_save_restore(void)
{
    ema_refs a, b;
    gc_error err;
    real saved_ref[4];
    uint8_t saved_flags[2], bad_flags[2] = {2, 0};
    const real m1[2] = {0.25, 0.75}, m2[2] = {1, 0};
    CHECK(ema_init(&a, 2, 1, 2, 0.9, &err) == GC_OK);
    CHECK(ema_init(&b, 2, 1, 2, 0.9, &err) == GC_OK);
    ema_update(&a, 1, m1);
    memcpy(saved_ref, a.ref, sizeof saved_ref);
    memcpy(saved_flags, a.initialized, sizeof saved_flags);
    CHECK(ema_restore(&b, saved_ref, saved_flags, &err) == GC_OK);
    CHECK(b.initialized[0] == 0 && b.initialized[1] == 1);
    /* the same next update on both gives the same bits */
    ema_update(&a, 1, m2);
    ema_update(&b, 1, m2);
    CHECK(memcmp(a.ref, b.ref, 4 * sizeof(real)) == 0);
    /* malformed saved state is refused and leaves b unchanged */
    CHECK(ema_restore(&b, saved_ref, bad_flags, &err) == GC_FAIL);
    CHECK_MSG(strstr(err.msg, "metric/ema") && strstr(err.msg, "class 0"), "%s", err.msg);
    saved_ref[2] = (real)NAN;
    CHECK(ema_restore(&b, saved_ref, saved_flags, &err) == GC_FAIL);
    CHECK_MSG(strstr(err.msg, "non-finite") != NULL, "%s", err.msg);
    CHECK(memcmp(a.ref, b.ref, 4 * sizeof(real)) == 0);
    /* a NaN in an uninitialised class's slot is ignored data, accepted */
    saved_ref[2] = 0;
    saved_ref[0] = (real)NAN;
    CHECK(ema_restore(&b, saved_ref, saved_flags, &err) == GC_OK);
    ema_free(&a);
    ema_free(&b);
}

static void test_ema_bad_init(void)
{
    ema_refs e;
    gc_error err;
    CHECK(ema_init(&e, 0, 2, 2, 0.9, &err) == GC_FAIL);
    CHECK(ema_init(&e, 2, 0, 2, 0.9, &err) == GC_FAIL);
    CHECK(ema_init(&e, 2, (size_t)-1, 2, 0.9, &err) == GC_FAIL);
    CHECK(ema_init(&e, 2, 2, 2, 1.5, &err) == GC_FAIL);
    CHECK_MSG(strstr(err.msg, "metric/ema") && strstr(err.msg, "1.5"), "%s", err.msg);
    CHECK(ema_init(&e, 2, 2, 2, NAN, &err) == GC_FAIL);
}

static void test_lambda_paper_schedule(void)
{
    /* T0 = 2, T1 = 10, lambda_max = 100: 0 at epochs 1, 2, then 100 (t-2)/8 */
    const double want[12] = {0, 0, 12.5, 25, 37.5, 50, 62.5, 75, 87.5, 100, 100, 100};
    int t;
    for (t = 1; t <= 12; t++)
        CHECK_MSG(curriculum_lambda(100, 2, 10, t) == want[t - 1], "epoch %d: %g, expected %g",
                  t, curriculum_lambda(100, 2, 10, t), want[t - 1]);
    CHECK(curriculum_lambda(100, 2, 10, 50) == 100);
}

static void test_lambda_edge_cases(void)
{
    int t;
    /* negative lambda: the same ramp, negated */
    CHECK(curriculum_lambda(-100, 2, 10, 1) == 0);
    CHECK(!signbit(curriculum_lambda(-100, 2, 10, 2))); /* 0, not -0 (printed "-0") */
    CHECK(curriculum_lambda(-100, 2, 10, 4) == -25);
    CHECK(curriculum_lambda(-100, 2, 10, 11) == -100);
    /* lambda_max 0: always 0 */
    for (t = 1; t <= 12; t++) CHECK(curriculum_lambda(0, 2, 10, t) == 0);
    /* T1 == T0 = 3: a step at T0 */
    CHECK(curriculum_lambda(50, 3, 3, 2) == 0);
    CHECK(curriculum_lambda(50, 3, 3, 3) == 50);
    CHECK(curriculum_lambda(50, 3, 3, 4) == 50);
    /* T1 < T0: also a step at T0 */
    CHECK(curriculum_lambda(500, 5, 3, 4) == 0);
    CHECK(curriculum_lambda(500, 5, 3, 5) == 500);
    /* T0 = 1 (no warm-up delay): ramp starts at 0 in epoch 1 */
    CHECK(curriculum_lambda(100, 1, 5, 1) == 0);
    CHECK(curriculum_lambda(100, 1, 5, 3) == 50);
    CHECK(curriculum_lambda(100, 1, 5, 5) == 100);
}

int main(int argc, char **argv)
{
    static const test_case cases[] = {
        TEST_CASE(test_ema_sequence),
        TEST_CASE(test_ema_update_maps),
        TEST_CASE(test_ema_save_restore),
        TEST_CASE(test_ema_bad_init),
        TEST_CASE(test_lambda_paper_schedule),
        TEST_CASE(test_lambda_edge_cases),
    };
    return test_main(argc, argv, cases, TEST_COUNT(cases));
}
