/*
 * tests/test_im2col.c - nn/im2col.c against a naive reference:
 * - im2col / im2col_ld (and im2col_rows_ld by row ranges) equal, value for
 *   value, the definition
 *   col[(c*K + ki)*K + kj][oi*OW + oj] = x[c, oi*s - p + ki, oj*s - p + kj]
 *   (0 outside), for "same" geometries (the fast shifted-copy path: 3x3 pad 1,
 *   5x5 pad 2, tiny and non-square planes) and others (stride 2, no padding,
 *   pad larger than needed), with a row stride ld > OH*OW leaving the gap
 *   untouched;
 * - col2im_add(_ld) is the adjoint of im2col: <im2col(x), v> = <x, col2im(v)>
 *   in double to rounding, and it accumulates (adds to what x held);
 * - col2im_add_ld adds each input element's taps in ascending tap order, bit
 *   for bit as a per-element reference (the 3x3 "same" row loop and the
 *   general loop alike);
 * - the implicit im2col (im2col_pad, im2col_offsets, im2col_fill and
 *   im2col_fill_t: gemm_src panels of col and col^T) packs exactly the
 *   reference's values, for stride-1 geometries, ranges that cross output
 *   rows and end in short panels, panel widths 1..16, and several samples
 *   side by side.
 */
#include "nn/im2col.h"
#include "nn/rng.h"
#include "tests/test.h"

#include <math.h>
#include <string.h>

static conv_geom geom(int c, int h, int w, int k, int stride, int pad)
{
    conv_geom g;
    g.c = c;
    g.h = h;
    g.w = w;
    g.k = k;
    g.stride = stride;
    g.pad = pad;
    g.oh = (h + 2 * pad - k) / stride + 1;
    g.ow = (w + 2 * pad - k) / stride + 1;
    return g;
}

static real naive(const conv_geom *g, const real *x, int r, int p)
{
    int c = r / (g->k * g->k), ki = (r / g->k) % g->k, kj = r % g->k;
    int oi = p / g->ow, oj = p % g->ow;
    int ii = oi * g->stride - g->pad + ki, jj = oj * g->stride - g->pad + kj;
    if (ii < 0 || ii >= g->h || jj < 0 || jj >= g->w) return 0;
    return x[((size_t)c * g->h + ii) * g->w + jj];
}

#define SENTINEL ((real)-12345)

/* im2col_ld with a gap of `extra` columns per row: every value equals the
 * reference and the gap keeps its sentinel. Returns the number of mismatches. */
static int check_geom(int c, int h, int w, int k, int stride, int pad, int extra)
{
    conv_geom g = geom(c, h, w, k, stride, pad);
    size_t rows = (size_t)c * k * k, ohw = (size_t)g.oh * g.ow, ld = ohw + (size_t)extra;
    size_t nx = (size_t)c * h * w, i;
    real *x = (real *)malloc(nx * sizeof(real));
    real *col = (real *)malloc(rows * ld * sizeof(real));
    int bad = 0, r, p;
    rng gen;
    rng_seed(&gen, 11);
    for (i = 0; i < nx; i++) x[i] = (real)rng_uniform_range(&gen, 1, 2);   /* never 0 */
    for (i = 0; i < rows * ld; i++) col[i] = SENTINEL;
    im2col_ld(&g, x, col, ld);
    for (r = 0; r < (int)rows; r++) {
        for (p = 0; p < (int)ohw; p++) bad += col[(size_t)r * ld + p] != naive(&g, x, r, p);
        for (p = (int)ohw; p < (int)ld; p++) bad += col[(size_t)r * ld + p] != SENTINEL;
    }
    {   /* im2col_rows_ld in three row ranges gives the same, gap untouched */
        real *col3 = (real *)malloc(rows * ld * sizeof(real));
        int cut1 = (int)rows / 3, cut2 = 2 * (int)rows / 3;
        for (i = 0; i < rows * ld; i++) col3[i] = SENTINEL;
        im2col_rows_ld(&g, x, col3, ld, cut2, (int)rows);
        im2col_rows_ld(&g, x, col3, ld, 0, cut1);
        im2col_rows_ld(&g, x, col3, ld, cut1, cut2);
        bad += memcmp(col, col3, rows * ld * sizeof(real)) != 0;
        free(col3);
    }
    if (extra == 0) {   /* the plain entry point gives the same */
        real *col2 = (real *)malloc(rows * ohw * sizeof(real));
        im2col(&g, x, col2);
        bad += memcmp(col, col2, rows * ohw * sizeof(real)) != 0;
        free(col2);
    }
    if (bad)
        printf("  im2col c=%d %dx%d k=%d s=%d p=%d ld+%d: %d wrong values\n", c, h, w, k,
               stride, pad, extra, bad);
    free(x);
    free(col);
    return bad;
}

