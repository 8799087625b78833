/* Checkpoint files: safetensors holding the network's tensors (as in a model file), Adam's
 * moments, the shuffling order and, in the objective phase, the centre; metadata strings for the
 * rest (format, version, phase, epoch, Adam's step, generator state, R, the spec and the schedule
 * the run was started with). Loading trusts nothing in the file: a checkpoint is as much an input
 * as a model file. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "net_store.h"

#define CKPT_FORMAT "svdd-checkpoint"
#define CKPT_VERSION 1

static const char *const PHASE_NAMES[] = {"pretrain", "objective"};

static const char *phase_title(svdd__phase p) {
    return p == SVDD__PHASE_PRETRAIN ? "autoencoder pre-training" : "Deep SVDD training";
}

/* ---- the schedule: every option that changes the trained network ---- */

typedef struct item {
    char key[40];
    char value[112];
    int may_change; /* changes the result but not what the run is: allowed on resume, logged */
} item;

#define MAX_ITEMS 48

static void add(item *it, int *n, int may_change, const char *key, const char *fmt, ...) SVDD__PRINTF(5, 6);
static void add(item *it, int *n, int may_change, const char *key, const char *fmt, ...) {
    if (*n >= MAX_ITEMS) return; /* cannot happen: the lists below are fixed and shorter */
    snprintf(it[*n].key, sizeof it[*n].key, "%s", key);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(it[*n].value, sizeof it[*n].value, fmt, ap);
    va_end(ap);
    it[*n].may_change = may_change;
    (*n)++;
}

static void add_train(item *it, int *n, const char *phase, const svdd_train_options *t) {
    char k[40], ms[112] = "";
    size_t used = 0;
    for (int i = 0; i < t->n_milestones && i < 8; i++)
        used += (size_t)snprintf(ms + used, sizeof ms - used, "%s%d", i ? "," : "", t->milestones[i]);
#define ITEM(name, fmt, v) snprintf(k, sizeof k, "fit.%s." name, phase), add(it, n, 0, k, fmt, v)
    ITEM("epochs", "%d", t->epochs);
    ITEM("batch_size", "%d", t->batch_size);
    ITEM("lr", "%.17g", t->lr);
    ITEM("weight_decay", "%.17g", t->weight_decay);
    ITEM("amsgrad", "%d", t->amsgrad);
    ITEM("gamma", "%.17g", t->gamma);
    ITEM("milestones", "%s", ms);
#undef ITEM
    snprintf(k, sizeof k, "fit.%s.clip_grad_norm", phase), add(it, n, 1, k, "%.17g", t->clip_grad_norm);
}

static int schedule(const svdd_fit_options *o, const char *data_key, item *it) {
    int n = 0;
    add(it, &n, 0, "fit.images", "%s", data_key);
    add(it, &n, 0, "fit.method", "%s", svdd_method_name(o->objective.method));
    add(it, &n, 0, "fit.nu", "%.17g", o->objective.nu);
    add(it, &n, 0, "fit.warmup_epochs", "%d", o->objective.warmup_epochs);
    add(it, &n, 0, "fit.mu1", "%.17g", o->objective.mu1);
    add(it, &n, 0, "fit.mu2", "%.17g", o->objective.mu2);
    add(it, &n, 0, "fit.center_eps", "%.17g", o->center_eps);
    add(it, &n, 0, "fit.calibration_fraction", "%.17g", o->calibration_fraction);
    add(it, &n, 0, "fit.seed", "%" PRIu64, o->seed);
    add(it, &n, 1, "fit.threads", "%d", o->threads);
    add_train(it, &n, "ae", &o->ae);
    add_train(it, &n, "svdd", &o->svdd);
    return n;
}

/* ---- writing ---- */

