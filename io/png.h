/*
 * io/png.h - PNG writer (8-bit grayscale, RGB, RGBA) without zlib.
 *
 * The image data is a zlib stream (RFC 1950) made of *stored* deflate blocks
 * (RFC 1951 BTYPE=00, at most 65535 bytes each): no compression, so files
 * are about as large as the raw pixels, but any PNG reader decodes them and
 * the writer is a page of code. Every scanline uses filter type 0 (None).
 * Chunk lengths and all multi-byte fields are written byte by byte in
 * big-endian order (the zlib LEN/NLEN fields little-endian, as deflate
 * says), so nothing depends on the host's endianness. CRC-32 (ISO-HDLC,
 * the one in PNG and zlib) covers each chunk's type and data; Adler-32 ends
 * the zlib stream. Large images are split over several IDAT chunks.
 *
 * Does not: compress, write 16-bit samples, palettes, interlacing, gamma or
 * other ancillary chunks, or read PNG files.
 */
#ifndef GC_IO_PNG_H
#define GC_IO_PNG_H

#include <stddef.h>
#include <stdint.h>

#include "nn/core.h"

/* Largest IDAT chunk data length the writer emits (bytes). */
#define PNG_IDAT_MAX ((size_t)1 << 20)
/* Largest PNG the writer builds in memory (bytes); larger images fail. */
#define PNG_MAX_BYTES ((size_t)1 << 30)

/* CRC-32 as in PNG/zlib: start with crc = 0, feed data in pieces:
 * png_crc32(png_crc32(0, a, na), b, nb) == png_crc32(0, ab, na + nb).
 * png_crc32(0, "123456789", 9) == 0xCBF43926. */
uint32_t png_crc32(uint32_t crc, const unsigned char *buf, size_t n);

/* Adler-32 as in zlib: start with adler = 1, feed data in pieces likewise.
 * png_adler32(1, "Wikipedia", 9) == 0x11E60398. */
uint32_t png_adler32(uint32_t adler, const unsigned char *buf, size_t n);

/* Encode pixels (height, width, channels) row-major, channels 1 (gray),
 * 3 (RGB) or 4 (RGBA), into a malloc'd PNG file image *out of *out_len
 * bytes (free() it). GC_FAIL on bad sizes or when the file would exceed
 * PNG_MAX_BYTES. */
int png_encode(unsigned char **out, size_t *out_len, const unsigned char *pixels,
               size_t width, size_t height, int channels, gc_error *err);

/* png_encode, then write to path atomically (io/atomic.h). */
int png_write(const char *path, const unsigned char *pixels, size_t width, size_t height,
              int channels, gc_error *err);

#endif
