/* t-SNE and trustworthiness: each internal piece against brute force or finite differences, then
 * whole embeddings of clustered data (Barnes-Hut against the exact method), determinism and
 * argument checks. Sizes are kept small enough for the sanitizer build. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/tsne.h"
#include "testutil.h"

/* n points in `n_clusters` isotropic Gaussian clusters (unit spread) whose centres are drawn
 * N(0, spread^2) per coordinate; labels[i] = i % n_clusters. */
static void make_clusters(float *x, int32_t *labels, size_t n, int dim, int n_clusters, double spread, uint64_t seed) {
    svdd__rng r;
    svdd__rng_seed(&r, seed, 11);
    double *c = malloc((size_t)n_clusters * (size_t)dim * sizeof *c);
    assert_non_null(c);
    for (size_t i = 0; i < (size_t)n_clusters * (size_t)dim; i++) c[i] = spread * svdd__rng_normal(&r);
    for (size_t i = 0; i < n; i++) {
        int32_t l = (int32_t)(i % (size_t)n_clusters);
        if (labels) labels[i] = l;
        for (int d = 0; d < dim; d++) x[i * (size_t)dim + d] = (float)(c[(size_t)l * dim + d] + svdd__rng_normal(&r));
    }
    free(c);
}

/* Leave-one-out k-nearest-neighbour classification accuracy of the labels in a 2-d embedding
 * (majority vote, ties to the smallest label). */
static double knn_accuracy(const float *y, const int32_t *labels, size_t n, int k, int n_classes) {
    size_t correct = 0;
    double *bd = malloc((size_t)k * sizeof *bd);
    size_t *bj = malloc((size_t)k * sizeof *bj);
    int *votes = malloc((size_t)n_classes * sizeof *votes);
    assert_true(bd && bj && votes);
    for (size_t i = 0; i < n; i++) {
        size_t found = 0;
        for (size_t j = 0; j < n; j++) {
            if (j == i) continue;
            double dx = y[2 * i] - y[2 * j], dy = y[2 * i + 1] - y[2 * j + 1], d = dx * dx + dy * dy;
            if (found == (size_t)k && !(d < bd[k - 1])) continue;
            size_t at = found < (size_t)k ? found++ : (size_t)k - 1;
            while (at > 0 && bd[at - 1] > d) bd[at] = bd[at - 1], bj[at] = bj[at - 1], at--;
            bd[at] = d, bj[at] = j;
        }
        memset(votes, 0, (size_t)n_classes * sizeof *votes);
        for (int m = 0; m < k; m++) votes[labels[bj[m]]]++;
        int best = 0;
        for (int c = 1; c < n_classes; c++)
            if (votes[c] > votes[best]) best = c;
        correct += best == labels[i];
    }
    free(bd), free(bj), free(votes);
    return (double)correct / (double)n;
}

static double entropy_of(const double *p, size_t k) {
    double h = 0;
    for (size_t j = 0; j < k; j++)
        if (p[j] > 0) h -= p[j] * log(p[j]);
    return h;
}

/* ---- perplexity calibration ---- */

