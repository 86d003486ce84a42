/*
 * nn/adam.c - Adam with PyTorch's order of operations; see nn/adam.h.
 */
#include "nn/adam.h"
#include "nn/parallel.h"

#include <math.h>
#include <string.h>

#ifdef GC_REAL_DOUBLE
#define REAL_SQRT sqrt
#define REAL_FMA fma
#else
#define REAL_SQRT sqrtf
#define REAL_FMA fmaf
#endif

/* Largest step count kept exactly in a double (a checkpoint stores it so). */
#define ADAM_STEP_MAX 9007199254740992.0

static int check_hparams(double lr, double beta1, double beta2, double eps, double wd,
                         gc_error *err)
{
    if (!(lr >= 0.0) || !isfinite(lr)) return gc_fail(err, "adam: invalid learning rate %g", lr);
    if (!(eps >= 0.0) || !isfinite(eps)) return gc_fail(err, "adam: invalid eps %g", eps);
    if (!(beta1 >= 0.0 && beta1 < 1.0)) return gc_fail(err, "adam: invalid beta1 %g", beta1);
    if (!(beta2 >= 0.0 && beta2 < 1.0)) return gc_fail(err, "adam: invalid beta2 %g", beta2);
    if (!(wd >= 0.0) || !isfinite(wd)) return gc_fail(err, "adam: invalid weight_decay %g", wd);
    return GC_OK;
}

int adam_init(adam *a, size_t n, double lr, double beta1, double beta2, double eps,
              double weight_decay, gc_error *err)
{
    memset(a, 0, sizeof *a);
    if (check_hparams(lr, beta1, beta2, eps, weight_decay, err) != GC_OK) return GC_FAIL;
    a->lr = lr;
    a->beta1 = beta1;
    a->beta2 = beta2;
    a->eps = eps;
    a->weight_decay = weight_decay;
    a->n = n;
    a->m = (real *)gc_calloc(n, sizeof(real));
    a->v = (real *)gc_calloc(n, sizeof(real));
    return GC_OK;
}

void adam_free(adam *a)
{
    free(a->m);
    free(a->v);
    memset(a, 0, sizeof *a);
}

void adam_step(adam *a, real *value, const real *grad)
{
    const real b1 = (real)a->beta1, b2 = (real)a->beta2;
    const real one_b1 = (real)(1.0 - a->beta1), one_b2 = (real)(1.0 - a->beta2);
    const real wd = (real)a->weight_decay;
    const int decay = a->weight_decay != 0.0;
    double bc1, bc2, step_size;
    real neg_step, bc2_sqrt, eps;
    long i, n = (long)a->n;
    a->step++;
    bc1 = 1.0 - pow(a->beta1, (double)a->step);
    bc2 = 1.0 - pow(a->beta2, (double)a->step);
    step_size = a->lr / bc1;
    neg_step = (real)(-step_size);
    bc2_sqrt = (real)sqrt(bc2);
    eps = (real)a->eps;
    /* element-wise: OpenMP may split it (nn/parallel.h), same bits */
    GC_OMP_FOR(4 * a->n)
    for (i = 0; i < n; i++) {
        real g = grad[i], m, v, denom;
        if (decay) g = REAL_FMA(value[i], wd, g);          /* g + wd * p, fused */
        m = REAL_FMA(g, one_b1, a->m[i] * b1);             /* m b1 + (1-b1) g, fused */
        v = REAL_FMA(one_b2 * g, g, a->v[i] * b2);         /* v b2 + ((1-b2) g) g, fused */
        a->m[i] = m;
        a->v[i] = v;
        denom = REAL_SQRT(v) / bc2_sqrt + eps;
        value[i] = value[i] + (neg_step * m) / denom;
    }
}

void adam_state_export(const adam *a, double out[ADAM_STATE_LEN])
{
    out[0] = a->lr;
    out[1] = a->beta1;
    out[2] = a->beta2;
    out[3] = a->eps;
    out[4] = a->weight_decay;
    out[5] = (double)a->step;
}

int adam_state_import(adam *a, const double in[ADAM_STATE_LEN], gc_error *err)
{
    if (check_hparams(in[0], in[1], in[2], in[3], in[4], err) != GC_OK) return GC_FAIL;
    if (!(in[5] >= 0.0 && in[5] <= ADAM_STEP_MAX) || in[5] != floor(in[5]))
        return gc_fail(err, "adam: invalid step count %g", in[5]);
    a->lr = in[0];
    a->beta1 = in[1];
    a->beta2 = in[2];
    a->eps = in[3];
    a->weight_decay = in[4];
    a->step = (int64_t)in[5];
    return GC_OK;
}
