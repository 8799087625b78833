/* A Gaussian fitted to latent vectors with a Ledoit-Wolf shrinkage covariance, and the squared
 * Mahalanobis distance under it. */
#ifndef SVDD_GAUSSIAN_H
#define SVDD_GAUSSIAN_H

#include "../core/core.h"

typedef struct svdd__gaussian {
    int dim;
    double *mean;      /* dim */
    double *chol;      /* dim x dim, lower Cholesky factor L of the covariance (L L^T = Sigma) */
    double shrinkage;  /* Ledoit-Wolf delta in [0, 1] */
    double scale;      /* trace(S) / dim, the target's variance */
} svdd__gaussian;

/* Fit on n vectors of `dim` floats (n >= 2). */
svdd_status svdd__gaussian_fit(svdd__gaussian *g, const float *z, size_t n, int dim, svdd_error *err);
/* Restore from stored mean and Cholesky factor (copied), checking the factor is usable. */
svdd_status svdd__gaussian_set(svdd__gaussian *g, int dim, const double *mean, const double *chol, svdd_error *err);
void svdd__gaussian_free(svdd__gaussian *g);
/* (z - mean)^T Sigma^-1 (z - mean) for each of n vectors. */
void svdd__gaussian_mahalanobis(const svdd__gaussian *g, const float *z, size_t n, float *out);



/* grad = d/dz of (z - mean)^T Sigma^-1 (z - mean) = 2 Sigma^-1 (z - mean), for one vector;
 * returns the squared distance. */
double svdd__gaussian_mahalanobis_grad(const svdd__gaussian *g, const float *z, float *grad);
#endif
