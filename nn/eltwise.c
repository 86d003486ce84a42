/*
 * nn/eltwise.c - the two-input elementwise ops used inside the residual and
 * squeeze-excitation blocks (nn/layers.h), each with its derivatives written
 * out (DESIGN.md section 2).
 *
 * add:  y = a + b. Linear: its tangent is add_forward(a_t, b_t), its adjoint
 *       add_backward (used for dy and for dy_t alike); no second-order term.
 * cmul: y[n,c,i] = x[n,c,i] * w[n,c], x (N, C, HW), w (N, C). Bilinear, so
 *       the product rule gives real second-order terms:
 *         y_t  = x_t w + x w_t
 *         dx  += dy w + dy_t w_t         dw  += sum_i (dy x + dy_t x_t)
 *         dx_t += dy_t w                 dw_t += sum_i dy_t x
 * NULL conventions (nn/layer.h): a NULL adjoint or tangent input (dy, dy_t,
 * x_t, w_t) is zero; a NULL output (da, db, dx, dw, dx_t, dw_t) is not wanted.
 * Sums over i are taken in index order, then added to the accumulator.
 */
#include "nn/layers.h"

void add_forward(const real *a, const real *b, real *y, size_t count)
{
    size_t i;
    for (i = 0; i < count; i++) y[i] = a[i] + b[i];
}

void add_backward(const real *dy, real *da, real *db, size_t count)
{
    size_t i;
    if (!dy) return;
    if (da)
        for (i = 0; i < count; i++) da[i] += dy[i];
    if (db)
        for (i = 0; i < count; i++) db[i] += dy[i];
}

void cmul_forward(const real *x, const real *w, real *y, int n, int c, int hw)
{
    size_t nc = (size_t)n * c, j, i;
    for (j = 0; j < nc; j++) {
        const real *xp = x + j * (size_t)hw;
        real *yp = y + j * (size_t)hw;
        for (i = 0; i < (size_t)hw; i++) yp[i] = xp[i] * w[j];
    }
}

void cmul_tangent(const real *x, const real *w, const real *x_t, const real *w_t,
                  real *y_t, int n, int c, int hw)
{
    size_t nc = (size_t)n * c, j, i;
    for (j = 0; j < nc; j++) {
        size_t o = j * (size_t)hw;
        for (i = 0; i < (size_t)hw; i++) {
            real v = 0;
            if (x_t) v += x_t[o + i] * w[j];
            if (w_t) v += x[o + i] * w_t[j];
            y_t[o + i] = v;
        }
    }
}

void cmul_tangent_backward(const real *x, const real *w, const real *x_t, const real *w_t,
                           const real *dy, const real *dy_t, real *dx, real *dw,
                           real *dx_t, real *dw_t, int n, int c, int hw)
{
    size_t nc = (size_t)n * c, j, i;
    /* the second-order terms need both dy_t and the tangent inputs */
    const real *dyt_x = x_t ? dy_t : NULL;    /* dy_t paired with x_t (for dw) */
    const real *dyt_w = w_t ? dy_t : NULL;    /* dy_t paired with w_t (for dx) */
    for (j = 0; j < nc; j++) {
        size_t o = j * (size_t)hw;
        real acc_w = 0, acc_wt = 0;
        for (i = 0; i < (size_t)hw; i++) {
            size_t k = o + i;
            if (dx) {
                real g = 0;
                if (dy) g += dy[k] * w[j];
                if (dyt_w) g += dyt_w[k] * w_t[j];
                dx[k] += g;
            }
            if (dw) {
                if (dy) acc_w += dy[k] * x[k];
                if (dyt_x) acc_w += dyt_x[k] * x_t[k];
            }
            if (dy_t) {
                if (dx_t) dx_t[k] += dy_t[k] * w[j];
                if (dw_t) acc_wt += dy_t[k] * x[k];
            }
        }
        if (dw) dw[j] += acc_w;
        if (dw_t) dw_t[j] += acc_wt;
    }
}

void cmul_backward(const real *x, const real *w, const real *dy, real *dx, real *dw,
                   int n, int c, int hw)
{
    cmul_tangent_backward(x, w, NULL, NULL, dy, NULL, dx, dw, NULL, NULL, n, c, hw);
}
