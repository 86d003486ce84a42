/*
 * tests/test_model.c - the five model levels (nn/model.c, DESIGN.md section 4).
 *
 * Checked against numbers taken from PyTorch (the published Model1..Model5 as
 * mirrored in /work/shared/bench/torch_baseline.py): parameter counts, the
 * state_dict names, order and shapes, the Grad-CAM activation shape A at
 * 28x28, 64x64 and 224x224 inputs; then construction errors, the trunk/head
 * split at every features index, determinism, and a whole-model gradient
 * check (DESIGN.md section 3): <grad, v> against central differences of
 * f(theta) = sum(dl * logits(theta)) along random parameter directions v,
 * every level, train mode (dropout p = 0) and eval mode.
 */
#include <math.h>
#include <string.h>

#include "nn/model.h"
#include "tests/test.h"

/* Build or fail the test case (returns 0 on failure). */
static int build(model *m, int level, int in_c, int h, int w, int classes, int max_n,
                 uint64_t seed)
{
    gc_error err;
    err.msg[0] = '\0';
    if (model_build(m, level, in_c, h, w, classes, max_n, seed, &err) != GC_OK) {
        CHECK_MSG(0, "model_build level %d %dx%dx%d failed: %s", level, in_c, h, w, err.msg);
        return 0;
    }
    return 1;
}

static void fill_uniform(rng *r, real *v, size_t count, double scale)
{
    size_t i;
    for (i = 0; i < count; i++) v[i] = (real)rng_uniform_range(r, -scale, scale);
}

/* ---------------------------------------------------------------- counts */

static void test_param_counts(void)
{
    /* PyTorch: sum(p.numel() for p in ModelL(2, 1).parameters()) and
     * len(state_dict) without the `_target_layer.*` duplicates. */
    static const size_t expect[MODEL_LEVELS] = {4866, 389314, 1208258, 400542, 4824962};
    static const int entries[MODEL_LEVELS] = {6, 30, 57, 42, 57};
    /* ModelL(10, 3): other channel and class counts */
    static const size_t expect_3c10[MODEL_LEVELS] = {5418, 391946, 1210890, 403174, 4830218};
    static const int nfeat[MODEL_LEVELS] = {6, 15, 9, 18, 9};
    static const int nblk[MODEL_LEVELS] = {9, 19, 13, 22, 13};
    int level;
    for (level = 1; level <= MODEL_LEVELS; level++) {
        model m;
        if (!build(&m, level, 1, 28, 28, 2, 1, 1)) continue;
        CHECK_MSG(model_param_count(&m) == expect[level - 1], "level %d: %zu parameters, expected %zu",
                  level, model_param_count(&m), expect[level - 1]);
        CHECK_MSG(m.ps.count == entries[level - 1], "level %d: %d state_dict entries, expected %d",
                  level, m.ps.count, entries[level - 1]);
        CHECK(m.nfeatures == nfeat[level - 1]);
        CHECK(m.nblocks == nblk[level - 1]);
        CHECK(m.target == model_default_target(level));
        model_free(&m);
        if (!build(&m, level, 3, 28, 28, 10, 1, 1)) continue;
        CHECK_MSG(model_param_count(&m) == expect_3c10[level - 1],
                  "level %d, 3 channels, 10 classes: %zu parameters, expected %zu", level,
                  model_param_count(&m), expect_3c10[level - 1]);
        model_free(&m);
    }
    CHECK(model_default_target(1) == 4 && model_default_target(2) == 13 &&
          model_default_target(3) == 8 && model_default_target(4) == 17 &&
          model_default_target(5) == 8);
}

/* ------------------------------------------------------------ state_dict */

typedef struct sd_row {
    const char *name;
    int ndim;
    int64_t shape[4];
} sd_row;

/* Compare the whole store with a literal state_dict (PyTorch's, printed by
 * `for k, v in Model4(2, 1).state_dict().items()`, duplicates dropped). */
