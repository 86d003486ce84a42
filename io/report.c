/* io/report.c - self-contained HTML report builder; see io/report.h. */
#include "io/report.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "io/atomic.h"
#include "io/textbuf.h"

#define REPORT_READ_CHUNK 65536
#define PNG_SIGNATURE_LEN 8

static const char report_css[] =
    "body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;"
    "color:#222;line-height:1.45}\n"
    "h1{border-bottom:2px solid #444;padding-bottom:.2em}\n"
    "h2{border-bottom:1px solid #ccc;margin-top:1.8em}\n"
    "table{border-collapse:collapse;margin:1em 0}\n"
    "caption{text-align:left;font-weight:bold;padding-bottom:.3em}\n"
    "th,td{border:1px solid #ccc;padding:.25em .6em}\n"
    "th{background:#f0f0f0}\n"
    "td.num{text-align:right;font-variant-numeric:tabular-nums}\n"
    "td.nan{text-align:right;color:#999}\n"
    "pre{background:#f6f6f6;border:1px solid #ddd;padding:.6em;overflow-x:auto}\n"
    "figure{margin:1em 0}\n"
    "img{max-width:100%;image-rendering:pixelated}\n"
    "figcaption{color:#555;font-size:.9em}\n"
    "figure svg{max-width:100%;height:auto}\n";

struct report {
    char *title;
    textbuf body;
};

static char *copy_str(const char *s)
{
    size_t n = strlen(s);
    char *p = (char *)malloc(n + 1);
    if (p) memcpy(p, s, n + 1);
    return p;
}

report *report_begin(const char *title)
{
    report *r = (report *)calloc(1, sizeof *r);
    if (!r) return NULL;
    textbuf_init(&r->body);
    r->title = copy_str(title ? title : "report");
    if (!r->title) {
        free(r);
        return NULL;
    }
    return r;
}

void report_free(report *r)
{
    if (!r) return;
    free(r->title);
    textbuf_free(&r->body);
    free(r);
}

static void element(report *r, const char *tag, const char *text)
{
    textbuf_printf(&r->body, "<%s>", tag);
    textbuf_append_xml(&r->body, text);
    textbuf_printf(&r->body, "</%s>\n", tag);
}

void report_h2(report *r, const char *text) { element(r, "h2", text); }
void report_h3(report *r, const char *text) { element(r, "h3", text); }
void report_p(report *r, const char *text) { element(r, "p", text); }
void report_pre(report *r, const char *text) { element(r, "pre", text); }

static int is_number(const char *s)
{
    char *end;
    if (!s) return 0;
    while (*s == ' ') s++;
    if (!*s) return 0;
    (void)strtod(s, &end);
    if (end == s) return 0;
    while (*end == ' ') end++;
    return *end == '\0';
}

static void table_open(report *r, const char *caption, const char *const *header, size_t n_cols)
{
    size_t c;
    textbuf_append(&r->body, "<table>\n");
    if (caption) {
        textbuf_append(&r->body, "<caption>");
        textbuf_append_xml(&r->body, caption);
        textbuf_append(&r->body, "</caption>\n");
    }
    if (header) {
        textbuf_append(&r->body, "<thead><tr>");
        for (c = 0; c < n_cols; c++) {
            textbuf_append(&r->body, "<th>");
            textbuf_append_xml(&r->body, header[c]);
            textbuf_append(&r->body, "</th>");
        }
        textbuf_append(&r->body, "</tr></thead>\n");
    }
    textbuf_append(&r->body, "<tbody>\n");
}

void report_table(report *r, const char *caption, const char *const *header, size_t n_cols,
                  const char *const *cells, size_t n_rows)
{
    size_t i, c;
    table_open(r, caption, header, n_cols);
    for (i = 0; i < n_rows; i++) {
        textbuf_append(&r->body, "<tr>");
        for (c = 0; c < n_cols; c++) {
            const char *cell = cells[i * n_cols + c];
            textbuf_append(&r->body, is_number(cell) ? "<td class=\"num\">" : "<td>");
            textbuf_append_xml(&r->body, cell);
            textbuf_append(&r->body, "</td>");
        }
        textbuf_append(&r->body, "</tr>\n");
    }
    textbuf_append(&r->body, "</tbody></table>\n");
}

void report_table_numbers(report *r, const char *caption, const char *const *header,
                          size_t n_cols, const char *const *row_labels, const double *values,
                          size_t n_rows)
{
    size_t i, c, n_vals = row_labels ? (n_cols ? n_cols - 1 : 0) : n_cols;
    table_open(r, caption, header, n_cols);
    for (i = 0; i < n_rows; i++) {
        textbuf_append(&r->body, "<tr>");
        if (row_labels) {
            textbuf_append(&r->body, "<td>");
            textbuf_append_xml(&r->body, row_labels[i]);
            textbuf_append(&r->body, "</td>");
        }
        for (c = 0; c < n_vals; c++) {
            double v = values[i * n_vals + c];
            if (isnan(v))
                textbuf_append(&r->body, "<td class=\"nan\">NaN</td>");
            else
                textbuf_printf(&r->body, "<td class=\"num\">%.6g</td>", v);
        }
        textbuf_append(&r->body, "</tr>\n");
    }
    textbuf_append(&r->body, "</tbody></table>\n");
}

