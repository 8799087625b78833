/* Fuzz target: CIFAR-10 binary batches (src/data/cifar.c), raw or gzip-compressed.
 *
 * Input: byte 0 picks the mode, the rest is one batch file.
 * - Always: inflated when it is gzip (bounded as the file loader bounds it) and parsed from
 *   memory with svdd_dataset_parse_cifar10.
 * - Mode bit 0: also written to a temporary file and loaded with svdd_dataset_load_cifar10, once
 *   or twice in a row (bit 1: the concatenation of several files), keeping only some labels
 *   (bits 2-7; all zero keeps every label), which compacts the records in place. */
#include "core/core.h"
#include "fuzz_common.h"

#define RECORD 3073
#define PIXELS 3072

static volatile unsigned sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const unsigned mode = data[0];
    data++, size--;
    svdd_load_limits lim;
    memset(&lim, 0, sizeof lim);
    lim.max_images = 4096;
    lim.max_pixel_bytes = (uint64_t)PIXELS * 1024; /* 1024 images: a bomb stops at 3 MB */
    const size_t max_bytes = (size_t)(lim.max_pixel_bytes / PIXELS * RECORD);

    unsigned char *p = malloc(size + 1);
    if (!p) abort();
    if (size) memcpy(p, data, size);
    size_t len = size;
    svdd_error err = fuzz_error();
    svdd_status st = svdd__maybe_gunzip(&p, &len, max_bytes, "fuzz", &err);
    fuzz_check_failure(st, &err, NULL);
    if (st == SVDD_OK) {
        svdd_dataset *ds = NULL;
        err = fuzz_error();
        st = svdd_dataset_parse_cifar10(&ds, p, len, "fuzz", &lim, &err);
        fuzz_check_failure(st, &err, ds);
        if (st == SVDD_OK) sink += fuzz_touch_dataset(ds);
        svdd_dataset_free(ds);
    }
    free(p);

    if (mode & 1) {
        svdd_load_limits kl = lim;
        kl.keep_labels[0] = (uint64_t)(mode >> 2);
        const char *path = fuzz_file(0, data, size);
        const char *paths[2] = {path, path};
        svdd_dataset *ds = NULL;
        err = fuzz_error();
        st = svdd_dataset_load_cifar10(&ds, paths, (mode & 2) ? 2 : 1, &kl, &err);
        fuzz_check_failure(st, &err, ds);
        if (st == SVDD_OK) sink += fuzz_touch_dataset(ds);
        svdd_dataset_free(ds);
    }
    return 0;
}
