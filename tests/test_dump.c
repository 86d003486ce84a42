/*
 * tests/test_dump.c - cam/dump.c (`train --dump-step`): the file it writes
 * holds exactly what step_run computes (every tensor, bit for bit, including
 * BatchNorm buffers after the step and the dropout masks given by --seed),
 * the metadata, determinism; the option parser; and every input error (each
 * names the file or option, and nothing is written). The comparison with
 * PyTorch is tests/crosscheck.py (tests/test_crosscheck.sh, make crosscheck).
 */
#include "cam/dump.h"
#include "io/checkpoint.h"
#include "tests/support_tmpdir.h"
#include "tests/test.h"

#include <string.h>
#include <sys/stat.h>

#define PATH_CAP 4096
#define N 6
#define SIZE 16
#define CLASSES 3
#define LEVEL 2
#define MODEL_SEED 11
#define STEP_SEED 5

static char dir[PATH_CAP];
static char model_path[PATH_CAP], batch_path[PATH_CAP], out_path[PATH_CAP];

static void paths_open(void)
{
    if (tmpdir_make(dir, sizeof dir) != 0) {
        fprintf(stderr, "cannot create a temp folder\n");
        abort();
    }
    tmpdir_path(model_path, PATH_CAP, dir, "model.safetensors");
    tmpdir_path(batch_path, PATH_CAP, dir, "batch.safetensors");
    tmpdir_path(out_path, PATH_CAP, dir, "out.safetensors");
}

static void paths_close(void) { tmpdir_remove(dir); }

static int file_exists(const char *path)
{
    struct stat s;
    return stat(path, &s) == 0;
}

static void make_x(real *x, int n, int c, int h, int w)
{
    rng r;
    size_t i, count = (size_t)n * c * h * w;
    rng_seed(&r, 77);
    for (i = 0; i < count; i++) x[i] = (real)rng_uniform_range(&r, -1, 1);
}

/* Write a batch file: x as dtype (F32/F64) with the given shape, y as I64. */
static void write_batch(const char *path, const real *x, int ndim, const int64_t *xshape,
                        const int64_t *y, int64_t ny, st_dtype dtype)
{
    gc_error err;
    st_writer *w = st_writer_new(ST_DEFAULT);
    if (x) CHECK(st_writer_add_real(w, "x", ndim, xshape, x, dtype, &err) == GC_OK);
    if (y) CHECK(st_writer_add_i64(w, "y", 1, &ny, y, &err) == GC_OK);
    CHECK(st_writer_write(w, path, &err) == GC_OK);
    st_writer_free(w);
}

/* The model file (level LEVEL, SIZE x SIZE, CLASSES) and a batch whose
 * labels are the model's own train-mode predictions with the dropout masks
 * the dump will draw (dropout p as in dump_opts, RNG seeded with STEP_SEED
 * after the build), so that B+' is not empty. */
static void write_inputs(int64_t *labels, double dropout)
{
    gc_error err;
    model m;
    real x[N * SIZE * SIZE];
    int64_t xshape[4] = {N, 1, SIZE, SIZE};
    int i, c;
    make_x(x, N, 1, SIZE, SIZE);
    CHECK(model_build(&m, LEVEL, 1, SIZE, SIZE, CLASSES, N, MODEL_SEED, &err) == GC_OK);
    CHECK(ckpt_save_model(model_path, &m.ps, NULL, ST_DEFAULT, &err) == GC_OK);
    if (dropout >= 0) model_set_dropout(&m, dropout);
    rng_seed(&m.rng, STEP_SEED);
    model_set_train(&m, 1);
    model_forward(&m, x, N);
    for (i = 0; i < N; i++) {
        int best = 0;
        for (c = 1; c < CLASSES; c++)
            if (m.logits[i * CLASSES + c] > m.logits[i * CLASSES + best]) best = c;
        labels[i] = best;
    }
    model_free(&m);
    write_batch(batch_path, x, 4, xshape, labels, N, ST_DEFAULT);
}

static void opts_for(dump_opts *o)
{
    dump_opts_default(o);
    o->out = out_path;
    o->model_path = model_path;
    o->batch_path = batch_path;
    o->level = LEVEL;
    o->seed = STEP_SEED;
}

