/*
 * io/dataset.c - data set handles: list a source (synth, ImageFolder, IDX),
 * optionally take a stratified subset, decode and resize every image once
 * into an integer cache, and serve normalised, optionally augmented model
 * inputs. DESIGN.md section 5; the rules are in io/dataset.h.
 */
#include "io/dataset.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "io/idx.h"
#include "io/pgm.h"
#include "io/preprocess.h"
#include "io/synth.h"

#define DATASET_PATH_MAX 4096
#define DATASET_NAME_MAX 256             /* longest class name */
#define DATASET_LIMIT_SALT UINT64_C(0x5eb5e7c0ffee1234)
#define DATASET_FLIP_P 0.5

/* ---- small growable arrays ------------------------------------------- */

typedef struct strvec {
    char **v;
    size_t n, cap;
} strvec;

static int strvec_push(strvec *s, const char *str)
{
    char *copy;
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 16;
        char **v = realloc(s->v, cap * sizeof *v);
        if (!v) return GC_FAIL;
        s->v = v;
        s->cap = cap;
    }
    copy = malloc(strlen(str) + 1);
    if (!copy) return GC_FAIL;
    strcpy(copy, str);
    s->v[s->n++] = copy;
    return GC_OK;
}

static void strvec_free(strvec *s)
{
    size_t i;
    for (i = 0; i < s->n; i++) free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof *s);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void strvec_sort(strvec *s)
{
    if (s->n > 1) qsort(s->v, s->n, sizeof *s->v, cmp_str);
}

typedef struct intvec {
    int *v;
    size_t n, cap;
} intvec;

static int intvec_push(intvec *s, int x)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 64;
        int *v = realloc(s->v, cap * sizeof *v);
        if (!v) return GC_FAIL;
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = x;
    return GC_OK;
}

/* ---- listing: what the split holds, before decoding ------------------ */

enum { SRC_SYNTH, SRC_FILES, SRC_IDX };

typedef struct listing {
    int kind;
    size_t count;
    intvec labels;          /* [count] */
    size_t *src;            /* [count] synth stream index / IDX item (SYNTH, IDX) */
    strvec paths;           /* [count] image files (FILES) */
    strvec names;           /* [classes] */
    size_t skipped;
    uint64_t synth_seed;
    idx_images idx;
} listing;

static void listing_free(listing *L)
{
    free(L->labels.v);
    free(L->src);
    strvec_free(&L->paths);
    strvec_free(&L->names);
    idx_free_images(&L->idx);
    memset(L, 0, sizeof *L);
}

static int oom(gc_error *err, const char *what)
{
    return gc_fail(err, "%s: out of memory", what);
}

static int join_path(char *out, const char *a, const char *b, gc_error *err)
{
    int n = snprintf(out, DATASET_PATH_MAX, "%s/%s", a, b);
    if (n < 0 || n >= DATASET_PATH_MAX) return gc_fail(err, "%s/%s: path too long", a, b);
    return GC_OK;
}

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static int has_pgm_ext(const char *name)
{
    size_t n = strlen(name);
    return n > 4 && strcasecmp(name + n - 4, ".pgm") == 0;
}

