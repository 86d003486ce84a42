/*
 * nn/adam.h - the Adam optimiser with PyTorch's semantics (DESIGN.md
 * section 5: Adam lr 1e-4, betas (0.9, 0.999), eps 1e-8).
 *
 * One step, per element, in PyTorch's order of operations
 * (torch/optim/adam.py, _single_tensor_adam, amsgrad off, maximize off):
 *     t   += 1
 *     g    = fma(p, weight_decay, grad)            (only if weight_decay != 0: L2 form,
 *                                                   grad.add(param, alpha=wd))
 *     m    = fma(g, 1 - beta1, m * beta1)          (exp_avg.mul_(b1).add_(g, alpha=1-b1))
 *     v    = fma((1 - beta2) * g, g, v * beta2)    (exp_avg_sq.mul_(b2).addcmul_(g, g, value=1-b2))
 *     bc1  = 1 - beta1^t,  bc2 = 1 - beta2^t       (in double, as Python floats)
 *     step = lr / bc1                              (double)
 *     denom = sqrt(v) / sqrt(bc2) + eps
 *     p    = p + (-step * m) / denom               (param.addcdiv_(m, denom, value=-step))
 * The scalars (beta1, 1-beta1, step, sqrt(bc2), eps) are computed in double
 * and rounded to `real` before the element-wise arithmetic, which is done in
 * `real`, as PyTorch does for float32 tensors.
 *
 * Why fma: PyTorch's vectorised CPU kernels compute add(alpha) and addcmul
 * with a fused multiply-add (vec::fmadd on AVX2/NEON), so the plain
 * `a * b + c` differs from PyTorch by one rounding in a few elements per
 * thousand. With the three fused steps above, 5 steps over 1,000 values with
 * weight decay matched torch 1.13 (Adam, foreach=False, x86-64 AVX2) bit for
 * bit in float32 and float64. C99 fma() is correctly rounded on every
 * platform, so this stays deterministic everywhere (unlike compiler
 * contraction, which the build turns off).
 *
 * State: m and v are arrays with the layout of the param_store value arena
 * (one moment per parameter scalar); `step` counts the steps taken. A
 * checkpoint stores m, v and the scalars (adam_state_export) - see
 * io/checkpoint.h.
 *
 * Does not: amsgrad, maximize, decoupled weight decay (AdamW), per-group
 * learning rates.
 */
#ifndef GC_ADAM_H
#define GC_ADAM_H

#include "nn/core.h"

typedef struct adam {
    double lr;
    double beta1, beta2;
    double eps;
    double weight_decay;      /* L2 added to the gradient (PyTorch Adam's form); 0 default */
    int64_t step;             /* steps taken so far */
    size_t n;                 /* number of parameter scalars */
    real *m;                  /* (n) first moment, exp_avg */
    real *v;                  /* (n) second moment, exp_avg_sq */
} adam;

/* Allocate zeroed moments for n scalars, step 0. GC_FAIL if a
 * hyper-parameter is out of PyTorch's accepted range (lr >= 0, eps >= 0,
 * 0 <= beta < 1, weight_decay >= 0). */
int adam_init(adam *a, size_t n, double lr, double beta1, double beta2, double eps,
              double weight_decay, gc_error *err);
void adam_free(adam *a);

/* One step over value[n] with grad[n] (the param_store's value and grad
 * arenas). No allocation. */
void adam_step(adam *a, real *value, const real *grad);

/* Scalars for a checkpoint: lr, beta1, beta2, eps, weight_decay, step. */
#define ADAM_STATE_LEN 6
void adam_state_export(const adam *a, double out[ADAM_STATE_LEN]);
/* Restore the scalars (m and v are restored separately into a->m, a->v).
 * GC_FAIL if the values are not a valid state (step negative or not an
 * integer, hyper-parameters out of range). */
int adam_state_import(adam *a, const double in[ADAM_STATE_LEN], gc_error *err);

#endif
