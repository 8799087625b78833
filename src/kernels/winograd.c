/* Winograd's minimal filtering F(2x2, 5x5) for the 5x5, padding-2 convolutions of the CIFAR-10
 * networks (Lavin and Gray, "Fast Algorithms for Convolutional Neural Networks", CVPR 2016).
 *
 * Each 2x2 tile of output is A^T [ (G g G^T) * (B^T d B) ] A, where d is the 6x6 patch of input
 * the tile reads, g a 5x5 kernel and * the element-wise product: 36 multiplications per channel
 * pair and tile instead of 100. Summed over the input channels, each of the 36 positions of the
 * transformed tile is a matrix product (output channels x input channels) x (input channels x
 * tiles), which the BLAS runs well; the transforms themselves are additions, written here.
 *
 * The matrices, from the interpolation points 0, 1, -1, 2, -2 and infinity (Toom-Cook), with the
 * fractions moved into G so that B^T has small integers:
 *   B^T = [4 0 -5 0 1 0; 0 4 4 -1 -1 0; 0 -4 4 1 -1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1]
 *   G   = [1/4 0 0 0 0; 1/6 1/6 1/6 1/6 1/6; 1/6 -1/6 1/6 -1/6 1/6;
 *          1/24 1/12 1/6 1/3 2/3; 1/24 -1/12 1/6 -1/3 2/3; 0 0 0 0 1]
 *   A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 1]
 * Rounding: on the CIFAR-10 shapes the outputs differ from the exact sums by about twice what a
 * plain float sum over the 25*Cin terms does (tests/test_layers.c: `test_winograd_rounding`, and
 * `compare_conv_paths` against the im2col path).
 *
 * The backward passes follow from the same formula: the weight gradient is
 * G^T [ sum over tiles of (A dy A^T) * (B^T d B) ] G (again one product per position, now over
 * the tiles), and the input gradient is the forward convolution of the output gradient with the
 * rotated kernels, which is the same transform again.
 *
 * Layout: a chunk of nb images of (C, H, W), H and W even, has nt = (H/2)(W/2) tiles per image,
 * numbered t = b * nt + ty * (W/2) + tx; a transformed chunk is (36, C, P) with P = nb * nt, so
 * that each position's matrix is one contiguous (C, P) block (blocks a little more than C * P
 * apart, svdd__winograd_stride). The transforms work on whole rows of tiles at once: tile tx of a
 * row reads columns 2tx .. 2tx+5 of the padded row, which are the even and odd columns at tx,
 * tx+1 and tx+2, so after splitting a row into its even and odd columns every operand is a
 * contiguous run of W/2 floats, taken four at a time. */
#include <string.h>

#include "kernels.h"

/* 6 -> 6 values of B^T d, as named above; the same expression order everywhere. */
#define BT0(d0, d1, d2, d3, d4, d5) (4.0f * (d0) - 5.0f * (d2) + (d4))
#define BT1(d0, d1, d2, d3, d4, d5) (4.0f * ((d1) + (d2)) - (d3) - (d4))
#define BT2(d0, d1, d2, d3, d4, d5) (4.0f * ((d2) - (d1)) + (d3) - (d4))
#define BT3(d0, d1, d2, d3, d4, d5) (2.0f * ((d3) - (d1)) + (d4) - (d2))
#define BT4(d0, d1, d2, d3, d4, d5) (2.0f * ((d1) - (d3)) + (d4) - (d2))
#define BT5(d0, d1, d2, d3, d4, d5) (4.0f * (d1) - 5.0f * (d3) + (d5))

static const double G[6][5] = {{1.0 / 4, 0, 0, 0, 0},
                               {1.0 / 6, 1.0 / 6, 1.0 / 6, 1.0 / 6, 1.0 / 6},
                               {1.0 / 6, -1.0 / 6, 1.0 / 6, -1.0 / 6, 1.0 / 6},
                               {1.0 / 24, 1.0 / 12, 1.0 / 6, 1.0 / 3, 2.0 / 3},
                               {1.0 / 24, -1.0 / 12, 1.0 / 6, -1.0 / 3, 2.0 / 3},
                               {0, 0, 0, 0, 1}};

