/* maxpool2d: torch.nn.MaxPool2d(2, 2). inp (B,C,H,W), out (B,C,H/2,W/2), odd edges dropped.
 *
 * Written branch-free: a branchy argmax over random data mispredicts half the time, and pooling
 * was a fifth of a training step. Eight windows are handled at once with AVX2 when the CPU has
 * it (chosen at run time), four with SSE2 (every x86-64 CPU has it); the scalar path does the rest
 * and other machines. The winner of a window is the first maximum in row-major order, NaN
 * winning, as in PyTorch's CPU kernel. */
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#define SVDD_POOL_SSE2 1
#if defined(__GNUC__)
#include <immintrin.h>
#define SVDD_POOL_AVX2 1
#define TARGET_AVX2 __attribute__((target("avx2")))
#define INLINE_AVX2 static inline __attribute__((always_inline, target("avx2")))
#endif
#endif

#include "layers.h"

/* v takes over from the current maximum m: v > m, or v is NaN and m is not */
#define TAKES(v, m) (((v) > (m)) | (((v) != (v)) & ((m) == (m))))

#if SVDD_POOL_SSE2
static inline __m128 takes4(__m128 v, __m128 m) {
    return _mm_or_ps(_mm_cmpgt_ps(v, m), _mm_and_ps(_mm_cmpunord_ps(v, v), _mm_cmpord_ps(m, m)));
}
static inline __m128 sel4(__m128 mask, __m128 a, __m128 b) { return _mm_or_ps(_mm_and_ps(mask, a), _mm_andnot_ps(mask, b)); }

/* Windows ox..ox+3 of a row pair, one per lane: a b over c d. */
static inline void windows4(const float *r0, const float *r1, int ox, __m128 *a, __m128 *b, __m128 *c, __m128 *d) {
    __m128 p0 = _mm_loadu_ps(r0 + 2 * ox), p1 = _mm_loadu_ps(r0 + 2 * ox + 4);
    __m128 q0 = _mm_loadu_ps(r1 + 2 * ox), q1 = _mm_loadu_ps(r1 + 2 * ox + 4);
    *a = _mm_shuffle_ps(p0, p1, 0x88), *b = _mm_shuffle_ps(p0, p1, 0xDD);
    *c = _mm_shuffle_ps(q0, q1, 0x88), *d = _mm_shuffle_ps(q0, q1, 0xDD);
}
#endif

/* The window r0[0] r0[step] over r1[0] r1[step], scalar: the index (0..3, row-major) of its
 * winner; *m gets the winner's value. */
static inline int winner_at(const float *r0, const float *r1, size_t step, float *m) {
    float a = r0[0], b = r0[step], c = r1[0], d = r1[step];
    int k = 0;
    *m = a;
    if (TAKES(b, *m)) *m = b, k = 1;
    if (TAKES(c, *m)) *m = c, k = 2;
    if (TAKES(d, *m)) *m = d, k = 3;
    return k;
}

/* Window ox of a row pair. */
static inline int winner(const float *r0, const float *r1, int ox, float *m) {
    return winner_at(r0 + 2 * ox, r1 + 2 * ox, 1, m);
}

/* What a pooled value becomes before it is stored (svdd__maxpool2d_row_post), as batch norm in
 * evaluation mode and the leaky ReLU compute it: t = (v - m) * r, then t > 0 ? t : t * slope. */
static inline float post1(float v, const svdd__pool_post *p) {
    if (!p) return v;
    const float t = (v - p->m) * p->r;
    return !p->act || t > 0.0f ? t : t * p->slope;
}

#if SVDD_POOL_SSE2
static inline __m128 post4(__m128 v, const svdd__pool_post *p) {
    if (!p) return v;
    const __m128 t = _mm_mul_ps(_mm_sub_ps(v, _mm_set1_ps(p->m)), _mm_set1_ps(p->r));
    return p->act ? sel4(_mm_cmpgt_ps(t, _mm_setzero_ps()), t, _mm_mul_ps(t, _mm_set1_ps(p->slope))) : t;
}
static inline void pool4(float *y, const float *r0, const float *r1, int ox, const svdd__pool_post *p) {
    __m128 a, b, c, d;
    windows4(r0, r1, ox, &a, &b, &c, &d);
    __m128 m = a;
    m = sel4(takes4(b, m), b, m);
    m = sel4(takes4(c, m), c, m);
    m = sel4(takes4(d, m), d, m);
    _mm_storeu_ps(y + ox, post4(m, p));
}
#endif

