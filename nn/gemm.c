/*
 * nn/gemm.c - cache- and register-blocked GEMM in plain C99 (contract in
 * nn/gemm.h; design and figures in docs/GEMM.md).
 *
 *   C (M x N) = alpha * op(A) (M x K) * op(B) (K x N) + beta * C, row-major.
 *
 * Loop nest (Goto / BLIS):
 *   for jc over N in steps of GEMM_NC          B panel  (KC x NC), packed
 *     for pc over K in steps of GEMM_KC
 *       pack op(B)[pc.., jc..] into NR-wide micro-panels
 *       for ic over M in steps of GEMM_MC      A block  (MC x KC), packed, L2
 *         pack op(A)[ic.., pc..] into MR-tall micro-panels
 *         for jr over the B panel in steps of NR       B micro-panel, L1
 *           for ir over the A block in steps of MR
 *             micro-kernel: an MR x NR tile of C from kc rank-1 updates
 * Packing absorbs the four transpose cases, so one micro-kernel serves all;
 * packed panels are zero-padded to full MR / NR, and only the valid part of an
 * edge tile is written back.
 *
 * The micro-kernel keeps its MR x NR accumulators in named local arrays of
 * one vector each (VL reals), updated by a fixed-length loop over j: gcc >= 12
 * and clang vectorise it at -O2 with no intrinsics and keep every accumulator
 * in a register (checked in the assembly; docs/GEMM.md). MR, NR and VL follow
 * the target's vector width (GEMM_VEC_BYTES), which changes speed only.
 * Build it with -O2 (plus -march=native for speed). At -O3 on targets with
 * short vectors (SSE2, AVX2) gcc and clang unroll the 4- or 8-long j loop
 * before vectorising, and the code they rebuild from the scalars is 1.3-1.9x
 * (gcc) to 3x (clang) slower; with AVX-512 -O3 is about as fast as -O2.
 *
 * Determinism: each C element is a sequential sum over p inside a K block,
 *   acc = ((a0 b0 + a1 b1) + a2 b2) + ...      (p = pc .. pc+kc-1, in order)
 * and the K blocks are folded in order: C = alpha*acc_0 + beta*C, then
 * C = alpha*acc_b + C for the later blocks. Vectorisation runs across j (other
 * elements), never across p, so the bits depend only on (M, N, K) and GEMM_KC:
 * not on MR/NR, on the vector width, on alignment, on the thread count or on
 * how the work is split. With -ffp-contract=off (the default flags) the plain
 * and the -march=native builds give the same bits. For K <= GEMM_KC the result
 * equals the naive triple loop's bit for bit.
 *
 * Workspace: no malloc. gemm() packs into static buffers, one slot per thread
 * (GC_GEMM_MAX_THREADS slots under OpenMP, one otherwise); gemm_ws() packs
 * into a caller-provided buffer of gemm_workspace_len() reals.
 * Built with -fopenmp, gemm() splits large problems over threads by blocks of
 * N (or of M when N is too narrow), each thread with its own slot; called
 * from inside a parallel region it runs serially in the calling thread's slot.
 *
 * Deliberately not here: intrinsics, asm, -ffast-math, FMA contraction in the
 * portable build, complex or mixed precision, column-major storage.
 */
#include "nn/gemm.h"

#include <stdint.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

/* Bytes of the widest vector register the compiler targets. It sets the
 * kernel's shape (MR, NR); results do not depend on it. */
#if defined(__AVX512F__)
#define GEMM_VEC_BYTES 64
#elif defined(__AVX__)
#define GEMM_VEC_BYTES 32
#else
#define GEMM_VEC_BYTES 16
#endif

/* Register block: MR rows x NR = NV * VL columns of accumulators, VL being
 * the reals per vector. Wide vectors (AVX and up, 16 or 32 registers): 8 rows
 * of one vector. 16-byte vectors (SSE2, NEON): 4 rows of two vectors, which
 * needs fewer broadcasts per multiply than 8 x 1 and still fits 16 registers.
 * The kernels name their rows, so each shape has its own kernel below. */
#define GEMM_VL ((int)(GEMM_VEC_BYTES / sizeof(real)))
#if GEMM_VEC_BYTES >= 32
#define GEMM_MR 8
#define GEMM_NV 1
#else
#define GEMM_MR 4
#define GEMM_NV 2
#endif
#define GEMM_NR (GEMM_NV * GEMM_VL)

