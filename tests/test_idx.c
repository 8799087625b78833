/* IDX loader on generated buffers and files: a valid set, then every kind of broken input
 * (bad magic, wrong type or rank, truncated, trailing bytes, sizes that overflow or exceed the
 * limits, count mismatch, corrupt gzip, missing file). Each error must carry the right status
 * and name the file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "data/data.h"
#include "testutil.h"

typedef struct buf {
    unsigned char *p;
    size_t n;
} buf;

static void put32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16), p[2] = (unsigned char)(v >> 8),
    p[3] = (unsigned char)v;
}

/* An IDX images tensor with header sizes (n, r, c) and `body` bytes of pixels 3*i+1. */
static buf idx_images(uint32_t n, uint32_t r, uint32_t c, size_t body) {
    buf b = {calloc(16 + body + 1, 1), 16 + body};
    assert_non_null(b.p);
    put32(b.p, 0x803), put32(b.p + 4, n), put32(b.p + 8, r), put32(b.p + 12, c);
    for (size_t i = 0; i < body; i++) b.p[16 + i] = (unsigned char)(3 * i + 1);
    return b;
}

/* An IDX labels tensor of header count n with `body` labels i % modulo. */
static buf idx_labels(uint32_t n, size_t body, unsigned modulo) {
    buf b = {calloc(8 + body + 1, 1), 8 + body};
    assert_non_null(b.p);
    put32(b.p, 0x801), put32(b.p + 4, n);
    for (size_t i = 0; i < body; i++) b.p[8 + i] = (unsigned char)(i % modulo);
    return b;
}

static svdd_status parse(buf im, buf lb, const svdd_load_limits *lim, svdd_error *err) {
    svdd_dataset *ds = (svdd_dataset *)1;
    svdd_status st = svdd_dataset_parse_idx(&ds, im.p, im.n, lb.p, lb.n, "unit.idx", lim, err);
    assert_int_equal(err->status, st);
    if (st == SVDD_OK) svdd_dataset_free(ds);
    else assert_null(ds);
    return st;
}

static void expect(svdd_status got, svdd_status want, const svdd_error *err, const char *needle) {
    if (got != want) fail_msg("status %s, expected %s: %s", svdd_status_name(got), svdd_status_name(want),
                              err->message);
    if (needle && !strstr(err->message, needle)) fail_msg("message '%s' lacks '%s'", err->message, needle);
}

static void test_parse_valid(void **state) {
    (void)state;
    buf im = idx_images(5, 3, 4, 60), lb = idx_labels(5, 5, 256);
    lb.p[8 + 2] = 7;
    svdd_error err;
    svdd_dataset *ds = NULL;
    assert_int_equal(svdd_dataset_parse_idx(&ds, im.p, im.n, lb.p, lb.n, "unit", NULL, &err), SVDD_OK);
    assert_int_equal(err.status, SVDD_OK);
    int c, h, w;
    svdd_dataset_shape(ds, &c, &h, &w);
    assert_true(c == 1 && h == 3 && w == 4);
    assert_int_equal(svdd_dataset_count(ds), 5);
    assert_memory_equal(svdd_dataset_pixels(ds), im.p + 16, 60);
    const int32_t *l = svdd_dataset_labels(ds);
    assert_true(l[0] == 0 && l[1] == 1 && l[2] == 7 && l[3] == 3 && l[4] == 4);
    assert_int_equal(svdd_dataset_num_classes(ds), 8); /* max label + 1 */
    assert_string_equal(svdd_dataset_class_name(ds, 7), "7");
    assert_null(svdd_dataset_path(ds, 0));
    assert_null(svdd_dataset_masks(ds));
    svdd_dataset_free(ds);
    /* label 255 gives 256 classes */
    lb.p[8 + 4] = 255;
    assert_int_equal(svdd_dataset_parse_idx(&ds, im.p, im.n, lb.p, lb.n, "unit", NULL, &err), SVDD_OK);
    assert_int_equal(svdd_dataset_num_classes(ds), 256);
    assert_string_equal(svdd_dataset_class_name(ds, 255), "255");
    svdd_dataset_free(ds);
    free(im.p), free(lb.p);
}

