/* Every layer's backward against central finite differences of its forward.
 * The loss is L = sum(out * r) for a fixed random r, accumulated in double, so dL/dout = r. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "nn/layers.h"
#include "testutil.h"

#define H_STEP 1e-2
#define TOL 2e-3

typedef enum { CONV, CONVT, LINEAR, BN_TRAIN, BN_EVAL, LRELU, SIGMOID, MAXPOOL, UPSAMPLE } kind;

typedef struct probe {
    kind k;
    int B, C, H, W, Co, K, P;
    size_t n_in, n_w, n_out;
    float *x, *w, *out, *r, *dx, *dw;
    float *mean, *rstd, *rm, *rv;
    svdd__workspace ws;
} probe;

static void forward(probe *p) {
    switch (p->k) {
    case CONV: svdd__conv2d_forward(p->out, p->x, p->w, p->B, p->C, p->H, p->W, p->Co, p->K, p->P, &p->ws); break;
    case CONVT: svdd__conv_transpose2d_forward(p->out, p->x, p->w, p->B, p->C, p->H, p->W, p->Co, p->K, p->P, &p->ws); break;
    case LINEAR: svdd__linear_forward(p->out, p->x, p->w, p->B, p->C, p->Co, 1); break;
    case BN_TRAIN:
        svdd__batchnorm_forward_train(p->out, p->mean, p->rstd, NULL, NULL, p->x, p->B, p->C, p->H * p->W, 1e-4f, 0.1f, 1);
        break;
    case BN_EVAL: svdd__batchnorm_forward_eval(p->out, p->x, p->rm, p->rv, p->B, p->C, p->H * p->W, 1e-4f); break;
    case LRELU: svdd__leaky_relu_forward(p->out, p->x, p->n_in, 0.01f); break;
    case SIGMOID: svdd__sigmoid_forward(p->out, p->x, p->n_in); break;
    case MAXPOOL: svdd__maxpool2d_forward(p->out, p->x, p->B, p->C, p->H, p->W); break;
    case UPSAMPLE: svdd__upsample2d_forward(p->out, p->x, p->B, p->C, p->H, p->W); break;
    }
}

static void backward(probe *p) {
    memset(p->dw, 0, (p->n_w + 1) * sizeof(float));
    switch (p->k) {
    case CONV:
        svdd__conv2d_backward(p->dx, p->dw, p->r, p->x, p->w, p->B, p->C, p->H, p->W, p->Co, p->K, p->P, &p->ws);
        break;
    case CONVT:
        svdd__conv_transpose2d_backward(p->dx, p->dw, p->r, p->x, p->w, p->B, p->C, p->H, p->W, p->Co, p->K, p->P, &p->ws);
        break;
    case LINEAR: svdd__linear_backward(p->dx, p->dw, p->r, p->x, p->w, p->B, p->C, p->Co, 1); break;
    case BN_TRAIN: svdd__batchnorm_backward_train(p->dx, p->r, p->out, p->rstd, p->B, p->C, p->H * p->W, 1); break;
    case BN_EVAL: svdd__batchnorm_backward_eval(p->dx, p->r, p->rv, p->B, p->C, p->H * p->W, 1e-4f); break;
    case LRELU: svdd__leaky_relu_backward(p->dx, p->r, p->x, p->n_in, 0.01f); break;
    case SIGMOID: svdd__sigmoid_backward(p->dx, p->r, p->out, p->n_in); break;
    case MAXPOOL: svdd__maxpool2d_backward(p->dx, p->r, p->x, p->B, p->C, p->H, p->W); break;
    case UPSAMPLE: svdd__upsample2d_backward(p->dx, p->r, p->B, p->C, p->H, p->W); break;
    }
}

static double loss(void *ctx) {
    probe *p = ctx;
    forward(p);
    double s = 0;
    for (size_t i = 0; i < p->n_out; i++) s += (double)p->out[i] * p->r[i];
    return s;
}

static void probe_init(probe *p, kind k, int B, int C, int H, int W, int Co, int K, int P, uint64_t seed) {
    memset(p, 0, sizeof *p);
    p->k = k, p->B = B, p->C = C, p->H = H, p->W = W, p->Co = Co, p->K = K, p->P = P;
    p->n_in = (size_t)B * C * H * W;
    switch (k) {
    case CONV:
        p->n_w = (size_t)Co * C * K * K;
        p->n_out = (size_t)B * Co * (H + 2 * P - K + 1) * (W + 2 * P - K + 1);
        p->ws.size = svdd__conv2d_workspace(B, C, H, W, Co, K, P, 1);
        break;
    case CONVT:
        p->n_w = (size_t)C * Co * K * K;
        p->n_out = (size_t)B * Co * (H - 1 - 2 * P + K) * (W - 1 - 2 * P + K);
        p->ws.size = svdd__conv_transpose2d_workspace(B, C, H, W, Co, K, P, 1);
        break;
    case LINEAR:
        p->n_in = (size_t)B * C;
        p->n_w = (size_t)Co * C;
        p->n_out = (size_t)B * Co;
        break;
    case MAXPOOL: p->n_out = (size_t)B * C * (H / 2) * (W / 2); break;
    case UPSAMPLE: p->n_out = p->n_in * 4; break;
    default: p->n_out = p->n_in; break;
    }
    p->x = calloc(p->n_in, sizeof(float));
    p->w = calloc(p->n_w + 1, sizeof(float));
    p->dw = calloc(p->n_w + 1, sizeof(float));
    p->out = calloc(p->n_out, sizeof(float));
    p->r = calloc(p->n_out, sizeof(float));
    p->dx = calloc(p->n_in, sizeof(float));
    p->mean = calloc((size_t)C, sizeof(float));
    p->rstd = calloc((size_t)C, sizeof(float));
    p->rm = calloc((size_t)C, sizeof(float));
    p->rv = calloc((size_t)C, sizeof(float));
    p->ws.data = calloc(p->ws.size + 1, sizeof(float));
    svdd_test_fill_uniform(p->x, p->n_in, -1.0f, 1.0f, seed);
    svdd_test_fill_uniform(p->w, p->n_w, -0.5f, 0.5f, seed + 1);
    svdd_test_fill_uniform(p->r, p->n_out, -1.0f, 1.0f, seed + 2);
    svdd_test_fill_uniform(p->rm, (size_t)C, -0.5f, 0.5f, seed + 3);
    svdd_test_fill_uniform(p->rv, (size_t)C, 0.5f, 2.0f, seed + 4);
}

static void probe_free(probe *p) {
    free(p->x), free(p->w), free(p->dw), free(p->out), free(p->r), free(p->dx);
    free(p->mean), free(p->rstd), free(p->rm), free(p->rv), free(p->ws.data);
}

static void check(probe *p, const char *name) {
    forward(p);
    backward(p);
    char what[64];
    /* The loss is linear in the input and weights of conv, conv_transpose and linear, so a large
     * step has no truncation error and keeps float rounding noise small. */
    double h = (p->k == CONV || p->k == CONVT || p->k == LINEAR) ? 0.5 : H_STEP;
    snprintf(what, sizeof what, "%s d/dinput", name);
    svdd_test_gradcheck(what, p->x, p->n_in, p->dx, loss, p, 300, h, TOL, 99);
    if (p->n_w) {
        snprintf(what, sizeof what, "%s d/dweight", name);
        svdd_test_gradcheck(what, p->w, p->n_w, p->dw, loss, p, 300, h, TOL, 98);
    }
}

static void test_conv2d(void **state) {
    (void)state;
    probe p;
    probe_init(&p, CONV, 3, 2, 7, 6, 3, 5, 2, 1);
    check(&p, "conv2d k5 p2");
    probe_free(&p);
    probe_init(&p, CONV, 2, 3, 6, 6, 4, 3, 0, 2);
    check(&p, "conv2d k3 p0");
    probe_free(&p);
    /* 16 channels each side, 5x5, padding 2, even sides: the Winograd path */
    probe_init(&p, CONV, 2, 16, 6, 4, 16, 5, 2, 3);
    check(&p, "conv2d winograd");
    probe_free(&p);
}

static void test_conv_transpose2d(void **state) {
    (void)state;
    probe p;
    probe_init(&p, CONVT, 3, 2, 5, 4, 3, 5, 2, 3);
    check(&p, "conv_transpose2d k5 p2");
    probe_free(&p);
    /* padding 3 maps 16x16 to 14x14 as in the MNIST decoder */
    probe_init(&p, CONVT, 2, 2, 16, 16, 2, 5, 3, 4);
    assert_int_equal(p.n_out, (size_t)2 * 2 * 14 * 14);
    check(&p, "conv_transpose2d k5 p3");
    probe_free(&p);
    /* 16 channels each side, 5x5, padding 2, even sides: the Winograd path */
    probe_init(&p, CONVT, 1, 16, 6, 4, 16, 5, 2, 7);
    check(&p, "conv_transpose2d winograd");
    probe_free(&p);
}

static void test_linear(void **state) {
    (void)state;
    probe p;
    probe_init(&p, LINEAR, 4, 12, 1, 1, 5, 0, 0, 5);
    check(&p, "linear");
    probe_free(&p);
}

/* |got - (start + sum of a[k] b[k])| over |start| + the sum of the terms' sizes, in double. */
static double entry_error(float got, double start, const float *a, size_t sa, const float *b, size_t sb, int n) {
    double s = start, m = fabs(start);
    for (int k = 0; k < n; k++) {
        const double t = (double)a[(size_t)k * sa] * b[(size_t)k * sb];
        s += t, m += fabs(t);
    }
    return fabs(got - s) / m;
}

/* The larger error; a NaN stays. */
static double worse(double worst, double e) { return e > worst || isnan(e) ? e : worst; }

/* The large layers' blocks (linear.c): the product, the input gradient and the weight gradient
 * (added to what it held) within float rounding of sums in double, and the same floats on 1, 2
 * and 3 threads; shapes with uneven blocks and, with 5 images or 5 inputs, empty ones. */
static void test_linear_blocks(void **state) {
    (void)state;
    const int shapes[4][3] = {{200, 2048, 128}, {13, 700, 461}, {5, 1000, 1000}, {1000, 5, 1000}};
    for (int k = 0; k < 4; k++) {
        const int B = shapes[k][0], I = shapes[k][1], O = shapes[k][2];
        const size_t nx = (size_t)B * I, nw = (size_t)O * I, ny = (size_t)B * O;
        float *x = malloc(nx * 4), *w = malloc(nw * 4), *g = malloc(ny * 4), *dw0 = malloc(nw * 4);
        float *y[3], *dx[3], *dw[3];
        svdd_test_fill_uniform(x, nx, -1, 1, 71);
        svdd_test_fill_uniform(w, nw, -1, 1, 72);
        svdd_test_fill_uniform(g, ny, -1, 1, 73);
        svdd_test_fill_uniform(dw0, nw, -1, 1, 74);
        for (int T = 1; T <= 3; T++) {
            y[T - 1] = malloc(ny * 4), dx[T - 1] = malloc(nx * 4), dw[T - 1] = malloc(nw * 4);
            memcpy(dw[T - 1], dw0, nw * 4);
            svdd__linear_forward(y[T - 1], x, w, B, I, O, T);
            svdd__linear_backward(dx[T - 1], dw[T - 1], g, x, w, B, I, O, T);
            if (T > 1) {
                assert_memory_equal(y[0], y[T - 1], ny * 4);
                assert_memory_equal(dx[0], dx[T - 1], nx * 4);
                assert_memory_equal(dw[0], dw[T - 1], nw * 4);
            }
        }
        /* each entry against its own sum in double, relative to the sum of the terms' sizes */
        double worst = 0;
        for (int b = 0; b < B; b += 3) {
            for (int o = 0; o < O; o++)
                worst = worse(worst,
                              entry_error(y[0][(size_t)b * O + o], 0, x + (size_t)b * I, 1, w + (size_t)o * I, 1, I));
            for (int i = 0; i < I; i += 7)
                worst = worse(worst,
                              entry_error(dx[0][(size_t)b * I + i], 0, g + (size_t)b * O, 1, w + i, (size_t)I, O));
        }
        for (int o = 0; o < O; o += 3)
            for (int i = 0; i < I; i += 7)
                worst = worse(worst, entry_error(dw[0][(size_t)o * I + i], dw0[(size_t)o * I + i], g + o, (size_t)O,
                                                 x + i, (size_t)I, B));
        printf("  linear blocks %d x %d -> %d: worst error %.2e of the terms' sizes\n", B, I, O, worst);
        assert_true(worst < 1e-6);
        for (int T = 0; T < 3; T++) free(y[T]), free(dx[T]), free(dw[T]);
        free(x), free(w), free(g), free(dw0);
    }
}

