/*
 * io/safetensors.c - safetensors reader and writer; see io/safetensors.h
 * for the format, what is validated and what is not done.
 */
#include "io/safetensors.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "io/atomic.h"
#include "io/json.h"
#include "io/textbuf.h"

/* Bytes read per chunk when decoding tensor data (a multiple of 8). */
#define ST_CHUNK 65536
/* Longest tensor name quoted in an error message (ST_SHOW_BUF - 4). */
#define ST_SHOW_NAME 80
typedef char st_assert_show_buf[ST_SHOW_BUF == ST_SHOW_NAME + 4 ? 1 : -1];

/* Float encoding goes through memcpy into same-sized integers. */
typedef char st_assert_float_size[sizeof(float) == 4 ? 1 : -1];
typedef char st_assert_double_size[sizeof(double) == 8 ? 1 : -1];

static const char *const dtype_names[ST_DTYPE_COUNT] = {
    "BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", "F16",
    "BF16", "I32", "U32", "F32", "F64", "I64", "U64"};
static const unsigned char dtype_sizes[ST_DTYPE_COUNT] = {1, 1, 1, 1, 1, 2, 2, 2,
                                                          2, 4, 4, 4, 8, 8, 8};

const char *st_dtype_name(st_dtype dt)
{
    return (int)dt >= 0 && dt < ST_DTYPE_COUNT ? dtype_names[dt] : "?";
}

size_t st_dtype_size(st_dtype dt)
{
    return (int)dt >= 0 && dt < ST_DTYPE_COUNT ? dtype_sizes[dt] : 0;
}

int st_dtype_is_float(st_dtype dt)
{
    return dt == ST_F16 || dt == ST_BF16 || dt == ST_F32 || dt == ST_F64;
}

int st_dtype_is_int(st_dtype dt)
{
    return dt == ST_BOOL || dt == ST_U8 || dt == ST_I8 || dt == ST_I16 || dt == ST_U16 ||
           dt == ST_I32 || dt == ST_U32 || dt == ST_I64 || dt == ST_U64;
}

/* ---- little-endian bytes ---- */

static uint64_t get_le(const unsigned char *p, size_t n)
{
    uint64_t v = 0;
    size_t i;
    for (i = n; i > 0; i--) v = (v << 8) | p[i - 1];
    return v;
}

static void put_le(unsigned char *p, uint64_t v, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        p[i] = (unsigned char)(v & 0xFF);
        v >>= 8;
    }
}

static float bits_to_float(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static double bits_to_double(uint64_t u)
{
    double d;
    memcpy(&d, &u, 8);
    return d;
}

static double f16_to_double(unsigned h)
{
    unsigned e = (h >> 10) & 0x1F, m = h & 0x3FF;
    double v;
    if (e == 0) v = ldexp((double)m, -24);
    else if (e == 31) v = m ? NAN : INFINITY;
    else v = ldexp((double)(m | 0x400), (int)e - 25);
    return (h & 0x8000) ? -v : v;
}

/* Two's complement 64-bit word -> int64 without implementation-defined casts. */
static int64_t u64_to_i64(uint64_t u)
{
    if (u <= (uint64_t)INT64_MAX) return (int64_t)u;
    return -(int64_t)(~u) - 1;
}

static uint64_t i64_to_u64(int64_t v)
{
    return v >= 0 ? (uint64_t)v : ~(uint64_t)(-(v + 1));
}

/* Sign-extend an n-byte two's complement word. */
static int64_t sext(uint64_t u, size_t n)
{
    uint64_t sign = (uint64_t)1 << (8 * n - 1);
    if (n == 8) return u64_to_i64(u);
    return (u & sign) ? (int64_t)u - (int64_t)(sign << 1) : (int64_t)u;
}

const char *st_show_name(const char *s, char *buf)
{
    size_t n = strlen(s), i;
    int cut = n > ST_SHOW_NAME;
    if (cut) {
        n = ST_SHOW_NAME;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) n--;
    }
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        buf[i] = (c < 0x20 || c == 0x7F) ? '?' : (char)c;
    }
    if (cut) {
        memcpy(buf + n, "...", 3);
        n += 3;
    }
    buf[n] = '\0';
    return buf;
}

/* ---- reading ---- */

struct st_file {
    char *path;
    FILE *fp;
    uint64_t file_size;
    uint64_t data_start;      /* 8 + header length */
    st_tensor *t;             /* (count) in header order; names owned */
    int count, cap;
    const st_tensor **by_name;  /* (count) sorted by name */
    char **mkey, **mval;      /* (mcount) in header order */
    int mcount, mcap;
    char ***meta_by_key;      /* (mcount) pointers into mkey, sorted by key */
};

const char *st_path(const st_file *f) { return f->path; }
int st_count(const st_file *f) { return f->count; }

