/* The data set object: allocation against limits, accessors, class names, and the one-class
 * views (select_class, one_class_labels) with their copies of paths, masks and names. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/data.h"
#include "testutil.h"

static void test_limits_resolve(void **state) {
    (void)state;
    svdd_load_limits d = svdd__limits_resolve(NULL);
    assert_true(d.max_images == 10000000ull);
    assert_true(d.max_pixel_bytes == (4ull << 30));
    assert_int_equal(d.max_side, 4096);
    svdd_load_limits in = {5, 0, 7, {0, 0, 0, 0}};
    svdd_load_limits r = svdd__limits_resolve(&in);
    assert_true(r.max_images == 5 && r.max_pixel_bytes == (4ull << 30) && r.max_side == 7);
}

static void test_alloc_limits(void **state) {
    (void)state;
    svdd_error err;
    svdd_dataset *ds = (svdd_dataset *)1;
    svdd_load_limits lim = {10, 1000, 8, {0, 0, 0, 0}};
    assert_int_equal(svdd__dataset_alloc(&ds, 11, 1, 2, 2, &lim, "many.bin", &err), SVDD_E_LIMIT);
    assert_null(ds);
    assert_int_equal(err.status, SVDD_E_LIMIT);
    assert_non_null(strstr(err.message, "many.bin"));
    assert_int_equal(svdd__dataset_alloc(&ds, 1, 1, 9, 2, &lim, "wide.bin", &err), SVDD_E_LIMIT);
    assert_non_null(strstr(err.message, "wide.bin"));
    assert_int_equal(svdd__dataset_alloc(&ds, 10, 3, 8, 8, &lim, "big.bin", &err), SVDD_E_LIMIT);
    assert_non_null(strstr(err.message, "max_pixel_bytes"));
    /* n * c * h * w overflowing size_t is a limit error, not a wrapped small allocation. */
    svdd_load_limits none = {UINT64_MAX, UINT64_MAX, UINT32_MAX, {0, 0, 0, 0}};
    assert_int_equal(svdd__dataset_alloc(&ds, SIZE_MAX / 2, 3, 1 << 20, 1 << 20, &none, "huge", &err),
                     SVDD_E_LIMIT);
    assert_int_equal(svdd__dataset_alloc(&ds, 1, 0, 2, 2, NULL, "zero", &err), SVDD_E_INVALID);
    assert_int_equal(svdd__dataset_alloc(&ds, 10, 3, 4, 8, &lim, "ok", &err), SVDD_OK);
    assert_int_equal(svdd_dataset_count(ds), 10);
    svdd_dataset_free(ds);
    /* An empty set is allowed (a selection may be empty before it is checked). */
    assert_int_equal(svdd__dataset_alloc(&ds, 0, 1, 2, 2, NULL, "empty", &err), SVDD_OK);
    assert_int_equal(svdd_dataset_count(ds), 0);
    svdd_dataset_free(ds);
}

/* n images of 1x2x3 with pixel value 10*i + k, labels i % 3, optional paths and masks. */
static svdd_dataset *make(size_t n, int with_paths, int with_masks) {
    svdd_error err;
    svdd_dataset *ds = NULL;
    assert_int_equal(svdd__dataset_alloc(&ds, n, 1, 2, 3, NULL, "test", &err), SVDD_OK);
    for (size_t i = 0; i < n; i++) {
        for (int k = 0; k < 6; k++) ds->pixels[i * 6 + (size_t)k] = (uint8_t)(10 * i + (size_t)k);
        ds->labels[i] = (int32_t)(i % 3);
    }
    ds->n_classes = 3;
    if (with_paths) {
        ds->paths = calloc(n, sizeof *ds->paths);
        assert_non_null(ds->paths);
        for (size_t i = 0; i < n; i++) {
            char buf[32];
            snprintf(buf, sizeof buf, "img%zu.png", i);
            ds->paths[i] = svdd__strdup(buf);
        }
    }
    if (with_masks) {
        ds->masks = calloc(n, 6);
        assert_non_null(ds->masks);
        for (size_t i = 0; i < n; i++) ds->masks[i * 6 + i % 6] = 1;
    }
    return ds;
}

static void test_accessors(void **state) {
    (void)state;
    svdd_dataset *ds = make(7, 0, 0);
    int c, h, w;
    svdd_dataset_shape(ds, &c, &h, &w);
    assert_true(c == 1 && h == 2 && w == 3);
    svdd_dataset_shape(ds, NULL, NULL, &w); /* any pointer may be NULL */
    assert_int_equal(svdd_dataset_image_size(ds), 6);
    assert_int_equal(svdd_dataset_count(ds), 7);
    assert_int_equal(svdd_dataset_pixels(ds)[6 * 3 + 2], 32);
    assert_int_equal(svdd_dataset_labels(ds)[5], 2);
    assert_int_equal(svdd_dataset_num_classes(ds), 3);
    /* Without class names the names are the decimal labels, with stable pointers. */
    const char *n0 = svdd_dataset_class_name(ds, 0), *n2 = svdd_dataset_class_name(ds, 2);
    assert_string_equal(n0, "0");
    assert_string_equal(n2, "2");
    assert_ptr_equal(n0, svdd_dataset_class_name(ds, 0));
    assert_string_equal(n0, "0"); /* unchanged by the later call */
    assert_null(svdd_dataset_class_name(ds, 3));
    assert_null(svdd_dataset_class_name(ds, -1));
    ds->n_classes = 256;
    assert_string_equal(svdd_dataset_class_name(ds, 255), "255");
    ds->n_classes = 3;
    assert_null(svdd_dataset_path(ds, 0));
    assert_null(svdd_dataset_masks(ds));
    static const char *const names[3] = {"cat", "dog", "eel"};
    svdd_error err;
    assert_int_equal(svdd__dataset_set_class_names(ds, names, 3, &err), SVDD_OK);
    assert_string_equal(svdd_dataset_class_name(ds, 1), "dog");
    svdd_dataset_free(ds);

    /* NULL is tolerated everywhere, as free(NULL) is. */
    svdd_dataset_free(NULL);
    assert_int_equal(svdd_dataset_count(NULL), 0);
    assert_int_equal(svdd_dataset_image_size(NULL), 0);
    assert_null(svdd_dataset_pixels(NULL));
    assert_null(svdd_dataset_labels(NULL));
    assert_null(svdd_dataset_class_name(NULL, 0));
    assert_null(svdd_dataset_path(NULL, 0));
    assert_null(svdd_dataset_masks(NULL));
    svdd_dataset_shape(NULL, &c, &h, &w);
    assert_true(c == 0 && h == 0 && w == 0);
}

