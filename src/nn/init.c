/* Weight initialisation matching PyTorch's formulas (not its random stream). */
#include <math.h>

#include "layers.h"

void svdd__init_default(float *w, size_t n, size_t fan_in, svdd__rng *rng) {
    /* kaiming_uniform_(a=sqrt(5)): gain sqrt(2/(1+5)), bound gain*sqrt(3/fan_in) = 1/sqrt(fan_in) */
    double bound = fan_in ? 1.0 / sqrt((double)fan_in) : 0.0;
    for (size_t i = 0; i < n; i++) w[i] = (float)((2.0 * svdd__rng_uniform_double(rng) - 1.0) * bound);
}

void svdd__init_xavier_uniform(float *w, size_t n, size_t fan_in, size_t fan_out, double gain,
                               svdd__rng *rng) {
    double a = gain * sqrt(6.0 / (double)(fan_in + fan_out));
    for (size_t i = 0; i < n; i++) w[i] = (float)((2.0 * svdd__rng_uniform_double(rng) - 1.0) * a);
}

double svdd__gain_leaky_relu(double slope) { return sqrt(2.0 / (1.0 + slope * slope)); }
