/*
 * io/checkpoint.c - model files and training checkpoints; see
 * io/checkpoint.h for the layout and the checks made when loading.
 */
#include "io/checkpoint.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <string.h>

/* Longest name built for an alias ("features.<T>.<suffix>"). */
#define CKPT_NAME_MAX 512
/* Largest int64 magnitude a double holds on both sides: [-2^63, 2^63). */
#define CKPT_TWO63 9223372036854775808.0

static int starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

int ckpt_add_store(st_writer *w, const param_store *ps, st_dtype dtype, gc_error *err)
{
    int i;
    for (i = 0; i < ps->count; i++) {
        const ps_entry *e = &ps->entry[i];
        const real *src = (e->kind == PS_PARAM ? ps->value : ps->buffer) + e->offset;
        if (e->disk_int64) {
            int64_t *iv = (int64_t *)gc_calloc(e->numel, sizeof *iv);
            size_t j;
            int rc;
            for (j = 0; j < e->numel; j++) {
                double v = (double)src[j];
                if (!(v >= -CKPT_TWO63 && v < CKPT_TWO63) || v != floor(v)) {
                    free(iv);
                    return gc_fail(err, "tensor '%s': value %g is not an integer", e->name, v);
                }
                iv[j] = (int64_t)v;
            }
            rc = st_writer_add_i64(w, e->name, e->ndim, e->shape, iv, err);
            free(iv);
            if (rc != GC_OK) return GC_FAIL;
        } else if (st_writer_add_real(w, e->name, e->ndim, e->shape, src, dtype, err) != GC_OK) {
            return GC_FAIL;
        }
    }
    return GC_OK;
}

static void format_shape(char *buf, size_t cap, int ndim, const int64_t *shape)
{
    size_t len = 0;
    int d;
    buf[0] = '\0';
    len += (size_t)snprintf(buf, cap, "[");
    for (d = 0; d < ndim && len < cap; d++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%lld", d ? ", " : "",
                                (long long)shape[d]);
    if (len < cap) snprintf(buf + len, cap - len, "]");
}

/* Shape and dtype of file tensor t against store entry e (reached through
 * an alias when t's name differs from e's). */
static int check_match(const st_file *f, const st_tensor *t, const ps_entry *e, gc_error *err)
{
    int same = t->ndim == e->ndim, d;
    char sb[ST_SHOW_BUF], nb[ST_SHOW_BUF + PS_NAME_MAX + 32];
    for (d = 0; same && d < e->ndim; d++) same = t->shape[d] == e->shape[d];
    if (strcmp(t->name, e->name) != 0)
        snprintf(nb, sizeof nb, "tensor '%s' (alias of '%s')", st_show_name(t->name, sb),
                 e->name);
    else
        snprintf(nb, sizeof nb, "tensor '%s'", st_show_name(t->name, sb));
    if (!same) {
        char a[160], b[160];
        format_shape(a, sizeof a, t->ndim, t->shape);
        format_shape(b, sizeof b, e->ndim, e->shape);
        return gc_fail(err, "%s: %s: shape %s in the file, %s in the model",
                       st_path(f), nb, a, b);
    }
    if (e->disk_int64 && !st_dtype_is_int(t->dtype))
        return gc_fail(err, "%s: %s: dtype %s, expected an integer type (I64)",
                       st_path(f), nb, st_dtype_name(t->dtype));
    if (!e->disk_int64 && !st_dtype_is_float(t->dtype))
        return gc_fail(err, "%s: %s: dtype %s, expected a floating-point type "
                       "(F32 or F64)", st_path(f), nb, st_dtype_name(t->dtype));
    return GC_OK;
}

static int is_extra(const char *name, const char *const *prefixes)
{
    if (!prefixes) return 0;
    for (; *prefixes; prefixes++)
        if (**prefixes && starts_with(name, *prefixes)) return 1;
    return 0;
}

/* Read one file tensor into dst (numel values) with the entry's conversion. */
static int read_entry(st_file *f, const st_tensor *t, const ps_entry *e, real *dst,
                      gc_error *err)
{
    if (e->disk_int64) {
        /* Integers go through int64 so that a U64 beyond int64 is caught. */
        int64_t *iv = (int64_t *)gc_calloc(e->numel, sizeof *iv);
        size_t j;
        if (st_read_i64(f, t->name, iv, e->numel, err) != GC_OK) {
            free(iv);
            return GC_FAIL;
        }
        for (j = 0; j < e->numel; j++) dst[j] = (real)iv[j];
        free(iv);
        return GC_OK;
    }
    return st_read_real(f, t->name, dst, e->numel, err);
}

