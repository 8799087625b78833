/* Model files: safetensors with svdd's metadata (docs/model-format.md).
 *
 * Numbers in the metadata are written with %.17g so that a double survives the round trip
 * exactly; they are read back with a strict parser (the whole string, finite). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../io/safetensors.h"
#include "model.h"
#include "net_store.h"

#define MODEL_FORMAT "svdd-model"
#define MODEL_FORMAT_VERSION 1

/* ---- writing ---- */

typedef struct meta_writer {
    svdd__st_writer *w;
    svdd_error *err;
    svdd_status st;
} meta_writer;

static void put(meta_writer *mw, const char *key, const char *value) {
    if (mw->st == SVDD_OK) mw->st = svdd__st_writer_meta(mw->w, key, value, mw->err);
}

static void put_num(meta_writer *mw, const char *key, double v) {
    char buf[40];
    snprintf(buf, sizeof buf, "%.17g", v);
    put(mw, key, buf);
}

static void put_train(meta_writer *mw, const char *prefix, const svdd_train_options *o) {
    char key[64], buf[128];
    snprintf(key, sizeof key, "%s.epochs", prefix), put_num(mw, key, o->epochs);
    snprintf(key, sizeof key, "%s.batch_size", prefix), put_num(mw, key, o->batch_size);
    snprintf(key, sizeof key, "%s.lr", prefix), put_num(mw, key, o->lr);
    snprintf(key, sizeof key, "%s.weight_decay", prefix), put_num(mw, key, o->weight_decay);
    snprintf(key, sizeof key, "%s.amsgrad", prefix), put_num(mw, key, o->amsgrad);
    snprintf(key, sizeof key, "%s.gamma", prefix), put_num(mw, key, o->gamma);
    /* only when on, so that a model trained without clipping is the file it always was */
    if (o->clip_grad_norm > 0) snprintf(key, sizeof key, "%s.clip_grad_norm", prefix), put_num(mw, key, o->clip_grad_norm);
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < o->n_milestones && i < 8; i++)
        used += (size_t)snprintf(buf + used, sizeof buf - used, "%s%d", i ? "," : "", o->milestones[i]);
    snprintf(key, sizeof key, "%s.milestones", prefix), put(mw, key, buf);
}

