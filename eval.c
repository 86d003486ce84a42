/*
 * eval.c - the evaluation program (DESIGN.md sections 1 and 5).
 *
 * Two modes:
 *
 *   eval --model CKPT [--model CKPT ...] [options]
 *       For each checkpoint (written by train, or any model file carrying the
 *       same metadata): rebuild the model from its metadata, run one
 *       eval-mode pass over a data split (cam/evaluate.h) and report mean
 *       cross-entropy, accuracy, Cohen's kappa, the confusion matrix and the
 *       consistency metric L_CAM (DESIGN.md section 1, "Consistency metric")
 *       for every requested variant - distance l2sq (paper eq. 4, default)
 *       and l2 (public code), natively and with --cam-grid N on an N x N grid
 *       ("Known differences": no variant is resolution-free, so every number
 *       says which variant produced it) - each with a stratified bootstrap
 *       95% interval (metric/consistency.h). Writes eval.json, per-model PNGs
 *       (representative maps mean_c; a gallery of overlays) and report.html.
 *       Several --model are put side by side (the lambda = 0 vs lambda > 0
 *       comparison of DESIGN.md section 5, experiment 2).
 *
 *   eval --correlate RUN.csv ... [options]
 *       From training logs (one row per epoch): Pearson and Spearman
 *       correlation of kappa and of accuracy with L_CAM over epochs per model
 *       (paper Table 2, shown next to ours), the kappa-vs-L_CAM scatter plot
 *       with least-squares lines (paper Figures 1-2) and learning curves
 *       (DESIGN.md section 5, experiments 1 and 2).
 *
 * Every output file is written atomically (temp file + rename), and only
 * after every input was read and every number computed, so a failed run
 * leaves no new eval.json / report.html behind. Exit status: 0 success,
 * 1 runtime error (a file missing or invalid), 2 bad command line.
 *
 * Deliberately not here: training (train.c), the metric itself
 * (metric/consistency.c), drawing (io/overlay.c, io/svg.c, io/report.c).
 * Output formats are described in docs/EVAL.md.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "cam/evaluate.h"
#include "cam/step.h"
#include "io/checkpoint.h"
#include "io/cli.h"
#include "io/csv.h"
#include "io/dataset.h"
#include "io/json.h"
#include "io/overlay.h"
#include "io/report.h"
#include "io/safetensors.h"
#include "io/svg.h"
#include "io/textbuf.h"
#include "metric/classify.h"
#include "metric/consistency.h"
#include "metric/stats.h"
#include "nn/model.h"

#define EXIT_RUNTIME 1
#define EXIT_USAGE 2

#define EVAL_MAX_MODELS 16
#define EVAL_MAX_CSV 256
#define EVAL_MAX_VARIANTS 4
#define EVAL_DEFAULT_BATCH 32
#define EVAL_MAX_BATCH 4096
#define EVAL_DEFAULT_GALLERY 16
#define EVAL_MAX_GALLERY 1024
#define EVAL_TILE_PX 96          /* aim for gallery tiles about this many pixels wide */
#define EVAL_MAP_TILE_PX 128     /* and for representative-map tiles */
#define EVAL_MAPS_COLS 10        /* class maps per row when there are more classes */
#define EVAL_GALLERY_COLS 8      /* gallery tiles per row */
#define EVAL_PATH_MAX 4096
#define EVAL_NUM_CHARS 40
#define EVAL_SHOW_DIGITS 4       /* significant digits in tables */
#define JW_MAX_DEPTH 32

#define PARSE_HELP 1

/* Paper Table 2: Pearson r of kappa with L_CAM over epochs, Levels 1..5
 * (DESIGN.md section 5, experiment 1). */
static const double PAPER_T2_MRI[MODEL_LEVELS] = {0.735, -0.626, -0.450, -0.667, -0.631};
static const double PAPER_T2_CXR[MODEL_LEVELS] = {-0.559, -0.590, -0.096, 0.006, -0.325};

/* ------------------------------------------------------------------------ */
/* small utilities                                                          */

static char *xstrdup(const char *s)
{
    size_t n = strlen(s);
    char *p = (char *)gc_calloc(n + 1, 1);
    memcpy(p, s, n + 1);
    return p;
}

