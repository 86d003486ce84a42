/*
 * tests/test_csv.c - io/csv: number formatting, the log writer (exact file
 * text, quoting, the file complete after every row, resume), the reader's
 * round trip, and malformed input with the file and line in the message.
 */
#include "io/csv.h"
#include "tests/support_tmpdir.h"
#include "tests/test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static char dir[512];

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = (char *)malloc((size_t)n + 1);
    if (fread(buf, 1, (size_t)n, f) != (size_t)n) n = 0;
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static int file_is(const char *path, const char *want)
{
    char *got = slurp(path);
    int ok = got && strcmp(got, want) == 0;
    if (!ok) printf("    %s holds:\n%s\n    expected:\n%s\n", path, got ? got : "(none)", want);
    free(got);
    return ok;
}

static void test_format_number(void)
{
    char b[CSV_NUMBER_CHARS];
    csv_format_number(b, 0.1);
    CHECK(strcmp(b, "0.1") == 0);
    csv_format_number(b, 1.0 / 3.0);
    CHECK(strcmp(b, "0.333333333") == 0);
    csv_format_number(b, -2.5e-10);
    CHECK(strcmp(b, "-2.5e-10") == 0);
    csv_format_number(b, 20);
    CHECK(strcmp(b, "20") == 0);
    csv_format_number(b, NAN);
    CHECK(strcmp(b, "nan") == 0);
    csv_format_number(b, -NAN);
    CHECK(strcmp(b, "nan") == 0);
    csv_format_number(b, INFINITY);
    CHECK(strcmp(b, "inf") == 0);
    csv_format_number(b, -INFINITY);
    CHECK(strcmp(b, "-inf") == 0);
    csv_format_number(b, -1.7976931348623157e308);
    CHECK(strcmp(b, "-1.79769313e+308") == 0);
}

static void test_log_exact_text_and_round_trip(void)
{
    static const char *const cols[] = {"epoch", "model", "kappa", "l_cam"};
    char path[600];
    csv_log *log;
    csv_table t;
    double v[2];
    gc_error err;
    const float kappa = 0.73512345f; /* prints as 0.735123456 */
    tmpdir_path(path, sizeof path, dir, "log.csv");
    log = csv_log_create(path, cols, 4, &err);
    CHECK(log != NULL);
    if (!log) return;
    CHECK(file_is(path, "epoch,model,kappa,l_cam\n"));
    CHECK(csv_log_column(log, "kappa") == 2 && csv_log_column(log, "nope") == -1);
    csv_log_set_number(log, 0, 1);
    csv_log_set_text(log, 1, "Level 2, \"exact\"");
    csv_log_set_number(log, 2, kappa);
    csv_log_set_number(log, 3, NAN);
    CHECK(csv_log_end_row(log, &err) == GC_OK);
    CHECK(file_is(path, "epoch,model,kappa,l_cam\n"
                        "1,\"Level 2, \"\"exact\"\"\",0.735123456,nan\n"));
    csv_log_set_number(log, 0, 2);
    csv_log_set_text(log, 1, "");
    csv_log_set_number(log, 2, -0.5);
    csv_log_set_number(log, 3, 1e-3);
    CHECK(csv_log_end_row(log, &err) == GC_OK);
    CHECK(file_is(path, "epoch,model,kappa,l_cam\n"
                        "1,\"Level 2, \"\"exact\"\"\",0.735123456,nan\n"
                        "2,\"\",-0.5,0.001\n"));
    CHECK(csv_log_rows(log) == 2);
    csv_log_free(log);

    CHECK(csv_read(&t, path, &err) == GC_OK);
    CHECK(t.n_rows == 2 && t.n_cols == 4);
    if (t.n_rows != 2 || t.n_cols != 4) {
        csv_table_free(&t);
        return;
    }
    CHECK(strcmp(t.header[3], "l_cam") == 0);
    CHECK(strcmp(csv_table_cell(&t, 0, 1), "Level 2, \"exact\"") == 0);
    CHECK(strcmp(csv_table_cell(&t, 1, 1), "") == 0);
    CHECK(csv_table_numbers(v, &t, "kappa", &err) == GC_OK);
    CHECK((float)v[0] == kappa); /* %.9g gives floats back exactly */
    CHECK(v[1] == -0.5);
    CHECK(csv_table_numbers(v, &t, "l_cam", &err) == GC_OK);
    CHECK(isnan(v[0]) && v[1] == 1e-3);
    CHECK(t.lines[0] == 2 && t.lines[1] == 3);
    csv_table_free(&t);
}