svdd_status svdd_model_save(const svdd_model *m, const char *path, svdd_error *err) {
    if (!m || !path) return svdd__fail(err, SVDD_E_INVALID, "svdd_model_save: NULL argument");
    svdd__st_writer *w = NULL;
    svdd_status st = svdd__st_writer_create(&w, err);
    if (st != SVDD_OK) return st;
    meta_writer mw = {w, err, SVDD_OK};
    const svdd_net *net = m->net;
    const int L = svdd_net_latent_dim(net);
    mw.st = svdd__net_write_tensors(w, net, err);
    int shape1[1] = {L};
    if (mw.st == SVDD_OK) mw.st = svdd__st_writer_add_f32(w, "svdd.center", 1, shape1, m->center, err);
    int64_t gshape[2] = {L, L};
    if (mw.st == SVDD_OK) mw.st = svdd__st_writer_add(w, "svdd.gaussian.mean", SVDD__ST_F64, 1, gshape, m->gauss.mean, err);
    if (mw.st == SVDD_OK) mw.st = svdd__st_writer_add(w, "svdd.gaussian.cholesky", SVDD__ST_F64, 2, gshape, m->gauss.chol, err);
    for (int i = 0; i < net->enc.n && mw.st == SVDD_OK; i++) {
        if (!m->mean_act || !m->mean_act[i]) continue;
        const svdd__layer *ly = &net->enc.layers[i];
        int ashape[3] = {ly->out_c, ly->out_h, ly->out_w};
        char name[96];
        snprintf(name, sizeof name, "svdd.mean_activation.encoder.%s", ly->name);
        mw.st = svdd__st_writer_add_f32(w, name, 3, ashape, m->mean_act[i], err);
    }
    if (m->input_mean && m->excess_thr && m->n_excess && mw.st == SVDD_OK) {
        int ishape[3] = {net->enc.in_c, net->enc.in_h, net->enc.in_w}, tshape[3] = {m->n_excess, net->enc.in_h, net->enc.in_w};
        mw.st = svdd__st_writer_add_f32(w, "svdd.explain.input_mean", 3, ishape, m->input_mean, err);
        if (mw.st == SVDD_OK) mw.st = svdd__st_writer_add_f32(w, "svdd.explain.excess_threshold", 3, tshape, m->excess_thr, err);
    }
    int cshape[1] = {(int)m->n_cal};
    if (m->n_cal) {
        if (mw.st == SVDD_OK) mw.st = svdd__st_writer_add_f32(w, "svdd.calibration.distance", 1, cshape, m->cal_dist, err);
        if (mw.st == SVDD_OK) mw.st = svdd__st_writer_add_f32(w, "svdd.calibration.mahalanobis", 1, cshape, m->cal_maha, err);
        if (m->cal_recon && mw.st == SVDD_OK)
            mw.st = svdd__st_writer_add_f32(w, "svdd.calibration.reconstruction", 1, cshape, m->cal_recon, err);
    }
    put(&mw, "format", MODEL_FORMAT);
    put_num(&mw, "format_version", MODEL_FORMAT_VERSION);
    put(&mw, "library_version", svdd_version());
    put(&mw, "spec", net->spec);
    put(&mw, "spec_name", m->spec_name);
    put(&mw, "method", svdd_method_name(m->objective.method));
    put_num(&mw, "nu", m->objective.nu);
    put_num(&mw, "warmup_epochs", m->objective.warmup_epochs);
    put_num(&mw, "mu1", m->objective.mu1);
    put_num(&mw, "mu2", m->objective.mu2);
    put(&mw, "hybrid_score", svdd_hybrid_score_name(m->hybrid_score));
    put_num(&mw, "preprocess.gcn_l1", m->pp.gcn_l1);
    put_num(&mw, "preprocess.min", m->pp.min);
    put_num(&mw, "preprocess.max", m->pp.max);
    put_num(&mw, "radius", m->radius);
    put_num(&mw, "dist_mean", m->dist_mean);
    put_num(&mw, "dist_std", m->dist_std);
    put_num(&mw, "recon_mean", m->recon_mean);
    put_num(&mw, "recon_std", m->recon_std);
    put_num(&mw, "gaussian.shrinkage", m->gauss.shrinkage);
    put(&mw, "threshold.kind", svdd_threshold_name(m->threshold_kind));
    put_num(&mw, "threshold.target_fpr", m->target_fpr);
    put_num(&mw, "threshold.value", m->threshold);
    put_num(&mw, "n_train", (double)m->n_train);
    put_num(&mw, "n_calibration", (double)m->n_cal);
    put(&mw, "dataset", m->dataset);
    put_num(&mw, "normal_class", m->normal_class);
    char seed[32];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)m->seed);
    put(&mw, "seed", seed);
    put_num(&mw, "center_eps", m->fit.center_eps);
    put_num(&mw, "calibration_fraction", m->fit.calibration_fraction);
    put_train(&mw, "train.ae", &m->fit.ae);
    put_train(&mw, "train.svdd", &m->fit.svdd);
    if (mw.st == SVDD_OK) mw.st = svdd__st_write_file(w, path, err);
    svdd__st_writer_free(w);
    return mw.st;
}

/* ---- reading ---- */

typedef struct reader {
    const svdd__st *st;
    const char *name;
    svdd_error *err;
    int hinted; /* the message already says what to do */
} reader;

static svdd_status get_str(reader *r, const char *key, const char **out) {
    *out = svdd__st_meta(r->st, key);
    if (!*out) return svdd__fail(r->err, SVDD_E_FORMAT, "%s: model metadata lacks '%s'", r->name, key);
    return SVDD_OK;
}

