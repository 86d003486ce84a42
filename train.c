/*
 * train.c - the training program (DESIGN.md section 1, "Training
 * regulariser", and section 5, the paper's protocol). docs/TRAINING.md is
 * the user's guide: flags, run directory layout, resume semantics.
 *
 *   train [--level L,..] [--lambda X,..] [--seed S,..] [--data SPEC] ...  train (a sweep)
 *   train --export-synth OUT [--data synth:K:N] [--size N] [--classes K] [--count N]
 *   train --dump-step OUT --model M --level L --batch B [...]            one step, dumped
 *
 * One run per (level, lambda_max, seed), sequentially, in OUT/L<level>_lam<lambda>[_s<seed>]/.
 * Per epoch t (1-based): shuffle (Fisher-Yates, rng_below on the run RNG,
 * starting from the identity order so that an epoch depends only on the RNG
 * state), batches of --batch with augmentation (dataset_get), lambda_t =
 * curriculum_lambda(lambda_max, T0, T1, t), one step_run (cam/step.h: loss =
 * CE + lambda_t * L_train, DESIGN.md section 1) and one adam_step per batch;
 * then an eval pass on the test split (validation CE, accuracy, kappa, L_CAM
 * in both distances), one CSV row, ReduceLROnPlateau on the validation CE,
 * and an atomic checkpoint holding everything --resume needs to continue bit
 * for bit. A final batch of ONE sample is dropped (BatchNorm in train mode
 * cannot normalise a single sample; PyTorch raises on it).
 *
 * Randomness: model initialisation and dropout masks come from the model RNG
 * seeded with --seed (nn/model.h); shuffling and augmentation from the run
 * RNG seeded with --seed XOR RUN_RNG_STREAM. The data (synth images, subsets)
 * come from --data-seed, so runs with different seeds see the same data.
 *
 * Exit status: 0; 1 runtime error or a diverged (non-finite) run; 2 usage
 * error; 128 + signal number when stopped by SIGINT / SIGTERM.
 *
 * Deliberately not here: evaluation beyond the per-epoch pass (eval.c),
 * multi-threading, mid-epoch checkpoints (an interrupted epoch is redone).
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cam/dump.h"
#include "cam/evaluate.h"
#include "cam/step.h"
#include "io/checkpoint.h"
#include "io/cli.h"
#include "io/csv.h"
#include "io/dataset.h"
#include "io/safetensors.h"
#include "io/synth.h"
#include "metric/classify.h"
#include "metric/consistency.h"
#include "metric/curriculum.h"
#include "metric/ema.h"
#include "nn/adam.h"
#include "nn/model.h"
#include "nn/plateau.h"
#include "nn/rng.h"

#define PROG "train"
#define EXIT_USAGE 2
#define EXIT_SIGNAL_BASE 128

#define MAX_SWEEP 64                /* items of --lambda / --seed lists */
#define PATH_BUF 4096
#define NUM_BUF 64
#define RUN_NAME_BUF 128

/* Paper protocol (DESIGN.md section 5). */
#define DEFAULT_LEVEL 2
#define DEFAULT_EPOCHS 20
#define DEFAULT_BATCH 32
#define DEFAULT_LR 1e-4
#define ADAM_BETA1 0.9
#define ADAM_BETA2 0.999
#define ADAM_EPS 1e-8
#define DEFAULT_PATIENCE 5
#define DEFAULT_FACTOR 0.1
#define DEFAULT_T0 2
#define DEFAULT_T1 10
#define DEFAULT_SIZE 224
#define DEFAULT_OUT "runs"

#define MAX_EPOCHS 1000000
#define MAX_BATCH 4096
#define MAX_LAMBDA 1e12
#define MAX_LR 1e6
#define HELP_INDENT 26            /* column of the flag descriptions in --help */
#define HELP_WIDTH 96
#define PROGRESS_BAR 20             /* characters of the terminal bar */
#define PROGRESS_REDRAW 0.2         /* terminal: seconds between redraws */
#define PROGRESS_STEPS 10           /* plain lines per epoch when not a terminal */

/* The run RNG (shuffling, augmentation) is seeded with seed ^ RUN_RNG_STREAM
 * so that it is not the model RNG's stream (rng_seed mixes with splitmix64). */
#define RUN_RNG_STREAM UINT64_C(0x9E3779B97F4A7C15)

#define CKPT_NAME "checkpoint.safetensors"
#define LOG_NAME "log.csv"
#define CKPT_FORMAT "gazecons-train-1"

/* ------------------------------------------------------------------ */
/* Command-line flags                                                 */
/* ------------------------------------------------------------------ */

enum { MODE_TRAIN = 1, MODE_EXPORT = 2 };

typedef enum {
    O_DATA, O_TEST_DATA, O_DATA_SEED, O_LIMIT_TRAIN, O_LIMIT_TEST, O_SIZE,
    O_LEVEL, O_LAMBDA, O_SEED, O_EPOCHS, O_BATCH, O_LR, O_PATIENCE, O_FACTOR,
    O_T0, O_T1, O_EMA, O_CAM_GRAD, O_DISTANCE, O_TARGET, O_DROPOUT,
    O_OUT, O_RESUME, O_QUIET, O_EXPORT_SYNTH, O_CLASSES, O_COUNT, O_HELP,
    O_INJECT_NAN, O_N
} opt_id;

typedef struct opt_def {
    const char *name;   /* "--level" */
    const char *arg;    /* "L[,L...]"; NULL for a switch */
    const char *def;    /* default as --help shows it; NULL: none */
    const char *help;
    int modes;          /* MODE_TRAIN | MODE_EXPORT; 0: hidden (tests only) */
} opt_def;

static const opt_def OPTS[O_N] = {
    [O_DATA] = {"--data", "SPEC", "synth",
                "training data: synth, synth:K, synth:K:N (built-in generator), DIR with\n"
                "train/ and test/ ImageFolders of .pgm, one ImageFolder DIR (both splits),\n"
                "DIR of IDX files, idx:IMAGES,LABELS; SPEC@N keeps N images",
                MODE_TRAIN | MODE_EXPORT},
    [O_TEST_DATA] = {"--test-data", "SPEC", "the test split of --data",
                     "data of the per-epoch evaluation (its \"test\" split)", MODE_TRAIN},
    [O_DATA_SEED] = {"--data-seed", "S", "0", "seed of the synthetic images and of subsets",
                     MODE_TRAIN | MODE_EXPORT},
    [O_LIMIT_TRAIN] = {"--limit-train", "N", "all",
                       "keep a class-stratified subset of N training images", MODE_TRAIN},
    [O_LIMIT_TEST] = {"--limit-test", "N", "all",
                      "keep a class-stratified subset of N test images", MODE_TRAIN},
    [O_SIZE] = {"--size", "N", "224", "model input side (images resized to N x N)",
                MODE_TRAIN | MODE_EXPORT},
    [O_LEVEL] = {"--level", "L[,L...]", "2", "model level(s) 1-5 (a list trains one model each)",
                 MODE_TRAIN},
    [O_LAMBDA] = {"--lambda", "X[,X...]", "0",
                  "lambda_max of the CAM regulariser (a list trains one model each)", MODE_TRAIN},
    [O_SEED] = {"--seed", "S[,S...]", "0",
                "model initialisation, dropout, shuffling, augmentation; when given,\n"
                "run directories end in _s<seed>",
                MODE_TRAIN},
    [O_EPOCHS] = {"--epochs", "N", "20", "epochs (on --resume: the total to reach)", MODE_TRAIN},
    [O_BATCH] = {"--batch", "N", "32", "mini-batch size (2..4096)", MODE_TRAIN},
    [O_LR] = {"--lr", "X", "1e-4", "Adam learning rate (betas 0.9, 0.999, eps 1e-8)", MODE_TRAIN},
    [O_PATIENCE] = {"--patience", "N", "5", "ReduceLROnPlateau patience (on validation CE)",
                    MODE_TRAIN},
    [O_FACTOR] = {"--factor", "X", "0.1", "ReduceLROnPlateau factor", MODE_TRAIN},
    [O_T0] = {"--t0", "N", "2", "curriculum: lambda_t = 0 before epoch T0", MODE_TRAIN},
    [O_T1] = {"--t1", "N", "10", "curriculum: lambda_t = lambda_max from epoch T1 on", MODE_TRAIN},
    [O_EMA] = {"--ema", "A", "0.9", "EMA factor of the class reference maps", MODE_TRAIN},
    [O_CAM_GRAD] = {"--cam-grad", "exact|detached", "exact",
                    "regulariser gradient through G (paper) or alpha held constant (public code)",
                    MODE_TRAIN},
    [O_DISTANCE] = {"--distance", "l2sq|l2", "l2sq",
                    "per-sample distance of the training term: squared L2 (paper) or L2\n"
                    "(public code); the log always has L_CAM in both",
                    MODE_TRAIN},
    [O_TARGET] = {"--target", "T", "4, 13, 8, 17, 8 for levels 1-5",
                  "target layer: index in features (same for every level of a sweep)",
                  MODE_TRAIN},
    [O_DROPOUT] = {"--dropout", "P", "the model's: 0.5, 0.6 for level 5, none in level 1",
                   "dropout probability of the classifier", MODE_TRAIN},
    [O_OUT] = {"--out", "DIR", "runs", "output folder; one sub-folder per run", MODE_TRAIN},
    [O_RESUME] = {"--resume", NULL, NULL,
                  "continue runs from their checkpoints (runs without one start afresh;\n"
                  "finished runs are skipped)",
                  MODE_TRAIN},
    [O_QUIET] = {"--quiet", NULL, NULL, "no progress output (epoch summaries still on stdout)",
                 MODE_TRAIN | MODE_EXPORT},
    [O_EXPORT_SYNTH] = {"--export-synth", "OUT", NULL,
                        "write the synthetic set (--data synth:K:N) as OUT/{train,test}/<class>/*.pgm",
                        MODE_EXPORT},
    [O_CLASSES] = {"--classes", "K", "from --data, 4", "with --export-synth: number of classes",
                   MODE_EXPORT},
    [O_COUNT] = {"--count", "N", "from --data, 2000",
                 "with --export-synth: training images (test: max(K, ceil(N/4)))", MODE_EXPORT},
    [O_HELP] = {"--help", NULL, NULL, "this text", MODE_TRAIN | MODE_EXPORT},
    [O_INJECT_NAN] = {"--inject-nan", "STEP", NULL, "test only: NaN in the last classifier bias before global step STEP",
                      0},
};

