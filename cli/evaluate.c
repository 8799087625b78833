/* Evaluation of a model on a labelled split with the one-class protocol. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void put_metrics(cJSON *o, const svdd_metrics *mt) {
    cJSON_AddStringToObject(o, "positive_class", "anomaly");
    cJSON_AddNumberToObject(o, "auc", mt->auc);
    cJSON_AddNumberToObject(o, "average_precision", mt->average_precision);
    cJSON_AddNumberToObject(o, "threshold", mt->threshold);
    cJSON_AddNumberToObject(o, "precision", mt->precision);
    cJSON_AddNumberToObject(o, "recall", mt->recall);
    cJSON_AddNumberToObject(o, "f1", mt->f1);
    cJSON_AddNumberToObject(o, "fpr", mt->fpr);
    cJSON_AddNumberToObject(o, "tpr", mt->tpr);
    cJSON_AddNumberToObject(o, "f1_all_anomalous", mt->f1_all_anomalous);
    cJSON_AddNumberToObject(o, "f1_oracle", mt->f1_oracle);
    cJSON_AddNumberToObject(o, "threshold_oracle", mt->threshold_oracle);
    cJSON_AddNumberToObject(o, "n_normal", (double)mt->n_normal);
    cJSON_AddNumberToObject(o, "n_anomalous", (double)mt->n_anomalous);
    cJSON_AddNumberToObject(o, "tp", (double)mt->tp);
    cJSON_AddNumberToObject(o, "fp", (double)mt->fp);
    cJSON_AddNumberToObject(o, "tn", (double)mt->tn);
    cJSON_AddNumberToObject(o, "fn", (double)mt->fn);
}

cJSON *cli_evaluate(svdd_model *m, const svdd_dataset *test, int normal_class, int print, int with_roc) {
    svdd_error err;
    svdd_model_info info;
    svdd_model_get_info(m, &info);
    size_t n = svdd_dataset_count(test);
    const size_t n1 = n ? n : 1, L = (size_t)info.latent_dim;
    const int hybrid = info.method == SVDD_METHOD_HYBRID;
    float *s = malloc(n1 * sizeof(float)), *dist = malloc(n1 * sizeof(float));
    float *recon = hybrid ? malloc(n1 * sizeof(float)) : NULL, *lat = malloc(n1 * L * sizeof(float));
    int32_t *y = malloc(n1 * sizeof(int32_t));
    cJSON *root = cJSON_CreateObject(), *by = cJSON_CreateObject();
    if (!s || !dist || (hybrid && !recon) || !lat || !y || !root || !by) {
        fprintf(stderr, "svdd: error: out of memory\n");
        goto fail;
    }
    /* the images encoded once; every threshold kind and hybrid score is computed from that */
    if (svdd_model_parts(m, test, 0, n, dist, recon, lat, &err) != SVDD_OK) {
        cli_report(&err);
        goto fail;
    }
    const int32_t *lab = svdd_dataset_labels(test);
    for (size_t i = 0; i < n; i++) y[i] = lab[i] != normal_class;
    const svdd_threshold_kind own = info.threshold_kind;
    const double fpr = info.target_fpr;
    cJSON_AddStringToObject(root, "dataset", info.dataset);
    cJSON_AddNumberToObject(root, "normal_class", normal_class);
    cJSON_AddStringToObject(root, "method", svdd_method_name(info.method));
    if (info.method == SVDD_METHOD_HYBRID) cJSON_AddStringToObject(root, "hybrid_score", svdd_hybrid_score_name(info.hybrid_score));
    cJSON_AddStringToObject(root, "threshold_kind", svdd_threshold_name(own));
    cJSON_AddNumberToObject(root, "target_fpr", fpr);
    if (print)
        printf("%s, normal class %d, method %s: %zu test images; anomaly = positive class\n", info.dataset, normal_class,
               svdd_method_name(info.method), n);
    /* the model's own threshold last, so the model is left as it came */
    svdd_threshold_kind kinds[5];
    int nk = 0;
    for (int k = 0; k <= SVDD_THRESHOLD_RADIUS; k++)
        if (k != (int)own) kinds[nk++] = (svdd_threshold_kind)k;
    kinds[nk++] = own;
    for (int k = 0; k < nk; k++) {
        if (svdd_model_set_threshold(m, kinds[k], fpr, &err) != SVDD_OK) continue; /* e.g. radius without soft-boundary */
        if (svdd_model_score_parts(m, n, dist, recon, lat, s, NULL, &err) != SVDD_OK) {
            cli_report(&err);
            goto fail;
        }
        svdd_model_info now;
        svdd_model_get_info(m, &now);
        svdd_metrics mt;
        if (svdd_metrics_compute(&mt, s, y, n, now.threshold, &err) != SVDD_OK) {
            cli_report(&err);
            goto fail;
        }
        cJSON *o = kinds[k] == own ? root : cJSON_AddObjectToObject(by, svdd_threshold_name(kinds[k]));
        put_metrics(o, &mt);
        if (print)
            printf("  %-21s AUC %.4f  AP %.4f | threshold %-10.5g FPR %.3f TPR %.3f precision %.3f F1 %.4f "
                   "(flag-all %.4f, oracle %.4f)%s\n",
                   svdd_threshold_name(kinds[k]), mt.auc, mt.average_precision, mt.threshold, mt.fpr, mt.tpr, mt.precision,
                   mt.f1, mt.f1_all_anomalous, mt.f1_oracle, kinds[k] == own ? "  <- model's threshold" : "");
        if (kinds[k] == own && with_roc) {
            double *rf, *rt, *rh;
            size_t np;
            if (svdd_roc_curve(s, y, n, &rf, &rt, &rh, &np, &err) == SVDD_OK) {
                cJSON *roc = cJSON_AddObjectToObject(root, "roc");
                cJSON_AddItemToObject(roc, "fpr", cJSON_CreateDoubleArray(rf, (int)np));
                cJSON_AddItemToObject(roc, "tpr", cJSON_CreateDoubleArray(rt, (int)np));
                free(rf), free(rt), free(rh);
            }
        }
    }
    /* a hybrid model's three scores, each at its own threshold of the model's kind, so that one
     * evaluation measures every choice */
    if (info.method == SVDD_METHOD_HYBRID) {
        cJSON *hs = cJSON_AddObjectToObject(root, "by_hybrid_score");
        int ok = 1;
        for (int k = 0; ok && k <= SVDD_HYBRID_SCORE_RECON; k++) {
            svdd_model_info now = {0};
            svdd_metrics mt;
            ok = svdd_model_set_hybrid_score(m, (svdd_hybrid_score)k, &err) == SVDD_OK &&
                 svdd_model_score_parts(m, n, dist, recon, lat, s, NULL, &err) == SVDD_OK;
            if (ok) svdd_model_get_info(m, &now);
            ok = ok && svdd_metrics_compute(&mt, s, y, n, now.threshold, &err) == SVDD_OK;
            if (!ok) break;
            put_metrics(cJSON_AddObjectToObject(hs, svdd_hybrid_score_name((svdd_hybrid_score)k)), &mt);
            if (print)
                printf("  hybrid score %-14s AUC %.4f  AP %.4f | FPR %.3f TPR %.3f F1 %.4f%s\n",
                       svdd_hybrid_score_name((svdd_hybrid_score)k), mt.auc, mt.average_precision, mt.fpr, mt.tpr, mt.f1,
                       k == (int)info.hybrid_score ? "  <- model's score" : "");
        }
        /* the model leaves as it came */
        svdd_error e2;
        if (svdd_model_set_hybrid_score(m, info.hybrid_score, &e2) != SVDD_OK && ok) ok = 0, err = e2;
        if (!ok) {
            cli_report(&err);
            goto fail;
        }
    }
    if (print)
        printf("  F1 reference values: flag-all = F1 of calling every image anomalous; oracle = best F1 over all\n"
               "  thresholds chosen WITH the test labels (not achievable in practice).\n");
    cJSON_AddItemToObject(root, "by_threshold", by);
    free(s), free(y), free(dist), free(recon), free(lat);
    return root;
fail:
    free(s), free(y), free(dist), free(recon), free(lat);
    cJSON_Delete(root);
    cJSON_Delete(by);
    return NULL;
}
