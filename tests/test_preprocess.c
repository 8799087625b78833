/* Preprocessing: GCN with the l1 scale per image over all C*H*W features, then min-max with
 * min and max fitted after GCN, checked against values worked out by hand; constant images and
 * constant sets (no NaN), the gcn_l1 = 0 path, sub-ranges and argument errors. */
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
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
