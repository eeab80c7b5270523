/* test_kquant.c — the K-quant dots (src/kernels/kquant_*.c): Q4_K, Q5_K and Q6_K weights with
 * Q8_K activations. The scalar twins against float64 dots of the dequantized blocks; with
 * SIMD128 (and relaxed SIMD), the SIMD twins bit for bit against the scalar ones, and dots_*
 * (several tokens at once) bit for bit against the one-token dot of each token. */
#include <math.h>
#include <string.h>
#include "twins.h"

/* Any bytes make a valid K-quant block; the float scales come from rand_scale. */
static void rand_k_blocks(void *w, size_t size, int nb) {
    tl_rand_bytes(w, size * nb);
    for (int b = 0; b < nb; b++) {
        uint8_t *p = (uint8_t *)w + size * b;
        const ggml_half d = rand_scale(), dmin = rand_scale();
        if (size == sizeof(block_q6_K)) {
            memcpy(p + offsetof(block_q6_K, d), &d, sizeof d);
        } else { /* Q4_K and Q5_K start with d, dmin */
            memcpy(p, &d, sizeof d);
            memcpy(p + sizeof d, &dmin, sizeof dmin);
        }
    }
}

static void rand_activations_k(block_q8_K *x, float *tmp, int n) {
    tl_fill(tmp, n, -3.0f, 3.0f);
    for (int b = 0; b < n / 256; b++)
        if (tl_irand(0, 15) == 0) memset(tmp + 256 * b, 0, 256 * sizeof *tmp);
    quantize_row_q8_K(tmp, x, n);
}

/* The magnitude of what a Q4_K/Q5_K dot sums: its scale terms and its min terms apart (they can
 * cancel), found by dequantizing with dmin, then d, set to zero. */
static double k4_magnitude(uint32_t type, const void *w, const float *x, int n, float *tmp) {
    const size_t size = type == GGML_TYPE_Q4_K ? sizeof(block_q4_K) : sizeof(block_q5_K);
    uint8_t *copy = tl_xmalloc(size * (n / 256));
    double mag = 0;
    for (int field = 0; field < 2; field++) {
        memcpy(copy, w, size * (n / 256));
        for (int b = 0; b < n / 256; b++) memset(copy + size * b + (field ? 0 : 2), 0, 2);
        dequantize_row(type, copy, tmp, n);
        for (int i = 0; i < n; i++) mag += fabs((double)tmp[i] * x[i]);
    }
    free(copy);
    return mag;
}

/* K-quant kernels: the scalar twins against float64 dots of dequantized weights and activations
 * (tolerance relative to the magnitude of the scale and min terms), and, with SIMD, the SIMD
 * twins against the scalar ones: same integer sums, same float expression, so bit for bit. */
static void test_k_dots(void) {
    float *a = tl_xmalloc(MAX_N * sizeof *a), *wf = tl_xmalloc(MAX_N * sizeof *wf);
    block_q4_K *wq4k = tl_xmalloc(MAX_N / 256 * sizeof *wq4k);
    block_q5_K *wq5k = tl_xmalloc(MAX_N / 256 * sizeof *wq5k);
    block_q6_K *wq6k = tl_xmalloc(MAX_N / 256 * sizeof *wq6k);
    block_q8_K *xq8k = tl_xmalloc(MAX_N / 256 * sizeof *xq8k);
    tl_errstat s4 = tl_errstat_new("dot_q4_K_q8_K_scalar vs float64 of dequantized", 1e-5);
    tl_errstat s5 = tl_errstat_new("dot_q5_K_q8_K_scalar vs float64 of dequantized", 1e-5);
    tl_errstat s6 = tl_errstat_new("dot_q6_K_q8_K_scalar vs float64 of dequantized", 1e-5);
    enum { TRIALS = 500 };
#if NTK_SIMD
    int differ4 = 0, differ5 = 0, differ6 = 0;
#endif
    double mag, ref;
    for (int trial = 0; trial < TRIALS; trial++) {
        const int n = 256 * (trial < 8 ? trial + 1 : tl_irand(1, MAX_N / 256));
        rand_k_blocks(wq4k, sizeof(block_q4_K), n / 256);
        rand_k_blocks(wq5k, sizeof(block_q5_K), n / 256);
        rand_k_blocks(wq6k, sizeof(block_q6_K), n / 256);
        rand_activations_k(xq8k, a, n);
        dequantize_row(GGML_TYPE_Q8_K, xq8k, a, n);

        const float r4 = dot_q4_K_q8_K_scalar(wq4k, xq8k, n);
        ref = dequantized_dot_ref(GGML_TYPE_Q4_K, wq4k, a, n, wf, &mag);
        tl_errstat_add(&s4, fabs(r4 - ref), k4_magnitude(GGML_TYPE_Q4_K, wq4k, a, n, wf));

        const float r5 = dot_q5_K_q8_K_scalar(wq5k, xq8k, n);
        ref = dequantized_dot_ref(GGML_TYPE_Q5_K, wq5k, a, n, wf, &mag);
        tl_errstat_add(&s5, fabs(r5 - ref), k4_magnitude(GGML_TYPE_Q5_K, wq5k, a, n, wf));

        const float r6 = dot_q6_K_q8_K_scalar(wq6k, xq8k, n);
        ref = dequantized_dot_ref(GGML_TYPE_Q6_K, wq6k, a, n, wf, &mag);
        tl_errstat_add(&s6, fabs(r6 - ref), mag);
#if NTK_SIMD
        differ4 += tl_bits(dot_q4_K_q8_K_simd(wq4k, xq8k, n)) != tl_bits(r4);
        differ5 += tl_bits(dot_q5_K_q8_K_simd(wq5k, xq8k, n)) != tl_bits(r5);
        differ6 += tl_bits(dot_q6_K_q8_K_simd(wq6k, xq8k, n)) != tl_bits(r6);
#endif
    }
    tl_errstat_report(&s4);
    tl_errstat_report(&s5);
    tl_errstat_report(&s6);
#if NTK_SIMD
    CHECK(differ4 == 0, "dot_q4_K_q8_K_simd: bit-identical to scalar (%d of %d differ)", differ4, TRIALS);
    CHECK(differ5 == 0, "dot_q5_K_q8_K_simd: bit-identical to scalar (%d of %d differ)", differ5, TRIALS);
    CHECK(differ6 == 0, "dot_q6_K_q8_K_simd: bit-identical to scalar (%d of %d differ)", differ6, TRIALS);
#endif
    free(a), free(wf), free(wq4k), free(wq5k), free(wq6k), free(xq8k);
}

