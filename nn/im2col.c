/*
 * nn/im2col.c - im2col / col2im (see im2col.h). Plain loops in a fixed
 * order; col2im_add visits columns in the same order for every call, so the
 * accumulation into x is deterministic.
 */
#include "nn/im2col.h"

#include <string.h>

void im2col(const conv_geom *g, const real *x, real *col)
{
    size_t ohw = (size_t)g->oh * g->ow;
    int c, ki, kj, oi, oj;
    for (c = 0; c < g->c; c++) {
        const real *xc = x + (size_t)c * g->h * g->w;
        for (ki = 0; ki < g->k; ki++) {
            for (kj = 0; kj < g->k; kj++) {
                real *row = col + (((size_t)c * g->k + ki) * g->k + kj) * ohw;
                for (oi = 0; oi < g->oh; oi++) {
                    int ii = oi * g->stride - g->pad + ki;
                    real *dst = row + (size_t)oi * g->ow;
                    if (ii < 0 || ii >= g->h) {
                        memset(dst, 0, (size_t)g->ow * sizeof(real));
                        continue;
                    }
                    for (oj = 0; oj < g->ow; oj++) {
                        int jj = oj * g->stride - g->pad + kj;
                        dst[oj] = (jj >= 0 && jj < g->w) ? xc[(size_t)ii * g->w + jj] : 0;
                    }
                }
            }
        }
    }
}

void col2im_add(const conv_geom *g, const real *col, real *x)
{
    size_t ohw = (size_t)g->oh * g->ow;
    int c, ki, kj, oi, oj;
    for (c = 0; c < g->c; c++) {
        real *xc = x + (size_t)c * g->h * g->w;
        for (ki = 0; ki < g->k; ki++) {
            for (kj = 0; kj < g->k; kj++) {
                const real *row = col + (((size_t)c * g->k + ki) * g->k + kj) * ohw;
                for (oi = 0; oi < g->oh; oi++) {
                    int ii = oi * g->stride - g->pad + ki;
                    const real *src = row + (size_t)oi * g->ow;
                    if (ii < 0 || ii >= g->h) continue;
                    for (oj = 0; oj < g->ow; oj++) {
                        int jj = oj * g->stride - g->pad + kj;
                        if (jj >= 0 && jj < g->w) xc[(size_t)ii * g->w + jj] += src[oj];
                    }
                }
            }
        }
    }
}
