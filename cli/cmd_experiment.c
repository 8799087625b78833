/* svdd experiment: the standard one-class protocol over data sets x normal classes x methods x
 * seeds. Train on one class of the training split, test on the whole test split (anomaly =
 * every other class). Each finished cell is saved at once as its own JSON file and a rerun skips
 * it, so a long table can be built over several runs (and by several processes: --jobs). The
 * tables (Markdown, CSV, JSON) are rebuilt from all cell files at the end. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define MAX_LIST 64

/* Ruff et al. 2018, Table 1: one-class Deep SVDD AUC (%) per normal class. */
static const double PAPER_MNIST[10] = {98.0, 99.7, 91.7, 91.9, 94.9, 88.5, 98.3, 94.6, 93.9, 96.5};
static const double PAPER_CIFAR[10] = {61.7, 65.9, 50.8, 59.1, 60.9, 65.7, 67.7, 67.3, 75.9, 73.1};

static void usage(FILE *f) {
    fprintf(f,
            "usage: svdd experiment --data ROOT --datasets LIST --classes LIST --methods LIST --seeds LIST\n"
            "                       [training options] --out DIR [--jobs N]\n"
            "\n"
            "Runs the one-class protocol for every combination and writes DIR/cells/*.json (one per run,\n"
            "skipped when it already exists with the same schedule) and the tables DIR/results.md,\n"
            "DIR/results.csv and DIR/results.json: AUC mean +- std over seeds per class, the overall mean,\n"
            "F1 at the calibrated threshold with the flag-all and oracle F1 beside it, and the published\n"
            "one-class Deep SVDD AUCs (Ruff et al. 2018) for MNIST and CIFAR-10. Hybrid cells also\n"
            "record the metrics of each hybrid score (sum, distance, reconstruction).\n"
            "The methods of one class and seed share their autoencoder pre-training: it runs once and is\n"
            "kept in DIR/pretrained/ (results are identical to pre-training each time).\n"
            "\n"
            "  --data ROOT         folder holding mnist/, fashion-mnist/, cifar-10/ (see svdd train --help)\n"
            "  --datasets LIST     comma-separated: mnist, fashion-mnist, cifar10, cifar10-jpeg, synthetic\n"
            "  --classes LIST      normal classes, e.g. 0-9 or 0,3,5 (default 0-9)\n"
            "  --methods LIST      deep-svdd, soft-boundary, hybrid (default deep-svdd)\n"
            "  --seeds LIST        e.g. 1-3 (default 1)\n"
            "  --jobs N            cells run in N processes at once, one thread each (default 1)\n"
            "  --report-only       only rebuild the tables from the cell files\n"
            "  --out DIR           where cells and tables go\n"
            "\n%s",
            CLI_FIT_HELP);
}

typedef struct cell {
    const char *dataset;
    int cls, seed;
    svdd_method method;
} cell;

static void cell_path(char *buf, size_t size, const char *out, const cell *c) {
    snprintf(buf, size, "%s/cells/%s-class%d-%s-seed%d.json", out, c->dataset, c->cls, svdd_method_name(c->method), c->seed);
}