const st_tensor *st_tensor_at(const st_file *f, int i)
{
    GC_CHECK(i >= 0 && i < f->count);
    return &f->t[i];
}

int st_meta_count(const st_file *f) { return f->mcount; }

void st_meta_at(const st_file *f, int i, const char **key, const char **value)
{
    GC_CHECK(i >= 0 && i < f->mcount);
    *key = f->mkey[i];
    *value = f->mval[i];
}

void st_close(st_file *f)
{
    int i;
    if (!f) return;
    if (f->fp) fclose(f->fp);
    for (i = 0; i < f->count; i++) free((char *)f->t[i].name);
    for (i = 0; i < f->mcount; i++) {
        free(f->mkey[i]);
        free(f->mval[i]);
    }
    free(f->t);
    free(f->by_name);
    free(f->mkey);
    free(f->mval);
    free(f->meta_by_key);
    free(f->path);
    free(f);
}

static int cmp_tensor_name(const void *a, const void *b)
{
    return strcmp((*(const st_tensor *const *)a)->name, (*(const st_tensor *const *)b)->name);
}

static int cmp_tensor_offset(const void *a, const void *b)
{
    const st_tensor *x = *(const st_tensor *const *)a, *y = *(const st_tensor *const *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int cmp_meta_key(const void *a, const void *b)
{
    return strcmp(**(char **const *)a, **(char **const *)b);
}

const st_tensor *st_find(const st_file *f, const char *name)
{
    int lo = 0, hi = f->count - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        int c = strcmp(name, f->by_name[mid]->name);
        if (c == 0) return f->by_name[mid];
        if (c < 0) hi = mid - 1;
        else lo = mid + 1;
    }
    return NULL;
}

const char *st_meta(const st_file *f, const char *key)
{
    int lo = 0, hi = f->mcount - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        int c = strcmp(key, *f->meta_by_key[mid]);
        if (c == 0) return f->mval[f->meta_by_key[mid] - f->mkey];
        if (c < 0) hi = mid - 1;
        else lo = mid + 1;
    }
    return NULL;
}

/* Rewrap a JSON error ("byte N: ...") with the file name. */
static int header_fail(const st_file *f, gc_error *err, const gc_error *jerr)
{
    return gc_fail(err, "%s: bad safetensors header: %s", f->path, jerr->msg);
}

static int grow_array(void **p, int *cap, int need, size_t elem)
{
    void *q;
    int ncap;
    size_t bytes;
    if (need <= *cap) return GC_OK;
    if (*cap > INT32_MAX / 2) return GC_FAIL;
    ncap = *cap ? 2 * *cap : 16;
    if (!gc_mul_size((size_t)ncap, elem, &bytes)) return GC_FAIL;
    q = realloc(*p, bytes);
    if (!q) return GC_FAIL;
    *p = q;
    *cap = ncap;
    return GC_OK;
}

static int parse_dtype(const char *s, st_dtype *out)
{
    int i;
    for (i = 0; i < ST_DTYPE_COUNT; i++)
        if (strcmp(s, dtype_names[i]) == 0) {
            *out = (st_dtype)i;
            return 1;
        }
    return 0;
}

