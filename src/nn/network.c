/* Building a network from its spec, and running its stacks forward and backward. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "network.h"

size_t svdd__stack_out_size(const svdd__stack *st) { return (size_t)st->out_c * st->out_h * st->out_w; }
size_t svdd__stack_in_size(const svdd__stack *st) { return (size_t)st->in_c * st->in_h * st->in_w; }

static void init_params(svdd_net *net, uint64_t seed) {
    svdd__rng rng;
    svdd__rng_seed(&rng, seed, 0x5eed);
    for (int s = 0; s < 2; s++) {
        svdd__stack *st = s == 0 ? &net->enc : &net->dec;
        for (int i = 0; i < st->n; i++) {
            svdd__layer *L = &st->layers[i];
            if (L->kind == SVDD__BATCHNORM) {
                /* running mean 0, running variance 1, as a fresh torch BatchNorm */
                for (int c = 0; c < L->in_c; c++) {
                    net->state[L->stat_off + (size_t)c] = 0.0f;
                    net->state[L->stat_off + (size_t)L->in_c + (size_t)c] = 1.0f;
                }
            }
            if (!L->w_len) continue;
            float *w = net->params + L->w_off;
            size_t kk = (size_t)L->k * L->k, fan_in, fan_out;
            if (L->kind == SVDD__CONV2D) { /* (Cout, Cin, K, K) */
                fan_in = (size_t)L->in_c * kk;
                fan_out = (size_t)L->out_c * kk;
            } else if (L->kind == SVDD__CONV_TRANSPOSE2D) { /* (Cin, Cout, K, K): PyTorch's fans swap */
                fan_in = (size_t)L->out_c * kk;
                fan_out = (size_t)L->in_c * kk;
            } else { /* linear (O, I) */
                fan_in = L->w_len / (size_t)L->out_c;
                fan_out = (size_t)L->out_c;
            }
            if (L->init == SVDD__INIT_XAVIER_LEAKY)
                svdd__init_xavier_uniform(w, L->w_len, fan_in, fan_out, svdd__gain_leaky_relu(L->slope), &rng);
            else
                svdd__init_default(w, L->w_len, fan_in, &rng);
        }
    }
}

svdd_status svdd_net_create(svdd_net **out, const char *spec, const char *spec_name, uint64_t seed,
                            svdd_error *err) {
    if (!out || !spec) return svdd__fail(err, SVDD_E_INVALID, "svdd_net_create: NULL argument");
    *out = NULL;
    svdd_net *net = calloc(1, sizeof *net);
    if (!net) return svdd__fail(err, SVDD_E_NOMEM, "out of memory");
    net->threads = 1;
    net->pool_one_round_extra = SVDD__POOL_ONE_ROUND_EXTRA;
    svdd_status st = svdd__spec_parse(net, spec, spec_name, err);
    if (st != SVDD_OK) {
        svdd_net_free(net);
        return st;
    }
    net->spec = svdd__strdup(spec);
    /* params, grads, m, v, vmax: five mirrors of one layout in one allocation */
    net->params = svdd__calloc(net->n_params * 5 + 1, sizeof(float));
    net->state = svdd__calloc(net->n_state + 1, sizeof(float));
    if (!net->spec || !net->params || !net->state) {
        size_t n_params = net->n_params; /* read before the free, not after */
        svdd_net_free(net);
        return svdd__fail(err, SVDD_E_NOMEM, "%s: out of memory for %zu parameters", spec_name ? spec_name : "spec",
                          n_params);
    }
    net->grads = net->params + net->n_params;
    net->adam_m = net->grads + net->n_params;
    net->adam_v = net->adam_m + net->n_params;
    net->adam_vmax = net->adam_v + net->n_params;
    init_params(net, seed);
    *out = net;
    svdd__ok(err);
    return SVDD_OK;
}

static void release_buffers(svdd_net *net) {
    free(net->cache_block);
    free(net->grad_block);
    free(net->dlatent);
    free(net->ws.data);
    free(net->bn_stats);
    net->cache_block = net->grad_block = net->dlatent = net->ws.data = NULL;
    net->bn_stats = NULL;
    net->grad_len = 0;
    net->ws.size = 0;
    net->ws.threads = 0;
    net->cap = 0;
}

void svdd__net_release(svdd_net *net) {
    if (net) release_buffers(net);
}

void svdd_net_free(svdd_net *net) {
    if (!net) return;
    release_buffers(net);
    free(net->enc.layers);
    free(net->dec.layers);
    free(net->spec);
    free(net->params);
    free(net->state);
    free(net);
}

/* 2 when layer i reads its input through the fused upsampling before it, else 1. */
static int input_upsampled(const svdd__stack *st, int i) {
    return i > 0 && st->layers[i - 1].out_kind == SVDD__OUT_FUSED ? 2 : 1;
}

static size_t layer_workspace(const svdd__stack *st, int i, int B, int threads) {
    const svdd__layer *L = &st->layers[i];
    if (L->kind == SVDD__CONV2D)
        return svdd__conv2d_workspace(B, L->in_c, L->in_h, L->in_w, L->out_c, L->k, L->pad, threads);
    if (L->kind == SVDD__CONV_TRANSPOSE2D)
        return svdd__conv_transpose2d_workspace_as(B, L->in_c, L->in_h, L->in_w, L->out_c, L->k, L->pad,
                                                   input_upsampled(st, i), threads, SVDD__CONV_AUTO);
    if (L->kind == SVDD__BATCHNORM) return 2 * svdd__batchnorm_split_doubles(L->in_c, B); /* doubles */
    return 0;
}

static int is_product(svdd__layer_kind k) {
    return k == SVDD__CONV2D || k == SVDD__CONV_TRANSPOSE2D || k == SVDD__LINEAR;
}

/* Layers whose backward may write the input gradient over the output gradient: each input
 * element's gradient depends only on the output gradient at the same index and, for batch norm,
 * on per-channel sums taken before anything is written. */
