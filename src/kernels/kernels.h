/* The hot loops under the layers: matrix products (OpenBLAS), the im2col / col2im
 * re-arrangements that turn a convolution into one, direct convolution kernels for layers with
 * few channels, and Winograd's transforms for the wide 5x5 ones. The layers in src/nn stay plain;
 * the speed lives here. */
#ifndef SVDD_KERNELS_H
#define SVDD_KERNELS_H

#include <stddef.h>

#include "../core/core.h"

/* Scratch memory owned by a network and lent to the layers during one pass, with the number of
 * threads the layers may use (each thread gets its own slice of the scratch). */
/* How a convolution is computed (the *_as functions at the end). AUTO picks per call from
 * the shapes and the CPU; the others force one way, so that the tests can hold each against the
 * reference (IM2COL). */
typedef enum svdd__conv_path {
    SVDD__CONV_AUTO = 0,
    SVDD__CONV_IM2COL,        /* im2col / col2im and matrix products: the reference, any shape */
    SVDD__CONV_DIRECT,        /* direct kernels, AVX2+FMA when the CPU has them, else scalar */
    SVDD__CONV_DIRECT_SCALAR, /* direct kernels, portable loops */
    SVDD__CONV_WINOGRAD,      /* Winograd F(2x2, 5x5) and matrix products (5x5 kernels, padding 2, even sizes) */
} svdd__conv_path;

typedef struct svdd__workspace {
    float *data;
    size_t size; /* floats */
    int threads; /* >= 1 */
} svdd__workspace;

/* C (M,N) = alpha * op(A) op(B) + beta * C, row-major; ta/tb transpose A/B. Thin wrapper over
 * cblas_sgemm so that the rest of the code does not include cblas.h. */
void svdd__sgemm(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                 const float *B, int ldb, float beta, float *C, int ldc);

/* Make every matrix product single-threaded: the layers thread over images themselves (one
 * OpenMP thread per slice of the batch), which keeps the small products of these networks
 * efficient and leaves no BLAS threads spinning beside ours. */
void svdd__gemm_single_thread(void);

/* col (C*K*K, nb*Ho*Wo): column j = b*Ho*Wo + oy*Wo + ox holds, for each (c,ky,kx), the pixel
 * inp[b, c, oy + ky - P, ox + kx - P] (0 outside). inp is nb images of (C,H,W). */
void svdd__im2col(float *col, const float *inp, int nb, int C, int H, int W, int K, int P, int Ho, int Wo);
/* The adjoint of im2col: inp[b,c,y,x] = sum of the col entries that read it (overwrites inp). */
void svdd__col2im(float *inp, const float *col, int nb, int C, int H, int W, int K, int P, int Ho, int Wo);

/* 1 when the CPU runs AVX2 and FMA, for the kernels compiled for them beside their portable
 * version (cpu.c). Asked on every call rather than remembered: the answer is a bit test. */
int svdd__cpu_avx2_fma(void);

/* ---- direct stride-1 convolution of one image (conv_direct.c) ----
 * For layers with few channels, where im2col's copies and the BLAS's packing cost more than the
 * arithmetic. Needs 0 <= P <= K - 1 (so that the input gradient, a convolution with padding
 * K - 1 - P, is one too). */

/* Floats of the zero-padded copy of a (C, H, W) image the kernels below need as `pad`. */
size_t svdd__conv_direct_pad_floats(int C, int H, int W, int K, int P);
/* out (Cout, Ho, Wo) = the convolution of inp (Cin, H, W) with w (Cout, Cin, K, K), padding P;
 * simd: use the AVX2+FMA kernel (only when svdd__cpu_avx2_fma()). */
void svdd__conv_direct_forward(float *out, const float *inp, const float *w, int Cin, int H, int W, int Cout, int K,
                               int P, float *pad, int simd);
/* The same on an image the caller padded: xp (Cin, H + 2P, Wp), Wp = svdd__conv_direct_pad_width,
 * image pixel (c, y, x) at xp[(c * (H + 2P) + y + P) * Wp + x + P], every other float zero. */
int svdd__conv_direct_pad_width(int W, int K, int P);
void svdd__conv_direct_forward_padded(float *out, const float *xp, const float *w, int Cin, int H, int W, int Cout,
                                      int K, int P, int simd);