static void test_same_geometries(void)
{
    CHECK(check_geom(2, 5, 5, 3, 1, 1, 0) == 0);
    CHECK(check_geom(3, 14, 14, 3, 1, 1, 0) == 0);
    CHECK(check_geom(1, 7, 4, 3, 1, 1, 3) == 0);    /* non-square, row gap */
    CHECK(check_geom(2, 1, 1, 3, 1, 1, 0) == 0);    /* 1x1 plane: all but the centre tap 0 */
    CHECK(check_geom(2, 2, 3, 3, 1, 1, 2) == 0);
    CHECK(check_geom(2, 6, 5, 5, 1, 2, 0) == 0);    /* 5x5, pad 2 */
    CHECK(check_geom(1, 3, 3, 5, 1, 2, 1) == 0);    /* kernel larger than the plane */
    CHECK(check_geom(4, 8, 8, 1, 1, 0, 0) == 0);    /* 1x1 */
}

static void test_other_geometries(void)
{
    CHECK(check_geom(2, 7, 6, 3, 2, 1, 0) == 0);    /* stride 2 */
    CHECK(check_geom(2, 5, 5, 3, 1, 0, 2) == 0);    /* valid (no padding) */
    CHECK(check_geom(1, 4, 5, 3, 1, 2, 0) == 0);    /* more padding than "same" */
    CHECK(check_geom(3, 6, 5, 2, 2, 0, 1) == 0);    /* even kernel */
    CHECK(check_geom(2, 5, 4, 1, 2, 0, 0) == 0);    /* 1x1 stride 2 */
}

/* <im2col(x), v> == <x, col2im(v)> and col2im adds to x. */
static double adjoint_gap(int c, int h, int w, int k, int stride, int pad, int extra)
{
    conv_geom g = geom(c, h, w, k, stride, pad);
    size_t rows = (size_t)c * k * k, ohw = (size_t)g.oh * g.ow, ld = ohw + (size_t)extra;
    size_t nx = (size_t)c * h * w, i;
    real *x = (real *)malloc(nx * sizeof(real)), *u = (real *)malloc(nx * sizeof(real));
    real *base = (real *)malloc(nx * sizeof(real));
    real *v = (real *)malloc(rows * ld * sizeof(real));
    real *col = (real *)malloc(rows * ld * sizeof(real));
    double lhs = 0, rhs = 0, scale = 0;
    size_t r, p;
    rng gen;
    rng_seed(&gen, 5);
    for (i = 0; i < nx; i++) x[i] = (real)rng_uniform_range(&gen, -1, 1);
    for (i = 0; i < rows * ld; i++) v[i] = (real)rng_uniform_range(&gen, -1, 1);
    for (i = 0; i < nx; i++) base[i] = u[i] = (real)rng_uniform_range(&gen, -1, 1);
    im2col_ld(&g, x, col, ld);
    for (r = 0; r < rows; r++)
        for (p = 0; p < ohw; p++) {
            lhs += (double)col[r * ld + p] * v[r * ld + p];
            scale += fabs((double)col[r * ld + p] * v[r * ld + p]);
        }
    col2im_add_ld(&g, v, ld, u);   /* u = base + fold(v) */
    for (i = 0; i < nx; i++) rhs += (double)x[i] * ((double)u[i] - base[i]);
    free(x);
    free(u);
    free(base);
    free(v);
    free(col);
    return fabs(lhs - rhs) / (scale > 0 ? scale : 1);
}

static void test_col2im_is_adjoint(void)
{
    double tol = sizeof(real) == sizeof(double) ? 1e-12 : 1e-5;
    CHECK(adjoint_gap(2, 5, 5, 3, 1, 1, 0) < tol);
    CHECK(adjoint_gap(3, 9, 7, 3, 1, 1, 4) < tol);
    CHECK(adjoint_gap(2, 7, 6, 3, 2, 1, 0) < tol);
    CHECK(adjoint_gap(1, 6, 5, 5, 1, 2, 2) < tol);
    CHECK(adjoint_gap(2, 5, 4, 2, 2, 0, 1) < tol);
}

