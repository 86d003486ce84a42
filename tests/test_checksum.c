/*
 * tests/test_checksum.c - bit-for-bit reproducibility across compilers,
 * C libraries and CPUs (docs/PORTABILITY.md, issue 7).
 *
 * A short deterministic training computation - Level 1 at 12x12 and Level 4
 * at 16x16 (its smallest input with a 2x2 map), 2 classes, fixed seeds, single thread, three steps of the regularised loss
 * (cam/step.h: lambda 10, exact gradient through G, DESIGN.md sections 1-2)
 * each followed by Adam (nn/adam.h, DESIGN.md section 5) on a fixed synthetic
 * batch - ends in a checksum of the final parameters and buffers: FNV-1a
 * (64-bit) over the IEEE-754 bit pattern of every value, each value's bytes
 * fed least significant first, so a big-endian host hashes the same numbers
 * to the same checksum. The program prints lines
 *     CHECKSUM <float|double> <name> <16 hex digits>
 * which tests/portability.sh collects from every configuration (compiler,
 * C library, CPU) and compares. This file is compiled in double by the
 * Makefile (`make test`) and in float by tests/portability.sh.
 *
 * The checksums are not compared with stored constants here: they change
 * whenever the numerical code legitimately changes (summation order of the
 * GEMM, ...). What is asserted here: FNV-1a known vectors, the byte-order
 * normalisation, that the same seed gives the same bits twice in one
 * process, that the training run really trained (finite loss, CAM term
 * active, parameters moved), and that sqrt() and fma() are correctly
 * rounded (the portability argument relies on it). A `libm` checksum of
 * exp, log, pow, sin, cos over fixed arguments is printed for information:
 * those functions are not required to be correctly rounded, and C libraries
 * may differ in the last bit.
 */
#include "cam/step.h"
#include "nn/adam.h"
#include "tests/test.h"

#include <string.h>

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

#define N 8
#define CLASSES 2
#define MAX_SIZE 16
#define STEPS 3
#define LAMBDA 10.0
#define LR 1e-3

static uint64_t fnv_bytes(uint64_t h, const unsigned char *p, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        h ^= (uint64_t)p[i];
        h *= FNV_PRIME;
    }
    return h;
}

/* Feed the low `nbytes` bytes of bits, least significant first. */
static uint64_t fnv_le(uint64_t h, uint64_t bits, int nbytes)
{
    unsigned char b[8];
    int i;
    for (i = 0; i < nbytes; i++) b[i] = (unsigned char)((bits >> (8 * i)) & 0xffu);
    return fnv_bytes(h, b, (size_t)nbytes);
}

static uint64_t fnv_double(uint64_t h, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    return fnv_le(h, bits, 8);
}

static uint64_t fnv_real(uint64_t h, real v)
{
#ifdef GC_REAL_DOUBLE
    return fnv_double(h, v);
#else
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits);
    return fnv_le(h, bits, 4);
#endif
}

static uint64_t fnv_reals(uint64_t h, const real *v, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) h = fnv_real(h, v[i]);
    return h;
}

static void print_checksum(const char *name, uint64_t h)
{
    printf("CHECKSUM %s %s %08lx%08lx\n", REAL_NAME, name, (unsigned long)(h >> 32),
           (unsigned long)(h & 0xffffffffUL));
}

static void test_fnv_known_vectors(void)
{
    CHECK(fnv_bytes(FNV_OFFSET, (const unsigned char *)"", 0) == 0xcbf29ce484222325ULL);
    CHECK(fnv_bytes(FNV_OFFSET, (const unsigned char *)"a", 1) == 0xaf63dc4c8601ec8cULL);
    CHECK(fnv_bytes(FNV_OFFSET, (const unsigned char *)"foobar", 6) == 0x85944171f73967e8ULL);
}

/* The hash of a value is the hash of its little-endian IEEE bytes on every
 * host: 1.0 and -2.5 in binary32 / binary64, written out by hand. */
static void test_byte_order_normalised(void)
{
#ifdef GC_REAL_DOUBLE
    static const unsigned char le[16] = {0, 0, 0, 0, 0, 0, 0xf0, 0x3f,
                                         0, 0, 0, 0, 0, 0, 0x04, 0xc0};
#else
    static const unsigned char le[8] = {0, 0, 0x80, 0x3f, 0, 0, 0x20, 0xc0};
#endif
    real v[2];
    v[0] = (real)1.0;
    v[1] = (real)-2.5;
    CHECK(fnv_reals(FNV_OFFSET, v, 2) == fnv_bytes(FNV_OFFSET, le, sizeof le));
    CHECK(fnv_double(FNV_OFFSET, 1.0) ==
          fnv_bytes(FNV_OFFSET, (const unsigned char *)"\0\0\0\0\0\0\xf0\x3f", 8));
}

static int last_param(const param_store *ps)
{
    int i, last = -1;
    for (i = 0; i < ps->count; i++) if (ps->entry[i].kind == PS_PARAM) last = i;
    return last;
}

