/* Grad-CAM of the anomaly score (R. R. Selvaraju et al., "Grad-CAM: Visual Explanations from
 * Deep Networks via Gradient-based Localization", ICCV 2017).
 *
 * Grad-CAM is usually taken of a class logit; here the quantity explained is the anomaly score
 * itself, so the map shows which regions make an image far from the centre. (The published code
 * this project follows back-propagated one latent coordinate instead, which explains one
 * direction of the code rather than the score.) The network runs in evaluation mode, where every
 * image's gradient is independent of the others in its batch.
 *
 * Besides the two feature-map combinations, the input-level "excess" maps (the default; see
 * docs/explanations.md) attribute the score to pixels and keep only what stands above the
 * attribution normal images receive at the same pixel. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../data/data.h"
#include "../model/model.h"

const char *svdd_cam_mode_name(svdd_cam_mode mode) {
    switch (mode) {
    case SVDD_CAM_GRADCAM: return "gradcam";
    case SVDD_CAM_DEVIATION: return "deviation";
    case SVDD_CAM_EXCESS: return "excess";
    }
    return NULL;
}

/* The scores an explanation can follow, in the order of the rows of the stored excess
 * thresholds: the model can be switched between them after fitting (threshold kind, hybrid
 * score), so each gets its own normal statistics. */
enum { SCORE_DISTANCE, SCORE_MAHALANOBIS, SCORE_HYBRID_SUM, SCORE_HYBRID_RECON };

int svdd__explain_score_count(const svdd_model *m) {
    return m->objective.method == SVDD_METHOD_HYBRID && m->net->dec.n ? 4 : 2;
}

/* The score the model gives now (svdd_model_score): soft-boundary's d - R^2 has the gradient of
 * the distance, and a hybrid scored by its distance alone is the distance. */
static int score_now(const svdd_model *m) {
    if (m->threshold_kind == SVDD_THRESHOLD_MAHALANOBIS || m->threshold_kind == SVDD_THRESHOLD_MAHALANOBIS_QUANTILE)
        return SCORE_MAHALANOBIS;
    if (m->objective.method == SVDD_METHOD_HYBRID && m->hybrid_score == SVDD_HYBRID_SCORE_SUM) return SCORE_HYBRID_SUM;
    if (m->objective.method == SVDD_METHOD_HYBRID && m->hybrid_score == SVDD_HYBRID_SCORE_RECON) return SCORE_HYBRID_RECON;
    return SCORE_DISTANCE;
}

/* Buffers for one batch of up to EB images. */
enum { EB = 50 };
typedef struct score_work {
    float *dz;    /* (EB, latent): d S / d z */
    float *drec;  /* (EB, input size): d S / d reconstruction, for the scores with that term */
    float *rec;   /* (EB): reconstruction errors */
    double dist[EB];
} score_work;

static void work_free(score_work *w) {
    free(w->dz), free(w->drec), free(w->rec);
    w->dz = w->drec = w->rec = NULL;
}

static svdd_status work_alloc(score_work *w, const svdd_model *m, svdd_error *err) {
    memset(w, 0, sizeof *w);
    const size_t D = svdd__stack_in_size(&m->net->enc);
    w->dz = svdd__alloc((size_t)EB * svdd_net_latent_dim(m->net), sizeof(float));
    if (m->net->dec.n) {
        w->drec = svdd__alloc((size_t)EB, D * sizeof(float));
        w->rec = svdd__alloc((size_t)EB, sizeof(float));
    }
    if (!w->dz || (m->net->dec.n && (!w->drec || !w->rec))) {
        work_free(w);
        return svdd__fail(err, SVDD_E_NOMEM, "out of memory for the explanations");
    }
    svdd_status st = svdd__net_reserve(m->net, EB, err);
    if (st != SVDD_OK) work_free(w);
    return st;
}

/* Forward B preprocessed images x through the encoder and write d S / d z of score `which` into
 * w->dz, and S into s (may be NULL; then `which` need not be the model's current score). A score
 * with a reconstruction term also runs the decoder, adds the gradient it sends back to dz, and
 * leaves d S / d y in w->drec; returns 1 then, 0 otherwise. */
