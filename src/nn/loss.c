/* The autoencoder's reconstruction loss, as in the Deep SVDD reference pre-training:
 * loss = mean over images of the sum over pixels of (pred - target)^2. pred, target (B,D). */
#include "layers.h"

double svdd__sq_error_loss(float *dpred, float *per_sample, const float *pred, const float *target,
                           int B, int D) {
    double total = 0;
    const float scale = 2.0f / (float)B;
    for (int b = 0; b < B; b++) {
        const float *p = pred + (size_t)b * D, *t = target + (size_t)b * D;
        double s = 0;
        for (int d = 0; d < D; d++) {
            float diff = p[d] - t[d];
            s += (double)diff * diff;
            if (dpred) dpred[(size_t)b * D + d] = scale * diff;
        }
        if (per_sample) per_sample[b] = (float)s;
        total += s;
    }
    return total / B;
}
