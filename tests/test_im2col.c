/*
 * tests/test_im2col.c - nn/im2col.c against a naive reference:
 * - im2col / im2col_ld equal, value for value, the definition
 *   col[(c*K + ki)*K + kj][oi*OW + oj] = x[c, oi*s - p + ki, oj*s - p + kj]
 *   (0 outside), for "same" geometries (the fast shifted-copy path: 3x3 pad 1,
 *   5x5 pad 2, tiny and non-square planes) and others (stride 2, no padding,
 *   pad larger than needed), with a row stride ld > OH*OW leaving the gap
 *   untouched;
 * - col2im_add(_ld) is the adjoint of im2col: <im2col(x), v> = <x, col2im(v)>
 *   in double to rounding, and it accumulates (adds to what x held);
 * - col2im_add_ld adds each input element's taps in ascending tap order, bit
 *   for bit as a per-element reference (the 3x3 "same" row loop and the
 *   general loop alike).
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
static int fold_mismatches(int c, int h, int w, int k, int stride, int pad, int extra)
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
    col2im_add_ld(&g, v, ld, u);
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

static void test_col2im_tap_order(void)
{
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

int main(int argc, char **argv)
{
    static const test_case cases[] = {
        TEST_CASE(test_same_geometries),
        TEST_CASE(test_other_geometries),
        TEST_CASE(test_col2im_is_adjoint),
        TEST_CASE(test_col2im_accumulates),
        TEST_CASE(test_col2im_tap_order),
    };
    return test_main(argc, argv, cases, TEST_COUNT(cases));
}
