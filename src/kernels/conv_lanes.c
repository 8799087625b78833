/* Direct convolution of eight images at once, one image per SIMD lane: scoring's forward
 * (src/nn/infer.c), and the direct path's forward and both gradients in training on whole
 * groups of eight (src/nn/conv2d.c, conv_transpose2d.c).
 *
 * The per-image kernels (conv_direct.c) put output pixels along x in the lanes: a 28-pixel row
 * fills 4 vectors of 8 with 4 lanes idle, a 14-pixel row 2 with 2 idle, and a third of their
 * loads cross a cache line. Here every float of the maps is a vector of 8 images, (C, H, W, 8):
 * no lane is ever idle, every load is one whole vector (aligned, as the callers' scratch is),
 * and 2x2 max pooling is a maximum of four vectors. Each lane sums the same products in the same
 * order as the per-image AVX2 kernel (one fused multiply-add per tap, over ci, ky, kx), so the
 * two give the same floats, and the portable version (fmaf, one lane at a time) too.
 *
 * A tile holds NX output pixels of one row for CB channels in registers; per tap it broadcasts
 * CB weights and loads NX input vectors (shifted by kx). */
#include <math.h>

#include "kernels.h"

#define L8 SVDD__LANES8

#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
#define LANES_X86 1
#include <immintrin.h>
#define TARGET_AVX2 __attribute__((target("avx2,fma")))
#define INLINE_AVX2 static inline __attribute__((always_inline, target("avx2,fma")))
#endif

typedef struct lanes_geom {
    const float *xp, *w; /* padded input (Cin, Hp, Wp, 8); weights (Cout, Cin, K, K) */
    float *out;          /* (Cout, Ho, Wo, 8) */
    int Cin, K, Hp, Wp, Ho, Wo;
} lanes_geom;

static void forward_portable(const lanes_geom *g, int Cout) {
    const int K = g->K, KK = K * K;
    for (int co = 0; co < Cout; co++)
        for (int oy = 0; oy < g->Ho; oy++)
            for (int ox = 0; ox < g->Wo; ox++)
                for (int l = 0; l < L8; l++) {
                    float s = 0.0f;
                    for (int ci = 0; ci < g->Cin; ci++)
                        for (int ky = 0; ky < K; ky++)
                            for (int kx = 0; kx < K; kx++)
                                s = fmaf(g->w[((size_t)co * g->Cin + ci) * KK + ky * K + kx],
                                         g->xp[(((size_t)ci * g->Hp + oy + ky) * g->Wp + ox + kx) * L8 + l], s);
                    g->out[(((size_t)co * g->Ho + oy) * g->Wo + ox) * L8 + l] = s;
                }
}

#if LANES_X86
INLINE_AVX2 void lanes_tile(const lanes_geom *g, const int NX, const int CB, int oy, int ox0, int co) {
    __m256 acc[12]; /* flat and small, so that GCC keeps it in registers */
#define ACC(j, c) acc[(j) * CB + (c)]
#pragma GCC unroll 12
    for (int i = 0; i < NX * CB; i++) acc[i] = _mm256_setzero_ps();
    const size_t wstride = (size_t)g->Cin * g->K * g->K;
    for (int ci = 0; ci < g->Cin; ci++)
        for (int ky = 0; ky < g->K; ky++) {
            const float *row = g->xp + (((size_t)ci * g->Hp + oy + ky) * g->Wp + ox0) * L8;
            const float *wk = g->w + (size_t)co * wstride + ((size_t)ci * g->K + ky) * g->K;
            for (int kx = 0; kx < g->K; kx++) {
                __m256 wv[3];
#pragma GCC unroll 3
                for (int c = 0; c < CB; c++) wv[c] = _mm256_broadcast_ss(wk + c * wstride + kx);
#pragma GCC unroll 12
                for (int j = 0; j < NX; j++) {
                    __m256 x = _mm256_loadu_ps(row + (size_t)(j + kx) * L8);
                    /* into a register once: GCC would fold the load into each of the CB FMAs */
                    __asm__("" : "+x"(x));
#pragma GCC unroll 3
                    for (int c = 0; c < CB; c++) ACC(j, c) = _mm256_fmadd_ps(wv[c], x, ACC(j, c));
                }
            }
        }
#pragma GCC unroll 3
    for (int c = 0; c < CB; c++)
#pragma GCC unroll 6
        for (int j = 0; j < NX; j++)
            _mm256_storeu_ps(g->out + (((size_t)(co + c) * g->Ho + oy) * g->Wo + ox0 + j) * L8, ACC(j, c));
#undef ACC
}

