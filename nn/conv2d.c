/*
 * nn/conv2d.c - 2-D convolution (cross-correlation, no kernel flip), PyTorch's
 * Conv2d with square kernel K, stride, zero padding, optional bias.
 *   x (N, IC, H, W), weight (OC, IC, K, K), bias (OC), y (N, OC, OH, OW),
 *   OH = floor((H + 2 pad - K) / stride) + 1 (likewise OW).
 *
 * Implements the four functions of DESIGN.md section 2. With
 * col = im2col(x) (IC*K*K, OH*OW) per sample and W read as (OC, IC*K*K):
 *   forward          y = W col + b
 *   tangent          y_t = W col(x_t)                      (no bias)
 *   backward         dW += dy col^T, db += sum_p dy, dx += col2im(W^T dy)
 *   tangent_backward dx_t += col2im(W^T dy_t)
 *                    dx   += col2im(W^T dy)   (conv is bilinear in (W, x):
 *                                              d/dx [dy_t . W x_t] = 0)
 *                    dW   += dy col(x)^T + dy_t col(x_t)^T, db += sum_p dy
 *                                             (no dy_t term for the bias)
 * A 1x1 convolution with stride 1 and no padding skips im2col/col2im: its
 * columns are the input itself.
 *
 * Batch-level lowering: samples are processed in groups of `nb` whose
 * columns sit side by side in one (IC*K*K, nb*OH*OW) matrix, so one gemm
 * per group does the work of nb per-sample products. This matters for the
 * small maps of the deep layers (3x3 or 8x8: a per-sample product has 9 or
 * 64 columns, too few for gemm's register tiles and packing, and the weight
 * gradient would be a sum of 32 thin rank-64 updates). nb is fixed at build
 * from the geometry: enough samples for CONV_GROUP_COLS columns, at most
 * max_n, and the group's column buffer at most CONV_COL_CAP reals. A
 * group's outputs and adjoints are staged in a (OC, nb*OH*OW) buffer and
 * copied to / from the NCHW tensors. Maps of CONV_GROUP_COLS pixels or more
 * go one sample at a time (nb = 1), straight into y: the per-sample path
 * below, where OpenMP threads take whole samples. So do maps that would
 * form groups of two (CONV_GROUP_COLS / 2 pixels or more) when the group
 * product has fewer than CONV_SMALL_MACS multiply-adds (the first,
 * 1-channel conv at 28x28: 16 x 1568 x 9): gemm runs products that small
 * in one thread, and so did the group's im2col and copies, so the whole
 * layer was serial; side by side on the per-sample path, Level 1 28x28's
 * exact step went 3.45 -> 3.06 ms with 2 threads (min of 300, same
 * minute; single-threaded 5.25 vs 5.20 ms). This changed the summation
 * order of that layer's dW and db (blocks of samples instead of groups).
 * So do maps of CONV_SAMPLE_COLS pixels or more when the layer's weights
 * are small enough for CONV_DW_BLOCKS partial sums of dW to stay in cache
 * (CONV_SAMPLE_PARTS): Level 1's second conv at 28x28 (14x14 maps, 32 x
 * 144 weights) and the 1x1 skip of Level 3's first residual block there.
 * On the per-sample path every pass of the layer splits the batch by
 * samples, the same samples per thread as the pools and ReLUs around it,
 * so each thread reads what its own core wrote; the group path's dW splits
 * by rows of dW^T and reads every sample. That matters when the host puts
 * the two threads' cores on different L3 caches (docs/BENCHMARKS.md, "the
 * slow state": a cache line round trip between the threads 340 ns instead
 * of 60): Level 1 28x28 exact step, 2 threads, 500 steps per run, 9 runs
 * each in that state, alternated: median 1.81 -> 1.54 s; in the normal
 * state 1.11 vs 1.12 s.
 * The backward pass recomputes the columns instead of keeping the forward's
 * (a cache would cost IC*K*K*OH*OW reals per sample and layer; im2col is a
 * copy, small next to the products). On the per-sample path of stride-1
 * convs the forward and dW never write the columns out: gemm packs them
 * straight from a padded copy of the sample (implicit im2col, gemm_src;
 * see sample_src below; Level 1 64x64 exact step 25.3 -> 21.0 ms, one
 * thread, same bits). (Columns in the transposed layout
 * would let dW's gemm skip its transposing pack, 1.3x-1.5x faster, but
 * writing them costs more than that; computing dx's columns a few input
 * channels at a time, so that col2im reads them back from cache, made the
 * gemm calls smaller and the step 4% slower: both measured, and dropped.)
 *
 * Determinism: the group size does not depend on the batch or the thread
 * count, every sum runs in a fixed order (gemm's; for dW, groups in order,
 * or on the per-sample path fixed blocks of samples in order; for db, a
 * row in 8 interleaved double partial sums, then groups or samples in
 * order), and the parallel loops (nn/parallel.h) split samples or rows that
 * write disjoint outputs. So the plain build and an OpenMP build with any
 * thread count give the same bits. Forward outputs equal the per-sample
 * products bit for bit (gemm sums over K the same way for any N); weight
 * and bias gradients sum a group or block at once, so they differ from a
 * per-sample accumulation in the last bits.
 *
 * (A direct loop for the first layer's 9 taps, without im2col, was tried:
 * slower than im2col + gemm at 28x28 and 64x64, and dropped.)
 *
 * Not done here: groups, dilation, non-square kernels, padding modes other
 * than zeros (no model of DESIGN.md section 4 uses them). Speed lives in
 * gemm(); buffers are allocated at build, nothing during a step.
 */
#include "nn/layers.h"
#include "nn/fuse.h"
#include "nn/gemm.h"
#include "nn/im2col.h"
#include "nn/lanes.h"
#include "nn/parallel.h"

#include <limits.h>
#include <math.h>
#include <string.h>

/* A group has at least this many columns (samples x OH*OW) when the batch allows. */
#ifndef CONV_GROUP_COLS
#define CONV_GROUP_COLS 1024
#endif
/* A layer whose group product (OC x nb*OH*OW x IC*K*K) has fewer multiply-
 * adds than this runs per sample instead (see the top of the file). */
#define CONV_SMALL_MACS 1e6
/* A map of at least CONV_SAMPLE_COLS pixels also goes per sample when the
 * layer's block partial sums of dW (CONV_DW_BLOCKS x OC x IC*K*K) are
 * fewer than CONV_SAMPLE_PARTS reals (256 KiB in float): see the top of
 * the file. */
