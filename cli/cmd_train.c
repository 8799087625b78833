/* svdd train: fit a detector on the normal class of a data set and save it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: svdd train --data DIR --dataset NAME --normal-class K [options] --out MODEL\n"
            "\n"
            "Trains on the normal class of the training split only (one-class protocol): autoencoder\n"
            "pre-training, then Deep SVDD (Ruff et al. 2018) with its centre c from the pre-trained\n"
            "encoder, then the threshold calibrated on held-out normal images. Writes a safetensors model.\n"
            "\n"
            "%s%s"
            "checkpoints (docs/methods.md, \"Checkpoints and faults\"):\n"
            "  --checkpoint FILE   write the whole training state to FILE (atomically: a crash leaves the\n"
            "                      previous checkpoint or the new one) after every N-th epoch of each phase\n"
            "  --checkpoint-every N  (1)\n"
            "  --resume CKPT       continue the run saved in CKPT; give the options of the interrupted run\n"
            "                      (checked; only --threads and --clip-grad-norm may change). With --threads 1\n"
            "                      the model is bit for bit the one an uninterrupted run writes. CKPT may\n"
            "                      also be the --checkpoint FILE. When the loss or the gradient becomes NaN,\n"
            "                      training stops and the last checkpoint is left as it was\n"
            "output:\n"
            "  --out MODEL         the model file to write (e.g. model.safetensors)\n",
            CLI_DATA_HELP, CLI_FIT_HELP);
}

int svdd_cli_train(int argc, char **argv) {
    cli_data d = {0};
    svdd_fit_options o = svdd_fit_defaults();
    o.threads = 2;
    const char *out = NULL, *every = NULL;
    char *spec_text = NULL;
    int bad = 0;
    for (int i = 0; i < argc && !bad; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            free(spec_text);
            return CLI_OK;
        }
        if (cli_data_opt(&d, argc, argv, &i, &bad) || cli_fit_opt(&o, &spec_text, argc, argv, &i, &bad) ||
            cli_opt(argc, argv, &i, "--out", &out, &bad) ||
            cli_opt(argc, argv, &i, "--checkpoint", &o.checkpoint_path, &bad) ||
            cli_opt(argc, argv, &i, "--checkpoint-every", &every, &bad) ||
            cli_opt(argc, argv, &i, "--resume", &o.resume_path, &bad))
            continue;
        fprintf(stderr, "svdd train: unknown option '%s' (see svdd train --help)\n", argv[i]);
        bad = 1;
    }
    if (!bad && !out) fprintf(stderr, "svdd train: give the model file to write with --out MODEL\n"), bad = 1;
    if (!bad && every) {
        long l;
        if (!cli_parse_int("--checkpoint-every", every, 1, 1000000, &l)) bad = 1;
        else if (!o.checkpoint_path)
            fprintf(stderr, "svdd train: --checkpoint-every needs the file to write: --checkpoint FILE\n"), bad = 1;
        else o.checkpoint_every = (int)l;
    }
    if (bad) {
        free(spec_text);
        return CLI_USAGE;
    }
    /* before hours of training, the mistakes that can be seen now */
    if (!cli_check_out_file(out)) {
        free(spec_text);
        return CLI_FAIL;
    }
    int rc = CLI_FAIL;
    cli_data_keep_normal_class(&d);
    svdd_dataset *train = cli_data_load(&d, "train"), *normal = NULL;
    svdd_model *m = NULL;
    svdd_error err;
    if (!train) goto done;
    int k = cli_data_normal_class(&d, train);
    if (k < 0) {
        rc = CLI_USAGE;
        goto done;
    }
    if (svdd_dataset_select_class(&normal, train, k, &err) != SVDD_OK) {
        fprintf(stderr, "svdd: error: %s: %s; choose a --normal-class that has training images\n",
                d.dir ? d.dir : cli_data_label(&d), err.message);
        rc = CLI_FAIL;
        goto done;
    }
    if (svdd_dataset_count(normal) < 4) {
        fprintf(stderr, "svdd: error: %s: class %d (%s) has only %zu training image%s, too few to train on (at least 4); "
                        "choose another --normal-class or add images\n",
                d.dir ? d.dir : cli_data_label(&d), k, svdd_dataset_class_name(train, k), svdd_dataset_count(normal),
                svdd_dataset_count(normal) == 1 ? "" : "s");
        goto done;
    }
    o.dataset = cli_data_label(&d);
    o.normal_class = k;
    o.ae.on_epoch = o.svdd.on_epoch = cli_epoch_progress;
    o.ae.on_epoch_user = "autoencoder";
    o.svdd.on_epoch_user = (void *)svdd_method_name(o.objective.method);
    o.log = cli_log_line;
    o.log_user = "svdd train";
    fprintf(stderr, "svdd train: %s, normal class %d (%s), %zu images, method %s\n", o.dataset, k,
            svdd_dataset_class_name(train, k), svdd_dataset_count(normal), svdd_method_name(o.objective.method));
    /* only the normal class is needed from here on */
    svdd_dataset_free(train);
    train = NULL;
    if (svdd_model_fit(&m, normal, &o, &err) != SVDD_OK) {
        rc = cli_report(&err);
        goto done;
    }
    if (svdd_model_save(m, out, &err) != SVDD_OK) {
        rc = cli_report(&err);
        goto done;
    }
    svdd_model_info info;
    svdd_model_get_info(m, &info);
    printf("model %s: %s on %s class %d, %zu training + %zu calibration images\n", out, svdd_method_name(info.method),
           info.dataset, info.normal_class, info.n_train, info.n_calibration);
    printf("threshold %s at target FPR %.3f: %.6g\n", svdd_threshold_name(info.threshold_kind), info.target_fpr,
           info.threshold);
    if (info.method == SVDD_METHOD_SOFT_BOUNDARY) printf("radius R = %.6g\n", info.radius);
    rc = CLI_OK;
done:
    svdd_model_free(m);
    svdd_dataset_free(normal);
    svdd_dataset_free(train);
    free(spec_text);
    return rc;
}