/* Sorted names of the class folders of root (hidden names ignored). */
static int list_class_dirs(const char *root, strvec *names, gc_error *err)
{
    char path[DATASET_PATH_MAX];
    struct dirent *e;
    DIR *d = opendir(root);
    if (!d) return gc_fail(err, "%s: cannot open folder: %s", root, strerror(errno));
    /* readdir returns NULL at the end and on an error: errno tells them apart */
    while ((errno = 0, e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        if (join_path(path, root, e->d_name, err) != GC_OK) { closedir(d); return GC_FAIL; }
        if (!is_dir(path)) continue;
        if (strlen(e->d_name) >= DATASET_NAME_MAX) {
            closedir(d);
            return gc_fail(err, "%s: class folder name too long", path);
        }
        if (strvec_push(names, e->d_name) != GC_OK) { closedir(d); return oom(err, root); }
    }
    if (errno != 0) {
        int saved = errno;
        closedir(d);
        return gc_fail(err, "%s: cannot read folder: %s", root, strerror(saved));
    }
    closedir(d);
    if (names->n == 0)
        return gc_fail(err, "%s: no class folders (expected ROOT/<class>/*.pgm)", root);
    if (names->n > DATASET_MAX_CLASSES)
        return gc_fail(err, "%s: %zu class folders (limit %d)", root, names->n,
                       DATASET_MAX_CLASSES);
    strvec_sort(names);
    return GC_OK;
}

/* Append the sorted .pgm files of one class folder with label `label`. */
static int list_class_images(const char *dir, int label, listing *L, gc_error *err)
{
    char path[DATASET_PATH_MAX];
    struct dirent *e;
    strvec files = {NULL, 0, 0};
    size_t i, skipped = 0;
    DIR *d = opendir(dir);
    if (!d) return gc_fail(err, "%s: cannot open class folder: %s", dir, strerror(errno));
    while ((errno = 0, e = readdir(d)) != NULL) {
        const char *name = e->d_name;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) continue;
        if (join_path(path, dir, name, err) != GC_OK) goto fail;
        if (name[0] != '.' && has_pgm_ext(name) && is_file(path)) {
            if (strvec_push(&files, path) != GC_OK) { oom(err, dir); goto fail; }
        } else {
            skipped++;
        }
    }
    if (errno != 0) {
        gc_fail(err, "%s: cannot read class folder: %s", dir, strerror(errno));
        goto fail;
    }
    closedir(d);
    d = NULL;
    if (files.n == 0) {
        gc_fail(err, "%s: class folder has no .pgm images (%zu other entries skipped; "
                "convert images with data_prep.sh)", dir, skipped);
        goto fail;
    }
    strvec_sort(&files);
    for (i = 0; i < files.n; i++) {
        if (strvec_push(&L->paths, files.v[i]) != GC_OK ||
            intvec_push(&L->labels, label) != GC_OK) {
            oom(err, dir);
            goto fail;
        }
    }
    L->count += files.n;
    L->skipped += skipped;
    strvec_free(&files);
    return GC_OK;
fail:
    if (d) closedir(d);
    strvec_free(&files);
    return GC_FAIL;
}

/* ImageFolder `root`; class names from class_root (root itself or the
 * train split of the same DIR). */
static int list_image_folder(const char *root, const char *class_root, listing *L,
                             gc_error *err)
{
    char path[DATASET_PATH_MAX];
    size_t i;
    L->kind = SRC_FILES;
    if (list_class_dirs(class_root, &L->names, err) != GC_OK) return GC_FAIL;
    if (strcmp(root, class_root) == 0) {
        for (i = 0; i < L->names.n; i++) {
            if (join_path(path, root, L->names.v[i], err) != GC_OK ||
                list_class_images(path, (int)i, L, err) != GC_OK)
                return GC_FAIL;
        }
    } else {
        strvec here = {NULL, 0, 0};
        int rc = list_class_dirs(root, &here, err);
        for (i = 0; rc == GC_OK && i < here.n; i++) {
            char **hit = bsearch(&here.v[i], L->names.v, L->names.n, sizeof *L->names.v,
                                 cmp_str);
            if (!hit) {
                rc = gc_fail(err, "%s/%s: class '%s' is not a class folder of %s", root,
                             here.v[i], here.v[i], class_root);
                break;
            }
            rc = join_path(path, root, here.v[i], err);
            if (rc == GC_OK) rc = list_class_images(path, (int)(hit - L->names.v), L, err);
        }
        strvec_free(&here);
        if (rc != GC_OK) return GC_FAIL;
    }
    return GC_OK;
}

/* DIR/name, refusing a gzipped copy with the usual message. */
static int idx_member(const char *dir, const char *name, char *out, gc_error *err)
{
    char gz[DATASET_PATH_MAX];
    if (join_path(out, dir, name, err) != GC_OK) return GC_FAIL;
    if (exists(out)) return GC_OK;
    if (snprintf(gz, sizeof gz, "%s.gz", out) < (int)sizeof gz && exists(gz))
        return gc_fail(err, "%s: gzip-compressed: gunzip it or use data_prep.sh", gz);
    return gc_fail(err, "%s: missing (an IDX folder needs train-/t10k- images and labels)",
                   out);
}