#define CONV_SAMPLE_COLS 128
#define CONV_SAMPLE_PARTS 65536.0
/* Upper bound on a group's column buffer, in reals (16 MB in float). */
#define CONV_COL_CAP ((size_t)4 << 20)
/* A group's columns go through implicit im2col when they are at least this
 * many reals (1 MiB in float, the size of L2 here): below, im2col's one
 * copy per tap row and gemm's packing run from L2 and were as fast or
 * faster (Level 1 28x28's second conv, 144 x 1176: exact step 4.35 ->
 * 4.5 ms with it; Level 3 28x28's, 576 x 1176 and up: 113-119 -> 99-107 ms;
 * 1 thread). */
#define CONV_IMPLICIT_MIN ((size_t)1 << 18)

typedef struct conv2d {
    layer base;
    conv_geom g;
    int has_bias;
    int w_idx, b_idx;    /* parameter store entries (b_idx -1 without bias) */
    int direct;          /* 1x1, stride 1, pad 0: the columns are x itself */
    size_t ckk, ohw;     /* IC*K*K, OH*OW */
    int nb;              /* samples per group */
    int slots;           /* nb == 1: threads that run samples side by side (1 without OpenMP) */
    int team, sub;       /* nb > 1: threads of the forward and input-gradient passes, each
                            taking a contiguous range of samples in sub-groups of sub =
                            ceil(nb / team) (1 and nb without OpenMP; see team_apply) */
    int dw_t;            /* dW is computed transposed, as dW^T = cols dy^T (see below) */
    int implicit;        /* stride 1, not direct, and nb == 1 or large columns: forward and
                            dW read the columns through gemm_src panels (implicit im2col) */
    size_t *off;         /* implicit: (IC*K*K) tap offsets in a padded image (nn/im2col.h) */
    /* Scratch of one call, in the context's shared scratch (nn/layer.h), laid
     * out one after the other; set by bind_scratch at the start of each call,
     * NULL where the length is 0: */
    size_t col_len, stage_len, ws_len, part_len, tr_len, pad_len, sum_len;   /* in reals */
    real *col;           /* (IC*K*K, max(nb, slots) * OH*OW): a group's columns, or one
                            sample's per slot; none if direct and nb == 1 */
    real *stage;         /* (OC, nb*OH*OW) outputs / adjoints of a group; none if nb == 1 */
    real *ws;            /* (slots, gemm_workspace_len()) their gemm workspaces, if slots > 1 */
    real *dw_part;       /* nb == 1: (CONV_DW_BLOCKS, OC, IC*K*K) block partial sums of dW,
                            each (IC*K*K, OC) if dw_t */
    real *dw_tr;         /* nb > 1 and dw_t: (IC*K*K, OC) dW^T while it accumulates */
    real *xpad;          /* implicit: (max(nb, slots), im2col_pad_len) padded samples: one
                            per slot (nb == 1) or a group's */
    real *db_sums;       /* nb == 1 with bias: (max_n, OC) per-sample channel sums of dy */
    int in_col;          /* xpad and db_sums lie at the start of col (implicit: the columns
                            are written only by dx's pass, which uses neither) */
    int relu_out;        /* the next forward writes relu(y) (nn/fuse.h) */
    int zero_dx;         /* the next backward writes dx = fold(...), not += (nn/fuse.h) */
} conv2d;

/* A part's length rounded up to 16 reals, so that each part starts on the
 * scratch's own alignment modulo 64 bytes (float). */
static size_t scratch_len(size_t count) { return (count + 15) / 16 * 16; }

/* The next len reals of the scratch at *p (NULL if len is 0); advances *p. */
static real *take_scratch(real **p, size_t len)
{
    real *part = len ? *p : NULL;
    *p += len;
    return part;
}

/* Point col, stage, ws, dw_part and dw_tr into the context's scratch
 * (nn/layer.h), where conv2d_create reserved their total. */
static void bind_scratch(conv2d *c)
{
    real *p = ctx_scratch(c->base.ctx);
    c->col = take_scratch(&p, c->col_len);
    c->stage = take_scratch(&p, c->stage_len);
    c->ws = take_scratch(&p, c->ws_len);
    c->dw_part = take_scratch(&p, c->part_len);
    c->dw_tr = take_scratch(&p, c->tr_len);
    if (c->in_col) {   /* no memory of their own: no pages beyond the columns' */
        c->xpad = c->pad_len ? c->col : NULL;
        c->db_sums = c->sum_len ? c->col + c->pad_len : NULL;
    } else {
        c->xpad = take_scratch(&p, c->pad_len);
        c->db_sums = take_scratch(&p, c->sum_len);
    }
}

/* dxs (IC, H, W) += fold(cols), or = fold(cols) if set (the caller's
 * zeroing of dx, fused: c->zero_dx; same bits). */
static void fold_into(const conv2d *c, const real *cols, size_t ld, real *dxs, int set)
{
    if (set) col2im_set_ld(&c->g, cols, ld, dxs);
    else col2im_add_ld(&c->g, cols, ld, dxs);
}

/* dst[0 .. len) = src + *b (src without bias), then [v > 0] v if relu; the
 * forward's last pass over a row of outputs. dst may be src. The ReLU is
 * nn/activation.c's select, fused here by nn/sequential.c (nn/fuse.h) so
 * that the ReLU that follows makes no pass of its own (figures there). */
static void out_row(real *dst, const real *src, size_t len, const real *b, int relu)
{
    size_t p;
    if (b && relu) {
        real bb = *b;
        for (p = 0; p < len; p++) {
            real v = src[p] + bb;
            dst[p] = v > 0 ? v : 0;
        }
    } else if (b) {
        real bb = *b;
        for (p = 0; p < len; p++) dst[p] = src[p] + bb;
    } else if (relu) {
        for (p = 0; p < len; p++) dst[p] = src[p] > 0 ? src[p] : 0;
    } else if (dst != src) {
        memcpy(dst, src, len * sizeof(real));
    }
}

/*
 * Orientation of the weight-gradient product. dW (OC, IC*K*K) = dy cols^T
 * and its transpose dW^T = cols dy^T are the same sums: each element is
 * sum_p dy[o,p] col[r,p] over the same p in the same order (gemm's order
 * depends only on K, and a*b == b*a exactly), so both give the same bits.
 * gemm is faster with the long side as M when that side is IC*K*K: for the
 * 3x3 layers (IC*K*K > OC) the transposed product ran 1.1x-1.4x faster
 * (tests/bench_gemm-style timing, 1 thread, -O3 -march=native: 32x144x1024
 * 5.2 -> 3.8 ms per 32 calls, 64x576x1024 33.4 -> 26.7 ms, 128x1152x1024
 * 33.3 -> 27.1 ms per 8 calls), and slower for the first layer and the 1x1
 * skips (IC*K*K < OC: 32x9x4096 2.7 -> 3.4 ms). The transposed result is
 * added into dW by a transposing copy (OC*IC*K*K elements, next to
 * OC*IC*K*K*N*OH*OW multiply-adds).
 */
