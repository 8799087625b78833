/* Winograd F(2x2, 5x5) convolutions over a batch (the transforms are in winograd.c): the chunks,
 * the threads and the workspace, shared by conv2d and conv_transpose2d (a stride-1 transposed
 * convolution is a convolution with the rotated kernels and the channel axes swapped).
 *
 * A chunk's scratch per image: its tiles transformed, input side and output side, and the
 * transforms' row scratch (counted per image for simplicity: a few hundred floats). A forward has
 * the transformed weights (36, Co, Ci) before the threads' slices. A weight gradient has each
 * thread's transformed part (36, Co, Ci) at the end of its slice, summed into the first thread's.
 * A layer's backward runs the weight gradient, then the input gradient (a forward): apart, the two
 * need less memory than in one pass over the batch (CIFAR-10's 64 -> 128 layer: 3.3 MB at two
 * threads instead of 4.4). */
#include "kernels.h"

/* Scratch budget per chunk, in floats (512 KiB): one 16x16 image of 32 + 64 channels is 0.9 MB
 * transformed, so chunks are one image on the CIFAR-10 layers. */
#define WINO_CHUNK_FLOATS ((size_t)1 << 17)

int svdd__winograd_wanted(svdd__conv_path path, int Cin, int Cout, int H, int W, int K, int P) {
    if (!svdd__winograd_fits(Cin, Cout, H, W, K, P)) return 0;
    /* with fewer channels the products would be too thin for the BLAS (CIFAR-10's first layer
     * has 3 inputs; the MNIST layers take the direct kernels) */
    return path == SVDD__CONV_WINOGRAD || (path == SVDD__CONV_AUTO && Cin >= 16 && Cout >= 16);
}

static svdd__batch_plan wino_plan(int B, int threads, int Ci, int H, int W, int Co, int wgrad) {
    const size_t nt = (size_t)(H / 2) * (W / 2), nw = 36 * (size_t)Ci * Co;
    /* + 32: the stride's padding of the two transformed blocks (svdd__winograd_stride) */
    const size_t per_image = 36 * ((size_t)(Ci + Co) * nt + 32) + svdd__winograd_row_floats(H, W);
    return svdd__plan_batch(B, threads, per_image, wgrad ? nw : 0, WINO_CHUNK_FLOATS);
}

static size_t wino_shared(int Ci, int Co) { return svdd__round16(36 * (size_t)Ci * Co); }

size_t svdd__winograd_workspace(int B, int threads, int Ci, int H, int W, int Co) {
    /* the plans are symmetric in the channel counts: an input gradient's forward fits too */
    const svdd__batch_plan f = wino_plan(B, threads, Ci, H, W, Co, 0);
    const svdd__batch_plan g = wino_plan(B, threads, Ci, H, W, Co, 1);
    const size_t nf = wino_shared(Ci, Co) + f.slice * (size_t)f.threads, ng = g.slice * (size_t)g.threads;
    return nf > ng ? nf : ng;
}

/* One call's arguments, handed to its chunks (svdd__plan_run). */
typedef struct wino_call {
    float *out;
    const float *inp, *dout, *U;
    int Ci, Co, H, W, up, down, nb_max;
} wino_call;