static svdd_status get_num(reader *r, const char *key, double lo, double hi, double *out) {
    const char *s;
    svdd_status st = get_str(r, key, &s);
    if (st != SVDD_OK) return st;
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < lo || v > hi)
        return svdd__fail(r->err, SVDD_E_FORMAT, "%s: model metadata '%s' is '%.40s', not a number in [%g, %g]", r->name, key, s,
                          lo, hi);
    *out = v;
    return SVDD_OK;
}

static svdd_status get_int(reader *r, const char *key, double lo, double hi, int *out) {
    double v = 0;
    svdd_status st = get_num(r, key, lo, hi, &v);
    if (st != SVDD_OK) return st;
    if (v != floor(v)) return svdd__fail(r->err, SVDD_E_FORMAT, "%s: model metadata '%s' must be a whole number", r->name, key);
    *out = (int)v;
    return SVDD_OK;
}

static svdd_status get_train(reader *r, const char *prefix, svdd_train_options *o) {
    char key[64];
    double v = 0;
    svdd_status st;
    *o = svdd_train_defaults();
#define NUM(field, lo, hi)                                                                                       \
    snprintf(key, sizeof key, "%s." #field, prefix);                                                             \
    if ((st = get_num(r, key, lo, hi, &v)) != SVDD_OK) return st;                                                \
    o->field = v;
    NUM(lr, 0, 10);
    NUM(weight_decay, 0, 1);
    NUM(gamma, 0, 1);
#undef NUM
    snprintf(key, sizeof key, "%s.clip_grad_norm", prefix);
    if (svdd__st_meta(r->st, key) && (st = get_num(r, key, 0, 1e30, &o->clip_grad_norm)) != SVDD_OK) return st;
    snprintf(key, sizeof key, "%s.epochs", prefix);
    if ((st = get_int(r, key, 0, 1e6, &o->epochs)) != SVDD_OK) return st;
    snprintf(key, sizeof key, "%s.batch_size", prefix);
    if ((st = get_int(r, key, 1, 65536, &o->batch_size)) != SVDD_OK) return st;
    snprintf(key, sizeof key, "%s.amsgrad", prefix);
    if ((st = get_int(r, key, 0, 1, &o->amsgrad)) != SVDD_OK) return st;
    const char *ms;
    snprintf(key, sizeof key, "%s.milestones", prefix);
    if ((st = get_str(r, key, &ms)) != SVDD_OK) return st;
    o->n_milestones = 0;
    while (*ms) {
        char *end;
        errno = 0;
        long m = strtol(ms, &end, 10);
        if (errno || end == ms || m < 0 || m > 1000000 || o->n_milestones == 8 || (*end && *end != ','))
            return svdd__fail(r->err, SVDD_E_FORMAT, "%s: model metadata '%s' is not a list of at most 8 epochs", r->name, key);
        o->milestones[o->n_milestones++] = (int)m;
        ms = *end ? end + 1 : end;
    }
    return SVDD_OK;
}

static svdd_status read_f64(reader *r, const char *name, double *dst, size_t n) {
    const svdd__st_tensor *t = svdd__st_find(r->st, name);
    if (!t) return svdd__fail(r->err, SVDD_E_FORMAT, "%s: tensor '%s' is missing", r->name, name);
    svdd_status st = svdd__st_copy(r->st, name, SVDD__ST_F64, dst, n, r->err);
    if (st != SVDD_OK) return st;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(dst[i])) return svdd__fail(r->err, SVDD_E_NUMERIC, "%s: tensor '%s' holds NaN or infinity", r->name, name);
    return SVDD_OK;
}

/* Whether the file holds network tensor t with exactly its shape; if not, what is wrong into msg
 * ("tensor 'x' is missing" or "tensor 'x' has shape [..] but the network spec ... needs [..]"). */
