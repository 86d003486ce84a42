/*
 * tests/test_gemm.c - the blocked GEMM (nn/gemm.c) against a naive triple loop
 * kept here: all four transpose cases, odd shapes around every block size
 * (MR = 4 or 8, NR = 4..16, KC = 256, MC = 128, NC = 1024), strides larger than
 * the rows, general alpha/beta, beta = 0 over NaN, alpha = 0 / K = 0, the
 * parts of C outside the M x N window left alone, and the documented
 * summation order (bit-for-bit equal to a naive loop blocked by 256 over K,
 * independent of alignment and of gemm vs gemm_ws), and the pre-packed-A
 * entry points and gemm_src_run with caller-packed operands (same bits as
 * gemm); and the code paths (gemm_isa_list): each
 * one this CPU runs gives the generic path's bits (memcmp) for every entry
 * point, shapes around every block size, the four transpose cases and
 * alpha/beta, and forcing a path really switches to it.
 */
#include "nn/gemm.h"
#include "nn/rng.h"
#include "tests/test.h"

#include <string.h>

/* The summation block over K documented in nn/gemm.h. */
#define KC_DOC 256
/* Tolerance of the relative error (tests build in double; a float build of
 * this file gets a float tolerance). */
#ifdef GC_REAL_DOUBLE
#define REL_TOL 1e-12
#else
#define REL_TOL 1e-5
#endif
/* Value written around the C window to see that gemm leaves it alone. */
#define SENTINEL 12345.0

/* One problem: op(A) (m x k), op(B) (k x n), C (m x n) with padded strides. */
typedef struct problem {
    int ta, tb, m, n, k, lda, ldb, ldc;
    real alpha, beta;
    real *a, *b, *c, *c0;   /* c0: C before the call */
    size_t a_len, b_len, c_len;
} problem;

static real *alloc_fill(rng *r, size_t len)
{
    real *x = gc_calloc(len ? len : 1, sizeof *x);
    size_t i;
    for (i = 0; i < len; i++) x[i] = (real)rng_uniform_range(r, -1.0, 1.0);
    return x;
}

/* pad_*: extra elements per row beyond the minimal stride. */
static void problem_make(problem *pb, int ta, int tb, int m, int n, int k, int pad_a,
                         int pad_b, int pad_c, real alpha, real beta, uint64_t seed)
{
    rng r;
    int a_rows = ta ? k : m, a_cols = ta ? m : k;
    int b_rows = tb ? n : k, b_cols = tb ? k : n;
    size_t i;
    rng_seed(&r, seed);
    pb->ta = ta; pb->tb = tb; pb->m = m; pb->n = n; pb->k = k;
    pb->lda = a_cols + pad_a;
    pb->ldb = b_cols + pad_b;
    pb->ldc = n + pad_c;
    pb->alpha = alpha;
    pb->beta = beta;
    pb->a_len = (size_t)a_rows * (size_t)pb->lda;
    pb->b_len = (size_t)b_rows * (size_t)pb->ldb;
    pb->c_len = (size_t)(m + 1) * (size_t)pb->ldc;   /* one spare row */
    pb->a = alloc_fill(&r, pb->a_len);
    pb->b = alloc_fill(&r, pb->b_len);
    pb->c = alloc_fill(&r, pb->c_len);
    for (i = 0; i < pb->c_len; i++) {
        size_t row = i / (size_t)pb->ldc, col = i % (size_t)pb->ldc;
        if (row >= (size_t)m || col >= (size_t)n) pb->c[i] = (real)SENTINEL;
    }
    pb->c0 = gc_calloc(pb->c_len ? pb->c_len : 1, sizeof *pb->c0);
    memcpy(pb->c0, pb->c, pb->c_len * sizeof *pb->c);
}

static void problem_free(problem *pb)
{
    free(pb->a);
    free(pb->b);
    free(pb->c);
    free(pb->c0);
}

static real op_a(const problem *pb, int i, int p)
{
    return pb->ta ? pb->a[(size_t)p * pb->lda + i] : pb->a[(size_t)i * pb->lda + p];
}

static real op_b(const problem *pb, int p, int j)
{
    return pb->tb ? pb->b[(size_t)j * pb->ldb + p] : pb->b[(size_t)p * pb->ldb + j];
}

/* Naive reference for C[i][j], summing p in blocks of kc (kc >= k: one block),
 * folded as the contract says: alpha*s_0 + beta*c, then alpha*s_b + c.
 * *mag receives |alpha| sum |a b| + |beta c|, the scale of rounding errors. */
