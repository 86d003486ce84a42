/*
 * tests/test_metric_stats.c - metric/stats.c: Pearson, Spearman (ties),
 * least-squares line, ranks, percentiles, NaN pairs and degenerate inputs.
 * Expected values worked out in the comments (they agree with
 * scipy.stats.pearsonr / spearmanr and numpy.percentile).
 */
#include "metric/stats.h"
#include "tests/test.h"

#include <math.h>

#define TOL 1e-14

/* x = 1..5, y = [2,4,5,4,5]: means 3, 4; dx = [-2,-1,0,1,2], dy = [-2,0,1,0,1];
 * sxx = 10, syy = 6, sxy = 4+0+0+0+2 = 6 -> r = 6/sqrt(60), slope 0.6,
 * intercept 4 - 0.6*3 = 2.2 */
static const double X5[5] = {1, 2, 3, 4, 5}, Y5[5] = {2, 4, 5, 4, 5};

static void test_pearson_known(void)
{
    const double lin[5] = {3, 5, 7, 9, 11}, neg[5] = {-1, -2, -3, -4, -5};
    size_t used = 0;
    CHECK_NEAR(stats_pearson(X5, Y5, 5, &used), 6.0 / sqrt(60.0), TOL);
    CHECK(used == 5);
    CHECK_NEAR(stats_pearson(X5, lin, 5, NULL), 1.0, TOL);
    CHECK_NEAR(stats_pearson(X5, neg, 5, NULL), -1.0, TOL);
}

static void test_pearson_nan_and_degenerate(void)
{
    /* the NaN / inf pairs are skipped: same r as the clean five pairs */
    const double x[7] = {1, 2, NAN, 3, 4, 5, 6};
    const double y[7] = {2, 4, 1, 5, 4, 5, INFINITY};
    const double c[3] = {2, 2, 2}, d[3] = {1, 2, 3};
    size_t used = 0;
    CHECK_NEAR(stats_pearson(x, y, 7, &used), 6.0 / sqrt(60.0), TOL);
    CHECK(used == 5);
    CHECK(isnan(stats_pearson(x, y, 1, &used)) && used == 1);
    CHECK(isnan(stats_pearson(x, y, 0, &used)) && used == 0);
    CHECK(isnan(stats_pearson(c, d, 3, &used)) && used == 3);  /* zero variance */
    CHECK(isnan(stats_pearson(d, c, 3, NULL)));
}

static void test_ranks(void)
{
    /* [10,20,10,30,20,20]: 10s share ranks 1,2 -> 1.5; 20s share 3,4,5 -> 4 */
    const double v[6] = {10, 20, 10, 30, 20, 20};
    const double want[6] = {1.5, 4, 1.5, 6, 4, 4};
    double r[6];
    int i;
    stats_rank(v, 6, r);
    for (i = 0; i < 6; i++) CHECK_NEAR(r[i], want[i], TOL);
}

static void test_spearman(void)
{
    /* ties: x = [1,2,2,3] -> ranks [1,2.5,2.5,4]; y ranks [1,2,3,4];
     * dx = [-1.5,0,0,1.5], dy = [-1.5,-.5,.5,1.5]: sxy = 4.5, sxx = 4.5,
     * syy = 5 -> rho = 4.5/sqrt(22.5) = 0.9486832980505138 */
    const double x[4] = {1, 2, 2, 3}, y[4] = {1, 2, 3, 4};
    /* monotone but not linear: rho = 1, Pearson < 1 */
    const double cube[5] = {1, 8, 27, 64, 125};
    const double xn[5] = {1, NAN, 2, 2, 3}, yn[5] = {1, 5, 2, 3, 4};
    size_t used = 0;
    CHECK_NEAR(stats_spearman(x, y, 4, &used), 4.5 / sqrt(22.5), TOL);
    CHECK(used == 4);
    CHECK_NEAR(stats_spearman(X5, cube, 5, NULL), 1.0, TOL);
    CHECK(stats_pearson(X5, cube, 5, NULL) < 0.99);
    CHECK_NEAR(stats_spearman(xn, yn, 5, &used), 4.5 / sqrt(22.5), TOL);
    CHECK(used == 4);
    CHECK(isnan(stats_spearman(x, y, 1, &used)));
}

static void test_linfit(void)
{
    const double x[4] = {0, 1, NAN, 2}, y[4] = {1, 3, 0, 5}, c[3] = {1, 1, 1};
    double s, b;
    CHECK(stats_linfit(X5, Y5, 5, &s, &b) == 5);
    CHECK_NEAR(s, 0.6, TOL);
    CHECK_NEAR(b, 2.2, TOL);
    CHECK(stats_linfit(x, y, 4, &s, &b) == 3);  /* y = 2x + 1, NaN pair skipped */
    CHECK_NEAR(s, 2.0, TOL);
    CHECK_NEAR(b, 1.0, TOL);
    CHECK(stats_linfit(c, X5, 3, &s, &b) == 3);
    CHECK(isnan(s) && isnan(b));
}

static void test_percentile(void)
{
    /* numpy.percentile([1,2,3,4], q): position q/100 * 3 */
    double v[4] = {4, 1, 3, 2};
    stats_sort(v, 4);
    CHECK(v[0] == 1 && v[3] == 4);
    CHECK_NEAR(stats_percentile_sorted(v, 4, 0.5), 2.5, TOL);
    CHECK_NEAR(stats_percentile_sorted(v, 4, 0.025), 1.075, TOL);
    CHECK_NEAR(stats_percentile_sorted(v, 4, 0.975), 3.925, TOL);
    CHECK(stats_percentile_sorted(v, 4, 0.0) == 1 && stats_percentile_sorted(v, 4, 1.0) == 4);
    CHECK(stats_percentile_sorted(v, 1, 0.3) == 1);
    CHECK(isnan(stats_percentile_sorted(v, 0, 0.5)));
}

int main(int argc, char **argv)
{
    static const test_case cases[] = {
        TEST_CASE(test_pearson_known),
        TEST_CASE(test_pearson_nan_and_degenerate),
        TEST_CASE(test_ranks),
        TEST_CASE(test_spearman),
        TEST_CASE(test_linfit),
        TEST_CASE(test_percentile),
    };
    return test_main(argc, argv, cases, TEST_COUNT(cases));
}