/* Cache blocks: a B micro-panel (KC x NR) stays in L1 (16 KB for float with
 * AVX-512), an A block (MC x KC) in L2 (128 KB float), a B panel (KC x NC)
 * in L2/L3 (1 MB float). GEMM_KC also fixes the summation order. */
#define GEMM_KC 256
#define GEMM_MC 128
#define GEMM_NC 1024

/* Packed buffers start on a cache line. */
#define GEMM_ALIGN 64
#define GEMM_ALIGN_REALS ((GEMM_ALIGN + sizeof(real) - 1) / sizeof(real))

#define GEMM_PACK_A_LEN ((size_t)GEMM_MC * GEMM_KC)
#define GEMM_PACK_B_LEN ((size_t)GEMM_KC * GEMM_NC)
#define GEMM_WS_LEN (GEMM_PACK_A_LEN + GEMM_PACK_B_LEN + 2 * GEMM_ALIGN_REALS)

/* Below this many multiply-adds, threads cost more than they save. */
#define GEMM_PARALLEL_MIN_MACS 1e6

#ifdef _OPENMP
#ifndef GC_GEMM_MAX_THREADS
#define GC_GEMM_MAX_THREADS 8
#endif
#else
#undef GC_GEMM_MAX_THREADS
#define GC_GEMM_MAX_THREADS 1
#endif

/* One workspace slot per thread; untouched slots cost no memory. */
static real gemm_slots[GC_GEMM_MAX_THREADS][GEMM_WS_LEN];

/* The operands of one call, shared by the packing routines. */
typedef struct gemm_args {
    int trans_a, trans_b;
    size_t m, n, k;
    real alpha, beta;
    const real *a;   /* (M, K), or (K, M) if trans_a; row stride lda */
    const real *b;   /* (K, N), or (N, K) if trans_b; row stride ldb */
    real *c;         /* (M, N); row stride ldc */
    size_t lda, ldb, ldc;
    const real *packed_a;   /* op(A) packed by gemm_pack_a, or NULL */
} gemm_args;

static size_t min_size(size_t x, size_t y) { return x < y ? x : y; }

/* M rounded up to whole micro-panels. */
static size_t m_padded(size_t m) { return (m + GEMM_MR - 1) / GEMM_MR * GEMM_MR; }

static real *align_up(real *p)
{
    uintptr_t u = (uintptr_t)p;
    uintptr_t r = u % GEMM_ALIGN;
    return r ? (real *)(u + (GEMM_ALIGN - r)) : p;
}

/* Zeros standing in for the missing rows of an edge panel. */
static const real gemm_zeros[GEMM_KC];

/* dst[p*ld + i] = row[i][p] for i < ld, p < kc (ld a multiple of 4): a
 * transposing copy, eight (then four) source rows at a time through named
 * pointers, which compilers turn into better code than a loop over a pointer
 * array (measured: up to 2x). */
static void gather_rows(real *restrict dst, size_t ld, const real *const *row, size_t kc)
{
    size_t g = 0, p;
    for (; g + 8 <= ld; g += 8) {
        const real *r0 = row[g], *r1 = row[g + 1], *r2 = row[g + 2], *r3 = row[g + 3];
        const real *r4 = row[g + 4], *r5 = row[g + 5], *r6 = row[g + 6], *r7 = row[g + 7];
        real *d = dst + g;
        for (p = 0; p < kc; p++) {
            real *q = d + p * ld;
            q[0] = r0[p]; q[1] = r1[p]; q[2] = r2[p]; q[3] = r3[p];
            q[4] = r4[p]; q[5] = r5[p]; q[6] = r6[p]; q[7] = r7[p];
        }
    }
    for (; g < ld; g += 4) {
        const real *r0 = row[g], *r1 = row[g + 1], *r2 = row[g + 2], *r3 = row[g + 3];
        real *d = dst + g;
        for (p = 0; p < kc; p++) {
            real *q = d + p * ld;
            q[0] = r0[p]; q[1] = r1[p]; q[2] = r2[p]; q[3] = r3[p];
        }
    }
}

/* dst[p*w + j] = src[p*ld + j] for j < w, p < kc (w a multiple of 4): rows
 * of w reals side by side. Written four at a time so that gcc -O2 does not
 * turn each short row into a call to memmove (measured: 10% of a GEMM). */
