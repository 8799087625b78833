/* conv_transpose2d: torch.nn.ConvTranspose2d(Cin, Cout, K, stride=1, padding=P, bias=False).
 *
 * The transposed convolution is the adjoint of conv2d, so it reuses the same two kernels the
 * other way round: forward is a product followed by col2im, backward is im2col followed by
 * products. With weight w (Cin, Cout*K*K) and output position oy = iy + ky - P:
 *   out[b,co,oy,ox] = sum_{ci,ky,kx} inp[b,ci,iy,ix] * w[ci,co,ky,kx].
 * Threads and chunks as in conv2d.c: one slice of images per thread, small chunks, a private
 * weight-gradient buffer per thread summed in thread order. */
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

/* One call's arguments, handed to its chunks (svdd__plan_run); the scratch holds the matrices of
 * nb_max images. */
typedef struct convt_call {
    float *out, *dinp; /* forward's output; backward's input gradient (NULL: not wanted) */
    const float *inp, *dout, *w;
    int Cin, Cout, K, P, Ho, Wo, H, W, nb_max;
    size_t S, R; /* H*W, Cout*K*K */
} convt_call;

/* Images [b0, b0 + nb); scratch: xc (Cin, nb_max*S), col (R, nb_max*S). */
static void forward_chunk(const void *ctx, float *xc, float *dw_part, int b0, int nb) {
    const convt_call *c = ctx;
    (void)dw_part;
    const int N = (int)((size_t)nb * c->S), R = (int)c->R;
    float *col = xc + (size_t)c->Cin * c->S * (size_t)c->nb_max;
    svdd__nchw_to_cnhw(xc, c->inp + (size_t)b0 * c->Cin * c->S, nb, c->Cin, (int)c->S);
    /* col (R, N) = w^T (R, Cin) x xc (Cin, N) */
    svdd__sgemm(1, 0, R, N, c->Cin, 1.0f, c->w, R, xc, N, 0.0f, col, N);
    svdd__col2im(c->out + (size_t)b0 * c->Cout * c->Ho * c->Wo, col, nb, c->Cout, c->Ho, c->Wo, c->K, c->P, c->H, c->W);
}

void svdd__conv_transpose2d_forward(float *out, const float *inp, const float *w, int B, int Cin, int H,
                                    int W, int Cout, int K, int P, svdd__workspace *ws) {
    const svdd__batch_plan pl = plan(B, ws->threads, Cin, Cout, K, (size_t)H * W);
    const convt_call c = {.out = out, .inp = inp, .w = w, .Cin = Cin, .Cout = Cout, .K = K, .P = P,
                          .Ho = H - 1 - 2 * P + K, .Wo = W - 1 - 2 * P + K, .H = H, .W = W, .nb_max = pl.chunk,
                          .S = (size_t)H * W, .R = (size_t)Cout * K * K};
    svdd__plan_run(&pl, B, ws->data, NULL, forward_chunk, &c);
}

/* Images [b0, b0 + nb); scratch: xc and dxc (Cin, nb_max*S), dcol (R, nb_max*S). */
static void backward_chunk(const void *ctx, float *xc, float *dw_part, int b0, int nb) {
    const convt_call *c = ctx;
    const int N = (int)((size_t)nb * c->S), R = (int)c->R;
    float *dxc = xc + (size_t)c->Cin * c->S * (size_t)c->nb_max, *dcol = dxc + (size_t)c->Cin * c->S * (size_t)c->nb_max;
    svdd__im2col(dcol, c->dout + (size_t)b0 * c->Cout * c->Ho * c->Wo, nb, c->Cout, c->Ho, c->Wo, c->K, c->P, c->H, c->W);
    svdd__nchw_to_cnhw(xc, c->inp + (size_t)b0 * c->Cin * c->S, nb, c->Cin, (int)c->S);
    /* dw (Cin, R) += xc (Cin, N) x dcol^T (N, R) */
    svdd__sgemm(0, 1, c->Cin, R, N, 1.0f, xc, N, dcol, N, 1.0f, dw_part, R);
    if (c->dinp) {
        /* dxc (Cin, N) = w (Cin, R) x dcol (R, N) */
        svdd__sgemm(0, 0, c->Cin, N, R, 1.0f, c->w, R, dcol, N, 0.0f, dxc, N);
        svdd__cnhw_to_nchw(c->dinp + (size_t)b0 * c->Cin * c->S, dxc, nb, c->Cin, (int)c->S);
    }
}

void svdd__conv_transpose2d_backward(float *dinp, float *dw, const float *dout, const float *inp,
                                     const float *w, int B, int Cin, int H, int W, int Cout, int K, int P,
                                     svdd__workspace *ws) {
    const svdd__batch_plan pl = plan(B, ws->threads, Cin, Cout, K, (size_t)H * W);
    const convt_call c = {.dinp = dinp, .inp = inp, .dout = dout, .w = w, .Cin = Cin, .Cout = Cout, .K = K, .P = P,
                          .Ho = H - 1 - 2 * P + K, .Wo = W - 1 - 2 * P + K, .H = H, .W = W, .nb_max = pl.chunk,
                          .S = (size_t)H * W, .R = (size_t)Cout * K * K};
    svdd__plan_run(&pl, B, ws->data, dw, backward_chunk, &c);
}
