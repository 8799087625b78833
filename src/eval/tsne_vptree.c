/* Exact k nearest neighbours from a vantage-point tree (Yianilos 1993), as t-SNE's Barnes-Hut
 * variant uses for its sparse input similarities (van der Maaten 2014, section 4.1).
 *
 * A node is a range [lo, hi) of the tree order: position lo holds its vantage point v, and the
 * other points are split at the median distance to v, thr[lo]: the inner half [lo+1, mid) lies
 * within thr of v, the outer half [mid, hi) at thr or beyond. The tree needs no node structs:
 * the ranges follow from lo and hi. A query q at distance d from v with current k-th distance
 * tau can have a neighbour in the inner half only if d - thr <= tau, and in the outer half only
 * if thr - d <= tau (triangle inequality). Median splits keep the depth at log2(n).
 *
 * The points are copied in tree order, so that a query walks memory mostly forwards. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "tsne.h"

double svdd__tsne_sqdist(const float *a, const float *b, int dim) {
    /* Four partial sums: the compiler may not reassociate a double sum without -ffast-math, so
     * this is what lets it overlap the additions. The result does not depend on the argument order. */
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int t = 0;
    for (; t + 4 <= dim; t += 4) {
        double d0 = (double)a[t] - b[t], d1 = (double)a[t + 1] - b[t + 1];
        double d2 = (double)a[t + 2] - b[t + 2], d3 = (double)a[t + 3] - b[t + 3];
        s0 += d0 * d0, s1 += d1 * d1, s2 += d2 * d2, s3 += d3 * d3;
    }
    for (; t < dim; t++) {
        double d = (double)a[t] - b[t];
        s0 += d * d;
    }
    return (s0 + s1) + (s2 + s3);
}

typedef struct vp_item {
    double d; /* distance to the vantage point of the node being built */
    uint32_t idx;
} vp_item;

typedef struct vptree {
    int dim;
    const float *x; /* the caller's points */
    float *xs;      /* n x dim, in tree order */
    uint32_t *idx;  /* tree position -> point */
    double *thr;    /* thr[lo]: the median distance of the node whose vantage point sits at lo */
} vptree;

/* Hoare selection: afterwards a[k] holds the value it would have if sorted, with no larger value
 * before it and no smaller after. Median-of-three pivots; equal values stop both scans, so runs
 * of equal distances (duplicate points) still split evenly. */
static void select_nth(vp_item *a, ptrdiff_t n, ptrdiff_t k) {
    ptrdiff_t lo = 0, hi = n - 1;
    while (hi > lo) {
        ptrdiff_t mid = lo + (hi - lo) / 2;
        vp_item tmp;
        if (a[mid].d < a[lo].d) tmp = a[mid], a[mid] = a[lo], a[lo] = tmp;
        if (a[hi].d < a[lo].d) tmp = a[hi], a[hi] = a[lo], a[lo] = tmp;
        if (a[hi].d < a[mid].d) tmp = a[hi], a[hi] = a[mid], a[mid] = tmp;
        double pivot = a[mid].d;
        ptrdiff_t i = lo, j = hi;
        while (i <= j) {
            while (a[i].d < pivot) i++;
            while (a[j].d > pivot) j--;
            if (i <= j) {
                tmp = a[i], a[i] = a[j], a[j] = tmp;
                i++, j--;
            }
        }
        /* [lo, j] <= pivot, [i, hi] >= pivot, and anything between equals the pivot */
        if (k <= j) hi = j;
        else if (k >= i) lo = i;
        else return;
    }
}

static void vp_build(vptree *t, vp_item *items, size_t lo, size_t hi, svdd__rng *rng) {
    /* Recursion depth is log2(n): every split halves the range. */
    while (hi - lo > 1) {
        size_t r = lo + svdd__rng_below(rng, (uint32_t)(hi - lo));
        vp_item tmp = items[lo];
        items[lo] = items[r], items[r] = tmp;
        const float *v = t->x + (size_t)items[lo].idx * (size_t)t->dim;
        for (size_t u = lo + 1; u < hi; u++)
            items[u].d = sqrt(svdd__tsne_sqdist(v, t->x + (size_t)items[u].idx * (size_t)t->dim, t->dim));
        size_t mid = lo + 1 + (hi - lo - 1) / 2;
        select_nth(items + lo + 1, (ptrdiff_t)(hi - lo - 1), (ptrdiff_t)(mid - lo - 1));
        t->thr[lo] = items[mid].d;
        vp_build(t, items, lo + 1, mid, rng);
        lo = mid;
    }
}

/* The query's k best so far: a max-heap on (squared distance, index), so that equal distances
 * are ranked by index and the result does not depend on the order the tree is walked in. */
typedef struct knn_query {
    const vptree *t;
    const float *q;
    uint32_t qi;
    size_t k, size;
    double *hd;
    uint32_t *hi;
    double tau; /* distance of the k-th best, +inf until k are found */
} knn_query;

static int heap_greater(double da, uint32_t ia, double db, uint32_t ib) {
    return da > db || (da == db && ia > ib);
}

