/*
 * nn/sequential.c - children run in order (DESIGN.md s.2, "Composite blocks").
 *
 * For children F_0 .. F_{K-1} the four functions compose:
 *   forward          a_0 = F_0(x), a_k = F_k(a_{k-1}), y = a_{K-1}
 *   backward         children in reverse; the adjoint of each internal
 *                    boundary (da_k) is zeroed just before the child that
 *                    accumulates into it runs
 *   tangent          a_t_0 = J_0 x_t, ..., y_t = a_t_{K-1}
 *   tangent_backward children in reverse with the (da_k, da_t_k) pairs; da_k
 *                    is needed even when dy is NULL, because a child's
 *                    second-order term d/dx [dy_t . J x_t] lands in its dx.
 *                    When dy_t is NULL every da_t_k is zero and NULL is passed
 *                    down (children then run their plain backward).
 * The block owns a_k and a_t_k for every internal boundary (children keep
 * pointers to their x and x_t until the backward passes), and two ping-pong
 * pairs of adjoint buffers (da, da_t) as large as the largest boundary: child
 * k reads boundary k and writes boundary k-1, which have different parities.
 * All are sized for ctx->max_n at build. Buffers a view never uses in a
 * tangent pass (the trunk) are calloc'd and never touched, so they cost
 * address space, not resident memory. With owns_children = 0 the block is a
 * view: destroy frees only the block (the model's trunk and head views).
 *
 * In-place ReLU: a ReLU whose producer (the child before it) is a conv2d,
 * batchnorm2d or dense layer writes its output over its input: the two
 * boundaries share one buffer (a ReLU at the end writes over y, and its
 * producer then writes into y). This saves a boundary of memory and a pass
 * of memory traffic. It is exact because those producers never read their
 * own output in any pass, and the ReLU's mask is the same whether read from
 * x or from its output (x > 0 iff relu(x) > 0, NaN included; nn/activation.c
 * processes a chunk fully before writing it). A ReLU that is the first
 * child never runs in place (its input belongs to the caller).
 *
 * Shapes: child k's output must equal child k+1's input (GC_CHECK); a child
 * whose input is a vector (F, 1, 1) also accepts any output with C*H*W = F
 * (NCHW memory is the same: PyTorch's Flatten in front of a Linear).
 * Not done here: parameters of its own (it has none) or name prefixes - the
 * children are created, and named, by the caller.
 */
#include "nn/layers.h"

#include <string.h>

typedef struct sequential {
    layer base;
    int count;
    int owns_children;
    layer **child;            /* (count) */
    int *inplace;             /* (count) child k is a ReLU writing over its input */
    real **act;               /* (count-1) boundaries, each (max_n, out size of child k);
                                 NULL where the next child runs in place */
    real **act_t;             /* their tangents */
    real *dact[2];            /* adjoints, ping-pong: boundary k uses dact[k % 2], */
    real *dact_t[2];          /* each (max_n, largest boundary) */
} sequential;

static size_t seq_boundary_size(const sequential *s, int k, int n)
{
    return (size_t)n * layer_out_size(s->child[k]);
}

/* The adjoint buffers of boundary k (the output of child k), zeroed. */
static real *seq_zeroed(real *const *pair, const sequential *s, int k)
{
    real *p = pair[k % 2];
    memset(p, 0, seq_boundary_size(s, k, s->base.n) * sizeof(real));
    return p;
}

/* The buffer child k writes its output to: the next boundary that does not
 * belong to an in-place ReLU (y at the end). */
static real *seq_out(const sequential *s, int k, real *y)
{
    while (k < s->count - 1 && s->inplace[k + 1]) k++;
    return k == s->count - 1 ? y : s->act[k];
}

static void seq_forward(layer *l, const real *x, real *y, int n)
{
    sequential *s = (sequential *)l;
    int k;
    for (k = 0; k < s->count; k++) {
        const real *in = k == 0 ? x : seq_out(s, k - 1, y);
        layer_forward(s->child[k], in, seq_out(s, k, y), n);
    }
}

static void seq_backward(layer *l, const real *dy, real *dx)
{
    sequential *s = (sequential *)l;
    int k;
    if (!dy) return;
    for (k = s->count - 1; k >= 0; k--) {
        const real *din = k == s->count - 1 ? dy : s->dact[k % 2];
        real *dout = k == 0 ? dx : seq_zeroed(s->dact, s, k - 1);
        layer_backward(s->child[k], din, dout);
    }
}

static void seq_tangent(layer *l, const real *x_t, real *y_t)
{
    sequential *s = (sequential *)l;
    int k;
    for (k = 0; k < s->count; k++) {
        const real *in = k == 0 ? x_t : s->act_t[k - 1];
        real *out = k == s->count - 1 ? y_t : s->act_t[k];
        layer_tangent(s->child[k], in, out);
    }
}