#if SVDD_POOL_AVX2
/* Eight windows, ox..ox+7. The in-lane shuffles leave them in the order 0 1 4 5 2 3 6 7, which
 * swapping the middle 64-bit blocks undoes (the swap is its own inverse). */
INLINE_AVX2 __m256 swap_middle(__m256 v) {
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(v), 0xD8));
}
INLINE_AVX2 __m256 takes8(__m256 v, __m256 m) {
    return _mm256_or_ps(_mm256_cmp_ps(v, m, _CMP_GT_OQ),
                        _mm256_and_ps(_mm256_cmp_ps(v, v, _CMP_UNORD_Q), _mm256_cmp_ps(m, m, _CMP_ORD_Q)));
}
/* The windows' four cells from the row pair's 16 floats p0 p1 over q0 q1. */
INLINE_AVX2 void split8(__m256 p0, __m256 p1, __m256 q0, __m256 q1, __m256 *a, __m256 *b, __m256 *c, __m256 *d) {
    *a = _mm256_shuffle_ps(p0, p1, 0x88), *b = _mm256_shuffle_ps(p0, p1, 0xDD);
    *c = _mm256_shuffle_ps(q0, q1, 0x88), *d = _mm256_shuffle_ps(q0, q1, 0xDD);
}
INLINE_AVX2 void windows8(const float *r0, const float *r1, int ox, __m256 *a, __m256 *b, __m256 *c, __m256 *d) {
    split8(_mm256_loadu_ps(r0 + 2 * ox), _mm256_loadu_ps(r0 + 2 * ox + 8), _mm256_loadu_ps(r1 + 2 * ox),
           _mm256_loadu_ps(r1 + 2 * ox + 8), a, b, c, d);
}
INLINE_AVX2 __m256 post8(__m256 v, const svdd__pool_post *p) {
    if (!p) return v;
    const __m256 t = _mm256_mul_ps(_mm256_sub_ps(v, _mm256_set1_ps(p->m)), _mm256_set1_ps(p->r));
    if (!p->act) return t;
    return _mm256_blendv_ps(_mm256_mul_ps(t, _mm256_set1_ps(p->slope)), t,
                            _mm256_cmp_ps(t, _mm256_setzero_ps(), _CMP_GT_OQ));
}
INLINE_AVX2 void pool8(float *y, const float *r0, const float *r1, int ox, const svdd__pool_post *p) {
    __m256 a, b, c, d;
    windows8(r0, r1, ox, &a, &b, &c, &d);
    __m256 m = a;
    m = _mm256_blendv_ps(m, b, takes8(b, m));
    m = _mm256_blendv_ps(m, c, takes8(c, m));
    m = _mm256_blendv_ps(m, d, takes8(d, m));
    _mm256_storeu_ps(y + ox, swap_middle(post8(m, p)));
}
/* One-hot masks k of the windows' winners among a b c d, first in row-major order. */
INLINE_AVX2 void winners8(__m256 a, __m256 b, __m256 c, __m256 d, __m256 k[4]) {
    __m256 m = a, ka = _mm256_castsi256_ps(_mm256_set1_epi32(-1)), kb, kc, kd, t;
    t = takes8(b, m); m = _mm256_blendv_ps(m, b, t); kb = t; ka = _mm256_andnot_ps(t, ka);
    t = takes8(c, m); m = _mm256_blendv_ps(m, c, t); kc = t; ka = _mm256_andnot_ps(t, ka); kb = _mm256_andnot_ps(t, kb);
    t = takes8(d, m); kd = t; ka = _mm256_andnot_ps(t, ka); kb = _mm256_andnot_ps(t, kb); kc = _mm256_andnot_ps(t, kc);
    k[0] = ka, k[1] = kb, k[2] = kc, k[3] = kd;
}
INLINE_AVX2 void unpool8(float *d0, float *d1, const float *r0, const float *r1, const float *g, int ox) {
    __m256 a, b, c, d, k[4];
    windows8(r0, r1, ox, &a, &b, &c, &d);
    winners8(a, b, c, d, k);
    const __m256 gv = swap_middle(_mm256_loadu_ps(g + ox)); /* in the windows' order */
    const __m256 ga = _mm256_and_ps(k[0], gv), gb = _mm256_and_ps(k[1], gv), gc = _mm256_and_ps(k[2], gv),
                 gd = _mm256_and_ps(k[3], gv);
    /* in-lane unpacking puts windows 0 1 | 2 3 and 4 5 | 6 7 back in row order */
    _mm256_storeu_ps(d0 + 2 * ox, _mm256_unpacklo_ps(ga, gb));
    _mm256_storeu_ps(d0 + 2 * ox + 8, _mm256_unpackhi_ps(ga, gb));
    _mm256_storeu_ps(d1 + 2 * ox, _mm256_unpacklo_ps(gc, gd));
    _mm256_storeu_ps(d1 + 2 * ox + 8, _mm256_unpackhi_ps(gc, gd));
}
/* Rows of at least 8 windows: groups of eight, the last one overlapping the one before. */
TARGET_AVX2 static void pool_row_avx2(float *y, const float *r0, const float *r1, int Wo, const svdd__pool_post *p) {
    int ox = 0;
    for (; ox + 8 <= Wo; ox += 8) pool8(y, r0, r1, ox, p);
    if (ox < Wo) pool8(y, r0, r1, Wo - 8, p);
}
TARGET_AVX2 static void unpool_row_avx2(float *d0, float *d1, const float *r0, const float *r1, const float *g, int Wo) {
    int ox = 0;
    for (; ox + 8 <= Wo; ox += 8) unpool8(d0, d1, r0, r1, g, ox);
    if (ox < Wo) unpool8(d0, d1, r0, r1, g, Wo - 8);
}

