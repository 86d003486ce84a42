/* io/idx.c - MNIST-style IDX reader (u8 images and labels); see io/idx.h. */
#include "io/idx.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "io/pgm.h"

static uint32_t be32(const unsigned char *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) |
           (uint32_t)p[3];
}

/* Open path, read its magic and `ndims` sizes, check the magic and the file
 * length against header + product(sizes); leaves f positioned at the data. */
static FILE *idx_open(const char *path, uint32_t magic, const char *kind, int ndims,
                      uint32_t *dims, size_t *nbytes, gc_error *err)
{
    unsigned char head[16];
    size_t header = 4 + 4 * (size_t)ndims, total = 1, file_len;
    struct stat st;
    uint32_t got;
    int i;
    FILE *f = fopen(path, "rb");
    if (!f) {
        gc_fail(err, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        gc_fail(err, "%s: not a regular file", path);
        fclose(f);
        return NULL;
    }
    file_len = (size_t)st.st_size;
    if (file_len >= 2 && fread(head, 1, 2, f) == 2 && head[0] == 0x1f && head[1] == 0x8b) {
        gc_fail(err, "%s: gzip-compressed: gunzip it or use data_prep.sh", path);
        fclose(f);
        return NULL;
    }
    rewind(f);
    if (file_len < 4 || fread(head, 1, 4, f) != 4) {
        gc_fail(err, "%s: truncated IDX header (%zu bytes)", path, file_len);
        fclose(f);
        return NULL;
    }
    got = be32(head);
    if (got != magic) {
        gc_fail(err, "%s: bad magic 0x%08lx for IDX %s (expected 0x%08lx)", path,
                (unsigned long)got, kind, (unsigned long)magic);
        fclose(f);
        return NULL;
    }
    if (file_len < header || fread(head + 4, 1, header - 4, f) != header - 4) {
        gc_fail(err, "%s: truncated IDX header (%zu bytes, need %zu)", path, file_len, header);
        fclose(f);
        return NULL;
    }
    for (i = 0; i < ndims; i++) {
        dims[i] = be32(head + 4 + 4 * i);
        if (dims[i] == 0) {
            gc_fail(err, "%s: IDX %s dimension %d is zero", path, kind, i);
            fclose(f);
            return NULL;
        }
    }
    if (dims[0] > IDX_MAX_COUNT) {
        gc_fail(err, "%s: absurd IDX %s count %lu (limit %ld)", path, kind,
                (unsigned long)dims[0], IDX_MAX_COUNT);
        fclose(f);
        return NULL;
    }
    if (ndims == 3 && (dims[1] > PGM_MAX_SIDE || dims[2] > PGM_MAX_SIDE ||
                       (long)dims[1] * (long)dims[2] > PGM_MAX_PIXELS)) {
        gc_fail(err, "%s: absurd IDX image size %lux%lu", path, (unsigned long)dims[1],
                (unsigned long)dims[2]);
        fclose(f);
        return NULL;
    }
    for (i = 0; i < ndims; i++) {
        if (!gc_mul_size(total, dims[i], &total)) {
            gc_fail(err, "%s: IDX %s size overflows", path, kind);
            fclose(f);
            return NULL;
        }
    }
    if (file_len - header < total) {
        gc_fail(err, "%s: truncated IDX %s: header promises %zu bytes of data, file has %zu",
                path, kind, total, file_len - header);
        fclose(f);
        return NULL;
    }
    if (file_len - header > total) {
        gc_fail(err, "%s: %zu bytes of trailing data after the IDX %s", path,
                file_len - header - total, kind);
        fclose(f);
        return NULL;
    }
    *nbytes = total;
    return f;
}

static int read_all(FILE *f, const char *path, uint8_t **out, size_t n, gc_error *err)
{
    uint8_t *p = malloc(n);
    if (!p) return gc_fail(err, "%s: out of memory for %zu bytes", path, n);
    if (fread(p, 1, n, f) != n) {
        free(p);
        return gc_fail(err, "%s: read error (file shrank?)", path);
    }
    *out = p;
    return GC_OK;
}

int idx_load_images(const char *path, idx_images *out, gc_error *err)
{
    uint32_t dims[3];
    size_t n;
    int rc;
    FILE *f;
    memset(out, 0, sizeof *out);
    f = idx_open(path, IDX_MAGIC_IMAGES, "images", 3, dims, &n, err);
    if (!f) return GC_FAIL;
    rc = read_all(f, path, &out->data, n, err);
    fclose(f);
    if (rc != GC_OK) return rc;
    out->count = dims[0];
    out->height = (int)dims[1];
    out->width = (int)dims[2];
    return GC_OK;
}

int idx_load_labels(const char *path, idx_labels *out, gc_error *err)
{
    uint32_t dims[1];
    size_t n;
    int rc;
    FILE *f;
    memset(out, 0, sizeof *out);
    f = idx_open(path, IDX_MAGIC_LABELS, "labels", 1, dims, &n, err);
    if (!f) return GC_FAIL;
    rc = read_all(f, path, &out->data, n, err);
    fclose(f);
    if (rc != GC_OK) return rc;
    out->count = dims[0];
    return GC_OK;
}

void idx_free_images(idx_images *im)
{
    if (!im) return;
    free(im->data);
    memset(im, 0, sizeof *im);
}

void idx_free_labels(idx_labels *lb)
{
    if (!lb) return;
    free(lb->data);
    memset(lb, 0, sizeof *lb);
}

int idx_check_pair(const idx_images *im, const idx_labels *lb, int classes,
                   const char *images_path, const char *labels_path, gc_error *err)
{
    size_t i;
    if (im->count != lb->count)
        return gc_fail(err, "%s: %zu labels but %s has %zu images", labels_path, lb->count,
                       images_path, im->count);
    for (i = 0; i < lb->count; i++)
        if ((int)lb->data[i] >= classes)
            return gc_fail(err, "%s: label %d of item %zu is not below the class count %d",
                           labels_path, lb->data[i], i, classes);
    return GC_OK;
}