static void check_state_dict(const model *m, const sd_row *rows, int count, const char *what)
{
    int i, d;
    CHECK_MSG(m->ps.count == count, "%s: %d entries, expected %d", what, m->ps.count, count);
    for (i = 0; i < count && i < m->ps.count; i++) {
        const ps_entry *e = &m->ps.entry[i];
        int is_buffer = strstr(rows[i].name, "running_") != NULL ||
                        strstr(rows[i].name, "num_batches_tracked") != NULL;
        int same = strcmp(e->name, rows[i].name) == 0 && e->ndim == rows[i].ndim;
        for (d = 0; same && d < rows[i].ndim; d++) same = e->shape[d] == rows[i].shape[d];
        CHECK_MSG(same, "%s: entry %d is %s (ndim %d, shape[0] %lld), expected %s (ndim %d)",
                  what, i, e->name, e->ndim, e->ndim ? (long long)e->shape[0] : -1LL,
                  rows[i].name, rows[i].ndim);
        CHECK_MSG((e->kind == PS_BUFFER) == is_buffer, "%s: %s has the wrong kind", what,
                  e->name);
        CHECK_MSG(e->disk_int64 == (strstr(rows[i].name, "num_batches_tracked") != NULL),
                  "%s: %s disk_int64 = %d", what, e->name, e->disk_int64);
    }
}

static void test_state_dict_level4(void)
{
    static const sd_row rows[] = {
        {"features.0.weight", 4, {32, 1, 3, 3}},
        {"features.0.bias", 1, {32}},
        {"features.1.weight", 1, {32}},
        {"features.1.bias", 1, {32}},
        {"features.1.running_mean", 1, {32}},
        {"features.1.running_var", 1, {32}},
        {"features.1.num_batches_tracked", 0, {0}},
        {"features.4.weight", 4, {64, 32, 3, 3}},
        {"features.4.bias", 1, {64}},
        {"features.5.weight", 1, {64}},
        {"features.5.bias", 1, {64}},
        {"features.5.running_mean", 1, {64}},
        {"features.5.running_var", 1, {64}},
        {"features.5.num_batches_tracked", 0, {0}},
        {"features.7.fc.2.weight", 2, {4, 64}},
        {"features.7.fc.2.bias", 1, {4}},
        {"features.7.fc.4.weight", 2, {64, 4}},
        {"features.7.fc.4.bias", 1, {64}},
        {"features.9.weight", 4, {128, 64, 3, 3}},
        {"features.9.bias", 1, {128}},
        {"features.10.weight", 1, {128}},
        {"features.10.bias", 1, {128}},
        {"features.10.running_mean", 1, {128}},
        {"features.10.running_var", 1, {128}},
        {"features.10.num_batches_tracked", 0, {0}},
        {"features.12.fc.2.weight", 2, {8, 128}},
        {"features.12.fc.2.bias", 1, {8}},
        {"features.12.fc.4.weight", 2, {128, 8}},
        {"features.12.fc.4.bias", 1, {128}},
        {"features.14.weight", 4, {256, 128, 3, 3}},
        {"features.14.bias", 1, {256}},
        {"features.15.weight", 1, {256}},
        {"features.15.bias", 1, {256}},
        {"features.15.running_mean", 1, {256}},
        {"features.15.running_var", 1, {256}},
        {"features.15.num_batches_tracked", 0, {0}},
        {"features.17.fc.2.weight", 2, {16, 256}},
        {"features.17.fc.2.bias", 1, {16}},
        {"features.17.fc.4.weight", 2, {256, 16}},
        {"features.17.fc.4.bias", 1, {256}},
        {"classifier.3.weight", 2, {2, 256}},
        {"classifier.3.bias", 1, {2}},
    };
    model m;
    if (!build(&m, 4, 1, 28, 28, 2, 1, 3)) return;
    check_state_dict(&m, rows, TEST_COUNT(rows), "level 4");
    model_free(&m);
}

static void test_state_dict_level1(void)
{
    static const sd_row rows[] = {
        {"features.0.weight", 4, {16, 3, 3, 3}},
        {"features.0.bias", 1, {16}},
        {"features.3.weight", 4, {32, 16, 3, 3}},
        {"features.3.bias", 1, {32}},
        {"classifier.2.weight", 2, {5, 32}},
        {"classifier.2.bias", 1, {5}},
    };
    model m;
    if (!build(&m, 1, 3, 28, 28, 5, 1, 3)) return;
    check_state_dict(&m, rows, TEST_COUNT(rows), "level 1 (3 channels, 5 classes)");
    model_free(&m);
}

