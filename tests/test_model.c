/* Fitting and scoring whole models on the built-in synthetic set: every method learns to rank
 * defective images above normal ones, every threshold kind keeps close to its target false-
 * positive rate on unseen normal images, and the soft-boundary radius behaves as nu says. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/model.h"
#include "testutil.h"

typedef struct fixture {
    svdd_dataset *train, *test;
} fixture;

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    svdd_synthetic_options so = svdd_synthetic_defaults();
    svdd_error err;
    so.seed = 11;
    so.n_normal = 800;
    so.n_anomalous = 0;
    if (svdd_dataset_synthetic(&f->train, &so, &err) != SVDD_OK) return -1;
    so.seed = 12;
    so.n_normal = 600;
    so.n_anomalous = 300;
    if (svdd_dataset_synthetic(&f->test, &so, &err) != SVDD_OK) return -1;
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    svdd_dataset_free(f->train);
    svdd_dataset_free(f->test);
    free(f);
    return 0;
}

static svdd_fit_options short_schedule(svdd_method method) {
    svdd_fit_options o = svdd_fit_defaults();
    o.objective.method = method;
    o.ae.epochs = 8;
    o.ae.lr = 1e-3;
    o.ae.batch_size = 100;
    o.ae.n_milestones = 0;
    o.svdd.epochs = 8;
    o.svdd.lr = 1e-3;
    o.svdd.batch_size = 100;
    o.svdd.n_milestones = 0;
    o.objective.warmup_epochs = 2;
    o.seed = 5;
    o.threads = svdd_test_threads();
    o.dataset = "synthetic";
    o.normal_class = 0;
    return o;
}

/* Fit, score the test set, check the AUC and the false-positive rate of every threshold. */
static void fit_and_check(fixture *f, svdd_method method, double min_auc) {
    svdd_fit_options o = short_schedule(method);
    svdd_model *m = NULL;
    svdd_error err;
    if (svdd_model_fit(&m, f->train, &o, &err) != SVDD_OK) fail_msg("%s", err.message);
    size_t n = svdd_dataset_count(f->test);
    float *s = malloc(n * sizeof(float));
    uint8_t *flag = malloc(n);
    const int32_t *y = svdd_dataset_labels(f->test);
    svdd_threshold_kind kinds[] = {SVDD_THRESHOLD_GAUSSIAN, SVDD_THRESHOLD_QUANTILE, SVDD_THRESHOLD_MAHALANOBIS,
                                   SVDD_THRESHOLD_MAHALANOBIS_QUANTILE, SVDD_THRESHOLD_RADIUS};
    /* the parts of every score, from one encoding of the test set */
    const size_t L = (size_t)svdd_net_latent_dim(m->net);
    float *dist = malloc(n * sizeof(float)), *recon = calloc(n, sizeof(float)), *lat = malloc(n * L * sizeof(float));
    float *s2 = malloc(n * sizeof(float));
    uint8_t *flag2 = malloc(n);
    const int hybrid = method == SVDD_METHOD_HYBRID;
    assert_int_equal(svdd_model_parts(m, f->test, 0, n, dist, hybrid ? recon : NULL, lat, &err), SVDD_OK);
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        svdd_status st = svdd_model_set_threshold(m, kinds[k], 0.05, &err);
        if (kinds[k] == SVDD_THRESHOLD_RADIUS && method != SVDD_METHOD_SOFT_BOUNDARY) {
            assert_int_equal(st, SVDD_E_INVALID);
            continue;
        }
        assert_int_equal(st, SVDD_OK);
        assert_int_equal(svdd_model_score(m, f->test, 0, n, s, flag, &err), SVDD_OK);
        /* the same scores and decisions from the parts */
        assert_int_equal(svdd_model_score_parts(m, n, dist, hybrid ? recon : NULL, lat, s2, flag2, &err), SVDD_OK);
        assert_memory_equal(s, s2, n * sizeof(float));
        assert_memory_equal(flag, flag2, n);
        /* and what they are made of: the one-class score is the distance itself */
        if (method == SVDD_METHOD_ONE_CLASS && kinds[k] == SVDD_THRESHOLD_GAUSSIAN)
            assert_memory_equal(s2, dist, n * sizeof(float));
        svdd_metrics mt;
        assert_int_equal(svdd_metrics_compute(&mt, s, y, n, m->threshold, &err), SVDD_OK);
        printf("  %-13s %-20s AUC %.3f  FPR %.3f  TPR %.3f  F1 %.3f (all-anomalous %.3f, oracle %.3f)\n",
               svdd_method_name(method), svdd_threshold_name(kinds[k]), mt.auc, mt.fpr, mt.tpr, mt.f1, mt.f1_all_anomalous,
               mt.f1_oracle);
        for (size_t i = 0; i < n; i++) assert_int_equal(flag[i], s[i] > m->threshold);
        if (kinds[k] != SVDD_THRESHOLD_MAHALANOBIS && kinds[k] != SVDD_THRESHOLD_MAHALANOBIS_QUANTILE)
            assert_true(mt.auc >= min_auc);
        /* the empirical thresholds hold their rate on unseen normal images, within sampling
         * error of an 80-image calibration set */
        if (kinds[k] == SVDD_THRESHOLD_QUANTILE || kinds[k] == SVDD_THRESHOLD_MAHALANOBIS_QUANTILE)
            assert_true(mt.fpr < 0.15);
    }
    svdd_model_info info;
    svdd_model_get_info(m, &info);
    assert_int_equal(info.n_train + info.n_calibration, svdd_dataset_count(f->train));
    assert_int_equal(info.n_calibration, 80);
    assert_true(info.shrinkage >= 0 && info.shrinkage <= 1);
    if (method == SVDD_METHOD_SOFT_BOUNDARY) {
        assert_true(info.radius > 0);
        /* with nu = 0.1 about a tenth of the normal training images lie outside the sphere */
        assert_int_equal(svdd_model_set_threshold(m, SVDD_THRESHOLD_RADIUS, 0.05, &err), SVDD_OK);
        svdd_dataset *sel = NULL;
        assert_int_equal(svdd_dataset_select_class(&sel, f->test, 0, &err), SVDD_OK);
        size_t nn = svdd_dataset_count(sel), out = 0;
        assert_int_equal(svdd_model_score(m, sel, 0, nn, NULL, flag, &err), SVDD_OK);
        for (size_t i = 0; i < nn; i++) out += flag[i];
        printf("  soft-boundary: R = %.4f, %.3f of normal test images outside\n", info.radius, (double)out / nn);
        assert_true((double)out / nn < 0.4);
        svdd_dataset_free(sel);
    }
    /* the codes alone, on a set of more images than one block of encoding (1000): the same
     * floats as the parts' codes, and as those of a range starting inside the second block */
    if (method == SVDD_METHOD_ONE_CLASS) {
        svdd_synthetic_options so = svdd_synthetic_defaults();
        so.seed = 13;
        so.n_normal = 1100;
        so.n_anomalous = 150;
        svdd_dataset *big = NULL;
        assert_int_equal(svdd_dataset_synthetic(&big, &so, &err), SVDD_OK);
        const size_t nb = svdd_dataset_count(big);
        float *bd = malloc(nb * sizeof(float)), *bl = malloc(nb * L * sizeof(float)), *bl2 = malloc(nb * L * sizeof(float));
        assert_int_equal(svdd_model_parts(m, big, 0, nb, bd, NULL, bl, &err), SVDD_OK);
        memset(bl2, 0xff, nb * L * sizeof(float));
        assert_int_equal(svdd_model_latent(m, big, 0, nb, bl2, &err), SVDD_OK);
        assert_memory_equal(bl2, bl, nb * L * sizeof(float));
        assert_int_equal(svdd_model_latent(m, big, 1003, nb - 1003, bl2, &err), SVDD_OK);
        assert_memory_equal(bl2, bl + 1003 * L, (nb - 1003) * L * sizeof(float));
        free(bd), free(bl), free(bl2);
        svdd_dataset_free(big);
    }
    /* parts the score needs, missing: refused with a message */
    assert_int_equal(svdd_model_set_threshold(m, SVDD_THRESHOLD_MAHALANOBIS, 0.05, &err), SVDD_OK);
    assert_int_equal(svdd_model_score_parts(m, n, dist, hybrid ? recon : NULL, NULL, s2, NULL, &err), SVDD_E_INVALID);
    assert_non_null(strstr(err.message, "Mahalanobis"));
    if (hybrid) {
        assert_int_equal(svdd_model_set_threshold(m, SVDD_THRESHOLD_GAUSSIAN, 0.05, &err), SVDD_OK);
        assert_int_equal(svdd_model_score_parts(m, n, dist, NULL, lat, s2, NULL, &err), SVDD_E_INVALID);
        assert_non_null(strstr(err.message, "reconstruction"));
    }
    free(s), free(flag), free(dist), free(recon), free(lat), free(s2), free(flag2);
    svdd_model_free(m);
}

