/*
 * nn/core.h - the few definitions every module shares.
 *
 * - `real`: the build's floating type. `make REAL=double` compiles everything
 *   with -DGC_REAL_DOUBLE; the derivative tests always link the double build.
 * - gc_error: library functions never exit; they return GC_OK / GC_FAIL and
 *   fill a gc_error with one line naming the file (or object) and the problem.
 *   Only train.c and eval.c decide to exit.
 * - GC_CHECK: an invariant check that stays on under -DNDEBUG. It is for
 *   programming errors (shape mismatches between layers), not for bad input.
 */
#ifndef GC_CORE_H
#define GC_CORE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#ifdef GC_REAL_DOUBLE
typedef double real;
#define REAL_NAME "double"
#else
typedef float real;
#define REAL_NAME "float"
#endif

#define GC_OK 0
#define GC_FAIL (-1)

typedef struct gc_error {
    char msg[512];
} gc_error;

/* Format msg into err (if err is not NULL) and return GC_FAIL. */
int gc_fail(gc_error *err, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Always-on invariant check: prints the failed condition and aborts. */
#define GC_CHECK(cond)                                                        \
    do {                                                                      \
        if (!(cond)) gc_check_failed(#cond, __FILE__, __LINE__);              \
    } while (0)
void gc_check_failed(const char *cond, const char *file, int line);

/* Allocation that never returns NULL for a non-zero size (aborts with a
 * message instead); used only for sizes the program itself derived from
 * validated shapes. Memory is zeroed. */
void *gc_calloc(size_t count, size_t size);

/* Overflow-checked size arithmetic: return 0 on overflow, 1 on success. */
int gc_mul_size(size_t a, size_t b, size_t *out);
int gc_add_size(size_t a, size_t b, size_t *out);

#endif
