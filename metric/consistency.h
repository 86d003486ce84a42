/*
 * metric/consistency.h - the dataset consistency metric L_CAM (DESIGN.md
 * section 1, "Consistency metric"; paper eq. 4 / thesis eq. 9) and its
 * bootstrap confidence interval.
 *
 *   D_c+   = samples with label c that the model predicts as c
 *   mean_c = (1/|D_c+|) sum_{n in D_c+} cam_n            (representative map)
 *   l_n    = ||cam_n - mean_c||_2^2 / (h w)               distance "l2sq" (paper)
 *          = ||cam_n - mean_c||_2   / (h w)               distance "l2"   (public code)
 *   L_CAM  = (1/|D+|) sum_c sum_{n in D_c+} l_n           over qualifying classes
 * A class qualifies when |D_c+| >= 2; the others are NaN and are left out of
 * the numerator and of |D+|. If no class qualifies L_CAM is NaN and `reason`
 * says why. A non-finite value in a map of a qualifying class is not left
 * out: L_CAM becomes NaN and `reason` names the class (a diverged model must
 * not look consistent).
 *
 * Variants (DESIGN.md section 1, "Known differences"): the distance, and an
 * optional grid N (`--cam-grid N`): every map is first resampled bilinearly
 * (metric/resample.h) to N x N, and h w above is then N*N. Every result
 * carries the variant's name ("l2sq", "l2", "l2sq@grid7", "l2@grid14") so
 * every output can say which variant produced it.
 *
 * Usage (eval streams batches; one accumulator serves every variant):
 *     consistency_acc acc;
 *     consistency_init(&acc, classes, h, w, &err);
 *     per batch: consistency_add_batch(&acc, cams, n, labels, preds, first_id, &err);
 *     consistency_finish(&acc, variant, &res, &err);   ... any number of variants
 *     consistency_bootstrap(&acc, variant, &opts, &ci, NULL, &err);
 *     consistency_result_free(&res); consistency_reset(&acc) (next epoch) or
 *     consistency_free(&acc).
 * The accumulator stores every added map (the representative map needs all of
 * them before any deviation can be computed, and the bootstrap redraws them):
 * memory is |D+| * h * w reals. Storage grows by doubling; adding is not a
 * training hot path.
 *
 * Relation to the public code (grad_cam_consistency.py in consistency_eval_chestxray):
 * its per-class "consistency" is the SUM of l_n over the class; here
 * class_value is the MEAN (class_value * class_count is the public number).
 * The overall L_CAM is the same quantity. Accumulation here is in double.
 */
#ifndef GC_METRIC_CONSISTENCY_H
#define GC_METRIC_CONSISTENCY_H

#include "nn/core.h"

#define CONS_VARIANT_LEN 32
#define CONS_REASON_LEN 256
#define CONS_GRID_MAX 1024  /* largest accepted --cam-grid */

typedef enum consistency_distance {
    CONS_L2SQ = 0,          /* ||d||^2 / (h w): the paper, the default */
    CONS_L2 = 1             /* ||d|| / (h w): the public PyTorch code */
} consistency_distance;

typedef struct consistency_variant {
    consistency_distance distance;
    size_t grid;            /* 0: native CAM resolution; N: resample to N x N */
} consistency_variant;

/* "l2sq" -> CONS_L2SQ, "l2" -> CONS_L2; anything else GC_FAIL naming it. */
int consistency_distance_parse(const char *s, consistency_distance *d, gc_error *err);
const char *consistency_distance_name(consistency_distance d); /* "l2sq" / "l2" */
/* "l2sq", "l2", "l2sq@grid7", ...; always NUL-terminated. */
void consistency_variant_name(consistency_variant v, char *buf, size_t len);

/* The per-sample distance between two maps of hw values, as a double. */
double consistency_distance_eval(const real *a, const real *b, size_t hw,
                                 consistency_distance d);

