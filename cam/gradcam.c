/*
 * cam/gradcam.c - Grad-CAM maps and their backward (DESIGN.md section 1,
 * section 2 steps 4-5). See gradcam.h for the equations.
 *
 * Backward of the normalisation, with D = max r - min r + eps, m = min r,
 * M = max r, cam = (r - m) / D:
 *   d cam_ij / d r_ij = 1 / D
 *   d cam_ij / d m    = (cam_ij - 1) / D
 *   d cam_ij / d M    = -cam_ij / D
 * so dm = sum dcam (cam - 1) / D and dM = -sum dcam cam / D, shared evenly
 * among the positions that attain the min (resp. max), as torch.amin/amax
 * do. Then ds = dr * [s > 0] (ReLU'(0) = 0).
 * Checked by tests/test_gradcam.c against finite differences.
 */
#include "cam/gradcam.h"
#include "nn/lanes.h"
#include "nn/parallel.h"

#include <string.h>

/* Sums over a map run in the interleaved partial sums of nn/lanes.h; the
 * parallel loops below give each thread whole rows or samples, so the bits
 * do not depend on the thread count. */

/* sum_i a[i] b[i] (products in double) */
static double map_dot(const real *a, const real *b, int z)
{
    double acc[LANES] = {0};
    int i = 0, j;
    for (; i + LANES <= z; i += LANES)
        for (j = 0; j < LANES; j++) acc[j] += (double)a[i + j] * b[i + j];
    for (j = 0; i + j < z; j++) acc[j] += (double)a[i + j] * b[i + j];
    return lanes_total(acc);
}

/* Row j of the selection: sample rows[j], or j when rows is NULL. */
static size_t sample_of(const int *rows, int j) { return (size_t)(rows ? rows[j] : j); }

/* The parallel loops below run over units u < units(...): the n samples of A
 * when row_of is given (unit u is sample u, row row_of[u], skipped if -1),
 * so that the OpenMP threads split the batch as the layers do, else the ns
 * rows (unit u is row u). In the step the rows are class-major: split by
 * rows, each thread read half of its rows of A from the samples the other
 * thread had written (in the slow state of docs/BENCHMARKS.md, a cache line
 * that crosses between threads costs ~340 ns). */
static long units(const int *row_of, int n, int ns) { return row_of ? n : ns; }
static int row_at(const int *row_of, long u) { return row_of ? row_of[u] : (int)u; }

void gradcam_alpha(const real *G, const int *rows, int ns, int k, int z, real *alpha)
{
    long jc, count = (long)ns * k;   /* one (selected sample j, channel c) pair each */
    GC_OMP_FOR((size_t)count * z)
    for (jc = 0; jc < count; jc++) {
        int j = (int)(jc / k), c = (int)(jc % k);
        const real *g = G + (sample_of(rows, j) * k + c) * z;
        alpha[jc] = (real)(lanes_sum(g, (size_t)z) / z);
    }
}

/* min and max of r = ReLU(s) over one map */
static void relu_range(const real *s, int z, real *lo, real *hi)
{
    int i;
    *lo = *hi = s[0] > 0 ? s[0] : 0;
    for (i = 1; i < z; i++) {
        real r = s[i] > 0 ? s[i] : 0;
        if (r < *lo) *lo = r;
        if (r > *hi) *hi = r;
    }
}

/* s and cam of row j, from A[rows[j]] and its alpha */
static void map_row(const real *A, const int *rows, int j, int k, int z, gradcam_buf *b)
{
    const real *a_row = A + sample_of(rows, j) * k * z;   /* (K, Z) */
    const real *alpha = b->alpha + (size_t)j * k;
    real *s = b->s + (size_t)j * z, *cam = b->cam + (size_t)j * z;
    real lo, hi, d;
    int c, i;
    for (i = 0; i < z; i++) s[i] = 0;
    for (c = 0; c < k; c++) {
        const real *a = a_row + (size_t)c * z;
        real w = alpha[c];
        for (i = 0; i < z; i++) s[i] += w * a[i];
    }
    relu_range(s, z, &lo, &hi);
    d = hi - lo + (real)GRADCAM_EPS;
    for (i = 0; i < z; i++) cam[i] = ((s[i] > 0 ? s[i] : 0) - lo) / d;
}

void gradcam_map(const real *A, const int *rows, int ns, int k, int z, gradcam_buf *b)
{
    long u, nu = units(b->row_of, b->n, ns);
    GC_OMP_FOR((size_t)ns * k * z)
    for (u = 0; u < nu; u++) {
        int j = row_at(b->row_of, u);
        if (j >= 0) map_row(A, rows, j, k, z, b);
    }
}

void gradcam_forward(const real *A, const real *G, const int *rows, int ns, int k, int z,
                     gradcam_buf *b)
{
    gradcam_alpha(G, rows, ns, k, z, b->alpha);
    gradcam_map(A, rows, ns, k, z, b);
}