/* Weight gradient of one image, as SVDD__DIRECT_LANES partial sums per weight: vacc (Cout, Cin,
 * K, K, LANES) += the products of g (Cout, Ho, Wo) with the input pixels each weight saw. Its
 * `pad` needs svdd__conv_direct_wgrad_floats floats. */
size_t svdd__conv_direct_wgrad_floats(int Cin, int H, int W, int Cout, int K, int P);
#define SVDD__DIRECT_LANES 8

/* Whether a convolution (either direction) with these channels, kernel and padding takes the
 * direct kernels on `path`, and with AVX2+FMA (*simd). On SVDD__CONV_AUTO: only with SIMD (the
 * scalar loops are slower than the products) and for at most 64 channel pairs Cin*Cout: the MNIST
 * layers (8 and 32 pairs; 3 to 8 times as fast as im2col and the products there). On the CIFAR-10
 * layers (96 to 8192 pairs) they are faster too, except the weight gradient on the 8x8 planes,
 * but their other summation order moves one step of the PyTorch fixture of the Deep SVDD
 * objective (tests/test_torch_step.c) past its tolerances, so those stay on the products. */
int svdd__conv_direct_wanted(svdd__conv_path path, int Cin, int Cout, int K, int P, int *simd);

/* ---- eight images at once, one per lane (conv_lanes.c) ----
 * out (Cout, Ho, Wo, 8) = the convolution of xp (Cin, H + 2P, W + 2P, 8), zero-padded by the
 * caller, with w (Cout, Cin, K, K) (fastest when 32-byte aligned). Per lane the floats of
 * svdd__conv_direct_forward's AVX2 kernel. simd: the AVX2+FMA version (only when
 * svdd__cpu_avx2_fma()), else fmaf loops. */
#define SVDD__LANES8 8
/* n floats rounded up to a whole 64-byte line (16 floats): the parts of a thread's scratch that
 * follow one another stay aligned, as the scratch itself is. */
static inline size_t svdd__round16(size_t n) { return (n + 15) / 16 * 16; }
void svdd__conv_lanes_forward(float *out, const float *xp, const float *w, int Cin, int H, int W, int Cout, int K,
                              int P, int simd);
/* n floats of eight images into the lanes: dst[q * 8 + l] = src[l * stride + q]; and back out:
 * dst[l * stride + q] = src[q * 8 + l]. */
void svdd__lanes_gather(float *dst, const float *src, size_t stride, int n, int simd);
void svdd__lanes_scatter(float *dst, size_t stride, const float *src, int n, int simd);
/* Whole groups of eight images out of the lanes: x (B/8, n, 8) to dst (B, n). */
void svdd__lanes_to_images(float *dst, const float *x, int B, size_t n, int simd);
/* Eight (C, H, W) images, image l at inp + l * in_stride, into the lanes with padding P: xp8
 * (C, H + 2P, W + 2P, 8), only the inside written. */
void svdd__lanes_gather_images(float *xp8, const float *inp, size_t in_stride, int C, int H, int W, int P, int simd);
/* The same for (C, h, w) images upsampled 2x on the way (nearest): xp8 (C, 2h + 2P, 2w + 2P, 8). */
void svdd__lanes_gather_images_up2(float *xp8, const float *inp, size_t in_stride, int C, int h, int w, int P,
                                   int simd);
/* d8 (C, 2h, 2w, 8) out of the lanes summed over 2x2 blocks (svdd__cnhw_to_nchw_down2's floats):
 * image l's (C, h, w) at out + l * out_stride. */
void svdd__lanes_scatter_down2(float *out, size_t out_stride, const float *d8, int C, int h, int w, int simd);
/* Weight gradient of eight images: vacc (Cout, Cin, K, K, 8) += per lane (image) the sum over the
 * output pixels, in row order, of g8 (Cout, Ho, Wo, 8; rows `grow`, planes `gplane` floats apart)
 * times the input pixel each weight saw in xp8 (as for svdd__conv_lanes_forward). simd as there. */
void svdd__conv_lanes_wgrad(float *vacc, const float *g8, size_t grow, size_t gplane, const float *xp8, int Cin, int H,
                            int W, int Cout, int K, int P, int simd);
