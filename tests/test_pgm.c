/* tests/test_pgm.c - PGM reader/writer: round trips, the Netpbm header rules
 * (comments, whitespace), and every malformed-input error. Also the atomic
 * write helper (io/atomic.h) that the writer uses. */
#include <string.h>

#include "io/atomic.h"
#include "io/pgm.h"
#include "nn/rng.h"
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

/* Write `n` bytes as dir/name, load it, expect failure with a message naming
 * the file and containing `needle`. */
static void expect_fail(const char *name, const void *bytes, size_t n, const char *needle)
{
    char path[4200];
    pgm_image img;
    gc_error err;
    int rc;
    tmpdir_path(path, sizeof path, dir, name);
    CHECK(tmpdir_write(path, bytes, n) == 0);
    err.msg[0] = '\0';
    rc = pgm_load(path, &img, &err);
    CHECK_MSG(rc == GC_FAIL, "%s: loading should fail (%s expected)", name, needle);
    CHECK_MSG(img.data == NULL && img.width == 0, "%s: image not cleared on failure", name);
    CHECK_MSG(strstr(err.msg, path) != NULL, "%s: message does not name the file: %s", name,
              err.msg);
    CHECK_MSG(strstr(err.msg, needle) != NULL, "%s: message lacks '%s': %s", name, needle,
              err.msg);
}

static void expect_fail_str(const char *name, const char *text, const char *needle)
{
    expect_fail(name, text, strlen(text), needle);
}

/* Load a file made of `text`, expect success. */
static int load_text(const char *name, const char *text, size_t n, pgm_image *img)
{
    char path[4200];
    gc_error err;
    int rc;
    tmpdir_path(path, sizeof path, dir, name);
    CHECK(tmpdir_write(path, text, n) == 0);
    rc = pgm_load(path, img, &err);
    CHECK_MSG(rc == GC_OK, "%s: %s", name, err.msg);
    return rc == GC_OK;
}

static void test_roundtrip_8bit(void)
{
    uint16_t data[15];
    char path[4200];
    pgm_image img;
    gc_error err;
    int i, same = 1;
    FILE *f;
    char head[16];
    if (!setup()) return;
    for (i = 0; i < 15; i++) data[i] = (uint16_t)(i * 17);
    tmpdir_path(path, sizeof path, dir, "a.pgm");
    CHECK(pgm_save(path, 5, 3, 255, data, &err) == GC_OK);
    CHECK(pgm_load(path, &img, &err) == GC_OK);
    CHECK(img.width == 5 && img.height == 3 && img.maxval == 255);
    for (i = 0; img.data && i < 15; i++) same &= img.data[i] == data[i];
    CHECK(img.data && same);
    pgm_free(&img);
    /* exact header bytes and file length: "P5\n5 3\n255\n" + 15 */
    f = fopen(path, "rb");
    CHECK(f != NULL);
    if (f) {
        CHECK(fread(head, 1, 11, f) == 11 && memcmp(head, "P5\n5 3\n255\n", 11) == 0);
        fseek(f, 0, SEEK_END);
        CHECK(ftell(f) == 11 + 15);
        fclose(f);
    }
    CHECK_MSG(tmpdir_count(dir) == 1, "temp files left: %d entries", tmpdir_count(dir));
    teardown();
}

static void test_roundtrip_16bit_big_endian(void)
{
    uint16_t data[4] = {0x0102, 0, 65535, 4095};
    char path[4200];
    unsigned char raw[32];
    pgm_image img;
    gc_error err;
    FILE *f;
    size_t n = 0;
    if (!setup()) return;
    tmpdir_path(path, sizeof path, dir, "b.pgm");
    CHECK(pgm_save(path, 2, 2, 65535, data, &err) == GC_OK);
    f = fopen(path, "rb");
    if (f) {
        n = fread(raw, 1, sizeof raw, f);
        fclose(f);
    }
    /* "P5\n2 2\n65535\n" is 13 bytes, then MSB first */
    CHECK(n == 13 + 8);
    CHECK(raw[13] == 0x01 && raw[14] == 0x02 && raw[15] == 0 && raw[17] == 0xff);
    CHECK(pgm_load(path, &img, &err) == GC_OK);
    CHECK(img.maxval == 65535 && img.data && img.data[0] == 0x0102 && img.data[2] == 65535 &&
          img.data[3] == 4095);
    pgm_free(&img);
    /* maxval between 256 and 65535 also uses two bytes */
    data[0] = 1000;
    data[2] = 999;
    CHECK(pgm_save(path, 2, 2, 4095, data, &err) == GC_OK);
    CHECK(pgm_load(path, &img, &err) == GC_OK);
    CHECK(img.maxval == 4095 && img.data && img.data[0] == 1000 && img.data[3] == 4095);
    pgm_free(&img);
    teardown();
}

