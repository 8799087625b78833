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
 * - a constant image has l1 scale 0; after subtracting its mean it is all zeros (set so: its mean
 *   as computed can be a rounding off its pixels' value), and it stays zero (it is not divided);
 * - a fitted set whose images all give the same value has max == min; then the scaling only
 *   shifts (x - min), instead of dividing by zero. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "data.h"

/* p / 255.0 for every pixel value: the doubles the division gives, looked up instead of divided
 * (a division a pixel was most of the preprocessing's time, itself a twentieth of a training
 * run's, since every epoch's batches are preprocessed again). */
static void pixel_table(double t[256]) {
    for (int v = 0; v < 256; v++) t[v] = v / 255.0;
}

/* GCN of one image of D pixels into x, minus the l1 scale's division: returns the l1 scale
 * (0 for a constant image, which is all zeros). */
static double gcn_l1(const uint8_t *p, size_t D, const double *t, double *x) {
    /* The pixel sum is an exact integer (D * 255 < 2^53). */
    uint64_t sum = 0;
    uint8_t lo = 255, hi = 0;
    for (size_t i = 0; i < D; i++) {
        sum += p[i];
        lo = p[i] < lo ? p[i] : lo;
        hi = p[i] > hi ? p[i] : hi;
    }
    if (lo == hi) {
        /* sum / 255 / D, rounded twice, is often not the pixel's own p / 255 (65 of the 256 grey
         * levels on 28 x 28 images), which would leave differences of one rounding, an l1 scale of
         * that size, and the image at +-1 instead of 0 */
        for (size_t i = 0; i < D; i++) x[i] = 0.0;
        return 0.0;
    }
    double mean = (double)sum / 255.0 / (double)D, l1 = 0;
    for (size_t i = 0; i < D; i++) {
        x[i] = t[p[i]] - mean;
        l1 += fabs(x[i]);
    }
    return l1 / (double)D;
}

svdd_status svdd_preprocess_fit(svdd_preprocess *pp, const svdd_dataset *ds, svdd_error *err) {
    if (!pp || !ds) return svdd__fail(err, SVDD_E_INVALID, "svdd_preprocess_fit: NULL argument");
    if (ds->n == 0) return svdd__fail(err, SVDD_E_INVALID, "svdd_preprocess_fit: the data set is empty");
    size_t D = svdd_dataset_image_size(ds);
    double *x = svdd__alloc(D, sizeof(double));
    if (!x) return svdd__fail(err, SVDD_E_NOMEM, "svdd_preprocess_fit: out of memory");
    double lo = INFINITY, hi = -INFINITY, t[256];
    pixel_table(t);
    for (size_t k = 0; k < ds->n; k++) {
        const double l1 = gcn_l1(ds->pixels + k * D, D, t, x);
        for (size_t i = 0; i < D; i++) {
            const double v = l1 > 0 ? x[i] / l1 : x[i];
            if (v < lo) lo = v;
            if (v > hi) hi = v;
        }
    }
    free(x);
    pp->gcn_l1 = 1;
    pp->min = lo;
    pp->max = hi;
    svdd__ok(err);
    return SVDD_OK;
}

/* The preprocessing must be fitted: a finite range. */
static svdd_status check_fitted(const svdd_preprocess *pp, const char *what, svdd_error *err) {
    if (!isfinite(pp->min) || !isfinite(pp->max) || pp->max < pp->min)
        return svdd__fail(err, SVDD_E_INVALID, "%s: min %g and max %g are not a finite range; call svdd_preprocess_fit first",
                          what, pp->min, pp->max);
    return SVDD_OK;
}

/* One image of D pixels into o, with x (D doubles) as scratch and t from pixel_table. */
static void apply_one(const svdd_preprocess *pp, const uint8_t *p, size_t D, const double *t, double *x, float *o) {
    const double range = pp->max > pp->min ? pp->max - pp->min : 1.0, lo = pp->min;
    if (pp->gcn_l1) {
        const double l1 = gcn_l1(p, D, t, x);
        if (l1 > 0) {
            for (size_t i = 0; i < D; i++) o[i] = (float)((x[i] / l1 - lo) / range);
            return;
        }
    } else {
        for (size_t i = 0; i < D; i++) x[i] = t[p[i]];
    }
    for (size_t i = 0; i < D; i++) o[i] = (float)((x[i] - lo) / range);
}

svdd_status svdd_preprocess_apply(const svdd_preprocess *pp, const svdd_dataset *ds, size_t first,
                                  size_t count, float *out, svdd_error *err) {
    if (!pp || !ds || (!out && count))
        return svdd__fail(err, SVDD_E_INVALID, "svdd_preprocess_apply: NULL argument");
    if (first > ds->n || count > ds->n - first)
        return svdd__fail(err, SVDD_E_INVALID,
                          "svdd_preprocess_apply: images [%zu, %zu + %zu) are outside the %zu images", first,
                          first, count, ds->n);
    svdd_status st = check_fitted(pp, "svdd_preprocess_apply", err);
    if (st != SVDD_OK) return st;
    size_t D = svdd_dataset_image_size(ds);
    double *x = svdd__alloc(D, sizeof(double)), t[256];
    if (!x) return svdd__fail(err, SVDD_E_NOMEM, "svdd_preprocess_apply: out of memory");
    pixel_table(t);
    for (size_t k = 0; k < count; k++) apply_one(pp, ds->pixels + (first + k) * D, D, t, x, out + k * D);
    free(x);
    svdd__ok(err);
    return SVDD_OK;
}

svdd_status svdd__preprocess_rows(const svdd_preprocess *pp, const svdd_dataset *ds, const uint32_t *rows,
                                  const uint32_t *which, size_t k, float *out, int threads, svdd_error *err) {
    svdd_status st = check_fitted(pp, "preprocessing", err);
    if (st != SVDD_OK) return st;
    for (size_t i = 0; i < k; i++) {
        const size_t r = rows ? rows[which[i]] : which[i];
        if (r >= ds->n) return svdd__fail(err, SVDD_E_INVALID, "preprocessing: image %zu of a set of %zu", r, ds->n);
    }
    const size_t D = svdd_dataset_image_size(ds);
    /* images are independent: the same floats on any number of threads; a small batch is not
     * worth waking them */
    /* cppcheck-suppress unreadVariable ; read by the pragma, which cppcheck does not parse */
    const int T = threads > 1 && k >= 16 ? threads : 1;
    int failed = 0;
    double t[256];
    pixel_table(t);
#pragma omp parallel num_threads(T) reduction(| : failed) if (T > 1)
    {
        double *x = svdd__alloc(D, sizeof(double));
#pragma omp for schedule(static)
        for (long i = 0; i < (long)k; i++) {
            const size_t r = rows ? rows[which[i]] : which[i];
            if (x)
                apply_one(pp, ds->pixels + r * D, D, t, x, out + (size_t)i * D);
            else
                failed = 1;
        }
        free(x);
    }
    return failed ? svdd__fail(err, SVDD_E_NOMEM, "preprocessing: out of memory") : SVDD_OK;
}
