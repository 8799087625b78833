/* The gradient of t-SNE's cost KL(P || Q) for a 2-d embedding (van der Maaten 2014, section 4):
 *   grad_i = 4 (F_attr,i - F_rep,i / Z),
 *   F_attr,i = sum_j p_ij w_ij (y_i - y_j),   F_rep,i = sum_j w_ij^2 (y_i - y_j),
 *   w_ij = 1 / (1 + |y_i - y_j|^2),           Z = sum_{k != l} w_kl.
 * The attraction needs only the pairs where P is non-zero; the repulsion and Z involve every pair.
 * Barnes-Hut puts the points in a quadtree and lets a cell that is small and far from y_i (side
 * s < theta * distance to its centre of mass) act as one point of weight "number of points in
 * it", which makes the repulsion O(n log n).
 *
 * Every loop runs per point and writes only that point's entries; Z is summed afterwards in point
 * order. So the result is the same for any number of threads, bit for bit. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "tsne.h"

/* A gradient is one parallel region per iteration. Below these sizes its work (under ~0.1 ms)
 * is not worth waking a second thread for, and when the cores are shared with other programs a
 * thread that waits at the barrier can cost more than the whole loop. The result is the same
 * either way. */
#define EXACT_PARALLEL_MIN_POINTS 128
#define BH_PARALLEL_MIN_POINTS 512

void svdd__tsne_grad_exact(const double *p, const double *y, size_t n, double exaggeration, int threads,
                           double *scratch, double *grad) {
    double *z = scratch, *rep = scratch + n;
#pragma omp parallel for num_threads(threads) schedule(static) if (n >= EXACT_PARALLEL_MIN_POINTS)
    for (size_t i = 0; i < n; i++) {
        const double *pi = p + i * n;
        double yx = y[2 * i], yy = y[2 * i + 1];
        double zi = 0, ax = 0, ay = 0, rx = 0, ry = 0;
        for (size_t j = 0; j < n; j++) {
            if (j == i) continue;
            double dx = yx - y[2 * j], dy = yy - y[2 * j + 1];
            double w = 1.0 / (1.0 + dx * dx + dy * dy);
            zi += w;
            ax += pi[j] * w * dx, ay += pi[j] * w * dy;
            rx += w * w * dx, ry += w * w * dy;
        }
        z[i] = zi;
        grad[2 * i] = ax, grad[2 * i + 1] = ay;
        rep[2 * i] = rx, rep[2 * i + 1] = ry;
    }
    double zsum = 0;
    for (size_t i = 0; i < n; i++) zsum += z[i];
    for (size_t i = 0; i < 2 * n; i++) grad[i] = 4.0 * (exaggeration * grad[i] - rep[i] / zsum);
}

/* ---- Barnes-Hut ---- */

/* Below this depth the cell side is 2^-40 of the root's: only duplicates (or near-duplicates)
 * still share a cell, and they stay together in one leaf whose points are visited one by one. */
#define QT_MAX_DEPTH 40
/* Points per leaf. A leaf that fails the distance test is summed point by point, which is exact,
 * so bigger leaves lose no accuracy. With 4 to 16 points per leaf, 10000 points took about 15%
 * less time than with 1 (the reference's choice): fewer levels of nodes to walk. */
#define QT_LEAF 8

typedef struct qt_node {
    double cx, cy;           /* centre of mass */
    double side2;            /* squared side of the (square) cell */
    uint32_t start, end;     /* its points are order[start .. end) */
    uint32_t child, n_child; /* its non-empty children are nodes child .. child + n_child - 1 */
} qt_node;

struct svdd__tsne_bh {
    size_t n;
    int threads;
    qt_node *nodes;
    size_t n_nodes, cap;
    uint32_t *order; /* tree order -> point */
    uint32_t *pos;   /* point -> tree order */
    double *ys;      /* positions in tree order, 2 n */
    double *z;       /* each point's share of Z, n */
    double *rep;     /* repulsion, 2 n */
};

void svdd__tsne_bh_free(svdd__tsne_bh *bh) {
    if (!bh) return;
    free(bh->nodes), free(bh->order), free(bh->pos), free(bh->ys), free(bh->z), free(bh->rep);
    free(bh);
}

