/*
 * metric/bootstrap.c - bootstrap confidence interval of L_CAM (DESIGN.md
 * section 1, "Consistency metric"): stratified resampling of the correct
 * samples within each class, representative map recomputed per replicate,
 * percentile interval. The resampling unit, the draw order and the two exact
 * evaluation methods (DIRECT, GRAM) are documented in consistency.h.
 *
 * Deliberately not here: BCa or other bias corrections, resampling the
 * accuracy (class counts are fixed), parallel replicates.
 */
#include "metric/consistency.h"

#include "metric/stats.h"
#include "nn/rng.h"

#include <math.h>
#include <string.h>

/* One qualifying class: its members (indices into the map array) and the
 * per-replicate multiplicities. */
typedef struct boot_class {
    size_t n;               /* |D_c+| */
    size_t *member;         /* (n) indices of the class's maps */
    double *k;              /* (n) multiplicity in the current replicate */
    size_t *uniq;           /* (n) positions with k > 0 */
    double *gram;           /* (n, n) or NULL: G_ij = <x_i, x_j> */
    double *gk;             /* (n) (G k)_i, GRAM only */
} boot_class;

void consistency_boot_defaults(consistency_boot_opts *o)
{
    o->resamples = CONS_BOOT_DEFAULT_RESAMPLES;
    o->level = CONS_BOOT_DEFAULT_LEVEL;
    o->seed = 0;
    o->method = CONS_BOOT_AUTO;
}

static double finish_sq(double sq, size_t hw, consistency_distance d)
{
    if (sq < 0) sq = 0; /* GRAM cancellation can leave -1e-15 for identical maps */
    return (d == CONS_L2 ? sqrt(sq) : sq) / (double)hw;
}

/* GRAM is cheaper when the one-time n^2 hw / 2 plus B * 0.4 n^2 beats
 * B * 1.3 n hw (the DIRECT cost, mean plus distances over ~63% distinct). */
static int use_gram(size_t n, size_t hw, size_t B, consistency_boot_method m)
{
    double dn = (double)n, dhw = (double)hw, dB = (double)B;
    if (m == CONS_BOOT_GRAM) return 1;
    if (m == CONS_BOOT_DIRECT || n > CONS_GRAM_MAX_N) return 0;
    return dn * dn * dhw * 0.5 + dB * 0.4 * dn * dn < dB * 1.3 * dn * dhw;
}

static void gram_build(boot_class *bc, const real *maps, size_t hw)
{
    size_t i, j, p;
    for (i = 0; i < bc->n; i++) {
        const real *xi = maps + bc->member[i] * hw;
        for (j = i; j < bc->n; j++) {
            const real *xj = maps + bc->member[j] * hw;
            double s = 0;
            for (p = 0; p < hw; p++) s += (double)xi[p] * (double)xj[p];
            bc->gram[i * bc->n + j] = s;
            bc->gram[j * bc->n + i] = s;
        }
    }
}

/* Draw one resample of the class: fills k and uniq, returns the number of
 * distinct members drawn. */
static size_t draw_class(boot_class *bc, rng *r)
{
    size_t j, u = 0;
    memset(bc->k, 0, bc->n * sizeof *bc->k);
    for (j = 0; j < bc->n; j++) bc->k[rng_below(r, (uint32_t)bc->n)] += 1.0;
    for (j = 0; j < bc->n; j++)
        if (bc->k[j] > 0) bc->uniq[u++] = j;
    return u;
}

/* Sum over the drawn samples of l, DIRECT: m = sum k_i x_i / n. */
static double class_sum_direct(const boot_class *bc, size_t u, const real *maps,
                               size_t hw, double *mean, consistency_distance d)
{
    size_t a, p;
    double n = (double)bc->n, sum = 0;
    memset(mean, 0, hw * sizeof *mean);
    for (a = 0; a < u; a++) {
        size_t i = bc->uniq[a];
        const real *x = maps + bc->member[i] * hw;
        double k = bc->k[i];
        for (p = 0; p < hw; p++) mean[p] += k * (double)x[p];
    }
    for (p = 0; p < hw; p++) mean[p] /= n;
    for (a = 0; a < u; a++) {
        size_t i = bc->uniq[a];
        const real *x = maps + bc->member[i] * hw;
        double sq = 0;
        for (p = 0; p < hw; p++) {
            double diff = (double)x[p] - mean[p];
            sq += diff * diff;
        }
        sum += bc->k[i] * finish_sq(sq, hw, d);
    }
    return sum;
}

/* The same through the Gram matrix:
 * ||x_i - m||^2 = G_ii - (2/n)(G k)_i + k^T G k / n^2. */
static double class_sum_gram(boot_class *bc, size_t u, size_t hw,
                             consistency_distance d)
{
    size_t a, b, n = bc->n;
    double dn = (double)n, mm = 0, sum = 0;
    for (a = 0; a < u; a++) {
        size_t i = bc->uniq[a];
        const double *gi = bc->gram + i * n;
        double s = 0;
        for (b = 0; b < u; b++) s += gi[bc->uniq[b]] * bc->k[bc->uniq[b]];
        bc->gk[i] = s;
        mm += bc->k[i] * s;
    }
    mm /= dn * dn;
    for (a = 0; a < u; a++) {
        size_t i = bc->uniq[a];
        double sq = bc->gram[i * n + i] - 2.0 * bc->gk[i] / dn + mm;
        sum += bc->k[i] * finish_sq(sq, hw, d);
    }
    return sum;
}

