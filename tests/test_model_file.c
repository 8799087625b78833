/* Model files: the round trip, interoperability with Python's standard library, and refusal of
 * every kind of damaged or foreign file. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/safetensors.h"
#include "model/model.h"
#include "testutil.h"

typedef struct fixture {
    svdd_dataset *train, *test;
    svdd_model *model;
    char dir[64], path[128];
} fixture;

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    svdd_synthetic_options so = svdd_synthetic_defaults();
    svdd_error err;
    so.seed = 21;
    so.n_normal = 300;
    if (svdd_dataset_synthetic(&f->train, &so, &err) != SVDD_OK) return -1;
    so.seed = 22;
    so.n_normal = 50;
    so.n_anomalous = 50;
    if (svdd_dataset_synthetic(&f->test, &so, &err) != SVDD_OK) return -1;
    svdd_fit_options o = svdd_fit_defaults();
    o.objective.method = SVDD_METHOD_HYBRID;
    o.ae.epochs = 2;
    o.svdd.epochs = 2;
    o.ae.batch_size = o.svdd.batch_size = 50;
    o.dataset = "synthetic";
    o.normal_class = 0;
    o.seed = 9;
    if (svdd_model_fit(&f->model, f->train, &o, &err) != SVDD_OK) {
        fprintf(stderr, "%s\n", err.message);
        return -1;
    }
    snprintf(f->dir, sizeof f->dir, "/tmp/svdd-model-XXXXXX");
    if (!mkdtemp(f->dir)) return -1;
    snprintf(f->path, sizeof f->path, "%s/m.safetensors", f->dir);
    if (svdd_model_save(f->model, f->path, &err) != SVDD_OK) {
        fprintf(stderr, "%s\n", err.message);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    if (system(cmd) != 0) return -1;
    svdd_model_free(f->model);
    svdd_dataset_free(f->train);
    svdd_dataset_free(f->test);
    free(f);
    return 0;
}

static void test_round_trip(void **state) {
    fixture *f = *state;
    svdd_model *m = NULL;
    svdd_error err;
    if (svdd_model_load(&m, f->path, &err) != SVDD_OK) fail_msg("%s", err.message);
    size_t n = svdd_dataset_count(f->test);
    float *a = malloc(n * sizeof(float)), *b = malloc(n * sizeof(float));
    uint8_t *fa = malloc(n), *fb = malloc(n);
    svdd_threshold_kind kinds[] = {SVDD_THRESHOLD_GAUSSIAN, SVDD_THRESHOLD_QUANTILE, SVDD_THRESHOLD_MAHALANOBIS};
    for (int k = 0; k < 3; k++) {
        assert_int_equal(svdd_model_set_threshold(f->model, kinds[k], 0.1, &err), SVDD_OK);
        assert_int_equal(svdd_model_set_threshold(m, kinds[k], 0.1, &err), SVDD_OK);
        assert_int_equal(svdd_model_score(f->model, f->test, 0, n, a, fa, &err), SVDD_OK);
        assert_int_equal(svdd_model_score(m, f->test, 0, n, b, fb, &err), SVDD_OK);
        assert_memory_equal(a, b, n * sizeof(float));
        assert_memory_equal(fa, fb, n);
        assert_true(f->model->threshold == m->threshold);
    }
    svdd_model_info i1, i2;
    svdd_model_get_info(f->model, &i1);
    svdd_model_get_info(m, &i2);
    assert_int_equal(i1.method, i2.method);
    assert_string_equal(i2.dataset, "synthetic");
    assert_int_equal(i2.normal_class, 0);
    assert_true(i2.seed == 9);
    assert_true(m->fit.ae.epochs == 2 && m->fit.svdd.batch_size == 50 && m->fit.svdd.n_milestones == 1 &&
                m->fit.svdd.milestones[0] == 50);
    /* the statistics of the excess maps (a hybrid: four scores) come back bit for bit */
    assert_int_equal(m->n_excess, 4);
    assert_memory_equal(m->input_mean, f->model->input_mean, 784 * sizeof(float));
    assert_memory_equal(m->excess_thr, f->model->excess_thr, 4 * 784 * sizeof(float));
    free(a), free(b), free(fa), free(fb);
    svdd_model_free(m);
}