/* A malloc'd printf. */
static char *sfmt(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
static char *sfmt(const char *fmt, ...)
{
    va_list ap;
    int n;
    char *p;
    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    p = (char *)gc_calloc((size_t)n + 1, 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

/* Shortest "%.Ng" (N = 15..17) that reads back as exactly v. */
static void fmt_exact(char *buf, double v)
{
    int p;
    for (p = 15; p <= 17; p++) {
        snprintf(buf, EVAL_NUM_CHARS, "%.*g", p, v);
        if (strtod(buf, NULL) == v) return;
    }
}

/* For tables: EVAL_SHOW_DIGITS significant digits, "NaN" for non-finite. */
static void fmt_show(char *buf, double v)
{
    if (isfinite(v))
        snprintf(buf, EVAL_NUM_CHARS, "%.*g", EVAL_SHOW_DIGITS, v);
    else
        snprintf(buf, EVAL_NUM_CHARS, "NaN");
}

/* "v [lo, hi]" or "v" or "NaN". */
static char *fmt_ci(double v, double lo, double hi, int has_ci)
{
    char a[EVAL_NUM_CHARS], b[EVAL_NUM_CHARS], c[EVAL_NUM_CHARS];
    fmt_show(a, v);
    if (!has_ci || !isfinite(v)) return xstrdup(a);
    fmt_show(b, lo);
    fmt_show(c, hi);
    return sfmt("%s [%s, %s]", a, b, c);
}

/* Directory part of path ("." when there is none). */
static void path_dir(const char *path, char *out, size_t cap)
{
    const char *slash = strrchr(path, '/');
    size_t n;
    if (!slash) {
        snprintf(out, cap, ".");
        return;
    }
    n = (size_t)(slash - path);
    if (n == 0) n = 1; /* "/x" -> "/" */
    if (n >= cap) n = cap - 1;
    memcpy(out, path, n);
    out[n] = '\0';
}

static int path_join(char *out, size_t cap, const char *dir, const char *name, gc_error *err)
{
    int n = snprintf(out, cap, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= cap) return gc_fail(err, "%s/%s: path too long", dir, name);
    return GC_OK;
}

/* mkdir -p */
static int make_dirs(const char *dir, gc_error *err)
{
    char buf[EVAL_PATH_MAX];
    size_t i, n = strlen(dir);
    struct stat sb;
    if (n == 0 || n >= sizeof buf) return gc_fail(err, "--out: bad directory name '%s'", dir);
    memcpy(buf, dir, n + 1);
    for (i = 1; i <= n; i++) {
        if (buf[i] == '/' || buf[i] == '\0') {
            char saved = buf[i];
            buf[i] = '\0';
            if (mkdir(buf, 0777) != 0 && errno != EEXIST)
                return gc_fail(err, "%s: cannot create directory: %s", buf, strerror(errno));
            buf[i] = saved;
        }
    }
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return gc_fail(err, "%s: not a directory", dir);
    return GC_OK;
}

/* A string made valid UTF-8 for JSON (bad bytes become '?'); malloc'd. */
static char *utf8_clean(const char *s)
{
    char *p = xstrdup(s);
    size_t i, n = strlen(p);
    if (json_utf8_valid(p, n)) return p;
    for (i = 0; i < n; i++)
        if ((unsigned char)p[i] >= 0x80) p[i] = '?';
    return p;
}

/* ------------------------------------------------------------------------ */
/* JSON writer: pretty-printed, numbers exact (shortest round trip), NaN   */
/* and infinities written as null with a sibling "<key>_reason".            */

typedef struct jw {
    textbuf tb;
    int depth;
    int count[JW_MAX_DEPTH];
} jw;

static void jw_init(jw *j)
{
    textbuf_init(&j->tb);
    j->depth = 0;
}

static void jw_string_lit(jw *j, const char *s)
{
    char *c = utf8_clean(s ? s : "");
    json_append_string(&j->tb, c);
    free(c);
}

/* Separator, newline, indentation and key of the next item. */
static void jw_item(jw *j, const char *key)
{
    int i;
    if (j->depth > 0) {
        if (j->count[j->depth - 1]++) textbuf_append(&j->tb, ",");
        textbuf_append(&j->tb, "\n");
        for (i = 0; i < j->depth; i++) textbuf_append(&j->tb, "  ");
    }
    if (key) {
        jw_string_lit(j, key);
        textbuf_append(&j->tb, ": ");
    }
}

static void jw_open(jw *j, const char *key, const char *bracket)
{
    GC_CHECK(j->depth < JW_MAX_DEPTH);
    jw_item(j, key);
    textbuf_append(&j->tb, bracket);
    j->count[j->depth++] = 0;
}

static void jw_close(jw *j, const char *bracket)
{
    int i;
    GC_CHECK(j->depth > 0);
    if (j->count[--j->depth]) {
        textbuf_append(&j->tb, "\n");
        for (i = 0; i < j->depth; i++) textbuf_append(&j->tb, "  ");
    }
    textbuf_append(&j->tb, bracket);
    if (j->depth == 0) textbuf_append(&j->tb, "\n");
}

static void jw_str(jw *j, const char *key, const char *s)
{
    jw_item(j, key);
    if (s)
        jw_string_lit(j, s);
    else
        textbuf_append(&j->tb, "null");
}

static void jw_int(jw *j, const char *key, long long v)
{
    jw_item(j, key);
    textbuf_printf(&j->tb, "%lld", v);
}

static void jw_u64(jw *j, const char *key, uint64_t v)
{
    jw_item(j, key);
    textbuf_printf(&j->tb, "%llu", (unsigned long long)v);
}

static void jw_null(jw *j, const char *key, const char *reason)
{
    char rk[128];
    jw_item(j, key);
    textbuf_append(&j->tb, "null");
    if (key && reason) {
        snprintf(rk, sizeof rk, "%s_reason", key);
        jw_str(j, rk, reason);
    }
}

/* A number; when not finite: null, and (inside an object) "<key>_reason". */
static void jw_num(jw *j, const char *key, double v, const char *reason)
{
    char buf[EVAL_NUM_CHARS];
    if (!isfinite(v)) {
        jw_null(j, key, reason && *reason ? reason : (isnan(v) ? "not a number" : "infinite"));
        return;
    }
    fmt_exact(buf, v);
    jw_item(j, key);
    textbuf_append(&j->tb, buf);
}

/* ------------------------------------------------------------------------ */
/* command line                                                             */

typedef struct eval_args {
    int correlate;
    const char *models[EVAL_MAX_MODELS];
    int n_models;
    const char *csvs[EVAL_MAX_CSV];
    int n_csvs;
    const char *data;           /* NULL: each checkpoint's "data" metadata */
    const char *split;
    size_t limit;               /* 0: all */
    int batch;
    int use_l2sq, use_l2;
    int grid;                   /* 0: off */
    int bootstrap;              /* resamples, 0: off */
    uint64_t seed;              /* bootstrap seed */
    int has_data_seed;
    uint64_t data_seed;
    int has_batch;
    int gallery;
    const char *out;
    int json;
    int target;                 /* -1: from the checkpoint */
    const char *variant;        /* correlate: L_CAM column, NULL: default */
    /* which flags were given (to refuse those of the other mode) */
    const char *eval_flag, *corr_flag;
} eval_args;

static void print_help(FILE *f)
{
    fprintf(f,
"usage: eval --model CKPT [--model CKPT ...] [options]    evaluate checkpoints\n"
"       eval --correlate RUN.csv [RUN.csv ...] [options]  correlate training logs\n"
"       eval --help\n"
"\n"
"Evaluation (DESIGN.md sections 1 and 5). For each checkpoint: one eval-mode pass\n"
"over a data split; mean cross-entropy, accuracy, Cohen's kappa, confusion matrix,\n"
"and the Grad-CAM consistency L_CAM (mean distance of each correctly classified\n"
"sample's CAM to its class's mean CAM; lower = more consistent gaze) for every\n"
"variant requested, each with a stratified bootstrap 95%% interval. Writes\n"
"eval.json, report.html and PNG pictures to --out; several --model are compared\n"
"side by side. The last line on stdout is 'report: <path>'.\n"
"\n"
"  --model FILE       checkpoint or model file written by train (safetensors with\n"
"                     metadata level, in_c, size, classes, ...); repeat (up to %d)\n"
"                     to compare models\n"
"  --data SPEC        data source: synth, synth:K, synth:K:N, a DIR with train/ and\n"
"                     test/, a DIR of IDX files, idx:IMAGES,LABELS; '@N' keeps a\n"
"                     subset (default: the data train evaluated on, from the\n"
"                     checkpoint's metadata test_data / data, with its subset\n"
"                     limit_test / limit_train: eval then reproduces train's\n"
"                     per-epoch numbers)\n"
"  --split S          test or train (default test)\n"
"  --limit N          keep a class-stratified subset of at most N images of the\n"
"                     split (default: train's subset without --data, else all)\n"
"  --data-seed S      data seed (synth streams, @N and --limit subsets) (default:\n"
"                     the checkpoint's 'data_seed' metadata, else 0)\n"
"  --batch N          batch size of the pass (default: the checkpoint's 'batch'\n"
"                     metadata, else %d)\n"
"  --target T         CAM layer, a features index (default: the checkpoint's\n"
"                     'target' metadata, else the paper's target for the level)\n"
"  --distance D       l2sq (paper: squared L2 / (h w)), l2 (public code: L2 / (h w))\n"
"                     or both (default both)\n"
"  --cam-grid N       also compare maps resampled to N x N (variants l2sq@gridN,\n"
"                     l2@gridN) (default: off; 1..%d)\n"
"  --bootstrap B      bootstrap resamples for the interval (default %d; 0 = off)\n"
"  --seed S           bootstrap seed (default 0)\n"
"  --gallery N        overlays of the first N samples in the gallery (default %d;\n"
"                     0 = none)\n"
"  --out DIR          output directory (default: DIR-OF-CHECKPOINT/eval, or\n"
"                     DIR-OF-FIRST-CHECKPOINT/compare with several --model)\n"
"  --json             print eval.json to stdout and nothing else (messages and\n"
"                     the 'report:' line go to stderr)\n"
"\n"
"Correlation (paper Table 2 and Figures 1-2):\n"
"  --correlate        the other arguments are training logs (CSV: columns epoch,\n"
"                     accuracy, kappa and the L_CAM column; optional level,\n"
"                     lambda_max, seed group the rows into models and runs,\n"
"                     else each file is one model)\n"
"  --variant COL      the L_CAM column (default l_cam_l2sq; if a log lacks it, the\n"
"                     first l_cam_* column every log has)\n"
"  --out DIR          output directory (default: DIR-OF-FIRST-LOG/correlate)\n"
"  --json             print correlate.json to stdout and nothing else\n"
"\n"
"Exit status: 0 success, 1 runtime error (file missing or invalid), 2 bad\n"
"command line.\n",
            EVAL_MAX_MODELS, EVAL_DEFAULT_BATCH, CONS_GRID_MAX, CONS_BOOT_DEFAULT_RESAMPLES,
            EVAL_DEFAULT_GALLERY);
}

/* The value of flag argv[*i] ("--flag VALUE" or "--flag=VALUE"). */
static int flag_value(int argc, char **argv, int *i, const char *inline_value, const char **out,
                      gc_error *err)
{
    if (inline_value) {
        *out = inline_value;
        return GC_OK;
    }
    if (*i + 1 >= argc) return gc_fail(err, "%s: missing value", argv[*i]);
    *out = argv[++*i];
    return GC_OK;
}

static int parse_args(int argc, char **argv, eval_args *a, gc_error *err)
{
    int i;
    memset(a, 0, sizeof *a);
    a->split = "test";
    a->batch = EVAL_DEFAULT_BATCH;
    a->use_l2sq = a->use_l2 = 1;
    a->bootstrap = CONS_BOOT_DEFAULT_RESAMPLES;
    a->gallery = EVAL_DEFAULT_GALLERY;
    a->target = -1;
    for (i = 1; i < argc; i++) {
        char name[64];
        const char *arg = argv[i], *eq, *iv = NULL, *v = NULL;
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) return PARSE_HELP;
        if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0') {
            if (arg[0] == '-' && arg[1] != '\0')
                return gc_fail(err, "unknown flag '%s'", arg);
            if (a->n_csvs == EVAL_MAX_CSV)
                return gc_fail(err, "too many log files (at most %d)", EVAL_MAX_CSV);
            a->csvs[a->n_csvs++] = arg;
            continue;
        }
        eq = strchr(arg, '=');
        if (eq) {
            size_t n = (size_t)(eq - arg);
            if (n >= sizeof name) return gc_fail(err, "unknown flag '%s'", arg);
            memcpy(name, arg, n);
            name[n] = '\0';
            iv = eq + 1;
        } else {
            snprintf(name, sizeof name, "%s", arg);
            if (strlen(arg) >= sizeof name) return gc_fail(err, "unknown flag '%s'", arg);
        }
#define VALUE() \
    do { if (flag_value(argc, argv, &i, iv, &v, err) != GC_OK) return GC_FAIL; } while (0)
#define NO_VALUE() \
    do { if (iv) return gc_fail(err, "%s takes no value", name); } while (0)
        if (strcmp(name, "--correlate") == 0) {
            NO_VALUE();
            a->correlate = 1;
            a->corr_flag = "--correlate";
        } else if (strcmp(name, "--json") == 0) {
            NO_VALUE();
            a->json = 1;
        } else if (strcmp(name, "--out") == 0) {
            VALUE();
            if (!*v) return gc_fail(err, "--out: missing value");
            a->out = v;
        } else if (strcmp(name, "--variant") == 0) {
            VALUE();
            if (!*v) return gc_fail(err, "--variant: missing value");
            a->variant = v;
            a->corr_flag = "--variant";
        } else if (strcmp(name, "--model") == 0) {
            VALUE();
            if (!*v) return gc_fail(err, "--model: missing value");
            if (a->n_models == EVAL_MAX_MODELS)
                return gc_fail(err, "--model: at most %d models", EVAL_MAX_MODELS);
            a->models[a->n_models++] = v;
            a->eval_flag = "--model";
        } else if (strcmp(name, "--data") == 0) {
            VALUE();
            if (!*v) return gc_fail(err, "--data: missing value");
            a->data = v;
            a->eval_flag = "--data";
        } else if (strcmp(name, "--split") == 0) {
            VALUE();
            if (strcmp(v, "test") != 0 && strcmp(v, "train") != 0)
                return gc_fail(err, "--split: '%s' is not test or train", v);
            a->split = v;
            a->eval_flag = "--split";
        } else if (strcmp(name, "--limit") == 0) {
            int n;
            VALUE();
            if (cli_int("--limit", v, 1, 2147483647L, &n, err) != GC_OK) return GC_FAIL;
            a->limit = (size_t)n;
            a->eval_flag = "--limit";
        } else if (strcmp(name, "--batch") == 0) {
            VALUE();
            if (cli_int("--batch", v, 1, EVAL_MAX_BATCH, &a->batch, err) != GC_OK)
                return GC_FAIL;
            a->has_batch = 1;
            a->eval_flag = "--batch";
        } else if (strcmp(name, "--target") == 0) {
            VALUE();
            if (cli_int("--target", v, 0, MODEL_MAX_BLOCKS - 1, &a->target, err) != GC_OK)
                return GC_FAIL;
            a->eval_flag = "--target";
        } else if (strcmp(name, "--distance") == 0) {
            VALUE();
            if (strcmp(v, "both") == 0) {
                a->use_l2sq = a->use_l2 = 1;
            } else if (strcmp(v, "l2sq") == 0) {
                a->use_l2sq = 1;
                a->use_l2 = 0;
            } else if (strcmp(v, "l2") == 0) {
                a->use_l2sq = 0;
                a->use_l2 = 1;
            } else {
                return gc_fail(err, "--distance: '%s' is not l2sq, l2 or both", v);
            }
            a->eval_flag = "--distance";
        } else if (strcmp(name, "--cam-grid") == 0) {
            VALUE();
            if (cli_int("--cam-grid", v, 1, CONS_GRID_MAX, &a->grid, err) != GC_OK)
                return GC_FAIL;
            a->eval_flag = "--cam-grid";
        } else if (strcmp(name, "--bootstrap") == 0) {
            VALUE();
            if (cli_int("--bootstrap", v, 0, CONS_BOOT_MAX_RESAMPLES, &a->bootstrap, err) !=
                GC_OK)
                return GC_FAIL;
            a->eval_flag = "--bootstrap";
        } else if (strcmp(name, "--seed") == 0) {
            VALUE();
            if (cli_u64("--seed", v, &a->seed, err) != GC_OK) return GC_FAIL;
            a->eval_flag = "--seed";
        } else if (strcmp(name, "--data-seed") == 0) {
            VALUE();
            if (cli_u64("--data-seed", v, &a->data_seed, err) != GC_OK) return GC_FAIL;
            a->has_data_seed = 1;
            a->eval_flag = "--data-seed";
        } else if (strcmp(name, "--gallery") == 0) {
            VALUE();
            if (cli_int("--gallery", v, 0, EVAL_MAX_GALLERY, &a->gallery, err) != GC_OK)
                return GC_FAIL;
            a->eval_flag = "--gallery";
        } else {
            return gc_fail(err, "unknown flag '%s'", name);
        }
#undef VALUE
#undef NO_VALUE
    }
    if (a->correlate) {
        if (a->eval_flag)
            return gc_fail(err, "%s does not apply to --correlate", a->eval_flag);
        if (a->n_csvs == 0) return gc_fail(err, "--correlate: no log file given");
    } else {
        if (a->corr_flag) return gc_fail(err, "%s needs --correlate", a->corr_flag);
        if (a->n_csvs > 0)
            return gc_fail(err, "unexpected argument '%s' (checkpoints are given with --model; "
                                "logs need --correlate)", a->csvs[0]);
        if (a->n_models == 0) return gc_fail(err, "no --model given");
    }
    return GC_OK;
}

/* ------------------------------------------------------------------------ */
/* evaluation mode                                                          */

typedef struct ckpt_info {
    const char *path;
    st_file *f;                 /* open until the end: metadata strings live in it */
    int level, in_c, size, classes, target;
    int has_epoch;
    int64_t epoch;
    int has_lambda;
    double lambda_max;
    const char *lambda_text;    /* metadata text of lambda_max, or NULL */
    const char *class_names;    /* comma-joined, or NULL */
    const char *data;           /* training data spec, or NULL */
    const char *test_data;      /* data of train's per-epoch evaluation, or NULL */
    const char *real;           /* train's build ("float" / "double"), or NULL */
    int has_data_seed;
    uint64_t data_seed;
    uint64_t limit_train, limit_test;   /* train's subsets, 0: all */
    int batch;                  /* train's batch size, 0: unknown */
} ckpt_info;

typedef struct model_eval {
    ckpt_info info;
    const char *data_spec;
    uint64_t data_seed;
    size_t limit;                /* 0: the whole split */
    int batch;
    char data_desc[DATASET_DESC_MAX];
    size_t count, classes, n_params;
    char **class_names;          /* (classes) the data set's */
    double ce, accuracy, kappa;
    uint64_t *cm;                /* (classes, classes) rows = true class */
    size_t n_correct;
    int cam_c, cam_h, cam_w;
    char cam_layer[32], cam_desc[48];
    size_t n_var;
    consistency_result res[EVAL_MAX_VARIANTS];
    consistency_ci ci[EVAL_MAX_VARIANTS];
    overlay_image maps_img, gallery_img;
    size_t n_gallery, gallery_correct;
    char maps_file[64], gallery_file[64];
} model_eval;

static void model_eval_free(model_eval *me)
{
    size_t i;
    for (i = 0; i < me->n_var; i++) consistency_result_free(&me->res[i]);
    if (me->class_names) {
        for (i = 0; i < me->classes; i++) free(me->class_names[i]);
        free(me->class_names);
    }
    free(me->cm);
    overlay_image_free(&me->maps_img);
    overlay_image_free(&me->gallery_img);
    st_close(me->info.f);
    memset(me, 0, sizeof *me);
}

static int meta_int_range(const st_file *f, const char *key, long lo, long hi, int *out,
                          gc_error *err)
{
    int64_t v;
    if (ckpt_meta_int(f, key, &v, err) != GC_OK) return GC_FAIL;
    if (v < lo || v > hi)
        return gc_fail(err, "%s: metadata '%s' = %lld is out of range [%ld, %ld]", st_path(f),
                       key, (long long)v, lo, hi);
    *out = (int)v;
    return GC_OK;
}

/* Open a checkpoint and read the metadata eval needs. */
static int ckpt_info_read(ckpt_info *ci, const char *path, const eval_args *a, gc_error *err)
{
    st_file *f;
    memset(ci, 0, sizeof *ci);
    ci->path = path;
    f = st_open(path, err);
    if (!f) return GC_FAIL;
    ci->f = f;
    if (!st_meta(f, "level"))
        return gc_fail(err, "%s: not a model checkpoint (no 'level' metadata; eval reads the "
                            "files train writes)", path);
    if (meta_int_range(f, "level", 1, MODEL_LEVELS, &ci->level, err) != GC_OK ||
        meta_int_range(f, "in_c", 1, 1024, &ci->in_c, err) != GC_OK ||
        meta_int_range(f, "size", 1, DATASET_MAX_SIZE, &ci->size, err) != GC_OK ||
        meta_int_range(f, "classes", 2, DATASET_MAX_CLASSES, &ci->classes, err) != GC_OK)
        return GC_FAIL;
    if (a->target >= 0)
        ci->target = a->target;
    else if (st_meta(f, "target")) {
        if (meta_int_range(f, "target", 0, MODEL_MAX_BLOCKS - 1, &ci->target, err) != GC_OK)
            return GC_FAIL;
    } else {
        ci->target = model_default_target(ci->level);
    }
    if (st_meta(f, "epoch")) {
        if (ckpt_meta_int(f, "epoch", &ci->epoch, err) != GC_OK) return GC_FAIL;
        ci->has_epoch = 1;
    }
    if (st_meta(f, "lambda_max")) {
        if (ckpt_meta_double(f, "lambda_max", &ci->lambda_max, err) != GC_OK) return GC_FAIL;
        ci->has_lambda = 1;
        ci->lambda_text = st_meta(f, "lambda_max");
    }
    if (st_meta(f, "data_seed")) {
        gc_error e2;
        if (cli_u64("data_seed", st_meta(f, "data_seed"), &ci->data_seed, &e2) != GC_OK)
            return gc_fail(err, "%s: metadata %s", path, e2.msg);
        ci->has_data_seed = 1;
    }
    if (st_meta(f, "limit_train") &&
        cli_u64("limit_train", st_meta(f, "limit_train"), &ci->limit_train, err) != GC_OK)
        return gc_fail(err, "%s: bad metadata 'limit_train'", path);
    if (st_meta(f, "limit_test") &&
        cli_u64("limit_test", st_meta(f, "limit_test"), &ci->limit_test, err) != GC_OK)
        return gc_fail(err, "%s: bad metadata 'limit_test'", path);
    if (st_meta(f, "batch") &&
        meta_int_range(f, "batch", 1, EVAL_MAX_BATCH, &ci->batch, err) != GC_OK)
        return GC_FAIL;
    ci->class_names = st_meta(f, "class_names");
    ci->data = st_meta(f, "data");
    ci->test_data = st_meta(f, "test_data");
    ci->real = st_meta(f, "real");
    if (ci->data && !*ci->data) ci->data = NULL;
    if (ci->test_data && !*ci->test_data) ci->test_data = NULL;
    if (!a->data && !ci->data && !ci->test_data)
        return gc_fail(err, "%s: no 'data' metadata; give --data", path);
    return GC_OK;
}

/* The checkpoint's class names (comma-joined) against the data set's. */
static int check_class_names(const ckpt_info *ci, const dataset *ds, const char *spec,
                             gc_error *err)
{
    const char *p = ci->class_names;
    int c;
    if (ds->classes != ci->classes)
        return gc_fail(err, "%s: the model has %d classes but data '%s' has %d", ci->path,
                       ci->classes, spec, ds->classes);
    if (!p) return GC_OK;
    for (c = 0; c < ds->classes; c++) {
        size_t n = strlen(ds->class_names[c]);
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len != n || memcmp(p, ds->class_names[c], n) != 0)
            return gc_fail(err, "%s: class %d is '%.*s' in the checkpoint but '%s' in data '%s'",
                           ci->path, c, (int)len, p, ds->class_names[c], spec);
        if (!end) {
            if (c != ds->classes - 1) break;
            return GC_OK;
        }
        p = end + 1;
    }
    return gc_fail(err, "%s: class_names metadata '%s' does not list the data set's %d classes",
                   ci->path, ci->class_names, ds->classes);
}

