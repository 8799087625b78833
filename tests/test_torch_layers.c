/* Every layer, the loss, Adam, MultiStepLR and the initialisation bounds against PyTorch 1.13
 * (tests/fixtures/layers.safetensors, written by tests/fixtures/gen_fixtures.py).
 *
 * Agreement is measured as |ours - torch| / max(|torch|, floor) with floor = 1e-2 * rms(torch
 * tensor): relative error for ordinary elements, and for elements that are near zero through
 * cancellation (where float rounding of the large terms dominates) an absolute error of
 * 1e-6 * rms. Every tensor prints its worst difference; any above 1e-4 fails. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"
#include "model/train.h"
#include "nn/layers.h"
#include "testutil.h"

#define TOL 1e-4
#define FLOOR_FRAC 1e-2

/* A whole F32 tensor of the fixture (freed by the caller); its shape through dims/ndim. */
static float *get(const svdd__st *fixture, const char *name, size_t *n, int64_t *dims, int *ndim) {
    const svdd__st_tensor *t = svdd__st_find(fixture, name);
    if (!t) fail_msg("fixture lacks %s (regenerate with gen_fixtures.py)", name);
    float *x = svdd__alloc(t->numel + 1, sizeof(float));
    assert_non_null(x);
    svdd_error err;
    if (svdd__st_read_f32(fixture, name, x, t->numel, 0, NULL, &err) != SVDD_OK) fail_msg("%s", err.message);
    if (n) *n = t->numel;
    if (dims) memcpy(dims, t->shape, sizeof t->shape);
    if (ndim) *ndim = t->ndim;
    return x;
}

static double get_f64(const svdd__st *fixture, const char *name, size_t i) {
    const svdd__st_tensor *t = svdd__st_find(fixture, name);
    if (!t || t->dtype != SVDD__ST_F64 || i >= t->numel) fail_msg("fixture lacks F64 %s[%zu]", name, i);
    double v[16];
    svdd_error err;
    assert_true(t->numel <= 16);
    assert_int_equal(svdd__st_copy(fixture, name, SVDD__ST_F64, v, t->numel, &err), SVDD_OK);
    return v[i];
}

/* Compare and print; returns 1 when within TOL. */
static int compare(const char *what, const float *got, const float *ref, size_t n) {
    double ss = 0;
    for (size_t i = 0; i < n; i++) ss += (double)ref[i] * ref[i];
    double floor = FLOOR_FRAC * sqrt(ss / (double)(n ? n : 1));
    if (floor == 0) floor = 1e-30;
    size_t at;
    double worst = svdd_test_max_rel_diff(got, ref, n, floor, &at);
    int ok = worst <= TOL;
    printf("  %-28s %6zu values  worst rel diff %.2e at %zu (ours %.8g torch %.8g)%s\n", what, n, worst, at,
           n ? (double)got[at] : 0.0, n ? (double)ref[at] : 0.0, ok ? "" : "  <-- FAIL");
    return ok;
}


/* One layer case: x [, w], dout from the fixture; out, dx [, dw] compared. */
typedef enum { CONV, CONVT, LINEAR, LRELU, SIGMOID, MAXPOOL, UPSAMPLE, BN_TRAIN, BN_EVAL } kind;

