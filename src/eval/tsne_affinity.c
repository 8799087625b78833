/* t-SNE's input similarities (van der Maaten and Hinton 2008, section 2; van der Maaten 2014,
 * section 4.1). Each point i gets a Gaussian conditional distribution over the others,
 *   p_j|i = exp(-beta_i |x_i - x_j|^2) / sum_l exp(-beta_i |x_i - x_l|^2),
 * with beta_i chosen so that its entropy is log(perplexity): a point in a dense region gets a
 * narrow kernel and one in a sparse region a wide one. The joint P = (p_j|i + p_i|j) / (2n) is
 * symmetric and sums to 1. Barnes-Hut keeps only each point's floor(3 perplexity) nearest
 * neighbours, beyond which the Gaussian is negligible; the exact method keeps every pair. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tsne.h"

void svdd__tsne_csr_free(svdd__tsne_csr *p) {
    if (!p) return;
    free(p->row), free(p->col), free(p->val);
    memset(p, 0, sizeof *p);
}

/* Entropy (nats) of p_j ~ exp(-beta e_j), and the unnormalised sum, for the shifted and scaled
 * distances e (min 0): H = log(S) + beta sum_j e_j p_j. */
static double entropy_at(const double *e, size_t k, double beta, double *sum_out) {
    double s = 0, se = 0;
    for (size_t j = 0; j < k; j++) {
        double w = exp(-beta * e[j]);
        s += w;
        se += e[j] * w;
    }
    *sum_out = s;
    /* cppcheck-suppress invalidFunctionArg ; e has a 0 (shifted by its minimum), so s >= 1 */
    return log(s) + beta * se / s;
}

int svdd__tsne_calibrate(const double *d2, size_t k, double perplexity, double *p, double *beta_out,
                         double *entropy_out) {
    /* Subtracting the smallest distance leaves p unchanged and keeps one weight at exp(0) = 1,
     * so the sum never underflows to 0; dividing by the mean excess makes the search start at
     * the right scale whatever the units of x. */
    double dmin = INFINITY, mean = 0;
    for (size_t j = 0; j < k; j++) dmin = d2[j] < dmin ? d2[j] : dmin;
    for (size_t j = 0; j < k; j++) mean += d2[j] - dmin;
    mean /= (double)k;
    double scale = mean > 0 ? mean : 1.0;
    /* e lives in p, which may alias d2: both are read and written index by index. */
    for (size_t j = 0; j < k; j++) p[j] = (d2[j] - dmin) / scale;

    const double target = log(perplexity);
    double beta = 1.0, lo = 0.0, hi = INFINITY, sum = 1.0, h = 0.0;
    int steps = 0;
    /* Entropy falls as beta grows; bisect, doubling or halving until both bounds are known. */
    while (steps < 200) {
        h = entropy_at(p, k, beta, &sum);
        steps++;
        if (fabs(h - target) < 1e-5) break;
        if (h > target) {
            lo = beta;
            beta = isinf(hi) ? beta * 2 : (beta + hi) / 2;
        } else {
            hi = beta;
            beta = lo > 0 ? (beta + lo) / 2 : beta / 2;
        }
    }
    if (steps == 200) h = entropy_at(p, k, beta, &sum); /* the beta reported is the one evaluated */
    for (size_t j = 0; j < k; j++) p[j] = exp(-beta * p[j]) / sum;
    if (beta_out) *beta_out = beta / scale;
    if (entropy_out) *entropy_out = h;
    return steps;
}

typedef struct col_val {
    uint32_t col;
    double val;
} col_val;

static int by_col(const void *a, const void *b) {
    uint32_t x = ((const col_val *)a)->col, y = ((const col_val *)b)->col;
    return (x > y) - (x < y);
}

