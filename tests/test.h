/*
 * tests/test.h - the minimal test harness every tests/test_*.c uses.
 *
 * A test file defines `static void test_xxx(void)` functions that call the
 * CHECK macros, lists them in a `test_case` array, and ends with
 *     int main(int argc, char **argv) { return test_main(argc, argv, cases, N); }
 * A test case passes when none of its checks failed. Each program prints one
 * line per case and a machine-readable last line `RESULT file passed=P failed=F`
 * that tests/run.sh sums into the suite's `N passed, N failed`.
 * Give a case name as argument to run only that case.
 */
#ifndef GC_TEST_H
#define GC_TEST_H

#include <math.h>
#include <stdio.h>

typedef struct test_case {
    const char *name;
    void (*fn)(void);
} test_case;

#define TEST_CASE(fn) { #fn, fn }
#define TEST_COUNT(arr) ((int)(sizeof(arr) / sizeof((arr)[0])))

extern int test_case_failures;   /* failed checks in the running case */

void test_report(const char *file, int line, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
int test_main(int argc, char **argv, const test_case *cases, int count);

/* CHECK(cond): a failed condition fails the case and says where. */
#define CHECK(cond)                                                              \
    do {                                                                         \
        if (!(cond)) test_report(__FILE__, __LINE__, "check failed: %s", #cond); \
    } while (0)
/* CHECK_MSG(cond, fmt, ...): the same with a formatted explanation. */
#define CHECK_MSG(cond, ...)                                                     \
    do {                                                                         \
        if (!(cond)) test_report(__FILE__, __LINE__, __VA_ARGS__);               \
    } while (0)
/* |a - b| <= tol * max(1, |b|)  (relative for large values, absolute near 0). */
#define CHECK_NEAR(a, b, tol)                                                    \
    do {                                                                         \
        double a_ = (double)(a), b_ = (double)(b), t_ = (double)(tol);          \
        double s_ = fabs(b_) > 1.0 ? fabs(b_) : 1.0;                             \
        if (!(fabs(a_ - b_) <= t_ * s_))                                         \
            test_report(__FILE__, __LINE__, "%s = %.17g, expected %s = %.17g (tol %g)", \
                        #a, a_, #b, b_, t_);                                     \
    } while (0)
/* Relative error of a against b: |a - b| / max(|b|, floor). */
double test_rel_err(double a, double b, double floor);

#endif