static real ref_elem(const problem *pb, int i, int j, int kc, double *mag)
{
    real c = pb->c0[(size_t)i * pb->ldc + j];
    double m = pb->beta == 0 ? 0.0 : fabs((double)pb->beta * c);
    int p0, p;
    if (pb->k == 0 || pb->alpha == 0) {
        *mag = m;
        return pb->beta == 0 ? 0 : pb->beta * c;
    }
    for (p0 = 0; p0 < pb->k; p0 += kc) {
        real s = 0;
        for (p = p0; p < pb->k && p < p0 + kc; p++) {
            real prod = op_a(pb, i, p) * op_b(pb, p, j);
            s += prod;
            m += fabs((double)pb->alpha * prod);
        }
        if (p0 == 0)
            c = pb->beta == 0 ? pb->alpha * s : pb->alpha * s + pb->beta * c;
        else
            c = pb->alpha * s + c;
    }
    *mag = m;
    return c;
}

static void run_gemm(problem *pb)
{
    gemm(pb->ta, pb->tb, pb->m, pb->n, pb->k, pb->alpha, pb->a, pb->lda, pb->b, pb->ldb,
         pb->beta, pb->c, pb->ldc);
}

/* Largest relative error of C against the naive loop; also counts elements
 * outside the window that changed. */
static double problem_err(const problem *pb, int *outside_changed)
{
    double worst = 0;
    size_t idx;
    int i, j;
    *outside_changed = 0;
    for (i = 0; i < pb->m; i++) {
        for (j = 0; j < pb->n; j++) {
            double mag, ref = ref_elem(pb, i, j, pb->k > 0 ? pb->k : 1, &mag);
            double got = pb->c[(size_t)i * pb->ldc + j];
            double e = got == ref ? 0.0 : fabs(got - ref) / (mag > 1e-300 ? mag : 1e-300);
            if (!(e <= worst)) worst = e == e ? e : INFINITY;   /* NaN counts as INF */
        }
    }
    for (idx = 0; idx < pb->c_len; idx++) {
        size_t row = idx / (size_t)pb->ldc, col = idx % (size_t)pb->ldc;
        if ((row >= (size_t)pb->m || col >= (size_t)pb->n) && pb->c[idx] != pb->c0[idx])
            (*outside_changed)++;
    }
    return worst;
}

/* Run one problem and check it; returns 1 if it passed. */
static int check_problem(int ta, int tb, int m, int n, int k, int pad, real alpha, real beta,
                         uint64_t seed)
{
    problem pb;
    int outside;
    double err;
    problem_make(&pb, ta, tb, m, n, k, pad, 2 * pad, 3 * pad, alpha, beta, seed);
    run_gemm(&pb);
    err = problem_err(&pb, &outside);
    problem_free(&pb);
    CHECK_MSG(err <= REL_TOL && outside == 0,
              "ta=%d tb=%d m=%d n=%d k=%d pad=%d alpha=%g beta=%g: rel err %g, %d outside",
              ta, tb, m, n, k, pad, (double)alpha, (double)beta, err, outside);
    return err <= REL_TOL && outside == 0;
}

static const int shape_m[] = {1, 7, 8, 9, 17, 130};
static const int shape_n[] = {1, 3, 8, 15, 16, 17, 33};
static const int shape_k[] = {1, 2, 255, 256, 257, 600};

#define COUNT(x) ((int)(sizeof(x) / sizeof((x)[0])))

static void test_all_transposes_odd_shapes(void)
{
    int t, im, in, ik, ok = 0, total = 0;
    uint64_t seed = 1;
    for (t = 0; t < 4; t++)
        for (im = 0; im < COUNT(shape_m); im++)
            for (in = 0; in < COUNT(shape_n); in++)
                for (ik = 0; ik < COUNT(shape_k); ik++) {
                    int m = shape_m[im], n = shape_n[in], k = shape_k[ik];
                    if (m * n * k > 300000) continue;   /* keep the run short */
                    total++;
                    /* strides: minimal, or 1..2 (A), 2..4 (B), 3..6 (C) more */
                    ok += check_problem(t & 1, t >> 1, m, n, k, (int)(seed % 3), 1, 0, seed);
                    seed++;
                }
    printf("    %d/%d shapes within %g\n", ok, total, REL_TOL);
    CHECK(total > 400);
}

static void test_large_blocks(void)
{
    int t;
    for (t = 0; t < 4; t++) {
        check_problem(t & 1, t >> 1, 257, 40, 300, 1, 1, 0, 100 + t);   /* M > 2 MC */
        check_problem(t & 1, t >> 1, 3, 2100, 20, 2, 1, 0, 200 + t);    /* N > NC */
        check_problem(t & 1, t >> 1, 9, 19, 1030, 3, 1, 0, 300 + t);    /* K > 4 KC */
        check_problem(t & 1, t >> 1, 300, 1, 4000, 0, 1, 0, 400 + t);   /* N = 1 */
    }
}

static void test_strides_alpha_beta(void)
{
    static const real alphas[] = {1, -0.5, 2.75};
    static const real betas[] = {0, 1, -1.25};
    int t, ia, ib;
    uint64_t seed = 1000;
    for (t = 0; t < 4; t++)
        for (ia = 0; ia < COUNT(alphas); ia++)
            for (ib = 0; ib < COUNT(betas); ib++) {
                check_problem(t & 1, t >> 1, 13, 21, 270, 5, alphas[ia], betas[ib], seed++);
                check_problem(t & 1, t >> 1, 1, 1, 1, 1, alphas[ia], betas[ib], seed++);
            }
}

