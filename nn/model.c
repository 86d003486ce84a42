/*
 * nn/model.c - the paper's five model levels (DESIGN.md section 4, Table 1 of
 * the paper), block for block as the published PyTorch classes Model1..Model5
 * (mirrored in /work/shared/bench/torch_baseline.py), split at a target block
 * into a trunk and a head (DESIGN.md section 1: A = f(x), z = h(A)).
 *
 * Every block gets PyTorch's name ("features.<i>", "classifier.<i>"), so the
 * parameter store holds the state_dict in PyTorch's order and under its
 * names, including the blocks without parameters (ReLU, pooling, flatten,
 * dropout), which keep the indices of the parameterised ones right.
 * Layers are constructed (and so initialised from m->rng) in state_dict order.
 *
 * What this file deliberately does not do: the Grad-CAM passes (cam/), the
 * loss, the optimiser, loading or saving weights (io/checkpoint.c). It does
 * not register the published code's duplicate `_target_layer.*` entries:
 * the loader treats them as aliases (DESIGN.md section 4).
 *
 * The model struct holds the context its layers point to (ctx -> ps, rng):
 * a built model must not be copied or moved.
 */
#include "nn/model.h"

#include <limits.h>
#include <string.h>

#include "nn/layers.h"

/* The paper's target per level (features index): DESIGN.md section 4. */
static const int DEFAULT_TARGET[MODEL_LEVELS] = {4, 13, 8, 17, 8};
/* Max-pools in `features` per level: the input must survive all of them. */
static const int POOL_COUNT[MODEL_LEVELS] = {2, 3, 3, 3, 3};
/* Widest activation at full input resolution, per level (conv output). */
static const int FULL_RES_CHANNELS[MODEL_LEVELS] = {16, 32, 32, 32, 64};

#define MAXPOOL_K 2
#define CONV_K 3
#define CONV_PAD 1
#define SE_REDUCTION 16
#define DROPOUT_LEVEL_2_4 0.5
#define DROPOUT_LEVEL_5 0.6
/* The trunk's buffers share memory (docs/MEMORY.md) only when together
 * they would exceed 2^23 reals (32 MiB in float, the L3 cache here: Level
 * 1 at 28x28 and 64x64, Levels 2 and 4 at 28x28 have their own). Below
 * that, unshared, the samples a thread works on in one buffer are never
 * the other thread's samples in a buffer that shares their memory: each
 * thread's lines stay in its own core's caches. That matters when the two
 * threads run on cores with separate L3 caches (docs/BENCHMARKS.md, "the
 * slow state"). Exact step, 2 threads, runs alternated, medians of the
 * runs in that state: Level 1 28x28, 500 steps per run, 9-10 runs each,
 * 1.54 -> 1.39 s; Level 1 64x64, 100 steps per run, 16-17 runs each, 1.25
 * -> 0.97 s. In the normal state within 1% (Levels 1, 2 and 4 at 28x28,
 * Level 1 64x64). Peak memory grows by the buffers' sum less the shared
 * arena: 3.1M reals (12 MiB) at Level 1 64x64. */
#define MODEL_ARENA_PRIVATE_MAX ((size_t)1 << 23)

/* State while the blocks are appended: current per-sample shape. */
typedef struct builder {
    model *m;
    int c, h, w;
    int nfeat;       /* blocks appended to features so far */
    int ncls;        /* blocks appended to classifier so far */
    int in_classifier;
} builder;

static int append(builder *b, layer *l, const char *desc, gc_error *err)
{
    model *m = b->m;
    if (!l) return gc_fail(err, "nn/model.c: level %d: could not create block %d (%s)",
                           m->level, m->nblocks, desc);
    GC_CHECK(m->nblocks < MODEL_MAX_BLOCKS);
    GC_CHECK(l->in_c == b->c && l->in_h == b->h && l->in_w == b->w);
    m->blocks[m->nblocks] = l;
    {   /* bounded copy: descriptions longer than the field are cut */
        size_t len = strlen(desc);
        if (len > sizeof m->desc[0] - 1) len = sizeof m->desc[0] - 1;
        memcpy(m->desc[m->nblocks], desc, len);
        m->desc[m->nblocks][len] = '\0';
    }
    m->nblocks++;
    if (b->in_classifier) b->ncls++;
    else b->nfeat++;
    b->c = l->out_c;
    b->h = l->out_h;
    b->w = l->out_w;
    return GC_OK;
}