/* One case per tile shape lanes_max_nx allows, compiled with constant sizes. */
#define LT_CASE(NX, CB)                                                                                                \
    case (NX) * 10 + (CB): lanes_tile(g, NX, CB, oy, ox0, co); break;

TARGET_AVX2 static void lanes_tile_any(const lanes_geom *g, int NX, int CB, int oy, int ox0, int co) {
    switch (NX * 10 + CB) {
        LT_CASE(1, 1) LT_CASE(2, 1) LT_CASE(3, 1) LT_CASE(4, 1) LT_CASE(5, 1) LT_CASE(6, 1)
        LT_CASE(1, 2) LT_CASE(2, 2) LT_CASE(3, 2) LT_CASE(4, 2) LT_CASE(5, 2) LT_CASE(6, 2)
        LT_CASE(1, 3) LT_CASE(2, 3) LT_CASE(3, 3) LT_CASE(4, 3)
    default: break; /* not reached: forward_avx2 gives only these */
    }
}

/* Largest row tile for CB channels: NX*CB <= 12 accumulators and, with CB weights and one input,
 * <= 16 registers; at most 6. */
static int lanes_max_nx(int CB) {
    int nx = 6;
    while (nx > 1 && (nx * CB > 12 || nx * CB + CB + 1 > 16)) nx--;
    return nx;
}

TARGET_AVX2 static void forward_avx2(const lanes_geom *g, int Cout) {
    /* blocks of at most 3 channels, as even as possible (8 channels: 2 + 3 + 3; 4: 2 + 2) */
    const int nblk = (Cout + 2) / 3;
    for (int b = 0; b < nblk; b++) {
        const int co = Cout * b / nblk, CB = Cout * (b + 1) / nblk - co, NXmax = lanes_max_nx(CB);
        /* a row in tiles as even as possible (14 pixels by 6: 5 + 5 + 4, not 6 + 6 + 2): a tile
         * of few accumulators waits on the latency of its multiply-adds */
        const int nt = (g->Wo + NXmax - 1) / NXmax;
        for (int oy = 0; oy < g->Ho; oy++)
            for (int t = 0; t < nt; t++) {
                const int ox0 = g->Wo * t / nt;
                lanes_tile_any(g, g->Wo * (t + 1) / nt - ox0, CB, oy, ox0, co);
            }
    }
}
#endif

/* ---- the weight gradient ----
 * vacc (Cout, Cin, K, K, 8) += per lane the sum over the output pixels, in row order, of the
 * output gradient times the input pixel each weight saw; g8 (Cout, Ho, Wo, 8) with rows `grow`
 * and planes `gplane` floats apart (it may sit inside a padded buffer), xp8 as for the forward. */

typedef struct wg_geom {
    float *vacc;
    const float *g8, *xp8;
    size_t grow, gplane;
    int Cin, K, Hp, Wp, Ho, Wo;
} wg_geom;

static void wgrad_portable(const wg_geom *g, int Cout) {
    const int K = g->K, KK = K * K;
    for (int co = 0; co < Cout; co++)
        for (int ci = 0; ci < g->Cin; ci++)
            for (int k = 0; k < KK; k++)
                for (int l = 0; l < L8; l++) {
                    float s = 0.0f;
                    for (int oy = 0; oy < g->Ho; oy++)
                        for (int ox = 0; ox < g->Wo; ox++)
                            s = fmaf(g->g8[co * g->gplane + oy * g->grow + (size_t)ox * L8 + l],
                                     g->xp8[(((size_t)ci * g->Hp + oy + k / K) * g->Wp + ox + k % K) * L8 + l], s);
                    g->vacc[(((size_t)co * g->Cin + ci) * KK + k) * L8 + l] += s;
                }
}

#if LANES_X86
/* Weights (co..co+CB-1, ci, ky, kx..kx+KB-1): CB*KB accumulators over every output pixel. The
 * tile of conv_direct.c's wgrad_tile, over this layout: each keeps its addressing constant so
 * that its loads fold into plain offsets. */
