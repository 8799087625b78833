/* The synthetic set: options and defaults, determinism from the seed, labels and masks, defects
 * localised away from the border, and detectability: a linear autoencoder (PCA fitted on normal
 * images only) must rank defective images above normal ones and point at the defect. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/data.h"
#include "testutil.h"

static svdd_dataset *gen(uint64_t seed, uint32_t n_normal, uint32_t n_anomalous, uint32_t side) {
    svdd_synthetic_options o = svdd_synthetic_defaults();
    o.seed = seed;
    o.n_normal = n_normal;
    o.n_anomalous = n_anomalous;
    o.side = side;
    svdd_dataset *ds = NULL;
    svdd_error err;
    if (svdd_dataset_synthetic(&ds, &o, &err) != SVDD_OK) fail_msg("%s", err.message);
    return ds;
}

static void test_defaults_and_errors(void **state) {
    (void)state;
    svdd_synthetic_options o = svdd_synthetic_defaults();
    assert_int_equal(o.n_normal, 2000);
    assert_int_equal(o.n_anomalous, 0);
    assert_int_equal(o.side, 28);
    svdd_dataset *ds = NULL;
    svdd_error err;
    assert_int_equal(svdd_dataset_synthetic(&ds, NULL, &err), SVDD_OK); /* NULL: the defaults */
    assert_int_equal(svdd_dataset_count(ds), 2000);
    int c, h, w;
    svdd_dataset_shape(ds, &c, &h, &w);
    assert_true(c == 1 && h == 28 && w == 28);
    assert_int_equal(svdd_dataset_num_classes(ds), 2);
    assert_string_equal(svdd_dataset_class_name(ds, 0), "normal");
    assert_string_equal(svdd_dataset_class_name(ds, 1), "anomalous");
    assert_null(svdd_dataset_path(ds, 0));
    svdd_dataset_free(ds);

    o.side = 15;
    ds = (svdd_dataset *)1;
    assert_int_equal(svdd_dataset_synthetic(&ds, &o, &err), SVDD_E_INVALID);
    assert_null(ds);
    assert_non_null(strstr(err.message, "side 15"));
    o.side = 16;
    o.n_normal = 0;
    assert_int_equal(svdd_dataset_synthetic(&ds, &o, &err), SVDD_E_INVALID);
    o.side = 5000; /* beyond the default max_side */
    o.n_normal = 1;
    assert_int_equal(svdd_dataset_synthetic(&ds, &o, &err), SVDD_E_LIMIT);
    assert_int_equal(svdd_dataset_synthetic(NULL, &o, &err), SVDD_E_INVALID);
}

static void test_determinism(void **state) {
    (void)state;
    svdd_dataset *a = gen(5, 40, 20, 28), *b = gen(5, 40, 20, 28), *c = gen(6, 40, 20, 28);
    assert_memory_equal(svdd_dataset_pixels(a), svdd_dataset_pixels(b), 60 * 784);
    assert_memory_equal(svdd_dataset_masks(a), svdd_dataset_masks(b), 60 * 784);
    assert_true(memcmp(svdd_dataset_pixels(a), svdd_dataset_pixels(c), 60 * 784) != 0);
    /* each image has its own stream: asking for more images keeps the first ones */
    svdd_dataset *d = gen(5, 50, 25, 28);
    assert_memory_equal(svdd_dataset_pixels(a), svdd_dataset_pixels(d), 40 * 784);
    assert_memory_equal(svdd_dataset_pixels(a) + 40 * 784, svdd_dataset_pixels(d) + 50 * 784, 20 * 784);
    /* images differ from each other */
    assert_true(memcmp(svdd_dataset_pixels(a), svdd_dataset_pixels(a) + 784, 784) != 0);
    svdd_dataset_free(a), svdd_dataset_free(b), svdd_dataset_free(c), svdd_dataset_free(d);
}

