/*
 * tests/test_safetensors.c - io/safetensors: round trips, the reference
 * implementation's exact bytes, bytewise little-endian decoding of every
 * numeric dtype, and malformed files (each must fail with a message naming
 * the file, without crashing or allocating what the header claims).
 */
#include "io/json.h"
#include "io/safetensors.h"
#include "nn/rng.h"
#include "tests/support_tmpdir.h"
#include "tests/test.h"

#include <float.h>
#include <string.h>

#define PATH_CAP 4096
/* Random corruptions tried; each writes a file, which is slow on some
 * temp filesystems, so the number stays modest. */
#define CORRUPT_TRIALS 400

static char dir[PATH_CAP];

static void dir_open(void)
{
    if (tmpdir_make(dir, sizeof dir) != 0) {
        fprintf(stderr, "cannot create a temp folder\n");
        abort();
    }
}

static void dir_close(void) { tmpdir_remove(dir); }

static void path_of(char *out, const char *name) { tmpdir_path(out, PATH_CAP, dir, name); }

/* A file: 8-byte little-endian hlen, then json (strlen bytes), then data. */
static void write_st(const char *path, uint64_t hlen, const char *json, const void *data,
                     size_t ndata)
{
    size_t nj = strlen(json), i;
    unsigned char *buf = (unsigned char *)malloc(8 + nj + ndata + 1);
    for (i = 0; i < 8; i++) buf[i] = (unsigned char)(hlen >> (8 * i));
    memcpy(buf + 8, json, nj);
    if (ndata) memcpy(buf + 8 + nj, data, ndata);
    CHECK(tmpdir_write(path, buf, 8 + nj + ndata) == 0);
    free(buf);
}

static void write_json(const char *path, const char *json, size_t ndata)
{
    unsigned char *zeros = (unsigned char *)calloc(ndata + 1, 1);
    write_st(path, strlen(json), json, zeros, ndata);
    free(zeros);
}

static unsigned char *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf;
    long len;
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = (unsigned char *)malloc((size_t)len + 1);
    *n = fread(buf, 1, (size_t)len, f);
    fclose(f);
    return buf;
}

/* st_open must fail, and the message must name the file and contain needle. */
static void expect_fail_at(int line, const char *path, const char *needle)
{
    gc_error e;
    st_file *f;
    e.msg[0] = '\0';
    f = st_open(path, &e);
    if (f) {
        test_report(__FILE__, line, "st_open accepted a bad file (expected '%s')", needle);
        st_close(f);
        return;
    }
    if (!strstr(e.msg, path)) test_report(__FILE__, line, "message lacks the path: %s", e.msg);
    if (!strstr(e.msg, needle))
        test_report(__FILE__, line, "message lacks '%s': %s", needle, e.msg);
}
#define EXPECT_FAIL(path, needle) expect_fail_at(__LINE__, path, needle)

/* The same for a JSON header (followed by ndata zero bytes). */
static void bad_json_at(int line, const char *json, size_t ndata, const char *needle)
{
    char p[PATH_CAP];
    path_of(p, "bad.safetensors");
    write_json(p, json, ndata);
    expect_fail_at(line, p, needle);
}
#define BAD_JSON(json, ndata, needle) bad_json_at(__LINE__, json, ndata, needle)