/* tensor `name` of f equals v[count] bit for bit */
static void check_tensor(st_file *f, const char *name, const real *v, size_t count)
{
    gc_error err;
    const st_tensor *t = st_find(f, name);
    real *got;
    CHECK_MSG(t != NULL, "%s missing from the dump", name);
    if (!t) return;
    CHECK_MSG(t->dtype == ST_REAL_NATIVE, "%s: dtype %s", name, st_dtype_name(t->dtype));
    CHECK_MSG(t->numel == count, "%s: %llu elements, expected %zu", name,
              (unsigned long long)t->numel, count);
    if (t->numel != count) return;
    got = (real *)gc_calloc(count ? count : 1, sizeof(real));
    CHECK(st_read_real(f, name, got, count, &err) == GC_OK);
    CHECK_MSG(count == 0 || memcmp(got, v, count * sizeof(real)) == 0, "%s differs from step_run",
              name);
    free(got);
}

/* The dump against a direct step_run on the same model, batch and seed,
 * with the classifier's dropout active (p = 0.5, masks from STEP_SEED) and
 * at an earlier target (per-class G with BatchNorm in the head). */
static void check_dump_matches_step(int target, cam_grad_mode mode, double dropout)
{
    gc_error err;
    dump_opts o;
    int64_t labels[N];
    model m;
    train_step st;
    step_opts so;
    step_result res;
    real x[N * SIZE * SIZE];
    int y[N], i;
    st_file *f;
    paths_open();
    write_inputs(labels, dropout);
    opts_for(&o);
    o.target = target;
    o.grad_mode = mode;
    o.dropout = dropout;
    o.lambda = 2.5;
    o.distance = CONS_L2;
    CHECK_MSG(dump_step(&o, &err) == GC_OK, "dump_step: %s", err.msg);

    /* the same step directly */
    make_x(x, N, 1, SIZE, SIZE);
    for (i = 0; i < N; i++) y[i] = (int)labels[i];
    CHECK(model_build(&m, LEVEL, 1, SIZE, SIZE, CLASSES, N, MODEL_SEED, &err) == GC_OK);
    if (target >= 0) CHECK(model_set_target(&m, target, &err) == GC_OK);
    if (dropout >= 0) model_set_dropout(&m, dropout);
    rng_seed(&m.rng, STEP_SEED);
    CHECK(step_init(&st, &m, &err) == GC_OK);
    step_opts_default(&so);
    so.lambda = 2.5;
    so.grad_mode = mode;
    so.distance = CONS_L2;
    so.want_cam = 1;
    step_run(&st, x, y, N, &so, NULL, &res);
    CHECK(st.ns >= 2);

    f = st_open(out_path, &err);
    CHECK_MSG(f != NULL, "%s", err.msg);
    if (f) {
        const st_tensor *t;
        int64_t idx[N];
        real scalar;
        check_tensor(f, "logits", m.logits, (size_t)N * CLASSES);
        check_tensor(f, "cam", st.cb.cam, (size_t)st.ns * st.z);
        t = st_find(f, "cam");
        CHECK(t && t->ndim == 3 && t->shape[0] == st.ns && t->shape[1] == m.cam_h &&
              t->shape[2] == m.cam_w);
        t = st_find(f, "cam_index");
        CHECK(t && t->dtype == ST_I64 && t->ndim == 1 && t->shape[0] == st.ns);
        if (t && t->shape[0] == st.ns) {
            CHECK(st_read_i64(f, "cam_index", idx, (size_t)st.ns, &err) == GC_OK);
            for (i = 0; i < st.ns; i++) CHECK(idx[i] == st.sel[i]);
        }
        scalar = (real)res.loss;
        check_tensor(f, "loss", &scalar, 1);
        scalar = (real)res.loss_ce;
        check_tensor(f, "loss_ce", &scalar, 1);
        scalar = (real)res.loss_cam;
        check_tensor(f, "loss_cam", &scalar, 1);
        CHECK(st_find(f, "loss")->ndim == 0);
        for (i = 0; i < m.ps.count; i++) {
            const ps_entry *e = &m.ps.entry[i];
            char name[PS_NAME_MAX + 16];
            snprintf(name, sizeof name, "%s.%s", e->kind == PS_PARAM ? "grad" : "buffer", e->name);
            if (e->disk_int64) {
                int64_t v = -1;
                t = st_find(f, name);
                CHECK_MSG(t && t->dtype == ST_I64, "%s missing or not I64", name);
                CHECK(st_read_i64(f, name, &v, 1, &err) == GC_OK);
                CHECK_MSG(v == 1, "%s = %lld after one step from 0", name, (long long)v);
            } else {
                check_tensor(f, name, e->kind == PS_PARAM ? m.ps.grad + e->offset
                                                          : m.ps.buffer + e->offset,
                             e->numel);
            }
        }
        /* parameters, buffers, 3 losses, logits, cam, cam_index: nothing else */
        CHECK_MSG(st_count(f) == m.ps.count + 6, "%d tensors", st_count(f));
        CHECK(strcmp(st_meta(f, "level"), "2") == 0);
        CHECK(atoi(st_meta(f, "target")) == m.target);
        CHECK(strcmp(st_meta(f, "lambda"), "2.5") == 0);
        CHECK(strcmp(st_meta(f, "distance"), "l2") == 0);
        CHECK(strcmp(st_meta(f, "cam_grad"), cam_grad_mode_name(mode)) == 0);
        CHECK(atof(st_meta(f, "dropout")) == (dropout >= 0 ? dropout : 0.5));
        CHECK(atoi(st_meta(f, "n_selected")) == st.ns);
        CHECK(strcmp(st_meta(f, "real"), REAL_NAME) == 0);
        st_close(f);
    }
    step_free(&st);
    model_free(&m);
    paths_close();
}

