/* conv2d: torch.nn.Conv2d(Cin, Cout, K, stride=1, padding=P, bias=False).
 *
 * Lowered to matrix products over chunks of images: im2col turns a chunk into a
 * (Cin*K*K, nb*Ho*Wo) matrix, so the product W (Cout, Cin*K*K) x col is wide enough for the BLAS
 * to run well even on 28x28 images with 4 or 8 channels, while a chunk stays small enough
 * (1 MiB of scratch) to be in cache when the product reads it. The batch is split into one
 * contiguous slice of images per thread; each thread runs single-threaded products on its own
 * scratch and, in backward, sums its weight gradient into its own buffer, added up in thread
 * order at the end (svdd__plan_run, src/kernels/batch_plan.c: this file gives it one chunk's work).
 *
 * Layers with few channels (those of the MNIST networks) take the direct kernels instead
 * (src/kernels/conv_direct.c): one image at a time, no im2col, and the input gradient as the
 * convolution of the padded output gradient with the rotated weights, so no col2im either. They
 * run on groups of eight images handed out by svdd__run_units (src/kernels/batch_plan.c), each
 * group's weight gradient kept apart and the groups' added in order: the same floats whichever
 * thread ran a group. The forward can run a function of the caller's on each group right after
 * writing it, on the same thread (svdd__conv2d_forward_then: batch norm's statistics, while the
 * group's maps are in the cache), and leave its output in the lanes, eight images to a vector
 * (svdd__conv2d_forward_lanes: for the blocks that keep their maps there, src/nn/block_backward.c).
 *
 * The 5x5, padding-2 layers with at least 16 channels on each side (those of the CIFAR-10
 * networks) take Winograd's F(2x2, 5x5) (src/kernels/winograd*.c): 36 products per 2x2 tile and
 * channel pair instead of 100, for the forward, the input gradient (the same transform on the
 * output gradient with the rotated weights) and the weight gradient (summed in transformed form
 * per thread, transformed back once per call). */
#include <string.h>

#include "layers.h"

/* Scratch budget per chunk, in floats (1 MiB). */
#define CONV_CHUNK_FLOATS ((size_t)1 << 18)

static svdd__batch_plan plan(int B, int threads, int Cin, int Cout, int K, size_t S) {
    size_t per_image = (2 * (size_t)Cin * K * K + (size_t)Cout) * S;
    return svdd__plan_batch(B, threads, per_image, (size_t)Cout * Cin * K * K, CONV_CHUNK_FLOATS);
}

/* The direct path's scratch per thread: the padded image (the input, or in backward the output
 * gradient if larger), then in backward the 8-lane weight-gradient sums and the rotated weights. */
static size_t direct_pad(int Cin, int H, int W, int Cout, int K, int P, int backward) {
    if (!backward) return svdd__conv_direct_pad_floats(Cin, H, W, K, P);
    size_t a = svdd__conv_direct_wgrad_floats(Cin, H, W, Cout, K, P);
    size_t b = svdd__conv_direct_pad_floats(Cout, H + 2 * P - K + 1, W + 2 * P - K + 1, K, K - 1 - P);
    return a > b ? a : b;
}

/* With AVX2 the direct path takes eight images at a time, one per lane (conv_lanes.c): the
 * padded maps and the output of such a group; forward: the input, the output; backward: the
 * output gradient (padded for the input gradient's convolution), the input gradient, the input. */
static size_t lanes_floats(int Cin, int H, int W, int Cout, int K, int P, int backward) {
    const int Ho = H + 2 * P - K + 1, Wo = W + 2 * P - K + 1, Q = K - 1 - P;
    const size_t x8 = svdd__round16((size_t)Cin * (H + 2 * P) * (W + 2 * P) * 8);
    if (!backward) return x8 + svdd__round16((size_t)Cout * Ho * Wo * 8);
    return svdd__round16((size_t)Cout * (Ho + 2 * Q) * (Wo + 2 * Q) * 8) + svdd__round16((size_t)Cin * H * W * 8) + x8;
}

