/* test_kernels.c — quant.c and the kernels of kernels.h.
 *
 * Always: scalar kernels against float64 references built here from dequantized values,
 * fp16/bf16 conversions against their definitions on all 65536 patterns, quantize_row_q8_0 and
 * quantize_row_q8_K against ggml's formulas, dequantize_row on hand-built blocks (K-quants
 * against a restatement of ggml's loops).
 * With -msimd128: every *_simd twin against its *_scalar twin on seeded random data.
 *
 * Float results are compared with a tolerance relative to the magnitude of the terms that
 * were summed (e.g. sum|a_i*b_i| for a dot product), not to the result, which can cancel to
 * nearly zero. Each line reports the worst observed error in those units. */
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kernels.h"

static int n_passed, n_failed;

static void check(int ok, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("%s ", ok ? "PASS" : "FAIL");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    if (ok)
        n_passed++;
    else
        n_failed++;
}

/* One named property checked over many trials: err <= tol * scale on every trial. */
typedef struct {
    const char *name;
    double tol;
    long trials, bad;
    double worst; /* max err / scale */
} errstat;

static errstat errstat_new(const char *name, double tol)
{
    errstat s = { name, tol, 0, 0, 0.0 };
    return s;
}

static void errstat_add(errstat *s, double err, double scale)
{
    const double r = scale > 0 ? err / scale : (err == 0 ? 0 : INFINITY);
    s->trials++;
    if (!(err <= s->tol * scale)) /* also catches NaN */
        s->bad++;
    if (isnan(r) || r > s->worst)
        s->worst = isnan(r) ? INFINITY : r;
}

static void errstat_report(const errstat *s)
{
    check(s->bad == 0, "%s: %ld trials, %ld over tolerance, worst %.2e (tol %.0e)", s->name,
          s->trials, s->bad, s->worst, s->tol);
}

/* xorshift64, fixed seed: failures reproduce */
static uint64_t rng = 0x2545F4914F6CDD1Dull;

static uint64_t next_u64(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static float frand(float lo, float hi)
{
    return lo + (hi - lo) * (float)(next_u64() >> 40) * 0x1p-24f;
}

static int irand(int lo, int hi) /* inclusive */
{
    return lo + (int)(next_u64() % (uint64_t)(hi - lo + 1));
}

static void fill(float *a, int n, float lo, float hi)
{
    for (int i = 0; i < n; i++)
        a[i] = frand(lo, hi);
}

/* Mostly realistic weights, sometimes any finite pattern (subnormals, 65504, -0). */
static ggml_half rand_half(void)
{
    if (irand(0, 9) == 0) {
        ggml_half h;
        do
            h = (ggml_half)next_u64();
        while (((h >> 10) & 31) == 31);
        return h;
    }
    return fp32_to_fp16(frand(-2.0f, 2.0f));
}

static uint16_t rand_bf16(void)
{
    const float f = frand(-4.0f, 4.0f);
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return (uint16_t)(u >> 16);
}

static float f32_from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static uint32_t bits_from_f32(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return p;
}

/* ---------------------------------------------------------------- conversions */

/* IEEE binary16 by definition; NaN keeps its 10 payload bits at the top of float's 23. */
static float half_definition(uint16_t h)
{
    const int e = (h >> 10) & 31, m = h & 1023;
    double v;
    if (e == 31)
        return f32_from_bits((uint32_t)(h & 0x8000) << 16 | 0x7f800000 | (uint32_t)m << 13);
    if (e == 0)
        v = ldexp(m, -24);
    else
        v = ldexp(1024 + m, e - 25);
    return (float)((h & 0x8000) ? -v : v);
}

static int is_half_nan(uint16_t h)
{
    return ((h >> 10) & 31) == 31 && (h & 1023);
}

static void test_fp16(void)
{
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++)
        bad += bits_from_f32(fp16_to_fp32((ggml_half)h)) != bits_from_f32(half_definition(h));
    check(bad == 0, "fp16_to_fp32: all 65536 patterns bit-exact vs definition (%d wrong)", bad);

    bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        const ggml_half back = fp32_to_fp16(fp16_to_fp32((ggml_half)h));
        if (is_half_nan((uint16_t)h))
            bad += !is_half_nan(back) || (back & 0x8000) != (h & 0x8000);
        else
            bad += back != h;
    }
    check(bad == 0, "fp32_to_fp16: round trip of all 65536 patterns (NaN stays NaN) (%d wrong)",
          bad);

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
    check(bad == 0, "fp32_to_fp16: ties to even and nearest at all 31744 midpoints, +/- (%d wrong)",
          bad);

    const struct { float f; uint16_t h; } special[] = {
        { INFINITY, 0x7c00 }, { -INFINITY, 0xfc00 }, { FLT_MAX, 0x7c00 }, { 1e-40f, 0x0000 },
        { -1e-40f, 0x8000 },  { 0x1p-25f, 0x0000 },  { 0x1p-24f, 0x0001 }, { 65519.99f, 0x7bff },
        { 65520.0f, 0x7c00 }, { 1.0f, 0x3c00 },      { -0.0f, 0x8000 },    { 0.1f, 0x2e66 },
    };
    bad = 0;
    for (size_t i = 0; i < sizeof special / sizeof special[0]; i++)
        bad += fp32_to_fp16(special[i].f) != special[i].h;
    bad += !is_half_nan(fp32_to_fp16(NAN));
    check(bad == 0, "fp32_to_fp16: inf, overflow, underflow, -0, 0.1, NaN");

    bad = 0;
    for (uint32_t h = 0; h < 65536; h++)
        bad += bits_from_f32(bf16_to_fp32((uint16_t)h)) != h << 16;
    bad += bf16_to_fp32(0x3f80) != 1.0f || bf16_to_fp32(0xc040) != -3.0f ||
           bf16_to_fp32(0x4049) != 3.140625f;
    check(bad == 0, "bf16_to_fp32: all 65536 patterns are the top half of the float");
}

/* ---------------------------------------------------------------- quantize / dequantize */

static void test_quantize_q8_0(void)
{
    enum { K = 32 * 64 };
    float *x = xmalloc(K * sizeof *x);
    block_q8_0 *y = xmalloc(K / 32 * sizeof *y);
    int bad = 0;
    for (int trial = 0; trial < 50; trial++) {
        const float range = (float)pow(10.0, irand(-4, 4));
        fill(x, K, -range, range);
        if (trial == 0)
            memset(x, 0, 32 * sizeof *x); /* all-zero block: d = 0, no division by zero */
        if (trial == 1)
            for (int i = 0; i < 32; i++)
                x[i] = i == 5 ? -3.0f : 0.0f;
        quantize_row_q8_0(x, y, K);
        for (int b = 0; b < K / 32; b++) {
            const float *xb = x + 32 * b;
            float amax = 0.0f;
            for (int j = 0; j < 32; j++)
                if (fabsf(xb[j]) > amax)
                    amax = fabsf(xb[j]);
            const float d = amax / 127;
            const float id = d ? 1.0f / d : 0.0f;
            bad += y[b].d != fp32_to_fp16(d);
            for (int j = 0; j < 32; j++)
                bad += y[b].qs[j] != (int8_t)roundf(xb[j] * id);
        }
    }
    check(bad == 0, "quantize_row_q8_0: d and q bit-exact vs ggml formula, 50 rows x 64 blocks");

    /* amax 127 makes d = 1, so x itself is rounded: roundf rounds halves away from zero */
    static const float hand[32] = { 127, 2.5f, -2.5f, 0.5f, -0.5f, 1.49f, -126.6f, 0 };
    static const int8_t hand_q[32] = { 127, 3, -3, 1, -1, 1, -127, 0 };
    quantize_row_q8_0(hand, y, 32);
    check(y[0].d == 0x3c00 && memcmp(y[0].qs, hand_q, 32) == 0,
          "quantize_row_q8_0: hand-built block (d = 1, halves away from zero)");
    free(x);
    free(y);
}

