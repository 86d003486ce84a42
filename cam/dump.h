/*
 * cam/dump.h - one regularised training step on a given model and batch,
 * written out tensor by tensor for comparison with PyTorch (DESIGN.md
 * section 3, "Against PyTorch": same weights, same batch; logits, CAMs,
 * L_CAM and every parameter gradient in both modes). `train --dump-step`
 * and tests/tool_dump_step.c call dump_step; tests/crosscheck.py reads the
 * result. docs/CROSSCHECK.md describes the comparison.
 *
 * Inputs:
 *   model file   safetensors state_dict under PyTorch's names (parameters
 *                and BatchNorm buffers; `_target_layer.*` accepted as an
 *                alias of features.<paper target>.*, as the published code
 *                writes it; a training checkpoint's `train.*` tensors are
 *                ignored). classes = rows of the classifier's Linear weight
 *                (classifier.2.weight for Level 1, classifier.3.weight else).
 *   batch file   safetensors with x (N, C, H, W) F32 or F64 and y (N) of an
 *                integer dtype (I64 from PyTorch), 1 <= N <= DUMP_MAX_BATCH,
 *                0 <= y < classes.
 * The model of `level` is built for C channels and H x W inputs, the state
 * loaded, the target (features index) and the dropout p applied, the model
 * RNG (dropout masks) seeded with `seed`; then ONE step_run (cam/step.h) in
 * train mode with a fresh EMA (so ref_c is the detached batch mean of class
 * c's maps), EMA factor 0.9 and want_cam = 1. No optimiser step: the
 * parameters are unchanged, the BatchNorm running statistics are updated
 * once, as PyTorch's train-mode forward does.
 *
 * Output (safetensors, written atomically; floating tensors in the build's
 * real type, F64 in the double build, F32 in the float build):
 *   logits        (N, classes)
 *   cam           (S, H', W')  maps of the selected samples B+', class-major
 *                               (classes ascending, samples ascending within)
 *   cam_index     (S) I64      their sample indices
 *   loss_ce, loss_cam, loss    0-dim; loss = loss_ce + lambda * loss_cam
 *   grad.<name>   every parameter's gradient, its state_dict name and shape
 *   buffer.<name> every buffer after the step (running_mean, running_var as
 *                 reals, num_batches_tracked as I64)
 *   metadata      level, target, lambda, distance, cam_grad, dropout (the p
 *                 in effect; 0 for Level 1, which has none), n_selected,
 *                 real ("float" / "double"), model, batch
 *
 * The default lambda is 1.0 (not 0): the dump exists to check the
 * regulariser, and with lambda 0 its gradient would not be exercised.
 */
#ifndef GC_DUMP_H
#define GC_DUMP_H

#include "cam/step.h"

#define DUMP_DEFAULT_LAMBDA 1.0
#define DUMP_MAX_BATCH 4096

typedef struct dump_opts {
    const char *out;                /* OUT.safetensors */
    const char *model_path;         /* state_dict (safetensors) */
    int level;                      /* 1..5 */
    const char *batch_path;         /* x, y (safetensors) */
    double lambda;                  /* DUMP_DEFAULT_LAMBDA */
    consistency_distance distance;  /* CONS_L2SQ */
    cam_grad_mode grad_mode;        /* CAM_GRAD_EXACT */
    double dropout;                 /* < 0: keep the model's p; else 0 <= p < 1 */
    int target;                     /* features index; -1: the paper's */
    uint64_t seed;                  /* model RNG: the dropout masks */
} dump_opts;

void dump_opts_default(dump_opts *o);

/* Set the option of command-line flag `flag` ("--dump-step", "--model",
 * "--level", "--batch", "--lambda", "--distance", "--cam-grad",
 * "--dropout", "--target", "--seed") from `value`. Returns GC_OK,
 * GC_FAIL with a message naming the flag for a bad value, or
 * DUMP_FLAG_UNKNOWN (nothing changed) for any other flag, so that a
 * program can share this parser with its own flags. */
#define DUMP_FLAG_UNKNOWN 1
int dump_opts_set(dump_opts *o, const char *flag, const char *value, gc_error *err);

/* Check that out, model_path, batch_path and level are set. */
int dump_opts_check(const dump_opts *o, gc_error *err);

/* Run the step and write o->out (see above). Every error names the file
 * (or the option) and the problem; nothing is written on failure. */
int dump_step(const dump_opts *o, gc_error *err);

#endif
