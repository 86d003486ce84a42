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
 * First-order views (sequential_create_first_order; the model's trunk):
 * views that run only forward and then at most one backward, never a
 * tangent pass (both GC_CHECKed). Their boundaries, adjoints and residual
 * blocks' buffers share one arena, placed by lifetime over the schedule
 * forward 0..K-1, backward K-1..0 (seq_plan_first_order); a BatchNorm's
 * backward there runs in place. docs/MEMORY.md derives it and names the
 * tests; general views keep the buffers described above.
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
    int first_order;          /* a first-order view: one planned arena (see the top) */
    int fresh;                /* first_order: a forward ran since the last backward */
    layer **child;            /* (count) */
    int *inplace;             /* (count) child k is a ReLU writing over its input */
    void (**fuse_relu)(layer *, int);   /* (count) child k applies the in-place ReLU
                                           k+1 (nn/fuse.h), or NULL */
    int *fuse_mask;           /* (count) child k is a maxpool2d masking for ReLU k-1 */
    int (**fuse_zero)(layer *, int);   /* (count) child k's backward writes its dx whole
                                          when armed by this (nn/fuse.h), or NULL */
    real **act;               /* (count-1) boundaries, each (max_n, out size of child k);
                                 NULL where the next child runs in place */
    real **own_act;           /* general views: the buffers allocated for act (act points
                                 elsewhere while bound, see sequential_bind) */
    real **act_t;             /* their tangents (general views only) */
    real **dadj, **dadj_t;    /* (count-1) the adjoint (and its tangent) of boundary k:
                                 where child k+1's backward writes it (seq_backward) */
    int *adj_group;           /* (count-1) general views: dadj[k] is dact[adj_group[k] % 2] */
    real *dact[2];            /* general views: the two ping-pong buffers dadj and */
    real *dact_t[2];          /* dadj_t point into, each (max_n, largest it holds) */
    size_t dact_len[2];       /* their lengths (elements) */
    real *arena;              /* first-order views: act and dadj point into it */
    size_t arena_elems;       /* its length */
} sequential;

static size_t seq_boundary_size(const sequential *s, int k, int n)
{
    return (size_t)n * layer_out_size(s->child[k]);
}