static int backward_in_place(svdd__layer_kind k) {
    return k == SVDD__BATCHNORM || k == SVDD__LEAKY_RELU || k == SVDD__SIGMOID;
}

/* Where each layer's output goes. Training keeps, for the backward pass, each product layer's
 * input, batch norm's and sigmoid's own output (their backward formulas use it) and max
 * pooling's and leaky ReLU's input; nothing ever reads a convolution's or linear layer's output
 * except the layer after it, so batch norm and sigmoid overwrite it. A leaky ReLU with a
 * positive slope overwrites batch norm's output in turn: its own derivative needs only the sign,
 * which it keeps, and its backward puts batch norm's output back (y / slope where y < 0) before
 * batch norm's backward reads it; so the largest activations of a step are stored once, not
 * twice (46 MB for the CIFAR-10 encoder at batch 200). Flatten and reshape change no value. A
 * decoder's upsampling followed by a transposed convolution is not stored at all: the
 * convolution reads its input through it (upsample_fused), so the leaky ReLU before it is
 * stored, in place over batch norm as above. Before any other upsampling a decoder's leaky ReLU
 * is read only by that upsampling's forward (whose backward needs no input), so it lives in the
 * gradient buffer, unused during a forward. The encoder's activations and pooled maps stay
 * readable after a forward: the heat maps and the mean feature maps read them. */
int svdd__output_overwritten(const svdd__stack *st, int i) {
    if (i < 0 || i + 1 >= st->n) return 0;
    const svdd__layer_kind next = st->layers[i + 1].kind;
    /* (not where the leaky ReLU feeds an upsampling that no transposed convolution reads: in a
     * decoder it then lives in the gradient buffer, see plan_outputs) */
    if (st->layers[i].kind == SVDD__BATCHNORM)
        return next == SVDD__LEAKY_RELU && st->layers[i + 1].slope > 0 &&
               !(i + 2 < st->n && st->layers[i + 2].kind == SVDD__UPSAMPLE2D &&
                 !(i + 3 < st->n && st->layers[i + 3].kind == SVDD__CONV_TRANSPOSE2D));
    return (next == SVDD__BATCHNORM || next == SVDD__SIGMOID) && is_product(st->layers[i].kind);
}

/* Whether layer i is a decoder's upsampling that the transposed convolution after it reads
 * through its own input (conv_transpose2d.c, up = 2): the upsampled map, four times its input,
 * is then never stored. Only in a decoder: an encoder's layer outputs stay readable (heat maps). */
static int upsample_fused(const svdd__stack *st, int i, int decoder) {
    return decoder && i >= 0 && i + 1 < st->n && st->layers[i].kind == SVDD__UPSAMPLE2D &&
           st->layers[i + 1].kind == SVDD__CONV_TRANSPOSE2D;
}

static void plan_outputs(svdd__stack *st, int decoder) {
    for (int i = 0; i < st->n; i++) {
        svdd__layer *L = &st->layers[i];
        L->out_kind = SVDD__OUT_OWN;
        if (L->kind == SVDD__FLATTEN || L->kind == SVDD__RESHAPE)
            L->out_kind = SVDD__OUT_ALIAS;
        else if (upsample_fused(st, i, decoder))
            L->out_kind = SVDD__OUT_FUSED;
        else if (svdd__output_overwritten(st, i - 1))
            L->out_kind = SVDD__OUT_INPLACE;
        else if (decoder && L->kind == SVDD__LEAKY_RELU && i + 1 < st->n &&
                 st->layers[i + 1].kind == SVDD__UPSAMPLE2D && !upsample_fused(st, i + 1, decoder))
            L->out_kind = SVDD__OUT_TRANSIENT;
    }
}

/* Max pooling's backward writes an input gradient four times its output gradient, from the
 * other end of the gradient buffer (CIFAR-10's first pooling: 32 768 + 8 192 floats an image,
 * the largest pair of the network). The two may overlap in a buffer of G < (in + out) B floats
 * when the images go in two rounds: first those whose input gradient stays clear of every output
 * gradient, then the rest, whose output gradients lie beyond every input gradient they write;
 * what those overwrite belonged to images of the first round, already read. Both layouts: the
 * output gradient at the end and the input gradient from the start (g_end), or the other way
 * round. Where the images split into the two rounds: */
static size_t pool_split(size_t in, size_t out, size_t B, size_t G, int g_end) {
    size_t split;
    if (g_end) {
        split = (G - out * B) / in; /* [0, split) first */
    } else {
        const size_t d0 = G - in * B; /* the input gradients start at d0; [split, B) first */
        split = out * B > d0 ? (out * B - d0 + in - 1) / in : 0;
    }
    return split < B ? split : B;
}

static int pool_fits(size_t in, size_t out, size_t B, size_t G) {
    if (G < in * B || G < out * B) return 0;
    const size_t a = pool_split(in, out, B, G, 1), b = pool_split(in, out, B, G, 0);
    return G - out * B + out * a >= in * B && out * b <= G - in * B;
}

/* The smallest buffer, in floats, in which max pooling's backward fits for any batch up to B
 * (the condition only relaxes as the batch shrinks). */
static size_t pool_grad_floats(size_t in, size_t out, size_t B) {
    size_t lo = (in > out ? in : out) * B, hi = (in + out) * B;
    while (lo < hi) {
        const size_t mid = lo + (hi - lo) / 2;
        if (pool_fits(in, out, B, mid)) hi = mid;
        else lo = mid + 1;
    }
    return hi;
}

/* The rounds save memory where the maps are large, but the second is one more parallel region,
 * and the groups of images of each round are not those the threads took in the forward, so each
 * core reads maps the other wrote (and batch norm cannot take its sums from the pooling: the
 * groups differ). On the first MNIST pooling (a split at image 25 of 200) one round needs
 * 0.96 MiB more. Small maps (a short step, in which a region weighs) take the one-round buffer
 * when it costs at most net->pool_one_round_extra floats more than the least; CIFAR-10's first
 * pooling (5 MiB more) keeps its rounds. pool_backward finds which it has from the addresses. */
