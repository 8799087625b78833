/* Evaluation-mode forward for scoring: only the stack's output is wanted.
 *
 * The layer-by-layer forward keeps every layer's output for the whole batch (Grad-CAM and the
 * mean feature maps read them) and pads each image again inside every convolution. Scoring needs
 * none of that, so the leading blocks of a stack (a direct convolution, then any of batch norm,
 * leaky ReLU with slope >= 0 and 2x2 max pooling, as in the MNIST encoder) run on groups of
 * eight images, each thread through all of them on its own slice of the batch:
 * - in a group every float is a vector of the eight images (src/kernels/conv_lanes.c): no lane
 *   idles on a row whose width is not a multiple of 8, loads are aligned, and pooling is a
 *   maximum of four vectors; the images left over (fewer than eight per thread) go one at a time
 *   through the per-image kernels (src/kernels/conv_direct.c), which give the same floats;
 * - each block writes its output straight into the next block's zero-padded input, whose borders
 *   are cleared once per call, so nothing is padded or copied between blocks;
 * - batch norm and the leaky ReLU run after the pooling, on a quarter of the values (both are
 *   non-decreasing, so they commute with taking a maximum), inside the pooling's store;
 * - a group's maps stay in the cache from one block to the next, and the threads meet once.
 * The last block writes its output where the layer-by-layer forward puts it, and the layers after
 * it (flatten, the linear layer) run as there, over the whole batch. So the output is that of
 * svdd__stack_forward(..., train = 0), up to the sign of a zero, for any thread count. */
#include <string.h>

#include "network.h"

/* A block: a direct convolution and the layers after it that run per plane. */
typedef struct infer_block {
    const svdd__layer *conv, *bn, *act, *pool, *last;
    size_t pad_off;   /* its padded input in a thread's scratch, one image */
    int Hp, Wp;       /* the padded input's rows and row length (svdd__conv_direct_pad_width) */
    size_t lanes_off; /* its padded input for eight images, (Cin, Hp, in_w + 2 pad, 8) */
} infer_block;

/* A thread's scratch, in floats from its start: the padded inputs of one image (borders zero),
 * then the convolution output of one image (the largest); then the same for groups of eight
 * images, and the last block's output of a group before it is dealt out to its images. Every
 * part starts on a 64-byte boundary. */
typedef struct infer_plan {
    infer_block b[SVDD__MAX_LAYERS];
    int n;              /* blocks */
    int next;           /* the first layer after them (0: no plan) */
    size_t out_off;     /* one image's convolution output */
    size_t lanes_begin; /* the first group padded input */
    size_t lanes_out;   /* a group's convolution output */
    size_t lanes_last;  /* a group's final output */
    size_t scratch;     /* floats of scratch per thread */
} infer_plan;

static int monotone_act(const svdd__layer *L) { return L->kind == SVDD__LEAKY_RELU && L->slope >= 0.0f; }

static void plan_blocks(const svdd__stack *st, infer_plan *p) {
    memset(p, 0, sizeof *p);
    size_t off = 0, conv_out = 0, lanes = 0;
    int i = 0;
    while (i < st->n) {
        const svdd__layer *C = &st->layers[i];
        int simd;
        if (C->kind != SVDD__CONV2D || !svdd__conv_direct_wanted(SVDD__CONV_AUTO, C->in_c, C->out_c, C->k, C->pad, &simd))
            break;
        infer_block *b = &p->b[p->n++];
        b->conv = b->last = C;
        i++;
        if (i < st->n && st->layers[i].kind == SVDD__BATCHNORM) b->bn = b->last = &st->layers[i++];
        if (i < st->n && monotone_act(&st->layers[i])) b->act = b->last = &st->layers[i++];
        if (i < st->n && st->layers[i].kind == SVDD__MAXPOOL2D) b->pool = b->last = &st->layers[i++];
        b->Hp = C->in_h + 2 * C->pad;
        b->Wp = svdd__conv_direct_pad_width(C->in_w, C->k, C->pad);
        b->pad_off = off;
        off += svdd__round16(svdd__conv_direct_pad_floats(C->in_c, C->in_h, C->in_w, C->k, C->pad));
        b->lanes_off = lanes;
        lanes += svdd__round16((size_t)C->in_c * b->Hp * (C->in_w + 2 * C->pad) * SVDD__LANES8);
        const size_t o = (size_t)C->out_c * C->out_h * C->out_w;
        if (o > conv_out) conv_out = o;
    }
    if (!p->n) return;
    const svdd__layer *last = p->b[p->n - 1].last;
    p->next = i;
    p->out_off = off;
    p->lanes_begin = off + svdd__round16(conv_out);
    for (int k = 0; k < p->n; k++) p->b[k].lanes_off += p->lanes_begin;
    p->lanes_out = p->lanes_begin + lanes;
    p->lanes_last = p->lanes_out + svdd__round16(conv_out * SVDD__LANES8);
    p->scratch = p->lanes_last + svdd__round16((size_t)last->out_c * last->out_h * last->out_w * SVDD__LANES8);
}