static cJSON *schedule_json(const svdd_fit_options *o) {
    cJSON *s = cJSON_CreateObject();
    cJSON_AddNumberToObject(s, "ae_epochs", o->ae.epochs);
    cJSON_AddNumberToObject(s, "epochs", o->svdd.epochs);
    cJSON_AddNumberToObject(s, "ae_lr", o->ae.lr);
    cJSON_AddNumberToObject(s, "lr", o->svdd.lr);
    cJSON_AddNumberToObject(s, "batch_size", o->svdd.batch_size);
    cJSON_AddNumberToObject(s, "weight_decay", o->svdd.weight_decay);
    cJSON_AddNumberToObject(s, "ae_weight_decay", o->ae.weight_decay);
    cJSON_AddItemToObject(s, "lr_milestones", cJSON_CreateIntArray(o->svdd.milestones, o->svdd.n_milestones));
    cJSON_AddItemToObject(s, "ae_lr_milestones", cJSON_CreateIntArray(o->ae.milestones, o->ae.n_milestones));
    cJSON_AddNumberToObject(s, "nu", o->objective.nu);
    cJSON_AddNumberToObject(s, "mu1", o->objective.mu1);
    cJSON_AddNumberToObject(s, "mu2", o->objective.mu2);
    cJSON_AddStringToObject(s, "hybrid_score", svdd_hybrid_score_name(o->hybrid_score));
    cJSON_AddStringToObject(s, "threshold", svdd_threshold_name(o->threshold));
    cJSON_AddNumberToObject(s, "target_fpr", o->target_fpr);
    cJSON_AddNumberToObject(s, "calibration_fraction", o->calibration_fraction);
    /* only when on: the cells of runs without clipping keep their schedule */
    if (o->svdd.clip_grad_norm > 0) cJSON_AddNumberToObject(s, "clip_grad_norm", o->svdd.clip_grad_norm);
    return s;
}

static cJSON *read_json(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    long n = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (n < 0 || n > (1L << 26) || fseek(f, 0, SEEK_SET) != 0) {
        (void)fclose(f);
        return NULL;
    }
    char *buf = malloc((size_t)n + 1);
    size_t got = buf ? fread(buf, 1, (size_t)n, f) : 0;
    (void)fclose(f); /* read only: nothing to lose */
    if (!buf) return NULL;
    buf[got] = 0;
    cJSON *j = cJSON_Parse(buf);
    free(buf);
    return j;
}

/* A finished cell with the same schedule exists. */
static int cell_done(const char *path, const cJSON *schedule) {
    cJSON *j = read_json(path);
    if (!j) return 0;
    int same = cJSON_Compare(cJSON_GetObjectItemCaseSensitive(j, "schedule"), schedule, 1);
    cJSON_Delete(j);
    return same;
}

typedef struct loaded {
    svdd_dataset *train, *test;
} loaded;

