/* quant.c — half/bfloat conversions, row dequantization of each block format and the Q8_0,
 * Q8_1 and Q8_K activation quantizers. Conversions work on bit patterns (memcpy, no type punning through
 * pointers) so they behave the same natively and in WebAssembly, whatever the FPU mode. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "quant.h"

static uint32_t bits_from_f32(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* binary16: 1 sign, 5 exponent (bias 15), 10 mantissa bits; binary32 bias is 127, so a
 * normal half's exponent field moves up by 127 - 15 = 112. */
ggml_half fp32_to_fp16(float f) {
    const uint32_t x = bits_from_f32(f);
    const uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    const uint32_t a = x & 0x7fffffff;

    if (a > 0x7f800000) /* NaN: keep the top payload bits, force quiet so it cannot become inf */
        return (ggml_half)(sign | 0x7e00 | ((a >> 13) & 0x3ff));
    if (a >= 0x477ff000) /* >= 65520, halfway between 65504 and 2^16: ties-to-even gives inf */
        return (ggml_half)(sign | 0x7c00);
    if (a >= 0x38800000) { /* >= 2^-14: normal half */
        uint32_t r = a - (112u << 23);
        /* add just under half an ulp, plus the kept lsb so exact ties round to even; a carry
         * out of the mantissa correctly bumps the exponent */
        r += 0xfff + ((r >> 13) & 1);
        return (ggml_half)(sign | (r >> 13));
    }
    /* Subnormal half: the result is round(|f| * 2^24) as an integer, 1024 meaning the smallest
     * normal. |f| * 2^24 = mant24 * 2^(E - 126) with mant24 the 24-bit significand. */
    const uint32_t e = a >> 23;
    const uint32_t shift = 126 - e;
    if (e == 0 || shift > 24) /* below 2^-25, or a float subnormal: rounds to zero */
        return sign;
    const uint32_t mant24 = (a & 0x7fffff) | 0x800000;
    uint32_t q = mant24 >> shift;
    const uint32_t rem = mant24 & ((1u << shift) - 1);
    const uint32_t halfway = 1u << (shift - 1);
    if (rem > halfway || (rem == halfway && (q & 1))) q++;
    return (ggml_half)(sign | q);
}

void unpack_q4_K_scales(const uint8_t packed[12], uint8_t sc[8], uint8_t mn[8]) {
    /* bytes 0-3: scales 0-3 in the low six bits, bytes 4-7: mins 0-3; bytes 8-11: the low four
     * bits of scales 4-7 (low nibble) and mins 4-7 (high nibble), whose top two bits sit in
     * the spare top bits of bytes 0-3 and 4-7 */
    for (int j = 0; j < 4; j++) {
        sc[j] = packed[j] & 63;
        mn[j] = packed[j + 4] & 63;
        sc[j + 4] = (uint8_t)((packed[j + 8] & 15) | (packed[j] >> 6) << 4);
        mn[j + 4] = (uint8_t)((packed[j + 8] >> 4) | (packed[j + 4] >> 6) << 4);
    }
}

/* One block of 32 int8 values times d: Q8_0, and Q8_1 (whose s is not needed to expand it). */
static void expand_q8(ggml_half dh, const int8_t *qs, float *y) {
    const float d = fp16_to_fp32(dh);
    for (int j = 0; j < QK8_0; j++) y[j] = d * qs[j];
}

/* One Q4_1 or Q5_0 or Q5_1 block (qh NULL for Q4_1): d*(q - offset) + m, in ggml's order. */
static void expand_q4_q5(float d, float m, int offset, const uint8_t *qs, const uint8_t *qh, float *y) {
    for (int i = 0; i < QK8_0; i++) y[i] = (float)(q4_q5_quant(qs, qh, i) - offset) * d + m;
}

/* One Q4_K (qh NULL) or Q5_K block. The products keep ggml's order, (d * sc) * q - dmin * mn,
 * so the values match its dequantizer's bit for bit. */
static void expand_k4(ggml_half dh, ggml_half dminh, const uint8_t scales[12], const uint8_t *qs, const uint8_t *qh,
                      float *y) {
    uint8_t sc[8], mn[8];
    unpack_q4_K_scales(scales, sc, mn);
    const float d = fp16_to_fp32(dh), dmin = fp16_to_fp32(dminh);
    for (int e = 0; e < QK_K; e++) y[e] = d * sc[e / 32] * k4_quant(qs, qh, e) - dmin * mn[e / 32];
}

void dequantize_row_f32(const void *x, float *y, int64_t k) { memcpy(y, x, (size_t)k * sizeof *y); }

void dequantize_row_f16(const void *x, float *y, int64_t k) {
    const ggml_half *h = x;
    for (int64_t i = 0; i < k; i++) y[i] = fp16_to_fp32(h[i]);
}

void dequantize_row_bf16(const void *x, float *y, int64_t k) {
    const uint16_t *h = x;
    for (int64_t i = 0; i < k; i++) y[i] = bf16_to_fp32(h[i]);
}

void dequantize_row_q8_0(const void *x, float *y, int64_t k) {
    const block_q8_0 *b = x;
    for (int64_t i = 0; i < k / QK8_0; i++, y += QK8_0) expand_q8(b[i].d, b[i].qs, y);
}

void dequantize_row_q4_0(const void *x, float *y, int64_t k) {
    const block_q4_0 *b = x;
    for (int64_t i = 0; i < k / QK4_0; i++, y += QK4_0) {
        const float d = fp16_to_fp32(b[i].d);
        for (int j = 0; j < QK4_0 / 2; j++) {
            y[j] = d * ((b[i].qs[j] & 15) - 8);
            y[j + QK4_0 / 2] = d * ((b[i].qs[j] >> 4) - 8);
        }
    }
}

