/*
 * io/pgm.c - PGM P5/P2 reader and P5 writer (see io/pgm.h for the format
 * rules followed and the limits). DESIGN.md section 5: images are grayscale
 * and normalised by their maxval, so maxval is returned with the samples.
 */
#include "io/pgm.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "io/atomic.h"

/* A header number larger than this is reported as too large, not parsed. */
#define PGM_NUMBER_SATURATE 1000000000L
#define PGM_MAX_MAXVAL 65535

static int is_pgm_space(int c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
static int is_digit(int c) { return c >= '0' && c <= '9'; }

/* Next header byte with comments deleted: '#' through the next CR or LF,
 * inclusive, vanishes (the spec's rule, valid up to the raster delimiter). */
static int header_getc(FILE *f)
{
    int c = getc(f);
    while (c == '#') {
        do c = getc(f);
        while (c != EOF && c != '\n' && c != '\r');
        if (c == EOF) return EOF;
        c = getc(f);
    }
    return c;
}

/* Printable form of a byte for messages. */
static const char *byte_name(int c, char buf[8])
{
    if (c == EOF) return "end of file";
    if (c >= 32 && c < 127) snprintf(buf, 8, "'%c'", c);
    else snprintf(buf, 8, "0x%02x", (unsigned)c & 0xffu);
    return buf;
}

/* Read one header number and the byte that ends it (which must be
 * whitespace). Values above PGM_NUMBER_SATURATE are clamped to it. */
static int header_number(FILE *f, const char *path, const char *what, long *out,
                         gc_error *err)
{
    char b[8];
    long v = 0;
    int c = header_getc(f);
    while (is_pgm_space(c)) c = header_getc(f);
    if (c == EOF) return gc_fail(err, "%s: truncated header (no %s)", path, what);
    if (!is_digit(c))
        return gc_fail(err, "%s: bad header: expected %s, found %s", path, what,
                       byte_name(c, b));
    while (is_digit(c)) {
        v = v * 10 + (c - '0');
        if (v > PGM_NUMBER_SATURATE) v = PGM_NUMBER_SATURATE;
        c = header_getc(f);
    }
    if (c == EOF) return gc_fail(err, "%s: truncated header after %s", path, what);
    if (!is_pgm_space(c))
        return gc_fail(err, "%s: bad header: %s followed by %s instead of whitespace",
                       path, what, byte_name(c, b));
    *out = v;
    return GC_OK;
}

static int check_magic(int c0, int c1, const char *path, int *plain, gc_error *err)
{
    if (c0 == 0x1f && c1 == 0x8b)
        return gc_fail(err, "%s: gzip-compressed: gunzip it or use data_prep.sh", path);
    if (c0 == 'P' && c1 == '5') { *plain = 0; return GC_OK; }
    if (c0 == 'P' && c1 == '2') { *plain = 1; return GC_OK; }
    if (c0 == 'P' && (c1 == '3' || c1 == '6'))
        return gc_fail(err, "%s: a colour PPM (P%c), not a grayscale PGM: convert it "
                       "to grayscale (data_prep.sh does)", path, c1);
    if (c0 == 'P' && (c1 == '1' || c1 == '4'))
        return gc_fail(err, "%s: a PBM bitmap (P%c), not a PGM", path, c1);
    if (c0 == 'P' && c1 == '7')
        return gc_fail(err, "%s: a PAM file (P7), not a PGM", path);
    if (c0 == EOF || c1 == EOF) return gc_fail(err, "%s: empty or truncated file (no magic)", path);
    return gc_fail(err, "%s: not a PGM file (bad magic, expected P5 or P2)", path);
}

/* P2 raster byte: comments read as a newline (libnetpbm's pm_getc). */
static int plain_getc(FILE *f)
{
    int c = getc(f);
    if (c == '#') {
        do c = getc(f);
        while (c != EOF && c != '\n' && c != '\r');
        if (c != EOF) c = '\n';
    }
    return c;
}

static int read_plain(FILE *f, const char *path, pgm_image *img, size_t npix, gc_error *err)
{
    size_t k;
    char b[8];
    for (k = 0; k < npix; k++) {
        long v = 0;
        int c = plain_getc(f);
        while (is_pgm_space(c)) c = plain_getc(f);
        if (c == EOF)
            return gc_fail(err, "%s: truncated P2 raster: %zu of %zu samples", path, k, npix);
        if (!is_digit(c))
            return gc_fail(err, "%s: garbage in P2 raster at sample %zu: %s", path, k,
                           byte_name(c, b));
        while (is_digit(c)) {
            v = v * 10 + (c - '0');
            if (v > PGM_NUMBER_SATURATE) v = PGM_NUMBER_SATURATE;
            c = plain_getc(f);
        }
        if (c != EOF && !is_pgm_space(c))
            return gc_fail(err, "%s: garbage in P2 raster at sample %zu: %s", path, k,
                           byte_name(c, b));
        if (v > img->maxval)
            return gc_fail(err, "%s: P2 sample %zu is %ld, above maxval %d", path, k, v,
                           img->maxval);
        img->data[k] = (uint16_t)v;
    }
    return GC_OK;
}

static int read_binary(FILE *f, const char *path, pgm_image *img, gc_error *err)
{
    size_t bps = img->maxval < 256 ? 1 : 2;
    size_t row_bytes = (size_t)img->width * bps;
    unsigned char *row = malloc(row_bytes);
    int y, x, rc = GC_OK;
    if (!row) return gc_fail(err, "%s: out of memory for a row of %zu bytes", path, row_bytes);
    for (y = 0; y < img->height && rc == GC_OK; y++) {
        uint16_t *out = img->data + (size_t)y * (size_t)img->width;
        if (fread(row, 1, row_bytes, f) != row_bytes) {
            rc = gc_fail(err, "%s: truncated P5 raster at row %d of %d", path, y, img->height);
            break;
        }
        for (x = 0; x < img->width; x++) {
            unsigned v = bps == 1 ? row[x]
                                  : ((unsigned)row[2 * x] << 8) | (unsigned)row[2 * x + 1];
            if (v > (unsigned)img->maxval) {
                rc = gc_fail(err, "%s: P5 sample at row %d, column %d is %u, above maxval %d",
                             path, y, x, v, img->maxval);
                break;
            }
            out[x] = (uint16_t)v;
        }
    }
    free(row);
    return rc;
}

/* Open path and parse its header; on success *fp is positioned at the raster,
 * which has been checked to fit in the file. Fills img's size and maxval. */
static int open_header(const char *path, FILE **fp, int *plain, pgm_image *img,
                       gc_error *err)
{
    FILE *f;
    struct stat st;
    long width, height, maxval, raster_at;
    size_t npix, need, remaining;
    int c0, c1, c;
    char b[8];

    *fp = NULL;
    f = fopen(path, "rb");
    if (!f) return gc_fail(err, "%s: cannot open: %s", path, strerror(errno));
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return gc_fail(err, "%s: not a regular file", path);
    }
    c0 = getc(f);
    c1 = getc(f);
    if (check_magic(c0, c1, path, plain, err) != GC_OK) goto fail;
    /* the magic must be followed by whitespace (a comment may come first) */
    c = header_getc(f);
    if (!is_pgm_space(c)) {
        gc_fail(err, "%s: bad header: magic followed by %s", path, byte_name(c, b));
        goto fail;
    }
    if (header_number(f, path, "width", &width, err) != GC_OK ||
        header_number(f, path, "height", &height, err) != GC_OK ||
        header_number(f, path, "maxval", &maxval, err) != GC_OK)
        goto fail;
    /* short-circuit order keeps width * height below 2^28 */
    if (width < 1 || height < 1 || width > PGM_MAX_SIDE || height > PGM_MAX_SIDE ||
        width * height > PGM_MAX_PIXELS) {
        gc_fail(err, "%s: bad size %ldx%ld (each side must be 1..%d, at most %ld pixels)",
                path, width, height, PGM_MAX_SIDE, (long)PGM_MAX_PIXELS);
        goto fail;
    }
    if (maxval < 1 || maxval > PGM_MAX_MAXVAL) {
        gc_fail(err, "%s: bad maxval %ld (must be 1..%d)", path, maxval, PGM_MAX_MAXVAL);
        goto fail;
    }
    raster_at = ftell(f);
    if (raster_at < 0 || (uintmax_t)raster_at > (uintmax_t)st.st_size) {
        gc_fail(err, "%s: cannot tell the raster position", path);
        goto fail;
    }
    remaining = (size_t)((uintmax_t)st.st_size - (uintmax_t)raster_at);
    npix = (size_t)width * (size_t)height;
    /* P5: the exact byte count; P2: at least one digit and one separator per
     * sample (the last needs no separator). */
    need = *plain ? 2 * npix - 1 : npix * (maxval < 256 ? 1 : 2);
    if (remaining < need) {
        gc_fail(err, "%s: truncated: %ldx%ld %s raster needs %s%zu bytes, file has %zu "
                "after the header", path, width, height, *plain ? "P2" : "P5",
                *plain ? "at least " : "", need, remaining);
        goto fail;
    }
    img->width = (int)width;
    img->height = (int)height;
    img->maxval = (int)maxval;
    *fp = f;
    return GC_OK;
fail:
    fclose(f);
    return GC_FAIL;
}

