/* The backward of a block conv2d -> batch norm -> leaky ReLU -> 2x2 max pooling in training,
 * from the pooling's output gradient to the convolution's gradients, without the gradients in
 * between ever reaching memory.
 *
 * Layer by layer, the pooling writes its input gradient over the whole maps (the first MNIST
 * layer's: 5 MB at batch 200), the leaky ReLU's backward rewrites it and puts batch norm's output
 * back under its own, batch norm reads both for its sums and again for its input gradient, and
 * the convolution reads that into its lanes: passes over maps far larger than the cache, a fifth
 * of a two-thread MNIST encoder step. Here, with the leaky ReLU's output (over batch norm's) and
 * the pooling's output and output gradient:
 *  1. batch norm's sums of dy and dy * xhat from the pooled maps alone, a quarter of the size:
 *     only the pooling's winners have a gradient, and the pooled output holds their values (the
 *     other cells' zeros change no sum);
 *  2. in the convolution's backward, in place of its gather of the output gradient, batch norm's
 *     input gradient band by band into a buffer on the stack (svdd__maxpool2d_unpool_bn_rows),
 *     then into the lanes.
 * One pass over the large maps instead of five. The gradients differ from the layers' by the
 * order of batch norm's sums (windows, not cells) and the rounding of xhat * mean(dy xhat) (one
 * product instead of a division where the leaky ReLU's output is negative): test_block_backward
 * compares the two.
 *
 * Where training's forward kept the block's maps in the lanes (svdd__block_lanes_applies: the
 * convolution's output, batch norm's and the leaky ReLU's over it, as (C, H, W, 8) per group of
 * eight images), pass 2 reads the leaky ReLU's output there and writes straight into the
 * convolution's lanes (svdd__maxpool2d_unpool_bn_lanes): the large maps are not transposed in
 * either direction. */
#include <string.h>

#include "layers.h"
#include "network.h"

/* Pooled values at a time in pass 1's stack buffers (a multiple of the sums' 8 lanes); a band of
 * eight images' rows in pass 2 (at least two rows, so that it holds whole pooling windows);
 * batch norm's channels. */
#define CHUNK 256
#define BAND_MAX 512
#define CHANNELS_MAX 64
#define PREFETCH_PAIRS 2 /* pass 2 in the lanes: the row pairs ahead it fetches */

/* batch norm's groups of images are the lanes' groups: a group's statistics read its lanes */
_Static_assert(SVDD__BN_GROUP == SVDD__LANES8, "batch norm's groups are the lanes'");

typedef struct block_call {
    const float *a;           /* (B, C, H, W) or in the lanes: the leaky ReLU's output, over batch norm's */
    const float *g;           /* (B, C, H/2, W/2): the pooling's output gradient */
    const float *p;           /* (B, C, H/2, W/2): the pooling's output */
    const float *rstd;        /* batch norm's, (C) */
    const float *mdy, *mdyx;  /* pass 2: the means of batch norm's dy and dy * xhat, (C) each */
    double *sums;             /* pass 1: the groups' sums */
    float slope;
    int B, C, H, W, R, simd;  /* R: the rows of a band in pass 2 */
} block_call;

/* Pass 1, group u: its sums of dy and dy * xhat, channel by channel, in image order. */
static void sums_group(const void *ctx, int thread, int u) {
    const block_call *k = ctx;
    (void)thread;
    const int C = k->C, Sp = (k->H / 2) * (k->W / 2);
    const int b0 = u * SVDD__BN_GROUP, b1 = svdd__group_end(u, SVDD__BN_GROUP, k->B);
    double *slot = k->sums + (size_t)u * C * 2 * SVDD__BN_LANES;
    float dy[CHUNK], xh[CHUNK];
    memset(slot, 0, (size_t)C * 2 * SVDD__BN_LANES * sizeof(double));
    for (int b = b0; b < b1; b++)
        for (int c = 0; c < C; c++)
            for (int s0 = 0; s0 < Sp; s0 += CHUNK) {
                const size_t p = ((size_t)b * C + c) * Sp + s0;
                const int n = Sp - s0 < CHUNK ? Sp - s0 : CHUNK;
                svdd__leaky_relu_backward_restore_to(dy, k->g + p, xh, k->p + p, (size_t)n, k->slope, k->simd);
                svdd__batchnorm_plane_grad_sums(slot + (size_t)c * 2 * SVDD__BN_LANES, dy, xh, n, k->simd);
            }
}