static void test_batchnorm(void **state) {
    (void)state;
    probe p;
    probe_init(&p, BN_TRAIN, 4, 3, 3, 3, 0, 0, 0, 6);
    check(&p, "batchnorm2d train");
    probe_free(&p);
    probe_init(&p, BN_TRAIN, 6, 5, 1, 1, 0, 0, 0, 7);
    check(&p, "batchnorm1d train");
    probe_free(&p);
    probe_init(&p, BN_EVAL, 3, 4, 2, 3, 0, 0, 0, 8);
    check(&p, "batchnorm2d eval");
    probe_free(&p);
}

static void test_batchnorm_running_stats(void **state) {
    (void)state;
    /* one channel, values 1..4: mean 2.5, biased var 1.25, unbiased 5/3 */
    float x[4] = {1, 2, 3, 4}, out[4], mean, rstd, rm = 0.0f, rv = 1.0f;
    svdd__batchnorm_forward_train(out, &mean, &rstd, &rm, &rv, x, 4, 1, 1, 1e-5f, 0.1f, 1);
    assert_float_equal(mean, 2.5f, 1e-6f);
    assert_float_equal(rstd, (float)(1.0 / sqrt(1.25 + 1e-5)), 1e-6f);
    assert_float_equal(rm, 0.25f, 1e-6f);
    assert_float_equal(rv, (float)(0.9 + 0.1 * 5.0 / 3.0), 1e-6f);
    assert_float_equal(out[0], (float)(-1.5 / sqrt(1.25 + 1e-5)), 1e-6f);
}

static void test_leaky_relu(void **state) {
    (void)state;
    probe p;
    probe_init(&p, LRELU, 2, 3, 4, 4, 0, 0, 0, 9);
    /* keep every input further than the step from the kink at 0 */
    for (size_t i = 0; i < p.n_in; i++) p.x[i] = p.x[i] >= 0 ? p.x[i] + 0.05f : p.x[i] - 0.05f;
    check(&p, "leaky_relu");
    probe_free(&p);
}

/* The in-place form: the same input gradient bit for bit, from the output's sign, and the input
 * put back within a rounding (exactly where it was positive); its AVX2 build the same floats.
 * Slopes 0.01, 0.2 and 1. */
static void test_leaky_relu_restore(void **state) {
    (void)state;
    const size_t n = 4099;
    float *x = malloc(n * 4), *y = malloc(n * 4), *g = malloc(n * 4), *d0 = malloc(n * 4), *d1 = malloc(n * 4);
    float *yref = malloc(n * 4);
    svdd_test_fill_uniform(x, n, -3, 3, 61);
    svdd_test_fill_uniform(g, n, -1, 1, 62);
    x[0] = 0.0f, x[1] = -0.0f, x[2] = -1e-30f, x[3] = 1e-30f; /* the kink and denormal products */
    const float slopes[3] = {0.01f, 0.2f, 1.0f};
    for (int k = 0; k < 3; k++) {
        svdd__leaky_relu_forward(y, x, n, slopes[k]);
        svdd__leaky_relu_backward(d0, g, x, n, slopes[k]);
        svdd__leaky_relu_backward_restore(d1, g, y, n, slopes[k]);
        assert_memory_equal(d0, d1, n * sizeof(float));
        for (size_t i = 0; i < n; i++) {
            if (x[i] > 0) assert_true(y[i] == x[i]);
            else assert_true(fabsf(y[i] - x[i]) <= 2e-7f * fabsf(x[i]) + 1e-35f);
        }
        /* in place over the gradient, as the network runs it */
        memcpy(d1, g, n * sizeof(float));
        svdd__leaky_relu_forward(y, x, n, slopes[k]);
        svdd__leaky_relu_backward_restore(d1, d1, y, n, slopes[k]);
        assert_memory_equal(d0, d1, n * sizeof(float));
        /* the AVX2 build, in place too: the same gradient and the same restored input, bit for
         * bit, over lengths that leave every tail of a vector */
        memcpy(yref, y, n * sizeof(float));
        for (int simd = 0; simd <= svdd__cpu_avx2_fma(); simd++)
            for (size_t len = n - 9; len <= n; len++) {
                memcpy(d1, g, n * sizeof(float));
                svdd__leaky_relu_forward(y, x, n, slopes[k]);
                svdd__leaky_relu_backward_restore_as(d1, d1, y, len, slopes[k], simd);
                assert_memory_equal(d0, d1, len * sizeof(float));
                assert_memory_equal(yref, y, len * sizeof(float));
                assert_memory_equal(g + len, d1 + len, (n - len) * sizeof(float)); /* nothing past the end */
            }
    }
    free(x), free(y), free(g), free(d0), free(d1), free(yref);
}

static void test_sigmoid(void **state) {
    (void)state;
    probe p;
    probe_init(&p, SIGMOID, 2, 3, 4, 4, 0, 0, 0, 10);
    for (size_t i = 0; i < p.n_in; i++) p.x[i] *= 4.0f;
    check(&p, "sigmoid");
    probe_free(&p);
    float big[4] = {-100.0f, 100.0f, -1000.0f, 0.0f}, o[4];
    svdd__sigmoid_forward(o, big, 4);
    assert_true(o[0] >= 0.0f && o[0] < 1e-30f && o[1] == 1.0f && o[2] == 0.0f && o[3] == 0.5f);
}

static void test_maxpool2d(void **state) {
    (void)state;
    probe p;
    probe_init(&p, MAXPOOL, 2, 2, 6, 7, 0, 0, 0, 11);
    /* distinct values at least 0.05 apart inside every window, so the step never flips a max */
    svdd__rng r;
    svdd__rng_seed(&r, 5, 5);
    for (size_t i = 0; i < p.n_in; i++) p.x[i] = (float)svdd__rng_below(&r, 1000) * 0.05f + 0.001f * (float)(i % 7);
    check(&p, "maxpool2d");
    probe_free(&p);
    /* ties: the first maximum in row-major order takes the gradient */
    float x[4] = {1, 1, 1, 1}, d[4], g = 1.0f;
    svdd__maxpool2d_backward(d, &g, x, 1, 1, 2, 2);
    assert_true(d[0] == 1.0f && d[1] == 0.0f && d[2] == 0.0f && d[3] == 0.0f);
}

/* A row's windows go four at a time through SSE2 and the rest one by one: every window must pick
 * the same winner either way, the first maximum in row-major order with a NaN over any number.
 * Width 18 gives 8 + 1 windows a row; with even sizes backward must write every cell itself (no
 * odd edge to clear), so the input gradient starts as garbage. Also checked by finite differences
 * on an even size, where the windows 0-3 of every row take the SSE2 path. */
/* Winners on ties and NaN, on row widths that use the AVX2 groups of eight (with and without an
 * overlapping last group), the SSE2 groups of four and single windows, on both paths. */
static void test_maxpool2d_winners(void **state) {
    (void)state;
    enum { B = 2, C = 3, H = 5, WMAX = 34 };
    static float x[B * C * H * WMAX], dx[B * C * H * WMAX], out[B * C * WMAX], g[B * C * WMAX];
    const int widths[] = {18, 34, 32, 28, 16, 14, 9, 7, 3};
    const float values[4] = {-1.0f, 0.0f, 1.0f, NAN};
    svdd__rng r;
    svdd__rng_seed(&r, 17, 3);
    for (size_t wi = 0; wi < sizeof widths / sizeof widths[0]; wi++)
        for (int simd = 0; simd <= svdd__cpu_avx2_fma(); simd++) {
            const int W = widths[wi], Ho = H / 2, Wo = W / 2;
            for (size_t i = 0; i < (size_t)B * C * H * W; i++) x[i] = values[svdd__rng_below(&r, 4)];
            for (size_t i = 0; i < (size_t)B * C * Ho * Wo; i++) g[i] = 1.0f + (float)i;
            for (size_t i = 0; i < (size_t)B * C * H * W; i++) dx[i] = 99.0f;
            svdd__maxpool2d_forward_as(out, x, B, C, H, W, simd);
            svdd__maxpool2d_backward_as(dx, g, x, B, C, H, W, simd);
            for (int bc = 0; bc < B * C; bc++)
                for (int oy = 0; oy < Ho; oy++)
                    for (int ox = 0; ox < Wo; ox++) {
                        size_t cell[4], o = ((size_t)bc * Ho + oy) * Wo + ox;
                        int best = 0;
                        for (int k = 0; k < 4; k++) {
                            cell[k] = ((size_t)bc * H + 2 * oy + k / 2) * W + 2 * ox + k % 2;
                            float v = x[cell[k]], m = x[cell[best]];
                            if (v > m || (isnan(v) && !isnan(m))) best = k;
                        }
                        float want = x[cell[best]];
                        assert_true(isnan(want) ? isnan(out[o]) : out[o] == want);
                        for (int k = 0; k < 4; k++) assert_true(dx[cell[k]] == (k == best ? g[o] : 0.0f));
                    }
            /* the odd last row and column get no gradient */
            for (int bc = 0; bc < B * C; bc++)
                for (int xx = 0; xx < W; xx++) assert_true(dx[((size_t)bc * H + H - 1) * W + xx] == 0.0f);
        }
    probe p;
    probe_init(&p, MAXPOOL, 2, 2, 6, 10, 0, 0, 0, 15);
    for (size_t i = 0; i < p.n_in; i++) p.x[i] = (float)svdd__rng_below(&r, 1000) * 0.05f + 0.001f * (float)(i % 7);
    check(&p, "maxpool2d even");
    probe_free(&p);
}

/* Floats equal, zeros of the same sign, NaN equal to NaN. */
static int same_float(float a, float b) { return isnan(a) ? isnan(b) : a == b && !signbit(a) == !signbit(b); }

static double max_scaled_diff(const float *a, const float *b, size_t n);

/* Eight images at once, one per lane (src/kernels/conv_lanes.c): per lane the floats of the
 * per-image AVX2 kernel (the same fused multiply-adds in the same order), from both the AVX2 and
 * the portable version, over shapes that take every tile; the gathers into and out of the lanes
 * along the way. Without AVX2 the per-image kernel sums without fusing: then within 1e-5. The
 * weight gradient: both versions the same floats, their sum within 1e-5 of the per-image one. */
