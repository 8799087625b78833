/* The layers: each a pair of free functions over flat float arrays (NCHW), named after the
 * PyTorch operator it mirrors.
 *
 * Conventions (as in llm.c):
 * - arguments: outputs first, then cached values, then inputs (const), then weights, then sizes;
 * - forward caches exactly what backward needs;
 * - backward OVERWRITES the input gradient `dinp` (a sequential network writes each activation
 *   gradient once) and ACCUMULATES (+=) into parameter gradients, which are zeroed once a step;
 * - `dinp` may be NULL when the caller does not need it (the first layer of a network).
 */
#ifndef SVDD_LAYERS_H
#define SVDD_LAYERS_H

#include <stddef.h>

#include "../kernels/kernels.h"

/* Below this many floats a pass over a layer stays on one thread, whatever the thread setting:
 * starting threads would cost more than they save (batch norm here, the element-wise and pooling
 * layers in network.c). */
#define SVDD__PARALLEL_MIN_FLOATS 32768

/* ---- conv2d: torch.nn.Conv2d(Cin, Cout, K, stride=1, padding=P, bias=False) ----
 * inp (B,Cin,H,W), w (Cout,Cin,K,K), out (B,Cout,Ho,Wo), Ho = H + 2P - K + 1, Wo likewise. */
void svdd__conv2d_forward(float *out, const float *inp, const float *w, int B, int Cin, int H, int W,
                          int Cout, int K, int P, svdd__workspace *ws);
void svdd__conv2d_backward(float *dinp, float *dw, const float *dout, const float *inp, const float *w,
                           int B, int Cin, int H, int W, int Cout, int K, int P, svdd__workspace *ws);
/* Floats of workspace the two functions above need with `threads` threads (the workspace's
 * `threads` must not exceed it). */
size_t svdd__conv2d_workspace(int B, int Cin, int H, int W, int Cout, int K, int P, int threads);

/* ---- conv_transpose2d: torch.nn.ConvTranspose2d(Cin, Cout, K, stride=1, padding=P, bias=False)
 * inp (B,Cin,H,W), w (Cin,Cout,K,K) (PyTorch's layout), out (B,Cout,Ho,Wo), Ho = H - 1 - 2P + K.
 * e.g. K=5, P=3 maps 16x16 to 14x14. */
void svdd__conv_transpose2d_forward(float *out, const float *inp, const float *w, int B, int Cin, int H,
                                    int W, int Cout, int K, int P, svdd__workspace *ws);
void svdd__conv_transpose2d_backward(float *dinp, float *dw, const float *dout, const float *inp,
                                     const float *w, int B, int Cin, int H, int W, int Cout, int K, int P,
                                     svdd__workspace *ws);
size_t svdd__conv_transpose2d_workspace(int B, int Cin, int H, int W, int Cout, int K, int P, int threads);

/* ---- linear: torch.nn.Linear(I, O, bias=False); inp (B,I), w (O,I), out (B,O) ----
 * Large layers share fixed blocks of rows among `threads` threads: the same floats on any number. */
void svdd__linear_forward(float *out, const float *inp, const float *w, int B, int I, int O, int threads);
void svdd__linear_backward(float *dinp, float *dw, const float *dout, const float *inp, const float *w,
                           int B, int I, int O, int threads);

/* ---- batchnorm: torch.nn.BatchNorm2d / BatchNorm1d with affine=False ----
 * inp (B,C,S) where S = H*W (S = 1 for the 1-d case); out (B,C,S).
 * Training mode normalises with the batch mean and biased variance, caches mean and
 * rstd = 1/sqrt(var + eps) (C each), and updates the running statistics as PyTorch does:
 * running = (1 - momentum) * running + momentum * batch, with the UNBIASED batch variance.
 * Channels are independent: `threads` threads take one share of them each. */
void svdd__batchnorm_forward_train(float *out, float *mean, float *rstd, float *run_mean,
                                   float *run_var, const float *inp, int B, int C, int S, float eps,
                                   float momentum, int threads);