/* beta == 0 must not read C: NaN and Inf in C disappear. */
static void test_beta_zero_ignores_nan(void)
{
    int t;
    for (t = 0; t < 4; t++) {
        problem pb;
        int outside, i, j;
        double err;
        problem_make(&pb, t & 1, t >> 1, 11, 19, 300, 1, 1, 1, (real)1.5, 0, 50 + t);
        for (i = 0; i < pb.m; i++)
            for (j = 0; j < pb.n; j++)
                pb.c[(size_t)i * pb.ldc + j] = (i + j) % 2 ? (real)NAN : (real)INFINITY;
        memcpy(pb.c0, pb.c, pb.c_len * sizeof *pb.c);
        run_gemm(&pb);
        err = problem_err(&pb, &outside);
        CHECK_MSG(err <= REL_TOL && outside == 0, "trans %d: rel err %g, %d outside", t, err,
                  outside);
        problem_free(&pb);
    }
}

/* alpha == 0 or K == 0: C = beta * C and A, B (here NaN) are not read. */
static void test_alpha_zero_and_empty(void)
{
    problem pb;
    size_t i;
    int outside, bad = 0;
    double err;
    problem_make(&pb, 0, 1, 5, 7, 9, 0, 0, 1, 0, (real)0.5, 7);
    for (i = 0; i < pb.a_len; i++) pb.a[i] = (real)NAN;
    for (i = 0; i < pb.b_len; i++) pb.b[i] = (real)NAN;
    run_gemm(&pb);
    err = problem_err(&pb, &outside);
    CHECK_MSG(err <= REL_TOL && outside == 0, "alpha = 0: rel err %g", err);
    problem_free(&pb);

    problem_make(&pb, 1, 0, 6, 4, 0, 0, 0, 2, 1, 0, 8);
    for (i = 0; i < pb.c_len; i++)
        if (i / (size_t)pb.ldc < 6 && i % (size_t)pb.ldc < 4) pb.c[i] = (real)NAN;
    memcpy(pb.c0, pb.c, pb.c_len * sizeof *pb.c);
    gemm(1, 0, 6, 4, 0, 1, NULL, 6, NULL, 4, 0, pb.c, pb.ldc);
    for (i = 0; i < pb.c_len; i++)
        if (i / (size_t)pb.ldc < 6 && i % (size_t)pb.ldc < 4) bad += pb.c[i] != 0;
    CHECK_MSG(bad == 0, "K = 0, beta = 0: %d elements not zeroed", bad);

    /* M = 0 or N = 0: nothing is touched */
    memcpy(pb.c0, pb.c, pb.c_len * sizeof *pb.c);
    gemm(0, 0, 0, 4, 3, 1, pb.a, 3, pb.b, 4, 0, pb.c, pb.ldc);
    gemm(0, 0, 6, 0, 3, 1, pb.a, 3, pb.b, 1, 0, pb.c, pb.ldc);
    CHECK(memcmp(pb.c0, pb.c, pb.c_len * sizeof *pb.c) == 0);
    problem_free(&pb);
}

/* The documented order: bit-for-bit a naive loop blocked by KC_DOC over K
 * (for K <= KC_DOC, the plain naive loop). Compiled with -ffp-contract=off
 * as the Makefile does, so a*b+c is not fused in either. */
static void test_summation_order_bits(void)
{
    static const int ks[] = {1, 5, 256, 257, 700};
    int t, ik, i, j, diff = 0;
    for (t = 0; t < 4; t++)
        for (ik = 0; ik < COUNT(ks); ik++) {
            problem pb;
            problem_make(&pb, t & 1, t >> 1, 10, 18, ks[ik], 1, 0, 2, (real)0.75,
                         (real)-0.5, 400 + (uint64_t)ik);
            run_gemm(&pb);
            for (i = 0; i < pb.m; i++)
                for (j = 0; j < pb.n; j++) {
                    double mag;
                    real ref = ref_elem(&pb, i, j, KC_DOC, &mag);
#ifdef GC_FMA   /* make FMA=1: gemm and this loop may contract differently */
                    diff += fabs((double)pb.c[(size_t)i * pb.ldc + j] - ref) >
                            REL_TOL * mag;
#else
                    diff += pb.c[(size_t)i * pb.ldc + j] != ref;
#endif
                }
            problem_free(&pb);
        }
    CHECK_MSG(diff == 0, "%d elements differ from the blocked naive loop", diff);
}

/* Same bits for gemm and gemm_ws, for repeated calls, and for operands moved
 * to other alignments. */
