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
    const svdd__images im = svdd__images_of_floats(x, n, svdd__stack_in_size(&net->enc));
    return svdd__center_init(net, &im, eps, c, err);
}

svdd_status svdd__center_init(svdd_net *net, const svdd__images *im, double eps, float *c, svdd_error *err) {
    const size_t n = im->n;
    if (n == 0) return svdd__fail(err, SVDD_E_INVALID, "svdd_center_init: no images");
    if (!(eps >= 0)) return svdd__fail(err, SVDD_E_INVALID, "centre eps must be >= 0 (got %g)", eps);
    const int D = svdd_net_latent_dim(net);
    double *sum = calloc((size_t)D, sizeof(double));
    svdd__images_reader r;
    svdd_status st = sum ? svdd__images_reader_open(&r, im, err) : svdd__fail(err, SVDD_E_NOMEM, "out of memory computing the centre");
    if (st != SVDD_OK) {
        free(sum);
        return st;
    }
    if ((st = svdd__net_reserve(net, SVDD__IMAGES_BLOCK, err)) != SVDD_OK) goto done;
    /* the sum runs image by image in order, as over one encoding of all images */
    for (size_t b0 = 0; b0 < n; b0 += SVDD__IMAGES_BLOCK) {
        const int B = (int)(n - b0 < SVDD__IMAGES_BLOCK ? n - b0 : SVDD__IMAGES_BLOCK);
        const float *x = svdd__images_read(&r, b0, (size_t)B, &st, err);
        if (!x) goto done;
        const float *z = svdd__stack_infer(net, &net->enc, x, B);
        for (int i = 0; i < B; i++)
            for (int j = 0; j < D; j++) sum[j] += z[(size_t)i * D + (size_t)j];
    }
    for (int j = 0; j < D; j++) {
        double v = sum[j] / (double)n;
        if (!isfinite(v)) {
            st = svdd__fail(err, SVDD_E_NUMERIC, "the centre's coordinate %d is not finite; the network diverged", j);
            break;
        }
        if (fabs(v) < eps) v = v < 0 ? -eps : eps;
        c[j] = (float)v;
    }
done:
    svdd__images_reader_close(&r);
    free(sum);
    return st;
}

/* The (1 - nu) quantile of the square roots of d[0..B). */
static double radius_from_batch(const float *d, int B, double nu, float *tmp) {
    for (int i = 0; i < B; i++) tmp[i] = sqrtf(d[i] > 0 ? d[i] : 0);
    return svdd__sample_quantile(tmp, (size_t)B, 1.0 - nu);
}

typedef struct svdd_ctx {
    svdd_net *net;
    const float *c;
    const svdd_objective *obj;
    svdd_part part;
    float *dist;  /* (2B): distances, then scratch for the radius quantile */
    double R;
} svdd_ctx;

static double svdd_step(void *p, const float *batch, int bs, int epoch) {
    svdd_ctx *k = p;
    svdd_net *net = k->net;
    const svdd_method method = k->obj->method;
    const int L = net->enc.out_c;
    const float *c = k->c;
    const float *z = svdd__stack_forward(net, &net->enc, batch, bs, 1);
    svdd__net_zero_grad(net, k->part);
    /* distances, and d loss / d z into net->dlatent */
    float *dz = net->dlatent, *dist = k->dist;
    double l = 0, R2 = k->R * k->R;
    for (int i = 0; i < bs; i++) {
        double d = 0;
        for (int j = 0; j < L; j++) {
            double diff = (double)z[(size_t)i * L + j] - c[j];
            d += diff * diff;
        }
        dist[i] = (float)d;
    }
    if (method == SVDD_METHOD_SOFT_BOUNDARY) {
        double hinge = 0, nu = k->obj->nu;
        for (int i = 0; i < bs; i++) {
            double s = dist[i] - R2;
            hinge += s > 0 ? s : 0;
            /* max(0, .) passes gradient only where the distance exceeds R^2 */
            float g = s > 0 ? (float)(2.0 / (nu * bs)) : 0.0f;
            for (int j = 0; j < L; j++) dz[(size_t)i * L + j] = g * (z[(size_t)i * L + j] - c[j]);
        }
        l = R2 + hinge / (nu * bs);
    } else {
        double w = method == SVDD_METHOD_HYBRID ? k->obj->mu1 : 1.0;
        for (int i = 0; i < bs; i++) {
            l += dist[i];
            for (int j = 0; j < L; j++) dz[(size_t)i * L + j] = (float)(2.0 * w / bs) * (z[(size_t)i * L + j] - c[j]);
        }
        l = w * l / bs;
    }
    if (method == SVDD_METHOD_HYBRID) {
        /* the reconstruction term's gradient on the code joins the SVDD term's before the
         * encoder's single backward pass */
        const size_t Din = svdd__stack_in_size(&net->enc);
        const float *y = svdd__stack_forward(net, &net->dec, z, bs, 1);
        float *dpred = svdd__recon_grad(net);
        double rec = svdd__sq_error_loss(dpred, NULL, y, batch, bs, (int)Din);
        for (size_t i = 0; i < (size_t)bs * Din; i++) dpred[i] *= (float)k->obj->mu2;
        l += k->obj->mu2 * rec;
        const float *dz_rec = svdd__stack_backward(net, &net->dec, dpred, bs, 0, 1, 1);
        for (size_t i = 0; i < (size_t)bs * L; i++) dz[i] += dz_rec[i];
    }
    if (!isfinite(l)) return l;
    svdd__stack_backward(net, &net->enc, dz, bs, 0, 0, 1);
    /* R comes from this batch's distances alone, so it may change before the loop's Adam step */
    if (method == SVDD_METHOD_SOFT_BOUNDARY && epoch >= k->obj->warmup_epochs)
        k->R = radius_from_batch(dist, bs, k->obj->nu, dist + bs);
    return l;
}

