/* The data set object: allocation against limits, accessors, and the one-class views
 * (select one class; relabel normal/anomalous).
 *
 * Layout (see data.h): pixels are n x c x h x w uint8 (NCHW), labels n int32, optional
 * per-image source paths, optional n x h x w defect masks, optional class names. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data.h"

#define DEFAULT_MAX_IMAGES 10000000ull
#define DEFAULT_MAX_PIXEL_BYTES (4ull << 30)
#define DEFAULT_MAX_SIDE 4096u

svdd_load_limits svdd__limits_resolve(const svdd_load_limits *limits) {
    svdd_load_limits r = {DEFAULT_MAX_IMAGES, DEFAULT_MAX_PIXEL_BYTES, DEFAULT_MAX_SIDE, {0, 0, 0, 0}};
    if (limits) {
        memcpy(r.keep_labels, limits->keep_labels, sizeof r.keep_labels);
        if (limits->max_images) r.max_images = limits->max_images;
        if (limits->max_pixel_bytes) r.max_pixel_bytes = limits->max_pixel_bytes;
        if (limits->max_side) r.max_side = limits->max_side;
    }
    return r;
}

svdd_status svdd__dataset_alloc(svdd_dataset **out, size_t n, int c, int h, int w,
                                const svdd_load_limits *limits, const char *name, svdd_error *err) {
    *out = NULL;
    if (!name) name = "data set";
    if (c < 1 || h < 1 || w < 1)
        return svdd__fail(err, SVDD_E_INVALID, "%s: image shape %dx%dx%d is not positive", name, c, h, w);
    svdd_load_limits lim = svdd__limits_resolve(limits);
    if ((uint64_t)n > lim.max_images)
        return svdd__fail(err, SVDD_E_LIMIT,
                          "%s: %zu images, more than the limit of %llu (raise max_images)", name, n,
                          (unsigned long long)lim.max_images);
    if ((uint32_t)h > lim.max_side || (uint32_t)w > lim.max_side)
        return svdd__fail(err, SVDD_E_LIMIT,
                          "%s: images of %dx%d exceed the limit of %u pixels per side (raise max_side)",
                          name, h, w, (unsigned)lim.max_side);
    size_t bytes;
    if (!svdd__mul4_size(n, (size_t)c, (size_t)h, (size_t)w, &bytes) ||
        (uint64_t)bytes > lim.max_pixel_bytes)
        return svdd__fail(err, SVDD_E_LIMIT,
                          "%s: %zu images of %dx%dx%d exceed the limit of %llu pixel bytes "
                          "(raise max_pixel_bytes)",
                          name, n, c, h, w, (unsigned long long)lim.max_pixel_bytes);
    svdd_dataset *ds = calloc(1, sizeof *ds);
    if (!ds) return svdd__fail(err, SVDD_E_NOMEM, "%s: out of memory", name);
    ds->n = n;
    ds->c = c;
    ds->h = h;
    ds->w = w;
    ds->pixels = svdd__alloc(bytes, 1);
    ds->labels = svdd__calloc(n, sizeof(int32_t));
    if (!ds->pixels || !ds->labels) {
        svdd_dataset_free(ds);
        return svdd__fail(err, SVDD_E_NOMEM, "%s: out of memory for %zu images of %dx%dx%d", name,
                          n, c, h, w);
    }
    for (int i = 0; i < SVDD__MAX_DIGIT_CLASSES; i++)
        snprintf(ds->digit_names[i], sizeof ds->digit_names[i], "%d", i);
    *out = ds;
    return SVDD_OK;
}

static void free_strings(char **s, size_t n) {
    if (!s) return;
    for (size_t i = 0; i < n; i++) free(s[i]);
    free(s);
}

/* Copies of the strings, or NULL when out of memory (or when names is NULL). */
static char **copy_strings(const char *const *names, size_t n) {
    if (!names) return NULL;
    char **r = calloc(n ? n : 1, sizeof *r);
    if (!r) return NULL;
    for (size_t i = 0; i < n; i++) {
        r[i] = svdd__strdup(names[i]);
        if (!r[i]) {
            free_strings(r, i);
            return NULL;
        }
    }
    return r;
}

