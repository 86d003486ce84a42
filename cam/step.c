/*
 * cam/step.c - the regularised training step and eval-mode Grad-CAM
 * (DESIGN.md section 1 "Training regulariser", section 2 "One exact
 * training step", steps 1-7; the step numbers are cited below).
 *
 * What it deliberately does not do: the optimiser step, the lambda
 * curriculum (metric/curriculum.h), data loading.
 */
#include "cam/step.h"

#include <math.h>
#include <string.h>

#include "nn/loss.h"
#include "nn/fuse.h"
#include "nn/parallel.h"

int cam_grad_mode_parse(const char *s, cam_grad_mode *mode, gc_error *err)
{
    if (strcmp(s, "exact") == 0) *mode = CAM_GRAD_EXACT;
    else if (strcmp(s, "detached") == 0) *mode = CAM_GRAD_DETACHED;
    else return gc_fail(err, "--cam-grad: '%s' is not 'exact' or 'detached'", s);
    return GC_OK;
}

const char *cam_grad_mode_name(cam_grad_mode mode)
{
    return mode == CAM_GRAD_EXACT ? "exact" : "detached";
}

void step_opts_default(step_opts *o)
{
    memset(o, 0, sizeof *o);
    o->lambda = 0;
    o->grad_mode = CAM_GRAD_EXACT;
    o->distance = CONS_L2SQ;
    o->ema_a = 0.9;
}

static real *alloc_real(size_t count) { return (real *)gc_calloc(count, sizeof(real)); }

/* The head's first block if it is a 2x2 max-pool (Level 1 at the paper's
 * target), else NULL: step 3 takes alpha from its plane sums, and its
 * first-order backward writes dA whole (nn/fuse.h). */
static layer *head_first_pool(const model *m)
{
    layer *first = m->target + 1 < m->nblocks ? m->blocks[m->target + 1] : NULL;
    return first && maxpool2d_is_2x2(first) ? first : NULL;
}

int step_init(train_step *st, model *m, gc_error *err) { return step_init_path(st, m, 0, err); }

int step_init_path(train_step *st, model *m, int full_dG, gc_error *err)
{
    size_t az;
    int max_n = m->ctx.max_n;
    memset(st, 0, sizeof *st);
    if (max_n < 1) return gc_fail(err, "step_init: model has no batch capacity");
    st->m = m;
    st->max_n = max_n;
    st->k = m->cam_c;
    st->z = m->cam_h * m->cam_w;
    st->classes = m->classes;
    az = (size_t)max_n * st->k * st->z;
    st->pred = (int *)gc_calloc((size_t)max_n, sizeof(int));
    st->sel = (int *)gc_calloc((size_t)max_n, sizeof(int));
    st->sel_class = (int *)gc_calloc((size_t)max_n, sizeof(int));
    st->class_begin = (int *)gc_calloc((size_t)st->classes + 1, sizeof(int));
    st->row_of = (int *)gc_calloc((size_t)max_n, sizeof(int));
    st->dlogits = alloc_real((size_t)max_n * st->classes);
    st->seed = alloc_real((size_t)max_n * st->classes);
    st->logits_t = alloc_real((size_t)max_n * st->classes);
    st->G = alloc_real(az);
    st->dA = st->G;          /* see step.h: G is dead before dA is first written */
    /* the per-channel exact pass: a head split and no train-mode coupling
     * (model.h splits only heads without BatchNorm; checked anyway) */
    st->per_channel = !full_dG && m->head_post != NULL && !m->head->has_batchnorm;
    if (st->per_channel) {
        size_t mid = (size_t)max_n * layer_out_size(m->head_pre);
        GC_CHECK(m->head_pre->out_c == st->k &&
                 layer_out_size(m->head_pre) == layer_in_size(m->head_post));
        st->g = alloc_real((size_t)max_n * st->k);
        if (m->head_pre->out_h * m->head_pre->out_w > 1) st->g_mid = alloc_real(mid);
        st->d_mid = alloc_real(mid);
    } else {
        st->dG = alloc_real(az);
    }
    if (head_first_pool(m)) {
        st->alpha_from_sums = 1;
        st->plane_nt = GC_MAX_THREADS();
        st->plane_sums = (double *)gc_calloc((size_t)max_n * st->k, sizeof(double));
        st->plane_scratch = alloc_real((size_t)st->plane_nt * st->z);
    }
    st->cb.alpha = alloc_real((size_t)max_n * st->k);
    st->cb.s = alloc_real((size_t)max_n * st->z);
    st->cb.cam = alloc_real((size_t)max_n * st->z);
    st->dcam = alloc_real((size_t)max_n * st->z);
    st->ds = alloc_real((size_t)max_n * st->z);
    if (ema_init(&st->ema, (size_t)st->classes, (size_t)m->cam_h, (size_t)m->cam_w,
                 EMA_DEFAULT_ALPHA, err) != GC_OK)
        return GC_FAIL;
    st->batch_mean = alloc_real((size_t)st->z);
    return GC_OK;
}

