/* test_float.c — the float kernels (src/kernels/float_*.c): dot_f32, dot_f16_f32, dot_bf16_f32
 * and axpy_f32. The scalar twins against float64 references of the dequantized values; with
 * SIMD128, every SIMD twin against its scalar twin on seeded random data, and the SIMD half and
 * bfloat16 conversions on every pattern in every lane position. Tolerances are relative to the
 * magnitude of the summed terms (testlib.h). */
#include <math.h>
#include <string.h>
#include "twins.h"

/* Mostly realistic weights, sometimes any finite pattern (subnormals, 65504, -0). */
static ggml_half rand_half(void) {
    if (tl_irand(0, 9) == 0) {
        ggml_half h;
        do h = (ggml_half)tl_rand_u64();
        while (((h >> 10) & 31) == 31);
        return h;
    }
    return fp32_to_fp16(tl_frand(-2.0f, 2.0f));
}

static uint16_t rand_bf16(void) { return (uint16_t)(tl_bits(tl_frand(-4.0f, 4.0f)) >> 16); }

/* The scalar twins against float64 on the first SCALAR_TRIALS rows; with SIMD, the SIMD twins
 * against the scalar ones on all of them. */
static void test_dots(void) {
    enum { SCALAR_TRIALS = 200, SIMD_TRIALS = 1000 };
    float *a = tl_xmalloc(MAX_N * sizeof *a), *b = tl_xmalloc(MAX_N * sizeof *b);
    float *wf = tl_xmalloc(MAX_N * sizeof *wf);
    ggml_half *h = tl_xmalloc(MAX_N * sizeof *h);
    uint16_t *bf = tl_xmalloc(MAX_N * sizeof *bf);
    twin_stat t_f32 = twin_stat_new("dot_f32_scalar vs float64", "dot_f32_simd vs scalar, / sum|a*b|", 1e-5);
    twin_stat t_f16 =
        twin_stat_new("dot_f16_f32_scalar vs float64 of dequantized", "dot_f16_f32_simd vs scalar, / sum|w*x|", 1e-5);
    twin_stat t_bf16 =
        twin_stat_new("dot_bf16_f32_scalar vs float64 of dequantized", "dot_bf16_f32_simd vs scalar, / sum|w*x|", 1e-5);
    double mag, ref;
    for (int trial = 0; trial < (NTK_SIMD ? SIMD_TRIALS : SCALAR_TRIALS); trial++) {
        const int n = trial < N_FLOAT_SIZES ? float_sizes[trial] : tl_irand(1, MAX_N);
        const int with_ref = trial < SCALAR_TRIALS;
        tl_fill(a, n, -1.0f, 1.0f);
        tl_fill(b, n, -1.0f, 1.0f);
        ref = tl_dot_ref(a, b, n, &mag);
        twin_add(&t_f32, with_ref, dot_f32_scalar(a, b, n), SIMD_TWIN(dot_f32_simd(a, b, n)), ref, mag);

        for (int i = 0; i < n; i++) {
            h[i] = rand_half();
            bf[i] = rand_bf16();
        }
        twin_dot(&t_f16, with_ref, GGML_TYPE_F16, h, b, n, wf, dot_f16_f32_scalar(h, b, n),
                 SIMD_TWIN(dot_f16_f32_simd(h, b, n)));
        twin_dot(&t_bf16, with_ref, GGML_TYPE_BF16, bf, b, n, wf, dot_bf16_f32_scalar(bf, b, n),
                 SIMD_TWIN(dot_bf16_f32_simd(bf, b, n)));
    }
    twin_report(&t_f32);
    twin_report(&t_f16);
    twin_report(&t_bf16);
    free(a), free(b), free(wf), free(h), free(bf);
}

/* The scalar twin against float64 on the first SCALAR_TRIALS rows, per element relative to
 * |y| + |a*x|; with SIMD, the SIMD twin against the scalar one on all of them. */
