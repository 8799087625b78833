/* svdd explain: heat maps of the anomaly score as PNG overlays, and a gallery page. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: svdd explain --model MODEL (--data DIR --dataset NAME [--split S] | --folder ROOT) --out DIR\n"
            "\n"
            "For each image: its anomaly score, decision, and a heat map of where the score comes from,\n"
            "written as DIR/NNNNN.png (input | heat map | overlay) with DIR/index.html showing them all.\n"
            "\n"
            "options:\n"
            "  --top N        explain the N highest-scoring images (default 24)\n"
            "  --first N      explain the first N images instead\n"
            "  --cam MODE     excess (default: pixels whose share of the score exceeds what normal images show\n"
            "                 there; measured to localise defects) | deviation (feature maps against their\n"
            "                 normal mean) | gradcam (as published); docs/explanations.md compares them\n"
            "  --layer K      encoder layer index for deviation and gradcam (default: per mode)\n"
            "  --scale S      upscaling of the panels (default 8)\n"
            "  --threads N    threads (default 2; the same maps on any number on the MNIST-sized networks)\n");
}

typedef struct pair {
    float s;
    size_t i;
} pair;

static int desc(const void *a, const void *b) {
    float x = ((const pair *)a)->s, y = ((const pair *)b)->s;
    return (x < y) - (x > y);
}

int svdd_cli_explain(int argc, char **argv) {
    cli_data d = {0};
    const char *model_path = NULL, *out = NULL, *folder = NULL, *v = NULL;
    long top = 24, first = -1, layer = -1, scale = 8;
    svdd_cam_mode mode = SVDD_CAM_EXCESS;
    int bad = 0, threads = 2;
    for (int i = 0; i < argc && !bad; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return CLI_OK;
        }
        if (cli_data_opt(&d, argc, argv, &i, &bad) || cli_opt(argc, argv, &i, "--model", &model_path, &bad) ||
            cli_opt(argc, argv, &i, "--out", &out, &bad) || cli_opt(argc, argv, &i, "--folder", &folder, &bad) ||
            cli_threads_opt(argc, argv, &i, &threads, &bad))
            continue;
        if (cli_opt(argc, argv, &i, "--top", &v, &bad)) {
            if (!bad && !cli_parse_int("--top", v, 1, 100000, &top)) bad = 1;
        } else if (cli_opt(argc, argv, &i, "--first", &v, &bad)) {
            if (!bad && !cli_parse_int("--first", v, 1, 100000, &first)) bad = 1;
        } else if (cli_opt(argc, argv, &i, "--layer", &v, &bad)) {
            if (!bad && !cli_parse_int("--layer", v, 0, 63, &layer)) bad = 1;
        } else if (cli_opt(argc, argv, &i, "--scale", &v, &bad)) {
            if (!bad && !cli_parse_int("--scale", v, 1, 64, &scale)) bad = 1;
        } else if (cli_opt(argc, argv, &i, "--cam", &v, &bad)) {
            if (!bad && strcmp(v, "excess") == 0) mode = SVDD_CAM_EXCESS;
            else if (!bad && strcmp(v, "deviation") == 0) mode = SVDD_CAM_DEVIATION;
            else if (!bad && strcmp(v, "gradcam") == 0) mode = SVDD_CAM_GRADCAM;
            else if (!bad) fprintf(stderr, "svdd explain: --cam takes excess, deviation or gradcam, not '%s'\n", v), bad = 1;
        } else {
            fprintf(stderr, "svdd explain: unknown option '%s' (see svdd explain --help)\n", argv[i]);
            bad = 1;
        }
    }
    if (!bad && (!model_path || !out)) fprintf(stderr, "svdd explain: give --model MODEL and --out DIR\n"), bad = 1;
    if (!bad && (d.dataset != NULL) + (folder != NULL) != 1)
        fprintf(stderr, "svdd explain: give the images with --data/--dataset or --folder\n"), bad = 1;
    if (bad) return CLI_USAGE;
    svdd_error err;
    svdd_model *m = NULL;
    svdd_dataset *ds = NULL;
    float *s = NULL, *heat = NULL;
    pair *p = NULL;
    int rc = CLI_FAIL;
    if (svdd_model_load(&m, model_path, &err) != SVDD_OK) return cli_report(&err);
    if ((rc = cli_model_threads(m, threads)) != CLI_OK) goto done;
    rc = CLI_FAIL;
    if (folder) {
        if (svdd_dataset_load_folder(&ds, folder, d.split, &d.limits, &err) != SVDD_OK) {
            rc = cli_report_load(&err);
            goto done;
        }
    } else if (!(ds = cli_data_load(&d, d.split ? d.split : "test"))) {
        goto done;
    }
    if (!cli_check_shape(m, ds, folder ? folder : d.dir ? d.dir : cli_data_label(&d))) goto done;
    if (!cli_make_dir(out)) goto done;
    size_t n = svdd_dataset_count(ds);
    int c, h, w;
    svdd_dataset_shape(ds, &c, &h, &w);
    s = malloc((n ? n : 1) * sizeof(float));
    p = malloc((n ? n : 1) * sizeof(pair));
    heat = malloc((size_t)h * w * sizeof(float));
    if (!s || !p || !heat) {
        fprintf(stderr, "svdd: error: out of memory\n");
        goto done;
    }
    uint8_t *flag = malloc(n ? n : 1);
    if (!flag || svdd_model_score(m, ds, 0, n, s, flag, &err) != SVDD_OK) {
        free(flag);
        rc = flag ? cli_report(&err) : CLI_FAIL;
        goto done;
    }
    for (size_t i = 0; i < n; i++) p[i].s = s[i], p[i].i = i;
    size_t k;
    if (first > 0) {
        k = (size_t)first < n ? (size_t)first : n;
    } else {
        qsort(p, n, sizeof *p, desc);
        k = (size_t)top < n ? (size_t)top : n;
    }
    svdd_model_info info;
    svdd_model_get_info(m, &info);
    cli_buf html = {0};
    cli_buf_printf(&html,
                   "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>svdd explain</title>\n"
                   "<style>body{font-family:sans-serif;margin:2em}figure{display:inline-block;margin:6px;width:360px}"
                   "img{width:100%%}figcaption{font-size:12px}</style></head><body>\n"
                   "<h1>Heat maps of the anomaly score (%s)</h1>\n<p>Threshold %.6g (%s, target FPR %.3f); the maps show "
                   "where the score comes from.</p>\n",
                   svdd_cam_mode_name(mode), info.threshold, svdd_threshold_name(info.threshold_kind), info.target_fpr);
    const uint8_t *px = svdd_dataset_pixels(ds);
    size_t D = (size_t)c * h * w;
    rc = CLI_OK;
    for (size_t j = 0; j < k && rc == CLI_OK; j++) {
        size_t i = p[j].i;
        if (svdd_gradcam(m, ds, i, 1, mode, (int)layer, heat, NULL, &err) != SVDD_OK) {
            rc = cli_report(&err);
            break;
        }
        char name[32], path[4200], caption[256];
        snprintf(name, sizeof name, "%05zu.png", i);
        snprintf(path, sizeof path, "%s/%s", out, name);
        const char *src = svdd_dataset_path(ds, i);
        snprintf(caption, sizeof caption, "%s  score %.4g  %s", src ? src : name, s[i], flag[i] ? "ANOMALOUS" : "normal");
        if (svdd_write_overlay(path, px + i * D, c, h, w, heat, (int)scale, caption, &err) != SVDD_OK) {
            rc = cli_report(&err);
            break;
        }
        cli_buf_printf(&html, "<figure><img src=\"%s\" alt=\"image %zu\"><figcaption>image %zu: score %.4g, %s</figcaption></figure>\n",
                       name, i, i, s[i], flag[i] ? "anomalous" : "normal");
    }
    free(flag);
    cli_buf_printf(&html, "</body></html>\n");
    if (rc == CLI_OK) {
        char path[4200];
        snprintf(path, sizeof path, "%s/index.html", out);
        rc = cli_buf_write(&html, path);
        if (rc == CLI_OK) printf("%zu heat maps written; gallery: %s\n", k, path);
    } else {
        free(html.p);
    }
done:
    free(s), free(p), free(heat);
    svdd_dataset_free(ds);
    svdd_model_free(m);
    return rc;
}