static void test_labels_and_masks(void **state) {
    (void)state;
    const uint32_t sides[3] = {16, 28, 40};
    for (int s = 0; s < 3; s++) {
        int side = (int)sides[s], margin = side / 7 > 3 ? side / 7 : 3;
        svdd_dataset *ds = gen(9, 100, 300, sides[s]);
        const uint8_t *m = svdd_dataset_masks(ds), *px = svdd_dataset_pixels(ds);
        const int32_t *l = svdd_dataset_labels(ds);
        size_t D = (size_t)side * side;
        assert_non_null(m);
        double mean_px = 0;
        for (size_t i = 0; i < 400; i++) {
            assert_int_equal(l[i], i < 100 ? 0 : 1);
            size_t area = 0;
            int minx = side, maxx = -1, miny = side, maxy = -1;
            for (int y = 0; y < side; y++)
                for (int x = 0; x < side; x++) {
                    uint8_t v = m[i * D + (size_t)(y * side + x)];
                    assert_true(v <= 1);
                    if (!v) continue;
                    area++;
                    minx = x < minx ? x : minx, maxx = x > maxx ? x : maxx;
                    miny = y < miny ? y : miny, maxy = y > maxy ? y : maxy;
                    /* saturated against its surroundings: near black or near white */
                    uint8_t p = px[i * D + (size_t)(y * side + x)];
                    assert_true(p <= 30 || p >= 225);
                }
            if (i < 100) {
                assert_int_equal(area, 0);
            } else {
                /* one compact defect, at most 8 pixels across, away from the border */
                assert_true(area >= 6 && area <= 40);
                assert_true(maxx - minx <= 7 && maxy - miny <= 7);
                assert_true(minx >= margin && miny >= margin);
                assert_true(maxx < side - margin && maxy < side - margin);
            }
            for (size_t k = 0; k < D; k++) mean_px += px[i * D + k];
        }
        /* the pattern uses the range without living at the clamps */
        mean_px /= 400.0 * (double)D;
        assert_true(mean_px > 100 && mean_px < 150);
        svdd_dataset_free(ds);
    }
}

/* ---- detectability with a linear autoencoder (PCA) ---- */

/* The top-k principal subspace of the normal training images: orthogonal iteration on the
 * covariance. Q is D x k (column j at Q[j*D ..]). */
static void pca_fit(const svdd_dataset *tr, int k, double *mu, double *Q) {
    size_t n = svdd_dataset_count(tr), D = svdd_dataset_image_size(tr);
    const uint8_t *px = svdd_dataset_pixels(tr);
    double *C = calloc(D * D, sizeof *C), *x = malloc(D * sizeof *x), *Z = malloc(D * (size_t)k * sizeof *Z);
    assert_true(C && x && Z);
    memset(mu, 0, D * sizeof *mu);
    for (size_t i = 0; i < n; i++)
        for (size_t a = 0; a < D; a++) mu[a] += px[i * D + a] / 255.0 / (double)n;
    for (size_t i = 0; i < n; i++) {
        for (size_t a = 0; a < D; a++) x[a] = px[i * D + a] / 255.0 - mu[a];
        for (size_t a = 0; a < D; a++) {
            double xa = x[a];
            double *row = C + a * D;
            for (size_t b = a; b < D; b++) row[b] += xa * x[b];
        }
    }
    for (size_t a = 0; a < D; a++)
        for (size_t b = 0; b < a; b++) C[a * D + b] = C[b * D + a];
    svdd__rng r;
    svdd__rng_seed(&r, 3, 1);
    for (size_t j = 0; j < D * (size_t)k; j++) Q[j] = svdd__rng_uniform_double(&r) - 0.5;
    for (int it = 0; it < 40; it++) {
        for (int j = 0; j < k; j++) {
            double *z = Z + (size_t)j * D;
            const double *q = Q + (size_t)j * D;
            for (size_t a = 0; a < D; a++) {
                double s = 0;
                const double *row = C + a * D;
                for (size_t b = 0; b < D; b++) s += row[b] * q[b];
                z[a] = s;
            }
        }
        /* modified Gram-Schmidt */
        for (int j = 0; j < k; j++) {
            double *z = Z + (size_t)j * D;
            for (int i = 0; i < j; i++) {
                const double *q = Z + (size_t)i * D;
                double d = 0;
                for (size_t a = 0; a < D; a++) d += z[a] * q[a];
                for (size_t a = 0; a < D; a++) z[a] -= d * q[a];
            }
            double nrm = 0;
            for (size_t a = 0; a < D; a++) nrm += z[a] * z[a];
            nrm = sqrt(nrm);
            for (size_t a = 0; a < D; a++) z[a] /= nrm;
        }
        memcpy(Q, Z, D * (size_t)k * sizeof *Q);
    }
    free(C), free(x), free(Z);
}

