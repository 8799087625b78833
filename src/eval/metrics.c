/* Detection metrics with anomaly = positive. Everything is computed from one sort of the scores,
 * walking the score levels from the highest down; tied scores form one level, so ROC AUC counts
 * ties as one half (Mann-Whitney) and average precision and the oracle F1 never split a tie. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/core.h"

typedef struct scored {
    float s;
    int32_t y;
} scored;

static int by_score_desc(const void *a, const void *b) {
    float x = ((const scored *)a)->s, y = ((const scored *)b)->s;
    return (x < y) - (x > y);
}

static double f1_of(size_t tp, size_t fp, size_t fn) {
    return tp ? 2.0 * (double)tp / (double)(2 * tp + fp + fn) : 0.0;
}

/* Sort (score, label) pairs by descending score after validating them. */
static svdd_status sorted_pairs(scored **out, const float *scores, const int32_t *labels, size_t n, size_t *n_pos,
                                size_t *n_neg, svdd_error *err) {
    *out = NULL;
    if (!scores || !labels || n == 0) return svdd__fail(err, SVDD_E_INVALID, "metrics need at least one score");
    size_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        if (labels[i] != 0 && labels[i] != 1)
            return svdd__fail(err, SVDD_E_INVALID, "label %d of image %zu is not 0 (normal) or 1 (anomaly)", labels[i], i);
        if (!isfinite(scores[i])) return svdd__fail(err, SVDD_E_NUMERIC, "score of image %zu is not finite (%g)", i, scores[i]);
        pos += labels[i] == 1;
    }
    if (pos == 0 || pos == n)
        return svdd__fail(err, SVDD_E_INVALID, "metrics need both normal and anomalous images (got %zu anomalous of %zu)", pos,
                          n);
    scored *p = svdd__alloc(n, sizeof *p);
    if (!p) return svdd__fail(err, SVDD_E_NOMEM, "out of memory sorting %zu scores", n);
    for (size_t i = 0; i < n; i++) p[i].s = scores[i], p[i].y = labels[i];
    qsort(p, n, sizeof *p, by_score_desc);
    *out = p;
    *n_pos = pos;
    *n_neg = n - pos;
    return SVDD_OK;
}

svdd_status svdd_metrics_compute(svdd_metrics *m, const float *scores, const int32_t *labels, size_t n,
                                 double threshold, svdd_error *err) {
    if (!m) return svdd__fail(err, SVDD_E_INVALID, "svdd_metrics_compute: NULL result");
    memset(m, 0, sizeof *m);
    scored *p;
    size_t P, N;
    svdd_status st = sorted_pairs(&p, scores, labels, n, &P, &N, err);
    if (st != SVDD_OK) return st;
    m->n_anomalous = P;
    m->n_normal = N;
    /* Walk the levels: tp/fp count images with score >= the current level. */
    size_t tp = 0, fp = 0;
    double auc2 = 0, ap = 0, best_f1 = -1, best_thr = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i, dtp = 0, dfp = 0;
        while (j < n && p[j].s == p[i].s) {
            dtp += p[j].y == 1;
            dfp += p[j].y == 0;
            j++;
        }
        /* trapezoid between (fp, tp) and (fp + dfp, tp + dtp), in units of 1/(P N), doubled */
        auc2 += (double)dfp * (double)(2 * tp + dtp);
        tp += dtp;
        fp += dfp;
        if (dtp) ap += ((double)dtp / (double)P) * ((double)tp / (double)(tp + fp));
        double f1 = f1_of(tp, fp, P - tp);
        if (f1 > best_f1) {
            best_f1 = f1;
            /* "score > threshold" flags this level and above exactly when the threshold is the
             * next lower level (or anything below the lowest score, when all are flagged) */
            best_thr = j < n ? (double)p[j].s : (double)p[i].s - 1.0;
        }
        i = j;
    }
    m->auc = auc2 / (2.0 * (double)P * (double)N);
    m->average_precision = ap;
    m->f1_oracle = best_f1;
    m->threshold_oracle = best_thr;
    m->f1_all_anomalous = f1_of(P, N, 0);
    m->threshold = threshold;
    for (size_t i = 0; i < n; i++) {
        int flagged = (double)p[i].s > threshold;
        if (p[i].y == 1) flagged ? m->tp++ : m->fn++;
        else flagged ? m->fp++ : m->tn++;
    }
    m->precision = m->tp + m->fp != 0 ? (double)m->tp / (double)(m->tp + m->fp) : 0.0;
    m->recall = m->tpr = (double)m->tp / (double)P;
    m->fpr = (double)m->fp / (double)N;
    m->f1 = f1_of(m->tp, m->fp, m->fn);
    free(p);
    svdd__ok(err);
    return SVDD_OK;
}

svdd_status svdd_roc_curve(const float *scores, const int32_t *labels, size_t n, double **fpr, double **tpr,
                           double **threshold, size_t *n_points, svdd_error *err) {
    if (!fpr || !tpr || !threshold || !n_points) return svdd__fail(err, SVDD_E_INVALID, "svdd_roc_curve: NULL argument");
    *fpr = *tpr = *threshold = NULL;
    *n_points = 0;
    scored *p;
    size_t P, N;
    svdd_status st = sorted_pairs(&p, scores, labels, n, &P, &N, err);
    if (st != SVDD_OK) return st;
    double *f = malloc((n + 1) * sizeof(double)), *t = malloc((n + 1) * sizeof(double)), *h = malloc((n + 1) * sizeof(double));
    if (!f || !t || !h) {
        free(p), free(f), free(t), free(h);
        return svdd__fail(err, SVDD_E_NOMEM, "out of memory for the ROC curve");
    }
    size_t k = 0, tp = 0, fp = 0;
    f[k] = 0, t[k] = 0, h[k] = INFINITY, k++;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && p[j].s == p[i].s) {
            tp += p[j].y == 1;
            fp += p[j].y == 0;
            j++;
        }
        f[k] = (double)fp / (double)N, t[k] = (double)tp / (double)P, h[k] = p[i].s, k++;
        i = j;
    }
    free(p);
    *fpr = f, *tpr = t, *threshold = h, *n_points = k;
    return SVDD_OK;
}