/* Name of the next block: "features.<i>" or "classifier.<i>". */
static void next_name(const builder *b, char *out, size_t cap)
{
    if (b->in_classifier) snprintf(out, cap, "classifier.%d", b->ncls);
    else snprintf(out, cap, "features.%d", b->nfeat);
}

static int add_conv(builder *b, int out_c, gc_error *err)
{
    char name[PS_NAME_MAX], desc[48];
    next_name(b, name, sizeof name);
    snprintf(desc, sizeof desc, "conv2d %d->%d", b->c, out_c);
    return append(b, conv2d_create(&b->m->ctx, name, b->c, b->h, b->w, out_c, CONV_K, 1,
                                   CONV_PAD, 1), desc, err);
}

static int add_bn(builder *b, gc_error *err)
{
    char name[PS_NAME_MAX], desc[48];
    next_name(b, name, sizeof name);
    snprintf(desc, sizeof desc, "batchnorm2d %d", b->c);
    return append(b, batchnorm2d_create(&b->m->ctx, name, b->c, b->h, b->w), desc, err);
}

static int add_relu(builder *b, gc_error *err)
{
    char name[PS_NAME_MAX];
    next_name(b, name, sizeof name);
    return append(b, relu_create(&b->m->ctx, name, b->c, b->h, b->w), "relu", err);
}

static int add_pool(builder *b, gc_error *err)
{
    char name[PS_NAME_MAX];
    next_name(b, name, sizeof name);
    /* the size check in model_build guarantees a non-empty output */
    GC_CHECK(b->h >= MAXPOOL_K && b->w >= MAXPOOL_K);
    return append(b, maxpool2d_create(&b->m->ctx, name, b->c, b->h, b->w, MAXPOOL_K, MAXPOOL_K),
                  "maxpool2d 2", err);
}

static int add_res(builder *b, int out_c, gc_error *err)
{
    char name[PS_NAME_MAX], desc[48];
    next_name(b, name, sizeof name);
    snprintf(desc, sizeof desc, "residual %d->%d", b->c, out_c);
    return append(b, residual_create(&b->m->ctx, name, b->c, b->h, b->w, out_c), desc, err);
}

static int add_se(builder *b, gc_error *err)
{
    char name[PS_NAME_MAX], desc[48];
    next_name(b, name, sizeof name);
    snprintf(desc, sizeof desc, "se %d/%d", b->c, SE_REDUCTION);
    return append(b, se_create(&b->m->ctx, name, b->c, b->h, b->w, SE_REDUCTION), desc, err);
}

/* conv BN ReLU [SE] pool, or conv BN ReLU [SE] at the end. */
static int add_conv_bn_relu(builder *b, int out_c, gc_error *err)
{
    if (add_conv(b, out_c, err) || add_bn(b, err) || add_relu(b, err)) return GC_FAIL;
    return GC_OK;
}

/* classifier: GAP Flatten [Dropout(p)] Linear(c -> classes); p < 0: no dropout. */
static int add_classifier(builder *b, double p, gc_error *err)
{
    model *m = b->m;
    char name[PS_NAME_MAX], desc[48];
    b->in_classifier = 1;
    next_name(b, name, sizeof name);
    if (append(b, gap_create(&m->ctx, name, b->c, b->h, b->w), "gap", err)) return GC_FAIL;
    next_name(b, name, sizeof name);
    if (append(b, flatten_create(&m->ctx, name, b->c, b->h, b->w), "flatten", err))
        return GC_FAIL;
    if (p >= 0) {
        next_name(b, name, sizeof name);
        snprintf(desc, sizeof desc, "dropout %g", p);
        if (append(b, dropout_create(&m->ctx, name, b->c, b->h, b->w, p), desc, err))
            return GC_FAIL;
        m->dropout_block = m->nblocks - 1;
        m->dropout_p = p;
    }
    next_name(b, name, sizeof name);
    snprintf(desc, sizeof desc, "linear %d->%d", b->c * b->h * b->w, m->classes);
    return append(b, dense_create(&m->ctx, name, b->c * b->h * b->w, m->classes), desc, err);
}

