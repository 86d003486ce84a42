/*
 * tests/test_pool.c - nn/pool.c (maxpool2d, avgpool2d, gap) and nn/flatten.c:
 * the four functions against finite differences (tests/layercheck.h) with odd
 * sizes (floor mode), overlapping windows, and hand-computed outputs and
 * routes (first max on ties, NaN propagation, 5x5 -> 2x2 floors away the
 * last row and column), and the 2x2 adjoint on rows wide enough for its
 * chunked loop against a scatter written in the test, bit for bit. Set
 * GC_TEST_VERBOSE=1 to print every checker error.
 *
 * Kinks: max-pool changes route only where two entries of a window tie. The
 * checker's inputs are continuous U(-1, 1) values, so a tie within the step
 * h = 1e-5 has probability ~1e-5 per window; the checker detects and counts
 * such crossings (one-sided slopes disagree) and would fail above 10%.
 * Average, global pooling and flatten are linear: no kinks.
 */
#include "nn/layers.h"
#include "tests/layercheck.h"
#include "tests/test.h"

#include <math.h>
#include <string.h>

static int verbose(void) { return getenv("GC_TEST_VERBOSE") != NULL; }

static void run_check(lc_env *e, layer *l, int n, const char *what)
{
    lc_opts o;
    double worst;
    lc_default(&o);
    o.n = n;
    o.verbose = verbose();
    worst = layercheck(l, &o);
    if (o.verbose) printf("  %s: worst %.2e\n", what, worst);
    layer_destroy(l);
    lc_env_free(e);
}

static void test_fd_maxpool_k2_odd(void)
{
    lc_env e;
    lc_env_init(&e, 2, 1, 3);
    run_check(&e, maxpool2d_create(&e.ctx, "features.2", 3, 5, 5, 2, 2), 2,
              "maxpool 3x5x5 k2 s2");
}

static void test_fd_maxpool_k3_overlap(void)
{
    lc_env e;
    lc_env_init(&e, 3, 0, 4);
    run_check(&e, maxpool2d_create(&e.ctx, "p", 2, 7, 7, 3, 2), 3, "maxpool 2x7x7 k3 s2");
}

static void test_fd_maxpool_k2_even(void)
{
    lc_env e;
    lc_env_init(&e, 2, 1, 5);
    run_check(&e, maxpool2d_create(&e.ctx, "p", 2, 4, 6, 2, 2), 2, "maxpool 2x4x6 k2 s2");
}

static void test_fd_avgpool_k2_odd(void)
{
    lc_env e;
    lc_env_init(&e, 2, 1, 6);
    run_check(&e, avgpool2d_create(&e.ctx, "p", 3, 5, 5, 2, 2), 2, "avgpool 3x5x5 k2 s2");
}

static void test_fd_avgpool_k3_overlap(void)
{
    lc_env e;
    lc_env_init(&e, 2, 0, 7);
    run_check(&e, avgpool2d_create(&e.ctx, "p", 2, 7, 6, 3, 2), 2, "avgpool 2x7x6 k3 s2");
}

static void test_fd_gap(void)
{
    lc_env e;
    lc_env_init(&e, 3, 1, 8);
    run_check(&e, gap_create(&e.ctx, "gap", 3, 5, 4), 3, "gap 3x5x4");
}

static void test_fd_flatten(void)
{
    lc_env e;
    lc_env_init(&e, 2, 1, 9);
    run_check(&e, flatten_create(&e.ctx, "flat", 3, 2, 5), 2, "flatten 3x2x5");
}

/* 5x5 input, k2 s2 -> 2x2 (floor: row 4 and column 4 are never read).
 *   window (0,0) = [1 3; 3 0]   max 3, tie: first in row-major order, index 1
 *   window (0,1) = [2 2; 2 1]   max 2, three-way tie: index 2
 *   window (1,0) = [5 4; 4 5]   max 5, tie: index 10
 *   window (1,1) = [0 -1; -2 -3] max 0, index 12 */