/* One tensor entry {"dtype":..,"shape":[..],"data_offsets":[b,e]}; t->name set. */
static int parse_tensor(st_file *f, json_reader *r, st_tensor *t, gc_error *err)
{
    gc_error jerr;
    char nb[ST_SHOW_BUF];
    const char *nm = st_show_name(t->name, nb);
    int k, have_dtype = 0, have_shape = 0, have_off = 0;
    char *key;
    if (json_peek(r) != JSON_OBJECT)
        return gc_fail(err, "%s: tensor '%s': entry is not an object", f->path, nm);
    if (json_begin_object(r, &jerr) != GC_OK) return header_fail(f, err, &jerr);
    while ((k = json_next_key(r, &key, &jerr)) == 1) {
        if (strcmp(key, "dtype") == 0) {
            char *s;
            free(key);
            if (have_dtype++) return gc_fail(err, "%s: tensor '%s': dtype given twice", f->path, nm);
            if (json_peek(r) != JSON_STRING)
                return gc_fail(err, "%s: tensor '%s': dtype is not a string", f->path, nm);
            if (json_read_string(r, &s, NULL, &jerr) != GC_OK) return header_fail(f, err, &jerr);
            if (!parse_dtype(s, &t->dtype)) {
                char sb[ST_SHOW_BUF];
                gc_fail(err, "%s: tensor '%s': unknown dtype '%s'", f->path, nm, st_show_name(s, sb));
                free(s);
                return GC_FAIL;
            }
            free(s);
        } else if (strcmp(key, "shape") == 0) {
            int kk;
            free(key);
            if (have_shape++) return gc_fail(err, "%s: tensor '%s': shape given twice", f->path, nm);
            if (json_peek(r) != JSON_ARRAY)
                return gc_fail(err, "%s: tensor '%s': shape is not an array", f->path, nm);
            if (json_begin_array(r, &jerr) != GC_OK) return header_fail(f, err, &jerr);
            t->ndim = 0;
            while ((kk = json_next_item(r, &jerr)) == 1) {
                uint64_t d;
                if (t->ndim == ST_MAX_DIM)
                    return gc_fail(err, "%s: tensor '%s': more than %d dimensions", f->path, nm,
                                   ST_MAX_DIM);
                if (json_peek(r) != JSON_NUMBER || json_read_u64(r, &d, &jerr) != GC_OK)
                    return gc_fail(err, "%s: tensor '%s': shape entries must be non-negative "
                                   "integers", f->path, nm);
                if (d > (uint64_t)INT64_MAX)
                    return gc_fail(err, "%s: tensor '%s': dimension too large", f->path, nm);
                t->shape[t->ndim++] = (int64_t)d;
            }
            if (kk < 0) return header_fail(f, err, &jerr);
        } else if (strcmp(key, "data_offsets") == 0) {
            int kk, n = 0;
            uint64_t v[2] = {0, 0};
            free(key);
            if (have_off++)
                return gc_fail(err, "%s: tensor '%s': data_offsets given twice", f->path, nm);
            if (json_peek(r) != JSON_ARRAY)
                return gc_fail(err, "%s: tensor '%s': data_offsets is not an array", f->path, nm);
            if (json_begin_array(r, &jerr) != GC_OK) return header_fail(f, err, &jerr);
            while ((kk = json_next_item(r, &jerr)) == 1) {
                if (n == 2 || json_peek(r) != JSON_NUMBER ||
                    json_read_u64(r, &v[n], &jerr) != GC_OK)
                    return gc_fail(err, "%s: tensor '%s': data_offsets must be two non-negative "
                                   "integers", f->path, nm);
                n++;
            }
            if (kk < 0) return header_fail(f, err, &jerr);
            if (n != 2)
                return gc_fail(err, "%s: tensor '%s': data_offsets must be two non-negative "
                               "integers", f->path, nm);
            t->begin = v[0];
            t->end = v[1];
        } else {
            char kb[ST_SHOW_BUF];
            gc_fail(err, "%s: tensor '%s': unexpected field '%s'", f->path, nm, st_show_name(key, kb));
            free(key);
            return GC_FAIL;
        }
    }
    if (k < 0) return header_fail(f, err, &jerr);
    if (!have_dtype || !have_shape || !have_off)
        return gc_fail(err, "%s: tensor '%s': missing %s", f->path, nm,
                       !have_dtype ? "dtype" : !have_shape ? "shape" : "data_offsets");
    return GC_OK;
}

static int parse_metadata(st_file *f, json_reader *r, gc_error *err)
{
    gc_error jerr;
    int k;
    char *key;
    if (json_peek(r) != JSON_OBJECT)
        return gc_fail(err, "%s: __metadata__ is not an object", f->path);
    if (json_begin_object(r, &jerr) != GC_OK) return header_fail(f, err, &jerr);
    while ((k = json_next_key(r, &key, &jerr)) == 1) {
        char *val;
        if (json_peek(r) != JSON_STRING) {
            char kb[ST_SHOW_BUF];
            gc_fail(err, "%s: __metadata__ value of '%s' is not a string", f->path, st_show_name(key, kb));
            free(key);
            return GC_FAIL;
        }
        if (json_read_string(r, &val, NULL, &jerr) != GC_OK) {
            free(key);
            return header_fail(f, err, &jerr);
        }
        if (f->mcount == f->mcap) {
            int cap = f->mcap;
            int ok = grow_array((void **)&f->mkey, &cap, f->mcount + 1, sizeof(char *)) == GC_OK;
            cap = f->mcap;
            ok = ok && grow_array((void **)&f->mval, &cap, f->mcount + 1, sizeof(char *)) == GC_OK;
            if (!ok) {
                free(key);
                free(val);
                return gc_fail(err, "%s: out of memory reading the header", f->path);
            }
            f->mcap = cap;
        }
        f->mkey[f->mcount] = key;
        f->mval[f->mcount] = val;
        f->mcount++;
    }
    if (k < 0) return header_fail(f, err, &jerr);
    return GC_OK;
}