int svdd__winograd_fits(int Cin, int Cout, int H, int W, int K, int P) {
    return K == 5 && P == 2 && H >= 2 && W >= 2 && H % 2 == 0 && W % 2 == 0 && Cin >= 1 && Cout >= 1;
}

size_t svdd__winograd_row_floats(int H, int W) {
    /* the even and odd columns of a padded row, then the H + 4 padded rows transformed along x */
    return 2 * (size_t)(W / 2 + 2) + (size_t)(H + 4) * 6 * (size_t)(W / 2);
}

/* u[x * us] = (G g G^T)[x], x = 0..35, for the 5x5 kernel g (turned by 180 degrees if rotate). */
static void transform_kernel(float *u, size_t us, const float *g, int rotate) {
    double t[6][5];
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 5; j++) {
            double s = 0;
            for (int a = 0; a < 5; a++) s += G[i][a] * (rotate ? g[24 - (a * 5 + j)] : g[a * 5 + j]);
            t[i][j] = s;
        }
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 6; j++) {
            double s = 0;
            for (int a = 0; a < 5; a++) s += t[i][a] * G[j][a];
            u[(size_t)(i * 6 + j) * us] = (float)s;
        }
}

/* The weights' transforms are a few percent of a CIFAR-10 step: shared among the threads by
 * output channel (each kernel's transform is independent, so the floats do not depend on it). */
void svdd__winograd_weights(float *U, const float *w, int Cout, int Cin, int threads) {
    const size_t us = (size_t)Cout * Cin;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int k = 0; k < Cout; k++)
        for (int c = 0; c < Cin; c++) transform_kernel(U + (size_t)k * Cin + c, us, w + ((size_t)k * Cin + c) * 25, 0);
}

void svdd__winograd_weights_rotated(float *U, const float *w, int Cout, int Cin, int threads) {
    const size_t us = (size_t)Cout * Cin;
    /* by U's rows (c), so that the threads do not write into the same cache lines */
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int c = 0; c < Cin; c++)
        for (int k = 0; k < Cout; k++) transform_kernel(U + (size_t)c * Cout + k, us, w + ((size_t)k * Cin + c) * 25, 1);
}

void svdd__winograd_weight_grad(float *dw, int rotated, const float *dU, int Cout, int Cin, int threads) {
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int k = 0; k < Cout; k++)
        for (int c = 0; c < Cin; c++) {
            double m[6][6], t[5][6];
            for (int x = 0; x < 36; x++) m[x / 6][x % 6] = dU[((size_t)x * Cout + k) * Cin + c];
            for (int a = 0; a < 5; a++)
                for (int j = 0; j < 6; j++) {
                    double s = 0;
                    for (int i = 0; i < 6; i++) s += G[i][a] * m[i][j];
                    t[a][j] = s;
                }
            float *g = dw + (rotated ? (size_t)c * Cout + k : (size_t)k * Cin + c) * 25;
            for (int a = 0; a < 5; a++)
                for (int b = 0; b < 5; b++) {
                    double s = 0;
                    for (int j = 0; j < 6; j++) s += t[a][j] * G[j][b];
                    g[rotated ? 24 - (a * 5 + b) : a * 5 + b] += (float)s;
                }
        }
}

/* Four floats, loaded and stored unaligned: GCC's and clang's vector extension (SSE on x86-64,
 * NEON on ARM, plain code elsewhere); GCC left the transforms' loops scalar, their trip counts
 * being runtime values of 4 to 16. Element-wise operations in the same order as the scalar
 * tails, so the same floats. */
typedef float vf4 __attribute__((vector_size(16), aligned(4), may_alias));
#define LD(p) (*(const vf4 *)(p))
#define ST(p, v) (*(vf4 *)(p) = (v))

