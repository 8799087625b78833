/* conv_transpose2d: torch.nn.ConvTranspose2d(Cin, Cout, K, stride=1, padding=P, bias=False).
 *
 * The transposed convolution is the adjoint of conv2d, so it reuses the same two kernels the
 * other way round: forward is a product followed by col2im, backward is im2col followed by
 * products. With weight w (Cin, Cout*K*K) and output position oy = iy + ky - P:
 *   out[b,co,oy,ox] = sum_{ci,ky,kx} inp[b,ci,iy,ix] * w[ci,co,ky,kx].
 * Threads and chunks as in conv2d.c: one slice of images per thread, small chunks, a private
 * weight-gradient buffer per thread summed in thread order.
 *
 * Layers with few channels (the MNIST decoder's) take the direct kernels of
 * src/kernels/conv_direct.c instead, as convolutions: forward convolves the input with the rotated
 * weights and padding K - 1 - P, the input gradient is the output gradient convolved with w itself
 * (read as Cin output channels of Cout inputs) and padding P, and the weight gradient is conv2d's
 * with the roles of input and output gradient exchanged.
 *
 * Wide 5x5 layers with padding 2 (the CIFAR-10 decoder's 128 -> 64 and 64 -> 32) take Winograd's
 * F(2x2, 5x5) as that convolution (src/kernels/winograd_conv.c), reading the upsampled input and
 * summing its gradient over the blocks as they go.
 *
 * With up = 2 the layer reads its input through a nearest-neighbour 2x upsampling (a decoder's
 * upsample2d before it): inp and dinp are (B, Cin, H/2, W/2), and the upsampled (B, Cin, H, W)
 * that the products see is built a chunk at a time in the scratch they copy their input to
 * anyway, and its gradient summed back over each 2x2 block there; the floats are those of
 * upsample2d followed by this layer. That map is the largest of the CIFAR-10 decoder (46 MB at
 * batch 200 for its three upsamplings). */
#include <string.h>

#include "layers.h"

#define CONVT_CHUNK_FLOATS ((size_t)1 << 18)

static svdd__batch_plan plan(int B, int threads, int Cin, int Cout, int K, size_t S_in) {
    size_t per_image = (2 * (size_t)Cin + (size_t)Cout * K * K) * S_in;
    return svdd__plan_batch(B, threads, per_image, (size_t)Cin * Cout * K * K, CONVT_CHUNK_FLOATS);
}

/* The direct path's scratch per thread: the padded image (forward: the input; backward: the
 * output gradient), then the rotated weights (forward) or the 8-lane weight-gradient sums
 * (backward). */
static size_t direct_pad(int Cin, int H, int W, int Cout, int K, int P, int backward) {
    if (!backward) return svdd__conv_direct_pad_floats(Cin, H, W, K, K - 1 - P);
    /* the weight gradient's input is the output gradient, and its output gradient the input */
    const int grad_src_c = Cout, grad_dst_c = Cin;
    return svdd__conv_direct_wgrad_floats(grad_src_c, H - 1 - 2 * P + K, W - 1 - 2 * P + K, grad_dst_c, K, P);
}

/* With up = 2 the direct path also keeps one upsampled image (Cin, H, W) after its scratch. */
static size_t up_image(int up, int Cin, int H, int W) { return up > 1 ? (size_t)Cin * H * W : 0; }

/* Where the per-image scratch ends and the lanes' begins (conv_lanes.c: with AVX2, whole groups
 * of eight images one per lane), 64-byte aligned as every slice is. */
static size_t lanes_offset(int Cin, int H, int W, int Cout, int K, int P, int up, int backward) {
    const size_t nw = (size_t)Cout * Cin * K * K, u = up_image(up, Cin, H, W);
    return svdd__round16(direct_pad(Cin, H, W, Cout, K, P, backward) + (backward ? nw * SVDD__DIRECT_LANES : nw) + u);
}

/* A group's maps in the lanes: forward, the (upsampled) input padded by K - 1 - P and the output;
 * backward, the output gradient padded by P, the (upsampled) input and the input gradient. */
static size_t lanes_floats(int Cin, int H, int W, int Cout, int K, int P, int backward) {
    const int Ho = H - 1 - 2 * P + K, Wo = W - 1 - 2 * P + K, Q = K - 1 - P;
    if (!backward) return svdd__round16((size_t)Cin * (H + 2 * Q) * (W + 2 * Q) * 8) + svdd__round16((size_t)Cout * Ho * Wo * 8);
    return svdd__round16((size_t)Cout * (Ho + 2 * P) * (Wo + 2 * P) * 8) + 2 * svdd__round16((size_t)Cin * H * W * 8);
}