static void test_log_unset_column_and_bad_names(void)
{
    static const char *const cols[] = {"a", "b"};
    static const char *const dup[] = {"a", "a"};
    static const char *const empty[] = {"a", ""};
    char path[600];
    csv_log *log;
    gc_error err;
    const double vals[2] = {1, 2};
    tmpdir_path(path, sizeof path, dir, "unset.csv");
    log = csv_log_create(path, cols, 2, &err);
    CHECK(log != NULL);
    if (!log) return;
    csv_log_set_number(log, 0, 5);
    CHECK(csv_log_end_row(log, &err) == GC_FAIL);
    CHECK(strstr(err.msg, "column 'b' was not set") != NULL && strstr(err.msg, path) != NULL);
    CHECK(file_is(path, "a,b\n")); /* nothing appended */
    CHECK(csv_log_append_numbers(log, vals, &err) == GC_OK);
    CHECK(file_is(path, "a,b\n1,2\n"));
    csv_log_free(log);
    CHECK(csv_log_create(path, dup, 2, &err) == NULL);
    CHECK(strstr(err.msg, "duplicate column name 'a'") != NULL);
    CHECK(csv_log_create(path, empty, 2, &err) == NULL);
    CHECK(strstr(err.msg, "empty name") != NULL);
    CHECK(csv_log_create("/nonexistent-dir/x.csv", cols, 2, &err) == NULL);
    CHECK(strstr(err.msg, "/nonexistent-dir/x.csv") != NULL);
    CHECK(file_is(path, "a,b\n1,2\n")); /* failed creates left it alone */
}

static void test_log_file_complete_after_each_row(void)
{
    static const char *const cols[] = {"epoch", "acc"};
    char path[600];
    csv_log *log;
    csv_table t;
    size_t i;
    tmpdir_path(path, sizeof path, dir, "grow.csv");
    log = csv_log_create(path, cols, 2, NULL);
    CHECK(log != NULL);
    if (!log) return;
    for (i = 1; i <= 20; i++) {
        const double v[2] = {(double)i, 1.0 / (double)i};
        CHECK(csv_log_append_numbers(log, v, NULL) == GC_OK);
        CHECK(csv_read(&t, path, NULL) == GC_OK);
        CHECK(t.n_rows == i);
        csv_table_free(&t);
    }
    csv_log_free(log);
    CHECK(tmpdir_count(dir) >= 1);
}

static void test_log_resume(void)
{
    static const char *const cols[] = {"epoch", "acc"};
    static const char *const other[] = {"epoch", "kappa"};
    char path[600];
    csv_log *log;
    gc_error err;
    size_t i;
    tmpdir_path(path, sizeof path, dir, "resume.csv");
    log = csv_log_create(path, cols, 2, NULL);
    for (i = 1; i <= 3; i++) {
        const double v[2] = {(double)i, 0.25 * (double)i};
        CHECK(csv_log_append_numbers(log, v, NULL) == GC_OK);
    }
    csv_log_free(log);
    log = csv_log_resume(path, cols, 2, 2, &err);
    CHECK(log != NULL);
    if (!log) return;
    CHECK(csv_log_rows(log) == 2);
    CHECK(file_is(path, "epoch,acc\n1,0.25\n2,0.5\n"));
    {
        const double v[2] = {3, 0.8};
        CHECK(csv_log_append_numbers(log, v, NULL) == GC_OK);
    }
    CHECK(file_is(path, "epoch,acc\n1,0.25\n2,0.5\n3,0.8\n"));
    csv_log_free(log);
    log = csv_log_resume(path, cols, 2, 100, NULL); /* keep all */
    CHECK(log && csv_log_rows(log) == 3);
    csv_log_free(log);
    CHECK(csv_log_resume(path, other, 2, 1, &err) == NULL);
    CHECK(strstr(err.msg, "column 2 is 'acc', expected 'kappa'") != NULL);
    CHECK(csv_log_resume(path, cols, 1, 1, &err) == NULL);
    CHECK(strstr(err.msg, "2 columns, expected 1") != NULL);
    CHECK(file_is(path, "epoch,acc\n1,0.25\n2,0.5\n3,0.8\n")); /* untouched */
}

static void test_reader_accepts_rfc4180(void)
{
    const char text[] = "# written by train, seed 1\r\n"
                        "epoch,note,acc\r\n"
                        "1,\"two\nlines\",0.5\r\n"
                        "\r\n"
                        "2,  plain ,  nan  \r\n"
                        "3,\"\",-INF";
    csv_table t;
    double v[3];
    gc_error err;
    CHECK(csv_parse(&t, text, sizeof text - 1, "mem.csv", &err) == GC_OK);
    CHECK(t.n_rows == 3 && t.n_cols == 3);
    CHECK(strcmp(csv_table_cell(&t, 0, 1), "two\nlines") == 0);
    CHECK(strcmp(csv_table_cell(&t, 1, 1), "  plain ") == 0);
    CHECK(t.lines[0] == 3 && t.lines[1] == 6 && t.lines[2] == 7);
    CHECK(csv_table_numbers(v, &t, "acc", &err) == GC_OK);
    CHECK(v[0] == 0.5 && isnan(v[1]) && isinf(v[2]) && v[2] < 0);
    CHECK(csv_table_column(&t, "note") == 1);
    csv_table_free(&t);
}

