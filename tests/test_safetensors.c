/* The safetensors reader and writer: round trips, the exact bytes of a tiny file, and every
 * malformation the reader must reject (with the file's name in the message), plus a small
 * mutation fuzz that must never crash (run it under ASan). */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/safetensors.h"
#include "testutil.h"

#define BAD_NAME "bad.safetensors"

/* A file image from a header text and a data buffer (the header is used as given, unpadded). */
static unsigned char *make_file(const char *header, size_t header_len, const void *data, size_t data_len,
                                size_t *len) {
    *len = 8 + header_len + data_len;
    unsigned char *b = malloc(*len + 1);
    assert_non_null(b);
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)((uint64_t)header_len >> (8 * i));
    memcpy(b + 8, header, header_len);
    if (data_len) memcpy(b + 8 + header_len, data, data_len);
    return b;
}

/* Parsing must fail with `status`, and the message must name the file and contain `what`. */
static void expect_fail_bytes(const unsigned char *b, size_t len, svdd_status status, const char *what) {
    svdd__st *st = (svdd__st *)1;
    svdd_error err;
    memset(&err, 0, sizeof err);
    svdd_status rc = svdd__st_parse(&st, b, len, BAD_NAME, &err);
    if (rc != status || st != NULL || err.status != status || !strstr(err.message, BAD_NAME) ||
        (what && !strstr(err.message, what)))
        fail_msg("expected %s containing \"%s\", got %s: \"%s\"", svdd_status_name(status), what ? what : "",
                 svdd_status_name(rc), err.message);
    printf("  rejected: %s\n", err.message);
}

static void expect_fail(const char *header, size_t data_len, svdd_status status, const char *what) {
    unsigned char data[64];
    memset(data, 0x3f, sizeof data);
    assert_true(data_len <= sizeof data);
    size_t len;
    unsigned char *b = make_file(header, strlen(header), data, data_len, &len);
    expect_fail_bytes(b, len, status, what);
    free(b);
}

static svdd__st *expect_ok(const char *header, const void *data, size_t data_len) {
    size_t len;
    unsigned char *b = make_file(header, strlen(header), data, data_len, &len);
    svdd__st *st = NULL;
    svdd_error err;
    svdd_status rc = svdd__st_parse(&st, b, len, "good.safetensors", &err);
    free(b);
    if (rc != SVDD_OK) fail_msg("unexpected failure: %s", err.message);
    return st;
}