static void test_one_class(void **state) { fit_and_check(*state, SVDD_METHOD_ONE_CLASS, 0.8); }
static void test_soft_boundary(void **state) { fit_and_check(*state, SVDD_METHOD_SOFT_BOUNDARY, 0.8); }
static void test_hybrid(void **state) { fit_and_check(*state, SVDD_METHOD_HYBRID, 0.8); }

static void test_reproducible(void **state) {
    fixture *f = *state;
    svdd_fit_options o = short_schedule(SVDD_METHOD_ONE_CLASS);
    o.ae.epochs = 2;
    o.svdd.epochs = 2;
    svdd_model *a = NULL, *b = NULL;
    svdd_error err;
    assert_int_equal(svdd_model_fit(&a, f->train, &o, &err), SVDD_OK);
    assert_int_equal(svdd_model_fit(&b, f->train, &o, &err), SVDD_OK);
    assert_memory_equal(a->net->params, b->net->params, a->net->n_params * sizeof(float));
    assert_memory_equal(a->center, b->center, (size_t)svdd_net_latent_dim(a->net) * sizeof(float));
    assert_true(a->threshold == b->threshold);
    svdd_model_free(a), svdd_model_free(b);
}

static void fit_ok(svdd_model **m, const svdd_dataset *d, const svdd_fit_options *o) {
    svdd_error err;
    if (svdd_model_fit(m, d, o, &err) != SVDD_OK) fail_msg("%s", err.message);
}

