/*
 * io/png.c - PNG writer with stored deflate blocks; see io/png.h.
 * References: PNG specification (ISO/IEC 15948) sections 5 (chunks) and
 * 11.2.2 (IHDR); RFC 1950 (zlib: CMF/FLG header, Adler-32 trailer);
 * RFC 1951 section 3.2.4 (stored blocks: BFINAL/BTYPE, LEN, NLEN).
 */
#include "io/png.h"

#include <string.h>

#include "io/textbuf.h"

#define PNG_STORED_MAX 65535u     /* deflate stored block payload limit */
#define PNG_MAX_DIM 0x7FFFFFFFu   /* PNG width/height limit (2^31 - 1) */
#define PNG_ADLER_MOD 65521u
#define PNG_ADLER_NMAX 5552u      /* bytes before the Adler sums must be reduced */
#define PNG_BIT_DEPTH 8

/* CRC-32 (reflected polynomial 0xEDB88320), four bits at a time. */
static const uint32_t crc_nibble[16] = {
    0x00000000UL, 0x1DB71064UL, 0x3B6E20C8UL, 0x26D930ACUL, 0x76DC4190UL, 0x6B6B51F4UL,
    0x4DB26158UL, 0x5005713CUL, 0xEDB88320UL, 0xF00F9344UL, 0xD6D6A3E8UL, 0xCB61B38CUL,
    0x9B64C2B0UL, 0x86D3D2D4UL, 0xA00AE278UL, 0xBDBDF21CUL};

uint32_t png_crc32(uint32_t crc, const unsigned char *buf, size_t n)
{
    size_t i;
    crc = ~crc & 0xFFFFFFFFUL;
    for (i = 0; i < n; i++) {
        crc ^= buf[i];
        crc = (crc >> 4) ^ crc_nibble[crc & 15];
        crc = (crc >> 4) ^ crc_nibble[crc & 15];
    }
    return ~crc & 0xFFFFFFFFUL;
}

uint32_t png_adler32(uint32_t adler, const unsigned char *buf, size_t n)
{
    uint32_t a = adler & 0xFFFFu, b = (adler >> 16) & 0xFFFFu;
    while (n > 0) {
        size_t k = n < PNG_ADLER_NMAX ? n : PNG_ADLER_NMAX, i;
        for (i = 0; i < k; i++) {
            a += buf[i];
            b += a;
        }
        a %= PNG_ADLER_MOD;
        b %= PNG_ADLER_MOD;
        buf += k;
        n -= k;
    }
    return (b << 16) | a;
}

static unsigned char *put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)((v >> 24) & 0xFF);
    p[1] = (unsigned char)((v >> 16) & 0xFF);
    p[2] = (unsigned char)((v >> 8) & 0xFF);
    p[3] = (unsigned char)(v & 0xFF);
    return p + 4;
}

/* Write a chunk (length, type, data, CRC) at p; data may already be at p + 8
 * (then pass data == p + 8, memmove handles it). Returns the end. */
static unsigned char *put_chunk(unsigned char *p, const char type[4], const unsigned char *data,
                                size_t n)
{
    uint32_t crc;
    put_be32(p, (uint32_t)n);
    memcpy(p + 4, type, 4);
    if (n && data != p + 8) memmove(p + 8, data, n);
    crc = png_crc32(0, p + 4, n + 4);
    return put_be32(p + 8 + n, crc);
}

static unsigned char color_type_of(int channels)
{
    switch (channels) {
    case 1: return 0; /* grayscale */
    case 3: return 2; /* truecolour */
    default: return 6; /* truecolour with alpha */
    }
}

