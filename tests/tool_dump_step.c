/*
 * tests/tool_dump_step.c - the `train --dump-step` entry point on its own
 * (cam/dump.h), for tests/crosscheck.py and tests/test_crosscheck.sh. Built
 * by `make test` (double precision, build/tests/tool_dump_step); the float
 * variant is compiled by tests/crosscheck.sh when build/float/train is absent.
 *
 *   tool_dump_step --dump-step OUT --model FILE --level L --batch FILE
 *                  [--lambda X] [--distance l2sq|l2] [--cam-grad exact|detached]
 *                  [--dropout P] [--target T] [--seed S]
 *
 * Exit status 0, or 1 with a one-line reason on stderr.
 */
#include <stdio.h>
#include <string.h>

#include "cam/dump.h"

static const char USAGE[] =
    "usage: tool_dump_step --dump-step OUT --model FILE --level L --batch FILE\n"
    "       [--lambda X] [--distance l2sq|l2] [--cam-grad exact|detached]\n"
    "       [--dropout P] [--target T] [--seed S]\n";

int main(int argc, char **argv)
{
    dump_opts o;
    gc_error err;
    int i;
    dump_opts_default(&o);
    for (i = 1; i < argc; i += 2) {
        int rc;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(USAGE, stdout);
            return 0;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "tool_dump_step: %s needs a value\n%s", argv[i], USAGE);
            return 1;
        }
        rc = dump_opts_set(&o, argv[i], argv[i + 1], &err);
        if (rc == DUMP_FLAG_UNKNOWN) {
            fprintf(stderr, "tool_dump_step: unknown option %s\n%s", argv[i], USAGE);
            return 1;
        }
        if (rc != GC_OK) {
            fprintf(stderr, "tool_dump_step: %s\n", err.msg);
            return 1;
        }
    }
    if (dump_step(&o, &err) != GC_OK) {
        fprintf(stderr, "tool_dump_step: %s\n", err.msg);
        return 1;
    }
    return 0;
}