static void test_round_trip(void **state) {
    (void)state;
    float a[6] = {1.5f, -2.0f, 0.0f, 3.25f, 1e-30f, -7e20f};
    double d[3] = {1.0 / 3.0, -1e300, 0.5};
    int32_t i32[2] = {-5, 2147483647};
    int64_t i64[2] = {-1, (int64_t)1 << 62};
    uint8_t u8[5] = {0, 1, 2, 254, 255};
    float scalar = 42.0f;
    int sa[2] = {2, 3};
    int64_t sd[1] = {3}, si[2] = {1, 2}, su[1] = {5}, s_empty[2] = {0, 3};
    svdd__st_writer *w = NULL;
    svdd_error err;
    assert_int_equal(svdd__st_writer_create(&w, &err), SVDD_OK);
    assert_int_equal(svdd__st_writer_add_f32(w, "encoder.conv1.weight", 2, sa, a, &err), SVDD_OK);
    assert_int_equal(svdd__st_writer_add(w, "d", SVDD__ST_F64, 1, sd, d, &err), SVDD_OK);
    assert_int_equal(svdd__st_writer_add(w, "i\"32\\\n", SVDD__ST_I32, 2, si, i32, &err), SVDD_OK);
    assert_int_equal(svdd__st_writer_add(w, "i64", SVDD__ST_I64, 2, si, i64, &err), SVDD_OK);
    assert_int_equal(svdd__st_writer_add(w, "u8", SVDD__ST_U8, 1, su, u8, &err), SVDD_OK);
    assert_int_equal(svdd__st_writer_add(w, "empty", SVDD__ST_F32, 2, s_empty, NULL, &err), SVDD_OK);
    assert_int_equal(svdd__st_writer_add_f32(w, "scalar", 0, NULL, &scalar, &err), SVDD_OK);
    assert_int_equal(svdd__st_writer_meta(w, "format", "svdd-model", &err), SVDD_OK);
    assert_int_equal(svdd__st_writer_meta(w, "spec", "line 1\nline \"2\"\t\xc3\xa9", &err), SVDD_OK);
    assert_int_equal(svdd__st_writer_meta(w, "format", "svdd-model 1", &err), SVDD_OK); /* replaces */
    /* invalid additions leave the writer usable */
    assert_int_equal(svdd__st_writer_add_f32(w, "d", 2, sa, a, &err), SVDD_E_INVALID);
    assert_int_equal(svdd__st_writer_add_f32(w, "__metadata__", 2, sa, a, &err), SVDD_E_INVALID);
    assert_int_equal(svdd__st_writer_add_f32(w, "", 2, sa, a, &err), SVDD_E_INVALID);
    assert_int_equal(svdd__st_writer_add_f32(w, "bad\xff", 2, sa, a, &err), SVDD_E_INVALID);
    int neg[1] = {-1};
    assert_int_equal(svdd__st_writer_add_f32(w, "neg", 1, neg, a, &err), SVDD_E_INVALID);
    assert_int_equal(svdd__st_writer_add_f32(w, "nulldata", 2, sa, NULL, &err), SVDD_E_INVALID);

    unsigned char *mem;
    size_t len;
    assert_int_equal(svdd__st_write_memory(w, &mem, &len, &err), SVDD_OK);
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = (hl << 8) | mem[i];
    assert_int_equal(hl % 8, 0); /* padded so that the data starts 8-aligned */

    svdd__st *st = NULL;
    assert_int_equal(svdd__st_parse(&st, mem, len, "mem", &err), SVDD_OK);
    memset(mem, 0, len); /* the parsed file owns a copy */
    free(mem);
    assert_int_equal(svdd__st_count(st), 7);
    /* in the order added */
    assert_string_equal(svdd__st_at(st, 0)->name, "encoder.conv1.weight");
    assert_string_equal(svdd__st_at(st, 1)->name, "d");
    assert_null(svdd__st_at(st, 7));
    assert_null(svdd__st_find(st, "nope"));
    const svdd__st_tensor *t = svdd__st_find(st, "encoder.conv1.weight");
    assert_non_null(t);
    assert_int_equal(t->dtype, SVDD__ST_F32);
    assert_int_equal(t->ndim, 2);
    assert_int_equal(t->shape[0], 2);
    assert_int_equal(t->shape[1], 3);
    assert_int_equal(t->numel, 6);
    assert_int_equal(t->nbytes, 24);

    float a2[6];
    assert_int_equal(svdd__st_read_f32(st, "encoder.conv1.weight", a2, 6, 2, sa, &err), SVDD_OK);
    assert_memory_equal(a, a2, sizeof a);
    int wrong[2] = {3, 2};
    assert_int_equal(svdd__st_read_f32(st, "encoder.conv1.weight", a2, 6, 2, wrong, &err), SVDD_E_FORMAT);
    assert_non_null(strstr(err.message, "[2, 3]"));
    assert_non_null(strstr(err.message, "mem"));
    assert_int_equal(svdd__st_read_f32(st, "encoder.conv1.weight", a2, 5, 0, NULL, &err), SVDD_E_FORMAT);
    assert_int_equal(svdd__st_read_f32(st, "d", a2, 3, 0, NULL, &err), SVDD_E_FORMAT); /* dtype */
    assert_int_equal(svdd__st_read_f32(st, "missing", a2, 3, 0, NULL, &err), SVDD_E_FORMAT);

    double d2[3];
    int32_t i32b[2];
    int64_t i64b[2];
    uint8_t u8b[5];
    float s2 = 0, e2;
    assert_int_equal(svdd__st_copy(st, "d", SVDD__ST_F64, d2, 3, &err), SVDD_OK);
    assert_memory_equal(d, d2, sizeof d);
    assert_int_equal(svdd__st_copy(st, "i\"32\\\n", SVDD__ST_I32, i32b, 2, &err), SVDD_OK);
    assert_memory_equal(i32, i32b, sizeof i32);
    assert_int_equal(svdd__st_copy(st, "i64", SVDD__ST_I64, i64b, 2, &err), SVDD_OK);
    assert_memory_equal(i64, i64b, sizeof i64);
    assert_int_equal(svdd__st_copy(st, "u8", SVDD__ST_U8, u8b, 5, &err), SVDD_OK);
    assert_memory_equal(u8, u8b, sizeof u8);
    assert_int_equal(svdd__st_read_f32(st, "scalar", &s2, 1, 0, NULL, &err), SVDD_OK);
    assert_true(s2 == 42.0f);
    assert_int_equal(svdd__st_find(st, "scalar")->ndim, 0);
    assert_int_equal(svdd__st_read_f32(st, "empty", &e2, 0, 2, (int[]){0, 3}, &err), SVDD_OK);

    assert_int_equal(svdd__st_meta_count(st), 2);
    assert_string_equal(svdd__st_meta(st, "format"), "svdd-model 1");
    assert_string_equal(svdd__st_meta(st, "spec"), "line 1\nline \"2\"\t\xc3\xa9");
    assert_null(svdd__st_meta(st, "nope"));
    const char *k, *v;
    svdd__st_meta_at(st, 0, &k, &v);
    assert_string_equal(k, "format");
    svdd__st_meta_at(st, 5, &k, &v);
    assert_null(k);
    assert_int_equal(svdd__st_check_finite(st, NULL, &err), SVDD_OK);
    svdd__st_free(st);
    svdd__st_writer_free(w);
    svdd__st_free(NULL);
    svdd__st_writer_free(NULL);
}

