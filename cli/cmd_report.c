/* svdd report: the HTML report of a model on a labelled split. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: svdd report --model MODEL --data DIR --dataset NAME [--split test] --out DIR\n"
            "\n"
            "Writes DIR/index.html (images beside it): the model and its training, the metrics at the\n"
            "calibrated threshold with the F1 reference values, ROC curves, the score histogram, t-SNE maps\n"
            "of the latent space, and heat-map galleries of the most anomalous images, the false positives\n"
            "and the false negatives. Anomaly = positive class.\n"
            "\n%s"
            "options:\n"
            "  --tsne-points N     test images in the t-SNE maps (default 2000, 0 = all)\n"
            "  --gallery N         images per gallery (default 12)\n"
            "  --cam MODE          excess (default) | deviation | gradcam (docs/explanations.md)\n"
            "  --threshold T --fpr X   another threshold kind or rate\n"
            "  --seed N --threads N\n"
            "  --out DIR           created if missing\n",
            CLI_DATA_HELP);
}

int cli_make_dir(const char *p) {
    if (mkdir(p, 0755) == 0 || errno == EEXIST) return 1;
    int e = errno;
    fprintf(stderr, "svdd: error: %s: cannot create the folder: %s; give --out a folder that can be created and written\n", p,
            strerror(e));
    return 0;
}

int svdd_cli_report(int argc, char **argv) {
    cli_data d = {0};
    const char *model_path = NULL, *out = NULL, *thr = NULL, *fpr_s = NULL, *v = NULL;
    svdd_report_options o = svdd_report_defaults();
    o.threads = 2;
    int bad = 0;
    long l = 0; /* read in the `else` branches below even when bad is set (then unused) */
    for (int i = 0; i < argc && !bad; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return CLI_OK;
        }
        if (cli_data_opt(&d, argc, argv, &i, &bad) || cli_opt(argc, argv, &i, "--model", &model_path, &bad) ||
            cli_opt(argc, argv, &i, "--out", &out, &bad) || cli_opt(argc, argv, &i, "--threshold", &thr, &bad) ||
            cli_opt(argc, argv, &i, "--fpr", &fpr_s, &bad) || cli_threads_opt(argc, argv, &i, &o.threads, &bad))
            continue;
        if (cli_opt(argc, argv, &i, "--tsne-points", &v, &bad)) {
            if (!bad && !cli_parse_int("--tsne-points", v, 0, 1000000, &l)) bad = 1;
            else o.tsne_points = (size_t)l;
        } else if (cli_opt(argc, argv, &i, "--gallery", &v, &bad)) {
            if (!bad && !cli_parse_int("--gallery", v, 0, 1000, &l)) bad = 1;
            else o.gallery = (int)l;
        } else if (cli_opt(argc, argv, &i, "--seed", &v, &bad)) {
            if (!bad && !cli_parse_int("--seed", v, 0, 2147483647L, &l)) bad = 1;
            else o.seed = (uint64_t)l;
        } else if (cli_opt(argc, argv, &i, "--cam", &v, &bad)) {
            if (!bad && strcmp(v, "excess") == 0) o.cam_mode = SVDD_CAM_EXCESS;
            else if (!bad && strcmp(v, "deviation") == 0) o.cam_mode = SVDD_CAM_DEVIATION;
            else if (!bad && strcmp(v, "gradcam") == 0) o.cam_mode = SVDD_CAM_GRADCAM;
            else if (!bad) fprintf(stderr, "svdd report: --cam takes excess, deviation or gradcam, not '%s'\n", v), bad = 1;
        } else {
            fprintf(stderr, "svdd report: unknown option '%s' (see svdd report --help)\n", argv[i]);
            bad = 1;
        }
    }
    if (!bad && (!model_path || !out)) fprintf(stderr, "svdd report: give --model MODEL and --out DIR\n"), bad = 1;
    if (bad) return CLI_USAGE;
    return cli_report_model(model_path, &d, thr, fpr_s, &o, out);
}

int cli_report_model(const char *model_path, const cli_data *d, const char *thr, const char *fpr_s,
                     const svdd_report_options *o, const char *out) {
    svdd_error err;
    svdd_model *m = NULL;
    svdd_dataset *test = NULL;
    int rc = CLI_FAIL;
    if (svdd_model_load(&m, model_path, &err) != SVDD_OK) return cli_report(&err);
    if ((rc = cli_override_threshold(m, thr, fpr_s)) != CLI_OK || (rc = cli_model_threads(m, o->threads)) != CLI_OK)
        goto done;
    rc = CLI_FAIL;
    if (!(test = cli_data_load(d, d->split ? d->split : "test"))) goto done;
    svdd_model_info info;
    svdd_model_get_info(m, &info);
    int k = d->normal ? cli_data_normal_class(d, test) : info.normal_class;
    if (d->normal && k < 0) {
        rc = CLI_USAGE;
        goto done;
    }
    if (!cli_check_shape(m, test, d->dir ? d->dir : cli_data_label(d))) goto done;
    if (!cli_make_dir(out)) goto done;
    fprintf(stderr, "svdd report: scoring %zu images, t-SNE, heat maps...\n", svdd_dataset_count(test));
    if (svdd_report_write(m, test, k, o, out, &err) != SVDD_OK) {
        rc = cli_report(&err);
        goto done;
    }
    printf("report written: %s/index.html\n", out);
    rc = CLI_OK;
done:
    svdd_dataset_free(test);
    svdd_model_free(m);
    return rc;
}
