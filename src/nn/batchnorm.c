/* batchnorm: torch.nn.BatchNorm2d / BatchNorm1d with affine=False (as in the Deep SVDD
 * networks, whose batch norms have no scale or shift). inp, out (B,C,S), S = H*W or 1.
 * Statistics are accumulated in double: a channel of a 200-image CIFAR batch sums 200k values (the
 * backward's sums first add eight values of a lane in float, see "float blocks" below).
 *
 * The sums run in 8 independent double lanes (then added pairwise): one accumulator would make
 * every addition wait for the previous one, and the first MNIST layer's channels hold 157k values
 * each. GCC vectorises the lanes; the same code is compiled for AVX2 too and chosen per call. The
 * lanes change the order of the additions, not their precision (and make them more accurate).
 *
 * The network runs the leaky ReLU that overwrites batch norm's output, and the max pooling after
 * it, inside batch norm's last pass (the _lrelu functions), each plane pooled while it is still in
 * the cache: one pass over the largest maps of a step instead of three, the same floats as the
 * layers one after another. In evaluation mode the planes are shared among the threads.
 *
 * Training on several threads, the network has the threads take groups of images (the image split
 * below, each group's sums kept apart and added in order), and where a direct convolution comes
 * before batch norm the layers next to it take those sums as they write each group (at the end);
 * the plain layer function shares the channels, each thread then summing whole channels as one
 * thread would. */
#include <math.h>
#include <string.h>

#include "layers.h"

#define LANES SVDD__BN_LANES

#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
#define BN_AVX2 1
#endif

#define ALWAYS_INLINE static inline __attribute__((always_inline))

/* What runs in the normalising pass besides batch norm: act, the leaky ReLU of this slope; pool,
 * when not NULL, the max pooling of its output, (B, C, H/2, W/2), on the pooling's AVX2 path when
 * simd (the caller's choice, as for batch norm's own loops). */
typedef struct svdd__bn_fuse {
    int act;
    float slope;
    float *pool;
    int simd;
} svdd__bn_fuse;

ALWAYS_INLINE double lanes_total(const double a[LANES]) {
    return ((a[0] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) + (a[3] + a[7]));
}

/* One plane (H, W) of batch norm's output y = (x - m) * r; with fuse->act the leaky ReLU over it
 * (as svdd__leaky_relu_forward computes it), and with pool (H/2, W/2) its max pooling, read while
 * the plane is still in the cache. */
ALWAYS_INLINE void normalise_plane(float *y, const float *x, float m, float r, int H, int W, const svdd__bn_fuse *fuse,
                                   float *pool) {
    const size_t S = (size_t)H * W;
    if (!fuse->act) {
        for (size_t s = 0; s < S; s++) y[s] = (x[s] - m) * r;
        return;
    }
    const float slope = fuse->slope;
    for (size_t s = 0; s < S; s++) {
        const float t = (x[s] - m) * r;
        y[s] = t > 0.0f ? t : t * slope;
    }
    for (int row = 0; pool && row < H / 2; row++)
        svdd__maxpool2d_row(pool + (size_t)row * (W / 2), y + (size_t)2 * row * W, y + (size_t)(2 * row + 1) * W, W / 2,
                            fuse->simd);
}

/* The sums of one plane x (S floats) into the L lanes a (L a power of two, at most 16): of the
 * values, or (dev) of their squared deviations from mu. */
ALWAYS_INLINE void plane_sums_in(double *a, int L, const float *x, int S, int dev, double mu) {
    const int SL = S & ~(L - 1);
    double acc[16] = {0}; /* (only L are used; zeroed for the compiler, which cannot see that) */
    for (int j = 0; j < L; j++) acc[j] = a[j];
    for (int s = 0; s < SL; s += L)
        for (int j = 0; j < L; j++) {
            const double d = dev ? x[s + j] - mu : x[s + j];
            acc[j] += dev ? d * d : d;
        }
    for (int s = SL; s < S; s++) {
        const double d = dev ? x[s] - mu : x[s];
        acc[s - SL] += dev ? d * d : d;
    }
    for (int j = 0; j < L; j++) a[j] = acc[j];
}

ALWAYS_INLINE void plane_sums(double a[LANES], const float *x, int S, int dev, double mu) {
    plane_sums_in(a, LANES, x, S, dev, mu);
}

/* Channels are summed CHUNK at a time, image by image: a thread then reads its channels' planes
 * of an image as one stretch of memory instead of one plane of each image in turn (25 KB apart in
 * the first MNIST layer), which the prefetchers follow. Each channel still sums its values in
 * the same order. */
#define CHUNK 16

/* Channel c's mean and rstd from the mean mu and the sum of squared deviations ss of its n values;
 * and its running statistics. */
ALWAYS_INLINE void channel_stats(float *mean, float *rstd, float *run_mean, float *run_var, int c, double mu, double ss,
                                 size_t n, float eps, float momentum) {
    const double var = ss / (double)n; /* biased, used to normalise */
    rstd[c] = (float)(1.0 / sqrt(var + eps));
    mean[c] = (float)mu;
    if (run_mean && run_var) {
        /* PyTorch updates the running variance with the unbiased estimate. */
        double unbiased = n > 1 ? ss / (double)(n - 1) : var;
        run_mean[c] = (float)((1.0 - momentum) * run_mean[c] + momentum * mu);
        run_var[c] = (float)((1.0 - momentum) * run_var[c] + momentum * unbiased);
    }
}