/* Integer enlargement that makes a side of n pixels about px pixels. */
static size_t tile_scale(size_t n, size_t px)
{
    size_t s = n ? (px + n - 1) / n : 1;
    return s < 1 ? 1 : s;
}

/* Gallery: the first me->n_gallery samples with the CAM of the predicted
 * class, green border when correct. */
static int render_gallery(model_eval *me, train_step *st, dataset *ds, const int *pred,
                          int batch, gc_error *err)
{
    model *m = st->m;
    size_t n = me->n_gallery, hw = (size_t)ds->size * ds->size;
    size_t z = (size_t)m->cam_h * m->cam_w, start, i;
    real *images, *cams;
    int *labels;
    overlay_samples s;
    overlay_opts o = overlay_opts_default();
    int rc;
    if (n == 0) return GC_OK;
    images = (real *)gc_calloc(n * hw, sizeof(real));
    cams = (real *)gc_calloc(n * z, sizeof(real));
    labels = (int *)gc_calloc(n, sizeof(int));
    model_set_train(m, 0);
    for (start = 0; start < n; start += (size_t)batch) {
        size_t nb = n - start < (size_t)batch ? n - start : (size_t)batch;
        for (i = 0; i < nb; i++) dataset_get(ds, start + i, 0, NULL, images + (start + i) * hw);
        step_gradcam(st, images + start * hw, pred + start, (int)nb, cams + start * z);
    }
    for (i = 0; i < n; i++) {
        labels[i] = ds->labels[i];
        if (labels[i] == pred[i]) me->gallery_correct++;
    }
    s.images = images;
    s.cams = cams;
    s.labels = labels;
    s.preds = pred;
    s.n = n;
    s.h = s.w = (size_t)ds->size;
    s.cam_h = (size_t)m->cam_h;
    s.cam_w = (size_t)m->cam_w;
    o.range = OVERLAY_RANGE_SYMMETRIC;
    o.scale = tile_scale((size_t)ds->size, EVAL_TILE_PX);
    rc = overlay_gallery(&me->gallery_img, &s, n < EVAL_GALLERY_COLS ? n : EVAL_GALLERY_COLS, &o,
                         err);
    free(images);
    free(cams);
    free(labels);
    return rc;
}

/* Representative maps mean_c (native resolution, first variant). */
static int render_class_maps(model_eval *me, gc_error *err)
{
    const consistency_result *r = &me->res[0];
    size_t k, n = r->classes * r->h * r->w;
    real *maps = (real *)gc_calloc(n, sizeof(real));
    overlay_opts o = overlay_opts_default();
    int rc;
    for (k = 0; k < n; k++) maps[k] = (real)r->class_mean[k];
    o.scale = tile_scale(r->h > r->w ? r->h : r->w, EVAL_MAP_TILE_PX);
    rc = overlay_class_maps(&me->maps_img, maps, r->classes, r->h, r->w,
                            r->classes > EVAL_MAPS_COLS ? EVAL_MAPS_COLS : 0, &o, err);
    free(maps);
    return rc;
}

/* Everything about one model; me->info is already read. */
static int evaluate_model(model_eval *me, const eval_args *a, const consistency_variant *vars,
                          size_t n_var, gc_error *err)
{
    ckpt_info *ci = &me->info;
    static const char *const extra[] = {CKPT_TRAIN_PREFIX, NULL};
    ckpt_load_opts lo;
    model m;
    train_step st;
    eval_pass ev;
    dataset ds;
    consistency_boot_opts bo;
    int rc = GC_FAIL, have_model = 0, have_ds = 0, have_st = 0, have_ev = 0;
    size_t c, v;
    memset(&st, 0, sizeof st);
    memset(&ev, 0, sizeof ev);
    memset(&ds, 0, sizeof ds);
    /* Without --data, reproduce train's evaluation: its data, subset, seed, batch. */
    if (a->data) {
        me->data_spec = a->data;
        me->limit = a->limit;
    } else if (strcmp(a->split, "test") == 0) {
        me->data_spec = ci->test_data ? ci->test_data : ci->data;
        me->limit = a->limit ? a->limit : (size_t)ci->limit_test;
    } else {
        me->data_spec = ci->data ? ci->data : ci->test_data;
        me->limit = a->limit ? a->limit : (size_t)ci->limit_train;
    }
    me->data_seed = a->has_data_seed ? a->data_seed : ci->has_data_seed ? ci->data_seed : 0;
    me->batch = a->has_batch ? a->batch : ci->batch ? ci->batch : EVAL_DEFAULT_BATCH;
    if (model_build(&m, ci->level, ci->in_c, ci->size, ci->size, ci->classes, me->batch, 0, err) !=
        GC_OK) {
        gc_error e2 = *err;
        return gc_fail(err, "%s: cannot build the model: %s", ci->path, e2.msg);
    }
    have_model = 1;
    if (ci->target != m.target && model_set_target(&m, ci->target, err) != GC_OK) {
        gc_error e2 = *err;
        gc_fail(err, "%s: target %d: %s", ci->path, ci->target, e2.msg);
        goto done;
    }
    lo.target = m.target;
    lo.extra_prefixes = extra;
    if (ckpt_load_store(ci->f, &m.ps, &lo, err) != GC_OK) goto done;
    if (dataset_open(&ds, me->data_spec, a->split, ci->size, me->data_seed, err) != GC_OK)
        goto done;
    have_ds = 1;
    if (me->limit && dataset_limit(&ds, me->limit, me->data_seed, err) != GC_OK) goto done;
    if (ds.channels != ci->in_c) {
        gc_fail(err, "%s: the model takes %d channel(s) but data '%s' has %d", ci->path,
                ci->in_c, me->data_spec, ds.channels);
        goto done;
    }
    if (check_class_names(ci, &ds, me->data_spec, err) != GC_OK) goto done;
    if (ds.count == 0) {
        gc_fail(err, "data '%s': the %s split is empty", me->data_spec, a->split);
        goto done;
    }
    snprintf(me->data_desc, sizeof me->data_desc, "%s", ds.description);
    me->count = ds.count;
    me->classes = (size_t)ds.classes;
    me->n_params = model_param_count(&m);
    me->class_names = (char **)gc_calloc(me->classes, sizeof(char *));
    for (c = 0; c < me->classes; c++) me->class_names[c] = xstrdup(ds.class_names[c]);
    me->cam_c = m.cam_c;
    me->cam_h = m.cam_h;
    me->cam_w = m.cam_w;
    snprintf(me->cam_layer, sizeof me->cam_layer, "%s", model_block_name(&m, m.target));
    snprintf(me->cam_desc, sizeof me->cam_desc, "%s", model_block_desc(&m, m.target));

    if (step_init(&st, &m, err) != GC_OK) goto done;
    have_st = 1;
    if (eval_pass_init(&ev, &m, ds.count, err) != GC_OK) goto done;
    have_ev = 1;
    if (eval_pass_run(&ev, &st, &ds, err) != GC_OK) goto done;
    me->ce = ev.ce;
    me->accuracy = confusion_accuracy(&ev.cm);
    me->kappa = confusion_kappa(&ev.cm);
    me->cm = (uint64_t *)gc_calloc(me->classes * me->classes, sizeof(uint64_t));
    memcpy(me->cm, ev.cm.m, me->classes * me->classes * sizeof(uint64_t));
    me->n_correct = ev.maps.n;

    consistency_boot_defaults(&bo);
    bo.resamples = (size_t)a->bootstrap;
    bo.seed = a->seed;
    for (v = 0; v < n_var; v++) {
        me->n_var = v + 1;
        if (consistency_finish(&ev.maps, vars[v], &me->res[v], err) != GC_OK) goto done;
        if (a->bootstrap > 0 &&
            consistency_bootstrap(&ev.maps, vars[v], &bo, &me->ci[v], NULL, err) != GC_OK)
            goto done;
    }
    if (render_class_maps(me, err) != GC_OK) goto done;
    me->n_gallery = (size_t)a->gallery < ds.count ? (size_t)a->gallery : ds.count;
    if (render_gallery(me, &st, &ds, ev.pred, me->batch, err) != GC_OK) goto done;
    rc = GC_OK;
done:
    if (have_ev) eval_pass_free(&ev);
    if (have_st) step_free(&st);
    if (have_ds) dataset_free(&ds);
    if (have_model) model_free(&m);
    return rc;
}

/* "model 1" etc. */
static void model_label(char *buf, size_t cap, int i) { snprintf(buf, cap, "model %d", i + 1); }

static const char *variant_note(const consistency_variant *v)
{
    if (v->grid)
        return v->distance == CONS_L2 ? "L2 / (N N) after resampling every map to N x N"
                                      : "squared L2 / (N N) after resampling every map to N x N";
    return v->distance == CONS_L2 ? "L2 / (h w) at the CAM's resolution (public PyTorch code)"
                                  : "squared L2 / (h w) at the CAM's resolution (paper eq. 4)";
}