/* col2im_add_ld equals, bit for bit, the fold written per input element:
 * x[c, ii, jj] += v[(c, ki, kj)][(oi, oj)] over the taps (ki, kj) in
 * ascending order, (oi, oj) the output whose tap reads (ii, jj) (at most one
 * per tap). Both the general loop and the 3x3 "same" row loop promise this
 * order. Returns the number of elements that differ. */
static int fold_mismatches_set(int c, int h, int w, int k, int stride, int pad, int extra,
                               int set)
{
    conv_geom g = geom(c, h, w, k, stride, pad);
    size_t rows = (size_t)c * k * k, ohw = (size_t)g.oh * g.ow, ld = ohw + (size_t)extra;
    size_t nx = (size_t)c * h * w, i;
    real *u = (real *)malloc(nx * sizeof(real)), *ref = (real *)malloc(nx * sizeof(real));
    real *v = (real *)malloc(rows * ld * sizeof(real));
    int bad = 0, ch, ii, jj, ki, kj;
    rng gen;
    rng_seed(&gen, 9);
    for (i = 0; i < rows * ld; i++) v[i] = (real)rng_uniform_range(&gen, -1, 1);
    for (i = 0; i < nx; i++) u[i] = ref[i] = (real)rng_uniform_range(&gen, -1, 1);
    if (set) {   /* x = 0 + fold: what was in u must not matter */
        for (i = 0; i < nx; i++) ref[i] = 0;
        col2im_set_ld(&g, v, ld, u);
    } else {
        col2im_add_ld(&g, v, ld, u);
    }
    for (ch = 0; ch < c; ch++)
        for (ii = 0; ii < h; ii++)
            for (jj = 0; jj < w; jj++) {
                real *e = ref + ((size_t)ch * h + ii) * w + jj;
                for (ki = 0; ki < k; ki++)
                    for (kj = 0; kj < k; kj++) {
                        int di = ii + pad - ki, dj = jj + pad - kj;   /* oi*stride, oj*stride */
                        if (di < 0 || dj < 0 || di % stride || dj % stride) continue;
                        if (di / stride >= g.oh || dj / stride >= g.ow) continue;
                        *e += v[(((size_t)ch * k + ki) * k + kj) * ld +
                                (size_t)(di / stride) * g.ow + (size_t)(dj / stride)];
                    }
            }
    for (i = 0; i < nx; i++) bad += u[i] != ref[i];
    free(u);
    free(ref);
    free(v);
    return bad;
}

static int fold_mismatches(int c, int h, int w, int k, int stride, int pad, int extra)
{
    return fold_mismatches_set(c, h, w, k, stride, pad, extra, 0) +
           fold_mismatches_set(c, h, w, k, stride, pad, extra, 1);
}

static void test_col2im_tap_order(void)
{
    /* 3x3 same, rows of 12 or more: the three tap rows in one pass */
    CHECK(fold_mismatches(2, 5, 32, 3, 1, 1, 0) == 0);
    CHECK(fold_mismatches(1, 3, 12, 3, 1, 1, 2) == 0);
    CHECK(fold_mismatches(2, 1, 20, 3, 1, 1, 0) == 0);   /* one row: one tap row each */
    CHECK(fold_mismatches(2, 2, 13, 3, 1, 1, 0) == 0);   /* two tap rows each */
    CHECK(fold_mismatches(3, 9, 7, 3, 1, 1, 0) == 0);    /* 3x3 same: row loop */
    CHECK(fold_mismatches(2, 14, 14, 3, 1, 1, 5) == 0);  /* with a gap in ld */
    CHECK(fold_mismatches(2, 1, 6, 3, 1, 1, 0) == 0);    /* one row */
    CHECK(fold_mismatches(2, 5, 1, 3, 1, 1, 3) == 0);    /* one column */
    CHECK(fold_mismatches(1, 2, 2, 3, 1, 1, 0) == 0);
    CHECK(fold_mismatches(2, 7, 6, 3, 2, 1, 1) == 0);    /* general loop: stride 2 */
    CHECK(fold_mismatches(1, 6, 5, 5, 1, 2, 0) == 0);    /* 5x5 same */
    CHECK(fold_mismatches(2, 5, 4, 2, 2, 0, 0) == 0);
}

