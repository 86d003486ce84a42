/* tests/test_cli.c - strict command-line value parsing (io/cli.c). */
#include "io/cli.h"
#include "tests/test.h"

#include <string.h>

static void test_int(void)
{
    gc_error err;
    int v = -7;
    CHECK(cli_int("--epochs", "12", 1, 100, &v, &err) == GC_OK && v == 12);
    CHECK(cli_int("--epochs", "0", 1, 100, &v, &err) == GC_FAIL);
    CHECK(strstr(err.msg, "--epochs") && strstr(err.msg, "out of range"));
    CHECK(cli_int("--epochs", "12x", 1, 100, &v, &err) == GC_FAIL);
    CHECK(strstr(err.msg, "not an integer") != NULL);
    CHECK(cli_int("--epochs", "", 1, 100, &v, &err) == GC_FAIL);
    CHECK(cli_int("--epochs", "99999999999999999999", 1, 100, &v, &err) == GC_FAIL);
}

static void test_double(void)
{
    gc_error err;
    double v = 0;
    CHECK(cli_double("--lr", "1e-4", 0, 1, &v, &err) == GC_OK && v == 1e-4);
    CHECK(cli_double("--lr", "nan", 0, 1, &v, &err) == GC_FAIL);
    CHECK(cli_double("--lr", "inf", 0, 1, &v, &err) == GC_FAIL);
    CHECK(cli_double("--lr", "0.1.2", 0, 1, &v, &err) == GC_FAIL);
    CHECK(cli_double("--lr", "2", 0, 1, &v, &err) == GC_FAIL);
}

static void test_u64(void)
{
    gc_error err;
    uint64_t v = 0;
    CHECK(cli_u64("--seed", "18446744073709551615", &v, &err) == GC_OK && v == UINT64_MAX);
    CHECK(cli_u64("--seed", "18446744073709551616", &v, &err) == GC_FAIL);
    CHECK(cli_u64("--seed", "-1", &v, &err) == GC_FAIL);
}

static void test_lists(void)
{
    gc_error err;
    double d[5];
    int i[5], n = 0;
    CHECK(cli_double_list("--lambda", "-100,0,50,100,500", -1e6, 1e6, d, 5, &n, &err) == GC_OK);
    CHECK(n == 5 && d[0] == -100 && d[4] == 500);
    CHECK(cli_double_list("--lambda", "1,2,3,4,5,6", -1e6, 1e6, d, 5, &n, &err) == GC_FAIL);
    CHECK(cli_double_list("--lambda", "1,,2", -1e6, 1e6, d, 5, &n, &err) == GC_FAIL);
    CHECK(cli_int_list("--level", "1,2,3", 1, 5, i, 5, &n, &err) == GC_OK && n == 3 && i[2] == 3);
    CHECK(cli_int_list("--level", "1,6", 1, 5, i, 5, &n, &err) == GC_FAIL);
    CHECK(strstr(err.msg, "--level") != NULL);
}

int main(int argc, char **argv)
{
    static const test_case cases[] = {
        TEST_CASE(test_int),
        TEST_CASE(test_double),
        TEST_CASE(test_u64),
        TEST_CASE(test_lists),
    };
    return test_main(argc, argv, cases, TEST_COUNT(cases));
}
