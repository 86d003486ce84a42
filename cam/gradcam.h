/*
 * cam/gradcam.h - Grad-CAM maps from A and G, and their backward
 * (DESIGN.md section 1 "Grad-CAM", section 2 steps 4-5).
 *
 * For one sample, A and G are (K, H', W'), Z = H'W':
 *   alpha_k = (1/Z) sum_ij G[k,i,j]
 *   s[i,j]  = sum_k alpha_k A[k,i,j]
 *   r       = ReLU(s)
 *   cam     = (r - min r) / (max r - min r + eps),   eps = 1e-8
 * The backward takes dcam and returns dA_direct (the path through A in s)
 * and dG (the path through alpha); ReLU'(0) = 0; ties at the min or max share
 * their gradient evenly, as torch.amin / torch.amax do.
 *
 * These functions work on `ns` samples stored contiguously; they neither
 * allocate nor know about models. cam/step.c runs the model passes.
 */
#ifndef GC_GRADCAM_H
#define GC_GRADCAM_H

#include "nn/core.h"

#define GRADCAM_EPS 1e-8

/* What the backward needs from the forward, per sample (caller-owned). */
typedef struct gradcam_buf {
    real *alpha;   /* (ns, K) channel weights */
    real *s;       /* (ns, Z) weighted sum before ReLU */
    real *cam;     /* (ns, Z) normalised map in [0, 1] */
} gradcam_buf;

/* alpha (ns, K) = spatial mean of G (ns, K, Z). */
void gradcam_alpha(const real *G, int ns, int k, int z, real *alpha);
/* s and cam (ns, Z) from A (ns, K, Z) and b->alpha (already filled). */
void gradcam_map(const real *A, int ns, int k, int z, gradcam_buf *b);
/* Both: cam for ns samples from A and G. */
void gradcam_forward(const real *A, const real *G, int ns, int k, int z, gradcam_buf *b);

/* Given dcam (ns, Z): dA_direct += alpha * ds (ns, K, Z) and
 * dG += (sum_ij ds * A) / Z broadcast over (i, j) (ns, K, Z).
 * Either output may be NULL. `ds` is scratch (Z reals). */
void gradcam_backward(const real *A, const gradcam_buf *b, const real *dcam, int ns, int k,
                      int z, real *dA_direct, real *dG, real *ds);

/* Backward of the min-max normalisation and the ReLU for one map:
 * ds[i] = d loss / d s[i] given dcam (Z values). */
void gradcam_norm_backward(const real *s, const real *cam, const real *dcam, int z, real *ds);

#endif