static int all_finite(const float *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

svdd_status svdd__ckpt_save(const char *path, const svdd_net *net, const svdd__ckpt *ck, const svdd_fit_options *o,
                            const char *data_key, svdd_error *err) {
    const int L = svdd_net_latent_dim(net);
    if (!all_finite(net->params, net->n_params) || !all_finite(net->state, net->n_state) ||
        !all_finite(net->adam_m, 3 * net->n_params) || (ck->center && !all_finite(ck->center, (size_t)L)) ||
        !isfinite(ck->pos.radius))
        return svdd__fail(err, SVDD_E_NUMERIC,
                          "%s: not written: the training state holds NaN or infinity (the previous checkpoint is kept)",
                          path);
    int64_t *order = malloc((ck->pos.n ? ck->pos.n : 1) * sizeof *order);
    if (!order) return svdd__fail(err, SVDD_E_NOMEM, "%s: out of memory for the checkpoint", path);
    for (size_t i = 0; i < ck->pos.n; i++) order[i] = ck->pos.order[i];
    svdd__st_writer *w = NULL;
    svdd_status st = svdd__st_writer_create(&w, err);
    if (st == SVDD_OK) st = svdd__net_write_tensors(w, net, err);
    /* Adam's buffers are laid out as the parameters: one flat tensor each */
    int np[1] = {(int)net->n_params}, lat[1] = {L};
    int64_t nord[1] = {(int64_t)ck->pos.n};
    if (st == SVDD_OK) st = svdd__st_writer_add_f32(w, "adam.m", 1, np, net->adam_m, err);
    if (st == SVDD_OK) st = svdd__st_writer_add_f32(w, "adam.v", 1, np, net->adam_v, err);
    if (st == SVDD_OK) st = svdd__st_writer_add_f32(w, "adam.vmax", 1, np, net->adam_vmax, err);
    if (st == SVDD_OK) st = svdd__st_writer_add(w, "loop.order", SVDD__ST_I64, 1, nord, order, err);
    if (st == SVDD_OK && ck->center) st = svdd__st_writer_add_f32(w, "svdd.center", 1, lat, ck->center, err);
    /* the scalars as metadata strings, %.17g so that a double survives the round trip exactly */
    item it[MAX_ITEMS];
    int n_items = 0;
    add(it, &n_items, 0, "format", "%s", CKPT_FORMAT);
    add(it, &n_items, 0, "format_version", "%d", CKPT_VERSION);
    add(it, &n_items, 0, "library_version", "%s", svdd_version());
    add(it, &n_items, 0, "phase", "%s", PHASE_NAMES[ck->phase]);
    add(it, &n_items, 0, "epochs_done", "%d", ck->pos.epochs_done);
    add(it, &n_items, 0, "adam_step", "%ld", net->adam_step);
    add(it, &n_items, 0, "rng.state", "%" PRIu64, ck->pos.rng.state);
    add(it, &n_items, 0, "rng.inc", "%" PRIu64, ck->pos.rng.inc);
    add(it, &n_items, 0, "radius", "%.17g", ck->pos.radius);
    n_items += schedule(o, data_key, it + n_items);
    if (st == SVDD_OK) st = svdd__st_writer_meta(w, "spec", net->spec, err);
    for (int i = 0; st == SVDD_OK && i < n_items; i++) st = svdd__st_writer_meta(w, it[i].key, it[i].value, err);
    if (st == SVDD_OK) st = svdd__st_write_file(w, path, err);
    svdd__st_writer_free(w);
    free(order);
    return st;
}

/* ---- reading ---- */

static svdd_status get_meta(const svdd__st *st, const char *path, const char *key, const char **out, svdd_error *err) {
    *out = svdd__st_meta(st, key);
    if (!*out)
        return svdd__fail(err, SVDD_E_FORMAT, "%s: checkpoint metadata lacks '%s' (a damaged or foreign file?)", path, key);
    return SVDD_OK;
}

/* A whole-string decimal integer in [lo, hi]. */
static svdd_status get_u64(const svdd__st *st, const char *path, const char *key, uint64_t lo, uint64_t hi, uint64_t *out,
                           svdd_error *err) {
    const char *s;
    svdd_status rc = get_meta(st, path, key, &s, err);
    if (rc != SVDD_OK) return rc;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*s < '0' || *s > '9' || errno || *end || v < lo || v > hi)
        return svdd__fail(err, SVDD_E_FORMAT, "%s: checkpoint metadata '%s' is '%.40s', not a whole number in [%" PRIu64
                          ", %" PRIu64 "]", path, key, s, lo, hi);
    *out = v;
    return SVDD_OK;
}