svdd_status svdd__dataset_set_class_names(svdd_dataset *ds, const char *const *names, int n,
                                          svdd_error *err) {
    char **copy = copy_strings(names, (size_t)n);
    if (!copy) return svdd__fail(err, SVDD_E_NOMEM, "out of memory for %d class names", n);
    free_strings(ds->class_names, (size_t)ds->n_classes);
    ds->class_names = copy;
    ds->n_classes = n;
    return SVDD_OK;
}

void svdd_dataset_free(svdd_dataset *ds) {
    if (!ds) return;
    free(ds->pixels);
    free(ds->labels);
    free_strings(ds->class_names, (size_t)ds->n_classes);
    free_strings(ds->paths, ds->n);
    free(ds->masks);
    free(ds);
}

size_t svdd_dataset_count(const svdd_dataset *ds) { return ds ? ds->n : 0; }

void svdd_dataset_shape(const svdd_dataset *ds, int *channels, int *height, int *width) {
    if (channels) *channels = ds ? ds->c : 0;
    if (height) *height = ds ? ds->h : 0;
    if (width) *width = ds ? ds->w : 0;
}

size_t svdd_dataset_image_size(const svdd_dataset *ds) {
    /* Cannot overflow: svdd__dataset_alloc checked n*c*h*w, and h, w <= max_side. */
    return ds ? (size_t)ds->c * (size_t)ds->h * (size_t)ds->w : 0;
}

const uint8_t *svdd_dataset_pixels(const svdd_dataset *ds) { return ds ? ds->pixels : NULL; }
const int32_t *svdd_dataset_labels(const svdd_dataset *ds) { return ds ? ds->labels : NULL; }
int svdd_dataset_num_classes(const svdd_dataset *ds) { return ds ? ds->n_classes : 0; }

const char *svdd_dataset_class_name(const svdd_dataset *ds, int label) {
    if (!ds || label < 0 || label >= ds->n_classes) return NULL;
    if (ds->class_names) return ds->class_names[label];
    return label < SVDD__MAX_DIGIT_CLASSES ? ds->digit_names[label] : NULL;
}

const char *svdd_dataset_path(const svdd_dataset *ds, size_t i) {
    if (!ds || !ds->paths || i >= ds->n) return NULL;
    return ds->paths[i];
}

const uint8_t *svdd_dataset_masks(const svdd_dataset *ds) { return ds ? ds->masks : NULL; }

/* A copy of the images with keep[i] != 0 (count of them), with their labels, paths, masks and
 * the class names. The source already passed its loader's limits, so the copy is not limited. */
static svdd_status copy_selected(svdd_dataset **out, const svdd_dataset *ds, const uint8_t *keep,
                                 size_t count, svdd_error *err) {
    const svdd_load_limits unlimited = {UINT64_MAX, UINT64_MAX, UINT32_MAX, {0, 0, 0, 0}};
    svdd_dataset *r = NULL;
    svdd_status st = svdd__dataset_alloc(&r, count, ds->c, ds->h, ds->w, &unlimited, "data set copy", err);
    if (st != SVDD_OK) return st;
    r->n_classes = ds->n_classes;
    if (ds->class_names) {
        r->class_names = copy_strings((const char *const *)ds->class_names, (size_t)ds->n_classes);
        if (!r->class_names) goto nomem;
    }
    if (ds->paths) {
        r->paths = calloc(count ? count : 1, sizeof *r->paths);
        if (!r->paths) goto nomem;
    }
    if (ds->masks) {
        r->masks = svdd__alloc(count, (size_t)ds->h * (size_t)ds->w);
        if (!r->masks) goto nomem;
    }
    size_t D = svdd_dataset_image_size(ds), M = (size_t)ds->h * (size_t)ds->w;
    for (size_t i = 0, j = 0; i < ds->n; i++) {
        if (!keep[i]) continue;
        memcpy(r->pixels + j * D, ds->pixels + i * D, D);
        r->labels[j] = ds->labels[i];
        if (ds->masks) memcpy(r->masks + j * M, ds->masks + i * M, M);
        if (ds->paths) {
            r->paths[j] = svdd__strdup(ds->paths[i]);
            if (!r->paths[j]) goto nomem;
        }
        j++;
    }
    *out = r;
    return SVDD_OK;
nomem:
    svdd_dataset_free(r);
    return svdd__fail(err, SVDD_E_NOMEM, "out of memory copying %zu images", count);
}