int png_encode(unsigned char **out, size_t *out_len, const unsigned char *pixels,
               size_t width, size_t height, int channels, gc_error *err)
{
    size_t row_bytes, raw_len, n_blocks, zlen, n_idat, total, y, done;
    unsigned char *file, *z, *p, *zp;
    unsigned char ihdr[13];
    uint32_t adler = 1;
    const unsigned char filter_none = 0;

    *out = NULL;
    *out_len = 0;
    if (channels != 1 && channels != 3 && channels != 4)
        return gc_fail(err, "png: %d channels (1, 3 or 4 supported)", channels);
    if (width == 0 || height == 0 || width > PNG_MAX_DIM || height > PNG_MAX_DIM)
        return gc_fail(err, "png: bad image size %zux%zu", width, height);
    if (!pixels) return gc_fail(err, "png: no pixel data");
    /* raw = height * (1 filter byte + width * channels) */
    if (!gc_mul_size(width, (size_t)channels, &row_bytes) ||
        !gc_add_size(row_bytes, 1, &row_bytes) || !gc_mul_size(row_bytes, height, &raw_len) ||
        raw_len > PNG_MAX_BYTES)
        return gc_fail(err, "png: image %zux%zux%d too large (limit %zu bytes)", width, height,
                       channels, PNG_MAX_BYTES);
    n_blocks = (raw_len + PNG_STORED_MAX - 1) / PNG_STORED_MAX;
    zlen = 2 + n_blocks * 5 + raw_len + 4;
    n_idat = (zlen + PNG_IDAT_MAX - 1) / PNG_IDAT_MAX;
    total = 8 + (12 + 13) + n_idat * 12 + zlen + 12;
    if (total > PNG_MAX_BYTES)
        return gc_fail(err, "png: image %zux%zux%d too large (limit %zu bytes)", width, height,
                       channels, PNG_MAX_BYTES);

    file = (unsigned char *)malloc(total);
    z = (unsigned char *)malloc(zlen);
    if (!file || !z) {
        free(file);
        free(z);
        return gc_fail(err, "png: out of memory for a %zu-byte image", total);
    }

    /* zlib stream: CMF 0x78 (deflate, 32K window), FLG 0x01 (check bits:
     * 0x7801 % 31 == 0, no dictionary, "fastest" level), then stored blocks
     * that cut the filtered scanlines into pieces of at most 65535 bytes. */
    zp = z;
    *zp++ = 0x78;
    *zp++ = 0x01;
    done = 0;
    y = 0;
    {
        size_t col = 0; /* position inside the current filtered row (0 = filter byte) */
        while (done < raw_len) {
            size_t len = raw_len - done < PNG_STORED_MAX ? raw_len - done : PNG_STORED_MAX;
            size_t left = len;
            unsigned char *payload;
            *zp++ = (unsigned char)(done + len == raw_len ? 1 : 0); /* BFINAL, BTYPE=00 */
            *zp++ = (unsigned char)(len & 0xFF);
            *zp++ = (unsigned char)((len >> 8) & 0xFF);
            *zp++ = (unsigned char)(~len & 0xFF);
            *zp++ = (unsigned char)((~len >> 8) & 0xFF);
            payload = zp;
            while (left > 0) {
                if (col == 0) {
                    *zp++ = filter_none;
                    col = 1;
                    left--;
                } else {
                    size_t take = row_bytes - col;
                    if (take > left) take = left;
                    memcpy(zp, pixels + y * (row_bytes - 1) + (col - 1), take);
                    zp += take;
                    col += take;
                    left -= take;
                    if (col == row_bytes) {
                        col = 0;
                        y++;
                    }
                }
            }
            adler = png_adler32(adler, payload, len);
            done += len;
        }
    }
    zp = put_be32(zp, adler);
    GC_CHECK((size_t)(zp - z) == zlen);

    p = file;
    memcpy(p, "\x89PNG\r\n\x1a\n", 8);
    p += 8;
    put_be32(ihdr, (uint32_t)width);
    put_be32(ihdr + 4, (uint32_t)height);
    ihdr[8] = PNG_BIT_DEPTH;
    ihdr[9] = color_type_of(channels);
    ihdr[10] = 0; /* compression: deflate */
    ihdr[11] = 0; /* filter method 0 */
    ihdr[12] = 0; /* no interlace */
    p = put_chunk(p, "IHDR", ihdr, sizeof ihdr);
    for (done = 0; done < zlen; done += PNG_IDAT_MAX) {
        size_t len = zlen - done < PNG_IDAT_MAX ? zlen - done : PNG_IDAT_MAX;
        p = put_chunk(p, "IDAT", z + done, len);
    }
    p = put_chunk(p, "IEND", NULL, 0);
    GC_CHECK((size_t)(p - file) == total);
    free(z);
    *out = file;
    *out_len = total;
    return GC_OK;
}

int png_write(const char *path, const unsigned char *pixels, size_t width, size_t height,
              int channels, gc_error *err)
{
    unsigned char *file;
    size_t n;
    int rc;
    if (png_encode(&file, &n, pixels, width, height, channels, err) != GC_OK) {
        char msg[sizeof err->msg];
        if (err) {
            memcpy(msg, err->msg, sizeof msg);
            gc_fail(err, "%s: %s", path, msg);
        }
        return GC_FAIL;
    }
    rc = bytes_write_atomic(path, file, n, err);
    free(file);
    return rc;
}
