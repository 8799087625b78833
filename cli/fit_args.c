/* Training options: the method, both schedules, the threshold. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

const char CLI_FIT_HELP[] =
    "method:\n"
    "  --method M          deep-svdd (one-class, default) | soft-boundary | hybrid\n"
    "  --nu X              soft-boundary: fraction of outliers allowed (default 0.1)\n"
    "  --warmup-epochs N   soft-boundary: epochs before R is updated (default 10)\n"
    "  --mu1 X --mu2 X     hybrid: weights of the SVDD and reconstruction losses (default 1, 1)\n"
    "  --hybrid-score S    hybrid: sum (standardised distance + reconstruction, default) | distance |\n"
    "                      reconstruction\n"
    "  --spec FILE|NAME    network spec file or built-in name (default: by image shape, mnist-lenet for\n"
    "                      1x28x28, cifar10-lenet for 3x32x32)\n"
    "schedule (defaults as the reference implementation):\n"
    "  --epochs N          Deep SVDD epochs (150)\n"
    "  --ae-epochs N       autoencoder pre-training epochs (150; 0 skips pre-training)\n"
    "  --lr X              Deep SVDD learning rate (1e-4)      --ae-lr X  (1e-4)\n"
    "  --lr-milestones L   epochs where lr is multiplied by 0.1 (50) --ae-lr-milestones L (50)\n"
    "  --batch-size N      (200)\n"
    "  --weight-decay X    Deep SVDD (0.5e-6)                   --ae-weight-decay X (0.5e-3)\n"
    "  --amsgrad           use AMSGrad in both phases\n"
    "  --center-eps X      centre coordinates closer to 0 than X become +-X (0.1)\n"
    "  --clip-grad-norm X  scale the gradient down to global L2 norm X when it is larger, in both\n"
    "                      phases (as torch.nn.utils.clip_grad_norm_; default 0 = off). Training stops\n"
    "                      with an error when the loss or the gradient becomes NaN or infinite\n"
    "threshold (fitted on held-out normal training images only):\n"
    "  --threshold T       gaussian (default) | quantile | mahalanobis | mahalanobis-quantile | radius\n"
    "  --fpr X             target false-positive rate (0.05)\n"
    "  --calibration X     fraction of normal training images held out for it (0.1)\n"
    "run:\n"
    "  --seed N            (0)          --threads N (2)\n";

static int milestones(const char *opt, const char *v, svdd_train_options *t) {
    long ms[8];
    if (strcmp(v, "none") == 0 || !*v) {
        t->n_milestones = 0;
        return 1;
    }
    int n = cli_parse_int_list(opt, v, 0, 1000000, ms, 8);
    if (n < 0) return 0;
    t->n_milestones = n;
    for (int i = 0; i < n; i++) t->milestones[i] = (int)ms[i];
    return 1;
}

static char *read_text(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = malloc(1 << 16);
    size_t n = buf ? fread(buf, 1, (1 << 16) - 1, f) : 0;
    (void)fclose(f); /* read only: nothing to lose */
    if (buf) buf[n] = 0;
    return buf;
}

