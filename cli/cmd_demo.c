/* svdd demo: the whole pipeline on the built-in synthetic set, no files needed: Hybrid Deep SVDD
 * trained on normal images, calibrated on held-out normal images, evaluated on normal and
 * defective ones, and the full report written. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void demo_usage(FILE *f) {
    fprintf(f,
            "usage: svdd demo [--out DIR] [options]\n"
            "\n"
            "Trains Hybrid Deep SVDD (the MNIST LeNet of Ruff et al. 2018, one encoder shared by the\n"
            "SVDD and reconstruction losses) on the built-in synthetic set (28x28 grey patterns; test\n"
            "anomalies carry a planted defect), calibrates its threshold on held-out normal images,\n"
            "evaluates it and writes the report: DIR/index.html (default DIR: svdd-demo).\n"
            "\n"
            "options:\n"
            "  --out DIR       (default svdd-demo)\n"
            "  --epochs N      epochs of pre-training and of joint training (default 15)\n"
            "  --lr X          Adam learning rate (default 1e-3)\n"
            "  --seed N        (default 1)\n"
            "  --threads N     (default 2)\n");
}

int svdd_cli_demo(int argc, char **argv) {
    long epochs = 15, seed = 1, threads = 2;
    double lr = 1e-3;
    const char *out = "svdd-demo";
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int ok = 1;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            demo_usage(stdout);
            return CLI_OK;
        } else if (strcmp(a, "--epochs") == 0) ok = cli_parse_int(a, v, 1, 100000, &epochs), i++;
        else if (strcmp(a, "--seed") == 0) ok = cli_parse_int(a, v, 0, 2147483647L, &seed), i++;
        else if (strcmp(a, "--threads") == 0) ok = cli_parse_int(a, v, 1, 256, &threads), i++;
        else if (strcmp(a, "--lr") == 0) ok = cli_parse_double(a, v, 1e-8, 1.0, &lr), i++;
        else if (strcmp(a, "--out") == 0) ok = v != NULL, out = v, i++;
        else {
            fprintf(stderr, "svdd demo: unknown option '%s'\n", a);
            demo_usage(stderr);
            return CLI_USAGE;
        }
        if (!ok) return CLI_USAGE;
    }
    svdd_error err;
    cli_data d = {0};
    d.dataset = "synthetic";
    svdd_dataset *train = cli_data_load(&d, "train"), *test = cli_data_load(&d, "test");
    svdd_model *m = NULL;
    cJSON *res = NULL;
    int rc = CLI_FAIL;
    if (!train || !test) goto done;
    /* before training, so that a bad --out costs nothing */
    if (!cli_make_dir(out)) goto done;
    svdd_fit_options o = svdd_fit_defaults();
    o.objective.method = SVDD_METHOD_HYBRID;
    o.ae.epochs = o.svdd.epochs = (int)epochs;
    o.ae.lr = o.svdd.lr = lr;
    o.ae.batch_size = o.svdd.batch_size = 100;
    o.ae.n_milestones = o.svdd.n_milestones = 0;
    o.seed = (uint64_t)seed;
    o.threads = (int)threads;
    o.dataset = "synthetic";
    o.normal_class = 0;
    o.ae.on_epoch = o.svdd.on_epoch = cli_epoch_progress;
    o.ae.on_epoch_user = "autoencoder";
    o.svdd.on_epoch_user = "hybrid";
    printf("svdd demo: Hybrid Deep SVDD on %zu synthetic normal images (seed %ld)\n", svdd_dataset_count(train), seed);
    (void)fflush(stdout); /* progress text only */
    if (svdd_model_fit(&m, train, &o, &err) != SVDD_OK) {
        rc = cli_report(&err);
        goto done;
    }
    if (!(res = cli_evaluate(m, test, 0, 1, 0))) goto done;
    char path[4200];
    snprintf(path, sizeof path, "%s/model.safetensors", out);
    if (svdd_model_save(m, path, &err) != SVDD_OK) {
        rc = cli_report(&err);
        goto done;
    }
    svdd_report_options ro = svdd_report_defaults();
    ro.threads = (int)threads;
    ro.seed = (uint64_t)seed;
    ro.title = "svdd demo: Hybrid Deep SVDD on the synthetic set";
    ro.command = "svdd demo";
    if (svdd_report_write(m, test, 0, &ro, out, &err) != SVDD_OK) {
        rc = cli_report(&err);
        goto done;
    }
    printf("report: %s/index.html (open it in a browser); model: %s\n", out, path);
    rc = CLI_OK;
done:
    cJSON_Delete(res);
    svdd_model_free(m);
    svdd_dataset_free(train);
    svdd_dataset_free(test);
    return rc;
}