static void test_calibration_entropy(void **state) {
    (void)state;
    const size_t n = 200;
    const int dim = 10;
    float *x = malloc(n * dim * sizeof *x);
    assert_non_null(x);
    svdd_test_fill_uniform(x, n * dim, -1, 1, 3);
    const double perplexities[3] = {2, 10, 30};
    for (int q = 0; q < 3; q++) {
        double perp = perplexities[q];
        size_t k = (size_t)floor(3 * perp);
        uint32_t *idx = malloc(n * k * sizeof *idx);
        double *d2 = malloc(n * k * sizeof *d2), *p = malloc(k * sizeof *p);
        assert_true(idx && d2 && p);
        svdd_error err;
        assert_int_equal(svdd__tsne_knn(x, n, dim, k, 5, 1, idx, d2, &err), SVDD_OK);
        const size_t points[4] = {0, 17, 99, 199};
        for (int t = 0; t < 4; t++) {
            const double *row = d2 + points[t] * k;
            double beta, h;
            int steps = svdd__tsne_calibrate(row, k, perp, p, &beta, &h);
            assert_true(steps >= 1 && steps < 200);
            double sum = 0;
            for (size_t j = 0; j < k; j++) sum += p[j];
            assert_true(fabs(sum - 1) < 1e-12);
            /* the entropy of what was written, not what the function says it reached */
            double hp = entropy_of(p, k);
            if (fabs(hp - log(perp)) > 1e-4)
                fail_msg("perplexity %g, point %zu: entropy %.8f, want log(perplexity) = %.8f", perp, points[t], hp,
                         log(perp));
            assert_true(fabs(h - hp) < 1e-9);
            /* and it is the Gaussian with precision beta */
            assert_true(fabs(p[k - 1] / p[0] - exp(-beta * (row[k - 1] - row[0]))) < 1e-9);
            /* the same distances in other units give the same distribution, beta scaled back */
            double *scaled = malloc(k * sizeof *scaled), *ps = malloc(k * sizeof *ps);
            assert_true(scaled && ps);
            for (size_t j = 0; j < k; j++) scaled[j] = row[j] * 1e8;
            double beta_s;
            svdd__tsne_calibrate(scaled, k, perp, ps, &beta_s, NULL);
            assert_true(fabs(entropy_of(ps, k) - log(perp)) < 1e-4);
            assert_true(fabs(beta_s * 1e8 / beta - 1) < 1e-3);
            free(scaled), free(ps);
        }
        free(idx), free(d2), free(p);
    }
    /* dense rows: every other point, as the exact method uses them */
    const size_t m = 50;
    double *P = malloc(m * m * sizeof *P), *row = malloc(m * sizeof *row), *p = malloc(m * sizeof *p);
    assert_true(P && row && p);
    svdd__tsne_dense_p(x, m, dim, 8, 1, P);
    double total = 0;
    for (size_t i = 0; i < m; i++) {
        assert_true(P[i * m + i] == 0);
        for (size_t j = 0; j < m; j++) {
            total += P[i * m + j];
            assert_true(P[i * m + j] == P[j * m + i]);
        }
    }
    assert_true(fabs(total - 1) < 1e-12);
    for (size_t j = 1; j < m; j++) row[j - 1] = svdd__tsne_sqdist(x, x + j * dim, dim);
    svdd__tsne_calibrate(row, m - 1, 8, p, NULL, NULL);
    assert_true(fabs(entropy_of(p, m - 1) - log(8.0)) < 1e-4);
    free(P), free(row), free(p), free(x);
}

/* ---- vantage-point tree ---- */

typedef struct dj {
    double d;
    uint32_t j;
} dj;
static int by_dj(const void *a, const void *b) {
    const dj *x = a, *y = b;
    if (x->d != y->d) return (x->d > y->d) - (x->d < y->d);
    return (x->j > y->j) - (x->j < y->j);
}

static void test_knn_brute_force(void **state) {
    (void)state;
    const size_t n = 400, k = 12;
    const int dim = 5;
    float *x = malloc(n * dim * sizeof *x);
    uint32_t *idx = malloc(n * k * sizeof *idx), *idx2 = malloc(n * k * sizeof *idx2);
    double *d2 = malloc(n * k * sizeof *d2), *d22 = malloc(n * k * sizeof *d22);
    dj *all = malloc(n * sizeof *all);
    assert_true(x && idx && idx2 && d2 && d22 && all);
    /* small integer coordinates and some exact duplicates: plenty of tied distances */
    svdd__rng r;
    svdd__rng_seed(&r, 9, 9);
    for (size_t i = 0; i < n * dim; i++) x[i] = (float)svdd__rng_below(&r, 6);
    for (size_t i = 0; i < 40; i++) memcpy(x + (i + 300) * dim, x + i * dim, dim * sizeof *x);
    svdd_error err;
    assert_int_equal(svdd__tsne_knn(x, n, dim, k, 1, 1, idx, d2, &err), SVDD_OK);
    assert_int_equal(svdd__tsne_knn(x, n, dim, k, 2, 2, idx2, d22, &err), SVDD_OK);
    for (size_t i = 0; i < n; i++) {
        size_t m = 0;
        for (size_t j = 0; j < n; j++)
            if (j != i) all[m++] = (dj){svdd__tsne_sqdist(x + i * dim, x + j * dim, dim), (uint32_t)j};
        qsort(all, m, sizeof *all, by_dj);
        for (size_t t = 0; t < k; t++) {
            if (idx[i * k + t] != all[t].j || d2[i * k + t] != all[t].d)
                fail_msg("point %zu, neighbour %zu: tree gives %u (d2 %g), brute force %u (d2 %g)", i, t, idx[i * k + t],
                         d2[i * k + t], all[t].j, all[t].d);
        }
    }
    /* another tree (seed) and two threads: the same lists */
    assert_memory_equal(idx, idx2, n * k * sizeof *idx);
    free(x), free(idx), free(idx2), free(d2), free(d22), free(all);
}

