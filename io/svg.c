/*
 * io/svg.c - scatter and line charts as SVG text; see io/svg.h.
 * Charts for DESIGN.md section 5 (kappa vs L_CAM per model; learning
 * curves per lambda). Tick choice: Heckbert, "Nice numbers for graph
 * labels", Graphics Gems (1990), without its rounding of the whole range
 * (which can double the step).
 */
#include "io/svg.h"

#include <math.h>
#include <string.h>

#include "io/textbuf.h"

#define TITLE_H 40          /* room above the plot area for the title */
#define BOTTOM_H 52         /* x tick labels and x axis label */
#define NOTE_H 18           /* extra bottom room for the skipped-points note */
#define LEFT_MIN 56
#define CHAR_W 7.0          /* estimated width of a 12px sans-serif character */
#define LEGEND_MIN_W 90.0
#define LEGEND_ROW_H 18.0
#define PLOT_MIN 60.0       /* smallest plot side, whatever the requested size */
#define TICK_TARGET 6       /* about this many tick intervals per axis */
#define TICK_MAX 1000.0     /* more ticks than this means the range is degenerate */
#define TICK_LEN 5.0
#define DATA_PAD 0.03       /* fraction of the data range added on each side */
#define MARKER_R 3.5
#define N_PALETTE 10
#define N_SHAPES 4

/* matplotlib tab10 */
static const char *palette[N_PALETTE] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                         "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

static double nice_num(double x, int round_it)
{
    double e = floor(log10(x)), f = x / pow(10.0, e), nf;
    if (round_it)
        nf = f < 1.5 ? 1.0 : f < 3.0 ? 2.0 : f < 7.0 ? 5.0 : 10.0;
    else
        nf = f <= 1.0 ? 1.0 : f <= 2.0 ? 2.0 : f <= 5.0 ? 5.0 : 10.0;
    return nf * pow(10.0, e);
}

void svg_nice_ticks(double lo, double hi, int target, double *first, double *step, int *count)
{
    double s, f, l, n;
    if (target < 1) target = 1;
    if (!(hi > lo)) {
        double d = lo != 0.0 ? fabs(lo) * 0.1 : 1.0;
        lo -= d;
        hi += d;
    }
    s = nice_num((hi - lo) / target, 1);
    f = floor(lo / s + 1e-9) * s;
    l = ceil(hi / s - 1e-9) * s;
    n = (l - f) / s + 0.5;
    if (!(s > 0.0 && isfinite(s) && isfinite(f) && isfinite(l) && n >= 1.0 && n < TICK_MAX)) {
        /* ranges at the ends of double (overflowing width, subnormal steps):
         * plain equal divisions, or a unit axis if even those overflow */
        s = hi / target - lo / target;
        f = lo;
        n = target;
        if (!(s > 0.0 && isfinite(s))) {
            f = 0.0;
            s = 1.0;
            n = 1.0;
        }
    }
    *first = f;
    *step = s;
    *count = (int)floor(n) + 1;
    if (*count < 2) *count = 2;
}

static void format_tick(char *buf, size_t cap, double v, double step)
{
    int dec = (int)ceil(-log10(step) - 1e-9);
    if (fabs(v) < step * 1e-9) v = 0.0;
    if (dec < 0) dec = 0;
    if (dec > 6 || fabs(v) >= 1e6)
        snprintf(buf, cap, "%.3g", v);
    else
        snprintf(buf, cap, "%.*f", dec, v);
}

typedef struct axis {
    double lo, hi, step;    /* data range shown; tick spacing */
    int count;              /* ticks at lo + i * step */
} axis;

typedef struct plot {
    double left, top, w, h; /* plot area in pixels */
    axis ax, ay;
} plot;

/* Fraction of the axis at v; halves keep v - lo from overflowing. */
static double axis_frac(const axis *a, double v)
{
    return (v * 0.5 - a->lo * 0.5) / (a->hi * 0.5 - a->lo * 0.5);
}

static double px_x(const plot *p, double x)
{
    return p->left + axis_frac(&p->ax, x) * p->w;
}

static double px_y(const plot *p, double y)
{
    return p->top + p->h - axis_frac(&p->ay, y) * p->h;
}

/* Drawn points: finite and within +-SVG_MAX_ABS (so that axis arithmetic
 * cannot overflow). */