/* Eight images through svdd__conv_lanes_forward on the AVX2 path: image l's (Cin, H, W) at
 * inp + l * in_stride (with up = 2: (Cin, H/2, W/2), upsampled on the way in), its (Cout, Ho, Wo)
 * output to out + l * out_stride; per image the floats of svdd__conv_direct_forward with simd.
 * Scratch: xp8 (Cin, H + 2P, W + 2P, 8), whose borders the caller has zeroed (only the inside is
 * written), and o8 (Cout, Ho, Wo, 8). */
void svdd__conv_lanes_images(float *out, size_t out_stride, const float *inp, size_t in_stride, const float *w, int Cin,
                             int H, int W, int Cout, int K, int P, int up, float *xp8, float *o8);

/* Largest channel block of a weight-gradient tile of KB taps (conv_direct.c, conv_lanes.c): CB*KB
 * accumulators <= 12 and, with CB gradient vectors and one input vector, <= 16 registers. */
static inline int svdd__wgrad_max_cb(int KB) {
    int cb = 7;
    while (cb > 1 && (cb * KB > 12 || cb * KB + cb + 1 > 16)) cb--;
    return cb;
}

/* The direct backward runs over groups of this many images, whatever the thread count: each
 * group's weight gradient is kept apart and svdd__conv_direct_add_groups adds them in order, so
 * that the sum, and a whole training run, is the same on any number of threads. */
#define SVDD__DIRECT_GROUP 8
static inline int svdd__conv_direct_groups(int B) { return (B + SVDD__DIRECT_GROUP - 1) / SVDD__DIRECT_GROUP; }
/* The end of group g of G images in a batch of B: images g*G .. svdd__group_end(g, G, B) - 1. */
static inline int svdd__group_end(int g, int G, int B) { return B - g * G > G ? g * G + G : B; }
/* dw (nw) += each of the `groups` rows of `group_dw` (groups, nw), in order. */
void svdd__conv_direct_add_groups(float *dw, const float *group_dw, int groups, size_t nw);
void svdd__conv_direct_wgrad(float *vacc, const float *g, const float *inp, int Cin, int H, int W, int Cout, int K,
                             int P, float *pad, int simd);
/* dw[i] += the sum of the lanes of vacc[i], i < n. */
void svdd__conv_direct_wgrad_reduce(float *dw, const float *vacc, size_t n);
/* dst (Cin, Cout, K, K) = w (Cout, Cin, K, K) with its kernels rotated by 180 degrees: the weights
 * of the convolution that maps an output gradient to the input gradient. */
void svdd__conv_weight_flip(float *dst, const float *w, int Cout, int Cin, int K);

/* ---- Winograd F(2x2, 5x5) (winograd.c) ----
 * For the 5x5, padding-2 convolutions of images with even sides: 36 multiplications per tile of
 * 2x2 outputs and channel pair instead of 100, as 36 matrix products over the transformed tiles.
 * A chunk of nb images of (C, H, W) has P = nb * (H/2) * (W/2) tiles; transformed chunks are
 * (36, C, P) and transformed weights (36, Cout, Cin). */

/* 1 when the shapes suit these kernels (K = 5, P = 2, H and W even). */
int svdd__winograd_fits(int Cin, int Cout, int H, int W, int K, int P);
/* Floats of the `rows` scratch each transform below needs. */
size_t svdd__winograd_row_floats(int H, int W);
/* U (36, Cout, Cin) = G g G^T for every kernel g of w (Cout, Cin, 5, 5); on `threads` threads
 * (here and below: the same floats on any number). */
void svdd__winograd_weights(float *U, const float *w, int Cout, int Cin, int threads);
/* U (36, Cin, Cout): the same for the kernels of the input gradient's convolution, w's kernels
 * turned by 180 degrees with the channel axes swapped. */
void svdd__winograd_weights_rotated(float *U, const float *w, int Cout, int Cin, int threads);
/* dw (Cout, Cin, 5, 5) += G^T dU G, the weight gradient from its transformed form dU (36, Cout, Cin);
 * rotated: dw (Cin, Cout, 5, 5) += those kernels turned by 180 degrees (a transposed convolution's). */
