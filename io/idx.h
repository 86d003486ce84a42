/*
 * io/idx.h - IDX files as MNIST and Fashion-MNIST ship them (DESIGN.md
 * section 5: Fashion-MNIST is the real data set at hand).
 *
 * Format: a 4-byte big-endian magic 0x000008DD (0x08 = unsigned byte samples,
 * DD = number of dimensions), then DD big-endian uint32 sizes, then the
 * samples. Images: magic 0x00000803, sizes (N, H, W); labels: magic
 * 0x00000801, size (N). Only these two are read.
 *
 * Checks: magic (a gzip file, 1f 8b, is reported as "gzip-compressed: gunzip
 * it or use data_prep.sh"), zero or absurd sizes (N at most IDX_MAX_COUNT,
 * H and W as PGM_MAX_SIDE / PGM_MAX_PIXELS), and the file length must be
 * exactly header + samples (shorter: truncated; longer: trailing data),
 * checked before allocating. idx_check_pair checks an image/label pair:
 * equal counts and every label < classes.
 */
#ifndef GC_IO_IDX_H
#define GC_IO_IDX_H

#include <stddef.h>
#include <stdint.h>

#include "nn/core.h"

#define IDX_MAGIC_IMAGES 0x00000803u
#define IDX_MAGIC_LABELS 0x00000801u
#define IDX_MAX_COUNT 100000000L   /* 1e8 items: far above any real data set */

typedef struct idx_images {
    size_t count;
    int height, width;
    uint8_t *data;      /* (count, height, width) */
} idx_images;

typedef struct idx_labels {
    size_t count;
    uint8_t *data;      /* (count) */
} idx_labels;

int idx_load_images(const char *path, idx_images *out, gc_error *err);
int idx_load_labels(const char *path, idx_labels *out, gc_error *err);
void idx_free_images(idx_images *im);
void idx_free_labels(idx_labels *lb);

/* Counts equal and every label < classes; err names labels_path. */
int idx_check_pair(const idx_images *im, const idx_labels *lb, int classes,
                   const char *images_path, const char *labels_path, gc_error *err);

#endif