static size_t pool_grad_len(const svdd_net *net, size_t in, size_t out, size_t B) {
    const size_t least = pool_grad_floats(in, out, B), one = (in + out) * B;
    return one - least <= net->pool_one_round_extra ? one : least;
}

svdd_status svdd__net_reserve(svdd_net *net, int B, svdd_error *err) {
    if (B < 1) return svdd__fail(err, SVDD_E_INVALID, "batch size must be at least 1");
    if (B <= net->cap && net->threads <= net->ws.threads) return SVDD_OK;
    release_buffers(net);
    size_t total = 0, ws = 0, glen = 1, nstats = 1;
    for (int s = 0; s < 2; s++) {
        svdd__stack *st = s == 0 ? &net->enc : &net->dec;
        plan_outputs(st, s == 1);
        for (int i = 0; i < st->n; i++) {
            svdd__layer *L = &st->layers[i];
            const int up = input_upsampled(st, i);
            const size_t in = (size_t)L->in_c * L->in_h * L->in_w / ((size_t)up * up);
            const size_t out = (size_t)L->out_c * L->out_h * L->out_w;
            if (L->out_kind == SVDD__OUT_OWN) total += (size_t)B * out;
            if (L->kind == SVDD__BATCHNORM) {
                total += 2 * (size_t)L->in_c;
                const size_t ns = svdd__batchnorm_group_doubles(L->in_c, B);
                if (ns > nstats) nstats = ns;
            }
            /* gradients of both ends at once, except where backward works in place (a fused
             * upsampling passes its gradient on untouched) */
            size_t g = backward_in_place(L->kind) || L->out_kind == SVDD__OUT_ALIAS ? (in > out ? in : out) : in + out;
            if (L->out_kind == SVDD__OUT_FUSED) g = 0;
            size_t gl = L->kind == SVDD__MAXPOOL2D ? pool_grad_len(net, in, out, (size_t)B) : (size_t)B * g;
            if (gl > glen) glen = gl;
            size_t w = layer_workspace(st, i, B, net->threads);
            if (w > ws) ws = w;
        }
        const size_t inf = svdd__stack_infer_scratch(st) * (size_t)(net->threads < B ? net->threads : B);
        if (inf > ws) ws = inf;
    }
    net->cache_block = svdd__alloc(total + 1, sizeof(float));
    net->grad_len = glen;
    net->grad_block = svdd__alloc(net->grad_len, sizeof(float));
    net->dlatent = svdd__alloc((size_t)B * svdd__stack_out_size(&net->enc) + 1, sizeof(float));
    net->ws.data = svdd__alloc(ws + 1, sizeof(float));
    net->ws.size = ws;
    net->ws.threads = net->threads;
    net->bn_stats = svdd__alloc(nstats, sizeof(double));
    if (!net->cache_block || !net->grad_block || !net->dlatent || !net->ws.data || !net->bn_stats) {
        release_buffers(net);
        return svdd__fail(err, SVDD_E_NOMEM, "out of memory for a batch of %d images", B);
    }
    float *p = net->cache_block;
    for (int s = 0; s < 2; s++) {
        svdd__stack *st = s == 0 ? &net->enc : &net->dec;
        for (int i = 0; i < st->n; i++) {
            svdd__layer *L = &st->layers[i];
            switch (L->out_kind) {
            case SVDD__OUT_OWN:
                L->out = p;
                p += (size_t)B * L->out_c * L->out_h * L->out_w;
                break;
            case SVDD__OUT_INPLACE: L->out = st->layers[i - 1].out; break;
            case SVDD__OUT_ALIAS:
            case SVDD__OUT_FUSED: L->out = NULL; break;
            case SVDD__OUT_TRANSIENT: L->out = net->grad_block; break;
            }
            if (L->kind == SVDD__BATCHNORM) {
                L->mean = p;
                L->rstd = p + L->in_c;
                p += 2 * (size_t)L->in_c;
            }
        }
    }
    net->cap = B;
    return SVDD_OK;
}

/* Element-wise and per-image layers split over threads by images: the threads run the plain layer
 * function on groups of EW_GROUP images (svdd__run_units, as the convolutions and batch norm), so
 * the result is the same for any thread count.
 * Small batches stay on one thread (starting threads would cost more than it saves). */
#define EW_GROUP SVDD__DIRECT_GROUP
typedef enum {
    EW_LRELU_F,
    EW_LRELU_B,
    EW_LRELU_BR,
    EW_SIGMOID_F,
    EW_SIGMOID_B,
    EW_POOL_F,
    EW_POOL_B,
    EW_POOL_LRELU_BR, /* EW_POOL_B, then EW_LRELU_BR of the leaky ReLU before the pooling */
    EW_UP_F,
    EW_UP_B
} ew_op;

/* One call of per_image: groups of G images. */
typedef struct ew_call {
    ew_op op;
    const svdd__layer *L;
    int B, G, simd;
    size_t in, out;
    float *dst;
    const float *a, *b;
    svdd__unit_fn then; /* run on each group after it (with G = EW_GROUP), or NULL */
    const void *then_ctx;
} ew_call;