static void test_roundtrip(void)
{
    char p[PATH_CAP];
    gc_error e;
    st_writer *w = st_writer_new(ST_F64);
    st_file *f;
    real rv[6] = {1.5, -2.25, 3.0e-3, 0, 1e10, -7};
    double dv[3] = {3.141592653589793, -1e-300, 2.5e300};
    int64_t iv[4] = {0, -1, INT64_MAX, INT64_MIN};
    uint64_t uv[2] = {UINT64_C(0xFFFFFFFFFFFFFFFF), UINT64_C(0x8000000000000001)};
    int64_t s23[2] = {2, 3}, s3[1] = {3}, s4[1] = {4}, s2[1] = {2}, s0[2] = {5, 0};
    real rout[6], scalar_in = (real)42.5, scalar_out = 0;
    double dout[3];
    int64_t iout[4];
    uint64_t uout[2];
    const st_tensor *t;
    const char *k, *v;
    int i, ok;
    dir_open();
    path_of(p, "rt.safetensors");
    CHECK(st_writer_meta(w, "level", "3", &e) == GC_OK);
    CHECK(st_writer_meta(w, "names", "a \"q\" \\ \n\t\x01 \xc3\xa9 \xe6\x97\xa5", &e) == GC_OK);
    CHECK(st_writer_add_real(w, "f32", 2, s23, rv, ST_F32, &e) == GC_OK);
    CHECK(st_writer_add_real(w, "native", 2, s23, rv, ST_DEFAULT, &e) == GC_OK);
    CHECK(st_writer_add_double(w, "f64", 1, s3, dv, ST_F64, &e) == GC_OK);
    CHECK(st_writer_add_i64(w, "i64", 1, s4, iv, &e) == GC_OK);
    CHECK(st_writer_add_u64(w, "u64", 1, s2, uv, &e) == GC_OK);
    CHECK(st_writer_add_real(w, "scalar", 0, NULL, &scalar_in, ST_F32, &e) == GC_OK);
    CHECK(st_writer_add_real(w, "empty", 2, s0, rv, ST_F32, &e) == GC_OK);
    CHECK(st_writer_write(w, p, &e) == GC_OK);
    st_writer_free(w);
    CHECK(tmpdir_count(dir) == 1);   /* no temp file left behind */

    f = st_open(p, &e);
    CHECK_MSG(f != NULL, "st_open: %s", e.msg);
    if (!f) {
        dir_close();
        return;
    }
    CHECK(st_count(f) == 7);
    CHECK(strcmp(st_tensor_at(f, 0)->name, "f32") == 0);   /* header order = add order */
    CHECK(strcmp(st_tensor_at(f, 6)->name, "empty") == 0);
    t = st_find(f, "f32");
    CHECK(t && t->dtype == ST_F32 && t->ndim == 2 && t->shape[0] == 2 && t->shape[1] == 3 &&
          t->numel == 6);
    t = st_find(f, "native");
    CHECK(t && t->dtype == ST_F64);   /* the writer's real dtype */
    t = st_find(f, "u64");
    CHECK(t && t->dtype == ST_I64);
    t = st_find(f, "scalar");
    CHECK(t && t->ndim == 0 && t->numel == 1);
    t = st_find(f, "empty");
    CHECK(t && t->numel == 0 && t->begin == t->end);
    CHECK(st_find(f, "nope") == NULL);
    /* every tensor aligned to its element size */
    for (i = 0, ok = 1; i < st_count(f); i++) {
        t = st_tensor_at(f, i);
        ok &= t->begin % st_dtype_size(t->dtype) == 0;
    }
    CHECK(ok);

    CHECK(st_read_real(f, "f32", rout, 6, &e) == GC_OK);
    for (i = 0, ok = 1; i < 6; i++) ok &= rout[i] == (real)(float)rv[i];
    CHECK(ok);
    CHECK(st_read_real(f, "native", rout, 6, &e) == GC_OK);
    for (i = 0, ok = 1; i < 6; i++) ok &= rout[i] == rv[i];
    CHECK(ok);
    CHECK(st_read_double(f, "f64", dout, 3, &e) == GC_OK);
    CHECK(dout[0] == dv[0] && dout[1] == dv[1] && dout[2] == dv[2]);
    CHECK(st_read_i64(f, "i64", iout, 4, &e) == GC_OK);
    CHECK(iout[0] == 0 && iout[1] == -1 && iout[2] == INT64_MAX && iout[3] == INT64_MIN);
    CHECK(st_read_u64(f, "u64", uout, 2, &e) == GC_OK);
    CHECK(uout[0] == uv[0] && uout[1] == uv[1]);
    CHECK(st_read_i64(f, "u64", iout, 2, &e) == GC_OK);   /* the I64 view of the words */
    CHECK(iout[0] == -1 && iout[1] == INT64_MIN + 1);
    CHECK(st_read_real(f, "scalar", &scalar_out, 1, &e) == GC_OK);
    CHECK(scalar_out == (real)42.5);
    CHECK(st_read_real(f, "empty", rout, 0, &e) == GC_OK);

    CHECK(st_meta_count(f) == 2);
    CHECK(st_meta(f, "level") && strcmp(st_meta(f, "level"), "3") == 0);
    CHECK(st_meta(f, "names") &&
          strcmp(st_meta(f, "names"), "a \"q\" \\ \n\t\x01 \xc3\xa9 \xe6\x97\xa5") == 0);
    CHECK(st_meta(f, "absent") == NULL);
    st_meta_at(f, 0, &k, &v);
    CHECK(strcmp(k, "level") == 0 && strcmp(v, "3") == 0);

    /* read errors: wrong count, absent tensor, I64 from a float tensor */
    CHECK(st_read_real(f, "f32", rout, 5, &e) == GC_FAIL && strstr(e.msg, "6 elements"));
    CHECK(st_read_real(f, "nope", rout, 1, &e) == GC_FAIL && strstr(e.msg, p) &&
          strstr(e.msg, "nope"));
    CHECK(st_read_i64(f, "f32", iout, 6, &e) == GC_FAIL && strstr(e.msg, "integer"));
    CHECK(st_read_u64(f, "f32", uout, 6, &e) == GC_FAIL && strstr(e.msg, "I64"));
    st_close(f);
    dir_close();
}

