/*
 * tests/test_checkpoint.c - io/checkpoint: a small store shaped like
 * PyTorch's Sequential(Conv2d(1,2,3), BatchNorm2d(2)) + Linear(2,3) saved
 * and loaded in F64 and F32, the "_target_layer.*" alias (alias only, both
 * equal, both different), every validation error (each names the file, and
 * the store is left unchanged), malformed files, and the training state
 * (Adam, ReduceLROnPlateau, RNG) resuming bit for bit.
 *
 * test_torch_fixture is driven by tests/test_torch_load.sh: with
 * GC_FIXTURE_DIR set it loads $GC_FIXTURE_DIR/torch.safetensors (written by
 * PyTorch, tests/check_torch_load.py) and writes ours_f64/ours_f32 there for
 * PyTorch to load back; without it the case only checks that the fixture
 * store saves and loads.
 */
#include "io/checkpoint.h"
#include "nn/adam.h"
#include "nn/plateau.h"
#include "nn/rng.h"
#include "tests/support_tmpdir.h"
#include "tests/test.h"

#include <string.h>

#define PATH_CAP 4096
#define FIXTURE_TARGET 1

static char dir[PATH_CAP];

static void dir_open(void)
{
    if (tmpdir_make(dir, sizeof dir) != 0) {
        fprintf(stderr, "cannot create a temp folder\n");
        abort();
    }
}

static void dir_close(void) { tmpdir_remove(dir); }

static void path_of(char *out, const char *name) { tmpdir_path(out, PATH_CAP, dir, name); }

/* The fixture's state_dict (tests/check_torch_load.py, class Fixture):
 * features.0 = Conv2d(1, 2, 3), features.1 = BatchNorm2d(2) (the target
 * layer), classifier.1 = Linear(2, 3). */
static void fixture_build(param_store *ps)
{
    static const int64_t conv_w[4] = {2, 1, 3, 3}, two[1] = {2}, lin_w[2] = {3, 2},
                         three[1] = {3};
    int nbt;
    ps_init(ps);
    ps_add(ps, "features.0.weight", PS_PARAM, 4, conv_w);
    ps_add(ps, "features.0.bias", PS_PARAM, 1, two);
    ps_add(ps, "features.1.weight", PS_PARAM, 1, two);
    ps_add(ps, "features.1.bias", PS_PARAM, 1, two);
    ps_add(ps, "features.1.running_mean", PS_BUFFER, 1, two);
    ps_add(ps, "features.1.running_var", PS_BUFFER, 1, two);
    nbt = ps_add(ps, "features.1.num_batches_tracked", PS_BUFFER, 0, NULL);
    ps->entry[nbt].disk_int64 = 1;
    ps_add(ps, "classifier.1.weight", PS_PARAM, 2, lin_w);
    ps_add(ps, "classifier.1.bias", PS_PARAM, 1, three);
}

/* Deterministic values, not representable in float (to tell F32 from F64). */
static void fixture_fill(param_store *ps, double seed)
{
    size_t i;
    for (i = 0; i < ps->nvalue; i++) ps->value[i] = (real)(seed + 0.1 * (double)i + 1e-9);
    for (i = 0; i < ps->nbuffer; i++) ps->buffer[i] = (real)(1.0 + 0.25 * (double)i);
    ps_value(ps, ps_find(ps, "features.1.num_batches_tracked"))[0] = 7;
}

static int stores_equal(param_store *a, param_store *b)
{
    return a->nvalue == b->nvalue && a->nbuffer == b->nbuffer &&
           memcmp(a->value, b->value, a->nvalue * sizeof(real)) == 0 &&
           memcmp(a->buffer, b->buffer, a->nbuffer * sizeof(real)) == 0;
}

/* Write the fixture store with explicit names (to craft alias files); rename
 * maps "features.1." to "_target_layer." for entries of features.1 when
 * mode is 1 (alias only) or adds the alias copy when mode is 2 (both). */
