/* conv2d: torch.nn.Conv2d(Cin, Cout, K, stride=1, padding=P, bias=False).
 *
 * Lowered to matrix products over chunks of images: im2col turns a chunk into a
 * (Cin*K*K, nb*Ho*Wo) matrix, so the product W (Cout, Cin*K*K) x col is wide enough for the BLAS
 * to run well even on 28x28 images with 4 or 8 channels, while a chunk stays small enough
 * (1 MiB of scratch) to be in cache when the product reads it. The batch is split into one
 * contiguous slice of images per thread; each thread runs single-threaded products on its own
 * scratch and, in backward, sums its weight gradient into its own buffer, added up in thread
 * order at the end (svdd__plan_run, src/kernels/batch_plan.c: this file gives it one chunk's work). */
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

/* One call's arguments, handed to its chunks (svdd__plan_run); the scratch holds the matrices of
 * nb_max images. */
typedef struct conv2d_call {
    float *out, *dinp; /* forward's output; backward's input gradient (NULL: not wanted) */
    const float *inp, *dout, *w;
    int Cin, H, W, Cout, K, P, Ho, Wo, nb_max;
    size_t S, R; /* Ho*Wo, Cin*K*K */
} conv2d_call;

/* Images [b0, b0 + nb); scratch: col (R, nb_max*S), outc (Cout, nb_max*S). */
static void forward_chunk(const void *ctx, float *col, float *dw_part, int b0, int nb) {
    const conv2d_call *c = ctx;
    (void)dw_part;
    const int N = (int)((size_t)nb * c->S), R = (int)c->R;
    float *outc = col + c->R * c->S * (size_t)c->nb_max;
    svdd__im2col(col, c->inp + (size_t)b0 * c->Cin * c->H * c->W, nb, c->Cin, c->H, c->W, c->K, c->P, c->Ho, c->Wo);
    /* outc (Cout, nb*S) = w (Cout, R) x col (R, nb*S) */
    svdd__sgemm(0, 0, c->Cout, N, R, 1.0f, c->w, R, col, N, 0.0f, outc, N);
    svdd__cnhw_to_nchw(c->out + (size_t)b0 * c->Cout * c->S, outc, nb, c->Cout, (int)c->S);
}

void svdd__conv2d_forward(float *out, const float *inp, const float *w, int B, int Cin, int H, int W,
                          int Cout, int K, int P, svdd__workspace *ws) {
    const int Ho = H + 2 * P - K + 1, Wo = W + 2 * P - K + 1;
    const svdd__batch_plan pl = plan(B, ws->threads, Cin, Cout, K, (size_t)Ho * Wo);
    const conv2d_call c = {.out = out, .inp = inp, .w = w, .Cin = Cin, .H = H, .W = W, .Cout = Cout, .K = K, .P = P,
                           .Ho = Ho, .Wo = Wo, .nb_max = pl.chunk, .S = (size_t)Ho * Wo, .R = (size_t)Cin * K * K};
    svdd__plan_run(&pl, B, ws->data, NULL, forward_chunk, &c);
}

/* Images [b0, b0 + nb); scratch: col and dcol (R, nb_max*S), doutc (Cout, nb_max*S). */
static void backward_chunk(const void *ctx, float *col, float *dw_part, int b0, int nb) {
    const conv2d_call *c = ctx;
    const int N = (int)((size_t)nb * c->S), R = (int)c->R;
    float *dcol = col + c->R * c->S * (size_t)c->nb_max, *doutc = dcol + c->R * c->S * (size_t)c->nb_max;
    svdd__im2col(col, c->inp + (size_t)b0 * c->Cin * c->H * c->W, nb, c->Cin, c->H, c->W, c->K, c->P, c->Ho, c->Wo);
    svdd__nchw_to_cnhw(doutc, c->dout + (size_t)b0 * c->Cout * c->S, nb, c->Cout, (int)c->S);
    /* dw (Cout, R) += doutc (Cout, N) x col^T (N, R) */
    svdd__sgemm(0, 1, c->Cout, R, N, 1.0f, doutc, N, col, N, 1.0f, dw_part, R);
    if (c->dinp) {
        /* dcol (R, N) = w^T (R, Cout) x doutc (Cout, N), then scatter back to the images */
        svdd__sgemm(1, 0, R, N, c->Cout, 1.0f, c->w, R, doutc, N, 0.0f, dcol, N);
        svdd__col2im(c->dinp + (size_t)b0 * c->Cin * c->H * c->W, dcol, nb, c->Cin, c->H, c->W, c->K, c->P, c->Ho,
                     c->Wo);
    }
}

void svdd__conv2d_backward(float *dinp, float *dw, const float *dout, const float *inp, const float *w,
                           int B, int Cin, int H, int W, int Cout, int K, int P, svdd__workspace *ws) {
    const int Ho = H + 2 * P - K + 1, Wo = W + 2 * P - K + 1;
    const svdd__batch_plan pl = plan(B, ws->threads, Cin, Cout, K, (size_t)Ho * Wo);
    const conv2d_call c = {.dinp = dinp, .inp = inp, .dout = dout, .w = w, .Cin = Cin, .H = H, .W = W, .Cout = Cout,
                           .K = K, .P = P, .Ho = Ho, .Wo = Wo, .nb_max = pl.chunk, .S = (size_t)Ho * Wo,
                           .R = (size_t)Cin * K * K};
    svdd__plan_run(&pl, B, ws->data, dw, backward_chunk, &c);
}
