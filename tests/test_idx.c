/* tests/test_idx.c - IDX (MNIST / Fashion-MNIST) reader: small files made
 * here, and every malformed-input error. */
#include <string.h>

#include "io/idx.h"
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

static size_t put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
    return 4;
}

/* Write an IDX file: magic, ndims sizes, then `ndata` bytes 0,1,2,... */
static void write_idx(const char *path, uint32_t magic, int ndims, const uint32_t *dims,
                      size_t ndata)
{
    unsigned char buf[256];
    size_t n = 0, i;
    n += put32(buf + n, magic);
    for (i = 0; i < (size_t)ndims; i++) n += put32(buf + n, dims[i]);
    for (i = 0; i < ndata && n < sizeof buf; i++) buf[n++] = (unsigned char)(i % 7);
    CHECK(tmpdir_write(path, buf, n) == 0);
}

static void expect_images_fail(const char *name, uint32_t magic, int ndims, const uint32_t *dims,
                               size_t ndata, const char *needle)
{
    char path[4200];
    idx_images im;
    gc_error err;
    tmpdir_path(path, sizeof path, dir, name);
    write_idx(path, magic, ndims, dims, ndata);
    err.msg[0] = '\0';
    CHECK_MSG(idx_load_images(path, &im, &err) == GC_FAIL, "%s should fail", name);
    CHECK(im.data == NULL && im.count == 0);
    CHECK_MSG(strstr(err.msg, path) && strstr(err.msg, needle), "%s: '%s' not in: %s", name,
              needle, err.msg);
}

static void test_load_small_pair(void)
{
    char ip[4200], lp[4200];
    uint32_t d3[3] = {3, 2, 4}, d1[1] = {3};
    idx_images im;
    idx_labels lb;
    gc_error err;
    if (!setup()) return;
    tmpdir_path(ip, sizeof ip, dir, "images");
    tmpdir_path(lp, sizeof lp, dir, "labels");
    write_idx(ip, IDX_MAGIC_IMAGES, 3, d3, 24);
    write_idx(lp, IDX_MAGIC_LABELS, 1, d1, 3);
    CHECK(idx_load_images(ip, &im, &err) == GC_OK);
    CHECK(im.count == 3 && im.height == 2 && im.width == 4);
    CHECK(im.data && im.data[0] == 0 && im.data[8] == 1 && im.data[23] == 23 % 7);
    CHECK(idx_load_labels(lp, &lb, &err) == GC_OK);
    CHECK(lb.count == 3 && lb.data && lb.data[2] == 2);
    CHECK(idx_check_pair(&im, &lb, 10, ip, lp, &err) == GC_OK);
    /* label 2 is not below 2 classes */
    CHECK(idx_check_pair(&im, &lb, 2, ip, lp, &err) == GC_FAIL &&
          strstr(err.msg, lp) && strstr(err.msg, "label 2 of item 2 is not below the class count 2"));
    lb.count = 2;
    CHECK(idx_check_pair(&im, &lb, 10, ip, lp, &err) == GC_FAIL &&
          strstr(err.msg, "2 labels but") && strstr(err.msg, "3 images"));
    lb.count = 3;
    idx_free_images(&im);
    idx_free_labels(&lb);
    teardown();
}

static void test_errors(void)
{
    uint32_t d3[3] = {2, 2, 2}, z[3] = {2, 0, 2}, big[3] = {0xffffffffu, 28, 28};
    uint32_t side[3] = {1, 20000, 1}, n0[3] = {0, 2, 2};
    static const unsigned char gz[] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6};
    char path[4200];
    idx_images im;
    idx_labels lb;
    gc_error err;
    if (!setup()) return;
    expect_images_fail("magic", IDX_MAGIC_LABELS, 3, d3, 8, "bad magic 0x00000801");
    expect_images_fail("magic_type", 0x00000d03u, 3, d3, 8, "bad magic");
    expect_images_fail("trunc", IDX_MAGIC_IMAGES, 3, d3, 7, "truncated IDX images");
    expect_images_fail("trailing", IDX_MAGIC_IMAGES, 3, d3, 9, "1 bytes of trailing data");
    expect_images_fail("zero", IDX_MAGIC_IMAGES, 3, z, 0, "dimension 1 is zero");
    expect_images_fail("count0", IDX_MAGIC_IMAGES, 3, n0, 0, "dimension 0 is zero");
    expect_images_fail("absurd", IDX_MAGIC_IMAGES, 3, big, 16, "absurd IDX images count");
    expect_images_fail("side", IDX_MAGIC_IMAGES, 3, side, 16, "absurd IDX image size");
    expect_images_fail("short_header", IDX_MAGIC_IMAGES, 1, d3, 0, "truncated IDX header");
    tmpdir_path(path, sizeof path, dir, "gz");
    CHECK(tmpdir_write(path, gz, sizeof gz) == 0);
    CHECK(idx_load_images(path, &im, &err) == GC_FAIL &&
          strstr(err.msg, "gzip-compressed: gunzip it or use data_prep.sh") &&
          strstr(err.msg, path));
    CHECK(idx_load_labels(path, &lb, &err) == GC_FAIL && strstr(err.msg, "gzip-compressed"));
    /* labels file given where images are expected, and vice versa */
    tmpdir_path(path, sizeof path, dir, "lab");
    write_idx(path, IDX_MAGIC_LABELS, 1, d3, 2);
    CHECK(idx_load_labels(path, &lb, &err) == GC_OK && lb.count == 2);
    idx_free_labels(&lb);
    CHECK(idx_load_images(path, &im, &err) == GC_FAIL && strstr(err.msg, "bad magic"));
    tmpdir_path(path, sizeof path, dir, "missing");
    CHECK(idx_load_labels(path, &lb, &err) == GC_FAIL && strstr(err.msg, "cannot open"));
    teardown();
}

int main(int argc, char **argv)
{
    static const test_case cases[] = {
        TEST_CASE(test_load_small_pair),
        TEST_CASE(test_errors),
    };
    return test_main(argc, argv, cases, TEST_COUNT(cases));
}
