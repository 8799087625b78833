/* batchnorm: torch.nn.BatchNorm2d / BatchNorm1d with affine=False (as in the Deep SVDD
 * networks, whose batch norms have no scale or shift). inp, out (B,C,S), S = H*W or 1.
 * Statistics are accumulated in double: a channel of a 200-image CIFAR batch sums 200k values.
 *
 * The sums run in 8 independent double lanes (then added pairwise): one accumulator would make
 * every addition wait for the previous one, and the first MNIST layer's channels hold 157k values
 * each. GCC vectorises the lanes; the same code is compiled for AVX2 too and chosen per call. The
 * lanes change the order of the additions, not their precision (and make them more accurate). */
#include <math.h>

#include "layers.h"

#define LANES 8

#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
#define BN_AVX2 1
#endif

#define ALWAYS_INLINE static inline __attribute__((always_inline))

ALWAYS_INLINE double lanes_total(const double a[LANES]) {
    return ((a[0] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) + (a[3] + a[7]));
}

/* Channel c's batch statistics and normalised output; updates the running statistics. */
ALWAYS_INLINE void forward_channel(float *out, float *mean, float *rstd, float *run_mean, float *run_var,
                                   const float *inp, int B, int C, int S, float eps, float momentum, int c) {
    const size_t n = (size_t)B * S;
    const int S8 = S & ~(LANES - 1);
    double acc[LANES] = {0};
    for (int b = 0; b < B; b++) {
        const float *x = inp + ((size_t)b * C + c) * S;
        for (int s = 0; s < S8; s += LANES)
            for (int j = 0; j < LANES; j++) acc[j] += x[s + j];
        for (int s = S8; s < S; s++) acc[s - S8] += x[s];
    }
    const double mu = lanes_total(acc) / (double)n;
    for (int j = 0; j < LANES; j++) acc[j] = 0;
    for (int b = 0; b < B; b++) {
        const float *x = inp + ((size_t)b * C + c) * S;
        for (int s = 0; s < S8; s += LANES)
            for (int j = 0; j < LANES; j++) {
                double d = x[s + j] - mu;
                acc[j] += d * d;
            }
        for (int s = S8; s < S; s++) {
            double d = x[s] - mu;
            acc[s - S8] += d * d;
        }
    }
    const double ss = lanes_total(acc), var = ss / (double)n; /* biased, used to normalise */
    const float r = (float)(1.0 / sqrt(var + eps)), m = (float)mu;
    mean[c] = m;
    rstd[c] = r;
    for (int b = 0; b < B; b++) {
        const float *x = inp + ((size_t)b * C + c) * S;
        float *y = out + ((size_t)b * C + c) * S;
        for (int s = 0; s < S; s++) y[s] = (x[s] - m) * r;
    }
    if (run_mean && run_var) {
        /* PyTorch updates the running variance with the unbiased estimate. */
        double unbiased = n > 1 ? ss / (double)(n - 1) : var;
        run_mean[c] = (float)((1.0 - momentum) * run_mean[c] + momentum * mu);
        run_var[c] = (float)((1.0 - momentum) * run_var[c] + momentum * unbiased);
    }
}

/* With xhat = (x - mu) * rstd and y = xhat (no affine part):
 *   dx = rstd * (dy - mean(dy) - xhat * mean(dy * xhat)), means over the B*S values of a channel. */
ALWAYS_INLINE void backward_channel(float *dinp, const float *dout, const float *out, const float *rstd, int B, int C,
                                    int S, int c) {
    const double n = (double)B * S;
    const int S8 = S & ~(LANES - 1);
    double sdy[LANES] = {0}, sdyx[LANES] = {0};
    for (int b = 0; b < B; b++) {
        const float *dy = dout + ((size_t)b * C + c) * S, *xh = out + ((size_t)b * C + c) * S;
        for (int s = 0; s < S8; s += LANES)
            for (int j = 0; j < LANES; j++) {
                sdy[j] += dy[s + j];
                sdyx[j] += (double)dy[s + j] * xh[s + j];
            }
        for (int s = S8; s < S; s++) {
            sdy[s - S8] += dy[s];
            sdyx[s - S8] += (double)dy[s] * xh[s];
        }
    }
    const float mdy = (float)(lanes_total(sdy) / n), mdyx = (float)(lanes_total(sdyx) / n), r = rstd[c];
    for (int b = 0; b < B; b++) {
        const float *dy = dout + ((size_t)b * C + c) * S, *xh = out + ((size_t)b * C + c) * S;
        float *dx = dinp + ((size_t)b * C + c) * S;
        for (int s = 0; s < S; s++) dx[s] = r * (dy[s] - mdy - xh[s] * mdyx);
    }
}

