/* Fuzz target: training checkpoints (svdd__ckpt_parse, src/model/checkpoint.c, the code behind
 * `svdd train --resume`) on top of the safetensors reader: format and version, the spec and the
 * schedule against the run's, the phase, epoch, Adam step, generator state and R in the metadata,
 * every tensor's shape against the network, finite values, non-negative second moments, the
 * shuffling order as a permutation, the centre. The whole input is one checkpoint file.
 *
 * A checkpoint is read into the network of a run, and checked against that run's options and
 * images. The target takes the run the file claims to be, as a user resuming with the right
 * options would give it: the network from the file's own spec (when it parses and is small), the
 * image fingerprint from 'fit.images' and the number of images from the length of 'loop.order';
 * the method from 'fit.method'; every other option is fixed to those fuzz/make_corpus.sh trains
 * the seeds with. So the seeds load, and a mutation anywhere else meets the reader's own checks.
 * A file that does not parse as safetensors is still given to the checkpoint parser (with the
 * seeds' network) so that its failure is checked too.
 *
 * A checkpoint that loads must be one a fit can continue from: its phase, epoch and generator
 * stream are the phase's, the order is a permutation of the images, the centre is there exactly
 * in the objective phase, and every value the network received is finite. */
#include <math.h>

#include "io/safetensors.h"
#include "model/checkpoint.h"
#include "model/model.h"
#include "fuzz_common.h"

/* The network of the seeds (fuzz/make_corpus.sh writes the same text to ckpt.spec). */
static const char SEED_SPEC[] = "svdd-spec 1\nname fuzz-ckpt\ninput 1 28 28\nencoder\nmaxpool2d 2\nmaxpool2d 2\n"
                                "conv2d 2 k=3 pad=1\nbatchnorm eps=1e-4\nleaky_relu slope=0.01\nmaxpool2d 2\nflatten\n"
                                "linear 3\ndecoder\nlinear 49\nreshape 1 7 7\nleaky_relu\nupsample2d 2\nupsample2d 2\n"
                                "sigmoid\n";
/* Training images of the seeds: 2000 synthetic normal images less the 89% calibration split. */
#define SEED_IMAGES 220
/* Networks built from a file's spec stay small: a valid spec may ask for 2^28 parameters, which
 * is a large network, not a reader bug (fuzz_spec covers the spec parser itself). */
#define MAX_PARAMS ((size_t)1 << 16)
/* More images than this in 'loop.order' are not taken as the run's (the reader would allocate
 * for them before it reads the tensor). */
#define MAX_IMAGES ((size_t)1 << 20)

static svdd_net *seed_net;
static volatile unsigned sink;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    svdd_error err = fuzz_error();
    if (svdd_net_create(&seed_net, SEED_SPEC, "fuzz-ckpt", 1, &err) != SVDD_OK) abort();
    return 0;
}

/* The options of `svdd train` in fuzz/make_corpus.sh: --ae-epochs 2 --epochs 1 --warmup-epochs 0
 * --batch-size 64 --calibration 0.89 --threads 1 --seed 1. */
static svdd_fit_options seed_options(svdd_method method) {
    svdd_fit_options o = svdd_fit_defaults();
    o.objective.method = method;
    o.objective.warmup_epochs = 0;
    o.ae.epochs = 2;
    o.svdd.epochs = 1;
    o.ae.batch_size = o.svdd.batch_size = 64;
    o.calibration_fraction = 0.89;
    o.threads = 1;
    o.seed = 1;
    return o;
}

/* The reader logs the options that may differ on resume (threads, clipping); the message is
 * formatted from file strings, so it is read whole. */
static void log_line(void *user, svdd_log_level level, const char *message) {
    (void)user;
    sink += (unsigned)level + (unsigned)strlen(message);
}