static void test_dump_is_step_run_paper_target_dropout(void)
{
    check_dump_matches_step(-1, CAM_GRAD_EXACT, -1);
}

static void test_dump_is_step_run_early_target(void)
{
    check_dump_matches_step(9, CAM_GRAD_EXACT, 0);
}

static void test_dump_is_step_run_detached(void)
{
    check_dump_matches_step(9, CAM_GRAD_DETACHED, 0.25);
}

/* Same inputs, same seed: the same bytes; another seed: other dropout masks. */
static void test_dump_deterministic(void)
{
    gc_error err;
    dump_opts o;
    int64_t labels[N];
    char second[PATH_CAP];
    FILE *a, *b;
    int same = 1, ca, cb;
    paths_open();
    write_inputs(labels, -1);
    opts_for(&o);
    CHECK(dump_step(&o, &err) == GC_OK);
    tmpdir_path(second, PATH_CAP, dir, "second.safetensors");
    o.out = second;
    CHECK(dump_step(&o, &err) == GC_OK);
    a = fopen(out_path, "rb");
    b = fopen(second, "rb");
    CHECK(a && b);
    if (a && b) {
        do {
            ca = fgetc(a);
            cb = fgetc(b);
            if (ca != cb) same = 0;
        } while (ca != EOF && cb != EOF);
    }
    if (a) fclose(a);
    if (b) fclose(b);
    CHECK_MSG(same, "two dumps with the same seed differ");
    /* another seed changes the masks: logits differ */
    {
        st_file *f1, *f2;
        real l1[N * CLASSES], l2[N * CLASSES];
        o.seed = STEP_SEED + 1;
        CHECK(dump_step(&o, &err) == GC_OK);
        f1 = st_open(out_path, &err);
        f2 = st_open(second, &err);
        CHECK(f1 && f2);
        if (f1 && f2) {
            CHECK(st_read_real(f1, "logits", l1, N * CLASSES, &err) == GC_OK);
            CHECK(st_read_real(f2, "logits", l2, N * CLASSES, &err) == GC_OK);
            CHECK(memcmp(l1, l2, sizeof l1) != 0);
        }
        st_close(f1);
        st_close(f2);
    }
    paths_close();
}

