/*
 * nn/layers.h - constructors of every layer (one .c file per layer in nn/).
 * Every constructor registers its parameters and buffers in ctx->ps under
 * `name` + ".weight" etc. (PyTorch state_dict names, DESIGN.md section 4),
 * initialises them as PyTorch does by default (DESIGN.md section 4) from
 * ctx->rng, and sizes its internal buffers for ctx->max_n samples.
 * All return a layer to be freed with layer_destroy.
 */
#ifndef GC_LAYERS_H
#define GC_LAYERS_H

#include "nn/layer.h"

/* nn/conv2d.c: cross-correlation, weight (OC, IC, K, K), bias (OC) optional.
 * out = floor((in + 2 pad - k) / stride) + 1. */
layer *conv2d_create(nn_ctx *ctx, const char *name, int in_c, int in_h, int in_w,
                     int out_c, int k, int stride, int pad, int bias);
/* Samples per product of its lowering (nn/conv2d.c): 1 on the per-sample
 * path, the group size nb on the group path (for tests). */
int conv2d_group_size(const layer *l);
/* nn/dense.c: y = x W^T + b, weight (OUT, IN), bias (OUT); input (IN,1,1) or any
 * shape with in_c*in_h*in_w == IN; output (OUT, 1, 1). */
layer *dense_create(nn_ctx *ctx, const char *name, int in_features, int out_features);
/* nn/pool.c: k x k windows, stride s, no padding, floor mode (PyTorch). */
layer *maxpool2d_create(nn_ctx *ctx, const char *name, int c, int h, int w, int k, int stride);
layer *avgpool2d_create(nn_ctx *ctx, const char *name, int c, int h, int w, int k, int stride);
/* nn/pool.c: global average pooling, (C,H,W) -> (C,1,1) (AdaptiveAvgPool2d(1)). */
layer *gap_create(nn_ctx *ctx, const char *name, int c, int h, int w);
/* nn/flatten.c: (C,H,W) -> (C*H*W,1,1), a copy. */
layer *flatten_create(nn_ctx *ctx, const char *name, int c, int h, int w);
/* nn/activation.c: elementwise; ReLU'(0) = 0 as in PyTorch. */
layer *relu_create(nn_ctx *ctx, const char *name, int c, int h, int w);
layer *sigmoid_create(nn_ctx *ctx, const char *name, int c, int h, int w);
/* nn/dropout.c: inverted dropout (scale 1/(1-p)); mask drawn from ctx->rng in
 * train-mode forward, fixed for the backward/tangent passes; identity in eval
 * mode or when p == 0. dropout_set_p changes p (the --dropout option). */
layer *dropout_create(nn_ctx *ctx, const char *name, int c, int h, int w, double p);
void dropout_set_p(layer *l, double p);
/* nn/batchnorm.c: BatchNorm2d(c), eps 1e-5, momentum 0.1; train mode uses the
 * biased batch variance to normalise and updates running_var with the
 * unbiased one; eval mode uses running statistics. Parameters weight, bias;
 * buffers running_mean, running_var, num_batches_tracked. */
layer *batchnorm2d_create(nn_ctx *ctx, const char *name, int c, int h, int w);
/* nn/residual.c: relu(conv(x) + skip(x)), conv = [conv3x3 BN ReLU conv3x3 BN]
 * named name.conv.{0,1,3,4}; skip = identity if in_c == out_c, else a 1x1 conv
 * with bias named name.skip. */
layer *residual_create(nn_ctx *ctx, const char *name, int in_c, int h, int w, int out_c);
/* The buffers a residual block can take from a first-order parent's arena
 * (nn/sequential.c): fwd (elements) is used only during its forward, keep
 * from its forward to its backward, bwd only during its backward;
 * residual_bind hands them over (all NULL: its own again). */
void residual_plan_elems(const layer *l, size_t *fwd, size_t *keep, size_t *bwd);
void residual_bind(layer *l, real *fwd, real *keep, real *bwd);
/* nn/se.c: squeeze-excitation, y = x * w[n,c], w = sigmoid(fc2(relu(fc1(gap(x))))),
 * fc1 = name.fc.2 (c -> c/reduction), fc2 = name.fc.4 (c/reduction -> c). */
layer *se_create(nn_ctx *ctx, const char *name, int c, int h, int w, int reduction);
/* nn/sequential.c: children run in order; owns its intermediate buffers.
 * With owns_children = 0 it is a view over layers owned elsewhere (the
 * model's trunk and head are such views). */
layer *sequential_create(nn_ctx *ctx, const char *name, layer **children, int count,
                         int owns_children);
/* A view that only ever runs forward, then at most one backward per forward
 * (no tangent passes: GC_CHECK): its boundaries and their adjoints share one
 * arena planned by liveness (nn/sequential.c, "First-order views"). The
 * model's trunk is one. */
layer *sequential_create_first_order(nn_ctx *ctx, const char *name, layer **children,
                                     int count);
/* Elements of the activation and adjoint buffers a sequential owns, each
 * rounded up to 16 (its arena in a first-order view; tangent buffers not
 * counted). */
size_t sequential_buffer_elems(const layer *l);
/* A general view's activations (keep) and adjoints from elsewhere: the
 * elements each needs, and sequential_bind to use them (NULL, NULL: its own
 * again). Only while no tangent pass runs: its tangent buffers stay its own.
 * nn/residual.c binds its conv branch to its parent's arena this way. */
size_t sequential_keep_elems(const layer *l);
size_t sequential_adjoint_elems(const layer *l);
void sequential_bind(layer *l, real *keep, real *adjoint);

/* nn/eltwise.c: the two-input ops used inside residual and SE blocks, with
 * their four functions written out (tested in tests/test_eltwise.c).
 * add:  y = a + b, all (count) elements.
 * cmul: y[n,c,i] = x[n,c,i] * w[n,c]  (channel scaling, x (N,C,HW), w (N,C)). */
void add_forward(const real *a, const real *b, real *y, size_t count);
void add_backward(const real *dy, real *da, real *db, size_t count);  /* NULL da/db skipped */
void cmul_forward(const real *x, const real *w, real *y, int n, int c, int hw);
void cmul_backward(const real *x, const real *w, const real *dy, real *dx, real *dw,
                   int n, int c, int hw);
void cmul_tangent(const real *x, const real *w, const real *x_t, const real *w_t,
                  real *y_t, int n, int c, int hw);
/* dx += dy*w + dy_t*w_t; dw += sum_i dy*x + dy_t*x_t; dx_t += dy_t*w; dw_t += sum_i dy_t*x */
void cmul_tangent_backward(const real *x, const real *w, const real *x_t, const real *w_t,
                           const real *dy, const real *dy_t, real *dx, real *dw,
                           real *dx_t, real *dw_t, int n, int c, int hw);

#endif