static void json_model(jw *j, const model_eval *me, int idx, const eval_args *a)
{
    const ckpt_info *ci = &me->info;
    size_t c, t, v;
    int k, n_meta = st_meta_count(ci->f);
    char buf[128];
    jw_open(j, NULL, "{");
    jw_int(j, "index", idx + 1);
    jw_str(j, "checkpoint", ci->path);
    jw_open(j, "metadata", "{");
    for (k = 0; k < n_meta; k++) {
        const char *key, *val;
        st_meta_at(ci->f, k, &key, &val);
        jw_str(j, key, val);
    }
    jw_close(j, "}");
    jw_int(j, "level", ci->level);
    jw_int(j, "in_c", ci->in_c);
    jw_int(j, "size", ci->size);
    jw_int(j, "classes", ci->classes);
    jw_open(j, "class_names", "[");
    for (c = 0; c < me->classes; c++) jw_str(j, NULL, me->class_names[c]);
    jw_close(j, "]");
    if (ci->has_lambda)
        jw_num(j, "lambda_max", ci->lambda_max, NULL);
    else
        jw_null(j, "lambda_max", "no lambda_max metadata in the checkpoint");
    if (ci->has_epoch)
        jw_int(j, "epoch", (long long)ci->epoch);
    else
        jw_null(j, "epoch", "no epoch metadata in the checkpoint");
    jw_u64(j, "parameters", me->n_params);
    jw_open(j, "data", "{");
    jw_str(j, "spec", me->data_spec);
    jw_str(j, "split", a->split);
    jw_u64(j, "seed", me->data_seed);
    if (me->limit)
        jw_u64(j, "limit", me->limit);
    else
        jw_null(j, "limit", "no subset: the whole split");
    jw_str(j, "description", me->data_desc);
    jw_u64(j, "count", me->count);
    jw_int(j, "batch", me->batch);
    jw_close(j, "}");
    jw_open(j, "cam", "{");
    jw_int(j, "target", ci->target);
    jw_str(j, "layer", me->cam_layer);
    jw_str(j, "block", me->cam_desc);
    jw_int(j, "channels", me->cam_c);
    jw_int(j, "h", me->cam_h);
    jw_int(j, "w", me->cam_w);
    jw_close(j, "}");
    jw_num(j, "ce", me->ce, NULL);
    jw_num(j, "accuracy", me->accuracy, "no samples");
    jw_num(j, "kappa", me->kappa, "no samples");
    jw_u64(j, "correct", me->n_correct);
    jw_open(j, "confusion", "{");
    jw_str(j, "rows", "true class");
    jw_str(j, "columns", "predicted class");
    jw_open(j, "matrix", "[");
    for (t = 0; t < me->classes; t++) {
        jw_item(j, NULL);
        textbuf_append(&j->tb, "[");
        for (c = 0; c < me->classes; c++)
            textbuf_printf(&j->tb, "%s%llu", c ? ", " : "",
                           (unsigned long long)me->cm[t * me->classes + c]);
        textbuf_append(&j->tb, "]");
    }
    jw_close(j, "]");
    jw_close(j, "}");
    jw_open(j, "per_class", "[");
    for (c = 0; c < me->classes; c++) {
        uint64_t row = 0, col = 0, d = me->cm[c * me->classes + c];
        for (t = 0; t < me->classes; t++) {
            row += me->cm[c * me->classes + t];
            col += me->cm[t * me->classes + c];
        }
        jw_open(j, NULL, "{");
        jw_int(j, "class", (long long)c);
        jw_str(j, "name", me->class_names[c]);
        jw_u64(j, "count", row);
        jw_u64(j, "correct", d);
        jw_num(j, "recall", row ? (double)d / (double)row : NAN, "no samples of this class");
        jw_num(j, "precision", col ? (double)d / (double)col : NAN, "class never predicted");
        jw_close(j, "}");
    }
    jw_close(j, "]");
    jw_open(j, "l_cam", "{");
    for (v = 0; v < me->n_var; v++) {
        const consistency_result *r = &me->res[v];
        const consistency_ci *ic = &me->ci[v];
        jw_open(j, r->variant, "{");
        jw_str(j, "distance", consistency_distance_name(r->v.distance));
        jw_u64(j, "grid", r->v.grid);
        jw_u64(j, "h", r->h);
        jw_u64(j, "w", r->w);
        jw_num(j, "value", r->value, r->reason);
        jw_u64(j, "n_used", r->n_used);
        jw_u64(j, "classes_used", r->classes_used);
        if (a->bootstrap > 0 && isfinite(r->value)) {
            jw_open(j, "ci", "{");
            jw_num(j, "level", ic->level, NULL);
            jw_num(j, "lo", ic->lo, "bootstrap gave no interval");
            jw_num(j, "hi", ic->hi, "bootstrap gave no interval");
            jw_num(j, "se", ic->se, NULL);
            jw_num(j, "bias", ic->bias, NULL);
            jw_u64(j, "resamples", ic->resamples);
            jw_u64(j, "seed", ic->seed);
            jw_close(j, "}");
        } else {
            jw_null(j, "ci", a->bootstrap > 0 ? "L_CAM is not a number"
                                              : "bootstrap off (--bootstrap 0)");
        }
        jw_open(j, "per_class", "[");
        for (c = 0; c < r->classes; c++) {
            jw_open(j, NULL, "{");
            jw_int(j, "class", (long long)c);
            jw_u64(j, "count", r->class_count[c]);
            snprintf(buf, sizeof buf, "%zu correct sample(s), fewer than 2", r->class_count[c]);
            jw_num(j, "value", r->class_value[c], buf);
            jw_close(j, "}");
        }
        jw_close(j, "]");
        jw_close(j, "}");
    }
    jw_close(j, "}");
    jw_open(j, "outputs", "{");
    jw_str(j, "class_maps", me->maps_file);
    jw_str(j, "class_maps_variant", me->res[0].variant);
    if (me->n_gallery) {
        jw_str(j, "gallery", me->gallery_file);
    } else {
        jw_null(j, "gallery", "--gallery 0");
    }
    jw_u64(j, "gallery_samples", me->n_gallery);
    jw_u64(j, "gallery_correct", me->gallery_correct);
    jw_close(j, "}");
    jw_close(j, "}");
}

static char *eval_json(const model_eval *me, int n_models, const consistency_variant *vars,
                       size_t n_var, const eval_args *a)
{
    jw j;
    size_t v;
    int i;
    char name[CONS_VARIANT_LEN];
    jw_init(&j);
    jw_open(&j, NULL, "{");
    jw_str(&j, "program", "eval");
    jw_int(&j, "format", 1);
    jw_str(&j, "real", REAL_NAME);
    jw_str(&j, "split", a->split);
    jw_open(&j, "variants", "[");
    for (v = 0; v < n_var; v++) {
        consistency_variant_name(vars[v], name, sizeof name);
        jw_str(&j, NULL, name);
    }
    jw_close(&j, "]");
    jw_open(&j, "variant_notes", "{");
    for (v = 0; v < n_var; v++) {
        consistency_variant_name(vars[v], name, sizeof name);
        jw_str(&j, name, variant_note(&vars[v]));
    }
    jw_close(&j, "}");
    if (a->bootstrap > 0) {
        jw_open(&j, "bootstrap", "{");
        jw_int(&j, "resamples", a->bootstrap);
        jw_num(&j, "level", CONS_BOOT_DEFAULT_LEVEL, NULL);
        jw_u64(&j, "seed", a->seed);
        jw_str(&j, "method", "stratified by class, map mean recomputed per replicate, "
                             "percentile interval (metric/consistency.h)");
        jw_close(&j, "}");
    } else {
        jw_null(&j, "bootstrap", "off (--bootstrap 0)");
    }
    jw_open(&j, "models", "[");
    for (i = 0; i < n_models; i++) json_model(&j, &me[i], i, a);
    jw_close(&j, "]");
    jw_str(&j, "report", "report.html");
    jw_close(&j, "}");
    return textbuf_release(&j.tb);
}

/* ---- report ---- */

typedef struct cells {
    char **c;
    size_t rows, cols;
} cells;

static void cells_init(cells *t, size_t rows, size_t cols)
{
    t->rows = rows;
    t->cols = cols;
    t->c = (char **)gc_calloc(rows * cols > 0 ? rows * cols : 1, sizeof(char *));
}

static void cells_set(cells *t, size_t r, size_t c, char *s)
{
    free(t->c[r * t->cols + c]);
    t->c[r * t->cols + c] = s;
}

static void cells_free(cells *t)
{
    size_t i;
    for (i = 0; i < t->rows * t->cols; i++) free(t->c[i]);
    free(t->c);
}

/* A table's column names: fixed ones, then one "L_CAM <variant><suffix>"
 * per consistency variant of m (the variable part of every L_CAM table). */
typedef struct table_head {
    const char **name;   /* ncol names, the first nfixed borrowed */
    char **variant_name; /* n_var names owned here */
    size_t ncol, n_var;
} table_head;

static void table_head_init(table_head *h, const char *const *fixed, size_t nfixed,
                            const model_eval *m, const char *suffix)
{
    size_t i;
    h->n_var = m->n_var;
    h->ncol = nfixed + m->n_var;
    h->name = (const char **)gc_calloc(h->ncol, sizeof(char *));
    h->variant_name = (char **)gc_calloc(h->n_var ? h->n_var : 1, sizeof(char *));
    for (i = 0; i < nfixed; i++) h->name[i] = fixed[i];
    for (i = 0; i < h->n_var; i++) {
        h->variant_name[i] = sfmt("L_CAM %s%s", m->res[i].variant, suffix);
        h->name[nfixed + i] = h->variant_name[i];
    }
}

static void table_head_free(table_head *h)
{
    size_t i;
    for (i = 0; i < h->n_var; i++) free(h->variant_name[i]);
    free(h->variant_name);
    free(h->name);
}

static char *show(double v)
{
    char b[EVAL_NUM_CHARS];
    fmt_show(b, v);
    return xstrdup(b);
}

static char *lambda_cell(const ckpt_info *ci)
{
    return ci->has_lambda ? xstrdup(ci->lambda_text) : xstrdup("-");
}

/* The comparison table: one row per model. */
static void report_comparison(report *r, const model_eval *me, int n_models,
                              const eval_args *a)
{
    static const char *const fixed[] = {"model", "level", "lambda_max", "epoch",
                                        "accuracy", "kappa", "CAM h x w"};
    const size_t nfixed = sizeof fixed / sizeof fixed[0];
    size_t n_var = me[0].n_var, v, ncol;
    table_head head;
    cells t;
    int i;
    table_head_init(&head, fixed, nfixed, &me[0], a->bootstrap > 0 ? " [95% CI]" : "");
    ncol = head.ncol;
    cells_init(&t, (size_t)n_models, ncol);
    for (i = 0; i < n_models; i++) {
        const model_eval *m = &me[i];
        char lab[32];
        model_label(lab, sizeof lab, i);
        cells_set(&t, (size_t)i, 0, xstrdup(lab));
        cells_set(&t, (size_t)i, 1, sfmt("%d", m->info.level));
        cells_set(&t, (size_t)i, 2, lambda_cell(&m->info));
        cells_set(&t, (size_t)i, 3,
                  m->info.has_epoch ? sfmt("%lld", (long long)m->info.epoch) : xstrdup("-"));
        cells_set(&t, (size_t)i, 4, show(m->accuracy));
        cells_set(&t, (size_t)i, 5, show(m->kappa));
        cells_set(&t, (size_t)i, 6, sfmt("%d x %d", m->cam_h, m->cam_w));
        for (v = 0; v < n_var; v++)
            cells_set(&t, (size_t)i, nfixed + v,
                      fmt_ci(m->res[v].value, m->ci[v].lo, m->ci[v].hi, a->bootstrap > 0));
    }
    report_table(r, "Models side by side (L_CAM: lower = more consistent Grad-CAM maps within "
                    "a class)",
                 head.name, ncol, (const char *const *)t.c, (size_t)n_models);
    cells_free(&t);
    table_head_free(&head);
}

/* Which file and data each model row is. */
static void report_models(report *r, const model_eval *me, int n_models, const eval_args *a)
{
    static const char *const head[] = {"model", "checkpoint", "data (split, images)",
                                       "correct", "mean CE"};
    const size_t ncol = sizeof head / sizeof head[0];
    cells t;
    int i;
    cells_init(&t, (size_t)n_models, ncol);
    for (i = 0; i < n_models; i++) {
        char lab[32];
        model_label(lab, sizeof lab, i);
        cells_set(&t, (size_t)i, 0, xstrdup(lab));
        cells_set(&t, (size_t)i, 1, xstrdup(me[i].info.path));
        cells_set(&t, (size_t)i, 2, sfmt("%s (%s, %zu)", me[i].data_spec, a->split, me[i].count));
        cells_set(&t, (size_t)i, 3, sfmt("%zu", me[i].n_correct));
        cells_set(&t, (size_t)i, 4, show(me[i].ce));
    }
    report_table(r, "Checkpoints and data", head, ncol, (const char *const *)t.c,
                 (size_t)n_models);
    cells_free(&t);
}