/* Where the lanes' scratch starts in a thread's scratch (64-byte aligned, as every slice is). */
static size_t lanes_offset(int Cin, int H, int W, int Cout, int K, int P, int backward) {
    const size_t nw = (size_t)Cout * Cin * K * K;
    return svdd__round16(direct_pad(Cin, H, W, Cout, K, P, backward) + (backward ? nw * (SVDD__DIRECT_LANES + 1) : 0));
}

/* Over the groups of images (svdd__run_units), forward and backward; the backward's groups' weight
 * gradients (ngroups x Cout*Cin*K*K floats) come after the threads' scratch. */
static svdd__batch_plan direct_plan(int B, int threads, int Cin, int H, int W, int Cout, int K, int P, int backward) {
    const size_t scratch = lanes_offset(Cin, H, W, Cout, K, P, backward) + lanes_floats(Cin, H, W, Cout, K, P, backward);
    return svdd__plan_fixed(svdd__conv_direct_groups(B), threads, scratch, 0);
}

static size_t direct_workspace(int B, int threads, int Cin, int H, int W, int Cout, int K, int P) {
    const svdd__batch_plan f = direct_plan(B, threads, Cin, H, W, Cout, K, P, 0);
    const svdd__batch_plan b = direct_plan(B, threads, Cin, H, W, Cout, K, P, 1);
    const size_t groups = (size_t)svdd__conv_direct_groups(B), nw = (size_t)Cout * Cin * K * K;
    const size_t nf = f.slice * (size_t)f.threads, nb = b.slice * (size_t)b.threads + groups * nw;
    return nf > nb ? nf : nb;
}

size_t svdd__conv2d_workspace_as(int B, int Cin, int H, int W, int Cout, int K, int P, int threads,
                                 svdd__conv_path path) {
    size_t S = (size_t)(H + 2 * P - K + 1) * (size_t)(W + 2 * P - K + 1);
    svdd__batch_plan p = plan(B, threads, Cin, Cout, K, S);
    size_t need = p.slice * (size_t)p.threads;
    /* the direct backward's per-group weight gradients are large on wide layers (20 MB for the
     * 64x128 CIFAR-10 one at batch 200): counted only where the direct path is taken */
    int simd;
    if (svdd__conv_direct_wanted(path, Cin, Cout, K, P, &simd)) {
        size_t d = direct_workspace(B, threads, Cin, H, W, Cout, K, P);
        if (d > need) need = d;
    } else if (svdd__winograd_wanted(path, Cin, Cout, H, W, K, P)) {
        return svdd__winograd_workspace(B, threads, Cin, H, W, Cout); /* never im2col */
    }
    return need;
}

size_t svdd__conv2d_workspace(int B, int Cin, int H, int W, int Cout, int K, int P, int threads) {
    return svdd__conv2d_workspace_as(B, Cin, H, W, Cout, K, P, threads, SVDD__CONV_AUTO);
}

/* One call's arguments, handed to its chunks (svdd__plan_run); the scratch holds the matrices of
 * nb_max images. */