static void forward_channel_any(float *out, float *mean, float *rstd, float *run_mean, float *run_var,
                                const float *inp, int B, int C, int S, float eps, float momentum, int c) {
    forward_channel(out, mean, rstd, run_mean, run_var, inp, B, C, S, eps, momentum, c);
}

static void backward_channel_any(float *dinp, const float *dout, const float *out, const float *rstd, int B, int C,
                                 int S, int c) {
    backward_channel(dinp, dout, out, rstd, B, C, S, c);
}

#if BN_AVX2
__attribute__((target("avx2,fma"))) static void forward_channel_avx2(float *out, float *mean, float *rstd,
                                                                     float *run_mean, float *run_var, const float *inp,
                                                                     int B, int C, int S, float eps, float momentum,
                                                                     int c) {
    forward_channel(out, mean, rstd, run_mean, run_var, inp, B, C, S, eps, momentum, c);
}

__attribute__((target("avx2,fma"))) static void backward_channel_avx2(float *dinp, const float *dout, const float *out,
                                                                      const float *rstd, int B, int C, int S, int c) {
    backward_channel(dinp, dout, out, rstd, B, C, S, c);
}
#endif

void svdd__batchnorm_forward_train(float *out, float *mean, float *rstd, float *run_mean,
                                   float *run_var, const float *inp, int B, int C, int S, float eps,
                                   float momentum, int threads) {
    svdd__batchnorm_forward_train_as(out, mean, rstd, run_mean, run_var, inp, B, C, S, eps, momentum, threads,
                                     svdd__cpu_avx2_fma());
}

void svdd__batchnorm_forward_train_as(float *out, float *mean, float *rstd, float *run_mean, float *run_var,
                                      const float *inp, int B, int C, int S, float eps, float momentum, int threads,
                                      int simd) {
    /* cppcheck-suppress unreadVariable ; read by the pragma, which cppcheck does not parse */
    const int T = (size_t)B * C * S < SVDD__PARALLEL_MIN_FLOATS || threads < 1 ? 1 : threads;
#if BN_AVX2
    void (*channel)(float *, float *, float *, float *, float *, const float *, int, int, int, float, float, int) =
        simd ? forward_channel_avx2 : forward_channel_any;
#else
    void (*channel)(float *, float *, float *, float *, float *, const float *, int, int, int, float, float, int) =
        forward_channel_any;
    (void)simd;
#endif
#pragma omp parallel for num_threads(T) schedule(static) if (T > 1)
    for (int c = 0; c < C; c++) channel(out, mean, rstd, run_mean, run_var, inp, B, C, S, eps, momentum, c);
}

void svdd__batchnorm_forward_eval(float *out, const float *inp, const float *run_mean,
                                  const float *run_var, int B, int C, int S, float eps) {
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++) {
            const float *x = inp + ((size_t)b * C + c) * S;
            float *y = out + ((size_t)b * C + c) * S;
            float m = run_mean[c], r = (float)(1.0 / sqrt((double)run_var[c] + eps));
            for (int s = 0; s < S; s++) y[s] = (x[s] - m) * r;
        }
}

void svdd__batchnorm_backward_train(float *dinp, const float *dout, const float *out, const float *rstd,
                                    int B, int C, int S, int threads) {
    svdd__batchnorm_backward_train_as(dinp, dout, out, rstd, B, C, S, threads, svdd__cpu_avx2_fma());
}

void svdd__batchnorm_backward_train_as(float *dinp, const float *dout, const float *out, const float *rstd, int B,
                                       int C, int S, int threads, int simd) {
    /* cppcheck-suppress unreadVariable ; read by the pragma, which cppcheck does not parse */
    const int T = (size_t)B * C * S < SVDD__PARALLEL_MIN_FLOATS || threads < 1 ? 1 : threads;
#if BN_AVX2
    void (*channel)(float *, const float *, const float *, const float *, int, int, int, int) =
        simd ? backward_channel_avx2 : backward_channel_any;
#else
    void (*channel)(float *, const float *, const float *, const float *, int, int, int, int) = backward_channel_any;
    (void)simd;
#endif
#pragma omp parallel for num_threads(T) schedule(static) if (T > 1)
    for (int c = 0; c < C; c++) channel(dinp, dout, out, rstd, B, C, S, c);
}

void svdd__batchnorm_backward_eval(float *dinp, const float *dout, const float *run_var, int B, int C,
                                   int S, float eps) {
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++) {
            const float *dy = dout + ((size_t)b * C + c) * S;
            float *dx = dinp + ((size_t)b * C + c) * S;
            float r = (float)(1.0 / sqrt((double)run_var[c] + eps));
            for (int s = 0; s < S; s++) dx[s] = dy[s] * r;
        }
}
