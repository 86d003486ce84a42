/*
 * tests/test_svg.c - io/svg: nice ticks, escaping, NaN skipping and its
 * note, least-squares line geometry, broken polylines, determinism, and
 * (when /usr/bin/python3 exists) that the output parses as XML.
 */
#include "io/svg.h"
#include "tests/support_tmpdir.h"
#include "tests/test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PYTHON "/usr/bin/python3"

static size_t count(const char *s, const char *needle)
{
    size_t n = 0, len = strlen(needle);
    while ((s = strstr(s, needle)) != NULL) {
        n++;
        s += len;
    }
    return n;
}

static int is_nice_step(double step)
{
    double e = floor(log10(step)), m = step / pow(10.0, e);
    return fabs(m - 1) < 1e-9 || fabs(m - 2) < 1e-9 || fabs(m - 5) < 1e-9 ||
           fabs(m - 10) < 1e-9;
}

static void ticks_case(double lo, double hi, double want_first, double want_step, int want_count)
{
    double first, step;
    int n;
    svg_nice_ticks(lo, hi, 6, &first, &step, &n);
    CHECK_NEAR(first, want_first, 1e-12);
    CHECK_NEAR(step, want_step, 1e-12);
    CHECK_MSG(n == want_count, "[%g, %g]: %d ticks, expected %d", lo, hi, n, want_count);
}

static void test_nice_ticks(void)
{
    static const double ranges[][2] = {{0, 1},      {-0.63, 0.74}, {0.0012, 0.0087},
                                       {1, 50},     {-1e5, 3e5},  {0.3, 0.3},
                                       {0.1, 0.3}, {-7, -7}};
    size_t i;
    ticks_case(0, 1, 0, 0.2, 6);
    ticks_case(0.0012, 0.0087, 0.001, 0.001, 9);
    ticks_case(1, 50, 0, 10, 6);
    ticks_case(0, 0, -1, 0.5, 5); /* widened to [-1, 1] */
    for (i = 0; i < sizeof ranges / sizeof ranges[0]; i++) {
        double first, step, lo = ranges[i][0], hi = ranges[i][1];
        int n;
        svg_nice_ticks(lo, hi, 6, &first, &step, &n);
        CHECK_MSG(first <= lo + 1e-12 * fabs(lo) && first + (n - 1) * step >= hi - 1e-12 * fabs(hi),
                  "[%g, %g] not covered by %g + k * %g, k < %d", lo, hi, first, step, n);
        CHECK_MSG(is_nice_step(step), "step %g", step);
        CHECK_MSG(n >= 3 && n <= 12, "[%g, %g]: %d ticks", lo, hi, n);
    }
}

/* Value of the first attribute `name` at or after svg (0 if none). */
static int attr(const char *svg, const char *name, double *v)
{
    char key[32];
    const char *p;
    if (!svg) return 0;
    snprintf(key, sizeof key, " %s=\"", name);
    p = strstr(svg, key);
    if (!p) return 0;
    *v = strtod(p + strlen(key), NULL);
    return 1;
}

