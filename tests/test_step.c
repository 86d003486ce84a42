/*
 * tests/test_step.c - the regularised training step (cam/step.c) against
 * finite differences of the loss, for all five levels, both gradient modes,
 * both distances, at the paper's target and at an earlier target whose head
 * contains convolutions, BatchNorm (train mode: per-class G) and SE
 * (DESIGN.md section 3, "Whole step").
 *
 * How the finite differences are made honest:
 * - the reference maps and the selected set are frozen at their values at
 *   theta_0 (a fresh EMA re-initialised at theta +- h v is another function);
 * - `detached` is compared with the loss whose alpha is also frozen;
 * - the dropout masks are the same in every evaluation (RNG state restored);
 * - a difference taken with steps h and 2h that disagree crossed a kink
 *   (ReLU mask, max-pool route, CAM min/max position) and is not evidence:
 *   it is skipped and counted, and too many skips fail the case.
 * - a difference whose two one-sided slopes disagree crossed a kink (ReLU
 *   mask, max-pool route, CAM min/max position) and is not evidence: it is
 *   skipped and counted, and too many skips fail the case.
 * Labels are the model's own predictions with the classifier bias shifted so
 * that both classes have >= 2 correct samples: every sample is selected.
 */
#include "cam/step.h"
#include "tests/test.h"

#include <string.h>

#define N 6
#define CLASSES 2
#define LAMBDA 30.0
#define H 1e-5
#define TOL 1e-6
#define KINK_REL 1e-4

typedef struct fixture {
    model m;
    train_step st;
    real *x;
    int y[N];
    rng saved;       /* model RNG before the step: dropout masks */
} fixture;

static int last_param(const param_store *ps)
{
    int i, last = -1;
    for (i = 0; i < ps->count; i++) if (ps->entry[i].kind == PS_PARAM) last = i;
    return last;
}

/* Labels = own predictions, classifier bias shifted so that the batch splits
 * N/2 : N/2 between the two classes. */
static void balance(fixture *f)
{
    real d[N], sorted[N], *bias;
    int i, j;
    double thr;
    f->m.rng = f->saved;
    model_set_train(&f->m, 1);
    model_forward(&f->m, f->x, N);
    for (i = 0; i < N; i++) d[i] = f->m.logits[i * CLASSES + 1] - f->m.logits[i * CLASSES];
    memcpy(sorted, d, sizeof d);
    for (i = 1; i < N; i++)
        for (j = i; j > 0 && sorted[j - 1] > sorted[j]; j--) {
            real t = sorted[j]; sorted[j] = sorted[j - 1]; sorted[j - 1] = t;
        }
    thr = 0.5 * (sorted[N / 2 - 1] + sorted[N / 2]);
    bias = ps_value(&f->m.ps, last_param(&f->m.ps));
    bias[1] -= (real)(thr / 2);
    bias[0] += (real)(thr / 2);
    for (i = 0; i < N; i++) f->y[i] = d[i] - thr > 0 ? 1 : 0;
}

static int setup(fixture *f, int level, int size, int target)
{
    gc_error err;
    rng r;
    size_t i, nx = (size_t)N * size * size;
    memset(f, 0, sizeof *f);
    if (model_build(&f->m, level, 1, size, size, CLASSES, N, 1000 + level, &err) != GC_OK ||
        (target >= 0 && model_set_target(&f->m, target, &err) != GC_OK) ||
        step_init(&f->st, &f->m, &err) != GC_OK) {
        CHECK_MSG(0, "setup level %d: %s", level, err.msg);
        return 0;
    }
    f->x = (real *)gc_calloc(nx, sizeof(real));
    rng_seed(&r, 7);
    for (i = 0; i < nx; i++) f->x[i] = (real)rng_uniform_range(&r, -1, 1);
    f->saved = f->m.rng;
    balance(f);
    return 1;
}

static void teardown(fixture *f)
{
    step_free(&f->st);
    model_free(&f->m);
    free(f->x);
}

/* One step of st on the fixture's batch from its saved dropout state; a
 * copy of the parameter gradients (the caller frees it). */
