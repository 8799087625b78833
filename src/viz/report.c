/* The HTML report: every picture svdd draws, for one model on one labelled test split. The page
 * is static HTML with the images as PNG files beside it, readable offline and in any browser. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../data/data.h"
#include "../model/model.h"

svdd_report_options svdd_report_defaults(void) {
    svdd_report_options o;
    memset(&o, 0, sizeof o);
    o.tsne_points = 2000;
    o.gallery = 12;
    o.cam_mode = SVDD_CAM_EXCESS;
    o.cam_layer = -1;
    o.seed = 0;
    o.threads = 1;
    return o;
}

/* ---- a growing string ---- */
typedef struct sb {
    char *p;
    size_t len, cap;
    int failed;
} sb;

static void sb_printf(sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sb *b, const char *fmt, ...) {
    if (b->failed) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = 1;
            return;
        }
        if (b->p && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = (b->cap ? 2 * b->cap : 16384) + (size_t)n;
        char *q = realloc(b->p, cap);
        if (!q) {
            b->failed = 1;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
}

/* HTML-escaped text */
static void sb_text(sb *b, const char *s) {
    for (; s && *s; s++) {
        switch (*s) {
        case '<': sb_printf(b, "&lt;"); break;
        case '>': sb_printf(b, "&gt;"); break;
        case '&': sb_printf(b, "&amp;"); break;
        case '"': sb_printf(b, "&quot;"); break;
        default: sb_printf(b, "%c", *s);
        }
    }
}

typedef struct ranked {
    float s;
    size_t i;
} ranked;

static int by_score_desc(const void *a, const void *b) {
    float x = ((const ranked *)a)->s, y = ((const ranked *)b)->s;
    return (x < y) - (x > y);
}

static int by_score_asc(const void *a, const void *b) { return by_score_desc(b, a); }

static void join(char *out, size_t size, const char *dir, const char *name) { snprintf(out, size, "%s/%s", dir, name); }

/* Heat maps of images idx[0..k) as overlay PNGs named PREFIX_NN.png, and their gallery. */
static svdd_status gallery(svdd_model *m, const svdd_dataset *test, const size_t *idx, int k, const float *scores,
                           const int32_t *y, const char *prefix, const char *title, const char *what,
                           const svdd_report_options *o, const char *dir, sb *html, svdd_error *err) {
    sb_printf(html, "<h2>%s</h2>\n<p>%s</p>\n", title, what);
    if (k == 0) {
        sb_printf(html, "<p><em>None.</em></p>\n");
        return SVDD_OK;
    }
    const size_t HW = (size_t)test->h * test->w, D = (size_t)test->c * HW;
    float *heat = svdd__alloc(HW, sizeof(float));
    if (!heat) return svdd__fail(err, SVDD_E_NOMEM, "out of memory");
    svdd_model_info info;
    svdd_model_get_info(m, &info);
    int scale = test->h <= 32 ? 8 : test->h <= 64 ? 4 : 1;
    svdd_status st = SVDD_OK;
    sb_printf(html, "<div class=\"gallery\">\n");
    for (int j = 0; j < k && st == SVDD_OK; j++) {
        size_t i = idx[j];
        if ((st = svdd_gradcam(m, test, i, 1, o->cam_mode, o->cam_layer, heat, NULL, err)) != SVDD_OK) break;
        char name[64], path[4200], caption[160];
        snprintf(name, sizeof name, "%s_%02d.png", prefix, j);
        join(path, sizeof path, dir, name);
        const char *cls = svdd_dataset_class_name(test, test->labels[i]);
        snprintf(caption, sizeof caption, "#%zu %s  score %.4g  %s", i, y[i] ? "anomalous" : "normal", scores[i],
                 scores[i] > info.threshold ? "FLAGGED" : "not flagged");
        st = svdd_write_overlay(path, test->pixels + i * D, test->c, test->h, test->w, heat, scale, caption, err);
        sb_printf(html, "<figure><img src=\"%s\" alt=\"heat map of test image %zu\"><figcaption>image %zu, class ", name, i, i);
        sb_text(html, cls ? cls : "?");
        sb_printf(html, ", score %.4g</figcaption></figure>\n", scores[i]);
    }
    sb_printf(html, "</div>\n");
    free(heat);
    return st;
}

svdd_status svdd_report_write(svdd_model *m, const svdd_dataset *test, int normal_class, const svdd_report_options *opt,
                              const char *dir, svdd_error *err) {
    if (!m || !test || !dir) return svdd__fail(err, SVDD_E_INVALID, "svdd_report_write: NULL argument");
    svdd_report_options o = opt ? *opt : svdd_report_defaults();
    if (normal_class < 0 || normal_class >= test->n_classes)
        return svdd__fail(err, SVDD_E_INVALID, "normal class %d is not a class of the test set (0..%d)", normal_class,
                          test->n_classes - 1);
    if (o.gallery < 0 || o.gallery > 1000) return svdd__fail(err, SVDD_E_INVALID, "gallery size must be 0..1000");
    const size_t n = test->n;
    const size_t nt = o.tsne_points == 0 || o.tsne_points > n ? n : o.tsne_points;
    if (nt < 7)
        /* t-SNE's perplexity may not fall below 2, which needs (n - 1) / 3 >= 2; checked before
         * the test set is encoded and anything is written */
        return svdd__fail(err, SVDD_E_INVALID, "a report needs at least 7 test images for its t-SNE map (got %zu)", nt);
    svdd_model_info info;
    svdd_model_get_info(m, &info);
    const int L = info.latent_dim;
    float *s = svdd__alloc(n, sizeof(float)), *s_maha = svdd__alloc(n, sizeof(float));
    int32_t *y = svdd__alloc(n, sizeof(int32_t));
    ranked *r = svdd__alloc(n, sizeof(ranked));
    size_t *pick = svdd__alloc(n, sizeof(size_t));
    float *emb = NULL, *sub = NULL;
    int32_t *grp = NULL, *cls = NULL;
    double *rf[2] = {NULL, NULL}, *rt[2] = {NULL, NULL}, *rh[2] = {NULL, NULL};
    size_t rn[2] = {0, 0};
    sb html = {0};
    svdd_status st = SVDD_OK;
    /* one forward pass gives both scores and the codes the t-SNE map embeds */
    const int hybrid = info.method == SVDD_METHOD_HYBRID;
    float *dist = svdd__alloc(n, sizeof(float)), *recon = hybrid ? svdd__alloc(n, sizeof(float)) : NULL;
    float *lat = svdd__alloc(n, (size_t)L * sizeof(float));
    if (!s || !s_maha || !y || !r || !pick || !dist || (hybrid && !recon) || !lat) {
        st = svdd__fail(err, SVDD_E_NOMEM, "out of memory for the report");
        goto done;
    }
    for (size_t i = 0; i < n; i++) y[i] = test->labels[i] != normal_class;
    if ((st = svdd_model_parts(m, test, 0, n, dist, recon, lat, err)) != SVDD_OK) goto done;

    /* scores under the model's own threshold, and the Mahalanobis score for comparison */
    const svdd_threshold_kind own = info.threshold_kind;
    const int own_maha = own == SVDD_THRESHOLD_MAHALANOBIS || own == SVDD_THRESHOLD_MAHALANOBIS_QUANTILE;
    if ((st = svdd_model_set_threshold(m, own_maha ? SVDD_THRESHOLD_QUANTILE : SVDD_THRESHOLD_MAHALANOBIS_QUANTILE,
                                       info.target_fpr, err)) != SVDD_OK)
        goto done;
    if ((st = svdd_model_score_parts(m, n, dist, recon, lat, own_maha ? s : s_maha, NULL, err)) != SVDD_OK) goto done;
    if ((st = svdd_model_set_threshold(m, own, info.target_fpr, err)) != SVDD_OK) goto done;
    if ((st = svdd_model_score_parts(m, n, dist, recon, lat, own_maha ? s_maha : s, NULL, err)) != SVDD_OK) goto done;
    svdd_metrics mt, mm;
    if ((st = svdd_metrics_compute(&mt, s, y, n, info.threshold, err)) != SVDD_OK) goto done;
    if ((st = svdd_metrics_compute(&mm, s_maha, y, n, 0, err)) != SVDD_OK) goto done;

    /* ROC of both scores, histogram */
    char path[4200], label[2][96];
    if ((st = svdd_roc_curve(s, y, n, &rf[0], &rt[0], &rh[0], &rn[0], err)) != SVDD_OK) goto done;
    if ((st = svdd_roc_curve(s_maha, y, n, &rf[1], &rt[1], &rh[1], &rn[1], err)) != SVDD_OK) goto done;
    snprintf(label[0], sizeof label[0], "%s score (AUC %.3f)", svdd_method_name(info.method), mt.auc);
    snprintf(label[1], sizeof label[1], "Mahalanobis score (AUC %.3f)", mm.auc);
    svdd_curve curves[2] = {{own_maha ? label[1] : label[0], rf[0], rt[0], rn[0]},
                            {own_maha ? label[0] : label[1], rf[1], rt[1], rn[1]}};
    char title[256];
    if (o.title) snprintf(title, sizeof title, "%s", o.title);
    else
        snprintf(title, sizeof title, "%s, normal class %s, %s", info.dataset[0] ? info.dataset : "data",
                 svdd_dataset_class_name(test, normal_class), svdd_method_name(info.method));
    join(path, sizeof path, dir, "roc.png");
    if ((st = svdd_plot_roc(path, title, curves, 2, err)) != SVDD_OK) goto done;
    join(path, sizeof path, dir, "roc.svg");
    if ((st = svdd_plot_roc(path, title, curves, 2, err)) != SVDD_OK) goto done;
    char thr_label[96];
    snprintf(thr_label, sizeof thr_label, "threshold (%s, target FPR %.2f)", svdd_threshold_name(own), info.target_fpr);
    join(path, sizeof path, dir, "histogram.png");
    if ((st = svdd_plot_score_histogram(path, title, s, y, n, info.threshold, thr_label, err)) != SVDD_OK) goto done;

    /* t-SNE of the latent vectors of a (seeded) subsample */
    sub = svdd__alloc(nt, (size_t)L * sizeof(float));
    emb = svdd__alloc(nt, 2 * sizeof(float));
    grp = svdd__alloc(nt, sizeof(int32_t));
    cls = svdd__alloc(nt, sizeof(int32_t));
    if (!sub || !emb || !grp || !cls) {
        st = svdd__fail(err, SVDD_E_NOMEM, "out of memory for the t-SNE map");
        goto done;
    }
    {
        /* n >= nt >= 7 here (the analyser loses that n >= nt) */
        uint32_t *perm = malloc(n * sizeof(uint32_t)); /* NOLINT(clang-analyzer-optin.portability.UnixAPI) */
        if (!perm) {
            st = svdd__fail(err, SVDD_E_NOMEM, "out of memory");
            goto done;
        }
        for (size_t i = 0; i < n; i++) perm[i] = (uint32_t)i;
        svdd__rng rng;
        svdd__rng_seed(&rng, o.seed, 0x75e);
        if (nt < n) svdd__rng_shuffle(&rng, perm, n);
        for (size_t i = 0; i < nt; i++) {
            memcpy(sub + i * (size_t)L, lat + (size_t)perm[i] * L, (size_t)L * sizeof(float)); /* NOLINT(clang-analyzer-core.UndefinedBinaryOperatorResult) */
            grp[i] = y[perm[i]];
            cls[i] = test->labels[perm[i]];
        }
        free(perm);
    }
    svdd_tsne_options to = svdd_tsne_defaults();
    to.seed = o.seed;
    to.threads = o.threads;
    if ((double)(nt - 1) / 3.0 < to.perplexity) to.perplexity = (double)(nt - 1) / 3.0;
    if ((st = svdd_tsne(sub, nt, L, &to, emb, err)) != SVDD_OK) goto done;
    const char *two[2] = {"normal", "anomalous"};
    char tt[300];
    snprintf(tt, sizeof tt, "t-SNE of the latent space (%zu test images)", nt);
    join(path, sizeof path, dir, "tsne.png");
    if ((st = svdd_plot_scatter(path, tt, emb, nt, grp, 2, two, err)) != SVDD_OK) goto done;
    {
        const char *names[256];
        int k = test->n_classes > 256 ? 256 : test->n_classes;
        for (int c = 0; c < k; c++) names[c] = svdd_dataset_class_name(test, c);
        join(path, sizeof path, dir, "tsne_classes.png");
        /* cppcheck-suppress knownConditionTrueFalse ; a data set has any number of classes */
        if (k > 2 && k <= 100 && (st = svdd_plot_scatter(path, tt, emb, nt, cls, k, names, err)) != SVDD_OK) goto done;
    }

    /* ---- the page ---- */
    sb_printf(&html, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>");
    sb_text(&html, title);
    sb_printf(&html,
              "</title>\n<style>\n"
              "body{font-family:DejaVu Sans,Helvetica,Arial,sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}\n"
              "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 10px;text-align:left}\n"
              "th{background:#f3f3f3}.num{text-align:right;font-variant-numeric:tabular-nums}\n"
              ".plots img{max-width:49%%;height:auto}.gallery{display:flex;flex-wrap:wrap;gap:8px}\n"
              "figure{margin:0;width:340px}figure img{width:100%%;height:auto}figcaption{font-size:12px;color:#555}\n"
              "code{background:#f3f3f3;padding:1px 4px}\n</style>\n</head>\n<body>\n<h1>");
    sb_text(&html, title);
    sb_printf(&html, "</h1>\n<p>svdd %s. Anomaly is the positive class throughout: the test split's class ", svdd_version());
    sb_text(&html, svdd_dataset_class_name(test, normal_class));
    sb_printf(&html, " is normal (%zu images), every other class anomalous (%zu images).</p>\n", mt.n_normal, mt.n_anomalous);
    if (o.command) {
        sb_printf(&html, "<p>Made by <code>");
        sb_text(&html, o.command);
        sb_printf(&html, "</code></p>\n");
    }
    sb_printf(&html, "<h2>Model and training</h2>\n<table>\n");
    sb_printf(&html, "<tr><th>method</th><td>%s", svdd_method_name(info.method));
    if (info.method == SVDD_METHOD_HYBRID)
        sb_printf(&html, " (mu1 %g, mu2 %g, score: %s)", m->objective.mu1, m->objective.mu2, svdd_hybrid_score_name(info.hybrid_score));
    if (info.method == SVDD_METHOD_SOFT_BOUNDARY) sb_printf(&html, " (nu %g, R %.4g)", m->objective.nu, info.radius);
    sb_printf(&html, "</td></tr>\n<tr><th>network</th><td>");
    sb_text(&html, info.spec_name);
    sb_printf(&html, " (%zu parameters, latent dimension %d)</td></tr>\n", svdd_net_param_count(m->net, SVDD_PART_ALL), L);
    sb_printf(&html, "<tr><th>training data</th><td>");
    sb_text(&html, info.dataset);
    sb_printf(&html, ", normal class %d: %zu training + %zu calibration images</td></tr>\n", info.normal_class, info.n_train,
              info.n_calibration);
    sb_printf(&html,
              "<tr><th>autoencoder pre-training</th><td>%d epochs, lr %g, batch %d, weight decay %g</td></tr>\n"
              "<tr><th>objective training</th><td>%d epochs, lr %g, batch %d, weight decay %g</td></tr>\n",
              m->fit.ae.epochs, m->fit.ae.lr, m->fit.ae.batch_size, m->fit.ae.weight_decay, m->fit.svdd.epochs, m->fit.svdd.lr,
              m->fit.svdd.batch_size, m->fit.svdd.weight_decay);
    sb_printf(&html, "<tr><th>threshold</th><td>%s at target false-positive rate %.3f: %.6g</td></tr>\n",
              svdd_threshold_name(own), info.target_fpr, info.threshold);
    sb_printf(&html, "<tr><th>seed</th><td>%llu</td></tr>\n</table>\n", (unsigned long long)info.seed);
    sb_printf(&html,
              "<h2>Metrics</h2>\n<table>\n<tr><th>score</th><th>ROC AUC</th><th>average precision</th></tr>\n"
              "<tr><td>model score</td><td class=num>%.4f</td><td class=num>%.4f</td></tr>\n"
              "<tr><td>Mahalanobis score</td><td class=num>%.4f</td><td class=num>%.4f</td></tr>\n</table>\n",
              own_maha ? mm.auc : mt.auc, own_maha ? mm.average_precision : mt.average_precision, own_maha ? mt.auc : mm.auc,
              own_maha ? mt.average_precision : mm.average_precision);
    sb_printf(&html,
              "<table>\n<tr><th colspan=2>at the calibrated threshold (%.6g)</th></tr>\n"
              "<tr><td>precision</td><td class=num>%.4f</td></tr>\n<tr><td>recall (TPR)</td><td class=num>%.4f</td></tr>\n"
              "<tr><td>false-positive rate</td><td class=num>%.4f</td></tr>\n<tr><td><b>F1</b></td><td class=num><b>%.4f</b></td></tr>\n"
              "<tr><td>F1 of flagging every image (reference)</td><td class=num>%.4f</td></tr>\n"
              "<tr><td>best F1 with the test labels (oracle, not achievable)</td><td class=num>%.4f</td></tr>\n"
              "<tr><td>TP / FP / TN / FN</td><td class=num>%zu / %zu / %zu / %zu</td></tr>\n</table>\n",
              info.threshold, mt.precision, mt.recall, mt.fpr, mt.f1, mt.f1_all_anomalous, mt.f1_oracle, mt.tp, mt.fp, mt.tn,
              mt.fn);
    sb_printf(&html,
              "<h2>Curves</h2>\n<div class=\"plots\"><img src=\"roc.png\" alt=\"ROC curves\"> "
              "<img src=\"histogram.png\" alt=\"score histogram\"></div>\n"
              "<h2>Latent space</h2>\n<div class=\"plots\"><img src=\"tsne.png\" alt=\"t-SNE map, normal and anomalous\"> ");
    if (test->n_classes > 2 && test->n_classes <= 100) sb_printf(&html, "<img src=\"tsne_classes.png\" alt=\"t-SNE map by class\">");
    sb_printf(&html, "</div>\n");

    /* galleries: most anomalous, false positives (highest-scoring normals above the threshold),
     * false negatives (lowest-scoring anomalies below it) */
    for (size_t i = 0; i < n; i++) r[i].s = s[i], r[i].i = i;
    qsort(r, n, sizeof *r, by_score_desc);
    int k = 0;
    for (size_t j = 0; j < n && k < o.gallery; j++) pick[k++] = r[j].i;
    char what[200];
    snprintf(what, sizeof what, "The %d highest-scoring test images. Heat maps: %s of the anomaly score.", k,
             svdd_cam_mode_name(o.cam_mode));
    if ((st = gallery(m, test, pick, k, s, y, "top", "Most anomalous", what, &o, dir, &html, err)) != SVDD_OK) goto done;
    k = 0;
    for (size_t j = 0; j < n && k < o.gallery; j++)
        if (!y[r[j].i] && s[r[j].i] > info.threshold) pick[k++] = r[j].i;
    if ((st = gallery(m, test, pick, k, s, y, "fp", "False positives", "Normal images flagged as anomalous, highest score first.",
                      &o, dir, &html, err)) != SVDD_OK)
        goto done;
    qsort(r, n, sizeof *r, by_score_asc);
    k = 0;
    for (size_t j = 0; j < n && k < o.gallery; j++)
        if (y[r[j].i] && s[r[j].i] <= info.threshold) pick[k++] = r[j].i;
    if ((st = gallery(m, test, pick, k, s, y, "fn", "False negatives", "Anomalous images not flagged, lowest score first.", &o,
                      dir, &html, err)) != SVDD_OK)
        goto done;
    /* A check any browser can run: every image must have loaded. */
    sb_printf(&html, "<script>\nwindow.addEventListener('load', function () {\n"
                     "  var imgs = document.images, bad = 0;\n"
                     "  for (var i = 0; i < imgs.length; i++) if (!imgs[i].complete || imgs[i].naturalWidth === 0) bad++;\n"
                     "  document.body.setAttribute('data-images', imgs.length);\n"
                     "  document.body.setAttribute('data-broken-images', bad);\n});\n</script>\n</body>\n</html>\n");
    if (html.failed) {
        st = svdd__fail(err, SVDD_E_NOMEM, "out of memory writing the report");
        goto done;
    }
    join(path, sizeof path, dir, "index.html");
    st = svdd_write_file_atomic(path, html.p, html.len, err);
done:
    free(s), free(s_maha), free(y), free(r), free(pick), free(dist), free(recon), free(lat), free(emb), free(sub), free(grp), free(cls);
    for (int c = 0; c < 2; c++) free(rf[c]), free(rt[c]), free(rh[c]);
    free(html.p);
    return st;
}
