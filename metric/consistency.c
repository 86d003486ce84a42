/*
 * metric/consistency.c - the dataset consistency metric L_CAM, DESIGN.md
 * section 1 ("Consistency metric", "Known differences"): per-class
 * representative maps, per-sample deviations l_n, per-class means and the
 * overall mean over the correct samples of qualifying classes (|D_c+| >= 2),
 * for the distances l2sq (paper eq. 4) and l2 (public code), optionally on a
 * resampled N x N grid.
 *
 * Deliberately not here: computing CAMs (cam/), selecting by prediction
 * beyond label == pred (the caller passes labels and predictions), the
 * training regulariser (its references are metric/ema.c, its gradient cam/),
 * the bootstrap (metric/bootstrap.c).
 */
#include "metric/consistency.h"

#include "metric/resample.h"

#include <limits.h>
#include <math.h>
#include <string.h>

#define ACC_MIN_CAP 64

int consistency_distance_parse(const char *s, consistency_distance *d, gc_error *err)
{
    if (s && strcmp(s, "l2sq") == 0) {
        *d = CONS_L2SQ;
        return GC_OK;
    }
    if (s && strcmp(s, "l2") == 0) {
        *d = CONS_L2;
        return GC_OK;
    }
    return gc_fail(err, "metric/consistency: unknown distance '%s' (expected l2sq or l2)",
                   s ? s : "(null)");
}

const char *consistency_distance_name(consistency_distance d)
{
    return d == CONS_L2 ? "l2" : "l2sq";
}

void consistency_variant_name(consistency_variant v, char *buf, size_t len)
{
    if (!buf || len == 0) return;
    if (v.grid > 0)
        snprintf(buf, len, "%s@grid%zu", consistency_distance_name(v.distance), v.grid);
    else
        snprintf(buf, len, "%s", consistency_distance_name(v.distance));
}

/* l from a squared norm: l2sq = s / hw, l2 = sqrt(s) / hw. */
static double distance_from_sq(double sq, size_t hw, consistency_distance d)
{
    return (d == CONS_L2 ? sqrt(sq) : sq) / (double)hw;
}

double consistency_distance_eval(const real *a, const real *b, size_t hw,
                                 consistency_distance d)
{
    double s = 0;
    size_t p;
    for (p = 0; p < hw; p++) {
        double diff = (double)a[p] - (double)b[p];
        s += diff * diff;
    }
    return distance_from_sq(s, hw, d);
}

int consistency_init(consistency_acc *acc, size_t classes, size_t h, size_t w,
                     gc_error *err)
{
    size_t hw, chw;
    memset(acc, 0, sizeof *acc);
    if (classes == 0 || classes > (size_t)INT_MAX)
        return gc_fail(err, "metric/consistency: bad number of classes %zu", classes);
    if (h == 0 || w == 0 || !gc_mul_size(h, w, &hw) || !gc_mul_size(hw, classes, &chw))
        return gc_fail(err, "metric/consistency: bad map size %zu x %zu", h, w);
    acc->classes = classes;
    acc->h = h;
    acc->w = w;
    return GC_OK;
}

void consistency_reset(consistency_acc *acc) { acc->n = 0; }

void consistency_free(consistency_acc *acc)
{
    free(acc->maps);
    free(acc->label);
    free(acc->sample_id);
    memset(acc, 0, sizeof *acc);
}

