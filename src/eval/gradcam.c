/* Grad-CAM of the anomaly score (R. R. Selvaraju et al., "Grad-CAM: Visual Explanations from
 * Deep Networks via Gradient-based Localization", ICCV 2017).
 *
 * Grad-CAM is usually taken of a class logit; here the quantity explained is the anomaly score
 * itself, so the map shows which regions make an image far from the centre. (The published code
 * this project follows back-propagated one latent coordinate instead, which explains one
 * direction of the code rather than the score.) The network runs in evaluation mode, where every
 * image's gradient is independent of the others in its batch. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../data/data.h"
#include "../model/model.h"

const char *svdd_cam_mode_name(svdd_cam_mode mode) {
    return mode == SVDD_CAM_GRADCAM ? "gradcam" : mode == SVDD_CAM_DEVIATION ? "deviation" : NULL;
}

/* The default layer: the activation right after a convolution of the encoder (the feature maps
 * Grad-CAM is meant for), the last one for Grad-CAM, the first for the deviation maps (measured
 * best on the synthetic defects; the first block keeps the full resolution). */
static int default_layer(const svdd__stack *st, int first) {
    int conv = -1;
    for (int i = 0; i < st->n; i++)
        if (st->layers[i].kind == SVDD__CONV2D && (conv < 0 || !first)) conv = i;
    if (conv < 0) return -1;
    int best = conv;
    for (int i = conv + 1; i < st->n; i++) {
        svdd__layer_kind k = st->layers[i].kind;
        if (k == SVDD__BATCHNORM || k == SVDD__LEAKY_RELU) best = i;
        else break;
    }
    return best;
}

/* Bilinear resize of one map, as torch.nn.functional.interpolate(mode='bilinear',
 * align_corners=False): source coordinate (dst + 0.5) * scale - 0.5, clamped at 0. */
static void resize_bilinear(float *dst, int H, int W, const float *src, int h, int w) {
    const double sy = (double)h / H, sx = (double)w / W;
    for (int y = 0; y < H; y++) {
        double fy = (y + 0.5) * sy - 0.5;
        if (fy < 0) fy = 0;
        int y0 = (int)fy, y1 = y0 + 1 < h ? y0 + 1 : h - 1;
        double ay = fy - y0;
        for (int x = 0; x < W; x++) {
            double fx = (x + 0.5) * sx - 0.5;
            if (fx < 0) fx = 0;
            int x0 = (int)fx, x1 = x0 + 1 < w ? x0 + 1 : w - 1;
            double ax = fx - x0;
            double v = (1 - ay) * ((1 - ax) * src[y0 * w + x0] + ax * src[y0 * w + x1]) +
                       ay * ((1 - ax) * src[y1 * w + x0] + ax * src[y1 * w + x1]);
            dst[(size_t)y * W + x] = (float)v;
        }
    }
}