static int build_level1(builder *b, gc_error *err)
{
    if (add_conv(b, 16, err) || add_relu(b, err) || add_pool(b, err) || add_conv(b, 32, err) ||
        add_relu(b, err) || add_pool(b, err))
        return GC_FAIL;
    return add_classifier(b, -1.0, err);
}

static int build_level2(builder *b, gc_error *err)
{
    static const int ch[3] = {32, 64, 128};
    int i;
    for (i = 0; i < 3; i++)
        if (add_conv_bn_relu(b, ch[i], err) || add_pool(b, err)) return GC_FAIL;
    if (add_conv_bn_relu(b, 256, err)) return GC_FAIL;
    return add_classifier(b, DROPOUT_LEVEL_2_4, err);
}

/* Levels 3 and 5: conv(c0) BN ReLU pool, Res pool, Res pool, Res. */
static int build_residual_level(builder *b, int c0, double p, gc_error *err)
{
    if (add_conv_bn_relu(b, c0, err) || add_pool(b, err) || add_res(b, 2 * c0, err) ||
        add_pool(b, err) || add_res(b, 4 * c0, err) || add_pool(b, err) ||
        add_res(b, 8 * c0, err))
        return GC_FAIL;
    return add_classifier(b, p, err);
}

static int build_level4(builder *b, gc_error *err)
{
    static const int ch[3] = {64, 128, 256};
    int i;
    if (add_conv_bn_relu(b, 32, err) || add_pool(b, err)) return GC_FAIL;
    for (i = 0; i < 3; i++) {
        if (add_conv_bn_relu(b, ch[i], err) || add_se(b, err)) return GC_FAIL;
        if (i < 2 && add_pool(b, err)) return GC_FAIL;
    }
    return add_classifier(b, DROPOUT_LEVEL_2_4, err);
}

int model_default_target(int level)
{
    GC_CHECK(level >= 1 && level <= MODEL_LEVELS);
    return DEFAULT_TARGET[level - 1];
}

static int check_args(int level, int in_c, int in_h, int in_w, int classes, int max_n,
                      gc_error *err)
{
    int need, npool;
    size_t plane, per_sample, total;
    if (level < 1 || level > MODEL_LEVELS)
        return gc_fail(err, "nn/model.c: model level %d is not one of 1..%d", level,
                       MODEL_LEVELS);
    if (in_c < 1) return gc_fail(err, "nn/model.c: %d input channels (need >= 1)", in_c);
    if (classes < 2) return gc_fail(err, "nn/model.c: %d classes (need >= 2)", classes);
    if (max_n < 1) return gc_fail(err, "nn/model.c: batch capacity %d (need >= 1)", max_n);
    npool = POOL_COUNT[level - 1];
    need = 1 << npool;
    if (in_h < need || in_w < need)
        return gc_fail(err,
                       "nn/model.c: input %dx%d is too small for level %d: its %d max-pools "
                       "(2x2, stride 2) need at least %dx%d",
                       in_h, in_w, level, npool, need, need);
    /* Per-sample activations are indexed with int inside layers: keep the
     * widest full-resolution activation (and the input) below INT_MAX. */
    plane = (size_t)in_h * (size_t)in_w;
    if (!gc_mul_size(plane, (size_t)(in_c > FULL_RES_CHANNELS[level - 1]
                                          ? in_c : FULL_RES_CHANNELS[level - 1]),
                     &per_sample) ||
        per_sample > (size_t)INT_MAX || !gc_mul_size(per_sample, (size_t)max_n, &total))
        return gc_fail(err, "nn/model.c: input %dx%dx%d with batch %d is too large", in_c,
                       in_h, in_w, max_n);
    return GC_OK;
}

