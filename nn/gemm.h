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

/*
 * Details of the implementation (nn/gemm.c, docs/GEMM.md):
 * - The bits of each C element depend only on (M, N, K) and the block size
 *   over K; not on the thread count, the split of the work, the vector width
 *   or code path (gemm_isa below), or the alignment of the operands. For
 *   K <= 256 they equal a naive triple loop's (p ascending, then
 *   alpha*sum + beta*c) under -ffp-contract=off.
 * - alpha == 0 or K == 0: C = beta * C and A, B are not read.
 * - Invalid sizes (negative, a stride smaller than its row) are programming
 *   errors and stop the program through GC_CHECK.
 * - gemm() packs into static buffers: it is not reentrant from threads the
 *   library does not know about. Built with OpenMP it uses one buffer per
 *   OpenMP thread (up to GC_GEMM_MAX_THREADS, default 8), runs large
 *   problems in parallel, and may be called from inside a (not nested)
 *   parallel region. Other callers use gemm_ws() with their own workspace.
 */

/* Number of reals gemm_ws needs in `work` (a few MB; any alignment). */
size_t gemm_workspace_len(void);

/* gemm() with a caller-provided workspace of gemm_workspace_len() reals;
 * always single-threaded; same bits as gemm(). */
void gemm_ws(int trans_a, int trans_b, int m, int n, int k, real alpha,
             const real *a, int lda, const real *b, int ldb, real beta, real *c, int ldc,
             real *work);

/*
 * Pre-packed A, for one A multiplied by many B (the convolution weights over
 * the images of a batch): pack once, then each product skips packing A.
 *   real *pa = ...gemm_packed_a_len(m, k) reals...;
 *   gemm_pack_a(trans_a, m, k, a, lda, pa);
 *   gemm_packed_a(trans_b, m, n, k, alpha, pa, b, ldb, beta, c, ldc);
 * gives the same bits as gemm(trans_a, trans_b, m, n, k, alpha, a, lda, b,
 * ldb, beta, c, ldc). The packed layout belongs to this build and this CPU
 * (it depends on the code path's vector width; it starts with a tag naming the
 * path, which gemm_packed_a uses even if gemm_force_isa was called between):
 * keep it in memory, never in a file.
 * gemm_packed_a_len is about m * k reals (1 + m rounded up to 8, times k).
 */
size_t gemm_packed_a_len(int m, int k);
void gemm_pack_a(int trans_a, int m, int k, const real *a, int lda, real *packed);
void gemm_packed_a(int trans_b, int m, int n, int k, real alpha, const real *packed_a,
                   const real *b, int ldb, real beta, real *c, int ldc);

/*
 * An operand that the caller writes straight into gemm's packed panels,
 * instead of a matrix gemm packs: nn/conv2d.c's implicit im2col, whose
 * columns are then never stored whole. For B it stands for op(B) (K x N),
 * for A for op(A)^T (K x M); call that matrix X (K x N'). fill writes the
 * panels of rows k0 .. k0+kc-1 and columns j0 .. j0+nc-1 of X, w columns
 * each (w is the code path's NR for B, MR for A):
 *   dst[s*kc + p*w + j] = X[k0 + p][j0 + s + j]
 *       for p < kc, s = 0, w, 2w, ... < nc, j < w,
 *   and 0 where s + j >= nc (the missing columns of the last panel).
 * gemm may call fill from several threads at once (a gemm() split over
 * threads): it must only read ctx. The packed values are what gemm's own
 * packing would write for X, so the product has the same bits.
 */
typedef struct gemm_src {
    void (*fill)(const void *ctx, size_t k0, size_t kc, size_t j0, size_t nc, int w,
                 real *dst);
    const void *ctx;
} gemm_src;

/* gemm with op(A) given by a_src and / or op(B) by b_src (NULL: the matrix a
 * or b with its trans flag and stride, as in gemm; for a source operand the
 * matrix pointer, stride and trans flag are ignored). work NULL: as gemm()
 * (static slots, threads for large products); else as gemm_ws with that
 * workspace. The same bits as gemm() on the matrices the sources stand for. */
void gemm_src_run(int trans_a, int trans_b, int m, int n, int k, real alpha, const real *a,
                  int lda, const gemm_src *a_src, const real *b, int ldb,
                  const gemm_src *b_src, real beta, real *c, int ldc, real *work);

/*
 * Code paths (nn/gemm.c, docs/GEMM.md). On x86-64 built with gcc or clang
 * (and not already for AVX-512), the packing and the micro-kernel are also
 * compiled for AVX2 and AVX-512F, and the first call picks the widest one the
 * CPU and OS support. Every path gives the same bits; they differ in speed.
 * Names: "generic" (the build's own flags: SSE2 without -march), "avx2",
 * "avx512". Elsewhere only "generic" exists.
 *   gemm_isa()          the path gemm runs now (picking it if not done yet)
 *   gemm_isa_list(i)    the i-th path this build has and this CPU supports,
 *                       i = 0, 1, ...; NULL after the last (0 is "generic")
 *   gemm_force_isa(nm)  run path nm from now on (tests, bench); NULL or
 *                       "auto" returns to the automatic choice. GC_FAIL (err
 *                       filled) if this build lacks nm or this CPU cannot run
 *                       it. Not to be called while other threads run gemm.
 */
const char *gemm_isa(void);
const char *gemm_isa_list(int i);
int gemm_force_isa(const char *name, gc_error *err);

#endif