static int score_grad(svdd_model *m, int which, const float *x, int B, score_work *w, float *s) {
    svdd_net *net = m->net;
    const int L = svdd_net_latent_dim(net);
    const int recon = which == SCORE_HYBRID_SUM || which == SCORE_HYBRID_RECON;
    const float *z = svdd__stack_forward(net, &net->enc, x, B, 0);
    for (int i = 0; i < B; i++) {
        const float *zi = z + (size_t)i * L;
        float *g = w->dz + (size_t)i * L;
        if (which == SCORE_MAHALANOBIS) {
            double d2 = svdd__gaussian_mahalanobis_grad(&m->gauss, zi, g);
            if (s) s[i] = (float)d2;
            continue;
        }
        double d = 0;
        for (int j = 0; j < L; j++) d += ((double)zi[j] - m->center[j]) * ((double)zi[j] - m->center[j]);
        /* sum: d enters as (d - mean) / std; reconstruction alone: d does not enter */
        double scale = which == SCORE_DISTANCE ? 1.0 : which == SCORE_HYBRID_RECON ? 0.0 : 1.0 / m->dist_std;
        for (int j = 0; j < L; j++) g[j] = (float)(2 * scale * ((double)zi[j] - m->center[j]));
        w->dist[i] = d;
        if (s && !recon) s[i] = (float)svdd__model_base_score(m, d, 0);
    }
    if (!recon) return 0;
    const size_t D = svdd__stack_in_size(&net->enc);
    const float *y = svdd__stack_forward(net, &net->dec, z, B, 0);
    svdd__sq_error_loss(w->drec, w->rec, y, x, B, (int)D);
    /* sq_error_loss gives d(mean_b r_b)/dy = 2 (y - x) / B; one image's r_b needs 2 (y - x), and
     * the sum divides r by its standard deviation (the reconstruction score alone does not) */
    float k = (float)B / (which == SCORE_HYBRID_SUM ? (float)m->recon_std : 1.0f);
    for (size_t i = 0; i < (size_t)B * D; i++) w->drec[i] *= k;
    const float *dzr = svdd__stack_backward(net, &net->dec, w->drec, B, 0, 1, 0);
    for (size_t i = 0; i < (size_t)B * L; i++) w->dz[i] += dzr[i];
    if (s)
        for (int i = 0; i < B; i++) s[i] = (float)svdd__model_base_score(m, w->dist[i], w->rec[i]);
    return 1;
}

/* d S / d x of score `which` for B preprocessed images into gx (B x input size); S into s. The
 * reconstruction error sum_p (y_p - x_p)^2 depends on x twice, through the code and as the
 * target: its direct part is -d S / d y. Returns a network buffer, valid until the next pass. */
static const float *input_grad(svdd_model *m, int which, const float *x, int B, score_work *w, float *s) {
    svdd_net *net = m->net;
    int direct = score_grad(m, which, x, B, w, s);
    float *gx = svdd__stack_backward(net, &net->enc, w->dz, B, 0, 1, 0);
    if (direct)
        for (size_t i = 0; i < (size_t)B * svdd__stack_in_size(&net->enc); i++) gx[i] -= w->drec[i];
    return gx;
}

svdd_status svdd__score_input_grad(svdd_model *m, const float *x, int B, float *gx, float *s, svdd_error *err) {
    if (!m || !x || B < 0 || B > EB || !gx) return svdd__fail(err, SVDD_E_INVALID, "svdd__score_input_grad: bad argument");
    score_work w;
    svdd_status st = work_alloc(&w, m, err);
    if (st == SVDD_OK) {
        const float *g = input_grad(m, score_now(m), x, B, &w, s);
        memcpy(gx, g, (size_t)B * svdd__stack_in_size(&m->net->enc) * sizeof(float));
        svdd__net_zero_grad(m->net, SVDD_PART_ALL);
    }
    work_free(&w);
    return st;
}

/* Input-level relevance of B images: r[b, p] = sum_c dS/dx[b, c, p] * (x[b, c, p] - xbar[c, p]),
 * with xbar the mean normal training image, each image's map divided by its L1 norm. The
 * first-order (Taylor) decomposition of S(x) - S(xbar) over the pixels, as shares of the whole:
 * shares can be compared between images whose scores differ by orders of magnitude. */