/* Class names from classes.txt (one per non-empty line); *found = 0 when
 * there is no such file. */
static int read_class_file(const char *path, strvec *names, int *found, gc_error *err)
{
    char line[DATASET_NAME_MAX + 2];
    FILE *f;
    *found = 0;
    if (!exists(path)) return GC_OK;
    f = fopen(path, "r");
    if (!f) return gc_fail(err, "%s: cannot open: %s", path, strerror(errno));
    while (fgets(line, sizeof line, f)) {
        size_t n = strlen(line);
        if (n == sizeof line - 1 && line[n - 1] != '\n') {
            fclose(f);
            return gc_fail(err, "%s: class name longer than %d bytes", path,
                           DATASET_NAME_MAX - 1);
        }
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
        if (n == 0) continue;
        if (names->n >= DATASET_MAX_CLASSES || strvec_push(names, line) != GC_OK) {
            fclose(f);
            return gc_fail(err, "%s: too many classes or out of memory", path);
        }
    }
    fclose(f);
    if (names->n == 0) return gc_fail(err, "%s: no class names", path);
    *found = 1;
    return GC_OK;
}

static int list_idx(const char *images, const char *labels, listing *L, gc_error *err)
{
    char dir[DATASET_PATH_MAX], cls[DATASET_PATH_MAX];
    const char *slash = strrchr(images, '/');
    idx_labels lb;
    size_t i;
    int found = 0, rc;
    L->kind = SRC_IDX;
    if (slash) snprintf(dir, sizeof dir, "%.*s", (int)(slash - images), images);
    else snprintf(dir, sizeof dir, ".");
    if (join_path(cls, dir, "classes.txt", err) != GC_OK) return GC_FAIL;
    if (read_class_file(cls, &L->names, &found, err) != GC_OK) return GC_FAIL;
    if (!found) {
        for (i = 0; i < DATASET_IDX_DEFAULT_CLASSES; i++) {
            char name[16];
            snprintf(name, sizeof name, "%zu", i);
            if (strvec_push(&L->names, name) != GC_OK) return oom(err, images);
        }
    }
    if (idx_load_images(images, &L->idx, err) != GC_OK) return GC_FAIL;
    if (idx_load_labels(labels, &lb, err) != GC_OK) return GC_FAIL;
    rc = GC_OK;
    for (i = 0; !found && i < lb.count && rc == GC_OK; i++)
        if (lb.data[i] >= DATASET_IDX_DEFAULT_CLASSES)
            rc = gc_fail(err, "%s: label %d of item %zu is not below %d and no %s names "
                         "the classes", labels, lb.data[i], i, DATASET_IDX_DEFAULT_CLASSES, cls);
    if (rc == GC_OK) rc = idx_check_pair(&L->idx, &lb, (int)L->names.n, images, labels, err);
    if (rc == GC_OK) {
        L->count = L->idx.count;
        L->src = malloc(L->count * sizeof *L->src);
        if (!L->src) rc = oom(err, images);
        for (i = 0; rc == GC_OK && i < L->count; i++) {
            L->src[i] = i;
            if (intvec_push(&L->labels, lb.data[i]) != GC_OK) rc = oom(err, labels);
        }
    }
    idx_free_labels(&lb);
    return rc;
}

/* Parse a decimal made of digits only into [lo, hi]. */
static int parse_count(const char *s, long lo, long hi, long *out)
{
    long v = 0;
    if (!*s) return 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return 0;
        v = v * 10 + (*s - '0');
        if (v > hi) return 0;
    }
    if (v < lo) return 0;
    *out = v;
    return 1;
}

