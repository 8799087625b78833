/* Direct stride-1 convolution of one image, without im2col.
 *
 * For the small layers of the MNIST networks (1 to 8 channels, 5x5 kernels) im2col writes 25 to
 * 200 floats per output pixel that the product then reads once, and the products have 1 to 8
 * rows, too few for the BLAS kernels: the copies and the packing cost more than the arithmetic.
 * Here the image is copied once into a zero-padded buffer and every output row is computed in
 * registers: output pixels along x fill the SIMD lanes, each weight is broadcast, and a tile of
 * output rows x channels x 8-lane vectors is accumulated over all taps (ci, ky, kx) before it is
 * stored. The weight gradient keeps one 8-lane partial sum per weight, reduced once per chunk of
 * images. The AVX2+FMA code is chosen at run time; the scalar loops are the portable version and
 * compute the same sums. */
#include <string.h>

#include "kernels.h"

#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
#define SVDD_DIRECT_X86 1
#include <immintrin.h>
#define TARGET_AVX2 __attribute__((target("avx2,fma")))
#define INLINE_AVX2 static inline __attribute__((always_inline, target("avx2,fma")))
#endif

#define LANES SVDD__DIRECT_LANES

/* The padded copy: Hp = H + 2P rows of Wp floats, Wp wide enough for whole vectors of output
 * pixels plus the K - 1 extra columns the last vector's taps read. */
static int pad_width(int W, int K, int P) {
    const int Wo = W + 2 * P - K + 1, nv = (Wo + LANES - 1) / LANES, a = LANES * nv + K - 1;
    return a > W + 2 * P ? a : W + 2 * P;
}

size_t svdd__conv_direct_pad_floats(int C, int H, int W, int K, int P) {
    return (size_t)C * (size_t)(H + 2 * P) * (size_t)pad_width(W, K, P);
}

size_t svdd__conv_direct_wgrad_floats(int Cin, int H, int W, int Cout, int K, int P) {
    const int Ho = H + 2 * P - K + 1, Wo = W + 2 * P - K + 1;
    return svdd__conv_direct_pad_floats(Cin, H, W, K, P) + (size_t)Cout * Ho * LANES * ((Wo + LANES - 1) / LANES);
}

static void pad_image(float *dst, const float *src, int C, int H, int W, int P, int Hp, int Wp) {
    memset(dst, 0, sizeof(float) * (size_t)C * Hp * Wp);
    for (int c = 0; c < C; c++)
        for (int y = 0; y < H; y++)
            memcpy(dst + ((size_t)c * Hp + y + P) * Wp + P, src + ((size_t)c * H + y) * W, sizeof(float) * (size_t)W);
}

void svdd__conv_weight_flip(float *dst, const float *w, int Cout, int Cin, int K) {
    const int KK = K * K;
    for (int co = 0; co < Cout; co++)
        for (int ci = 0; ci < Cin; ci++)
            for (int k = 0; k < KK; k++) dst[((size_t)ci * Cout + co) * KK + (KK - 1 - k)] = w[((size_t)co * Cin + ci) * KK + k];
}

void svdd__conv_direct_wgrad_reduce(float *dw, const float *vacc, size_t n) {
    for (size_t i = 0; i < n; i++) {
        const float *v = vacc + i * LANES;
        /* pairwise, the same grouping as a vector reduction */
        dw[i] += ((v[0] + v[4]) + (v[2] + v[6])) + ((v[1] + v[5]) + (v[3] + v[7]));
    }
}

/* ---- the portable version ---- */

static void forward_scalar(float *out, const float *xp, const float *w, int Cin, int Hp, int Wp, int Cout, int K,
                           int Ho, int Wo) {
    const int KK = K * K;
    for (int co = 0; co < Cout; co++)
        for (int oy = 0; oy < Ho; oy++)
            for (int ox = 0; ox < Wo; ox++) {
                float s = 0.0f;
                for (int ci = 0; ci < Cin; ci++)
                    for (int ky = 0; ky < K; ky++) {
                        const float *row = xp + ((size_t)ci * Hp + oy + ky) * Wp + ox;
                        const float *wk = w + ((size_t)co * Cin + ci) * KK + ky * K;
                        for (int kx = 0; kx < K; kx++) s += wk[kx] * row[kx];
                    }
                out[((size_t)co * Ho + oy) * Wo + ox] = s;
            }
}

static void wgrad_scalar(float *vacc, const float *g, const float *xp, int Cin, int Hp, int Wp, int Cout, int K,
                         int Ho, int Wo) {
    const int KK = K * K;
    for (int co = 0; co < Cout; co++)
        for (int ci = 0; ci < Cin; ci++)
            for (int k = 0; k < KK; k++) {
                const int ky = k / K, kx = k % K;
                float s = 0.0f;
                for (int oy = 0; oy < Ho; oy++) {
                    const float *gr = g + ((size_t)co * Ho + oy) * Wo, *row = xp + ((size_t)ci * Hp + oy + ky) * Wp + kx;
                    for (int ox = 0; ox < Wo; ox++) s += gr[ox] * row[ox];
                }
                vacc[(((size_t)co * Cin + ci) * KK + k) * LANES] += s;
            }
}