static int tensor_fits(const svdd__st *st, const svdd__tensor_info *t, char *msg, size_t size) {
    const svdd__st_tensor *ft = svdd__st_find(st, t->name);
    int same = ft && ft->ndim == t->ndim;
    for (int k = 0; same && k < t->ndim; k++) same = ft->shape[k] == (int64_t)t->shape[k];
    if (same) return 1;
    if (!ft) {
        snprintf(msg, size, "tensor '%s' is missing", t->name);
        return 0;
    }
    char have[96] = "[", want[96] = "[";
    for (int k = 0; k < ft->ndim && k < SVDD__ST_MAX_DIMS; k++)
        snprintf(have + strlen(have), sizeof have - strlen(have), "%s%lld", k ? ", " : "", (long long)ft->shape[k]);
    for (int k = 0; k < t->ndim && k < (int)(sizeof t->shape / sizeof t->shape[0]); k++)
        snprintf(want + strlen(want), sizeof want - strlen(want), "%s%d", k ? ", " : "", t->shape[k]);
    snprintf(msg, size, "tensor '%s' has shape %s] but the network spec stored in the model needs %s]", t->name, have, want);
    return 0;
}

/* The network is allocated and initialised (five float mirrors of its parameters) before its
 * tensors are read, and a spec may ask for up to 2^28 parameters: a file of a few hundred bytes
 * naming a large network would cost gigabytes before any tensor is found missing. So the spec's
 * parameter and statistics count is checked against the bytes of the file's tensors first. */
static svdd_status check_spec_fits(reader *r, const char *spec, const char *where) {
    svdd_net probe;
    memset(&probe, 0, sizeof probe);
    svdd_status st = svdd__spec_parse(&probe, spec, where, r->err);
    /* tensors never overlap inside the file, so their sizes add up to at most its length */
    size_t have = 0;
    for (int i = 0; i < svdd__st_count(r->st); i++) have += svdd__st_at(r->st, i)->nbytes;
    /* both counts are bounded by the spec's limits (2^28 parameters, 64 layers), far from overflow */
    const uint64_t need = ((uint64_t)probe.n_params + probe.n_state) * sizeof(float);
    if (st == SVDD_OK && need > have) {
        /* Most often the weights are simply another network's: name the first tensor the spec
         * wants that the file lacks or shapes otherwise, as the full check would. */
        char which[256] = "";
        for (int i = 0; i < svdd__net_tensor_count(&probe); i++) {
            svdd__tensor_info t;
            svdd__net_tensor(&probe, i, &t);
            if (!tensor_fits(r->st, &t, which, sizeof which)) break;
        }
        r->hinted = 1;
        st = svdd__fail(r->err, SVDD_E_FORMAT,
                        "%s: %s%s needs %zu parameters and %zu batch-norm statistics (%llu bytes) but the file's "
                        "tensors hold only %zu bytes: the weights are for another architecture (or the file was "
                        "damaged or edited); train the model again",
                        r->name, which, which[0] ? "; in all, the spec" : "the network spec stored in the model",
                        probe.n_params, probe.n_state, (unsigned long long)need, have);
    }
    free(probe.enc.layers);
    free(probe.dec.layers);
    return st;
}

/* Tensor `name` must hold exactly n values; checked before the buffer for them is allocated, so
 * that only the file's own bytes (never a size taken from the spec alone) bound the allocation. */
static svdd_status check_numel(reader *r, const char *name, size_t n) {
    const svdd__st_tensor *t = svdd__st_find(r->st, name);
    if (!t) return svdd__fail(r->err, SVDD_E_FORMAT, "%s: tensor '%s' is missing", r->name, name);
    if (t->numel != n)
        return svdd__fail(r->err, SVDD_E_FORMAT, "%s: tensor '%s' holds %zu values but this model needs %zu", r->name, name,
                          t->numel, n);
    return SVDD_OK;
}

