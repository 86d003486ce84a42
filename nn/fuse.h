/*
 * nn/fuse.h - the hooks by which nn/sequential.c fuses an in-place ReLU
 * (see the top of nn/sequential.c) into its neighbours, so that the ReLU
 * makes no pass of its own over the activation or its adjoint:
 *   forward   producer -> ReLU: the producer (conv2d, batchnorm2d) writes
 *             [v > 0] v instead of v, and the ReLU, whose input is then
 *             already rectified in place, skips its pass (relu(relu(v)) =
 *             relu(v), and the mask [x > 0] it keeps for later passes is
 *             the same whether x holds v or relu(v));
 *   backward  ReLU <- maxpool2d: the pool adds [x > 0] dy instead of dy
 *             into the ReLU's adjoint buffer (zeroed before), x being the
 *             pool's input = the ReLU's output, so the ReLU skips its mask
 *             pass (0 + [x > 0] dy is what the pool then the ReLU gave);
 *             the pool reads that mask from its own output (x at the route
 *             is the pooled value y, so [x > 0] = [y > 0] there), so
 *             neither reads the ReLU's output after the forward;
 *   backward  zeroing: a maxpool2d (2x2), batchnorm2d, conv2d or ReLU
 *             writes its adjoint buffer whole (the pool 0 off the routes,
 *             the conv x = 0 + fold, the ReLU 0 + [x > 0] dy) instead of
 *             adding into it, so the container does not zero it first (a
 *             pass over the buffer).
 * Every result is bit for bit what the unfused passes give.
 *
 * Each setter arms (on = 1) or disarms (on = 0) a flag for the layer's next
 * forward (backward for the pool); nn/sequential.c arms it just before that
 * call and disarms it just after, so a layer used anywhere else computes
 * as usual. The layers must be of the kind the function is named after.
 */
#ifndef GC_FUSE_H
#define GC_FUSE_H

#include "nn/layer.h"

void conv2d_fuse_relu(layer *l, int on);        /* forward: y = relu(W cols + b) */
void batchnorm2d_fuse_relu(layer *l, int on);   /* forward: y = relu(BN(x)) */
void relu_fuse_done(layer *l, int on);          /* forward in place (x == y): no pass */
void maxpool2d_fuse_relu_mask(layer *l, int on);   /* backward: dx += [x > 0] routed dy */
/* backward: dx = (not +=) its adjoint, as into a zeroed dx, so the caller
 * need not zero it first. Each returns 1 if l does this (then the flag is
 * set to on), 0 if not (the caller zeroes): a maxpool2d only with 2x2
 * windows of stride 2, a conv2d unless it is a 1x1 without im2col. */
int maxpool2d_fuse_zero(layer *l, int on);
/* backward (cam/step.c, Grad-CAM's alpha): instead of adding into dx, write
 * sums[q] (n * C of them) = lanes_sum (nn/lanes.h) over plane q of the
 * adjoint as written into a zeroed dx, the bits of that pass followed by
 * lanes_sum over the buffer, which is then never built: each plane goes
 * through one of nt scratch planes of H*W (one per thread, the caller's)
 * and is summed there, in cache. dx is not touched. sums = NULL disarms.
 * Returns 1 if l does this (2x2 windows of stride 2), 0 if not. */
int maxpool2d_fuse_plane_sums(layer *l, double *sums, real *scratch, int nt);
int maxpool2d_is_2x2(const layer *l);   /* a maxpool2d with 2x2 windows of stride 2 */
int batchnorm2d_fuse_zero(layer *l, int on);
int conv2d_fuse_zero(layer *l, int on);
/* a ReLU (always 1): dx = 0 + [x > 0] dy; where it does not run in place on
 * its adjoint: the last child of a view (its dy is the caller's), as the
 * trunk's last ReLU, whose dx was otherwise zeroed and then added into */
int relu_fuse_zero(layer *l, int on);

#endif
