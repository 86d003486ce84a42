/*
 * nn/im2col.h - unfold one sample's image into convolution columns and back
 * (the lowering conv2d uses to call gemm; DESIGN.md section 2, conv).
 *
 * col has shape (C*K*K, OH*OW), row r = (c*K + ki)*K + kj, column
 * p = oi*OW + oj, value x[c, oi*stride - pad + ki, oj*stride - pad + kj]
 * (0 outside the image). This matches the weight layout (OC, IC, K, K) read
 * as an (OC, IC*K*K) matrix, so y (OC, OH*OW) = W col (cross-correlation,
 * no kernel flip).
 *
 * The _ld variants take the row stride of col (ld >= OH*OW), so that the
 * columns of several samples sit side by side in one (C*K*K, nb*OH*OW)
 * matrix: sample j's block starts at col + j*OH*OW with ld = nb*OH*OW
 * (conv2d's batch-level lowering).
 */
#ifndef GC_IM2COL_H
#define GC_IM2COL_H

#include "nn/core.h"

/* Geometry of one convolution (per sample). */
typedef struct conv_geom {
    int c, h, w;        /* input (C, H, W) */
    int k, stride, pad;
    int oh, ow;         /* output spatial size */
} conv_geom;

/* x (C, H, W) -> col (C*K*K, OH*OW); overwrites col. */
void im2col(const conv_geom *g, const real *x, real *col);
/* x (C, H, W) += fold(col): the adjoint of im2col (accumulates). */
void col2im_add(const conv_geom *g, const real *col, real *x);

/* The same with col's row stride ld (>= OH*OW). */
void im2col_ld(const conv_geom *g, const real *x, real *col, size_t ld);
void col2im_add_ld(const conv_geom *g, const real *col, size_t ld, real *x);
/* x = fold(col): the same bits as zeroing x, then col2im_add_ld, without
 * reading x (the fused zeroing of nn/fuse.h). */
void col2im_set_ld(const conv_geom *g, const real *col, size_t ld, real *x);

#endif
