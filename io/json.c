/*
 * io/json.c - strict JSON pull reader and string escaping; see io/json.h.
 */
#include "io/json.h"

#include <errno.h>
#include <math.h>
#include <string.h>

/* Longest number text json_read_double copies for strtod; a longer number is
 * still valid JSON but no header of ours needs one. */
#define JSON_NUMBER_MAX 64

void json_reader_init(json_reader *r, const char *text, size_t len)
{
    memset(r, 0, sizeof *r);
    r->text = text;
    r->len = len;
}

static int fail_at(json_reader *r, gc_error *err, const char *what)
{
    return gc_fail(err, "byte %zu: %s", r->pos, what);
}

static void skip_ws(json_reader *r)
{
    while (r->pos < r->len) {
        char c = r->text[r->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        r->pos++;
    }
}

/* Next byte after whitespace, or -1 at the end. */
static int peek_byte(json_reader *r)
{
    skip_ws(r);
    return r->pos < r->len ? (unsigned char)r->text[r->pos] : -1;
}

json_type json_peek(json_reader *r)
{
    switch (peek_byte(r)) {
    case '{': return JSON_OBJECT;
    case '[': return JSON_ARRAY;
    case '"': return JSON_STRING;
    case 't': return JSON_TRUE;
    case 'f': return JSON_FALSE;
    case 'n': return JSON_NULL;
    case '-': case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9': return JSON_NUMBER;
    default: return JSON_NONE;
    }
}

static int open_container(json_reader *r, char open, gc_error *err)
{
    if (peek_byte(r) != (unsigned char)open)
        return fail_at(r, err, open == '{' ? "expected '{'" : "expected '['");
    if (r->depth >= JSON_MAX_DEPTH) return fail_at(r, err, "nesting deeper than 64 levels");
    r->pos++;
    r->has_item[r->depth++] = 0;
    return GC_OK;
}

int json_begin_object(json_reader *r, gc_error *err) { return open_container(r, '{', err); }
int json_begin_array(json_reader *r, gc_error *err) { return open_container(r, '[', err); }

/* Shared by next_key / next_item: 1 if an element follows (after an
 * optional ','), 0 if the closing byte was consumed. */
static int next_element(json_reader *r, char close, gc_error *err)
{
    int c = peek_byte(r);
    unsigned char *has;
    GC_CHECK(r->depth > 0);
    has = &r->has_item[r->depth - 1];
    if (c == (unsigned char)close) {
        r->pos++;
        r->depth--;
        return 0;
    }
    if (*has) {
        if (c != ',')
            return fail_at(r, err, close == '}' ? "expected ',' or '}'" : "expected ',' or ']'");
        r->pos++;
        c = peek_byte(r);
        if (c == (unsigned char)close) return fail_at(r, err, "trailing comma");
    }
    if (c < 0) return fail_at(r, err, "unexpected end of text");
    *has = 1;
    return 1;
}

int json_next_item(json_reader *r, gc_error *err)
{
    if (r->depth <= 0) return fail_at(r, err, "no open array");
    return next_element(r, ']', err);
}

int json_next_key(json_reader *r, char **key, gc_error *err)
{
    int k;
    *key = NULL;
    if (r->depth <= 0) return fail_at(r, err, "no open object");
    k = next_element(r, '}', err);
    if (k != 1) return k;
    if (peek_byte(r) != '"') return fail_at(r, err, "expected a string key");
    if (json_read_string(r, key, NULL, err) != GC_OK) return GC_FAIL;
    if (peek_byte(r) != ':') {
        free(*key);
        *key = NULL;
        return fail_at(r, err, "expected ':' after key");
    }
    r->pos++;
    return 1;
}

/* Length (1-4) of the UTF-8 sequence at s[0..avail), 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t avail)
{
    unsigned char c = s[0];
    size_t n, i;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) n = 2;
    else if (c >= 0xE0 && c <= 0xEF) n = 3;
    else if (c >= 0xF0 && c <= 0xF4) n = 4;
    else return 0;
    if (c == 0xE0) lo = 0xA0;        /* no overlong 3-byte forms */
    if (c == 0xED) hi = 0x9F;        /* no surrogates */
    if (c == 0xF0) lo = 0x90;        /* no overlong 4-byte forms */
    if (c == 0xF4) hi = 0x8F;        /* nothing above U+10FFFF */
    if (avail < n) return 0;
    if (s[1] < lo || s[1] > hi) return 0;
    for (i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xBF) return 0;
    return n;
}

int json_utf8_valid(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        size_t n = utf8_seq(u + i, len - i);
        if (n == 0) return 0;
        i += n;
    }
    return 1;
}

static int hex4(const char *p, unsigned *out)
{
    unsigned v = 0;
    int i;
    for (i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
        else return 0;
    }
    *out = v;
    return 1;
}

