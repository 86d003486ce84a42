/*
 * tests/test_png.c - io/png (CRC-32, Adler-32, stored-deflate PNG
 * structure, pixels decoded back by an independent reader here and, when
 * /usr/bin/python3 exists, by Python's zlib) and io/ppm.
 */
#include "io/png.h"
#include "io/ppm.h"
#include "tests/support_tmpdir.h"
#include "tests/test.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PYTHON "/usr/bin/python3"

static uint32_t be32(const unsigned char *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void make_tmpdir(char *dir, size_t cap)
{
    if (tmpdir_make(dir, cap) != 0) {
        CHECK_MSG(0, "cannot create a temp folder");
        dir[0] = '\0';
    }
}

static unsigned char *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf;
    long len;
    *n = 0;
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = (unsigned char *)malloc((size_t)len + 1);
    if (buf && fread(buf, 1, (size_t)len, f) != (size_t)len) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) *n = (size_t)len;
    return buf;
}

/*
 * An independent reader for exactly what the writer may produce: walks the
 * chunks (checking every CRC and the order IHDR, IDAT..., IEND), joins the
 * IDAT data, walks the zlib stream of stored blocks (checking header, LEN/NLEN,
 * BFINAL on the last block only, Adler-32), then removes filter bytes (all 0).
 * Returns a malloc'd (h, w, ch) pixel buffer or NULL, with the reason printed.
 */
static unsigned char *decode_stored_png(const unsigned char *f, size_t n, size_t *w, size_t *h,
                                        int *ch, size_t *n_idat, size_t *n_blocks)
{
    size_t pos = 8, zlen = 0, zcap = n, raw_len = 0, row, y, zp;
    unsigned char *z = (unsigned char *)malloc(n), *raw = NULL, *pix = NULL;
    int seen_ihdr = 0, seen_iend = 0, final_seen = 0;
    *n_idat = *n_blocks = 0;
    *w = *h = 0;
    *ch = 0;
    if (n < 8 || memcmp(f, "\x89PNG\r\n\x1a\n", 8) != 0) {
        printf("    bad signature\n");
        goto bad;
    }
    while (pos + 12 <= n && !seen_iend) {
        uint32_t len = be32(f + pos);
        const unsigned char *type = f + pos + 4;
        if (pos + 12 + len > n) {
            printf("    chunk overruns the file\n");
            goto bad;
        }
        if (png_crc32(0, type, (size_t)len + 4) != be32(f + pos + 8 + len)) {
            printf("    CRC mismatch in chunk %.4s\n", (const char *)type);
            goto bad;
        }
        if (memcmp(type, "IHDR", 4) == 0) {
            const unsigned char *d = f + pos + 8;
            if (seen_ihdr || pos != 8 || len != 13 || d[8] != 8 || d[10] || d[11] || d[12]) {
                printf("    bad IHDR\n");
                goto bad;
            }
            *w = be32(d);
            *h = be32(d + 4);
            *ch = d[9] == 0 ? 1 : d[9] == 2 ? 3 : d[9] == 6 ? 4 : 0;
            seen_ihdr = 1;
        } else if (memcmp(type, "IDAT", 4) == 0) {
            if (!seen_ihdr || zlen + len > zcap) goto bad;
            memcpy(z + zlen, f + pos + 8, len);
            zlen += len;
            (*n_idat)++;
        } else if (memcmp(type, "IEND", 4) == 0) {
            if (len != 0) goto bad;
            seen_iend = 1;
        } else {
            printf("    unexpected chunk %.4s\n", (const char *)type);
            goto bad;
        }
        pos += 12 + len;
    }
    if (!seen_iend || pos != n || *ch == 0) {
        printf("    missing IEND, trailing bytes, or bad colour type\n");
        goto bad;
    }
    if (zlen < 6 || z[0] != 0x78 || ((unsigned)z[0] * 256 + z[1]) % 31 != 0 || (z[1] & 0x20)) {
        printf("    bad zlib header\n");
        goto bad;
    }
    row = *w * (size_t)*ch + 1;
    raw = (unsigned char *)malloc(row * *h);
    zp = 2;
    while (!final_seen) {
        unsigned len, nlen;
        if (zp + 5 > zlen || (z[zp] & 0x06) != 0) {
            printf("    bad stored block header\n");
            goto bad;
        }
        final_seen = z[zp] & 1;
        len = z[zp + 1] | ((unsigned)z[zp + 2] << 8);
        nlen = z[zp + 3] | ((unsigned)z[zp + 4] << 8);
        if ((len ^ 0xFFFFu) != nlen || zp + 5 + len > zlen || raw_len + len > row * *h) {
            printf("    bad LEN/NLEN\n");
            goto bad;
        }
        memcpy(raw + raw_len, z + zp + 5, len);
        raw_len += len;
        zp += 5 + len;
        (*n_blocks)++;
    }
    if (zp + 4 != zlen || raw_len != row * *h ||
        png_adler32(1, raw, raw_len) != be32(z + zp)) {
        printf("    bad stream length or Adler-32\n");
        goto bad;
    }
    pix = (unsigned char *)malloc(row * *h);
    for (y = 0; y < *h; y++) {
        if (raw[y * row] != 0) {
            printf("    filter type %d on row %zu\n", raw[y * row], y);
            goto bad;
        }
        memcpy(pix + y * (row - 1), raw + y * row + 1, row - 1);
    }
    free(z);
    free(raw);
    return pix;
bad:
    free(z);
    free(raw);
    free(pix);
    return NULL;
}