static int run_cell(const char *out, const cell *c, const loaded *ds, const svdd_fit_options *base, const cli_data *d) {
    svdd_fit_options o = *base;
    o.objective.method = c->method;
    o.seed = (uint64_t)c->seed;
    o.normal_class = c->cls;
    cli_data dd = *d;
    dd.dataset = c->dataset;
    o.dataset = cli_data_label(&dd);
    char label[96];
    snprintf(label, sizeof label, "%s c%d %s s%d", c->dataset, c->cls, svdd_method_name(c->method), c->seed);
    o.ae.on_epoch = o.svdd.on_epoch = cli_epoch_progress;
    o.ae.on_epoch_user = o.svdd.on_epoch_user = label;
    o.log = cli_log_line;
    o.log_user = label;
    /* the methods of one class and seed share their pre-training */
    char cache[4200];
    snprintf(cache, sizeof cache, "%s/pretrained/%s-class%d-seed%d.safetensors", out, c->dataset, c->cls, c->seed);
    o.pretrained_cache = cache;
    svdd_error err;
    svdd_dataset *normal = NULL;
    svdd_model *m = NULL;
    cJSON *res = NULL;
    int rc = CLI_FAIL;
    if (c->cls >= svdd_dataset_num_classes(ds->train)) {
        fprintf(stderr, "svdd: error: %s has no class %d\n", c->dataset, c->cls);
        return CLI_USAGE;
    }
    if (svdd_dataset_select_class(&normal, ds->train, c->cls, &err) != SVDD_OK) return cli_report(&err);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (svdd_model_fit(&m, normal, &o, &err) != SVDD_OK) {
        rc = cli_report(&err);
        goto done;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    res = cli_evaluate(m, ds->test, c->cls, 0, 0);
    if (!res) goto done;
    cJSON_AddStringToObject(res, "dataset_key", c->dataset);
    cJSON_AddNumberToObject(res, "seed", c->seed);
    cJSON_AddNumberToObject(res, "train_seconds", (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
    cJSON_AddNumberToObject(res, "threads", o.threads);
    cJSON_AddStringToObject(res, "svdd_version", svdd_version());
    cJSON_AddItemToObject(res, "schedule", schedule_json(base));
    char *text = cJSON_Print(res), path[4096];
    cell_path(path, sizeof path, out, c);
    if (text && svdd_write_file_atomic(path, text, strlen(text), &err) == SVDD_OK) {
        cJSON *auc = cJSON_GetObjectItemCaseSensitive(res, "auc"), *f1 = cJSON_GetObjectItemCaseSensitive(res, "f1");
        fprintf(stderr, "%s: AUC %.4f F1 %.4f (%.0fs)\n", label, auc ? auc->valuedouble : NAN, f1 ? f1->valuedouble : NAN,
                (double)(t1.tv_sec - t0.tv_sec));
        rc = CLI_OK;
    } else if (text) {
        cli_report(&err);
    }
    free(text);
done:
    cJSON_Delete(res);
    svdd_model_free(m);
    svdd_dataset_free(normal);
    return rc;
}

/* ---- tables ---- */

typedef struct agg {
    char dataset[48], label[48], method[24];
    int cls;
    double auc[64], f1[64], f1_all[64], f1_oracle[64], fpr[64], secs[64];
    double hs_auc[3][64]; /* hybrid runs: AUC of each hybrid score */
    int n, n_hs;
    cJSON *schedule;
} agg;

static double mean_of(const double *x, int n) {
    double s = 0;
    for (int i = 0; i < n; i++) s += x[i];
    return n ? s / n : NAN;
}

static double std_of(const double *x, int n) {
    if (n < 2) return 0;
    double m = mean_of(x, n), s = 0;
    for (int i = 0; i < n; i++) s += (x[i] - m) * (x[i] - m);
    return sqrt(s / (n - 1));
}

static double num(const cJSON *j, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static const char *str(const cJSON *j, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, k);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static int cmp_agg(const void *a, const void *b) {
    const agg *x = a, *y = b;
    int c = strcmp(x->dataset, y->dataset);
    if (c) return c;
    if ((c = strcmp(x->method, y->method))) return c;
    return x->cls - y->cls;
}

/* The hybrid runs' three scores side by side (only runs that measured all three). */
static void hybrid_score_table(cli_buf *md, const agg *a, int na) {
    for (int s = 0; s < na;) {
        int t = s;
        while (t < na && !strcmp(a[t].dataset, a[s].dataset) && !strcmp(a[t].method, a[s].method)) t++;
        int any = 0;
        for (int k = s; k < t; k++) any |= a[k].n_hs > 0;
        if (strcmp(a[s].method, "hybrid") != 0 || !any) {
            s = t;
            continue;
        }
        cli_buf_printf(md, "\n## %s, hybrid: AUC of each score\n\n| normal class | runs | sum | distance | reconstruction |\n"
                           "|---|---|---|---|---|\n", a[s].label);
        double cm[3][64];
        int nc = 0;
        for (int k = s; k < t; k++) {
            const agg *g = &a[k];
            if (!g->n_hs) continue;
            cli_buf_printf(md, "| %d | %d |", g->cls, g->n_hs);
            for (int h = 0; h < 3; h++) {
                double m = 100 * mean_of(g->hs_auc[h], g->n_hs);
                cli_buf_printf(md, " %.1f +- %.1f |", m, 100 * std_of(g->hs_auc[h], g->n_hs));
                if (nc < 64) cm[h][nc] = m;
            }
            cli_buf_printf(md, "\n");
            if (nc < 64) nc++;
        }
        cli_buf_printf(md, "| **mean of %d classes** | | **%.2f** | **%.2f** | **%.2f** |\n", nc, mean_of(cm[0], nc),
                       mean_of(cm[1], nc), mean_of(cm[2], nc));
        s = t;
    }
}

static int report(const char *out) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/cells", out);
    DIR *dp = opendir(dir);
    if (!dp) {
        fprintf(stderr, "svdd: error: %s: no cells yet (%s)\n", dir, strerror(errno));
        return CLI_FAIL;
    }
    agg *a = NULL;
    int na = 0;
    struct dirent *e;
    while ((e = readdir(dp))) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".json") != 0) continue;
        char p[8192];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        cJSON *j = read_json(p);
        if (!j) {
            fprintf(stderr, "svdd: warning: %s is not valid JSON; skipped\n", p);
            continue;
        }
        const char *key = str(j, "dataset_key"), *method = str(j, "method");
        int cls = (int)num(j, "normal_class");
        int k;
        for (k = 0; k < na; k++)
            if (!strcmp(a[k].dataset, key) && !strcmp(a[k].method, method) && a[k].cls == cls) break;
        if (k == na) {
            agg *na_ = realloc(a, (size_t)(na + 1) * sizeof *a);
            if (!na_) break;
            a = na_;
            memset(&a[na], 0, sizeof a[na]);
            snprintf(a[na].dataset, sizeof a[na].dataset, "%s", key);
            snprintf(a[na].label, sizeof a[na].label, "%s", str(j, "dataset"));
            snprintf(a[na].method, sizeof a[na].method, "%s", method);
            a[na].cls = cls;
            na++;
        }
        agg *g = &a[k];
        if (g->n < 64) {
            g->auc[g->n] = num(j, "auc"), g->f1[g->n] = num(j, "f1"), g->f1_all[g->n] = num(j, "f1_all_anomalous");
            g->f1_oracle[g->n] = num(j, "f1_oracle"), g->fpr[g->n] = num(j, "fpr"), g->secs[g->n] = num(j, "train_seconds");
            if (!g->schedule) g->schedule = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(j, "schedule"), 1);
            const cJSON *by = cJSON_GetObjectItemCaseSensitive(j, "by_hybrid_score");
            if (by && g->n_hs == g->n) {
                for (int h = 0; h < 3; h++)
                    g->hs_auc[h][g->n_hs] = num(cJSON_GetObjectItemCaseSensitive(by, svdd_hybrid_score_name((svdd_hybrid_score)h)), "auc");
                g->n_hs++;
            }
            g->n++;
        }
        cJSON_Delete(j);
    }
    closedir(dp);
    if (na > 1) qsort(a, (size_t)na, sizeof *a, cmp_agg); /* a is NULL when there are no cells */
    cli_buf md = {0}, csv = {0};
    cJSON *js = cJSON_CreateArray();
    cli_buf_printf(&md, "# One-class results\n\nAnomaly = positive class. AUC in %%, mean +- std over seeds; F1 at the "
                        "threshold calibrated on held-out normal training images, with the F1 of flagging every image "
                        "and the oracle F1 (best threshold chosen with the test labels) beside it.\n");
    cli_buf_printf(&csv, "dataset,method,normal_class,runs,auc_mean,auc_std,f1_mean,f1_all_anomalous,f1_oracle,fpr_mean,"
                         "train_seconds_mean,paper_auc\n");
    for (int s = 0; s < na;) {
        int t = s;
        while (t < na && !strcmp(a[t].dataset, a[s].dataset) && !strcmp(a[t].method, a[s].method)) t++;
        const double *paper = NULL;
        if (!strcmp(a[s].method, "deep-svdd") && !strcmp(a[s].dataset, "mnist")) paper = PAPER_MNIST;
        if (!strcmp(a[s].method, "deep-svdd") && (!strcmp(a[s].dataset, "cifar10") || !strcmp(a[s].dataset, "cifar10-jpeg")))
            paper = PAPER_CIFAR;
        char *sched = a[s].schedule ? cJSON_PrintUnformatted(a[s].schedule) : NULL;
        cli_buf_printf(&md, "\n## %s, %s\n\nSchedule: `%s`\n\n| normal class | runs | AUC | F1 | F1 flag-all | F1 oracle | FPR |%s\n"
                            "|---|---|---|---|---|---|---|%s\n",
                       a[s].label, a[s].method, sched ? sched : "?", paper ? " paper AUC |" : "", paper ? "---|" : "");
        free(sched);
        double class_means[64], f1m[64], f1a[64], f1o[64], fprm[64], paper_sum = 0;
        int nc = 0, paper_n = 0;
        for (int k = s; k < t; k++) {
            agg *g = &a[k];
            double am = 100 * mean_of(g->auc, g->n), as = 100 * std_of(g->auc, g->n);
            cli_buf_printf(&md, "| %d | %d | %.1f +- %.1f | %.3f | %.3f | %.3f | %.3f |", g->cls, g->n, am, as, mean_of(g->f1, g->n),
                           mean_of(g->f1_all, g->n), mean_of(g->f1_oracle, g->n), mean_of(g->fpr, g->n));
            if (paper && g->cls >= 0 && g->cls < 10) {
                cli_buf_printf(&md, " %.1f |", paper[g->cls]);
                paper_sum += paper[g->cls], paper_n++;
            }
            cli_buf_printf(&md, "\n");
            cli_buf_printf(&csv, "%s,%s,%d,%d,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%.1f,", g->dataset, g->method, g->cls, g->n, am, as,
                           mean_of(g->f1, g->n), mean_of(g->f1_all, g->n), mean_of(g->f1_oracle, g->n), mean_of(g->fpr, g->n),
                           mean_of(g->secs, g->n));
            if (paper && g->cls >= 0 && g->cls < 10) cli_buf_printf(&csv, "%.1f", paper[g->cls]);
            cli_buf_printf(&csv, "\n");
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "dataset", g->dataset);
            cJSON_AddStringToObject(o, "method", g->method);
            cJSON_AddNumberToObject(o, "normal_class", g->cls);
            cJSON_AddItemToObject(o, "auc", cJSON_CreateDoubleArray(g->auc, g->n));
            cJSON_AddItemToObject(o, "f1", cJSON_CreateDoubleArray(g->f1, g->n));
            cJSON_AddNumberToObject(o, "auc_mean", mean_of(g->auc, g->n));
            cJSON_AddNumberToObject(o, "auc_std", std_of(g->auc, g->n));
            if (g->schedule) cJSON_AddItemToObject(o, "schedule", cJSON_Duplicate(g->schedule, 1));
            cJSON_AddItemToArray(js, o);
            if (nc < 64) {
                class_means[nc] = am, f1m[nc] = mean_of(g->f1, g->n), f1a[nc] = mean_of(g->f1_all, g->n);
                f1o[nc] = mean_of(g->f1_oracle, g->n), fprm[nc] = mean_of(g->fpr, g->n), nc++;
            }
        }
        /* two decimals on the mean: it is what a target "within 1.5 points" is judged on */
        cli_buf_printf(&md, "| **mean of %d classes** | | **%.2f +- %.1f** | %.3f | %.3f | %.3f | %.3f |", nc,
                       mean_of(class_means, nc), std_of(class_means, nc), mean_of(f1m, nc), mean_of(f1a, nc), mean_of(f1o, nc),
                       mean_of(fprm, nc));
        if (paper) cli_buf_printf(&md, " %.1f |", paper_n ? paper_sum / paper_n : NAN);
        cli_buf_printf(&md, "\n");
        s = t;
    }
    cli_buf_printf(&md, "\nPaper AUCs: Ruff et al., Deep One-Class Classification, ICML 2018, Table 1 (one-class Deep SVDD).\n"
                        "The overall +- is the standard deviation over classes of the per-class means.\n");
    hybrid_score_table(&md, a, na);
    for (int k = 0; k < na; k++) cJSON_Delete(a[k].schedule);
    free(a);
    char p[4200];
    int rc = CLI_OK;
    snprintf(p, sizeof p, "%s/results.md", out);
    if (cli_buf_write(&md, p) != CLI_OK) rc = CLI_FAIL;
    snprintf(p, sizeof p, "%s/results.csv", out);
    if (cli_buf_write(&csv, p) != CLI_OK) rc = CLI_FAIL;
    char *text = cJSON_Print(js);
    snprintf(p, sizeof p, "%s/results.json", out);
    svdd_error err;
    if (!text || svdd_write_file_atomic(p, text, strlen(text), &err) != SVDD_OK) rc = CLI_FAIL;
    free(text);
    cJSON_Delete(js);
    if (rc == CLI_OK) fprintf(stderr, "svdd experiment: tables in %s/results.{md,csv,json}\n", out);
    return rc;
}