/* ---- AVX2 + FMA ---- */

#if SVDD_DIRECT_X86
/* Lanes [0, n) of a vector: a window into 8 ones followed by 8 zeros. */
static const int LANE_MASK[2 * LANES] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

/* Loaded once into a register: otherwise GCC folds the load into each FMA that uses it, which
 * repeats it CB times, and the loads (a third of them crossing a cache line) become the limit. */
INLINE_AVX2 void in_register(__m256 *v) { __asm__("" : "+x"(*v)); }

INLINE_AVX2 __m256i lanes_below(int n) { return _mm256_loadu_si256((const __m256i *)(LANE_MASK + LANES - n)); }

typedef struct fwd_geom {
    const float *xp, *w; /* padded input (Cin, Hp, Wp); weights (Cout, Cin, K, K) */
    float *out;          /* (Cout, Ho, Wo) */
    int Cin, K, Hp, Wp, Ho, Wo;
} fwd_geom;

/* Output rows oy..oy+RB-1, channels co..co+CB-1, pixels x0..x0+8*NV-1 (the last vector masked
 * to Wo). RB*CB*NV accumulators, CB broadcast weights and one input vector stay within the 16
 * registers (see fwd_shape). */
INLINE_AVX2 void fwd_tile(const fwd_geom *g, const int RB, const int CB, const int NV, int oy, int co, int x0) {
    /* flat and no larger than fwd_max_cb allows, so that GCC keeps it in registers */
    __m256 acc[12];
#define ACC(r, c, v) acc[((r) * CB + (c)) * NV + (v)]
#pragma GCC unroll 12
    for (int i = 0; i < RB * CB * NV; i++) acc[i] = _mm256_setzero_ps();
    const size_t wstride = (size_t)g->Cin * g->K * g->K;
    for (int ci = 0; ci < g->Cin; ci++)
        for (int ky = 0; ky < g->K; ky++) {
            const float *row = g->xp + ((size_t)ci * g->Hp + oy + ky) * g->Wp + x0;
            const float *wk = g->w + (size_t)co * wstride + ((size_t)ci * g->K + ky) * g->K;
            for (int kx = 0; kx < g->K; kx++) {
                __m256 wv[7];
#pragma GCC unroll 12
                for (int c = 0; c < CB; c++) wv[c] = _mm256_broadcast_ss(wk + c * wstride + kx);
#pragma GCC unroll 12
                for (int r = 0; r < RB; r++)
#pragma GCC unroll 12
                    for (int v = 0; v < NV; v++) {
                        __m256 x = _mm256_loadu_ps(row + (size_t)r * g->Wp + LANES * v + kx);
                        in_register(&x);
#pragma GCC unroll 12
                        for (int c = 0; c < CB; c++) ACC(r, c, v) = _mm256_fmadd_ps(wv[c], x, ACC(r, c, v));
                    }
            }
        }
    const int tail = g->Wo - x0 - LANES * (NV - 1); /* valid lanes of the last vector, 1..8 */
    const __m256i m = lanes_below(tail < LANES ? tail : LANES);
#pragma GCC unroll 12
    for (int r = 0; r < RB; r++)
#pragma GCC unroll 12
        for (int c = 0; c < CB; c++) {
            float *dst = g->out + ((size_t)(co + c) * g->Ho + oy + r) * g->Wo + x0;
#pragma GCC unroll 12
            for (int v = 0; v < NV - 1; v++) _mm256_storeu_ps(dst + LANES * v, ACC(r, c, v));
            _mm256_maskstore_ps(dst + LANES * (NV - 1), m, ACC(r, c, NV - 1));
        }
#undef ACC
}

/* Largest channel block for RB rows of NV vectors: accumulators <= 12 and, with the CB weights
 * and one input vector, <= 16 registers. */
static int fwd_max_cb(int RB, int NV) {
    int cb = 7;
    while (cb > 1 && (RB * cb * NV > 12 || RB * cb * NV + cb + 1 > 16)) cb--;
    return cb;
}

/* One case per (RB, CB, NV) that fwd_max_cb allows, so that every tile is compiled with
 * constant sizes and its accumulators live in registers. */
