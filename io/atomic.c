/* io/atomic.c - atomic file writes (temp file + rename); see io/atomic.h. */
#include "io/atomic.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

/* How many temp names to try before giving up (a name is taken only if a
 * previous run of the same pid crashed, or by a concurrent writer). */
#define ATOMIC_NAME_TRIES 100

FILE *atomic_open(const char *path, char *tmp_path_out, size_t cap, gc_error *err)
{
    static unsigned long counter = 0;
    int attempt;
    if (!path || !*path) {
        gc_fail(err, "atomic write: empty output path");
        return NULL;
    }
    for (attempt = 0; attempt < ATOMIC_NAME_TRIES; attempt++) {
        int n = snprintf(tmp_path_out, cap, "%s.tmp.%ld.%lu", path, (long)getpid(),
                         counter++);
        int fd;
        FILE *f;
        if (n < 0 || (size_t)n >= cap) {
            gc_fail(err, "%s: path too long for a temp file name", path);
            return NULL;
        }
        fd = open(tmp_path_out, O_WRONLY | O_CREAT | O_EXCL, 0666);
        if (fd < 0) {
            if (errno == EEXIST) continue;
            gc_fail(err, "%s: cannot create temp file %s: %s", path, tmp_path_out,
                    strerror(errno));
            return NULL;
        }
        f = fdopen(fd, "wb");
        if (!f) {
            gc_fail(err, "%s: cannot open temp file %s: %s", path, tmp_path_out,
                    strerror(errno));
            close(fd);
            remove(tmp_path_out);
            return NULL;
        }
        return f;
    }
    gc_fail(err, "%s: no free temp file name after %d tries", path, ATOMIC_NAME_TRIES);
    return NULL;
}

int atomic_commit(FILE *f, const char *tmp_path, const char *path, gc_error *err)
{
    int failed = ferror(f) != 0;
    int saved = 0;
    if (fflush(f) != 0 && !failed) {
        failed = 1;
        saved = errno;
    }
    if (fclose(f) != 0 && !failed) {
        failed = 1;
        saved = errno;
    }
    if (failed) {
        remove(tmp_path);
        return gc_fail(err, "%s: write failed%s%s", path, saved ? ": " : "",
                       saved ? strerror(saved) : "");
    }
    if (rename(tmp_path, path) != 0) {
        saved = errno;
        remove(tmp_path);
        return gc_fail(err, "%s: cannot rename temp file into place: %s", path,
                       strerror(saved));
    }
    return GC_OK;
}

void atomic_abort(FILE *f, const char *tmp_path)
{
    if (f) fclose(f);
    if (tmp_path && *tmp_path) remove(tmp_path);
}
