/*
 * nn/batchnorm.c - BatchNorm2d(C) with its four functions (DESIGN.md s.2, s.4).
 *
 * Per channel c, over the M = N*H*W elements x_i of that channel:
 *   train: mu = mean x, var = mean (x - mu)^2 (biased), s = 1/sqrt(var + eps)
 *   eval:  mu = running_mean, s = 1/sqrt(running_var + eps)
 *   xhat_i = (x_i - mu) s,   y_i = gamma xhat_i + beta
 * Train-mode forward also updates the buffers as PyTorch does (momentum m):
 *   running_mean = (1-m) running_mean + m mu
 *   running_var  = (1-m) running_var  + m var * M/(M-1)   (unbiased)
 *   num_batches_tracked += 1
 * Only forward touches the buffers; tangent and the backward passes use the
 * (mu, s) cached by the last forward, and the mode that forward ran in.
 *
 * Train mode couples the samples of a batch and is nonlinear in x, so
 * tangent_backward has real second-order terms (derived in
 * docs/second-order.md, section 1, checked by tests/test_batchnorm.c):
 *   K   = mean(dy_t x_t) - mean(dy_t) mean(x_t) - mean(dy_t xhat) mean(xhat x_t)
 *   dx += -gamma s^2 [ xhat K + mean(xhat x_t) (dy_t - mean dy_t - xhat mean(dy_t xhat))
 *                           + mean(dy_t xhat) (x_t - mean x_t - xhat mean(xhat x_t)) ]
 *   dgamma += M s K                 (nothing for beta)
 * Eval mode is affine in x: no x term; dgamma += s sum dy_t x_t.
 *
 * Not done here: momentum = None (cumulative average) and affine = False;
 * the paper's models use neither. Train mode with M = 1 is refused (GC_CHECK),
 * as PyTorch refuses it ("Expected more than 1 value per channel").
 */
#include "nn/layers.h"
#include "nn/fuse.h"
#include "nn/lanes.h"
#include "nn/parallel.h"

#include <math.h>
#include <string.h>

#define BN_EPS 1e-5
#define BN_MOMENTUM 0.1

typedef struct batchnorm {
    layer base;
    int c;
    size_t hw;                 /* H*W */
    int w_idx, b_idx;          /* gamma, beta: (C) */
    int rm_idx, rv_idx;        /* running_mean, running_var: (C) */
    int nbt_idx;               /* num_batches_tracked: scalar */
    int train_used;            /* mode of the last forward */
    real *mean;                /* (C) mu used by the last forward */
    real *invstd;              /* (C) s used by the last forward */
    int relu_out;              /* the next forward writes relu(y) (nn/fuse.h) */
    int zero_dx;               /* the next backward writes dx, not += (nn/fuse.h) */
} batchnorm;

static size_t bn_index(const batchnorm *b, int n, int c, size_t i)
{
    return ((size_t)n * (size_t)b->c + (size_t)c) * b->hw + i;
}

/* Sums over a channel run in the LANES interleaved partial sums of
 * nn/lanes.h (lane j takes the positions i = j mod LANES of each plane). */

/* sum of x over channel c, in double */
static double chan_sum(const batchnorm *b, const real *x, int n, int c)
{
    double acc[LANES] = {0};
    int s;
    for (s = 0; s < n; s++) lanes_add(acc, x + bn_index(b, s, c, 0), b->hw);
    return lanes_total(acc);
}

/* sum of (x - mu)^2 over channel c, in double */
static double chan_sqdev(const batchnorm *b, const real *x, int n, int c, double mu)
{
    double acc[LANES] = {0};
    size_t i;
    int s, j;
    for (s = 0; s < n; s++) {
        const real *p = x + bn_index(b, s, c, 0);
        for (i = 0; i + LANES <= b->hw; i += LANES)
            for (j = 0; j < LANES; j++) {
                double d = p[i + j] - mu;
                acc[j] += d * d;
            }
        for (j = 0; i + (size_t)j < b->hw; j++) {
            double d = p[i + j] - mu;
            acc[j] += d * d;
        }
    }
    return lanes_total(acc);
}