/* The bytes huggingface/safetensors' own tests expect (tensor.rs:
 * test_serialization, test_empty). */
static void test_reference_bytes(void)
{
    static const unsigned char expect_attn[] = {
        64, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 46, 48, 34, 58, 123, 34, 100,
        116, 121, 112, 101, 34, 58, 34, 70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34,
        58, 91, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102, 115,
        101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 0, 0, 0, 0, 0, 0, 128, 63,
        0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64};
    static const unsigned char expect_empty[] = {8, 0, 0, 0, 0, 0, 0, 0, 123, 125,
                                                 32, 32, 32, 32, 32, 32};
    static const unsigned char expect_meta[] = {
        40, 0, 0, 0, 0, 0, 0, 0, 123, 34, 95, 95, 109, 101, 116, 97, 100, 97, 116, 97, 95,
        95, 34, 58, 123, 34, 102, 114, 97, 109, 101, 119, 111, 114, 107, 34, 58, 34, 112,
        116, 34, 125, 125, 32, 32, 32, 32, 32};
    char p[PATH_CAP];
    gc_error e;
    real vals[6] = {0, 1, 2, 3, 4, 5}, out[6];
    int64_t shape[3] = {1, 2, 3};
    unsigned char *bytes;
    size_t n;
    st_writer *w;
    st_file *f;
    dir_open();
    path_of(p, "attn.safetensors");
    w = st_writer_new(ST_F32);
    CHECK(st_writer_add_real(w, "attn.0", 3, shape, vals, ST_DEFAULT, &e) == GC_OK);
    CHECK(st_writer_write(w, p, &e) == GC_OK);
    st_writer_free(w);
    bytes = read_all(p, &n);
    CHECK(bytes && n == sizeof expect_attn && memcmp(bytes, expect_attn, n) == 0);
    free(bytes);

    /* and the reference's bytes read back */
    CHECK(tmpdir_write(p, expect_attn, sizeof expect_attn) == 0);
    f = st_open(p, &e);
    CHECK_MSG(f != NULL, "%s", e.msg);
    if (f) {
        CHECK(st_read_real(f, "attn.0", out, 6, &e) == GC_OK);
        CHECK(out[0] == 0 && out[1] == 1 && out[5] == 5);
        st_close(f);
    }

    path_of(p, "empty.safetensors");
    w = st_writer_new(ST_DEFAULT);
    CHECK(st_writer_write(w, p, &e) == GC_OK);
    bytes = read_all(p, &n);
    CHECK(bytes && n == sizeof expect_empty && memcmp(bytes, expect_empty, n) == 0);
    free(bytes);
    CHECK(st_writer_meta(w, "framework", "pt", &e) == GC_OK);
    CHECK(st_writer_write(w, p, &e) == GC_OK);
    st_writer_free(w);
    bytes = read_all(p, &n);
    CHECK(bytes && n == sizeof expect_meta && memcmp(bytes, expect_meta, n) == 0);
    free(bytes);
    f = st_open(p, &e);
    CHECK(f && st_count(f) == 0 && st_meta(f, "framework") &&
          strcmp(st_meta(f, "framework"), "pt") == 0);
    st_close(f);
    dir_close();
}