void svdd__winograd_weight_grad(float *dw, int rotated, const float *dU, int Cout, int Cin, int threads);
/* The distance in floats between the 36 blocks of a transformed chunk whose blocks hold n
 * floats each ((C, P) matrices: n = C * P): at least n, chosen so that the blocks fall on
 * different cache sets. The `ps` arguments below. */
size_t svdd__winograd_stride(size_t n);
/* V (36, C, P), blocks ps apart: B^T d B for each tile's 6x6 patch d of inp (nb, C, H, W),
 * zero-padded by 2; up = 2: inp is (nb, C, H/2, W/2), read through a nearest-neighbour 2x
 * upsampling. */
void svdd__winograd_input(float *V, size_t ps, const float *inp, int nb, int C, int H, int W, int up, float *rows);
/* out (nb, K, H, W) = A^T m A for each tile's transformed output m in M (36, K, P), blocks ps
 * apart; down = 2: out is (nb, K, H/2, W/2), each tile's four values summed (the adjoint of the
 * upsampling, in svdd__upsample2d_backward's order). */
void svdd__winograd_output(float *out, const float *M, size_t ps, int nb, int K, int H, int W, int down,
                           float *rows);
/* D (36, K, P), blocks ps apart: A dy A^T for each 2x2 tile dy of dout (nb, K, H, W), the
 * gradient of the transformed output. */
void svdd__winograd_grad_output(float *D, size_t ps, const float *dout, int nb, int K, int H, int W, float *rows);

/* ---- Winograd convolutions over a batch (winograd_conv.c) ----
 * A convolution of images of H x W (even) with 5x5 kernels and padding 2 keeping the size, one
 * slice of images per thread (svdd__plan_batch). Ci and Co: the channels in and out. */

/* 1 when a convolution (or a stride-1 transposed one) of these shapes takes this path: with
 * SVDD__CONV_WINOGRAD whenever it fits, with SVDD__CONV_AUTO from 16 channels on each side. */
int svdd__winograd_wanted(svdd__conv_path path, int Cin, int Cout, int H, int W, int K, int P);
/* Workspace floats of the two functions below (either direction of the channels). */
size_t svdd__winograd_workspace(int B, int threads, int Ci, int H, int W, int Co);
/* out (B, Co, H/down, W/down) = the convolution of inp (B, Ci, H/up, W/up), upsampled when up = 2,
 * with w (Co, Ci, 5, 5); rotated: with the kernels of w (Ci, Co, 5, 5) turned by 180 degrees
 * instead (an input gradient, or a transposed convolution's forward). down = 2: each 2x2 block of
 * the output summed (an upsampled input's gradient). */
void svdd__winograd_conv(float *out, const float *inp, const float *w, int rotated, int B, int Ci, int H, int W,
                         int Co, int up, int down, svdd__workspace *ws);
/* The weight gradient of that convolution (down = 1) for the output gradient dout (B, Co, H, W):
 * dw (Co, Ci, 5, 5) +=, or (rotated) dw (Ci, Co, 5, 5) += the kernels turned by 180 degrees. */
void svdd__winograd_conv_wgrad(float *dw, int rotated, const float *inp, int up, const float *dout, int B, int Ci,
                               int H, int W, int Co, svdd__workspace *ws);

/* (nb, C, S) <-> (C, nb, S) re-layouts between a batch and one wide matrix. */
void svdd__nchw_to_cnhw(float *dst, const float *src, int nb, int C, int S);
void svdd__cnhw_to_nchw(float *dst, const float *src, int nb, int C, int S);
/* The same with a nearest-neighbour 2x upsampling on the way: src (nb, C, h, w) -> dst (C, nb,
 * 2h, 2w); and its adjoint, each output pixel the sum of its 2x2 block: src (C, nb, 2h, 2w) ->
 * dst (nb, C, h, w). The image layouts of one image are svdd__upsample2d_forward/_backward's. */
void svdd__nchw_to_cnhw_up2(float *dst, const float *src, int nb, int C, int h, int w);
void svdd__cnhw_to_nchw_down2(float *dst, const float *src, int nb, int C, int h, int w);

/* How a batch-parallel convolution lays out its scratch: the batch is cut into one contiguous
 * slice of images per thread, each slice processed in chunks of at most `chunk` images, and each
 * thread owns `slice` floats of the workspace: a chunk's matrices (per_image floats an image)
 * followed by `extra` floats (its private weight gradient). Depends only on the shapes and the
 * thread count. */
