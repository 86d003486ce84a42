/* tests/support_layercheck.c - the generic derivative checker (layercheck.h). */
#include "tests/layercheck.h"
#include "tests/test.h"

#include <math.h>
#include <string.h>

#define KINK_REL 1e-3      /* one-sided slopes this far apart: a kink was crossed */
#define ERR_FLOOR 1e-3     /* denominator floor of the relative error */
#define MAX_SKIP_FRAC 0.1  /* more kinks than this fails the check */
#define N_DIRECTIONS 3

void lc_env_init(lc_env *e, int max_n, int train, uint64_t seed)
{
    memset(e, 0, sizeof *e);
    ps_init(&e->ps);
    rng_seed(&e->r, seed);
    e->ctx.train = train;
    e->ctx.grad_params = 1;
    e->ctx.max_n = max_n;
    e->ctx.ps = &e->ps;
    e->ctx.rng = &e->r;
}

void lc_env_free(lc_env *e)
{
    ps_free(&e->ps);
    ctx_free_scratch(&e->ctx);
}

void lc_default(lc_opts *o)
{
    memset(o, 0, sizeof *o);
    o->n = 2;
    o->h = 1e-5;
    o->tol = 1e-6;
    o->seed = 12345;
    o->x_scale = 1.0;
    o->param_jitter = 0.3;
    o->max_coords = 48;
}

void lc_fill(rng *r, real *v, size_t count, double scale, double min_abs)
{
    size_t i;
    for (i = 0; i < count; i++) {
        double u = rng_uniform_range(r, -1.0, 1.0);
        if (min_abs > 0) {
            double mag = min_abs + (scale - min_abs) * fabs(u);
            v[i] = (real)(u < 0 ? -mag : mag);
        } else {
            v[i] = (real)(scale * u);
        }
    }
}

void lc_set_running_stats(param_store *ps, uint64_t seed)
{
    rng r;
    int i;
    size_t k;
    rng_seed(&r, seed);
    for (i = 0; i < ps->count; i++) {
        const ps_entry *e = &ps->entry[i];
        real *v = ps_value(ps, i);
        if (strstr(e->name, "running_mean"))
            for (k = 0; k < e->numel; k++) v[k] = (real)rng_uniform_range(&r, -0.5, 0.5);
        if (strstr(e->name, "running_var"))
            for (k = 0; k < e->numel; k++) v[k] = (real)rng_uniform_range(&r, 0.3, 2.0);
    }
}

void lc_check_null_adjoints(lc_env *e, layer *l, int n, size_t in_size, size_t out_size)
{
    size_t nx = (size_t)n * in_size, ny = (size_t)n * out_size, np = e->ps.nvalue, i, bad = 0;
    real *x = (real *)gc_calloc(nx, sizeof(real)), *x_t = (real *)gc_calloc(nx, sizeof(real));
    real *dx = (real *)gc_calloc(nx, sizeof(real)), *dx_t = (real *)gc_calloc(nx, sizeof(real));
    real *y = (real *)gc_calloc(ny, sizeof(real)), *y_t = (real *)gc_calloc(ny, sizeof(real));
    real *dy = (real *)gc_calloc(ny, sizeof(real)), *dy_t = (real *)gc_calloc(ny, sizeof(real));
    real *g = (real *)gc_calloc(np, sizeof(real));
    lc_fill(&e->r, x, nx, 1.0, 0.0);
    lc_fill(&e->r, x_t, nx, 1.0, 0.0);
    lc_fill(&e->r, dy, ny, 1.0, 0.0);
    lc_fill(&e->r, dy_t, ny, 1.0, 0.0);
    layer_forward(l, x, y, n);
    layer_tangent(l, x_t, y_t);
    ps_zero_grad(&e->ps);
    layer_tangent_backward(l, dy, dy_t, dx, dx_t);
    memcpy(g, e->ps.grad, np * sizeof(real));
    ps_zero_grad(&e->ps);
    layer_tangent_backward(l, dy, dy_t, NULL, NULL);
    for (i = 0; i < np; i++) bad += g[i] != e->ps.grad[i];
    CHECK_MSG(bad == 0, "%s: %zu of %zu parameter gradients differ without dx / dx_t", l->name,
              bad, np);
    CHECK_MSG(np > 0, "%s: no parameters to compare", l->name);
    free(x); free(x_t); free(dx); free(dx_t); free(y); free(y_t); free(dy); free(dy_t); free(g);
}

