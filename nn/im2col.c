/*
 * nn/im2col.c - im2col / col2im (see im2col.h).
 *
 * Each row of col (one (c, ki, kj)) is a shifted copy of channel c: for an
 * output row oi the valid columns oj form one interval [lo, hi) (the ones
 * whose input column oj*stride - pad + kj lies inside the image), so a row
 * is zeros, a copy (memcpy at stride 1) and zeros, with no test per element.
 * For a "same" convolution (stride 1, 2 pad = K - 1: every 3x3 layer of the
 * models) a whole row is one shifted copy of the plane plus a few zeros
 * (im2col_row_same): one memcpy instead of one per output row. Its adjoint
 * for 3x3 runs one input row at a time (col2im_channel_same3).
 *
 * Determinism: im2col only copies. col2im_add adds into each element of x
 * its values from the rows of its channel in tap order ((ki, kj) ascending,
 * at most one value per tap), whichever loop runs; channels
 * are independent, so with OpenMP they are split over threads (nn/parallel.h)
 * and the result is the same for any thread count.
 */
#include "nn/im2col.h"
#include "nn/parallel.h"

#include <string.h>

/* Output columns [*lo, *hi) whose input column oj*stride - pad + kj is in [0, w). */
static void valid_cols(const conv_geom *g, int kj, int *lo, int *hi)
{
    int first = g->pad - kj;                 /* need oj*stride >= first */
    int end = g->w + g->pad - kj;            /* need oj*stride < end */
    int l = first <= 0 ? 0 : (first + g->stride - 1) / g->stride;
    int h = end <= 0 ? 0 : (end + g->stride - 1) / g->stride;
    if (h > g->ow) h = g->ow;
    if (l > h) l = h;
    *lo = l;
    *hi = h;
}

/* Row r = (c, ki, kj) of the columns of x. */
static void im2col_row(const conv_geom *g, const real *x, int r, real *row)
{
    int kk = g->k * g->k, c = r / kk, ki = (r / g->k) % g->k, kj = r % g->k;
    const real *xc = x + (size_t)c * g->h * g->w;
    int lo, hi, oi, oj;
    valid_cols(g, kj, &lo, &hi);
    for (oi = 0; oi < g->oh; oi++) {
        int ii = oi * g->stride - g->pad + ki;
        real *dst = row + (size_t)oi * g->ow;
        const real *src;
        if (ii < 0 || ii >= g->h) {
            memset(dst, 0, (size_t)g->ow * sizeof(real));
            continue;
        }
        src = xc + (size_t)ii * g->w;   /* input column of oj: oj*stride - pad + kj */
        for (oj = 0; oj < lo; oj++) dst[oj] = 0;
        if (g->stride == 1) {
            if (hi > lo)
                memcpy(dst + lo, src + (lo - g->pad + kj), (size_t)(hi - lo) * sizeof(real));
        } else {
            for (oj = lo; oj < hi; oj++) dst[oj] = src[oj * g->stride - g->pad + kj];
        }
        for (oj = hi; oj < g->ow; oj++) dst[oj] = 0;
    }
}

/* Row r of the columns for a "same" convolution (stride 1, OH = H, OW = W):
 * the channel plane shifted by d = (ki - pad)*W + (kj - pad), i.e. one
 * contiguous copy of the rows that exist, then zeros where the shift wrapped
 * around a row end (the first pad - kj or last kj - pad columns of each row)
 * and for the rows that fall in the padding. */