/* What block B applies to channel c's values after its convolution (before or after pooling). */
static svdd__pool_post block_post(const svdd_net *net, const infer_block *B, int c) {
    svdd__pool_post post = {0.0f, 1.0f, B->act ? B->act->slope : 0.0f, B->act != NULL};
    if (B->bn) {
        const float *rm = net->state + B->bn->stat_off, *rv = rm + B->bn->in_c;
        post.m = rm[c];
        post.r = svdd__batchnorm_eval_scale(rv[c], B->bn->eps);
    }
    return post;
}

size_t svdd__stack_infer_scratch(const svdd__stack *st) {
    infer_plan p;
    plan_blocks(st, &p);
    return p.scratch;
}

/* Image b through the blocks, on thread scratch s (the padded inputs' borders already zero). */
static void infer_image(const svdd_net *net, const infer_plan *p, const float *x, int b, float *s, int simd) {
    const infer_block *first = &p->b[0];
    const svdd__layer *C0 = first->conv;
    const size_t in_sz = (size_t)C0->in_c * C0->in_h * C0->in_w;
    float *xp = s + first->pad_off;
    for (int c = 0; c < C0->in_c; c++)
        for (int y = 0; y < C0->in_h; y++)
            memcpy(xp + ((size_t)c * first->Hp + y + C0->pad) * first->Wp + C0->pad,
                   x + (size_t)b * in_sz + ((size_t)c * C0->in_h + y) * C0->in_w, sizeof(float) * (size_t)C0->in_w);
    float *out = s + p->out_off;
    for (int k = 0; k < p->n; k++) {
        const infer_block *B = &p->b[k];
        const svdd__layer *C = B->conv;
        svdd__conv_direct_forward_padded(out, s + B->pad_off, net->params + C->w_off, C->in_c, C->in_h, C->in_w,
                                         C->out_c, C->k, C->pad, simd);
        /* where the planes go: the next block's padded input, or the last layer's output */
        float *dst;
        size_t ld, plane;
        if (k + 1 < p->n) {
            const infer_block *N = &p->b[k + 1];
            dst = s + N->pad_off + (size_t)N->conv->pad * N->Wp + N->conv->pad;
            ld = (size_t)N->Wp;
            plane = (size_t)N->Hp * N->Wp;
        } else {
            const svdd__layer *L = B->last;
            plane = (size_t)L->out_h * L->out_w;
            dst = L->out + (size_t)b * L->out_c * plane;
            ld = (size_t)L->out_w;
        }
        const size_t S = (size_t)C->out_h * C->out_w;
        for (int c = 0; c < C->out_c; c++) {
            const svdd__pool_post post = block_post(net, B, c);
            svdd__maxpool2d_plane_post(dst + (size_t)c * plane, ld, out + (size_t)c * S, C->out_h, C->out_w, &post,
                                       B->pool != NULL, simd);
        }
    }
}