static void write_with_alias(const char *path, param_store *ps, int mode, double perturb)
{
    st_writer *w = st_writer_new(ST_F32);
    gc_error e;
    int i;
    for (i = 0; i < ps->count; i++) {
        const ps_entry *en = &ps->entry[i];
        const real *src = ps_value(ps, i);
        int in_target = strncmp(en->name, "features.1.", 11) == 0;
        char alias[PS_NAME_MAX + 16];
        snprintf(alias, sizeof alias, "_target_layer.%s", en->name + 11);
        if (!in_target || mode == 2) {
            if (en->disk_int64) {
                int64_t v = (int64_t)src[0];
                CHECK(st_writer_add_i64(w, en->name, en->ndim, en->shape, &v, &e) == GC_OK);
            } else {
                CHECK(st_writer_add_real(w, en->name, en->ndim, en->shape, src, ST_DEFAULT, &e) ==
                      GC_OK);
            }
        }
        if (in_target) {
            if (en->disk_int64) {
                int64_t v = (int64_t)src[0];
                CHECK(st_writer_add_i64(w, alias, en->ndim, en->shape, &v, &e) == GC_OK);
            } else {
                real tmp[8];
                size_t j;
                for (j = 0; j < en->numel; j++) tmp[j] = src[j];
                tmp[0] = (real)(tmp[0] + perturb);
                CHECK(st_writer_add_real(w, alias, en->ndim, en->shape, tmp, ST_DEFAULT, &e) ==
                      GC_OK);
            }
        }
    }
    CHECK(st_writer_write(w, path, &e) == GC_OK);
    st_writer_free(w);
}

static void test_roundtrip_f64_and_f32(void)
{
    static const char *const meta[] = {"level", "2", "classes", "3", "lr", "1e-4", NULL};
    param_store a, b;
    char p[PATH_CAP];
    gc_error e;
    st_file *f;
    int64_t iv;
    double dv;
    size_t i;
    int ok;
    dir_open();
    fixture_build(&a);
    fixture_build(&b);
    fixture_fill(&a, 0.5);
    path_of(p, "m64.safetensors");
    CHECK(ckpt_save_model(p, &a, meta, ST_F64, &e) == GC_OK);
    CHECK_MSG(ckpt_load_model(p, &b, FIXTURE_TARGET, NULL, &e) == GC_OK, "%s", e.msg);
    CHECK(stores_equal(&a, &b));

    f = st_open(p, &e);
    CHECK(f != NULL);
    if (f) {
        const st_tensor *t = st_find(f, "features.1.num_batches_tracked");
        CHECK(t && t->dtype == ST_I64 && t->ndim == 0);
        t = st_find(f, "features.0.weight");
        CHECK(t && t->dtype == ST_F64 && t->ndim == 4 && t->shape[0] == 2 && t->shape[3] == 3);
        CHECK(strcmp(st_tensor_at(f, 0)->name, "features.0.weight") == 0);  /* store order */
        CHECK(ckpt_meta_int(f, "level", &iv, &e) == GC_OK && iv == 2);
        CHECK(ckpt_meta_double(f, "lr", &dv, &e) == GC_OK && dv == 1e-4);
        CHECK(ckpt_meta_int(f, "lr", &iv, &e) == GC_FAIL && strstr(e.msg, "not an integer") &&
              strstr(e.msg, p));
        CHECK(ckpt_meta_int(f, "seed", &iv, &e) == GC_FAIL && strstr(e.msg, "missing"));
        st_close(f);
    }

    /* F32: values rounded to float, loaded into the double build */
    path_of(p, "m32.safetensors");
    CHECK(ckpt_save_model(p, &a, NULL, ST_F32, &e) == GC_OK);
    CHECK(ckpt_load_model(p, &b, FIXTURE_TARGET, NULL, &e) == GC_OK);
    for (i = 0, ok = 1; i < a.nvalue; i++) ok &= b.value[i] == (real)(float)a.value[i];
    CHECK(ok);
#ifdef GC_REAL_DOUBLE
    CHECK(b.value[1] != a.value[1]);   /* really rounded: the fixture values need double */
#endif
    CHECK(memcmp(a.buffer, b.buffer, a.nbuffer * sizeof(real)) == 0);
    ps_free(&a);
    ps_free(&b);
    dir_close();
}

