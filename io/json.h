/*
 * io/json.h - a small, strict JSON (RFC 8259) pull reader, and the string
 * escaping the writers need. Used for the safetensors header (DESIGN.md
 * section 4: model files are safetensors).
 *
 * A pull reader walks the text without building a tree: the caller asks for
 * what it expects next (an object, a key, a string, an integer) and gets an
 * error naming the byte offset when the text holds something else. Memory
 * is only what the caller keeps (strings it reads are malloc'd copies), so
 * a hostile header costs no more than its own length.
 *
 * Strictness: RFC 8259 grammar only (no comments, no trailing commas, no
 * leading zeros, no NaN/Infinity, no single quotes); strings must be valid
 * UTF-8 (no overlong forms, no surrogates) with no raw control characters;
 * \u escapes must pair surrogates correctly. \u0000 is rejected because
 * strings are handed out as C strings. Nesting is limited to JSON_MAX_DEPTH.
 * Duplicate keys are not detected here (the caller knows what may repeat).
 *
 * Protocol, e.g. for {"a": [1, 2]}:
 *     json_begin_object(r)
 *     while ((k = json_next_key(r, &key)) == 1) {   // ':' consumed
 *         json_begin_array(r);
 *         while ((k2 = json_next_item(r)) == 1) json_read_u64(r, &v);
 *         free(key);
 *     }                                             // 0: '}' consumed
 *     json_finish(r)                                // only whitespace left
 * Every function returning int gives GC_FAIL (< 0) on error with err->msg
 * "byte N: <problem>" (the caller adds the file name).
 *
 * Does not: build a document tree, keep key order or detect duplicate keys,
 * parse numbers in a locale other than "C" (the programs never setlocale).
 */
#ifndef GC_IO_JSON_H
#define GC_IO_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "io/textbuf.h"
#include "nn/core.h"

#define JSON_MAX_DEPTH 64

typedef enum {
    JSON_NONE = 0,  /* end of text, or a byte no value can start with */
    JSON_NULL,
    JSON_FALSE,
    JSON_TRUE,
    JSON_NUMBER,
    JSON_STRING,
    JSON_ARRAY,
    JSON_OBJECT
} json_type;

typedef struct json_reader {
    const char *text;        /* (len) bytes, need not be NUL-terminated */
    size_t len;
    size_t pos;              /* next byte to read */
    int depth;               /* open containers */
    unsigned char has_item[JSON_MAX_DEPTH]; /* per open container: an element was read */
} json_reader;

void json_reader_init(json_reader *r, const char *text, size_t len);

/* Skip whitespace and classify the next value by its first byte. */
json_type json_peek(json_reader *r);

/* '{' ; then json_next_key until it returns 0. */
int json_begin_object(json_reader *r, gc_error *err);
/* 1: a key was read into *key (malloc'd, caller frees) and its ':' consumed,
 * the caller must now read or skip the value; 0: '}' consumed. */
int json_next_key(json_reader *r, char **key, gc_error *err);

/* '[' ; then json_next_item until it returns 0. */
int json_begin_array(json_reader *r, gc_error *err);
/* 1: an element follows (read or skip it); 0: ']' consumed. */
int json_next_item(json_reader *r, gc_error *err);

/* A string value, decoded to UTF-8, NUL-terminated, malloc'd; *len (if not
 * NULL) is its length in bytes. */
int json_read_string(json_reader *r, char **out, size_t *len, gc_error *err);
/* A number written as a plain non-negative integer (no '-', '.', exponent)
 * that fits in 64 bits. */
int json_read_u64(json_reader *r, uint64_t *out, gc_error *err);
/* Any JSON number, as a double (strtod; overflow to +-inf is an error). */
int json_read_double(json_reader *r, double *out, gc_error *err);
/* Check and skip one value of any type (nesting within JSON_MAX_DEPTH). */
int json_skip(json_reader *r, gc_error *err);
/* All containers closed and only whitespace left. */
int json_finish(json_reader *r, gc_error *err);

/* 1 if s[0..len) is valid UTF-8 (RFC 3629), else 0. */
int json_utf8_valid(const char *s, size_t len);

/* Append s (NUL-terminated, valid UTF-8: check with json_utf8_valid) as a
 * JSON string literal with quotes; '"', '\\' and control bytes escaped. */
void json_append_string(textbuf *tb, const char *s);

#endif
