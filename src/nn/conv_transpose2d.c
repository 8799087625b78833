/* conv_transpose2d: torch.nn.ConvTranspose2d(Cin, Cout, K, stride=1, padding=P, bias=False).
 *
 * The transposed convolution is the adjoint of conv2d, so it reuses the same two kernels the
 * other way round: forward is a product followed by col2im, backward is im2col followed by
 * products. With weight w (Cin, Cout*K*K) and output position oy = iy + ky - P:
 *   out[b,co,oy,ox] = sum_{ci,ky,kx} inp[b,ci,iy,ix] * w[ci,co,ky,kx].
 * Threads and chunks as in conv2d.c: one slice of images per thread, small chunks, a private
 * weight-gradient buffer per thread summed in thread order. */
#include <string.h>

#include "layers.h"

#define CONVT_CHUNK_FLOATS ((size_t)1 << 18)

static size_t per_image(int Cin, int Cout, int K, size_t S_in) { return (2 * (size_t)Cin + (size_t)Cout * K * K) * S_in; }

static int chunk(int B, int Cin, int Cout, int K, size_t S_in) {
    size_t nb = CONVT_CHUNK_FLOATS / per_image(Cin, Cout, K, S_in);
    if (nb < 1) nb = 1;
    if (nb > (size_t)B) nb = (size_t)B;
    return (int)nb;
}

static size_t slice_floats(int B, int T, int Cin, int Cout, int K, size_t S_in) {
    int per_thread = (B + T - 1) / T;
    return per_image(Cin, Cout, K, S_in) * (size_t)chunk(per_thread, Cin, Cout, K, S_in) + (size_t)Cin * Cout * K * K;
}

static int threads_for(int B, const svdd__workspace *ws) {
    int T = ws->threads < 1 ? 1 : ws->threads;
    return T > B ? B : T;
}

size_t svdd__conv_transpose2d_workspace(int B, int Cin, int H, int W, int Cout, int K, int P, int threads) {
    (void)P;
    if (threads < 1) threads = 1;
    return slice_floats(B, threads, Cin, Cout, K, (size_t)H * W) * (size_t)threads;
}

void svdd__conv_transpose2d_forward(float *out, const float *inp, const float *w, int B, int Cin, int H,
                                    int W, int Cout, int K, int P, svdd__workspace *ws) {
    const int Ho = H - 1 - 2 * P + K, Wo = W - 1 - 2 * P + K;
    const size_t S = (size_t)H * W, R = (size_t)Cout * K * K;
    const int T = threads_for(B, ws);
    const size_t slice = slice_floats(B, T, Cin, Cout, K, S);
#pragma omp parallel for num_threads(T) schedule(static, 1)
    for (int t = 0; t < T; t++) {
        const int lo = (int)((long)B * t / T), hi = (int)((long)B * (t + 1) / T);
        const int nb_max = chunk((B + T - 1) / T, Cin, Cout, K, S);
        float *xc = ws->data + slice * (size_t)t, *col = xc + (size_t)Cin * S * (size_t)nb_max;
        for (int b0 = lo; b0 < hi; b0 += nb_max) {
            int nb = hi - b0 < nb_max ? hi - b0 : nb_max;
            int N = (int)((size_t)nb * S);
            svdd__nchw_to_cnhw(xc, inp + (size_t)b0 * Cin * S, nb, Cin, (int)S);
            /* col (R, N) = w^T (R, Cin) x xc (Cin, N) */
            svdd__sgemm(1, 0, (int)R, N, Cin, 1.0f, w, (int)R, xc, N, 0.0f, col, N);
            svdd__col2im(out + (size_t)b0 * Cout * Ho * Wo, col, nb, Cout, Ho, Wo, K, P, H, W);
        }
    }
}

void svdd__conv_transpose2d_backward(float *dinp, float *dw, const float *dout, const float *inp,
                                     const float *w, int B, int Cin, int H, int W, int Cout, int K, int P,
                                     svdd__workspace *ws) {
    const int Ho = H - 1 - 2 * P + K, Wo = W - 1 - 2 * P + K;
    const size_t S = (size_t)H * W, R = (size_t)Cout * K * K, NW = (size_t)Cin * R;
    const int T = threads_for(B, ws);
    const size_t slice = slice_floats(B, T, Cin, Cout, K, S);
#pragma omp parallel for num_threads(T) schedule(static, 1)
    for (int t = 0; t < T; t++) {
        const int lo = (int)((long)B * t / T), hi = (int)((long)B * (t + 1) / T);
        const int nb_max = chunk((B + T - 1) / T, Cin, Cout, K, S);
        float *xc = ws->data + slice * (size_t)t, *dxc = xc + (size_t)Cin * S * (size_t)nb_max,
              *dcol = dxc + (size_t)Cin * S * (size_t)nb_max, *mydw = dcol + R * S * (size_t)nb_max;
        memset(mydw, 0, NW * sizeof(float));
        for (int b0 = lo; b0 < hi; b0 += nb_max) {
            int nb = hi - b0 < nb_max ? hi - b0 : nb_max;
            int N = (int)((size_t)nb * S);
            svdd__im2col(dcol, dout + (size_t)b0 * Cout * Ho * Wo, nb, Cout, Ho, Wo, K, P, H, W);
            svdd__nchw_to_cnhw(xc, inp + (size_t)b0 * Cin * S, nb, Cin, (int)S);
            /* dw (Cin, R) += xc (Cin, N) x dcol^T (N, R) */
            svdd__sgemm(0, 1, Cin, (int)R, N, 1.0f, xc, N, dcol, N, 1.0f, mydw, (int)R);
            if (dinp) {
                /* dxc (Cin, N) = w (Cin, R) x dcol (R, N) */
                svdd__sgemm(0, 0, Cin, N, (int)R, 1.0f, w, (int)R, dcol, N, 0.0f, dxc, N);
                svdd__cnhw_to_nchw(dinp + (size_t)b0 * Cin * S, dxc, nb, Cin, (int)S);
            }
        }
    }
    for (int t = 0; t < T; t++) {
        const float *part = ws->data + slice * (size_t)t + (slice - NW);
        for (size_t i = 0; i < NW; i++) dw[i] += part[i];
    }
}