/* Compare the recorded spec, images and schedule with this run's. */
static svdd_status check_same_run(const svdd__st *st, const char *path, const svdd_net *net, const svdd_fit_options *o,
                                  const char *data_key, svdd_error *err) {
    const char *s;
    svdd_status rc = get_meta(st, path, "spec", &s, err);
    if (rc != SVDD_OK) return rc;
    if (strcmp(s, net->spec) != 0)
        return svdd__fail(err, SVDD_E_INVALID,
                          "%s: the checkpoint is of another network than %s; resume with the network spec of the "
                          "interrupted run", path, net->name);
    item it[MAX_ITEMS];
    const int n = schedule(o, data_key, it);
    for (int i = 0; i < n; i++) {
        if ((rc = get_meta(st, path, it[i].key, &s, err)) != SVDD_OK) return rc;
        if (strcmp(s, it[i].value) == 0) continue;
        if (it[i].may_change) {
            svdd__log(o->log, o->log_user, SVDD_LOG_WARN,
                      "%s: resuming with %s = %s instead of %s: the result will differ from an uninterrupted run", path,
                      it[i].key, it[i].value, s);
            continue;
        }
        if (strcmp(it[i].key, "fit.images") == 0)
            return svdd__fail(err, SVDD_E_INVALID,
                              "%s: the checkpoint was trained on other images (%s, this run has %s); resume with the "
                              "data set, normal class, seed and calibration fraction of the interrupted run",
                              path, s, it[i].value);
        return svdd__fail(err, SVDD_E_INVALID,
                          "%s: the checkpoint's run has %s = %.40s, this one %.40s; resume with the options of the "
                          "interrupted run (or start afresh without resuming)",
                          path, it[i].key, s, it[i].value);
    }
    return SVDD_OK;
}

static svdd_status read_nonneg(const svdd__st *st, const char *path, const char *name, float *dst, size_t n, int ndim,
                               const int *shape, int nonneg, svdd_error *err) {
    if (!svdd__st_find(st, name))
        return svdd__fail(err, SVDD_E_FORMAT, "%s: checkpoint tensor '%s' is missing (a checkpoint of another network?)",
                          path, name);
    svdd_status rc = svdd__st_read_f32(st, name, dst, n, ndim, shape, err);
    if (rc != SVDD_OK) return rc;
    for (size_t i = 0; nonneg && i < n; i++)
        if (dst[i] < 0) return svdd__fail(err, SVDD_E_FORMAT, "%s: checkpoint tensor '%s' holds a negative value", path, name);
    return SVDD_OK;
}