void step_free(train_step *st)
{
    free(st->pred); free(st->sel); free(st->sel_class); free(st->class_begin);
    free(st->row_of);
    free(st->dlogits); free(st->seed); free(st->logits_t);
    free(st->G); free(st->dG);   /* dA is the memory of G */
    free(st->g); free(st->g_mid); free(st->d_mid);
    free(st->plane_sums); free(st->plane_scratch);
    free(st->cb.alpha); free(st->cb.s); free(st->cb.cam);
    free(st->dcam); free(st->ds);
    ema_free(&st->ema);
    free(st->batch_mean);
    memset(st, 0, sizeof *st);
}

void step_reset_refs(train_step *st) { ema_reset(&st->ema); }

/* row_of[i] = j for the samples sel[j], j < ns, -1 for the others (n); the
 * Grad-CAM loops split the rows by these samples (cam/gradcam.h). */
static void mark_selected(train_step *st)
{
    int i, j;
    for (i = 0; i < st->n; i++) st->row_of[i] = -1;
    for (j = 0; j < st->ns; j++) st->row_of[st->sel[j]] = j;
    st->cb.row_of = st->row_of;
    st->cb.n = st->n;
}

/* Step 3: B+' = samples with y == pred whose class has >= 2 of them, in
 * class-major order (the public code loops over classes in sorted order). */
static void select_samples(train_step *st, int n, const int *y)
{
    int c, i;
    st->ns = 0;
    for (c = 0; c < st->classes; c++) {
        int count = 0, begin = st->ns;
        for (i = 0; i < n; i++) count += y[i] == c && st->pred[i] == c;
        st->class_begin[c] = begin;
        if (count < 2) continue;
        for (i = 0; i < n; i++)
            if (y[i] == c && st->pred[i] == c) {
                st->sel[st->ns] = i;
                st->sel_class[st->ns] = c;
                st->ns++;
            }
    }
    st->class_begin[st->classes] = st->ns;
    mark_selected(st);
}

static void use_frozen_selection(train_step *st, const step_frozen *f, const int *y)
{
    int c, j;
    st->ns = f->ns;
    for (j = 0; j < f->ns; j++) {
        st->sel[j] = f->sel[j];
        st->sel_class[j] = y[f->sel[j]];
    }
    for (c = 0, j = 0; c <= st->classes; c++) {
        while (j < st->ns && st->sel_class[j] < c) j++;
        st->class_begin[c] = j;
    }
    mark_selected(st);
}

/* Seed e (n, classes): 1 at (i, class) for the selected samples i in
 * sel[from..to), 0 elsewhere. */
static void make_seed(train_step *st, int n, int from, int to)
{
    int j;
    memset(st->seed, 0, (size_t)n * st->classes * sizeof(real));
    for (j = from; j < to; j++) st->seed[(size_t)st->sel[j] * st->classes + st->sel_class[j]] = 1;
}