static void test_conv_lanes(void **state) {
    (void)state;
    const int shapes[][6] = {{1, 28, 28, 8, 5, 2}, {8, 14, 14, 4, 5, 2}, {2, 9, 13, 5, 3, 1},
                             {3, 6, 7, 1, 5, 4},   {4, 5, 11, 7, 3, 0},  {1, 3, 17, 2, 3, 1}};
    const int avx2 = svdd__cpu_avx2_fma();
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        const int Cin = shapes[si][0], H = shapes[si][1], W = shapes[si][2], Cout = shapes[si][3], K = shapes[si][4],
                  P = shapes[si][5], Hp = H + 2 * P, Wp = W + 2 * P, Ho = Hp - K + 1, Wo = Wp - K + 1;
        const size_t in = (size_t)Cin * H * W, out = (size_t)Cout * Ho * Wo;
        float *x = malloc(8 * in * sizeof(float)), *w = malloc((size_t)Cout * Cin * K * K * sizeof(float));
        float *want = malloc(8 * out * sizeof(float)), *got = malloc(8 * out * sizeof(float));
        float *pad = malloc(svdd__conv_direct_pad_floats(Cin, H, W, K, P) * sizeof(float));
        float *xp = svdd__alloc((size_t)Cin * Hp * Wp * 8, sizeof(float)), *o8 = svdd__alloc(out * 8, sizeof(float));
        svdd_test_fill_uniform(x, 8 * in, -1, 1, 40 + si);
        svdd_test_fill_uniform(w, (size_t)Cout * Cin * K * K, -0.5f, 0.5f, 50 + si);
        for (int l = 0; l < 8; l++)
            svdd__conv_direct_forward(want + l * out, x + l * in, w, Cin, H, W, Cout, K, P, pad, avx2);
        for (int simd = 0; simd <= avx2; simd++) {
            memset(xp, 0, (size_t)Cin * Hp * Wp * 8 * sizeof(float));
            for (int c = 0; c < Cin; c++)
                for (int y = 0; y < H; y++)
                    svdd__lanes_gather(xp + (((size_t)c * Hp + y + P) * Wp + P) * 8, x + ((size_t)c * H + y) * W, in, W,
                                       simd);
            svdd__conv_lanes_forward(o8, xp, w, Cin, H, W, Cout, K, P, simd);
            svdd__lanes_scatter(got, out, o8, (int)out, simd);
            for (size_t i = 0; i < 8 * out; i++) {
                const int ok = avx2 ? same_float(got[i], want[i]) : fabsf(got[i] - want[i]) <= 1e-5f * (1 + fabsf(want[i]));
                if (!ok)
                    fail_msg("lanes convolution %dx%dx%d -> %d, k=%d pad=%d, %s: image %zu float %zu: %.9g, want %.9g",
                             Cin, H, W, Cout, K, P, simd ? "AVX2" : "portable", i / out, i % out, got[i], want[i]);
            }
        }
        /* the weight gradient: the portable version gives the AVX2 one's floats; lane sums
         * against the per-image kernel's (another order: within 1e-5 of the largest) */
        float *g = malloc(8 * out * sizeof(float)), *g8 = svdd__alloc(out * 8, sizeof(float));
        const size_t nw = (size_t)Cout * Cin * K * K;
        float *v[2], *dw = calloc(nw, sizeof(float)), *dw_ref = calloc(nw, sizeof(float));
        float *vref = calloc(nw * 8, sizeof(float));
        float *wpad = malloc(svdd__conv_direct_wgrad_floats(Cin, H, W, Cout, K, P) * sizeof(float));
        svdd_test_fill_uniform(g, 8 * out, -1, 1, 60 + si);
        svdd__lanes_gather_images(g8, g, out, Cout, Ho, Wo, 0, 0);
        memset(xp, 0, (size_t)Cin * Hp * Wp * 8 * sizeof(float));
        svdd__lanes_gather_images(xp, x, in, Cin, H, W, P, 0);
        for (int simd = 0; simd < 2; simd++) {
            v[simd] = calloc(nw * 8, sizeof(float));
            svdd__conv_lanes_wgrad(v[simd], g8, (size_t)Wo * 8, out / Cout * 8, xp, Cin, H, W, Cout, K, P,
                                   simd && avx2);
        }
        for (size_t i = 0; i < nw * 8; i++)
            if (!same_float(v[0][i], v[1][i])) fail_msg("lanes weight gradient, portable against AVX2: float %zu", i);
        svdd__conv_direct_wgrad_reduce(dw, v[1], nw);
        for (int l = 0; l < 8; l++)
            svdd__conv_direct_wgrad(vref, g + l * out, x + l * in, Cin, H, W, Cout, K, P, wpad, avx2);
        svdd__conv_direct_wgrad_reduce(dw_ref, vref, nw);
        const double d = max_scaled_diff(dw, dw_ref, nw);
        if (!(d < 1e-5)) fail_msg("lanes weight gradient %dx%dx%d -> %d: %.2e from the per-image one", Cin, H, W, Cout, d);
        free(g), free(g8), free(v[0]), free(v[1]), free(dw), free(dw_ref), free(vref), free(wpad);
        free(x), free(w), free(want), free(got), free(pad), free(xp), free(o8);
    }
}

/* The lanes' pooling with evaluation batch norm and leaky ReLU after it: per lane what the row
 * kernel gives, bit for bit, with NaN, ties and signed zeros in the windows, odd edges, both
 * paths; and the plane without pooling through the same formula. */
static void test_maxpool2d_lanes(void **state) {
    (void)state;
    enum { H = 5, WMAX = 21 };
    static float x[H * WMAX * 8] __attribute__((aligned(32))), dst[H * WMAX * 8] __attribute__((aligned(32)));
    float plane[H * WMAX], row[WMAX];
    /* both zeros: which of two equal maxima wins shows in the sign (with m = 0, r = 1) */
    const float values[6] = {-1.0f, 0.0f, 1.0f, NAN, 0.25f, -0.0f};
    const svdd__pool_post posts[3] = {{0.5f, 2.0f, 0.01f, 1}, {-0.25f, 0.7f, 0.0f, 0}, {0.0f, 1.0f, 0.2f, 1}};
    svdd__rng r;
    svdd__rng_seed(&r, 19, 4);
    for (int W = 2; W <= WMAX; W += 3)
        for (int pi = 0; pi < 3; pi++)
            for (int pool = 0; pool <= 1; pool++)
                for (int simd = 0; simd <= svdd__cpu_avx2_fma(); simd++) {
                    const svdd__pool_post *post = &posts[pi];
                    for (int i = 0; i < H * W * 8; i++) x[i] = values[svdd__rng_below(&r, 6)];
                    const int Ho = pool ? H / 2 : H, Wo = pool ? W / 2 : W;
                    svdd__maxpool2d_lanes_post(dst, (size_t)Wo * 8, x, H, W, post, pool, simd);
                    for (int l = 0; l < 8; l++) {
                        for (int i = 0; i < H * W; i++) plane[i] = x[i * 8 + l];
                        for (int y = 0; y < Ho; y++) {
                            if (pool) {
                                svdd__maxpool2d_row_post(row, plane + 2 * y * W, plane + (2 * y + 1) * W, Wo, post,
                                                         simd);
                            } else {
                                for (int q = 0; q < W; q++) {
                                    const float t = (plane[y * W + q] - post->m) * post->r;
                                    row[q] = !post->act || t > 0.0f ? t : t * post->slope;
                                }
                            }
                            for (int q = 0; q < Wo; q++)
                                if (!same_float(dst[(y * Wo + q) * 8 + l], row[q]))
                                    fail_msg("lanes pooling W=%d post %d pool %d simd %d: lane %d (%d,%d): %g, want %g",
                                             W, pi, pool, simd, l, y, q, dst[(y * Wo + q) * 8 + l], row[q]);
                        }
                    }
                }
}

static void test_upsample2d(void **state) {
    (void)state;
    probe p;
    probe_init(&p, UPSAMPLE, 2, 3, 3, 4, 0, 0, 0, 12);
    check(&p, "upsample2d");
    probe_free(&p);
}

static double sq_loss_ctx(void *ctx) {
    float **v = ctx;
    return svdd__sq_error_loss(NULL, NULL, v[0], v[1], 3, 5);
}

static void test_sq_error_loss(void **state) {
    (void)state;
    float pred[15], target[15], d[15], per[3];
    svdd_test_fill_uniform(pred, 15, 0, 1, 13);
    svdd_test_fill_uniform(target, 15, 0, 1, 14);
    double l = svdd__sq_error_loss(d, per, pred, target, 3, 5);
    double ref = 0;
    for (int i = 0; i < 15; i++) ref += ((double)pred[i] - target[i]) * ((double)pred[i] - target[i]);
    assert_true(fabs(l - ref / 3) < 1e-6);
    assert_true(fabs((double)per[0] + per[1] + per[2] - ref) < 1e-5);
    float *ctx[2] = {pred, target};
    svdd_test_gradcheck("sq_error_loss", pred, 15, d, sq_loss_ctx, ctx, 15, 1e-3, 1e-3, 1);
}

/* <im2col(x), y> must equal <x, col2im(y)>: col2im is the adjoint the backward passes rely on. */
static void test_im2col_adjoint(void **state) {
    (void)state;
    const int nb = 2, C = 3, H = 5, W = 6, K = 3, P = 1, Ho = H + 2 * P - K + 1, Wo = W + 2 * P - K + 1;
    size_t nx = (size_t)nb * C * H * W, nc = (size_t)C * K * K * nb * Ho * Wo;
    float *x = malloc(nx * sizeof(float)), *y = malloc(nc * sizeof(float));
    float *cx = malloc(nc * sizeof(float)), *ty = malloc(nx * sizeof(float));
    svdd_test_fill_uniform(x, nx, -1, 1, 21);
    svdd_test_fill_uniform(y, nc, -1, 1, 22);
    svdd__im2col(cx, x, nb, C, H, W, K, P, Ho, Wo);
    svdd__col2im(ty, y, nb, C, H, W, K, P, Ho, Wo);
    double a = 0, b = 0;
    for (size_t i = 0; i < nc; i++) a += (double)cx[i] * y[i];
    for (size_t i = 0; i < nx; i++) b += (double)x[i] * ty[i];
    printf("  im2col adjoint: %.9f vs %.9f\n", a, b);
    assert_true(fabs(a - b) < 1e-4 * fabs(a) + 1e-6);
    free(x), free(y), free(cx), free(ty);
}

/* A convolution chunked over many images equals the per-image result (the chunk boundary is
 * forced by a batch larger than one chunk). */
static void test_conv2d_chunking(void **state) {
    (void)state;
    const int B = 70, C = 8, H = 28, W = 28, Co = 4, K = 5, P = 2;
    size_t nin = (size_t)B * C * H * W, nw = (size_t)Co * C * K * K, nout = (size_t)B * Co * H * W;
    float *x = malloc(nin * sizeof(float)), *w = malloc(nw * sizeof(float));
    float *o1 = malloc(nout * sizeof(float)), *o2 = malloc(nout * sizeof(float));
    svdd_test_fill_uniform(x, nin, -1, 1, 31);
    svdd_test_fill_uniform(w, nw, -1, 1, 32);
    svdd__workspace ws = {NULL, svdd__conv2d_workspace(B, C, H, W, Co, K, P, 1), 1};
    ws.data = malloc(ws.size * sizeof(float));
    svdd__conv2d_forward(o1, x, w, B, C, H, W, Co, K, P, &ws);
    svdd__workspace ws1 = {NULL, svdd__conv2d_workspace(1, C, H, W, Co, K, P, 1), 1};
    ws1.data = malloc(ws1.size * sizeof(float));
    for (int b = 0; b < B; b++)
        svdd__conv2d_forward(o2 + (size_t)b * Co * H * W, x + (size_t)b * C * H * W, w, 1, C, H, W, Co, K, P, &ws1);
    size_t at;
    double d = svdd_test_max_rel_diff(o1, o2, nout, 1e-3, &at);
    printf("  conv2d chunked vs per-image: max rel diff %.3e\n", d);
    assert_true(d < 1e-5);
    free(x), free(w), free(o1), free(o2), free(ws.data), free(ws1.data);
}

/* Both convolutions on two threads against one: equal to float rounding (the chunks, and so the
 * products' shapes, differ, and the per-thread weight gradients are summed in another grouping). */
