/*
 * metric/stats.c - Pearson, Spearman, least-squares line, ranks and
 * percentiles (DESIGN.md section 5, experiment 1: correlation of kappa with
 * L_CAM over epochs; scatter plots). See stats.h for the conventions (NaN
 * pairs skipped, NaN for < 2 pairs or zero variance).
 */
#include "metric/stats.h"

#include "nn/core.h"

#include <math.h>
#include <string.h>

typedef struct ranked {
    double v;
    size_t i;
} ranked;

static int pair_ok(double a, double b) { return isfinite(a) && isfinite(b); }

/* Sums of centred products over the usable pairs; returns the pair count. */
static size_t centred_sums(const double *x, const double *y, size_t n,
                           double *sxx, double *syy, double *sxy, double *mx, double *my)
{
    size_t i, m = 0;
    double ax = 0, ay = 0;
    *sxx = *syy = *sxy = 0;
    for (i = 0; i < n; i++) {
        if (!pair_ok(x[i], y[i])) continue;
        ax += x[i];
        ay += y[i];
        m++;
    }
    *mx = *my = NAN;
    if (m == 0) return 0;
    ax /= (double)m;
    ay /= (double)m;
    for (i = 0; i < n; i++) {
        double dx, dy;
        if (!pair_ok(x[i], y[i])) continue;
        dx = x[i] - ax;
        dy = y[i] - ay;
        *sxx += dx * dx;
        *syy += dy * dy;
        *sxy += dx * dy;
    }
    *mx = ax;
    *my = ay;
    return m;
}

double stats_pearson(const double *x, const double *y, size_t n, size_t *used)
{
    double sxx, syy, sxy, mx, my, r;
    size_t m = centred_sums(x, y, n, &sxx, &syy, &sxy, &mx, &my);
    if (used) *used = m;
    if (m < 2 || sxx == 0 || syy == 0) return NAN;
    r = sxy / sqrt(sxx * syy);
    if (r > 1) r = 1;
    if (r < -1) r = -1;
    return r;
}

size_t stats_linfit(const double *x, const double *y, size_t n,
                    double *slope, double *intercept)
{
    double sxx, syy, sxy, mx, my;
    size_t m = centred_sums(x, y, n, &sxx, &syy, &sxy, &mx, &my);
    *slope = *intercept = NAN;
    if (m < 2 || sxx == 0) return m;
    *slope = sxy / sxx;
    *intercept = my - *slope * mx;
    return m;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    if (isnan(x)) return isnan(y) ? 0 : 1;
    if (isnan(y)) return -1;
    return (x > y) - (x < y);
}

void stats_sort(double *v, size_t n)
{
    if (n > 1) qsort(v, n, sizeof *v, cmp_double);
}

static int cmp_ranked(const void *a, const void *b)
{
    const ranked *p = a, *q = b;
    int c = cmp_double(&p->v, &q->v);
    if (c) return c;
    return (p->i > q->i) - (p->i < q->i); /* total order: qsort is not stable */
}

void stats_rank(const double *v, size_t n, double *rank)
{
    ranked *t;
    size_t i, j;
    if (n == 0) return;
    t = gc_calloc(n, sizeof *t);
    for (i = 0; i < n; i++) {
        t[i].v = v[i];
        t[i].i = i;
    }
    qsort(t, n, sizeof *t, cmp_ranked);
    for (i = 0; i < n; i = j) {
        double avg;
        size_t k;
        for (j = i + 1; j < n && t[j].v == t[i].v; j++) continue;
        /* positions i..j-1 hold 1-based ranks i+1..j: their average */
        avg = ((double)(i + 1) + (double)j) / 2.0;
        for (k = i; k < j; k++) rank[t[k].i] = avg;
    }
    free(t);
}

double stats_spearman(const double *x, const double *y, size_t n, size_t *used)
{
    double *fx, *fy, *rx, *ry, rho;
    size_t i, m = 0;
    if (used) *used = 0;
    if (n == 0) return NAN;
    fx = gc_calloc(n, sizeof *fx);
    fy = gc_calloc(n, sizeof *fy);
    rx = gc_calloc(n, sizeof *rx);
    ry = gc_calloc(n, sizeof *ry);
    for (i = 0; i < n; i++) {
        if (!pair_ok(x[i], y[i])) continue;
        fx[m] = x[i];
        fy[m] = y[i];
        m++;
    }
    stats_rank(fx, m, rx);
    stats_rank(fy, m, ry);
    rho = stats_pearson(rx, ry, m, used);
    free(fx);
    free(fy);
    free(rx);
    free(ry);
    return rho;
}

double stats_percentile_sorted(const double *sorted, size_t n, double p)
{
    double pos, frac;
    size_t lo;
    if (n == 0) return NAN;
    if (p <= 0) return sorted[0];
    if (p >= 1) return sorted[n - 1];
    pos = p * (double)(n - 1);
    lo = (size_t)pos;
    if (lo >= n - 1) return sorted[n - 1];
    frac = pos - (double)lo;
    return sorted[lo] + frac * (sorted[lo + 1] - sorted[lo]);
}