/* Channels c0..c1-1: batch statistics and normalised output; updates the running statistics. */
ALWAYS_INLINE void forward_channels(float *out, float *mean, float *rstd, float *run_mean, float *run_var,
                                    const float *inp, int B, int C, int H, int W, float eps, float momentum,
                                    const svdd__bn_fuse *fuse, int c0, int c1) {
    const int S = H * W;
    const size_t n = (size_t)B * S, Sp = (size_t)(H / 2) * (W / 2);
    for (int k0 = c0; k0 < c1; k0 += CHUNK) {
        const int nk = c1 - k0 < CHUNK ? c1 - k0 : CHUNK;
        double acc[CHUNK][LANES], mu[CHUNK];
        float m[CHUNK], r[CHUNK];
        memset(acc, 0, sizeof acc);
        for (int b = 0; b < B; b++)
            for (int k = 0; k < nk; k++) plane_sums(acc[k], inp + ((size_t)b * C + k0 + k) * S, S, 0, 0.0);
        for (int k = 0; k < nk; k++) {
            mu[k] = lanes_total(acc[k]) / (double)n;
            for (int j = 0; j < LANES; j++) acc[k][j] = 0;
        }
        for (int b = 0; b < B; b++)
            for (int k = 0; k < nk; k++) plane_sums(acc[k], inp + ((size_t)b * C + k0 + k) * S, S, 1, mu[k]);
        for (int k = 0; k < nk; k++) {
            channel_stats(mean, rstd, run_mean, run_var, k0 + k, mu[k], lanes_total(acc[k]), n, eps, momentum);
            m[k] = mean[k0 + k], r[k] = rstd[k0 + k];
        }
        for (int b = 0; b < B; b++)
            for (int k = 0; k < nk; k++) {
                const size_t p = (size_t)b * C + k0 + k;
                normalise_plane(out + p * S, inp + p * S, m[k], r[k], H, W, fuse, fuse->pool ? fuse->pool + p * Sp : NULL);
            }
    }
}

/* ---- The backward's sums in float blocks ----
 * Summed in double, each value of a plane costs two conversions (of dy and of dy * xhat), and the
 * conversions bound the pass (a two-thread MNIST encoder step: 4.1% of the samples, 2.5% in float
 * blocks). So each lane first adds BLOCK of its values in float, pairwise (a product rounded once,
 * then three roundings: at most 2^-22 of the block's absolute sum), and only the block's sum goes
 * to the double lane. The means are used as floats, in dx = rstd (dy - mdy - xhat mdyx): the
 * blocks' error, at most 2^-22 of the mean of |dy| (of |dy xhat|), keeps dx within 2^-22 rstd
 * max|dy| (2 + max|xhat|^2) of the double sums, also where dy has a large offset (that is four
 * roundings of the mean there; test_batchnorm_grad_offset), and the PyTorch step tests' margins
 * stayed where they were.
 * Not the forward's statistics: float blocks there (the values against the plane's first one, the
 * deviations against the mean split into two floats) came within about 1e-7 of the double sums,
 * which moves rstd by an ulp in many channels, and three training steps of the CIFAR-10 encoder at
 * batch 4 amplify that past the PyTorch comparison's tolerances.
 * GCC's and clang's vector extension, as in winograd.c (GCC vectorised the scalar form of the
 * blocks with shuffles and spills, slower than the double sums); vectors go through pointers
 * (passed by value, eight floats change the ABI of builds without AVX, which GCC warns about even
 * where everything is inlined). */
#define BLOCK 8
typedef float f8 __attribute__((vector_size(32), aligned(4), may_alias));
typedef float f4 __attribute__((vector_size(16)));
typedef double d4 __attribute__((vector_size(32)));

/* The pairwise sum of the BLOCK vectors t, each lane its own, added to the double lanes acc[0]
 * (lanes 0-3) and acc[1] (4-7). Written element by element: GCC 12 makes that two whole-register
 * conversions, but splits __builtin_convertvector's into four halves. */
ALWAYS_INLINE void add_block(d4 acc[2], const f8 t[BLOCK]) {
    const f8 v = ((t[0] + t[1]) + (t[2] + t[3])) + ((t[4] + t[5]) + (t[6] + t[7]));
    const f4 l = __builtin_shufflevector(v, v, 0, 1, 2, 3), h = __builtin_shufflevector(v, v, 4, 5, 6, 7);
    acc[0] += (d4){l[0], l[1], l[2], l[3]};
    acc[1] += (d4){h[0], h[1], h[2], h[3]};
}

/* The block of m <= BLOCK steps of LANES values at dy and xh into the lanes u (dy) and v
 * (dy * xhat); zeros after the m-th, which change no sum. */
ALWAYS_INLINE void grad_block(d4 u[2], d4 v[2], const float *dy, const float *xh, int m) {
    f8 tu[BLOCK], tv[BLOCK];
    for (int k = 0; k < BLOCK; k++) {
        if (k < m) {
            tu[k] = *(const f8 *)(dy + (size_t)k * LANES);
            tv[k] = tu[k] * *(const f8 *)(xh + (size_t)k * LANES);
        } else {
            tu[k] = tv[k] = (f8){0};
        }
    }
    add_block(u, tu);
    add_block(v, tv);
}

/* The sums of one plane's dy and dy * xhat (S floats each) into the lanes a[0] and a[1] (value s
 * goes to lane s mod LANES). */
ALWAYS_INLINE void plane_grad_sums(double a[2][LANES], const float *dy, const float *xh, int S) {
    const int steps = S / LANES;
    int s0 = 0;
    d4 u[2], v[2]; /* the lanes, as vectors: kept in registers */
    memcpy(u, a[0], sizeof u), memcpy(v, a[1], sizeof v);
    for (; s0 + BLOCK <= steps; s0 += BLOCK)
        grad_block(u, v, dy + (size_t)s0 * LANES, xh + (size_t)s0 * LANES, BLOCK);
    if (s0 < steps) grad_block(u, v, dy + (size_t)s0 * LANES, xh + (size_t)s0 * LANES, steps - s0);
    memcpy(a[0], u, sizeof u), memcpy(a[1], v, sizeof v);
    for (int s = steps * LANES; s < S; s++) {
        a[0][s - steps * LANES] += dy[s];
        a[1][s - steps * LANES] += (double)dy[s] * xh[s];
    }
}

