/*
 * nn/residual.c - the residual block of Levels 3 and 5 (DESIGN.md s.4):
 *
 *   s = conv(x) + skip(x),  y = relu(s)                    x (N, IC, H, W), y (N, OC, H, W)
 *   conv = Sequential[conv3x3(IC->OC, pad 1) BN ReLU conv3x3(OC->OC, pad 1) BN]
 *          named name.conv.{0,1,2,3,4} (2 is the ReLU, no parameters)
 *   skip = identity if IC == OC, else conv1x1(IC->OC) with bias, name.skip
 *   the final ReLU is name.relu in the public code; it has no parameters, so
 *   nothing is registered for it, and it runs fused with the sum (below).
 *
 * Parameters are registered in PyTorch's state_dict order: conv.0.weight,
 * conv.0.bias, conv.1.{weight,bias,running_mean,running_var,
 * num_batches_tracked}, conv.3.*, conv.4.*, skip.weight, skip.bias.
 *
 * The four functions compose the children (DESIGN.md s.2, composite blocks):
 * x fans out into both branches, so their adjoints simply accumulate into
 * dx / dx_t; the sum is add_* of nn/eltwise.c (linear, no second-order term);
 * every second-order term comes from the BatchNorms inside conv, handled by
 * the children. The block owns the adjoints ds, ds_t, sized for ctx->max_n
 * at build; the conv branch writes into y and the skip conv into ds (see
 * res_forward).
 *
 * The sum and the final ReLU run fused, in one pass split over the OpenMP
 * threads (nn/parallel.h): forward s = yc + ys and y = [s > 0] s together;
 * tangent s_t and y_t = [s > 0] s_t likewise; the adjoint ds = [s > 0] dy
 * is written, not accumulated into a zeroed buffer (no memset pass). Same
 * bits as add_forward then nn/activation.c's ReLU: the ReLU there computes
 * [s > 0] v by the same select, and its accumulating backward gives
 * 0 + [s > 0] dy, which is what res_mask_into writes (the "+ 0" keeps the
 * sign of a zero the same). add_forward and the memset ran in one thread
 * in OpenMP builds; measured alone the change is within noise (Level 3
 * 64x64 exact step, one thread: 472-487 against 477-482 ms; the 2-thread
 * runs were too noisy to separate it).
 *
 * Not done here: strided blocks (stride is always 1 in the paper's models).
 */
#include "nn/layers.h"
#include "nn/parallel.h"

#include <string.h>

typedef struct residual {
    layer base;
    layer *conv;               /* Sequential name.conv */
    layer *skip;               /* 1x1 conv name.skip, NULL for identity */
    real *ds, *ds_t;           /* (max_n, OC, H, W) adjoints of the sum s = conv(x) + skip(x);
                                  in the tangent pass ds_t holds the skip conv's tangent
                                  until the sum */
    real *ys;                  /* where the forward puts the skip conv's output: ds, or
                                  the parent's arena while bound (residual_bind) */
    real *own_ds;              /* the ds allocated at build (ds points elsewhere while bound) */
} residual;

static size_t res_count(const layer *l, int n) { return (size_t)n * layer_out_size(l); }

/* v = out + b and out = [m > 0] v, element-wise, in place: out holds the
 * conv branch's output on entry; m is NULL in the forward (mask v itself)
 * and the primal y in the tangent (out = y_t). One pass instead of
 * add_forward's plus the ReLU's. */
static void res_sum_relu(real *out, const real *b, const real *m, size_t count)
{
    long i, len = (long)count;
    GC_OMP_FOR(3 * count)
    for (i = 0; i < len; i++) {
        real v = out[i] + b[i];
        out[i] = (m ? m[i] : v) > 0 ? v : 0;
    }
}

/* ds = 0 + [y > 0] dy (the ReLU's adjoint into a zeroed buffer, without the
 * zeroing; y > 0 exactly where s > 0, NaN included, since y = [s > 0] s);
 * ds = 0 when dy is NULL (a zero adjoint). */
static void res_mask_into(const real *y, const real *dy, real *ds, size_t count)
{
    long i, len = (long)count;
    if (!dy) {
        memset(ds, 0, count * sizeof(real));
        return;
    }
    GC_OMP_FOR(3 * count)
    /* 0 + d is d except that -0 becomes +0: written as selects (d != 0
     * is false for both zeros, true for NaN), which compilers vectorise
     * without masked adds (a conditional add is a branch under
     * -ftrapping-math) */
    for (i = 0; i < len; i++) {
        real d = dy[i];
        ds[i] = y[i] > 0 && d != 0 ? d : (real)0;
    }
}

/* The conv branch writes straight into y (and its tangent into y_t), which
 * the sum then overwrites: neither the conv branch's last child (a
 * BatchNorm) nor the skip conv reads its own output in any pass, and the
 * ReLU's mask is read from y, so the block keeps no copy of the branch
 * output or of the sum (two activations of the block's output size fewer:
 * Level 5 64x64 exact step, docs/BENCHMARKS.md). The skip conv's output is
 * needed only by the sum, so it lives in ds (ds_t for the tangent), which
 * the backward passes write afresh (res_mask_into) before they read it, or
 * while bound in the parent's arena (ys). */
static void res_forward(layer *l, const real *x, real *y, int n)
{
    residual *r = (residual *)l;
    layer_forward(r->conv, x, y, n);
    if (r->skip) layer_forward(r->skip, x, r->ys, n);
    res_sum_relu(y, r->skip ? r->ys : x, NULL, res_count(l, n));
}