static void test_maxpool_routes(void)
{
    static const real x[25] = {1, 3, 2,  2,  9,
                               3, 0, 2,  1,  9,
                               5, 4, 0,  -1, 9,
                               4, 5, -2, -3, 9,
                               9, 9, 9,  9,  9};
    static const real dy[4] = {1, 2, 3, 4};
    real y[4], y_t[4], x_t[25], dx[25], dx_t[25];
    lc_env e;
    layer *l;
    int i;
    lc_env_init(&e, 1, 1, 1);
    l = maxpool2d_create(&e.ctx, "p", 1, 5, 5, 2, 2);
    CHECK(l->out_h == 2 && l->out_w == 2 && l->out_c == 1);
    layer_forward(l, x, y, 1);
    CHECK(y[0] == 3 && y[1] == 2 && y[2] == 5 && y[3] == 0);
    for (i = 0; i < 25; i++) x_t[i] = (real)(100 + i);
    layer_tangent(l, x_t, y_t);
    CHECK(y_t[0] == 101 && y_t[1] == 102 && y_t[2] == 110 && y_t[3] == 112);
    memset(dx, 0, sizeof dx);
    memset(dx_t, 0, sizeof dx_t);
    layer_tangent_backward(l, dy, dy, dx, dx_t);
    for (i = 0; i < 25; i++) {
        real want = i == 1 ? 1 : i == 2 ? 2 : i == 10 ? 3 : i == 12 ? 4 : 0;
        CHECK_MSG(dx[i] == want && dx_t[i] == want, "dx[%d] = %g, dx_t = %g, want %g", i,
                  (double)dx[i], (double)dx_t[i], (double)want);
    }
    layer_destroy(l);
    lc_env_free(&e);
}

/* 2x2 backward on rows wide enough for the chunked path (35 windows: two
 * chunks of 16 and 3 more; odd width and height) equals, bit for bit, a
 * scatter written here: dx = base, dx[route] += dy, the route being the
 * first maximum of the window in row-major order; a -0 in base stays -0
 * off the route (compared as bits). Both dy and dy_t. */
static void test_maxpool_wide_rows_backward(void)
{
    enum { C = 2, H = 7, W = 71, OH = 3, OW = 35, NX = C * H * W, NY = C * OH * OW };
    real x[NX], y[NY], dy[NY], dx[NX], dx_t[NX], ref[NX], base[NX];
    lc_env e;
    layer *l;
    int c, oi, oj, i, bad = 0;
    lc_env_init(&e, 1, 1, 6);
    l = maxpool2d_create(&e.ctx, "p", C, H, W, 2, 2);
    lc_fill(&e.r, x, NX, 1.0, 0.0);
    lc_fill(&e.r, dy, NY, 1.0, 0.0);
    lc_fill(&e.r, base, NX, 1.0, 0.0);
    for (i = 0; i < NX; i += 5) base[i] = (real)-0.0;   /* kept as -0 off the route */
    layer_forward(l, x, y, 1);
    memcpy(ref, base, sizeof ref);
    for (c = 0; c < C; c++)
        for (oi = 0; oi < OH; oi++)
            for (oj = 0; oj < OW; oj++) {
                int k0 = (c * H + 2 * oi) * W + 2 * oj, cand[4], best = k0, q;
                cand[0] = k0;
                cand[1] = k0 + 1;
                cand[2] = k0 + W;
                cand[3] = k0 + W + 1;
                for (q = 1; q < 4; q++)
                    if (x[cand[q]] > x[best]) best = cand[q];
                ref[best] += dy[(c * OH + oi) * OW + oj];
            }
    memcpy(dx, base, sizeof dx);
    memcpy(dx_t, base, sizeof dx_t);
    layer_tangent(l, x, y);   /* tangent_backward needs a tangent pass first */
    layer_tangent_backward(l, dy, dy, dx, dx_t);
    for (i = 0; i < NX; i++)   /* bits: a -0 turned into +0 counts */
        bad += memcmp(&dx[i], &ref[i], sizeof(real)) != 0 ||
               memcmp(&dx_t[i], &ref[i], sizeof(real)) != 0;
    CHECK_MSG(bad == 0, "%d of %d values differ from the scatter", bad, NX);
    layer_destroy(l);
    lc_env_free(&e);
}

/* 2x2 forward for rows of every length the forward treats differently
 * (shorter than a chunk of 16, exactly one or two chunks, chunks plus an
 * overlapping last one), odd heights and widths, with ties (values from a
 * small set) and a few NaN and -inf: y and the routes (read back through
 * the tangent, x_t = the element's index) equal a scan written here, bit
 * for bit: the first maximum in row-major order, a NaN taking over. */
