/*
 * cam/dump.c - one regularised step written out for the PyTorch cross-check
 * (DESIGN.md section 3 "Against PyTorch"; the step itself is cam/step.c,
 * DESIGN.md sections 1-2). See cam/dump.h for the files read and written.
 *
 * What it deliberately does not do: the optimiser step, the lambda
 * curriculum, several steps (the EMA is fresh, so ref_c is the batch mean).
 */
#include "cam/dump.h"

#include <limits.h>
#include <math.h>
#include <string.h>

#include "io/checkpoint.h"
#include "io/cli.h"
#include "io/safetensors.h"

#define DUMP_EMA_A 0.9
#define DUMP_NAME_MAX (PS_NAME_MAX + 16)
#define DUMP_NUM_BUF 64

void dump_opts_default(dump_opts *o)
{
    memset(o, 0, sizeof *o);
    o->level = 0;
    o->lambda = DUMP_DEFAULT_LAMBDA;
    o->distance = CONS_L2SQ;
    o->grad_mode = CAM_GRAD_EXACT;
    o->dropout = -1;
    o->target = -1;
    o->seed = 1;
}

int dump_opts_set(dump_opts *o, const char *flag, const char *value, gc_error *err)
{
    const char **path = strcmp(flag, "--dump-step") == 0 ? &o->out
                      : strcmp(flag, "--model") == 0     ? &o->model_path
                      : strcmp(flag, "--batch") == 0     ? &o->batch_path
                                                         : NULL;
    if (path) {
        if (!value || !*value) return gc_fail(err, "%s: missing value", flag);
        *path = value;
        return GC_OK;
    }
    if (strcmp(flag, "--level") == 0) return cli_int(flag, value, 1, MODEL_LEVELS, &o->level, err);
    if (strcmp(flag, "--lambda") == 0) return cli_double(flag, value, -1e12, 1e12, &o->lambda, err);
    if (strcmp(flag, "--distance") == 0) {
        if (!value) return gc_fail(err, "%s: missing value", flag);
        return consistency_distance_parse(value, &o->distance, err);
    }
    if (strcmp(flag, "--cam-grad") == 0) {
        if (!value) return gc_fail(err, "%s: missing value", flag);
        return cam_grad_mode_parse(value, &o->grad_mode, err);
    }
    if (strcmp(flag, "--dropout") == 0) {
        if (cli_double(flag, value, 0.0, 1.0, &o->dropout, err)) return GC_FAIL;
        if (o->dropout >= 1.0) return gc_fail(err, "%s: %s is not below 1", flag, value);
        return GC_OK;
    }
    if (strcmp(flag, "--target") == 0) return cli_int(flag, value, -1, MODEL_MAX_BLOCKS, &o->target, err);
    if (strcmp(flag, "--seed") == 0) return cli_u64(flag, value, &o->seed, err);
    return DUMP_FLAG_UNKNOWN;
}

int dump_opts_check(const dump_opts *o, gc_error *err)
{
    if (!o->out) return gc_fail(err, "--dump-step: no output file given");
    if (!o->model_path) return gc_fail(err, "--dump-step needs --model FILE (a state_dict)");
    if (!o->batch_path) return gc_fail(err, "--dump-step needs --batch FILE (tensors x and y)");
    if (o->level < 1 || o->level > MODEL_LEVELS)
        return gc_fail(err, "--dump-step needs --level 1..%d", MODEL_LEVELS);
    if (!(o->dropout < 1.0)) return gc_fail(err, "--dropout: %g is not below 1", o->dropout);
    return GC_OK;
}

/* The batch: x (n, c, h, w) and y (n). */
typedef struct dump_batch {
    int n, c, h, w;
    real *x;
    int *y;
} dump_batch;

static void batch_free(dump_batch *b)
{
    free(b->x);
    free(b->y);
    memset(b, 0, sizeof *b);
}