static double dot(const real *a, const real *b, size_t n)
{
    double s = 0;
    size_t i;
    for (i = 0; i < n; i++) s += (double)a[i] * (double)b[i];
    return s;
}

/* Everything one check run needs. */
typedef struct lc_state {
    layer *l;
    const lc_opts *o;
    size_t nx, ny;          /* elements of x and y for o->n samples */
    real *x, *x_t, *dy, *dy_t, *y, *y_t;
    rng saved_rng;          /* restored before every forward: same dropout mask */
    double worst;
} lc_state;

/* f = dy . F(x) + (with_tangent ? dy_t . J x_t : 0) at the current x, params. */
static double eval_phi(lc_state *s, int with_tangent)
{
    layer *l = s->l;
    double v;
    *l->ctx->rng = s->saved_rng;
    layer_forward(l, s->x, s->y, s->o->n);
    v = dot(s->dy, s->y, s->ny);
    if (with_tangent) {
        layer_tangent(l, s->x_t, s->y_t);
        v += dot(s->dy_t, s->y_t, s->ny);
    }
    return v;
}

/* Central difference of phi along a perturbation of `target` by v (NULL v:
 * coordinate `idx`). Returns 0 and sets *kink if the one-sided slopes differ. */
static double fd_along(lc_state *s, real *target, size_t count, const real *v, size_t idx,
                       int with_tangent, int *kink)
{
    double h = s->o->h, f0, fp, fm, sp, sm;
    size_t i;
    real *save = (real *)gc_calloc(count, sizeof(real));
    memcpy(save, target, count * sizeof(real));
    f0 = eval_phi(s, with_tangent);
    if (v) for (i = 0; i < count; i++) target[i] = save[i] + (real)h * v[i];
    else target[idx] = save[idx] + (real)h;
    fp = eval_phi(s, with_tangent);
    if (v) for (i = 0; i < count; i++) target[i] = save[i] - (real)h * v[i];
    else target[idx] = save[idx] - (real)h;
    fm = eval_phi(s, with_tangent);
    memcpy(target, save, count * sizeof(real));
    free(save);
    sp = (fp - f0) / h;
    sm = (f0 - fm) / h;
    *kink = fabs(sp - sm) > KINK_REL * (fabs(sp) + fabs(sm)) + 1e-7;
    return (fp - fm) / (2 * h);
}

/* Compare an analytic gradient `grad` of phi w.r.t. `target` (count elements)
 * with finite differences at sampled coordinates and random directions. */