static int same_values(const real *a, const real *b, size_t n, size_t *where)
{
    size_t j;
    for (j = 0; j < n; j++)
        if (!(a[j] == b[j] || (isnan((double)a[j]) && isnan((double)b[j])))) {
            *where = j;
            return 0;
        }
    return 1;
}

int ckpt_load_store(st_file *f, param_store *ps, const ckpt_load_opts *opts, gc_error *err)
{
    const char *path = st_path(f);
    int target = opts ? opts->target : -1;
    const char *const *extra = opts ? opts->extra_prefixes : NULL;
    size_t alias_len = strlen(CKPT_ALIAS_PREFIX);
    const st_tensor **direct, **alias;
    real *tmp_value, *tmp_buffer, *scratch = NULL;
    size_t max_numel = 1;
    int i, n = st_count(f), rc = GC_FAIL;

    direct = (const st_tensor **)gc_calloc((size_t)(ps->count > 0 ? ps->count : 1),
                                           sizeof *direct);
    alias = (const st_tensor **)gc_calloc((size_t)(ps->count > 0 ? ps->count : 1),
                                          sizeof *alias);
    tmp_value = (real *)gc_calloc(ps->nvalue, sizeof(real));
    tmp_buffer = (real *)gc_calloc(ps->nbuffer, sizeof(real));

    /* 1. Classify every file tensor and check its shape and dtype. */
    for (i = 0; i < n; i++) {
        const st_tensor *t = st_tensor_at(f, i);
        int idx = ps_find(ps, t->name);
        char nb[ST_SHOW_BUF], sb[ST_SHOW_BUF];
        if (idx >= 0) {
            if (check_match(f, t, &ps->entry[idx], err) != GC_OK) goto done;
            direct[idx] = t;
        } else if (starts_with(t->name, CKPT_ALIAS_PREFIX)) {
            char full[CKPT_NAME_MAX];
            int len;
            if (target < 0) {
                gc_fail(err, "%s: tensor '%s' is a target-layer alias, but no target layer "
                        "index was given to resolve it", path, st_show_name(t->name, nb));
                goto done;
            }
            len = snprintf(full, sizeof full, "features.%d.%s", target, t->name + alias_len);
            idx = (len > 0 && (size_t)len < sizeof full) ? ps_find(ps, full) : -1;
            if (idx < 0) {
                gc_fail(err, "%s: tensor '%s' (alias of 'features.%d.%s') is not in the model",
                        path, st_show_name(t->name, nb), target,
                        st_show_name(t->name + alias_len, sb));
                goto done;
            }
            if (check_match(f, t, &ps->entry[idx], err) != GC_OK) goto done;
            alias[idx] = t;
        } else if (!is_extra(t->name, extra)) {
            gc_fail(err, "%s: unexpected tensor '%s' (not in the model)", path,
                    st_show_name(t->name, nb));
            goto done;
        }
    }
    /* 2. Every entry present. */
    for (i = 0; i < ps->count; i++) {
        if (!direct[i] && !alias[i]) {
            gc_fail(err, "%s: tensor '%s' is missing (the model needs it)", path,
                    ps->entry[i].name);
            goto done;
        }
        if (direct[i] && alias[i] && ps->entry[i].numel > max_numel)
            max_numel = ps->entry[i].numel;
    }
    /* 3. Read into temporaries; compare duplicated alias pairs. */
    scratch = (real *)gc_calloc(max_numel, sizeof(real));
    for (i = 0; i < ps->count; i++) {
        const ps_entry *e = &ps->entry[i];
        real *dst = (e->kind == PS_PARAM ? tmp_value : tmp_buffer) + e->offset;
        size_t where;
        if (read_entry(f, direct[i] ? direct[i] : alias[i], e, dst, err) != GC_OK) goto done;
        if (!direct[i] || !alias[i]) continue;
        if (read_entry(f, alias[i], e, scratch, err) != GC_OK) goto done;
        if (!same_values(dst, scratch, e->numel, &where)) {
            gc_fail(err, "%s: '%s' and its alias '%s' differ (element %zu: %.9g vs %.9g)", path,
                    e->name, alias[i]->name, where, (double)dst[where], (double)scratch[where]);
            goto done;
        }
    }
    /* 4. Commit. */
    if (ps->nvalue) memcpy(ps->value, tmp_value, ps->nvalue * sizeof(real));
    if (ps->nbuffer) memcpy(ps->buffer, tmp_buffer, ps->nbuffer * sizeof(real));
    rc = GC_OK;
done:
    free(direct);
    free(alias);
    free(tmp_value);
    free(tmp_buffer);
    free(scratch);
    return rc;
}