static void input_shares(svdd_model *m, int which, const float *x, int B, score_work *w, float *r, float *s) {
    const float *gx = input_grad(m, which, x, B, w, s);
    const svdd__stack *enc = &m->net->enc;
    const size_t D = svdd__stack_in_size(enc), HW = (size_t)enc->in_h * enc->in_w;
    for (int b = 0; b < B; b++) {
        float *rb = r + (size_t)b * HW;
        double l1 = 0;
        for (size_t p = 0; p < HW; p++) {
            double v = 0;
            for (int c = 0; c < enc->in_c; c++) {
                size_t q = (size_t)b * D + (size_t)c * HW + p;
                v += (double)gx[q] * ((double)x[q] - m->input_mean[(size_t)c * HW + p]);
            }
            rb[p] = (float)v;
            l1 += fabs(v);
        }
        for (size_t p = 0; p < HW; p++) rb[p] = l1 > 0 ? (float)(rb[p] / l1) : 0.0f;
    }
}

/* How many standard deviations above the normal images' mean share a pixel's share must be to
 * count: the usual three-sigma rule, fixed beforehand and not tuned (docs/explanations.md; the
 * method was chosen on a synthetic draw other than the one the tests measure). A maximum over
 * the normal images would grow with their number. */
#define EXCESS_SIGMAS 3.0