static real *run_and_copy_grads(fixture *f, train_step *st, const step_opts *o,
                                step_result *res)
{
    param_store *ps = &f->m.ps;
    real *grad = (real *)gc_calloc(ps->nvalue, sizeof(real));
    f->m.rng = f->saved;
    step_run(st, f->x, f->y, N, o, NULL, res);
    memcpy(grad, ps->grad, ps->nvalue * sizeof(real));
    return grad;
}

static double frozen_loss(fixture *f, const step_opts *o, const step_frozen *fr)
{
    f->m.rng = f->saved;
    return step_loss(&f->st, f->x, f->y, N, o, fr);
}

/* Central difference of the frozen loss along v (or one coordinate idx),
 * with step H; also with step 2H: for a smooth function the two agree to
 * O(H^2), a kink within 2H of theta makes them differ by O(1). */
static double fd(fixture *f, const step_opts *o, const step_frozen *fr, const real *v, size_t idx,
                 int *kink)
{
    param_store *ps = &f->m.ps;
    size_t np = ps->nvalue, i;
    real *save = (real *)gc_calloc(np, sizeof(real));
    double val[4], steps[4] = {H, -H, 2 * H, -2 * H}, d1, d2;
    int s;
    memcpy(save, ps->value, np * sizeof(real));
    for (s = 0; s < 4; s++) {
        if (v) for (i = 0; i < np; i++) ps->value[i] = save[i] + (real)steps[s] * v[i];
        else ps->value[idx] = save[idx] + (real)steps[s];
        val[s] = frozen_loss(f, o, fr);
        memcpy(ps->value, save, np * sizeof(real));
    }
    free(save);
    d1 = (val[0] - val[1]) / (2 * H);
    d2 = (val[2] - val[3]) / (4 * H);
    *kink = fabs(d1 - d2) > KINK_REL * fmax(fabs(d1), 1e-4);
    return d1;
}

/* Check the step's gradient for one configuration; returns the worst error.
 * subset: the step runs on a frozen selection without the first selected
 * sample of each class, so that rows outside B+' lie between selected ones
 * (cam/step.c reads and writes the selected rows of A, G, dA, dG in place). */