/* One plane's input gradient from its channel's rstd r and the means a of dy and q of dy * xhat. */
ALWAYS_INLINE void plane_grad(float *dx, const float *dy, const float *xh, float r, float a, float q, int S) {
    for (int s = 0; s < S; s++) dx[s] = r * (dy[s] - a - xh[s] * q);
}

/* With xhat = (x - mu) * rstd and y = xhat (no affine part):
 *   dx = rstd * (dy - mean(dy) - xhat * mean(dy * xhat)), means over the B*S values of a channel.
 * Channels c0..c1-1, CHUNK at a time as in the forward. */
ALWAYS_INLINE void backward_channels(float *dinp, const float *dout, const float *out, const float *rstd, int B, int C,
                                     int S, int c0, int c1) {
    const double n = (double)B * S;
    for (int k0 = c0; k0 < c1; k0 += CHUNK) {
        const int nk = c1 - k0 < CHUNK ? c1 - k0 : CHUNK;
        double sums[CHUNK][2][LANES];
        float mdy[CHUNK], mdyx[CHUNK];
        memset(sums, 0, sizeof sums);
        for (int b = 0; b < B; b++)
            for (int k = 0; k < nk; k++) {
                const size_t p = (size_t)b * C + k0 + k;
                plane_grad_sums(sums[k], dout + p * S, out + p * S, S);
            }
        for (int k = 0; k < nk; k++)
            mdy[k] = (float)(lanes_total(sums[k][0]) / n), mdyx[k] = (float)(lanes_total(sums[k][1]) / n);
        for (int b = 0; b < B; b++)
            for (int k = 0; k < nk; k++) {
                const size_t p = (size_t)b * C + k0 + k;
                plane_grad(dinp + p * S, dout + p * S, out + p * S, rstd[k0 + k], mdy[k], mdyx[k], S);
            }
    }
}

/* ---- The batch split by images (training mode, several threads) ----
 * The threads sum, normalise and differentiate groups of SVDD__BN_GROUP images (svdd__run_units:
 * each thread first its own share of the groups, the images its convolutions took, so the planes
 * it reads are those its own core just wrote; then what the others have not started). Split by
 * channels, each thread read a part of every image: the MNIST encoder's batch norm took twice the
 * CPU time per step at two threads as at one. Each group's sums, LANES doubles a channel, have
 * their own place and are added lane by lane in group order, so the floats depend on neither the
 * thread count nor which thread took which group; the statistics come between the passes, on the
 * calling thread. */

/* Sums over images b0..b1-1 of every channel into a (C, LANES), zeroed first: of the values, or
 * (mu) of their squared deviations from mu[c]. */
ALWAYS_INLINE void images_sums(double *a, const float *x, int b0, int b1, int C, int S, const double *mu) {
    memset(a, 0, (size_t)C * LANES * sizeof(double));
    /* (two calls with constant pass kinds: with the kind a runtime value here GCC left the
     * deviations' sums partly scalar once the backward's sums took float blocks; images_run then
     * took 3.5% of a two-thread CIFAR-10 autoencoder step, now 2.9%) */
    for (int b = b0; b < b1; b++)
        for (int c = 0; c < C; c++) {
            if (mu) plane_sums(a + (size_t)c * LANES, x + ((size_t)b * C + c) * S, S, 1, mu[c]);
            else plane_sums(a + (size_t)c * LANES, x + ((size_t)b * C + c) * S, S, 0, 0.0);
        }
}

ALWAYS_INLINE void images_normalise(float *out, const float *inp, const float *m, const float *r, int b0, int b1, int C,
                                    int H, int W, const svdd__bn_fuse *fuse) {
    const size_t S = (size_t)H * W, Sp = (size_t)(H / 2) * (W / 2);
    for (size_t p = (size_t)b0 * C; p < (size_t)b1 * C; p++) {
        const int c = (int)(p % (size_t)C);
        normalise_plane(out + p * S, inp + p * S, m[c], r[c], H, W, fuse, fuse->pool ? fuse->pool + p * Sp : NULL);
    }
}

/* Sums of dy and dy * xhat over images b0..b1-1 into a (C, 2, LANES), zeroed first. */
ALWAYS_INLINE void images_grad_sums(double (*a)[2][LANES], const float *dout, const float *out, int b0, int b1, int C,
                                    int S) {
    memset(a, 0, (size_t)C * sizeof *a);
    for (size_t p = (size_t)b0 * C; p < (size_t)b1 * C; p++)
        plane_grad_sums(a[p % (size_t)C], dout + p * S, out + p * S, S);
}

/* The input gradient of images b0..b1-1 from the means mdy of dy and mdyx of dy * xhat. */
ALWAYS_INLINE void images_grad(float *dinp, const float *dout, const float *out, const float *rstd, const double *mdy,
                               const double *mdyx, int b0, int b1, int C, int S) {
    for (size_t p = (size_t)b0 * C; p < (size_t)b1 * C; p++) {
        const int c = (int)(p % (size_t)C);
        plane_grad(dinp + p * S, dout + p * S, out + p * S, rstd[c], (float)mdy[c], (float)mdyx[c], S);
    }
}