int dataset_synth_params(const char *spec, int *classes, size_t *count_train,
                         size_t *count_test, gc_error *err)
{
    char buf[64], *colon;
    long k = SYNTH_DEFAULT_CLASSES, n = -1;
    if (strlen(spec) >= sizeof buf || strncmp(spec, "synth", 5) != 0)
        return gc_fail(err, "%s: bad synth spec (synth, synth:K or synth:K:N)", spec);
    strcpy(buf, spec);
    if (buf[5] == ':') {
        colon = strchr(buf + 6, ':');
        if (colon) *colon = '\0';
        if (!parse_count(buf + 6, SYNTH_MIN_CLASSES, SYNTH_MAX_CLASSES, &k))
            return gc_fail(err, "%s: bad class count (synth:K with K in %d..%d)", spec,
                           SYNTH_MIN_CLASSES, SYNTH_MAX_CLASSES);
        if (colon && !parse_count(colon + 1, 1, DATASET_MAX_SYNTH, &n))
            return gc_fail(err, "%s: bad image count (synth:K:N with N in 1..%ld)", spec,
                           DATASET_MAX_SYNTH);
    } else if (buf[5] != '\0') {
        return gc_fail(err, "%s: bad synth spec (synth, synth:K or synth:K:N)", spec);
    }
    *classes = (int)k;
    if (n < 0) {
        *count_train = SYNTH_DEFAULT_TRAIN;
        *count_test = SYNTH_DEFAULT_TEST;
    } else {
        *count_train = (size_t)n;
        *count_test = (size_t)((n + 3) / 4 > k ? (n + 3) / 4 : k);
    }
    return GC_OK;
}

static int list_synth(const char *spec, int test, uint64_t seed, listing *L, gc_error *err)
{
    size_t count, count_train, count_test, i;
    int classes;
    L->kind = SRC_SYNTH;
    if (dataset_synth_params(spec, &classes, &count_train, &count_test, err) != GC_OK)
        return GC_FAIL;
    count = test ? count_test : count_train;
    L->synth_seed = synth_split_seed(seed, test);
    L->count = count;
    L->src = malloc(count * sizeof *L->src);
    if (!L->src) return oom(err, spec);
    for (i = 0; i < (size_t)classes; i++) {
        char name[SYNTH_NAME_MAX];
        synth_class_name((int)i, name);
        if (strvec_push(&L->names, name) != GC_OK) return oom(err, spec);
    }
    for (i = 0; i < count; i++) {
        L->src[i] = i;
        if (intvec_push(&L->labels, synth_label(i, classes)) != GC_OK) return oom(err, spec);
    }
    return GC_OK;
}

static int list_source(const char *spec, int test, uint64_t seed, listing *L, gc_error *err)
{
    char a[DATASET_PATH_MAX], b[DATASET_PATH_MAX];
    if (strcmp(spec, "synth") == 0 || strncmp(spec, "synth:", 6) == 0)
        return list_synth(spec, test, seed, L, err);
    if (strncmp(spec, "idx:", 4) == 0) {
        const char *comma = strchr(spec + 4, ',');
        if (!comma || comma == spec + 4 || !comma[1])
            return gc_fail(err, "%s: expected idx:IMAGES,LABELS", spec);
        if ((size_t)(comma - spec - 4) >= sizeof a || strlen(comma + 1) >= sizeof b)
            return gc_fail(err, "%s: path too long", spec);
        snprintf(a, sizeof a, "%.*s", (int)(comma - spec - 4), spec + 4);
        snprintf(b, sizeof b, "%s", comma + 1);
        return list_idx(a, b, L, err);
    }
    if (!is_dir(spec))
        return gc_fail(err, "%s: not a folder (a source is synth[:K[:N]], idx:IMAGES,LABELS, "
                       "or a folder of classes, splits or IDX files)", spec);
    /* IDX folder */
    {
        static const char *const members[] = {
            "train-images-idx3-ubyte", "t10k-images-idx3-ubyte",
            "train-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte.gz"};
        int k, found = 0;
        for (k = 0; k < 4 && !found; k++) {
            if (join_path(a, spec, members[k], err) != GC_OK) return GC_FAIL;
            found = exists(a);
        }
        if (found) {
            if (idx_member(spec, test ? "t10k-images-idx3-ubyte" : "train-images-idx3-ubyte",
                           a, err) != GC_OK ||
                idx_member(spec, test ? "t10k-labels-idx1-ubyte" : "train-labels-idx1-ubyte",
                           b, err) != GC_OK)
                return GC_FAIL;
            return list_idx(a, b, L, err);
        }
    }
    /* split ImageFolder or a single one */
    {
        int has_train, has_test;
        if (join_path(a, spec, "train", err) != GC_OK || join_path(b, spec, "test", err) != GC_OK)
            return GC_FAIL;
        has_train = is_dir(a);
        has_test = is_dir(b);
        if (has_train && has_test) return list_image_folder(test ? b : a, a, L, err);
        if (has_train || has_test)
            return gc_fail(err, "%s: has %s/ but no %s/ (a split folder needs both)", spec,
                           has_train ? "train" : "test", has_train ? "test" : "train");
        return list_image_folder(spec, spec, L, err);
    }
}