static void im2col_row_same(const conv_geom *g, const real *x, int r, real *row)
{
    int kk = g->k * g->k, c = r / kk, ki = (r / g->k) % g->k, kj = r % g->k;
    const real *xc = x + (size_t)c * g->h * g->w;
    int w = g->w, dr = ki - g->pad, dc = kj - g->pad;
    int oi_lo = dr < 0 ? -dr : 0, oi_hi = dr > 0 ? g->h - dr : g->h;
    size_t p0, p1, q;
    int oi, oj;
    if (oi_hi < oi_lo) oi_hi = oi_lo;
    /* positions [p0, p1) read xc[p + dr*w + dc]; keep them inside the plane */
    p0 = (size_t)oi_lo * w;
    p1 = (size_t)oi_hi * w;
    /* the first -dc (last dc) positions would read before (past) the plane;
     * they are wrapped columns, zero anyway */
    for (; dc < 0 && p0 < p1 && p0 < (size_t)oi_lo * w + (size_t)(-dc); p0++) row[p0] = 0;
    for (; dc > 0 && p1 > p0 && p1 > (size_t)oi_hi * w - (size_t)dc; p1--) row[p1 - 1] = 0;
    memset(row, 0, (size_t)oi_lo * w * sizeof(real));
    if (p1 > p0) memcpy(row + p0, xc + (long)p0 + (long)dr * w + dc, (p1 - p0) * sizeof(real));
    for (q = (size_t)oi_hi * w; q < (size_t)g->h * w; q++) row[q] = 0;
    if (dc != 0)
        for (oi = oi_lo; oi < oi_hi; oi++) {
            real *rr = row + (size_t)oi * w;
            if (dc < 0)
                for (oj = 0; oj < -dc; oj++) rr[oj] = 0;
            else
                for (oj = w - dc; oj < w; oj++) rr[oj] = 0;
        }
}

void im2col_ld(const conv_geom *g, const real *x, real *col, size_t ld)
{
    int rows = g->c * g->k * g->k, r;
    int same = g->stride == 1 && g->oh == g->h && g->ow == g->w && 2 * g->pad == g->k - 1;
    GC_OMP_FOR((size_t)rows * g->oh * g->ow)
    for (r = 0; r < rows; r++) {
        if (same) im2col_row_same(g, x, r, col + (size_t)r * ld);
        else im2col_row(g, x, r, col + (size_t)r * ld);
    }
}

void im2col_rows_ld(const conv_geom *g, const real *x, real *col, size_t ld, int r0, int r1)
{
    int same = g->stride == 1 && g->oh == g->h && g->ow == g->w && 2 * g->pad == g->k - 1;
    int r;
    for (r = r0; r < r1; r++) {
        if (same) im2col_row_same(g, x, r, col + (size_t)r * ld);
        else im2col_row(g, x, r, col + (size_t)r * ld);
    }
}

void im2col(const conv_geom *g, const real *x, real *col)
{
    im2col_ld(g, x, col, (size_t)g->oh * g->ow);
}

/* Channel c of x += fold of its K*K rows of col. */
static void col2im_channel(const conv_geom *g, const real *col, size_t ld, int c, real *x)
{
    real *xc = x + (size_t)c * g->h * g->w;
    int ki, kj, oi, oj;
    for (ki = 0; ki < g->k; ki++) {
        for (kj = 0; kj < g->k; kj++) {
            const real *row = col + (((size_t)c * g->k + ki) * g->k + kj) * ld;
            int lo, hi;
            valid_cols(g, kj, &lo, &hi);
            for (oi = 0; oi < g->oh; oi++) {
                int ii = oi * g->stride - g->pad + ki;
                const real *src = row + (size_t)oi * g->ow;
                real *dst;
                if (ii < 0 || ii >= g->h) continue;
                dst = xc + (size_t)ii * g->w;
                if (g->stride == 1) {
                    real *d = dst + (lo - g->pad + kj);
                    const real *s = src + lo;
                    int len = hi - lo, t;
                    for (t = 0; t < len; t++) d[t] += s[t];
                } else {
                    for (oj = lo; oj < hi; oj++) dst[oj * g->stride - g->pad + kj] += src[oj];
                }
            }
        }
    }
}

/* One input row d (w >= 2) of col2im_channel_same3: each element gets its
 * old value (0 if set), then the taps of the nk tap rows a, b, e in turn,
 * kj = 0, 1, 2 each (input column jj receives row kj's output column
 * jj + 1 - kj): the additions one pass per tap row made, in the same
 * order, with d loaded and stored once. set is a constant at each call, so
 * the compiler keeps two copies of the loops. */