/* Relative change of every model against model 1. */
static void report_changes(report *r, const model_eval *me, int n_models, const eval_args *a)
{
    static const char *const fixed[] = {"model", "lambda_max", "accuracy change",
                                        "kappa change"};
    const size_t nfixed = sizeof fixed / sizeof fixed[0];
    size_t n_var = me[0].n_var, v, ncol;
    table_head head;
    cells t;
    int i;
    table_head_init(&head, fixed, nfixed, &me[0], " change");
    ncol = head.ncol;
    cells_init(&t, (size_t)n_models - 1, ncol);
    for (i = 1; i < n_models; i++) {
        const model_eval *m = &me[i];
        size_t row = (size_t)i - 1;
        char lab[32];
        model_label(lab, sizeof lab, i);
        cells_set(&t, row, 0, xstrdup(lab));
        cells_set(&t, row, 1, lambda_cell(&m->info));
        cells_set(&t, row, 2, sfmt("%+.4f", m->accuracy - me[0].accuracy));
        cells_set(&t, row, 3, sfmt("%+.4f", m->kappa - me[0].kappa));
        for (v = 0; v < n_var; v++) {
            double x = m->res[v].value, x0 = me[0].res[v].value;
            if (!isfinite(x) || !isfinite(x0) || x0 == 0 || strcmp(m->res[v].variant,
                                                                  me[0].res[v].variant)) {
                cells_set(&t, row, nfixed + v, xstrdup("n/a"));
            } else if (a->bootstrap > 0) {
                int overlap = m->ci[v].lo <= me[0].ci[v].hi && me[0].ci[v].lo <= m->ci[v].hi;
                cells_set(&t, row, nfixed + v,
                          sfmt("%+.1f%% (%s)", 100.0 * (x - x0) / x0,
                               overlap ? "95% CIs overlap" : "95% CIs do not overlap"));
            } else {
                cells_set(&t, row, nfixed + v, sfmt("%+.1f%%", 100.0 * (x - x0) / x0));
            }
        }
    }
    report_table(r, "Change relative to model 1", head.name, ncol, (const char *const *)t.c,
                 (size_t)n_models - 1);
    cells_free(&t);
    table_head_free(&head);
}

static char *classes_legend(const model_eval *m)
{
    textbuf tb;
    size_t c;
    textbuf_init(&tb);
    for (c = 0; c < m->classes; c++)
        textbuf_printf(&tb, "%s%zu = %s", c ? ", " : "", c, m->class_names[c]);
    return textbuf_release(&tb);
}

static void report_model_details(report *r, const model_eval *m, int idx)
{
    char title[EVAL_PATH_MAX + 64], lab[32];
    cells t;
    size_t c, k, v;
    const char **head;
    int n_meta = st_meta_count(m->info.f), i;
    model_label(lab, sizeof lab, idx);
    snprintf(title, sizeof title, "Details of %s: %s", lab, m->info.path);
    report_h2(r, title);
    {
        char *p = sfmt("Level %d, %zu parameters, CAM layer %s (%s), %d channels of %d x %d. "
                       "Data: %s%s, batch %d. Mean cross-entropy %.6g, accuracy %.6g, Cohen's "
                       "kappa %.6g; %zu correctly classified samples.",
                       m->info.level, m->n_params, m->cam_layer, m->cam_desc, m->cam_c,
                       m->cam_h, m->cam_w, m->data_desc,
                       m->limit ? " (class-stratified subset)" : "", m->batch, m->ce,
                       m->accuracy, m->kappa, m->n_correct);
        report_p(r, p);
        free(p);
    }
    if (m->info.real && strcmp(m->info.real, REAL_NAME) != 0) {
        char *p = sfmt("Note: trained with the %s build, evaluated with the %s build; the numbers "
                       "can differ from the training log in the last digits.",
                       m->info.real, REAL_NAME);
        report_p(r, p);
        free(p);
    }
    /* metadata */
    cells_init(&t, (size_t)n_meta, 2);
    for (i = 0; i < n_meta; i++) {
        const char *key, *val;
        st_meta_at(m->info.f, i, &key, &val);
        cells_set(&t, (size_t)i, 0, xstrdup(key));
        cells_set(&t, (size_t)i, 1, xstrdup(val));
    }
    {
        static const char *const mh[2] = {"key", "value"};
        report_table(r, "Checkpoint metadata", mh, 2, (const char *const *)t.c, (size_t)n_meta);
    }
    cells_free(&t);
    /* confusion matrix */
    head = (const char **)gc_calloc(m->classes + 1, sizeof(char *));
    head[0] = "true \\ predicted";
    for (c = 0; c < m->classes; c++) head[c + 1] = m->class_names[c];
    cells_init(&t, m->classes, m->classes + 1);
    for (c = 0; c < m->classes; c++) {
        cells_set(&t, c, 0, xstrdup(m->class_names[c]));
        for (k = 0; k < m->classes; k++)
            cells_set(&t, c, k + 1,
                      sfmt("%llu", (unsigned long long)m->cm[c * m->classes + k]));
    }
    report_table(r, "Confusion matrix (rows: true class, columns: predicted class)", head,
                 m->classes + 1, (const char *const *)t.c, m->classes);
    cells_free(&t);
    free(head);
    /* per class */
    {
        static const char *const fixed[] = {"class", "images", "correct (|D_c+|)", "recall",
                                            "precision"};
        const size_t nfixed = sizeof fixed / sizeof fixed[0];
        table_head ch;
        table_head_init(&ch, fixed, nfixed, m, "");
        cells_init(&t, m->classes, ch.ncol);
        for (c = 0; c < m->classes; c++) {
            uint64_t row = 0, col = 0, d = m->cm[c * m->classes + c];
            for (k = 0; k < m->classes; k++) {
                row += m->cm[c * m->classes + k];
                col += m->cm[k * m->classes + c];
            }
            cells_set(&t, c, 0, sfmt("%zu %s", c, m->class_names[c]));
            cells_set(&t, c, 1, sfmt("%llu", (unsigned long long)row));
            cells_set(&t, c, 2, sfmt("%llu", (unsigned long long)d));
            cells_set(&t, c, 3, show(row ? (double)d / (double)row : NAN));
            cells_set(&t, c, 4, show(col ? (double)d / (double)col : NAN));
            for (v = 0; v < m->n_var; v++)
                cells_set(&t, c, nfixed + v, show(m->res[v].class_value[c]));
        }
        report_table(r, "Per class (L_CAM of a class: mean distance of its correct samples' "
                        "maps to the class mean; NaN with fewer than 2 correct samples)",
                     ch.name, ch.ncol, (const char *const *)t.c, m->classes);
        cells_free(&t);
        table_head_free(&ch);
    }
    for (v = 0; v < m->n_var; v++)
        if (!isfinite(m->res[v].value)) {
            char *p = sfmt("L_CAM %s is not a number: %s", m->res[v].variant, m->res[v].reason);
            report_p(r, p);
            free(p);
        }
}

static int build_report(report *r, const model_eval *me, int n_models,
                        const consistency_variant *vars, size_t n_var, const eval_args *a,
                        const char *out_dir, gc_error *err)
{
    char path[EVAL_PATH_MAX], name[CONS_VARIANT_LEN], lab[32];
    size_t v;
    int i;
    textbuf tb;
    textbuf_init(&tb);
    textbuf_printf(&tb, "Split '%s' of each model's data. L_CAM (DESIGN.md section 1) is the "
                        "mean, over the correctly classified samples, of the distance between a "
                        "sample's Grad-CAM map and the mean map of its class; classes with fewer "
                        "than 2 correct samples are left out. Lower means the model looks at "
                        "the same places within a class. Variants: ",
                   a->split);
    for (v = 0; v < n_var; v++) {
        consistency_variant_name(vars[v], name, sizeof name);
        textbuf_printf(&tb, "%s%s = %s", v ? "; " : "", name, variant_note(&vars[v]));
    }
    textbuf_append(&tb, ". Values of different variants, or of models with different CAM "
                        "resolutions, are not comparable with each other.");
    if (a->bootstrap > 0)
        textbuf_printf(&tb, " Intervals: 95%% percentile bootstrap, %d resamples stratified by "
                            "class, seed %llu.", a->bootstrap, (unsigned long long)a->seed);
    {
        char *p = textbuf_release(&tb);
        if (!p) return gc_fail(err, "report: out of memory");
        report_p(r, p);
        free(p);
    }
    report_h2(r, n_models > 1 ? "Comparison" : "Summary");
    report_comparison(r, me, n_models, a);
    if (n_models > 1) report_changes(r, me, n_models, a);
    report_models(r, me, n_models, a);

    report_h2(r, "Representative maps (class means of the Grad-CAM maps of correct samples)");
    for (i = 0; i < n_models; i++) {
        char *legend = classes_legend(&me[i]), *cap, *h;
        model_label(lab, sizeof lab, i);
        h = sfmt("%s: level %d, lambda_max %s", lab, me[i].info.level,
                 me[i].info.has_lambda ? me[i].info.lambda_text : "-");
        report_h3(r, h);
        free(h);
        cap = sfmt("Mean CAM per class at %zu x %zu (%zu correct samples); tiles by class index: "
                   "%s. Gray with a cross: no correct sample of that class.",
                   me[i].res[0].h, me[i].res[0].w, me[i].n_correct, legend ? legend : "");
        if (path_join(path, sizeof path, out_dir, me[i].maps_file, err) != GC_OK ||
            report_image_png_file(r, path, cap, err) != GC_OK) {
            free(cap);
            free(legend);
            return GC_FAIL;
        }
        free(cap);
        free(legend);
    }
    if (me[0].n_gallery) {
        report_h2(r, "Galleries (Grad-CAM of the predicted class over the input)");
        for (i = 0; i < n_models; i++) {
            char *cap, *h;
            model_label(lab, sizeof lab, i);
            h = sfmt("%s: level %d, lambda_max %s", lab, me[i].info.level,
                     me[i].info.has_lambda ? me[i].info.lambda_text : "-");
            report_h3(r, h);
            free(h);
            cap = sfmt("The first %zu samples of the split, %zu correct. Border green = correct, "
                       "red = wrong; text under each tile: true/predicted class index.",
                       me[i].n_gallery, me[i].gallery_correct);
            if (path_join(path, sizeof path, out_dir, me[i].gallery_file, err) != GC_OK ||
                report_image_png_file(r, path, cap, err) != GC_OK) {
                free(cap);
                return GC_FAIL;
            }
            free(cap);
        }
    }
    for (i = 0; i < n_models; i++) report_model_details(r, &me[i], i);
    return GC_OK;
}

static void print_summary(FILE *f, const model_eval *me, int n_models, const eval_args *a)
{
    int i;
    size_t v;
    for (i = 0; i < n_models; i++) {
        const model_eval *m = &me[i];
        fprintf(f, "model %d: %s\n", i + 1, m->info.path);
        fprintf(f, "  level %d, lambda_max %s, epoch %s; CAM %s (%s) %dx%d\n", m->info.level,
                m->info.has_lambda ? m->info.lambda_text : "-",
                m->info.has_epoch ? st_meta(m->info.f, "epoch") : "-", m->cam_layer,
                m->cam_desc, m->cam_h, m->cam_w);
        fprintf(f, "  %s split: %zu images, CE %.6g, accuracy %.6g, kappa %.6g, %zu correct\n",
                a->split, m->count, m->ce, m->accuracy, m->kappa, m->n_correct);
        for (v = 0; v < m->n_var; v++) {
            const consistency_result *r = &m->res[v];
            if (!isfinite(r->value)) {
                fprintf(f, "  L_CAM %-12s NaN: %s\n", r->variant, r->reason);
            } else if (a->bootstrap > 0) {
                fprintf(f, "  L_CAM %-12s %.6g  95%% CI [%.6g, %.6g]  (%zu samples, %zu classes, "
                           "%zux%zu)\n",
                        r->variant, r->value, m->ci[v].lo, m->ci[v].hi, r->n_used,
                        r->classes_used, r->h, r->w);
            } else {
                fprintf(f, "  L_CAM %-12s %.6g  (%zu samples, %zu classes, %zux%zu)\n",
                        r->variant, r->value, r->n_used, r->classes_used, r->h, r->w);
            }
        }
    }
}

static void add_variant(consistency_variant *vars, size_t *n, consistency_distance d,
                        size_t grid)
{
    GC_CHECK(*n < EVAL_MAX_VARIANTS);
    vars[*n].distance = d;
    vars[*n].grid = grid;
    (*n)++;
}

