/* Inputs found by fuzzing the parsers (fuzz/README.md), each refused cleanly now: quickly, with
 * the status and the message it should give, and without the allocation or the loop it once
 * caused. The files are in tests/fixtures/fuzz-regressions/; the models whose problem is their
 * size are built here in memory. An alarm turns a regressed endless loop into a failure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "io/safetensors.h"
#include "testutil.h"

static void fixture_path(char *buf, size_t size, const char *name) {
    svdd_test_path(buf, size, SVDD_SOURCE_DIR "/tests/fixtures/fuzz-regressions", name);
}

static unsigned char *read_fixture(const char *name, size_t *len) {
    char path[1024];
    fixture_path(path, sizeof path, name);
    unsigned char *data = NULL;
    svdd_error err;
    if (svdd__read_file(path, 1 << 20, &data, len, &err) != SVDD_OK) fail_msg("%s", err.message);
    return data;
}

static void assert_message_has(const svdd_error *err, const char *what) {
    if (!strstr(err->message, what)) fail_msg("message '%s' lacks '%s'", err->message, what);
}

/* A model whose metadata spec asks for 2^28 parameters (input 1x64x64, linear 65536) and whose
 * file holds none: the loader built the network first, 5 GB of parameters and Adam mirrors,
 * before it looked for a single tensor. Now the spec is weighed against the file's bytes. */
static void test_model_spec_larger_than_file(void **state) {
    (void)state;
    size_t len;
    unsigned char *data = read_fixture("model_spec_too_large.safetensors", &len);
    svdd_model *m = NULL;
    svdd_error err;
    assert_int_equal(svdd_model_parse(&m, data, len, "huge.safetensors", &err), SVDD_E_FORMAT);
    assert_null(m);
    assert_message_has(&err, "huge.safetensors");
    assert_message_has(&err, "needs 268435456 parameters");
    assert_message_has(&err, "train the model again");
    free(data);
}

/* The smallest model file around a spec: its metadata, the tensors given, nothing else. */
typedef struct tensor_spec {
    const char *name;
    svdd__st_dtype dtype;
    int ndim;
    int64_t shape[3];
    const void *data;
} tensor_spec;

static svdd_status parse_model(svdd_model **m, const char *spec, const tensor_spec *t, int n, svdd_error *err) {
    svdd__st_writer *w = NULL;
    assert_int_equal(svdd__st_writer_create(&w, NULL), SVDD_OK);
    assert_int_equal(svdd__st_writer_meta(w, "format", "svdd-model", NULL), SVDD_OK);
    assert_int_equal(svdd__st_writer_meta(w, "format_version", "1", NULL), SVDD_OK);
    assert_int_equal(svdd__st_writer_meta(w, "spec", spec, NULL), SVDD_OK);
    assert_int_equal(svdd__st_writer_meta(w, "spec_name", "crafted", NULL), SVDD_OK);
    assert_int_equal(svdd__st_writer_meta(w, "gaussian.shrinkage", "0.5", NULL), SVDD_OK);
    for (int i = 0; i < n; i++)
        assert_int_equal(svdd__st_writer_add(w, t[i].name, t[i].dtype, t[i].ndim, t[i].shape, t[i].data, NULL), SVDD_OK);
    unsigned char *bytes;
    size_t len;
    assert_int_equal(svdd__st_write_memory(w, &bytes, &len, NULL), SVDD_OK);
    svdd__st_writer_free(w);
    svdd_status st = svdd_model_parse(m, bytes, len, "crafted.safetensors", err);
    free(bytes);
    return st;
}

/* A latent dimension of 65536 (input 1x1x1, linear 65536: a 256 kB file) made the loader allocate
 * L*L doubles, 32 GB, for the latent Gaussian's Cholesky factor before it checked that the file
 * holds one. Now the tensors' sizes are checked first. */