static void test_deterministic_bits(void)
{
    enum { M = 37, N = 45, K = 700, SHIFT = 3 };   /* > 1e6 multiply-adds */
    problem pb;
    real *c1, *c2, *a2, *b2, *c3, *work;
    size_t i;
    int shift, same = 1;
    problem_make(&pb, 0, 1, M, N, K, 0, 0, 0, 1, 0, 77);
    c1 = gc_calloc(pb.c_len, sizeof *c1);
    c2 = gc_calloc(pb.c_len, sizeof *c2);
    run_gemm(&pb);
    memcpy(c1, pb.c, pb.c_len * sizeof *c1);
    run_gemm(&pb);
    same &= memcmp(c1, pb.c, pb.c_len * sizeof *c1) == 0;

    work = gc_calloc(gemm_workspace_len() + 1, sizeof *work);
    gemm_ws(0, 1, M, N, K, 1, pb.a, pb.lda, pb.b, pb.ldb, 0, c2, pb.ldc, work + 1);
    for (i = 0; i < (size_t)M * (size_t)pb.ldc; i++) same &= c2[i] == c1[i];
    free(work);

    a2 = gc_calloc(pb.a_len + SHIFT, sizeof *a2);
    b2 = gc_calloc(pb.b_len + SHIFT, sizeof *b2);
    c3 = gc_calloc(pb.c_len + SHIFT, sizeof *c3);
    for (shift = 1; shift <= SHIFT; shift++) {
        memcpy(a2 + shift, pb.a, pb.a_len * sizeof *a2);
        memcpy(b2 + shift, pb.b, pb.b_len * sizeof *b2);
        gemm(0, 1, M, N, K, 1, a2 + shift, pb.lda, b2 + shift, pb.ldb, 0, c3 + shift, pb.ldc);
        for (i = 0; i < (size_t)M * (size_t)pb.ldc; i++) same &= c3[shift + i] == c1[i];
    }
    CHECK_MSG(same, "results differ between calls, gemm_ws or alignments");
    free(a2);
    free(b2);
    free(c3);
    free(c1);
    free(c2);
    problem_free(&pb);
}

#ifdef _OPENMP
/* Built with -fopenmp: gemm called from the threads of a parallel region
 * (each in its own workspace slot) gives the serial bits. */
static void test_called_from_parallel_region(void)
{
    enum { JOBS = 4, M = 20, N = 70, K = 300 };
    problem pb[JOBS];
    real *serial[JOBS], *work = gc_calloc(gemm_workspace_len(), sizeof *work);
    int j, same = 1;
    for (j = 0; j < JOBS; j++) {
        problem_make(&pb[j], j & 1, j >> 1, M, N, K, 0, 0, 0, 1, 0, 900 + (uint64_t)j);
        serial[j] = gc_calloc(pb[j].c_len, sizeof *serial[j]);
        gemm_ws(pb[j].ta, pb[j].tb, M, N, K, 1, pb[j].a, pb[j].lda, pb[j].b, pb[j].ldb, 0,
                serial[j], pb[j].ldc, work);
    }
    free(work);
#pragma omp parallel for num_threads(2) schedule(static, 1)
    for (j = 0; j < JOBS; j++) run_gemm(&pb[j]);
    for (j = 0; j < JOBS; j++) {
        size_t i;
        for (i = 0; i < (size_t)M * (size_t)pb[j].ldc; i++) same &= pb[j].c[i] == serial[j][i];
        free(serial[j]);
        problem_free(&pb[j]);
    }
    CHECK(same);
}
#endif

/* gemm_pack_a + gemm_packed_a give gemm's bits, for A blocks inside and
 * across the block sizes; C also matches the naive loop. */
static void test_packed_a_same_bits(void)
{
    static const int shapes[][3] = {{1, 1, 1}, {13, 21, 270}, {130, 17, 600}, {9, 40, 5},
                                    {5, 1100, 3}};
    int t, si, same = 1, close = 1;
    for (t = 0; t < 4; t++)
        for (si = 0; si < COUNT(shapes); si++) {
            int m = shapes[si][0], n = shapes[si][1], k = shapes[si][2], outside;
            problem pb;
            real *packed, *c_ref;
            problem_make(&pb, t & 1, t >> 1, m, n, k, 2, 1, 3, (real)-1.5, (real)0.25,
                         600 + (uint64_t)si);
            c_ref = gc_calloc(pb.c_len, sizeof *c_ref);
            memcpy(c_ref, pb.c, pb.c_len * sizeof *c_ref);
            gemm(pb.ta, pb.tb, m, n, k, pb.alpha, pb.a, pb.lda, pb.b, pb.ldb, pb.beta, c_ref,
                 pb.ldc);
            packed = gc_calloc(gemm_packed_a_len(m, k), sizeof *packed);
            gemm_pack_a(pb.ta, m, k, pb.a, pb.lda, packed);
            gemm_packed_a(pb.tb, m, n, k, pb.alpha, packed, pb.b, pb.ldb, pb.beta, pb.c,
                          pb.ldc);
            same &= memcmp(c_ref, pb.c, pb.c_len * sizeof *c_ref) == 0;
            close &= problem_err(&pb, &outside) <= REL_TOL && outside == 0;
            free(packed);
            free(c_ref);
            problem_free(&pb);
        }
    CHECK_MSG(same, "gemm_packed_a differs from gemm");
    CHECK_MSG(close, "gemm_packed_a differs from the naive loop");
    CHECK(gemm_packed_a_len(9, 10) >= 9 * 10);
}

