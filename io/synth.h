/*
 * io/synth.h - a built-in generator of grayscale scan-like images, the data
 * set that needs nothing (DESIGN.md section 5: "a built-in synthetic
 * generator is the default").
 *
 * Image i of a stream is a pure function of (seed, i, classes, size): it can be
 * generated on demand, in any order, and the same arguments give the same bits
 * in the float and double builds (all arithmetic in double, output quantised
 * to 8 bits, maxval 255). Its label is i % classes, so any prefix of the stream
 * is class-balanced.
 *
 * Content, in coordinates u, v in [0, 1] (independent of size):
 * - anatomy: an elliptic head (centre and axes jittered per image) with a
 *   bright skull ring, a brain interior of smoothly varying intensity and two
 *   darker "ventricles" near the centre;
 * - class 0 ("no_finding"): nothing else;
 * - class c >= 1 ("lesion_a", "lesion_b", ...): one lesion at a class-specific
 *   place (angle 45 deg + 360 deg * (c-1)/(K-1) around the head centre, at
 *   distance SYNTH_LESION_DIST), jittered by about SYNTH_LESION_JITTER (a
 *   few pixels at 224), random size and intensity. The lesion's shape also
 *   depends on the class, cycling solid blob / ring / elongated bar, with a
 *   class-dependent size for K > 4: a CNN that ends in global average pooling
 *   sees little absolute position, so the classes must also differ locally;
 * - nuisance: 1-3 dimmer distractor blobs (bright or dark) anywhere in the
 *   head, a random contrast factor, and Gaussian noise.
 * Faint lesions, distractors and noise keep the task from being trivial.
 * Measured once with PyTorch (2000 train / 500 test images at 32x32, batch
 * 32): the Level-2 network of DESIGN.md section 4 with Adam lr 1e-4 reaches
 * test accuracy 0.94, 0.95, 0.98 after epochs 1, 2, 3; the much smaller
 * Level 1 learns slowly (0.30 -> 0.44 in 4 epochs at lr 1e-3; chance 0.25).
 *
 * Splits: "train" draws from stream `seed`, "test" from stream
 * synth_split_seed(seed, 1), so the two never share an image.
 */
#ifndef GC_IO_SYNTH_H
#define GC_IO_SYNTH_H

#include <stdint.h>

#include "nn/core.h"

#define SYNTH_DEFAULT_CLASSES 4
#define SYNTH_MIN_CLASSES 2
#define SYNTH_MAX_CLASSES 16
#define SYNTH_DEFAULT_TRAIN 2000     /* images in "synth" train split */
#define SYNTH_DEFAULT_TEST 500       /* images in "synth" test split */
#define SYNTH_MAXVAL 255
#define SYNTH_NAME_MAX 16

/* Seed of a split's stream: split 0 (train) is seed itself, split 1 (test) a
 * different, derived stream. */
uint64_t synth_split_seed(uint64_t seed, int split);

/* Label of image `index`: index % classes. */
int synth_label(uint64_t index, int classes);

/* Name of class c of a classes-way problem: "no_finding", "lesion_a", ...
 * Writes at most SYNTH_NAME_MAX bytes including the terminator. */
void synth_class_name(int c, char *out);

/* Generate image `index` of stream `seed` into out (size, size), values
 * 0..SYNTH_MAXVAL. classes in [SYNTH_MIN_CLASSES, SYNTH_MAX_CLASSES],
 * size >= 1 (checked with GC_CHECK: programming errors). */
void synth_image(uint64_t seed, uint64_t index, int classes, int size, uint8_t *out);

/* Write the synthetic data set as a PGM tree an ImageFolder reader accepts:
 * out_dir/{train,test}/<class name>/<index, 6 digits>.pgm (directories made
 * as needed; each file written atomically, existing files overwritten). The
 * files hold exactly the images dataset_open("synth:K:N", ...) produces with
 * the same seed. */
int synth_export(const char *out_dir, int size, int classes, int count_train, int count_test,
                 uint64_t seed, gc_error *err);

#endif