/* Level 3's first residual block and the order of the whole features list. */
static void test_state_dict_level3(void)
{
    static const sd_row block[] = {
        {"features.4.conv.0.weight", 4, {64, 32, 3, 3}},
        {"features.4.conv.0.bias", 1, {64}},
        {"features.4.conv.1.weight", 1, {64}},
        {"features.4.conv.1.bias", 1, {64}},
        {"features.4.conv.1.running_mean", 1, {64}},
        {"features.4.conv.1.running_var", 1, {64}},
        {"features.4.conv.1.num_batches_tracked", 0, {0}},
        {"features.4.conv.3.weight", 4, {64, 64, 3, 3}},
        {"features.4.conv.3.bias", 1, {64}},
        {"features.4.conv.4.weight", 1, {64}},
        {"features.4.conv.4.bias", 1, {64}},
        {"features.4.conv.4.running_mean", 1, {64}},
        {"features.4.conv.4.running_var", 1, {64}},
        {"features.4.conv.4.num_batches_tracked", 0, {0}},
        {"features.4.skip.weight", 4, {64, 32, 1, 1}},
        {"features.4.skip.bias", 1, {64}},
    };
    model m;
    int i, d, first;
    if (!build(&m, 3, 1, 28, 28, 2, 1, 3)) return;
    first = ps_find(&m.ps, "features.4.conv.0.weight");
    CHECK(first == 7);
    for (i = 0; first >= 0 && i < TEST_COUNT(block) && first + i < m.ps.count; i++) {
        const ps_entry *e = &m.ps.entry[first + i];
        int same = strcmp(e->name, block[i].name) == 0 && e->ndim == block[i].ndim;
        for (d = 0; same && d < e->ndim; d++) same = e->shape[d] == block[i].shape[d];
        CHECK_MSG(same, "level 3 entry %d is %s, expected %s", first + i, e->name, block[i].name);
    }
    CHECK(ps_find(&m.ps, "features.8.skip.weight") >= 0);
    CHECK(ps_find(&m.ps, "classifier.3.weight") == m.ps.count - 2);
    CHECK(ps_find(&m.ps, "classifier.3.bias") == m.ps.count - 1);
    model_free(&m);

    /* Level 5: same layout, 64..512 channels */
    if (!build(&m, 5, 1, 28, 28, 2, 1, 3)) return;
    i = ps_find(&m.ps, "features.8.skip.weight");
    CHECK(i >= 0 && m.ps.entry[i].shape[0] == 512 && m.ps.entry[i].shape[1] == 256);
    i = ps_find(&m.ps, "classifier.3.weight");
    CHECK(i >= 0 && m.ps.entry[i].shape[1] == 512);
    model_free(&m);
}

static void test_block_names(void)
{
    static const char *level2[] = {
        "features.0", "features.1", "features.2", "features.3", "features.4",
        "features.5", "features.6", "features.7", "features.8", "features.9",
        "features.10", "features.11", "features.12", "features.13", "features.14",
        "classifier.0", "classifier.1", "classifier.2", "classifier.3"};
    model m;
    int i;
    if (!build(&m, 2, 1, 28, 28, 2, 1, 3)) return;
    CHECK(m.nblocks == TEST_COUNT(level2));
    for (i = 0; i < m.nblocks && i < TEST_COUNT(level2); i++)
        CHECK_MSG(strcmp(model_block_name(&m, i), level2[i]) == 0, "block %d is %s, expected %s",
                  i, model_block_name(&m, i), level2[i]);
    CHECK(strcmp(model_block_desc(&m, 0), "conv2d 1->32") == 0);
    CHECK(strcmp(model_block_desc(&m, 13), "batchnorm2d 256") == 0);
    CHECK(strcmp(model_block_desc(&m, 17), "dropout 0.5") == 0);
    CHECK(strcmp(model_block_desc(&m, 18), "linear 256->2") == 0);
    model_free(&m);
    if (!build(&m, 4, 1, 28, 28, 2, 1, 3)) return;
    CHECK(strcmp(model_block_desc(&m, 17), "se 256/16") == 0);
    CHECK(strcmp(model_block_name(&m, 21), "classifier.3") == 0);
    model_free(&m);
    if (!build(&m, 5, 1, 28, 28, 2, 1, 3)) return;
    CHECK(strcmp(model_block_desc(&m, 8), "residual 256->512") == 0);
    CHECK(strcmp(model_block_desc(&m, 11), "dropout 0.6") == 0);
    CHECK(m.dropout_p == 0.6);
    model_free(&m);
    if (!build(&m, 1, 1, 28, 28, 2, 1, 3)) return;
    CHECK(m.dropout_block == -1);
    CHECK(strcmp(model_block_name(&m, 8), "classifier.2") == 0);
    model_free(&m);
}

