/* Training that survives faults: gradient clipping as torch.nn.utils.clip_grad_norm_, a stop on a
 * non-finite gradient before it reaches the parameters, checkpoints that round-trip the whole
 * training state, refuse torn files and files of other runs, resumed fits that end bit for bit
 * where an uninterrupted fit does, and a NaN stop that leaves the last checkpoint readable.
 * (tests/test_resume.sh kills a real `svdd train` with SIGKILL.) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/safetensors.h"
#include "model/checkpoint.h"
#include "model/model.h"
#include "model/net_store.h"
#include "testutil.h"

typedef struct fixture {
    svdd_dataset *train;
    char dir[32];
    char path[64]; /* the checkpoint file */
} fixture;

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    svdd_synthetic_options so = svdd_synthetic_defaults();
    svdd_error err;
    so.seed = 21;
    so.n_normal = 300;
    if (!f || svdd_dataset_synthetic(&f->train, &so, &err) != SVDD_OK) return -1;
    if (!svdd_test_make_dir(f->dir, sizeof f->dir, "ckpt")) return -1;
    snprintf(f->path, sizeof f->path, "%s/run.ckpt", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    if (!svdd_test_remove_dir(f->dir)) return -1;
    svdd_dataset_free(f->train);
    free(f);
    return 0;
}

static unsigned char *slurp(const char *path, size_t *len) {
    unsigned char *data = NULL;
    svdd_error err;
    if (svdd__read_file(path, (size_t)1 << 30, &data, len, &err) != SVDD_OK) fail_msg("%s", err.message);
    return data;
}

static void spill(const char *path, const void *data, size_t len) {
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
}

static double grad_norm(const svdd_net *net, size_t lo, size_t hi) {
    double s = 0;
    for (size_t i = lo; i < hi; i++) s += (double)net->grads[i] * net->grads[i];
    return sqrt(s);
}

/* Clipping scales the trained part's gradient to the given norm when it is larger (as PyTorch,
 * up to its 1e-6 in the factor), leaves it alone below, and never touches the other part. */
static void test_clip_grad_norm(void **state) {
    (void)state;
    svdd_net *net = NULL;
    svdd_error err;
    assert_int_equal(svdd_net_create(&net, svdd_spec_builtin("mnist-lenet"), "mnist-lenet", 1, &err), SVDD_OK);
    const size_t ne = net->n_enc_params, np = net->n_params;
    svdd_test_fill_uniform(net->grads, np, -1, 1, 3);
    const double enc = grad_norm(net, 0, ne), all = grad_norm(net, 0, np);
    float *before = malloc(np * sizeof(float));
    memcpy(before, net->grads, np * sizeof(float));
    /* below the norm: unchanged, bit for bit */
    assert_true(fabs(svdd__clip_grad_norm(net, SVDD_PART_ALL, 2 * all) - all) <= 1e-9 * all);
    assert_memory_equal(before, net->grads, np * sizeof(float));
    /* 0 = off: measures only */
    assert_true(fabs(svdd__clip_grad_norm(net, SVDD_PART_ALL, 0) - all) <= 1e-9 * all);
    assert_memory_equal(before, net->grads, np * sizeof(float));
    /* above: the encoder's gradient gets norm X, the decoder's stays */
    const double X = enc / 7;
    assert_true(fabs(svdd__clip_grad_norm(net, SVDD_PART_ENCODER, X) - enc) <= 1e-9 * enc);
    assert_true(fabs(grad_norm(net, 0, ne) - X) <= 1e-5 * X);
    assert_memory_equal(before + ne, net->grads + ne, (np - ne) * sizeof(float));
    /* the whole network at once (returning the norm before clipping) */
    const double all2 = grad_norm(net, 0, np);
    assert_true(all2 > 0.5);
    assert_true(fabs(svdd__clip_grad_norm(net, SVDD_PART_ALL, 0.5) - all2) <= 1e-9 * all2);
    assert_true(fabs(grad_norm(net, 0, np) - 0.5) <= 1e-5 * 0.5);
    /* a NaN anywhere makes the norm NaN, and nothing is scaled */
    net->grads[ne + 3] = NAN;
    memcpy(before, net->grads, np * sizeof(float));
    assert_true(isnan(svdd__clip_grad_norm(net, SVDD_PART_ALL, 0.1)));
    assert_memory_equal(before, net->grads, np * sizeof(float));
    free(before);
    svdd_net_free(net);
}