/* Pass 2 (an svdd__lanes_dout_fn): batch norm's input gradient of images b0..b0+7 into the lanes. */
static void dout_group(const void *ctx, int b0, float *g8, size_t grow, size_t gplane) {
    const block_call *k = ctx;
    const int C = k->C, H = k->H, W = k->W, S = H * W, Sp = (H / 2) * (W / 2);
    float band[SVDD__LANES8 * BAND_MAX + 16]; /* 16: the room svdd__maxpool2d_unpool_bn_rows needs */
    for (int c = 0; c < C; c++) {
        const svdd__unpool_bn u = {.slope = k->slope, .r = k->rstd[c], .mdy = k->mdy[c], .q = k->mdyx[c],
                                   .q_neg = k->mdyx[c] / k->slope};
        for (int y0 = 0; y0 < H; y0 += k->R) {
            const int rows = H - y0 < k->R ? H - y0 : k->R, n = rows * W;
            for (int l = 0; l < SVDD__LANES8; l++) {
                const size_t p = (size_t)(b0 + l) * C + c;
                svdd__maxpool2d_unpool_bn_rows(band + (size_t)l * n, k->a + p * S + (size_t)y0 * W,
                                               k->g + p * Sp + (size_t)(y0 / 2) * (W / 2), rows, W, &u, k->simd);
            }
            for (int y = 0; y < rows; y++)
                svdd__lanes_gather(g8 + (size_t)c * gplane + (size_t)(y0 + y) * grow, band + (size_t)y * W, (size_t)n,
                                   W, k->simd);
        }
    }
}

/* Pass 2 with the leaky ReLU's output in the lanes (svdd__block_lanes_applies): straight into
 * the convolution's lanes, a row pair at a time; only the pooled rows' gradients are gathered. */
static void dout_group_lanes(const void *ctx, int b0, float *g8, size_t grow, size_t gplane) {
    const block_call *k = ctx;
    const int C = k->C, H = k->H, W = k->W, Wo = W / 2;
    const size_t S = (size_t)H * W, Sp = (size_t)(H / 2) * Wo;
    const float *a8 = k->a + (size_t)b0 * C * S; /* the group's (C, H, W, 8) */
    const size_t row = (size_t)W * SVDD__LANES8, end = (size_t)C * S * SVDD__LANES8;
    float gl[SVDD__LANES8 * BAND_MAX / 2];
    for (int c = 0; c < C; c++) {
        const svdd__unpool_bn u = {.slope = k->slope, .r = k->rstd[c], .mdy = k->mdy[c], .q = k->mdyx[c],
                                   .q_neg = k->mdyx[c] / k->slope};
        for (int oy = 0; oy < H / 2; oy++) {
            /* the row pair PREFETCH_PAIRS ahead is fetched meanwhile, as far as the group's maps
             * go (the maps come from memory; two pairs ahead measured faster than four) */
            const size_t at = (size_t)c * S * SVDD__LANES8 + (size_t)2 * oy * row;
            const size_t next = at + (size_t)PREFETCH_PAIRS * 2 * row;
            svdd__lanes_gather(gl, k->g + ((size_t)b0 * C + c) * Sp + (size_t)oy * Wo, (size_t)C * Sp, Wo, k->simd);
            svdd__maxpool2d_unpool_bn_lanes(g8 + (size_t)c * gplane + (size_t)2 * oy * grow, grow, a8 + at, gl, W, &u,
                                            next + 2 * row <= end ? a8 + next : NULL, k->simd);
        }
    }
}