static void test_maxpool_forward_widths(void)
{
    static const int widths[] = {2, 3, 14, 15, 28, 32, 33, 34, 64, 71, 100};
    enum { C = 2, H = 5, MAXW = 100 };
    real x[C * H * MAXW], xt[C * H * MAXW], y[C * 2 * 50], yt[C * 2 * 50];
    int iw, bad = 0, checked = 0;
    for (iw = 0; iw < (int)(sizeof widths / sizeof widths[0]); iw++) {
        int w = widths[iw], oh = H / 2, ow = w / 2, c, oi, oj, i, nx = C * H * w;
        lc_env e;
        layer *l;
        lc_env_init(&e, 1, 1, 40 + (uint64_t)iw);
        l = maxpool2d_create(&e.ctx, "p", C, H, w, 2, 2);
        lc_fill(&e.r, x, (size_t)nx, 1.0, 0.0);
        for (i = 0; i < nx; i++) {
            x[i] = (real)floor(4 * x[i]);   /* -4 .. 3: many ties */
            if (i % 37 == 5) x[i] = (real)NAN;
            if (i % 41 == 7) x[i] = (real)-INFINITY;
            xt[i] = (real)i;
        }
        layer_forward(l, x, y, 1);
        layer_tangent(l, xt, yt);
        for (c = 0; c < C; c++)
            for (oi = 0; oi < oh; oi++)
                for (oj = 0; oj < ow; oj++) {
                    int k0 = (c * H + 2 * oi) * w + 2 * oj, cand[4], best = k0, q;
                    int o = (c * oh + oi) * ow + oj;
                    real m;
                    cand[0] = k0;
                    cand[1] = k0 + 1;
                    cand[2] = k0 + w;
                    cand[3] = k0 + w + 1;
                    m = x[k0];
                    for (q = 1; q < 4; q++)
                        if (x[cand[q]] > m || isnan(x[cand[q]])) {
                            m = x[cand[q]];
                            best = cand[q];
                        }
                    bad += !(y[o] == m || (isnan(y[o]) && isnan(m)));
                    bad += yt[o] != (real)best;
                    checked++;
                }
        layer_destroy(l);
        lc_env_free(&e);
    }
    CHECK_MSG(bad == 0, "%d of %d windows differ from the scan", bad, checked);
    CHECK(checked > 500);
}

/* Overlapping windows (k3 s2 on 5x5 -> 2x2) that share their maximum at the
 * centre: every output routes there and the adjoints add up. */
static void test_maxpool_shared_route_accumulates(void)
{
    real x[25], y[4], dx[25];
    static const real dy[4] = {1, 2, 3, 4};
    lc_env e;
    layer *l;
    int i;
    for (i = 0; i < 25; i++) x[i] = (real)(-i);
    x[12] = 50;
    lc_env_init(&e, 1, 1, 1);
    l = maxpool2d_create(&e.ctx, "p", 1, 5, 5, 3, 2);
    layer_forward(l, x, y, 1);
    for (i = 0; i < 4; i++) CHECK(y[i] == 50);
    for (i = 0; i < 25; i++) dx[i] = 1;
    layer_backward(l, dy, dx);
    for (i = 0; i < 25; i++) CHECK(dx[i] == (i == 12 ? 11 : 1));
    layer_destroy(l);
    lc_env_free(&e);
}

/* PyTorch's scan: a NaN replaces the running max and propagates; an all -inf
 * window gives -inf routed to its first element. */
static void test_maxpool_nan_and_inf(void)
{
    real x[8] = {1, (real)NAN, 5, 2, (real)-INFINITY, (real)-INFINITY, (real)-INFINITY,
                 (real)-INFINITY};
    real y[2], dx[8];
    static const real dy[2] = {7, 9};
    lc_env e;
    layer *l;
    int i;
    lc_env_init(&e, 1, 1, 1);
    l = maxpool2d_create(&e.ctx, "p", 2, 2, 2, 2, 2);
    layer_forward(l, x, y, 1);
    CHECK(isnan(y[0]));
    CHECK(isinf(y[1]) && y[1] < 0);
    memset(dx, 0, sizeof dx);
    layer_backward(l, dy, dx);
    for (i = 0; i < 8; i++) CHECK(dx[i] == (i == 1 ? 7 : i == 4 ? 9 : 0));
    layer_destroy(l);
    lc_env_free(&e);
}