static int conv_dw_transposed(size_t ckk, int oc) { return ckk > (size_t)oc; }
/* With implicit im2col on the per-sample path the columns are packed from
 * the padded sample in either orientation, and dW = dy cols^T (dy packed as
 * A, cols^T as 16-wide B panels, no transposed partial sums) was the faster
 * one there also for IC*K*K > OC: Level 1 64x64's second conv (144 > 32),
 * exact step, 1 thread, min of 80, 5 runs alternated: 19.9-20.3 -> 19.3-19.6
 * ms in 4 of 5 (same bits). */

/* dst (cols, rows) = src (rows, cols)^T, or += if add, in 16 x 16 tiles
 * (so that the strided side stays in cache: 256 x 2304 0.8 -> 0.23 ms). */
#define CONV_TR_TILE 16

static void transpose_into(real *dst, const real *src, size_t rows, size_t cols, int add)
{
    size_t i0, j0, i, j;
    for (i0 = 0; i0 < rows; i0 += CONV_TR_TILE)
        for (j0 = 0; j0 < cols; j0 += CONV_TR_TILE) {
            size_t ie = rows - i0 < CONV_TR_TILE ? rows : i0 + CONV_TR_TILE;
            size_t je = cols - j0 < CONV_TR_TILE ? cols : j0 + CONV_TR_TILE;
            for (i = i0; i < ie; i++)
                for (j = j0; j < je; j++) {
                    if (add) dst[j * rows + i] += src[i * cols + j];
                    else dst[j * rows + i] = src[i * cols + j];
                }
        }
}

/* Sample xs's columns (IC*K*K, OH*OW) into dst with row stride ld: a copy
 * for a direct conv, im2col otherwise. */
static void sample_columns_ld(const conv2d *c, const real *xs, real *dst, size_t ld)
{
    size_t r;
    if (!c->direct) {
        im2col_ld(&c->g, xs, dst, ld);
        return;
    }
    for (r = 0; r < c->ckk; r++) memcpy(dst + r * ld, xs + r * c->ohw, c->ohw * sizeof(real));
}

/* Columns of samples s0 .. s0+g-1 of xx (N, IC, H, W) as an (IC*K*K, g*OH*OW)
 * matrix with row stride g*OH*OW: c->col, or xx itself for one sample of a
 * direct conv. */
static const real *group_columns(conv2d *c, const real *xx, int s0, int g)
{
    size_t in_sz = layer_in_size(&c->base), ncol = (size_t)g * c->ohw;
    int j;
    if (g == 1) {
        if (c->direct) return xx + (size_t)s0 * in_sz;
        im2col_ld(&c->g, xx + (size_t)s0 * in_sz, c->col, ncol);
        return c->col;
    }
    GC_OMP_FOR(ncol * c->ckk)
    for (j = 0; j < g; j++)
        sample_columns_ld(c, xx + (size_t)(s0 + j) * in_sz, c->col + (size_t)j * c->ohw, ncol);
    return c->col;
}

/* Implicit im2col of a group (c->implicit, nb > 1): samples s0 .. s0+g-1
 * of xx padded side by side in c->xpad, and v / src reading them as the
 * group's columns (IC*K*K, g*OH*OW) (fill: im2col_fill) or their transpose
 * (im2col_fill_t), from tap row r0 on. */
static void group_pad(conv2d *c, const real *xx, int s0, int g)
{
    size_t in_sz = layer_in_size(&c->base), plen = im2col_pad_len(&c->g);
    int j;
    GC_OMP_FOR(plen * (size_t)g)
    for (j = 0; j < g; j++)
        im2col_pad(&c->g, xx + (size_t)(s0 + j) * in_sz, c->xpad + (size_t)j * plen);
}

static void group_src(const conv2d *c, size_t r0, im2col_view *v, gemm_src *src,
                      void (*fill)(const void *, size_t, size_t, size_t, size_t, int, real *))
{
    v->g = &c->g;
    v->xp = c->xpad;
    v->stride = im2col_pad_len(&c->g);
    v->off = c->off + r0;
    src->fill = fill;
    src->ctx = v;
}

/* stage (OC, g*OH*OW) = dd (N, OC, OH*OW) samples s0 .. s0+g-1. */
/* With db, also db[o] += lanes_sum(stage row o) for each channel, right
 * after its row is filled (one parallel region for both, over channels). */
static void stage_in(conv2d *c, const real *dd, int s0, int g, real *db)
{
    int oc = c->base.out_c, o;
    size_t out_sz = layer_out_size(&c->base), ncol = (size_t)g * c->ohw;
    GC_OMP_FOR(ncol * oc)
    for (o = 0; o < oc; o++) {
        real *row = c->stage + (size_t)o * ncol;
        int j;
        for (j = 0; j < g; j++)
            memcpy(row + (size_t)j * c->ohw, dd + (size_t)(s0 + j) * out_sz + (size_t)o * c->ohw,
                   c->ohw * sizeof(real));
        if (db) db[o] += (real)lanes_sum(row, ncol);
    }
}

/*
 * Per-sample path (nb == 1: maps of CONV_GROUP_COLS pixels or more, and
 * the small products above). Built
 * with OpenMP, whole samples run side by side on c->slots threads, each
 * with its own column buffer and gemm workspace (fewer synchronisations
 * than splitting every product, and the columns stay in the thread's
 * cache); without OpenMP, c->slots = 1 and the same loops run in order.
 * The weight gradient sums over samples: it is accumulated in CONV_DW_BLOCKS
 * fixed blocks of consecutive samples (block partials dw_part, each a sum in
 * sample order, computed in parallel), then the blocks are added to dW in
 * block order. The blocks depend on the batch size only, so the bits are
 * the same for any thread count and in the plain build.
 */
#define CONV_DW_BLOCKS 8

static real *slot_col(const conv2d *c, int t)
{
    return c->col ? c->col + (size_t)t * c->ckk * c->ohw : NULL;
}

/* gemm on slot t's workspace (gemm() itself when there is one slot). */
static void slot_gemm(const conv2d *c, int t, int ta, int tb, int m, int n, int k,
                      const real *a, int lda, const real *b, int ldb, real beta, real *cc,
                      int ldc)
{
    if (c->ws)
        gemm_ws(ta, tb, m, n, k, 1, a, lda, b, ldb, beta, cc, ldc,
                c->ws + (size_t)t * gemm_workspace_len());
    else
        gemm(ta, tb, m, n, k, 1, a, lda, b, ldb, beta, cc, ldc);
}