static void test_opts_parse(void)
{
    gc_error err;
    dump_opts o;
    dump_opts_default(&o);
    CHECK(o.lambda == 1.0 && o.target == -1 && o.dropout < 0 && o.grad_mode == CAM_GRAD_EXACT &&
          o.distance == CONS_L2SQ);
    CHECK(dump_opts_set(&o, "--dump-step", "a.safetensors", &err) == GC_OK && strcmp(o.out, "a.safetensors") == 0);
    CHECK(dump_opts_set(&o, "--model", "m", &err) == GC_OK && strcmp(o.model_path, "m") == 0);
    CHECK(dump_opts_set(&o, "--batch", "b", &err) == GC_OK && strcmp(o.batch_path, "b") == 0);
    CHECK(dump_opts_set(&o, "--level", "3", &err) == GC_OK && o.level == 3);
    CHECK(dump_opts_set(&o, "--lambda", "-100", &err) == GC_OK && o.lambda == -100);
    CHECK(dump_opts_set(&o, "--distance", "l2", &err) == GC_OK && o.distance == CONS_L2);
    CHECK(dump_opts_set(&o, "--cam-grad", "detached", &err) == GC_OK &&
          o.grad_mode == CAM_GRAD_DETACHED);
    CHECK(dump_opts_set(&o, "--dropout", "0", &err) == GC_OK && o.dropout == 0);
    CHECK(dump_opts_set(&o, "--target", "6", &err) == GC_OK && o.target == 6);
    CHECK(dump_opts_set(&o, "--seed", "12345678901", &err) == GC_OK && o.seed == 12345678901ULL);
    CHECK(dump_opts_check(&o, &err) == GC_OK);
    CHECK(dump_opts_set(&o, "--epochs", "3", &err) == DUMP_FLAG_UNKNOWN);
    CHECK(dump_opts_set(&o, "--level", "6", &err) == GC_FAIL && strstr(err.msg, "--level"));
    CHECK(dump_opts_set(&o, "--level", "x", &err) == GC_FAIL);
    CHECK(dump_opts_set(&o, "--dropout", "1", &err) == GC_FAIL && strstr(err.msg, "--dropout"));
    CHECK(dump_opts_set(&o, "--dropout", "-0.5", &err) == GC_FAIL);
    CHECK(dump_opts_set(&o, "--distance", "l1", &err) == GC_FAIL);
    CHECK(dump_opts_set(&o, "--cam-grad", "second", &err) == GC_FAIL);
    CHECK(dump_opts_set(&o, "--lambda", "nan", &err) == GC_FAIL);
    CHECK(dump_opts_set(&o, "--seed", "-1", &err) == GC_FAIL);
    CHECK(dump_opts_set(&o, "--model", "", &err) == GC_FAIL);
    CHECK(dump_opts_set(&o, "--model", NULL, &err) == GC_FAIL);
    dump_opts_default(&o);
    CHECK(dump_opts_check(&o, &err) == GC_FAIL && strstr(err.msg, "output"));
    o.out = "x";
    CHECK(dump_opts_check(&o, &err) == GC_FAIL && strstr(err.msg, "--model"));
    o.model_path = "m";
    CHECK(dump_opts_check(&o, &err) == GC_FAIL && strstr(err.msg, "--batch"));
    o.batch_path = "b";
    CHECK(dump_opts_check(&o, &err) == GC_FAIL && strstr(err.msg, "--level"));
}

/* dump_step fails, its message contains `want` and the output is not written. */
static void expect_fail(const dump_opts *o, const char *want)
{
    gc_error err;
    memset(&err, 0, sizeof err);
    CHECK_MSG(dump_step(o, &err) == GC_FAIL, "dump_step accepted input expected to fail (%s)", want);
    CHECK_MSG(strstr(err.msg, want) != NULL, "message '%s' does not contain '%s'", err.msg, want);
    CHECK_MSG(!file_exists(o->out), "%s written although dump_step failed", o->out);
    CHECK_MSG(tmpdir_count(dir) >= 0, "cannot list %s", dir);
}