/* Read and validate the batch file; labels are checked later (classes). */
static int batch_read(const char *path, dump_batch *b, gc_error *err)
{
    st_file *f;
    const st_tensor *tx, *ty;
    int64_t *y64 = NULL;
    int i, rc = GC_FAIL;
    memset(b, 0, sizeof *b);
    f = st_open(path, err);
    if (!f) return GC_FAIL;
    tx = st_find(f, "x");
    ty = st_find(f, "y");
    if (!tx) {
        gc_fail(err, "%s: no tensor \"x\" (the input batch, shape (N, C, H, W))", path);
        goto done;
    }
    if (!ty) {
        gc_fail(err, "%s: no tensor \"y\" (the labels, shape (N))", path);
        goto done;
    }
    if (tx->dtype != ST_F32 && tx->dtype != ST_F64) {
        gc_fail(err, "%s: x has dtype %s (need F32 or F64)", path, st_dtype_name(tx->dtype));
        goto done;
    }
    if (tx->ndim != 4) {
        gc_fail(err, "%s: x has %d dimensions (need 4: N, C, H, W)", path, tx->ndim);
        goto done;
    }
    for (i = 0; i < 4; i++)
        if (tx->shape[i] < 1 || tx->shape[i] > INT_MAX) {
            gc_fail(err, "%s: x has shape (%lld, %lld, %lld, %lld) (every size must be >= 1)",
                    path, (long long)tx->shape[0], (long long)tx->shape[1],
                    (long long)tx->shape[2], (long long)tx->shape[3]);
            goto done;
        }
    if (tx->shape[0] > DUMP_MAX_BATCH) {
        gc_fail(err, "%s: batch of %lld samples (at most %d)", path, (long long)tx->shape[0],
                DUMP_MAX_BATCH);
        goto done;
    }
    if (!st_dtype_is_int(ty->dtype)) {
        gc_fail(err, "%s: y has dtype %s (need an integer dtype, I64)", path,
                st_dtype_name(ty->dtype));
        goto done;
    }
    if (ty->ndim != 1 || ty->shape[0] != tx->shape[0]) {
        gc_fail(err, "%s: y must have shape (%lld) to match x", path, (long long)tx->shape[0]);
        goto done;
    }
    b->n = (int)tx->shape[0];
    b->c = (int)tx->shape[1];
    b->h = (int)tx->shape[2];
    b->w = (int)tx->shape[3];
    /* both tensors tile the file (st_open checks), so these sizes are bounded by it */
    b->x = (real *)gc_calloc((size_t)tx->numel, sizeof(real));
    b->y = (int *)gc_calloc((size_t)b->n, sizeof(int));
    y64 = (int64_t *)gc_calloc((size_t)b->n, sizeof(int64_t));
    if (st_read_real(f, "x", b->x, (size_t)tx->numel, err)) goto done;
    if (st_read_i64(f, "y", y64, (size_t)b->n, err)) goto done;
    for (i = 0; i < b->n; i++) {
        if (y64[i] < 0 || y64[i] > INT_MAX) {
            gc_fail(err, "%s: label y[%d] = %lld is negative or too large", path, i,
                    (long long)y64[i]);
            goto done;
        }
        b->y[i] = (int)y64[i];
    }
    rc = GC_OK;
done:
    free(y64);
    st_close(f);
    if (rc != GC_OK) batch_free(b);
    return rc;
}

/* classes = rows of the classifier's Linear weight in the model file. */
static int model_classes(st_file *f, int level, int *classes, gc_error *err)
{
    const char *name = level == 1 ? "classifier.2.weight" : "classifier.3.weight";
    const st_tensor *t = st_find(f, name);
    if (!t)
        return gc_fail(err, "%s: no tensor %s (the classifier's weight): not a level %d "
                            "model file",
                       st_path(f), name, level);
    if (t->ndim != 2 || t->shape[0] < 2 || t->shape[0] > INT_MAX || t->shape[1] < 1)
        return gc_fail(err, "%s: %s has a shape that is not (classes >= 2, features)",
                       st_path(f), name);
    *classes = (int)t->shape[0];
    return GC_OK;
}

static int add_scalar(st_writer *w, const char *name, double v, gc_error *err)
{
    return st_writer_add_double(w, name, 0, NULL, &v, ST_DEFAULT, err);
}

/* Metadata number in the shortest %g form that reads back as v ("0.3", not
 * "0.29999999999999999"). */
static int add_meta_num(st_writer *w, const char *key, double v, gc_error *err)
{
    char buf[DUMP_NUM_BUF];
    int prec;
    for (prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) break;
    }
    return st_writer_meta(w, key, buf, err);
}