static double check_config(int level, int size, int target, cam_grad_mode mode,
                           consistency_distance dist, int nsingle, int subset)
{
    fixture f;
    step_opts o;
    step_result res;
    step_frozen fr;
    int *sel = NULL, d, kinks = 0, checked = 0, j;
    real *ref = NULL, *alpha = NULL, *grad = NULL, *v = NULL;
    double worst = 0, floor;
    param_store *ps;
    rng pick;
    size_t np;
    if (!setup(&f, level, size, target)) return 1;
    ps = &f.m.ps;
    np = ps->nvalue;
    step_opts_default(&o);
    o.lambda = LAMBDA;
    o.grad_mode = mode;
    o.distance = dist;
    grad = run_and_copy_grads(&f, &f.st, &o, &res);
    CHECK_MSG(res.n_selected == N, "level %d: %d of %d samples selected", level, res.n_selected, N);
    CHECK_MSG(res.loss_cam > 0, "level %d: L_train is %g", level, res.loss_cam);
    /* freeze selection, references and (detached) alpha at theta_0 */
    sel = (int *)gc_calloc((size_t)f.st.ns, sizeof(int));
    memcpy(sel, f.st.sel, (size_t)f.st.ns * sizeof(int));
    ref = (real *)gc_calloc((size_t)CLASSES * f.st.z, sizeof(real));
    memcpy(ref, f.st.ema.ref, (size_t)CLASSES * f.st.z * sizeof(real));
    alpha = (real *)gc_calloc((size_t)f.st.ns * f.st.k, sizeof(real));
    memcpy(alpha, f.st.cb.alpha, (size_t)f.st.ns * f.st.k * sizeof(real));
    fr.active = 1;
    fr.ns = f.st.ns;
    fr.sel = sel;
    fr.ref = ref;
    fr.alpha = mode == CAM_GRAD_DETACHED ? alpha : NULL;
    if (subset) {
        int keep = 0;
        for (j = 0; j < f.st.ns; j++) {
            if (j == f.st.class_begin[f.st.sel_class[j]]) continue;   /* first of its class */
            sel[keep] = f.st.sel[j];
            memmove(alpha + (size_t)keep * f.st.k, alpha + (size_t)j * f.st.k,
                    (size_t)f.st.k * sizeof(real));
            keep++;
        }
        fr.ns = keep;
        f.m.rng = f.saved;
        step_run(&f.st, f.x, f.y, N, &o, &fr, &res);
        CHECK_MSG(res.n_selected == N - CLASSES && res.loss_cam > 0, "level %d: subset of %d",
                  level, res.n_selected);
        memcpy(grad, ps->grad, np * sizeof(real));
    }
    CHECK_NEAR(frozen_loss(&f, &o, &fr), res.loss, 1e-12);

    /* random directions through all parameters */
    v = (real *)gc_calloc(np, sizeof(real));
    rng_seed(&pick, 99);
    floor = 1e-4;
    for (d = 0; d < 3; d++) {
        double an = 0, num;
        size_t i;
        int kink;
        double norm = 0;
        /* a unit direction: theta moves by H in all, so few kinks are crossed */
        for (i = 0; i < np; i++) v[i] = (real)rng_uniform_range(&pick, -1, 1);
        for (i = 0; i < np; i++) norm += (double)v[i] * v[i];
        for (i = 0; i < np; i++) v[i] = (real)(v[i] / sqrt(norm));
        for (i = 0; i < np; i++) an += (double)grad[i] * v[i];
        num = fd(&f, &o, &fr, v, 0, &kink);
        if (kink) { kinks++; continue; }
        checked++;
        if (test_rel_err(an, num, floor) > worst) worst = test_rel_err(an, num, floor);
    }
    /* single parameters: the last (classifier) weight, then random ones */
    for (j = 0; j < nsingle; j++) {
        size_t idx;
        int kink;
        double num;
        if (j == 0) idx = ps->entry[last_param(ps) - 1].offset;
        else idx = (size_t)(rng_uniform(&pick) * (double)np);
        num = fd(&f, &o, &fr, NULL, idx, &kink);
        if (kink) { kinks++; continue; }
        checked++;
        if (test_rel_err(grad[idx], num, floor) > TOL)
            printf("    parameter %zu: analytic %.10e, differences %.10e\n", idx, grad[idx], num);
        if (test_rel_err(grad[idx], num, floor) > worst) worst = test_rel_err(grad[idx], num, floor);
    }
    CHECK_MSG(worst <= TOL, "level %d target %d %s %s: relative error %.3e", level,
              f.m.target, cam_grad_mode_name(mode), consistency_distance_name(dist), worst);
    CHECK_MSG(kinks * 4 <= checked, "level %d: %d of %d differences crossed kinks", level, kinks,
              kinks + checked);
    printf("    level %d target %2d %-8s %-4s%s rel err %.2e (%d checked, %d at kinks)\n", level,
           f.m.target, cam_grad_mode_name(mode), consistency_distance_name(dist),
           subset ? " subset" : "", worst, checked, kinks);
    free(sel); free(ref); free(alpha); free(grad); free(v);
    teardown(&f);
    return worst;
}

static void check_level(int level, int size, int early_target)
{
    check_config(level, size, -1, CAM_GRAD_EXACT, CONS_L2SQ, 6, 0);
    check_config(level, size, -1, CAM_GRAD_EXACT, CONS_L2, 3, 0);
    check_config(level, size, -1, CAM_GRAD_DETACHED, CONS_L2SQ, 3, 0);
    check_config(level, size, -1, CAM_GRAD_DETACHED, CONS_L2, 3, 0);
    check_config(level, size, early_target, CAM_GRAD_EXACT, CONS_L2SQ, 6, 0);
    check_config(level, size, early_target, CAM_GRAD_DETACHED, CONS_L2, 3, 0);
}

