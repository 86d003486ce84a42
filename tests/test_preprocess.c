/* tests/test_preprocess.c - resize against hand-computed values (plain
 * bilinear when enlarging, torchvision's antialiased filter when shrinking),
 * flip, and RandomResizedCrop parameters (range, fallback, determinism).
 * tests/test_resize_torch.sh compares the resize with PyTorch when present. */
#include <string.h>

#include "io/preprocess.h"
#include "tests/test.h"

#define TOL 1e-12

static void test_identity_is_exact(void)
{
    real in[12], out[12], tmp[12];
    int i, same = 1;
    for (i = 0; i < 12; i++) in[i] = (real)(i * i) - (real)3.25;
    resize_bilinear(in, 3, 4, out, 3, 4, tmp);
    for (i = 0; i < 12; i++) same &= out[i] == in[i];
    CHECK(same);
}

static void test_enlarge_is_plain_bilinear(void)
{
    /* [0, 10] -> 4: source positions -0.25, 0.25, 0.75, 1.25, clamped */
    real in[2] = {0, 10}, out[4], tmp[4];
    real sq[4] = {0, 10, 20, 30}, big[16], tmp2[8];
    resize_bilinear(in, 1, 2, out, 1, 4, tmp);
    CHECK_NEAR(out[0], 0.0, TOL);
    CHECK_NEAR(out[1], 2.5, TOL);
    CHECK_NEAR(out[2], 7.5, TOL);
    CHECK_NEAR(out[3], 10.0, TOL);
    /* 2x2 -> 4x4: separable, weights (0.75, 0.25) on both axes at (1, 1) */
    resize_bilinear(sq, 2, 2, big, 4, 4, tmp2);
    CHECK_NEAR(big[0], 0.0, TOL);
    CHECK_NEAR(big[1 * 4 + 1], 0.75 * 0.75 * 0 + 0.75 * 0.25 * 10 + 0.25 * 0.75 * 20 +
                                   0.25 * 0.25 * 30, TOL);
    CHECK_NEAR(big[2 * 4 + 1], 0.25 * 0.75 * 0 + 0.25 * 0.25 * 10 + 0.75 * 0.75 * 20 +
                                   0.75 * 0.25 * 30, TOL);
    CHECK_NEAR(big[3], 10.0, TOL);
    CHECK_NEAR(big[15], 30.0, TOL);
    /* 3 -> 5 along the height: scale 0.6, rows at source 0.6 * (i + 0.5) - 0.5 */
    {
        real col[3] = {1, 4, 9}, o[5], t[3];
        int i;
        for (i = 0; i < 5; i++) {
            double s = 0.6 * (i + 0.5) - 0.5, v;
            int i0;
            if (s < 0) s = 0;
            i0 = (int)s;
            v = i0 + 1 < 3 ? col[i0] * (1 - (s - i0)) + col[i0 + 1] * (s - i0) : col[2];
            resize_bilinear(col, 3, 1, o, 5, 1, t);
            CHECK_NEAR(o[i], v, 1e-12);
        }
    }
}

static void test_shrink_is_antialiased(void)
{
    /* [0, 4, 8, 12] -> 2, scale 2, support 2: taps (3/7, 3/7, 1/7) and
     * (1/7, 3/7, 3/7); plain bilinear would give 2 and 10 */
    real in[4] = {0, 4, 8, 12}, out[2], tmp[4]; /* tmp: (in_h, out_w) */
    real in2[6] = {6, 0, 0, 0, 0, 6}, out2[3], tmp2[3];
    resize_bilinear(in, 1, 4, out, 1, 2, tmp);
    CHECK_NEAR(out[0], 20.0 / 7.0, TOL);
    CHECK_NEAR(out[1], 64.0 / 7.0, TOL);
    /* the same along the height */
    resize_bilinear(in, 4, 1, out, 2, 1, tmp);
    CHECK_NEAR(out[0], 20.0 / 7.0, TOL);
    CHECK_NEAR(out[1], 64.0 / 7.0, TOL);
    /* 6 -> 3 (scale 2): output 0 has centre 1, taps x = 0..2 with weights
     * tri(-0.25), tri(0.25), tri(0.75) = 0.75, 0.75, 0.25 -> 6 * 3/7 */
    resize_bilinear(in2, 1, 6, out2, 1, 3, tmp2);
    CHECK_NEAR(out2[0], 6.0 * 3.0 / 7.0, TOL);
    /* output 1: centre 3, taps 1..4, t = -0.75 -0.25 0.25 0.75 -> all zero samples */
    CHECK_NEAR(out2[1], 0.0, TOL);
    CHECK_NEAR(out2[2], 6.0 * 3.0 / 7.0, TOL);
}

static void test_constant_stays_constant(void)
{
    static const int sizes[][4] = {{7, 5, 3, 11}, {9, 9, 2, 2}, {1, 13, 4, 1}, {20, 3, 7, 7}};
    real in[300], out[300], tmp[300];
    int c, i, ok = 1;
    for (c = 0; c < 4; c++) {
        for (i = 0; i < sizes[c][0] * sizes[c][1]; i++) in[i] = (real)4.2;
        resize_bilinear(in, sizes[c][0], sizes[c][1], out, sizes[c][2], sizes[c][3], tmp);
        for (i = 0; i < sizes[c][2] * sizes[c][3]; i++) ok &= fabs(out[i] - 4.2) < 1e-12;
    }
    CHECK(ok);
}

