/*
 * io/safetensors.h - read and write safetensors files, the model file format
 * shared with PyTorch (DESIGN.md section 4: "A model file (safetensors)
 * written by PyTorch for these classes must load, and one written here must
 * load into PyTorch").
 *
 * Format: 8 bytes N (u64, little-endian), N bytes of UTF-8 JSON
 *     {"__metadata__": {"key": "value", ...},          (optional)
 *      "name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...}
 * padded with spaces, then the data buffer; offsets are relative to the
 * start of the buffer; data are C-order, little-endian.
 *
 * Reader (st_open) validates the whole header before anything is read, as
 * the reference implementation (huggingface/safetensors) does, and more:
 *   - the file is a regular file of at least 8 bytes; 8 + N <= file size;
 *     N <= ST_HEADER_MAX (the reference's 100,000,000) - so a hostile N
 *     never becomes an allocation;
 *   - the header is strict JSON (io/json.h) starting with '{'; trailing
 *     whitespace allowed; every tensor entry has exactly dtype, shape,
 *     data_offsets; "__metadata__" maps strings to strings; no duplicate
 *     tensor names, metadata keys or entry fields;
 *   - dtype is one of the reference's names; at most ST_MAX_DIM dims;
 *     numel and byte size computed with overflow checks;
 *     end - begin == numel * dtype size;
 *   - sorted by offset, the tensors tile the buffer exactly: the first
 *     starts at 0, each starts where the previous ends (no gap, no
 *     overlap), the last ends at the end of the file.
 * The first problem found is reported as "<path>: <problem>" (with the
 * tensor name when there is one). Memory: the header text (at most the
 * file's length) plus about 200 bytes per tensor entry, which needs at
 * least ~50 bytes of header text - so never more than a few times what
 * the file really holds. Data are read on demand, in fixed-size
 * chunks, decoded bytewise from little-endian (no unaligned loads, no
 * assumption about the host's byte order).
 *
 * Writer (st_writer): collects named tensors (encoded at add time, so the
 * caller's arrays need not outlive the call) and metadata strings, then
 * writes atomically (io/atomic.h). The header lists "__metadata__" first,
 * then tensors in the order added; data are laid out 8-byte types first,
 * then 4-byte, ... (each in the order added), so every tensor is aligned
 * to its element size; the header is space-padded to a multiple of 8.
 *
 * Does not: map the file (reads with stdio), read F8 dtypes as numbers,
 * write dtypes other than F32, F64, I64.
 */
#ifndef GC_IO_SAFETENSORS_H
#define GC_IO_SAFETENSORS_H

#include <stdint.h>

#include "nn/core.h"

#define ST_HEADER_MAX 100000000u   /* the reference implementation's limit */
#define ST_MAX_DIM 16

/* The reference's dtype names, in its order. */
typedef enum {
    ST_BOOL = 0,
    ST_U8,
    ST_I8,
    ST_F8_E5M2,
    ST_F8_E4M3,
    ST_I16,
    ST_U16,
    ST_F16,
    ST_BF16,
    ST_I32,
    ST_U32,
    ST_F32,
    ST_F64,
    ST_I64,
    ST_U64,
    ST_DTYPE_COUNT,
    /* For st_writer_add_real/_double: the writer's real dtype (st_writer_new). */
    ST_DEFAULT = -1
} st_dtype;

/* The exact file type of `real` in this build: F32 (float) or F64 (double). */
#ifdef GC_REAL_DOUBLE
#define ST_REAL_NATIVE ST_F64
#else
#define ST_REAL_NATIVE ST_F32
#endif

const char *st_dtype_name(st_dtype dt);   /* "F32"; "?" if out of range */
size_t st_dtype_size(st_dtype dt);        /* bytes per element; 0 if out of range */
int st_dtype_is_float(st_dtype dt);       /* F16, BF16, F32, F64 (readable as real) */
int st_dtype_is_int(st_dtype dt);         /* BOOL, U8..U64, I8..I64 (readable as int64) */

