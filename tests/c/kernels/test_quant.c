/* test_quant.c — quant.c, the block formats every kernel reads: fp16 and bf16
 * conversions against their definitions on all 65536 patterns, quantize_row_q8_0, _q8_1 and
 * _q8_K against ggml's formulas, dequantize_row on hand-built blocks and (legacy and K-quants)
 * against a restatement of ggml's loops. Runs natively and in both wasm kernel builds, where
 * the scalar twins' conversions are these. */
#include <float.h>
#include <math.h>
#include <string.h>
#include "kernels.h"
#include "testlib.h"

/* ---------------------------------------------------------------- conversions */

/* IEEE binary16 by definition; NaN keeps its 10 payload bits at the top of float's 23. */
static float half_definition(uint16_t h) {
    const int e = (h >> 10) & 31, m = h & 1023;
    double v;
    if (e == 31) return tl_from_bits((uint32_t)(h & 0x8000) << 16 | 0x7f800000 | (uint32_t)m << 13);
    if (e == 0)
        v = ldexp(m, -24);
    else
        v = ldexp(1024 + m, e - 25);
    return (float)((h & 0x8000) ? -v : v);
}

static int is_half_nan(uint16_t h) { return ((h >> 10) & 31) == 31 && (h & 1023); }

static void test_fp16(void) {
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) bad += tl_bits(fp16_to_fp32((ggml_half)h)) != tl_bits(half_definition(h));
    CHECK(bad == 0, "fp16_to_fp32: all 65536 patterns bit-exact vs definition (%d wrong)", bad);

    bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        const ggml_half back = fp32_to_fp16(fp16_to_fp32((ggml_half)h));
        if (is_half_nan((uint16_t)h))
            bad += !is_half_nan(back) || (back & 0x8000) != (h & 0x8000);
        else
            bad += back != h;
    }
    CHECK(bad == 0, "fp32_to_fp16: round trip of all 65536 patterns (NaN stays NaN) (%d wrong)", bad);

    /* Halfway between two consecutive halves (exact in float) must go to the even one, and
     * the next float either side to the nearer one; above 65504 the next "half" is 2^16 = inf. */
    bad = 0;
    for (uint32_t h = 0; h < 0x7c00; h++) {
        const double lo = half_definition((uint16_t)h);
        const double hi = h + 1 < 0x7c00 ? half_definition((uint16_t)(h + 1)) : 65536.0;
        const float mid = (float)((lo + hi) / 2);
        for (int neg = 0; neg < 2; neg++) {
            const float m = neg ? -mid : mid;
            const uint16_t sign = neg ? 0x8000 : 0;
            const uint16_t even = (h & 1) ? (uint16_t)(h + 1) : (uint16_t)h;
            bad += fp32_to_fp16(m) != (sign | even);
            bad += fp32_to_fp16(nextafterf(m, 0.0f)) != (sign | h);
            bad += fp32_to_fp16(nextafterf(m, neg ? -INFINITY : INFINITY)) != (sign | (h + 1));
        }
    }
    CHECK(bad == 0, "fp32_to_fp16: ties to even and nearest at all 31744 midpoints, +/- (%d wrong)", bad);

    const struct {
        float f;
        uint16_t h;
    } special[] = {
        { INFINITY, 0x7c00 }, { -INFINITY, 0xfc00 }, { FLT_MAX, 0x7c00 },  { 1e-40f, 0x0000 },
        { -1e-40f, 0x8000 },  { 0x1p-25f, 0x0000 },  { 0x1p-24f, 0x0001 }, { 65519.99f, 0x7bff },
        { 65520.0f, 0x7c00 }, { 1.0f, 0x3c00 },      { -0.0f, 0x8000 },    { 0.1f, 0x2e66 },
    };
    bad = 0;
    for (size_t i = 0; i < sizeof special / sizeof special[0]; i++) bad += fp32_to_fp16(special[i].f) != special[i].h;
    bad += !is_half_nan(fp32_to_fp16(NAN));
    CHECK(bad == 0, "fp32_to_fp16: inf, overflow, underflow, -0, 0.1, NaN");

    bad = 0;
    for (uint32_t h = 0; h < 65536; h++) bad += tl_bits(bf16_to_fp32((uint16_t)h)) != h << 16;
    bad += bf16_to_fp32(0x3f80) != 1.0f || bf16_to_fp32(0xc040) != -3.0f || bf16_to_fp32(0x4049) != 3.140625f;
    CHECK(bad == 0, "bf16_to_fp32: all 65536 patterns are the top half of the float");
}

