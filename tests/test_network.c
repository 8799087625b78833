/* Networks from specs: the built-in architectures' shapes and sizes, spec validation, the
 * shared encoder, a finite-difference check through a whole autoencoder, and the network's
 * shared activation and gradient buffers against plain per-layer ones. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/network.h"
#include "testutil.h"


static svdd_net *make(const char *name) {
    svdd_net *net = NULL;
    svdd_error err;
    svdd_status st = svdd_net_create(&net, svdd_spec_builtin(name), name, 7, &err);
    if (st != SVDD_OK) fail_msg("%s", err.message);
    assert_int_equal(svdd_net_set_threads(net, svdd_test_threads(), &err), SVDD_OK);
    return net;
}

/* Adam and the zeroing of the gradients share the parameters among the threads on the CIFAR-10
 * autoencoder (a million parameters): each part, and the whole, the same floats on 2 and 3 threads
 * as on one, over steps with and without amsgrad; the other part's gradients left alone. */
static void test_params_on_threads(void **state) {
    (void)state;
    svdd_net *net[3];
    svdd_error err;
    for (int T = 1; T <= 3; T++) {
        net[T - 1] = make("cifar10-lenet");
        assert_int_equal(svdd_net_set_threads(net[T - 1], T, &err), SVDD_OK);
    }
    const size_t n = net[0]->n_params, ne = net[0]->n_enc_params;
    assert_true(ne >= 65536 && n - ne >= 65536);
    float *before = malloc(n * sizeof(float));
    memcpy(before, net[0]->params, n * sizeof(float));
    const svdd_part parts[4] = {SVDD_PART_ALL, SVDD_PART_ENCODER, SVDD_PART_DECODER, SVDD_PART_ALL};
    for (int step = 0; step < 4; step++) {
        for (int T = 0; T < 3; T++) {
            svdd_test_fill_uniform(net[T]->grads, n, -1, 1, 90 + (uint64_t)step);
            svdd__net_adam_step(net[T], parts[step], 1e-3f, step == 1 ? 1e-6f : 0.0f, step >= 2);
            svdd__net_zero_grad(net[T], parts[step]);
        }
        for (int T = 1; T < 3; T++) {
            assert_memory_equal(net[0]->params, net[T]->params, n * sizeof(float));
            assert_memory_equal(net[0]->adam_m, net[T]->adam_m, 3 * n * sizeof(float));
            assert_memory_equal(net[0]->grads, net[T]->grads, n * sizeof(float));
        }
        /* zeroed exactly in the part stepped, untouched outside it */
        const size_t lo = parts[step] & SVDD_PART_ENCODER ? 0 : ne, hi = parts[step] & SVDD_PART_DECODER ? n : ne;
        size_t zeros = 0;
        for (size_t i = 0; i < n; i++) zeros += net[2]->grads[i] == 0.0f;
        assert_int_equal(zeros, hi - lo);
        for (size_t i = lo; i < hi; i++) assert_true(net[2]->grads[i] == 0.0f);
    }
    size_t moved = 0; /* Adam did move every parameter (its first step moves each by about lr) */
    for (size_t i = 0; i < n; i++) moved += net[0]->params[i] != before[i];
    assert_int_equal(moved, n);
    free(before);
    for (int T = 0; T < 3; T++) svdd_net_free(net[T]);
}

static void test_builtin_shapes(void **state) {
    (void)state;
    svdd_net *m = make("mnist-lenet");
    /* 8*1*25 + 4*8*25 + 32*4*7*7 and 2*4*25 + 4*8*25 + 8*1*25 */
    assert_int_equal(svdd_net_param_count(m, SVDD_PART_ENCODER), 7272);
    assert_int_equal(svdd_net_param_count(m, SVDD_PART_DECODER), 1200);
    assert_int_equal(svdd_net_latent_dim(m), 32);
    int c, h, w;
    svdd_net_input_shape(m, &c, &h, &w);
    assert_true(c == 1 && h == 28 && w == 28);
    /* the second transposed convolution maps 16x16 to 14x14 (padding 3) */
    svdd__layer *L = &m->dec.layers[7];
    assert_int_equal(L->kind, SVDD__CONV_TRANSPOSE2D);
    assert_true(L->in_h == 16 && L->out_h == 14 && L->pad == 3);
    char buf[4096];
    assert_int_equal(svdd_net_describe(m, buf, sizeof buf), SVDD_OK);
    assert_non_null(strstr(buf, "encoder.fc1"));
    svdd_net_free(m);

    svdd_net *cf = make("cifar10-lenet");
    assert_int_equal(svdd_net_param_count(cf, SVDD_PART_ENCODER), 2400 + 51200 + 204800 + 262144);
    assert_int_equal(svdd_net_param_count(cf, SVDD_PART_DECODER), 25600 + 204800 + 51200 + 2400);
    assert_int_equal(svdd_net_latent_dim(cf), 128);
    svdd_net_free(cf);
    assert_null(svdd_spec_builtin("resnet"));
}

static void test_tensor_names(void **state) {
    (void)state;
    svdd_net *m = make("mnist-lenet");
    int n = svdd__net_tensor_count(m);
    /* encoder: conv1, bn1 (2), conv2, bn2 (2), fc1; decoder: deconv1..3, bn1..2 (2 each) */
    assert_int_equal(n, 7 + 7);
    svdd__tensor_info t;
    svdd__net_tensor(m, 0, &t);
    assert_string_equal(t.name, "encoder.conv1.weight");
    assert_true(t.ndim == 4 && t.shape[0] == 8 && t.shape[1] == 1 && t.shape[2] == 5 && t.len == 200);
    svdd__net_tensor(m, 1, &t);
    assert_string_equal(t.name, "encoder.bn1.running_mean");
    assert_true(t.data[0] == 0.0f && !t.is_param);
    svdd__net_tensor(m, 2, &t);
    assert_string_equal(t.name, "encoder.bn1.running_var");
    assert_true(t.data[0] == 1.0f);
    svdd__net_tensor(m, 6, &t);
    assert_string_equal(t.name, "encoder.fc1.weight");
    assert_true(t.ndim == 2 && t.shape[0] == 32 && t.shape[1] == 196);
    svdd__net_tensor(m, 7, &t);
    /* ConvTranspose2d weights keep PyTorch's (Cin, Cout, K, K) layout */
    assert_string_equal(t.name, "decoder.deconv1.weight");
    assert_true(t.shape[0] == 2 && t.shape[1] == 4);
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        svdd__net_tensor(m, i, &t);
        if (t.is_param) total += t.len;
    }
    assert_int_equal(total, m->n_params);
    svdd_net_free(m);
}

