/* The fit's images (src/model/images.c): rows of a data set preprocessed batch by batch give the
 * floats svdd_preprocess_apply gives, on any number of threads, across block boundaries, and the
 * same fingerprint as one contiguous float copy; bad indices are refused. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/data.h"
#include "model/images.h"
#include "model/net_store.h"
#include "testutil.h"

typedef struct fixture {
    svdd_dataset *ds;
    svdd_preprocess pp;
    uint32_t *rows; /* a permutation of the rows, minus the first few */
    size_t n, D;
    float *ref;     /* n x D: image i is row rows[i], preprocessed one by one */
} fixture;

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    svdd_synthetic_options so = svdd_synthetic_defaults();
    so.seed = 5;
    so.n_normal = 530;
    svdd_error err;
    if (svdd_dataset_synthetic(&f->ds, &so, &err) != SVDD_OK) return -1;
    if (svdd_preprocess_fit(&f->pp, f->ds, &err) != SVDD_OK) return -1;
    f->D = svdd_dataset_image_size(f->ds);
    f->n = 517; /* more than two blocks of SVDD__IMAGES_BLOCK, not a multiple */
    f->rows = malloc(530 * sizeof(uint32_t));
    for (uint32_t i = 0; i < 530; i++) f->rows[i] = (i * 337u + 13u) % 530u;
    f->ref = malloc(f->n * f->D * sizeof(float));
    for (size_t i = 0; i < f->n; i++)
        if (svdd_preprocess_apply(&f->pp, f->ds, f->rows[i], 1, f->ref + i * f->D, &err) != SVDD_OK) return -1;
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    svdd_dataset_free(f->ds);
    free(f->rows), free(f->ref), free(f);
    return 0;
}

static void test_gather_and_range(void **state) {
    fixture *f = *state;
    svdd_error err;
    for (int T = 1; T <= 3; T++) {
        const svdd__images im = svdd__images_of_rows(f->ds, f->rows, f->n, &f->pp, T);
        assert_int_equal(im.D, f->D);
        /* a shuffled batch, as the training loop asks for it */
        uint32_t which[200];
        for (uint32_t i = 0; i < 200; i++) which[i] = (i * 101u + 7u) % (uint32_t)f->n;
        float *out = malloc(200 * f->D * sizeof(float));
        assert_int_equal(svdd__images_gather(&im, which, 200, out, &err), SVDD_OK);
        for (size_t i = 0; i < 200; i++)
            assert_memory_equal(out + i * f->D, f->ref + (size_t)which[i] * f->D, f->D * sizeof(float));
        free(out);
        /* every block of a pass in order */
        svdd__images_reader r;
        assert_int_equal(svdd__images_reader_open(&r, &im, &err), SVDD_OK);
        assert_non_null(r.buf);
        for (size_t b0 = 0; b0 < f->n; b0 += SVDD__IMAGES_BLOCK) {
            const size_t k = f->n - b0 < SVDD__IMAGES_BLOCK ? f->n - b0 : SVDD__IMAGES_BLOCK;
            svdd_status st;
            const float *x = svdd__images_read(&r, b0, k, &st, &err);
            assert_non_null(x);
            assert_memory_equal(x, f->ref + b0 * f->D, k * f->D * sizeof(float));
        }
        svdd__images_reader_close(&r);
    }
    /* floats in memory: the range is a pointer into them, no buffer */
    const svdd__images fl = svdd__images_of_floats(f->ref, f->n, f->D);
    svdd__images_reader r;
    assert_int_equal(svdd__images_reader_open(&r, &fl, &err), SVDD_OK);
    assert_null(r.buf);
    svdd_status st;
    assert_ptr_equal(svdd__images_read(&r, 300, 17, &st, &err), f->ref + 300 * f->D);
}

static void test_key(void **state) {
    fixture *f = *state;
    svdd_error err;
    char a[64], b[64], want[64];
    const uint64_t h = svdd__fnv1a(SVDD__FNV1A_BASIS, f->ref, f->n * f->D * sizeof(float));
    snprintf(want, sizeof want, "%zu:%016llx", f->n, (unsigned long long)h);
    const svdd__images rows = svdd__images_of_rows(f->ds, f->rows, f->n, &f->pp, 2);
    const svdd__images fl = svdd__images_of_floats(f->ref, f->n, f->D);
    assert_int_equal(svdd__images_key(a, sizeof a, &rows, &err), SVDD_OK);
    assert_int_equal(svdd__images_key(b, sizeof b, &fl, &err), SVDD_OK);
    assert_string_equal(a, want);
    assert_string_equal(b, want);
    /* another split: another key */
    const svdd__images other = svdd__images_of_rows(f->ds, f->rows + 1, f->n, &f->pp, 1);
    assert_int_equal(svdd__images_key(a, sizeof a, &other, &err), SVDD_OK);
    assert_string_not_equal(a, want);
}

static void test_refusals(void **state) {
    fixture *f = *state;
    svdd_error err;
    const svdd__images im = svdd__images_of_rows(f->ds, f->rows, f->n, &f->pp, 1);
    float *out = malloc(2 * f->D * sizeof(float));
    uint32_t bad[2] = {0, (uint32_t)f->n};
    assert_int_equal(svdd__images_gather(&im, bad, 2, out, &err), SVDD_E_INVALID);
    assert_non_null(strstr(err.message, "of a set of 517"));
    svdd_status st;
    svdd__images_reader r;
    assert_int_equal(svdd__images_reader_open(&r, &im, &err), SVDD_OK);
    assert_null(svdd__images_read(&r, 516, 2, &st, &err));
    assert_int_equal(st, SVDD_E_INVALID);
    /* more than the reader's buffer holds */
    assert_null(svdd__images_read(&r, 0, SVDD__IMAGES_BLOCK + 1, &st, &err));
    assert_int_equal(st, SVDD_E_INVALID);
    svdd__images_reader_close(&r);
    /* a row beyond the data set */
    uint32_t rows[2] = {0, 530};
    const svdd__images beyond = svdd__images_of_rows(f->ds, rows, 2, &f->pp, 1);
    uint32_t which[1] = {1};
    assert_int_equal(svdd__images_gather(&beyond, which, 1, out, &err), SVDD_E_INVALID);
    /* an unfitted preprocessing */
    svdd_preprocess pp = f->pp;
    pp.max = pp.min - 1;
    const svdd__images unfit = svdd__images_of_rows(f->ds, f->rows, f->n, &pp, 1);
    which[0] = 0;
    assert_int_equal(svdd__images_gather(&unfit, which, 1, out, &err), SVDD_E_INVALID);
    assert_non_null(strstr(err.message, "svdd_preprocess_fit"));
    free(out);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gather_and_range),
        cmocka_unit_test(test_key),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