static void test_scatter_structure_and_fit(void)
{
    /* series 0 lies on y = 2x + 1: its fitted line must pass through the
     * drawn markers of its first and last points */
    const double x0[4] = {0, 1, NAN, 2}, y0[4] = {1, 3, 5, 5};
    const double x1[3] = {0.5, 1.5, 1.0}, y1[3] = {2, 2, INFINITY};
    svg_series s[2];
    svg_chart c;
    char *svg, *again;
    const char *p, *line;
    double cx0 = 0, cy0 = 0, cx1 = 0, cy1 = 0, lx1 = -1, ly1 = -1, lx2 = -1, ly2 = -1;
    memset(&c, 0, sizeof c);
    c.title = "kappa vs L_CAM <per model> & \"seeds\"";
    c.x_label = "L_CAM";
    c.y_label = "kappa";
    s[0].name = "Level 1";
    s[0].x = x0;
    s[0].y = y0;
    s[0].n = 4;
    s[1].name = NULL;
    s[1].x = x1;
    s[1].y = y1;
    s[1].n = 3;
    svg = svg_scatter(&c, s, 2, 1, NULL);
    CHECK(svg != NULL);
    if (!svg) return;
    CHECK(strncmp(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\"", 39) == 0);
    CHECK(strcmp(svg + strlen(svg) - 7, "</svg>\n") == 0);
    CHECK(strstr(svg, "kappa vs L_CAM &lt;per model&gt; &amp; &quot;seeds&quot;") != NULL);
    CHECK(strstr(svg, "<per model>") == NULL);
    CHECK(strstr(svg, ">L_CAM</text>") != NULL && strstr(svg, "rotate(-90") != NULL);
    /* markers: 3 circles (series 0, NaN skipped) + 1 legend circle; 2 squares
     * (inf skipped) + 1 legend square + background + plot frame */
    CHECK_MSG(count(svg, "<circle") == 3 + 1, "%zu circles", count(svg, "<circle"));
    CHECK_MSG(count(svg, "<rect x=") == 2 + 1 + 2, "%zu rects", count(svg, "<rect x="));
    CHECK(strstr(svg, "2 points skipped (NaN, inf or |value| &gt; 1e300)") != NULL);
    CHECK(strstr(svg, "Level 1 (r = 1.000, n = 3)") != NULL);
    CHECK(strstr(svg, "series 2 (n = 2)") != NULL); /* equal y: r undefined; fit flat */
    /* fitted line of series 0 */
    line = strstr(svg, "stroke=\"#1f77b4\" stroke-width=\"1.5\"");
    CHECK(line != NULL);
    if (line) {
        const char *start = line;
        while (start > svg && strncmp(start, "<line", 5) != 0) start--;
        p = strstr(svg, "<circle");
        CHECK(attr(p, "cx", &cx0) && attr(p, "cy", &cy0));
        p = p ? strstr(p + 1, "<circle") : NULL;
        p = p ? strstr(p + 1, "<circle") : NULL; /* third finite point (x = 2) */
        CHECK(attr(p, "cx", &cx1) && attr(p, "cy", &cy1));
        CHECK(attr(start, "x1", &lx1) && attr(start, "y1", &ly1) && attr(start, "x2", &lx2) &&
              attr(start, "y2", &ly2));
        CHECK_NEAR(lx1, cx0, 0.011);
        CHECK_NEAR(ly1, cy0, 0.011);
        CHECK_NEAR(lx2, cx1, 0.011);
        CHECK_NEAR(ly2, cy1, 0.011);
    }
    again = svg_scatter(&c, s, 2, 1, NULL);
    CHECK(again && strcmp(svg, again) == 0); /* deterministic */
    free(again);
    /* without fit lines no line of width 1.5 */
    again = svg_scatter(&c, s, 2, 0, NULL);
    CHECK(again && strstr(again, "stroke-width=\"1.5\"") == NULL);
    free(again);
    free(svg);
}

static void test_lines_break_at_nan(void)
{
    const double ep[6] = {1, 2, 3, 4, 5, 6};
    const double acc[6] = {0.5, 0.6, NAN, 0.7, 0.75, 0.8};
    const double lc[6] = {0.1, 0.09, 0.08, 0.07, 0.06, 0.05};
    svg_series s[2];
    svg_chart c;
    char *svg;
    const char *p;
    memset(&c, 0, sizeof c);
    c.title = "learning curves";
    s[0].name = "lambda=-100";
    s[0].x = ep;
    s[0].y = acc;
    s[0].n = 6;
    s[1].name = "lambda=500";
    s[1].x = ep;
    s[1].y = lc;
    s[1].n = 6;
    svg = svg_lines(&c, s, 2, NULL);
    CHECK(svg != NULL);
    if (!svg) return;
    CHECK_MSG(count(svg, "<polyline") == 3, "%zu polylines", count(svg, "<polyline"));
    /* first polyline: two points; second: three */
    p = strstr(svg, "<polyline");
    p = strstr(p, "points=\"");
    CHECK(p && count(p, " ") > 0);
    if (p) {
        const char *end = strchr(p + 8, '"');
        size_t spaces = 0;
        const char *q;
        for (q = p + 8; q < end; q++) spaces += *q == ' ';
        CHECK_MSG(spaces == 1, "first run has %zu points", spaces + 1);
    }
    CHECK(strstr(svg, "1 point skipped (NaN, inf or |value| &gt; 1e300)") != NULL);
    CHECK(strstr(svg, "lambda=500</text>") != NULL);
    /* epochs are integers: no fractional x tick labels */
    CHECK(strstr(svg, ">1.5</text>") == NULL);
    free(svg);
}

