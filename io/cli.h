/*
 * io/cli.h - strict parsing of command-line values for train and eval.
 * Every function rejects empty strings, trailing garbage, out-of-range
 * values and non-finite numbers with a message naming the flag:
 *   "--epochs: 'abc' is not an integer"
 */
#ifndef GC_CLI_H
#define GC_CLI_H

#include "nn/core.h"

int cli_int(const char *flag, const char *s, long lo, long hi, int *out, gc_error *err);
int cli_u64(const char *flag, const char *s, uint64_t *out, gc_error *err);
int cli_double(const char *flag, const char *s, double lo, double hi, double *out, gc_error *err);
/* Comma-separated lists: "1,2,5" / "-100,0,50". At most max items. */
int cli_int_list(const char *flag, const char *s, long lo, long hi, int *out, int max, int *count,
                 gc_error *err);
int cli_double_list(const char *flag, const char *s, double lo, double hi, double *out, int max,
                    int *count, gc_error *err);

#endif
