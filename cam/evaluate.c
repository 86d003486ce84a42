/*
 * cam/evaluate.c - evaluate a model on a dataset (see evaluate.h).
 * Grad-CAM here is the eval-mode map for the predicted class, which for the
 * samples that enter the metric (label == pred) is the true class.
 */
#include "cam/evaluate.h"

#include <string.h>

#include "nn/loss.h"

int eval_pass_init(eval_pass *ev, const model *m, size_t count, gc_error *err)
{
    int max_n = m->ctx.max_n;
    size_t in = (size_t)m->in_c * m->in_h * m->in_w;
    memset(ev, 0, sizeof *ev);
    if (confusion_init(&ev->cm, (size_t)m->classes, err) != GC_OK) return GC_FAIL;
    if (consistency_init(&ev->maps, (size_t)m->classes, (size_t)m->cam_h, (size_t)m->cam_w,
                         err) != GC_OK) {
        confusion_free(&ev->cm);
        return GC_FAIL;
    }
    ev->count = count;
    ev->pred = (int *)gc_calloc(count ? count : 1, sizeof(int));
    ev->x = (real *)gc_calloc((size_t)max_n * in, sizeof(real));
    ev->labels = (int *)gc_calloc((size_t)max_n, sizeof(int));
    ev->cams = (real *)gc_calloc((size_t)max_n * m->cam_h * m->cam_w, sizeof(real));
    return GC_OK;
}

void eval_pass_free(eval_pass *ev)
{
    confusion_free(&ev->cm);
    consistency_free(&ev->maps);
    free(ev->pred);
    free(ev->x);
    free(ev->labels);
    free(ev->cams);
    memset(ev, 0, sizeof *ev);
}

int eval_pass_run(eval_pass *ev, train_step *st, dataset *ds, gc_error *err)
{
    model *m = st->m;
    int max_n = m->ctx.max_n, was_train = m->ctx.train;
    size_t in = (size_t)m->in_c * m->in_h * m->in_w, start;
    double ce_sum = 0;
    if (ds->count != ev->count)
        return gc_fail(err, "evaluate: dataset has %zu images, pass sized for %zu", ds->count,
                       ev->count);
    if (ds->size != m->in_h || ds->channels != m->in_c)
        return gc_fail(err, "evaluate: dataset images are %dx%dx%d, the model takes %dx%dx%d",
                       ds->channels, ds->size, ds->size, m->in_c, m->in_h, m->in_w);
    confusion_reset(&ev->cm);
    consistency_reset(&ev->maps);
    model_set_train(m, 0);
    for (start = 0; start < ds->count; start += (size_t)max_n) {
        int n = (int)(ds->count - start < (size_t)max_n ? ds->count - start : (size_t)max_n), i;
        int *pred = ev->pred + start;
        for (i = 0; i < n; i++) {
            dataset_get(ds, start + (size_t)i, 0, NULL, ev->x + (size_t)i * in);
            ev->labels[i] = ds->labels[start + (size_t)i];
        }
        model_forward(m, ev->x, n);
        ce_sum += ce_loss(m->logits, ev->labels, (size_t)n, (size_t)m->classes, NULL, pred) * n;
        step_gradcam_current(st, pred, n, ev->cams);
        if (confusion_add_batch(&ev->cm, ev->labels, pred, (size_t)n, err) != GC_OK ||
            consistency_add_batch(&ev->maps, ev->cams, (size_t)n, ev->labels, pred, start,
                                  err) != GC_OK) {
            model_set_train(m, was_train);
            return GC_FAIL;
        }
    }
    ev->ce = ds->count ? ce_sum / (double)ds->count : 0;
    model_set_train(m, was_train);
    return GC_OK;
}