static svdd_status read_state(const svdd__st *st, const char *path, svdd_net *net, svdd__ckpt *ck,
                              const svdd_fit_options *o, const char *data_key, svdd_error *err) {
    const char *s;
    svdd_status rc = get_meta(st, path, "format", &s, err);
    if (rc != SVDD_OK) return rc;
    if (strcmp(s, CKPT_FORMAT) != 0)
        return svdd__fail(err, SVDD_E_FORMAT, "%s: not an svdd checkpoint (format '%.40s'); give the file written by "
                          "checkpointing", path, s);
    uint64_t v;
    if ((rc = get_u64(st, path, "format_version", 0, 1000000, &v, err)) != SVDD_OK) return rc;
    if (v != CKPT_VERSION)
        return svdd__fail(err, SVDD_E_UNSUPPORTED, "%s: checkpoint version %" PRIu64 "; this svdd (%s) reads version %d",
                          path, v, svdd_version(), CKPT_VERSION);
    if ((rc = check_same_run(st, path, net, o, data_key, err)) != SVDD_OK) return rc;
    /* every tensor at once, then each against its expected shape */
    if ((rc = svdd__st_check_finite(st, NULL, err)) != SVDD_OK) return rc;
    if ((rc = get_meta(st, path, "phase", &s, err)) != SVDD_OK) return rc;
    if (strcmp(s, PHASE_NAMES[0]) != 0 && strcmp(s, PHASE_NAMES[1]) != 0)
        return svdd__fail(err, SVDD_E_FORMAT, "%s: unknown checkpoint phase '%.40s' (pretrain or objective)", path, s);
    ck->phase = strcmp(s, PHASE_NAMES[0]) == 0 ? SVDD__PHASE_PRETRAIN : SVDD__PHASE_OBJECTIVE;
    const svdd_train_options *t = ck->phase == SVDD__PHASE_PRETRAIN ? &o->ae : &o->svdd;
    if ((rc = get_u64(st, path, "epochs_done", 0, (uint64_t)t->epochs, &v, err)) != SVDD_OK) return rc;
    ck->pos.epochs_done = (int)v;
    if ((rc = get_u64(st, path, "adam_step", 0, (uint64_t)1 << 52, &v, err)) != SVDD_OK) return rc;
    net->adam_step = (long)v;
    if ((rc = get_u64(st, path, "rng.state", 0, UINT64_MAX, &ck->pos.rng.state, err)) != SVDD_OK) return rc;
    if ((rc = get_u64(st, path, "rng.inc", 0, UINT64_MAX, &ck->pos.rng.inc, err)) != SVDD_OK) return rc;
    const uint64_t stream = ck->phase == SVDD__PHASE_PRETRAIN ? SVDD__STREAM_AE : SVDD__STREAM_SVDD;
    if (ck->pos.rng.inc != ((stream << 1u) | 1u))
        return svdd__fail(err, SVDD_E_FORMAT, "%s: the checkpoint's shuffling generator is not the %s phase's", path, s);
    if ((rc = get_meta(st, path, "radius", &s, err)) != SVDD_OK) return rc;
    char *end;
    errno = 0;
    ck->pos.radius = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(ck->pos.radius) || ck->pos.radius < 0)
        return svdd__fail(err, SVDD_E_FORMAT, "%s: checkpoint metadata 'radius' is '%.40s', not a number >= 0", path, s);

    if ((rc = svdd__net_read_tensors(net, st, err)) != SVDD_OK) return rc;
    int np[1] = {(int)net->n_params};
    if ((rc = read_nonneg(st, path, "adam.m", net->adam_m, net->n_params, 1, np, 0, err)) != SVDD_OK) return rc;
    if ((rc = read_nonneg(st, path, "adam.v", net->adam_v, net->n_params, 1, np, 1, err)) != SVDD_OK) return rc;
    if ((rc = read_nonneg(st, path, "adam.vmax", net->adam_vmax, net->n_params, 1, np, 1, err)) != SVDD_OK) return rc;

    /* the order must be a permutation of the training images: anything else would index
     * outside them or repeat some */
    const size_t n = ck->pos.n;
    int64_t *order = malloc((n ? n : 1) * sizeof *order);
    unsigned char *seen = calloc(n ? n : 1, 1);
    if (!order || !seen) {
        free(order), free(seen);
        return svdd__fail(err, SVDD_E_NOMEM, "%s: out of memory", path);
    }
    const svdd__st_tensor *ot = svdd__st_find(st, "loop.order");
    rc = ot && ot->ndim == 1 ? svdd__st_copy(st, "loop.order", SVDD__ST_I64, order, n, err)
                             : svdd__fail(err, SVDD_E_FORMAT, "%s: checkpoint tensor 'loop.order' is missing or not 1-d", path);
    for (size_t i = 0; rc == SVDD_OK && i < n; i++) {
        if (order[i] < 0 || (uint64_t)order[i] >= n || seen[order[i]]++)
            rc = svdd__fail(err, SVDD_E_FORMAT, "%s: checkpoint tensor 'loop.order' is not a permutation of %zu images",
                            path, n);
        else
            ck->pos.order[i] = (uint32_t)order[i];
    }
    free(order), free(seen);
    if (rc != SVDD_OK) return rc;

    const int L = svdd_net_latent_dim(net);
    if (ck->phase == SVDD__PHASE_OBJECTIVE) {
        int lat[1] = {L};
        if (!(ck->center = malloc((size_t)L * sizeof(float)))) return svdd__fail(err, SVDD_E_NOMEM, "%s: out of memory", path);
        if ((rc = read_nonneg(st, path, "svdd.center", ck->center, (size_t)L, 1, lat, 0, err)) != SVDD_OK) return rc;
    } else if (svdd__st_find(st, "svdd.center")) {
        return svdd__fail(err, SVDD_E_FORMAT, "%s: a pre-training checkpoint must not hold a centre", path);
    }
    /* nothing unexpected: a tensor the reader does not know means a file it does not understand */
    const int expected = svdd__net_tensor_count(net) + 4 + (ck->phase == SVDD__PHASE_OBJECTIVE);
    if (svdd__st_count(st) != expected)
        return svdd__fail(err, SVDD_E_FORMAT, "%s: the checkpoint holds %d tensors, expected %d", path, svdd__st_count(st),
                          expected);
    return SVDD_OK;
}

