/* The child role of svdd_bench: one workload, timed, reported as one JSON line.
 *
 * A training step here is exactly what svdd_deep_svdd_train / svdd_autoencoder_train do per
 * batch, minus the gathering of a shuffled batch (PyTorch's side has no data loader either):
 * forward in training mode, the loss and its gradient, zeroed gradients, backward, one Adam step.
 * Scoring goes through the public svdd_deep_svdd_distances, the call the CLI makes. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "nn/network.h"
/* After the library's headers: OpenBLAS's cblas.h pulls in <complex.h>, whose macro I would
 * rename the parameter I of the layer prototypes. Needed for openblas_get_corename(). */
#include <cblas.h>

static const bench_task TASKS[] = {
    {"train-mnist-enc", "train MNIST encoder (one-class loss)", "mnist-lenet", BENCH_TRAIN_ENC, 200},
    {"train-mnist-ae", "train MNIST autoencoder", "mnist-lenet", BENCH_TRAIN_AE, 200},
    {"train-cifar-enc", "train CIFAR-10 encoder (one-class loss)", "cifar10-lenet", BENCH_TRAIN_ENC, 200},
    {"train-cifar-ae", "train CIFAR-10 autoencoder", "cifar10-lenet", BENCH_TRAIN_AE, 200},
    {"score-mnist-b200", "score MNIST, batch 200", "mnist-lenet", BENCH_SCORE, 200},
    {"score-mnist-b1", "score MNIST, batch 1", "mnist-lenet", BENCH_SCORE, 1},
    {"score-cifar-b200", "score CIFAR-10, batch 200", "cifar10-lenet", BENCH_SCORE, 200},
    {"gemm-1024", "sgemm 1024x1024x1024", NULL, BENCH_GEMM, 1},
    {"fit-mnist", "whole run: autoencoder + one-class Deep SVDD, 28x28", "mnist-lenet", BENCH_FIT, 200},
};

const bench_task *bench_tasks(int *n) {
    *n = (int)(sizeof TASKS / sizeof TASKS[0]);
    return TASKS;
}

const bench_task *bench_task_find(const char *name) {
    for (size_t i = 0; i < sizeof TASKS / sizeof TASKS[0]; i++)
        if (strcmp(TASKS[i].name, name) == 0) return &TASKS[i];
    return NULL;
}

static double clock_seconds(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double now_seconds(void) { return clock_seconds(CLOCK_MONOTONIC); }

long bench_status_kb(const char *field) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    long kb = -1;
    size_t len = strlen(field);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, field, len) == 0 && line[len] == ':') {
            kb = strtol(line + len + 1, NULL, 10);
            break;
        }
    fclose(f);
    return kb;
}

void bench_loaded_openblas(char *buf, size_t size) {
    buf[0] = '\0';
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f) return;
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        char *p = strchr(line, '/');
        if (p && strstr(p, "libopenblas")) {
            p[strcspn(p, "\n")] = '\0';
            snprintf(buf, size, "%s", p);
            break;
        }
    }
    fclose(f);
}

/* ---- timing ---- */

typedef double (*step_fn)(void *ctx); /* one step; returns a value to check (loss or a score) */