svdd_status svdd_deep_svdd_train(svdd_net *net, const float *x, size_t n, const float *c, const svdd_objective *obj,
                                 const svdd_train_options *opt, double *radius, svdd_error *err) {
    if (!x) return svdd__fail(err, SVDD_E_INVALID, "svdd_deep_svdd_train: NULL argument");
    const svdd__images im = svdd__images_of_floats(x, n, net ? svdd__stack_in_size(&net->enc) : 0);
    return svdd__deep_svdd_train_hooked(net, &im, c, obj, opt, radius, NULL, err);
}

svdd_status svdd__deep_svdd_train_hooked(svdd_net *net, const svdd__images *im, const float *c,
                                         const svdd_objective *obj, const svdd_train_options *opt, double *radius,
                                         const svdd__loop_hook *hook, svdd_error *err) {
    if (!net || !im || !c || !obj || !opt) return svdd__fail(err, SVDD_E_INVALID, "svdd_deep_svdd_train: NULL argument");
    const svdd_method method = obj->method;
    if (method < SVDD_METHOD_ONE_CLASS || method > SVDD_METHOD_HYBRID)
        return svdd__fail(err, SVDD_E_INVALID, "unknown objective %d", (int)method);
    if (method == SVDD_METHOD_SOFT_BOUNDARY && !(obj->nu > 0 && obj->nu <= 1))
        return svdd__fail(err, SVDD_E_INVALID, "nu must be in (0, 1] (got %g)", obj->nu);
    if (method == SVDD_METHOD_HYBRID) {
        if (!net->dec.n) return svdd__fail(err, SVDD_E_INVALID, "%s: the hybrid objective needs a decoder", net->name);
        if (!(obj->mu1 >= 0 && obj->mu2 >= 0 && obj->mu1 + obj->mu2 > 0 && isfinite(obj->mu1) && isfinite(obj->mu2)))
            return svdd__fail(err, SVDD_E_INVALID, "mu1 and mu2 must be >= 0, not both 0 (got %g, %g)", obj->mu1, obj->mu2);
    }
    const int B = opt->batch_size > 0 && opt->batch_size < 65536 ? opt->batch_size : 1;
    svdd_ctx k = {net, c, obj, method == SVDD_METHOD_HYBRID ? SVDD_PART_ALL : SVDD_PART_ENCODER, NULL,
                  radius ? *radius : 0.0};
    /* only the encoder trains, except for the hybrid whose decoder takes part in the loss */
    k.dist = svdd__alloc((size_t)B * 2, sizeof(float));
    if (!k.dist) {
        return svdd__fail(err, SVDD_E_NOMEM, "out of memory for training buffers");
    }
    /* a checkpoint saves R as the step keeps it */
    svdd__loop_hook h;
    if (hook) h = *hook, h.radius = &k.R;
    svdd_status st = svdd__train_loop(net, im, opt, SVDD__STREAM_SVDD, k.part, "Deep SVDD training", svdd_step, &k,
                                      hook ? &h : NULL, err);
    if (st == SVDD_OK && radius && method == SVDD_METHOD_SOFT_BOUNDARY) *radius = k.R;
    free(k.dist);
    return st;
}

svdd_status svdd_deep_svdd_distances(svdd_net *net, const float *x, size_t n, const float *c, float *dist, float *recon,
                                     float *latent, svdd_error *err) {
    if (!net || (n && (!x || !c || !dist))) return svdd__fail(err, SVDD_E_INVALID, "svdd_deep_svdd_distances: NULL argument");
    const svdd__images im = svdd__images_of_floats(x, n, svdd__stack_in_size(&net->enc));
    return svdd__distances(net, &im, c, dist, recon, latent, err);
}

svdd_status svdd__distances(svdd_net *net, const svdd__images *im, const float *c, float *dist, float *recon,
                            float *latent, svdd_error *err) {
    if (recon && !net->dec.n) return svdd__fail(err, SVDD_E_INVALID, "%s: reconstruction needs a decoder", net->name);
    const int EB = SVDD__IMAGES_BLOCK;
    const size_t n = im->n;
    svdd_status st = svdd__net_reserve(net, EB, err);
    if (st != SVDD_OK) return st;
    const size_t Din = svdd__stack_in_size(&net->enc);
    const int L = net->enc.out_c;
    svdd__images_reader r;
    if ((st = svdd__images_reader_open(&r, im, err)) != SVDD_OK) return st;
    for (size_t b0 = 0; b0 < n; b0 += (size_t)EB) {
        int B = (int)(n - b0 < (size_t)EB ? n - b0 : (size_t)EB);
        const float *x = svdd__images_read(&r, b0, (size_t)B, &st, err);
        if (!x) break;
        const float *z = svdd__stack_infer(net, &net->enc, x, B);
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
            svdd__sq_error_loss(NULL, recon + b0, y, x, B, (int)Din);
        }
    }
    svdd__images_reader_close(&r);
    return st;
}
