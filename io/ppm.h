/*
 * io/ppm.h - binary PPM (P6) writer for 8-bit RGB images.
 *
 * Header "P6\n<width> <height>\n255\n", then height rows of width RGB
 * triplets. Written atomically (io/atomic.h). Grayscale PGM writing is
 * io/pgm's; reading PPM is not needed by the programs and not provided.
 */
#ifndef GC_IO_PPM_H
#define GC_IO_PPM_H

#include <stddef.h>

#include "nn/core.h"

/* rgb: (height, width, 3) row-major. */
int ppm_write(const char *path, const unsigned char *rgb, size_t width, size_t height,
              gc_error *err);

#endif