/* ---- stratified subset ------------------------------------------------ */

/* keep[i] = 1 for the chosen items (see dataset_limit in io/dataset.h). */
static int choose_subset(const int *labels, size_t count, int classes, size_t n, uint64_t seed,
                         unsigned char *keep, gc_error *err)
{
    size_t *members = malloc(count * sizeof *members);
    uint64_t *have = calloc((size_t)classes, sizeof *have);
    uint64_t *quota = calloc((size_t)classes, sizeof *quota);
    uint64_t *frac = calloc((size_t)classes, sizeof *frac);
    uint64_t given = 0;
    rng r;
    size_t i;
    int c;
    if (!members || !have || !quota || !frac) {
        free(members); free(have); free(quota); free(frac);
        return gc_fail(err, "subset of %zu items: out of memory", count);
    }
    for (i = 0; i < count; i++) have[labels[i]]++;
    for (c = 0; c < classes; c++) {
        quota[c] = (uint64_t)n * have[c] / (uint64_t)count;
        frac[c] = (uint64_t)n * have[c] % (uint64_t)count;
        given += quota[c];
    }
    while (given < n) { /* remainder: largest fractional part, ties to lower class */
        int best = -1;
        for (c = 0; c < classes; c++)
            if (quota[c] < have[c] && (best < 0 || frac[c] > frac[best])) best = c;
        quota[best]++;
        frac[best] = 0;
        given++;
    }
    memset(keep, 0, count);
    rng_seed(&r, seed ^ DATASET_LIMIT_SALT);
    for (c = 0; c < classes; c++) {
        size_t m = 0, j;
        for (i = 0; i < count; i++)
            if (labels[i] == c) members[m++] = i;
        for (j = 0; j < quota[c]; j++) { /* partial Fisher-Yates */
            size_t k = j + rng_below(&r, (uint32_t)(m - j)), t = members[j];
            members[j] = members[k];
            members[k] = t;
            keep[members[j]] = 1;
        }
    }
    free(members); free(have); free(quota); free(frac);
    return GC_OK;
}

static int listing_limit(listing *L, size_t n, uint64_t seed, gc_error *err)
{
    unsigned char *keep;
    size_t i, m = 0;
    if (n >= L->count) return GC_OK;
    keep = malloc(L->count);
    if (!keep) return oom(err, "subset");
    if (choose_subset(L->labels.v, L->count, (int)L->names.n, n, seed, keep, err) != GC_OK) {
        free(keep);
        return GC_FAIL;
    }
    for (i = 0; i < L->count; i++) {
        if (!keep[i]) {
            if (L->kind == SRC_FILES) free(L->paths.v[i]);
            continue;
        }
        L->labels.v[m] = L->labels.v[i];
        if (L->kind == SRC_FILES) L->paths.v[m] = L->paths.v[i];
        else L->src[m] = L->src[i];
        m++;
    }
    L->count = m;
    L->labels.n = m;
    if (L->kind == SRC_FILES) L->paths.n = m;
    free(keep);
    return GC_OK;
}

