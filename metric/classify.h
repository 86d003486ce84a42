/*
 * metric/classify.h - accuracy, confusion matrix, Cohen's kappa and per-class
 * precision / recall (DESIGN.md section 5, experiment 1: accuracy and kappa
 * on the test split after every epoch).
 *
 *   m[t][p]  = number of samples with true class t predicted as p
 *              (rows = true, columns = predicted; the public code's layout)
 *   p_o      = trace(m) / N                           (= accuracy)
 *   p_e      = sum_c (row_c / N) (col_c / N)
 *   kappa    = (p_o - p_e) / (1 - p_e);  kappa = 0 when p_e == 1
 *              (every true label and every prediction is one class), as the
 *              public kappa_calculator.py does; NaN when N == 0.
 * The public code tests p_e == 1 with torch.isclose in float32; here the
 * test is exact (some class holds all N rows and all N columns), which
 * differs only for sets so skewed that 1 - p_e < 1e-5.
 *
 * Deliberately not here: weighted kappa, F-scores, averaging schemes.
 */
#ifndef GC_METRIC_CLASSIFY_H
#define GC_METRIC_CLASSIFY_H

#include "nn/core.h"

#define CONFUSION_MAX_CLASSES 65536

typedef struct confusion {
    size_t classes;
    uint64_t *m;            /* (classes, classes): m[t * classes + p] */
    uint64_t total;         /* N = sum of m */
} confusion;

int confusion_init(confusion *cm, size_t classes, gc_error *err);
void confusion_reset(confusion *cm);              /* all counts 0 */
void confusion_free(confusion *cm);
/* Count one sample; GC_FAIL if label or pred is outside [0, classes). */
int confusion_add(confusion *cm, int label, int pred, gc_error *err);
/* Count n samples (stops at the first bad one, which the message names). */
int confusion_add_batch(confusion *cm, const int *labels, const int *preds,
                        size_t n, gc_error *err);

double confusion_accuracy(const confusion *cm);  /* p_o; NaN if N == 0 */
double confusion_kappa(const confusion *cm);     /* see above */
/* m[c][c] / column sum (NaN if class c was never predicted). */
double confusion_precision(const confusion *cm, size_t c);
/* m[c][c] / row sum (NaN if class c has no samples). */
double confusion_recall(const confusion *cm, size_t c);

/* Plain-array forms, for callers that hold counts elsewhere: m is (k, k). */
double kappa_from_counts(const uint64_t *m, size_t k);

#endif