static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Scan the string starting at r->pos (the opening quote): validate it and
 * return the index of the closing quote in *end. Decoded length <= raw length. */
static int scan_string(json_reader *r, size_t *end, gc_error *err)
{
    size_t i = r->pos + 1;
    const unsigned char *u = (const unsigned char *)r->text;
    while (i < r->len) {
        unsigned char c = u[i];
        if (c == '"') {
            *end = i;
            return GC_OK;
        }
        if (c < 0x20) {
            r->pos = i;
            return fail_at(r, err, "control character in string");
        }
        if (c == '\\') {
            char e;
            if (i + 1 >= r->len) break;
            e = r->text[i + 1];
            if (e == 'u') {
                unsigned cp;
                if (i + 6 > r->len || !hex4(r->text + i + 2, &cp)) {
                    r->pos = i;
                    return fail_at(r, err, "bad \\u escape");
                }
                if (cp == 0) {
                    r->pos = i;
                    return fail_at(r, err, "\\u0000 in string");
                }
                if (cp >= 0xDC00 && cp <= 0xDFFF) {
                    r->pos = i;
                    return fail_at(r, err, "lone low surrogate in \\u escape");
                }
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    unsigned lo;
                    if (i + 12 > r->len || r->text[i + 6] != '\\' || r->text[i + 7] != 'u' ||
                        !hex4(r->text + i + 8, &lo) || lo < 0xDC00 || lo > 0xDFFF) {
                        r->pos = i;
                        return fail_at(r, err, "unpaired high surrogate in \\u escape");
                    }
                    i += 12;
                } else {
                    i += 6;
                }
                continue;
            }
            if (strchr("\"\\/bfnrt", e) == NULL || e == '\0') {
                r->pos = i;
                return fail_at(r, err, "bad escape in string");
            }
            i += 2;
            continue;
        }
        {
            size_t n = utf8_seq(u + i, r->len - i);
            if (n == 0) {
                r->pos = i;
                return fail_at(r, err, "invalid UTF-8 in string");
            }
            i += n;
        }
    }
    r->pos = r->len;
    return fail_at(r, err, "unterminated string");
}

int json_read_string(json_reader *r, char **out, size_t *len, gc_error *err)
{
    size_t end, i, o = 0;
    char *s;
    *out = NULL;
    if (peek_byte(r) != '"') return fail_at(r, err, "expected a string");
    if (scan_string(r, &end, err) != GC_OK) return GC_FAIL;
    s = (char *)malloc(end - r->pos);    /* raw length incl. one quote >= decoded + NUL */
    if (!s) return fail_at(r, err, "out of memory for a string");
    for (i = r->pos + 1; i < end;) {
        char c = r->text[i];
        if (c != '\\') {
            s[o++] = c;
            i++;
            continue;
        }
        c = r->text[i + 1];
        if (c == 'u') {
            unsigned cp = 0, lo = 0xDC00;   /* scan_string validated the escapes */
            hex4(r->text + i + 2, &cp);
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                hex4(r->text + i + 8, &lo);
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                i += 12;
            } else {
                i += 6;
            }
            o += put_utf8(s + o, cp);
            continue;
        }
        switch (c) {
        case 'b': s[o++] = '\b'; break;
        case 'f': s[o++] = '\f'; break;
        case 'n': s[o++] = '\n'; break;
        case 'r': s[o++] = '\r'; break;
        case 't': s[o++] = '\t'; break;
        default: s[o++] = c; break;   /* " \ / */
        }
        i += 2;
    }
    s[o] = '\0';
    r->pos = end + 1;
    *out = s;
    if (len) *len = o;
    return GC_OK;
}

/* Validate a number's grammar at r->pos; on success *end is one past it and
 * *is_plain_uint says whether it is digits only. */
static int scan_number(json_reader *r, size_t *end, int *is_plain_uint, gc_error *err)
{
    size_t i = r->pos;
    const char *t = r->text;
    int plain = 1;
    if (i < r->len && t[i] == '-') {
        plain = 0;
        i++;
    }
    if (i >= r->len || t[i] < '0' || t[i] > '9') {
        r->pos = i;
        return fail_at(r, err, "bad number");
    }
    if (t[i] == '0') {
        i++;
        if (i < r->len && t[i] >= '0' && t[i] <= '9') {
            r->pos = i;
            return fail_at(r, err, "leading zero in number");
        }
    } else {
        while (i < r->len && t[i] >= '0' && t[i] <= '9') i++;
    }
    if (i < r->len && t[i] == '.') {
        plain = 0;
        i++;
        if (i >= r->len || t[i] < '0' || t[i] > '9') {
            r->pos = i;
            return fail_at(r, err, "bad fraction in number");
        }
        while (i < r->len && t[i] >= '0' && t[i] <= '9') i++;
    }
    if (i < r->len && (t[i] == 'e' || t[i] == 'E')) {
        plain = 0;
        i++;
        if (i < r->len && (t[i] == '+' || t[i] == '-')) i++;
        if (i >= r->len || t[i] < '0' || t[i] > '9') {
            r->pos = i;
            return fail_at(r, err, "bad exponent in number");
        }
        while (i < r->len && t[i] >= '0' && t[i] <= '9') i++;
    }
    *end = i;
    *is_plain_uint = plain;
    return GC_OK;
}

