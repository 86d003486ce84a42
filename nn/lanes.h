/*
 * nn/lanes.h - long sums in LANES interleaved double partial sums.
 *
 * Lane j takes the positions i = j mod LANES (a sum restarted at i = 0 for
 * every buffer given to lanes_add), and lanes_total folds the lanes in one
 * fixed order. The additions of one lane depend on each other, those of
 * different lanes do not, so the compiler vectorises the loop (one chain of
 * dependent double additions costs ~4 cycles per element), and the result
 * has the same bits on every run, for any thread count and in every build.
 * Used for bias gradients (nn/conv2d.c), BatchNorm's channel statistics
 * (nn/batchnorm.c) and the Grad-CAM map sums (cam/gradcam.c).
 */
#ifndef GC_LANES_H
#define GC_LANES_H

#include "nn/core.h"

#include <stddef.h>

#define LANES 8

/* acc[j] += v[i] for i = j mod LANES, i in [0, len) */
static inline void lanes_add(double *acc, const real *v, size_t len)
{
    size_t i;
    int j;
    for (i = 0; i + LANES <= len; i += LANES)
        for (j = 0; j < LANES; j++) acc[j] += v[i + j];
    for (j = 0; i + (size_t)j < len; j++) acc[j] += v[i + j];
}

/* the lanes folded in a fixed order */
static inline double lanes_total(const double *acc)
{
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

/* sum of v[0 .. len) */
static inline double lanes_sum(const real *v, size_t len)
{
    double acc[LANES] = {0};
    lanes_add(acc, v, len);
    return lanes_total(acc);
}

#endif