static int run_eval(const eval_args *a, gc_error *err)
{
    model_eval *me;
    consistency_variant vars[EVAL_MAX_VARIANTS];
    size_t n_var = 0;
    int i, rc = GC_FAIL;
    char out_dir[EVAL_PATH_MAX], path[EVAL_PATH_MAX];
    char *json = NULL;
    report *r = NULL;
    FILE *info = a->json ? stderr : stdout;
    int g;
    for (g = 0; g < (a->grid ? 2 : 1); g++) {
        if (a->use_l2sq) add_variant(vars, &n_var, CONS_L2SQ, g ? (size_t)a->grid : 0);
        if (a->use_l2) add_variant(vars, &n_var, CONS_L2, g ? (size_t)a->grid : 0);
    }
    me = (model_eval *)gc_calloc((size_t)a->n_models, sizeof *me);
    /* Read every checkpoint's metadata first: a bad file fails before any work. */
    for (i = 0; i < a->n_models; i++)
        if (ckpt_info_read(&me[i].info, a->models[i], a, err) != GC_OK) goto done;
    if (a->out) {
        snprintf(out_dir, sizeof out_dir, "%s", a->out);
    } else {
        char d[EVAL_PATH_MAX];
        path_dir(a->models[0], d, sizeof d);
        if (path_join(out_dir, sizeof out_dir, d, a->n_models > 1 ? "compare" : "eval", err) !=
            GC_OK)
            goto done;
    }
    for (i = 0; i < a->n_models; i++) {
        fprintf(stderr, "eval: model %d/%d: %s (level %d, %dx%d)\n", i + 1, a->n_models,
                a->models[i], me[i].info.level, me[i].info.size, me[i].info.size);
        if (evaluate_model(&me[i], a, vars, n_var, err) != GC_OK) goto done;
        if (a->n_models > 1) {
            snprintf(me[i].maps_file, sizeof me[i].maps_file, "model%d_class_maps.png", i + 1);
            snprintf(me[i].gallery_file, sizeof me[i].gallery_file, "model%d_gallery.png", i + 1);
        } else {
            snprintf(me[i].maps_file, sizeof me[i].maps_file, "class_maps.png");
            snprintf(me[i].gallery_file, sizeof me[i].gallery_file, "gallery.png");
        }
    }
    json = eval_json(me, a->n_models, vars, n_var, a);
    if (!json) {
        gc_fail(err, "eval.json: out of memory");
        goto done;
    }
    /* Outputs: pictures, then eval.json, then report.html (which embeds them). */
    if (make_dirs(out_dir, err) != GC_OK) goto done;
    for (i = 0; i < a->n_models; i++) {
        if (path_join(path, sizeof path, out_dir, me[i].maps_file, err) != GC_OK ||
            overlay_write_png(&me[i].maps_img, path, err) != GC_OK)
            goto done;
        if (me[i].n_gallery &&
            (path_join(path, sizeof path, out_dir, me[i].gallery_file, err) != GC_OK ||
             overlay_write_png(&me[i].gallery_img, path, err) != GC_OK))
            goto done;
    }
    if (path_join(path, sizeof path, out_dir, "eval.json", err) != GC_OK ||
        bytes_write_atomic(path, json, strlen(json), err) != GC_OK)
        goto done;
    r = report_begin(a->n_models > 1 ? "Consistency evaluation: model comparison"
                                     : "Consistency evaluation");
    if (!r) {
        gc_fail(err, "report: out of memory");
        goto done;
    }
    if (build_report(r, me, a->n_models, vars, n_var, a, out_dir, err) != GC_OK) goto done;
    if (path_join(path, sizeof path, out_dir, "report.html", err) != GC_OK ||
        report_write(r, path, err) != GC_OK)
        goto done;
    if (a->json)
        fputs(json, stdout);
    else
        print_summary(stdout, me, a->n_models, a);
    fprintf(info, "report: %s\n", path);
    rc = GC_OK;
done:
    report_free(r);
    free(json);
    for (i = 0; i < a->n_models; i++) model_eval_free(&me[i]);
    free(me);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* correlation mode                                                         */

typedef struct corr_run {
    const char *file;
    char *level, *lambda, *seed;    /* group cells ("" when the column is absent) */
    char *name;
    size_t n, cap;
    double *epoch, *acc, *kappa, *lcam;
    double r_k, rho_k, r_a, rho_a;
    size_t used_k, used_a;
    int model;
} corr_run;

typedef struct corr_model {
    char *key, *name;
    const char *level, *lambda;     /* borrowed from its first run */
    int paper_level;                /* 1..5 when level is one, else 0 */
    size_t runs, n;
    double *acc, *kappa, *lcam;     /* pooled over its runs */
    double r_k, rho_k, r_a, rho_a, mean_r_k, sd_r_k;
    size_t used_k, used_a, runs_with_r;
} corr_model;

typedef struct corr_data {
    char *variant;                  /* the L_CAM column (owned) */
    size_t n_runs, n_models;
    corr_run *runs;
    corr_model *models;
    int has_level, has_lambda, has_seed;  /* in any file */
} corr_data;

static void corr_free(corr_data *d)
{
    size_t i;
    for (i = 0; i < d->n_runs; i++) {
        corr_run *r = &d->runs[i];
        free(r->level);
        free(r->lambda);
        free(r->seed);
        free(r->name);
        free(r->epoch);
        free(r->acc);
        free(r->kappa);
        free(r->lcam);
    }
    for (i = 0; i < d->n_models; i++) {
        free(d->models[i].key);
        free(d->models[i].name);
        free(d->models[i].acc);
        free(d->models[i].kappa);
        free(d->models[i].lcam);
    }
    free(d->runs);
    free(d->models);
    free(d->variant);
    memset(d, 0, sizeof *d);
}

/* The L_CAM column: --variant, else l_cam_l2sq if every log has it, else the
 * first l_cam_* column of the first log that every log has. */
static int choose_variant(const csv_table *t, int n, const char *wanted, const char **out,
                          gc_error *err)
{
    int i;
    size_t c;
    if (wanted) {
        for (i = 0; i < n; i++)
            if (csv_table_column(&t[i], wanted) < 0)
                return gc_fail(err, "%s: no column '%s' (--variant)", t[i].name, wanted);
        *out = wanted;
        return GC_OK;
    }
    for (i = 0; i < n; i++)
        if (csv_table_column(&t[i], "l_cam_l2sq") < 0) break;
    if (i == n) {
        *out = "l_cam_l2sq";
        return GC_OK;
    }
    for (c = 0; c < t[0].n_cols; c++) {
        const char *name = t[0].header[c];
        if (strncmp(name, "l_cam_", 6) != 0) continue;
        for (i = 1; i < n; i++)
            if (csv_table_column(&t[i], name) < 0) break;
        if (i == n) {
            *out = name;
            return GC_OK;
        }
    }
    for (i = 0; i < n; i++) {
        for (c = 0; c < t[i].n_cols; c++)
            if (strncmp(t[i].header[c], "l_cam_", 6) == 0) break;
        if (c == t[i].n_cols)
            return gc_fail(err, "%s: no L_CAM column (l_cam_l2sq, l_cam_l2, ...)", t[i].name);
    }
    return gc_fail(err, "%s: no l_cam_* column common to every log (give --variant)", t[0].name);
}

static void run_push(corr_run *r, double epoch, double acc, double kappa, double lcam)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 16;
        double *p[4];
        int k;
        double **fld[4];
        fld[0] = &r->epoch;
        fld[1] = &r->acc;
        fld[2] = &r->kappa;
        fld[3] = &r->lcam;
        for (k = 0; k < 4; k++) {
            p[k] = (double *)gc_calloc(cap, sizeof(double));
            if (r->n) memcpy(p[k], *fld[k], r->n * sizeof(double));
            free(*fld[k]);
            *fld[k] = p[k];
        }
        r->cap = cap;
    }
    r->epoch[r->n] = epoch;
    r->acc[r->n] = acc;
    r->kappa[r->n] = kappa;
    r->lcam[r->n] = lcam;
    r->n++;
}

/* Sort a run's rows by epoch (stable insertion sort; logs are nearly sorted). */
static void run_sort(corr_run *r)
{
    size_t i, j;
    for (i = 1; i < r->n; i++) {
        double e = r->epoch[i], a = r->acc[i], k = r->kappa[i], l = r->lcam[i];
        for (j = i; j > 0 && r->epoch[j - 1] > e; j--) {
            r->epoch[j] = r->epoch[j - 1];
            r->acc[j] = r->acc[j - 1];
            r->kappa[j] = r->kappa[j - 1];
            r->lcam[j] = r->lcam[j - 1];
        }
        r->epoch[j] = e;
        r->acc[j] = a;
        r->kappa[j] = k;
        r->lcam[j] = l;
    }
}

static const char *cell_or_empty(const csv_table *t, size_t row, long col)
{
    return col < 0 ? "" : csv_table_cell(t, row, (size_t)col);
}

static int read_logs(corr_data *d, const eval_args *a, gc_error *err)
{
    csv_table *t = (csv_table *)gc_calloc((size_t)a->n_csvs, sizeof *t);
    double *col[4] = {NULL, NULL, NULL, NULL};
    int i, rc = GC_FAIL;
    size_t cap_runs = 0, row, k;
    static const char *const need[3] = {"epoch", "accuracy", "kappa"};
    memset(d, 0, sizeof *d);
    for (i = 0; i < a->n_csvs; i++) {
        if (csv_read(&t[i], a->csvs[i], err) != GC_OK) goto done;
        for (k = 0; k < 3; k++)
            if (csv_table_column(&t[i], need[k]) < 0) {
                gc_fail(err, "%s: no column '%s' (a training log needs epoch, accuracy, kappa "
                             "and an l_cam_* column)", a->csvs[i], need[k]);
                goto done;
            }
        if (t[i].n_rows == 0) {
            gc_fail(err, "%s: no rows", a->csvs[i]);
            goto done;
        }
    }
    {
        const char *v = NULL;
        if (choose_variant(t, a->n_csvs, a->variant, &v, err) != GC_OK) goto done;
        d->variant = xstrdup(v);
    }
    for (i = 0; i < a->n_csvs; i++) {
        long c_level = csv_table_column(&t[i], "level");
        long c_lambda = csv_table_column(&t[i], "lambda_max");
        long c_seed = csv_table_column(&t[i], "seed");
        size_t first = d->n_runs;
        const char *names[4];
        names[0] = "epoch";
        names[1] = "accuracy";
        names[2] = "kappa";
        names[3] = d->variant;
        if (c_level >= 0) d->has_level = 1;
        if (c_lambda >= 0) d->has_lambda = 1;
        if (c_seed >= 0) d->has_seed = 1;
        for (k = 0; k < 4; k++) {
            col[k] = (double *)gc_calloc(t[i].n_rows, sizeof(double));
            if (csv_table_numbers(col[k], &t[i], names[k], err) != GC_OK) goto done;
        }
        for (row = 0; row < t[i].n_rows; row++) {
            const char *lv = cell_or_empty(&t[i], row, c_level);
            const char *lm = cell_or_empty(&t[i], row, c_lambda);
            const char *sd = cell_or_empty(&t[i], row, c_seed);
            size_t r;
            for (r = first; r < d->n_runs; r++)
                if (!strcmp(d->runs[r].level, lv) && !strcmp(d->runs[r].lambda, lm) &&
                    !strcmp(d->runs[r].seed, sd))
                    break;
            if (r == d->n_runs) {
                if (d->n_runs == cap_runs) {
                    corr_run *p;
                    cap_runs = cap_runs ? 2 * cap_runs : 8;
                    p = (corr_run *)gc_calloc(cap_runs, sizeof *p);
                    if (d->n_runs) memcpy(p, d->runs, d->n_runs * sizeof *p);
                    free(d->runs);
                    d->runs = p;
                }
                memset(&d->runs[r], 0, sizeof d->runs[r]);
                d->runs[r].file = a->csvs[i];
                d->runs[r].level = xstrdup(lv);
                d->runs[r].lambda = xstrdup(lm);
                d->runs[r].seed = xstrdup(sd);
                d->n_runs++;
            }
            run_push(&d->runs[r], col[0][row], col[1][row], col[2][row], col[3][row]);
        }
        for (k = 0; k < 4; k++) {
            free(col[k]);
            col[k] = NULL;
        }
    }
    rc = GC_OK;
done:
    for (k = 0; k < 4; k++) free(col[k]);
    for (i = 0; i < a->n_csvs; i++) csv_table_free(&t[i]);
    free(t);
    return rc;
}

static void pooled_push(corr_model *m, const corr_run *r)
{
    size_t n = m->n + r->n;
    double *p;
    p = (double *)gc_calloc(n, sizeof(double));
    if (m->n) memcpy(p, m->acc, m->n * sizeof(double));
    memcpy(p + m->n, r->acc, r->n * sizeof(double));
    free(m->acc);
    m->acc = p;
    p = (double *)gc_calloc(n, sizeof(double));
    if (m->n) memcpy(p, m->kappa, m->n * sizeof(double));
    memcpy(p + m->n, r->kappa, r->n * sizeof(double));
    free(m->kappa);
    m->kappa = p;
    p = (double *)gc_calloc(n, sizeof(double));
    if (m->n) memcpy(p, m->lcam, m->n * sizeof(double));
    memcpy(p + m->n, r->lcam, r->n * sizeof(double));
    free(m->lcam);
    m->lcam = p;
    m->n = n;
}

