/* Deep SVDD training (Ruff et al., "Deep One-Class Classification", ICML 2018).
 *
 * One-class:      L = mean_i ||phi(x_i) - c||^2                      (+ weight decay in Adam)
 * Soft-boundary:  L = R^2 + 1/nu * mean_i max(0, ||phi(x_i) - c||^2 - R^2)
 *                 R is not a gradient variable: as in the reference implementation, after the
 *                 warm-up epochs it is set after every batch to the (1 - nu) quantile of the
 *                 batch's distances ||phi(x) - c|| (numpy.quantile, linear interpolation).
 * Hybrid:         L = mu1 * mean_i ||phi(x_i) - c||^2 + mu2 * mean_i ||x_i - psi(phi(x_i))||^2
 *                 with psi the decoder. The encoder is the same parameters in both terms, so the
 *                 reconstruction gradient that leaves the decoder is added to the SVDD gradient on
 *                 the code before the encoder's backward pass: both terms train the encoder.
 *                 (The published hybrid code this follows reconstructed through a frozen copy of
 *                 the encoder, so its second term never reached the encoder.) */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/stats.h"
#include "train.h"

const char *svdd_method_name(svdd_method m) {
    switch (m) {
    case SVDD_METHOD_ONE_CLASS: return "deep-svdd";
    case SVDD_METHOD_SOFT_BOUNDARY: return "soft-boundary";
    case SVDD_METHOD_HYBRID: return "hybrid";
    }
    return NULL;
}

svdd_status svdd_method_parse(const char *name, svdd_method *m, svdd_error *err) {
    for (int i = 0; i <= SVDD_METHOD_HYBRID; i++)
        if (name && strcmp(name, svdd_method_name((svdd_method)i)) == 0) {
            *m = (svdd_method)i;
            return SVDD_OK;
        }
    if (name && (strcmp(name, "one-class") == 0 || strcmp(name, "deepsvdd") == 0)) {
        *m = SVDD_METHOD_ONE_CLASS;
        return SVDD_OK;
    }
    return svdd__fail(err, SVDD_E_INVALID, "unknown method '%s' (deep-svdd, soft-boundary or hybrid)", name ? name : "");
}

svdd_objective svdd_objective_defaults(void) {
    svdd_objective o = {SVDD_METHOD_ONE_CLASS, 0.1, 10, 1.0, 1.0};
    return o;
}

svdd_status svdd_center_init(svdd_net *net, const float *x, size_t n, double eps, float *c, svdd_error *err) {
    if (!net || !x || !c || n == 0) return svdd__fail(err, SVDD_E_INVALID, "svdd_center_init: no images");
    if (!(eps >= 0)) return svdd__fail(err, SVDD_E_INVALID, "centre eps must be >= 0 (got %g)", eps);
    const int D = svdd_net_latent_dim(net);
    float *z = svdd__alloc(n, (size_t)D * sizeof(float));
    double *sum = calloc((size_t)D, sizeof(double));
    if (!z || !sum) {
        free(z), free(sum);
        return svdd__fail(err, SVDD_E_NOMEM, "out of memory computing the centre");
    }
    svdd_status st = svdd_net_encode(net, x, n, z, err);
    if (st == SVDD_OK) {
        for (size_t i = 0; i < n; i++)
            for (int j = 0; j < D; j++) sum[j] += z[i * (size_t)D + (size_t)j];
        for (int j = 0; j < D; j++) {
            double v = sum[j] / (double)n;
            if (!isfinite(v)) {
                st = svdd__fail(err, SVDD_E_NUMERIC, "the centre's coordinate %d is not finite; the network diverged", j);
                break;
            }
            if (fabs(v) < eps) v = v < 0 ? -eps : eps;
            c[j] = (float)v;
        }
    }
    free(z), free(sum);
    return st;
}

/* The (1 - nu) quantile of the square roots of d[0..B). */
static double radius_from_batch(const float *d, int B, double nu, float *tmp) {
    for (int i = 0; i < B; i++) tmp[i] = sqrtf(d[i] > 0 ? d[i] : 0);
    return svdd__sample_quantile(tmp, (size_t)B, 1.0 - nu);
}

