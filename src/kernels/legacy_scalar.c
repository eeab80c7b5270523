/* legacy_scalar.c — the specification of the legacy quantized dots: Q8_0 and Q4_0 weights with
 * Q8_0 activations, Q4_1 and Q5_1 with Q8_1, Q5_0 with Q8_0. Per 32-value block an exact int32
 * sum of quant products, then its float scaling (plus the offset's term for Q4_1 and Q5_1);
 * blocks added in order. */
#include "kernels.h"

/* Products of int8 are summed exactly in int32 (32 * 128 * 128 cannot overflow); only the
 * per-block scaling and the sum over blocks round. */
float dot_q8_0_q8_0_scalar(const block_q8_0 *w, const block_q8_0 *x, int n) {
    float sum = 0.0f;
    for (int b = 0; b < n / QK8_0; b++) {
        int32_t isum = 0;
        for (int j = 0; j < QK8_0; j++) isum += w[b].qs[j] * x[b].qs[j];
        sum += fp16_to_fp32(w[b].d) * fp16_to_fp32(x[b].d) * (float)isum;
    }
    return sum;
}

float dot_q4_0_q8_0_scalar(const block_q4_0 *w, const block_q8_0 *x, int n) {
    float sum = 0.0f;
    for (int b = 0; b < n / QK4_0; b++) {
        int32_t isum = 0;
        for (int j = 0; j < QK4_0 / 2; j++) {
            isum += ((w[b].qs[j] & 15) - 8) * x[b].qs[j];
            isum += ((w[b].qs[j] >> 4) - 8) * x[b].qs[j + QK4_0 / 2];
        }
        sum += fp16_to_fp32(w[b].d) * fp16_to_fp32(x[b].d) * (float)isum;
    }
    return sum;
}

/* A Q4_1 (qh NULL) or Q5_1 block: the offset m meets the activations' s = dx * sum(qx). */
static float q4_1_q5_1_block(ggml_half d, ggml_half m, const uint8_t *qs, const uint8_t *qh, const block_q8_1 *x) {
    int32_t isum = 0;
    for (int j = 0; j < QK8_0; j++) isum += q4_q5_quant(qs, qh, j) * x->qs[j];
    return fp16_to_fp32(d) * fp16_to_fp32(x->d) * (float)isum + fp16_to_fp32(m) * fp16_to_fp32(x->s);
}

float dot_q4_1_q8_1_scalar(const block_q4_1 *w, const block_q8_1 *x, int n) {
    float sum = 0.0f;
    for (int b = 0; b < n / QK8_0; b++) sum += q4_1_q5_1_block(w[b].d, w[b].m, w[b].qs, NULL, &x[b]);
    return sum;
}

float dot_q5_1_q8_1_scalar(const block_q5_1 *w, const block_q8_1 *x, int n) {
    float sum = 0.0f;
    for (int b = 0; b < n / QK8_0; b++) sum += q4_1_q5_1_block(w[b].d, w[b].m, w[b].qs, w[b].qh, &x[b]);
    return sum;
}

float dot_q5_0_q8_0_scalar(const block_q5_0 *w, const block_q8_0 *x, int n) {
    float sum = 0.0f;
    for (int b = 0; b < n / QK8_0; b++) {
        int32_t isum = 0;
        for (int j = 0; j < QK8_0; j++) isum += (q4_q5_quant(w[b].qs, w[b].qh, j) - 16) * x[b].qs[j];
        sum += fp16_to_fp32(w[b].d) * fp16_to_fp32(x[b].d) * (float)isum;
    }
    return sum;
}