static int parse_header(st_file *f, const char *text, size_t len, gc_error *err)
{
    json_reader r;
    gc_error jerr;
    int k, have_meta = 0;
    char *key;
    json_reader_init(&r, text, len);
    if (len == 0 || text[0] != '{')
        return gc_fail(err, "%s: bad safetensors header: does not start with '{'", f->path);
    if (json_begin_object(&r, &jerr) != GC_OK) return header_fail(f, err, &jerr);
    while ((k = json_next_key(&r, &key, &jerr)) == 1) {
        st_tensor *t;
        if (strcmp(key, "__metadata__") == 0) {
            free(key);
            if (have_meta++) return gc_fail(err, "%s: __metadata__ given twice", f->path);
            if (parse_metadata(f, &r, err) != GC_OK) return GC_FAIL;
            continue;
        }
        if (grow_array((void **)&f->t, &f->cap, f->count + 1, sizeof(st_tensor)) != GC_OK) {
            free(key);
            return gc_fail(err, "%s: out of memory reading the header", f->path);
        }
        t = &f->t[f->count++];
        memset(t, 0, sizeof *t);
        t->name = key;
        if (parse_tensor(f, &r, t, err) != GC_OK) return GC_FAIL;
    }
    if (k < 0) return header_fail(f, err, &jerr);
    if (json_finish(&r, &jerr) != GC_OK) return header_fail(f, err, &jerr);
    return GC_OK;
}

/* Sizes, names and offsets, in header order for the per-tensor checks. */
static int validate(st_file *f, gc_error *err)
{
    char nb[ST_SHOW_BUF];
    uint64_t pos = 0, buffer = f->file_size - f->data_start;
    size_t nalloc;
    int i;
    for (i = 0; i < f->count; i++) {
        st_tensor *t = &f->t[i];
        uint64_t numel = 1, size = st_dtype_size(t->dtype);
        int d;
        for (d = 0; d < t->ndim; d++) {
            uint64_t s = (uint64_t)t->shape[d];
            if (s != 0 && numel > UINT64_MAX / s)
                return gc_fail(err, "%s: tensor '%s': element count overflows", f->path,
                               st_show_name(t->name, nb));
            numel *= s;
        }
        if (numel > UINT64_MAX / size)
            return gc_fail(err, "%s: tensor '%s': byte size overflows", f->path, st_show_name(t->name, nb));
        t->numel = numel;
        if (t->end < t->begin)
            return gc_fail(err, "%s: tensor '%s': data_offsets end %llu before begin %llu",
                           f->path, st_show_name(t->name, nb), (unsigned long long)t->end,
                           (unsigned long long)t->begin);
        if (t->end > buffer)
            return gc_fail(err, "%s: tensor '%s': data_offsets [%llu, %llu] beyond the %llu-byte "
                           "data buffer (truncated file?)", f->path, st_show_name(t->name, nb),
                           (unsigned long long)t->begin, (unsigned long long)t->end,
                           (unsigned long long)buffer);
        if (t->end - t->begin != numel * size)
            return gc_fail(err, "%s: tensor '%s': data_offsets span %llu bytes, but %s with "
                           "%llu elements needs %llu", f->path, st_show_name(t->name, nb),
                           (unsigned long long)(t->end - t->begin), dtype_names[t->dtype],
                           (unsigned long long)numel, (unsigned long long)(numel * size));
    }
    nalloc = f->count > 0 ? (size_t)f->count : 1;
    f->by_name = (const st_tensor **)malloc(nalloc * sizeof *f->by_name);
    if (!f->by_name) return gc_fail(err, "%s: out of memory reading the header", f->path);
    for (i = 0; i < f->count; i++) f->by_name[i] = &f->t[i];
    qsort(f->by_name, (size_t)f->count, sizeof *f->by_name, cmp_tensor_name);
    for (i = 1; i < f->count; i++)
        if (strcmp(f->by_name[i - 1]->name, f->by_name[i]->name) == 0)
            return gc_fail(err, "%s: duplicate tensor name '%s'", f->path,
                           st_show_name(f->by_name[i]->name, nb));
    /* Tiling: sort a copy by offset, then walk. */
    {
        const st_tensor **by_off = (const st_tensor **)malloc(nalloc * sizeof *by_off);
        int bad = 0;
        if (!by_off) return gc_fail(err, "%s: out of memory reading the header", f->path);
        memcpy(by_off, f->by_name, (size_t)f->count * sizeof *by_off);
        qsort(by_off, (size_t)f->count, sizeof *by_off, cmp_tensor_offset);
        for (i = 0; i < f->count && !bad; i++) {
            const st_tensor *t = by_off[i];
            if (t->begin < pos) {
                char pb[ST_SHOW_BUF];
                gc_fail(err, "%s: tensor '%s': data overlaps tensor '%s'", f->path,
                        st_show_name(t->name, nb), st_show_name(by_off[i - 1]->name, pb));
                bad = 1;
            } else if (t->begin > pos) {
                gc_fail(err, "%s: tensor '%s': gap in the data buffer before it (bytes %llu to "
                        "%llu belong to no tensor)", f->path, st_show_name(t->name, nb),
                        (unsigned long long)pos, (unsigned long long)t->begin);
                bad = 1;
            }
            pos = t->end;
        }
        free(by_off);
        if (bad) return GC_FAIL;
    }
    if (pos != buffer)
        return gc_fail(err, "%s: the tensors cover %llu bytes of the %llu-byte data buffer "
                       "(truncated file or trailing data)", f->path, (unsigned long long)pos,
                       (unsigned long long)buffer);
    /* Metadata keys. */
    nalloc = f->mcount > 0 ? (size_t)f->mcount : 1;
    f->meta_by_key = (char ***)malloc(nalloc * sizeof(char **));
    if (!f->meta_by_key) return gc_fail(err, "%s: out of memory reading the header", f->path);
    for (i = 0; i < f->mcount; i++) f->meta_by_key[i] = &f->mkey[i];
    qsort(f->meta_by_key, (size_t)f->mcount, sizeof(char **), cmp_meta_key);
    for (i = 1; i < f->mcount; i++)
        if (strcmp(*f->meta_by_key[i - 1], *f->meta_by_key[i]) == 0)
            return gc_fail(err, "%s: duplicate __metadata__ key '%s'", f->path,
                           st_show_name(*f->meta_by_key[i], nb));
    return GC_OK;
}