/* Zero the rows sel[from..to) of a (n, K, Z) tensor; row = K*Z. */
static void zero_rows(real *t, const int *sel, int from, int to, size_t row)
{
    int j;
    for (j = from; j < to; j++) memset(t + (size_t)sel[j] * row, 0, row * sizeof(real));
}

/* Zero the rows of the samples outside sel[0 .. ns) (the others are written). */
static void zero_unselected_rows(const train_step *st, real *t, size_t row)
{
    int i;
    for (i = 0; i < st->n; i++)
        if (st->row_of[i] < 0) memset(t + (size_t)i * row, 0, row * sizeof(real));
}

/* t[0 .. n * per) = 0, a sample per iteration on the OpenMP threads, so
 * that each zeroes the samples it then writes (nn/parallel.h). */
static void zero_samples(real *t, int n, size_t per)
{
    int i;
    GC_OMP_FOR((size_t)n * per)
    for (i = 0; i < n; i++) memset(t + (size_t)i * per, 0, per * sizeof(real));
}

/* Step 3 for a head that does not couple samples: one backward of the
 * seed of B+' (sel[0 .. ns)), then alpha (ns, K) from the rows of G. With
 * st->alpha_from_sums the head's first block, a 2x2 max-pool, is armed to
 * write the plane sums of its adjoint, which is G, instead of G (G is not
 * touched), and alpha of row j = sums[sel[j]] / Z, as gradcam_alpha
 * divides lanes_sum over G's row: the same bits. */
static void alpha_uncoupled(train_step *st)
{
    model *m = st->m;
    layer *pool = head_first_pool(m);
    int j, c;
    make_seed(st, st->n, 0, st->ns);
    if (!st->alpha_from_sums) {
        zero_rows(st->G, st->sel, 0, st->ns, (size_t)st->k * st->z);
        layer_backward(m->head, st->seed, st->G);
        gradcam_alpha(st->G, st->sel, st->ns, st->k, st->z, st->cb.alpha);
        return;
    }
    GC_CHECK(maxpool2d_fuse_plane_sums(pool, st->plane_sums, st->plane_scratch, st->plane_nt));
    layer_backward(m->head, st->seed, st->G);
    maxpool2d_fuse_plane_sums(pool, NULL, NULL, 0);
    for (j = 0; j < st->ns; j++) {
        const double *sums = st->plane_sums + (size_t)st->sel[j] * st->k;
        for (c = 0; c < st->k; c++) st->cb.alpha[(size_t)j * st->k + c] = (real)(sums[c] / st->z);
    }
}

/* Step 3: G = dz/dA (n, K, Z) by backward passes of the seed through the
 * head without touching the parameter gradients; then step 4's alpha
 * (ns, K) from the rows of G of the selected samples, read in place. Per
 * class when the head couples samples: class c's rows come from its own
 * pass (its other rows are thrown away). Only the rows that are read are
 * zeroed first: the backward adds into every row of G, each element's terms
 * into that element alone, so the other rows may hold anything. */
static void compute_G_alpha(train_step *st)
{
    model *m = st->m;
    size_t row = (size_t)st->k * st->z;
    int coupled = layer_batch_coupled(m->head);
    int saved = m->ctx.grad_params, c;
    m->ctx.grad_params = 0;
    if (!coupled) {
        alpha_uncoupled(st);
    } else {
        for (c = 0; c < st->classes; c++) {
            int b = st->class_begin[c], e = st->class_begin[c + 1];
            if (b == e) continue;
            make_seed(st, st->n, b, e);
            zero_rows(st->G, st->sel, b, e, row);
            layer_backward(m->head, st->seed, st->G);
            gradcam_alpha(st->G, st->sel + b, e - b, st->k, st->z,
                          st->cb.alpha + (size_t)b * st->k);
        }
    }
    m->ctx.grad_params = saved;
}

