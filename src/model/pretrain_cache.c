/* A file that keeps a pre-trained network, so that runs sharing the same pre-training (the
 * one-class, soft-boundary and hybrid objectives of one class and seed, say) train the
 * autoencoder once. Pre-training is deterministic given its inputs, so the cached weights are
 * exactly what training would produce; the key written into the file pins every input: the
 * network spec, the pre-training options that change the result, and a hash of the
 * preprocessed training images (which also pins the data set, the class and the calibration
 * split). A file with another key, or one that does not parse, is simply replaced: the cache can
 * never change a result, only save time. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net_store.h"
#include "train.h"

#define CACHE_FORMAT "svdd-pretrained-network"

static svdd_status make_key(char *buf, size_t size, const svdd_net *net, const svdd__images *im,
                            const svdd_train_options *o, svdd_error *err) {
    const uint64_t hspec = svdd__fnv1a(SVDD__FNV1A_BASIS, net->spec, strlen(net->spec));
    char images[64];
    svdd_status st = svdd__images_key(images, sizeof images, im, err);
    if (st != SVDD_OK) return st;
    int len = snprintf(buf, size,
                       "spec=%016" PRIx64 ";images=%s;epochs=%d;batch=%d;lr=%.17g;wd=%.17g;amsgrad=%d;"
                       "gamma=%.17g;seed=%" PRIu64 ";threads=%d;milestones=",
                       hspec, images, o->epochs, o->batch_size, o->lr, o->weight_decay, o->amsgrad, o->gamma, o->seed,
                       o->threads);
    for (int i = 0; i < o->n_milestones && len > 0 && (size_t)len < size; i++)
        len += snprintf(buf + len, size - (size_t)len, "%s%d", i ? "," : "", o->milestones[i]);
    /* clipping changes the result; only when on, so that the keys of existing caches stay valid */
    if (o->clip_grad_norm > 0 && len > 0 && (size_t)len < size)
        snprintf(buf + len, size - (size_t)len, ";clip=%.17g", o->clip_grad_norm);
    return SVDD_OK;
}

/* 1 when `path` holds this key's weights (now loaded into net), 0 otherwise with net untouched:
 * a file with the key that fails half-way (a NaN, a missing tensor) is rolled back, so that
 * training starts from the network's own initialisation, as it would without a cache. */
static int try_load(svdd_net *net, const char *path, const char *key, const svdd_train_options *o) {
    svdd__st *st = NULL;
    svdd_error e;
    if (svdd__st_load(&st, path, &e) != SVDD_OK) return 0;
    const char *fmt = svdd__st_meta(st, "format"), *k = svdd__st_meta(st, "key");
    const size_t np = net->n_params, ns = net->n_state;
    float *init = NULL; /* the network before reading, to roll back to */
    int ok = 0;
    if (fmt && k && strcmp(fmt, CACHE_FORMAT) == 0 && strcmp(k, key) == 0 && (init = malloc((np + ns) * sizeof(float)))) {
        memcpy(init, net->params, np * sizeof(float));
        if (ns) memcpy(init + np, net->state, ns * sizeof(float));
        ok = svdd__net_read_tensors(net, st, &e) == SVDD_OK;
        if (!ok) {
            memcpy(net->params, init, np * sizeof(float));
            if (ns) memcpy(net->state, init + np, ns * sizeof(float));
            svdd__log(o->log, o->log_user, SVDD_LOG_WARN, "%s: unusable pre-trained network (%s); training it again", path,
                      e.message);
        }
    }
    free(init);
    svdd__st_free(st);
    return ok;
}

static svdd_status save(const svdd_net *net, const char *path, const char *key, svdd_error *err) {
    svdd__st_writer *w = NULL;
    svdd_status st = svdd__st_writer_create(&w, err);
    if (st == SVDD_OK) st = svdd__net_write_tensors(w, net, err);
    if (st == SVDD_OK) st = svdd__st_writer_meta(w, "format", CACHE_FORMAT, err);
    if (st == SVDD_OK) st = svdd__st_writer_meta(w, "key", key, err);
    if (st == SVDD_OK) st = svdd__st_writer_meta(w, "spec", net->spec, err);
    if (st == SVDD_OK) st = svdd__st_write_file(w, path, err);
    svdd__st_writer_free(w);
    return st;
}

svdd_status svdd__pretrain_cached(svdd_net *net, const svdd__images *im, const svdd_train_options *o, const char *path,
                                  const svdd__loop_hook *hook, int *from_cache, svdd_error *err) {
    *from_cache = 0;
    if (!path) return svdd__autoencoder_train_hooked(net, im, o, NULL, hook, err);
    char key[512];
    svdd_status st = make_key(key, sizeof key, net, im, o, err);
    if (st != SVDD_OK) return st;
    if (try_load(net, path, key, o)) {
        *from_cache = 1;
        svdd__log(o->log, o->log_user, SVDD_LOG_INFO, "%s: pre-trained network loaded", path);
        return SVDD_OK;
    }
    st = svdd__autoencoder_train_hooked(net, im, o, NULL, hook, err);
    if (st != SVDD_OK) return st;
    svdd_error e;
    /* a cache that cannot be written costs time, not correctness */
    if (save(net, path, key, &e) != SVDD_OK)
        svdd__log(o->log, o->log_user, SVDD_LOG_WARN, "pre-trained network not cached: %s", e.message);
    return SVDD_OK;
}
