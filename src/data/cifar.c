/* CIFAR-10 binary batches (data_batch_1.bin ... data_batch_5.bin, test_batch.bin).
 *
 * Format: no header; a sequence of 3073-byte records, each 1 label byte (0..9) then the 32x32
 * red plane, the green plane and the blue plane, rows top to bottom: that is already NCHW
 * (3 x 32 x 32), so a record's pixels are copied as they are. Files may be gzip-compressed
 * (detected by content); several files are concatenated in the order given. */
#include <stdlib.h>
#include <string.h>

#include "data.h"

#define CIFAR_SIDE 32
#define CIFAR_PIXELS (3 * CIFAR_SIDE * CIFAR_SIDE)
#define CIFAR_RECORD (1 + CIFAR_PIXELS)
#define CIFAR_CLASSES 10

static const char *const cifar_names[CIFAR_CLASSES] = {"airplane", "automobile", "bird", "cat", "deer",
                                                       "dog",      "frog",       "horse", "ship", "truck"};

/* Check one file's bytes: a nonzero whole number of records with labels 0..9. */
static svdd_status check_records(const unsigned char *p, size_t len, const char *name, svdd_error *err) {
    if (len == 0)
        return svdd__fail(err, SVDD_E_FORMAT,
                          "%s: empty file, no CIFAR-10 records; the file is damaged, download it again", name);
    if (len % CIFAR_RECORD != 0)
        return svdd__fail(err, SVDD_E_FORMAT,
                          "%s: %zu bytes is not a nonzero multiple of the %d-byte CIFAR-10 record (%zu "
                          "records and %zu bytes left over); a truncated download, or not a CIFAR-10 "
                          "binary batch (the python and CIFAR-100 versions differ): download the binary "
                          "version again",
                          name, len, CIFAR_RECORD, len / CIFAR_RECORD, len % CIFAR_RECORD);
    size_t n = len / CIFAR_RECORD;
    for (size_t i = 0; i < n; i++) {
        unsigned label = p[i * CIFAR_RECORD];
        if (label >= CIFAR_CLASSES)
            return svdd__fail(err, SVDD_E_FORMAT,
                              "%s: record %zu has label %u, but CIFAR-10 labels are 0..9 (a CIFAR-100 "
                              "file, or a damaged one?); use the CIFAR-10 binary version",
                              name, i, label);
    }
    return SVDD_OK;
}

/* Copy n checked records into images [first, first + n) of ds. */
static void fill_records(svdd_dataset *ds, size_t first, const unsigned char *p, size_t n) {
    for (size_t i = 0; i < n; i++) {
        const unsigned char *r = p + i * CIFAR_RECORD;
        ds->labels[first + i] = r[0];
        memcpy(ds->pixels + (first + i) * CIFAR_PIXELS, r + 1, CIFAR_PIXELS);
    }
}

/* Keep only the records of kept labels, moved to the front, and give the rest of the buffer
 * back: with one class kept, a 50000-image training set never holds more than one file plus that
 * class. */
static void drop_records(unsigned char **buf, size_t *len, const svdd_load_limits *lim) {
    unsigned char *p = *buf;
    size_t n = *len / CIFAR_RECORD, k = 0;
    for (size_t i = 0; i < n; i++)
        if (svdd__keeps(lim, p[i * CIFAR_RECORD])) {
            if (k != i) memmove(p + k * CIFAR_RECORD, p + i * CIFAR_RECORD, CIFAR_RECORD);
            k++;
        }
    *len = k * CIFAR_RECORD;
    unsigned char *q = realloc(p, *len ? *len : 1);
    if (q) *buf = q; /* a failed shrink keeps the larger block, which is still valid */
}

static svdd_status finish(svdd_dataset *ds, svdd_error *err) {
    svdd_status st = svdd__dataset_set_class_names(ds, cifar_names, CIFAR_CLASSES, err);
    if (st == SVDD_OK) svdd__ok(err);
    return st;
}

