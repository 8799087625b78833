/* svdd: command-line entry point and shared helpers. */
#if defined(__GLIBC__) || defined(__linux__)
#include <malloc.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void usage(FILE *f) {
    fprintf(f,
            "svdd %s - deep one-class anomaly detection on images\n"
            "\n"
            "usage: svdd <command> [options]\n"
            "\n"
            "commands:\n"
            "  train       train a detector on the normal class of a data set, save the model\n"
            "  score       score images with a model: CSV of scores and decisions\n"
            "  eval        evaluate a model on a labelled split: AUC, F1 at the calibrated threshold, JSON\n"
            "  experiment  the one-class protocol over data sets x classes x methods x seeds, with tables\n"
            "  explain     heat maps of the anomaly score for images, as PNG overlays and a gallery\n"
            "  report      one HTML page: metrics, ROC, histogram, t-SNE, heat-map galleries\n"
            "  demo        train Hybrid Deep SVDD on the built-in synthetic set and write its report\n"
            "  bench       speed and memory against PyTorch, and whole training runs by size and threads\n"
            "  version     print the version\n"
            "\n"
            "Run 'svdd <command> --help' for a command's options.\n",
            svdd_version());
}

int main(int argc, char **argv) {
#if defined(M_MMAP_THRESHOLD)
    /* A fit frees a training batch's activations and gradients (tens of MB) between its phases.
     * glibc raises its mmap threshold to the size of a freed mapping, so buffers of that size
     * made afterwards come from the heap, whose freed pages stay with the process: the passes
     * after training then held the training's memory again (CIFAR-10: 147 MB instead of 118).
     * A fixed threshold keeps every block of 1 MB or more a mapping of its own, returned when
     * freed. */
    mallopt(M_MMAP_THRESHOLD, 1 << 20);
#endif
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return CLI_OK;
    }
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("svdd %s\n", svdd_version());
        return CLI_OK;
    }
    if (strcmp(cmd, "demo") == 0) return svdd_cli_demo(argc - 2, argv + 2);
    if (strcmp(cmd, "train") == 0) return svdd_cli_train(argc - 2, argv + 2);
    if (strcmp(cmd, "score") == 0) return svdd_cli_score(argc - 2, argv + 2);
    if (strcmp(cmd, "eval") == 0) return svdd_cli_eval(argc - 2, argv + 2);
    if (strcmp(cmd, "experiment") == 0) return svdd_cli_experiment(argc - 2, argv + 2);
    if (strcmp(cmd, "report") == 0) return svdd_cli_report(argc - 2, argv + 2);
    if (strcmp(cmd, "explain") == 0) return svdd_cli_explain(argc - 2, argv + 2);
    if (strcmp(cmd, "bench") == 0) return svdd_cli_bench(argc - 2, argv + 2);
    fprintf(stderr, "svdd: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return CLI_USAGE;
}
