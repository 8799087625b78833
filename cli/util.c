/* Helpers shared by the commands: number parsing, progress, output buffers. */
#include <errno.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

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

int cli_parse_int_list(const char *opt, const char *s, long lo, long hi, long *out, int max) {
    int n = 0;
    const char *p = s;
    while (p && *p) {
        char item[64];
        size_t len = strcspn(p, ",");
        if (len == 0 || len >= sizeof item) goto bad;
        memcpy(item, p, len);
        item[len] = 0;
        char *dash = strchr(item + 1, '-');
        long a, b;
        if (dash) {
            *dash = 0;
            if (!cli_parse_int(opt, item, lo, hi, &a) || !cli_parse_int(opt, dash + 1, lo, hi, &b) || b < a) goto bad;
        } else {
            if (!cli_parse_int(opt, item, lo, hi, &a)) goto bad;
            b = a;
        }
        /* stop at b itself, never by v > b: with b == LONG_MAX, v++ would overflow */
        for (long v = a;; v++) {
            if (n == max) goto bad;
            out[n++] = v;
            if (v == b) break;
        }
        p += len;
        if (*p == ',') p++;
    }
    if (n > 0) return n;
bad:
    fprintf(stderr, "svdd: %s expects a list such as 0-9 or 1,2,3 (at most %d values from %ld to %ld), not '%s'\n", opt, max,
            lo, hi, s ? s : "");
    return -1;
}

void cli_epoch_progress(void *user, const svdd_epoch_report *r) {
    const char *what = user ? (const char *)user : "train";
    double left = r->epoch > 0 ? r->seconds / r->epoch * (r->epochs - r->epoch) : 0;
    if (isatty(fileno(stderr))) {
        fprintf(stderr, "\r%-12s epoch %d/%d  loss %.6f  %.0f images/s  %.1fs, %.1fs left   ", what, r->epoch, r->epochs,
                r->loss, r->images_per_sec, r->seconds, left);
        if (r->epoch == r->epochs) fputc('\n', stderr);
    } else if (r->epoch == r->epochs || r->epoch == 1 || r->epoch % 10 == 0) {
        fprintf(stderr, "%s epoch %d/%d loss %.6f images/s %.0f elapsed %.1fs left %.1fs\n", what, r->epoch, r->epochs,
                r->loss, r->images_per_sec, r->seconds, left);
    }
}

int cli_opt(int argc, char **argv, int *i, const char *name, const char **value, int *bad) {
    if (strcmp(argv[*i], name) != 0) return 0;
    if (*i + 1 >= argc) {
        fprintf(stderr, "svdd: %s needs a value\n", name);
        *bad = 1;
        return 1;
    }
    *value = argv[++*i];
    return 1;
}

int cli_threads_opt(int argc, char **argv, int *i, int *threads, int *bad) {
    const char *v = NULL;
    if (!cli_opt(argc, argv, i, "--threads", &v, bad)) return 0;
    long l;
    if (!*bad && !cli_parse_int("--threads", v, 1, 256, &l)) *bad = 1;
    else if (!*bad) *threads = (int)l;
    return 1;
}

int cli_model_threads(svdd_model *m, int threads) {
    svdd_error err;
    return svdd_net_set_threads(svdd_model_net(m), threads, &err) == SVDD_OK ? CLI_OK : cli_report(&err);
}

void cli_buf_printf(cli_buf *b, const char *fmt, ...) {
    if (b->failed) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = 1;
            return;
        }
        if (b->p && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = (b->cap ? b->cap * 2 : 4096) + (size_t)n;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->failed = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
}

int cli_buf_write(cli_buf *b, const char *path) {
    int rc = CLI_OK;
    if (b->failed) {
        fprintf(stderr, "svdd: error: out of memory preparing %s\n", path);
        rc = CLI_FAIL;
    } else {
        svdd_error err;
        if (svdd_write_file_atomic(path, b->p ? b->p : "", b->len, &err) != SVDD_OK) rc = cli_report(&err);
    }
    free(b->p);
    memset(b, 0, sizeof *b);
    return rc;
}

int cli_override_threshold(svdd_model *m, const char *threshold, const char *fpr_s) {
    if (!threshold && !fpr_s) return CLI_OK;
    svdd_error err;
    svdd_model_info info;
    svdd_model_get_info(m, &info);
    svdd_threshold_kind kind = info.threshold_kind;
    double fpr = info.target_fpr;
    if (threshold && svdd_threshold_parse(threshold, &kind, &err) != SVDD_OK) {
        cli_report(&err);
        return CLI_USAGE;
    }
    if (fpr_s && !cli_parse_double("--fpr", fpr_s, 1e-6, 0.999999, &fpr)) return CLI_USAGE;
    if (svdd_model_set_threshold(m, kind, fpr, &err) != SVDD_OK) return cli_report(&err);
    return CLI_OK;
}

int cli_check_shape(svdd_model *m, const svdd_dataset *ds, const char *source) {
    svdd_model_info info;
    svdd_model_get_info(m, &info);
    int c, h, w;
    svdd_dataset_shape(ds, &c, &h, &w);
    if (c == info.channels && h == info.height && w == info.width) return 1;
    fprintf(stderr,
            "svdd: error: %s: images are %dx%dx%d (channels x rows x columns) but the model (%s) takes %dx%dx%d; give "
            "images of the size and channel count it was trained on\n",
            source, c, h, w, info.spec_name, info.channels, info.height, info.width);
    return 0;
}

int cli_check_out_file(const char *path) {
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        fprintf(stderr, "svdd: error: %s: is a folder; give the path of a file to write\n", path);
        return 0;
    }
    char *copy = strdup(path);
    if (!copy) return 1; /* the write itself will say what is wrong */
    const char *dir = dirname(copy);
    int ok = stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode);
    if (!ok)
        fprintf(stderr, "svdd: error: %s: the folder %s does not exist; create it or choose another path\n", path, dir);
    free(copy);
    return ok;
}

void cli_log_line(void *user, svdd_log_level level, const char *message) {
    if (level >= SVDD_LOG_INFO)
        fprintf(stderr, "%s: %s%s\n", user ? (const char *)user : "svdd", level == SVDD_LOG_WARN ? "warning: " : "", message);
}