/*
 * Implicit im2col (c->implicit: the per-sample path of a stride-1 conv with
 * im2col). The forward product's B = cols and the weight gradient's cols
 * operand are not written out by im2col and then packed by gemm: gemm
 * takes them as a gemm_src whose panels are filled straight from a padded
 * copy of the sample (nn/im2col.h), which saves a pass that writes the
 * columns (IC*K*K*OH*OW reals per sample) and one that reads them. The
 * packed values are the same, so the same bits. (The input gradient still
 * goes through the columns: gemm writes them, col2im folds them.)
 */
static void slot_gemm_src(const conv2d *c, int t, int ta, int tb, int m, int n, int k,
                          const real *a, int lda, const gemm_src *as, const real *b, int ldb,
                          const gemm_src *bs, real beta, real *cc, int ldc)
{
    gemm_src_run(ta, tb, m, n, k, 1, a, lda, as, b, ldb, bs, beta, cc, ldc,
                 c->ws ? c->ws + (size_t)t * gemm_workspace_len() : NULL);
}

/* Slot t's padded copy of sample xs, and v / src reading it as the columns
 * (fill: im2col_fill for cols, im2col_fill_t for cols^T). */
static void sample_src(const conv2d *c, const real *xs, int t, im2col_view *v, gemm_src *src,
                       void (*fill)(const void *, size_t, size_t, size_t, size_t, int, real *))
{
    real *xp = c->xpad + (size_t)t * im2col_pad_len(&c->g);
    im2col_pad(&c->g, xs, xp);
    v->g = &c->g;
    v->xp = xp;
    v->stride = im2col_pad_len(&c->g);
    v->off = c->off;
    src->fill = fill;
    src->ctx = v;
}

/* The columns of sample xs on slot t (xs itself for a direct conv). */
static const real *sample_columns(conv2d *c, const real *xs, int t)
{
    if (c->direct) return xs;
    im2col_ld(&c->g, xs, slot_col(c, t), c->ohw);
    return slot_col(c, t);
}

/* ys (OC, OH*OW) = W cols(xs) (+ b), rectified if relu, for one sample, on
 * slot t (the last pass runs on the sample's outputs while they are in cache). */
static void apply_sample(conv2d *c, const real *w, const real *bias, int relu, const real *xs,
                         real *ys, int t)
{
    int oc = c->base.out_c, ckk = (int)c->ckk, ohw = (int)c->ohw, o;
    if (c->implicit) {
        im2col_view v;
        gemm_src src;
        sample_src(c, xs, t, &v, &src, im2col_fill);
        slot_gemm_src(c, t, 0, 0, oc, ohw, ckk, w, ckk, NULL, NULL, 0, &src, 0, ys, ohw);
    } else {
        slot_gemm(c, t, 0, 0, oc, ohw, ckk, w, ckk, sample_columns(c, xs, t), ohw, 0, ys, ohw);
    }
    if (bias || relu)
        for (o = 0; o < oc; o++) {
            real *yo = ys + (size_t)o * c->ohw;
            out_row(yo, yo, c->ohw, bias ? bias + o : NULL, relu);
        }
}

static void apply_samples(conv2d *c, const real *w, const real *bias, int relu, const real *x,
                          real *y)
{
    layer *l = &c->base;
    size_t in_sz = layer_in_size(l), out_sz = layer_out_size(l);
    int sm;
    GC_OMP_FOR_TEAM(c->slots)
    for (sm = 0; sm < l->n; sm++)
        apply_sample(c, w, bias, relu, x + (size_t)sm * in_sz, y + (size_t)sm * out_sz,
                     GC_THREAD_NUM());
}

/* sums[o] = (real)lanes_sum(dys + o*ohw, ohw) for o < oc: the bias
 * gradient's per-sample terms. (Two channels interleaved in one loop, for
 * two independent chains of additions, came out 1.7x slower than this: the
 * processor overlaps the consecutive sums already, and gcc vectorised the
 * pair badly.) */
static void channel_sums(const real *dys, size_t ohw, int oc, real *sums)
{
    int o;
    for (o = 0; o < oc; o++) sums[o] = (real)lanes_sum(dys + (size_t)o * ohw, ohw);
}

/* The pair (xx, dd) for nb == 1: dw, db, dxx, set as conv_adjoint. With dw,
 * db's per-sample sums are taken in the weight gradient's loop, where each
 * sample's dy is read anyway (c->db_sums), and added in sample order after
 * it: the same additions as db's own loop, without its pass over dy. */
static void adjoint_samples(conv2d *c, const real *w, const real *xx, const real *dd, real *dw,
                            real *db, real *dxx, int set)
{
    layer *l = &c->base;
    size_t in_sz = layer_in_size(l), out_sz = layer_out_size(l);
    size_t wlen = (size_t)l->out_c * c->ckk;
    int oc = l->out_c, ckk = (int)c->ckk, ohw = (int)c->ohw, n = l->n, sm, b, o;
    real *sums = db && dw ? c->db_sums : NULL;
    if (db && !sums) {   /* channels over threads; each sums its samples in order */
        GC_OMP_FOR((size_t)n * out_sz)
        for (o = 0; o < oc; o++)
            for (sm = 0; sm < n; sm++)
                db[o] += (real)lanes_sum(dd + (size_t)sm * out_sz + (size_t)o * c->ohw, c->ohw);
    }
    if (dw) {
        size_t q;
        GC_OMP_FOR_TEAM(c->slots)
        for (b = 0; b < CONV_DW_BLOCKS; b++) {
            int t = GC_THREAD_NUM();
            int lo = n * b / CONV_DW_BLOCKS, hi = n * (b + 1) / CONV_DW_BLOCKS;
            int j;
            real *part = c->dw_part + (size_t)b * wlen;
            for (j = lo; j < hi; j++) {
                const real *dys = dd + (size_t)j * out_sz;
                const real *cols;
                if (sums) channel_sums(dys, c->ohw, oc, sums + (size_t)j * oc);
                if (c->implicit) {   /* the same products, cols^T from a gemm_src */
                    im2col_view v;
                    gemm_src src;
                    sample_src(c, xx + (size_t)j * in_sz, t, &v, &src, im2col_fill_t);
                    if (c->dw_t)
                        slot_gemm_src(c, t, 0, 1, ckk, oc, ohw, NULL, 0, &src, dys, ohw, NULL,
                                      j == lo ? 0 : 1, part, oc);
                    else
                        slot_gemm_src(c, t, 0, 1, oc, ckk, ohw, dys, ohw, NULL, NULL, 0, &src,
                                      j == lo ? 0 : 1, part, ckk);
                    continue;
                }
                cols = sample_columns(c, xx + (size_t)j * in_sz, t);
                if (c->dw_t)   /* part (IC*K*K, OC) = sum_j cols_j dy_j^T */
                    slot_gemm(c, t, 0, 1, ckk, oc, ohw, cols, ohw, dys, ohw, j == lo ? 0 : 1,
                              part, oc);
                else           /* part (OC, IC*K*K) = sum_j dy_j cols_j^T */
                    slot_gemm(c, t, 0, 1, oc, ckk, ohw, dys, ohw, cols, ohw, j == lo ? 0 : 1,
                              part, ckk);
            }
        }
        if (sums)
            for (o = 0; o < oc; o++)
                for (sm = 0; sm < n; sm++) db[o] += sums[(size_t)sm * oc + o];
        for (b = 0; b < CONV_DW_BLOCKS; b++) {
            const real *part = c->dw_part + (size_t)b * wlen;
            if (n * (b + 1) / CONV_DW_BLOCKS == n * b / CONV_DW_BLOCKS) continue;   /* empty */
            if (c->dw_t) {
                transpose_into(dw, part, c->ckk, (size_t)oc, 1);
            } else {
                for (q = 0; q < wlen; q++) dw[q] += part[q];
            }
        }
    }
    if (dxx) {
        GC_OMP_FOR_TEAM(c->slots)
        for (sm = 0; sm < n; sm++) {
            int t = GC_THREAD_NUM();
            const real *dys = dd + (size_t)sm * out_sz;
            real *dxs = dxx + (size_t)sm * in_sz;
            if (c->direct) {
                slot_gemm(c, t, 1, 0, ckk, ohw, oc, w, ckk, dys, ohw, 1, dxs, ohw);
            } else {
                slot_gemm(c, t, 1, 0, ckk, ohw, oc, w, ckk, dys, ohw, 0, slot_col(c, t), ohw);
                fold_into(c, slot_col(c, t), c->ohw, dxs, set);
            }
        }
    }
}