svdd_status svdd__explain_fit(svdd_model *m, const svdd__images *im, svdd_error *err) {
    const svdd__stack *enc = &m->net->enc;
    const size_t n = im->n;
    const size_t D = svdd__stack_in_size(enc), HW = (size_t)enc->in_h * enc->in_w;
    const int K = svdd__explain_score_count(m);
    if (n == 0) return svdd__fail(err, SVDD_E_INVALID, "explanation statistics need normal images");
    free(m->input_mean), free(m->excess_thr);
    m->input_mean = svdd__alloc(D, sizeof(float));
    m->excess_thr = svdd__alloc((size_t)K * HW, sizeof(float));
    m->n_excess = 0; /* K once the thresholds are filled in: svdd_gradcam refuses the mode until then */
    double *acc = calloc(D > 2 * HW ? D : 2 * HW, sizeof(double));
    float *r = svdd__alloc((size_t)EB * HW, sizeof(float));
    score_work w;
    svdd__images_reader rd = {im, NULL};
    svdd_status st = SVDD_OK;
    memset(&w, 0, sizeof w);
    if (!m->input_mean || !m->excess_thr || !acc || !r) st = svdd__fail(err, SVDD_E_NOMEM, "out of memory for the explanation statistics");
    if (st == SVDD_OK) st = work_alloc(&w, m, err);
    if (st == SVDD_OK) st = svdd__images_reader_open(&rd, im, err);
    for (size_t b0 = 0; b0 < n && st == SVDD_OK; b0 += EB) {
        const int B = (int)(n - b0 < EB ? n - b0 : EB);
        const float *x = svdd__images_read(&rd, b0, (size_t)B, &st, err);
        if (!x) break;
        for (int i = 0; i < B; i++)
            for (size_t q = 0; q < D; q++) acc[q] += x[(size_t)i * D + q];
    }
    if (st == SVDD_OK) {
        for (size_t q = 0; q < D; q++) m->input_mean[q] = (float)(acc[q] / (double)n);
        /* per score: every pixel's mean share over the normal images, plus three standard
         * deviations */
        for (int k = 0; k < K && st == SVDD_OK; k++) {
            double *sum = acc, *sq = acc + HW;
            memset(acc, 0, 2 * HW * sizeof(double));
            for (size_t b0 = 0; b0 < n && st == SVDD_OK; b0 += EB) {
                int B = (int)(n - b0 < EB ? n - b0 : EB);
                const float *x = svdd__images_read(&rd, b0, (size_t)B, &st, err);
                if (!x) break;
                input_shares(m, k, x, B, &w, r, NULL);
                for (int i = 0; i < B; i++)
                    for (size_t p = 0; p < HW; p++) {
                        const float v = r[(size_t)i * HW + p];
                        sum[p] += v, sq[p] += (double)v * v;
                    }
            }
            /* The spread is pooled over the pixels: where normal images barely vary (the empty
             * border of MNIST digits) a per-pixel deviation is near zero, and any trace of
             * relevance there would count; the mean stays per pixel (where normal images put
             * their relevance). */
            double pooled = 0;
            for (size_t p = 0; p < HW; p++) {
                double mean = sum[p] / (double)n, var = sq[p] / (double)n - mean * mean;
                sum[p] = mean;
                pooled += var > 0 ? var : 0;
            }
            pooled = sqrt(pooled / (double)HW);
            for (size_t p = 0; p < HW; p++) m->excess_thr[(size_t)k * HW + p] = (float)(sum[p] + EXCESS_SIGMAS * pooled);
        }
        svdd__net_zero_grad(m->net, SVDD_PART_ALL);
        if (st == SVDD_OK) m->n_excess = K;
    }
    svdd__images_reader_close(&rd);
    work_free(&w);
    free(acc), free(r);
    return st;
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

/* One image's excess map at the input resolution: the shares above the normal threshold of each
 * pixel, ReLU. */
static void excess_map(float *out, const float *share, const float *thr, size_t HW) {
    for (size_t p = 0; p < HW; p++) {
        float v = share[p] - thr[p];
        out[p] = v > 0 ? v : 0.0f;
    }
}

svdd_status svdd_gradcam(svdd_model *m, const svdd_dataset *ds, size_t first, size_t count, svdd_cam_mode mode,
                         int layer, float *heat, float *scores, svdd_error *err) {
    if (!m || !ds || (count && !heat)) return svdd__fail(err, SVDD_E_INVALID, "svdd_gradcam: NULL argument");
    if (mode != SVDD_CAM_GRADCAM && mode != SVDD_CAM_DEVIATION && mode != SVDD_CAM_EXCESS)
        return svdd__fail(err, SVDD_E_INVALID, "unknown map mode %d", (int)mode);
    svdd_net *net = m->net;
    svdd__stack *enc = &net->enc;
    const int excess = mode == SVDD_CAM_EXCESS;
    const svdd__layer *A = NULL;
    const float *base = NULL;
    if (excess) {
        /* pixels are the only layer: a layer index would mean nothing */
        if (layer != -1)
            return svdd__fail(err, SVDD_E_INVALID, "excess maps are computed at the input pixels and take no layer (got %d); the deviation and gradcam maps take one",
                              layer);
        /* Models saved before these statistics existed load without them; only this mode needs
         * them, so the file format stays the same and older files keep their other uses. */
        if (!m->input_mean || !m->excess_thr || m->n_excess != svdd__explain_score_count(m) || score_now(m) >= m->n_excess)
            return svdd__fail(err, SVDD_E_INVALID,
                              "this model has no statistics for excess maps (it was saved by an older version); train "
                              "it again, or use the deviation maps");
    } else {
        if (layer < 0) layer = default_layer(enc, mode == SVDD_CAM_DEVIATION);
        if (layer < 0 || layer >= enc->n)
            return svdd__fail(err, SVDD_E_INVALID, "Grad-CAM needs a convolutional encoder layer (layer %d of %d)", layer, enc->n);
        A = &enc->layers[layer];
        /* its values would be the next layer's while its gradient is its own */
        if (svdd__output_overwritten(enc, layer)) {
            int ok = layer + 1;
            while (svdd__output_overwritten(enc, ok)) ok++;
            return svdd__fail(err, SVDD_E_INVALID,
                              "encoder layer %d (%s) is overwritten in place by the %s after it and cannot be mapped; "
                              "choose layer %d or a later one",
                              layer, A->name, enc->layers[layer + 1].name, ok);
        }
        base = mode == SVDD_CAM_DEVIATION && m->mean_act ? m->mean_act[layer] : NULL;
        if (mode == SVDD_CAM_DEVIATION && !base)
            return svdd__fail(err, SVDD_E_INVALID,
                              "deviation maps need an activation layer with spatial maps (encoder layer %d is not one)", layer);
        if (A->out_h < 1 || A->out_w < 1 || (A->out_h == 1 && A->out_w == 1 && layer >= enc->n - 2))
            return svdd__fail(err, SVDD_E_INVALID, "encoder layer %d has no spatial feature maps", layer);
    }
    if (first > ds->n || count > ds->n - first)
        return svdd__fail(err, SVDD_E_INVALID, "images %zu..%zu are outside the data set of %zu", first, first + count, ds->n);
    int c, h, w;
    svdd_net_input_shape(net, &c, &h, &w);
    if (ds->c != c || ds->h != h || ds->w != w)
        return svdd__fail(err, SVDD_E_INVALID, "images are %dx%dx%d but the model takes %dx%dx%d", ds->c, ds->h, ds->w, c, h, w);

    const size_t D = (size_t)c * h * w, HW = (size_t)h * w;
    const int K = excess ? 0 : A->out_c, S = excess ? (int)HW : A->out_h * A->out_w;
    const int which = score_now(m);
    score_work wk;
    svdd_status st = work_alloc(&wk, m, err);
    if (st != SVDD_OK) return st;
    float *x = svdd__alloc((size_t)EB, D * sizeof(float));
    float *cam = svdd__alloc((size_t)S, sizeof(float));
    float *share = excess ? svdd__alloc((size_t)EB, HW * sizeof(float)) : NULL;
    double *alpha = K ? malloc((size_t)K * sizeof(double)) : NULL;
    if (!x || !cam || (excess && !share) || (K && !alpha)) {
        st = svdd__fail(err, SVDD_E_NOMEM, "out of memory for Grad-CAM");
        goto done;
    }
    for (size_t b0 = 0; b0 < count; b0 += (size_t)EB) {
        int B = (int)(count - b0 < (size_t)EB ? count - b0 : (size_t)EB);
        if ((st = svdd_preprocess_apply(&m->pp, ds, first + b0, (size_t)B, x, err)) != SVDD_OK) goto done;
        float *s = scores ? scores + b0 : NULL;
        const float *gA = NULL;
        if (excess) {
            input_shares(m, which, x, B, &wk, share, s);
        } else {
            score_grad(m, which, x, B, &wk, s);
            /* back to the chosen layer's output: the gradient of the input of layer+1 */
            gA = svdd__stack_backward(net, enc, wk.dz, B, layer + 1, 1, 0);
        }
        for (int i = 0; i < B; i++) {
            float *out = heat + (b0 + (size_t)i) * HW;
            float mx = 0;
            if (excess) {
                excess_map(out, share + (size_t)i * HW, m->excess_thr + (size_t)which * HW, HW);
            } else {
                const float *Ai = A->out + (size_t)i * K * S, *Gi = gA + (size_t)i * K * S;
                if (mode == SVDD_CAM_GRADCAM) {
                    for (int k = 0; k < K; k++) {
                        double a = 0;
                        for (int q = 0; q < S; q++) a += Gi[(size_t)k * S + q];
                        alpha[k] = a / S;
                    }
                    for (int q = 0; q < S; q++) {
                        double v = 0;
                        for (int k = 0; k < K; k++) v += alpha[k] * Ai[(size_t)k * S + q];
                        cam[q] = v > 0 ? (float)v : 0.0f;
                    }
                } else {
                    for (int q = 0; q < S; q++) {
                        double v = 0;
                        for (int k = 0; k < K; k++) {
                            size_t o = (size_t)k * S + q;
                            v += (double)Gi[o] * ((double)Ai[o] - base[o]);
                        }
                        cam[q] = v > 0 ? (float)v : 0.0f;
                    }
                }
                resize_bilinear(out, h, w, cam, A->out_h, A->out_w);
            }
            for (size_t p = 0; p < HW; p++) mx = out[p] > mx ? out[p] : mx;
            if (mx > 0)
                for (size_t p = 0; p < HW; p++) out[p] /= mx;
        }
    }
    /* the passes above accumulated parameter gradients nobody asked for */
    svdd__net_zero_grad(net, SVDD_PART_ALL);
done:
    work_free(&wk);
    free(x), free(cam), free(share), free(alpha);
    return st;
}
