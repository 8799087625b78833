/* CIFAR-10 binary loader on generated records: layout (label byte, then R, G, B planes, kept
 * as NCHW), class names, several raw and gzipped files concatenated in order, and broken input
 * (length not a whole number of records, labels >= 10, limits, corrupt gzip, missing file). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "data/data.h"
#include "testutil.h"

#define REC 3073

/* n records; record i has label labels0 + i (mod 10) and pixel k = (i * 7 + k) & 255. */
static unsigned char *records(size_t n, int label0) {
    unsigned char *p = malloc(n * REC + 1);
    assert_non_null(p);
    for (size_t i = 0; i < n; i++) {
        p[i * REC] = (unsigned char)((size_t)label0 + i) % 10;
        for (size_t k = 0; k < 3072; k++) p[i * REC + 1 + k] = (unsigned char)((i * 7 + k) & 255);
    }
    return p;
}

static void expect(svdd_status got, svdd_status want, const svdd_error *err, const char *needle) {
    if (got != want) fail_msg("status %s, expected %s: %s", svdd_status_name(got), svdd_status_name(want),
                              err->message);
    assert_int_equal(err->status, want);
    if (needle && !strstr(err->message, needle)) fail_msg("message '%s' lacks '%s'", err->message, needle);
}

static void test_parse(void **state) {
    (void)state;
    unsigned char *p = records(4, 3);
    svdd_error err;
    svdd_dataset *ds = NULL;
    assert_int_equal(svdd_dataset_parse_cifar10(&ds, p, 4 * REC, "batch.bin", NULL, &err), SVDD_OK);
    assert_int_equal(svdd_dataset_count(ds), 4);
    int c, h, w;
    svdd_dataset_shape(ds, &c, &h, &w);
    assert_true(c == 3 && h == 32 && w == 32);
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(svdd_dataset_labels(ds)[i], (3 + i) % 10);
        /* the record's R plane, then G, then B: exactly the NCHW image */
        assert_memory_equal(svdd_dataset_pixels(ds) + i * 3072, p + i * REC + 1, 3072);
    }
    assert_int_equal(svdd_dataset_num_classes(ds), 10);
    assert_string_equal(svdd_dataset_class_name(ds, 0), "airplane");
    assert_string_equal(svdd_dataset_class_name(ds, 9), "truck");
    assert_null(svdd_dataset_class_name(ds, 10));
    svdd_dataset_free(ds);

    /* not a whole number of records */
    ds = (svdd_dataset *)1;
    expect(svdd_dataset_parse_cifar10(&ds, p, 4 * REC - 1, "batch.bin", NULL, &err), SVDD_E_FORMAT, &err,
           "batch.bin: 12291 bytes is not a nonzero multiple");
    assert_null(ds);
    expect(svdd_dataset_parse_cifar10(&ds, p, 0, "empty.bin", NULL, &err), SVDD_E_FORMAT, &err, "empty.bin");
    expect(svdd_dataset_parse_cifar10(&ds, p, 4 * REC + 5, "batch.bin", NULL, &err), SVDD_E_FORMAT, &err,
           "5 bytes left over");
    /* a label out of range names the record */
    p[2 * REC] = 10;
    expect(svdd_dataset_parse_cifar10(&ds, p, 4 * REC, "c100.bin", NULL, &err), SVDD_E_FORMAT, &err,
           "c100.bin: record 2 has label 10");
    p[2 * REC] = 255;
    expect(svdd_dataset_parse_cifar10(&ds, p, 4 * REC, "c100.bin", NULL, &err), SVDD_E_FORMAT, &err, "255");
    p[2 * REC] = 9;
    /* limits */
    svdd_load_limits lim = {3, 0, 0, {0, 0, 0, 0}};
    expect(svdd_dataset_parse_cifar10(&ds, p, 4 * REC, "batch.bin", &lim, &err), SVDD_E_LIMIT, &err, "batch.bin");
    svdd_load_limits side = {0, 0, 31, {0, 0, 0, 0}};
    expect(svdd_dataset_parse_cifar10(&ds, p, 4 * REC, "batch.bin", &side, &err), SVDD_E_LIMIT, &err, "max_side");
    svdd_load_limits bytes = {0, 3 * 3072, 0, {0, 0, 0, 0}};
    expect(svdd_dataset_parse_cifar10(&ds, p, 4 * REC, "batch.bin", &bytes, &err), SVDD_E_LIMIT, &err,
           "max_pixel_bytes");
    assert_null(ds);
    assert_int_equal(svdd_dataset_parse_cifar10(NULL, p, REC, "x", NULL, &err), SVDD_E_INVALID);
    assert_int_equal(svdd_dataset_parse_cifar10(&ds, NULL, REC, "x", NULL, &err), SVDD_E_INVALID);
    free(p);
}