static void test_alias(void)
{
    param_store a, b;
    real b0;
    char p[PATH_CAP];
    gc_error e;
    dir_open();
    fixture_build(&a);
    fixture_build(&b);
    fixture_fill(&a, 0.25);   /* 0.25 + 0.1 i: F32 rounding differs, compare loaded F32 */
    path_of(p, "alias_only.safetensors");
    write_with_alias(p, &a, 1, 0.0);
    CHECK_MSG(ckpt_load_model(p, &b, FIXTURE_TARGET, NULL, &e) == GC_OK, "%s", e.msg);
    {
        size_t i;
        int ok = 1;
        for (i = 0; i < a.nvalue; i++) ok &= b.value[i] == (real)(float)a.value[i];
        CHECK(ok);
        CHECK(ps_value(&b, ps_find(&b, "features.1.num_batches_tracked"))[0] == 7);
        CHECK(memcmp(a.buffer, b.buffer, a.nbuffer * sizeof(real)) == 0);
    }
    /* without a target index an alias cannot be resolved */
    fixture_fill(&b, 9.0);
    b0 = b.value[0];
    CHECK(ckpt_load_model(p, &b, -1, NULL, &e) == GC_FAIL && strstr(e.msg, p) &&
          strstr(e.msg, "no target layer index"));
    /* a wrong target: features.0 has no running_mean */
    CHECK(ckpt_load_model(p, &b, 0, NULL, &e) == GC_FAIL &&
          strstr(e.msg, "'_target_layer.weight' (alias of 'features.0.weight'): shape [2] in "
                        "the file, [2, 1, 3, 3] in the model"));
    CHECK(ckpt_load_model(p, &b, 5, NULL, &e) == GC_FAIL &&
          strstr(e.msg, "(alias of 'features.5.weight') is not in the model"));
    CHECK(b.value[0] == b0);   /* unchanged by the failed loads */

    path_of(p, "alias_both.safetensors");
    write_with_alias(p, &a, 2, 0.0);
    CHECK_MSG(ckpt_load_model(p, &b, FIXTURE_TARGET, NULL, &e) == GC_OK, "%s", e.msg);
    CHECK(b.value[0] == (real)(float)a.value[0]);

    fixture_fill(&b, 9.0);
    path_of(p, "alias_differ.safetensors");
    write_with_alias(p, &a, 2, 0.5);
    CHECK(ckpt_load_model(p, &b, FIXTURE_TARGET, NULL, &e) == GC_FAIL && strstr(e.msg, p) &&
          strstr(e.msg, "differ") && strstr(e.msg, "_target_layer.weight"));
    CHECK(b.value[0] == b0);
    ps_free(&a);
    ps_free(&b);
    dir_close();
}

/* A file holding the fixture with one change: entry `skip` left out, an
 * extra tensor added, or one entry replaced by (dtype, shape). */
static void write_variant(const char *path, param_store *ps, const char *skip, const char *extra,
                          const char *replace, st_dtype dtype, int ndim, const int64_t *shape)
{
    st_writer *w = st_writer_new(ST_F64);
    gc_error e;
    real zeros[64];
    int64_t izeros[64];
    int i;
    memset(zeros, 0, sizeof zeros);
    memset(izeros, 0, sizeof izeros);
    for (i = 0; i < ps->count; i++) {
        const ps_entry *en = &ps->entry[i];
        if (skip && strcmp(en->name, skip) == 0) continue;
        if (replace && strcmp(en->name, replace) == 0) {
            if (dtype == ST_I64) CHECK(st_writer_add_i64(w, en->name, ndim, shape, izeros, &e) == GC_OK);
            else CHECK(st_writer_add_real(w, en->name, ndim, shape, zeros, dtype, &e) == GC_OK);
            continue;
        }
        if (en->disk_int64) {
            int64_t v = 7;
            CHECK(st_writer_add_i64(w, en->name, en->ndim, en->shape, &v, &e) == GC_OK);
        } else {
            CHECK(st_writer_add_real(w, en->name, en->ndim, en->shape, ps_value(ps, i),
                                     ST_DEFAULT, &e) == GC_OK);
        }
    }
    if (extra) CHECK(st_writer_add_real(w, extra, 1, shape, zeros, ST_F32, &e) == GC_OK);
    CHECK(st_writer_write(w, path, &e) == GC_OK);
    st_writer_free(w);
}

static void expect_load_fail_at(int line, const char *path, param_store *ps, const char *allow,
                                const char *needle)
{
    gc_error e;
    param_store before;
    e.msg[0] = '\0';
    fixture_build(&before);
    memcpy(before.value, ps->value, ps->nvalue * sizeof(real));
    memcpy(before.buffer, ps->buffer, ps->nbuffer * sizeof(real));
    if (ckpt_load_model(path, ps, FIXTURE_TARGET, allow, &e) == GC_OK) {
        test_report(__FILE__, line, "loaded a bad file (expected '%s')", needle);
    } else {
        if (!strstr(e.msg, path)) test_report(__FILE__, line, "message lacks the path: %s", e.msg);
        if (!strstr(e.msg, needle))
            test_report(__FILE__, line, "message lacks '%s': %s", needle, e.msg);
        if (!stores_equal(&before, ps)) test_report(__FILE__, line, "store changed by a failed load");
    }
    ps_free(&before);
}
#define EXPECT_LOAD_FAIL(path, ps, allow, needle) \
    expect_load_fail_at(__LINE__, path, ps, allow, needle)