/* Over the groups of images (svdd__run_units), forward and backward; the backward's groups' weight
 * gradients (ngroups x Cin*Cout*K*K floats) come after the threads' scratch. */
static svdd__batch_plan direct_plan(int B, int threads, int Cin, int H, int W, int Cout, int K, int P, int up,
                                    int backward) {
    const size_t scratch =
        lanes_offset(Cin, H, W, Cout, K, P, up, backward) + lanes_floats(Cin, H, W, Cout, K, P, backward);
    return svdd__plan_fixed(svdd__conv_direct_groups(B), threads, scratch, 0);
}

static size_t direct_workspace(int B, int threads, int Cin, int H, int W, int Cout, int K, int P, int up) {
    const svdd__batch_plan f = direct_plan(B, threads, Cin, H, W, Cout, K, P, up, 0);
    const svdd__batch_plan b = direct_plan(B, threads, Cin, H, W, Cout, K, P, up, 1);
    const size_t groups = (size_t)svdd__conv_direct_groups(B), nw = (size_t)Cout * Cin * K * K;
    const size_t nf = f.slice * (size_t)f.threads, nb = b.slice * (size_t)b.threads + groups * nw;
    return nf > nb ? nf : nb;
}

size_t svdd__conv_transpose2d_workspace_as(int B, int Cin, int H, int W, int Cout, int K, int P, int up,
                                           int threads, svdd__conv_path path) {
    svdd__batch_plan p = plan(B, threads, Cin, Cout, K, (size_t)H * W);
    size_t need = p.slice * (size_t)p.threads;
    int simd;
    if (svdd__conv_direct_wanted(path, Cin, Cout, K, P, &simd)) {
        size_t d = direct_workspace(B, threads, Cin, H, W, Cout, K, P, up);
        if (d > need) need = d;
    } else if (svdd__winograd_wanted(path, Cin, Cout, H, W, K, P)) {
        return svdd__winograd_workspace(B, threads, Cin, H, W, Cout); /* never im2col */
    }
    return need;
}

size_t svdd__conv_transpose2d_workspace(int B, int Cin, int H, int W, int Cout, int K, int P, int threads) {
    return svdd__conv_transpose2d_workspace_as(B, Cin, H, W, Cout, K, P, 1, threads, SVDD__CONV_AUTO);
}

/* One call's arguments, handed to its chunks (svdd__plan_run); the scratch holds the matrices of
 * nb_max images. */
typedef struct convt_call {
    float *out, *dinp; /* forward's output; backward's input gradient (NULL: not wanted) */
    const float *inp, *dout, *w;
    int Cin, Cout, K, P, Ho, Wo, H, W, nb_max;
    int up;      /* 2: inp and dinp are (Cin, H/2, W/2) an image */
    size_t S, R; /* H*W, Cout*K*K */
    int simd;      /* direct path: AVX2+FMA kernels */
    int B;         /* direct path: the batch, cut into groups */
    float *ws;     /* direct path: the threads' scratch, slice floats each */
    size_t slice;
    float *groups; /* direct backward: one weight gradient per group */
} convt_call;

/* The direct forward's scratch, once per thread: the rotated weights, the lanes' borders. */
static void direct_forward_prep(const void *ctx, int t) {
    const convt_call *c = ctx;
    float *pad = c->ws + c->slice * (size_t)t;
    svdd__conv_weight_flip(pad + direct_pad(c->Cin, c->H, c->W, c->Cout, c->K, c->P, 0), c->w, c->Cin, c->Cout, c->K);
    if (c->simd && SVDD__DIRECT_GROUP == 8) {
        const int Q = c->K - 1 - c->P;
        const size_t nx = svdd__round16((size_t)c->Cin * (c->H + 2 * Q) * (c->W + 2 * Q) * 8);
        memset(pad + lanes_offset(c->Cin, c->H, c->W, c->Cout, c->K, c->P, c->up, 0), 0, nx * sizeof(float));
    }
}

/* Direct path, group gi of SVDD__DIRECT_GROUP images on thread t: a whole group of eight in the
 * lanes with AVX2 (the same floats), else one image at a time. */