static void test_threads_match_one_thread(void **state) {
    (void)state;
    const int B = 37, C = 4, H = 14, W = 14, Co = 6, K = 5, P = 2;
    for (int transposed = 0; transposed < 2; transposed++) {
        /* cppcheck-suppress duplicateValueTernary ; both are 14 here ("same" padding), each formula for its layer */
        int Ho = transposed ? H - 1 - 2 * P + K : H + 2 * P - K + 1;
        size_t nin = (size_t)B * C * H * W, nw = (size_t)Co * C * K * K, nout = (size_t)B * Co * Ho * Ho;
        float *x = malloc(nin * 4), *w = malloc(nw * 4), *g = malloc(nout * 4);
        float *o[2], *dx[2], *dw[2];
        svdd_test_fill_uniform(x, nin, -1, 1, 41);
        svdd_test_fill_uniform(w, nw, -1, 1, 42);
        svdd_test_fill_uniform(g, nout, -1, 1, 43);
        for (int T = 1; T <= 2; T++) {
            size_t wsz = transposed ? svdd__conv_transpose2d_workspace(B, C, H, W, Co, K, P, T)
                                    : svdd__conv2d_workspace(B, C, H, W, Co, K, P, T);
            svdd__workspace ws = {malloc(wsz * 4), wsz, T};
            o[T - 1] = malloc(nout * 4), dx[T - 1] = malloc(nin * 4), dw[T - 1] = calloc(nw, 4);
            if (transposed) {
                svdd__conv_transpose2d_forward(o[T - 1], x, w, B, C, H, W, Co, K, P, &ws);
                svdd__conv_transpose2d_backward(dx[T - 1], dw[T - 1], g, x, w, B, C, H, W, Co, K, P, &ws);
            } else {
                svdd__conv2d_forward(o[T - 1], x, w, B, C, H, W, Co, K, P, &ws);
                svdd__conv2d_backward(dx[T - 1], dw[T - 1], g, x, w, B, C, H, W, Co, K, P, &ws);
            }
            free(ws.data);
        }
        size_t at;
        double dout_ = svdd_test_max_rel_diff(o[1], o[0], nout, 1e-3, &at);
        double ddx = svdd_test_max_rel_diff(dx[1], dx[0], nin, 1e-3, &at);
        double ddw = svdd_test_max_rel_diff(dw[1], dw[0], nw, 1e-2, &at);
        printf("  %s, 2 threads vs 1: output %.2e, input grad %.2e, weight grad %.2e\n",
               transposed ? "conv_transpose2d" : "conv2d", dout_, ddx, ddw);
        assert_true(dout_ < 1e-4 && ddx < 1e-4 && ddw < 1e-3);
        for (int T = 0; T < 2; T++) free(o[T]), free(dx[T]), free(dw[T]);
        free(x), free(w), free(g);
    }
}

/* Largest |a - b| relative to the largest |b|: sums of hundreds of products in another order
 * differ by rounding relative to their terms, not to a result that happens to cancel. */
static double max_scaled_diff(const float *a, const float *b, size_t n) {
    double d = 0, m = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - (double)b[i]);
        if (!(e <= d)) d = isnan(e) ? INFINITY : e;
        if (fabs((double)b[i]) > m) m = fabs((double)b[i]);
    }
    return d / (m > 0 ? m : 1);
}

/* Each direct kernel (AVX2+FMA when the CPU has it, and the portable loops) and Winograd's
 * F(2x2, 5x5) against the reference im2col path: forward, input gradient and weight gradient, on
 * the networks' shapes and on edge cases (one output channel, widths not a multiple of 8 or above
 * 32, K = 3, no padding, padding K - 1). Shapes Winograd does not fit fall back to im2col on that
 * path. */
static void compare_conv_paths(int transposed, int B, int C, int H, int W, int Co, int K, int P, uint64_t seed) {
    const int Ho = transposed ? H - 1 - 2 * P + K : H + 2 * P - K + 1, Wo = transposed ? W - 1 - 2 * P + K : W + 2 * P - K + 1;
    size_t nin = (size_t)B * C * H * W, nw = (size_t)Co * C * K * K, nout = (size_t)B * Co * Ho * Wo;
    float *x = malloc(nin * 4), *w = malloc(nw * 4), *g = malloc(nout * 4);
    svdd_test_fill_uniform(x, nin, -1, 1, seed);
    svdd_test_fill_uniform(w, nw, -1, 1, seed + 1);
    svdd_test_fill_uniform(g, nout, -1, 1, seed + 2);
    enum { NP = 4 };
    const svdd__conv_path paths[NP] = {SVDD__CONV_IM2COL, SVDD__CONV_DIRECT, SVDD__CONV_DIRECT_SCALAR,
                                       SVDD__CONV_WINOGRAD};
    float *o[NP], *dx[NP], *dw[NP];
    for (int i = 0; i < NP; i++) {
        for (int T = 1; T <= 2; T++) {
            size_t wsz = transposed ? svdd__conv_transpose2d_workspace_as(B, C, H, W, Co, K, P, 1, T, paths[i])
                                    : svdd__conv2d_workspace_as(B, C, H, W, Co, K, P, T, paths[i]);
            /* garbage in the scratch: the kernels must not rely on zeroed memory */
            svdd__workspace ws = {malloc(wsz * 4), wsz, T};
            for (size_t j = 0; j < wsz; j++) ws.data[j] = NAN;
            float *oo = malloc(nout * 4), *dd = malloc(nin * 4), *ww = calloc(nw, 4);
            for (size_t j = 0; j < nin; j++) dd[j] = NAN;
            if (transposed) {
                svdd__conv_transpose2d_forward_as(oo, x, w, B, C, H, W, Co, K, P, 1, &ws, paths[i]);
                svdd__conv_transpose2d_backward_as(dd, ww, g, x, w, B, C, H, W, Co, K, P, 1, &ws, paths[i]);
            } else {
                svdd__conv2d_forward_as(oo, x, w, B, C, H, W, Co, K, P, &ws, paths[i]);
                svdd__conv2d_backward_as(dd, ww, g, x, w, B, C, H, W, Co, K, P, &ws, paths[i]);
            }
            free(ws.data);
            if (T == 1) {
                o[i] = oo, dx[i] = dd, dw[i] = ww;
                continue;
            }
            /* The same path on two threads. The direct kernels compute every value the same way
             * whatever the split (the weight gradient over fixed groups of images); the products'
             * blocking may vary with the chunk's width, and their weight gradient is summed per
             * thread (on the Winograd path too, in its transformed form). */
            const int products = paths[i] == SVDD__CONV_IM2COL || paths[i] == SVDD__CONV_WINOGRAD;
            const double same = products ? 1e-6 : 0;
            assert_true(max_scaled_diff(oo, o[i], nout) <= same && max_scaled_diff(dd, dx[i], nin) <= same);
            assert_true(max_scaled_diff(ww, dw[i], nw) <= (products ? 1e-5 : 0));
            free(oo), free(dd), free(ww);
        }
    }
    static const char *const names[NP] = {"im2col", "direct", "direct scalar", "winograd"};
    for (int i = 1; i < NP; i++) {
        double a = max_scaled_diff(o[i], o[0], nout), b = max_scaled_diff(dx[i], dx[0], nin);
        double c = max_scaled_diff(dw[i], dw[0], nw);
        const int wino = paths[i] == SVDD__CONV_WINOGRAD && svdd__winograd_fits(C, Co, H, W, K, P);
        if (paths[i] == SVDD__CONV_WINOGRAD && !wino) continue; /* im2col again */
        printf("  %s %dx%dx%d -> %d k%d p%d, %s vs im2col: output %.2e, input grad %.2e, weight grad %.2e\n",
               transposed ? "conv_transpose2d" : "conv2d", C, H, W, Co, K, P, names[i], a, b, c);
        /* Winograd's transforms add a few roundings per value (see winograd.c) */
        const double tol = wino ? 2e-5 : 1e-5;
        assert_true(a < tol && b < tol && c < tol);
    }
    for (int i = 0; i < NP; i++) free(o[i]), free(dx[i]), free(dw[i]);
    free(x), free(w), free(g);
}

static void test_conv_direct_matches_im2col(void **state) {
    (void)state;
    printf("  AVX2+FMA kernels %s\n", svdd__cpu_avx2_fma() ? "tested" : "not available: scalar twice");
    /* the MNIST encoder and decoder layers */
    compare_conv_paths(0, 5, 1, 28, 28, 8, 5, 2, 51);
    compare_conv_paths(0, 5, 8, 14, 14, 4, 5, 2, 52);
    compare_conv_paths(1, 5, 2, 8, 8, 4, 5, 2, 53);
    compare_conv_paths(1, 5, 4, 16, 16, 8, 5, 3, 54);
    compare_conv_paths(1, 5, 8, 28, 28, 1, 5, 2, 55);
    /* whole groups of eight images, which the direct path takes in the lanes with AVX2, and the
     * images left over (on two threads the forward's slices hold 9 and 10 or 8 and 9 of them) */
    compare_conv_paths(0, 19, 1, 28, 28, 8, 5, 2, 68);
    compare_conv_paths(0, 17, 8, 14, 14, 4, 5, 2, 69);
    compare_conv_paths(0, 16, 3, 9, 13, 5, 3, 1, 70);
    compare_conv_paths(0, 9, 2, 6, 5, 13, 3, 2, 71);
    compare_conv_paths(0, 8, 2, 7, 12, 3, 3, 0, 72);
    compare_conv_paths(1, 17, 2, 8, 8, 4, 5, 2, 73);
    compare_conv_paths(1, 9, 4, 16, 16, 8, 5, 3, 74);
    compare_conv_paths(1, 16, 3, 5, 7, 2, 3, 0, 75);
    /* wider than 32 with a tail, odd heights, K = 3, no padding, padding K - 1, many channels */
    compare_conv_paths(0, 3, 3, 9, 45, 10, 3, 1, 56);
    compare_conv_paths(0, 2, 2, 7, 12, 3, 3, 0, 57);
    compare_conv_paths(0, 3, 2, 6, 5, 13, 3, 2, 58);
    compare_conv_paths(1, 3, 3, 5, 7, 2, 3, 0, 59);
    compare_conv_paths(0, 2, 4, 11, 9, 2, 7, 3, 60);
    /* the CIFAR-10 encoder and decoder layers */
    compare_conv_paths(0, 2, 3, 32, 32, 32, 5, 2, 61);
    compare_conv_paths(0, 2, 32, 16, 16, 64, 5, 2, 62);
    compare_conv_paths(0, 2, 64, 8, 8, 128, 5, 2, 63);
    compare_conv_paths(1, 2, 8, 4, 4, 128, 5, 2, 64);
    compare_conv_paths(1, 2, 128, 8, 8, 64, 5, 2, 65);
    compare_conv_paths(1, 2, 64, 16, 16, 32, 5, 2, 66);
    compare_conv_paths(1, 2, 32, 32, 32, 3, 5, 2, 67);
    /* Winograd: rows of tiles that are not whole vectors of four (5 and 3 tiles), one tile, and
     * batches whose threads' chunks differ in size */
    compare_conv_paths(0, 5, 5, 6, 10, 7, 5, 2, 82);
    compare_conv_paths(0, 3, 17, 2, 2, 16, 5, 2, 83);
    compare_conv_paths(0, 7, 16, 12, 6, 19, 5, 2, 84);
    compare_conv_paths(1, 5, 5, 6, 10, 7, 5, 2, 85);
    compare_conv_paths(1, 7, 16, 12, 6, 19, 5, 2, 86);
}

/* Winograd's rounding against exact sums: the forward's largest error against a double-precision
 * sum, next to that of a plain float sum over the same 25 * Cin terms (one accumulator, channel
 * by channel, tap by tap), on the CIFAR-10 encoder's wide layers with inputs like a leaky ReLU's
 * output and weights of He initialisation's scale. The transforms may add a few roundings, not
 * orders of magnitude. */