/* A step whose gradient turns NaN in the third epoch; the hook records the epochs it saw and the
 * parameters after them. */
typedef struct nan_ctx {
    svdd_net *net;
    int epochs_seen;
    float *params_after; /* after the last finished epoch */
} nan_ctx;

static double nan_step(void *p, const float *batch, int bs, int epoch) {
    (void)batch, (void)bs;
    nan_ctx *c = p;
    svdd__net_zero_grad(c->net, SVDD_PART_ALL);
    for (size_t i = 0; i < c->net->n_params; i++) c->net->grads[i] = 1e-2f * (float)(i % 7);
    if (epoch == 2) c->net->grads[11] = NAN;
    return 1.0;
}

static svdd_status nan_epoch_end(void *user, const svdd__loop_pos *pos, svdd_error *err) {
    (void)err;
    nan_ctx *c = user;
    c->epochs_seen = pos->epochs_done;
    memcpy(c->params_after, c->net->params, c->net->n_params * sizeof(float));
    return SVDD_OK;
}

static svdd_status big_epoch_end(void *user, const svdd__loop_pos *pos, svdd_error *err) {
    (void)pos, (void)err;
    nan_ctx *c = user;
    /* Adam leaves the gradient in place: this is the last batch's, as the loop clipped it */
    assert_true(fabs(grad_norm(c->net, 0, c->net->n_params) - 0.25) <= 1e-5 * 0.25);
    c->epochs_seen++;
    return SVDD_OK;
}

/* The loop clips every batch's gradient before the Adam step when asked. */
static void test_loop_clips(void **state) {
    (void)state;
    svdd_net *net = NULL;
    svdd_error err;
    assert_int_equal(svdd_net_create(&net, svdd_spec_builtin("mnist-lenet"), "mnist-lenet", 1, &err), SVDD_OK);
    float x[8 * 784];
    svdd_test_fill_uniform(x, 8 * 784, 0, 1, 4);
    const svdd__images im = svdd__images_of_floats(x, 8, 784);
    nan_ctx c = {net, 0, NULL};
    svdd__loop_hook hook = {NULL, big_epoch_end, &c, NULL};
    svdd_train_options o = svdd_train_defaults();
    o.epochs = 2;
    o.batch_size = 4;
    o.clip_grad_norm = 0.25;
    /* nan_step's gradient: norm about 3.3, finite in the first two epochs */
    if (svdd__train_loop(net, &im, &o, 1, SVDD_PART_ALL, "test phase", nan_step, &c, &hook, &err) != SVDD_OK)
        fail_msg("%s", err.message);
    assert_int_equal(c.epochs_seen, 2);
    o.clip_grad_norm = -1;
    assert_int_equal(svdd__train_loop(net, &im, &o, 1, SVDD_PART_ALL, "test phase", nan_step, &c, &hook, &err),
                     SVDD_E_INVALID);
    svdd_net_free(net);
}

/* A NaN gradient stops the loop with a message naming the phase and epoch, before Adam could
 * carry it into the parameters, and after the last good epoch's hook. */
static void test_nan_gradient_stops(void **state) {
    (void)state;
    svdd_net *net = NULL;
    svdd_error err;
    assert_int_equal(svdd_net_create(&net, svdd_spec_builtin("mnist-lenet"), "mnist-lenet", 1, &err), SVDD_OK);
    float x[8 * 784];
    svdd_test_fill_uniform(x, 8 * 784, 0, 1, 4);
    const svdd__images im = svdd__images_of_floats(x, 8, 784);
    nan_ctx c = {net, 0, malloc(net->n_params * sizeof(float))};
    svdd__loop_hook hook = {NULL, nan_epoch_end, &c, NULL};
    svdd_train_options o = svdd_train_defaults();
    o.epochs = 5;
    o.batch_size = 4;
    svdd_status st = svdd__train_loop(net, &im, &o, 1, SVDD_PART_ALL, "test phase", nan_step, &c, &hook, &err);
    assert_int_equal(st, SVDD_E_NUMERIC);
    assert_non_null(strstr(err.message, "test phase: the gradient became NaN at epoch 3 of 5 (batch 1"));
    assert_non_null(strstr(err.message, "clip"));
    assert_int_equal(c.epochs_seen, 2);
    assert_memory_equal(c.params_after, net->params, net->n_params * sizeof(float));
    free(c.params_after);
    svdd_net_free(net);
}

