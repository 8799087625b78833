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

static svdd__batch_plan plan(int B, int threads, int Cin, int Cout, int K, size_t S_in) {
    size_t per_image = (2 * (size_t)Cin + (size_t)Cout * K * K) * S_in;
    return svdd__plan_batch(B, threads, per_image, (size_t)Cin * Cout * K * K, CONVT_CHUNK_FLOATS);
}

size_t svdd__conv_transpose2d_workspace(int B, int Cin, int H, int W, int Cout, int K, int P, int threads) {
    (void)P;
    svdd__batch_plan p = plan(B, threads, Cin, Cout, K, (size_t)H * W);
    return p.slice * (size_t)p.threads;
}

void svdd__conv_transpose2d_forward(float *out, const float *inp, const float *w, int B, int Cin, int H,
                                    int W, int Cout, int K, int P, svdd__workspace *ws) {
    const int Ho = H - 1 - 2 * P + K, Wo = W - 1 - 2 * P + K;
    const size_t S = (size_t)H * W, R = (size_t)Cout * K * K;
    const svdd__batch_plan pl = plan(B, ws->threads, Cin, Cout, K, S);
#pragma omp parallel for num_threads(pl.threads) schedule(static, 1)
    for (int t = 0; t < pl.threads; t++) {
        int lo, hi;
        svdd__plan_slice(&pl, B, t, &lo, &hi);
        const int nb_max = pl.chunk;
        float *xc = ws->data + pl.slice * (size_t)t, *col = xc + (size_t)Cin * S * (size_t)nb_max;
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
    const svdd__batch_plan pl = plan(B, ws->threads, Cin, Cout, K, S);
#pragma omp parallel for num_threads(pl.threads) schedule(static, 1)
    for (int t = 0; t < pl.threads; t++) {
        int lo, hi;
        svdd__plan_slice(&pl, B, t, &lo, &hi);
        const int nb_max = pl.chunk;
        float *xc = ws->data + pl.slice * (size_t)t, *dxc = xc + (size_t)Cin * S * (size_t)nb_max,
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
    svdd__plan_reduce(&pl, ws->data, dw, NW);
}
