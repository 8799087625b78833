/* conv2d: torch.nn.Conv2d(Cin, Cout, K, stride=1, padding=P, bias=False).
 *
 * Lowered to matrix products over chunks of images: im2col turns a chunk into a
 * (Cin*K*K, nb*Ho*Wo) matrix, so the product W (Cout, Cin*K*K) x col is wide enough for the BLAS
 * to run well even on 28x28 images with 4 or 8 channels, while a chunk stays small enough
 * (1 MiB of scratch) to be in cache when the product reads it. The batch is split into one
 * contiguous slice of images per thread; each thread runs single-threaded products on its own
 * scratch and, in backward, sums its weight gradient into its own buffer, added up in thread
 * order at the end. */
#include <string.h>

#include "layers.h"

/* Scratch budget per chunk, in floats (1 MiB). */
#define CONV_CHUNK_FLOATS ((size_t)1 << 18)

static svdd__batch_plan plan(int B, int threads, int Cin, int Cout, int K, size_t S) {
    size_t per_image = (2 * (size_t)Cin * K * K + (size_t)Cout) * S;
    return svdd__plan_batch(B, threads, per_image, (size_t)Cout * Cin * K * K, CONV_CHUNK_FLOATS);
}

size_t svdd__conv2d_workspace(int B, int Cin, int H, int W, int Cout, int K, int P, int threads) {
    size_t S = (size_t)(H + 2 * P - K + 1) * (size_t)(W + 2 * P - K + 1);
    svdd__batch_plan p = plan(B, threads, Cin, Cout, K, S);
    return p.slice * (size_t)p.threads;
}

void svdd__conv2d_forward(float *out, const float *inp, const float *w, int B, int Cin, int H, int W,
                          int Cout, int K, int P, svdd__workspace *ws) {
    const int Ho = H + 2 * P - K + 1, Wo = W + 2 * P - K + 1;
    const size_t S = (size_t)Ho * Wo, R = (size_t)Cin * K * K;
    const svdd__batch_plan pl = plan(B, ws->threads, Cin, Cout, K, S);
#pragma omp parallel for num_threads(pl.threads) schedule(static, 1)
    for (int t = 0; t < pl.threads; t++) {
        int lo, hi;
        svdd__plan_slice(&pl, B, t, &lo, &hi);
        const int nb_max = pl.chunk;
        float *col = ws->data + pl.slice * (size_t)t, *outc = col + R * S * (size_t)nb_max;
        for (int b0 = lo; b0 < hi; b0 += nb_max) {
            int nb = hi - b0 < nb_max ? hi - b0 : nb_max;
            int N = (int)((size_t)nb * S);
            svdd__im2col(col, inp + (size_t)b0 * Cin * H * W, nb, Cin, H, W, K, P, Ho, Wo);
            /* outc (Cout, nb*S) = w (Cout, R) x col (R, nb*S) */
            svdd__sgemm(0, 0, Cout, N, (int)R, 1.0f, w, (int)R, col, N, 0.0f, outc, N);
            svdd__cnhw_to_nchw(out + (size_t)b0 * Cout * S, outc, nb, Cout, (int)S);
        }
    }
}

void svdd__conv2d_backward(float *dinp, float *dw, const float *dout, const float *inp, const float *w,
                           int B, int Cin, int H, int W, int Cout, int K, int P, svdd__workspace *ws) {
    const int Ho = H + 2 * P - K + 1, Wo = W + 2 * P - K + 1;
    const size_t S = (size_t)Ho * Wo, R = (size_t)Cin * K * K, NW = (size_t)Cout * R;
    const svdd__batch_plan pl = plan(B, ws->threads, Cin, Cout, K, S);
#pragma omp parallel for num_threads(pl.threads) schedule(static, 1)
    for (int t = 0; t < pl.threads; t++) {
        int lo, hi;
        svdd__plan_slice(&pl, B, t, &lo, &hi);
        const int nb_max = pl.chunk;
        float *col = ws->data + pl.slice * (size_t)t, *dcol = col + R * S * (size_t)nb_max,
              *doutc = dcol + R * S * (size_t)nb_max, *mydw = doutc + (size_t)Cout * S * (size_t)nb_max;
        memset(mydw, 0, NW * sizeof(float));
        for (int b0 = lo; b0 < hi; b0 += nb_max) {
            int nb = hi - b0 < nb_max ? hi - b0 : nb_max;
            int N = (int)((size_t)nb * S);
            svdd__im2col(col, inp + (size_t)b0 * Cin * H * W, nb, Cin, H, W, K, P, Ho, Wo);
            svdd__nchw_to_cnhw(doutc, dout + (size_t)b0 * Cout * S, nb, Cout, (int)S);
            /* dw (Cout, R) += doutc (Cout, N) x col^T (N, R) */
            svdd__sgemm(0, 1, Cout, (int)R, N, 1.0f, doutc, N, col, N, 1.0f, mydw, (int)R);
            if (dinp) {
                /* dcol (R, N) = w^T (R, Cout) x doutc (Cout, N), then scatter back to the images */
                svdd__sgemm(1, 0, (int)R, N, Cout, 1.0f, w, (int)R, doutc, N, 0.0f, dcol, N);
                svdd__col2im(dinp + (size_t)b0 * Cin * H * W, dcol, nb, Cin, H, W, K, P, Ho, Wo);
            }
        }
    }
    svdd__plan_reduce(&pl, ws->data, dw, NW);
}
