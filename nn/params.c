/* nn/params.c - the parameter store (see params.h). */
#include "nn/params.h"

#include <string.h>

void ps_init(param_store *ps) { memset(ps, 0, sizeof *ps); }

void ps_free(param_store *ps)
{
    free(ps->entry);
    free(ps->value);
    free(ps->grad);
    free(ps->buffer);
    memset(ps, 0, sizeof *ps);
}

static real *grow(real *p, size_t *cap, size_t need)
{
    size_t old = *cap, ncap = old ? old : 1024;
    real *q;
    if (need <= old) return p;
    while (ncap < need) ncap *= 2;
    q = (real *)realloc(p, ncap * sizeof(real));
    GC_CHECK(q != NULL);
    memset(q + old, 0, (ncap - old) * sizeof(real));
    *cap = ncap;
    return q;
}

int ps_add(param_store *ps, const char *name, ps_kind kind, int ndim, const int64_t *shape)
{
    ps_entry *e;
    size_t numel = 1;
    int i;
    GC_CHECK(ndim >= 0 && ndim <= PS_MAX_DIM);
    GC_CHECK(strlen(name) < PS_NAME_MAX);
    GC_CHECK(ps_find(ps, name) < 0);
    if (ps->count == ps->cap) {
        int ncap = ps->cap ? 2 * ps->cap : 32;
        ps_entry *ne = (ps_entry *)realloc(ps->entry, (size_t)ncap * sizeof *ne);
        GC_CHECK(ne != NULL);
        ps->entry = ne;
        ps->cap = ncap;
    }
    e = &ps->entry[ps->count];
    memset(e, 0, sizeof *e);
    strcpy(e->name, name);
    e->kind = kind;
    e->ndim = ndim;
    for (i = 0; i < ndim; i++) {
        GC_CHECK(shape[i] > 0);
        e->shape[i] = shape[i];
        numel *= (size_t)shape[i];
    }
    e->numel = numel;
    if (kind == PS_PARAM) {
        size_t cap_before = ps->value_cap;
        e->offset = ps->nvalue;
        ps->value = grow(ps->value, &ps->value_cap, ps->nvalue + numel);
        {
            size_t gcap = cap_before;
            ps->grad = grow(ps->grad, &gcap, ps->value_cap);
        }
        ps->nvalue += numel;
    } else {
        e->offset = ps->nbuffer;
        ps->buffer = grow(ps->buffer, &ps->buffer_cap, ps->nbuffer + numel);
        ps->nbuffer += numel;
    }
    return ps->count++;
}

int ps_find(const param_store *ps, const char *name)
{
    int i;
    for (i = 0; i < ps->count; i++)
        if (strcmp(ps->entry[i].name, name) == 0) return i;
    return -1;
}

real *ps_value(param_store *ps, int idx)
{
    const ps_entry *e;
    GC_CHECK(idx >= 0 && idx < ps->count);
    e = &ps->entry[idx];
    return e->kind == PS_PARAM ? ps->value + e->offset : ps->buffer + e->offset;
}

real *ps_grad(param_store *ps, int idx)
{
    const ps_entry *e;
    GC_CHECK(idx >= 0 && idx < ps->count);
    e = &ps->entry[idx];
    return e->kind == PS_PARAM ? ps->grad + e->offset : NULL;
}

size_t ps_param_count(const param_store *ps) { return ps->nvalue; }

void ps_zero_grad(param_store *ps)
{
    if (ps->nvalue) memset(ps->grad, 0, ps->nvalue * sizeof(real));
}