/* Every numeric dtype decoded from hand-written little-endian bytes. */
static void test_decode_dtypes(void)
{
    static const char *json =
        "{\"f32\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
        "\"f64\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[8,16]},"
        "\"i64\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[16,24]},"
        "\"f16\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[24,32]},"
        "\"bf16\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[32,36]},"
        "\"i32\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[36,40]},"
        "\"u32\":{\"dtype\":\"U32\",\"shape\":[1],\"data_offsets\":[40,44]},"
        "\"i16\":{\"dtype\":\"I16\",\"shape\":[1],\"data_offsets\":[44,46]},"
        "\"u16\":{\"dtype\":\"U16\",\"shape\":[1],\"data_offsets\":[46,48]},"
        "\"i8\":{\"dtype\":\"I8\",\"shape\":[1],\"data_offsets\":[48,49]},"
        "\"u8\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[49,50]},"
        "\"b\":{\"dtype\":\"BOOL\",\"shape\":[2],\"data_offsets\":[50,52]},"
        "\"f8\":{\"dtype\":\"F8_E4M3\",\"shape\":[1],\"data_offsets\":[52,53]},"
        "\"u64\":{\"dtype\":\"U64\",\"shape\":[1],\"data_offsets\":[53,61]}}";
    static const unsigned char data[61] = {
        0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x20, 0xC1,          /* f32: 1, -10 */
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0xC0,          /* f64: -2.5 */
        0xFD, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,          /* i64: -3 */
        0x00, 0x3C, 0x00, 0xC0, 0x00, 0x7C, 0x01, 0x00,          /* f16: 1, -2, inf, 2^-24 */
        0x80, 0x3F, 0x40, 0xC0,                                  /* bf16: 1, -3 */
        0xFE, 0xFF, 0xFF, 0xFF,                                  /* i32: -2 */
        0x00, 0x00, 0x00, 0x80,                                  /* u32: 2^31 */
        0x00, 0x80,                                              /* i16: -32768 */
        0xFF, 0xFF,                                              /* u16: 65535 */
        0x80,                                                    /* i8: -128 */
        0xFF,                                                    /* u8: 255 */
        0x00, 0x01,                                              /* bool: 0, 1 */
        0x38,                                                    /* f8 */
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80};         /* u64: 2^63 */
    char p[PATH_CAP];
    gc_error e;
    st_file *f;
    double d[4];
    int64_t iv[2];
    dir_open();
    path_of(p, "dtypes.safetensors");
    write_st(p, strlen(json), json, data, sizeof data);
    f = st_open(p, &e);
    CHECK_MSG(f != NULL, "%s", e.msg);
    if (!f) {
        dir_close();
        return;
    }
    CHECK(st_read_double(f, "f32", d, 2, &e) == GC_OK && d[0] == 1.0 && d[1] == -10.0);
    CHECK(st_read_double(f, "f64", d, 1, &e) == GC_OK && d[0] == -2.5);
    CHECK(st_read_double(f, "i64", d, 1, &e) == GC_OK && d[0] == -3.0);
    CHECK(st_read_i64(f, "i64", iv, 1, &e) == GC_OK && iv[0] == -3);
    CHECK(st_read_double(f, "f16", d, 4, &e) == GC_OK && d[0] == 1.0 && d[1] == -2.0 &&
          isinf(d[2]) && d[2] > 0 && d[3] == ldexp(1.0, -24));
    CHECK(st_read_double(f, "bf16", d, 2, &e) == GC_OK && d[0] == 1.0 && d[1] == -3.0);
    CHECK(st_read_i64(f, "i32", iv, 1, &e) == GC_OK && iv[0] == -2);
    CHECK(st_read_i64(f, "u32", iv, 1, &e) == GC_OK && iv[0] == INT64_C(2147483648));
    CHECK(st_read_i64(f, "i16", iv, 1, &e) == GC_OK && iv[0] == -32768);
    CHECK(st_read_i64(f, "u16", iv, 1, &e) == GC_OK && iv[0] == 65535);
    CHECK(st_read_i64(f, "i8", iv, 1, &e) == GC_OK && iv[0] == -128);
    CHECK(st_read_i64(f, "u8", iv, 1, &e) == GC_OK && iv[0] == 255);
    CHECK(st_read_i64(f, "b", iv, 2, &e) == GC_OK && iv[0] == 0 && iv[1] == 1);
    CHECK(st_read_double(f, "f8", d, 1, &e) == GC_FAIL && strstr(e.msg, "F8_E4M3"));
    CHECK(st_read_i64(f, "u64", iv, 1, &e) == GC_FAIL && strstr(e.msg, "range"));
    CHECK(st_read_double(f, "u64", d, 1, &e) == GC_OK && d[0] == ldexp(1.0, 63));
    st_close(f);
    dir_close();
}

