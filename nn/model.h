/*
 * nn/model.h - the paper's five model levels (DESIGN.md section 4) as a flat
 * list of top-level blocks, split at a target block into trunk and head.
 *
 *   blocks[0 .. nfeatures-1]         the `features` Sequential (PyTorch indices)
 *   blocks[nfeatures .. nblocks-1]   the `classifier` Sequential
 *   target T (a features index):     trunk = blocks[0..T], head = blocks[T+1..]
 *   A = output of blocks[T], shape (n, cam_c, cam_h, cam_w)
 *
 * Parameters are registered in `ps` in PyTorch state_dict order under
 * PyTorch's names (features.0.weight, features.1.running_mean, ...,
 * classifier.3.bias). Parameter counts with 2 classes: Level 1 = 4,866;
 * 2 = 389,314; 3 = 1,208,258; 4 = 400,542; 5 = 4,824,962.
 *
 * The model owns the activation between trunk and head (`act_a`), its
 * gradient and tangent buffers, and the logits; trunk and head are
 * sequential views (nn/sequential.c) that own their internal buffers. The
 * trunk is a first-order view: it runs forward and then at most one backward
 * (never a tangent pass), so its buffers share one arena planned by lifetime
 * (docs/MEMORY.md); call model_forward again before every model_backward.
 *
 * Head split (for cam/step.c's exact pass, docs/path-through-G.md): when the
 * head holds no BatchNorm and begins with pooling blocks that carry a
 * per-channel-constant tangent to a per-channel-constant tangent exactly
 * (max-pool, avg-pool, GAP: no parameters, no coupling of samples, no
 * second-order term), head_pre is a view over that leading run and
 * head_post over the rest, and the head is the view [head_pre, head_post]:
 * its forward runs head_pre then head_post through the head's own buffer
 * between them, so each of the three views holds the state of its own
 * last forward and any of them may run backward / tangent passes. With no
 * such run (or BatchNorm in the head) head_pre = head_post = NULL and the
 * head is a view over the blocks themselves.
 */
#ifndef GC_MODEL_H
#define GC_MODEL_H

#include "nn/layer.h"

#define MODEL_MAX_BLOCKS 32
#define MODEL_LEVELS 5

typedef struct model {
    int level;                  /* 1..5 */
    int in_c, in_h, in_w;       /* input shape per sample */
    int classes;
    int nfeatures, nblocks;
    layer *blocks[MODEL_MAX_BLOCKS];
    int target;                 /* features index T */
    layer *trunk, *head;        /* views over blocks[0..T] and blocks[T+1..] */
    layer *head_pre, *head_post; /* head split (above), or both NULL */
    int cam_c, cam_h, cam_w;    /* shape of A per sample */
    param_store ps;
    rng rng;                    /* initialisation, then dropout masks */
    nn_ctx ctx;
    int max_n;                  /* batch capacity */
    int dropout_block;          /* block index of the classifier's dropout, -1: none (Level 1) */
    double dropout_p;           /* its current p (0 if none) */
    real *act_a;                /* (max_n, cam_c, cam_h, cam_w) output of the trunk */
    real *d_act_a;              /* (max_n, cam_c, cam_h, cam_w) dloss/dA (model_backward) */
    real *act_a_t;              /* (max_n, cam_c, cam_h, cam_w) tangent of A (caller fills) */
    real *logits;               /* (max_n, classes) output of the head */
    real *logits_t;             /* (max_n, classes) tangent of the logits */
    char desc[MODEL_MAX_BLOCKS][48]; /* per block: "conv2d 16->32", "maxpool2d 2" */
} model;

/* The paper's target block per level: 4, 13, 8, 17, 8. */
int model_default_target(int level);

/* Build level 1..5 (into *m, which must then stay where it is: the layers
 * point into m->ctx / m->ps / m->rng) for in_c channels, in_h x in_w input, `classes` >= 2, a
 * batch capacity max_n, PyTorch default initialisation from `seed`. The
 * target is the paper's; change it with model_set_target. Eval mode,
 * grad_params on. GC_FAIL (nothing left allocated) for a bad level, in_c < 1,
 * classes < 2, max_n < 1, or an input too small for the max-pools (any side
 * below 4 for Level 1, 8 for Levels 2-5) or too large. */
int model_build(model *m, int level, int in_c, int in_h, int in_w, int classes,
                int max_n, uint64_t seed, gc_error *err);
void model_free(model *m);

/* Split at features index T (0 <= T < nfeatures); rebuilds trunk/head views
 * (and head_pre / head_post, see above) and the A buffers (act_a, d_act_a,
 * act_a_t). T = nfeatures-1 leaves the
 * classifier alone as the head. Run model_forward again before any
 * backward/tangent pass. GC_FAIL (model unchanged) for T out of range. */
int model_set_target(model *m, int target, gc_error *err);

void model_set_train(model *m, int train);   /* train / eval mode */
void model_set_dropout(model *m, double p);  /* the dropout's p, 0 <= p < 1 (--dropout 0) */

/* Full forward: x (n, in_c, in_h, in_w) -> m->act_a -> m->logits.
 * x must stay unchanged until the matching backward (layers cache it). */
void model_forward(model *m, const real *x, int n);
/* Ordinary backward of dlogits (n, classes) through head and trunk into the
 * parameter gradients (dx not computed). Accumulates; caller zeroes grads.
 * m->d_act_a is overwritten with dlogits' gradient w.r.t. A (zeroed first). */
void model_backward(model *m, const real *dlogits);

/* Name of block i ("features.4"); a short description ("conv2d 16->32"). */
const char *model_block_name(const model *m, int i);
const char *model_block_desc(const model *m, int i);

/* Shape of A per sample (the output of features[target]) without changing
 * the model's target. GC_FAIL if target is not a features index. */
int model_cam_shape(const model *m, int target, int *c, int *h, int *w, gc_error *err);

/* Number of parameter scalars (BatchNorm running buffers not counted). */
size_t model_param_count(const model *m);

#endif
