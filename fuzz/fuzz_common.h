/* Helpers shared by the fuzz targets (fuzz/README.md): reading every byte a parser hands back, so
 * that AddressSanitizer checks the whole of it, and a private temporary folder for the targets
 * that also drive the file loaders. Header-only: each target is one translation unit. */
#ifndef SVDD_FUZZ_COMMON_H
#define SVDD_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "svdd.h"

/* libFuzzer's entry points (it declares them in C++ only). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A checksum over every pixel, label and class name of a data set: a result nobody reads would
 * let the compiler skip the reads, and the reads are what makes ASan look at every byte. */
static inline unsigned fuzz_touch_dataset(const svdd_dataset *ds) {
    int c = 0, h = 0, w = 0;
    svdd_dataset_shape(ds, &c, &h, &w);
    const size_t n = svdd_dataset_count(ds), d = svdd_dataset_image_size(ds);
    if (d != (size_t)c * (size_t)h * (size_t)w) abort();
    const uint8_t *px = svdd_dataset_pixels(ds);
    const int32_t *lab = svdd_dataset_labels(ds);
    unsigned sum = 0;
    for (size_t i = 0; i < n * d; i++) sum += px[i];
    const int k = svdd_dataset_num_classes(ds);
    for (size_t i = 0; i < n; i++) {
        /* every label must name a class of the set */
        if (lab[i] < 0 || lab[i] >= k) abort();
        sum += (unsigned)lab[i];
    }
    for (int i = 0; i < k; i++) {
        const char *name = svdd_dataset_class_name(ds, i);
        if (!name) abort();
        sum += (unsigned)strlen(name);
    }
    return sum;
}

/* A failed call must leave no object behind and say what went wrong; `err` was cleared before
 * the call, so an empty message means the failure skipped svdd__fail. */
static inline void fuzz_check_failure(svdd_status st, const svdd_error *err, const void *obj) {
    if (st == SVDD_OK) return;
    if (obj || err->status != st || !err->message[0] || !memchr(err->message, 0, sizeof err->message)) abort();
}

static inline svdd_error fuzz_error(void) {
    svdd_error e;
    memset(&e, 0, sizeof e);
    return e;
}

/* A folder of our own under /dev/shm (else $TMPDIR or /tmp), made once and removed at exit; the file targets
 * write their inputs there. */
static char fuzz_dir[256];

static inline void fuzz_dir_remove(void) {
    if (!fuzz_dir[0]) return;
    char cmd[300];
    /* only our own files, by the names fuzz_file() gives */
    for (int i = 0; i < 4; i++) {
        snprintf(cmd, sizeof cmd, "%s/in%d", fuzz_dir, i);
        unlink(cmd);
    }
    rmdir(fuzz_dir);
}

static inline const char *fuzz_dir_get(void) {
    if (!fuzz_dir[0]) {
        /* memory-backed /dev/shm when there is one: a disk-backed /tmp makes the file targets
         * several times slower */
        const char *t = getenv("TMPDIR");
        if (access("/dev/shm", W_OK | X_OK) == 0) t = "/dev/shm";
        snprintf(fuzz_dir, sizeof fuzz_dir, "%s/svdd-fuzz-XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(fuzz_dir)) abort();
        atexit(fuzz_dir_remove);
    }
    return fuzz_dir;
}

/* Write bytes to the temporary file number i (0..3) and return its path (a static buffer per i). */
static inline const char *fuzz_file(int i, const uint8_t *data, size_t size) {
    static char paths[4][300];
    snprintf(paths[i], sizeof paths[i], "%s/in%d", fuzz_dir_get(), i);
    FILE *f = fopen(paths[i], "wb");
    if (!f) abort();
    if (size && fwrite(data, 1, size, f) != size) abort();
    if (fclose(f) != 0) abort();
    return paths[i];
}

#endif
