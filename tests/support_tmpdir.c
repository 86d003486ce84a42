/* tests/support_tmpdir.c - temp folders for tests; see support_tmpdir.h. */
#include "tests/support_tmpdir.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int tmpdir_make(char *out, size_t cap)
{
    const char *base = getenv("TMPDIR");
    int n;
    if (!base || !*base) base = "/tmp";
    n = snprintf(out, cap, "%s/gc-test-XXXXXX", base);
    if (n < 0 || (size_t)n >= cap) return -1;
    return mkdtemp(out) ? 0 : -1;
}

void tmpdir_path(char *out, size_t cap, const char *dir, const char *name)
{
    int n = snprintf(out, cap, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= cap) {
        fprintf(stderr, "tmpdir_path: %s/%s does not fit\n", dir, name);
        abort();
    }
}

void tmpdir_remove(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    if (d) {
        while ((e = readdir(d)) != NULL) {
            char path[4096];
            struct stat st;
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
            tmpdir_path(path, sizeof path, dir, e->d_name);
            if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode)) tmpdir_remove(path);
            else unlink(path);
        }
        closedir(d);
    }
    rmdir(dir);
}

int tmpdir_write(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    int ok;
    if (!f) return -1;
    ok = fwrite(data, 1, n, f) == n;
    ok &= fclose(f) == 0;
    return ok ? 0 : -1;
}

int tmpdir_write_str(const char *path, const char *text)
{
    return tmpdir_write(path, text, strlen(text));
}

int tmpdir_count(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    if (!d) return -1;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) n++;
    closedir(d);
    return n;
}