/* Step 4: EMA update of ref_c from the batch mean over B_c+ (before use). */
static void update_refs(train_step *st, double a)
{
    int c, j, i, z = st->z;
    st->ema.alpha = a;
    for (c = 0; c < st->classes; c++) {
        int b = st->class_begin[c], e = st->class_begin[c + 1];
        if (b == e) continue;
        for (i = 0; i < z; i++) {
            double acc = 0;
            for (j = b; j < e; j++) acc += st->cb.cam[(size_t)j * z + i];
            st->batch_mean[i] = (real)(acc / (e - b));
        }
        ema_update(&st->ema, (size_t)c, st->batch_mean);
    }
}

/* Step 4: L_train and (if dcam) its gradient at the maps, times `scale`. */
static double cam_loss(train_step *st, const real *refs, consistency_distance d, double scale,
                       real *dcam)
{
    int j, i, z = st->z;
    double total = 0;
    if (st->ns == 0) return 0;
    for (j = 0; j < st->ns; j++) {
        const real *cam = st->cb.cam + (size_t)j * z;
        const real *ref = refs + (size_t)st->sel_class[j] * z;
        double sq = 0, dist, coef;
        for (i = 0; i < z; i++) sq += ((double)cam[i] - ref[i]) * ((double)cam[i] - ref[i]);
        dist = d == CONS_L2SQ ? sq / z : sqrt(sq) / z;
        total += dist;
        if (!dcam) continue;
        /* d dist / d cam = 2 (cam - ref) / Z  (l2sq);  (cam - ref) / (Z ||cam - ref||)
         * (l2), 0 at a zero distance (PyTorch's norm backward) */
        if (d == CONS_L2SQ) coef = 2.0 / z;
        else coef = sq > 0 ? 1.0 / (z * sqrt(sq)) : 0.0;
        coef *= scale / st->ns;
        for (i = 0; i < z; i++) dcam[(size_t)j * z + i] = (real)(coef * ((double)cam[i] - ref[i]));
    }
    return total / st->ns;
}

/* Steps 1-4: forward, CE, selection, G, maps, references, L_train.
 * Returns 1 if the CAM term is active (lambda != 0 or want_cam, and B+' not empty). */
static int forward_part(train_step *st, const real *x, const int *y, int n, const step_opts *o,
                        const step_frozen *f, step_result *res, int want_grads)
{
    model *m = st->m;
    int active;
    st->n = n;
    st->y = y;
    memset(res, 0, sizeof *res);
    model_set_train(m, 1);
    model_forward(m, x, n);                                       /* step 1 */
    res->loss_ce = ce_loss(m->logits, y, n, st->classes,            /* step 2 */
                           want_grads ? st->dlogits : NULL, st->pred);
    for (int i = 0; i < n; i++) res->n_correct += st->pred[i] == y[i];
    if (f && f->active) use_frozen_selection(st, f, y);              /* step 3 */
    else select_samples(st, n, y);
    active = (o->lambda != 0 || o->want_cam) && st->ns > 0;
    res->n_selected = st->ns;
    for (int c = 0; c < st->classes; c++) res->n_classes += st->class_begin[c + 1] > st->class_begin[c];
    if (!active) {
        res->loss = res->loss_ce;
        return 0;
    }
    compute_G_alpha(st);                                            /* steps 3-4 */
    if (f && f->active && f->alpha)
        memcpy(st->cb.alpha, f->alpha, (size_t)st->ns * st->k * sizeof(real));
    gradcam_map(m->act_a, st->sel, st->ns, st->k, st->z, &st->cb); /* step 4 */
    if (!(f && f->active)) update_refs(st, o->ema_a);
    res->loss_cam = cam_loss(st, f && f->active ? f->ref : st->ema.ref, o->distance, o->lambda,
                             want_grads ? st->dcam : NULL);
    res->loss = res->loss_ce + o->lambda * res->loss_cam;
    return 1;
}