/* x = 0..24 on 5x5, avgpool k2 s2: y = (0+1+5+6)/4 = 3, (2+3+7+8)/4 = 5,
 * (10+11+15+16)/4 = 13, (12+13+17+18)/4 = 15; dy = (4, 8, 12, 16) spreads
 * dy/4 over each window, row 4 and column 4 get nothing. */
static void test_avgpool_values(void)
{
    real x[25], y[4], dx[25];
    static const real dy[4] = {4, 8, 12, 16};
    lc_env e;
    layer *l;
    int i;
    for (i = 0; i < 25; i++) x[i] = (real)i;
    lc_env_init(&e, 1, 1, 1);
    l = avgpool2d_create(&e.ctx, "p", 1, 5, 5, 2, 2);
    layer_forward(l, x, y, 1);
    CHECK(y[0] == 3 && y[1] == 5 && y[2] == 13 && y[3] == 15);
    memset(dx, 0, sizeof dx);
    layer_backward(l, dy, dx);
    for (i = 0; i < 25; i++) {
        int r = i / 5, c = i % 5;
        real want = (r == 4 || c == 4) ? 0 : dy[(r / 2) * 2 + c / 2] / 4;
        CHECK(dx[i] == want);
    }
    layer_destroy(l);
    lc_env_free(&e);
}

/* gap on (2, 2, 3): channel means 3.5 and -1; dy = (6, 12) gives dx = 1 and 2. */
static void test_gap_values(void)
{
    static const real x[12] = {1, 2, 3, 4, 5, 6, -1, -1, -1, -1, -1, -1};
    static const real dy[2] = {6, 12};
    real y[2], dx[12];
    lc_env e;
    layer *l;
    int i;
    lc_env_init(&e, 1, 1, 1);
    l = gap_create(&e.ctx, "gap", 2, 2, 3);
    CHECK(l->out_c == 2 && l->out_h == 1 && l->out_w == 1);
    layer_forward(l, x, y, 1);
    CHECK_NEAR(y[0], 3.5, 1e-15);
    CHECK_NEAR(y[1], -1, 1e-15);
    memset(dx, 0, sizeof dx);
    layer_backward(l, dy, dx);
    for (i = 0; i < 12; i++) CHECK_NEAR(dx[i], i < 6 ? 1 : 2, 1e-15);
    layer_destroy(l);
    lc_env_free(&e);
}

static void test_flatten_shape_and_copy(void)
{
    real x[12], y[12];
    lc_env e;
    layer *l;
    int i;
    for (i = 0; i < 12; i++) x[i] = (real)(i * i);
    lc_env_init(&e, 2, 1, 1);
    l = flatten_create(&e.ctx, "f", 3, 2, 2);
    CHECK(l->out_c == 12 && l->out_h == 1 && l->out_w == 1);
    layer_forward(l, x, y, 1);
    CHECK(memcmp(x, y, sizeof x) == 0);
    layer_destroy(l);
    lc_env_free(&e);
}

int main(int argc, char **argv)
{
    static const test_case cases[] = {
        TEST_CASE(test_fd_maxpool_k2_odd),
        TEST_CASE(test_fd_maxpool_k3_overlap),
        TEST_CASE(test_fd_maxpool_k2_even),
        TEST_CASE(test_fd_avgpool_k2_odd),
        TEST_CASE(test_fd_avgpool_k3_overlap),
        TEST_CASE(test_fd_gap),
        TEST_CASE(test_fd_flatten),
        TEST_CASE(test_maxpool_routes),
        TEST_CASE(test_maxpool_shared_route_accumulates),
        TEST_CASE(test_maxpool_wide_rows_backward),
        TEST_CASE(test_maxpool_forward_widths),
        TEST_CASE(test_maxpool_nan_and_inf),
        TEST_CASE(test_avgpool_values),
        TEST_CASE(test_gap_values),
        TEST_CASE(test_flatten_shape_and_copy),
    };
    return test_main(argc, argv, cases, TEST_COUNT(cases));
}