typedef struct consistency_acc {
    size_t classes;         /* labels are 0 .. classes-1 */
    size_t h, w;            /* size of every added map */
    size_t n, cap;          /* maps stored / capacity */
    real *maps;             /* (cap, h, w) in add order */
    int *label;             /* (cap) class of each stored map */
    size_t *sample_id;      /* (cap) caller's id of each stored map */
} consistency_acc;

int consistency_init(consistency_acc *acc, size_t classes, size_t h, size_t w,
                     gc_error *err);
void consistency_reset(consistency_acc *acc);   /* n = 0, keeps the memory */
void consistency_free(consistency_acc *acc);
/* Add the map of ONE correctly classified sample of class `label`.
 * cam: (h, w). GC_FAIL on a label outside [0, classes) or out of memory. */
int consistency_add(consistency_acc *acc, const real *cam, int label,
                    size_t sample_id, gc_error *err);
/* Add a batch, selecting D+ itself: cams (n, h, w), labels (n), preds (n);
 * row i is added (with id first_id + i) only when labels[i] == preds[i]. */
int consistency_add_batch(consistency_acc *acc, const real *cams, size_t n,
                          const int *labels, const int *preds,
                          size_t first_id, gc_error *err);

typedef struct consistency_result {
    char variant[CONS_VARIANT_LEN];   /* "l2sq@grid7" */
    consistency_variant v;
    double value;           /* L_CAM; NaN when not computable (see reason) */
    char reason[CONS_REASON_LEN];     /* "" when value is a number */
    size_t classes;
    size_t h, w;            /* size of the compared maps (N x N with a grid) */
    size_t n_used;          /* |D+| over qualifying classes */
    size_t classes_used;    /* number of qualifying classes */
    size_t *class_count;    /* (classes) |D_c+| */
    double *class_value;    /* (classes) mean l_n over D_c+; NaN if |D_c+| < 2 */
    double *class_mean;     /* (classes, h, w) representative maps mean_c;
                               defined for |D_c+| >= 1, NaN-filled if 0 */
    size_t n;               /* samples added (= acc->n) */
    double *l;              /* (n) l_n in add order; NaN if its class does not qualify */
    int *label;             /* (n) class of each sample */
    size_t *sample_id;      /* (n) caller's id of each sample */
} consistency_result;

/* Compute the metric for one variant; the accumulator is unchanged, so this
 * may be called once per variant. res owns its arrays afterwards (free with
 * consistency_result_free, also after a GC_FAIL). GC_FAIL only for a bad
 * variant (grid > CONS_GRID_MAX) or a size overflow; an empty accumulator or
 * no qualifying class is GC_OK with value NaN and a reason. */
int consistency_finish(const consistency_acc *acc, consistency_variant v,
                       consistency_result *res, gc_error *err);
void consistency_result_free(consistency_result *res);

/* The stored maps at grid resolution (used by the bootstrap; eval may draw
 * them). grid 0: *maps = acc->maps, *owned = NULL, (*h, *w) = (acc->h, acc->w).
 * grid N: a new (acc->n, N, N) array of resampled maps in *owned (free() it),
 * *maps = *owned, *h = *w = N. GC_FAIL for grid > CONS_GRID_MAX or overflow. */
int consistency_maps_at(const consistency_acc *acc, size_t grid, const real **maps,
                        real **owned, size_t *h, size_t *w, gc_error *err);

