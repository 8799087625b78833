/* svdd bench (and the standalone svdd_bench): the driver. See bench.h for the two roles and
 * docs/benchmarks.md for what the figures mean.
 *
 *   svdd bench [--quick] [--json PATH] [--threads 1,2] [--nets mnist,cifar] [--tasks train,score]
 *              [--seconds S] [--repeats N] [--warmup S] [--no-torch] [--torch-blas pthread,openmp]
 *              [--python PATH] [--torch-script PATH] [--tables compare,scaling]
 *              [--scaling-images 1000,6000,60000] [--scaling-epochs E]
 *
 * For every workload and thread count the driver runs svdd's child and then PyTorch's children
 * (one per BLAS variant) back to back, so that a change in the machine's load hits both sides of
 * a ratio alike. Progress goes to stderr, the table to stdout. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "svdd.h"

extern char **environ;

#define OPENMP_BLAS_DIR "/usr/lib/x86_64-linux-gnu/openblas-openmp"
#define MAX_VARIANTS 2

typedef struct options {
    bench_timing timing;
    int threads[BENCH_MAX_THREADS];
    int n_threads;
    int mnist, cifar;        /* which networks */
    int train, score;        /* which kinds of workload */
    int torch;               /* run the PyTorch side */
    int variant_pthread, variant_openmp;
    const char *python;
    char torch_script[1024];
    const char *json_path;
    const char *child_task;  /* child role */
    int child_threads;
    bench_fit_size child_fit;
    int compare, scaling;    /* which tables */
    int scaling_images[8], n_scaling_images;
    int scaling_epochs;
    const char *subcommand;  /* "bench" under svdd, NULL for svdd_bench */
    int rounds;              /* passes over the compare table's configurations */
    int retries;             /* re-runs of a configuration disturbed by other processes */
    double busy;             /* "disturbed": others used more than this many CPUs on average */
    double retry_budget;     /* seconds all re-runs together may take */
} options;

/* What the driver keeps across configurations. */
typedef struct driver {
    const options *o;
    double retry_spent; /* seconds spent in re-runs so far */
} driver;

static void usage(FILE *f, const char *subcommand) {
    fprintf(f,
            "usage: %s [options]\n"
            "Times svdd's training steps and scoring against PyTorch's on the reference networks\n"
            "(docs/benchmarks.md), then whole training runs at growing sizes and thread counts.\n"
            "Table on stdout, progress on stderr.\n"
            "  --quick              short timings (0.4 s, 3 runs, 0.1 s warm-up)\n"
            "  --seconds S          timed seconds per configuration (default 4)\n"
            "  --repeats N          timed runs per configuration; the median is reported (default 5)\n"
            "  --warmup S           untimed seconds first, at least 2 steps (default 1)\n"
            "  --threads LIST       thread counts, e.g. 1,2 (default 1,2)\n"
            "  --nets LIST          mnist,cifar (default both)\n"
            "  --tasks LIST         train,score (default both)\n"
            "  --no-torch           svdd only\n"
            "  --torch-blas LIST    PyTorch BLAS variants: pthread (Debian's default), openmp\n"
            "                       (" OPENMP_BLAS_DIR " first in LD_LIBRARY_PATH); default both\n"
            "  --python PATH        the Python with torch (default /usr/bin/python3)\n"
            "  --torch-script PATH  bench/torch_bench.py (default: found next to the build folder)\n"
            "  --json PATH          also write the results as JSON\n"
            "  --rounds N           run the compare table's configurations N times over, one pass after\n"
            "                       another, and report each row's median ratio and the range (default 1)\n"
            "  --busy F             a configuration during which other processes used more than F CPUs\n"
            "                       on average is run again (default 0.25)...\n"
            "  --retries N          ...at most N more times, the least disturbed run kept (default 2),\n"
            "  --retry-budget S     ...as long as all re-runs together took less than S seconds (600)\n"
            "  --tables LIST        compare (svdd against PyTorch), scaling (whole training runs);\n"
            "                       default both\n"
            "  --scaling-images L   training images of the whole runs (default 1000,6000,60000)\n"
            "  --scaling-epochs E   epochs of each phase of the whole runs (default 2)\n",
            subcommand ? "svdd bench" : "svdd_bench");
}

/* "1,2" -> {1, 2}; returns the count, -1 on a malformed list. */
static int parse_int_list(const char *s, int *out, int max, int lo, int hi) {
    int n = 0;
    while (*s) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v < lo || v > hi || n == max) return -1;
        out[n++] = (int)v;
        if (*end == ',')
            end++;
        else if (*end)
            return -1;
        s = end;
    }
    return n;
}