svdd_status svdd__ckpt_parse(const void *data, size_t len, const char *name, svdd_net *net, size_t n, svdd__ckpt *ck,
                             const svdd_fit_options *o, const char *data_key, svdd_error *err) {
    memset(ck, 0, sizeof *ck);
    ck->pos.n = n;
    svdd__st *st = NULL;
    svdd_status rc = svdd__st_parse(&st, data, len, name, err);
    if (rc != SVDD_OK) return rc;
    ck->pos.order = malloc((ck->pos.n ? ck->pos.n : 1) * sizeof *ck->pos.order);
    rc = ck->pos.order ? read_state(st, name, net, ck, o, data_key, err) : svdd__fail(err, SVDD_E_NOMEM, "out of memory");
    svdd__st_free(st);
    if (rc != SVDD_OK) svdd__ckpt_free(ck);
    return rc;
}

svdd_status svdd__ckpt_load(const char *path, svdd_net *net, size_t n, svdd__ckpt *ck, const svdd_fit_options *o,
                            const char *data_key, svdd_error *err) {
    memset(ck, 0, sizeof *ck);
    unsigned char *data = NULL;
    size_t len = 0;
    svdd_status rc = svdd__read_file(path, SVDD__ST_MAX_FILE, &data, &len, err);
    if (rc != SVDD_OK) return rc;
    /* the parser keeps its own copy of the bytes: checkpoints are a few MB, so the brief second
     * copy buys one code path for files and for the fuzz target */
    rc = svdd__ckpt_parse(data, len, path, net, n, ck, o, data_key, err);
    free(data);
    return rc;
}

void svdd__ckpt_free(svdd__ckpt *ck) {
    if (!ck) return;
    free(ck->pos.order);
    free(ck->center);
    ck->pos.order = NULL;
    ck->center = NULL;
}

/* ---- the fit's side ---- */