static void test_parse_header_errors(void **state) {
    (void)state;
    svdd_error err;
    buf im = idx_images(2, 2, 2, 8), lb = idx_labels(2, 2, 10);
    /* wrong magic */
    im.p[0] = 0x12;
    expect(parse(im, lb, NULL, &err), SVDD_E_FORMAT, &err, "unit.idx (images): not an IDX file");
    im.p[0] = 0;
    /* labels given as images: rank 1 instead of 3 */
    expect(parse(lb, lb, NULL, &err), SVDD_E_FORMAT, &err, "swapped");
    expect(parse(im, im, NULL, &err), SVDD_E_FORMAT, &err, "unit.idx (labels)");
    /* a valid IDX type this loader does not read */
    im.p[2] = 0x0D;
    expect(parse(im, lb, NULL, &err), SVDD_E_UNSUPPORTED, &err, "float32");
    im.p[2] = 0x42;
    expect(parse(im, lb, NULL, &err), SVDD_E_FORMAT, &err, "element type");
    im.p[2] = 0x08;
    /* header cut short, empty buffers */
    buf shortb = {im.p, 10};
    expect(parse(shortb, lb, NULL, &err), SVDD_E_FORMAT, &err, "header");
    buf empty = {im.p, 0};
    expect(parse(empty, lb, NULL, &err), SVDD_E_FORMAT, &err, "unit.idx (images)");
    /* zero size */
    put32(im.p + 8, 0);
    expect(parse(im, lb, NULL, &err), SVDD_E_FORMAT, &err, "zero");
    free(im.p), free(lb.p);
    svdd_dataset *ds = NULL;
    assert_int_equal(svdd_dataset_parse_idx(&ds, NULL, 4, NULL, 0, "x", NULL, &err), SVDD_E_INVALID);
    assert_int_equal(svdd_dataset_parse_idx(NULL, NULL, 0, NULL, 0, "x", NULL, &err), SVDD_E_INVALID);
}

static void test_parse_size_errors(void **state) {
    (void)state;
    svdd_error err;
    /* truncated and trailing pixels, with the numbers in the message */
    buf im = idx_images(3, 2, 2, 11), lb = idx_labels(3, 3, 10);
    expect(parse(im, lb, NULL, &err), SVDD_E_FORMAT, &err,
           "truncated: header says 3 images of 2x2 (12 bytes) but 11 bytes follow");
    free(im.p);
    im = idx_images(3, 2, 2, 13);
    expect(parse(im, lb, NULL, &err), SVDD_E_FORMAT, &err, "trailing bytes");
    free(im.p);
    /* label count mismatch, truncated and trailing labels */
    im = idx_images(3, 2, 2, 12);
    free(lb.p);
    lb = idx_labels(4, 4, 10);
    expect(parse(im, lb, NULL, &err), SVDD_E_FORMAT, &err, "unit.idx (labels): 4 labels for the 3 images");
    free(lb.p);
    lb = idx_labels(3, 2, 10);
    expect(parse(im, lb, NULL, &err), SVDD_E_FORMAT, &err, "unit.idx (labels): truncated");
    free(lb.p);
    lb = idx_labels(3, 5, 10);
    expect(parse(im, lb, NULL, &err), SVDD_E_FORMAT, &err, "unit.idx (labels): trailing");
    free(lb.p), free(im.p);

    /* Sizes whose product overflows size_t (0xFFFFFFFF^3 > 2^64): even with no limits this must
     * be refused before any allocation, not wrapped around. */
    svdd_load_limits none = {UINT64_MAX, UINT64_MAX, UINT32_MAX, {0, 0, 0, 0}};
    im = idx_images(0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu, 0);
    lb = idx_labels(0xFFFFFFFFu, 0, 10);
    expect(parse(im, lb, &none, &err), SVDD_E_LIMIT, &err, "overflows");
    /* with the default limits, the image-count limit refuses it first */
    expect(parse(im, lb, NULL, &err), SVDD_E_LIMIT, &err, "max_images");
    free(im.p), free(lb.p);
    /* Sizes beyond the limits fail with SVDD_E_LIMIT although no pixel data follows: the limits
     * are checked on the header alone, before the byte count and any allocation. */
    im = idx_images(20000000, 28, 28, 0);
    lb = idx_labels(20000000, 0, 10);
    expect(parse(im, lb, NULL, &err), SVDD_E_LIMIT, &err, "max_images");
    free(im.p), free(lb.p);
    im = idx_images(1000000, 4096, 4096, 0); /* 16 TB of pixels */
    lb = idx_labels(1000000, 0, 10);
    expect(parse(im, lb, NULL, &err), SVDD_E_LIMIT, &err, "max_pixel_bytes");
    free(im.p), free(lb.p);
    im = idx_images(10, 28, 28, 7840);
    lb = idx_labels(10, 10, 10);
    svdd_load_limits small = {5, 0, 0, {0, 0, 0, 0}};
    expect(parse(im, lb, &small, &err), SVDD_E_LIMIT, &err, "unit.idx (images)");
    svdd_load_limits narrow = {0, 0, 27, {0, 0, 0, 0}};
    expect(parse(im, lb, &narrow, &err), SVDD_E_LIMIT, &err, "28x28");
    svdd_load_limits tight = {0, 7839, 0, {0, 0, 0, 0}};
    expect(parse(im, lb, &tight, &err), SVDD_E_LIMIT, &err, "7840 bytes");
    free(im.p), free(lb.p);
}

