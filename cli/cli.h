/* The command-line tool: the only part of svdd that prints or exits. */
#ifndef SVDD_CLI_H
#define SVDD_CLI_H

#include "svdd.h"

/* Each command gets argv after the command word and returns the process exit code. */
int svdd_cli_demo(int argc, char **argv);

/* Exit codes */
#define CLI_OK 0
#define CLI_FAIL 1  /* the work failed (bad file, numeric trouble) */
#define CLI_USAGE 2 /* the command line was wrong */

/* Print "svdd: <message>" for a failed library call; returns CLI_FAIL. */
int cli_report(const svdd_error *err);
/* Parse a whole-string integer/real in [lo, hi]; on failure print which option was bad. */
int cli_parse_int(const char *opt, const char *s, long lo, long hi, long *out);
int cli_parse_double(const char *opt, const char *s, double lo, double hi, double *out);
/* Progress line for training epochs (stderr, rewritten in place on a terminal). */
void cli_epoch_progress(void *user, const svdd_epoch_report *r);

#endif
