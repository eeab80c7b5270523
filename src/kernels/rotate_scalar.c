/* rotate_scalar.c — the specification of rope_rotate: adjacent pairs (x[2i], x[2i+1]) of one head
 * turned by the angle whose cosine and sine are c[i], s[i]. */
#include "kernels.h"

void rope_rotate_scalar(float *x, const float *c, const float *s, int head_dim) {
    for (int i = 0; i < head_dim / 2; i++) {
        const float x0 = x[2 * i], x1 = x[2 * i + 1];
        x[2 * i] = x0 * c[i] - x1 * s[i];
        x[2 * i + 1] = x0 * s[i] + x1 * c[i];
    }
}
