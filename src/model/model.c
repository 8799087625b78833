/* Fitting a model: preprocessing, a held-out calibration split, autoencoder pre-training, the
 * centre, the objective, the latent Gaussian and the calibration scores; then scoring. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/stats.h"
#include "../data/data.h"
#include "checkpoint.h"
#include "model.h"
#include "train.h"

static const char *const THRESHOLD_NAMES[] = {"gaussian", "quantile", "mahalanobis", "mahalanobis-quantile", "radius"};
static const char *const HYBRID_NAMES[] = {"sum", "distance", "reconstruction"};

const char *svdd_threshold_name(svdd_threshold_kind k) {
    return (int)k >= 0 && (int)k <= SVDD_THRESHOLD_RADIUS ? THRESHOLD_NAMES[k] : NULL;
}

svdd_status svdd_threshold_parse(const char *name, svdd_threshold_kind *k, svdd_error *err) {
    for (int i = 0; i <= SVDD_THRESHOLD_RADIUS; i++)
        if (name && strcmp(name, THRESHOLD_NAMES[i]) == 0) {
            *k = (svdd_threshold_kind)i;
            return SVDD_OK;
        }
    return svdd__fail(err, SVDD_E_INVALID,
                      "unknown threshold '%s' (gaussian, quantile, mahalanobis, mahalanobis-quantile or radius)",
                      name ? name : "");
}

const char *svdd_hybrid_score_name(svdd_hybrid_score s) {
    return (int)s >= 0 && (int)s <= SVDD_HYBRID_SCORE_RECON ? HYBRID_NAMES[s] : NULL;
}

svdd_status svdd_hybrid_score_parse(const char *name, svdd_hybrid_score *s, svdd_error *err) {
    for (int i = 0; i <= SVDD_HYBRID_SCORE_RECON; i++)
        if (name && strcmp(name, HYBRID_NAMES[i]) == 0) {
            *s = (svdd_hybrid_score)i;
            return SVDD_OK;
        }
    return svdd__fail(err, SVDD_E_INVALID, "unknown hybrid score '%s' (sum, distance or reconstruction)", name ? name : "");
}

svdd_fit_options svdd_fit_defaults(void) {
    svdd_fit_options o;
    memset(&o, 0, sizeof o);
    o.objective = svdd_objective_defaults();
    o.hybrid_score = SVDD_HYBRID_SCORE_SUM;
    o.ae = svdd_train_defaults();
    o.ae.epochs = 150;
    o.ae.weight_decay = 0.5e-3;
    o.ae.milestones[0] = 50;
    o.ae.n_milestones = 1;
    o.svdd = svdd_train_defaults();
    o.svdd.epochs = 150;
    o.svdd.milestones[0] = 50;
    o.svdd.n_milestones = 1;
    o.center_eps = 0.1;
    o.calibration_fraction = 0.1;
    o.threshold = SVDD_THRESHOLD_GAUSSIAN;
    o.target_fpr = 0.05;
    o.seed = 0;
    o.threads = 1;
    o.normal_class = -1;
    return o;
}

svdd_model *svdd__model_new(void) { return calloc(1, sizeof(svdd_model)); }

int svdd__model_keeps_mean_act(const svdd_net *net, int i) {
    const svdd__layer *L = &net->enc.layers[i];
    return L->kind == SVDD__LEAKY_RELU && L->out_h * L->out_w > 1;
}

svdd_status svdd__model_fit_mean_act(svdd_model *m, const svdd__images *im, svdd_error *err) {
    svdd_net *net = m->net;
    const size_t n = im->n;
    const int nl = net->enc.n;
    m->mean_act = calloc((size_t)nl, sizeof(float *));
    double **acc = calloc((size_t)nl, sizeof(double *));
    svdd_status st = SVDD_OK;
    if (!m->mean_act || !acc) st = svdd__fail(err, SVDD_E_NOMEM, "out of memory");
    for (int i = 0; i < nl && st == SVDD_OK; i++) {
        if (!svdd__model_keeps_mean_act(net, i)) continue;
        const svdd__layer *L = &net->enc.layers[i];
        size_t sz = (size_t)L->out_c * L->out_h * L->out_w;
        m->mean_act[i] = malloc(sz * sizeof(float));
        acc[i] = calloc(sz, sizeof(double));
        if (!m->mean_act[i] || !acc[i]) st = svdd__fail(err, SVDD_E_NOMEM, "out of memory");
    }
    const int EB = SVDD__IMAGES_BLOCK;
    if (st == SVDD_OK) st = svdd__net_reserve(net, EB, err);
    svdd__images_reader r = {im, NULL};
    if (st == SVDD_OK) st = svdd__images_reader_open(&r, im, err);
    for (size_t b0 = 0; b0 < n && st == SVDD_OK; b0 += (size_t)EB) {
        int B = (int)(n - b0 < (size_t)EB ? n - b0 : (size_t)EB);
        const float *x = svdd__images_read(&r, b0, (size_t)B, &st, err);
        if (!x) break;
        svdd__stack_forward(net, &net->enc, x, B, 0);
        for (int i = 0; i < nl; i++) {
            if (!acc[i]) continue;
            const svdd__layer *L = &net->enc.layers[i];
            size_t sz = (size_t)L->out_c * L->out_h * L->out_w;
            for (int b = 0; b < B; b++)
                for (size_t q = 0; q < sz; q++) acc[i][q] += L->out[(size_t)b * sz + q];
        }
    }
    for (int i = 0; i < nl && acc; i++) {
        if (acc[i] && st == SVDD_OK) {
            const svdd__layer *L = &net->enc.layers[i];
            size_t sz = (size_t)L->out_c * L->out_h * L->out_w;
            for (size_t q = 0; q < sz; q++) m->mean_act[i][q] = (float)(acc[i][q] / (double)n);
        }
        if (acc) free(acc[i]);
    }
    free(acc);
    svdd__images_reader_close(&r);
    return st;
}

void svdd_model_free(svdd_model *m) {
    if (!m) return;
    if (m->mean_act && m->net)
        for (int i = 0; i < m->net->enc.n; i++) free(m->mean_act[i]);
    free(m->mean_act);
    free(m->input_mean), free(m->excess_thr);
    svdd_net_free(m->net);
    free(m->center);
    free(m->cal_dist);
    free(m->cal_recon);
    free(m->cal_maha);
    svdd__gaussian_free(&m->gauss);
    free(m);
}

svdd_net *svdd_model_net(svdd_model *m) { return m ? m->net : NULL; }

static int uses_recon(const svdd_model *m) {
    return m->objective.method == SVDD_METHOD_HYBRID && m->hybrid_score != SVDD_HYBRID_SCORE_DISTANCE;
}

double svdd__model_base_score(const svdd_model *m, double dist, double recon) {
    switch (m->objective.method) {
    case SVDD_METHOD_SOFT_BOUNDARY: return dist - m->radius * m->radius;
    case SVDD_METHOD_HYBRID:
        if (m->hybrid_score == SVDD_HYBRID_SCORE_DISTANCE) return dist;
        if (m->hybrid_score == SVDD_HYBRID_SCORE_RECON) return recon;
        return (dist - m->dist_mean) / m->dist_std + (recon - m->recon_mean) / m->recon_std;
    case SVDD_METHOD_ONE_CLASS: break;
    }
    return dist;
}

static int is_mahalanobis(svdd_threshold_kind k) {
    return k == SVDD_THRESHOLD_MAHALANOBIS || k == SVDD_THRESHOLD_MAHALANOBIS_QUANTILE;
}

svdd_status svdd_model_set_threshold(svdd_model *m, svdd_threshold_kind kind, double fpr, svdd_error *err) {
    if (!m) return svdd__fail(err, SVDD_E_INVALID, "svdd_model_set_threshold: NULL model");
    if (!(fpr > 0 && fpr < 1)) return svdd__fail(err, SVDD_E_INVALID, "target false-positive rate must be in (0, 1) (got %g)", fpr);
    if (kind == SVDD_THRESHOLD_RADIUS && m->objective.method != SVDD_METHOD_SOFT_BOUNDARY)
        return svdd__fail(err, SVDD_E_INVALID, "the radius threshold needs a soft-boundary model (this one is %s)",
                          svdd_method_name(m->objective.method));
    if ((int)kind < 0 || (int)kind > SVDD_THRESHOLD_RADIUS) return svdd__fail(err, SVDD_E_INVALID, "unknown threshold kind");
    if (m->n_cal < 2 && (kind == SVDD_THRESHOLD_GAUSSIAN || kind == SVDD_THRESHOLD_QUANTILE ||
                         kind == SVDD_THRESHOLD_MAHALANOBIS_QUANTILE))
        return svdd__fail(err, SVDD_E_INVALID, "the %s threshold needs held-out calibration images (calibration fraction > 0)",
                          svdd_threshold_name(kind));
    double t = 0;
    if (kind == SVDD_THRESHOLD_RADIUS) {
        t = 0; /* base score d - R^2 > 0 */
    } else if (kind == SVDD_THRESHOLD_MAHALANOBIS) {
        t = svdd__chi2_quantile(1 - fpr, m->gauss.dim);
    } else if (kind == SVDD_THRESHOLD_MAHALANOBIS_QUANTILE) {
        t = svdd__sample_quantile(m->cal_maha, m->n_cal, 1 - fpr);
    } else {
        float *s = malloc(m->n_cal * sizeof(float));
        if (!s) return svdd__fail(err, SVDD_E_NOMEM, "out of memory");
        for (size_t i = 0; i < m->n_cal; i++)
            s[i] = (float)svdd__model_base_score(m, m->cal_dist[i], m->cal_recon ? m->cal_recon[i] : 0);
        if (kind == SVDD_THRESHOLD_QUANTILE) {
            t = svdd__sample_quantile(s, m->n_cal, 1 - fpr);
        } else {
            double mean, std;
            svdd__mean_std(s, m->n_cal, &mean, &std);
            t = mean + svdd__normal_quantile(1 - fpr) * std;
        }
        free(s);
    }
    if (!isfinite(t)) return svdd__fail(err, SVDD_E_NUMERIC, "the %s threshold is not finite", svdd_threshold_name(kind));
    m->threshold_kind = kind;
    m->target_fpr = fpr;
    m->threshold = t;
    return SVDD_OK;
}