typedef struct run_out {
    uint64_t hash;             /* parameters, buffers, Adam moments after the run */
    double loss[STEPS], loss_cam[STEPS];
    int n_selected[STEPS];
    double moved;              /* max |theta_final - theta_0| */
} run_out;

/* Build `level`, label a fixed batch so both classes are predicted correctly
 * in eval mode (labels = the model's own ranking, classifier bias shifted to split the
 * batch N/2 : N/2, as tests/test_step.c does), then STEPS x (step_run +
 * adam_step). Returns 0 if the model could not be built. */
static int train_run(int level, int size, run_out *out)
{
    model m;
    train_step st;
    adam opt;
    gc_error err;
    step_opts o;
    step_result res;
    rng r;
    real x[N * MAX_SIZE * MAX_SIZE], d[N], sorted[N], *bias, *theta0;
    int y[N], i, j, t;
    size_t k;
    double thr;

    memset(out, 0, sizeof *out);
    if (model_build(&m, level, 1, size, size, CLASSES, N, 20240 + (uint64_t)level, &err) != GC_OK) {
        CHECK_MSG(0, "level %d: %s", level, err.msg);
        return 0;
    }
    if (step_init(&st, &m, &err) != GC_OK) {
        CHECK_MSG(0, "level %d: %s", level, err.msg);
        model_free(&m);
        return 0;
    }
    if (adam_init(&opt, m.ps.nvalue, LR, 0.9, 0.999, 1e-8, 0, &err) != GC_OK) {
        CHECK_MSG(0, "level %d: %s", level, err.msg);
        step_free(&st);
        model_free(&m);
        return 0;
    }
    /* a fixed batch: a bright square left (even samples) or right (odd),
     * plus uniform noise from a fixed seed */
    rng_seed(&r, 7);
    for (i = 0; i < N; i++)
        for (k = 0; k < (size_t)size * size; k++) {
            int row = (int)(k / (size_t)size), col = (int)(k % (size_t)size);
            int left = col >= 2 && col < 6, right = col >= 6 && col < 10;
            int on = row >= 4 && row < 8 && (i % 2 == 0 ? left : right);
            x[(size_t)i * size * size + k] = (real)((on ? 1.0 : 0.0) +
                                                    rng_uniform_range(&r, -0.25, 0.25));
        }
    /* labels: the model's own ranking of logit differences, split at the
     * median, with the classifier bias moved so they are its predictions */
    model_set_train(&m, 0);
    model_forward(&m, x, N);
    for (i = 0; i < N; i++) d[i] = m.logits[i * CLASSES + 1] - m.logits[i * CLASSES];
    memcpy(sorted, d, sizeof d);
    for (i = 1; i < N; i++)
        for (j = i; j > 0 && sorted[j - 1] > sorted[j]; j--) {
            real s = sorted[j]; sorted[j] = sorted[j - 1]; sorted[j - 1] = s;
        }
    thr = 0.5 * ((double)sorted[N / 2 - 1] + (double)sorted[N / 2]);
    bias = ps_value(&m.ps, last_param(&m.ps));
    bias[1] -= (real)(thr / 2);
    bias[0] += (real)(thr / 2);
    for (i = 0; i < N; i++) y[i] = (double)d[i] - thr > 0 ? 1 : 0;

    theta0 = (real *)gc_calloc(m.ps.nvalue, sizeof(real));
    memcpy(theta0, m.ps.value, m.ps.nvalue * sizeof(real));
    step_opts_default(&o);
    o.lambda = LAMBDA;
    o.grad_mode = CAM_GRAD_EXACT;
    model_set_train(&m, 1);
    for (t = 0; t < STEPS; t++) {
        step_run(&st, x, y, N, &o, NULL, &res);
        adam_step(&opt, m.ps.value, m.ps.grad);
        out->loss[t] = res.loss;
        out->loss_cam[t] = res.loss_cam;
        out->n_selected[t] = res.n_selected;
    }
    for (k = 0; k < m.ps.nvalue; k++) {
        double dv = fabs((double)m.ps.value[k] - (double)theta0[k]);
        if (dv > out->moved) out->moved = dv;
    }
    out->hash = fnv_reals(FNV_OFFSET, m.ps.value, m.ps.nvalue);
    out->hash = fnv_reals(out->hash, m.ps.buffer, m.ps.nbuffer);
    out->hash = fnv_reals(out->hash, opt.m, opt.n);
    out->hash = fnv_reals(out->hash, opt.v, opt.n);
    free(theta0);
    adam_free(&opt);
    step_free(&st);
    model_free(&m);
    return 1;
}