static void test_sparse_p(void **state) {
    (void)state;
    const size_t n = 300;
    const int dim = 6;
    const double perp = 5;
    const size_t k = 15;
    float *x = malloc(n * dim * sizeof *x);
    uint32_t *idx = malloc(n * k * sizeof *idx);
    double *c = malloc(n * k * sizeof *c), *dense = calloc(n * n, sizeof *dense);
    assert_true(x && idx && c && dense);
    make_clusters(x, NULL, n, dim, 4, 3, 21);
    svdd_error err;
    svdd__tsne_csr P;
    assert_int_equal(svdd__tsne_sparse_p(x, n, dim, perp, 4, 2, &P, &err), SVDD_OK);
    /* reference: P_ij = (p_j|i + p_i|j) / 2n from the neighbour lists, built densely */
    assert_int_equal(svdd__tsne_knn(x, n, dim, k, 4, 1, idx, c, &err), SVDD_OK);
    for (size_t i = 0; i < n; i++) svdd__tsne_calibrate(c + i * k, k, perp, c + i * k, NULL, NULL);
    for (size_t i = 0; i < n; i++)
        for (size_t m = 0; m < k; m++) {
            size_t j = idx[i * k + m];
            dense[i * n + j] += c[i * k + m] / (2.0 * n);
            dense[j * n + i] += c[i * k + m] / (2.0 * n);
        }
    size_t nnz = 0;
    double total = 0;
    for (size_t i = 0; i < n; i++) {
        for (size_t e = P.row[i]; e < P.row[i + 1]; e++) {
            size_t j = P.col[e];
            assert_true(j != i);
            if (e > P.row[i]) assert_true(P.col[e - 1] < j);
            assert_true(fabs(P.val[e] - dense[i * n + j]) < 1e-15);
            total += P.val[e];
        }
        for (size_t j = 0; j < n; j++) nnz += dense[i * n + j] > 0;
    }
    assert_int_equal(P.row[n], nnz);
    assert_true(fabs(total - 1) < 1e-12);
    svdd__tsne_csr_free(&P);
    free(x), free(idx), free(c), free(dense);
}

/* ---- gradients ---- */

typedef struct kl_ctx {
    const double *p;
    float *yf; /* the coordinates the finite differences perturb */
    size_t n;
} kl_ctx;

/* KL(P || Q) = sum p_ij log(p_ij / q_ij), q_ij = w_ij / Z. */
static double kl_loss(void *vctx) {
    kl_ctx *c = vctx;
    double z = 0, s = 0;
    for (size_t i = 0; i < c->n; i++)
        for (size_t j = 0; j < c->n; j++) {
            if (i == j) continue;
            double dx = (double)c->yf[2 * i] - c->yf[2 * j], dy = (double)c->yf[2 * i + 1] - c->yf[2 * j + 1];
            double w = 1 / (1 + dx * dx + dy * dy);
            z += w;
            if (c->p[i * c->n + j] > 0) s += c->p[i * c->n + j] * log(c->p[i * c->n + j] / w);
        }
    /* cppcheck-suppress invalidFunctionArg ; z sums n(n-1) > 0 positive terms */
    return s + log(z); /* sum p = 1 */
}

