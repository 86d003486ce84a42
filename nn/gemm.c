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
 * the vector width (GEMM_VEC_BYTES), which changes speed only. gcc -O3 is
 * about as fast as -O2 (see GEMM_KERNEL_ATTR); clang -O3 is 3x slower on the
 * 16-byte (SSE2, NEON) kernel only.
 *
 * Code paths (runtime dispatch): everything that depends on the vector width
 * (packing, micro-kernel, the loop nest) is in nn/gemm_body.h, included once
 * per path with its own function names and target attribute. "generic" is
 * compiled for the build's flags (SSE2 on x86-64 without -march). On x86-64
 * with gcc or clang, unless the flags already target AVX-512, "avx2" (32-byte
 * vectors, 8 x 8 float block) and "avx512" (64-byte, 8 x 16) are compiled too,
 * through __attribute__((target(...))) on every function of the path, so no
 * intrinsics and no special flags; FMA is never enabled. The first gemm call
 * picks the widest path that __builtin_cpu_supports (CPU and OS state) allows;
 * gemm_force_isa() overrides it. The path is copied into each call's
 * gemm_args, so a call never mixes paths.
 *
 * Determinism: each C element is a sequential sum over p inside a K block,
 *   acc = ((a0 b0 + a1 b1) + a2 b2) + ...      (p = pc .. pc+kc-1, in order)
 * and the K blocks are folded in order: C = alpha*acc_0 + beta*C, then
 * C = alpha*acc_b + C for the later blocks. Vectorisation runs across j (other
 * elements), never across p, so the bits depend only on (M, N, K) and GEMM_KC:
 * not on MR/NR, on the vector width, on alignment, on the thread count or on
 * how the work is split, nor on the code path. With -ffp-contract=off (the
 * default flags; contraction is also switched off for clang below) the plain
 * and the -march=native builds and all the paths give the same bits
 * (tests/test_gemm.c compares every path with memcmp). For K <= GEMM_KC the
 * result equals the naive triple loop's bit for bit.
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

/* C99's own switch for a*b+c contraction; clang honours it (gcc has no such
 * pragma but contracts nothing under -std=c99 or -ffp-contract=off). Every
 * path must do separate multiplies and adds, or their bits would differ. */
#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

/* Runtime dispatch (docs/GEMM.md): on x86-64 with gcc >= 5 or clang, unless
 * the build already targets AVX-512, the width-dependent code is compiled
 * again for AVX2 and for AVX-512F through target attributes, and the widest
 * path the CPU and the OS support is picked at the first call.
 * -DGC_GEMM_NO_DISPATCH keeps only the build's own path. */
#if defined(__x86_64__) && (defined(__clang__) || (defined(__GNUC__) && __GNUC__ >= 5)) && \
    !defined(__TINYC__) && !defined(__AVX512F__) && !defined(GC_GEMM_NO_DISPATCH)
#define GEMM_DISPATCH 1
#endif

/* Bytes of the widest vector register the build targets: the generic path's
 * width. It sets the kernel's shape (MR, NR); results do not depend on it. */
#if defined(__AVX512F__)
#define GEMM_BUILD_VEC_BYTES 64
#elif defined(__AVX__)
#define GEMM_BUILD_VEC_BYTES 32
#else
#define GEMM_BUILD_VEC_BYTES 16
#endif

/* Cache blocks: a B micro-panel (KC x NR) stays in L1 (16 KB for float with
 * AVX-512), an A block (MC x KC) in L2 (128 KB float), a B panel (KC x NC)
 * in L2/L3 (1 MB float). GEMM_KC also fixes the summation order. GEMM_MC and
 * GEMM_NC are multiples of every path's MR and NR. */
#define GEMM_KC 256
#define GEMM_MC 128
#define GEMM_NC 1024

/* The largest MR of any path: gemm_pack_a's buffer is sized for it. */
#define GEMM_MR_MAX 8

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

struct gemm_path;

/* The operands of one call, shared by the packing routines. */
typedef struct gemm_args {
    int trans_a, trans_b;
    size_t m, n, k;
    real alpha, beta;
    const real *a;   /* (M, K), or (K, M) if trans_a; row stride lda */
    const real *b;   /* (K, N), or (N, K) if trans_b; row stride ldb */
    real *c;         /* (M, N); row stride ldc */
    size_t lda, ldb, ldc;
    const real *packed_a;          /* op(A) packed by gemm_pack_a (after its tag), or NULL */
    const gemm_src *a_src, *b_src; /* operands packed by the caller (gemm_src_run), or NULL */
    const struct gemm_path *path;  /* the code path that runs this call */
} gemm_args;

