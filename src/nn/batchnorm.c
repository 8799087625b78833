/* batchnorm: torch.nn.BatchNorm2d / BatchNorm1d with affine=False (as in the Deep SVDD
 * networks, whose batch norms have no scale or shift). inp, out (B,C,S), S = H*W or 1.
 * Statistics are accumulated in double: a channel of a 200-image CIFAR batch sums 200k values.
 *
 * The sums run in 8 independent double lanes (then added pairwise): one accumulator would make
 * every addition wait for the previous one, and the first MNIST layer's channels hold 157k values
 * each. GCC vectorises the lanes; the same code is compiled for AVX2 too and chosen per call. The
 * lanes change the order of the additions, not their precision (and make them more accurate).
 *
 * The network runs the leaky ReLU that overwrites batch norm's output, and the max pooling after
 * it, inside batch norm's last pass (the _lrelu functions), each plane pooled while it is still in
 * the cache: one pass over the largest maps of a step instead of three, the same floats as the
 * layers one after another. In evaluation mode the planes are shared among the threads. */
#include <math.h>
#include <string.h>

#include "layers.h"

#define LANES 8

#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
#define BN_AVX2 1
#endif

#define ALWAYS_INLINE static inline __attribute__((always_inline))

/* What runs in the normalising pass besides batch norm: act, the leaky ReLU of this slope; pool,
 * when not NULL, the max pooling of its output, (B, C, H/2, W/2), on the pooling's AVX2 path when
 * simd (the caller's choice, as for batch norm's own loops). */
typedef struct svdd__bn_fuse {
    int act;
    float slope;
    float *pool;
    int simd;
} svdd__bn_fuse;

ALWAYS_INLINE double lanes_total(const double a[LANES]) {
    return ((a[0] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) + (a[3] + a[7]));
}

/* One plane (H, W) of batch norm's output y = (x - m) * r; with fuse->act the leaky ReLU over it
 * (as svdd__leaky_relu_forward computes it), and with pool (H/2, W/2) its max pooling, read while
 * the plane is still in the cache. */
ALWAYS_INLINE void normalise_plane(float *y, const float *x, float m, float r, int H, int W, const svdd__bn_fuse *fuse,
                                   float *pool) {
    const size_t S = (size_t)H * W;
    if (!fuse->act) {
        for (size_t s = 0; s < S; s++) y[s] = (x[s] - m) * r;
        return;
    }
    const float slope = fuse->slope;
    for (size_t s = 0; s < S; s++) {
        const float t = (x[s] - m) * r;
        y[s] = t > 0.0f ? t : t * slope;
    }
    for (int row = 0; pool && row < H / 2; row++)
        svdd__maxpool2d_row(pool + (size_t)row * (W / 2), y + (size_t)2 * row * W, y + (size_t)(2 * row + 1) * W, W / 2,
                            fuse->simd);
}

/* The sums of one plane x (S floats) into the lanes a: of the values, or (dev) of their squared
 * deviations from mu. */
ALWAYS_INLINE void plane_sums(double a[LANES], const float *x, int S, int dev, double mu) {
    const int S8 = S & ~(LANES - 1);
    double acc[LANES];
    for (int j = 0; j < LANES; j++) acc[j] = a[j];
    for (int s = 0; s < S8; s += LANES)
        for (int j = 0; j < LANES; j++) {
            const double d = dev ? x[s + j] - mu : x[s + j];
            acc[j] += dev ? d * d : d;
        }
    for (int s = S8; s < S; s++) {
        const double d = dev ? x[s] - mu : x[s];
        acc[s - S8] += dev ? d * d : d;
    }
    for (int j = 0; j < LANES; j++) a[j] = acc[j];
}

/* Channels are summed CHUNK at a time, image by image: a thread then reads its channels' planes
 * of an image as one stretch of memory instead of one plane of each image in turn (25 KB apart in
 * the first MNIST layer), which the prefetchers follow. Each channel still sums its values in
 * the same order. */
#define CHUNK 16