int ckpt_save_model(const char *path, const param_store *ps, const char *const *meta,
                    st_dtype dtype, gc_error *err)
{
    st_writer *w = st_writer_new(ST_DEFAULT);
    gc_error e;
    int rc = GC_OK;
    if (ckpt_add_store(w, ps, dtype, &e) != GC_OK) rc = GC_FAIL;
    for (; rc == GC_OK && meta && meta[0]; meta += 2) {
        if (!meta[1]) {
            gc_fail(&e, "metadata key '%s' has no value", meta[0]);
            rc = GC_FAIL;
        } else if (st_writer_meta(w, meta[0], meta[1], &e) != GC_OK) {
            rc = GC_FAIL;
        }
    }
    if (rc != GC_OK) gc_fail(err, "%s: %s", path, e.msg);
    else rc = st_writer_write(w, path, err);
    st_writer_free(w);
    return rc;
}

int ckpt_load_model(const char *path, param_store *ps, int target, const char *allow_prefix,
                    gc_error *err)
{
    const char *prefixes[2];
    ckpt_load_opts opts;
    st_file *f = st_open(path, err);
    int rc;
    if (!f) return GC_FAIL;
    prefixes[0] = allow_prefix;
    prefixes[1] = NULL;
    opts.target = target;
    opts.extra_prefixes = allow_prefix ? prefixes : NULL;
    rc = ckpt_load_store(f, ps, &opts, err);
    st_close(f);
    return rc;
}

/* prefix + suffix into buf; GC_FAIL if it does not fit. */
static int join_name(char *buf, size_t cap, const char *prefix, const char *suffix,
                     gc_error *err)
{
    int len = snprintf(buf, cap, "%s%s", prefix, suffix);
    if (len < 0 || (size_t)len >= cap) return gc_fail(err, "tensor name prefix too long");
    return GC_OK;
}

/* The tensor must exist with exactly shape[ndim]. */
static int check_shape(st_file *f, const char *name, int ndim, const int64_t *shape,
                       gc_error *err)
{
    const st_tensor *t = st_find(f, name);
    int same, d;
    if (!t) return gc_fail(err, "%s: tensor '%s' is missing", st_path(f), name);
    same = t->ndim == ndim;
    for (d = 0; same && d < ndim; d++) same = t->shape[d] == shape[d];
    if (!same) {
        char a[160], b[160];
        format_shape(a, sizeof a, t->ndim, t->shape);
        format_shape(b, sizeof b, ndim, shape);
        return gc_fail(err, "%s: tensor '%s': shape %s, expected %s", st_path(f), name, a, b);
    }
    return GC_OK;
}

int ckpt_read_real_shape(st_file *f, const char *name, int ndim, const int64_t *shape,
                         real *out, gc_error *err)
{
    const st_tensor *t;
    if (check_shape(f, name, ndim, shape, err) != GC_OK) return GC_FAIL;
    t = st_find(f, name);
    if (!st_dtype_is_float(t->dtype))
        return gc_fail(err, "%s: tensor '%s': dtype %s, expected a floating-point type",
                       st_path(f), name, st_dtype_name(t->dtype));
    return st_read_real(f, name, out, (size_t)t->numel, err);
}

int ckpt_add_adam(st_writer *w, const char *prefix, const adam *a, gc_error *err)
{
    char name[CKPT_NAME_MAX];
    double state[ADAM_STATE_LEN];
    int64_t shape[1];
    shape[0] = (int64_t)a->n;
    if (join_name(name, sizeof name, prefix, "m", err) != GC_OK ||
        st_writer_add_real(w, name, 1, shape, a->m, ST_REAL_NATIVE, err) != GC_OK)
        return GC_FAIL;
    if (join_name(name, sizeof name, prefix, "v", err) != GC_OK ||
        st_writer_add_real(w, name, 1, shape, a->v, ST_REAL_NATIVE, err) != GC_OK)
        return GC_FAIL;
    adam_state_export(a, state);
    shape[0] = ADAM_STATE_LEN;
    if (join_name(name, sizeof name, prefix, "state", err) != GC_OK ||
        st_writer_add_double(w, name, 1, shape, state, ST_F64, err) != GC_OK)
        return GC_FAIL;
    return GC_OK;
}

