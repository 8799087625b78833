/* t-SNE (van der Maaten and Hinton 2008) with the Barnes-Hut gradient (van der Maaten 2014):
 * argument checks, the input similarities, and the optimiser of the reference implementation.
 *
 * The optimiser is gradient descent with momentum and per-coordinate gains (Jacobs 1988,
 * "delta-bar-delta"): a gain grows by 0.2 while the gradient keeps pointing against the previous
 * step and shrinks by x0.8 once it flips, never below 0.01. For the first 250 iterations P is
 * multiplied by the early exaggeration (12), which pulls the clusters tight while they are still
 * free to move past each other, and the momentum is 0.5; afterwards P is as computed and the
 * momentum 0.8. The embedding starts at N(0, 1e-4^2) per coordinate and is re-centred after every
 * step (the cost does not depend on the centre, but rounding would make it drift).
 *
 * The learning rate follows scikit-learn's "auto" rule, max(n / early_exaggeration / 4, 50),
 * which Belkina et al. (2019) found to keep large data sets from stalling; with the true gradient
 * (the factor 4 included) it equals their n / 12 in the reference code's convention. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tsne.h"

/* Iterations with early exaggeration and the lower momentum. */
#define TSNE_EXAGGERATION_ITERS 250

svdd_tsne_options svdd_tsne_defaults(void) {
    svdd_tsne_options o;
    memset(&o, 0, sizeof o);
    o.perplexity = 30;
    o.iterations = 1000;
    o.theta = 0.5;
    o.learning_rate = 0; /* 0: the "auto" rule, which depends on n */
    o.early_exaggeration = 12;
    o.seed = 0;
    o.threads = 1;
    return o;
}

static svdd_status check_options(const svdd_tsne_options *o, size_t n, svdd_error *err) {
    double max_perplexity = ((double)n - 1.0) / 3.0;
    if (!(o->perplexity >= 2.0 && o->perplexity <= max_perplexity))
        return svdd__fail(err, SVDD_E_INVALID,
                          "t-SNE: perplexity %g is out of range: it must be in [2, (n-1)/3] = [2, %.4g] for n = %zu "
                          "points (each point needs 3 x perplexity neighbours); lower the perplexity or embed more points",
                          o->perplexity, max_perplexity, n);
    if (o->iterations < 1)
        return svdd__fail(err, SVDD_E_INVALID, "t-SNE: iterations must be >= 1 (got %d)", o->iterations);
    if (!(o->theta >= 0.0 && o->theta <= 1.5))
        return svdd__fail(err, SVDD_E_INVALID,
                          "t-SNE: theta %g is out of range [0, 1.5] (0 = exact, 0.5 = the usual Barnes-Hut accuracy)",
                          o->theta);
    if (!(o->learning_rate >= 0.0 && isfinite(o->learning_rate)))
        return svdd__fail(err, SVDD_E_INVALID, "t-SNE: learning rate %g must be > 0, or 0 for the automatic choice",
                          o->learning_rate);
    if (!(o->early_exaggeration >= 1.0 && o->early_exaggeration <= 1000.0))
        return svdd__fail(err, SVDD_E_INVALID, "t-SNE: early exaggeration %g is out of range [1, 1000] (1 = none)",
                          o->early_exaggeration);
    if (o->threads < 1 || o->threads > 256)
        return svdd__fail(err, SVDD_E_INVALID, "t-SNE: threads must be 1..256 (got %d)", o->threads);
    return SVDD_OK;
}