/* Level 1 early target 1 (head: pool conv ReLU pool GAP linear). */
static void test_level1_gradient(void) { check_level(1, 12, 1); }
/* Level 2 early target 9 (head: BN ReLU pool conv BN ReLU ...). */
static void test_level2_gradient(void) { check_level(2, 16, 9); }
/* Level 3 early target 6: head holds the last residual block. */
static void test_level3_gradient(void) { check_level(3, 16, 6); }
/* Level 4 early target 16: head = SE + classifier (SE second-order terms). */
static void test_level4_gradient(void) { check_level(4, 16, 16); }
/* Level 5 early target 6: the last residual block in the head. */
static void test_level5_gradient(void) { check_level(5, 16, 6); }

/* A selection that leaves rows out (first of each class), at the paper's
 * target and at an earlier one whose head couples samples (Level 2 target 9:
 * train-mode BatchNorm, per-class G and per-class exact passes). */
static void test_partial_selection_gradient(void)
{
    check_config(1, 12, -1, CAM_GRAD_EXACT, CONS_L2SQ, 6, 1);
    check_config(1, 12, -1, CAM_GRAD_DETACHED, CONS_L2, 3, 1);
    check_config(1, 12, 1, CAM_GRAD_EXACT, CONS_L2SQ, 6, 1);
    check_config(2, 16, 9, CAM_GRAD_EXACT, CONS_L2SQ, 6, 1);
    check_config(2, 16, 9, CAM_GRAD_DETACHED, CONS_L2, 3, 1);
}

/* At the paper's targets the head is (max-pool / ReLU) + GAP + dropout +
 * dense: G does not depend on A, so exact and detached differ only in the
 * classifier weight's gradient (DESIGN.md section 2, step 6). */
static void test_exact_detached_differ_only_in_classifier_weight(void)
{
    int level;
    for (level = 1; level <= 5; level++) {
        fixture f;
        step_opts o;
        step_result res;
        real *g_exact;
        param_store *ps;
        int i, wi;
        if (!setup(&f, level, 16, -1)) return;
        ps = &f.m.ps;
        wi = last_param(ps) - 1;
        step_opts_default(&o);
        o.lambda = LAMBDA;
        g_exact = run_and_copy_grads(&f, &f.st, &o, &res);
        o.grad_mode = CAM_GRAD_DETACHED;
        step_reset_refs(&f.st);
        f.m.rng = f.saved;
        step_run(&f.st, f.x, f.y, N, &o, NULL, &res);
        for (i = 0; i < ps->count; i++) {
            const ps_entry *e = &ps->entry[i];
            size_t k;
            double diff = 0;
            if (e->kind != PS_PARAM) continue;
            for (k = 0; k < e->numel; k++)
                diff = fmax(diff, fabs((double)g_exact[e->offset + k] - ps->grad[e->offset + k]));
            if (i == wi) CHECK_MSG(diff > 1e-8, "level %d: %s gradients equal", level, e->name);
            else CHECK_MSG(diff < 1e-12, "level %d: %s differs by %g", level, e->name, diff);
        }
        free(g_exact);
        teardown(&f);
    }
}

/* Which exact pass each configuration takes (fixed at step_init): the
 * per-channel one where the model splits the head (no BatchNorm in it, a
 * leading run of pools), the full-dG one elsewhere. The finite-difference
 * cases above use these (level, target) pairs, so they check both paths. */
static void test_exact_path_choice(void)
{
    static const struct { int level, target, per_channel; } cases[] = {
        {1, -1, 1}, {1, 1, 1}, {1, 0, 0},   /* target 0: the head begins with a ReLU */
        {2, -1, 0}, {2, 9, 0}, {2, 10, 0}, {2, 14, 1},
        {3, -1, 1}, {3, 6, 0}, {4, -1, 1}, {4, 16, 0}, {5, -1, 1}, {5, 6, 0},
    };
    size_t i;
    for (i = 0; i < TEST_COUNT(cases); i++) {
        model m;
        train_step st;
        gc_error err;
        int pc = cases[i].per_channel;
        if (model_build(&m, cases[i].level, 1, 16, 16, CLASSES, N, 1, &err) != GC_OK ||
            (cases[i].target >= 0 && model_set_target(&m, cases[i].target, &err) != GC_OK) ||
            step_init(&st, &m, &err) != GC_OK) {
            CHECK_MSG(0, "case %zu: %s", i, err.msg);
            return;
        }
        CHECK_MSG(st.per_channel == pc && (st.dG == NULL) == pc && (st.g != NULL) == pc &&
                  (m.head_post != NULL) == pc,
                  "level %d target %d: per_channel %d, expected %d", cases[i].level, m.target,
                  st.per_channel, pc);
        step_free(&st);
        /* forced: the full dG whatever the head */
        CHECK(step_init_path(&st, &m, 1, &err) == GC_OK);
        CHECK(st.per_channel == 0 && st.dG != NULL && st.g == NULL);
        step_free(&st);
        model_free(&m);
    }
}