static void assert_same_model(const svdd_model *a, const svdd_model *b) {
    assert_memory_equal(a->net->params, b->net->params, a->net->n_params * sizeof(float));
    assert_memory_equal(a->center, b->center, (size_t)svdd_net_latent_dim(a->net) * sizeof(float));
    assert_true(a->threshold == b->threshold);
}

/* Counts the pre-training cache's messages (it logs through the pre-training's log). */
typedef struct cache_log {
    int loaded, unusable;
} cache_log;

static void count_cache_log(void *user, svdd_log_level level, const char *message) {
    cache_log *c = user;
    if (strstr(message, "pre-trained network loaded")) c->loaded++;
    if (level == SVDD_LOG_WARN && strstr(message, "unusable pre-trained network")) c->unusable++;
}

/* The pre-training cache saves time and nothing else: a fit that loads the cached network
 * ends exactly where a fit that trains it does; a file from other inputs or a broken one is
 * retrained and replaced. */
static void test_pretrained_cache(void **state) {
    fixture *f = *state;
    char dir[64], path[96];
    assert_true(svdd_test_make_dir(dir, sizeof dir, "cache"));
    snprintf(path, sizeof path, "%s/ae.safetensors", dir);
    svdd_fit_options o = short_schedule(SVDD_METHOD_ONE_CLASS);
    o.ae.epochs = 3;
    o.svdd.epochs = 2;
    o.threads = svdd_test_threads();
    cache_log log = {0, 0};
    o.ae.log = count_cache_log;
    o.ae.log_user = &log;
    svdd_model *plain = NULL, *first = NULL, *cached = NULL;
    fit_ok(&plain, f->train, &o);
    o.pretrained_cache = path;
    fit_ok(&first, f->train, &o);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(log.loaded, 0);
    fit_ok(&cached, f->train, &o);
    assert_int_equal(log.loaded, 1); /* the second fit did not pre-train */
    assert_same_model(plain, first);
    assert_same_model(plain, cached);
    svdd_model_free(cached);
    /* another method shares the pre-training */
    svdd_fit_options h = o;
    h.objective.method = SVDD_METHOD_HYBRID;
    svdd_model *h1 = NULL, *h2 = NULL;
    fit_ok(&h1, f->train, &h);
    assert_int_equal(log.loaded, 2);
    h.pretrained_cache = NULL;
    fit_ok(&h2, f->train, &h);
    assert_same_model(h1, h2);
    svdd_model_free(h1), svdd_model_free(h2);
    /* other inputs (a seed, so another split and initialisation) must not use the file */
    svdd_fit_options o2 = o;
    o2.seed = 6;
    svdd_model *other = NULL, *other_plain = NULL;
    fit_ok(&other, f->train, &o2);
    assert_int_equal(log.loaded, 2);
    o2.pretrained_cache = NULL;
    fit_ok(&other_plain, f->train, &o2);
    assert_same_model(other, other_plain);
    assert_memory_not_equal(other->net->params, plain->net->params, plain->net->n_params * sizeof(float));
    /* a torn file is retrained, not trusted */
    FILE *fp = fopen(path, "r+b");
    assert_non_null(fp);
    assert_int_equal(ftruncate(fileno(fp), 100), 0);
    assert_int_equal(fclose(fp), 0);
    fit_ok(&cached, f->train, &o);
    assert_int_equal(log.loaded, 2);
    assert_same_model(plain, cached);
    svdd_model_free(cached);
    /* ... and replaced: the next fit loads it */
    fit_ok(&cached, f->train, &o);
    assert_int_equal(log.loaded, 3);
    assert_same_model(plain, cached);
    svdd_model_free(cached);
    /* A file with the right key and a NaN in its last tensor: the tensors before it have been
     * read into the network when the NaN is found; they must not stay there, or pre-training would
     * start from them instead of the network's initialisation. */
    fp = fopen(path, "r+b");
    assert_non_null(fp);
    const unsigned char nan_bytes[4] = {0xff, 0xff, 0xff, 0xff};
    assert_int_equal(fseek(fp, -4, SEEK_END), 0);
    assert_int_equal(fwrite(nan_bytes, 1, 4, fp), 4);
    assert_int_equal(fclose(fp), 0);
    fit_ok(&cached, f->train, &o);
    assert_int_equal(log.unusable, 1);
    assert_int_equal(log.loaded, 3);
    assert_same_model(plain, cached);
    svdd_model_free(cached), svdd_model_free(other), svdd_model_free(other_plain);
    svdd_model_free(plain), svdd_model_free(first);
    assert_true(svdd_test_remove_dir(dir));
}