static void winograd_rounding(int Cin, int Cout, int H, uint64_t seed) {
    const int B = 2, W = H;
    const size_t nin = (size_t)B * Cin * H * W, nw = (size_t)Cout * Cin * 25, nout = (size_t)B * Cout * H * W;
    float *x = malloc(nin * 4), *w = malloc(nw * 4), *o = malloc(nout * 4);
    svdd_test_fill_uniform(x, nin, 0.0f, 2.0f, seed);
    const float a = sqrtf(6.0f / (25.0f * (float)Cin));
    svdd_test_fill_uniform(w, nw, -a, a, seed + 1);
    const size_t wsz = svdd__conv2d_workspace_as(B, Cin, H, W, Cout, 5, 2, 1, SVDD__CONV_WINOGRAD);
    svdd__workspace ws = {malloc(wsz * 4), wsz, 1};
    svdd__conv2d_forward_as(o, x, w, B, Cin, H, W, Cout, 5, 2, &ws, SVDD__CONV_WINOGRAD);
    double e_wino = 0, e_float = 0, top = 0;
    for (int b = 0; b < B; b++)
        for (int k = 0; k < Cout; k++)
            for (int y = 0; y < H; y++)
                for (int xx = 0; xx < W; xx++) {
                    double exact = 0;
                    float plain = 0;
                    for (int c = 0; c < Cin; c++)
                        for (int u = 0; u < 5; u++)
                            for (int v = 0; v < 5; v++) {
                                const int iy = y + u - 2, ix = xx + v - 2;
                                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                                const float wv = w[((size_t)k * Cin + c) * 25 + u * 5 + v];
                                const float xv = x[(((size_t)b * Cin + c) * H + iy) * W + ix];
                                exact += (double)wv * xv;
                                plain += wv * xv;
                            }
                    const double got = o[(((size_t)b * Cout + k) * H + y) * W + xx];
                    if (fabs(got - exact) > e_wino) e_wino = fabs(got - exact);
                    if (fabs((double)plain - exact) > e_float) e_float = fabs((double)plain - exact);
                    if (fabs(exact) > top) top = fabs(exact);
                }
    printf("  winograd %dx%dx%d -> %d: largest error %.2e (plain float sum %.2e) on outputs up to %.2f\n", Cin, H, W,
           Cout, e_wino, e_float, top);
    assert_true(e_float > 0 && e_wino <= 4 * e_float);
    free(x), free(w), free(o), free(ws.data);
}

static void test_winograd_rounding(void **state) {
    (void)state;
    winograd_rounding(32, 64, 16, 91);
    winograd_rounding(64, 128, 8, 92);
}

/* A transposed convolution that upsamples its input as it reads it (up = 2) gives the floats of
 * upsample2d followed by the plain layer, on every path and thread count: output, the gradient
 * of the small input map (the upsampling's backward of the layer's input gradient) and the
 * weight gradient, bit for bit. h, w: the small map. */
static void compare_upsampled_input(int B, int C, int h, int w, int Co, int K, int P, uint64_t seed) {
    const int H = 2 * h, W = 2 * w, Ho = H - 1 - 2 * P + K, Wo = W - 1 - 2 * P + K;
    const size_t nx = (size_t)B * C * h * w, nu = 4 * nx, nw = (size_t)Co * C * K * K, nout = (size_t)B * Co * Ho * Wo;
    float *x = malloc(nx * 4), *u = malloc(nu * 4), *wt = malloc(nw * 4), *g = malloc(nout * 4);
    svdd_test_fill_uniform(x, nx, -1, 1, seed);
    svdd_test_fill_uniform(wt, nw, -1, 1, seed + 1);
    svdd_test_fill_uniform(g, nout, -1, 1, seed + 2);
    svdd__upsample2d_forward(u, x, B, C, h, w);
    const svdd__conv_path paths[4] = {SVDD__CONV_IM2COL, SVDD__CONV_DIRECT, SVDD__CONV_DIRECT_SCALAR,
                                      SVDD__CONV_WINOGRAD};
    for (int i = 0; i < 4; i++)
        for (int T = 1; T <= 2; T++) {
            const size_t w1 = svdd__conv_transpose2d_workspace_as(B, C, H, W, Co, K, P, 1, T, paths[i]);
            const size_t w2 = svdd__conv_transpose2d_workspace_as(B, C, H, W, Co, K, P, 2, T, paths[i]);
            svdd__workspace ws1 = {malloc(w1 * 4), w1, T}, ws2 = {malloc(w2 * 4), w2, T};
            for (size_t j = 0; j < w1; j++) ws1.data[j] = NAN;
            for (size_t j = 0; j < w2; j++) ws2.data[j] = NAN;
            float *o1 = malloc(nout * 4), *o2 = malloc(nout * 4), *du = malloc(nu * 4), *dx1 = malloc(nx * 4);
            float *dx2 = malloc(nx * 4), *dw1 = calloc(nw, 4), *dw2 = calloc(nw, 4);
            for (size_t j = 0; j < nx; j++) dx2[j] = NAN;
            svdd__conv_transpose2d_forward_as(o1, u, wt, B, C, H, W, Co, K, P, 1, &ws1, paths[i]);
            svdd__conv_transpose2d_backward_as(du, dw1, g, u, wt, B, C, H, W, Co, K, P, 1, &ws1, paths[i]);
            svdd__upsample2d_backward(dx1, du, B, C, h, w);
            svdd__conv_transpose2d_forward_as(o2, x, wt, B, C, H, W, Co, K, P, 2, &ws2, paths[i]);
            svdd__conv_transpose2d_backward_as(dx2, dw2, g, x, wt, B, C, H, W, Co, K, P, 2, &ws2, paths[i]);
            if (memcmp(o1, o2, nout * 4) != 0 || memcmp(dx1, dx2, nx * 4) != 0 || memcmp(dw1, dw2, nw * 4) != 0)
                fail_msg("conv_transpose2d %dx%dx%d (upsampled) -> %d, path %d, %d threads: differs from "
                         "upsample2d + conv_transpose2d",
                         C, h, w, Co, i, T);
            /* no input gradient wanted: the weight gradient alone */
            float *dw3 = calloc(nw, 4);
            svdd__conv_transpose2d_backward_as(NULL, dw3, g, x, wt, B, C, H, W, Co, K, P, 2, &ws2, paths[i]);
            assert_memory_equal(dw3, dw1, nw * 4);
            free(ws1.data), free(ws2.data), free(o1), free(o2), free(du), free(dx1), free(dx2), free(dw1), free(dw2);
            free(dw3);
        }
    free(x), free(u), free(wt), free(g);
}

static void test_conv_transpose_upsampled_input(void **state) {
    (void)state;
    /* the MNIST and CIFAR-10 decoders' upsample + transposed convolution pairs */
    compare_upsampled_input(5, 2, 4, 4, 4, 5, 2, 71);
    compare_upsampled_input(5, 4, 8, 8, 8, 5, 3, 72);
    compare_upsampled_input(5, 8, 14, 14, 1, 5, 2, 73);
    compare_upsampled_input(3, 128, 4, 4, 64, 5, 2, 74);
    compare_upsampled_input(3, 64, 8, 8, 32, 5, 2, 75);
    compare_upsampled_input(3, 32, 16, 16, 3, 5, 2, 76);
    /* odd sizes, K = 3 without padding, one image */
    compare_upsampled_input(1, 3, 3, 5, 2, 3, 0, 77);
    compare_upsampled_input(4, 2, 5, 3, 3, 3, 1, 78);
    /* Winograd: rows of 5 tiles, and threads' chunks that differ */
    compare_upsampled_input(5, 5, 3, 5, 7, 5, 2, 82);
    /* whole groups of eight in the lanes, and the images left over */
    compare_upsampled_input(19, 2, 4, 4, 4, 5, 2, 79);
    compare_upsampled_input(17, 8, 14, 14, 1, 5, 2, 80);
    compare_upsampled_input(9, 2, 5, 3, 3, 3, 1, 81);
}

/* The plain batch norm: one double accumulator per sum, in order. */
static void bn_reference(float *out, float *mean, float *rstd, float *rm, float *rv, float *dx, const float *x,
                         const float *dy, int B, int C, int S, float eps, float momentum) {
    const size_t n = (size_t)B * S;
    for (int c = 0; c < C; c++) {
        double sum = 0, ss = 0, sdy = 0, sdyx = 0;
        for (int b = 0; b < B; b++)
            for (int s = 0; s < S; s++) sum += x[((size_t)b * C + c) * S + s];
        double mu = sum / (double)n;
        for (int b = 0; b < B; b++)
            for (int s = 0; s < S; s++) {
                double d = x[((size_t)b * C + c) * S + s] - mu;
                ss += d * d;
            }
        float r = (float)(1.0 / sqrt(ss / (double)n + eps)), m = (float)mu;
        mean[c] = m, rstd[c] = r;
        rm[c] = (float)((1.0 - momentum) * rm[c] + momentum * mu);
        rv[c] = (float)((1.0 - momentum) * rv[c] + momentum * (ss / (double)(n - 1)));
        for (int b = 0; b < B; b++)
            for (int s = 0; s < S; s++) {
                size_t i = ((size_t)b * C + c) * S + s;
                out[i] = (x[i] - m) * r;
                sdy += dy[i];
                sdyx += (double)dy[i] * out[i];
            }
        float mdy = (float)(sdy / (double)n), mdyx = (float)(sdyx / (double)n);
        for (int b = 0; b < B; b++)
            for (int s = 0; s < S; s++) {
                size_t i = ((size_t)b * C + c) * S + s;
                dx[i] = r * (dy[i] - mdy - out[i] * mdyx);
            }
    }
}

/* The batch norm kernels (portable, and AVX2 when the CPU has it, on one and two threads)
 * against the plain one, on plane sizes with and without a remainder of 8, on data far from zero
 * mean (where a careless variance loses digits). */
static void test_batchnorm_matches_reference(void **state) {
    (void)state;
    /* 37 channels: two whole chunks of the kernels' channel loop and a part of one; the first,
     * the last two (3 images in uneven shares, 1 image among more threads) and the fifth are
     * large enough for threads */
    const int shapes[7][3] = {{20, 3, 784}, {9, 5, 196}, {7, 4, 13}, {50, 6, 1}, {30, 37, 30}, {3, 5, 2500}, {1, 40, 1000}};
    for (int k = 0; k < 7; k++) {
        const int B = shapes[k][0], C = shapes[k][1], S = shapes[k][2];
        const size_t n = (size_t)B * C * S;
        float *x = malloc(n * 4), *dy = malloc(n * 4), *out0 = malloc(n * 4), *dx0 = malloc(n * 4);
        float *out = malloc(n * 4), *dx = malloc(n * 4);
        float mean0[40], rstd0[40], rm0[40] = {0}, rv0[40], mean[40], rstd[40], rm[40], rv[40];
        svdd_test_fill_uniform(x, n, 3.0f, 5.0f, 71 + k);
        svdd_test_fill_uniform(dy, n, -1.0f, 1.0f, 81 + k);
        for (int c = 0; c < C; c++) rv0[c] = 1.0f;
        bn_reference(out0, mean0, rstd0, rm0, rv0, dx0, x, dy, B, C, S, 1e-4f, 0.1f);
        double *split = calloc(svdd__batchnorm_split_doubles(C, B), sizeof(double));
        float *out2 = malloc(n * 4), *dx2 = malloc(n * 4), st2[4][40];
        for (int simd = 0; simd <= svdd__cpu_avx2_fma(); simd++)
            for (int T = 1; T <= 3; T++)
                for (int by_images = 0; by_images <= 1; by_images++) {
                    for (int c = 0; c < C; c++) rm[c] = 0.0f, rv[c] = 1.0f;
                    double *sp = by_images ? split : NULL;
                    memset(out, 0xff, n * 4), memset(dx, 0xff, n * 4); /* NaN where nothing is written */
                    svdd__batchnorm_forward_train_as(out, mean, rstd, rm, rv, x, B, C, S, 1e-4f, 0.1f, T, simd, sp);
                    svdd__batchnorm_backward_train_as(dx, dy, out, rstd, B, C, S, T, simd, sp);
                    double d_out = max_scaled_diff(out, out0, n), d_dx = max_scaled_diff(dx, dx0, n);
                    double d_st = fmax(fmax(max_scaled_diff(mean, mean0, (size_t)C), max_scaled_diff(rstd, rstd0, (size_t)C)),
                                       fmax(max_scaled_diff(rm, rm0, (size_t)C), max_scaled_diff(rv, rv0, (size_t)C)));
                    printf("  batchnorm B%d C%d S%d %s, %d thread(s) by %s: statistics %.2e, output %.2e, input grad %.2e\n",
                           B, C, S, simd ? "AVX2" : "portable", T, by_images ? "images" : "channels", d_st, d_out, d_dx);
                    assert_true(d_st < 1e-6 && d_out < 1e-6 && d_dx < 1e-6);
                    /* by images, the groups' sums are added in group order: the same floats on
                     * any number of threads above one */
                    const float *st[4] = {mean, rstd, rm, rv};
                    if (by_images && T == 2) {
                        memcpy(out2, out, n * 4), memcpy(dx2, dx, n * 4);
                        for (int i = 0; i < 4; i++) memcpy(st2[i], st[i], (size_t)C * 4);
                    } else if (by_images && T == 3) {
                        assert_memory_equal(out, out2, n * 4), assert_memory_equal(dx, dx2, n * 4);
                        for (int i = 0; i < 4; i++) assert_memory_equal(st[i], st2[i], (size_t)C * 4);
                    }
                }
        free(x), free(dy), free(out0), free(dx0), free(out), free(dx), free(split), free(out2), free(dx2);
    }
}