#define UPTO1(M, a, b) M(a, 1, b)
#define UPTO2(M, a, b) UPTO1(M, a, b) M(a, 2, b)
#define UPTO3(M, a, b) UPTO2(M, a, b) M(a, 3, b)
#define UPTO4(M, a, b) UPTO3(M, a, b) M(a, 4, b)
#define UPTO5(M, a, b) UPTO4(M, a, b) M(a, 5, b)
#define UPTO6(M, a, b) UPTO5(M, a, b) M(a, 6, b)
#define UPTO7(M, a, b) UPTO6(M, a, b) M(a, 7, b)
#define FWD_CASE(RB, CB, NV)                                                                                           \
    case (RB) * 100 + (CB) * 10 + (NV): fwd_tile(g, RB, CB, NV, oy, co, x0); break;

TARGET_AVX2 static void fwd_tile_any(const fwd_geom *g, int RB, int CB, int NV, int oy, int co, int x0) {
    switch (RB * 100 + CB * 10 + NV) {
        UPTO7(FWD_CASE, 1, 1) UPTO5(FWD_CASE, 1, 2) UPTO3(FWD_CASE, 1, 3) UPTO3(FWD_CASE, 1, 4)
        UPTO5(FWD_CASE, 2, 1) UPTO3(FWD_CASE, 2, 2) UPTO2(FWD_CASE, 2, 3) UPTO1(FWD_CASE, 2, 4)
    default: break; /* not reached: fwd_max_cb gives exactly these */
    }
}

TARGET_AVX2 static void forward_avx2(float *out, const float *xp, const float *w, int Cin, int Hp, int Wp, int Cout,
                                     int K, int Ho, int Wo) {
    const fwd_geom g = {.xp = xp, .w = w, .out = out, .Cin = Cin, .K = K, .Hp = Hp, .Wp = Wp, .Ho = Ho, .Wo = Wo};
    for (int x0 = 0; x0 < Wo; x0 += 4 * LANES) {
        const int left = (Wo - x0 + LANES - 1) / LANES, NV = left < 4 ? left : 4;
        /* Two rows at once when the channels alone give too few independent accumulators to
         * hide the FMA latency (a single output channel, as in the decoder's last layer). */
        const int cb1 = fwd_max_cb(1, NV), RB = (Cout < cb1 ? Cout : cb1) * NV < 8 ? 2 : 1;
        const int CBmax = fwd_max_cb(RB, NV);
        for (int co = 0; co < Cout; co += CBmax) {
            const int CB = Cout - co < CBmax ? Cout - co : CBmax;
            int oy = 0;
            for (; oy + RB <= Ho; oy += RB) fwd_tile_any(&g, RB, CB, NV, oy, co, x0);
            for (; oy < Ho; oy++) fwd_tile_any(&g, 1, CB, NV, oy, co, x0);
        }
    }
}

typedef struct wgrad_geom {
    float *vacc;          /* (Cout, Cin, K, K) x 8 lanes */
    const float *gp, *xp; /* output gradient (Cout, Ho, Wg), zero beyond Wo; padded input (Cin, Hp, Wp) */
    int Cin, K, Hp, Wp, Ho, Wg;
} wgrad_geom;

/* Weights (co..co+CB-1, ci, ky, kx..kx+KB-1): CB*KB accumulators over every output pixel, the
 * output gradient loaded once per vector for all KB taps. */
INLINE_AVX2 void wgrad_tile(const wgrad_geom *g, const int CB, const int KB, int co, int ci, int ky, int kx) {
    __m256 acc[12]; /* flat, as in fwd_tile */
#define ACC(c, k) acc[(c) * KB + (k)]
#pragma GCC unroll 12
    for (int i = 0; i < CB * KB; i++) acc[i] = _mm256_setzero_ps();
    const size_t S = (size_t)g->Ho * g->Wg;
    for (int oy = 0; oy < g->Ho; oy++) {
        const float *row = g->xp + ((size_t)ci * g->Hp + oy + ky) * g->Wp + kx;
        const float *gy = g->gp + (size_t)co * S + (size_t)oy * g->Wg;
        for (int x = 0; x < g->Wg; x += LANES) {
            __m256 gv[7];
#pragma GCC unroll 12
            for (int c = 0; c < CB; c++) gv[c] = _mm256_loadu_ps(gy + c * S + x);
#pragma GCC unroll 12
            for (int k = 0; k < KB; k++) {
                __m256 xv = _mm256_loadu_ps(row + x + k);
                in_register(&xv);
#pragma GCC unroll 12
                for (int c = 0; c < CB; c++) ACC(c, k) = _mm256_fmadd_ps(gv[c], xv, ACC(c, k));
            }
        }
    }
    const int KK = g->K * g->K;
#pragma GCC unroll 12
    for (int c = 0; c < CB; c++)
#pragma GCC unroll 12
        for (int k = 0; k < KB; k++) {
            float *p = g->vacc + (((size_t)(co + c) * g->Cin + ci) * KK + ky * g->K + kx + k) * LANES;
            _mm256_storeu_ps(p, _mm256_add_ps(_mm256_loadu_ps(p), ACC(c, k)));
        }
#undef ACC
}