st_file *st_open(const char *path, gc_error *err)
{
    st_file *f;
    struct stat sb;
    unsigned char len8[8];
    uint64_t n;
    char *text;
    f = (st_file *)calloc(1, sizeof *f);
    if (!f || !(f->path = (char *)malloc(strlen(path) + 1))) {
        free(f);
        gc_fail(err, "%s: out of memory", path);
        return NULL;
    }
    strcpy(f->path, path);
    f->fp = fopen(path, "rb");
    if (!f->fp) {
        gc_fail(err, "%s: cannot open: %s", path, strerror(errno));
        goto fail;
    }
    if (fstat(fileno(f->fp), &sb) != 0) {
        gc_fail(err, "%s: cannot stat: %s", path, strerror(errno));
        goto fail;
    }
    if (!S_ISREG(sb.st_mode)) {
        gc_fail(err, "%s: not a regular file", path);
        goto fail;
    }
    f->file_size = (uint64_t)sb.st_size;
    if (f->file_size < 8) {
        gc_fail(err, "%s: too short for a safetensors file (%llu bytes)", path,
                (unsigned long long)f->file_size);
        goto fail;
    }
    if (fread(len8, 1, 8, f->fp) != 8) {
        gc_fail(err, "%s: cannot read the header length", path);
        goto fail;
    }
    n = get_le(len8, 8);
    if (n > ST_HEADER_MAX) {
        gc_fail(err, "%s: header length %llu exceeds the safetensors limit of %u bytes "
                "(not a safetensors file?)", path, (unsigned long long)n, ST_HEADER_MAX);
        goto fail;
    }
    if (n > f->file_size - 8) {
        gc_fail(err, "%s: header length %llu runs past the end of the %llu-byte file "
                "(truncated or not a safetensors file)", path, (unsigned long long)n,
                (unsigned long long)f->file_size);
        goto fail;
    }
    f->data_start = 8 + n;
    text = (char *)malloc((size_t)n + 1);
    if (!text) {
        gc_fail(err, "%s: out of memory for a %llu-byte header", path, (unsigned long long)n);
        goto fail;
    }
    if (fread(text, 1, (size_t)n, f->fp) != (size_t)n) {
        free(text);
        gc_fail(err, "%s: cannot read the %llu-byte header", path, (unsigned long long)n);
        goto fail;
    }
    if (parse_header(f, text, (size_t)n, err) != GC_OK || validate(f, err) != GC_OK) {
        free(text);
        goto fail;
    }
    free(text);
    return f;
fail:
    st_close(f);
    return NULL;
}

/* What a read converts to. */
typedef enum { TO_REAL, TO_DOUBLE, TO_I64, TO_U64 } st_target;

static double decode_double(st_dtype dt, const unsigned char *p)
{
    switch (dt) {
    case ST_F32: return (double)bits_to_float((uint32_t)get_le(p, 4));
    case ST_F64: return bits_to_double(get_le(p, 8));
    case ST_F16: return f16_to_double((unsigned)get_le(p, 2));
    case ST_BF16: return (double)bits_to_float((uint32_t)get_le(p, 2) << 16);
    case ST_BOOL: return p[0] != 0;
    case ST_U8: case ST_U16: case ST_U32: case ST_U64:
        return (double)get_le(p, dtype_sizes[dt]);
    default: /* I8..I64 */
        return (double)sext(get_le(p, dtype_sizes[dt]), dtype_sizes[dt]);
    }
}

