/* io/csv.c - CSV log writer and reader; see io/csv.h (format: RFC 4180). */
#include "io/csv.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "io/textbuf.h"

#define CSV_READ_CHUNK 65536
#define CSV_MSG_CELL 40          /* longest cell text quoted in a message */

static char *copy_str(const char *s)
{
    size_t n = strlen(s);
    char *p = (char *)malloc(n + 1);
    if (p) memcpy(p, s, n + 1);
    return p;
}

void csv_format_number(char *buf, double v)
{
    if (isnan(v))
        snprintf(buf, CSV_NUMBER_CHARS, "nan");
    else if (isinf(v))
        snprintf(buf, CSV_NUMBER_CHARS, "%s", v < 0 ? "-inf" : "inf");
    else
        snprintf(buf, CSV_NUMBER_CHARS, "%.9g", v);
}

static void append_field(textbuf *tb, const char *s)
{
    size_t n = strlen(s);
    int quote = n == 0 || strpbrk(s, ",\"\r\n") != NULL || s[0] == ' ' || s[n - 1] == ' ';
    if (!quote) {
        textbuf_append_n(tb, s, n);
        return;
    }
    textbuf_append(tb, "\"");
    for (; *s; s++) {
        if (*s == '"') textbuf_append(tb, "\"");
        textbuf_append_n(tb, s, 1);
    }
    textbuf_append(tb, "\"");
}

/* ---------------- writer ---------------- */

struct csv_log {
    char *path;
    size_t n_cols;
    char **columns;   /* (n_cols) */
    char **pending;   /* (n_cols) cells of the row being built, NULL = unset */
    textbuf text;     /* header and committed rows, as on disk */
    size_t rows;
};

void csv_log_free(csv_log *log)
{
    size_t i;
    if (!log) return;
    for (i = 0; i < log->n_cols; i++) {
        if (log->columns) free(log->columns[i]);
        if (log->pending) free(log->pending[i]);
    }
    free(log->columns);
    free(log->pending);
    free(log->path);
    textbuf_free(&log->text);
    free(log);
}

static csv_log *log_new(const char *path, const char *const *columns, size_t n_columns,
                        gc_error *err)
{
    csv_log *log;
    size_t i, j;
    if (!path || !*path) {
        gc_fail(err, "csv: empty output path");
        return NULL;
    }
    if (n_columns == 0 || !columns) {
        gc_fail(err, "%s: a CSV log needs at least one column", path);
        return NULL;
    }
    for (i = 0; i < n_columns; i++) {
        if (!columns[i] || !*columns[i]) {
            gc_fail(err, "%s: column %zu has an empty name", path, i + 1);
            return NULL;
        }
        for (j = 0; j < i; j++)
            if (strcmp(columns[i], columns[j]) == 0) {
                gc_fail(err, "%s: duplicate column name '%s'", path, columns[i]);
                return NULL;
            }
    }
    log = (csv_log *)calloc(1, sizeof *log);
    if (!log) goto oom;
    textbuf_init(&log->text);
    log->path = copy_str(path);
    log->columns = (char **)calloc(n_columns, sizeof *log->columns);
    log->pending = (char **)calloc(n_columns, sizeof *log->pending);
    if (!log->path || !log->columns || !log->pending) goto oom;
    log->n_cols = n_columns;
    for (i = 0; i < n_columns; i++) {
        log->columns[i] = copy_str(columns[i]);
        if (!log->columns[i]) goto oom;
        if (i) textbuf_append(&log->text, ",");
        append_field(&log->text, columns[i]);
    }
    textbuf_append(&log->text, "\n");
    return log;
oom:
    csv_log_free(log);
    gc_fail(err, "%s: out of memory", path);
    return NULL;
}

csv_log *csv_log_create(const char *path, const char *const *columns, size_t n_columns,
                        gc_error *err)
{
    csv_log *log = log_new(path, columns, n_columns, err);
    if (!log) return NULL;
    if (textbuf_write(&log->text, log->path, err) != GC_OK) {
        csv_log_free(log);
        return NULL;
    }
    return log;
}

