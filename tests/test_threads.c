/* Results do not depend on the thread count: a training step of every built-in network, and a
 * whole fit, on 1, 2 and 3 threads agree within 1e-5 of each quantity's scale.
 *
 * One thread and several cannot agree bit for bit: on one thread batch norm sums each channel
 * whole, on several it sums groups of images, and the CIFAR-10 networks' wide convolutions sum
 * per-thread weight gradients, so the order of the additions follows the thread count. What
 * must hold is that the difference stays at float rounding and does not grow into a different
 * model. The MNIST networks give the same floats on two threads as on three. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/network.h"
#include "testutil.h"

#define TOL 1e-5

/* Largest |a - b| over the largest |b|: the difference on the scale of the quantity itself (a
 * per-element relative error would flag entries that are rounding noise around zero). */
static double scaled_diff(const float *a, const float *b, size_t n) {
    double dmax = 0, bmax = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (d > dmax) dmax = d;
        if (fabs((double)b[i]) > bmax) bmax = fabs((double)b[i]);
    }
    return bmax > 0 ? dmax / bmax : dmax;
}

/* One autoencoder step (train-mode forward through encoder and decoder, squared error,
 * backward, gradients) at `threads`; copies out the reconstruction and all gradients. */
static void ae_step(const char *spec, int threads, int B, float *y_out, float *g_out, size_t *n_y, size_t *n_g) {
    svdd_net *net = NULL;
    svdd_error err;
    if (svdd_net_create(&net, svdd_spec_builtin(spec), spec, 5, &err) != SVDD_OK) fail_msg("%s", err.message);
    assert_int_equal(svdd_net_set_threads(net, threads, &err), SVDD_OK);
    assert_int_equal(svdd__net_reserve(net, B, &err), SVDD_OK);
    const size_t D = svdd__stack_in_size(&net->enc);
    float *x = malloc((size_t)B * D * sizeof(float)), *dy = malloc((size_t)B * D * sizeof(float));
    assert_non_null(x);
    assert_non_null(dy);
    svdd_test_fill_uniform(x, (size_t)B * D, 0, 1, 21);
    const float *z = svdd__stack_forward(net, &net->enc, x, B, 1);
    const float *y = svdd__stack_forward(net, &net->dec, z, B, 1);
    svdd__sq_error_loss(dy, NULL, y, x, B, (int)D);
    svdd__net_zero_grad(net, SVDD_PART_ALL);
    float *dz = svdd__stack_backward(net, &net->dec, dy, B, 0, 1, 1);
    svdd__stack_backward(net, &net->enc, dz, B, 0, 0, 1);
    *n_y = (size_t)B * D;
    *n_g = net->n_params;
    if (y_out) memcpy(y_out, y, *n_y * sizeof(float));
    if (g_out) memcpy(g_out, net->grads, *n_g * sizeof(float));
    free(x), free(dy);
    svdd_net_free(net);
}

/* exact: two threads and three give the same floats (the MNIST networks: their threaded layers
 * work on fixed groups of images, whichever thread takes a group). */
static void check_step(const char *spec, int B, int exact) {
    size_t n_y, n_g;
    ae_step(spec, 1, B, NULL, NULL, &n_y, &n_g);
    float *y1 = malloc(n_y * sizeof(float)), *g1 = malloc(n_g * sizeof(float));
    float *yt = malloc(n_y * sizeof(float)), *gt = malloc(n_g * sizeof(float));
    float *y2 = malloc(n_y * sizeof(float)), *g2 = malloc(n_g * sizeof(float));
    assert_true(y1 && g1 && yt && gt && y2 && g2);
    ae_step(spec, 1, B, y1, g1, &n_y, &n_g);
    for (int threads = 2; threads <= 3; threads++) {
        ae_step(spec, threads, B, yt, gt, &n_y, &n_g);
        double dy = scaled_diff(yt, y1, n_y), dg = scaled_diff(gt, g1, n_g);
        printf("  %s, batch %d, %d threads vs 1: reconstruction %.2e, gradients %.2e\n", spec, B, threads, dy, dg);
        assert_true(dy <= TOL);
        assert_true(dg <= TOL);
        if (threads == 2) {
            memcpy(y2, yt, n_y * sizeof(float)), memcpy(g2, gt, n_g * sizeof(float));
        } else if (exact) {
            assert_memory_equal(yt, y2, n_y * sizeof(float));
            assert_memory_equal(gt, g2, n_g * sizeof(float));
        }
    }
    free(y1), free(g1), free(yt), free(gt), free(y2), free(g2);
}

static void test_step_mnist(void **state) {
    (void)state;
    check_step("mnist-lenet", 200, 1);
}

static void test_step_cifar(void **state) {
    (void)state;
    check_step("cifar10-lenet", 64, 0);
}

/* A whole fit: pre-training, centre, training, threshold; then the scores of unseen images. */
static void fit_scores(int threads, const svdd_dataset *train, const svdd_dataset *test, float *scores,
                       double *threshold) {
    svdd_fit_options fo = svdd_fit_defaults();
    fo.ae.epochs = 3;
    fo.svdd.epochs = 3;
    fo.seed = 9;
    fo.threads = threads;
    svdd_model *m = NULL;
    svdd_error err;
    if (svdd_model_fit(&m, train, &fo, &err) != SVDD_OK) fail_msg("%s", err.message);
    assert_int_equal(svdd_model_score(m, test, 0, svdd_dataset_count(test), scores, NULL, &err), SVDD_OK);
    svdd_model_info info;
    svdd_model_get_info(m, &info);
    *threshold = info.threshold;
    svdd_model_free(m);
}

static void test_whole_fit(void **state) {
    (void)state;
    svdd_synthetic_options so = svdd_synthetic_defaults();
    so.seed = 4, so.n_normal = 600;
    svdd_dataset *train = NULL, *test = NULL;
    svdd_error err;
    assert_int_equal(svdd_dataset_synthetic(&train, &so, &err), SVDD_OK);
    so.seed = 5, so.n_normal = 100, so.n_anomalous = 100;
    assert_int_equal(svdd_dataset_synthetic(&test, &so, &err), SVDD_OK);
    const size_t n = svdd_dataset_count(test);
    float *s1 = malloc(n * sizeof(float)), *s2 = malloc(n * sizeof(float));
    assert_true(s1 && s2);
    double t1, t2;
    fit_scores(1, train, test, s1, &t1);
    fit_scores(2, train, test, s2, &t2);
    double ds = scaled_diff(s2, s1, n), dt = fabs(t2 - t1) / fabs(t1);
    printf("  fit of 3 + 3 epochs on 2 threads vs 1: scores %.2e, threshold %.2e\n", ds, dt);
    assert_true(ds <= TOL);
    assert_true(dt <= TOL);
    free(s1), free(s2);
    svdd_dataset_free(train), svdd_dataset_free(test);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_step_mnist),
        cmocka_unit_test(test_step_cifar),
        cmocka_unit_test(test_whole_fit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