static void test_gradients(void **state) {
    (void)state;
    const size_t n = 60;
    const int dim = 4;
    float *x = malloc(n * dim * sizeof *x), *yf = malloc(2 * n * sizeof *yf), *gf = malloc(2 * n * sizeof *gf);
    double *Pd = malloc(n * n * sizeof *Pd), *Ps = calloc(n * n, sizeof *Ps), *y = malloc(2 * n * sizeof *y);
    double *g = malloc(2 * n * sizeof *g), *gb = malloc(2 * n * sizeof *gb), *scratch = malloc(3 * n * sizeof *scratch);
    assert_true(x && yf && gf && Pd && Ps && y && g && gb && scratch);
    make_clusters(x, NULL, n, dim, 3, 3, 5);
    svdd_test_fill_uniform(yf, 2 * n, -3, 3, 6);
    for (size_t i = 0; i < 2 * n; i++) y[i] = yf[i];

    /* exact gradient against central differences of KL */
    svdd__tsne_dense_p(x, n, dim, 5, 1, Pd);
    svdd__tsne_grad_exact(Pd, y, n, 1.0, 1, scratch, g);
    for (size_t i = 0; i < 2 * n; i++) gf[i] = (float)g[i];
    kl_ctx ctx = {Pd, yf, n};
    svdd_test_gradcheck("exact t-SNE gradient", yf, 2 * n, gf, kl_loss, &ctx, 40, 1e-2, 2e-3, 7);

    /* Barnes-Hut with theta 0 visits every point: the exact gradient of the same (sparse) P */
    svdd_error err;
    svdd__tsne_csr P;
    assert_int_equal(svdd__tsne_sparse_p(x, n, dim, 5, 1, 1, &P, &err), SVDD_OK);
    for (size_t i = 0; i < n; i++)
        for (size_t e = P.row[i]; e < P.row[i + 1]; e++) Ps[i * n + P.col[e]] = P.val[e];
    svdd__tsne_bh *bh;
    assert_int_equal(svdd__tsne_bh_create(&bh, n, 2, &err), SVDD_OK);
    for (int q = 0; q < 2; q++) {
        double ex = q == 0 ? 1.0 : 12.0;
        svdd__tsne_grad_exact(Ps, y, n, ex, 1, scratch, g);
        assert_int_equal(svdd__tsne_grad_bh(bh, &P, y, ex, 0.0, gb, &err), SVDD_OK);
        for (size_t i = 0; i < 2 * n; i++)
            if (fabs(gb[i] - g[i]) > 1e-12 * (1 + fabs(g[i])))
                fail_msg("theta 0, exaggeration %g: coordinate %zu: Barnes-Hut %.17g, exact %.17g", ex, i, gb[i], g[i]);
    }
    /* theta 0.5: an approximation, within a few percent of the exact gradient */
    svdd__tsne_grad_exact(Ps, y, n, 1.0, 1, scratch, g);
    assert_int_equal(svdd__tsne_grad_bh(bh, &P, y, 1.0, 0.5, gb, &err), SVDD_OK);
    double num = 0, den = 0, num1 = 0;
    for (size_t i = 0; i < 2 * n; i++) num += (gb[i] - g[i]) * (gb[i] - g[i]), den += g[i] * g[i];
    /* theta 1.2 approximates more coarsely: the error must grow, which shows the test can see it */
    assert_int_equal(svdd__tsne_grad_bh(bh, &P, y, 1.0, 1.2, gb, &err), SVDD_OK);
    for (size_t i = 0; i < 2 * n; i++) num1 += (gb[i] - g[i]) * (gb[i] - g[i]);
    double rel = sqrt(num / den), rel1 = sqrt(num1 / den);
    print_message("Barnes-Hut gradient relative error: theta 0.5 %.2e, theta 1.2 %.2e\n", rel, rel1);
    assert_true(rel > 0 && rel < 0.02);
    assert_true(rel1 > rel);
    svdd__tsne_bh_free(bh);
    svdd__tsne_csr_free(&P);
    free(x), free(yf), free(gf), free(Pd), free(Ps), free(y), free(g), free(gb), free(scratch);
}

/* ---- whole embeddings ---- */

static void test_quality_barnes_hut(void **state) {
    (void)state;
    const size_t n = 1000;
    const int dim = 32;
    float *x = malloc(n * dim * sizeof *x), *y = malloc(2 * n * sizeof *y);
    int32_t *labels = malloc(n * sizeof *labels);
    assert_true(x && y && labels);
    make_clusters(x, labels, n, dim, 10, 1.0, 42);
    svdd_tsne_options o = svdd_tsne_defaults();
    o.seed = 1;
    svdd_error err;
    double t0 = svdd__now();
    assert_int_equal(svdd_tsne(x, n, dim, &o, y, &err), SVDD_OK);
    double t1 = svdd__now();
    double trust, trust_x;
    assert_int_equal(svdd_trustworthiness(x, n, dim, y, 2, 10, &trust, &err), SVDD_OK);
    double acc = knn_accuracy(y, labels, n, 10, 10);
    /* the input as its own embedding is perfect */
    assert_int_equal(svdd_trustworthiness(x, n, dim, x, dim, 10, &trust_x, &err), SVDD_OK);
    assert_true(trust_x == 1.0);
    print_message("Barnes-Hut t-SNE, %zu x %d, 10 clusters: %.2f s, trustworthiness(10) %.4f, 10-NN accuracy %.4f\n", n,
                  dim, t1 - t0, trust, acc);
    assert_true(trust > 0.9);
    assert_true(acc > 0.9);
    free(x), free(y), free(labels);
}

