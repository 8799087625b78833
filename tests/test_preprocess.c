/* Preprocessing: GCN with the l1 scale per image over all C*H*W features, then min-max with
 * min and max fitted after GCN, checked against values worked out by hand; constant images and
 * constant sets (no NaN), the gcn_l1 = 0 path, sub-ranges and argument errors; and the same
 * floats bit for bit as the formula written out with a division at every step. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/data.h"
#include "testutil.h"

static svdd_dataset *make(size_t n, int c, int h, int w, const uint8_t *px) {
    svdd_dataset *ds = NULL;
    svdd_error err;
    assert_int_equal(svdd__dataset_alloc(&ds, n, c, h, w, NULL, "test", &err), SVDD_OK);
    memcpy(ds->pixels, px, n * (size_t)(c * h * w));
    ds->n_classes = 1;
    return ds;
}

static void test_gcn_by_hand(void **state) {
    (void)state;
    /* Image 0: pixels 0, 0, 255, 255 -> x = 0,0,1,1, mean 0.5, x - mean = -.5,-.5,.5,.5,
     * l1 = 0.5, GCN = -1,-1,1,1.
     * Image 1: 0, 0, 0, 255 -> mean 0.25, x - mean = -.25,-.25,-.25,.75, l1 = 0.375,
     * GCN = -2/3,-2/3,-2/3,2. Fitted min -1, max 2. */
    const uint8_t px[8] = {0, 0, 255, 255, 0, 0, 0, 255};
    svdd_dataset *ds = make(2, 1, 2, 2, px);
    svdd_preprocess pp = {0, 0, 0};
    svdd_error err;
    assert_int_equal(svdd_preprocess_fit(&pp, ds, &err), SVDD_OK);
    assert_int_equal(pp.gcn_l1, 1);
    assert_true(fabs(pp.min + 1) < 1e-15 && fabs(pp.max - 2) < 1e-15);
    float out[8];
    assert_int_equal(svdd_preprocess_apply(&pp, ds, 0, 2, out, &err), SVDD_OK);
    const double want[8] = {0, 0, 2.0 / 3, 2.0 / 3, 1.0 / 9, 1.0 / 9, 1.0 / 9, 1};
    for (int i = 0; i < 8; i++) assert_true(fabs(out[i] - want[i]) < 1e-7);
    /* a sub-range writes only those images, from the start of out */
    float one[4] = {-9, -9, -9, -9};
    assert_int_equal(svdd_preprocess_apply(&pp, ds, 1, 1, one, &err), SVDD_OK);
    assert_memory_equal(one, out + 4, sizeof one);
    assert_int_equal(svdd_preprocess_apply(&pp, ds, 2, 0, NULL, &err), SVDD_OK); /* empty range */
    svdd_dataset_free(ds);
}

static void test_gcn_over_all_channels(void **state) {
    (void)state;
    /* An RGB image: the mean and the l1 scale run over all 3 * 1 * 2 features together, not
     * per channel. Pixels 0,51 | 102,153 | 204,255 -> x = 0,.2,.4,.6,.8,1, mean .5,
     * |x - mean| mean = (.5+.3+.1+.1+.3+.5)/6 = 0.3. */
    const uint8_t px[6] = {0, 51, 102, 153, 204, 255};
    svdd_dataset *ds = make(1, 3, 1, 2, px);
    svdd_preprocess pp;
    svdd_error err;
    assert_int_equal(svdd_preprocess_fit(&pp, ds, &err), SVDD_OK);
    assert_true(fabs(pp.min - (-0.5 / 0.3)) < 1e-12 && fabs(pp.max - 0.5 / 0.3) < 1e-12);
    float out[6];
    assert_int_equal(svdd_preprocess_apply(&pp, ds, 0, 1, out, &err), SVDD_OK);
    for (int i = 0; i < 6; i++) assert_true(fabs(out[i] - i / 5.0) < 1e-6);
    svdd_dataset_free(ds);
}