static void heap_offer(knn_query *c, double d2, uint32_t j) {
    double *hd = c->hd;
    uint32_t *hi = c->hi;
    size_t u;
    if (c->size < c->k) {
        /* sift up */
        u = c->size++;
        while (u > 0) {
            size_t parent = (u - 1) / 2;
            if (!heap_greater(d2, j, hd[parent], hi[parent])) break;
            hd[u] = hd[parent], hi[u] = hi[parent];
            u = parent;
        }
        hd[u] = d2, hi[u] = j;
        if (c->size == c->k) c->tau = sqrt(hd[0]);
        return;
    }
    if (!heap_greater(hd[0], hi[0], d2, j)) return;
    /* replace the root and sift down */
    u = 0;
    for (;;) {
        size_t l = 2 * u + 1, r = l + 1, big = u;
        double bd = d2;
        uint32_t bi = j;
        if (l < c->k && heap_greater(hd[l], hi[l], bd, bi)) big = l, bd = hd[l], bi = hi[l];
        if (r < c->k && heap_greater(hd[r], hi[r], bd, bi)) big = r;
        if (big == u) break;
        hd[u] = hd[big], hi[u] = hi[big];
        u = big;
    }
    hd[u] = d2, hi[u] = j;
    c->tau = sqrt(hd[0]);
}

static void vp_search(knn_query *c, size_t lo, size_t hi) {
    const vptree *t = c->t;
    while (lo < hi) {
        double d2 = svdd__tsne_sqdist(c->q, t->xs + lo * (size_t)t->dim, t->dim);
        if (t->idx[lo] != c->qi) heap_offer(c, d2, t->idx[lo]);
        if (hi - lo == 1) return;
        double d = sqrt(d2), thr = t->thr[lo];
        size_t mid = lo + 1 + (hi - lo - 1) / 2;
        /* The side holding q first: it is the likelier to shrink tau before the other is tested.
         * The non-strict tests keep points at exactly tau, which the index tie-break may prefer. */
        if (d < thr) {
            vp_search(c, lo + 1, mid);
            if (!(thr - d <= c->tau)) return;
            lo = mid;
        } else {
            vp_search(c, mid, hi);
            if (!(d - thr <= c->tau)) return;
            hi = mid, lo = lo + 1;
        }
    }
}

svdd_status svdd__tsne_knn(const float *x, size_t n, int dim, size_t k, uint64_t seed, int threads,
                           uint32_t *idx, double *d2, svdd_error *err) {
    if (k < 1 || k >= n || n > UINT32_MAX || dim < 1)
        return svdd__fail(err, SVDD_E_INVALID, "k nearest neighbours need 1 <= k < n (k = %zu, n = %zu)", k, n);
    vptree t = {.dim = dim, .x = x};
    vp_item *items = svdd__alloc(n, sizeof *items);
    t.xs = svdd__alloc(n * (size_t)dim, sizeof *t.xs); /* n * dim fits: the caller holds x */
    t.idx = svdd__alloc(n, sizeof *t.idx);
    t.thr = svdd__alloc(n, sizeof *t.thr);
    size_t nt = (size_t)threads;
    double *hd = svdd__alloc(nt * k, sizeof *hd);
    uint32_t *hi = svdd__alloc(nt * k, sizeof *hi);
    svdd_status st = SVDD_OK;
    if (!items || !t.xs || !t.idx || !t.thr || !hd || !hi) {
        st = svdd__fail(err, SVDD_E_NOMEM, "out of memory building the vantage-point tree of %zu points", n);
        goto done;
    }
    svdd__rng rng;
    svdd__rng_seed(&rng, seed, 0x7653u); /* a stream of its own, apart from the embedding's */
    for (size_t i = 0; i < n; i++) items[i].idx = (uint32_t)i, items[i].d = 0;
    vp_build(&t, items, 0, n, &rng);
    for (size_t u = 0; u < n; u++) {
        t.idx[u] = items[u].idx;
        memcpy(t.xs + u * (size_t)dim, x + (size_t)items[u].idx * (size_t)dim, (size_t)dim * sizeof(float));
    }

    /* Queries are independent; each writes only its own row, so any schedule gives the same result. */
#pragma omp parallel num_threads(threads)
    {
        size_t me = (size_t)omp_get_thread_num();
        knn_query c = {.t = &t, .k = k, .hd = hd + me * k, .hi = hi + me * k};
#pragma omp for schedule(dynamic, 64)
        for (size_t i = 0; i < n; i++) {
            c.q = x + i * (size_t)dim;
            c.qi = (uint32_t)i;
            c.size = 0;
            c.tau = INFINITY;
            vp_search(&c, 0, n);
            /* Heap sort into ascending (distance, index). */
            for (size_t m = k; m-- > 0;) {
                idx[i * k + m] = c.hi[0];
                d2[i * k + m] = c.hd[0];
                /* pop: move the last to the root and sift it down within the first m */
                double ld = c.hd[m];
                uint32_t li = c.hi[m];
                size_t u = 0;
                for (;;) {
                    size_t l = 2 * u + 1, r = l + 1, big = u;
                    double bd = ld;
                    uint32_t bi = li;
                    if (l < m && heap_greater(c.hd[l], c.hi[l], bd, bi)) big = l, bd = c.hd[l], bi = c.hi[l];
                    if (r < m && heap_greater(c.hd[r], c.hi[r], bd, bi)) big = r;
                    if (big == u) break;
                    c.hd[u] = c.hd[big], c.hi[u] = c.hi[big];
                    u = big;
                }
                c.hd[u] = ld, c.hi[u] = li;
            }
        }
    }
done:
    free(items), free(t.xs), free(t.idx), free(t.thr), free(hd), free(hi);
    return st;
}