static void ew_group(const void *ctx, int thread, int u) {
    const ew_call *c = ctx;
    (void)thread;
    const svdd__layer *L = c->L;
    const size_t in = c->in, out = c->out, lo = (size_t)u * c->G, hi = (size_t)svdd__group_end(u, c->G, c->B);
    const size_t nb = hi - lo;
    float *dst = c->dst;
    const float *a = c->a, *b = c->b;
    const int simd = c->simd;
    switch (c->op) {
    case EW_LRELU_F: svdd__leaky_relu_forward(dst + lo * out, a + lo * in, nb * in, L->slope); break;
    case EW_LRELU_B: svdd__leaky_relu_backward(dst + lo * in, a + lo * out, b + lo * in, nb * in, L->slope); break;
    case EW_LRELU_BR:
        svdd__leaky_relu_backward_restore_as(dst + lo * in, a + lo * out, (float *)b + lo * in, nb * in, L->slope,
                                             simd);
        break;
    case EW_SIGMOID_F: svdd__sigmoid_forward(dst + lo * out, a + lo * in, nb * in); break;
    case EW_SIGMOID_B: svdd__sigmoid_backward(dst + lo * in, a + lo * out, b + lo * out, nb * in); break;
    case EW_POOL_F: svdd__maxpool2d_forward(dst + lo * out, a + lo * in, (int)nb, L->in_c, L->in_h, L->in_w); break;
    case EW_POOL_B:
        svdd__maxpool2d_backward(dst + lo * in, a + lo * out, b + lo * in, (int)nb, L->in_c, L->in_h, L->in_w);
        break;
    case EW_POOL_LRELU_BR:
        /* image by image, so that the leaky ReLU's backward finds the pooling's gradient and
         * its own output in the cache (b is both the pooling's input and the leaky ReLU's
         * output, L[-1] that leaky ReLU) */
        for (size_t i = lo; i < hi; i++) {
            svdd__maxpool2d_backward(dst + i * in, a + i * out, b + i * in, 1, L->in_c, L->in_h, L->in_w);
            svdd__leaky_relu_backward_restore_as(dst + i * in, dst + i * in, (float *)b + i * in, in, L[-1].slope,
                                                 simd);
        }
        break;
    case EW_UP_F: svdd__upsample2d_forward(dst + lo * out, a + lo * in, (int)nb, L->in_c, L->in_h, L->in_w); break;
    case EW_UP_B: svdd__upsample2d_backward(dst + lo * in, a + lo * out, (int)nb, L->in_c, L->in_h, L->in_w); break;
    }
    if (c->then) c->then(c->then_ctx, thread, u);
}

/* then (may be NULL): run on each group of EW_GROUP images after the layer, on the same thread. */
static void per_image_then(ew_op op, const svdd__layer *L, int B, int threads, float *dst, const float *a,
                           const float *b, svdd__unit_fn then, const void *then_ctx) {
    const size_t in = (size_t)L->in_c * L->in_h * L->in_w, out = (size_t)L->out_c * L->out_h * L->out_w;
    const int T = (size_t)B * in < SVDD__PARALLEL_MIN_FLOATS ? 1 : threads < B ? threads : B;
    const int G = T > 1 || then ? EW_GROUP : B;
    const ew_call c = {.op = op, .L = L, .B = B, .G = G, .in = in, .out = out, .dst = dst, .a = a, .b = b,
                       .simd = op == EW_LRELU_BR || op == EW_POOL_LRELU_BR ? svdd__cpu_avx2_fma() : 0,
                       .then = then, .then_ctx = then_ctx};
    if (B > 0) svdd__run_units((B + G - 1) / G, T, NULL, ew_group, &c);
}

static void per_image(ew_op op, const svdd__layer *L, int B, int threads, float *dst, const float *a, const float *b) {
    per_image_then(op, L, B, threads, dst, a, b, NULL, NULL);
}

/* Max pooling's backward in the two rounds of pool_split when its gradients overlap (each round a
 * parallel region of its own, so the second starts after the first has read its images).
 * svdd__net_reserve sized the buffer so that the rounds exist for every batch up to its cap.
 * then: as per_image_then, in one round only (the rounds' groups are not the batch's); 1 when it ran. */
static int pool_backward(ew_op op, const svdd__layer *L, int B, int threads, float *d, const float *g, const float *x,
                         svdd__unit_fn then, const void *then_ctx) {
    const size_t in = (size_t)L->in_c * L->in_h * L->in_w, out = (size_t)L->out_c * L->out_h * L->out_w;
    /* as addresses: g may be the caller's buffer, another object */
    const uintptr_t dp = (uintptr_t)d, gp = (uintptr_t)g, f = sizeof(float);
    if (dp >= gp + out * B * f || gp >= dp + in * B * f) {
        per_image_then(op, L, B, threads, d, g, x, then, then_ctx);
        return then != NULL;
    }
    size_t split;
    if (gp > dp) /* first the images whose input gradient ends before the output gradients begin */
        split = (size_t)((gp - dp) / f) / in;
    else /* first the images whose input gradient starts after the output gradients end */
        split = ((size_t)((gp + out * B * f - dp) / f) + in - 1) / in;
    if (split > (size_t)B) split = (size_t)B;
    const int n0 = (int)split, n1 = B - n0;
    if (gp > dp && n0 > 0) per_image(op, L, n0, threads, d, g, x);
    if (n1 > 0) per_image(op, L, n1, threads, d + in * n0, g + out * n0, x + in * n0);
    if (gp < dp && n0 > 0) per_image(op, L, n0, threads, d, g, x);
    return 0;
}

/* The workspace as doubles, for batch norm's sums: svdd__alloc aligns it to 64 bytes, and
 * layer_workspace counts two floats a double. */
static double *ws_doubles(const svdd__workspace *ws) {
    void *p = ws->data;
    return p;
}

/* The max pooling after layer i, when it keeps its own output (batch norm's pass then pools). */
static svdd__layer *pool_after(svdd__stack *st, int i) {
    svdd__layer *P = i + 1 < st->n ? &st->layers[i + 1] : NULL;
    return P && P->kind == SVDD__MAXPOOL2D && P->out_kind == SVDD__OUT_OWN ? P : NULL;
}

const float *svdd__stack_forward(svdd_net *net, svdd__stack *st, const float *x, int B, int train) {
    st->input = x;
    return svdd__stack_forward_from(net, st, x, B, train, 0);
}