csv_log *csv_log_resume(const char *path, const char *const *columns, size_t n_columns,
                        size_t keep_rows, gc_error *err)
{
    csv_table t;
    csv_log *log;
    size_t r, c;
    if (csv_read(&t, path, err) != GC_OK) return NULL;
    if (t.n_cols != n_columns) {
        gc_fail(err, "%s: header has %zu columns, expected %zu", path, t.n_cols, n_columns);
        csv_table_free(&t);
        return NULL;
    }
    for (c = 0; c < n_columns; c++)
        if (!columns || !columns[c] || strcmp(t.header[c], columns[c]) != 0) {
            gc_fail(err, "%s: column %zu is '%s', expected '%s'", path, c + 1, t.header[c],
                    columns && columns[c] ? columns[c] : "(null)");
            csv_table_free(&t);
            return NULL;
        }
    log = log_new(path, columns, n_columns, err);
    if (!log) {
        csv_table_free(&t);
        return NULL;
    }
    for (r = 0; r < t.n_rows && r < keep_rows; r++) {
        for (c = 0; c < n_columns; c++) {
            if (c) textbuf_append(&log->text, ",");
            append_field(&log->text, t.cells[r * n_columns + c]);
        }
        textbuf_append(&log->text, "\n");
        log->rows++;
    }
    csv_table_free(&t);
    if (textbuf_write(&log->text, log->path, err) != GC_OK) {
        csv_log_free(log);
        return NULL;
    }
    return log;
}

long csv_log_column(const csv_log *log, const char *name)
{
    size_t i;
    for (i = 0; i < log->n_cols; i++)
        if (strcmp(log->columns[i], name) == 0) return (long)i;
    return -1;
}

void csv_log_set_text(csv_log *log, size_t col, const char *text)
{
    GC_CHECK(col < log->n_cols);
    free(log->pending[col]);
    log->pending[col] = copy_str(text ? text : ""); /* NULL (out of memory) fails end_row */
    if (!log->pending[col]) log->text.failed = 1;
}

void csv_log_set_number(csv_log *log, size_t col, double v)
{
    char buf[CSV_NUMBER_CHARS];
    csv_format_number(buf, v);
    csv_log_set_text(log, col, buf);
}

int csv_log_end_row(csv_log *log, gc_error *err)
{
    size_t i, old_len = log->text.len;
    int rc;
    if (log->text.failed) return gc_fail(err, "%s: out of memory", log->path);
    for (i = 0; i < log->n_cols; i++)
        if (!log->pending[i])
            return gc_fail(err, "%s: row %zu: column '%s' was not set", log->path, log->rows + 1,
                           log->columns[i]);
    for (i = 0; i < log->n_cols; i++) {
        if (i) textbuf_append(&log->text, ",");
        append_field(&log->text, log->pending[i]);
    }
    textbuf_append(&log->text, "\n");
    rc = textbuf_write(&log->text, log->path, err);
    if (rc != GC_OK) {
        if (!log->text.failed) { /* forget the row; the file on disk is unchanged */
            log->text.len = old_len;
            log->text.data[old_len] = '\0';
        }
        return GC_FAIL;
    }
    log->rows++;
    for (i = 0; i < log->n_cols; i++) {
        free(log->pending[i]);
        log->pending[i] = NULL;
    }
    return GC_OK;
}

int csv_log_append_numbers(csv_log *log, const double *values, gc_error *err)
{
    size_t i;
    for (i = 0; i < log->n_cols; i++) csv_log_set_number(log, i, values[i]);
    return csv_log_end_row(log, err);
}

size_t csv_log_rows(const csv_log *log)
{
    return log->rows;
}

/* ---------------- reader ---------------- */

typedef struct record {
    size_t first, n, line; /* first field index, field count, starting line */
} record;

/* Growable arrays of size_t / record (sizes bounded by the input length). */
static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    size_t cap2 = *cap ? *cap : 64, bytes;
    void *q;
    if (need <= *cap) return 1;
    while (cap2 < need) cap2 *= 2;
    if (!gc_mul_size(cap2, elem, &bytes)) return 0;
    q = realloc(*p, bytes);
    if (!q) return 0;
    *p = q;
    *cap = cap2;
    return 1;
}

