/* The fit's images (images.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../data/data.h"
#include "images.h"
#include "net_store.h"

svdd__images svdd__images_of_floats(const float *x, size_t n, size_t D) {
    svdd__images im = {n, D, x, NULL, NULL, NULL, 1};
    return im;
}

svdd__images svdd__images_of_rows(const svdd_dataset *ds, const uint32_t *rows, size_t n, const svdd_preprocess *pp,
                                  int threads) {
    svdd__images im = {n, svdd_dataset_image_size(ds), NULL, ds, rows, pp, threads > 0 ? threads : 1};
    return im;
}

svdd_status svdd__images_gather(const svdd__images *im, const uint32_t *which, size_t k, float *out, svdd_error *err) {
    for (size_t i = 0; i < k; i++)
        if (which[i] >= im->n)
            return svdd__fail(err, SVDD_E_INVALID, "image %" PRIu32 " of a set of %zu", which[i], im->n);
    if (im->x) {
        for (size_t i = 0; i < k; i++) memcpy(out + i * im->D, im->x + (size_t)which[i] * im->D, im->D * sizeof(float));
        return SVDD_OK;
    }
    return svdd__preprocess_rows(im->pp, im->ds, im->rows, which, k, out, im->threads, err);
}

svdd_status svdd__images_reader_open(svdd__images_reader *r, const svdd__images *im, svdd_error *err) {
    r->im = im;
    r->buf = NULL;
    if (im->x || !im->n) return SVDD_OK;
    r->buf = svdd__alloc(SVDD__IMAGES_BLOCK, im->D * sizeof(float));
    return r->buf ? SVDD_OK : svdd__fail(err, SVDD_E_NOMEM, "out of memory for a block of %d images", SVDD__IMAGES_BLOCK);
}

const float *svdd__images_read(svdd__images_reader *r, size_t first, size_t k, svdd_status *st, svdd_error *err) {
    const svdd__images *im = r->im;
    *st = SVDD_OK;
    if (first > im->n || k > im->n - first || k > SVDD__IMAGES_BLOCK) {
        *st = svdd__fail(err, SVDD_E_INVALID, "images [%zu, %zu + %zu) of a set of %zu, at most %d at a time", first,
                         first, k, im->n, SVDD__IMAGES_BLOCK);
        return NULL;
    }
    if (im->x) return im->x + first * im->D;
    uint32_t which[SVDD__IMAGES_BLOCK];
    for (size_t i = 0; i < k; i++) which[i] = (uint32_t)(first + i);
    *st = svdd__preprocess_rows(im->pp, im->ds, im->rows, which, k, r->buf, im->threads, err);
    return *st == SVDD_OK ? r->buf : NULL;
}

void svdd__images_reader_close(svdd__images_reader *r) {
    free(r->buf);
    r->buf = NULL;
}

svdd_status svdd__images_key(char *buf, size_t size, const svdd__images *im, svdd_error *err) {
    uint64_t h = SVDD__FNV1A_BASIS;
    svdd__images_reader r;
    svdd_status st = svdd__images_reader_open(&r, im, err);
    for (size_t b0 = 0; b0 < im->n && st == SVDD_OK; b0 += SVDD__IMAGES_BLOCK) {
        const size_t k = im->n - b0 < SVDD__IMAGES_BLOCK ? im->n - b0 : SVDD__IMAGES_BLOCK;
        const float *x = svdd__images_read(&r, b0, k, &st, err);
        if (x) h = svdd__fnv1a(h, x, k * im->D * sizeof(float));
    }
    svdd__images_reader_close(&r);
    if (st == SVDD_OK) snprintf(buf, size, "%zu:%016" PRIx64, im->n, h);
    return st;
}