static void test_python_reads_it(void **state) {
    fixture *f = *state;
    char json[160];
    snprintf(json, sizeof json, "%s/expected.json", f->dir);
    FILE *out = fopen(json, "w");
    assert_non_null(out);
    fprintf(out, "{\"metadata\": {\"format\": \"svdd-model\", \"format_version\": \"1\", \"method\": \"hybrid\", "
                 "\"spec_name\": \"mnist-lenet\", \"dataset\": \"synthetic\", \"normal_class\": \"0\"},\n \"tensors\": {");
    svdd_net *net = f->model->net;
    for (int i = 0; i < svdd__net_tensor_count(net); i++) {
        svdd__tensor_info t;
        svdd__net_tensor(net, i, &t);
        double sum = 0;
        for (size_t k = 0; k < t.len; k++) sum += t.data[k];
        fprintf(out, "%s\"%s\": {\"shape\": [", i ? ", " : "", t.name);
        for (int d = 0; d < t.ndim; d++) fprintf(out, "%s%d", d ? ", " : "", t.shape[d]);
        fprintf(out, "], \"first\": [%.9g, %.9g], \"sum\": %.17g}", t.data[0], t.data[t.len > 1 ? 1 : 0], sum);
    }
    int L = svdd_net_latent_dim(net);
    double cs = 0;
    for (int j = 0; j < L; j++) cs += f->model->center[j];
    fprintf(out, ", \"svdd.center\": {\"shape\": [%d], \"first\": [%.9g], \"sum\": %.17g}", L, f->model->center[0], cs);
    double ms = 0, ls = 0;
    for (int j = 0; j < L; j++) ms += f->model->gauss.mean[j];
    for (int j = 0; j < L * L; j++) ls += f->model->gauss.chol[j];
    fprintf(out, ", \"svdd.gaussian.mean\": {\"shape\": [%d], \"first\": [%.17g], \"sum\": %.17g}", L, f->model->gauss.mean[0], ms);
    fprintf(out, ", \"svdd.gaussian.cholesky\": {\"shape\": [%d, %d], \"first\": [%.17g], \"sum\": %.17g}", L, L,
            f->model->gauss.chol[0], ls);
    const char *cal[3] = {"distance", "mahalanobis", "reconstruction"};
    float *cv[3] = {f->model->cal_dist, f->model->cal_maha, f->model->cal_recon};
    for (int k = 0; k < 3; k++) {
        double s = 0;
        for (size_t j = 0; j < f->model->n_cal; j++) s += cv[k][j];
        fprintf(out, ", \"svdd.calibration.%s\": {\"shape\": [%zu], \"first\": [%.9g], \"sum\": %.17g}", cal[k], f->model->n_cal,
                cv[k][0], s);
    }
    for (int i = 0; i < net->enc.n; i++) {
        if (!f->model->mean_act[i]) continue;
        const svdd__layer *ly = &net->enc.layers[i];
        size_t sz = (size_t)ly->out_c * ly->out_h * ly->out_w;
        double s = 0;
        for (size_t q = 0; q < sz; q++) s += f->model->mean_act[i][q];
        fprintf(out, ", \"svdd.mean_activation.encoder.%s\": {\"shape\": [%d, %d, %d], \"first\": [%.9g], \"sum\": %.17g}", ly->name,
                ly->out_c, ly->out_h, ly->out_w, f->model->mean_act[i][0], s);
    }
    const char *ex[2] = {"input_mean", "excess_threshold"};
    const float *ev[2] = {f->model->input_mean, f->model->excess_thr};
    for (int k = 0; k < 2; k++) {
        size_t len = (size_t)(k ? f->model->n_excess : 1) * 784;
        double s = 0;
        for (size_t q = 0; q < len; q++) s += ev[k][q];
        fprintf(out, ", \"svdd.explain.%s\": {\"shape\": [%d, 28, 28], \"first\": [%.9g], \"sum\": %.17g}", ex[k],
                k ? f->model->n_excess : 1, ev[k][0], s);
    }
    fprintf(out, "}}\n");
    assert_int_equal(fclose(out), 0); /* python3 reads the whole file next */
    char cmd[512];
    snprintf(cmd, sizeof cmd, "python3 '%s/tests/read_model.py' '%s' '%s'", SVDD_SOURCE_DIR, f->path, json);
    int rc = system(cmd);
    assert_int_equal(rc, 0);
}

/* A file without the excess-map statistics (as versions before them wrote it) loads and scores
 * as before; only the excess maps refuse it, with a hint, and the deviation maps still work. */