static void test_init_bounds(void **state) {
    (void)state;
    svdd_net *m = make("mnist-lenet");
    svdd__tensor_info t;
    svdd__net_tensor(m, 6, &t); /* fc1: U(-1/sqrt(196), 1/sqrt(196)) */
    float mx = 0;
    for (size_t i = 0; i < t.len; i++) mx = fmaxf(mx, fabsf(t.data[i]));
    assert_true(mx <= 1.0f / 14.0f && mx > 0.95f / 14.0f);
    svdd_net_free(m);
    /* same seed, same parameters; another seed, others */
    svdd_net *a = make("mnist-lenet"), *b = make("mnist-lenet"), *c = NULL;
    assert_memory_equal(a->params, b->params, a->n_params * sizeof(float));
    svdd_error err;
    assert_int_equal(svdd_net_create(&c, svdd_spec_builtin("mnist-lenet"), "x", 8, &err), SVDD_OK);
    assert_true(memcmp(a->params, c->params, a->n_params * sizeof(float)) != 0);
    svdd_net_free(a), svdd_net_free(b), svdd_net_free(c);
}

static void expect_spec_error(const char *spec, const char *needle) {
    svdd_net *net = (svdd_net *)1;
    svdd_error err;
    svdd_status st = svdd_net_create(&net, spec, "bad.spec", 1, &err);
    if (st == SVDD_OK) fail_msg("spec accepted but should fail with '%s':\n%s", needle, spec);
    assert_int_equal(st, SVDD_E_FORMAT);
    assert_null(net);
    if (!strstr(err.message, needle) || !strstr(err.message, "bad.spec"))
        fail_msg("message '%s' lacks '%s' or the spec name", err.message, needle);
}

static void test_spec_errors(void **state) {
    (void)state;
    expect_spec_error("", "svdd-spec 1");
    expect_spec_error("svdd-spec 2\n", "unsupported spec version");
    expect_spec_error("svdd-spec 1\ninput 1 28 28\nencoder\nconv2d 8 k=5 pad=2\nwarp 3\n", ":5: unknown layer 'warp'");
    expect_spec_error("svdd-spec 1\ninput 1 28 28\nencoder\nconv2d x k=5\n", "number of outputs");
    expect_spec_error("svdd-spec 1\ninput 1 28 28\nencoder\nconv2d 8\n", "kernel size");
    expect_spec_error("svdd-spec 1\ninput 1 28 28\nencoder\nconv2d 8 k=99999\n", "not a number in range");
    expect_spec_error("svdd-spec 1\ninput 1 4 4\nencoder\nconv2d 8 k=9 pad=0\n", "empty or oversized");
    expect_spec_error("svdd-spec 1\ninput 1 28 28\nencoder\nconv2d 8 k=5 pad=2\n", "must end in a vector");
    expect_spec_error("svdd-spec 1\ninput 1 28 28\nencoder\nflatten\nlinear 8\ndecoder\nreshape 2 2 3\n", "keep the number");
    expect_spec_error("svdd-spec 1\ninput 1 28 28\nencoder\nflatten\nlinear 8\ndecoder\nlinear 10\n", "decoder outputs");
    expect_spec_error("svdd-spec 1\ninput 1 28 28\nencoder\nflatten\nlinear 8 bogus=1\n", "does not apply");
    expect_spec_error("svdd-spec 1\ninput 1 28 28\nencoder\nbatchnorm eps=-1\nflatten\nlinear 8\n", "not a number");
    expect_spec_error("svdd-spec 1\nconv2d 8 k=5\n", "before 'encoder'");
    expect_spec_error("svdd-spec 1\ninput 64 64 64\nencoder\nflatten\nlinear 65536\n", "too many parameters");
    expect_spec_error("svdd-spec 1\ninput 64 4096 4096\nencoder\nflatten\nlinear 4\n", "too large");
    expect_spec_error("svdd-spec 1\ninput 1 1 1\nencoder\nmaxpool2d 2\n", "at least 2x2");
    /* a custom network is a new spec: a smaller encoder-only one parses */
    svdd_net *net = NULL;
    svdd_error err;
    assert_int_equal(svdd_net_create(&net,
                                     "svdd-spec 1\n# tiny\nname tiny\ninput 1 8 8\nencoder\nconv2d 2 k=3 pad=1\n"
                                     "leaky_relu slope=0.1\nmaxpool2d\nflatten\nlinear 4 init=xavier_leaky\n",
                                     "tiny", 1, &err),
                     SVDD_OK);
    assert_int_equal(svdd_net_latent_dim(net), 4);
    assert_false(svdd_net_has_decoder(net));
    svdd_net_free(net);
}

/* ---- a finite-difference check through encoder + decoder ----
 * Each layer is checked alone in test_layers; this checks how a network chains them (caches,
 * ping-pong gradient buffers, the encoder/decoder hand-over). The kinks of leaky ReLU and max
 * pooling make finite differences of a whole deep network unreliable, so the spec here uses
 * every layer type with a smooth response; the reference networks themselves are compared with
 * PyTorch in test_torch_step. */
static const char SMOOTH_SPEC[] = "svdd-spec 1\n"
                                  "input 2 8 8\n"
                                  "encoder\n"
                                  "conv2d 3 k=3 pad=1\n"
                                  "batchnorm eps=1e-4\n"
                                  "sigmoid\n"
                                  "conv2d 2 k=3 pad=0\n"
                                  "batchnorm\n"
                                  "sigmoid\n"
                                  "upsample2d 2\n"
                                  "flatten\n"
                                  "linear 6\n"
                                  "decoder\n"
                                  "batchnorm eps=1e-4\n"
                                  "reshape 6 1 1\n"
                                  "conv_transpose2d 4 k=3 pad=0\n"
                                  "sigmoid\n"
                                  "upsample2d 2\n"
                                  "conv_transpose2d 2 k=3 pad=0\n"
                                  "batchnorm\n"
                                  "sigmoid\n";

typedef struct ae_ctx {
    svdd_net *net;
    float *x;
    int B, D;
} ae_ctx;

static double ae_loss(void *p) {
    ae_ctx *c = p;
    const float *z = svdd__stack_forward(c->net, &c->net->enc, c->x, c->B, 1);
    const float *y = svdd__stack_forward(c->net, &c->net->dec, z, c->B, 1);
    return svdd__sq_error_loss(NULL, NULL, y, c->x, c->B, c->D);
}