static void test_validation_errors(void)
{
    static const int64_t s2[1] = {2}, s3[1] = {3}, s23[2] = {2, 3}, s32[2] = {3, 2};
    param_store a, b;
    char p[PATH_CAP];
    gc_error e;
    dir_open();
    fixture_build(&a);
    fixture_build(&b);
    fixture_fill(&a, 0.5);
    fixture_fill(&b, 3.0);
    path_of(p, "v.safetensors");

    write_variant(p, &a, "classifier.1.bias", NULL, NULL, ST_F32, 0, NULL);
    EXPECT_LOAD_FAIL(p, &b, NULL, "tensor 'classifier.1.bias' is missing");
    write_variant(p, &a, "features.1.num_batches_tracked", NULL, NULL, ST_F32, 0, NULL);
    EXPECT_LOAD_FAIL(p, &b, NULL, "num_batches_tracked' is missing");

    write_variant(p, &a, NULL, "features.9.weight", NULL, ST_F32, 1, s2);
    EXPECT_LOAD_FAIL(p, &b, NULL, "unexpected tensor 'features.9.weight'");
    write_variant(p, &a, NULL, "train.adam.m", NULL, ST_F32, 1, s2);
    EXPECT_LOAD_FAIL(p, &b, NULL, "unexpected tensor 'train.adam.m'");
    CHECK_MSG(ckpt_load_model(p, &b, FIXTURE_TARGET, CKPT_TRAIN_PREFIX, &e) == GC_OK, "%s", e.msg);
    fixture_fill(&b, 3.0);

    write_variant(p, &a, NULL, NULL, "classifier.1.weight", ST_F32, 2, s23);
    EXPECT_LOAD_FAIL(p, &b, NULL, "shape [2, 3] in the file, [3, 2] in the model");
    write_variant(p, &a, NULL, NULL, "classifier.1.bias", ST_F32, 2, s32);
    EXPECT_LOAD_FAIL(p, &b, NULL, "shape [3, 2] in the file, [3] in the model");
    write_variant(p, &a, NULL, NULL, "features.1.num_batches_tracked", ST_I64, 1, s2 + 0);
    EXPECT_LOAD_FAIL(p, &b, NULL, "shape [2] in the file, [] in the model");
    write_variant(p, &a, NULL, NULL, "features.1.num_batches_tracked", ST_F32, 0, NULL);
    EXPECT_LOAD_FAIL(p, &b, NULL, "dtype F32, expected an integer type");
    write_variant(p, &a, NULL, NULL, "classifier.1.bias", ST_I64, 1, s3);
    EXPECT_LOAD_FAIL(p, &b, NULL, "dtype I64, expected a floating-point type");

    /* malformed files through the same entry point */
    {
        unsigned char hdr[16] = {0, 0, 0, 0, 0, 0, 0, 0x10, '{', '}'};
        CHECK(tmpdir_write(p, hdr, 10) == 0);   /* header length 2^60 */
        EXPECT_LOAD_FAIL(p, &b, NULL, "exceeds the safetensors limit");
        CHECK(tmpdir_write(p, "garbage!garbage!", 16) == 0);
        EXPECT_LOAD_FAIL(p, &b, NULL, "safetensors");
        write_variant(p, &a, NULL, NULL, NULL, ST_F32, 0, NULL);
        {
            size_t n = 0;
            unsigned char buf[4096];
            FILE *fp = fopen(p, "rb");
            if (fp) {
                n = fread(buf, 1, sizeof buf, fp);
                fclose(fp);
            }
            CHECK(n > 100 && n < sizeof buf);
            CHECK(tmpdir_write(p, buf, n - 5) == 0);   /* truncated */
            EXPECT_LOAD_FAIL(p, &b, NULL, "truncated file");
            CHECK(tmpdir_write(p, buf, n - 8) == 0);   /* cut between tensors */
            EXPECT_LOAD_FAIL(p, &b, NULL, "truncated file");
        }
    }
    path_of(p, "absent.safetensors");
    EXPECT_LOAD_FAIL(p, &b, NULL, "cannot open");
    CHECK(b.value[0] == (real)(3.0 + 1e-9));

    /* a store value that is not an integer cannot go to I64 */
    ps_value(&a, ps_find(&a, "features.1.num_batches_tracked"))[0] = (real)2.5;
    path_of(p, "bad_nbt.safetensors");
    CHECK(ckpt_save_model(p, &a, NULL, ST_DEFAULT, &e) == GC_FAIL && strstr(e.msg, p) &&
          strstr(e.msg, "not an integer"));
    CHECK(tmpdir_count(dir) == 1);   /* only v.safetensors; no temp, no bad_nbt */
    ps_free(&a);
    ps_free(&b);
    dir_close();
}