static void test_axpy(void) {
    enum { SCALAR_TRIALS = 100, SIMD_TRIALS = 1000 };
    float *y = tl_xmalloc(MAX_N * sizeof *y), *x = tl_xmalloc(MAX_N * sizeof *x);
    float *y0 = tl_xmalloc(MAX_N * sizeof *y0);
    tl_errstat s_axpy = tl_errstat_new("axpy_f32_scalar vs float64, per element / (|y|+|a*x|)", 1e-6);
#if NTK_SIMD
    float *y1 = tl_xmalloc(MAX_N * sizeof *y1);
    tl_errstat v_axpy = tl_errstat_new("axpy_f32_simd vs scalar, per element / (|y|+|a*x|)", 1e-6);
#endif
    for (int trial = 0; trial < (NTK_SIMD ? SIMD_TRIALS : SCALAR_TRIALS); trial++) {
        const int n = trial < N_FLOAT_SIZES ? float_sizes[trial] : tl_irand(1, MAX_N);
        const float a = tl_frand(-2.0f, 2.0f);
        tl_fill(y, n, -1.0f, 1.0f);
        tl_fill(x, n, -1.0f, 1.0f);
        memcpy(y0, y, n * sizeof *y);
        axpy_f32_scalar(y, a, x, n);
        if (trial < SCALAR_TRIALS)
            for (int i = 0; i < n; i++)
                tl_errstat_add(&s_axpy, fabs(y[i] - ((double)y0[i] + (double)a * x[i])),
                               fabs(y0[i]) + fabs((double)a * x[i]));
#if NTK_SIMD
        memcpy(y1, y0, n * sizeof *y0);
        axpy_f32_simd(y1, a, x, n);
        for (int i = 0; i < n; i++) tl_errstat_add(&v_axpy, fabs((double)y1[i] - y[i]), fabs(y[i]) + fabs(a * x[i]));
#endif
    }
    tl_errstat_report(&s_axpy);
#if NTK_SIMD
    tl_errstat_report(&v_axpy);
    free(y1);
#endif
    free(y), free(x), free(y0);
}

#if NTK_SIMD

/* Every pattern in every lane position of the 16-wide loop and the 4-wide tail: a one-hot x
 * picks out exactly the converted weight. The other weights are 1.0, a normal half, so the
 * pattern under test alone decides whether a chunk takes the fast or the exact conversion
 * (and 1.0 * 0 adds nothing, not even to inf or NaN). */
static void test_simd_conversions(void) {
    enum { N = 20 };
    ggml_half w[N];
    float x[N];
    int bad_f16 = 0, bad_bf16 = 0;
    for (int pos = 0; pos < N; pos++) {
        for (int i = 0; i < N; i++) {
            w[i] = 0x3c00;
            x[i] = 0.0f;
        }
        x[pos] = 1.0f;
        for (uint32_t h = 0; h < 65536; h++) {
            w[pos] = (ggml_half)h;
            float got = dot_f16_f32_simd(w, x, N), want = fp16_to_fp32((ggml_half)h);
            bad_f16 += isnan(want) ? !isnan(got) : got != want;
            got = dot_bf16_f32_simd(w, x, N);
            want = bf16_to_fp32((uint16_t)h);
            bad_bf16 += isnan(want) ? !isnan(got) : got != want;
        }
    }
    CHECK(bad_f16 == 0,
          "dot_f16_f32_simd: all 65536 halves in all %d lane positions convert as "
          "fp16_to_fp32 (%d wrong)",
          N, bad_f16);
    CHECK(bad_bf16 == 0,
          "dot_bf16_f32_simd: all 65536 bf16 in all %d lane positions convert as "
          "bf16_to_fp32 (%d wrong)",
          N, bad_bf16);
}

#endif

int main(void) {
    test_dots();
    test_axpy();
#if NTK_SIMD
    test_simd_conversions();
#endif
    return tl_summary();
}
