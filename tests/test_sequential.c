/*
 * tests/test_sequential.c - the sequential container (nn/sequential.c).
 *
 * - layercheck of [conv BN square conv(stride 2) BN] in train and eval mode:
 *   "square" is a test-local layer y = w[c] x^2 with a real second-order
 *   term, so the internal (da, da_t) pairs must carry second-order terms of
 *   later children back to earlier ones; the stride-2 conv changes the shape
 *   between boundaries.
 * - single child: the container is transparent (same outputs and gradients).
 * - linearity in the adjoints: tangent_backward(dy, dy_t) equals
 *   tangent_backward(dy, NULL) + tangent_backward(NULL, dy_t) (the NULL-dy
 *   sweep must still pass internal adjoints down).
 * - the fused ReLUs (nn/fuse.h) give the same bits as the children run
 *   one by one (outputs, tangents, dx and parameter gradients).
 * - has_batchnorm is the OR of the children; in/out shapes; views
 *   (owns_children = 0) leave their children alive.
 * - zero children and mismatched shapes stop with GC_CHECK (death tests).
 * - first-order views (the trunk's arena planned by liveness, BatchNorm's
 *   backward in place, dead boundaries reused): the same bits as a general
 *   view over the same children, in fewer buffer elements; a tangent pass,
 *   or a second backward without a forward, stops with GC_CHECK.
 * Set LC_VERBOSE=1 to print every layercheck error.
 */
#include "nn/layers.h"
#include "tests/layercheck.h"
#include "tests/test.h"

#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int verbose(void) { return getenv("LC_VERBOSE") != NULL; }

/* ---- a test-local layer with a second-order term: y = w[c] * x^2 ---- */
typedef struct square {
    layer base;
    int w_idx;
} square;

static size_t sq_hw(const layer *l) { return (size_t)l->in_h * l->in_w; }

static void sq_forward(layer *l, const real *x, real *y, int n)
{
    const real *w = ps_value(l->ctx->ps, ((square *)l)->w_idx);
    size_t hw = sq_hw(l), i;
    int b, c;
    for (b = 0; b < n; b++)
        for (c = 0; c < l->in_c; c++)
            for (i = 0; i < hw; i++) {
                size_t k = ((size_t)b * l->in_c + c) * hw + i;
                y[k] = w[c] * x[k] * x[k];
            }
}

static void sq_tangent_backward(layer *l, const real *dy, const real *dy_t, real *dx,
                                real *dx_t)
{
    square *s = (square *)l;
    const real *w = ps_value(l->ctx->ps, s->w_idx);
    real *dw = ps_grad(l->ctx->ps, s->w_idx);
    size_t hw = sq_hw(l), i;
    int b, c;
    for (b = 0; b < l->n; b++)
        for (c = 0; c < l->in_c; c++)
            for (i = 0; i < hw; i++) {
                size_t k = ((size_t)b * l->in_c + c) * hw + i;
                real x = l->x[k];
                if (dy) {
                    if (dx) dx[k] += dy[k] * 2 * w[c] * x;
                    if (l->ctx->grad_params) dw[c] += dy[k] * x * x;
                }
                if (dy_t) {
                    if (dx_t) dx_t[k] += dy_t[k] * 2 * w[c] * x;
                    if (dx) dx[k] += dy_t[k] * 2 * w[c] * l->x_t[k];
                    if (l->ctx->grad_params) dw[c] += dy_t[k] * 2 * x * l->x_t[k];
                }
            }
}

static void sq_backward(layer *l, const real *dy, real *dx)
{
    sq_tangent_backward(l, dy, NULL, dx, NULL);
}

static void sq_tangent(layer *l, const real *x_t, real *y_t)
{
    const real *w = ps_value(l->ctx->ps, ((square *)l)->w_idx);
    size_t hw = sq_hw(l), i;
    int b, c;
    for (b = 0; b < l->n; b++)
        for (c = 0; c < l->in_c; c++)
            for (i = 0; i < hw; i++) {
                size_t k = ((size_t)b * l->in_c + c) * hw + i;
                y_t[k] = 2 * w[c] * l->x[k] * x_t[k];
            }
}

static void sq_destroy(layer *l) { free(l); }

