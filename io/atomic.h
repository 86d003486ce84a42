/*
 * io/atomic.h - write a file atomically: temp file in the same directory,
 * then rename over the destination.
 *
 * Every file a program writes (images, checkpoints, reports) goes through
 * these three calls, so an interrupted run never leaves a half-written file
 * under the final name (STYLE.md "Files the programs write are written
 * atomically"):
 *
 *     char tmp[GC_ATOMIC_PATH_MAX];
 *     FILE *f = atomic_open(path, tmp, sizeof tmp, err);
 *     if (!f) return GC_FAIL;
 *     ... fwrite / fprintf to f; on an error of your own: atomic_abort(f, tmp) ...
 *     return atomic_commit(f, tmp, path, err);
 *
 * The temp file is "<path>.tmp.<pid>.<n>", created with O_EXCL and mode
 * 0666 & ~umask (the permissions an ordinary fopen would give). It is in the
 * destination's directory, so rename() stays within one filesystem and is
 * atomic. atomic_commit checks the stream's error flag, fflush and fclose
 * (a full disk often shows only there), then renames; on any failure it
 * removes the temp file and leaves the destination as it was. No fsync: the
 * goal is "never a truncated file under the final name after a crash of the
 * program", not durability against power loss.
 */
#ifndef GC_IO_ATOMIC_H
#define GC_IO_ATOMIC_H

#include <stdio.h>

#include "nn/core.h"

/* Enough for any path this project builds; longer paths fail cleanly. */
#define GC_ATOMIC_PATH_MAX 4096

/* Open a new temp file next to `path` for writing ("wb"). Its name is stored
 * in tmp_path_out (capacity cap bytes). Returns NULL and fills err (naming
 * path) on failure. */
FILE *atomic_open(const char *path, char *tmp_path_out, size_t cap, gc_error *err);

/* Finish: check write errors, fflush, fclose, rename tmp_path -> path.
 * Always closes f. GC_OK, or GC_FAIL with err naming path (temp removed). */
int atomic_commit(FILE *f, const char *tmp_path, const char *path, gc_error *err);

/* Give up: close f (if not NULL) and remove the temp file. */
void atomic_abort(FILE *f, const char *tmp_path);

#endif
