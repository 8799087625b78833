/* Quantile functions against published table values. */
#include <math.h>
#include <stdio.h>

#include "core/stats.h"
#include "testutil.h"

static void test_normal_quantile(void **state) {
    (void)state;
    /* Phi^-1 at 0.975, 0.95, 0.5, 0.001, 1e-10 */
    assert_true(fabs(svdd__normal_quantile(0.975) - 1.959963984540054) < 1e-13);
    assert_true(fabs(svdd__normal_quantile(0.95) - 1.6448536269514722) < 1e-13);
    assert_true(fabs(svdd__normal_quantile(0.5)) < 1e-15);
    assert_true(fabs(svdd__normal_quantile(0.001) + 3.090232306167813) < 1e-12);
    assert_true(fabs(svdd__normal_quantile(1e-10) + 6.361340902404056) < 1e-10);
    assert_true(isnan(svdd__normal_quantile(1.5)));
}

static void test_chi2_quantile(void **state) {
    (void)state;
    /* chi-square quantiles (p, k, value), values from scipy.stats.chi2.ppf */
    const double table[][3] = {
        {0.95, 1, 3.841458820694124},   {0.95, 2, 5.991464547107979},  {0.99, 10, 23.209251158954356},
        {0.95, 32, 46.19425952027847},  {0.95, 128, 155.40472085148204}, {0.05, 32, 20.071913464548288},
        {0.5, 3, 2.365973884375338},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        double q = svdd__chi2_quantile(table[i][0], table[i][1]);
        printf("  chi2(%g, k=%g) = %.12f (table %.12f)\n", table[i][0], table[i][1], q, table[i][2]);
        assert_true(fabs(q - table[i][2]) < 1e-9 * table[i][2]);
    }
    /* P(a, x) consistency: P(k/2, q/2) = p */
    assert_true(fabs(svdd__gamma_p(16, 46.19425952027847 / 2) - 0.95) < 1e-12);
}

static void test_sample_quantile(void **state) {
    (void)state;
    float x[5] = {5, 1, 4, 2, 3};
    assert_true(fabs(svdd__sample_quantile(x, 5, 0.5) - 3) < 1e-12);
    assert_true(fabs(svdd__sample_quantile(x, 5, 0.95) - 4.8) < 1e-6);
    assert_true(fabs(svdd__sample_quantile(x, 5, 0.0) - 1) < 1e-12);
    double m, s;
    svdd__mean_std(x, 5, &m, &s);
    assert_true(fabs(m - 3) < 1e-12 && fabs(s - sqrt(2.0)) < 1e-12);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normal_quantile),
        cmocka_unit_test(test_chi2_quantile),
        cmocka_unit_test(test_sample_quantile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
