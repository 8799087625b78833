/* The data set object and the loaders' shared helpers. */
#ifndef SVDD_DATA_H
#define SVDD_DATA_H

#include "../core/core.h"

struct svdd_dataset {
    size_t n;             /* images */
    int c, h, w;          /* channels, rows, columns */
    uint8_t *pixels;      /* n * c * h * w, NCHW */
    int32_t *labels;      /* n */
    int n_classes;
    char **class_names;   /* n_classes names, or NULL (then names are the decimal labels) */
    char **paths;         /* n source paths (image folders), or NULL */
    uint8_t *masks;       /* n * h * w defect masks (synthetic sets), or NULL */
};

/* The limits with zero fields replaced by the defaults. */
svdd_load_limits svdd__limits_resolve(const svdd_load_limits *limits);

/* An empty data set with room for n images of c x h x w (pixels and labels allocated, checked
 * against the limits); `name` is used in messages. */
svdd_status svdd__dataset_alloc(svdd_dataset **out, size_t n, int c, int h, int w,
                                const svdd_load_limits *limits, const char *name, svdd_error *err);

#endif