static void bn_forward(layer *l, const real *x, real *y, int n)
{
    batchnorm *b = (batchnorm *)l;
    param_store *ps = l->ctx->ps;
    const real *gamma = ps_value(ps, b->w_idx), *beta = ps_value(ps, b->b_idx);
    real *rm = ps_value(ps, b->rm_idx), *rv = ps_value(ps, b->rv_idx);
    size_t m = (size_t)n * b->hw;
    int c;
    b->train_used = l->ctx->train;
    if (b->train_used) GC_CHECK(m > 1);
    GC_OMP_FOR(m * (size_t)b->c)
    for (c = 0; c < b->c; c++) {   /* channels are independent */
        real mu, is, g, bt;
        size_t i;
        int s;
        if (b->train_used) {
            double dmu = chan_sum(b, x, n, c) / (double)m;
            double var = chan_sqdev(b, x, n, c, dmu) / (double)m;
            mu = (real)dmu;
            is = (real)(1.0 / sqrt(var + BN_EPS));
            rm[c] = (real)((1.0 - BN_MOMENTUM) * rm[c] + BN_MOMENTUM * dmu);
            rv[c] = (real)((1.0 - BN_MOMENTUM) * rv[c] +
                           BN_MOMENTUM * var * (double)m / (double)(m - 1));
        } else {
            mu = rm[c];
            is = (real)(1.0 / sqrt((double)rv[c] + BN_EPS));
        }
        b->mean[c] = mu;
        b->invstd[c] = is;
        g = gamma[c];
        bt = beta[c];
        for (s = 0; s < n; s++) {
            const real *xs = x + bn_index(b, s, c, 0);
            real *ys = y + bn_index(b, s, c, 0);
            if (b->relu_out)   /* the following ReLU, fused (nn/fuse.h) */
                for (i = 0; i < b->hw; i++) {
                    real v = g * ((xs[i] - mu) * is) + bt;
                    ys[i] = v > 0 ? v : 0;
                }
            else
                for (i = 0; i < b->hw; i++) ys[i] = g * ((xs[i] - mu) * is) + bt;
        }
    }
    if (b->train_used) ps_value(ps, b->nbt_idx)[0] += 1;
}

/* xhat of element k of channel c, as forward computed it. */
static real bn_xhat(const batchnorm *b, const real *x, int c, size_t k)
{
    return (x[k] - b->mean[c]) * b->invstd[c];
}

/* Means over channel c of a, a*xhat, a*v (v may be NULL: that mean is 0),
 * each in LANES partial sums (see chan_sum). */
static void bn_means(const batchnorm *b, int c, const real *a, const real *v, double *m_a,
                     double *m_axh, double *m_av)
{
    const real *x = b->base.x;
    double sa[LANES] = {0}, saxh[LANES] = {0}, sav[LANES] = {0};
    size_t m = (size_t)b->base.n * b->hw, i;
    real mu = b->mean[c], is = b->invstd[c];
    int s, j;
    for (s = 0; s < b->base.n; s++) {
        size_t k0 = bn_index(b, s, c, 0);
        const real *as = a + k0, *xs = x + k0, *vs = v ? v + k0 : NULL;
        for (i = 0; i + LANES <= b->hw; i += LANES)
            for (j = 0; j < LANES; j++) {
                sa[j] += as[i + j];
                saxh[j] += as[i + j] * ((xs[i + j] - mu) * is);
            }
        for (j = 0; i + (size_t)j < b->hw; j++) {
            sa[j] += as[i + j];
            saxh[j] += as[i + j] * ((xs[i + j] - mu) * is);
        }
        if (vs) {
            for (i = 0; i + LANES <= b->hw; i += LANES)
                for (j = 0; j < LANES; j++) sav[j] += as[i + j] * vs[i + j];
            for (j = 0; i + (size_t)j < b->hw; j++) sav[j] += as[i + j] * vs[i + j];
        }
    }
    *m_a = lanes_total(sa) / (double)m;
    *m_axh = lanes_total(saxh) / (double)m;
    *m_av = lanes_total(sav) / (double)m;
}

/* The first-order adjoint of channel c: dx += J^T a (a = dy or dy_t), or
 * dx = 0 + J^T a if set (a zeroed dx, without reading it: nn/fuse.h);
 * with grad_params, dgamma += sum a xhat and dbeta += sum a if the
 * corresponding pointers are given. */
