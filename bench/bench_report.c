/* The readable table and the per-row JSON summary of svdd_bench. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

double bench_num(const cJSON *obj, const char *key, double fallback) {
    const cJSON *v = obj ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
    return cJSON_IsNumber(v) ? v->valuedouble : fallback;
}

const char *bench_str(const cJSON *obj, const char *key) {
    const cJSON *v = obj ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
    return cJSON_IsString(v) ? v->valuestring : "";
}

static double mib(const cJSON *r, const char *key) { return bench_num(r, key, -1024) / 1024.0; }

/* Achieved GFLOP/s of a training row (FLOPs of the matrix products per image x images/s), the
 * products counted as a plain convolution does them: the Winograd layers do fewer. */
static double row_gflops(const bench_row *row, const cJSON *side) {
    double f = bench_num(row->svdd, "train_flops_per_image", 0);
    return f > 0 && side ? f * bench_num(side, "rate_median", 0) * 1e-9 : 0;
}

/* svdd's rate over PyTorch's best in the row's own round, or -1 without both. */
static double row_ratio(const bench_row *r) {
    double s = bench_num(r->svdd, "rate_median", 0), p = bench_num(r->torch_best, "rate_median", 0);
    return s > 0 && p > 0 ? s / p : -1;
}

static int compare_doubles(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* A figure of a row: its ratio to PyTorch, or svdd's speed-up over one thread; -1 when missing. */
typedef double (*row_value_fn)(const bench_row *rows, int n_rows, const bench_row *r);

static double ratio_value(const bench_row *rows, int n_rows, const bench_row *r) {
    (void)rows, (void)n_rows;
    return row_ratio(r);
}

/* svdd's rate at r's thread count over its rate at one thread in the same round. */
static double scaling_value(const bench_row *rows, int n_rows, const bench_row *r) {
    if (r->threads == 1) return -1;
    for (int i = 0; i < n_rows; i++)
        if (rows[i].task == r->task && rows[i].round == r->round && rows[i].threads == 1) {
            const double one = bench_num(rows[i].svdd, "rate_median", 0), many = bench_num(r->svdd, "rate_median", 0);
            return one > 0 && many > 0 ? many / one : -1;
        }
    return -1;
}

/* The figures fn gives the rounds of key's workload and thread count (those it has), sorted;
 * returns their count. */
static int group_values(const bench_row *rows, int n_rows, const bench_row *key, row_value_fn fn,
                        double out[BENCH_MAX_ROUNDS]) {
    int n = 0;
    for (int i = 0; i < n_rows && n < BENCH_MAX_ROUNDS; i++) {
        if (rows[i].task != key->task || rows[i].threads != key->threads) continue;
        const double v = fn(rows, n_rows, &rows[i]);
        if (v > 0) out[n++] = v;
    }
    qsort(out, (size_t)n, sizeof out[0], compare_doubles);
    return n;
}

/* The median of n sorted values: the lower of the two middle ones for an even count. */
static double lower_median(const double *v, int n) { return v[(n - 1) / 2]; }

/* Over the rounds of key's workload and thread count: the row whose ratio is the median, with
 * the smallest and largest ratio and how many rounds had one; key itself when none had. */
static const bench_row *median_row(const bench_row *rows, int n_rows, const bench_row *key, double *lo, double *hi,
                                   int *n) {
    double ratios[BENCH_MAX_ROUNDS];
    *n = group_values(rows, n_rows, key, ratio_value, ratios);
    if (*n == 0) return key;
    *lo = ratios[0], *hi = ratios[*n - 1];
    const double med = lower_median(ratios, *n);
    for (int i = 0; i < n_rows; i++)
        if (rows[i].task == key->task && rows[i].threads == key->threads && row_ratio(&rows[i]) == med) return &rows[i];
    return key;
}

static int protocol_rounds(const cJSON *root) {
    return (int)bench_num(cJSON_GetObjectItemCaseSensitive(root, "protocol"), "rounds", 1);
}

static void print_mib(const cJSON *r) {
    if (r)
        printf(" %8.0f", mib(r, "peak_rss_kb"));
    else
        printf(" %8s", "-");
}

static void print_rate(double v) {
    if (v <= 0)
        printf(" %11s", "-");
    else if (v >= 100)
        printf(" %11.0f", v);
    else
        printf(" %11.1f", v);
}

void bench_print_table(const cJSON *root, const bench_row *rows, int n_rows, double gemm_gflops[BENCH_MAX_THREADS + 1]) {
    const cJSON *machine = cJSON_GetObjectItemCaseSensitive(root, "machine");
    const cJSON *protocol = cJSON_GetObjectItemCaseSensitive(root, "protocol");
    printf("\nsvdd %s benchmark, %s\n", bench_str(root, "svdd_version"), bench_str(machine, "date"));
    printf("CPU: %s, %d logical CPUs; load average %s before, %s after\n", bench_str(machine, "cpu"),
           (int)bench_num(machine, "cpus", 0), bench_str(machine, "loadavg_before"), bench_str(machine, "loadavg_after"));
    const cJSON *env = cJSON_GetObjectItemCaseSensitive(machine, "env");
    const cJSON *e;
    printf("environment:");
    cJSON_ArrayForEach(e, env) printf(" %s=%s", e->string, cJSON_IsString(e) ? e->valuestring : "(unset)");
    printf("\nprotocol: %.1f s warm-up (>= 2 steps), %d timed runs over %.1f s, median images/s of the runs; "
           "batch 200 unless noted\n",
           bench_num(protocol, "warmup_seconds", 0), (int)bench_num(protocol, "repeats", 0),
           bench_num(protocol, "seconds", 0));
    printf("svdd BLAS: %s (core %s)\n", bench_str(root, "svdd_blas"), bench_str(root, "svdd_blas_core"));
    const cJSON *tv = cJSON_GetObjectItemCaseSensitive(root, "torch_variants");
    cJSON_ArrayForEach(e, tv) printf("PyTorch %s, '%s' variant loaded %s (core %s)\n", bench_str(e, "torch_version"),
                                     bench_str(e, "variant"), bench_str(e, "blas"), bench_str(e, "blas_core"));
    printf("sgemm 1024^3 ceiling (svdd's BLAS):");
    for (int t = 1; t <= BENCH_MAX_THREADS; t++)
        if (gemm_gflops[t] > 0) printf("  %d thread%s %.1f GFLOP/s", t, t > 1 ? "s" : "", gemm_gflops[t]);
    printf("\n\n");

    printf("'others': CPUs other processes used meanwhile; a ratio marked * was measured while they used more than %.2f\n",
           bench_num(cJSON_GetObjectItemCaseSensitive(root, "protocol"), "busy_threshold_cpus", 0));
    printf("GFLOP/s: a training step's multiply-adds counted as a plain convolution does them (as PyTorch does), x\n"
           "images/s; svdd's Winograd layers (CIFAR-10's 5x5 layers with 32 to 128 channels) multiply 2.8 times\n"
           "less, so the share of the sgemm ceiling can pass 100%%\n\n");
    const int rounds = protocol_rounds(root);
    if (rounds > 1)
        printf("%d rounds: each row is the round whose ratio is the median (the lower middle one for an even\n"
               "count; the first round where there is no ratio); 'rounds' gives the smallest and largest ratio\n"
               "of the rounds and their count\n\n",
               rounds);
    printf("%-40s %3s %11s %11s %6s  %-22s %14s %8s %8s%s\n", "workload", "thr", "svdd img/s", "torch img/s", "ratio",
           "PyTorch best config", "GFLOP/s (%gemm)", "svdd MiB", "torch MiB", rounds > 1 ? "  rounds" : "");
    for (int i = 0; i < n_rows; i++) {
        if (rows[i].round != 0) continue;
        double lo = 0, hi = 0;
        int n = 0;
        const bench_row *r = median_row(rows, n_rows, &rows[i], &lo, &hi, &n);
        double s = bench_num(r->svdd, "rate_median", 0), p = bench_num(r->torch_best, "rate_median", 0);
        printf("%-40s %3d", r->task->label, r->threads);
        print_rate(s);
        print_rate(p);
        /* '*': other processes took more than the threshold from one side's best run */
        double thr = bench_num(cJSON_GetObjectItemCaseSensitive(root, "protocol"), "busy_threshold_cpus", 1e9);
        int disturbed = bench_num(r->svdd, "other_load", 0) > thr || bench_num(r->torch_best, "other_load", 0) > thr;
        if (s > 0 && p > 0)
            printf(" %5.2f%c", s / p, disturbed ? '*' : ' ');
        else
            printf(" %6s", "-");
        printf("  %-22s", r->torch_best ? r->torch_variant : "-");
        double g = row_gflops(r, r->svdd);
        if (g > 0 && gemm_gflops[r->threads] > 0)
            printf(" %6.1f (%4.1f%%)", g, 100.0 * g / gemm_gflops[r->threads]);
        else if (g > 0)
            printf(" %14.1f", g);
        else
            printf(" %14s", "");
        print_mib(r->svdd);
        print_mib(r->torch_best);
        if (rounds > 1 && n > 0) printf("  %.2f-%.2f (%d)", lo, hi, n);
        printf("\n");
    }

    /* svdd against itself on one thread, round by round */
    int header = 0;
    for (int i = 0; i < n_rows; i++) {
        double v[BENCH_MAX_ROUNDS];
        if (rows[i].round != 0) continue;
        const int n = group_values(rows, n_rows, &rows[i], scaling_value, v);
        if (n == 0) continue;
        if (!header)
            printf("\nsvdd on several threads against one thread in the same round (the median of the rounds, and\n"
                   "their range):\n%-40s %3s %9s  %s\n", "workload", "thr", "speed-up", "rounds");
        header = 1;
        printf("%-40s %3d %8.2fx  %.2f-%.2f (%d)\n", rows[i].task->label, rows[i].threads, lower_median(v, n), v[0],
               v[n - 1], n);
    }

    /* Every PyTorch configuration, so that the choice of the best one can be checked. */
    printf("\nAll PyTorch configurations (median / best of the timed runs, images/s):\n");
    printf("%-40s %3s%s  %-22s %11s %11s %9s %12s %7s\n", "workload", "thr", rounds > 1 ? " round" : "", "variant",
           "median", "best", "peak MiB", "CPU us/img", "others");
    const cJSON *all = cJSON_GetObjectItemCaseSensitive(root, "torch");
    for (int i = 0; i < n_rows; i++) {
        cJSON_ArrayForEach(e, all) {
            if (strcmp(bench_str(e, "task"), rows[i].task->name) != 0 || (int)bench_num(e, "threads", 0) != rows[i].threads ||
                (int)bench_num(e, "round", 0) != rows[i].round)
                continue;
            printf("%-40s %3d", rows[i].task->label, rows[i].threads);
            if (rounds > 1) printf(" %5d", rows[i].round + 1);
            printf("  %-22s", bench_str(e, "variant"));
            print_rate(bench_num(e, "rate_median", 0));
            print_rate(bench_num(e, "rate_best", 0));
            printf(" %9.0f %12.1f %7.2f\n", mib(e, "peak_rss_kb"), 1e6 * bench_num(e, "cpu_seconds_per_unit", 0),
                   bench_num(e, "other_load", -1));
        }
    }
    printf("\nsvdd median / best (images/s), resident memory before the network and at peak (MiB), CPU time of\n"
           "all threads per image (a second thread that only spins shows up here), CPUs used by others%s:\n",
           rounds > 1 ? " (after the thread count: the round)" : "");
    for (int i = 0; i < n_rows; i++) {
        const cJSON *s = rows[i].svdd;
        if (!s) continue;
        printf("%-40s %3d", rows[i].task->label, rows[i].threads);
        if (rounds > 1) printf(" %5d", rows[i].round + 1);
        print_rate(bench_num(s, "rate_median", 0));
        print_rate(bench_num(s, "rate_best", 0));
        printf(" %9.1f %9.1f %12.1f %7.2f\n", mib(s, "base_rss_kb"), mib(s, "peak_rss_kb"),
               1e6 * bench_num(s, "cpu_seconds_per_unit", 0), bench_num(s, "other_load", -1));
    }
    fflush(stdout);
}

void bench_add_rows_json(cJSON *root, const bench_row *rows, int n_rows, double gemm_gflops[BENCH_MAX_THREADS + 1]) {
    cJSON *arr = cJSON_AddArrayToObject(root, "rows");
    for (int i = 0; i < n_rows; i++) {
        const bench_row *r = &rows[i];
        cJSON *o = cJSON_CreateObject();
        double s = bench_num(r->svdd, "rate_median", 0), p = bench_num(r->torch_best, "rate_median", 0);
        cJSON_AddStringToObject(o, "task", r->task->name);
        cJSON_AddStringToObject(o, "label", r->task->label);
        cJSON_AddNumberToObject(o, "threads", r->threads);
        cJSON_AddNumberToObject(o, "round", r->round);
        cJSON_AddNumberToObject(o, "batch", r->task->batch);
        if (r->svdd) cJSON_AddNumberToObject(o, "svdd_images_per_s", s);
        if (r->torch_best) {
            cJSON_AddNumberToObject(o, "torch_images_per_s", p);
            cJSON_AddStringToObject(o, "torch_variant", r->torch_variant);
        }
        if (s > 0 && p > 0) cJSON_AddNumberToObject(o, "ratio", s / p);
        double g = row_gflops(r, r->svdd);
        if (g > 0) {
            cJSON_AddNumberToObject(o, "svdd_gflops", g);
            cJSON_AddNumberToObject(o, "torch_gflops", row_gflops(r, r->torch_best));
            if (gemm_gflops[r->threads] > 0) cJSON_AddNumberToObject(o, "sgemm_gflops", gemm_gflops[r->threads]);
        }
        if (r->svdd) cJSON_AddNumberToObject(o, "svdd_peak_rss_kb", bench_num(r->svdd, "peak_rss_kb", -1));
        if (r->torch_best) cJSON_AddNumberToObject(o, "torch_peak_rss_kb", bench_num(r->torch_best, "peak_rss_kb", -1));
        cJSON_AddItemToArray(arr, o);
    }
    /* per workload and thread count: the rounds' ratios, as the table shows them */
    cJSON *sum = cJSON_AddArrayToObject(root, "ratios");
    for (int i = 0; i < n_rows; i++) {
        if (rows[i].round != 0) continue;
        double lo = 0, hi = 0;
        int n = 0;
        const bench_row *m = median_row(rows, n_rows, &rows[i], &lo, &hi, &n);
        if (n == 0) continue;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "task", rows[i].task->name);
        cJSON_AddNumberToObject(o, "threads", rows[i].threads);
        cJSON_AddNumberToObject(o, "rounds", n);
        cJSON_AddNumberToObject(o, "median", row_ratio(m));
        cJSON_AddNumberToObject(o, "median_round", m->round);
        cJSON_AddNumberToObject(o, "min", lo);
        cJSON_AddNumberToObject(o, "max", hi);
        cJSON_AddItemToArray(sum, o);
    }
    /* and svdd's speed-up over one thread, per workload and thread count */
    cJSON *sc = cJSON_AddArrayToObject(root, "thread_scaling");
    for (int i = 0; i < n_rows; i++) {
        double v[BENCH_MAX_ROUNDS];
        if (rows[i].round != 0) continue;
        const int n = group_values(rows, n_rows, &rows[i], scaling_value, v);
        if (n == 0) continue;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "task", rows[i].task->name);
        cJSON_AddNumberToObject(o, "threads", rows[i].threads);
        cJSON_AddNumberToObject(o, "rounds", n);
        cJSON_AddNumberToObject(o, "median", lower_median(v, n));
        cJSON_AddNumberToObject(o, "min", v[0]);
        cJSON_AddNumberToObject(o, "max", v[n - 1]);
        cJSON_AddItemToArray(sc, o);
    }
}