static int list_has(const char *list, const char *word) {
    size_t n = strlen(word);
    for (const char *p = list; (p = strstr(p, word)) != NULL; p += n)
        if ((p == list || p[-1] == ',') && (p[n] == '\0' || p[n] == ',')) return 1;
    return 0;
}

static int parse_double(const char *s, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi)) return 0;
    *out = v;
    return 1;
}

/* The default script: bench/torch_bench.py beside the build folder of this executable, else
 * relative to the working directory. */
static void find_torch_script(char *buf, size_t size) {
    char exe[512];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        for (int up = 0; up < 2; up++) {
            char *slash = strrchr(exe, '/');
            if (!slash) break;
            *slash = '\0';
            snprintf(buf, size, "%s/bench/torch_bench.py", exe);
            if (access(buf, R_OK) == 0) return;
        }
    }
    snprintf(buf, size, "bench/torch_bench.py");
}

static int takes_value(const char *a) {
    static const char *const names[] = {"--seconds", "--repeats", "--warmup", "--threads", "--nets", "--tasks",
                                        "--torch-blas", "--python", "--torch-script", "--json", "--busy",
                                        "--retries", "--retry-budget", "--rounds", "--tables", "--scaling-images",
                                        "--scaling-epochs", "--child-images", "--child-epochs", "--child",
                                        "--child-threads"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(a, names[i]) == 0) return 1;
    return 0;
}