/* The exact bytes of a one-tensor file, both ways. */
static void test_bytes(void **state) {
    (void)state;
    static const char header[] = "{\"__metadata__\":{\"k\":\"v\"},\"a\":{\"dtype\":\"F32\",\"shape\":[2],"
                                 "\"data_offsets\":[0,8]}}";
    /* 79 characters, padded with spaces to 80 */
    size_t hl = strlen(header);
    assert_int_equal(hl, 79);
    unsigned char expect[8 + 80 + 8];
    memset(expect, 0, sizeof expect);
    expect[0] = 80;
    memcpy(expect + 8, header, hl); /* NOLINT(bugprone-not-null-terminated-result): file bytes, not a string */
    memset(expect + 8 + hl, ' ', 80 - hl);
    /* 1.0f = 0x3f800000, -2.0f = 0xc0000000, little-endian */
    const unsigned char data[8] = {0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0};
    memcpy(expect + 88, data, 8);

    float a[2] = {1.0f, -2.0f};
    int shape[1] = {2};
    svdd__st_writer *w;
    svdd_error err;
    assert_int_equal(svdd__st_writer_create(&w, &err), SVDD_OK);
    assert_int_equal(svdd__st_writer_add_f32(w, "a", 1, shape, a, &err), SVDD_OK);
    assert_int_equal(svdd__st_writer_meta(w, "k", "v", &err), SVDD_OK);
    unsigned char *mem;
    size_t len;
    assert_int_equal(svdd__st_write_memory(w, &mem, &len, &err), SVDD_OK);
    assert_int_equal(len, sizeof expect);
    assert_memory_equal(mem, expect, sizeof expect);
    free(mem);
    svdd__st_writer_free(w);

    /* A file as another writer might produce it: no padding, key order and spacing differ, a
     * hole before the data, a zero-size tensor. */
    static const char other[] = " { \"b\" : {\"shape\": [], \"data_offsets\": [4, 8], \"dtype\": \"F32\"},\n"
                                "\"z\": {\"dtype\": \"U8\", \"shape\": [0], \"data_offsets\": [6, 6]}}\t";
    const unsigned char buf[8] = {9, 9, 9, 9, 0x00, 0x00, 0x40, 0x40}; /* 3.0f at 4 */
    svdd__st *st = expect_ok(other, buf, 8);
    float b;
    assert_int_equal(svdd__st_read_f32(st, "b", &b, 1, 0, (const int *)NULL, &err), SVDD_OK);
    assert_true(b == 3.0f);
    assert_int_equal(svdd__st_find(st, "z")->numel, 0);
    assert_int_equal(svdd__st_meta_count(st), 0);
    svdd__st_free(st);
    /* the empty file */
    st = expect_ok("{}", NULL, 0);
    assert_int_equal(svdd__st_count(st), 0);
    svdd__st_free(st);
}