/* The per-channel exact pass against the full-dG pass on the same model and
 * batch: the same gradient up to the rounding of the tangent through the
 * leading pools (GAP of a constant field no longer sums Z copies). Returns
 * the largest difference relative to each parameter tensor's largest
 * gradient; `bitwise` asks for equal bits (both runs take the same path). */
static double compare_paths(int level, int size, int target, int bitwise)
{
    fixture f;
    train_step full;
    step_opts o;
    step_result r1, r2;
    gc_error err;
    param_store *ps;
    real *g1;
    double worst = 0;
    int i, same = 1;
    if (!setup(&f, level, size, target)) return 1;
    if (step_init_path(&full, &f.m, 1, &err) != GC_OK) {
        CHECK_MSG(0, "%s", err.msg);
        teardown(&f);
        return 1;
    }
    ps = &f.m.ps;
    step_opts_default(&o);
    o.lambda = LAMBDA;
    g1 = run_and_copy_grads(&f, &f.st, &o, &r1);
    f.m.rng = f.saved;
    step_run(&full, f.x, f.y, N, &o, NULL, &r2);
    CHECK(r1.n_selected == N && r2.n_selected == N && r1.loss_cam > 0);
    CHECK(r1.loss == r2.loss);
    for (i = 0; i < ps->count; i++) {
        const ps_entry *e = &ps->entry[i];
        size_t k;
        double big = 0, diff = 0;
        if (e->kind != PS_PARAM) continue;
        for (k = 0; k < e->numel; k++) {
            double a = g1[e->offset + k], b = ps->grad[e->offset + k];
            big = fmax(big, fabs(a));
            diff = fmax(diff, fabs(a - b));
            same = same && a == b;
        }
        CHECK_MSG(big > 0, "level %d: %s has no gradient", level, e->name);
        if (big > 0 && diff / big > worst) worst = diff / big;
    }
    if (bitwise) CHECK_MSG(same, "level %d target %d: the two runs differ", level, f.m.target);
    else CHECK_MSG(worst <= 1e-12, "level %d target %d: per-channel and full dG differ by %.3e",
                   level, f.m.target, worst);
    printf("    level %d target %2d per-channel %d: largest relative difference %.2e\n", level,
           f.m.target, f.st.per_channel, worst);
    free(g1);
    step_free(&full);
    teardown(&f);
    return worst;
}

/* (a) Level 1 at the paper's target (pool + GAP before the dense layer),
 * Level 1 target 1 (one pool, then a broadcast over 6x6 planes into conv
 * ReLU pool GAP dense) and Level 4's paper target (GAP). */
static void test_per_channel_matches_full_dG(void)
{
    compare_paths(1, 12, -1, 0);
    compare_paths(1, 12, 1, 0);
    compare_paths(4, 16, -1, 0);
}

/* (c) heads that couple samples (BatchNorm after a pool: Level 2 target 10)
 * or begin with no pool (Level 2's paper target) keep the full-dG pass: the
 * step and the forced full-dG step give the same bits. */
static void test_coupled_head_keeps_full_dG(void)
{
    compare_paths(2, 16, 10, 1);
    compare_paths(2, 16, -1, 1);
}

/* Number of positions where a and b (count values) differ as bits. */
static int bits_differ(const real *a, const real *b, size_t count)
{
    size_t i;
    int bad = 0;
    for (i = 0; i < count; i++) bad += memcmp(&a[i], &b[i], sizeof(real)) != 0;
    return bad;
}