static void compare_grad(lc_state *s, const char *what, real *target, const real *grad,
                         size_t count, int with_tangent)
{
    size_t ncoord = count < (size_t)s->o->max_coords ? count : (size_t)s->o->max_coords;
    size_t k, skipped = 0, checked = 0;
    double maxdiff = 0, maxfd = 0, err;
    rng pick;
    real *dir;
    int d, kink;
    if (count == 0) return;
    rng_seed(&pick, s->o->seed ^ (uint64_t)count);
    for (k = 0; k < ncoord; k++) {
        size_t idx = count <= (size_t)s->o->max_coords ? k : rng_below(&pick, (uint32_t)count);
        double fd = fd_along(s, target, count, NULL, idx, with_tangent, &kink);
        if (kink) { skipped++; continue; }
        checked++;
        if (fabs(fd - grad[idx]) > maxdiff) maxdiff = fabs(fd - grad[idx]);
        if (fabs(fd) > maxfd) maxfd = fabs(fd);
    }
    dir = (real *)gc_calloc(count, sizeof(real));
    for (d = 0; d < N_DIRECTIONS; d++) {
        double fd, an;
        lc_fill(&pick, dir, count, 1.0, 0.0);
        fd = fd_along(s, target, count, dir, 0, with_tangent, &kink);
        if (kink) { skipped++; continue; }
        checked++;
        an = dot(grad, dir, count);
        if (fabs(fd - an) > maxdiff) maxdiff = fabs(fd - an);
        if (fabs(fd) > maxfd) maxfd = fabs(fd);
    }
    free(dir);
    err = maxdiff / (maxfd > ERR_FLOOR ? maxfd : ERR_FLOOR);
    if (err > s->worst) s->worst = err;
    if (s->o->verbose)
        printf("    %-8s %-28s rel err %.2e (%zu checked, %zu at kinks)\n", s->l->name, what,
               err, checked, skipped);
    CHECK_MSG(err <= s->o->tol, "%s %s: relative error %.3e > %.1e", s->l->name, what, err,
              s->o->tol);
    CHECK_MSG((double)skipped <= MAX_SKIP_FRAC * (double)(checked + skipped),
              "%s %s: %zu of %zu differences crossed a kink", s->l->name, what, skipped,
              checked + skipped);
}

/* Relative error of two vectors: max|a-b| / max(max|b|, floor). */
static double vec_err(const real *a, const real *b, size_t n)
{
    double md = 0, mb = 0;
    size_t i;
    for (i = 0; i < n; i++) {
        if (fabs((double)a[i] - b[i]) > md) md = fabs((double)a[i] - b[i]);
        if (fabs((double)b[i]) > mb) mb = fabs((double)b[i]);
    }
    return md / (mb > ERR_FLOOR ? mb : ERR_FLOOR);
}