/* A network built from the file's spec, or NULL (then the seeds' network is used). */
static svdd_net *net_from_spec(const char *spec) {
    if (!spec) return NULL;
    svdd_net probe;
    memset(&probe, 0, sizeof probe);
    svdd_error err = fuzz_error();
    svdd_status st = svdd__spec_parse(&probe, spec, "fuzz.spec", &err);
    const size_t np = probe.n_params;
    free(probe.enc.layers);
    free(probe.dec.layers);
    if (st != SVDD_OK || np > MAX_PARAMS) return NULL;
    svdd_net *net = NULL;
    err = fuzz_error();
    if (svdd_net_create(&net, spec, "fuzz.spec", 1, &err) != SVDD_OK) abort(); /* it parsed, and it is small */
    return net;
}

static int finite_all(const float *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

/* What a fit resuming from `ck` relies on. */
static void check_loaded(const svdd_net *net, const svdd__ckpt *ck, size_t n, const svdd_fit_options *o) {
    if (ck->phase != SVDD__PHASE_PRETRAIN && ck->phase != SVDD__PHASE_OBJECTIVE) abort();
    const svdd_train_options *t = ck->phase == SVDD__PHASE_PRETRAIN ? &o->ae : &o->svdd;
    if (ck->pos.epochs_done < 0 || ck->pos.epochs_done > t->epochs || ck->pos.n != n) abort();
    const uint64_t stream = ck->phase == SVDD__PHASE_PRETRAIN ? SVDD__STREAM_AE : SVDD__STREAM_SVDD;
    if (ck->pos.rng.inc != ((stream << 1u) | 1u)) abort();
    if (!isfinite(ck->pos.radius) || ck->pos.radius < 0 || net->adam_step < 0) abort();
    unsigned char *seen = calloc(n ? n : 1, 1);
    if (!seen || !ck->pos.order) abort();
    for (size_t i = 0; i < n; i++) {
        if (ck->pos.order[i] >= n || seen[ck->pos.order[i]]++) abort();
    }
    free(seen);
    const size_t L = (size_t)svdd_net_latent_dim(net);
    if ((ck->phase == SVDD__PHASE_OBJECTIVE) != (ck->center != NULL)) abort();
    if (ck->center && !finite_all(ck->center, L)) abort();
    if (!finite_all(net->params, net->n_params) || !finite_all(net->state, net->n_state) ||
        !finite_all(net->adam_m, net->n_params) || !finite_all(net->adam_v, net->n_params) ||
        !finite_all(net->adam_vmax, net->n_params))
        abort();
    for (size_t i = 0; i < net->n_params; i++)
        if (net->adam_v[i] < 0 || net->adam_vmax[i] < 0) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    svdd_method method = SVDD_METHOD_ONE_CLASS;
    size_t n = SEED_IMAGES;
    char key[64] = "";
    svdd_net *own = NULL;

    /* the run the file claims to be */
    svdd__st *st = NULL;
    svdd_error err = fuzz_error();
    if (svdd__st_parse(&st, data, size, "fuzz.ckpt", &err) == SVDD_OK) {
        own = net_from_spec(svdd__st_meta(st, "spec"));
        const char *k = svdd__st_meta(st, "fit.images");
        if (k && strlen(k) < sizeof key) memcpy(key, k, strlen(k) + 1);
        const char *m = svdd__st_meta(st, "fit.method");
        svdd_method parsed;
        err = fuzz_error();
        if (m && svdd_method_parse(m, &parsed, &err) == SVDD_OK) method = parsed;
        const svdd__st_tensor *t = svdd__st_find(st, "loop.order");
        if (t && t->ndim == 1 && t->numel <= MAX_IMAGES) n = t->numel;
        svdd__st_free(st);
    }
    svdd_net *net = own ? own : seed_net;
    svdd_fit_options o = seed_options(method);
    o.log = log_line;

    svdd__ckpt ck;
    err = fuzz_error();
    svdd_status rc = svdd__ckpt_parse(data, size, "fuzz.ckpt", net, n, &ck, &o, key, &err);
    fuzz_check_failure(rc, &err, ck.pos.order);
    if (rc != SVDD_OK && ck.center) abort();
    if (rc == SVDD_OK) check_loaded(net, &ck, n, &o);
    svdd__ckpt_free(&ck);
    svdd_net_free(own);
    return 0;
}