/* ---- decoding into the cache ------------------------------------------ */

typedef struct scratch {
    real *in, *tmp, *out;
    size_t in_cap, tmp_cap;
} scratch;

static int grow(real **buf, size_t *cap, size_t n)
{
    if (n <= *cap) return GC_OK;
    free(*buf);
    *buf = malloc(n * sizeof **buf);
    *cap = *buf ? n : 0;
    return *buf ? GC_OK : GC_FAIL;
}

/* Resize raw samples in (h, w) of maxval src_max into cache slot `index`. */
static void store_resized(dataset *ds, size_t index, scratch *s, int h, int w, int src_max)
{
    size_t npix = (size_t)ds->size * (size_t)ds->size, k;
    double scale = (double)ds->maxval / (double)src_max;
    resize_bilinear(s->in, h, w, s->out, ds->size, ds->size, s->tmp);
    for (k = 0; k < npix; k++) {
        double q = floor((double)s->out[k] * scale + 0.5);
        if (q < 0) q = 0;
        if (q > ds->maxval) q = ds->maxval;
        if (ds->pix8) ds->pix8[index * npix + k] = (uint8_t)q;
        else ds->pix16[index * npix + k] = (uint16_t)q;
    }
}

static int prepare_scratch(scratch *s, const dataset *ds, int h, int w, const char *what,
                           gc_error *err)
{
    if (grow(&s->in, &s->in_cap, (size_t)h * (size_t)w) != GC_OK ||
        grow(&s->tmp, &s->tmp_cap, (size_t)h * (size_t)ds->size) != GC_OK)
        return oom(err, what);
    return GC_OK;
}

/* Common maxval of the listed files (pre-pass over headers). */
static int files_maxval(const listing *L, int *maxval, gc_error *err)
{
    size_t i;
    int common = -1, mixed = 0, large = 0;
    for (i = 0; i < L->count; i++) {
        pgm_image info;
        if (pgm_probe(L->paths.v[i], &info, err) != GC_OK) return GC_FAIL;
        if (common < 0) common = info.maxval;
        else if (info.maxval != common) mixed = 1;
        if (info.maxval > 255) large = 1;
    }
    *maxval = !mixed ? common : large ? 65535 : 255;
    return GC_OK;
}

static int decode_all(dataset *ds, listing *L, gc_error *err)
{
    size_t npix = (size_t)ds->size * (size_t)ds->size, bytes, i;
    scratch s;
    int rc = GC_OK;
    memset(&s, 0, sizeof s);
    if (L->kind == SRC_FILES) {
        if (files_maxval(L, &ds->maxval, err) != GC_OK) return GC_FAIL;
    } else {
        ds->maxval = 255;
    }
    if (!gc_mul_size(L->count, npix, &bytes) ||
        !gc_mul_size(bytes, ds->maxval <= 255 ? 1 : 2, &bytes))
        return gc_fail(err, "%s: image cache size overflows", ds->description);
    if (ds->maxval <= 255) ds->pix8 = malloc(bytes ? bytes : 1);
    else ds->pix16 = malloc(bytes ? bytes : 1);
    ds->work = malloc(2 * npix * sizeof *ds->work);
    s.out = malloc(npix * sizeof *s.out);
    if ((!ds->pix8 && !ds->pix16) || !ds->work || !s.out) {
        free(s.out);
        return gc_fail(err, "%s: not enough memory for the image cache (%zu images at %dx%d, "
                       "%.0f MiB); take a subset with SPEC@N", ds->description, L->count,
                       ds->size, ds->size, (double)bytes / 1048576.0);
    }
    for (i = 0; i < L->count && rc == GC_OK; i++) {
        if (L->kind == SRC_SYNTH) {
            synth_image(L->synth_seed, L->src[i], ds->classes, ds->size,
                        ds->pix8 + i * npix);
        } else if (L->kind == SRC_IDX) {
            const uint8_t *im = L->idx.data + L->src[i] * (size_t)L->idx.height * L->idx.width;
            size_t k, n = (size_t)L->idx.height * (size_t)L->idx.width;
            if (L->idx.height == ds->size && L->idx.width == ds->size) {
                memcpy(ds->pix8 + i * npix, im, npix);
                continue;
            }
            rc = prepare_scratch(&s, ds, L->idx.height, L->idx.width, "IDX images", err);
            if (rc != GC_OK) break;
            for (k = 0; k < n; k++) s.in[k] = (real)im[k];
            store_resized(ds, i, &s, L->idx.height, L->idx.width, 255);
        } else {
            pgm_image img;
            size_t k, n;
            rc = pgm_load(L->paths.v[i], &img, err);
            if (rc != GC_OK) break;
            n = (size_t)img.width * (size_t)img.height;
            if (img.width == ds->size && img.height == ds->size && img.maxval == ds->maxval) {
                for (k = 0; k < n; k++) {
                    if (ds->pix8) ds->pix8[i * npix + k] = (uint8_t)img.data[k];
                    else ds->pix16[i * npix + k] = img.data[k];
                }
            } else {
                rc = prepare_scratch(&s, ds, img.height, img.width, L->paths.v[i], err);
                if (rc == GC_OK) {
                    for (k = 0; k < n; k++) s.in[k] = (real)img.data[k];
                    store_resized(ds, i, &s, img.height, img.width, img.maxval);
                }
            }
            pgm_free(&img);
        }
    }
    free(s.in);
    free(s.tmp);
    free(s.out);
    return rc;
}

