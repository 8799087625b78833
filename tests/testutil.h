/* Shared helpers for the test programs (cmocka). */
#ifndef SVDD_TESTUTIL_H
#define SVDD_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the three headers above first. */
#include <cmocka.h>

#include "core/core.h"

#ifdef __clang_analyzer__
/* For clang-tidy's static analyser only (never compiled): cmocka's checks longjmp out of a failed
 * test, which the analyser cannot see, so it follows a failed assert_non_null onward and reports
 * the null dereference the check exists to prevent. Here they stop the path instead. */
#include <stdio.h>
#include <stdlib.h>
#undef assert_true
#define assert_true(c) ((c) ? (void)0 : abort())
#undef assert_false
#define assert_false(c) ((c) ? abort() : (void)0)
#undef assert_non_null
#define assert_non_null(c) ((c) != NULL ? (void)0 : abort())
#undef assert_null
#define assert_null(c) ((c) == NULL ? (void)0 : abort())
#undef assert_int_equal
#define assert_int_equal(a, b) ((a) == (b) ? (void)0 : abort())
#undef fail_msg
#define fail_msg(...) (printf(__VA_ARGS__), abort())
#undef fail
#define fail() abort()
#endif

/* CTest treats this exit code as "skipped" (SKIP_RETURN_CODE). */
#define SVDD_TEST_SKIP 77

/* The data-set folder from $SVDD_DATA, or NULL when unset or missing (then the caller skips,
 * exit code 77), except that with SVDD_REQUIRE_DATA=1 a missing folder fails the test at once. */
const char *svdd_test_data_dir(void);
/* Threads for the tests that train or run whole networks: $SVDD_TEST_THREADS (1..256), default 1.
 * The ThreadSanitizer build sets 2, so those tests run their parallel loops under TSan. */
int svdd_test_threads(void);
/* A new empty folder "/tmp/svdd-<what>-XXXXXX", its path in buf; 0 on failure. For setup
 * functions too (which return an error rather than fail a test). */
int svdd_test_make_dir(char *buf, size_t size, const char *what);
/* Remove a folder made by svdd_test_make_dir and everything in it; 0 on failure. */
int svdd_test_remove_dir(const char *dir);
/* Path join into a static-free caller buffer; fails the test if it does not fit. */
void svdd_test_path(char *buf, size_t size, const char *dir, const char *rel);

/* Fill with U(lo, hi) from a seeded generator. */
void svdd_test_fill_uniform(float *x, size_t n, float lo, float hi, uint64_t seed);

/* Largest |a-b| / max(|b|, floor), and the index where it occurs. */
double svdd_test_max_rel_diff(const float *a, const float *b, size_t n, double floor, size_t *where);

/* Finite-difference check of a gradient (five-point central stencil). `loss` evaluates the scalar loss (in double)
 * at the current value of x[0..n); `analytic` holds dLoss/dx. Checks up to `max_checks`
 * coordinates picked by the seed, with step h, and fails the current test (printing the worst
 * case) if any relative error exceeds tol. Returns the worst relative error. */
typedef double (*svdd_test_loss_fn)(void *ctx);
double svdd_test_gradcheck(const char *what, float *x, size_t n, const float *analytic,
                           svdd_test_loss_fn loss, void *ctx, int max_checks, double h, double tol,
                           uint64_t seed);



/* Finite-difference check along random +-1 directions over all of x (as kann does): the
 * directional derivative sums many gradient entries, so it stands far above the rounding noise
 * of a deep float32 forward pass. Fails the test if any relative error exceeds tol. */
double svdd_test_gradcheck_direction(const char *what, float *x, size_t n, const float *analytic,
                                     svdd_test_loss_fn loss, void *ctx, int directions, double h, double tol,
                                     uint64_t seed);
#endif