static int finite_pt(const svg_series *s, size_t i)
{
    return isfinite(s->x[i]) && isfinite(s->y[i]) && fabs(s->x[i]) <= SVG_MAX_ABS &&
           fabs(s->y[i]) <= SVG_MAX_ABS;
}

static void make_axis(axis *a, double lo, double hi, int integers)
{
    double first, step;
    int count;
    if (hi > lo && !integers) { /* epochs start on a tick: no padding */
        double pad = (hi * 0.5 - lo * 0.5) * (2.0 * DATA_PAD);
        if (isfinite(lo - pad) && isfinite(hi + pad)) {
            lo -= pad;
            hi += pad;
        }
    }
    svg_nice_ticks(lo, hi, TICK_TARGET, &first, &step, &count);
    if (integers && step < 1.0) { /* epochs: no fractional ticks */
        step = 1.0;
        if (!(hi > lo)) {
            lo -= 1.0;
            hi += 1.0;
        }
        first = floor(lo);
        count = (int)(ceil(hi) - first) + 1;
        if (count < 2) count = 2;
    }
    a->lo = first;
    a->step = step;
    a->count = count;
    a->hi = first + (count - 1) * step;
}

static void series_name(char *buf, size_t cap, const svg_series *s, size_t i)
{
    if (s->name)
        snprintf(buf, cap, "%s", s->name);
    else
        snprintf(buf, cap, "series %zu", i + 1);
}

/* Least squares y = a + b x and Pearson r over the finite points. Returns
 * the number of finite points; *has_fit / *has_r say what is defined. */
static size_t fit_series(const svg_series *s, double *a, double *b, double *r, double *xmin,
                         double *xmax, int *has_fit, int *has_r)
{
    size_t i, n = 0;
    double mx = 0.0, my = 0.0, sxx = 0.0, syy = 0.0, sxy = 0.0;
    *has_fit = *has_r = 0;
    *xmin = HUGE_VAL;
    *xmax = -HUGE_VAL;
    for (i = 0; i < s->n; i++)
        if (finite_pt(s, i)) {
            mx += s->x[i];
            my += s->y[i];
            n++;
            if (s->x[i] < *xmin) *xmin = s->x[i];
            if (s->x[i] > *xmax) *xmax = s->x[i];
        }
    if (n < 2) return n;
    mx /= (double)n;
    my /= (double)n;
    for (i = 0; i < s->n; i++)
        if (finite_pt(s, i)) {
            double dx = s->x[i] - mx, dy = s->y[i] - my;
            sxx += dx * dx;
            syy += dy * dy;
            sxy += dx * dy;
        }
    if (sxx > 0.0 && isfinite(sxx)) { /* sums can overflow near DBL_MAX: then no fit */
        *b = sxy / sxx;
        *a = my - *b * mx;
        *has_fit = isfinite(*a) && isfinite(*b);
        if (syy > 0.0 && isfinite(syy)) {
            *r = sxy / sqrt(sxx) / sqrt(syy);
            *has_r = isfinite(*r);
        }
    }
    return n;
}

/* Clip the segment (x0,y0)-(x1,y1) to the data rectangle (Liang-Barsky).
 * Returns 0 if nothing is left. */
static int clip_segment(const plot *p, double *x0, double *y0, double *x1, double *y1)
{
    double t0 = 0.0, t1 = 1.0, dx = *x1 - *x0, dy = *y1 - *y0;
    double pq[4][2];
    int k;
    pq[0][0] = -dx; pq[0][1] = *x0 - p->ax.lo;
    pq[1][0] = dx;  pq[1][1] = p->ax.hi - *x0;
    pq[2][0] = -dy; pq[2][1] = *y0 - p->ay.lo;
    pq[3][0] = dy;  pq[3][1] = p->ay.hi - *y0;
    for (k = 0; k < 4; k++) {
        double pk = pq[k][0], qk = pq[k][1];
        if (pk == 0.0) {
            if (qk < 0.0) return 0;
        } else {
            double t = qk / pk;
            if (pk < 0.0) {
                if (t > t1) return 0;
                if (t > t0) t0 = t;
            } else {
                if (t < t0) return 0;
                if (t < t1) t1 = t;
            }
        }
    }
    {
        double nx0 = *x0 + t0 * dx, ny0 = *y0 + t0 * dy;
        double nx1 = *x0 + t1 * dx, ny1 = *y0 + t1 * dy;
        *x0 = nx0; *y0 = ny0; *x1 = nx1; *y1 = ny1;
    }
    return 1;
}

