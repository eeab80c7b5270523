/* quant.h — ggml block formats used by real InternLM2 GGUF files, and conversions.
 *
 * Contract: block structs match ggml's byte layouts exactly (static_assert on each size);
 * weights are read in place from the GGUF data (never unaligned pointer casts of scalar
 * fields: every multi-byte field here is read through memcpy-safe helpers or is byte-aligned
 * inside a block that the loader guarantees 2-byte aligned).
 * dequantize_row_<type> expands k values (k a multiple of the block size) to float32 (the rows
 * of types.c point to them); quantize_row_q8_0, _q8_1 and _q8_K round activations to Q8_0, Q8_1
 * and Q8_K blocks the way ggml's reference quantizers do. */
#ifndef NTK_QUANT_H
#define NTK_QUANT_H

#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "types.h"

#define QK8_0 32
#define QK4_0 32
#define QK_K  256 /* values in a K-quant super-block */

typedef uint16_t ggml_half; /* IEEE binary16 bits */

typedef struct {
    ggml_half d;      /* scale */
    int8_t qs[QK8_0]; /* value i = d * qs[i] */
} block_q8_0;
static_assert(sizeof(block_q8_0) == 34, "block_q8_0 is 34 bytes");

typedef struct {
    ggml_half d;           /* scale */
    uint8_t qs[QK4_0 / 2]; /* value i (i<16) = d*((qs[i]&15)-8), value i+16 = d*((qs[i]>>4)-8) */
} block_q4_0;
static_assert(sizeof(block_q4_0) == 18, "block_q4_0 is 18 bytes");

/* Q4_1: value i (i < 16) = d*(qs[i]&15) + m, value i+16 = d*(qs[i]>>4) + m */
typedef struct {
    ggml_half d;
    ggml_half m; /* offset, the block's minimum */
    uint8_t qs[QK8_0 / 2];
} block_q4_1;
static_assert(sizeof(block_q4_1) == 20, "block_q4_1 is 20 bytes");

/* Q5_0: value i = d*(q - 16), q's low four bits as in Q4_0 and its fifth bit bit i of qh (read
 * as a little-endian uint32: bit i%8 of qh[i/8]) */
typedef struct {
    ggml_half d;
    uint8_t qh[4];
    uint8_t qs[QK8_0 / 2];
} block_q5_0;
static_assert(sizeof(block_q5_0) == 22, "block_q5_0 is 22 bytes");

/* Q5_1: Q5_0's 5-bit q, value i = d*q + m */
typedef struct {
    ggml_half d;
    ggml_half m;
    uint8_t qh[4];
    uint8_t qs[QK8_0 / 2];
} block_q5_1;
static_assert(sizeof(block_q5_1) == 24, "block_q5_1 is 24 bytes");

/* Q8_1, the activations of Q4_1 and Q5_1 products: Q8_0 plus s = d * sum(qs) (rounded to a
 * half), which meets the weights' offset m in one product per block. */
typedef struct {
    ggml_half d;
    ggml_half s;
    int8_t qs[QK8_0];
} block_q8_1;
static_assert(sizeof(block_q8_1) == 36, "block_q8_1 is 36 bytes");

/* Q4_K: eight sub-blocks of 32 values, value = d*sc[j]*q - dmin*mn[j] for sub-block j, with
 * 6-bit sc and mn packed in `scales` (unpack_q4_K_scales). Sub-blocks 2i and 2i+1 share the 32
 * bytes qs[32i..32i+31]: low nibbles are sub-block 2i, high nibbles 2i+1. */
typedef struct {
    ggml_half d;    /* scale of the sub-block scales */
    ggml_half dmin; /* scale of the sub-block mins */
    uint8_t scales[12];
    uint8_t qs[QK_K / 2];
} block_q4_K;
static_assert(sizeof(block_q4_K) == 144, "block_q4_K is 144 bytes");

/* Q5_K: Q4_K's layout plus a fifth bit: bit j of qh[l] is the high bit (16) of value l of
 * sub-block j. */
typedef struct {
    ggml_half d;
    ggml_half dmin;
    uint8_t scales[12];
    uint8_t qh[QK_K / 8];
    uint8_t qs[QK_K / 2];
} block_q5_K;
static_assert(sizeof(block_q5_K) == 176, "block_q5_K is 176 bytes");

/* Q6_K: sixteen sub-blocks of 16 values, value = d*scales[e/16]*(q - 32), q of 6 bits. In each
 * half h of the block (values 128h..128h+127) value 32g+l (g = 0..3, l = 0..31) has its low four
 * bits in ql[64h + 32(g&1) + l] (low nibble for g < 2, high for g >= 2) and its top two bits
 * in bits 2g, 2g+1 of qh[32h + l]. The scale d comes last. */
typedef struct {
    uint8_t ql[QK_K / 2];
    uint8_t qh[QK_K / 4];
    int8_t scales[QK_K / 16];
    ggml_half d;
} block_q6_K;
static_assert(sizeof(block_q6_K) == 210, "block_q6_K is 210 bytes");

