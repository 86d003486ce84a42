/*
 * io/report.h - a self-contained HTML report (report.html): title,
 * headings, paragraphs, preformatted text, tables, PNG images embedded as
 * base64 data URIs, and inline SVG charts, with a little CSS. One file, no
 * external resources, readable in any browser and as text.
 *
 * Usage:
 *     report *r = report_begin("Consistency evaluation");
 *     report_h2(r, "Level 2");
 *     report_p(r, "distance l2sq, cam-grad exact");
 *     report_table(r, "per class", header, 3, cells, n_rows);
 *     if (report_image_png_file(r, "gallery.png", "overlays", err)) ...
 *     if (report_svg(r, svg_text, err)) ...
 *     if (report_write(r, "out/report.html", err)) ...
 *     report_free(r);
 *
 * All text is HTML-escaped (io/textbuf.h). Builders that cannot fail on
 * input return void; an allocation failure is remembered and reported by
 * report_write. The functions taking a gc_error fail on bad input (a file
 * that is missing, too large, not a PNG, or not an SVG) and then add
 * nothing to the report. Output is deterministic (no dates, no ids).
 * Does not: escape or sanitise the SVG it inlines (it is trusted output of
 * io/svg), or paginate.
 */
#ifndef GC_IO_REPORT_H
#define GC_IO_REPORT_H

#include <stddef.h>

#include "nn/core.h"

/* Largest PNG or SVG file the report embeds. */
#define REPORT_MAX_FILE ((size_t)64 << 20)

typedef struct report report;

/* NULL only when out of memory. */
report *report_begin(const char *title);
void report_free(report *r);

void report_h2(report *r, const char *text);
void report_h3(report *r, const char *text);
void report_p(report *r, const char *text);
void report_pre(report *r, const char *text);

/* A table of strings: header (n_cols) may be NULL; cells (n_rows, n_cols),
 * a NULL cell is empty. Cells that parse entirely as numbers are
 * right-aligned. caption may be NULL. */
void report_table(report *r, const char *caption, const char *const *header, size_t n_cols,
                  const char *const *cells, size_t n_rows);

/* A table of numbers printed with "%.6g" (NaN as "NaN", greyed). With
 * row_labels (n_rows), the first column holds them and values is
 * (n_rows, n_cols - 1); without, values is (n_rows, n_cols). header (n_cols)
 * may be NULL. */
void report_table_numbers(report *r, const char *caption, const char *const *header,
                          size_t n_cols, const char *const *row_labels, const double *values,
                          size_t n_rows);

/* Embed a PNG held in memory (n bytes; must start with the PNG signature,
 * else GC_FAIL). caption may be NULL. */
int report_image_png(report *r, const unsigned char *png, size_t n, const char *caption,
                     gc_error *err);
int report_image_png_file(report *r, const char *path, const char *caption, gc_error *err);

/* Inline an SVG document: everything before its first "<svg" (an XML
 * declaration, a doctype, comments) is dropped; no "<svg" -> GC_FAIL. */
int report_svg(report *r, const char *svg, const char *caption, gc_error *err);
int report_svg_file(report *r, const char *path, const char *caption, gc_error *err);

/* Write the page to path atomically (io/atomic.h). The report stays usable
 * (more can be added and written again). */
int report_write(const report *r, const char *path, gc_error *err);

#endif