static void test_quality_exact_vs_barnes_hut(void **state) {
    (void)state;
    const size_t n = 300;
    const int dim = 32;
    float *x = malloc(n * dim * sizeof *x), *ye = malloc(2 * n * sizeof *ye), *yb = malloc(2 * n * sizeof *yb);
    int32_t *labels = malloc(n * sizeof *labels);
    assert_true(x && ye && yb && labels);
    make_clusters(x, labels, n, dim, 10, 1.0, 43);
    svdd_tsne_options o = svdd_tsne_defaults();
    o.seed = 2;
    o.iterations = 750;
    svdd_error err;
    o.theta = 0;
    assert_int_equal(svdd_tsne(x, n, dim, &o, ye, &err), SVDD_OK);
    o.theta = 0.5;
    assert_int_equal(svdd_tsne(x, n, dim, &o, yb, &err), SVDD_OK);
    double te, tb;
    assert_int_equal(svdd_trustworthiness(x, n, dim, ye, 2, 10, &te, &err), SVDD_OK);
    assert_int_equal(svdd_trustworthiness(x, n, dim, yb, 2, 10, &tb, &err), SVDD_OK);
    double ae = knn_accuracy(ye, labels, n, 10, 10), ab = knn_accuracy(yb, labels, n, 10, 10);
    print_message("%zu points: exact trustworthiness %.4f accuracy %.4f; Barnes-Hut %.4f, %.4f\n", n, te, ae, tb, ab);
    assert_true(te > 0.9 && tb > 0.9);
    assert_true(fabs(te - tb) < 0.02);
    assert_true(ae > 0.9 && ab > 0.9);
    free(x), free(ye), free(yb), free(labels);
}

/* One embedding for the benchmark: time, trustworthiness(10) and 10-NN accuracy. */
static void bench_one(size_t n, int dim, double theta, int threads) {
    float *x = malloc(n * dim * sizeof *x), *y = malloc(2 * n * sizeof *y);
    int32_t *labels = malloc(n * sizeof *labels);
    assert_true(x && y && labels);
    make_clusters(x, labels, n, dim, 10, 1.0, 2024);
    svdd_tsne_options o = svdd_tsne_defaults();
    o.threads = threads;
    o.theta = theta;
    o.seed = 1;
    svdd_error err;
    double t0 = svdd__now();
    assert_int_equal(svdd_tsne(x, n, dim, &o, y, &err), SVDD_OK);
    double t1 = svdd__now(), trust;
    assert_int_equal(svdd_trustworthiness(x, n, dim, y, 2, 10, &trust, &err), SVDD_OK);
    double t2 = svdd__now();
    print_message("t-SNE %5zu x %3d, %d iterations, theta %.1f, %d thread(s): %6.2f s; trustworthiness(10) %.4f "
                  "(%.2f s), 10-NN accuracy %.4f\n",
                  n, dim, o.iterations, o.theta, o.threads, t1 - t0, trust, t2 - t1, knn_accuracy(y, labels, n, 10, 10));
    free(x), free(y), free(labels);
}

/* The measurements of docs/tsne.md, too long for every test run: only with SVDD_TSNE_BENCH=1
 * (threads from SVDD_TSNE_THREADS, default 2). */
static void test_benchmark(void **state) {
    (void)state;
    const char *on = getenv("SVDD_TSNE_BENCH");
    if (!on || strcmp(on, "1") != 0) skip();
    const char *th = getenv("SVDD_TSNE_THREADS");
    char *end = NULL;
    long tl = th ? strtol(th, &end, 10) : 2;
    if (th && (end == th || *end || tl < 1 || tl > 256)) fail_msg("SVDD_TSNE_THREADS must be 1..256, not '%s'", th);
    int threads = (int)tl;
    bench_one(2000, 32, 0.0, threads);
    bench_one(2000, 32, 0.5, threads);
    bench_one(10000, 32, 0.5, threads);
    bench_one(10000, 128, 0.5, threads);
}

/* ---- trustworthiness ---- */