static void test_model_latent_gaussian_checked_before_allocation(void **state) {
    (void)state;
    const int64_t L = 65536;
    float *zeros = calloc((size_t)L, sizeof(float)), *centre = malloc((size_t)L * sizeof(float));
    double one = 1.0;
    assert_non_null(zeros);
    assert_non_null(centre);
    for (int64_t i = 0; i < L; i++) centre[i] = 0.5f;
    const char *spec = "svdd-spec 1\ninput 1 1 1\nencoder\nflatten\nlinear 65536\n";
    tensor_spec t[3] = {{"encoder.fc1.weight", SVDD__ST_F32, 2, {L, 1}, zeros},
                        {"svdd.center", SVDD__ST_F32, 1, {L}, centre},
                        {"svdd.gaussian.mean", SVDD__ST_F64, 1, {1}, &one}};
    svdd_model *m = NULL;
    svdd_error err;
    assert_int_equal(parse_model(&m, spec, t, 2, &err), SVDD_E_FORMAT);
    assert_null(m);
    assert_message_has(&err, "'svdd.gaussian.mean' is missing");
    /* a mean of the wrong size is named as such, not read into a buffer sized by the spec */
    assert_int_equal(parse_model(&m, spec, t, 3, &err), SVDD_E_FORMAT);
    assert_message_has(&err, "'svdd.gaussian.mean' holds 1 values but this model needs 65536");
    free(zeros);
    free(centre);
}

/* A leaky ReLU on a 4x4096x4096 input (then twelve poolings down to 1x1 and four weights): the
 * loader allocated its 256 MB mean feature map before it compared the stored one's size. */
static void test_model_mean_activation_checked_before_allocation(void **state) {
    (void)state;
    char spec[512] = "svdd-spec 1\ninput 4 4096 4096\nencoder\nleaky_relu\n";
    for (int i = 0; i < 12; i++) strcat(spec, "maxpool2d\n");
    strcat(spec, "flatten\nlinear 1\n");
    const float w[4] = {0.1f, 0.2f, 0.3f, 0.4f}, centre = 0.5f, act = 0.0f;
    const double mean = 0.0, chol = 1.0;
    tensor_spec t[5] = {{"encoder.fc1.weight", SVDD__ST_F32, 2, {1, 4}, w},
                        {"svdd.center", SVDD__ST_F32, 1, {1}, &centre},
                        {"svdd.gaussian.mean", SVDD__ST_F64, 1, {1}, &mean},
                        {"svdd.gaussian.cholesky", SVDD__ST_F64, 2, {1, 1}, &chol},
                        {"svdd.mean_activation.encoder.lrelu1", SVDD__ST_F32, 3, {1, 1, 1}, &act}};
    svdd_model *m = NULL;
    svdd_error err;
    assert_int_equal(parse_model(&m, spec, t, 5, &err), SVDD_E_FORMAT);
    assert_null(m);
    assert_message_has(&err, "'svdd.mean_activation.encoder.lrelu1' holds 1 values but this model needs 67108864");
}

/* svdd__maybe_gunzip with no bound (SIZE_MAX, which svdd_dataset_load_idx passes for limits of
 * UINT64_MAX) wrapped its buffer arithmetic around to a zero-byte buffer and looped forever on
 * any gzip file. */
static void test_gunzip_without_bound(void **state) {
    (void)state;
    size_t len;
    unsigned char *data = read_fixture("idx_unbounded_gunzip-images.gz", &len);
    svdd_error err;
    assert_int_equal(svdd__maybe_gunzip(&data, &len, SIZE_MAX, "images.gz", &err), SVDD_OK);
    assert_int_equal(len, 16 + 4);
    free(data);

    char img[1024], lab[1024];
    fixture_path(img, sizeof img, "idx_unbounded_gunzip-images.gz");
    fixture_path(lab, sizeof lab, "idx_unbounded_gunzip-labels");
    svdd_load_limits lim;
    memset(&lim, 0, sizeof lim);
    lim.max_images = UINT64_MAX;
    lim.max_pixel_bytes = UINT64_MAX;
    svdd_dataset *ds = NULL;
    assert_int_equal(svdd_dataset_load_idx(&ds, img, lab, &lim, &err), SVDD_OK);
    assert_int_equal(svdd_dataset_count(ds), 1);
    assert_int_equal(svdd_dataset_image_size(ds), 4);
    assert_int_equal(svdd_dataset_pixels(ds)[3], 4);
    svdd_dataset_free(ds);
}