static void free_classes(boot_class *bc, size_t count)
{
    size_t c;
    if (!bc) return;
    for (c = 0; c < count; c++) {
        free(bc[c].member);
        free(bc[c].k);
        free(bc[c].uniq);
        free(bc[c].gram);
        free(bc[c].gk);
    }
    free(bc);
}

int consistency_bootstrap(const consistency_acc *acc, consistency_variant v,
                          const consistency_boot_opts *opts, consistency_ci *ci,
                          double *replicates, gc_error *err)
{
    consistency_result res;
    const real *maps;
    real *owned = NULL;
    boot_class *bc = NULL;
    double *rep = NULL, *sorted = NULL, *mean = NULL, mu = 0, var = 0;
    size_t h, w, hw, c, i, b, B = opts->resamples;
    size_t *fill;
    rng r;
    int status = GC_FAIL;

    memset(ci, 0, sizeof *ci);
    consistency_variant_name(v, ci->variant, sizeof ci->variant);
    ci->point = ci->lo = ci->hi = ci->se = ci->bias = NAN;
    ci->level = opts->level;
    ci->resamples = B;
    ci->seed = opts->seed;
    if (B == 0 || B > CONS_BOOT_MAX_RESAMPLES)
        return gc_fail(err, "metric/bootstrap: number of resamples %zu outside [1, %d]",
                       B, CONS_BOOT_MAX_RESAMPLES);
    if (!(opts->level > 0 && opts->level < 1))
        return gc_fail(err, "metric/bootstrap: level %g outside (0, 1)", opts->level);
    if (opts->method != CONS_BOOT_AUTO && opts->method != CONS_BOOT_DIRECT &&
        opts->method != CONS_BOOT_GRAM)
        return gc_fail(err, "metric/bootstrap: unknown method %d", (int)opts->method);

    if (consistency_finish(acc, v, &res, err) != GC_OK) {
        consistency_result_free(&res);
        return GC_FAIL;
    }
    ci->point = res.value;
    if (isnan(res.value)) {
        memcpy(ci->reason, res.reason, sizeof ci->reason);
        if (replicates)
            for (b = 0; b < B; b++) replicates[b] = NAN;
        consistency_result_free(&res);
        return GC_OK;
    }

    /* the qualifying classes, their members in add order */
    bc = gc_calloc(acc->classes, sizeof *bc);
    fill = gc_calloc(acc->classes, sizeof *fill);
    for (c = 0; c < acc->classes; c++) {
        size_t n = res.class_count[c];
        if (n < 2) continue;
        if (n > (size_t)UINT32_MAX) {
            gc_fail(err, "metric/bootstrap: class %zu has %zu samples, too many to resample",
                    c, n);
            goto done_fill;
        }
        if (opts->method == CONS_BOOT_GRAM && n > CONS_GRAM_MAX_N) {
            gc_fail(err, "metric/bootstrap: GRAM method on class %zu with %zu > %d samples",
                    c, n, CONS_GRAM_MAX_N);
            goto done_fill;
        }
    }
    for (c = 0; c < acc->classes; c++) {
        size_t n = res.class_count[c];
        bc[c].n = n >= 2 ? n : 0;
        if (!bc[c].n) continue;
        bc[c].member = gc_calloc(n, sizeof *bc[c].member);
        bc[c].k = gc_calloc(n, sizeof *bc[c].k);
        bc[c].uniq = gc_calloc(n, sizeof *bc[c].uniq);
    }
    for (i = 0; i < acc->n; i++) {
        c = (size_t)acc->label[i];
        if (bc[c].n) bc[c].member[fill[c]++] = i;
    }

    if (consistency_maps_at(acc, v.grid, &maps, &owned, &h, &w, err) != GC_OK)
        goto done_fill;
    hw = h * w;
    mean = gc_calloc(hw, sizeof *mean);
    for (c = 0; c < acc->classes; c++) {
        if (!bc[c].n || !use_gram(bc[c].n, hw, B, opts->method)) continue;
        bc[c].gram = gc_calloc(bc[c].n * bc[c].n, sizeof *bc[c].gram);
        bc[c].gk = gc_calloc(bc[c].n, sizeof *bc[c].gk);
        gram_build(&bc[c], maps, hw);
    }

    rep = gc_calloc(B, sizeof *rep);
    rng_seed(&r, opts->seed);
    for (b = 0; b < B; b++) {
        double total = 0;
        for (c = 0; c < acc->classes; c++) {
            size_t u;
            if (!bc[c].n) continue;
            u = draw_class(&bc[c], &r);
            total += bc[c].gram ? class_sum_gram(&bc[c], u, hw, v.distance)
                                : class_sum_direct(&bc[c], u, maps, hw, mean, v.distance);
        }
        rep[b] = total / (double)res.n_used;
        mu += rep[b];
    }
    mu /= (double)B;
    for (b = 0; b < B; b++) var += (rep[b] - mu) * (rep[b] - mu);
    ci->se = B > 1 ? sqrt(var / (double)(B - 1)) : 0.0;
    ci->bias = mu - ci->point;
    if (replicates) memcpy(replicates, rep, B * sizeof *rep);
    sorted = rep;
    stats_sort(sorted, B);
    ci->lo = stats_percentile_sorted(sorted, B, (1.0 - opts->level) / 2.0);
    ci->hi = stats_percentile_sorted(sorted, B, (1.0 + opts->level) / 2.0);
    status = GC_OK;

done_fill:
    free(fill);
    free_classes(bc, acc->classes);
    free(rep);
    free(mean);
    free(owned);
    consistency_result_free(&res);
    return status;
}