INLINE_AVX2 void wg_tile(const wg_geom *g, const int CB, const int KB, int co, int ci, int ky, int kx) {
    __m256 acc[12];
#define ACC(c, k) acc[(c) * KB + (k)]
#pragma GCC unroll 12
    for (int i = 0; i < CB * KB; i++) acc[i] = _mm256_setzero_ps();
    for (int oy = 0; oy < g->Ho; oy++) {
        const float *xr = g->xp8 + (((size_t)ci * g->Hp + oy + ky) * g->Wp + kx) * L8;
        const float *gr = g->g8 + co * g->gplane + oy * g->grow;
        for (int ox = 0; ox < g->Wo; ox++) {
            /* hidden from GCC, which would otherwise keep one pixel's input vectors for the next
             * ones (-O3's predictive commoning, unrolling by three), run out of registers and
             * spill accumulators to the stack */
            const float *xo = xr + (size_t)ox * L8;
            __asm__("" : "+r"(xo));
            __m256 gv[7];
#pragma GCC unroll 7
            for (int c = 0; c < CB; c++) gv[c] = _mm256_loadu_ps(gr + c * g->gplane + (size_t)ox * L8);
#pragma GCC unroll 5
            for (int k = 0; k < KB; k++) {
                __m256 x = _mm256_loadu_ps(xo + (size_t)k * L8);
                __asm__("" : "+x"(x)); /* once, not folded into each FMA */
#pragma GCC unroll 7
                for (int c = 0; c < CB; c++) ACC(c, k) = _mm256_fmadd_ps(gv[c], x, ACC(c, k));
            }
        }
    }
    const int KK = g->K * g->K;
#pragma GCC unroll 7
    for (int c = 0; c < CB; c++)
#pragma GCC unroll 5
        for (int k = 0; k < KB; k++) {
            float *p = g->vacc + (((size_t)(co + c) * g->Cin + ci) * KK + ky * g->K + kx + k) * L8;
            _mm256_storeu_ps(p, _mm256_add_ps(_mm256_loadu_ps(p), ACC(c, k)));
        }
#undef ACC
}

/* One case per shape svdd__wgrad_max_cb allows. */
#define WG_CASE(CB, KB)                                                                                                \
    case (CB) * 10 + (KB): wg_tile(g, CB, KB, co, ci, ky, kx); break;

TARGET_AVX2 static void wg_tile_any(const wg_geom *g, int CB, int KB, int co, int ci, int ky, int kx) {
    switch (CB * 10 + KB) {
        WG_CASE(1, 1) WG_CASE(2, 1) WG_CASE(3, 1) WG_CASE(4, 1) WG_CASE(5, 1) WG_CASE(6, 1) WG_CASE(7, 1)
        WG_CASE(1, 2) WG_CASE(2, 2) WG_CASE(3, 2) WG_CASE(4, 2) WG_CASE(5, 2)
        WG_CASE(1, 3) WG_CASE(2, 3) WG_CASE(3, 3)
        WG_CASE(1, 4) WG_CASE(2, 4) WG_CASE(3, 4)
        WG_CASE(1, 5) WG_CASE(2, 5)
    default: break; /* not reached */
    }
}

TARGET_AVX2 static void wgrad_avx2(const wg_geom *g, int Cout) {
    for (int ci = 0; ci < g->Cin; ci++)
        for (int ky = 0; ky < g->K; ky++)
            for (int kx = 0; kx < g->K; kx += 5) {
                const int KB = g->K - kx < 5 ? g->K - kx : 5, CBmax = svdd__wgrad_max_cb(KB);
                /* channel blocks as even as possible (8 channels by 2: 2 + 2 + 2 + 2) */
                const int nblk = (Cout + CBmax - 1) / CBmax;
                for (int b = 0; b < nblk; b++) {
                    const int co = Cout * b / nblk;
                    wg_tile_any(g, Cout * (b + 1) / nblk - co, KB, co, ci, ky, kx);
                }
            }
}
#endif