const float *svdd__stack_forward_from(svdd_net *net, svdd__stack *st, const float *in, int B, int train, int first) {
    svdd__gemm_single_thread();
    /* the buffers were reserved for at least net->threads threads */
    svdd__workspace ws = net->ws;
    ws.threads = net->threads < net->ws.threads ? net->threads : net->ws.threads;
    for (int i = first; i < st->n; i++) {
        svdd__layer *L = &st->layers[i];
        const float *w = net->params + L->w_off;
        float *o = L->out;
        switch (L->kind) {
        case SVDD__CONV2D: {
            svdd__layer *N = i + 1 < st->n ? &st->layers[i + 1] : NULL;
            const int lanes = train && i + 3 < st->n && svdd__block_lanes_applies(net, L, B);
            for (int j = 0; j < 3 && i + j < st->n; j++) st->layers[i + j].lanes = lanes;
            if (lanes) {
                /* the block's maps stay in the lanes, and batch norm's statistics come group by
                 * group from there on any number of threads */
                const svdd__bn_groups q = {.stats = net->bn_stats, .x = o, .B = B, .C = N->in_c,
                                           .S = N->in_h * N->in_w, .simd = 1, .lanes = 1};
                N->sums_ready = svdd__conv2d_forward_lanes(o, in, w, B, L->in_c, L->in_h, L->in_w, L->out_c, L->k,
                                                           L->pad, &ws, svdd__batchnorm_group_stats, &q);
            } else if (train && ws.threads > 1 && N && N->kind == SVDD__BATCHNORM) {
                /* the batch norm's statistics group by group, as the convolution writes them (see
                 * sums_ready in network.h) */
                const svdd__bn_groups q = {.stats = net->bn_stats, .x = o, .B = B, .C = N->in_c,
                                           .S = N->in_h * N->in_w, .simd = svdd__cpu_avx2_fma()};
                N->sums_ready = svdd__conv2d_forward_then(o, in, w, B, L->in_c, L->in_h, L->in_w, L->out_c, L->k,
                                                           L->pad, &ws, svdd__batchnorm_group_stats, &q);
            } else {
                svdd__conv2d_forward(o, in, w, B, L->in_c, L->in_h, L->in_w, L->out_c, L->k, L->pad, &ws);
            }
            break;
        }
        case SVDD__CONV_TRANSPOSE2D:
            svdd__conv_transpose2d_forward_as(o, in, w, B, L->in_c, L->in_h, L->in_w, L->out_c, L->k, L->pad,
                                              input_upsampled(st, i), &ws, SVDD__CONV_AUTO);
            break;
        case SVDD__LINEAR:
            svdd__linear_forward(o, in, w, B, L->in_c * L->in_h * L->in_w, L->out_c, ws.threads);
            break;
        case SVDD__BATCHNORM: {
            float *rm = net->state + L->stat_off, *rv = rm + L->in_c;
            if (svdd__output_overwritten(st, i)) {
                /* the leaky ReLU over batch norm's output, and the pooling after it, in batch
                 * norm's last pass (its output is read by nothing else) */
                svdd__layer *A = &st->layers[i + 1], *P = pool_after(st, i + 1);
                const int simd = svdd__cpu_avx2_fma();
                if (train && L->lanes && L->sums_ready && P)
                    svdd__batchnorm_lrelu_pool_lanes(o, L->mean, L->rstd, rm, rv, in, B, L->in_c, L->in_h, L->in_w,
                                                     L->eps, L->momentum, A->slope, P->out, ws.threads,
                                                     net->bn_stats);
                else if (train && L->sums_ready)
                    svdd__batchnorm_forward_groups(o, L->mean, L->rstd, rm, rv, in, B, L->in_c, L->in_h, L->in_w,
                                                   L->eps, L->momentum, 1, A->slope, P ? P->out : NULL, ws.threads,
                                                   simd, net->bn_stats);
                else if (train)
                    svdd__batchnorm_lrelu_forward_train_as(o, L->mean, L->rstd, rm, rv, in, B, L->in_c, L->in_h,
                                                           L->in_w, L->eps, L->momentum, A->slope,
                                                           P ? P->out : NULL, ws.threads, simd, ws_doubles(&ws));
                else
                    svdd__batchnorm_lrelu_forward_eval_as(o, in, rm, rv, B, L->in_c, L->in_h, L->in_w, L->eps, A->slope,
                                                          P ? P->out : NULL, ws.threads, simd);
                A->restore = 1;
                i += P ? 2 : 1;
                o = P ? P->out : A->out;
            } else if (train && L->sums_ready) {
                svdd__batchnorm_forward_groups(o, L->mean, L->rstd, rm, rv, in, B, L->in_c, L->in_h, L->in_w, L->eps,
                                               L->momentum, 0, 0.0f, NULL, ws.threads, svdd__cpu_avx2_fma(),
                                               net->bn_stats);
            } else if (train) {
                svdd__batchnorm_forward_train_as(o, L->mean, L->rstd, rm, rv, in, B, L->in_c, L->in_h * L->in_w, L->eps,
                                                 L->momentum, ws.threads, svdd__cpu_avx2_fma(), ws_doubles(&ws));
            } else {
                svdd__batchnorm_forward_eval(o, in, rm, rv, B, L->in_c, L->in_h * L->in_w, L->eps);
            }
            L->sums_ready = 0;
            break;
        }
        case SVDD__LEAKY_RELU:
            per_image(EW_LRELU_F, L, B, ws.threads, o, in, NULL);
            L->restore = L->out_kind == SVDD__OUT_INPLACE;
            break;
        case SVDD__SIGMOID: per_image(EW_SIGMOID_F, L, B, ws.threads, o, in, NULL); break;
        case SVDD__MAXPOOL2D: per_image(EW_POOL_F, L, B, ws.threads, o, in, NULL); break;
        case SVDD__UPSAMPLE2D:
            if (L->out_kind == SVDD__OUT_FUSED) {
                L->out = (float *)in; /* the transposed convolution after it upsamples as it reads */
                o = L->out;
            } else {
                per_image(EW_UP_F, L, B, ws.threads, o, in, NULL);
            }
            break;
        case SVDD__FLATTEN:
        case SVDD__RESHAPE:
            /* the same floats under another shape; no layer writes over an alias (batch norm
             * and sigmoid only overwrite product layers' outputs) */
            L->out = (float *)in;
            o = L->out;
            break;
        }
        in = o;
    }
    return in;
}