static void test_file(void **state) {
    (void)state;
    char dir[512];
    snprintf(dir, sizeof dir, "%s/st_test_XXXXXX", SVDD_BINARY_DIR);
    assert_non_null(mkdtemp(dir));
    char path[600];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    float a[4] = {1, 2, 3, 4};
    int shape[2] = {2, 2};
    svdd__st_writer *w;
    svdd_error err;
    assert_int_equal(svdd__st_writer_create(&w, &err), SVDD_OK);
    assert_int_equal(svdd__st_writer_add_f32(w, "w", 2, shape, a, &err), SVDD_OK);
    assert_int_equal(svdd__st_write_file(w, path, &err), SVDD_OK);
    a[0] = 5; /* write again over the existing file */
    assert_int_equal(svdd__st_write_file(w, path, &err), SVDD_OK);
    svdd__st *st;
    assert_int_equal(svdd__st_load(&st, path, &err), SVDD_OK);
    assert_string_equal(svdd__st_name(st), path);
    float b[4];
    assert_int_equal(svdd__st_read_f32(st, "w", b, 4, 2, shape, &err), SVDD_OK);
    assert_memory_equal(a, b, sizeof a);
    svdd__st_free(st);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0644);

    /* failures name the path and leave no temporary file behind */
    char bad[700];
    snprintf(bad, sizeof bad, "%s/no/such/dir/m.safetensors", dir);
    assert_int_equal(svdd__st_write_file(w, bad, &err), SVDD_E_IO);
    assert_non_null(strstr(err.message, bad));
    char sub[700];
    snprintf(sub, sizeof sub, "%s/a_directory", dir);
    assert_int_equal(mkdir(sub, 0755), 0);
    assert_int_equal(svdd__st_write_file(w, sub, &err), SVDD_E_IO); /* rename onto a folder fails */
    assert_non_null(strstr(err.message, sub));
    printf("  write failure: %s\n", err.message);
    assert_int_equal(svdd__st_load(&st, bad, &err), SVDD_E_IO);
    assert_null(st);
    DIR *d = opendir(dir);
    assert_non_null(d);
    int entries = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        assert_null(strstr(e->d_name, ".tmp."));
        entries++;
    }
    closedir(d);
    assert_int_equal(entries, 2); /* model.safetensors and a_directory */
    svdd__st_writer_free(w);
    assert_int_equal(rmdir(sub), 0);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(rmdir(dir), 0);
}

#define T(dt, shape, off) "{\"t\":{\"dtype\":" dt ",\"shape\":" shape ",\"data_offsets\":" off "}}"

