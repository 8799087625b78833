/* The images a fit works on, seen as one indexed set: preprocessed floats already in memory, or
 * rows of a data set preprocessed when a batch asks for them. A fit streams its images the second
 * way: their float copy is four times the 8-bit pixels (17 MB for one MNIST class, 55 MB for one
 * CIFAR-10 class) while training needs one batch at a time, and preprocessing a 28x28 image costs
 * about a microsecond against tens for its training step. Both ways give the same floats. */
#ifndef SVDD_IMAGES_H
#define SVDD_IMAGES_H

#include "../core/core.h"

typedef struct svdd__images {
    size_t n;                  /* images */
    size_t D;                  /* floats per image */
    const float *x;            /* n x D preprocessed floats; NULL when the images are rows: */
    const svdd_dataset *ds;    /*   image i is row rows[i] of ds (row i when rows is NULL), */
    const uint32_t *rows;
    const svdd_preprocess *pp; /*   preprocessed by pp */
    int threads;               /*   on this many threads */
} svdd__images;

svdd__images svdd__images_of_floats(const float *x, size_t n, size_t D);
svdd__images svdd__images_of_rows(const svdd_dataset *ds, const uint32_t *rows, size_t n, const svdd_preprocess *pp,
                                  int threads);

/* Images which[0..k) of the set into out (k x D). */
svdd_status svdd__images_gather(const svdd__images *im, const uint32_t *which, size_t k, float *out, svdd_error *err);

/* The passes over a set in order, at most SVDD__IMAGES_BLOCK images at a time: open, read the
 * blocks, close. A reader holds a buffer for one block when the images are rows, none when they
 * are in memory. */
#define SVDD__IMAGES_BLOCK 200
typedef struct svdd__images_reader {
    const svdd__images *im;
    float *buf;
} svdd__images_reader;
svdd_status svdd__images_reader_open(svdd__images_reader *r, const svdd__images *im, svdd_error *err);
/* Images [first, first + k), k <= SVDD__IMAGES_BLOCK: a pointer into the floats when they are in
 * memory, otherwise into the reader's buffer, valid until the next read. NULL on failure, with
 * *st and err set. */
const float *svdd__images_read(svdd__images_reader *r, size_t first, size_t k, svdd_status *st, svdd_error *err);
void svdd__images_reader_close(svdd__images_reader *r);

/* "n:hash": FNV-1a of the n preprocessed images' floats in order (the same hash as of one
 * contiguous copy), which also pins the data set, the normal class, the seed and the calibration
 * split. */
svdd_status svdd__images_key(char *buf, size_t size, const svdd__images *im, svdd_error *err);

#endif