static void test_plain_p2_with_comments(void)
{
    static const char text[] = "P2\n# a comment line\n3 2 # trailing comment\n  10\n"
                               "0 5 10\n\t1 2\r\n3\n";
    pgm_image img;
    if (!setup()) return;
    if (load_text("p2.pgm", text, sizeof text - 1, &img)) {
        CHECK(img.width == 3 && img.height == 2 && img.maxval == 10);
        CHECK(img.data[0] == 0 && img.data[1] == 5 && img.data[2] == 10 && img.data[3] == 1 &&
              img.data[4] == 2 && img.data[5] == 3);
        pgm_free(&img);
    }
    /* a comment in the P2 raster separates samples like whitespace */
    if (load_text("p2c.pgm", "P2 2 1 9 4#x\n7", 14, &img)) {
        CHECK(img.data[0] == 4 && img.data[1] == 7);
        pgm_free(&img);
    }
    teardown();
}

static void test_header_comment_rules(void)
{
    pgm_image img;
    if (!setup()) return;
    /* the spec deletes a comment even inside a number: "1#x\n2" is 12 */
    if (load_text("tok.pgm", "P5\n1#x\n2 1\n255\nABCDEFGHIJKL", 28, &img)) {
        CHECK(img.width == 12 && img.height == 1 && img.data[0] == 'A' && img.data[11] == 'L');
        pgm_free(&img);
    }
    /* a comment right after maxval: its newline is deleted with it, the raster
     * starts after the next whitespace byte */
    if (load_text("late.pgm", "P5 1 1 255#c\n\nA", 15, &img)) {
        CHECK(img.data[0] == 'A');
        pgm_free(&img);
    }
    /* comment between magic and width, CR as a comment end, tabs */
    if (load_text("cr.pgm", "P5#x\r\t2\t1\t255\tXY", 17, &img)) {
        CHECK(img.width == 2 && img.data[0] == 'X' && img.data[1] == 'Y');
        pgm_free(&img);
    }
    /* the single delimiter byte can itself be whitespace-looking data: a
     * raster beginning with '\n' (value 10) is read as a sample */
    if (load_text("nl.pgm", "P5 2 1 255\n\n\n", 13, &img)) {
        CHECK(img.data[0] == 10 && img.data[1] == 10);
        pgm_free(&img);
    }
    /* trailing data after a P5 raster (a second image) is ignored */
    if (load_text("multi.pgm", "P5 1 1 255\nAP5 1 1 255\nB", 24, &img)) {
        CHECK(img.data[0] == 'A');
        pgm_free(&img);
    }
    /* without a whitespace after the comment, the raster byte runs into maxval */
    expect_fail_str("nodelim.pgm", "P5 1 1 255#c\nA", "instead of whitespace");
    teardown();
}

static void test_errors_magic_and_gzip(void)
{
    static const unsigned char gz[] = {0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0, 3};
    char path[4200];
    pgm_image img;
    gc_error err;
    if (!setup()) return;
    expect_fail("gz.pgm", gz, sizeof gz, "gzip-compressed: gunzip it or use data_prep.sh");
    expect_fail_str("magic.pgm", "XY 1 1 255\nA", "bad magic");
    expect_fail_str("p6.pgm", "P6 1 1 255\nABC", "colour PPM");
    expect_fail_str("p4.pgm", "P4 8 1\nA", "PBM");
    expect_fail_str("p7.pgm", "P7\nWIDTH 1\n", "PAM");
    expect_fail("empty.pgm", "", 0, "no magic");
    expect_fail_str("glued.pgm", "P51 1 255\nA", "magic followed by");
    tmpdir_path(path, sizeof path, dir, "missing.pgm");
    CHECK(pgm_load(path, &img, &err) == GC_FAIL && strstr(err.msg, "cannot open") &&
          strstr(err.msg, path));
    CHECK(pgm_load(dir, &img, &err) == GC_FAIL && strstr(err.msg, "not a regular file"));
    teardown();
}

