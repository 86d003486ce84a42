/*
 * nn/conv2d.c - 2-D convolution (cross-correlation, no kernel flip), PyTorch's
 * Conv2d with square kernel K, stride, zero padding, optional bias.
 *   x (N, IC, H, W), weight (OC, IC, K, K), bias (OC), y (N, OC, OH, OW),
 *   OH = floor((H + 2 pad - K) / stride) + 1 (likewise OW).
 *
 * Implements the four functions of DESIGN.md section 2. Per sample, with
 * col = im2col(x) (IC*K*K, OH*OW) and W read as (OC, IC*K*K):
 *   forward          y = W col + b
 *   tangent          y_t = W col(x_t)                      (no bias)
 *   backward         dW += dy col^T, db += sum_p dy, dx += col2im(W^T dy)
 *   tangent_backward dx_t += col2im(W^T dy_t)
 *                    dx   += col2im(W^T dy)   (conv is bilinear in (W, x):
 *                                              d/dx [dy_t . W x_t] = 0)
 *                    dW   += dy col(x)^T + dy_t col(x_t)^T, db += sum_p dy
 *                                             (no dy_t term for the bias)
 * A 1x1 convolution with stride 1 and no padding skips im2col/col2im: its
 * columns are the input itself.
 *
 * Not done here: groups, dilation, non-square kernels, padding modes other
 * than zeros (no model of DESIGN.md section 4 uses them). Speed lives in gemm().
 */
#include "nn/layers.h"
#include "nn/gemm.h"
#include "nn/im2col.h"

#include <limits.h>
#include <math.h>

typedef struct conv2d {
    layer base;
    conv_geom g;
    int has_bias;
    int w_idx, b_idx;    /* parameter store entries (b_idx -1 without bias) */
    int direct;          /* 1x1, stride 1, pad 0: the columns are x itself */
    size_t ckk, ohw;     /* IC*K*K, OH*OW */
    real *col;           /* (IC*K*K, OH*OW), one sample, allocated at build */
} conv2d;

/* Columns of one sample: x itself for a direct conv, else im2col into c->col. */
static const real *columns(conv2d *c, const real *xs)
{
    if (c->direct) return xs;
    im2col(&c->g, xs, c->col);
    return c->col;
}

/* ys (OC, OH*OW) = W cols(xs) (+ b) */
static void conv_apply(conv2d *c, const real *x, real *y, int with_bias)
{
    layer *l = &c->base;
    const real *w = ps_value(l->ctx->ps, c->w_idx);
    const real *bias = with_bias && c->has_bias ? ps_value(l->ctx->ps, c->b_idx) : NULL;
    size_t in_sz = layer_in_size(l), out_sz = layer_out_size(l), p;
    int b, o;
    for (b = 0; b < l->n; b++) {
        const real *col = columns(c, x + (size_t)b * in_sz);
        real *ys = y + (size_t)b * out_sz;
        gemm(0, 0, l->out_c, (int)c->ohw, (int)c->ckk, 1, w, (int)c->ckk, col, (int)c->ohw,
             0, ys, (int)c->ohw);
        if (bias)
            for (o = 0; o < l->out_c; o++)
                for (p = 0; p < c->ohw; p++) ys[(size_t)o * c->ohw + p] += bias[o];
    }
}

static void conv2d_forward(layer *l, const real *x, real *y, int n)
{
    (void)n;
    conv_apply((conv2d *)l, x, y, 1);
}

static void conv2d_tangent(layer *l, const real *x_t, real *y_t)
{
    conv_apply((conv2d *)l, x_t, y_t, 0);
}

/* dxs (IC, H, W) += col2im(W^T dys), dys (OC, OH*OW) of one sample. */
static void input_grad(conv2d *c, const real *w, const real *dys, real *dxs)
{
    int oc = c->base.out_c, ckk = (int)c->ckk, ohw = (int)c->ohw;
    if (c->direct) {
        gemm(1, 0, ckk, ohw, oc, 1, w, ckk, dys, ohw, 1, dxs, ohw);
        return;
    }
    gemm(1, 0, ckk, ohw, oc, 1, w, ckk, dys, ohw, 0, c->col, ohw);
    col2im_add(&c->g, c->col, dxs);
}