static int parse_options(options *o, int argc, char **argv, const char *subcommand) {
    memset(o, 0, sizeof *o);
    o->subcommand = subcommand;
    o->compare = o->scaling = 1;
    o->scaling_images[0] = 1000, o->scaling_images[1] = 6000, o->scaling_images[2] = 60000;
    o->n_scaling_images = 3;
    o->scaling_epochs = 2;
    o->child_fit.images = 1000, o->child_fit.epochs = 1;
    o->timing.seconds = 4.0;
    o->timing.repeats = 5;
    o->timing.warmup = 1.0;
    o->threads[0] = 1, o->threads[1] = 2, o->n_threads = 2;
    o->mnist = o->cifar = o->train = o->score = o->torch = 1;
    o->variant_pthread = o->variant_openmp = 1;
    o->python = "/usr/bin/python3";
    o->child_threads = 1;
    o->retries = 2;
    o->rounds = 1;
    o->busy = 0.25;
    o->retry_budget = 600;
    find_torch_script(o->torch_script, sizeof o->torch_script);
    int quick = 0, seconds_set = 0, repeats_set = 0, warmup_set = 0, scaling_set = 0, epochs_set = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = 1;
        double d;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout, subcommand);
            exit(0);
        } else if (strcmp(a, "--quick") == 0) {
            quick = 1; /* applied after the loop so that explicit values win whatever their order */
            takes = 0;
        } else if (strcmp(a, "--no-torch") == 0) {
            o->torch = 0;
            takes = 0;
        } else if (!takes_value(a)) {
            fprintf(stderr, "svdd bench: unknown option %s; see --help\n", a);
            return 0;
        } else if (!v) {
            fprintf(stderr, "svdd bench: %s needs a value; see --help\n", a);
            return 0;
        } else if (strcmp(a, "--seconds") == 0) {
            if (!parse_double(v, 0.01, 3600, &o->timing.seconds)) goto bad;
            seconds_set = 1;
        } else if (strcmp(a, "--repeats") == 0) {
            if (!parse_double(v, 1, BENCH_MAX_REPEATS, &d) || d != (int)d) goto bad;
            o->timing.repeats = (int)d;
            repeats_set = 1;
        } else if (strcmp(a, "--warmup") == 0) {
            if (!parse_double(v, 0, 600, &o->timing.warmup)) goto bad;
            warmup_set = 1;
        } else if (strcmp(a, "--threads") == 0) {
            if ((o->n_threads = parse_int_list(v, o->threads, BENCH_MAX_THREADS, 1, BENCH_MAX_THREADS)) < 1) goto bad;
        } else if (strcmp(a, "--nets") == 0) {
            o->mnist = list_has(v, "mnist"), o->cifar = list_has(v, "cifar");
            if (!o->mnist && !o->cifar) goto bad;
        } else if (strcmp(a, "--tasks") == 0) {
            o->train = list_has(v, "train"), o->score = list_has(v, "score");
            if (!o->train && !o->score) goto bad;
        } else if (strcmp(a, "--torch-blas") == 0) {
            o->variant_pthread = list_has(v, "pthread"), o->variant_openmp = list_has(v, "openmp");
            if (!o->variant_pthread && !o->variant_openmp) goto bad;
        } else if (strcmp(a, "--python") == 0) {
            o->python = v;
        } else if (strcmp(a, "--torch-script") == 0) {
            snprintf(o->torch_script, sizeof o->torch_script, "%s", v);
        } else if (strcmp(a, "--json") == 0) {
            o->json_path = v;
        } else if (strcmp(a, "--busy") == 0) {
            if (!parse_double(v, 0, 64, &o->busy)) goto bad;
        } else if (strcmp(a, "--retries") == 0) {
            if (!parse_double(v, 0, 20, &d) || d != (int)d) goto bad;
            o->retries = (int)d;
        } else if (strcmp(a, "--rounds") == 0) {
            if (!parse_double(v, 1, BENCH_MAX_ROUNDS, &d) || d != (int)d) goto bad;
            o->rounds = (int)d;
        } else if (strcmp(a, "--retry-budget") == 0) {
            if (!parse_double(v, 0, 86400, &o->retry_budget)) goto bad;
        } else if (strcmp(a, "--tables") == 0) {
            o->compare = list_has(v, "compare"), o->scaling = list_has(v, "scaling");
            if (!o->compare && !o->scaling) goto bad;
        } else if (strcmp(a, "--scaling-images") == 0) {
            /* at least one batch after the 10% calibration split; at most what fits comfortably */
            if ((o->n_scaling_images = parse_int_list(v, o->scaling_images, 8, 250, 1000000)) < 1) goto bad;
            scaling_set = 1;
        } else if (strcmp(a, "--scaling-epochs") == 0) {
            if (parse_int_list(v, &o->scaling_epochs, 1, 1, 1000) != 1) goto bad;
            epochs_set = 1;
        } else if (strcmp(a, "--child-images") == 0) {
            if (parse_int_list(v, &o->child_fit.images, 1, 250, 1000000) != 1) goto bad;
        } else if (strcmp(a, "--child-epochs") == 0) {
            if (parse_int_list(v, &o->child_fit.epochs, 1, 1, 1000) != 1) goto bad;
        } else if (strcmp(a, "--child") == 0) {
            o->child_task = v;
        } else { /* --child-threads, the last of takes_value's names */
            if (parse_int_list(v, &o->child_threads, 1, 1, 256) != 1) goto bad;
        }
        i += takes;
        continue;
    bad:
        fprintf(stderr, "svdd bench: bad value '%s' for %s; see --help\n", v, a);
        return 0;
    }
    if (quick) {
        /* enough to see the ratios, not to trust the third digit */
        if (!seconds_set) o->timing.seconds = 0.4;
        if (!repeats_set) o->timing.repeats = 3;
        if (!warmup_set) o->timing.warmup = 0.1;
        if (!scaling_set) o->n_scaling_images = 2; /* 1000 and 6000 images */
        if (!epochs_set) o->scaling_epochs = 1;
    }
    return 1;
}

/* ---- child processes ---- */

static double now_wall(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* CPU seconds the whole machine has spent busy since boot (/proc/stat), -1 if unknown. */
static double machine_busy_seconds(void) {
    FILE *f = fopen("/proc/stat", "r");
    if (!f) return -1;
    unsigned long long v[8] = {0};
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6],
                   &v[7]);
    fclose(f);
    if (n < 8) return -1;
    /* user nice system [idle iowait] irq softirq steal */
    unsigned long long busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
    long hz = sysconf(_SC_CLK_TCK);
    return (double)busy / (double)(hz > 0 ? hz : 100);
}

static double children_cpu_seconds(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_CHILDREN, &ru) != 0) return 0;
    return (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_sec +
           1e-6 * (double)ru.ru_stime.tv_usec;
}

/* Run argv with envp, its stdout captured, its stderr passed through; parse the last line that
 * starts with '{'. NULL (and a message) on any failure. A child that outlives `timeout` seconds
 * is killed: a benchmark that hangs must not hang the whole run. */