/* ---------------------------------------------------------------- quantize / dequantize */

static void test_quantize_q8_0(void) {
    enum { K = 32 * 64 };
    float *x = tl_xmalloc(K * sizeof *x);
    block_q8_0 *y = tl_xmalloc(K / 32 * sizeof *y);
    int bad = 0;
    for (int trial = 0; trial < 50; trial++) {
        const float range = (float)pow(10.0, tl_irand(-4, 4));
        tl_fill(x, K, -range, range);
        if (trial == 0) memset(x, 0, 32 * sizeof *x); /* all-zero block: d = 0, no division by zero */
        if (trial == 1)
            for (int i = 0; i < 32; i++) x[i] = i == 5 ? -3.0f : 0.0f;
        quantize_row_q8_0(x, y, K);
        for (int b = 0; b < K / 32; b++) {
            const float *xb = x + 32 * b;
            float amax = 0.0f;
            for (int j = 0; j < 32; j++)
                if (fabsf(xb[j]) > amax) amax = fabsf(xb[j]);
            const float d = amax / 127;
            const float id = d ? 1.0f / d : 0.0f;
            bad += y[b].d != fp32_to_fp16(d);
            for (int j = 0; j < 32; j++) bad += y[b].qs[j] != (int8_t)roundf(xb[j] * id);
        }
    }
    CHECK(bad == 0, "quantize_row_q8_0: d and q bit-exact vs ggml formula, 50 rows x 64 blocks");

    /* amax 127 makes d = 1, so x itself is rounded: roundf rounds halves away from zero */
    static const float hand[32] = { 127, 2.5f, -2.5f, 0.5f, -0.5f, 1.49f, -126.6f, 0 };
    static const int8_t hand_q[32] = { 127, 3, -3, 1, -1, 1, -127, 0 };
    quantize_row_q8_0(hand, y, 32);
    CHECK(y[0].d == 0x3c00 && memcmp(y[0].qs, hand_q, 32) == 0,
          "quantize_row_q8_0: hand-built block (d = 1, halves away from zero)");
    free(x);
    free(y);
}

/* ggml's nearest_int: adding 1.5 * 2^23 leaves round-half-even(x) in the low mantissa bits */
static int nearest_int(float x) {
    const float v = x + 12582912.0f;
    return (int)(tl_bits(v) & 0x007fffff) - 0x00400000;
}

static void test_quantize_q8_1(void) {
    enum { K = 32 * 64 };
    float *x = tl_xmalloc(K * sizeof *x);
    block_q8_0 *y0 = tl_xmalloc(K / 32 * sizeof *y0);
    block_q8_1 *y1 = tl_xmalloc(K / 32 * sizeof *y1);
    int bad = 0;
    for (int trial = 0; trial < 50; trial++) {
        tl_fill(x, K, -3.0f, 3.0f);
        if (trial == 0) memset(x, 0, 32 * sizeof *x);
        quantize_row_q8_0(x, y0, K);
        quantize_row_q8_1(x, y1, K);
        for (int b = 0; b < K / 32; b++) {
            float amax = 0.0f;
            int sum = 0;
            for (int j = 0; j < 32; j++) {
                amax = fmaxf(amax, fabsf(x[32 * b + j]));
                sum += y1[b].qs[j];
            }
            bad += y1[b].d != y0[b].d || memcmp(y1[b].qs, y0[b].qs, 32) != 0;
            bad += y1[b].s != fp32_to_fp16((float)sum * (amax / 127));
        }
    }
    CHECK(bad == 0, "quantize_row_q8_1: Q8_0's d and q, s = fp16(sum(q) * unrounded d), 50 rows x 64 blocks");
    free(x), free(y0), free(y1);
}

