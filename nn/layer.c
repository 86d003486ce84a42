/* nn/layer.c - the dispatch helpers shared by all layers (see layer.h). */
#include "nn/layer.h"

#include <stdlib.h>
#include <string.h>

void ctx_reserve_scratch(nn_ctx *ctx, size_t count)
{
    if (count > ctx->scratch_need) ctx->scratch_need = count;
}

real *ctx_scratch(nn_ctx *ctx)
{
    if (ctx->scratch_need > ctx->scratch_len) {
        free(ctx->scratch);   /* nothing lives in it between calls: no copy */
        /* calloc: pages no call touches stay out of resident memory */
        ctx->scratch = (real *)gc_calloc(ctx->scratch_need, sizeof(real));
        ctx->scratch_len = ctx->scratch_need;
    }
    return ctx->scratch;
}

void ctx_free_scratch(nn_ctx *ctx)
{
    free(ctx->scratch);
    ctx->scratch = NULL;
    ctx->scratch_len = ctx->scratch_need = 0;
}

size_t layer_in_size(const layer *l) { return (size_t)l->in_c * l->in_h * l->in_w; }
size_t layer_out_size(const layer *l) { return (size_t)l->out_c * l->out_h * l->out_w; }

void layer_init(layer *l, const layer_ops *ops, nn_ctx *ctx, const char *name,
                int in_c, int in_h, int in_w, int out_c, int out_h, int out_w)
{
    GC_CHECK(strlen(name) < PS_NAME_MAX);
    memset(l, 0, sizeof *l);
    l->ops = ops;
    l->ctx = ctx;
    strcpy(l->name, name);
    l->in_c = in_c;
    l->in_h = in_h;
    l->in_w = in_w;
    l->out_c = out_c;
    l->out_h = out_h;
    l->out_w = out_w;
}

void layer_forward(layer *l, const real *x, real *y, int n)
{
    GC_CHECK(n >= 1 && n <= l->ctx->max_n);
    l->n = n;
    l->x = x;
    l->y = y;
    l->x_t = NULL;
    l->y_t = NULL;
    l->ops->forward(l, x, y, n);
}

void layer_backward(layer *l, const real *dy, real *dx)
{
    GC_CHECK(l->n >= 1 && l->x != NULL);
    l->ops->backward(l, dy, dx);
}

void layer_tangent(layer *l, const real *x_t, real *y_t)
{
    GC_CHECK(l->n >= 1 && l->x != NULL);
    l->x_t = x_t;
    l->y_t = y_t;
    l->ops->tangent(l, x_t, y_t);
}

void layer_tangent_backward(layer *l, const real *dy, const real *dy_t,
                            real *dx, real *dx_t)
{
    GC_CHECK(l->n >= 1 && l->x != NULL);
    GC_CHECK(dy_t == NULL || l->x_t != NULL);
    l->ops->tangent_backward(l, dy, dy_t, dx, dx_t);
}

void layer_destroy(layer *l)
{
    if (l) l->ops->destroy(l);
}

int layer_batch_coupled(const layer *l) { return l->has_batchnorm && l->ctx->train; }

void layer_child_name(char *out, const char *prefix, const char *suffix)
{
    GC_CHECK(strlen(prefix) + 1 + strlen(suffix) < PS_NAME_MAX);
    if (prefix[0]) sprintf(out, "%s.%s", prefix, suffix);
    else strcpy(out, suffix);
}