static cJSON *run_child(char *const argv[], char *const envp[], double timeout, double *other_load) {
    /* What the machine did during the child minus what the child did is what the others (the
     * engineers sharing these cores) took from it, in CPUs on average. */
    double busy0 = machine_busy_seconds(), own0 = children_cpu_seconds(), wall0 = now_wall();
    *other_load = -1;
    int fd[2];
    if (pipe(fd) != 0) {
        perror("svdd bench: pipe");
        return NULL;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        perror("svdd bench: fork");
        close(fd[0]), close(fd[1]);
        return NULL;
    }
    if (pid == 0) {
        /* only async-signal-safe calls between fork and exec: the parent may have BLAS threads */
        dup2(fd[1], STDOUT_FILENO);
        close(fd[0]);
        close(fd[1]);
        execve(argv[0], argv, envp);
        static const char msg[] = "svdd bench: exec failed\n";
        ssize_t w = write(STDERR_FILENO, msg, sizeof msg - 1);
        (void)w;
        _exit(127);
    }
    close(fd[1]);
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    double t0 = now_wall();
    int timed_out = 0;
    while (buf) {
        struct pollfd p = {fd[0], POLLIN, 0};
        int left_ms = (int)((timeout - (now_wall() - t0)) * 1000);
        if (left_ms <= 0 || poll(&p, 1, left_ms) == 0) {
            timed_out = 1;
            kill(pid, SIGKILL);
            break;
        }
        if (len + 1024 > cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
        }
        ssize_t r = read(fd[0], buf + len, cap - len - 1);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        len += (size_t)r;
    }
    close(fd[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    double busy1 = machine_busy_seconds(), wall = now_wall() - wall0;
    if (busy0 >= 0 && busy1 >= 0 && wall > 0) {
        double other = (busy1 - busy0 - (children_cpu_seconds() - own0)) / wall;
        *other_load = other > 0 ? other : 0;
    }
    if (!buf) {
        fprintf(stderr, "svdd bench: out of memory reading %s\n", argv[0]);
        return NULL;
    }
    buf[len] = '\0';
    cJSON *res = NULL;
    if (timed_out)
        fprintf(stderr, "svdd bench: %s timed out after %.0f s and was killed\n", argv[0], timeout);
    else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fprintf(stderr, "svdd bench: %s failed (status %d)\n", argv[0], WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    else {
        char *line = NULL;
        for (char *p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
            if (*p == '{') line = p;
        if (line) res = cJSON_Parse(line);
        if (!res) fprintf(stderr, "svdd bench: no result line from %s\n", argv[0]);
    }
    free(buf);
    return res;
}

/* The environment of a PyTorch child: ours, with the thread counts pinned (torch.set_num_threads
 * does not reach a pthread OpenBLAS's own pool) and, for the OpenMP variant, the OpenMP build of
 * OpenBLAS first on the library path. `store` holds the new strings. */
typedef struct child_env {
    char **envp;
    char store[4][1200];
} child_env;

static int make_torch_env(child_env *ce, int threads, int openmp) {
    size_t n = 0;
    while (environ[n]) n++;
    ce->envp = calloc(n + 5, sizeof *ce->envp);
    if (!ce->envp) return 0;
    size_t k = 0;
    const char *old_path = "";
    for (size_t i = 0; i < n; i++) {
        const char *e = environ[i];
        if (strncmp(e, "LD_LIBRARY_PATH=", 16) == 0) {
            old_path = e + 16;
            if (openmp) continue;
        }
        if (strncmp(e, "OMP_NUM_THREADS=", 16) == 0 || strncmp(e, "OPENBLAS_NUM_THREADS=", 21) == 0 ||
            strncmp(e, "MKL_NUM_THREADS=", 16) == 0)
            continue;
        ce->envp[k++] = environ[i];
    }
    snprintf(ce->store[0], sizeof ce->store[0], "OMP_NUM_THREADS=%d", threads);
    snprintf(ce->store[1], sizeof ce->store[1], "OPENBLAS_NUM_THREADS=%d", threads);
    snprintf(ce->store[2], sizeof ce->store[2], "MKL_NUM_THREADS=%d", threads);
    ce->envp[k++] = ce->store[0];
    ce->envp[k++] = ce->store[1];
    ce->envp[k++] = ce->store[2];
    if (openmp) {
        snprintf(ce->store[3], sizeof ce->store[3], "LD_LIBRARY_PATH=%s%s%s", OPENMP_BLAS_DIR, *old_path ? ":" : "",
                 old_path);
        ce->envp[k++] = ce->store[3];
    }
    ce->envp[k] = NULL;
    return 1;
}

typedef struct timing_args {
    char seconds[32], repeats[32], warmup[32], threads[32];
} timing_args;

static void format_timing(timing_args *ta, const bench_timing *t, int threads) {
    snprintf(ta->seconds, sizeof ta->seconds, "%g", t->seconds);
    snprintf(ta->repeats, sizeof ta->repeats, "%d", t->repeats);
    snprintf(ta->warmup, sizeof ta->warmup, "%g", t->warmup);
    snprintf(ta->threads, sizeof ta->threads, "%d", threads);
}

/* A child gets far more than its budget: warm-up steps of a slow configuration can exceed it. */
static double child_timeout(const bench_timing *t) { return 120.0 + 10.0 * (t->seconds + t->warmup); }

/* Run a child, and again while other processes disturbed it (up to o->retries more times);
 * keep the least disturbed result. */
static cJSON *run_child_quiet(driver *dr, char *const argv[], char *const envp[], double timeout) {
    const options *o = dr->o;
    cJSON *best = NULL;
    double best_other = 1e30;
    int attempts = 0;
    for (int a = 0; a <= o->retries; a++) {
        double other, t0 = now_wall();
        cJSON *r = run_child(argv, envp, timeout, &other);
        if (a > 0) dr->retry_spent += now_wall() - t0;
        attempts++;
        if (!r) break;
        if (!best || other < best_other) {
            cJSON_Delete(best);
            best = r, best_other = other;
        } else {
            cJSON_Delete(r);
        }
        if (best_other <= o->busy || a == o->retries) break;
        if (dr->retry_spent >= o->retry_budget) {
            fprintf(stderr, "  (other processes used %.2f CPUs meanwhile; the re-run budget is spent)\n", other);
            break;
        }
        fprintf(stderr, "  (other processes used %.2f CPUs meanwhile; waiting 10 s and running it again)\n", other);
        sleep(10);
        dr->retry_spent += 10;
    }
    if (best) {
        cJSON_AddNumberToObject(best, "other_load", best_other);
        cJSON_AddNumberToObject(best, "attempts", attempts);
    }
    return best;
}

static cJSON *run_svdd_child(driver *dr, const bench_task *task, int threads) {
    const options *o = dr->o;
    timing_args ta;
    format_timing(&ta, &o->timing, threads);
    char *argv[] = {"/proc/self/exe", (char *)o->subcommand, "--child", (char *)task->name, "--child-threads",
                    ta.threads, "--seconds", ta.seconds, "--repeats", ta.repeats, "--warmup", ta.warmup, NULL};
    /* without a subcommand the child's options follow the executable directly */
    if (!o->subcommand) memmove(argv + 1, argv + 2, sizeof argv - 2 * sizeof *argv);
    return run_child_quiet(dr, argv, environ, child_timeout(&o->timing));
}

static cJSON *run_fit_child(driver *dr, const bench_task *task, int threads, int images) {
    const options *o = dr->o;
    char thr[16], img[16], ep[16];
    snprintf(thr, sizeof thr, "%d", threads);
    snprintf(img, sizeof img, "%d", images);
    snprintf(ep, sizeof ep, "%d", o->scaling_epochs);
    char *argv[] = {"/proc/self/exe", (char *)o->subcommand, "--child", (char *)task->name, "--child-threads", thr,
                    "--child-images", img, "--child-epochs", ep, NULL};
    if (!o->subcommand) memmove(argv + 1, argv + 2, sizeof argv - 2 * sizeof *argv);
    /* generous: 100 images/s through both phases would be twenty times slower than this machine */
    return run_child_quiet(dr, argv, environ, 300.0 + 2.0 * images * o->scaling_epochs / 100.0);
}

static cJSON *run_torch_child(driver *dr, const bench_task *task, int threads, int openmp) {
    const options *o = dr->o;
    timing_args ta;
    format_timing(&ta, &o->timing, threads);
    char *argv[] = {(char *)o->python, (char *)o->torch_script, "--task", (char *)task->name, "--threads", ta.threads,
                    "--seconds", ta.seconds, "--repeats", ta.repeats, "--warmup", ta.warmup, NULL};
    child_env ce;
    if (!make_torch_env(&ce, threads, openmp)) return NULL;
    cJSON *r = run_child_quiet(dr, argv, ce.envp, child_timeout(&o->timing));
    free(ce.envp);
    if (r) {
        /* name the variant after what the process really loaded, not what was asked for */
        const char *blas = bench_str(r, "blas");
        const char *name = strstr(blas, "openblas-openmp") ? "OpenMP OpenBLAS"
                           : strstr(blas, "openblas-pthread") ? "pthread OpenBLAS"
                           : *blas ? blas : "no OpenBLAS";
        cJSON_AddStringToObject(r, "requested", openmp ? "openmp" : "pthread");
        cJSON_AddStringToObject(r, "variant", name);
    }
    return r;
}

/* ---- machine description ---- */

static void read_first_line(const char *path, char *buf, size_t size) {
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f) return;
    if (fgets(buf, (int)size, f)) buf[strcspn(buf, "\n")] = '\0';
    fclose(f);
}

static void cpu_model(char *buf, size_t size, int *cpus) {
    snprintf(buf, size, "unknown");
    *cpus = 0;
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "processor", 9) == 0) (*cpus)++;
        if (strncmp(line, "model name", 10) == 0 && *cpus == 1) {
            char *c = strchr(line, ':');
            if (c) {
                c += 1 + (c[1] == ' ');
                c[strcspn(c, "\n")] = '\0';
                snprintf(buf, size, "%s", c);
            }
        }
    }
    fclose(f);
}

