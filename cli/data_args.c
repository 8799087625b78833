/* Data-set options: where the files are and which split and class to use.
 *
 * --data DIR may be the folder that holds a data set's files or a root that holds the data sets
 * in their usual folders (mnist/, fashion-mnist/, cifar-10/...), like the SVDD_DATA layout. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

const char CLI_DATA_HELP[] =
    "data set:\n"
    "  --data DIR          the data set's folder, or a root holding mnist/, fashion-mnist/, cifar-10/\n"
    "  --dataset NAME      mnist | fashion-mnist | cifar10 (binary batches) |\n"
    "                      cifar10-jpeg (image folders train/ and test/, labelled \"CIFAR-10 (JPEG)\") |\n"
    "                      folder (DIR/<split>/<class>/*.png|jpg) |\n"
    "                      synthetic (built in, no files: normal class 0, defects are class 1)\n"
    "  --normal-class K    the normal class: its index (class folders sorted by name) or folder name\n"
    "  --max-images N      refuse data sets of more images (default 10000000)\n"
    "  --max-pixel-bytes N refuse data sets of more decoded pixel bytes (default 4294967296)\n"
    "  --max-side N        refuse images with a longer side (default 4096); all three are checked\n"
    "                      against file headers before anything is allocated\n";

int cli_data_opt(cli_data *d, int argc, char **argv, int *i, int *bad) {
    if (cli_opt(argc, argv, i, "--data", &d->dir, bad) || cli_opt(argc, argv, i, "--normal-class", &d->normal, bad))
        return 1;
    const char *v = NULL, *a = argv[*i];
    /* Names are checked here, so that a misspelt one is a command-line error (exit 2). */
    if (cli_opt(argc, argv, i, "--dataset", &d->dataset, bad)) {
        static const char *const known[] = {"mnist", "fashion-mnist", "cifar10", "cifar10-jpeg", "folder", "synthetic"};
        int ok = 0;
        for (size_t k = 0; !*bad && k < sizeof known / sizeof known[0]; k++) ok |= strcmp(d->dataset, known[k]) == 0;
        if (!*bad && !ok)
            fprintf(stderr, "svdd: --dataset takes mnist, fashion-mnist, cifar10, cifar10-jpeg, folder or synthetic, not '%s'\n",
                    d->dataset), *bad = 1;
        return 1;
    }
    /* --split is any sub-folder name with --folder, so it is checked where a data set is loaded */
    if (cli_opt(argc, argv, i, "--split", &d->split, bad)) return 1;
    long l = 0;
    if (cli_opt(argc, argv, i, "--max-images", &v, bad)) {
        if (!*bad && !cli_parse_int(a, v, 1, 4000000000000L, &l)) *bad = 1;
        else d->limits.max_images = (uint64_t)l;
    } else if (cli_opt(argc, argv, i, "--max-pixel-bytes", &v, bad)) {
        if (!*bad && !cli_parse_int(a, v, 1, 4000000000000000L, &l)) *bad = 1;
        else d->limits.max_pixel_bytes = (uint64_t)l;
    } else if (cli_opt(argc, argv, i, "--max-side", &v, bad)) {
        if (!*bad && !cli_parse_int(a, v, 1, 4294967295L, &l)) *bad = 1;
        else d->limits.max_side = (uint32_t)l;
    } else {
        return 0;
    }
    return 1;
}

int cli_report_load(const svdd_error *err) {
    cli_report(err);
    if (err->status == SVDD_E_LIMIT)
        fprintf(stderr, "svdd: hint: if the data is genuine, raise the limits with --max-images N, --max-pixel-bytes N "
                        "or --max-side N\n");
    return CLI_FAIL;
}