static void check_training(int level, int size, const char *name)
{
    run_out a, b;
    double cam = 0;
    int t;
    GC_CHECK(size <= MAX_SIZE);
    if (!train_run(level, size, &a) || !train_run(level, size, &b)) return;
    CHECK_MSG(a.hash == b.hash, "level %d: same seed, different bits (%016llx vs %016llx)",
              level, (unsigned long long)a.hash, (unsigned long long)b.hash);
    for (t = 0; t < STEPS; t++) {
        CHECK_MSG(isfinite(a.loss[t]), "level %d step %d: loss %g", level, t, a.loss[t]);
        printf("    level %d step %d: loss %.17g (cam %.17g, %d selected)\n", level, t,
               a.loss[t], a.loss_cam[t], a.n_selected[t]);
        cam += a.loss_cam[t];
    }
    /* the CAM term (and so the exact G path) took part in the gradients */
    CHECK_MSG(cam > 0 && a.n_selected[STEPS - 1] >= 2, "level %d: CAM term %g, %d selected",
              level, cam, a.n_selected[STEPS - 1]);
    /* Adam moves every parameter with a non-zero gradient by about lr */
    CHECK_MSG(a.moved > 0.5 * LR && a.moved < 10 * LR, "level %d: largest move %g", level,
              a.moved);
    print_checksum(name, a.hash);
}

/* The computation: Level 1 (conv ReLU pool, GAP, linear). */
static void test_level1_training_checksum(void) { check_training(1, 12, "train-level1"); }
/* Level 4 adds BatchNorm (train mode: 1/sqrt(var + eps)), SE (sigmoid:
 * exp) and dropout (the RNG) to the computation. */
static void test_level4_training_checksum(void) { check_training(4, 16, "train-level4"); }

/* 1 if s is the correctly rounded square root of x > 0: no neighbour of s
 * has a smaller residual |t*t - x| (computed exactly with fma, which must
 * itself be correct for this to mean anything: see test_fma_exact). */
static int sqrt_is_rounded(double x, double s)
{
    double r = fabs(fma(s, s, -x));
    double lo = nextafter(s, 0.0), hi = nextafter(s, 2.0 * s + 1.0);
    return r <= fabs(fma(lo, lo, -x)) && r <= fabs(fma(hi, hi, -x));
}

/* fma(a, b, c) rounds once: (1 + 2^-30)^2 - 1 = 2^-29 + 2^-60 exactly,
 * while a*b+c rounded twice loses the 2^-60 - which it does only if the
 * compiler did not contract it into an fma (-ffp-contract=off). */
static void test_fma_exact(void)
{
    volatile double a = 1.0 + ldexp(1.0, -30), c = -1.0;
    double f = fma(a, a, c), two = a * a + c;
    CHECK(f == ldexp(1.0, -29) + ldexp(1.0, -60));
#ifdef GC_FMA   /* make FMA=1: the compiler may contract a*a + c into an fma */
    CHECK(two == ldexp(1.0, -29) || two == f);
#else
    CHECK(two == ldexp(1.0, -29));
#endif
    CHECK(fma(ldexp(1.0, 1000), ldexp(1.0, 10), -HUGE_VAL) == -HUGE_VAL);
}

/* sqrt is correctly rounded (IEEE 754 requires it; the portability argument
 * relies on it); exp, log, pow, sin, cos only print a checksum. */
static void test_libm(void)
{
    rng r;
    uint64_t hexp = FNV_OFFSET, hlog = FNV_OFFSET, hpow = FNV_OFFSET, htrig = FNV_OFFSET;
    uint64_t hsqrt = FNV_OFFSET;
    int i, bad = 0;
    rng_seed(&r, 12345);
    for (i = 0; i < 20000; i++) {
        double u = rng_uniform(&r);
        double xe = rng_uniform_range(&r, -30.0, 30.0);   /* softmax / sigmoid range */
        double xl = ldexp(0.5 + 0.5 * u, (int)rng_below(&r, 80) - 40);
        double s = sqrt(xl);
        if (!sqrt_is_rounded(xl, s)) bad++;
        hsqrt = fnv_double(hsqrt, s);
        hexp = fnv_double(hexp, exp(xe));
        hlog = fnv_double(hlog, log(xl));
        hpow = fnv_double(hpow, pow(0.5 + 0.5 * u, (double)(1 + i % 200)));
        htrig = fnv_double(htrig, sin(xe));
        htrig = fnv_double(htrig, cos(xe));
    }
    CHECK_MSG(bad == 0, "%d of 20000 sqrt results are not correctly rounded", bad);
    /* exact cases every libm must get right */
    CHECK(sqrt(2.25) == 1.5 && exp(0.0) == 1.0 && log(1.0) == 0.0 && pow(0.5, 3.0) == 0.125);
    print_checksum("libm-sqrt", hsqrt);
    print_checksum("libm-exp", hexp);
    print_checksum("libm-log", hlog);
    print_checksum("libm-pow", hpow);
    print_checksum("libm-sincos", htrig);
}

int main(int argc, char **argv)
{
    static const test_case cases[] = {
        TEST_CASE(test_fnv_known_vectors),
        TEST_CASE(test_byte_order_normalised),
        TEST_CASE(test_level1_training_checksum),
        TEST_CASE(test_level4_training_checksum),
        TEST_CASE(test_fma_exact),
        TEST_CASE(test_libm),
    };
    return test_main(argc, argv, cases, TEST_COUNT(cases));
}
