/* Fuzz target: the safetensors reader (src/io/safetensors.c). The whole input is one file.
 *
 * After a successful parse, every accessor is driven over what the parser promised: each tensor
 * is found again by name, copied out whole as its own dtype (and read as F32 with its own shape
 * when it is F32), checked for NaN and infinity, and every metadata pair is looked up by key.
 * A broken promise (a tensor past the buffer, a name that does not find its tensor, unsorted
 * metadata) aborts, which libFuzzer reports like a crash. */
#include "io/safetensors.h"
#include "fuzz_common.h"

static volatile unsigned sink;

static void check_tensor(const svdd__st *st, int i) {
    const svdd__st_tensor *t = svdd__st_at(st, i);
    if (!t || svdd__st_find(st, t->name) != t) abort();
    const size_t es = svdd__st_dtype_size(t->dtype);
    if (!es || t->ndim < 0 || t->ndim > SVDD__ST_MAX_DIMS || t->nbytes != t->numel * es) abort();
    size_t numel = 1;
    for (int k = 0; k < t->ndim; k++) numel *= (size_t)t->shape[k];
    if (numel != t->numel) abort();
    /* the copy reads every byte of the tensor; ASan checks they are inside the file */
    void *dst = malloc(t->nbytes ? t->nbytes : 1);
    if (!dst) abort();
    svdd_error err = fuzz_error();
    svdd_status rc = svdd__st_copy(st, t->name, t->dtype, dst, t->numel, &err);
    if (rc != SVDD_OK) abort();
    for (size_t b = 0; b < t->nbytes; b++) sink += ((const unsigned char *)dst)[b];
    if (t->dtype == SVDD__ST_F32) {
        int shape[SVDD__ST_MAX_DIMS];
        int fits = 1;
        for (int k = 0; k < t->ndim; k++) {
            fits &= t->shape[k] <= 0x7fffffff;
            shape[k] = (int)t->shape[k];
        }
        err = fuzz_error();
        if (fits && svdd__st_read_f32(st, t->name, dst, t->numel, t->ndim, shape, &err) != SVDD_OK) abort();
    }
    /* a wrong element count is refused */
    err = fuzz_error();
    rc = svdd__st_copy(st, t->name, t->dtype, dst, t->numel + 1, &err);
    if (rc == SVDD_OK) abort();
    fuzz_check_failure(rc, &err, NULL);
    free(dst);
    err = fuzz_error();
    rc = svdd__st_check_finite(st, t->name, &err);
    fuzz_check_failure(rc, &err, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    svdd__st *st = NULL;
    svdd_error err = fuzz_error();
    svdd_status rc = svdd__st_parse(&st, data, size, "fuzz.safetensors", &err);
    fuzz_check_failure(rc, &err, st);
    if (rc != SVDD_OK) return 0;
    for (int i = 0; i < svdd__st_count(st); i++) check_tensor(st, i);
    err = fuzz_error();
    rc = svdd__st_check_finite(st, NULL, &err);
    fuzz_check_failure(rc, &err, NULL);
    const char *prev = NULL;
    for (int i = 0; i < svdd__st_meta_count(st); i++) {
        const char *key, *value;
        svdd__st_meta_at(st, i, &key, &value);
        if (!key || !value || svdd__st_meta(st, key) != value) abort();
        if (prev && strcmp(prev, key) >= 0) abort(); /* sorted, unique */
        prev = key;
        sink += (unsigned)strlen(value);
    }
    if (svdd__st_find(st, "no such tensor \x01") || svdd__st_meta(st, "no such key \x01")) abort();
    svdd__st_free(st);
    return 0;
}