static const char USAGE_HEAD[] =
    "usage: train [flags]                       train one model per (level, lambda, seed)\n"
    "       train --export-synth OUT [--data synth:K:N] [--size N] [--classes K] [--count N]\n"
    "       train --dump-step OUT --model M.safetensors --level L --batch B.safetensors\n"
    "             [--lambda X] [--distance l2sq|l2] [--cam-grad exact|detached]\n"
    "             [--dropout P] [--target T] [--seed S]\n";

static const char USAGE_DUMP[] =
    "--dump-step flags (one regularised step on a given model and batch, for the PyTorch\n"
    "cross-check; cam/dump.h): --model state_dict, --batch tensors x (N,C,H,W) and y (N);\n"
    "  --lambda X (1)  --distance (l2sq)  --cam-grad (exact)  --dropout P (the model's)\n"
    "  --target T (the paper's)  --seed S (1: dropout masks)\n";

static void print_help(void)
{
    int i;
    fputs(USAGE_HEAD, stdout);
    fputs("\nflags:\n", stdout);
    for (i = 0; i < O_N; i++) {
        const opt_def *o = &OPTS[i];
        const char *h;
        int col;
        if (!o->modes) continue;
        col = printf("  %s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
        if (col >= HELP_INDENT) {
            putchar('\n');
            col = 0;
        }
        printf("%*s", HELP_INDENT - col, "");
        col = HELP_INDENT;
        for (h = o->help; *h; h++) {
            putchar(*h);
            col++;
            if (*h == '\n') col = printf("%*s", HELP_INDENT, "");
        }
        if (o->def) {
            if (col + (int)strlen(o->def) + 12 > HELP_WIDTH) printf("\n%*s", HELP_INDENT, "");
            else putchar(' ');
            printf("(default: %s)", o->def);
        }
        putchar('\n');
    }
    putchar('\n');
    fputs(USAGE_DUMP, stdout);
    fputs("\nExit status: 0 done; 1 error or diverged run; 2 bad command line;\n"
          "128+N stopped by signal N (the last finished epoch's checkpoint stays valid).\n"
          "See docs/TRAINING.md.\n",
          stdout);
}

static int usage_error(const char *fmt, const char *a, const char *b)
{
    fprintf(stderr, PROG ": ");
    fprintf(stderr, fmt, a, b);
    fprintf(stderr, "\n%s(" PROG " --help lists every flag)\n", USAGE_HEAD);
    return EXIT_USAGE;
}

/* Raw flag values: vals[id] (NULL if absent); switches get "". */
typedef struct raw_args {
    const char *vals[O_N];
} raw_args;

static int find_opt(const char *name, size_t len)
{
    int i;
    for (i = 0; i < O_N; i++)
        if (strlen(OPTS[i].name) == len && strncmp(OPTS[i].name, name, len) == 0) return i;
    return -1;
}

/* "--flag value" or "--flag=value"; each flag at most once. */
static int parse_raw(int argc, char **argv, raw_args *ra)
{
    int i;
    memset(ra, 0, sizeof *ra);
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *eq;
        size_t len;
        int id;
        if (strncmp(a, "--", 2) != 0) return usage_error("unexpected argument '%s'%s", a, "");
        eq = strchr(a, '=');
        len = eq ? (size_t)(eq - a) : strlen(a);
        id = find_opt(a, len);
        if (id < 0) return usage_error("unknown flag '%s'%s", a, "");
        if (ra->vals[id]) return usage_error("%s given twice%s", OPTS[id].name, "");
        if (!OPTS[id].arg) {
            if (eq) return usage_error("%s takes no value%s", OPTS[id].name, "");
            ra->vals[id] = "";
        } else if (eq) {
            ra->vals[id] = eq + 1;
        } else {
            if (i + 1 >= argc) return usage_error("%s needs a value (%s)", OPTS[id].name, OPTS[id].arg);
            ra->vals[id] = argv[++i];
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Training configuration                                             */
/* ------------------------------------------------------------------ */

typedef struct train_cfg {
    int levels[MODEL_LEVELS];
    int n_levels;
    double lambdas[MAX_SWEEP];
    int n_lambdas;
    uint64_t seeds[MAX_SWEEP];
    int n_seeds;
    int seed_named;             /* --seed given: run names end in _s<seed> */
    const char *data, *test_data;
    uint64_t data_seed;
    uint64_t limit_train, limit_test;   /* 0: all */
    int size, epochs, batch;
    double lr;
    int patience;
    double factor;
    int t0, t1;
    double ema;
    cam_grad_mode grad_mode;
    consistency_distance distance;
    int target;                 /* -1: the paper's per level */
    double dropout;             /* < 0: the model's */
    const char *out;
    int resume, quiet;
    uint64_t inject_nan;        /* 1-based global step; 0: never */
} train_cfg;

/* "1,2,3" of unsigned 64-bit integers. */
static int parse_u64_list(const char *flag, const char *s, uint64_t *out, int max, int *count,
                          gc_error *err)
{
    char item[NUM_BUF];
    int n = 0;
    if (!s || !*s) return gc_fail(err, "%s: missing value", flag);
    for (;;) {
        const char *comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);
        if (n == max) return gc_fail(err, "%s: more than %d values", flag, max);
        if (len == 0 || len >= sizeof item) return gc_fail(err, "%s: bad list item in '%s'", flag, s);
        memcpy(item, s, len);
        item[len] = '\0';
        if (cli_u64(flag, item, &out[n], err) != GC_OK) return GC_FAIL;
        n++;
        if (!comma) break;
        s = comma + 1;
    }
    *count = n;
    return GC_OK;
}

static int has_duplicates_d(const double *v, int n)
{
    int i, j;
    for (i = 0; i < n; i++)
        for (j = i + 1; j < n; j++)
            if (v[i] == v[j]) return 1;
    return 0;
}

static int has_duplicates_u(const uint64_t *v, int n)
{
    int i, j;
    for (i = 0; i < n; i++)
        for (j = i + 1; j < n; j++)
            if (v[i] == v[j]) return 1;
    return 0;
}

static int has_duplicates_i(const int *v, int n)
{
    int i, j;
    for (i = 0; i < n; i++)
        for (j = i + 1; j < n; j++)
            if (v[i] == v[j]) return 1;
    return 0;
}

/* Convert raw values to a configuration. GC_FAIL: a usage error in err. */
static int build_cfg(const raw_args *ra, train_cfg *c, gc_error *err)
{
    const char *const *v = ra->vals;
    memset(c, 0, sizeof *c);
    c->levels[0] = DEFAULT_LEVEL;
    c->n_levels = 1;
    c->n_lambdas = 1;
    c->n_seeds = 1;
    c->data = "synth";
    c->size = DEFAULT_SIZE;
    c->epochs = DEFAULT_EPOCHS;
    c->batch = DEFAULT_BATCH;
    c->lr = DEFAULT_LR;
    c->patience = DEFAULT_PATIENCE;
    c->factor = DEFAULT_FACTOR;
    c->t0 = DEFAULT_T0;
    c->t1 = DEFAULT_T1;
    c->ema = EMA_DEFAULT_ALPHA;
    c->grad_mode = CAM_GRAD_EXACT;
    c->distance = CONS_L2SQ;
    c->target = -1;
    c->dropout = -1;
    c->out = DEFAULT_OUT;

    if (v[O_DATA]) {
        if (!*v[O_DATA]) return gc_fail(err, "--data: missing value");
        c->data = v[O_DATA];
    }
    if (v[O_TEST_DATA]) {
        if (!*v[O_TEST_DATA]) return gc_fail(err, "--test-data: missing value");
        c->test_data = v[O_TEST_DATA];
    }
    if (v[O_DATA_SEED] && cli_u64("--data-seed", v[O_DATA_SEED], &c->data_seed, err)) return GC_FAIL;
    if (v[O_LIMIT_TRAIN]) {
        if (cli_u64("--limit-train", v[O_LIMIT_TRAIN], &c->limit_train, err)) return GC_FAIL;
        if (c->limit_train < 2) return gc_fail(err, "--limit-train: %s is below 2", v[O_LIMIT_TRAIN]);
    }
    if (v[O_LIMIT_TEST]) {
        if (cli_u64("--limit-test", v[O_LIMIT_TEST], &c->limit_test, err)) return GC_FAIL;
        if (c->limit_test < 1) return gc_fail(err, "--limit-test: %s is below 1", v[O_LIMIT_TEST]);
    }
    if (v[O_SIZE] && cli_int("--size", v[O_SIZE], 1, DATASET_MAX_SIZE, &c->size, err)) return GC_FAIL;
    if (v[O_LEVEL]) {
        if (cli_int_list("--level", v[O_LEVEL], 1, MODEL_LEVELS, c->levels, MODEL_LEVELS,
                         &c->n_levels, err))
            return GC_FAIL;
        if (has_duplicates_i(c->levels, c->n_levels))
            return gc_fail(err, "--level: '%s' repeats a level", v[O_LEVEL]);
    }
    if (v[O_LAMBDA]) {
        if (cli_double_list("--lambda", v[O_LAMBDA], -MAX_LAMBDA, MAX_LAMBDA, c->lambdas, MAX_SWEEP,
                            &c->n_lambdas, err))
            return GC_FAIL;
        if (has_duplicates_d(c->lambdas, c->n_lambdas))
            return gc_fail(err, "--lambda: '%s' repeats a value", v[O_LAMBDA]);
    }
    if (v[O_SEED]) {
        if (parse_u64_list("--seed", v[O_SEED], c->seeds, MAX_SWEEP, &c->n_seeds, err)) return GC_FAIL;
        if (has_duplicates_u(c->seeds, c->n_seeds))
            return gc_fail(err, "--seed: '%s' repeats a value", v[O_SEED]);
        c->seed_named = 1;
    }
    if (v[O_EPOCHS] && cli_int("--epochs", v[O_EPOCHS], 1, MAX_EPOCHS, &c->epochs, err)) return GC_FAIL;
    if (v[O_BATCH] && cli_int("--batch", v[O_BATCH], 2, MAX_BATCH, &c->batch, err)) return GC_FAIL;
    if (v[O_LR] && cli_double("--lr", v[O_LR], 0, MAX_LR, &c->lr, err)) return GC_FAIL;
    if (v[O_PATIENCE] && cli_int("--patience", v[O_PATIENCE], 0, MAX_EPOCHS, &c->patience, err))
        return GC_FAIL;
    if (v[O_FACTOR]) {
        if (cli_double("--factor", v[O_FACTOR], 0, 1, &c->factor, err)) return GC_FAIL;
        if (c->factor >= 1) return gc_fail(err, "--factor: %s is not below 1", v[O_FACTOR]);
    }
    if (v[O_T0] && cli_int("--t0", v[O_T0], 0, MAX_EPOCHS, &c->t0, err)) return GC_FAIL;
    if (v[O_T1] && cli_int("--t1", v[O_T1], 0, MAX_EPOCHS, &c->t1, err)) return GC_FAIL;
    if (v[O_EMA] && cli_double("--ema", v[O_EMA], 0, 1, &c->ema, err)) return GC_FAIL;
    if (v[O_CAM_GRAD] && cam_grad_mode_parse(v[O_CAM_GRAD], &c->grad_mode, err)) {
        return gc_fail(err, "--cam-grad: '%s' is not exact or detached", v[O_CAM_GRAD]);
    }
    if (v[O_DISTANCE] && consistency_distance_parse(v[O_DISTANCE], &c->distance, err))
        return gc_fail(err, "--distance: '%s' is not l2sq or l2", v[O_DISTANCE]);
    if (v[O_TARGET] && cli_int("--target", v[O_TARGET], 0, MODEL_MAX_BLOCKS - 1, &c->target, err))
        return GC_FAIL;
    if (v[O_DROPOUT]) {
        if (cli_double("--dropout", v[O_DROPOUT], 0, 1, &c->dropout, err)) return GC_FAIL;
        if (c->dropout >= 1) return gc_fail(err, "--dropout: %s is not below 1", v[O_DROPOUT]);
    }
    if (v[O_OUT]) {
        if (!*v[O_OUT]) return gc_fail(err, "--out: missing value");
        c->out = v[O_OUT];
    }
    c->resume = v[O_RESUME] != NULL;
    c->quiet = v[O_QUIET] != NULL;
    if (v[O_INJECT_NAN] && cli_u64("--inject-nan", v[O_INJECT_NAN], &c->inject_nan, err))
        return GC_FAIL;
    return GC_OK;
}

/* ------------------------------------------------------------------ */
/* Small helpers                                                      */
/* ------------------------------------------------------------------ */

static volatile sig_atomic_t g_signal = 0;

static void on_signal(int sig) { g_signal = sig; }

/* SIGINT / SIGTERM set g_signal; the loop stops after the current step. A
 * second signal kills the program at once (SA_RESETHAND); files on disk
 * stay whole either way (every write is atomic). */
static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART | SA_RESETHAND;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The shortest of %.15g / %.17g that reads back as v (metadata, run names). */
static void fmt_double(char *buf, size_t len, double v)
{
    snprintf(buf, len, "%.15g", v);
    if (strtod(buf, NULL) != v) snprintf(buf, len, "%.17g", v);
}

/* mkdir -p; an existing directory is fine. */
static int make_dirs(const char *path, gc_error *err)
{
    char buf[PATH_BUF];
    size_t i, len = strlen(path);
    struct stat sb;
    if (len == 0 || len >= sizeof buf) return gc_fail(err, "%s: bad or too long path", path);
    memcpy(buf, path, len + 1);
    for (i = 1; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != '\0') continue;
        buf[i] = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST) {
            int e = errno;
            return gc_fail(err, "%s: cannot create directory: %s", buf, strerror(e));
        }
        if (stat(buf, &sb) != 0 || !S_ISDIR(sb.st_mode))
            return gc_fail(err, "%s: exists and is not a directory", buf);
        buf[i] = path[i];
    }
    return GC_OK;
}

