/* svdd_bench: the benchmark as a program of its own (the same as `svdd bench`). */
#include "bench.h"

int main(int argc, char **argv) { return bench_main(argc, argv, NULL); }
