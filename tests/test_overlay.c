/*
 * tests/test_overlay.c - io/overlay: blend values pixel by pixel, bilinear
 * CAM upsampling, integer enlargement, colour bar, gallery borders and
 * labels, class maps with a NaN class, bad arguments, PNG output.
 * The layout constants of io/overlay.c (margin 6, gap 8, border 2,
 * colour bar 12 wide + tick 4 + gap 2 + label) are pinned here on purpose.
 */
#include "io/overlay.h"
#include "tests/support_tmpdir.h"
#include "tests/test.h"

#include <math.h>
#include <string.h>

#define M 6 /* outer margin */

static const unsigned char *px(const overlay_image *im, size_t x, size_t y)
{
    return im->rgb + (y * im->width + x) * 3;
}

static int is_rgb(const unsigned char *p, int r, int g, int b)
{
    return p[0] == r && p[1] == g && p[2] == b;
}

static int same(const unsigned char *p, const unsigned char *q)
{
    return p[0] == q[0] && p[1] == q[1] && p[2] == q[2];
}

static unsigned char blend(double gray, unsigned char c, double a)
{
    return (unsigned char)floor((1.0 - a) * gray + a * c + 0.5);
}

static void test_blend_values(void)
{
    const real image[4] = {-1, 1, 0, 0.5}; /* symmetric range */
    const real cam[4] = {1, 1, 1, 1};
    const double gray[4] = {0, 255, 127.5, 191.25};
    overlay_opts o = overlay_opts_default();
    overlay_image im;
    unsigned char cm[3];
    int i, k;
    o.colorbar = 0;
    CHECK(overlay_render(&im, image, 2, 2, cam, 2, 2, &o, NULL) == GC_OK);
    CHECK(im.width == 2 + 2 * M && im.height == 2 + 2 * M);
    colormap_rgb(cm, COLORMAP_TURBO, 1.0);
    for (i = 0; i < 4; i++) {
        const unsigned char *p = px(&im, M + (size_t)(i % 2), M + (size_t)(i / 2));
        for (k = 0; k < 3; k++)
            CHECK_MSG(p[k] == blend(gray[i], cm[k], 0.5), "pixel %d channel %d = %d", i, k, p[k]);
    }
    /* turbo(1) = (122, 4, 3): black pixel -> (61, 2, 2), white -> (189, 130, 129) */
    CHECK(is_rgb(px(&im, M, M), 61, 2, 2));
    CHECK(is_rgb(px(&im, M + 1, M), 189, 130, 129));
    CHECK(is_rgb(px(&im, 0, 0), 255, 255, 255));
    CHECK(is_rgb(px(&im, im.width - 1, im.height - 1), 255, 255, 255));
    overlay_image_free(&im);
}

static void test_input_ranges_and_alpha(void)
{
    const real image[3] = {0, 1, NAN};
    const real cam[1] = {0.3};
    overlay_opts o = overlay_opts_default();
    overlay_image im;
    unsigned char cm[3];
    o.colorbar = 0;
    o.alpha = 0.0; /* pure gray */
    o.range = OVERLAY_RANGE_UNIT;
    CHECK(overlay_render(&im, image, 1, 3, cam, 1, 1, &o, NULL) == GC_OK);
    CHECK(is_rgb(px(&im, M, M), 0, 0, 0));
    CHECK(is_rgb(px(&im, M + 1, M), 255, 255, 255));
    CHECK(is_rgb(px(&im, M + 2, M), 0, 0, 0)); /* NaN input drawn black */
    overlay_image_free(&im);
    o.range = OVERLAY_RANGE_SYMMETRIC;
    CHECK(overlay_render(&im, image, 1, 3, cam, 1, 1, &o, NULL) == GC_OK);
    CHECK(is_rgb(px(&im, M, M), 128, 128, 128)); /* 0 in [-1,1] is mid gray (127.5) */
    overlay_image_free(&im);
    o.alpha = 1.0; /* pure colour map */
    CHECK(overlay_render(&im, image, 1, 3, cam, 1, 1, &o, NULL) == GC_OK);
    colormap_rgb(cm, COLORMAP_TURBO, 0.3);
    CHECK(same(px(&im, M, M), cm) && same(px(&im, M + 1, M), cm));
    overlay_image_free(&im);
}