svdd_status svdd_model_set_hybrid_score(svdd_model *m, svdd_hybrid_score score, svdd_error *err) {
    if (!m) return svdd__fail(err, SVDD_E_INVALID, "svdd_model_set_hybrid_score: NULL model");
    if (m->objective.method != SVDD_METHOD_HYBRID)
        return svdd__fail(err, SVDD_E_INVALID, "only a hybrid model has a choice of scores (this one is %s)",
                          svdd_method_name(m->objective.method));
    if ((int)score < 0 || (int)score > SVDD_HYBRID_SCORE_RECON) return svdd__fail(err, SVDD_E_INVALID, "unknown hybrid score");
    const svdd_hybrid_score old = m->hybrid_score;
    m->hybrid_score = score;
    svdd_status st = svdd_model_set_threshold(m, m->threshold_kind, m->target_fpr, err);
    if (st != SVDD_OK) m->hybrid_score = old;
    return st;
}

/* Network input shape must match the data set's images. */
static svdd_status check_shape(const svdd_net *net, const svdd_dataset *ds, svdd_error *err) {
    int c, h, w;
    svdd_net_input_shape(net, &c, &h, &w);
    if (ds->c != c || ds->h != h || ds->w != w)
        return svdd__fail(err, SVDD_E_INVALID, "images are %dx%dx%d but the network %s takes %dx%dx%d", ds->c, ds->h, ds->w,
                          net->name, c, h, w);
    return SVDD_OK;
}