svdd_status svdd_deep_svdd_train(svdd_net *net, const float *x, size_t n, const float *c, const svdd_objective *obj,
                                 const svdd_train_options *opt, double *radius, svdd_error *err) {
    if (!net || !x || !c || !obj || !opt) return svdd__fail(err, SVDD_E_INVALID, "svdd_deep_svdd_train: NULL argument");
    svdd_status st = svdd__check_train_options(opt, err);
    if (st != SVDD_OK) return st;
    if (n < 2 || n > UINT32_MAX) return svdd__fail(err, SVDD_E_INVALID, "need at least 2 training images (got %zu)", n);
    const svdd_method method = obj->method;
    if (method == SVDD_METHOD_SOFT_BOUNDARY && !(obj->nu > 0 && obj->nu <= 1))
        return svdd__fail(err, SVDD_E_INVALID, "nu must be in (0, 1] (got %g)", obj->nu);
    if (method == SVDD_METHOD_HYBRID) {
        if (!net->dec.n) return svdd__fail(err, SVDD_E_INVALID, "%s: the hybrid objective needs a decoder", net->name);
        if (!(obj->mu1 >= 0 && obj->mu2 >= 0 && obj->mu1 + obj->mu2 > 0 && isfinite(obj->mu1) && isfinite(obj->mu2)))
            return svdd__fail(err, SVDD_E_INVALID, "mu1 and mu2 must be >= 0, not both 0 (got %g, %g)", obj->mu1, obj->mu2);
    }
    if (method < SVDD_METHOD_ONE_CLASS || method > SVDD_METHOD_HYBRID)
        return svdd__fail(err, SVDD_E_INVALID, "unknown objective %d", (int)method);
    const int B = opt->batch_size < (int)(n < 65536 ? n : 65536) ? opt->batch_size : (int)n;
    net->threads = opt->threads;
    st = svdd__net_reserve(net, B, err);
    if (st != SVDD_OK) return st;
    const size_t Din = svdd__stack_in_size(&net->enc);
    const int L = net->enc.out_c;
    uint32_t *order = malloc(n * sizeof *order);
    float *batch = svdd__alloc((size_t)B * Din, sizeof(float));
    float *dpred = method == SVDD_METHOD_HYBRID ? svdd__alloc((size_t)B * Din, sizeof(float)) : NULL;
    float *dist = svdd__alloc((size_t)B * 2, sizeof(float));
    if (!order || !batch || !dist || (method == SVDD_METHOD_HYBRID && !dpred)) {
        free(order), free(batch), free(dpred), free(dist);
        return svdd__fail(err, SVDD_E_NOMEM, "out of memory for training buffers");
    }
    for (size_t i = 0; i < n; i++) order[i] = (uint32_t)i;
    svdd__rng rng;
    svdd__rng_seed(&rng, opt->seed, 0x5dd);
    svdd__net_adam_reset(net);
    /* only the encoder trains, except for the hybrid whose decoder takes part in the loss */
    const svdd_part part = method == SVDD_METHOD_HYBRID ? SVDD_PART_ALL : SVDD_PART_ENCODER;
    double R = radius ? *radius : 0.0, loss = 0, t0 = svdd__now();
    size_t seen = 0;
    for (int epoch = 0; epoch < opt->epochs; epoch++) {
        double lr = svdd__lr_at_epoch(opt, epoch), sum = 0;
        size_t batches = 0;
        svdd__rng_shuffle(&rng, order, n);
        for (size_t b0 = 0; b0 < n; b0 += (size_t)B) {
            int bs = (int)(n - b0 < (size_t)B ? n - b0 : (size_t)B);
            if (bs < 2) break; /* a batch of one cannot be batch-normalised */
            for (int i = 0; i < bs; i++)
                memcpy(batch + (size_t)i * Din, x + (size_t)order[b0 + (size_t)i] * Din, Din * sizeof(float));
            const float *z = svdd__stack_forward(net, &net->enc, batch, bs, 1);
            svdd__net_zero_grad(net, part);
            /* distances and d loss / d z into net->dlatent */
            double l = 0, R2 = R * R;
            float *dz = net->dlatent;
            for (int i = 0; i < bs; i++) {
                double d = 0;
                for (int j = 0; j < L; j++) {
                    double diff = (double)z[(size_t)i * L + j] - c[j];
                    d += diff * diff;
                }
                dist[i] = (float)d;
            }
            if (method == SVDD_METHOD_SOFT_BOUNDARY) {
                double hinge = 0;
                for (int i = 0; i < bs; i++) {
                    double s = dist[i] - R2;
                    hinge += s > 0 ? s : 0;
                    /* the max(0, .) passes gradient only where the distance exceeds R^2 */
                    float g = s > 0 ? (float)(2.0 / (obj->nu * bs)) : 0.0f;
                    for (int j = 0; j < L; j++) dz[(size_t)i * L + j] = g * (z[(size_t)i * L + j] - c[j]);
                }
                l = R2 + hinge / (obj->nu * bs);
            } else {
                double w = method == SVDD_METHOD_HYBRID ? obj->mu1 : 1.0;
                for (int i = 0; i < bs; i++) {
                    l += dist[i];
                    for (int j = 0; j < L; j++) dz[(size_t)i * L + j] = (float)(2.0 * w / bs) * (z[(size_t)i * L + j] - c[j]);
                }
                l = w * l / bs;
            }
            if (method == SVDD_METHOD_HYBRID) {
                const float *y = svdd__stack_forward(net, &net->dec, z, bs, 1);
                double rec = svdd__sq_error_loss(dpred, NULL, y, batch, bs, (int)Din);
                for (size_t i = 0; i < (size_t)bs * Din; i++) dpred[i] *= (float)obj->mu2;
                l += obj->mu2 * rec;
                const float *dz_rec = svdd__stack_backward(net, &net->dec, dpred, bs, 0, 1, 1);
                for (size_t i = 0; i < (size_t)bs * L; i++) dz[i] += dz_rec[i];
            }
            if (!isfinite(l)) {
                free(order), free(batch), free(dpred), free(dist);
                return svdd__fail(err, SVDD_E_NUMERIC, "the Deep SVDD loss became %g at epoch %d; lower the learning rate", l,
                                  epoch + 1);
            }
            svdd__stack_backward(net, &net->enc, dz, bs, 0, 0, 1);
            svdd__net_adam_step(net, part, (float)lr, (float)opt->weight_decay, opt->amsgrad);
            if (method == SVDD_METHOD_SOFT_BOUNDARY && epoch >= obj->warmup_epochs)
                R = radius_from_batch(dist, bs, obj->nu, dist + bs);
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
    }
    if (radius && method == SVDD_METHOD_SOFT_BOUNDARY) *radius = R;
    free(order), free(batch), free(dpred), free(dist);
    return SVDD_OK;
}

svdd_status svdd_deep_svdd_distances(svdd_net *net, const float *x, size_t n, const float *c, float *dist, float *recon,
                                     float *latent, svdd_error *err) {
    if (!net || (n && (!x || !c || !dist))) return svdd__fail(err, SVDD_E_INVALID, "svdd_deep_svdd_distances: NULL argument");
    if (recon && !net->dec.n) return svdd__fail(err, SVDD_E_INVALID, "%s: reconstruction needs a decoder", net->name);
    const int EB = 200;
    svdd_status st = svdd__net_reserve(net, EB, err);
    if (st != SVDD_OK) return st;
    const size_t Din = svdd__stack_in_size(&net->enc);
    const int L = net->enc.out_c;
    for (size_t b0 = 0; b0 < n; b0 += (size_t)EB) {
        int B = (int)(n - b0 < (size_t)EB ? n - b0 : (size_t)EB);
        const float *z = svdd__stack_forward(net, &net->enc, x + b0 * Din, B, 0);
        for (int i = 0; i < B; i++) {
            double d = 0;
            for (int j = 0; j < L; j++) {
                double diff = (double)z[(size_t)i * L + j] - c[j];
                d += diff * diff;
            }
            dist[b0 + (size_t)i] = (float)d;
        }
        if (latent) memcpy(latent + b0 * (size_t)L, z, (size_t)B * L * sizeof(float));
        if (recon) {
            const float *y = svdd__stack_forward(net, &net->dec, z, B, 0);
            svdd__sq_error_loss(NULL, recon + b0, y, x + b0 * Din, B, (int)Din);
        }
    }
    return SVDD_OK;
}
