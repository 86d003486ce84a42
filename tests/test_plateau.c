/*
 * tests/test_plateau.c - nn/plateau against scripted metric sequences with
 * the learning rate derived by hand from PyTorch's rules (nn/plateau.h);
 * each expected sequence is also what torch 1.13's ReduceLROnPlateau
 * printed for the same input. Plus cooldown, min_lr, eps, mode max with an
 * absolute threshold, NaN metrics, state export/import, config checks.
 */
#include "nn/plateau.h"
#include "tests/test.h"

#include <string.h>

/* Run metrics through a scheduler built from cfg, starting at lr0, and
 * compare the lr after every step with expect (relative 1e-15). */
static void run_at(int line, const plateau_config *cfg, double lr0, const double *metrics,
                   const double *expect, int n)
{
    plateau p;
    gc_error e;
    double lr = lr0;
    int i;
    if (plateau_init(&p, cfg, &e) != GC_OK) {
        test_report(__FILE__, line, "plateau_init: %s", e.msg);
        return;
    }
    for (i = 0; i < n; i++) {
        double before = lr;
        int reduced = plateau_step(&p, metrics[i], &lr);
        if (fabs(lr - expect[i]) > 1e-15 * expect[i])
            test_report(__FILE__, line, "epoch %d: lr %.17g, expected %.17g", i + 1, lr,
                        expect[i]);
        if (reduced != (lr != before))
            test_report(__FILE__, line, "epoch %d: return value %d disagrees", i + 1, reduced);
    }
    if (p.last_epoch != n) test_report(__FILE__, line, "last_epoch %d", p.last_epoch);
}
#define RUN(cfg, lr0, m, x) run_at(__LINE__, cfg, lr0, m, x, (int)(sizeof(m) / sizeof(m[0])))

static void test_defaults(void)
{
    plateau_config c = plateau_defaults();
    plateau p;
    gc_error e;
    CHECK(c.mode == PLATEAU_MIN && c.threshold_mode == PLATEAU_REL);
    CHECK(c.factor == 0.1 && c.patience == 10 && c.threshold == 1e-4);
    CHECK(c.cooldown == 0 && c.min_lr == 0.0 && c.eps == 1e-8);
    CHECK(plateau_init(&p, &c, &e) == GC_OK);
    CHECK(isinf(p.best) && p.best > 0 && p.num_bad_epochs == 0 && p.cooldown_counter == 0);
}

/* patience 2, threshold 1e-4 relative (better means a < best * 0.9999):
 *  e1 10: best 10            e2 9: best 9         e3-e4 9: bad 1, 2
 *  e5 9: bad 3 > 2 -> lr 0.1, bad 0                e6 8: best 8
 *  e7 8.9999, e8 8: bad 1, 2 (8 is not < 8 * 0.9999)  e9 8: bad 3 -> 0.01
 *  e10, e11 8: bad 1, 2      e12 8: -> 0.001
 *  e13 7.9993 (not < 7.9992): bad 1    e14 7.9991: best, bad 0. */
static void test_patience_and_threshold(void)
{
    static const double m[] = {10, 9, 9, 9, 9, 8, 8.9999, 8, 8, 8, 8, 8, 7.9993, 7.9991};
    static const double x[] = {1, 1, 1, 1, 0.1, 0.1, 0.1, 0.1, 0.1 * 0.1, 0.1 * 0.1,
                               0.1 * 0.1, 0.1 * 0.1 * 0.1, 0.1 * 0.1 * 0.1, 0.1 * 0.1 * 0.1};
    plateau_config c = plateau_defaults();
    c.patience = 2;
    RUN(&c, 1.0, m, x);
}

/* patience 0, cooldown 2, constant metric:
 *  e1 best   e2 bad 1 > 0 -> 0.1, cooldown 2   e3, e4: in cooldown (bad reset)
 *  e5 -> 0.01   e6, e7 cooldown   e8 -> 0.001 */
static void test_cooldown(void)
{
    static const double m[] = {1, 1, 1, 1, 1, 1, 1, 1};
    static const double x[] = {1, 0.1, 0.1, 0.1, 0.1 * 0.1, 0.1 * 0.1, 0.1 * 0.1,
                               0.1 * 0.1 * 0.1};
    plateau_config c = plateau_defaults();
    c.patience = 0;
    c.cooldown = 2;
    RUN(&c, 1.0, m, x);
}

/* min_lr clamps; a change of eps or less is skipped. */
static void test_min_lr_and_eps(void)
{
    static const double m[] = {1, 1, 1, 1};
    static const double x_eps[] = {1e-7, 1e-7 * 0.1, 1e-7 * 0.1, 1e-7 * 0.1};
    static const double x_min[] = {0.1, 0.05, 0.05, 0.05};
    plateau_config c = plateau_defaults();
    c.patience = 0;
    RUN(&c, 1e-7, m, x_eps);   /* 1e-7 -> 1e-8 (change 9e-8 > eps), then 9e-9 <= eps */
    c.min_lr = 0.05;
    RUN(&c, 0.1, m, x_min);
}