/*
 * Bootstrap confidence interval of L_CAM (metric/bootstrap.c).
 *
 * Resampling unit: samples within each class (stratified). For each
 * qualifying class c, |D_c+| samples are drawn with replacement from D_c+;
 * the representative map is RECOMPUTED from the drawn maps (with their
 * multiplicities), the drawn samples' deviations from it are summed, and the
 * replicate is sum over classes / |D+|. Class counts are kept, so the
 * interval reflects the spread of the correct samples' maps, not of the
 * accuracy. Non-qualifying classes stay out, as in the point estimate.
 * Interval: percentiles (1-level)/2 and (1+level)/2 of the replicates with
 * linear interpolation between order statistics (numpy's default), i.e.
 * (2.5, 97.5) for level 0.95.
 *
 * Draws: rng_seed(seed); for b in 0..B-1, for each qualifying class in
 * increasing order, |D_c+| calls rng_below(|D_c+|). Same seed, same data ->
 * same bits, whatever the method.
 *
 * Methods (identical draws; results agree to rounding, ~1e-12 relative):
 *   DIRECT: mean map = sum k_i x_i / n_c over the distinct drawn samples,
 *           then each distinct sample's distance, weighted by its count k_i.
 *           Cost per replicate ~ 1.3 |D+| h w.
 *   GRAM:   with G_ij = <x_i, x_j> precomputed once per class,
 *           ||x_i - m||^2 = G_ii - (2/n) (G k)_i + k^T G k / n^2.
 *           Cost per replicate ~ 0.4 |D_c+|^2 per class, plus |D_c+|^2 h w / 2
 *           once; exact in exact arithmetic (double: cancellation error about
 *           1e-16 * ||x||^2, negligible for the distances of CAM maps).
 *   AUTO:   per class, GRAM when it is cheaper (large maps, e.g. Level 1 at
 *           224x224) and |D_c+| <= CONS_GRAM_MAX_N, else DIRECT.
 * Known bias: a resample of n maps has on average (n-1)/n of the original
 * within-class spread (exactly so for l2sq), so the replicates centre about
 * a factor (|D_c+|-1)/|D_c+| below the point estimate. The interval is NOT
 * bias-corrected; `bias` (mean of replicates - point) reports the shift. It
 * matters only when the l_n are nearly all equal: the relative half-width is
 * about 1.96 CV(l_n) / sqrt(|D+|), the relative bias about 1/|D_c+|; e.g. 4
 * classes of 330 random-noise 28x28 maps (CV ~ 0.04) give an interval that
 * lies just below the point, while real CAM sets (CV ~ 0.5-1) do not.
 */
#define CONS_BOOT_DEFAULT_RESAMPLES 1000
#define CONS_BOOT_DEFAULT_LEVEL 0.95
#define CONS_GRAM_MAX_N 2048       /* Gram matrix at most 32 MB per class */
#define CONS_BOOT_MAX_RESAMPLES 10000000

typedef enum consistency_boot_method {
    CONS_BOOT_AUTO = 0,
    CONS_BOOT_DIRECT = 1,
    CONS_BOOT_GRAM = 2
} consistency_boot_method;

typedef struct consistency_boot_opts {
    size_t resamples;       /* B, default 1000 */
    double level;           /* central coverage, default 0.95 */
    uint64_t seed;          /* default 0 */
    consistency_boot_method method; /* default AUTO */
} consistency_boot_opts;

typedef struct consistency_ci {
    char variant[CONS_VARIANT_LEN];
    double point;           /* L_CAM of the data (= consistency_finish value) */
    double lo, hi;          /* the percentile interval; NaN if point is NaN */
    double se;              /* standard deviation of the replicates */
    double bias;            /* mean of the replicates - point */
    double level;
    size_t resamples;
    uint64_t seed;
    char reason[CONS_REASON_LEN];   /* why point is NaN, else "" */
} consistency_ci;

void consistency_boot_defaults(consistency_boot_opts *o);
/* replicates: (opts->resamples) or NULL; receives the replicates in draw
 * order (unsorted). GC_FAIL on bad options (B = 0 or > CONS_BOOT_MAX_RESAMPLES,
 * level outside (0,1), GRAM forced on a class larger than CONS_GRAM_MAX_N, a
 * class too large for rng_below) or a bad variant. */
int consistency_bootstrap(const consistency_acc *acc, consistency_variant v,
                          const consistency_boot_opts *opts, consistency_ci *ci,
                          double *replicates, gc_error *err);

#endif