int pgm_probe(const char *path, pgm_image *info, gc_error *err)
{
    FILE *f;
    int plain;
    memset(info, 0, sizeof *info);
    if (open_header(path, &f, &plain, info, err) != GC_OK) {
        memset(info, 0, sizeof *info);
        return GC_FAIL;
    }
    fclose(f);
    return GC_OK;
}

int pgm_load(const char *path, pgm_image *img, gc_error *err)
{
    FILE *f;
    int plain, rc;
    memset(img, 0, sizeof *img);
    if (open_header(path, &f, &plain, img, err) != GC_OK) {
        memset(img, 0, sizeof *img);
        return GC_FAIL;
    }
    img->data = malloc((size_t)img->width * (size_t)img->height * sizeof *img->data);
    if (!img->data) {
        fclose(f);
        gc_fail(err, "%s: out of memory for %dx%d samples", path, img->width, img->height);
        memset(img, 0, sizeof *img);
        return GC_FAIL;
    }
    rc = plain ? read_plain(f, path, img, (size_t)img->width * (size_t)img->height, err)
               : read_binary(f, path, img, err);
    fclose(f);
    if (rc != GC_OK) pgm_free(img);
    return rc;
}

void pgm_free(pgm_image *img)
{
    if (!img) return;
    free(img->data);
    memset(img, 0, sizeof *img);
}