/* ---- code paths (runtime ISA dispatch) ---- */


/* Every product of a problem through one entry point: gemm, gemm_ws,
 * gemm_packed_a, and gemm_src_run with op(A), op(B) or both given by a
 * gemm_src (work NULL or a workspace). */
enum { VIA_GEMM, VIA_WS, VIA_PACKED, VIA_SRC_A, VIA_SRC_B, VIA_SRC_AB, VIA_COUNT };

/* gemm_src over a problem: X = op(B) (K x N), or op(A)^T (K x M) if is_a. */
typedef struct src_ctx {
    const problem *pb;
    int is_a;
    long calls;   /* src_fill_counted's calls */
} src_ctx;

static void src_fill(const void *ctx, size_t k0, size_t kc, size_t j0, size_t nc, int w,
                     real *dst)
{
    const src_ctx *sc = (const src_ctx *)ctx;
    size_t s, p;
    int j;
    for (s = 0; s < nc; s += (size_t)w)
        for (p = 0; p < kc; p++)
            for (j = 0; j < w; j++) {
                size_t col = j0 + s + (size_t)j;
                real v = 0;
                if (s + (size_t)j < nc)
                    v = sc->is_a ? op_a(sc->pb, (int)col, (int)(k0 + p))
                                 : op_b(sc->pb, (int)(k0 + p), (int)col);
                dst[s * kc + p * (size_t)w + (size_t)j] = v;
            }
}

/* src_fill counting its calls (only for products that run in one thread:
 * fill must otherwise only read ctx). */
static void src_fill_counted(const void *ctx, size_t k0, size_t kc, size_t j0, size_t nc,
                             int w, real *dst)
{
    src_fill(ctx, k0, kc, j0, nc, w, dst);
    ((src_ctx *)ctx)->calls++;
}

/* C after the product of pb through `via` (pb->c is left as it was). */
static real *product_via(const problem *pb, int via, real *work)
{
    real *c = gc_calloc(pb->c_len, sizeof *c);
    memcpy(c, pb->c0, pb->c_len * sizeof *c);
    if (via == VIA_GEMM) {
        gemm(pb->ta, pb->tb, pb->m, pb->n, pb->k, pb->alpha, pb->a, pb->lda, pb->b, pb->ldb,
             pb->beta, c, pb->ldc);
    } else if (via == VIA_WS) {
        gemm_ws(pb->ta, pb->tb, pb->m, pb->n, pb->k, pb->alpha, pb->a, pb->lda, pb->b,
                pb->ldb, pb->beta, c, pb->ldc, work);
    } else if (via == VIA_PACKED) {
        real *packed = gc_calloc(gemm_packed_a_len(pb->m, pb->k), sizeof *packed);
        gemm_pack_a(pb->ta, pb->m, pb->k, pb->a, pb->lda, packed);
        gemm_packed_a(pb->tb, pb->m, pb->n, pb->k, pb->alpha, packed, pb->b, pb->ldb,
                      pb->beta, c, pb->ldc);
        free(packed);
    } else {
        /* the sources stand for the matrices; the matrix arguments of a
         * source operand are nonsense (NULL, stride 0, the other trans flag) */
        src_ctx sa = {NULL, 1, 0}, sb = {NULL, 0, 0};
        gemm_src ga, gb;
        int use_a = via != VIA_SRC_B, use_b = via != VIA_SRC_A;
        sa.pb = pb;
        sb.pb = pb;
        ga.fill = src_fill;
        ga.ctx = &sa;
        gb.fill = src_fill;
        gb.ctx = &sb;
        gemm_src_run(use_a ? !pb->ta : pb->ta, use_b ? !pb->tb : pb->tb, pb->m, pb->n, pb->k,
                     pb->alpha, use_a ? NULL : pb->a, use_a ? 0 : pb->lda, use_a ? &ga : NULL,
                     use_b ? NULL : pb->b, use_b ? 0 : pb->ldb, use_b ? &gb : NULL, pb->beta, c,
                     pb->ldc, via == VIA_SRC_B ? work : NULL);
    }
    return c;
}

/* gemm_src_run on the automatic path: the same bits as gemm with the
 * matrices (and close to the naive loop) for sources of A, B or both,
 * shapes inside and across MR, NR, KC, MC and NC, the four transpose cases,
 * with and without a workspace; the fill is really what gemm packs from
 * (its calls are counted, and a source that is off by one element changes C). */
