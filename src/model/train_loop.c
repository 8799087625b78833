/* The epoch loop shared by autoencoder pre-training and the Deep SVDD objectives. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train.h"

svdd_status svdd__train_loop(svdd_net *net, const float *x, size_t n, const svdd_train_options *opt, uint64_t stream,
                             const char *what, svdd__step_fn step, void *ctx, svdd_error *err) {
    svdd_status st = svdd__check_train_options(opt, err);
    if (st != SVDD_OK) return st;
    if (n < 2 || n > UINT32_MAX) return svdd__fail(err, SVDD_E_INVALID, "need at least 2 training images (got %zu)", n);
    const int B = opt->batch_size < (int)(n < 65536 ? n : 65536) ? opt->batch_size : (int)n;
    net->threads = opt->threads;
    if ((st = svdd__net_reserve(net, B, err)) != SVDD_OK) return st;
    const size_t D = svdd__stack_in_size(&net->enc);
    uint32_t *order = malloc(n * sizeof *order);
    float *batch = svdd__alloc((size_t)B * D, sizeof(float));
    if (!order || !batch) {
        free(order), free(batch);
        return svdd__fail(err, SVDD_E_NOMEM, "out of memory for training buffers");
    }
    for (size_t i = 0; i < n; i++) order[i] = (uint32_t)i;
    svdd__rng rng;
    svdd__rng_seed(&rng, opt->seed, stream);
    svdd__net_adam_reset(net);
    double t0 = svdd__now();
    size_t seen = 0;
    for (int epoch = 0; epoch < opt->epochs && st == SVDD_OK; epoch++) {
        double lr = svdd__lr_at_epoch(opt, epoch), sum = 0;
        size_t batches = 0;
        svdd__rng_shuffle(&rng, order, n);
        /* As a PyTorch DataLoader with drop_last=False, except that a last batch of one image is
         * dropped: batch norm cannot normalise a single image. */
        for (size_t b0 = 0; b0 + 1 < n; b0 += (size_t)B) {
            int bs = (int)(n - b0 < (size_t)B ? n - b0 : (size_t)B);
            for (int i = 0; i < bs; i++)
                memcpy(batch + (size_t)i * D, x + (size_t)order[b0 + (size_t)i] * D, D * sizeof(float));
            double l = step(ctx, batch, bs, epoch, lr);
            if (!isfinite(l)) {
                st = svdd__fail(err, SVDD_E_NUMERIC, "the %s loss became %g at epoch %d; lower the learning rate", what, l,
                                epoch + 1);
                break;
            }
            sum += l;
            batches++;
            seen += (size_t)bs;
        }
        if (st != SVDD_OK) break;
        double loss = batches ? sum / (double)batches : 0;
        if (opt->on_epoch) {
            double t = svdd__now() - t0;
            svdd_epoch_report r = {epoch + 1, opt->epochs, loss, t > 0 ? (double)seen / t : 0, t, lr};
            opt->on_epoch(opt->on_epoch_user, &r);
        }
        svdd__log(opt->log, opt->log_user, SVDD_LOG_DEBUG, "%s epoch %d/%d loss %.6f", what, epoch + 1, opt->epochs, loss);
    }
    free(order), free(batch);
    return st;
}