void csv_table_free(csv_table *t)
{
    if (!t) return;
    free(t->name);
    free(t->header);
    free(t->cells);
    free(t->lines);
    free(t->text_);
    memset(t, 0, sizeof *t);
}

int csv_parse(csv_table *t, const char *text, size_t len, const char *name, gc_error *err)
{
    char *out = NULL;
    size_t o = 0, pos = 0, line = 1;
    size_t *fields = NULL, n_fields = 0, cap_fields = 0;
    record *recs = NULL;
    size_t n_recs = 0, cap_recs = 0, r, c;
    int have_header = 0;
    const char *nm = name ? name : "csv";

    memset(t, 0, sizeof *t);
    if (len > CSV_MAX_BYTES)
        return gc_fail(err, "%s: %zu bytes, more than the %zu a CSV log may have", nm, len,
                       CSV_MAX_BYTES);
    if (len && memchr(text, '\0', len))
        return gc_fail(err, "%s: contains a NUL byte (not a text file?)", nm);
    out = (char *)malloc(len + 2);
    if (!out) return gc_fail(err, "%s: out of memory", nm);

    while (pos < len) {
        size_t rec_line = line, first = n_fields;
        int last_quoted = 0;
        if (!have_header && text[pos] == '#') { /* comment before the header */
            while (pos < len && text[pos] != '\n') pos++;
            if (pos < len) pos++;
            line++;
            continue;
        }
        for (;;) { /* one field */
            size_t start = o;
            last_quoted = 0;
            if (pos < len && text[pos] == '"') {
                last_quoted = 1;
                pos++;
                for (;;) {
                    if (pos >= len) {
                        gc_fail(err, "%s:%zu: unterminated quoted field", nm, rec_line);
                        goto fail;
                    }
                    if (text[pos] == '"') {
                        if (pos + 1 < len && text[pos + 1] == '"') {
                            out[o++] = '"';
                            pos += 2;
                            continue;
                        }
                        pos++;
                        break;
                    }
                    if (text[pos] == '\n') line++;
                    out[o++] = text[pos++];
                }
                if (pos < len && text[pos] != ',' && text[pos] != '\n' && text[pos] != '\r') {
                    gc_fail(err, "%s:%zu: unexpected text after a closing quote", nm, line);
                    goto fail;
                }
            } else {
                while (pos < len && text[pos] != ',' && text[pos] != '\n' && text[pos] != '\r') {
                    if (text[pos] == '"') {
                        gc_fail(err, "%s:%zu: quote inside an unquoted field", nm, line);
                        goto fail;
                    }
                    out[o++] = text[pos++];
                }
            }
            out[o++] = '\0';
            if (!grow((void **)&fields, &cap_fields, n_fields + 1, sizeof *fields)) goto oom;
            fields[n_fields++] = start;
            if (pos < len && text[pos] == ',') {
                pos++;
                continue;
            }
            if (pos < len && text[pos] == '\r') {
                pos++;
                if (pos < len && text[pos] == '\n') pos++;
                line++;
            } else if (pos < len && text[pos] == '\n') {
                pos++;
                line++;
            }
            break;
        }
        if (n_fields - first == 1 && !last_quoted && out[fields[first]] == '\0') {
            n_fields = first; /* blank line */
            continue;
        }
        if (!grow((void **)&recs, &cap_recs, n_recs + 1, sizeof *recs)) goto oom;
        recs[n_recs].first = first;
        recs[n_recs].n = n_fields - first;
        recs[n_recs].line = rec_line;
        n_recs++;
        have_header = 1;
    }
    if (n_recs == 0) {
        gc_fail(err, "%s: empty (no header line)", nm);
        goto fail;
    }

    t->n_cols = recs[0].n;
    t->n_rows = n_recs - 1;
    for (c = 0; c < t->n_cols; c++) {
        const char *h = out + fields[c];
        size_t d;
        if (!*h) {
            gc_fail(err, "%s:%zu: column %zu of the header has an empty name", nm, recs[0].line,
                    c + 1);
            goto fail;
        }
        for (d = 0; d < c; d++)
            if (strcmp(h, out + fields[d]) == 0) {
                gc_fail(err, "%s:%zu: duplicate column name '%.*s'", nm, recs[0].line,
                        CSV_MSG_CELL, h);
                goto fail;
            }
    }
    for (r = 1; r < n_recs; r++)
        if (recs[r].n != t->n_cols) {
            gc_fail(err, "%s:%zu: %zu field%s, but the header has %zu", nm, recs[r].line, recs[r].n,
                    recs[r].n == 1 ? "" : "s", t->n_cols);
            goto fail;
        }
    t->name = copy_str(nm);
    t->header = (char **)malloc(t->n_cols * sizeof *t->header);
    t->cells = (char **)malloc((t->n_rows ? t->n_rows * t->n_cols : 1) * sizeof *t->cells);
    t->lines = (size_t *)malloc((t->n_rows ? t->n_rows : 1) * sizeof *t->lines);
    if (!t->name || !t->header || !t->cells || !t->lines) goto oom;
    for (c = 0; c < t->n_cols; c++) t->header[c] = out + fields[c];
    for (r = 0; r < t->n_rows; r++) {
        t->lines[r] = recs[r + 1].line;
        for (c = 0; c < t->n_cols; c++) t->cells[r * t->n_cols + c] = out + fields[recs[r + 1].first + c];
    }
    t->text_ = out;
    free(fields);
    free(recs);
    return GC_OK;
oom:
    gc_fail(err, "%s: out of memory", nm);
fail:
    free(out);
    free(fields);
    free(recs);
    t->text_ = NULL;
    csv_table_free(t);
    return GC_FAIL;
}

