/* Which instruction sets the CPU offers, for the kernels that have an AVX2+FMA version. */
#include "kernels.h"

int svdd__cpu_avx2_fma(void) {
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
    /* libgcc fills the answer in at start-up; __builtin_cpu_init is idempotent and makes this safe
     * from other constructors too. */
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}