typedef struct svdd__batch_plan {
    int threads;  /* min(requested, B) */
    int chunk;    /* images per chunk */
    size_t extra; /* floats of a thread's private weight gradient, at the end of its slice */
    size_t slice; /* floats of workspace per thread */
} svdd__batch_plan;

/* chunk_floats: the scratch budget of one chunk. */
svdd__batch_plan svdd__plan_batch(int B, int threads, size_t per_image, size_t extra, size_t chunk_floats);
/* A plan whose chunk is a thread's whole slice of images, with `scratch` floats of fixed scratch
 * per thread (for kernels that work one image at a time; the direct convolutions plan over their
 * groups of images and use only its threads and slice, with svdd__run_units). */
svdd__batch_plan svdd__plan_fixed(int B, int threads, size_t scratch, size_t extra);

/* One chunk of a convolution: images [b0, b0 + nb), the thread's scratch (the chunk's matrices)
 * and, in backward, the thread's weight gradient to accumulate into (NULL in forward). */
typedef void (*svdd__chunk_fn)(const void *ctx, float *scratch, float *dw_part, int b0, int nb);

/* Run `chunk` over the B images, one OpenMP thread per slice of the plan, each on its own slice
 * of ws. With dw: each thread's weight gradient (`extra` floats) starts at zero, and dw += all
 * of them in thread order at the end (deterministic for a given thread count); NULL in forward. */
void svdd__plan_run(const svdd__batch_plan *p, int B, float *ws, float *dw, svdd__chunk_fn chunk, const void *ctx);
/* Work cut into n units whose results do not depend on which thread ran which (each unit writes
 * its own outputs): fn(ctx, t, u) on thread t for every unit u, on T threads (at most n, at most
 * 64; at least 1). Thread t takes its own share, units n*t/T .. n*(t+1)/T - 1, in order (the
 * share it took in the layer before, so its core finds those images in its cache), then from the
 * end of the others' shares what they have not started: a core that runs slower for a while
 * leaves a unit to the other instead of keeping it waiting. prep (may be NULL) runs first on each
 * thread; with no units nothing runs. */
typedef void (*svdd__prep_fn)(const void *ctx, int thread);
typedef void (*svdd__unit_fn)(const void *ctx, int thread, int unit);
void svdd__run_units(int n, int T, svdd__prep_fn prep, svdd__unit_fn fn, const void *ctx);
/* The same with the threads' weight gradients summed in thread order into the first thread's,
 * which it returns (the floats svdd__plan_run adds to a zeroed dw), for a caller that has more
 * to do with the sum than add it: no buffer of its own. */
float *svdd__plan_run_sum(const svdd__batch_plan *p, int B, float *ws, svdd__chunk_fn chunk, const void *ctx);

/* ---- the layers with their kernels chosen by the caller, for the tests ----
 * Defined beside the layers they belong to (src/nn/conv2d.c, conv_transpose2d.c, batchnorm.c):
 * svdd__conv2d_forward and the others of src/nn/layers.h call these with SVDD__CONV_AUTO, or
 * with simd = svdd__cpu_avx2_fma(). Arguments as there, plus the choice. */
size_t svdd__conv2d_workspace_as(int B, int Cin, int H, int W, int Cout, int K, int P, int threads,
                                 svdd__conv_path path);
size_t svdd__conv_transpose2d_workspace_as(int B, int Cin, int H, int W, int Cout, int K, int P, int up,
                                           int threads, svdd__conv_path path);
void svdd__conv2d_forward_as(float *out, const float *inp, const float *w, int B, int Cin, int H, int W,
                             int Cout, int K, int P, svdd__workspace *ws, svdd__conv_path path);
/* The same on the direct path with then(then_ctx, thread, g) run for each group g of
 * SVDD__DIRECT_GROUP images on the thread that wrote its output, right after: 1. On the other
 * paths (no groups) then is not run: 0. */
int svdd__conv2d_forward_then(float *out, const float *inp, const float *w, int B, int Cin, int H, int W, int Cout,
                              int K, int P, svdd__workspace *ws, svdd__unit_fn then, const void *then_ctx);