/* ---- public API ---------------------------------------------------------- */

static void fill_description(dataset *ds, const char *spec, const char *split,
                             const listing *L, uint64_t seed)
{
    if (L->kind == SRC_SYNTH)
        snprintf(ds->description, sizeof ds->description,
                 "%s %s: %zu images, %d classes, %dx%d, data seed %llu", spec, split,
                 ds->count, ds->classes, ds->size, ds->size, (unsigned long long)seed);
    else
        snprintf(ds->description, sizeof ds->description,
                 "%s %s: %zu images, %d classes, %dx%d, maxval %d, %zu non-image entries "
                 "skipped", spec, split, ds->count, ds->classes, ds->size, ds->size,
                 ds->maxval, ds->skipped);
}

int dataset_open(dataset *ds, const char *spec, const char *split, int size, uint64_t seed,
                 gc_error *err)
{
    char base[DATASET_PATH_MAX];
    const char *at;
    long limit = 0;
    listing L;
    size_t i;
    int test, rc;

    memset(ds, 0, sizeof *ds);
    memset(&L, 0, sizeof L);
    if (strcmp(split, "train") == 0) test = 0;
    else if (strcmp(split, "test") == 0) test = 1;
    else return gc_fail(err, "%s: split must be train or test, not '%s'", spec, split);
    if (size < 1 || size > DATASET_MAX_SIZE)
        return gc_fail(err, "%s: model input size %d (must be 1..%d)", spec, size,
                       DATASET_MAX_SIZE);
    if (strlen(spec) >= sizeof base) return gc_fail(err, "%s: spec too long", spec);
    strcpy(base, spec);
    at = strrchr(spec, '@');
    if (at && at[1] && strspn(at + 1, "0123456789") == strlen(at + 1)) {
        if (!parse_count(at + 1, 1, 2000000000L, &limit))
            return gc_fail(err, "%s: bad subset size after '@' (must be >= 1)", spec);
        base[at - spec] = '\0';
    }
    rc = list_source(base, test, seed, &L, err);
    if (rc == GC_OK && limit > 0) rc = listing_limit(&L, (size_t)limit, seed, err);
    if (rc == GC_OK && L.count == 0) rc = gc_fail(err, "%s: no images", spec);
    if (rc != GC_OK) {
        listing_free(&L);
        return GC_FAIL;
    }
    ds->count = L.count;
    ds->classes = (int)L.names.n;
    ds->channels = 1;
    ds->size = size;
    ds->skipped = L.skipped;
    ds->labels = malloc(L.count * sizeof *ds->labels);
    if (!ds->labels) {
        listing_free(&L);
        return oom(err, spec);
    }
    for (i = 0; i < L.count; i++) ds->labels[i] = L.labels.v[i];
    /* hand the class names over */
    ds->class_names = L.names.v;
    L.names.v = NULL;
    L.names.n = L.names.cap = 0;
    snprintf(ds->description, sizeof ds->description, "%s %s", spec, split);
    rc = decode_all(ds, &L, err);
    if (rc == GC_OK) fill_description(ds, spec, split, &L, seed);
    listing_free(&L);
    if (rc != GC_OK) {
        dataset_free(ds);
        return GC_FAIL;
    }
    return GC_OK;
}

