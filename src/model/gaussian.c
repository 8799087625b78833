/* Ledoit-Wolf shrinkage (O. Ledoit, M. Wolf, "A well-conditioned estimator for large-dimensional
 * covariance matrices", J. Multivariate Analysis 88, 2004): with the sample covariance S (divided
 * by n) of centred vectors x_k,
 *   mu = trace(S)/p,  d2 = ||S - mu I||_F^2,  b2 = min(d2, 1/n^2 sum_k ||x_k x_k^T - S||_F^2),
 *   Sigma = (b2/d2) mu I + (1 - b2/d2) S.
 * Sigma is positive definite whenever b2 > 0, even when n < p or some latent coordinates are
 * constant (as Deep SVDD's collapsed dimensions often are), so its Cholesky factor exists. The
 * factorisation is LAPACK's (dpotrf through LAPACKE); the solves are BLAS's dtrsv. */
#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gaussian.h"

void svdd__gaussian_free(svdd__gaussian *g) {
    if (!g) return;
    free(g->mean);
    free(g->chol);
    memset(g, 0, sizeof *g);
}

svdd_status svdd__gaussian_fit(svdd__gaussian *g, const float *z, size_t n, int dim, svdd_error *err) {
    memset(g, 0, sizeof *g);
    if (n < 2 || dim < 1 || dim > 4096) return svdd__fail(err, SVDD_E_INVALID, "a Gaussian fit needs >= 2 vectors (got %zu)", n);
    const size_t p = (size_t)dim;
    double *mean = calloc(p, sizeof(double)), *S = calloc(p * p, sizeof(double)), *xc = malloc(p * sizeof(double));
    if (!mean || !S || !xc) {
        free(mean), free(S), free(xc);
        return svdd__fail(err, SVDD_E_NOMEM, "out of memory fitting a Gaussian");
    }
    for (size_t k = 0; k < n; k++)
        for (size_t i = 0; i < p; i++) mean[i] += z[k * p + i];
    for (size_t i = 0; i < p; i++) mean[i] /= (double)n;
    for (size_t k = 0; k < n; k++) {
        for (size_t i = 0; i < p; i++) xc[i] = z[k * p + i] - mean[i];
        cblas_dsyr(CblasRowMajor, CblasLower, (int)p, 1.0, xc, 1, S, (int)p);
    }
    for (size_t i = 0; i < p; i++)
        for (size_t j = 0; j <= i; j++) {
            S[i * p + j] /= (double)n;
            S[j * p + i] = S[i * p + j];
        }
    double mu = 0;
    for (size_t i = 0; i < p; i++) mu += S[i * p + i];
    mu /= (double)p;
    double d2 = 0, s_fro2 = 0;
    for (size_t i = 0; i < p; i++)
        for (size_t j = 0; j < p; j++) {
            double v = S[i * p + j] - (i == j ? mu : 0);
            d2 += v * v;
            s_fro2 += S[i * p + j] * S[i * p + j];
        }
    /* ||x x^T - S||_F^2 = ||x||^4 - 2 x^T S x + ||S||_F^2 */
    double b2 = 0;
    double *Sx = malloc(p * sizeof(double));
    if (!Sx) {
        free(mean), free(S), free(xc);
        return svdd__fail(err, SVDD_E_NOMEM, "out of memory fitting a Gaussian");
    }
    for (size_t k = 0; k < n; k++) {
        double nx = 0, xSx = 0;
        for (size_t i = 0; i < p; i++) xc[i] = z[k * p + i] - mean[i], nx += xc[i] * xc[i];
        cblas_dsymv(CblasRowMajor, CblasLower, (int)p, 1.0, S, (int)p, xc, 1, 0.0, Sx, 1);
        for (size_t i = 0; i < p; i++) xSx += xc[i] * Sx[i];
        b2 += nx * nx - 2 * xSx + s_fro2;
    }
    free(Sx);
    b2 /= (double)n * (double)n;
    if (b2 > d2) b2 = d2;
    double delta = d2 > 0 ? b2 / d2 : 1.0;
    if (!(mu > 0) || !isfinite(mu)) {
        free(mean), free(S), free(xc);
        return svdd__fail(err, SVDD_E_NUMERIC, "the latent vectors have no variance (all equal) or are not finite");
    }
    for (size_t i = 0; i < p; i++)
        for (size_t j = 0; j < p; j++) S[i * p + j] = (1 - delta) * S[i * p + j] + (i == j ? delta * mu : 0);
    lapack_int info = LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'L', (lapack_int)p, S, (lapack_int)p);
    free(xc);
    if (info != 0) {
        free(mean), free(S);
        return svdd__fail(err, SVDD_E_NUMERIC, "the shrunk covariance is not positive definite (LAPACK dpotrf info %d)", (int)info);
    }
    for (size_t i = 0; i < p; i++)
        for (size_t j = i + 1; j < p; j++) S[i * p + j] = 0; /* keep only L */
    g->dim = dim;
    g->mean = mean;
    g->chol = S;
    g->shrinkage = delta;
    g->scale = mu;
    return SVDD_OK;
}

