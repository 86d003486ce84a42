/*
 * io/svg.h - plain-text SVG charts for the experiments of DESIGN.md
 * section 5: a scatter plot with one least-squares line per series (the
 * paper's kappa vs L_CAM plot, one series per model) and line curves over
 * epochs (learning curves per lambda).
 *
 * Each chart has a title, axes with "nice" ticks (1, 2, 5 x 10^k) and
 * numeric labels, light grid lines, axis labels and a legend at the right.
 * Series are told apart by colour (matplotlib's tab10 palette) and by
 * marker shape (circle, square, triangle, diamond). Points whose x or y is
 * not finite (NaN, inf) or beyond +-SVG_MAX_ABS are skipped; a note under
 * the chart says how many.
 * In a line chart a skipped point breaks the curve. In a scatter plot the
 * legend shows each series' Pearson r and point count, and the fitted line
 * y = a + b x (ordinary least squares over the series' finite points) is
 * drawn across the series' own x range, clipped to the plot area.
 * Text is XML-escaped. The output depends only on the inputs (coordinates
 * printed with two decimals, the "C" locale), and uses no element ids, so
 * several charts can be inlined into one HTML page.
 *
 * Does not: measure text (legend width is estimated from the number of
 * characters), use log axes, or draw error bars.
 */
#ifndef GC_IO_SVG_H
#define GC_IO_SVG_H

#include <stddef.h>

#include "nn/core.h"

#define SVG_DEFAULT_WIDTH 720
#define SVG_DEFAULT_HEIGHT 440
#define SVG_MAX_ABS 1e300   /* larger |x| or |y| is skipped like NaN */

typedef struct svg_series {
    const char *name;      /* legend text; NULL -> "series <i>" */
    const double *x;       /* (n) */
    const double *y;       /* (n) */
    size_t n;
} svg_series;

typedef struct svg_chart {
    const char *title;     /* NULL -> none */
    const char *x_label;
    const char *y_label;
    int width, height;     /* pixels; <= 0 -> the defaults above */
} svg_chart;

/* Scatter plot; fit_lines != 0 adds the least-squares line per series (a
 * series with fewer than two distinct finite x gets none). Returns a
 * malloc'd NUL-terminated SVG document (free() it), or NULL with err. */
char *svg_scatter(const svg_chart *chart, const svg_series *series, size_t n_series,
                  int fit_lines, gc_error *err);

/* Line chart: each series' finite points joined in the given order. */
char *svg_lines(const svg_chart *chart, const svg_series *series, size_t n_series,
                gc_error *err);

/* Write text to path atomically (io/atomic.h). */
int svg_write(const char *path, const char *svg, gc_error *err);

/* Ticks for an axis covering [lo, hi] (lo <= hi, finite) with about
 * `target` intervals: *first and *step such that first <= lo,
 * first + (count - 1) * step >= hi, step in {1, 2, 5} x 10^k. A zero-width
 * range is widened first. */
void svg_nice_ticks(double lo, double hi, int target, double *first, double *step, int *count);

#endif
