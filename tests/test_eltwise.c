/*
 * tests/test_eltwise.c - nn/eltwise.c (add, cmul): a small checker for these
 * two-input ops, in the spirit of tests/layercheck.h. For cmul
 * (y[n,c,i] = x[n,c,i] w[n,c]) with random x, w, x_t, w_t, dy, dy_t it
 * compares against central differences, at every coordinate:
 *   backward          dx, dw            vs  d/d(x,w) of  dy . y
 *   tangent           y_t               vs  (y(x + h x_t, w + h w_t) - y(x - h.., w - h..)) / 2h
 *   tangent_backward  dx, dw, dx_t, dw_t vs  d/d(x,w,x_t,w_t) of
 *                                         phi = dy . y + dy_t . y_t(x, w; x_t, w_t)
 * plus the adjoint identity <dy_t, y_t> = <dx, x_t> + <dw, w_t> (dx, dw from
 * backward(dy_t)), the NULL conventions and accumulation. The checker is
 * shown to fail on a cmul_tangent_backward that drops a second-order term.
 * add is checked the same way (it is linear: tangent = add_forward(a_t, b_t)).
 *
 * Kinks: both ops are polynomial (bilinear); central differences of a
 * quadratic are exact up to rounding, so the tolerance 1e-8 is loose.
 */
#include "nn/layers.h"
#include "tests/layercheck.h"
#include "tests/test.h"

#include <math.h>
#include <string.h>

#define H 1e-5
#define TOL 1e-8
enum { NB = 2, NC = 3, HW = 5, NX = NB * NC * HW, NW = NB * NC };

typedef void (*cmul_tb_fn)(const real *x, const real *w, const real *x_t, const real *w_t,
                           const real *dy, const real *dy_t, real *dx, real *dw, real *dx_t,
                           real *dw_t, int n, int c, int hw);