/* A hybrid model switches between its scores: distance, reconstruction, and their sum after
 * standardising each with its normal-training mean and spread. */
static void test_hybrid_scores(void **state) {
    fixture *f = *state;
    svdd_fit_options o = short_schedule(SVDD_METHOD_HYBRID);
    o.ae.epochs = 2;
    o.svdd.epochs = 2;
    svdd_model *m = NULL;
    svdd_error err;
    fit_ok(&m, f->train, &o);
    const size_t n = 50;
    float d[50], r[50], s[50];
    assert_int_equal(svdd_model_set_hybrid_score(m, SVDD_HYBRID_SCORE_DISTANCE, &err), SVDD_OK);
    assert_int_equal(svdd_model_score(m, f->test, 0, n, d, NULL, &err), SVDD_OK);
    assert_int_equal(svdd_model_set_hybrid_score(m, SVDD_HYBRID_SCORE_RECON, &err), SVDD_OK);
    assert_int_equal(svdd_model_score(m, f->test, 0, n, r, NULL, &err), SVDD_OK);
    const double t_recon = m->threshold;
    assert_int_equal(svdd_model_set_hybrid_score(m, SVDD_HYBRID_SCORE_SUM, &err), SVDD_OK);
    assert_int_equal(svdd_model_score(m, f->test, 0, n, s, NULL, &err), SVDD_OK);
    assert_true(m->threshold != t_recon);
    for (size_t i = 0; i < n; i++) {
        double want = (d[i] - m->dist_mean) / m->dist_std + (r[i] - m->recon_mean) / m->recon_std;
        assert_true(fabs(s[i] - want) <= 1e-4 * (1 + fabs(want)));
    }
    svdd_model_free(m);
    svdd_fit_options oc = short_schedule(SVDD_METHOD_ONE_CLASS);
    oc.ae.epochs = 0;
    oc.svdd.epochs = 1;
    fit_ok(&m, f->train, &oc);
    assert_int_equal(svdd_model_set_hybrid_score(m, SVDD_HYBRID_SCORE_SUM, &err), SVDD_E_INVALID);
    svdd_model_free(m);
}

