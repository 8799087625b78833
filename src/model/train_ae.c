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
    if (!(o->clip_grad_norm >= 0 && isfinite(o->clip_grad_norm)))
        return svdd__fail(err, SVDD_E_INVALID, "the gradient clipping norm must be >= 0 (0 = off; got %g)", o->clip_grad_norm);
    return SVDD_OK;
}

double svdd__lr_at_epoch(const svdd_train_options *o, int epoch0) {
    double lr = o->lr;
    for (int i = 0; i < o->n_milestones; i++)
        if (epoch0 >= o->milestones[i]) lr *= o->gamma;
    return lr;
}

typedef struct ae_ctx {
    svdd_net *net;
    const svdd_train_options *opt;
    double last;
} ae_ctx;

static double ae_step(void *p, const float *batch, int bs, int epoch) {
    (void)epoch;
    ae_ctx *c = p;
    svdd_net *net = c->net;
    const float *z = svdd__stack_forward(net, &net->enc, batch, bs, 1);
    const float *y = svdd__stack_forward(net, &net->dec, z, bs, 1);
    /* the reconstruction's gradient starts in the network's gradient buffer (svdd__recon_grad) */
    float *dpred = svdd__recon_grad(net);
    double l = svdd__sq_error_loss(dpred, NULL, y, batch, bs, (int)svdd__stack_in_size(&net->enc));
    if (!isfinite(l)) return l;
    svdd__net_zero_grad(net, SVDD_PART_ALL);
    float *dz = svdd__stack_backward(net, &net->dec, dpred, bs, 0, 1, 1);
    svdd__stack_backward(net, &net->enc, dz, bs, 0, 0, 1);
    return l;
}

/* The last epoch's mean loss, as the loop reports it. */
static void remember_loss(void *user, const svdd_epoch_report *r) {
    ae_ctx *c = user;
    c->last = r->loss;
    if (c->opt->on_epoch) c->opt->on_epoch(c->opt->on_epoch_user, r);
}

svdd_status svdd_autoencoder_train(svdd_net *net, const float *x, size_t n, const svdd_train_options *opt,
                                   double *final_loss, svdd_error *err) {
    if (!x) return svdd__fail(err, SVDD_E_INVALID, "svdd_autoencoder_train: NULL argument");
    const svdd__images im = svdd__images_of_floats(x, n, net ? svdd__stack_in_size(&net->enc) : 0);
    return svdd__autoencoder_train_hooked(net, &im, opt, final_loss, NULL, err);
}

svdd_status svdd__autoencoder_train_hooked(svdd_net *net, const svdd__images *im, const svdd_train_options *opt,
                                           double *final_loss, const svdd__loop_hook *hook, svdd_error *err) {
    if (!net || !im || !opt) return svdd__fail(err, SVDD_E_INVALID, "svdd_autoencoder_train: NULL argument");
    if (!net->dec.n) return svdd__fail(err, SVDD_E_INVALID, "%s: the network has no decoder to train", net->name);
    ae_ctx c = {net, opt, 0};
    svdd_train_options o = *opt;
    o.on_epoch = remember_loss;
    o.on_epoch_user = &c;
    svdd_status st = svdd__train_loop(net, im, &o, SVDD__STREAM_AE, SVDD_PART_ALL, "autoencoder pre-training",
                                      ae_step, &c, hook, err);
    if (st == SVDD_OK && final_loss) *final_loss = c.last;
    return st;
}
