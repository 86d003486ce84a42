/*
 * nn/plateau.c - ReduceLROnPlateau (PyTorch's logic); see nn/plateau.h.
 */
#include "nn/plateau.h"

#include <limits.h>
#include <math.h>
#include <string.h>

plateau_config plateau_defaults(void)
{
    plateau_config c;
    c.mode = PLATEAU_MIN;
    c.threshold_mode = PLATEAU_REL;
    c.factor = 0.1;
    c.patience = 10;
    c.threshold = 1e-4;
    c.cooldown = 0;
    c.min_lr = 0.0;
    c.eps = 1e-8;
    return c;
}

static int check_config(const plateau_config *c, gc_error *err)
{
    if (c->mode != PLATEAU_MIN && c->mode != PLATEAU_MAX)
        return gc_fail(err, "plateau: unknown mode %d", (int)c->mode);
    if (c->threshold_mode != PLATEAU_REL && c->threshold_mode != PLATEAU_ABS)
        return gc_fail(err, "plateau: unknown threshold mode %d", (int)c->threshold_mode);
    if (!(c->factor >= 0.0 && c->factor < 1.0))
        return gc_fail(err, "plateau: factor must be in [0, 1), got %g", c->factor);
    if (c->patience < 0) return gc_fail(err, "plateau: negative patience %d", c->patience);
    if (c->cooldown < 0) return gc_fail(err, "plateau: negative cooldown %d", c->cooldown);
    if (!(c->threshold >= 0.0) || !isfinite(c->threshold))
        return gc_fail(err, "plateau: invalid threshold %g", c->threshold);
    if (!(c->min_lr >= 0.0) || !isfinite(c->min_lr))
        return gc_fail(err, "plateau: invalid min_lr %g", c->min_lr);
    if (!(c->eps >= 0.0) || !isfinite(c->eps))
        return gc_fail(err, "plateau: invalid eps %g", c->eps);
    return GC_OK;
}

int plateau_init(plateau *p, const plateau_config *cfg, gc_error *err)
{
    memset(p, 0, sizeof *p);
    if (check_config(cfg, err) != GC_OK) return GC_FAIL;
    p->cfg = *cfg;
    p->best = cfg->mode == PLATEAU_MIN ? INFINITY : -INFINITY;
    return GC_OK;
}

static int is_better(const plateau_config *c, double a, double best)
{
    if (c->mode == PLATEAU_MIN)
        return c->threshold_mode == PLATEAU_REL ? a < best * (1.0 - c->threshold)
                                                : a < best - c->threshold;
    return c->threshold_mode == PLATEAU_REL ? a > best * (c->threshold + 1.0)
                                            : a > best + c->threshold;
}

int plateau_step(plateau *p, double metric, double *lr)
{
    int reduced = 0;
    if (p->last_epoch < INT_MAX) p->last_epoch++;
    if (is_better(&p->cfg, metric, p->best)) {
        p->best = metric;
        p->num_bad_epochs = 0;
    } else if (p->num_bad_epochs < INT_MAX) {
        p->num_bad_epochs++;
    }
    if (p->cooldown_counter > 0) {
        p->cooldown_counter--;
        p->num_bad_epochs = 0;
    }
    if (p->num_bad_epochs > p->cfg.patience) {
        double old_lr = *lr;
        double new_lr = old_lr * p->cfg.factor;
        if (new_lr < p->cfg.min_lr) new_lr = p->cfg.min_lr;
        if (old_lr - new_lr > p->cfg.eps) {
            *lr = new_lr;
            reduced = 1;
        }
        p->cooldown_counter = p->cfg.cooldown;
        p->num_bad_epochs = 0;
    }
    return reduced;
}

void plateau_state_export(const plateau *p, double out[PLATEAU_STATE_LEN])
{
    out[0] = p->best;
    out[1] = p->num_bad_epochs;
    out[2] = p->cooldown_counter;
    out[3] = p->last_epoch;
    out[4] = (double)p->cfg.mode;
    out[5] = (double)p->cfg.threshold_mode;
    out[6] = p->cfg.factor;
    out[7] = p->cfg.patience;
    out[8] = p->cfg.threshold;
    out[9] = p->cfg.cooldown;
    out[10] = p->cfg.min_lr;
    out[11] = p->cfg.eps;
}

/* A count stored as a double: integral, in [0, INT_MAX]. */
static int get_count(double v, int *out)
{
    if (!(v >= 0.0 && v <= (double)INT_MAX) || v != floor(v)) return 0;
    *out = (int)v;
    return 1;
}

int plateau_state_import(plateau *p, const double in[PLATEAU_STATE_LEN], gc_error *err)
{
    plateau_config c;
    int bad, cool, last, mode, tmode;
    if (!get_count(in[1], &bad) || !get_count(in[2], &cool) || !get_count(in[3], &last) ||
        !get_count(in[4], &mode) || !get_count(in[5], &tmode) ||
        !get_count(in[7], &c.patience) || !get_count(in[9], &c.cooldown))
        return gc_fail(err, "plateau: invalid saved state (a count is not a non-negative "
                       "integer)");
    if (isnan(in[0])) return gc_fail(err, "plateau: invalid saved state (best is NaN)");
    c.mode = (plateau_mode)mode;
    c.threshold_mode = (plateau_threshold_mode)tmode;
    c.factor = in[6];
    c.threshold = in[8];
    c.min_lr = in[10];
    c.eps = in[11];
    if (check_config(&c, err) != GC_OK) return GC_FAIL;
    p->cfg = c;
    p->best = in[0];
    p->num_bad_epochs = bad;
    p->cooldown_counter = cool;
    p->last_epoch = last;
    return GC_OK;
}