int json_read_u64(json_reader *r, uint64_t *out, gc_error *err)
{
    size_t end, i;
    int plain;
    uint64_t v = 0;
    if (json_peek(r) != JSON_NUMBER) return fail_at(r, err, "expected a non-negative integer");
    if (scan_number(r, &end, &plain, err) != GC_OK) return GC_FAIL;
    if (!plain) return fail_at(r, err, "expected a non-negative integer");
    for (i = r->pos; i < end; i++) {
        unsigned d = (unsigned)(r->text[i] - '0');
        if (v > (UINT64_MAX - d) / 10) return fail_at(r, err, "integer does not fit in 64 bits");
        v = v * 10 + d;
    }
    r->pos = end;
    *out = v;
    return GC_OK;
}

int json_read_double(json_reader *r, double *out, gc_error *err)
{
    size_t end;
    int plain;
    char buf[JSON_NUMBER_MAX + 1];
    char *stop;
    double v;
    if (json_peek(r) != JSON_NUMBER) return fail_at(r, err, "expected a number");
    if (scan_number(r, &end, &plain, err) != GC_OK) return GC_FAIL;
    if (end - r->pos > JSON_NUMBER_MAX) return fail_at(r, err, "number text too long");
    memcpy(buf, r->text + r->pos, end - r->pos);
    buf[end - r->pos] = '\0';
    errno = 0;
    v = strtod(buf, &stop);
    if (*stop != '\0') return fail_at(r, err, "bad number");
    if (errno == ERANGE && fabs(v) > 1.0) return fail_at(r, err, "number out of range");
    r->pos = end;
    *out = v;
    return GC_OK;
}

static int expect_literal(json_reader *r, const char *lit, gc_error *err)
{
    size_t n = strlen(lit);
    if (r->len - r->pos < n || memcmp(r->text + r->pos, lit, n) != 0)
        return fail_at(r, err, "invalid literal");
    r->pos += n;
    return GC_OK;
}

int json_skip(json_reader *r, gc_error *err)
{
    size_t end;
    int plain, k;
    char *key;
    switch (json_peek(r)) {
    case JSON_NULL: return expect_literal(r, "null", err);
    case JSON_TRUE: return expect_literal(r, "true", err);
    case JSON_FALSE: return expect_literal(r, "false", err);
    case JSON_NUMBER:
        if (scan_number(r, &end, &plain, err) != GC_OK) return GC_FAIL;
        r->pos = end;
        return GC_OK;
    case JSON_STRING:
        if (scan_string(r, &end, err) != GC_OK) return GC_FAIL;
        r->pos = end + 1;
        return GC_OK;
    case JSON_ARRAY:
        if (json_begin_array(r, err) != GC_OK) return GC_FAIL;
        while ((k = json_next_item(r, err)) == 1)
            if (json_skip(r, err) != GC_OK) return GC_FAIL;
        return k == 0 ? GC_OK : GC_FAIL;
    case JSON_OBJECT:
        if (json_begin_object(r, err) != GC_OK) return GC_FAIL;
        while ((k = json_next_key(r, &key, err)) == 1) {
            free(key);
            if (json_skip(r, err) != GC_OK) return GC_FAIL;
        }
        return k == 0 ? GC_OK : GC_FAIL;
    default:
        return fail_at(r, err, r->pos < r->len ? "expected a value" : "unexpected end of text");
    }
}

int json_finish(json_reader *r, gc_error *err)
{
    if (r->depth != 0) return fail_at(r, err, "unclosed object or array");
    skip_ws(r);
    if (r->pos != r->len) return fail_at(r, err, "unexpected data after the JSON value");
    return GC_OK;
}

void json_append_string(textbuf *tb, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    const char *run = s;
    textbuf_append(tb, "\"");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        textbuf_append_n(tb, run, (size_t)(s - run));
        run = s + 1;
        switch (c) {
        case '"': textbuf_append(tb, "\\\""); break;
        case '\\': textbuf_append(tb, "\\\\"); break;
        case '\n': textbuf_append(tb, "\\n"); break;
        case '\r': textbuf_append(tb, "\\r"); break;
        case '\t': textbuf_append(tb, "\\t"); break;
        default: {
            char u[7] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], '\0'};
            textbuf_append(tb, u);
        }
        }
    }
    textbuf_append_n(tb, run, (size_t)(s - run));
    textbuf_append(tb, "\"");
}
