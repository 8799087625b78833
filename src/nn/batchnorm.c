/* batchnorm: torch.nn.BatchNorm2d / BatchNorm1d with affine=False (as in the Deep SVDD
 * networks, whose batch norms have no scale or shift). inp, out (B,C,S), S = H*W or 1.
 * Statistics are accumulated in double: a channel of a 200-image CIFAR batch sums 200k values. */
#include <math.h>

#include "layers.h"

void svdd__batchnorm_forward_train(float *out, float *mean, float *rstd, float *run_mean,
                                   float *run_var, const float *inp, int B, int C, int S, float eps,
                                   float momentum, int threads) {
    const size_t n = (size_t)B * S;
    /* cppcheck-suppress unreadVariable ; read by the pragma, which cppcheck does not parse */
    const int T = (size_t)B * C * S < SVDD__PARALLEL_MIN_FLOATS || threads < 1 ? 1 : threads;
#pragma omp parallel for num_threads(T) schedule(static) if (T > 1)
    for (int c = 0; c < C; c++) {
        double sum = 0;
        for (int b = 0; b < B; b++) {
            const float *x = inp + ((size_t)b * C + c) * S;
            for (int s = 0; s < S; s++) sum += x[s];
        }
        double mu = sum / (double)n, ss = 0;
        for (int b = 0; b < B; b++) {
            const float *x = inp + ((size_t)b * C + c) * S;
            for (int s = 0; s < S; s++) {
                double d = x[s] - mu;
                ss += d * d;
            }
        }
        double var = ss / (double)n; /* biased, used to normalise */
        float r = (float)(1.0 / sqrt(var + eps)), m = (float)mu;
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

/* With xhat = (x - mu) * rstd and y = xhat (no affine part):
 *   dx = rstd * (dy - mean(dy) - xhat * mean(dy * xhat)), means over the B*S values of a channel. */
void svdd__batchnorm_backward_train(float *dinp, const float *dout, const float *out, const float *rstd,
                                    int B, int C, int S, int threads) {
    const double n = (double)B * S;
    /* cppcheck-suppress unreadVariable ; read by the pragma, which cppcheck does not parse */
    const int T = (size_t)B * C * S < SVDD__PARALLEL_MIN_FLOATS || threads < 1 ? 1 : threads;
#pragma omp parallel for num_threads(T) schedule(static) if (T > 1)
    for (int c = 0; c < C; c++) {
        double sdy = 0, sdyx = 0;
        for (int b = 0; b < B; b++) {
            const float *dy = dout + ((size_t)b * C + c) * S, *xh = out + ((size_t)b * C + c) * S;
            for (int s = 0; s < S; s++) {
                sdy += dy[s];
                sdyx += (double)dy[s] * xh[s];
            }
        }
        float mdy = (float)(sdy / n), mdyx = (float)(sdyx / n), r = rstd[c];
        for (int b = 0; b < B; b++) {
            const float *dy = dout + ((size_t)b * C + c) * S, *xh = out + ((size_t)b * C + c) * S;
            float *dx = dinp + ((size_t)b * C + c) * S;
            for (int s = 0; s < S; s++) dx[s] = r * (dy[s] - mdy - xh[s] * mdyx);
        }
    }
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
