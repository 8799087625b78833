/* The batch-parallel layout shared by conv2d and conv_transpose2d (see kernels.h). */
#include "kernels.h"

svdd__batch_plan svdd__plan_batch(int B, int threads, size_t per_image, size_t extra, size_t chunk_floats) {
    svdd__batch_plan p;
    p.threads = threads < 1 ? 1 : threads;
    if (p.threads > B) p.threads = B > 0 ? B : 1;
    int per_thread = (B + p.threads - 1) / p.threads;
    size_t nb = chunk_floats / (per_image ? per_image : 1);
    if (nb < 1) nb = 1;
    if (nb > (size_t)per_thread) nb = (size_t)(per_thread > 0 ? per_thread : 1);
    p.chunk = (int)nb;
    p.slice = per_image * nb + extra;
    return p;
}

void svdd__plan_slice(const svdd__batch_plan *p, int B, int t, int *lo, int *hi) {
    *lo = (int)((long)B * t / p->threads);
    *hi = (int)((long)B * (t + 1) / p->threads);
}

void svdd__plan_reduce(const svdd__batch_plan *p, const float *ws, float *dw, size_t n) {
    for (int t = 0; t < p->threads; t++) {
        const float *part = ws + p->slice * (size_t)t + (p->slice - n);
        for (size_t i = 0; i < n; i++) dw[i] += part[i];
    }
}