/*
 * The group path's forward and input gradient split over threads by
 * samples: thread t takes samples [n t / team, n (t+1) / team) in
 * sub-groups of c->sub, each with its slice of the columns, the stage and
 * the padded samples, and runs them serially (gemm inside a parallel region
 * runs in the thread's own slot): one parallel region per pass instead of
 * several per group. Neither result depends on the grouping (each output
 * column, and each column of W^T dy, is its own sum over IC*K*K or OC, in
 * gemm's order whatever N is; col2im folds each sample on its own), so the
 * bits are those of groups of nb. (The weight and bias gradients sum over a
 * group's columns: they keep groups of nb, in order.)
 */
static real *team_col(const conv2d *c, int t) { return c->col + (size_t)t * c->sub * c->ckk * c->ohw; }

static real *team_stage(const conv2d *c, int t)
{
    return c->stage + (size_t)t * c->sub * (size_t)c->base.out_c * c->ohw;
}

static real *team_pad(const conv2d *c, int t)
{
    return c->xpad + (size_t)t * c->sub * im2col_pad_len(&c->g);
}

/* Samples s0 .. s0+g-1 of the forward on thread t, serially. */
static void team_apply_part(conv2d *c, int t, const real *w, const real *bias, int relu,
                            const real *x, real *y, int s0, int g)
{
    layer *l = &c->base;
    size_t in_sz = layer_in_size(l), out_sz = layer_out_size(l), ncol = (size_t)g * c->ohw;
    int oc = l->out_c, ckk = (int)c->ckk, j, o;
    real *stage = team_stage(c, t);
    if (c->implicit) {
        im2col_view v;
        gemm_src src;
        real *xp = team_pad(c, t);
        size_t plen = im2col_pad_len(&c->g);
        for (j = 0; j < g; j++) im2col_pad(&c->g, x + (size_t)(s0 + j) * in_sz, xp + j * plen);
        v.g = &c->g;
        v.xp = xp;
        v.stride = plen;
        v.off = c->off;
        src.fill = im2col_fill;
        src.ctx = &v;
        gemm_src_run(0, 0, oc, (int)ncol, ckk, 1, w, ckk, NULL, NULL, 0, &src, 0, stage,
                     (int)ncol, NULL);
    } else {
        real *col = team_col(c, t);
        for (j = 0; j < g; j++)
            sample_columns_ld(c, x + (size_t)(s0 + j) * in_sz, col + (size_t)j * c->ohw, ncol);
        gemm(0, 0, oc, (int)ncol, ckk, 1, w, ckk, col, (int)ncol, 0, stage, (int)ncol);
    }
    for (j = 0; j < g; j++)
        for (o = 0; o < oc; o++)
            out_row(y + (size_t)(s0 + j) * out_sz + (size_t)o * c->ohw,
                    stage + (size_t)o * ncol + (size_t)j * c->ohw, c->ohw,
                    bias ? bias + o : NULL, relu);
}

/* dxx (samples s0 .. s0+g-1) += col2im(W^T dd), or = if set, on thread t. */
static void team_dx_part(conv2d *c, int t, const real *w, const real *dd, real *dxx, int set,
                         int s0, int g)
{
    layer *l = &c->base;
    size_t in_sz = layer_in_size(l), out_sz = layer_out_size(l), ncol = (size_t)g * c->ohw;
    int oc = l->out_c, ckk = (int)c->ckk, j, o;
    real *stage = team_stage(c, t), *col = team_col(c, t);
    for (j = 0; j < g; j++)
        for (o = 0; o < oc; o++)
            memcpy(stage + (size_t)o * ncol + (size_t)j * c->ohw,
                   dd + (size_t)(s0 + j) * out_sz + (size_t)o * c->ohw, c->ohw * sizeof(real));
    gemm(1, 0, ckk, (int)ncol, oc, 1, w, ckk, stage, (int)ncol, 0, col, (int)ncol);
    for (j = 0; j < g; j++) {
        real *dxs = dxx + (size_t)(s0 + j) * in_sz;
        const real *src = col + (size_t)j * c->ohw;
        size_t r, p;
        if (c->direct)
            for (r = 0; r < c->ckk; r++)
                for (p = 0; p < c->ohw; p++) dxs[r * c->ohw + p] += src[r * ncol + p];
        else
            fold_into(c, src, ncol, dxs, set);
    }
}

/* Thread t's samples of the pass: the forward (dd NULL) or dx. */
static void team_part(conv2d *c, int t, const real *w, const real *bias, int relu,
                      const real *xx, const real *dd, real *out, int set)
{
    int n = c->base.n, lo = n * t / c->team, hi = n * (t + 1) / c->team, s0;
    for (s0 = lo; s0 < hi; s0 += c->sub) {
        int g = hi - s0 < c->sub ? hi - s0 : c->sub;
        if (dd) team_dx_part(c, t, w, dd, out, set, s0, g);
        else team_apply_part(c, t, w, bias, relu, xx, out, s0, g);
    }
}