svdd_status svdd_tsne(const float *x, size_t n, int dim, const svdd_tsne_options *opt, float *out,
                      svdd_error *err) {
    svdd_tsne_options defaults = svdd_tsne_defaults();
    const svdd_tsne_options *o = opt ? opt : &defaults;
    if (!x || !out) return svdd__fail(err, SVDD_E_INVALID, "t-SNE: NULL %s", x ? "output" : "input");
    if (n < 4) return svdd__fail(err, SVDD_E_INVALID, "t-SNE needs at least 4 points (got %zu)", n);
    /* Point indices are stored as uint32 in the neighbour lists and the quadtree. */
    if (n > UINT32_MAX / 2) return svdd__fail(err, SVDD_E_LIMIT, "t-SNE: %zu points is more than it handles", n);
    if (dim < 1) return svdd__fail(err, SVDD_E_INVALID, "t-SNE: dimension must be >= 1 (got %d)", dim);
    svdd_status st = check_options(o, n, err);
    if (st != SVDD_OK) return st;
    size_t nd;
    if (!svdd__mul_size(n, (size_t)dim, &nd)) return svdd__fail(err, SVDD_E_INVALID, "t-SNE: n x dim overflows");
    for (size_t i = 0; i < nd; i++)
        if (!isfinite(x[i]))
            return svdd__fail(err, SVDD_E_NUMERIC, "t-SNE: input value %zu (point %zu, coordinate %zu) is not finite (%g)",
                              i, i / (size_t)dim, i % (size_t)dim, (double)x[i]);

    const int exact = o->theta == 0.0;
    const double lr = o->learning_rate > 0 ? o->learning_rate : fmax((double)n / o->early_exaggeration / 4.0, 50.0);
    double *y = svdd__alloc(2 * n, sizeof *y);
    double *grad = svdd__alloc(2 * n, sizeof *grad);
    double *step = svdd__calloc(2 * n, sizeof *step);
    double *gains = svdd__alloc(2 * n, sizeof *gains);
    double *dense = NULL, *scratch = NULL;
    svdd__tsne_csr sparse = {0};
    svdd__tsne_bh *bh = NULL;
    if (!y || !grad || !step || !gains) {
        st = svdd__fail(err, SVDD_E_NOMEM, "out of memory for the t-SNE embedding of %zu points", n);
        goto done;
    }
    if (exact) {
        size_t nn;
        if (svdd__mul_size(n, n, &nn)) dense = svdd__alloc(nn, sizeof *dense);
        scratch = svdd__alloc(3 * n, sizeof *scratch);
        if (!dense || !scratch) {
            st = svdd__fail(err, SVDD_E_NOMEM,
                            "out of memory for exact t-SNE's %zu x %zu similarities (use theta > 0 for many points)", n, n);
            goto done;
        }
        svdd__tsne_dense_p(x, n, dim, o->perplexity, o->threads, dense);
    } else {
        st = svdd__tsne_sparse_p(x, n, dim, o->perplexity, o->seed, o->threads, &sparse, err);
        if (st != SVDD_OK) goto done;
        st = svdd__tsne_bh_create(&bh, n, o->threads, err);
        if (st != SVDD_OK) goto done;
    }

    svdd__rng rng;
    svdd__rng_seed(&rng, o->seed, 0x75e3u);
    for (size_t i = 0; i < 2 * n; i++) y[i] = 1e-4 * svdd__rng_normal(&rng), gains[i] = 1.0;

    for (int it = 0; it < o->iterations; it++) {
        const int early = it < TSNE_EXAGGERATION_ITERS;
        const double exaggeration = early ? o->early_exaggeration : 1.0, momentum = early ? 0.5 : 0.8;
        if (exact) svdd__tsne_grad_exact(dense, y, n, exaggeration, o->threads, scratch, grad);
        else if ((st = svdd__tsne_grad_bh(bh, &sparse, y, exaggeration, o->theta, grad, err)) != SVDD_OK) goto done;
        double mx = 0, my = 0;
        for (size_t i = 0; i < 2 * n; i++) {
            /* A gain grows while the step keeps going downhill (gradient and last step of opposite
             * signs) and shrinks once it overshoots. */
            int same = ((grad[i] > 0) - (grad[i] < 0)) == ((step[i] > 0) - (step[i] < 0));
            gains[i] = same ? fmax(gains[i] * 0.8, 0.01) : gains[i] + 0.2;
            step[i] = momentum * step[i] - lr * gains[i] * grad[i];
            y[i] += step[i];
        }
        for (size_t i = 0; i < n; i++) mx += y[2 * i], my += y[2 * i + 1];
        mx /= (double)n, my /= (double)n;
        if (!isfinite(mx) || !isfinite(my)) {
            st = svdd__fail(err, SVDD_E_NUMERIC,
                            "t-SNE diverged at iteration %d (the embedding is no longer finite); lower the learning "
                            "rate (%g)", it + 1, lr);
            goto done;
        }
        for (size_t i = 0; i < n; i++) y[2 * i] -= mx, y[2 * i + 1] -= my;
    }
    for (size_t i = 0; i < 2 * n; i++) {
        out[i] = (float)y[i];
        /* finite in double can still be beyond float's range */
        if (!isfinite(out[i])) {
            st = svdd__fail(err, SVDD_E_NUMERIC, "t-SNE: coordinate %zu of the embedding (%g) does not fit in a float; "
                            "lower the learning rate (%g)", i, y[i], lr);
            goto done;
        }
    }
    svdd__ok(err);
done:
    free(y), free(grad), free(step), free(gains), free(dense), free(scratch);
    svdd__tsne_csr_free(&sparse);
    svdd__tsne_bh_free(bh);
    return st;
}
