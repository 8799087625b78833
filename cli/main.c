/* svdd: command-line entry point and shared helpers. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static void usage(FILE *f) {
    fprintf(f,
            "svdd %s - deep one-class anomaly detection on images\n"
            "\n"
            "usage: svdd <command> [options]\n"
            "\n"
            "commands:\n"
            "  demo      train an autoencoder on the built-in synthetic set and show its loss falling\n"
            "  version   print the version\n"
            "\n"
            "Run 'svdd <command> --help' for a command's options.\n",
            svdd_version());
}

int cli_report(const svdd_error *err) {
    fprintf(stderr, "svdd: error: %s\n", err->message[0] ? err->message : svdd_status_string(err->status));
    return CLI_FAIL;
}

int cli_parse_int(const char *opt, const char *s, long lo, long hi, long *out) {
    if (!s) {
        fprintf(stderr, "svdd: %s needs a value\n", opt);
        return 0;
    }
    errno = 0;
    char *end;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "svdd: %s expects a whole number from %ld to %ld, not '%s'\n", opt, lo, hi, s);
        return 0;
    }
    *out = v;
    return 1;
}

int cli_parse_double(const char *opt, const char *s, double lo, double hi, double *out) {
    if (!s) {
        fprintf(stderr, "svdd: %s needs a value\n", opt);
        return 0;
    }
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi)) {
        fprintf(stderr, "svdd: %s expects a number from %g to %g, not '%s'\n", opt, lo, hi, s);
        return 0;
    }
    *out = v;
    return 1;
}

void cli_epoch_progress(void *user, const svdd_epoch_report *r) {
    const char *what = user ? (const char *)user : "train";
    double left = r->epoch > 0 ? r->seconds / r->epoch * (r->epochs - r->epoch) : 0;
    if (isatty(fileno(stderr))) {
        fprintf(stderr, "\r%s epoch %d/%d  loss %.6f  %.0f images/s  %.1fs elapsed, %.1fs left   ", what, r->epoch,
                r->epochs, r->loss, r->images_per_sec, r->seconds, left);
        if (r->epoch == r->epochs) fputc('\n', stderr);
    } else {
        fprintf(stderr, "%s epoch %d/%d loss %.6f images/s %.0f elapsed %.1fs\n", what, r->epoch, r->epochs, r->loss,
                r->images_per_sec, r->seconds);
    }
}

int main(int argc, char **argv) {
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
    fprintf(stderr, "svdd: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return CLI_USAGE;
}