static void test_extreme_ranges(void)
{
    /* no NaN coordinates and a bounded number of ticks at the ends of double */
    const double x[3] = {-1e300, 1e300, 1.7e308}, y[3] = {4.9e-324, 9.9e-324, 0};
    svg_series s;
    char *svg;
    double first, step;
    int n;
    svg_nice_ticks(-1.7e308, 1.7e308, 6, &first, &step, &n);
    CHECK(isfinite(first) && isfinite(step) && step > 0 && n >= 2 && n <= 1000);
    svg_nice_ticks(4.9e-324, 9.9e-324, 6, &first, &step, &n);
    CHECK(isfinite(first) && isfinite(step) && step > 0 && n >= 2 && n <= 1000);
    s.name = "extreme";
    s.x = x;
    s.y = y;
    s.n = 3;
    svg = svg_scatter(NULL, &s, 1, 1, NULL);
    CHECK(svg != NULL && strstr(svg, "nan") == NULL && strstr(svg, "\"inf") == NULL &&
          strstr(svg, ">inf") == NULL);
    CHECK(svg && strstr(svg, "1 point skipped") != NULL); /* 1.7e308 is beyond SVG_MAX_ABS */
    CHECK(svg && count(svg, "<circle") == 2 + 1);
    free(svg);
}

static void test_all_nan_and_empty(void)
{
    const double x[2] = {NAN, 1}, y[2] = {1, NAN};
    svg_series s;
    char *svg;
    gc_error err;
    s.name = "a";
    s.x = x;
    s.y = y;
    s.n = 2;
    svg = svg_scatter(NULL, &s, 1, 1, NULL);
    CHECK(svg && strstr(svg, "no data points to draw; 2 points skipped") != NULL);
    free(svg);
    svg = svg_lines(NULL, NULL, 0, NULL);
    CHECK(svg && strstr(svg, "no data points to draw") != NULL && strstr(svg, "</svg>") != NULL);
    free(svg);
    s.x = NULL;
    CHECK(svg_scatter(NULL, &s, 1, 1, &err) == NULL);
    CHECK(strstr(err.msg, "series 0") != NULL);
}

static void test_parses_as_xml(void)
{
    const double x[3] = {1, 2, 3}, y[3] = {0.5, NAN, 0.25};
    svg_series s;
    svg_chart c;
    char dir[512], path[600], cmd[1400];
    char *svg;
    int rc;
    if (access(PYTHON, X_OK) != 0) {
        printf("    skipped: %s not found\n", PYTHON);
        return;
    }
    memset(&c, 0, sizeof c);
    c.title = "a < b & 'c' \x01";
    c.x_label = "x \"label\"";
    s.name = "<&>";
    s.x = x;
    s.y = y;
    s.n = 3;
    CHECK(tmpdir_make(dir, sizeof dir) == 0);
    tmpdir_path(path, sizeof path, dir, "c.svg");
    svg = svg_scatter(&c, &s, 1, 1, NULL);
    CHECK(svg && svg_write(path, svg, NULL) == GC_OK);
    snprintf(cmd, sizeof cmd,
             "%s -c \"import sys, xml.etree.ElementTree as E; r = E.parse(sys.argv[1]).getroot(); "
             "assert r.tag.endswith('svg'); "
             "t = [e.text for e in r.iter() if e.tag.endswith('text')]; "
             "assert \\\"a < b & 'c' ?\\\" in t, t\" '%s'",
             PYTHON, path);
    rc = system(cmd);
    CHECK_MSG(rc == 0, "python XML parse failed (status %d)", rc);
    free(svg);
    svg = svg_lines(&c, &s, 1, NULL);
    CHECK(svg && svg_write(path, svg, NULL) == GC_OK);
    rc = system(cmd);
    CHECK_MSG(rc == 0, "python XML parse of the line chart failed (status %d)", rc);
    free(svg);
    tmpdir_remove(dir);
}

int main(int argc, char **argv)
{
    static const test_case cases[] = {
        TEST_CASE(test_nice_ticks),         TEST_CASE(test_scatter_structure_and_fit),
        TEST_CASE(test_lines_break_at_nan), TEST_CASE(test_all_nan_and_empty),
        TEST_CASE(test_extreme_ranges),
        TEST_CASE(test_parses_as_xml),
    };
    return test_main(argc, argv, cases, TEST_COUNT(cases));
}
