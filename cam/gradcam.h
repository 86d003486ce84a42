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
 * These functions read and write the rows of the selected samples in place:
 * A, G, dA_direct and dG are whole (n, K, Z) tensors and `rows` (ns) lists
 * the distinct sample indices to use (NULL: rows 0 .. ns-1); the per-map arrays
 * (alpha, s, cam, dcam, ds) hold one row per entry of `rows`, in its order.
 * They neither allocate nor know about models. cam/step.c runs the model
 * passes.
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
    /* Optional (NULL: the OpenMP threads split the rows j): row_of[i] = the
     * row j of sample i of A (rows[j] == i), or -1, for i < n. The threads
     * then split the samples as the layers' per-sample loops do, so each
     * reads and writes the rows of A and dA that it wrote itself (same
     * results; nn/parallel.h). */
    const int *row_of;
    int n;
} gradcam_buf;

/* alpha (ns, K): alpha[j] = spatial mean of G[rows[j]] (K, Z). */
void gradcam_alpha(const real *G, const int *rows, int ns, int k, int z, real *alpha);
/* s and cam (ns, Z) from A[rows[j]] (K, Z) and b->alpha (already filled). */
void gradcam_map(const real *A, const int *rows, int ns, int k, int z, gradcam_buf *b);
/* Both: cam for the ns samples `rows` from A and G. */
void gradcam_forward(const real *A, const real *G, const int *rows, int ns, int k, int z,
                     gradcam_buf *b);

/* The backward in three parts, so that a caller can order them (cam/step.c
 * adds dA_direct after the head's pass, DESIGN.md section 2 step 7):
 *   ds (ns, Z)      = d loss / d s given dcam (ns, Z)  (normalisation, ReLU)
 *   dA_direct[r_j] += alpha_j * ds_j                   (K, Z), the path through A in s
 *   dG[r_j]         = (sum_ij ds_j * A[r_j]) / Z        broadcast over (i, j)
 * dG is written, not accumulated: G feeds nothing but alpha, so no other
 * term adds to it (and the caller need not zero the rows first). */
void gradcam_backward_s(const gradcam_buf *b, const real *dcam, int ns, int z, real *ds);
void gradcam_backward_A(const gradcam_buf *b, const real *ds, const int *rows, int ns, int k,
                        int z, real *dA_direct);
void gradcam_backward_G(const real *A, const real *ds, const int *rows, int ns, int k, int z,
                        real *dG);
/* dG's one value per (sample, channel): g (n, K), g[r_j, c] = the value
 * gradcam_backward_G broadcasts over row (r_j, c), same arithmetic; the
 * rows of the n samples not in `rows` are zeroed (all of g is written).
 * For cam/step.c's per-channel exact pass (docs/path-through-G.md).
 * row_of: optional, as gradcam_buf's. */
void gradcam_backward_g(const real *A, const real *ds, const int *rows, const int *row_of,
                        int ns, int n, int k, int z, real *g);

/* All three: given dcam (ns, Z), ds (ns, Z) is filled, dA_direct
 * accumulated and dG written at the rows; either of them may be NULL. */
void gradcam_backward(const real *A, const int *rows, const gradcam_buf *b, const real *dcam,
                      int ns, int k, int z, real *dA_direct, real *dG, real *ds);

/* Backward of the min-max normalisation and the ReLU for one map:
 * ds[i] = d loss / d s[i] given dcam (Z values). */
void gradcam_norm_backward(const real *s, const real *cam, const real *dcam, int z, real *ds);

#endif