svdd_status svdd__tsne_bh_create(svdd__tsne_bh **out, size_t n, int threads, svdd_error *err) {
    *out = NULL;
    svdd__tsne_bh *bh = calloc(1, sizeof *bh);
    if (!bh) return svdd__fail(err, SVDD_E_NOMEM, "out of memory for the t-SNE quadtree");
    bh->n = n;
    bh->threads = threads;
    /* A tree of n points with one per leaf has at most 2n nodes unless points nearly coincide;
     * it grows when they do. */
    bh->cap = 2 * n + 16;
    bh->nodes = malloc(bh->cap * sizeof *bh->nodes);
    bh->order = svdd__alloc(n, sizeof *bh->order);
    bh->pos = svdd__alloc(n, sizeof *bh->pos);
    bh->ys = svdd__alloc(2 * n, sizeof *bh->ys);
    bh->z = svdd__alloc(n, sizeof *bh->z);
    bh->rep = svdd__alloc(2 * n, sizeof *bh->rep);
    if (!bh->nodes || !bh->order || !bh->pos || !bh->ys || !bh->z || !bh->rep) {
        svdd__tsne_bh_free(bh);
        return svdd__fail(err, SVDD_E_NOMEM, "out of memory for the t-SNE quadtree of %zu points", n);
    }
    *out = bh;
    return SVDD_OK;
}

/* Move the entries of order[a, b) whose coordinate `axis` is below `at` to the front; return the
 * first index of the rest. */
static size_t partition(uint32_t *order, size_t a, size_t b, const double *y, int axis, double at) {
    while (a < b) {
        if (y[2 * (size_t)order[a] + axis] < at) a++;
        else {
            uint32_t t = order[a];
            order[a] = order[--b], order[b] = t;
        }
    }
    return a;
}

/* Build the subtree of node `id`, the cell centred at (bx, by) with half-side `half`, holding
 * order[start, end). Children are allocated contiguously before any grandchild, so a node's
 * children can be found from one index. Returns 0 when the node array cannot grow. */
static int qt_build(svdd__tsne_bh *bh, size_t id, const double *y, size_t start, size_t end, double bx, double by,
                    double half, int depth) {
    qt_node *nd = &bh->nodes[id];
    nd->start = (uint32_t)start, nd->end = (uint32_t)end;
    nd->side2 = 4.0 * half * half;
    nd->n_child = 0, nd->child = 0;
    if (end - start <= QT_LEAF || depth >= QT_MAX_DEPTH) {
        double sx = 0, sy = 0;
        for (size_t t = start; t < end; t++) sx += y[2 * (size_t)bh->order[t]], sy += y[2 * (size_t)bh->order[t] + 1];
        nd->cx = sx / (double)(end - start), nd->cy = sy / (double)(end - start);
        return 1;
    }
    /* quadrants in the order (x<, y<), (x<, y>=), (x>=, y<), (x>=, y>=) */
    size_t cut[5];
    cut[0] = start, cut[4] = end;
    cut[2] = partition(bh->order, start, end, y, 0, bx);
    cut[1] = partition(bh->order, start, cut[2], y, 1, by);
    cut[3] = partition(bh->order, cut[2], end, y, 1, by);
    uint32_t nc = 0;
    for (int q = 0; q < 4; q++) nc += cut[q + 1] > cut[q];
    if (bh->n_nodes + nc > bh->cap) {
        size_t cap = 2 * bh->cap;
        qt_node *grown = realloc(bh->nodes, cap * sizeof *grown);
        if (!grown) return 0;
        bh->nodes = grown, bh->cap = cap;
    }
    size_t first = bh->n_nodes;
    bh->n_nodes += nc;
    bh->nodes[id].child = (uint32_t)first, bh->nodes[id].n_child = nc;
    size_t c = first;
    double q2 = half / 2;
    for (int q = 0; q < 4; q++) {
        if (cut[q + 1] == cut[q]) continue;
        double cx = bx + (q < 2 ? -q2 : q2), cy = by + (q % 2 == 0 ? -q2 : q2);
        if (!qt_build(bh, c, y, cut[q], cut[q + 1], cx, cy, q2, depth + 1)) return 0;
        c++;
    }
    /* The centre of mass from the children's, weighted by their counts. */
    double sx = 0, sy = 0;
    for (size_t u = first; u < first + nc; u++) {
        double cnt = (double)(bh->nodes[u].end - bh->nodes[u].start);
        sx += cnt * bh->nodes[u].cx, sy += cnt * bh->nodes[u].cy;
    }
    nd = &bh->nodes[id]; /* the array may have moved */
    nd->cx = sx / (double)(end - start), nd->cy = sy / (double)(end - start);
    return 1;
}

