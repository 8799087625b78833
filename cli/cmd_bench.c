/* svdd bench: the benchmark of docs/benchmarks.md (bench/), run from the command-line tool. */
#include "bench.h"
#include "cli.h"

int svdd_cli_bench(int argc, char **argv) {
    /* bench_main reads its options from argv[1]: hand it the word "bench" as argv[0] */
    return bench_main(argc + 1, argv - 1, "bench");
}