static int read_any(st_file *f, const char *name, void *out, size_t count, st_target to,
                    gc_error *err)
{
    char nb[ST_SHOW_BUF];
    const st_tensor *t = st_find(f, name);
    unsigned char buf[ST_CHUNK];
    size_t size, per_chunk, done = 0;
    uint64_t pos;
    if (!t) return gc_fail(err, "%s: no tensor '%s'", f->path, st_show_name(name, nb));
    if ((uint64_t)count != t->numel)
        return gc_fail(err, "%s: tensor '%s' has %llu elements, expected %zu", f->path,
                       st_show_name(name, nb), (unsigned long long)t->numel, count);
    if ((to == TO_REAL || to == TO_DOUBLE) && !st_dtype_is_float(t->dtype) &&
        !st_dtype_is_int(t->dtype))
        return gc_fail(err, "%s: tensor '%s': dtype %s cannot be read as numbers", f->path,
                       st_show_name(name, nb), dtype_names[t->dtype]);
    if (to == TO_I64 && !st_dtype_is_int(t->dtype))
        return gc_fail(err, "%s: tensor '%s': dtype %s, expected an integer type", f->path,
                       st_show_name(name, nb), dtype_names[t->dtype]);
    if (to == TO_U64 && t->dtype != ST_I64 && t->dtype != ST_U64)
        return gc_fail(err, "%s: tensor '%s': dtype %s, expected I64 or U64", f->path,
                       st_show_name(name, nb), dtype_names[t->dtype]);
    size = dtype_sizes[t->dtype];
    per_chunk = ST_CHUNK / size;
    pos = f->data_start + t->begin;
    /* pos <= file size, which came from an off_t */
    if (fseeko(f->fp, (off_t)pos, SEEK_SET) != 0)
        return gc_fail(err, "%s: tensor '%s': cannot seek to its data", f->path, st_show_name(name, nb));
    while (done < count) {
        size_t k = count - done < per_chunk ? count - done : per_chunk, i;
        if (fread(buf, size, k, f->fp) != k)
            return gc_fail(err, "%s: tensor '%s': unexpected end of file or read error "
                           "(file changed since it was opened?)", f->path, st_show_name(name, nb));
        for (i = 0; i < k; i++) {
            const unsigned char *p = buf + i * size;
            size_t j = done + i;
            switch (to) {
            case TO_REAL: ((real *)out)[j] = (real)decode_double(t->dtype, p); break;
            case TO_DOUBLE: ((double *)out)[j] = decode_double(t->dtype, p); break;
            case TO_U64: ((uint64_t *)out)[j] = get_le(p, 8); break;
            case TO_I64: {
                uint64_t u = get_le(p, size);
                if (t->dtype == ST_BOOL) ((int64_t *)out)[j] = u != 0;
                else if (t->dtype == ST_U8 || t->dtype == ST_U16 || t->dtype == ST_U32 ||
                         t->dtype == ST_U64) {
                    if (u > (uint64_t)INT64_MAX)
                        return gc_fail(err, "%s: tensor '%s': U64 value beyond the int64 range",
                                       f->path, st_show_name(name, nb));
                    ((int64_t *)out)[j] = (int64_t)u;
                } else {
                    ((int64_t *)out)[j] = sext(u, size);
                }
                break;
            }
            }
        }
        done += k;
    }
    return GC_OK;
}

int st_read_real(st_file *f, const char *name, real *out, size_t count, gc_error *err)
{
    return read_any(f, name, out, count, TO_REAL, err);
}

int st_read_double(st_file *f, const char *name, double *out, size_t count, gc_error *err)
{
    return read_any(f, name, out, count, TO_DOUBLE, err);
}

int st_read_i64(st_file *f, const char *name, int64_t *out, size_t count, gc_error *err)
{
    return read_any(f, name, out, count, TO_I64, err);
}

int st_read_u64(st_file *f, const char *name, uint64_t *out, size_t count, gc_error *err)
{
    return read_any(f, name, out, count, TO_U64, err);
}

/* ---- writing ---- */

typedef struct st_wtensor {
    char *name;
    st_dtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIM];
    unsigned char *bytes;     /* (nbytes) encoded little-endian */
    size_t nbytes;
} st_wtensor;

struct st_writer {
    st_dtype real_dtype;
    st_wtensor *t;
    int count, cap;
    char **mkey, **mval;
    int mcount, mcap;
};

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = (char *)gc_calloc(n, 1);
    memcpy(d, s, n);
    return d;
}

st_writer *st_writer_new(st_dtype real_dtype)
{
    st_writer *w = (st_writer *)gc_calloc(1, sizeof *w);
    if (real_dtype == ST_DEFAULT) real_dtype = ST_REAL_NATIVE;
    GC_CHECK(real_dtype == ST_F32 || real_dtype == ST_F64);
    w->real_dtype = real_dtype;
    return w;
}

