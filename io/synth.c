/*
 * io/synth.c - the synthetic scan-like data set (see io/synth.h for what the
 * images contain and why). DESIGN.md section 5.
 */
#include "io/synth.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>

#include "io/pgm.h"
#include "nn/rng.h"

#define SYNTH_TWO_PI 6.283185307179586
#define SYNTH_TEST_SALT UINT64_C(0x7e57da7a5eed0001)
#define SYNTH_INDEX_MIX UINT64_C(0xd1b54a32d192ed03)

/* Anatomy. */
#define SYNTH_HEAD_JITTER 0.02       /* sd of the head centre, image units */
#define SYNTH_SKULL_LEVEL 0.75
#define SYNTH_SKULL_WIDTH 0.045      /* in normalised head radius */
#define SYNTH_BRAIN_EDGE 0.92
#define SYNTH_BRAIN_SOFT 0.015
#define SYNTH_VENTRICLE_DEPTH 0.10
/* Lesions. */
#define SYNTH_LESION_DIST 0.22       /* from the head centre, image units */
#define SYNTH_LESION_JITTER 0.025    /* sd of the lesion position */
#define SYNTH_LESION_AMP_LO 0.25
#define SYNTH_LESION_AMP_HI 0.55
/* Nuisance. */
#define SYNTH_DISTRACT_AMP_LO 0.06
#define SYNTH_DISTRACT_AMP_HI 0.20
#define SYNTH_NOISE_LO 0.02
#define SYNTH_NOISE_HI 0.05

uint64_t synth_split_seed(uint64_t seed, int split)
{
    return split == 0 ? seed : seed ^ (SYNTH_TEST_SALT * (uint64_t)split);
}

int synth_label(uint64_t index, int classes) { return (int)(index % (uint64_t)classes); }

void synth_class_name(int c, char *out)
{
    if (c == 0) snprintf(out, SYNTH_NAME_MAX, "no_finding");
    else snprintf(out, SYNTH_NAME_MAX, "lesion_%c", 'a' + (c - 1) % 26);
}

/* One Gaussian-like blob; shape 0 solid, 1 ring, 2 elongated bar. */
typedef struct blob {
    double x, y;          /* centre, image units */
    double amp;           /* added intensity (negative: dark) */
    double sigma;         /* radius scale */
    double aspect;        /* bar: major/minor axis ratio */
    double angle;         /* bar orientation */
    double cos_angle, sin_angle;
    int shape;
} blob;

/* exp(-x/2), taken as 0 beyond x = SYNTH_GAUSS_CUT (exp(-9) < 2e-4: well
 * below one grey level of a blob). Saves most exp() calls. */
#define SYNTH_GAUSS_CUT 18.0
static double gauss(double x) { return x > SYNTH_GAUSS_CUT ? 0.0 : exp(-0.5 * x); }

static double blob_value(const blob *b, double u, double v)
{
    double dx = u - b->x, dy = v - b->y;
    if (b->shape == 1) {
        double d = sqrt(dx * dx + dy * dy) - 1.5 * b->sigma;
        double w = 0.55 * b->sigma;
        return b->amp * gauss(d * d / (w * w));
    }
    if (b->shape == 2) {
        double a = (b->cos_angle * dx + b->sin_angle * dy) / (b->sigma * b->aspect);
        double m = (-b->sin_angle * dx + b->cos_angle * dy) / (b->sigma * 0.7);
        return b->amp * gauss(a * a + m * m);
    }
    return b->amp * gauss((dx * dx + dy * dy) / (b->sigma * b->sigma));
}

/* "Gaussian-ish" noise: sum of 4 uniforms (Irwin-Hall), mean 0, sd 1. Four
 * integer draws per pixel instead of Box-Muller's log, sqrt and cos. */
static double noise(rng *r)
{
    double s = rng_uniform(r) + rng_uniform(r) + rng_uniform(r) + rng_uniform(r);
    return (s - 2.0) * 1.7320508075688772; /* sqrt(12 / 4) */
}

#define SYNTH_MAX_BLOBS 4
#define SYNTH_WAVE_CACHE 1024   /* columns whose intensity wave is precomputed */

/* The column factor of the smooth intensity variation (cached for x < 1024). */
static double col_wave(const double *col, int size, int x, double f1, double p1)
{
    return x < SYNTH_WAVE_CACHE ? col[x] : sin(SYNTH_TWO_PI * (f1 * ((x + 0.5) / size) + p1));
}
#define GC_SYNTH_PATH_MAX 4096

