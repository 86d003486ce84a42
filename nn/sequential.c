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
 * pairs of adjoint buffers (da, da_t): child k reads the adjoint of boundary
 * k from one and writes that of boundary k-1 into the other; each is as
 * large as the boundaries that order puts into it. All are sized for
 * ctx->max_n at build. Buffers a view never uses in a
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
 * child never runs in place (its input belongs to the caller). Its backward
 * then runs in place too (except as the last child, whose dy is the
 * caller's): the adjoint buffer of its output becomes that of its input,
 * which saves the zeroing, a pass, and (in Level 1 at 224x224) a third of
 * the adjoint memory. Same values: with the input adjoint zeroed, the
 * accumulating backward wrote 0 + [x > 0] dy (which differs only in the
 * sign of a zero).
 *
 * Fused ReLU (nn/fuse.h): an in-place ReLU after a conv2d or batchnorm2d
 * makes no forward pass of its own: the producer writes the rectified
 * values and the ReLU only records its input; and in seq_backward, a
 * maxpool2d right after an in-place ReLU adds [x > 0] dy into the ReLU's
 * adjoint buffer, so the ReLU skips its mask pass; and a 2x2 maxpool, a
 * batchnorm2d or a conv2d (with im2col) writes its whole adjoint buffer,
 * which is then not zeroed before. Same bits as the separate passes
 * (nn/fuse.h says why). Level 1 exact step, one thread, -O3 -march=native,
 * min of 40-300 steps, alternated in the same minute: the ReLU fusions
 * 28.9 -> 27.7 ms at 64x64 and 5.36 -> 5.17 ms at 28x28; then the pool's
 * dense adjoint (nn/pool.c) and the fused zeroing 27.1 -> 26.0 ms at 64x64
 * (unchanged at 28x28).
 *
 * Shapes: child k's output must equal child k+1's input (GC_CHECK); a child
 * whose input is a vector (F, 1, 1) also accepts any output with C*H*W = F
 * (NCHW memory is the same: PyTorch's Flatten in front of a Linear).
 * Not done here: parameters of its own (it has none) or name prefixes - the
 * children are created, and named, by the caller.
 */
#include "nn/layers.h"
#include "nn/fuse.h"
#include "nn/parallel.h"

#include <string.h>

typedef struct sequential {
    layer base;
    int count;
    int owns_children;
    layer **child;            /* (count) */
    int *inplace;             /* (count) child k is a ReLU writing over its input */
    void (**fuse_relu)(layer *, int);   /* (count) child k applies the in-place ReLU
                                           k+1 (nn/fuse.h), or NULL */
    int *fuse_mask;           /* (count) child k is a maxpool2d masking for ReLU k-1 */
    int (**fuse_zero)(layer *, int);   /* (count) child k's backward writes its dx whole
                                          when armed by this (nn/fuse.h), or NULL */
    real **act;               /* (count-1) boundaries, each (max_n, out size of child k);
                                 NULL where the next child runs in place */
    real **act_t;             /* their tangents */
    real *dact[2];            /* adjoints, ping-pong (see seq_backward), each */
    real *dact_t[2];          /* (max_n, largest boundary it holds) */
} sequential;

static size_t seq_boundary_size(const sequential *s, int k, int n)
{
    return (size_t)n * layer_out_size(s->child[k]);
}

/* p[0 .. count) = 0, in blocks of SEQ_ZERO_BLOCK split over the OpenMP
 * threads (zeroing the largest adjoints is a pass over tens of MB). */
#define SEQ_ZERO_BLOCK 16384

static void seq_zero(real *p, size_t count)
{
    long b, nb = (long)((count + SEQ_ZERO_BLOCK - 1) / SEQ_ZERO_BLOCK);
    GC_OMP_FOR(count)
    for (b = 0; b < nb; b++) {
        size_t lo = (size_t)b * SEQ_ZERO_BLOCK;
        size_t len = count - lo < SEQ_ZERO_BLOCK ? count - lo : SEQ_ZERO_BLOCK;
        memset(p + lo, 0, len * sizeof(real));
    }
}

/* Does child k's backward run in place on the adjoint of its output? An
 * in-place ReLU does, except as the last child (its dy is the caller's). */
static int seq_adjoint_inplace(const sequential *s, int k)
{
    return s->inplace[k] && k < s->count - 1;
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
        int done = k > 0 && s->fuse_relu[k - 1];   /* the producer rectified in place */
        if (s->fuse_relu[k]) s->fuse_relu[k](s->child[k], 1);
        if (done) relu_fuse_done(s->child[k], 1);
        layer_forward(s->child[k], in, seq_out(s, k, y), n);
        if (s->fuse_relu[k]) s->fuse_relu[k](s->child[k], 0);
        if (done) relu_fuse_done(s->child[k], 0);
    }
}

/* Backward through the children in reverse. The adjoint of the current
 * boundary lives in dact[cur] (cur = -1: the caller's dy); each child writes
 * the adjoint of its input into the other buffer, zeroed first. An in-place
 * ReLU instead applies its Jacobian to dact[cur] where it is: its Jacobian
 * is diagonal, so J^T dy = J dy is exactly its tangent map, which
 * nn/activation.c computes in place (layer_tangent with x_t == y_t). */
static void seq_backward(layer *l, const real *dy, real *dx)
{
    sequential *s = (sequential *)l;
    int k, cur = -1;
    if (!dy) return;
    for (k = s->count - 1; k >= 0; k--) {
        const real *din = cur < 0 ? dy : s->dact[cur];
        real *dout;
        if (seq_adjoint_inplace(s, k)) {
            if (!s->fuse_mask[k + 1])   /* else the pool after it masked already */
                layer_tangent(s->child[k], s->dact[cur], s->dact[cur]);
            continue;
        }
        cur = cur == 0 ? 1 : 0;
        if (k == 0) {
            dout = dx;
        } else {
            dout = s->dact[cur];
            if (!s->fuse_zero[k] || !s->fuse_zero[k](s->child[k], 1))
                seq_zero(dout, seq_boundary_size(s, k - 1, l->n));
        }
        if (s->fuse_mask[k]) maxpool2d_fuse_relu_mask(s->child[k], 1);
        layer_backward(s->child[k], din, dout);
        if (s->fuse_mask[k]) maxpool2d_fuse_relu_mask(s->child[k], 0);
        if (k > 0 && s->fuse_zero[k]) s->fuse_zero[k](s->child[k], 0);
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
    int k, cur;
    if (!dy_t) {
        seq_backward(l, dy, dx);
        return;
    }
    cur = -1;   /* as in seq_backward, for the pairs (dact, dact_t) */
    for (k = s->count - 1; k >= 0; k--) {
        const real *din = cur < 0 ? dy : s->dact[cur];
        const real *din_t = cur < 0 ? dy_t : s->dact_t[cur];
        real *dout, *dout_t;
        if (seq_adjoint_inplace(s, k)) {   /* a ReLU: no second-order term */
            layer_tangent(s->child[k], s->dact[cur], s->dact[cur]);
            layer_tangent(s->child[k], s->dact_t[cur], s->dact_t[cur]);
            continue;
        }
        cur = cur == 0 ? 1 : 0;
        if (k == 0) {
            dout = dx;
            dout_t = dx_t;
        } else {
            size_t count = seq_boundary_size(s, k - 1, l->n);
            dout = s->dact[cur];
            dout_t = s->dact_t[cur];
            seq_zero(dout, count);
            seq_zero(dout_t, count);
        }
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
    free(s->fuse_relu);
    free(s->fuse_mask);
    free(s->fuse_zero);
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
    size_t largest[2] = {0, 0};
    int k, cur;
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
    s->fuse_relu = (void (**)(layer *, int))gc_calloc((size_t)count, sizeof *s->fuse_relu);
    s->fuse_mask = (int *)gc_calloc((size_t)count, sizeof *s->fuse_mask);
    s->fuse_zero = (int (**)(layer *, int))gc_calloc((size_t)count, sizeof *s->fuse_zero);
    for (k = 1; k < count; k++)
        s->inplace[k] = seq_relu_inplace(children[k - 1], children[k]);
    for (k = 1; k < count; k++) {   /* the fusions of nn/fuse.h */
        const char *prev = children[k - 1]->ops->kind;
        if (s->inplace[k] && strcmp(prev, "conv2d") == 0) s->fuse_relu[k - 1] = conv2d_fuse_relu;
        if (s->inplace[k] && strcmp(prev, "batchnorm2d") == 0)
            s->fuse_relu[k - 1] = batchnorm2d_fuse_relu;
        if (seq_adjoint_inplace(s, k - 1) && strcmp(children[k]->ops->kind, "maxpool2d") == 0)
            s->fuse_mask[k] = 1;
        {
            const char *kind = children[k]->ops->kind;
            int (*zero)(layer *, int) = strcmp(kind, "maxpool2d") == 0     ? maxpool2d_fuse_zero
                                        : strcmp(kind, "batchnorm2d") == 0 ? batchnorm2d_fuse_zero
                                        : strcmp(kind, "conv2d") == 0      ? conv2d_fuse_zero
                                                                            : NULL;
            if (zero && zero(children[k], 0)) s->fuse_zero[k] = zero;
        }
    }
    for (k = 0; k < count; k++) {
        if (children[k]->has_batchnorm) s->base.has_batchnorm = 1;
        if (k < count - 1) {
            size_t sz = seq_boundary_size(s, k, ctx->max_n);
            if (!s->inplace[k + 1]) s->act[k] = (real *)gc_calloc(sz, sizeof(real));
            s->act_t[k] = (real *)gc_calloc(sz, sizeof(real));
        }
    }
    /* each adjoint buffer as large as the boundaries the backward order
     * (seq_backward) puts into it */
    for (k = count - 1, cur = -1; k >= 1; k--) {
        size_t sz = seq_boundary_size(s, k - 1, ctx->max_n);
        if (seq_adjoint_inplace(s, k)) continue;
        cur = cur == 0 ? 1 : 0;
        if (sz > largest[cur]) largest[cur] = sz;
    }
    for (k = 0; k < 2; k++)
        if (largest[k]) {
            s->dact[k] = (real *)gc_calloc(largest[k], sizeof(real));
            s->dact_t[k] = (real *)gc_calloc(largest[k], sizeof(real));
        }
    return &s->base;
}