static void copy_rows(real *restrict dst, size_t w, const real *src, size_t ld, size_t kc)
{
    size_t p, j;
    for (p = 0; p < kc; p++) {
        const real *s = src + p * ld;
        real *d = dst + p * w;
        for (j = 0; j < w; j += 4) {
            d[j] = s[j];
            d[j + 1] = s[j + 1];
            d[j + 2] = s[j + 2];
            d[j + 3] = s[j + 3];
        }
    }
}

/*
 * Pack op(A)[ic .. ic+mc, pc .. pc+kc] into ceil(mc/MR) micro-panels; panel r
 * holds dst[r*MR*kc + p*MR + i] = op(A)[ic + r*MR + i][pc + p] (0 beyond mc).
 */
static void pack_a(const gemm_args *g, size_t ic, size_t mc, size_t pc, size_t kc,
                   real *restrict dst)
{
    size_t r, i, p;
    for (r = 0; r < mc; r += GEMM_MR) {
        size_t mr = min_size(GEMM_MR, mc - r);
        if (!g->trans_a) {
            const real *row[GEMM_MR];
            for (i = 0; i < GEMM_MR; i++)
                row[i] = i < mr ? g->a + (ic + r + i) * g->lda + pc : gemm_zeros;
            gather_rows(dst, GEMM_MR, row, kc);
        } else if (mr == GEMM_MR) {
            copy_rows(dst, GEMM_MR, g->a + pc * g->lda + ic + r, g->lda, kc);
        } else {
            for (p = 0; p < kc; p++) {
                const real *src = g->a + (pc + p) * g->lda + ic + r;
                for (i = 0; i < mr; i++) dst[p * GEMM_MR + i] = src[i];
                for (i = mr; i < GEMM_MR; i++) dst[p * GEMM_MR + i] = 0;
            }
        }
        dst += (size_t)GEMM_MR * kc;
    }
}

/*
 * Pack op(B)[pc .. pc+kc, jc .. jc+nc] into ceil(nc/NR) micro-panels; panel s
 * holds dst[s*NR*kc + p*NR + j] = op(B)[pc + p][jc + s*NR + j] (0 beyond nc).
 */
static void pack_b(const gemm_args *g, size_t pc, size_t kc, size_t jc, size_t nc,
                   real *restrict dst)
{
    size_t s, j, p;
    for (s = 0; s < nc; s += GEMM_NR) {
        size_t nr = min_size(GEMM_NR, nc - s);
        if (g->trans_b) {
            const real *row[GEMM_NR];
            for (j = 0; j < (size_t)GEMM_NR; j++)
                row[j] = j < nr ? g->b + (jc + s + j) * g->ldb + pc : gemm_zeros;
            gather_rows(dst, GEMM_NR, row, kc);
        } else if (nr == (size_t)GEMM_NR) {
            copy_rows(dst, GEMM_NR, g->b + pc * g->ldb + jc + s, g->ldb, kc);
        } else {
            for (p = 0; p < kc; p++) {
                const real *src = g->b + (pc + p) * g->ldb + jc + s;
                for (j = 0; j < nr; j++) dst[p * GEMM_NR + j] = src[j];
                for (j = nr; j < (size_t)GEMM_NR; j++) dst[p * GEMM_NR + j] = 0;
            }
        }
        dst += (size_t)GEMM_NR * kc;
    }
}

/* c[j] = alpha*acc[j] + beta*c[j] for j < cnt (cnt <= VL); beta == 0 never
 * reads c. */
static void store_vec(real *restrict c, const real *restrict acc, int cnt, real alpha,
                      real beta)
{
    int j;
    if (cnt == GEMM_VL) {
        if (beta == 0)
            for (j = 0; j < GEMM_VL; j++) c[j] = alpha * acc[j];
        else
            for (j = 0; j < GEMM_VL; j++) c[j] = alpha * acc[j] + beta * c[j];
    } else {
        if (beta == 0)
            for (j = 0; j < cnt; j++) c[j] = alpha * acc[j];
        else
            for (j = 0; j < cnt; j++) c[j] = alpha * acc[j] + beta * c[j];
    }
}

/*
 * The micro-kernel: C tile (mr x nr, row stride ldc) = alpha * Ap * Bp + beta * C
 * where Ap is an MR x kc packed micro-panel (a[p*MR + i]) and Bp a kc x NR one
 * (b[p*NR + j]). Each accumulator is a VL-long local array the compiler keeps
 * in a vector register; the loop over j vectorises, the loop over p runs in
 * order (one multiply, then one add, per element and p).
 */