/* Group runs into models, name them, compute the correlations. */
static void corr_compute(corr_data *d)
{
    size_t i, j;
    d->models = (corr_model *)gc_calloc(d->n_runs ? d->n_runs : 1, sizeof(corr_model));
    for (i = 0; i < d->n_runs; i++) {
        corr_run *r = &d->runs[i];
        char *key;
        run_sort(r);
        if (*r->level)
            key = sfmt("L%s|%s", r->level, r->lambda);
        else
            key = sfmt("F%s|%s", r->file, r->lambda);
        for (j = 0; j < d->n_models; j++)
            if (!strcmp(d->models[j].key, key)) break;
        if (j == d->n_models) {
            corr_model *m = &d->models[j];
            char *end;
            long lv;
            m->key = key;
            m->level = r->level;
            m->lambda = r->lambda;
            if (*r->level)
                m->name = *r->lambda ? sfmt("Level %s, lambda_max %s", r->level, r->lambda)
                                     : sfmt("Level %s", r->level);
            else
                m->name = *r->lambda ? sfmt("%s, lambda_max %s", r->file, r->lambda)
                                     : xstrdup(r->file);
            lv = strtol(r->level, &end, 10);
            m->paper_level = (*r->level && *end == '\0' && lv >= 1 && lv <= MODEL_LEVELS)
                                 ? (int)lv : 0;
            d->n_models++;
        } else {
            free(key);
        }
        r->model = (int)j;
        d->models[j].runs++;
        pooled_push(&d->models[j], r);
        r->r_k = stats_pearson(r->lcam, r->kappa, r->n, &r->used_k);
        r->rho_k = stats_spearman(r->lcam, r->kappa, r->n, NULL);
        r->r_a = stats_pearson(r->lcam, r->acc, r->n, &r->used_a);
        r->rho_a = stats_spearman(r->lcam, r->acc, r->n, NULL);
    }
    /* run names: the model's, plus seed, plus file when still ambiguous */
    for (i = 0; i < d->n_runs; i++) {
        corr_run *r = &d->runs[i];
        const corr_model *m = &d->models[r->model];
        r->name = *r->seed ? sfmt("%s, seed %s", m->name, r->seed) : xstrdup(m->name);
    }
    {
        int *dup = (int *)gc_calloc(d->n_runs ? d->n_runs : 1, sizeof(int));
        for (i = 0; i < d->n_runs; i++)
            for (j = 0; j < d->n_runs; j++)
                if (j != i && !strcmp(d->runs[i].name, d->runs[j].name)) dup[i] = 1;
        for (i = 0; i < d->n_runs; i++)
            if (dup[i]) {
                char *n = sfmt("%s (%s)", d->runs[i].name, d->runs[i].file);
                free(d->runs[i].name);
                d->runs[i].name = n;
            }
        free(dup);
    }
    for (j = 0; j < d->n_models; j++) {
        corr_model *m = &d->models[j];
        double s = 0, s2 = 0;
        size_t k = 0;
        m->r_k = stats_pearson(m->lcam, m->kappa, m->n, &m->used_k);
        m->rho_k = stats_spearman(m->lcam, m->kappa, m->n, NULL);
        m->r_a = stats_pearson(m->lcam, m->acc, m->n, &m->used_a);
        m->rho_a = stats_spearman(m->lcam, m->acc, m->n, NULL);
        for (i = 0; i < d->n_runs; i++)
            if (d->runs[i].model == (int)j && isfinite(d->runs[i].r_k)) {
                s += d->runs[i].r_k;
                k++;
            }
        m->runs_with_r = k;
        m->mean_r_k = k ? s / (double)k : NAN;
        for (i = 0; i < d->n_runs; i++)
            if (d->runs[i].model == (int)j && isfinite(d->runs[i].r_k))
                s2 += (d->runs[i].r_k - m->mean_r_k) * (d->runs[i].r_k - m->mean_r_k);
        m->sd_r_k = k > 1 ? sqrt(s2 / (double)(k - 1)) : NAN;
    }
}

static const char *corr_nan_reason(size_t used)
{
    return used < 2 ? "fewer than 2 epochs with finite values"
                    : "no variation in one of the two columns";
}

static char *correlate_json(const corr_data *d, const eval_args *a)
{
    jw j;
    size_t i;
    int f;
    jw_init(&j);
    jw_open(&j, NULL, "{");
    jw_str(&j, "program", "eval --correlate");
    jw_int(&j, "format", 1);
    jw_str(&j, "variant", d->variant);
    jw_str(&j, "x", d->variant);
    jw_open(&j, "files", "[");
    for (f = 0; f < a->n_csvs; f++) jw_str(&j, NULL, a->csvs[f]);
    jw_close(&j, "]");
    jw_str(&j, "grouping", d->has_level ? "model = (level, lambda_max); run = (file, level, "
                                          "lambda_max, seed)"
                                        : "model = (file, lambda_max); run = (file, lambda_max, "
                                          "seed)");
    jw_open(&j, "models", "[");
    for (i = 0; i < d->n_models; i++) {
        const corr_model *m = &d->models[i];
        jw_open(&j, NULL, "{");
        jw_str(&j, "name", m->name);
        jw_str(&j, "level", *m->level ? m->level : NULL);
        jw_str(&j, "lambda_max", *m->lambda ? m->lambda : NULL);
        jw_u64(&j, "runs", m->runs);
        jw_u64(&j, "points", m->n);
        jw_u64(&j, "points_used", m->used_k);
        jw_num(&j, "pearson_kappa", m->r_k, corr_nan_reason(m->used_k));
        jw_num(&j, "spearman_kappa", m->rho_k, corr_nan_reason(m->used_k));
        jw_num(&j, "pearson_accuracy", m->r_a, corr_nan_reason(m->used_a));
        jw_num(&j, "spearman_accuracy", m->rho_a, corr_nan_reason(m->used_a));
        jw_num(&j, "mean_run_pearson_kappa", m->mean_r_k, "no run has a finite correlation");
        jw_num(&j, "sd_run_pearson_kappa", m->sd_r_k, "fewer than 2 runs with a correlation");
        if (m->paper_level) {
            jw_open(&j, "paper_table2_pearson_kappa", "{");
            jw_num(&j, "brain_mri", PAPER_T2_MRI[m->paper_level - 1], NULL);
            jw_num(&j, "chest_xray", PAPER_T2_CXR[m->paper_level - 1], NULL);
            jw_close(&j, "}");
        } else {
            jw_null(&j, "paper_table2_pearson_kappa", "no level 1..5 in the log");
        }
        jw_close(&j, "}");
    }
    jw_close(&j, "]");
    jw_open(&j, "runs", "[");
    for (i = 0; i < d->n_runs; i++) {
        const corr_run *r = &d->runs[i];
        jw_open(&j, NULL, "{");
        jw_str(&j, "name", r->name);
        jw_str(&j, "file", r->file);
        jw_str(&j, "model", d->models[r->model].name);
        jw_str(&j, "level", *r->level ? r->level : NULL);
        jw_str(&j, "lambda_max", *r->lambda ? r->lambda : NULL);
        jw_str(&j, "seed", *r->seed ? r->seed : NULL);
        jw_u64(&j, "epochs", r->n);
        jw_u64(&j, "points_used", r->used_k);
        jw_num(&j, "pearson_kappa", r->r_k, corr_nan_reason(r->used_k));
        jw_num(&j, "spearman_kappa", r->rho_k, corr_nan_reason(r->used_k));
        jw_num(&j, "pearson_accuracy", r->r_a, corr_nan_reason(r->used_a));
        jw_num(&j, "spearman_accuracy", r->rho_a, corr_nan_reason(r->used_a));
        jw_close(&j, "}");
    }
    jw_close(&j, "]");
    jw_open(&j, "paper_table2", "{");
    jw_str(&j, "what", "Pearson r of kappa with L_CAM over epochs, 6 seeds (paper Table 2)");
    jw_open(&j, "brain_mri", "[");
    for (f = 0; f < MODEL_LEVELS; f++) jw_num(&j, NULL, PAPER_T2_MRI[f], NULL);
    jw_close(&j, "]");
    jw_open(&j, "chest_xray", "[");
    for (f = 0; f < MODEL_LEVELS; f++) jw_num(&j, NULL, PAPER_T2_CXR[f], NULL);
    jw_close(&j, "]");
    jw_close(&j, "}");
    jw_str(&j, "report", "report.html");
    jw_close(&j, "}");
    return textbuf_release(&j.tb);
}

/* One CSV field, quoted when needed (RFC 4180). */
static void csv_field(textbuf *tb, const char *s, int last)
{
    if (strpbrk(s, ",\"\r\n") || (*s && (s[0] == ' ' || s[strlen(s) - 1] == ' '))) {
        const char *p;
        textbuf_append(tb, "\"");
        for (p = s; *p; p++) {
            if (*p == '"') textbuf_append(tb, "\"");
            textbuf_append_n(tb, p, 1);
        }
        textbuf_append(tb, "\"");
    } else {
        textbuf_append(tb, s);
    }
    textbuf_append(tb, last ? "\n" : ",");
}

static void csv_num(textbuf *tb, double v, int last)
{
    char buf[CSV_NUMBER_CHARS];
    csv_format_number(buf, v);
    csv_field(tb, buf, last);
}

static void correlate_csv(textbuf *tb, const corr_data *d)
{
    size_t i;
    textbuf_append(tb, "kind,name,file,level,lambda_max,seed,variant,points,pearson_kappa,"
                       "spearman_kappa,pearson_accuracy,spearman_accuracy,paper_brain_mri,"
                       "paper_chest_xray\n");
    for (i = 0; i < d->n_models; i++) {
        const corr_model *m = &d->models[i];
        csv_field(tb, "model", 0);
        csv_field(tb, m->name, 0);
        csv_field(tb, "", 0);
        csv_field(tb, m->level, 0);
        csv_field(tb, m->lambda, 0);
        csv_field(tb, "", 0);
        csv_field(tb, d->variant, 0);
        csv_num(tb, (double)m->used_k, 0);
        csv_num(tb, m->r_k, 0);
        csv_num(tb, m->rho_k, 0);
        csv_num(tb, m->r_a, 0);
        csv_num(tb, m->rho_a, 0);
        csv_num(tb, m->paper_level ? PAPER_T2_MRI[m->paper_level - 1] : NAN, 0);
        csv_num(tb, m->paper_level ? PAPER_T2_CXR[m->paper_level - 1] : NAN, 1);
    }
    for (i = 0; i < d->n_runs; i++) {
        const corr_run *r = &d->runs[i];
        const corr_model *m = &d->models[r->model];
        csv_field(tb, "run", 0);
        csv_field(tb, r->name, 0);
        csv_field(tb, r->file, 0);
        csv_field(tb, r->level, 0);
        csv_field(tb, r->lambda, 0);
        csv_field(tb, r->seed, 0);
        csv_field(tb, d->variant, 0);
        csv_num(tb, (double)r->used_k, 0);
        csv_num(tb, r->r_k, 0);
        csv_num(tb, r->rho_k, 0);
        csv_num(tb, r->r_a, 0);
        csv_num(tb, r->rho_a, 0);
        csv_num(tb, m->paper_level ? PAPER_T2_MRI[m->paper_level - 1] : NAN, 0);
        csv_num(tb, m->paper_level ? PAPER_T2_CXR[m->paper_level - 1] : NAN, 1);
    }
}

typedef struct corr_charts {
    char *scatter_kappa, *scatter_acc, *curve_acc, *curve_kappa, *curve_lcam;
} corr_charts;

static void charts_free(corr_charts *c)
{
    free(c->scatter_kappa);
    free(c->scatter_acc);
    free(c->curve_acc);
    free(c->curve_kappa);
    free(c->curve_lcam);
}

