/*
 * nn/activation.c - elementwise activations ReLU and sigmoid, any shape
 * (C, H, W) -> (C, H, W).
 *
 * DESIGN.md section 2:
 * - ReLU is piecewise linear: the mask m = (x > 0) comes from the primal x
 *   (ReLU'(0) = 0, as PyTorch); y_t = m x_t, dx += m dy, dx_t += m dy_t, and
 *   no second-order term.
 * - sigmoid is smooth: s = 1/(1+exp(-x)), s' = s(1-s), s'' = s'(1-2s);
 *   y_t = s' x_t, dx += s' dy + s'' x_t dy_t, dx_t += s' dy_t.
 * Both read the primal from the pointers cached by layer_forward (ReLU: x,
 * sigmoid: y = s), which the caller keeps unchanged (nn/layer.h).
 */
#include "nn/layers.h"

#include <math.h>

static size_t count_of(const layer *l) { return (size_t)l->n * layer_in_size(l); }

static void act_destroy(layer *l) { free(l); }

static layer *act_new(const layer_ops *ops, nn_ctx *ctx, const char *name, int c, int h,
                      int w)
{
    layer *l;
    GC_CHECK(c >= 1 && h >= 1 && w >= 1);
    l = (layer *)gc_calloc(1, sizeof *l);
    layer_init(l, ops, ctx, name, c, h, w, c, h, w);
    return l;
}

/* ---- ReLU ---- */

static void relu_forward(layer *l, const real *x, real *y, int n)
{
    size_t i, count = (size_t)n * layer_in_size(l);
    for (i = 0; i < count; i++) y[i] = x[i] > 0 ? x[i] : 0;
}

static void relu_tangent(layer *l, const real *x_t, real *y_t)
{
    const real *x = l->x;
    size_t i, count = count_of(l);
    for (i = 0; i < count; i++) y_t[i] = x[i] > 0 ? x_t[i] : 0;
}

static void relu_tangent_backward(layer *l, const real *dy, const real *dy_t, real *dx,
                                  real *dx_t)
{
    const real *x = l->x;
    size_t i, count = count_of(l);
    if (dx && dy)
        for (i = 0; i < count; i++)
            if (x[i] > 0) dx[i] += dy[i];
    if (dx_t && dy_t)
        for (i = 0; i < count; i++)
            if (x[i] > 0) dx_t[i] += dy_t[i];
}

static void relu_backward(layer *l, const real *dy, real *dx)
{
    relu_tangent_backward(l, dy, NULL, dx, NULL);
}

static const layer_ops relu_ops = {"relu", relu_forward, relu_backward, relu_tangent,
                                   relu_tangent_backward, act_destroy};

layer *relu_create(nn_ctx *ctx, const char *name, int c, int h, int w)
{
    return act_new(&relu_ops, ctx, name, c, h, w);
}

/* ---- sigmoid ---- */

/* 1/(1+exp(-x)) without overflow: exp of a non-positive argument only. */
static real sigmoid_of(real x)
{
    if (x >= 0) return (real)1 / ((real)1 + (real)exp(-x));
    {
        real e = (real)exp(x);
        return e / ((real)1 + e);
    }
}

static void sigmoid_forward(layer *l, const real *x, real *y, int n)
{
    size_t i, count = (size_t)n * layer_in_size(l);
    for (i = 0; i < count; i++) y[i] = sigmoid_of(x[i]);
}

static void sigmoid_tangent(layer *l, const real *x_t, real *y_t)
{
    const real *s = l->y;
    size_t i, count = count_of(l);
    for (i = 0; i < count; i++) y_t[i] = s[i] * (1 - s[i]) * x_t[i];
}

static void sigmoid_tangent_backward(layer *l, const real *dy, const real *dy_t, real *dx,
                                     real *dx_t)
{
    const real *s = l->y, *x_t = l->x_t;
    size_t i, count = count_of(l);
    for (i = 0; i < count; i++) {
        real s1 = s[i] * (1 - s[i]);          /* s'  */
        if (dx) {
            real g = 0;
            if (dy) g += s1 * dy[i];
            if (dy_t) g += s1 * (1 - 2 * s[i]) * x_t[i] * dy_t[i];   /* s'' x_t dy_t */
            dx[i] += g;
        }
        if (dx_t && dy_t) dx_t[i] += s1 * dy_t[i];
    }
}

static void sigmoid_backward(layer *l, const real *dy, real *dx)
{
    sigmoid_tangent_backward(l, dy, NULL, dx, NULL);
}

static const layer_ops sigmoid_ops = {"sigmoid", sigmoid_forward, sigmoid_backward,
                                      sigmoid_tangent, sigmoid_tangent_backward,
                                      act_destroy};

layer *sigmoid_create(nn_ctx *ctx, const char *name, int c, int h, int w)
{
    return act_new(&sigmoid_ops, ctx, name, c, h, w);
}