void dequantize_row_q4_1(const void *x, float *y, int64_t k) {
    const block_q4_1 *b = x;
    for (int64_t i = 0; i < k / QK8_0; i++, y += QK8_0)
        expand_q4_q5(fp16_to_fp32(b[i].d), fp16_to_fp32(b[i].m), 0, b[i].qs, NULL, y);
}

void dequantize_row_q5_0(const void *x, float *y, int64_t k) {
    const block_q5_0 *b = x;
    for (int64_t i = 0; i < k / QK8_0; i++, y += QK8_0)
        expand_q4_q5(fp16_to_fp32(b[i].d), 0.0f, 16, b[i].qs, b[i].qh, y);
}

void dequantize_row_q5_1(const void *x, float *y, int64_t k) {
    const block_q5_1 *b = x;
    for (int64_t i = 0; i < k / QK8_0; i++, y += QK8_0)
        expand_q4_q5(fp16_to_fp32(b[i].d), fp16_to_fp32(b[i].m), 0, b[i].qs, b[i].qh, y);
}

void dequantize_row_q8_1(const void *x, float *y, int64_t k) {
    const block_q8_1 *b = x;
    for (int64_t i = 0; i < k / QK8_0; i++, y += QK8_0) expand_q8(b[i].d, b[i].qs, y);
}

void dequantize_row_q4_K(const void *x, float *y, int64_t k) {
    const block_q4_K *b = x;
    for (int64_t i = 0; i < k / QK_K; i++, y += QK_K) expand_k4(b[i].d, b[i].dmin, b[i].scales, b[i].qs, NULL, y);
}

void dequantize_row_q5_K(const void *x, float *y, int64_t k) {
    const block_q5_K *b = x;
    for (int64_t i = 0; i < k / QK_K; i++, y += QK_K) expand_k4(b[i].d, b[i].dmin, b[i].scales, b[i].qs, b[i].qh, y);
}

void dequantize_row_q6_K(const void *x, float *y, int64_t k) {
    const block_q6_K *b = x;
    for (int64_t i = 0; i < k / QK_K; i++, y += QK_K) {
        const float d = fp16_to_fp32(b[i].d);
        for (int e = 0; e < QK_K; e++) y[e] = d * b[i].scales[e / 16] * q6_K_quant(&b[i], e);
    }
}

void dequantize_row_q8_K(const void *x, float *y, int64_t k) {
    const block_q8_K *b = x;
    for (int64_t i = 0; i < k / QK_K; i++, y += QK_K)
        for (int e = 0; e < QK_K; e++) y[e] = b[i].d * b[i].qs[e];
}

/* roundf (halves away from zero), which WebAssembly has no instruction for and calls libm;
 * truncf is one instruction, and x - truncf(x) is exact. NaN and inf come back as NaN / inf. */
static inline float round_half_away(float x) {
    const float t = truncf(x);
    return fabsf(x - t) >= 0.5f ? t + copysignf(1.0f, x) : t;
}

/* |q| <= 127 for finite x and a normal scale. A file's weights can make activations inf or NaN,
 * and a tiny scale makes the reciprocal inf: converting those to int8 is undefined, so they
 * saturate (NaN to 0). */
static int8_t saturate_q8(float q) {
    return q >= -127.0f && q <= 127.0f ? (int8_t)q : q > 0.0f ? 127 : q < 0.0f ? -127 : 0;
}

/* One block of 32 to int8: d = max|x|/127, q = roundf(x * (1/d)). Returns d unrounded. */
static float quantize_block_q8(const float *x, int8_t *qs) {
    float amax = 0.0f;
    for (int j = 0; j < QK8_0; j++) amax = fmaxf(amax, fabsf(x[j]));
    /* Scaling by the reciprocal (not dividing by d) is what ggml does, and q must match it
     * bit for bit for the engine to reproduce ggml's logits. */
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    for (int j = 0; j < QK8_0; j++) qs[j] = saturate_q8(round_half_away(x[j] * id));
    return d;
}

void quantize_row_q8_0(const float *x, block_q8_0 *y, int64_t k) {
    for (int64_t i = 0; i < k / QK8_0; i++, x += QK8_0) y[i].d = fp32_to_fp16(quantize_block_q8(x, y[i].qs));
}

void quantize_row_q8_1(const float *x, block_q8_1 *y, int64_t k) {
    for (int64_t i = 0; i < k / QK8_0; i++, x += QK8_0) {
        const float d = quantize_block_q8(x, y[i].qs);
        int sum = 0;
        for (int j = 0; j < QK8_0; j++) sum += y[i].qs[j];
        y[i].d = fp32_to_fp16(d);
        y[i].s = fp32_to_fp16((float)sum * d);
    }
}

void quantize_row_q8_K(const float *x, block_q8_K *y, int64_t k) {
    for (int64_t i = 0; i < k / QK_K; i++, x += QK_K) {
        /* the signed value of largest magnitude, the first one on ties, maps to -127 */
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < QK_K; j++)
            if (fabsf(x[j]) > amax) {
                amax = fabsf(x[j]);
                max = x[j];
            }
        const float iscale = amax != 0.0f ? -127.0f / max : 0.0f;
        /* rintf rounds half to even, as ggml's nearest_int does */
        for (int j = 0; j < QK_K; j++) y[i].qs[j] = saturate_q8(rintf(iscale * x[j]));
        for (int j = 0; j < QK_K / 16; j++) {
            int sum = 0;
            for (int l = 0; l < 16; l++) sum += y[i].qs[16 * j + l];
            y[i].bsums[j] = (int16_t)sum;
        }
        y[i].d = amax != 0.0f ? 1.0f / iscale : 0.0f;
    }
}