static void seq_tangent_backward(layer *l, const real *dy, const real *dy_t, real *dx,
                                 real *dx_t)
{
    sequential *s = (sequential *)l;
    int k;
    if (!dy_t) {
        seq_backward(l, dy, dx);
        return;
    }
    for (k = s->count - 1; k >= 0; k--) {
        const real *din = k == s->count - 1 ? dy : s->dact[k % 2];
        const real *din_t = k == s->count - 1 ? dy_t : s->dact_t[k % 2];
        real *dout = k == 0 ? dx : seq_zeroed(s->dact, s, k - 1);
        real *dout_t = k == 0 ? dx_t : seq_zeroed(s->dact_t, s, k - 1);
        layer_tangent_backward(s->child[k], din, din_t, dout, dout_t);
    }
}

static void seq_destroy(layer *l)
{
    sequential *s = (sequential *)l;
    int k;
    for (k = 0; k < s->count - 1; k++) {
        free(s->act[k]);
        free(s->act_t[k]);
    }
    if (s->owns_children)
        for (k = 0; k < s->count; k++) layer_destroy(s->child[k]);
    free(s->act);
    free(s->act_t);
    free(s->inplace);
    for (k = 0; k < 2; k++) {
        free(s->dact[k]);
        free(s->dact_t[k]);
    }
    free(s->child);
    free(s);
}

static const layer_ops seq_ops = {"sequential", seq_forward, seq_backward, seq_tangent,
                                  seq_tangent_backward, seq_destroy};

/* Can `next` take `prev`'s output as its input? */
static int seq_shapes_chain(const layer *prev, const layer *next)
{
    if (prev->out_c == next->in_c && prev->out_h == next->in_h && prev->out_w == next->in_w)
        return 1;
    return next->in_h == 1 && next->in_w == 1 && layer_out_size(prev) == layer_in_size(next);
}

/* May `next` (a ReLU) write over the output of `prev`? Only for producers
 * that never read their own output (see the top of this file). */
static int seq_relu_inplace(const layer *prev, const layer *next)
{
    static const char *const producers[] = {"conv2d", "batchnorm2d", "dense"};
    size_t i;
    if (strcmp(next->ops->kind, "relu") != 0) return 0;
    if (layer_out_size(prev) != layer_in_size(next)) return 0;
    for (i = 0; i < sizeof producers / sizeof producers[0]; i++)
        if (strcmp(prev->ops->kind, producers[i]) == 0) return 1;
    return 0;
}

layer *sequential_create(nn_ctx *ctx, const char *name, layer **children, int count,
                         int owns_children)
{
    sequential *s;
    const layer *first, *last;
    size_t largest = 0;
    int k;
    GC_CHECK(count >= 1 && children != NULL);
    for (k = 0; k < count; k++) {
        GC_CHECK(children[k] != NULL);
        GC_CHECK(children[k]->ctx == ctx);
        if (k > 0) GC_CHECK(seq_shapes_chain(children[k - 1], children[k]));
    }
    first = children[0];
    last = children[count - 1];
    s = (sequential *)gc_calloc(1, sizeof *s);
    layer_init(&s->base, &seq_ops, ctx, name, first->in_c, first->in_h, first->in_w,
               last->out_c, last->out_h, last->out_w);
    s->count = count;
    s->owns_children = owns_children;
    s->child = (layer **)gc_calloc((size_t)count, sizeof *s->child);
    memcpy(s->child, children, (size_t)count * sizeof *s->child);
    s->act = (real **)gc_calloc((size_t)count, sizeof *s->act);
    s->act_t = (real **)gc_calloc((size_t)count, sizeof *s->act_t);
    s->inplace = (int *)gc_calloc((size_t)count, sizeof *s->inplace);
    for (k = 1; k < count; k++)
        s->inplace[k] = seq_relu_inplace(children[k - 1], children[k]);
    for (k = 0; k < count; k++) {
        if (children[k]->has_batchnorm) s->base.has_batchnorm = 1;
        if (k < count - 1) {
            size_t sz = seq_boundary_size(s, k, ctx->max_n);
            if (!s->inplace[k + 1]) s->act[k] = (real *)gc_calloc(sz, sizeof(real));
            s->act_t[k] = (real *)gc_calloc(sz, sizeof(real));
            if (sz > largest) largest = sz;
        }
    }
    if (count > 1)
        for (k = 0; k < 2; k++) {
            s->dact[k] = (real *)gc_calloc(largest, sizeof(real));
            s->dact_t[k] = (real *)gc_calloc(largest, sizeof(real));
        }
    return &s->base;
}
