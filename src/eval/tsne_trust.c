/* Trustworthiness (Venna and Kaski 2001): how far an embedding invents neighbours.
 *   T(k) = 1 - 2 / (n k (2n - 3k - 1)) sum_i sum_{j in U_k(i)} (r(i, j) - k),
 * U_k(i) the points among i's k nearest in the embedding that are not among its k nearest in the
 * input, r(i, j) >= 1 the rank of j among i's input neighbours. The normaliser is the largest
 * possible sum, so T lies in [0, 1] when k < n / 2. Ties are ranked by index, as a stable sort
 * of the distances would (scikit-learn's trustworthiness does the same).
 *
 * Exact: for every point, all n input distances, a k-best selection in the embedding, and for
 * each of those k neighbours its input rank by counting, O(n^2 (dim + k)) in all, O(n) memory. */
#include <math.h>
#include <stdlib.h>

#include "tsne.h"

/* The input-rank penalty of point i: sum over its k nearest in y of max(0, r(i, j) - k).
 * din (n) and best_d/best_j (k) are scratch. */
static uint64_t point_penalty(const float *x, const float *y, size_t n, int dim, int ydim, size_t k, size_t i,
                              double *din, double *best_d, uint32_t *best_j) {
    const float *xi = x + i * (size_t)dim, *yi = y + i * (size_t)ydim;
    size_t found = 0;
    for (size_t j = 0; j < n; j++) {
        din[j] = svdd__tsne_sqdist(xi, x + j * (size_t)dim, dim);
        if (j == i) continue;
        /* Keep the k best (distance, index) in ascending order by insertion; scanning j upwards
         * and inserting only when strictly closer keeps equal distances in index order. */
        double d = svdd__tsne_sqdist(yi, y + j * (size_t)ydim, ydim);
        if (found == k && !(d < best_d[k - 1])) continue;
        size_t at = found < k ? found++ : k - 1;
        while (at > 0 && best_d[at - 1] > d) {
            best_d[at] = best_d[at - 1], best_j[at] = best_j[at - 1];
            at--;
        }
        best_d[at] = d, best_j[at] = (uint32_t)j;
    }
    /* Below every distance, so that i counts itself and the count below is r(i, j) - 1 + 1. */
    din[i] = -1.0;
    uint64_t penalty = 0;
    for (size_t m = 0; m < k; m++) {
        size_t j = best_j[m];
        double dj = din[j];
        size_t rank = 0;
        for (size_t l = 0; l < n; l++) rank += (din[l] < dj) | ((din[l] == dj) & (l < j));
        if (rank > k) penalty += rank - k;
    }
    return penalty;
}

svdd_status svdd_trustworthiness(const float *x, size_t n, int dim, const float *y, int ydim, int k,
                                 double *result, svdd_error *err) {
    if (!x || !y || !result) return svdd__fail(err, SVDD_E_INVALID, "trustworthiness: NULL argument");
    if (dim < 1 || ydim < 1)
        return svdd__fail(err, SVDD_E_INVALID, "trustworthiness: dimensions must be >= 1 (got %d and %d)", dim, ydim);
    if (k < 1 || 2 * (size_t)k >= n)
        return svdd__fail(err, SVDD_E_INVALID,
                          "trustworthiness: k = %d neighbours is out of range: it must be in [1, n/2) for n = %zu points",
                          k, n);
    if (n > UINT32_MAX) return svdd__fail(err, SVDD_E_LIMIT, "trustworthiness: %zu points is more than it handles", n);
    size_t nx, ny;
    if (!svdd__mul_size(n, (size_t)dim, &nx) || !svdd__mul_size(n, (size_t)ydim, &ny))
        return svdd__fail(err, SVDD_E_INVALID, "trustworthiness: n x dim overflows");
    for (size_t i = 0; i < nx; i++)
        if (!isfinite(x[i]))
            return svdd__fail(err, SVDD_E_NUMERIC, "trustworthiness: input value %zu is not finite (%g)", i, (double)x[i]);
    for (size_t i = 0; i < ny; i++)
        if (!isfinite(y[i]))
            return svdd__fail(err, SVDD_E_NUMERIC, "trustworthiness: embedding value %zu is not finite (%g)", i,
                              (double)y[i]);
    double *din = svdd__alloc(n, sizeof *din), *best_d = svdd__alloc((size_t)k, sizeof *best_d);
    uint32_t *best_j = svdd__alloc((size_t)k, sizeof *best_j);
    if (!din || !best_d || !best_j) {
        free(din), free(best_d), free(best_j);
        return svdd__fail(err, SVDD_E_NOMEM, "out of memory for trustworthiness of %zu points", n);
    }
    /* The penalties are integers, summed exactly. */
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) total += point_penalty(x, y, n, dim, ydim, (size_t)k, i, din, best_d, best_j);
    free(din), free(best_d), free(best_j);
    double dn = (double)n, dk = (double)k;
    *result = 1.0 - 2.0 / (dn * dk * (2.0 * dn - 3.0 * dk - 1.0)) * (double)total;
    svdd__ok(err);
    return SVDD_OK;
}