#if GEMM_MR == 8 && GEMM_NV == 1
static void gemm_kernel(size_t kc, const real *restrict a, const real *restrict b,
                        real *restrict c, size_t ldc, int mr, int nr, real alpha, real beta)
{
    real c0[GEMM_VL], c1[GEMM_VL], c2[GEMM_VL], c3[GEMM_VL];
    real c4[GEMM_VL], c5[GEMM_VL], c6[GEMM_VL], c7[GEMM_VL];
    size_t p;
    int j;
    for (j = 0; j < GEMM_VL; j++) {
        c0[j] = 0; c1[j] = 0; c2[j] = 0; c3[j] = 0;
        c4[j] = 0; c5[j] = 0; c6[j] = 0; c7[j] = 0;
    }
    for (p = 0; p < kc; p++) {
        for (j = 0; j < GEMM_VL; j++) {
            real bj = b[j];
            c0[j] += a[0] * bj;
            c1[j] += a[1] * bj;
            c2[j] += a[2] * bj;
            c3[j] += a[3] * bj;
            c4[j] += a[4] * bj;
            c5[j] += a[5] * bj;
            c6[j] += a[6] * bj;
            c7[j] += a[7] * bj;
        }
        a += GEMM_MR;
        b += GEMM_NR;
    }
    store_vec(c, c0, nr, alpha, beta);
    if (mr > 1) store_vec(c + ldc, c1, nr, alpha, beta);
    if (mr > 2) store_vec(c + 2 * ldc, c2, nr, alpha, beta);
    if (mr > 3) store_vec(c + 3 * ldc, c3, nr, alpha, beta);
    if (mr > 4) store_vec(c + 4 * ldc, c4, nr, alpha, beta);
    if (mr > 5) store_vec(c + 5 * ldc, c5, nr, alpha, beta);
    if (mr > 6) store_vec(c + 6 * ldc, c6, nr, alpha, beta);
    if (mr > 7) store_vec(c + 7 * ldc, c7, nr, alpha, beta);
}
#elif GEMM_MR == 4 && GEMM_NV == 2
/* Row i of the tile is the pair (ci_lo, ci_hi): columns [0, VL) and [VL, 2VL). */
static void store_row2(real *restrict c, const real *restrict lo, const real *restrict hi,
                       int nr, real alpha, real beta)
{
    store_vec(c, lo, nr < GEMM_VL ? nr : GEMM_VL, alpha, beta);
    if (nr > GEMM_VL) store_vec(c + GEMM_VL, hi, nr - GEMM_VL, alpha, beta);
}

static void gemm_kernel(size_t kc, const real *restrict a, const real *restrict b,
                        real *restrict c, size_t ldc, int mr, int nr, real alpha, real beta)
{
    real c0_lo[GEMM_VL], c1_lo[GEMM_VL], c2_lo[GEMM_VL], c3_lo[GEMM_VL];
    real c0_hi[GEMM_VL], c1_hi[GEMM_VL], c2_hi[GEMM_VL], c3_hi[GEMM_VL];
    size_t p;
    int j;
    for (j = 0; j < GEMM_VL; j++) {
        c0_lo[j] = 0; c1_lo[j] = 0; c2_lo[j] = 0; c3_lo[j] = 0;
        c0_hi[j] = 0; c1_hi[j] = 0; c2_hi[j] = 0; c3_hi[j] = 0;
    }
    for (p = 0; p < kc; p++) {
        for (j = 0; j < GEMM_VL; j++) {
            real b_lo = b[j], b_hi = b[GEMM_VL + j];
            c0_lo[j] += a[0] * b_lo;
            c0_hi[j] += a[0] * b_hi;
            c1_lo[j] += a[1] * b_lo;
            c1_hi[j] += a[1] * b_hi;
            c2_lo[j] += a[2] * b_lo;
            c2_hi[j] += a[2] * b_hi;
            c3_lo[j] += a[3] * b_lo;
            c3_hi[j] += a[3] * b_hi;
        }
        a += GEMM_MR;
        b += GEMM_NR;
    }
    store_row2(c, c0_lo, c0_hi, nr, alpha, beta);
    if (mr > 1) store_row2(c + ldc, c1_lo, c1_hi, nr, alpha, beta);
    if (mr > 2) store_row2(c + 2 * ldc, c2_lo, c2_hi, nr, alpha, beta);
    if (mr > 3) store_row2(c + 3 * ldc, c3_lo, c3_hi, nr, alpha, beta);
}
#else
#error "nn/gemm.c: no micro-kernel for this GEMM_MR x GEMM_NV"
#endif