int model_build(model *m, int level, int in_c, int in_h, int in_w, int classes,
                int max_n, uint64_t seed, gc_error *err)
{
    builder b;
    int rc;
    memset(m, 0, sizeof *m);
    if (check_args(level, in_c, in_h, in_w, classes, max_n, err)) return GC_FAIL;
    m->level = level;
    m->in_c = in_c;
    m->in_h = in_h;
    m->in_w = in_w;
    m->classes = classes;
    m->max_n = max_n;
    m->target = -1;
    m->dropout_block = -1;
    ps_init(&m->ps);
    rng_seed(&m->rng, seed);
    m->ctx.train = 0;
    m->ctx.grad_params = 1;
    m->ctx.max_n = max_n;
    m->ctx.ps = &m->ps;
    m->ctx.rng = &m->rng;
    m->ctx.arena_private_max = MODEL_ARENA_PRIVATE_MAX;

    memset(&b, 0, sizeof b);
    b.m = m;
    b.c = in_c;
    b.h = in_h;
    b.w = in_w;
    switch (level) {
    case 1: rc = build_level1(&b, err); break;
    case 2: rc = build_level2(&b, err); break;
    case 3: rc = build_residual_level(&b, 32, DROPOUT_LEVEL_2_4, err); break;
    case 4: rc = build_level4(&b, err); break;
    default: rc = build_residual_level(&b, 64, DROPOUT_LEVEL_5, err); break;
    }
    m->nfeatures = b.nfeat;
    if (rc == GC_OK) {
        GC_CHECK(b.c == classes && b.h == 1 && b.w == 1);
        m->logits = (real *)gc_calloc((size_t)max_n * (size_t)classes, sizeof(real));
        m->logits_t = (real *)gc_calloc((size_t)max_n * (size_t)classes, sizeof(real));
        rc = model_set_target(m, DEFAULT_TARGET[level - 1], err);
        ctx_scratch(&m->ctx);   /* the layers' shared scratch, now that all are built */
    }
    if (rc != GC_OK) {
        model_free(m);
        return GC_FAIL;
    }
    return GC_OK;
}

void model_free(model *m)
{
    int i;
    layer_destroy(m->trunk);
    layer_destroy(m->head);
    layer_destroy(m->head_pre);
    layer_destroy(m->head_post);
    for (i = m->nblocks - 1; i >= 0; i--) layer_destroy(m->blocks[i]);
    ps_free(&m->ps);
    ctx_free_scratch(&m->ctx);
    free(m->act_a);
    free(m->d_act_a);
    free(m->act_a_t);
    free(m->logits);
    free(m->logits_t);
    memset(m, 0, sizeof *m);
}

int model_cam_shape(const model *m, int target, int *c, int *h, int *w, gc_error *err)
{
    const layer *l;
    if (target < 0 || target >= m->nfeatures)
        return gc_fail(err, "nn/model.c: target %d is not a features index of level %d "
                            "(0..%d)", target, m->level, m->nfeatures - 1);
    l = m->blocks[target];
    *c = l->out_c;
    *h = l->out_h;
    *w = l->out_w;
    return GC_OK;
}

/* Head split (model.h). A block may lead head_pre if it has no parameters,
 * does not couple samples, and maps a tangent that is constant over each
 * (sample, channel) plane to one that is again constant per plane, with the
 * same constant, and no second-order term d/dx [dy_t . J x_t]: max-pool
 * (any window and stride; y_t = x_t at the argmax), avg-pool (nn/pool.c has
 * no padding, so every window averages equal values) and GAP (the mean of
 * equal values).
 *
 * Why the head is then the view [head_pre, head_post] rather than a flat
 * view over the same blocks next to two more views: children cache x and y
 * in their forward, so views sharing children could share those, but a
 * sequential's backward and tangent passes read its own batch size (l->n,
 * set by layer_forward on it, checked by the dispatch helpers), so a view
 * whose forward never ran cannot run them; and its in-place ReLU and fusion
 * flags are decided per view. Nesting runs every view's forward. It gives
 * the head the same bits: the boundary between the two views is a buffer of
 * the head instead of one of a flat view, the fusions inside each view are
 * those of the flat view (a view's first child cannot be an in-place ReLU,
 * and head_post's first child is not a pool), and where the flat view let
 * head_post's first child write its adjoint whole (a conv2d) the head zeroes
 * the boundary first, which the conv's x = 0 + fold makes the same bits. */