svdd_status svdd__tsne_sparse_p(const float *x, size_t n, int dim, double perplexity, uint64_t seed,
                                int threads, svdd__tsne_csr *p, svdd_error *err) {
    memset(p, 0, sizeof *p);
    size_t k = (size_t)floor(3.0 * perplexity);
    if (k > n - 1) k = n - 1;
    size_t nk, nk2;
    if (!svdd__mul_size(n, k, &nk) || !svdd__mul_size(nk, 2, &nk2))
        return svdd__fail(err, SVDD_E_NOMEM, "t-SNE: %zu points x %zu neighbours do not fit in memory", n, k);
    uint32_t *idx = svdd__alloc(nk, sizeof *idx);
    double *cond = svdd__alloc(nk, sizeof *cond);
    size_t *fill = svdd__calloc(n + 1, sizeof *fill);
    col_val *pairs = svdd__alloc(nk2, sizeof *pairs);
    p->row = svdd__alloc(n + 1, sizeof *p->row);
    svdd_status st = SVDD_OK;
    if (!idx || !cond || !fill || !pairs || !p->row) {
        st = svdd__fail(err, SVDD_E_NOMEM, "out of memory for the neighbours of %zu points", n);
        goto fail;
    }
    st = svdd__tsne_knn(x, n, dim, k, seed, threads, idx, cond, err);
    if (st != SVDD_OK) goto fail;

    /* p_j|i over each point's neighbours, in place of the squared distances. */
#pragma omp parallel for num_threads(threads) schedule(dynamic, 64)
    for (size_t i = 0; i < n; i++) svdd__tsne_calibrate(cond + i * k, k, perplexity, cond + i * k, NULL, NULL);

    /* Row i of P needs p_j|i for its own neighbours and p_i|j for every j that has i as a
     * neighbour. Each row gets room for its k own entries plus its in-degree; `fill` first counts
     * the in-degrees, then becomes the start offsets of the rows in `pairs`. */
    for (size_t e = 0; e < nk; e++) fill[idx[e] + 1]++;
    for (size_t i = 0; i < n; i++) fill[i + 1] += fill[i] + k;
    /* fill[i] = start of row i; its own k entries first, the incoming ones after. */
    size_t *in_at = p->row; /* borrowed as the insertion cursor of the incoming entries */
    for (size_t i = 0; i < n; i++) {
        for (size_t m = 0; m < k; m++) pairs[fill[i] + m] = (col_val){idx[i * k + m], cond[i * k + m]};
        in_at[i] = fill[i] + k;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t m = 0; m < k; m++) {
            uint32_t j = idx[i * k + m];
            pairs[in_at[j]++] = (col_val){(uint32_t)i, cond[i * k + m]};
        }
    /* Sort each row by column and merge the pair that a mutual neighbour contributes twice. The
     * merged row, with its final count in in_at[i], is compacted to the row's start. */
#pragma omp parallel for num_threads(threads) schedule(dynamic, 64)
    for (size_t i = 0; i < n; i++) {
        col_val *r = pairs + fill[i];
        size_t len = fill[i + 1] - fill[i], out = 0;
        qsort(r, len, sizeof *r, by_col);
        for (size_t m = 0; m < len; m++) {
            if (out > 0 && r[out - 1].col == r[m].col) r[out - 1].val += r[m].val;
            else r[out++] = r[m];
        }
        in_at[i] = out;
    }
    size_t nnz = 0;
    for (size_t i = 0; i < n; i++) nnz += in_at[i];
    p->col = svdd__alloc(nnz, sizeof *p->col);
    p->val = svdd__alloc(nnz, sizeof *p->val);
    if (!p->col || !p->val) {
        st = svdd__fail(err, SVDD_E_NOMEM, "out of memory for the %zu input similarities", nnz);
        goto fail;
    }
    const double norm = 1.0 / (2.0 * (double)n);
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = in_at[i];
        const col_val *r = pairs + fill[i];
        p->row[i] = at;
        for (size_t m = 0; m < len; m++) p->col[at + m] = r[m].col, p->val[at + m] = r[m].val * norm;
        at += len;
    }
    p->row[n] = at;
    p->n = n;
    free(idx), free(cond), free(fill), free(pairs);
    return SVDD_OK;
fail:
    free(idx), free(cond), free(fill), free(pairs);
    svdd__tsne_csr_free(p);
    return st;
}

void svdd__tsne_dense_p(const float *x, size_t n, int dim, double perplexity, int threads, double *p) {
    /* Row i is built in place: the n - 1 squared distances to the other points packed at its
     * start, calibrated in place, then moved apart to open the zero diagonal. */
#pragma omp parallel for num_threads(threads) schedule(dynamic, 16)
    for (size_t i = 0; i < n; i++) {
        double *row = p + i * n;
        const float *xi = x + i * (size_t)dim;
        for (size_t j = 0, m = 0; j < n; j++)
            if (j != i) row[m++] = svdd__tsne_sqdist(xi, x + j * (size_t)dim, dim);
        svdd__tsne_calibrate(row, n - 1, perplexity, row, NULL, NULL);
        for (size_t j = n - 1; j > i; j--) row[j] = row[j - 1];
        row[i] = 0;
    }
    const double norm = 1.0 / (2.0 * (double)n);
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++) {
            double v = (p[i * n + j] + p[j * n + i]) * norm;
            p[i * n + j] = p[j * n + i] = v;
        }
}