/* dW (OC, IC*K*K) += dys cols(xs)^T for one sample. */
static void weight_grad(conv2d *c, const real *xs, const real *dys, real *dw)
{
    int oc = c->base.out_c, ckk = (int)c->ckk, ohw = (int)c->ohw;
    const real *col = columns(c, xs);
    gemm(0, 1, oc, ckk, ohw, 1, dys, ohw, col, ohw, 1, dw, ckk);
}

static void conv2d_tangent_backward(layer *l, const real *dy, const real *dy_t, real *dx,
                                    real *dx_t)
{
    conv2d *c = (conv2d *)l;
    param_store *ps = l->ctx->ps;
    const real *w = ps_value(ps, c->w_idx);
    real *dw = ps_grad(ps, c->w_idx);
    real *db = c->has_bias ? ps_grad(ps, c->b_idx) : NULL;
    size_t in_sz = layer_in_size(l), out_sz = layer_out_size(l), p;
    int b, o;
    for (b = 0; b < l->n; b++) {
        size_t xo = (size_t)b * in_sz, yo = (size_t)b * out_sz;
        if (l->ctx->grad_params) {
            if (dy) {
                weight_grad(c, l->x + xo, dy + yo, dw);
                if (db)
                    for (o = 0; o < l->out_c; o++) {
                        const real *d = dy + yo + (size_t)o * c->ohw;
                        real acc = 0;
                        for (p = 0; p < c->ohw; p++) acc += d[p];
                        db[o] += acc;
                    }
            }
            if (dy_t) weight_grad(c, l->x_t + xo, dy_t + yo, dw);
        }
        if (dx && dy) input_grad(c, w, dy + yo, dx + xo);
        if (dx_t && dy_t) input_grad(c, w, dy_t + yo, dx_t + xo);
    }
}

static void conv2d_backward(layer *l, const real *dy, real *dx)
{
    conv2d_tangent_backward(l, dy, NULL, dx, NULL);
}

static void conv2d_destroy(layer *l)
{
    conv2d *c = (conv2d *)l;
    free(c->col);
    free(c);
}

static const layer_ops conv2d_ops = {"conv2d", conv2d_forward, conv2d_backward,
                                     conv2d_tangent, conv2d_tangent_backward,
                                     conv2d_destroy};

/* Register name.suffix and fill it with U(-bound, bound) from ctx->rng
 * (PyTorch's default init for conv and linear layers, DESIGN.md section 4). */
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

layer *conv2d_create(nn_ctx *ctx, const char *name, int in_c, int in_h, int in_w,
                     int out_c, int k, int stride, int pad, int bias)
{
    conv2d *c;
    int64_t wshape[4], bshape[1];
    size_t col_sz;
    double bound;
    GC_CHECK(in_c >= 1 && in_h >= 1 && in_w >= 1 && out_c >= 1);
    GC_CHECK(k >= 1 && stride >= 1 && pad >= 0);
    GC_CHECK(in_h + 2 * pad >= k && in_w + 2 * pad >= k);
    c = (conv2d *)gc_calloc(1, sizeof *c);
    c->g.c = in_c;
    c->g.h = in_h;
    c->g.w = in_w;
    c->g.k = k;
    c->g.stride = stride;
    c->g.pad = pad;
    c->g.oh = (in_h + 2 * pad - k) / stride + 1;
    c->g.ow = (in_w + 2 * pad - k) / stride + 1;
    layer_init(&c->base, &conv2d_ops, ctx, name, in_c, in_h, in_w, out_c, c->g.oh, c->g.ow);
    c->has_bias = bias != 0;
    c->direct = k == 1 && stride == 1 && pad == 0;
    c->ckk = (size_t)in_c * k * k;
    c->ohw = (size_t)c->g.oh * c->g.ow;
    GC_CHECK(c->ckk <= (size_t)INT_MAX && c->ohw <= (size_t)INT_MAX);   /* gemm takes int */
    GC_CHECK(gc_mul_size(c->ckk, c->ohw, &col_sz));

    bound = 1.0 / sqrt((double)c->ckk);   /* fan_in = IC*K*K */
    wshape[0] = out_c;
    wshape[1] = in_c;
    wshape[2] = k;
    wshape[3] = k;
    c->w_idx = add_uniform_param(ctx, name, "weight", 4, wshape, bound);
    c->b_idx = -1;
    if (c->has_bias) {
        bshape[0] = out_c;
        c->b_idx = add_uniform_param(ctx, name, "bias", 1, bshape, bound);
    }
    if (!c->direct) c->col = (real *)gc_calloc(col_sz, sizeof(real));
    return &c->base;
}