svdd_status svdd_gradcam(svdd_model *m, const svdd_dataset *ds, size_t first, size_t count, svdd_cam_mode mode,
                         int layer, float *heat, float *scores, svdd_error *err) {
    if (!m || !ds || (count && !heat)) return svdd__fail(err, SVDD_E_INVALID, "svdd_gradcam: NULL argument");
    if (mode != SVDD_CAM_GRADCAM && mode != SVDD_CAM_DEVIATION) return svdd__fail(err, SVDD_E_INVALID, "unknown map mode %d", (int)mode);
    svdd_net *net = m->net;
    svdd__stack *enc = &net->enc;
    if (layer < 0) layer = default_layer(enc, mode == SVDD_CAM_DEVIATION);
    if (layer < 0 || layer >= enc->n)
        return svdd__fail(err, SVDD_E_INVALID, "Grad-CAM needs a convolutional encoder layer (layer %d of %d)", layer, enc->n);
    const svdd__layer *A = &enc->layers[layer];
    const float *base = mode == SVDD_CAM_DEVIATION && m->mean_act ? m->mean_act[layer] : NULL;
    if (mode == SVDD_CAM_DEVIATION && !base)
        return svdd__fail(err, SVDD_E_INVALID, "deviation maps need an activation layer with spatial maps (encoder layer %d is not one)",
                          layer);
    if (A->out_h < 1 || A->out_w < 1 || (A->out_h == 1 && A->out_w == 1 && layer >= enc->n - 2))
        return svdd__fail(err, SVDD_E_INVALID, "encoder layer %d has no spatial feature maps", layer);
    if (first > ds->n || count > ds->n - first)
        return svdd__fail(err, SVDD_E_INVALID, "images %zu..%zu are outside the data set of %zu", first, first + count, ds->n);
    int c, h, w;
    svdd_net_input_shape(net, &c, &h, &w);
    if (ds->c != c || ds->h != h || ds->w != w)
        return svdd__fail(err, SVDD_E_INVALID, "images are %dx%dx%d but the model takes %dx%dx%d", ds->c, ds->h, ds->w, c, h, w);

    enum { EB = 50 };
    const size_t D = (size_t)c * h * w, HW = (size_t)h * w;
    const int L = svdd_net_latent_dim(net), K = A->out_c, S = A->out_h * A->out_w;
    const int hybrid = m->objective.method == SVDD_METHOD_HYBRID && m->hybrid_score != SVDD_HYBRID_SCORE_DISTANCE;
    const int maha = m->threshold_kind == SVDD_THRESHOLD_MAHALANOBIS || m->threshold_kind == SVDD_THRESHOLD_MAHALANOBIS_QUANTILE;
    svdd_status st = svdd__net_reserve(net, EB, err);
    if (st != SVDD_OK) return st;
    float *x = svdd__alloc((size_t)EB, D * sizeof(float)), *dz = svdd__alloc((size_t)EB * L, sizeof(float));
    float *drec = hybrid ? svdd__alloc((size_t)EB, D * sizeof(float)) : NULL;
    float *rec = hybrid ? svdd__alloc((size_t)EB, sizeof(float)) : NULL;
    float *cam = svdd__alloc((size_t)S, sizeof(float));
    double *alpha = malloc((size_t)K * sizeof(double));
    if (!x || !dz || !cam || !alpha || (hybrid && (!drec || !rec))) {
        st = svdd__fail(err, SVDD_E_NOMEM, "out of memory for Grad-CAM");
        goto done;
    }
    for (size_t b0 = 0; b0 < count; b0 += (size_t)EB) {
        int B = (int)(count - b0 < (size_t)EB ? count - b0 : (size_t)EB);
        if ((st = svdd_preprocess_apply(&m->pp, ds, first + b0, (size_t)B, x, err)) != SVDD_OK) goto done;
        const float *z = svdd__stack_forward(net, enc, x, B, 0);
        /* d score / d z for every image of the batch; the hybrid's reconstruction part is added
         * below, once the decoder has run */
        const int with_recon = hybrid && !maha;
        for (int i = 0; i < B; i++) {
            const float *zi = z + (size_t)i * L;
            float *g = dz + (size_t)i * L;
            double s;
            if (maha) {
                s = svdd__gaussian_mahalanobis_grad(&m->gauss, zi, g);
            } else {
                double d = 0;
                for (int j = 0; j < L; j++) d += ((double)zi[j] - m->center[j]) * ((double)zi[j] - m->center[j]);
                /* sum: d enters as (d - mean) / std; reconstruction alone: d does not enter */
                double scale = !hybrid ? 1.0 : m->hybrid_score == SVDD_HYBRID_SCORE_RECON ? 0.0 : 1.0 / m->dist_std;
                for (int j = 0; j < L; j++) g[j] = (float)(2 * scale * ((double)zi[j] - m->center[j]));
                s = svdd__model_base_score(m, d, 0);
                if (with_recon) rec[i] = (float)d; /* keep d until the reconstruction error is known */
            }
            if (scores) scores[b0 + (size_t)i] = (float)s;
        }
        if (with_recon) {
            const float *y = svdd__stack_forward(net, &net->dec, z, B, 0);
            float dist_keep[EB];
            for (int i = 0; i < B; i++) dist_keep[i] = rec[i];
            svdd__sq_error_loss(drec, rec, y, x, B, (int)D);
            /* sq_error_loss gives d(mean_b r_b)/dy = 2 (y - x) / B; one image's r_b needs 2 (y - x),
             * and the score divides r by its standard deviation */
            float k = (float)B / (float)m->recon_std;
            for (size_t i = 0; i < (size_t)B * D; i++) drec[i] *= k;
            const float *dzr = svdd__stack_backward(net, &net->dec, drec, B, 0, 1, 0);
            for (size_t i = 0; i < (size_t)B * L; i++) dz[i] += dzr[i];
            if (scores)
                for (int i = 0; i < B; i++) scores[b0 + (size_t)i] = (float)svdd__model_base_score(m, dist_keep[i], rec[i]);
        }
        /* back to the chosen layer's output: the gradient of the input of layer+1 */
        const float *gA = svdd__stack_backward(net, enc, dz, B, layer + 1, 1, 0);
        const float *act = A->out;
        for (int i = 0; i < B; i++) {
            const float *Ai = act + (size_t)i * K * S, *Gi = gA + (size_t)i * K * S;
            float mx = 0;
            if (mode == SVDD_CAM_GRADCAM) {
                for (int k = 0; k < K; k++) {
                    double a = 0;
                    for (int s = 0; s < S; s++) a += Gi[(size_t)k * S + s];
                    alpha[k] = a / S;
                }
                for (int s = 0; s < S; s++) {
                    double v = 0;
                    for (int k = 0; k < K; k++) v += alpha[k] * Ai[(size_t)k * S + s];
                    cam[s] = v > 0 ? (float)v : 0.0f;
                }
            } else {
                for (int s = 0; s < S; s++) {
                    double v = 0;
                    for (int k = 0; k < K; k++) {
                        size_t q = (size_t)k * S + s;
                        v += (double)Gi[q] * ((double)Ai[q] - base[q]);
                    }
                    cam[s] = v > 0 ? (float)v : 0.0f;
                }
            }
            float *out = heat + (b0 + (size_t)i) * HW;
            resize_bilinear(out, h, w, cam, A->out_h, A->out_w);
            for (size_t p = 0; p < HW; p++) mx = out[p] > mx ? out[p] : mx;
            if (mx > 0)
                for (size_t p = 0; p < HW; p++) out[p] /= mx;
        }
    }
    /* the passes above accumulated parameter gradients nobody asked for */
    svdd__net_zero_grad(net, SVDD_PART_ALL);
done:
    free(x), free(dz), free(drec), free(rec), free(cam), free(alpha);
    return st;
}
