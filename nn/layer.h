/*
 * nn/layer.h - the layer interface: four functions per layer (DESIGN.md s.2).
 *
 * Conventions (said once here, used everywhere):
 * - Tensors are flat `real` arrays in NCHW order, PyTorch's. A layer has a
 *   per-sample input shape (in_c, in_h, in_w) and output shape
 *   (out_c, out_h, out_w); a vector of F features is (F, 1, 1).
 *   Buffers are sized for `max_n` samples at build time; a call may use any
 *   n <= max_n (the last batch of an epoch is smaller).
 * - `d` prefix = adjoint (gradient of a scalar loss): dx, dy, dw.
 *   `_t` suffix = tangent (forward-mode direction): x_t, y_t.
 * - The caller owns x, y, dx, dy, x_t, y_t, dx_t, dy_t. Between forward and
 *   the matching backward / tangent / tangent_backward calls the caller must
 *   keep x and y (and x_t, y_t between tangent and tangent_backward) alive
 *   and unchanged: layers cache pointers to them, plus whatever internal state
 *   they need (masks, argmax routes, BatchNorm statistics) in their own
 *   buffers, allocated once at build (nothing allocates during a step).
 * - Adjoints ACCUMULATE (+=) into dx, dx_t and parameter gradients; callers
 *   zero them. This makes fan-out (residual skip, SE) need no special case.
 * - A NULL adjoint input means zero: tangent_backward(l, NULL, dy_t, ...)
 *   is the pure second-order sweep; tangent_backward(l, dy, NULL, ...) is
 *   backward. A NULL dx / dx_t output means "not wanted" (first layer).
 *
 * The four functions:
 *   forward          y  = F(x; theta)                    (caches what it needs)
 *   backward         dx += J_x^T dy;   dtheta += J_theta^T dy
 *   tangent          y_t = J_x x_t                       (overwrites y_t)
 *   tangent_backward dx_t += J_x^T dy_t
 *                    dx     += J_x^T dy + d/dx     [dy_t . J_x x_t]
 *                    dtheta += J_theta^T dy + d/dtheta [dy_t . J_x x_t]
 * Parameter gradients are accumulated only when ctx->grad_params is set
 * (Grad-CAM's G = dz/dA is a backward pass that must not touch them).
 */
#ifndef GC_LAYER_H
#define GC_LAYER_H

#include "nn/core.h"
#include "nn/params.h"
#include "nn/rng.h"

/* Shared state of all layers of one model (or one test).
 *
 * Scratch: memory a layer needs only during one of its calls (a
 * convolution's columns, staged outputs, gemm workspaces, partial weight
 * gradients) lives in one buffer shared by all layers of the context,
 * instead of one buffer per layer: layers run one at a time, so the model
 * needs the largest layer's scratch, not the sum (figures in
 * docs/BENCHMARKS.md). A constructor records its need with
 * ctx_reserve_scratch; the owner of the context allocates the buffer once
 * all layers are built (ctx_scratch; nn/model.c does), and a layer fetches
 * it with ctx_scratch at the start of each call, never keeps it. Nothing
 * may be kept in it from one call to the next, and no call may run inside
 * another layer's use of it (a composite block calls its children one
 * after another, never from inside a child's call). */
typedef struct nn_ctx {
    int train;           /* 1: train mode (batch statistics, dropout on) */
    int grad_params;     /* 1: backward passes accumulate parameter grads */
    int max_n;           /* batch capacity of every buffer */
    param_store *ps;     /* where parameters and buffers are registered */
    rng *rng;            /* initialisation and dropout masks */
    real *scratch;       /* (scratch_len) shared scratch, see above; NULL until allocated */
    size_t scratch_len;
    size_t scratch_need; /* the largest reservation so far, in reals */
    size_t arena_private_max;   /* a first-order view whose buffers total at most this
                                   many reals gives each its own memory (nn/sequential.c
                                   seq_place; docs/MEMORY.md); 0: they always share */
} nn_ctx;

/* Record that a layer needs count reals of scratch (at build). */
void ctx_reserve_scratch(nn_ctx *ctx, size_t count);
/* The scratch, at least scratch_need reals: (re)allocated by the first call
 * after a reservation outgrew it. The context's owner calls it once its
 * layers are built, so that no step allocates (a context that skips this,
 * as the layer tests' do, allocates at its first call). */
real *ctx_scratch(nn_ctx *ctx);
/* Release it (the context's owner). */
void ctx_free_scratch(nn_ctx *ctx);

typedef struct layer layer;

typedef struct layer_ops {
    const char *kind;    /* "conv2d", "batchnorm2d", ... */
    void (*forward)(layer *l, const real *x, real *y, int n);
    void (*backward)(layer *l, const real *dy, real *dx);
    void (*tangent)(layer *l, const real *x_t, real *y_t);
    void (*tangent_backward)(layer *l, const real *dy, const real *dy_t,
                             real *dx, real *dx_t);
    void (*destroy)(layer *l);   /* frees the layer's own memory (and owned children) */
} layer_ops;

struct layer {
    const layer_ops *ops;
    nn_ctx *ctx;
    char name[PS_NAME_MAX];      /* state_dict prefix, "features.4" */
    int in_c, in_h, in_w;        /* per-sample input shape */
    int out_c, out_h, out_w;     /* per-sample output shape */
    int n;                       /* batch size of the last forward */
    int has_batchnorm;           /* contains BatchNorm: couples samples in train mode */
    const real *x, *y;           /* cached by forward */
    const real *x_t, *y_t;       /* cached by tangent */
};

/* Sizes of one sample's input / output. */
size_t layer_in_size(const layer *l);
size_t layer_out_size(const layer *l);

/* Fill the common fields (called by each constructor). */
void layer_init(layer *l, const layer_ops *ops, nn_ctx *ctx, const char *name,
                int in_c, int in_h, int in_w, int out_c, int out_h, int out_w);

/* Dispatch helpers: they check shapes/batch and cache x, y, x_t, y_t. */
void layer_forward(layer *l, const real *x, real *y, int n);
void layer_backward(layer *l, const real *dy, real *dx);
void layer_tangent(layer *l, const real *x_t, real *y_t);
void layer_tangent_backward(layer *l, const real *dy, const real *dy_t,
                            real *dx, real *dx_t);
void layer_destroy(layer *l);

/* True if samples of a batch interact in this layer (train-mode BatchNorm). */
int layer_batch_coupled(const layer *l);

/* Join a state_dict prefix and a suffix: "features.4" + "conv.0" -> "features.4.conv.0". */
void layer_child_name(char *out, const char *prefix, const char *suffix);

#endif