/* The backward's sums add eight values of a lane in float before the double lanes (batchnorm.c,
 * "float blocks"), at most 2^-22 of their absolute sum off. On output gradients with a large
 * common offset the input gradient stays within that of the double reference: the bound is
 * 2^-22 rstd max|dy| (2 + max|xhat|^2), the error of both means and the formula's rounding on top.
 * Offsets: dy in [1000, 1001], and dy constant over each channel (1000.3 and 999.9), where the
 * input gradient nearly vanishes (batch norm's output does not change when its input shifts) and
 * the blocks, sums of equal values, are exact (one float sum per lane over each plane went 4 times
 * past this bound on the planes of 4096, measured). Portable and AVX2, by channels (one thread) and
 * by images (two), on planes with whole blocks, a short last one and a remainder of less than
 * eight. */
static void test_batchnorm_grad_offset(void **state) {
    (void)state;
    const int shapes[4][3] = {{20, 3, 784}, {9, 5, 196}, {16, 2, 61}, {4, 2, 4096}};
    for (int k = 0; k < 4; k++)
        for (int constant = 0; constant <= 1; constant++) {
            const int B = shapes[k][0], C = shapes[k][1], S = shapes[k][2];
            const size_t n = (size_t)B * C * S;
            float *x = malloc(n * 4), *dy = malloc(n * 4), *out0 = malloc(n * 4), *dx0 = malloc(n * 4);
            float *out = malloc(n * 4), *dx = malloc(n * 4);
            float mean0[5], rstd0[5], rm0[5] = {0}, rv0[5], mean[5], rstd[5], rm[5], rv[5];
            double *split = calloc(svdd__batchnorm_split_doubles(C, B), sizeof(double));
            assert_true(x && dy && out0 && dx0 && out && dx && split);
            svdd_test_fill_uniform(x, n, 3.0f, 5.0f, 91 + k);
            svdd_test_fill_uniform(dy, n, 1000.0f, 1001.0f, 95 + k);
            if (constant)
                for (size_t i = 0; i < n; i++) dy[i] = i / (size_t)S % (size_t)C % 2 ? 999.9f : 1000.3f;
            for (int c = 0; c < C; c++) rv0[c] = 1.0f;
            bn_reference(out0, mean0, rstd0, rm0, rv0, dx0, x, dy, B, C, S, 1e-4f, 0.1f);
            double xh_max = 0;
            for (size_t i = 0; i < n; i++) xh_max = fmax(xh_max, fabs((double)out0[i]));
            for (int simd = 0; simd <= svdd__cpu_avx2_fma(); simd++)
                for (int T = 1; T <= 2; T++) {
                    for (int c = 0; c < C; c++) rm[c] = 0.0f, rv[c] = 1.0f;
                    double *sp = T > 1 ? split : NULL;
                    svdd__batchnorm_forward_train_as(out, mean, rstd, rm, rv, x, B, C, S, 1e-4f, 0.1f, T, simd, sp);
                    assert_memory_equal(out, out0, n * 4); /* the forward's statistics stay in double */
                    svdd__batchnorm_backward_train_as(dx, dy, out, rstd, B, C, S, T, simd, sp);
                    double worst = 0;
                    for (size_t i = 0; i < n; i++) {
                        const int c = (int)(i / (size_t)S % (size_t)C);
                        const double bound = ldexp((double)rstd0[c] * 1001.0 * (2.0 + xh_max * xh_max), -22);
                        worst = fmax(worst, fabs((double)dx[i] - (double)dx0[i]) / bound);
                    }
                    printf("  batchnorm backward, dy %s, B%d C%d S%d %s, %d thread(s): %.3f of the bound\n",
                           constant ? "constant per channel" : "in [1000, 1001]", B, C, S, simd ? "AVX2" : "portable",
                           T, worst);
                    assert_true(worst <= 1.0);
                }
            free(x), free(dy), free(out0), free(dx0), free(out), free(dx), free(split);
        }
}

/* The image split adds its groups' sums in group order, whatever the thread count. On ordinary
 * data another order changes only a double's last bits, which vanish in the float statistics (so
 * test_batchnorm_matches_reference's comparison of two and three threads cannot see it); here the
 * sums cancel: +1e16 in group 0, -1e16 in group 1 and 1 in group 2 total 1 in group order and 0
 * added the other way round, so a thread-dependent order changes the mean itself. */
static void test_batchnorm_group_order(void **state) {
    (void)state;
    /* large enough for threads (SVDD__PARALLEL_MIN_FLOATS) */
    enum { B = 24, C = 2, S = 1024 };
    const size_t n = (size_t)B * C * S;
    float *x = calloc(n, sizeof(float)), *dy = calloc(n, sizeof(float)), *out[2], *dx[2], st[2][4][C];
    for (int k = 0; k < 2; k++) out[k] = malloc(n * sizeof(float)), dx[k] = malloc(n * sizeof(float));
    double *split = calloc(svdd__batchnorm_split_doubles(C, B), sizeof(double));
    assert_true(x && dy && out[0] && out[1] && dx[0] && dx[1] && split);
    for (int c = 0; c < C; c++) {
        x[(0 * C + c) * S] = 1e16f, x[(8 * C + c) * S] = -1e16f, x[(16 * C + c) * S] = 1.0f;
        dy[(3 * C + c) * S + 1] = 1e16f, dy[(12 * C + c) * S + 1] = -1e16f, dy[(20 * C + c) * S + 1] = 1.0f;
    }
    for (int simd = 0; simd <= svdd__cpu_avx2_fma(); simd++) {
        for (int k = 0; k < 2; k++) {
            float *mean = st[k][0], *rstd = st[k][1], *rm = st[k][2], *rv = st[k][3];
            for (int c = 0; c < C; c++) rm[c] = 0.0f, rv[c] = 1.0f;
            svdd__batchnorm_forward_train_as(out[k], mean, rstd, rm, rv, x, B, C, S, 1e-4f, 0.1f, 2 + k, simd, split);
            svdd__batchnorm_backward_train_as(dx[k], dy, out[k], rstd, B, C, S, 2 + k, simd, split);
        }
        printf("  batch norm by groups, %s: mean %.9g on two threads, %.9g on three\n", simd ? "AVX2" : "portable",
               (double)st[0][0][0], (double)st[1][0][0]);
        assert_memory_equal(st[1], st[0], sizeof st[0]);
        assert_memory_equal(out[1], out[0], n * sizeof(float));
        assert_memory_equal(dx[1], dx[0], n * sizeof(float));
    }
    for (int k = 0; k < 2; k++) free(out[k]), free(dx[k]);
    free(x), free(dy), free(split);
}

/* Batch norm's statistics taken group by group (svdd__batchnorm_group_stats, as the convolution
 * before it runs them) and combined in group order (svdd__batchnorm_forward_groups): against the
 * plain double-precision reference, on data far from zero mean (a careless combination of the
 * groups' variances loses digits there) and on groups whose means differ widely; the same floats
 * on one, two and three threads, whichever thread took a group's figures; with the leaky ReLU and
 * the pooling fused, the same floats as the layers one after another. The backward from the
 * groups' sums (svdd__batchnorm_group_grad_sums, as the pooling after it runs them): the floats of
 * the image split on two threads, on any number. */
static void test_batchnorm_groups(void **state) {
    (void)state;
    /* a last group of 4, of 1, whole groups; the first large enough for threads */
    const int shapes[4][4] = {{20, 3, 28, 28}, {17, 5, 14, 14}, {16, 2, 3, 5}, {9, 40, 10, 10}};
    for (int k = 0; k < 4; k++)
        for (int spread = 0; spread <= 1; spread++) {
            const int B = shapes[k][0], C = shapes[k][1], H = shapes[k][2], W = shapes[k][3], S = H * W;
            const size_t n = (size_t)B * C * S, np = (size_t)B * C * (H / 2) * (W / 2);
            float *x = malloc(n * 4), *dy = calloc(n, 4), *out0 = malloc(n * 4), *dx0 = malloc(n * 4);
            float *out = malloc(n * 4), *y1 = malloc(n * 4), *want = malloc(n * 4), *pw = malloc(np * 4 + 4);
            float *pg = malloc(np * 4 + 4);
            float mean0[40], rstd0[40], rm0[40] = {0}, rv0[40], st[4][40], st1[4][40];
            svdd_test_fill_uniform(x, n, 1000.0f, 1001.0f, 301 + k);
            if (spread) /* image b shifted by 3b: the groups' means far apart */
                for (size_t i = 0; i < n; i++) {
                    const size_t b = i / ((size_t)C * S);
                    x[i] += 3.0f * (float)b - 1000.0f;
                }
            for (int c = 0; c < C; c++) rv0[c] = 1.0f;
            bn_reference(out0, mean0, rstd0, rm0, rv0, dx0, x, dy, B, C, S, 1e-4f, 0.1f);
            double *stats = malloc(svdd__batchnorm_group_doubles(C, B) * sizeof(double));
            double *split = calloc(svdd__batchnorm_split_doubles(C, B), sizeof(double));
            const int U = (B + SVDD__BN_GROUP - 1) / SVDD__BN_GROUP;
            for (int simd = 0; simd <= svdd__cpu_avx2_fma(); simd++)
                for (int T = 1; T <= 3; T++) {
                    const svdd__bn_groups q = {.stats = stats, .x = x, .B = B, .C = C, .S = S, .simd = simd};
                    memset(stats, 0xff, svdd__batchnorm_group_doubles(C, B) * sizeof(double));
                    svdd__run_units(U, T, NULL, svdd__batchnorm_group_stats, &q);
                    float *mean = st[0], *rstd = st[1], *rm = st[2], *rv = st[3];
                    for (int c = 0; c < C; c++) rm[c] = 0.0f, rv[c] = 1.0f;
                    memset(out, 0xff, n * 4);
                    svdd__batchnorm_forward_groups(out, mean, rstd, rm, rv, x, B, C, H, W, 1e-4f, 0.1f, 0, 0.0f, NULL,
                                                   T, simd, stats);
                    double d_out = max_scaled_diff(out, out0, n);
                    double d_st = fmax(fmax(max_scaled_diff(mean, mean0, (size_t)C), max_scaled_diff(rstd, rstd0, (size_t)C)),
                                       fmax(max_scaled_diff(rm, rm0, (size_t)C), max_scaled_diff(rv, rv0, (size_t)C)));
                    printf("  batchnorm by groups' figures B%d C%d S%d%s, %s, %d thread(s): statistics %.2e, output %.2e\n",
                           B, C, S, spread ? " spread" : "", simd ? "AVX2" : "portable", T, d_st, d_out);
                    assert_true(d_st < 1e-6 && d_out < 1e-6);
                    if (T == 1) {
                        memcpy(y1, out, n * 4), memcpy(st1, st, sizeof st);
                    } else {
                        assert_memory_equal(out, y1, n * 4);
                        assert_memory_equal(st, st1, sizeof st);
                    }
                    /* fused: the leaky ReLU over the output, the pooling of that */
                    memcpy(want, y1, n * 4);
                    svdd__leaky_relu_forward(want, want, n, 0.1f);
                    svdd__maxpool2d_forward(pw, want, B, C, H, W);
                    for (int c = 0; c < C; c++) rm[c] = 0.0f, rv[c] = 1.0f;
                    memset(out, 0xff, n * 4), memset(pg, 0xff, np * 4);
                    svdd__batchnorm_forward_groups(out, mean, rstd, rm, rv, x, B, C, H, W, 1e-4f, 0.1f, 1, 0.1f, pg, T,
                                                   simd, stats);
                    assert_memory_equal(out, want, n * 4);
                    assert_memory_equal(pg, pw, np * 4);
                    assert_memory_equal(st, st1, sizeof st);
                    /* the backward from the groups' sums: the image split's floats */
                    svdd_test_fill_uniform(dy, n, -1.0f, 1.0f, 311 + k);
                    const svdd__bn_groups qb = {.stats = stats, .x = y1, .dy = dy, .B = B, .C = C, .S = S,
                                                .simd = simd};
                    memset(stats, 0xff, svdd__batchnorm_group_doubles(C, B) * sizeof(double));
                    svdd__run_units(U, T, NULL, svdd__batchnorm_group_grad_sums, &qb);
                    double means[80];
                    float *dx = out, *dx_split = want;
                    memset(dx, 0xff, n * 4);
                    svdd__batchnorm_backward_groups(dx, dy, y1, rstd, B, C, S, T, simd, stats, means);
                    memset(dx_split, 0xff, n * 4);
                    svdd__batchnorm_backward_train_as(dx_split, dy, y1, rstd, B, C, S, 2, simd, split);
                    assert_memory_equal(dx, dx_split, n * 4);
                }
            free(x), free(dy), free(out0), free(dx0), free(out), free(y1), free(want), free(pw), free(pg), free(stats);
            free(split);
        }
}

