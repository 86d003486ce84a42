/*
 * nn/dropout.c - inverted dropout, PyTorch's Dropout(p): in train mode each
 * element is kept with probability 1-p and scaled by 1/(1-p), else zeroed;
 * in eval mode (or p == 0) it is the identity.
 *
 * Mask: drawn in the train-mode forward from ctx->rng, one rng_uniform per
 * element in element order (kept iff u >= p), so a given RNG state gives a
 * given mask. It is stored (max_n samples, allocated at build) and reused
 * by backward, tangent and tangent_backward: with the mask fixed the layer
 * is linear (DESIGN.md section 2): y_t = m x_t, dx += m dy, dx_t += m dy_t,
 * no second-order term. Whether the last forward applied a mask is
 * remembered, so the derivative passes match the forward that ran even if
 * ctx->train changes in between. Eval mode and p == 0 draw nothing.
 *
 * Not done here: PyTorch's own mask stream (its RNG differs; only the
 * distribution matches).
 */
#include "nn/layers.h"

#include <string.h>

typedef struct dropout {
    layer base;
    double p;
    int active;      /* the last forward applied the mask */
    real *mask;      /* (max_n, C, H, W): 0 or 1/(1-p) */
} dropout;

static size_t count_of(const layer *l) { return (size_t)l->n * layer_in_size(l); }

/* out = m * in (active) or in */
static void apply_mask(const dropout *d, const real *in, real *out, size_t count)
{
    size_t i;
    if (!d->active) {
        if (out != in) memcpy(out, in, count * sizeof(real));
        return;
    }
    for (i = 0; i < count; i++) out[i] = d->mask[i] * in[i];
}

/* acc += m * in (active) or in */
static void add_masked(const dropout *d, const real *in, real *acc, size_t count)
{
    size_t i;
    if (!d->active)
        for (i = 0; i < count; i++) acc[i] += in[i];
    else
        for (i = 0; i < count; i++) acc[i] += d->mask[i] * in[i];
}

static void dropout_forward(layer *l, const real *x, real *y, int n)
{
    dropout *d = (dropout *)l;
    size_t i, count = (size_t)n * layer_in_size(l);
    d->active = l->ctx->train && d->p > 0;
    if (d->active) {
        real scale = (real)(1.0 / (1.0 - d->p));
        for (i = 0; i < count; i++) d->mask[i] = rng_uniform(l->ctx->rng) >= d->p ? scale : 0;
    }
    apply_mask(d, x, y, count);
}

static void dropout_tangent(layer *l, const real *x_t, real *y_t)
{
    apply_mask((dropout *)l, x_t, y_t, count_of(l));
}

static void dropout_tangent_backward(layer *l, const real *dy, const real *dy_t, real *dx,
                                     real *dx_t)
{
    dropout *d = (dropout *)l;
    size_t count = count_of(l);
    if (dx && dy) add_masked(d, dy, dx, count);
    if (dx_t && dy_t) add_masked(d, dy_t, dx_t, count);
}

static void dropout_backward(layer *l, const real *dy, real *dx)
{
    dropout_tangent_backward(l, dy, NULL, dx, NULL);
}

static void dropout_destroy(layer *l)
{
    dropout *d = (dropout *)l;
    free(d->mask);
    free(d);
}

static const layer_ops dropout_ops = {"dropout", dropout_forward, dropout_backward,
                                      dropout_tangent, dropout_tangent_backward,
                                      dropout_destroy};

/* p outside [0, 1) is a programming error: the option parser validates it. */
void dropout_set_p(layer *l, double p)
{
    GC_CHECK(l->ops == &dropout_ops);
    GC_CHECK(p >= 0 && p < 1);
    ((dropout *)l)->p = p;
}

layer *dropout_create(nn_ctx *ctx, const char *name, int c, int h, int w, double p)
{
    dropout *d;
    size_t count;
    GC_CHECK(c >= 1 && h >= 1 && w >= 1);
    d = (dropout *)gc_calloc(1, sizeof *d);
    layer_init(&d->base, &dropout_ops, ctx, name, c, h, w, c, h, w);
    dropout_set_p(&d->base, p);
    GC_CHECK(gc_mul_size((size_t)ctx->max_n, layer_in_size(&d->base), &count));
    d->mask = (real *)gc_calloc(count, sizeof(real));
    return &d->base;
}
