/* Element-wise layers: leaky_relu (torch.nn.functional.leaky_relu) and sigmoid (torch.sigmoid). */
#include <math.h>

#include "layers.h"

void svdd__leaky_relu_forward(float *out, const float *inp, size_t n, float slope) {
    for (size_t i = 0; i < n; i++) out[i] = inp[i] > 0.0f ? inp[i] : inp[i] * slope;
}

/* PyTorch's derivative at exactly 0 is the slope (its test is x > 0); ours matches. */
void svdd__leaky_relu_backward(float *dinp, const float *dout, const float *inp, size_t n, float slope) {
    for (size_t i = 0; i < n; i++) dinp[i] = inp[i] > 0.0f ? dout[i] : dout[i] * slope;
}

/* The same where the leaky ReLU overwrote its input y (slope > 0, so y > 0 exactly where the
 * input was), also turning the input back into x (y itself, or a buffer of the caller's): y /
 * slope where y < 0, within a rounding of the original. */
static inline __attribute__((always_inline)) void backward_restore(float *dinp, const float *dout, float *x,
                                                                   const float *y, size_t n, float slope) {
    /* both stores unconditional: the loop becomes blends over vectors (signs are random, a
     * branch would be mispredicted half the time) */
    for (size_t i = 0; i < n; i++) {
        const float v = y[i], g = dout[i];
        dinp[i] = v > 0.0f ? g : g * slope;
        x[i] = v > 0.0f ? v : v / slope;
    }
}

void svdd__leaky_relu_backward_restore(float *dinp, const float *dout, float *y, size_t n, float slope) {
    backward_restore(dinp, dout, y, y, n, slope);
}

#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
/* Eight floats a division instead of four: the divisions bound this loop, 5% of an MNIST encoder
 * step on the SSE2 build. Divisions and products round the same at any width. */
__attribute__((target("avx2,fma"))) static void backward_restore_avx2(float *dinp, const float *dout, float *x,
                                                                      const float *y, size_t n, float slope) {
    backward_restore(dinp, dout, x, y, n, slope);
}
#endif

void svdd__leaky_relu_backward_restore_to(float *dinp, const float *dout, float *x, const float *y, size_t n,
                                          float slope, int simd) {
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
    if (simd) {
        backward_restore_avx2(dinp, dout, x, y, n, slope);
        return;
    }
#else
    (void)simd;
#endif
    backward_restore(dinp, dout, x, y, n, slope);
}

void svdd__leaky_relu_backward_restore_as(float *dinp, const float *dout, float *y, size_t n, float slope, int simd) {
    svdd__leaky_relu_backward_restore_to(dinp, dout, y, y, n, slope, simd);
}

void svdd__sigmoid_forward(float *out, const float *inp, size_t n) {
    /* Two branches so that exp never overflows. */
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        if (x >= 0.0f) {
            out[i] = 1.0f / (1.0f + expf(-x));
        } else {
            float e = expf(x);
            out[i] = e / (1.0f + e);
        }
    }
}

void svdd__sigmoid_backward(float *dinp, const float *dout, const float *out, size_t n) {
    for (size_t i = 0; i < n; i++) dinp[i] = dout[i] * out[i] * (1.0f - out[i]);
}