typedef enum { PASS_SUMS, PASS_DEV_SUMS, PASS_NORMALISE, PASS_GRAD_SUMS, PASS_GRAD } images_pass_kind;

/* One pass of the image split over T threads: the groups of SVDD__BN_GROUP images, U of them. */
typedef struct images_pass {
    images_pass_kind kind;
    int B, C, H, W, T, U;
    const float *x, *dout;    /* input; output gradient */
    float *out, *dinp;        /* normalised output; input gradient */
    const float *xhat;        /* the backward: the forward's normalised output */
    const float *mean, *rstd; /* the batch statistics as floats */
    const double *mu;         /* PASS_DEV_SUMS: the channel means */
    const double *mdy, *mdyx; /* PASS_GRAD: the channel means of dy and dy * xhat */
    double *part;             /* the groups' sums, (U, C, LANES) or for the gradient (U, C, 2, LANES) */
    const svdd__bn_fuse *fuse;
} images_pass;

/* Group g. */
ALWAYS_INLINE void images_run(const images_pass *q, int g) {
    const int b0 = g * SVDD__BN_GROUP, b1 = svdd__group_end(g, SVDD__BN_GROUP, q->B);
    const int C = q->C, S = q->H * q->W;
    switch (q->kind) {
    case PASS_SUMS:
    case PASS_DEV_SUMS:
        images_sums(q->part + (size_t)g * C * LANES, q->x, b0, b1, C, S, q->kind == PASS_DEV_SUMS ? q->mu : NULL);
        break;
    case PASS_NORMALISE: images_normalise(q->out, q->x, q->mean, q->rstd, b0, b1, C, q->H, q->W, q->fuse); break;
    case PASS_GRAD_SUMS:
        images_grad_sums((double (*)[2][LANES])(q->part + (size_t)g * C * 2 * LANES), q->dout, q->xhat, b0, b1, C, S);
        break;
    case PASS_GRAD: images_grad(q->dinp, q->dout, q->xhat, q->rstd, q->mdy, q->mdyx, b0, b1, C, S); break;
    }
}

static void images_run_any(const void *q, int thread, int u) {
    (void)thread;
    images_run(q, u);
}

static void forward_channels_any(float *out, float *mean, float *rstd, float *run_mean, float *run_var,
                                 const float *inp, int B, int C, int H, int W, float eps, float momentum,
                                 const svdd__bn_fuse *fuse, int c0, int c1) {
    forward_channels(out, mean, rstd, run_mean, run_var, inp, B, C, H, W, eps, momentum, fuse, c0, c1);
}

static void backward_channels_any(float *dinp, const float *dout, const float *out, const float *rstd, int B, int C,
                                  int S, int c0, int c1) {
    backward_channels(dinp, dout, out, rstd, B, C, S, c0, c1);
}

#if BN_AVX2
#define TARGET_AVX2 __attribute__((target("avx2,fma")))
TARGET_AVX2 static void forward_channels_avx2(float *out, float *mean, float *rstd, float *run_mean, float *run_var,
                                              const float *inp, int B, int C, int H, int W, float eps, float momentum,
                                              const svdd__bn_fuse *fuse, int c0, int c1) {
    forward_channels(out, mean, rstd, run_mean, run_var, inp, B, C, H, W, eps, momentum, fuse, c0, c1);
}

TARGET_AVX2 static void backward_channels_avx2(float *dinp, const float *dout, const float *out, const float *rstd,
                                               int B, int C, int S, int c0, int c1) {
    backward_channels(dinp, dout, out, rstd, B, C, S, c0, c1);
}

TARGET_AVX2 static void images_run_avx2(const void *q, int thread, int u) {
    (void)thread;
    images_run(q, u);
}
#endif

typedef void (*forward_fn)(float *, float *, float *, float *, float *, const float *, int, int, int, int, float, float,
                           const svdd__bn_fuse *, int, int);
typedef void (*backward_fn)(float *, const float *, const float *, const float *, int, int, int, int, int);

typedef svdd__unit_fn images_fn;

/* The image split's function for a group: the AVX2 build when simd. */
static images_fn images_run_for(int simd) {
#if BN_AVX2
    if (simd) return images_run_avx2;
#else
    (void)simd;
#endif
    return images_run_any;
}

static int bn_groups(int B) { return (B + SVDD__BN_GROUP - 1) / SVDD__BN_GROUP; }

static void images_parallel(images_fn run, const images_pass *q) {
    svdd__run_units(q->U, q->T, NULL, run, q);
}

/* The lanes at offset off of each of the U groups' sums (stride doubles apart) added in group
 * order, then totalled. */
static double groups_total(const double *part, int U, size_t stride, size_t off) {
    double a[LANES] = {0};
    for (int g = 0; g < U; g++)
        for (int j = 0; j < LANES; j++) a[j] += part[(size_t)g * stride + off + j];
    return lanes_total(a);
}

/* The backward's need, the larger: two means and, for each group of images, two sums of LANES a
 * channel. */
size_t svdd__batchnorm_split_doubles(int C, int B) {
    const size_t groups = B > 0 ? ((size_t)B + SVDD__BN_GROUP - 1) / SVDD__BN_GROUP : 1;
    return (size_t)C * (2 + groups * 2 * LANES);
}