int svdd__block_backward_applies(const svdd__layer *L, int B) {
    const svdd__layer *conv = L, *bn = L + 1, *act = L + 2, *pool = L + 3;
    if (conv->kind != SVDD__CONV2D || bn->kind != SVDD__BATCHNORM || act->kind != SVDD__LEAKY_RELU ||
        pool->kind != SVDD__MAXPOOL2D || act->out_kind != SVDD__OUT_INPLACE || pool->out_kind != SVDD__OUT_OWN ||
        !(act->slope > 0.0f))
        return 0;
    const int C = bn->in_c, H = bn->in_h, W = bn->in_w;
    return !(H & 1) && !(W & 1) && 2 * W <= BAND_MAX && C <= CHANNELS_MAX &&
           svdd__conv2d_lanes_backward(B, conv->in_c, conv->out_c, conv->k, conv->pad);
}

int svdd__block_backward(svdd_net *net, const svdd__layer *L, const float *in, const float *g, float *dinp, int B,
                         svdd__workspace *ws) {
    const svdd__layer *conv = L, *bn = L + 1, *act = L + 2, *pool = L + 3;
    if (!svdd__block_backward_applies(L, B) || !act->restore) return 0;
    const int C = bn->in_c, H = bn->in_h, W = bn->in_w;
    /* the convolution writes its input gradient while other groups still read g */
    const size_t n_in = (size_t)B * conv->in_c * conv->in_h * conv->in_w, n_g = (size_t)B * C * (H / 2) * (W / 2);
    const uintptr_t dp = (uintptr_t)dinp, gp = (uintptr_t)g;
    if (dinp && dp < gp + n_g * sizeof(float) && gp < dp + n_in * sizeof(float)) return 0;

    float mdy[CHANNELS_MAX], mdyx[CHANNELS_MAX];
    double scratch[2 * CHANNELS_MAX];
    int R = BAND_MAX / W;
    R = (R < H ? R : H) & ~1;
    const block_call k = {.a = act->out, .g = g, .p = pool->out, .rstd = bn->rstd, .mdy = mdy, .mdyx = mdyx,
                          .sums = net->bn_stats, .slope = act->slope, .B = B, .C = C, .H = H, .W = W, .R = R,
                          .simd = svdd__cpu_avx2_fma()};
    const int U = (B + SVDD__BN_GROUP - 1) / SVDD__BN_GROUP;
    const int T = (size_t)B * C * H * W < SVDD__PARALLEL_MIN_FLOATS ? 1 : ws->threads < U ? ws->threads : U;
    svdd__run_units(U, T, NULL, sums_group, &k);
    svdd__batchnorm_grad_means(mdy, mdyx, net->bn_stats, B, C, H * W, scratch);
    return svdd__conv2d_backward_from(dinp, net->grads + conv->w_off, act->lanes ? dout_group_lanes : dout_group, &k,
                                      in, net->params + conv->w_off, B, conv->in_c, conv->in_h, conv->in_w,
                                      conv->out_c, conv->k, conv->pad, ws);
}

int svdd__block_lanes_applies(const svdd_net *net, const svdd__layer *L, int B) {
    const svdd__layer *bn = L + 1;
    const size_t maps = (size_t)SVDD__LANES8 * bn->in_c * bn->in_h * bn->in_w;
    return !net->layer_by_layer && !net->maps_in_images && svdd__block_backward_applies(L, B) &&
           bn->in_w / 2 <= SVDD__LANES_POOL_MAX && net->ws.size >= maps;
}

void svdd__block_maps_to_images(svdd__layer *L, int B, float *scratch) {
    svdd__layer *act = L + 2;
    const size_t n = (size_t)act->out_c * act->out_h * act->out_w, group = n * SVDD__LANES8;
    for (int b0 = 0; b0 + SVDD__LANES8 <= B; b0 += SVDD__LANES8) {
        memcpy(scratch, act->out + (size_t)b0 * n, group * sizeof(float));
        svdd__lanes_to_images(act->out + (size_t)b0 * n, scratch, SVDD__LANES8, n, svdd__cpu_avx2_fma());
    }
    L->lanes = L[1].lanes = act->lanes = 0;
}
