/*
 * nn/se.c - squeeze-excitation block of Level 4 (DESIGN.md s.4):
 *
 *   w[n,c]     = sigmoid(fc2(relu(fc1(gap(x)))))            w (N, C)
 *   y[n,c,i]   = x[n,c,i] * w[n,c]                          x, y (N, C, H, W)
 *
 * The excitation path is Sequential name.fc = [GAP, Flatten, Linear(C -> C/r),
 * ReLU, Linear(C/r -> C), Sigmoid] = name.fc.{0..5}, as in the public
 * SEBlock; parameters fc.2.weight, fc.2.bias, fc.4.weight, fc.4.bias in that
 * (state_dict) order.
 *
 * Four functions (DESIGN.md s.2): x is used twice, by the product and by the
 * path, so both adjoints accumulate into dx. The product is bilinear and
 * carries the block's own second-order terms (cmul_* of nn/eltwise.c):
 *   y_t  = x_t w + x w_t,           w_t = J_path x_t (tangent through fc)
 *   dx  += dy w + dy_t w_t,          dw  += sum_i (dy x + dy_t x_t)
 *   dx_t += dy_t w,                  dw_t += sum_i dy_t x
 * then (dw, dw_t) run back through the path, whose sigmoid adds its own
 * second-order term. Derivation: docs/second-order.md, section 2.
 * The block owns w, w_t, dw, dw_t, sized for ctx->max_n at build.
 *
 * Not done here: C/r rounding up or a minimum width; like PyTorch it uses
 * C / r (floor) hidden units and refuses 0 (GC_CHECK).
 */
#include "nn/layers.h"

#include <string.h>

typedef struct se_block {
    layer base;
    layer *fc;                 /* Sequential name.fc: (C,H,W) -> (C,1,1) */
    int c, hw;
    real *w, *w_t;             /* (max_n, C) */
    real *dw, *dw_t;           /* (max_n, C) adjoints of w, w_t */
} se_block;

static void se_forward(layer *l, const real *x, real *y, int n)
{
    se_block *s = (se_block *)l;
    layer_forward(s->fc, x, s->w, n);
    cmul_forward(x, s->w, y, n, s->c, s->hw);
}

static void se_backward(layer *l, const real *dy, real *dx)
{
    se_block *s = (se_block *)l;
    if (!dy) return;
    memset(s->dw, 0, (size_t)l->n * (size_t)s->c * sizeof(real));
    cmul_backward(l->x, s->w, dy, dx, s->dw, l->n, s->c, s->hw);
    layer_backward(s->fc, s->dw, dx);
}

static void se_tangent(layer *l, const real *x_t, real *y_t)
{
    se_block *s = (se_block *)l;
    layer_tangent(s->fc, x_t, s->w_t);
    cmul_tangent(l->x, s->w, x_t, s->w_t, y_t, l->n, s->c, s->hw);
}

static void se_tangent_backward(layer *l, const real *dy, const real *dy_t, real *dx,
                                real *dx_t)
{
    se_block *s = (se_block *)l;
    size_t nc = (size_t)l->n * (size_t)s->c;
    if (!dy_t) {
        se_backward(l, dy, dx);
        return;
    }
    memset(s->dw, 0, nc * sizeof(real));
    memset(s->dw_t, 0, nc * sizeof(real));
    cmul_tangent_backward(l->x, s->w, l->x_t, s->w_t, dy, dy_t, dx, s->dw, dx_t, s->dw_t, l->n,
                          s->c, s->hw);
    layer_tangent_backward(s->fc, s->dw, s->dw_t, dx, dx_t);
}

static void se_destroy(layer *l)
{
    se_block *s = (se_block *)l;
    layer_destroy(s->fc);
    free(s->w); free(s->w_t);
    free(s->dw); free(s->dw_t);
    free(s);
}

static const layer_ops se_ops = {"se", se_forward, se_backward, se_tangent,
                                 se_tangent_backward, se_destroy};

layer *se_create(nn_ctx *ctx, const char *name, int c, int h, int w, int reduction)
{
    se_block *s;
    layer *ch[6];
    char nm[PS_NAME_MAX];
    int hidden;
    size_t nc;
    GC_CHECK(c >= 1 && h >= 1 && w >= 1 && reduction >= 1);
    hidden = c / reduction;
    GC_CHECK(hidden >= 1);
    s = (se_block *)gc_calloc(1, sizeof *s);
    layer_init(&s->base, &se_ops, ctx, name, c, h, w, c, h, w);
    s->c = c;
    s->hw = h * w;
    layer_child_name(nm, name, "fc.0");
    ch[0] = gap_create(ctx, nm, c, h, w);
    layer_child_name(nm, name, "fc.1");
    ch[1] = flatten_create(ctx, nm, c, 1, 1);
    layer_child_name(nm, name, "fc.2");
    ch[2] = dense_create(ctx, nm, c, hidden);
    layer_child_name(nm, name, "fc.3");
    ch[3] = relu_create(ctx, nm, hidden, 1, 1);
    layer_child_name(nm, name, "fc.4");
    ch[4] = dense_create(ctx, nm, hidden, c);
    layer_child_name(nm, name, "fc.5");
    ch[5] = sigmoid_create(ctx, nm, c, 1, 1);
    layer_child_name(nm, name, "fc");
    s->fc = sequential_create(ctx, nm, ch, 6, 1);
    GC_CHECK(s->fc->out_c == c && s->fc->out_h == 1 && s->fc->out_w == 1);
    s->base.has_batchnorm = s->fc->has_batchnorm;
    nc = (size_t)ctx->max_n * (size_t)c;
    s->w = (real *)gc_calloc(nc, sizeof(real));
    s->w_t = (real *)gc_calloc(nc, sizeof(real));
    s->dw = (real *)gc_calloc(nc, sizeof(real));
    s->dw_t = (real *)gc_calloc(nc, sizeof(real));
    return &s->base;
}