const char *cli_data_label(const cli_data *d) {
    if (!d->dataset) return "?";
    if (strcmp(d->dataset, "mnist") == 0) return "MNIST";
    if (strcmp(d->dataset, "fashion-mnist") == 0) return "Fashion-MNIST";
    if (strcmp(d->dataset, "cifar10") == 0) return "CIFAR-10";
    if (strcmp(d->dataset, "cifar10-jpeg") == 0) return "CIFAR-10 (JPEG)";
    if (strcmp(d->dataset, "synthetic") == 0) return "synthetic";
    return "image folder";
}

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int is_file(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* The first existing file among DIR/SUB/NAME{.gz,} for the candidate sub-folders. */
static int find_file(char *out, size_t size, const char *dir, const char *const *subs, const char *name) {
    for (int s = 0; subs[s]; s++)
        for (int gz = 1; gz >= 0; gz--) {
            snprintf(out, size, "%s%s%s/%s%s", dir, *subs[s] ? "/" : "", subs[s], name, gz ? ".gz" : "");
            if (is_file(out)) return 1;
        }
    return 0;
}

static svdd_dataset *load_idx(const cli_data *d, const char *split, const char *sub) {
    const char *subs[] = {"", sub, NULL};
    const char *prefix = strcmp(split, "train") == 0 ? "train" : "t10k";
    char img_name[64], lab_name[64], img[4096], lab[4096];
    snprintf(img_name, sizeof img_name, "%s-images-idx3-ubyte", prefix);
    snprintf(lab_name, sizeof lab_name, "%s-labels-idx1-ubyte", prefix);
    if (!find_file(img, sizeof img, d->dir, subs, img_name) || !find_file(lab, sizeof lab, d->dir, subs, lab_name)) {
        fprintf(stderr, "svdd: error: %s: no %s(.gz) and %s(.gz) here or in %s/%s; point --data at the folder holding them\n",
                d->dir, img_name, lab_name, d->dir, sub);
        return NULL;
    }
    svdd_dataset *ds = NULL;
    svdd_error err;
    if (svdd_dataset_load_idx(&ds, img, lab, &d->limits, &err) != SVDD_OK) {
        cli_report_load(&err);
        return NULL;
    }
    /* IDX labels may be 0..255; MNIST and Fashion-MNIST have ten classes. The class count is that
     * of the whole labels file, also when only one class was kept. */
    if (svdd_dataset_num_classes(ds) > 10) {
        fprintf(stderr, "svdd: error: %s: holds label %d, but %s has classes 0..9; the file is damaged or holds other "
                        "labels: download it again\n", lab, svdd_dataset_num_classes(ds) - 1, cli_data_label(d));
        svdd_dataset_free(ds);
        return NULL;
    }
    return ds;
}

static svdd_dataset *load_cifar(const cli_data *d, const char *split) {
    const char *subs[] = {"", "cifar-10-batches-bin", "cifar-10", "cifar-10/cifar-10-batches-bin", NULL};
    char paths[5][4096];
    const char *list[5];
    int n = 0;
    if (strcmp(split, "train") == 0) {
        for (int b = 1; b <= 5; b++) {
            char name[32];
            snprintf(name, sizeof name, "data_batch_%d.bin", b);
            if (!find_file(paths[n], sizeof paths[n], d->dir, subs, name)) {
                fprintf(stderr, "svdd: error: %s: no %s(.gz) found; point --data at the cifar-10-batches-bin folder\n", d->dir,
                        name);
                return NULL;
            }
            list[n] = paths[n];
            n++;
        }
    } else {
        if (!find_file(paths[0], sizeof paths[0], d->dir, subs, "test_batch.bin")) {
            fprintf(stderr, "svdd: error: %s: no test_batch.bin(.gz) found; point --data at the cifar-10-batches-bin folder\n",
                    d->dir);
            return NULL;
        }
        list[0] = paths[0];
        n = 1;
    }
    svdd_dataset *ds = NULL;
    svdd_error err;
    if (svdd_dataset_load_cifar10(&ds, list, (size_t)n, &d->limits, &err) != SVDD_OK) {
        cli_report_load(&err);
        return NULL;
    }
    return ds;
}

static svdd_dataset *load_folder(const cli_data *d, const char *split, int jpeg) {
    char root[4096];
    snprintf(root, sizeof root, "%s", d->dir);
    if (jpeg) {
        /* accept the root of the data sets, the cifar-10 folder, or the extracted folder itself */
        const char *cands[] = {"cifar-10/jpeg/cifar-10-folders", "jpeg/cifar-10-folders", "cifar-10-folders", NULL};
        char p[4200];
        snprintf(p, sizeof p, "%s/%s", d->dir, split);
        for (int i = 0; !is_dir(p) && cands[i]; i++) {
            snprintf(root, sizeof root, "%s/%s", d->dir, cands[i]);
            snprintf(p, sizeof p, "%s/%s", root, split);
        }
        if (!is_dir(p)) {
            fprintf(stderr,
                    "svdd: error: %s: no %s/ class folders found; extract cifar-10-jpeg-folders.tar.gz and point --data at "
                    "the folder holding train/ and test/\n",
                    d->dir, split);
            return NULL;
        }
    }
    svdd_dataset *ds = NULL;
    svdd_error err;
    if (svdd_dataset_load_folder(&ds, root, split, &d->limits, &err) != SVDD_OK) {
        cli_report_load(&err);
        return NULL;
    }
    return ds;
}

/* The built-in set: 2000 normal training images; a test split of 1000 normal and 1000 defective. */
static svdd_dataset *load_synthetic(const char *split) {
    svdd_synthetic_options so = svdd_synthetic_defaults();
    int train = strcmp(split, "train") == 0;
    so.seed = train ? 1 : 2;
    so.n_normal = train ? 2000 : 1000;
    so.n_anomalous = train ? 0 : 1000;
    svdd_dataset *ds = NULL;
    svdd_error err;
    if (svdd_dataset_synthetic(&ds, &so, &err) != SVDD_OK) {
        cli_report(&err);
        return NULL;
    }
    return ds;
}

svdd_dataset *cli_data_load(const cli_data *d, const char *split) {
    if (d->dataset && strcmp(d->dataset, "synthetic") == 0 && (!strcmp(split, "train") || !strcmp(split, "test")))
        return load_synthetic(split);
    if (!d->dir || !d->dataset) {
        fprintf(stderr, "svdd: error: give the data set with --data DIR and --dataset NAME (see --help)\n");
        return NULL;
    }
    if (strcmp(split, "train") != 0 && strcmp(split, "test") != 0) {
        fprintf(stderr, "svdd: error: --split must be train or test, not '%s'\n", split);
        return NULL;
    }
    if (!is_dir(d->dir)) {
        fprintf(stderr, "svdd: error: %s: no such folder (--data)\n", d->dir);
        return NULL;
    }
    if (strcmp(d->dataset, "mnist") == 0) return load_idx(d, split, "mnist");
    if (strcmp(d->dataset, "fashion-mnist") == 0) return load_idx(d, split, "fashion-mnist");
    if (strcmp(d->dataset, "cifar10") == 0) return load_cifar(d, split);
    if (strcmp(d->dataset, "cifar10-jpeg") == 0) return load_folder(d, split, 1);
    if (strcmp(d->dataset, "folder") == 0) return load_folder(d, split, 0);
    fprintf(stderr, "svdd: error: unknown data set '%s' (mnist, fashion-mnist, cifar10, cifar10-jpeg, folder or synthetic)\n",
            d->dataset);
    return NULL;
}

int cli_data_normal_class(const cli_data *d, const svdd_dataset *ds) {
    if (!d->normal) {
        fprintf(stderr, "svdd: error: give the normal class with --normal-class K\n");
        return -1;
    }
    int k = svdd_dataset_num_classes(ds);
    for (int c = 0; c < k; c++) {
        const char *name = svdd_dataset_class_name(ds, c);
        if (name && strcmp(name, d->normal) == 0) return c;
    }
    long v;
    char *end;
    v = strtol(d->normal, &end, 10);
    if (*d->normal && !*end && v >= 0 && v < k) return (int)v;
    fprintf(stderr, "svdd: error: --normal-class '%s' is neither a class index 0..%d nor a class name of the data set (%s)\n",
            d->normal, k - 1, d->dir ? d->dir : cli_data_label(d));
    return -1;
}

void cli_data_keep_normal_class(cli_data *d) {
    static const char *const fixed[] = {"mnist", "fashion-mnist", "cifar10", "cifar10-jpeg"};
    int known = 0;
    for (size_t i = 0; d->dataset && i < sizeof fixed / sizeof fixed[0]; i++) known |= strcmp(d->dataset, fixed[i]) == 0;
    if (!known || !d->normal || !*d->normal) return;
    char *end;
    long v = strtol(d->normal, &end, 10);
    if (*end || v < 0 || v > 255) return; /* a class name: resolved after loading */
    memset(d->limits.keep_labels, 0, sizeof d->limits.keep_labels);
    d->limits.keep_labels[v / 64] = (uint64_t)1 << (v % 64);
}