static const layer_ops sq_ops = {"square", sq_forward, sq_backward, sq_tangent,
                                 sq_tangent_backward, sq_destroy};

static layer *square_create(nn_ctx *ctx, const char *name, int c, int h, int w)
{
    square *s = (square *)gc_calloc(1, sizeof *s);
    char full[PS_NAME_MAX];
    int64_t shape[1];
    real *v;
    int i;
    shape[0] = c;
    layer_init(&s->base, &sq_ops, ctx, name, c, h, w, c, h, w);
    layer_child_name(full, name, "weight");
    s->w_idx = ps_add(ctx->ps, full, PS_PARAM, 1, shape);
    v = ps_value(ctx->ps, s->w_idx);
    for (i = 0; i < c; i++) v[i] = (real)(0.5 + 0.25 * i);
    return &s->base;
}

/* [conv(2->3) BN square conv(3->2, stride 2) BN] on 2 x 5 x 4 inputs. */
static layer *build_chain(nn_ctx *ctx)
{
    layer *ch[5];
    ch[0] = conv2d_create(ctx, "s.0", 2, 5, 4, 3, 3, 1, 1, 1);
    ch[1] = batchnorm2d_create(ctx, "s.1", 3, 5, 4);
    ch[2] = square_create(ctx, "s.2", 3, 5, 4);
    ch[3] = conv2d_create(ctx, "s.3", 3, 5, 4, 2, 3, 2, 1, 1);
    ch[4] = batchnorm2d_create(ctx, "s.4", 2, 3, 2);
    return sequential_create(ctx, "s", ch, 5, 1);
}

static void check_chain(int train, int n, uint64_t seed)
{
    lc_env e;
    lc_opts o;
    layer *l;
    double worst;
    lc_env_init(&e, n, train, seed);
    l = build_chain(&e.ctx);
    CHECK(l->in_c == 2 && l->in_h == 5 && l->in_w == 4);
    CHECK(l->out_c == 2 && l->out_h == 3 && l->out_w == 2);
    CHECK(l->has_batchnorm == 1);
    if (!train) lc_set_running_stats(&e.ps, seed + 7);
    lc_default(&o);
    o.n = n;
    o.seed = seed;
    o.verbose = verbose();
    worst = layercheck(l, &o);
    if (o.verbose) printf("  sequential %s n=%d: worst %.2e\n", train ? "train" : "eval", n,
                          worst);
    layer_destroy(l);
    lc_env_free(&e);
}

static void test_layercheck_train(void)
{
    check_chain(1, 2, 31);
    check_chain(1, 3, 32);
}

static void test_layercheck_eval(void) { check_chain(0, 3, 41); }

/* A one-child container gives exactly what the child gives. */
static void test_single_child_transparent(void)
{
    enum { N = 2, C = 3, H = 2, W = 2, T = N * C * H * W };
    lc_env e;
    layer *bn, *s;
    real x[T], x_t[T], dy[T], dy_t[T], y1[T], y2[T], yt1[T], yt2[T];
    real dx1[T], dx2[T], dxt1[T], dxt2[T], g1[2 * C];
    int i;
    lc_env_init(&e, N, 1, 3);
    bn = batchnorm2d_create(&e.ctx, "bn", C, H, W);
    s = sequential_create(&e.ctx, "s", &bn, 1, 0);
    CHECK(s->has_batchnorm == 1);
    lc_fill(&e.r, x, T, 1.0, 0.0);
    lc_fill(&e.r, x_t, T, 1.0, 0.0);
    lc_fill(&e.r, dy, T, 1.0, 0.0);
    lc_fill(&e.r, dy_t, T, 1.0, 0.0);
    memset(dx1, 0, sizeof dx1); memset(dx2, 0, sizeof dx2);
    memset(dxt1, 0, sizeof dxt1); memset(dxt2, 0, sizeof dxt2);
    ps_zero_grad(&e.ps);
    layer_forward(bn, x, y1, N);
    layer_tangent(bn, x_t, yt1);
    layer_tangent_backward(bn, dy, dy_t, dx1, dxt1);
    memcpy(g1, e.ps.grad, sizeof g1);
    ps_zero_grad(&e.ps);
    layer_forward(s, x, y2, N);
    layer_tangent(s, x_t, yt2);
    layer_tangent_backward(s, dy, dy_t, dx2, dxt2);
    for (i = 0; i < T; i++) {
        CHECK(y1[i] == y2[i]);
        CHECK(yt1[i] == yt2[i]);
        CHECK(dx1[i] == dx2[i]);
        CHECK(dxt1[i] == dxt2[i]);
    }
    for (i = 0; i < 2 * C; i++) CHECK(g1[i] == e.ps.grad[i]);
    layer_destroy(s);            /* a view: bn stays alive */
    layer_forward(bn, x, y2, N);
    for (i = 0; i < T; i++) CHECK(y1[i] == y2[i]);
    layer_destroy(bn);
    lc_env_free(&e);
}