/* A name made safe for a one-line message: control bytes become '?', names
 * longer than 80 bytes are cut (at a UTF-8 boundary) and end with "...".
 * buf must hold ST_SHOW_BUF bytes; returns buf. */
#define ST_SHOW_BUF 84
const char *st_show_name(const char *name, char *buf);

/* ---- reading ---- */

typedef struct st_tensor {
    const char *name;
    st_dtype dtype;
    int ndim;                 /* 0 for a scalar */
    int64_t shape[ST_MAX_DIM];
    uint64_t numel;           /* product of shape (1 for a scalar) */
    uint64_t begin, end;      /* byte offsets into the data buffer */
} st_tensor;

typedef struct st_file st_file;

/* Open and validate path (see the top of this file). NULL + err on failure. */
st_file *st_open(const char *path, gc_error *err);
void st_close(st_file *f);                  /* NULL is fine */
const char *st_path(const st_file *f);

int st_count(const st_file *f);             /* number of tensors */
const st_tensor *st_tensor_at(const st_file *f, int i); /* in header order */
const st_tensor *st_find(const st_file *f, const char *name); /* NULL if absent */

/* Metadata ("__metadata__"): value for key, or NULL. */
const char *st_meta(const st_file *f, const char *key);
int st_meta_count(const st_file *f);
void st_meta_at(const st_file *f, int i, const char **key, const char **value);

/* Read tensor `name` into out[count]; count must equal its numel. A
 * floating dtype (F16, BF16, F32, F64) or an integer dtype converts to real
 * (rounding to nearest; integers beyond 2^53 / 2^24 lose exactness). Errors:
 * absent tensor, count mismatch, F8 dtype, I/O error. */
int st_read_real(st_file *f, const char *name, real *out, size_t count, gc_error *err);
int st_read_double(st_file *f, const char *name, double *out, size_t count, gc_error *err);
/* Integer dtypes only (U64 values above INT64_MAX are an error). */
int st_read_i64(st_file *f, const char *name, int64_t *out, size_t count, gc_error *err);
/* I64 or U64 read as raw 64-bit words (an I64 word is its two's complement
 * bit pattern): the inverse of st_writer_add_u64. */
int st_read_u64(st_file *f, const char *name, uint64_t *out, size_t count, gc_error *err);

/* ---- writing ---- */

typedef struct st_writer st_writer;

/* real_dtype: ST_F32, ST_F64, or ST_DEFAULT meaning ST_REAL_NATIVE; used by
 * adds that pass ST_DEFAULT. Never returns NULL (aborts on out of memory). */
st_writer *st_writer_new(st_dtype real_dtype);
void st_writer_free(st_writer *w);          /* NULL is fine */

/* Metadata: key and value are copied; both must be valid UTF-8; a key set
 * twice is an error. */
int st_writer_meta(st_writer *w, const char *key, const char *value, gc_error *err);

/* Add a tensor (data copied and encoded now). shape[ndim] entries >= 0,
 * ndim <= ST_MAX_DIM (0 = scalar, one element). dtype ST_F32, ST_F64 or
 * ST_DEFAULT. A finite value beyond the F32 range is an error for F32.
 * Names must be unique, non-empty, valid UTF-8, and not "__metadata__". */
int st_writer_add_real(st_writer *w, const char *name, int ndim, const int64_t *shape,
                       const real *data, st_dtype dtype, gc_error *err);
int st_writer_add_double(st_writer *w, const char *name, int ndim, const int64_t *shape,
                         const double *data, st_dtype dtype, gc_error *err);
/* Written as I64. */
int st_writer_add_i64(st_writer *w, const char *name, int ndim, const int64_t *shape,
                      const int64_t *data, gc_error *err);
/* Written as I64 holding the words' bit patterns (two's complement), so that
 * PyTorch versions without uint64 can still read the file. */
int st_writer_add_u64(st_writer *w, const char *name, int ndim, const int64_t *shape,
                      const uint64_t *data, gc_error *err);

/* Write everything to path atomically (temp file + rename). The writer can
 * be written again or freed afterwards. */
int st_writer_write(const st_writer *w, const char *path, gc_error *err);

#endif