/* Where layer i writes its input gradient in the backward, given its output's gradient g: the
 * incoming gradient sits at the start or the end of the gradient buffer (or is the caller's); the
 * outgoing one goes over it where the layer allows, else to the other end. Sizes
 * (svdd__net_reserve) keep the two ends apart. NULL: the stack's input's, not wanted. */
static float *grad_dest(const svdd_net *net, const svdd__stack *st, int i, const float *g, int B,
                        int need_input_grad) {
    const svdd__layer *L = &st->layers[i];
    float *const gb = net->grad_block;
    if (i == 0 && !need_input_grad) return NULL;
    if (L->out_kind == SVDD__OUT_ALIAS || L->out_kind == SVDD__OUT_FUSED) return (float *)g;
    if (backward_in_place(L->kind)) {
        const int g_ours = (uintptr_t)g >= (uintptr_t)gb && (uintptr_t)g < (uintptr_t)(gb + net->grad_len);
        return g_ours ? (float *)g : gb;
    }
    const int up = input_upsampled(st, i);
    const size_t n_in = (size_t)B * L->in_c * L->in_h * L->in_w / ((size_t)up * up);
    return g == gb ? gb + net->grad_len - n_in : gb;
}

float *svdd__stack_backward(svdd_net *net, svdd__stack *st, const float *dout, int B, int stop,
                            int need_input_grad, int train) {
    svdd__gemm_single_thread();
    svdd__workspace ws = net->ws;
    ws.threads = net->threads < net->ws.threads ? net->threads : net->ws.threads;
    const float *g = dout;
    float *result = NULL;
    for (int i = st->n - 1; i >= stop; i--) {
        svdd__layer *L = &st->layers[i];
        const float *in = i > 0 ? st->layers[i - 1].out : st->input;
        const int up = input_upsampled(st, i);
        float *d = grad_dest(net, st, i, g, B, need_input_grad);
        float *dw = net->grads + L->w_off;
        const float *w = net->params + L->w_off;
        switch (L->kind) {
        case SVDD__CONV2D:
            svdd__conv2d_backward(d, dw, g, in, w, B, L->in_c, L->in_h, L->in_w, L->out_c, L->k, L->pad, &ws);
            break;
        case SVDD__CONV_TRANSPOSE2D:
            svdd__conv_transpose2d_backward_as(d, dw, g, in, w, B, L->in_c, L->in_h, L->in_w, L->out_c, L->k, L->pad,
                                               up, &ws, SVDD__CONV_AUTO);
            break;
        case SVDD__LINEAR:
            svdd__linear_backward(d, dw, g, in, w, B, L->in_c * L->in_h * L->in_w, L->out_c, ws.threads);
            break;
        case SVDD__BATCHNORM: {
            const int ready = L->sums_ready;
            L->sums_ready = 0;
            if (!d) break;
            if (train && ready)
                svdd__batchnorm_backward_groups(d, g, L->out, L->rstd, B, L->in_c, L->in_h * L->in_w, ws.threads,
                                                svdd__cpu_avx2_fma(), net->bn_stats, ws_doubles(&ws));
            else if (train)
                svdd__batchnorm_backward_train_as(d, g, L->out, L->rstd, B, L->in_c, L->in_h * L->in_w, ws.threads,
                                                  svdd__cpu_avx2_fma(), ws_doubles(&ws));
            else
                svdd__batchnorm_backward_eval(d, g, net->state + L->stat_off + L->in_c, B, L->in_c, L->in_h * L->in_w,
                                              L->eps);
            break;
        }
        case SVDD__LEAKY_RELU:
            if (d) per_image(L->restore ? EW_LRELU_BR : EW_LRELU_B, L, B, ws.threads, d, g, in);
            if (d) L->restore = 0;
            break;
        case SVDD__SIGMOID:
            if (d) per_image(EW_SIGMOID_B, L, B, ws.threads, d, g, L->out);
            break;
        case SVDD__MAXPOOL2D:
            if (train && !net->layer_by_layer && i - 3 >= stop) {
                /* conv2d, batch norm, leaky ReLU and this pooling in one go where they apply: d
                 * becomes the convolution's input gradient, where grad_dest puts it. The leaky
                 * ReLU's output is not turned back, so its restore flag stays: another backward
                 * after the same forward goes the same way. */
                const int ci = i - 3;
                float *dc = grad_dest(net, st, ci, g, B, need_input_grad);
                if (svdd__block_backward(net, &st->layers[ci], ci > 0 ? st->layers[ci - 1].out : st->input, g, dc, B,
                                         &ws)) {
                    st->layers[ci + 1].sums_ready = 0;
                    i = ci;
                    d = dc;
                    break;
                }
            }
            if (i >= 3 && st->layers[i - 1].lanes)
                svdd__block_maps_to_images(&st->layers[i - 3], B, ws.data); /* the layers below read them so */
            if (d && i - 1 >= stop && st->layers[i - 1].kind == SVDD__LEAKY_RELU && st->layers[i - 1].restore &&
                (i > 1 || need_input_grad)) {
                /* the leaky ReLU before it wrote over batch norm's output (its backward works in
                 * place, on this pooling's input gradient): both in one pass over each image */
                svdd__layer *N = i >= 2 && i - 2 >= stop ? &st->layers[i - 2] : NULL;
                if (train && ws.threads > 1 && N && N->kind == SVDD__BATCHNORM) {
                    /* the batch norm's sums group by group, as this pass writes its output gradient
                     * (d) and puts its output back (in) */
                    const svdd__bn_groups q = {.stats = net->bn_stats, .x = in, .dy = d, .B = B, .C = N->in_c,
                                               .S = N->in_h * N->in_w, .simd = svdd__cpu_avx2_fma()};
                    N->sums_ready = pool_backward(EW_POOL_LRELU_BR, L, B, ws.threads, d, g, in,
                                                  svdd__batchnorm_group_grad_sums, &q);
                } else {
                    pool_backward(EW_POOL_LRELU_BR, L, B, ws.threads, d, g, in, NULL, NULL);
                }
                st->layers[--i].restore = 0;
            } else if (d) {
                pool_backward(EW_POOL_B, L, B, ws.threads, d, g, in, NULL, NULL);
            }
            break;
        case SVDD__UPSAMPLE2D:
            if (d && L->out_kind != SVDD__OUT_FUSED) per_image(EW_UP_B, L, B, ws.threads, d, g, NULL);
            break;
        case SVDD__FLATTEN:
        case SVDD__RESHAPE: break; /* the gradient passes as it is */
        }
        g = d;
        result = d;
    }
    if (stop >= st->n) return (float *)dout;
    return result;
}