static void loadavg(char *buf, size_t size) {
    char line[128];
    read_first_line("/proc/loadavg", line, sizeof line);
    /* the 1-minute figure is the one that says whether someone is compiling right now */
    line[strcspn(line, " ")] = '\0';
    snprintf(buf, size, "%s", line);
}

static cJSON *machine_json(void) {
    cJSON *m = cJSON_CreateObject();
    char buf[512];
    int cpus;
    cpu_model(buf, sizeof buf, &cpus);
    cJSON_AddStringToObject(m, "cpu", buf);
    cJSON_AddNumberToObject(m, "cpus", cpus);
    time_t now = time(NULL);
    struct tm tmv;
    gmtime_r(&now, &tmv);
    strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", &tmv);
    cJSON_AddStringToObject(m, "date", buf);
    read_first_line("/proc/sys/kernel/osrelease", buf, sizeof buf);
    cJSON_AddStringToObject(m, "kernel", buf);
    loadavg(buf, sizeof buf);
    cJSON_AddStringToObject(m, "loadavg_before", buf);
    /* BLAS settings that change the figures; they are left as they are and reported */
    static const char *const vars[] = {"OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS",
                                       "OMP_NUM_THREADS", "LD_LIBRARY_PATH"};
    cJSON *env = cJSON_AddObjectToObject(m, "env");
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        if (v)
            cJSON_AddStringToObject(env, vars[i], v);
        else
            cJSON_AddNullToObject(env, vars[i]);
    }
    return m;
}

