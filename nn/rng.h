/*
 * nn/rng.h - the project's one seeded random number generator.
 *
 * xoshiro256** seeded through splitmix64. Integer arithmetic only, so the
 * same seed gives the same stream on every platform and compiler. The state
 * is four uint64_t words: copy the struct to save it, copy it back to restore
 * (checkpoints store it so that --resume continues bit for bit).
 */
#ifndef GC_RNG_H
#define GC_RNG_H

#include <stdint.h>

typedef struct rng {
    uint64_t s[4];
} rng;

void rng_seed(rng *r, uint64_t seed);
uint64_t rng_next(rng *r);              /* 64 random bits */
double rng_uniform(rng *r);             /* [0, 1), 53 bits */
double rng_uniform_range(rng *r, double lo, double hi); /* [lo, hi) */
uint32_t rng_below(rng *r, uint32_t n); /* uniform in [0, n), n > 0, unbiased */
double rng_normal(rng *r);              /* standard normal (Box-Muller) */

#endif
