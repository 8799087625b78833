/* The hot loops under the layers: matrix products (OpenBLAS) and the im2col / col2im
 * re-arrangements that turn a convolution into one. The layers in src/nn stay plain; the
 * speed lives here. */
#ifndef SVDD_KERNELS_H
#define SVDD_KERNELS_H

#include <stddef.h>

#include "../core/core.h"

/* Scratch memory owned by a network and lent to the layers during one pass, with the number of
 * threads the layers may use (each thread gets its own slice of the scratch). */
typedef struct svdd__workspace {
    float *data;
    size_t size; /* floats */
    int threads; /* >= 1 */
} svdd__workspace;

/* C (M,N) = alpha * op(A) op(B) + beta * C, row-major; ta/tb transpose A/B. Thin wrapper over
 * cblas_sgemm so that the rest of the code does not include cblas.h. */
void svdd__sgemm(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                 const float *B, int ldb, float beta, float *C, int ldc);

/* Make every matrix product single-threaded: the layers thread over images themselves (one
 * OpenMP thread per slice of the batch), which keeps the small products of these networks
 * efficient and leaves no BLAS threads spinning beside ours. */
void svdd__gemm_single_thread(void);

/* col (C*K*K, nb*Ho*Wo): column j = b*Ho*Wo + oy*Wo + ox holds, for each (c,ky,kx), the pixel
 * inp[b, c, oy + ky - P, ox + kx - P] (0 outside). inp is nb images of (C,H,W). */
void svdd__im2col(float *col, const float *inp, int nb, int C, int H, int W, int K, int P, int Ho, int Wo);
/* The adjoint of im2col: inp[b,c,y,x] = sum of the col entries that read it (overwrites inp). */
void svdd__col2im(float *inp, const float *col, int nb, int C, int H, int W, int K, int P, int Ho, int Wo);

/* (nb, C, S) <-> (C, nb, S) re-layouts between a batch and one wide matrix. */
void svdd__nchw_to_cnhw(float *dst, const float *src, int nb, int C, int S);
void svdd__cnhw_to_nchw(float *dst, const float *src, int nb, int C, int S);

/* How a batch-parallel convolution lays out its scratch: the batch is cut into one contiguous
 * slice of images per thread, each slice processed in chunks of at most `chunk` images, and each
 * thread owns `slice` floats of the workspace: a chunk's matrices (per_image floats an image)
 * followed by `extra` floats (its private weight gradient). Depends only on the shapes and the
 * thread count. */
typedef struct svdd__batch_plan {
    int threads;  /* min(requested, B) */
    int chunk;    /* images per chunk */
    size_t extra; /* floats of a thread's private weight gradient, at the end of its slice */
    size_t slice; /* floats of workspace per thread */
} svdd__batch_plan;

/* chunk_floats: the scratch budget of one chunk. */
svdd__batch_plan svdd__plan_batch(int B, int threads, size_t per_image, size_t extra, size_t chunk_floats);

/* One chunk of a convolution: images [b0, b0 + nb), the thread's scratch (the chunk's matrices)
 * and, in backward, the thread's weight gradient to accumulate into (NULL in forward). */
typedef void (*svdd__chunk_fn)(const void *ctx, float *scratch, float *dw_part, int b0, int nb);

/* Run `chunk` over the B images, one OpenMP thread per slice of the plan, each on its own slice
 * of ws. With dw: each thread's weight gradient (`extra` floats) starts at zero, and dw += all
 * of them in thread order at the end (deterministic for a given thread count); NULL in forward. */
void svdd__plan_run(const svdd__batch_plan *p, int B, float *ws, float *dw, svdd__chunk_fn chunk, const void *ctx);

#endif