static void test_bilinear_upsampling(void)
{
    /* CAM (1,2) = [0, 1] to width 4, align_corners=False: 0, .25, .75, 1 */
    const real cam[2] = {0, 1};
    const double want[4] = {0.0, 0.25, 0.75, 1.0};
    overlay_opts o = overlay_opts_default();
    overlay_image im;
    int i;
    o.colorbar = 0;
    o.cmap = COLORMAP_VIRIDIS;
    CHECK(overlay_render(&im, NULL, 1, 4, cam, 1, 2, &o, NULL) == GC_OK);
    for (i = 0; i < 4; i++) {
        unsigned char cm[3];
        colormap_rgb(cm, COLORMAP_VIRIDIS, want[i]);
        CHECK_MSG(same(px(&im, M + (size_t)i, M), cm), "pixel %d", i);
    }
    overlay_image_free(&im);
}

static void test_scale_blocks(void)
{
    const real image[2] = {-1, 1};
    const real cam[2] = {0, 0};
    overlay_opts o = overlay_opts_default();
    overlay_image im;
    size_t x, y, s = 5;
    int ok = 1;
    o.colorbar = 0;
    o.alpha = 0.0;
    o.scale = s;
    CHECK(overlay_render(&im, image, 1, 2, cam, 1, 2, &o, NULL) == GC_OK);
    CHECK(im.width == 2 * s + 2 * M && im.height == s + 2 * M);
    for (y = 0; y < s; y++)
        for (x = 0; x < 2 * s; x++) {
            int v = x < s ? 0 : 255;
            ok &= is_rgb(px(&im, M + x, M + y), v, v, v);
        }
    CHECK(ok);
    overlay_image_free(&im);
}

static void test_colorbar(void)
{
    const real image[4] = {0, 0, 0, 0};
    const real cam[4] = {0, 0, 0, 0};
    overlay_opts o = overlay_opts_default();
    overlay_image im;
    size_t bar_h = 40, x0 = M + 40 + 8, y0 = M, r;
    unsigned char cm[3];
    int ok = 1, labels = 0;
    size_t x, y;
    o.scale = 20;
    CHECK(overlay_render(&im, image, 2, 2, cam, 2, 2, &o, NULL) == GC_OK);
    /* width: margin, image, margin, gap, bar 12, tick 4, gap 2, "0.5" 11 */
    CHECK_MSG(im.width == M + 40 + M + 8 + 12 + 4 + 2 + 11, "width %zu", im.width);
    CHECK(im.height == 40 + 2 * M);
    /* frame */
    CHECK(is_rgb(px(&im, x0, y0 + 10), 0, 0, 0) && is_rgb(px(&im, x0 + 11, y0 + 10), 0, 0, 0));
    CHECK(is_rgb(px(&im, x0 + 5, y0), 0, 0, 0) && is_rgb(px(&im, x0 + 5, y0 + bar_h - 1), 0, 0, 0));
    /* gradient: row r inside the frame has value (bar_h - 1 - r) / (bar_h - 1) */
    for (r = 1; r + 1 < bar_h; r++) {
        colormap_rgb(cm, COLORMAP_TURBO, (double)(bar_h - 1 - r) / (double)(bar_h - 1));
        ok &= same(px(&im, x0 + 5, y0 + r), cm);
    }
    CHECK(ok);
    /* tick marks at 1, 0.5 and 0 */
    CHECK(is_rgb(px(&im, x0 + 13, y0), 0, 0, 0));
    CHECK(is_rgb(px(&im, x0 + 13, y0 + (bar_h - 1) / 2), 0, 0, 0));
    CHECK(is_rgb(px(&im, x0 + 13, y0 + bar_h - 1), 0, 0, 0));
    CHECK(is_rgb(px(&im, x0 + 13, y0 + 5), 255, 255, 255));
    /* some label pixels to the right of the ticks */
    for (y = 0; y < im.height; y++)
        for (x = x0 + 18; x < im.width; x++) labels += is_rgb(px(&im, x, y), 0, 0, 0);
    CHECK_MSG(labels >= 20, "%d label pixels", labels);
    overlay_image_free(&im);
}

