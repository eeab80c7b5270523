/* test_rotate.c — rope_rotate (src/kernels/rotate_*.c): the scalar twin against the rotation in
 * float64; with SIMD128, the SIMD twin against the scalar one on head sizes that cover its
 * 4-pair loop and its tail. (tests/c/test_rope.c tests src/rope.c, the dynamic NTK base.) */
#include <math.h>
#include <string.h>
#include "twins.h"

/* Per element relative to |x0 c| + |x1 s| + |x0 s| + |x1 c|, head sizes up to 256. */
static void test_scalar_rotate(void) {
    float *x = tl_xmalloc(256 * sizeof *x), *y0 = tl_xmalloc(256 * sizeof *y0);
    float *c = tl_xmalloc(128 * sizeof *c), *s = tl_xmalloc(128 * sizeof *s);
    tl_errstat s_rope = tl_errstat_new("rope_rotate_scalar vs float64, per element / (|x0|+|x1|)(|c|+|s|)", 1e-6);
    for (int trial = 0; trial < 100; trial++) {
        const int hd = 2 * tl_irand(1, 128);
        tl_fill(x, hd, -3.0f, 3.0f);
        memcpy(y0, x, hd * sizeof *x);
        rope_tables(c, s, 1, tl_irand(0, 5000), 1, hd);
        rope_rotate_scalar(x, c, s, hd);
        for (int i = 0; i < hd / 2; i++) {
            const double x0 = y0[2 * i], x1 = y0[2 * i + 1];
            const double sc = fabs(x0 * c[i]) + fabs(x1 * s[i]) + fabs(x0 * s[i]) + fabs(x1 * c[i]);
            tl_errstat_add(&s_rope, fabs(x[2 * i] - (x0 * c[i] - x1 * s[i])), sc);
            tl_errstat_add(&s_rope, fabs(x[2 * i + 1] - (x0 * s[i] + x1 * c[i])), sc);
        }
    }
    tl_errstat_report(&s_rope);
    free(x), free(y0), free(c), free(s);
}

#if NTK_SIMD

static void test_simd_rotate(void) {
    float *y1 = tl_xmalloc(MAX_N * sizeof *y1), *y2 = tl_xmalloc(MAX_N * sizeof *y2);
    float *x = tl_xmalloc(MAX_N * sizeof *x);
    float *c = tl_xmalloc(MAX_N / 2 * sizeof *c), *s = tl_xmalloc(MAX_N / 2 * sizeof *s);
    tl_errstat s_rope = tl_errstat_new("rope_rotate_simd vs scalar, per element / (|x0|+|x1|)", 1e-6);
    for (int trial = 0; trial < 1000; trial++) {
        const int hd = trial < N_FLOAT_SIZES ? (float_sizes[trial] + 1) & ~1 : 2 * tl_irand(1, MAX_N / 2);
        tl_fill(x, hd, -3.0f, 3.0f);
        memcpy(y1, x, hd * sizeof *x);
        memcpy(y2, x, hd * sizeof *x);
        rope_tables(c, s, 1, tl_irand(0, 5000), 1, hd);
        rope_rotate_simd(y1, c, s, hd);
        rope_rotate_scalar(y2, c, s, hd);
        for (int i = 0; i < hd; i++)
            tl_errstat_add(&s_rope, fabs((double)y1[i] - y2[i]), fabs(x[i & ~1]) + fabs(x[i | 1]));
    }
    tl_errstat_report(&s_rope);
    free(y1), free(y2), free(x), free(c), free(s);
}

#endif

int main(void) {
    test_scalar_rotate();
#if NTK_SIMD
    test_simd_rotate();
#endif
    return tl_summary();
}