/* Make room for one more map; GC_FAIL (acc unchanged) on overflow / no memory. */
static int acc_reserve(consistency_acc *acc, gc_error *err)
{
    size_t cap, bytes, hw = acc->h * acc->w;
    real *maps;
    int *label;
    size_t *ids;
    if (acc->n < acc->cap) return GC_OK;
    cap = acc->cap ? acc->cap : ACC_MIN_CAP;
    if (acc->cap && !gc_mul_size(acc->cap, 2, &cap))
        return gc_fail(err, "metric/consistency: too many maps (%zu)", acc->n);
    if (!gc_mul_size(cap, hw, &bytes) || !gc_mul_size(bytes, sizeof(real), &bytes))
        return gc_fail(err, "metric/consistency: map storage for %zu maps of %zu x %zu overflows",
                       cap, acc->h, acc->w);
    maps = realloc(acc->maps, bytes);
    if (!maps)
        return gc_fail(err, "metric/consistency: out of memory storing %zu maps of %zu x %zu",
                       cap, acc->h, acc->w);
    acc->maps = maps;
    label = realloc(acc->label, cap * sizeof *label);
    if (!label) return gc_fail(err, "metric/consistency: out of memory (labels)");
    acc->label = label;
    ids = realloc(acc->sample_id, cap * sizeof *ids);
    if (!ids) return gc_fail(err, "metric/consistency: out of memory (sample ids)");
    acc->sample_id = ids;
    acc->cap = cap;
    return GC_OK;
}

int consistency_add(consistency_acc *acc, const real *cam, int label,
                    size_t sample_id, gc_error *err)
{
    size_t hw = acc->h * acc->w;
    GC_CHECK(acc->classes > 0);
    if (label < 0 || (size_t)label >= acc->classes)
        return gc_fail(err, "metric/consistency: label %d of sample %zu outside [0, %zu)",
                       label, sample_id, acc->classes);
    if (acc_reserve(acc, err) != GC_OK) return GC_FAIL;
    memcpy(acc->maps + acc->n * hw, cam, hw * sizeof *cam);
    acc->label[acc->n] = label;
    acc->sample_id[acc->n] = sample_id;
    acc->n++;
    return GC_OK;
}

int consistency_add_batch(consistency_acc *acc, const real *cams, size_t n,
                          const int *labels, const int *preds,
                          size_t first_id, gc_error *err)
{
    size_t i, hw = acc->h * acc->w;
    for (i = 0; i < n; i++) {
        if (labels[i] != preds[i]) continue;
        if (consistency_add(acc, cams + i * hw, labels[i], first_id + i, err) != GC_OK)
            return GC_FAIL;
    }
    return GC_OK;
}

int consistency_maps_at(const consistency_acc *acc, size_t grid, const real **maps,
                        real **owned, size_t *h, size_t *w, gc_error *err)
{
    size_t gg, total, i, hw = acc->h * acc->w;
    real *out;
    *owned = NULL;
    *maps = acc->maps;
    *h = acc->h;
    *w = acc->w;
    if (grid == 0) return GC_OK;
    if (grid > CONS_GRID_MAX)
        return gc_fail(err, "metric/consistency: --cam-grid %zu above the limit %d",
                       grid, CONS_GRID_MAX);
    gg = grid * grid;
    if (!gc_mul_size(gg, acc->n, &total) || !gc_mul_size(total, sizeof(real), &total))
        return gc_fail(err, "metric/consistency: %zu maps of %zu x %zu overflow",
                       acc->n, grid, grid);
    out = malloc(total ? total : 1);
    if (!out)
        return gc_fail(err, "metric/consistency: out of memory resampling %zu maps to %zu x %zu",
                       acc->n, grid, grid);
    for (i = 0; i < acc->n; i++)
        resample_bilinear(acc->maps + i * hw, acc->h, acc->w, out + i * gg, grid, grid);
    *owned = out;
    *maps = out;
    *h = *w = grid;
    return GC_OK;
}

void consistency_result_free(consistency_result *res)
{
    free(res->class_count);
    free(res->class_value);
    free(res->class_mean);
    free(res->l);
    free(res->label);
    free(res->sample_id);
    memset(res, 0, sizeof *res);
}

/* reason for "no class qualifies": lists the counts of the classes */
static void reason_no_class(consistency_result *res)
{
    size_t c, len;
    if (res->n == 0) {
        snprintf(res->reason, sizeof res->reason,
                 "no correctly classified samples: L_CAM needs a class with >= 2");
        return;
    }
    snprintf(res->reason, sizeof res->reason,
             "no class has >= 2 correctly classified samples (counts:");
    for (c = 0; c < res->classes; c++) {
        len = strlen(res->reason);
        if (len + 24 >= sizeof res->reason) break;
        snprintf(res->reason + len, sizeof res->reason - len, " %zu", res->class_count[c]);
    }
    len = strlen(res->reason);
    snprintf(res->reason + len, sizeof res->reason - len, "%s)",
             c < res->classes ? " ..." : "");
}

