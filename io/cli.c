/* io/cli.c - strict command-line value parsing (see cli.h). */
#include "io/cli.h"

#include <errno.h>
#include <math.h>
#include <string.h>

int cli_int(const char *flag, const char *s, long lo, long hi, int *out, gc_error *err)
{
    char *end;
    long v;
    if (!s || !*s) return gc_fail(err, "%s: missing value", flag);
    errno = 0;
    v = strtol(s, &end, 10);
    if (*end != '\0' || end == s) return gc_fail(err, "%s: '%s' is not an integer", flag, s);
    if (errno == ERANGE || v < lo || v > hi)
        return gc_fail(err, "%s: %s is out of range [%ld, %ld]", flag, s, lo, hi);
    *out = (int)v;
    return GC_OK;
}

int cli_u64(const char *flag, const char *s, uint64_t *out, gc_error *err)
{
    uint64_t v = 0;
    const char *p = s;
    if (!s || !*s) return gc_fail(err, "%s: missing value", flag);
    for (; *p; p++) {
        unsigned d;
        if (*p < '0' || *p > '9') return gc_fail(err, "%s: '%s' is not a non-negative integer", flag, s);
        d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10) return gc_fail(err, "%s: %s is too large", flag, s);
        v = v * 10 + d;
    }
    *out = v;
    return GC_OK;
}

int cli_double(const char *flag, const char *s, double lo, double hi, double *out, gc_error *err)
{
    char *end;
    double v;
    if (!s || !*s) return gc_fail(err, "%s: missing value", flag);
    errno = 0;
    v = strtod(s, &end);
    if (*end != '\0' || end == s) return gc_fail(err, "%s: '%s' is not a number", flag, s);
    if (errno == ERANGE || !isfinite(v) || v < lo || v > hi)
        return gc_fail(err, "%s: %s is out of range [%g, %g]", flag, s, lo, hi);
    *out = v;
    return GC_OK;
}

/* Split s at commas into a scratch copy; call parse on each item. */
static int parse_list(const char *flag, const char *s, int max, int *count, gc_error *err,
                      int (*parse)(const char *flag, const char *item, int i, void *ctx,
                                   gc_error *err),
                      void *ctx)
{
    char buf[1024], *item, *comma;
    int n = 0;
    if (!s || !*s) return gc_fail(err, "%s: missing value", flag);
    if (strlen(s) >= sizeof buf) return gc_fail(err, "%s: list too long", flag);
    strcpy(buf, s);
    item = buf;
    for (;;) {
        comma = strchr(item, ',');
        if (comma) *comma = '\0';
        if (n >= max) return gc_fail(err, "%s: more than %d values", flag, max);
        if (parse(flag, item, n, ctx, err) != GC_OK) return GC_FAIL;
        n++;
        if (!comma) break;
        item = comma + 1;
    }
    *count = n;
    return GC_OK;
}

typedef struct int_ctx { long lo, hi; int *out; } int_ctx;
typedef struct dbl_ctx { double lo, hi; double *out; } dbl_ctx;

static int parse_int_item(const char *flag, const char *item, int i, void *ctx, gc_error *err)
{
    int_ctx *c = (int_ctx *)ctx;
    return cli_int(flag, item, c->lo, c->hi, &c->out[i], err);
}

static int parse_dbl_item(const char *flag, const char *item, int i, void *ctx, gc_error *err)
{
    dbl_ctx *c = (dbl_ctx *)ctx;
    return cli_double(flag, item, c->lo, c->hi, &c->out[i], err);
}

int cli_int_list(const char *flag, const char *s, long lo, long hi, int *out, int max, int *count,
                 gc_error *err)
{
    int_ctx c;
    c.lo = lo;
    c.hi = hi;
    c.out = out;
    return parse_list(flag, s, max, count, err, parse_int_item, &c);
}

int cli_double_list(const char *flag, const char *s, double lo, double hi, double *out, int max,
                    int *count, gc_error *err)
{
    dbl_ctx c;
    c.lo = lo;
    c.hi = hi;
    c.out = out;
    return parse_list(flag, s, max, count, err, parse_dbl_item, &c);
}