static int head_pre_kind(const layer *l)
{
    static const char *const kinds[] = {"maxpool2d", "avgpool2d", "gap"};
    size_t i;
    for (i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(l->ops->kind, kinds[i]) == 0) return 1;
    return 0;
}

/* Length of the leading run of head_pre blocks of the head blocks[first..],
 * 0 if there is none or if the head holds a BatchNorm (it couples samples in
 * train mode); never the whole head (the dense layer is not a pool). */
static int head_pre_count(const model *m, int first)
{
    int i, run = 0;
    for (i = first; i < m->nblocks; i++)
        if (m->blocks[i]->has_batchnorm) return 0;
    while (first + run < m->nblocks && head_pre_kind(m->blocks[first + run])) run++;
    return first + run < m->nblocks ? run : 0;
}

int model_set_target(model *m, int target, gc_error *err)
{
    int c = 0, h = 0, w = 0, first = target + 1, pre;
    size_t count;
    if (model_cam_shape(m, target, &c, &h, &w, err)) return GC_FAIL;
    layer_destroy(m->trunk);
    layer_destroy(m->head);
    layer_destroy(m->head_pre);
    layer_destroy(m->head_post);
    m->trunk = m->head = m->head_pre = m->head_post = NULL;
    free(m->act_a);
    free(m->d_act_a);
    free(m->act_a_t);
    m->act_a = m->d_act_a = m->act_a_t = NULL;

    m->target = target;
    m->cam_c = c;
    m->cam_h = h;
    m->cam_w = w;
    m->trunk = sequential_create_first_order(&m->ctx, "trunk", m->blocks, target + 1);
    pre = head_pre_count(m, first);
    if (pre > 0) {
        layer *halves[2];
        m->head_pre = sequential_create(&m->ctx, "head_pre", m->blocks + first, pre, 0);
        m->head_post = sequential_create(&m->ctx, "head_post", m->blocks + first + pre,
                                         m->nblocks - first - pre, 0);
        halves[0] = m->head_pre;
        halves[1] = m->head_post;
        m->head = sequential_create(&m->ctx, "head", halves, 2, 0);
    } else {
        m->head = sequential_create(&m->ctx, "head", m->blocks + first, m->nblocks - first, 0);
    }
    if (!m->trunk || !m->head)
        return gc_fail(err, "nn/model.c: could not split level %d at target %d", m->level,
                       target);
    count = (size_t)m->max_n * (size_t)c * (size_t)h * (size_t)w;
    m->act_a = (real *)gc_calloc(count, sizeof(real));
    m->d_act_a = (real *)gc_calloc(count, sizeof(real));
    m->act_a_t = (real *)gc_calloc(count, sizeof(real));
    return GC_OK;
}

void model_set_train(model *m, int train) { m->ctx.train = train ? 1 : 0; }

void model_set_dropout(model *m, double p)
{
    GC_CHECK(p >= 0.0 && p < 1.0);
    if (m->dropout_block < 0) return;
    dropout_set_p(m->blocks[m->dropout_block], p);
    m->dropout_p = p;
}

void model_forward(model *m, const real *x, int n)
{
    GC_CHECK(n >= 1 && n <= m->max_n);
    layer_forward(m->trunk, x, m->act_a, n);
    layer_forward(m->head, m->act_a, m->logits, n);
}

void model_backward(model *m, const real *dlogits)
{
    size_t count = (size_t)m->trunk->n * layer_out_size(m->trunk);
    memset(m->d_act_a, 0, count * sizeof(real));
    layer_backward(m->head, dlogits, m->d_act_a);
    layer_backward(m->trunk, m->d_act_a, NULL);
}

const char *model_block_name(const model *m, int i)
{
    GC_CHECK(i >= 0 && i < m->nblocks);
    return m->blocks[i]->name;
}

const char *model_block_desc(const model *m, int i)
{
    GC_CHECK(i >= 0 && i < m->nblocks);
    return m->desc[i];
}

size_t model_param_count(const model *m) { return ps_param_count(&m->ps); }