static void test_errors_header_values(void)
{
    if (!setup()) return;
    expect_fail_str("maxval0.pgm", "P5 1 1 0\nA", "bad maxval 0");
    expect_fail_str("maxval_big.pgm", "P5 1 1 65536\nAA", "bad maxval 65536");
    expect_fail_str("w0.pgm", "P5 0 1 255\n", "bad size 0x1");
    expect_fail_str("h0.pgm", "P5 1 0 255\n", "bad size 1x0");
    expect_fail_str("wide.pgm", "P5 16385 1 255\n", "bad size 16385x1");
    /* each side allowed, but 2^28 pixels: refused before any allocation */
    expect_fail_str("area.pgm", "P5 16384 16384 255\n", "bad size");
    expect_fail_str("huge.pgm", "P5 99999999999999999999 1 255\n", "bad size");
    expect_fail_str("neg.pgm", "P5 -1 1 255\n", "expected width");
    expect_fail_str("hdr_trunc.pgm", "P5\n3", "truncated header");
    expect_fail_str("no_maxval.pgm", "P5 3 1", "truncated header");
    expect_fail_str("comment_eof.pgm", "P5 3 1 # never ends", "truncated header");
    expect_fail_str("letter.pgm", "P5 3x 1 255\n", "width followed by 'x'");
    teardown();
}

static void test_errors_raster(void)
{
    static const unsigned char p5_16[] = {'P', '5', ' ', '1', ' ', '1', ' ', '1', '0', '0',
                                          '0', '\n', 0x03, 0xe9};
    if (!setup()) return;
    expect_fail_str("short.pgm", "P5 4 4 255\nABCDEFGHIJKLMNO", "truncated");
    expect_fail_str("short16.pgm", "P5 2 1 65535\nABC", "needs 4 bytes");
    expect_fail("over16.pgm", p5_16, sizeof p5_16, "above maxval 1000");
    expect_fail_str("p5over.pgm", "P5 1 1 100\n\xc8", "above maxval 100");
    expect_fail_str("p2over.pgm", "P2 2 1 10\n3 11\n", "is 11, above maxval 10");
    expect_fail_str("p2garbage.pgm", "P2 3 1 10\n1 x 3\n", "garbage in P2 raster at sample 1");
    expect_fail_str("p2glued.pgm", "P2 2 1 10\n1 2x\n", "garbage");
    expect_fail_str("p2neg.pgm", "P2 2 1 10\n1 -2\n", "garbage");
    expect_fail_str("p2short.pgm", "P2 3 1 10\n1 2     \n", "truncated P2 raster: 2 of 3");
    expect_fail_str("p2tiny.pgm", "P2 3 3 10\n1 2 3", "truncated");
    teardown();
}

static void test_probe(void)
{
    char path[4200];
    pgm_image info;
    gc_error err;
    uint16_t data[6] = {1, 2, 3, 4, 5, 6};
    if (!setup()) return;
    tmpdir_path(path, sizeof path, dir, "p.pgm");
    CHECK(pgm_save(path, 3, 2, 6, data, &err) == GC_OK);
    CHECK(pgm_probe(path, &info, &err) == GC_OK);
    CHECK(info.width == 3 && info.height == 2 && info.maxval == 6 && info.data == NULL);
    CHECK(tmpdir_write_str(path, "P5 3 2 6\nAB") == 0);
    CHECK(pgm_probe(path, &info, &err) == GC_FAIL && strstr(err.msg, "truncated"));
    teardown();
}

static void test_save_errors_leave_nothing(void)
{
    char path[4200], sub[4200];
    uint16_t data[2] = {3, 300};
    gc_error err;
    if (!setup()) return;
    tmpdir_path(path, sizeof path, dir, "bad.pgm");
    CHECK(pgm_save(path, 2, 1, 255, data, &err) == GC_FAIL && strstr(err.msg, "above maxval"));
    CHECK(pgm_save(path, 0, 1, 255, data, &err) == GC_FAIL && strstr(err.msg, path));
    CHECK(pgm_save(path, 2, 1, 0, data, &err) == GC_FAIL && strstr(err.msg, "maxval"));
    CHECK(tmpdir_count(dir) == 0);
    tmpdir_path(sub, sizeof sub, dir, "no/such/dir/x.pgm");
    CHECK(pgm_save(sub, 2, 1, 65535, data, &err) == GC_FAIL && strstr(err.msg, sub));
    teardown();
}

