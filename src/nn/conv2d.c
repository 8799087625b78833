/* conv2d: torch.nn.Conv2d(Cin, Cout, K, stride=1, padding=P, bias=False).
 *
 * Lowered to one matrix product per chunk of images: im2col turns the chunk into a
 * (Cin*K*K, nb*Ho*Wo) matrix, so the product W (Cout, Cin*K*K) x col is wide enough for the BLAS
 * to run near its peak even on 28x28 images with 4 or 8 channels. Chunks keep the scratch memory
 * bounded whatever the batch size; they depend only on the shapes, so results do not depend on
 * the thread count. */
#include "layers.h"

/* Scratch budget per chunk, in floats (16 MiB). */
#define CONV_CHUNK_FLOATS ((size_t)4 << 20)

static int conv2d_chunk(int B, int Cin, int Cout, int K, size_t S) {
    size_t per_image = (2 * (size_t)Cin * K * K + (size_t)Cout) * S;
    size_t nb = CONV_CHUNK_FLOATS / (per_image ? per_image : 1);
    if (nb < 1) nb = 1;
    if (nb > (size_t)B) nb = (size_t)B;
    return (int)nb;
}

size_t svdd__conv2d_workspace(int B, int Cin, int H, int W, int Cout, int K, int P) {
    size_t S = (size_t)(H + 2 * P - K + 1) * (size_t)(W + 2 * P - K + 1);
    int nb = conv2d_chunk(B, Cin, Cout, K, S);
    return (2 * (size_t)Cin * K * K + (size_t)Cout) * S * (size_t)nb;
}

void svdd__conv2d_forward(float *out, const float *inp, const float *w, int B, int Cin, int H, int W,
                          int Cout, int K, int P, svdd__workspace *ws) {
    const int Ho = H + 2 * P - K + 1, Wo = W + 2 * P - K + 1;
    const size_t S = (size_t)Ho * Wo, R = (size_t)Cin * K * K;
    const int nb_max = conv2d_chunk(B, Cin, Cout, K, S);
    float *col = ws->data, *outc = col + R * S * (size_t)nb_max;
    for (int b0 = 0; b0 < B; b0 += nb_max) {
        int nb = B - b0 < nb_max ? B - b0 : nb_max;
        int N = (int)((size_t)nb * S);
        svdd__im2col(col, inp + (size_t)b0 * Cin * H * W, nb, Cin, H, W, K, P, Ho, Wo);
        /* outc (Cout, nb*S) = w (Cout, R) x col (R, nb*S) */
        svdd__sgemm(0, 0, Cout, N, (int)R, 1.0f, w, (int)R, col, N, 0.0f, outc, N);
        svdd__cnhw_to_nchw(out + (size_t)b0 * Cout * S, outc, nb, Cout, (int)S);
    }
}

void svdd__conv2d_backward(float *dinp, float *dw, const float *dout, const float *inp, const float *w,
                           int B, int Cin, int H, int W, int Cout, int K, int P, svdd__workspace *ws) {
    const int Ho = H + 2 * P - K + 1, Wo = W + 2 * P - K + 1;
    const size_t S = (size_t)Ho * Wo, R = (size_t)Cin * K * K;
    const int nb_max = conv2d_chunk(B, Cin, Cout, K, S);
    float *col = ws->data, *dcol = col + R * S * (size_t)nb_max, *doutc = dcol + R * S * (size_t)nb_max;
    for (int b0 = 0; b0 < B; b0 += nb_max) {
        int nb = B - b0 < nb_max ? B - b0 : nb_max;
        int N = (int)((size_t)nb * S);
        svdd__im2col(col, inp + (size_t)b0 * Cin * H * W, nb, Cin, H, W, K, P, Ho, Wo);
        svdd__nchw_to_cnhw(doutc, dout + (size_t)b0 * Cout * S, nb, Cout, (int)S);
        /* dw (Cout, R) += doutc (Cout, N) x col^T (N, R) */
        svdd__sgemm(0, 1, Cout, (int)R, N, 1.0f, doutc, N, col, N, 1.0f, dw, (int)R);
        if (dinp) {
            /* dcol (R, N) = w^T (R, Cout) x doutc (Cout, N), then scatter back to the images */
            svdd__sgemm(1, 0, (int)R, N, Cout, 1.0f, w, (int)R, doutc, N, 0.0f, dcol, N);
            svdd__col2im(dinp + (size_t)b0 * Cin * H * W, dcol, nb, Cin, H, W, K, P, Ho, Wo);
        }
    }
}