/* The fused ReLUs of nn/fuse.h (conv -> ReLU, BN -> ReLU in the forward;
 * ReLU <- maxpool in the backward, the 2x2 pool writing its whole adjoint
 * buffer unzeroed, with odd sizes too; a ReLU as the last child) give the
 * same bits as the children run one by one, each into its own buffer. */
static void check_fused_relu_bits(int h, int train)
{
    enum { N = 3, K = 9 };
    lc_env e;
    layer *ch[K], *s;
    real *a[K], *da[K], *at[K], *x, *x_t, *dx1, *dx2, *y2, *yt2, *dy, *g1;
    size_t sz[K], ng, i, nx = (size_t)N * 2 * h * h;
    int k, bad = 0, h2 = h / 2, h4 = h / 4;
    lc_env_init(&e, N, train, 17);
    ch[0] = conv2d_create(&e.ctx, "f.0", 2, h, h, 3, 3, 1, 1, 1);
    ch[1] = relu_create(&e.ctx, "f.1", 3, h, h);
    ch[2] = maxpool2d_create(&e.ctx, "f.2", 3, h, h, 2, 2);
    ch[3] = conv2d_create(&e.ctx, "f.3", 3, h2, h2, 4, 3, 1, 1, 1);
    ch[4] = batchnorm2d_create(&e.ctx, "f.4", 4, h2, h2);
    ch[5] = relu_create(&e.ctx, "f.5", 4, h2, h2);
    ch[6] = maxpool2d_create(&e.ctx, "f.6", 4, h2, h2, 2, 2);
    ch[7] = conv2d_create(&e.ctx, "f.7", 4, h4, h4, 3, 3, 1, 1, 1);
    ch[8] = relu_create(&e.ctx, "f.8", 3, h4, h4);
    if (!train) lc_set_running_stats(&e.ps, 23);
    x = (real *)calloc(nx, sizeof(real));
    x_t = (real *)calloc(nx, sizeof(real));
    dx1 = (real *)calloc(nx, sizeof(real));
    dx2 = (real *)calloc(nx, sizeof(real));
    s = sequential_create(&e.ctx, "f", ch, K, 0);
    for (k = 0; k < K; k++) {
        sz[k] = (size_t)N * layer_out_size(ch[k]);
        a[k] = (real *)calloc(sz[k], sizeof(real));
        at[k] = (real *)calloc(sz[k], sizeof(real));
        da[k] = (real *)calloc(sz[k], sizeof(real));
    }
    y2 = (real *)calloc(sz[K - 1], sizeof(real));
    yt2 = (real *)calloc(sz[K - 1], sizeof(real));
    dy = (real *)calloc(sz[K - 1], sizeof(real));
    ng = e.ps.nvalue;
    g1 = (real *)calloc(ng, sizeof(real));
    lc_fill(&e.r, x, nx, 1.0, 0.0);
    lc_fill(&e.r, x_t, nx, 1.0, 0.0);
    lc_fill(&e.r, dy, sz[K - 1], 1.0, 0.0);
    /* one by one: no ReLU in place, no fusion */
    ps_zero_grad(&e.ps);
    for (k = 0; k < K; k++) layer_forward(ch[k], k ? a[k - 1] : x, a[k], N);
    for (k = 0; k < K; k++) layer_tangent(ch[k], k ? at[k - 1] : x_t, at[k]);
    memset(dx1, 0, nx * sizeof(real));
    memcpy(da[K - 1], dy, sz[K - 1] * sizeof(real));
    for (k = K - 1; k >= 0; k--) {
        if (k) memset(da[k - 1], 0, sz[k - 1] * sizeof(real));
        layer_backward(ch[k], da[k], k ? da[k - 1] : dx1);
    }
    memcpy(g1, e.ps.grad, ng * sizeof(real));
    /* the container, fused; a first backward with another dy leaves values
     * in its adjoint buffers, which a missed zeroing would add in */
    layer_forward(s, x, y2, N);
    layer_tangent(s, x_t, yt2);
    lc_fill(&e.r, dx2, nx, 1.0, 0.0);
    for (i = 0; i < sz[K - 1]; i++) yt2[i] = dy[i] + 1;
    layer_backward(s, yt2, dx2);
    layer_tangent(s, x_t, yt2);
    ps_zero_grad(&e.ps);
    memset(dx2, 0, nx * sizeof(real));
    layer_backward(s, dy, dx2);
    for (i = 0; i < sz[K - 1]; i++) bad += a[K - 1][i] != y2[i] || at[K - 1][i] != yt2[i];
    for (i = 0; i < nx; i++) bad += dx1[i] != dx2[i];
    for (i = 0; i < ng; i++) bad += g1[i] != e.ps.grad[i];
    CHECK_MSG(bad == 0, "%dx%d: %d values differ from the unfused children", h, h, bad);
    /* the rectified outputs were really exercised: some zeros, some positives */
    {
        int zeros = 0, pos = 0;
        for (i = 0; i < sz[K - 1]; i++) {
            zeros += y2[i] == 0;
            pos += y2[i] > 0;
        }
        CHECK(zeros > 0 && pos > 0);
    }
    layer_destroy(s);
    for (k = 0; k < K; k++) {
        layer_destroy(ch[k]);
        free(a[k]);
        free(at[k]);
        free(da[k]);
    }
    free(y2);
    free(yt2);
    free(dy);
    free(g1);
    free(x);
    free(x_t);
    free(dx1);
    free(dx2);
    lc_env_free(&e);
}