int csv_read(csv_table *t, const char *path, gc_error *err)
{
    FILE *f;
    textbuf tb;
    char chunk[CSV_READ_CHUNK];
    size_t n;
    int rc;
    memset(t, 0, sizeof *t);
    f = fopen(path, "rb");
    if (!f) return gc_fail(err, "%s: cannot open: %s", path, strerror(errno));
    textbuf_init(&tb);
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (tb.len + n > CSV_MAX_BYTES) {
            fclose(f);
            textbuf_free(&tb);
            return gc_fail(err, "%s: larger than the %zu bytes a CSV log may have", path,
                           CSV_MAX_BYTES);
        }
        textbuf_append_n(&tb, chunk, n);
    }
    if (ferror(f)) {
        fclose(f);
        textbuf_free(&tb);
        return gc_fail(err, "%s: read error", path);
    }
    fclose(f);
    if (tb.failed) {
        textbuf_free(&tb);
        return gc_fail(err, "%s: out of memory", path);
    }
    rc = csv_parse(t, tb.data ? tb.data : "", tb.len, path, err);
    textbuf_free(&tb);
    return rc;
}

long csv_table_column(const csv_table *t, const char *name)
{
    size_t c;
    for (c = 0; c < t->n_cols; c++)
        if (strcmp(t->header[c], name) == 0) return (long)c;
    return -1;
}

const char *csv_table_cell(const csv_table *t, size_t row, size_t col)
{
    GC_CHECK(row < t->n_rows && col < t->n_cols);
    return t->cells[row * t->n_cols + col];
}

/* Parse a whole cell as a number (surrounding blanks allowed). */
static int parse_number(const char *s, double *v)
{
    char *end;
    while (*s == ' ' || *s == '\t') s++;
    if (!*s) return 0;
    errno = 0;
    *v = strtod(s, &end);
    if (end == s) return 0;
    while (*end == ' ' || *end == '\t') end++;
    return *end == '\0';
}

int csv_table_numbers(double *out, const csv_table *t, const char *name, gc_error *err)
{
    long c = csv_table_column(t, name);
    size_t r;
    if (c < 0) return gc_fail(err, "%s: no column '%s'", t->name ? t->name : "csv", name);
    for (r = 0; r < t->n_rows; r++) {
        const char *cell = t->cells[r * t->n_cols + (size_t)c];
        if (!parse_number(cell, &out[r]))
            return gc_fail(err, "%s:%zu: column '%s': '%.*s' is not a number", t->name, t->lines[r],
                           name, CSV_MSG_CELL, cell);
    }
    return GC_OK;
}
