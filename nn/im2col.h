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
/* Rows r0 .. r1-1 only (row r at col + r*ld), serially: the part of
 * im2col_ld one thread writes when the rows are split over threads. */
void im2col_rows_ld(const conv_geom *g, const real *x, real *col, size_t ld, int r0, int r1);
/* x = fold(col): the same bits as zeroing x, then col2im_add_ld, without
 * reading x (the fused zeroing of nn/fuse.h). */
void col2im_set_ld(const conv_geom *g, const real *col, size_t ld, real *x);

/*
 * Implicit im2col, for stride-1 convolutions: gemm takes the columns as a
 * gemm_src (nn/gemm.h), whose fill writes gemm's packed panels straight
 * from a copy of the image with its padding made of zeros, so the columns
 * are never stored whole (nn/conv2d.c). With Hp = H + 2 pad, Wp = W + 2 pad,
 *   col[r][q] = xp[off[r] + oi*Wp + oj],   r = (c*K + ki)*K + kj, q = oi*OW + oj,
 *   off[r] = c*Hp*Wp + ki*Wp + kj.
 *   im2col_pad_len(g)    reals of xp: C*Hp*Wp
 *   im2col_pad(g, x, xp) xp = x (C, H, W) with pad zeros around each plane
 *   im2col_offsets(g, off)  off[r] for r < C*K*K
 *   im2col_fill          gemm_src fill for X = col   (C*K*K x OH*OW): ctx is an im2col_view
 *   im2col_fill_t        gemm_src fill for X = col^T (OH*OW x C*K*K)
 * Several samples side by side (conv2d's groups): pixel q of the view is
 * pixel q mod OH*OW of the sample q / (OH*OW), whose padded copy is at
 * xp + (q / (OH*OW)) * stride; col is then (C*K*K, samples*OH*OW), as
 * im2col_ld writes it. With off pointing at tap r0's offset, the view's
 * rows (taps) start at r0.
 * Only for g->stride == 1 (GC_CHECK). The panels hold exactly the values of
 * im2col's columns, so products have the same bits as with im2col.
 */
typedef struct im2col_view {
    const conv_geom *g;
    const real *xp;       /* padded images (C, Hp, Wp), one every `stride` reals */
    size_t stride;        /* >= im2col_pad_len(g) */
    const size_t *off;    /* (C*K*K) tap offsets in xp (or a later row's: see below) */
} im2col_view;

size_t im2col_pad_len(const conv_geom *g);
void im2col_pad(const conv_geom *g, const real *x, real *xp);
void im2col_offsets(const conv_geom *g, size_t *off);
void im2col_fill(const void *ctx, size_t k0, size_t kc, size_t j0, size_t nc, int w, real *dst);
void im2col_fill_t(const void *ctx, size_t k0, size_t kc, size_t j0, size_t nc, int w,
                   real *dst);

#endif
