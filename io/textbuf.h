/*
 * io/textbuf.h - a growable text buffer for the writers of io/ (SVG, CSV,
 * HTML report), with the escaping and encoding they share.
 *
 * Errors are sticky: an append that cannot grow the buffer sets `failed`
 * and every later append is a no-op, so a writer appends freely and checks
 * once (textbuf_release / textbuf_write report the failure). The data is
 * always NUL-terminated while not failed.
 *
 * Does not: format numbers in a locale-dependent way on its own (printf is
 * used as is; the programs never call setlocale, so the "C" locale holds).
 */
#ifndef GC_IO_TEXTBUF_H
#define GC_IO_TEXTBUF_H

#include <stddef.h>

#include "nn/core.h"

typedef struct textbuf {
    char *data;   /* (cap) bytes, data[len] == '\0' while !failed */
    size_t len;
    size_t cap;
    int failed;   /* 1 after an allocation failure (sticky) */
} textbuf;

void textbuf_init(textbuf *tb);
void textbuf_free(textbuf *tb);

void textbuf_append(textbuf *tb, const char *s);
void textbuf_append_n(textbuf *tb, const char *s, size_t n);
void textbuf_printf(textbuf *tb, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Append s escaped for XML/HTML text and attribute values: & < > " ' become
 * entities; control bytes XML 1.0 forbids (below 0x20 except tab, LF, CR)
 * become '?'. NULL appends nothing. */
void textbuf_append_xml(textbuf *tb, const char *s);

/* Append the standard base64 encoding (RFC 4648, '+' '/', '=' padding, no
 * line breaks) of n bytes. */
void textbuf_append_base64(textbuf *tb, const unsigned char *bytes, size_t n);

/* Hand the NUL-terminated text to the caller (free() it) and reset tb.
 * Returns NULL (and frees) if an append had failed. */
char *textbuf_release(textbuf *tb);

/* Write the text to path atomically (io/atomic.h). GC_FAIL if an append had
 * failed or the write fails, with err naming path. */
int textbuf_write(const textbuf *tb, const char *path, gc_error *err);

/* Write n bytes to path atomically. */
int bytes_write_atomic(const char *path, const void *bytes, size_t n, gc_error *err);

#endif