static int run_case(const svdd__st *fx, const char *prefix, kind k, int pad) {
    char nm[96];
    int64_t xs[SVDD__ST_MAX_DIMS], ws[SVDD__ST_MAX_DIMS];
    int xnd;
    size_t nx, nw = 0, nout, ndx;
    snprintf(nm, sizeof nm, "%s.x", prefix);
    float *x = get(fx, nm, &nx, xs, &xnd);
    float *w = NULL;
    if (k == CONV || k == CONVT || k == LINEAR) {
        snprintf(nm, sizeof nm, "%s.w", prefix);
        w = get(fx, nm, &nw, ws, NULL);
    }
    snprintf(nm, sizeof nm, "%s.dout", prefix);
    float *dout = get(fx, nm, &nout, NULL, NULL);
    snprintf(nm, sizeof nm, "%s.out", prefix);
    float *ref_out = get(fx, nm, NULL, NULL, NULL);
    snprintf(nm, sizeof nm, "%s.dx", prefix);
    float *ref_dx = get(fx, nm, &ndx, NULL, NULL);
    assert_int_equal(ndx, nx);
    float *ref_dw = NULL;
    if (w) {
        snprintf(nm, sizeof nm, "%s.dw", prefix);
        ref_dw = get(fx, nm, NULL, NULL, NULL);
    }
    float *out = svdd__calloc(nout + 1, sizeof(float)), *dx = svdd__calloc(nx + 1, sizeof(float));
    float *dw = svdd__calloc(nw + 1, sizeof(float));
    const int B = (int)xs[0], C = (int)xs[1], H = xnd == 4 ? (int)xs[2] : 1, W = xnd == 4 ? (int)xs[3] : 1;
    svdd__workspace wsp = {NULL, 0, 1};
    int ok = 1;
    switch (k) {
    case CONV: {
        const int Co = (int)ws[0], K = (int)ws[2];
        wsp.size = svdd__conv2d_workspace(B, C, H, W, Co, K, pad, 1);
        wsp.data = svdd__alloc(wsp.size + 1, sizeof(float));
        assert_int_equal(nout, (size_t)B * Co * (H + 2 * pad - K + 1) * (W + 2 * pad - K + 1));
        svdd__conv2d_forward(out, x, w, B, C, H, W, Co, K, pad, &wsp);
        svdd__conv2d_backward(dx, dw, dout, x, w, B, C, H, W, Co, K, pad, &wsp);
        break;
    }
    case CONVT: {
        const int Co = (int)ws[1], K = (int)ws[2];
        wsp.size = svdd__conv_transpose2d_workspace(B, C, H, W, Co, K, pad, 1);
        wsp.data = svdd__alloc(wsp.size + 1, sizeof(float));
        assert_int_equal(nout, (size_t)B * Co * (H - 1 - 2 * pad + K) * (W - 1 - 2 * pad + K));
        svdd__conv_transpose2d_forward(out, x, w, B, C, H, W, Co, K, pad, &wsp);
        svdd__conv_transpose2d_backward(dx, dw, dout, x, w, B, C, H, W, Co, K, pad, &wsp);
        break;
    }
    case LINEAR: {
        const int O = (int)ws[0];
        svdd__linear_forward(out, x, w, B, C, O, 1);
        svdd__linear_backward(dx, dw, dout, x, w, B, C, O, 1);
        break;
    }
    case LRELU:
        svdd__leaky_relu_forward(out, x, nx, 0.01f);
        svdd__leaky_relu_backward(dx, dout, x, nx, 0.01f);
        break;
    case SIGMOID:
        svdd__sigmoid_forward(out, x, nx);
        svdd__sigmoid_backward(dx, dout, out, nx);
        break;
    case MAXPOOL:
        svdd__maxpool2d_forward(out, x, B, C, H, W);
        svdd__maxpool2d_backward(dx, dout, x, B, C, H, W);
        break;
    case UPSAMPLE:
        svdd__upsample2d_forward(out, x, B, C, H, W);
        svdd__upsample2d_backward(dx, dout, B, C, H, W);
        break;
    case BN_TRAIN:
    case BN_EVAL: {
        snprintf(nm, sizeof nm, "%s.running_mean0", prefix);
        float *rm = get(fx, nm, NULL, NULL, NULL);
        snprintf(nm, sizeof nm, "%s.running_var0", prefix);
        float *rv = get(fx, nm, NULL, NULL, NULL);
        if (k == BN_TRAIN) {
            float *mean = svdd__alloc((size_t)C, sizeof(float)), *rstd = svdd__alloc((size_t)C, sizeof(float));
            svdd__batchnorm_forward_train(out, mean, rstd, rm, rv, x, B, C, H * W, 1e-4f, 0.1f, 1);
            svdd__batchnorm_backward_train(dx, dout, out, rstd, B, C, H * W, 1);
            snprintf(nm, sizeof nm, "%s.running_mean", prefix);
            float *ref_rm = get(fx, nm, NULL, NULL, NULL);
            snprintf(nm, sizeof nm, "%s.running_var", prefix);
            float *ref_rv = get(fx, nm, NULL, NULL, NULL);
            snprintf(nm, sizeof nm, "%s running_mean", prefix);
            ok &= compare(nm, rm, ref_rm, (size_t)C);
            snprintf(nm, sizeof nm, "%s running_var", prefix);
            ok &= compare(nm, rv, ref_rv, (size_t)C);
            free(mean), free(rstd), free(ref_rm), free(ref_rv);
        } else {
            svdd__batchnorm_forward_eval(out, x, rm, rv, B, C, H * W, 1e-4f);
            svdd__batchnorm_backward_eval(dx, dout, rv, B, C, H * W, 1e-4f);
        }
        free(rm), free(rv);
        break;
    }
    }
    snprintf(nm, sizeof nm, "%s out", prefix);
    ok &= compare(nm, out, ref_out, nout);
    snprintf(nm, sizeof nm, "%s d/dinput", prefix);
    ok &= compare(nm, dx, ref_dx, nx);
    if (w) {
        snprintf(nm, sizeof nm, "%s d/dweight", prefix);
        ok &= compare(nm, dw, ref_dw, nw);
    }
    free(x), free(w), free(dout), free(ref_out), free(ref_dx), free(ref_dw), free(out), free(dx), free(dw);
    free(wsp.data);
    return ok;
}

