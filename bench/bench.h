/* svdd_bench: images per second of the reference networks' training step and of scoring, next to
 * the same figures from PyTorch (bench/torch_bench.py), with peak memory of each.
 *
 * The program runs in two roles. As the driver (no --child) it starts one child process per
 * configuration, its own executable again with --child or the PyTorch script, reads one JSON line
 * from each, and prints the table and the JSON report. As a child it runs one workload and prints
 * that line. One process per configuration is what makes peak resident memory (VmHWM) a figure
 * of that configuration and not of everything that ran before it in the same process. */
#ifndef SVDD_BENCH_H
#define SVDD_BENCH_H

#include <cJSON.h>
#include <stddef.h>

#define BENCH_MAX_REPEATS 50
#define BENCH_MAX_THREADS 8
#define BENCH_MAX_ROUNDS 20

typedef enum bench_kind {
    BENCH_TRAIN_ENC, /* Deep SVDD one-class loss mean ||phi(x) - c||^2 on the encoder */
    BENCH_TRAIN_AE,  /* autoencoder, svdd__sq_error_loss */
    BENCH_SCORE,     /* evaluation-mode encoder forward and distance to c */
    BENCH_GEMM,      /* the sgemm ceiling: 1024 x 1024 x 1024 */
    BENCH_FIT        /* a whole training run, svdd_model_fit (bench_fit.c) */
} bench_kind;

typedef struct bench_task {
    const char *name;    /* "train-mnist-enc": the name on both sides' command lines */
    const char *label;   /* for the table */
    const char *spec;    /* built-in network name, NULL for the gemm */
    bench_kind kind;
    int batch;
} bench_task;

/* The workloads in table order, and their number. */
const bench_task *bench_tasks(int *n);
const bench_task *bench_task_find(const char *name);

/* How long and how often to time one configuration (the same protocol on both sides). */
typedef struct bench_timing {
    double seconds; /* timed seconds, split over the repeats */
    int repeats;
    double warmup;  /* seconds of untimed steps first (at least two steps) */
} bench_timing;

/* The size of a whole training run (BENCH_FIT): images, and epochs of each phase. */
typedef struct bench_fit_size {
    int images;
    int epochs;
} bench_fit_size;

/* Run one workload in this process and print its JSON line on stdout. Returns the exit code. */
int bench_child_main(const char *task, int threads, const bench_timing *timing, const bench_fit_size *fit);
int bench_fit_child_main(const bench_task *task, int threads, const bench_fit_size *size);

/* The whole program: the driver, or a child with --child. `subcommand` is the word that must
 * follow the executable for it to reach this function again ("bench" for `svdd bench`, NULL for
 * svdd_bench): the driver starts its children that way. */
int bench_main(int argc, char **argv, const char *subcommand);

/* A child's result: `o` as one JSON line on stdout (what the driver reads), then freed. 0, or 1
 * when it could not be printed. */
int bench_emit_line(cJSON *o);

/* Peak and current resident memory of this process in KiB (/proc/self/status), -1 if unknown. */
long bench_status_kb(const char *field);
/* The path of the libopenblas this process mapped ("" if none) into buf. */
void bench_loaded_openblas(char *buf, size_t size);

/* ---- report (bench_report.c) ---- */

/* One table row: a workload at a thread count, both sides' results (cJSON objects owned by the
 * report's arrays, NULL when that side did not run or failed). */
typedef struct bench_row {
    const bench_task *task;
    int threads;
    int round; /* 0 .. rounds - 1 */
    cJSON *svdd;
    cJSON *torch_best;    /* the PyTorch configuration with the highest median rate */
    const char *torch_variant;
} bench_row;

/* Print the readable report on stdout. `root` is the JSON report (machine, protocol, results). */
void bench_print_table(const cJSON *root, const bench_row *rows, int n_rows, double gemm_gflops[BENCH_MAX_THREADS + 1]);
/* Add the per-row summary ("rows") to the JSON report. */
void bench_add_rows_json(cJSON *root, const bench_row *rows, int n_rows, double gemm_gflops[BENCH_MAX_THREADS + 1]);
/* The whole-run table (BENCH_FIT results, in run order) on stdout. */
void bench_print_scaling(const cJSON *fits);

/* Number field of a cJSON object, `fallback` when missing. */
double bench_num(const cJSON *obj, const char *key, double fallback);
const char *bench_str(const cJSON *obj, const char *key);

#endif