float *svdd__recon_grad(svdd_net *net) { return net->grad_block; }

/* Threads for an element-wise pass over n parameters: one alone on the MNIST networks' 7 000 to
 * 14 000, which is not worth waking the others for; otherwise shares that are multiples of 16
 * floats, so that two threads meet in as few cache lines as possible. */
static int param_threads(const svdd_net *net, size_t n) { return n < SVDD__PARALLEL_MIN_FLOATS ? 1 : net->threads; }

static size_t param_share(size_t n, int t, int T) { return t == T ? n : (n * (size_t)t / (size_t)T) & ~(size_t)15; }

void svdd__net_zero_grad(svdd_net *net, svdd_part part) {
    size_t lo = (part & SVDD_PART_ENCODER) ? 0 : net->n_enc_params;
    size_t hi = (part & SVDD_PART_DECODER) ? net->n_params : net->n_enc_params;
    if (hi <= lo) return;
    /* cppcheck-suppress unreadVariable ; read by the pragma, which cppcheck does not parse */
    const int T = param_threads(net, hi - lo);
    float *g = net->grads + lo;
#pragma omp parallel for num_threads(T) schedule(static, 1) if (T > 1)
    for (int t = 0; t < T; t++) {
        const size_t a = param_share(hi - lo, t, T), b = param_share(hi - lo, t + 1, T);
        memset(g + a, 0, (b - a) * sizeof(float));
    }
}

/* Adam is element-wise: the threads' shares give the same floats as one pass. */
void svdd__net_adam_step(svdd_net *net, svdd_part part, float lr, float weight_decay, int amsgrad) {
    size_t lo = (part & SVDD_PART_ENCODER) ? 0 : net->n_enc_params;
    size_t hi = (part & SVDD_PART_DECODER) ? net->n_params : net->n_enc_params;
    net->adam_step++;
    if (hi <= lo) return;
    /* cppcheck-suppress unreadVariable ; read by the pragma, which cppcheck does not parse */
    const int T = param_threads(net, hi - lo);
    const long step = net->adam_step;
#pragma omp parallel for num_threads(T) schedule(static, 1) if (T > 1)
    for (int t = 0; t < T; t++) {
        const size_t a = lo + param_share(hi - lo, t, T), b = lo + param_share(hi - lo, t + 1, T);
        svdd__adam_update(net->params + a, net->grads + a, net->adam_m + a, net->adam_v + a,
                          net->adam_vmax + a, b - a, lr, 0.9f, 0.999f, 1e-8f, weight_decay,
                          amsgrad, step);
    }
}

void svdd__net_adam_reset(svdd_net *net) {
    memset(net->adam_m, 0, 3 * net->n_params * sizeof(float));
    net->adam_step = 0;
}

/* ---- tensors by name ---- */

static int layer_tensor_count(const svdd__layer *L) {
    if (L->w_len) return 1;
    if (L->kind == SVDD__BATCHNORM) return 2;
    return 0;
}

int svdd__net_tensor_count(const svdd_net *net) {
    int n = 0;
    for (int s = 0; s < 2; s++) {
        const svdd__stack *st = s == 0 ? &net->enc : &net->dec;
        for (int i = 0; i < st->n; i++) n += layer_tensor_count(&st->layers[i]);
    }
    return n;
}

void svdd__net_tensor(const svdd_net *net, int index, svdd__tensor_info *info) {
    memset(info, 0, sizeof *info);
    for (int s = 0; s < 2; s++) {
        const svdd__stack *st = s == 0 ? &net->enc : &net->dec;
        const char *prefix = s == 0 ? "encoder" : "decoder";
        for (int i = 0; i < st->n; i++) {
            const svdd__layer *L = &st->layers[i];
            int k = layer_tensor_count(L);
            if (index >= k) {
                index -= k;
                continue;
            }
            if (L->w_len) {
                snprintf(info->name, sizeof info->name, "%s.%s.weight", prefix, L->name);
                /* a spec parsed without buffers (the model loader's size check) gets names and
                 * shapes only */
                info->data = net->params ? net->params + L->w_off : NULL;
                info->len = L->w_len;
                info->is_param = 1;
                if (L->kind == SVDD__LINEAR) {
                    info->ndim = 2;
                    info->shape[0] = L->out_c;
                    info->shape[1] = L->in_c * L->in_h * L->in_w;
                } else {
                    info->ndim = 4;
                    int a = L->kind == SVDD__CONV2D ? L->out_c : L->in_c, b = L->kind == SVDD__CONV2D ? L->in_c : L->out_c;
                    info->shape[0] = a, info->shape[1] = b, info->shape[2] = L->k, info->shape[3] = L->k;
                }
            } else {
                snprintf(info->name, sizeof info->name, "%s.%s.%s", prefix, L->name,
                         index == 0 ? "running_mean" : "running_var");
                info->data = net->state ? net->state + L->stat_off + (size_t)index * L->in_c : NULL;
                info->len = (size_t)L->in_c;
                info->ndim = 1;
                info->shape[0] = L->in_c;
            }
            return;
        }
    }
}

