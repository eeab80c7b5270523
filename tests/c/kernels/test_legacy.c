/* test_legacy.c — the legacy quantized dots (src/kernels/legacy_*.c): Q8_0 and Q4_0 weights
 * with Q8_0 activations, Q4_1 and Q5_1 with Q8_1, Q5_0 with Q8_0. The scalar twins against
 * float64 dots of the dequantized blocks; with SIMD128 (and relaxed SIMD), every SIMD twin
 * against its scalar twin on seeded random blocks, some with zero or subnormal scales.
 * Tolerances are relative to the magnitude of the summed terms (testlib.h). */
#include <math.h>
#include <string.h>
#include "twins.h"

/* Random Q8_0 weights use every byte value, -128 included. */
static void rand_q8_0(block_q8_0 *w, int nb) {
    for (int b = 0; b < nb; b++) {
        w[b].d = rand_scale();
        for (int j = 0; j < 32; j++) w[b].qs[j] = (int8_t)(tl_rand_u64() >> 56);
    }
}

static void rand_q4_0(block_q4_0 *w, int nb) {
    for (int b = 0; b < nb; b++) {
        w[b].d = rand_scale();
        for (int j = 0; j < 16; j++) w[b].qs[j] = (uint8_t)(tl_rand_u64() >> 56);
    }
}

/* Activations come from the real quantizer; 1 block in 16 is all zeros (scale 0). */
static void rand_activations(block_q8_0 *x, float *tmp, int n) {
    tl_fill(tmp, n, -3.0f, 3.0f);
    for (int b = 0; b < n / 32; b++)
        if (tl_irand(0, 15) == 0) memset(tmp + 32 * b, 0, 32 * sizeof *tmp);
    quantize_row_q8_0(tmp, x, n);
}

/* Q8_0 and Q4_0 weights: the scalar twins against float64 on the first SCALAR_TRIALS rows; with
 * SIMD, the SIMD twins against the scalar ones on all of them. */
static void test_q8_0_q4_0_dots(void) {
    enum { SCALAR_TRIALS = 200, SIMD_TRIALS = 1000 };
    float *a = tl_xmalloc(MAX_N * sizeof *a), *wf = tl_xmalloc(MAX_N * sizeof *wf);
    block_q8_0 *wq8 = tl_xmalloc(MAX_N / 32 * sizeof *wq8), *xq8 = tl_xmalloc(MAX_N / 32 * sizeof *xq8);
    block_q4_0 *wq4 = tl_xmalloc(MAX_N / 32 * sizeof *wq4);
    twin_stat t_q8 = twin_stat_new("dot_q8_0_q8_0_scalar vs float64 of dequantized",
                                   "dot_q8_0_q8_0_simd vs scalar, / sum|dw*dx*qw*qx|", 1e-5);
    twin_stat t_q4 = twin_stat_new("dot_q4_0_q8_0_scalar vs float64 of dequantized",
                                   "dot_q4_0_q8_0_simd vs scalar, / sum|dw*dx*qw*qx|", 1e-5);
    for (int trial = 0; trial < (NTK_SIMD ? SIMD_TRIALS : SCALAR_TRIALS); trial++) {
        const int nq = 32 * (trial < 40 ? trial + 1 : tl_irand(1, MAX_N / 32));
        const int with_ref = trial < SCALAR_TRIALS;
        rand_q8_0(wq8, nq / 32);
        rand_q4_0(wq4, nq / 32);
        rand_activations(xq8, a, nq);
        dequantize_row(GGML_TYPE_Q8_0, xq8, a, nq);
        twin_dot(&t_q8, with_ref, GGML_TYPE_Q8_0, wq8, a, nq, wf, dot_q8_0_q8_0_scalar(wq8, xq8, nq),
                 SIMD_TWIN(dot_q8_0_q8_0_simd(wq8, xq8, nq)));
        twin_dot(&t_q4, with_ref, GGML_TYPE_Q4_0, wq4, a, nq, wf, dot_q4_0_q8_0_scalar(wq4, xq8, nq),
                 SIMD_TWIN(dot_q4_0_q8_0_simd(wq4, xq8, nq)));
    }
    twin_report(&t_q8);
    twin_report(&t_q4);
    free(a), free(wf), free(wq8), free(xq8), free(wq4);
}

/* Random Q4_1/Q5_0/Q5_1 blocks: any bytes, scales from rand_scale. */
static void rand_legacy_blocks(void *w, size_t size, int nb, int has_m) {
    tl_rand_bytes(w, size * nb);
    for (int b = 0; b < nb; b++) {
        uint8_t *p = (uint8_t *)w + size * b;
        const ggml_half d = rand_scale(), m = rand_scale();
        memcpy(p, &d, sizeof d);
        if (has_m) memcpy(p + sizeof d, &m, sizeof m);
    }
}

