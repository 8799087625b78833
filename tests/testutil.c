#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

const char *svdd_test_data_dir(void) {
    const char *d = getenv("SVDD_DATA");
    struct stat st;
    if (!d || !*d || stat(d, &st) != 0 || !S_ISDIR(st.st_mode)) {
        /* CI sets SVDD_REQUIRE_DATA: there a missing data folder is a failure, not a skip. */
        const char *req = getenv("SVDD_REQUIRE_DATA");
        if (req && *req && strcmp(req, "0") != 0) {
            fprintf(stderr, "SVDD_REQUIRE_DATA is set but SVDD_DATA (%s) is not a folder\n", d ? d : "unset");
            exit(1);
        }
        return NULL;
    }
    return d;
}

int svdd_test_threads(void) {
    const char *s = getenv("SVDD_TEST_THREADS");
    if (!s || !*s) return 1;
    char *end;
    long t = strtol(s, &end, 10);
    if (*end || t < 1 || t > 256) fail_msg("SVDD_TEST_THREADS must be 1..256 (got '%s')", s);
    return (int)t;
}

int svdd_test_make_dir(char *buf, size_t size, const char *what) {
    int n = snprintf(buf, size, "/tmp/svdd-%s-XXXXXX", what);
    return n > 0 && (size_t)n < size && mkdtemp(buf) != NULL;
}

int svdd_test_remove_dir(const char *dir) {
    char cmd[600];
    /* the folder names of svdd_test_make_dir need no quoting beyond this */
    int n = snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return n > 0 && (size_t)n < sizeof cmd && strchr(dir, '\'') == NULL && system(cmd) == 0;
}

void svdd_test_path(char *buf, size_t size, const char *dir, const char *rel) {
    int n = snprintf(buf, size, "%s/%s", dir, rel);
    assert_true(n > 0 && (size_t)n < size);
}

void svdd_test_fill_uniform(float *x, size_t n, float lo, float hi, uint64_t seed) {
    svdd__rng r;
    svdd__rng_seed(&r, seed, 7);
    for (size_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * svdd__rng_uniform(&r);
}

double svdd_test_max_rel_diff(const float *a, const float *b, size_t n, double floor, size_t *where) {
    double worst = 0;
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        double den = fabs((double)b[i]);
        if (den < floor) den = floor;
        double d = fabs((double)a[i] - (double)b[i]) / den;
        if (!(d <= worst)) { /* also catches NaN */
            worst = isnan(d) ? INFINITY : d;
            at = i;
        }
    }
    if (where) *where = at;
    return worst;
}

double svdd_test_gradcheck(const char *what, float *x, size_t n, const float *analytic,
                           svdd_test_loss_fn loss, void *ctx, int max_checks, double h, double tol,
                           uint64_t seed) {
    svdd__rng r;
    svdd__rng_seed(&r, seed, 11);
    double worst = 0;
    size_t worst_i = 0;
    double worst_num = 0, worst_ana = 0;
    int checks = (size_t)max_checks < n ? max_checks : (int)n;
    for (int c = 0; c < checks; c++) {
        size_t i = (size_t)max_checks < n ? svdd__rng_below(&r, (uint32_t)n) : (size_t)c;
        /* Five-point central stencil, f'(x) = (8(f(x+h) - f(x-h)) - (f(x+2h) - f(x-2h))) / 12h + O(h^4):
         * its small truncation error allows a step large enough to keep float rounding noise down.
         * The steps are the ones actually representable in float around x. */
        float saved = x[i];
        double xs = saved, xp1 = (float)(xs + h), xm1 = (float)(xs - h), xp2 = (float)(xs + 2 * h), xm2 = (float)(xs - 2 * h);
        x[i] = (float)xp1;
        double lp1 = loss(ctx);
        x[i] = (float)xm1;
        double lm1 = loss(ctx);
        x[i] = (float)xp2;
        double lp2 = loss(ctx);
        x[i] = (float)xm2;
        double lm2 = loss(ctx);
        x[i] = saved;
        double h1 = (xp1 - xm1) / 2, h2 = (xp2 - xm2) / 4;
        double num = (8 * (lp1 - lm1) / (2 * h1) - (lp2 - lm2) / (4 * h2) * 2) / 6;
        double ana = analytic[i];
        double den = fmax(fmax(fabs(num), fabs(ana)), 1e-2);
        double rel = fabs(num - ana) / den;
        if (!(rel <= worst)) {
            worst = isnan(rel) ? INFINITY : rel;
            worst_i = i;
            worst_num = num;
            worst_ana = ana;
        }
    }
    printf("  gradcheck %-28s worst rel err %.3e at %zu (numeric %.6e analytic %.6e)\n", what, worst,
           worst_i, worst_num, worst_ana);
    if (!(worst <= tol)) fail_msg("%s: gradient mismatch %.3e > %.1e", what, worst, tol);
    return worst;
}

double svdd_test_gradcheck_direction(const char *what, float *x, size_t n, const float *analytic,
                                     svdd_test_loss_fn loss, void *ctx, int directions, double h, double tol,
                                     uint64_t seed) {
    svdd__rng r;
    svdd__rng_seed(&r, seed, 13);
    float *saved = malloc(n * sizeof(float));
    signed char *v = malloc(n);
    assert_non_null(saved);
    assert_non_null(v);
    memcpy(saved, x, n * sizeof(float));
    double worst = 0;
    for (int d = 0; d < directions; d++) {
        double ana = 0;
        for (size_t i = 0; i < n; i++) {
            v[i] = (svdd__rng_u32(&r) & 1) ? 1 : -1;
            ana += v[i] * (double)analytic[i];
        }
        for (size_t i = 0; i < n; i++) x[i] = (float)(saved[i] + h * v[i]);
        double lp = loss(ctx);
        for (size_t i = 0; i < n; i++) x[i] = (float)(saved[i] - h * v[i]);
        double lm = loss(ctx);
        memcpy(x, saved, n * sizeof(float));
        double num = (lp - lm) / (2 * h);
        double rel = fabs(num - ana) / fmax(fmax(fabs(num), fabs(ana)), 1e-6);
        printf("  gradcheck %-28s direction %d: numeric %.6e analytic %.6e rel err %.3e\n", what, d, num, ana, rel);
        if (!(rel <= worst)) worst = isnan(rel) ? INFINITY : rel;
    }
    free(saved);
    free(v);
    if (!(worst <= tol)) fail_msg("%s: directional gradient mismatch %.3e > %.1e", what, worst, tol);
    return worst;
}