/* Channels c0..c1-1: batch statistics and normalised output; updates the running statistics. */
ALWAYS_INLINE void forward_channels(float *out, float *mean, float *rstd, float *run_mean, float *run_var,
                                    const float *inp, int B, int C, int H, int W, float eps, float momentum,
                                    const svdd__bn_fuse *fuse, int c0, int c1) {
    const int S = H * W;
    const size_t n = (size_t)B * S, Sp = (size_t)(H / 2) * (W / 2);
    for (int k0 = c0; k0 < c1; k0 += CHUNK) {
        const int nk = c1 - k0 < CHUNK ? c1 - k0 : CHUNK;
        double acc[CHUNK][LANES], mu[CHUNK], ss[CHUNK];
        float m[CHUNK], r[CHUNK];
        memset(acc, 0, sizeof acc);
        for (int b = 0; b < B; b++)
            for (int k = 0; k < nk; k++) plane_sums(acc[k], inp + ((size_t)b * C + k0 + k) * S, S, 0, 0.0);
        for (int k = 0; k < nk; k++) {
            mu[k] = lanes_total(acc[k]) / (double)n;
            for (int j = 0; j < LANES; j++) acc[k][j] = 0;
        }
        for (int b = 0; b < B; b++)
            for (int k = 0; k < nk; k++) plane_sums(acc[k], inp + ((size_t)b * C + k0 + k) * S, S, 1, mu[k]);
        for (int k = 0; k < nk; k++) {
            const int c = k0 + k;
            ss[k] = lanes_total(acc[k]);
            const double var = ss[k] / (double)n; /* biased, used to normalise */
            r[k] = (float)(1.0 / sqrt(var + eps)), m[k] = (float)mu[k];
            mean[c] = m[k];
            rstd[c] = r[k];
            if (run_mean && run_var) {
                /* PyTorch updates the running variance with the unbiased estimate. */
                double unbiased = n > 1 ? ss[k] / (double)(n - 1) : var;
                run_mean[c] = (float)((1.0 - momentum) * run_mean[c] + momentum * mu[k]);
                run_var[c] = (float)((1.0 - momentum) * run_var[c] + momentum * unbiased);
            }
        }
        for (int b = 0; b < B; b++)
            for (int k = 0; k < nk; k++) {
                const size_t p = (size_t)b * C + k0 + k;
                normalise_plane(out + p * S, inp + p * S, m[k], r[k], H, W, fuse, fuse->pool ? fuse->pool + p * Sp : NULL);
            }
    }
}

/* With xhat = (x - mu) * rstd and y = xhat (no affine part):
 *   dx = rstd * (dy - mean(dy) - xhat * mean(dy * xhat)), means over the B*S values of a channel.
 * Channels c0..c1-1, CHUNK at a time as in the forward. */
ALWAYS_INLINE void backward_channels(float *dinp, const float *dout, const float *out, const float *rstd, int B, int C,
                                     int S, int c0, int c1) {
    const double n = (double)B * S;
    const int S8 = S & ~(LANES - 1);
    for (int k0 = c0; k0 < c1; k0 += CHUNK) {
        const int nk = c1 - k0 < CHUNK ? c1 - k0 : CHUNK;
        double sums[CHUNK][2][LANES];
        float mdy[CHUNK], mdyx[CHUNK];
        memset(sums, 0, sizeof sums);
        for (int b = 0; b < B; b++)
            for (int k = 0; k < nk; k++) {
                const size_t p = (size_t)b * C + k0 + k;
                const float *dy = dout + p * S, *xh = out + p * S;
                double sdy[LANES], sdyx[LANES];
                for (int j = 0; j < LANES; j++) sdy[j] = sums[k][0][j], sdyx[j] = sums[k][1][j];
                for (int s = 0; s < S8; s += LANES)
                    for (int j = 0; j < LANES; j++) {
                        sdy[j] += dy[s + j];
                        sdyx[j] += (double)dy[s + j] * xh[s + j];
                    }
                for (int s = S8; s < S; s++) {
                    sdy[s - S8] += dy[s];
                    sdyx[s - S8] += (double)dy[s] * xh[s];
                }
                for (int j = 0; j < LANES; j++) sums[k][0][j] = sdy[j], sums[k][1][j] = sdyx[j];
            }
        for (int k = 0; k < nk; k++)
            mdy[k] = (float)(lanes_total(sums[k][0]) / n), mdyx[k] = (float)(lanes_total(sums[k][1]) / n);
        for (int b = 0; b < B; b++)
            for (int k = 0; k < nk; k++) {
                const size_t p = (size_t)b * C + k0 + k;
                const float *dy = dout + p * S, *xh = out + p * S, r = rstd[k0 + k], a = mdy[k], q = mdyx[k];
                float *dx = dinp + p * S;
                for (int s = 0; s < S; s++) dx[s] = r * (dy[s] - a - xh[s] * q);
            }
    }
}