/* Parse text, expect failure with every needle in the message. */
static void expect_bad(const char *text, const char *needle1, const char *needle2)
{
    csv_table t;
    gc_error err;
    err.msg[0] = '\0';
    CHECK_MSG(csv_parse(&t, text, strlen(text), "bad.csv", &err) == GC_FAIL, "accepted: %s", text);
    CHECK_MSG(strstr(err.msg, needle1) != NULL, "message '%s' lacks '%s'", err.msg, needle1);
    if (needle2) CHECK_MSG(strstr(err.msg, needle2) != NULL, "message '%s' lacks '%s'", err.msg, needle2);
    CHECK(t.cells == NULL && t.n_rows == 0);
    csv_table_free(&t);
}

static void test_reader_rejects_malformed(void)
{
    expect_bad("a,b,c\n1,2,3\n4,5\n", "bad.csv:3:", "2 fields, but the header has 3");
    expect_bad("a,b\n1,2,3\n", "bad.csv:2:", "3 fields");
    expect_bad("a,b\n1,\"open\n2,3\n", "bad.csv:2:", "unterminated quoted field");
    expect_bad("a,b\n1,\"x\"y\n", "bad.csv:2:", "after a closing quote");
    expect_bad("a,b\n1,x\"y\n", "bad.csv:2:", "quote inside an unquoted field");
    expect_bad("a,b,a\n1,2,3\n", "bad.csv:1:", "duplicate column name 'a'");
    expect_bad("a,,c\n1,2,3\n", "bad.csv:1:", "column 2 of the header has an empty name");
    expect_bad("", "bad.csv", "empty");
    expect_bad("\n\n# only a comment\n", "bad.csv", "empty");
    {
        const char nul[] = "a,b\n1,\0\n";
        csv_table t;
        gc_error err;
        CHECK(csv_parse(&t, nul, sizeof nul - 1, "nul.csv", &err) == GC_FAIL);
        CHECK(strstr(err.msg, "nul.csv") && strstr(err.msg, "NUL"));
    }
    {
        csv_table t;
        gc_error err;
        CHECK(csv_parse(&t, "a\n", CSV_MAX_BYTES + 1, "big.csv", &err) == GC_FAIL);
        CHECK(strstr(err.msg, "big.csv") != NULL);
    }
}

static void test_numbers_errors(void)
{
    const char text[] = "epoch,kappa,model\n1,0.5,L1\n2,,L1\n3,abc,L1\n";
    csv_table t;
    double v[3];
    gc_error err;
    CHECK(csv_parse(&t, text, sizeof text - 1, "runs/a.csv", &err) == GC_OK);
    CHECK(csv_table_numbers(v, &t, "epoch", &err) == GC_OK && v[2] == 3);
    CHECK(csv_table_numbers(v, &t, "kappa", &err) == GC_FAIL);
    CHECK_MSG(strcmp(err.msg, "runs/a.csv:3: column 'kappa': '' is not a number") == 0, "%s",
              err.msg);
    CHECK(csv_table_numbers(v, &t, "model", &err) == GC_FAIL);
    CHECK(strstr(err.msg, "runs/a.csv:2: column 'model': 'L1' is not a number") != NULL);
    CHECK(csv_table_numbers(v, &t, "l_cam", &err) == GC_FAIL);
    CHECK(strcmp(err.msg, "runs/a.csv: no column 'l_cam'") == 0);
    csv_table_free(&t);
    {
        const char t2[] = "x\n1.5e3\n0x10\n 2 \n3.0.1\n";
        double w[4];
        CHECK(csv_parse(&t, t2, sizeof t2 - 1, "b.csv", &err) == GC_OK);
        CHECK(csv_table_numbers(w, &t, "x", &err) == GC_FAIL);
        CHECK(strstr(err.msg, "b.csv:5: column 'x': '3.0.1'") != NULL);
        CHECK(w[0] == 1500 && w[2] == 2);
        csv_table_free(&t);
    }
}

static void test_read_missing_file(void)
{
    csv_table t;
    gc_error err;
    char path[600];
    tmpdir_path(path, sizeof path, dir, "absent.csv");
    CHECK(csv_read(&t, path, &err) == GC_FAIL);
    CHECK(strstr(err.msg, path) != NULL && strstr(err.msg, "cannot open") != NULL);
    csv_table_free(&t);
}

int main(int argc, char **argv)
{
    static const test_case cases[] = {
        TEST_CASE(test_format_number),
        TEST_CASE(test_log_exact_text_and_round_trip),
        TEST_CASE(test_log_unset_column_and_bad_names),
        TEST_CASE(test_log_file_complete_after_each_row),
        TEST_CASE(test_log_resume),
        TEST_CASE(test_reader_accepts_rfc4180),
        TEST_CASE(test_reader_rejects_malformed),
        TEST_CASE(test_numbers_errors),
        TEST_CASE(test_read_missing_file),
    };
    int rc;
    if (tmpdir_make(dir, sizeof dir) != 0) {
        printf("cannot create a temp folder\nRESULT test_csv passed=0 failed=1\n");
        return 1;
    }
    rc = test_main(argc, argv, cases, TEST_COUNT(cases));
    tmpdir_remove(dir);
    return rc;
}
