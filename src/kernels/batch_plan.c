/* The batch-parallel layout and loop shared by conv2d and conv_transpose2d (see kernels.h). */
#include <omp.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

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
    p.extra = extra;
    p.slice = per_image * nb + extra;
    return p;
}

svdd__batch_plan svdd__plan_fixed(int B, int threads, size_t scratch, size_t extra) {
    svdd__batch_plan p;
    p.threads = threads < 1 ? 1 : threads;
    if (p.threads > B) p.threads = B > 0 ? B : 1;
    p.chunk = B > 0 ? (B + p.threads - 1) / p.threads : 1;
    p.extra = extra;
    p.slice = scratch + extra;
    return p;
}

/* The threads' work; with parts, each thread's weight gradient starts at zero. */
static void run_threads(const svdd__batch_plan *p, int B, float *ws, int parts, svdd__chunk_fn chunk, const void *ctx) {
#pragma omp parallel for num_threads(p->threads) schedule(static, 1)
    for (int t = 0; t < p->threads; t++) {
        /* thread t's images [lo, hi), its scratch, and its weight gradient at the end of it */
        const int lo = (int)((long)B * t / p->threads), hi = (int)((long)B * (t + 1) / p->threads);
        float *scratch = ws + p->slice * (size_t)t, *part = parts ? scratch + (p->slice - p->extra) : NULL;
        if (part) memset(part, 0, p->extra * sizeof(float));
        for (int b0 = lo; b0 < hi; b0 += p->chunk) chunk(ctx, scratch, part, b0, hi - b0 < p->chunk ? hi - b0 : p->chunk);
    }
}

void svdd__plan_run(const svdd__batch_plan *p, int B, float *ws, float *dw, svdd__chunk_fn chunk, const void *ctx) {
    run_threads(p, B, ws, dw != NULL, chunk, ctx);
    if (!dw) return;
    /* in thread order: deterministic for a given thread count */
    for (int t = 0; t < p->threads; t++) {
        const float *part = ws + p->slice * (size_t)t + (p->slice - p->extra);
        for (size_t i = 0; i < p->extra; i++) dw[i] += part[i];
    }
}

float *svdd__plan_run_sum(const svdd__batch_plan *p, int B, float *ws, svdd__chunk_fn chunk, const void *ctx) {
    run_threads(p, B, ws, 1, chunk, ctx);
    float *sum = ws + (p->slice - p->extra);
    for (int t = 1; t < p->threads; t++) {
        const float *part = ws + p->slice * (size_t)t + (p->slice - p->extra);
        for (size_t i = 0; i < p->extra; i++) sum[i] += part[i];
    }
    return sum;
}

/* Written by hand: OpenMP's schedules either fix each thread's units (static: a slowed core keeps
 * the other waiting) or hand any unit to any thread (dynamic: the thread that runs a group of
 * images differs from layer to layer, and each core reads maps the other just wrote, which cost
 * the MNIST encoder's batch norm more than the waiting). Here each thread keeps its share and
 * only the ends of the shares move.
 *
 * A share of units as one atomic word, the next unit to start in the low half and the end in the
 * high half: the owner takes from the front, the others from the back, each with one
 * compare-and-swap, so a unit is taken exactly once. */
#define SHARE(front, end) ((uint64_t)(uint32_t)(front) | (uint64_t)(uint32_t)(end) << 32)
#define SHARES_MAX 64

static int take(_Atomic uint64_t *share, int from_back) {
    uint64_t old = atomic_load_explicit(share, memory_order_relaxed);
    for (;;) {
        const int front = (int)(uint32_t)old, end = (int)(uint32_t)(old >> 32);
        if (front >= end) return -1;
        const uint64_t now = from_back ? SHARE(front, end - 1) : SHARE(front + 1, end);
        if (atomic_compare_exchange_weak_explicit(share, &old, now, memory_order_relaxed, memory_order_relaxed))
            return from_back ? end - 1 : front;
    }
}

void svdd__run_units(int n, int T, svdd__prep_fn prep, svdd__unit_fn fn, const void *ctx) {
    if (n <= 0) return; /* nor prep: an empty batch may come with no scratch */
    if (T < 1) T = 1;
    if (T > n) T = n;
    if (T > SHARES_MAX) T = SHARES_MAX;
    _Atomic uint64_t shares[SHARES_MAX];
    for (int t = 0; t < T; t++) atomic_init(&shares[t], SHARE((long)n * t / T, (long)n * (t + 1) / T));
#pragma omp parallel num_threads(T) if (T > 1)
    {
        const int t = omp_get_thread_num();
        if (prep) prep(ctx, t);
        int u;
        while ((u = take(&shares[t], 0)) >= 0) fn(ctx, t, u);
        /* then what the others have not started, from the ends of their shares (all T of them:
         * OpenMP may have started fewer threads) */
        for (int k = 1; k < T; k++)
            while ((u = take(&shares[(t + k) % T], 1)) >= 0) fn(ctx, t, u);
    }
}