static void test_layers(void **state) {
    const svdd__st *fx = *state;
    int ok = 1;
    ok &= run_case(fx, "conv_k5p2", CONV, 2);
    ok &= run_case(fx, "conv_k3p0", CONV, 0);
    ok &= run_case(fx, "convt_k5p2", CONVT, 2);
    ok &= run_case(fx, "convt_k5p3", CONVT, 3);
    ok &= run_case(fx, "linear", LINEAR, 0);
    ok &= run_case(fx, "lrelu", LRELU, 0);
    ok &= run_case(fx, "sigmoid", SIGMOID, 0);
    ok &= run_case(fx, "maxpool", MAXPOOL, 0);
    ok &= run_case(fx, "upsample", UPSAMPLE, 0);
    ok &= run_case(fx, "bn2d_train", BN_TRAIN, 0);
    ok &= run_case(fx, "bn1d_train", BN_TRAIN, 0);
    ok &= run_case(fx, "bn2d_eval", BN_EVAL, 0);
    if (!ok) fail_msg("a layer differs from PyTorch by more than %.0e", TOL);
}

static void test_sq_error_loss(void **state) {
    const svdd__st *fx = *state;
    int64_t s[SVDD__ST_MAX_DIMS];
    size_t n;
    float *pred = get(fx, "sqloss.pred", &n, s, NULL), *target = get(fx, "sqloss.target", NULL, NULL, NULL);
    float *ref = get(fx, "sqloss.dpred", NULL, NULL, NULL), *d = svdd__alloc(n, sizeof(float));
    const int B = (int)s[0], D = (int)(n / (size_t)B);
    double loss = svdd__sq_error_loss(d, NULL, pred, target, B, D), ref_loss = get_f64(fx, "sqloss.loss", 0);
    double rel = fabs(loss - ref_loss) / fabs(ref_loss);
    printf("  %-28s ours %.9g torch %.9g rel diff %.2e\n", "sq_error_loss", loss, ref_loss, rel);
    int ok = compare("sq_error_loss d/dpred", d, ref, n);
    assert_true(rel < TOL);
    assert_true(ok);
    free(pred), free(target), free(ref), free(d);
}

static void test_adam(void **state) {
    const svdd__st *fx = *state;
    int64_t gs[SVDD__ST_MAX_DIMS];
    size_t n, ng;
    float *p0 = get(fx, "adam.p0", &n, NULL, NULL), *grads = get(fx, "adam.grads", &ng, gs, NULL);
    const int steps = (int)gs[0];
    assert_int_equal(ng, (size_t)steps * n);
    int ok = 1;
    for (int ams = 0; ams < 2; ams++) {
        float *ref = get(fx, ams ? "adam.amsgrad.params" : "adam.plain.params", NULL, NULL, NULL);
        float *p = svdd__alloc(n, sizeof(float)), *m = svdd__calloc(n, sizeof(float));
        float *v = svdd__calloc(n, sizeof(float)), *vmax = svdd__calloc(n, sizeof(float));
        memcpy(p, p0, n * sizeof(float));
        for (int k = 0; k < steps; k++) {
            svdd__adam_update(p, grads + (size_t)k * n, m, v, vmax, n, 0.01f, 0.9f, 0.999f, 1e-8f, 0.1f, ams, k + 1);
            char what[64];
            snprintf(what, sizeof what, "adam%s step %d", ams ? " amsgrad" : "", k + 1);
            ok &= compare(what, p, ref + (size_t)k * n, n);
        }
        free(ref), free(p), free(m), free(v), free(vmax);
    }
    free(p0), free(grads);
    assert_true(ok);
}

