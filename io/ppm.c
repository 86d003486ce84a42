/* io/ppm.c - binary PPM (P6) writer; see io/ppm.h (format: netpbm ppm(5)). */
#include "io/ppm.h"

#include "io/atomic.h"

#define PPM_MAXVAL 255

int ppm_write(const char *path, const unsigned char *rgb, size_t width, size_t height,
              gc_error *err)
{
    char tmp[GC_ATOMIC_PATH_MAX];
    size_t row, y;
    FILE *f;
    if (width == 0 || height == 0 || !gc_mul_size(width, 3, &row) ||
        !gc_mul_size(row, height, &y))
        return gc_fail(err, "%s: bad PPM image size %zux%zu", path, width, height);
    if (!rgb) return gc_fail(err, "%s: no pixel data", path);
    f = atomic_open(path, tmp, sizeof tmp, err);
    if (!f) return GC_FAIL;
    fprintf(f, "P6\n%zu %zu\n%d\n", width, height, PPM_MAXVAL);
    for (y = 0; y < height; y++) {
        if (fwrite(rgb + y * row, 1, row, f) != row) {
            atomic_abort(f, tmp);
            return gc_fail(err, "%s: write failed", path);
        }
    }
    return atomic_commit(f, tmp, path, err);
}
