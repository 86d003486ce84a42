/* nn/gemm.c - reference GEMM (see gemm.h). To be replaced by a cache- and
 * register-blocked kernel (issue: speed); the contract stays the same. */
#include "nn/gemm.h"

void gemm(int trans_a, int trans_b, int m, int n, int k, real alpha,
          const real *a, int lda, const real *b, int ldb, real beta, real *c, int ldc)
{
    int i, j, p;
    for (i = 0; i < m; i++) {
        for (j = 0; j < n; j++) {
            real acc = 0;
            for (p = 0; p < k; p++) {
                real av = trans_a ? a[(size_t)p * lda + i] : a[(size_t)i * lda + p];
                real bv = trans_b ? b[(size_t)j * ldb + p] : b[(size_t)p * ldb + j];
                acc += av * bv;
            }
            c[(size_t)i * ldc + j] = alpha * acc + (beta == 0 ? 0 : beta * c[(size_t)i * ldc + j]);
        }
    }
}