/* ---- checkpoint files ---- */

typedef struct state_fixture {
    svdd_net *net;
    svdd__ckpt ck;
    svdd_fit_options o;
    float x[50 * 784];
    char key[64];
} state_fixture;

/* A network and a state with every field away from its default. */
static void make_state(state_fixture *s) {
    svdd_error err;
    assert_int_equal(svdd_net_create(&s->net, svdd_spec_builtin("mnist-lenet"), "mnist-lenet", 7, &err), SVDD_OK);
    svdd_net *net = s->net;
    svdd_test_fill_uniform(net->params, net->n_params, -1, 1, 1);
    svdd_test_fill_uniform(net->state, net->n_state, 0.1f, 2, 2);
    svdd_test_fill_uniform(net->adam_m, net->n_params, -1e-3f, 1e-3f, 3);
    svdd_test_fill_uniform(net->adam_v, net->n_params, 0, 1e-5f, 4);
    svdd_test_fill_uniform(net->adam_vmax, net->n_params, 0, 1e-5f, 5);
    net->adam_step = 17;
    s->o = svdd_fit_defaults();
    s->o.svdd.epochs = 4;
    s->o.objective.method = SVDD_METHOD_SOFT_BOUNDARY;
    memset(&s->ck, 0, sizeof s->ck);
    s->ck.phase = SVDD__PHASE_OBJECTIVE;
    s->ck.pos.epochs_done = 3;
    s->ck.pos.n = 50;
    s->ck.pos.order = malloc(50 * sizeof(uint32_t));
    for (uint32_t i = 0; i < 50; i++) s->ck.pos.order[i] = i;
    svdd__rng_seed(&s->ck.pos.rng, 9, SVDD__STREAM_SVDD);
    svdd__rng_shuffle(&s->ck.pos.rng, s->ck.pos.order, 50);
    s->ck.pos.radius = 0.1234567890123;
    const int L = svdd_net_latent_dim(net);
    s->ck.center = malloc((size_t)L * sizeof(float));
    svdd_test_fill_uniform(s->ck.center, (size_t)L, -1, 1, 6);
    svdd_test_fill_uniform(s->x, 50 * 784, 0, 1, 8);
    const svdd__images im = svdd__images_of_floats(s->x, 50, 784);
    assert_int_equal(svdd__images_key(s->key, sizeof s->key, &im, NULL), SVDD_OK);
}

static void free_state(state_fixture *s) {
    svdd_net_free(s->net);
    svdd__ckpt_free(&s->ck);
    free(s);
}

/* make_state, saved to the fixture's checkpoint file. */
static state_fixture *saved_state(const fixture *f) {
    state_fixture *s = calloc(1, sizeof *s);
    assert_non_null(s);
    make_state(s);
    svdd_error err;
    if (svdd__ckpt_save(f->path, s->net, &s->ck, &s->o, s->key, &err) != SVDD_OK) fail_msg("%s", err.message);
    return s;
}

static svdd_status load_into_fresh(const state_fixture *s, const char *path, const svdd_fit_options *o, const char *key,
                                   svdd_net **net, svdd__ckpt *ck, svdd_error *err) {
    svdd_error e;
    assert_int_equal(svdd_net_create(net, svdd_spec_builtin("mnist-lenet"), "mnist-lenet", 99, &e), SVDD_OK);
    return svdd__ckpt_load(path, *net, s->ck.pos.n, ck, o, key, err);
}