svdd_status svdd_dataset_parse_cifar10(svdd_dataset **out, const void *data, size_t len, const char *name,
                                       const svdd_load_limits *limits, svdd_error *err) {
    if (!out) return svdd__fail(err, SVDD_E_INVALID, "svdd_dataset_parse_cifar10: out is NULL");
    *out = NULL;
    if (!name) name = "CIFAR-10";
    if (!data && len) return svdd__fail(err, SVDD_E_INVALID, "%s: NULL buffer with a nonzero length", name);
    svdd_status st = check_records(data, len, name, err);
    if (st != SVDD_OK) return st;
    svdd_dataset *ds = NULL;
    size_t n = len / CIFAR_RECORD;
    st = svdd__dataset_alloc(&ds, n, 3, CIFAR_SIDE, CIFAR_SIDE, limits, name, err);
    if (st != SVDD_OK) return st;
    fill_records(ds, 0, data, n);
    st = finish(ds, err);
    if (st != SVDD_OK) {
        svdd_dataset_free(ds);
        return st;
    }
    *out = ds;
    return SVDD_OK;
}

svdd_status svdd_dataset_load_cifar10(svdd_dataset **out, const char *const *paths, size_t n_paths,
                                      const svdd_load_limits *limits, svdd_error *err) {
    if (!out) return svdd__fail(err, SVDD_E_INVALID, "svdd_dataset_load_cifar10: out is NULL");
    *out = NULL;
    if (!paths || n_paths == 0)
        return svdd__fail(err, SVDD_E_INVALID, "svdd_dataset_load_cifar10: no files given");
    for (size_t f = 0; f < n_paths; f++)
        if (!paths[f]) return svdd__fail(err, SVDD_E_INVALID, "svdd_dataset_load_cifar10: path %zu is NULL", f);
    svdd_load_limits lim = svdd__limits_resolve(limits);
    /* A file holding more records than the limits allow cannot load anyway. */
    uint64_t max_bytes64 = lim.max_pixel_bytes / CIFAR_PIXELS * CIFAR_RECORD;
    size_t max_bytes = max_bytes64 > SIZE_MAX ? SIZE_MAX : (size_t)max_bytes64;

    /* Keep every file's bytes until the total is known, so that the pixels are allocated once. */
    unsigned char **bufs = calloc(n_paths, sizeof *bufs);
    size_t *lens = calloc(n_paths, sizeof *lens);
    svdd_dataset *ds = NULL;
    svdd_status st = SVDD_OK;
    size_t total = 0;
    if (!bufs || !lens) {
        st = svdd__fail(err, SVDD_E_NOMEM, "out of memory listing %zu files", n_paths);
        goto done;
    }
    for (size_t f = 0; f < n_paths && st == SVDD_OK; f++) {
        st = svdd__read_file(paths[f], max_bytes, &bufs[f], &lens[f], err);
        if (st == SVDD_OK) st = svdd__maybe_gunzip(&bufs[f], &lens[f], max_bytes, paths[f], err);
        if (st == SVDD_OK) st = check_records(bufs[f], lens[f], paths[f], err);
        if (st == SVDD_OK && !svdd__keeps_all(&lim)) drop_records(&bufs[f], &lens[f], &lim);
        if (st == SVDD_OK) total += lens[f] / CIFAR_RECORD; /* bounded: every file fits in memory */
    }
    if (st != SVDD_OK) goto done;
    st = svdd__dataset_alloc(&ds, total, 3, CIFAR_SIDE, CIFAR_SIDE, &lim, paths[0], err);
    if (st != SVDD_OK) goto done;
    for (size_t f = 0, first = 0; f < n_paths; f++) {
        size_t n = lens[f] / CIFAR_RECORD;
        fill_records(ds, first, bufs[f], n);
        first += n;
    }
    st = finish(ds, err);
    if (st == SVDD_OK) {
        *out = ds;
        ds = NULL;
    }
done:
    svdd_dataset_free(ds);
    for (size_t f = 0; bufs && f < n_paths; f++) free(bufs[f]);
    free(bufs);
    free(lens);
    return st;
}
