/* The Ledoit-Wolf Gaussian and Mahalanobis distances. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "model/gaussian.h"
#include "testutil.h"

/* The shrinkage intensity straight from the definition, O(n p^2) per sample. */
static double naive_shrinkage(const float *z, size_t n, int p) {
    double *m = calloc((size_t)p, sizeof(double)), *S = calloc((size_t)p * p, sizeof(double));
    for (size_t k = 0; k < n; k++)
        for (int i = 0; i < p; i++) m[i] += z[k * p + i] / (double)n;
    for (size_t k = 0; k < n; k++)
        for (int i = 0; i < p; i++)
            for (int j = 0; j < p; j++) S[i * p + j] += (z[k * p + i] - m[i]) * (z[k * p + j] - m[j]) / (double)n;
    double mu = 0, d2 = 0, b2 = 0;
    for (int i = 0; i < p; i++) mu += S[i * p + i] / p;
    for (int i = 0; i < p; i++)
        for (int j = 0; j < p; j++) d2 += pow(S[i * p + j] - (i == j ? mu : 0), 2);
    for (size_t k = 0; k < n; k++)
        for (int i = 0; i < p; i++)
            for (int j = 0; j < p; j++) b2 += pow((z[k * p + i] - m[i]) * (z[k * p + j] - m[j]) - S[i * p + j], 2);
    b2 /= (double)n * n;
    free(m), free(S);
    return fmin(b2, d2) / d2;
}

static void test_shrinkage_matches_definition(void **state) {
    (void)state;
    const int p = 6;
    const size_t n = 40;
    float *z = malloc(n * p * sizeof(float));
    svdd__rng r;
    svdd__rng_seed(&r, 1, 1);
    for (size_t k = 0; k < n; k++) {
        double a = svdd__rng_normal(&r);
        for (int i = 0; i < p; i++) z[k * p + i] = (float)(a * (i + 1) * 0.3 + svdd__rng_normal(&r) * (1 + i % 2));
    }
    svdd__gaussian g;
    svdd_error err;
    assert_int_equal(svdd__gaussian_fit(&g, z, n, p, &err), SVDD_OK);
    double ref = naive_shrinkage(z, n, p);
    printf("  shrinkage %.12f (definition %.12f)\n", g.shrinkage, ref);
    assert_true(fabs(g.shrinkage - ref) < 1e-9);
    assert_true(g.shrinkage > 0 && g.shrinkage < 1);
    svdd__gaussian_free(&g);
    free(z);
}

static void test_mahalanobis_of_normal_data(void **state) {
    (void)state;
    /* correlated Gaussian data: z = A e; the squared distances of fresh samples average about p */
    const int p = 8;
    const size_t n = 20000;
    float *z = malloc(2 * n * p * sizeof(float)), *d = malloc(n * sizeof(float));
    svdd__rng r;
    svdd__rng_seed(&r, 2, 2);
    for (size_t k = 0; k < 2 * n; k++) {
        double e[8];
        for (int i = 0; i < p; i++) e[i] = svdd__rng_normal(&r);
        for (int i = 0; i < p; i++) {
            double v = 3.0;
            for (int j = 0; j <= i; j++) v += e[j] * (i == j ? 1.0 + i : 0.5);
            z[k * p + i] = (float)v;
        }
    }
    svdd__gaussian g;
    svdd_error err;
    assert_int_equal(svdd__gaussian_fit(&g, z, n, p, &err), SVDD_OK);
    svdd__gaussian_mahalanobis(&g, z + n * p, n, d);
    double m = 0;
    for (size_t k = 0; k < n; k++) m += d[k] / (double)n;
    printf("  mean squared Mahalanobis distance %.3f (expected about %d), shrinkage %.2e\n", m, p, g.shrinkage);
    assert_true(fabs(m - p) < 0.3);
    assert_true(g.shrinkage < 0.05);
    svdd__gaussian_free(&g);
    free(z), free(d);
}

static void test_degenerate_latents(void **state) {
    (void)state;
    /* fewer vectors than dimensions, and a constant coordinate: still positive definite */
    const int p = 16;
    const size_t n = 5;
    float z[5 * 16];
    svdd_test_fill_uniform(z, sizeof z / sizeof z[0], -1, 1, 3);
    for (size_t k = 0; k < n; k++) z[k * p + 3] = 0.25f;
    svdd__gaussian g;
    svdd_error err;
    assert_int_equal(svdd__gaussian_fit(&g, z, n, p, &err), SVDD_OK);
    float d[5];
    svdd__gaussian_mahalanobis(&g, z, n, d);
    for (size_t k = 0; k < n; k++) assert_true(isfinite(d[k]) && d[k] >= 0);
    /* restoring from the stored factor gives the same distances */
    svdd__gaussian h;
    assert_int_equal(svdd__gaussian_set(&h, p, g.mean, g.chol, &err), SVDD_OK);
    float e[5];
    svdd__gaussian_mahalanobis(&h, z, n, e);
    assert_memory_equal(d, e, sizeof d);
    svdd__gaussian_free(&g), svdd__gaussian_free(&h);
    /* all vectors equal: no variance at all */
    for (size_t i = 0; i < sizeof z / sizeof z[0]; i++) z[i] = 1.0f;
    assert_int_equal(svdd__gaussian_fit(&g, z, n, p, &err), SVDD_E_NUMERIC);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shrinkage_matches_definition),
        cmocka_unit_test(test_mahalanobis_of_normal_data),
        cmocka_unit_test(test_degenerate_latents),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