static void test_constant_images(void **state) {
    (void)state;
    /* A constant image has l1 scale 0: it becomes all zeros after GCN (no division), so it
     * takes part in min/max as 0 and maps to (0 - min) / (max - min). */
    const uint8_t px[8] = {0, 0, 255, 255, 77, 77, 77, 77};
    svdd_dataset *ds = make(2, 1, 2, 2, px);
    svdd_preprocess pp;
    svdd_error err;
    assert_int_equal(svdd_preprocess_fit(&pp, ds, &err), SVDD_OK);
    assert_true(pp.min == -1 && pp.max == 1);
    float out[8];
    assert_int_equal(svdd_preprocess_apply(&pp, ds, 0, 2, out, &err), SVDD_OK);
    for (int i = 4; i < 8; i++) assert_true(out[i] == 0.5f);
    svdd_dataset_free(ds);

    /* A set of constant images only: min == max == 0; apply shifts instead of dividing by 0. */
    const uint8_t flat[8] = {9, 9, 9, 9, 200, 200, 200, 200};
    ds = make(2, 1, 2, 2, flat);
    assert_int_equal(svdd_preprocess_fit(&pp, ds, &err), SVDD_OK);
    assert_true(pp.min == 0 && pp.max == 0);
    assert_int_equal(svdd_preprocess_apply(&pp, ds, 0, 2, out, &err), SVDD_OK);
    for (int i = 0; i < 8; i++) assert_true(out[i] == 0.0f);
    svdd_dataset_free(ds);

    /* The same for every grey level at the sizes of MNIST and CIFAR-10, where the mean of a
     * constant image, summed and divided by 255 and by the size, is often not the pixel's own
     * x (7 / 255 on 28 x 28): each constant image still turns into zeros, not +-1. */
    const int sides[2][2] = {{1, 28}, {3, 32}};
    for (int k = 0; k < 2; k++) {
        const size_t D = (size_t)sides[k][0] * sides[k][1] * sides[k][1];
        uint8_t *levels = malloc(256 * D);
        float *o = malloc(256 * D * sizeof(float));
        for (int v = 0; v < 256; v++) memset(levels + (size_t)v * D, v, D);
        ds = make(256, sides[k][0], sides[k][1], sides[k][1], levels);
        assert_int_equal(svdd_preprocess_fit(&pp, ds, &err), SVDD_OK);
        assert_true(pp.min == 0 && pp.max == 0);
        assert_int_equal(svdd_preprocess_apply(&pp, ds, 0, 256, o, &err), SVDD_OK);
        for (size_t i = 0; i < 256 * D; i++) assert_true(o[i] == 0.0f);
        svdd_dataset_free(ds);
        free(levels), free(o);
    }
}

static void test_without_gcn(void **state) {
    (void)state;
    const uint8_t px[4] = {0, 51, 204, 255};
    svdd_dataset *ds = make(1, 1, 2, 2, px);
    svdd_error err;
    float out[4];
    /* gcn_l1 = 0: pixels / 255, then the given min-max */
    svdd_preprocess pp = {0, 0.0, 1.0};
    assert_int_equal(svdd_preprocess_apply(&pp, ds, 0, 1, out, &err), SVDD_OK);
    for (int i = 0; i < 4; i++) assert_true(fabs(out[i] - px[i] / 255.0) < 1e-7);
    svdd_preprocess pp2 = {0, 0.2, 0.6};
    assert_int_equal(svdd_preprocess_apply(&pp2, ds, 0, 1, out, &err), SVDD_OK);
    assert_true(fabs(out[1] - 0.0) < 1e-7 && fabs(out[2] - 1.5) < 1e-6 && fabs(out[0] + 0.5) < 1e-6);
    svdd_dataset_free(ds);
}

/* The documented formula written out step by step, every quotient a double division, for one
 * image of D pixels into x (the GCN'd doubles before min-max); a constant image is all zeros. */
static void formula_gcn(const uint8_t *p, size_t D, double *x) {
    double mean = 0, l1 = 0;
    size_t same = 0;
    for (size_t i = 0; i < D; i++) same += p[i] == p[0];
    if (same == D) {
        for (size_t i = 0; i < D; i++) x[i] = 0;
        return;
    }
    for (size_t i = 0; i < D; i++) mean += p[i];
    mean = mean / 255.0 / (double)D;
    for (size_t i = 0; i < D; i++) {
        x[i] = p[i] / 255.0 - mean;
        l1 += fabs(x[i]);
    }
    l1 /= (double)D;
    if (l1 > 0)
        for (size_t i = 0; i < D; i++) x[i] /= l1;
}

/* The fitted range and every float the same, bit for bit, as the formula gives: on random MNIST-
 * sized images with blank borders (as digits have), one constant image among them, with and
 * without GCN, through the public function and the threads' batch function. */
