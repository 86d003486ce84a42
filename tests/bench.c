/*
 * tests/bench.c - images per second and peak resident memory of the five
 * workloads of /work/shared/bench/torch_baseline.py (the PyTorch baseline,
 * BASELINE.md), on the same models and batch, for a side-by-side comparison
 * (docs/BENCHMARKS.md). Not a test: `make bench` builds it against the float
 * library with the normal flags and runs it.
 *
 * Workload (as the baseline): batch 32, 1 input channel, 2 classes, inputs
 * uniform in [-1, 1], Adam lr 1e-4, lambda 100, the public code's distance
 * (l2, CONS_L2; the cost does not depend on it), the paper's target layer.
 *   1. eval      model_forward in eval mode
 *   2. ce        step_run (lambda 0) + adam_step, train mode
 *   3. detached  step_run (lambda 100, --cam-grad detached) + adam_step
 *   4. exact     step_run (lambda 100, --cam-grad exact) + adam_step
 *   5. gradcam   eval-mode forward, argmax, step_gradcam_current (the maps)
 * Labels as the baseline: the final Linear bias is shifted once so that the
 * model predicts about half the batch as each class, and the labels are the
 * model's own train-mode predictions. Before every call (untimed) the
 * parameters, the BatchNorm buffers and the model's RNG (dropout masks) are
 * restored, so every step repeats the same forward: all 32 samples are
 * correct and both classes run their Grad-CAM work (checked: the table
 * flags a case where a step selected fewer than 32 samples or 2 classes).
 *
 * Timing: each case (level, size) runs in a fresh child process (fork) that
 * builds the model and runs the five modes round-robin: warm-up calls, then
 * rounds until each mode has about --budget seconds and at least --min-iters
 * samples; a cell is the median wall time per call. A round in which the
 * process got less than 0.8 x threads CPUs (another program was running)
 * is dropped, as the baseline does; if too many rounds are dropped the
 * median of all rounds is reported and the cell is marked '*'.
 * Memory: for each (case, mode) a separate fresh child builds the model and
 * runs two calls; its getrusage ru_maxrss is the peak of that mode (fork
 * starts a child's high-water mark afresh on Linux, so the parent's does not
 * carry over). "setup" is the child's peak after building the model, the
 * step buffers and Adam, before any call.
 *
 * Placement: OpenMP builds time a cache line's round trip between two
 * threads before and after each case (thread_round_trip_ns below), which
 * tells whether the host ran the threads on cores sharing a cache.
 *
 * Results: after timing, one exact step and the maps are hashed (FNV-1a of
 * the gradient arena, the maps and the logits): equal hashes from two
 * builds or thread counts mean bit-identical results.
 *
 * Usage: bench [--case L2:64[,L1:28...]] [--quick] [--threads N] [--budget S]
 *              [--min-iters N] [--no-rss] [--cpu-clock] [--tsv FILE] [--isa NAME]
 *   --case       the cases to run (default: Levels 1-5 at 28 and 64, 1-2 at 224)
 *   --quick      1 warm-up call, >= 2 timed calls, 0.2 s per mode; without
 *                --case, the 28x28 and 64x64 cases only
 *   --threads N  OpenMP's thread count (builds with -fopenmp; without OpenMP
 *                it is ignored, with a note)
 *   --budget S   seconds of timed work per mode (default 1.5); --min-iters N
 *                timed calls at least (default 5)
 *   --no-rss     skip the memory probes
 *   --cpu-clock  time by the process's CPU time instead of the wall clock:
 *                for single-threaded runs on a busy machine (it leaves out
 *                the time other programs held the core); never for
 *                comparisons with the baseline, which is wall-clock
 *   --tsv FILE   also write one line per (case, mode) for scripts
 *   --isa NAME   run gemm's code path NAME (generic, avx2, avx512: nn/gemm.h)
 *                instead of the one it picks; the header names the path
 */
#include "cam/step.h"
#include "nn/adam.h"
#include "nn/gemm.h"
#include "nn/loss.h"
#include "nn/model.h"

#include <errno.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#define BATCH 32
#define IN_CHANNELS 1
#define CLASSES 2
#define LAMBDA 100.0
#define ADAM_LR 1e-4
#define MODEL_SEED 1
#define INPUT_SEED 2
#define MAX_CASES 32
#define MAX_SAMPLES 4096
#define MIN_CPU_SHARE 0.8      /* of the thread count: below it a round is contended */
#define RSS_CALLS 2
#define SKIP_SECONDS 600.0     /* skip a mode whose warm-up + min-iters take longer */