/* Evaluation mode's scale 1 / sqrt(run_var + eps), rounded as the functions here round it. */
float svdd__batchnorm_eval_scale(float run_var, float eps);
/* Evaluation mode: out = (inp - run_mean) / sqrt(run_var + eps). */
void svdd__batchnorm_forward_eval(float *out, const float *inp, const float *run_mean,
                                  const float *run_var, int B, int C, int S, float eps);
/* Backward of the training-mode forward; `out` is the normalised output it produced. */
void svdd__batchnorm_backward_train(float *dinp, const float *dout, const float *out, const float *rstd,
                                    int B, int C, int S, int threads);
/* Backward of the evaluation-mode forward (a per-channel scale). */
void svdd__batchnorm_backward_eval(float *dinp, const float *dout, const float *run_var, int B, int C,
                                   int S, float eps);

/* ---- leaky_relu: torch.nn.functional.leaky_relu(x, slope); n elements ---- */
void svdd__leaky_relu_forward(float *out, const float *inp, size_t n, float slope);
void svdd__leaky_relu_backward(float *dinp, const float *dout, const float *inp, size_t n, float slope);
/* Backward of a leaky ReLU (slope > 0) that wrote its output y over its input: the same dinp,
 * and y turned back into the input (within a rounding where y < 0). */
void svdd__leaky_relu_backward_restore(float *dinp, const float *dout, float *y, size_t n, float slope);
/* The same on the AVX2 build when simd (only when svdd__cpu_avx2_fma()): the same floats. */
void svdd__leaky_relu_backward_restore_as(float *dinp, const float *dout, float *y, size_t n, float slope, int simd);
/* The same leaving y as it is: the input to x instead (n floats apart from y, or y itself). */
void svdd__leaky_relu_backward_restore_to(float *dinp, const float *dout, float *x, const float *y, size_t n,
                                          float slope, int simd);

/* ---- maxpool2d: torch.nn.MaxPool2d(2, 2); inp (B,C,H,W), out (B,C,H/2,W/2) (floor) ----
 * On ties the first maximum in row-major window order takes the gradient, as PyTorch's CPU
 * kernel does. */
void svdd__maxpool2d_forward(float *out, const float *inp, int B, int C, int H, int W);
void svdd__maxpool2d_backward(float *dinp, const float *dout, const float *inp, int B, int C, int H,
                              int W);
/* One row of Wo windows over the input rows r0 and r1 (batch norm's fused pass pools with it);
 * simd = 1 only when svdd__cpu_avx2_fma(): the caller chose its path once, not per row. */
void svdd__maxpool2d_row(float *y, const float *r0, const float *r1, int Wo, int simd);
/* The same, each maximum v stored as (v - m) * r, then (act) the leaky ReLU of that: evaluation
 * batch norm and a leaky ReLU (slope >= 0) after the pooling. Both are non-decreasing (r > 0), so
 * they commute with the maximum: the values of batch norm, leaky ReLU and pooling in that order,
 * on a quarter of them (where several maxima round to one value, a zero may differ in sign). */
typedef struct svdd__pool_post {
    float m, r, slope;
    int act;
} svdd__pool_post;
void svdd__maxpool2d_row_post(float *y, const float *r0, const float *r1, int Wo, const svdd__pool_post *post,
                              int simd);
/* One (H, W) plane's 2x2 max pooling (pool) or the plane itself, through post (not NULL), written
 * as rows `ld` floats apart at dst (scoring's forward, src/nn/infer.c). */
void svdd__maxpool2d_plane_post(float *dst, size_t ld, const float *x, int H, int W, const svdd__pool_post *post,
                                int pool, int simd);
/* The same on a plane of eight images, one per lane, x (H, W, 8), written as rows of 8-float
 * pixels `ld` floats apart: per lane the values of svdd__maxpool2d_plane_post. */
void svdd__maxpool2d_lanes_post(float *dst, size_t ld, const float *x, int H, int W, const svdd__pool_post *post,
                                int pool, int simd);