static void test_autoencoder_gradcheck(void **state) {
    (void)state;
    svdd_net *net = NULL;
    svdd_error err;
    if (svdd_net_create(&net, SMOOTH_SPEC, "smooth", 3, &err) != SVDD_OK) fail_msg("%s", err.message);
    assert_int_equal(svdd_net_set_threads(net, svdd_test_threads(), &err), SVDD_OK);
    const int B = 4, D = 2 * 8 * 8;
    assert_int_equal(svdd__net_reserve(net, B, &err), SVDD_OK);
    float *x = malloc((size_t)B * D * sizeof(float)), *d = malloc((size_t)B * D * sizeof(float));
    svdd_test_fill_uniform(x, (size_t)B * D, 0, 1, 3);
    ae_ctx c = {net, x, B, D};
    const float *z = svdd__stack_forward(net, &net->enc, x, B, 1);
    const float *y = svdd__stack_forward(net, &net->dec, z, B, 1);
    svdd__sq_error_loss(d, NULL, y, x, B, D);
    svdd__net_zero_grad(net, SVDD_PART_ALL);
    float *dz = svdd__stack_backward(net, &net->dec, d, B, 0, 1, 1);
    float *dx = svdd__stack_backward(net, &net->enc, dz, B, 0, 1, 1);
    float *g = malloc(net->n_params * sizeof(float)), *gx = malloc((size_t)B * D * sizeof(float));
    memcpy(g, net->grads, net->n_params * sizeof(float));
    memcpy(gx, dx, (size_t)B * D * sizeof(float));
    /* Float32 rounding through eleven layers limits agreement to about 1e-3 on small entries,
     * so the bound is 1e-2; a wrong gradient is off by order one. */
    svdd_test_gradcheck("chained encoder params", net->params, net->n_enc_params, g, ae_loss, &c, 80, 1e-2, 1e-2, 5);
    svdd_test_gradcheck("chained decoder params", net->params + net->n_enc_params, net->n_params - net->n_enc_params,
                        g + net->n_enc_params, ae_loss, &c, 80, 1e-2, 1e-2, 6);
    /* the input also appears in the loss as the target: add that direct term to the gradient */
    for (size_t i = 0; i < (size_t)B * D; i++) gx[i] -= d[i];
    svdd_test_gradcheck("chained input", x, (size_t)B * D, gx, ae_loss, &c, 80, 1e-2, 1e-2, 7);
    free(x), free(d), free(g), free(gx);
    svdd_net_free(net);
}

/* The encoder the Deep SVDD loss sees is the autoencoder's encoder: a joint loss
 * mu1 * ||z - c||^2 + mu2 * reconstruction gives encoder gradients that are exactly the mu-weighted
 * sum of the two separate ones, and mu2 changes them. */
static void run_joint(svdd_net *net, const float *x, int B, float mu1, float mu2, float *genc) {
    const int D = 32;
    const float *z = svdd__stack_forward(net, &net->enc, x, B, 1);
    const float *y = svdd__stack_forward(net, &net->dec, z, B, 1);
    float *drec = malloc((size_t)B * 784 * sizeof(float));
    svdd__sq_error_loss(drec, NULL, y, x, B, 784);
    for (size_t i = 0; i < (size_t)B * 784; i++) drec[i] *= mu2;
    svdd__net_zero_grad(net, SVDD_PART_ALL);
    float *dz_rec = svdd__stack_backward(net, &net->dec, drec, B, 0, 1, 1);
    for (int b = 0; b < B; b++)
        for (int j = 0; j < D; j++) {
            float cj = 0.1f * (float)(j % 3);
            net->dlatent[b * D + j] = dz_rec[b * D + j] + mu1 * 2.0f * (z[b * D + j] - cj) / (float)B;
        }
    svdd__stack_backward(net, &net->enc, net->dlatent, B, 0, 0, 1);
    memcpy(genc, net->grads, net->n_enc_params * sizeof(float));
    free(drec);
}

static void test_shared_encoder(void **state) {
    (void)state;
    svdd_net *net = make("mnist-lenet");
    svdd_error err;
    const int B = 4;
    assert_int_equal(svdd__net_reserve(net, B, &err), SVDD_OK);
    float *x = malloc((size_t)B * 784 * sizeof(float));
    svdd_test_fill_uniform(x, (size_t)B * 784, 0, 1, 9);
    size_t n = net->n_enc_params;
    float *g_svdd = malloc(n * sizeof(float)), *g_rec = malloc(n * sizeof(float)), *g_joint = malloc(n * sizeof(float));
    /* the running statistics change with every training forward; restore them between runs */
    float *bn = malloc(net->n_state * sizeof(float));
    memcpy(bn, net->state, net->n_state * sizeof(float));
    run_joint(net, x, B, 1.0f, 0.0f, g_svdd);
    memcpy(net->state, bn, net->n_state * sizeof(float));
    run_joint(net, x, B, 0.0f, 1.0f, g_rec);
    memcpy(net->state, bn, net->n_state * sizeof(float));
    run_joint(net, x, B, 1.0f, 0.5f, g_joint);
    double worst = 0, diff = 0;
    for (size_t i = 0; i < n; i++) {
        double expect = (double)g_svdd[i] + 0.5 * g_rec[i];
        worst = fmax(worst, fabs(g_joint[i] - expect) / fmax(fabs(expect), 1e-4));
        diff = fmax(diff, fabs((double)g_joint[i] - g_svdd[i]));
    }
    printf("  joint gradient = mu-weighted sum: worst rel %.3e; reconstruction term moves the encoder gradient by up to %.3e\n",
           worst, diff);
    assert_true(worst < 1e-3);
    assert_true(diff > 1e-4);
    free(x), free(g_svdd), free(g_rec), free(g_joint), free(bn);
    svdd_net_free(net);
}

static void test_eval_mode_and_training(void **state) {
    (void)state;
    svdd_net *net = make("mnist-lenet");
    svdd_error err;
    const size_t n = 64;
    float *x = malloc(n * 784 * sizeof(float)), *z0 = malloc(n * 32 * sizeof(float)), *z1 = malloc(n * 32 * sizeof(float));
    float *rec = malloc(n * 784 * sizeof(float)), *e0 = malloc(n * sizeof(float)), *e1 = malloc(n * sizeof(float));
    /* smooth images an autoencoder can learn: a brightness ramp of random direction and level */
    svdd__rng r;
    svdd__rng_seed(&r, 10, 1);
    for (size_t i = 0; i < n; i++) {
        float a = svdd__rng_uniform(&r), b = svdd__rng_uniform(&r), lvl = 0.3f + 0.4f * svdd__rng_uniform(&r);
        for (int p = 0; p < 784; p++) {
            const int row = p / 28, col = p % 28;
            x[i * 784 + p] = lvl + 0.3f * ((a - 0.5f) * (float)(row - 14) + (b - 0.5f) * (float)(col - 14)) / 14.0f;
        }
    }
    assert_int_equal(svdd_net_encode(net, x, n, z0, &err), SVDD_OK);
    assert_int_equal(svdd_net_reconstruct(net, x, n, rec, e0, &err), SVDD_OK);
    svdd_train_options o = svdd_train_defaults();
    o.epochs = 30;
    o.batch_size = 16;
    o.lr = 1e-3;
    o.threads = svdd_test_threads();
    double loss;
    assert_int_equal(svdd_autoencoder_train(net, x, n, &o, &loss, &err), SVDD_OK);
    assert_int_equal(svdd_net_encode(net, x, n, z1, &err), SVDD_OK);
    assert_int_equal(svdd_net_reconstruct(net, x, n, rec, e1, &err), SVDD_OK);
    double m0 = 0, m1 = 0;
    for (size_t i = 0; i < n; i++) m0 += e0[i], m1 += e1[i];
    printf("  reconstruction error before %.2f after %.2f (final loss %.2f)\n", m0 / n, m1 / n, loss);
    assert_true(m1 < m0);
    /* the encoder moved: it is the autoencoder's */
    int moved = 0;
    for (size_t i = 0; i < n * 32; i++) moved |= z0[i] != z1[i];
    assert_true(moved);
    /* bad options are refused with a message */
    o.batch_size = 0;
    assert_int_equal(svdd_autoencoder_train(net, x, n, &o, &loss, &err), SVDD_E_INVALID);
    assert_non_null(strstr(err.message, "batch size"));
    free(x), free(z0), free(z1), free(rec), free(e0), free(e1);
    svdd_net_free(net);
}

