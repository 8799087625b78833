/* maxpool2d: torch.nn.MaxPool2d(2, 2). inp (B,C,H,W), out (B,C,H/2,W/2), odd edges dropped. */
#include <string.h>

#include "layers.h"

/* Index (0..3) of the first maximum of a 2x2 window in row-major order; NaN wins as in PyTorch. */
static inline int argmax4(const float *p, int W) {
    float v[4] = {p[0], p[1], p[W], p[W + 1]};
    int best = 0;
    for (int k = 1; k < 4; k++)
        if (v[k] > v[best] || (v[k] != v[k] && v[best] == v[best])) best = k;
    return best;
}

void svdd__maxpool2d_forward(float *out, const float *inp, int B, int C, int H, int W) {
    const int Ho = H / 2, Wo = W / 2;
    for (size_t bc = 0; bc < (size_t)B * C; bc++) {
        const float *x = inp + bc * H * W;
        float *y = out + bc * Ho * Wo;
        for (int oy = 0; oy < Ho; oy++)
            for (int ox = 0; ox < Wo; ox++) {
                const float *p = x + (size_t)(2 * oy) * W + 2 * ox;
                int k = argmax4(p, W);
                y[oy * Wo + ox] = p[(k >> 1) * W + (k & 1)];
            }
    }
}

void svdd__maxpool2d_backward(float *dinp, const float *dout, const float *inp, int B, int C, int H,
                              int W) {
    const int Ho = H / 2, Wo = W / 2;
    memset(dinp, 0, sizeof(float) * (size_t)B * C * H * W);
    for (size_t bc = 0; bc < (size_t)B * C; bc++) {
        const float *x = inp + bc * H * W;
        float *dx = dinp + bc * H * W;
        const float *dy = dout + bc * Ho * Wo;
        for (int oy = 0; oy < Ho; oy++)
            for (int ox = 0; ox < Wo; ox++) {
                size_t base = (size_t)(2 * oy) * W + 2 * ox;
                int k = argmax4(x + base, W);
                dx[base + (size_t)(k >> 1) * W + (k & 1)] = dy[oy * Wo + ox];
            }
    }
}