/* One code path: the width-dependent functions of nn/gemm_body.h compiled
 * for one instruction set. */
typedef struct gemm_path {
    const char *name;   /* gemm_isa()'s name */
    int mr, nr;         /* its register block */
    /* C[m0..m1, n0..n1] with workspace ws (GEMM_WS_LEN reals) */
    void (*part)(const gemm_args *g, size_t m0, size_t m1, size_t n0, size_t n1, real *ws);
    /* all rows of op(A), K block pc of kc columns, in gemm_pack_a's layout */
    void (*pack_a_block)(const gemm_args *g, size_t pc, size_t kc, real *dst);
} gemm_path;

static size_t min_size(size_t x, size_t y) { return x < y ? x : y; }

static real *align_up(real *p)
{
    uintptr_t u = (uintptr_t)p;
    uintptr_t r = u % GEMM_ALIGN;
    return r ? (real *)(u + (GEMM_ALIGN - r)) : p;
}

/* Zeros standing in for the missing rows of an edge panel. */
static const real gemm_zeros[GEMM_KC];

/* -O3 guards for the micro-kernel (the code -O2 emits is the one wanted;
 * figures in docs/GEMM.md). gcc -O3 fully unrolls the 4- to 16-long loop
 * over j before vectorising it and rebuilds slower code from the scalars
 * (GEMM_J_LOOP, put before that loop, asks it not to), and its
 * unroll-and-jam pass unrolls the loop over p by two and leaves the
 * accumulators in memory (GEMM_KERNEL_ATTR turns that pass off for the
 * kernel only; it keeps the command line's other options, -ffp-contract=off
 * included). clang keeps the AVX2 and AVX-512 kernels fast at -O3 without
 * help (its 16-byte kernel stays slow at -O3, and disabling its unrolling
 * makes -O2 slower), so it gets neither. */
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 8
#define GEMM_J_LOOP _Pragma("GCC unroll 1")
#define GEMM_KERNEL_ATTR __attribute__((optimize("no-loop-unroll-and-jam")))
#else
#define GEMM_J_LOOP
#define GEMM_KERNEL_ATTR
#endif
#if defined(__GNUC__)
#define GEMM_STORE_INLINE inline __attribute__((always_inline))
#else
#define GEMM_STORE_INLINE inline
#endif

/* The build's own path: the code the compiler flags target. */
#define GEMM_VEC_BYTES GEMM_BUILD_VEC_BYTES
#define GEMM_FN(name) name##_generic
#define GEMM_TARGET
#define GEMM_NAME "generic"
#include "nn/gemm_body.h"

#ifdef GEMM_DISPATCH
#ifndef __AVX__
/* AVX2: 32-byte vectors, no FMA. (The kernel needs only AVX; the path asks
 * for AVX2, the level of every x86-64 CPU with 32-byte vectors of the last
 * decade. Skipped when the flags give generic 32-byte vectors already.) */
#define GEMM_VEC_BYTES 32
#define GEMM_FN(name) name##_avx2
#define GEMM_TARGET __attribute__((target("avx2")))
#define GEMM_NAME "avx2"
#include "nn/gemm_body.h"
#define GEMM_HAVE_AVX2 1
#endif
/* AVX-512F: 64-byte vectors in 32 registers, no FMA. */
#define GEMM_VEC_BYTES 64
#define GEMM_FN(name) name##_avx512
#define GEMM_TARGET __attribute__((target("avx512f")))
#define GEMM_NAME "avx512"
#include "nn/gemm_body.h"
#endif

/* Every path compiled in, the build's own first. */
static const gemm_path *const gemm_paths[] = {
    &path_generic,
#ifdef GEMM_HAVE_AVX2
    &path_avx2,
#endif
#ifdef GEMM_DISPATCH
    &path_avx512,
#endif
};
#define GEMM_NPATHS (sizeof gemm_paths / sizeof gemm_paths[0])