/* Brute force from the definition, with ranks from full sorts. */
static double trust_reference(const float *x, size_t n, int dim, const float *y, int ydim, int k) {
    dj *ax = malloc(n * sizeof *ax), *ay = malloc(n * sizeof *ay);
    size_t *rank = malloc(n * sizeof *rank);
    assert_true(ax && ay && rank);
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        size_t m = 0;
        for (size_t j = 0; j < n; j++) {
            if (j == i) continue;
            ax[m] = (dj){svdd__tsne_sqdist(x + i * dim, x + j * dim, dim), (uint32_t)j};
            ay[m] = (dj){svdd__tsne_sqdist(y + i * ydim, y + j * ydim, ydim), (uint32_t)j};
            m++;
        }
        qsort(ax, m, sizeof *ax, by_dj);
        qsort(ay, m, sizeof *ay, by_dj);
        for (size_t t = 0; t < m; t++) rank[ax[t].j] = t + 1;
        for (int t = 0; t < k; t++)
            if (rank[ay[t].j] > (size_t)k) s += (double)(rank[ay[t].j] - (size_t)k);
    }
    free(ax), free(ay), free(rank);
    return 1 - 2.0 / ((double)n * k * (2.0 * n - 3.0 * k - 1)) * s;
}

static void test_trustworthiness(void **state) {
    (void)state;
    svdd_error err;
    double t;
    /* hand-worked: 1-d inputs 0 1 3 7 15, embedded at 0 3 1 7 15, k = 1. Embedding neighbours
     * and their input ranks: 0->2 (rank 2), 1->2 (2), 2->0 (2), 3->1 (2), 4->3 (1): sum of
     * (r - k) = 4, T = 1 - 2 / (5 * 1 * 6) * 4 = 11/15. */
    const float hx[5] = {0, 1, 3, 7, 15}, hy[5] = {0, 3, 1, 7, 15};
    assert_int_equal(svdd_trustworthiness(hx, 5, 1, hy, 1, 1, &t, &err), SVDD_OK);
    assert_true(fabs(t - 11.0 / 15.0) < 1e-12);
    assert_int_equal(svdd_trustworthiness(hx, 5, 1, hx, 1, 2, &t, &err), SVDD_OK);
    assert_true(t == 1.0);

    /* against the definition on random data with ties (small integer coordinates) */
    const size_t n = 80;
    float *x = malloc(n * 6 * sizeof *x), *y = malloc(n * 2 * sizeof *y);
    assert_true(x && y);
    svdd__rng r;
    svdd__rng_seed(&r, 12, 1);
    for (size_t i = 0; i < n * 6; i++) x[i] = (float)svdd__rng_below(&r, 4);
    for (size_t i = 0; i < n * 2; i++) y[i] = (float)svdd__rng_below(&r, 5);
    for (int k = 1; k <= 20; k += 6) {
        assert_int_equal(svdd_trustworthiness(x, n, 6, y, 2, k, &t, &err), SVDD_OK);
        double ref = trust_reference(x, n, 6, y, 2, k);
        if (fabs(t - ref) > 1e-12) fail_msg("k = %d: trustworthiness %.15f, definition %.15f", k, t, ref);
    }
    /* an embedding that keeps only a rotation of the first two coordinates of planar data is perfect */
    for (size_t i = 0; i < n; i++) {
        x[i * 6] = (float)svdd__rng_normal(&r), x[i * 6 + 1] = (float)svdd__rng_normal(&r);
        for (int d = 2; d < 6; d++) x[i * 6 + d] = 0;
        y[2 * i] = x[i * 6 + 1], y[2 * i + 1] = -x[i * 6];
    }
    assert_int_equal(svdd_trustworthiness(x, n, 6, y, 2, 5, &t, &err), SVDD_OK);
    assert_true(t == 1.0);
    free(x), free(y);

    /* clustered data: a random embedding is clearly less trustworthy than the data itself */
    const size_t m = 400;
    float *cx = malloc(m * 16 * sizeof *cx), *ry = malloc(m * 2 * sizeof *ry);
    assert_true(cx && ry);
    make_clusters(cx, NULL, m, 16, 5, 3.0, 8);
    svdd_test_fill_uniform(ry, m * 2, -1, 1, 13);
    assert_int_equal(svdd_trustworthiness(cx, m, 16, ry, 2, 10, &t, &err), SVDD_OK);
    print_message("random embedding of clustered data: trustworthiness(10) %.4f\n", t);
    assert_true(t < 0.6);
    /* the first two input coordinates keep some of the cluster structure: in between */
    float *two = malloc(m * 2 * sizeof *two);
    assert_non_null(two);
    for (size_t i = 0; i < m; i++) two[2 * i] = cx[i * 16], two[2 * i + 1] = cx[i * 16 + 1];
    double t2;
    assert_int_equal(svdd_trustworthiness(cx, m, 16, two, 2, 10, &t2, &err), SVDD_OK);
    assert_true(t2 > t && t2 < 1.0);
    free(cx), free(ry), free(two);
}