/* ---- files ---- */

static char tmpdir[256];

static void make_tmpdir(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/svdd-test-idx-XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
}

static void write_file(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static void write_gz(const char *path, const void *p, size_t n) {
    gzFile g = gzopen(path, "wb");
    assert_non_null(g);
    assert_int_equal(gzwrite(g, p, (unsigned)n), (int)n);
    assert_int_equal(gzclose(g), Z_OK);
}

static void test_load_files(void **state) {
    (void)state;
    make_tmpdir();
    char ip[300], lp[300], igz[300], lgz[300], bad[300], cut[300], missing[300];
    snprintf(ip, sizeof ip, "%s/images-idx3-ubyte", tmpdir);
    snprintf(lp, sizeof lp, "%s/labels-idx1-ubyte", tmpdir);
    snprintf(igz, sizeof igz, "%s/images-idx3-ubyte.gz", tmpdir);
    snprintf(lgz, sizeof lgz, "%s/labels-idx1-ubyte.gz", tmpdir);
    snprintf(bad, sizeof bad, "%s/corrupt-idx3-ubyte.gz", tmpdir);
    snprintf(cut, sizeof cut, "%s/cut-idx3-ubyte.gz", tmpdir);
    snprintf(missing, sizeof missing, "%s/no-such-file.gz", tmpdir);
    buf im = idx_images(50, 6, 5, 1500), lb = idx_labels(50, 50, 10);
    write_file(ip, im.p, im.n);
    write_file(lp, lb.p, lb.n);
    write_gz(igz, im.p, im.n);
    write_gz(lgz, lb.p, lb.n);

    svdd_error err;
    svdd_dataset *a = NULL, *b = NULL;
    assert_int_equal(svdd_dataset_load_idx(&a, ip, lp, NULL, &err), SVDD_OK);
    /* gzip is recognised by content; a raw and a gzipped file can be mixed */
    assert_int_equal(svdd_dataset_load_idx(&b, igz, lp, NULL, &err), SVDD_OK);
    assert_int_equal(svdd_dataset_count(a), 50);
    assert_memory_equal(svdd_dataset_pixels(a), svdd_dataset_pixels(b), 1500);
    assert_memory_equal(svdd_dataset_labels(a), svdd_dataset_labels(b), 50 * sizeof(int32_t));
    assert_int_equal(svdd_dataset_num_classes(b), 10);
    svdd_dataset_free(a), svdd_dataset_free(b);
    assert_int_equal(svdd_dataset_load_idx(&a, igz, lgz, NULL, &err), SVDD_OK);
    svdd_dataset_free(a);

    /* a corrupt gzip stream: valid header, garbage body */
    unsigned char junk[64] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
    for (int i = 10; i < 64; i++) junk[i] = (unsigned char)(i * 37);
    write_file(bad, junk, sizeof junk);
    a = (svdd_dataset *)1;
    expect(svdd_dataset_load_idx(&a, bad, lp, NULL, &err), SVDD_E_FORMAT, &err, "corrupt-idx3-ubyte.gz");
    assert_null(a);
    /* a gzip file cut in half */
    FILE *f = fopen(igz, "rb");
    assert_non_null(f);
    unsigned char whole[4096];
    size_t n = fread(whole, 1, sizeof whole, f);
    (void)fclose(f); /* read only */
    assert_true(n > 40 && n < sizeof whole);
    write_file(cut, whole, n / 2);
    expect(svdd_dataset_load_idx(&a, cut, lp, NULL, &err), SVDD_E_FORMAT, &err, "cut-idx3-ubyte.gz");
    /* truncated raw file: the message names the file and the sizes */
    write_file(ip, im.p, im.n - 100);
    expect(svdd_dataset_load_idx(&a, ip, lp, NULL, &err), SVDD_E_FORMAT, &err,
           "images-idx3-ubyte: truncated: header says 50 images of 6x5 (1500 bytes) but 1400 bytes follow");
    /* count mismatch names the labels file */
    write_file(ip, im.p, im.n);
    write_file(lp, lb.p, lb.n - 1);
    expect(svdd_dataset_load_idx(&a, ip, lp, NULL, &err), SVDD_E_FORMAT, &err, "labels-idx1-ubyte");
    /* missing files */
    expect(svdd_dataset_load_idx(&a, missing, lp, NULL, &err), SVDD_E_IO, &err, "no-such-file.gz");
    expect(svdd_dataset_load_idx(&a, ip, missing, NULL, &err), SVDD_E_IO, &err, "no-such-file.gz");
    assert_int_equal(svdd_dataset_load_idx(&a, NULL, lp, NULL, &err), SVDD_E_INVALID);
    /* a file too large for the limits is refused before it is read whole */
    svdd_load_limits tiny = {0, 100, 0, {0, 0, 0, 0}};
    expect(svdd_dataset_load_idx(&a, ip, lgz, &tiny, &err), SVDD_E_LIMIT, &err, "images-idx3-ubyte");
    assert_null(a);

    const char *files[] = {ip, lp, igz, lgz, bad, cut};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) assert_int_equal(unlink(files[i]), 0);
    assert_int_equal(rmdir(tmpdir), 0);
    free(im.p), free(lb.p);
}