static void test_fused_relu_bits(void)
{
    check_fused_relu_bits(8, 1);    /* even sizes: 8 -> 4 -> 2 */
    check_fused_relu_bits(8, 0);    /* eval mode (BatchNorm's affine adjoint) */
    check_fused_relu_bits(11, 1);   /* odd: 11 -> 5 -> 2, rows / columns no window covers */
    check_fused_relu_bits(38, 1);   /* 19 windows a row: a full chunk of the 2x2 adjoint */
}

/* tangent_backward is linear in (dy, dy_t): the NULL-dy sweep must still
 * carry the second-order terms of later children back through the chain. */
static void test_adjoint_linearity(void)
{
    enum { N = 2, NX = N * 2 * 5 * 4, NY = N * 2 * 3 * 2 };
    lc_env e;
    layer *l;
    real x[NX], x_t[NX], y[NY], y_t[NY], dy[NY], dy_t[NY];
    real dx_both[NX], dxt_both[NX], dx_sum[NX], dxt_sum[NX], *g_both;
    size_t np, i;
    double md = 0, mx = 0;
    lc_env_init(&e, N, 1, 77);
    l = build_chain(&e.ctx);
    np = e.ps.nvalue;
    g_both = (real *)gc_calloc(np, sizeof(real));
    lc_fill(&e.r, x, NX, 1.0, 0.0);
    lc_fill(&e.r, x_t, NX, 1.0, 0.0);
    lc_fill(&e.r, dy, NY, 1.0, 0.0);
    lc_fill(&e.r, dy_t, NY, 1.0, 0.0);
    layer_forward(l, x, y, N);
    layer_tangent(l, x_t, y_t);
    memset(dx_both, 0, sizeof dx_both); memset(dxt_both, 0, sizeof dxt_both);
    memset(dx_sum, 0, sizeof dx_sum); memset(dxt_sum, 0, sizeof dxt_sum);
    ps_zero_grad(&e.ps);
    layer_tangent_backward(l, dy, dy_t, dx_both, dxt_both);
    memcpy(g_both, e.ps.grad, np * sizeof(real));
    ps_zero_grad(&e.ps);
    layer_tangent_backward(l, dy, NULL, dx_sum, dxt_sum);
    layer_tangent_backward(l, NULL, dy_t, dx_sum, dxt_sum);
    for (i = 0; i < NX; i++) {
        if (fabs(dx_both[i] - dx_sum[i]) > md) md = fabs(dx_both[i] - dx_sum[i]);
        if (fabs(dxt_both[i] - dxt_sum[i]) > md) md = fabs(dxt_both[i] - dxt_sum[i]);
        if (fabs(dx_both[i]) > mx) mx = fabs(dx_both[i]);
    }
    for (i = 0; i < np; i++)
        if (fabs(g_both[i] - e.ps.grad[i]) > md) md = fabs(g_both[i] - e.ps.grad[i]);
    CHECK(mx > 1e-3);
    CHECK_MSG(md <= 1e-12 * (1 + mx), "split sweeps differ by %g", md);
    /* dy = NULL alone still produces a non-zero dx (second-order terms) */
    memset(dx_sum, 0, sizeof dx_sum);
    layer_tangent_backward(l, NULL, dy_t, dx_sum, NULL);
    mx = 0;
    for (i = 0; i < NX; i++)
        if (fabs(dx_sum[i]) > mx) mx = fabs(dx_sum[i]);
    CHECK_MSG(mx > 1e-3, "second-order dx through the chain is %g", mx);
    free(g_both);
    layer_destroy(l);
    lc_env_free(&e);
}

