/* tests/test_synth.c - the synthetic data generator: determinism (same
 * seed -> same bits, order-independent), labels and names, the class signal
 * sits where io/synth.h says, and the PGM export. */
#include <math.h>
#include <string.h>

#include "io/pgm.h"
#include "io/synth.h"
#include "tests/support_tmpdir.h"
#include "tests/test.h"

static uint64_t fnv1a(const uint8_t *p, size_t n)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    size_t i;
    for (i = 0; i < n; i++) h = (h ^ p[i]) * UINT64_C(0x100000001b3);
    return h;
}

static void test_same_seed_same_bits(void)
{
    uint8_t a[32 * 32], b[32 * 32], c[32 * 32];
    int i;
    synth_image(7, 5, 4, 32, a);
    for (i = 0; i < 5; i++) synth_image(7, (uint64_t)i, 4, 32, b); /* other images first */
    synth_image(7, 5, 4, 32, b);
    CHECK(memcmp(a, b, sizeof a) == 0);
    synth_image(8, 5, 4, 32, c);
    CHECK(memcmp(a, c, sizeof a) != 0);
    synth_image(7, 6, 4, 32, c);
    CHECK(memcmp(a, c, sizeof a) != 0);
    synth_image(synth_split_seed(7, 1), 5, 4, 32, c);
    CHECK(memcmp(a, c, sizeof a) != 0);
    CHECK(synth_split_seed(7, 0) == 7 && synth_split_seed(7, 1) != 7);
}

static void test_pinned_checksum(void)
{
    /* pins the generator: a change to it silently changes every synthetic
     * experiment, so it must show up here (update the value deliberately) */
    uint8_t a[32 * 32];
    synth_image(1, 3, 4, 32, a);
    CHECK_MSG(fnv1a(a, sizeof a) == UINT64_C(0xdd6a70f5cd8069a8), "synth image (1, 3, 4, 32) hash %016llx",
              (unsigned long long)fnv1a(a, sizeof a));
}

static void test_labels_and_names(void)
{
    char name[SYNTH_NAME_MAX];
    CHECK(synth_label(0, 4) == 0 && synth_label(5, 4) == 1 && synth_label(11, 4) == 3);
    synth_class_name(0, name);
    CHECK(strcmp(name, "no_finding") == 0);
    synth_class_name(1, name);
    CHECK(strcmp(name, "lesion_a") == 0);
    synth_class_name(15, name);
    CHECK(strcmp(name, "lesion_o") == 0);
}

/* Mean of a disc of radius rad (image units) around (u, v), over the images
 * of class c among the first n of the stream. */
static double disc_mean(int classes, int c, double u, double v, double rad, int n)
{
    enum { S = 64 };
    uint8_t img[S * S];
    double sum = 0;
    long cnt = 0;
    int i, x, y;
    for (i = c; i < n; i += classes) {
        synth_image(3, (uint64_t)i, classes, S, img);
        for (y = 0; y < S; y++)
            for (x = 0; x < S; x++) {
                double du = (x + 0.5) / S - u, dv = (y + 0.5) / S - v;
                if (du * du + dv * dv <= rad * rad) {
                    sum += img[y * S + x];
                    cnt++;
                }
            }
    }
    return sum / (double)cnt;
}

static void test_lesion_where_documented(void)
{
    /* class c's lesion is centred near angle 45 deg + 360 deg (c-1)/(K-1),
     * distance 0.22 from the image centre: brighter there than class 0 and
     * than the other lesion classes */
    const int K = 4;
    int c, other;
    for (c = 1; c < K; c++) {
        double ang = 6.283185307179586 * (0.125 + (double)(c - 1) / (K - 1));
        double u = 0.5 + 0.22 * cos(ang), v = 0.5 + 0.22 * sin(ang);
        double here = disc_mean(K, c, u, v, 0.09, 160);
        double none = disc_mean(K, 0, u, v, 0.09, 160);
        CHECK_MSG(here > none + 8.0, "class %d: %.1f at its place vs %.1f for class 0", c, here,
                  none);
        for (other = 1; other < K; other++)
            if (other != c) {
                double o = disc_mean(K, other, u, v, 0.09, 160);
                CHECK_MSG(here > o + 8.0, "class %d place: %.1f vs class %d %.1f", c, here,
                          other, o);
            }
    }
}