int svdd_cli_experiment(int argc, char **argv) {
    cli_data d = {0};
    svdd_fit_options o = svdd_fit_defaults();
    o.threads = 1;
    const char *out = NULL, *datasets = NULL, *classes = "0-9", *methods = "deep-svdd", *seeds = "1", *jobs_s = NULL;
    char *spec_text = NULL;
    int bad = 0, report_only = 0;
    for (int i = 0; i < argc && !bad; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return CLI_OK;
        }
        if (strcmp(argv[i], "--report-only") == 0) {
            report_only = 1;
            continue;
        }
        if (cli_opt(argc, argv, &i, "--data", &d.dir, &bad) || cli_opt(argc, argv, &i, "--datasets", &datasets, &bad) ||
            cli_opt(argc, argv, &i, "--classes", &classes, &bad) || cli_opt(argc, argv, &i, "--methods", &methods, &bad) ||
            cli_opt(argc, argv, &i, "--seeds", &seeds, &bad) || cli_opt(argc, argv, &i, "--jobs", &jobs_s, &bad) ||
            cli_opt(argc, argv, &i, "--out", &out, &bad) || cli_fit_opt(&o, &spec_text, argc, argv, &i, &bad))
            continue;
        fprintf(stderr, "svdd experiment: unknown option '%s' (see svdd experiment --help)\n", argv[i]);
        bad = 1;
    }
    if (!bad && !out) fprintf(stderr, "svdd experiment: give the output folder with --out DIR\n"), bad = 1;
    if (!bad && report_only) {
        free(spec_text);
        return report(out);
    }
    if (!bad && !datasets) fprintf(stderr, "svdd experiment: give --datasets LIST (and --data ROOT)\n"), bad = 1;
    long cls[MAX_LIST], sds[MAX_LIST], jobs = 1;
    int ncls = 0, nseed = 0, nds = 0, nmeth = 0;
    const char *ds_names[8];
    svdd_method meths[3];
    char ds_buf[256], m_buf[256];
    if (!bad) {
        ncls = cli_parse_int_list("--classes", classes, 0, 1000, cls, MAX_LIST);
        nseed = cli_parse_int_list("--seeds", seeds, 0, 2147483647L, sds, MAX_LIST);
        if (ncls <= 0 || nseed <= 0) bad = 1; /* the parser has said why (it never returns 0) */
        if (jobs_s && !cli_parse_int("--jobs", jobs_s, 1, 64, &jobs)) bad = 1;
        snprintf(ds_buf, sizeof ds_buf, "%s", datasets);
        for (char *t = strtok(ds_buf, ","); t && !bad; t = strtok(NULL, ",")) {
            if (nds == 8 || (strcmp(t, "mnist") != 0 && strcmp(t, "fashion-mnist") != 0 && strcmp(t, "cifar10") != 0 &&
                             strcmp(t, "cifar10-jpeg") != 0 && strcmp(t, "synthetic") != 0)) {
                fprintf(stderr, "svdd experiment: --datasets takes mnist, fashion-mnist, cifar10, cifar10-jpeg, synthetic (not '%s')\n",
                        t);
                bad = 1;
            } else {
                ds_names[nds++] = t;
            }
        }
        snprintf(m_buf, sizeof m_buf, "%s", methods);
        for (char *t = strtok(m_buf, ","); t && !bad; t = strtok(NULL, ",")) {
            svdd_error err;
            if (nmeth == 3 || svdd_method_parse(t, &meths[nmeth], &err) != SVDD_OK) {
                fprintf(stderr, "svdd experiment: --methods takes deep-svdd, soft-boundary, hybrid (not '%s')\n", t);
                bad = 1;
            } else {
                nmeth++;
            }
        }
        /* "--methods ," or "--datasets ," leave a list empty: nothing to run is a mistake */
        if (!bad && (nds == 0 || nmeth == 0))
            fprintf(stderr, "svdd experiment: --datasets and --methods each need at least one name\n"), bad = 1;
    }
    if (bad) {
        free(spec_text);
        return CLI_USAGE;
    }
    char cells_dir[4200];
    snprintf(cells_dir, sizeof cells_dir, "%s/cells", out);
    char pre_dir[4200];
    snprintf(pre_dir, sizeof pre_dir, "%s/pretrained", out);
    if (!cli_make_dir(out) || !cli_make_dir(cells_dir) || !cli_make_dir(pre_dir)) {
        free(spec_text);
        return CLI_FAIL;
    }
    cJSON *schedule = schedule_json(&o);
    int rc = CLI_OK;
    for (int di = 0; di < nds && rc == CLI_OK; di++) {
        /* the cells of this data set that still need running */
        cell *todo = malloc((size_t)ncls * (size_t)nmeth * (size_t)nseed * sizeof *todo);
        int nt = 0;
        if (!todo) {
            rc = CLI_FAIL;
            break;
        }
        /* seed-major, so that a stopped run leaves whole seeds; the methods of one class and
         * seed next to each other, so that they run in one worker and share the pre-training */
        int *unit = malloc((size_t)ncls * (size_t)nmeth * (size_t)nseed * sizeof *unit), nu = 0;
        if (!unit) {
            free(todo);
            rc = CLI_FAIL;
            break;
        }
        for (int s = 0; s < nseed; s++)
            for (int c = 0; c < ncls; c++) {
                int used = 0;
                for (int m = 0; m < nmeth; m++) {
                    cell ce = {ds_names[di], (int)cls[c], (int)sds[s], meths[m]};
                    char p[4096];
                    cell_path(p, sizeof p, out, &ce);
                    if (cell_done(p, schedule)) continue;
                    unit[nt] = nu;
                    todo[nt++] = ce;
                    used = 1;
                }
                nu += used;
            }
        fprintf(stderr, "svdd experiment: %s: %d cells to run (%d already done)\n", ds_names[di], nt,
                ncls * nmeth * nseed - nt);
        if (nt == 0) {
            free(todo), free(unit);
            continue;
        }
        cli_data dd = d;
        dd.dataset = ds_names[di];
        loaded L = {cli_data_load(&dd, "train"), cli_data_load(&dd, "test")};
        if (!L.train || !L.test) {
            svdd_dataset_free(L.train), svdd_dataset_free(L.test), free(todo), free(unit);
            rc = CLI_FAIL;
            break;
        }
        /* Workers split the cells round-robin; each cell's file is written atomically, so a
         * killed run loses only the cells in flight. */
        int workers = (int)(jobs < nu ? jobs : nu);
        if (workers <= 1) {
            for (int k = 0; k < nt && rc == CLI_OK; k++) rc = run_cell(out, &todo[k], &L, &o, &d);
        } else {
            fflush(stdout), fflush(stderr);
            pid_t pids[64];
            for (int w = 0; w < workers; w++) {
                pids[w] = fork();
                if (pids[w] == 0) {
                    int wrc = CLI_OK;
                    for (int k = 0; k < nt && wrc == CLI_OK; k++)
                        if (unit[k] % workers == w) wrc = run_cell(out, &todo[k], &L, &o, &d);
                    _exit(wrc);
                }
                if (pids[w] < 0) {
                    fprintf(stderr, "svdd: error: cannot start a worker: %s\n", strerror(errno));
                    rc = CLI_FAIL;
                    workers = w;
                    break;
                }
            }
            for (int w = 0; w < workers; w++) {
                int status = 0;
                if (waitpid(pids[w], &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) rc = CLI_FAIL;
            }
        }
        svdd_dataset_free(L.train), svdd_dataset_free(L.test), free(todo), free(unit);
    }
    cJSON_Delete(schedule);
    free(spec_text);
    int rr = report(out);
    return rc != CLI_OK ? rc : rr;
}