/* ---- determinism ---- */

static void test_determinism(void **state) {
    (void)state;
    const int dim = 8;
    svdd_tsne_options o = svdd_tsne_defaults();
    o.iterations = 260; /* past the end of the early exaggeration */
    o.perplexity = 20;
    svdd_error err;
    for (int exact = 0; exact < 2; exact++) {
        /* large enough for the gradient to run its loops on two threads (tsne_gradient.c) */
        const size_t n = exact ? 200 : 600;
        float *x = malloc(n * dim * sizeof *x), *a = malloc(2 * n * sizeof *a), *b = malloc(2 * n * sizeof *b);
        assert_true(x && a && b);
        make_clusters(x, NULL, n, dim, 4, 2.0, 77);
        o.theta = exact ? 0.0 : 0.5;
        o.seed = 5;
        o.threads = 1;
        assert_int_equal(svdd_tsne(x, n, dim, &o, a, &err), SVDD_OK);
        assert_int_equal(svdd_tsne(x, n, dim, &o, b, &err), SVDD_OK);
        assert_memory_equal(a, b, 2 * n * sizeof *a);
        /* every loop writes per point and sums in point order: two threads give the same bits */
        o.threads = 2;
        assert_int_equal(svdd_tsne(x, n, dim, &o, b, &err), SVDD_OK);
        assert_memory_equal(a, b, 2 * n * sizeof *a);
        /* another seed, another embedding */
        o.seed = 6;
        o.threads = 1;
        assert_int_equal(svdd_tsne(x, n, dim, &o, b, &err), SVDD_OK);
        assert_true(memcmp(a, b, 2 * n * sizeof *a) != 0);
        free(x), free(a), free(b);
    }
}

/* Identical points (all of them, or many pairs) give zero distances and ties everywhere: the
 * calibration must still give finite similarities and the embedding finite coordinates. */
static void test_duplicates(void **state) {
    (void)state;
    const size_t n = 120;
    const int dim = 3;
    float *x = malloc(n * dim * sizeof *x), *y = malloc(2 * n * sizeof *y);
    assert_true(x && y);
    svdd_tsne_options o = svdd_tsne_defaults();
    o.iterations = 300;
    o.perplexity = 10;
    svdd_error err;
    for (int mode = 0; mode < 4; mode++) {
        if (mode < 2) {
            for (size_t i = 0; i < n * dim; i++) x[i] = 1.5f;
        } else {
            svdd_test_fill_uniform(x, n * dim, -1, 1, 31);
            for (size_t i = 0; i < n / 2; i++) memcpy(x + (i + n / 2) * dim, x + i * dim, dim * sizeof *x);
        }
        o.theta = mode % 2 ? 0.0 : 0.5;
        assert_int_equal(svdd_tsne(x, n, dim, &o, y, &err), SVDD_OK);
        for (size_t i = 0; i < 2 * n; i++) assert_true(isfinite(y[i]));
        double t;
        assert_int_equal(svdd_trustworthiness(x, n, dim, y, 2, 5, &t, &err), SVDD_OK);
        assert_true(t >= 0 && t <= 1);
    }
    free(x), free(y);
}

/* ---- arguments ---- */

static void expect_invalid(svdd_status st, const svdd_error *err, const char *words) {
    assert_int_equal(st, SVDD_E_INVALID);
    assert_int_equal(err->status, SVDD_E_INVALID);
    if (!strstr(err->message, words)) fail_msg("message \"%s\" does not mention \"%s\"", err->message, words);
}

