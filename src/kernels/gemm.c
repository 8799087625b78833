/* Matrix products through OpenBLAS. */
#include <cblas.h>

#include "kernels.h"

void svdd__sgemm(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                 const float *B, int ldb, float beta, float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) {
        /* BLAS leaves C untouched only when beta == 1; make the empty product explicit. */
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) C[(size_t)i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[(size_t)i * ldc + j];
        return;
    }
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K,
                alpha, A, lda, B, ldb, beta, C, ldc);
}

void svdd__gemm_single_thread(void) {
    /* OpenBLAS keeps its thread count process-wide; setting it to 1 is idempotent and cheap. */
    openblas_set_num_threads(1);
}