/* C[m0..m1, n0..n1] (the rows and columns of one thread) with workspace ws
 * (GEMM_WS_LEN reals, any alignment). */
static void gemm_part(const gemm_args *g, size_t m0, size_t m1, size_t n0, size_t n1, real *ws)
{
    real *own_pa = align_up(ws);
    real *pb = align_up(own_pa + GEMM_PACK_A_LEN);
    const real *pa;
    size_t jc, pc, ic, jr, ir;
    for (jc = n0; jc < n1; jc += GEMM_NC) {
        size_t nc = min_size(GEMM_NC, n1 - jc);
        for (pc = 0; pc < g->k; pc += GEMM_KC) {
            size_t kc = min_size(GEMM_KC, g->k - pc);
            real beta = pc == 0 ? g->beta : 1;
            pack_b(g, pc, kc, jc, nc, pb);
            for (ic = m0; ic < m1; ic += GEMM_MC) {
                size_t mc = min_size(GEMM_MC, m1 - ic);
                if (g->packed_a) { /* K block pc, micro-panel ic / MR */
                    pa = g->packed_a + m_padded(g->m) * pc + ic * kc;
                } else {
                    pa = own_pa;
                    pack_a(g, ic, mc, pc, kc, own_pa);
                }
                for (jr = 0; jr < nc; jr += GEMM_NR) {
                    int nr = (int)min_size(GEMM_NR, nc - jr);
                    for (ir = 0; ir < mc; ir += GEMM_MR) {
                        int mr = (int)min_size(GEMM_MR, mc - ir);
                        gemm_kernel(kc, pa + ir * kc, pb + jr * kc,
                                    g->c + (ic + ir) * g->ldc + jc + jr, g->ldc,
                                    mr, nr, g->alpha, beta);
                    }
                }
            }
        }
    }
}

/* C = beta * C (alpha == 0 or K == 0: A and B are not read). */
static void gemm_scale(const gemm_args *g)
{
    size_t i, j;
    for (i = 0; i < g->m; i++) {
        real *c = g->c + i * g->ldc;
        if (g->beta == 0)
            for (j = 0; j < g->n; j++) c[j] = 0;
        else
            for (j = 0; j < g->n; j++) c[j] = g->beta * c[j];
    }
}

/* Fill g from the public arguments, checking them (programming errors). */
static void gemm_setup(gemm_args *g, int trans_a, int trans_b, int m, int n, int k,
                       real alpha, const real *a, int lda, const real *b, int ldb,
                       real beta, real *c, int ldc)
{
    GC_CHECK(m >= 0 && n >= 0 && k >= 0);
    GC_CHECK(m == 0 || n == 0 || (c != NULL && ldc >= n));
    g->trans_a = trans_a != 0;
    g->trans_b = trans_b != 0;
    g->m = (size_t)m;
    g->n = (size_t)n;
    g->k = (size_t)k;
    g->alpha = alpha;
    g->beta = beta;
    g->a = a;
    g->b = b;
    g->c = c;
    g->lda = lda > 0 ? (size_t)lda : 0;
    g->ldb = ldb > 0 ? (size_t)ldb : 0;
    g->ldc = ldc > 0 ? (size_t)ldc : 0;
    g->packed_a = NULL;
    if (m > 0 && n > 0 && k > 0 && alpha != 0) {
        GC_CHECK(a != NULL && b != NULL);
        GC_CHECK(lda >= (g->trans_a ? m : k));
        GC_CHECK(ldb >= (g->trans_b ? k : n));
    }
}

/* Nothing to multiply: the result is beta * C (or nothing at all). */
static int gemm_trivial(const gemm_args *g)
{
    if (g->m == 0 || g->n == 0) return 1;
    if (g->k == 0 || g->alpha == 0) {
        gemm_scale(g);
        return 1;
    }
    return 0;
}

size_t gemm_workspace_len(void) { return GEMM_WS_LEN; }

