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

#include "../io/safetensors.h"
#include "../nn/network.h"
#include "train.h"

#define CACHE_FORMAT "svdd-pretrained-network"

/* 64-bit FNV-1a: a fingerprint, not a defence against crafted collisions (the file is the
 * user's own cache). */
static uint64_t fnv1a(uint64_t h, const void *data, size_t len) {
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

static void make_key(char *buf, size_t size, const svdd_net *net, const float *x, size_t n, const svdd_train_options *o) {
    const uint64_t h0 = 0xcbf29ce484222325ull;
    const uint64_t hspec = fnv1a(h0, net->spec, strlen(net->spec));
    const uint64_t hx = fnv1a(h0, x, n * svdd__stack_in_size(&net->enc) * sizeof(float));
    int len = snprintf(buf, size,
                       "spec=%016" PRIx64 ";images=%zu:%016" PRIx64 ";epochs=%d;batch=%d;lr=%.17g;wd=%.17g;amsgrad=%d;"
                       "gamma=%.17g;seed=%" PRIu64 ";threads=%d;milestones=",
                       hspec, n, hx, o->epochs, o->batch_size, o->lr, o->weight_decay, o->amsgrad, o->gamma, o->seed,
                       o->threads);
    for (int i = 0; i < o->n_milestones && len > 0 && (size_t)len < size; i++)
        len += snprintf(buf + len, size - (size_t)len, "%s%d", i ? "," : "", o->milestones[i]);
    /* clipping changes the result; only when on, so that the keys of existing caches stay valid */
    if (o->clip_grad_norm > 0 && len > 0 && (size_t)len < size)
        snprintf(buf + len, size - (size_t)len, ";clip=%.17g", o->clip_grad_norm);
}

/* 1 when `path` holds this key's weights (now loaded into net), 0 otherwise (net untouched
 * unless the file matched and then failed half-way, in which case the caller retrains). */
static int try_load(svdd_net *net, const char *path, const char *key, const svdd_train_options *o) {
    svdd__st *st = NULL;
    svdd_error e;
    if (svdd__st_load(&st, path, &e) != SVDD_OK) return 0;
    const char *fmt = svdd__st_meta(st, "format"), *k = svdd__st_meta(st, "key");
    int ok = fmt && k && strcmp(fmt, CACHE_FORMAT) == 0 && strcmp(k, key) == 0;
    for (int i = 0; ok && i < svdd__net_tensor_count(net); i++) {
        svdd__tensor_info t;
        svdd__net_tensor(net, i, &t);
        ok = svdd__st_read_f32(st, t.name, t.data, t.len, t.ndim, t.shape, &e) == SVDD_OK &&
             svdd__st_check_finite(st, t.name, &e) == SVDD_OK;
    }
    if (!ok && fmt && k && strcmp(k, key) == 0)
        svdd__log(o->log, o->log_user, SVDD_LOG_WARN, "%s: unusable pre-trained network (%s); training it again", path, e.message);
    svdd__st_free(st);
    return ok;
}

static svdd_status save(const svdd_net *net, const char *path, const char *key, svdd_error *err) {
    svdd__st_writer *w = NULL;
    svdd_status st = svdd__st_writer_create(&w, err);
    for (int i = 0; st == SVDD_OK && i < svdd__net_tensor_count(net); i++) {
        svdd__tensor_info t;
        svdd__net_tensor(net, i, &t);
        st = svdd__st_writer_add_f32(w, t.name, t.ndim, t.shape, t.data, err);
    }
    if (st == SVDD_OK) st = svdd__st_writer_meta(w, "format", CACHE_FORMAT, err);
    if (st == SVDD_OK) st = svdd__st_writer_meta(w, "key", key, err);
    if (st == SVDD_OK) st = svdd__st_writer_meta(w, "spec", net->spec, err);
    if (st == SVDD_OK) st = svdd__st_write_file(w, path, err);
    svdd__st_writer_free(w);
    return st;
}

svdd_status svdd__pretrain_cached(svdd_net *net, const float *x, size_t n, const svdd_train_options *o, const char *path,
                                  const svdd__loop_hook *hook, int *from_cache, svdd_error *err) {
    *from_cache = 0;
    if (!path) return svdd__autoencoder_train_hooked(net, x, n, o, NULL, hook, err);
    char key[512];
    make_key(key, sizeof key, net, x, n, o);
    if (try_load(net, path, key, o)) {
        *from_cache = 1;
        svdd__log(o->log, o->log_user, SVDD_LOG_INFO, "%s: pre-trained network loaded", path);
        return SVDD_OK;
    }
    svdd_status st = svdd__autoencoder_train_hooked(net, x, n, o, NULL, hook, err);
    if (st != SVDD_OK) return st;
    svdd_error e;
    /* a cache that cannot be written costs time, not correctness */
    if (save(net, path, key, &e) != SVDD_OK)
        svdd__log(o->log, o->log_user, SVDD_LOG_WARN, "pre-trained network not cached: %s", e.message);
    return SVDD_OK;
}