static void forward_channels_any(float *out, float *mean, float *rstd, float *run_mean, float *run_var,
                                 const float *inp, int B, int C, int H, int W, float eps, float momentum,
                                 const svdd__bn_fuse *fuse, int c0, int c1) {
    forward_channels(out, mean, rstd, run_mean, run_var, inp, B, C, H, W, eps, momentum, fuse, c0, c1);
}

static void backward_channels_any(float *dinp, const float *dout, const float *out, const float *rstd, int B, int C,
                                  int S, int c0, int c1) {
    backward_channels(dinp, dout, out, rstd, B, C, S, c0, c1);
}

#if BN_AVX2
#define TARGET_AVX2 __attribute__((target("avx2,fma")))
TARGET_AVX2 static void forward_channels_avx2(float *out, float *mean, float *rstd, float *run_mean, float *run_var,
                                              const float *inp, int B, int C, int H, int W, float eps, float momentum,
                                              const svdd__bn_fuse *fuse, int c0, int c1) {
    forward_channels(out, mean, rstd, run_mean, run_var, inp, B, C, H, W, eps, momentum, fuse, c0, c1);
}

TARGET_AVX2 static void backward_channels_avx2(float *dinp, const float *dout, const float *out, const float *rstd,
                                               int B, int C, int S, int c0, int c1) {
    backward_channels(dinp, dout, out, rstd, B, C, S, c0, c1);
}
#endif

typedef void (*forward_fn)(float *, float *, float *, float *, float *, const float *, int, int, int, int, float, float,
                           const svdd__bn_fuse *, int, int);
typedef void (*backward_fn)(float *, const float *, const float *, const float *, int, int, int, int, int);

/* Threads for n floats: one share of the channels (or planes) each. */
static int bn_threads(size_t n, int threads) { return n < SVDD__PARALLEL_MIN_FLOATS || threads < 1 ? 1 : threads; }

static void forward_train(float *out, float *mean, float *rstd, float *run_mean, float *run_var, const float *inp, int B,
                          int C, int H, int W, float eps, float momentum, const svdd__bn_fuse *fuse, int threads,
                          int simd) {
    /* cppcheck-suppress unreadVariable ; read by the pragma, which cppcheck does not parse */
    const int T = bn_threads((size_t)B * C * H * W, threads);
    forward_fn run = forward_channels_any;
#if BN_AVX2
    if (simd) run = forward_channels_avx2;
#else
    (void)simd;
#endif
#pragma omp parallel for num_threads(T) schedule(static, 1) if (T > 1)
    for (int t = 0; t < T; t++)
        run(out, mean, rstd, run_mean, run_var, inp, B, C, H, W, eps, momentum, fuse, C * t / T, C * (t + 1) / T);
}

static void backward_train(float *dinp, const float *dout, const float *out, const float *rstd, int B, int C, int S,
                           int threads, int simd) {
    /* cppcheck-suppress unreadVariable ; read by the pragma, which cppcheck does not parse */
    const int T = bn_threads((size_t)B * C * S, threads);
    backward_fn run = backward_channels_any;
#if BN_AVX2
    if (simd) run = backward_channels_avx2;
#else
    (void)simd;
#endif
#pragma omp parallel for num_threads(T) schedule(static, 1) if (T > 1)
    for (int t = 0; t < T; t++) run(dinp, dout, out, rstd, B, C, S, C * t / T, C * (t + 1) / T);
}

static const svdd__bn_fuse NO_FUSE = {0, 1.0f, NULL, 0};

void svdd__batchnorm_forward_train(float *out, float *mean, float *rstd, float *run_mean,
                                   float *run_var, const float *inp, int B, int C, int S, float eps,
                                   float momentum, int threads) {
    forward_train(out, mean, rstd, run_mean, run_var, inp, B, C, S, 1, eps, momentum, &NO_FUSE, threads,
                  svdd__cpu_avx2_fma());
}

void svdd__batchnorm_forward_train_as(float *out, float *mean, float *rstd, float *run_mean, float *run_var,
                                      const float *inp, int B, int C, int S, float eps, float momentum, int threads,
                                      int simd) {
    forward_train(out, mean, rstd, run_mean, run_var, inp, B, C, S, 1, eps, momentum, &NO_FUSE, threads, simd);
}

void svdd__batchnorm_lrelu_forward_train_as(float *out, float *mean, float *rstd, float *run_mean, float *run_var,
                                            const float *inp, int B, int C, int H, int W, float eps, float momentum,
                                            float slope, float *pool, int threads, int simd) {
    const svdd__bn_fuse fuse = {1, slope, pool, simd};
    forward_train(out, mean, rstd, run_mean, run_var, inp, B, C, H, W, eps, momentum, &fuse, threads, simd);
}

