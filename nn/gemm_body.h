/*
 * nn/gemm_body.h - the part of nn/gemm.c that depends on the vector width:
 * packing into MR-tall / NR-wide micro-panels, the MR x NR micro-kernel and
 * the blocked loop nest around them (design in nn/gemm.c and docs/GEMM.md).
 *
 * Not a normal header: nn/gemm.c includes it once per code path, each time
 * with these macros defined (they are #undef'd again at the end):
 *   GEMM_VEC_BYTES   bytes per vector the path is written for: 16, 32 or 64
 *   GEMM_FN(name)    the path's name for a function, e.g. name##_avx2
 *   GEMM_TARGET      an attribute put on every function of the path, e.g.
 *                    __attribute__((target("avx2"))), or nothing
 *   GEMM_NAME        the path's name for gemm_isa(), e.g. "avx2"
 * Every function here carries GEMM_TARGET, so a whole path is compiled for
 * one instruction set and gcc / clang inline freely inside it. It defines,
 * for the path the table entry
 *   static const gemm_path GEMM_FN(path) = {name, MR, NR, gemm_part, pack_a_block};
 * (struct gemm_path in nn/gemm.c).
 * The arithmetic is the same in every path (one multiply, then one add, per
 * element and p, in the order of p; then alpha*acc + beta*c): only MR, NR and
 * the register width change, so every path gives the same bits.
 */

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

/* M rounded up to whole micro-panels. */
GEMM_TARGET static size_t GEMM_FN(m_padded)(size_t m)
{
    return (m + GEMM_MR - 1) / GEMM_MR * GEMM_MR;
}

/* dst[p*ld + i] = row[i][p] for i < ld, p < kc (ld a multiple of 4): a
 * transposing copy, eight (then four) source rows at a time through named
 * pointers, which compilers turn into better code than a loop over a pointer
 * array (measured: up to 2x). */