/* dots_*: a row against several tokens at once gives each token's one-token dot bit for bit
 * (the SIMD twin against the scalar one-token kernel, so its groups of 8, 4, 2 and a single
 * token are all covered by n_tok up to 23), with activation rows further apart than a row. */
static void test_k_dots_tokens(void) {
    enum { TRIALS = 120, MAX_TOK = 23, COLS = 2048, STRIDE_BLOCKS = COLS / 256 + 1 };
    block_q8_K *x = tl_xmalloc(MAX_TOK * STRIDE_BLOCKS * sizeof *x);
    const size_t stride = STRIDE_BLOCKS * sizeof *x;
    float *tmp = tl_xmalloc(COLS * sizeof *tmp), out[MAX_TOK];
    block_q4_K *w4 = tl_xmalloc(COLS / 256 * sizeof *w4);
    block_q5_K *w5 = tl_xmalloc(COLS / 256 * sizeof *w5);
    block_q6_K *w6 = tl_xmalloc(COLS / 256 * sizeof *w6);
    int differ[3] = { 0, 0, 0 }, compared = 0;
    for (int trial = 0; trial < TRIALS; trial++) {
        const int n = 256 * tl_irand(1, COLS / 256), n_tok = trial < MAX_TOK ? trial + 1 : tl_irand(1, MAX_TOK);
        for (int t = 0; t < n_tok; t++) rand_activations_k(x + t * STRIDE_BLOCKS, tmp, n);
        rand_k_blocks(w4, sizeof *w4, n / 256);
        rand_k_blocks(w5, sizeof *w5, n / 256);
        rand_k_blocks(w6, sizeof *w6, n / 256);
        dots_q4_K_q8_K(w4, x, stride, n_tok, n, out);
        for (int t = 0; t < n_tok; t++)
            differ[0] += tl_bits(out[t]) != tl_bits(dot_q4_K_q8_K_scalar(w4, x + t * STRIDE_BLOCKS, n));
        dots_q5_K_q8_K(w5, x, stride, n_tok, n, out);
        for (int t = 0; t < n_tok; t++)
            differ[1] += tl_bits(out[t]) != tl_bits(dot_q5_K_q8_K_scalar(w5, x + t * STRIDE_BLOCKS, n));
        dots_q6_K_q8_K(w6, x, stride, n_tok, n, out);
        for (int t = 0; t < n_tok; t++)
            differ[2] += tl_bits(out[t]) != tl_bits(dot_q6_K_q8_K_scalar(w6, x + t * STRIDE_BLOCKS, n));
        compared += n_tok;
    }
    const char *names[3] = { "q4_K", "q5_K", "q6_K" };
    for (int k = 0; k < 3; k++)
        CHECK(differ[k] == 0,
              "dots_%s_q8_K (%s), 1..%d tokens: each the one-token scalar dot bit for bit (%d of %d differ)", names[k],
              NTK_SIMD ? "SIMD" : "scalar", MAX_TOK, differ[k], compared);
    free(x), free(tmp), free(w4), free(w5), free(w6);
}

int main(void) {
    test_k_dots();
    test_k_dots_tokens();
    return tl_summary();
}
