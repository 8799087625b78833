/* The data set object and the loaders' shared helpers. */
#ifndef SVDD_DATA_H
#define SVDD_DATA_H

#include "../core/core.h"

/* Labels of sets without class names are at most this many (IDX labels are one byte). */
#define SVDD__MAX_DIGIT_CLASSES 256

struct svdd_dataset {
    size_t n;             /* images */
    int c, h, w;          /* channels, rows, columns */
    uint8_t *pixels;      /* n * c * h * w, NCHW */
    int32_t *labels;      /* n */
    int n_classes;
    char **class_names;   /* n_classes names, or NULL (then names are the decimal labels) */
    char **paths;         /* n source paths (image folders), or NULL */
    uint8_t *masks;       /* n * h * w defect masks (synthetic sets), or NULL */
    /* "0".."255", filled by svdd__dataset_alloc, so that svdd_dataset_class_name can return a
     * stable pointer for unnamed classes without static state. */
    char digit_names[SVDD__MAX_DIGIT_CLASSES][4];
};

/* The limits with zero fields replaced by the defaults. */
svdd_load_limits svdd__limits_resolve(const svdd_load_limits *limits);

/* Whether a loader with these (resolved) limits keeps every label, or label `label`. */
static inline int svdd__keeps_all(const svdd_load_limits *l) {
    return !(l->keep_labels[0] | l->keep_labels[1] | l->keep_labels[2] | l->keep_labels[3]);
}
static inline int svdd__keeps(const svdd_load_limits *l, int label) {
    return svdd__keeps_all(l) || (label >= 0 && label < 256 && (l->keep_labels[label / 64] >> (label % 64) & 1));
}

/* An empty data set with room for n images of c x h x w (pixels and labels allocated, checked
 * against the limits); `name` is used in messages. n may be 0 (an empty selection). */
svdd_status svdd__dataset_alloc(svdd_dataset **out, size_t n, int c, int h, int w,
                                const svdd_load_limits *limits, const char *name, svdd_error *err);

/* Give ds the class names names[0..n) (copied); SVDD_E_NOMEM on failure (ds unchanged). */
svdd_status svdd__dataset_set_class_names(svdd_dataset *ds, const char *const *names, int n,
                                          svdd_error *err);

/* Preprocess images which[0..k) of a set whose image i is row rows[i] of ds (row i when rows is
 * NULL) into out (k x image size floats), on `threads` OpenMP threads: the floats
 * svdd_preprocess_apply gives, whatever the thread count. */
svdd_status svdd__preprocess_rows(const svdd_preprocess *pp, const svdd_dataset *ds, const uint32_t *rows,
                                  const uint32_t *which, size_t k, float *out, int threads, svdd_error *err);

#endif