static int file_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

static int join_path(char *out, size_t len, const char *a, const char *b, gc_error *err)
{
    int n = snprintf(out, len, "%s/%s", a, b);
    if (n < 0 || (size_t)n >= len) return gc_fail(err, "%s/%s: path too long", a, b);
    return GC_OK;
}

/* ------------------------------------------------------------------ */
/* Run metadata: a pure function of the configuration, written into   */
/* every checkpoint and compared on --resume.                         */
/* ------------------------------------------------------------------ */

#define META_MAX 40

typedef struct run_meta {
    int n;
    const char *key[META_MAX];
    char *val[META_MAX];
} run_meta;

static void meta_add(run_meta *mt, const char *key, const char *val)
{
    size_t len = strlen(val);
    GC_CHECK(mt->n < META_MAX);
    mt->key[mt->n] = key;
    mt->val[mt->n] = (char *)gc_calloc(len + 1, 1);
    memcpy(mt->val[mt->n], val, len + 1);
    mt->n++;
}

static void meta_add_int(run_meta *mt, const char *key, long long v)
{
    char buf[NUM_BUF];
    snprintf(buf, sizeof buf, "%lld", v);
    meta_add(mt, key, buf);
}

static void meta_add_u64(run_meta *mt, const char *key, uint64_t v)
{
    char buf[NUM_BUF];
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)v);
    meta_add(mt, key, buf);
}