svdd_status svdd_dataset_select_class(svdd_dataset **out, const svdd_dataset *ds, int label,
                                      svdd_error *err) {
    if (!out) return svdd__fail(err, SVDD_E_INVALID, "svdd_dataset_select_class: out is NULL");
    *out = NULL;
    if (!ds) return svdd__fail(err, SVDD_E_INVALID, "svdd_dataset_select_class: data set is NULL");
    if (label < 0 || label >= ds->n_classes)
        return svdd__fail(err, SVDD_E_INVALID, "class %d is out of range: the data set has classes 0..%d",
                          label, ds->n_classes - 1);
    uint8_t *keep = malloc(ds->n ? ds->n : 1);
    if (!keep) return svdd__fail(err, SVDD_E_NOMEM, "out of memory selecting class %d", label);
    size_t count = 0;
    for (size_t i = 0; i < ds->n; i++) {
        keep[i] = ds->labels[i] == label;
        count += keep[i];
    }
    svdd_status st;
    if (count == 0)
        /* An empty training set would only fail later, with a less helpful message. */
        st = svdd__fail(err, SVDD_E_INVALID, "the data set has no images of class %d (%s)", label,
                        svdd_dataset_class_name(ds, label) ? svdd_dataset_class_name(ds, label) : "?");
    else
        st = copy_selected(out, ds, keep, count, err);
    free(keep);
    if (st == SVDD_OK) svdd__ok(err);
    return st;
}

svdd_status svdd_dataset_one_class_labels(svdd_dataset **out, const svdd_dataset *ds,
                                          int normal_class, svdd_error *err) {
    if (!out) return svdd__fail(err, SVDD_E_INVALID, "svdd_dataset_one_class_labels: out is NULL");
    *out = NULL;
    if (!ds) return svdd__fail(err, SVDD_E_INVALID, "svdd_dataset_one_class_labels: data set is NULL");
    if (normal_class < 0 || normal_class >= ds->n_classes)
        return svdd__fail(err, SVDD_E_INVALID,
                          "normal class %d is out of range: the data set has classes 0..%d",
                          normal_class, ds->n_classes - 1);
    uint8_t *keep = malloc(ds->n ? ds->n : 1);
    if (!keep) return svdd__fail(err, SVDD_E_NOMEM, "out of memory relabelling");
    memset(keep, 1, ds->n ? ds->n : 1);
    svdd_dataset *r = NULL;
    svdd_status st = copy_selected(&r, ds, keep, ds->n, err);
    free(keep);
    if (st != SVDD_OK) return st;
    for (size_t i = 0; i < r->n; i++) r->labels[i] = r->labels[i] == normal_class ? 0 : 1;
    /* The labels now mean normal/anomalous, so the names must say so (as for synthetic sets). */
    static const char *const names[2] = {"normal", "anomalous"};
    st = svdd__dataset_set_class_names(r, names, 2, err);
    if (st != SVDD_OK) {
        svdd_dataset_free(r);
        return st;
    }
    *out = r;
    svdd__ok(err);
    return SVDD_OK;
}