/* Save model + Adam + plateau + RNG mid-run, reload into fresh objects,
 * and check that both runs continue with identical bits. */
static void test_training_state_resume(void)
{
    param_store a, b;
    adam oa, ob;
    plateau pa, pb;
    plateau_config pc = plateau_defaults();
    rng ra, rb;
    double lra = 1e-3, lrb = 0;
    char p[PATH_CAP];
    gc_error e;
    st_writer *w;
    st_file *f;
    int step, i;
    size_t j;
    static const double metric[8] = {1.0, 0.9, 0.95, 0.97, 0.99, 1.2, 1.3, 0.5};
    dir_open();
    fixture_build(&a);
    fixture_build(&b);
    fixture_fill(&a, 0.1);
    pc.patience = 1;
    CHECK(adam_init(&oa, a.nvalue, lra, 0.9, 0.999, 1e-8, 0.0, &e) == GC_OK);
    CHECK(adam_init(&ob, b.nvalue, 5.0, 0.5, 0.5, 1.0, 0.0, &e) == GC_OK);
    CHECK(plateau_init(&pa, &pc, &e) == GC_OK);
    CHECK(plateau_init(&pb, &pc, &e) == GC_OK);
    rng_seed(&ra, 5);
    rng_seed(&rb, 99);
    for (step = 0; step < 3; step++) {
        for (j = 0; j < a.nvalue; j++) a.grad[j] = (real)(rng_normal(&ra) * 0.1);
        adam_step(&oa, a.value, a.grad);
        plateau_step(&pa, metric[step], &lra);
        oa.lr = lra;
    }
    path_of(p, "resume.safetensors");
    w = st_writer_new(ST_F32);   /* model in F32; training state stays exact */
    CHECK(ckpt_add_store(w, &a, ST_REAL_NATIVE, &e) == GC_OK);
    CHECK(ckpt_add_adam(w, "train.adam.", &oa, &e) == GC_OK);
    CHECK(ckpt_add_plateau(w, "train.plateau", &pa, &e) == GC_OK);
    CHECK(ckpt_add_rng(w, "train.rng", &ra, &e) == GC_OK);
    CHECK(st_writer_meta(w, "epoch", "3", &e) == GC_OK);
    CHECK(st_writer_write(w, p, &e) == GC_OK);
    st_writer_free(w);

    f = st_open(p, &e);
    CHECK_MSG(f != NULL, "%s", e.msg);
    if (f) {
        const char *const prefixes[] = {CKPT_TRAIN_PREFIX, NULL};
        ckpt_load_opts opts;
        opts.target = FIXTURE_TARGET;
        opts.extra_prefixes = prefixes;
        CHECK_MSG(ckpt_load_store(f, &b, &opts, &e) == GC_OK, "%s", e.msg);
        CHECK_MSG(ckpt_read_adam(f, "train.adam.", &ob, &e) == GC_OK, "%s", e.msg);
        CHECK_MSG(ckpt_read_plateau(f, "train.plateau", &pb, &e) == GC_OK, "%s", e.msg);
        CHECK_MSG(ckpt_read_rng(f, "train.rng", &rb, &e) == GC_OK, "%s", e.msg);
        CHECK(st_find(f, "train.adam.m")->dtype == ST_REAL_NATIVE);
        /* errors: wrong sizes and names */
        {
            adam small;
            CHECK(adam_init(&small, 3, 1e-3, 0.9, 0.999, 1e-8, 0, &e) == GC_OK);
            CHECK(ckpt_read_adam(f, "train.adam.", &small, &e) == GC_FAIL && strstr(e.msg, p) &&
                  strstr(e.msg, "shape"));
            CHECK(small.step == 0);
            adam_free(&small);
        }
        CHECK(ckpt_read_rng(f, "train.plateau", &rb, &e) == GC_FAIL && strstr(e.msg, "shape"));
        CHECK(ckpt_read_plateau(f, "train.nothing", &pb, &e) == GC_FAIL &&
              strstr(e.msg, "missing"));
        st_close(f);
    }
    lrb = ob.lr;
    CHECK(stores_equal(&a, &b));
    CHECK(ob.step == 3 && ob.beta1 == 0.9 && ob.eps == 1e-8 && lrb == lra);
    CHECK(memcmp(oa.m, ob.m, a.nvalue * sizeof(real)) == 0);
    CHECK(memcmp(oa.v, ob.v, a.nvalue * sizeof(real)) == 0);
    {
        double sa[PLATEAU_STATE_LEN], sb[PLATEAU_STATE_LEN];
        plateau_state_export(&pa, sa);
        plateau_state_export(&pb, sb);
        CHECK(memcmp(sa, sb, sizeof sa) == 0);
        CHECK(pb.num_bad_epochs == 1 && pb.last_epoch == 3 && pb.best == 0.9);
    }
    CHECK(memcmp(&ra, &rb, sizeof ra) == 0);
    for (step = 3; step < 8; step++) {
        int ka, kb;
        for (j = 0; j < a.nvalue; j++) a.grad[j] = (real)(rng_normal(&ra) * 0.1);
        for (j = 0; j < b.nvalue; j++) b.grad[j] = (real)(rng_normal(&rb) * 0.1);
        adam_step(&oa, a.value, a.grad);
        adam_step(&ob, b.value, b.grad);
        ka = plateau_step(&pa, metric[step], &lra);
        kb = plateau_step(&pb, metric[step], &lrb);
        CHECK(ka == kb && lra == lrb);
        oa.lr = lra;
        ob.lr = lrb;
    }
    CHECK(lra < 1e-3);   /* the metric sequence did trigger a reduction */
    CHECK(stores_equal(&a, &b));
    for (i = 0; i < 4; i++) CHECK(rng_next(&ra) == rng_next(&rb));
    adam_free(&oa);
    adam_free(&ob);
    ps_free(&a);
    ps_free(&b);
    dir_close();
}