/* Everything saved comes back bit for bit into a network initialised differently. */
static void test_round_trip(void **state) {
    fixture *f = *state;
    state_fixture *s = saved_state(f);
    svdd_error err;
    svdd_net *net = NULL;
    svdd__ckpt ck;
    if (load_into_fresh(s, f->path, &s->o, s->key, &net, &ck, &err) != SVDD_OK) fail_msg("%s", err.message);
    const size_t np = s->net->n_params;
    assert_memory_equal(net->params, s->net->params, np * sizeof(float));
    assert_memory_equal(net->state, s->net->state, s->net->n_state * sizeof(float));
    assert_memory_equal(net->adam_m, s->net->adam_m, 3 * np * sizeof(float));
    assert_int_equal(net->adam_step, 17);
    assert_int_equal(ck.phase, SVDD__PHASE_OBJECTIVE);
    assert_int_equal(ck.pos.epochs_done, 3);
    assert_true(ck.pos.rng.state == s->ck.pos.rng.state && ck.pos.rng.inc == s->ck.pos.rng.inc);
    assert_memory_equal(ck.pos.order, s->ck.pos.order, 50 * sizeof(uint32_t));
    assert_true(ck.pos.radius == s->ck.pos.radius);
    assert_memory_equal(ck.center, s->ck.center, (size_t)svdd_net_latent_dim(net) * sizeof(float));
    svdd__ckpt_free(&ck);
    svdd_net_free(net);
    /* threads and clipping may change on resume; the rest of the schedule may not */
    svdd_fit_options o = s->o;
    o.threads = 3;
    o.svdd.clip_grad_norm = 1;
    assert_int_equal(load_into_fresh(s, f->path, &o, s->key, &net, &ck, &err), SVDD_OK);
    svdd__ckpt_free(&ck), svdd_net_free(net);
    o = s->o;
    o.svdd.lr = 2e-4;
    assert_int_equal(load_into_fresh(s, f->path, &o, s->key, &net, &ck, &err), SVDD_E_INVALID);
    assert_non_null(strstr(err.message, "fit.svdd.lr"));
    assert_non_null(strstr(err.message, f->path));
    svdd_net_free(net);
    o = s->o;
    o.objective.method = SVDD_METHOD_ONE_CLASS;
    assert_int_equal(load_into_fresh(s, f->path, &o, s->key, &net, &ck, &err), SVDD_E_INVALID);
    assert_non_null(strstr(err.message, "fit.method"));
    svdd_net_free(net);
    /* other images (another class, seed or split) */
    char key[64];
    s->x[5] += 1;
    const svdd__images im = svdd__images_of_floats(s->x, 50, 784);
    assert_int_equal(svdd__images_key(key, sizeof key, &im, NULL), SVDD_OK);
    assert_int_equal(load_into_fresh(s, f->path, &s->o, key, &net, &ck, &err), SVDD_E_INVALID);
    assert_non_null(strstr(err.message, "other images"));
    svdd_net_free(net);
    free_state(s);
}

/* A checkpoint of another network is refused with a message, not read into the wrong shapes. */
static void test_other_spec(void **state) {
    fixture *f = *state;
    state_fixture *s = saved_state(f);
    svdd_error err;
    svdd_net *other = NULL;
    svdd__ckpt ck;
    const char *spec = "svdd-spec 1\ninput 1 28 28\nencoder\nflatten\nlinear 32\n";
    assert_int_equal(svdd_net_create(&other, spec, "flat.spec", 1, &err), SVDD_OK);
    assert_int_equal(svdd__ckpt_load(f->path, other, 50, &ck, &s->o, s->key, &err), SVDD_E_INVALID);
    assert_non_null(strstr(err.message, "another network"));
    svdd_net_free(other);
    /* a model file is not a checkpoint */
    svdd__st_writer *w = NULL;
    assert_int_equal(svdd__st_writer_create(&w, &err), SVDD_OK);
    assert_int_equal(svdd__st_writer_meta(w, "format", "svdd-model", &err), SVDD_OK);
    char model[96];
    snprintf(model, sizeof model, "%s/model.safetensors", f->dir);
    assert_int_equal(svdd__st_write_file(w, model, &err), SVDD_OK);
    svdd__st_writer_free(w);
    assert_int_equal(svdd_net_create(&other, svdd_spec_builtin("mnist-lenet"), "mnist-lenet", 1, &err), SVDD_OK);
    assert_int_equal(svdd__ckpt_load(model, other, 50, &ck, &s->o, s->key, &err), SVDD_E_FORMAT);
    assert_non_null(strstr(err.message, "not an svdd checkpoint"));
    svdd_net_free(other);
    free_state(s);
}

/* Torn and truncated files are refused, whatever the cut; a state holding NaN is never written
 * over the good checkpoint. */