/* Tensor `name` of the given shape into a new buffer *dst (freed with the model): its size is
 * checked against the file before the allocation, and its values must be finite. */
static svdd_status read_new_f32(reader *r, const char *name, float **dst, int ndim, const int *shape) {
    size_t n = 1;
    for (int k = 0; k < ndim; k++) n *= (size_t)shape[k];
    svdd_status st = check_numel(r, name, n);
    if (st != SVDD_OK) return st;
    if (!(*dst = malloc(n * sizeof(float)))) return svdd__fail(r->err, SVDD_E_NOMEM, "out of memory");
    if ((st = svdd__st_read_f32(r->st, name, *dst, n, ndim, shape, r->err)) != SVDD_OK) return st;
    return svdd__st_check_finite(r->st, name, r->err);
}

static svdd_status read_model(svdd_model *m, reader *r) {
    svdd_status st;
    const char *s;
    double v = 0;
    s = svdd__st_meta(r->st, "format");
    if (!s || strcmp(s, MODEL_FORMAT) != 0) {
        r->hinted = 1;
        return svdd__fail(r->err, SVDD_E_FORMAT,
                          "%s: a safetensors file but not an svdd model (metadata 'format' is '%.40s', not '%s'); "
                          "give a model written by svdd train",
                          r->name, s ? s : "", MODEL_FORMAT);
    }
    int version = 0;
    if ((st = get_int(r, "format_version", 0, 1e9, &version)) != SVDD_OK) return st;
    if (version != MODEL_FORMAT_VERSION)
        return svdd__fail(r->err, SVDD_E_UNSUPPORTED, "%s: model format version %d; this svdd (%s) reads version %d", r->name,
                          version, svdd_version(), MODEL_FORMAT_VERSION);
    const char *spec, *spec_name;
    if ((st = get_str(r, "spec", &spec)) != SVDD_OK) return st;
    if ((st = get_str(r, "spec_name", &spec_name)) != SVDD_OK) return st;
    snprintf(m->spec_name, sizeof m->spec_name, "%s", spec_name);
    char where[300];
    snprintf(where, sizeof where, "%s (network spec)", r->name);
    if ((st = check_spec_fits(r, spec, where)) != SVDD_OK) return st;
    if ((st = svdd_net_create(&m->net, spec, where, 0, r->err)) != SVDD_OK) return st;
    /* every network tensor, with its exact shape (said as a model for another architecture), then
     * their values */
    for (int i = 0; i < svdd__net_tensor_count(m->net); i++) {
        svdd__tensor_info t;
        svdd__net_tensor(m->net, i, &t);
        char what[256];
        if (!tensor_fits(r->st, &t, what, sizeof what)) {
            r->hinted = 1;
            return svdd__fail(r->err, SVDD_E_FORMAT,
                              "%s: %s: the weights are for another architecture (or the file was edited); train the "
                              "model again",
                              r->name, what);
        }
    }
    if ((st = svdd__net_read_tensors(m->net, r->st, r->err)) != SVDD_OK) return st;
    const int L = svdd_net_latent_dim(m->net);
    int shape1[1] = {L};
    m->center = malloc((size_t)L * sizeof(float));
    if (!m->center) return svdd__fail(r->err, SVDD_E_NOMEM, "out of memory");
    if ((st = svdd__st_read_f32(r->st, "svdd.center", m->center, (size_t)L, 1, shape1, r->err)) != SVDD_OK) return st;
    if ((st = svdd__st_check_finite(r->st, "svdd.center", r->err)) != SVDD_OK) return st;
    /* L comes from the spec (up to 65536): L*L doubles would be 32 GB */
    if ((st = check_numel(r, "svdd.gaussian.mean", (size_t)L)) != SVDD_OK) return st;
    if ((st = check_numel(r, "svdd.gaussian.cholesky", (size_t)L * L)) != SVDD_OK) return st;
    double *mean = malloc((size_t)L * sizeof(double)), *chol = malloc((size_t)L * L * sizeof(double));
    if (!mean || !chol) {
        free(mean), free(chol);
        return svdd__fail(r->err, SVDD_E_NOMEM, "out of memory");
    }
    st = read_f64(r, "svdd.gaussian.mean", mean, (size_t)L);
    if (st == SVDD_OK) st = read_f64(r, "svdd.gaussian.cholesky", chol, (size_t)L * L);
    if (st == SVDD_OK) {
        svdd_error inner;
        st = svdd__gaussian_set(&m->gauss, L, mean, chol, &inner);
        if (st != SVDD_OK) st = svdd__fail(r->err, st, "%s: latent Gaussian: %s", r->name, inner.message);
    }
    free(mean), free(chol);
    if (st != SVDD_OK) return st;
    if ((st = get_num(r, "gaussian.shrinkage", 0, 1, &m->gauss.shrinkage)) != SVDD_OK) return st;
    m->mean_act = calloc((size_t)m->net->enc.n, sizeof(float *));
    if (!m->mean_act) return svdd__fail(r->err, SVDD_E_NOMEM, "out of memory");
    for (int i = 0; i < m->net->enc.n; i++) {
        if (!svdd__model_keeps_mean_act(m->net, i)) continue;
        const svdd__layer *ly = &m->net->enc.layers[i];
        int ashape[3] = {ly->out_c, ly->out_h, ly->out_w};
        char name[96];
        snprintf(name, sizeof name, "svdd.mean_activation.encoder.%s", ly->name);
        if ((st = read_new_f32(r, name, &m->mean_act[i], 3, ashape)) != SVDD_OK) return st;
    }

    if ((st = get_str(r, "method", &s)) != SVDD_OK) return st;
    if (svdd_method_parse(s, &m->objective.method, NULL) != SVDD_OK)
        return svdd__fail(r->err, SVDD_E_FORMAT, "%s: unknown method '%.40s'", r->name, s);
    if ((st = get_num(r, "nu", 0, 1, &m->objective.nu)) != SVDD_OK) return st;
    if ((st = get_int(r, "warmup_epochs", 0, 1e6, &m->objective.warmup_epochs)) != SVDD_OK) return st;
    if ((st = get_num(r, "mu1", 0, 1e9, &m->objective.mu1)) != SVDD_OK) return st;
    if ((st = get_num(r, "mu2", 0, 1e9, &m->objective.mu2)) != SVDD_OK) return st;
    if ((st = get_str(r, "hybrid_score", &s)) != SVDD_OK) return st;
    if (svdd_hybrid_score_parse(s, &m->hybrid_score, NULL) != SVDD_OK)
        return svdd__fail(r->err, SVDD_E_FORMAT, "%s: unknown hybrid score '%.40s'", r->name, s);
    if (m->objective.method == SVDD_METHOD_HYBRID && !m->net->dec.n)
        return svdd__fail(r->err, SVDD_E_FORMAT, "%s: a hybrid model needs a decoder in its spec", r->name);
    if ((st = get_int(r, "preprocess.gcn_l1", 0, 1, &m->pp.gcn_l1)) != SVDD_OK) return st;
    if ((st = get_num(r, "preprocess.min", -1e30, 1e30, &m->pp.min)) != SVDD_OK) return st;
    if ((st = get_num(r, "preprocess.max", -1e30, 1e30, &m->pp.max)) != SVDD_OK) return st;
    if (!(m->pp.max > m->pp.min)) return svdd__fail(r->err, SVDD_E_FORMAT, "%s: preprocessing max must exceed min", r->name);
    if ((st = get_num(r, "radius", 0, 1e30, &m->radius)) != SVDD_OK) return st;
    if ((st = get_num(r, "dist_mean", -1e30, 1e30, &m->dist_mean)) != SVDD_OK) return st;
    if ((st = get_num(r, "dist_std", 1e-300, 1e30, &m->dist_std)) != SVDD_OK) return st;
    if ((st = get_num(r, "recon_mean", -1e30, 1e30, &m->recon_mean)) != SVDD_OK) return st;
    if ((st = get_num(r, "recon_std", 1e-300, 1e30, &m->recon_std)) != SVDD_OK) return st;
    if ((st = get_num(r, "n_train", 0, 1e12, &v)) != SVDD_OK) return st;
    m->n_train = (size_t)v;
    if ((st = get_num(r, "n_calibration", 0, 1e9, &v)) != SVDD_OK) return st;
    m->n_cal = (size_t)v;
    /* The count must match the stored scores before it sizes any allocation. */
    const svdd__st_tensor *cal = svdd__st_find(r->st, "svdd.calibration.distance");
    if (m->n_cal && (!cal || cal->numel != m->n_cal))
        return svdd__fail(r->err, SVDD_E_FORMAT,
                          "%s: metadata 'n_calibration' is %zu but tensor 'svdd.calibration.distance' %s%zu values", r->name,
                          m->n_cal, cal ? "holds " : "is missing: ", cal ? cal->numel : (size_t)0);
    if (m->n_cal) {
        int cshape[1] = {(int)m->n_cal};
        m->cal_dist = malloc(m->n_cal * sizeof(float));
        m->cal_maha = malloc(m->n_cal * sizeof(float));
        m->cal_recon = m->net->dec.n ? malloc(m->n_cal * sizeof(float)) : NULL;
        if (!m->cal_dist || !m->cal_maha || (m->net->dec.n && !m->cal_recon)) return svdd__fail(r->err, SVDD_E_NOMEM, "out of memory");
        const char *names[3] = {"svdd.calibration.distance", "svdd.calibration.mahalanobis", "svdd.calibration.reconstruction"};
        float *dst[3] = {m->cal_dist, m->cal_maha, m->cal_recon};
        for (int k = 0; k < 3; k++) {
            if (!dst[k]) continue;
            if (k == 2 && !svdd__st_find(r->st, names[k])) {
                /* a model without a reconstruction calibration cannot use reconstruction scores */
                free(m->cal_recon);
                m->cal_recon = NULL;
                if (m->objective.method == SVDD_METHOD_HYBRID && m->hybrid_score != SVDD_HYBRID_SCORE_DISTANCE)
                    return svdd__fail(r->err, SVDD_E_FORMAT, "%s: tensor '%s' is missing", r->name, names[k]);
                continue;
            }
            if ((st = svdd__st_read_f32(r->st, names[k], dst[k], m->n_cal, 1, cshape, r->err)) != SVDD_OK) return st;
            if ((st = svdd__st_check_finite(r->st, names[k], r->err)) != SVDD_OK) return st;
        }
    }
    /* The excess-map statistics came after format version 1 was fixed: files without them load
     * (only that map mode then refuses), so they are optional, but both or neither (one alone
     * reports the other missing), and with the shapes this model needs. */
    const char *ex_mean = "svdd.explain.input_mean", *ex_thr = "svdd.explain.excess_threshold";
    if (svdd__st_find(r->st, ex_mean) || svdd__st_find(r->st, ex_thr)) {
        const svdd__stack *enc = &m->net->enc;
        const int K = svdd__explain_score_count(m);
        int ishape[3] = {enc->in_c, enc->in_h, enc->in_w}, tshape[3] = {K, enc->in_h, enc->in_w};
        if ((st = read_new_f32(r, ex_mean, &m->input_mean, 3, ishape)) != SVDD_OK) return st;
        if ((st = read_new_f32(r, ex_thr, &m->excess_thr, 3, tshape)) != SVDD_OK) return st;
        m->n_excess = K;
    }
    if ((st = get_str(r, "dataset", &s)) != SVDD_OK) return st;
    snprintf(m->dataset, sizeof m->dataset, "%s", s);
    if ((st = get_int(r, "normal_class", -1, 1e6, &m->normal_class)) != SVDD_OK) return st;
    if ((st = get_str(r, "seed", &s)) != SVDD_OK) return st;
    m->seed = strtoull(s, NULL, 10);
    m->fit = svdd_fit_defaults();
    m->fit.objective = m->objective;
    m->fit.hybrid_score = m->hybrid_score;
    m->fit.seed = m->seed;
    m->fit.normal_class = m->normal_class;
    if ((st = get_num(r, "center_eps", 0, 1e9, &m->fit.center_eps)) != SVDD_OK) return st;
    if ((st = get_num(r, "calibration_fraction", 0, 0.9, &m->fit.calibration_fraction)) != SVDD_OK) return st;
    if ((st = get_train(r, "train.ae", &m->fit.ae)) != SVDD_OK) return st;
    if ((st = get_train(r, "train.svdd", &m->fit.svdd)) != SVDD_OK) return st;
    /* the threshold is derived again from the calibration data, exactly as when it was saved */
    svdd_threshold_kind kind;
    if ((st = get_str(r, "threshold.kind", &s)) != SVDD_OK) return st;
    if (svdd_threshold_parse(s, &kind, NULL) != SVDD_OK)
        return svdd__fail(r->err, SVDD_E_FORMAT, "%s: unknown threshold kind '%.40s'", r->name, s);
    double fpr;
    if ((st = get_num(r, "threshold.target_fpr", 1e-12, 1 - 1e-12, &fpr)) != SVDD_OK) return st;
    svdd_error inner;
    if (svdd_model_set_threshold(m, kind, fpr, &inner) != SVDD_OK)
        return svdd__fail(r->err, SVDD_E_FORMAT, "%s: %s", r->name, inner.message);
    return SVDD_OK;
}

