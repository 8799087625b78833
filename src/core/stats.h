/* Small statistics the thresholds need: quantiles of the normal and chi-square distributions and
 * of samples. */
#ifndef SVDD_STATS_H
#define SVDD_STATS_H

#include <stddef.h>

/* Phi^-1(p) for 0 < p < 1 (standard normal quantile), to about 1e-15 relative. */
double svdd__normal_quantile(double p);
/* Regularised lower incomplete gamma function P(a, x), a > 0, x >= 0. */
double svdd__gamma_p(double a, double x);
/* The p-quantile of the chi-square distribution with k degrees of freedom, 0 < p < 1. */
double svdd__chi2_quantile(double p, double k);
/* The p-quantile of n values (copied and sorted inside; linear interpolation between order
 * statistics, as numpy.quantile's default). Returns NaN when n == 0 or memory runs out. */
double svdd__sample_quantile(const float *x, size_t n, double p);
/* Mean and (population, ddof 0) standard deviation, accumulated in double. */
void svdd__mean_std(const float *x, size_t n, double *mean, double *std);

#endif