/* Whether this CPU, and the OS (it must save the wider registers), runs the
 * path. __builtin_cpu_supports checks both: libgcc's cpu_indicator_init
 * reports AVX2 only if XCR0 enables the YMM state, AVX512F only if it enables
 * the opmask and ZMM states too. */
static int path_supported(const gemm_path *p)
{
#ifdef GEMM_DISPATCH
    __builtin_cpu_init();
#ifdef GEMM_HAVE_AVX2
    if (p == &path_avx2) return __builtin_cpu_supports("avx2") != 0;
#endif
    if (p == &path_avx512) return __builtin_cpu_supports("avx512f") != 0;
#endif
    return p == &path_generic;
}

#ifdef GEMM_DISPATCH
/* The path in use: NULL until the first call picks the widest supported one.
 * Threads that race on the first call store the same pointer (to a constant
 * object); the relaxed atomics keep that race defined. */
static const gemm_path *gemm_current;

static const gemm_path *path_get(void)
{
    const gemm_path *p = __atomic_load_n(&gemm_current, __ATOMIC_RELAXED);
    if (!p) {
        size_t i = GEMM_NPATHS - 1;
        while (i > 0 && !path_supported(gemm_paths[i])) i--;
        p = gemm_paths[i];
        __atomic_store_n(&gemm_current, p, __ATOMIC_RELAXED);
    }
    return p;
}

static void path_set(const gemm_path *p) { __atomic_store_n(&gemm_current, p, __ATOMIC_RELAXED); }
#else
static const gemm_path *path_get(void) { return &path_generic; }

static void path_set(const gemm_path *p) { (void)p; }
#endif

const char *gemm_isa(void) { return path_get()->name; }

const char *gemm_isa_list(int i)
{
    size_t j;
    int seen = 0;
    for (j = 0; j < GEMM_NPATHS; j++) {
        if (!path_supported(gemm_paths[j])) continue;
        if (seen++ == i) return gemm_paths[j]->name;
    }
    return NULL;
}

int gemm_force_isa(const char *name, gc_error *err)
{
    size_t j;
    if (name == NULL || strcmp(name, "auto") == 0) {
#ifdef GEMM_DISPATCH
        __atomic_store_n(&gemm_current, (const gemm_path *)NULL, __ATOMIC_RELAXED);
#endif
        return GC_OK;
    }
    for (j = 0; j < GEMM_NPATHS; j++) {
        if (strcmp(name, gemm_paths[j]->name) != 0) continue;
        if (!path_supported(gemm_paths[j]))
            return gc_fail(err, "nn/gemm.c: code path '%s' is not supported by this CPU", name);
        path_set(gemm_paths[j]);
        return GC_OK;
    }
    return gc_fail(err, "nn/gemm.c: no code path '%s' in this build (gemm_isa_list)", name);
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
    g->a_src = NULL;
    g->b_src = NULL;
    g->path = path_get();
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
    g.path->part(&g, 0, g.m, 0, g.n, work);
}

#ifdef _OPENMP
/* Split the panels of C over nt threads: by NR-wide column panels when there
 * are enough of them, else by MR-tall row panels. Thread t gets a contiguous
 * range; the split changes who computes an element, never its bits. */
