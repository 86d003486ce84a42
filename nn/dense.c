/*
 * nn/dense.c - fully connected layer, PyTorch's Linear:
 *   x (N, IN) (any per-sample shape with IN elements), weight (OUT, IN),
 *   bias (OUT), y (N, OUT) = x W^T + b.
 *
 * The four functions of DESIGN.md section 2 (dense is affine in x and
 * bilinear in (W, x)):
 *   tangent          y_t = x_t W^T                          (no bias)
 *   backward         dx += dy W, dW += dy^T x, db += sum_n dy
 *   tangent_backward dx_t += dy_t W
 *                    dx   += dy W           (no second-order x term)
 *                    dW   += dy^T x + dy_t^T x_t, db += sum_n dy
 *
 * Not done here: a bias-free variant (no model of DESIGN.md section 4 needs it).
 */
#include "nn/layers.h"
#include "nn/gemm.h"

#include <math.h>

typedef struct dense {
    layer base;
    int in_f, out_f;
    int w_idx, b_idx;
} dense;

/* y (N, OUT) = x W^T (+ b) */
static void dense_apply(dense *d, const real *x, real *y, int with_bias)
{
    layer *l = &d->base;
    const real *w = ps_value(l->ctx->ps, d->w_idx);
    int b, o;
    gemm(0, 1, l->n, d->out_f, d->in_f, 1, x, d->in_f, w, d->in_f, 0, y, d->out_f);
    if (with_bias) {
        const real *bias = ps_value(l->ctx->ps, d->b_idx);
        for (b = 0; b < l->n; b++)
            for (o = 0; o < d->out_f; o++) y[(size_t)b * d->out_f + o] += bias[o];
    }
}

static void dense_forward(layer *l, const real *x, real *y, int n)
{
    (void)n;
    dense_apply((dense *)l, x, y, 1);
}

static void dense_tangent(layer *l, const real *x_t, real *y_t)
{
    dense_apply((dense *)l, x_t, y_t, 0);
}

static void dense_tangent_backward(layer *l, const real *dy, const real *dy_t, real *dx,
                                   real *dx_t)
{
    dense *d = (dense *)l;
    param_store *ps = l->ctx->ps;
    const real *w = ps_value(ps, d->w_idx);
    int n = l->n, in = d->in_f, out = d->out_f, b, o;
    if (l->ctx->grad_params) {
        real *dw = ps_grad(ps, d->w_idx), *db = ps_grad(ps, d->b_idx);
        if (dy) {
            gemm(1, 0, out, in, n, 1, dy, out, l->x, in, 1, dw, in);
            for (o = 0; o < out; o++) {
                real acc = 0;
                for (b = 0; b < n; b++) acc += dy[(size_t)b * out + o];
                db[o] += acc;
            }
        }
        if (dy_t) gemm(1, 0, out, in, n, 1, dy_t, out, l->x_t, in, 1, dw, in);
    }
    if (dx && dy) gemm(0, 0, n, in, out, 1, dy, out, w, in, 1, dx, in);
    if (dx_t && dy_t) gemm(0, 0, n, in, out, 1, dy_t, out, w, in, 1, dx_t, in);
}

static void dense_backward(layer *l, const real *dy, real *dx)
{
    dense_tangent_backward(l, dy, NULL, dx, NULL);
}

static void dense_destroy(layer *l) { free(l); }

static const layer_ops dense_ops = {"dense", dense_forward, dense_backward, dense_tangent,
                                    dense_tangent_backward, dense_destroy};

/* Register name.suffix and fill it with U(-bound, bound) from ctx->rng
 * (PyTorch's default Linear init, DESIGN.md section 4). */
static int add_uniform_param(nn_ctx *ctx, const char *name, const char *suffix, int ndim,
                             const int64_t *shape, double bound)
{
    char full[PS_NAME_MAX];
    int idx;
    size_t i, numel;
    real *v;
    layer_child_name(full, name, suffix);
    idx = ps_add(ctx->ps, full, PS_PARAM, ndim, shape);
    numel = ctx->ps->entry[idx].numel;
    v = ps_value(ctx->ps, idx);
    for (i = 0; i < numel; i++) v[i] = (real)rng_uniform_range(ctx->rng, -bound, bound);
    return idx;
}

layer *dense_create(nn_ctx *ctx, const char *name, int in_features, int out_features)
{
    dense *d;
    int64_t wshape[2], bshape[1];
    double bound;
    GC_CHECK(in_features >= 1 && out_features >= 1);
    d = (dense *)gc_calloc(1, sizeof *d);
    layer_init(&d->base, &dense_ops, ctx, name, in_features, 1, 1, out_features, 1, 1);
    d->in_f = in_features;
    d->out_f = out_features;
    bound = 1.0 / sqrt((double)in_features);   /* fan_in = IN */
    wshape[0] = out_features;
    wshape[1] = in_features;
    bshape[0] = out_features;
    d->w_idx = add_uniform_param(ctx, name, "weight", 2, wshape, bound);
    d->b_idx = add_uniform_param(ctx, name, "bias", 1, bshape, bound);
    return &d->base;
}
