/* io/textbuf.c - growable text buffer, XML escaping, base64; see io/textbuf.h. */
#include "io/textbuf.h"

#include <stdarg.h>
#include <string.h>

#include "io/atomic.h"

#define TEXTBUF_MIN_CAP 256

void textbuf_init(textbuf *tb)
{
    tb->data = NULL;
    tb->len = 0;
    tb->cap = 0;
    tb->failed = 0;
}

void textbuf_free(textbuf *tb)
{
    free(tb->data);
    textbuf_init(tb);
}

/* Make room for `extra` more bytes plus the terminating NUL. */
static int textbuf_reserve(textbuf *tb, size_t extra)
{
    size_t need, cap;
    char *p;
    if (tb->failed) return 0;
    if (!gc_add_size(tb->len, extra, &need) || !gc_add_size(need, 1, &need)) {
        tb->failed = 1;
        return 0;
    }
    if (need <= tb->cap) return 1;
    cap = tb->cap ? tb->cap : TEXTBUF_MIN_CAP;
    while (cap < need) {
        if (cap > (size_t)-1 / 2) {
            cap = need;
            break;
        }
        cap *= 2;
    }
    p = (char *)realloc(tb->data, cap);
    if (!p) {
        tb->failed = 1;
        return 0;
    }
    tb->data = p;
    tb->cap = cap;
    return 1;
}

void textbuf_append_n(textbuf *tb, const char *s, size_t n)
{
    if (!textbuf_reserve(tb, n)) return;
    if (n) memcpy(tb->data + tb->len, s, n);
    tb->len += n;
    tb->data[tb->len] = '\0';
}

void textbuf_append(textbuf *tb, const char *s)
{
    if (s) textbuf_append_n(tb, s, strlen(s));
}

void textbuf_printf(textbuf *tb, const char *fmt, ...)
{
    va_list ap;
    int n;
    char small[256];
    va_start(ap, fmt);
    n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        tb->failed = 1;
        return;
    }
    if ((size_t)n < sizeof small) {
        textbuf_append_n(tb, small, (size_t)n);
        return;
    }
    if (!textbuf_reserve(tb, (size_t)n)) return;
    va_start(ap, fmt);
    vsnprintf(tb->data + tb->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    tb->len += (size_t)n;
}

void textbuf_append_xml(textbuf *tb, const char *s)
{
    const char *run = s;
    if (!s) return;
    for (; *s; s++) {
        const char *rep = NULL;
        unsigned char c = (unsigned char)*s;
        switch (c) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&#39;"; break;
        default:
            if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') rep = "?";
        }
        if (rep) {
            textbuf_append_n(tb, run, (size_t)(s - run));
            textbuf_append(tb, rep);
            run = s + 1;
        }
    }
    textbuf_append_n(tb, run, (size_t)(s - run));
}

void textbuf_append_base64(textbuf *tb, const unsigned char *bytes, size_t n)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t groups = (n + 2) / 3, i;
    char *o;
    size_t out_len;
    if (!gc_mul_size(groups, 4, &out_len)) {
        tb->failed = 1;
        return;
    }
    if (!textbuf_reserve(tb, out_len)) return;
    o = tb->data + tb->len;
    for (i = 0; i + 3 <= n; i += 3) {
        unsigned long v = ((unsigned long)bytes[i] << 16) | ((unsigned long)bytes[i + 1] << 8) |
                          bytes[i + 2];
        *o++ = alphabet[(v >> 18) & 63];
        *o++ = alphabet[(v >> 12) & 63];
        *o++ = alphabet[(v >> 6) & 63];
        *o++ = alphabet[v & 63];
    }
    if (n - i == 1) {
        unsigned long v = (unsigned long)bytes[i] << 16;
        *o++ = alphabet[(v >> 18) & 63];
        *o++ = alphabet[(v >> 12) & 63];
        *o++ = '=';
        *o++ = '=';
    } else if (n - i == 2) {
        unsigned long v = ((unsigned long)bytes[i] << 16) | ((unsigned long)bytes[i + 1] << 8);
        *o++ = alphabet[(v >> 18) & 63];
        *o++ = alphabet[(v >> 12) & 63];
        *o++ = alphabet[(v >> 6) & 63];
        *o++ = '=';
    }
    tb->len += out_len;
    tb->data[tb->len] = '\0';
}

char *textbuf_release(textbuf *tb)
{
    char *p;
    if (tb->failed) {
        textbuf_free(tb);
        return NULL;
    }
    if (!tb->data) textbuf_append_n(tb, "", 0);
    if (tb->failed) {
        textbuf_free(tb);
        return NULL;
    }
    p = tb->data;
    textbuf_init(tb);
    return p;
}

int bytes_write_atomic(const char *path, const void *bytes, size_t n, gc_error *err)
{
    char tmp[GC_ATOMIC_PATH_MAX];
    FILE *f = atomic_open(path, tmp, sizeof tmp, err);
    if (!f) return GC_FAIL;
    if (n && fwrite(bytes, 1, n, f) != n) {
        atomic_abort(f, tmp);
        return gc_fail(err, "%s: write failed", path);
    }
    return atomic_commit(f, tmp, path, err);
}

int textbuf_write(const textbuf *tb, const char *path, gc_error *err)
{
    if (tb->failed) return gc_fail(err, "%s: out of memory while building the text", path);
    return bytes_write_atomic(path, tb->data, tb->len, err);
}