static svdd_status at_epoch_end(void *user, const svdd__loop_pos *pos, svdd_error *err) {
    svdd__fit_ckpt *fc = user;
    const svdd_fit_options *o = fc->o;
    const int every = o->checkpoint_every > 0 ? o->checkpoint_every : 1;
    if (!o->checkpoint_path || pos->epochs_done % every != 0) return SVDD_OK;
    svdd__ckpt ck = {fc->phase, *pos, (float *)fc->center};
    svdd_status st = svdd__ckpt_save(o->checkpoint_path, fc->net, &ck, o, fc->data_key, err);
    if (st != SVDD_OK) return st;
    fc->last_path = o->checkpoint_path;
    fc->last_phase = fc->phase;
    fc->last_epoch = pos->epochs_done;
    svdd__log(o->log, o->log_user, SVDD_LOG_DEBUG, "%s: checkpoint after %s epoch %d", o->checkpoint_path,
              phase_title(fc->phase), pos->epochs_done);
    return SVDD_OK;
}

svdd_status svdd__fit_ckpt_begin(svdd__fit_ckpt *fc, svdd_net *net, const svdd_fit_options *o, const svdd__images *im,
                                 svdd_error *err) {
    memset(fc, 0, sizeof *fc);
    fc->o = o;
    fc->net = net;
    if (o->checkpoint_every < 0)
        return svdd__fail(err, SVDD_E_INVALID, "checkpoint_every must be >= 0 (got %d)", o->checkpoint_every);
    if ((o->checkpoint_path && !*o->checkpoint_path) || (o->resume_path && !*o->resume_path))
        return svdd__fail(err, SVDD_E_INVALID, "an empty checkpoint file name");
    if (!o->checkpoint_path && !o->resume_path) return SVDD_OK;
    svdd_status st = svdd__images_key(fc->data_key, sizeof fc->data_key, im, err);
    if (st != SVDD_OK || !o->resume_path) return st;
    st = svdd__ckpt_load(o->resume_path, net, im->n, &fc->resume, o, fc->data_key, err);
    if (st != SVDD_OK) return st;
    if (fc->resume.phase == SVDD__PHASE_PRETRAIN && (!net->dec.n || o->ae.epochs == 0))
        return svdd__fail(err, SVDD_E_FORMAT, "%s: a pre-training checkpoint, but this run has no pre-training", o->resume_path);
    fc->resumed = 1;
    fc->last_path = o->resume_path;
    fc->last_phase = fc->resume.phase;
    fc->last_epoch = fc->resume.pos.epochs_done;
    svdd__log(o->log, o->log_user, SVDD_LOG_INFO, "%s: resuming after %s epoch %d", o->resume_path,
              phase_title(fc->resume.phase), fc->resume.pos.epochs_done);
    return SVDD_OK;
}

int svdd__fit_ckpt_resumes(const svdd__fit_ckpt *fc, svdd__phase phase) { return fc->resumed && fc->resume.phase == phase; }

const svdd__loop_hook *svdd__fit_ckpt_hook(svdd__fit_ckpt *fc, svdd__phase phase, const float *center) {
    const int resume = svdd__fit_ckpt_resumes(fc, phase);
    if (!fc->o || (!fc->o->checkpoint_path && !resume)) return NULL;
    fc->phase = phase;
    fc->center = center;
    fc->hook = (svdd__loop_hook){resume ? &fc->resume.pos : NULL, at_epoch_end, fc, NULL};
    return &fc->hook;
}

svdd_status svdd__fit_ckpt_explain(const svdd__fit_ckpt *fc, svdd_status st, svdd_error *err) {
    if (st != SVDD_E_NUMERIC || !err || !fc->last_path) return st;
    char prev[SVDD_ERROR_MESSAGE_SIZE];
    memcpy(prev, err->message, sizeof prev);
    return svdd__fail(err, st,
                      "%s. The last checkpoint, %s (after %s epoch %d), is intact: resume from it with gradient "
                      "clipping, or start again with a lower learning rate",
                      prev, fc->last_path, phase_title(fc->last_phase), fc->last_epoch);
}

void svdd__fit_ckpt_end(svdd__fit_ckpt *fc) { svdd__ckpt_free(&fc->resume); }