/* ------------------------------------------------------------- A shapes */

static void test_cam_shapes(void)
{
    /* PyTorch get_cam_size at 28, 64, 224 (channels from Table 1). */
    static const int side[3] = {28, 64, 224};
    static const int cam[MODEL_LEVELS][3] = {
        {14, 32, 112}, {3, 8, 28}, {3, 8, 28}, {3, 8, 28}, {3, 8, 28}};
    static const int cam_c[MODEL_LEVELS] = {32, 256, 256, 256, 512};
    int level, s;
    for (level = 1; level <= MODEL_LEVELS; level++)
        for (s = 0; s < 3; s++) {
            model m;
            if (!build(&m, level, 1, side[s], side[s], 2, 1, 5)) continue;
            CHECK_MSG(m.cam_c == cam_c[level - 1] && m.cam_h == cam[level - 1][s] &&
                          m.cam_w == cam[level - 1][s],
                      "level %d at %d: A is %dx%dx%d, expected %dx%dx%d", level, side[s], m.cam_c,
                      m.cam_h, m.cam_w, cam_c[level - 1], cam[level - 1][s], cam[level - 1][s]);
            model_free(&m);
        }
}

static void test_cam_shape_other_targets(void)
{
    model m;
    int c, h, w;
    gc_error err;
    /* non-square, odd input: 30 x 17 -> pools floor: 15x8, 7x4, 3x2 */
    if (!build(&m, 2, 1, 30, 17, 2, 1, 5)) return;
    CHECK(m.cam_h == 3 && m.cam_w == 2);
    CHECK(model_cam_shape(&m, 0, &c, &h, &w, &err) == GC_OK && c == 32 && h == 30 && w == 17);
    CHECK(model_cam_shape(&m, 3, &c, &h, &w, &err) == GC_OK && c == 32 && h == 15 && w == 8);
    CHECK(model_cam_shape(&m, 9, &c, &h, &w, &err) == GC_OK && c == 128 && h == 7 && w == 4);
    CHECK(model_cam_shape(&m, 15, &c, &h, &w, &err) == GC_FAIL);
    CHECK(strstr(err.msg, "nn/model.c") != NULL && strstr(err.msg, "target 15") != NULL);
    CHECK(model_cam_shape(&m, -1, &c, &h, &w, &err) == GC_FAIL);
    /* the target did not change */
    CHECK(m.target == 13 && m.cam_c == 256);
    model_free(&m);
    if (!build(&m, 1, 1, 5, 9, 2, 1, 5)) return;   /* 5x9: 2x4 at target 4 */
    CHECK(m.cam_h == 2 && m.cam_w == 4);
    model_free(&m);
}

/* ----------------------------------------------------------------- errors */

static void expect_fail(int level, int in_c, int h, int w, int classes, int max_n,
                        const char *needle)
{
    model m;
    gc_error err;
    err.msg[0] = '\0';
    CHECK_MSG(model_build(&m, level, in_c, h, w, classes, max_n, 1, &err) == GC_FAIL,
              "level %d in_c %d %dx%d classes %d max_n %d should fail", level, in_c, h, w,
              classes, max_n);
    CHECK_MSG(strstr(err.msg, "nn/model.c") != NULL && strstr(err.msg, needle) != NULL,
              "message \"%s\" should contain \"%s\"", err.msg, needle);
    CHECK(m.nblocks == 0 && m.ps.count == 0 && m.act_a == NULL);  /* cleaned up */
}

static void test_build_errors(void)
{
    model m;
    expect_fail(0, 1, 28, 28, 2, 1, "level 0");
    expect_fail(6, 1, 28, 28, 2, 1, "level 6");
    expect_fail(1, 0, 28, 28, 2, 1, "channels");
    expect_fail(1, 1, 28, 28, 1, 1, "classes");
    expect_fail(1, 1, 28, 28, 2, 0, "batch");
    expect_fail(1, 1, 3, 28, 2, 1, "too small");
    expect_fail(1, 1, 28, 3, 2, 1, "too small");
    expect_fail(2, 1, 7, 28, 2, 1, "too small");
    expect_fail(5, 1, 28, 7, 2, 1, "too small");
    expect_fail(3, 1, 0, 0, 2, 1, "too small");
    expect_fail(4, 1, -8, 8, 2, 1, "too small");
    expect_fail(5, 1, 1 << 15, 1 << 15, 2, 1, "too large");
    /* the smallest sizes work: 1x1 A */
    if (build(&m, 1, 1, 4, 4, 2, 1, 1)) {
        CHECK(m.cam_h == 2 && m.cam_w == 2);
        model_free(&m);
    }
    if (build(&m, 3, 1, 8, 8, 2, 1, 1)) {
        CHECK(m.cam_h == 1 && m.cam_w == 1);
        model_free(&m);
    }
}