static void test_center_eps(void **state) {
    (void)state;
    /* a network whose outputs are tiny: every centre coordinate is pushed to +-eps */
    svdd_net *net = NULL;
    svdd_error err;
    assert_int_equal(svdd_net_create(&net, "svdd-spec 1\ninput 1 4 4\nencoder\nflatten\nlinear 6\n", "t", 1, &err), SVDD_OK);
    float x[8 * 16], c[6];
    svdd_test_fill_uniform(x, 8 * 16, -0.01f, 0.01f, 1);
    assert_int_equal(svdd_center_init(net, x, 8, 0.1, c, &err), SVDD_OK);
    for (int j = 0; j < 6; j++) assert_true(fabsf(c[j]) == 0.1f);
    svdd_net_free(net);
}

static void test_bad_options(void **state) {
    fixture *f = *state;
    svdd_fit_options o = short_schedule(SVDD_METHOD_SOFT_BOUNDARY);
    svdd_model *m = NULL;
    svdd_error err;
    o.objective.nu = 0;
    assert_int_equal(svdd_model_fit(&m, f->train, &o, &err), SVDD_E_INVALID);
    assert_non_null(strstr(err.message, "nu"));
    o = short_schedule(SVDD_METHOD_ONE_CLASS);
    o.calibration_fraction = 0.95;
    assert_int_equal(svdd_model_fit(&m, f->train, &o, &err), SVDD_E_INVALID);
    o = short_schedule(SVDD_METHOD_ONE_CLASS);
    o.spec = "svdd-spec 1\ninput 3 32 32\nencoder\nflatten\nlinear 4\n";
    o.spec_name = "rgb.spec";
    assert_int_equal(svdd_model_fit(&m, f->train, &o, &err), SVDD_E_INVALID);
    assert_non_null(strstr(err.message, "1x28x28"));
    assert_null(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_center_eps),  cmocka_unit_test(test_one_class), cmocka_unit_test(test_soft_boundary),
        cmocka_unit_test(test_hybrid),      cmocka_unit_test(test_reproducible), cmocka_unit_test(test_pretrained_cache), cmocka_unit_test(test_hybrid_scores), cmocka_unit_test(test_bad_options),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