static void meta_add_double(run_meta *mt, const char *key, double v)
{
    char buf[NUM_BUF];
    fmt_double(buf, sizeof buf, v);
    meta_add(mt, key, buf);
}

static void meta_free(run_meta *mt)
{
    int i;
    for (i = 0; i < mt->n; i++) free(mt->val[i]);
    mt->n = 0;
}

/* Class names joined with commas (a name holding a comma stays ambiguous;
 * the class count is the `classes` key). */
static char *join_class_names(const dataset *ds)
{
    size_t len = 1;
    char *s;
    int c;
    for (c = 0; c < ds->classes; c++) len += strlen(ds->class_names[c]) + 1;
    s = (char *)gc_calloc(len, 1);
    for (c = 0; c < ds->classes; c++) {
        if (c) strcat(s, ",");
        strcat(s, ds->class_names[c]);
    }
    return s;
}

static void build_meta(run_meta *mt, const train_cfg *c, const dataset *tr, const model *m,
                       double lambda_max, uint64_t seed)
{
    char *names = join_class_names(tr);
    mt->n = 0;
    meta_add(mt, "format", CKPT_FORMAT);
    meta_add_int(mt, "level", m->level);
    meta_add_int(mt, "classes", m->classes);
    meta_add(mt, "class_names", names);
    free(names);
    meta_add_int(mt, "in_c", m->in_c);
    meta_add_int(mt, "size", m->in_h);
    meta_add_u64(mt, "seed", seed);
    meta_add_int(mt, "target", m->target);
    meta_add_double(mt, "dropout", m->dropout_p);
    meta_add_double(mt, "lambda_max", lambda_max);
    meta_add_int(mt, "t0", c->t0);
    meta_add_int(mt, "t1", c->t1);
    meta_add_double(mt, "ema", c->ema);
    meta_add(mt, "distance", consistency_distance_name(c->distance));
    meta_add(mt, "cam_grad", cam_grad_mode_name(c->grad_mode));
    meta_add_int(mt, "batch", c->batch);
    meta_add_double(mt, "lr", c->lr);
    meta_add_int(mt, "patience", c->patience);
    meta_add_double(mt, "factor", c->factor);
    meta_add(mt, "data", c->data);
    meta_add(mt, "test_data", c->test_data ? c->test_data : c->data);
    meta_add_u64(mt, "data_seed", c->data_seed);
    meta_add_u64(mt, "limit_train", c->limit_train);
    meta_add_u64(mt, "limit_test", c->limit_test);
    meta_add(mt, "real", REAL_NAME);
}

/* ------------------------------------------------------------------ */
/* One run's state, checkpoints                                       */
/* ------------------------------------------------------------------ */

typedef struct run_state {
    model m;
    train_step st;
    adam opt;
    plateau pl;
    eval_pass ev;
    rng rng;                /* shuffling and augmentation */
    int have_model, have_step, have_opt, have_ev;
    real *x;                /* (batch, C, S, S) */
    int *y;                 /* (batch) */
    size_t *perm;           /* (train count) */
    int64_t *flags;         /* (classes) EMA flags as written */
    csv_log *log;
    run_meta meta;
} run_state;

static void run_state_free(run_state *rs)
{
    if (rs->have_ev) eval_pass_free(&rs->ev);
    if (rs->have_opt) adam_free(&rs->opt);
    if (rs->have_step) step_free(&rs->st);
    if (rs->have_model) model_free(&rs->m);
    free(rs->x);
    free(rs->y);
    free(rs->perm);
    free(rs->flags);
    csv_log_free(rs->log);
    meta_free(&rs->meta);
    memset(rs, 0, sizeof *rs);
}

static int save_checkpoint(run_state *rs, const char *path, int epoch, gc_error *err)
{
    st_writer *w = st_writer_new(ST_DEFAULT);
    const ema_refs *e = &rs->st.ema;
    int64_t shape[3], ep = epoch;
    char buf[NUM_BUF];
    size_t c;
    int i, rc = GC_FAIL;
    shape[0] = (int64_t)e->classes;
    shape[1] = (int64_t)e->h;
    shape[2] = (int64_t)e->w;
    for (c = 0; c < e->classes; c++) rs->flags[c] = e->initialized[c];
    for (i = 0; i < rs->meta.n; i++)
        if (st_writer_meta(w, rs->meta.key[i], rs->meta.val[i], err) != GC_OK) goto done;
    snprintf(buf, sizeof buf, "%d", epoch);
    if (st_writer_meta(w, "epoch", buf, err) != GC_OK) goto done;
    if (ckpt_add_store(w, &rs->m.ps, ST_DEFAULT, err) != GC_OK ||
        ckpt_add_adam(w, CKPT_TRAIN_PREFIX "adam.", &rs->opt, err) != GC_OK ||
        ckpt_add_plateau(w, CKPT_TRAIN_PREFIX "plateau", &rs->pl, err) != GC_OK ||
        ckpt_add_rng(w, CKPT_TRAIN_PREFIX "rng", &rs->rng, err) != GC_OK ||
        ckpt_add_rng(w, CKPT_TRAIN_PREFIX "model_rng", &rs->m.rng, err) != GC_OK ||
        st_writer_add_real(w, CKPT_TRAIN_PREFIX "ema.ref", 3, shape, e->ref, ST_DEFAULT, err) != GC_OK ||
        st_writer_add_i64(w, CKPT_TRAIN_PREFIX "ema.initialized", 1, shape, rs->flags, err) != GC_OK ||
        st_writer_add_i64(w, CKPT_TRAIN_PREFIX "epoch", 0, NULL, &ep, err) != GC_OK)
        goto done;
    rc = st_writer_write(w, path, err);
done:
    st_writer_free(w);
    return rc;
}

/* Restore everything save_checkpoint wrote; *epoch = the epochs done. The
 * metadata must equal this run's (same settings), else GC_FAIL naming the key. */