/* Q8_K, the activations of K-quant products: value = d*qs[i]; bsums[j] is the sum of
 * qs[16j..16j+15], which lets the kernels fold a weight's offset (Q4_K/Q5_K mins, Q6_K's -32)
 * into one product per sub-block. */
typedef struct {
    float d;
    int8_t qs[QK_K];
    int16_t bsums[QK_K / 16];
} block_q8_K;
static_assert(sizeof(block_q8_K) == 292, "block_q8_K is 292 bytes");

ggml_half fp32_to_fp16(float f); /* round to nearest even, as ggml */

/* Exact for every half, NaN payloads kept. Inline: the kernels convert a block's scales on every
 * block, and a call cost decode a few per cent. binary16 has 5 exponent bits (bias 15), binary32
 * 8 (bias 127): a normal half's exponent field moves up by 112. */
static inline float fp16_to_fp32(ggml_half h) {
    const uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f;
    uint32_t mant = h & 0x3ff, bits;
    if (exp == 0x1f) /* inf, or NaN */
        bits = sign | 0x7f800000 | mant << 13;
    else if (exp != 0)
        bits = sign | (exp + 112) << 23 | mant << 13;
    else if (mant == 0)
        bits = sign;
    else {
        /* a subnormal half (mant * 2^-24) is a normal float: shift the leading 1 up to the
         * implicit bit, lowering the exponent once per shift */
        uint32_t e = 113;
        while (!(mant & 0x400)) {
            mant <<= 1;
            e--;
        }
        bits = sign | e << 23 | (mant & 0x3ff) << 13;
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* a bfloat16 is the top half of a float */
static inline float bf16_to_fp32(uint16_t h) {
    const uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* Expand k values of one row (k a multiple of the block size) into y; Q8_1 as the Q8_0 row of
 * its d and qs. */
void dequantize_row_f32(const void *x, float *y, int64_t k);
void dequantize_row_f16(const void *x, float *y, int64_t k);
void dequantize_row_bf16(const void *x, float *y, int64_t k);
void dequantize_row_q4_0(const void *x, float *y, int64_t k);
void dequantize_row_q4_1(const void *x, float *y, int64_t k);
void dequantize_row_q5_0(const void *x, float *y, int64_t k);
void dequantize_row_q5_1(const void *x, float *y, int64_t k);
void dequantize_row_q8_0(const void *x, float *y, int64_t k);
void dequantize_row_q8_1(const void *x, float *y, int64_t k);
void dequantize_row_q4_K(const void *x, float *y, int64_t k);
void dequantize_row_q5_K(const void *x, float *y, int64_t k);
void dequantize_row_q6_K(const void *x, float *y, int64_t k);
void dequantize_row_q8_K(const void *x, float *y, int64_t k);
/* The eight 6-bit scales and eight 6-bit mins of a Q4_K or Q5_K block, from its 12 bytes. */
void unpack_q4_K_scales(const uint8_t packed[12], uint8_t sc[8], uint8_t mn[8]);
/* The 4-bit quant of value i (0..31) of a Q4_0/Q4_1 block from its qs, with qh (Q5_0/Q5_1) the
 * 5-bit one. */
static inline int q4_q5_quant(const uint8_t qs[16], const uint8_t *qh, int i) {
    const int low = i < 16 ? qs[i] & 15 : qs[i - 16] >> 4;
    return qh ? low | ((qh[i / 8] >> i % 8) & 1) << 4 : low;
}

/* The quant of value e (0..255) of a block, as the formulas above use it: Q4_K's 4 bits from qs,
 * or with qh (Q5_K) 5 bits; Q6_K's 6 bits with the 32 already subtracted. Inline: the scalar
 * kernels call them per value. */
static inline int k4_quant(const uint8_t *qs, const uint8_t *qh, int e) {
    const int j = e / 32; /* sub-block */
    const int low = (qs[32 * (j / 2) + e % 32] >> 4 * (j % 2)) & 15;
    return qh ? low | ((qh[e % 32] >> j) & 1) << 4 : low;
}

static inline int q6_K_quant(const block_q6_K *b, int e) {
    const int h = e / 128, g = e % 128 / 32, l = e % 32;
    const int low = (b->ql[64 * h + 32 * (g & 1) + l] >> 4 * (g >> 1)) & 15;
    return (low | ((b->qh[32 * h + l] >> 2 * g) & 3) << 4) - 32;
}
/* Quantize k floats (k % 32 == 0) to Q8_0: d = max|x|/127, q = roundf(x * (1/d)), the
 * reciprocal first as ggml does (q = 0 when d = 0); d is stored rounded to fp16. */
void quantize_row_q8_0(const float *x, block_q8_0 *y, int64_t k);
/* Q8_0's rounding, plus s = d * sum(q) stored rounded to fp16 (ggml's reference). */
void quantize_row_q8_1(const float *x, block_q8_1 *y, int64_t k);
/* Quantize k floats (k % 256 == 0) to Q8_K: per block, m is the value of largest magnitude,
 * q = round-half-even(x * (-127/m)), d = 1/(-127/m) (d = 0 and q = 0 when m = 0). */
void quantize_row_q8_K(const float *x, block_q8_K *y, int64_t k);

#endif