static void test_src_operands(void)
{
    static const int shapes[][3] = {{1, 1, 1},   {13, 21, 270}, {130, 17, 600},
                                    {9, 40, 5},  {5, 1100, 3},  {144, 32, 1024},
                                    {16, 9, 700}, {32, 1030, 144}};
    real *work = gc_calloc(gemm_workspace_len(), sizeof *work);
    int t, si, via, same = 1, close = 1, counted = 1, products = 0;
    for (t = 0; t < 4; t++)
        for (si = 0; si < COUNT(shapes); si++)
            for (via = VIA_SRC_A; via <= VIA_SRC_AB; via++) {
                int m = shapes[si][0], n = shapes[si][1], k = shapes[si][2], outside;
                problem pb;
                real *ref, *c;
                problem_make(&pb, t & 1, t >> 1, m, n, k, 1, 2, 3, (real)0.75, (real)-0.5,
                             700 + (uint64_t)si);
                ref = product_via(&pb, VIA_GEMM, work);
                c = product_via(&pb, via, work);
                same &= memcmp(c, ref, pb.c_len * sizeof *c) == 0;
                memcpy(pb.c, c, pb.c_len * sizeof *c);
                close &= problem_err(&pb, &outside) <= REL_TOL && outside == 0;
                products++;
                free(ref);
                free(c);
                problem_free(&pb);
            }
    CHECK_MSG(same, "gemm_src_run differs from gemm");
    CHECK_MSG(close, "gemm_src_run differs from the naive loop");
    CHECK(products == 4 * COUNT(shapes) * 3);
    {   /* the fill is called (once per K block and panel range), and used */
        problem pb;
        src_ctx sb = {NULL, 0, 0};
        gemm_src gb;
        real *c;
        problem_make(&pb, 0, 0, 20, 40, 600, 0, 0, 0, 1, 0, 800);
        sb.pb = &pb;
        gb.fill = src_fill_counted;
        gb.ctx = &sb;
        c = product_via(&pb, VIA_GEMM, work);
        gemm_src_run(0, 0, 20, 40, 600, 1, pb.a, pb.lda, NULL, NULL, 0, &gb, 0, pb.c, pb.ldc,
                     work);
        counted &= sb.calls == 3;   /* K = 600: blocks of 256, 256, 88; N in one block */
        CHECK(memcmp(c, pb.c, pb.c_len * sizeof *c) == 0);
        pb.b[5] += 1;   /* the source now stands for another B: C must change */
        gemm_src_run(0, 0, 20, 40, 600, 1, pb.a, pb.lda, NULL, NULL, 0, &gb, 0, pb.c, pb.ldc,
                     work);
        CHECK(memcmp(c, pb.c, pb.c_len * sizeof *c) != 0);
        free(c);
        problem_free(&pb);
    }
    CHECK_MSG(counted, "fill calls not as expected");
    free(work);
}

static int path_count(void)
{
    int n = 0;
    while (gemm_isa_list(n) != NULL) n++;
    return n;
}

/* Shapes for the path comparison: edges of MR (4, 8), NR (4..16), KC (256),
 * MC (128) and NC (1024). */
static const int path_m[] = {1, 3, 8, 9, 17, 129};
static const int path_n[] = {1, 5, 8, 16, 17, 33, 1030};
static const int path_k[] = {1, 7, 256, 257, 530};

/* Each path this CPU runs gives the generic path's bits (memcmp over all of
 * C, padding included), through gemm, gemm_ws and gemm_packed_a, for all four
 * transpose cases, alpha/beta, shapes around the block sizes, and alpha = 0 /
 * beta = 0 over NaN. With only the generic path (other CPUs, other
 * compilers) it compares generic with itself. */