static int load_checkpoint(run_state *rs, const char *path, int *epoch, gc_error *err)
{
    static const char *const extra[] = {CKPT_TRAIN_PREFIX, NULL};
    ckpt_load_opts lo;
    st_file *f = st_open(path, err);
    ema_refs *e = &rs->st.ema;
    int64_t shape[3], ep_meta, ep_tensor;
    real *ref = NULL;
    uint8_t *init = NULL;
    size_t c, zc;
    int i, rc = GC_FAIL;
    if (!f) return GC_FAIL;
    for (i = 0; i < rs->meta.n; i++) {
        const char *have = st_meta(f, rs->meta.key[i]);
        if (!have) {
            gc_fail(err, "%s: no metadata '%s' (not a checkpoint written by train)", path,
                    rs->meta.key[i]);
            goto done;
        }
        if (strcmp(have, rs->meta.val[i]) != 0) {
            gc_fail(err, "%s: written with %s=%s, this run has %s=%s (resume with the same settings)",
                    path, rs->meta.key[i], have, rs->meta.key[i], rs->meta.val[i]);
            goto done;
        }
    }
    if (ckpt_meta_int(f, "epoch", &ep_meta, err) != GC_OK) goto done;
    if (st_read_i64(f, CKPT_TRAIN_PREFIX "epoch", &ep_tensor, 1, err) != GC_OK) goto done;
    if (ep_meta != ep_tensor || ep_meta < 1 || ep_meta > MAX_EPOCHS) {
        gc_fail(err, "%s: bad epoch (metadata %lld, tensor %lld)", path, (long long)ep_meta,
                (long long)ep_tensor);
        goto done;
    }
    lo.target = -1;
    lo.extra_prefixes = extra;
    if (ckpt_load_store(f, &rs->m.ps, &lo, err) != GC_OK ||
        ckpt_read_adam(f, CKPT_TRAIN_PREFIX "adam.", &rs->opt, err) != GC_OK ||
        ckpt_read_plateau(f, CKPT_TRAIN_PREFIX "plateau", &rs->pl, err) != GC_OK ||
        ckpt_read_rng(f, CKPT_TRAIN_PREFIX "rng", &rs->rng, err) != GC_OK ||
        ckpt_read_rng(f, CKPT_TRAIN_PREFIX "model_rng", &rs->m.rng, err) != GC_OK)
        goto done;
    shape[0] = (int64_t)e->classes;
    shape[1] = (int64_t)e->h;
    shape[2] = (int64_t)e->w;
    zc = e->classes * e->h * e->w;
    ref = (real *)gc_calloc(zc, sizeof(real));
    init = (uint8_t *)gc_calloc(e->classes, 1);
    if (ckpt_read_real_shape(f, CKPT_TRAIN_PREFIX "ema.ref", 3, shape, ref, err) != GC_OK ||
        st_read_i64(f, CKPT_TRAIN_PREFIX "ema.initialized", rs->flags, e->classes, err) != GC_OK)
        goto done;
    for (c = 0; c < e->classes; c++) {
        if (rs->flags[c] != 0 && rs->flags[c] != 1) {
            gc_fail(err, "%s: " CKPT_TRAIN_PREFIX "ema.initialized[%zu] is %lld, not 0 or 1", path, c,
                    (long long)rs->flags[c]);
            goto done;
        }
        init[c] = (uint8_t)rs->flags[c];
    }
    if (ema_restore(e, ref, init, err) != GC_OK) {
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "%s", err->msg);
        gc_fail(err, "%s: %s", path, msg);
        goto done;
    }
    *epoch = (int)ep_meta;
    rc = GC_OK;
done:
    free(ref);
    free(init);
    st_close(f);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Progress                                                           */
/* ------------------------------------------------------------------ */

typedef struct progress {
    int tty, quiet;
    const char *name;
    int epoch, epochs, total;
    double start;
    int next_mark;          /* non-terminal: next tenth to report */
    int width;              /* terminal: characters of the last line */
    double last;            /* terminal: time of the last redraw */
} progress;