/* The loader that keeps some labels streams the images file through zlib one image at a time;
 * it must give what selecting those labels from the whole set gives, and refuse what parse_idx
 * refuses, including damage it can only see while reading. */
static void test_load_kept(void **state) {
    (void)state;
    make_tmpdir();
    char ip[300], lp[300], igz[300], cut[300];
    snprintf(ip, sizeof ip, "%s/images-idx3-ubyte", tmpdir);
    snprintf(lp, sizeof lp, "%s/labels-idx1-ubyte", tmpdir);
    snprintf(igz, sizeof igz, "%s/images-idx3-ubyte.gz", tmpdir);
    snprintf(cut, sizeof cut, "%s/cut-idx3-ubyte.gz", tmpdir);
    buf im = idx_images(50, 6, 5, 1500), lb = idx_labels(50, 50, 10);
    write_file(ip, im.p, im.n);
    write_file(lp, lb.p, lb.n);
    write_gz(igz, im.p, im.n);

    svdd_error err;
    svdd_dataset *all = NULL, *kept = NULL;
    assert_int_equal(svdd_dataset_load_idx(&all, ip, lp, NULL, &err), SVDD_OK);
    svdd_load_limits keep37 = {0, 0, 0, {(1u << 3) | (1u << 7), 0, 0, 0}};
    const char *images[2] = {ip, igz};
    for (int f = 0; f < 2; f++) {
        assert_int_equal(svdd_dataset_load_idx(&kept, images[f], lp, &keep37, &err), SVDD_OK);
        assert_int_equal(svdd_dataset_count(kept), 10);
        assert_int_equal(svdd_dataset_num_classes(kept), 10); /* the whole file's */
        for (size_t i = 0, k = 0; i < 50; i++) {
            const int32_t l = svdd_dataset_labels(all)[i];
            if (l != 3 && l != 7) continue;
            assert_int_equal(svdd_dataset_labels(kept)[k], l);
            assert_memory_equal(svdd_dataset_pixels(kept) + k * 30, svdd_dataset_pixels(all) + i * 30, 30);
            k++;
        }
        svdd_dataset_free(kept);
    }
    svdd_dataset_free(all);
    /* a label no image has: an empty set, not an error */
    svdd_load_limits keep200 = {0, 0, 0, {0, 0, 0, (uint64_t)1 << (200 - 192)}};
    assert_int_equal(svdd_dataset_load_idx(&kept, igz, lp, &keep200, &err), SVDD_OK);
    assert_int_equal(svdd_dataset_count(kept), 0);
    svdd_dataset_free(kept);

    /* a gzip file without its 8-byte trailer (checksum and length): every image is there, but the
     * file is damaged, as the loader that inflates it whole says too */
    FILE *f = fopen(igz, "rb");
    assert_non_null(f);
    unsigned char whole[4096];
    size_t n = fread(whole, 1, sizeof whole, f);
    (void)fclose(f); /* read only */
    assert_true(n > 40 && n < sizeof whole);
    write_file(cut, whole, n - 8);
    kept = (svdd_dataset *)1;
    expect(svdd_dataset_load_idx(&kept, cut, lp, NULL, &err), SVDD_E_FORMAT, &err, "cut-idx3-ubyte.gz");
    expect(svdd_dataset_load_idx(&kept, cut, lp, &keep37, &err), SVDD_E_FORMAT, &err,
           "cut-idx3-ubyte.gz: corrupt or truncated gzip data");
    assert_null(kept);
    /* a raw file cut inside image 46, and one with a byte too many */
    write_file(ip, im.p, im.n - 100);
    expect(svdd_dataset_load_idx(&kept, ip, lp, &keep37, &err), SVDD_E_FORMAT, &err,
           "images-idx3-ubyte: truncated: header says 50 images of 6x5 but image 46 cannot be read");
    write_file(ip, im.p, im.n + 1);
    expect(svdd_dataset_load_idx(&kept, ip, lp, &keep37, &err), SVDD_E_FORMAT, &err, "trailing bytes");
    /* the checks shared with parse_idx: counts that differ, a labels file cut short */
    write_file(ip, im.p, im.n);
    write_file(lp, lb.p, lb.n - 1);
    expect(svdd_dataset_load_idx(&kept, ip, lp, &keep37, &err), SVDD_E_FORMAT, &err, "truncated: header says 50 labels");
    buf lb2 = idx_labels(2, 2, 10);
    write_file(lp, lb2.p, lb2.n);
    expect(svdd_dataset_load_idx(&kept, ip, lp, &keep37, &err), SVDD_E_FORMAT, &err, "2 labels for the 50 images");
    /* Memory follows the bytes present, not the header: two images of 65536x65536 (8 GiB, within
     * raised limits) announced by a 16-byte header and backed by 10 bytes are refused as truncated
     * after the bytes that are there, without an allocation of the announced size (an image of
     * 4 GiB also exceeds what one gzread call can count). */
    lb2.p[8] = 3, lb2.p[9] = 7;
    write_file(lp, lb2.p, lb2.n);
    buf huge = idx_images(2, 65536, 65536, 10);
    write_file(ip, huge.p, huge.n);
    svdd_load_limits raised = {0, UINT64_MAX, 65536, {(1u << 3) | (1u << 7), 0, 0, 0}};
    expect(svdd_dataset_load_idx(&kept, ip, lp, &raised, &err), SVDD_E_FORMAT, &err,
           "header says 2 images of 65536x65536 but image 0 cannot be read (the file ends there)");
    assert_null(kept);

    const char *files[] = {ip, lp, igz, cut};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) assert_int_equal(unlink(files[i]), 0);
    assert_int_equal(rmdir(tmpdir), 0);
    free(im.p), free(lb.p), free(lb2.p), free(huge.p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_valid),
        cmocka_unit_test(test_parse_header_errors),
        cmocka_unit_test(test_parse_size_errors),
        cmocka_unit_test(test_load_files),
        cmocka_unit_test(test_load_kept),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
