/* Distribution quantiles, written here because the Debian C libraries that have them (GSL) are
 * GPL, and these are a few dozen lines of well-known numerics:
 * - the normal quantile: Acklam's rational approximation (relative error 1.15e-9) refined by one
 *   Halley step on erfc, which brings it to double precision;
 * - P(a, x): its power series for x < a + 1, else Lentz's continued fraction for Q = 1 - P;
 * - the chi-square quantile: the Wilson-Hilferty guess refined by Newton steps on P(k/2, x/2),
 *   bracketed by bisection so it always converges. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "stats.h"

double svdd__normal_quantile(double p) {
    if (!(p > 0.0 && p < 1.0)) return p == 0.0 ? -INFINITY : p == 1.0 ? INFINITY : NAN;
    static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                               1.383577518672690e+02,  -3.066479806614716e+01, 2.506628277459239e+00};
    static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                               6.680131188771972e+01,  -1.328068155288572e+01};
    static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                               -2.549732539343734e+00, 4.374664141464968e+00,  2.938163982698783e+00};
    static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                               3.754408661907416e+00};
    const double lo = 0.02425;
    double x;
    if (p < lo) {
        double q = sqrt(-2 * log(p));
        x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    } else if (p <= 1 - lo) {
        double q = p - 0.5, r = q * q;
        x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
            (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
    } else {
        double q = sqrt(-2 * log1p(-p));
        x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    }
    /* Halley step: e = Phi(x) - p, with Phi(x) = erfc(-x / sqrt 2) / 2 */
    double e = 0.5 * erfc(-x / sqrt(2.0)) - p;
    double u = e * 2.5066282746310002 * exp(x * x / 2); /* sqrt(2 pi) */
    return x - u / (1 + x * u / 2);
}

double svdd__gamma_p(double a, double x) {
    if (!(a > 0) || !(x >= 0)) return NAN;
    if (x == 0) return 0;
    double lg = lgamma(a);
    if (x < a + 1) {
        /* P = x^a e^-x / Gamma(a+1) * sum_n x^n / ((a+1)...(a+n)) */
        double term = 1.0 / a, sum = term, ap = a;
        for (int n = 0; n < 10000; n++) {
            ap += 1;
            term *= x / ap;
            sum += term;
            if (fabs(term) < fabs(sum) * 1e-16) break;
        }
        return sum * exp(-x + a * log(x) - lg);
    }
    /* Q = e^-x x^a / Gamma(a) * 1/(x+1-a- 1(1-a)/(x+3-a- ...)), modified Lentz */
    const double tiny = 1e-300;
    double bb = x + 1 - a, cc = 1 / tiny, dd = 1 / bb, h = dd;
    for (int i = 1; i < 10000; i++) {
        double an = -i * (i - a);
        bb += 2;
        dd = an * dd + bb;
        if (fabs(dd) < tiny) dd = tiny;
        cc = bb + an / cc;
        if (fabs(cc) < tiny) cc = tiny;
        dd = 1 / dd;
        double delta = dd * cc;
        h *= delta;
        if (fabs(delta - 1) < 1e-16) break;
    }
    return 1 - exp(-x + a * log(x) - lg) * h;
}

double svdd__chi2_quantile(double p, double k) {
    if (!(p > 0 && p < 1) || !(k > 0)) return NAN;
    double z = svdd__normal_quantile(p), t = 2.0 / (9.0 * k);
    double x = k * pow(1 - t + z * sqrt(t), 3);
    if (!(x > 0)) x = k * 0.5;
    double lo = 0, hi = fmax(4 * x, k + 40 * sqrt(2 * k) + 100);
    const double a = k / 2, lg = lgamma(a);
    for (int it = 0; it < 200; it++) {
        double f = svdd__gamma_p(a, x / 2) - p;
        if (f > 0) hi = x;
        else lo = x;
        /* density of chi-square(k) at x */
        double dens = exp((a - 1) * log(x / 2) - x / 2 - lg) / 2;
        double nx = dens > 0 ? x - f / dens : NAN;
        if (!(nx > lo && nx < hi)) nx = 0.5 * (lo + hi);
        if (fabs(nx - x) <= 1e-14 * x) return nx;
        x = nx;
    }
    return x;
}

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

double svdd__sample_quantile(const float *x, size_t n, double p) {
    if (n == 0) return NAN;
    float *s = malloc(n * sizeof(float));
    if (!s) return NAN;
    memcpy(s, x, n * sizeof(float));
    qsort(s, n, sizeof(float), cmp_float);
    double pos = p * (double)(n - 1);
    size_t i = (size_t)floor(pos);
    double frac = pos - (double)i, q = s[i];
    if (i + 1 < n) q += frac * ((double)s[i + 1] - s[i]);
    free(s);
    return q;
}

void svdd__mean_std(const float *x, size_t n, double *mean, double *std) {
    double m = 0, ss = 0;
    for (size_t i = 0; i < n; i++) m += x[i];
    m = n ? m / (double)n : 0;
    for (size_t i = 0; i < n; i++) ss += ((double)x[i] - m) * ((double)x[i] - m);
    *mean = m;
    *std = n ? sqrt(ss / (double)n) : 0;
}
