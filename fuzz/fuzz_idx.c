/* Fuzz target: IDX files (MNIST, Fashion-MNIST), raw or gzip-compressed (src/data/idx.c).
 *
 * Input: byte 0 picks the mode, bytes 1-2 (little-endian) the length of the images file, then
 * the images file and, after it, the labels file. Either file may be gzip.
 * - Always: both files are inflated when they are gzip (svdd__maybe_gunzip, bounded as the file
 *   loader bounds it) and parsed from memory, as svdd_dataset_load_idx does when it keeps every
 *   label.
 *   Mode bit 7 inflates without a bound (SIZE_MAX, what a caller's "no limit" gives), still
 *   finite: the inflated size is at most about a thousand times the input's.
 * - Mode bit 0: the two files are also written to a temporary folder and loaded with a label
 *   filter (bits 1-7 choose the kept labels), the path that streams the images through zlib's
 *   gz reader one at a time and never holds the whole file. */
#include "core/core.h"
#include "fuzz_common.h"

/* Small limits: memory for a few thousand 28x28 images, so a header asking for more is refused
 * instead of being allocated, and a gzip bomb stops at a few MB. */
static svdd_load_limits limits(void) {
    svdd_load_limits lim;
    memset(&lim, 0, sizeof lim);
    lim.max_images = 100000;
    lim.max_pixel_bytes = (uint64_t)4 << 20;
    lim.max_side = 4096;
    return lim;
}

/* A copy of data[0..n) inflated if it is gzip; NULL when inflating fails (an expected outcome). */
static unsigned char *inflate_copy(const uint8_t *data, size_t n, size_t max_out, size_t *out_len) {
    unsigned char *p = malloc(n + 1);
    if (!p) abort();
    if (n) memcpy(p, data, n);
    *out_len = n;
    svdd_error err = fuzz_error();
    svdd_status st = svdd__maybe_gunzip(&p, out_len, max_out, "fuzz", &err);
    if (st != SVDD_OK) {
        fuzz_check_failure(st, &err, NULL);
        free(p);
        return NULL;
    }
    return p;
}

static volatile unsigned sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 3) return 0;
    const unsigned mode = data[0];
    size_t img_len = (size_t)data[1] | (size_t)data[2] << 8;
    data += 3, size -= 3;
    if (img_len > size) img_len = size;
    const uint8_t *img = data, *lab = data + img_len;
    const size_t lab_len = size - img_len;
    const svdd_load_limits lim = limits();

    size_t il = 0, ll = 0;
    const int unbounded = (mode & 0x80) != 0;
    unsigned char *ib = inflate_copy(img, img_len, unbounded ? SIZE_MAX : (size_t)lim.max_pixel_bytes + 16, &il);
    unsigned char *lb = inflate_copy(lab, lab_len, unbounded ? SIZE_MAX : (size_t)lim.max_images + 8, &ll);
    if (ib && lb) {
        svdd_dataset *ds = NULL;
        svdd_error err = fuzz_error();
        svdd_status st = svdd_dataset_parse_idx(&ds, ib, il, lb, ll, "fuzz", &lim, &err);
        fuzz_check_failure(st, &err, ds);
        if (st == SVDD_OK) sink += fuzz_touch_dataset(ds);
        svdd_dataset_free(ds);
    }
    free(ib);
    free(lb);

    if (mode & 1) {
        svdd_load_limits kl = lim;
        kl.keep_labels[0] = (uint64_t)(mode >> 1) | 1u; /* never all zero: the filtering loader */
        const char *ip = fuzz_file(0, img, img_len), *lp = fuzz_file(1, lab, lab_len);
        svdd_dataset *ds = NULL;
        svdd_error err = fuzz_error();
        svdd_status st = svdd_dataset_load_idx(&ds, ip, lp, &kl, &err);
        fuzz_check_failure(st, &err, ds);
        if (st == SVDD_OK) sink += fuzz_touch_dataset(ds);
        svdd_dataset_free(ds);
    }
    return 0;
}
