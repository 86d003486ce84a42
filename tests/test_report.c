/*
 * tests/test_report.c - io/textbuf (base64 vectors of RFC 4648, XML
 * escaping, growth, sticky failure) and io/report (escaping, tables with
 * NaN, embedded PNG decoded back byte for byte, inline SVG, bad inputs
 * leave the report unchanged, atomic write).
 */
#include "io/png.h"
#include "io/report.h"
#include "io/textbuf.h"
#include "tests/support_tmpdir.h"
#include "tests/test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long len;
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = (char *)malloc((size_t)len + 1);
    if (fread(buf, 1, (size_t)len, f) != (size_t)len) len = 0;
    buf[len] = '\0';
    fclose(f);
    if (n) *n = (size_t)len;
    return buf;
}

static size_t count(const char *s, const char *needle)
{
    size_t n = 0, len = strlen(needle);
    while ((s = strstr(s, needle)) != NULL) {
        n++;
        s += len;
    }
    return n;
}

static void check_b64(const char *in, const char *want)
{
    textbuf tb;
    textbuf_init(&tb);
    textbuf_append_base64(&tb, (const unsigned char *)in, strlen(in));
    CHECK_MSG(tb.data && strcmp(tb.data, want) == 0, "base64(%s) = %s, expected %s", in,
              tb.data ? tb.data : "(null)", want);
    textbuf_free(&tb);
}

static void test_base64_vectors(void)
{
    /* RFC 4648 section 10 */
    check_b64("", "");
    check_b64("f", "Zg==");
    check_b64("fo", "Zm8=");
    check_b64("foo", "Zm9v");
    check_b64("foob", "Zm9vYg==");
    check_b64("fooba", "Zm9vYmE=");
    check_b64("foobar", "Zm9vYmFy");
    check_b64("\xff\xfe\xfd", "//79");
}

static void test_xml_escape_and_growth(void)
{
    textbuf tb;
    char *s;
    size_t i;
    textbuf_init(&tb);
    textbuf_append_xml(&tb, "a<b>&\"c\" 'd'\x01\ttab\nnl");
    CHECK(strcmp(tb.data, "a&lt;b&gt;&amp;&quot;c&quot; &#39;d&#39;?\ttab\nnl") == 0);
    textbuf_append_xml(&tb, NULL);
    textbuf_free(&tb);
    textbuf_init(&tb);
    for (i = 0; i < 5000; i++) textbuf_printf(&tb, "%zu,", i);
    textbuf_printf(&tb, "%s", "");
    {
        char big[1000];
        memset(big, 'x', sizeof big - 1);
        big[sizeof big - 1] = '\0';
        textbuf_printf(&tb, "[%s]", big); /* longer than the internal small buffer */
    }
    CHECK(!tb.failed);
    CHECK(strncmp(tb.data, "0,1,2,", 6) == 0 && strstr(tb.data, ",4999,[xxx") != NULL);
    CHECK(tb.len == strlen(tb.data) && tb.data[tb.len - 1] == ']');
    s = textbuf_release(&tb);
    CHECK(s != NULL && tb.data == NULL && tb.len == 0);
    free(s);
    /* sticky failure: release gives NULL, write fails */
    textbuf_init(&tb);
    textbuf_append(&tb, "x");
    tb.failed = 1;
    textbuf_append(&tb, "more");
    CHECK(tb.len == 1);
    {
        gc_error err;
        CHECK(textbuf_write(&tb, "/tmp/never-written", &err) == GC_FAIL);
        CHECK(strstr(err.msg, "out of memory") != NULL);
    }
    CHECK(textbuf_release(&tb) == NULL);
}