static void test_has_batchnorm_or(void)
{
    lc_env e;
    layer *a, *b, *s;
    layer *ch[2];
    lc_env_init(&e, 2, 1, 1);
    a = square_create(&e.ctx, "a", 2, 3, 3);
    b = square_create(&e.ctx, "b", 2, 3, 3);
    ch[0] = a;
    ch[1] = b;
    s = sequential_create(&e.ctx, "s", ch, 2, 0);
    CHECK(s->has_batchnorm == 0);
    CHECK(!layer_batch_coupled(s));
    layer_destroy(s);
    ch[1] = batchnorm2d_create(&e.ctx, "bn", 2, 3, 3);
    s = sequential_create(&e.ctx, "s", ch, 2, 1);   /* owns a and the BN */
    CHECK(s->has_batchnorm == 1);
    CHECK(layer_batch_coupled(s));
    e.ctx.train = 0;
    CHECK(!layer_batch_coupled(s));
    CHECK(strcmp(s->ops->kind, "sequential") == 0);
    layer_destroy(s);
    layer_destroy(b);
    lc_env_free(&e);
}

/* Run fn in a child process; true if it died of SIGABRT (GC_CHECK). */
static int aborts(void (*fn)(void))
{
    pid_t pid;
    int status = 0;
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid < 0) return 0;
    if (pid == 0) {
        if (!freopen("/dev/null", "w", stderr)) _exit(2);
        fn();
        _exit(0);
    }
    if (waitpid(pid, &status, 0) != pid) return 0;
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
}

static void make_empty(void)
{
    lc_env e;
    lc_env_init(&e, 2, 1, 1);
    sequential_create(&e.ctx, "s", NULL, 0, 1);
}

static void make_mismatched(void)
{
    lc_env e;
    layer *ch[2];
    lc_env_init(&e, 2, 1, 1);
    ch[0] = square_create(&e.ctx, "a", 2, 3, 3);
    ch[1] = square_create(&e.ctx, "b", 3, 3, 3);
    sequential_create(&e.ctx, "s", ch, 2, 1);
}

static void test_bad_construction_aborts(void)
{
    CHECK(aborts(make_empty));
    CHECK(aborts(make_mismatched));
}

/* The children of check_first_order_bits: every kind whose backward reads
 * its input, its output or neither, a BatchNorm backward in place (5, before
 * a residual block) and one as the last child (9), a dead boundary (BN ->
 * ReLU -> pool), a max-pool whose input is kept (7, after the residual). */
enum { FO_K = 10 };