double step_loss(train_step *st, const real *x, const int *y, int n, const step_opts *o,
                 const step_frozen *frozen)
{
    step_result res;
    forward_part(st, x, y, n, o, frozen, &res, 0);
    return res.loss;
}

/* Steps 5-6 (exact), per channel (st->per_channel): dG is constant over
 * each (sample, channel) plane of A, and head_pre's blocks (pools) carry such
 * a tangent to one constant per plane of their output, the same constant,
 * with no second-order term (docs/path-through-G.md). So the tangent starts
 * at head_post's input with g (n, K) (broadcast over the planes when they
 * are larger than 1x1), the tangent_backward with dy = dz_ce, dy_t = e runs
 * through head_post only, and head_pre gets the first-order backward of its
 * adjoint: dA receives the terms the whole head's tangent_backward gave it. */
static void exact_head_per_channel(train_step *st)
{
    model *m = st->m;
    const layer *pre = m->head_pre;
    const real *x_t = st->g;
    size_t plane, mid;
    GC_CHECK(pre != NULL && m->head_post != NULL && pre->out_c == st->k &&
             layer_out_size(pre) == layer_in_size(m->head_post));
    plane = (size_t)pre->out_h * pre->out_w;
    mid = (size_t)st->n * layer_out_size(pre);
    gradcam_backward_g(m->act_a, st->ds, st->sel, st->row_of, st->ns, st->n, st->k, st->z,
                       st->g);
    if (st->g_mid) {   /* (n, K) -> (n, K, h'', w''), planes split as the pools split them */
        long q, nq = (long)st->n * st->k;
        GC_OMP_FOR(mid)
        for (q = 0; q < nq; q++) {
            size_t i;
            for (i = 0; i < plane; i++) st->g_mid[(size_t)q * plane + i] = st->g[q];
        }
        x_t = st->g_mid;
    }
    make_seed(st, st->n, 0, st->ns);
    layer_tangent(m->head_post, x_t, st->logits_t);
    zero_samples(st->d_mid, st->n, mid / (size_t)st->n);
    layer_tangent_backward(m->head_post, st->dlogits, st->seed, st->d_mid, NULL);
    layer_backward(m->head_pre, st->d_mid, st->dA);
}

/* Steps 5-6 (exact): dG (n, K, Z) = step 5's gradient at G on the rows of
 * B+' (written there by gradcam_backward_G; only the other rows are zeroed),
 * the tangent of the head along A_t = dG, then tangent_backward with
 * dy = dz_ce and dy_t = e. Per class when the head couples samples (dG and e
 * restricted to B_c+; the CE adjoint enters once). Accumulates into st->dA
 * and the head's parameter gradients. */
static void exact_head_pass(train_step *st)
{
    model *m = st->m;
    size_t row = (size_t)st->k * st->z;
    int c, first = 1;
    if (st->per_channel) {
        exact_head_per_channel(st);
        return;
    }
    if (!layer_batch_coupled(m->head)) {
        zero_unselected_rows(st, st->dG, row);
        gradcam_backward_G(m->act_a, st->ds, st->sel, st->ns, st->k, st->z, st->dG);
        make_seed(st, st->n, 0, st->ns);
        layer_tangent(m->head, st->dG, st->logits_t);
        layer_tangent_backward(m->head, st->dlogits, st->seed, st->dA, NULL);
        return;
    }
    memset(st->dG, 0, (size_t)st->n * row * sizeof(real));
    for (c = 0; c < st->classes; c++) {
        int b = st->class_begin[c], e = st->class_begin[c + 1];
        if (b == e) continue;
        gradcam_backward_G(m->act_a, st->ds + (size_t)b * st->z, st->sel + b, e - b, st->k,
                           st->z, st->dG);
        make_seed(st, st->n, b, e);
        layer_tangent(m->head, st->dG, st->logits_t);
        layer_tangent_backward(m->head, first ? st->dlogits : NULL, st->seed, st->dA, NULL);
        first = 0;
        zero_rows(st->dG, st->sel, b, e, row);   /* dG is zero again for the next class */
    }
}

