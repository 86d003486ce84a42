/* nn/core.c - error formatting, the always-on check, checked allocation. */
#include "nn/core.h"

#include <stdarg.h>
#include <string.h>

int gc_fail(gc_error *err, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return GC_FAIL;
}

void gc_check_failed(const char *cond, const char *file, int line)
{
    fprintf(stderr, "%s:%d: internal check failed: %s\n", file, line, cond);
    abort();
}

void *gc_calloc(size_t count, size_t size)
{
    void *p;
    if (count == 0 || size == 0) return calloc(1, 1);
    p = calloc(count, size);
    if (!p) {
        fprintf(stderr, "out of memory allocating %zu x %zu bytes\n", count, size);
        abort();
    }
    return p;
}

int gc_mul_size(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > (size_t)-1 / a) return 0;
    *out = a * b;
    return 1;
}

int gc_add_size(size_t a, size_t b, size_t *out)
{
    if (b > (size_t)-1 - a) return 0;
    *out = a + b;
    return 1;
}