static void res_backward(layer *l, const real *dy, real *dx)
{
    residual *r = (residual *)l;
    size_t count = res_count(l, l->n);
    if (!dy) return;
    res_mask_into(l->y, dy, r->ds, count);
    layer_backward(r->conv, r->ds, dx);
    if (r->skip) layer_backward(r->skip, r->ds, dx);
    else add_backward(r->ds, dx, NULL, count);
}

static void res_tangent(layer *l, const real *x_t, real *y_t)
{
    residual *r = (residual *)l;
    size_t count = res_count(l, l->n);
    layer_tangent(r->conv, x_t, y_t);
    if (r->skip) layer_tangent(r->skip, x_t, r->ds_t);
    res_sum_relu(y_t, r->skip ? r->ds_t : x_t, l->y, count);
}

static void res_tangent_backward(layer *l, const real *dy, const real *dy_t, real *dx,
                                 real *dx_t)
{
    residual *r = (residual *)l;
    size_t count = res_count(l, l->n);
    if (!dy_t) {
        res_backward(l, dy, dx);
        return;
    }
    res_mask_into(l->y, dy, r->ds, count);   /* the ReLU: no second-order term */
    res_mask_into(l->y, dy_t, r->ds_t, count);
    layer_tangent_backward(r->conv, r->ds, r->ds_t, dx, dx_t);
    if (r->skip) {
        layer_tangent_backward(r->skip, r->ds, r->ds_t, dx, dx_t);
    } else {
        add_backward(r->ds, dx, NULL, count);
        add_backward(r->ds_t, dx_t, NULL, count);
    }
}

static void res_destroy(layer *l)
{
    residual *r = (residual *)l;
    layer_destroy(r->conv);
    layer_destroy(r->skip);
    free(r->own_ds);
    free(r->ds_t);
    free(r);
}

static const layer_ops res_ops = {"residual", res_forward, res_backward, res_tangent,
                                  res_tangent_backward, res_destroy};

layer *residual_create(nn_ctx *ctx, const char *name, int in_c, int h, int w, int out_c)
{
    residual *r;
    layer *ch[5];
    char nm[PS_NAME_MAX];
    size_t count;
    GC_CHECK(in_c >= 1 && out_c >= 1 && h >= 1 && w >= 1);
    r = (residual *)gc_calloc(1, sizeof *r);
    layer_init(&r->base, &res_ops, ctx, name, in_c, h, w, out_c, h, w);
    r->base.has_batchnorm = 1;
    /* creation order = registration order = PyTorch's state_dict order */
    layer_child_name(nm, name, "conv.0");
    ch[0] = conv2d_create(ctx, nm, in_c, h, w, out_c, 3, 1, 1, 1);
    layer_child_name(nm, name, "conv.1");
    ch[1] = batchnorm2d_create(ctx, nm, out_c, h, w);
    layer_child_name(nm, name, "conv.2");
    ch[2] = relu_create(ctx, nm, out_c, h, w);
    layer_child_name(nm, name, "conv.3");
    ch[3] = conv2d_create(ctx, nm, out_c, h, w, out_c, 3, 1, 1, 1);
    layer_child_name(nm, name, "conv.4");
    ch[4] = batchnorm2d_create(ctx, nm, out_c, h, w);
    layer_child_name(nm, name, "conv");
    r->conv = sequential_create(ctx, nm, ch, 5, 1);
    if (in_c != out_c) {
        layer_child_name(nm, name, "skip");
        r->skip = conv2d_create(ctx, nm, in_c, h, w, out_c, 1, 1, 0, 1);
    }
    count = res_count(&r->base, ctx->max_n);
    r->ds = r->ys = r->own_ds = (real *)gc_calloc(count, sizeof(real));
    r->ds_t = (real *)gc_calloc(count, sizeof(real));
    return &r->base;
}

/* Elements rounded up so that the next buffer starts on 64 bytes. */
static size_t res_aligned(size_t n) { return (n + 15) / 16 * 16; }

void residual_plan_elems(const layer *l, size_t *fwd, size_t *keep, size_t *bwd)
{
    const residual *r = (const residual *)l;
    size_t count = res_aligned(res_count(l, l->ctx->max_n));
    GC_CHECK(l->ops == &res_ops);
    *fwd = r->skip ? count : 0;
    *keep = sequential_keep_elems(r->conv);
    *bwd = count + sequential_adjoint_elems(r->conv);
}

/* While bound, the skip output (forward), the conv branch's activations
 * (forward to backward) and ds with the branch's adjoints (backward) live
 * in the parent's arena; their lifetimes are what residual_plan_elems told
 * the parent. The tangent buffers stay the block's own, which is why only
 * a first-order parent (no tangent passes) binds. */
void residual_bind(layer *l, real *fwd, real *keep, real *bwd)
{
    residual *r = (residual *)l;
    int bound = bwd != NULL;
    GC_CHECK(l->ops == &res_ops);
    GC_CHECK(bound == (keep != NULL) && (bound || fwd == NULL) && (!bound || fwd || !r->skip));
    r->ds = bound ? bwd : r->own_ds;
    r->ys = bound && r->skip ? fwd : r->ds;
    sequential_bind(r->conv, keep,
                    bound ? bwd + res_aligned(res_count(l, l->ctx->max_n)) : NULL);
}