svdd_status svdd__gaussian_set(svdd__gaussian *g, int dim, const double *mean, const double *chol, svdd_error *err) {
    memset(g, 0, sizeof *g);
    if (dim < 1 || dim > 4096) return svdd__fail(err, SVDD_E_INVALID, "Gaussian dimension %d out of range", dim);
    const size_t p = (size_t)dim;
    for (size_t i = 0; i < p; i++) {
        if (!isfinite(mean[i])) return svdd__fail(err, SVDD_E_NUMERIC, "Gaussian mean has a non-finite entry");
        if (!(chol[i * p + i] > 0) || !isfinite(chol[i * p + i]))
            return svdd__fail(err, SVDD_E_NUMERIC, "Cholesky factor has a non-positive diagonal entry %zu", i);
        for (size_t j = 0; j <= i; j++)
            if (!isfinite(chol[i * p + j])) return svdd__fail(err, SVDD_E_NUMERIC, "Cholesky factor has a non-finite entry");
    }
    g->mean = malloc(p * sizeof(double));
    g->chol = calloc(p * p, sizeof(double));
    if (!g->mean || !g->chol) {
        svdd__gaussian_free(g);
        return svdd__fail(err, SVDD_E_NOMEM, "out of memory");
    }
    memcpy(g->mean, mean, p * sizeof(double));
    for (size_t i = 0; i < p; i++)
        for (size_t j = 0; j <= i; j++) g->chol[i * p + j] = chol[i * p + j];
    g->dim = dim;
    return SVDD_OK;
}

void svdd__gaussian_mahalanobis(const svdd__gaussian *g, const float *z, size_t n, float *out) {
    const size_t p = (size_t)g->dim;
    double *y = malloc(p * sizeof(double));
    if (!y) {
        for (size_t k = 0; k < n; k++) out[k] = NAN;
        return;
    }
    for (size_t k = 0; k < n; k++) {
        for (size_t i = 0; i < p; i++) y[i] = z[k * p + i] - g->mean[i];
        /* ||L^-1 (z - mean)||^2 */
        cblas_dtrsv(CblasRowMajor, CblasLower, CblasNoTrans, CblasNonUnit, (int)p, g->chol, (int)p, y, 1);
        double s = 0;
        for (size_t i = 0; i < p; i++) s += y[i] * y[i];
        out[k] = (float)s;
    }
    free(y);
}

double svdd__gaussian_mahalanobis_grad(const svdd__gaussian *g, const float *z, float *grad) {
    const size_t p = (size_t)g->dim;
    double *y = malloc(p * sizeof(double));
    if (!y) {
        for (size_t i = 0; i < p; i++) grad[i] = NAN;
        return NAN;
    }
    for (size_t i = 0; i < p; i++) y[i] = z[i] - g->mean[i];
    /* y <- L^-1 (z - mean); distance = ||y||^2; then y <- L^-T y = Sigma^-1 (z - mean) */
    cblas_dtrsv(CblasRowMajor, CblasLower, CblasNoTrans, CblasNonUnit, (int)p, g->chol, (int)p, y, 1);
    double s = 0;
    for (size_t i = 0; i < p; i++) s += y[i] * y[i];
    cblas_dtrsv(CblasRowMajor, CblasLower, CblasTrans, CblasNonUnit, (int)p, g->chol, (int)p, y, 1);
    for (size_t i = 0; i < p; i++) grad[i] = (float)(2 * y[i]);
    free(y);
    return s;
}