static void test_quantize_q8_K(void) {
    enum { K = 256 * 16 };
    float *x = tl_xmalloc(K * sizeof *x);
    block_q8_K *y = tl_xmalloc(K / 256 * sizeof *y);
    int bad = 0;
    for (int trial = 0; trial < 50; trial++) {
        const float range = (float)pow(10.0, tl_irand(-4, 4));
        tl_fill(x, K, -range, range);
        if (trial == 0) memset(x, 0, 256 * sizeof *x);
        quantize_row_q8_K(x, y, K);
        for (int b = 0; b < K / 256; b++) {
            const float *xb = x + 256 * b;
            float amax = 0.0f, max = 0.0f;
            for (int j = 0; j < 256; j++)
                if (fabsf(xb[j]) > amax) {
                    amax = fabsf(xb[j]);
                    max = xb[j];
                }
            const float iscale = amax ? -127.0f / max : 0.0f;
            bad += tl_bits(y[b].d) != tl_bits(amax ? 1 / iscale : 0.0f);
            for (int j = 0; j < 256; j++) {
                const int q = nearest_int(iscale * xb[j]);
                bad += y[b].qs[j] != (q < 127 ? q : 127);
            }
            for (int j = 0; j < 16; j++) {
                int sum = 0;
                for (int l = 0; l < 16; l++) sum += y[b].qs[16 * j + l];
                bad += y[b].bsums[j] != sum;
            }
        }
    }
    CHECK(bad == 0, "quantize_row_q8_K: d, q and bsums bit-exact vs ggml formula, 50 rows x 16 blocks");

    /* the first of -127 and 127 is the max: iscale = 1, so x itself is rounded, halves to even */
    float hand[256] = { -127, 2.5f, -2.5f, 0.5f, -0.5f, 1.5f, 127, 3.49f };
    static const int8_t hand_q[8] = { -127, 2, -2, 0, 0, 2, 127, 3 };
    quantize_row_q8_K(hand, y, 256);
    CHECK(y[0].d == 1.0f && memcmp(y[0].qs, hand_q, 8) == 0 && y[0].bsums[0] == 5,
          "quantize_row_q8_K: hand-built block (d = 1, halves to even, bsums)");
    free(x);
    free(y);
}

/* ggml's K-quant dequantizers restated in their own loop order (scale j < 4 from bytes j and
 * j+4, else from the nibbles of byte j+4 and the top bits of bytes j-4 and j; values of the
 * first 64 in the low nibbles of 32 bytes, then the high ones), on random blocks. */