static inline void fold_row_same3(real *restrict d, int w, int nk, const real *a0,
                                  const real *a1, const real *a2, const real *b0,
                                  const real *b1, const real *b2, const real *e0,
                                  const real *e1, const real *e2, int set)
{
    int jj;
    {
        real t = set ? (real)0 : d[0];
        t += a0[1];
        t += a1[0];
        if (nk > 1) {
            t += b0[1];
            t += b1[0];
        }
        if (nk > 2) {
            t += e0[1];
            t += e1[0];
        }
        d[0] = t;
    }
    if (nk == 3) {
        for (jj = 1; jj < w - 1; jj++) {
            real t = set ? (real)0 : d[jj];
            t += a0[jj + 1];
            t += a1[jj];
            t += a2[jj - 1];
            t += b0[jj + 1];
            t += b1[jj];
            t += b2[jj - 1];
            t += e0[jj + 1];
            t += e1[jj];
            t += e2[jj - 1];
            d[jj] = t;
        }
    } else if (nk == 2) {
        for (jj = 1; jj < w - 1; jj++) {
            real t = set ? (real)0 : d[jj];
            t += a0[jj + 1];
            t += a1[jj];
            t += a2[jj - 1];
            t += b0[jj + 1];
            t += b1[jj];
            t += b2[jj - 1];
            d[jj] = t;
        }
    } else {
        for (jj = 1; jj < w - 1; jj++) {
            real t = set ? (real)0 : d[jj];
            t += a0[jj + 1];
            t += a1[jj];
            t += a2[jj - 1];
            d[jj] = t;
        }
    }
    {
        real t = set ? (real)0 : d[w - 1];
        t += a1[w - 1];
        t += a2[w - 2];
        if (nk > 1) {
            t += b1[w - 1];
            t += b2[w - 2];
        }
        if (nk > 2) {
            t += e1[w - 1];
            t += e2[w - 2];
        }
        d[w - 1] = t;
    }
}

/* col2im_channel_same3 with one pass per tap row ki (rows narrower than
 * COL2IM_FUSED_MIN_W, below). */
static void col2im_channel_same3_passes(const conv_geom *g, const real *col, size_t ld, int c,
                                 real *x, int set)
{
    int w = g->w, ii, ki, jj;
    real *xc = x + (size_t)c * g->h * w;
    for (ii = 0; ii < g->h; ii++) {
        real *restrict d = xc + (size_t)ii * w;
        if (set)   /* x = 0 + fold: a zeroed row, without reading x */
            for (jj = 0; jj < w; jj++) d[jj] = 0;
        for (ki = 0; ki < 3; ki++) {
            int oi = ii + 1 - ki;   /* output row whose tap ki reads input row ii */
            const real *r0, *r1, *r2;
            if (oi < 0 || oi >= g->oh) continue;
            r0 = col + ((size_t)c * 9 + (size_t)ki * 3) * ld + (size_t)oi * w;
            r1 = r0 + ld;
            r2 = r1 + ld;
            if (w == 1) {
                d[0] += r1[0];
                continue;
            }
            {
                real t = d[0];
                t += r0[1];
                t += r1[0];
                d[0] = t;
            }
            for (jj = 1; jj < w - 1; jj++) {
                real t = d[jj];
                t += r0[jj + 1];
                t += r1[jj];
                t += r2[jj - 1];
                d[jj] = t;
            }
            {
                real t = d[w - 1];
                t += r1[w - 1];
                t += r2[w - 2];
                d[w - 1] = t;
            }
        }
    }
}

/* Channel c of x += fold of its 9 rows of col, for the 3x3 "same" convolution
 * (stride 1, pad 1, OH = H, OW = W) of every model. The same additions as
 * col2im_channel in the same order for each element of x ((ki, kj)
 * ascending; within one (ki, kj) row an element receives at most one
 * value), so the same bits; but one input row at a time, taking the three
 * kj rows of a ki together: input column jj receives row kj's output
 * column jj + 1 - kj (kj = 0 misses the last column, kj = 2 the first).
 * col2im_channel's inner loop runs over one output row minus the wrapped
 * column (13 of 14 values at 14x14), 9 times per input row; this one runs
 * over the whole row, 3 times. Measured single-threaded (-O3 -march=native),
 * the folds of one batch of 32: Level 1 28x28's second conv 1.0 -> 0.26 ms
 * (of a 6 ms exact step), Level 3 64x64's six 3x3 convs 31 -> 13 ms.
 * Rows of COL2IM_FUSED_MIN_W or more then take the (up to) three tap rows
 * in one pass (fold_row_same3: the same additions in the same order, each
 * element loaded and stored once): one channel's fold, x = fold / x +=
 * fold, 16 x 32x32 24 -> 15-19 / 23 -> 19-22 us, 16 x 14x14 6.4 -> 4.3-4.5 /
 * 6.4 -> 4.8-5.1 us, 32 x 64x64 136 -> 86 / 133 -> 101 us; but 128 x 8x8
 * 23 -> 25-27 / 17 -> 30 us, so narrower rows keep one pass per tap row. */