static void direct_forward_group(const void *ctx, int t, int gi) {
    const convt_call *c = ctx;
    float *pad = c->ws + c->slice * (size_t)t;
    const size_t in_sz = (size_t)c->Cin * c->S / ((size_t)c->up * c->up), out_sz = (size_t)c->Cout * c->Ho * c->Wo;
    float *wflip = pad + direct_pad(c->Cin, c->H, c->W, c->Cout, c->K, c->P, 0);
    float *upx = wflip + (size_t)c->Cout * c->Cin * c->K * c->K; /* the rotated weights: direct_forward_prep */
    const int b0 = gi * SVDD__DIRECT_GROUP, b1 = svdd__group_end(gi, SVDD__DIRECT_GROUP, c->B);
    const int Q = c->K - 1 - c->P;
    if (c->simd && SVDD__DIRECT_GROUP == 8 && b1 - b0 == 8) {
        float *xp8 = pad + lanes_offset(c->Cin, c->H, c->W, c->Cout, c->K, c->P, c->up, 0);
        const size_t nx = svdd__round16((size_t)c->Cin * (c->H + 2 * Q) * (c->W + 2 * Q) * 8);
        svdd__conv_lanes_images(c->out + b0 * out_sz, out_sz, c->inp + b0 * in_sz, in_sz, wflip, c->Cin, c->H, c->W,
                                c->Cout, c->K, Q, c->up, xp8, xp8 + nx);
        return;
    }
    for (int b = b0; b < b1; b++) {
        const float *x = c->inp + b * in_sz;
        if (c->up > 1) {
            svdd__nchw_to_cnhw_up2(upx, x, 1, c->Cin, c->H / 2, c->W / 2);
            x = upx;
        }
        svdd__conv_direct_forward(c->out + b * out_sz, x, wflip, c->Cin, c->H, c->W, c->Cout, c->K, Q, pad, c->simd);
    }
}

/* The direct backward's scratch, once per thread: the borders of the lanes' output gradient. */
static void direct_backward_prep(const void *ctx, int t) {
    const convt_call *c = ctx;
    if (!c->simd || SVDD__DIRECT_GROUP != 8) return;
    const size_t ng8 = svdd__round16((size_t)c->Cout * (c->Ho + 2 * c->P) * (c->Wo + 2 * c->P) * 8);
    memset(c->ws + c->slice * (size_t)t + lanes_offset(c->Cin, c->H, c->W, c->Cout, c->K, c->P, c->up, 1), 0,
           ng8 * sizeof(float));
}

/* Direct path, group gi of SVDD__DIRECT_GROUP images on thread t; the group's weight gradient
 * goes to its own row of c->groups. */
static void direct_backward_group(const void *ctx, int t, int gi) {
    const convt_call *c = ctx;
    float *pad = c->ws + c->slice * (size_t)t;
    const size_t nw = (size_t)c->Cin * c->R, out_sz = (size_t)c->Cout * c->Ho * c->Wo;
    const size_t in_sz = (size_t)c->Cin * c->S / ((size_t)c->up * c->up);
    float *vacc = pad + direct_pad(c->Cin, c->H, c->W, c->Cout, c->K, c->P, 1);
    float *upx = vacc + nw * SVDD__DIRECT_LANES;
    /* A whole group of eight in the lanes with AVX2, as in conv2d.c: the output gradient, padded
     * by P, is the weight gradient's input and the input gradient's; the (upsampled) input is the
     * weight gradient's output gradient. */
    const int Hq = c->Ho + 2 * c->P, Wq = c->Wo + 2 * c->P;
    float *gp8 = pad + lanes_offset(c->Cin, c->H, c->W, c->Cout, c->K, c->P, c->up, 1);
    const size_t ng8 = svdd__round16((size_t)c->Cout * Hq * Wq * 8), nx8 = svdd__round16((size_t)c->Cin * c->S * 8);
    float *x8 = gp8 + ng8, *d8 = x8 + nx8;
    const int lanes = c->simd && SVDD__DIRECT_GROUP == 8;
    const int b0 = gi * SVDD__DIRECT_GROUP, b1 = svdd__group_end(gi, SVDD__DIRECT_GROUP, c->B);
    const int in_lanes = lanes && b1 - b0 == 8;
    memset(vacc, 0, nw * SVDD__DIRECT_LANES * sizeof(float));
    if (in_lanes) {
        svdd__lanes_gather_images(gp8, c->dout + b0 * out_sz, out_sz, c->Cout, c->Ho, c->Wo, c->P, 1);
        if (c->up > 1)
            svdd__lanes_gather_images_up2(x8, c->inp + b0 * in_sz, in_sz, c->Cin, c->H / 2, c->W / 2, 0, 1);
        else
            svdd__lanes_gather_images(x8, c->inp + b0 * in_sz, in_sz, c->Cin, c->H, c->W, 0, 1);
        svdd__conv_lanes_wgrad(vacc, x8, (size_t)c->W * 8, c->S * 8, gp8, c->Cout, c->Ho, c->Wo, c->Cin, c->K, c->P,
                               1);
        if (c->dinp) {
            svdd__conv_lanes_forward(d8, gp8, c->w, c->Cout, c->Ho, c->Wo, c->Cin, c->K, c->P, 1);
            if (c->up > 1)
                svdd__lanes_scatter_down2(c->dinp + b0 * in_sz, in_sz, d8, c->Cin, c->H / 2, c->W / 2, 1);
            else
                svdd__lanes_scatter(c->dinp + b0 * in_sz, in_sz, d8, (int)in_sz, 1);
        }
    }
    for (int b = in_lanes ? b1 : b0; b < b1; b++) { /* otherwise image by image */
        const float *g = c->dout + b * out_sz, *x = c->inp + b * in_sz;
        if (c->up > 1) {
            svdd__nchw_to_cnhw_up2(upx, x, 1, c->Cin, c->H / 2, c->W / 2);
            x = upx;
        }
        /* dw (Cin, Cout, K, K): the output gradient plays the input, the input the output gradient */
        svdd__conv_direct_wgrad(vacc, x, g, c->Cout, c->Ho, c->Wo, c->Cin, c->K, c->P, pad, c->simd);
        if (!c->dinp) continue;
        /* (the upsampled image is read; its scratch now takes the upsampled gradient) */
        float *dx = c->up > 1 ? upx : c->dinp + b * in_sz;
        svdd__conv_direct_forward(dx, g, c->w, c->Cout, c->Ho, c->Wo, c->Cin, c->K, c->P, pad, c->simd);
        if (c->up > 1) svdd__cnhw_to_nchw_down2(c->dinp + b * in_sz, upx, 1, c->Cin, c->H / 2, c->W / 2);
    }
    float *gsum = c->groups + (size_t)gi * nw;
    memset(gsum, 0, nw * sizeof(float));
    svdd__conv_direct_wgrad_reduce(gsum, vacc, nw);
}