static void test_malformed(void **state) {
    (void)state;
    const unsigned char tiny[7] = {0};
    expect_fail_bytes(tiny, 0, SVDD_E_FORMAT, "too short");
    expect_fail_bytes(tiny, 7, SVDD_E_FORMAT, "too short");
    /* header length beyond the file, and beyond the 100 MB limit */
    unsigned char b[16] = {9, 0, 0, 0, 0, 0, 0, 0, '{', '}'};
    expect_fail_bytes(b, 16, SVDD_E_FORMAT, "header length 9");
    b[0] = 0xff, b[7] = 0xff; /* 2^64 - ..., must not wrap */
    expect_fail_bytes(b, 16, SVDD_E_LIMIT, "limit");
    unsigned char big[8] = {0x01, 0xe1, 0xf5, 0x05, 0, 0, 0, 0}; /* 100,000,001 */
    expect_fail_bytes(big, 8, SVDD_E_LIMIT, "limit");
    /* not JSON, not an object, trailing garbage, not UTF-8, control bytes */
    expect_fail("", 0, SVDD_E_FORMAT, "not valid JSON");
    expect_fail("{\"a\":", 0, SVDD_E_FORMAT, "not valid JSON");
    expect_fail("[1,2]", 0, SVDD_E_FORMAT, "not an object");
    expect_fail("123", 0, SVDD_E_FORMAT, "not an object");
    expect_fail("{} x", 0, SVDD_E_FORMAT, "not valid JSON");
    expect_fail("{}{}", 0, SVDD_E_FORMAT, "not valid JSON");
    expect_fail("{\"\xff\":1}", 0, SVDD_E_FORMAT, "UTF-8");
    expect_fail("{\"\xc0\x80\":1}", 0, SVDD_E_FORMAT, "UTF-8");         /* overlong NUL */
    expect_fail("{\"\xed\xa0\x80\":1}", 0, SVDD_E_FORMAT, "UTF-8");     /* surrogate */
    expect_fail("{\"\xe2\x82\":1}", 0, SVDD_E_FORMAT, "UTF-8");         /* truncated sequence */
    expect_fail("{\"a\x01\":1}", 0, SVDD_E_FORMAT, "control byte");
    {
        size_t len;
        unsigned char *f = make_file("{}\0{\"a\":1}", 10, NULL, 0, &len); /* a NUL would hide the rest */
        expect_fail_bytes(f, len, SVDD_E_FORMAT, "control byte");
        free(f);
    }
    /* entries */
    expect_fail("{\"t\":5}", 0, SVDD_E_FORMAT, "not an object");
    expect_fail("{\"t\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, SVDD_E_FORMAT, "lacks \"dtype\"");
    expect_fail("{\"t\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, SVDD_E_FORMAT, "lacks \"shape\"");
    expect_fail("{\"t\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, SVDD_E_FORMAT, "lacks \"data_offsets\"");
    expect_fail("{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":1}}", 4, SVDD_E_FORMAT,
                "exactly");
    expect_fail("{\"t\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
                SVDD_E_FORMAT, "exactly");
    expect_fail("{\"\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, SVDD_E_FORMAT, "empty name");
    expect_fail(T("32", "[1]", "[0,4]"), 4, SVDD_E_FORMAT, "dtype of \"t\" is not a string");
    expect_fail(T("\"F16\"", "[1]", "[0,2]"), 2, SVDD_E_FORMAT, "F16");
    expect_fail(T("\"f32\"", "[1]", "[0,4]"), 4, SVDD_E_FORMAT, "f32");
    /* shapes */
    expect_fail(T("\"F32\"", "1", "[0,4]"), 4, SVDD_E_FORMAT, "not an array");
    expect_fail(T("\"F32\"", "[-1]", "[0,4]"), 4, SVDD_E_FORMAT, "non-negative integer");
    expect_fail(T("\"F32\"", "[1.5]", "[0,4]"), 4, SVDD_E_FORMAT, "non-negative integer");
    expect_fail(T("\"F32\"", "[\"1\"]", "[0,4]"), 4, SVDD_E_FORMAT, "non-negative integer");
    expect_fail(T("\"F32\"", "[1e300]", "[0,4]"), 4, SVDD_E_FORMAT, "non-negative integer");
    expect_fail(T("\"F32\"", "[null]", "[0,4]"), 4, SVDD_E_FORMAT, "non-negative integer");
    expect_fail(T("\"F32\"", "[4294967296,4294967296,4294967296]", "[0,4]"), 4, SVDD_E_FORMAT, "overflows");
    expect_fail(T("\"F64\"", "[4503599627370496,4503599627370496]", "[0,4]"), 4, SVDD_E_FORMAT, "overflows");
    expect_fail(T("\"F32\"", "[1,1,1,1,1,1,1,1,1]", "[0,4]"), 4, SVDD_E_FORMAT, "9 dimensions");
    /* offsets */
    expect_fail(T("\"F32\"", "[1]", "4"), 4, SVDD_E_FORMAT, "two non-negative integers");
    expect_fail(T("\"F32\"", "[1]", "[4]"), 4, SVDD_E_FORMAT, "two non-negative integers");
    expect_fail(T("\"F32\"", "[1]", "[0,4,8]"), 8, SVDD_E_FORMAT, "two non-negative integers");
    expect_fail(T("\"F32\"", "[1]", "[-4,0]"), 4, SVDD_E_FORMAT, "two non-negative integers");
    expect_fail(T("\"F32\"", "[1]", "[0.5,4]"), 4, SVDD_E_FORMAT, "two non-negative integers");
    expect_fail(T("\"F32\"", "[1]", "[8,4]"), 8, SVDD_E_FORMAT, "begin 8 > end 4");
    expect_fail(T("\"F32\"", "[1]", "[0,4]"), 3, SVDD_E_FORMAT, "truncated");
    expect_fail(T("\"F32\"", "[1]", "[0,18446744073709551616]"), 4, SVDD_E_FORMAT, "two non-negative integers");
    expect_fail(T("\"F32\"", "[2]", "[0,4]"), 8, SVDD_E_FORMAT, "need 8");
    expect_fail(T("\"F32\"", "[1]", "[0,8]"), 8, SVDD_E_FORMAT, "need 4");
    /* overlap, in either header order */
    expect_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                8, SVDD_E_FORMAT, "overlap");
    expect_fail("{\"b\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[7,8]},"
                "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
                8, SVDD_E_FORMAT, "overlap");
    expect_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
                4, SVDD_E_FORMAT, "overlap");
    /* duplicates */
    expect_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                8, SVDD_E_FORMAT, "\"a\" appears twice");
    expect_fail("{\"__metadata__\":{},\"__metadata__\":{}}", 0, SVDD_E_FORMAT, "twice");
    /* metadata */
    expect_fail("{\"__metadata__\":[]}", 0, SVDD_E_FORMAT, "must be an object");
    expect_fail("{\"__metadata__\":\"x\"}", 0, SVDD_E_FORMAT, "must be an object");
    expect_fail("{\"__metadata__\":{\"a\":1}}", 0, SVDD_E_FORMAT, "not a string");
    expect_fail("{\"__metadata__\":{\"a\":{}}}", 0, SVDD_E_FORMAT, "not a string");
    expect_fail("{\"__metadata__\":{\"a\":\"x\",\"a\":\"y\"}}", 0, SVDD_E_FORMAT, "\"a\" appears twice");
    /* and a valid one with holes and zero-size tensors inside others' ranges */
    svdd__st *st = expect_ok("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                             "\"e\":{\"dtype\":\"F32\",\"shape\":[2,0],\"data_offsets\":[4,4]},"
                             "\"b\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[12,13]}}",
                             "0123456789abcdef", 16);
    assert_int_equal(svdd__st_count(st), 3);
    svdd__st_free(st);
}

