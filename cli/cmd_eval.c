/* svdd eval: metrics of a model on a labelled split, as JSON. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: svdd eval --model MODEL --data DIR --dataset NAME [--split test] --out EVAL.json\n"
            "\n"
            "Scores the whole split and evaluates it with the one-class protocol: images of the model's\n"
            "normal class are normal (0), all others anomalous (1, the positive class). Reports ROC AUC,\n"
            "average precision, and precision, recall, F1, FPR, TPR at the model's calibrated threshold,\n"
            "next to the F1 of flagging everything and the oracle F1 (best threshold chosen with the\n"
            "test labels); the same for every other threshold kind under \"by_threshold\".\n"
            "\n"
            "%s"
            "  --split S           train | test (default test)\n"
            "options:\n"
            "  --threshold T --fpr X   evaluate with another threshold kind or rate\n"
            "  --threads N         threads (default 2)\n"
            "  --out FILE          JSON with the metrics and the ROC curve\n",
            CLI_DATA_HELP);
}

int svdd_cli_eval(int argc, char **argv) {
    cli_data d = {0};
    const char *model_path = NULL, *out = NULL, *thr = NULL, *fpr_s = NULL;
    int bad = 0, threads = 2;
    for (int i = 0; i < argc && !bad; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return CLI_OK;
        }
        if (cli_data_opt(&d, argc, argv, &i, &bad) || cli_opt(argc, argv, &i, "--model", &model_path, &bad) ||
            cli_opt(argc, argv, &i, "--out", &out, &bad) || cli_opt(argc, argv, &i, "--threshold", &thr, &bad) ||
            cli_opt(argc, argv, &i, "--fpr", &fpr_s, &bad) || cli_threads_opt(argc, argv, &i, &threads, &bad))
            continue;
        fprintf(stderr, "svdd eval: unknown option '%s' (see svdd eval --help)\n", argv[i]);
        bad = 1;
    }
    if (!bad && (!model_path || !out)) fprintf(stderr, "svdd eval: give --model MODEL and --out FILE\n"), bad = 1;
    if (bad) return CLI_USAGE;
    svdd_error err;
    svdd_model *m = NULL;
    svdd_dataset *test = NULL;
    cJSON *res = NULL;
    int rc = CLI_FAIL;
    if (svdd_model_load(&m, model_path, &err) != SVDD_OK) {
        rc = cli_report(&err);
        goto done;
    }
    svdd_model_info info;
    svdd_model_get_info(m, &info);
    if ((rc = cli_override_threshold(m, thr, fpr_s)) != CLI_OK || (rc = cli_model_threads(m, threads)) != CLI_OK)
        goto done;
    rc = CLI_FAIL;
    test = cli_data_load(&d, d.split ? d.split : "test");
    if (!test) goto done;
    int k = d.normal ? cli_data_normal_class(&d, test) : info.normal_class;
    if (d.normal && k < 0) {
        rc = CLI_USAGE;
        goto done;
    }
    if (k < 0 || k >= svdd_dataset_num_classes(test)) {
        fprintf(stderr, "svdd: error: the model does not record a normal class of this data set; give --normal-class\n");
        rc = CLI_USAGE;
        goto done;
    }
    if (!cli_check_shape(m, test, d.dir ? d.dir : cli_data_label(&d))) goto done;
    res = cli_evaluate(m, test, k, 1, 1);
    if (!res) goto done;
    char *text = cJSON_Print(res);
    if (!text) {
        fprintf(stderr, "svdd: error: out of memory\n");
        goto done;
    }
    rc = CLI_OK;
    if (svdd_write_file_atomic(out, text, strlen(text), &err) != SVDD_OK) rc = cli_report(&err);
    free(text);
done:
    cJSON_Delete(res);
    svdd_dataset_free(test);
    svdd_model_free(m);
    return rc;
}