/* ggml's nearest_int: adding 1.5 * 2^23 leaves round-half-even(x) in the low mantissa bits */
static int nearest_int(float x)
{
    const float v = x + 12582912.0f;
    return (int)(bits_from_f32(v) & 0x007fffff) - 0x00400000;
}

static void test_quantize_q8_1(void)
{
    enum { K = 32 * 64 };
    float *x = xmalloc(K * sizeof *x);
    block_q8_0 *y0 = xmalloc(K / 32 * sizeof *y0);
    block_q8_1 *y1 = xmalloc(K / 32 * sizeof *y1);
    int bad = 0;
    for (int trial = 0; trial < 50; trial++) {
        fill(x, K, -3.0f, 3.0f);
        if (trial == 0)
            memset(x, 0, 32 * sizeof *x);
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
    check(bad == 0, "quantize_row_q8_1: Q8_0's d and q, s = fp16(sum(q) * unrounded d), 50 rows x 64 blocks");
    free(x), free(y0), free(y1);
}

static void test_quantize_q8_K(void)
{
    enum { K = 256 * 16 };
    float *x = xmalloc(K * sizeof *x);
    block_q8_K *y = xmalloc(K / 256 * sizeof *y);
    int bad = 0;
    for (int trial = 0; trial < 50; trial++) {
        const float range = (float)pow(10.0, irand(-4, 4));
        fill(x, K, -range, range);
        if (trial == 0)
            memset(x, 0, 256 * sizeof *x);
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
            bad += bits_from_f32(y[b].d) != bits_from_f32(amax ? 1 / iscale : 0.0f);
            for (int j = 0; j < 256; j++) {
                const int q = nearest_int(iscale * xb[j]);
                bad += y[b].qs[j] != (q < 127 ? q : 127);
            }
            for (int j = 0; j < 16; j++) {
                int sum = 0;
                for (int l = 0; l < 16; l++)
                    sum += y[b].qs[16 * j + l];
                bad += y[b].bsums[j] != sum;
            }
        }
    }
    check(bad == 0, "quantize_row_q8_K: d, q and bsums bit-exact vs ggml formula, 50 rows x 16 blocks");

    /* the first of -127 and 127 is the max: iscale = 1, so x itself is rounded, halves to even */
    float hand[256] = { -127, 2.5f, -2.5f, 0.5f, -0.5f, 1.5f, 127, 3.49f };
    static const int8_t hand_q[8] = { -127, 2, -2, 0, 0, 2, 127, 3 };
    quantize_row_q8_K(hand, y, 256);
    check(y[0].d == 1.0f && memcmp(y[0].qs, hand_q, 8) == 0 && y[0].bsums[0] == 5,
          "quantize_row_q8_K: hand-built block (d = 1, halves to even, bsums)");
    free(x);
    free(y);
}

static int same_floats(const float *a, const float *b, int n)
{
    for (int i = 0; i < n; i++)
        if (bits_from_f32(a[i]) != bits_from_f32(b[i]))
            return 0;
    return 1;
}

/* ggml's K-quant dequantizers restated in their own loop order (scale j < 4 from bytes j and
 * j+4, else from the nibbles of byte j+4 and the top bits of bytes j-4 and j; values of the
 * first 64 in the low nibbles of 32 bytes, then the high ones), on random blocks. */