void synth_image(uint64_t seed, uint64_t index, int classes, int size, uint8_t *out)
{
    rng r0, r;
    blob blobs[SYNTH_MAX_BLOBS];
    int nblobs = 0, ndistract, label, k, x, y;
    double cx, cy, ax, ay, tilt, base, contrast, noise_sd;
    double f1, f2, p1, p2, var_amp, ct, st, col[SYNTH_WAVE_CACHE];

    GC_CHECK(classes >= SYNTH_MIN_CLASSES && classes <= SYNTH_MAX_CLASSES && size >= 1);
    rng_seed(&r0, seed);
    rng_seed(&r, rng_next(&r0) ^ (index * SYNTH_INDEX_MIX + 1));
    label = synth_label(index, classes);

    /* anatomy */
    cx = 0.5 + SYNTH_HEAD_JITTER * rng_normal(&r);
    cy = 0.5 + SYNTH_HEAD_JITTER * rng_normal(&r);
    ax = rng_uniform_range(&r, 0.36, 0.42);
    ay = rng_uniform_range(&r, 0.40, 0.46);
    tilt = rng_uniform_range(&r, -0.15, 0.15);
    base = rng_uniform_range(&r, 0.28, 0.38);
    f1 = rng_uniform_range(&r, 0.8, 2.0);
    f2 = rng_uniform_range(&r, 0.8, 2.0);
    p1 = rng_uniform(&r);
    p2 = rng_uniform(&r);
    var_amp = rng_uniform_range(&r, 0.05, 0.18);
    contrast = rng_uniform_range(&r, 0.85, 1.15);
    noise_sd = rng_uniform_range(&r, SYNTH_NOISE_LO, SYNTH_NOISE_HI);

    /* lesion */
    if (label > 0) {
        blob *b = &blobs[nblobs++];
        double angle = SYNTH_TWO_PI * (0.125 + (double)(label - 1) / (double)(classes - 1));
        double grow = 1.0 + 0.25 * (double)((label - 1) / 3);
        b->x = cx + SYNTH_LESION_DIST * cos(angle) + SYNTH_LESION_JITTER * rng_normal(&r);
        b->y = cy + SYNTH_LESION_DIST * sin(angle) + SYNTH_LESION_JITTER * rng_normal(&r);
        b->amp = rng_uniform_range(&r, SYNTH_LESION_AMP_LO, SYNTH_LESION_AMP_HI);
        b->sigma = grow * rng_uniform_range(&r, 0.04, 0.06);
        b->aspect = rng_uniform_range(&r, 2.2, 3.0);
        b->angle = angle + rng_uniform_range(&r, -0.3, 0.3);
        b->shape = (label - 1) % 3;
    }
    /* distractors: dimmer round blobs, bright or dark, anywhere in the head */
    ndistract = 1 + (int)rng_below(&r, 3);
    for (k = 0; k < ndistract; k++) {
        blob *b = &blobs[nblobs++];
        double rad = 0.75 * sqrt(rng_uniform(&r)), ang = SYNTH_TWO_PI * rng_uniform(&r);
        b->x = cx + rad * ax * cos(ang);
        b->y = cy + rad * ay * sin(ang);
        b->amp = rng_uniform_range(&r, SYNTH_DISTRACT_AMP_LO, SYNTH_DISTRACT_AMP_HI);
        if (rng_uniform(&r) < 0.4) b->amp = -b->amp;
        b->sigma = rng_uniform_range(&r, 0.02, 0.06);
        b->aspect = 1.0;
        b->angle = 0.0;
        b->shape = 0;
    }

    for (k = 0; k < nblobs; k++) {
        blobs[k].cos_angle = cos(blobs[k].angle);
        blobs[k].sin_angle = sin(blobs[k].angle);
    }
    ct = cos(tilt);
    st = sin(tilt);
    for (x = 0; x < size && x < SYNTH_WAVE_CACHE; x++) col[x] = sin(SYNTH_TWO_PI * (f1 * ((x + 0.5) / size) + p1));
    for (y = 0; y < size; y++) {
        double v = (y + 0.5) / size;
        double row_wave = cos(SYNTH_TWO_PI * (f2 * v + p2));
        for (x = 0; x < size; x++) {
            double u = (x + 0.5) / size;
            double dx = u - cx, dy = v - cy;
            double ru = (ct * dx + st * dy) / ax;
            double rv = (-st * dx + ct * dy) / ay;
            double rho = sqrt(ru * ru + rv * rv);
            double skull = (rho - 1.0) / SYNTH_SKULL_WIDTH;
            /* soft brain mask: a logistic step at SYNTH_BRAIN_EDGE, taken as exactly
             * 1 / 0 where it is within 5e-7 of them */
            double inside = rho < SYNTH_BRAIN_EDGE - 0.22   ? 1.0
                            : rho > SYNTH_BRAIN_EDGE + 0.22 ? 0.0
                            : 1.0 / (1.0 + exp((rho - SYNTH_BRAIN_EDGE) / SYNTH_BRAIN_SOFT));
            double vent_l = (ru + 0.16) * (ru + 0.16) / 0.01 + (rv + 0.05) * (rv + 0.05) / 0.04;
            double vent_r = (ru - 0.16) * (ru - 0.16) / 0.01 + (rv + 0.05) * (rv + 0.05) / 0.04;
            double val = SYNTH_SKULL_LEVEL * gauss(skull * skull);
            double q;
            if (inside > 1e-6) {
                val += inside * base *
                       (1.0 + var_amp * col_wave(col, size, x, f1, p1) * row_wave);
                val -= inside * SYNTH_VENTRICLE_DEPTH * (gauss(vent_l) + gauss(vent_r));
                for (k = 0; k < nblobs; k++) val += inside * blob_value(&blobs[k], u, v);
            }
            val = contrast * val + noise_sd * noise(&r);
            q = floor(val * SYNTH_MAXVAL + 0.5);
            if (q < 0) q = 0;
            if (q > SYNTH_MAXVAL) q = SYNTH_MAXVAL;
            out[(size_t)y * size + x] = (uint8_t)q;
        }
    }
}