static void test_loads_file_without_explanations(void **state) {
    fixture *f = *state;
    svdd_error err;
    char path[160];
    snprintf(path, sizeof path, "%s/old.safetensors", f->dir);
    float *keep = f->model->input_mean;
    f->model->input_mean = NULL; /* svdd_model_save then leaves both tensors out */
    svdd_status saved = svdd_model_save(f->model, path, &err);
    f->model->input_mean = keep;
    assert_int_equal(saved, SVDD_OK);
    svdd_model *m = NULL;
    if (svdd_model_load(&m, path, &err) != SVDD_OK) fail_msg("%s", err.message);
    assert_null(m->input_mean);
    assert_null(m->excess_thr);
    assert_int_equal(m->n_excess, 0);
    size_t n = svdd_dataset_count(f->test);
    float *a = malloc(n * sizeof(float)), *b = malloc(n * sizeof(float)), *heat = malloc(28 * 28 * sizeof(float));
    assert_int_equal(svdd_model_score(f->model, f->test, 0, n, a, NULL, &err), SVDD_OK);
    assert_int_equal(svdd_model_score(m, f->test, 0, n, b, NULL, &err), SVDD_OK);
    assert_memory_equal(a, b, n * sizeof(float));
    assert_int_equal(svdd_gradcam(m, f->test, 0, 1, SVDD_CAM_EXCESS, -1, heat, NULL, &err), SVDD_E_INVALID);
    assert_non_null(strstr(err.message, "older version"));
    assert_int_equal(svdd_gradcam(m, f->test, 0, 1, SVDD_CAM_DEVIATION, -1, heat, NULL, &err), SVDD_OK);
    free(a), free(b), free(heat);
    svdd_model_free(m);
}

/* ---- damaged and foreign files ---- */

static unsigned char *slurp(const char *path, size_t *len) {
    unsigned char *d;
    svdd_error err;
    assert_int_equal(svdd__read_file(path, (size_t)1 << 30, &d, len, &err), SVDD_OK);
    return d;
}

/* Copy the model file with one metadata entry replaced (value NULL: dropped) or one tensor's
 * data replaced by `tensor_data` (NULL: dropped), and try to parse it. */
static svdd_status parse_modified(fixture *f, const char *meta_key, const char *meta_value, const char *tensor,
                                  const float *tensor_data, int drop_tensor, svdd_error *err) {
    size_t len;
    unsigned char *d = slurp(f->path, &len);
    svdd__st *st = NULL;
    assert_int_equal(svdd__st_parse(&st, d, len, "m", err), SVDD_OK);
    free(d);
    svdd__st_writer *w;
    assert_int_equal(svdd__st_writer_create(&w, err), SVDD_OK);
    float *copies[256];
    int nc = 0;
    for (int i = 0; i < svdd__st_count(st); i++) {
        const svdd__st_tensor *t = svdd__st_at(st, i);
        int is = tensor && strcmp(t->name, tensor) == 0;
        if (is && drop_tensor) continue;
        int64_t shape[8];
        for (int k = 0; k < t->ndim; k++) shape[k] = t->shape[k];
        void *copy = malloc(t->nbytes + 1);
        memcpy(copy, t->data, t->nbytes);
        if (is && tensor_data) memcpy(copy, tensor_data, sizeof(float));
        copies[nc++] = copy;
        assert_int_equal(svdd__st_writer_add(w, t->name, t->dtype, t->ndim, shape, copy, err), SVDD_OK);
    }
    for (int i = 0; i < svdd__st_meta_count(st); i++) {
        const char *k, *v;
        svdd__st_meta_at(st, i, &k, &v);
        if (meta_key && strcmp(k, meta_key) == 0) {
            if (!meta_value) continue;
            v = meta_value;
        }
        assert_int_equal(svdd__st_writer_meta(w, k, v, err), SVDD_OK);
    }
    unsigned char *out;
    size_t olen;
    assert_int_equal(svdd__st_write_memory(w, &out, &olen, err), SVDD_OK);
    svdd__st_writer_free(w);
    svdd__st_free(st);
    for (int i = 0; i < nc; i++) free(copies[i]);
    svdd_model *m = NULL;
    svdd_status s = svdd_model_parse(&m, out, olen, "edited.safetensors", err);
    free(out);
    svdd_model_free(m);
    if (s != SVDD_OK) printf("  refused: %s\n", err->message);
    return s;
}