static void k4_scale_min(int j, const uint8_t *q, int *d, int *m)
{
    if (j < 4) {
        *d = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *d = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

static void restated_k4(const uint8_t *scales, ggml_half dh, ggml_half mh, const uint8_t *qs,
                        const uint8_t *qh, float *y)
{
    const float d = fp16_to_fp32(dh), dmin = fp16_to_fp32(mh);
    int u1 = 1, u2 = 2, is = 0, sc, m;
    for (int j = 0; j < 256; j += 64, qs += 32, is += 2, u1 <<= 2, u2 <<= 2) {
        k4_scale_min(is, scales, &sc, &m);
        const float d1 = d * sc, m1 = dmin * m;
        k4_scale_min(is + 1, scales, &sc, &m);
        const float d2 = d * sc, m2 = dmin * m;
        for (int l = 0; l < 32; l++)
            *y++ = d1 * ((qs[l] & 0xF) + (qh && (qh[l] & u1) ? 16 : 0)) - m1;
        for (int l = 0; l < 32; l++)
            *y++ = d2 * ((qs[l] >> 4) + (qh && (qh[l] & u2) ? 16 : 0)) - m2;
    }
}

static void restated_q6_K(const block_q6_K *b, float *y)
{
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

static void rand_bytes(void *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ((uint8_t *)p)[i] = (uint8_t)(next_u64() >> 56);
}

/* ggml's Q4_1/Q5_0/Q5_1 dequantizers restated: qh as a little-endian uint32, bit j for value j
 * and bit j+16 for value j+16. */
static void restated_q4_q5(const uint8_t *qs, const uint8_t *qh, float d, float m, int offset,
                           float *y)
{
    uint32_t h = 0;
    if (qh)
        h = (uint32_t)qh[0] | (uint32_t)qh[1] << 8 | (uint32_t)qh[2] << 16 | (uint32_t)qh[3] << 24;
    for (int j = 0; j < 16; j++) {
        const int x0 = ((qs[j] & 0x0F) | (((h >> j) << 4) & 0x10)) - offset;
        const int x1 = ((qs[j] >> 4) | ((h >> (j + 12)) & 0x10)) - offset;
        y[j] = x0 * d + m;
        y[j + 16] = x1 * d + m;
    }
}

static void test_dequantize_legacy(void)
{
    float y[32], want[32];
    int bad41 = 0, bad50 = 0, bad51 = 0;
    for (int trial = 0; trial < 200; trial++) {
        block_q4_1 a;
        block_q5_0 b;
        block_q5_1 c;
        rand_bytes(&a, sizeof a);
        rand_bytes(&b, sizeof b);
        rand_bytes(&c, sizeof c);
        a.d = fp32_to_fp16(frand(-1, 1)), a.m = fp32_to_fp16(frand(-1, 1));
        b.d = fp32_to_fp16(frand(-1, 1));
        c.d = fp32_to_fp16(frand(-1, 1)), c.m = fp32_to_fp16(frand(-1, 1));
        dequantize_row(GGML_TYPE_Q4_1, &a, y, 32);
        restated_q4_q5(a.qs, NULL, fp16_to_fp32(a.d), fp16_to_fp32(a.m), 0, want);
        bad41 += memcmp(y, want, sizeof y) != 0;
        dequantize_row(GGML_TYPE_Q5_0, &b, y, 32);
        restated_q4_q5(b.qs, b.qh, fp16_to_fp32(b.d), 0.0f, 16, want);
        for (int i = 0; i < 32; i++)
            bad50 += y[i] != want[i]; /* +0 and -0 alike: ggml adds no m */
        dequantize_row(GGML_TYPE_Q5_1, &c, y, 32);
        restated_q4_q5(c.qs, c.qh, fp16_to_fp32(c.d), fp16_to_fp32(c.m), 0, want);
        bad51 += memcmp(y, want, sizeof y) != 0;
    }
    check(bad41 == 0, "dequantize_row Q4_1: bit-identical to ggml's loop on 200 random blocks");
    check(bad50 == 0, "dequantize_row Q5_0: equal to ggml's loop on 200 random blocks");
    check(bad51 == 0, "dequantize_row Q5_1: bit-identical to ggml's loop on 200 random blocks");
}

static void test_dequantize_k(void)
{
    float y[256], want[256];
    int bad4 = 0, bad5 = 0, bad6 = 0;
    for (int trial = 0; trial < 200; trial++) {
        block_q4_K b4;
        block_q5_K b5;
        block_q6_K b6;
        rand_bytes(&b4, sizeof b4);
        rand_bytes(&b5, sizeof b5);
        rand_bytes(&b6, sizeof b6);
        b4.d = fp32_to_fp16(frand(-1, 1)), b4.dmin = fp32_to_fp16(frand(-1, 1));
        b5.d = fp32_to_fp16(frand(-1, 1)), b5.dmin = fp32_to_fp16(frand(-1, 1));
        b6.d = fp32_to_fp16(frand(-1, 1));
        dequantize_row(GGML_TYPE_Q4_K, &b4, y, 256);
        restated_k4(b4.scales, b4.d, b4.dmin, b4.qs, NULL, want);
        bad4 += !same_floats(y, want, 256);
        dequantize_row(GGML_TYPE_Q5_K, &b5, y, 256);
        restated_k4(b5.scales, b5.d, b5.dmin, b5.qs, b5.qh, want);
        bad5 += !same_floats(y, want, 256);
        dequantize_row(GGML_TYPE_Q6_K, &b6, y, 256);
        restated_q6_K(&b6, want);
        bad6 += !same_floats(y, want, 256);
    }
    check(bad4 == 0, "dequantize_row Q4_K: bit-identical to ggml's loops on 200 random blocks");
    check(bad5 == 0, "dequantize_row Q5_K: bit-identical to ggml's loops on 200 random blocks");
    check(bad6 == 0, "dequantize_row Q6_K: bit-identical to ggml's loops on 200 random blocks");

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
    for (int e = 0; e < 256; e++)
        bad += y[e] != 3.0f * (e / 32 + 1) - (e / 32);
    check(bad == 0, "dequantize_row Q4_K: hand-built block, scales 1..8, mins 0..14");
}

static void test_dequantize(void)
{
    float y[64];

    const float f32[5] = { 1.5f, -0.0f, 3e38f, 1e-42f, -7.25f };
    y[0] = 42.0f;
    check(dequantize_row(GGML_TYPE_Q2_K, f32, y, 256) == -1 && y[0] == 42.0f,
          "dequantize_row of a type it does not know: -1, nothing written");
    check(dequantize_row(GGML_TYPE_F32, f32, y, 5) == 0, "dequantize_row F32: status 0");
    check(same_floats(y, f32, 5), "dequantize_row F32: copied bit for bit");

    const ggml_half f16[7] = { 0x3c00, 0xc000, 0x3800, 0x0001, 0x7bff, 0x8000, 0x3555 };
    const float f16_want[7] = { 1.0f, -2.0f, 0.5f, 0x1p-24f, 65504.0f, -0.0f, 0.333251953125f };
    dequantize_row(GGML_TYPE_F16, f16, y, 7);
    check(same_floats(y, f16_want, 7), "dequantize_row F16: 1, -2, 0.5, 2^-24, 65504, -0, 0x3555");

    const uint16_t bf16[4] = { 0x3f80, 0xc040, 0x4049, 0x0001 };
    const float bf16_want[4] = { 1.0f, -3.0f, 3.140625f, 0x1p-133f };
    dequantize_row(GGML_TYPE_BF16, bf16, y, 4);
    check(same_floats(y, bf16_want, 4), "dequantize_row BF16: 1, -3, 3.140625, 2^-133");

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
    check(same_floats(y, want, 64), "dequantize_row Q8_0: two blocks, d = 0.5 and -1, q -128..127");

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
    check(same_floats(y, want, 64),
          "dequantize_row Q4_0: low nibble = element j, high = j+16, minus 8, times d");
    test_dequantize_k();
    test_dequantize_legacy();
}

/* ---------------------------------------------------------------- scalar vs float64 */

static const int float_sizes[] = { 1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65,
                                   100, 255, 256, 257, 1000, 4096, 4097, 4111 };
#define N_FLOAT_SIZES ((int)(sizeof float_sizes / sizeof float_sizes[0]))
#define MAX_N 8192

/* Weight scale: usually a normal half, 1 in 8 a zero or subnormal one, so kernels that
 * convert scales on a fast path also take their exact path. */
static ggml_half rand_scale(void)
{
    switch (irand(0, 15)) {
    case 0:
        return (ggml_half)(irand(0, 1) << 15); /* +-0 */
    case 1:
        return (ggml_half)irand(1, 0x3ff) | (ggml_half)(irand(0, 1) << 15);
    default:
        return fp32_to_fp16(frand(-0.05f, 0.05f));
    }
}

/* Random Q8_0 weights use every byte value, -128 included. */
static void rand_q8_0(block_q8_0 *w, int nb)
{
    for (int b = 0; b < nb; b++) {
        w[b].d = rand_scale();
        for (int j = 0; j < 32; j++)
            w[b].qs[j] = (int8_t)(next_u64() >> 56);
    }
}

static void rand_q4_0(block_q4_0 *w, int nb)
{
    for (int b = 0; b < nb; b++) {
        w[b].d = rand_scale();
        for (int j = 0; j < 16; j++)
            w[b].qs[j] = (uint8_t)(next_u64() >> 56);
    }
}

/* Activations come from the real quantizer; 1 block in 16 is all zeros (scale 0). */
static void rand_activations(block_q8_0 *x, float *tmp, int n)
{
    fill(tmp, n, -3.0f, 3.0f);
    for (int b = 0; b < n / 32; b++)
        if (irand(0, 15) == 0)
            memset(tmp + 32 * b, 0, 32 * sizeof *tmp);
    quantize_row_q8_0(tmp, x, n);
}

/* Any bytes make a valid K-quant block; the float scales come from rand_scale. */
static void rand_k_blocks(void *w, size_t size, int nb)
{
    rand_bytes(w, size * nb);
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

static void rand_activations_k(block_q8_K *x, float *tmp, int n)
{
    fill(tmp, n, -3.0f, 3.0f);
    for (int b = 0; b < n / 256; b++)
        if (irand(0, 15) == 0)
            memset(tmp + 256 * b, 0, 256 * sizeof *tmp);
    quantize_row_q8_K(tmp, x, n);
}

/* The magnitude of what a Q4_K/Q5_K dot sums: its scale terms and its min terms apart (they can
 * cancel), found by dequantizing with dmin, then d, set to zero. */
static double k4_magnitude(uint32_t type, const void *w, const float *x, int n, float *tmp)
{
    const size_t size = type == GGML_TYPE_Q4_K ? sizeof(block_q4_K) : sizeof(block_q5_K);
    uint8_t *copy = xmalloc(size * (n / 256));
    double mag = 0;
    for (int field = 0; field < 2; field++) {
        memcpy(copy, w, size * (n / 256));
        for (int b = 0; b < n / 256; b++)
            memset(copy + size * b + (field ? 0 : 2), 0, 2);
        dequantize_row(type, copy, tmp, n);
        for (int i = 0; i < n; i++)
            mag += fabs((double)tmp[i] * x[i]);
    }
    free(copy);
    return mag;
}

/* exact sum in double of products of two float arrays, and sum of |products| */
static double dot_ref(const float *a, const float *b, int n, double *mag)
{
    double s = 0, m = 0;
    for (int i = 0; i < n; i++) {
        s += (double)a[i] * b[i];
        m += fabs((double)a[i] * b[i]);
    }
    *mag = m;
    return s;
}

/* Inputs of every dot kernel, MAX_N long, shared by the scalar and the SIMD checks. */
typedef struct {
    float *a, *b, *wf;
    ggml_half *h;
    uint16_t *bf;
    block_q8_0 *wq8, *xq8;
    block_q4_0 *wq4;
    block_q4_K *wq4k;
    block_q5_K *wq5k;
    block_q6_K *wq6k;
    block_q8_K *xq8k;
} dot_bufs;

static dot_bufs dot_bufs_new(void)
{
    dot_bufs d = {
        xmalloc(MAX_N * sizeof(float)), xmalloc(MAX_N * sizeof(float)), xmalloc(MAX_N * sizeof(float)),
        xmalloc(MAX_N * sizeof(ggml_half)), xmalloc(MAX_N * sizeof(uint16_t)),
        xmalloc(MAX_N / 32 * sizeof(block_q8_0)), xmalloc(MAX_N / 32 * sizeof(block_q8_0)),
        xmalloc(MAX_N / 32 * sizeof(block_q4_0)), xmalloc(MAX_N / 256 * sizeof(block_q4_K)),
        xmalloc(MAX_N / 256 * sizeof(block_q5_K)), xmalloc(MAX_N / 256 * sizeof(block_q6_K)),
        xmalloc(MAX_N / 256 * sizeof(block_q8_K)),
    };
    return d;
}

static void dot_bufs_free(dot_bufs *d)
{
    free(d->a), free(d->b), free(d->wf), free(d->h), free(d->bf), free(d->wq8), free(d->xq8), free(d->wq4);
    free(d->wq4k), free(d->wq5k), free(d->wq6k), free(d->xq8k);
}

static void test_scalar_dots(void)
{
    dot_bufs d = dot_bufs_new();
    float *a = d.a, *b = d.b, *wf = d.wf;
    ggml_half *h = d.h;
    uint16_t *bf = d.bf;
    block_q8_0 *wq8 = d.wq8, *xq8 = d.xq8;
    block_q4_0 *wq4 = d.wq4;
    errstat s_f32 = errstat_new("dot_f32_scalar vs float64", 1e-5);
    errstat s_f16 = errstat_new("dot_f16_f32_scalar vs float64 of dequantized", 1e-5);
    errstat s_bf16 = errstat_new("dot_bf16_f32_scalar vs float64 of dequantized", 1e-5);
    errstat s_q8 = errstat_new("dot_q8_0_q8_0_scalar vs float64 of dequantized", 1e-5);
    errstat s_q4 = errstat_new("dot_q4_0_q8_0_scalar vs float64 of dequantized", 1e-5);
    double mag, ref;

    for (int trial = 0; trial < 200; trial++) {
        const int n = trial < N_FLOAT_SIZES ? float_sizes[trial] : irand(1, MAX_N);
        fill(a, n, -1.0f, 1.0f);
        fill(b, n, -1.0f, 1.0f);
        ref = dot_ref(a, b, n, &mag);
        errstat_add(&s_f32, fabs(dot_f32_scalar(a, b, n) - ref), mag);

        for (int i = 0; i < n; i++) {
            h[i] = rand_half();
            bf[i] = rand_bf16();
        }
        dequantize_row(GGML_TYPE_F16, h, wf, n);
        ref = dot_ref(wf, b, n, &mag);
        errstat_add(&s_f16, fabs(dot_f16_f32_scalar(h, b, n) - ref), mag);
        dequantize_row(GGML_TYPE_BF16, bf, wf, n);
        ref = dot_ref(wf, b, n, &mag);
        errstat_add(&s_bf16, fabs(dot_bf16_f32_scalar(bf, b, n) - ref), mag);

        const int nq = 32 * (trial < 40 ? trial + 1 : irand(1, MAX_N / 32));
        rand_q8_0(wq8, nq / 32);
        rand_q4_0(wq4, nq / 32);
        rand_activations(xq8, a, nq);
        dequantize_row(GGML_TYPE_Q8_0, xq8, a, nq);
        dequantize_row(GGML_TYPE_Q8_0, wq8, wf, nq);
        ref = dot_ref(wf, a, nq, &mag);
        errstat_add(&s_q8, fabs(dot_q8_0_q8_0_scalar(wq8, xq8, nq) - ref), mag);
        dequantize_row(GGML_TYPE_Q4_0, wq4, wf, nq);
        ref = dot_ref(wf, a, nq, &mag);
        errstat_add(&s_q4, fabs(dot_q4_0_q8_0_scalar(wq4, xq8, nq) - ref), mag);
    }
    errstat_report(&s_f32);
    errstat_report(&s_f16);
    errstat_report(&s_bf16);
    errstat_report(&s_q8);
    errstat_report(&s_q4);
    dot_bufs_free(&d);
}

/* Random Q4_1/Q5_0/Q5_1 blocks: any bytes, scales from rand_scale. */
static void rand_legacy_blocks(void *w, size_t size, int nb, int has_m)
{
    rand_bytes(w, size * nb);
    for (int b = 0; b < nb; b++) {
        uint8_t *p = (uint8_t *)w + size * b;
        const ggml_half d = rand_scale(), m = rand_scale();
        memcpy(p, &d, sizeof d);
        if (has_m)
            memcpy(p + sizeof d, &m, sizeof m);
    }
}

/* The Q8_1 dot a Q4_1/Q5_1 kernel computes, in double: sum (d q)(dx qx) over the values plus
 * m * s per block, s standing for dx * sum(qx) as the format says; mag the sum of |terms|. */
static double q8_1_dot_ref(uint32_t type, const void *w, const block_q8_1 *x, int n, float *wf,
                           float *xf, double *mag)
{
    const size_t size = type == GGML_TYPE_Q4_1 ? sizeof(block_q4_1) : sizeof(block_q5_1);
    uint8_t *copy = xmalloc(size * (n / 32));
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
    ref += dot_ref(wf, xf, n, &mq);
    *mag = m + mq;
    free(copy);
    return ref;
}

static void test_legacy_dots(void)
{
    dot_bufs d = dot_bufs_new();
    float *a = d.a, *wf = d.wf;
    block_q4_1 *w41 = xmalloc(MAX_N / 32 * sizeof *w41);
    block_q5_0 *w50 = xmalloc(MAX_N / 32 * sizeof *w50);
    block_q5_1 *w51 = xmalloc(MAX_N / 32 * sizeof *w51);
    block_q8_1 *x81 = xmalloc(MAX_N / 32 * sizeof *x81);
    errstat s41 = errstat_new("dot_q4_1_q8_1_scalar vs float64 of dequantized", 1e-5);
    errstat s50 = errstat_new("dot_q5_0_q8_0_scalar vs float64 of dequantized", 1e-5);
    errstat s51 = errstat_new("dot_q5_1_q8_1_scalar vs float64 of dequantized", 1e-5);
#if NTK_SIMD
    errstat v41 = errstat_new("dot_q4_1_q8_1_simd vs scalar", 1e-5);
    errstat v50 = errstat_new("dot_q5_0_q8_0_simd vs scalar", 1e-5);
    errstat v51 = errstat_new("dot_q5_1_q8_1_simd vs scalar", 1e-5);
#endif
    double mag, ref;
    for (int trial = 0; trial < 500; trial++) {
        const int n = 32 * (trial < 40 ? trial + 1 : irand(1, MAX_N / 32));
        rand_legacy_blocks(w41, sizeof *w41, n / 32, 1);
        rand_legacy_blocks(w50, sizeof *w50, n / 32, 0);
        rand_legacy_blocks(w51, sizeof *w51, n / 32, 1);
        rand_activations(d.xq8, a, n);
        fill(a, n, -3.0f, 3.0f);
        quantize_row_q8_1(a, x81, n);

        const float r41 = dot_q4_1_q8_1_scalar(w41, x81, n);
        ref = q8_1_dot_ref(GGML_TYPE_Q4_1, w41, x81, n, wf, a, &mag);
        errstat_add(&s41, fabs(r41 - ref), mag);
        const float r51 = dot_q5_1_q8_1_scalar(w51, x81, n);
        ref = q8_1_dot_ref(GGML_TYPE_Q5_1, w51, x81, n, wf, a, &mag);
        errstat_add(&s51, fabs(r51 - ref), mag);
#if NTK_SIMD
        q8_1_dot_ref(GGML_TYPE_Q4_1, w41, x81, n, wf, a, &mag);
        errstat_add(&v41, fabs((double)dot_q4_1_q8_1_simd(w41, x81, n) - r41), mag);
        q8_1_dot_ref(GGML_TYPE_Q5_1, w51, x81, n, wf, a, &mag);
        errstat_add(&v51, fabs((double)dot_q5_1_q8_1_simd(w51, x81, n) - r51), mag);
#endif
        const float r50 = dot_q5_0_q8_0_scalar(w50, d.xq8, n);
        dequantize_row(GGML_TYPE_Q8_0, d.xq8, a, n);
        dequantize_row(GGML_TYPE_Q5_0, w50, wf, n);
        ref = dot_ref(wf, a, n, &mag);
        errstat_add(&s50, fabs(r50 - ref), mag);
#if NTK_SIMD
        errstat_add(&v50, fabs((double)dot_q5_0_q8_0_simd(w50, d.xq8, n) - r50), mag);
#endif
    }
    errstat_report(&s41);
    errstat_report(&s50);
    errstat_report(&s51);
#if NTK_SIMD
    errstat_report(&v41);
    errstat_report(&v50);
    errstat_report(&v51);
#endif
    free(w41), free(w50), free(w51), free(x81);
    dot_bufs_free(&d);
}

/* K-quant kernels: the scalar twins against float64 dots of dequantized weights and activations
 * (tolerance relative to the magnitude of the scale and min terms), and, with SIMD, the SIMD
 * twins against the scalar ones: same integer sums, same float expression, so bit for bit. */
static void test_k_dots(void)
{
    dot_bufs d = dot_bufs_new();
    float *a = d.a, *wf = d.wf;
    errstat s4 = errstat_new("dot_q4_K_q8_K_scalar vs float64 of dequantized", 1e-5);
    errstat s5 = errstat_new("dot_q5_K_q8_K_scalar vs float64 of dequantized", 1e-5);
    errstat s6 = errstat_new("dot_q6_K_q8_K_scalar vs float64 of dequantized", 1e-5);
    enum { TRIALS = 500 };
#if NTK_SIMD
    int differ4 = 0, differ5 = 0, differ6 = 0;
#endif
    double mag, ref;
    for (int trial = 0; trial < TRIALS; trial++) {
        const int n = 256 * (trial < 8 ? trial + 1 : irand(1, MAX_N / 256));
        rand_k_blocks(d.wq4k, sizeof(block_q4_K), n / 256);
        rand_k_blocks(d.wq5k, sizeof(block_q5_K), n / 256);
        rand_k_blocks(d.wq6k, sizeof(block_q6_K), n / 256);
        rand_activations_k(d.xq8k, a, n);
        dequantize_row(GGML_TYPE_Q8_K, d.xq8k, a, n);

        const float r4 = dot_q4_K_q8_K_scalar(d.wq4k, d.xq8k, n);
        dequantize_row(GGML_TYPE_Q4_K, d.wq4k, wf, n);
        ref = dot_ref(wf, a, n, &mag);
        errstat_add(&s4, fabs(r4 - ref), k4_magnitude(GGML_TYPE_Q4_K, d.wq4k, a, n, wf));

        const float r5 = dot_q5_K_q8_K_scalar(d.wq5k, d.xq8k, n);
        dequantize_row(GGML_TYPE_Q5_K, d.wq5k, wf, n);
        ref = dot_ref(wf, a, n, &mag);
        errstat_add(&s5, fabs(r5 - ref), k4_magnitude(GGML_TYPE_Q5_K, d.wq5k, a, n, wf));

        const float r6 = dot_q6_K_q8_K_scalar(d.wq6k, d.xq8k, n);
        dequantize_row(GGML_TYPE_Q6_K, d.wq6k, wf, n);
        ref = dot_ref(wf, a, n, &mag);
        errstat_add(&s6, fabs(r6 - ref), mag);
#if NTK_SIMD
        differ4 += bits_from_f32(dot_q4_K_q8_K_simd(d.wq4k, d.xq8k, n)) != bits_from_f32(r4);
        differ5 += bits_from_f32(dot_q5_K_q8_K_simd(d.wq5k, d.xq8k, n)) != bits_from_f32(r5);
        differ6 += bits_from_f32(dot_q6_K_q8_K_simd(d.wq6k, d.xq8k, n)) != bits_from_f32(r6);
#endif
    }
    errstat_report(&s4);
    errstat_report(&s5);
    errstat_report(&s6);
#if NTK_SIMD
    check(differ4 == 0, "dot_q4_K_q8_K_simd: bit-identical to scalar (%d of %d differ)", differ4, TRIALS);
    check(differ5 == 0, "dot_q5_K_q8_K_simd: bit-identical to scalar (%d of %d differ)", differ5, TRIALS);
    check(differ6 == 0, "dot_q6_K_q8_K_simd: bit-identical to scalar (%d of %d differ)", differ6, TRIALS);
#endif
    dot_bufs_free(&d);
}

/* dots_*: a row against several tokens at once gives each token's one-token dot bit for bit
 * (the SIMD twin against the scalar one-token kernel, so its groups of 8, 4, 2 and a single
 * token are all covered by n_tok up to 23), with activation rows further apart than a row. */
static void test_k_dots_tokens(void)
{
    enum { TRIALS = 120, MAX_TOK = 23, COLS = 2048, STRIDE_BLOCKS = COLS / 256 + 1 };
    block_q8_K *x = xmalloc(MAX_TOK * STRIDE_BLOCKS * sizeof *x);
    const size_t stride = STRIDE_BLOCKS * sizeof *x;
    float *tmp = xmalloc(COLS * sizeof *tmp), out[MAX_TOK];
    block_q4_K *w4 = xmalloc(COLS / 256 * sizeof *w4);
    block_q5_K *w5 = xmalloc(COLS / 256 * sizeof *w5);
    block_q6_K *w6 = xmalloc(COLS / 256 * sizeof *w6);
    int differ[3] = { 0, 0, 0 }, compared = 0;
    for (int trial = 0; trial < TRIALS; trial++) {
        const int n = 256 * irand(1, COLS / 256), n_tok = trial < MAX_TOK ? trial + 1 : irand(1, MAX_TOK);
        for (int t = 0; t < n_tok; t++)
            rand_activations_k(x + t * STRIDE_BLOCKS, tmp, n);
        rand_k_blocks(w4, sizeof *w4, n / 256);
        rand_k_blocks(w5, sizeof *w5, n / 256);
        rand_k_blocks(w6, sizeof *w6, n / 256);
        dots_q4_K_q8_K(w4, x, stride, n_tok, n, out);
        for (int t = 0; t < n_tok; t++)
            differ[0] += bits_from_f32(out[t]) != bits_from_f32(dot_q4_K_q8_K_scalar(w4, x + t * STRIDE_BLOCKS, n));
        dots_q5_K_q8_K(w5, x, stride, n_tok, n, out);
        for (int t = 0; t < n_tok; t++)
            differ[1] += bits_from_f32(out[t]) != bits_from_f32(dot_q5_K_q8_K_scalar(w5, x + t * STRIDE_BLOCKS, n));
        dots_q6_K_q8_K(w6, x, stride, n_tok, n, out);
        for (int t = 0; t < n_tok; t++)
            differ[2] += bits_from_f32(out[t]) != bits_from_f32(dot_q6_K_q8_K_scalar(w6, x + t * STRIDE_BLOCKS, n));
        compared += n_tok;
    }
    const char *names[3] = { "q4_K", "q5_K", "q6_K" };
    for (int k = 0; k < 3; k++)
        check(differ[k] == 0, "dots_%s_q8_K (%s), 1..%d tokens: each the one-token scalar dot bit for bit (%d of %d differ)",
              names[k], NTK_SIMD ? "SIMD" : "scalar", MAX_TOK, differ[k], compared);
    free(x), free(tmp), free(w4), free(w5), free(w6);
}

/* cos/sin of pos * base^(-2i/head_dim) for n_pos positions pos0, pos0+step, .., as the engine
 * builds them */
static void rope_tables(float *c, float *s, int n_pos, int pos0, int step, int head_dim)
{
    for (int p = 0; p < n_pos; p++)
        for (int i = 0; i < head_dim / 2; i++) {
            const double angle = (pos0 + p * step) * pow(10000.0, -2.0 * i / head_dim);
            c[p * head_dim / 2 + i] = (float)cos(angle);
            s[p * head_dim / 2 + i] = (float)sin(angle);
        }
}

static void test_scalar_elementwise(void)
{
    float *y = xmalloc(MAX_N * sizeof *y), *x = xmalloc(MAX_N * sizeof *x);
    float *y0 = xmalloc(MAX_N * sizeof *y0);
    float *c = xmalloc(MAX_N / 2 * sizeof *c), *s = xmalloc(MAX_N / 2 * sizeof *s);
    errstat s_axpy = errstat_new("axpy_f32_scalar vs float64, per element / (|y|+|a*x|)", 1e-6);
    errstat s_rope =
        errstat_new("rope_rotate_scalar vs float64, per element / (|x0|+|x1|)(|c|+|s|)", 1e-6);
    for (int trial = 0; trial < 100; trial++) {
        const int n = trial < N_FLOAT_SIZES ? float_sizes[trial] : irand(1, MAX_N);
        const float a = frand(-2.0f, 2.0f);
        fill(y, n, -1.0f, 1.0f);
        fill(x, n, -1.0f, 1.0f);
        memcpy(y0, y, n * sizeof *y);
        axpy_f32_scalar(y, a, x, n);
        for (int i = 0; i < n; i++)
            errstat_add(&s_axpy, fabs(y[i] - ((double)y0[i] + (double)a * x[i])),
                        fabs(y0[i]) + fabs((double)a * x[i]));

        const int hd = 2 * irand(1, 128);
        fill(x, hd, -3.0f, 3.0f);
        memcpy(y0, x, hd * sizeof *x);
        rope_tables(c, s, 1, irand(0, 5000), 1, hd);
        rope_rotate_scalar(x, c, s, hd);
        for (int i = 0; i < hd / 2; i++) {
            const double x0 = y0[2 * i], x1 = y0[2 * i + 1];
            const double sc = fabs(x0 * c[i]) + fabs(x1 * s[i]) + fabs(x0 * s[i]) + fabs(x1 * c[i]);
            errstat_add(&s_rope, fabs(x[2 * i] - (x0 * c[i] - x1 * s[i])), sc);
            errstat_add(&s_rope, fabs(x[2 * i + 1] - (x0 * s[i] + x1 * c[i])), sc);
        }
    }
    errstat_report(&s_axpy);
    errstat_report(&s_rope);
    free(y), free(x), free(y0), free(c), free(s);
}

/* One attention problem: a tile of n_tok tokens x n_head query heads after n_past cached
 * positions, keys and values in a strided cache of kv type `type`, and the consistent cache's
 * rotation tables. k and v always hold the float values the cache encodes (for f16 and q8_0 the
 * dequantized rows), so the float64 reference and the f32 kernel see what the typed one sees. */
typedef struct {
    int n_past, n_tok, n_head, head_dim, q_stride, kv_stride, type;
    float scale;
    float *q, *k, *v;
    void *kt, *vt; /* the cache in its type; k and v themselves for f32 */
    attn_rope rope;
} attn_case;

static const char *const kv_names[] = { "f32", "f16", "q8_0" };

/* Encode a float cache in type, then replace the floats by what the encoding decodes to. */
static void *kv_encode(float *x, int n_rows, int stride, int type)
{
    const size_t n = (size_t)n_rows * stride;
    if (type == NTK_KV_F16) {
        ggml_half *h = xmalloc(n * sizeof *h);
        for (size_t i = 0; i < n; i++)
            x[i] = fp16_to_fp32(h[i] = fp32_to_fp16(x[i]));
        return h;
    }
    if (type == NTK_KV_Q8_0) {
        block_q8_0 *b = xmalloc(n / QK8_0 * sizeof *b);
        quantize_row_q8_0(x, b, (int64_t)n);
        dequantize_row(GGML_TYPE_Q8_0, b, x, (int64_t)n);
        return b;
    }
    return x;
}

static int attn_n_kv(const attn_case *t) { return t->n_past + t->n_tok; }

static void attn_free(attn_case *t)
{
    if (t->type != NTK_KV_F32)
        free(t->kt), free(t->vt);
    free(t->q), free(t->k), free(t->v);
    free((void *)t->rope.start_cos), free((void *)t->rope.start_sin);
    free((void *)t->rope.step_cos), free((void *)t->rope.step_sin);
}

/* The grid of attention problems both test sections walk: contexts (one streaming-softmax
 * chunk, exactly one, one and a bit, many; tiles that start mid-chunk and span chunks), GQA
 * groups, head_dim, cache and query layouts, and score ranges from flat to "exp would overflow
 * without subtracting the max". */
static const int attn_past[] = { 0, 0, 16, NTK_ATTN_CHUNK - 1, NTK_ATTN_CHUNK, 300 };
static const int attn_tok[] = { 1, 17, 1, 2, 1, 70 };
#define N_ATTN_CTX ((int)(sizeof attn_past / sizeof *attn_past))
static const int attn_hd[] = { 64, 128 };
#define N_ATTN_VARIANTS 3

static void attn_case_at(attn_case *t, int i_ctx, int i_hd, int variant, int type)
{
    const int hd = attn_hd[i_hd], half = hd / 2;
    const int n_head = 1 + variant % 2 * 3;
    int stride = variant == 0 ? hd : hd * (1 + variant) + 8 * variant;
    if (type == NTK_KV_Q8_0)
        stride = (stride + QK8_0 - 1) / QK8_0 * QK8_0;
    const float qrange = variant == 2 ? 12.0f : 1.0f;
    t->n_past = attn_past[i_ctx], t->n_tok = attn_tok[i_ctx], t->n_head = n_head;
    t->head_dim = hd, t->q_stride = n_head * hd + 4 * variant, t->kv_stride = stride;
    t->scale = variant == 2 ? 1.0f : (variant ? 4.0f : 1.0f) / sqrtf((float)hd);
    t->type = type;
    const int n_kv = attn_n_kv(t), chunks = (n_kv + NTK_ATTN_CHUNK - 1) / NTK_ATTN_CHUNK;
    const size_t cache = (size_t)n_kv * stride, nq = (size_t)t->n_tok * t->q_stride;
    t->q = xmalloc(nq * sizeof *t->q);
    t->k = xmalloc(cache * sizeof *t->k);
    t->v = xmalloc(cache * sizeof *t->v);
    fill(t->q, (int)nq, -qrange, qrange);
    fill(t->k, (int)cache, -1.0f, 1.0f);
    fill(t->v, (int)cache, -2.0f, 2.0f);
    t->kt = kv_encode(t->k, n_kv, stride, type);
    t->vt = kv_encode(t->v, n_kv, stride, type);
    float *sc = xmalloc((size_t)chunks * half * sizeof *sc), *ss = xmalloc((size_t)chunks * half * sizeof *ss);
    float *tc = xmalloc((size_t)NTK_ATTN_CHUNK * half * sizeof *tc), *ts = xmalloc((size_t)NTK_ATTN_CHUNK * half * sizeof *ts);
    rope_tables(sc, ss, chunks, 0, -NTK_ATTN_CHUNK, hd);
    rope_tables(tc, ts, NTK_ATTN_CHUNK, 0, 1, hd);
    t->rope = (attn_rope){ sc, ss, tc, ts };
}

static const float *attn_q(const attn_case *t, int tok, int h)
{
    return t->q + (size_t)tok * t->q_stride + (size_t)h * t->head_dim;
}

/* The error of an output row is at most the error of its scores (relative to the largest
 * score's terms, S) times max|v|, plus rounding of the weighted sum itself: tol * max|v| * (1+S). */
static double attn_scale(const attn_case *t, int tok, int h)
{
    const float *q = attn_q(t, tok, h);
    double S = 0, vmax = 0;
    for (int j = 0; j < t->n_past + tok + 1; j++) {
        const float *kj = t->k + (size_t)j * t->kv_stride;
        double sj = 0;
        for (int i = 0; i < t->head_dim; i++) {
            sj += fabs(q[i]) * (fabs(kj[i & ~1]) + fabs(kj[i | 1]));
            vmax = fmax(vmax, fabs(t->v[(size_t)j * t->kv_stride + i]));
        }
        S = fmax(S, fabs(t->scale) * sj);
    }
    return vmax * (1 + S);
}

/* Row (tok, h) in float64; with rotate, key j turned by j * theta_i, angles in double. */
static void attn_reference(const attn_case *t, int tok, int h, int rotate, double *out)
{
    const int hd = t->head_dim, n_kv = t->n_past + tok + 1;
    const float *q = attn_q(t, tok, h);
    double *p = xmalloc(n_kv * sizeof *p), max = -INFINITY, sum = 0;
    for (int j = 0; j < n_kv; j++) {
        const float *kj = t->k + (size_t)j * t->kv_stride;
        double dot = 0;
        for (int i = 0; i < hd / 2; i++) {
            double k0 = kj[2 * i], k1 = kj[2 * i + 1];
            if (rotate) {
                const double a = j * pow(10000.0, -2.0 * i / hd), c = cos(a), s = sin(a);
                const double r0 = k0 * c - k1 * s;
                k1 = k0 * s + k1 * c;
                k0 = r0;
            }
            dot += q[2 * i] * k0 + q[2 * i + 1] * k1;
        }
        p[j] = t->scale * dot;
        max = fmax(max, p[j]);
    }
    for (int j = 0; j < n_kv; j++)
        sum += p[j] = exp(p[j] - max);
    for (int i = 0; i < hd; i++)
        out[i] = 0;
    for (int j = 0; j < n_kv; j++)
        for (int i = 0; i < hd; i++)
            out[i] += p[j] / sum * t->v[(size_t)j * t->kv_stride + i];
    free(p);
}

typedef void attention_fn(float *out, const float *q, int n_tok, int n_head, int q_stride,
                          const attn_kv *kv, int n_past, const attn_rope *rope, float scale,
                          float *scratch);

/* typed: read the cache in its type, else the f32 cache of its decoded values. Tokens
 * [tok0, tok0+n_tok) of the case as one tile; out is laid out like q. */
static void attn_run(const attn_case *t, attention_fn *fn, int typed, int rotate, int tok0,
                     int n_tok, float *out)
{
    const attn_kv kv = { typed ? t->kt : t->k, typed ? t->vt : t->v,
                         typed ? t->type : NTK_KV_F32, t->kv_stride, t->head_dim };
    float *scratch = xmalloc(NTK_ATTN_SCRATCH(t->head_dim, n_tok * t->n_head) * sizeof *scratch);
    fn(out + (size_t)tok0 * t->q_stride, attn_q(t, tok0, 0), n_tok, t->n_head, t->q_stride, &kv,
       t->n_past + tok0, rotate ? &t->rope : NULL, t->scale, scratch);
    free(scratch);
}

static float *attn_out(const attn_case *t)
{
    return xmalloc((size_t)t->n_tok * t->q_stride * sizeof(float));
}

/* Largest |a - b| over the case's output rows, NaN as infinite, each row divided by its
 * attn_scale; b NULL: against the float64 reference. */
static double attn_err(const attn_case *t, const float *a, const float *b, int rotate)
{
    double worst = 0, ref[128];
    for (int tok = 0; tok < t->n_tok; tok++)
        for (int h = 0; h < t->n_head; h++) {
            const size_t at = (size_t)tok * t->q_stride + (size_t)h * t->head_dim;
            if (!b)
                attn_reference(t, tok, h, rotate, ref);
            double err = 0;
            for (int i = 0; i < t->head_dim; i++)
                err = fmax(err, isnan(a[at + i]) ? INFINITY
                                                 : fabs(a[at + i] - (b ? b[at + i] : ref[i])));
            worst = fmax(worst, err / attn_scale(t, tok, h));
        }
    return worst;
}

static int attn_same(const attn_case *t, const float *a, const float *b)
{
    for (int tok = 0; tok < t->n_tok; tok++)
        if (!same_floats(a + (size_t)tok * t->q_stride, b + (size_t)tok * t->q_stride,
                         t->n_head * t->head_dim))
            return 0;
    return 1;
}

/* One twin over the grid: against `other` (NULL: float64) within 1e-5, a typed cache
 * bit-identical to the f32 cache of its decoded rows, and a tile bit-identical to its tokens
 * run one at a time (a row's result must not depend on which tile it was in). */
static void attention_checks(const char *name, attention_fn *fn, attention_fn *other, int reps)
{
    for (int ty = NTK_KV_F32; ty <= NTK_KV_Q8_0; ty++)
        for (int rotate = 0; rotate < 2; rotate++) {
            char label[128];
            snprintf(label, sizeof label, "%s %s, %s keys, vs %s", name, kv_names[ty],
                     rotate ? "rotated on the fly" : "pre-rotated", other ? "scalar" : "float64");
            errstat st = errstat_new(label, 1e-5);
            int undecoded = 0, untiled = 0, cases = 0;
            for (int rep = 0; rep < reps; rep++)
                for (int c = 0; c < N_ATTN_CTX; c++)
                    for (int h = 0; h < 2; h++)
                        for (int var = 0; var < N_ATTN_VARIANTS; var++) {
                            attn_case t;
                            attn_case_at(&t, c, h, var, ty);
                            float *out = attn_out(&t), *out2 = attn_out(&t);
                            attn_run(&t, fn, 1, rotate, 0, t.n_tok, out);
                            if (other)
                                attn_run(&t, other, 1, rotate, 0, t.n_tok, out2);
                            errstat_add(&st, attn_err(&t, out, other ? out2 : NULL, rotate), 1);
                            attn_run(&t, fn, 0, rotate, 0, t.n_tok, out2);
                            undecoded += !attn_same(&t, out, out2);
                            for (int tok = 0; tok < t.n_tok; tok++)
                                attn_run(&t, fn, 1, rotate, tok, 1, out2);
                            untiled += !attn_same(&t, out, out2);
                            cases++;
                            free(out), free(out2);
                            attn_free(&t);
                        }
            errstat_report(&st);
            const char *keys = rotate ? "rotated" : "pre-rotated";
            check(undecoded == 0, "%s %s, %s keys: bit-identical to f32 on the decoded cache (%d "
                  "of %d cases differ)", name, kv_names[ty], keys, undecoded, cases);
            check(untiled == 0, "%s %s, %s keys: a tile bit-identical to its tokens one at a time "
                  "(%d of %d cases differ)", name, kv_names[ty], keys, untiled, cases);
        }
}

static void test_scalar_attention(void)
{
    attention_checks("attention_tile_scalar", attention_tile_scalar, NULL, 1);
}

/* ---------------------------------------------------------------- SIMD vs scalar */

#if NTK_SIMD

/* Every pattern in every lane position of the 16-wide loop and the 4-wide tail: a one-hot x
 * picks out exactly the converted weight. The other weights are 1.0, a normal half, so the
 * pattern under test alone decides whether a chunk takes the fast or the exact conversion
 * (and 1.0 * 0 adds nothing, not even to inf or NaN). */
static void test_simd_conversions(void)
{
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
    check(bad_f16 == 0, "dot_f16_f32_simd: all 65536 halves in all %d lane positions convert as "
          "fp16_to_fp32 (%d wrong)", N, bad_f16);
    check(bad_bf16 == 0, "dot_bf16_f32_simd: all 65536 bf16 in all %d lane positions convert as "
          "bf16_to_fp32 (%d wrong)", N, bad_bf16);
}

static void test_simd_dots(void)
{
    dot_bufs d = dot_bufs_new();
    float *a = d.a, *b = d.b, *wf = d.wf;
    ggml_half *h = d.h;
    uint16_t *bf = d.bf;
    block_q8_0 *wq8 = d.wq8, *xq8 = d.xq8;
    block_q4_0 *wq4 = d.wq4;
    errstat s_f32 = errstat_new("dot_f32_simd vs scalar, / sum|a*b|", 1e-5);
    errstat s_f16 = errstat_new("dot_f16_f32_simd vs scalar, / sum|w*x|", 1e-5);
    errstat s_bf16 = errstat_new("dot_bf16_f32_simd vs scalar, / sum|w*x|", 1e-5);
    errstat s_q8 = errstat_new("dot_q8_0_q8_0_simd vs scalar, / sum|dw*dx*qw*qx|", 1e-5);
    errstat s_q4 = errstat_new("dot_q4_0_q8_0_simd vs scalar, / sum|dw*dx*qw*qx|", 1e-5);
    double mag;

    for (int trial = 0; trial < 1000; trial++) {
        const int n = trial < N_FLOAT_SIZES ? float_sizes[trial] : irand(1, MAX_N);
        fill(a, n, -1.0f, 1.0f);
        fill(b, n, -1.0f, 1.0f);
        dot_ref(a, b, n, &mag);
        errstat_add(&s_f32, fabs((double)dot_f32_simd(a, b, n) - dot_f32_scalar(a, b, n)), mag);

        for (int i = 0; i < n; i++) {
            h[i] = rand_half();
            bf[i] = rand_bf16();
        }
        dequantize_row(GGML_TYPE_F16, h, wf, n);
        dot_ref(wf, b, n, &mag);
        errstat_add(&s_f16, fabs((double)dot_f16_f32_simd(h, b, n) - dot_f16_f32_scalar(h, b, n)),
                    mag);
        dequantize_row(GGML_TYPE_BF16, bf, wf, n);
        dot_ref(wf, b, n, &mag);
        errstat_add(&s_bf16,
                    fabs((double)dot_bf16_f32_simd(bf, b, n) - dot_bf16_f32_scalar(bf, b, n)), mag);

        const int nq = 32 * (trial < 40 ? trial + 1 : irand(1, MAX_N / 32));
        rand_q8_0(wq8, nq / 32);
        rand_q4_0(wq4, nq / 32);
        rand_activations(xq8, a, nq);
        dequantize_row(GGML_TYPE_Q8_0, xq8, a, nq);
        dequantize_row(GGML_TYPE_Q8_0, wq8, wf, nq);
        dot_ref(wf, a, nq, &mag);
        errstat_add(&s_q8, fabs((double)dot_q8_0_q8_0_simd(wq8, xq8, nq) -
                                dot_q8_0_q8_0_scalar(wq8, xq8, nq)), mag);
        dequantize_row(GGML_TYPE_Q4_0, wq4, wf, nq);
        dot_ref(wf, a, nq, &mag);
        errstat_add(&s_q4, fabs((double)dot_q4_0_q8_0_simd(wq4, xq8, nq) -
                                dot_q4_0_q8_0_scalar(wq4, xq8, nq)), mag);
    }
    errstat_report(&s_f32);
    errstat_report(&s_f16);
    errstat_report(&s_bf16);
    errstat_report(&s_q8);
    errstat_report(&s_q4);
    dot_bufs_free(&d);
}

static void test_simd_elementwise(void)
{
    float *y1 = xmalloc(MAX_N * sizeof *y1), *y2 = xmalloc(MAX_N * sizeof *y2);
    float *x = xmalloc(MAX_N * sizeof *x);
    float *c = xmalloc(MAX_N / 2 * sizeof *c), *s = xmalloc(MAX_N / 2 * sizeof *s);
    errstat s_axpy = errstat_new("axpy_f32_simd vs scalar, per element / (|y|+|a*x|)", 1e-6);
    errstat s_rope = errstat_new("rope_rotate_simd vs scalar, per element / (|x0|+|x1|)", 1e-6);
    for (int trial = 0; trial < 1000; trial++) {
        const int n = trial < N_FLOAT_SIZES ? float_sizes[trial] : irand(1, MAX_N);
        const float a = frand(-2.0f, 2.0f);
        fill(y1, n, -1.0f, 1.0f);
        fill(x, n, -1.0f, 1.0f);
        memcpy(y2, y1, n * sizeof *y1);
        axpy_f32_simd(y1, a, x, n);
        axpy_f32_scalar(y2, a, x, n);
        for (int i = 0; i < n; i++)
            errstat_add(&s_axpy, fabs((double)y1[i] - y2[i]), fabs(y2[i]) + fabs(a * x[i]));

        const int hd =
            trial < N_FLOAT_SIZES ? (float_sizes[trial] + 1) & ~1 : 2 * irand(1, MAX_N / 2);
        fill(x, hd, -3.0f, 3.0f);
        memcpy(y1, x, hd * sizeof *x);
        memcpy(y2, x, hd * sizeof *x);
        rope_tables(c, s, 1, irand(0, 5000), 1, hd);
        rope_rotate_simd(y1, c, s, hd);
        rope_rotate_scalar(y2, c, s, hd);
        for (int i = 0; i < hd; i++)
            errstat_add(&s_rope, fabs((double)y1[i] - y2[i]),
                        fabs(x[i & ~1]) + fabs(x[i | 1]));
    }
    errstat_report(&s_axpy);
    errstat_report(&s_rope);
    free(y1), free(y2), free(x), free(c), free(s);
}

/* exp of every score minus the running max, over ranges up to "underflows to zero", and the
 * bookkeeping of the running max and sum across chunks. Below 2^-100 a weight adds nothing next
 * to the max's 1, and there the twins may differ absolutely (the SIMD one clamps at 2^-126). */
static void test_simd_softmax(void)
{
    errstat s_exp = errstat_new("softmax_chunk_simd vs scalar, per weight / max(w, 2^-100)", 1e-6);
    errstat s_sum = errstat_new("softmax_chunk_simd vs scalar, running sum and rescale", 1e-6);
    float a[NTK_ATTN_CHUNK], b[NTK_ATTN_CHUNK];
    for (int trial = 0; trial < 2000; trial++) {
        const float range = trial % 4 == 0 ? 1.0f : trial % 4 == 1 ? 30.0f : trial % 4 == 2 ? 100.0f : 300.0f;
        float max1 = trial % 3 ? frand(-range, range) : -INFINITY, max2 = max1;
        float sum1 = max1 == -INFINITY ? 0.0f : frand(1.0f, 100.0f), sum2 = sum1;
        const int n = irand(1, NTK_ATTN_CHUNK);
        fill(a, n, -range, range);
        memcpy(b, a, n * sizeof *a);
        const float r1 = softmax_chunk_simd(a, n, &max1, &sum1);
        const float r2 = softmax_chunk_scalar(b, n, &max2, &sum2);
        for (int i = 0; i < n; i++)
            errstat_add(&s_exp, fabs((double)a[i] - b[i]), fmax(b[i], 0x1p-100));
        errstat_add(&s_sum, fabs((double)sum1 - sum2) + fabs((double)r1 - r2) + fabs((double)max1 - max2),
                    sum2 + r2);
    }
    errstat_report(&s_exp);
    errstat_report(&s_sum);
}

static void test_simd_attention(void)
{
    attention_checks("attention_tile_simd", attention_tile_simd, attention_tile_scalar, 5);
}

#endif

int main(void)
{
    printf("test_kernels: %s build\n", NTK_SIMD ? "SIMD128" : "scalar");
    test_fp16();
    test_quantize_q8_0();
    test_quantize_q8_1();
    test_quantize_q8_K();
    test_dequantize();
    test_scalar_dots();
    test_k_dots();
    test_k_dots_tokens();
    test_legacy_dots();
    test_scalar_elementwise();
    test_scalar_attention();
#if NTK_SIMD
    test_simd_conversions();
    test_simd_dots();
    test_simd_elementwise();
    test_simd_softmax();
    test_simd_attention();
#endif
    printf("%d passed, %d failed\n", n_passed, n_failed);
    return n_failed != 0;
}