static void test_determinism(void **state) {
    (void)state;
    float *x = malloc(40 * 784 * sizeof(float));
    svdd_test_fill_uniform(x, 40 * 784, 0, 1, 12);
    svdd_net *a = make("mnist-lenet"), *b = make("mnist-lenet");
    svdd_train_options o = svdd_train_defaults();
    o.epochs = 2;
    o.batch_size = 10;
    o.seed = 3;
    o.threads = svdd_test_threads();
    svdd_error err;
    assert_int_equal(svdd_autoencoder_train(a, x, 40, &o, NULL, &err), SVDD_OK);
    assert_int_equal(svdd_autoencoder_train(b, x, 40, &o, NULL, &err), SVDD_OK);
    assert_memory_equal(a->params, b->params, a->n_params * sizeof(float));
    svdd_net_free(a), svdd_net_free(b);
    free(x);
}

/* ---- the shared buffers against one buffer per layer ----
 * The network runs batch norm and sigmoid over the previous layer's output, aliases flatten and
 * reshape, keeps some decoder activations only during the forward, lets the decoder's transposed
 * convolutions upsample their inputs as they read them and writes gradients in place
 * (svdd__net_reserve). The same layers run here on a fresh buffer each, as plain calls; every
 * output, gradient and running statistic must match to the bit. */

typedef struct ref_run {
    float **out;  /* per layer, (B, out size) */
    float **mean, **rstd;
} ref_run;

static size_t lsize_in(const svdd__layer *L) { return (size_t)L->in_c * L->in_h * L->in_w; }
static size_t lsize_out(const svdd__layer *L) { return (size_t)L->out_c * L->out_h * L->out_w; }

/* (threads: the kernels' own split, which the network's layers use too) */
static const float *ref_forward(svdd_net *net, const svdd__stack *st, ref_run *r, const float *x, int B, int train,
                                float *state, int threads) {
    svdd__workspace ws = net->ws;
    ws.threads = threads;
    const float *in = x;
    r->out = calloc((size_t)st->n, sizeof(float *));
    r->mean = calloc((size_t)st->n, sizeof(float *));
    r->rstd = calloc((size_t)st->n, sizeof(float *));
    for (int i = 0; i < st->n; i++) {
        const svdd__layer *L = &st->layers[i];
        const size_t nin = (size_t)B * lsize_in(L);
        float *o = r->out[i] = malloc((size_t)B * lsize_out(L) * sizeof(float));
        const float *w = net->params + L->w_off;
        float *rm = state + L->stat_off, *rv = rm + L->in_c;
        switch (L->kind) {
        case SVDD__CONV2D: svdd__conv2d_forward(o, in, w, B, L->in_c, L->in_h, L->in_w, L->out_c, L->k, L->pad, &ws); break;
        case SVDD__CONV_TRANSPOSE2D:
            svdd__conv_transpose2d_forward(o, in, w, B, L->in_c, L->in_h, L->in_w, L->out_c, L->k, L->pad, &ws);
            break;
        case SVDD__LINEAR: svdd__linear_forward(o, in, w, B, (int)lsize_in(L), L->out_c, threads); break;
        case SVDD__BATCHNORM:
            if (train) {
                r->mean[i] = malloc((size_t)L->in_c * sizeof(float));
                r->rstd[i] = malloc((size_t)L->in_c * sizeof(float));
                svdd__batchnorm_forward_train(o, r->mean[i], r->rstd[i], rm, rv, in, B, L->in_c, L->in_h * L->in_w, L->eps,
                                              L->momentum, threads);
            } else {
                svdd__batchnorm_forward_eval(o, in, rm, rv, B, L->in_c, L->in_h * L->in_w, L->eps);
            }
            break;
        case SVDD__LEAKY_RELU: svdd__leaky_relu_forward(o, in, nin, L->slope); break;
        case SVDD__SIGMOID: svdd__sigmoid_forward(o, in, nin); break;
        case SVDD__MAXPOOL2D: svdd__maxpool2d_forward(o, in, B, L->in_c, L->in_h, L->in_w); break;
        case SVDD__UPSAMPLE2D: svdd__upsample2d_forward(o, in, B, L->in_c, L->in_h, L->in_w); break;
        case SVDD__FLATTEN:
        case SVDD__RESHAPE: memcpy(o, in, nin * sizeof(float)); break;
        }
        in = o;
    }
    return in;
}

/* Returns the input gradient (caller frees); parameter gradients accumulate into grads. */
static float *ref_backward(svdd_net *net, const svdd__stack *st, const ref_run *r, const float *x, const float *dout,
                           int B, int train, const float *state, float *grads, int threads) {
    svdd__workspace ws = net->ws;
    ws.threads = threads;
    float *g = malloc((size_t)B * svdd__stack_out_size(st) * sizeof(float));
    memcpy(g, dout, (size_t)B * svdd__stack_out_size(st) * sizeof(float));
    for (int i = st->n - 1; i >= 0; i--) {
        const svdd__layer *L = &st->layers[i];
        const size_t nin = (size_t)B * lsize_in(L);
        const float *in = i > 0 ? r->out[i - 1] : x;
        float *d = malloc(nin * sizeof(float)), *dw = grads + L->w_off;
        const float *w = net->params + L->w_off;
        switch (L->kind) {
        case SVDD__CONV2D:
            svdd__conv2d_backward(d, dw, g, in, w, B, L->in_c, L->in_h, L->in_w, L->out_c, L->k, L->pad, &ws);
            break;
        case SVDD__CONV_TRANSPOSE2D:
            svdd__conv_transpose2d_backward(d, dw, g, in, w, B, L->in_c, L->in_h, L->in_w, L->out_c, L->k, L->pad, &ws);
            break;
        case SVDD__LINEAR: svdd__linear_backward(d, dw, g, in, w, B, (int)lsize_in(L), L->out_c, threads); break;
        case SVDD__BATCHNORM:
            if (train)
                svdd__batchnorm_backward_train(d, g, r->out[i], r->rstd[i], B, L->in_c, L->in_h * L->in_w, threads);
            else
                svdd__batchnorm_backward_eval(d, g, state + L->stat_off + L->in_c, B, L->in_c, L->in_h * L->in_w, L->eps);
            break;
        case SVDD__LEAKY_RELU: svdd__leaky_relu_backward(d, g, in, nin, L->slope); break;
        case SVDD__SIGMOID: svdd__sigmoid_backward(d, g, r->out[i], nin); break;
        case SVDD__MAXPOOL2D: svdd__maxpool2d_backward(d, g, in, B, L->in_c, L->in_h, L->in_w); break;
        case SVDD__UPSAMPLE2D: svdd__upsample2d_backward(d, g, B, L->in_c, L->in_h, L->in_w); break;
        case SVDD__FLATTEN:
        case SVDD__RESHAPE: memcpy(d, g, nin * sizeof(float)); break;
        }
        free(g);
        g = d;
    }
    return g;
}