typedef struct conv2d_call {
    float *out, *dinp; /* forward's output; backward's input gradient (NULL: not wanted) */
    const float *inp, *dout, *w;
    int Cin, H, W, Cout, K, P, Ho, Wo, nb_max;
    size_t S, R; /* Ho*Wo, Cin*K*K */
    int simd;      /* direct path: AVX2+FMA kernels */
    int B;         /* direct path: the batch, cut into groups */
    float *ws;     /* direct path: the threads' scratch, slice floats each */
    size_t slice;
    float *groups; /* direct backward: one weight gradient per group */
    svdd__unit_fn then; /* direct forward: run on each group after it (svdd__conv2d_forward_then) */
    const void *then_ctx;
    int lanes_out;      /* direct forward: every group whole, left in the lanes (svdd__conv2d_forward_lanes) */
    svdd__lanes_dout_fn dout_fn; /* direct backward: makes each group's output gradient, or NULL */
    const void *dout_ctx;
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

/* The direct forward's scratch, once per thread: the borders of the lanes' padded input. */
static void direct_forward_prep(const void *ctx, int t) {
    const conv2d_call *c = ctx;
    if (!c->simd) return;
    float *pad = c->ws + c->slice * (size_t)t;
    const size_t nx = svdd__round16((size_t)c->Cin * (c->H + 2 * c->P) * (c->W + 2 * c->P) * 8);
    memset(pad + lanes_offset(c->Cin, c->H, c->W, c->Cout, c->K, c->P, 0), 0, nx * sizeof(float));
}

/* Direct path, group gi of SVDD__DIRECT_GROUP images on thread t: a whole group of eight in the
 * lanes with AVX2, else one image at a time. */
static void direct_forward_group(const void *ctx, int t, int gi) {
    const conv2d_call *c = ctx;
    float *pad = c->ws + c->slice * (size_t)t;
    const size_t in_sz = (size_t)c->Cin * c->H * c->W, out_sz = (size_t)c->Cout * c->S;
    const size_t nx = svdd__round16((size_t)c->Cin * (c->H + 2 * c->P) * (c->W + 2 * c->P) * 8);
    float *xp8 = pad + lanes_offset(c->Cin, c->H, c->W, c->Cout, c->K, c->P, 0);
    const int b0 = gi * SVDD__DIRECT_GROUP, b1 = svdd__group_end(gi, SVDD__DIRECT_GROUP, c->B);
    if (c->lanes_out) {
        svdd__lanes_gather_images(xp8, c->inp + b0 * in_sz, in_sz, c->Cin, c->H, c->W, c->P, 1);
        svdd__conv_lanes_forward(c->out + b0 * out_sz, xp8, c->w, c->Cin, c->H, c->W, c->Cout, c->K, c->P, 1);
    } else if (c->simd && SVDD__DIRECT_GROUP == 8 && b1 - b0 == 8) {
        svdd__conv_lanes_images(c->out + b0 * out_sz, out_sz, c->inp + b0 * in_sz, in_sz, c->w, c->Cin, c->H, c->W,
                                c->Cout, c->K, c->P, 1, xp8, xp8 + nx);
    } else {
        for (int b = b0; b < b1; b++)
            svdd__conv_direct_forward(c->out + b * out_sz, c->inp + b * in_sz, c->w, c->Cin, c->H, c->W, c->Cout, c->K,
                                      c->P, pad, c->simd);
    }
    if (c->then) c->then(c->then_ctx, t, gi);
}

/* then: see svdd__conv2d_forward_then; 1 when it ran. lanes_out: only where
 * svdd__conv2d_lanes_backward holds. */
static int forward(float *out, const float *inp, const float *w, int B, int Cin, int H, int W, int Cout, int K, int P,
                   svdd__workspace *ws, svdd__conv_path path, svdd__unit_fn then, const void *then_ctx,
                   int lanes_out) {
    const int Ho = H + 2 * P - K + 1, Wo = W + 2 * P - K + 1;
    int simd;
    if (svdd__conv_direct_wanted(path, Cin, Cout, K, P, &simd)) {
        const svdd__batch_plan pl = direct_plan(B, ws->threads, Cin, H, W, Cout, K, P, 0);
        const conv2d_call c = {.out = out, .inp = inp, .w = w, .Cin = Cin, .H = H, .W = W, .Cout = Cout, .K = K,
                               .P = P, .Ho = Ho, .Wo = Wo, .S = (size_t)Ho * Wo, .simd = simd, .B = B,
                               .ws = ws->data, .slice = pl.slice, .then = then, .then_ctx = then_ctx,
                               .lanes_out = lanes_out};
        svdd__run_units(svdd__conv_direct_groups(B), pl.threads, direct_forward_prep, direct_forward_group, &c);
        return then != NULL;
    }
    if (svdd__winograd_wanted(path, Cin, Cout, H, W, K, P)) {
        svdd__winograd_conv(out, inp, w, 0, B, Cin, H, W, Cout, 1, 1, ws);
        return 0;
    }
    const svdd__batch_plan pl = plan(B, ws->threads, Cin, Cout, K, (size_t)Ho * Wo);
    const conv2d_call c = {.out = out, .inp = inp, .w = w, .Cin = Cin, .H = H, .W = W, .Cout = Cout, .K = K, .P = P,
                           .Ho = Ho, .Wo = Wo, .nb_max = pl.chunk, .S = (size_t)Ho * Wo, .R = (size_t)Cin * K * K};
    svdd__plan_run(&pl, B, ws->data, NULL, forward_chunk, &c);
    return 0;
}

void svdd__conv2d_forward_as(float *out, const float *inp, const float *w, int B, int Cin, int H, int W,
                             int Cout, int K, int P, svdd__workspace *ws, svdd__conv_path path) {
    (void)forward(out, inp, w, B, Cin, H, W, Cout, K, P, ws, path, NULL, NULL, 0);
}

int svdd__conv2d_forward_then(float *out, const float *inp, const float *w, int B, int Cin, int H, int W, int Cout,
                              int K, int P, svdd__workspace *ws, svdd__unit_fn then, const void *then_ctx) {
    return forward(out, inp, w, B, Cin, H, W, Cout, K, P, ws, SVDD__CONV_AUTO, then, then_ctx, 0);
}

int svdd__conv2d_forward_lanes(float *out, const float *inp, const float *w, int B, int Cin, int H, int W, int Cout,
                               int K, int P, svdd__workspace *ws, svdd__unit_fn then, const void *then_ctx) {
    if (!svdd__conv2d_lanes_backward(B, Cin, Cout, K, P)) return 0;
    (void)forward(out, inp, w, B, Cin, H, W, Cout, K, P, ws, SVDD__CONV_AUTO, then, then_ctx, 1);
    return 1;
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

/* Where the direct backward's lanes keep a group's maps in a thread's scratch: the padded output
 * gradient (the input gradient's convolution reads its borders), the input gradient, the padded
 * input. */
typedef struct lanes_maps {
    float *gp8, *d8, *xp8;
    size_t ng8, nx8;
} lanes_maps;

static lanes_maps backward_maps(const conv2d_call *c, float *pad) {
    const int Q = c->K - 1 - c->P;
    lanes_maps m;
    m.gp8 = pad + lanes_offset(c->Cin, c->H, c->W, c->Cout, c->K, c->P, 1);
    m.ng8 = svdd__round16((size_t)c->Cout * (c->Ho + 2 * Q) * (c->Wo + 2 * Q) * 8);
    m.d8 = m.gp8 + m.ng8;
    m.xp8 = m.d8 + svdd__round16((size_t)c->Cin * c->H * c->W * 8);
    m.nx8 = svdd__round16((size_t)c->Cin * (c->H + 2 * c->P) * (c->W + 2 * c->P) * 8);
    return m;
}

/* The direct backward's scratch, once per thread: the rotated weights, the lanes' borders. */
static void direct_backward_prep(const void *ctx, int t) {
    const conv2d_call *c = ctx;
    float *pad = c->ws + c->slice * (size_t)t;
    const size_t nw = (size_t)c->Cout * c->R;
    float *wflip = pad + direct_pad(c->Cin, c->H, c->W, c->Cout, c->K, c->P, 1) + nw * SVDD__DIRECT_LANES;
    if (c->dinp) svdd__conv_weight_flip(wflip, c->w, c->Cout, c->Cin, c->K);
    if (c->simd && SVDD__DIRECT_GROUP == 8) {
        const lanes_maps m = backward_maps(c, pad);
        memset(m.gp8, 0, m.ng8 * sizeof(float));
        memset(m.xp8, 0, m.nx8 * sizeof(float));
    }
}

/* Direct path, group gi of SVDD__DIRECT_GROUP images on thread t: scratch = padded image, 8-lane
 * weight-gradient sums, rotated weights (direct_plan), prepared by direct_backward_prep; the
 * group's weight gradient goes to its own row of c->groups. */
static void direct_backward_group(const void *ctx, int t, int gi) {
    const conv2d_call *c = ctx;
    float *pad = c->ws + c->slice * (size_t)t;
    const size_t nw = (size_t)c->Cout * c->R, in_sz = (size_t)c->Cin * c->H * c->W, out_sz = (size_t)c->Cout * c->S;
    float *vacc = pad + direct_pad(c->Cin, c->H, c->W, c->Cout, c->K, c->P, 1), *wflip = vacc + nw * SVDD__DIRECT_LANES;
    /* A whole group of eight in the lanes with AVX2: the output gradient and the input gathered
     * once for both gradients; the input gradient the same floats as image by image, the weight
     * gradient summed per image (lane) over the pixels, then over the images. */
    const int Q = c->K - 1 - c->P, Wq = c->Wo + 2 * Q;
    const lanes_maps m = backward_maps(c, pad);
    const int lanes = c->simd && SVDD__DIRECT_GROUP == 8;
    const int b0 = gi * SVDD__DIRECT_GROUP, b1 = svdd__group_end(gi, SVDD__DIRECT_GROUP, c->B);
    memset(vacc, 0, nw * SVDD__DIRECT_LANES * sizeof(float));
    if (lanes && b1 - b0 == 8) {
        if (c->dout_fn)
            c->dout_fn(c->dout_ctx, b0, m.gp8 + ((size_t)Q * Wq + Q) * 8, (size_t)Wq * 8,
                       (size_t)(c->Ho + 2 * Q) * Wq * 8);
        else
            svdd__lanes_gather_images(m.gp8, c->dout + b0 * out_sz, out_sz, c->Cout, c->Ho, c->Wo, Q, 1);
        svdd__lanes_gather_images(m.xp8, c->inp + b0 * in_sz, in_sz, c->Cin, c->H, c->W, c->P, 1);
        svdd__conv_lanes_wgrad(vacc, m.gp8 + ((size_t)Q * Wq + Q) * 8, (size_t)Wq * 8,
                               (size_t)(c->Ho + 2 * Q) * Wq * 8, m.xp8, c->Cin, c->H, c->W, c->Cout, c->K, c->P, 1);
        if (c->dinp) {
            svdd__conv_lanes_forward(m.d8, m.gp8, wflip, c->Cout, c->Ho, c->Wo, c->Cin, c->K, Q, 1);
            svdd__lanes_scatter(c->dinp + b0 * in_sz, in_sz, m.d8, (int)in_sz, 1);
        }
    } else {
        for (int b = b0; b < b1; b++) {
            const float *g = c->dout + b * out_sz;
            svdd__conv_direct_wgrad(vacc, g, c->inp + b * in_sz, c->Cin, c->H, c->W, c->Cout, c->K, c->P, pad,
                                    c->simd);
            if (c->dinp)
                svdd__conv_direct_forward(c->dinp + b * in_sz, g, wflip, c->Cout, c->Ho, c->Wo, c->Cin, c->K, Q,
                                          pad, c->simd);
        }
    }
    float *gsum = c->groups + (size_t)gi * nw;
    memset(gsum, 0, nw * sizeof(float));
    svdd__conv_direct_wgrad_reduce(gsum, vacc, nw);
}

/* The direct path's backward; the output gradient from dout, or made by dout_fn (not NULL: every
 * group goes through the lanes). */
static void direct_backward(float *dinp, float *dw, const float *dout, svdd__lanes_dout_fn dout_fn,
                            const void *dout_ctx, const float *inp, const float *w, int B, int Cin, int H, int W,
                            int Cout, int K, int P, svdd__workspace *ws, int simd) {
    const int Ho = H + 2 * P - K + 1, Wo = W + 2 * P - K + 1;
    const svdd__batch_plan pl = direct_plan(B, ws->threads, Cin, H, W, Cout, K, P, 1);
    const int groups = svdd__conv_direct_groups(B);
    const size_t nw = (size_t)Cout * Cin * K * K;
    const conv2d_call c = {.dinp = dinp, .inp = inp, .dout = dout, .w = w, .Cin = Cin, .H = H, .W = W,
                           .Cout = Cout, .K = K, .P = P, .Ho = Ho, .Wo = Wo, .S = (size_t)Ho * Wo,
                           .R = (size_t)Cin * K * K, .simd = simd, .B = B, .ws = ws->data, .slice = pl.slice,
                           .groups = ws->data + pl.slice * (size_t)pl.threads, .dout_fn = dout_fn,
                           .dout_ctx = dout_ctx};
    svdd__run_units(groups, pl.threads, direct_backward_prep, direct_backward_group, &c);
    svdd__conv_direct_add_groups(dw, c.groups, groups, nw);
}

int svdd__conv2d_lanes_backward(int B, int Cin, int Cout, int K, int P) {
    int simd;
    return svdd__conv_direct_wanted(SVDD__CONV_AUTO, Cin, Cout, K, P, &simd) && simd && SVDD__DIRECT_GROUP == 8 &&
           B > 0 && B % SVDD__DIRECT_GROUP == 0;
}

int svdd__conv2d_backward_from(float *dinp, float *dw, svdd__lanes_dout_fn dout_fn, const void *dout_ctx,
                               const float *inp, const float *w, int B, int Cin, int H, int W, int Cout, int K, int P,
                               svdd__workspace *ws) {
    if (!svdd__conv2d_lanes_backward(B, Cin, Cout, K, P)) return 0;
    direct_backward(dinp, dw, NULL, dout_fn, dout_ctx, inp, w, B, Cin, H, W, Cout, K, P, ws, 1);
    return 1;
}

void svdd__conv2d_backward_as(float *dinp, float *dw, const float *dout, const float *inp, const float *w,
                              int B, int Cin, int H, int W, int Cout, int K, int P, svdd__workspace *ws,
                              svdd__conv_path path) {
    const int Ho = H + 2 * P - K + 1, Wo = W + 2 * P - K + 1;
    int simd;
    if (svdd__conv_direct_wanted(path, Cin, Cout, K, P, &simd)) {
        direct_backward(dinp, dw, dout, NULL, NULL, inp, w, B, Cin, H, W, Cout, K, P, ws, simd);
        return;
    }
    if (svdd__winograd_wanted(path, Cin, Cout, H, W, K, P)) {
        svdd__winograd_conv_wgrad(dw, 0, inp, 1, dout, B, Cin, H, W, Cout, ws);
        /* the input gradient: the output gradient convolved with the rotated weights */
        if (dinp) svdd__winograd_conv(dinp, dout, w, 1, B, Cout, H, W, Cin, 1, 1, ws);
        return;
    }
    const svdd__batch_plan pl = plan(B, ws->threads, Cin, Cout, K, (size_t)Ho * Wo);
    const conv2d_call c = {.dinp = dinp, .inp = inp, .dout = dout, .w = w, .Cin = Cin, .H = H, .W = W, .Cout = Cout,
                           .K = K, .P = P, .Ho = Ho, .Wo = Wo, .nb_max = pl.chunk, .S = (size_t)Ho * Wo,
                           .R = (size_t)Cin * K * K};
    svdd__plan_run(&pl, B, ws->data, dw, backward_chunk, &c);
}

void svdd__conv2d_forward(float *out, const float *inp, const float *w, int B, int Cin, int H, int W,
                          int Cout, int K, int P, svdd__workspace *ws) {
    svdd__conv2d_forward_as(out, inp, w, B, Cin, H, W, Cout, K, P, ws, SVDD__CONV_AUTO);
}

void svdd__conv2d_backward(float *dinp, float *dw, const float *dout, const float *inp, const float *w,
                           int B, int Cin, int H, int W, int Cout, int K, int P, svdd__workspace *ws) {
    svdd__conv2d_backward_as(dinp, dw, dout, inp, w, B, Cin, H, W, Cout, K, P, ws, SVDD__CONV_AUTO);
}
