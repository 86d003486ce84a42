/*
 * tests/tool_load_state.c - helper of tests/check_torch_models.py (run by
 * tests/test_torch_models.sh; built by `make test`, not run directly).
 *
 *   tool_load_state LEVEL IN_C H W CLASSES STATE X OUT_LOGITS OUT_STATE
 *
 * Builds model LEVEL (nn/model.c) for IN_C x H x W inputs and CLASSES
 * classes, loads the state_dict STATE (safetensors, PyTorch's names; the
 * `_target_layer.*` aliases resolved for the level's default target by
 * io/checkpoint.c), reads the input batch X (safetensors, tensor "x" of
 * shape (n, IN_C, H, W)), runs an eval-mode forward, and writes
 *   OUT_LOGITS  tensor "logits" (n, CLASSES), F64
 *   OUT_STATE   the model's state_dict as F32 (io/checkpoint.c, ckpt_save_model)
 * Exit status 0, or 1 with a one-line reason on stderr.
 */
#include <stdlib.h>
#include <string.h>

#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "nn/model.h"

#define TOOL_MAX_BATCH 64

static int parse_int(const char *s, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end != '\0' || v < -1000000 || v > 1000000) return 0;
    *out = (int)v;
    return 1;
}

/* Read "x" from path: (n, in_c, h, w), 1 <= n <= TOOL_MAX_BATCH. */
static real *read_input(const char *path, int in_c, int h, int w, int *n_out, gc_error *err)
{
    st_file *f = st_open(path, err);
    const st_tensor *t;
    real *x;
    size_t count;
    if (!f) return NULL;
    t = st_find(f, "x");
    if (!t || t->ndim != 4 || t->shape[1] != in_c || t->shape[2] != h || t->shape[3] != w ||
        t->shape[0] < 1 || t->shape[0] > TOOL_MAX_BATCH) {
        gc_fail(err, "%s: no tensor \"x\" of shape (1..%d, %d, %d, %d)", path, TOOL_MAX_BATCH,
                in_c, h, w);
        st_close(f);
        return NULL;
    }
    *n_out = (int)t->shape[0];
    count = (size_t)t->numel;
    x = (real *)gc_calloc(count, sizeof(real));
    if (st_read_real(f, "x", x, count, err)) {
        free(x);
        x = NULL;
    }
    st_close(f);
    return x;
}

static int run(int argc, char **argv, gc_error *err)
{
    int level, in_c, h, w, classes, n = 0, rc;
    model m;
    real *x;
    st_writer *wr;
    int64_t shape[2];
    if (argc != 10 || !parse_int(argv[1], &level) || !parse_int(argv[2], &in_c) ||
        !parse_int(argv[3], &h) || !parse_int(argv[4], &w) || !parse_int(argv[5], &classes))
        return gc_fail(err, "usage: tool_load_state LEVEL IN_C H W CLASSES STATE X OUT_LOGITS "
                            "OUT_STATE");
    x = read_input(argv[7], in_c, h, w, &n, err);
    if (!x) return GC_FAIL;
    if (model_build(&m, level, in_c, h, w, classes, n, 1, err)) {
        free(x);
        return GC_FAIL;
    }
    rc = ckpt_load_model(argv[6], &m.ps, m.target, NULL, err);
    if (rc == GC_OK) {
        model_set_train(&m, 0);
        model_forward(&m, x, n);
        wr = st_writer_new(ST_F64);
        shape[0] = n;
        shape[1] = classes;
        rc = st_writer_add_real(wr, "logits", 2, shape, m.logits, ST_F64, err);
        if (rc == GC_OK) rc = st_writer_write(wr, argv[8], err);
        st_writer_free(wr);
    }
    if (rc == GC_OK) rc = ckpt_save_model(argv[9], &m.ps, NULL, ST_F32, err);
    model_free(&m);
    free(x);
    return rc;
}

int main(int argc, char **argv)
{
    gc_error err;
    err.msg[0] = '\0';
    if (run(argc, argv, &err) != GC_OK) {
        fprintf(stderr, "tool_load_state: %s\n", err.msg);
        return 1;
    }
    return 0;
}