static void fo_children(lc_env *e, int h, layer **ch)
{
    int h2 = h / 2, h4 = h2 / 2;
    ch[0] = conv2d_create(&e->ctx, "f.0", 2, h, h, 3, 3, 1, 1, 1);
    ch[1] = batchnorm2d_create(&e->ctx, "f.1", 3, h, h);
    ch[2] = relu_create(&e->ctx, "f.2", 3, h, h);
    ch[3] = maxpool2d_create(&e->ctx, "f.3", 3, h, h, 2, 2);
    ch[4] = conv2d_create(&e->ctx, "f.4", 3, h2, h2, 4, 3, 1, 1, 1);
    ch[5] = batchnorm2d_create(&e->ctx, "f.5", 4, h2, h2);
    ch[6] = residual_create(&e->ctx, "f.6", 4, h2, h2, 5);
    ch[7] = maxpool2d_create(&e->ctx, "f.7", 5, h2, h2, 2, 2);
    ch[8] = conv2d_create(&e->ctx, "f.8", 5, h4, h4, 3, 3, 1, 1, 1);
    ch[9] = batchnorm2d_create(&e->ctx, "f.9", 3, h4, h4);
}

/* One forward and backward of s; y, dx and the parameter gradients out. A
 * first backward with another dy (after its own forward) leaves values in
 * the adjoint buffers, which a missed zeroing would add in. */
static void fo_run(lc_env *e, layer *s, const real *x, const real *dy, real *y, real *dx,
                   size_t ny, size_t nx, int n)
{
    real *dy2 = (real *)gc_calloc(ny, sizeof(real));
    size_t i;
    for (i = 0; i < ny; i++) dy2[i] = 1 - dy[i];
    layer_forward(s, x, y, n);
    layer_backward(s, dy2, dx);
    layer_forward(s, x, y, n);
    ps_zero_grad(&e->ps);
    memset(dx, 0, nx * sizeof(real));
    layer_backward(s, dy, dx);
    free(dy2);
}

/* priv: the view's buffers each in their own memory (nn_ctx
 * arena_private_max), as a model's trunk at small sizes. */
static void check_first_order_bits(int h, int train, int priv)
{
    enum { N = 3 };
    lc_env e;
    layer *ch[FO_K], *gen, *fo;
    real *x, *dy, *y1, *y2, *dx1, *dx2, *g1;
    size_t nx = (size_t)N * 2 * h * h, ny, ng, i;
    int k, bad = 0;
    lc_env_init(&e, N, train, 29);
    fo_children(&e, h, ch);
    if (!train) lc_set_running_stats(&e.ps, 31);
    gen = sequential_create(&e.ctx, "gen", ch, FO_K, 0);
    ny = (size_t)N * layer_out_size(gen);
    ng = e.ps.nvalue;
    x = (real *)gc_calloc(nx, sizeof(real));
    dx1 = (real *)gc_calloc(nx, sizeof(real));
    dx2 = (real *)gc_calloc(nx, sizeof(real));
    dy = (real *)gc_calloc(ny, sizeof(real));
    y1 = (real *)gc_calloc(ny, sizeof(real));
    y2 = (real *)gc_calloc(ny, sizeof(real));
    g1 = (real *)gc_calloc(ng, sizeof(real));
    lc_fill(&e.r, x, nx, 1.0, 0.0);
    lc_fill(&e.r, dy, ny, 1.0, 0.0);
    fo_run(&e, gen, x, dy, y1, dx1, ny, nx, N);   /* the residual block's own buffers */
    memcpy(g1, e.ps.grad, ng * sizeof(real));
    if (priv) e.ctx.arena_private_max = (size_t)-1;
    fo = sequential_create_first_order(&e.ctx, "fo", ch, FO_K);   /* binds the block */
    fo_run(&e, fo, x, dy, y2, dx2, ny, nx, N);
    for (i = 0; i < ny; i++) bad += y1[i] != y2[i];
    for (i = 0; i < nx; i++) bad += dx1[i] != dx2[i];
    for (i = 0; i < ng; i++) bad += g1[i] != e.ps.grad[i];
    CHECK_MSG(bad == 0, "%dx%d train %d: %d values differ from the general view", h, h, train,
              bad);
    {   /* the gradients are not trivially equal: non-zero, finite */
        double mx = 0;
        for (i = 0; i < ng; i++) mx = fabs(g1[i]) > mx ? fabs(g1[i]) : mx;
        CHECK(mx > 1e-3 && mx < 1e6);
    }
    /* the plan shares memory: the arena (which also holds the residual
     * block's buffers) is smaller than the general view's buffers and the
     * block's own together */
    if (!priv) {
        size_t fwd, keep, bwd, general;
        residual_plan_elems(ch[6], &fwd, &keep, &bwd);
        general = sequential_buffer_elems(gen) + fwd + keep + bwd;
        CHECK_MSG(sequential_buffer_elems(fo) < general, "arena %zu >= general %zu",
                  sequential_buffer_elems(fo), general);
    }
    /* destroying the view gives the block its own buffers back */
    layer_destroy(fo);
    fo_run(&e, gen, x, dy, y2, dx2, ny, nx, N);
    bad = 0;
    for (i = 0; i < nx; i++) bad += dx1[i] != dx2[i];
    for (i = 0; i < ng; i++) bad += g1[i] != e.ps.grad[i];
    CHECK_MSG(bad == 0, "after the first-order view: %d values differ", bad);
    layer_destroy(gen);
    for (k = 0; k < FO_K; k++) layer_destroy(ch[k]);
    free(x); free(dx1); free(dx2); free(dy); free(y1); free(y2); free(g1);
    lc_env_free(&e);
}