static void forward_images(float *out, float *mean, float *rstd, float *run_mean, float *run_var, const float *inp,
                           int B, int C, int H, int W, float eps, float momentum, const svdd__bn_fuse *fuse, int T,
                           images_fn run, double *scratch) {
    double *mu = scratch, *part = scratch + C;
    const size_t n = (size_t)B * H * W, stride = (size_t)C * LANES;
    const images_pass q0 = {.kind = PASS_SUMS, .B = B, .C = C, .H = H, .W = W, .T = T, .U = bn_groups(B), .x = inp,
                            .out = out, .mean = mean, .rstd = rstd, .mu = mu, .part = part, .fuse = fuse};
    images_pass q = q0;
    images_parallel(run, &q);
    for (int c = 0; c < C; c++) mu[c] = groups_total(part, q.U, stride, (size_t)c * LANES) / (double)n;
    q.kind = PASS_DEV_SUMS;
    images_parallel(run, &q);
    for (int c = 0; c < C; c++)
        channel_stats(mean, rstd, run_mean, run_var, c, mu[c], groups_total(part, q.U, stride, (size_t)c * LANES), n,
                      eps, momentum);
    q.kind = PASS_NORMALISE;
    images_parallel(run, &q);
}

/* The means over the batch of dy (mdy) and dy * xhat (mdyx), C each, from the groups' sums part
 * (groups, C, 2, LANES), added in group order. */
static void grad_means(double *mdy, double *mdyx, const double *part, int B, int C, int S) {
    const int U = bn_groups(B);
    const size_t stride = (size_t)C * 2 * LANES;
    const double n = (double)B * S;
    for (int c = 0; c < C; c++) {
        mdy[c] = groups_total(part, U, stride, (size_t)c * 2 * LANES) / n;
        mdyx[c] = groups_total(part, U, stride, (size_t)c * 2 * LANES + LANES) / n;
    }
}

static void backward_images(float *dinp, const float *dout, const float *out, const float *rstd, int B, int C, int S,
                            int T, images_fn run, double *scratch) {
    double *mdy = scratch, *mdyx = scratch + C, *part = scratch + 2 * (size_t)C;
    const images_pass q0 = {.kind = PASS_GRAD_SUMS, .B = B, .C = C, .H = S, .W = 1, .T = T, .U = bn_groups(B),
                            .dout = dout, .dinp = dinp, .xhat = out, .rstd = rstd, .mdy = mdy, .mdyx = mdyx,
                            .part = part};
    images_pass q = q0;
    images_parallel(run, &q);
    grad_means(mdy, mdyx, part, B, C, S);
    q.kind = PASS_GRAD;
    images_parallel(run, &q);
}

/* Threads for n floats: one share of the channels (or planes) each. */
static int bn_threads(size_t n, int threads) { return n < SVDD__PARALLEL_MIN_FLOATS || threads < 1 ? 1 : threads; }

static void forward_train(float *out, float *mean, float *rstd, float *run_mean, float *run_var, const float *inp, int B,
                          int C, int H, int W, float eps, float momentum, const svdd__bn_fuse *fuse, int threads,
                          int simd, double *split) {
    /* cppcheck-suppress unreadVariable ; read by the pragma, which cppcheck does not parse */
    const int T = bn_threads((size_t)B * C * H * W, split && threads > B ? B : threads);
    forward_fn run = forward_channels_any;
#if BN_AVX2
    if (simd) run = forward_channels_avx2;
#else
    (void)simd;
#endif
    if (T > 1 && split) {
        forward_images(out, mean, rstd, run_mean, run_var, inp, B, C, H, W, eps, momentum, fuse, T,
                       images_run_for(simd), split);
        return;
    }
#pragma omp parallel for num_threads(T) schedule(static, 1) if (T > 1)
    for (int t = 0; t < T; t++)
        run(out, mean, rstd, run_mean, run_var, inp, B, C, H, W, eps, momentum, fuse, C * t / T, C * (t + 1) / T);
}

static void backward_train(float *dinp, const float *dout, const float *out, const float *rstd, int B, int C, int S,
                           int threads, int simd, double *split) {
    /* cppcheck-suppress unreadVariable ; read by the pragma, which cppcheck does not parse */
    const int T = bn_threads((size_t)B * C * S, split && threads > B ? B : threads);
    backward_fn run = backward_channels_any;
#if BN_AVX2
    if (simd) run = backward_channels_avx2;
#else
    (void)simd;
#endif
    if (T > 1 && split) {
        backward_images(dinp, dout, out, rstd, B, C, S, T, images_run_for(simd), split);
        return;
    }
#pragma omp parallel for num_threads(T) schedule(static, 1) if (T > 1)
    for (int t = 0; t < T; t++) run(dinp, dout, out, rstd, B, C, S, C * t / T, C * (t + 1) / T);
}

/* ---- Sums taken group by group by the layers next to batch norm ----
 * On several threads a direct convolution hands each group of SVDD__BN_GROUP images to
 * svdd__batchnorm_group_stats as soon as it has written the group's maps, on the thread that
 * wrote them: the group's means and sums of squared deviations come from the cache, where the
 * passes above read the whole batch's maps twice more from memory (the first MNIST layer's are
 * 5 MB at batch 200) in two more parallel regions. The groups' figures are combined in group
 * order with the pairwise update of Chan, Golub and LeVeque (1979): mean = sum(n_g mean_g) / n,
 * M2 = sum(M2_g + n_g (mean_g - mean)^2), which keeps the two-pass accuracy (no difference of
 * large sums), and the same floats on any number of threads. */

/* The group's maps are in the cache, so these sums wait on their additions, not on memory: they
 * run in WIDE lanes, twice the passes' LANES, four AVX2 registers of doubles (in a one-thread
 * profile of the MNIST encoder, 5.6% of the samples against 6.4% with LANES). */
#define WIDE 16

ALWAYS_INLINE double wide_total(const double a[WIDE]) {
    double h[LANES];
    for (int j = 0; j < LANES; j++) h[j] = a[j] + a[j + LANES];
    return lanes_total(h);
}

/* The one pass left to batch norm when the layers next to it took its sums: the image split's,
 * on as many threads as its plain pass would take. */