/* -------------------------------------------------------------- forward */

static int all_finite(const real *v, size_t count)
{
    size_t i;
    for (i = 0; i < count; i++)
        if (!isfinite((double)v[i])) return 0;
    return 1;
}

static void test_forward_finite_and_targets(void)
{
    int level;
    for (level = 1; level <= MODEL_LEVELS; level++) {
        enum { N = 3, SIDE = 16, CLASSES = 3 };
        model m;
        real x[N * 2 * SIDE * SIDE], ref[N * CLASSES];
        rng r;
        int t, train;
        gc_error err;
        if (!build(&m, level, 2, SIDE, SIDE, CLASSES, N, 11)) continue;
        rng_seed(&r, 100 + level);
        fill_uniform(&r, x, TEST_COUNT(x), 1.0);
        model_forward(&m, x, N);
        CHECK(all_finite(m.logits, N * CLASSES));
        CHECK(all_finite(m.act_a, (size_t)N * m.cam_c * m.cam_h * m.cam_w));
        memcpy(ref, m.logits, sizeof ref);
        /* logits do not depend on where the model is split; n < max_n works */
        for (train = 0; train <= 1; train++) {
            model_set_train(&m, train);
            model_set_dropout(&m, 0.0);
            if (train) {
                model_forward(&m, x, N);
                memcpy(ref, m.logits, sizeof ref);
            }
            for (t = 0; t < m.nfeatures; t++) {
                int c, h, w, same = 1, i;
                CHECK(model_set_target(&m, t, &err) == GC_OK);
                CHECK(model_cam_shape(&m, t, &c, &h, &w, &err) == GC_OK);
                CHECK(m.cam_c == c && m.cam_h == h && m.cam_w == w && m.target == t);
                CHECK(m.trunk->out_c == c && m.head->in_c == c && m.head->out_c == CLASSES);
                model_forward(&m, x, N);
                for (i = 0; i < N * CLASSES; i++) same = same && m.logits[i] == ref[i];
                CHECK_MSG(same, "level %d %s: logits change with target %d", level,
                          train ? "train" : "eval", t);
            }
            model_forward(&m, x, 1);
            CHECK_MSG(fabs(m.logits[0] - ref[0]) < 1e-12 || train,
                      "level %d: sample 0 alone differs in eval mode", level);
        }
        CHECK(model_set_target(&m, m.nfeatures, &err) == GC_FAIL);
        CHECK(model_set_target(&m, -1, &err) == GC_FAIL);
        CHECK(m.target == m.nfeatures - 1);
        model_free(&m);
    }
}

static void test_determinism_and_dropout(void)
{
    enum { N = 4, SIDE = 16 };
    model a, b;
    real x[N * SIDE * SIDE], la[N * 2];
    rng r;
    if (!build(&a, 4, 1, SIDE, SIDE, 2, N, 42)) return;
    if (!build(&b, 4, 1, SIDE, SIDE, 2, N, 42)) {
        model_free(&a);
        return;
    }
    CHECK(a.ps.nvalue == b.ps.nvalue &&
          memcmp(a.ps.value, b.ps.value, a.ps.nvalue * sizeof(real)) == 0);
    CHECK(memcmp(a.ps.buffer, b.ps.buffer, a.ps.nbuffer * sizeof(real)) == 0);
    rng_seed(&r, 9);
    fill_uniform(&r, x, TEST_COUNT(x), 1.0);
    model_set_train(&a, 1);
    model_set_train(&b, 1);
    model_forward(&a, x, N);
    model_forward(&b, x, N);
    CHECK(memcmp(a.logits, b.logits, sizeof la) == 0);
    /* dropout 0.5 in train mode: a second pass draws another mask */
    memcpy(la, a.logits, sizeof la);
    model_forward(&a, x, N);
    CHECK(memcmp(a.logits, la, sizeof la) != 0);
    /* p = 0: two passes agree */
    model_set_dropout(&a, 0.0);
    CHECK(a.dropout_p == 0.0);
    model_forward(&a, x, N);
    memcpy(la, a.logits, sizeof la);
    model_forward(&a, x, N);
    CHECK(memcmp(a.logits, la, sizeof la) == 0);
    model_free(&b);
    /* another seed gives other weights */
    if (build(&b, 4, 1, SIDE, SIDE, 2, N, 43)) {
        CHECK(memcmp(a.ps.value, b.ps.value, a.ps.nvalue * sizeof(real)) != 0);
        model_free(&b);
    }
    model_free(&a);
}