#define COL2IM_FUSED_MIN_W 12

static void col2im_channel_same3(const conv_geom *g, const real *col, size_t ld, int c,
                                 real *x, int set)
{
    int w = g->w, ii, ki, jj;
    real *xc = x + (size_t)c * g->h * w;
    if (w < COL2IM_FUSED_MIN_W) {
        col2im_channel_same3_passes(g, col, ld, c, x, set);
        return;
    }
    for (ii = 0; ii < g->h; ii++) {
        real *restrict d = xc + (size_t)ii * w;
        const real *a0 = NULL, *a1 = NULL, *a2 = NULL, *b0 = NULL, *b1 = NULL, *b2 = NULL;
        const real *e0 = NULL, *e1 = NULL, *e2 = NULL;
        int nk = 0;
        /* the rows (kj = 0, 1, 2) of each tap row ki that reads input row ii,
         * ki ascending: a for the first, b the second, e the third */
        for (ki = 0; ki < 3; ki++) {
            int oi = ii + 1 - ki;   /* output row whose tap ki reads input row ii */
            const real *r0;
            if (oi < 0 || oi >= g->oh) continue;
            r0 = col + ((size_t)c * 9 + (size_t)ki * 3) * ld + (size_t)oi * w;
            if (nk == 0) {
                a0 = r0; a1 = r0 + ld; a2 = r0 + 2 * ld;
            } else if (nk == 1) {
                b0 = r0; b1 = r0 + ld; b2 = r0 + 2 * ld;
            } else {
                e0 = r0; e1 = r0 + ld; e2 = r0 + 2 * ld;
            }
            nk++;
        }
        if (nk == 0) {   /* no output row reads it (not for a "same" conv) */
            if (set)
                for (jj = 0; jj < w; jj++) d[jj] = 0;
            continue;
        }
        if (w == 1) {
            real t = set ? (real)0 : d[0];
            t += a1[0];
            if (nk > 1) t += b1[0];
            if (nk > 2) t += e1[0];
            d[0] = t;
            continue;
        }
        if (set) fold_row_same3(d, w, nk, a0, a1, a2, b0, b1, b2, e0, e1, e2, 1);
        else fold_row_same3(d, w, nk, a0, a1, a2, b0, b1, b2, e0, e1, e2, 0);
    }
}

/* x += fold(col), or x = 0 + fold(col) if set (as into a zeroed x). */
static void col2im_ld(const conv_geom *g, const real *col, size_t ld, real *x, int set)
{
    int c;
    int same3 = g->k == 3 && g->stride == 1 && g->pad == 1 && g->oh == g->h && g->ow == g->w;
    size_t hw = (size_t)g->h * g->w;
    GC_OMP_FOR((size_t)g->c * g->k * g->k * g->oh * g->ow)
    for (c = 0; c < g->c; c++) {
        if (same3) {
            col2im_channel_same3(g, col, ld, c, x, set);
        } else {
            if (set) memset(x + (size_t)c * hw, 0, hw * sizeof(real));
            col2im_channel(g, col, ld, c, x);
        }
    }
}

void col2im_add_ld(const conv_geom *g, const real *col, size_t ld, real *x)
{
    col2im_ld(g, col, ld, x, 0);
}

void col2im_set_ld(const conv_geom *g, const real *col, size_t ld, real *x)
{
    col2im_ld(g, col, ld, x, 1);
}

void col2im_add(const conv_geom *g, const real *col, real *x)
{
    col2im_add_ld(g, col, (size_t)g->oh * g->ow, x);
}


/* ---- implicit im2col (stride 1): gemm_src panels from a padded image ---- */

size_t im2col_pad_len(const conv_geom *g)
{
    return (size_t)g->c * (size_t)(g->h + 2 * g->pad) * (size_t)(g->w + 2 * g->pad);
}