void bench_print_scaling(const cJSON *fits) {
    const cJSON *first = cJSON_GetArrayItem(fits, 0);
    printf("\nWhole training runs: svdd_model_fit (autoencoder pre-training, centre, one-class Deep SVDD,\n"
           "threshold) on synthetic 28x28 images, batch 200, %.0f + %.0f epochs, 10%% of the images held out\n"
           "for calibration; 'after': the threshold's statistics once training ends\n\n",
           bench_num(first, "epochs", 0), bench_num(first, "epochs", 0));
    printf("%8s %4s %9s %9s %9s %8s %12s %9s %8s %7s\n", "images", "thr", "seconds", "AE s", "Deep SVDD s", "after s",
           "s / 1k img", "vs 1 thr", "peak MiB", "others");
    const cJSON *r;
    cJSON_ArrayForEach(r, fits) {
        double images = bench_num(r, "images", 0), secs = bench_num(r, "seconds", 0);
        /* the same size on one thread, when it was run */
        double one = 0;
        const cJSON *q;
        cJSON_ArrayForEach(q, fits) if (bench_num(q, "images", -1) == images && bench_num(q, "threads", 0) == 1) one =
            bench_num(q, "seconds", 0);
        printf("%8.0f %4.0f %9.2f %9.2f %11.2f %8.2f %12.3f", images, bench_num(r, "threads", 0), secs,
               bench_num(r, "ae_seconds", 0), bench_num(r, "objective_seconds", 0), bench_num(r, "after_seconds", 0),
               images > 0 ? 1000.0 * secs / images : 0);
        if (one > 0 && secs > 0)
            printf(" %8.2fx", one / secs);
        else
            printf(" %9s", "-");
        printf(" %8.0f %7.2f\n", bench_num(r, "peak_rss_kb", 0) / 1024.0, bench_num(r, "other_load", -1));
    }
}

int bench_emit_line(cJSON *o) {
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!s) {
        fprintf(stderr, "svdd bench: out of memory for the result line\n");
        return 1;
    }
    printf("%s\n", s);
    fflush(stdout);
    free(s);
    return 0;
}