/* PyTorch default init: conv/linear U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
 * BN gamma 1, beta 0, running mean 0, var 1. */
static void test_init_ranges(void)
{
    model m;
    int i;
    size_t k;
    if (!build(&m, 3, 1, 16, 16, 2, 1, 8)) return;
    for (i = 0; i < m.ps.count; i++) {
        const ps_entry *e = &m.ps.entry[i];
        const real *v = ps_value(&m.ps, i);
        const char *leaf = strrchr(e->name, '.') + 1;
        int is_bn = e->kind == PS_BUFFER || (e->ndim == 1 && strstr(e->name, "conv.1.") != NULL) ||
                    (e->ndim == 1 && strstr(e->name, "conv.4.") != NULL) ||
                    strncmp(e->name, "features.1.", 11) == 0;
        if (is_bn) {
            double want = strcmp(leaf, "weight") == 0 || strcmp(leaf, "running_var") == 0 ? 1.0
                                                                                          : 0.0;
            int ok = 1;
            for (k = 0; k < e->numel; k++) ok = ok && v[k] == want;
            CHECK_MSG(ok, "%s should be %g", e->name, want);
        } else {
            /* fan_in of the weight this tensor belongs to */
            int w = strcmp(leaf, "weight") == 0 ? i : i - 1;
            const ps_entry *we = &m.ps.entry[w];
            double fan_in = (double)we->numel / (double)we->shape[0];
            double bound = 1.0 / sqrt(fan_in), lo = 1e9, hi = -1e9;
            for (k = 0; k < e->numel; k++) {
                lo = v[k] < lo ? v[k] : lo;
                hi = v[k] > hi ? v[k] : hi;
            }
            CHECK_MSG(lo >= -bound && hi <= bound, "%s outside +-%g", e->name, bound);
            if (e->numel >= 64)
                CHECK_MSG(lo < -0.8 * bound && hi > 0.8 * bound, "%s does not fill +-%g: [%g, %g]",
                          e->name, bound, lo, hi);
        }
    }
    model_free(&m);
}

/* ---------------------------------------------------------- gradient check */

static double loss_of(model *m, const real *x, const real *dl, int n)
{
    double f = 0;
    int i;
    model_forward(m, x, n);
    for (i = 0; i < n * m->classes; i++) f += (double)dl[i] * (double)m->logits[i];
    return f;
}