static void test_paths_same_bits(void)
{
    static const real alphas[] = {1, (real)-0.75};
    static const real betas[] = {0, 1, (real)0.5};
    int npath = path_count(), ip, t, im, in, ik, via, compared = 0, differ = 0;
    uint64_t seed = 5000;
    real *work = gc_calloc(gemm_workspace_len(), sizeof *work);
    CHECK(npath >= 1 && strcmp(gemm_isa_list(0), "generic") == 0);
    printf("    paths:");
    for (ip = 0; ip < npath; ip++) printf(" %s", gemm_isa_list(ip));
    printf(" (auto: %s)\n", gemm_isa());
    for (t = 0; t < 4; t++)
        for (im = 0; im < COUNT(path_m); im++)
            for (in = 0; in < COUNT(path_n); in++)
                for (ik = 0; ik < COUNT(path_k); ik++) {
                    int m = path_m[im], n = path_n[in], k = path_k[ik];
                    real alpha = alphas[seed % 2], beta = betas[seed % 3];
                    problem pb;
                    real *ref[VIA_COUNT];
                    if ((double)m * n * k > 400000) continue;   /* keep the run short */
                    problem_make(&pb, t & 1, t >> 1, m, n, k, (int)(seed % 2), 1, 2, alpha,
                                 beta, seed);
                    seed++;
                    CHECK(gemm_force_isa("generic", NULL) == GC_OK);
                    for (via = 0; via < VIA_COUNT; via++) ref[via] = product_via(&pb, via, work);
                    for (ip = 1; ip < npath; ip++) {
                        CHECK(gemm_force_isa(gemm_isa_list(ip), NULL) == GC_OK);
                        for (via = 0; via < VIA_COUNT; via++) {
                            real *c = product_via(&pb, via, work);
                            int same = memcmp(c, ref[via], pb.c_len * sizeof *c) == 0;
                            CHECK_MSG(same, "path %s via %d ta=%d tb=%d m=%d n=%d k=%d: bits "
                                      "differ from generic", gemm_isa_list(ip), via, t & 1,
                                      t >> 1, m, n, k);
                            differ += !same;
                            compared++;
                            free(c);
                        }
                    }
                    /* generic's own bits: the entry points agree */
                    for (via = 1; via < VIA_COUNT; via++)
                        CHECK_MSG(memcmp(ref[via], ref[VIA_GEMM], pb.c_len * sizeof(real)) == 0,
                                  "via %d ta=%d tb=%d m=%d n=%d k=%d: bits differ from gemm",
                                  via, t & 1, t >> 1, m, n, k);
                    for (via = 0; via < VIA_COUNT; via++) free(ref[via]);
                    problem_free(&pb);
                }
    CHECK(gemm_force_isa(NULL, NULL) == GC_OK);
    printf("    %d products of %d other path(s) compared with generic, %d differ\n", compared,
           npath - 1, differ);
    CHECK(npath == 1 || compared > 1000);
    free(work);
}

/* The same with NaN/Inf in C under beta = 0, and alpha = 0 (A, B not read). */
static void test_paths_special_values(void)
{
    int npath = path_count(), ip, t, same = 1;
    for (ip = 0; ip < npath; ip++)
        for (t = 0; t < 4; t++) {
            problem pb;
            size_t i;
            real *c;
            int outside;
            CHECK(gemm_force_isa(gemm_isa_list(ip), NULL) == GC_OK);
            problem_make(&pb, t & 1, t >> 1, 11, 19, 300, 1, 1, 1, (real)1.5, 0, 70 + t);
            for (i = 0; i < (size_t)pb.m * (size_t)pb.ldc; i++)
                if (i % (size_t)pb.ldc < (size_t)pb.n) pb.c[i] = i % 2 ? (real)NAN : (real)INFINITY;
            memcpy(pb.c0, pb.c, pb.c_len * sizeof *pb.c);
            run_gemm(&pb);
            same &= problem_err(&pb, &outside) <= REL_TOL && outside == 0;
            c = product_via(&pb, VIA_PACKED, NULL);
            same &= memcmp(c, pb.c, pb.c_len * sizeof *c) == 0;
            free(c);
            problem_free(&pb);
        }
    CHECK(gemm_force_isa(NULL, NULL) == GC_OK);
    CHECK_MSG(same, "a path mishandles beta = 0 over NaN");
}

/* Forcing a path switches to it (gemm_isa says so), an unknown or unsupported
 * name fails with a message, NULL and "auto" return to the widest path, and
 * an A packed under one path still multiplies right after forcing another. */