int ckpt_read_adam(st_file *f, const char *prefix, adam *a, gc_error *err)
{
    char name[CKPT_NAME_MAX];
    double state[ADAM_STATE_LEN];
    int64_t shape[1];
    real *m, *v;
    gc_error e;
    int rc = GC_FAIL;
    shape[0] = ADAM_STATE_LEN;
    if (join_name(name, sizeof name, prefix, "state", err) != GC_OK ||
        check_shape(f, name, 1, shape, err) != GC_OK ||
        st_read_double(f, name, state, ADAM_STATE_LEN, err) != GC_OK)
        return GC_FAIL;
    /* Read into temporaries so that a failure leaves a unchanged. */
    m = (real *)gc_calloc(a->n, sizeof(real));
    v = (real *)gc_calloc(a->n, sizeof(real));
    shape[0] = (int64_t)a->n;
    if (join_name(name, sizeof name, prefix, "m", err) != GC_OK ||
        ckpt_read_real_shape(f, name, 1, shape, m, err) != GC_OK)
        goto done;
    if (join_name(name, sizeof name, prefix, "v", err) != GC_OK ||
        ckpt_read_real_shape(f, name, 1, shape, v, err) != GC_OK)
        goto done;
    {
        adam check = *a;
        if (adam_state_import(&check, state, &e) != GC_OK) {
            gc_fail(err, "%s: %sstate: %s", st_path(f), prefix, e.msg);
            goto done;
        }
        adam_state_import(a, state, NULL);
    }
    if (a->n) {
        memcpy(a->m, m, a->n * sizeof(real));
        memcpy(a->v, v, a->n * sizeof(real));
    }
    rc = GC_OK;
done:
    free(m);
    free(v);
    return rc;
}

int ckpt_add_plateau(st_writer *w, const char *name, const plateau *p, gc_error *err)
{
    double state[PLATEAU_STATE_LEN];
    int64_t shape[1];
    shape[0] = PLATEAU_STATE_LEN;
    plateau_state_export(p, state);
    return st_writer_add_double(w, name, 1, shape, state, ST_F64, err);
}

int ckpt_read_plateau(st_file *f, const char *name, plateau *p, gc_error *err)
{
    double state[PLATEAU_STATE_LEN];
    int64_t shape[1];
    gc_error e;
    shape[0] = PLATEAU_STATE_LEN;
    if (check_shape(f, name, 1, shape, err) != GC_OK ||
        st_read_double(f, name, state, PLATEAU_STATE_LEN, err) != GC_OK)
        return GC_FAIL;
    if (plateau_state_import(p, state, &e) != GC_OK)
        return gc_fail(err, "%s: %s: %s", st_path(f), name, e.msg);
    return GC_OK;
}

int ckpt_add_rng(st_writer *w, const char *name, const rng *r, gc_error *err)
{
    int64_t shape[1];
    shape[0] = 4;
    return st_writer_add_u64(w, name, 1, shape, r->s, err);
}

int ckpt_read_rng(st_file *f, const char *name, rng *r, gc_error *err)
{
    uint64_t s[4];
    int64_t shape[1];
    shape[0] = 4;
    if (check_shape(f, name, 1, shape, err) != GC_OK || st_read_u64(f, name, s, 4, err) != GC_OK)
        return GC_FAIL;
    if ((s[0] | s[1] | s[2] | s[3]) == 0)
        return gc_fail(err, "%s: %s: all-zero RNG state (invalid for xoshiro)", st_path(f),
                       name);
    memcpy(r->s, s, sizeof s);
    return GC_OK;
}

int ckpt_meta_int(const st_file *f, const char *key, int64_t *out, gc_error *err)
{
    const char *s = st_meta(f, key);
    char *end;
    long long v;
    if (!s) return gc_fail(err, "%s: metadata '%s' is missing", st_path(f), key);
    errno = 0;
    v = strtoll(s, &end, 10);
    if (!(isdigit((unsigned char)s[0]) || s[0] == '-') || *end != '\0' || errno == ERANGE)
        return gc_fail(err, "%s: metadata '%s' = '%.60s' is not an integer", st_path(f), key, s);
    *out = (int64_t)v;
    return GC_OK;
}

int ckpt_meta_double(const st_file *f, const char *key, double *out, gc_error *err)
{
    const char *s = st_meta(f, key);
    char *end;
    double v;
    if (!s) return gc_fail(err, "%s: metadata '%s' is missing", st_path(f), key);
    errno = 0;
    v = strtod(s, &end);
    if (!(isdigit((unsigned char)s[0]) || s[0] == '-' || s[0] == '.') || end == s ||
        *end != '\0' || !isfinite(v))
        return gc_fail(err, "%s: metadata '%s' = '%.60s' is not a finite number", st_path(f),
                       key, s);
    *out = v;
    return GC_OK;
}