static void team_run(conv2d *c, const real *w, const real *bias, int relu, const real *xx,
                     const real *dd, real *out, int set)
{
    int t;
    if (c->team == 1) {
        team_part(c, 0, w, bias, relu, xx, dd, out, set);
        return;
    }
    GC_OMP_FOR_TEAM(c->team)
    for (t = 0; t < c->team; t++) team_part(c, t, w, bias, relu, xx, dd, out, set);
}

/* y = W cols(x) (+ b), rectified if relu: per sample, or in groups. */
static void conv_apply(conv2d *c, const real *x, real *y, int with_bias, int relu)
{
    layer *l = &c->base;
    const real *w = ps_value(l->ctx->ps, c->w_idx);
    const real *bias = with_bias && c->has_bias ? ps_value(l->ctx->ps, c->b_idx) : NULL;
    if (c->nb == 1) {
        apply_samples(c, w, bias, relu, x, y);
        return;
    }
    team_run(c, w, bias, relu, x, NULL, y, 0);
}

static void conv2d_forward(layer *l, const real *x, real *y, int n)
{
    conv2d *c = (conv2d *)l;
    (void)n;
    bind_scratch(c);
    conv_apply(c, x, y, 1, c->relu_out);
}

static void conv2d_tangent(layer *l, const real *x_t, real *y_t)
{
    bind_scratch((conv2d *)l);
    conv_apply((conv2d *)l, x_t, y_t, 0, 0);
}

/* dW^T (IC*K*K, OC) += cols (IC*K*K, ncol) stage^T for a group, split by
 * rows of dW^T over the OpenMP threads, each a serial gemm on its rows
 * (gemm inside a parallel region runs in the caller's slot). gemm's own
 * split would go by OC's column panels, and every thread would pack all of
 * cols, the large operand; by rows each packs its share. The bits do not
 * depend on the split (each element is one sum over the group's columns).
 * Level 3 64x64 exact step, 2 threads, min of 4 steps, 3 runs alternated in
 * the same minute: 302-310 -> 252-291 ms. */
/* The group's dy as the transposed stage, read in place: X (g*OH*OW, OC),
 * X[k][o] = dd[s0 + k / OH*OW][o][k mod OH*OW], a gemm_src for dW^T's B =
 * stage^T (the same values as the staged copy, so the same bits). */
typedef struct dd_view {
    const real *dd;   /* sample s0's dy */
    size_t ohw, out_sz;
} dd_view;

static void dd_fill_t(const void *ctx, size_t k0, size_t kc, size_t j0, size_t nc, int w,
                      real *dst)
{
    const dd_view *v = (const dd_view *)ctx;
    size_t s, i, t;
    for (s = 0; s < nc; s += (size_t)w) {
        size_t cnt = nc - s < (size_t)w ? nc - s : (size_t)w, p = 0, q = k0;
        real *d = dst + s * kc;
        while (p < kc) {   /* one sample's run of pixels at a time */
            size_t sm = q / v->ohw, px = q % v->ohw;
            size_t len = v->ohw - px < kc - p ? v->ohw - px : kc - p;
            const real *base = v->dd + sm * v->out_sz + px;
            real *dp = d + p * (size_t)w;
            for (i = 0; i < cnt; i++) {
                const real *src = base + (j0 + s + i) * v->ohw;
                for (t = 0; t < len; t++) dp[t * (size_t)w + i] = src[t];
            }
            for (; i < (size_t)w; i++)
                for (t = 0; t < len; t++) dp[t * (size_t)w + i] = 0;
            p += len;
            q += len;
        }
    }
}

/* (real)lanes_sum of the stage row of channel o (the group's g samples of
 * dy[o] side by side) without the stage: position i of the row goes to
 * lane i mod LANES, sample by sample, in order (the same additions). */
static real group_lanes_sum(const real *dd, size_t out_sz, size_t ohw, int g, int o)
{
    double acc[LANES] = {0};
    size_t pos = 0;
    int j;
    for (j = 0; j < g; j++) {
        const real *v = dd + (size_t)j * out_sz + (size_t)o * ohw;
        size_t i = 0, lane = pos % LANES;
        int l;
        for (; i < ohw && lane != 0; i++, lane = (lane + 1) % LANES) acc[lane] += v[i];
        for (; i + LANES <= ohw; i += LANES)
            for (l = 0; l < LANES; l++) acc[l] += v[i + (size_t)l];
        for (l = 0; i < ohw; i++, l++) acc[l] += v[i];
        pos += ohw;
    }
    return (real)lanes_total(acc);
}

static void dw_t_rows(conv2d *c, const real *xx, const gemm_src *dsrc, int s0, int g, int ncol,
                      int r0, int r1)
{
    int oc = c->base.out_c;
    if (c->implicit) {   /* rows r0 .. r1 of the group's padded samples (c->xpad) */
        im2col_view v;
        gemm_src src;
        group_src(c, (size_t)r0, &v, &src, im2col_fill_t);
        gemm_src_run(0, 1, r1 - r0, oc, ncol, 1, NULL, 0, &src, NULL, 0, dsrc, 1,
                     c->dw_tr + (size_t)r0 * oc, oc, NULL);
    } else {   /* this part's rows of the group's columns, then its product */
        /* rows at a stride of a full group's columns, whatever g: a part
         * then writes the same stretch of c->col in every group, so parts
         * at different groups never touch each other's rows */
        size_t in_sz = layer_in_size(&c->base), ld = (size_t)c->nb * c->ohw;
        int j, r;
        for (j = 0; j < g; j++) {
            const real *xs = xx + (size_t)(s0 + j) * in_sz;
            real *dst = c->col + (size_t)j * c->ohw;
            if (c->direct)
                for (r = r0; r < r1; r++)
                    memcpy(dst + (size_t)r * ld, xs + (size_t)r * c->ohw,
                           c->ohw * sizeof(real));
            else
                im2col_rows_ld(&c->g, xs, dst, ld, r0, r1);
        }
        gemm_src_run(0, 1, r1 - r0, oc, ncol, 1, c->col + (size_t)r0 * ld, (int)ld, NULL, NULL,
                     0, dsrc, 1, c->dw_tr + (size_t)r0 * oc, oc, NULL);
    }
}

/* One group's share of dW^T += cols dy^T (samples s0 .. s0+g-1): rows r0 ..
 * r1 of dW^T, and db += the group's dy sums for channels o0 .. o1. dy is
 * read in place as dd_view (no stage copy). */