/* o_i[t] = (B^T d)_i with d_k = in_k[t], t < n. */
static void bt_run(float *const o[6], const float *const in[6], int n) {
    int t = 0;
    for (; t + 4 <= n; t += 4) {
        const vf4 d0 = LD(in[0] + t), d1 = LD(in[1] + t), d2 = LD(in[2] + t), d3 = LD(in[3] + t),
                  d4 = LD(in[4] + t), d5 = LD(in[5] + t);
        ST(o[0] + t, BT0(d0, d1, d2, d3, d4, d5));
        ST(o[1] + t, BT1(d0, d1, d2, d3, d4, d5));
        ST(o[2] + t, BT2(d0, d1, d2, d3, d4, d5));
        ST(o[3] + t, BT3(d0, d1, d2, d3, d4, d5));
        ST(o[4] + t, BT4(d0, d1, d2, d3, d4, d5));
        ST(o[5] + t, BT5(d0, d1, d2, d3, d4, d5));
    }
    for (; t < n; t++) {
        const float d0 = in[0][t], d1 = in[1][t], d2 = in[2][t], d3 = in[3][t], d4 = in[4][t], d5 = in[5][t];
        o[0][t] = BT0(d0, d1, d2, d3, d4, d5);
        o[1][t] = BT1(d0, d1, d2, d3, d4, d5);
        o[2][t] = BT2(d0, d1, d2, d3, d4, d5);
        o[3][t] = BT3(d0, d1, d2, d3, d4, d5);
        o[4][t] = BT4(d0, d1, d2, d3, d4, d5);
        o[5][t] = BT5(d0, d1, d2, d3, d4, d5);
    }
}

/* A^T m for six values: the two outputs. */
#define AT0(m0, m1, m2, m3, m4, m5) ((m0) + (m1) + (m2) + (m3) + (m4))
#define AT1(m0, m1, m2, m3, m4, m5) ((m1) - (m2) + 2.0f * ((m3) - (m4)) + (m5))

/* o0[t], o1[t] = A^T m with m_k = in_k[t], t < n. */
static void at_run(float *o0, float *o1, const float *const in[6], int n) {
    int t = 0;
    for (; t + 4 <= n; t += 4) {
        const vf4 m0 = LD(in[0] + t), m1 = LD(in[1] + t), m2 = LD(in[2] + t), m3 = LD(in[3] + t),
                  m4 = LD(in[4] + t), m5 = LD(in[5] + t);
        ST(o0 + t, AT0(m0, m1, m2, m3, m4, m5));
        ST(o1 + t, AT1(m0, m1, m2, m3, m4, m5));
    }
    for (; t < n; t++) {
        const float m0 = in[0][t], m1 = in[1][t], m2 = in[2][t], m3 = in[3][t], m4 = in[4][t], m5 = in[5][t];
        o0[t] = AT0(m0, m1, m2, m3, m4, m5);
        o1[t] = AT1(m0, m1, m2, m3, m4, m5);
    }
}

/* A g for the two values of a 2x2 tile's row or column: o_i[t] for g = (g0[t], g1[t]), t < n. */
#define AG0(a, b) (a)
#define AG1(a, b) ((a) + (b))
#define AG2(a, b) ((a) - (b))
#define AG3(a, b) ((a) + 2.0f * (b))
#define AG4(a, b) ((a)-2.0f * (b))
#define AG5(a, b) (b)
static void ag_run(float *const o[6], const float *g0, const float *g1, int n) {
    int t = 0;
    for (; t + 4 <= n; t += 4) {
        const vf4 a = LD(g0 + t), b = LD(g1 + t);
        ST(o[0] + t, AG0(a, b));
        ST(o[1] + t, AG1(a, b));
        ST(o[2] + t, AG2(a, b));
        ST(o[3] + t, AG3(a, b));
        ST(o[4] + t, AG4(a, b));
        ST(o[5] + t, AG5(a, b));
    }
    for (; t < n; t++) {
        const float a = g0[t], b = g1[t];
        o[0][t] = AG0(a, b);
        o[1][t] = AG1(a, b);
        o[2][t] = AG2(a, b);
        o[3][t] = AG3(a, b);
        o[4][t] = AG4(a, b);
        o[5][t] = AG5(a, b);
    }
}

