/* Fuzz target: model files (svdd_model_parse, src/model/model_file.c) on top of the safetensors
 * reader: the metadata numbers and names, the network spec stored in the file, every tensor's
 * dtype and shape against that spec, the centre, the latent Gaussian, the calibration scores.
 * The whole input is one model file.
 *
 * A model that loads must be usable: its threshold can be derived again for every kind it
 * supports, a hybrid can switch scores, and (for small inputs, to keep the target fast) it
 * scores an image of its input shape to a finite score. */
#include <math.h>

#include "data/data.h"
#include "fuzz_common.h"

static volatile unsigned sink;

static void use_model(svdd_model *m) {
    svdd_model_info info;
    svdd_model_get_info(m, &info);
    if (info.latent_dim < 1 || info.channels < 1 || info.height < 1 || info.width < 1) abort();
    const size_t in = (size_t)info.channels * (size_t)info.height * (size_t)info.width;
    if (in <= 3 * 32 * 32) {
        svdd_dataset *ds = NULL;
        svdd_error err = fuzz_error();
        if (svdd__dataset_alloc(&ds, 1, info.channels, info.height, info.width, NULL, "fuzz", &err) != SVDD_OK) abort();
        for (size_t i = 0; i < in; i++) ds->pixels[i] = (uint8_t)(i * 37);
        ds->labels[0] = 0;
        ds->n_classes = 1;
        float score = 0;
        uint8_t flag = 0;
        err = fuzz_error();
        svdd_status st = svdd_model_score(m, ds, 0, 1, &score, &flag, &err);
        fuzz_check_failure(st, &err, NULL);
        /* finite weights can still overflow to infinity; that is reported, never a crash */
        if (st == SVDD_OK) sink += (unsigned)isfinite(score) + flag;
        svdd_dataset_free(ds);
    }
    for (int k = SVDD_THRESHOLD_GAUSSIAN; k <= SVDD_THRESHOLD_RADIUS; k++) {
        svdd_error err = fuzz_error();
        svdd_status st = svdd_model_set_threshold(m, (svdd_threshold_kind)k, 0.05, &err);
        fuzz_check_failure(st, &err, NULL);
    }
    for (int s = SVDD_HYBRID_SCORE_SUM; s <= SVDD_HYBRID_SCORE_RECON; s++) {
        svdd_error err = fuzz_error();
        svdd_status st = svdd_model_set_hybrid_score(m, (svdd_hybrid_score)s, &err);
        fuzz_check_failure(st, &err, NULL);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    svdd_model *m = NULL;
    svdd_error err = fuzz_error();
    svdd_status st = svdd_model_parse(&m, data, size, "fuzz.safetensors", &err);
    fuzz_check_failure(st, &err, m);
    if (st == SVDD_OK) use_model(m);
    svdd_model_free(m);
    return 0;
}
