/*
 * tests/tool_make_ckpt.c - helper of tests/test_eval.sh (built by `make
 * test`, not run directly): writes a training-checkpoint-shaped model file
 * without training, so the eval tests do not depend on train's speed.
 *
 *   tool_make_ckpt OUT LEVEL SIZE DATA SEED [KEY=VALUE | -KEY]...
 *
 * Builds model LEVEL (nn/model.c) for 1 x SIZE x SIZE inputs with the class
 * count and names of DATA's test split (io/dataset.h spec), PyTorch default
 * initialisation from SEED, and writes OUT (safetensors) with
 *   - the state dict as F32 under PyTorch's names (io/checkpoint.c), so the
 *     float and double eval builds read the same values;
 *   - one tensor under "train." (train.rng), which eval must skip;
 *   - the metadata train writes: level, classes, class_names (comma-joined),
 *     in_c, size, epoch, seed, target, lambda_max, distance, cam_grad, data.
 * KEY=VALUE sets or overrides a metadata key; -KEY drops one (to make
 * checkpoints eval must refuse). Exit 0, or 1 with a one-line reason.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/checkpoint.h"
#include "io/dataset.h"
#include "nn/model.h"

#define TOOL_MAX_META 64
#define TOOL_NAMES_MAX 4096
#define TOOL_NUM_CHARS 32

typedef struct meta_list {
    int n;
    char *key[TOOL_MAX_META];
    char *value[TOOL_MAX_META];
} meta_list;

static int parse_int(const char *s, long lo, long hi, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end != '\0' || v < lo || v > hi) return 0;
    *out = (int)v;
    return 1;
}

static char *copy_str(const char *s, size_t n)
{
    char *p = (char *)gc_calloc(n + 1, 1);
    memcpy(p, s, n);
    return p;
}

/* Set (or replace) key; value NULL drops it. */
static int meta_set(meta_list *ml, const char *key, size_t key_len, const char *value)
{
    int i;
    for (i = 0; i < ml->n; i++) {
        if (strlen(ml->key[i]) == key_len && memcmp(ml->key[i], key, key_len) == 0) {
            free(ml->value[i]);
            if (value) {
                ml->value[i] = copy_str(value, strlen(value));
            } else {
                free(ml->key[i]);
                ml->key[i] = ml->key[ml->n - 1];
                ml->value[i] = ml->value[ml->n - 1];
                ml->n--;
            }
            return 1;
        }
    }
    if (!value) return 1;
    if (ml->n == TOOL_MAX_META) return 0;
    ml->key[ml->n] = copy_str(key, key_len);
    ml->value[ml->n] = copy_str(value, strlen(value));
    ml->n++;
    return 1;
}

static void meta_set_int(meta_list *ml, const char *key, long v)
{
    char buf[TOOL_NUM_CHARS];
    snprintf(buf, sizeof buf, "%ld", v);
    meta_set(ml, key, strlen(key), buf);
}

static void meta_free(meta_list *ml)
{
    int i;
    for (i = 0; i < ml->n; i++) {
        free(ml->key[i]);
        free(ml->value[i]);
    }
    ml->n = 0;
}

static int run(int argc, char **argv, gc_error *err)
{
    int level, size, seed, i, rc = GC_FAIL;
    dataset ds;
    model m;
    meta_list ml;
    char names[TOOL_NAMES_MAX];
    size_t len = 0;
    st_writer *w = NULL;
    if (argc < 6 || !parse_int(argv[2], 1, MODEL_LEVELS, &level) ||
        !parse_int(argv[3], 1, DATASET_MAX_SIZE, &size) ||
        !parse_int(argv[5], 0, 1000000000L, &seed))
        return gc_fail(err, "usage: tool_make_ckpt OUT LEVEL SIZE DATA SEED [KEY=VALUE | -KEY]...");
    if (dataset_open(&ds, argv[4], "test", size, 0, err) != GC_OK) return GC_FAIL;
    names[0] = '\0';
    for (i = 0; i < ds.classes; i++) {
        size_t n = strlen(ds.class_names[i]);
        if (len + n + 2 > sizeof names) {
            dataset_free(&ds);
            return gc_fail(err, "%s: class names too long", argv[4]);
        }
        if (i) names[len++] = ',';
        memcpy(names + len, ds.class_names[i], n + 1);
        len += n;
    }
    if (model_build(&m, level, 1, size, size, ds.classes, 1, (uint64_t)seed, err) != GC_OK) {
        dataset_free(&ds);
        return GC_FAIL;
    }
    memset(&ml, 0, sizeof ml);
    meta_set_int(&ml, "level", level);
    meta_set_int(&ml, "classes", ds.classes);
    meta_set(&ml, "class_names", strlen("class_names"), names);
    meta_set_int(&ml, "in_c", 1);
    meta_set_int(&ml, "size", size);
    meta_set_int(&ml, "epoch", 0);
    meta_set_int(&ml, "seed", seed);
    meta_set_int(&ml, "target", m.target);
    meta_set(&ml, "lambda_max", strlen("lambda_max"), "0");
    meta_set(&ml, "distance", strlen("distance"), "l2sq");
    meta_set(&ml, "cam_grad", strlen("cam_grad"), "exact");
    meta_set(&ml, "data", strlen("data"), argv[4]);
    dataset_free(&ds);
    for (i = 6; i < argc; i++) {
        const char *eq = strchr(argv[i], '=');
        int okay;
        if (argv[i][0] == '-')
            okay = meta_set(&ml, argv[i] + 1, strlen(argv[i] + 1), NULL);
        else if (eq && eq != argv[i])
            okay = meta_set(&ml, argv[i], (size_t)(eq - argv[i]), eq + 1);
        else
            okay = 0;
        if (!okay) {
            gc_fail(err, "bad metadata argument '%s' (KEY=VALUE or -KEY)", argv[i]);
            goto done;
        }
    }
    w = st_writer_new(ST_F32);
    if (ckpt_add_store(w, &m.ps, ST_F32, err) != GC_OK) goto done;
    if (ckpt_add_rng(w, CKPT_TRAIN_PREFIX "rng", &m.rng, err) != GC_OK) goto done;
    for (i = 0; i < ml.n; i++)
        if (st_writer_meta(w, ml.key[i], ml.value[i], err) != GC_OK) goto done;
    rc = st_writer_write(w, argv[1], err);
done:
    st_writer_free(w);
    meta_free(&ml);
    model_free(&m);
    return rc;
}

int main(int argc, char **argv)
{
    gc_error err;
    if (run(argc, argv, &err) != GC_OK) {
        fprintf(stderr, "tool_make_ckpt: %s\n", err.msg);
        return 1;
    }
    return 0;
}
