/* The command-line tool: the only part of svdd that prints or exits. */
#ifndef SVDD_CLI_H
#define SVDD_CLI_H

#include <stddef.h>

#include "svdd.h"

/* Exit codes */
#define CLI_OK 0
#define CLI_FAIL 1  /* the work failed (bad file, numeric trouble) */
#define CLI_USAGE 2 /* the command line was wrong */

/* Each command gets argv after the command word and returns the process exit code. */
int svdd_cli_demo(int argc, char **argv);
int svdd_cli_train(int argc, char **argv);
int svdd_cli_score(int argc, char **argv);
int svdd_cli_eval(int argc, char **argv);
int svdd_cli_experiment(int argc, char **argv);
int svdd_cli_report(int argc, char **argv);
int svdd_cli_explain(int argc, char **argv);
int svdd_cli_bench(int argc, char **argv);

/* Print "svdd: error: <message>" for a failed library call; returns CLI_FAIL. */
int cli_report(const svdd_error *err);
/* Parse a whole-string integer/real in [lo, hi]; on failure print which option was bad. */
int cli_parse_int(const char *opt, const char *s, long lo, long hi, long *out);
int cli_parse_double(const char *opt, const char *s, double lo, double hi, double *out);
/* Parse "a,b,c" or "a-b" ranges of integers into out (at most max); returns the count or -1. */
int cli_parse_int_list(const char *opt, const char *s, long lo, long hi, long *out, int max);
/* Progress line for training epochs (stderr; rewritten in place on a terminal). user: a label. */
void cli_epoch_progress(void *user, const svdd_epoch_report *r);
/* The library's messages at info level and above on stderr, prefixed with `user` (a label). */
void cli_log_line(void *user, svdd_log_level level, const char *message);

/* --name VALUE matching: when argv[*i] is `name`, store the next argument in *value, advance *i
 * and return 1; a missing value prints a message and sets *bad. */
int cli_opt(int argc, char **argv, int *i, const char *name, const char **value, int *bad);
/* --threads N (1 to 256) into *threads, as cli_opt; and setting a loaded model's thread count
 * (CLI_OK, or the error printed and CLI_FAIL). */
int cli_threads_opt(int argc, char **argv, int *i, int *threads, int *bad);
int cli_model_threads(svdd_model *m, int threads);

/* ---- data-set options shared by train, score, eval, experiment ---- */
typedef struct cli_data {
    const char *dir;       /* --data */
    const char *dataset;   /* --dataset mnist | fashion-mnist | cifar10 | folder */
    const char *split;     /* --split train | test (default depends on the command) */
    const char *normal;    /* --normal-class: an index, or a class folder's name */
    svdd_load_limits limits; /* --max-images, --max-pixel-bytes, --max-side (0 = the defaults) */
} cli_data;

/* Consume a data-set option at argv[*i] if it is one; returns 1 when consumed. */
int cli_data_opt(cli_data *d, int argc, char **argv, int *i, int *bad);
/* Print a data loader's error; for SVDD_E_LIMIT also which options raise the limits. CLI_FAIL. */
int cli_report_load(const svdd_error *err);
/* Load the split of the data set. Prints the error and returns NULL on failure. */
svdd_dataset *cli_data_load(const cli_data *d, const char *split);
/* Make cli_data_load keep only the normal class (given as an index, on a data set whose labels
 * are fixed indices): a training run then holds one class, not the whole training split. */
void cli_data_keep_normal_class(cli_data *d);
/* The normal class index for a loaded data set (by number or class name); -1 with a message. */
int cli_data_normal_class(const cli_data *d, const svdd_dataset *ds);
/* The data set's display name ("MNIST", "CIFAR-10 (JPEG)" ...). */
const char *cli_data_label(const cli_data *d);
/* Help text for the data-set options. */
extern const char CLI_DATA_HELP[];

/* Re-derive the model's threshold from --threshold / --fpr values (either may be NULL).
 * Returns CLI_OK, or the exit code after printing the problem. */
int cli_override_threshold(svdd_model *m, const char *threshold, const char *fpr);

/* 1 when the images of `ds` have the model's input shape; otherwise prints which images (`source`:
 * a file, folder or data set name) do not fit and returns 0. */
int cli_check_shape(svdd_model *m, const svdd_dataset *ds, const char *source);

/* 1 when a file can be put at `path` as far as can be told before the work (its folder exists;
 * it is not a folder itself); otherwise prints why and returns 0. For long runs, to fail first. */
int cli_check_out_file(const char *path);

/* Create a folder if missing (prints the problem; 0 on failure). */
int cli_make_dir(const char *path);
/* Load the model, the split, and write the report into `out` (created if missing). */
int cli_report_model(const char *model_path, const cli_data *d, const char *threshold, const char *fpr,
                     const svdd_report_options *o, const char *out);

/* A growing text buffer for CSV and Markdown output. */
typedef struct cli_buf {
    char *p;
    size_t len, cap;
    int failed;
} cli_buf;
void cli_buf_printf(cli_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Write the buffer atomically; prints the error; returns CLI_OK or CLI_FAIL. Frees the buffer. */
int cli_buf_write(cli_buf *b, const char *path);



/* ---- training options shared by train and experiment ---- */
extern const char CLI_FIT_HELP[];
/* Consume a training option at argv[*i] if it is one (1 = consumed; *bad on a bad value).
 * `spec_text` receives the contents of --spec FILE (caller frees). */
int cli_fit_opt(svdd_fit_options *o, char **spec_text, int argc, char **argv, int *i, int *bad);

/* ---- evaluation shared by eval and experiment ---- */
#include <cjson/cJSON.h>
/* Score the one-class test split (label 1 = anomaly: every class but the model's normal one)
 * under every threshold kind the model supports, print a summary when `print`, and return a
 * JSON object with the metrics of the model's own threshold at top level and the others under
 * "by_threshold"; NULL on failure (message printed). */
cJSON *cli_evaluate(svdd_model *m, const svdd_dataset *test, int normal_class, int print, int with_roc);
#endif
