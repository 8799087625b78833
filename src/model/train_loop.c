/* The epoch loop shared by autoencoder pre-training and the Deep SVDD objectives. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train.h"

double svdd__clip_grad_norm(svdd_net *net, svdd_part part, double max_norm) {
    size_t lo = (part & SVDD_PART_ENCODER) ? 0 : net->n_enc_params;
    size_t hi = (part & SVDD_PART_DECODER) ? net->n_params : net->n_enc_params;
    /* in double: a float sum of ~1M squares would lose the small ones, and its overflow would
     * look like a diverged gradient */
    double sq = 0;
    for (size_t i = lo; i < hi; i++) sq += (double)net->grads[i] * net->grads[i];
    const double norm = sqrt(sq);
    /* as torch: the 1e-6 keeps the factor finite for a zero gradient */
    const double coef = max_norm / (norm + 1e-6);
    if (max_norm > 0 && isfinite(norm) && coef < 1)
        for (size_t i = lo; i < hi; i++) net->grads[i] *= (float)coef;
    return norm;
}

/* Stop on a non-finite loss or gradient before Adam can write it into the parameters: the
 * network then still holds the last finite state, and no checkpoint is ever written from a
 * diverged one. */
static svdd_status check_step(double loss, double gnorm, const char *what, int epoch, int epochs, size_t batch,
                              svdd_error *err) {
    if (!isfinite(loss))
        return svdd__fail(err, SVDD_E_NUMERIC,
                          "%s: the loss became %g at epoch %d of %d (batch %zu); lower the learning rate or clip the "
                          "gradient norm (clip_grad_norm)",
                          what, loss, epoch + 1, epochs, batch + 1);
    if (!isfinite(gnorm))
        return svdd__fail(err, SVDD_E_NUMERIC,
                          "%s: the gradient became %s at epoch %d of %d (batch %zu, loss %g); lower the learning rate "
                          "or clip the gradient norm (clip_grad_norm)",
                          what, isnan(gnorm) ? "NaN" : "infinite", epoch + 1, epochs, batch + 1, loss);
    return SVDD_OK;
}

svdd_status svdd__train_loop(svdd_net *net, const svdd__images *im, const svdd_train_options *opt, uint64_t stream,
                             svdd_part part, const char *what, svdd__step_fn step, void *ctx,
                             const svdd__loop_hook *hook, svdd_error *err) {
    svdd_status st = svdd__check_train_options(opt, err);
    if (st != SVDD_OK) return st;
    const size_t n = im->n;
    if (n < 2 || n > UINT32_MAX) return svdd__fail(err, SVDD_E_INVALID, "need at least 2 training images (got %zu)", n);
    const svdd__loop_pos *resume = hook ? hook->resume : NULL;
    if (resume && (resume->n != n || resume->epochs_done < 0 || resume->epochs_done > opt->epochs))
        return svdd__fail(err, SVDD_E_INVALID, "%s: cannot resume after epoch %d of %zu images in a run of %d epochs of %zu",
                          what, resume->epochs_done, resume->n, opt->epochs, n);
    const int B = opt->batch_size < (int)(n < 65536 ? n : 65536) ? opt->batch_size : (int)n;
    net->threads = opt->threads;
    if ((st = svdd__net_reserve(net, B, err)) != SVDD_OK) return st;
    const size_t D = svdd__stack_in_size(&net->enc);
    if (im->D != D)
        return svdd__fail(err, SVDD_E_INVALID, "%s: images of %zu values, the network takes %zu", what, im->D, D);
    uint32_t *order = malloc(n * sizeof *order);
    float *batch = svdd__alloc((size_t)B * D, sizeof(float));
    if (!order || !batch) {
        free(order), free(batch);
        return svdd__fail(err, SVDD_E_NOMEM, "out of memory for training buffers");
    }
    svdd__loop_pos pos = {0, {0, 0}, order, n, 0};
    if (resume) {
        /* the generator and the permutation carry on: each epoch shuffles the previous order */
        memcpy(order, resume->order, n * sizeof *order);
        pos.rng = resume->rng;
        pos.epochs_done = resume->epochs_done;
    } else {
        for (size_t i = 0; i < n; i++) order[i] = (uint32_t)i;
        svdd__rng_seed(&pos.rng, opt->seed, stream);
        svdd__net_adam_reset(net);
    }
    double t0 = svdd__now();
    size_t seen = 0;
    for (int epoch = pos.epochs_done; epoch < opt->epochs && st == SVDD_OK; epoch++) {
        double lr = svdd__lr_at_epoch(opt, epoch), sum = 0;
        size_t batches = 0;
        svdd__rng_shuffle(&pos.rng, order, n);
        /* As a PyTorch DataLoader with drop_last=False, except that a last batch of one image is
         * dropped: batch norm cannot normalise a single image. */
        for (size_t b0 = 0; b0 + 1 < n; b0 += (size_t)B) {
            int bs = (int)(n - b0 < (size_t)B ? n - b0 : (size_t)B);
            if ((st = svdd__images_gather(im, order + b0, (size_t)bs, batch, err)) != SVDD_OK) break;
            double l = step(ctx, batch, bs, epoch);
            /* the norm is one pass over the gradient, next to Adam's pass over four buffers */
            double gnorm = isfinite(l) ? svdd__clip_grad_norm(net, part, opt->clip_grad_norm) : 0;
            if ((st = check_step(l, gnorm, what, epoch, opt->epochs, batches, err)) != SVDD_OK) break;
            svdd__net_adam_step(net, part, (float)lr, (float)opt->weight_decay, opt->amsgrad);
            sum += l;
            batches++;
            seen += (size_t)bs;
        }
        if (st != SVDD_OK) break;
        double loss = batches ? sum / (double)batches : 0;
        pos.epochs_done = epoch + 1;
        if (opt->on_epoch) {
            double t = svdd__now() - t0;
            svdd_epoch_report r = {epoch + 1, opt->epochs, loss, t > 0 ? (double)seen / t : 0, t, lr};
            opt->on_epoch(opt->on_epoch_user, &r);
        }
        svdd__log(opt->log, opt->log_user, SVDD_LOG_DEBUG, "%s epoch %d/%d loss %.6f", what, epoch + 1, opt->epochs, loss);
        if (hook && hook->epoch_end) {
            pos.radius = hook->radius ? *hook->radius : 0;
            st = hook->epoch_end(hook->user, &pos, err);
        }
    }
    free(order), free(batch);
    return st;
}