/* The Q8_1 dot a Q4_1/Q5_1 kernel computes, in double: sum (d q)(dx qx) over the values plus
 * m * s per block, s standing for dx * sum(qx) as the format says; mag the sum of |terms|. */
static double q8_1_dot_ref(uint32_t type, const void *w, const block_q8_1 *x, int n, float *wf, float *xf,
                           double *mag) {
    const size_t size = type == GGML_TYPE_Q4_1 ? sizeof(block_q4_1) : sizeof(block_q5_1);
    uint8_t *copy = tl_xmalloc(size * (n / 32));
    memcpy(copy, w, size * (n / 32));
    double ref = 0, m = 0;
    for (int b = 0; b < n / 32; b++) {
        ggml_half mh;
        memcpy(&mh, copy + size * b + 2, sizeof mh);
        const double t = (double)fp16_to_fp32(mh) * fp16_to_fp32(x[b].s);
        ref += t;
        m += fabs(t);
        memset(copy + size * b + 2, 0, 2); /* m = 0: wf holds d q */
    }
    dequantize_row(type, copy, wf, n);
    dequantize_row(GGML_TYPE_Q8_1, x, xf, n);
    double mq;
    ref += tl_dot_ref(wf, xf, n, &mq);
    *mag = m + mq;
    free(copy);
    return ref;
}

/* Q4_1, Q5_0 and Q5_1 weights: the scalar twins against float64 and, with SIMD, the SIMD twins
 * against the scalar ones, on every row. */
static void test_legacy_dots(void) {
    float *a = tl_xmalloc(MAX_N * sizeof *a), *wf = tl_xmalloc(MAX_N * sizeof *wf);
    block_q8_0 *xq8 = tl_xmalloc(MAX_N / 32 * sizeof *xq8);
    block_q4_1 *w41 = tl_xmalloc(MAX_N / 32 * sizeof *w41);
    block_q5_0 *w50 = tl_xmalloc(MAX_N / 32 * sizeof *w50);
    block_q5_1 *w51 = tl_xmalloc(MAX_N / 32 * sizeof *w51);
    block_q8_1 *x81 = tl_xmalloc(MAX_N / 32 * sizeof *x81);
    twin_stat t41 =
        twin_stat_new("dot_q4_1_q8_1_scalar vs float64 of dequantized", "dot_q4_1_q8_1_simd vs scalar", 1e-5);
    twin_stat t50 =
        twin_stat_new("dot_q5_0_q8_0_scalar vs float64 of dequantized", "dot_q5_0_q8_0_simd vs scalar", 1e-5);
    twin_stat t51 =
        twin_stat_new("dot_q5_1_q8_1_scalar vs float64 of dequantized", "dot_q5_1_q8_1_simd vs scalar", 1e-5);
    double mag, ref;
    for (int trial = 0; trial < 500; trial++) {
        const int n = 32 * (trial < 40 ? trial + 1 : tl_irand(1, MAX_N / 32));
        rand_legacy_blocks(w41, sizeof *w41, n / 32, 1);
        rand_legacy_blocks(w50, sizeof *w50, n / 32, 0);
        rand_legacy_blocks(w51, sizeof *w51, n / 32, 1);
        rand_activations(xq8, a, n);
        tl_fill(a, n, -3.0f, 3.0f);
        quantize_row_q8_1(a, x81, n);

        ref = q8_1_dot_ref(GGML_TYPE_Q4_1, w41, x81, n, wf, a, &mag);
        twin_add(&t41, 1, dot_q4_1_q8_1_scalar(w41, x81, n), SIMD_TWIN(dot_q4_1_q8_1_simd(w41, x81, n)), ref, mag);
        ref = q8_1_dot_ref(GGML_TYPE_Q5_1, w51, x81, n, wf, a, &mag);
        twin_add(&t51, 1, dot_q5_1_q8_1_scalar(w51, x81, n), SIMD_TWIN(dot_q5_1_q8_1_simd(w51, x81, n)), ref, mag);
        dequantize_row(GGML_TYPE_Q8_0, xq8, a, n);
        twin_dot(&t50, 1, GGML_TYPE_Q5_0, w50, a, n, wf, dot_q5_0_q8_0_scalar(w50, xq8, n),
                 SIMD_TWIN(dot_q5_0_q8_0_simd(w50, xq8, n)));
    }
    twin_report(&t41);
    twin_report(&t50);
    twin_report(&t51);
    free(a), free(wf), free(xq8), free(w41), free(w50), free(w51), free(x81);
}

int main(void) {
    test_q8_0_q4_0_dots();
    test_legacy_dots();
    return tl_summary();
}