static void gemm_parallel(const gemm_args *g, int nt)
{
    size_t mr = (size_t)g->path->mr, nr = (size_t)g->path->nr;
    size_t npan = (g->n + nr - 1) / nr;
    size_t mpan = (g->m + mr - 1) / mr;
    int by_n = npan >= (size_t)nt || npan >= mpan;
    int t;
#pragma omp parallel for num_threads(nt) schedule(static)
    for (t = 0; t < nt; t++) {
        size_t pan = by_n ? npan : mpan;
        size_t lo = pan * (size_t)t / (size_t)nt, hi = pan * (size_t)(t + 1) / (size_t)nt;
        real *ws = gemm_slots[omp_get_thread_num()];
        if (lo == hi) continue;
        if (by_n)
            g->path->part(g, 0, g->m, lo * nr, min_size(hi * nr, g->n), ws);
        else
            g->path->part(g, lo * mr, min_size(hi * mr, g->m), 0, g->n, ws);
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
        g->path->part(g, 0, g->m, 0, g->n, gemm_slots[tid]);
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
    g->path->part(g, 0, g->m, 0, g->n, gemm_slots[0]);
}

void gemm(int trans_a, int trans_b, int m, int n, int k, real alpha,
          const real *a, int lda, const real *b, int ldb, real beta, real *c, int ldc)
{
    gemm_args g;
    gemm_setup(&g, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    if (!gemm_trivial(&g)) gemm_run(&g);
}

void gemm_src_run(int trans_a, int trans_b, int m, int n, int k, real alpha, const real *a,
                  int lda, const gemm_src *a_src, const real *b, int ldb,
                  const gemm_src *b_src, real beta, real *c, int ldc, real *work)
{
    gemm_args g;
    /* a source operand passes the checks with a stand-in matrix, never read */
    if (a_src) {
        trans_a = 0;
        a = gemm_zeros;
        lda = k;
    }
    if (b_src) {
        trans_b = 0;
        b = gemm_zeros;
        ldb = n;
    }
    gemm_setup(&g, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    if (a_src) {
        GC_CHECK(a_src->fill != NULL);
        g.a = NULL;
        g.a_src = a_src;
    }
    if (b_src) {
        GC_CHECK(b_src->fill != NULL);
        g.b = NULL;
        g.b_src = b_src;
    }
    if (gemm_trivial(&g)) return;
    if (work)
        g.path->part(&g, 0, g.m, 0, g.n, work);
    else
        gemm_run(&g);
}

/* M rounded up to whole micro-panels of the largest MR. */
static size_t m_padded_max(size_t m) { return (m + GEMM_MR_MAX - 1) / GEMM_MR_MAX * GEMM_MR_MAX; }

size_t gemm_packed_a_len(int m, int k)
{
    size_t len;
    GC_CHECK(m >= 0 && k >= 0);
    GC_CHECK(gc_mul_size(m_padded_max((size_t)m), (size_t)k, &len));
    GC_CHECK(gc_add_size(len, 1, &len));
    return len;
}

/* Packed layout: packed[0] is a tag, 1 + the index in gemm_paths of the path
 * that packed it (so gemm_packed_a runs the kernel the layout was made for,
 * even after gemm_force_isa); then K block pc (rows pc .. pc+kc of op(A)^T)
 * starts at 1 + m_padded(M) * pc (that path's MR) and holds ceil(M/MR)
 * micro-panels of MR * kc reals, as pack_a writes them; so the panels of any
 * A block are found in place. */
void gemm_pack_a(int trans_a, int m, int k, const real *a, int lda, real *packed)
{
    gemm_args g;
    size_t pc, j, mpad;
    memset(&g, 0, sizeof g);
    GC_CHECK(m >= 0 && k >= 0 && packed != NULL);
    g.path = path_get();
    for (j = 0; gemm_paths[j] != g.path; j++) {
    }
    packed[0] = (real)(j + 1);
    if (m == 0 || k == 0) return;
    GC_CHECK(a != NULL && lda >= (trans_a ? m : k));
    g.trans_a = trans_a != 0;
    g.m = (size_t)m;
    g.k = (size_t)k;
    g.a = a;
    g.lda = (size_t)lda;
    mpad = (g.m + (size_t)g.path->mr - 1) / (size_t)g.path->mr * (size_t)g.path->mr;
    for (pc = 0; pc < g.k; pc += GEMM_KC)
        g.path->pack_a_block(&g, pc, min_size(GEMM_KC, g.k - pc), packed + 1 + mpad * pc);
}

void gemm_packed_a(int trans_b, int m, int n, int k, real alpha, const real *packed_a,
                   const real *b, int ldb, real beta, real *c, int ldc)
{
    gemm_args g;
    /* lda = K passes the stride check; A itself is never read */
    gemm_setup(&g, 0, trans_b, m, n, k, alpha, packed_a, k, b, ldb, beta, c, ldc);
    g.a = NULL;
    if (gemm_trivial(&g)) return;
    /* the path that packed A (a tag out of range: not gemm_pack_a's output) */
    GC_CHECK(packed_a[0] >= 1 && packed_a[0] <= (real)GEMM_NPATHS &&
             packed_a[0] == (real)(size_t)packed_a[0]);
    g.path = gemm_paths[(size_t)packed_a[0] - 1];
    g.packed_a = packed_a + 1;
    gemm_run(&g);
}