/* ---- the driver ---- */

static int task_selected(const options *o, const bench_task *t) {
    if (t->kind == BENCH_GEMM || t->kind == BENCH_FIT) return 0; /* the ceiling and the scaling table's own */
    if (strstr(t->name, "mnist") ? !o->mnist : !o->cifar) return 0;
    return t->kind == BENCH_SCORE ? o->score : o->train;
}

/* Print one configuration's result on stderr and note the load it ran under in it. */
static void progress(const char *who, const bench_task *t, int threads, const char *variant, cJSON *r) {
    if (r) {
        char la[64];
        loadavg(la, sizeof la);
        cJSON_AddStringToObject(r, "loadavg_after", la);
    }
    if (!r) {
        fprintf(stderr, "  %-6s %-18s %d thr %-18s FAILED\n", who, t->name, threads, variant);
        return;
    }
    fprintf(stderr, "  %-6s %-18s %d thr %-10s %10.1f %s (best %.1f), peak %.0f MiB, others %.2f CPUs\n", who, t->name,
            threads, variant, bench_num(r, "rate_median", 0), t->kind == BENCH_GEMM ? "GFLOP/s" : "img/s",
            bench_num(r, "rate_best", 0), bench_num(r, "peak_rss_kb", 0) / 1024.0, bench_num(r, "other_load", -1));
}

/* One row of the compare table: svdd, then each PyTorch variant, the fastest kept as the row's
 * PyTorch figure. Results go to the report's arrays, tagged with the row's round. Returns the
 * number of configurations that failed. */