static void bn_adjoint_channel(const batchnorm *b, int c, const real *a, real *dx, int set,
                               real *dgamma, real *dbeta)
{
    const layer *l = &b->base;
    const real *x = l->x;
    const real *gamma = ps_value(l->ctx->ps, b->w_idx);
    size_t m = (size_t)l->n * b->hw, i;
    double m_a, m_axh, unused;
    real gs = gamma[c] * b->invstd[c];
    int s;
    bn_means(b, c, a, NULL, &m_a, &m_axh, &unused);
    if (dx) {
        real ma = (real)m_a, maxh = (real)m_axh, mu = b->mean[c], is = b->invstd[c];
        for (s = 0; s < l->n; s++) {
            size_t k0 = bn_index(b, s, c, 0);
            const real *as = a + k0, *xs = x + k0;
            real *dxs = dx + k0;
            if (set && b->train_used)
                for (i = 0; i < b->hw; i++)
                    dxs[i] = (real)0 + gs * (as[i] - ma - ((xs[i] - mu) * is) * maxh);
            else if (set)
                for (i = 0; i < b->hw; i++) dxs[i] = (real)0 + gs * as[i];
            else if (b->train_used)
                for (i = 0; i < b->hw; i++)
                    dxs[i] += gs * (as[i] - ma - ((xs[i] - mu) * is) * maxh);
            else
                for (i = 0; i < b->hw; i++) dxs[i] += gs * as[i];
        }
    }
    if (dgamma) dgamma[c] += (real)(m_axh * (double)m);
    if (dbeta) dbeta[c] += (real)(m_a * (double)m);
}

static void bn_tangent_backward(layer *l, const real *dy, const real *dy_t, real *dx,
                                real *dx_t)
{
    batchnorm *b = (batchnorm *)l;
    param_store *ps = l->ctx->ps;
    const real *gamma = ps_value(ps, b->w_idx);
    real *dgamma = l->ctx->grad_params ? ps_grad(ps, b->w_idx) : NULL;
    real *dbeta = l->ctx->grad_params ? ps_grad(ps, b->b_idx) : NULL;
    const real *x = l->x, *x_t = l->x_t;
    size_t m = (size_t)l->n * b->hw;
    int c;
    GC_CHECK(!b->zero_dx || dy || !dx);   /* armed: dx must be written */
    GC_OMP_FOR(m * (size_t)b->c)
    for (c = 0; c < b->c; c++) {   /* channels are independent */
        real is = b->invstd[c];
        size_t i;
        int s;
        if (dy) bn_adjoint_channel(b, c, dy, dx, b->zero_dx, dgamma, dbeta);
        if (!dy_t) continue;
        /* dx_t += J^T dy_t (no parameter gradient from this part) */
        if (dx_t) bn_adjoint_channel(b, c, dy_t, dx_t, 0, NULL, NULL);
        /* second-order terms d/dx, d/dgamma of [dy_t . J x_t] */
        if (b->train_used) {
            double m_dt, m_dtxh, m_dtxt, m_xt, m_xhxt, unused, kk;
            bn_means(b, c, dy_t, x_t, &m_dt, &m_dtxh, &m_dtxt);
            bn_means(b, c, x_t, NULL, &m_xt, &m_xhxt, &unused);
            kk = m_dtxt - m_dt * m_xt - m_dtxh * m_xhxt;
            if (dx) {
                real g2 = gamma[c] * is * is;
                for (s = 0; s < l->n; s++)
                    for (i = 0; i < b->hw; i++) {
                        size_t k = bn_index(b, s, c, i);
                        real xh = bn_xhat(b, x, c, k);
                        real pd = dy_t[k] - (real)m_dt - xh * (real)m_dtxh;
                        real px = x_t[k] - (real)m_xt - xh * (real)m_xhxt;
                        dx[k] -= g2 * (xh * (real)kk + (real)m_xhxt * pd + (real)m_dtxh * px);
                    }
            }
            if (dgamma) dgamma[c] += (real)((double)m * (double)is * kk);
        } else if (dgamma) {
            double sum = 0;
            for (s = 0; s < l->n; s++)
                for (i = 0; i < b->hw; i++) {
                    size_t k = bn_index(b, s, c, i);
                    sum += dy_t[k] * x_t[k];
                }
            dgamma[c] += (real)(sum * (double)is);
        }
    }
}