/* Decode standard base64 (test-local, independent of the encoder). */
static unsigned char *b64_decode(const char *s, size_t len, size_t *n)
{
    unsigned char *out = (unsigned char *)malloc(len / 4 * 3 + 3);
    size_t i, o = 0;
    for (i = 0; i + 4 <= len; i += 4) {
        unsigned v = 0;
        int k, pad = 0;
        for (k = 0; k < 4; k++) {
            char c = s[i + (size_t)k];
            unsigned d = c >= 'A' && c <= 'Z'   ? (unsigned)(c - 'A')
                         : c >= 'a' && c <= 'z' ? (unsigned)(c - 'a' + 26)
                         : c >= '0' && c <= '9' ? (unsigned)(c - '0' + 52)
                         : c == '+'             ? 62u
                         : c == '/'             ? 63u
                                                : 0u;
            if (c == '=') pad++;
            v = v << 6 | d;
        }
        out[o++] = (unsigned char)(v >> 16);
        if (pad < 2) out[o++] = (unsigned char)(v >> 8 & 255);
        if (pad < 1) out[o++] = (unsigned char)(v & 255);
    }
    *n = o;
    return out;
}

static void test_report_page(void)
{
    char dir[512], path[600], png_path[600], svg_path[600], bad_path[600];
    static const char *const header[] = {"model", "kappa", "note"};
    static const char *const cells[] = {"L1 <best>", "0.735", NULL, "L2", "-0.626", "a & b"};
    static const char *const nheader[] = {"class", "l_cam", "n"};
    static const char *const rows[] = {"0", "1"};
    const double values[4] = {0.00123, 5, NAN, 1};
    const unsigned char pix[12] = {255, 0, 0, 0, 255, 0, 0, 0, 255, 9, 9, 9};
    unsigned char *png, *back;
    size_t npng, nback, nhtml;
    report *r;
    gc_error err;
    char *html;
    const char *p, *q;
    CHECK(tmpdir_make(dir, sizeof dir) == 0);
    tmpdir_path(path, sizeof path, dir, "report.html");
    tmpdir_path(png_path, sizeof png_path, dir, "img.png");
    tmpdir_path(svg_path, sizeof svg_path, dir, "c.svg");
    tmpdir_path(bad_path, sizeof bad_path, dir, "bad.png");
    CHECK(png_encode(&png, &npng, pix, 2, 2, 3, NULL) == GC_OK);
    CHECK(tmpdir_write(png_path, png, npng) == 0);
    CHECK(tmpdir_write_str(svg_path, "<?xml version=\"1.0\"?>\n<!-- c -->\n"
                                     "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" "
                                     "height=\"10\"><circle cx=\"5\" cy=\"5\" r=\"4\"/></svg>") == 0);
    CHECK(tmpdir_write_str(bad_path, "GIF89a not a png") == 0);

    r = report_begin("Run <1> & \"friends\"");
    CHECK(r != NULL);
    if (!r) return;
    report_h2(r, "Section <2>");
    report_p(r, "lambda < 0 & kappa > 0.5");
    report_pre(r, "col1\tcol2\n<raw>");
    report_table(r, "models", header, 3, cells, 2);
    report_table_numbers(r, "per class", nheader, 3, rows, values, 2);
    CHECK(report_image_png_file(r, png_path, "2x2 test image", &err) == GC_OK);
    CHECK(report_svg_file(r, svg_path, "a circle", &err) == GC_OK);
    /* bad inputs: errors name the file, the report does not change */
    CHECK(report_write(r, path, &err) == GC_OK);
    html = slurp(path, &nhtml);
    CHECK(report_image_png_file(r, bad_path, NULL, &err) == GC_FAIL);
    CHECK(strstr(err.msg, bad_path) && strstr(err.msg, "not a PNG"));
    CHECK(report_image_png_file(r, "/nonexistent/x.png", NULL, &err) == GC_FAIL);
    CHECK(strstr(err.msg, "/nonexistent/x.png") && strstr(err.msg, "cannot open"));
    CHECK(report_svg_file(r, png_path, NULL, &err) == GC_FAIL);
    CHECK(strstr(err.msg, png_path) != NULL);
    CHECK(report_svg(r, "<html></html>", NULL, &err) == GC_FAIL);
    CHECK(report_write(r, path, &err) == GC_OK);
    {
        size_t n2;
        char *again = slurp(path, &n2);
        CHECK(again && html && n2 == nhtml && strcmp(again, html) == 0);
        free(again);
    }
    report_free(r);
    CHECK(tmpdir_count(dir) == 4); /* no temp file left */
    if (!html) {
        free(png);
        tmpdir_remove(dir);
        return;
    }
    CHECK(strncmp(html, "<!DOCTYPE html>\n<html lang=\"en\">", 32) == 0);
    CHECK(strcmp(html + nhtml - 16, "</body>\n</html>\n") == 0);
    CHECK(strstr(html, "<title>Run &lt;1&gt; &amp; &quot;friends&quot;</title>") != NULL);
    CHECK(strstr(html, "<h1>Run &lt;1&gt; &amp; &quot;friends&quot;</h1>") != NULL);
    CHECK(strstr(html, "<h2>Section &lt;2&gt;</h2>") != NULL);
    CHECK(strstr(html, "<p>lambda &lt; 0 &amp; kappa &gt; 0.5</p>") != NULL);
    CHECK(strstr(html, "<pre>col1\tcol2\n&lt;raw&gt;</pre>") != NULL);
    CHECK(strstr(html, "<td>L1 &lt;best&gt;</td><td class=\"num\">0.735</td><td></td>") != NULL);
    CHECK(strstr(html, "<td>a &amp; b</td>") != NULL);
    CHECK(strstr(html, "<th>model</th><th>kappa</th><th>note</th>") != NULL);
    CHECK(strstr(html, "<tr><td>0</td><td class=\"num\">0.00123</td><td class=\"num\">5</td></tr>") !=
          NULL);
    CHECK(strstr(html, "<tr><td>1</td><td class=\"nan\">NaN</td><td class=\"num\">1</td></tr>") !=
          NULL);
    CHECK(count(html, "<table>") == 2 && count(html, "</table>") == 2);
    /* the image: decode the data URI and compare with the PNG bytes */
    p = strstr(html, "src=\"data:image/png;base64,");
    CHECK(p != NULL);
    if (p) {
        p += strlen("src=\"data:image/png;base64,");
        q = strchr(p, '"');
        back = b64_decode(p, (size_t)(q - p), &nback);
        CHECK(nback == npng && memcmp(back, png, npng) == 0);
        free(back);
    }
    CHECK(strstr(html, "alt=\"2x2 test image\"") != NULL);
    CHECK(strstr(html, "<figcaption>a circle</figcaption>") != NULL);
    /* inline SVG without its XML declaration or comment */
    CHECK(strstr(html, "<figure>\n<svg xmlns=") != NULL && strstr(html, "<?xml") == NULL);
    CHECK(strstr(html, "<!-- c -->") == NULL);
    free(html);
    free(png);
    tmpdir_remove(dir);
}

static void test_report_write_failure(void)
{
    report *r = report_begin(NULL);
    gc_error err;
    unsigned char notpng[8] = {0};
    CHECK(r != NULL);
    if (!r) return;
    CHECK(report_image_png(r, notpng, sizeof notpng, NULL, &err) == GC_FAIL);
    CHECK(report_write(r, "/nonexistent-dir/r.html", &err) == GC_FAIL);
    CHECK(strstr(err.msg, "/nonexistent-dir/r.html") != NULL);
    report_free(r);
}

int main(int argc, char **argv)
{
    static const test_case cases[] = {
        TEST_CASE(test_base64_vectors), TEST_CASE(test_xml_escape_and_growth),
        TEST_CASE(test_report_page),    TEST_CASE(test_report_write_failure),
    };
    return test_main(argc, argv, cases, TEST_COUNT(cases));
}
