/* linear: torch.nn.Linear(I, O, bias=False). inp (B,I), w (O,I), out (B,O). */
#include "layers.h"

void svdd__linear_forward(float *out, const float *inp, const float *w, int B, int I, int O) {
    /* out (B,O) = inp (B,I) x w^T (I,O) */
    svdd__sgemm(0, 1, B, O, I, 1.0f, inp, I, w, I, 0.0f, out, O);
}

void svdd__linear_backward(float *dinp, float *dw, const float *dout, const float *inp, const float *w,
                           int B, int I, int O) {
    /* dw (O,I) += dout^T (O,B) x inp (B,I) */
    svdd__sgemm(1, 0, O, I, B, 1.0f, dout, O, inp, I, 1.0f, dw, I);
    /* dinp (B,I) = dout (B,O) x w (O,I) */
    if (dinp) svdd__sgemm(0, 0, B, I, O, 1.0f, dout, O, w, I, 0.0f, dinp, I);
}