static void test_flip(void)
{
    real a[6] = {1, 2, 3, 4, 5, 6}, b[4] = {1, 2, 3, 4};
    flip_horizontal(a, 2, 3);
    CHECK(a[0] == 3 && a[1] == 2 && a[2] == 1 && a[3] == 6 && a[4] == 5 && a[5] == 4);
    flip_horizontal(b, 1, 4);
    CHECK(b[0] == 4 && b[1] == 3 && b[2] == 2 && b[3] == 1);
}

static void test_crop_params_in_range(void)
{
    static const int dims[][2] = {{224, 224}, {28, 28}, {100, 130}, {131, 100}, {1, 1}, {2, 3}};
    crop_range range = crop_range_paper();
    rng r;
    int d, i, ok = 1, fallbacks = 0, accepted = 0, area_ok = 1;
    rng_seed(&r, 5);
    for (d = 0; d < 6; d++) {
        int H = dims[d][0], W = dims[d][1];
        for (i = 0; i < 2000; i++) {
            crop_box b;
            int at = random_resized_crop_params(H, W, &range, &r, &b);
            ok &= b.height >= 1 && b.width >= 1 && b.top >= 0 && b.left >= 0 &&
                  b.top + b.height <= H && b.left + b.width <= W && at >= 0 &&
                  at <= RRC_ATTEMPTS;
            if (at == 0) {
                fallbacks++;
            } else if (H >= 28) {
                /* accepted boxes: area about 90-100% (rounding), ratio in range */
                double area = (double)b.height * b.width / ((double)H * W);
                double ratio = (double)b.width / b.height;
                accepted++;
                area_ok &= area > 0.85 && area < 1.0 + 4.0 / H &&
                           ratio > 0.75 * 0.9 && ratio < 4.0 / 3.0 * 1.1;
            }
        }
    }
    CHECK(ok);
    CHECK(area_ok);
    CHECK_MSG(fallbacks > 0 && accepted > 0, "fallbacks %d, accepted %d", fallbacks, accepted);
}

static void test_crop_fallback(void)
{
    /* 100 x 300 (H x W): every attempt needs ratio >= 2.7 > 4/3 and fails;
     * fallback width = round(100 * 4/3) = 133, centred */
    crop_range range = crop_range_paper();
    crop_box b;
    rng r;
    rng_seed(&r, 1);
    CHECK(random_resized_crop_params(100, 300, &range, &r, &b) == 0);
    CHECK(b.height == 100 && b.width == 133 && b.top == 0 && b.left == (300 - 133) / 2);
    /* 300 x 100: height = round(100 / 0.75) = 133 */
    CHECK(random_resized_crop_params(300, 100, &range, &r, &b) == 0);
    CHECK(b.width == 100 && b.height == 133 && b.left == 0 && b.top == 83);
    /* in-range aspect ratio with an impossible scale: the whole image */
    range.scale_lo = 1.5;
    range.scale_hi = 2.0;
    CHECK(random_resized_crop_params(50, 60, &range, &r, &b) == 0);
    CHECK(b.height == 50 && b.width == 60 && b.top == 0 && b.left == 0);
    /* a square image with the paper's range falls back now and then */
    {
        crop_range paper = crop_range_paper();
        int i, hits = 0;
        for (i = 0; i < 500; i++) {
            if (random_resized_crop_params(224, 224, &paper, &r, &b) == 0) {
                hits++;
                CHECK(b.height == 224 && b.width == 224 && b.top == 0 && b.left == 0);
            }
        }
        /* P(10 rejections) is about 0.1-0.2 for a square at scale 0.9-1 */
        CHECK_MSG(hits > 10 && hits < 200, "fallback hits %d of 500", hits);
    }
}

static void test_crop_deterministic(void)
{
    crop_range range = crop_range_paper();
    rng a, b;
    int i, same = 1;
    rng_seed(&a, 99);
    rng_seed(&b, 99);
    for (i = 0; i < 200; i++) {
        crop_box x, y;
        int ra = random_resized_crop_params(224, 224, &range, &a, &x);
        int rb = random_resized_crop_params(224, 224, &range, &b, &y);
        same &= ra == rb && x.top == y.top && x.left == y.left && x.height == y.height &&
                x.width == y.width;
    }
    CHECK(same);
}

int main(int argc, char **argv)
{
    static const test_case cases[] = {
        TEST_CASE(test_identity_is_exact),
        TEST_CASE(test_enlarge_is_plain_bilinear),
        TEST_CASE(test_shrink_is_antialiased),
        TEST_CASE(test_constant_stays_constant),
        TEST_CASE(test_flip),
        TEST_CASE(test_crop_params_in_range),
        TEST_CASE(test_crop_fallback),
        TEST_CASE(test_crop_deterministic),
    };
    return test_main(argc, argv, cases, TEST_COUNT(cases));
}
