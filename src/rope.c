/* rope.c — dynamic NTK base and cos/sin tables; see rope.h. */
#include "rope.h"

#include <math.h>
#include <string.h>

static const char *const mode_names[ROPE_MODE_COUNT] = { "consistent", "cached", "none" };

const char *rope_mode_name(rope_mode m) { return (unsigned)m < ROPE_MODE_COUNT ? mode_names[m] : NULL; }

int rope_mode_parse(const char *s, rope_mode *m) {
    for (int i = 0; i < ROPE_MODE_COUNT; i++)
        if (!strcmp(s, mode_names[i])) {
            *m = (rope_mode)i;
            return 1;
        }
    return 0;
}

double rope_base(const rope_config *rc, int64_t L) {
    if (rc->mode == ROPE_NONE || L <= rc->trained_ctx) return rc->theta;
    if (rc->refresh > 1) L = rc->trained_ctx + (L - rc->trained_ctx + rc->refresh - 1) / rc->refresh * rc->refresh;
    double a = rc->factor, d = rc->head_dim;
    return rc->theta * pow(a * (double)L / (double)rc->trained_ctx - (a - 1.0), d / (d - 2.0));
}

void rope_inv_freq(double base, int head_dim, double *inv_freq) {
    for (int i = 0; i < head_dim / 2; i++) inv_freq[i] = pow(base, -2.0 * i / head_dim);
}

void rope_fill(double base, int head_dim, int64_t p0, int64_t step, int64_t n, float *cos_tab, float *sin_tab) {
    int half = head_dim / 2;
    double inv_freq[512]; /* head_dim <= 1024 is checked at model load */
    rope_inv_freq(base, head_dim, inv_freq);
    for (int64_t r = 0; r < n; r++) {
        double p = (double)(p0 + r * step);
        for (int i = 0; i < half; i++) {
            double a = p * inv_freq[i];
            cos_tab[r * half + i] = (float)cos(a);
            sin_tab[r * half + i] = (float)sin(a);
        }
    }
}
