/* Helpers shared by the training loops. */
#ifndef SVDD_TRAIN_H
#define SVDD_TRAIN_H

#include "../nn/network.h"
#include "images.h"

/* Validate the options every training loop shares. */
svdd_status svdd__check_train_options(const svdd_train_options *o, svdd_error *err);
/* MultiStepLR: lr * gamma^(number of milestones <= epoch0), epoch0 counted from 0. */
double svdd__lr_at_epoch(const svdd_train_options *o, int epoch0);

/* Forward, loss and backward on a batch: leaves the gradient of the trained part in net->grads
 * (zeroing it first) and returns the batch loss. The loop then checks the loss and the gradient,
 * clips the gradient when asked and takes the Adam step. */
typedef double (*svdd__step_fn)(void *ctx, const float *batch, int bs, int epoch);

/* The shuffling generators' streams, one per phase (a checkpoint checks that its generator is the
 * one of its phase). */
#define SVDD__STREAM_AE 0xae
#define SVDD__STREAM_SVDD 0x5dd

/* Where the loop stands after a whole epoch: all the state the rest of the run depends on besides
 * the network (parameters, batch-norm statistics, Adam's moments and step live in svdd_net). */
typedef struct svdd__loop_pos {
    int epochs_done;
    svdd__rng rng;   /* the shuffling generator */
    uint32_t *order; /* n entries: the permutation the next epoch's shuffle starts from */
    size_t n;
    double radius;   /* the soft-boundary objective's R (0 for the others) */
} svdd__loop_pos;

/* Checkpointing and resuming, for the fit (NULL everywhere else). */
typedef struct svdd__loop_hook {
    /* Continue from here instead of starting afresh; the network (with Adam's state) must already
     * hold the state saved with it. NULL: a fresh run. */
    const svdd__loop_pos *resume;
    /* Called after every epoch; a failure stops training with its status. */
    svdd_status (*epoch_end)(void *user, const svdd__loop_pos *pos, svdd_error *err);
    void *user;
    /* Where the objective keeps R (set by the soft-boundary training), copied into pos. */
    const double *radius;
} svdd__loop_hook;

/* The epoch loop every objective shares: validate the options, reserve the network's buffers,
 * shuffle with a generator seeded from (opt->seed, stream) every epoch, gather batches (a last
 * batch of one image is dropped: it cannot be batch-normalised), call `step`, stop on a
 * non-finite loss or gradient, clip the gradient (opt->clip_grad_norm), take the Adam step on
 * `part`, report epochs. `what` names the phase in messages. `hook` may be NULL. */
svdd_status svdd__train_loop(svdd_net *net, const svdd__images *im, const svdd_train_options *opt, uint64_t stream,
                             svdd_part part, const char *what, svdd__step_fn step, void *ctx,
                             const svdd__loop_hook *hook, svdd_error *err);

/* Scale the gradient of `part` so that its global L2 norm is at most max_norm, as
 * torch.nn.utils.clip_grad_norm_ (factor max_norm / (norm + 1e-6) when that is below 1); max_norm
 * <= 0 only measures. Returns the norm before clipping (not finite when the gradient is not). */
double svdd__clip_grad_norm(svdd_net *net, svdd_part part, double max_norm);

/* The training functions with a checkpoint hook (the public ones pass NULL). */
svdd_status svdd__autoencoder_train_hooked(svdd_net *net, const svdd__images *im, const svdd_train_options *opt,
                                           double *final_loss, const svdd__loop_hook *hook, svdd_error *err);
svdd_status svdd__deep_svdd_train_hooked(svdd_net *net, const svdd__images *im, const float *c,
                                         const svdd_objective *obj, const svdd_train_options *opt, double *radius,
                                         const svdd__loop_hook *hook, svdd_error *err);

/* Pre-train the autoencoder, or load the result from `path` when it holds a network pre-trained
 * from exactly these inputs (spec, images, options); after training, the result is written
 * there (atomically). `path` NULL always trains. *from_cache tells which happened. `hook`
 * (checkpoints, resuming) may be NULL. */
svdd_status svdd__pretrain_cached(svdd_net *net, const svdd__images *im, const svdd_train_options *o, const char *path,
                                  const svdd__loop_hook *hook, int *from_cache, svdd_error *err);

/* The Deep SVDD centre and distances over a set of images (the public functions take floats). */
svdd_status svdd__center_init(svdd_net *net, const svdd__images *im, double eps, float *c, svdd_error *err);
svdd_status svdd__distances(svdd_net *net, const svdd__images *im, const float *c, float *dist, float *recon,
                            float *latent, svdd_error *err);

#endif