int cli_fit_opt(svdd_fit_options *o, char **spec_text, int argc, char **argv, int *i, int *bad) {
    const char *v = NULL;
    /* zero, not garbage, in the `else` branches below when *bad was already set (the values are
     * then never used: a bad option ends the command) */
    long l = 0;
    double d = 0;
    svdd_error err;
    const char *a = argv[*i];
    if (strcmp(a, "--amsgrad") == 0) {
        o->ae.amsgrad = o->svdd.amsgrad = 1;
        return 1;
    }
#define OPT(name) cli_opt(argc, argv, i, name, &v, bad)
    if (OPT("--method")) {
        if (!*bad && svdd_method_parse(v, &o->objective.method, &err) != SVDD_OK) *bad = 1, cli_report(&err);
    } else if (OPT("--nu")) {
        if (!*bad && !cli_parse_double(a, v, 1e-6, 1, &o->objective.nu)) *bad = 1;
    } else if (OPT("--warmup-epochs")) {
        if (!*bad && !cli_parse_int(a, v, 0, 1000000, &l)) *bad = 1;
        else o->objective.warmup_epochs = (int)l;
    } else if (OPT("--mu1")) {
        if (!*bad && !cli_parse_double(a, v, 0, 1e6, &o->objective.mu1)) *bad = 1;
    } else if (OPT("--mu2")) {
        if (!*bad && !cli_parse_double(a, v, 0, 1e6, &o->objective.mu2)) *bad = 1;
    } else if (OPT("--hybrid-score")) {
        if (!*bad && svdd_hybrid_score_parse(v, &o->hybrid_score, &err) != SVDD_OK) *bad = 1, cli_report(&err);
    } else if (OPT("--spec")) {
        if (*bad) return 1;
        if (svdd_spec_builtin(v)) {
            o->spec = svdd_spec_builtin(v);
            o->spec_name = v;
        } else {
            free(*spec_text);
            *spec_text = read_text(v);
            if (!*spec_text) {
                fprintf(stderr, "svdd: error: --spec %s: neither a readable file nor a built-in network (mnist-lenet, cifar10-lenet)\n", v);
                *bad = 1;
            }
            o->spec = *spec_text;
            o->spec_name = v;
        }
    } else if (OPT("--epochs")) {
        if (!*bad && !cli_parse_int(a, v, 0, 1000000, &l)) *bad = 1;
        else o->svdd.epochs = (int)l;
    } else if (OPT("--ae-epochs")) {
        if (!*bad && !cli_parse_int(a, v, 0, 1000000, &l)) *bad = 1;
        else o->ae.epochs = (int)l;
    } else if (OPT("--lr")) {
        if (!*bad && !cli_parse_double(a, v, 1e-12, 1, &o->svdd.lr)) *bad = 1;
    } else if (OPT("--ae-lr")) {
        if (!*bad && !cli_parse_double(a, v, 1e-12, 1, &o->ae.lr)) *bad = 1;
    } else if (OPT("--lr-milestones")) {
        if (!*bad && !milestones(a, v, &o->svdd)) *bad = 1;
    } else if (OPT("--ae-lr-milestones")) {
        if (!*bad && !milestones(a, v, &o->ae)) *bad = 1;
    } else if (OPT("--batch-size")) {
        if (!*bad && !cli_parse_int(a, v, 2, 65536, &l)) *bad = 1;
        else o->svdd.batch_size = o->ae.batch_size = (int)l;
    } else if (OPT("--weight-decay")) {
        if (!*bad && !cli_parse_double(a, v, 0, 0.99, &o->svdd.weight_decay)) *bad = 1;
    } else if (OPT("--ae-weight-decay")) {
        if (!*bad && !cli_parse_double(a, v, 0, 0.99, &o->ae.weight_decay)) *bad = 1;
    } else if (OPT("--clip-grad-norm")) {
        if (!*bad && !cli_parse_double(a, v, 0, 1e30, &d)) *bad = 1;
        else o->ae.clip_grad_norm = o->svdd.clip_grad_norm = d;
    } else if (OPT("--center-eps")) {
        if (!*bad && !cli_parse_double(a, v, 0, 1e6, &o->center_eps)) *bad = 1;
    } else if (OPT("--threshold")) {
        if (!*bad && svdd_threshold_parse(v, &o->threshold, &err) != SVDD_OK) *bad = 1, cli_report(&err);
    } else if (OPT("--fpr")) {
        if (!*bad && !cli_parse_double(a, v, 1e-6, 0.999999, &o->target_fpr)) *bad = 1;
    } else if (OPT("--calibration")) {
        if (!*bad && !cli_parse_double(a, v, 0, 0.89, &o->calibration_fraction)) *bad = 1;
    } else if (OPT("--seed")) {
        if (!*bad && !cli_parse_int(a, v, 0, 2147483647L, &l)) *bad = 1;
        else o->seed = (uint64_t)l;
    } else if (cli_threads_opt(argc, argv, i, &o->threads, bad)) {
        /* parsed */
    } else {
        return 0;
    }
#undef OPT
    (void)d;
    return 1;
}