/* xc (Cin, nb*S) = images [b0, b0 + nb) of the input, upsampled when up = 2. */
static void load_input(const convt_call *c, float *xc, int b0, int nb) {
    if (c->up > 1)
        svdd__nchw_to_cnhw_up2(xc, c->inp + (size_t)b0 * c->Cin * (c->S / 4), nb, c->Cin, c->H / 2, c->W / 2);
    else
        svdd__nchw_to_cnhw(xc, c->inp + (size_t)b0 * c->Cin * c->S, nb, c->Cin, (int)c->S);
}

/* Images [b0, b0 + nb); scratch: xc (Cin, nb_max*S), col (R, nb_max*S). */
static void forward_chunk(const void *ctx, float *xc, float *dw_part, int b0, int nb) {
    const convt_call *c = ctx;
    (void)dw_part;
    const int N = (int)((size_t)nb * c->S), R = (int)c->R;
    float *col = xc + (size_t)c->Cin * c->S * (size_t)c->nb_max;
    load_input(c, xc, b0, nb);
    /* col (R, N) = w^T (R, Cin) x xc (Cin, N) */
    svdd__sgemm(1, 0, R, N, c->Cin, 1.0f, c->w, R, xc, N, 0.0f, col, N);
    svdd__col2im(c->out + (size_t)b0 * c->Cout * c->Ho * c->Wo, col, nb, c->Cout, c->Ho, c->Wo, c->K, c->P, c->H, c->W);
}

