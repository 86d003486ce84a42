/*
 * nn/loss.c - softmax cross-entropy and argmax; see nn/loss.h.
 */
#include "nn/loss.h"

#include <math.h>

static int row_argmax(const real *z, size_t c)
{
    size_t j, best = 0;
    if (isnan((double)z[0])) return 0;
    for (j = 1; j < c; j++) {
        if (isnan((double)z[j])) return (int)j;
        if (z[j] > z[best]) best = j;
    }
    return (int)best;
}

void ce_argmax(const real *logits, size_t n, size_t c, int *pred)
{
    size_t i;
    GC_CHECK(c >= 1);
    for (i = 0; i < n; i++) pred[i] = row_argmax(logits + i * c, c);
}

double ce_loss(const real *logits, const int *labels, size_t n, size_t c, real *dlogits,
               int *pred)
{
    double total = 0.0, inv_n;
    size_t i, j;
    GC_CHECK(n >= 1 && c >= 1);
    inv_n = 1.0 / (double)n;
    for (i = 0; i < n; i++) {
        const real *z = logits + i * c;
        int y = labels[i];
        double mx = (double)z[0], sum = 0.0;
        GC_CHECK(y >= 0 && (size_t)y < c);
        for (j = 1; j < c; j++)
            if ((double)z[j] > mx) mx = (double)z[j];
        for (j = 0; j < c; j++) sum += exp((double)z[j] - mx);
        /* lse - z_y with the max taken out first: exact for logits close together */
        total += log(sum) - ((double)z[y] - mx);
        if (dlogits) {
            real *dz = dlogits + i * c;
            for (j = 0; j < c; j++) {
                double p = exp((double)z[j] - mx) / sum;
                if (j == (size_t)y) p -= 1.0;
                dz[j] = (real)(p * inv_n);
            }
        }
        if (pred) pred[i] = row_argmax(z, c);
    }
    return total * inv_n;
}