static void test_atomic_commit_and_abort(void)
{
    char path[4200], tmp[GC_ATOMIC_PATH_MAX];
    gc_error err;
    FILE *f;
    char buf[16] = {0};
    if (!setup()) return;
    tmpdir_path(path, sizeof path, dir, "out.txt");
    CHECK(tmpdir_write_str(path, "old") == 0);
    /* abort: the destination keeps its old content, no temp file left */
    f = atomic_open(path, tmp, sizeof tmp, &err);
    CHECK(f != NULL);
    if (f) {
        fputs("new", f);
        CHECK(tmpdir_count(dir) == 2);
        atomic_abort(f, tmp);
    }
    CHECK(tmpdir_count(dir) == 1);
    f = fopen(path, "rb");
    if (f) { CHECK(fread(buf, 1, sizeof buf - 1, f) == 3); fclose(f); }
    CHECK(strcmp(buf, "old") == 0);
    /* commit replaces it */
    f = atomic_open(path, tmp, sizeof tmp, &err);
    CHECK(f != NULL);
    if (f) {
        CHECK(strncmp(tmp, path, strlen(path)) == 0);  /* same folder */
        fputs("new!", f);
        CHECK(atomic_commit(f, tmp, path, &err) == GC_OK);
    }
    memset(buf, 0, sizeof buf);
    f = fopen(path, "rb");
    if (f) { CHECK(fread(buf, 1, sizeof buf - 1, f) == 4); fclose(f); }
    CHECK(strcmp(buf, "new!") == 0);
    CHECK(tmpdir_count(dir) == 1);
    /* a name that does not fit the caller's buffer fails cleanly */
    CHECK(atomic_open(path, tmp, 8, &err) == NULL && strstr(err.msg, "too long"));
    teardown();
}

/* Every truncation and a few hundred random byte changes of small valid
 * files: the loader either succeeds with samples <= maxval or fails with a
 * message naming the file; it never crashes (run under ASan / valgrind to
 * see memory errors). */
static void test_mutations_never_crash(void)
{
    static const char *const seeds[] = {
        "P5 3 2 255\nABCDEF", "P5\n# c\n2 2\n65535\n\x01\x02\x03\x04\x05\x06\x07\x08",
        "P2\n3 2\n10\n1 2 3\n4 5 6\n"};
    char path[4200], buf[64];
    rng r;
    int s, i, bad = 0;
    if (!setup()) return;
    tmpdir_path(path, sizeof path, dir, "m.pgm");
    rng_seed(&r, 1234);
    for (s = 0; s < 3; s++) {
        size_t n = strlen(seeds[s]), cut; /* the seeds hold no NUL byte */
        for (i = 0; i < 400; i++) {
            pgm_image img;
            gc_error err;
            size_t k;
            memcpy(buf, seeds[s], n);
            cut = n;
            if (i < (int)n) cut = (size_t)i;  /* every truncation first */
            else buf[rng_below(&r, (uint32_t)n)] = (char)rng_below(&r, 256);
            if (tmpdir_write(path, buf, cut) != 0) { bad++; continue; }
            err.msg[0] = '\0';
            if (pgm_load(path, &img, &err) == GC_OK) {
                for (k = 0; k < (size_t)img.width * (size_t)img.height; k++)
                    bad += img.data[k] > img.maxval;
                pgm_free(&img);
            } else {
                bad += strstr(err.msg, path) == NULL;
            }
        }
    }
    CHECK_MSG(bad == 0, "%d mutated files gave a bad result", bad);
    teardown();
}

int main(int argc, char **argv)
{
    static const test_case cases[] = {
        TEST_CASE(test_roundtrip_8bit),
        TEST_CASE(test_roundtrip_16bit_big_endian),
        TEST_CASE(test_plain_p2_with_comments),
        TEST_CASE(test_header_comment_rules),
        TEST_CASE(test_errors_magic_and_gzip),
        TEST_CASE(test_errors_header_values),
        TEST_CASE(test_errors_raster),
        TEST_CASE(test_probe),
        TEST_CASE(test_save_errors_leave_nothing),
        TEST_CASE(test_atomic_commit_and_abort),
        TEST_CASE(test_mutations_never_crash),
    };
    return test_main(argc, argv, cases, TEST_COUNT(cases));
}