/* Images b0..b0+7 through the blocks, one per lane (src/kernels/conv_lanes.c): the same floats
 * as infer_image gives each of them. */
static void infer_group(const svdd_net *net, const infer_plan *p, const float *x, int b0, float *s, int simd) {
    const infer_block *first = &p->b[0];
    const svdd__layer *C0 = first->conv;
    const size_t in_sz = (size_t)C0->in_c * C0->in_h * C0->in_w;
    svdd__lanes_gather_images(s + first->lanes_off, x + (size_t)b0 * in_sz, in_sz, C0->in_c, C0->in_h, C0->in_w,
                              C0->pad, simd);
    float *out = s + p->lanes_out;
    for (int k = 0; k < p->n; k++) {
        const infer_block *B = &p->b[k];
        const svdd__layer *C = B->conv;
        svdd__conv_lanes_forward(out, s + B->lanes_off, net->params + C->w_off, C->in_c, C->in_h, C->in_w, C->out_c,
                                 C->k, C->pad, simd);
        float *dst;
        size_t ld, plane;
        if (k + 1 < p->n) {
            const infer_block *N = &p->b[k + 1];
            const int P = N->conv->pad, Wq = N->conv->in_w + 2 * P;
            dst = s + N->lanes_off + ((size_t)P * Wq + P) * SVDD__LANES8;
            ld = (size_t)Wq * SVDD__LANES8;
            plane = (size_t)N->Hp * Wq * SVDD__LANES8;
        } else {
            const svdd__layer *L = B->last;
            dst = s + p->lanes_last;
            ld = (size_t)L->out_w * SVDD__LANES8;
            plane = (size_t)L->out_h * L->out_w * SVDD__LANES8;
        }
        const size_t S = (size_t)C->out_h * C->out_w * SVDD__LANES8;
        for (int c = 0; c < C->out_c; c++) {
            const svdd__pool_post post = block_post(net, B, c);
            svdd__maxpool2d_lanes_post(dst + (size_t)c * plane, ld, out + (size_t)c * S, C->out_h, C->out_w, &post,
                                       B->pool != NULL, simd);
        }
    }
    /* dealt out to the images, where the layer-by-layer forward puts them */
    const svdd__layer *L = p->b[p->n - 1].last;
    const size_t n = (size_t)L->out_c * L->out_h * L->out_w;
    svdd__lanes_scatter(L->out + (size_t)b0 * n, n, s + p->lanes_last, (int)n, simd);
}

const float *svdd__stack_infer(svdd_net *net, svdd__stack *st, const float *x, int B) {
    infer_plan p;
    plan_blocks(st, &p);
    int T = net->threads < net->ws.threads ? net->threads : net->ws.threads;
    if (T > B) T = B;
    if (T < 1) T = 1;
    /* the workspace was reserved with room for this (svdd__net_reserve); a network reserved
     * otherwise takes the layer-by-layer path */
    if (!p.n || p.scratch * (size_t)T > net->ws.size) return svdd__stack_forward(net, st, x, B, 0);
    const int simd = svdd__cpu_avx2_fma();
#pragma omp parallel for num_threads(T) schedule(static, 1) if (T > 1)
    for (int t = 0; t < T; t++) {
        float *s = net->ws.data + p.scratch * (size_t)t;
        const int lo = (int)((long)B * t / T), hi = (int)((long)B * (t + 1) / T);
        const int groups = (hi - lo) / SVDD__LANES8;
        /* the padded inputs' borders */
        memset(s, 0, sizeof(float) * p.out_off);
        if (groups) memset(s + p.lanes_begin, 0, sizeof(float) * (p.lanes_out - p.lanes_begin));
        for (int g = 0; g < groups; g++) infer_group(net, &p, x, lo + g * SVDD__LANES8, s, simd);
        for (int b = lo + groups * SVDD__LANES8; b < hi; b++) infer_image(net, &p, x, b, s, simd);
    }
    st->input = x;
    return svdd__stack_forward_from(net, st, p.b[p.n - 1].last->out, B, 0, p.next);
}
