/* svdd score: scores and decisions for images, as CSV. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: svdd score --model MODEL [images] [--threshold T --fpr X] --out SCORES.csv\n"
            "\n"
            "Scores images with a trained model (higher = more anomalous) and applies its calibrated\n"
            "threshold. Images are one of:\n"
            "  --data DIR --dataset NAME [--split test]   a data set split (default test)\n"
            "  --folder ROOT [--split S]                  an image folder ROOT[/S]/<class>/*.png|jpg\n"
            "  FILE.png FILE.jpg ...                      single image files\n"
            "options:\n"
            "  --threshold T, --fpr X   re-derive the threshold from the model's calibration data\n"
            "  --threads N              threads (default 2)\n"
            "  --out FILE               CSV: index,path,label,score,anomalous (1 = anomalous)\n");
}

/* Score one data set and append its rows to the CSV; `name` stands in for images without a
 * source path (single files). */
static int score_rows(svdd_model *m, const svdd_dataset *ds, size_t *row, int with_label, const char *name,
                      const char *source, cli_buf *csv) {
    svdd_error err;
    size_t n = svdd_dataset_count(ds);
    if (!cli_check_shape(m, ds, source)) return CLI_FAIL;
    float *s = malloc((n ? n : 1) * sizeof(float));
    uint8_t *flag = malloc(n ? n : 1);
    if (!s || !flag) {
        free(s), free(flag);
        fprintf(stderr, "svdd: error: out of memory\n");
        return CLI_FAIL;
    }
    if (svdd_model_score(m, ds, 0, n, s, flag, &err) != SVDD_OK) {
        free(s), free(flag);
        return cli_report(&err);
    }
    const int32_t *lab = svdd_dataset_labels(ds);
    for (size_t i = 0; i < n; i++) {
        const char *p = svdd_dataset_path(ds, i);
        if (!p) p = name;
        cli_buf_printf(csv, "%zu,", (*row)++);
        if (p) {
            /* quote paths: they may hold commas */
            cli_buf_printf(csv, "\"");
            for (const char *c = p; *c; c++) cli_buf_printf(csv, *c == '"' ? "\"\"" : "%c", *c);
            cli_buf_printf(csv, "\"");
        }
        if (with_label) cli_buf_printf(csv, ",%d", lab[i]);
        else cli_buf_printf(csv, ",");
        cli_buf_printf(csv, ",%.9g,%d\n", s[i], flag[i]);
    }
    free(s), free(flag);
    return CLI_OK;
}

int svdd_cli_score(int argc, char **argv) {
    cli_data d = {0};
    const char *model_path = NULL, *out = NULL, *folder = NULL, *thr = NULL, *fpr_s = NULL;
    const char **files = calloc((size_t)argc + 1, sizeof *files);
    int n_files = 0, bad = 0, threads = 2;
    if (!files) return CLI_FAIL;
    for (int i = 0; i < argc && !bad; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            free(files);
            return CLI_OK;
        }
        if (cli_data_opt(&d, argc, argv, &i, &bad) || cli_opt(argc, argv, &i, "--model", &model_path, &bad) ||
            cli_opt(argc, argv, &i, "--out", &out, &bad) || cli_opt(argc, argv, &i, "--folder", &folder, &bad) ||
            cli_opt(argc, argv, &i, "--threshold", &thr, &bad) || cli_opt(argc, argv, &i, "--fpr", &fpr_s, &bad) ||
            cli_threads_opt(argc, argv, &i, &threads, &bad))
            continue;
        if (argv[i][0] == '-') {
            fprintf(stderr, "svdd score: unknown option '%s' (see svdd score --help)\n", argv[i]);
            bad = 1;
        } else {
            files[n_files++] = argv[i];
        }
    }
    if (!bad && (!model_path || !out)) fprintf(stderr, "svdd score: give --model MODEL and --out FILE\n"), bad = 1;
    if (!bad && (d.dir != NULL || d.dataset != NULL) + (folder != NULL) + (n_files > 0) != 1)
        fprintf(stderr, "svdd score: give exactly one of: --data/--dataset, --folder, or image files\n"), bad = 1;
    svdd_error err;
    svdd_model *m = NULL;
    int rc = CLI_USAGE;
    if (bad) goto done;
    if (svdd_model_load(&m, model_path, &err) != SVDD_OK) {
        rc = cli_report(&err);
        goto done;
    }
    if ((rc = cli_override_threshold(m, thr, fpr_s)) != CLI_OK || (rc = cli_model_threads(m, threads)) != CLI_OK)
        goto done;
    cli_buf csv = {0};
    cli_buf_printf(&csv, "index,path,label,score,anomalous\n");
    size_t row = 0;
    rc = CLI_OK;
    if (d.dir || d.dataset || folder) {
        svdd_dataset *ds = NULL;
        if (!folder) {
            ds = cli_data_load(&d, d.split ? d.split : "test");
        } else {
            svdd_status st = svdd_dataset_load_folder(&ds, folder, d.split, &d.limits, &err);
            if (st != SVDD_OK) cli_report_load(&err);
        }
        rc = ds ? score_rows(m, ds, &row, 1, NULL, folder ? folder : d.dir ? d.dir : cli_data_label(&d), &csv) : CLI_FAIL;
        svdd_dataset_free(ds);
    }
    for (int f = 0; f < n_files && rc == CLI_OK; f++) {
        FILE *fp = fopen(files[f], "rb");
        if (!fp) {
            fprintf(stderr, "svdd: error: %s: cannot open: %s; check the path\n", files[f], strerror(errno));
            rc = CLI_FAIL;
            break;
        }
        size_t cap = 1 << 16, len = 0;
        unsigned char *buf = malloc(cap);
        size_t got;
        while (buf && (got = fread(buf + len, 1, cap - len, fp)) > 0) {
            len += got;
            if (len == cap) {
                unsigned char *nb = cap < ((size_t)64 << 20) ? realloc(buf, cap * 2) : NULL;
                if (!nb) {
                    free(buf);
                    buf = NULL;
                    break;
                }
                buf = nb;
                cap *= 2;
            }
        }
        (void)fclose(fp); /* read only: nothing to lose */
        if (!buf) {
            fprintf(stderr, "svdd: error: %s: cannot read it (larger than 64 MiB?)\n", files[f]);
            rc = CLI_FAIL;
            break;
        }
        svdd_dataset *one = NULL;
        svdd_status st = svdd_dataset_decode_image(&one, buf, len, files[f], &d.limits, &err);
        free(buf);
        if (st != SVDD_OK) {
            rc = cli_report_load(&err);
            break;
        }
        rc = score_rows(m, one, &row, 0, files[f], files[f], &csv);
        svdd_dataset_free(one);
    }
    if (rc == CLI_OK) {
        rc = cli_buf_write(&csv, out);
        if (rc == CLI_OK) fprintf(stderr, "svdd score: %zu images scored, written to %s\n", row, out);
    } else {
        free(csv.p);
    }
done:
    svdd_model_free(m);
    free(files);
    return rc;
}