static void test_torn(void **state) {
    fixture *f = *state;
    state_fixture *s = saved_state(f);
    svdd_error err;
    size_t len;
    unsigned char *good = slurp(f->path, &len);
    char torn[96];
    snprintf(torn, sizeof torn, "%s/torn.ckpt", f->dir);
    const size_t cuts[] = {0, 7, 8, 100, len / 3, len / 2, len - 4, len - 1};
    for (size_t k = 0; k < sizeof cuts / sizeof cuts[0]; k++) {
        spill(torn, good, cuts[k]);
        svdd_net *net = NULL;
        svdd__ckpt ck;
        svdd_status st = load_into_fresh(s, torn, &s->o, s->key, &net, &ck, &err);
        if (st == SVDD_OK) fail_msg("a checkpoint cut to %zu of %zu bytes was accepted", cuts[k], len);
        assert_non_null(strstr(err.message, torn));
        svdd_net_free(net);
    }
    /* damaged data: a NaN in the centre, the last tensor (0xffffffff is a NaN pattern) */
    unsigned char *bad = malloc(len);
    memcpy(bad, good, len);
    memset(bad + len - 8, 0xff, 4);
    spill(torn, bad, len);
    svdd_net *net = NULL;
    svdd__ckpt ck;
    assert_int_equal(load_into_fresh(s, torn, &s->o, s->key, &net, &ck, &err), SVDD_E_NUMERIC);
    assert_non_null(strstr(err.message, "svdd.center"));
    svdd_net_free(net);
    free(bad);
    /* NaN in the state: not written, the old file stays */
    s->net->adam_m[5] = NAN;
    assert_int_equal(svdd__ckpt_save(f->path, s->net, &s->ck, &s->o, s->key, &err), SVDD_E_NUMERIC);
    assert_non_null(strstr(err.message, "previous checkpoint is kept"));
    size_t len2;
    unsigned char *after = slurp(f->path, &len2);
    assert_int_equal(len, len2);
    assert_memory_equal(good, after, len);
    free(good), free(after);
    free_state(s);
}

/* The reader from memory (what the fuzz target drives, and what the file reader runs on the file's
 * bytes) gives what the file gives, and names the buffer it was given in its messages. */
static void test_parse_from_memory(void **state) {
    fixture *f = *state;
    state_fixture *s = saved_state(f);
    size_t len;
    unsigned char *bytes = slurp(f->path, &len);
    svdd_error err;
    svdd_net *a = NULL, *b = NULL;
    svdd__ckpt ca, cb;
    if (load_into_fresh(s, f->path, &s->o, s->key, &a, &ca, &err) != SVDD_OK) fail_msg("%s", err.message);
    assert_int_equal(svdd_net_create(&b, svdd_spec_builtin("mnist-lenet"), "mnist-lenet", 99, &err), SVDD_OK);
    if (svdd__ckpt_parse(bytes, len, "in-memory", b, 50, &cb, &s->o, s->key, &err) != SVDD_OK) fail_msg("%s", err.message);
    const size_t bytes_p = a->n_params * sizeof(float);
    assert_memory_equal(a->params, b->params, bytes_p);
    assert_memory_equal(a->state, b->state, a->n_state * sizeof(float));
    assert_memory_equal(a->adam_m, b->adam_m, bytes_p);
    assert_memory_equal(a->adam_v, b->adam_v, bytes_p);
    assert_memory_equal(a->adam_vmax, b->adam_vmax, bytes_p);
    assert_int_equal(b->adam_step, a->adam_step);
    assert_memory_equal(ca.pos.order, cb.pos.order, 50 * sizeof(uint32_t));
    assert_memory_equal(ca.center, cb.center, (size_t)svdd_net_latent_dim(a) * sizeof(float));
    assert_true(ca.pos.radius == cb.pos.radius && ca.pos.rng.state == cb.pos.rng.state);
    svdd__ckpt_free(&ca), svdd__ckpt_free(&cb);
    /* a failure leaves nothing allocated and names the buffer */
    assert_int_equal(svdd__ckpt_parse(bytes, len / 2, "in-memory", b, 50, &cb, &s->o, s->key, &err), SVDD_E_FORMAT);
    assert_null(cb.pos.order);
    assert_null(cb.center);
    assert_non_null(strstr(err.message, "in-memory"));
    assert_int_equal(svdd__ckpt_parse(NULL, 0, "empty", b, 50, &cb, &s->o, s->key, &err), SVDD_E_FORMAT);
    assert_null(cb.pos.order);
    free(bytes);
    svdd_net_free(a), svdd_net_free(b);
    free_state(s);
}