static void test_multistep_lr(void **state) {
    const svdd__st *fx = *state;
    int32_t ms[2];
    double vals[64];
    svdd_error err;
    const svdd__st_tensor *t = svdd__st_find(fx, "lr.values");
    assert_non_null(t);
    assert_true(t->numel <= 64);
    assert_int_equal(svdd__st_copy(fx, "lr.milestones", SVDD__ST_I32, ms, 2, &err), SVDD_OK);
    assert_int_equal(svdd__st_copy(fx, "lr.values", SVDD__ST_F64, vals, t->numel, &err), SVDD_OK);
    svdd_train_options o = svdd_train_defaults();
    o.lr = get_f64(fx, "lr.base", 0);
    o.gamma = get_f64(fx, "lr.gamma", 0);
    o.milestones[0] = ms[0], o.milestones[1] = ms[1];
    o.n_milestones = 2;
    for (int e = 0; e < (int)t->numel; e++) {
        double lr = svdd__lr_at_epoch(&o, e);
        printf("  epoch %2d: lr ours %.6g torch %.6g\n", e, lr, vals[e]);
        assert_true(fabs(lr - vals[e]) <= 1e-12 * vals[e]);
    }
}

/* The built-in networks' initial weights must fill the same range as torch's: over enough
 * values (fresh networks from several seeds) the largest |w| approaches the bound and the mean
 * |w| half of it, for PyTorch's default init and for Xavier with the leaky-ReLU gain alike. */
static void test_init_bounds(void **state) {
    const svdd__st *fx = *state;
    const char *nets[] = {"mnist-lenet", "cifar10-lenet"};
    int ok = 1;
    for (int k = 0; k < 2; k++) {
        svdd_net *net;
        svdd_error err;
        assert_int_equal(svdd_net_create(&net, svdd_spec_builtin(nets[k]), nets[k], 1, &err), SVDD_OK);
        const int nt = svdd__net_tensor_count(net);
        double mx[32] = {0}, sum[32] = {0};
        size_t cnt[32] = {0};
        assert_true(nt <= 32);
        size_t smallest = SIZE_MAX;
        for (int i = 0; i < nt; i++) {
            svdd__tensor_info ti;
            svdd__net_tensor(net, i, &ti);
            if (ti.is_param && ti.len < smallest) smallest = ti.len;
        }
        const int reps = (int)((20000 + smallest - 1) / smallest);
        for (int r = 0; r < reps; r++) {
            if (r) {
                svdd_net_free(net);
                assert_int_equal(svdd_net_create(&net, svdd_spec_builtin(nets[k]), nets[k], 1000 + (uint64_t)r, &err),
                                 SVDD_OK);
            }
            for (int i = 0; i < nt; i++) {
                svdd__tensor_info ti;
                svdd__net_tensor(net, i, &ti);
                if (!ti.is_param) continue;
                for (size_t j = 0; j < ti.len; j++) {
                    double a = fabs((double)ti.data[j]);
                    if (a > mx[i]) mx[i] = a;
                    sum[i] += a;
                }
                cnt[i] += ti.len;
            }
        }
        for (int i = 0; i < nt; i++) {
            svdd__tensor_info ti;
            svdd__net_tensor(net, i, &ti);
            if (!ti.is_param) continue;
            char nm[128];
            snprintf(nm, sizeof nm, "init.%s.%s", nets[k], ti.name);
            double tmax = get_f64(fx, nm, 0), tmean = get_f64(fx, nm, 1), mean = sum[i] / (double)cnt[i];
            double dmax = mx[i] / tmax - 1, dmean = mean / tmean - 1;
            int good = fabs(dmax) < 0.02 && fabs(dmean) < 0.03;
            printf("  %-14s %-24s max|w| ours %.5f torch %.5f (%+.2f%%)  mean|w| %+.2f%%%s\n", nets[k], ti.name, mx[i],
                   tmax, 100 * dmax, 100 * dmean, good ? "" : "  <-- FAIL");
            ok &= good;
        }
        svdd_net_free(net);
    }
    assert_true(ok);
}

static int load_fixture(void **state) {
    svdd__st *fx = NULL;
    svdd_error err;
    if (svdd__st_load(&fx, SVDD_SOURCE_DIR "/tests/fixtures/layers.safetensors", &err) != SVDD_OK) {
        printf("%s (regenerate with tests/fixtures/gen_fixtures.py)\n", err.message);
        return -1;
    }
    *state = fx;
    return 0;
}

static int free_fixture(void **state) {
    svdd__st_free(*state);
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layers),       cmocka_unit_test(test_sq_error_loss),
        cmocka_unit_test(test_adam),         cmocka_unit_test(test_multistep_lr),
        cmocka_unit_test(test_init_bounds),
    };
    return cmocka_run_group_tests(tests, load_fixture, free_fixture);
}
