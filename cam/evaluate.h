/*
 * cam/evaluate.h - one pass of a model over a dataset in eval mode: mean CE,
 * predictions, confusion matrix (accuracy, kappa) and the Grad-CAM maps of
 * the correctly classified samples, collected for the consistency metric
 * (DESIGN.md section 1, "Consistency metric on a dataset D"). The train
 * program calls it after every epoch, the eval program once; both then
 * finish the metric with the variants they report (consistency_finish).
 */
#ifndef GC_EVALUATE_H
#define GC_EVALUATE_H

#include "cam/step.h"
#include "io/dataset.h"
#include "metric/classify.h"
#include "metric/consistency.h"

typedef struct eval_pass {
    size_t count;
    double ce;              /* mean cross-entropy over the dataset */
    confusion cm;           /* rows = true class */
    consistency_acc maps;   /* CAMs of the correct samples (label == pred) */
    int *pred;              /* (count) predicted class per sample */
    real *x;                /* (max_n, C, H, W) batch scratch */
    int *labels;            /* (max_n) */
    real *cams;             /* (max_n, Z) */
} eval_pass;

int eval_pass_init(eval_pass *ev, const model *m, size_t count, gc_error *err);
void eval_pass_free(eval_pass *ev);

/* Run the model (eval mode, restored to train mode afterwards if it was)
 * over ds in batches of up to the model's batch capacity. Deterministic. */
int eval_pass_run(eval_pass *ev, train_step *st, dataset *ds, gc_error *err);

#endif