/* A PNG chunk (length, type, data, CRC) appended at p; returns the new end. */
static unsigned char *put_chunk(unsigned char *p, const char *type, const unsigned char *data, uint32_t n) {
    const unsigned char len[4] = {(unsigned char)(n >> 24), (unsigned char)(n >> 16), (unsigned char)(n >> 8),
                                  (unsigned char)n};
    memcpy(p, len, 4), memcpy(p + 4, type, 4);
    if (n) memcpy(p + 8, data, n);
    uLong crc = crc32(0L, p + 4, 4 + n);
    const unsigned char c[4] = {(unsigned char)(crc >> 24), (unsigned char)(crc >> 16), (unsigned char)(crc >> 8),
                                (unsigned char)crc};
    memcpy(p + 8 + n, c, 4);
    return p + 12 + n;
}

/* A PNG whose sPLT chunk announces 1.9 GB in a 57-byte file: libpng 1.6.39 allocated the
 * announced length before reading the chunk (fuzz_image, out-of-memory). It is now refused as
 * the truncated file it is before libpng sees it; the allocation itself is what the fuzz run's
 * malloc limit checks on this input (fuzz/corpus/image/bad_splt_past_end.png). A PNG with a
 * genuine sPLT chunk still decodes. */
static void test_png_chunk_past_end(void **state) {
    (void)state;
    size_t len;
    unsigned char *data = read_fixture("png_splt_past_end.png", &len);
    svdd_dataset *ds = NULL;
    svdd_error err;
    assert_int_equal(svdd_dataset_decode_image(&ds, data, len, "splt.png", NULL, &err), SVDD_E_FORMAT);
    assert_null(ds);
    assert_message_has(&err, "splt.png: corrupt PNG: unexpected end of data (truncated file)");
    free(data);

    unsigned char png[256], *p = png;
    memcpy(p, "\x89PNG\r\n\x1a\n", 8), p += 8;
    const unsigned char ihdr[13] = {0, 0, 0, 2, 0, 0, 0, 1, 8, 0, 0, 0, 0}; /* 2x1 grey, 8 bits */
    p = put_chunk(p, "IHDR", ihdr, 13);
    const unsigned char splt[2 + 1 + 6] = {'p', 0, 8, 1, 2, 3, 4, 0, 5}; /* one 8-bit entry */
    p = put_chunk(p, "sPLT", splt, sizeof splt);
    const unsigned char row[3] = {0, 0x10, 0xf0};
    unsigned char z[64];
    uLongf zn = sizeof z;
    assert_int_equal(compress(z, &zn, row, sizeof row), Z_OK);
    p = put_chunk(p, "IDAT", z, (uint32_t)zn);
    p = put_chunk(p, "IEND", NULL, 0);
    if (svdd_dataset_decode_image(&ds, png, (size_t)(p - png), "ok.png", NULL, &err) != SVDD_OK)
        fail_msg("%s", err.message);
    assert_int_equal(svdd_dataset_image_size(ds), 2);
    assert_int_equal(svdd_dataset_pixels(ds)[1], 0xf0);
    svdd_dataset_free(ds);
}

int main(void) {
    /* every case takes milliseconds; a regression into an endless loop ends here, not at the
     * CTest timeout */
    alarm(120);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_spec_larger_than_file),
        cmocka_unit_test(test_model_latent_gaussian_checked_before_allocation),
        cmocka_unit_test(test_model_mean_activation_checked_before_allocation),
        cmocka_unit_test(test_gunzip_without_bound),
        cmocka_unit_test(test_png_chunk_past_end),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