static void k4_scale_min(int j, const uint8_t *q, int *d, int *m) {
    if (j < 4) {
        *d = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *d = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

static void restated_k4(const uint8_t *scales, ggml_half dh, ggml_half mh, const uint8_t *qs, const uint8_t *qh,
                        float *y) {
    const float d = fp16_to_fp32(dh), dmin = fp16_to_fp32(mh);
    int u1 = 1, u2 = 2, is = 0, sc, m;
    for (int j = 0; j < 256; j += 64, qs += 32, is += 2, u1 <<= 2, u2 <<= 2) {
        k4_scale_min(is, scales, &sc, &m);
        const float d1 = d * sc, m1 = dmin * m;
        k4_scale_min(is + 1, scales, &sc, &m);
        const float d2 = d * sc, m2 = dmin * m;
        for (int l = 0; l < 32; l++) *y++ = d1 * ((qs[l] & 0xF) + (qh && (qh[l] & u1) ? 16 : 0)) - m1;
        for (int l = 0; l < 32; l++) *y++ = d2 * ((qs[l] >> 4) + (qh && (qh[l] & u2) ? 16 : 0)) - m2;
    }
}

static void restated_q6_K(const block_q6_K *b, float *y) {
    const float d = fp16_to_fp32(b->d);
    const uint8_t *ql = b->ql, *qh = b->qh;
    const int8_t *sc = b->scales;
    for (int n = 0; n < 256; n += 128, y += 128, ql += 64, qh += 32, sc += 8)
        for (int l = 0; l < 32; l++) {
            const int is = l / 16;
            y[l] = d * sc[is] * (((ql[l] & 0xF) | ((qh[l] & 3) << 4)) - 32);
            y[l + 32] = d * sc[is + 2] * (((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32);
            y[l + 64] = d * sc[is + 4] * (((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
            y[l + 96] = d * sc[is + 6] * (((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
        }
}

/* ggml's Q4_1/Q5_0/Q5_1 dequantizers restated: qh as a little-endian uint32, bit j for value j
 * and bit j+16 for value j+16. */
static void restated_q4_q5(const uint8_t *qs, const uint8_t *qh, float d, float m, int offset, float *y) {
    uint32_t h = 0;
    if (qh) h = (uint32_t)qh[0] | (uint32_t)qh[1] << 8 | (uint32_t)qh[2] << 16 | (uint32_t)qh[3] << 24;
    for (int j = 0; j < 16; j++) {
        const int x0 = ((qs[j] & 0x0F) | (((h >> j) << 4) & 0x10)) - offset;
        const int x1 = ((qs[j] >> 4) | ((h >> (j + 12)) & 0x10)) - offset;
        y[j] = x0 * d + m;
        y[j + 16] = x1 * d + m;
    }
}

static void test_dequantize_legacy(void) {
    float y[32], want[32];
    int bad41 = 0, bad50 = 0, bad51 = 0;
    for (int trial = 0; trial < 200; trial++) {
        block_q4_1 a;
        block_q5_0 b;
        block_q5_1 c;
        tl_rand_bytes(&a, sizeof a);
        tl_rand_bytes(&b, sizeof b);
        tl_rand_bytes(&c, sizeof c);
        a.d = fp32_to_fp16(tl_frand(-1, 1)), a.m = fp32_to_fp16(tl_frand(-1, 1));
        b.d = fp32_to_fp16(tl_frand(-1, 1));
        c.d = fp32_to_fp16(tl_frand(-1, 1)), c.m = fp32_to_fp16(tl_frand(-1, 1));
        dequantize_row(GGML_TYPE_Q4_1, &a, y, 32);
        restated_q4_q5(a.qs, NULL, fp16_to_fp32(a.d), fp16_to_fp32(a.m), 0, want);
        bad41 += memcmp(y, want, sizeof y) != 0;
        dequantize_row(GGML_TYPE_Q5_0, &b, y, 32);
        restated_q4_q5(b.qs, b.qh, fp16_to_fp32(b.d), 0.0f, 16, want);
        for (int i = 0; i < 32; i++) bad50 += y[i] != want[i]; /* +0 and -0 alike: ggml adds no m */
        dequantize_row(GGML_TYPE_Q5_1, &c, y, 32);
        restated_q4_q5(c.qs, c.qh, fp16_to_fp32(c.d), fp16_to_fp32(c.m), 0, want);
        bad51 += memcmp(y, want, sizeof y) != 0;
    }
    CHECK(bad41 == 0, "dequantize_row Q4_1: bit-identical to ggml's loop on 200 random blocks");
    CHECK(bad50 == 0, "dequantize_row Q5_0: equal to ggml's loop on 200 random blocks");
    CHECK(bad51 == 0, "dequantize_row Q5_1: bit-identical to ggml's loop on 200 random blocks");
}

static void test_dequantize_k(void) {
    float y[256], want[256];
    int bad4 = 0, bad5 = 0, bad6 = 0;
    for (int trial = 0; trial < 200; trial++) {
        block_q4_K b4;
        block_q5_K b5;
        block_q6_K b6;
        tl_rand_bytes(&b4, sizeof b4);
        tl_rand_bytes(&b5, sizeof b5);
        tl_rand_bytes(&b6, sizeof b6);
        b4.d = fp32_to_fp16(tl_frand(-1, 1)), b4.dmin = fp32_to_fp16(tl_frand(-1, 1));
        b5.d = fp32_to_fp16(tl_frand(-1, 1)), b5.dmin = fp32_to_fp16(tl_frand(-1, 1));
        b6.d = fp32_to_fp16(tl_frand(-1, 1));
        dequantize_row(GGML_TYPE_Q4_K, &b4, y, 256);
        restated_k4(b4.scales, b4.d, b4.dmin, b4.qs, NULL, want);
        bad4 += !tl_same_floats(y, want, 256);
        dequantize_row(GGML_TYPE_Q5_K, &b5, y, 256);
        restated_k4(b5.scales, b5.d, b5.dmin, b5.qs, b5.qh, want);
        bad5 += !tl_same_floats(y, want, 256);
        dequantize_row(GGML_TYPE_Q6_K, &b6, y, 256);
        restated_q6_K(&b6, want);
        bad6 += !tl_same_floats(y, want, 256);
    }
    CHECK(bad4 == 0, "dequantize_row Q4_K: bit-identical to ggml's loops on 200 random blocks");
    CHECK(bad5 == 0, "dequantize_row Q5_K: bit-identical to ggml's loops on 200 random blocks");
    CHECK(bad6 == 0, "dequantize_row Q6_K: bit-identical to ggml's loops on 200 random blocks");

    /* one hand-made Q4_K block: scale j = j + 1, min j = 2j (6-bit values above 15 included),
     * d = 1, dmin = 0.5, every nibble 3: value = 3 * (j + 1) - j in sub-block j */
    block_q4_K h;
    memset(&h, 0, sizeof h);
    h.d = 0x3c00;
    h.dmin = 0x3800;
    for (int j = 0; j < 8; j++) {
        const int sc = j + 1, mn = 2 * j;
        if (j < 4) {
            h.scales[j] |= (uint8_t)sc;
            h.scales[j + 4] |= (uint8_t)mn;
        } else {
            h.scales[j + 4] = (uint8_t)((sc & 15) | (mn & 15) << 4);
            h.scales[j - 4] |= (uint8_t)((sc >> 4) << 6);
            h.scales[j] |= (uint8_t)((mn >> 4) << 6);
        }
    }
    memset(h.qs, 0x33, sizeof h.qs);
    dequantize_row(GGML_TYPE_Q4_K, &h, y, 256);
    int bad = 0;
    for (int e = 0; e < 256; e++) bad += y[e] != 3.0f * (e / 32 + 1) - (e / 32);
    CHECK(bad == 0, "dequantize_row Q4_K: hand-built block, scales 1..8, mins 0..14");
}

static void test_dequantize(void) {
    float y[64];

    const float f32[5] = { 1.5f, -0.0f, 3e38f, 1e-42f, -7.25f };
    y[0] = 42.0f;
    CHECK(dequantize_row(GGML_TYPE_Q2_K, f32, y, 256) == -1 && y[0] == 42.0f,
          "dequantize_row of a type it does not know: -1, nothing written");
    CHECK(dequantize_row(GGML_TYPE_F32, f32, y, 5) == 0, "dequantize_row F32: status 0");
    CHECK(tl_same_floats(y, f32, 5), "dequantize_row F32: copied bit for bit");

    const ggml_half f16[7] = { 0x3c00, 0xc000, 0x3800, 0x0001, 0x7bff, 0x8000, 0x3555 };
    const float f16_want[7] = { 1.0f, -2.0f, 0.5f, 0x1p-24f, 65504.0f, -0.0f, 0.333251953125f };
    dequantize_row(GGML_TYPE_F16, f16, y, 7);
    CHECK(tl_same_floats(y, f16_want, 7), "dequantize_row F16: 1, -2, 0.5, 2^-24, 65504, -0, 0x3555");

    const uint16_t bf16[4] = { 0x3f80, 0xc040, 0x4049, 0x0001 };
    const float bf16_want[4] = { 1.0f, -3.0f, 3.140625f, 0x1p-133f };
    dequantize_row(GGML_TYPE_BF16, bf16, y, 4);
    CHECK(tl_same_floats(y, bf16_want, 4), "dequantize_row BF16: 1, -3, 3.140625, 2^-133");

    block_q8_0 q8[2];
    float want[64];
    q8[0].d = 0x3800; /* 0.5 */
    q8[1].d = 0xbc00; /* -1 */
    for (int j = 0; j < 32; j++) {
        q8[0].qs[j] = (int8_t)(j - 16);
        q8[1].qs[j] = (int8_t)(j % 2 ? 127 : -128);
        want[j] = 0.5f * (j - 16);
        want[32 + j] = j % 2 ? -127.0f : 128.0f;
    }
    dequantize_row(GGML_TYPE_Q8_0, q8, y, 64);
    CHECK(tl_same_floats(y, want, 64), "dequantize_row Q8_0: two blocks, d = 0.5 and -1, q -128..127");

    block_q4_0 q4[2];
    q4[0].d = 0x4000; /* 2 */
    q4[1].d = 0x3400; /* 0.25 */
    for (int j = 0; j < 16; j++) {
        q4[0].qs[j] = (uint8_t)(j | (15 - j) << 4);
        q4[1].qs[j] = 0x8f;
        want[j] = 2.0f * (j - 8);
        want[16 + j] = 2.0f * (7 - j);
        want[32 + j] = 0.25f * 7;
        want[48 + j] = 0.0f;
    }
    dequantize_row(GGML_TYPE_Q4_0, q4, y, 64);
    CHECK(tl_same_floats(y, want, 64), "dequantize_row Q4_0: low nibble = element j, high = j+16, minus 8, times d");
    test_dequantize_k();
    test_dequantize_legacy();
}

int main(void) {
    test_fp16();
    test_quantize_q8_0();
    test_quantize_q8_1();
    test_quantize_q8_K();
    test_dequantize();
    return tl_summary();
}
