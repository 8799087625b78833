/* im2col / col2im for stride-1 convolutions with zero padding, over a chunk of images.
 *
 * The rows copied here are 4 to 32 floats long: plain loops beat a libc call per row, so GCC is
 * told not to turn them back into memcpy/memset calls. */
#if defined(__GNUC__) && !defined(__clang__) /* clang has no such pass (nor the pragma) */
#pragma GCC optimize("no-tree-loop-distribute-patterns")
#endif
#include <string.h>

#include "kernels.h"

/* col is (C*K*K, nb*Ho*Wo): row r = (c*K + ky)*K + kx, column j = b*Ho*Wo + oy*Wo + ox. Rows are
 * filled one at a time so that the inner loop is a contiguous copy of an input row segment. */
void svdd__im2col(float *col, const float *inp, int nb, int C, int H, int W, int K, int P, int Ho, int Wo) {
    const size_t S = (size_t)Ho * Wo, N = (size_t)nb * S;
    for (int c = 0; c < C; c++)
        for (int ky = 0; ky < K; ky++)
            for (int kx = 0; kx < K; kx++) {
                float *row = col + ((size_t)(c * K + ky) * K + kx) * N;
                /* valid output columns: 0 <= ox + kx - P < W */
                int x0 = P - kx > 0 ? P - kx : 0;
                int x1 = W + P - kx < Wo ? W + P - kx : Wo;
                for (int b = 0; b < nb; b++) {
                    const float *img = inp + ((size_t)b * C + c) * H * W;
                    float *dst = row + (size_t)b * S;
                    for (int oy = 0; oy < Ho; oy++) {
                        int y = oy + ky - P;
                        float *d = dst + (size_t)oy * Wo;
                        if (y < 0 || y >= H || x0 >= x1) {
                            for (int ox = 0; ox < Wo; ox++) d[ox] = 0.0f;
                            continue;
                        }
                        const float *s = img + (size_t)y * W + (kx - P);
                        for (int ox = 0; ox < x0; ox++) d[ox] = 0.0f;
                        for (int ox = x0; ox < x1; ox++) d[ox] = s[ox];
                        for (int ox = x1; ox < Wo; ox++) d[ox] = 0.0f;
                    }
                }
            }
}

void svdd__col2im(float *inp, const float *col, int nb, int C, int H, int W, int K, int P, int Ho, int Wo) {
    const size_t S = (size_t)Ho * Wo, N = (size_t)nb * S;
    memset(inp, 0, sizeof(float) * (size_t)nb * C * H * W);
    for (int c = 0; c < C; c++)
        for (int ky = 0; ky < K; ky++)
            for (int kx = 0; kx < K; kx++) {
                const float *row = col + ((size_t)(c * K + ky) * K + kx) * N;
                int x0 = P - kx > 0 ? P - kx : 0;
                int x1 = W + P - kx < Wo ? W + P - kx : Wo;
                if (x0 >= x1) continue;
                for (int b = 0; b < nb; b++) {
                    float *img = inp + ((size_t)b * C + c) * H * W;
                    const float *src = row + (size_t)b * S;
                    for (int oy = 0; oy < Ho; oy++) {
                        int y = oy + ky - P;
                        if (y < 0 || y >= H) continue;
                        float *d = img + (size_t)y * W + (kx - P);
                        const float *s = src + (size_t)oy * Wo;
                        for (int ox = x0; ox < x1; ox++) d[ox] += s[ox];
                    }
                }
            }
}

void svdd__nchw_to_cnhw(float *dst, const float *src, int nb, int C, int S) {
    for (int b = 0; b < nb; b++)
        for (int c = 0; c < C; c++)
            memcpy(dst + ((size_t)c * nb + b) * S, src + ((size_t)b * C + c) * S, sizeof(float) * (size_t)S);
}

void svdd__cnhw_to_nchw(float *dst, const float *src, int nb, int C, int S) {
    for (int b = 0; b < nb; b++)
        for (int c = 0; c < C; c++)
            memcpy(dst + ((size_t)b * C + c) * S, src + ((size_t)c * nb + b) * S, sizeof(float) * (size_t)S);
}

/* The upsampled layouts: the input of a transposed convolution that follows a nearest-neighbour
 * 2x upsampling is read from the small map, so the upsampled one (4x the floats) is never stored. */
void svdd__nchw_to_cnhw_up2(float *dst, const float *src, int nb, int C, int h, int w) {
    const size_t s = (size_t)h * w, S = 4 * s, Wo = 2 * (size_t)w;
    for (int b = 0; b < nb; b++)
        for (int c = 0; c < C; c++) {
            const float *x = src + ((size_t)b * C + c) * s;
            float *y = dst + ((size_t)c * nb + b) * S;
            for (int iy = 0; iy < h; iy++) {
                float *r0 = y + 2 * (size_t)iy * Wo, *r1 = r0 + Wo;
                for (int ix = 0; ix < w; ix++) {
                    const float v = x[(size_t)iy * w + ix];
                    r0[2 * ix] = r0[2 * ix + 1] = r1[2 * ix] = r1[2 * ix + 1] = v;
                }
            }
        }
}

void svdd__cnhw_to_nchw_down2(float *dst, const float *src, int nb, int C, int h, int w) {
    const size_t s = (size_t)h * w, S = 4 * s, Wo = 2 * (size_t)w;
    for (int b = 0; b < nb; b++)
        for (int c = 0; c < C; c++) {
            const float *y = src + ((size_t)c * nb + b) * S;
            float *x = dst + ((size_t)b * C + c) * s;
            for (int iy = 0; iy < h; iy++) {
                const float *r0 = y + 2 * (size_t)iy * Wo, *r1 = r0 + Wo;
                /* the summation order of svdd__upsample2d_backward: the same floats */
                for (int ix = 0; ix < w; ix++)
                    x[(size_t)iy * w + ix] = (r0[2 * ix] + r0[2 * ix + 1]) + (r1[2 * ix] + r1[2 * ix + 1]);
            }
        }
}
