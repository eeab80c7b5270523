/* kquant_scalar.c — the specification of the K-quant dots: Q4_K, Q5_K and Q6_K weights with
 * Q8_K activations. Per super-block, exact int32 sums of sub-blocks weighted by their integer
 * scales, then one float scaling (two for Q4_K/Q5_K: scales and mins); super-blocks added in
 * order. dots_* is the one-token dot for each token in turn. */
#include "kernels.h"

/* One Q4_K (qh NULL) or Q5_K super-block. Sub-block sums times their 6-bit scales stay exact
 * in int32 (8 * 63 * 32 * 31 * 127 < 2^31); a sub-block's min meets the sum of its activations,
 * which Q8_K carries in bsums. */
static float k4_block(ggml_half d, ggml_half dmin, const uint8_t scales[12], const uint8_t *qs, const uint8_t *qh,
                      const block_q8_K *x) {
    uint8_t sc[8], mn[8];
    unpack_q4_K_scales(scales, sc, mn);
    int32_t isum = 0, msum = 0;
    for (int j = 0; j < 8; j++) {
        int32_t s = 0;
        for (int e = 32 * j; e < 32 * j + 32; e++) s += k4_quant(qs, qh, e) * x->qs[e];
        isum += sc[j] * s;
        msum += mn[j] * (x->bsums[2 * j] + x->bsums[2 * j + 1]);
    }
    return fp16_to_fp32(d) * x->d * (float)isum - fp16_to_fp32(dmin) * x->d * (float)msum;
}

float dot_q4_K_q8_K_scalar(const block_q4_K *w, const block_q8_K *x, int n) {
    float sum = 0.0f;
    for (int b = 0; b < n / QK_K; b++) sum += k4_block(w[b].d, w[b].dmin, w[b].scales, w[b].qs, NULL, &x[b]);
    return sum;
}

float dot_q5_K_q8_K_scalar(const block_q5_K *w, const block_q8_K *x, int n) {
    float sum = 0.0f;
    for (int b = 0; b < n / QK_K; b++) sum += k4_block(w[b].d, w[b].dmin, w[b].scales, w[b].qs, w[b].qh, &x[b]);
    return sum;
}

/* |isum| <= 16 * 128 * 16 * 32 * 127 < 2^31 */
float dot_q6_K_q8_K_scalar(const block_q6_K *w, const block_q8_K *x, int n) {
    float sum = 0.0f;
    for (int b = 0; b < n / QK_K; b++) {
        int32_t isum = 0;
        for (int j = 0; j < QK_K / 16; j++) {
            int32_t s = 0;
            for (int e = 16 * j; e < 16 * j + 16; e++) s += q6_K_quant(&w[b], e) * x[b].qs[e];
            isum += w[b].scales[j] * s;
        }
        sum += fp16_to_fp32(w[b].d) * x[b].d * (float)isum;
    }
    return sum;
}

void dots_q4_K_q8_K_scalar(const block_q4_K *w, const block_q8_K *x, size_t x_stride, int n_tok, int n, float *out) {
    for (int t = 0; t < n_tok; t++) out[t] = dot_q4_K_q8_K_scalar(w, dots_token_row(x, x_stride, t), n);
}

void dots_q5_K_q8_K_scalar(const block_q5_K *w, const block_q8_K *x, size_t x_stride, int n_tok, int n, float *out) {
    for (int t = 0; t < n_tok; t++) out[t] = dot_q5_K_q8_K_scalar(w, dots_token_row(x, x_stride, t), n);
}

void dots_q6_K_q8_K_scalar(const block_q6_K *w, const block_q8_K *x, size_t x_stride, int n_tok, int n, float *out) {
    for (int t = 0; t < n_tok; t++) out[t] = dot_q6_K_q8_K_scalar(w, dots_token_row(x, x_stride, t), n);
}