static const char *default_spec_name(const svdd_dataset *ds) {
    if (ds->c == 1 && ds->h == 28 && ds->w == 28) return "mnist-lenet";
    if (ds->c == 3 && ds->h == 32 && ds->w == 32) return "cifar10-lenet";
    return NULL;
}

svdd_status svdd_model_fit(svdd_model **out, const svdd_dataset *normal, const svdd_fit_options *opt, svdd_error *err) {
    if (!out || !normal || !opt) return svdd__fail(err, SVDD_E_INVALID, "svdd_model_fit: NULL argument");
    *out = NULL;
    if (normal->n < 4) return svdd__fail(err, SVDD_E_INVALID, "need at least 4 normal training images (got %zu)", normal->n);
    if (!(opt->calibration_fraction >= 0 && opt->calibration_fraction < 0.9))
        return svdd__fail(err, SVDD_E_INVALID, "calibration fraction must be in [0, 0.9) (got %g)", opt->calibration_fraction);
    if (!(opt->center_eps >= 0)) return svdd__fail(err, SVDD_E_INVALID, "centre eps must be >= 0");
    const char *spec = opt->spec, *spec_name = opt->spec_name;
    if (!spec) {
        spec_name = default_spec_name(normal);
        if (!spec_name)
            return svdd__fail(err, SVDD_E_INVALID,
                              "no built-in network for %dx%dx%d images: give a network spec (built-in: 1x28x28, 3x32x32)",
                              normal->c, normal->h, normal->w);
        spec = svdd_spec_builtin(spec_name);
    }
    svdd_model *m = svdd__model_new();
    if (!m) return svdd__fail(err, SVDD_E_NOMEM, "out of memory");
    svdd_status st;
    float *dist = NULL, *recon = NULL, *lat = NULL;
    uint32_t *idx = NULL;
    svdd__fit_ckpt fc;
    memset(&fc, 0, sizeof fc);
    m->objective = opt->objective;
    m->hybrid_score = opt->hybrid_score;
    m->seed = opt->seed;
    m->fit = *opt;
    m->fit.spec = NULL, m->fit.spec_name = NULL, m->fit.dataset = NULL, m->fit.pretrained_cache = NULL;
    m->fit.checkpoint_path = m->fit.resume_path = NULL, m->fit.log = NULL, m->fit.log_user = NULL;
    m->fit.ae.on_epoch = m->fit.svdd.on_epoch = NULL;
    m->fit.ae.log = m->fit.svdd.log = NULL;
    m->fit.ae.on_epoch_user = m->fit.svdd.on_epoch_user = m->fit.ae.log_user = m->fit.svdd.log_user = NULL;
    m->normal_class = opt->normal_class;
    snprintf(m->dataset, sizeof m->dataset, "%s", opt->dataset ? opt->dataset : "");
    snprintf(m->spec_name, sizeof m->spec_name, "%s", spec_name ? spec_name : "custom");

    st = svdd_net_create(&m->net, spec, m->spec_name, opt->seed, err);
    if (st != SVDD_OK) goto fail;
    if ((st = check_shape(m->net, normal, err)) != SVDD_OK) goto fail;
    if (opt->objective.method == SVDD_METHOD_HYBRID && !m->net->dec.n) {
        st = svdd__fail(err, SVDD_E_INVALID, "the hybrid method needs a network with a decoder");
        goto fail;
    }
    /* min-max fitted on all normal training images, as the reference does */
    if ((st = svdd_preprocess_fit(&m->pp, normal, err)) != SVDD_OK) goto fail;

    /* the calibration split: a seeded shuffle, the first part held out */
    const size_t n = normal->n;
    idx = malloc(n * sizeof *idx);
    if (!idx) {
        st = svdd__fail(err, SVDD_E_NOMEM, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < n; i++) idx[i] = (uint32_t)i;
    svdd__rng rng;
    svdd__rng_seed(&rng, opt->seed, 0xca1);
    svdd__rng_shuffle(&rng, idx, n);
    size_t n_cal = (size_t)ceil(opt->calibration_fraction * (double)n);
    if (opt->calibration_fraction > 0 && n_cal < 2) n_cal = 2;
    const size_t n_tr = n - n_cal;
    if (n_tr < 2) {
        st = svdd__fail(err, SVDD_E_INVALID, "too few training images left after the calibration split");
        goto fail;
    }
    /* the images are preprocessed batch by batch from their pixels whenever a pass needs them */
    const svdd__images tr = svdd__images_of_rows(normal, idx + n_cal, n_tr, &m->pp, opt->threads);
    m->n_train = n_tr;
    m->n_cal = n_cal;

    svdd_train_options ae = opt->ae, so = opt->svdd;
    ae.threads = so.threads = opt->threads;
    ae.seed = opt->seed;
    so.seed = opt->seed + 1;
    /* a resumed run continues inside the phase its checkpoint was written in */
    if ((st = svdd__fit_ckpt_begin(&fc, m->net, opt, &tr, err)) != SVDD_OK) goto fail;
    const int resume_objective = svdd__fit_ckpt_resumes(&fc, SVDD__PHASE_OBJECTIVE);
    if (m->net->dec.n && ae.epochs > 0 && !resume_objective) {
        /* the cache's notes (loaded, unusable, not written) are the fit's to report */
        if (!ae.log) ae.log = opt->log, ae.log_user = opt->log_user;
        int cached = 0;
        if ((st = svdd__pretrain_cached(m->net, &tr, &ae, opt->pretrained_cache,
                                        svdd__fit_ckpt_hook(&fc, SVDD__PHASE_PRETRAIN, NULL), &cached, err)) != SVDD_OK)
            goto fail;
        /* the decoder's activations, touched by every step, are not needed again */
        svdd__net_release(m->net);
    }
    const int L = svdd_net_latent_dim(m->net);
    m->center = malloc((size_t)L * sizeof(float));
    if (!m->center) {
        st = svdd__fail(err, SVDD_E_NOMEM, "out of memory");
        goto fail;
    }
    if (resume_objective)
        memcpy(m->center, fc.resume.center, (size_t)L * sizeof(float));
    else if ((st = svdd__center_init(m->net, &tr, opt->center_eps, m->center, err)) != SVDD_OK)
        goto fail;
    m->radius = resume_objective ? fc.resume.pos.radius : 0;
    if ((st = svdd__deep_svdd_train_hooked(m->net, &tr, m->center, &opt->objective, &so, &m->radius,
                                           svdd__fit_ckpt_hook(&fc, SVDD__PHASE_OBJECTIVE, m->center), err)) != SVDD_OK)
        goto fail;
    /* the passes below take smaller batches, and no gradient buffer of training size */
    svdd__net_release(m->net);

    /* statistics of the normal training images: latent Gaussian and hybrid standardisation */
    dist = svdd__alloc(n_tr, sizeof(float));
    recon = m->net->dec.n ? svdd__alloc(n_tr, sizeof(float)) : NULL;
    lat = svdd__alloc(n_tr, (size_t)L * sizeof(float));
    if (!dist || !lat || (m->net->dec.n && !recon)) {
        st = svdd__fail(err, SVDD_E_NOMEM, "out of memory");
        goto fail;
    }
    if ((st = svdd__distances(m->net, &tr, m->center, dist, recon, lat, err)) != SVDD_OK) goto fail;
    if ((st = svdd__gaussian_fit(&m->gauss, lat, n_tr, L, err)) != SVDD_OK) goto fail;
    if ((st = svdd__model_fit_mean_act(m, &tr, err)) != SVDD_OK) goto fail;
    svdd__mean_std(dist, n_tr, &m->dist_mean, &m->dist_std);
    if (recon) svdd__mean_std(recon, n_tr, &m->recon_mean, &m->recon_std);
    /* a zero spread would divide by zero; the term then carries no information anyway */
    if (!(m->dist_std > 0)) m->dist_std = 1;
    if (!(m->recon_std > 0)) m->recon_std = 1;
    /* after the Gaussian and the standardisation: the explained scores use them (in batches
     * smaller than the passes above, with gradients: their buffers replace those) */
    svdd__net_release(m->net);
    if ((st = svdd__explain_fit(m, &tr, err)) != SVDD_OK) goto fail;
    svdd__net_release(m->net);

    free(dist), free(recon), free(lat);
    dist = recon = lat = NULL;

    /* calibration scores */
    if (n_cal) {
        const svdd__images cal = svdd__images_of_rows(normal, idx, n_cal, &m->pp, opt->threads);
        m->cal_dist = svdd__alloc(n_cal, sizeof(float));
        m->cal_maha = svdd__alloc(n_cal, sizeof(float));
        m->cal_recon = m->net->dec.n ? svdd__alloc(n_cal, sizeof(float)) : NULL;
        float *lcal = svdd__alloc(n_cal, (size_t)L * sizeof(float));
        if (!m->cal_dist || !m->cal_maha || !lcal || (m->net->dec.n && !m->cal_recon)) {
            free(lcal);
            st = svdd__fail(err, SVDD_E_NOMEM, "out of memory");
            goto fail;
        }
        st = svdd__distances(m->net, &cal, m->center, m->cal_dist, m->cal_recon, lcal, err);
        if (st == SVDD_OK) svdd__gaussian_mahalanobis(&m->gauss, lcal, n_cal, m->cal_maha);
        free(lcal);
        if (st != SVDD_OK) goto fail;
    }
    if ((st = svdd_model_set_threshold(m, opt->threshold, opt->target_fpr, err)) != SVDD_OK) goto fail;
    free(dist), free(recon), free(lat), free(idx);
    svdd__fit_ckpt_end(&fc);
    *out = m;
    return SVDD_OK;
fail:
    st = svdd__fit_ckpt_explain(&fc, st, err);
    free(dist), free(recon), free(lat), free(idx);
    svdd__fit_ckpt_end(&fc);
    svdd_model_free(m);
    return st;
}

/* Images preprocessed and encoded at a time by the functions below, so that their memory stays
 * bounded for any count. */
#define SCORE_BLOCK 1000

/* Preprocess and encode images in blocks, so memory stays bounded for any count: their squared
 * distances to the centre, reconstruction errors (recon not NULL) and codes (latent not NULL). */
static svdd_status parts_block(svdd_model *m, const svdd_dataset *ds, size_t first, size_t count, float *dist,
                               float *recon, float *latent, svdd_error *err) {
    const size_t BLOCK = SCORE_BLOCK;
    const int L = svdd_net_latent_dim(m->net);
    if (first + count > UINT32_MAX)
        return svdd__fail(err, SVDD_E_INVALID, "images %zu..%zu: too many to score", first, first + count);
    /* rows of the data set, preprocessed a batch at a time on the network's threads */
    uint32_t *rows = malloc(BLOCK * sizeof(uint32_t));
    if (!rows) return svdd__fail(err, SVDD_E_NOMEM, "out of memory scoring");
    svdd_status st = SVDD_OK;
    for (size_t b0 = 0; b0 < count && st == SVDD_OK; b0 += BLOCK) {
        const size_t nb = count - b0 < BLOCK ? count - b0 : BLOCK;
        const uint32_t r0 = (uint32_t)(first + b0);
        /* cppcheck-suppress knownConditionTrueFalse ; nb is 1..BLOCK here, not 0 (cppcheck 2.10) */
        for (uint32_t i = 0; i < (uint32_t)nb; i++) rows[i] = r0 + i;
        const svdd__images im = svdd__images_of_rows(ds, rows, nb, &m->pp, m->net->threads);
        st = svdd__distances(m->net, &im, m->center, dist + b0, recon ? recon + b0 : NULL,
                             latent ? latent + b0 * (size_t)L : NULL, err);
    }
    free(rows);
    return st;
}

/* Scores and decisions from the parts, under the model's threshold kind and hybrid score. */
static void score_parts(const svdd_model *m, size_t n, const float *dist, const float *recon, const float *latent,
                        float *scores, uint8_t *flags, float *maha) {
    if (is_mahalanobis(m->threshold_kind)) svdd__gaussian_mahalanobis(&m->gauss, latent, n, maha);
    for (size_t i = 0; i < n; i++) {
        const double s =
            is_mahalanobis(m->threshold_kind) ? maha[i] : svdd__model_base_score(m, dist[i], recon ? recon[i] : 0);
        if (scores) scores[i] = (float)s;
        if (flags) flags[i] = s > m->threshold;
    }
}

/* Score images in blocks: the parts the model's score needs, then the scores. */
static svdd_status score_block(svdd_model *m, const svdd_dataset *ds, size_t first, size_t count, float *scores,
                               uint8_t *flags, svdd_error *err) {
    const size_t BLOCK = SCORE_BLOCK;
    const int L = svdd_net_latent_dim(m->net), maha = is_mahalanobis(m->threshold_kind);
    float *dist = svdd__alloc(BLOCK, sizeof(float)), *recon = uses_recon(m) ? svdd__alloc(BLOCK, sizeof(float)) : NULL;
    float *lat = maha ? svdd__alloc(BLOCK, (size_t)L * sizeof(float)) : NULL;
    float *md = maha ? svdd__alloc(BLOCK, sizeof(float)) : NULL;
    svdd_status st = SVDD_OK;
    if (!dist || (uses_recon(m) && !recon) || (maha && (!lat || !md))) st = svdd__fail(err, SVDD_E_NOMEM, "out of memory scoring");
    for (size_t b0 = 0; b0 < count && st == SVDD_OK; b0 += BLOCK) {
        const size_t nb = count - b0 < BLOCK ? count - b0 : BLOCK;
        st = parts_block(m, ds, first + b0, nb, dist, recon, lat, err);
        if (st == SVDD_OK) score_parts(m, nb, dist, recon, lat, scores ? scores + b0 : NULL, flags ? flags + b0 : NULL, md);
    }
    free(dist), free(recon), free(lat), free(md);
    return st;
}

static svdd_status check_range(svdd_model *m, const svdd_dataset *ds, size_t first, size_t count, svdd_error *err) {
    if (!m || !ds) return svdd__fail(err, SVDD_E_INVALID, "NULL model or data set");
    if (first > ds->n || count > ds->n - first)
        return svdd__fail(err, SVDD_E_INVALID, "images %zu..%zu are outside the data set of %zu", first, first + count, ds->n);
    return check_shape(m->net, ds, err);
}

svdd_status svdd_model_score(svdd_model *m, const svdd_dataset *ds, size_t first, size_t count, float *scores,
                             uint8_t *anomalous, svdd_error *err) {
    svdd_status st = check_range(m, ds, first, count, err);
    if (st != SVDD_OK) return st;
    return score_block(m, ds, first, count, scores, anomalous, err);
}

svdd_status svdd_model_parts(svdd_model *m, const svdd_dataset *ds, size_t first, size_t count, float *dist,
                             float *recon, float *latent, svdd_error *err) {
    svdd_status st = check_range(m, ds, first, count, err);
    if (st != SVDD_OK) return st;
    if (!dist) return svdd__fail(err, SVDD_E_INVALID, "svdd_model_parts: NULL distances");
    if (recon && !m->net->dec.n) return svdd__fail(err, SVDD_E_INVALID, "%s: reconstruction needs a decoder", m->net->name);
    return parts_block(m, ds, first, count, dist, recon, latent, err);
}

svdd_status svdd_model_score_parts(const svdd_model *m, size_t count, const float *dist, const float *recon,
                                   const float *latent, float *scores, uint8_t *anomalous, svdd_error *err) {
    if (!m || (count && !dist)) return svdd__fail(err, SVDD_E_INVALID, "svdd_model_score_parts: NULL argument");
    if (uses_recon(m) && count && !recon)
        return svdd__fail(err, SVDD_E_INVALID, "svdd_model_score_parts: the hybrid score needs the reconstruction errors");
    const int maha = is_mahalanobis(m->threshold_kind);
    if (maha && count && !latent)
        return svdd__fail(err, SVDD_E_INVALID, "svdd_model_score_parts: the Mahalanobis threshold needs the codes");
    float *md = maha ? svdd__alloc(count ? count : 1, sizeof(float)) : NULL;
    if (maha && !md) return svdd__fail(err, SVDD_E_NOMEM, "out of memory scoring");
    score_parts(m, count, dist, recon, latent, scores, anomalous, md);
    free(md);
    svdd__ok(err);
    return SVDD_OK;
}

svdd_status svdd_model_latent(svdd_model *m, const svdd_dataset *ds, size_t first, size_t count, float *latent,
                              svdd_error *err) {
    svdd_status st = check_range(m, ds, first, count, err);
    if (st != SVDD_OK) return st;
    if (!latent) return svdd__fail(err, SVDD_E_INVALID, "svdd_model_latent: NULL output");
    /* the distances come with the codes: a block's worth of room for them */
    float *dist = malloc(SCORE_BLOCK * sizeof(float));
    if (!dist) return svdd__fail(err, SVDD_E_NOMEM, "out of memory encoding %zu images", count);
    const size_t L = (size_t)svdd_net_latent_dim(m->net);
    for (size_t b0 = 0; b0 < count && st == SVDD_OK; b0 += SCORE_BLOCK) {
        const size_t nb = count - b0 < SCORE_BLOCK ? count - b0 : SCORE_BLOCK;
        st = parts_block(m, ds, first + b0, nb, dist, NULL, latent + b0 * L, err);
    }
    free(dist);
    return st;
}

void svdd_model_get_info(const svdd_model *m, svdd_model_info *info) {
    memset(info, 0, sizeof *info);
    if (!m) return;
    info->method = m->objective.method;
    info->threshold_kind = m->threshold_kind;
    info->hybrid_score = m->hybrid_score;
    info->threshold = m->threshold;
    info->target_fpr = m->target_fpr;
    info->radius = m->radius;
    info->latent_dim = svdd_net_latent_dim(m->net);
    svdd_net_input_shape(m->net, &info->channels, &info->height, &info->width);
    info->n_train = m->n_train;
    info->n_calibration = m->n_cal;
    info->shrinkage = m->gauss.shrinkage;
    info->spec_name = m->spec_name;
    info->dataset = m->dataset;
    info->normal_class = m->normal_class;
    info->seed = m->seed;
}