/* svdd__conv2d_forward_then runs its function once for every group of images, on the direct path,
 * after the group's output is complete (the function copies it aside: the copy must be the final
 * output); elsewhere not at all. */
typedef struct then_probe {
    const float *out;
    float *seen;
    size_t per_image;
    int B;
    _Atomic int runs[8];
} then_probe;

static void then_copy(const void *ctx, int thread, int g) {
    then_probe *p = (then_probe *)ctx;
    (void)thread;
    const int b0 = g * SVDD__DIRECT_GROUP, b1 = svdd__group_end(g, SVDD__DIRECT_GROUP, p->B);
    memcpy(p->seen + (size_t)b0 * p->per_image, p->out + (size_t)b0 * p->per_image,
           (size_t)(b1 - b0) * p->per_image * sizeof(float));
    atomic_fetch_add(&p->runs[g], 1);
}

/* Batch norm's input gradient through the pooling and the leaky ReLU in one pass
 * (svdd__maxpool2d_unpool_bn_rows): each cell within a few roundings of the layers' formula in
 * double, at the same winners (inputs on a coarse grid: ties and zeros in most windows); the AVX2
 * path the portable one's floats; nothing written past the rows, or past the 16 floats of room
 * on the AVX2 path's narrow rows. Widths of 1 to 15 windows: the masked rows, one group of eight,
 * a group and an overlapping one. */
static void test_unpool_bn_rows(void **state) {
    (void)state;
    const int shapes[][2] = {{28, 28}, {14, 14}, {6, 16}, {4, 26}, {4, 2}, {2, 6}, {8, 30}, {2, 10}};
    const float slope = 0.1f;
    const svdd__unpool_bn p = {.slope = slope, .r = 1.7f, .mdy = 0.03f, .q = -0.21f, .q_neg = -0.21f / slope};
    int ties = 0;
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        const int rows = shapes[k][0], W = shapes[k][1], Wo = W / 2;
        const size_t n = (size_t)rows * W, ng = (size_t)(rows / 2) * Wo, room = 32;
        float *y = malloc(n * 4), *g = malloc(ng * 4), *dx[2];
        assert_true(y && g);
        svdd_test_fill_uniform(y, n, -3.0f, 3.0f, 60 + k);
        for (size_t i = 0; i < n; i++) y[i] = floorf(y[i] * 2.0f) / 2.0f; /* -3, -2.5, ..., 2.5 */
        svdd_test_fill_uniform(g, ng, 0.5f, 2.0f, 70 + k);
        for (size_t i = 0; i < ng; i += 2) g[i] = -g[i];
        for (int simd = 0; simd <= svdd__cpu_avx2_fma(); simd++) {
            dx[simd] = malloc((n + room) * 4);
            assert_non_null(dx[simd]);
            for (size_t i = 0; i < n + room; i++) dx[simd][i] = 1234.5f;
            svdd__maxpool2d_unpool_bn_rows(dx[simd], y, g, rows, W, &p, simd);
            const size_t used = simd && W < 16 ? n + 16 : n;
            for (size_t i = used; i < n + room; i++)
                if (dx[simd][i] != 1234.5f) fail_msg("%dx%d, simd %d: wrote at %zu of %zu", rows, W, simd, i, n);
            for (int oy = 0; oy < rows / 2; oy++)
                for (int ox = 0; ox < Wo; ox++) {
                    /* the winner: the first maximum in row-major order */
                    const size_t c0 = (size_t)2 * oy * W + 2 * (size_t)ox;
                    const size_t cell[4] = {c0, c0 + 1, c0 + W, c0 + W + 1};
                    int win = 0;
                    for (int j = 1; j < 4; j++)
                        if (y[cell[j]] > y[cell[win]]) win = j;
                    for (int j = 0; j < 4; j++) ties += j != win && y[cell[j]] == y[cell[win]];
                    for (int j = 0; j < 4; j++) {
                        const double v = y[cell[j]], gv = g[(size_t)oy * Wo + ox];
                        const double dy = j == win ? (v > 0 ? gv : gv * slope) : 0.0;
                        const double xh = v > 0 ? v : v / slope;
                        const double want = (double)p.r * (dy - p.mdy - xh * p.q);
                        const double bound = 8 * 0x1p-24 * p.r * (fabs(dy) + fabs((double)p.mdy) + fabs(xh * p.q));
                        const double got = dx[simd][cell[j]];
                        if (!(fabs(got - want) <= bound))
                            fail_msg("%dx%d, simd %d: cell %zu is %g, want %g (bound %g)", rows, W, simd, cell[j], got,
                                     want, bound);
                    }
                }
        }
        if (svdd__cpu_avx2_fma()) assert_memory_equal(dx[0], dx[1], n * 4);
        printf("  %2d x %2d: every cell within 8 roundings of the formula in double%s\n", rows, W,
               svdd__cpu_avx2_fma() ? ", AVX2 the portable floats" : "");
        for (int simd = 0; simd <= svdd__cpu_avx2_fma(); simd++) free(dx[simd]);
        free(y), free(g);
    }
    printf("  %d cells tied with their window's winner\n", ties);
    assert_true(ties > 100);
}

/* The same gradient on eight images' row pairs in the lanes: per lane the floats of
 * svdd__maxpool2d_unpool_bn_rows on the image's own rows (portable), on both paths, with ties;
 * nothing written between the two output rows. */
static void test_unpool_bn_lanes(void **state) {
    (void)state;
    const int widths[] = {28, 14, 2, 6, 30};
    const float slope = 0.1f;
    const svdd__unpool_bn p = {.slope = slope, .r = 1.3f, .mdy = -0.02f, .q = 0.17f, .q_neg = 0.17f / slope};
    for (size_t k = 0; k < sizeof widths / sizeof widths[0]; k++) {
        const int W = widths[k], Wo = W / 2;
        const size_t n = (size_t)2 * W, gap = 24, ld = (size_t)W * 8 + gap;
        float *y = malloc(8 * n * 4), *g = malloc(8 * (size_t)Wo * 4), *y8 = malloc(8 * n * 4);
        float *g8 = malloc(8 * (size_t)Wo * 4), *want = malloc(8 * n * 4), *dx8 = malloc((ld + n * 4) * 4);
        assert_true(y && g && y8 && g8 && want && dx8);
        svdd_test_fill_uniform(y, 8 * n, -2.0f, 2.0f, 80 + k);
        for (size_t i = 0; i < 8 * n; i++) y[i] = floorf(y[i] * 2.0f) / 2.0f; /* ties in most windows */
        svdd_test_fill_uniform(g, 8 * (size_t)Wo, -1.5f, 1.5f, 90 + k);
        for (int l = 0; l < 8; l++) {
            svdd__maxpool2d_unpool_bn_rows(want + l * n, y + l * n, g + (size_t)l * Wo, 2, W, &p, 0);
            for (size_t i = 0; i < n; i++) y8[i * 8 + l] = y[l * n + i];
            for (int i = 0; i < Wo; i++) g8[(size_t)i * 8 + l] = g[(size_t)l * Wo + i];
        }
        for (int simd = 0; simd <= svdd__cpu_avx2_fma(); simd++) {
            for (size_t i = 0; i < ld + n * 4; i++) dx8[i] = 1234.5f;
            svdd__maxpool2d_unpool_bn_lanes(dx8, ld, y8, g8, W, &p, simd ? y8 : NULL, simd);
            for (int r = 0; r < 2; r++)
                for (int x = 0; x < W; x++)
                    for (int l = 0; l < 8; l++) {
                        const float got = dx8[r * ld + (size_t)x * 8 + l], w = want[l * n + (size_t)r * W + x];
                        if (!same_float(got, w))
                            fail_msg("width %d, simd %d: row %d, pixel %d, image %d: %g, want %g", W, simd, r, x, l,
                                     got, w);
                    }
            for (size_t i = (size_t)W * 8; i < ld; i++)
                if (dx8[i] != 1234.5f) fail_msg("width %d, simd %d: wrote between the rows (%zu)", W, simd, i);
            for (size_t i = ld + (size_t)W * 8; i < ld + n * 4; i++)
                if (dx8[i] != 1234.5f) fail_msg("width %d, simd %d: wrote past the second row (%zu)", W, simd, i);
        }
        printf("  width %2d: every lane the floats of its own image's rows%s\n", W,
               svdd__cpu_avx2_fma() ? ", on both paths" : "");
        free(y), free(g), free(y8), free(g8), free(want), free(dx8);
    }
}

/* The forward left in the lanes: image l of group u at out + (u * 8 * per_image) + q * 8 + l, the
 * floats of svdd__conv2d_forward; whole groups on the direct path only. */
static void test_conv2d_forward_lanes(void **state) {
    (void)state;
    const int shapes[3][5] = {{1, 28, 8, 5, 2}, {8, 14, 4, 5, 2}, {16, 8, 16, 5, 2}};
    for (int k = 0; k < 3; k++)
        for (int T = 1; T <= 3; T += 2) {
            const int B = 24, Cin = shapes[k][0], H = shapes[k][1], Cout = shapes[k][2];
            const int K = shapes[k][3], P = shapes[k][4];
            const size_t nin = (size_t)B * Cin * H * H, nw = (size_t)Cout * Cin * K * K, per = (size_t)Cout * H * H;
            float *x = malloc(nin * 4), *w = malloc(nw * 4), *out = malloc(per * B * 4), *want = malloc(per * B * 4);
            assert_true(x && w && out && want);
            svdd_test_fill_uniform(x, nin, -1.0f, 1.0f, 421 + k);
            svdd_test_fill_uniform(w, nw, -0.2f, 0.2f, 431 + k);
            const size_t wsz = svdd__conv2d_workspace(B, Cin, H, H, Cout, K, P, T);
            svdd__workspace ws = {malloc(wsz * 4 + 4), wsz, T};
            assert_non_null(ws.data);
            svdd__conv2d_forward(want, x, w, B, Cin, H, H, Cout, K, P, &ws);
            const int lanes = svdd__conv2d_lanes_backward(B, Cin, Cout, K, P);
            assert_int_equal(lanes, svdd__cpu_avx2_fma() && k < 2);
            assert_int_equal(svdd__conv2d_forward_lanes(out, x, w, B - 3, Cin, H, H, Cout, K, P, &ws, NULL, NULL), 0);
            assert_int_equal(svdd__conv2d_forward_lanes(out, x, w, B, Cin, H, H, Cout, K, P, &ws, NULL, NULL), lanes);
            for (int b = 0; lanes && b < B; b++)
                for (size_t q = 0; q < per; q++) {
                    const float got = out[((size_t)(b / 8) * per + q) * 8 + b % 8], wv = want[(size_t)b * per + q];
                    if (!same_float(got, wv))
                        fail_msg("conv2d lanes %d -> %d, %d threads: image %d, value %zu: %g, want %g", Cin, Cout, T, b,
                                 q, got, wv);
                }
            printf("  conv2d left in the lanes: %d -> %d channels, %d thread(s): %s\n", Cin, Cout, T,
                   lanes ? "every image's floats" : "not taken");
            free(x), free(w), free(out), free(want), free(ws.data);
        }
}