static void test_crc32_known_values(void)
{
    const unsigned char *s = (const unsigned char *)"123456789";
    CHECK(png_crc32(0, s, 9) == 0xCBF43926UL);
    CHECK(png_crc32(png_crc32(0, s, 4), s + 4, 5) == 0xCBF43926UL);
    CHECK(png_crc32(0, s, 0) == 0);
    /* CRC of the IEND chunk type, found in every PNG file */
    CHECK(png_crc32(0, (const unsigned char *)"IEND", 4) == 0xAE426082UL);
}

static void test_adler32_known_values(void)
{
    const unsigned char *s = (const unsigned char *)"Wikipedia";
    static unsigned char big[100000];
    size_t i;
    uint32_t a = 1, b = 0;
    CHECK(png_adler32(1, s, 9) == 0x11E60398UL);
    CHECK(png_adler32(png_adler32(1, s, 3), s + 3, 6) == 0x11E60398UL);
    CHECK(png_adler32(1, s, 0) == 1);
    /* long input (beyond the 5552-byte reduction block) against the definition */
    for (i = 0; i < sizeof big; i++) big[i] = (unsigned char)(255 - i % 7);
    for (i = 0; i < sizeof big; i++) {
        a = (a + big[i]) % 65521u;
        b = (b + a) % 65521u;
    }
    CHECK(png_adler32(1, big, sizeof big) == ((b << 16) | a));
}

static void test_tiny_gray_bytes(void)
{
    /* 2x2 gray: every byte of the file is predictable */
    const unsigned char pix[4] = {0, 255, 17, 128};
    const unsigned char raw[6] = {0, 0, 255, 0, 17, 128};
    unsigned char *f;
    size_t n;
    CHECK(png_encode(&f, &n, pix, 2, 2, 1, NULL) == GC_OK);
    CHECK(n == 8 + 25 + (12 + 2 + 5 + 6 + 4) + 12);
    if (n != 74) {
        free(f);
        return;
    }
    CHECK(memcmp(f, "\x89PNG\r\n\x1a\n", 8) == 0);
    CHECK(be32(f + 8) == 13 && memcmp(f + 12, "IHDR", 4) == 0);
    CHECK(be32(f + 16) == 2 && be32(f + 20) == 2);
    CHECK(f[24] == 8 && f[25] == 0 && f[26] == 0 && f[27] == 0 && f[28] == 0);
    CHECK(be32(f + 29) == png_crc32(0, f + 12, 17));
    CHECK(be32(f + 33) == 17 && memcmp(f + 37, "IDAT", 4) == 0);
    CHECK(f[41] == 0x78 && f[42] == 0x01);
    CHECK(f[43] == 0x01);                  /* BFINAL=1, BTYPE=00 */
    CHECK(f[44] == 6 && f[45] == 0);       /* LEN = 6, little-endian */
    CHECK(f[46] == 0xF9 && f[47] == 0xFF); /* NLEN = ~6 */
    CHECK(memcmp(f + 48, raw, 6) == 0);
    CHECK(be32(f + 54) == png_adler32(1, raw, 6));
    CHECK(be32(f + 58) == png_crc32(0, f + 37, 21));
    CHECK(be32(f + 62) == 0 && memcmp(f + 66, "IEND", 4) == 0 && be32(f + 70) == 0xAE426082UL);
    free(f);
}

