/* Fuzz target: the command-line tool's parsers of user strings (cli/util.c): whole-string
 * integers and reals in a range, and lists such as "0-9" or "1,2,3" (--classes, --seeds,
 * --lr-milestones). They print their complaints to stderr (fuzz/run.sh closes it for this
 * target with -close_fd_mask=2; libFuzzer keeps its own copy for reports).
 *
 * Input: byte 0 picks the bounds, the rest is the string (NUL-terminated here). */
#include <limits.h>

#include "cli.h"
#include "fuzz_common.h"

/* unsigned: the values may be anywhere in [LONG_MIN, LONG_MAX], and their sum wraps */
static volatile unsigned long sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const unsigned mode = data[0];
    char *s = malloc(size);
    if (!s) abort();
    memcpy(s, data + 1, size - 1);
    s[size - 1] = '\0';
    /* the bounds the commands use, and the extremes */
    static const long los[4] = {0, -1, 1, LONG_MIN};
    static const long his[4] = {9, 1000000, 2147483647L, LONG_MAX};
    const long lo = los[mode & 3], hi = his[(mode >> 2) & 3] < lo ? lo : his[(mode >> 2) & 3];
    const int max = 1 + (int)((mode >> 4) & 15) * 8; /* 1..121 values */

    long v = 0;
    if (cli_parse_int("--fuzz", s, lo, hi, &v) && (v < lo || v > hi)) abort();
    double d = 0;
    if (cli_parse_double("--fuzz", s, (double)lo, (double)hi, &d) && !(d >= (double)lo && d <= (double)hi)) abort();
    long out[121];
    int n = cli_parse_int_list("--fuzz", s, lo, hi, out, max);
    if (n == 0 || n > max) abort(); /* -1 on failure, otherwise at least one value */
    for (int i = 0; i < n; i++) {
        if (out[i] < lo || out[i] > hi) abort();
        sink += (unsigned long)out[i];
    }
    sink += (unsigned long)v + (unsigned long)(d != 0);
    free(s);
    return 0;
}