static void marker(textbuf *tb, double x, double y, size_t series, double r)
{
    const char *c = palette[series % N_PALETTE];
    switch (series % N_SHAPES) {
    case 0:
        textbuf_printf(tb, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"%.2f\" fill=\"%s\"/>\n", x, y, r, c);
        break;
    case 1:
        textbuf_printf(tb, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"%s\"/>\n",
                       x - r, y - r, 2 * r, 2 * r, c);
        break;
    case 2:
        textbuf_printf(tb, "<polygon points=\"%.2f,%.2f %.2f,%.2f %.2f,%.2f\" fill=\"%s\"/>\n", x,
                       y - 1.2 * r, x - 1.1 * r, y + 0.8 * r, x + 1.1 * r, y + 0.8 * r, c);
        break;
    default:
        textbuf_printf(tb,
                       "<polygon points=\"%.2f,%.2f %.2f,%.2f %.2f,%.2f %.2f,%.2f\" fill=\"%s\"/>\n",
                       x, y - 1.3 * r, x + 1.3 * r, y, x, y + 1.3 * r, x - 1.3 * r, y, c);
    }
}

typedef enum chart_kind { CHART_SCATTER, CHART_LINES } chart_kind;

static int check_series(const svg_series *series, size_t n_series, gc_error *err)
{
    size_t i;
    if (n_series > 0 && !series) return gc_fail(err, "svg: no series array");
    for (i = 0; i < n_series; i++)
        if (series[i].n > 0 && (!series[i].x || !series[i].y))
            return gc_fail(err, "svg: series %zu has %zu points but no data", i, series[i].n);
    return GC_OK;
}