GEMM_TARGET static void GEMM_FN(gather_rows)(real *restrict dst, size_t ld,
                                             const real *const *row, size_t kc)
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
GEMM_TARGET static void GEMM_FN(copy_rows)(real *restrict dst, size_t w, const real *src,
                                           size_t ld, size_t kc)
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
GEMM_TARGET static void GEMM_FN(pack_a)(const gemm_args *g, size_t ic, size_t mc, size_t pc,
                                        size_t kc, real *restrict dst)
{
    size_t r, i, p;
    if (g->a_src) {   /* the caller's panels of op(A)^T (gemm_src) */
        g->a_src->fill(g->a_src->ctx, pc, kc, ic, mc, GEMM_MR, dst);
        return;
    }
    for (r = 0; r < mc; r += GEMM_MR) {
        size_t mr = min_size(GEMM_MR, mc - r);
        if (!g->trans_a) {
            const real *row[GEMM_MR];
            for (i = 0; i < GEMM_MR; i++)
                row[i] = i < mr ? g->a + (ic + r + i) * g->lda + pc : gemm_zeros;
            GEMM_FN(gather_rows)(dst, GEMM_MR, row, kc);
        } else if (mr == GEMM_MR) {
            GEMM_FN(copy_rows)(dst, GEMM_MR, g->a + pc * g->lda + ic + r, g->lda, kc);
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
GEMM_TARGET static void GEMM_FN(pack_b)(const gemm_args *g, size_t pc, size_t kc, size_t jc,
                                        size_t nc, real *restrict dst)
{
    size_t s, j, p;
    if (g->b_src) {   /* the caller's panels of op(B) (gemm_src) */
        g->b_src->fill(g->b_src->ctx, pc, kc, jc, nc, GEMM_NR, dst);
        return;
    }
    for (s = 0; s < nc; s += GEMM_NR) {
        size_t nr = min_size(GEMM_NR, nc - s);
        if (g->trans_b) {
            const real *row[GEMM_NR];
            for (j = 0; j < (size_t)GEMM_NR; j++)
                row[j] = j < nr ? g->b + (jc + s + j) * g->ldb + pc : gemm_zeros;
            GEMM_FN(gather_rows)(dst, GEMM_NR, row, kc);
        } else if (nr == (size_t)GEMM_NR) {
            GEMM_FN(copy_rows)(dst, GEMM_NR, g->b + pc * g->ldb + jc + s, g->ldb, kc);
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
GEMM_TARGET GEMM_KERNEL_ATTR static GEMM_STORE_INLINE void GEMM_FN(store_vec)(real *restrict c, const real *restrict acc, int cnt,
                                           real alpha, real beta)
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
 * order (one multiply, then one add, per element and p). GEMM_KERNEL_ATTR and
 * GEMM_J_LOOP keep gcc -O3 from restructuring the loops (nn/gemm.c).
 */
#if GEMM_MR == 8 && GEMM_NV == 1
GEMM_TARGET GEMM_KERNEL_ATTR static void GEMM_FN(kernel)(size_t kc, const real *restrict a,
                                        const real *restrict b, real *restrict c, size_t ldc,
                                        int mr, int nr, real alpha, real beta)
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
        GEMM_J_LOOP
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
    GEMM_FN(store_vec)(c, c0, nr, alpha, beta);
    if (mr > 1) GEMM_FN(store_vec)(c + ldc, c1, nr, alpha, beta);
    if (mr > 2) GEMM_FN(store_vec)(c + 2 * ldc, c2, nr, alpha, beta);
    if (mr > 3) GEMM_FN(store_vec)(c + 3 * ldc, c3, nr, alpha, beta);
    if (mr > 4) GEMM_FN(store_vec)(c + 4 * ldc, c4, nr, alpha, beta);
    if (mr > 5) GEMM_FN(store_vec)(c + 5 * ldc, c5, nr, alpha, beta);
    if (mr > 6) GEMM_FN(store_vec)(c + 6 * ldc, c6, nr, alpha, beta);
    if (mr > 7) GEMM_FN(store_vec)(c + 7 * ldc, c7, nr, alpha, beta);
}
#elif GEMM_MR == 4 && GEMM_NV == 2
/* Row i of the tile is the pair (ci_lo, ci_hi): columns [0, VL) and [VL, 2VL). */
GEMM_TARGET GEMM_KERNEL_ATTR static GEMM_STORE_INLINE void GEMM_FN(store_row2)(real *restrict c, const real *restrict lo,
                                            const real *restrict hi, int nr, real alpha,
                                            real beta)
{
    GEMM_FN(store_vec)(c, lo, nr < GEMM_VL ? nr : GEMM_VL, alpha, beta);
    if (nr > GEMM_VL) GEMM_FN(store_vec)(c + GEMM_VL, hi, nr - GEMM_VL, alpha, beta);
}

GEMM_TARGET GEMM_KERNEL_ATTR static void GEMM_FN(kernel)(size_t kc, const real *restrict a,
                                        const real *restrict b, real *restrict c, size_t ldc,
                                        int mr, int nr, real alpha, real beta)
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
        GEMM_J_LOOP
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
    GEMM_FN(store_row2)(c, c0_lo, c0_hi, nr, alpha, beta);
    if (mr > 1) GEMM_FN(store_row2)(c + ldc, c1_lo, c1_hi, nr, alpha, beta);
    if (mr > 2) GEMM_FN(store_row2)(c + 2 * ldc, c2_lo, c2_hi, nr, alpha, beta);
    if (mr > 3) GEMM_FN(store_row2)(c + 3 * ldc, c3_lo, c3_hi, nr, alpha, beta);
}
#else
#error "nn/gemm_body.h: no micro-kernel for this GEMM_MR x GEMM_NV"
#endif

/* C[m0..m1, n0..n1] (the rows and columns of one thread) with workspace ws
 * (GEMM_WS_LEN reals, any alignment). g->packed_a, if set, is op(A) packed
 * by this path's pack_a_block (the layout of gemm_pack_a, after its tag). */
GEMM_TARGET static void GEMM_FN(gemm_part)(const gemm_args *g, size_t m0, size_t m1,
                                           size_t n0, size_t n1, real *ws)
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
            GEMM_FN(pack_b)(g, pc, kc, jc, nc, pb);
            for (ic = m0; ic < m1; ic += GEMM_MC) {
                size_t mc = min_size(GEMM_MC, m1 - ic);
                if (g->packed_a) { /* K block pc, micro-panel ic / MR */
                    pa = g->packed_a + GEMM_FN(m_padded)(g->m) * pc + ic * kc;
                } else {
                    pa = own_pa;
                    GEMM_FN(pack_a)(g, ic, mc, pc, kc, own_pa);
                }
                for (jr = 0; jr < nc; jr += GEMM_NR) {
                    int nr = (int)min_size(GEMM_NR, nc - jr);
                    for (ir = 0; ir < mc; ir += GEMM_MR) {
                        int mr = (int)min_size(GEMM_MR, mc - ir);
                        GEMM_FN(kernel)(kc, pa + ir * kc, pb + jr * kc,
                                        g->c + (ic + ir) * g->ldc + jc + jr, g->ldc,
                                        mr, nr, g->alpha, beta);
                    }
                }
            }
        }
    }
}

/* All of op(A)'s rows for K block pc (kc columns): the layout gemm_pack_a
 * stores at m_padded(M) * pc. */
GEMM_TARGET static void GEMM_FN(pack_a_block)(const gemm_args *g, size_t pc, size_t kc,
                                              real *dst)
{
    GEMM_FN(pack_a)(g, 0, g->m, pc, kc, dst);
}

static const gemm_path GEMM_FN(path) = {GEMM_NAME, GEMM_MR, GEMM_NR, GEMM_FN(gemm_part),
                                        GEMM_FN(pack_a_block)};

#undef GEMM_VL
#undef GEMM_MR
#undef GEMM_NV
#undef GEMM_NR
#undef GEMM_VEC_BYTES
#undef GEMM_FN
#undef GEMM_TARGET
#undef GEMM_NAME