static void write_file(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static void test_load_files(void **state) {
    (void)state;
    char dir[64] = "/tmp/svdd-test-cifar-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char a[128], b[128], bad[128], junk[128], missing[128];
    snprintf(a, sizeof a, "%s/data_batch_1.bin", dir);
    snprintf(b, sizeof b, "%s/data_batch_2.bin.gz", dir);
    snprintf(bad, sizeof bad, "%s/bad_labels.bin", dir);
    snprintf(junk, sizeof junk, "%s/corrupt.bin.gz", dir);
    snprintf(missing, sizeof missing, "%s/missing.bin", dir);
    unsigned char *p = records(3, 0), *q = records(2, 5);
    write_file(a, p, 3 * REC);
    gzFile g = gzopen(b, "wb");
    assert_non_null(g);
    assert_int_equal(gzwrite(g, q, 2 * REC), 2 * REC);
    assert_int_equal(gzclose(g), Z_OK);

    svdd_error err;
    svdd_dataset *ds = NULL;
    const char *paths[3] = {b, a, NULL};
    assert_int_equal(svdd_dataset_load_cifar10(&ds, paths, 2, NULL, &err), SVDD_OK);
    /* concatenated in the order given: the gzipped file's 2 records, then the raw file's 3 */
    assert_int_equal(svdd_dataset_count(ds), 5);
    const int32_t *l = svdd_dataset_labels(ds);
    assert_true(l[0] == 5 && l[1] == 6 && l[2] == 0 && l[3] == 1 && l[4] == 2);
    assert_memory_equal(svdd_dataset_pixels(ds) + 1 * 3072, q + REC + 1, 3072);
    assert_memory_equal(svdd_dataset_pixels(ds) + 4 * 3072, p + 2 * REC + 1, 3072);
    assert_string_equal(svdd_dataset_class_name(ds, 6), "frog");
    svdd_dataset_free(ds);

    /* the limit counts the records of all files together */
    svdd_load_limits lim = {4, 0, 0, {0, 0, 0, 0}};
    ds = (svdd_dataset *)1;
    expect(svdd_dataset_load_cifar10(&ds, paths, 2, &lim, &err), SVDD_E_LIMIT, &err, "max_images");
    assert_null(ds);

    /* errors name the offending file, not the first one */
    p[REC] = 12;
    write_file(bad, p, 3 * REC);
    paths[1] = bad;
    expect(svdd_dataset_load_cifar10(&ds, paths, 2, NULL, &err), SVDD_E_FORMAT, &err,
           "bad_labels.bin: record 1 has label 12");
    write_file(bad, p, 3 * REC - 1);
    expect(svdd_dataset_load_cifar10(&ds, paths, 2, NULL, &err), SVDD_E_FORMAT, &err, "bad_labels.bin");
    unsigned char gz[40] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xde, 0xad, 0xbe, 0xef};
    write_file(junk, gz, sizeof gz);
    paths[1] = junk;
    expect(svdd_dataset_load_cifar10(&ds, paths, 2, NULL, &err), SVDD_E_FORMAT, &err, "corrupt.bin.gz");
    paths[1] = missing;
    expect(svdd_dataset_load_cifar10(&ds, paths, 2, NULL, &err), SVDD_E_IO, &err, "missing.bin");
    expect(svdd_dataset_load_cifar10(&ds, paths, 3, NULL, &err), SVDD_E_INVALID, &err, "NULL");
    expect(svdd_dataset_load_cifar10(&ds, paths, 0, NULL, &err), SVDD_E_INVALID, &err, "no files");
    assert_null(ds);

    assert_int_equal(unlink(a), 0);
    assert_int_equal(unlink(b), 0);
    assert_int_equal(unlink(bad), 0);
    assert_int_equal(unlink(junk), 0);
    assert_int_equal(rmdir(dir), 0);
    free(p), free(q);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_load_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