void im2col_pad(const conv_geom *g, const real *x, real *xp)
{
    size_t hp = (size_t)g->h + 2 * (size_t)g->pad, wp = (size_t)g->w + 2 * (size_t)g->pad;
    size_t pad = (size_t)g->pad, w = (size_t)g->w;
    int c, i;
    for (c = 0; c < g->c; c++) {
        real *pl = xp + (size_t)c * hp * wp;
        const real *xc = x + (size_t)c * g->h * w;
        memset(pl, 0, pad * wp * sizeof(real));
        for (i = 0; i < g->h; i++) {
            real *row = pl + (pad + (size_t)i) * wp;
            size_t j;
            for (j = 0; j < pad; j++) row[j] = row[pad + w + j] = 0;
            memcpy(row + pad, xc + (size_t)i * w, w * sizeof(real));
        }
        memset(pl + (pad + (size_t)g->h) * wp, 0, pad * wp * sizeof(real));
    }
}

void im2col_offsets(const conv_geom *g, size_t *off)
{
    size_t hp = (size_t)g->h + 2 * (size_t)g->pad, wp = (size_t)g->w + 2 * (size_t)g->pad;
    int c, ki, kj;
    size_t r = 0;
    for (c = 0; c < g->c; c++)
        for (ki = 0; ki < g->k; ki++)
            for (kj = 0; kj < g->k; kj++) off[r++] = (size_t)c * hp * wp + (size_t)ki * wp + kj;
}

/* The widest panel a gemm path asks for (its NR or MR). */
#define IM2COL_MAX_W 64

/* dst[p*w + j] = src_p[j] for j < w, src_p = base + off[p], p < kc. In the
 * two common widths a memcpy of a constant size, which compilers emit as a
 * few vector moves (a loop over j was vectorised over p instead, with
 * gathers, 3x slower). */
static void fill_rows(real *restrict dst, int w, const real *base, const size_t *off, size_t kc)
{
    size_t p;
    int j;
    if (w == 16) {
        for (p = 0; p < kc; p++) memcpy(dst + p * 16, base + off[p], 16 * sizeof(real));
    } else if (w == 8) {
        for (p = 0; p < kc; p++) memcpy(dst + p * 8, base + off[p], 8 * sizeof(real));
    } else {
        for (p = 0; p < kc; p++) {
            const real *s = base + off[p];
            real *d = dst + p * (size_t)w;
            for (j = 0; j < w; j++) d[j] = s[j];
        }
    }
}

/* dst[p*w + j] = x0[off[p] + at[j]] for j < cnt, 0 for cnt <= j < w: one
 * load per value, for any panel. */
static void fill_gather(real *restrict dst, int w, const real *x0, const size_t *at, size_t cnt,
                        const size_t *off, size_t kc)
{
    size_t p, j;
    for (p = 0; p < kc; p++) {
        const real *src = x0 + off[p];
        real *d = dst + p * (size_t)w;
        for (j = 0; j < cnt; j++) d[j] = src[at[j]];
        for (; j < (size_t)w; j++) d[j] = 0;
    }
}

/* gcc -O3 unrolls the 16- or 8-long loops over lanes completely, then
 * builds scalar code from the pieces (as nn/gemm.c's GEMM_J_LOOP says):
 * this asks it to vectorise them whole. */
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 8
#define IM2COL_LANE_LOOP _Pragma("GCC unroll 1")
#else
#define IM2COL_LANE_LOOP
#endif

/* The most runs fill_runs and copy_tap_runs take: a 16-wide panel of
 * 7-wide rows has 4, as have 8 taps of a 3x3 kernel. */
#define IM2COL_MAX_RUNS 4

/* The runs of consecutive values in pos[0 .. lanes) (pixel or tap offsets
 * in xp, increasing): run r covers lanes [end[r-1], end[r]) (end[-1] = 0),
 * and lane i of it sits at from[r] + i. Runs past the last repeat it (from
 * the same, end = lanes), so that the blends may take all four. Returns the
 * number of runs, or 0 if there are more than IM2COL_MAX_RUNS. */
