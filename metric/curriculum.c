/*
 * metric/curriculum.c - lambda_t, the linear warm-up of the regulariser
 * weight (DESIGN.md section 1, "Training regulariser"); see curriculum.h.
 */
#include "metric/curriculum.h"

double curriculum_lambda(double lambda_max, int t0, int t1, int epoch)
{
    if (epoch < t0) return 0.0;
    if (t1 <= t0 || epoch >= t1) return lambda_max;
    /* + 0.0 turns the -0 of a negative lambda_max at epoch T0 into 0 */
    return lambda_max * ((double)epoch - (double)t0) / ((double)t1 - (double)t0) + 0.0;
}