static void groups_pass(images_pass *q, int threads, int simd) {
    q->T = bn_threads((size_t)q->B * q->C * q->H * q->W, threads > q->B ? q->B : threads);
    if (q->B > 0) images_parallel(images_run_for(simd), q);
}

/* Images in group g of a batch of B. */
static int group_size(int g, int B) { return svdd__group_end(g, SVDD__BN_GROUP, B) - g * SVDD__BN_GROUP; }

/* Group g's figures at stats + g * 2C: C means, then C sums of squared deviations. */
ALWAYS_INLINE void group_stats(double *st, const float *x, int b0, int b1, int C, int S) {
    const double n = (double)(b1 - b0) * S;
    for (int c = 0; c < C; c++) {
        double a[WIDE] = {0}, d[WIDE] = {0};
        for (int b = b0; b < b1; b++) plane_sums_in(a, WIDE, x + ((size_t)b * C + c) * S, S, 0, 0.0);
        const double mu = wide_total(a) / n;
        for (int b = b0; b < b1; b++) plane_sums_in(d, WIDE, x + ((size_t)b * C + c) * S, S, 1, mu);
        st[c] = mu;
        st[C + c] = wide_total(d);
    }
}

static void group_stats_any(double *st, const float *x, int b0, int b1, int C, int S) {
    group_stats(st, x, b0, b1, C, S);
}

#if BN_AVX2
TARGET_AVX2 static void group_stats_avx2(double *st, const float *x, int b0, int b1, int C, int S) {
    group_stats(st, x, b0, b1, C, S);
}
#endif

/* The forward's figures, 2 doubles a channel and group; the backward's sums, 2 * LANES. */
size_t svdd__batchnorm_group_doubles(int C, int B) {
    return (size_t)2 * LANES * C * (size_t)(B > 0 ? bn_groups(B) : 1);
}

void svdd__batchnorm_group_stats(const void *groups, int thread, int g) {
    const svdd__bn_groups *q = groups;
    (void)thread;
    int b0 = g * SVDD__BN_GROUP, b1 = svdd__group_end(g, SVDD__BN_GROUP, q->B), S = q->S;
    double *st = q->stats + (size_t)g * 2 * q->C;
    const float *x = q->x;
    if (q->lanes) {
        /* a channel of the group is one stretch of 8 S values: the group as one image of them */
        x += (size_t)b0 * q->C * S;
        b0 = 0, b1 = 1, S *= SVDD__BN_GROUP;
    }
#if BN_AVX2
    if (q->simd) {
        group_stats_avx2(st, x, b0, b1, q->C, S);
        return;
    }
#endif
    group_stats_any(st, x, b0, b1, q->C, S);
}

/* The batch's statistics from every group's figures, combined in group order. */
static void groups_statistics(float *mean, float *rstd, float *run_mean, float *run_var, int B, int C, int S, float eps,
                              float momentum, const double *stats) {
    const int U = bn_groups(B);
    const size_t n = (size_t)B * S;
    for (int c = 0; c < C; c++) {
        double sum = 0.0, ss = 0.0;
        for (int g = 0; g < U; g++) sum += (double)group_size(g, B) * S * stats[(size_t)g * 2 * C + c];
        const double mu = sum / (double)n;
        for (int g = 0; g < U; g++) {
            const double ng = (double)group_size(g, B) * S, d = stats[(size_t)g * 2 * C + c] - mu;
            ss += stats[(size_t)g * 2 * C + C + c] + ng * d * d;
        }
        channel_stats(mean, rstd, run_mean, run_var, c, mu, ss, n, eps, momentum);
    }
}

void svdd__batchnorm_forward_groups(float *out, float *mean, float *rstd, float *run_mean, float *run_var,
                                    const float *inp, int B, int C, int H, int W, float eps, float momentum, int act,
                                    float slope, float *pool, int threads, int simd, const double *stats) {
    const int U = bn_groups(B);
    groups_statistics(mean, rstd, run_mean, run_var, B, C, H * W, eps, momentum, stats);
    const svdd__bn_fuse fuse = {act, slope, pool, simd};
    images_pass q = {.kind = PASS_NORMALISE, .B = B, .C = C, .H = H, .W = W, .U = U, .x = inp, .out = out,
                     .mean = mean, .rstd = rstd, .fuse = &fuse};
    groups_pass(&q, threads, simd);
}

/* ---- Maps in the lanes (svdd__conv2d_forward_lanes) ----
 * A channel of a group is one stretch of eight images' values, (H, W, 8): normalised and through
 * the leaky ReLU as one plane of 8 H W values (the same operations on each as in normalise_plane),
 * then pooled a row of windows at a time, each window a maximum of four vectors, and the pooled
 * row turned into the eight images' own rows (a quarter of the maps: the only transpose of the
 * forward left to these layers). */
typedef struct lanes_pass {
    float *out, *pool;
    const float *x, *mean, *rstd;
    float slope;
    int C, H, W, simd;
} lanes_pass;