svdd_status svdd_model_parse(svdd_model **out, const void *data, size_t len, const char *name, svdd_error *err) {
    if (!out) return svdd__fail(err, SVDD_E_INVALID, "svdd_model_parse: NULL output");
    *out = NULL;
    svdd__st *st = NULL;
    svdd_status s = svdd__st_parse(&st, data, len, name ? name : "model", err);
    if (s == SVDD_E_FORMAT && err)
        snprintf(err->message + strlen(err->message), sizeof err->message - strlen(err->message),
                 "; if it is an svdd model, it is damaged: train the model again");
    if (s != SVDD_OK) return s;
    svdd_model *m = svdd__model_new();
    if (!m) {
        svdd__st_free(st);
        return svdd__fail(err, SVDD_E_NOMEM, "out of memory");
    }
    reader r = {st, name ? name : "model", err, 0};
    s = read_model(m, &r);
    svdd__st_free(st);
    if (s != SVDD_OK) {
        /* A model file is written by svdd_model_save only: anything malformed in it was damaged
         * on the way, and the way out is a new model. */
        if ((s == SVDD_E_FORMAT || s == SVDD_E_NUMERIC) && !r.hinted && err)
            snprintf(err->message + strlen(err->message), sizeof err->message - strlen(err->message),
                     "; the model file is damaged or was edited: train the model again");
        svdd_model_free(m);
        return s;
    }
    *out = m;
    return SVDD_OK;
}

svdd_status svdd_model_load(svdd_model **out, const char *path, svdd_error *err) {
    if (!out || !path) return svdd__fail(err, SVDD_E_INVALID, "svdd_model_load: NULL argument");
    *out = NULL;
    unsigned char *data;
    size_t len;
    svdd_status st = svdd__read_file(path, SVDD__ST_MAX_FILE, &data, &len, err);
    if (st != SVDD_OK) return st;
    st = svdd_model_parse(out, data, len, path, err);
    free(data);
    return st;
}
