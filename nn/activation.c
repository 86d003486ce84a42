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
#include "nn/fuse.h"
#include "nn/parallel.h"

#include <math.h>
#include <string.h>

static size_t count_of(const layer *l) { return (size_t)l->n * layer_in_size(l); }

/* An activation: the layer, and for ReLU the fusion flag of nn/fuse.h. */
typedef struct act {
    layer base;
    int done;      /* ReLU: the next forward's input is already rectified in place */
    int zero_dx;   /* ReLU: the next backward writes all of dx (nn/fuse.h) */
} act;

static void act_destroy(layer *l) { free(l); }

static layer *act_new(const layer_ops *ops, nn_ctx *ctx, const char *name, int c, int h,
                      int w)
{
    act *a;
    GC_CHECK(c >= 1 && h >= 1 && w >= 1);
    a = (act *)gc_calloc(1, sizeof *a);
    layer_init(&a->base, ops, ctx, name, c, h, w, c, h, w);
    return &a->base;
}

/* ---- ReLU ---- */

/* How relu_select writes out: out = t, out += t, or out = 0 + t (what
 * adding into a zeroed buffer gives: a -0 becomes +0), t = [x > 0] v. */
enum { RELU_SET = 0, RELU_ADD = 1, RELU_ZERO_ADD = 2 };

/* out = [x > 0] v (add = RELU_SET), out += [x > 0] v (RELU_ADD) or
 * out = 0 + [x > 0] v (RELU_ZERO_ADD), element-wise.
 * Runs in chunks of RELU_CHUNK through a local array: the select then has
 * no branch (random signs would mispredict one) and compilers vectorise it
 * even at -O2; out may be x or v (each chunk is read before it is written).
 * Chunks are independent, so OpenMP may split them (nn/parallel.h). */
#define RELU_CHUNK 16

static void relu_chunk(const real *x, const real *v, real *out, size_t len, int add)
{
    real t[RELU_CHUNK];
    size_t j;
    for (j = 0; j < len; j++) {
        real a = v[j];
        t[j] = x[j] > 0 ? a : 0;
    }
    if (add == RELU_ADD)
        for (j = 0; j < len; j++) out[j] += t[j];
    else if (add == RELU_ZERO_ADD)
        for (j = 0; j < len; j++) out[j] = (real)0 + t[j];
    else
        for (j = 0; j < len; j++) out[j] = t[j];
}

/* The same for a full chunk: a fixed trip count the compiler can vectorise. */
static void relu_chunk_full(const real *x, const real *v, real *out, int add)
{
    real t[RELU_CHUNK];
    int j;
    for (j = 0; j < RELU_CHUNK; j++) {
        real a = v[j];
        t[j] = x[j] > 0 ? a : 0;
    }
    if (add == RELU_ADD)
        for (j = 0; j < RELU_CHUNK; j++) out[j] += t[j];
    else if (add == RELU_ZERO_ADD)
        for (j = 0; j < RELU_CHUNK; j++) out[j] = (real)0 + t[j];
    else
        for (j = 0; j < RELU_CHUNK; j++) out[j] = t[j];
}

static void relu_select(const real *x, const real *v, real *out, size_t count, int add)
{
    long q, nq = (long)(count / RELU_CHUNK);
    size_t done = (size_t)nq * RELU_CHUNK;
    GC_OMP_FOR(count)
    for (q = 0; q < nq; q++) {
        size_t o = (size_t)q * RELU_CHUNK;
        relu_chunk_full(x + o, v + o, out + o, add);
    }
    if (done < count) relu_chunk(x + done, v + done, out + done, count - done, add);
}

static void relu_forward(layer *l, const real *x, real *y, int n)
{
    if (((act *)l)->done) {   /* its producer applied it (nn/fuse.h) */
        GC_CHECK(x == y);
        return;
    }
    relu_select(x, x, y, (size_t)n * layer_in_size(l), RELU_SET);
}

static void relu_tangent(layer *l, const real *x_t, real *y_t)
{
    relu_select(l->x, x_t, y_t, count_of(l), RELU_SET);
}

static void relu_tangent_backward(layer *l, const real *dy, const real *dy_t, real *dx,
                                  real *dx_t)
{
    if (dx && dy) relu_select(l->x, dy, dx, count_of(l), RELU_ADD);
    if (dx_t && dy_t) relu_select(l->x, dy_t, dx_t, count_of(l), RELU_ADD);
}

static void relu_backward(layer *l, const real *dy, real *dx)
{
    if (!((act *)l)->zero_dx) {
        relu_tangent_backward(l, dy, NULL, dx, NULL);
        return;
    }
    if (!dx) return;
    if (dy) relu_select(l->x, dy, dx, count_of(l), RELU_ZERO_ADD);
    else memset(dx, 0, count_of(l) * sizeof(real));
}

static const layer_ops relu_ops = {"relu", relu_forward, relu_backward, relu_tangent,
                                   relu_tangent_backward, act_destroy};

layer *relu_create(nn_ctx *ctx, const char *name, int c, int h, int w)
{
    return act_new(&relu_ops, ctx, name, c, h, w);
}

void relu_fuse_done(layer *l, int on)
{
    GC_CHECK(l->ops == &relu_ops);
    ((act *)l)->done = on;
}

int relu_fuse_zero(layer *l, int on)
{
    GC_CHECK(l->ops == &relu_ops);
    ((act *)l)->zero_dx = on;
    return 1;
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
