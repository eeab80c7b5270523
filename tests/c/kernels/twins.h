/* twins.h — what the kernel tests share beyond testlib.h: a float kernel's two comparisons
 * (scalar twin against float64, SIMD twin against scalar), the row lengths they try, random
 * block scales and rotation tables. Header-only, like testlib.h. */
#ifndef NTK_TEST_TWINS_H
#define NTK_TEST_TWINS_H

#include "kernels.h"
#include "testlib.h"

/* A kernel whose twins agree to float rounding, checked two ways with one tolerance: the scalar
 * twin's result against a float64 reference, and with SIMD128 the SIMD twin's against the
 * scalar twin's, both relative to the magnitude of the summed terms. */
typedef struct {
    tl_errstat vs_ref, vs_scalar;
} twin_stat;

/* The SIMD twin's result where the build has SIMD128; natively the call is left out. */
#if NTK_SIMD
#define SIMD_TWIN(call) (call)
#else
#define SIMD_TWIN(call) 0.0f
#endif

static inline twin_stat twin_stat_new(const char *vs_ref, const char *vs_scalar, double tol) {
    const twin_stat t = { tl_errstat_new(vs_ref, tol), tl_errstat_new(vs_scalar, tol) };
    return t;
}

/* One trial: with_ref says whether this one is also checked against ref. */
static inline void twin_add(twin_stat *t, int with_ref, float scalar, float simd, double ref, double mag) {
    if (with_ref) tl_errstat_add(&t->vs_ref, fabs(scalar - ref), mag);
    if (NTK_SIMD) tl_errstat_add(&t->vs_scalar, fabs((double)simd - scalar), mag);
}

static inline void twin_report(const twin_stat *t) {
    tl_errstat_report(&t->vs_ref);
    if (NTK_SIMD) tl_errstat_report(&t->vs_scalar);
}

/* The float64 dot of x with row w of the given type, dequantized into wf; *mag = sum |terms| */
static inline double dequantized_dot_ref(uint32_t type, const void *w, const float *x, int n, float *wf, double *mag) {
    dequantize_row(type, w, wf, n);
    return tl_dot_ref(wf, x, n, mag);
}

/* One trial of a dot of weights w (type) with activations x: the twins' results against the
 * float64 dot of the dequantized w with x, the activations as the kernel sees them. */
static inline void twin_dot(twin_stat *t, int with_ref, uint32_t type, const void *w, const float *x, int n, float *wf,
                            float scalar, float simd) {
    double mag;
    const double ref = dequantized_dot_ref(type, w, x, n, wf, &mag);
    twin_add(t, with_ref, scalar, simd, ref, mag);
}

/* Row lengths first tried in order (every tail of the 16- and 4-wide loops), then random ones
 * up to MAX_N. */
static const int float_sizes[] = { 1,  2,  3,  4,  5,   7,   8,   15,  16,   17,   31,   32,
                                   33, 63, 64, 65, 100, 255, 256, 257, 1000, 4096, 4097, 4111 };
#define N_FLOAT_SIZES ((int)(sizeof float_sizes / sizeof float_sizes[0]))
#define MAX_N         8192

/* Weight scale: usually a normal half, 1 in 8 a zero or subnormal one, so kernels that
 * convert scales on a fast path also take their exact path. */
static inline ggml_half rand_scale(void) {
    switch (tl_irand(0, 15)) {
    case 0:
        return (ggml_half)(tl_irand(0, 1) << 15); /* +-0 */
    case 1:
        return (ggml_half)tl_irand(1, 0x3ff) | (ggml_half)(tl_irand(0, 1) << 15);
    default:
        return fp32_to_fp16(tl_frand(-0.05f, 0.05f));
    }
}

/* cos/sin of pos * base^(-2i/head_dim) for n_pos positions pos0, pos0+step, .., as the engine
 * builds them */
static inline void rope_tables(float *c, float *s, int n_pos, int pos0, int step, int head_dim) {
    for (int p = 0; p < n_pos; p++)
        for (int i = 0; i < head_dim / 2; i++) {
            const double angle = (pos0 + p * step) * pow(10000.0, -2.0 * i / head_dim);
            c[p * head_dim / 2 + i] = (float)cos(angle);
            s[p * head_dim / 2 + i] = (float)sin(angle);
        }
}

#endif