void gradcam_norm_backward(const real *s, const real *cam, const real *dcam, int z, real *ds)
{
    int i, nmin = 0, nmax = 0;
    real lo, hi, d;
    double dm = 0, dM = 0;
    relu_range(s, z, &lo, &hi);
    d = hi - lo + (real)GRADCAM_EPS;
    for (i = 0; i < z; i++) {
        real r = s[i] > 0 ? s[i] : 0;
        nmin += r == lo;
        nmax += r == hi;
        dm += (double)dcam[i] * (cam[i] - 1);
        dM -= (double)dcam[i] * cam[i];
    }
    dm = dm / d / nmin;   /* each min position's share */
    dM = dM / d / nmax;
    /* -0 is added where a position is not the min (max): dr + (-0) = dr,
     * so these are selects and adds, not branches (a map's zeros are all
     * at the min, so a branch on r == lo mispredicts) */
    for (i = 0; i < z; i++) {
        real r = s[i] > 0 ? s[i] : 0;
        double dr = dcam[i] / d;
        dr += r == lo ? dm : -0.0;
        dr += r == hi ? dM : -0.0;
        ds[i] = s[i] > 0 ? (real)dr : (real)0;
    }
}

void gradcam_backward_s(const gradcam_buf *b, const real *dcam, int ns, int z, real *ds)
{
    long u, nu = units(b->row_of, b->n, ns);
    /* work: a division in double per element, ~8x a copy's (Level 1 28x28:
     * 6272 elements took 32 us on one thread) */
    GC_OMP_FOR((size_t)ns * z * 8)
    for (u = 0; u < nu; u++) {
        int j = row_at(b->row_of, u);
        size_t off;
        if (j < 0) continue;
        off = (size_t)j * z;
        gradcam_norm_backward(b->s + off, b->cam + off, dcam + off, z, ds + off);
    }
}

/* dA_direct[rows[j]] (K, Z) += alpha_jc * ds_j for each channel c */
static void add_row_A(const gradcam_buf *b, const real *ds, const int *rows, int j, int k, int z,
                      real *dA_direct)
{
    const real *ds_j = ds + (size_t)j * z;
    int c, i;
    for (c = 0; c < k; c++) {
        real w = b->alpha[(size_t)j * k + c];
        real *o = dA_direct + (sample_of(rows, j) * k + c) * z;
        for (i = 0; i < z; i++) o[i] += w * ds_j[i];
    }
}

void gradcam_backward_A(const gradcam_buf *b, const real *ds, const int *rows, int ns, int k,
                        int z, real *dA_direct)
{
    long u, nu = units(b->row_of, b->n, ns);   /* the rows write disjoint rows of dA */
    GC_OMP_FOR((size_t)ns * k * z)
    for (u = 0; u < nu; u++) {
        int j = row_at(b->row_of, u);
        if (j >= 0) add_row_A(b, ds, rows, j, k, z, dA_direct);
    }
}

/* dalpha / Z of selected sample j, channel c: the value of every entry of
 * its dG row (sum_ij ds_j A[rows[j], c]) / Z. */
static real dG_value(const real *A, const real *ds, const int *rows, int j, int c, int k, int z)
{
    size_t off = (sample_of(rows, j) * k + c) * z;
    return (real)(map_dot(ds + (size_t)j * z, A + off, z) / z);
}

void gradcam_backward_G(const real *A, const real *ds, const int *rows, int ns, int k, int z,
                        real *dG)
{
    long jc, count = (long)ns * k;   /* (sample, channel) pairs write disjoint rows */
    GC_OMP_FOR((size_t)count * z)
    for (jc = 0; jc < count; jc++) {
        int j = (int)(jc / k), c = (int)(jc % k), i;
        real g = dG_value(A, ds, rows, j, c, k, z);
        real *o = dG + (sample_of(rows, j) * k + c) * z;
        for (i = 0; i < z; i++) o[i] = g;
    }
}

void gradcam_backward_g(const real *A, const real *ds, const int *rows, const int *row_of,
                        int ns, int n, int k, int z, real *g)
{
    long u, nu = units(row_of, n, ns);
    GC_CHECK(ns <= n);
    if (!row_of) memset(g, 0, (size_t)n * k * sizeof(real));
    GC_OMP_FOR((size_t)ns * k * z)
    for (u = 0; u < nu; u++) {
        int j = row_at(row_of, u), c;
        if (j < 0) {   /* row_of: sample u is not selected */
            memset(g + (size_t)u * k, 0, (size_t)k * sizeof(real));
            continue;
        }
        for (c = 0; c < k; c++) g[sample_of(rows, j) * k + c] = dG_value(A, ds, rows, j, c, k, z);
    }
}

void gradcam_backward(const real *A, const int *rows, const gradcam_buf *b, const real *dcam,
                      int ns, int k, int z, real *dA_direct, real *dG, real *ds)
{
    gradcam_backward_s(b, dcam, ns, z, ds);
    if (dA_direct) gradcam_backward_A(b, ds, rows, ns, k, z, dA_direct);
    if (dG) gradcam_backward_G(A, ds, rows, ns, k, z, dG);
}
