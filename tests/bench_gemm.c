/*
 * tests/bench_gemm.c - GFLOP/s of gemm() on this project's shapes. Not a test
 * (`make test` builds only tests/test_*.c); build it by hand, e.g.
 *
 *   cc -std=c99 -O2 -ffp-contract=off -I. -D_POSIX_C_SOURCE=200809L \
 *      tests/bench_gemm.c nn/gemm.c nn/core.c -lm -o /tmp/bench_gemm
 *   cc ... -O3 -march=native ...                  (the tuned build)
 *
 * Each shape runs ROUNDS rounds of at least MIN_SECONDS; the median round is
 * printed (the machine is shared, single rounds are noisy). Columns: gemm();
 * gemm_packed_a() with A packed beforehand; the naive triple loop gemm.c
 * replaced (small shapes only); a hash of C's bits (after the packed-A run,
 * which gives gemm's bits): equal hashes across builds mean identical results.
 * Usage: bench_gemm [rounds [shape-name-substring]]
 */
#include "nn/gemm.h"

#include <string.h>
#include <time.h>

#define ROUNDS_DEFAULT 5
#define ROUNDS_MAX 51
#define MIN_SECONDS 0.2
/* The naive loop is only timed on shapes up to this many multiply-adds. */
#define NAIVE_MAX_MACS 2e8

typedef struct shape {
    const char *name;
    int ta, tb, m, n, k;
} shape;

static const shape shapes[] = {
    {"conv fwd 16->32 112x112", 0, 0, 32, 12544, 144},
    {"conv fwd 64->128 28x28", 0, 0, 128, 784, 576},
    {"conv fwd 512->512 3x3", 0, 0, 512, 9, 4608},
    {"conv fwd 1->16 224x224", 0, 0, 16, 50176, 9},
    {"conv dW 64->128 28x28 (B^T)", 0, 1, 128, 576, 784},
    {"conv dX 64->128 28x28 (A^T)", 1, 0, 576, 784, 128},
    {"dense 32x512->256 (B^T)", 0, 1, 32, 256, 512},
    {"square 1024", 0, 0, 1024, 1024, 1024},
};

/* Seconds of this thread's CPU time: other programs sharing the cores slow
 * the wall clock but much less the CPU time (no SMT here). An OpenMP build
 * must use the wall clock (its threads' CPU times add up). */
#ifdef _OPENMP
#define BENCH_CLOCK CLOCK_MONOTONIC
#define BENCH_CLOCK_NAME "wall clock"
#else
#define BENCH_CLOCK CLOCK_THREAD_CPUTIME_ID
#define BENCH_CLOCK_NAME "thread CPU time"
#endif

