/*
 * io/csv.h - per-epoch CSV logs: a writer that keeps the file complete
 * after every row, and a reader for those logs (eval --correlate).
 *
 * Format (RFC 4180 with "\n" line ends): a header row of column names, then
 * one row per record. Numbers are printed with "%.9g" (enough to give back
 * every float exactly; doubles keep 9 significant digits); NaN is written
 * "nan", infinities "inf" / "-inf". A field that contains a comma, a quote,
 * CR or LF, or starts or ends with a space is quoted, with quotes doubled.
 *
 * Safety against partial writes: every csv_log_end_row rewrites the whole
 * file atomically (temp file + rename, io/atomic.h), so the file on disk is
 * always a complete CSV with a whole number of rows, never a torn last line,
 * whatever moment the program is killed at. The cost is O(rows) per row,
 * nothing for per-epoch logs (tens to thousands of rows). No fsync: this is
 * about crashes of the program, not power loss (see io/atomic.h).
 *
 * The reader accepts what the writer writes and ordinary RFC 4180 CSV:
 * quoted fields (with "" and embedded newlines), LF or CRLF line ends, a
 * missing final newline, blank lines (skipped), and lines starting with '#'
 * before the header (skipped, for provenance comments). It rejects, with
 * "<file>:<line>: <problem>": a row with a different number of fields than
 * the header, an unterminated quote, text after a closing quote, a quote
 * inside an unquoted field, duplicate or empty column names, NUL bytes, an
 * empty file, a file over CSV_MAX_BYTES; csv_table_numbers rejects a
 * missing column or a cell that is not a number (empty included; "nan",
 * "inf", "-inf" are numbers).
 */
#ifndef GC_IO_CSV_H
#define GC_IO_CSV_H

#include <stddef.h>

#include "nn/core.h"

#define CSV_MAX_BYTES ((size_t)64 << 20)
#define CSV_NUMBER_CHARS 32      /* buffer size for csv_format_number */

/* ---- writer ---- */

typedef struct csv_log csv_log;

/* Start a log at path with the given column names and write the header
 * (atomically) right away. NULL with err on failure. */
csv_log *csv_log_create(const char *path, const char *const *columns, size_t n_columns,
                        gc_error *err);

/* Continue an existing log: read path, check that its header is exactly
 * `columns`, keep its first keep_rows rows (all if fewer; more are dropped,
 * e.g. epochs after the checkpoint being resumed) and rewrite it. */
csv_log *csv_log_resume(const char *path, const char *const *columns, size_t n_columns,
                        size_t keep_rows, gc_error *err);

/* Index of a column by name, or -1. */
long csv_log_column(const csv_log *log, const char *name);

/* Set a cell of the row being built; col < n_columns (checked). */
void csv_log_set_number(csv_log *log, size_t col, double v);
void csv_log_set_text(csv_log *log, size_t col, const char *text);

/* Append the row being built (every cell must have been set) and rewrite
 * the file atomically. The row is then cleared. On failure the row is not
 * appended and the file is unchanged. */
int csv_log_end_row(csv_log *log, gc_error *err);

/* Set every cell from values (n_columns) and end the row. */
int csv_log_append_numbers(csv_log *log, const double *values, gc_error *err);

size_t csv_log_rows(const csv_log *log);
void csv_log_free(csv_log *log);

/* "%.9g", or "nan" / "inf" / "-inf". buf holds CSV_NUMBER_CHARS bytes. */
void csv_format_number(char *buf, double v);

/* ---- reader ---- */

typedef struct csv_table {
    char *name;           /* file name, for messages */
    size_t n_rows, n_cols;
    char **header;        /* (n_cols) column names */
    char **cells;         /* (n_rows, n_cols) unquoted field text */
    size_t *lines;        /* (n_rows) line where each row starts (1-based) */
    char *text_;          /* storage behind header and cells */
} csv_table;

/* Read and parse path. On failure *t is left empty (safe to free). */
int csv_read(csv_table *t, const char *path, gc_error *err);

/* Parse len bytes of text; name is used in messages. */
int csv_parse(csv_table *t, const char *text, size_t len, const char *name, gc_error *err);

void csv_table_free(csv_table *t);

/* Index of the column named name, or -1. */
long csv_table_column(const csv_table *t, const char *name);

/* Cell text (row < n_rows, col < n_cols, checked). */
const char *csv_table_cell(const csv_table *t, size_t row, size_t col);

/* out (n_rows) <- the column named name, parsed as numbers. GC_FAIL with
 * "<file>: no column 'name'" or "<file>:<line>: column 'name': 'x' is not a
 * number". */
int csv_table_numbers(double *out, const csv_table *t, const char *name, gc_error *err);

#endif