static void test_finite(void **state) {
    (void)state;
    float f[3] = {1.0f, 2.0f, 3.0f};
    double d[2] = {1.0, 2.0};
    int s3[1] = {3};
    int64_t s2[1] = {2};
    svdd__st_writer *w;
    svdd_error err;
    assert_int_equal(svdd__st_writer_create(&w, &err), SVDD_OK);
    assert_int_equal(svdd__st_writer_add_f32(w, "f", 1, s3, f, &err), SVDD_OK);
    assert_int_equal(svdd__st_writer_add(w, "d", SVDD__ST_F64, 1, s2, d, &err), SVDD_OK);
    const float bad_f[3] = {NAN, INFINITY, -INFINITY};
    const double bad_d[2] = {-INFINITY, NAN};
    for (int c = 0; c < 6; c++) {
        f[0] = f[1] = f[2] = 1.0f;
        d[0] = d[1] = 1.0;
        const char *which = c < 3 ? "f" : "d";
        if (c < 3) f[c] = bad_f[c];
        else if (c < 5) d[c - 3] = bad_d[c - 3];
        unsigned char *mem;
        size_t len;
        assert_int_equal(svdd__st_write_memory(w, &mem, &len, &err), SVDD_OK);
        svdd__st *st;
        assert_int_equal(svdd__st_parse(&st, mem, len, "nan.safetensors", &err), SVDD_OK);
        svdd_status want = c < 5 ? SVDD_E_NUMERIC : SVDD_OK;
        assert_int_equal(svdd__st_check_finite(st, NULL, &err), want);
        if (want != SVDD_OK) {
            assert_non_null(strstr(err.message, "nan.safetensors"));
            assert_int_equal(svdd__st_check_finite(st, which, &err), want);
        }
        svdd__st_free(st);
        free(mem);
    }
    /* the largest finite values are not mistaken for infinities */
    f[0] = 3.4028235e38f, f[1] = -1e-45f, f[2] = -3.4028235e38f;
    d[0] = 1.7976931348623157e308, d[1] = -4.9e-324;
    unsigned char *mem;
    size_t len;
    assert_int_equal(svdd__st_write_memory(w, &mem, &len, &err), SVDD_OK);
    svdd__st *st;
    assert_int_equal(svdd__st_parse(&st, mem, len, "max.safetensors", &err), SVDD_OK);
    assert_int_equal(svdd__st_check_finite(st, NULL, &err), SVDD_OK);
    assert_int_equal(svdd__st_check_finite(st, "missing", &err), SVDD_E_FORMAT);
    svdd__st_free(st);
    free(mem);
    svdd__st_writer_free(w);
}