void dataset_free(dataset *ds)
{
    int c;
    if (!ds) return;
    for (c = 0; ds->class_names && c < ds->classes; c++) free(ds->class_names[c]);
    free(ds->class_names);
    free(ds->labels);
    free(ds->pix8);
    free(ds->pix16);
    free(ds->work);
    memset(ds, 0, sizeof *ds);
}

static real normalise(unsigned v, int maxval)
{
    return ((real)v / (real)maxval - (real)0.5) / (real)0.5;
}

void dataset_get(dataset *ds, size_t index, int augment, rng *r, real *out)
{
    int S = ds->size, y, x, flip;
    size_t npix = (size_t)S * (size_t)S, k;
    const uint8_t *p8;
    const uint16_t *p16;
    crop_box box;
    crop_range range;
    rng local;
    real *crop;

    GC_CHECK(index < ds->count);
    p8 = ds->pix8 ? ds->pix8 + index * npix : NULL;
    p16 = ds->pix16 ? ds->pix16 + index * npix : NULL;
    if (!augment) {
        for (k = 0; k < npix; k++) out[k] = normalise(p8 ? p8[k] : p16[k], ds->maxval);
        return;
    }
    GC_CHECK(r != NULL);
    rng_seed(&local, rng_next(r));
    flip = rng_uniform(&local) < DATASET_FLIP_P;
    range = crop_range_paper();
    random_resized_crop_params(S, S, &range, &local, &box);
    /* crop of the flipped image: flipped(y, x) = image(y, S - 1 - x) */
    crop = ds->work;
    for (y = 0; y < box.height; y++) {
        size_t row = (size_t)(box.top + y) * (size_t)S;
        for (x = 0; x < box.width; x++) {
            int sx = flip ? S - 1 - (box.left + x) : box.left + x;
            unsigned v = p8 ? p8[row + (size_t)sx] : p16[row + (size_t)sx];
            crop[(size_t)y * box.width + x] = normalise(v, ds->maxval);
        }
    }
    resize_bilinear(crop, box.height, box.width, out, S, S, ds->work + npix);
}

int dataset_limit(dataset *ds, size_t n, uint64_t seed, gc_error *err)
{
    unsigned char *keep;
    size_t npix = (size_t)ds->size * (size_t)ds->size, i, m = 0;
    if (n == 0) return gc_fail(err, "%s: subset of 0 images", ds->description);
    if (n >= ds->count) return GC_OK;
    keep = malloc(ds->count);
    if (!keep) return oom(err, ds->description);
    if (choose_subset(ds->labels, ds->count, ds->classes, n, seed, keep, err) != GC_OK) {
        free(keep);
        return GC_FAIL;
    }
    for (i = 0; i < ds->count; i++) {
        if (!keep[i]) continue;
        ds->labels[m] = ds->labels[i];
        if (m != i) {
            if (ds->pix8) memmove(ds->pix8 + m * npix, ds->pix8 + i * npix, npix);
            else memmove(ds->pix16 + m * npix, ds->pix16 + i * npix, npix * sizeof *ds->pix16);
        }
        m++;
    }
    ds->count = m;
    free(keep);
    return GC_OK;
}

void dataset_class_counts(const dataset *ds, size_t *counts)
{
    size_t i;
    int c;
    for (c = 0; c < ds->classes; c++) counts[c] = 0;
    for (i = 0; i < ds->count; i++) counts[ds->labels[i]]++;
}
