/*
 * io/checkpoint.h - model files and training checkpoints as safetensors
 * (io/safetensors.h) under PyTorch's state_dict names (DESIGN.md section 4).
 *
 * A model file holds every entry of a param_store (parameters and buffers;
 * num_batches_tracked as I64, the rest as F32 or F64) and metadata strings.
 * A training checkpoint is the same file plus extra tensors for the state
 * a resumed run needs; by convention their names start with "train." so a
 * loader can tell them apart (CKPT_TRAIN_PREFIX):
 *     train.adam.m, train.adam.v   (n) moments, exact (ST_REAL_NATIVE)
 *     train.adam.state             F64 [lr, beta1, beta2, eps, weight_decay, step]
 *     train.plateau                F64 [PLATEAU_STATE_LEN] (nn/plateau.h)
 *     train.rng                    I64 [4] xoshiro words as bit patterns
 *     anything else the program adds with st_writer_add_* (EMA maps, ...).
 * Writing: st_writer_new, ckpt_add_store, ckpt_add_adam / _plateau / _rng,
 * st_writer_add_* for the rest, st_writer_meta, st_writer_write (atomic).
 * Reading: st_open, ckpt_load_store (with the "train." prefix allowed),
 * ckpt_read_adam / _plateau / _rng / st_read_*, st_meta, st_close.
 * ckpt_save_model / ckpt_load_model do the plain model-file case in one call.
 *
 * Loading into an existing store (ckpt_load_store) checks, before changing
 * anything (all or nothing):
 *   - every file tensor is a store entry, a "_target_layer.<suffix>" alias,
 *     or starts with one of the allowed extra prefixes; anything else is an
 *     error ("unexpected tensor");
 *   - "_target_layer.<suffix>" stands for "features.<T>.<suffix>" with T
 *     given by the caller (the published PyTorch code registers its target
 *     layer twice, and safetensors' save_model may keep only this copy;
 *     DESIGN.md section 4). If both names are present their values must be
 *     equal; if T < 0 an alias is an error;
 *   - every store entry is present (directly or through the alias);
 *   - shapes are equal (a scalar is shape []); dtypes convertible:
 *     F16/BF16/F32/F64 for parameters and real buffers, an integer dtype
 *     for num_batches_tracked (disk_int64). PyTorch's F32 files load into
 *     the double build (and F64 files into the float build, rounded).
 * Every error of a load names the file and the tensor. Errors of the add
 * functions name the tensor only (a writer has no path until
 * st_writer_write); ckpt_save_model adds the path.
 *
 * Does not: keep PyTorch's optimizer state_dict format (the moments are one
 * flat array in param_store value order, not per-parameter dicts).
 */
#ifndef GC_IO_CHECKPOINT_H
#define GC_IO_CHECKPOINT_H

#include "io/safetensors.h"
#include "nn/adam.h"
#include "nn/params.h"
#include "nn/plateau.h"
#include "nn/rng.h"

#define CKPT_ALIAS_PREFIX "_target_layer."
#define CKPT_TRAIN_PREFIX "train."

typedef struct ckpt_load_opts {
    int target;                         /* T for "_target_layer.*" aliases; -1: no alias accepted */
    const char *const *extra_prefixes;  /* NULL-terminated list of name prefixes the
                                           loader skips (the caller reads them); NULL: none */
} ckpt_load_opts;

/* Add every entry of ps to w, in store order: real entries as dtype
 * (ST_F32, ST_F64, or ST_DEFAULT = the writer's real dtype), disk_int64
 * entries as I64 (their values must be integers: GC_FAIL otherwise). */
int ckpt_add_store(st_writer *w, const param_store *ps, st_dtype dtype, gc_error *err);

/* Load every entry of ps from f (see the top of this file). On failure ps
 * is unchanged. */
int ckpt_load_store(st_file *f, param_store *ps, const ckpt_load_opts *opts, gc_error *err);

/* A model file in one call: ps as dtype (ST_DEFAULT: the build's real
 * type), metadata from meta = {key, value, key, value, ..., NULL} (may be
 * NULL), written atomically. */
int ckpt_save_model(const char *path, const param_store *ps, const char *const *meta,
                    st_dtype dtype, gc_error *err);
/* Open path and ckpt_load_store with aliases for target (-1: none) and no
 * extra tensors allowed except those under allow_prefix (NULL: none, e.g.
 * CKPT_TRAIN_PREFIX to read the model part of a training checkpoint). */
int ckpt_load_model(const char *path, param_store *ps, int target, const char *allow_prefix,
                    gc_error *err);

/* Adam: <prefix>m, <prefix>v (a->n values, ST_REAL_NATIVE, exact) and
 * <prefix>state (F64 [ADAM_STATE_LEN]). prefix e.g. "train.adam.". */
int ckpt_add_adam(st_writer *w, const char *prefix, const adam *a, gc_error *err);
/* Restore into a, already adam_init'ed with the model's n (checked). */
int ckpt_read_adam(st_file *f, const char *prefix, adam *a, gc_error *err);

/* ReduceLROnPlateau: one F64 [PLATEAU_STATE_LEN] tensor. */
int ckpt_add_plateau(st_writer *w, const char *name, const plateau *p, gc_error *err);
int ckpt_read_plateau(st_file *f, const char *name, plateau *p, gc_error *err);

/* RNG: I64 [4], the xoshiro words as bit patterns. */
int ckpt_add_rng(st_writer *w, const char *name, const rng *r, gc_error *err);
int ckpt_read_rng(st_file *f, const char *name, rng *r, gc_error *err);

/* Read an extra real tensor whose shape must be exactly shape[ndim]. */
int ckpt_read_real_shape(st_file *f, const char *name, int ndim, const int64_t *shape,
                         real *out, gc_error *err);

/* Metadata as numbers: the key must exist and hold a whole decimal integer
 * (ckpt_meta_int) or a finite number (ckpt_meta_double); errors name the
 * file and key. */
int ckpt_meta_int(const st_file *f, const char *key, int64_t *out, gc_error *err);
int ckpt_meta_double(const st_file *f, const char *key, double *out, gc_error *err);

#endif
