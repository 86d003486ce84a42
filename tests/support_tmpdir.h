/*
 * tests/support_tmpdir.h - temporary folders and files for loader tests.
 * tmpdir_make creates a fresh mkdtemp folder under $TMPDIR (or /tmp);
 * tmpdir_remove deletes a tree without following symbolic links.
 */
#ifndef GC_TESTS_SUPPORT_TMPDIR_H
#define GC_TESTS_SUPPORT_TMPDIR_H

#include <stddef.h>

/* Create a new empty folder; its path goes to out. 0 on success. */
int tmpdir_make(char *out, size_t cap);

/* Remove dir and everything below it (symlinks are removed, not followed). */
void tmpdir_remove(const char *dir);

/* out = dir/name (aborts if it does not fit). */
void tmpdir_path(char *out, size_t cap, const char *dir, const char *name);

/* Write n bytes to path (plain fopen/fwrite). 0 on success. */
int tmpdir_write(const char *path, const void *data, size_t n);

/* Write a NUL-terminated string to path. 0 on success. */
int tmpdir_write_str(const char *path, const char *text);

/* Number of entries in dir (without . and ..), -1 if it cannot be read. */
int tmpdir_count(const char *dir);

#endif
