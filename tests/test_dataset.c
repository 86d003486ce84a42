/* tests/test_dataset.c - data set handles on temp trees made here: synth
 * splits, ImageFolder rules (sorted classes, skipped entries, empty class,
 * symlink loops), split folders, IDX folders, resize/rescale at load, the
 * stratified subset, and augmentation determinism. */
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/dataset.h"
#include "io/pgm.h"
#include "io/synth.h"
#include "tests/support_tmpdir.h"
#include "tests/test.h"

static char dir[4096];

static int setup(void)
{
    if (tmpdir_make(dir, sizeof dir) != 0) {
        CHECK_MSG(0, "cannot create a temp folder");
        return 0;
    }
    return 1;
}

static void teardown(void) { tmpdir_remove(dir); }

static void mkdir_in(const char *rel)
{
    char p[4300];
    tmpdir_path(p, sizeof p, dir, rel);
    CHECK_MSG(mkdir(p, 0777) == 0, "mkdir %s", p);
}

/* A w x h PGM whose samples are all `v` except sample 0 = first. */
static void pgm_in(const char *rel, int w, int h, int maxval, uint16_t v, uint16_t first)
{
    char p[4300];
    uint16_t data[64];
    gc_error err;
    int k;
    for (k = 0; k < w * h; k++) data[k] = v;
    data[0] = first;
    tmpdir_path(p, sizeof p, dir, rel);
    CHECK_MSG(pgm_save(p, w, h, maxval, data, &err) == GC_OK, "%s", err.msg);
}

static void file_in(const char *rel, const char *text)
{
    char p[4300];
    tmpdir_path(p, sizeof p, dir, rel);
    CHECK(tmpdir_write_str(p, text) == 0);
}

static void link_in(const char *target, const char *rel)
{
    char p[4300];
    tmpdir_path(p, sizeof p, dir, rel);
    CHECK_MSG(symlink(target, p) == 0, "symlink %s", p);
}

static real norm(double v, double maxval) { return (real)((v / maxval - 0.5) / 0.5); }

static void expect_open_fail(const char *spec, const char *split, int size, const char *needle)
{
    dataset ds;
    gc_error err;
    err.msg[0] = '\0';
    if (dataset_open(&ds, spec, split, size, 1, &err) != GC_FAIL) {
        CHECK_MSG(0, "%s (%s) should fail", spec, split);
        dataset_free(&ds);
        return;
    }
    CHECK(ds.count == 0 && ds.pix8 == NULL && ds.labels == NULL);
    CHECK_MSG(strstr(err.msg, needle) != NULL, "%s: '%s' not in: %s", spec, needle, err.msg);
}

static void test_synth_splits(void)
{
    dataset tr, te;
    gc_error err;
    real out[16 * 16];
    uint8_t ref[16 * 16];
    int k, same = 1;
    CHECK(dataset_open(&tr, "synth:3:30", "train", 16, 5, &err) == GC_OK);
    CHECK(tr.count == 30 && tr.classes == 3 && tr.channels == 1 && tr.size == 16 &&
          tr.maxval == 255);
    CHECK(strcmp(tr.class_names[0], "no_finding") == 0 &&
          strcmp(tr.class_names[2], "lesion_b") == 0);
    CHECK(tr.labels[0] == 0 && tr.labels[4] == 1 && tr.labels[29] == 2);
    dataset_get(&tr, 7, 0, NULL, out);
    synth_image(5, 7, 3, 16, ref);
    for (k = 0; k < 16 * 16; k++) same &= out[k] == norm(ref[k], 255);
    CHECK(same);
    /* test: ceil(30/4) = 8 images from the derived stream */
    CHECK(dataset_open(&te, "synth:3:30", "test", 16, 5, &err) == GC_OK);
    CHECK(te.count == 8);
    dataset_get(&te, 7, 0, NULL, out);
    synth_image(synth_split_seed(5, 1), 7, 3, 16, ref);
    for (k = 0, same = 1; k < 16 * 16; k++) same &= out[k] == norm(ref[k], 255);
    CHECK(same);
    dataset_free(&tr);
    dataset_free(&te);
    CHECK(dataset_open(&tr, "synth", "train", 4, 1, &err) == GC_OK);
    CHECK(tr.count == SYNTH_DEFAULT_TRAIN && tr.classes == SYNTH_DEFAULT_CLASSES);
    dataset_free(&tr);
    CHECK(dataset_open(&te, "synth:5", "test", 4, 1, &err) == GC_OK);
    CHECK(te.count == SYNTH_DEFAULT_TEST && te.classes == 5);
    dataset_free(&te);
}

