/* Fuzz target: PNG and JPEG decoding (src/data/image_folder.c), through
 * svdd_dataset_decode_image: the same decode() the image-folder loader runs on every file it
 * reads, with the format picked from the bytes. The whole input is one image file. */
#include "fuzz_common.h"

static volatile unsigned sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* Default side limit (4096) but a small pixel budget, so that a header announcing a huge
     * image is refused (SVDD_E_LIMIT) before the decoder spends time on it. */
    svdd_load_limits lim;
    memset(&lim, 0, sizeof lim);
    lim.max_pixel_bytes = (uint64_t)1 << 20;
    svdd_dataset *ds = NULL;
    svdd_error err = fuzz_error();
    svdd_status st = svdd_dataset_decode_image(&ds, data, size, "fuzz", &lim, &err);
    fuzz_check_failure(st, &err, ds);
    if (st == SVDD_OK) {
        int c, h, w;
        svdd_dataset_shape(ds, &c, &h, &w);
        if (svdd_dataset_count(ds) != 1 || (c != 1 && c != 3) || h < 1 || w < 1) abort();
        sink += fuzz_touch_dataset(ds);
    }
    svdd_dataset_free(ds);
    return 0;
}