/* Batch norm's input gradient at the cells v with winner masks k (svdd__maxpool2d_unpool_bn_rows). */
INLINE_AVX2 __m256 unpool_bn_cell(__m256 v, __m256 k, __m256 gv, __m256 gs, const svdd__unpool_bn *p) {
    const __m256 pos = _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_GT_OQ);
    const __m256 dy = _mm256_and_ps(k, _mm256_blendv_ps(gs, gv, pos));
    const __m256 t = _mm256_mul_ps(v, _mm256_blendv_ps(_mm256_set1_ps(p->q_neg), _mm256_set1_ps(p->q), pos));
    return _mm256_mul_ps(_mm256_set1_ps(p->r), _mm256_sub_ps(_mm256_sub_ps(dy, _mm256_set1_ps(p->mdy)), t));
}
INLINE_AVX2 __m256i first_lanes(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
/* Windows ox..ox+m-1 (m <= 8; fewer than 8 only as a row's one group, read under masks) as
 * unpool8 finds their winners, batch norm's input gradient in place of the pooling's. */
INLINE_AVX2 void unpool_bn8(float *d0, float *d1, const float *r0, const float *r1, const float *g, int ox, int m,
                            const svdd__unpool_bn *p) {
    __m256 a, b, c, d, gv;
    if (m == 8) {
        windows8(r0, r1, ox, &a, &b, &c, &d);
        gv = _mm256_loadu_ps(g + ox);
    } else {
        const __m256i lo = first_lanes(2 * m), hi = first_lanes(2 * m - 8);
        split8(_mm256_maskload_ps(r0 + 2 * ox, lo), _mm256_maskload_ps(r0 + 2 * ox + 8, hi),
               _mm256_maskload_ps(r1 + 2 * ox, lo), _mm256_maskload_ps(r1 + 2 * ox + 8, hi), &a, &b, &c, &d);
        gv = _mm256_maskload_ps(g + ox, first_lanes(m));
    }
    __m256 k[4];
    winners8(a, b, c, d, k);
    gv = swap_middle(gv); /* in the windows' order */
    const __m256 gs = _mm256_mul_ps(gv, _mm256_set1_ps(p->slope));
    const __m256 xa = unpool_bn_cell(a, k[0], gv, gs, p), xb = unpool_bn_cell(b, k[1], gv, gs, p);
    const __m256 xc = unpool_bn_cell(c, k[2], gv, gs, p), xd = unpool_bn_cell(d, k[3], gv, gs, p);
    _mm256_storeu_ps(d0 + 2 * ox, _mm256_unpacklo_ps(xa, xb));
    _mm256_storeu_ps(d0 + 2 * ox + 8, _mm256_unpackhi_ps(xa, xb));
    _mm256_storeu_ps(d1 + 2 * ox, _mm256_unpacklo_ps(xc, xd));
    _mm256_storeu_ps(d1 + 2 * ox + 8, _mm256_unpackhi_ps(xc, xd));
}
TARGET_AVX2 static void unpool_bn_rows_avx2(float *dx, const float *y, const float *g, int rows, int W,
                                            const svdd__unpool_bn *p) {
    const int Wo = W / 2;
    for (int oy = 0; oy < rows / 2; oy++) {
        float *d0 = dx + (size_t)2 * oy * W, *d1 = d0 + W;
        const float *r0 = y + (size_t)2 * oy * W, *r1 = r0 + W, *gr = g + (size_t)oy * Wo;
        if (Wo < 8) {
            /* its stores run past the row (into the next, written after it; the last into the
             * caller's slack) */
            unpool_bn8(d0, d1, r0, r1, gr, 0, Wo, p);
            continue;
        }
        int ox = 0;
        for (; ox + 8 <= Wo; ox += 8) unpool_bn8(d0, d1, r0, r1, gr, ox, 8, p);
        if (ox < Wo) unpool_bn8(d0, d1, r0, r1, gr, Wo - 8, 8, p);
    }
}
/* In the lanes each of a window's cells is a vector of eight images: no deinterleaving, and the
 * cells go straight to their places. The maps come from memory (the first MNIST block's are 5 MB
 * at batch 200) and their loads stalled the kernel, so it fetches the caller's next rows (pf)
 * meanwhile. */
TARGET_AVX2 static void unpool_bn_lanes_avx2(float *dx, size_t ld, const float *y, const float *g, int W,
                                             const svdd__unpool_bn *p, const float *pf) {
    const float *r0 = y, *r1 = y + (size_t)W * 8;
    float *d0 = dx, *d1 = dx + ld;
    for (int ox = 0; ox < W / 2; ox++) {
        if (pf) {
            _mm_prefetch((const char *)(pf + 16 * (size_t)ox), _MM_HINT_T0);
            _mm_prefetch((const char *)(pf + (size_t)W * 8 + 16 * (size_t)ox), _MM_HINT_T0);
        }
        const __m256 a = _mm256_loadu_ps(r0 + 16 * (size_t)ox), b = _mm256_loadu_ps(r0 + 16 * (size_t)ox + 8);
        const __m256 c = _mm256_loadu_ps(r1 + 16 * (size_t)ox), d = _mm256_loadu_ps(r1 + 16 * (size_t)ox + 8);
        __m256 k[4];
        winners8(a, b, c, d, k);
        const __m256 gv = _mm256_loadu_ps(g + 8 * (size_t)ox), gs = _mm256_mul_ps(gv, _mm256_set1_ps(p->slope));
        _mm256_storeu_ps(d0 + 16 * (size_t)ox, unpool_bn_cell(a, k[0], gv, gs, p));
        _mm256_storeu_ps(d0 + 16 * (size_t)ox + 8, unpool_bn_cell(b, k[1], gv, gs, p));
        _mm256_storeu_ps(d1 + 16 * (size_t)ox, unpool_bn_cell(c, k[2], gv, gs, p));
        _mm256_storeu_ps(d1 + 16 * (size_t)ox + 8, unpool_bn_cell(d, k[3], gv, gs, p));
    }
}
#endif

static void pool_row(float *y, const float *r0, const float *r1, int Wo, const svdd__pool_post *p, int simd) {
#if SVDD_POOL_AVX2
    if (simd && Wo >= 8) {
        pool_row_avx2(y, r0, r1, Wo, p);
        return;
    }
#else
    (void)simd;
#endif
    int ox = 0;
#if SVDD_POOL_SSE2
    for (; ox + 4 <= Wo; ox += 4) pool4(y, r0, r1, ox, p);
    /* The last windows again as one group of four ending at Wo, overlapping the previous group:
     * it writes the same values there, and the MNIST widths (14, 7) leave 2 or 3 windows that
     * would otherwise go one by one. */
    if (ox < Wo && Wo >= 4) {
        pool4(y, r0, r1, Wo - 4, p);
        ox = Wo;
    }
#endif
    for (; ox < Wo; ox++) {
        float m;
        (void)winner(r0, r1, ox, &m);
        y[ox] = post1(m, p);
    }
}

/* Gradient of one row of windows: the winner gets it, the other three cells get 0 (so no memset
 * of the whole input gradient is needed). */
#if SVDD_POOL_SSE2
static inline void unpool4(float *d0, float *d1, const float *r0, const float *r1, const float *g, int ox) {
    __m128 a, b, c, d;
    windows4(r0, r1, ox, &a, &b, &c, &d);
    /* one-hot masks of the winner, first in row-major order */
    __m128 m = a, ka = _mm_castsi128_ps(_mm_set1_epi32(-1)), kb, kc, kd, t;
    t = takes4(b, m); m = sel4(t, b, m); kb = t; ka = _mm_andnot_ps(t, ka);
    t = takes4(c, m); m = sel4(t, c, m); kc = t; ka = _mm_andnot_ps(t, ka); kb = _mm_andnot_ps(t, kb);
    t = takes4(d, m); kd = t; ka = _mm_andnot_ps(t, ka); kb = _mm_andnot_ps(t, kb); kc = _mm_andnot_ps(t, kc);
    __m128 gv = _mm_loadu_ps(g + ox);
    __m128 ga = _mm_and_ps(ka, gv), gb = _mm_and_ps(kb, gv), gc = _mm_and_ps(kc, gv), gd = _mm_and_ps(kd, gv);
    _mm_storeu_ps(d0 + 2 * ox, _mm_unpacklo_ps(ga, gb));
    _mm_storeu_ps(d0 + 2 * ox + 4, _mm_unpackhi_ps(ga, gb));
    _mm_storeu_ps(d1 + 2 * ox, _mm_unpacklo_ps(gc, gd));
    _mm_storeu_ps(d1 + 2 * ox + 4, _mm_unpackhi_ps(gc, gd));
}
#endif

static void unpool_row(float *d0, float *d1, const float *r0, const float *r1, const float *g, int Wo, int simd) {
#if SVDD_POOL_AVX2
    if (simd && Wo >= 8) {
        unpool_row_avx2(d0, d1, r0, r1, g, Wo);
        return;
    }
#else
    (void)simd;
#endif
    int ox = 0;
#if SVDD_POOL_SSE2
    for (; ox + 4 <= Wo; ox += 4) unpool4(d0, d1, r0, r1, g, ox);
    /* overlapping last group, as in pool_row: its cells get the same values again */
    if (ox < Wo && Wo >= 4) {
        unpool4(d0, d1, r0, r1, g, Wo - 4);
        ox = Wo;
    }
#endif
    for (; ox < Wo; ox++) {
        float m;
        const int k = winner(r0, r1, ox, &m);
        const float gv = g[ox];
        d0[2 * ox] = k == 0 ? gv : 0.0f;
        d0[2 * ox + 1] = k == 1 ? gv : 0.0f;
        d1[2 * ox] = k == 2 ? gv : 0.0f;
        d1[2 * ox + 1] = k == 3 ? gv : 0.0f;
    }
}

/* One cell of svdd__maxpool2d_unpool_bn_rows: v, and win when it is its window's winner. */
static inline float unpool_bn1(float v, int win, float gv, const svdd__unpool_bn *p) {
    const int pos = v > 0.0f;
    const float dy = win ? (pos ? gv : gv * p->slope) : 0.0f;
    const float t = v * (pos ? p->q : p->q_neg);
    return p->r * ((dy - p->mdy) - t);
}

void svdd__maxpool2d_unpool_bn_rows(float *dx, const float *y, const float *g, int rows, int W,
                                    const svdd__unpool_bn *p, int simd) {
#if SVDD_POOL_AVX2
    if (simd) {
        unpool_bn_rows_avx2(dx, y, g, rows, W, p);
        return;
    }
#else
    (void)simd;
#endif
    const int Wo = W / 2;
    for (int oy = 0; oy < rows / 2; oy++)
        for (int ox = 0; ox < Wo; ox++) {
            const float *r0 = y + (size_t)2 * oy * W, *r1 = r0 + W;
            float *d0 = dx + (size_t)2 * oy * W, *d1 = d0 + W;
            float m;
            const int k = winner(r0, r1, ox, &m);
            const float gv = g[(size_t)oy * Wo + ox];
            d0[2 * ox] = unpool_bn1(r0[2 * ox], k == 0, gv, p);
            d0[2 * ox + 1] = unpool_bn1(r0[2 * ox + 1], k == 1, gv, p);
            d1[2 * ox] = unpool_bn1(r1[2 * ox], k == 2, gv, p);
            d1[2 * ox + 1] = unpool_bn1(r1[2 * ox + 1], k == 3, gv, p);
        }
}

void svdd__maxpool2d_unpool_bn_lanes(float *dx, size_t ld, const float *y, const float *g, int W,
                                     const svdd__unpool_bn *p, const float *pf, int simd) {
#if SVDD_POOL_AVX2
    if (simd) {
        unpool_bn_lanes_avx2(dx, ld, y, g, W, p, pf);
        return;
    }
#else
    (void)simd;
#endif
    (void)pf;
    for (int ox = 0; ox < W / 2; ox++)
        for (int l = 0; l < 8; l++) {
            const float *r0 = y + 16 * (size_t)ox + l, *r1 = r0 + (size_t)W * 8;
            float m;
            const int k = winner_at(r0, r1, 8, &m);
            const float gv = g[8 * (size_t)ox + l];
            float *d0 = dx + 16 * (size_t)ox + l, *d1 = d0 + ld;
            d0[0] = unpool_bn1(r0[0], k == 0, gv, p);
            d0[8] = unpool_bn1(r0[8], k == 1, gv, p);
            d1[0] = unpool_bn1(r1[0], k == 2, gv, p);
            d1[8] = unpool_bn1(r1[8], k == 3, gv, p);
        }
}

void svdd__maxpool2d_row(float *y, const float *r0, const float *r1, int Wo, int simd) {
    pool_row(y, r0, r1, Wo, NULL, simd);
}

void svdd__maxpool2d_row_post(float *y, const float *r0, const float *r1, int Wo, const svdd__pool_post *post,
                              int simd) {
    pool_row(y, r0, r1, Wo, post, simd);
}

void svdd__maxpool2d_plane_post(float *dst, size_t ld, const float *x, int H, int W, const svdd__pool_post *post,
                                int pool, int simd) {
    if (pool) {
        for (int y = 0; y < H / 2; y++)
            pool_row(dst + (size_t)y * ld, x + (size_t)2 * y * W, x + (size_t)(2 * y + 1) * W, W / 2, post, simd);
        return;
    }
    for (int y = 0; y < H; y++)
        for (int q = 0; q < W; q++) dst[(size_t)y * ld + q] = post1(x[(size_t)y * W + q], post);
}

/* ---- planes of eight images, one per lane (src/kernels/conv_lanes.c) ---- */

static void lanes_portable(float *dst, size_t ld, const float *x, int H, int W, const svdd__pool_post *p, int pool) {
    const int Ho = pool ? H / 2 : H, Wo = pool ? W / 2 : W;
    for (int y = 0; y < Ho; y++)
        for (int ox = 0; ox < Wo; ox++)
            for (int l = 0; l < 8; l++) {
                float m;
                if (pool) {
                    const float *r0 = x + ((size_t)2 * y * W + 2 * (size_t)ox) * 8 + l, *r1 = r0 + (size_t)W * 8;
                    (void)winner_at(r0, r1, 8, &m);
                } else {
                    m = x[((size_t)y * W + ox) * 8 + l];
                }
                dst[(size_t)y * ld + (size_t)ox * 8 + l] = post1(m, p);
            }
}

#if SVDD_POOL_AVX2
TARGET_AVX2 static void lanes_avx2(float *dst, size_t ld, const float *x, int H, int W, const svdd__pool_post *p,
                                   int pool) {
    const int Ho = pool ? H / 2 : H, Wo = pool ? W / 2 : W;
    for (int y = 0; y < Ho; y++)
        for (int ox = 0; ox < Wo; ox++) {
            __m256 m;
            if (pool) {
                const float *r0 = x + ((size_t)2 * y * W + 2 * (size_t)ox) * 8, *r1 = r0 + (size_t)W * 8;
                const __m256 b = _mm256_loadu_ps(r0 + 8), c = _mm256_loadu_ps(r1), d = _mm256_loadu_ps(r1 + 8);
                m = _mm256_loadu_ps(r0);
                m = _mm256_blendv_ps(m, b, takes8(b, m));
                m = _mm256_blendv_ps(m, c, takes8(c, m));
                m = _mm256_blendv_ps(m, d, takes8(d, m));
            } else {
                m = _mm256_loadu_ps(x + ((size_t)y * W + ox) * 8);
            }
            _mm256_storeu_ps(dst + (size_t)y * ld + (size_t)ox * 8, post8(m, p));
        }
}
#endif

void svdd__maxpool2d_lanes_post(float *dst, size_t ld, const float *x, int H, int W, const svdd__pool_post *post,
                                int pool, int simd) {
#if SVDD_POOL_AVX2
    if (simd) {
        lanes_avx2(dst, ld, x, H, W, post, pool);
        return;
    }
#else
    (void)simd;
#endif
    lanes_portable(dst, ld, x, H, W, post, pool);
}

void svdd__maxpool2d_forward_as(float *out, const float *inp, int B, int C, int H, int W, int simd) {
    const int Ho = H / 2, Wo = W / 2;
    for (size_t bc = 0; bc < (size_t)B * C; bc++)
        for (int oy = 0; oy < Ho; oy++) {
            const float *r0 = inp + (bc * H + 2 * (size_t)oy) * W;
            pool_row(out + (bc * Ho + oy) * Wo, r0, r0 + W, Wo, NULL, simd);
        }
}

void svdd__maxpool2d_forward(float *out, const float *inp, int B, int C, int H, int W) {
    svdd__maxpool2d_forward_as(out, inp, B, C, H, W, svdd__cpu_avx2_fma());
}

void svdd__maxpool2d_backward_as(float *dinp, const float *dout, const float *inp, int B, int C, int H, int W,
                                 int simd) {
    const int Ho = H / 2, Wo = W / 2;
    /* odd edges get no gradient; the windows write every other cell */
    if ((H & 1) || (W & 1)) memset(dinp, 0, sizeof(float) * (size_t)B * C * H * W);
    for (size_t bc = 0; bc < (size_t)B * C; bc++)
        for (int oy = 0; oy < Ho; oy++) {
            size_t o0 = (bc * H + 2 * (size_t)oy) * W;
            unpool_row(dinp + o0, dinp + o0 + W, inp + o0, inp + o0 + W, dout + (bc * Ho + oy) * Wo, Wo, simd);
        }
}

void svdd__maxpool2d_backward(float *dinp, const float *dout, const float *inp, int B, int C, int H,
                              int W) {
    svdd__maxpool2d_backward_as(dinp, dout, inp, B, C, H, W, svdd__cpu_avx2_fma());
}