static void test_synth_params(void)
{
    int k = 0;
    size_t tr = 0, te = 0;
    gc_error err;
    CHECK(dataset_synth_params("synth:4:30", &k, &tr, &te, &err) == GC_OK);
    CHECK(k == 4 && tr == 30 && te == 8);
    CHECK(dataset_synth_params("synth", &k, &tr, &te, &err) == GC_OK);
    CHECK(k == SYNTH_DEFAULT_CLASSES && tr == SYNTH_DEFAULT_TRAIN && te == SYNTH_DEFAULT_TEST);
    CHECK(dataset_synth_params("synth:3:5", &k, &tr, &te, &err) == GC_OK);
    CHECK(k == 3 && tr == 5 && te == 3);   /* at least one test image per class */
    CHECK(dataset_synth_params("synthx", &k, &tr, &te, &err) == GC_FAIL &&
          strstr(err.msg, "synthx: bad synth spec"));
}

static void test_bad_specs(void)
{
    expect_open_fail("synth:1", "train", 8, "bad class count");
    expect_open_fail("synth:17", "train", 8, "bad class count");
    expect_open_fail("synth:4:0", "train", 8, "bad image count");
    expect_open_fail("synth:4:x", "train", 8, "bad image count");
    expect_open_fail("synthetic", "train", 8, "not a folder");
    expect_open_fail("synth", "val", 8, "split must be train or test");
    expect_open_fail("synth", "train", 0, "model input size 0");
    expect_open_fail("synth@0", "train", 8, "bad subset size");
    expect_open_fail("idx:only", "train", 8, "expected idx:IMAGES,LABELS");
    expect_open_fail("/nonexistent/gc-data", "train", 8, "/nonexistent/gc-data: not a folder");
}

static void test_image_folder_rules(void)
{
    char root[4300];
    dataset ds;
    gc_error err;
    real out[4];
    if (!setup()) return;
    mkdir_in("b_cls");
    mkdir_in("a_cls");
    mkdir_in("c_cls");
    mkdir_in(".git");
    pgm_in(".git/x.pgm", 2, 2, 255, 0, 0);
    pgm_in("a_cls/2.pgm", 2, 2, 255, 20, 20);
    pgm_in("a_cls/1.pgm", 2, 2, 255, 10, 10);
    file_in("a_cls/readme.txt", "not an image");
    pgm_in("a_cls/.hidden.pgm", 2, 2, 255, 0, 0);
    mkdir_in("a_cls/sub");
    pgm_in("a_cls/sub/deep.pgm", 2, 2, 255, 0, 0);   /* one level only: not read */
    pgm_in("b_cls/x.PGM", 2, 2, 255, 30, 30);
    pgm_in("c_cls/img.pgm", 2, 2, 255, 40, 40);
    link_in("..", "c_cls/loop");                      /* a directory symlink loop */
    link_in("c_cls/nothing", "c_cls/dangling.pgm");   /* dangling link */
    link_in("loop2", "c_cls/loop1");
    link_in("loop1", "c_cls/loop2");                  /* ELOOP */
    file_in("notes.txt", "root-level files are ignored");
    tmpdir_path(root, sizeof root, dir, "");
    root[strlen(root) - 1] = '\0';
    if (dataset_open(&ds, root, "train", 2, 1, &err) != GC_OK) {
        CHECK_MSG(0, "dataset_open: %s", err.msg);
        return;
    }
    CHECK_MSG(ds.count == 4, "count %zu", ds.count);
    CHECK(ds.classes == 3 && strcmp(ds.class_names[0], "a_cls") == 0 &&
          strcmp(ds.class_names[1], "b_cls") == 0 && strcmp(ds.class_names[2], "c_cls") == 0);
    CHECK(ds.labels[0] == 0 && ds.labels[1] == 0 && ds.labels[2] == 1 && ds.labels[3] == 2);
    /* readme, .hidden.pgm, sub, loop, dangling.pgm, loop1, loop2 */
    CHECK_MSG(ds.skipped == 7, "skipped %zu", ds.skipped);
    CHECK(strstr(ds.description, "7 non-image entries skipped") != NULL);
    dataset_get(&ds, 0, 0, NULL, out);   /* sorted: 1.pgm first */
    CHECK_NEAR(out[0], norm(10, 255), 1e-12);
    dataset_get(&ds, 1, 0, NULL, out);
    CHECK_NEAR(out[3], norm(20, 255), 1e-12);
    dataset_free(&ds);
    /* "test" of a plain folder is the whole folder too */
    CHECK(dataset_open(&ds, root, "test", 2, 1, &err) == GC_OK && ds.count == 4);
    dataset_free(&ds);
    /* an empty class folder is an error naming it */
    mkdir_in("d_empty");
    file_in("d_empty/x.jpeg", "jpeg");
    expect_open_fail(root, "train", 2, "d_empty: class folder has no .pgm images (1 other");
    teardown();
}