static void test_gallery(void)
{
    real images[3 * 16], cams[3 * 4];
    const int labels[3] = {0, 1, 2}, preds[3] = {0, 2, 2};
    overlay_samples s;
    overlay_opts o = overlay_opts_default();
    overlay_image im;
    size_t i, x, y;
    int text = 0;
    for (i = 0; i < 3 * 16; i++) images[i] = (real)((double)(i % 16) / 8.0 - 1.0);
    for (i = 0; i < 3 * 4; i++) cams[i] = (real)((double)i / 11.0);
    memset(&s, 0, sizeof s);
    s.images = images;
    s.cams = cams;
    s.labels = labels;
    s.preds = preds;
    s.n = 3;
    s.h = s.w = 4;
    s.cam_h = s.cam_w = 2;
    o.colorbar = 0;
    CHECK(overlay_gallery(&im, &s, 3, &o, NULL) == GC_OK);
    /* tile: 4 + 2 * 2 border = 8 wide; 8 + label row (2 + 5 + 2) = 17 high */
    CHECK_MSG(im.width == M + 3 * 8 + 2 * 8 + M, "width %zu", im.width);
    CHECK_MSG(im.height == M + 17 + M, "height %zu", im.height);
    CHECK(is_rgb(px(&im, M, M), 0, 160, 0));           /* correct: green */
    CHECK(is_rgb(px(&im, M + 16 + 1, M + 7), 220, 0, 0)); /* wrong: red */
    CHECK(is_rgb(px(&im, M + 32 + 7, M), 0, 160, 0));
    /* "1/2" drawn under the second tile */
    for (y = M + 8; y < M + 17; y++)
        for (x = M + 16; x < M + 24; x++) text += is_rgb(px(&im, x, y), 0, 0, 0);
    CHECK_MSG(text >= 10, "%d text pixels", text);
    overlay_image_free(&im);
    /* without labels: gray frames, no label row; default columns (2 for 3) */
    s.labels = s.preds = NULL;
    CHECK(overlay_gallery(&im, &s, 0, &o, NULL) == GC_OK);
    CHECK(im.width == M + 2 * 8 + 8 + M && im.height == M + 2 * 8 + 8 + M);
    CHECK(is_rgb(px(&im, M, M), 160, 160, 160));
    overlay_image_free(&im);
}

static void test_class_maps_with_nan_class(void)
{
    real maps[2 * 4] = {0.0, 0.5, 0.75, 1.0, NAN, NAN, NAN, NAN};
    overlay_opts o = overlay_opts_default();
    overlay_image im;
    unsigned char cm[3];
    size_t x1 = M + 20 + 8;
    o.scale = 10;
    o.colorbar = 0;
    CHECK(overlay_class_maps(&im, maps, 2, 2, 2, 0, &o, NULL) == GC_OK);
    CHECK(im.width == M + 20 + 8 + 20 + M);
    CHECK(im.height == M + 20 + 2 + 5 + 2 + M);
    colormap_rgb(cm, COLORMAP_TURBO, 0.5);
    CHECK(same(px(&im, M + 15, M + 5), cm)); /* nearest neighbour: map[0][1] */
    colormap_rgb(cm, COLORMAP_TURBO, 0.75);
    CHECK(same(px(&im, M + 9, M + 19), cm));
    CHECK(is_rgb(px(&im, x1 + 3, M + 3), 64, 64, 64));   /* the cross */
    CHECK(is_rgb(px(&im, x1 + 19, M + 0), 64, 64, 64));
    CHECK(is_rgb(px(&im, x1 + 3, M + 10), 128, 128, 128)); /* NaN gray */
    overlay_image_free(&im);
}