static int offset_runs(const size_t *pos, int lanes, size_t *from, int *end)
{
    int i, r, nr = 0;
    for (i = 0; i < lanes; i++)
        if (i == 0 || pos[i] != pos[i - 1] + 1) {   /* lane i starts a run */
            if (nr == IM2COL_MAX_RUNS) return 0;
            if (nr > 0) end[nr - 1] = i;
            from[nr++] = pos[i] - (size_t)i;   /* offsets grow by >= 1 per lane */
        }
    for (r = nr - 1; r < IM2COL_MAX_RUNS; r++) {
        from[r] = from[nr - 1];
        end[r] = lanes;
    }
    return nr;
}

/* The same for a full panel (cnt == w, w 8 or 16) whose pixels form at most
 * IM2COL_MAX_RUNS runs of consecutive addresses (a panel that crosses the
 * ends of output rows, or of samples). Run r, lanes [first_r, end_r), reads
 * src_r[j] with src_r = x0 + off[p] + at[first_r] - first_r. Each lane loads
 * every run's value and keeps its own run's: fixed-length loops that the
 * compiler turns into vector loads and blends, where the gather made one
 * scalar load per value (Level 1's 14x14 maps: 16-pixel panels of 14-pixel
 * rows; figures in docs/BENCHMARKS.md). The loads stay inside xp: a panel's
 * addresses grow at least as fast as its lanes (at[j] - at[i] >= j - i for
 * j > i, since a row of xp is at least as wide as an output row, and a
 * sample's copy at least as long as its rows), so every run's lane j lies
 * between at[0] and at[w-1]. Same values as fill_gather, so the same bits.
 * Returns 0 (nothing written) for other panels. */
static int fill_runs(real *restrict dst, int w, const real *x0, const size_t *at,
                     const size_t *off, size_t kc)
{
    const real *r0, *r1, *r2, *r3;
    size_t from[IM2COL_MAX_RUNS], p;
    int end[IM2COL_MAX_RUNS], nr, j, e0, e1, e2;
    if (w != 16 && w != 8) return 0;
    nr = offset_runs(at, w, from, end);
    if (nr == 0) return 0;
    r0 = x0 + from[0], r1 = x0 + from[1], r2 = x0 + from[2], r3 = x0 + from[3];
    e0 = end[0], e1 = end[1], e2 = end[2];
    for (p = 0; p < kc; p++) {
        const real *s0 = r0 + off[p], *s1 = r1 + off[p], *s2 = r2 + off[p], *s3 = r3 + off[p];
        real *d = dst + p * (size_t)w;
        if (nr <= 2 && w == 16) {
            IM2COL_LANE_LOOP
            for (j = 0; j < 16; j++) {
                real v0 = s0[j], v1 = s1[j];
                d[j] = j < e0 ? v0 : v1;
            }
        } else if (w == 16) {
            IM2COL_LANE_LOOP
            for (j = 0; j < 16; j++) {
                real v0 = s0[j], v1 = s1[j], v2 = s2[j], v3 = s3[j];
                d[j] = j < e0 ? v0 : j < e1 ? v1 : j < e2 ? v2 : v3;
            }
        } else {
            IM2COL_LANE_LOOP
            for (j = 0; j < 8; j++) {
                real v0 = s0[j], v1 = s1[j], v2 = s2[j], v3 = s3[j];
                d[j] = j < e0 ? v0 : j < e1 ? v1 : j < e2 ? v2 : v3;
            }
        }
    }
    return 1;
}

/* Where pixel q of the view starts in xp: *base = that sample's padded
 * copy plus the pixel's (oi, oj); *oj = its output column, *oi its row. */
static const real *pixel_at(const im2col_view *v, size_t q, size_t *oi, size_t *oj)
{
    const conv_geom *g = v->g;
    size_t ohw = (size_t)g->oh * g->ow, s = q / ohw, p = q % ohw;
    size_t wp = (size_t)g->w + 2 * (size_t)g->pad;
    *oi = p / (size_t)g->ow;
    *oj = p % (size_t)g->ow;
    return v->xp + s * v->stride + *oi * wp + *oj;
}

/* at[j] = where pixel q + j starts in xp, as an offset from xp, for j <
 * cnt: pixel_at's divisions once, then a step along the output row (the
 * divisions for every pixel cost more than the copies of a short panel). */