/* col2im_add (no ld) equals col2im_add_ld with ld = OH*OW, and accumulates. */
static void test_col2im_accumulates(void)
{
    conv_geom g = geom(1, 3, 3, 3, 1, 1);
    real col[9 * 9], x[9];
    int i;
    for (i = 0; i < 81; i++) col[i] = 1;
    for (i = 0; i < 9; i++) x[i] = 100;
    col2im_add(&g, col, x);
    /* each input pixel is read by as many taps as there are output positions
     * whose window covers it: 4 at the corners, 6 at the edges, 9 in the centre */
    CHECK_NEAR(x[0], 104, 0);
    CHECK_NEAR(x[1], 106, 0);
    CHECK_NEAR(x[4], 109, 0);
    CHECK_NEAR(x[8], 104, 0);
}

/* im2col_fill / im2col_fill_t (the implicit im2col of gemm_src panels) for
 * one geometry: for ranges of rows and columns of X = col and X = col^T that
 * start and end inside output rows, cross them, and end in a short panel,
 * and panel widths 1..16, every packed value equals the reference (the
 * padding zeros included: xp starts as sentinels, so a border im2col_pad
 * forgot would show), the missing columns of the last panel are 0, and
 * nothing past the panels is written. Returns the number of mismatches. */
static int check_fill(int c, int h, int w, int k, int pad, int ns)
{
    static const int widths[] = {1, 3, 4, 8, 16};
    conv_geom g = geom(c, h, w, k, 1, pad);
    size_t rows = (size_t)c * k * k, ohw = (size_t)g.oh * g.ow * ns, nx = (size_t)c * h * w * ns;
    size_t plen = im2col_pad_len(&g), pstride = plen + 5, per = (size_t)c * h * w, i;
    size_t *off = (size_t *)malloc(rows * sizeof(size_t));
    real *x = (real *)malloc(nx * sizeof(real));
    real *xp = (real *)malloc(pstride * ns * sizeof(real));
    size_t cap = (rows + 16) * (ohw + 16) + 16;
    size_t sohw = (size_t)g.oh * g.ow;
    real *dst = (real *)malloc(cap * sizeof(real));
    im2col_view v;
    int bad = 0, iw, t, r;
    rng gen;
    rng_seed(&gen, 13);
    for (i = 0; i < nx; i++) x[i] = (real)rng_uniform_range(&gen, 1, 2);   /* never 0 */
    for (i = 0; i < pstride * ns; i++) xp[i] = SENTINEL;
    for (i = 0; i < (size_t)ns; i++) im2col_pad(&g, x + i * per, xp + i * pstride);
    im2col_offsets(&g, off);
    v.g = &g;
    v.xp = xp;
    v.stride = pstride;   /* samples side by side, with a gap between them */
    v.off = off;
    for (t = 0; t < 2; t++) {   /* X = col (rows x ohw), then col^T (ohw x rows) */
        size_t xr = t ? ohw : rows, xc = t ? rows : ohw;
        /* (k0, kc, j0, nc) as fractions of X's extent: whole, inner, tails */
        size_t ranges[5][4];
        ranges[0][0] = 0; ranges[0][1] = xr; ranges[0][2] = 0; ranges[0][3] = xc;
        ranges[1][0] = xr / 3; ranges[1][1] = xr - xr / 3 - xr / 4;
        ranges[1][2] = xc / 5; ranges[1][3] = xc - xc / 5 - xc / 7;
        ranges[2][0] = xr - 1; ranges[2][1] = 1; ranges[2][2] = xc - 1; ranges[2][3] = 1;
        ranges[3][0] = 0; ranges[3][1] = 1; ranges[3][2] = xc / 2; ranges[3][3] = xc - xc / 2;
        ranges[4][0] = xr / 2; ranges[4][1] = xr - xr / 2; ranges[4][2] = 1;
        ranges[4][3] = xc - 1;
        for (iw = 0; iw < (int)(sizeof widths / sizeof widths[0]); iw++)
            for (r = 0; r < 5; r++) {
                int wd = widths[iw];
                size_t k0 = ranges[r][0], kc = ranges[r][1], j0 = ranges[r][2];
                size_t nc = ranges[r][3], npan = (nc + (size_t)wd - 1) / (size_t)wd;
                size_t len = npan * (size_t)wd * kc, s2, p, j;
                if (kc == 0 || nc == 0) continue;
                for (i = 0; i < cap; i++) dst[i] = SENTINEL;
                if (t)
                    im2col_fill_t(&v, k0, kc, j0, nc, wd, dst);
                else
                    im2col_fill(&v, k0, kc, j0, nc, wd, dst);
                for (s2 = 0; s2 < npan * (size_t)wd; s2 += (size_t)wd)
                    for (p = 0; p < kc; p++)
                        for (j = 0; j < (size_t)wd; j++) {
                            real want = 0, got = dst[s2 * kc + p * (size_t)wd + j];
                            size_t pix = t ? k0 + p : j0 + s2 + j, tap = t ? j0 + s2 + j : k0 + p;
                            const real *xs = x + pix / sohw * per;
                            if (s2 + j < nc)
                                want = naive(&g, xs, (int)tap, (int)(pix % sohw));
                            bad += got != want;
                        }
                for (i = len; i < len + 16 && i < cap; i++) bad += dst[i] != SENTINEL;
            }
    }
    if (bad)
        printf("  fill c=%d %dx%d k=%d p=%d x%d: %d wrong values\n", c, h, w, k, pad, ns, bad);
    free(off);
    free(x);
    free(xp);
    free(dst);
    return bad;
}