/* ---- whole fits ---- */

static svdd_fit_options short_fit(svdd_method method) {
    svdd_fit_options o = svdd_fit_defaults();
    o.objective.method = method;
    o.objective.warmup_epochs = 1;
    o.ae.epochs = 3;
    o.svdd.epochs = 3;
    o.ae.lr = o.svdd.lr = 1e-3;
    o.ae.batch_size = o.svdd.batch_size = 64;
    o.ae.n_milestones = o.svdd.n_milestones = 1;
    o.ae.milestones[0] = o.svdd.milestones[0] = 2;
    o.seed = 3;
    o.threads = 1;
    return o;
}

static void assert_same_model(const svdd_model *a, const svdd_model *b) {
    assert_memory_equal(a->net->params, b->net->params, a->net->n_params * sizeof(float));
    assert_memory_equal(a->net->state, b->net->state, a->net->n_state * sizeof(float));
    assert_memory_equal(a->center, b->center, (size_t)svdd_net_latent_dim(a->net) * sizeof(float));
    assert_true(a->radius == b->radius);
    assert_true(a->threshold == b->threshold);
}

/* Copies the checkpoint file as it stands when a chosen epoch ends (the loop reports the epoch,
 * then writes its checkpoint: the copy holds the epoch before), as a kill at that moment would
 * leave it. */
typedef struct snapshot {
    const char *from, *to;
    int at_epoch;
} snapshot;

static void take_snapshot(void *user, const svdd_epoch_report *r) {
    const snapshot *s = user;
    if (r->epoch != s->at_epoch) return;
    size_t len;
    unsigned char *data = slurp(s->from, &len);
    spill(s->to, data, len);
    free(data);
}

static void fit_ok(svdd_model **m, const svdd_dataset *d, const svdd_fit_options *o) {
    svdd_error err;
    if (svdd_model_fit(m, d, o, &err) != SVDD_OK) fail_msg("%s", err.message);
}

/* The epochs a fit runs in one phase: how many, and the first. */
typedef struct epochs_run {
    int count, first;
} epochs_run;

static void count_epoch(void *user, const svdd_epoch_report *r) {
    epochs_run *e = user;
    if (e->count++ == 0) e->first = r->epoch;
}

/* A resumed fit, which must run exactly the epochs after its checkpoint: ae_count pre-training
 * epochs and svdd_count objective epochs, each the last ones of its phase (a fit that started
 * afresh instead would end on the same model, so the model alone cannot tell). */
static void fit_resumed(svdd_model **m, const svdd_dataset *d, svdd_fit_options o, int ae_count, int svdd_count) {
    epochs_run ae = {0, 0}, so = {0, 0};
    o.ae.on_epoch = o.svdd.on_epoch = count_epoch;
    o.ae.on_epoch_user = &ae;
    o.svdd.on_epoch_user = &so;
    fit_ok(m, d, &o);
    assert_int_equal(ae.count, ae_count);
    if (ae_count) assert_int_equal(ae.first, o.ae.epochs - ae_count + 1);
    assert_int_equal(so.count, svdd_count);
    if (svdd_count) assert_int_equal(so.first, o.svdd.epochs - svdd_count + 1);
}

/* Resumed from pre-training or from the objective, with R moving (soft-boundary) and a learning-
 * rate milestone crossed after the resume, a fit ends exactly where an uninterrupted one does;
 * checkpointing itself changes nothing. */