static char *chart(const svg_chart *c, const svg_series *series, size_t n_series, chart_kind kind,
                   int fit_lines, gc_error *err)
{
    textbuf tb;
    plot p;
    double width, height, legend_w = LEGEND_MIN_W, left, bottom;
    double xmin = HUGE_VAL, xmax = -HUGE_VAL, ymin = HUGE_VAL, ymax = -HUGE_VAL;
    size_t skipped = 0, finite = 0, i, j;
    int x_integers = kind == CHART_LINES;
    size_t max_label = 0;
    char buf[512];
    char *out;

    if (check_series(series, n_series, err) != GC_OK) return NULL;
    width = c && c->width > 0 ? c->width : SVG_DEFAULT_WIDTH;
    height = c && c->height > 0 ? c->height : SVG_DEFAULT_HEIGHT;

    for (i = 0; i < n_series; i++)
        for (j = 0; j < series[i].n; j++) {
            if (!finite_pt(&series[i], j)) {
                skipped++;
                continue;
            }
            finite++;
            if (series[i].x[j] < xmin) xmin = series[i].x[j];
            if (series[i].x[j] > xmax) xmax = series[i].x[j];
            if (series[i].y[j] < ymin) ymin = series[i].y[j];
            if (series[i].y[j] > ymax) ymax = series[i].y[j];
            if (series[i].x[j] != floor(series[i].x[j])) x_integers = 0;
        }
    if (finite == 0) {
        xmin = ymin = 0.0;
        xmax = ymax = 1.0;
    }
    make_axis(&p.ax, xmin, xmax, x_integers);
    make_axis(&p.ay, ymin, ymax, 0);

    /* margins from the text they hold */
    for (i = 0; i < (size_t)p.ay.count; i++) {
        format_tick(buf, sizeof buf, p.ay.lo + (double)i * p.ay.step, p.ay.step);
        if (strlen(buf) > max_label) max_label = strlen(buf);
    }
    left = 34.0 + CHAR_W * (double)max_label;
    if (left < LEFT_MIN) left = LEFT_MIN;
    for (i = 0; i < n_series; i++) {
        double w;
        series_name(buf, sizeof buf, &series[i], i);
        w = 40.0 + CHAR_W * ((double)strlen(buf) + (kind == CHART_SCATTER ? 18.0 : 0.0));
        if (w > legend_w) legend_w = w;
    }
    if (legend_w > width * 0.4) legend_w = width * 0.4;
    bottom = BOTTOM_H + (skipped || finite == 0 ? NOTE_H : 0);
    p.left = left;
    p.top = TITLE_H;
    p.w = width - left - legend_w - 16.0;
    p.h = height - TITLE_H - bottom;
    if (p.w < PLOT_MIN) {
        width += PLOT_MIN - p.w;
        p.w = PLOT_MIN;
    }
    if (p.h < PLOT_MIN) {
        height += PLOT_MIN - p.h;
        p.h = PLOT_MIN;
    }

    textbuf_init(&tb);
    textbuf_printf(&tb,
                   "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
                   "viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\" font-size=\"12\">\n",
                   width, height, width, height);
    textbuf_append(&tb, "<rect x=\"0\" y=\"0\" width=\"100%\" height=\"100%\" fill=\"white\"/>\n");
    if (c && c->title) {
        textbuf_printf(&tb, "<text x=\"%.2f\" y=\"24\" text-anchor=\"middle\" font-size=\"15\" "
                            "font-weight=\"bold\">", p.left + p.w / 2);
        textbuf_append_xml(&tb, c->title);
        textbuf_append(&tb, "</text>\n");
    }

    /* grid, ticks, tick labels */
    textbuf_append(&tb, "<g stroke=\"#e0e0e0\" stroke-width=\"1\">\n");
    for (i = 0; i < (size_t)p.ax.count; i++) {
        double x = px_x(&p, p.ax.lo + (double)i * p.ax.step);
        textbuf_printf(&tb, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\"/>\n", x, p.top, x,
                       p.top + p.h);
    }
    for (i = 0; i < (size_t)p.ay.count; i++) {
        double y = px_y(&p, p.ay.lo + (double)i * p.ay.step);
        textbuf_printf(&tb, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\"/>\n", p.left, y,
                       p.left + p.w, y);
    }
    textbuf_append(&tb, "</g>\n<g stroke=\"black\" stroke-width=\"1\">\n");
    for (i = 0; i < (size_t)p.ax.count; i++) {
        double x = px_x(&p, p.ax.lo + (double)i * p.ax.step);
        textbuf_printf(&tb, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\"/>\n", x,
                       p.top + p.h, x, p.top + p.h + TICK_LEN);
    }
    for (i = 0; i < (size_t)p.ay.count; i++) {
        double y = px_y(&p, p.ay.lo + (double)i * p.ay.step);
        textbuf_printf(&tb, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\"/>\n",
                       p.left - TICK_LEN, y, p.left, y);
    }
    textbuf_append(&tb, "</g>\n");
    textbuf_printf(&tb, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"none\" "
                        "stroke=\"black\"/>\n", p.left, p.top, p.w, p.h);
    textbuf_append(&tb, "<g text-anchor=\"middle\">\n");
    for (i = 0; i < (size_t)p.ax.count; i++) {
        double v = p.ax.lo + (double)i * p.ax.step;
        format_tick(buf, sizeof buf, v, p.ax.step);
        textbuf_printf(&tb, "<text x=\"%.2f\" y=\"%.2f\">%s</text>\n", px_x(&p, v),
                       p.top + p.h + TICK_LEN + 14.0, buf);
    }
    textbuf_append(&tb, "</g>\n<g text-anchor=\"end\">\n");
    for (i = 0; i < (size_t)p.ay.count; i++) {
        double v = p.ay.lo + (double)i * p.ay.step;
        format_tick(buf, sizeof buf, v, p.ay.step);
        textbuf_printf(&tb, "<text x=\"%.2f\" y=\"%.2f\">%s</text>\n", p.left - TICK_LEN - 3.0,
                       px_y(&p, v) + 4.0, buf);
    }
    textbuf_append(&tb, "</g>\n");
    if (c && c->x_label) {
        textbuf_printf(&tb, "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"middle\">",
                       p.left + p.w / 2, p.top + p.h + 40.0);
        textbuf_append_xml(&tb, c->x_label);
        textbuf_append(&tb, "</text>\n");
    }
    if (c && c->y_label) {
        double ly = p.top + p.h / 2;
        textbuf_printf(&tb, "<text x=\"16\" y=\"%.2f\" text-anchor=\"middle\" "
                            "transform=\"rotate(-90 16 %.2f)\">", ly, ly);
        textbuf_append_xml(&tb, c->y_label);
        textbuf_append(&tb, "</text>\n");
    }

    /* data */
    for (i = 0; i < n_series; i++) {
        const svg_series *s = &series[i];
        const char *col = palette[i % N_PALETTE];
        if (kind == CHART_LINES) { /* runs of consecutive finite points */
            j = 0;
            while (j < s->n) {
                size_t k = j;
                while (k < s->n && finite_pt(s, k)) k++;
                if (k - j >= 2) {
                    size_t m;
                    textbuf_printf(&tb, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.8\" "
                                        "points=\"", col);
                    for (m = j; m < k; m++)
                        textbuf_printf(&tb, "%s%.2f,%.2f", m > j ? " " : "", px_x(&p, s->x[m]),
                                       px_y(&p, s->y[m]));
                    textbuf_append(&tb, "\"/>\n");
                }
                j = k + 1;
            }
        }
        for (j = 0; j < s->n; j++)
            if (finite_pt(s, j))
                marker(&tb, px_x(&p, s->x[j]), px_y(&p, s->y[j]), i,
                       kind == CHART_LINES ? MARKER_R * 0.75 : MARKER_R);
        if (kind == CHART_SCATTER && fit_lines) {
            double a = 0, b = 0, r = 0, x0, x1, y0, y1;
            int has_fit, has_r;
            fit_series(s, &a, &b, &r, &x0, &x1, &has_fit, &has_r);
            if (has_fit) {
                y0 = a + b * x0;
                y1 = a + b * x1;
                if (clip_segment(&p, &x0, &y0, &x1, &y1))
                    textbuf_printf(&tb, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" "
                                        "stroke=\"%s\" stroke-width=\"1.5\"/>\n",
                                   px_x(&p, x0), px_y(&p, y0), px_x(&p, x1), px_y(&p, y1), col);
            }
        }
    }

    /* legend */
    for (i = 0; i < n_series; i++) {
        double lx = p.left + p.w + 16.0, ly = p.top + 8.0 + LEGEND_ROW_H * (double)i;
        if (kind == CHART_LINES)
            textbuf_printf(&tb, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"%s\" "
                                "stroke-width=\"1.8\"/>\n", lx, ly, lx + 18.0, ly,
                           palette[i % N_PALETTE]);
        marker(&tb, lx + 9.0, ly, i, MARKER_R);
        textbuf_printf(&tb, "<text x=\"%.2f\" y=\"%.2f\">", lx + 24.0, ly + 4.0);
        series_name(buf, sizeof buf, &series[i], i);
        textbuf_append_xml(&tb, buf);
        if (kind == CHART_SCATTER) {
            double a, b, r = 0, x0, x1;
            int has_fit, has_r;
            size_t n = fit_series(&series[i], &a, &b, &r, &x0, &x1, &has_fit, &has_r);
            if (has_r)
                textbuf_printf(&tb, " (r = %.3f, n = %zu)", r, n);
            else
                textbuf_printf(&tb, " (n = %zu)", n);
        }
        textbuf_append(&tb, "</text>\n");
    }

    if (finite == 0 || skipped) {
        textbuf_printf(&tb, "<text x=\"%.2f\" y=\"%.2f\" font-size=\"11\" fill=\"#555555\">",
                       p.left, height - 6.0);
        if (finite == 0) textbuf_append(&tb, "no data points to draw");
        if (finite == 0 && skipped) textbuf_append(&tb, "; ");
        if (skipped) {
            snprintf(buf, sizeof buf, "%zu point%s skipped (NaN, inf or |value| > 1e300)",
                     skipped, skipped == 1 ? "" : "s");
            textbuf_append_xml(&tb, buf);
        }
        textbuf_append(&tb, "</text>\n");
    }
    textbuf_append(&tb, "</svg>\n");
    out = textbuf_release(&tb);
    if (!out) gc_fail(err, "svg: out of memory");
    return out;
}

char *svg_scatter(const svg_chart *c, const svg_series *series, size_t n_series, int fit_lines,
                  gc_error *err)
{
    return chart(c, series, n_series, CHART_SCATTER, fit_lines, err);
}

char *svg_lines(const svg_chart *c, const svg_series *series, size_t n_series, gc_error *err)
{
    return chart(c, series, n_series, CHART_LINES, 0, err);
}

int svg_write(const char *path, const char *svg, gc_error *err)
{
    if (!svg) return gc_fail(err, "%s: no SVG text", path);
    return bytes_write_atomic(path, svg, strlen(svg), err);
}