static void test_conv2d_forward_then(void **state) {
    (void)state;
    /* the MNIST encoder's two layers (direct), a wide one (Winograd) */
    const int shapes[3][5] = {{1, 28, 8, 5, 2}, {8, 14, 4, 5, 2}, {16, 8, 16, 5, 2}};
    for (int k = 0; k < 3; k++)
        for (int T = 1; T <= 3; T++) {
            const int B = 21, Cin = shapes[k][0], H = shapes[k][1], Cout = shapes[k][2], K = shapes[k][3], P = shapes[k][4];
            const size_t nin = (size_t)B * Cin * H * H, nw = (size_t)Cout * Cin * K * K, nout = (size_t)B * Cout * H * H;
            float *x = malloc(nin * 4), *w = malloc(nw * 4), *out = malloc(nout * 4), *want = malloc(nout * 4);
            float *seen = calloc(nout, 4);
            svdd_test_fill_uniform(x, nin, -1.0f, 1.0f, 401 + k);
            svdd_test_fill_uniform(w, nw, -0.2f, 0.2f, 411 + k);
            const size_t wsz = svdd__conv2d_workspace(B, Cin, H, H, Cout, K, P, T);
            svdd__workspace ws = {malloc(wsz * 4 + 4), wsz, T};
            svdd__conv2d_forward(want, x, w, B, Cin, H, H, Cout, K, P, &ws);
            then_probe *p = calloc(1, sizeof *p);
            assert_non_null(p);
            p->out = out, p->seen = seen, p->per_image = nout / (size_t)B, p->B = B;
            memset(out, 0xff, nout * 4); /* NaN: a function run before its group is written copies these */
            const int ran = svdd__conv2d_forward_then(out, x, w, B, Cin, H, H, Cout, K, P, &ws, then_copy, p);
            printf("  conv2d then: %d -> %d channels, %d thread(s): %s\n", Cin, Cout, T, ran ? "ran" : "not run");
            assert_memory_equal(out, want, nout * 4);
            assert_int_equal(ran, k < 2);
            for (int g = 0; g < 3; g++) assert_int_equal(atomic_load(&p->runs[g]), ran);
            if (ran) assert_memory_equal(seen, want, nout * 4);
            free(x), free(w), free(out), free(want), free(seen), free(ws.data), free(p);
        }
}

/* Batch norm with the leaky ReLU and the max pooling fused into its last pass (training and
 * evaluation, portable and AVX2, one and two threads sharing the channels or, in training, the
 * images, even and odd planes) against the three layers run one after another: the same floats. */
static void test_batchnorm_fused(void **state) {
    (void)state;
    /* the first and the last large enough for threads (the last's 3 images in uneven shares) */
    const int shapes[5][4] = {{12, 8, 28, 28}, {7, 4, 14, 14}, {5, 3, 7, 9}, {40, 2, 2, 2}, {3, 6, 46, 46}};
    for (int k = 0; k < 5; k++) {
        const int B = shapes[k][0], C = shapes[k][1], H = shapes[k][2], W = shapes[k][3];
        const size_t n = (size_t)B * C * H * W, np = (size_t)B * C * (H / 2) * (W / 2);
        float *x = malloc(n * 4), *want = malloc(n * 4), *got = malloc(n * 4);
        float *pw = malloc(np * 4 + 4), *pg = malloc(np * 4 + 4);
        float m0[8], r0[8], rm0[8], rv0[8], m1[8], r1[8], rm1[8], rv1[8], rm[8], rv[8];
        svdd_test_fill_uniform(x, n, -2.0f, 3.0f, 91 + k);
        svdd_test_fill_uniform(rm, (size_t)C, -0.5f, 0.5f, 95 + k);
        svdd_test_fill_uniform(rv, (size_t)C, 0.5f, 2.0f, 97 + k);
        double *split = calloc(svdd__batchnorm_split_doubles(C, B), sizeof(double));
        for (int train = 0; train <= 1; train++)
            for (int simd = 0; simd <= svdd__cpu_avx2_fma(); simd++)
                for (int T = 1; T <= 2; T++)
                    for (int by_images = 0; by_images <= train; by_images++)
                        for (int pool = 0; pool <= 1; pool++) {
                            double *sp = by_images ? split : NULL;
                            memcpy(rm0, rm, sizeof rm), memcpy(rv0, rv, sizeof rv);
                            memcpy(rm1, rm, sizeof rm), memcpy(rv1, rv, sizeof rv);
                            if (train)
                                svdd__batchnorm_forward_train_as(want, m0, r0, rm0, rv0, x, B, C, H * W, 1e-4f, 0.1f, T,
                                                                 simd, sp);
                            else
                                svdd__batchnorm_forward_eval(want, x, rm0, rv0, B, C, H * W, 1e-4f);
                            svdd__leaky_relu_forward(want, want, n, 0.1f);
                            svdd__maxpool2d_forward(pw, want, B, C, H, W);
                            memset(got, 0xff, n * 4), memset(pg, 0xff, np * 4);
                            if (train)
                                svdd__batchnorm_lrelu_forward_train_as(got, m1, r1, rm1, rv1, x, B, C, H, W, 1e-4f, 0.1f,
                                                                       0.1f, pool ? pg : NULL, T, simd, sp);
                            else
                                svdd__batchnorm_lrelu_forward_eval_as(got, x, rm1, rv1, B, C, H, W, 1e-4f, 0.1f,
                                                                      pool ? pg : NULL, T, simd);
                            printf("  fused batch norm B%d C%d %dx%d, %s, %s, %d thread(s)%s, %s\n", B, C, H, W,
                                   train ? "training" : "evaluation", simd ? "AVX2" : "portable", T,
                                   sp ? " by images" : "", pool ? "pooled" : "not pooled");
                            assert_memory_equal(got, want, n * 4);
                            if (pool) assert_memory_equal(pg, pw, np * 4);
                            if (train) {
                                assert_memory_equal(m1, m0, (size_t)C * 4), assert_memory_equal(r1, r0, (size_t)C * 4);
                                assert_memory_equal(rm1, rm0, (size_t)C * 4), assert_memory_equal(rv1, rv0, (size_t)C * 4);
                            }
                        }
        free(x), free(want), free(got), free(pw), free(pg), free(split);
    }
}

/* svdd__run_units: every unit exactly once, on a thread below T (one for T < 1), after that
 * thread's prep; and the end of a slow thread's share taken by the other. */
typedef struct units_probe {
    atomic_int runs[64], by[64], prepped[8], preps, unprepped, stolen; /* by: the thread + 1 */
    int slow_thread;
} units_probe;

static void probe_prep(const void *ctx, int t) {
    units_probe *p = (units_probe *)ctx;
    atomic_fetch_add(&p->preps, 1);
    atomic_store(&p->prepped[t], 1);
}

static double now_seconds(void) {
    struct timespec ts = {0};
    if (timespec_get(&ts, TIME_UTC) != TIME_UTC) fail_msg("timespec_get failed");
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void probe_unit(const void *ctx, int t, int u) {
    units_probe *p = (units_probe *)ctx;
    /* counted, not asserted: cmocka's failures jump out of the calling thread only */
    if (!atomic_load(&p->prepped[t])) atomic_fetch_add(&p->unprepped, 1);
    atomic_fetch_add(&p->runs[u], 1);
    atomic_store(&p->by[u], t + 1);
    /* the slow thread: a core busy with something else until the other took a unit of its share
     * (10 s at most) */
    if (t == p->slow_thread)
        for (double t0 = now_seconds(); !atomic_load(&p->stolen) && now_seconds() - t0 < 10.0;) {
        }
    else if (p->slow_thread >= 0 && u < 8)
        atomic_store(&p->stolen, 1);
}

static void test_run_units(void **state) {
    (void)state;
    const int ns[6] = {0, 1, 2, 7, 25, 64};
    for (int k = 0; k < 6; k++)
        for (int T = 0; T <= 5; T++) { /* T = 0: one thread */
            units_probe *p = calloc(1, sizeof *p);
            assert_non_null(p);
            p->slow_thread = -1;
            svdd__run_units(ns[k], T, probe_prep, probe_unit, p);
            const int used = (T > 1 ? T : 1) < ns[k] ? (T > 1 ? T : 1) : ns[k];
            if (ns[k] == 0) assert_int_equal(atomic_load(&p->preps), 0); /* nor prep */
            else assert_true(atomic_load(&p->preps) >= 1 && atomic_load(&p->preps) <= used);
            assert_int_equal(atomic_load(&p->unprepped), 0);
            for (int u = 0; u < ns[k]; u++) {
                assert_int_equal(atomic_load(&p->runs[u]), 1);
                assert_true(atomic_load(&p->by[u]) >= 1 && atomic_load(&p->by[u]) <= used);
            }
            free(p);
        }
    /* thread 0 slow: thread 1 ends its own share (units 8..15), then takes thread 0's last units
     * from the end (thread 0 takes its own from the front) */
    units_probe *p = calloc(1, sizeof *p);
    assert_non_null(p);
    p->slow_thread = 0;
    svdd__run_units(16, 2, probe_prep, probe_unit, p);
    for (int u = 0; u < 16; u++) assert_int_equal(atomic_load(&p->runs[u]), 1);
    int taken = 0;
    for (int u = 0; u < 8; u++) taken += atomic_load(&p->by[u]) == 2;
    printf("  run_units: of a slow thread's 8 units the other took %d\n", taken);
    assert_true(taken > 0);
    assert_int_equal(atomic_load(&p->by[7]), 2);
    free(p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run_units), cmocka_unit_test(test_batchnorm_group_order),
        cmocka_unit_test(test_conv2d),          cmocka_unit_test(test_conv_transpose2d),
        cmocka_unit_test(test_linear),          cmocka_unit_test(test_linear_blocks),
        cmocka_unit_test(test_batchnorm),
        cmocka_unit_test(test_batchnorm_running_stats), cmocka_unit_test(test_leaky_relu),
        cmocka_unit_test(test_leaky_relu_restore),
        cmocka_unit_test(test_sigmoid),         cmocka_unit_test(test_maxpool2d),
        cmocka_unit_test(test_upsample2d),      cmocka_unit_test(test_sq_error_loss),
        cmocka_unit_test(test_im2col_adjoint),  cmocka_unit_test(test_conv2d_chunking),
        cmocka_unit_test(test_threads_match_one_thread), cmocka_unit_test(test_maxpool2d_winners),
        cmocka_unit_test(test_conv_direct_matches_im2col), cmocka_unit_test(test_winograd_rounding), cmocka_unit_test(test_conv_transpose_upsampled_input), cmocka_unit_test(test_batchnorm_matches_reference),
        cmocka_unit_test(test_batchnorm_fused), cmocka_unit_test(test_conv_lanes),
        cmocka_unit_test(test_maxpool2d_lanes), cmocka_unit_test(test_batchnorm_groups),
        cmocka_unit_test(test_batchnorm_grad_offset),
        cmocka_unit_test(test_conv2d_forward_then), cmocka_unit_test(test_unpool_bn_rows),
        cmocka_unit_test(test_unpool_bn_lanes), cmocka_unit_test(test_conv2d_forward_lanes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
