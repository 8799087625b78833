/* linear: torch.nn.Linear(I, O, bias=False). inp (B,I), w (O,I), out (B,O).
 *
 * A large layer (CIFAR-10's 2048 -> 128: 1% of the step's multiply-adds, but 2% of a two-thread
 * step's time while one thread ran it alone) is cut into LINEAR_BLOCKS blocks, of the batch's rows
 * for the output and of the inputs (columns) for both gradients, which the threads share. The
 * blocks do not depend on the thread count and no sum crosses a block, so the floats are the same
 * on any number of threads. A small one (MNIST's 196 -> 32) stays one product: in blocks it ran
 * no faster at two threads (docs/benchmarks.md), and the blocks would change its floats. */
#include "layers.h"

#define LINEAR_BLOCKS 8
#define LINEAR_SPLIT_MACS ((size_t)1 << 22)

static int blocked(int B, int I, int O) { return (size_t)B * I * O >= LINEAR_SPLIT_MACS; }

/* Threads for the blocks: at most one a block. */
static int block_threads(int threads) { return threads < 1 ? 1 : threads > LINEAR_BLOCKS ? LINEAR_BLOCKS : threads; }

void svdd__linear_forward(float *out, const float *inp, const float *w, int B, int I, int O, int threads) {
    if (!blocked(B, I, O)) {
        /* out (B,O) = inp (B,I) x w^T (I,O) */
        svdd__sgemm(0, 1, B, O, I, 1.0f, inp, I, w, I, 0.0f, out, O);
        return;
    }
    /* cppcheck-suppress unreadVariable ; read by the pragma, which cppcheck does not parse */
    const int T = block_threads(threads);
#pragma omp parallel for num_threads(T) schedule(static) if (T > 1)
    for (int k = 0; k < LINEAR_BLOCKS; k++) {
        const int b0 = B * k / LINEAR_BLOCKS, nb = B * (k + 1) / LINEAR_BLOCKS - b0;
        if (nb > 0) svdd__sgemm(0, 1, nb, O, I, 1.0f, inp + (size_t)b0 * I, I, w, I, 0.0f, out + (size_t)b0 * O, O);
    }
}

void svdd__linear_backward(float *dinp, float *dw, const float *dout, const float *inp, const float *w, int B, int I,
                           int O, int threads) {
    if (!blocked(B, I, O)) {
        /* dw (O,I) += dout^T (O,B) x inp (B,I) */
        svdd__sgemm(1, 0, O, I, B, 1.0f, dout, O, inp, I, 1.0f, dw, I);
        /* dinp (B,I) = dout (B,O) x w (O,I) */
        if (dinp) svdd__sgemm(0, 0, B, I, O, 1.0f, dout, O, w, I, 0.0f, dinp, I);
        return;
    }
    /* cppcheck-suppress unreadVariable ; read by the pragma, which cppcheck does not parse */
    const int T = block_threads(threads);
    /* both gradients by blocks of inputs (columns): OpenBLAS packs the right-hand matrix (here the
     * block's columns of inp or w) into a buffer of the calling thread's; blocks of the outputs'
     * rows, each with all 2048 columns, raised a CIFAR-10 run's peak by 0.4-0.7 MB */
#pragma omp parallel for num_threads(T) schedule(static) if (T > 1)
    for (int k = 0; k < LINEAR_BLOCKS; k++) {
        const int i0 = I * k / LINEAR_BLOCKS, ni = I * (k + 1) / LINEAR_BLOCKS - i0;
        if (ni == 0) continue;
        /* dw (O, ni) += dout^T (O,B) x inp (B, ni) */
        svdd__sgemm(1, 0, O, ni, B, 1.0f, dout, O, inp + i0, I, 1.0f, dw + i0, I);
        /* dinp (B, ni) = dout (B,O) x w (O, ni) */
        if (dinp) svdd__sgemm(0, 0, B, ni, O, 1.0f, dout, O, w + i0, I, 0.0f, dinp + i0, I);
    }
}