/* Row y of the padded plane (y in -2 .. H+1) transformed along x: r[j * tw + tx], j = 0..5. With
 * up = 2 the plane is (H/2, W/2), read through a nearest-neighbour 2x upsampling. */
static void row_transform(float *r, const float *plane, int y, int H, int W, int up, float *eo) {
    const int tw = W / 2, n = tw + 2;
    if (y < 0 || y >= H) {
        memset(r, 0, sizeof(float) * 6 * (size_t)tw);
        return;
    }
    /* the padded row's even columns e[m] = x 2m - 2 and odd ones o[m] = x 2m - 1 */
    float *e = eo, *o = eo + n;
    e[0] = o[0] = e[n - 1] = o[n - 1] = 0.0f;
    if (up == 2) { /* x 2m - 2 and 2m - 1 are both pixel m - 1 of the small row */
        const float *s = plane + (size_t)(y / 2) * tw;
        for (int m = 1; m <= tw; m++) e[m] = o[m] = s[m - 1];
    } else {
        const float *s = plane + (size_t)y * W;
        for (int m = 1; m <= tw; m++) {
            e[m] = s[2 * m - 2];
            o[m] = s[2 * m - 1];
        }
    }
    /* tile tx reads padded columns 2tx .. 2tx+5 = e[tx], o[tx], e[tx+1], o[tx+1], e[tx+2], o[tx+2] */
    const float *const in[6] = {e, o, e + 1, o + 1, e + 2, o + 2};
    float *const out[6] = {r, r + tw, r + 2 * tw, r + 3 * tw, r + 4 * tw, r + 5 * tw};
    bt_run(out, in, tw);
}

size_t svdd__winograd_stride(size_t n) {
    /* 36 blocks a power-of-two apart would all map to the same sets of the L1 cache, and the
     * transforms write or read one short run in each of them in turn; an odd number of cache
     * lines apart, they take 36 different sets. */
    size_t s = svdd__round16(n);
    return (s / 16) % 2 ? s : s + 16;
}

void svdd__winograd_input(float *V, size_t ps, const float *inp, int nb, int C, int H, int W, int up, float *rows) {
    const int th = H / 2, tw = W / 2, nt = th * tw;
    const size_t P = (size_t)nb * nt, rs = 6 * (size_t)tw, CP = ps;
    float *eo = rows, *rt = rows + 2 * (size_t)(tw + 2); /* rt: padded row y + 2 at rt + (y + 2) * rs */
    for (int b = 0; b < nb; b++)
        for (int c = 0; c < C; c++) {
            const float *plane = inp + ((size_t)b * C + c) * H * W / ((size_t)up * up);
            for (int y = -2; y < H + 2; y++) row_transform(rt + (size_t)(y + 2) * rs, plane, y, H, W, up, eo);
            for (int ty = 0; ty < th; ty++) {
                /* tile row ty reads padded rows 2ty .. 2ty+5; transform along y, one run of tiles
                 * per (i, j) */
                const float *q = rt + (size_t)(2 * ty) * rs;
                float *v = V + (size_t)c * P + (size_t)b * nt + (size_t)ty * tw;
                for (int j = 0; j < 6; j++) {
                    const float *const in[6] = {q + j * tw,          q + rs + j * tw,     q + 2 * rs + j * tw,
                                                q + 3 * rs + j * tw, q + 4 * rs + j * tw, q + 5 * rs + j * tw};
                    float *const out[6] = {v + (size_t)j * CP,        v + (size_t)(6 + j) * CP,
                                           v + (size_t)(12 + j) * CP, v + (size_t)(18 + j) * CP,
                                           v + (size_t)(24 + j) * CP, v + (size_t)(30 + j) * CP};
                    bt_run(out, in, tw);
                }
            }
        }
}