static void test_first_order_bits(void)
{
    check_first_order_bits(8, 1, 0);
    check_first_order_bits(8, 0, 0);
    check_first_order_bits(11, 1, 0);   /* odd sizes: rows no pool window covers */
    check_first_order_bits(8, 1, 1);
    check_first_order_bits(11, 0, 1);
}

/* A first-order view on Level 2's pattern saves what it should:
 * [conv BN ReLU pool] x2 conv BN, 16x16, 8 channels. In units of conv0's
 * output (8x16x16 per sample) the boundaries are 1, 1 (BN -> ReLU, dead once
 * pooled), 1/4, 1/2, 1/2 (dead), 1/8, 1/4. */
/* Below nn_ctx's arena_private_max (the buffers' total, P), nothing
 * shares: the arena is P; one real less and it is the shared plan's,
 * smaller on fo_children's pattern. */
static void test_first_order_private_arena(void)
{
    lc_env e;
    layer *ch[FO_K], *fo;
    size_t shared, total;
    int k;
    lc_env_init(&e, 3, 1, 29);
    fo_children(&e, 8, ch);
    fo = sequential_create_first_order(&e.ctx, "fo", ch, FO_K);
    shared = sequential_buffer_elems(fo);
    layer_destroy(fo);
    e.ctx.arena_private_max = (size_t)-1;
    fo = sequential_create_first_order(&e.ctx, "fo", ch, FO_K);
    total = sequential_buffer_elems(fo);
    layer_destroy(fo);
    CHECK_MSG(total > shared, "private %zu, shared %zu", total, shared);
    e.ctx.arena_private_max = total;
    fo = sequential_create_first_order(&e.ctx, "fo", ch, FO_K);
    CHECK(sequential_buffer_elems(fo) == total);
    layer_destroy(fo);
    e.ctx.arena_private_max = total - 1;
    fo = sequential_create_first_order(&e.ctx, "fo", ch, FO_K);
    CHECK(sequential_buffer_elems(fo) == shared);
    layer_destroy(fo);
    for (k = 0; k < FO_K; k++) layer_destroy(ch[k]);
    lc_env_free(&e);
}