void svdd__conv2d_backward_as(float *dinp, float *dw, const float *dout, const float *inp, const float *w,
                              int B, int Cin, int H, int W, int Cout, int K, int P, svdd__workspace *ws,
                              svdd__conv_path path);
/* The backward on the lanes (every group of eight images in AVX2 registers) with the output
 * gradient made group by group by dout_fn(ctx, b0, g8, grow, gplane): images b0..b0+7 as
 * (Cout, Ho, Wo, 8) at g8, rows grow and planes gplane floats apart (the inside of a padded map;
 * dout_fn writes every float of it). Only where svdd__conv2d_lanes_backward(B, ...) (the direct
 * path on AVX2, whole groups): 1; else nothing done, 0. The floats of svdd__conv2d_backward_as
 * given the same output gradient. */
typedef void (*svdd__lanes_dout_fn)(const void *ctx, int b0, float *g8, size_t grow, size_t gplane);
/* The forward on the lanes with the output left in them: out (B/8, Cout, Ho, Wo, 8), each group of
 * eight images one per lane (no scatter; src/nn/block_backward.c reads it so), then run as in
 * svdd__conv2d_forward_then. Only where svdd__conv2d_lanes_backward(B, ...): 1; else nothing
 * done, 0. Per image the floats of svdd__conv2d_forward. */
int svdd__conv2d_forward_lanes(float *out, const float *inp, const float *w, int B, int Cin, int H, int W, int Cout,
                               int K, int P, svdd__workspace *ws, svdd__unit_fn then, const void *then_ctx);
int svdd__conv2d_lanes_backward(int B, int Cin, int Cout, int K, int P);
int svdd__conv2d_backward_from(float *dinp, float *dw, svdd__lanes_dout_fn dout_fn, const void *dout_ctx,
                               const float *inp, const float *w, int B, int Cin, int H, int W, int Cout, int K, int P,
                               svdd__workspace *ws);
/* up = 2: the transposed convolution reads its input through a nearest-neighbour 2x upsampling;
 * inp and dinp are (B, Cin, H/2, W/2), H and W even (see conv_transpose2d.c). */
void svdd__conv_transpose2d_forward_as(float *out, const float *inp, const float *w, int B, int Cin, int H,
                                       int W, int Cout, int K, int P, int up, svdd__workspace *ws,
                                       svdd__conv_path path);
void svdd__conv_transpose2d_backward_as(float *dinp, float *dw, const float *dout, const float *inp,
                                        const float *w, int B, int Cin, int H, int W, int Cout, int K, int P, int up,
                                        svdd__workspace *ws, svdd__conv_path path);
/* simd = 1 (only when svdd__cpu_avx2_fma()): the AVX2 build of the same loops. split = NULL: the
 * threads take a share of the channels each (the plain layer's way); else scratch of
 * svdd__batchnorm_split_doubles(C, B) doubles, and the threads take groups of SVDD__BN_GROUP
 * images (each group's sums added in group order: the same floats on any number of threads above
 * one, and within a rounding of a double of the channel split's). */
#define SVDD__BN_GROUP SVDD__DIRECT_GROUP
size_t svdd__batchnorm_split_doubles(int C, int B);
void svdd__batchnorm_forward_train_as(float *out, float *mean, float *rstd, float *run_mean, float *run_var,
                                      const float *inp, int B, int C, int S, float eps, float momentum, int threads,
                                      int simd, double *split);
void svdd__batchnorm_backward_train_as(float *dinp, const float *dout, const float *out, const float *rstd, int B,
                                       int C, int S, int threads, int simd, double *split);
/* Batch norm's statistics taken group by group (of SVDD__BN_GROUP images) by the layer next to
 * it, while each group's maps are in the cache: in the forward by the convolution before it
 * (svdd__conv2d_forward_then), in the backward by the pooling after it. stats: at least
 * svdd__batchnorm_group_doubles; the forward's, (groups, 2, C): each group's channel means, then
 * sums of squared deviations. */