double layercheck(layer *l, const lc_opts *o)
{
    lc_state s;
    param_store *ps = l->ctx->ps;
    size_t np = ps->nvalue, i;
    real *dx_b, *dx_tb, *dxt_tb, *g_b, *g_tb, *yp, *ym, *xs, *dx_adj;
    rng r;
    double err, lhs, rhs;

    memset(&s, 0, sizeof s);
    s.l = l;
    s.o = o;
    GC_CHECK(o->n <= l->ctx->max_n);
    s.nx = (size_t)o->n * layer_in_size(l);
    s.ny = (size_t)o->n * layer_out_size(l);
    s.x = (real *)gc_calloc(s.nx, sizeof(real));
    s.x_t = (real *)gc_calloc(s.nx, sizeof(real));
    s.dy = (real *)gc_calloc(s.ny, sizeof(real));
    s.dy_t = (real *)gc_calloc(s.ny, sizeof(real));
    s.y = (real *)gc_calloc(s.ny, sizeof(real));
    s.y_t = (real *)gc_calloc(s.ny, sizeof(real));
    dx_b = (real *)gc_calloc(s.nx, sizeof(real));
    dx_tb = (real *)gc_calloc(s.nx, sizeof(real));
    dxt_tb = (real *)gc_calloc(s.nx, sizeof(real));
    dx_adj = (real *)gc_calloc(s.nx, sizeof(real));
    xs = (real *)gc_calloc(s.nx, sizeof(real));
    yp = (real *)gc_calloc(s.ny, sizeof(real));
    ym = (real *)gc_calloc(s.ny, sizeof(real));
    g_b = (real *)gc_calloc(np, sizeof(real));
    g_tb = (real *)gc_calloc(np, sizeof(real));

    rng_seed(&r, o->seed);
    lc_fill(&r, s.x, s.nx, o->x_scale, o->x_min_abs);
    lc_fill(&r, s.x_t, s.nx, 1.0, 0.0);
    lc_fill(&r, s.dy, s.ny, 1.0, 0.0);
    lc_fill(&r, s.dy_t, s.ny, 1.0, 0.0);
    for (i = 0; i < np; i++) ps->value[i] += (real)rng_uniform_range(&r, -o->param_jitter, o->param_jitter);
    s.saved_rng = *l->ctx->rng;

    /* analytic: backward(dy) */
    eval_phi(&s, 1);
    ps_zero_grad(ps);
    layer_backward(l, s.dy, dx_b);
    if (np) memcpy(g_b, ps->grad, np * sizeof(real));
    /* analytic: tangent_backward(dy, dy_t) */
    ps_zero_grad(ps);
    layer_tangent_backward(l, s.dy, s.dy_t, dx_tb, dxt_tb);
    if (np) memcpy(g_tb, ps->grad, np * sizeof(real));

    /* backward against differences of dy . F */
    compare_grad(&s, "backward dx", s.x, dx_b, s.nx, 0);
    compare_grad(&s, "backward dtheta", ps->value, g_b, np, 0);

    /* tangent against differences of F along x_t */
    for (i = 0; i < s.nx; i++) xs[i] = s.x[i];
    *l->ctx->rng = s.saved_rng;
    for (i = 0; i < s.nx; i++) s.x[i] = xs[i] + (real)o->h * s.x_t[i];
    layer_forward(l, s.x, yp, o->n);
    *l->ctx->rng = s.saved_rng;
    for (i = 0; i < s.nx; i++) s.x[i] = xs[i] - (real)o->h * s.x_t[i];
    layer_forward(l, s.x, ym, o->n);
    for (i = 0; i < s.nx; i++) s.x[i] = xs[i];
    for (i = 0; i < s.ny; i++) yp[i] = (real)((yp[i] - ym[i]) / (2 * o->h));
    eval_phi(&s, 1);
    err = vec_err(s.y_t, yp, s.ny);
    if (err > s.worst) s.worst = err;
    if (o->verbose) printf("    %-8s %-28s rel err %.2e\n", l->name, "tangent", err);
    CHECK_MSG(err <= o->tol, "%s tangent: relative error %.3e", l->name, err);

    /* tangent_backward against differences of phi */
    compare_grad(&s, "tangent_backward dx", s.x, dx_tb, s.nx, 1);
    compare_grad(&s, "tangent_backward dtheta", ps->value, g_tb, np, 1);
    compare_grad(&s, "tangent_backward dx_t", s.x_t, dxt_tb, s.nx, 1);

    /* adjoint identity <dy_t, J x_t> = <J^T dy_t, x_t> */
    eval_phi(&s, 1);
    lhs = dot(s.dy_t, s.y_t, s.ny);
    ps_zero_grad(ps);
    layer_backward(l, s.dy_t, dx_adj);
    rhs = dot(dx_adj, s.x_t, s.nx);
    err = fabs(lhs - rhs) / (fabs(lhs) > ERR_FLOOR ? fabs(lhs) : ERR_FLOOR);
    if (o->verbose) printf("    %-8s %-28s rel err %.2e\n", l->name, "adjoint identity", err);
    CHECK_MSG(err <= 1e-10, "%s adjoint identity: %.17g vs %.17g", l->name, lhs, rhs);

    /* NULL semantics: tangent_backward(dy, NULL) is backward(dy) */
    memset(dx_adj, 0, s.nx * sizeof(real));
    ps_zero_grad(ps);
    eval_phi(&s, 1);
    layer_tangent_backward(l, s.dy, NULL, dx_adj, NULL);
    err = vec_err(dx_adj, dx_b, s.nx);
    if (np) {
        double e2 = vec_err(ps->grad, g_b, np);
        if (e2 > err) err = e2;
    }
    CHECK_MSG(err <= 1e-12, "%s tangent_backward(dy, NULL) differs from backward: %.3e",
              l->name, err);

    free(s.x); free(s.x_t); free(s.dy); free(s.dy_t); free(s.y); free(s.y_t);
    free(dx_b); free(dx_tb); free(dxt_tb); free(dx_adj); free(xs); free(yp); free(ym);
    free(g_b); free(g_tb);
    return s.worst;
}