static void ref_free(const svdd__stack *st, ref_run *r) {
    for (int i = 0; i < st->n; i++) free(r->out[i]), free(r->mean[i]), free(r->rstd[i]);
    free(r->out), free(r->mean), free(r->rstd);
}

/* Layer outputs the network keeps must equal the plain ones (a transient one is gone, a fused
 * upsampling never stored). */
/* A layer's output as the images' own maps: L->out, or where training's forward left it in the
 * lanes (svdd__block_lanes_applies), a copy out of them (to be freed). */
static float *images_of(const svdd__layer *L, int B) {
    if (!L->lanes) return L->out;
    const size_t n = lsize_out(L);
    float *x = malloc((size_t)B * n * sizeof(float));
    assert_non_null(x);
    svdd__lanes_to_images(x, L->out, B, n, svdd__cpu_avx2_fma());
    return x;
}

static void check_outputs(const svdd__stack *st, const ref_run *r, int B, const char *what) {
    for (int i = 0; i < st->n; i++) {
        const svdd__layer *L = &st->layers[i];
        if (L->out_kind == SVDD__OUT_TRANSIENT || L->out_kind == SVDD__OUT_FUSED) continue;
        /* an overwritten product output now holds the next layer's */
        if (i + 1 < st->n && st->layers[i + 1].out_kind == SVDD__OUT_INPLACE) continue;
        assert_non_null(r->out[i]);
        const size_t n = (size_t)B * lsize_out(L);
        float *seen = images_of(L, B);
        if (memcmp(seen, r->out[i], n * sizeof(float)) != 0)
            fail_msg("%s: layer %d (%s) output differs", what, i, L->name);
        if (seen != L->out) free(seen);
        if (L->kind == SVDD__BATCHNORM && r->mean[i] &&
            (memcmp(L->mean, r->mean[i], (size_t)L->in_c * sizeof(float)) != 0 ||
             memcmp(L->rstd, r->rstd[i], (size_t)L->in_c * sizeof(float)) != 0))
            fail_msg("%s: layer %d (%s) statistics differ", what, i, L->name);
    }
}

/* Largest |a - b| relative to the largest |b|. */
static double rel_diff(const float *a, const float *b, size_t n) {
    double d = 0, m = 0;
    for (size_t i = 0; i < n; i++) {
        if (fabs((double)a[i] - b[i]) > d) d = fabs((double)a[i] - b[i]);
        if (fabs((double)b[i]) > m) m = fabs((double)b[i]);
    }
    return m > 0 ? d / m : d;
}

/* Gradients equal the plain layers' bit for bit, except in training mode where a leaky ReLU
 * wrote over batch norm's output: batch norm's backward then reads the values the leaky ReLU's
 * backward put back (y / slope where y < 0), within a rounding of the originals. */
static void check_grad(const char *what, const char *which, const float *got, const float *want, size_t n, int exact) {
    if (exact) {
        if (memcmp(got, want, n * sizeof(float)) != 0) fail_msg("%s: %s differ", what, which);
        return;
    }
    const double d = rel_diff(got, want, n);
    if (!(d <= 1e-5)) fail_msg("%s: %s differ by %g (relative)", what, which, d);
}

static int restores_bn(const svdd_net *net) {
    for (int s = 0; s < 2; s++) {
        const svdd__stack *st = s ? &net->dec : &net->enc;
        for (int i = 1; i < st->n; i++)
            if (st->layers[i].kind == SVDD__LEAKY_RELU && st->layers[i].out_kind == SVDD__OUT_INPLACE &&
                st->layers[i - 1].kind == SVDD__BATCHNORM)
                return 1;
    }
    return 0;
}

/* B images through a network reserved for cap >= B (a last, smaller batch of an epoch) on
 * `threads` threads; rounds: max pooling's backward in two rounds wherever its gradients can
 * overlap (else only where one round would take much more memory, as in a run). */