static void test_intensity_range(void)
{
    uint8_t img[48 * 48];
    double mean = 0;
    int i, k, zeros = 0, full = 0;
    for (i = 0; i < 8; i++) {
        synth_image(11, (uint64_t)i, 3, 48, img);
        for (k = 0; k < 48 * 48; k++) {
            mean += img[k];
            zeros += img[k] == 0;
            full += img[k] == 255;
        }
    }
    mean /= 8.0 * 48 * 48;
    CHECK_MSG(mean > 30 && mean < 140, "mean %.1f", mean);
    CHECK_MSG(full < 8 * 48 * 48 / 100, "%d saturated pixels", full);
    CHECK(zeros > 0); /* background outside the head */
}

static void test_export_tree(void)
{
    char dir[4096], path[4300];
    uint8_t ref[16 * 16];
    pgm_image img;
    gc_error err;
    int k, same = 1;
    if (tmpdir_make(dir, sizeof dir) != 0) {
        CHECK_MSG(0, "no temp folder");
        return;
    }
    CHECK(synth_export(dir, 16, 3, 7, 4, 9, &err) == GC_OK);
    tmpdir_path(path, sizeof path, dir, "train");
    CHECK(tmpdir_count(path) == 3);
    tmpdir_path(path, sizeof path, dir, "train/no_finding");
    CHECK(tmpdir_count(path) == 3); /* 0, 3, 6 */
    tmpdir_path(path, sizeof path, dir, "test/lesion_b");
    CHECK(tmpdir_count(path) == 1); /* 2 */
    tmpdir_path(path, sizeof path, dir, "train/lesion_a/000004.pgm");
    CHECK(pgm_load(path, &img, &err) == GC_OK);
    synth_image(synth_split_seed(9, 0), 4, 3, 16, ref);
    CHECK(img.width == 16 && img.height == 16 && img.maxval == 255);
    for (k = 0; img.data && k < 16 * 16; k++) same &= img.data[k] == ref[k];
    CHECK(img.data && same);
    pgm_free(&img);
    tmpdir_path(path, sizeof path, dir, "test/lesion_b/000002.pgm");
    CHECK(pgm_load(path, &img, &err) == GC_OK);
    synth_image(synth_split_seed(9, 1), 2, 3, 16, ref);
    for (k = 0, same = 1; img.data && k < 16 * 16; k++) same &= img.data[k] == ref[k];
    CHECK(img.data && same);
    pgm_free(&img);
    /* re-running overwrites in place */
    CHECK(synth_export(dir, 16, 3, 7, 4, 9, &err) == GC_OK);
    tmpdir_path(path, sizeof path, dir, "train/no_finding");
    CHECK(tmpdir_count(path) == 3);
    /* errors */
    CHECK(synth_export(dir, 16, 1, 7, 4, 9, &err) == GC_FAIL && strstr(err.msg, "classes"));
    CHECK(synth_export(dir, 0, 3, 7, 4, 9, &err) == GC_FAIL && strstr(err.msg, "size"));
    tmpdir_path(path, sizeof path, dir, "train/no_finding/000000.pgm/sub");
    CHECK(synth_export(path, 16, 3, 1, 1, 9, &err) == GC_FAIL && strstr(err.msg, path));
    tmpdir_remove(dir);
}

int main(int argc, char **argv)
{
    static const test_case cases[] = {
        TEST_CASE(test_same_seed_same_bits),
        TEST_CASE(test_pinned_checksum),
        TEST_CASE(test_labels_and_names),
        TEST_CASE(test_lesion_where_documented),
        TEST_CASE(test_intensity_range),
        TEST_CASE(test_export_tree),
    };
    return test_main(argc, argv, cases, TEST_COUNT(cases));
}