static int run_row(driver *dr, bench_row *row, cJSON *svdd_res, cJSON *torch_res, cJSON *variants) {
    const options *o = dr->o;
    int failures = 0;
    row->svdd = run_svdd_child(dr, row->task, row->threads);
    progress("svdd", row->task, row->threads, "", row->svdd);
    if (row->svdd) {
        cJSON_AddNumberToObject(row->svdd, "round", row->round);
        cJSON_AddItemToArray(svdd_res, row->svdd);
    } else {
        failures++;
    }
    if (!o->torch) return failures;
    for (int v = 0; v < MAX_VARIANTS; v++) {
        if (v == 0 ? !o->variant_pthread : !o->variant_openmp) continue;
        cJSON *r = run_torch_child(dr, row->task, row->threads, v == 1);
        progress("torch", row->task, row->threads, v == 1 ? "(openmp)" : "(pthread)", r);
        if (!r) {
            failures++;
            continue;
        }
        cJSON_AddNumberToObject(r, "round", row->round);
        cJSON_AddItemToArray(torch_res, r);
        if (!row->torch_best || bench_num(r, "rate_median", 0) > bench_num(row->torch_best, "rate_median", 0)) {
            row->torch_best = r;
            row->torch_variant = bench_str(r, "variant");
        }
        /* one description per variant for the header */
        int seen = 0;
        const cJSON *e;
        cJSON_ArrayForEach(e, variants) seen |= strcmp(bench_str(e, "requested"), bench_str(r, "requested")) == 0;
        if (!seen) {
            cJSON *d = cJSON_CreateObject();
            cJSON_AddStringToObject(d, "requested", bench_str(r, "requested"));
            cJSON_AddStringToObject(d, "variant", bench_str(r, "variant"));
            cJSON_AddStringToObject(d, "blas", bench_str(r, "blas"));
            cJSON_AddStringToObject(d, "blas_core", bench_str(r, "blas_core"));
            cJSON_AddStringToObject(d, "torch_version", bench_str(r, "torch_version"));
            cJSON_AddItemToArray(variants, d);
        }
    }
    return failures;
}