static void panel_offsets(const im2col_view *v, size_t q, size_t cnt, size_t *at)
{
    const conv_geom *g = v->g;
    size_t wp = (size_t)g->w + 2 * (size_t)g->pad, oi, oj, j;
    size_t row = (size_t)(pixel_at(v, q, &oi, &oj) - v->xp) - oj;   /* the row's first pixel */
    for (j = 0; j < cnt; j++) {
        at[j] = row + oj;
        if (++oj == (size_t)g->ow) {   /* next output row, or the next sample's first */
            oj = 0;
            row += wp;
            if (++oi == (size_t)g->oh) {
                oi = 0;
                row += v->stride - (size_t)g->oh * wp;
            }
        }
    }
}

/* X = col (C*K*K x samples*OH*OW): panel s holds pixels j0+s .. j0+s+w-1 of
 * rows k0 .. k0+kc-1. A panel inside one output row is one run of w values
 * of xp per row; one that crosses the ends of rows (or samples) in at most
 * 4 runs is loaded run by run and blended (fill_runs); the last, short one,
 * and one of more runs, are gathered value by value (fill_gather), with
 * zeros after the last pixel. */
void im2col_fill(const void *ctx, size_t k0, size_t kc, size_t j0, size_t nc, int w, real *dst)
{
    const im2col_view *v = (const im2col_view *)ctx;
    const conv_geom *g = v->g;
    size_t ow = (size_t)g->ow;
    const size_t *off = v->off + k0;
    size_t s;
    GC_CHECK(g->stride == 1 && w >= 1 && w <= IM2COL_MAX_W);
    for (s = 0; s < nc; s += (size_t)w) {
        size_t cnt = nc - s < (size_t)w ? nc - s : (size_t)w, oi, oj;
        const real *base = pixel_at(v, j0 + s, &oi, &oj);
        real *d = dst + s * kc;
        if (cnt == (size_t)w && oj + cnt <= ow) {
            fill_rows(d, w, base, off, kc);
        } else {
            /* the panel's pixels as offsets in xp */
            size_t at[IM2COL_MAX_W], j;
            const real *x0 = v->xp;
            panel_offsets(v, j0 + s, cnt, at);
            for (j = cnt; j < (size_t)w; j++) at[j] = 0;
            if (cnt < (size_t)w || !fill_runs(d, w, x0, at, off, kc))
                fill_gather(d, w, x0, at, cnt, off, kc);
        }
    }
}

/* Zeros read in place of the missing taps of a short panel (runs of pixels
 * are cut to this length). */
#define IM2COL_ZERO_LEN 256
static const real im2col_zeros[IM2COL_ZERO_LEN];

/* d[t*w + i] = r_i[t] for t < len, i < w, r_i = base + off[i] for i < cnt
 * and the zeros for cnt <= i < w (len <= IM2COL_ZERO_LEN): a transposing
 * copy, eight (then four) sources at a time through named pointers (as
 * nn/gemm_body.h's gather_rows). The missing taps are read from zeros like
 * the others (zeroing them with a loop per pixel became a memset call per
 * pixel). */
static void gather_taps(real *restrict d, size_t w, const real *base, const size_t *off,
                        size_t cnt, size_t len)
{
    const real *src[IM2COL_MAX_W];
    size_t i = 0, t;
    for (i = 0; i < w; i++) src[i] = i < cnt ? base + off[i] : im2col_zeros;
    for (i = 0; i + 8 <= w; i += 8) {
        const real *r0 = src[i], *r1 = src[i + 1], *r2 = src[i + 2], *r3 = src[i + 3];
        const real *r4 = src[i + 4], *r5 = src[i + 5], *r6 = src[i + 6], *r7 = src[i + 7];
        real *q = d + i;
        for (t = 0; t < len; t++) {
            real *o = q + t * w;
            o[0] = r0[t]; o[1] = r1[t]; o[2] = r2[t]; o[3] = r3[t];
            o[4] = r4[t]; o[5] = r5[t]; o[6] = r6[t]; o[7] = r7[t];
        }
    }
    for (; i + 4 <= w; i += 4) {
        const real *r0 = src[i], *r1 = src[i + 1], *r2 = src[i + 2], *r3 = src[i + 3];
        real *q = d + i;
        for (t = 0; t < len; t++) {
            real *o = q + t * w;
            o[0] = r0[t]; o[1] = r1[t]; o[2] = r2[t]; o[3] = r3[t];
        }
    }
    for (; i < w; i++) {
        const real *r0 = src[i];
        for (t = 0; t < len; t++) d[t * w + i] = r0[t];
    }
}