static void test_select_class(void **state) {
    (void)state;
    svdd_dataset *ds = make(10, 1, 1);
    static const char *const names[3] = {"cat", "dog", "eel"};
    svdd_error err;
    assert_int_equal(svdd__dataset_set_class_names(ds, names, 3, &err), SVDD_OK);
    svdd_dataset *s = NULL;
    assert_int_equal(svdd_dataset_select_class(&s, ds, 1, &err), SVDD_OK);
    assert_int_equal(err.status, SVDD_OK);
    /* images 1, 4, 7 in their original order, labels kept */
    assert_int_equal(svdd_dataset_count(s), 3);
    size_t want[3] = {1, 4, 7};
    for (size_t j = 0; j < 3; j++) {
        assert_int_equal(svdd_dataset_labels(s)[j], 1);
        assert_memory_equal(svdd_dataset_pixels(s) + j * 6, svdd_dataset_pixels(ds) + want[j] * 6, 6);
        assert_memory_equal(svdd_dataset_masks(s) + j * 6, svdd_dataset_masks(ds) + want[j] * 6, 6);
        assert_string_equal(svdd_dataset_path(s, j), svdd_dataset_path(ds, want[j]));
        assert_ptr_not_equal(svdd_dataset_path(s, j), svdd_dataset_path(ds, want[j]));
    }
    assert_null(svdd_dataset_path(s, 3));
    assert_int_equal(svdd_dataset_num_classes(s), 3);
    assert_string_equal(svdd_dataset_class_name(s, 2), "eel");
    svdd_dataset_free(ds); /* the copy owns its own strings */
    assert_string_equal(svdd_dataset_class_name(s, 0), "cat");
    assert_string_equal(svdd_dataset_path(s, 2), "img7.png");
    svdd_dataset_free(s);

    ds = make(2, 0, 0); /* labels 0, 1 of 3 classes: class 2 has no images */
    s = (svdd_dataset *)1;
    assert_int_equal(svdd_dataset_select_class(&s, ds, 2, &err), SVDD_E_INVALID);
    assert_null(s);
    assert_non_null(strstr(err.message, "no images of class 2"));
    assert_int_equal(svdd_dataset_select_class(&s, ds, 3, &err), SVDD_E_INVALID);
    assert_int_equal(svdd_dataset_select_class(&s, ds, -1, &err), SVDD_E_INVALID);
    assert_int_equal(svdd_dataset_select_class(&s, NULL, 0, &err), SVDD_E_INVALID);
    assert_int_equal(svdd_dataset_select_class(&s, ds, 0, NULL), SVDD_OK); /* err may be NULL */
    assert_string_equal(svdd_dataset_class_name(s, 2), "2");
    svdd_dataset_free(s);
    svdd_dataset_free(ds);
}

static void test_one_class_labels(void **state) {
    (void)state;
    svdd_dataset *ds = make(9, 1, 1);
    svdd_error err;
    svdd_dataset *o = NULL;
    assert_int_equal(svdd_dataset_one_class_labels(&o, ds, 2, &err), SVDD_OK);
    assert_int_equal(svdd_dataset_count(o), 9);
    for (size_t i = 0; i < 9; i++) assert_int_equal(svdd_dataset_labels(o)[i], i % 3 == 2 ? 0 : 1);
    assert_memory_equal(svdd_dataset_pixels(o), svdd_dataset_pixels(ds), 9 * 6);
    assert_memory_equal(svdd_dataset_masks(o), svdd_dataset_masks(ds), 9 * 6);
    assert_string_equal(svdd_dataset_path(o, 8), "img8.png");
    assert_int_equal(svdd_dataset_num_classes(o), 2);
    assert_string_equal(svdd_dataset_class_name(o, 0), "normal");
    assert_string_equal(svdd_dataset_class_name(o, 1), "anomalous");
    /* the source is untouched */
    assert_int_equal(svdd_dataset_labels(ds)[5], 2);
    svdd_dataset_free(o);
    o = (svdd_dataset *)1;
    assert_int_equal(svdd_dataset_one_class_labels(&o, ds, 3, &err), SVDD_E_INVALID);
    assert_null(o);
    assert_non_null(strstr(err.message, "normal class 3"));
    svdd_dataset_free(ds);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limits_resolve), cmocka_unit_test(test_alloc_limits),
        cmocka_unit_test(test_accessors),      cmocka_unit_test(test_select_class),
        cmocka_unit_test(test_one_class_labels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