static void fmt_eta(char *buf, size_t len, double s)
{
    long t = s > 0 && s < 1e9 ? (long)(s + 0.5) : 0;
    if (t >= 3600) snprintf(buf, len, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else snprintf(buf, len, "%ld:%02ld", t / 60, t % 60);
}

static void progress_start(progress *p, int quiet, const char *name, int epoch, int epochs, int total)
{
    p->tty = isatty(fileno(stderr));
    p->quiet = quiet;
    p->name = name;
    p->epoch = epoch;
    p->epochs = epochs;
    p->total = total;
    p->start = now_seconds();
    p->next_mark = 1;
    p->width = 0;
    p->last = 0;
}

static void progress_update(progress *p, int step, size_t images, double loss)
{
    double el, ips, eta;
    char etabuf[32];
    if (p->quiet) return;
    el = now_seconds() - p->start;
    if (p->tty && step < p->total && el - p->last < PROGRESS_REDRAW) return;
    p->last = el;
    ips = el > 0 ? (double)images / el : 0;
    eta = step > 0 ? el / step * (p->total - step) : 0;
    fmt_eta(etabuf, sizeof etabuf, eta);
    if (p->tty) {
        char bar[PROGRESS_BAR + 1];
        int i, fill = p->total ? step * PROGRESS_BAR / p->total : 0, w;
        for (i = 0; i < PROGRESS_BAR; i++) bar[i] = i < fill ? '#' : '.';
        bar[PROGRESS_BAR] = '\0';
        w = fprintf(stderr, "\r%s epoch %d/%d [%s] %d/%d %.1f img/s ETA %s loss %.4g", p->name,
                    p->epoch, p->epochs, bar, step, p->total, ips, etabuf, loss);
        if (w < p->width) fprintf(stderr, "%*s", p->width - w, "");
        if (w > 0) p->width = w;
        fflush(stderr);
        return;
    }
    if ((long)step * PROGRESS_STEPS < (long)p->next_mark * p->total) return;
    while ((long)step * PROGRESS_STEPS >= (long)p->next_mark * p->total) p->next_mark++;
    fprintf(stderr, "%s epoch %d/%d: step %d/%d, %.1f img/s, ETA %s, loss %.4g\n", p->name,
            p->epoch, p->epochs, step, p->total, ips, etabuf, loss);
}

static void progress_end(progress *p)
{
    if (p->quiet || !p->tty || !p->width) return;
    fprintf(stderr, "\r%*s\r", p->width, "");
    fflush(stderr);
    p->width = 0;
}

/* ------------------------------------------------------------------ */
/* The epoch loop                                                     */
/* ------------------------------------------------------------------ */

static const char *const LOG_COLUMNS[] = {
    "level", "target", "lambda_max", "seed", "epoch", "lambda", "lr",
    "train_loss", "train_ce", "train_l_cam", "train_acc",
    "val_ce", "accuracy", "kappa", "l_cam_l2sq", "l_cam_l2", "l_cam_n", "l_cam_classes",
    "seconds", "distance", "cam_grad"};
enum {
    COL_LEVEL, COL_TARGET, COL_LAMBDA_MAX, COL_SEED, COL_EPOCH, COL_LAMBDA, COL_LR,
    COL_TRAIN_LOSS, COL_TRAIN_CE, COL_TRAIN_L_CAM, COL_TRAIN_ACC,
    COL_VAL_CE, COL_ACC, COL_KAPPA, COL_L_CAM_L2SQ, COL_L_CAM_L2, COL_L_CAM_N, COL_L_CAM_CLASSES,
    COL_SECONDS, COL_DISTANCE, COL_CAM_GRAD, COL_N
};

typedef enum { RUN_OK = 0, RUN_ERROR, RUN_DIVERGED, RUN_INTERRUPTED } run_status;

typedef struct epoch_sums {
    double loss, ce;        /* sums of per-batch means times batch size */
    double cam;             /* sum of per-step L_train where the term was applied */
    size_t n, n_cam, correct;
} epoch_sums;

static int params_finite(const param_store *ps)
{
    size_t i;
    for (i = 0; i < ps->nvalue; i++)
        if (!isfinite(ps->value[i])) return 0;
    for (i = 0; i < ps->nbuffer; i++)
        if (!isfinite(ps->buffer[i])) return 0;
    return 1;
}

/* Fisher-Yates from the identity order (an epoch's order depends only on
 * the RNG state, so a resumed run draws the same permutation). */
static void shuffle(size_t *perm, size_t n, rng *r)
{
    size_t i;
    for (i = 0; i < n; i++) perm[i] = i;
    for (i = n; i > 1; i--) {
        size_t j = rng_below(r, (uint32_t)i);
        size_t t = perm[i - 1];
        perm[i - 1] = perm[j];
        perm[j] = t;
    }
}

/* Everything one run needs besides its state. */
typedef struct run_spec {
    const train_cfg *c;
    dataset *tr, *te;
    int level;
    double lambda_max;
    uint64_t seed;
    char name[RUN_NAME_BUF];
    char dir[PATH_BUF], ckpt[PATH_BUF], log[PATH_BUF];
} run_spec;

static int setup_run(run_spec *rs_, run_state *rs, int *start_epoch, gc_error *err)
{
    const train_cfg *c = rs_->c;
    dataset *tr = rs_->tr;
    plateau_config pc;
    size_t in;
    int have_ckpt;

    *start_epoch = 0;
    if (model_build(&rs->m, rs_->level, tr->channels, tr->size, tr->size, tr->classes, c->batch,
                    rs_->seed, err) != GC_OK)
        return GC_FAIL;
    rs->have_model = 1;
    if (c->target >= 0 && model_set_target(&rs->m, c->target, err) != GC_OK) return GC_FAIL;
    if (c->dropout >= 0) model_set_dropout(&rs->m, c->dropout);
    if (step_init(&rs->st, &rs->m, err) != GC_OK) return GC_FAIL;
    rs->have_step = 1;
    if (adam_init(&rs->opt, rs->m.ps.nvalue, c->lr, ADAM_BETA1, ADAM_BETA2, ADAM_EPS, 0, err) != GC_OK)
        return GC_FAIL;
    rs->have_opt = 1;
    pc = plateau_defaults();
    pc.patience = c->patience;
    pc.factor = c->factor;
    if (plateau_init(&rs->pl, &pc, err) != GC_OK) return GC_FAIL;
    if (eval_pass_init(&rs->ev, &rs->m, rs_->te->count, err) != GC_OK) return GC_FAIL;
    rs->have_ev = 1;
    rng_seed(&rs->rng, rs_->seed ^ RUN_RNG_STREAM);
    in = (size_t)rs->m.in_c * rs->m.in_h * rs->m.in_w;
    rs->x = (real *)gc_calloc((size_t)c->batch * in, sizeof(real));
    rs->y = (int *)gc_calloc((size_t)c->batch, sizeof(int));
    rs->perm = (size_t *)gc_calloc(tr->count, sizeof(size_t));
    rs->flags = (int64_t *)gc_calloc((size_t)rs->m.classes, sizeof(int64_t));
    build_meta(&rs->meta, c, tr, &rs->m, rs_->lambda_max, rs_->seed);

    if (make_dirs(rs_->dir, err) != GC_OK) return GC_FAIL;
    have_ckpt = file_exists(rs_->ckpt);
    if (have_ckpt && !c->resume)
        return gc_fail(err, "%s exists: pass --resume to continue that run, or choose another --out",
                       rs_->ckpt);
    if (have_ckpt) {
        if (load_checkpoint(rs, rs_->ckpt, start_epoch, err) != GC_OK) return GC_FAIL;
        rs->log = csv_log_resume(rs_->log, LOG_COLUMNS, COL_N, (size_t)*start_epoch, err);
        if (!rs->log) return GC_FAIL;
        if (csv_log_rows(rs->log) != (size_t)*start_epoch)
            return gc_fail(err, "%s holds %zu epochs, %s is at epoch %d", rs_->log,
                           csv_log_rows(rs->log), rs_->ckpt, *start_epoch);
    } else {
        rs->log = csv_log_create(rs_->log, LOG_COLUMNS, COL_N, err);
        if (!rs->log) return GC_FAIL;
    }
    return GC_OK;
}

static void report_stop(const run_spec *sp, int last_ckpt, const char *what)
{
    if (last_ckpt > 0)
        fprintf(stderr, PROG ": %s: %s; last checkpoint: epoch %d (%s)\n", sp->name, what, last_ckpt,
                sp->ckpt);
    else
        fprintf(stderr, PROG ": %s: %s; no checkpoint was written\n", sp->name, what);
}

static run_status train_run(run_spec *sp)
{
    const train_cfg *c = sp->c;
    dataset *tr = sp->tr;
    run_state rs;
    gc_error err;
    step_opts so;
    step_result res;
    int start_epoch, epoch, last_ckpt;
    size_t in, nfull, rem;
    int nbatches;
    run_status status = RUN_ERROR;

    memset(&rs, 0, sizeof rs);
    if (setup_run(sp, &rs, &start_epoch, &err) != GC_OK) {
        fprintf(stderr, PROG ": %s: %s\n", sp->name, err.msg);
        goto done;
    }
    last_ckpt = start_epoch;
    in = (size_t)rs.m.in_c * rs.m.in_h * rs.m.in_w;
    nfull = tr->count / (size_t)c->batch;
    rem = tr->count % (size_t)c->batch;
    nbatches = (int)nfull + (rem >= 2 ? 1 : 0);
    if (start_epoch >= c->epochs) {
        if (!c->quiet)
            fprintf(stderr, PROG ": %s: already at epoch %d of %d, nothing to do\n", sp->name,
                    start_epoch, c->epochs);
        status = RUN_OK;
        goto done;
    }
    if (!c->quiet) {
        fprintf(stderr,
                PROG ": %s: level %d (%zu parameters), target features.%d, CAM %dx%d, dropout %g, "
                "lambda_max %g (T0 %d, T1 %d, %s, %s), seed %llu, %s\n",
                sp->name, sp->level, model_param_count(&rs.m), rs.m.target, rs.m.cam_h, rs.m.cam_w,
                rs.m.dropout_p, sp->lambda_max, c->t0, c->t1, consistency_distance_name(c->distance),
                cam_grad_mode_name(c->grad_mode), (unsigned long long)sp->seed, sp->dir);
        if (start_epoch > 0)
            fprintf(stderr, PROG ": %s: resuming after epoch %d\n", sp->name, start_epoch);
        if (rem == 1)
            fprintf(stderr, PROG ": %s: %zu images = %zu batches of %d + 1: the single last image "
                    "of each epoch's order is dropped\n", sp->name, tr->count, nfull, c->batch);
    }
    step_opts_default(&so);
    so.grad_mode = c->grad_mode;
    so.distance = c->distance;
    so.ema_a = c->ema;
    so.want_cam = 0;

    for (epoch = start_epoch + 1; epoch <= c->epochs; epoch++) {
        epoch_sums s;
        progress pg;
        double t_start = now_seconds(), lr_epoch = rs.opt.lr, secs, lcam[2], acc, kappa;
        consistency_result cr[2];
        char seedbuf[NUM_BUF];
        int b, v, reduced;
        memset(&s, 0, sizeof s);
        so.lambda = curriculum_lambda(sp->lambda_max, c->t0, c->t1, epoch);
        shuffle(rs.perm, tr->count, &rs.rng);
        progress_start(&pg, c->quiet, sp->name, epoch, c->epochs, nbatches);
        for (b = 0; b < nbatches; b++) {
            size_t first = (size_t)b * (size_t)c->batch;
            int n = (int)(tr->count - first < (size_t)c->batch ? tr->count - first : (size_t)c->batch);
            uint64_t global = (uint64_t)(epoch - 1) * (uint64_t)nbatches + (uint64_t)b + 1;
            const char *term = NULL;
            int i;
            for (i = 0; i < n; i++) {
                size_t idx = rs.perm[first + (size_t)i];
                dataset_get(tr, idx, 1, &rs.rng, rs.x + (size_t)i * in);
                rs.y[i] = tr->labels[idx];
            }
            if (c->inject_nan && global == c->inject_nan)          /* the classifier's last bias */
                rs.m.ps.value[rs.m.ps.nvalue - 1] = (real)NAN;
            step_run(&rs.st, rs.x, rs.y, n, &so, NULL, &res);
            if (!isfinite(res.loss_ce)) term = "cross-entropy";
            else if (!isfinite(res.loss_cam)) term = "CAM term L_train";
            else if (!isfinite(res.loss)) term = "total loss (lambda_t * L_train)";
            if (term) {
                char what[256];
                progress_end(&pg);
                snprintf(what, sizeof what,
                         "diverged: non-finite %s (loss %g, ce %g, L_train %g, lambda_t %g) at step "
                         "%d of %d in epoch %d",
                         term, res.loss, res.loss_ce, res.loss_cam, so.lambda, b + 1, nbatches, epoch);
                report_stop(sp, last_ckpt, what);
                status = RUN_DIVERGED;
                goto done;
            }
            adam_step(&rs.opt, rs.m.ps.value, rs.m.ps.grad);
            s.loss += res.loss * n;
            s.ce += res.loss_ce * n;
            s.n += (size_t)n;
            s.correct += (size_t)res.n_correct;
            if (so.lambda != 0 && res.n_selected > 0) {
                s.cam += res.loss_cam;
                s.n_cam++;
            }
            progress_update(&pg, b + 1, s.n, s.loss / (double)s.n);
            if (g_signal) {
                char what[128];
                progress_end(&pg);
                snprintf(what, sizeof what, "interrupted (signal %d) after step %d of %d in epoch %d",
                         (int)g_signal, b + 1, nbatches, epoch);
                report_stop(sp, last_ckpt, what);
                status = RUN_INTERRUPTED;
                goto done;
            }
        }
        progress_end(&pg);
        if (!params_finite(&rs.m.ps)) {
            char what[128];
            snprintf(what, sizeof what, "diverged: non-finite parameters after the last step of epoch %d",
                     epoch);
            report_stop(sp, last_ckpt, what);
            status = RUN_DIVERGED;
            goto done;
        }

        /* evaluation on the test split */
        if (eval_pass_run(&rs.ev, &rs.st, sp->te, &err) != GC_OK) {
            fprintf(stderr, PROG ": %s: %s\n", sp->name, err.msg);
            goto done;
        }
        acc = confusion_accuracy(&rs.ev.cm);
        kappa = confusion_kappa(&rs.ev.cm);
        memset(cr, 0, sizeof cr);
        for (v = 0; v < 2; v++) {
            consistency_variant var;
            var.distance = v == 0 ? CONS_L2SQ : CONS_L2;
            var.grid = 0;
            if (consistency_finish(&rs.ev.maps, var, &cr[v], &err) != GC_OK) {
                fprintf(stderr, PROG ": %s: %s\n", sp->name, err.msg);
                consistency_result_free(&cr[0]);
                consistency_result_free(&cr[1]);
                goto done;
            }
            lcam[v] = cr[v].value;
        }
        if (!c->quiet && isnan(lcam[0]))
            fprintf(stderr, PROG ": %s: epoch %d: L_CAM undefined: %s\n", sp->name, epoch, cr[0].reason);
        reduced = plateau_step(&rs.pl, rs.ev.ce, &rs.opt.lr);
        secs = now_seconds() - t_start;

        /* log row first, then the checkpoint: a kill between the two leaves
         * one extra row, which --resume drops and recomputes bit for bit */
        snprintf(seedbuf, sizeof seedbuf, "%llu", (unsigned long long)sp->seed);
        csv_log_set_number(rs.log, COL_LEVEL, sp->level);
        csv_log_set_number(rs.log, COL_TARGET, rs.m.target);
        csv_log_set_number(rs.log, COL_LAMBDA_MAX, sp->lambda_max);
        csv_log_set_text(rs.log, COL_SEED, seedbuf);
        csv_log_set_number(rs.log, COL_EPOCH, epoch);
        csv_log_set_number(rs.log, COL_LAMBDA, so.lambda);
        csv_log_set_number(rs.log, COL_LR, lr_epoch);
        csv_log_set_number(rs.log, COL_TRAIN_LOSS, s.loss / (double)s.n);
        csv_log_set_number(rs.log, COL_TRAIN_CE, s.ce / (double)s.n);
        csv_log_set_number(rs.log, COL_TRAIN_L_CAM, s.n_cam ? s.cam / (double)s.n_cam : NAN);
        csv_log_set_number(rs.log, COL_TRAIN_ACC, (double)s.correct / (double)s.n);
        csv_log_set_number(rs.log, COL_VAL_CE, rs.ev.ce);
        csv_log_set_number(rs.log, COL_ACC, acc);
        csv_log_set_number(rs.log, COL_KAPPA, kappa);
        csv_log_set_number(rs.log, COL_L_CAM_L2SQ, lcam[0]);
        csv_log_set_number(rs.log, COL_L_CAM_L2, lcam[1]);
        csv_log_set_number(rs.log, COL_L_CAM_N, (double)cr[0].n_used);
        csv_log_set_number(rs.log, COL_L_CAM_CLASSES, (double)cr[0].classes_used);
        csv_log_set_number(rs.log, COL_SECONDS, secs);
        csv_log_set_text(rs.log, COL_DISTANCE, consistency_distance_name(c->distance));
        csv_log_set_text(rs.log, COL_CAM_GRAD, cam_grad_mode_name(c->grad_mode));
        consistency_result_free(&cr[0]);
        consistency_result_free(&cr[1]);
        if (csv_log_end_row(rs.log, &err) != GC_OK ||
            save_checkpoint(&rs, sp->ckpt, epoch, &err) != GC_OK) {
            fprintf(stderr, PROG ": %s: %s\n", sp->name, err.msg);
            goto done;
        }
        last_ckpt = epoch;

        printf("%s epoch %d/%d lambda %.4g loss %.5g (ce %.5g, L_train %.5g) val_ce %.5g "
               "acc %.4f kappa %.4f l_cam_%s %.5g lr %.3g %.1fs\n",
               sp->name, epoch, c->epochs, so.lambda, s.loss / (double)s.n, s.ce / (double)s.n,
               s.n_cam ? s.cam / (double)s.n_cam : NAN, rs.ev.ce, acc, kappa,
               consistency_distance_name(c->distance), lcam[c->distance == CONS_L2SQ ? 0 : 1],
               lr_epoch, secs);
        fflush(stdout);
        if (reduced && !c->quiet)
            fprintf(stderr, PROG ": %s: validation CE did not improve for %d epochs: lr -> %g\n",
                    sp->name, c->patience + 1, rs.opt.lr);
        if (g_signal && epoch < c->epochs) {
            char what[128];
            snprintf(what, sizeof what, "interrupted (signal %d) after epoch %d", (int)g_signal, epoch);
            report_stop(sp, last_ckpt, what);
            status = RUN_INTERRUPTED;
            goto done;
        }
    }
    status = RUN_OK;
done:
    run_state_free(&rs);
    return status;
}

/* ------------------------------------------------------------------ */
/* Modes                                                              */
/* ------------------------------------------------------------------ */

static int same_classes(const dataset *a, const dataset *b)
{
    int c;
    if (a->classes != b->classes) return 0;
    for (c = 0; c < a->classes; c++)
        if (strcmp(a->class_names[c], b->class_names[c]) != 0) return 0;
    return 1;
}

static int open_data(const train_cfg *c, dataset *tr, dataset *te, gc_error *err)
{
    const char *tspec = c->test_data ? c->test_data : c->data;
    if (dataset_open(tr, c->data, "train", c->size, c->data_seed, err) != GC_OK) return GC_FAIL;
    if (c->limit_train && dataset_limit(tr, (size_t)c->limit_train, c->data_seed, err) != GC_OK)
        return GC_FAIL;
    if (tr->count < 2)
        return gc_fail(err, "%s: the training split has %zu image(s), need at least 2", c->data,
                       tr->count);
    if (tr->count > UINT32_MAX)
        return gc_fail(err, "%s: %zu training images, at most %lu supported", c->data, tr->count,
                       (unsigned long)UINT32_MAX);
    if (dataset_open(te, tspec, "test", c->size, c->data_seed, err) != GC_OK) return GC_FAIL;
    if (c->limit_test && dataset_limit(te, (size_t)c->limit_test, c->data_seed, err) != GC_OK)
        return GC_FAIL;
    if (te->count == 0) return gc_fail(err, "%s: the test split is empty", tspec);
    if (!same_classes(tr, te))
        return gc_fail(err, "%s: test classes differ from the training classes of %s", tspec, c->data);
    return GC_OK;
}

static int mode_train(const raw_args *ra)
{
    train_cfg c;
    dataset tr, te;
    gc_error err;
    int li, ai, si, failed = 0, interrupted = 0, rc;
    if (build_cfg(ra, &c, &err) != GC_OK) return usage_error("%s%s", err.msg, "");
    memset(&tr, 0, sizeof tr);
    memset(&te, 0, sizeof te);
    install_signals();
    if (open_data(&c, &tr, &te, &err) != GC_OK) {
        fprintf(stderr, PROG ": %s\n", err.msg);
        dataset_free(&tr);
        dataset_free(&te);
        return EXIT_FAILURE;
    }
    if (!c.quiet)
        fprintf(stderr, PROG ": training data %s -> %zu images, %d classes; test data %s -> %zu images\n",
                tr.description, tr.count, tr.classes, te.description, te.count);
    for (li = 0; li < c.n_levels && !interrupted; li++) {
        for (ai = 0; ai < c.n_lambdas && !interrupted; ai++) {
            for (si = 0; si < c.n_seeds && !interrupted; si++) {
                run_spec sp;
                char lam[NUM_BUF];
                int n;
                run_status st;
                if (g_signal) {                             /* arrived after a run ended */
                    interrupted = 1;
                    break;
                }
                memset(&sp, 0, sizeof sp);
                sp.c = &c;
                sp.tr = &tr;
                sp.te = &te;
                sp.level = c.levels[li];
                sp.lambda_max = c.n_lambdas ? c.lambdas[ai] : 0;
                sp.seed = c.seeds[si];
                fmt_double(lam, sizeof lam, sp.lambda_max);
                if (c.seed_named)
                    n = snprintf(sp.name, sizeof sp.name, "L%d_lam%s_s%llu", sp.level, lam,
                                 (unsigned long long)sp.seed);
                else
                    n = snprintf(sp.name, sizeof sp.name, "L%d_lam%s", sp.level, lam);
                GC_CHECK(n > 0 && (size_t)n < sizeof sp.name);
                if (join_path(sp.dir, sizeof sp.dir, c.out, sp.name, &err) != GC_OK ||
                    join_path(sp.ckpt, sizeof sp.ckpt, sp.dir, CKPT_NAME, &err) != GC_OK ||
                    join_path(sp.log, sizeof sp.log, sp.dir, LOG_NAME, &err) != GC_OK) {
                    fprintf(stderr, PROG ": %s\n", err.msg);
                    failed = 1;
                    interrupted = 1;
                    break;
                }
                st = train_run(&sp);
                if (st == RUN_INTERRUPTED) interrupted = 1;
                else if (st == RUN_DIVERGED) failed = 1;    /* the sweep goes on */
                else if (st == RUN_ERROR) {
                    failed = 1;
                    interrupted = 1;                        /* stop the sweep */
                }
            }
        }
    }
    dataset_free(&tr);
    dataset_free(&te);
    if (g_signal && !c.quiet)
        fprintf(stderr, PROG ": stopped by signal %d; rerun with --resume to continue\n", (int)g_signal);
    if (g_signal) rc = EXIT_SIGNAL_BASE + (int)g_signal;
    else rc = failed ? EXIT_FAILURE : EXIT_SUCCESS;
    return rc;
}

static int mode_export(const raw_args *ra)
{
    const char *const *v = ra->vals;
    const char *spec = v[O_DATA] ? v[O_DATA] : "synth";
    gc_error err;
    int i, classes, size = DEFAULT_SIZE;
    size_t ntrain, ntest;
    uint64_t data_seed = 0, count;
    for (i = 0; i < O_N; i++)
        if (v[i] && !(OPTS[i].modes & MODE_EXPORT))
            return usage_error("%s does not apply to --export-synth%s", OPTS[i].name, "");
    if (!*v[O_EXPORT_SYNTH]) return usage_error("--export-synth: missing output folder%s%s", "", "");
    if (dataset_synth_params(spec, &classes, &ntrain, &ntest, &err) != GC_OK)
        return usage_error("--data: %s%s", err.msg, "");
    if (v[O_SIZE] && cli_int("--size", v[O_SIZE], 1, DATASET_MAX_SIZE, &size, &err) != GC_OK)
        return usage_error("%s%s", err.msg, "");
    if (v[O_DATA_SEED] && cli_u64("--data-seed", v[O_DATA_SEED], &data_seed, &err) != GC_OK)
        return usage_error("%s%s", err.msg, "");
    if (v[O_CLASSES] &&
        cli_int("--classes", v[O_CLASSES], SYNTH_MIN_CLASSES, SYNTH_MAX_CLASSES, &classes, &err) != GC_OK)
        return usage_error("%s%s", err.msg, "");
    if (v[O_COUNT] || v[O_CLASSES]) {
        /* recompute the test count with the split rule of a synth:K:N spec */
        char buf[NUM_BUF * 2];
        count = ntrain;
        if (v[O_COUNT] && cli_u64("--count", v[O_COUNT], &count, &err) != GC_OK)
            return usage_error("%s%s", err.msg, "");
        snprintf(buf, sizeof buf, "synth:%d:%llu", classes, (unsigned long long)count);
        if (dataset_synth_params(buf, &classes, &ntrain, &ntest, &err) != GC_OK)
            return usage_error("--count: %s%s", err.msg, "");
    }
    if (ntrain > (size_t)INT32_MAX || ntest > (size_t)INT32_MAX)
        return usage_error("--count: too many images%s%s", "", "");
    if (synth_export(v[O_EXPORT_SYNTH], size, classes, (int)ntrain, (int)ntest, data_seed, &err) !=
        GC_OK) {
        fprintf(stderr, PROG ": --export-synth: %s\n", err.msg);
        return EXIT_FAILURE;
    }
    if (!v[O_QUIET])
        fprintf(stderr, PROG ": wrote %zu train and %zu test images (%d classes, %dx%d, data seed %llu) "
                "to %s\n", ntrain, ntest, classes, size, size, (unsigned long long)data_seed,
                v[O_EXPORT_SYNTH]);
    return EXIT_SUCCESS;
}

static int mode_dump(int argc, char **argv)
{
    dump_opts o;
    gc_error err;
    int i;
    dump_opts_default(&o);
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0) {
            fputs(USAGE_HEAD, stdout);
            fputs(USAGE_DUMP, stdout);
            return EXIT_SUCCESS;
        }
    }
    for (i = 1; i < argc; i += 2) {
        const char *a = argv[i];
        int rc;
        if (strncmp(a, "--", 2) != 0) return usage_error("unexpected argument '%s'%s", a, "");
        if (i + 1 >= argc) return usage_error("%s needs a value%s", a, "");
        rc = dump_opts_set(&o, a, argv[i + 1], &err);
        if (rc == DUMP_FLAG_UNKNOWN)
            return usage_error("'%s' is not a --dump-step flag%s", a, "");
        if (rc != GC_OK) return usage_error("%s%s", err.msg, "");
    }
    if (dump_opts_check(&o, &err) != GC_OK) return usage_error("%s%s", err.msg, "");
    if (dump_step(&o, &err) != GC_OK) {
        fprintf(stderr, PROG ": --dump-step: %s\n", err.msg);
        return EXIT_FAILURE;
    }
    return EXIT_SUCCESS;
}

int main(int argc, char **argv)
{
    raw_args ra;
    int i, rc;
    for (i = 1; i < argc; i++)
        if (strcmp(argv[i], "--dump-step") == 0) return mode_dump(argc, argv);
    rc = parse_raw(argc, argv, &ra);
    if (rc) return rc;
    if (ra.vals[O_HELP]) {
        print_help();
        return EXIT_SUCCESS;
    }
    if (ra.vals[O_EXPORT_SYNTH]) return mode_export(&ra);
    for (i = 0; i < O_N; i++)
        if (ra.vals[i] && OPTS[i].modes == MODE_EXPORT)
            return usage_error("%s applies only to --export-synth%s", OPTS[i].name, "");
    return mode_train(&ra);
}