ALWAYS_INLINE void lanes_group(const lanes_pass *q, int g) {
    const int C = q->C, H = q->H, W = q->W, Wo = W / 2, Ho = H / 2;
    const size_t S = (size_t)H * W, Sp = (size_t)Ho * Wo;
    const svdd__bn_fuse fuse = {1, q->slope, NULL, q->simd};
    /* pooled rows, as many as fit, turned out of the lanes together: an image's rows are one
     * stretch, and the transposes take eight pixels at a time (a row of 7 or 14 alone went mostly
     * one float at a time) */
    float rows[4 * SVDD__LANES_POOL_MAX * SVDD__BN_GROUP];
    const int R = 4 * SVDD__LANES_POOL_MAX / Wo;
    for (int c = 0; c < C; c++) {
        const size_t off = ((size_t)g * C + c) * S * SVDD__BN_GROUP;
        float *y = q->out + off, *pool = q->pool + ((size_t)g * SVDD__BN_GROUP * C + c) * Sp;
        normalise_plane(y, q->x + off, q->mean[c], q->rstd[c], SVDD__BN_GROUP * H, W, &fuse, NULL);
        for (int oy0 = 0; oy0 < Ho; oy0 += R) {
            const int nr = Ho - oy0 < R ? Ho - oy0 : R;
            svdd__maxpool2d_lanes_post(rows, (size_t)Wo * SVDD__BN_GROUP, y + (size_t)2 * oy0 * W * SVDD__BN_GROUP,
                                       2 * nr, W, NULL, 1, q->simd);
            svdd__lanes_scatter(pool + (size_t)oy0 * Wo, (size_t)C * Sp, rows, nr * Wo, q->simd);
        }
    }
}

static void lanes_group_any(const void *q, int thread, int g) {
    (void)thread;
    lanes_group(q, g);
}

#if BN_AVX2
TARGET_AVX2 static void lanes_group_avx2(const void *q, int thread, int g) {
    (void)thread;
    lanes_group(q, g);
}
#endif

void svdd__batchnorm_lrelu_pool_lanes(float *out, float *mean, float *rstd, float *run_mean, float *run_var,
                                      const float *inp, int B, int C, int H, int W, float eps, float momentum,
                                      float slope, float *pool, int threads, const double *stats) {
    const int U = B / SVDD__BN_GROUP;
    if (U <= 0 || W / 2 > SVDD__LANES_POOL_MAX) return; /* not reached: the callers' conditions */
    groups_statistics(mean, rstd, run_mean, run_var, B, C, H * W, eps, momentum, stats);
    const int simd = svdd__cpu_avx2_fma();
    const lanes_pass q = {.out = out, .pool = pool, .x = inp, .mean = mean, .rstd = rstd, .slope = slope, .C = C,
                          .H = H, .W = W, .simd = simd};
    const int T = bn_threads((size_t)B * C * H * W, threads > U ? U : threads);
    svdd__unit_fn run = lanes_group_any;
#if BN_AVX2
    if (simd) run = lanes_group_avx2;
#endif
    svdd__run_units(U, T, NULL, run, &q);
}

/* The backward's sums the same way: the layer after batch norm (the pooling with the leaky ReLU's
 * restore) hands each group to svdd__batchnorm_group_grad_sums as it writes the group's output
 * gradient and puts back its normalised output. The sums are the image split's (images_run's
 * PASS_GRAD_SUMS, the same place for each group), so the gradient is the same floats as there. */
static void group_grad_sums_any(double *a, const float *dout, const float *out, int b0, int b1, int C, int S) {
    images_grad_sums((double (*)[2][LANES])a, dout, out, b0, b1, C, S);
}

#if BN_AVX2
TARGET_AVX2 static void group_grad_sums_avx2(double *a, const float *dout, const float *out, int b0, int b1, int C,
                                             int S) {
    images_grad_sums((double (*)[2][LANES])a, dout, out, b0, b1, C, S);
}
#endif

void svdd__batchnorm_group_grad_sums(const void *groups, int thread, int g) {
    const svdd__bn_groups *q = groups;
    (void)thread;
    const int b0 = g * SVDD__BN_GROUP, b1 = svdd__group_end(g, SVDD__BN_GROUP, q->B);
    double *a = q->stats + (size_t)g * q->C * 2 * LANES;
#if BN_AVX2
    if (q->simd) {
        group_grad_sums_avx2(a, q->dy, q->x, b0, b1, q->C, q->S);
        return;
    }
#endif
    group_grad_sums_any(a, q->dy, q->x, b0, b1, q->C, q->S);
}

void svdd__batchnorm_backward_groups(float *dinp, const float *dout, const float *out, const float *rstd, int B, int C,
                                     int S, int threads, int simd, const double *sums, double *means) {
    grad_means(means, means + C, sums, B, C, S);
    images_pass q = {.kind = PASS_GRAD, .B = B, .C = C, .H = S, .W = 1, .U = bn_groups(B), .dout = dout,
                     .dinp = dinp, .xhat = out, .rstd = rstd, .mdy = means, .mdyx = means + C};
    groups_pass(&q, threads, simd);
}

/* ---- The backward's sums one plane at a time (src/nn/block_backward.c) ----
 * The image split's loop, so the same floats for the same values. */
static void plane_grad_sums_any(double *a, const float *dy, const float *xh, int S) {
    plane_grad_sums((double (*)[LANES])a, dy, xh, S);
}
#if BN_AVX2
TARGET_AVX2 static void plane_grad_sums_avx2(double *a, const float *dy, const float *xh, int S) {
    plane_grad_sums((double (*)[LANES])a, dy, xh, S);
}
#endif

void svdd__batchnorm_plane_grad_sums(double *a, const float *dy, const float *xh, int S, int simd) {
#if BN_AVX2
    if (simd) {
        plane_grad_sums_avx2(a, dy, xh, S);
        return;
    }
#else
    (void)simd;
#endif
    plane_grad_sums_any(a, dy, xh, S);
}

void svdd__batchnorm_grad_means(float *mdy, float *mdyx, const double *sums, int B, int C, int S, double *scratch) {
    grad_means(scratch, scratch + C, sums, B, C, S);
    for (int c = 0; c < C; c++) mdy[c] = (float)scratch[c], mdyx[c] = (float)scratch[C + c];
}