static void test_force_isa(void)
{
    gc_error err;
    int npath = path_count(), ip;
    const char *widest = gemm_isa_list(npath - 1);
    err.msg[0] = 0;
    CHECK(gemm_force_isa("no-such-path", &err) == GC_FAIL);
    CHECK(strstr(err.msg, "nn/gemm.c") != NULL && strstr(err.msg, "no-such-path") != NULL);
    CHECK(gemm_force_isa("", NULL) == GC_FAIL);
    for (ip = 0; ip < npath; ip++) {
        CHECK(gemm_force_isa(gemm_isa_list(ip), &err) == GC_OK);
        CHECK_MSG(strcmp(gemm_isa(), gemm_isa_list(ip)) == 0, "forced %s, gemm_isa says %s",
                  gemm_isa_list(ip), gemm_isa());
    }
    CHECK(gemm_force_isa(NULL, NULL) == GC_OK);
    CHECK(strcmp(gemm_isa(), widest) == 0);
    CHECK(gemm_force_isa("generic", NULL) == GC_OK);
    CHECK(gemm_force_isa("auto", NULL) == GC_OK);
    CHECK(strcmp(gemm_isa(), widest) == 0);
    CHECK(gemm_isa_list(-1) == NULL && gemm_isa_list(npath) == NULL);
    /* a path this build has but this CPU lacks must be refused; one the build
     * lacks too */
    if (npath < 3) {
        static const char *const all[] = {"avx2", "avx512"};
        int i, j;
        for (i = 0; i < 2; i++) {
            int listed = 0;
            for (j = 0; j < npath; j++) listed |= strcmp(all[i], gemm_isa_list(j)) == 0;
            if (!listed) CHECK(gemm_force_isa(all[i], NULL) == GC_FAIL);
        }
    }
    /* packed under each path, multiplied under each other path */
    {
        problem pb;
        real *ref, *packed, *c;
        int ipack, iuse, same = 1;
        problem_make(&pb, 1, 0, 21, 30, 300, 1, 1, 1, (real)0.5, (real)-1, 80);
        CHECK(gemm_force_isa("generic", NULL) == GC_OK);
        ref = product_via(&pb, VIA_GEMM, NULL);
        packed = gc_calloc(gemm_packed_a_len(pb.m, pb.k), sizeof *packed);
        c = gc_calloc(pb.c_len, sizeof *c);
        for (ipack = 0; ipack < npath; ipack++)
            for (iuse = 0; iuse < npath; iuse++) {
                CHECK(gemm_force_isa(gemm_isa_list(ipack), NULL) == GC_OK);
                gemm_pack_a(pb.ta, pb.m, pb.k, pb.a, pb.lda, packed);
                CHECK(gemm_force_isa(gemm_isa_list(iuse), NULL) == GC_OK);
                memcpy(c, pb.c0, pb.c_len * sizeof *c);
                gemm_packed_a(pb.tb, pb.m, pb.n, pb.k, pb.alpha, packed, pb.b, pb.ldb, pb.beta,
                              c, pb.ldc);
                same &= memcmp(c, ref, pb.c_len * sizeof *c) == 0;
            }
        CHECK_MSG(same, "an A packed under one path differs when used under another");
        free(ref);
        free(packed);
        free(c);
        problem_free(&pb);
    }
    CHECK(gemm_force_isa(NULL, NULL) == GC_OK);
}

/* Where nn/gemm.c compiles the dispatch in (x86-64, gcc or clang, flags below
 * AVX-512), a CPU with AVX2 / AVX-512F must have those paths listed and
 * picked: a build that silently fell back to generic fails here. */
static void test_dispatch_present(void)
{
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && \
    !defined(__TINYC__) && !defined(__AVX512F__) && !defined(GC_GEMM_NO_DISPATCH)
    int npath = path_count(), ip, has512 = 0, has2 = 0;
    __builtin_cpu_init();
    for (ip = 0; ip < npath; ip++) {
        has2 |= strcmp(gemm_isa_list(ip), "avx2") == 0;
        has512 |= strcmp(gemm_isa_list(ip), "avx512") == 0;
    }
    CHECK(has512 == (__builtin_cpu_supports("avx512f") != 0));
#ifndef __AVX__
    CHECK(has2 == (__builtin_cpu_supports("avx2") != 0));
#endif
    CHECK(gemm_force_isa(NULL, NULL) == GC_OK);
    if (__builtin_cpu_supports("avx512f"))
        CHECK(strcmp(gemm_isa(), "avx512") == 0);
#ifndef __AVX__
    else if (__builtin_cpu_supports("avx2"))
        CHECK(strcmp(gemm_isa(), "avx2") == 0);
#endif
    else
        CHECK(strcmp(gemm_isa(), "generic") == 0);
    printf("    dispatch compiled in; picked %s\n", gemm_isa());
#else
    CHECK(path_count() == 1 && strcmp(gemm_isa(), "generic") == 0);
    printf("    no dispatch in this build: generic only\n");
#endif
}

/* The test's own reference must be able to fail: a wrong product is caught. */
static void test_reference_detects_error(void)
{
    problem pb;
    int outside;
    double err;
    problem_make(&pb, 0, 0, 4, 5, 6, 0, 0, 0, 1, 0, 9);
    run_gemm(&pb);
    /* |a|, |b| <= 1 and K = 6: the error scale of an element is <= 6 */
    pb.c[7] += (real)(100 * REL_TOL * 6);
    err = problem_err(&pb, &outside);
    CHECK(err > REL_TOL);
    problem_free(&pb);
}

int main(int argc, char **argv)
{
    static const test_case cases[] = {
        TEST_CASE(test_all_transposes_odd_shapes),
        TEST_CASE(test_large_blocks),
        TEST_CASE(test_strides_alpha_beta),
        TEST_CASE(test_beta_zero_ignores_nan),
        TEST_CASE(test_alpha_zero_and_empty),
        TEST_CASE(test_summation_order_bits),
        TEST_CASE(test_deterministic_bits),
        TEST_CASE(test_packed_a_same_bits),
        TEST_CASE(test_src_operands),
#ifdef _OPENMP
        TEST_CASE(test_called_from_parallel_region),
#endif
        TEST_CASE(test_paths_same_bits),
        TEST_CASE(test_paths_special_values),
        TEST_CASE(test_force_isa),
        TEST_CASE(test_dispatch_present),
        TEST_CASE(test_reference_detects_error),
    };
    return test_main(argc, argv, cases, TEST_COUNT(cases));
}