static void test_first_order_plan_size(void)
{
    enum { N = 2, C = 8, H = 16 };
    lc_env e;
    layer *ch[10], *gen, *fo;
    size_t unit = (size_t)N * C * H * H;
    int k;
    lc_env_init(&e, N, 1, 3);
    ch[0] = conv2d_create(&e.ctx, "p.0", 1, H, H, C, 3, 1, 1, 1);
    ch[1] = batchnorm2d_create(&e.ctx, "p.1", C, H, H);
    ch[2] = relu_create(&e.ctx, "p.2", C, H, H);
    ch[3] = maxpool2d_create(&e.ctx, "p.3", C, H, H, 2, 2);
    ch[4] = conv2d_create(&e.ctx, "p.4", C, H / 2, H / 2, 2 * C, 3, 1, 1, 1);
    ch[5] = batchnorm2d_create(&e.ctx, "p.5", 2 * C, H / 2, H / 2);
    ch[6] = relu_create(&e.ctx, "p.6", 2 * C, H / 2, H / 2);
    ch[7] = maxpool2d_create(&e.ctx, "p.7", 2 * C, H / 2, H / 2, 2, 2);
    ch[8] = conv2d_create(&e.ctx, "p.8", 2 * C, H / 4, H / 4, 4 * C, 3, 1, 1, 1);
    ch[9] = batchnorm2d_create(&e.ctx, "p.9", 4 * C, H / 4, H / 4);
    gen = sequential_create(&e.ctx, "gen", ch, 10, 0);
    fo = sequential_create_first_order(&e.ctx, "fo", ch, 10);
    /* general: every boundary (the ReLUs in place), 29/8, and two
     * ping-pong adjoint buffers of the largest boundary, 2 */
    CHECK(sequential_buffer_elems(gen) == unit * 45 / 8);
    /* first order: the peak is at the first pool's backward: conv0's output
     * (kept for BN 1), the adjoint it writes (which BN 1 then overwrites in
     * place), the pool's output and its adjoint, 1 + 1 + 1/4 + 1/4; first
     * fit may leave a gap, but not a whole unit */
    CHECK_MSG(sequential_buffer_elems(fo) < unit * 3, "arena %zu elements, unit %zu",
              sequential_buffer_elems(fo), unit);
    CHECK(sequential_buffer_elems(fo) >= unit * 5 / 2);
    layer_destroy(gen);
    layer_destroy(fo);
    for (k = 0; k < 10; k++) layer_destroy(ch[k]);
    lc_env_free(&e);
}

static void first_order_tangent(void)
{
    enum { N = 2, H = 8 };
    lc_env e;
    layer *ch[FO_K], *fo;
    static real x[N * 2 * H * H], y[N * 3 * 2 * 2];
    lc_env_init(&e, N, 1, 5);
    fo_children(&e, H, ch);
    fo = sequential_create_first_order(&e.ctx, "fo", ch, FO_K);
    layer_forward(fo, x, y, N);
    layer_tangent(fo, x, y);
}

static void first_order_second_backward(void)
{
    enum { N = 2, H = 8 };
    lc_env e;
    layer *ch[FO_K], *fo;
    static real x[N * 2 * H * H], y[N * 3 * 2 * 2], dy[N * 3 * 2 * 2];
    lc_env_init(&e, N, 1, 5);
    fo_children(&e, H, ch);
    fo = sequential_create_first_order(&e.ctx, "fo", ch, FO_K);
    layer_forward(fo, x, y, N);
    layer_backward(fo, dy, NULL);
    layer_backward(fo, dy, NULL);
}

static void test_first_order_refusals(void)
{
    CHECK(aborts(first_order_tangent));
    CHECK(aborts(first_order_second_backward));
}

/* A vector-input child (dense) accepts any shape of the same size. */
static void test_flat_input_accepted(void)
{
    enum { N = 2 };
    lc_env e;
    lc_opts o;
    layer *ch[2], *s;
    lc_env_init(&e, N, 1, 8);
    ch[0] = batchnorm2d_create(&e.ctx, "bn", 2, 2, 3);
    ch[1] = dense_create(&e.ctx, "fc", 12, 4);
    s = sequential_create(&e.ctx, "s", ch, 2, 1);
    CHECK(s->out_c == 4 && s->out_h == 1 && s->out_w == 1);
    lc_default(&o);
    o.n = N;
    o.verbose = verbose();
    layercheck(s, &o);
    layer_destroy(s);
    lc_env_free(&e);
}

int main(int argc, char **argv)
{
    static const test_case cases[] = {
        TEST_CASE(test_layercheck_train),
        TEST_CASE(test_layercheck_eval),
        TEST_CASE(test_single_child_transparent),
        TEST_CASE(test_adjoint_linearity),
        TEST_CASE(test_fused_relu_bits),
        TEST_CASE(test_has_batchnorm_or),
        TEST_CASE(test_bad_construction_aborts),
        TEST_CASE(test_flat_input_accepted),
        TEST_CASE(test_first_order_bits),
        TEST_CASE(test_first_order_plan_size),
        TEST_CASE(test_first_order_private_arena),
        TEST_CASE(test_first_order_refusals),
    };
    return test_main(argc, argv, cases, TEST_COUNT(cases));
}
