/*
 * io/pgm.h - Netpbm PGM (grayscale) reading and writing.
 *
 * Reads binary P5 and plain P2 with maxval 1..65535, following the Netpbm
 * "pgm" specification:
 * - header: magic, width, height, maxval as ASCII decimals separated by
 *   whitespace (space, TAB, CR, LF), then exactly ONE whitespace byte, then
 *   the raster;
 * - comments: before that single delimiting byte, everything from a '#'
 *   through the next CR or LF (inclusive) is deleted, even inside a number
 *   ("2#c\n55" reads 255), exactly as the spec words it; hence a comment right
 *   before the raster still needs one whitespace byte after its newline;
 * - P5 samples are 1 byte when maxval < 256, else 2 bytes big-endian (read
 *   bytewise: no endianness or alignment assumption);
 * - P2 samples are ASCII decimals separated by whitespace; a comment in the P2
 *   raster counts as whitespace (libnetpbm's behaviour);
 * - only the first image of a multi-image file is read (trailing bytes after
 *   a P5 raster are ignored, as Netpbm allows several images in a stream).
 * Every sample must be <= maxval (checked for P5 and P2).
 *
 * Limits (bad input must not cause a huge allocation): a side at most
 * PGM_MAX_SIDE, width*height at most PGM_MAX_PIXELS; the byte count the header
 * promises is checked against the file's length before allocating.
 * Errors name the file and the problem (gc_error); a gzip file (1f 8b) is
 * recognised and reported as such.
 *
 * Writing: P5 only, 8-bit samples when maxval < 256 else 16-bit big-endian,
 * through io/atomic.h (temp file + rename).
 *
 * Not done here: P1/P3/P4/P6/P7 (colour or bitmap images are refused with a
 * message saying what they are), and any rescaling (samples are returned
 * as stored; the caller normalises by maxval).
 */
#ifndef GC_IO_PGM_H
#define GC_IO_PGM_H

#include <stdint.h>

#include "nn/core.h"

#define PGM_MAX_SIDE 16384             /* largest accepted width or height */
#define PGM_MAX_PIXELS (1L << 26)      /* largest accepted width*height */

typedef struct pgm_image {
    int width, height;
    int maxval;        /* 1..65535 */
    uint16_t *data;    /* (height, width), row-major, each sample <= maxval */
} pgm_image;

/* Read a P5 or P2 file. On success img owns data (free with pgm_free).
 * On failure img is zeroed and err says "<path>: <problem>". */
int pgm_load(const char *path, pgm_image *img, gc_error *err);

/* Parse only the header (and check the raster fits in the file): fills
 * width, height and maxval, data stays NULL. */
int pgm_probe(const char *path, pgm_image *info, gc_error *err);

void pgm_free(pgm_image *img);

/* Write a binary P5 file atomically. data: (height, width) samples, each
 * <= maxval (checked). 8-bit samples when maxval <= 255 else 16-bit
 * big-endian. */
int pgm_save(const char *path, int width, int height, int maxval,
             const uint16_t *data, gc_error *err);

#endif
