/*
 * tests/layercheck.h - the generic derivative checker every layer test uses
 * (DESIGN.md section 3, "Every layer"). In double precision it checks, for a
 * layer l with random x, x_t, dy, dy_t (and randomly perturbed parameters):
 *
 *   backward          dx, dtheta  vs central differences of  f(x) = dy . F(x)
 *   tangent           y_t         vs (F(x + h x_t) - F(x - h x_t)) / 2h
 *   tangent_backward  dx, dtheta  vs central differences of
 *                                 phi(x) = dy . F(x) + dy_t . (J_x(x) x_t)
 *                     dx_t        vs central differences of phi in x_t
 *   adjoint identity  <dy_t, J x_t> = <J^T dy_t, x_t>
 *   NULL semantics    tangent_backward(dy, NULL) == backward(dy)
 *
 * Coordinates are sampled (all of them for small tensors) and, in addition,
 * three random directions through all coordinates are checked.
 *
 * Kinks (ReLU at 0, max-pool ties): inputs are continuous random values, so
 * a kink lies within h of a sample only with probability ~h. Each coordinate
 * difference is also taken one-sided both ways; if the two one-sided slopes
 * disagree (relative 1e-3) the step crossed a kink, the coordinate is
 * skipped and counted, and the check fails if more than 10% were skipped.
 *
 * Errors are relative per tensor: max|analytic - fd| / max(max|fd|, 1e-3);
 * the floor makes entries whose true gradient is 0 (a conv bias feeding a
 * train-mode BatchNorm) an absolute comparison.
 */
#ifndef GC_LAYERCHECK_H
#define GC_LAYERCHECK_H

#include "nn/layer.h"

typedef struct lc_env {
    param_store ps;
    rng r;
    nn_ctx ctx;
} lc_env;

/* A fresh context for one layer under test (double build, grad_params on). */
void lc_env_init(lc_env *e, int max_n, int train, uint64_t seed);
void lc_env_free(lc_env *e);

typedef struct lc_opts {
    int n;                /* batch size used (<= ctx->max_n) */
    double h;             /* finite-difference step, default 1e-5 */
    double tol;           /* relative error bound, default 1e-6 */
    uint64_t seed;        /* random x, x_t, dy, dy_t, directions */
    double x_scale;       /* x ~ U(-x_scale, x_scale), default 1 */
    double x_min_abs;     /* if > 0, |x| >= x_min_abs (keeps ReLU away from 0) */
    double param_jitter;  /* parameters += U(-j, j) before checking, default 0.3 */
    int max_coords;       /* sampled coordinates per tensor, default 48 */
    int verbose;          /* print the error of every check */
} lc_opts;

void lc_default(lc_opts *o);

/* Run all checks on l (built in e->ctx); reports failures through the test
 * harness (CHECK_MSG) and returns the worst relative error seen. */
double layercheck(layer *l, const lc_opts *o);

/* Fill a buffer with U(-scale, scale), optionally with |v| >= min_abs. */
void lc_fill(rng *r, real *v, size_t count, double scale, double min_abs);

/* Eval-mode fixtures: every "*running_mean" buffer of ps to U(-0.5, 0.5) and
 * every "*running_var" to U(0.3, 2), from seed (BatchNorm's defaults 0 and 1
 * would hide a wrong use of them). */
void lc_set_running_stats(param_store *ps, uint64_t seed);

/* tangent_backward(dy, dy_t, NULL, NULL) must add the same parameter
 * gradients as with dx / dx_t buffers (a block with no input adjoint wanted
 * still owes its weights theirs). Runs l on n random samples of in_size /
 * out_size reals each (from e->r); reports mismatches through CHECK_MSG. */
void lc_check_null_adjoints(lc_env *e, layer *l, int n, size_t in_size, size_t out_size);

#endif