static void check_shared_buffers(const char *name, int B, int train, int threads, int cap, int rounds) {
    svdd_net *net = make(name);
    svdd_error err;
    assert_int_equal(svdd_net_set_threads(net, threads, &err), SVDD_OK);
    if (rounds) net->pool_one_round_extra = 0;
    assert_int_equal(svdd__net_reserve(net, cap, &err), SVDD_OK);
    const size_t D = svdd__stack_in_size(&net->enc);
    float *x = malloc((size_t)B * D * sizeof(float)), *dy = malloc((size_t)B * D * sizeof(float));
    svdd_test_fill_uniform(x, (size_t)B * D, 0, 1, 21);
    svdd_test_fill_uniform(dy, (size_t)B * D, -1, 1, 22);
    float *state = malloc((net->n_state + 1) * sizeof(float)), *grads = calloc(net->n_params + 1, sizeof(float));
    memcpy(state, net->state, net->n_state * sizeof(float));
    char what[96];
    snprintf(what, sizeof what, "%s, %s mode, %d of %d images, %d thread%s%s", name, train ? "training" : "evaluation",
             B, cap, threads, threads > 1 ? "s" : "", rounds ? ", pooling in rounds" : "");

    ref_run re, rd;
    const float *zr = ref_forward(net, &net->enc, &re, x, B, train, state, threads);
    const float *yr = ref_forward(net, &net->dec, &rd, zr, B, train, state, threads);
    float *dzr = ref_backward(net, &net->dec, &rd, zr, dy, B, train, state, grads, threads);
    float *dxr = ref_backward(net, &net->enc, &re, x, dzr, B, train, state, grads, threads);

    const float *z = svdd__stack_forward(net, &net->enc, x, B, train);
    check_outputs(&net->enc, &re, B, what);
    const float *y = svdd__stack_forward(net, &net->dec, z, B, train);
    check_outputs(&net->dec, &rd, B, what);
    assert_memory_equal(y, yr, (size_t)B * D * sizeof(float));
    assert_memory_equal(net->state, state, net->n_state * sizeof(float));
    svdd__net_zero_grad(net, SVDD_PART_ALL);
    const int exact = !train || !restores_bn(net);
    assert_true(restores_bn(net)); /* both built-in networks have batch norm + leaky ReLU blocks */
    float *dz = svdd__stack_backward(net, &net->dec, dy, B, 0, 1, train);
    check_grad(what, "code gradients", dz, dzr, (size_t)B * svdd__stack_out_size(&net->enc), exact);
    /* dz lies in the network's gradient buffer: the encoder's backward may reuse it */
    float *dx = svdd__stack_backward(net, &net->enc, dz, B, 0, 1, train);
    check_grad(what, "input gradients", dx, dxr, (size_t)B * D, exact);
    check_grad(what, "parameter gradients", net->grads, grads, net->n_params, exact);
    /* batch norm's outputs are back under the leaky ReLUs that overwrote them, except in the
     * blocks that went backward in one go (svdd__block_backward), which leave the leaky ReLU's */
    for (int s = 0; s < 2; s++) {
        const svdd__stack *st = s ? &net->dec : &net->enc;
        const ref_run *r = s ? &rd : &re;
        for (int i = 1; i < st->n; i++) {
            const svdd__layer *L = &st->layers[i];
            if (L->kind != SVDD__LEAKY_RELU || L->out_kind != SVDD__OUT_INPLACE) continue;
            const size_t n = (size_t)B * lsize_out(L);
            assert_non_null(r->out[i - 1]);
            if (train && i >= 2 && svdd__block_backward_applies(&st->layers[i - 2], B)) {
                assert_non_null(r->out[i]);
                float *seen = images_of(L, B);
                if (memcmp(seen, r->out[i], n * sizeof(float)) != 0)
                    fail_msg("%s: layer %d (%s): the block's leaky ReLU output changed", what, i, L->name);
                if (seen != L->out) free(seen);
                continue;
            }
            const double d = rel_diff(L->out, r->out[i - 1], n);
            if (!(d <= 1e-6)) fail_msg("%s: layer %d (%s): batch norm's output restored within %g", what, i, L->name, d);
        }
    }
    /* the caller's gradient is left as it was */
    float *dy0 = malloc((size_t)B * D * sizeof(float));
    svdd_test_fill_uniform(dy0, (size_t)B * D, -1, 1, 22);
    assert_memory_equal(dy, dy0, (size_t)B * D * sizeof(float));
    printf("  %s: outputs, gradients and statistics equal the plain layers' (%zu floats of gradient buffer)\n", what,
           net->grad_len);

    ref_free(&net->enc, &re), ref_free(&net->dec, &rd);
    free(x), free(dy), free(dy0), free(state), free(grads), free(dzr), free(dxr);
    svdd_net_free(net);
}

/* Scoring's forward (infer.c) against the layer-by-layer evaluation forward: the same output bit
 * for bit (the inputs here give no signed zeros), whatever the batch and thread count, and it
 * really runs image by image (it leaves the first convolution's batch output untouched). The
 * spec below takes every block shape: a bare convolution, batch norm then pooling, a leaky ReLU
 * alone, the full block, odd edges, and pooled rows of 11, 5 and 2 windows (the pooling's AVX2,
 * SSE2 and scalar paths). */
static const char INFER_SPEC[] = "svdd-spec 1\n"
                                 "name infer-blocks\n"
                                 "input 2 19 23\n"
                                 "encoder\n"
                                 "conv2d 3 k=3 pad=1\n"
                                 "conv2d 4 k=5 pad=2\n"
                                 "batchnorm eps=1e-3\n"
                                 "maxpool2d 2\n"
                                 "conv2d 5 k=3 pad=0\n"
                                 "leaky_relu slope=0.2\n"
                                 "conv2d 4 k=3 pad=2\n"
                                 "batchnorm eps=1e-4\n"
                                 "leaky_relu slope=0.01\n"
                                 "maxpool2d 2\n"
                                 "conv2d 2 k=3 pad=1\n"
                                 "leaky_relu slope=0.1\n"
                                 "maxpool2d 2\n"
                                 "flatten\n"
                                 "linear 6\n";

static void check_infer(const char *spec, const char *name, int B, int threads, int cap) {
    svdd_net *net = NULL;
    svdd_error err;
    if (svdd_net_create(&net, spec, name, 5, &err) != SVDD_OK) fail_msg("%s", err.message);
    assert_int_equal(svdd_net_set_threads(net, threads, &err), SVDD_OK);
    assert_int_equal(svdd__net_reserve(net, cap, &err), SVDD_OK);
    svdd__stack *st = &net->enc;
    assert_true(svdd__stack_infer_scratch(st) > 0);
    /* running statistics away from a fresh batch norm's 0 and 1 */
    svdd__rng r;
    svdd__rng_seed(&r, 31, (uint64_t)B);
    for (int i = 0; i < st->n; i++) {
        const svdd__layer *L = &st->layers[i];
        if (L->kind != SVDD__BATCHNORM) continue;
        for (int c = 0; c < L->in_c; c++) {
            net->state[L->stat_off + (size_t)c] = svdd__rng_uniform(&r) - 0.5f;
            net->state[L->stat_off + (size_t)L->in_c + (size_t)c] = 0.5f + 1.5f * svdd__rng_uniform(&r);
        }
    }
    const size_t D = svdd__stack_in_size(st), L = svdd__stack_out_size(st);
    float *x = malloc((size_t)B * D * sizeof(float)), *want = malloc((size_t)B * L * sizeof(float));
    svdd_test_fill_uniform(x, (size_t)B * D, -1, 1, 23 + (uint64_t)B);
    memcpy(want, svdd__stack_forward(net, st, x, B, 0), (size_t)B * L * sizeof(float));
    /* both specs end in max pooling, flatten, linear: every layer before that pooling runs image
     * by image and leaves its batch output alone */
    assert_int_equal(st->layers[st->n - 3].kind, SVDD__MAXPOOL2D);
    for (int i = 0; i < st->n - 3; i++)
        if (st->layers[i].out_kind == SVDD__OUT_OWN)
            for (size_t q = 0; q < (size_t)B * lsize_out(&st->layers[i]); q++) st->layers[i].out[q] = 12345.0f;
    const float *got = svdd__stack_infer(net, st, x, B);
    if (memcmp(got, want, (size_t)B * L * sizeof(float)) != 0)
        fail_msg("%s, %d images, %d threads: scoring's forward differs from the layer-by-layer one", name, B, threads);
    for (int i = 0; i < st->n - 3; i++)
        if (st->layers[i].out_kind == SVDD__OUT_OWN)
            for (size_t q = 0; q < (size_t)B * lsize_out(&st->layers[i]); q++)
                if (st->layers[i].out[q] != 12345.0f) fail_msg("%s: layer %d ran over the batch", name, i);
    free(x), free(want);
    svdd_net_free(net);
}

