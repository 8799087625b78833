/* Adam with torch.optim.Adam's semantics (PyTorch 1.13, single-tensor path):
 *   g = grad + weight_decay * param             (L2, not decoupled as in AdamW)
 *   m = b1 m + (1-b1) g,  v = b2 v + (1-b2) g^2,  vmax = max(vmax, v) with amsgrad
 *   param -= lr / (1 - b1^t) * m / (sqrt(v or vmax) / sqrt(1 - b2^t) + eps)
 * One flat loop over the whole parameter buffer. */
#include <math.h>

#include "layers.h"

void svdd__adam_update(float *param, const float *grad, float *m, float *v, float *vmax, size_t n,
                       float lr, float beta1, float beta2, float eps, float weight_decay, int amsgrad,
                       long step) {
    const double bc1 = 1.0 - pow(beta1, (double)step), bc2 = 1.0 - pow(beta2, (double)step);
    const float step_size = (float)(lr / bc1), bc2_sqrt = (float)sqrt(bc2);
    for (size_t i = 0; i < n; i++) {
        float g = grad[i] + weight_decay * param[i];
        m[i] = beta1 * m[i] + (1.0f - beta1) * g;
        v[i] = beta2 * v[i] + (1.0f - beta2) * g * g;
        float vv = v[i];
        if (amsgrad) {
            if (vmax[i] < vv) vmax[i] = vv;
            vv = vmax[i];
        }
        float denom = sqrtf(vv) / bc2_sqrt + eps;
        param[i] -= step_size * (m[i] / denom);
    }
}
