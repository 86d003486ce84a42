/*
 * metric/curriculum.h - the regulariser weight schedule lambda_t (DESIGN.md
 * section 1, "Training regulariser"; paper: T0 = 2, T1 = 10):
 *
 *   lambda_t = 0                                  t < T0
 *            = lambda_max (t - T0) / (T1 - T0)    T0 <= t < T1
 *            = lambda_max                         t >= T1
 *
 * t is the 1-based epoch. For T1 > T0 this equals the public LambdaScheduler
 * (which returns 0 for t <= T0 and interpolates linearly up to T1).
 * T1 <= T0: a step at T0 (0 before, lambda_max from epoch T0 on); the public
 * scheduler rejects T1 < T0 and, for T1 == T0, steps one epoch later (its
 * `t <= T0` branch comes first). lambda_max may be negative (the paper's
 * -100 run) or 0; the ramp is linear either way.
 */
#ifndef GC_METRIC_CURRICULUM_H
#define GC_METRIC_CURRICULUM_H

double curriculum_lambda(double lambda_max, int t0, int t1, int epoch);

#endif
