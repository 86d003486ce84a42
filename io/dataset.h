/*
 * io/dataset.h - the labelled image sets the train and eval programs read
 * (DESIGN.md section 5: grayscale, resized to the model size, normalised
 * (x/maxval - 0.5)/0.5; train augmentation: random horizontal flip p = 0.5,
 * then RandomResizedCrop(scale 0.9-1.0, ratio 3/4-4/3)).
 *
 * Sources, named by one spec string:
 *   synth, synth:K, synth:K:N
 *       the built-in generator (io/synth.h), K classes (default 4). Train has
 *       N images (default SYNTH_DEFAULT_TRAIN), test max(K, ceil(N/4))
 *       (default SYNTH_DEFAULT_TEST). The `seed` argument is the DATA seed:
 *       train is stream `seed`, test the derived stream
 *       synth_split_seed(seed, 1); pass a fixed data seed (not the training
 *       seed) to train several models on the same data.
 *   DIR with DIR/train and DIR/test (both folders)
 *       ImageFolder splits. Classes are the sorted sub-folder names of
 *       DIR/train; a class folder of DIR/test must carry one of those names
 *       (its label is that name's index; a class may be absent from test).
 *   DIR holding IDX files (train-images-idx3-ubyte, train-labels-idx1-ubyte,
 *       t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte; "test" reads t10k-*)
 *       Class names come from DIR/classes.txt (one per line; data_prep.sh
 *       fashion writes Fashion-MNIST's) or are "0".."9" (10 classes).
 *       Gzipped files are refused with "gunzip it or use data_prep.sh".
 *   idx:IMAGES,LABELS
 *       an explicit IDX pair, the same for both splits; classes.txt is
 *       looked for next to IMAGES.
 *   DIR (anything else)
 *       one ImageFolder ROOT/<class>/<images>.pgm; "train" and "test" BOTH mean the
 *       whole folder (no split is invented). A DIR with only one of train/
 *       and test/ is refused.
 * Any spec may end in "@N": keep a class-stratified deterministic subset of
 * at most N images (chosen with `seed`, see dataset_limit) BEFORE decoding,
 * so that e.g. Fashion-MNIST at 224x224 fits in memory.
 *
 * ImageFolder rules (torchvision's, except where noted): classes = sorted
 * (byte order) names of the sub-folders of ROOT, following symlinks; images =
 * the sorted .pgm / .PGM files of each class folder, ONE level deep (no
 * recursion, unlike torchvision; so a symlink loop cannot hang); names
 * starting with '.' are ignored as classes (torchvision keeps them) and
 * skipped as files. Every other entry of a class folder (other extensions,
 * sub-folders, dangling links) is skipped and counted in `skipped`. A class
 * folder without images is an error.
 *
 * Cache: every image is decoded once at open, resized to size x size with
 * resize_bilinear (io/preprocess.h: antialiased when shrinking), rounded to
 * integers and kept as uint8 when maxval <= 255, else uint16: 5,000 images at
 * 224x224 take 250 MB. maxval is the files' common maxval; when files differ,
 * each is rescaled to 255 (all <= 255) or 65535.
 *
 * Not thread-safe: dataset_get uses the handle's scratch buffer (use one
 * handle per thread).
 */
#ifndef GC_IO_DATASET_H
#define GC_IO_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "nn/core.h"
#include "nn/rng.h"

#define DATASET_MAX_SIZE 4096       /* largest model input side */
#define DATASET_MAX_CLASSES 10000
#define DATASET_MAX_SYNTH 10000000L /* largest synth image count */
#define DATASET_IDX_DEFAULT_CLASSES 10
#define DATASET_DESC_MAX 512

typedef struct dataset {
    size_t count;           /* images */
    int classes;
    char **class_names;     /* [classes] */
    int *labels;            /* [count], each in [0, classes) */
    int channels;           /* always 1 (grayscale) */
    int size;               /* images are (channels, size, size) */
    int maxval;             /* normalisation divisor of the cached samples */
    size_t skipped;         /* non-image entries skipped in class folders */
    char description[DATASET_DESC_MAX]; /* one line for logs */
    /* private */
    uint8_t *pix8;          /* (count, size, size) when maxval <= 255 */
    uint16_t *pix16;        /* (count, size, size) otherwise */
    real *work;             /* (2, size, size) scratch of dataset_get */
} dataset;

/* Open split "train" or "test" of the source `spec` (grammar above) at model
 * input size `size` (1..DATASET_MAX_SIZE). seed: synth data seed and subset
 * choice for "@N". On failure ds is zeroed and err names the file or spec
 * and the problem. */
int dataset_open(dataset *ds, const char *spec, const char *split, int size, uint64_t seed,
                 gc_error *err);

void dataset_free(dataset *ds);

/* Image `index` as the model input out (1, size, size), normalised
 * (x/maxval - 0.5)/0.5. augment = 0: the cached image, and r is not used
 * (may be NULL). augment = 1: horizontal flip with probability 0.5, then
 * RandomResizedCrop (scale 0.9-1.0, ratio 3/4-4/3) resized back to size x
 * size; consumes exactly ONE rng_next(r) per call (it seeds a private
 * generator for the flip and the crop), so streams stay reproducible whatever
 * the number of crop attempts. No allocation. */
void dataset_get(dataset *ds, size_t index, int augment, rng *r, real *out);

/* Keep a class-stratified deterministic subset of at most n images (n >= 1;
 * no-op when n >= count). Class c keeps floor(n * count_c / count) images,
 * the remainder going to the largest fractional parts (ties: lower class);
 * within a class the images are drawn uniformly without replacement with a
 * generator seeded from `seed`, and kept in their original order. The same
 * (labels, n, seed) choose the same images as the "@N" spec suffix. */
int dataset_limit(dataset *ds, size_t n, uint64_t seed, gc_error *err);

/* Parse a synth spec ("synth", "synth:K", "synth:K:N") into its class count
 * and the image counts of its train and test splits (the rules above); for
 * `train --export-synth`, which passes them to synth_export. */
int dataset_synth_params(const char *spec, int *classes, size_t *count_train,
                         size_t *count_test, gc_error *err);

/* Per-class image counts into counts[classes]. */
void dataset_class_counts(const dataset *ds, size_t *counts);

#endif
