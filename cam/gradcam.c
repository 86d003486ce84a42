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

#include <string.h>

void gradcam_alpha(const real *G, int ns, int k, int z, real *alpha)
{
    int n, c, i;
    for (n = 0; n < ns; n++)
        for (c = 0; c < k; c++) {
            const real *g = G + ((size_t)n * k + c) * z;
            double acc = 0;
            for (i = 0; i < z; i++) acc += g[i];
            alpha[(size_t)n * k + c] = (real)(acc / z);
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

void gradcam_map(const real *A, int ns, int k, int z, gradcam_buf *b)
{
    int n, c, i;
    for (n = 0; n < ns; n++) {
        const real *alpha = b->alpha + (size_t)n * k;
        real *s = b->s + (size_t)n * z, *cam = b->cam + (size_t)n * z;
        real lo, hi, d;
        for (i = 0; i < z; i++) s[i] = 0;
        for (c = 0; c < k; c++) {
            const real *a = A + ((size_t)n * k + c) * z;
            real w = alpha[c];
            for (i = 0; i < z; i++) s[i] += w * a[i];
        }
        relu_range(s, z, &lo, &hi);
        d = hi - lo + (real)GRADCAM_EPS;
        for (i = 0; i < z; i++) cam[i] = ((s[i] > 0 ? s[i] : 0) - lo) / d;
    }
}

void gradcam_forward(const real *A, const real *G, int ns, int k, int z, gradcam_buf *b)
{
    gradcam_alpha(G, ns, k, z, b->alpha);
    gradcam_map(A, ns, k, z, b);
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
    dm /= d;
    dM /= d;
    for (i = 0; i < z; i++) {
        real r = s[i] > 0 ? s[i] : 0;
        double dr = dcam[i] / d;
        if (r == lo) dr += dm / nmin;
        if (r == hi) dr += dM / nmax;
        ds[i] = s[i] > 0 ? (real)dr : 0;
    }
}

void gradcam_backward(const real *A, const gradcam_buf *b, const real *dcam, int ns, int k,
                      int z, real *dA_direct, real *dG, real *ds)
{
    int n, c, i;
    size_t az = (size_t)k * z;
    for (n = 0; n < ns; n++) {
        const real *a = A + n * az;
        const real *alpha = b->alpha + (size_t)n * k;
        gradcam_norm_backward(b->s + (size_t)n * z, b->cam + (size_t)n * z,
                              dcam + (size_t)n * z, z, ds);
        for (c = 0; c < k; c++) {
            const real *ac = a + (size_t)c * z;
            if (dA_direct) {
                real *o = dA_direct + n * az + (size_t)c * z;
                for (i = 0; i < z; i++) o[i] += alpha[c] * ds[i];
            }
            if (dG) {
                real *o = dG + n * az + (size_t)c * z;
                double dalpha = 0;
                real g;
                for (i = 0; i < z; i++) dalpha += (double)ds[i] * ac[i];
                g = (real)(dalpha / z);
                for (i = 0; i < z; i++) o[i] += g;
            }
        }
    }
}