static int make_dir(const char *path, gc_error *err)
{
    struct stat st;
    if (mkdir(path, 0777) == 0) return GC_OK;
    if (errno == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode)) return GC_OK;
    return gc_fail(err, "%s: cannot create directory: %s", path,
                   errno == EEXIST ? "a file of that name exists" : strerror(errno));
}

static int export_split(const char *out_dir, const char *split, int size, int classes,
                        int count, uint64_t seed, uint8_t *img, uint16_t *samples,
                        gc_error *err)
{
    char path[GC_SYNTH_PATH_MAX], name[SYNTH_NAME_MAX];
    int c, i;
    size_t k, npix = (size_t)size * (size_t)size;
    snprintf(path, sizeof path, "%s/%s", out_dir, split);
    if (make_dir(path, err) != GC_OK) return GC_FAIL;
    for (c = 0; c < classes; c++) {
        synth_class_name(c, name);
        snprintf(path, sizeof path, "%s/%s/%s", out_dir, split, name);
        if (make_dir(path, err) != GC_OK) return GC_FAIL;
    }
    for (i = 0; i < count; i++) {
        int n;
        synth_class_name(synth_label((uint64_t)i, classes), name);
        n = snprintf(path, sizeof path, "%s/%s/%s/%06d.pgm", out_dir, split, name, i);
        if (n < 0 || (size_t)n >= sizeof path)
            return gc_fail(err, "%s: output path too long", out_dir);
        synth_image(seed, (uint64_t)i, classes, size, img);
        for (k = 0; k < npix; k++) samples[k] = img[k];
        if (pgm_save(path, size, size, SYNTH_MAXVAL, samples, err) != GC_OK) return GC_FAIL;
    }
    return GC_OK;
}

int synth_export(const char *out_dir, int size, int classes, int count_train, int count_test,
                 uint64_t seed, gc_error *err)
{
    uint8_t *img;
    uint16_t *samples;
    int rc;
    if (classes < SYNTH_MIN_CLASSES || classes > SYNTH_MAX_CLASSES)
        return gc_fail(err, "synth: %d classes (must be %d..%d)", classes, SYNTH_MIN_CLASSES,
                       SYNTH_MAX_CLASSES);
    if (size < 1 || size > PGM_MAX_SIDE)
        return gc_fail(err, "synth: image size %d (must be 1..%d)", size, PGM_MAX_SIDE);
    if (count_train < 0 || count_test < 0)
        return gc_fail(err, "synth: negative image count");
    if (strlen(out_dir) + 64 >= GC_SYNTH_PATH_MAX)
        return gc_fail(err, "%s: output path too long", out_dir);
    if (make_dir(out_dir, err) != GC_OK) return GC_FAIL;
    img = malloc((size_t)size * (size_t)size);
    samples = malloc((size_t)size * (size_t)size * sizeof *samples);
    if (!img || !samples) {
        free(img);
        free(samples);
        return gc_fail(err, "synth: out of memory for a %dx%d image", size, size);
    }
    rc = export_split(out_dir, "train", size, classes, count_train, synth_split_seed(seed, 0),
                      img, samples, err);
    if (rc == GC_OK)
        rc = export_split(out_dir, "test", size, classes, count_test, synth_split_seed(seed, 1),
                          img, samples, err);
    free(img);
    free(samples);
    return rc;
}
