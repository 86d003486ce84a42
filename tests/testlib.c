/* tests/testlib.c - the harness behind tests/test.h. */
#include "tests/test.h"

#include <stdarg.h>
#include <string.h>

int test_case_failures;

void test_report(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    test_case_failures++;
    fprintf(stdout, "    %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
    fflush(stdout);
}

double test_rel_err(double a, double b, double floor)
{
    double s = fabs(b) > floor ? fabs(b) : floor;
    return fabs(a - b) / s;
}

int test_main(int argc, char **argv, const test_case *cases, int count)
{
    int i, passed = 0, failed = 0;
    const char *prog = argc > 0 ? argv[0] : "test";
    const char *base = strrchr(prog, '/');
    base = base ? base + 1 : prog;
    for (i = 0; i < count; i++) {
        if (argc > 1 && strcmp(argv[1], cases[i].name) != 0) continue;
        test_case_failures = 0;
        cases[i].fn();
        if (test_case_failures == 0) {
            passed++;
            printf("  ok   %s\n", cases[i].name);
        } else {
            failed++;
            printf("  FAIL %s (%d failed checks)\n", cases[i].name, test_case_failures);
        }
        fflush(stdout);
    }
    printf("RESULT %s passed=%d failed=%d\n", base, passed, failed);
    return failed ? 1 : 0;
}