static void test_malformed_files(void)
{
    char p[PATH_CAP];
    unsigned char junk[64];
    size_t i;
    dir_open();

    path_of(p, "missing.safetensors");
    EXPECT_FAIL(p, "cannot open");
    EXPECT_FAIL(dir, "not a regular file");

    path_of(p, "short.safetensors");
    CHECK(tmpdir_write(p, "", 0) == 0);
    EXPECT_FAIL(p, "too short");
    CHECK(tmpdir_write(p, "\x02\0\0\0\0", 5) == 0);
    EXPECT_FAIL(p, "too short");

    /* header length 2^60: must fail before any allocation of that size */
    write_st(p, (uint64_t)1 << 60, "{}", NULL, 0);
    EXPECT_FAIL(p, "exceeds the safetensors limit");
    write_st(p, UINT64_MAX, "{}", NULL, 0);
    EXPECT_FAIL(p, "exceeds the safetensors limit");
    /* header longer than the file */
    write_st(p, 1000, "{\"a\":{}}", NULL, 0);
    EXPECT_FAIL(p, "runs past the end");

    /* garbage after the length */
    for (i = 0; i < sizeof junk; i++) junk[i] = (unsigned char)(i * 37 + 200);
    write_st(p, 16, "", junk, 16);
    EXPECT_FAIL(p, "does not start with '{'");

    /* JSON syntax */
    BAD_JSON("[]      ", 0, "does not start with '{'");
    BAD_JSON("{", 0, "bad safetensors header");
    BAD_JSON("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},}", 4,
             "trailing comma");
    BAD_JSON("{\"a\" {}}", 0, "expected ':'");
    BAD_JSON("{\"a\":{\"dtype\":\"F32}}", 0, "unterminated string");
    BAD_JSON("{'a':{}}", 0, "expected a string key");
    BAD_JSON("{\"a\":{\"dtype\":\"F32\",\"shape\":[NaN],\"data_offsets\":[0,4]}}", 4,
             "shape entries");
    BAD_JSON("{\"a\":{\"dtype\":\"F32\",\"shape\":[01],\"data_offsets\":[0,4]}}", 4,
             "shape entries");
    BAD_JSON("{\"a\xff\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
             "invalid UTF-8");
    BAD_JSON("{\"a\xc0\xaf\":{}}", 0, "invalid UTF-8");                /* overlong '/' */
    BAD_JSON("{\"\xed\xa0\x80\":{}}", 0, "invalid UTF-8");             /* surrogate */
    BAD_JSON("{\"a\\ud800\":{}}", 0, "surrogate");
    BAD_JSON("{\"a\\u0000\":{}}", 0, "\\u0000");
    BAD_JSON("{\"a\\q\":{}}", 0, "bad escape");
    BAD_JSON("{\"a\tb\":{}}", 0, "control character");
    BAD_JSON("{}x", 0, "unexpected data after");
    write_st(p, 8, "{}", "\0\0\0\0\0\0", 6);   /* NUL padding is not whitespace */
    EXPECT_FAIL(p, "unexpected data after");
    BAD_JSON("{\"__metadata__\":{\"k\":1}}", 0, "not a string");
    BAD_JSON("{\"__metadata__\":{\"k\":\"v\",\"k\":\"w\"}}", 0, "duplicate __metadata__ key");
    BAD_JSON("{\"__metadata__\":{},\"__metadata__\":{}}", 0, "given twice");
    BAD_JSON("{\"__metadata__\":[]}", 0, "not an object");

    /* entries */
    BAD_JSON("{\"a\":[]}", 0, "entry is not an object");
    BAD_JSON("{\"a\":{\"dtype\":\"F128\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
             "unknown dtype 'F128'");
    BAD_JSON("{\"a\":{\"dtype\":\"f32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
             "unknown dtype");
    BAD_JSON("{\"a\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
             "dtype is not a string");
    BAD_JSON("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4,
             "shape entries must be non-negative");
    BAD_JSON("{\"a\":{\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]}}", 8,
             "shape entries must be non-negative");
    BAD_JSON("{\"a\":{\"dtype\":\"F32\",\"shape\":[1e2],\"data_offsets\":[0,400]}}", 400,
             "shape entries must be non-negative");
    BAD_JSON("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 8,
             "two non-negative integers");
    BAD_JSON("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4,
             "two non-negative integers");
    BAD_JSON("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "missing data_offsets");
    BAD_JSON("{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "missing dtype");
    BAD_JSON("{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
             4, "dtype given twice");
    BAD_JSON("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":1}}", 4,
             "unexpected field 'x'");
    BAD_JSON("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1],"
             "\"data_offsets\":[0,4]}}", 4, "more than 16 dimensions");
    BAD_JSON("{\"a\":{\"dtype\":\"F32\",\"shape\":[18446744073709551616],"
             "\"data_offsets\":[0,4]}}", 4, "shape entries");
    BAD_JSON("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],"
             "\"data_offsets\":[0,4]}}", 4, "element count overflows");
    BAD_JSON("{\"a\":{\"dtype\":\"F64\",\"shape\":[4294967296,536870912],"
             "\"data_offsets\":[0,4]}}", 4, "byte size overflows");

    /* offsets */
    BAD_JSON("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4,
             "beyond the 4-byte data buffer");
    BAD_JSON("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", 4,
             "before begin");
    BAD_JSON("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4,
             "needs 8");
    BAD_JSON("{\"a\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[0,8]},"
             "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12,
             "overlaps tensor");
    BAD_JSON("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "gap");
    BAD_JSON("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 8,
             "cover 4 bytes of the 8-byte data buffer");
    BAD_JSON("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
             "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8,
             "duplicate tensor name 'a'");
    BAD_JSON("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,18446744073709551615]}}",
             4, "beyond the 4-byte data buffer");
    /* a long name with control bytes is shown cut and sanitised */
    BAD_JSON("{\"\\n\\nxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\":"
             "{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8, "'??xxx");
    dir_close();
}

/* Every prefix of a valid file and many random byte corruptions: each open
 * either fails cleanly or yields a file whose tensors all read or fail
 * cleanly. */
static void test_truncation_and_corruption(void)
{
    char p[PATH_CAP], q[PATH_CAP];
    gc_error e;
    st_writer *w = st_writer_new(ST_F32);
    real vals[12];
    int64_t iv[2] = {7, -7}, s34[2] = {3, 4}, s2[1] = {2};
    unsigned char *bytes, *mut;
    size_t n, cut;
    int trial, opened = 0, i;
    rng r;
    dir_open();
    path_of(p, "good.safetensors");
    path_of(q, "mut.safetensors");
    for (i = 0; i < 12; i++) vals[i] = (real)(i - 5.5);
    CHECK(st_writer_meta(w, "k", "v", &e) == GC_OK);
    CHECK(st_writer_add_real(w, "w", 2, s34, vals, ST_DEFAULT, &e) == GC_OK);
    CHECK(st_writer_add_i64(w, "n", 1, s2, iv, &e) == GC_OK);
    CHECK(st_writer_write(w, p, &e) == GC_OK);
    st_writer_free(w);
    bytes = read_all(p, &n);
    CHECK(bytes != NULL);
    if (!bytes) {
        dir_close();
        return;
    }
    /* every cut in the length field and the last 16 bytes, every 5th elsewhere */
    for (cut = 0; cut < n; cut += (cut < 16 || cut + 16 >= n) ? 1 : 5) {
        st_file *f;
        CHECK(tmpdir_write(q, bytes, cut) == 0);
        f = st_open(q, &e);
        CHECK_MSG(f == NULL, "truncated to %zu of %zu bytes but accepted", cut, n);
        if (f) st_close(f);
        else CHECK(strstr(e.msg, q) != NULL);
    }
    mut = (unsigned char *)malloc(n);
    rng_seed(&r, 11);
    for (trial = 0; trial < CORRUPT_TRIALS; trial++) {
        st_file *f;
        int flips = 1 + (int)rng_below(&r, 3), k;
        memcpy(mut, bytes, n);
        for (k = 0; k < flips; k++) {
            size_t at = rng_below(&r, (uint32_t)n);
            mut[at] = (unsigned char)rng_below(&r, 256);
        }
        CHECK(tmpdir_write(q, mut, n) == 0);
        f = st_open(q, &e);
        if (!f) {
            CHECK(strstr(e.msg, q) != NULL);
            continue;
        }
        opened++;
        for (k = 0; k < st_count(f); k++) {
            const st_tensor *t = st_tensor_at(f, k);
            if (t->numel <= 64) {
                double d[64];
                if (st_read_double(f, t->name, d, (size_t)t->numel, &e) != GC_OK)
                    CHECK(strstr(e.msg, q) != NULL);
            }
        }
        st_close(f);
    }
    CHECK(opened > 0);   /* some corruptions hit only data bytes */
    free(mut);
    free(bytes);
    dir_close();
}

static void test_writer_errors(void)
{
    char p[PATH_CAP];
    gc_error e;
    st_writer *w = st_writer_new(ST_DEFAULT);
    real v[2] = {1, 2};
    double big[2] = {1.0, 1e39}, edge[2] = {(double)FLT_MAX, -(double)FLT_MAX};
    int64_t s2[1] = {2}, neg[1] = {-2};
    dir_open();
    CHECK(st_writer_add_real(w, "a", 1, s2, v, ST_DEFAULT, &e) == GC_OK);
    CHECK(st_writer_add_real(w, "a", 1, s2, v, ST_DEFAULT, &e) == GC_FAIL &&
          strstr(e.msg, "added twice"));
    CHECK(st_writer_add_real(w, "__metadata__", 1, s2, v, ST_DEFAULT, &e) == GC_FAIL);
    CHECK(st_writer_add_real(w, "", 1, s2, v, ST_DEFAULT, &e) == GC_FAIL);
    CHECK(st_writer_add_real(w, "bad\xff", 1, s2, v, ST_DEFAULT, &e) == GC_FAIL);
    CHECK(st_writer_add_real(w, "neg", 1, neg, v, ST_DEFAULT, &e) == GC_FAIL &&
          strstr(e.msg, "bad shape"));
    CHECK(st_writer_add_real(w, "i", 1, s2, v, ST_I64, &e) == GC_FAIL);
    CHECK(st_writer_add_double(w, "big", 1, s2, big, ST_F32, &e) == GC_FAIL &&
          strstr(e.msg, "F32 range"));
    CHECK(st_writer_add_double(w, "big", 1, s2, big, ST_F64, &e) == GC_OK);
    CHECK(st_writer_add_double(w, "edge", 1, s2, edge, ST_F32, &e) == GC_OK);
    CHECK(st_writer_meta(w, "k", "v", &e) == GC_OK);
    CHECK(st_writer_meta(w, "k", "w", &e) == GC_FAIL && strstr(e.msg, "twice"));
    CHECK(st_writer_meta(w, "k2", "\xc3", &e) == GC_FAIL && strstr(e.msg, "UTF-8"));
    path_of(p, "no/such/dir/x.safetensors");
    CHECK(st_writer_write(w, p, &e) == GC_FAIL && strstr(e.msg, p));
    path_of(p, "ok.safetensors");
    CHECK(st_writer_write(w, p, &e) == GC_OK);
    {
        st_file *f = st_open(p, &e);
        double d[2];
        CHECK(f && st_count(f) == 3);
        CHECK(f && st_read_double(f, "edge", d, 2, &e) == GC_OK && d[0] == (double)FLT_MAX &&
              d[1] == -(double)FLT_MAX);
        st_close(f);
    }
    CHECK(tmpdir_count(dir) == 1);
    st_writer_free(w);
    dir_close();
}

/* The JSON reader on its own: nesting limit, numbers, escapes, and the
 * writer's escaping read back. */
static void test_json_reader(void)
{
    json_reader r;
    gc_error e;
    char text[200], *s = NULL;
    double d;
    uint64_t u;
    size_t len, i;
    textbuf tb;
    char all[40];
    for (i = 0; i < 64; i++) text[i] = '[';
    for (i = 0; i < 64; i++) text[64 + i] = ']';
    json_reader_init(&r, text, 128);
    CHECK(json_skip(&r, &e) == GC_OK && json_finish(&r, &e) == GC_OK);
    for (i = 0; i < 65; i++) text[i] = '[';
    for (i = 0; i < 65; i++) text[65 + i] = ']';
    json_reader_init(&r, text, 130);
    CHECK(json_skip(&r, &e) == GC_FAIL && strstr(e.msg, "nesting"));

    json_reader_init(&r, " -1.5e3 ", 8);
    CHECK(json_read_double(&r, &d, &e) == GC_OK && d == -1500.0 && json_finish(&r, &e) == GC_OK);
    json_reader_init(&r, "1e400", 5);
    CHECK(json_read_double(&r, &d, &e) == GC_FAIL);
    json_reader_init(&r, "18446744073709551615", 20);
    CHECK(json_read_u64(&r, &u, &e) == GC_OK && u == UINT64_MAX);
    json_reader_init(&r, "-0", 2);
    CHECK(json_read_u64(&r, &u, &e) == GC_FAIL);
    json_reader_init(&r, "[1,]", 4);
    CHECK(json_skip(&r, &e) == GC_FAIL && strstr(e.msg, "trailing comma"));
    json_reader_init(&r, "[1 2]", 5);
    CHECK(json_skip(&r, &e) == GC_FAIL);
    json_reader_init(&r, "tru", 3);
    CHECK(json_skip(&r, &e) == GC_FAIL);
    strcpy(text, "{\"a\":[true,false,null,{},\"x\",-0.5]}");
    json_reader_init(&r, text, strlen(text));
    CHECK(json_skip(&r, &e) == GC_OK && json_finish(&r, &e) == GC_OK);

    strcpy(text, "\"\\u00e9\\ud83d\\ude00\\/\\b\"");
    json_reader_init(&r, text, strlen(text));
    CHECK(json_read_string(&r, &s, &len, &e) == GC_OK);
    CHECK(s && len == 8 && memcmp(s, "\xc3\xa9\xf0\x9f\x98\x80/\b", 8) == 0);
    free(s);

    for (i = 0; i < 31; i++) all[i] = (char)(i + 1);
    strcpy(all + 31, "\"\\\xc3\xa9");
    textbuf_init(&tb);
    json_append_string(&tb, all);
    json_reader_init(&r, tb.data, tb.len);
    CHECK(json_read_string(&r, &s, &len, &e) == GC_OK && s && strcmp(s, all) == 0);
    CHECK(json_finish(&r, &e) == GC_OK);
    free(s);
    textbuf_free(&tb);
    CHECK(json_utf8_valid("\xf4\x8f\xbf\xbf", 4) == 1);    /* U+10FFFF */
    CHECK(json_utf8_valid("\xf4\x90\x80\x80", 4) == 0);    /* above U+10FFFF */
    CHECK(json_utf8_valid("\xe0\x80\x80", 3) == 0);        /* overlong */
}

int main(int argc, char **argv)
{
    static const test_case cases[] = {
        TEST_CASE(test_roundtrip),
        TEST_CASE(test_reference_bytes),
        TEST_CASE(test_decode_dtypes),
        TEST_CASE(test_malformed_files),
        TEST_CASE(test_truncation_and_corruption),
        TEST_CASE(test_writer_errors),
        TEST_CASE(test_json_reader),
    };
    return test_main(argc, argv, cases, TEST_COUNT(cases));
}