/* One level, one mode: WANT directions without a kink must agree. */
static void gradcheck_level(int level, int train)
{
    enum { N = 2, SIDE = 16, IN_C = 2, CLASSES = 3, TRIES = 6, WANT = 3 };
    const double h = 1e-6, tol = 1e-6;
    model m;
    real x[N * IN_C * SIDE * SIDE], dl[N * CLASSES];
    real *theta0, *g, *v;
    size_t P, k;
    rng r;
    int t, accepted = 0, kinks = 0;
    if (!build(&m, level, IN_C, SIDE, SIDE, CLASSES, N, 1000 + level)) return;
    model_set_train(&m, train);
    model_set_dropout(&m, 0.0);
    P = m.ps.nvalue;
    rng_seed(&r, 77 + level);
    /* jitter BN gammas/betas and everything else so no parameter sits at its
     * special initial value (BN gamma 1, beta 0) */
    for (k = 0; k < P; k++) m.ps.value[k] += (real)rng_uniform_range(&r, -0.1, 0.1);
    fill_uniform(&r, x, TEST_COUNT(x), 1.0);
    fill_uniform(&r, dl, TEST_COUNT(dl), 1.0);
    theta0 = (real *)gc_calloc(P, sizeof(real));
    g = (real *)gc_calloc(P, sizeof(real));
    v = (real *)gc_calloc(P, sizeof(real));
    memcpy(theta0, m.ps.value, P * sizeof(real));

    (void)loss_of(&m, x, dl, N);
    ps_zero_grad(&m.ps);
    model_backward(&m, dl);
    memcpy(g, m.ps.grad, P * sizeof(real));
    /* backward accumulates */
    (void)loss_of(&m, x, dl, N);
    model_backward(&m, dl);
    {
        double worst = 0;
        for (k = 0; k < P; k++) {
            double e = fabs(m.ps.grad[k] - 2 * g[k]);
            worst = e > worst ? e : worst;
        }
        CHECK_MSG(worst < 1e-12, "level %d: a second backward does not accumulate (%g)", level,
                  worst);
    }
    CHECK(all_finite(g, P));

    for (t = 0; t < TRIES && accepted < WANT; t++) {
        double dot = 0, fp, fm, f0, central, fwd, bwd, err, scale;
        fill_uniform(&r, v, P, 1.0);
        for (k = 0; k < P; k++) dot += (double)g[k] * (double)v[k];
        for (k = 0; k < P; k++) m.ps.value[k] = theta0[k] + (real)(h * v[k]);
        fp = loss_of(&m, x, dl, N);
        for (k = 0; k < P; k++) m.ps.value[k] = theta0[k] - (real)(h * v[k]);
        fm = loss_of(&m, x, dl, N);
        memcpy(m.ps.value, theta0, P * sizeof(real));
        f0 = loss_of(&m, x, dl, N);
        central = (fp - fm) / (2 * h);
        fwd = (fp - f0) / h;
        bwd = (f0 - fm) / h;
        err = fabs(central - dot);
        scale = fabs(dot) > 1e-3 ? fabs(dot) : 1e-3;
        if (err <= tol * scale) {
            accepted++;
        } else if (fabs(fwd - bwd) >= err) {
            /* a ReLU mask or a max-pool route changed within +-h: the two
             * one-sided slopes disagree by more than the error; not evidence */
            kinks++;
        } else {
            CHECK_MSG(0, "level %d %s: <grad, v> = %.12g, central difference %.12g "
                         "(rel err %.3g, one-sided %.12g / %.12g)",
                      level, train ? "train" : "eval", dot, central, err / scale, fwd, bwd);
            accepted++;
        }
    }
    CHECK_MSG(accepted >= WANT, "level %d %s: only %d directions without a kink (%d kinks)", level,
              train ? "train" : "eval", accepted, kinks);
    free(theta0);
    free(g);
    free(v);
    model_free(&m);
}

static void test_gradcheck_level1(void) { gradcheck_level(1, 1); gradcheck_level(1, 0); }
static void test_gradcheck_level2(void) { gradcheck_level(2, 1); gradcheck_level(2, 0); }
static void test_gradcheck_level3(void) { gradcheck_level(3, 1); gradcheck_level(3, 0); }
static void test_gradcheck_level4(void) { gradcheck_level(4, 1); gradcheck_level(4, 0); }
static void test_gradcheck_level5(void) { gradcheck_level(5, 1); gradcheck_level(5, 0); }

/* The gradient does not depend on the split point. */
static void test_backward_any_target(void)
{
    enum { N = 2, SIDE = 16, CLASSES = 2 };
    int level;
    for (level = 1; level <= MODEL_LEVELS; level++) {
        model m;
        real x[N * SIDE * SIDE], dl[N * CLASSES], *g0;
        rng r;
        int t;
        gc_error err;
        if (!build(&m, level, 1, SIDE, SIDE, CLASSES, N, 5)) continue;
        model_set_train(&m, 1);
        model_set_dropout(&m, 0.0);
        rng_seed(&r, 3);
        fill_uniform(&r, x, TEST_COUNT(x), 1.0);
        fill_uniform(&r, dl, TEST_COUNT(dl), 1.0);
        g0 = (real *)gc_calloc(m.ps.nvalue, sizeof(real));
        model_forward(&m, x, N);
        ps_zero_grad(&m.ps);
        model_backward(&m, dl);
        memcpy(g0, m.ps.grad, m.ps.nvalue * sizeof(real));
        for (t = 0; t < m.nfeatures; t += 2) {
            size_t k;
            double worst = 0;
            CHECK(model_set_target(&m, t, &err) == GC_OK);
            model_forward(&m, x, N);
            ps_zero_grad(&m.ps);
            model_backward(&m, dl);
            for (k = 0; k < m.ps.nvalue; k++) {
                double e = fabs(m.ps.grad[k] - g0[k]);
                worst = e > worst ? e : worst;
            }
            CHECK_MSG(worst <= 1e-12, "level %d target %d: gradient differs by %g", level, t,
                      worst);
        }
        free(g0);
        model_free(&m);
    }
}

