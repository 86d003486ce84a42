/*
 * metric/stats.h - correlation and line fitting for the experiment summaries
 * (DESIGN.md section 5, experiment 1: Pearson correlation of kappa with L_CAM
 * over epochs per model, paper Table 2; the kappa-vs-L_CAM scatter plots),
 * plus the percentile helper the bootstrap uses.
 *
 * Pairs (x[i], y[i]) with a NaN or infinite member are skipped (an epoch
 * whose L_CAM is NaN); *used (if not NULL) receives the number of pairs
 * used. A coefficient is NaN with fewer than 2 pairs or zero variance in x
 * or y. All arithmetic in double, two-pass (means first).
 *
 * Deliberately not here: p-values, weighted fits.
 */
#ifndef GC_METRIC_STATS_H
#define GC_METRIC_STATS_H

#include <stddef.h>

/* Pearson r = sum dx dy / sqrt(sum dx^2 sum dy^2), clamped to [-1, 1]. */
double stats_pearson(const double *x, const double *y, size_t n, size_t *used);
/* Spearman rho: Pearson on ranks, ties get the average of their ranks
 * (scipy.stats.spearmanr). Allocates O(n) scratch. */
double stats_spearman(const double *x, const double *y, size_t n, size_t *used);
/* Least-squares line y = slope * x + intercept; both NaN with fewer than 2
 * pairs or zero variance in x. Returns the number of pairs used. */
size_t stats_linfit(const double *x, const double *y, size_t n,
                    double *slope, double *intercept);
/* Average ranks (1-based) of v[0..n-1], ties averaged: rank (n). */
void stats_rank(const double *v, size_t n, double *rank);
/* Sort ascending; NaNs go last. */
void stats_sort(double *v, size_t n);
/* Quantile p in [0, 1] of n sorted values, linear interpolation between order
 * statistics at position p (n - 1) (numpy's default). NaN if n == 0. */
double stats_percentile_sorted(const double *sorted, size_t n, double p);

#endif