int pgm_save(const char *path, int width, int height, int maxval, const uint16_t *data,
             gc_error *err)
{
    char tmp[GC_ATOMIC_PATH_MAX];
    size_t npix, k, bps = maxval < 256 ? 1 : 2;
    unsigned char *row;
    FILE *f;
    int y, x;

    if (width < 1 || height < 1 || width > PGM_MAX_SIDE || height > PGM_MAX_SIDE ||
        (long)width * (long)height > PGM_MAX_PIXELS)
        return gc_fail(err, "%s: cannot write a %dx%d image (each side must be 1..%d, at "
                       "most %ld pixels)", path, width, height, PGM_MAX_SIDE,
                       (long)PGM_MAX_PIXELS);
    if (maxval < 1 || maxval > PGM_MAX_MAXVAL)
        return gc_fail(err, "%s: cannot write maxval %d (must be 1..%d)", path, maxval,
                       PGM_MAX_MAXVAL);
    npix = (size_t)width * (size_t)height;
    for (k = 0; k < npix; k++)
        if (data[k] > maxval)
            return gc_fail(err, "%s: sample %zu is %u, above maxval %d", path, k,
                           (unsigned)data[k], maxval);
    row = malloc((size_t)width * bps);
    if (!row) return gc_fail(err, "%s: out of memory", path);
    f = atomic_open(path, tmp, sizeof tmp, err);
    if (!f) { free(row); return GC_FAIL; }
    fprintf(f, "P5\n%d %d\n%d\n", width, height, maxval);
    for (y = 0; y < height; y++) {
        const uint16_t *in = data + (size_t)y * (size_t)width;
        for (x = 0; x < width; x++) {
            if (bps == 1) {
                row[x] = (unsigned char)in[x];
            } else {
                row[2 * x] = (unsigned char)(in[x] >> 8);
                row[2 * x + 1] = (unsigned char)(in[x] & 0xffu);
            }
        }
        if (fwrite(row, 1, (size_t)width * bps, f) != (size_t)width * bps) break;
    }
    free(row);
    return atomic_commit(f, tmp, path, err);
}