static void roundtrip(size_t w, size_t h, int ch, size_t want_idat_min, size_t want_blocks_min)
{
    size_t n = w * h * (size_t)ch, i, n_file, dw, dh, n_idat, n_blocks;
    unsigned char *pix = (unsigned char *)malloc(n), *file, *back;
    int dch;
    for (i = 0; i < n; i++) pix[i] = (unsigned char)((i * 7919u + i / 3) & 0xFF);
    CHECK(png_encode(&file, &n_file, pix, w, h, ch, NULL) == GC_OK);
    back = decode_stored_png(file, n_file, &dw, &dh, &dch, &n_idat, &n_blocks);
    CHECK_MSG(back != NULL, "%zux%zux%d: decode failed", w, h, ch);
    if (back) {
        CHECK(dw == w && dh == h && dch == ch);
        CHECK_MSG(memcmp(back, pix, n) == 0, "%zux%zux%d: pixels differ", w, h, ch);
        CHECK_MSG(n_idat >= want_idat_min, "%zu IDAT chunks", n_idat);
        CHECK_MSG(n_blocks >= want_blocks_min, "%zu stored blocks", n_blocks);
        /* stored blocks are at most 65535 bytes: exactly ceil(raw / 65535) */
        CHECK(n_blocks == (h * (w * (size_t)ch + 1) + 65534) / 65535);
    }
    free(back);
    free(file);
    free(pix);
}

static void test_roundtrip_small(void)
{
    roundtrip(3, 2, 3, 1, 1);
    roundtrip(5, 7, 4, 1, 1);
    roundtrip(1, 1, 1, 1, 1);
}

static void test_roundtrip_many_blocks(void)
{
    roundtrip(300, 300, 1, 1, 2);  /* 90300 raw bytes: two blocks, rows split across */
    roundtrip(700, 600, 3, 2, 20); /* 1.26 MB: several IDAT chunks */
}

static void test_bad_arguments(void)
{
    unsigned char pix[4] = {0};
    unsigned char *f = (unsigned char *)1;
    size_t n = 99;
    gc_error err;
    CHECK(png_encode(&f, &n, pix, 2, 1, 2, &err) == GC_FAIL);
    CHECK(f == NULL && n == 0);
    CHECK(strstr(err.msg, "channels") != NULL);
    CHECK(png_encode(&f, &n, pix, 0, 1, 1, &err) == GC_FAIL);
    CHECK(png_encode(&f, &n, pix, (size_t)1 << 20, (size_t)1 << 20, 3, &err) == GC_FAIL);
    CHECK(strstr(err.msg, "too large") != NULL);
    CHECK(png_write("/nonexistent-dir/x.png", pix, 1, 1, 1, &err) == GC_FAIL);
    CHECK(strstr(err.msg, "/nonexistent-dir/x.png") != NULL);
}

static void test_write_file_atomic(void)
{
    char dir[512], path[600];
    const unsigned char pix[6] = {10, 20, 30, 40, 50, 60};
    unsigned char *mem, *disk;
    size_t nm, nd;
    make_tmpdir(dir, sizeof dir);
    if (!dir[0]) return;
    snprintf(path, sizeof path, "%s/a.png", dir);
    CHECK(png_write(path, pix, 2, 1, 3, NULL) == GC_OK);
    CHECK(png_encode(&mem, &nm, pix, 2, 1, 3, NULL) == GC_OK);
    disk = read_all(path, &nd);
    CHECK(disk && nd == nm && memcmp(disk, mem, nm) == 0);
    /* no temp file left behind */
    CHECK_MSG(tmpdir_count(dir) == 1, "%d files in the folder", tmpdir_count(dir));
    free(mem);
    free(disk);
    tmpdir_remove(dir);
}