void gemm_ws(int trans_a, int trans_b, int m, int n, int k, real alpha,
             const real *a, int lda, const real *b, int ldb, real beta, real *c, int ldc,
             real *work)
{
    gemm_args g;
    gemm_setup(&g, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    if (gemm_trivial(&g)) return;
    GC_CHECK(work != NULL);
    gemm_part(&g, 0, g.m, 0, g.n, work);
}

#ifdef _OPENMP
/* Split the panels of C over nt threads: by NR-wide column panels when there
 * are enough of them, else by MR-tall row panels. Thread t gets a contiguous
 * range; the split changes who computes an element, never its bits. */
static void gemm_parallel(const gemm_args *g, int nt)
{
    size_t npan = (g->n + GEMM_NR - 1) / GEMM_NR;
    size_t mpan = (g->m + GEMM_MR - 1) / GEMM_MR;
    int by_n = npan >= (size_t)nt || npan >= mpan;
    int t;
#pragma omp parallel for num_threads(nt) schedule(static)
    for (t = 0; t < nt; t++) {
        size_t pan = by_n ? npan : mpan;
        size_t lo = pan * (size_t)t / (size_t)nt, hi = pan * (size_t)(t + 1) / (size_t)nt;
        real *ws = gemm_slots[omp_get_thread_num()];
        if (lo == hi) continue;
        if (by_n)
            gemm_part(g, 0, g->m, lo * GEMM_NR, min_size(hi * GEMM_NR, g->n), ws);
        else
            gemm_part(g, lo * GEMM_MR, min_size(hi * GEMM_MR, g->m), 0, g->n, ws);
    }
}
#endif

/* Run a checked, non-trivial product on the static slots, in parallel when
 * built with OpenMP and worth it. */
static void gemm_run(const gemm_args *g)
{
#ifdef _OPENMP
    if (omp_in_parallel()) {
        /* Called from a parallel region: run serially in this thread's slot,
         * which is unique only one level deep. */
        int tid = omp_get_thread_num();
        GC_CHECK(omp_get_level() == 1 && tid < GC_GEMM_MAX_THREADS);
        gemm_part(g, 0, g->m, 0, g->n, gemm_slots[tid]);
        return;
    } else {
        int nt = omp_get_max_threads();
        double macs = (double)g->m * (double)g->n * (double)g->k;
        if (nt > GC_GEMM_MAX_THREADS) nt = GC_GEMM_MAX_THREADS;
        if (nt > 1 && macs >= GEMM_PARALLEL_MIN_MACS) {
            gemm_parallel(g, nt);
            return;
        }
    }
#endif
    gemm_part(g, 0, g->m, 0, g->n, gemm_slots[0]);
}

void gemm(int trans_a, int trans_b, int m, int n, int k, real alpha,
          const real *a, int lda, const real *b, int ldb, real beta, real *c, int ldc)
{
    gemm_args g;
    gemm_setup(&g, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    if (!gemm_trivial(&g)) gemm_run(&g);
}

size_t gemm_packed_a_len(int m, int k)
{
    size_t len;
    GC_CHECK(m >= 0 && k >= 0);
    GC_CHECK(gc_mul_size(m_padded((size_t)m), (size_t)k, &len));
    return len;
}

/* Packed layout: K block pc (rows pc .. pc+kc of op(A)^T) starts at
 * m_padded(M) * pc and holds ceil(M/MR) micro-panels of MR * kc reals, as
 * pack_a writes them; so the panels of any A block are found in place. */
void gemm_pack_a(int trans_a, int m, int k, const real *a, int lda, real *packed)
{
    gemm_args g;
    size_t pc;
    memset(&g, 0, sizeof g);
    GC_CHECK(m >= 0 && k >= 0);
    if (m == 0 || k == 0) return;
    GC_CHECK(a != NULL && packed != NULL && lda >= (trans_a ? m : k));
    g.trans_a = trans_a != 0;
    g.m = (size_t)m;
    g.k = (size_t)k;
    g.a = a;
    g.lda = (size_t)lda;
    for (pc = 0; pc < g.k; pc += GEMM_KC)
        pack_a(&g, 0, g.m, pc, min_size(GEMM_KC, g.k - pc), packed + m_padded(g.m) * pc);
}

void gemm_packed_a(int trans_b, int m, int n, int k, real alpha, const real *packed_a,
                   const real *b, int ldb, real beta, real *c, int ldc)
{
    gemm_args g;
    /* lda = K passes the stride check; A itself is never read */
    gemm_setup(&g, 0, trans_b, m, n, k, alpha, packed_a, k, b, ldb, beta, c, ldc);
    g.a = NULL;
    g.packed_a = packed_a;
    if (!gemm_trivial(&g)) gemm_run(&g);
}