/* Squared reconstruction error per pixel of image i into res; returns the sum. */
static double pca_residual(const svdd_dataset *ds, size_t i, int k, const double *mu, const double *Q, double *res) {
    size_t D = svdd_dataset_image_size(ds);
    const uint8_t *px = svdd_dataset_pixels(ds) + i * D;
    for (size_t a = 0; a < D; a++) res[a] = px[a] / 255.0 - mu[a];
    for (int j = 0; j < k; j++) {
        const double *q = Q + (size_t)j * D;
        double d = 0;
        for (size_t a = 0; a < D; a++) d += res[a] * q[a];
        for (size_t a = 0; a < D; a++) res[a] -= d * q[a];
    }
    double s = 0;
    for (size_t a = 0; a < D; a++) s += (res[a] *= res[a]);
    return s;
}

static void test_detectable(void **state) {
    (void)state;
    enum { K = 24, NTEST = 200 };
    svdd_dataset *tr = gen(21, 600, 0, 28), *te = gen(22, NTEST, NTEST, 28);
    size_t D = 784;
    double *mu = malloc(D * sizeof *mu), *Q = malloc(D * K * sizeof *Q), *res = malloc(D * sizeof *res);
    double *score = malloc(2 * NTEST * sizeof *score);
    assert_true(mu && Q && res && score);
    pca_fit(tr, K, mu, Q);
    size_t localised = 0;
    const uint8_t *masks = svdd_dataset_masks(te);
    for (size_t i = 0; i < 2 * NTEST; i++) {
        score[i] = pca_residual(te, i, K, mu, Q, res);
        if (i < NTEST) continue;
        /* the worst-reconstructed pixel lies on the defect (or touches it) */
        size_t best = 0;
        for (size_t a = 1; a < D; a++)
            if (res[a] > res[best]) best = a;
        int bx = (int)(best % 28), by = (int)(best / 28), hit = 0;
        for (int dy = -1; dy <= 1; dy++)
            for (int dx = -1; dx <= 1; dx++) {
                int x = bx + dx, y = by + dy;
                if (x >= 0 && y >= 0 && x < 28 && y < 28 && masks[i * D + (size_t)(y * 28 + x)]) hit = 1;
            }
        localised += (size_t)hit;
    }
    /* AUROC: the probability that an anomaly scores above a normal image */
    double wins = 0;
    for (size_t a = NTEST; a < 2 * NTEST; a++)
        for (size_t b = 0; b < NTEST; b++) wins += score[a] > score[b] ? 1 : score[a] == score[b] ? 0.5 : 0;
    double auroc = wins / (NTEST * (double)NTEST);
    printf("  PCA(%d) on the synthetic set: AUROC %.4f, worst pixel on the defect in %zu of %d anomalies\n", K,
           auroc, localised, NTEST);
    assert_true(auroc > 0.97);
    assert_true(localised >= NTEST * 9 / 10);
    free(mu), free(Q), free(res), free(score);
    svdd_dataset_free(tr), svdd_dataset_free(te);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_errors),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_labels_and_masks),
        cmocka_unit_test(test_detectable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
