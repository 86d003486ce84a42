/*
 * metric/ema.h - the EMA class reference maps of the training regulariser
 * (DESIGN.md section 1, "Training regulariser"):
 *
 *   ref_c <- batchmean_c                          the first time class c is updated
 *   ref_c <- a * ref_c + (1 - a) * batchmean_c    afterwards (a = 0.9 by default)
 *
 * The caller updates ref_c BEFORE using it (so a fresh reference equals the
 * batch's own class mean), only for the classes in C' = {c : |B_c+| >= 2};
 * classes not updated keep their ref_c. The reference is a constant for the
 * gradient (no derivative flows through it).
 *
 * State for checkpoints (the public code's buffers _ema_cam, _ema_initialized):
 * `ref` (classes, h, w) reals and `initialized` (classes) bytes 0/1 are plain
 * arrays; save them as they are and restore with ema_restore (which checks
 * them). Arithmetic: the update is evaluated in double and rounded to `real`
 * once; the batch mean of ema_update_maps is summed in double and rounded to
 * `real` before the update (PyTorch float32 differs by at most an ulp or so).
 *
 * Deliberately not here: the distance and its gradient (cam/), selecting B+.
 */
#ifndef GC_METRIC_EMA_H
#define GC_METRIC_EMA_H

#include "nn/core.h"

#define EMA_DEFAULT_ALPHA 0.9

typedef struct ema_refs {
    size_t classes, h, w;
    double alpha;           /* a in [0, 1] */
    real *ref;              /* (classes, h, w) ref_c; zero until initialised */
    uint8_t *initialized;   /* (classes) 1 once ref_c has been set, else 0 */
} ema_refs;

/* GC_FAIL for classes == 0, empty or overflowing maps, alpha outside [0, 1]. */
int ema_init(ema_refs *e, size_t classes, size_t h, size_t w, double alpha,
             gc_error *err);
void ema_free(ema_refs *e);
void ema_reset(ema_refs *e);        /* every class uninitialised, refs 0 */
/* batch_mean: (h, w). c < classes (checked: a programming error). */
void ema_update(ema_refs *e, size_t c, const real *batch_mean);
/* The same with the batch mean taken here: mean over rows[0..nrows-1] of
 * cams (*, h, w) (rows NULL: the first nrows maps). nrows > 0 and rows >= 0
 * (checked). No scratch memory. */
void ema_update_maps(ema_refs *e, size_t c, const real *cams, const int *rows,
                     size_t nrows);
/* ref_c (h, w), or NULL while class c is uninitialised. */
const real *ema_ref(const ema_refs *e, size_t c);
/* Load saved state: ref (classes, h, w), initialized (classes). GC_FAIL (e
 * unchanged) if a flag is not 0/1 or an initialised ref has a non-finite value. */
int ema_restore(ema_refs *e, const real *ref, const uint8_t *initialized,
                gc_error *err);

#endif