static const svdd__bn_fuse NO_FUSE = {0, 1.0f, NULL, 0};

void svdd__batchnorm_forward_train(float *out, float *mean, float *rstd, float *run_mean,
                                   float *run_var, const float *inp, int B, int C, int S, float eps,
                                   float momentum, int threads) {
    forward_train(out, mean, rstd, run_mean, run_var, inp, B, C, S, 1, eps, momentum, &NO_FUSE, threads,
                  svdd__cpu_avx2_fma(), NULL);
}

void svdd__batchnorm_forward_train_as(float *out, float *mean, float *rstd, float *run_mean, float *run_var,
                                      const float *inp, int B, int C, int S, float eps, float momentum, int threads,
                                      int simd, double *split) {
    forward_train(out, mean, rstd, run_mean, run_var, inp, B, C, S, 1, eps, momentum, &NO_FUSE, threads, simd, split);
}

void svdd__batchnorm_lrelu_forward_train_as(float *out, float *mean, float *rstd, float *run_mean, float *run_var,
                                            const float *inp, int B, int C, int H, int W, float eps, float momentum,
                                            float slope, float *pool, int threads, int simd, double *split) {
    const svdd__bn_fuse fuse = {1, slope, pool, simd};
    forward_train(out, mean, rstd, run_mean, run_var, inp, B, C, H, W, eps, momentum, &fuse, threads, simd, split);
}

static float eval_rstd(float run_var, float eps) { return (float)(1.0 / sqrt((double)run_var + eps)); }

float svdd__batchnorm_eval_scale(float run_var, float eps) { return eval_rstd(run_var, eps); }

/* Planes p0..p1-1 of (B*C) in evaluation mode. */
ALWAYS_INLINE void eval_planes(float *out, const float *inp, const float *run_mean, const float *run_var, int C, int H,
                               int W, float eps, const svdd__bn_fuse *fuse, size_t p0, size_t p1) {
    const size_t S = (size_t)H * W, Sp = (size_t)(H / 2) * (W / 2);
    for (size_t p = p0; p < p1; p++) {
        const int c = (int)(p % (size_t)C);
        const float m = run_mean[c], r = eval_rstd(run_var[c], eps);
        normalise_plane(out + p * S, inp + p * S, m, r, H, W, fuse, fuse->pool ? fuse->pool + p * Sp : NULL);
    }
}

typedef void (*eval_fn)(float *, const float *, const float *, const float *, int, int, int, float,
                        const svdd__bn_fuse *, size_t, size_t);

static void eval_planes_any(float *out, const float *inp, const float *run_mean, const float *run_var, int C, int H,
                            int W, float eps, const svdd__bn_fuse *fuse, size_t p0, size_t p1) {
    eval_planes(out, inp, run_mean, run_var, C, H, W, eps, fuse, p0, p1);
}

#if BN_AVX2
TARGET_AVX2 static void eval_planes_avx2(float *out, const float *inp, const float *run_mean, const float *run_var,
                                         int C, int H, int W, float eps, const svdd__bn_fuse *fuse, size_t p0,
                                         size_t p1) {
    eval_planes(out, inp, run_mean, run_var, C, H, W, eps, fuse, p0, p1);
}
#endif

static void forward_eval(float *out, const float *inp, const float *run_mean, const float *run_var, int B, int C, int H,
                         int W, float eps, const svdd__bn_fuse *fuse, int threads, int simd) {
    const size_t planes = (size_t)B * C;
    /* cppcheck-suppress unreadVariable ; read by the pragma, which cppcheck does not parse */
    const int T = bn_threads(planes * H * W, threads);
    eval_fn run = eval_planes_any;
#if BN_AVX2
    if (simd) run = eval_planes_avx2;
#else
    (void)simd;
#endif
#pragma omp parallel for num_threads(T) schedule(static, 1) if (T > 1)
    for (int t = 0; t < T; t++)
        run(out, inp, run_mean, run_var, C, H, W, eps, fuse, planes * t / T, planes * (t + 1) / T);
}

void svdd__batchnorm_forward_eval(float *out, const float *inp, const float *run_mean,
                                  const float *run_var, int B, int C, int S, float eps) {
    forward_eval(out, inp, run_mean, run_var, B, C, S, 1, eps, &NO_FUSE, 1, svdd__cpu_avx2_fma());
}

void svdd__batchnorm_lrelu_forward_eval_as(float *out, const float *inp, const float *run_mean, const float *run_var,
                                           int B, int C, int H, int W, float eps, float slope, float *pool, int threads,
                                           int simd) {
    const svdd__bn_fuse fuse = {1, slope, pool, simd};
    forward_eval(out, inp, run_mean, run_var, B, C, H, W, eps, &fuse, threads, simd);
}

void svdd__batchnorm_backward_train(float *dinp, const float *dout, const float *out, const float *rstd,
                                    int B, int C, int S, int threads) {
    backward_train(dinp, dout, out, rstd, B, C, S, threads, svdd__cpu_avx2_fma(), NULL);
}

void svdd__batchnorm_backward_train_as(float *dinp, const float *dout, const float *out, const float *rstd, int B,
                                       int C, int S, int threads, int simd, double *split) {
    backward_train(dinp, dout, out, rstd, B, C, S, threads, simd, split);
}

void svdd__batchnorm_backward_eval(float *dinp, const float *dout, const float *run_var, int B, int C,
                                   int S, float eps) {
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++) {
            const float *dy = dout + ((size_t)b * C + c) * S;
            float *dx = dinp + ((size_t)b * C + c) * S;
            float r = eval_rstd(run_var[c], eps);
            for (int s = 0; s < S; s++) dx[s] = dy[s] * r;
        }
}