static int seq_kind_is(const layer *l, const char *kind)
{
    return strcmp(l->ops->kind, kind) == 0;
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

/* Does child k's backward run in place on the adjoint of its output, so
 * that boundaries k-1 and k share one adjoint buffer? An in-place ReLU, and
 * in a first-order view a BatchNorm armed to write its dx whole (it reads
 * each channel of dy whole, for its means, before it writes that channel of
 * dx, element by element: nn/batchnorm.c bn_adjoint_channel). Never the
 * last child (its dy is the caller's) nor the first (its dx is). */
static int seq_adjoint_inplace(const sequential *s, int k)
{
    if (k == 0 || k >= s->count - 1) return 0;
    if (s->inplace[k]) return 1;
    return s->first_order && s->fuse_zero[k] && seq_kind_is(s->child[k], "batchnorm2d");
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
    s->fresh = 1;
}

/* Backward through the children in reverse. Child k reads the adjoint of
 * boundary k (dadj[k]; the caller's dy for the last child) and writes that
 * of boundary k-1 (dadj[k-1]; the caller's dx for the first), zeroed first
 * unless it writes it whole (nn/fuse.h). An in-place ReLU instead applies
 * its Jacobian to the buffer where it is (dadj[k-1] == dadj[k]): its
 * Jacobian is diagonal, so J^T dy = J dy is exactly its tangent map, which
 * nn/activation.c computes in place (layer_tangent with x_t == y_t); an
 * in-place BatchNorm (first-order views) writes its dx over its dy. */
static void seq_backward(layer *l, const real *dy, real *dx)
{
    sequential *s = (sequential *)l;
    int k;
    if (!dy) return;
    if (s->first_order) {   /* its adjoints reuse activations the forward left */
        GC_CHECK(s->fresh);
        s->fresh = 0;
    }
    for (k = s->count - 1; k >= 0; k--) {
        const real *din = k == s->count - 1 ? dy : s->dadj[k];
        real *dout = k == 0 ? dx : s->dadj[k - 1];
        int armed = 0;
        if (seq_adjoint_inplace(s, k) && s->inplace[k]) {
            if (!s->fuse_mask[k + 1])   /* else the pool after it masked already */
                layer_tangent(s->child[k], dout, dout);
            continue;
        }
        if (k > 0 && s->fuse_zero[k]) armed = s->fuse_zero[k](s->child[k], 1);
        GC_CHECK(armed || din != dout);   /* in place: dx written over dy */
        if (k > 0 && !armed) seq_zero(dout, seq_boundary_size(s, k - 1, l->n));
        if (s->fuse_mask[k]) maxpool2d_fuse_relu_mask(s->child[k], 1);
        layer_backward(s->child[k], din, dout);
        if (s->fuse_mask[k]) maxpool2d_fuse_relu_mask(s->child[k], 0);
        if (armed) s->fuse_zero[k](s->child[k], 0);
    }
}

static void seq_tangent(layer *l, const real *x_t, real *y_t)
{
    sequential *s = (sequential *)l;
    int k;
    GC_CHECK(!s->first_order);
    for (k = 0; k < s->count; k++) {
        const real *in = k == 0 ? x_t : s->act_t[k - 1];
        real *out = k == s->count - 1 ? y_t : s->act_t[k];
        layer_tangent(s->child[k], in, out);
    }
}

/* As seq_backward, for the pairs (dadj, dadj_t); dadj is needed even when
 * dy is NULL (see the top). A ReLU has no second-order term. */
static void seq_tangent_backward(layer *l, const real *dy, const real *dy_t, real *dx,
                                 real *dx_t)
{
    sequential *s = (sequential *)l;
    int k;
    if (!dy_t) {
        seq_backward(l, dy, dx);
        return;
    }
    GC_CHECK(!s->first_order);
    for (k = s->count - 1; k >= 0; k--) {
        int last = k == s->count - 1;
        const real *din = last ? dy : s->dadj[k];
        const real *din_t = last ? dy_t : s->dadj_t[k];
        real *dout = k == 0 ? dx : s->dadj[k - 1];
        real *dout_t = k == 0 ? dx_t : s->dadj_t[k - 1];
        if (seq_adjoint_inplace(s, k)) {   /* a ReLU: no second-order term */
            layer_tangent(s->child[k], dout, dout);
            layer_tangent(s->child[k], dout_t, dout_t);
            continue;
        }
        if (k > 0) {
            size_t count = seq_boundary_size(s, k - 1, l->n);
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
    if (s->owns_children)
        for (k = 0; k < s->count; k++) layer_destroy(s->child[k]);
    if (s->first_order)   /* the children outlive the view: unbind them */
        for (k = 0; k < s->count; k++)
            if (seq_kind_is(s->child[k], "residual")) residual_bind(s->child[k], NULL, NULL, NULL);
    if (!s->first_order)
        for (k = 0; k < s->count - 1; k++) {
            free(s->own_act[k]);
            free(s->act_t[k]);
        }
    for (k = 0; k < 2; k++) {
        free(s->dact[k]);
        free(s->dact_t[k]);
    }
    free(s->arena);
    free(s->act);
    free(s->own_act);
    free(s->adj_group);
    free(s->act_t);
    free(s->dadj);
    free(s->dadj_t);
    free(s->inplace);
    free(s->fuse_relu);
    free(s->fuse_mask);
    free(s->fuse_zero);
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
    if (!seq_kind_is(next, "relu")) return 0;
    if (layer_out_size(prev) != layer_in_size(next)) return 0;
    for (i = 0; i < sizeof producers / sizeof producers[0]; i++)
        if (seq_kind_is(prev, producers[i])) return 1;
    return 0;
}

/* The in-place ReLUs and the fusions of nn/fuse.h, decided per view. */
static void seq_decide_fusions(sequential *s)
{
    layer **children = s->child;
    int k;
    for (k = 1; k < s->count; k++)
        s->inplace[k] = seq_relu_inplace(children[k - 1], children[k]);
    for (k = 1; k < s->count; k++) {
        const char *kind = children[k]->ops->kind;
        int (*zero)(layer *, int) = strcmp(kind, "maxpool2d") == 0     ? maxpool2d_fuse_zero
                                    : strcmp(kind, "batchnorm2d") == 0 ? batchnorm2d_fuse_zero
                                    : strcmp(kind, "conv2d") == 0      ? conv2d_fuse_zero
                                    : strcmp(kind, "relu") == 0        ? relu_fuse_zero
                                                                        : NULL;
        if (s->inplace[k] && seq_kind_is(children[k - 1], "conv2d"))
            s->fuse_relu[k - 1] = conv2d_fuse_relu;
        if (s->inplace[k] && seq_kind_is(children[k - 1], "batchnorm2d"))
            s->fuse_relu[k - 1] = batchnorm2d_fuse_relu;
        if (k >= 2 && s->inplace[k - 1] && seq_kind_is(children[k], "maxpool2d"))
            s->fuse_mask[k] = 1;
        if (zero && zero(children[k], 0)) s->fuse_zero[k] = zero;
    }
}

/* ---- Where the buffers live ---- */

/* One buffer to place: `size` elements, live from step `first` to step
 * `last` of the schedule (seq_step), placed at `offset` elements into the
 * arena of a first-order view. */
typedef struct seq_buf {
    size_t size;
    int first, last;
    size_t offset;
} seq_buf;

/* Steps of the schedule: the forward of child k is step k, its backward
 * step 2 count - 1 - k (the backward runs the children in reverse). */
static int seq_fwd_step(const sequential *s, int k) { (void)s; return k; }
static int seq_bwd_step(const sequential *s, int k) { return 2 * s->count - 1 - k; }

/* Does the backward of child l read its input x / its output y? Layers are
 * assumed to read both, except those known not to: a max-pool keeps its
 * routes (and reads its output for a fused mask), a conv2d, BatchNorm or
 * dense layer never reads its output (which is what lets a ReLU run in
 * place after them). */
static int seq_backward_reads_input(const layer *l) { return !seq_kind_is(l, "maxpool2d"); }

static int seq_backward_reads_output(const layer *l)
{
    return !(seq_kind_is(l, "conv2d") || seq_kind_is(l, "batchnorm2d") ||
             seq_kind_is(l, "dense"));
}

/* The activation buffer act[k] (boundary k, not followed by an in-place
 * ReLU): written by child k (by its producer k-1 if child k is an in-place
 * ReLU), live until the last pass that reads it. */
static seq_buf seq_act_buf(const sequential *s, int k)
{
    seq_buf b = {0, 0, 0, 0};
    int writer = s->inplace[k] ? k - 1 : k, last = seq_fwd_step(s, k + 1);
    if (seq_backward_reads_input(s->child[k + 1])) last = seq_bwd_step(s, k + 1);
    if (s->inplace[k] ? !s->fuse_mask[k + 1] : seq_backward_reads_output(s->child[k]))
        if (seq_bwd_step(s, k) > last) last = seq_bwd_step(s, k);
    b.size = seq_boundary_size(s, k, s->base.ctx->max_n);
    b.first = seq_fwd_step(s, writer);
    b.last = last;
    return b;
}

/* The adjoint buffers in the order seq_backward fills them: group[j] is the
 * buffer of the adjoint of boundary j (boundaries whose child runs in place
 * share one), bufs[g] its size and lifetime. Returns the number of buffers. */
static int seq_adjoint_groups(const sequential *s, int *group, seq_buf *bufs)
{
    int k, ng = 0;
    for (k = s->count - 1; k >= 1; k--) {
        size_t sz = seq_boundary_size(s, k - 1, s->base.ctx->max_n);
        seq_buf *b;
        if (seq_adjoint_inplace(s, k)) {
            group[k - 1] = group[k];
        } else {
            group[k - 1] = ng;
            b = &bufs[ng++];
            b->size = 0;
            b->offset = 0;
            b->first = seq_bwd_step(s, k);   /* child k writes it */
        }
        b = &bufs[group[k - 1]];
        if (sz > b->size) b->size = sz;
        b->last = seq_bwd_step(s, k - 1);    /* child k-1 reads it */
    }
    return ng;
}

/* Offsets for bufs[0..n), sizes rounded up to SEQ_ALIGN, and the arena's
 * size in elements. Side by side, none sharing, when they total at most
 * private_max (docs/MEMORY.md "Small arenas do not share"); otherwise
 * largest first, each at the lowest offset free of every placed buffer
 * live at an overlapping step (first fit, seq_first_fit). */
#define SEQ_ALIGN 16   /* elements: buffers start on 64-byte boundaries */

/* May b sit at offset at, clear of every placed buffer live with it? */
static int seq_fits(const seq_buf *bufs, const int *placed, int np, const seq_buf *b, size_t at)
{
    int j;
    for (j = 0; j < np; j++) {
        const seq_buf *c = &bufs[placed[j]];
        int in_time = b->first <= c->last && c->first <= b->last;
        if (in_time && at < c->offset + c->size && c->offset < at + b->size) return 0;
    }
    return 1;
}

static size_t seq_first_fit(seq_buf *bufs, int n)
{
    int *order = (int *)gc_calloc((size_t)(n > 0 ? n : 1), sizeof(int));
    int *placed = (int *)gc_calloc((size_t)(n > 0 ? n : 1), sizeof(int));
    int i, j, np = 0;
    size_t total = 0;
    for (i = 0; i < n; i++) order[i] = i;
    for (i = 1; i < n; i++)   /* insertion sort: by size, largest first, stable */
        for (j = i; j > 0 && bufs[order[j]].size > bufs[order[j - 1]].size; j--) {
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    for (i = 0; i < n; i++) {
        seq_buf *b = &bufs[order[i]];
        size_t best = (size_t)-1;
        int c;
        /* the lowest free offset is 0 or the end of a placed buffer */
        for (c = -1; c < np; c++) {
            size_t at = c < 0 ? 0 : bufs[placed[c]].offset + bufs[placed[c]].size;
            if (at < best && seq_fits(bufs, placed, np, b, at)) best = at;
        }
        b->offset = best;
        placed[np++] = order[i];
        if (best + b->size > total) total = best + b->size;
    }
    free(order);
    free(placed);
    return total;
}

static size_t seq_place(seq_buf *bufs, int n, size_t private_max)
{
    size_t total = 0;
    int i;
    for (i = 0; i < n; i++) {
        bufs[i].size = (bufs[i].size + SEQ_ALIGN - 1) / SEQ_ALIGN * SEQ_ALIGN;
        bufs[i].offset = total;   /* side by side */
        total += bufs[i].size;
    }
    return total <= private_max ? total : seq_first_fit(bufs, n);
}

/* A first-order view: every activation buffer and adjoint buffer in one
 * arena, placed by lifetime (seq_place). */
static void seq_plan_first_order(sequential *s)
{
    int nb = s->count - 1, k, j, nbuf;
    int *group = (int *)gc_calloc((size_t)nb, sizeof(int));
    int *act_buf = (int *)gc_calloc((size_t)nb, sizeof(int));
    int *res_buf = (int *)gc_calloc((size_t)s->count, sizeof(int));
    seq_buf *bufs = (seq_buf *)gc_calloc((size_t)(2 * nb + 3 * s->count), sizeof(seq_buf));
    size_t total;
    nbuf = seq_adjoint_groups(s, group, bufs);
    for (k = 0; k < nb; k++)
        if (!s->inplace[k + 1]) {
            act_buf[k] = nbuf;
            bufs[nbuf++] = seq_act_buf(s, k);
        }
    for (k = 0; k < s->count; k++)   /* a residual block's own buffers (nn/residual.c) */
        if (seq_kind_is(s->child[k], "residual")) {
            size_t sz[3];
            int first[3], last[3];
            residual_plan_elems(s->child[k], &sz[0], &sz[1], &sz[2]);
            first[0] = last[0] = first[1] = seq_fwd_step(s, k);   /* fwd: its forward */
            last[1] = first[2] = last[2] = seq_bwd_step(s, k);    /* keep: to its backward */
            res_buf[k] = nbuf;                                     /* bwd: its backward */
            for (j = 0; j < 3; j++) {
                bufs[nbuf].size = sz[j];
                bufs[nbuf].first = first[j];
                bufs[nbuf].last = last[j];
                nbuf++;
            }
        }
    total = seq_place(bufs, nbuf, s->base.ctx->arena_private_max);
    s->arena = (real *)gc_calloc(total, sizeof(real));
    s->arena_elems = total;
    for (k = 0; k < nb; k++) {
        s->dadj[k] = s->arena + bufs[group[k]].offset;
        if (!s->inplace[k + 1]) s->act[k] = s->arena + bufs[act_buf[k]].offset;
    }
    for (k = 0; k < s->count; k++)
        if (seq_kind_is(s->child[k], "residual")) {
            const seq_buf *b = &bufs[res_buf[k]];
            residual_bind(s->child[k], s->arena + b[0].offset, s->arena + b[1].offset,
                          s->arena + b[2].offset);
        }
    free(group);
    free(act_buf);
    free(res_buf);
    free(bufs);
}

/* A general view: a buffer (and its tangent) per boundary, and two
 * ping-pong pairs of adjoint buffers, the adjoint groups alternating
 * between them, each as large as the largest group it holds. */
static void seq_alloc_general(sequential *s)
{
    int nb = s->count - 1, k, g, ng;
    int *group = s->adj_group;
    seq_buf *bufs = (seq_buf *)gc_calloc((size_t)nb, sizeof(seq_buf));
    size_t largest[2] = {0, 0};
    for (k = 0; k < nb; k++) {
        size_t sz = seq_boundary_size(s, k, s->base.ctx->max_n);
        if (!s->inplace[k + 1]) s->act[k] = s->own_act[k] = (real *)gc_calloc(sz, sizeof(real));
        s->act_t[k] = (real *)gc_calloc(sz, sizeof(real));
    }
    ng = seq_adjoint_groups(s, group, bufs);
    for (g = 0; g < ng; g++)
        if (bufs[g].size > largest[g % 2]) largest[g % 2] = bufs[g].size;
    for (k = 0; k < 2; k++)
        if (largest[k]) {
            s->dact_len[k] = largest[k];
            s->dact[k] = (real *)gc_calloc(largest[k], sizeof(real));
            s->dact_t[k] = (real *)gc_calloc(largest[k], sizeof(real));
        }
    for (k = 0; k < nb; k++) {
        s->dadj[k] = s->dact[group[k] % 2];
        s->dadj_t[k] = s->dact_t[group[k] % 2];
    }
    free(bufs);
}

static layer *seq_create(nn_ctx *ctx, const char *name, layer **children, int count,
                         int owns_children, int first_order)
{
    sequential *s;
    const layer *first, *last;
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
    s->first_order = first_order;
    s->child = (layer **)gc_calloc((size_t)count, sizeof *s->child);
    memcpy(s->child, children, (size_t)count * sizeof *s->child);
    s->act = (real **)gc_calloc((size_t)count, sizeof *s->act);
    s->act_t = (real **)gc_calloc((size_t)count, sizeof *s->act_t);
    s->dadj = (real **)gc_calloc((size_t)count, sizeof *s->dadj);
    s->dadj_t = (real **)gc_calloc((size_t)count, sizeof *s->dadj_t);
    s->own_act = (real **)gc_calloc((size_t)count, sizeof *s->own_act);
    s->adj_group = (int *)gc_calloc((size_t)count, sizeof *s->adj_group);
    s->inplace = (int *)gc_calloc((size_t)count, sizeof *s->inplace);
    s->fuse_relu = (void (**)(layer *, int))gc_calloc((size_t)count, sizeof *s->fuse_relu);
    s->fuse_mask = (int *)gc_calloc((size_t)count, sizeof *s->fuse_mask);
    s->fuse_zero = (int (**)(layer *, int))gc_calloc((size_t)count, sizeof *s->fuse_zero);
    seq_decide_fusions(s);
    for (k = 0; k < count; k++)
        if (children[k]->has_batchnorm) s->base.has_batchnorm = 1;
    if (count > 1) {
        if (first_order) seq_plan_first_order(s);
        else seq_alloc_general(s);
    }
    return &s->base;
}

layer *sequential_create(nn_ctx *ctx, const char *name, layer **children, int count,
                         int owns_children)
{
    return seq_create(ctx, name, children, count, owns_children, 0);
}

layer *sequential_create_first_order(nn_ctx *ctx, const char *name, layer **children,
                                     int count)
{
    return seq_create(ctx, name, children, count, 0, 1);
}


/* ---- Buffers from a parent's arena (nn/residual.c binds its conv branch) ---- */

static size_t seq_aligned(size_t n) { return (n + SEQ_ALIGN - 1) / SEQ_ALIGN * SEQ_ALIGN; }

size_t sequential_keep_elems(const layer *l)
{
    const sequential *s = (const sequential *)l;
    size_t total = 0;
    int k;
    GC_CHECK(l->ops == &seq_ops && !s->first_order);
    for (k = 0; k < s->count - 1; k++)
        if (s->own_act[k]) total += seq_aligned(seq_boundary_size(s, k, l->ctx->max_n));
    return total;
}

size_t sequential_adjoint_elems(const layer *l)
{
    const sequential *s = (const sequential *)l;
    GC_CHECK(l->ops == &seq_ops && !s->first_order);
    return seq_aligned(s->dact_len[0]) + seq_aligned(s->dact_len[1]);
}

size_t sequential_buffer_elems(const layer *l)
{
    const sequential *s = (const sequential *)l;
    GC_CHECK(l->ops == &seq_ops);
    if (s->first_order) return s->arena_elems;
    return sequential_keep_elems(l) + sequential_adjoint_elems(l);
}

void sequential_bind(layer *l, real *keep, real *adjoint)
{
    sequential *s = (sequential *)l;
    real *base[2];
    size_t off = 0;
    int k;
    GC_CHECK(l->ops == &seq_ops && !s->first_order);
    for (k = 0; k < s->count - 1; k++)
        if (s->own_act[k]) {
            s->act[k] = keep ? keep + off : s->own_act[k];
            off += seq_aligned(seq_boundary_size(s, k, l->ctx->max_n));
        }
    base[0] = adjoint ? adjoint : s->dact[0];
    base[1] = adjoint ? adjoint + seq_aligned(s->dact_len[0]) : s->dact[1];
    for (k = 0; k < s->count - 1; k++) s->dadj[k] = base[s->adj_group[k] % 2];
}
