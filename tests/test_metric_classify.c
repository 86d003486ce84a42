/*
 * tests/test_metric_classify.c - metric/classify.c: confusion layout (rows =
 * true, columns = predicted), accuracy, Cohen's kappa on textbook matrices
 * (expected values worked out in the comments), the p_e == 1 rule,
 * precision / recall, bad labels.
 */
#include "metric/classify.h"
#include "tests/test.h"

#include <math.h>
#include <string.h>

#define TOL 1e-14

/* fill cm from a k x k matrix of counts through confusion_add */
static void fill(confusion *cm, const int *m, int k)
{
    gc_error err;
    int t, p, i;
    CHECK(confusion_init(cm, (size_t)k, &err) == GC_OK);
    for (t = 0; t < k; t++)
        for (p = 0; p < k; p++)
            for (i = 0; i < m[t * k + p]; i++) CHECK(confusion_add(cm, t, p, &err) == GC_OK);
}

static void test_layout(void)
{
    confusion cm;
    gc_error err;
    const int labels[3] = {0, 0, 2}, preds[3] = {1, 0, 1};
    CHECK(confusion_init(&cm, 3, &err) == GC_OK);
    CHECK(confusion_add_batch(&cm, labels, preds, 3, &err) == GC_OK);
    CHECK(cm.total == 3);
    CHECK(cm.m[0 * 3 + 1] == 1);  /* true 0 predicted 1 */
    CHECK(cm.m[0 * 3 + 0] == 1);
    CHECK(cm.m[2 * 3 + 1] == 1);  /* true 2 predicted 1 */
    CHECK(cm.m[1 * 3 + 2] == 0);
    CHECK_NEAR(confusion_accuracy(&cm), 1.0 / 3.0, TOL);
    confusion_reset(&cm);
    CHECK(cm.total == 0 && cm.m[1] == 0);
    confusion_free(&cm);
}

static void test_kappa_textbook(void)
{
    /* [[20,5],[10,15]]: N = 50, p_o = 35/50 = 0.7; rows 25,25; cols 30,20;
     * p_e = (25*30 + 25*20)/2500 = 0.5; kappa = (0.7-0.5)/(1-0.5) = 0.4 */
    const int m[4] = {20, 5, 10, 15};
    confusion cm;
    fill(&cm, m, 2);
    CHECK_NEAR(confusion_accuracy(&cm), 0.7, TOL);
    CHECK_NEAR(confusion_kappa(&cm), 0.4, TOL);
    /* precision = diag / column: 20/30, 15/20; recall = diag / row: 20/25, 15/25 */
    CHECK_NEAR(confusion_precision(&cm, 0), 20.0 / 30.0, TOL);
    CHECK_NEAR(confusion_precision(&cm, 1), 0.75, TOL);
    CHECK_NEAR(confusion_recall(&cm, 0), 0.8, TOL);
    CHECK_NEAR(confusion_recall(&cm, 1), 0.6, TOL);
    confusion_free(&cm);
}

static void test_kappa_three_classes(void)
{
    /* [[10,2,3],[1,12,2],[4,1,15]]: N = 50, diag 37 -> p_o = 0.74;
     * rows 15,15,20; cols 15,15,20; p_e = (225+225+400)/2500 = 0.34;
     * kappa = (0.74-0.34)/0.66 = 0.40/0.66 = 20/33 */
    const int m[9] = {10, 2, 3, 1, 12, 2, 4, 1, 15};
    uint64_t raw[9];
    confusion cm;
    int i;
    fill(&cm, m, 3);
    CHECK_NEAR(confusion_kappa(&cm), 20.0 / 33.0, TOL);
    for (i = 0; i < 9; i++) raw[i] = (uint64_t)m[i];
    CHECK_NEAR(kappa_from_counts(raw, 3), 20.0 / 33.0, TOL);
    confusion_free(&cm);
}

static void test_kappa_extremes(void)
{
    /* perfect: kappa 1; anti-diagonal [[0,5],[5,0]]: p_o 0, p_e 0.5 -> -1 */
    const int perfect[4] = {7, 0, 0, 3}, anti[4] = {0, 5, 5, 0};
    /* everything true class 1 and predicted 1: p_e = 1 -> kappa 0 (public
     * code's rule), accuracy 1 */
    const int one[9] = {0, 0, 0, 0, 8, 0, 0, 0, 0};
    /* true labels all class 0 but predictions mixed: p_e = 1*0.6 = 0.6,
     * p_o = 0.6 -> kappa 0 by the formula, not by the rule */
    const int skew[4] = {6, 4, 0, 0};
    confusion cm;
    fill(&cm, perfect, 2);
    CHECK_NEAR(confusion_kappa(&cm), 1.0, TOL);
    confusion_free(&cm);
    fill(&cm, anti, 2);
    CHECK_NEAR(confusion_kappa(&cm), -1.0, TOL);
    confusion_free(&cm);
    fill(&cm, one, 3);
    CHECK(confusion_kappa(&cm) == 0.0);
    CHECK(confusion_accuracy(&cm) == 1.0);
    CHECK(isnan(confusion_precision(&cm, 0)) && isnan(confusion_recall(&cm, 2)));
    CHECK(confusion_precision(&cm, 1) == 1.0);
    confusion_free(&cm);
    fill(&cm, skew, 2);
    CHECK_NEAR(confusion_kappa(&cm), 0.0, TOL);
    CHECK_NEAR(confusion_accuracy(&cm), 0.6, TOL);
    confusion_free(&cm);
}

static void test_empty_and_bad(void)
{
    confusion cm;
    gc_error err;
    const int labels[3] = {0, 1, 4}, preds[3] = {0, 1, 0};
    CHECK(confusion_init(&cm, 0, &err) == GC_FAIL);
    CHECK(confusion_init(&cm, 2, &err) == GC_OK);
    CHECK(isnan(confusion_accuracy(&cm)) && isnan(confusion_kappa(&cm)));
    CHECK(confusion_add(&cm, 2, 0, &err) == GC_FAIL);
    CHECK_MSG(strstr(err.msg, "metric/classify") && strstr(err.msg, "label 2"), "%s", err.msg);
    CHECK(confusion_add(&cm, 0, -1, &err) == GC_FAIL);
    CHECK_MSG(strstr(err.msg, "prediction -1") != NULL, "%s", err.msg);
    CHECK(cm.total == 0);
    CHECK(confusion_add_batch(&cm, labels, preds, 3, &err) == GC_FAIL);
    CHECK(cm.total == 2);
    confusion_free(&cm);
}

int main(int argc, char **argv)
{
    static const test_case cases[] = {
        TEST_CASE(test_layout),
        TEST_CASE(test_kappa_textbook),
        TEST_CASE(test_kappa_three_classes),
        TEST_CASE(test_kappa_extremes),
        TEST_CASE(test_empty_and_bad),
    };
    return test_main(argc, argv, cases, TEST_COUNT(cases));
}
