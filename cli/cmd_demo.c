/* svdd demo: the built-in synthetic set, an autoencoder trained on its normal images, and the
 * reconstruction error of held-out normal and defective images. No files needed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void demo_usage(FILE *f) {
    fprintf(f,
            "usage: svdd demo [options]\n"
            "\n"
            "Trains the MNIST LeNet autoencoder of Deep SVDD (Ruff et al. 2018) on the built-in\n"
            "synthetic set (28x28 grey patterns; anomalies carry a planted defect) and prints the\n"
            "loss of every epoch and the reconstruction error of normal vs defective test images.\n"
            "\n"
            "options:\n"
            "  --epochs N      training epochs (default 15)\n"
            "  --n-train N     normal training images (default 2000)\n"
            "  --lr X          Adam learning rate (default 1e-3)\n"
            "  --batch-size N  images per batch (default 100)\n"
            "  --seed N        random seed (default 1)\n"
            "  --threads N     threads (default 2)\n");
}

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

int svdd_cli_demo(int argc, char **argv) {
    long epochs = 15, n_train = 2000, seed = 1, threads = 2, batch = 100;
    double lr = 1e-3;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int ok = 1;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            demo_usage(stdout);
            return CLI_OK;
        } else if (strcmp(a, "--epochs") == 0) ok = cli_parse_int(a, v, 1, 100000, &epochs), i++;
        else if (strcmp(a, "--n-train") == 0) ok = cli_parse_int(a, v, 10, 1000000, &n_train), i++;
        else if (strcmp(a, "--seed") == 0) ok = cli_parse_int(a, v, 0, 2147483647L, &seed), i++;
        else if (strcmp(a, "--threads") == 0) ok = cli_parse_int(a, v, 1, 256, &threads), i++;
        else if (strcmp(a, "--batch-size") == 0) ok = cli_parse_int(a, v, 2, 65536, &batch), i++;
        else if (strcmp(a, "--lr") == 0) ok = cli_parse_double(a, v, 1e-8, 1.0, &lr), i++;
        else {
            fprintf(stderr, "svdd demo: unknown option '%s'\n", a);
            demo_usage(stderr);
            return CLI_USAGE;
        }
        if (!ok) return CLI_USAGE;
    }

    svdd_error err;
    svdd_dataset *train = NULL, *test = NULL;
    svdd_net *net = NULL;
    float *xtrain = NULL, *xtest = NULL, *recon = NULL, *errs = NULL;
    int rc = CLI_FAIL;

    svdd_synthetic_options so = svdd_synthetic_defaults();
    so.seed = (uint64_t)seed;
    so.n_normal = (uint32_t)n_train;
    so.n_anomalous = 0;
    if (svdd_dataset_synthetic(&train, &so, &err) != SVDD_OK) goto fail;
    so.seed = (uint64_t)seed + 1000003;
    so.n_normal = 500;
    so.n_anomalous = 500;
    if (svdd_dataset_synthetic(&test, &so, &err) != SVDD_OK) goto fail;

    svdd_preprocess pp;
    if (svdd_preprocess_fit(&pp, train, &err) != SVDD_OK) goto fail;
    size_t D = svdd_dataset_image_size(train), ntr = svdd_dataset_count(train), nte = svdd_dataset_count(test);
    xtrain = malloc(ntr * D * sizeof(float));
    xtest = malloc(nte * D * sizeof(float));
    recon = malloc(nte * D * sizeof(float));
    errs = malloc(nte * sizeof(float));
    if (!xtrain || !xtest || !recon || !errs) {
        fprintf(stderr, "svdd: out of memory\n");
        goto done;
    }
    if (svdd_preprocess_apply(&pp, train, 0, ntr, xtrain, &err) != SVDD_OK) goto fail;
    if (svdd_preprocess_apply(&pp, test, 0, nte, xtest, &err) != SVDD_OK) goto fail;

    if (svdd_net_create(&net, svdd_spec_builtin("mnist-lenet"), "mnist-lenet", (uint64_t)seed, &err) != SVDD_OK) goto fail;
    printf("svdd demo: autoencoder %s, %zu parameters, %zu normal training images (synthetic, seed %ld)\n",
           "mnist-lenet", svdd_net_param_count(net, SVDD_PART_ALL), ntr, seed);
    fflush(stdout);

    svdd_train_options to = svdd_train_defaults();
    to.epochs = (int)epochs;
    to.lr = lr;
    to.batch_size = (int)batch;
    to.seed = (uint64_t)seed;
    to.threads = (int)threads;
    to.on_epoch = cli_epoch_progress;
    to.on_epoch_user = "autoencoder";
    double loss;
    if (svdd_autoencoder_train(net, xtrain, ntr, &to, &loss, &err) != SVDD_OK) goto fail;

    if (svdd_net_reconstruct(net, xtest, nte, recon, errs, &err) != SVDD_OK) goto fail;
    const int32_t *lab = svdd_dataset_labels(test);
    double sum[2] = {0, 0};
    size_t cnt[2] = {0, 0};
    for (size_t i = 0; i < nte; i++) {
        sum[lab[i] != 0] += errs[i];
        cnt[lab[i] != 0]++;
    }
    /* How many defective images score above the 95th percentile of the normal ones. */
    float *normal_errs = malloc((cnt[0] + 1) * sizeof(float));
    if (!normal_errs) goto done;
    size_t k = 0, flagged = 0;
    for (size_t i = 0; i < nte; i++)
        if (lab[i] == 0) normal_errs[k++] = errs[i];
    qsort(normal_errs, k, sizeof(float), cmp_float);
    float cut = k ? normal_errs[(size_t)(0.95 * (double)(k - 1))] : 0;
    for (size_t i = 0; i < nte; i++)
        if (lab[i] != 0 && errs[i] > cut) flagged++;
    free(normal_errs);
    printf("final training loss %.4f\n", loss);
    printf("reconstruction error: normal %.3f (n=%zu), defective %.3f (n=%zu)\n", cnt[0] ? sum[0] / (double)cnt[0] : 0,
           cnt[0], cnt[1] ? sum[1] / (double)cnt[1] : 0, cnt[1]);
    printf("defective images above the 95th percentile of normal errors: %zu of %zu\n", flagged, cnt[1]);
    rc = CLI_OK;
    goto done;
fail:
    rc = cli_report(&err);
done:
    svdd_net_free(net);
    svdd_dataset_free(train);
    svdd_dataset_free(test);
    free(xtrain), free(xtest), free(recon), free(errs);
    return rc;
}