/* Random corruptions of a valid file: every outcome is fine except a crash or a leak (ASan). */
static void test_mutations(void **state) {
    (void)state;
    float a[12];
    for (int i = 0; i < 12; i++) a[i] = (float)i;
    int s1[2] = {3, 4}, s2[1] = {2};
    svdd__st_writer *w;
    svdd_error err;
    assert_int_equal(svdd__st_writer_create(&w, &err), SVDD_OK);
    assert_int_equal(svdd__st_writer_add_f32(w, "encoder.conv1.weight", 2, s1, a, &err), SVDD_OK);
    assert_int_equal(svdd__st_writer_add_f32(w, "encoder.bn1.running_mean", 1, s2, a, &err), SVDD_OK);
    assert_int_equal(svdd__st_writer_meta(w, "format", "svdd", &err), SVDD_OK);
    unsigned char *orig;
    size_t len;
    assert_int_equal(svdd__st_write_memory(w, &orig, &len, &err), SVDD_OK);
    svdd__st_writer_free(w);
    static const char interesting[] = "{}[]\",:0123456789-.e \xff\x80";
    unsigned char *m = malloc(len);
    svdd__rng r;
    svdd__rng_seed(&r, 2024, 1);
    int ok = 0, rejected = 0;
    for (int it = 0; it < 20000; it++) {
        memcpy(m, orig, len);
        size_t n = len;
        int edits = 1 + (int)svdd__rng_below(&r, 4);
        for (int e = 0; e < edits; e++) {
            size_t at = svdd__rng_below(&r, (uint32_t)n);
            switch (svdd__rng_below(&r, 4)) {
            case 0: m[at] ^= (unsigned char)(1u << svdd__rng_below(&r, 8)); break;
            case 1: m[at] = (unsigned char)interesting[svdd__rng_below(&r, sizeof interesting - 1)]; break;
            case 2: n = at; break; /* truncate */
            default: m[at] = (unsigned char)svdd__rng_u32(&r); break;
            }
            if (n == 0) break;
        }
        svdd__st *st = NULL;
        if (svdd__st_parse(&st, m, n, "fuzz", &err) == SVDD_OK) {
            ok++;
            /* whatever parsed must be safe to read in full */
            for (int i = 0; i < svdd__st_count(st); i++) {
                const svdd__st_tensor *t = svdd__st_at(st, i);
                unsigned sum = 0;
                for (size_t k = 0; k < t->nbytes; k++) sum += t->data[k];
                (void)sum;
                (void)svdd__st_check_finite(st, t->name, &err);
            }
        } else {
            assert_null(st);
            assert_non_null(strstr(err.message, "fuzz"));
            rejected++;
        }
        svdd__st_free(st);
    }
    printf("  mutations: %d parsed, %d rejected\n", ok, rejected);
    free(m);
    free(orig);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip), cmocka_unit_test(test_bytes),   cmocka_unit_test(test_file),
        cmocka_unit_test(test_malformed),  cmocka_unit_test(test_finite), cmocka_unit_test(test_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