static void test_root_symlink_loop_does_not_hang(void)
{
    char root[4300];
    if (!setup()) return;
    mkdir_in("a");
    pgm_in("a/x.pgm", 2, 2, 255, 1, 1);
    link_in(".", "self"); /* a class folder that contains the class folders */
    tmpdir_path(root, sizeof root, dir, ".");
    expect_open_fail(root, "train", 2, "self: class folder has no .pgm images");
    teardown();
}

static void test_split_folders(void)
{
    char root[4300], tr[4300];
    dataset ds;
    gc_error err;
    if (!setup()) return;
    mkdir_in("train");
    mkdir_in("test");
    mkdir_in("train/x");
    mkdir_in("train/y");
    mkdir_in("test/y");
    pgm_in("train/x/1.pgm", 2, 2, 255, 1, 1);
    pgm_in("train/y/1.pgm", 2, 2, 255, 2, 2);
    pgm_in("test/y/1.pgm", 2, 2, 255, 3, 3);
    tmpdir_path(root, sizeof root, dir, ".");
    CHECK(dataset_open(&ds, root, "train", 2, 1, &err) == GC_OK);
    CHECK(ds.count == 2 && ds.classes == 2);
    dataset_free(&ds);
    CHECK(dataset_open(&ds, root, "test", 2, 1, &err) == GC_OK);
    CHECK(ds.count == 1 && ds.classes == 2 && ds.labels[0] == 1 &&
          strcmp(ds.class_names[1], "y") == 0);
    dataset_free(&ds);
    mkdir_in("test/z");
    pgm_in("test/z/1.pgm", 2, 2, 255, 3, 3);
    expect_open_fail(root, "test", 2, "class 'z' is not a class folder of");
    tmpdir_path(tr, sizeof tr, dir, "test");
    tmpdir_remove(tr);
    expect_open_fail(root, "train", 2, "has train/ but no test/");
    teardown();
}

static void test_resize_and_rescale_at_load(void)
{
    char root[4300];
    dataset ds;
    gc_error err;
    real out[4];
    uint16_t data[16];
    char p[4300];
    int k;
    if (!setup()) return;
    mkdir_in("c");
    /* columns 0, 4, 8, 12 shrunk 4 -> 2: antialiased 20/7 -> 3 and 64/7 -> 9 */
    for (k = 0; k < 16; k++) data[k] = (uint16_t)(4 * (k % 4));
    tmpdir_path(p, sizeof p, dir, "c/a.pgm");
    CHECK(pgm_save(p, 4, 4, 255, data, &err) == GC_OK);
    tmpdir_path(root, sizeof root, dir, ".");
    CHECK(dataset_open(&ds, root, "train", 2, 1, &err) == GC_OK);
    CHECK(ds.maxval == 255 && ds.pix8 != NULL);
    dataset_get(&ds, 0, 0, NULL, out);
    CHECK_NEAR(out[0], norm(3, 255), 1e-12);
    CHECK_NEAR(out[1], norm(9, 255), 1e-12);
    CHECK_NEAR(out[3], norm(9, 255), 1e-12);
    dataset_free(&ds);
    /* common maxval 1000: kept as is, uint16 cache */
    pgm_in("c/a.pgm", 2, 2, 1000, 500, 1000);
    pgm_in("c/b.pgm", 2, 2, 1000, 250, 0);
    CHECK(dataset_open(&ds, root, "train", 2, 1, &err) == GC_OK);
    CHECK(ds.maxval == 1000 && ds.pix16 != NULL && ds.pix8 == NULL);
    dataset_get(&ds, 0, 0, NULL, out);
    CHECK_NEAR(out[0], 1.0, 1e-12);
    CHECK_NEAR(out[1], 0.0, 1e-12);
    dataset_free(&ds);
    /* mixed maxvals: rescaled to 65535 */
    pgm_in("c/b.pgm", 2, 2, 255, 255, 0);
    CHECK(dataset_open(&ds, root, "train", 2, 1, &err) == GC_OK);
    CHECK(ds.maxval == 65535);
    dataset_get(&ds, 1, 0, NULL, out);
    CHECK_NEAR(out[0], -1.0, 1e-12);
    CHECK_NEAR(out[1], 1.0, 1e-12);
    dataset_free(&ds);
    /* a broken image makes the open fail, naming it */
    file_in("c/b.pgm", "P5 2 2 255\nAB");
    expect_open_fail(root, "train", 2, "b.pgm: truncated");
    teardown();
}

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* IDX pair of n images 4x4 (image i filled with 10*i) and labels i % mod. */
static void idx_pair(const char *img_rel, const char *lab_rel, uint32_t n, int mod)
{
    unsigned char buf[16 + 16 * 16];
    char p[4300];
    uint32_t i, k;
    put32(buf, 0x803);
    put32(buf + 4, n);
    put32(buf + 8, 4);
    put32(buf + 12, 4);
    for (i = 0; i < n; i++)
        for (k = 0; k < 16; k++) buf[16 + 16 * i + k] = (unsigned char)(10 * i);
    tmpdir_path(p, sizeof p, dir, img_rel);
    CHECK(tmpdir_write(p, buf, 16 + 16 * n) == 0);
    put32(buf, 0x801);
    put32(buf + 4, n);
    for (i = 0; i < n; i++) buf[8 + i] = (unsigned char)(i % (uint32_t)mod);
    tmpdir_path(p, sizeof p, dir, lab_rel);
    CHECK(tmpdir_write(p, buf, 8 + n) == 0);
}