static void dw_t_group_part(conv2d *c, const real *xx, const real *dd, real *db, int s0,
                            int g, int r0, int r1, int o0, int o1)
{
    size_t out_sz = layer_out_size(&c->base);
    int ncol = g * (int)c->ohw, o;
    dd_view v;
    gemm_src src;
    v.dd = dd + (size_t)s0 * out_sz;
    v.ohw = c->ohw;
    v.out_sz = out_sz;
    src.fill = dd_fill_t;
    src.ctx = &v;
    if (r1 > r0) dw_t_rows(c, xx, &src, s0, g, ncol, r0, r1);
    if (db)
        for (o = o0; o < o1; o++) db[o] += group_lanes_sum(v.dd, out_sz, c->ohw, g, o);
}

/* One parallel region of np parts, part q running the groups starting at
 * s_begin .. s_end (step c->nb) in order on its rows of dW^T (a share on
 * multiples of 8, gemm's row panels) and its channels of db. */
static void dw_t_parts(conv2d *c, const real *xx, const real *dd, real *db, int np,
                       int s_begin, int s_end)
{
    const layer *l = &c->base;
    int oc = l->out_c, ckk = (int)c->ckk, q;
    GC_OMP_FOR_TEAM(np)
    for (q = 0; q < np; q++) {
        int r0 = ckk * q / np / 8 * 8, r1 = q == np - 1 ? ckk : ckk * (q + 1) / np / 8 * 8;
        int s;
        for (s = s_begin; s < s_end && s < l->n; s += c->nb)
            dw_t_group_part(c, xx, dd, db, s, l->n - s < c->nb ? l->n - s : c->nb, r0, r1,
                            oc * q / np, oc * (q + 1) / np);
    }
}

/* dW^T += cols dy^T and db += dy sums over the batch, group by group, in
 * group order. Split by rows of dW^T (on multiples of 8, gemm's row panels)
 * and by db's channels over the threads, each part running every group in
 * order on its own rows and channels, so each element receives the same
 * additions in the same order whatever the split (the bits do not depend
 * on it). The columns: each part writes its own rows of the group's
 * columns into c->col (im2col split by rows), so with explicit columns the
 * parts never wait for each other and the whole batch is one parallel
 * region (one instead of one per group: six for a batch of 32 in groups of
 * 6, as Level 1's second conv had at 28x28 before it went per sample; at
 * 20x20 it takes this path, tests/test_threads.sh). With
 * implicit im2col every part reads the group's padded samples (c->xpad),
 * written once per group, so there it is one region per group. When a full
 * group's product is below CONV_SMALL_MACS, one part does it all. */
static void dw_t_gemm(conv2d *c, const real *xx, const real *dd, real *db)
{
    const layer *l = &c->base;
    int parts = GC_MAX_THREADS(), s0;
    int small = parts < 2 ||
                (double)c->ckk * l->out_c * (double)c->nb * (double)c->ohw < CONV_SMALL_MACS;
    int np = small ? 1 : parts;
    if (!c->implicit) {
        dw_t_parts(c, xx, dd, db, np, 0, l->n);
        return;
    }
    for (s0 = 0; s0 < l->n; s0 += c->nb) {
        group_pad(c, xx, s0, l->n - s0 < c->nb ? l->n - s0 : c->nb);
        dw_t_parts(c, xx, dd, db, np, s0, s0 + c->nb);
    }
}

/* One adjoint sweep for the pair (xx, dd) = (x, dy) or (x_t, dy_t):
 *   dw  += dd cols(xx)^T      (if dw)
 *   db  += sum_p dd           (if db)
 *   dxx += col2im(W^T dd)     (if dxx; = instead of += if set, not direct)
 * per sample, or dw and db group by group, then dxx (team_run). */
static void conv_adjoint(conv2d *c, const real *xx, const real *dd, real *dw, real *db,
                         real *dxx, int set)
{
    layer *l = &c->base;
    const real *w = ps_value(l->ctx->ps, c->w_idx);
    int oc = l->out_c, ckk = (int)c->ckk, s0;
    if (!dw && !db && !dxx) return;
    if (c->nb == 1) {
        adjoint_samples(c, w, xx, dd, dw, db, dxx, set);
        return;
    }
    if (dw && c->dw_t) {
        /* accumulate dW^T where dW would be: the same additions, element by
         * element; dy read in place, db in the same region */
        transpose_into(c->dw_tr, dw, (size_t)oc, c->ckk, 0);
        dw_t_gemm(c, xx, dd, db);
        transpose_into(dw, c->dw_tr, c->ckk, (size_t)oc, 0);
    }
    for (s0 = 0; (dw || db) && !(dw && c->dw_t) && s0 < l->n; s0 += c->nb) {
        int g = l->n - s0 < c->nb ? l->n - s0 : c->nb, ncol = g * (int)c->ohw;
        stage_in(c, dd, s0, g, db);   /* the group's dd as (OC, ncol), and db */
        if (dw && c->implicit) {
            im2col_view v;
            gemm_src src;
            group_pad(c, xx, s0, g);
            group_src(c, 0, &v, &src, im2col_fill_t);
            gemm_src_run(0, 1, oc, ckk, ncol, 1, c->stage, ncol, NULL, NULL, 0, &src, 1, dw, ckk,
                         NULL);
        } else if (dw) {
            const real *cols = group_columns(c, xx, s0, g);
            gemm(0, 1, oc, ckk, ncol, 1, c->stage, ncol, cols, ncol, 1, dw, ckk);
        }
    }
    if (dxx) team_run(c, w, NULL, 0, NULL, dd, dxx, set);
}

static void conv2d_tangent_backward(layer *l, const real *dy, const real *dy_t, real *dx,
                                    real *dx_t)
{
    conv2d *c = (conv2d *)l;
    param_store *ps = l->ctx->ps;
    real *dw = l->ctx->grad_params ? ps_grad(ps, c->w_idx) : NULL;
    real *db = l->ctx->grad_params && c->has_bias ? ps_grad(ps, c->b_idx) : NULL;
    GC_CHECK(!c->zero_dx || dy || !dx);   /* armed: dx must be written */
    bind_scratch(c);
    if (dy) conv_adjoint(c, l->x, dy, dw, db, dx, c->zero_dx);
    if (dy_t) conv_adjoint(c, l->x_t, dy_t, dw, NULL, dx_t, 0);
}

static void conv2d_backward(layer *l, const real *dy, real *dx)
{
    conv2d_tangent_backward(l, dy, NULL, dx, NULL);
}

static void conv2d_destroy(layer *l)
{
    free(((conv2d *)l)->off);
    free(l);   /* its scratch belongs to the context */
}

static const layer_ops conv2d_ops = {"conv2d", conv2d_forward, conv2d_backward,
                                     conv2d_tangent, conv2d_tangent_backward,
                                     conv2d_destroy};