/* ---- public queries ---- */

size_t svdd_net_param_count(const svdd_net *net, svdd_part part) {
    if (!net) return 0;
    size_t n = 0;
    if (part & SVDD_PART_ENCODER) n += net->n_enc_params;
    if (part & SVDD_PART_DECODER) n += net->n_params - net->n_enc_params;
    return n;
}

int svdd_net_has_decoder(const svdd_net *net) { return net && net->dec.n > 0; }

void svdd_net_input_shape(const svdd_net *net, int *c, int *h, int *w) {
    if (c) *c = net->enc.in_c;
    if (h) *h = net->enc.in_h;
    if (w) *w = net->enc.in_w;
}

int svdd_net_latent_dim(const svdd_net *net) { return net->enc.out_c; }

svdd_status svdd_net_set_threads(svdd_net *net, int threads, svdd_error *err) {
    if (!net || threads < 1 || threads > 256)
        return svdd__fail(err, SVDD_E_INVALID, "threads must be between 1 and 256 (got %d)", threads);
    net->threads = threads;
    return SVDD_OK;
}

static const char *kind_word(svdd__layer_kind k) {
    switch (k) {
    case SVDD__CONV2D: return "conv2d";
    case SVDD__CONV_TRANSPOSE2D: return "conv_transpose2d";
    case SVDD__BATCHNORM: return "batchnorm";
    case SVDD__LEAKY_RELU: return "leaky_relu";
    case SVDD__MAXPOOL2D: return "maxpool2d";
    case SVDD__UPSAMPLE2D: return "upsample2d";
    case SVDD__LINEAR: return "linear";
    case SVDD__SIGMOID: return "sigmoid";
    case SVDD__FLATTEN: return "flatten";
    case SVDD__RESHAPE: return "reshape";
    }
    return "?";
}

svdd_status svdd_net_describe(const svdd_net *net, char *buf, size_t size) {
    size_t used = 0;
    int n = snprintf(buf, size, "%s: input %dx%dx%d, latent %d, %zu parameters (encoder %zu)\n", net->name,
                     net->enc.in_c, net->enc.in_h, net->enc.in_w, net->enc.out_c, net->n_params, net->n_enc_params);
    if (n < 0) return SVDD_E_INVALID;
    used = (size_t)n;
    for (int s = 0; s < 2; s++) {
        const svdd__stack *st = s == 0 ? &net->enc : &net->dec;
        for (int i = 0; i < st->n && used < size; i++) {
            const svdd__layer *L = &st->layers[i];
            n = snprintf(buf + used, size - used, "  %s.%-9s %-17s -> %4d x %3d x %3d  %8zu params\n",
                         s == 0 ? "encoder" : "decoder", L->name, kind_word(L->kind), L->out_c, L->out_h, L->out_w,
                         L->w_len);
            if (n < 0) return SVDD_E_INVALID;
            used += (size_t)n;
        }
    }
    return used < size ? SVDD_OK : SVDD_E_LIMIT;
}

/* ---- evaluation-mode passes over any number of images, in batches ---- */

#define EVAL_BATCH 200

svdd_status svdd_net_encode(svdd_net *net, const float *x, size_t n, float *z, svdd_error *err) {
    if (!net || (!x && n) || (!z && n)) return svdd__fail(err, SVDD_E_INVALID, "svdd_net_encode: NULL argument");
    svdd_status st = svdd__net_reserve(net, EVAL_BATCH, err);
    if (st != SVDD_OK) return st;
    const size_t in = svdd__stack_in_size(&net->enc), out = svdd__stack_out_size(&net->enc);
    for (size_t b0 = 0; b0 < n; b0 += EVAL_BATCH) {
        int B = (int)(n - b0 < EVAL_BATCH ? n - b0 : EVAL_BATCH);
        const float *y = svdd__stack_forward(net, &net->enc, x + b0 * in, B, 0);
        memcpy(z + b0 * out, y, (size_t)B * out * sizeof(float));
    }
    return SVDD_OK;
}

svdd_status svdd_net_reconstruct(svdd_net *net, const float *x, size_t n, float *xhat, float *per_image_error,
                                 svdd_error *err) {
    if (!net || (!x && n) || (!xhat && n)) return svdd__fail(err, SVDD_E_INVALID, "svdd_net_reconstruct: NULL argument");
    if (!net->dec.n) return svdd__fail(err, SVDD_E_INVALID, "%s: the network has no decoder", net->name);
    svdd_status st = svdd__net_reserve(net, EVAL_BATCH, err);
    if (st != SVDD_OK) return st;
    const size_t in = svdd__stack_in_size(&net->enc);
    for (size_t b0 = 0; b0 < n; b0 += EVAL_BATCH) {
        int B = (int)(n - b0 < EVAL_BATCH ? n - b0 : EVAL_BATCH);
        const float *z = svdd__stack_forward(net, &net->enc, x + b0 * in, B, 0);
        const float *y = svdd__stack_forward(net, &net->dec, z, B, 0);
        memcpy(xhat + b0 * in, y, (size_t)B * in * sizeof(float));
        if (per_image_error) svdd__sq_error_loss(NULL, per_image_error + b0, y, x + b0 * in, B, (int)in);
    }
    return SVDD_OK;
}