static void test_stack_infer(void **state) {
    (void)state;
    const char *mnist = svdd_spec_builtin("mnist-lenet");
    check_infer(mnist, "mnist-lenet", 1, 1, 1);
    check_infer(mnist, "mnist-lenet", 1, 2, 1);
    check_infer(mnist, "mnist-lenet", 37, 2, 64);
    check_infer(mnist, "mnist-lenet", 200, 2, 200);
    check_infer(mnist, "mnist-lenet", 200, 1, 200);
    check_infer(INFER_SPEC, "infer-blocks", 1, 1, 1);
    check_infer(INFER_SPEC, "infer-blocks", 9, 2, 16);
    /* groups of eight images, one per lane, and the images left over */
    check_infer(INFER_SPEC, "infer-blocks", 19, 1, 32);
    check_infer(INFER_SPEC, "infer-blocks", 37, 2, 40);
    /* CIFAR-10's convolutions take the products: nothing to run image by image */
    svdd_net *net = make("cifar10-lenet");
    assert_int_equal(svdd__stack_infer_scratch(&net->enc), 0);
    svdd_net_free(net);
}

static void test_shared_buffers(void **state) {
    (void)state;
    check_shared_buffers("mnist-lenet", 5, 1, 1, 5, 0);
    check_shared_buffers("mnist-lenet", 5, 0, 1, 5, 0);
    check_shared_buffers("cifar10-lenet", 3, 1, 1, 3, 0);
    check_shared_buffers("cifar10-lenet", 3, 0, 1, 3, 0);
    /* on two threads the batch norms after the convolutions take their sums from the layers next
     * to them, group by group (the pooling's backward only in one round) */
    check_shared_buffers("mnist-lenet", 64, 1, 2, 64, 0);
    check_shared_buffers("mnist-lenet", 37, 1, 2, 64, 0);
    check_shared_buffers("cifar10-lenet", 11, 1, 2, 16, 0); /* Winograd: the backward's sums only */
    /* max pooling's backward overlaps its two gradients in the buffer (network.c, pool_split):
     * its two rounds over threads, and in a buffer reserved for more images */
    check_shared_buffers("mnist-lenet", 5, 1, 1, 5, 1);
    /* at batch 200 the first MNIST pooling's one round (8 x 28 x 28 + 8 x 14 x 14 floats an image,
     * 0.96 MiB more than the rounds need) sizes the buffer; CIFAR-10's first pooling (5 MiB more)
     * keeps the rounds' smaller one */
    for (int k = 0; k < 2; k++) {
        svdd_net *net = make(k ? "cifar10-lenet" : "mnist-lenet");
        svdd_error err;
        assert_int_equal(svdd__net_reserve(net, 200, &err), SVDD_OK);
        const size_t one_round = (size_t)200 * (k ? 32 * 32 * 32 + 32 * 16 * 16 : 8 * 28 * 28 + 8 * 14 * 14);
        printf("  %s at batch 200: %zu floats of gradient buffer, one round of the first pooling %zu\n",
               k ? "cifar10-lenet" : "mnist-lenet", net->grad_len, one_round);
        if (k) assert_true(net->grad_len < one_round);
        else assert_int_equal(net->grad_len, one_round);
        svdd_net_free(net);
    }
    check_shared_buffers("mnist-lenet", 64, 1, 2, 64, 1);
    check_shared_buffers("mnist-lenet", 37, 1, 2, 64, 1);
    check_shared_buffers("cifar10-lenet", 16, 1, 2, 16, 1);
    check_shared_buffers("cifar10-lenet", 11, 1, 2, 16, 1);
}

/* Training's backward through the MNIST encoder's two blocks (conv2d, batch norm, leaky ReLU, max
 * pooling) in one go (svdd__block_backward) against the same network layer by layer: the same
 * gradients up to the order of batch norm's sums (over the pooling's winners instead of every
 * cell) and the rounding of xhat * mean(dy xhat), on one, two and three threads, with and
 * without the input's gradient; and it ran: the blocks' leaky ReLU outputs are left as they
 * are, where layer by layer they are turned back. */
