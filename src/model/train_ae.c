/* Autoencoder training: the reference's pre-training objective, mean over images of the summed
 * squared reconstruction error, optimised with Adam and a multi-step learning-rate schedule. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train.h"

svdd_train_options svdd_train_defaults(void) {
    svdd_train_options o;
    memset(&o, 0, sizeof o);
    o.epochs = 10;
    o.batch_size = 200;
    o.lr = 1e-4;
    o.weight_decay = 0.5e-6;
    o.gamma = 0.1;
    o.seed = 0;
    o.threads = 1;
    return o;
}

svdd_status svdd__check_train_options(const svdd_train_options *o, svdd_error *err) {
    if (o->epochs < 0 || o->epochs > 1000000) return svdd__fail(err, SVDD_E_INVALID, "epochs must be 0..1000000 (got %d)", o->epochs);
    if (o->batch_size < 1 || o->batch_size > 65536)
        return svdd__fail(err, SVDD_E_INVALID, "batch size must be 1..65536 (got %d)", o->batch_size);
    if (!(o->lr > 0 && o->lr < 10)) return svdd__fail(err, SVDD_E_INVALID, "learning rate must be in (0, 10) (got %g)", o->lr);
    if (!(o->weight_decay >= 0 && o->weight_decay < 1))
        return svdd__fail(err, SVDD_E_INVALID, "weight decay must be in [0, 1) (got %g)", o->weight_decay);
    if (o->n_milestones < 0 || o->n_milestones > 8)
        return svdd__fail(err, SVDD_E_INVALID, "at most 8 learning-rate milestones (got %d)", o->n_milestones);
    if (!(o->gamma > 0 && o->gamma <= 1)) return svdd__fail(err, SVDD_E_INVALID, "gamma must be in (0, 1] (got %g)", o->gamma);
    if (o->threads < 1 || o->threads > 256) return svdd__fail(err, SVDD_E_INVALID, "threads must be 1..256 (got %d)", o->threads);
    return SVDD_OK;
}

double svdd__lr_at_epoch(const svdd_train_options *o, int epoch0) {
    double lr = o->lr;
    for (int i = 0; i < o->n_milestones; i++)
        if (epoch0 >= o->milestones[i]) lr *= o->gamma;
    return lr;
}

svdd_status svdd_autoencoder_train(svdd_net *net, const float *x, size_t n, const svdd_train_options *opt,
                                   double *final_loss, svdd_error *err) {
    if (!net || !x || !opt) return svdd__fail(err, SVDD_E_INVALID, "svdd_autoencoder_train: NULL argument");
    svdd_status st = svdd__check_train_options(opt, err);
    if (st != SVDD_OK) return st;
    if (!net->dec.n) return svdd__fail(err, SVDD_E_INVALID, "%s: the network has no decoder to train", net->name);
    if (n < 2 || n > UINT32_MAX) return svdd__fail(err, SVDD_E_INVALID, "need at least 2 training images (got %zu)", n);
    const int B = opt->batch_size < (int)(n < 65536 ? n : 65536) ? opt->batch_size : (int)n;
    net->threads = opt->threads;
    st = svdd__net_reserve(net, B, err);
    if (st != SVDD_OK) return st;
    const size_t D = svdd__stack_in_size(&net->enc);
    uint32_t *order = malloc(n * sizeof *order);
    float *batch = svdd__alloc((size_t)B * D, sizeof(float));
    float *dpred = svdd__alloc((size_t)B * D, sizeof(float));
    if (!order || !batch || !dpred) {
        free(order), free(batch), free(dpred);
        return svdd__fail(err, SVDD_E_NOMEM, "out of memory for training buffers");
    }
    for (size_t i = 0; i < n; i++) order[i] = (uint32_t)i;
    svdd__rng rng;
    svdd__rng_seed(&rng, opt->seed, 0xae);
    svdd__net_adam_reset(net);
    double t0 = svdd__now(), loss = 0;
    size_t seen = 0;
    for (int epoch = 0; epoch < opt->epochs; epoch++) {
        double lr = svdd__lr_at_epoch(opt, epoch), sum = 0;
        size_t batches = 0;
        svdd__rng_shuffle(&rng, order, n);
        /* Like a PyTorch DataLoader with drop_last=False: the last batch may be smaller, but a
         * batch of one image cannot be batch-normalised, so it is folded away. */
        for (size_t b0 = 0; b0 < n; b0 += (size_t)B) {
            int bs = (int)(n - b0 < (size_t)B ? n - b0 : (size_t)B);
            if (bs < 2) break;
            for (int i = 0; i < bs; i++) memcpy(batch + (size_t)i * D, x + (size_t)order[b0 + (size_t)i] * D, D * sizeof(float));
            const float *z = svdd__stack_forward(net, &net->enc, batch, bs, 1);
            const float *y = svdd__stack_forward(net, &net->dec, z, bs, 1);
            double l = svdd__sq_error_loss(dpred, NULL, y, batch, bs, (int)D);
            if (!isfinite(l)) {
                free(order), free(batch), free(dpred);
                return svdd__fail(err, SVDD_E_NUMERIC, "the reconstruction loss became %g at epoch %d; lower the learning rate", l,
                                  epoch + 1);
            }
            svdd__net_zero_grad(net, SVDD_PART_ALL);
            float *dz = svdd__stack_backward(net, &net->dec, dpred, bs, 0, 1, 1);
            svdd__stack_backward(net, &net->enc, dz, bs, 0, 0, 1);
            svdd__net_adam_step(net, SVDD_PART_ALL, (float)lr, (float)opt->weight_decay, opt->amsgrad);
            sum += l;
            batches++;
            seen += (size_t)bs;
        }
        loss = batches ? sum / (double)batches : 0;
        if (opt->on_epoch) {
            double t = svdd__now() - t0;
            svdd_epoch_report r = {epoch + 1, opt->epochs, loss, t > 0 ? (double)seen / t : 0, t, lr};
            opt->on_epoch(opt->on_epoch_user, &r);
        }
        svdd__log(opt->log, opt->log_user, SVDD_LOG_DEBUG, "autoencoder epoch %d/%d loss %.6f", epoch + 1, opt->epochs, loss);
    }
    free(order), free(batch), free(dpred);
    if (final_loss) *final_loss = loss;
    return SVDD_OK;
}