/* Images [b0, b0 + nb); scratch: V (36, Ci, P), M (36, Co, P), rows. */
static void forward_chunk(const void *ctx, float *s, float *dw_part, int b0, int nb) {
    const wino_call *c = ctx;
    (void)dw_part;
    const size_t nt = (size_t)(c->H / 2) * (c->W / 2), P = (size_t)nb * nt, Pmax = (size_t)c->nb_max * nt;
    const size_t vs = svdd__winograd_stride((size_t)c->Ci * P), ms = svdd__winograd_stride((size_t)c->Co * P);
    const size_t in_sz = (size_t)c->Ci * c->H * c->W / ((size_t)c->up * c->up);
    const size_t out_sz = (size_t)c->Co * c->H * c->W / ((size_t)c->down * c->down);
    float *V = s, *M = V + 36 * svdd__winograd_stride((size_t)c->Ci * Pmax);
    float *rows = M + 36 * svdd__winograd_stride((size_t)c->Co * Pmax);
    svdd__winograd_input(V, vs, c->inp + (size_t)b0 * in_sz, nb, c->Ci, c->H, c->W, c->up, rows);
    for (int x = 0; x < 36; x++) /* M[x] (Co, P) = U[x] (Co, Ci) x V[x] (Ci, P) */
        svdd__sgemm(0, 0, c->Co, (int)P, c->Ci, 1.0f, c->U + (size_t)x * c->Co * c->Ci, c->Ci, V + x * vs, (int)P,
                    0.0f, M + x * ms, (int)P);
    svdd__winograd_output(c->out + (size_t)b0 * out_sz, M, ms, nb, c->Co, c->H, c->W, c->down, rows);
}

void svdd__winograd_conv(float *out, const float *inp, const float *w, int rotated, int B, int Ci, int H, int W,
                         int Co, int up, int down, svdd__workspace *ws) {
    const svdd__batch_plan pl = wino_plan(B, ws->threads, Ci, H, W, Co, 0);
    float *U = ws->data;
    if (rotated)
        svdd__winograd_weights_rotated(U, w, Ci, Co, pl.threads);
    else
        svdd__winograd_weights(U, w, Co, Ci, pl.threads);
    const wino_call c = {.out = out, .inp = inp, .U = U, .Ci = Ci, .Co = Co, .H = H, .W = W, .up = up,
                         .down = down, .nb_max = pl.chunk};
    svdd__plan_run(&pl, B, ws->data + wino_shared(Ci, Co), NULL, forward_chunk, &c);
}

/* Images [b0, b0 + nb): V (36, Ci, P) and D (36, Co, P), the transformed input and output
 * gradient, in the scratch; the thread's transformed part in dw_part. */
static void wgrad_chunk(const void *ctx, float *s, float *dw_part, int b0, int nb) {
    const wino_call *c = ctx;
    const size_t nt = (size_t)(c->H / 2) * (c->W / 2), P = (size_t)nb * nt, Pmax = (size_t)c->nb_max * nt;
    const size_t vs = svdd__winograd_stride((size_t)c->Ci * P), ds = svdd__winograd_stride((size_t)c->Co * P);
    const size_t in_sz = (size_t)c->Ci * c->H * c->W / ((size_t)c->up * c->up);
    float *V = s, *D = V + 36 * svdd__winograd_stride((size_t)c->Ci * Pmax);
    float *rows = D + 36 * svdd__winograd_stride((size_t)c->Co * Pmax);
    svdd__winograd_input(V, vs, c->inp + (size_t)b0 * in_sz, nb, c->Ci, c->H, c->W, c->up, rows);
    svdd__winograd_grad_output(D, ds, c->dout + (size_t)b0 * c->Co * c->H * c->W, nb, c->Co, c->H, c->W, rows);
    for (int x = 0; x < 36; x++) /* dU[x] (Co, Ci) += D[x] (Co, P) x V[x]^T (P, Ci) */
        svdd__sgemm(0, 1, c->Co, c->Ci, (int)P, 1.0f, D + x * ds, (int)P, V + x * vs, (int)P, 1.0f,
                    dw_part + (size_t)x * c->Co * c->Ci, c->Ci);
}

void svdd__winograd_conv_wgrad(float *dw, int rotated, const float *inp, int up, const float *dout, int B, int Ci,
                               int H, int W, int Co, svdd__workspace *ws) {
    const svdd__batch_plan pl = wino_plan(B, ws->threads, Ci, H, W, Co, 1);
    const wino_call c = {.inp = inp, .dout = dout, .Ci = Ci, .Co = Co, .H = H, .W = W, .up = up, .down = 1,
                         .nb_max = pl.chunk};
    svdd__winograd_weight_grad(dw, rotated, svdd__plan_run_sum(&pl, B, ws->data, wgrad_chunk, &c), Co, Ci,
                               pl.threads);
}
