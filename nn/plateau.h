/*
 * nn/plateau.h - ReduceLROnPlateau with PyTorch's logic (DESIGN.md section
 * 5: ReduceLROnPlateau on validation CE, min, factor 0.1, patience 5).
 *
 * plateau_step(metric), as torch.optim.lr_scheduler.ReduceLROnPlateau.step
 * (torch 1.13), with best starting at +inf (mode min) / -inf (mode max):
 *     last_epoch += 1
 *     if is_better(metric, best): best = metric; num_bad_epochs = 0
 *     else: num_bad_epochs += 1
 *     if cooldown_counter > 0: cooldown_counter -= 1; num_bad_epochs = 0
 *     if num_bad_epochs > patience:
 *         new = max(lr * factor, min_lr); if lr - new > eps: lr = new
 *         cooldown_counter = cooldown; num_bad_epochs = 0
 * is_better: min/rel  a < best * (1 - threshold)   min/abs  a < best - threshold
 *            max/rel  a > best * (1 + threshold)   max/abs  a > best + threshold
 * A NaN metric is never better (it counts as a bad epoch), as in PyTorch.
 * So with patience P the first reduction comes on the (P+1)-th consecutive
 * epoch without improvement.
 *
 * Defaults (plateau_defaults) are PyTorch's: min, factor 0.1, patience 10,
 * threshold 1e-4 rel, cooldown 0, min_lr 0, eps 1e-8. The paper uses
 * patience 5.
 *
 * Does not: per-group learning rates or min_lr lists (one lr).
 */
#ifndef GC_PLATEAU_H
#define GC_PLATEAU_H

#include "nn/core.h"

typedef enum { PLATEAU_MIN = 0, PLATEAU_MAX = 1 } plateau_mode;
typedef enum { PLATEAU_REL = 0, PLATEAU_ABS = 1 } plateau_threshold_mode;

typedef struct plateau_config {
    plateau_mode mode;
    plateau_threshold_mode threshold_mode;
    double factor;            /* 0 <= factor < 1 */
    int patience;             /* >= 0 */
    double threshold;         /* >= 0 */
    int cooldown;             /* >= 0 */
    double min_lr;            /* >= 0 */
    double eps;               /* >= 0 */
} plateau_config;

typedef struct plateau {
    plateau_config cfg;
    double best;              /* +inf (min) / -inf (max) before the first step */
    int num_bad_epochs;
    int cooldown_counter;
    int last_epoch;           /* steps taken */
} plateau;

plateau_config plateau_defaults(void);   /* PyTorch's defaults (patience 10) */

/* Validate cfg and reset the state. GC_FAIL on an invalid config (factor
 * >= 1 is PyTorch's ValueError, negative counts, NaN values). */
int plateau_init(plateau *p, const plateau_config *cfg, gc_error *err);

/* One epoch's metric; *lr is the optimiser's learning rate, changed in place.
 * Returns 1 if the learning rate was reduced, else 0. */
int plateau_step(plateau *p, double metric, double *lr);

/* State and config as doubles for a checkpoint:
 * best, num_bad_epochs, cooldown_counter, last_epoch, mode, threshold_mode,
 * factor, patience, threshold, cooldown, min_lr, eps. */
#define PLATEAU_STATE_LEN 12
void plateau_state_export(const plateau *p, double out[PLATEAU_STATE_LEN]);
/* Restore; GC_FAIL if the values are not a valid state/config. */
int plateau_state_import(plateau *p, const double in[PLATEAU_STATE_LEN], gc_error *err);

#endif