static void test_idx_folder(void)
{
    char root[4300], spec[9000], a[4300], b[4300];
    dataset ds;
    gc_error err;
    real out[64];
    if (!setup()) return;
    idx_pair("train-images-idx3-ubyte", "train-labels-idx1-ubyte", 6, 3);
    idx_pair("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", 2, 3);
    file_in("classes.txt", "shirt\r\ntrouser\n\nbag\n");
    tmpdir_path(root, sizeof root, dir, ".");
    CHECK(dataset_open(&ds, root, "train", 4, 1, &err) == GC_OK);
    CHECK(ds.count == 6 && ds.classes == 3 && strcmp(ds.class_names[1], "trouser") == 0 &&
          strcmp(ds.class_names[2], "bag") == 0 && ds.labels[5] == 2);
    dataset_get(&ds, 5, 0, NULL, out);
    CHECK_NEAR(out[15], norm(50, 255), 1e-12);
    dataset_free(&ds);
    CHECK(dataset_open(&ds, root, "test", 8, 1, &err) == GC_OK);   /* resized 4 -> 8 */
    CHECK(ds.count == 2 && ds.size == 8);
    dataset_get(&ds, 1, 0, NULL, out);
    CHECK_NEAR(out[63], norm(10, 255), 1e-12);
    dataset_free(&ds);
    /* explicit pair */
    tmpdir_path(a, sizeof a, dir, "t10k-images-idx3-ubyte");
    tmpdir_path(b, sizeof b, dir, "t10k-labels-idx1-ubyte");
    snprintf(spec, sizeof spec, "idx:%s,%s", a, b);
    CHECK(dataset_open(&ds, spec, "train", 4, 1, &err) == GC_OK && ds.count == 2 &&
          ds.classes == 3);
    dataset_free(&ds);
    /* mismatched pair */
    snprintf(spec, sizeof spec, "idx:%s/train-images-idx3-ubyte,%s", root, b);
    expect_open_fail(spec, "train", 4, "2 labels but");
    /* labels beyond the named classes */
    file_in("classes.txt", "one\ntwo\n");
    expect_open_fail(root, "train", 4, "is not below the class count 2");
    /* no classes.txt: 10 classes "0".."9" */
    tmpdir_path(a, sizeof a, dir, "classes.txt");
    CHECK(unlink(a) == 0);
    CHECK(dataset_open(&ds, root, "train", 4, 1, &err) == GC_OK && ds.classes == 10 &&
          strcmp(ds.class_names[9], "9") == 0);
    dataset_free(&ds);
    idx_pair("train-images-idx3-ubyte", "train-labels-idx1-ubyte", 12, 12);
    expect_open_fail(root, "train", 4, "classes.txt names the classes");
    teardown();
}

static void test_idx_gzip_refused(void)
{
    char root[4300];
    if (!setup()) return;
    file_in("train-images-idx3-ubyte.gz", "\x1f\x8b");
    file_in("train-labels-idx1-ubyte.gz", "\x1f\x8b");
    tmpdir_path(root, sizeof root, dir, ".");
    expect_open_fail(root, "train", 4,
                     "train-images-idx3-ubyte.gz: gzip-compressed: gunzip it or use data_prep.sh");
    expect_open_fail(root, "test", 4, "t10k-images-idx3-ubyte: missing");
    teardown();
}