int consistency_finish(const consistency_acc *acc, consistency_variant v,
                       consistency_result *res, gc_error *err)
{
    const real *maps;
    real *owned;
    size_t h, w, hw, i, c, p, nonfinite_class = 0, nonfinite = 0;
    double *sum_l, total = 0;

    memset(res, 0, sizeof *res);
    res->v = v;
    consistency_variant_name(v, res->variant, sizeof res->variant);
    res->value = NAN;
    res->classes = acc->classes;
    res->n = acc->n;
    if (v.distance != CONS_L2SQ && v.distance != CONS_L2)
        return gc_fail(err, "metric/consistency: unknown distance %d", (int)v.distance);
    if (consistency_maps_at(acc, v.grid, &maps, &owned, &h, &w, err) != GC_OK)
        return GC_FAIL;
    hw = h * w;
    res->h = h;
    res->w = w;
    res->class_count = gc_calloc(acc->classes, sizeof *res->class_count);
    res->class_value = gc_calloc(acc->classes, sizeof *res->class_value);
    res->class_mean = gc_calloc(acc->classes * hw, sizeof *res->class_mean);
    res->l = gc_calloc(acc->n, sizeof *res->l);
    res->label = gc_calloc(acc->n, sizeof *res->label);
    res->sample_id = gc_calloc(acc->n, sizeof *res->sample_id);
    sum_l = gc_calloc(acc->classes, sizeof *sum_l);

    /* representative maps: mean_c = (1/|D_c+|) sum cam_n, in add order */
    for (i = 0; i < acc->n; i++) {
        const real *x = maps + i * hw;
        double *m;
        c = (size_t)acc->label[i];
        m = res->class_mean + c * hw;
        res->class_count[c]++;
        for (p = 0; p < hw; p++) m[p] += (double)x[p];
        res->label[i] = acc->label[i];
        res->sample_id[i] = acc->sample_id[i];
    }
    for (c = 0; c < acc->classes; c++) {
        double *m = res->class_mean + c * hw;
        double cnt = (double)res->class_count[c];
        for (p = 0; p < hw; p++) m[p] = res->class_count[c] ? m[p] / cnt : NAN;
    }

    /* deviations l_n for the samples of qualifying classes */
    for (i = 0; i < acc->n; i++) {
        const real *x = maps + i * hw;
        const double *m;
        double sq = 0;
        c = (size_t)acc->label[i];
        if (res->class_count[c] < 2) {
            res->l[i] = NAN;
            continue;
        }
        m = res->class_mean + c * hw;
        for (p = 0; p < hw; p++) {
            double diff = (double)x[p] - m[p];
            sq += diff * diff;
        }
        res->l[i] = distance_from_sq(sq, hw, v.distance);
        if (!isfinite(res->l[i]) && nonfinite++ == 0) nonfinite_class = c;
        sum_l[c] += res->l[i];
    }

    for (c = 0; c < acc->classes; c++) {
        if (res->class_count[c] < 2) {
            res->class_value[c] = NAN;
            continue;
        }
        res->class_value[c] = sum_l[c] / (double)res->class_count[c];
        res->n_used += res->class_count[c];
        res->classes_used++;
        total += sum_l[c];
    }
    if (res->classes_used == 0) {
        reason_no_class(res);
    } else if (nonfinite) {
        snprintf(res->reason, sizeof res->reason,
                 "%zu CAM map(s) give a non-finite distance (first in class %zu): "
                 "non-finite CAM values (diverged model?)", nonfinite, nonfinite_class);
    } else {
        res->value = total / (double)res->n_used;
    }
    free(sum_l);
    free(owned);
    return GC_OK;
}
