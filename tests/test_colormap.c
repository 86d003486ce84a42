/*
 * tests/test_colormap.c - io/colormap: table contents pinned to matplotlib's
 * published data, the lookup rule, NaN and out-of-range values, names.
 */
#include "io/colormap.h"
#include "tests/test.h"

#include <math.h>
#include <string.h>

static void check_rgb(colormap_kind k, double v, int r, int g, int b)
{
    unsigned char c[3];
    colormap_rgb(c, k, v);
    CHECK_MSG(c[0] == r && c[1] == g && c[2] == b, "%s(%g) = (%d,%d,%d), expected (%d,%d,%d)",
              colormap_name(k), v, c[0], c[1], c[2], r, g, b);
}

static void test_endpoints_match_published_tables(void)
{
    /* matplotlib _viridis_data[0] = (0.267004, 0.004874, 0.329415),
     * [255] = (0.993248, 0.906157, 0.143936); _turbo_data[0] =
     * (0.18995, 0.07176, 0.23217), [255] = (0.4796, 0.01583, 0.01055);
     * bytes are round(v * 255) */
    check_rgb(COLORMAP_VIRIDIS, 0.0, 68, 1, 84);
    check_rgb(COLORMAP_VIRIDIS, 1.0, 253, 231, 37);
    check_rgb(COLORMAP_TURBO, 0.0, 48, 18, 59);
    check_rgb(COLORMAP_TURBO, 1.0, 122, 4, 3);
    CHECK_NEAR(colormap_entry(COLORMAP_VIRIDIS, 128, 1), 0.566949, 1e-7);
    CHECK_NEAR(colormap_entry(COLORMAP_TURBO, 128, 0), 0.64362, 1e-7);
}

static void test_table_checksums(void)
{
    /* The published tables have 6 (viridis) and 5 (turbo) decimals. Sums of
     * the entries as integers (value * 10^digits), plain and weighted by
     * position, computed from matplotlib 3.6.3 _cm_listed.py: any changed
     * digit or swapped entry changes them. Also the byte sums of the lookup. */
    static const double scale[2] = {1e6, 1e5};
    static const long long want_sum[2] = {331700518LL, 39257500LL};
    static const long long want_weighted[2] = {145602098200LL, 14441567294LL};
    static const long want_bytes[2][3] = {{21356, 35125, 28105}, {35759, 38112, 26240}};
    int k, i, c;
    for (k = 0; k < 2; k++) {
        colormap_kind kind = k ? COLORMAP_TURBO : COLORMAP_VIRIDIS;
        long long sum = 0, weighted = 0;
        long bytes[3] = {0, 0, 0};
        for (i = 0; i < COLORMAP_SIZE; i++) {
            unsigned char rgb[3];
            colormap_rgb(rgb, kind, (i + 0.5) / COLORMAP_SIZE);
            for (c = 0; c < 3; c++) {
                long long v = (long long)floor(colormap_entry(kind, i, c) * scale[k] + 0.5);
                sum += v;
                weighted += (long long)(i * 3 + c + 1) * v;
                bytes[c] += rgb[c];
            }
        }
        CHECK_MSG(sum == want_sum[k], "%s: sum %lld", colormap_name(kind), sum);
        CHECK_MSG(weighted == want_weighted[k], "%s: weighted sum %lld", colormap_name(kind),
                  weighted);
        for (c = 0; c < 3; c++)
            CHECK_MSG(bytes[c] == want_bytes[k][c], "%s channel %d byte sum %ld, expected %ld",
                      colormap_name(kind), c, bytes[c], want_bytes[k][c]);
    }
}

static void test_viridis_lightness_increases(void)
{
    /* viridis is monotone in lightness; relative luminance of the table
     * rises strictly from entry to entry */
    int i;
    double prev = -1.0;
    for (i = 0; i < COLORMAP_SIZE; i++) {
        double y = 0.2126 * colormap_entry(COLORMAP_VIRIDIS, i, 0) +
                   0.7152 * colormap_entry(COLORMAP_VIRIDIS, i, 1) +
                   0.0722 * colormap_entry(COLORMAP_VIRIDIS, i, 2);
        CHECK_MSG(y > prev, "entry %d not lighter than entry %d", i, i - 1);
        prev = y;
    }
}

static void entry_rgb(unsigned char rgb[3], colormap_kind k, int i)
{
    int c;
    for (c = 0; c < 3; c++) rgb[c] = (unsigned char)(colormap_entry(k, i, c) * 255.0 + 0.5);
}

static void test_index_rule(void)
{
    /* entry floor(v * 256): 0.5 -> 128, just below -> 127; 1 -> 255 */
    unsigned char got[3], want[3];
    colormap_rgb(got, COLORMAP_TURBO, 0.5);
    entry_rgb(want, COLORMAP_TURBO, 128);
    CHECK(memcmp(got, want, 3) == 0);
    colormap_rgb(got, COLORMAP_TURBO, 0.5 - 1e-9);
    entry_rgb(want, COLORMAP_TURBO, 127);
    CHECK(memcmp(got, want, 3) == 0);
    colormap_rgb(got, COLORMAP_VIRIDIS, 1.0 / 256.0);
    entry_rgb(want, COLORMAP_VIRIDIS, 1);
    CHECK(memcmp(got, want, 3) == 0);
    colormap_rgb(got, COLORMAP_VIRIDIS, 0.999999);
    entry_rgb(want, COLORMAP_VIRIDIS, 255);
    CHECK(memcmp(got, want, 3) == 0);
}

static void test_out_of_range_and_nan(void)
{
    check_rgb(COLORMAP_TURBO, -3.0, 48, 18, 59);
    check_rgb(COLORMAP_TURBO, 7.0, 122, 4, 3);
    check_rgb(COLORMAP_TURBO, -INFINITY, 48, 18, 59);
    check_rgb(COLORMAP_TURBO, INFINITY, 122, 4, 3);
    check_rgb(COLORMAP_TURBO, NAN, COLORMAP_NAN_GRAY, COLORMAP_NAN_GRAY, COLORMAP_NAN_GRAY);
    check_rgb(COLORMAP_VIRIDIS, NAN, COLORMAP_NAN_GRAY, COLORMAP_NAN_GRAY, COLORMAP_NAN_GRAY);
}

static void test_names(void)
{
    colormap_kind k = COLORMAP_TURBO;
    CHECK(colormap_parse("viridis", &k) == 0 && k == COLORMAP_VIRIDIS);
    CHECK(colormap_parse("turbo", &k) == 0 && k == COLORMAP_TURBO);
    CHECK(colormap_parse("jet", &k) == -1 && k == COLORMAP_TURBO);
    CHECK(colormap_parse(NULL, &k) == -1);
    CHECK(strcmp(colormap_name(COLORMAP_VIRIDIS), "viridis") == 0);
    CHECK(strcmp(colormap_name(COLORMAP_TURBO), "turbo") == 0);
}

int main(int argc, char **argv)
{
    static const test_case cases[] = {
        TEST_CASE(test_endpoints_match_published_tables), TEST_CASE(test_table_checksums),
        TEST_CASE(test_viridis_lightness_increases),      TEST_CASE(test_index_rule),
        TEST_CASE(test_out_of_range_and_nan),             TEST_CASE(test_names),
    };
    return test_main(argc, argv, cases, TEST_COUNT(cases));
}