/* Every tensor and the metadata of the dump (see cam/dump.h). */
static int dump_write(const dump_opts *o, const model *m, const train_step *st,
                      const step_result *res, int n, gc_error *err)
{
    st_writer *w = st_writer_new(ST_DEFAULT);
    const param_store *ps = &m->ps;
    int64_t shape[3];
    int64_t *index = (int64_t *)gc_calloc((size_t)(st->ns > 0 ? st->ns : 1), sizeof(int64_t));
    char name[DUMP_NAME_MAX];
    int i, rc = GC_FAIL;

    shape[0] = n;
    shape[1] = m->classes;
    if (st_writer_add_real(w, "logits", 2, shape, m->logits, ST_DEFAULT, err)) goto done;
    shape[0] = st->ns;
    shape[1] = m->cam_h;
    shape[2] = m->cam_w;
    if (st_writer_add_real(w, "cam", 3, shape, st->cb.cam, ST_DEFAULT, err)) goto done;
    for (i = 0; i < st->ns; i++) index[i] = st->sel[i];
    if (st_writer_add_i64(w, "cam_index", 1, shape, index, err)) goto done;
    if (add_scalar(w, "loss_ce", res->loss_ce, err) || add_scalar(w, "loss_cam", res->loss_cam, err) ||
        add_scalar(w, "loss", res->loss, err))
        goto done;
    for (i = 0; i < ps->count; i++) {
        const ps_entry *e = &ps->entry[i];
        const real *v = e->kind == PS_PARAM ? ps->grad + e->offset : ps->buffer + e->offset;
        snprintf(name, sizeof name, "%s.%s", e->kind == PS_PARAM ? "grad" : "buffer", e->name);
        if (e->disk_int64) {
            int64_t *iv = (int64_t *)gc_calloc(e->numel ? e->numel : 1, sizeof(int64_t));
            size_t j;
            int r;
            for (j = 0; j < e->numel; j++) iv[j] = (int64_t)v[j];
            r = st_writer_add_i64(w, name, e->ndim, e->shape, iv, err);
            free(iv);
            if (r) goto done;
        } else if (st_writer_add_real(w, name, e->ndim, e->shape, v, ST_DEFAULT, err)) {
            goto done;
        }
    }
    if (add_meta_num(w, "level", m->level, err) || add_meta_num(w, "target", m->target, err) ||
        add_meta_num(w, "lambda", o->lambda, err) ||
        st_writer_meta(w, "distance", consistency_distance_name(o->distance), err) ||
        st_writer_meta(w, "cam_grad", cam_grad_mode_name(o->grad_mode), err) ||
        add_meta_num(w, "dropout", m->dropout_p, err) ||
        add_meta_num(w, "n_selected", st->ns, err) || st_writer_meta(w, "real", REAL_NAME, err) ||
        st_writer_meta(w, "model", o->model_path, err) ||
        st_writer_meta(w, "batch", o->batch_path, err))
        goto done;
    rc = st_writer_write(w, o->out, err);
done:
    free(index);
    st_writer_free(w);
    return rc;
}

int dump_step(const dump_opts *o, gc_error *err)
{
    dump_batch b;
    st_file *f;
    model m;
    train_step st;
    step_opts so;
    step_result res;
    ckpt_load_opts lo;
    const char *const prefixes[2] = {CKPT_TRAIN_PREFIX, NULL};
    int classes = 0, i, rc = GC_FAIL, rc2, built = 0, stepped = 0;
    gc_error inner;

    if (dump_opts_check(o, err)) return GC_FAIL;
    if (batch_read(o->batch_path, &b, err)) return GC_FAIL;
    f = st_open(o->model_path, err);
    if (!f) goto done;
    if (model_classes(f, o->level, &classes, err)) goto done;
    for (i = 0; i < b.n; i++)
        if (b.y[i] >= classes) {
            gc_fail(err, "%s: label y[%d] = %d is out of range for the %d classes of %s",
                    o->batch_path, i, b.y[i], classes, o->model_path);
            goto done;
        }
    if (model_build(&m, o->level, b.c, b.h, b.w, classes, b.n, o->seed, &inner)) {
        gc_fail(err, "%s with batch %s: %s", o->model_path, o->batch_path, inner.msg);
        goto done;
    }
    built = 1;
    /* the file's `_target_layer.*` is the published code's target: the paper's one */
    lo.target = model_default_target(o->level);
    lo.extra_prefixes = prefixes;
    if (ckpt_load_store(f, &m.ps, &lo, &inner)) {
        gc_fail(err, "%s (read as a level %d model for %d input channel(s) and %d classes)",
                inner.msg, o->level, b.c, classes);
        goto done;
    }
    if (o->target >= 0 && model_set_target(&m, o->target, &inner)) {
        gc_fail(err, "--target %d: %s", o->target, inner.msg);
        goto done;
    }
    if (o->dropout >= 0) model_set_dropout(&m, o->dropout);
    rng_seed(&m.rng, o->seed);
    rc2 = step_init(&st, &m, err);
    stepped = 1;   /* step_free is safe after a failed step_init (it zeroes st first) */
    if (rc2) goto done;
    step_opts_default(&so);
    so.lambda = o->lambda;
    so.grad_mode = o->grad_mode;
    so.distance = o->distance;
    so.ema_a = DUMP_EMA_A;
    so.want_cam = 1;
    step_reset_refs(&st);
    step_run(&st, b.x, b.y, b.n, &so, NULL, &res);
    rc = dump_write(o, &m, &st, &res, b.n, err);
done:
    if (stepped) step_free(&st);
    if (built) model_free(&m);
    st_close(f);
    batch_free(&b);
    return rc;
}