size_t svdd__batchnorm_group_doubles(int C, int B);
typedef struct svdd__bn_groups {
    double *stats;
    const float *x;  /* the forward: batch norm's input; the backward: its output (B, C, S) */
    const float *dy; /* the backward: the gradient of its output */
    int B, C, S, simd;
    int lanes; /* the forward: x as svdd__conv2d_forward_lanes leaves it, (B/8, C, S, 8) */
} svdd__bn_groups;
/* svdd__unit_fns (ctx: an svdd__bn_groups): group g's figures from its images of x; group g's
 * sums of dy and dy * x for the backward. */
void svdd__batchnorm_group_stats(const void *groups, int thread, int g);
void svdd__batchnorm_group_grad_sums(const void *groups, int thread, int g);
/* Training mode's backward from every group's sums, added in group order: the floats of
 * svdd__batchnorm_backward_train_as's image split. means: 2C doubles of scratch. */
void svdd__batchnorm_backward_groups(float *dinp, const float *dout, const float *out, const float *rstd, int B, int C,
                                     int S, int threads, int simd, const double *sums, double *means);
/* The backward's sums for a layer that makes batch norm's output gradient dy itself
 * (src/nn/block_backward.c): group g's sums are at sums + (g * C + c) * 2 * SVDD__BN_LANES for
 * channel c, dy's lanes then dy * xhat's; svdd__batchnorm_plane_grad_sums adds S values of each
 * to such a place (as svdd__batchnorm_group_grad_sums adds a plane's). svdd__batchnorm_grad_means:
 * the means of every group's sums over B * S values, as floats, the way the backward uses them
 * (scratch: 2C doubles). */
#define SVDD__BN_LANES 8
void svdd__batchnorm_plane_grad_sums(double *a, const float *dy, const float *xh, int S, int simd);
void svdd__batchnorm_grad_means(float *mdy, float *mdyx, const double *sums, int B, int C, int S, double *scratch);
/* Training mode from every group's figures, combined in group order (the same floats on any
 * number of threads); act: the fused leaky ReLU of this slope, pool as in
 * svdd__batchnorm_lrelu_forward_train_as. Within a rounding of a double of the passes' statistics. */
void svdd__batchnorm_forward_groups(float *out, float *mean, float *rstd, float *run_mean, float *run_var,
                                    const float *inp, int B, int C, int H, int W, float eps, float momentum, int act,
                                    float slope, float *pool, int threads, int simd, const double *stats);
/* The same over maps in the lanes, inp and out (B/8, C, H, W, 8) (svdd__conv2d_forward_lanes, with
 * the statistics from svdd__batchnorm_group_stats on lanes), with the leaky ReLU and the pooling:
 * pool (B, C, H/2, W/2) as the images' own maps. B a multiple of 8, W and H even, W / 2 at most
 * SVDD__LANES_POOL_MAX. Per value the floats of svdd__batchnorm_forward_groups given the same
 * statistics. */
#define SVDD__LANES_POOL_MAX 64
void svdd__batchnorm_lrelu_pool_lanes(float *out, float *mean, float *rstd, float *run_mean, float *run_var,
                                      const float *inp, int B, int C, int H, int W, float eps, float momentum,
                                      float slope, float *pool, int threads, const double *stats);
/* simd = 1 (only when svdd__cpu_avx2_fma()): eight windows at a time (src/nn/maxpool2d.c). */
void svdd__maxpool2d_forward_as(float *out, const float *inp, int B, int C, int H, int W, int simd);
void svdd__maxpool2d_backward_as(float *dinp, const float *dout, const float *inp, int B, int C, int H, int W,
                                 int simd);

/* ---- batch norm with the layers after it, in its own passes (src/nn/batchnorm.c) ----
 * The network fuses a leaky ReLU (slope > 0) that writes over batch norm's output, and the max
 * pooling after it when pool is not NULL (B, C, H/2, W/2): one pass over the largest maps of a
 * step instead of three, the same floats as the layers run one after another. inp, out (B,C,H,W). */
void svdd__batchnorm_lrelu_forward_train_as(float *out, float *mean, float *rstd, float *run_mean, float *run_var,
                                            const float *inp, int B, int C, int H, int W, float eps, float momentum,
                                            float slope, float *pool, int threads, int simd, double *split);
void svdd__batchnorm_lrelu_forward_eval_as(float *out, const float *inp, const float *run_mean, const float *run_var,
                                           int B, int C, int H, int W, float eps, float slope, float *pool, int threads,
                                           int simd);

#endif