/* Z_i and the repulsion on the point at tree position t. */
static void qt_repulse(const svdd__tsne_bh *bh, size_t t, double theta2, double *z_out, double *fx_out,
                       double *fy_out) {
    const qt_node *nodes = bh->nodes;
    const double *ys = bh->ys;
    double yx = ys[2 * t], yy = ys[2 * t + 1];
    double z = 0, fx = 0, fy = 0;
    /* Depth-first with an explicit stack: each level adds at most 3 pending siblings. */
    uint32_t stack[4 * (QT_MAX_DEPTH + 2)];
    int sp = 0;
    stack[sp++] = 0;
    while (sp > 0) {
        const qt_node *nd = &nodes[stack[--sp]];
        double dx = yx - nd->cx, dy = yy - nd->cy, d2 = dx * dx + dy * dy;
        int holds = nd->start <= t && t < nd->end;
        if (!holds && nd->side2 < theta2 * d2) {
            /* far enough: the cell acts as its centre of mass */
            double cnt = (double)(nd->end - nd->start), w = 1.0 / (1.0 + d2), cw = cnt * w;
            z += cw;
            fx += cw * w * dx, fy += cw * w * dy;
        } else if (nd->n_child == 0) {
            for (size_t u = nd->start; u < nd->end; u++) {
                if (u == t) continue;
                double ex = yx - ys[2 * u], ey = yy - ys[2 * u + 1];
                double w = 1.0 / (1.0 + ex * ex + ey * ey);
                z += w;
                fx += w * w * ex, fy += w * w * ey;
            }
        } else {
            for (uint32_t c = 0; c < nd->n_child; c++) stack[sp++] = nd->child + c;
        }
    }
    *z_out = z, *fx_out = fx, *fy_out = fy;
}

svdd_status svdd__tsne_grad_bh(svdd__tsne_bh *bh, const svdd__tsne_csr *p, const double *y, double exaggeration,
                               double theta, double *grad, svdd_error *err) {
    const size_t n = bh->n;
    /* The root: the bounding square of all points, slightly enlarged so that the largest
     * coordinates fall strictly inside. */
    double minx = INFINITY, maxx = -INFINITY, miny = INFINITY, maxy = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        minx = fmin(minx, y[2 * i]), maxx = fmax(maxx, y[2 * i]);
        miny = fmin(miny, y[2 * i + 1]), maxy = fmax(maxy, y[2 * i + 1]);
    }
    double half = 0.5 * fmax(maxx - minx, maxy - miny);
    half = half * (1 + 1e-9) + 1e-12;
    for (size_t i = 0; i < n; i++) bh->order[i] = (uint32_t)i;
    bh->n_nodes = 1;
    if (!qt_build(bh, 0, y, 0, n, 0.5 * (minx + maxx), 0.5 * (miny + maxy), half, 0))
        return svdd__fail(err, SVDD_E_NOMEM, "out of memory growing the t-SNE quadtree (%zu nodes)", bh->cap);
    for (size_t t = 0; t < n; t++) {
        uint32_t i = bh->order[t];
        bh->pos[i] = (uint32_t)t;
        bh->ys[2 * t] = y[2 * (size_t)i], bh->ys[2 * t + 1] = y[2 * (size_t)i + 1];
    }

    const double theta2 = theta * theta;
    /* Walk the points in tree order: neighbouring points take nearly the same path through the
     * tree, which keeps it in cache. Results go to each point's own slots. */
#pragma omp parallel for num_threads(bh->threads) schedule(dynamic, 256) if (n >= BH_PARALLEL_MIN_POINTS)
    for (size_t t = 0; t < n; t++) {
        size_t i = bh->order[t];
        double zi, rx, ry;
        qt_repulse(bh, t, theta2, &zi, &rx, &ry);
        bh->z[i] = zi, bh->rep[2 * i] = rx, bh->rep[2 * i + 1] = ry;
        double yx = y[2 * i], yy = y[2 * i + 1], ax = 0, ay = 0;
        for (size_t e = p->row[i]; e < p->row[i + 1]; e++) {
            size_t j = p->col[e];
            double dx = yx - y[2 * j], dy = yy - y[2 * j + 1];
            double pw = p->val[e] / (1.0 + dx * dx + dy * dy);
            ax += pw * dx, ay += pw * dy;
        }
        grad[2 * i] = ax, grad[2 * i + 1] = ay;
    }
    double zsum = 0;
    for (size_t i = 0; i < n; i++) zsum += bh->z[i];
    for (size_t i = 0; i < 2 * n; i++) grad[i] = 4.0 * (exaggeration * grad[i] - bh->rep[i] / zsum);
    return SVDD_OK;
}
