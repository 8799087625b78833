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

static size_t per_image(int Cin, int Cout, int K, size_t S) { return (2 * (size_t)Cin * K * K + (size_t)Cout) * S; }

static int chunk(int B, int Cin, int Cout, int K, size_t S) {
    size_t nb = CONV_CHUNK_FLOATS / per_image(Cin, Cout, K, S);
    if (nb < 1) nb = 1;
    if (nb > (size_t)B) nb = (size_t)B;
    return (int)nb;
}

/* One thread's scratch: a chunk's matrices plus a weight-gradient buffer. */
static size_t slice_floats(int B, int T, int Cin, int Cout, int K, size_t S) {
    int per_thread = (B + T - 1) / T;
    return per_image(Cin, Cout, K, S) * (size_t)chunk(per_thread, Cin, Cout, K, S) + (size_t)Cout * Cin * K * K;
}

static int threads_for(int B, const svdd__workspace *ws) {
    int T = ws->threads < 1 ? 1 : ws->threads;
    return T > B ? B : T;
}

size_t svdd__conv2d_workspace(int B, int Cin, int H, int W, int Cout, int K, int P, int threads) {
    size_t S = (size_t)(H + 2 * P - K + 1) * (size_t)(W + 2 * P - K + 1);
    if (threads < 1) threads = 1;
    return slice_floats(B, threads, Cin, Cout, K, S) * (size_t)threads;
}

void svdd__conv2d_forward(float *out, const float *inp, const float *w, int B, int Cin, int H, int W,
                          int Cout, int K, int P, svdd__workspace *ws) {
    const int Ho = H + 2 * P - K + 1, Wo = W + 2 * P - K + 1;
    const size_t S = (size_t)Ho * Wo, R = (size_t)Cin * K * K;
    const int T = threads_for(B, ws);
    const size_t slice = slice_floats(B, T, Cin, Cout, K, S);
#pragma omp parallel for num_threads(T) schedule(static, 1)
    for (int t = 0; t < T; t++) {
        const int lo = (int)((long)B * t / T), hi = (int)((long)B * (t + 1) / T);
        const int nb_max = chunk((B + T - 1) / T, Cin, Cout, K, S);
        float *col = ws->data + slice * (size_t)t, *outc = col + R * S * (size_t)nb_max;
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
    const int T = threads_for(B, ws);
    const size_t slice = slice_floats(B, T, Cin, Cout, K, S);
#pragma omp parallel for num_threads(T) schedule(static, 1)
    for (int t = 0; t < T; t++) {
        const int lo = (int)((long)B * t / T), hi = (int)((long)B * (t + 1) / T);
        const int nb_max = chunk((B + T - 1) / T, Cin, Cout, K, S);
        float *col = ws->data + slice * (size_t)t, *dcol = col + R * S * (size_t)nb_max,
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
    for (int t = 0; t < T; t++) {
        const float *part = ws->data + slice * (size_t)t + (slice - NW);
        for (size_t i = 0; i < NW; i++) dw[i] += part[i];
    }
}
