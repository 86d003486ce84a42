/*
 * metric/classify.c - confusion matrix, accuracy, Cohen's kappa, precision
 * and recall (DESIGN.md section 5, experiment 1). Formulas and the p_e == 1
 * rule are in classify.h.
 */
#include "metric/classify.h"

#include <math.h>
#include <string.h>

int confusion_init(confusion *cm, size_t classes, gc_error *err)
{
    memset(cm, 0, sizeof *cm);
    if (classes == 0 || classes > CONFUSION_MAX_CLASSES)
        return gc_fail(err, "metric/classify: number of classes %zu outside [1, %d]",
                       classes, CONFUSION_MAX_CLASSES);
    cm->classes = classes;
    cm->m = gc_calloc(classes * classes, sizeof *cm->m);
    return GC_OK;
}

void confusion_reset(confusion *cm)
{
    memset(cm->m, 0, cm->classes * cm->classes * sizeof *cm->m);
    cm->total = 0;
}

void confusion_free(confusion *cm)
{
    free(cm->m);
    memset(cm, 0, sizeof *cm);
}

int confusion_add(confusion *cm, int label, int pred, gc_error *err)
{
    if (label < 0 || (size_t)label >= cm->classes)
        return gc_fail(err, "metric/classify: true label %d outside [0, %zu)", label,
                       cm->classes);
    if (pred < 0 || (size_t)pred >= cm->classes)
        return gc_fail(err, "metric/classify: prediction %d outside [0, %zu)", pred,
                       cm->classes);
    cm->m[(size_t)label * cm->classes + (size_t)pred]++;
    cm->total++;
    return GC_OK;
}

int confusion_add_batch(confusion *cm, const int *labels, const int *preds,
                        size_t n, gc_error *err)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (confusion_add(cm, labels[i], preds[i], err) != GC_OK) return GC_FAIL;
    return GC_OK;
}

double confusion_accuracy(const confusion *cm)
{
    uint64_t diag = 0;
    size_t c;
    if (cm->total == 0) return NAN;
    for (c = 0; c < cm->classes; c++) diag += cm->m[c * cm->classes + c];
    return (double)diag / (double)cm->total;
}

double kappa_from_counts(const uint64_t *m, size_t k)
{
    uint64_t n = 0, diag = 0;
    double po, pe = 0, dn;
    size_t t, p;
    for (t = 0; t < k; t++)
        for (p = 0; p < k; p++) n += m[t * k + p];
    if (n == 0) return NAN;
    dn = (double)n;
    for (t = 0; t < k; t++) {
        uint64_t row = 0, col = 0;
        for (p = 0; p < k; p++) {
            row += m[t * k + p];
            col += m[p * k + t];
        }
        diag += m[t * k + t];
        if (row == n && col == n) return 0.0; /* p_e == 1 exactly */
        pe += ((double)row / dn) * ((double)col / dn);
    }
    po = (double)diag / dn;
    return (po - pe) / (1.0 - pe);
}

double confusion_kappa(const confusion *cm)
{
    return kappa_from_counts(cm->m, cm->classes);
}

double confusion_precision(const confusion *cm, size_t c)
{
    uint64_t col = 0;
    size_t t;
    GC_CHECK(c < cm->classes);
    for (t = 0; t < cm->classes; t++) col += cm->m[t * cm->classes + c];
    return col ? (double)cm->m[c * cm->classes + c] / (double)col : NAN;
}

double confusion_recall(const confusion *cm, size_t c)
{
    uint64_t row = 0;
    size_t p;
    GC_CHECK(c < cm->classes);
    for (p = 0; p < cm->classes; p++) row += cm->m[c * cm->classes + p];
    return row ? (double)cm->m[c * cm->classes + c] / (double)row : NAN;
}