static void check_block_backward(int B, int threads, int need_input_grad, int lanes) {
    svdd_net *net[2];
    svdd_error err;
    const float *z[2];
    float *dx[2], *kept[2][2] = {{NULL, NULL}, {NULL, NULL}}; /* the blocks' leaky ReLU outputs after the forward */
    const size_t D = 28 * 28, Z = 32;
    float *x = malloc((size_t)B * D * sizeof(float)), *dz = malloc((size_t)B * Z * sizeof(float));
    assert_true(x && dz);
    svdd_test_fill_uniform(x, (size_t)B * D, 0, 1, 41);
    svdd_test_fill_uniform(dz, (size_t)B * Z, -1, 1, 42);
    int blocks[2] = {0}, at[2] = {0};
    for (int k = 0; k < 2; k++) {
        net[k] = make("mnist-lenet");
        net[k]->layer_by_layer = k;
        net[k]->maps_in_images = !lanes; /* the one-pass backward over the images' own maps */
        assert_int_equal(svdd_net_set_threads(net[k], threads, &err), SVDD_OK);
        assert_int_equal(svdd__net_reserve(net[k], B, &err), SVDD_OK);
        assert_int_equal(svdd__stack_in_size(&net[k]->enc), D);
        assert_int_equal(svdd__stack_out_size(&net[k]->enc), Z);
        z[k] = svdd__stack_forward(net[k], &net[k]->enc, x, B, 1);
        const svdd__stack *st = &net[k]->enc;
        for (int i = 0; i + 3 < st->n; i++) {
            if (!svdd__block_backward_applies(&st->layers[i], B)) continue;
            assert_true(blocks[k] < 2);
            /* the forward left the block's maps in the lanes where asked, never layer by layer */
            for (int j = 0; j < 3; j++) assert_int_equal(st->layers[i + j].lanes, !k && lanes);
            assert_int_equal(st->layers[i + 3].lanes, 0);
            const size_t n = (size_t)B * lsize_out(&st->layers[i + 2]);
            at[blocks[k]] = i;
            kept[k][blocks[k]] = malloc(n * sizeof(float));
            assert_non_null(kept[k][blocks[k]]);
            memcpy(kept[k][blocks[k]++], st->layers[i + 2].out, n * sizeof(float));
        }
        svdd__net_zero_grad(net[k], SVDD_PART_ALL);
        dx[k] = svdd__stack_backward(net[k], &net[k]->enc, dz, B, 0, need_input_grad, 1);
    }
    /* a second backward after the same forward gives the same gradients bit for bit (the blocks
     * leave the leaky ReLU outputs, and the flags that say so, as they were) */
    {
        const size_t np = net[0]->n_params, nx = need_input_grad ? (size_t)B * D : 0;
        float *grads1 = malloc((np + nx + 1) * sizeof(float));
        assert_non_null(grads1);
        memcpy(grads1, net[0]->grads, np * sizeof(float));
        if (nx) memcpy(grads1 + np, dx[0], nx * sizeof(float));
        svdd__net_zero_grad(net[0], SVDD_PART_ALL);
        dx[0] = svdd__stack_backward(net[0], &net[0]->enc, dz, B, 0, need_input_grad, 1);
        assert_memory_equal(net[0]->grads, grads1, np * sizeof(float));
        if (nx) assert_memory_equal(dx[0], grads1 + np, nx * sizeof(float));
        free(grads1);
    }
    assert_memory_equal(z[0], z[1], (size_t)B * Z * sizeof(float));
    assert_int_equal(blocks[0], 2);
    assert_int_equal(blocks[1], 2);
    /* the forward in the lanes: the same pooled maps and statistics as layer by layer */
    for (int b = 0; b < 2; b++) {
        const svdd__layer *N0 = &net[0]->enc.layers[at[b] + 1], *N1 = &net[1]->enc.layers[at[b] + 1];
        const svdd__layer *P0 = &net[0]->enc.layers[at[b] + 3], *P1 = &net[1]->enc.layers[at[b] + 3];
        assert_memory_equal(N0->mean, N1->mean, (size_t)N0->in_c * sizeof(float));
        assert_memory_equal(N0->rstd, N1->rstd, (size_t)N0->in_c * sizeof(float));
        assert_memory_equal(P0->out, P1->out, (size_t)B * lsize_out(P0) * sizeof(float));
    }
    assert_memory_equal(net[0]->state, net[1]->state, net[0]->n_state * sizeof(float));
    /* it ran: the leaky ReLU outputs as the forward left them; layer by layer batch norm's are
     * back under them (below 0, y / slope) */
    for (int b = 0; b < 2; b++) {
        const svdd__layer *A = &net[0]->enc.layers[at[b] + 2];
        const size_t n = (size_t)B * lsize_out(A);
        assert_memory_equal(A->out, kept[0][b], n * sizeof(float));
        size_t changed = 0;
        for (size_t j = 0; j < n; j++) changed += net[1]->enc.layers[at[b] + 2].out[j] != kept[1][b][j];
        assert_true(changed > n / 4);
        free(kept[0][b]), free(kept[1][b]);
    }
    /* Only batch norm's means differ, by the order of their sums (within a few roundings of a
     * float): the gradients within 2e-6 of the largest (about 2.5e-7 measured). */
    const svdd__stack *st = &net[0]->enc;
    for (int i = 0; i < st->n; i++) {
        const svdd__layer *L = &st->layers[i];
        if (!L->w_len) continue;
        const double d = rel_diff(net[0]->grads + L->w_off, net[1]->grads + L->w_off, L->w_len);
        printf("  batch %d, %d thread%s, maps %s: %s's weight gradient within %.2e (relative) of the layers'\n", B,
               threads, threads > 1 ? "s" : "", lanes ? "in the lanes" : "the images' own", L->name, d);
        assert_true(d <= 2e-6);
    }
    if (need_input_grad) {
        const double d = rel_diff(dx[0], dx[1], (size_t)B * D);
        printf("  batch %d, %d thread%s: input gradient within %.2e (relative)\n", B, threads, threads > 1 ? "s" : "", d);
        assert_true(d <= 2e-6);
    } else {
        assert_null(dx[0]);
    }
    svdd_net_free(net[0]), svdd_net_free(net[1]);
    free(x), free(dz);
}

/* A backward that stops inside the first block (stop = 1: the gradient of the convolution's
 * output) cannot take it in one go: the maps come out of the lanes first, and the layers below
 * give what the network layer by layer gives. The second block still goes in one go. */
static void check_block_fallback(int B, int threads) {
    svdd_net *net[2];
    svdd_error err;
    const size_t D = 28 * 28, Z = 32;
    float *x = malloc((size_t)B * D * sizeof(float)), *dz = malloc((size_t)B * Z * sizeof(float)), *d[2];
    assert_true(x && dz);
    svdd_test_fill_uniform(x, (size_t)B * D, 0, 1, 43);
    svdd_test_fill_uniform(dz, (size_t)B * Z, -1, 1, 44);
    for (int k = 0; k < 2; k++) {
        net[k] = make("mnist-lenet");
        net[k]->layer_by_layer = k;
        assert_int_equal(svdd_net_set_threads(net[k], threads, &err), SVDD_OK);
        assert_int_equal(svdd__net_reserve(net[k], B, &err), SVDD_OK);
        (void)svdd__stack_forward(net[k], &net[k]->enc, x, B, 1);
        assert_int_equal(net[k]->enc.layers[2].lanes, !k);
        svdd__net_zero_grad(net[k], SVDD_PART_ALL);
        d[k] = svdd__stack_backward(net[k], &net[k]->enc, dz, B, 1, 1, 1);
    }
    const svdd__stack *st = &net[0]->enc;
    assert_int_equal(st->layers[0].lanes + st->layers[1].lanes + st->layers[2].lanes, 0);
    assert_int_equal(st->layers[6].lanes, 1); /* the second block: in one go, left in the lanes */
    const size_t n = (size_t)B * lsize_out(&st->layers[0]);
    const double dd = rel_diff(d[0], d[1], n);
    const double dp = rel_diff(net[0]->grads, net[1]->grads, net[0]->n_params);
    const double dr = rel_diff(st->layers[2].out, net[1]->enc.layers[2].out, n);
    printf("  batch %d, %d thread%s, stopping in the first block: its output gradient within %.2e, the weights' "
           "within %.2e, batch norm's output back within %.2e\n",
           B, threads, threads > 1 ? "s" : "", dd, dp, dr);
    assert_true(dd <= 2e-6 && dp <= 2e-6 && dr <= 1e-6);
    svdd_net_free(net[0]), svdd_net_free(net[1]);
    free(x), free(dz);
}

static void test_block_backward(void **state) {
    (void)state;
    if (!svdd__cpu_avx2_fma()) {
        printf("  no AVX2+FMA: the convolutions are off the lanes, the blocks go layer by layer\n");
        return;
    }
    check_block_backward(64, 2, 1, 1);
    check_block_backward(200, 2, 0, 1);
    check_block_backward(64, 1, 0, 1);
    check_block_backward(16, 3, 1, 1);
    /* the one-pass backward where the maps stay in the images' layout (blocks whose pooled rows
     * are longer than the lanes' pass takes) */
    check_block_backward(64, 2, 1, 0);
    check_block_backward(16, 1, 0, 0);
    check_block_fallback(64, 2);
    check_block_fallback(16, 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtin_shapes),        cmocka_unit_test(test_tensor_names),
        cmocka_unit_test(test_init_bounds),           cmocka_unit_test(test_spec_errors),
        cmocka_unit_test(test_autoencoder_gradcheck), cmocka_unit_test(test_shared_encoder),
        cmocka_unit_test(test_eval_mode_and_training), cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_shared_buffers),        cmocka_unit_test(test_stack_infer),
        cmocka_unit_test(test_params_on_threads),     cmocka_unit_test(test_block_backward),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