static float eval_rstd(float run_var, float eps) { return (float)(1.0 / sqrt((double)run_var + eps)); }

float svdd__batchnorm_eval_scale(float run_var, float eps) { return eval_rstd(run_var, eps); }

/* Planes p0..p1-1 of (B*C) in evaluation mode. */
ALWAYS_INLINE void eval_planes(float *out, const float *inp, const float *run_mean, const float *run_var, int C, int H,
                               int W, float eps, const svdd__bn_fuse *fuse, size_t p0, size_t p1) {
    const size_t S = (size_t)H * W, Sp = (size_t)(H / 2) * (W / 2);
    for (size_t p = p0; p < p1; p++) {
        const int c = (int)(p % (size_t)C);
        const float m = run_mean[c], r = eval_rstd(run_var[c], eps);
        normalise_plane(out + p * S, inp + p * S, m, r, H, W, fuse, fuse->pool ? fuse->pool + p * Sp : NULL);
    }
}

typedef void (*eval_fn)(float *, const float *, const float *, const float *, int, int, int, float,
                        const svdd__bn_fuse *, size_t, size_t);

static void eval_planes_any(float *out, const float *inp, const float *run_mean, const float *run_var, int C, int H,
                            int W, float eps, const svdd__bn_fuse *fuse, size_t p0, size_t p1) {
    eval_planes(out, inp, run_mean, run_var, C, H, W, eps, fuse, p0, p1);
}

#if BN_AVX2
TARGET_AVX2 static void eval_planes_avx2(float *out, const float *inp, const float *run_mean, const float *run_var,
                                         int C, int H, int W, float eps, const svdd__bn_fuse *fuse, size_t p0,
                                         size_t p1) {
    eval_planes(out, inp, run_mean, run_var, C, H, W, eps, fuse, p0, p1);
}
#endif

static void forward_eval(float *out, const float *inp, const float *run_mean, const float *run_var, int B, int C, int H,
                         int W, float eps, const svdd__bn_fuse *fuse, int threads, int simd) {
    const size_t planes = (size_t)B * C;
    /* cppcheck-suppress unreadVariable ; read by the pragma, which cppcheck does not parse */
    const int T = bn_threads(planes * H * W, threads);
    eval_fn run = eval_planes_any;
#if BN_AVX2
    if (simd) run = eval_planes_avx2;
#else
    (void)simd;
#endif
#pragma omp parallel for num_threads(T) schedule(static, 1) if (T > 1)
    for (int t = 0; t < T; t++)
        run(out, inp, run_mean, run_var, C, H, W, eps, fuse, planes * t / T, planes * (t + 1) / T);
}

void svdd__batchnorm_forward_eval(float *out, const float *inp, const float *run_mean,
                                  const float *run_var, int B, int C, int S, float eps) {
    forward_eval(out, inp, run_mean, run_var, B, C, S, 1, eps, &NO_FUSE, 1, svdd__cpu_avx2_fma());
}

void svdd__batchnorm_lrelu_forward_eval_as(float *out, const float *inp, const float *run_mean, const float *run_var,
                                           int B, int C, int H, int W, float eps, float slope, float *pool, int threads,
                                           int simd) {
    const svdd__bn_fuse fuse = {1, slope, pool, simd};
    forward_eval(out, inp, run_mean, run_var, B, C, H, W, eps, &fuse, threads, simd);
}

void svdd__batchnorm_backward_train(float *dinp, const float *dout, const float *out, const float *rstd,
                                    int B, int C, int S, int threads) {
    backward_train(dinp, dout, out, rstd, B, C, S, threads, svdd__cpu_avx2_fma());
}

void svdd__batchnorm_backward_train_as(float *dinp, const float *dout, const float *out, const float *rstd, int B,
                                       int C, int S, int threads, int simd) {
    backward_train(dinp, dout, out, rstd, B, C, S, threads, simd);
}

void svdd__batchnorm_backward_eval(float *dinp, const float *dout, const float *run_var, int B, int C,
                                   int S, float eps) {
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++) {
            const float *dy = dout + ((size_t)b * C + c) * S;
            float *dx = dinp + ((size_t)b * C + c) * S;
            float r = eval_rstd(run_var[c], eps);
            for (int s = 0; s < S; s++) dx[s] = dy[s] * r;
        }
}