static double now(void)
{
    struct timespec t;
    clock_gettime(BENCH_CLOCK, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

/* The reference implementation gemm.c replaced, for the speed-up column. */
static void gemm_naive(int trans_a, int trans_b, int m, int n, int k, real alpha,
                       const real *a, int lda, const real *b, int ldb, real beta, real *c,
                       int ldc)
{
    int i, j, p;
    for (i = 0; i < m; i++) {
        for (j = 0; j < n; j++) {
            real acc = 0;
            for (p = 0; p < k; p++) {
                real av = trans_a ? a[(size_t)p * lda + i] : a[(size_t)i * lda + p];
                real bv = trans_b ? b[(size_t)j * ldb + p] : b[(size_t)p * ldb + j];
                acc += av * bv;
            }
            c[(size_t)i * ldc + j] =
                alpha * acc + (beta == 0 ? 0 : beta * c[(size_t)i * ldc + j]);
        }
    }
}

/* gemm_packed_a on an A packed beforehand (packing not timed): the cost of a
 * product whose A is shared, e.g. convolution weights over a batch. */
static const real *bench_packed;

static void gemm_prepacked(int trans_a, int trans_b, int m, int n, int k, real alpha,
                           const real *a, int lda, const real *b, int ldb, real beta, real *c,
                           int ldc)
{
    (void)trans_a;
    (void)a;
    (void)lda;
    gemm_packed_a(trans_b, m, n, k, alpha, bench_packed, b, ldb, beta, c, ldc);
}

typedef void (*gemm_fn)(int, int, int, int, int, real, const real *, int, const real *, int,
                        real, real *, int);

/* Median GFLOP/s over `rounds` rounds of at least MIN_SECONDS each. */
static double time_gemm(gemm_fn f, const shape *s, const real *a, const real *b, real *c,
                        int rounds)
{
    double rates[ROUNDS_MAX];
    double flops = 2.0 * s->m * (double)s->n * s->k;
    int lda = s->ta ? s->m : s->k, ldb = s->tb ? s->k : s->n, r;
    f(s->ta, s->tb, s->m, s->n, s->k, 1, a, lda, b, ldb, 0, c, s->n); /* warm-up */
    for (r = 0; r < rounds; r++) {
        long calls = 0;
        double t0 = now(), t;
        do {
            f(s->ta, s->tb, s->m, s->n, s->k, 1, a, lda, b, ldb, 0, c, s->n);
            calls++;
            t = now() - t0;
        } while (t < MIN_SECONDS);
        rates[r] = flops * (double)calls / t / 1e9;
    }
    qsort(rates, (size_t)rounds, sizeof rates[0], cmp_double);
    return rates[rounds / 2];
}

/* FNV-1a over the bytes of C. */
static unsigned long hash_bits(const real *c, size_t len)
{
    const unsigned char *p = (const unsigned char *)c;
    unsigned long h = 2166136261UL;
    size_t i;
    for (i = 0; i < len * sizeof *c; i++) h = ((h ^ p[i]) * 16777619UL) & 0xffffffffUL;
    return h;
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : ROUNDS_DEFAULT;
    const char *only = argc > 2 ? argv[2] : NULL;
    size_t si;
    if (rounds < 1 || rounds > ROUNDS_MAX) {
        fprintf(stderr, "bench_gemm: rounds must be in 1..%d\n", ROUNDS_MAX);
        return EXIT_FAILURE;
    }
    printf("real = %s, median of %d rounds, %s\n", REAL_NAME, rounds, BENCH_CLOCK_NAME);
    printf("%-30s %5s %6s %5s %8s %8s %8s  %s\n", "shape", "M", "N", "K", "gemm", "packedA",
           "naive", "C hash");
    for (si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        const shape *s = &shapes[si];
        size_t la = (size_t)s->m * s->k, lb = (size_t)s->k * s->n, lc = (size_t)s->m * s->n;
        real *a = gc_calloc(la, sizeof *a), *b = gc_calloc(lb, sizeof *b);
        real *c = gc_calloc(lc, sizeof *c);
        double rate, rate_packed, naive = 0;
        real *packed;
        size_t i;
        unsigned long x = 12345;
        if (only && !strstr(s->name, only)) {
            free(a);
            free(b);
            free(c);
            continue;
        }
        for (i = 0; i < la; i++) {
            x = (x * 1103515245UL + 12345UL) & 0x7fffffffUL;
            a[i] = (real)((double)x / 1073741824.0 - 1.0);
        }
        for (i = 0; i < lb; i++) {
            x = (x * 1103515245UL + 12345UL) & 0x7fffffffUL;
            b[i] = (real)((double)x / 1073741824.0 - 1.0);
        }
        rate = time_gemm(gemm, s, a, b, c, rounds);
        packed = gc_calloc(gemm_packed_a_len(s->m, s->k), sizeof *packed);
        gemm_pack_a(s->ta, s->m, s->k, a, s->ta ? s->m : s->k, packed);
        bench_packed = packed;
        rate_packed = time_gemm(gemm_prepacked, s, a, b, c, rounds);
        free(packed);
        if ((double)s->m * s->n * s->k <= NAIVE_MAX_MACS) {
            real *c2 = gc_calloc(lc, sizeof *c2);
            naive = time_gemm(gemm_naive, s, a, b, c2, 1);
            free(c2);
        }
        printf("%-30s %5d %6d %5d %8.1f %8.1f %8.2f  %08lx\n", s->name, s->m, s->n, s->k, rate,
               rate_packed, naive, hash_bits(c, lc));
        fflush(stdout);
        free(a);
        free(b);
        free(c);
    }
    return 0;
}