void svdd__winograd_output(float *out, const float *M, size_t ps, int nb, int K, int H, int W, int down,
                           float *rows) {
    const int th = H / 2, tw = W / 2, nt = th * tw;
    const size_t P = (size_t)nb * nt;
    /* rows: the tile row's transformed tiles reduced along y, (2, 6, tw), then one output row's
     * even and odd pixels, (2, tw), or two rows' when summing blocks, (4, tw) */
    float *r = rows, *ev = rows + 12 * (size_t)tw, *od = ev + tw;
    for (int b = 0; b < nb; b++)
        for (int k = 0; k < K; k++) {
            float *o = out + ((size_t)b * K + k) * H * W / ((size_t)down * down);
            for (int ty = 0; ty < th; ty++) {
                const float *m = M + (size_t)k * P + (size_t)b * nt + (size_t)ty * tw;
                for (int j = 0; j < 6; j++) {
                    const float *const in[6] = {m + (size_t)j * ps,        m + (size_t)(6 + j) * ps,
                                                m + (size_t)(12 + j) * ps, m + (size_t)(18 + j) * ps,
                                                m + (size_t)(24 + j) * ps, m + (size_t)(30 + j) * ps};
                    at_run(r + (size_t)j * tw, r + (size_t)(6 + j) * tw, in, tw);
                }
                if (down == 2) {
                    /* each tile is one 2x2 block: its sum, in upsample2d_backward's order */
                    float *ev1 = od + tw, *od1 = ev1 + tw, *dst = o + (size_t)ty * tw;
                    const float *q0 = r, *q1 = r + 6 * (size_t)tw;
                    const float *const in0[6] = {q0, q0 + tw, q0 + 2 * tw, q0 + 3 * tw, q0 + 4 * tw, q0 + 5 * tw};
                    const float *const in1[6] = {q1, q1 + tw, q1 + 2 * tw, q1 + 3 * tw, q1 + 4 * tw, q1 + 5 * tw};
                    at_run(ev, od, in0, tw);
                    at_run(ev1, od1, in1, tw);
                    for (int t = 0; t < tw; t++) dst[t] = (ev[t] + od[t]) + (ev1[t] + od1[t]);
                    continue;
                }
                for (int a = 0; a < 2; a++) {
                    const float *q = r + (size_t)a * 6 * tw;
                    const float *const in[6] = {q, q + tw, q + 2 * tw, q + 3 * tw, q + 4 * tw, q + 5 * tw};
                    at_run(ev, od, in, tw);
                    float *dst = o + (size_t)(2 * ty + a) * W;
                    for (int t = 0; t < tw; t++) {
                        dst[2 * t] = ev[t];
                        dst[2 * t + 1] = od[t];
                    }
                }
            }
        }
}

void svdd__winograd_grad_output(float *D, size_t ps, const float *dout, int nb, int K, int H, int W, float *rows) {
    const int th = H / 2, tw = W / 2, nt = th * tw;
    const size_t P = (size_t)nb * nt;
    /* rows: a gradient row split into even and odd columns, then the tile row's two gradient
     * rows transformed along x: (2, 6, tw) */
    float *ev = rows, *od = rows + tw, *r = rows + 2 * (size_t)tw;
    for (int b = 0; b < nb; b++)
        for (int k = 0; k < K; k++) {
            const float *g = dout + ((size_t)b * K + k) * H * W;
            for (int ty = 0; ty < th; ty++) {
                for (int a = 0; a < 2; a++) {
                    const float *s = g + (size_t)(2 * ty + a) * W;
                    for (int t = 0; t < tw; t++) {
                        ev[t] = s[2 * t];
                        od[t] = s[2 * t + 1];
                    }
                    float *ra = r + (size_t)a * 6 * tw;
                    float *const out[6] = {ra, ra + tw, ra + 2 * tw, ra + 3 * tw, ra + 4 * tw, ra + 5 * tw};
                    ag_run(out, ev, od, tw);
                }
                float *d = D + (size_t)k * P + (size_t)b * nt + (size_t)ty * tw;
                for (int j = 0; j < 6; j++) {
                    float *const out[6] = {d + (size_t)j * ps,        d + (size_t)(6 + j) * ps,
                                           d + (size_t)(12 + j) * ps, d + (size_t)(18 + j) * ps,
                                           d + (size_t)(24 + j) * ps, d + (size_t)(30 + j) * ps};
                    ag_run(out, r + (size_t)j * tw, r + (size_t)(6 + j) * tw, tw);
                }
            }
        }
}
