/*
 * cam/step.h - one training step of the regularised loss
 *   loss = CE(z, y) + lambda * L_train                  (DESIGN.md section 1)
 * with its exact gradient through G = dz/dA (`exact`, the default: tangent
 * and tangent_backward passes of the head, DESIGN.md section 2) or with alpha
 * held constant as the public PyTorch code does (`detached`).
 * Also Grad-CAM maps for a batch in eval mode (the metric's input).
 *
 * The step computes gradients into m->ps.grad (zeroed first); the optimiser
 * step is the caller's. Nothing is allocated after step_init.
 */
#ifndef GC_STEP_H
#define GC_STEP_H

#include "cam/gradcam.h"
#include "metric/consistency.h"
#include "metric/ema.h"
#include "nn/model.h"

typedef enum cam_grad_mode {
    CAM_GRAD_EXACT = 0,      /* d/dtheta of the whole loss, through G (paper) */
    CAM_GRAD_DETACHED = 1    /* alpha held constant (public code) */
} cam_grad_mode;

int cam_grad_mode_parse(const char *s, cam_grad_mode *mode, gc_error *err);
const char *cam_grad_mode_name(cam_grad_mode mode);

typedef struct step_opts {
    double lambda;                  /* lambda_t of this step (0: plain CE step) */
    cam_grad_mode grad_mode;
    consistency_distance distance;
    double ema_a;                   /* EMA factor a, 0.9 */
    int want_cam;                   /* compute the maps even when lambda == 0 */
} step_opts;

void step_opts_default(step_opts *o);

/* For finite-difference tests: hold the selected set, the reference maps
 * and (detached) alpha at given values instead of recomputing them. */
typedef struct step_frozen {
    int active;
    int ns;                 /* number of selected samples */
    const int *sel;         /* (ns) sample indices, class-major order */
    const real *ref;        /* (classes, Z) reference maps */
    const real *alpha;      /* (ns, K) or NULL: alpha is recomputed */
} step_frozen;

typedef struct step_result {
    double loss, loss_ce, loss_cam;   /* loss = loss_ce + lambda * loss_cam */
    int n_selected;                   /* |B+'| */
    int n_classes;                    /* |C'| */
    int n_correct;                    /* correct predictions in the batch */
} step_result;

typedef struct train_step {
    model *m;
    int max_n, k, z, classes;
    /* per batch */
    int n;
    const int *y;
    int *pred;              /* (max_n) argmax of the logits */
    int ns;                 /* selected samples, class-major */
    int *sel;               /* (max_n) their indices */
    int *sel_class;         /* (max_n) their classes */
    int *class_begin;       /* (classes + 1) sel[class_begin[c] .. class_begin[c+1]) */
    int *row_of;            /* (max_n) j if sample i is sel[j], -1 if not selected */
    /* buffers */
    real *dlogits;          /* (max_n, classes) */
    real *seed;             /* (max_n, classes) e: one-hot of the selected samples */
    real *logits_t;         /* (max_n, classes) tangent of the logits */
    /* The buffers of the size of A, (max_n, K, Z), whose selected rows
     * sel[0 .. ns) are read and written in place (no copies of them). G is
     * last read at step 4 (alpha) and dA first zeroed before step 6: one
     * allocation holds both. dG exists only for the full-dG exact pass. */
    real *G;                /* dz/dA (steps 3-4) */
    real *dA;               /* gradient at A (steps 6-7); the memory of G */
    real *dG;               /* gradient at G, A_t of the exact pass (steps 5-6); NULL when
                               per_channel (then the exact pass never builds it) */
    /* The per-channel exact pass (docs/path-through-G.md, "dG is constant per
     * channel"): with the model's head split (nn/model.h: head_pre, head_post)
     * dG's constant rows go as g (n, K) straight to head_post's input, and
     * head_pre runs its first-order backward only. */
    int per_channel;        /* 1: the exact pass takes that path (fixed at step_init) */
    real *g;                /* (max_n, K) dG's value per (sample, channel) */
    real *g_mid;            /* (max_n, head_pre's output) g broadcast over its planes;
                               NULL when they are 1x1 (g is used as it is) */
    real *d_mid;            /* (max_n, head_pre's output) adjoint between the halves */
    /* alpha without G (step 3) when the head begins with a 2x2 max-pool
     * (Level 1 at the paper's target): the head's backward of the seed runs
     * with that pool armed to write the plane sums of its adjoint instead
     * of the adjoint (nn/fuse.h, maxpool2d_fuse_plane_sums), the sums
     * gradcam_alpha takes over G's rows, to the same bits; G is then never
     * written. Fixed at step_init; a test may clear it to force the G path. */
    int alpha_from_sums;
    double *plane_sums;     /* (max_n, K) */
    real *plane_scratch;    /* (plane_nt, Z): one plane per thread */
    int plane_nt;
    gradcam_buf cb;         /* alpha (max_n, K), s and cam (max_n, Z): row j = sample sel[j] */
    real *dcam;             /* (max_n, Z) */
    real *ds;               /* (max_n, Z) d loss / d s (step 5; step 7 uses it again) */
    /* EMA class references (DESIGN.md section 1) */
    ema_refs ema;           /* ref_c (classes, Z) and their initialised flags */
    real *batch_mean;       /* (Z) scratch */
} train_step;

int step_init(train_step *st, model *m, gc_error *err);
/* step_init, but with full_dG = 1 the exact pass builds the whole dG and runs
 * the whole head even where the per-channel path applies (tests compare the
 * two paths; nothing else needs it). step_init is step_init_path(.., 0, ..). */
int step_init_path(train_step *st, model *m, int full_dG, gc_error *err);
void step_free(train_step *st);
/* Forget the EMA references (a fresh run). */
void step_reset_refs(train_step *st);

/* One step on x (n, C, H, W) with labels y (n): model in train mode,
 * gradients in m->ps.grad. frozen may be NULL. */
void step_run(train_step *st, const real *x, const int *y, int n, const step_opts *o,
              const step_frozen *frozen, step_result *res);

/* The loss only (no gradients), for finite differences; same arguments. */
double step_loss(train_step *st, const real *x, const int *y, int n, const step_opts *o,
                 const step_frozen *frozen);

/* Grad-CAM maps in the model's current mode for classes cls (n) (for the
 * metric: the labels of correctly classified samples; for a gallery: the
 * predictions). Writes logits to m->logits, maps to cam (n, Z). */
void step_gradcam(train_step *st, const real *x, const int *cls, int n, real *cam);
/* The same for the batch of the last model_forward (no second forward). */
void step_gradcam_current(train_step *st, const int *cls, int n, real *cam);

#endif