void step_run(train_step *st, const real *x, const int *y, int n, const step_opts *o,
              const step_frozen *frozen, step_result *res)
{
    model *m = st->m;
    size_t row = (size_t)st->k * st->z;
    int active, with_reg, exact;
    layer *pool;
    ps_zero_grad(&m->ps);
    active = forward_part(st, x, y, n, o, frozen, res, 1);
    with_reg = active && o->lambda != 0;
    /* step 5: dcam -> ds (ns, Z); dG is made in exact_head_pass, dA_direct at step 7 */
    if (with_reg) gradcam_backward_s(&st->cb, st->dcam, st->ns, st->z, st->ds);
    /* G is dead from here on. dA is zeroed unless the head's first block, a
     * 2x2 max-pool, writes it whole (nn/fuse.h): in the head's first-order
     * backward (and head_pre's in the per-channel exact pass), not in the
     * full-dG exact pass, whose tangent_backward adds */
    exact = with_reg && o->grad_mode == CAM_GRAD_EXACT;
    pool = exact && !st->per_channel ? NULL : head_first_pool(m);
    if (pool) maxpool2d_fuse_zero(pool, 1);
    else memset(st->dA, 0, (size_t)n * row * sizeof(real));
    if (exact) exact_head_pass(st);                                         /* steps 5-6 */
    else layer_backward(m->head, st->dlogits, st->dA);                      /* detached / CE */
    if (pool) maxpool2d_fuse_zero(pool, 0);
    /* step 7: dA += dA_direct = alpha * ds on the rows of B+', after the head's
     * terms (so each element's sum keeps that order, whatever the head) */
    if (with_reg)
        gradcam_backward_A(&st->cb, st->ds, st->sel, st->ns, st->k, st->z, st->dA);
    layer_backward(m->trunk, st->dA, NULL);
}

void step_gradcam(train_step *st, const real *x, const int *cls, int n, real *cam)
{
    model_forward(st->m, x, n);
    step_gradcam_current(st, cls, n, cam);
}

void step_gradcam_current(train_step *st, const int *cls, int n, real *cam)
{
    model *m = st->m;
    size_t row = (size_t)st->k * st->z;
    int j, saved = m->ctx.grad_params;
    real *saved_cam = st->cb.cam;
    GC_CHECK(n == m->head->n);
    st->n = n;
    st->ns = n;
    for (j = 0; j < n; j++) {
        GC_CHECK(cls[j] >= 0 && cls[j] < st->classes);
        st->sel[j] = j;
        st->sel_class[j] = cls[j];
    }
    mark_selected(st);
    m->ctx.grad_params = 0;
    if (!layer_batch_coupled(m->head)) {
        alpha_uncoupled(st);   /* sel[j] = j: every row */
    } else {
        /* train mode with BatchNorm in the head: one pass per class, whose
         * rows of G give the alpha of that class's samples */
        int c;
        for (c = 0; c < st->classes; c++) {
            int any = 0;
            memset(st->seed, 0, (size_t)n * st->classes * sizeof(real));
            for (j = 0; j < n; j++)
                if (cls[j] == c) { st->seed[(size_t)j * st->classes + c] = 1; any = 1; }
            if (!any) continue;
            memset(st->G, 0, (size_t)n * row * sizeof(real));
            layer_backward(m->head, st->seed, st->G);
            for (j = 0; j < n; j++)
                if (cls[j] == c)
                    gradcam_alpha(st->G, &st->sel[j], 1, st->k, st->z,
                                  st->cb.alpha + (size_t)j * st->k);
        }
    }
    m->ctx.grad_params = saved;
    st->cb.cam = cam;
    gradcam_map(m->act_a, NULL, n, st->k, st->z, &st->cb);
    st->cb.cam = saved_cam;
}