static void test_same_floats_as_formula(void **state) {
    (void)state;
    const size_t n = 40, D = 28 * 28;
    uint8_t *px = malloc(n * D);
    uint64_t r = 88172645463325252u;
    for (size_t i = 0; i < n * D; i++) {
        r ^= r << 13, r ^= r >> 7, r ^= r << 17; /* xorshift64 */
        const size_t q = i % D, row = q / 28, col = q % 28;
        px[i] = row < 4 || row >= 24 || col < 4 || col >= 24 ? 0 : (uint8_t)(r >> 56);
    }
    memset(px + 7 * D, 7, D); /* a constant image (whose mean is not 7 / 255 when computed) */
    svdd_dataset *ds = make(n, 1, 28, 28, px);
    double *x = malloc(D * sizeof(double)), lo = INFINITY, hi = -INFINITY;
    for (size_t k = 0; k < n; k++) {
        formula_gcn(px + k * D, D, x);
        for (size_t i = 0; i < D; i++) lo = x[i] < lo ? x[i] : lo, hi = x[i] > hi ? x[i] : hi;
    }
    svdd_preprocess pp;
    svdd_error err;
    assert_int_equal(svdd_preprocess_fit(&pp, ds, &err), SVDD_OK);
    assert_true(pp.min == lo && pp.max == hi);
    float *out = malloc(n * D * sizeof(float)), *rows = malloc(n * D * sizeof(float));
    float *want = malloc(n * D * sizeof(float));
    uint32_t which[40];
    for (uint32_t k = 0; k < n; k++) which[k] = k;
    for (int gcn = 1; gcn >= 0; gcn--) {
        pp.gcn_l1 = gcn;
        for (size_t k = 0; k < n; k++) {
            if (gcn) formula_gcn(px + k * D, D, x);
            else
                for (size_t i = 0; i < D; i++) x[i] = px[k * D + i] / 255.0;
            for (size_t i = 0; i < D; i++) want[k * D + i] = (float)((x[i] - pp.min) / (pp.max - pp.min));
        }
        assert_int_equal(svdd_preprocess_apply(&pp, ds, 0, n, out, &err), SVDD_OK);
        assert_memory_equal(out, want, n * D * sizeof(float));
        assert_int_equal(svdd__preprocess_rows(&pp, ds, NULL, which, n, rows, 2, &err), SVDD_OK);
        assert_memory_equal(rows, want, n * D * sizeof(float));
    }
    svdd_dataset_free(ds);
    free(px), free(x), free(out), free(rows), free(want);
}

static void test_errors(void **state) {
    (void)state;
    const uint8_t px[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    svdd_dataset *ds = make(2, 1, 2, 2, px);
    svdd_preprocess pp;
    svdd_error err;
    float out[8];
    assert_int_equal(svdd_preprocess_fit(&pp, ds, &err), SVDD_OK);
    assert_int_equal(svdd_preprocess_apply(&pp, ds, 1, 2, out, &err), SVDD_E_INVALID);
    assert_non_null(strstr(err.message, "outside"));
    assert_int_equal(svdd_preprocess_apply(&pp, ds, 3, 0, out, &err), SVDD_E_INVALID);
    assert_int_equal(svdd_preprocess_apply(&pp, ds, 1, SIZE_MAX, out, &err), SVDD_E_INVALID);
    assert_int_equal(svdd_preprocess_apply(&pp, ds, 0, 1, NULL, &err), SVDD_E_INVALID);
    svdd_preprocess bad = {1, NAN, 1};
    assert_int_equal(svdd_preprocess_apply(&bad, ds, 0, 1, out, &err), SVDD_E_INVALID);
    assert_non_null(strstr(err.message, "svdd_preprocess_fit"));
    svdd_preprocess inverted = {1, 2, 1};
    assert_int_equal(svdd_preprocess_apply(&inverted, ds, 0, 1, out, &err), SVDD_E_INVALID);
    assert_int_equal(svdd_preprocess_fit(NULL, ds, &err), SVDD_E_INVALID);
    assert_int_equal(svdd_preprocess_fit(&pp, NULL, &err), SVDD_E_INVALID);
    svdd_dataset_free(ds);
    svdd_dataset *empty = NULL;
    assert_int_equal(svdd__dataset_alloc(&empty, 0, 1, 2, 2, NULL, "e", &err), SVDD_OK);
    assert_int_equal(svdd_preprocess_fit(&pp, empty, &err), SVDD_E_INVALID);
    assert_non_null(strstr(err.message, "empty"));
    svdd_dataset_free(empty);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gcn_by_hand),     cmocka_unit_test(test_gcn_over_all_channels),
        cmocka_unit_test(test_constant_images), cmocka_unit_test(test_without_gcn),
        cmocka_unit_test(test_same_floats_as_formula), cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