static void test_fill_panels(void)
{
    CHECK(check_fill(2, 5, 5, 3, 1, 1) == 0);
    CHECK(check_fill(3, 14, 14, 3, 1, 1) == 0);   /* rows shorter than a 16-wide panel */
    CHECK(check_fill(2, 8, 32, 3, 1, 1) == 0);    /* 16-wide panels inside rows */
    CHECK(check_fill(1, 28, 28, 3, 1, 1) == 0);
    CHECK(check_fill(2, 7, 4, 3, 1, 1) == 0);     /* non-square */
    CHECK(check_fill(2, 6, 5, 5, 2, 1) == 0);     /* 5x5, pad 2 */
    CHECK(check_fill(2, 5, 5, 3, 0, 1) == 0);     /* no padding */
    CHECK(check_fill(1, 4, 5, 3, 2, 1) == 0);     /* more padding than "same" */
    CHECK(check_fill(3, 6, 6, 1, 0, 1) == 0);     /* 1x1 */
    CHECK(check_fill(1, 3, 3, 5, 2, 1) == 0);     /* kernel larger than the plane */
    CHECK(check_fill(2, 1, 1, 3, 1, 1) == 0);     /* 1x1 plane */
    /* several samples side by side (conv2d's groups) */
    CHECK(check_fill(2, 7, 7, 3, 1, 3) == 0);
    CHECK(check_fill(1, 3, 3, 3, 1, 5) == 0);     /* a panel spans several samples */
    CHECK(check_fill(2, 4, 16, 3, 1, 2) == 0);    /* 16-wide panels inside rows */
    /* taps in runs of 1 (1x1, 16 channels: more runs than copy_tap_runs takes)
     * and of 2 (2x2: four runs in each 8 taps) in full 8- and 16-wide panels */
    CHECK(check_fill(16, 5, 5, 1, 0, 1) == 0);
    CHECK(check_fill(8, 6, 6, 2, 0, 1) == 0);
}

/* A fill that packed the wrong thing would be seen: one value of x changed
 * after padding (xp holds the old one) makes check-style comparison fail. */
static void test_fill_detects_error(void)
{
    conv_geom g = geom(1, 6, 6, 3, 1, 1);
    size_t off[9];
    real x[36], xp[64], dst[9 * 48];
    im2col_view v;
    int i, bad = 0;
    for (i = 0; i < 36; i++) x[i] = (real)(i + 1);
    im2col_pad(&g, x, xp);
    im2col_offsets(&g, off);
    v.g = &g;
    v.xp = xp;
    v.stride = im2col_pad_len(&g);
    v.off = off;
    im2col_fill(&v, 0, 9, 0, 36, 16, dst);
    x[7] = 100;   /* xp not refreshed */
    for (i = 0; i < 9 * 36; i++) {
        int s2 = i / (9 * 16) * 16, p = i % (9 * 16) / 16, j = i % 16;
        if (s2 + j < 36) bad += dst[i] != naive(&g, x, p, s2 + j);
    }
    CHECK(bad > 0);
    CHECK(im2col_pad_len(&g) == 64);
}

int main(int argc, char **argv)
{
    static const test_case cases[] = {
        TEST_CASE(test_same_geometries),
        TEST_CASE(test_other_geometries),
        TEST_CASE(test_col2im_is_adjoint),
        TEST_CASE(test_col2im_accumulates),
        TEST_CASE(test_col2im_tap_order),
        TEST_CASE(test_fill_panels),
        TEST_CASE(test_fill_detects_error),
    };
    return test_main(argc, argv, cases, TEST_COUNT(cases));
}