/* mode max, abs threshold 0.5, patience 1: better means a > best + 0.5.
 *  e1 1: best  e2 2: best  e3 2.5 (not > 2.5): bad 1  e4 2.5: bad 2 -> 0.1
 *  e5 2.5: bad 1  e6 2.6 (> 2 + 0.5): best  e7 2.59 (not > 3.1): bad 1. */
static void test_mode_max_abs(void)
{
    static const double m[] = {1, 2, 2.5, 2.5, 2.5, 2.6, 2.59};
    static const double x[] = {1, 1, 1, 0.1, 0.1, 0.1, 0.1};
    plateau_config c = plateau_defaults();
    c.mode = PLATEAU_MAX;
    c.threshold_mode = PLATEAU_ABS;
    c.threshold = 0.5;
    c.patience = 1;
    RUN(&c, 1.0, m, x);
}

/* NaN is never better: with patience 1, two NaNs in a row reduce. */
static void test_nan_metric(void)
{
    static const double x[] = {1, 1, 0.1, 0.1};
    double m[4];
    plateau_config c = plateau_defaults();
    m[0] = 1;
    m[1] = NAN;
    m[2] = NAN;
    m[3] = 0.5;
    c.patience = 1;
    RUN(&c, 1.0, m, x);
}

static void test_state_export_import(void)
{
    static const double m[] = {5, 4, 4, 4, 4, 3, 3, 3, 3, 3, 3};
    plateau_config c = plateau_defaults();
    plateau a, b;
    double s[PLATEAU_STATE_LEN], bad[PLATEAU_STATE_LEN], lra = 1, lrb;
    gc_error e;
    int i;
    c.patience = 1;
    c.cooldown = 1;
    CHECK(plateau_init(&a, &c, &e) == GC_OK);
    for (i = 0; i < 4; i++) plateau_step(&a, m[i], &lra);
    plateau_state_export(&a, s);
    CHECK(s[0] == 4 && s[3] == 4 && s[7] == 1 && s[9] == 1);
    memset(&b, 0, sizeof b);
    CHECK(plateau_state_import(&b, s, &e) == GC_OK);
    lrb = lra;
    for (; i < 11; i++) {
        int ka = plateau_step(&a, m[i], &lra), kb = plateau_step(&b, m[i], &lrb);
        CHECK(ka == kb && lra == lrb);
    }
    CHECK(lra < 0.1 && a.best == 3 && b.best == 3);

    memcpy(bad, s, sizeof s);
    bad[1] = -1;
    CHECK(plateau_state_import(&b, bad, &e) == GC_FAIL);
    memcpy(bad, s, sizeof s);
    bad[6] = 1.0;   /* factor */
    CHECK(plateau_state_import(&b, bad, &e) == GC_FAIL && strstr(e.msg, "factor"));
    memcpy(bad, s, sizeof s);
    bad[4] = 2;     /* mode */
    CHECK(plateau_state_import(&b, bad, &e) == GC_FAIL && strstr(e.msg, "mode"));
    memcpy(bad, s, sizeof s);
    bad[0] = NAN;
    CHECK(plateau_state_import(&b, bad, &e) == GC_FAIL);
    CHECK(b.best == 3 && b.last_epoch == 11);   /* unchanged by the failed imports */
}

static void test_invalid_config(void)
{
    plateau p;
    gc_error e;
    plateau_config c = plateau_defaults();
    c.factor = 1.0;
    CHECK(plateau_init(&p, &c, &e) == GC_FAIL && strstr(e.msg, "factor"));
    c = plateau_defaults();
    c.patience = -1;
    CHECK(plateau_init(&p, &c, &e) == GC_FAIL && strstr(e.msg, "patience"));
    c = plateau_defaults();
    c.min_lr = NAN;
    CHECK(plateau_init(&p, &c, &e) == GC_FAIL);
    c = plateau_defaults();
    c.mode = (plateau_mode)7;
    CHECK(plateau_init(&p, &c, &e) == GC_FAIL);
}

int main(int argc, char **argv)
{
    static const test_case cases[] = {
        TEST_CASE(test_defaults),
        TEST_CASE(test_patience_and_threshold),
        TEST_CASE(test_cooldown),
        TEST_CASE(test_min_lr_and_eps),
        TEST_CASE(test_mode_max_abs),
        TEST_CASE(test_nan_metric),
        TEST_CASE(test_state_export_import),
        TEST_CASE(test_invalid_config),
    };
    return test_main(argc, argv, cases, TEST_COUNT(cases));
}
