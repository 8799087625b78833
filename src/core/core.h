/* Internal helpers every part of the library uses: error reporting, overflow-checked sizes and
 * allocation, the seeded random generator. Nothing here is exported. */
#ifndef SVDD_CORE_H
#define SVDD_CORE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "svdd.h"

#if defined(__GNUC__)
#define SVDD__PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define SVDD__PRINTF(a, b)
#endif

/* Fill `err` (may be NULL) and return `status`, so that callers can write
 * `return svdd__fail(err, SVDD_E_FORMAT, "%s: bad magic", name);`. */
svdd_status svdd__fail(svdd_error *err, svdd_status status, const char *fmt, ...) SVDD__PRINTF(3, 4);
#ifdef __clang_analyzer__
/* For clang-tidy's static analyser only (never compiled): it analyses one file at a time and
 * cannot see that svdd__fail returns its `status`, so it explores "failed but returned SVDD_OK"
 * paths and reports null dereferences after every `if (st != SVDD_OK) return st;`. */
#define svdd__fail(err, status, ...) (svdd__fail((err), (status), __VA_ARGS__), (status))
#endif
/* Mark `err` as success. */
void svdd__ok(svdd_error *err);

/* Overflow-checked arithmetic on sizes: return 0 on overflow, 1 on success. */
static inline int svdd__mul_size(size_t a, size_t b, size_t *out) {
    if (a != 0 && b > SIZE_MAX / a) return 0;
    *out = a * b;
    return 1;
}
static inline int svdd__add_size(size_t a, size_t b, size_t *out) {
    if (b > SIZE_MAX - a) return 0;
    *out = a + b;
    return 1;
}
/* a*b*c*d, 0 on overflow. */
int svdd__mul4_size(size_t a, size_t b, size_t c, size_t d, size_t *out);

/* malloc/calloc of n elements of `size` bytes with the multiplication checked; NULL on
 * overflow or exhaustion. Memory is 64-byte aligned (SIMD and cache lines); free with free(). */
void *svdd__alloc(size_t n, size_t size);
void *svdd__calloc(size_t n, size_t size);
char *svdd__strdup(const char *s);

/* Read a whole file into memory (NUL-terminated for convenience, *len excludes the NUL).
 * `max_len` bounds the file size. Errors name the file. */
svdd_status svdd__read_file(const char *path, size_t max_len, unsigned char **data, size_t *len,
                            svdd_error *err);

/* If data starts with the gzip magic, inflate it (bounded by max_out bytes) into a new buffer
 * and replace *data and *len (freeing the old buffer); otherwise leave them alone. On failure
 * *data is left unchanged, for the caller to free. */
svdd_status svdd__maybe_gunzip(unsigned char **data, size_t *len, size_t max_out, const char *name,
                               svdd_error *err);

/* Log through an optional callback (printf-style). */
void svdd__log(svdd_log_fn fn, void *user, svdd_log_level level, const char *fmt, ...)
    SVDD__PRINTF(4, 5);

/* Monotonic wall-clock seconds. */
double svdd__now(void);

/* ---- random numbers: PCG32 (O'Neill 2014), explicit state, no globals ---- */
typedef struct svdd__rng {
    uint64_t state;
    uint64_t inc;
} svdd__rng;

void svdd__rng_seed(svdd__rng *r, uint64_t seed, uint64_t stream);
uint32_t svdd__rng_u32(svdd__rng *r);
/* Uniform in [0, 1) with 24 random bits (exactly representable as float). */
float svdd__rng_uniform(svdd__rng *r);
/* Uniform in [0, 1) with 53 random bits. */
double svdd__rng_uniform_double(svdd__rng *r);
/* Uniform integer in [0, n), unbiased; n > 0. */
uint32_t svdd__rng_below(svdd__rng *r, uint32_t n);
/* Standard normal (Box-Muller, no cached second value so the state alone describes the stream). */
double svdd__rng_normal(svdd__rng *r);
/* Fisher-Yates shuffle of idx[0..n). */
void svdd__rng_shuffle(svdd__rng *r, uint32_t *idx, size_t n);

#endif
