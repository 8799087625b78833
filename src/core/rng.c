/* PCG32 (M. E. O'Neill, "PCG: A Family of Simple Fast Space-Efficient Statistically Good
 * Algorithms for Random Number Generation", 2014). Written here because it is a dozen lines
 * and the state must be explicit and serialisable, which libc's rand() is not. */
#include <math.h>

#include "core.h"

void svdd__rng_seed(svdd__rng *r, uint64_t seed, uint64_t stream) {
    r->state = 0;
    r->inc = (stream << 1u) | 1u;
    (void)svdd__rng_u32(r);
    r->state += seed;
    (void)svdd__rng_u32(r);
}

uint32_t svdd__rng_u32(svdd__rng *r) {
    uint64_t old = r->state;
    r->state = old * 6364136223846793005ULL + r->inc;
    uint32_t xorshifted = (uint32_t)(((old >> 18u) ^ old) >> 27u);
    uint32_t rot = (uint32_t)(old >> 59u);
    return (xorshifted >> rot) | (xorshifted << ((32u - rot) & 31u));
}

float svdd__rng_uniform(svdd__rng *r) { return (float)(svdd__rng_u32(r) >> 8) * (1.0f / 16777216.0f); }

double svdd__rng_uniform_double(svdd__rng *r) {
    uint64_t hi = svdd__rng_u32(r) >> 5, lo = svdd__rng_u32(r) >> 6;
    return (double)(hi * 67108864ULL + lo) * (1.0 / 9007199254740992.0);
}

uint32_t svdd__rng_below(svdd__rng *r, uint32_t n) {
    /* Lemire's rejection keeps the result unbiased. */
    uint32_t threshold = (uint32_t)(-n) % n;
    for (;;) {
        uint32_t x = svdd__rng_u32(r);
        if (x >= threshold) return x % n;
    }
}

double svdd__rng_normal(svdd__rng *r) {
    double u1 = svdd__rng_uniform_double(r), u2 = svdd__rng_uniform_double(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

void svdd__rng_shuffle(svdd__rng *r, uint32_t *idx, size_t n) {
    for (size_t i = n; i > 1; i--) {
        uint32_t j = svdd__rng_below(r, (uint32_t)i);
        uint32_t t = idx[i - 1];
        idx[i - 1] = idx[j];
        idx[j] = t;
    }
}