/* Eight taps of a panel as runs of consecutive offsets in xp: the taps
 * (c, ki, 0 .. K-1) of a row of the kernel are neighbours, so 8 taps of a
 * 3x3 kernel are 3 or 4 runs. Tap lane i of run r reads
 * xp[pixel + off[first_r] + (i - first_r)]: from[r] = off[first_r] - first_r,
 * lanes [.., end[r]). */
typedef struct tap_runs {
    size_t from[IM2COL_MAX_RUNS];
    int end[IM2COL_MAX_RUNS];
} tap_runs;

/* 1 and *runs if the 8 taps off[0 .. 8) form at most IM2COL_MAX_RUNS runs. */
static int find_tap_runs(const size_t *off, tap_runs *runs)
{
    return offset_runs(off, 8, runs->from, runs->end) > 0;
}

/* d[t*w + i] = base[t + off_i] for t < len and 8 taps i of a full panel (w
 * 8 or 16: a 16-wide panel is two halves of 8, each in at most 4 runs where
 * the 16 taps are 6): gather_taps's values, with one vector load per run for
 * each pixel and a blend in place of one scalar load per value (figures in
 * docs/BENCHMARKS.md). Lane i of run r reads base + t + from[r] + i, which
 * lies between the pixel's first and last tap of the 8 (the offsets grow by
 * at least 1 per tap), so inside xp. Same values, so the same bits. */
static void copy_tap_runs(real *restrict d, size_t w, const real *base, const tap_runs *runs,
                          size_t len)
{
    const real *r0 = base + runs->from[0], *r1 = base + runs->from[1];
    const real *r2 = base + runs->from[2], *r3 = base + runs->from[3];
    int e0 = runs->end[0], e1 = runs->end[1], e2 = runs->end[2], i;
    size_t t;
    for (t = 0; t < len; t++) {
        const real *s0 = r0 + t, *s1 = r1 + t, *s2 = r2 + t, *s3 = r3 + t;
        real *o = d + t * w;
        IM2COL_LANE_LOOP
        for (i = 0; i < 8; i++) {
            real v0 = s0[i], v1 = s1[i], v2 = s2[i], v3 = s3[i];
            o[i] = i < e0 ? v0 : i < e1 ? v1 : i < e2 ? v2 : v3;
        }
    }
}

/* X = col^T (samples*OH*OW x C*K*K): panel s holds taps j0+s .. j0+s+w-1
 * of pixels k0 .. k0+kc-1, one output row's run of pixels at a time. */
void im2col_fill_t(const void *ctx, size_t k0, size_t kc, size_t j0, size_t nc, int w,
                   real *dst)
{
    const im2col_view *v = (const im2col_view *)ctx;
    const conv_geom *g = v->g;
    size_t ow = (size_t)g->ow;
    size_t s;
    GC_CHECK(g->stride == 1 && w >= 1 && w <= IM2COL_MAX_W);
    for (s = 0; s < nc; s += (size_t)w) {
        size_t cnt = nc - s < (size_t)w ? nc - s : (size_t)w;
        const size_t *off = v->off + j0 + s;
        real *d = dst + s * kc;
        size_t p = 0, q = k0;
        tap_runs half[2];   /* lanes 0-7 and 8-15 */
        int by_runs = cnt == (size_t)w && (w == 8 || w == 16) && find_tap_runs(off, &half[0]) &&
                      (w == 8 || find_tap_runs(off + 8, &half[1]));
        while (p < kc) {
            size_t oi, oj;
            const real *base = pixel_at(v, q, &oi, &oj);
            size_t len = ow - oj < kc - p ? ow - oj : kc - p;
            if (len > IM2COL_ZERO_LEN) len = IM2COL_ZERO_LEN;
            if (by_runs) {
                copy_tap_runs(d + p * (size_t)w, (size_t)w, base, &half[0], len);
                if (w == 16) copy_tap_runs(d + p * 16 + 8, 16, base, &half[1], len);
            } else {
                gather_taps(d + p * (size_t)w, (size_t)w, base, off, cnt, len);
            }
            p += len;
            q += len;
        }
    }
}