static void figcaption(report *r, const char *caption)
{
    if (!caption) return;
    textbuf_append(&r->body, "<figcaption>");
    textbuf_append_xml(&r->body, caption);
    textbuf_append(&r->body, "</figcaption>\n");
}

int report_image_png(report *r, const unsigned char *png, size_t n, const char *caption,
                     gc_error *err)
{
    static const unsigned char sig[PNG_SIGNATURE_LEN] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (!png || n < PNG_SIGNATURE_LEN || memcmp(png, sig, PNG_SIGNATURE_LEN) != 0)
        return gc_fail(err, "report: image data is not a PNG");
    textbuf_append(&r->body, "<figure><img alt=\"");
    textbuf_append_xml(&r->body, caption ? caption : "image");
    textbuf_append(&r->body, "\" src=\"data:image/png;base64,");
    textbuf_append_base64(&r->body, png, n);
    textbuf_append(&r->body, "\">\n");
    figcaption(r, caption);
    textbuf_append(&r->body, "</figure>\n");
    return GC_OK;
}

/* Read a whole file (at most REPORT_MAX_FILE bytes) into tb. */
static int read_file(textbuf *tb, const char *path, gc_error *err)
{
    char chunk[REPORT_READ_CHUNK];
    size_t n;
    FILE *f = fopen(path, "rb");
    textbuf_init(tb);
    if (!f) return gc_fail(err, "%s: cannot open: %s", path, strerror(errno));
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (tb->len + n > REPORT_MAX_FILE) {
            fclose(f);
            textbuf_free(tb);
            return gc_fail(err, "%s: larger than the %zu bytes a report embeds", path,
                           REPORT_MAX_FILE);
        }
        textbuf_append_n(tb, chunk, n);
    }
    if (ferror(f)) {
        fclose(f);
        textbuf_free(tb);
        return gc_fail(err, "%s: read error", path);
    }
    fclose(f);
    if (tb->failed) {
        textbuf_free(tb);
        return gc_fail(err, "%s: out of memory", path);
    }
    if (!tb->data) textbuf_append_n(tb, "", 0);
    return GC_OK;
}

int report_image_png_file(report *r, const char *path, const char *caption, gc_error *err)
{
    textbuf tb;
    int rc;
    if (read_file(&tb, path, err) != GC_OK) return GC_FAIL;
    rc = report_image_png(r, (const unsigned char *)tb.data, tb.len, caption, err);
    if (rc != GC_OK) gc_fail(err, "%s: not a PNG file", path);
    textbuf_free(&tb);
    return rc;
}

int report_svg(report *r, const char *svg, const char *caption, gc_error *err)
{
    const char *start = svg ? strstr(svg, "<svg") : NULL;
    if (!start) return gc_fail(err, "report: text is not an SVG document (no <svg element)");
    textbuf_append(&r->body, "<figure>\n");
    textbuf_append(&r->body, start);
    if (r->body.len && r->body.data[r->body.len - 1] != '\n') textbuf_append(&r->body, "\n");
    figcaption(r, caption);
    textbuf_append(&r->body, "</figure>\n");
    return GC_OK;
}

int report_svg_file(report *r, const char *path, const char *caption, gc_error *err)
{
    textbuf tb;
    int rc;
    if (read_file(&tb, path, err) != GC_OK) return GC_FAIL;
    if (memchr(tb.data, '\0', tb.len)) {
        textbuf_free(&tb);
        return gc_fail(err, "%s: not an SVG file (contains NUL bytes)", path);
    }
    rc = report_svg(r, tb.data, caption, err);
    if (rc != GC_OK) gc_fail(err, "%s: not an SVG file (no <svg element)", path);
    textbuf_free(&tb);
    return rc;
}

int report_write(const report *r, const char *path, gc_error *err)
{
    textbuf head;
    char tmp[GC_ATOMIC_PATH_MAX];
    FILE *f;
    static const char tail[] = "</body>\n</html>\n";
    if (r->body.failed) return gc_fail(err, "%s: out of memory while building the report", path);
    textbuf_init(&head);
    textbuf_append(&head, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                          "<title>");
    textbuf_append_xml(&head, r->title);
    textbuf_append(&head, "</title>\n<style>\n");
    textbuf_append(&head, report_css);
    textbuf_append(&head, "</style>\n</head>\n<body>\n<h1>");
    textbuf_append_xml(&head, r->title);
    textbuf_append(&head, "</h1>\n");
    if (head.failed) {
        textbuf_free(&head);
        return gc_fail(err, "%s: out of memory", path);
    }
    f = atomic_open(path, tmp, sizeof tmp, err);
    if (!f) {
        textbuf_free(&head);
        return GC_FAIL;
    }
    if (fwrite(head.data, 1, head.len, f) != head.len ||
        (r->body.len && fwrite(r->body.data, 1, r->body.len, f) != r->body.len) ||
        fwrite(tail, 1, sizeof tail - 1, f) != sizeof tail - 1) {
        atomic_abort(f, tmp);
        textbuf_free(&head);
        return gc_fail(err, "%s: write failed", path);
    }
    textbuf_free(&head);
    return atomic_commit(f, tmp, path, err);
}