#define WG_CASE(unused, CB, KB)                                                                                        \
    case (CB) * 10 + (KB): wgrad_tile(g, CB, KB, co, ci, ky, kx); break;

TARGET_AVX2 static void wgrad_tile_any(const wgrad_geom *g, int CB, int KB, int co, int ci, int ky, int kx) {
    switch (CB * 10 + KB) {
        UPTO7(WG_CASE, 0, 1) UPTO5(WG_CASE, 0, 2) UPTO3(WG_CASE, 0, 3) UPTO3(WG_CASE, 0, 4) UPTO2(WG_CASE, 0, 5)
    default: break; /* not reached: svdd__wgrad_max_cb gives exactly these */
    }
}

TARGET_AVX2 static void wgrad_avx2(float *vacc, const float *gp, const float *xp, int Cin, int Hp, int Wp, int Cout,
                                   int K, int Ho, int Wg) {
    const wgrad_geom g = {.vacc = vacc, .gp = gp, .xp = xp, .Cin = Cin, .K = K, .Hp = Hp, .Wp = Wp, .Ho = Ho, .Wg = Wg};
    for (int ci = 0; ci < Cin; ci++)
        for (int ky = 0; ky < K; ky++)
            for (int kx = 0; kx < K; kx += 5) {
                const int KB = K - kx < 5 ? K - kx : 5, CBmax = svdd__wgrad_max_cb(KB);
                for (int co = 0; co < Cout; co += CBmax)
                    wgrad_tile_any(&g, Cout - co < CBmax ? Cout - co : CBmax, KB, co, ci, ky, kx);
            }
}
#endif

int svdd__conv_direct_pad_width(int W, int K, int P) { return pad_width(W, K, P); }

void svdd__conv_direct_forward_padded(float *out, const float *xp, const float *w, int Cin, int H, int W, int Cout,
                                      int K, int P, int simd) {
    const int Hp = H + 2 * P, Wp = pad_width(W, K, P), Ho = Hp - K + 1, Wo = W + 2 * P - K + 1;
#if SVDD_DIRECT_X86
    if (simd) {
        forward_avx2(out, xp, w, Cin, Hp, Wp, Cout, K, Ho, Wo);
        return;
    }
#else
    (void)simd;
#endif
    forward_scalar(out, xp, w, Cin, Hp, Wp, Cout, K, Ho, Wo);
}

void svdd__conv_direct_forward(float *out, const float *inp, const float *w, int Cin, int H, int W, int Cout, int K,
                               int P, float *pad, int simd) {
    pad_image(pad, inp, Cin, H, W, P, H + 2 * P, pad_width(W, K, P));
    svdd__conv_direct_forward_padded(out, pad, w, Cin, H, W, Cout, K, P, simd);
}

void svdd__conv_direct_wgrad(float *vacc, const float *g, const float *inp, int Cin, int H, int W, int Cout, int K,
                             int P, float *pad, int simd) {
    const int Hp = H + 2 * P, Wp = pad_width(W, K, P), Ho = Hp - K + 1, Wo = W + 2 * P - K + 1;
    pad_image(pad, inp, Cin, H, W, P, Hp, Wp);
#if SVDD_DIRECT_X86
    if (simd) {
        /* the output gradient in whole vectors, zero beyond Wo, so that no load needs a mask */
        const int Wg = LANES * ((Wo + LANES - 1) / LANES);
        float *gp = pad + (size_t)Cin * Hp * Wp;
        pad_image(gp, g, Cout, Ho, Wo, 0, Ho, Wg);
        wgrad_avx2(vacc, gp, pad, Cin, Hp, Wp, Cout, K, Ho, Wg);
        return;
    }
#else
    (void)simd;
#endif
    wgrad_scalar(vacc, g, pad, Cin, Hp, Wp, Cout, K, Ho, Wo);
}

int svdd__conv_direct_wanted(svdd__conv_path path, int Cin, int Cout, int K, int P, int *simd) {
    *simd = 0;
    if ((path != SVDD__CONV_AUTO && path != SVDD__CONV_DIRECT && path != SVDD__CONV_DIRECT_SCALAR) || P < 0 ||
        P > K - 1)
        return 0;
    if (path == SVDD__CONV_DIRECT_SCALAR) return 1;
    *simd = svdd__cpu_avx2_fma();
    if (path == SVDD__CONV_DIRECT) return 1;
    return *simd && Cin * Cout <= 64;
}

void svdd__conv_direct_add_groups(float *dw, const float *group_dw, int groups, size_t nw) {
    for (int gi = 0; gi < groups; gi++)
        for (size_t i = 0; i < nw; i++) dw[i] += group_dw[(size_t)gi * nw + i];
}