static double dot(const real *a, const real *b, size_t n)
{
    double s = 0;
    size_t i;
    for (i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

/* Random inputs of one cmul check: the differentiable inputs x, w, x_t, w_t
 * and the adjoint inputs dy, dy_t. */
typedef struct cm {
    real x[NX], w[NW], x_t[NX], w_t[NW], dy[NX], dy_t[NX];
} cm;

static void cm_fill(cm *s, uint64_t seed)
{
    rng r;
    rng_seed(&r, seed);
    lc_fill(&r, s->x, NX, 1, 0);
    lc_fill(&r, s->w, NW, 1.5, 0);
    lc_fill(&r, s->x_t, NX, 1, 0);
    lc_fill(&r, s->w_t, NW, 1, 0);
    lc_fill(&r, s->dy, NX, 1, 0);
    lc_fill(&r, s->dy_t, NX, 1, 0);
}

/* phi = dy . y + (second ? dy_t . y_t : 0) */
static double cm_phi(const cm *s, int second)
{
    real y[NX], y_t[NX];
    double v;
    cmul_forward(s->x, s->w, y, NB, NC, HW);
    v = dot(s->dy, y, NX);
    if (second) {
        cmul_tangent(s->x, s->w, s->x_t, s->w_t, y_t, NB, NC, HW);
        v += dot(s->dy_t, y_t, NX);
    }
    return v;
}

/* Max relative error of grad against central differences of phi in every
 * coordinate of v (count entries), the error floor 1e-3 as layercheck's. */
static double fd_err(cm *s, real *v, const real *grad, size_t count, int second)
{
    double maxdiff = 0, maxfd = 0;
    size_t i;
    for (i = 0; i < count; i++) {
        real save = v[i];
        double fp, fm, fd;
        v[i] = save + (real)H;
        fp = cm_phi(s, second);
        v[i] = save - (real)H;
        fm = cm_phi(s, second);
        v[i] = save;
        fd = (fp - fm) / (2 * H);
        if (fabs(fd - grad[i]) > maxdiff) maxdiff = fabs(fd - grad[i]);
        if (fabs(fd) > maxfd) maxfd = fabs(fd);
    }
    return maxdiff / (maxfd > 1e-3 ? maxfd : 1e-3);
}

/* All cmul checks with a given tangent_backward; returns the worst relative
 * error seen. With report set, each check is also CHECKed against TOL. */
static double cmul_check(cmul_tb_fn tb, uint64_t seed, int report)
{
    cm s;
    real dx[NX], dw[NW], dx_t[NX], dw_t[NW], y_t[NX], yp[NX], ym[NX], xs[NX], ws[NW];
    double err, worst = 0, lhs, rhs;
    int i;
    cm_fill(&s, seed);

    /* backward */
    memset(dx, 0, sizeof dx);
    memset(dw, 0, sizeof dw);
    cmul_backward(s.x, s.w, s.dy, dx, dw, NB, NC, HW);
    err = fd_err(&s, s.x, dx, NX, 0);
    if (err > worst) worst = err;
    if (report) CHECK_MSG(err <= TOL, "cmul backward dx: %.3e", err);
    err = fd_err(&s, s.w, dw, NW, 0);
    if (err > worst) worst = err;
    if (report) CHECK_MSG(err <= TOL, "cmul backward dw: %.3e", err);

    /* tangent */
    cmul_tangent(s.x, s.w, s.x_t, s.w_t, y_t, NB, NC, HW);
    memcpy(xs, s.x, sizeof xs);
    memcpy(ws, s.w, sizeof ws);
    for (i = 0; i < NX; i++) s.x[i] = xs[i] + (real)H * s.x_t[i];
    for (i = 0; i < NW; i++) s.w[i] = ws[i] + (real)H * s.w_t[i];
    cmul_forward(s.x, s.w, yp, NB, NC, HW);
    for (i = 0; i < NX; i++) s.x[i] = xs[i] - (real)H * s.x_t[i];
    for (i = 0; i < NW; i++) s.w[i] = ws[i] - (real)H * s.w_t[i];
    cmul_forward(s.x, s.w, ym, NB, NC, HW);
    memcpy(s.x, xs, sizeof xs);
    memcpy(s.w, ws, sizeof ws);
    {
        double md = 0, mf = 0;
        for (i = 0; i < NX; i++) {
            double fd = (yp[i] - ym[i]) / (2 * H);
            if (fabs(fd - y_t[i]) > md) md = fabs(fd - y_t[i]);
            if (fabs(fd) > mf) mf = fabs(fd);
        }
        err = md / (mf > 1e-3 ? mf : 1e-3);
        if (err > worst) worst = err;
        if (report) CHECK_MSG(err <= TOL, "cmul tangent: %.3e", err);
    }

    /* tangent_backward: all four outputs */
    memset(dx, 0, sizeof dx);
    memset(dw, 0, sizeof dw);
    memset(dx_t, 0, sizeof dx_t);
    memset(dw_t, 0, sizeof dw_t);
    tb(s.x, s.w, s.x_t, s.w_t, s.dy, s.dy_t, dx, dw, dx_t, dw_t, NB, NC, HW);
    {
        real *in[4];
        const real *out[4];
        static const size_t cnt[4] = {NX, NW, NX, NW};
        static const char *const what[4] = {"dx", "dw", "dx_t", "dw_t"};
        int j;
        in[0] = s.x; in[1] = s.w; in[2] = s.x_t; in[3] = s.w_t;
        out[0] = dx; out[1] = dw; out[2] = dx_t; out[3] = dw_t;
        for (j = 0; j < 4; j++) {
            err = fd_err(&s, in[j], out[j], cnt[j], 1);
            if (err > worst) worst = err;
            if (report) CHECK_MSG(err <= TOL, "cmul tangent_backward %s: %.3e", what[j], err);
        }
    }

    /* adjoint identity */
    memset(dx, 0, sizeof dx);
    memset(dw, 0, sizeof dw);
    cmul_backward(s.x, s.w, s.dy_t, dx, dw, NB, NC, HW);
    lhs = dot(s.dy_t, y_t, NX);
    rhs = dot(dx, s.x_t, NX) + dot(dw, s.w_t, NW);
    if (report)
        CHECK_MSG(fabs(lhs - rhs) <= 1e-12 * (fabs(lhs) > 1 ? fabs(lhs) : 1),
                  "cmul adjoint identity: %.17g vs %.17g", lhs, rhs);
    if (report && getenv("GC_TEST_VERBOSE"))
        printf("  cmul %dx%dx%d: worst rel err %.2e\n", NB, NC, HW, worst);
    return worst;
}

static void test_cmul_fd(void)
{
    CHECK(cmul_check(cmul_tangent_backward, 1, 1) <= TOL);
    CHECK(cmul_check(cmul_tangent_backward, 2, 1) <= TOL);
}

/* A tangent_backward without the dy_t w_t term of dx (the product rule's
 * second-order part): the checker must see it. */
static void broken_tb(const real *x, const real *w, const real *x_t, const real *w_t,
                      const real *dy, const real *dy_t, real *dx, real *dw, real *dx_t,
                      real *dw_t, int n, int c, int hw)
{
    cmul_tangent_backward(x, w, x_t, NULL, dy, dy_t, dx, dw, dx_t, dw_t, n, c, hw);
    (void)w_t;
}

static void test_checker_fails_on_missing_term(void)
{
    CHECK(cmul_check(broken_tb, 1, 0) > 1e-2);
}

static int all_near(const real *a, const real *b, size_t n, double tol)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (fabs((double)a[i] - b[i]) > tol) return 0;
    return 1;
}

/* NULL conventions: dy_t NULL = backward; (dy, NULL) + (NULL, dy_t) = (dy, dy_t);
 * x_t / w_t NULL = zero; NULL outputs skipped; accumulation (+=). */
static void test_cmul_null_and_accumulate(void)
{
    cm s;
    real dx1[NX], dw1[NW], dx2[NX], dw2[NW], dxt2[NX], dwt2[NW];
    real dx3[NX], dw3[NW], dxt3[NX], dwt3[NW], zx[NX], zw[NW], yt1[NX], yt2[NX];
    size_t i;
    cm_fill(&s, 3);
    memset(zx, 0, sizeof zx);
    memset(zw, 0, sizeof zw);
    /* (dy, NULL) == backward */
    memset(dx1, 0, sizeof dx1);
    memset(dw1, 0, sizeof dw1);
    memset(dx2, 0, sizeof dx2);
    memset(dw2, 0, sizeof dw2);
    cmul_backward(s.x, s.w, s.dy, dx1, dw1, NB, NC, HW);
    cmul_tangent_backward(s.x, s.w, s.x_t, s.w_t, s.dy, NULL, dx2, dw2, NULL, NULL, NB, NC, HW);
#ifdef GC_FMA   /* make FMA=1: the two code paths may contract differently */
    CHECK(all_near(dx1, dx2, NX, 1e-14) && all_near(dw1, dw2, NW, 1e-14));
#else
    CHECK(memcmp(dx1, dx2, sizeof dx1) == 0 && memcmp(dw1, dw2, sizeof dw1) == 0);
#endif
    /* (NULL, dy_t) added to it == (dy, dy_t) */
    memset(dxt2, 0, sizeof dxt2);
    memset(dwt2, 0, sizeof dwt2);
    cmul_tangent_backward(s.x, s.w, s.x_t, s.w_t, NULL, s.dy_t, dx2, dw2, dxt2, dwt2, NB, NC,
                          HW);
    memset(dx3, 0, sizeof dx3);
    memset(dw3, 0, sizeof dw3);
    memset(dxt3, 0, sizeof dxt3);
    memset(dwt3, 0, sizeof dwt3);
    cmul_tangent_backward(s.x, s.w, s.x_t, s.w_t, s.dy, s.dy_t, dx3, dw3, dxt3, dwt3, NB, NC,
                          HW);
    CHECK(all_near(dx2, dx3, NX, 1e-14) && all_near(dw2, dw3, NW, 1e-14));
    CHECK(all_near(dxt2, dxt3, NX, 1e-14) && all_near(dwt2, dwt3, NW, 1e-14));
    /* accumulation: a second call doubles */
    cmul_tangent_backward(s.x, s.w, s.x_t, s.w_t, s.dy, s.dy_t, dx3, dw3, dxt3, dwt3, NB, NC,
                          HW);
    for (i = 0; i < NX; i++) CHECK_NEAR(dx3[i], 2 * dx2[i], 1e-14);
    for (i = 0; i < NW; i++) CHECK_NEAR(dwt3[i], 2 * dwt2[i], 1e-14);
    /* NULL tangent inputs are zeros */
    cmul_tangent(s.x, s.w, NULL, s.w_t, yt1, NB, NC, HW);
    cmul_tangent(s.x, s.w, zx, s.w_t, yt2, NB, NC, HW);
    CHECK(memcmp(yt1, yt2, sizeof yt1) == 0);
    cmul_tangent(s.x, s.w, s.x_t, NULL, yt1, NB, NC, HW);
    cmul_tangent(s.x, s.w, s.x_t, zw, yt2, NB, NC, HW);
    CHECK(memcmp(yt1, yt2, sizeof yt1) == 0);
    memset(dx1, 0, sizeof dx1);
    memset(dw1, 0, sizeof dw1);
    memset(dx2, 0, sizeof dx2);
    memset(dw2, 0, sizeof dw2);
    cmul_tangent_backward(s.x, s.w, NULL, NULL, s.dy, s.dy_t, dx1, dw1, NULL, NULL, NB, NC, HW);
    cmul_tangent_backward(s.x, s.w, zx, zw, s.dy, s.dy_t, dx2, dw2, NULL, NULL, NB, NC, HW);
    CHECK(all_near(dx1, dx2, NX, 0) && all_near(dw1, dw2, NW, 0));
    /* NULL outputs: only the wanted one is written */
    memset(dw1, 0, sizeof dw1);
    cmul_tangent_backward(s.x, s.w, s.x_t, s.w_t, s.dy, s.dy_t, NULL, dw1, NULL, NULL, NB, NC,
                          HW);
    for (i = 0; i < NW; i++) CHECK_NEAR(2 * dw1[i], dw3[i], 1e-14);
}

/* Hand values: x = (1, 2 | 3, 4) over (c = 2, hw = 2), w = (10, -1):
 * y = (10, 20, -3, -4); dy = 1: dx = w per channel, dw = (3, 7). */
static void test_cmul_values(void)
{
    static const real x[4] = {1, 2, 3, 4}, w[2] = {10, -1}, dy[4] = {1, 1, 1, 1};
    real y[4], dx[4] = {0, 0, 0, 0}, dw[2] = {0, 0};
    cmul_forward(x, w, y, 1, 2, 2);
    CHECK(y[0] == 10 && y[1] == 20 && y[2] == -3 && y[3] == -4);
    cmul_backward(x, w, dy, dx, dw, 1, 2, 2);
    CHECK(dx[0] == 10 && dx[1] == 10 && dx[2] == -1 && dx[3] == -1);
    CHECK(dw[0] == 3 && dw[1] == 7);
}

/* add: y = a + b; backward vs differences of dy . (a + b); the tangent
 * add_forward(a_t, b_t) against differences; adjoint identity; NULLs. */
static void test_add(void)
{
    enum { N = 17 };
    real a[N], b[N], a_t[N], b_t[N], dy[N], y[N], y_t[N], yp[N], ym[N], da[N], db[N];
    real ap[N], am[N], bp[N], bm[N];
    rng r;
    int i;
    double md = 0, lhs, rhs;
    rng_seed(&r, 8);
    lc_fill(&r, a, N, 1, 0);
    lc_fill(&r, b, N, 1, 0);
    lc_fill(&r, a_t, N, 1, 0);
    lc_fill(&r, b_t, N, 1, 0);
    lc_fill(&r, dy, N, 1, 0);
    add_forward(a, b, y, N);
    for (i = 0; i < N; i++) CHECK(y[i] == a[i] + b[i]);
    add_forward(a_t, b_t, y_t, N);
    for (i = 0; i < N; i++) {
        ap[i] = a[i] + (real)H * a_t[i];
        am[i] = a[i] - (real)H * a_t[i];
        bp[i] = b[i] + (real)H * b_t[i];
        bm[i] = b[i] - (real)H * b_t[i];
    }
    add_forward(ap, bp, yp, N);
    add_forward(am, bm, ym, N);
    for (i = 0; i < N; i++) {
        double fd = (yp[i] - ym[i]) / (2 * H);
        if (fabs(fd - y_t[i]) > md) md = fabs(fd - y_t[i]);
    }
    CHECK_MSG(md <= TOL, "add tangent: %.3e", md);
    /* backward: d/da_i (dy . (a + b)) = dy_i by differences */
    for (i = 0; i < N; i++) da[i] = db[i] = 0;
    add_backward(dy, da, db, N);
    for (i = 0; i < N; i++) {
        real save = a[i];
        double fp, fm;
        a[i] = save + (real)H;
        add_forward(a, b, yp, N);
        fp = dot(dy, yp, N);
        a[i] = save - (real)H;
        add_forward(a, b, ym, N);
        fm = dot(dy, ym, N);
        a[i] = save;
        CHECK_NEAR(da[i], (fp - fm) / (2 * H), TOL);
        CHECK(db[i] == dy[i]);
    }
    lhs = dot(dy, y_t, N);
    rhs = dot(da, a_t, N) + dot(db, b_t, N);
    CHECK_NEAR(lhs, rhs, 1e-13);
    /* NULL outputs skipped, NULL dy is zero, accumulation */
    add_backward(dy, NULL, db, N);
    add_backward(NULL, da, db, N);
    for (i = 0; i < N; i++) CHECK(da[i] == dy[i] && db[i] == dy[i] + dy[i]);
}

int main(int argc, char **argv)
{
    static const test_case cases[] = {
        TEST_CASE(test_cmul_fd),
        TEST_CASE(test_checker_fails_on_missing_term),
        TEST_CASE(test_cmul_null_and_accumulate),
        TEST_CASE(test_cmul_values),
        TEST_CASE(test_add),
    };
    return test_main(argc, argv, cases, TEST_COUNT(cases));
}