void st_writer_free(st_writer *w)
{
    int i;
    if (!w) return;
    for (i = 0; i < w->count; i++) {
        free(w->t[i].name);
        free(w->t[i].bytes);
    }
    for (i = 0; i < w->mcount; i++) {
        free(w->mkey[i]);
        free(w->mval[i]);
    }
    free(w->t);
    free(w->mkey);
    free(w->mval);
    free(w);
}

int st_writer_meta(st_writer *w, const char *key, const char *value, gc_error *err)
{
    char nb[ST_SHOW_BUF];
    int i;
    if (!json_utf8_valid(key, strlen(key)))
        return gc_fail(err, "metadata key '%s' is not valid UTF-8", st_show_name(key, nb));
    if (!json_utf8_valid(value, strlen(value)))
        return gc_fail(err, "metadata value of '%s' is not valid UTF-8", st_show_name(key, nb));
    for (i = 0; i < w->mcount; i++)
        if (strcmp(w->mkey[i], key) == 0)
            return gc_fail(err, "metadata key '%s' set twice", st_show_name(key, nb));
    if (w->mcount == w->mcap) {
        w->mcap = w->mcap ? 2 * w->mcap : 16;
        w->mkey = (char **)realloc(w->mkey, (size_t)w->mcap * sizeof(char *));
        w->mval = (char **)realloc(w->mval, (size_t)w->mcap * sizeof(char *));
        GC_CHECK(w->mkey != NULL && w->mval != NULL);
    }
    w->mkey[w->mcount] = dup_str(key);
    w->mval[w->mcount] = dup_str(value);
    w->mcount++;
    return GC_OK;
}

/* Checks name and shape, appends an entry with room for the data. */
static st_wtensor *add_entry(st_writer *w, const char *name, int ndim, const int64_t *shape,
                             st_dtype dtype, size_t *numel_out, gc_error *err)
{
    char nb[ST_SHOW_BUF];
    size_t numel = 1, nbytes;
    st_wtensor *t;
    int i;
    if (!name[0] || strcmp(name, "__metadata__") == 0 || !json_utf8_valid(name, strlen(name))) {
        gc_fail(err, "invalid tensor name '%s'", st_show_name(name, nb));
        return NULL;
    }
    if (ndim < 0 || ndim > ST_MAX_DIM) {
        gc_fail(err, "tensor '%s': %d dimensions (at most %d)", st_show_name(name, nb), ndim, ST_MAX_DIM);
        return NULL;
    }
    for (i = 0; i < ndim; i++)
        if (shape[i] < 0 || !gc_mul_size(numel, (size_t)shape[i], &numel)) {
            gc_fail(err, "tensor '%s': bad shape", st_show_name(name, nb));
            return NULL;
        }
    if (!gc_mul_size(numel, st_dtype_size(dtype), &nbytes)) {
        gc_fail(err, "tensor '%s': too large", st_show_name(name, nb));
        return NULL;
    }
    for (i = 0; i < w->count; i++)
        if (strcmp(w->t[i].name, name) == 0) {
            gc_fail(err, "tensor '%s' added twice", st_show_name(name, nb));
            return NULL;
        }
    if (w->count == w->cap) {
        w->cap = w->cap ? 2 * w->cap : 32;
        w->t = (st_wtensor *)realloc(w->t, (size_t)w->cap * sizeof *w->t);
        GC_CHECK(w->t != NULL);
    }
    t = &w->t[w->count];
    memset(t, 0, sizeof *t);
    t->dtype = dtype;
    t->ndim = ndim;
    for (i = 0; i < ndim; i++) t->shape[i] = shape[i];
    t->nbytes = nbytes;
    t->bytes = (unsigned char *)gc_calloc(nbytes ? nbytes : 1, 1);
    t->name = dup_str(name);
    *numel_out = numel;
    return t;
}

/* Drop the last entry again (an element failed to encode). */
static void drop_last(st_writer *w)
{
    w->count--;
    free(w->t[w->count].name);
    free(w->t[w->count].bytes);
}

static int add_floats(st_writer *w, const char *name, int ndim, const int64_t *shape,
                      const real *rdata, const double *ddata, st_dtype dtype, gc_error *err)
{
    char nb[ST_SHOW_BUF];
    size_t numel, i;
    st_wtensor *t;
    if (dtype == ST_DEFAULT) dtype = w->real_dtype;
    if (dtype != ST_F32 && dtype != ST_F64)
        return gc_fail(err, "tensor '%s': real data can be written as F32 or F64 only",
                       st_show_name(name, nb));
    t = add_entry(w, name, ndim, shape, dtype, &numel, err);
    if (!t) return GC_FAIL;
    w->count++;
    for (i = 0; i < numel; i++) {
        double v = rdata ? (double)rdata[i] : ddata[i];
        if (dtype == ST_F64) {
            uint64_t u;
            memcpy(&u, &v, 8);
            put_le(t->bytes + 8 * i, u, 8);
        } else {
            float fv;
            uint32_t u;
            /* Values from FLT_MAX + half an ulp (2^103) up round to inf. */
            if (isfinite(v) && fabs(v) >= (double)FLT_MAX + ldexp(1.0, 103)) {
                drop_last(w);
                return gc_fail(err, "tensor '%s': value %g at index %zu is beyond the F32 range",
                               st_show_name(name, nb), v, i);
            }
            fv = (float)v;
            memcpy(&u, &fv, 4);
            put_le(t->bytes + 4 * i, u, 4);
        }
    }
    return GC_OK;
}

