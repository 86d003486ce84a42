/*
 * nn/params.h - the parameter store: every parameter and buffer of a model
 * under its PyTorch state_dict name (DESIGN.md section 4), in state_dict order.
 *
 * Layout: parameters live in one arena (`value`), their gradients in a second
 * arena with the same layout (`grad`), so optimisers and "largest difference
 * per tensor" are one loop over `entry`. Buffers (BatchNorm running_mean,
 * running_var, num_batches_tracked) live in a third arena (`buffer`) and have
 * no gradient. num_batches_tracked is kept as a real in memory (exact up to
 * 2^24 steps in float) and written as I64 on disk (`disk_int64`).
 *
 * Entries are added while a model is built; the arenas grow by realloc then,
 * so layers keep the entry *index* and fetch the pointer with ps_value /
 * ps_grad at use time. Once a model is built no entry is added.
 */
#ifndef GC_PARAMS_H
#define GC_PARAMS_H

#include "nn/core.h"

#define PS_NAME_MAX 96
#define PS_MAX_DIM 4

typedef enum { PS_PARAM = 0, PS_BUFFER = 1 } ps_kind;

typedef struct ps_entry {
    char name[PS_NAME_MAX];     /* "features.0.weight" */
    ps_kind kind;
    int disk_int64;             /* stored as I64 in files (num_batches_tracked) */
    int ndim;
    int64_t shape[PS_MAX_DIM];
    size_t offset;              /* into value/grad (PS_PARAM) or buffer (PS_BUFFER) */
    size_t numel;
} ps_entry;

typedef struct param_store {
    ps_entry *entry;
    int count, cap;
    real *value;                /* all parameters */
    real *grad;                 /* d loss / d value, same layout */
    size_t nvalue, value_cap;
    real *buffer;               /* all buffers */
    size_t nbuffer, buffer_cap;
} param_store;

void ps_init(param_store *ps);
void ps_free(param_store *ps);
/* Add an entry; returns its index. Names must be unique (checked). */
int ps_add(param_store *ps, const char *name, ps_kind kind, int ndim, const int64_t *shape);
int ps_find(const param_store *ps, const char *name); /* index or -1 */
real *ps_value(param_store *ps, int idx);  /* parameter value or buffer data */
real *ps_grad(param_store *ps, int idx);   /* gradient (NULL for a buffer) */
size_t ps_param_count(const param_store *ps);  /* number of parameter scalars */
void ps_zero_grad(param_store *ps);

#endif
