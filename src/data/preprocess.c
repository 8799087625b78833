/* Preprocessing of Ruff et al. (2018), as in their reference code (Deep-SVDD-PyTorch,
 * datasets/preprocessing.py global_contrast_normalization with scale='l1', then MinMaxScaler-like
 * scaling with per-class min and max):
 *
 *   x = pixels / 255                       (one image, all C*H*W features)
 *   x = x - mean(x)
 *   x = x / mean(|x|)                      (the l1 scale)
 *   x = (x - min) / (max - min)            (min, max over all GCN'd images of the fitted set)
 *
 * Images are uint8 NCHW; the output is float32 in the same layout. Everything is computed in
 * double and rounded once to float at the end.
 *
 * Degenerate cases, which the reference would turn into NaN:
 * - a constant image has l1 scale 0; after subtracting its mean it is all zeros, and it stays
 *   zero (it is not divided);
 * - a fitted set whose images all give the same value has max == min; then the scaling only
 *   shifts (x - min), instead of dividing by zero. */
#include <math.h>
#include <stdlib.h>

#include "data.h"

/* GCN (l1 scale) of one image of D pixels into x. */
static void gcn_l1(const uint8_t *p, size_t D, double *x) {
    /* The pixel sum is an exact integer in double (D * 255 < 2^53). */
    double sum = 0;
    for (size_t i = 0; i < D; i++) sum += p[i];
    double mean = sum / 255.0 / (double)D, l1 = 0;
    for (size_t i = 0; i < D; i++) {
        x[i] = p[i] / 255.0 - mean;
        l1 += fabs(x[i]);
    }
    l1 /= (double)D;
    if (l1 > 0)
        for (size_t i = 0; i < D; i++) x[i] /= l1;
}

svdd_status svdd_preprocess_fit(svdd_preprocess *pp, const svdd_dataset *ds, svdd_error *err) {
    if (!pp || !ds) return svdd__fail(err, SVDD_E_INVALID, "svdd_preprocess_fit: NULL argument");
    if (ds->n == 0) return svdd__fail(err, SVDD_E_INVALID, "svdd_preprocess_fit: the data set is empty");
    size_t D = svdd_dataset_image_size(ds);
    double *x = svdd__alloc(D, sizeof(double));
    if (!x) return svdd__fail(err, SVDD_E_NOMEM, "svdd_preprocess_fit: out of memory");
    double lo = INFINITY, hi = -INFINITY;
    for (size_t k = 0; k < ds->n; k++) {
        gcn_l1(ds->pixels + k * D, D, x);
        for (size_t i = 0; i < D; i++) {
            if (x[i] < lo) lo = x[i];
            if (x[i] > hi) hi = x[i];
        }
    }
    free(x);
    pp->gcn_l1 = 1;
    pp->min = lo;
    pp->max = hi;
    svdd__ok(err);
    return SVDD_OK;
}

svdd_status svdd_preprocess_apply(const svdd_preprocess *pp, const svdd_dataset *ds, size_t first,
                                  size_t count, float *out, svdd_error *err) {
    if (!pp || !ds || (!out && count))
        return svdd__fail(err, SVDD_E_INVALID, "svdd_preprocess_apply: NULL argument");
    if (first > ds->n || count > ds->n - first)
        return svdd__fail(err, SVDD_E_INVALID,
                          "svdd_preprocess_apply: images [%zu, %zu + %zu) are outside the %zu images", first,
                          first, count, ds->n);
    if (!isfinite(pp->min) || !isfinite(pp->max) || pp->max < pp->min)
        return svdd__fail(err, SVDD_E_INVALID,
                          "svdd_preprocess_apply: min %g and max %g are not a finite range; call "
                          "svdd_preprocess_fit first",
                          pp->min, pp->max);
    size_t D = svdd_dataset_image_size(ds);
    double *x = svdd__alloc(D, sizeof(double));
    if (!x) return svdd__fail(err, SVDD_E_NOMEM, "svdd_preprocess_apply: out of memory");
    double range = pp->max > pp->min ? pp->max - pp->min : 1.0;
    for (size_t k = 0; k < count; k++) {
        const uint8_t *p = ds->pixels + (first + k) * D;
        float *o = out + k * D;
        if (pp->gcn_l1) {
            gcn_l1(p, D, x);
        } else {
            for (size_t i = 0; i < D; i++) x[i] = p[i] / 255.0;
        }
        for (size_t i = 0; i < D; i++) o[i] = (float)((x[i] - pp->min) / range);
    }
    free(x);
    svdd__ok(err);
    return SVDD_OK;
}