/* Step 3's alpha from the plane sums of the head's first block, a 2x2
 * max-pool (st.alpha_from_sums), against alpha from G's rows: the same bits
 * in the loss, in every gradient of an exact and of a detached step, and in
 * the eval-mode maps. */
static void check_alpha_from_sums(int level, int size, int target)
{
    fixture f;
    step_opts o;
    step_result r[2];
    real *grad[2][2], *cam[2];
    size_t nv, nz;
    int way, mode;
    if (!setup(&f, level, size, target)) return;
    CHECK_MSG(f.st.alpha_from_sums, "level %d target %d: alpha from G", level, f.m.target);
    nv = f.m.ps.nvalue;
    nz = (size_t)N * f.st.z;
    for (way = 0; way < 2; way++) {   /* 0: plane sums, 1: G */
        f.st.alpha_from_sums = !way;
        for (mode = 0; mode < 2; mode++) {
            step_opts_default(&o);
            o.lambda = LAMBDA;
            o.grad_mode = mode ? CAM_GRAD_DETACHED : CAM_GRAD_EXACT;
            step_reset_refs(&f.st);
            grad[way][mode] = run_and_copy_grads(&f, &f.st, &o, &r[way]);
        }
        cam[way] = (real *)gc_calloc(nz, sizeof(real));
        model_set_train(&f.m, 0);
        step_gradcam(&f.st, f.x, f.y, N, cam[way]);
    }
    CHECK(r[0].n_selected == N && r[0].loss_cam > 0);
    CHECK_MSG(memcmp(&r[0].loss, &r[1].loss, sizeof(double)) == 0, "loss %.17g vs %.17g",
              r[0].loss, r[1].loss);
    for (mode = 0; mode < 2; mode++)
        CHECK_MSG(bits_differ(grad[0][mode], grad[1][mode], nv) == 0,
                  "level %d target %d %s: %d gradients differ", level, f.m.target,
                  mode ? "detached" : "exact", bits_differ(grad[0][mode], grad[1][mode], nv));
    CHECK_MSG(bits_differ(cam[0], cam[1], nz) == 0, "level %d target %d: %d map values differ",
              level, f.m.target, bits_differ(cam[0], cam[1], nz));
    for (way = 0; way < 2; way++) {
        free(grad[way][0]);
        free(grad[way][1]);
        free(cam[way]);
    }
    teardown(&f);
}

/* Level 1 at the paper's target (a 4x4 A on 16x16 inputs), and at target
 * 1 on 13x13 inputs: A is 13x13, so the pool's last row and column get no
 * route (zeros in G). */
static void test_alpha_from_plane_sums(void)
{
    check_alpha_from_sums(1, 16, -1);
    check_alpha_from_sums(1, 13, 1);
}

/* lambda = 0: the step is a plain CE step, whatever the mode. */
static void test_lambda_zero_is_cross_entropy(void)
{
    fixture f;
    step_opts o;
    step_result res;
    if (!setup(&f, 2, 16, -1)) return;
    step_opts_default(&o);
    f.m.rng = f.saved;
    step_run(&f.st, f.x, f.y, N, &o, NULL, &res);
    CHECK(res.loss == res.loss_ce);
    CHECK(res.loss_cam == 0);
    CHECK(f.st.ema.initialized[0] == 0 && f.st.ema.initialized[1] == 0);
    teardown(&f);
}

int main(int argc, char **argv)
{
    static const test_case cases[] = {
        TEST_CASE(test_level1_gradient),
        TEST_CASE(test_level2_gradient),
        TEST_CASE(test_level3_gradient),
        TEST_CASE(test_level4_gradient),
        TEST_CASE(test_level5_gradient),
        TEST_CASE(test_partial_selection_gradient),
        TEST_CASE(test_exact_detached_differ_only_in_classifier_weight),
        TEST_CASE(test_lambda_zero_is_cross_entropy),
        TEST_CASE(test_exact_path_choice),
        TEST_CASE(test_per_channel_matches_full_dG),
        TEST_CASE(test_coupled_head_keeps_full_dG),
        TEST_CASE(test_alpha_from_plane_sums),
    };
    return test_main(argc, argv, cases, TEST_COUNT(cases));
}
