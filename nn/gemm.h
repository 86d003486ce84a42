/*
 * nn/gemm.h - general matrix multiply on row-major matrices:
 *   C (M x N) = alpha * op(A) (M x K) * op(B) (K x N) + beta * C
 * op(X) = X or X^T (trans_a / trans_b). lda/ldb/ldc are row strides.
 * beta == 0 means C is overwritten (its old contents, even NaN, are ignored).
 * The summation order over K is fixed for given (M, N, K): results are
 * bit-for-bit reproducible in a single-threaded build.
 */
#ifndef GC_GEMM_H
#define GC_GEMM_H

#include "nn/core.h"

void gemm(int trans_a, int trans_b, int m, int n, int k, real alpha,
          const real *a, int lda, const real *b, int ldb, real beta, real *c, int ldc);

#endif