static int run_driver(const options *o) {
    driver dr = {o, 0};
    int n_tasks;
    const bench_task *tasks = bench_tasks(&n_tasks);
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "svdd_version", svdd_version());
    cJSON *machine = machine_json();
    cJSON_AddItemToObject(root, "machine", machine);
    cJSON *protocol = cJSON_AddObjectToObject(root, "protocol");
    cJSON_AddNumberToObject(protocol, "seconds", o->timing.seconds);
    cJSON_AddNumberToObject(protocol, "repeats", o->timing.repeats);
    cJSON_AddNumberToObject(protocol, "warmup_seconds", o->timing.warmup);
    cJSON_AddStringToObject(protocol, "statistic", "median images/s of the timed runs");
    cJSON_AddNumberToObject(protocol, "busy_threshold_cpus", o->busy);
    cJSON_AddNumberToObject(protocol, "retries", o->retries);
    cJSON_AddNumberToObject(protocol, "rounds", o->rounds);
    cJSON *gemm = cJSON_AddArrayToObject(root, "gemm");
    cJSON *svdd_res = cJSON_AddArrayToObject(root, "svdd");
    cJSON *torch_res = cJSON_AddArrayToObject(root, "torch");
    cJSON *variants = cJSON_AddArrayToObject(root, "torch_variants");
    double gemm_gflops[BENCH_MAX_THREADS + 1] = {0};
    int failures = 0;
    double t0 = now_wall();

    fprintf(stderr, "svdd bench: %.1f s timed + %.1f s warm-up per configuration, %d runs; load %s\n",
            o->timing.seconds, o->timing.warmup, o->timing.repeats, bench_str(machine, "loadavg_before"));
    if (o->compare && o->torch && access(o->torch_script, R_OK) != 0) {
        fprintf(stderr, "svdd bench: cannot read %s; pass --torch-script PATH or --no-torch\n", o->torch_script);
        cJSON_Delete(root);
        return 1;
    }
    /* every configuration of every round: at most all tasks at all thread counts, rounds times */
    const size_t max_rows = (size_t)n_tasks * (size_t)o->n_threads * (size_t)o->rounds;
    bench_row *rows = calloc(max_rows, sizeof *rows);
    int n_rows = 0;
    if (!rows) {
        fprintf(stderr, "svdd bench: out of memory\n");
        cJSON_Delete(root);
        return 1;
    }
    if (o->compare) {
        const bench_task *g = bench_task_find("gemm-1024");
        for (int ti = 0; ti < o->n_threads; ti++) {
            cJSON *r = run_svdd_child(&dr, g, o->threads[ti]);
            progress("svdd", g, o->threads[ti], "", r);
            if (!r) {
                failures++;
                continue;
            }
            gemm_gflops[o->threads[ti]] = bench_num(r, "rate_median", 0);
            if (!cJSON_GetObjectItemCaseSensitive(root, "svdd_blas")) {
                cJSON_AddStringToObject(root, "svdd_blas", bench_str(r, "blas"));
                cJSON_AddStringToObject(root, "svdd_blas_core", bench_str(r, "blas_core"));
                cJSON_AddStringToObject(root, "svdd_blas_config", bench_str(r, "blas_config"));
            }
            cJSON_AddItemToArray(gemm, r);
        }

        for (int rd = 0; rd < o->rounds; rd++) {
            if (o->rounds > 1) fprintf(stderr, "svdd bench: round %d of %d\n", rd + 1, o->rounds);
            for (int i = 0; i < n_tasks; i++) {
                if (!task_selected(o, &tasks[i])) continue;
                for (int ti = 0; ti < o->n_threads && (size_t)n_rows < max_rows; ti++) {
                    bench_row *row = &rows[n_rows++];
                    memset(row, 0, sizeof *row);
                    row->task = &tasks[i];
                    row->threads = o->threads[ti];
                    row->round = rd;
                    failures += run_row(&dr, row, svdd_res, torch_res, variants);
                }
            }
        }
    }
    cJSON *fits = cJSON_AddArrayToObject(root, "scaling");
    if (o->scaling) {
        const bench_task *fit = bench_task_find("fit-mnist");
        for (int ii = 0; ii < o->n_scaling_images; ii++)
            for (int ti = 0; ti < o->n_threads; ti++) {
                cJSON *r = run_fit_child(&dr, fit, o->threads[ti], o->scaling_images[ii]);
                if (!r) {
                    fprintf(stderr, "  svdd   %-18s %d thr %6d images FAILED\n", fit->name, o->threads[ti],
                            o->scaling_images[ii]);
                    failures++;
                    continue;
                }
                fprintf(stderr, "  svdd   %-18s %d thr %6d images, %d+%d epochs: %.1f s, peak %.0f MiB, others %.2f CPUs\n",
                        fit->name, o->threads[ti], o->scaling_images[ii], o->scaling_epochs, o->scaling_epochs,
                        bench_num(r, "seconds", 0), bench_num(r, "peak_rss_kb", 0) / 1024.0,
                        bench_num(r, "other_load", -1));
                cJSON_AddItemToArray(fits, r);
            }
    }
    char la[64];
    loadavg(la, sizeof la);
    cJSON_AddStringToObject(machine, "loadavg_after", la);
    cJSON_AddNumberToObject(root, "wall_seconds", now_wall() - t0);
    cJSON_AddNumberToObject(root, "retry_seconds", dr.retry_spent);
    fprintf(stderr, "svdd bench: done in %.0f s, load %s\n", now_wall() - t0, la);

    if (o->compare) {
        bench_print_table(root, rows, n_rows, gemm_gflops);
        bench_add_rows_json(root, rows, n_rows, gemm_gflops);
    }
    if (o->scaling) bench_print_scaling(fits);
    int rc = failures ? 1 : 0;
    if (o->json_path) {
        /* all or nothing: a failed write leaves the previous report in place, not half of this one */
        char *s = cJSON_Print(root);
        size_t len = s ? strlen(s) : 0;
        char *text = s ? realloc(s, len + 2) : NULL;
        svdd_error err;
        if (!text) {
            free(s);
            fprintf(stderr, "svdd bench: out of memory for %s\n", o->json_path);
            rc = 1;
        } else {
            text[len] = '\n', text[len + 1] = '\0';
            if (svdd_write_file_atomic(o->json_path, text, len + 1, &err) != SVDD_OK) {
                fprintf(stderr, "svdd bench: %s\n", err.message);
                rc = 1;
            }
            free(text);
        }
    }
    if (failures) fprintf(stderr, "svdd bench: %d configuration(s) failed\n", failures);
    cJSON_Delete(root);
    free(rows);
    return rc;
}

int bench_main(int argc, char **argv, const char *subcommand) {
    options o;
    if (!parse_options(&o, argc, argv, subcommand)) return 2;
    if (o.child_task) return bench_child_main(o.child_task, o.child_threads, &o.timing, &o.child_fit);
    return run_driver(&o);
}
