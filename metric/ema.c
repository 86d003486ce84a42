/*
 * metric/ema.c - EMA class reference maps of the training regulariser,
 * DESIGN.md section 1 ("Training regulariser"): first update copies the batch
 * mean, later ones blend with weight a on the old reference.
 */
#include "metric/ema.h"

#include <math.h>
#include <string.h>

int ema_init(ema_refs *e, size_t classes, size_t h, size_t w, double alpha,
             gc_error *err)
{
    size_t hw, total;
    memset(e, 0, sizeof *e);
    if (classes == 0)
        return gc_fail(err, "metric/ema: number of classes is 0");
    if (h == 0 || w == 0 || !gc_mul_size(h, w, &hw) || !gc_mul_size(hw, classes, &total) ||
        !gc_mul_size(total, sizeof(real), &total))
        return gc_fail(err, "metric/ema: bad map size %zu x %zu for %zu classes", h, w, classes);
    if (!(alpha >= 0 && alpha <= 1))
        return gc_fail(err, "metric/ema: decay %g outside [0, 1]", alpha);
    e->classes = classes;
    e->h = h;
    e->w = w;
    e->alpha = alpha;
    e->ref = gc_calloc(classes * hw, sizeof *e->ref);
    e->initialized = gc_calloc(classes, sizeof *e->initialized);
    return GC_OK;
}

void ema_free(ema_refs *e)
{
    free(e->ref);
    free(e->initialized);
    memset(e, 0, sizeof *e);
}

void ema_reset(ema_refs *e)
{
    memset(e->ref, 0, e->classes * e->h * e->w * sizeof *e->ref);
    memset(e->initialized, 0, e->classes * sizeof *e->initialized);
}

/* ref <- m the first time, else a ref + (1 - a) m; in double, rounded once. */
static real blend(const ema_refs *e, int first, real ref, real m)
{
    if (first) return m;
    return (real)(e->alpha * (double)ref + (1.0 - e->alpha) * (double)m);
}

void ema_update(ema_refs *e, size_t c, const real *batch_mean)
{
    size_t p, hw = e->h * e->w;
    real *ref;
    int first;
    GC_CHECK(c < e->classes);
    ref = e->ref + c * hw;
    first = !e->initialized[c];
    for (p = 0; p < hw; p++) ref[p] = blend(e, first, ref[p], batch_mean[p]);
    e->initialized[c] = 1;
}

void ema_update_maps(ema_refs *e, size_t c, const real *cams, const int *rows,
                     size_t nrows)
{
    size_t p, j, hw = e->h * e->w;
    real *ref;
    int first;
    GC_CHECK(c < e->classes && nrows > 0);
    if (rows)
        for (j = 0; j < nrows; j++) GC_CHECK(rows[j] >= 0);
    ref = e->ref + c * hw;
    first = !e->initialized[c];
    for (p = 0; p < hw; p++) {
        double s = 0;
        for (j = 0; j < nrows; j++) {
            size_t row = rows ? (size_t)rows[j] : j;
            s += (double)cams[row * hw + p];
        }
        ref[p] = blend(e, first, ref[p], (real)(s / (double)nrows));
    }
    e->initialized[c] = 1;
}

const real *ema_ref(const ema_refs *e, size_t c)
{
    GC_CHECK(c < e->classes);
    return e->initialized[c] ? e->ref + c * e->h * e->w : NULL;
}

int ema_restore(ema_refs *e, const real *ref, const uint8_t *initialized,
                gc_error *err)
{
    size_t c, p, hw = e->h * e->w;
    for (c = 0; c < e->classes; c++) {
        if (initialized[c] > 1)
            return gc_fail(err, "metric/ema: saved flag of class %zu is %u, not 0 or 1",
                           c, (unsigned)initialized[c]);
        if (!initialized[c]) continue;
        for (p = 0; p < hw; p++)
            if (!isfinite((double)ref[c * hw + p]))
                return gc_fail(err, "metric/ema: saved reference of class %zu has a "
                               "non-finite value at pixel %zu", c, p);
    }
    memcpy(e->ref, ref, e->classes * hw * sizeof *e->ref);
    memcpy(e->initialized, initialized, e->classes * sizeof *e->initialized);
    return GC_OK;
}