typedef struct measurement {
    double rates[BENCH_MAX_REPEATS]; /* units per second of each timed run */
    int repeats;
    long steps_per_repeat;
    int warmup_steps;
    double warmup_seconds;
    double first_value, last_value;
    double cpu_per_unit; /* CPU seconds (all threads) per unit over the timed runs */
} measurement;

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median_of(const double *v, int n) {
    double s[BENCH_MAX_REPEATS];
    memcpy(s, v, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    return n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
}

/* Warm up for t->warmup seconds and at least two steps (the first touches fresh buffers and
 * starts the BLAS threads), size the timed runs from the fastest warm-up step so that the
 * repeats together last about t->seconds, then time them. torch_bench.py's measure() is the
 * same procedure, so that both sides' medians mean the same thing. */
static void measure(measurement *m, step_fn step, void *ctx, double units_per_step, const bench_timing *t) {
    memset(m, 0, sizeof *m);
    double t0 = now_seconds(), fastest = INFINITY;
    while (m->warmup_steps < 2 || now_seconds() - t0 < t->warmup) {
        double s = now_seconds();
        double v = step(ctx);
        double dt = now_seconds() - s;
        if (m->warmup_steps == 0) m->first_value = v;
        if (dt < fastest) fastest = dt;
        m->warmup_steps++;
    }
    m->warmup_seconds = now_seconds() - t0;
    double per_repeat = t->seconds / t->repeats;
    m->steps_per_repeat = (long)ceil(per_repeat / (fastest > 1e-9 ? fastest : 1e-9));
    if (m->steps_per_repeat < 1) m->steps_per_repeat = 1;
    m->repeats = t->repeats;
    /* CPU time next to wall time shows what a second thread costs: spinning or idle helpers */
    double cpu0 = clock_seconds(CLOCK_PROCESS_CPUTIME_ID);
    for (int r = 0; r < t->repeats; r++) {
        double s = now_seconds();
        for (long i = 0; i < m->steps_per_repeat; i++) m->last_value = step(ctx);
        m->rates[r] = (double)m->steps_per_repeat * units_per_step / (now_seconds() - s);
    }
    m->cpu_per_unit = (clock_seconds(CLOCK_PROCESS_CPUTIME_ID) - cpu0) /
                      ((double)m->steps_per_repeat * t->repeats * units_per_step);
}

/* ---- the workloads ---- */

typedef struct net_ctx {
    svdd_net *net;
    int B;
    float *x;     /* (B, input size), uniform in [0, 1) like torch.rand */
    float *c;     /* (latent) */
    float *dz;    /* (B, latent) */
    float *dpred; /* (B, input size) */
    float *dist;  /* (B) */
    float lr, weight_decay;
} net_ctx;

/* The one-class Deep SVDD step: loss = mean_i ||z_i - c||^2, d loss / d z_i = 2 (z_i - c) / B. */
static double step_train_enc(void *p) {
    net_ctx *k = p;
    svdd_net *net = k->net;
    const int L = net->enc.out_c;
    const float *z = svdd__stack_forward(net, &net->enc, k->x, k->B, 1);
    double loss = 0;
    for (int i = 0; i < k->B; i++)
        for (int j = 0; j < L; j++) {
            float diff = z[(size_t)i * L + j] - k->c[j];
            loss += (double)diff * diff;
            k->dz[(size_t)i * L + j] = 2.0f * diff / (float)k->B;
        }
    svdd__net_zero_grad(net, SVDD_PART_ENCODER);
    svdd__stack_backward(net, &net->enc, k->dz, k->B, 0, 0, 1);
    svdd__net_adam_step(net, SVDD_PART_ENCODER, k->lr, k->weight_decay, 0);
    return loss / k->B;
}

static double step_train_ae(void *p) {
    net_ctx *k = p;
    svdd_net *net = k->net;
    const int D = (int)svdd__stack_in_size(&net->enc);
    const float *z = svdd__stack_forward(net, &net->enc, k->x, k->B, 1);
    const float *y = svdd__stack_forward(net, &net->dec, z, k->B, 1);
    double loss = svdd__sq_error_loss(k->dpred, NULL, y, k->x, k->B, D);
    svdd__net_zero_grad(net, SVDD_PART_ALL);
    float *dz = svdd__stack_backward(net, &net->dec, k->dpred, k->B, 0, 1, 1);
    svdd__stack_backward(net, &net->enc, dz, k->B, 0, 0, 1);
    svdd__net_adam_step(net, SVDD_PART_ALL, k->lr, k->weight_decay, 0);
    return loss;
}

static double step_score(void *p) {
    net_ctx *k = p;
    if (svdd_deep_svdd_distances(k->net, k->x, (size_t)k->B, k->c, k->dist, NULL, NULL, NULL) != SVDD_OK) return NAN;
    return k->dist[0];
}

typedef struct gemm_ctx {
    int n;
    float *a, *b, *c;
} gemm_ctx;

static double step_gemm(void *p) {
    gemm_ctx *g = p;
    svdd__sgemm(0, 0, g->n, g->n, g->n, 1.0f, g->a, g->n, g->b, g->n, 0.0f, g->c, g->n);
    return g->c[0];
}

/* Multiply-accumulates of the matrix products of one image through a stack: forward, the weight
 * gradient (same count), and the input gradient (same count, skipped for the first layer of a
 * stack whose input needs no gradient). Element-wise layers are not counted: they are memory-,
 * not arithmetic-bound. */
typedef struct macs {
    double fwd, wgrad, dgrad;
} macs;

static void stack_macs(macs *m, const svdd__stack *st, int need_input_grad) {
    for (int i = 0; i < st->n; i++) {
        const svdd__layer *L = &st->layers[i];
        double k2 = (double)L->k * L->k, f;
        if (L->kind == SVDD__CONV2D)
            f = (double)L->out_c * L->in_c * k2 * L->out_h * L->out_w;
        else if (L->kind == SVDD__CONV_TRANSPOSE2D) /* each input pixel meets every weight once */
            f = (double)L->in_c * L->out_c * k2 * L->in_h * L->in_w;
        else if (L->kind == SVDD__LINEAR)
            f = (double)L->in_c * L->in_h * L->in_w * L->out_c;
        else
            continue;
        m->fwd += f;
        m->wgrad += f;
        if (i > 0 || need_input_grad) m->dgrad += f;
    }
}

static void fill_uniform(float *v, size_t n, svdd__rng *rng) {
    for (size_t i = 0; i < n; i++) v[i] = svdd__rng_uniform(rng);
}

/* Everything one child reports, whatever the workload. */
static int emit(const bench_task *task, int threads, const measurement *m, double fwd_flops, double train_flops,
                 long base_rss) {
    cJSON *o = cJSON_CreateObject();
    char blas[512];
    bench_loaded_openblas(blas, sizeof blas);
    cJSON_AddStringToObject(o, "side", "svdd");
    cJSON_AddStringToObject(o, "task", task->name);
    cJSON_AddNumberToObject(o, "threads", threads);
    cJSON_AddNumberToObject(o, "batch", task->batch);
    cJSON_AddStringToObject(o, "version", svdd_version());
    cJSON_AddStringToObject(o, "blas", blas);
    cJSON_AddStringToObject(o, "blas_core", openblas_get_corename());
    cJSON_AddStringToObject(o, "blas_config", openblas_get_config());
    cJSON_AddNumberToObject(o, "base_rss_kb", (double)base_rss);
    cJSON_AddNumberToObject(o, "peak_rss_kb", (double)bench_status_kb("VmHWM"));
    cJSON_AddNumberToObject(o, "first_value", m->first_value);
    cJSON_AddNumberToObject(o, "last_value", m->last_value);
    cJSON_AddNumberToObject(o, "rate_median", median_of(m->rates, m->repeats));
    double best = 0;
    cJSON *rates = cJSON_AddArrayToObject(o, "rates");
    for (int r = 0; r < m->repeats; r++) {
        if (m->rates[r] > best) best = m->rates[r];
        cJSON_AddItemToArray(rates, cJSON_CreateNumber(m->rates[r]));
    }
    cJSON_AddNumberToObject(o, "rate_best", best);
    cJSON_AddNumberToObject(o, "steps_per_repeat", (double)m->steps_per_repeat);
    cJSON_AddNumberToObject(o, "warmup_steps", m->warmup_steps);
    cJSON_AddNumberToObject(o, "warmup_seconds", m->warmup_seconds);
    cJSON_AddNumberToObject(o, "cpu_seconds_per_unit", m->cpu_per_unit);
    if (fwd_flops > 0) cJSON_AddNumberToObject(o, "fwd_flops_per_image", fwd_flops);
    if (train_flops > 0) cJSON_AddNumberToObject(o, "train_flops_per_image", train_flops);
    return bench_emit_line(o);
}

static int run_gemm(const bench_task *task, int threads, const bench_timing *t, long base_rss) {
    gemm_ctx g = {1024, NULL, NULL, NULL};
    size_t nn = (size_t)g.n * g.n;
    g.a = svdd__alloc(nn, sizeof(float));
    g.b = svdd__alloc(nn, sizeof(float));
    g.c = svdd__alloc(nn, sizeof(float));
    if (!g.a || !g.b || !g.c) {
        fprintf(stderr, "svdd bench: out of memory\n");
        free(g.a), free(g.b), free(g.c);
        return 1;
    }
    svdd__rng rng;
    svdd__rng_seed(&rng, 1, 7);
    fill_uniform(g.a, nn, &rng);
    fill_uniform(g.b, nn, &rng);
    openblas_set_num_threads(threads); /* the ceiling is OpenBLAS with its own threads */
    measurement m;
    /* one "unit" per step is one GFLOP's worth: the rate comes out in GFLOP/s */
    measure(&m, step_gemm, &g, 2.0 * g.n * g.n * g.n * 1e-9, t);
    int rc = emit(task, threads, &m, 0, 0, base_rss);
    free(g.a), free(g.b), free(g.c);
    return rc;
}

int bench_child_main(const char *name, int threads, const bench_timing *t, const bench_fit_size *fit) {
    const bench_task *task = bench_task_find(name);
    if (!task) {
        fprintf(stderr, "svdd bench: unknown task '%s'\n", name);
        return 2;
    }
    long base_rss = bench_status_kb("VmRSS");
    if (task->kind == BENCH_GEMM) return run_gemm(task, threads, t, base_rss);
    if (task->kind == BENCH_FIT) return bench_fit_child_main(task, threads, fit);

    svdd_error err;
    net_ctx k;
    memset(&k, 0, sizeof k);
    k.B = task->batch;
    if (svdd_net_create(&k.net, svdd_spec_builtin(task->spec), task->spec, 1, &err) != SVDD_OK ||
        svdd_net_set_threads(k.net, threads, &err) != SVDD_OK || svdd__net_reserve(k.net, k.B, &err) != SVDD_OK) {
        fprintf(stderr, "svdd bench: %s\n", err.message);
        svdd_net_free(k.net);
        return 1;
    }
    const size_t D = svdd__stack_in_size(&k.net->enc);
    const int L = svdd_net_latent_dim(k.net);
    k.x = svdd__alloc((size_t)k.B * D, sizeof(float));
    k.dpred = svdd__alloc((size_t)k.B * D, sizeof(float));
    k.c = svdd__alloc((size_t)L, sizeof(float));
    k.dz = svdd__alloc((size_t)k.B * L, sizeof(float));
    k.dist = svdd__alloc((size_t)k.B, sizeof(float));
    int rc = 1;
    if (!k.x || !k.dpred || !k.c || !k.dz || !k.dist) {
        fprintf(stderr, "svdd bench: out of memory\n");
        goto done;
    }
    svdd__rng rng;
    svdd__rng_seed(&rng, 1, 7);
    fill_uniform(k.x, (size_t)k.B * D, &rng);
    /* a fixed centre with no coordinate near 0, as svdd_center_init guarantees (same on both sides) */
    for (int j = 0; j < L; j++) k.c[j] = j % 2 == 0 ? 0.1f : -0.1f;
    /* the fit defaults: weight decay 0.5e-6 for Deep SVDD and 0.5e-3 for the autoencoder */
    k.lr = 1e-4f;
    k.weight_decay = task->kind == BENCH_TRAIN_AE ? 0.5e-3f : 0.5e-6f;

    macs mc = {0, 0, 0};
    stack_macs(&mc, &k.net->enc, 0);
    if (task->kind == BENCH_TRAIN_AE) stack_macs(&mc, &k.net->dec, 1);
    double fwd_flops = 2.0 * mc.fwd, train_flops = 2.0 * (mc.fwd + mc.wgrad + mc.dgrad);
    if (task->kind == BENCH_SCORE) train_flops = 0;

    step_fn step = task->kind == BENCH_TRAIN_ENC ? step_train_enc : task->kind == BENCH_TRAIN_AE ? step_train_ae : step_score;
    measurement m;
    measure(&m, step, &k, k.B, t);
    if (!isfinite(m.first_value) || !isfinite(m.last_value)) {
        fprintf(stderr, "svdd bench: %s gave a non-finite value (%g, %g)\n", task->name, m.first_value, m.last_value);
        goto done;
    }
    rc = emit(task, threads, &m, fwd_flops, train_flops, base_rss);
done:
    free(k.x), free(k.dpred), free(k.c), free(k.dz), free(k.dist);
    svdd_net_free(k.net);
    return rc;
}