static void bn_backward(layer *l, const real *dy, real *dx)
{
    if (dy) bn_tangent_backward(l, dy, NULL, dx, NULL);
}

static void bn_tangent(layer *l, const real *x_t, real *y_t)
{
    batchnorm *b = (batchnorm *)l;
    const real *gamma = ps_value(l->ctx->ps, b->w_idx);
    const real *x = l->x;
    int c;
    GC_OMP_FOR((size_t)l->n * b->hw * (size_t)b->c)
    for (c = 0; c < b->c; c++) {   /* channels are independent */
        real gs = gamma[c] * b->invstd[c];
        double m_xt = 0, m_xhxt = 0, unused;
        size_t i;
        int s;
        if (b->train_used) bn_means(b, c, x_t, NULL, &m_xt, &m_xhxt, &unused);
        for (s = 0; s < l->n; s++)
            for (i = 0; i < b->hw; i++) {
                size_t k = bn_index(b, s, c, i);
                if (b->train_used)
                    y_t[k] = gs * (x_t[k] - (real)m_xt - bn_xhat(b, x, c, k) * (real)m_xhxt);
                else
                    y_t[k] = gs * x_t[k];
            }
    }
}

static void bn_destroy(layer *l)
{
    batchnorm *b = (batchnorm *)l;
    free(b->mean);
    free(b->invstd);
    free(b);
}

static const layer_ops bn_ops = {"batchnorm2d", bn_forward, bn_backward, bn_tangent,
                                 bn_tangent_backward, bn_destroy};

void batchnorm2d_fuse_relu(layer *l, int on)
{
    GC_CHECK(l->ops == &bn_ops);
    ((batchnorm *)l)->relu_out = on;
}

int batchnorm2d_fuse_zero(layer *l, int on)
{
    GC_CHECK(l->ops == &bn_ops);
    ((batchnorm *)l)->zero_dx = on;
    return 1;
}

layer *batchnorm2d_create(nn_ctx *ctx, const char *name, int c, int h, int w)
{
    batchnorm *b;
    char full[PS_NAME_MAX];
    int64_t shape[1];
    real *v;
    int i;
    GC_CHECK(c >= 1 && h >= 1 && w >= 1);
    b = (batchnorm *)gc_calloc(1, sizeof *b);
    layer_init(&b->base, &bn_ops, ctx, name, c, h, w, c, h, w);
    b->base.has_batchnorm = 1;
    b->c = c;
    b->hw = (size_t)h * (size_t)w;
    shape[0] = c;
    layer_child_name(full, name, "weight");
    b->w_idx = ps_add(ctx->ps, full, PS_PARAM, 1, shape);
    layer_child_name(full, name, "bias");
    b->b_idx = ps_add(ctx->ps, full, PS_PARAM, 1, shape);
    layer_child_name(full, name, "running_mean");
    b->rm_idx = ps_add(ctx->ps, full, PS_BUFFER, 1, shape);
    layer_child_name(full, name, "running_var");
    b->rv_idx = ps_add(ctx->ps, full, PS_BUFFER, 1, shape);
    layer_child_name(full, name, "num_batches_tracked");
    b->nbt_idx = ps_add(ctx->ps, full, PS_BUFFER, 0, shape);
    ctx->ps->entry[b->nbt_idx].disk_int64 = 1;
    /* PyTorch defaults: gamma 1, beta 0, running mean 0, var 1, count 0 */
    v = ps_value(ctx->ps, b->w_idx);
    for (i = 0; i < c; i++) v[i] = 1;
    memset(ps_value(ctx->ps, b->b_idx), 0, (size_t)c * sizeof(real));
    memset(ps_value(ctx->ps, b->rm_idx), 0, (size_t)c * sizeof(real));
    v = ps_value(ctx->ps, b->rv_idx);
    for (i = 0; i < c; i++) v[i] = 1;
    ps_value(ctx->ps, b->nbt_idx)[0] = 0;
    b->mean = (real *)gc_calloc((size_t)c, sizeof(real));
    b->invstd = (real *)gc_calloc((size_t)c, sizeof(real));
    return &b->base;
}
