/*
 * nn/loss.h - softmax cross-entropy over a batch (DESIGN.md section 1:
 * loss = CE(z, y) + lambda_t * L_train; CE as PyTorch's
 * nn.CrossEntropyLoss with reduction 'mean'), and the predicted class.
 *
 *     lse_n  = max_c z[n,c] + log sum_c exp(z[n,c] - max_c z[n,c])
 *     CE     = (1/N) sum_n (lse_n - z[n, y_n])
 *     dCE/dz[n,c] = (softmax(z[n])_c - [c == y_n]) / N
 *
 * Computed in double whatever `real` is (the max is subtracted before exp,
 * so no overflow for any finite logits). The gradient OVERWRITES dlogits
 * (it is the seed of the backward pass, so there is nothing to add to;
 * layers' backward functions accumulate, this one does not).
 *
 * Predictions follow torch.argmax: the first index of the largest logit;
 * a NaN counts as larger than any number (the first NaN wins).
 *
 * Does not: class weights, label smoothing, ignore_index; the tangent of
 * the gradient (not needed by the second-order path, DESIGN.md section 2:
 * the regulariser does not differentiate through CE).
 */
#ifndef GC_LOSS_H
#define GC_LOSS_H

#include "nn/core.h"

/* logits (n, c), labels (n) in [0, c) (checked: GC_CHECK). Returns the mean
 * CE. If dlogits (n, c) is not NULL, it is overwritten with dCE/dz. If pred
 * (n) is not NULL, writes the argmax per row. n >= 1, c >= 1. No allocation. */
double ce_loss(const real *logits, const int *labels, size_t n, size_t c, real *dlogits,
               int *pred);

/* Argmax per row of logits (n, c) into pred (n), as torch.argmax(dim=1). */
void ce_argmax(const real *logits, size_t n, size_t c, int *pred);

#endif
