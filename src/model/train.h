/* Helpers shared by the training loops. */
#ifndef SVDD_TRAIN_H
#define SVDD_TRAIN_H

#include "../nn/network.h"

/* Validate the options every training loop shares. */
svdd_status svdd__check_train_options(const svdd_train_options *o, svdd_error *err);
/* MultiStepLR: lr * gamma^(number of milestones <= epoch0), epoch0 counted from 0. */
double svdd__lr_at_epoch(const svdd_train_options *o, int epoch0);

/* One optimisation step on a batch: forward, loss, backward, Adam. Returns the batch loss
 * (a non-finite value stops training with SVDD_E_NUMERIC). */
typedef double (*svdd__step_fn)(void *ctx, const float *batch, int bs, int epoch, double lr);

/* The epoch loop every objective shares: validate the options, reserve the network's buffers,
 * shuffle with a generator seeded from (opt->seed, stream) every epoch, gather batches (a last
 * batch of one image is dropped: it cannot be batch-normalised), call `step`, report epochs.
 * `what` names the objective in messages. */
svdd_status svdd__train_loop(svdd_net *net, const float *x, size_t n, const svdd_train_options *opt, uint64_t stream,
                             const char *what, svdd__step_fn step, void *ctx, svdd_error *err);

/* Pre-train the autoencoder, or load the result from `path` when it holds a network pre-trained
 * from exactly these inputs (spec, images, options); after training, the result is written
 * there (atomically). `path` NULL always trains. *from_cache tells which happened. */
svdd_status svdd__pretrain_cached(svdd_net *net, const float *x, size_t n, const svdd_train_options *o, const char *path,
                                  int *from_cache, svdd_error *err);

#endif
