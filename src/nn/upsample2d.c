/* upsample2d: torch.nn.functional.interpolate(x, scale_factor=2, mode='nearest').
 * inp (B,C,H,W), out (B,C,2H,2W): out[y][x] = inp[y/2][x/2]. */
#include "layers.h"

void svdd__upsample2d_forward(float *out, const float *inp, int B, int C, int H, int W) {
    const int Wo = 2 * W;
    for (size_t bc = 0; bc < (size_t)B * C; bc++) {
        const float *x = inp + bc * H * W;
        float *y = out + bc * 4 * H * W;
        for (int iy = 0; iy < H; iy++) {
            float *r0 = y + (size_t)(2 * iy) * Wo, *r1 = r0 + Wo;
            for (int ix = 0; ix < W; ix++) {
                float v = x[iy * W + ix];
                r0[2 * ix] = r0[2 * ix + 1] = r1[2 * ix] = r1[2 * ix + 1] = v;
            }
        }
    }
}

void svdd__upsample2d_backward(float *dinp, const float *dout, int B, int C, int H, int W) {
    const int Wo = 2 * W;
    for (size_t bc = 0; bc < (size_t)B * C; bc++) {
        float *dx = dinp + bc * H * W;
        const float *dy = dout + bc * 4 * H * W;
        for (int iy = 0; iy < H; iy++) {
            const float *r0 = dy + (size_t)(2 * iy) * Wo, *r1 = r0 + Wo;
            for (int ix = 0; ix < W; ix++)
                dx[iy * W + ix] = (r0[2 * ix] + r0[2 * ix + 1]) + (r1[2 * ix] + r1[2 * ix + 1]);
        }
    }
}