static void expect(svdd_status got, svdd_status want, const svdd_error *err, const char *needle) {
    assert_int_equal(got, want);
    if (!strstr(err->message, needle)) fail_msg("message '%s' lacks '%s'", err->message, needle);
    if (!strstr(err->message, "edited.safetensors") && !strstr(err->message, "m.safetensors") &&
        !strstr(err->message, "truncated.safetensors"))
        fail_msg("message '%s' does not name the file", err->message);
}

static void test_refuses_bad_files(void **state) {
    fixture *f = *state;
    svdd_error err;
    /* the unmodified copy parses */
    assert_int_equal(parse_modified(f, NULL, NULL, NULL, NULL, 0, &err), SVDD_OK);
    expect(parse_modified(f, "format", "pytorch", NULL, NULL, 0, &err), SVDD_E_FORMAT, &err, "not an svdd model");
    expect(parse_modified(f, "format_version", "2", NULL, NULL, 0, &err), SVDD_E_UNSUPPORTED, &err, "version 2");
    expect(parse_modified(f, "preprocess.min", "abc", NULL, NULL, 0, &err), SVDD_E_FORMAT, &err, "preprocess.min");
    expect(parse_modified(f, "radius", "nan", NULL, NULL, 0, &err), SVDD_E_FORMAT, &err, "radius");
    expect(parse_modified(f, "method", NULL, NULL, NULL, 0, &err), SVDD_E_FORMAT, &err, "lacks 'method'");
    expect(parse_modified(f, "threshold.kind", "magic", NULL, NULL, 0, &err), SVDD_E_FORMAT, &err, "threshold kind");
    /* a model for another architecture: the CIFAR-10 spec with MNIST tensors */
    expect(parse_modified(f, "spec", svdd_spec_builtin("cifar10-lenet"), NULL, NULL, 0, &err), SVDD_E_FORMAT, &err,
           "encoder.conv1.weight");
    expect(parse_modified(f, "spec", "svdd-spec 1\ninput 1 28 28\nencoder\nwarp\n", NULL, NULL, 0, &err), SVDD_E_FORMAT, &err,
           "unknown layer");
    float nan = NAN;
    expect(parse_modified(f, NULL, NULL, "encoder.conv1.weight", &nan, 0, &err), SVDD_E_NUMERIC, &err, "encoder.conv1.weight");
    expect(parse_modified(f, NULL, NULL, "svdd.center", &nan, 0, &err), SVDD_E_NUMERIC, &err, "svdd.center");
    expect(parse_modified(f, NULL, NULL, "decoder.deconv2.weight", NULL, 1, &err), SVDD_E_FORMAT, &err, "missing");
    /* the excess-map statistics are optional (older files), but never one without the other */
    expect(parse_modified(f, NULL, NULL, "svdd.explain.excess_threshold", NULL, 1, &err), SVDD_E_FORMAT, &err, "missing");
    expect(parse_modified(f, NULL, NULL, "svdd.explain.input_mean", &nan, 0, &err), SVDD_E_NUMERIC, &err, "svdd.explain.input_mean");
    float neg = -1.0f;
    expect(parse_modified(f, NULL, NULL, "encoder.bn1.running_var", &neg, 0, &err), SVDD_E_FORMAT, &err, "negative variance");
    /* truncated at every 97th byte: never a crash, always a clear refusal */
    size_t len;
    unsigned char *d = slurp(f->path, &len);
    for (size_t cut = 0; cut < len; cut += 97) {
        svdd_model *m = NULL;
        svdd_status s = svdd_model_parse(&m, d, cut, "truncated.safetensors", &err);
        assert_int_not_equal(s, SVDD_OK);
        assert_null(m);
        assert_non_null(strstr(err.message, "truncated.safetensors"));
    }
    free(d);
    /* missing file, and a folder that cannot be written */
    svdd_model *m = NULL;
    assert_int_equal(svdd_model_load(&m, "/nonexistent/model.safetensors", &err), SVDD_E_IO);
    assert_non_null(strstr(err.message, "/nonexistent/model.safetensors"));
    assert_int_equal(svdd_model_save(f->model, "/nonexistent/dir/model.safetensors", &err), SVDD_E_IO);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_python_reads_it),
        cmocka_unit_test(test_loads_file_without_explanations),
        cmocka_unit_test(test_refuses_bad_files),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