/* The head split (model.h): at every target of every level, head_pre and
 * head_post exist exactly when the head holds no BatchNorm and begins with a
 * pool; head_pre then covers the leading pools (its input is A, its output
 * head_post's input, with A's channels) and head_post ends at the logits.
 * Spot checks of where the run ends. */
static void test_head_split(void)
{
    enum { SIDE = 16, CLASSES = 2 };
    int level, splits = 0;
    gc_error err;
    for (level = 1; level <= MODEL_LEVELS; level++) {
        model m;
        int t;
        if (!build(&m, level, 1, SIDE, SIDE, CLASSES, 2, 5)) continue;
        for (t = 0; t < m.nfeatures; t++) {
            int i, bn = 0, expect;
            const char *kind;
            CHECK(model_set_target(&m, t, &err) == GC_OK);
            for (i = t + 1; i < m.nblocks; i++) bn = bn || m.blocks[i]->has_batchnorm;
            kind = m.blocks[t + 1]->ops->kind;
            expect = !bn && (strcmp(kind, "maxpool2d") == 0 || strcmp(kind, "gap") == 0);
            CHECK_MSG((m.head_pre != NULL) == expect && (m.head_post != NULL) == expect,
                      "level %d target %d: split %d, expected %d", level, t,
                      m.head_pre != NULL, expect);
            if (!m.head_pre || !m.head_post) continue;
            splits++;
            CHECK(m.head_pre->in_c == m.cam_c && m.head_pre->in_h == m.cam_h &&
                  m.head_pre->in_w == m.cam_w);
            CHECK(m.head_pre->out_c == m.cam_c &&
                  layer_out_size(m.head_pre) == layer_in_size(m.head_post));
            CHECK(m.head_post->out_c == CLASSES && m.head->in_c == m.cam_c &&
                  m.head->out_c == CLASSES);
        }
        model_free(&m);
    }
    CHECK_MSG(splits == 7, "%d splits", splits);   /* L1 targets 1, 4, 5; L2-5 the last */
    {   /* Level 1: target 4 -> pool + GAP, target 1 -> one pool (then a conv) */
        model m;
        if (!build(&m, 1, 1, SIDE, SIDE, CLASSES, 2, 5)) return;
        CHECK(m.target == 4 && m.head_pre && m.head_pre->out_h == 1 && m.head_pre->out_w == 1);
        CHECK(model_set_target(&m, 1, &err) == GC_OK);
        CHECK(m.head_pre && m.head_pre->out_c == 16 && m.head_pre->out_h == SIDE / 2 &&
              m.head_post->in_c == 16 && m.head_post->in_h == SIDE / 2);
        CHECK(model_set_target(&m, 0, &err) == GC_OK && !m.head_pre && !m.head_post);
        model_free(&m);
    }
}

int main(int argc, char **argv)
{
    static const test_case cases[] = {
        TEST_CASE(test_param_counts),
        TEST_CASE(test_state_dict_level4),
        TEST_CASE(test_state_dict_level1),
        TEST_CASE(test_state_dict_level3),
        TEST_CASE(test_block_names),
        TEST_CASE(test_cam_shapes),
        TEST_CASE(test_cam_shape_other_targets),
        TEST_CASE(test_build_errors),
        TEST_CASE(test_forward_finite_and_targets),
        TEST_CASE(test_determinism_and_dropout),
        TEST_CASE(test_init_ranges),
        TEST_CASE(test_gradcheck_level1),
        TEST_CASE(test_gradcheck_level2),
        TEST_CASE(test_gradcheck_level3),
        TEST_CASE(test_gradcheck_level4),
        TEST_CASE(test_gradcheck_level5),
        TEST_CASE(test_backward_any_target),
        TEST_CASE(test_head_split),
    };
    return test_main(argc, argv, cases, TEST_COUNT(cases));
}