int conv2d_group_size(const layer *l)
{
    GC_CHECK(l->ops == &conv2d_ops);
    return ((const conv2d *)l)->nb;
}

void conv2d_fuse_relu(layer *l, int on)
{
    GC_CHECK(l->ops == &conv2d_ops);
    ((conv2d *)l)->relu_out = on;
}

int conv2d_fuse_zero(layer *l, int on)
{
    conv2d *c = (conv2d *)l;
    GC_CHECK(l->ops == &conv2d_ops);
    if (c->direct) return 0;   /* its dx is a gemm's C with beta = 1: the caller zeroes */
    c->zero_dx = on;
    return 1;
}

/* Register name.suffix and fill it with U(-bound, bound) from ctx->rng
 * (PyTorch's default init for conv and linear layers, DESIGN.md section 4). */
static int add_uniform_param(nn_ctx *ctx, const char *name, const char *suffix, int ndim,
                             const int64_t *shape, double bound)
{
    char full[PS_NAME_MAX];
    int idx;
    size_t i, numel;
    real *v;
    layer_child_name(full, name, suffix);
    idx = ps_add(ctx->ps, full, PS_PARAM, ndim, shape);
    numel = ctx->ps->entry[idx].numel;
    v = ps_value(ctx->ps, idx);
    for (i = 0; i < numel; i++) v[i] = (real)rng_uniform_range(ctx->rng, -bound, bound);
    return idx;
}

layer *conv2d_create(nn_ctx *ctx, const char *name, int in_c, int in_h, int in_w,
                     int out_c, int k, int stride, int pad, int bias)
{
    conv2d *c;
    int64_t wshape[4], bshape[1];
    size_t col_sz;
    int held;
    double bound;
    GC_CHECK(in_c >= 1 && in_h >= 1 && in_w >= 1 && out_c >= 1);
    GC_CHECK(k >= 1 && stride >= 1 && pad >= 0);
    GC_CHECK(in_h + 2 * pad >= k && in_w + 2 * pad >= k);
    c = (conv2d *)gc_calloc(1, sizeof *c);
    c->g.c = in_c;
    c->g.h = in_h;
    c->g.w = in_w;
    c->g.k = k;
    c->g.stride = stride;
    c->g.pad = pad;
    c->g.oh = (in_h + 2 * pad - k) / stride + 1;
    c->g.ow = (in_w + 2 * pad - k) / stride + 1;
    layer_init(&c->base, &conv2d_ops, ctx, name, in_c, in_h, in_w, out_c, c->g.oh, c->g.ow);
    c->has_bias = bias != 0;
    c->direct = k == 1 && stride == 1 && pad == 0;
    c->ckk = (size_t)in_c * k * k;
    c->ohw = (size_t)c->g.oh * c->g.ow;
    GC_CHECK(c->ckk <= (size_t)INT_MAX && c->ohw <= (size_t)INT_MAX);   /* gemm takes int */
    GC_CHECK(gc_mul_size(c->ckk, c->ohw, &col_sz));
    /* group size: CONV_GROUP_COLS columns, within max_n and CONV_COL_CAP */
    c->nb = c->ohw >= CONV_GROUP_COLS ? 1 : (int)((CONV_GROUP_COLS + c->ohw - 1) / c->ohw);
    if (c->nb > ctx->max_n) c->nb = ctx->max_n;
    while (c->nb > 1 && col_sz * (size_t)c->nb > CONV_COL_CAP) c->nb--;
    if (2 * c->ohw >= CONV_GROUP_COLS &&
        (double)out_c * (double)c->ckk * (double)c->ohw * c->nb < CONV_SMALL_MACS)
        c->nb = 1;
    if (c->ohw >= CONV_SAMPLE_COLS &&
        (double)CONV_DW_BLOCKS * out_c * (double)c->ckk < CONV_SAMPLE_PARTS)
        c->nb = 1;
    GC_CHECK((size_t)c->nb * c->ohw <= (size_t)INT_MAX);

    bound = 1.0 / sqrt((double)c->ckk);   /* fan_in = IC*K*K */
    wshape[0] = out_c;
    wshape[1] = in_c;
    wshape[2] = k;
    wshape[3] = k;
    c->w_idx = add_uniform_param(ctx, name, "weight", 4, wshape, bound);
    c->b_idx = -1;
    if (c->has_bias) {
        bshape[0] = out_c;
        c->b_idx = add_uniform_param(ctx, name, "bias", 1, bshape, bound);
    }
    /* one sample at a time: threads side by side (see apply_samples) */
    c->slots = c->nb == 1 ? GC_MAX_THREADS() : 1;
    if (c->slots > ctx->max_n) c->slots = ctx->max_n;
    if (c->slots < 1) c->slots = 1;
    c->team = c->nb > 1 ? GC_MAX_THREADS() : 1;
    if (c->team > c->nb) c->team = c->nb;
    if (c->team < 1) c->team = 1;
    c->sub = (c->nb + c->team - 1) / c->team;
    /* samples the column / stage / padded buffers hold at once */
    held = c->nb > c->slots ? c->nb : c->slots;
    if (c->team * c->sub > held) held = c->team * c->sub;
    if (!c->direct || c->nb > 1) c->col_len = scratch_len(col_sz * (size_t)held);
    if (c->slots > 1) c->ws_len = scratch_len(gemm_workspace_len() * (size_t)c->slots);
    c->implicit = !c->direct && stride == 1 &&
                  (c->nb == 1 || col_sz * (size_t)c->nb >= CONV_IMPLICIT_MIN);
    /* per sample with implicit im2col, dW = dy cols^T is faster either way */
    c->dw_t = !(c->implicit && c->nb == 1) && conv_dw_transposed(c->ckk, out_c);
    if (c->nb == 1) c->part_len = scratch_len((size_t)CONV_DW_BLOCKS * (size_t)out_c * c->ckk);
    else if (c->dw_t) c->tr_len = scratch_len((size_t)out_c * c->ckk);
    if (c->nb > 1) c->stage_len = scratch_len((size_t)out_c * c->ohw * (size_t)held);
    if (c->nb == 1 && c->has_bias) c->sum_len = scratch_len((size_t)ctx->max_n * (size_t)out_c);
    if (c->implicit) {
        c->off = (size_t *)gc_calloc(c->ckk, sizeof(size_t));
        im2col_offsets(&c->g, c->off);
        c->pad_len = scratch_len(im2col_pad_len(&c->g) * (size_t)held);
    }
    c->in_col = c->implicit && c->col_len >= c->pad_len + c->sum_len;
    ctx_reserve_scratch(ctx, c->col_len + c->stage_len + c->ws_len + c->part_len + c->tr_len +
                                 (c->in_col ? 0 : c->pad_len + c->sum_len));
    return &c->base;
}