enum { M_EVAL, M_CE, M_DETACHED, M_EXACT, M_GRADCAM, M_COUNT };
static const char *const MODE_NAME[M_COUNT] = {"eval", "ce", "detached", "exact", "gradcam"};
static const char *const MODE_TITLE[M_COUNT] = {"1. eval fwd", "2. train CE",
                                                "3. train CE+cons detached",
                                                "4. train CE+cons exact", "5. Grad-CAM (eval)"};

typedef struct bench_opts {
    int threads;          /* 0: the OpenMP default */
    int warmup;           /* untimed calls per mode */
    int min_iters;
    double budget;        /* seconds of timed work per mode */
    int rss;
    const char *tsv;
} bench_opts;

typedef struct mode_result {
    int skipped;
    int iters, rounds, dropped, contended;
    double median_s, min_s, util_min;
    int min_selected, min_classes;   /* smallest |B+'| and |C'| seen (train modes) */
    long rss_kib;                    /* peak of a fresh process running this mode */
} mode_result;

typedef struct case_result {
    int ok;
    int level, size;
    size_t params;
    double gflop;                    /* forward GFLOP per image (conv + linear) */
    int cam_h, cam_w;
    int threads;
    long rss_setup_kib;
    uint64_t bits;                   /* hash of an exact step's gradients and the maps */
    double trip_ns[2];               /* thread round trip before and after (-1: none) */
    mode_result mode[M_COUNT];
} case_result;

/* ---- where the threads run ----
 * The median time of a cache line's round trip between two OpenMP threads,
 * in ns: each writes a shared counter the other spins on, TRIP_COUNT times.
 * Here about 60 ns when the host runs the two virtual CPUs on cores that
 * share an L3 cache, about 340 ns when they sit on separate ones, and
 * 1000+ ns when a virtual CPU is not running at all (descheduled). Level
 * 1 at 28x28, whose step hands data between the threads many times a
 * millisecond, runs 1.2-1.6x slower in the second state (docs/BENCHMARKS.md,
 * "the slow state"): the probe runs before and after each case, so that a
 * sitting tells which state each case ran in (in the case's own process:
 * libgomp's threads do not survive a fork). -1 without OpenMP or with
 * fewer than two threads. */
#define TRIP_COUNT 20000
#define TRIP_RUNS 5

static double trip_once(void)
{
    double ns = -1;
#ifdef _OPENMP
    volatile int counter = 0;
    double t0 = 0, t1 = 0;
#pragma omp parallel num_threads(2)
    {
        int me = omp_get_thread_num(), i, seen;
        if (omp_get_num_threads() == 2) {
#pragma omp barrier
            if (me == 0) t0 = omp_get_wtime();
            for (i = 0; i < TRIP_COUNT; i++) {
                do {   /* my turn: the other thread moved the counter to 2 i + me */
#pragma omp atomic read seq_cst
                    seen = counter;
                } while (seen != 2 * i + me);
#pragma omp atomic write seq_cst
                counter = 2 * i + me + 1;
            }
            if (me == 0) t1 = omp_get_wtime();
        }
    }
    if (t1 > t0) ns = 1e9 * (t1 - t0) / TRIP_COUNT;
#endif
    return ns;
}

static int cmp_double(const void *a, const void *b);

static double thread_round_trip_ns(void)
{
    double runs[TRIP_RUNS];
    int i;
    for (i = 0; i < TRIP_RUNS; i++) runs[i] = trip_once();
    qsort(runs, TRIP_RUNS, sizeof runs[0], cmp_double);
    return runs[TRIP_RUNS / 2];
}

/* ---- clocks and small helpers ---- */

static double cpu_now(void);
static int use_cpu_clock;

/* The clock calls are timed with: wall clock, or (--cpu-clock) the
 * process's CPU time. */