static void test_subset_stratified_deterministic(void)
{
    dataset a, b, c;
    gc_error err;
    size_t counts[4], k;
    int same = 1, differs = 0;
    CHECK(dataset_open(&a, "synth:4:100@10", "train", 8, 3, &err) == GC_OK);
    CHECK(a.count == 10);
    dataset_class_counts(&a, counts);
    /* 2.5 per class: floor 2, remainder to the lower classes */
    CHECK(counts[0] == 3 && counts[1] == 3 && counts[2] == 2 && counts[3] == 2);
    /* the same subset as dataset_limit after a full open */
    CHECK(dataset_open(&b, "synth:4:100", "train", 8, 3, &err) == GC_OK);
    CHECK(dataset_limit(&b, 10, 3, &err) == GC_OK && b.count == 10);
    for (k = 0; k < 10; k++) same &= a.labels[k] == b.labels[k];
    same &= memcmp(a.pix8, b.pix8, 10 * 64) == 0;
    CHECK(same);
    /* another seed picks other images (of the same stream) */
    CHECK(dataset_open(&c, "synth:4:100", "train", 8, 3, &err) == GC_OK);
    CHECK(dataset_limit(&c, 10, 4, &err) == GC_OK);
    differs = memcmp(a.pix8, c.pix8, 10 * 64) != 0;
    CHECK(differs);
    CHECK(dataset_limit(&c, 0, 4, &err) == GC_FAIL);
    CHECK(dataset_limit(&c, 50, 4, &err) == GC_OK && c.count == 10);  /* no-op */
    dataset_free(&a);
    dataset_free(&b);
    dataset_free(&c);
    /* a subset larger than the set keeps everything */
    CHECK(dataset_open(&a, "synth:4:12@50", "train", 4, 3, &err) == GC_OK && a.count == 12);
    dataset_free(&a);
}

static void test_augment_deterministic(void)
{
    enum { S = 12 };
    dataset ds;
    gc_error err;
    real x[S * S], y[S * S], plain[S * S], mirror[S * S];
    rng r1, r2, probe;
    int i, k, same = 1, one_draw = 1, in_range = 1, saw_plain = 0, saw_mirror = 0, other = 0;
    CHECK(dataset_open(&ds, "synth:4:8", "train", S, 2, &err) == GC_OK);
    if (ds.count == 0) return;
    rng_seed(&r1, 77);
    rng_seed(&r2, 77);
    for (i = 0; i < 30; i++) {
        probe = r1;
        rng_next(&probe);
        dataset_get(&ds, (size_t)i % ds.count, 1, &r1, x);
        dataset_get(&ds, (size_t)i % ds.count, 1, &r2, y);
        same &= memcmp(x, y, sizeof x) == 0;
        one_draw &= memcmp(&probe, &r1, sizeof probe) == 0;
        for (k = 0; k < S * S; k++) in_range &= x[k] >= -1.0 - 1e-12 && x[k] <= 1.0 + 1e-12;
    }
    CHECK(same);
    CHECK_MSG(one_draw, "dataset_get(augment=1) must consume exactly one rng_next");
    CHECK(in_range);
    /* flip then crop: the fallback (whole image) shows the image itself or
     * its mirror exactly; other draws are proper crops */
    dataset_get(&ds, 3, 0, NULL, plain);
    for (k = 0; k < S * S; k++) mirror[k] = plain[(k / S) * S + (S - 1 - k % S)];
    for (i = 0; i < 300; i++) {
        dataset_get(&ds, 3, 1, &r1, x);
        if (memcmp(x, plain, sizeof x) == 0) saw_plain++;
        else if (memcmp(x, mirror, sizeof x) == 0) saw_mirror++;
        else other++;
    }
    CHECK_MSG(saw_plain > 0 && saw_mirror > 0 && other > 0, "plain %d mirror %d other %d",
              saw_plain, saw_mirror, other);
    dataset_free(&ds);
}

int main(int argc, char **argv)
{
    static const test_case cases[] = {
        TEST_CASE(test_synth_splits),
        TEST_CASE(test_synth_params),
        TEST_CASE(test_bad_specs),
        TEST_CASE(test_image_folder_rules),
        TEST_CASE(test_root_symlink_loop_does_not_hang),
        TEST_CASE(test_split_folders),
        TEST_CASE(test_resize_and_rescale_at_load),
        TEST_CASE(test_idx_folder),
        TEST_CASE(test_idx_gzip_refused),
        TEST_CASE(test_subset_stratified_deterministic),
        TEST_CASE(test_augment_deterministic),
    };
    return test_main(argc, argv, cases, TEST_COUNT(cases));
}