static void test_bad_arguments(void **state) {
    (void)state;
    const size_t n = 40;
    float x[40 * 3], y[40 * 2];
    svdd_test_fill_uniform(x, n * 3, 0, 1, 1);
    svdd_error err;
    svdd_tsne_options o = svdd_tsne_defaults();
    o.perplexity = 5;
    o.iterations = 5;
    assert_int_equal(svdd_tsne(x, n, 3, &o, y, &err), SVDD_OK);
    expect_invalid(svdd_tsne(x, 3, 3, &o, y, &err), &err, "at least 4 points");
    expect_invalid(svdd_tsne(x, n, 0, &o, y, &err), &err, "dimension");
    expect_invalid(svdd_tsne(NULL, n, 3, &o, y, &err), &err, "NULL");
    expect_invalid(svdd_tsne(x, n, 3, &o, NULL, &err), &err, "NULL");
    /* 40 points allow perplexities up to 13 */
    o.perplexity = 14;
    expect_invalid(svdd_tsne(x, n, 3, &o, y, &err), &err, "[2, (n-1)/3] = [2, 13] for n = 40");
    o.perplexity = 1.5;
    expect_invalid(svdd_tsne(x, n, 3, &o, y, &err), &err, "perplexity");
    o.perplexity = NAN;
    expect_invalid(svdd_tsne(x, n, 3, &o, y, &err), &err, "perplexity");
    o.perplexity = 13;
    assert_int_equal(svdd_tsne(x, n, 3, &o, y, &err), SVDD_OK);
    o.perplexity = 5;
    o.iterations = 0;
    expect_invalid(svdd_tsne(x, n, 3, &o, y, &err), &err, "iterations");
    o.iterations = 5;
    o.theta = -0.1;
    expect_invalid(svdd_tsne(x, n, 3, &o, y, &err), &err, "theta");
    o.theta = 1.6;
    expect_invalid(svdd_tsne(x, n, 3, &o, y, &err), &err, "theta");
    o.theta = 0.5;
    o.learning_rate = -1;
    expect_invalid(svdd_tsne(x, n, 3, &o, y, &err), &err, "learning rate");
    o.learning_rate = INFINITY;
    expect_invalid(svdd_tsne(x, n, 3, &o, y, &err), &err, "learning rate");
    o.learning_rate = 0;
    o.early_exaggeration = 0.5;
    expect_invalid(svdd_tsne(x, n, 3, &o, y, &err), &err, "exaggeration");
    o.early_exaggeration = 12;
    o.threads = 0;
    expect_invalid(svdd_tsne(x, n, 3, &o, y, &err), &err, "threads");
    o.threads = 1;
    /* a non-finite input is a numeric error that names the point */
    x[3 * 7 + 2] = NAN;
    assert_int_equal(svdd_tsne(x, n, 3, &o, y, &err), SVDD_E_NUMERIC);
    assert_non_null(strstr(err.message, "point 7, coordinate 2"));
    x[3 * 7 + 2] = 0.5f;
    /* NULL options mean the defaults (perplexity 30 needs 91 points) */
    expect_invalid(svdd_tsne(x, n, 3, NULL, y, &err), &err, "perplexity 30");
    /* a learning rate that overflows the embedding is reported, not returned as numbers */
    o.learning_rate = 1e300;
    o.iterations = 50;
    assert_int_equal(svdd_tsne(x, n, 3, &o, y, &err), SVDD_E_NUMERIC);
    assert_non_null(strstr(err.message, "diverged"));

    double t;
    expect_invalid(svdd_trustworthiness(x, n, 3, y, 2, 0, &t, &err), &err, "[1, n/2)");
    expect_invalid(svdd_trustworthiness(x, n, 3, y, 2, 20, &t, &err), &err, "k = 20");
    assert_int_equal(svdd_trustworthiness(x, n, 3, y, 2, 19, &t, &err), SVDD_OK);
    expect_invalid(svdd_trustworthiness(x, n, 0, y, 2, 5, &t, &err), &err, "dimensions");
    expect_invalid(svdd_trustworthiness(x, n, 3, y, 0, 5, &t, &err), &err, "dimensions");
    expect_invalid(svdd_trustworthiness(x, n, 3, NULL, 2, 5, &t, &err), &err, "NULL");
    expect_invalid(svdd_trustworthiness(x, n, 3, y, 2, 5, NULL, &err), &err, "NULL");
    y[5] = INFINITY;
    assert_int_equal(svdd_trustworthiness(x, n, 3, y, 2, 5, &t, &err), SVDD_E_NUMERIC);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_calibration_entropy),
        cmocka_unit_test(test_knn_brute_force),
        cmocka_unit_test(test_sparse_p),
        cmocka_unit_test(test_gradients),
        cmocka_unit_test(test_trustworthiness),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_quality_exact_vs_barnes_hut),
        cmocka_unit_test(test_quality_barnes_hut),
        cmocka_unit_test(test_benchmark),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