static double wall_now(void)
{
    struct timespec t;
    if (use_cpu_clock) return cpu_now();
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double cpu_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static long peak_rss_kib(void)
{
    struct rusage r;
    getrusage(RUSAGE_SELF, &r);
    return r.ru_maxrss;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median_of(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Forward multiply-adds x 2 of conv and linear layers per image, from the
 * block descriptions (all top-level convs of the models are 3x3). */
static double forward_gflop(const model *m)
{
    double f = 0;
    int i, a, b;
    for (i = 0; i < m->nblocks; i++) {
        const char *d = model_block_desc(m, i);
        const layer *l = m->blocks[i];
        double hw = (double)l->out_h * l->out_w;
        if (sscanf(d, "conv2d %d->%d", &a, &b) == 2) f += 2.0 * a * b * 9 * hw;
        else if (sscanf(d, "residual %d->%d", &a, &b) == 2)
            f += 2.0 * 9 * ((double)a * b + (double)b * b) * hw +
                 (a != b ? 2.0 * a * b * hw : 0);
        else if (sscanf(d, "se %d/%d", &a, &b) == 2) f += 2.0 * 2 * a * (a / b);
        else if (sscanf(d, "linear %d->%d", &a, &b) == 2) f += 2.0 * a * b;
    }
    return f * 1e-9;
}

/* ---- one case, in a child process ---- */

typedef struct bench {
    model m;
    train_step st;
    adam opt;
    step_opts opts[M_COUNT];
    real *x;                 /* (BATCH, 1, size, size) */
    int y[BATCH];            /* the model's own predictions */
    int pred[BATCH];
    real *cam;               /* (BATCH, Z) */
    real *snap_value, *snap_buffer;
    rng snap_rng;
    int last_selected, last_classes;
} bench;

static void bench_restore(bench *b)
{
    param_store *ps = &b->m.ps;
    memcpy(ps->value, b->snap_value, ps->nvalue * sizeof(real));
    if (ps->nbuffer) memcpy(ps->buffer, b->snap_buffer, ps->nbuffer * sizeof(real));
    b->m.rng = b->snap_rng;
}

/* Shift the final Linear bias so that about half the batch is predicted as
 * each class (train mode, the dropout mask of the snapshot RNG), as the
 * baseline's balance_predictions; then the labels are the predictions. */
static void bench_balance(bench *b)
{
    model *m = &b->m;
    char name[PS_NAME_MAX + 8];
    real d[BATCH], mid, *bias;
    int i, j, idx;
    m->rng = b->snap_rng;
    model_set_train(m, 1);
    model_forward(m, b->x, BATCH);
    for (i = 0; i < BATCH; i++) d[i] = m->logits[i * CLASSES + 1] - m->logits[i * CLASSES];
    for (i = 1; i < BATCH; i++)   /* insertion sort, 32 values */
        for (j = i; j > 0 && d[j - 1] > d[j]; j--) {
            real t = d[j];
            d[j] = d[j - 1];
            d[j - 1] = t;
        }
    mid = (d[BATCH / 2 - 1] + d[BATCH / 2]) / 2;
    snprintf(name, sizeof name, "%s.bias", model_block_name(m, m->nblocks - 1));
    idx = ps_find(&m->ps, name);
    GC_CHECK(idx >= 0);
    bias = ps_value(&m->ps, idx);
    bias[1] -= mid / 2;
    bias[0] += mid / 2;
    memcpy(b->snap_value, m->ps.value, m->ps.nvalue * sizeof(real));
    bench_restore(b);
    model_forward(m, b->x, BATCH);
    ce_argmax(m->logits, BATCH, CLASSES, b->y);
    bench_restore(b);
}

static int bench_init(bench *b, int level, int size, gc_error *err)
{
    param_store *ps;
    rng r;
    size_t i, count = (size_t)BATCH * IN_CHANNELS * size * size;
    int k;
    memset(b, 0, sizeof *b);
    if (model_build(&b->m, level, IN_CHANNELS, size, size, CLASSES, BATCH, MODEL_SEED, err))
        return GC_FAIL;
    if (step_init(&b->st, &b->m, err)) return GC_FAIL;
    ps = &b->m.ps;
    if (adam_init(&b->opt, ps->nvalue, ADAM_LR, 0.9, 0.999, 1e-8, 0, err)) return GC_FAIL;
    b->x = (real *)gc_calloc(count, sizeof(real));
    rng_seed(&r, INPUT_SEED);
    for (i = 0; i < count; i++) b->x[i] = (real)rng_uniform_range(&r, -1, 1);
    b->cam = (real *)gc_calloc((size_t)BATCH * b->st.z, sizeof(real));
    b->snap_value = (real *)gc_calloc(ps->nvalue, sizeof(real));
    b->snap_buffer = (real *)gc_calloc(ps->nbuffer ? ps->nbuffer : 1, sizeof(real));
    memcpy(b->snap_value, ps->value, ps->nvalue * sizeof(real));
    if (ps->nbuffer) memcpy(b->snap_buffer, ps->buffer, ps->nbuffer * sizeof(real));
    b->snap_rng = b->m.rng;
    for (k = 0; k < M_COUNT; k++) {
        step_opts_default(&b->opts[k]);
        b->opts[k].distance = CONS_L2;
        b->opts[k].lambda = k == M_CE ? 0 : LAMBDA;
        b->opts[k].grad_mode = k == M_DETACHED ? CAM_GRAD_DETACHED : CAM_GRAD_EXACT;
    }
    return GC_OK;
}

static void bench_free(bench *b)
{
    step_free(&b->st);
    adam_free(&b->opt);
    model_free(&b->m);
    free(b->x);
    free(b->cam);
    free(b->snap_value);
    free(b->snap_buffer);
}

/* One call of a mode (what is timed). */
static void bench_call(bench *b, int mode)
{
    model *m = &b->m;
    step_result res;
    switch (mode) {
    case M_EVAL:
        model_set_train(m, 0);
        model_forward(m, b->x, BATCH);
        break;
    case M_GRADCAM:
        model_set_train(m, 0);
        model_forward(m, b->x, BATCH);
        ce_argmax(m->logits, BATCH, CLASSES, b->pred);
        step_gradcam_current(&b->st, b->pred, BATCH, b->cam);
        break;
    default:
        step_run(&b->st, b->x, b->y, BATCH, &b->opts[mode], NULL, &res);
        adam_step(&b->opt, m->ps.value, m->ps.grad);
        b->last_selected = res.n_selected;
        b->last_classes = res.n_classes;
        break;
    }
}

static void set_threads(int threads)
{
#ifdef _OPENMP
    if (threads > 0) omp_set_num_threads(threads);
#else
    (void)threads;
#endif
}

static int thread_count(void)
{
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

/* FNV-1a over bytes, continuing from h. */
static uint64_t fnv1a(const void *p, size_t n, uint64_t h)
{
    const unsigned char *c = (const unsigned char *)p;
    size_t i;
    for (i = 0; i < n; i++) {
        h ^= c[i];
        h *= 1099511628211ULL;
    }
    return h;
}

/* The bits of the results: one exact step from the restored state (its
 * gradients) and the eval-mode maps. The same hash from two builds or
 * thread counts means the same results bit for bit. */
static uint64_t result_bits(bench *b)
{
    model *m = &b->m;
    step_result res;
    uint64_t h = 1469598103934665603ULL;
    bench_restore(b);
    step_run(&b->st, b->x, b->y, BATCH, &b->opts[M_EXACT], NULL, &res);
    h = fnv1a(m->ps.grad, m->ps.nvalue * sizeof(real), h);
    bench_restore(b);
    bench_call(b, M_GRADCAM);
    h = fnv1a(b->cam, (size_t)BATCH * b->st.z * sizeof(real), h);
    return fnv1a(m->logits, (size_t)BATCH * CLASSES * sizeof(real), h);
}

/* Time the five modes round-robin into r. */
static void time_case(bench *b, const bench_opts *o, case_result *r)
{
    static double samples[M_COUNT][MAX_SAMPLES], all[M_COUNT][MAX_SAMPLES];
    double first[M_COUNT], this_round[M_COUNT];
    int nkept[M_COUNT] = {0}, nall = 0, live[M_COUNT], k, w, target = 0, rounds = 0;
    double min_cpu = MIN_CPU_SHARE * r->threads, util_min = 1e30;
    for (k = 0; k < M_COUNT; k++) {
        double t;
        bench_restore(b);
        t = wall_now();
        bench_call(b, k);
        first[k] = wall_now() - t;
        live[k] = first[k] * (o->warmup + o->min_iters) <= SKIP_SECONDS;
        r->mode[k].skipped = !live[k];
        r->mode[k].min_selected = BATCH;
        r->mode[k].min_classes = CLASSES;
    }
    for (w = 1; w < o->warmup; w++)
        for (k = 0; k < M_COUNT; k++)
            if (live[k]) {
                bench_restore(b);
                bench_call(b, k);
            }
    for (;;) {
        double wall = 0, cpu = 0, util;
        for (k = 0; k < M_COUNT; k++) {
            double t0, c0;
            if (!live[k]) continue;
            bench_restore(b);
            c0 = cpu_now();
            t0 = wall_now();
            bench_call(b, k);
            this_round[k] = wall_now() - t0;
            cpu += cpu_now() - c0;
            wall += this_round[k];
            if (k == M_CE || k == M_DETACHED || k == M_EXACT) {
                mode_result *mr = &r->mode[k];
                if (b->last_selected < mr->min_selected) mr->min_selected = b->last_selected;
                if (b->last_classes < mr->min_classes) mr->min_classes = b->last_classes;
            }
        }
        rounds++;
        util = wall > 0 ? cpu / wall : 0;
        if (util < util_min) util_min = util;
        for (k = 0; k < M_COUNT; k++) {
            if (!live[k]) continue;
            if (nall < MAX_SAMPLES) all[k][nall] = this_round[k];
            if (util >= min_cpu && nkept[k] < MAX_SAMPLES)
                samples[k][nkept[k]++] = this_round[k];
        }
        if (nall < MAX_SAMPLES) nall++;
        if (target == 0) {
            int t = wall > 0 ? (int)(o->budget * M_COUNT / wall) + 1 : o->min_iters;
            target = t < o->min_iters ? o->min_iters : t;
            if (target > MAX_SAMPLES) target = MAX_SAMPLES;
        }
        {
            int done = 1;
            for (k = 0; k < M_COUNT; k++)
                if (live[k] && nkept[k] < target) done = 0;
            if (done || rounds >= 3 * target + 5 || nall >= MAX_SAMPLES) break;
        }
    }
    for (k = 0; k < M_COUNT; k++) {
        mode_result *mr = &r->mode[k];
        double *v;
        int n, i;
        if (!live[k]) continue;
        mr->rounds = rounds;
        mr->util_min = util_min;
        mr->contended = nkept[k] < o->min_iters;
        v = mr->contended ? all[k] : samples[k];
        n = mr->contended ? nall : nkept[k];
        mr->iters = n;
        mr->dropped = rounds - nkept[k];
        mr->min_s = v[0];
        for (i = 1; i < n; i++)
            if (v[i] < mr->min_s) mr->min_s = v[i];
        mr->median_s = median_of(v, n);
    }
}

/* Peak RSS of one mode: build, RSS_CALLS calls, ru_maxrss. */
static void rss_case(bench *b, int mode, mode_result *mr)
{
    int i;
    for (i = 0; i < RSS_CALLS; i++) {
        bench_restore(b);
        bench_call(b, mode);
    }
    mr->rss_kib = peak_rss_kib();
}

/* Run fn in a child process; the child writes *r back through a pipe.
 * mode < 0: timing of all modes; else the RSS probe of that mode. */
static int run_child(int level, int size, int mode, const bench_opts *o, case_result *r)
{
    int fd[2], status;
    pid_t pid;
    fflush(stdout);
    fflush(stderr);
    if (pipe(fd) != 0) {
        fprintf(stderr, "bench: pipe: %s\n", strerror(errno));
        return GC_FAIL;
    }
    pid = fork();
    if (pid < 0) {
        fprintf(stderr, "bench: fork: %s\n", strerror(errno));
        close(fd[0]);
        close(fd[1]);
        return GC_FAIL;
    }
    if (pid == 0) {
        bench b;
        gc_error err;
        case_result cr;
        ssize_t wrote;
        close(fd[0]);
        memset(&cr, 0, sizeof cr);
        set_threads(o->threads);
        cr.threads = thread_count();
        cr.level = level;
        cr.size = size;
        if (bench_init(&b, level, size, &err)) {
            fprintf(stderr, "bench: L%d:%d: %s\n", level, size, err.msg);
            _exit(1);
        }
        cr.params = model_param_count(&b.m);
        cr.gflop = forward_gflop(&b.m);
        cr.cam_h = b.m.cam_h;
        cr.cam_w = b.m.cam_w;
        cr.rss_setup_kib = peak_rss_kib();
        bench_balance(&b);
        if (mode < 0) {
            cr.trip_ns[0] = thread_round_trip_ns();
            time_case(&b, o, &cr);
            cr.trip_ns[1] = thread_round_trip_ns();
            cr.bits = result_bits(&b);
        } else {
            rss_case(&b, mode, &cr.mode[mode]);
        }
        cr.ok = 1;
        wrote = write(fd[1], &cr, sizeof cr);
        close(fd[1]);
        bench_free(&b);
        _exit(wrote == (ssize_t)sizeof cr ? 0 : 1);
    }
    close(fd[1]);
    {
        size_t got = 0;
        case_result cr;
        while (got < sizeof cr) {
            ssize_t n = read(fd[0], (char *)&cr + got, sizeof cr - got);
            if (n <= 0) break;
            got += (size_t)n;
        }
        close(fd[0]);
        waitpid(pid, &status, 0);
        if (got != sizeof cr || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "bench: L%d:%d: the child process failed\n", level, size);
            return GC_FAIL;
        }
        if (mode < 0) {
            long rss[M_COUNT];
            int k;
            for (k = 0; k < M_COUNT; k++) rss[k] = r->mode[k].rss_kib;
            *r = cr;
            for (k = 0; k < M_COUNT; k++) r->mode[k].rss_kib = rss[k];
        } else {
            r->mode[mode].rss_kib = cr.mode[mode].rss_kib;
            r->rss_setup_kib = cr.rss_setup_kib;
        }
    }
    return GC_OK;
}

/* ---- output ---- */

static void print_cell(const mode_result *mr)
{
    if (mr->skipped || mr->iters == 0) {
        printf(" skipped |");
        return;
    }
    printf(" %.0f (%.1f ms)%s |", BATCH / mr->median_s, 1e3 * mr->median_s,
           mr->contended ? "*" : "");
}

static void print_table(const case_result *cr, int ncase, int with_rss)
{
    int i, k;
    printf("\n| model | params | input | fwd GFLOP/img | CAM H'xW' |");
    for (k = 0; k < M_COUNT; k++) printf(" %s |", MODE_TITLE[k]);
    printf(" 3/2 time | 4/3 time | 4/2 time | eval GFLOP/s | CE-step GFLOP/s (3x fwd) |\n|");
    for (k = 0; k < 5 + M_COUNT + 5; k++) printf("---|");
    printf("\n");
    for (i = 0; i < ncase; i++) {
        const case_result *r = &cr[i];
        const mode_result *m = r->mode;
        if (!r->ok) continue;
        printf("| Level %d | %.0fk | %dx%d | %.3f | %dx%d |", r->level, r->params / 1e3,
               r->size, r->size, r->gflop, r->cam_h, r->cam_w);
        for (k = 0; k < M_COUNT; k++) print_cell(&m[k]);
        printf(" %.2f | %.2f | %.2f | %.0f | %.0f |\n",
               m[M_DETACHED].median_s / m[M_CE].median_s,
               m[M_EXACT].median_s / m[M_DETACHED].median_s,
               m[M_EXACT].median_s / m[M_CE].median_s,
               BATCH * r->gflop / m[M_EVAL].median_s,
               3 * BATCH * r->gflop / m[M_CE].median_s);
    }
    printf("\nCells: images/s (median ms per batch of %d); '*': too many contended rounds, "
           "median of all rounds.\n", BATCH);
    for (i = 0; i < ncase; i++) {
        const case_result *r = &cr[i];
        for (k = 0; k < M_COUNT; k++)
            if (r->ok && (k == M_DETACHED || k == M_EXACT) &&
                (r->mode[k].min_selected < BATCH || r->mode[k].min_classes < CLASSES))
                printf("WARNING: Level %d %d: %s selected only %d samples / %d classes in "
                       "some step\n", r->level, r->size, MODE_NAME[k], r->mode[k].min_selected,
                       r->mode[k].min_classes);
    }
    printf("\nTiming rounds (kept / total), the lowest CPU share of a round, a cache "
           "line's round trip between two threads before / after the case (OpenMP "
           "builds; see tests/bench.c), and a hash of the results (equal hashes: the same "
           "bits):\n\n");
    for (i = 0; i < ncase; i++) {
        if (!cr[i].ok) continue;
        printf("- Level %d %dx%d: %d / %d rounds, min CPU share %.2f (threads %d), ",
               cr[i].level, cr[i].size, cr[i].size,
               cr[i].mode[M_CE].rounds - cr[i].mode[M_CE].dropped, cr[i].mode[M_CE].rounds,
               cr[i].mode[M_CE].util_min, cr[i].threads);
        if (cr[i].trip_ns[0] >= 0)
            printf("round trip %.0f / %.0f ns, ", cr[i].trip_ns[0], cr[i].trip_ns[1]);
        printf("bits %016llx\n", (unsigned long long)cr[i].bits);
    }
    if (!with_rss) return;
    printf("\nPeak resident memory (ru_maxrss of a fresh process, MiB): after setup, and "
           "after %d calls of each mode\n\n| model | input | setup |", RSS_CALLS);
    for (k = 0; k < M_COUNT; k++) printf(" %s |", MODE_NAME[k]);
    printf("\n|---|---|---|");
    for (k = 0; k < M_COUNT; k++) printf("---|");
    printf("\n");
    for (i = 0; i < ncase; i++) {
        const case_result *r = &cr[i];
        if (!r->ok) continue;
        printf("| Level %d | %dx%d | %.0f |", r->level, r->size, r->size,
               r->rss_setup_kib / 1024.0);
        for (k = 0; k < M_COUNT; k++) printf(" %.0f |", r->mode[k].rss_kib / 1024.0);
        printf("\n");
    }
}

static int write_tsv(const char *path, const case_result *cr, int ncase)
{
    FILE *f = fopen(path, "w");
    int i, k;
    if (!f) {
        fprintf(stderr, "bench: cannot write %s: %s\n", path, strerror(errno));
        return GC_FAIL;
    }
    fprintf(f, "level\tsize\tmode\tmedian_ms\tmin_ms\titers\tdropped\tcontended\trss_mib"
               "\tsetup_rss_mib\tthreads\tgflop_img\tbits\n");
    for (i = 0; i < ncase; i++)
        for (k = 0; k < M_COUNT; k++) {
            const case_result *r = &cr[i];
            const mode_result *m = &r->mode[k];
            if (!r->ok) continue;
            fprintf(f, "%d\t%d\t%s\t%.4f\t%.4f\t%d\t%d\t%d\t%.1f\t%.1f\t%d\t%.4f\t%016llx\n",
                    r->level, r->size, MODE_NAME[k], 1e3 * m->median_s, 1e3 * m->min_s,
                    m->iters, m->dropped, m->contended, m->rss_kib / 1024.0,
                    r->rss_setup_kib / 1024.0, r->threads, r->gflop,
                    (unsigned long long)r->bits);
        }
    return fclose(f) == 0 ? GC_OK : GC_FAIL;
}

/* ---- arguments ---- */

static const int DEFAULT_CASES[][2] = {{1, 28}, {2, 28}, {3, 28}, {4, 28}, {5, 28},
                                       {1, 64}, {2, 64}, {3, 64}, {4, 64}, {5, 64},
                                       {1, 224}, {2, 224}};

static void usage(void)
{
    fprintf(stderr,
            "usage: bench [--case L2:64[,L1:28...]] [--quick] [--threads N] [--budget S]\n"
            "             [--min-iters N] [--no-rss] [--cpu-clock] [--tsv FILE] [--isa NAME]\n");
}

/* "L2:64,L1:28" (or "Model2:64") -> cases; returns the count, -1 on error. */
static int parse_cases(const char *s, int cases[][2], int cap)
{
    int n = 0;
    while (*s) {
        int level, size, used = 0;
        if (sscanf(s, "L%d:%d%n", &level, &size, &used) != 2 &&
            sscanf(s, "Model%d:%d%n", &level, &size, &used) != 2)
            return -1;
        if (level < 1 || level > MODEL_LEVELS || size < 8 || size > 4096 || n >= cap) return -1;
        cases[n][0] = level;
        cases[n][1] = size;
        n++;
        s += used;
        if (*s == ',') s++;
        else if (*s) return -1;
    }
    return n;
}

int main(int argc, char **argv)
{
    static case_result results[MAX_CASES];
    int cases[MAX_CASES][2], ncase = 0, quick = 0, i, k, explicit_cases = 0;
    bench_opts o;
    o.threads = 0;
    o.warmup = 2;
    o.min_iters = 5;
    o.budget = 1.5;
    o.rss = 1;
    o.tsv = NULL;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--quick")) quick = 1;
        else if (!strcmp(a, "--no-rss")) o.rss = 0;
        else if (!strcmp(a, "--cpu-clock")) use_cpu_clock = 1;
        else if (!strcmp(a, "--case") && i + 1 < argc) {
            ncase = parse_cases(argv[++i], cases, MAX_CASES);
            explicit_cases = 1;
            if (ncase <= 0) {
                fprintf(stderr, "bench: --case '%s': expected L<1-5>:<size>[,...]\n", argv[i]);
                return EXIT_FAILURE;
            }
        } else if (!strcmp(a, "--threads") && i + 1 < argc) {
            o.threads = atoi(argv[++i]);
            if (o.threads < 1) {
                fprintf(stderr, "bench: --threads must be >= 1\n");
                return EXIT_FAILURE;
            }
        } else if (!strcmp(a, "--budget") && i + 1 < argc) {
            o.budget = atof(argv[++i]);
        } else if (!strcmp(a, "--min-iters") && i + 1 < argc) {
            o.min_iters = atoi(argv[++i]);
            if (o.min_iters < 1) o.min_iters = 1;
        } else if (!strcmp(a, "--tsv") && i + 1 < argc) {
            o.tsv = argv[++i];
        } else if (!strcmp(a, "--isa") && i + 1 < argc) {
            gc_error err;
            if (gemm_force_isa(argv[++i], &err) != GC_OK) {
                fprintf(stderr, "bench: --isa: %s\n", err.msg);
                return EXIT_FAILURE;
            }
        } else {
            usage();
            return EXIT_FAILURE;
        }
    }
    if (quick) {
        o.warmup = 1;
        o.min_iters = 2;
        o.budget = 0.2;
    }
    if (!explicit_cases) {
        for (i = 0; i < (int)(sizeof DEFAULT_CASES / sizeof DEFAULT_CASES[0]); i++) {
            if (quick && DEFAULT_CASES[i][1] > 64) continue;
            cases[ncase][0] = DEFAULT_CASES[i][0];
            cases[ncase][1] = DEFAULT_CASES[i][1];
            ncase++;
        }
    }
#ifndef _OPENMP
    if (o.threads > 1)
        fprintf(stderr, "bench: built without OpenMP: --threads %d ignored, 1 thread\n",
                o.threads);
#endif
    printf("# bench: %s, batch %d, %d input channel, %d classes, lambda %g, %s\n", REAL_NAME,
           BATCH, IN_CHANNELS, CLASSES, LAMBDA,
#ifdef _OPENMP
           "OpenMP"
#else
           "no OpenMP"
#endif
#ifdef GC_FMA
           ", FMA=1 (contracted a*b+c: other bits than the plain build)"
#endif
    );
    /* gemm's code path, picked here once so that every child inherits it */
    printf("# gemm path: %s (this build and CPU have:", gemm_isa());
    for (i = 0; gemm_isa_list(i) != NULL; i++) printf(" %s", gemm_isa_list(i));
    printf(")\n");
    for (i = 0; i < ncase; i++) {
        case_result *r = &results[i];
        memset(r, 0, sizeof *r);
        if (o.rss)
            for (k = 0; k < M_COUNT; k++)
                if (run_child(cases[i][0], cases[i][1], k, &o, r)) break;
        if (run_child(cases[i][0], cases[i][1], -1, &o, r)) continue;
        fprintf(stderr, "L%d:%d", r->level, r->size);
        for (k = 0; k < M_COUNT; k++)
            fprintf(stderr, "  %s %.1f ms%s", MODE_NAME[k], 1e3 * r->mode[k].median_s,
                    r->mode[k].contended ? "*" : "");
        fprintf(stderr, "  (threads %d", r->threads);
        if (r->trip_ns[0] >= 0)
            fprintf(stderr, ", round trip %.0f / %.0f ns", r->trip_ns[0], r->trip_ns[1]);
        fprintf(stderr, ")\n");
    }
    print_table(results, ncase, o.rss);
    if (o.tsv && write_tsv(o.tsv, results, ncase)) return EXIT_FAILURE;
    return EXIT_SUCCESS;
}