static int corr_make_charts(const corr_data *d, corr_charts *out, gc_error *err)
{
    svg_series *sm = (svg_series *)gc_calloc(d->n_models, sizeof *sm);
    svg_series *sr = (svg_series *)gc_calloc(d->n_runs, sizeof *sr);
    svg_chart ch;
    char title[256], xl[128];
    size_t i;
    int rc = GC_FAIL;
    memset(out, 0, sizeof *out);
    memset(&ch, 0, sizeof ch);
    snprintf(xl, sizeof xl, "L_CAM (%s)", d->variant);
    for (i = 0; i < d->n_models; i++) {
        sm[i].name = d->models[i].name;
        sm[i].x = d->models[i].lcam;
        sm[i].y = d->models[i].kappa;
        sm[i].n = d->models[i].n;
    }
    ch.title = title;
    ch.x_label = xl;
    ch.y_label = "Cohen's kappa";
    snprintf(title, sizeof title, "kappa vs L_CAM, one point per epoch");
    out->scatter_kappa = svg_scatter(&ch, sm, d->n_models, 1, err);
    if (!out->scatter_kappa) goto done;
    for (i = 0; i < d->n_models; i++) sm[i].y = d->models[i].acc;
    ch.y_label = "accuracy";
    snprintf(title, sizeof title, "accuracy vs L_CAM, one point per epoch");
    out->scatter_acc = svg_scatter(&ch, sm, d->n_models, 1, err);
    if (!out->scatter_acc) goto done;
    for (i = 0; i < d->n_runs; i++) {
        sr[i].name = d->runs[i].name;
        sr[i].x = d->runs[i].epoch;
        sr[i].y = d->runs[i].acc;
        sr[i].n = d->runs[i].n;
    }
    ch.x_label = "epoch";
    ch.y_label = "accuracy";
    snprintf(title, sizeof title, "accuracy over epochs");
    out->curve_acc = svg_lines(&ch, sr, d->n_runs, err);
    if (!out->curve_acc) goto done;
    for (i = 0; i < d->n_runs; i++) sr[i].y = d->runs[i].kappa;
    ch.y_label = "Cohen's kappa";
    snprintf(title, sizeof title, "kappa over epochs");
    out->curve_kappa = svg_lines(&ch, sr, d->n_runs, err);
    if (!out->curve_kappa) goto done;
    for (i = 0; i < d->n_runs; i++) sr[i].y = d->runs[i].lcam;
    ch.y_label = xl;
    snprintf(title, sizeof title, "L_CAM (%s) over epochs", d->variant);
    out->curve_lcam = svg_lines(&ch, sr, d->n_runs, err);
    if (!out->curve_lcam) goto done;
    rc = GC_OK;
done:
    free(sm);
    free(sr);
    return rc;
}

static void corr_report_tables(report *r, const corr_data *d)
{
    static const char *const mh[] = {"model", "runs", "epochs used", "Pearson r (kappa, L_CAM)",
                                     "Spearman rho (kappa, L_CAM)", "Pearson r (accuracy, L_CAM)",
                                     "Spearman rho (accuracy, L_CAM)", "mean r over runs (sd)",
                                     "paper: Brain MRI", "paper: Chest X-ray"};
    static const char *const rh[] = {"run", "file", "epochs used", "Pearson r (kappa, L_CAM)",
                                     "Spearman rho (kappa, L_CAM)", "Pearson r (accuracy, L_CAM)",
                                     "Spearman rho (accuracy, L_CAM)"};
    static const char *const ph[] = {"level", "Brain MRI", "Chest X-ray"};
    const size_t mcols = sizeof mh / sizeof mh[0], rcols = sizeof rh / sizeof rh[0];
    cells t;
    size_t i;
    char cap[512];
    cells_init(&t, d->n_models, mcols);
    for (i = 0; i < d->n_models; i++) {
        const corr_model *m = &d->models[i];
        cells_set(&t, i, 0, xstrdup(m->name));
        cells_set(&t, i, 1, sfmt("%zu", m->runs));
        cells_set(&t, i, 2, sfmt("%zu", m->used_k));
        cells_set(&t, i, 3, show(m->r_k));
        cells_set(&t, i, 4, show(m->rho_k));
        cells_set(&t, i, 5, show(m->r_a));
        cells_set(&t, i, 6, show(m->rho_a));
        if (m->runs_with_r > 1)
            cells_set(&t, i, 7, sfmt("%.3f (%.3f)", m->mean_r_k, m->sd_r_k));
        else
            cells_set(&t, i, 7, xstrdup("-"));
        cells_set(&t, i, 8, m->paper_level ? sfmt("%.3f", PAPER_T2_MRI[m->paper_level - 1])
                                           : xstrdup("-"));
        cells_set(&t, i, 9, m->paper_level ? sfmt("%.3f", PAPER_T2_CXR[m->paper_level - 1])
                                           : xstrdup("-"));
    }
    snprintf(cap, sizeof cap, "Correlation with L_CAM (%s) over epochs, per model (epochs of "
                              "all its runs pooled), with the paper's Table 2 for reference (the paper's models were "
                              "trained without the regulariser)",
             d->variant);
    report_table(r, cap, mh, mcols, (const char *const *)t.c, d->n_models);
    cells_free(&t);
    cells_init(&t, d->n_runs, rcols);
    for (i = 0; i < d->n_runs; i++) {
        const corr_run *u = &d->runs[i];
        cells_set(&t, i, 0, xstrdup(u->name));
        cells_set(&t, i, 1, xstrdup(u->file));
        cells_set(&t, i, 2, sfmt("%zu of %zu", u->used_k, u->n));
        cells_set(&t, i, 3, show(u->r_k));
        cells_set(&t, i, 4, show(u->rho_k));
        cells_set(&t, i, 5, show(u->r_a));
        cells_set(&t, i, 6, show(u->rho_a));
    }
    report_table(r, "Per run", rh, rcols, (const char *const *)t.c, d->n_runs);
    cells_free(&t);
    cells_init(&t, MODEL_LEVELS, 3);
    for (i = 0; i < MODEL_LEVELS; i++) {
        cells_set(&t, i, 0, sfmt("Level %zu", i + 1));
        cells_set(&t, i, 1, sfmt("%.3f", PAPER_T2_MRI[i]));
        cells_set(&t, i, 2, sfmt("%.3f", PAPER_T2_CXR[i]));
    }
    report_table(r, "Paper Table 2: Pearson r of kappa with L_CAM over epochs (ordinary "
                    "training, squared L2, 224 x 224 inputs, 20 epochs, 6 seeds)",
                 ph, 3, (const char *const *)t.c, MODEL_LEVELS);
    cells_free(&t);
}

static void print_corr(FILE *f, const corr_data *d)
{
    size_t i;
    int w = 5;
    char a[EVAL_NUM_CHARS], b[EVAL_NUM_CHARS], c[EVAL_NUM_CHARS], e[EVAL_NUM_CHARS];
    for (i = 0; i < d->n_models; i++)
        if ((int)strlen(d->models[i].name) > w) w = (int)strlen(d->models[i].name);
    for (i = 0; i < d->n_runs; i++)
        if ((int)strlen(d->runs[i].name) > w) w = (int)strlen(d->runs[i].name);
    fprintf(f, "correlation with L_CAM (%s) over epochs\n", d->variant);
    fprintf(f, "%-*s %5s %6s %9s %9s %9s %9s %9s %9s\n", w, "model", "runs", "points",
            "r(kappa)", "rho(kap)", "r(acc)", "rho(acc)", "paperMRI", "paperCXR");
    for (i = 0; i < d->n_models; i++) {
        const corr_model *m = &d->models[i];
        char pm[EVAL_NUM_CHARS] = "-", pc[EVAL_NUM_CHARS] = "-";
        fmt_show(a, m->r_k);
        fmt_show(b, m->rho_k);
        fmt_show(c, m->r_a);
        fmt_show(e, m->rho_a);
        if (m->paper_level) {
            snprintf(pm, sizeof pm, "%.3f", PAPER_T2_MRI[m->paper_level - 1]);
            snprintf(pc, sizeof pc, "%.3f", PAPER_T2_CXR[m->paper_level - 1]);
        }
        fprintf(f, "%-*s %5zu %6zu %9s %9s %9s %9s %9s %9s\n", w, m->name, m->runs, m->used_k, a,
                b, c, e, pm, pc);
    }
    if (d->n_runs > d->n_models) {
        fprintf(f, "%-*s %5s %6s\n", w, "run", "", "points");
        for (i = 0; i < d->n_runs; i++) {
            const corr_run *u = &d->runs[i];
            fmt_show(a, u->r_k);
            fmt_show(b, u->rho_k);
            fmt_show(c, u->r_a);
            fmt_show(e, u->rho_a);
            fprintf(f, "%-*s %5s %6zu %9s %9s %9s %9s\n", w, u->name, "", u->used_k, a, b, c, e);
        }
    }
}

static int write_text(const char *dir, const char *name, const char *text, gc_error *err)
{
    char path[EVAL_PATH_MAX];
    if (path_join(path, sizeof path, dir, name, err) != GC_OK) return GC_FAIL;
    return bytes_write_atomic(path, text, strlen(text), err);
}

static int run_correlate(const eval_args *a, gc_error *err)
{
    corr_data d;
    corr_charts ch;
    char out_dir[EVAL_PATH_MAX], path[EVAL_PATH_MAX];
    char *json = NULL, *csv = NULL;
    textbuf tb;
    report *r = NULL;
    int rc = GC_FAIL;
    memset(&ch, 0, sizeof ch);
    textbuf_init(&tb);
    if (read_logs(&d, a, err) != GC_OK) {
        corr_free(&d);
        return GC_FAIL;
    }
    corr_compute(&d);
    if (a->out) {
        snprintf(out_dir, sizeof out_dir, "%s", a->out);
    } else {
        char dd[EVAL_PATH_MAX];
        path_dir(a->csvs[0], dd, sizeof dd);
        if (path_join(out_dir, sizeof out_dir, dd, "correlate", err) != GC_OK) goto done;
    }
    json = correlate_json(&d, a);
    correlate_csv(&tb, &d);
    csv = textbuf_release(&tb);
    if (!json || !csv) {
        gc_fail(err, "correlate: out of memory");
        goto done;
    }
    if (corr_make_charts(&d, &ch, err) != GC_OK) goto done;
    r = report_begin("Consistency and accuracy over training (paper Table 2, Figures 1-2)");
    if (!r) {
        gc_fail(err, "report: out of memory");
        goto done;
    }
    {
        char *p = sfmt("For each training run (one row per epoch in its log), the Pearson and "
                       "Spearman correlation between L_CAM (column %s) and Cohen's kappa, and "
                       "between L_CAM and accuracy, over epochs. A negative r means the epochs "
                       "with more consistent Grad-CAM maps (lower L_CAM) have higher kappa. "
                       "Epochs whose L_CAM is NaN are left out. Logs: %d file(s), %zu run(s), "
                       "%zu model(s).",
                       d.variant, a->n_csvs, d.n_runs, d.n_models);
        report_p(r, p);
        free(p);
    }
    report_h2(r, "Correlations");
    corr_report_tables(r, &d);
    report_h2(r, "kappa and accuracy against L_CAM (paper Figures 1-2)");
    if (report_svg(r, ch.scatter_kappa, "One point per epoch; colour and marker per model, "
                                        "least-squares line over the model's points.", err) ||
        report_svg(r, ch.scatter_acc, NULL, err))
        goto done;
    report_h2(r, "Learning curves");
    if (report_svg(r, ch.curve_acc, NULL, err) || report_svg(r, ch.curve_kappa, NULL, err) ||
        report_svg(r, ch.curve_lcam, NULL, err))
        goto done;
    if (make_dirs(out_dir, err) != GC_OK) goto done;
    if (write_text(out_dir, "scatter_kappa.svg", ch.scatter_kappa, err) ||
        write_text(out_dir, "scatter_accuracy.svg", ch.scatter_acc, err) ||
        write_text(out_dir, "curves_accuracy.svg", ch.curve_acc, err) ||
        write_text(out_dir, "curves_kappa.svg", ch.curve_kappa, err) ||
        write_text(out_dir, "curves_lcam.svg", ch.curve_lcam, err) ||
        write_text(out_dir, "correlate.csv", csv, err) ||
        write_text(out_dir, "correlate.json", json, err))
        goto done;
    if (path_join(path, sizeof path, out_dir, "report.html", err) != GC_OK ||
        report_write(r, path, err) != GC_OK)
        goto done;
    if (a->json)
        fputs(json, stdout);
    else
        print_corr(stdout, &d);
    fprintf(a->json ? stderr : stdout, "report: %s\n", path);
    rc = GC_OK;
done:
    report_free(r);
    charts_free(&ch);
    free(json);
    free(csv);
    textbuf_free(&tb);
    corr_free(&d);
    return rc;
}

/* ------------------------------------------------------------------------ */

int main(int argc, char **argv)
{
    eval_args a;
    gc_error err;
    int rc;
    err.msg[0] = '\0';
    rc = parse_args(argc, argv, &a, &err);
    if (rc == PARSE_HELP) {
        print_help(stdout);
        return 0;
    }
    if (rc != GC_OK) {
        fprintf(stderr, "eval: %s\nRun 'eval --help' for the flags and their defaults.\n",
                err.msg);
        return EXIT_USAGE;
    }
    rc = a.correlate ? run_correlate(&a, &err) : run_eval(&a, &err);
    if (rc != GC_OK) {
        fprintf(stderr, "eval: %s\n", err.msg);
        return EXIT_RUNTIME;
    }
    return 0;
}