void svdd__conv_lanes_wgrad(float *vacc, const float *g8, size_t grow, size_t gplane, const float *xp8, int Cin, int H,
                            int W, int Cout, int K, int P, int simd) {
    const int Hp = H + 2 * P, Wp = W + 2 * P;
    const wg_geom g = {.vacc = vacc, .g8 = g8, .xp8 = xp8, .grow = grow, .gplane = gplane, .Cin = Cin, .K = K,
                       .Hp = Hp, .Wp = Wp, .Ho = Hp - K + 1, .Wo = Wp - K + 1};
#if LANES_X86
    if (simd) {
        wgrad_avx2(&g, Cout);
        return;
    }
#else
    (void)simd;
#endif
    wgrad_portable(&g, Cout);
}

/* ---- into and out of the lanes ---- */

#if LANES_X86
/* r[l] = eight floats of image l in, pixel q's eight images out. */
INLINE_AVX2 void transpose8(__m256 r[8]) {
    const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    const __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    const __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    const __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    const __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    r[0] = _mm256_permute2f128_ps(s0, s4, 0x20), r[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
    r[2] = _mm256_permute2f128_ps(s2, s6, 0x20), r[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
    r[4] = _mm256_permute2f128_ps(s0, s4, 0x31), r[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
    r[6] = _mm256_permute2f128_ps(s2, s6, 0x31), r[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}

/* Eight images' next eight pixels q.. into the lanes, then the row's last, partial vector (the
 * MNIST rows of 28 and 14 pixels end in 4 and 6): loaded under a mask of its first m lanes
 * instead of a float at a time. (Only loads: with every store of the way out under a mask too,
 * that took 13.5% of an MNIST step instead of about 4% on the Zen 4 machine.) */
INLINE_AVX2 void gather8(float *dst, const float *src, size_t stride, int q, int m) {
    __m256 r[8];
    if (m == L8) {
        for (int l = 0; l < L8; l++) r[l] = _mm256_loadu_ps(src + (size_t)l * stride + q);
    } else {
        const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(m), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        for (int l = 0; l < L8; l++) r[l] = _mm256_maskload_ps(src + (size_t)l * stride + q, mask);
    }
    transpose8(r);
    for (int j = 0; j < m; j++) _mm256_storeu_ps(dst + (size_t)(q + j) * L8, r[j]);
}

TARGET_AVX2 static void gather_avx2(float *dst, const float *src, size_t stride, int n) {
    int q = 0;
    for (; q + L8 <= n; q += L8) gather8(dst, src, stride, q, L8);
    if (q < n) gather8(dst, src, stride, q, n - q);
}

TARGET_AVX2 static int scatter_avx2(float *dst, size_t stride, const float *src, int n) {
    int q = 0;
    for (; q + L8 <= n; q += L8) {
        __m256 r[8];
        for (int j = 0; j < L8; j++) r[j] = _mm256_loadu_ps(src + (size_t)(q + j) * L8);
        transpose8(r); /* its own inverse */
        for (int l = 0; l < L8; l++) _mm256_storeu_ps(dst + (size_t)l * stride + q, r[l]);
    }
    return q;
}
#endif

void svdd__lanes_gather(float *dst, const float *src, size_t stride, int n, int simd) {
#if LANES_X86
    if (simd) {
        gather_avx2(dst, src, stride, n);
        return;
    }
#else
    (void)simd;
#endif
    for (int q = 0; q < n; q++)
        for (int l = 0; l < L8; l++) dst[(size_t)q * L8 + l] = src[(size_t)l * stride + q];
}

void svdd__lanes_scatter(float *dst, size_t stride, const float *src, int n, int simd) {
    int q = 0;
#if LANES_X86
    if (simd) q = scatter_avx2(dst, stride, src, n);
#else
    (void)simd;
#endif
    for (; q < n; q++)
        for (int l = 0; l < L8; l++) dst[(size_t)l * stride + q] = src[(size_t)q * L8 + l];
}

void svdd__lanes_to_images(float *dst, const float *x, int B, size_t n, int simd) {
    for (int b0 = 0; b0 + L8 <= B; b0 += L8)
        for (size_t q = 0; q < n; q += 1024) {
            /* (in pieces: svdd__lanes_scatter counts in int) */
            const size_t m = n - q < 1024 ? n - q : 1024;
            svdd__lanes_scatter(dst + (size_t)b0 * n + q, n, x + (size_t)b0 * n + q * L8, (int)m, simd);
        }
}

void svdd__lanes_gather_images(float *xp8, const float *inp, size_t in_stride, int C, int H, int W, int P, int simd) {
    const int Hp = H + 2 * P, Wp = W + 2 * P;
    for (int c = 0; c < C; c++)
        for (int y = 0; y < H; y++)
            svdd__lanes_gather(xp8 + (((size_t)c * Hp + y + P) * Wp + P) * L8, inp + ((size_t)c * H + y) * W, in_stride,
                               W, simd);
}

void svdd__lanes_gather_images_up2(float *xp8, const float *inp, size_t in_stride, int C, int h, int w, int P,
                                   int simd) {
    const int Wp = 2 * w + 2 * P;
    float row[64 * L8]; /* up to 64 pixels of a small row in the lanes, then copied to their 2x2 blocks */
    for (int c = 0; c < C; c++)
        for (int y = 0; y < h; y++)
            for (int x0 = 0; x0 < w; x0 += 64) {
                const int n = w - x0 < 64 ? w - x0 : 64;
                svdd__lanes_gather(row, inp + ((size_t)c * h + y) * w + x0, in_stride, n, simd);
                float *r0 = xp8 + (((size_t)c * (2 * h + 2 * P) + 2 * y + P) * Wp + P + 2 * x0) * L8;
                float *r1 = r0 + (size_t)Wp * L8;
                for (int q = 0; q < n; q++)
                    for (int l = 0; l < L8; l++)
                        r0[2 * q * L8 + l] = r0[(2 * q + 1) * L8 + l] = r1[2 * q * L8 + l] = r1[(2 * q + 1) * L8 + l] =
                            row[q * L8 + l];
            }
}

void svdd__lanes_scatter_down2(float *out, size_t out_stride, const float *d8, int C, int h, int w, int simd) {
    const int W = 2 * w;
    float row[64 * L8];
    for (int c = 0; c < C; c++)
        for (int y = 0; y < h; y++)
            for (int x0 = 0; x0 < w; x0 += 64) {
                const int n = w - x0 < 64 ? w - x0 : 64;
                const float *r0 = d8 + (((size_t)c * 2 * h + 2 * y) * W + 2 * x0) * L8, *r1 = r0 + (size_t)W * L8;
                /* svdd__cnhw_to_nchw_down2's order: the same floats */
                for (int q = 0; q < n; q++)
                    for (int l = 0; l < L8; l++)
                        row[q * L8 + l] = (r0[2 * q * L8 + l] + r0[(2 * q + 1) * L8 + l]) +
                                          (r1[2 * q * L8 + l] + r1[(2 * q + 1) * L8 + l]);
                svdd__lanes_scatter(out + ((size_t)c * h + y) * w + x0, out_stride, row, n, simd);
            }
}

void svdd__conv_lanes_images(float *out, size_t out_stride, const float *inp, size_t in_stride, const float *w, int Cin,
                             int H, int W, int Cout, int K, int P, int up, float *xp8, float *o8) {
    const int Ho = H + 2 * P - K + 1, Wo = W + 2 * P - K + 1;
    if (up > 1) svdd__lanes_gather_images_up2(xp8, inp, in_stride, Cin, H / 2, W / 2, P, 1);
    else svdd__lanes_gather_images(xp8, inp, in_stride, Cin, H, W, P, 1);
    svdd__conv_lanes_forward(o8, xp8, w, Cin, H, W, Cout, K, P, 1);
    svdd__lanes_scatter(out, out_stride, o8, Cout * Ho * Wo, 1);
}

void svdd__conv_lanes_forward(float *out, const float *xp, const float *w, int Cin, int H, int W, int Cout, int K,
                              int P, int simd) {
    const int Hp = H + 2 * P, Wp = W + 2 * P;
    const lanes_geom g = {.xp = xp, .w = w, .out = out, .Cin = Cin, .K = K, .Hp = Hp, .Wp = Wp,
                          .Ho = Hp - K + 1, .Wo = Wp - K + 1};
#if LANES_X86
    if (simd) {
        forward_avx2(&g, Cout);
        return;
    }
#else
    (void)simd;
#endif
    forward_portable(&g, Cout);
}
