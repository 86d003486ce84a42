/*
 * nn/flatten.c - (N, C, H, W) -> (N, C*H*W, 1, 1), a copy (NCHW order kept,
 * as torch.flatten(x, 1)). Linear (DESIGN.md section 2): tangent copies x_t,
 * the adjoints add dy (and dy_t) back; no second-order term.
 */
#include "nn/layers.h"

#include <limits.h>
#include <string.h>

static void flatten_forward(layer *l, const real *x, real *y, int n)
{
    if (y != x) memcpy(y, x, (size_t)n * layer_in_size(l) * sizeof(real));
}

static void flatten_tangent(layer *l, const real *x_t, real *y_t)
{
    if (y_t != x_t) memcpy(y_t, x_t, (size_t)l->n * layer_in_size(l) * sizeof(real));
}

static void add_into(real *dst, const real *src, size_t count)
{
    size_t i;
    for (i = 0; i < count; i++) dst[i] += src[i];
}

static void flatten_tangent_backward(layer *l, const real *dy, const real *dy_t, real *dx,
                                     real *dx_t)
{
    size_t count = (size_t)l->n * layer_in_size(l);
    if (dx && dy) add_into(dx, dy, count);
    if (dx_t && dy_t) add_into(dx_t, dy_t, count);
}

static void flatten_backward(layer *l, const real *dy, real *dx)
{
    flatten_tangent_backward(l, dy, NULL, dx, NULL);
}

static void flatten_destroy(layer *l) { free(l); }

static const layer_ops flatten_ops = {"flatten", flatten_forward, flatten_backward,
                                      flatten_tangent, flatten_tangent_backward,
                                      flatten_destroy};

layer *flatten_create(nn_ctx *ctx, const char *name, int c, int h, int w)
{
    layer *l;
    GC_CHECK(c >= 1 && h >= 1 && w >= 1);
    GC_CHECK((size_t)c * (size_t)h * (size_t)w <= (size_t)INT_MAX);   /* out_c is an int */
    l = (layer *)gc_calloc(1, sizeof *l);
    layer_init(l, &flatten_ops, ctx, name, c, h, w, c * h * w, 1, 1);
    return l;
}