static void test_bad_inputs(void)
{
    gc_error err;
    dump_opts o;
    int64_t labels[N], y[N];
    real x[N * SIZE * SIZE];
    int64_t shape4[4] = {N, 1, SIZE, SIZE}, shape3[3] = {N, SIZE, SIZE};
    int64_t empty[4] = {0, 1, SIZE, SIZE}, tiny[4] = {N, 1, 4, 4};
    char other[PATH_CAP], missing[PATH_CAP];
    int i;
    paths_open();
    write_inputs(labels, -1);
    make_x(x, N, 1, SIZE, SIZE);
    opts_for(&o);
    tmpdir_path(missing, PATH_CAP, dir, "nothing.safetensors");
    tmpdir_path(other, PATH_CAP, dir, "other.safetensors");

    o.model_path = missing;
    expect_fail(&o, missing);
    o.model_path = model_path;
    o.batch_path = missing;
    expect_fail(&o, missing);
    o.batch_path = other;

    write_batch(other, NULL, 0, NULL, labels, N, ST_DEFAULT);
    expect_fail(&o, "no tensor \"x\"");
    expect_fail(&o, other);
    write_batch(other, x, 4, shape4, NULL, 0, ST_DEFAULT);
    expect_fail(&o, "no tensor \"y\"");
    write_batch(other, x, 3, shape3, labels, N, ST_DEFAULT);
    expect_fail(&o, "x has 3 dimensions");
    write_batch(other, x, 4, empty, labels, N, ST_DEFAULT);
    expect_fail(&o, "every size must be >= 1");
    write_batch(other, x, 4, shape4, labels, N - 1, ST_DEFAULT);
    expect_fail(&o, "y must have shape (6)");
    {   /* x as I64 */
        st_writer *w = st_writer_new(ST_DEFAULT);
        int64_t xi[N * SIZE * SIZE];
        int64_t ny = N;
        memset(xi, 0, sizeof xi);
        CHECK(st_writer_add_i64(w, "x", 4, shape4, xi, &err) == GC_OK);
        CHECK(st_writer_add_i64(w, "y", 1, &ny, labels, &err) == GC_OK);
        CHECK(st_writer_write(w, other, &err) == GC_OK);
        st_writer_free(w);
        expect_fail(&o, "x has dtype I64");
    }
    {   /* y as F64 */
        st_writer *w = st_writer_new(ST_F64);
        real yr[N];
        int64_t ny = N;
        for (i = 0; i < N; i++) yr[i] = 0;
        CHECK(st_writer_add_real(w, "x", 4, shape4, x, ST_F32, &err) == GC_OK);
        CHECK(st_writer_add_real(w, "y", 1, &ny, yr, ST_F64, &err) == GC_OK);
        CHECK(st_writer_write(w, other, &err) == GC_OK);
        st_writer_free(w);
        expect_fail(&o, "y has dtype F64");
    }
    memcpy(y, labels, sizeof y);
    y[2] = CLASSES;
    write_batch(other, x, 4, shape4, y, N, ST_DEFAULT);
    expect_fail(&o, "y[2] = 3 is out of range for the 3 classes");
    y[2] = -1;
    write_batch(other, x, 4, shape4, y, N, ST_DEFAULT);
    expect_fail(&o, "y[2] = -1");
    write_batch(other, x, 4, tiny, labels, N, ST_DEFAULT);
    expect_fail(&o, "too small for level 2");
    expect_fail(&o, model_path);
    tmpdir_write_str(other, "not a safetensors file at all");
    expect_fail(&o, other);

    /* model files that do not fit the level */
    o.batch_path = batch_path;
    o.level = 1;
    expect_fail(&o, "no tensor classifier.2.weight");
    expect_fail(&o, model_path);
    o.level = 3;
    expect_fail(&o, model_path);
    o.level = LEVEL;
    {   /* a level-1 file read as level 2 */
        model m1;
        CHECK(model_build(&m1, 1, 1, SIZE, SIZE, CLASSES, 1, 3, &err) == GC_OK);
        CHECK(ckpt_save_model(other, &m1.ps, NULL, ST_DEFAULT, &err) == GC_OK);
        model_free(&m1);
        o.model_path = other;
        expect_fail(&o, "not a level 2 model file");
        o.model_path = model_path;
    }
    /* an F32 batch loads (PyTorch's default dtype) */
    write_batch(other, x, 4, shape4, labels, N, ST_F32);
    o.batch_path = other;
    CHECK_MSG(dump_step(&o, &err) == GC_OK, "F32 batch: %s", err.msg);
    remove(out_path);
    o.batch_path = batch_path;
    o.target = 15;   /* Level 2 has features 0..14: 15 is classifier.0 */
    expect_fail(&o, "--target 15");
    o.target = -1;
    o.out = missing;
    tmpdir_path(missing, PATH_CAP, dir, "no/such/dir/out.safetensors");
    expect_fail(&o, "no/such/dir");
    paths_close();
}

int main(int argc, char **argv)
{
    static const test_case cases[] = {
        TEST_CASE(test_dump_is_step_run_paper_target_dropout),
        TEST_CASE(test_dump_is_step_run_early_target),
        TEST_CASE(test_dump_is_step_run_detached),
        TEST_CASE(test_dump_deterministic),
        TEST_CASE(test_opts_parse),
        TEST_CASE(test_bad_inputs),
    };
    return test_main(argc, argv, cases, TEST_COUNT(cases));
}
