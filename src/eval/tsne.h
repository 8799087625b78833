/* Internal pieces of t-SNE (van der Maaten 2014), split so that each can be checked on its own:
 * the perplexity calibration of one point, exact k nearest neighbours from a vantage-point tree,
 * the input similarities P (sparse for Barnes-Hut, dense for the exact method) and the two
 * gradients of KL(P || Q). Embeddings are 2-d and held as doubles, y[2 i], y[2 i + 1]. */
#ifndef SVDD_TSNE_H
#define SVDD_TSNE_H

#include "../core/core.h"

/* Barnes-Hut's input similarities: a symmetric sparse matrix in CSR form. Row i holds the columns
 * col[row[i] .. row[i+1]) in ascending order (never i itself) and their values val. */
typedef struct svdd__tsne_csr {
    size_t n;
    size_t *row;   /* n + 1 offsets */
    uint32_t *col; /* row[n] */
    double *val;   /* row[n] */
} svdd__tsne_csr;
void svdd__tsne_csr_free(svdd__tsne_csr *p);

/* Squared Euclidean distance of two float vectors, accumulated in double. */
double svdd__tsne_sqdist(const float *a, const float *b, int dim);

/* The conditional distribution of one point: given squared distances d2[0..k) to k other points,
 * find the Gaussian precision beta for which p_j = exp(-beta d2_j) / sum_l exp(-beta d2_l) has
 * entropy log(perplexity) nats (bisection, |H - log(perplexity)| < 1e-5, at most 200 steps).
 * Writes p[0..k) (summing to 1) and, when not NULL, *beta (in units of 1/d2) and the entropy
 * reached *entropy. Returns the number of bisection steps taken. k >= 1. */
int svdd__tsne_calibrate(const double *d2, size_t k, double perplexity, double *p, double *beta,
                         double *entropy);

/* Exact k nearest neighbours of every one of the n points of x (n x dim, row-major) by
 * Euclidean distance, from a vantage-point tree whose vantage points are drawn from `seed`.
 * Row i of idx (n x k) lists the neighbours of i (never i itself) in ascending (distance, index)
 * order, so ties resolve as a brute-force sort by index would; d2 (n x k) holds the squared
 * distances. 1 <= k < n. */
svdd_status svdd__tsne_knn(const float *x, size_t n, int dim, size_t k, uint64_t seed, int threads,
                           uint32_t *idx, double *d2, svdd_error *err);

/* Barnes-Hut's P: k = floor(3 perplexity) neighbours per point, each point's conditional
 * distribution calibrated over them, then P = (P_j|i + P_i|j) / (2n). Sums to 1. */
svdd_status svdd__tsne_sparse_p(const float *x, size_t n, int dim, double perplexity, uint64_t seed,
                                int threads, svdd__tsne_csr *p, svdd_error *err);

/* The exact method's P (n x n, zero diagonal, symmetric, sums to 1): the same calibration over all
 * n - 1 other points. */
void svdd__tsne_dense_p(const float *x, size_t n, int dim, double perplexity, int threads, double *p);

/* The gradient of KL(P || Q) with respect to y (n x 2) when P is multiplied by `exaggeration`:
 *   grad_i = 4 sum_j (exaggeration p_ij - q_ij) w_ij (y_i - y_j),  w_ij = 1 / (1 + |y_i - y_j|^2),
 *   q_ij = w_ij / Z,  Z = sum_{k != l} w_kl.
 * This is the true gradient (with its factor 4), as in scikit-learn; van der Maaten's code drops
 * the 4, so its learning rate 200 is 50 here. */

/* All pairs, O(n^2). scratch holds 3 n doubles. */
void svdd__tsne_grad_exact(const double *p, const double *y, size_t n, double exaggeration, int threads,
                           double *scratch, double *grad);

/* Barnes-Hut: the attraction from the sparse P, the repulsion and Z from a quadtree in which a
 * cell of side s whose centre of mass lies at distance d from y_i stands for all its points when
 * s < theta d and the cell does not hold y_i. theta == 0 visits every point: exact. The
 * workspace keeps the tree between calls. */
typedef struct svdd__tsne_bh svdd__tsne_bh;
svdd_status svdd__tsne_bh_create(svdd__tsne_bh **out, size_t n, int threads, svdd_error *err);
void svdd__tsne_bh_free(svdd__tsne_bh *bh);
svdd_status svdd__tsne_grad_bh(svdd__tsne_bh *bh, const svdd__tsne_csr *p, const double *y, double exaggeration,
                               double theta, double *grad, svdd_error *err);

#endif