/* The input gradient of training-mode batch norm (no affine part) under a leaky ReLU that wrote
 * its output y over batch norm's (slope > 0) and this pooling, from the pooling's output gradient
 * g, for rows 0..rows-1 of a plane of width W (both even): per cell, with dy the pooling's and
 * the leaky ReLU's gradient (g at the window's winner, times slope where y <= 0; else 0),
 * dx = r ((dy - mdy) - y q) where y > 0, r ((dy - mdy) - y q_neg) elsewhere: batch norm's
 * r (dy - mean(dy) - xhat mean(dy xhat)) with xhat = y / slope there and q_neg = q / slope (a
 * product instead of a division of every cell: the term within two roundings of y q / slope, as
 * the layers' division and product leave it). dx (rows, W) needs 16 floats of room after it on
 * the AVX2 path (simd) when W < 16. */
typedef struct svdd__unpool_bn {
    float slope, r, mdy, q, q_neg;
} svdd__unpool_bn;
void svdd__maxpool2d_unpool_bn_rows(float *dx, const float *y, const float *g, int rows, int W,
                                    const svdd__unpool_bn *p, int simd);
/* The same for one row pair of eight images' planes in the lanes: y (2, W, 8), the pooled row's
 * gradient g (W/2, 8), dx's two rows (W, 8) each ld floats apart. Per lane the floats of
 * svdd__maxpool2d_unpool_bn_rows; the AVX2 path (simd) and the portable one give the same. pf:
 * two rows laid out as y's, fetched into the cache meanwhile (the caller's next ones), or NULL. */
void svdd__maxpool2d_unpool_bn_lanes(float *dx, size_t ld, const float *y, const float *g, int W,
                                     const svdd__unpool_bn *p, const float *pf, int simd);

/* ---- upsample2d: torch.nn.functional.interpolate(x, scale_factor=2), mode 'nearest' ----
 * inp (B,C,H,W), out (B,C,2H,2W). */
void svdd__upsample2d_forward(float *out, const float *inp, int B, int C, int H, int W);
void svdd__upsample2d_backward(float *dinp, const float *dout, int B, int C, int H, int W);

/* ---- sigmoid: torch.sigmoid; n elements ---- */
void svdd__sigmoid_forward(float *out, const float *inp, size_t n);
void svdd__sigmoid_backward(float *dinp, const float *dout, const float *out, size_t n);

/* ---- squared-error reconstruction loss, as the reference autoencoder's:
 * loss = mean over b of sum over d of (pred - target)^2; pred, target (B,D).
 * Writes d loss / d pred into dpred and each image's sum into per_sample when not NULL. */
double svdd__sq_error_loss(float *dpred, float *per_sample, const float *pred, const float *target,
                           int B, int D);

/* ---- initialisation ---- */
/* PyTorch's default for Conv2d/ConvTranspose2d/Linear (kaiming_uniform_ with a = sqrt(5)):
 * U(-1/sqrt(fan_in), 1/sqrt(fan_in)). fan_in is PyTorch's: weight.size(1) * K * K, which for
 * ConvTranspose2d is Cout * K * K. */
void svdd__init_default(float *w, size_t n, size_t fan_in, svdd__rng *rng);
/* torch.nn.init.xavier_uniform_(w, gain): U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out)). */
void svdd__init_xavier_uniform(float *w, size_t n, size_t fan_in, size_t fan_out, double gain,
                               svdd__rng *rng);
/* torch.nn.init.calculate_gain('leaky_relu', slope) = sqrt(2 / (1 + slope^2)). */
double svdd__gain_leaky_relu(double slope);

/* ---- Adam: torch.optim.Adam semantics (L2 weight_decay added to the gradient, optional amsgrad).
 * `step` is 1-based. vmax may be NULL unless amsgrad. */
void svdd__adam_update(float *param, const float *grad, float *m, float *v, float *vmax, size_t n,
                       float lr, float beta1, float beta2, float eps, float weight_decay, int amsgrad,
                       long step);

#endif
