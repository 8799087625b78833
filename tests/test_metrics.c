/* Detection metrics against hand-worked cases and brute force. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static void test_hand_worked(void **state) {
    (void)state;
    /* scores of 3 normals (0) and 3 anomalies (1), one tie across the classes at 0.5 */
    float s[6] = {0.1f, 0.5f, 0.2f, 0.9f, 0.5f, 0.7f};
    int32_t y[6] = {0, 0, 0, 1, 1, 1};
    svdd_metrics m;
    svdd_error err;
    assert_int_equal(svdd_metrics_compute(&m, s, y, 6, 0.6, &err), SVDD_OK);
    /* pairs (anomaly > normal): 0.9 beats 3, 0.7 beats 3, 0.5 beats 2 and ties 1 -> 8.5 / 9 */
    assert_true(fabs(m.auc - 8.5 / 9.0) < 1e-12);
    /* threshold 0.6 flags 0.9 and 0.7: tp 2, fp 0, fn 1 */
    assert_true(m.tp == 2 && m.fp == 0 && m.fn == 1 && m.tn == 3);
    assert_true(fabs(m.precision - 1.0) < 1e-12 && fabs(m.recall - 2.0 / 3.0) < 1e-12);
    assert_true(fabs(m.f1 - 0.8) < 1e-12);
    /* all flagged: precision 1/2, recall 1 -> F1 2/3 */
    assert_true(fabs(m.f1_all_anomalous - 2.0 / 3.0) < 1e-12);
    /* levels 0.9 (1 tp), 0.7 (2 tp), 0.5 (3 tp, 1 fp): AP = 1/3*1 + 1/3*1 + 1/3*3/4 */
    assert_true(fabs(m.average_precision - (1.0 / 3 + 1.0 / 3 + 0.25)) < 1e-12);
    /* best F1: flag >= 0.5 gives tp 3 fp 1 -> 6/7; flag >= 0.7 gives 0.8 */
    assert_true(fabs(m.f1_oracle - 6.0 / 7.0) < 1e-12);
    /* the oracle threshold reproduces the oracle F1 */
    svdd_metrics m2;
    assert_int_equal(svdd_metrics_compute(&m2, s, y, 6, m.threshold_oracle, &err), SVDD_OK);
    assert_true(fabs(m2.f1 - m.f1_oracle) < 1e-12);
}

static void test_against_brute_force(void **state) {
    (void)state;
    svdd__rng r;
    svdd__rng_seed(&r, 4, 4);
    for (int trial = 0; trial < 20; trial++) {
        size_t n = 50 + svdd__rng_below(&r, 200);
        float *s = malloc(n * sizeof(float));
        int32_t *y = malloc(n * sizeof(int32_t));
        for (size_t i = 0; i < n; i++) {
            y[i] = svdd__rng_below(&r, 3) == 0;
            /* coarse scores make many ties */
            s[i] = (float)svdd__rng_below(&r, 12) + (y[i] ? 2.0f : 0.0f);
        }
        y[0] = 0, y[1] = 1;
        svdd_metrics m;
        svdd_error err;
        assert_int_equal(svdd_metrics_compute(&m, s, y, n, 5.0, &err), SVDD_OK);
        double wins = 0;
        size_t P = 0, N = 0;
        for (size_t i = 0; i < n; i++) {
            P += y[i] == 1, N += y[i] == 0;
            for (size_t j = 0; j < n; j++)
                if (y[i] == 1 && y[j] == 0) wins += s[i] > s[j] ? 1.0 : s[i] == s[j] ? 0.5 : 0.0;
        }
        assert_true(fabs(m.auc - wins / ((double)P * N)) < 1e-12);
        /* oracle F1 = the best over every candidate threshold */
        double best = 0;
        for (size_t k = 0; k < n; k++) {
            double thr = s[k] - 0.5;
            size_t tp = 0, fp = 0;
            for (size_t i = 0; i < n; i++)
                if (s[i] > thr) tp += y[i] == 1, fp += y[i] == 0;
            double f1 = 2.0 * tp / (double)(2 * tp + fp + (P - tp));
            if (f1 > best) best = f1;
        }
        assert_true(fabs(m.f1_oracle - best) < 1e-12);
        assert_true(m.f1 <= m.f1_oracle + 1e-12);
        /* the ROC curve's trapezoids give the same AUC */
        double *fpr, *tpr, *thr;
        size_t k;
        assert_int_equal(svdd_roc_curve(s, y, n, &fpr, &tpr, &thr, &k, &err), SVDD_OK);
        double area = 0;
        for (size_t i = 1; i < k; i++) area += (fpr[i] - fpr[i - 1]) * (tpr[i] + tpr[i - 1]) / 2;
        assert_true(fabs(area - m.auc) < 1e-12);
        assert_true(fpr[0] == 0 && tpr[0] == 0 && fabs(fpr[k - 1] - 1) < 1e-15 && fabs(tpr[k - 1] - 1) < 1e-15);
        free(fpr), free(tpr), free(thr), free(s), free(y);
    }
}

static void test_bad_input(void **state) {
    (void)state;
    svdd_metrics m;
    svdd_error err;
    float s[3] = {1, 2, NAN};
    int32_t y[3] = {0, 1, 1}, y0[3] = {0, 0, 0}, y2[3] = {0, 2, 1};
    assert_int_equal(svdd_metrics_compute(&m, s, y, 3, 0, &err), SVDD_E_NUMERIC);
    assert_int_equal(svdd_metrics_compute(&m, s, y0, 2, 0, &err), SVDD_E_INVALID);
    assert_non_null(strstr(err.message, "both normal and anomalous"));
    assert_int_equal(svdd_metrics_compute(&m, s, y2, 2, 0, &err), SVDD_E_INVALID);
    assert_int_equal(svdd_metrics_compute(&m, s, y, 0, 0, &err), SVDD_E_INVALID);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hand_worked),
        cmocka_unit_test(test_against_brute_force),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