static void test_bad_arguments(void)
{
    const real one[1] = {0};
    overlay_opts o = overlay_opts_default();
    overlay_samples s;
    overlay_image im;
    gc_error err;
    o.scale = 0;
    CHECK(overlay_render(&im, one, 1, 1, one, 1, 1, &o, &err) == GC_FAIL);
    CHECK(im.rgb == NULL && strstr(err.msg, "scale") != NULL);
    o = overlay_opts_default();
    o.alpha = 1.5;
    CHECK(overlay_render(&im, one, 1, 1, one, 1, 1, &o, &err) == GC_FAIL);
    CHECK(strstr(err.msg, "alpha") != NULL);
    o = overlay_opts_default();
    CHECK(overlay_render(&im, one, (size_t)1 << 20, (size_t)1 << 20, one, 1, 1, &o, &err) ==
          GC_FAIL);
    CHECK(strstr(err.msg, "limit") != NULL || strstr(err.msg, "too large") != NULL);
    CHECK(overlay_render(&im, one, 1, 1, one, 0, 1, &o, &err) == GC_FAIL);
    CHECK(overlay_class_maps(&im, one, 0, 1, 1, 0, &o, &err) == GC_FAIL);
    memset(&s, 0, sizeof s);
    s.images = s.cams = one;
    s.n = s.h = s.w = s.cam_h = s.cam_w = 1;
    s.labels = (const int *)one; /* labels without predictions */
    CHECK(overlay_gallery(&im, &s, 0, &o, &err) == GC_FAIL);
    CHECK(strstr(err.msg, "labels") != NULL);
}

static void test_write_png(void)
{
    const real image[6] = {0, 0.5, 1, -1, -0.5, 0};
    const real cam[1] = {0.5};
    overlay_opts o = overlay_opts_default();
    overlay_image im;
    char dir[512], path[600];
    unsigned char head[24];
    FILE *f;
    CHECK(overlay_render(&im, image, 2, 3, cam, 1, 1, &o, NULL) == GC_OK);
    CHECK(tmpdir_make(dir, sizeof dir) == 0);
    tmpdir_path(path, sizeof path, dir, "o.png");
    CHECK(overlay_write_png(&im, path, NULL) == GC_OK);
    f = fopen(path, "rb");
    CHECK(f != NULL);
    if (f) {
        CHECK(fread(head, 1, sizeof head, f) == sizeof head);
        fclose(f);
        CHECK(memcmp(head, "\x89PNG\r\n\x1a\n", 8) == 0 && memcmp(head + 12, "IHDR", 4) == 0);
        CHECK(head[16] == 0 && head[17] == 0 && head[18] == (im.width >> 8) &&
              head[19] == (im.width & 255));
        CHECK(head[23] == im.height);
    }
    overlay_image_free(&im);
    tmpdir_remove(dir);
}

int main(int argc, char **argv)
{
    static const test_case cases[] = {
        TEST_CASE(test_blend_values),  TEST_CASE(test_input_ranges_and_alpha),
        TEST_CASE(test_bilinear_upsampling), TEST_CASE(test_scale_blocks),
        TEST_CASE(test_colorbar),      TEST_CASE(test_gallery),
        TEST_CASE(test_class_maps_with_nan_class), TEST_CASE(test_bad_arguments),
        TEST_CASE(test_write_png),
    };
    return test_main(argc, argv, cases, TEST_COUNT(cases));
}