int st_writer_add_real(st_writer *w, const char *name, int ndim, const int64_t *shape,
                       const real *data, st_dtype dtype, gc_error *err)
{
    return add_floats(w, name, ndim, shape, data, NULL, dtype, err);
}

int st_writer_add_double(st_writer *w, const char *name, int ndim, const int64_t *shape,
                         const double *data, st_dtype dtype, gc_error *err)
{
    return add_floats(w, name, ndim, shape, NULL, data, dtype, err);
}

int st_writer_add_i64(st_writer *w, const char *name, int ndim, const int64_t *shape,
                      const int64_t *data, gc_error *err)
{
    size_t numel, i;
    st_wtensor *t = add_entry(w, name, ndim, shape, ST_I64, &numel, err);
    if (!t) return GC_FAIL;
    w->count++;
    for (i = 0; i < numel; i++) put_le(t->bytes + 8 * i, i64_to_u64(data[i]), 8);
    return GC_OK;
}

int st_writer_add_u64(st_writer *w, const char *name, int ndim, const int64_t *shape,
                      const uint64_t *data, gc_error *err)
{
    size_t numel, i;
    st_wtensor *t = add_entry(w, name, ndim, shape, ST_I64, &numel, err);
    if (!t) return GC_FAIL;
    w->count++;
    for (i = 0; i < numel; i++) put_le(t->bytes + 8 * i, data[i], 8);
    return GC_OK;
}

int st_writer_write(const st_writer *w, const char *path, gc_error *err)
{
    static const size_t sizes[4] = {8, 4, 2, 1};
    textbuf tb;
    uint64_t *begin;
    uint64_t pos = 0;
    unsigned char len8[8];
    char tmp[GC_ATOMIC_PATH_MAX];
    FILE *fp;
    int i, s, first = 1;
    char *header;
    size_t hlen;
    begin = (uint64_t *)gc_calloc((size_t)(w->count ? w->count : 1), sizeof *begin);
    for (s = 0; s < 4; s++)
        for (i = 0; i < w->count; i++)
            if (st_dtype_size(w->t[i].dtype) == sizes[s]) {
                begin[i] = pos;
                pos += w->t[i].nbytes;
            }
    textbuf_init(&tb);
    textbuf_append(&tb, "{");
    if (w->mcount > 0) {
        textbuf_append(&tb, "\"__metadata__\":{");
        for (i = 0; i < w->mcount; i++) {
            if (i) textbuf_append(&tb, ",");
            json_append_string(&tb, w->mkey[i]);
            textbuf_append(&tb, ":");
            json_append_string(&tb, w->mval[i]);
        }
        textbuf_append(&tb, "}");
        first = 0;
    }
    for (i = 0; i < w->count; i++) {
        const st_wtensor *t = &w->t[i];
        int d;
        if (!first) textbuf_append(&tb, ",");
        first = 0;
        json_append_string(&tb, t->name);
        textbuf_printf(&tb, ":{\"dtype\":\"%s\",\"shape\":[", dtype_names[t->dtype]);
        for (d = 0; d < t->ndim; d++)
            textbuf_printf(&tb, "%s%lld", d ? "," : "", (long long)t->shape[d]);
        textbuf_printf(&tb, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)begin[i],
                       (unsigned long long)(begin[i] + t->nbytes));
    }
    textbuf_append(&tb, "}");
    while (!tb.failed && tb.len % 8 != 0) textbuf_append(&tb, " ");
    hlen = tb.len;
    header = textbuf_release(&tb);
    if (!header) {
        free(begin);
        return gc_fail(err, "%s: out of memory building the header", path);
    }
    fp = atomic_open(path, tmp, sizeof tmp, err);
    if (!fp) {
        free(header);
        free(begin);
        return GC_FAIL;
    }
    put_le(len8, (uint64_t)hlen, 8);
    fwrite(len8, 1, 8, fp);
    fwrite(header, 1, hlen, fp);
    for (s = 0; s < 4; s++)
        for (i = 0; i < w->count; i++)
            if (st_dtype_size(w->t[i].dtype) == sizes[s] && w->t[i].nbytes)
                fwrite(w->t[i].bytes, 1, w->t[i].nbytes, fp);
    free(header);
    free(begin);
    return atomic_commit(fp, tmp, path, err);
}