void svdd__conv_transpose2d_forward_as(float *out, const float *inp, const float *w, int B, int Cin, int H,
                                       int W, int Cout, int K, int P, int up, svdd__workspace *ws,
                                       svdd__conv_path path) {
    int simd;
    if (svdd__conv_direct_wanted(path, Cin, Cout, K, P, &simd)) {
        const svdd__batch_plan pl = direct_plan(B, ws->threads, Cin, H, W, Cout, K, P, up, 0);
        const convt_call c = {.out = out, .inp = inp, .w = w, .Cin = Cin, .Cout = Cout, .K = K, .P = P, .up = up,
                              .Ho = H - 1 - 2 * P + K, .Wo = W - 1 - 2 * P + K, .H = H, .W = W, .S = (size_t)H * W,
                              .R = (size_t)Cout * K * K, .simd = simd, .B = B, .ws = ws->data, .slice = pl.slice};
        svdd__run_units(svdd__conv_direct_groups(B), pl.threads, direct_forward_prep, direct_forward_group, &c);
        return;
    }
    if (svdd__winograd_wanted(path, Cin, Cout, H, W, K, P)) { /* a convolution with the rotated kernels */
        svdd__winograd_conv(out, inp, w, 1, B, Cin, H, W, Cout, up, 1, ws);
        return;
    }
    const svdd__batch_plan pl = plan(B, ws->threads, Cin, Cout, K, (size_t)H * W);
    const convt_call c = {.out = out, .inp = inp, .w = w, .Cin = Cin, .Cout = Cout, .K = K, .P = P, .up = up,
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
    load_input(c, xc, b0, nb);
    /* dw (Cin, R) += xc (Cin, N) x dcol^T (N, R) */
    svdd__sgemm(0, 1, c->Cin, R, N, 1.0f, xc, N, dcol, N, 1.0f, dw_part, R);
    if (c->dinp) {
        /* dxc (Cin, N) = w (Cin, R) x dcol (R, N) */
        svdd__sgemm(0, 0, c->Cin, N, R, 1.0f, c->w, R, dcol, N, 0.0f, dxc, N);
        if (c->up > 1)
            svdd__cnhw_to_nchw_down2(c->dinp + (size_t)b0 * c->Cin * (c->S / 4), dxc, nb, c->Cin, c->H / 2, c->W / 2);
        else
            svdd__cnhw_to_nchw(c->dinp + (size_t)b0 * c->Cin * c->S, dxc, nb, c->Cin, (int)c->S);
    }
}

void svdd__conv_transpose2d_backward_as(float *dinp, float *dw, const float *dout, const float *inp,
                                        const float *w, int B, int Cin, int H, int W, int Cout, int K, int P, int up,
                                        svdd__workspace *ws, svdd__conv_path path) {
    int simd;
    if (svdd__conv_direct_wanted(path, Cin, Cout, K, P, &simd)) {
        const svdd__batch_plan pl = direct_plan(B, ws->threads, Cin, H, W, Cout, K, P, up, 1);
        const int groups = svdd__conv_direct_groups(B);
        const size_t nw = (size_t)Cout * Cin * K * K;
        const convt_call c = {.dinp = dinp, .inp = inp, .dout = dout, .w = w, .Cin = Cin, .Cout = Cout, .K = K,
                              .P = P, .up = up, .Ho = H - 1 - 2 * P + K, .Wo = W - 1 - 2 * P + K, .H = H, .W = W,
                              .S = (size_t)H * W, .R = (size_t)Cout * K * K, .simd = simd, .B = B,
                              .ws = ws->data, .slice = pl.slice, .groups = ws->data + pl.slice * (size_t)pl.threads};
        svdd__run_units(groups, pl.threads, direct_backward_prep, direct_backward_group, &c);
        svdd__conv_direct_add_groups(dw, c.groups, groups, nw);
        return;
    }
    if (svdd__winograd_wanted(path, Cin, Cout, H, W, K, P)) {
        /* that convolution's weight gradient, turned back; the input gradient is the output
         * gradient convolved with w itself (Cin outputs of Cout inputs), summed over the
         * upsampling's blocks when up = 2 */
        svdd__winograd_conv_wgrad(dw, 1, inp, up, dout, B, Cin, H, W, Cout, ws);
        if (dinp) svdd__winograd_conv(dinp, dout, w, 0, B, Cout, H, W, Cin, 1, up, ws);
        return;
    }
    const svdd__batch_plan pl = plan(B, ws->threads, Cin, Cout, K, (size_t)H * W);
    const convt_call c = {.dinp = dinp, .inp = inp, .dout = dout, .w = w, .Cin = Cin, .Cout = Cout, .K = K, .P = P,
                          .up = up, .Ho = H - 1 - 2 * P + K, .Wo = W - 1 - 2 * P + K, .H = H, .W = W, .nb_max = pl.chunk,
                          .S = (size_t)H * W, .R = (size_t)Cout * K * K};
    svdd__plan_run(&pl, B, ws->data, dw, backward_chunk, &c);
}

void svdd__conv_transpose2d_forward(float *out, const float *inp, const float *w, int B, int Cin, int H,
                                    int W, int Cout, int K, int P, svdd__workspace *ws) {
    svdd__conv_transpose2d_forward_as(out, inp, w, B, Cin, H, W, Cout, K, P, 1, ws, SVDD__CONV_AUTO);
}

void svdd__conv_transpose2d_backward(float *dinp, float *dw, const float *dout, const float *inp,
                                     const float *w, int B, int Cin, int H, int W, int Cout, int K, int P,
                                     svdd__workspace *ws) {
    svdd__conv_transpose2d_backward_as(dinp, dw, dout, inp, w, B, Cin, H, W, Cout, K, P, 1, ws, SVDD__CONV_AUTO);
}