/* With GC_FIXTURE_DIR (tests/test_torch_load.sh): load PyTorch's file and
 * write ours for PyTorch. Without it: the same save/load cycle on a temp
 * folder, with a file written here standing in for PyTorch's. */
static void test_torch_fixture(void)
{
    const char *fx = getenv("GC_FIXTURE_DIR");
    char in[PATH_CAP], out64[PATH_CAP], out32[PATH_CAP];
    param_store ps, back;
    gc_error e;
    int own = fx == NULL || !*fx;
    if (own) {
        dir_open();
        fx = dir;
    }
    tmpdir_path(in, sizeof in, fx, "torch.safetensors");
    tmpdir_path(out64, sizeof out64, fx, "ours_f64.safetensors");
    tmpdir_path(out32, sizeof out32, fx, "ours_f32.safetensors");
    fixture_build(&ps);
    fixture_build(&back);
    if (own) {
        fixture_fill(&ps, 0.3);
        write_with_alias(in, &ps, 1, 0.0);   /* PyTorch-like: F32, alias only */
    }
    CHECK_MSG(ckpt_load_model(in, &ps, FIXTURE_TARGET, NULL, &e) == GC_OK, "%s", e.msg);
    if (!own) {
        /* PyTorch's file as safetensors' save_model leaves it: alias only */
        char alias_only[PATH_CAP];
        tmpdir_path(alias_only, sizeof alias_only, fx, "torch_alias.safetensors");
        CHECK_MSG(ckpt_load_model(alias_only, &back, FIXTURE_TARGET, NULL, &e) == GC_OK, "%s",
                  e.msg);
        CHECK(stores_equal(&ps, &back));
    }
    CHECK(ckpt_save_model(out64, &ps, NULL, ST_F64, &e) == GC_OK);
    CHECK(ckpt_save_model(out32, &ps, NULL, ST_F32, &e) == GC_OK);
    CHECK(ckpt_load_model(out32, &back, -1, NULL, &e) == GC_OK);
    CHECK(stores_equal(&ps, &back));   /* values came from F32: exact both ways */
    ps_free(&ps);
    ps_free(&back);
    if (own) dir_close();
}

int main(int argc, char **argv)
{
    static const test_case cases[] = {
        TEST_CASE(test_roundtrip_f64_and_f32),
        TEST_CASE(test_alias),
        TEST_CASE(test_validation_errors),
        TEST_CASE(test_training_state_resume),
        TEST_CASE(test_torch_fixture),
    };
    return test_main(argc, argv, cases, TEST_COUNT(cases));
}