static void test_python_zlib_decodes(void)
{
    /* Python's zlib (a real inflater) must decode the stream to our pixels */
    static const char script[] =
        "import sys, struct, zlib\n"
        "d = open(sys.argv[1], 'rb').read()\n"
        "assert d[:8] == b'\\x89PNG\\r\\n\\x1a\\n'\n"
        "pos, idat = 8, b''\n"
        "while pos < len(d):\n"
        "    n, = struct.unpack('>I', d[pos:pos+4]); t = d[pos+4:pos+8]\n"
        "    assert zlib.crc32(d[pos+4:pos+8+n]) == struct.unpack('>I', d[pos+8+n:pos+12+n])[0]\n"
        "    if t == b'IHDR': w, h, bd, ct = struct.unpack('>IIBB', d[pos+8:pos+18])\n"
        "    if t == b'IDAT': idat += d[pos+8:pos+8+n]\n"
        "    pos += 12 + n\n"
        "ch = {0: 1, 2: 3, 6: 4}[ct]\n"
        "raw = zlib.decompress(idat)\n"
        "row = w * ch + 1\n"
        "assert len(raw) == row * h\n"
        "out = b''.join(raw[y*row+1:(y+1)*row] for y in range(h))\n"
        "open(sys.argv[2], 'wb').write(out)\n";
    char dir[512], png[600], py[600], out[600], cmd[2000];
    size_t w = 37, h = 29, n = w * h * 3, i, nb;
    unsigned char *pix, *back;
    FILE *f;
    int rc;
    if (access(PYTHON, X_OK) != 0) {
        printf("    skipped: %s not found\n", PYTHON);
        return;
    }
    make_tmpdir(dir, sizeof dir);
    if (!dir[0]) return;
    snprintf(png, sizeof png, "%s/p.png", dir);
    snprintf(py, sizeof py, "%s/check.py", dir);
    snprintf(out, sizeof out, "%s/p.raw", dir);
    pix = (unsigned char *)malloc(n);
    for (i = 0; i < n; i++) pix[i] = (unsigned char)(i * 31 + (i >> 8));
    CHECK(png_write(png, pix, w, h, 3, NULL) == GC_OK);
    f = fopen(py, "w");
    if (f) {
        fputs(script, f);
        fclose(f);
    }
    snprintf(cmd, sizeof cmd, "%s '%s' '%s' '%s'", PYTHON, py, png, out);
    rc = system(cmd);
    CHECK_MSG(rc == 0, "python check failed (status %d)", rc);
    back = read_all(out, &nb);
    CHECK(back && nb == n && memcmp(back, pix, n) == 0);
    free(back);
    free(pix);
    tmpdir_remove(dir);
}

static void test_ppm_bytes(void)
{
    char dir[512], path[600];
    const unsigned char rgb[6] = {1, 2, 3, 250, 251, 252};
    const char want[] = "P6\n2 1\n255\n\x01\x02\x03\xfa\xfb\xfc";
    unsigned char *got;
    size_t n;
    gc_error err;
    make_tmpdir(dir, sizeof dir);
    if (!dir[0]) return;
    snprintf(path, sizeof path, "%s/a.ppm", dir);
    CHECK(ppm_write(path, rgb, 2, 1, NULL) == GC_OK);
    got = read_all(path, &n);
    CHECK(got && n == sizeof want - 1 && memcmp(got, want, n) == 0);
    free(got);
    CHECK(ppm_write(path, rgb, 0, 1, &err) == GC_FAIL);
    CHECK(strstr(err.msg, path) != NULL);
    tmpdir_remove(dir);
}

int main(int argc, char **argv)
{
    static const test_case cases[] = {
        TEST_CASE(test_crc32_known_values), TEST_CASE(test_adler32_known_values),
        TEST_CASE(test_tiny_gray_bytes),    TEST_CASE(test_roundtrip_small),
        TEST_CASE(test_roundtrip_many_blocks), TEST_CASE(test_bad_arguments),
        TEST_CASE(test_write_file_atomic),  TEST_CASE(test_python_zlib_decodes),
        TEST_CASE(test_ppm_bytes),
    };
    return test_main(argc, argv, cases, TEST_COUNT(cases));
}