static void test_resume_fit(void **state) {
    fixture *f = *state;
    char mid_ae[96], mid_svdd[96];
    snprintf(mid_ae, sizeof mid_ae, "%s/mid-ae.ckpt", f->dir);
    snprintf(mid_svdd, sizeof mid_svdd, "%s/mid-svdd.ckpt", f->dir);
    const svdd_method methods[] = {SVDD_METHOD_SOFT_BOUNDARY, SVDD_METHOD_HYBRID};
    for (int k = 0; k < 2; k++) {
        svdd_fit_options o = short_fit(methods[k]);
        svdd_model *plain = NULL, *ckpt = NULL, *from_ae = NULL, *from_svdd = NULL;
        fit_ok(&plain, f->train, &o);
        snapshot sa = {f->path, mid_ae, 3}, ss = {f->path, mid_svdd, 3};
        svdd_fit_options oc = o;
        oc.checkpoint_path = f->path;
        oc.ae.on_epoch = oc.svdd.on_epoch = take_snapshot;
        oc.ae.on_epoch_user = &sa;
        oc.svdd.on_epoch_user = &ss;
        fit_ok(&ckpt, f->train, &oc);
        assert_same_model(plain, ckpt);
        /* resume from pre-training epoch 2 and from objective epoch 2, checkpointing on */
        svdd_fit_options orr = o;
        orr.resume_path = mid_ae;
        orr.checkpoint_path = mid_ae;
        fit_resumed(&from_ae, f->train, orr, 1, 3);
        assert_same_model(plain, from_ae);
        orr.resume_path = mid_svdd;
        orr.checkpoint_path = NULL;
        fit_resumed(&from_svdd, f->train, orr, 0, 1);
        assert_same_model(plain, from_svdd);
        /* a checkpoint of the finished run resumes to the same model too, training nothing */
        svdd_model *from_end = NULL;
        orr.resume_path = f->path;
        fit_resumed(&from_end, f->train, orr, 0, 0);
        assert_same_model(plain, from_end);
        svdd_model_free(plain), svdd_model_free(ckpt), svdd_model_free(from_ae), svdd_model_free(from_svdd);
        svdd_model_free(from_end);
    }
    /* the fit refuses a checkpoint of another schedule, naming the option */
    svdd_fit_options o = short_fit(SVDD_METHOD_HYBRID);
    o.svdd.epochs = 4;
    o.resume_path = mid_svdd;
    svdd_model *m = NULL;
    svdd_error err;
    assert_int_equal(svdd_model_fit(&m, f->train, &o, &err), SVDD_E_INVALID);
    assert_non_null(strstr(err.message, "fit.svdd.epochs"));
    assert_null(m);
}

/* A diverging objective stops with SVDD_E_NUMERIC, says which phase and epoch and where the last
 * good checkpoint is, and that checkpoint is readable and finite. (A centre at +-3e38 makes the
 * first batch's distances overflow float; test_nan_gradient_stops covers a NaN gradient under a
 * finite loss.) */
static void test_nan_stop_keeps_checkpoint(void **state) {
    fixture *f = *state;
    svdd_fit_options o = short_fit(SVDD_METHOD_ONE_CLASS);
    (void)remove(f->path); /* a fresh file: the checkpoint read below is this run's */
    o.checkpoint_path = f->path;
    o.center_eps = 3e38;
    svdd_model *m = NULL;
    svdd_error err;
    assert_int_equal(svdd_model_fit(&m, f->train, &o, &err), SVDD_E_NUMERIC);
    assert_null(m);
    assert_non_null(strstr(err.message, "Deep SVDD training: the "));
    assert_non_null(strstr(err.message, "at epoch 1 of 3"));
    assert_non_null(strstr(err.message, f->path));
    assert_non_null(strstr(err.message, "intact"));
    svdd__st *st = NULL;
    if (svdd__st_load(&st, f->path, &err) != SVDD_OK) fail_msg("%s", err.message);
    assert_string_equal(svdd__st_meta(st, "format"), "svdd-checkpoint");
    assert_string_equal(svdd__st_meta(st, "phase"), "pretrain");
    assert_string_equal(svdd__st_meta(st, "epochs_done"), "3");
    assert_int_equal(svdd__st_check_finite(st, NULL, &err), SVDD_OK);
    svdd__st_free(st);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clip_grad_norm), cmocka_unit_test(test_loop_clips), cmocka_unit_test(test_nan_gradient_stops),
        cmocka_unit_test(test_round_trip),     cmocka_unit_test(test_other_spec),
        cmocka_unit_test(test_torn),           cmocka_unit_test(test_parse_from_memory),
        cmocka_unit_test(test_resume_fit),
        cmocka_unit_test(test_nan_stop_keeps_checkpoint),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
