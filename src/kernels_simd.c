/* kernels_simd.c — WebAssembly SIMD128 twins of kernels_scalar.c.
 *
 * Float dots keep four independent vector accumulators so consecutive adds do not wait on each
 * other's latency; they therefore sum in a different order from the scalar twin and agree with
 * it to float rounding only. Element-wise kernels (axpy, rope, the weighted sum of values) do
 * the same operations per element as the scalar twin and give identical results. Loads use
 * wasm_v128_load, which has no alignment requirement: GGUF blocks are only 2-byte aligned. */
#if defined(__wasm_simd128__)

#include <math.h>
#include <stddef.h>
#include <string.h>
#include <wasm_simd128.h>
#include "kernels.h"

#if defined(NTK_RELAXED_SIMD)
/* i16x8.relaxed_dot_i8x16_i7x16_s(x, q): q[2i]*x[2i] + q[2i+1]*x[2i+1] in int16 lanes, one
 * instruction (pmaddubsw on x86) where extending and multiplying take about nine. Emscripten
 * 3.1.6's clang cannot emit it, so the relaxed build calls this import and
 * scripts/relaxed-simd.mjs turns every call into the instruction once the module is linked. Its
 * result is only implementation-defined where q leaves the i7 range; the quants it meets here are
 * unsigned, 0..63, and no pair sum comes near int16's limit. */
v128_t ntk_relaxed_dot_i8x16_i7x16_s(v128_t x, v128_t q) __attribute__((const));
#endif

static inline float hsum_f32x4(v128_t v)
{
    v = wasm_f32x4_add(v, wasm_i32x4_shuffle(v, v, 2, 3, 0, 1));
    v = wasm_f32x4_add(v, wasm_i32x4_shuffle(v, v, 1, 0, 3, 2));
    return wasm_f32x4_extract_lane(v, 0);
}

static inline float hsum4_f32x4(v128_t a, v128_t b, v128_t c, v128_t d)
{
    return hsum_f32x4(wasm_f32x4_add(wasm_f32x4_add(a, b), wasm_f32x4_add(c, d)));
}

/* acc + a * b */
static inline v128_t mul_add(v128_t acc, v128_t a, v128_t b)
{
    return wasm_f32x4_add(acc, wasm_f32x4_mul(a, b));
}

/* Four 16-bit patterns in the high halves of 32-bit lanes, i.e. lanes of h << 16: this is how
 * half_lo/half_hi unpack eight of them, and the shift puts the sign bit where float's is. */
static inline v128_t half_lo(v128_t h8)
{
    return wasm_i16x8_shuffle(wasm_i16x8_splat(0), h8, 0, 8, 1, 9, 2, 10, 3, 11);
}

static inline v128_t half_hi(v128_t h8)
{
    return wasm_i16x8_shuffle(wasm_i16x8_splat(0), h8, 4, 12, 5, 13, 6, 14, 7, 15);
}

/* Normal halves (exponent 1..30), the common case: rebias the exponent (+112) with integer
 * ops. The arithmetic shift moves exponent:mantissa from the top of the lane to float's
 * place and smears the sign over bits 28..31, where the mask keeps only bit 31. */
static inline v128_t half_normal_to_f32x4(v128_t h_hi16)
{
    const v128_t sign_em = wasm_v128_and(wasm_i32x4_shr(h_hi16, 3),
                                         wasm_i32x4_splat((int32_t)0x8fffe000));
    return wasm_i32x4_add(sign_em, wasm_i32x4_splat(112 << 23));
}

/* Exact for all 65536 halves. inf/NaN (exponent 31) need +224 to reach exponent 255, payload
 * kept. Subnormal halves go through an exact int->float conversion of their mantissa rather
 * than the common "multiply the float denormal by 2^112" trick, which would feed denormal
 * operands to the FPU (microcode-assist slow on x86) and rely on them not being flushed.
 * Compares are equalities: LLVM turns ordered compares on masked (non-negative) lanes into
 * unsigned ones, which x86 lacks. */
static inline v128_t half_any_to_f32x4(v128_t h_hi16)
{
    const v128_t rebias = wasm_i32x4_splat(112 << 23);
    const v128_t exp_field = wasm_v128_and(h_hi16, wasm_i32x4_splat(0x7c000000));
    const v128_t special = wasm_i32x4_eq(exp_field, wasm_i32x4_splat(0x7c000000));
    const v128_t subnormal = wasm_i32x4_eq(exp_field, wasm_i32x4_splat(0));
    const v128_t normal = wasm_i32x4_add(half_normal_to_f32x4(h_hi16),
                                         wasm_v128_and(special, rebias));
    /* mantissa << 13 with the sign cleared; mant * 2^-24 = (mant << 13) * 2^-37 */
    const v128_t em = wasm_u32x4_shr(wasm_v128_and(h_hi16, wasm_i32x4_splat(0x03ff0000)), 3);
    v128_t tiny = wasm_f32x4_mul(wasm_f32x4_convert_i32x4(em), wasm_f32x4_splat(0x1p-37f));
    tiny = wasm_v128_or(tiny, wasm_v128_and(h_hi16, wasm_i32x4_splat((int32_t)0x80000000)));
    return wasm_v128_bitselect(tiny, normal, subnormal);
}

/* Lanes of t = (exponent bits - 0x0400) mod 2^16 for eight halves: exponents 1..30 give
 * t <= 0x7400, exponents 0 (zero, subnormal) and 31 (inf, NaN) give t >= 0x7800. */
static inline v128_t half_exp_rank(v128_t h8)
{
    return wasm_i16x8_sub(wasm_v128_and(h8, wasm_i16x8_splat(0x7c00)), wasm_i16x8_splat(0x0400));
}

/* Whether a half_exp_rank result (or a u16 max of several) has a non-normal lane. */
static inline int any_not_normal(v128_t rank)
{
    return wasm_v128_any_true(wasm_u16x8_sub_sat(rank, wasm_i16x8_splat(0x7400)));
}

float dot_f32_simd(const float *a, const float *b, int n)
{
    v128_t acc0 = wasm_f32x4_splat(0.0f), acc1 = acc0, acc2 = acc0, acc3 = acc0;
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        acc0 = mul_add(acc0, wasm_v128_load(a + i), wasm_v128_load(b + i));
        acc1 = mul_add(acc1, wasm_v128_load(a + i + 4), wasm_v128_load(b + i + 4));
        acc2 = mul_add(acc2, wasm_v128_load(a + i + 8), wasm_v128_load(b + i + 8));
        acc3 = mul_add(acc3, wasm_v128_load(a + i + 12), wasm_v128_load(b + i + 12));
    }
    for (; i + 4 <= n; i += 4)
        acc0 = mul_add(acc0, wasm_v128_load(a + i), wasm_v128_load(b + i));
    float sum = hsum4_f32x4(acc0, acc1, acc2, acc3);
    for (; i < n; i++)
        sum += a[i] * b[i];
    return sum;
}

/* Sixteen halves at a time. A chunk with any half that is not normal (zeros included) leaves
 * the inner loop for the exact conversion and comes back: with the exact path inside the
 * loop, its constants crowd V8's registers and the common case ran 1.3x slower. */
float dot_f16_f32_simd(const ggml_half *w, const float *x, int n)
{
    v128_t acc0 = wasm_f32x4_splat(0.0f), acc1 = acc0, acc2 = acc0, acc3 = acc0;
    int i = 0;
    while (i + 16 <= n) {
        for (; i + 16 <= n; i += 16) {
            const v128_t h0 = wasm_v128_load(w + i), h1 = wasm_v128_load(w + i + 8);
            if (any_not_normal(wasm_u16x8_max(half_exp_rank(h0), half_exp_rank(h1))))
                break;
            acc0 = mul_add(acc0, half_normal_to_f32x4(half_lo(h0)), wasm_v128_load(x + i));
            acc1 = mul_add(acc1, half_normal_to_f32x4(half_hi(h0)), wasm_v128_load(x + i + 4));
            acc2 = mul_add(acc2, half_normal_to_f32x4(half_lo(h1)), wasm_v128_load(x + i + 8));
            acc3 = mul_add(acc3, half_normal_to_f32x4(half_hi(h1)), wasm_v128_load(x + i + 12));
        }
        if (i + 16 > n)
            break;
        const v128_t h0 = wasm_v128_load(w + i), h1 = wasm_v128_load(w + i + 8);
        acc0 = mul_add(acc0, half_any_to_f32x4(half_lo(h0)), wasm_v128_load(x + i));
        acc1 = mul_add(acc1, half_any_to_f32x4(half_hi(h0)), wasm_v128_load(x + i + 4));
        acc2 = mul_add(acc2, half_any_to_f32x4(half_lo(h1)), wasm_v128_load(x + i + 8));
        acc3 = mul_add(acc3, half_any_to_f32x4(half_hi(h1)), wasm_v128_load(x + i + 12));
        i += 16;
    }
    for (; i + 4 <= n; i += 4) {
        const v128_t h = wasm_v128_load64_zero(w + i);
        acc0 = mul_add(acc0, half_any_to_f32x4(half_lo(h)), wasm_v128_load(x + i));
    }
    float sum = hsum4_f32x4(acc0, acc1, acc2, acc3);
    for (; i < n; i++)
        sum += fp16_to_fp32(w[i]) * x[i];
    return sum;
}

/* A bfloat16 is the top half of a float, so half_lo/half_hi alone convert it. */
float dot_bf16_f32_simd(const uint16_t *w, const float *x, int n)
{
    v128_t acc0 = wasm_f32x4_splat(0.0f), acc1 = acc0, acc2 = acc0, acc3 = acc0;
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        const v128_t h0 = wasm_v128_load(w + i), h1 = wasm_v128_load(w + i + 8);
        acc0 = mul_add(acc0, half_lo(h0), wasm_v128_load(x + i));
        acc1 = mul_add(acc1, half_hi(h0), wasm_v128_load(x + i + 4));
        acc2 = mul_add(acc2, half_lo(h1), wasm_v128_load(x + i + 8));
        acc3 = mul_add(acc3, half_hi(h1), wasm_v128_load(x + i + 12));
    }
    for (; i + 4 <= n; i += 4)
        acc0 = mul_add(acc0, half_lo(wasm_v128_load64_zero(w + i)), wasm_v128_load(x + i));
    float sum = hsum4_f32x4(acc0, acc1, acc2, acc3);
    for (; i < n; i++)
        sum += bf16_to_fp32(w[i]) * x[i];
    return sum;
}

/* Exact int32 partial sums (four lanes) of 16 int8 products. */
static inline v128_t dot_i8x16(v128_t a, v128_t b)
{
    const v128_t lo = wasm_i32x4_dot_i16x8(wasm_i16x8_extend_low_i8x16(a),
                                           wasm_i16x8_extend_low_i8x16(b));
    const v128_t hi = wasm_i32x4_dot_i16x8(wasm_i16x8_extend_high_i8x16(a),
                                           wasm_i16x8_extend_high_i8x16(b));
    return wasm_i32x4_add(lo, hi);
}

/* dot_i8x16 of Q8_0 weights w (any int8) and activations x (-127..127, quantize_row_q8_0's
 * range). The relaxed build's relaxed_dot wants its unsigned operand under 128, so x is split into
 * x+ = max(x, 0) and x- = x+ - x, both 0..127, and w.x = w.x+ - w.x-: each int16 lane of the
 * difference is a true pair sum, |w[2i]*x[2i] + w[2i+1]*x[2i+1]| <= 2*128*127, so the wrapping
 * subtraction is exact. */
static inline v128_t q8_dot16(v128_t w, v128_t x)
{
#if defined(NTK_RELAXED_SIMD)
    const v128_t xp = wasm_i8x16_max(x, wasm_i8x16_splat(0)), xm = wasm_i8x16_sub(xp, x);
    const v128_t pairs = wasm_i16x8_sub(ntk_relaxed_dot_i8x16_i7x16_s(w, xp),
                                        ntk_relaxed_dot_i8x16_i7x16_s(w, xm));
    return wasm_i32x4_dot_i16x8(pairs, wasm_i16x8_splat(1));
#else
    return dot_i8x16(w, x);
#endif
}

static inline v128_t q8_0_block(const block_q8_0 *w, const block_q8_0 *x)
{
    return wasm_i32x4_add(q8_dot16(wasm_v128_load(w->qs), wasm_v128_load(x->qs)),
                          q8_dot16(wasm_v128_load(w->qs + 16), wasm_v128_load(x->qs + 16)));
}

/* sum (q[i] - offset) * x[i] over 32 unsigned quants (lo: values 0-15, hi: 16-31; q <= 31) and
 * activations xq[0..31], in four int32 lanes. The relaxed build multiplies the unsigned quants as
 * they are and takes offset * sum x back: int16 pair sums stay under 4*31*127 + 4*16*127. */
static inline __attribute__((always_inline)) v128_t quants_dot32(v128_t lo, v128_t hi, int offset,
                                                                 const int8_t *xq)
{
    const v128_t x0 = wasm_v128_load(xq), x1 = wasm_v128_load(xq + 16);
#if defined(NTK_RELAXED_SIMD)
    v128_t p = wasm_i16x8_add(ntk_relaxed_dot_i8x16_i7x16_s(x0, lo), ntk_relaxed_dot_i8x16_i7x16_s(x1, hi));
    if (offset) {
        const v128_t o = wasm_i8x16_splat((int8_t)offset);
        p = wasm_i16x8_sub(p, wasm_i16x8_add(ntk_relaxed_dot_i8x16_i7x16_s(x0, o),
                                             ntk_relaxed_dot_i8x16_i7x16_s(x1, o)));
    }
    return wasm_i32x4_dot_i16x8(p, wasm_i16x8_splat(1));
#else
    if (offset) {
        lo = wasm_i8x16_sub(lo, wasm_i8x16_splat((int8_t)offset));
        hi = wasm_i8x16_sub(hi, wasm_i8x16_splat((int8_t)offset));
    }
    return wasm_i32x4_add(dot_i8x16(lo, x0), dot_i8x16(hi, x1));
#endif
}

/* Low nibbles are elements 0..15 and high nibbles 16..31, matching x's first and second
 * 16 bytes, so no interleaving is needed. The high nibbles are shifted down in 16-bit lanes
 * and masked: x86 has no byte shift, so an 8-bit shift would cost V8 a mask of its own. */
static inline v128_t q4_0_block(const block_q4_0 *w, const block_q8_0 *x)
{
    const v128_t packed = wasm_v128_load(w->qs), low4 = wasm_i8x16_splat(0x0f);
    return quants_dot32(wasm_v128_and(packed, low4), wasm_v128_and(wasm_u16x8_shr(packed, 4), low4), 8,
                        x->qs);
}

/* Quantized dots work on pairs of blocks. Each block's integer sum is exact, as in the scalar
 * twin, and is folded into one vector holding (S0, S1, S0, S1), so converting, scaling and
 * accumulating cost one vector op per pair; the pair's four fp16 scales convert together.
 * Pairs rather than larger groups: V8 schedules all of an iteration's loads first, and four
 * blocks' worth (16 vectors) already spill registers. */
typedef struct {
    const uint8_t *w;   /* first weight block; d at offset 0 of every block type */
    size_t w_size;      /* bytes per weight block */
    int q4;             /* block_q4_0 weights, else block_q8_0 */
    const block_q8_0 *x;
} qdot;

static inline v128_t block_sum(const qdot *q, int b)
{
    const uint8_t *w = q->w + (size_t)b * q->w_size;
    return q->q4 ? q4_0_block((const block_q4_0 *)w, q->x + b)
                 : q8_0_block((const block_q8_0 *)w, q->x + b);
}

/* Block b and, if count is 2, block b + 1 (else a zero block). */
static inline __attribute__((always_inline)) v128_t pair_sums(const qdot *q, int b, int count)
{
    const v128_t s0 = block_sum(q, b);
    const v128_t s1 = count > 1 ? block_sum(q, b + 1) : wasm_i32x4_splat(0);
    /* t = (s0 lanes 0+2, s1 lanes 0+2, s0 lanes 1+3, s1 lanes 1+3) */
    const v128_t t = wasm_i32x4_add(wasm_i32x4_shuffle(s0, s1, 0, 4, 1, 5),
                                    wasm_i32x4_shuffle(s0, s1, 2, 6, 3, 7));
    /* |sum| <= 32 * 128 * 128 < 2^24: the conversion is exact */
    return wasm_f32x4_convert_i32x4(wasm_i32x4_add(t, wasm_i32x4_shuffle(t, t, 2, 3, 0, 1)));
}

/* Halves (dw0, dw1, dx0, dx1) in the low four 16-bit lanes. The other lanes, and dw1, dx1
 * when there is no second block, hold 1.0: a normal half, so they never force the exact
 * conversion, and harmless as a scale since a missing block's sum is zero. */
static inline __attribute__((always_inline)) v128_t pair_scales(const qdot *q, int b, int count)
{
    const uint8_t *w = q->w + (size_t)b * q->w_size;
    v128_t h = wasm_i16x8_splat(0x3c00);
    h = wasm_v128_load16_lane(w, h, 0);
    h = wasm_v128_load16_lane(&q->x[b].d, h, 2);
    if (count > 1) {
        h = wasm_v128_load16_lane(w + q->w_size, h, 1);
        h = wasm_v128_load16_lane(&q->x[b + 1].d, h, 3);
    }
    return h;
}

/* (dw0*dx0, dw1*dx1, dx0*dw0, dx1*dw1) * (S0, S1, S0, S1): each block's term is the scalar
 * twin's (dw * dx) * sum bit for bit, twice over; only the order of adding terms differs. */
static inline __attribute__((always_inline)) v128_t pair_terms(const qdot *q, int b, int count,
                                                               int exact)
{
    const v128_t h = half_lo(pair_scales(q, b, count));
    const v128_t f = exact ? half_any_to_f32x4(h) : half_normal_to_f32x4(h);
    const v128_t d = wasm_f32x4_mul(f, wasm_i32x4_shuffle(f, f, 2, 3, 0, 1));
    return wasm_f32x4_mul(d, pair_sums(q, b, count));
}

/* Scales that are not normal halves (a zero scale, from an all-zero block, is enough) take
 * the exact conversion outside the inner loop: inside, its constants would crowd registers. */
static inline __attribute__((always_inline)) float dot_blocks(const qdot *q, int nb)
{
    v128_t acc = wasm_f32x4_splat(0.0f);
    int b = 0;
    while (b + 2 <= nb) {
        for (; b + 2 <= nb; b += 2) {
            if (any_not_normal(half_exp_rank(pair_scales(q, b, 2))))
                break;
            acc = wasm_f32x4_add(acc, pair_terms(q, b, 2, 0));
        }
        if (b + 2 > nb)
            break;
        acc = wasm_f32x4_add(acc, pair_terms(q, b, 2, 1));
        b += 2;
    }
    if (b < nb)
        acc = wasm_f32x4_add(acc, pair_terms(q, b, 1, 1));
    /* lanes 2, 3 repeat lanes 0, 1 */
    return wasm_f32x4_extract_lane(acc, 0) + wasm_f32x4_extract_lane(acc, 1);
}

float dot_q8_0_q8_0_simd(const block_q8_0 *w, const block_q8_0 *x, int n)
{
    const qdot q = { (const uint8_t *)w, sizeof *w, 0, x };
    return dot_blocks(&q, n / QK8_0);
}

float dot_q4_0_q8_0_simd(const block_q4_0 *w, const block_q8_0 *x, int n)
{
    const qdot q = { (const uint8_t *)w, sizeof *w, 1, x };
    return dot_blocks(&q, n / QK4_0);
}

/* Q4_1, Q5_0, Q5_1. Each block's integer sum is exact; it is scaled in its four lanes and the
 * lanes are added at the end, so the sum rounds in another order than the scalar twin's. */

/* Q5's fifth bits as 0x10 in the byte lanes of values 0-15 (lo) and 16-31 (hi): byte i/8 of qh
 * spread to lanes, each lane testing its bit. */
static inline void q5_high_bits(const uint8_t qh[4], v128_t *lo, v128_t *hi)
{
    const v128_t v = wasm_v128_load32_splat(qh);
    const v128_t bit = wasm_i8x16_make(1, 2, 4, 8, 16, 32, 64, -128, 1, 2, 4, 8, 16, 32, 64, -128);
    const v128_t b01 = wasm_i8x16_shuffle(v, v, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
    const v128_t b23 = wasm_i8x16_shuffle(v, v, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    const v128_t b4 = wasm_i8x16_splat(0x10);
    *lo = wasm_v128_and(wasm_i8x16_eq(wasm_v128_and(b01, bit), bit), b4);
    *hi = wasm_v128_and(wasm_i8x16_eq(wasm_v128_and(b23, bit), bit), b4);
}

/* sum q*x of a Q4_1 (qh NULL), Q5_0 or Q5_1 block in four lanes, q minus offset */
static inline __attribute__((always_inline)) v128_t q4_q5_block(const uint8_t *qs,
                                                                const uint8_t *qh, int offset,
                                                                const int8_t *xq)
{
    const v128_t packed = wasm_v128_load(qs), low4 = wasm_i8x16_splat(15);
    v128_t lo = wasm_v128_and(packed, low4);
    v128_t hi = wasm_v128_and(wasm_u16x8_shr(packed, 4), low4);
    if (qh) {
        v128_t h_lo, h_hi;
        q5_high_bits(qh, &h_lo, &h_hi);
        lo = wasm_v128_or(lo, h_lo);
        hi = wasm_v128_or(hi, h_hi);
    }
    return quants_dot32(lo, hi, offset, xq);
}

/* dw * dx * block sum, accumulated per lane (|lane| <= 8 * 31 * 127: converts exactly) */
static inline v128_t scaled_block(v128_t acc, v128_t isum, float dw, float dx)
{
    return mul_add(acc, wasm_f32x4_convert_i32x4(isum), wasm_f32x4_splat(dw * dx));
}

float dot_q4_1_q8_1_simd(const block_q4_1 *w, const block_q8_1 *x, int n)
{
    v128_t acc = wasm_f32x4_splat(0.0f);
    float msum = 0.0f;
    for (int b = 0; b < n / QK8_0; b++) {
        acc = scaled_block(acc, q4_q5_block(w[b].qs, NULL, 0, x[b].qs), fp16_to_fp32(w[b].d),
                           fp16_to_fp32(x[b].d));
        msum += fp16_to_fp32(w[b].m) * fp16_to_fp32(x[b].s);
    }
    return hsum_f32x4(acc) + msum;
}

float dot_q5_0_q8_0_simd(const block_q5_0 *w, const block_q8_0 *x, int n)
{
    v128_t acc = wasm_f32x4_splat(0.0f);
    for (int b = 0; b < n / QK8_0; b++)
        acc = scaled_block(acc, q4_q5_block(w[b].qs, w[b].qh, 16, x[b].qs), fp16_to_fp32(w[b].d),
                           fp16_to_fp32(x[b].d));
    return hsum_f32x4(acc);
}

float dot_q5_1_q8_1_simd(const block_q5_1 *w, const block_q8_1 *x, int n)
{
    v128_t acc = wasm_f32x4_splat(0.0f);
    float msum = 0.0f;
    for (int b = 0; b < n / QK8_0; b++) {
        acc = scaled_block(acc, q4_q5_block(w[b].qs, w[b].qh, 0, x[b].qs), fp16_to_fp32(w[b].d),
                           fp16_to_fp32(x[b].d));
        msum += fp16_to_fp32(w[b].m) * fp16_to_fp32(x[b].s);
    }
    return hsum_f32x4(acc) + msum;
}

/* K-quants. The integer work of a super-block is exact, as in the scalar twin, and ends in the
 * same float expression, so the two twins agree bit for bit. Products of weight and activation
 * bytes fit in int16 (|q*x| <= 63 * 127), so mul_pairs_i8x16 forms them two-at-a-time per lane
 * and i32x4.dot against a splat of the sub-block's scale both widens and scales them in one step. */

/* Products of sixteen unsigned quants q (0..63) and activations x, summed in pairs into the eight
 * int16 lanes, |lane| <= 2 * 63 * 127: q[i]*x[i] + q[i+8]*x[i+8], or in the relaxed build
 * q[2i]*x[2i] + q[2i+1]*x[2i+1]. Callers only use the sum of all eight lanes (i32x4.dot against a
 * splat), which is the same integer either way. */
static inline v128_t mul_pairs_i8x16(v128_t q, v128_t x)
{
#if defined(NTK_RELAXED_SIMD)
    return ntk_relaxed_dot_i8x16_i7x16_s(x, q);
#else
    return wasm_i16x8_add(wasm_i16x8_extmul_low_i8x16(q, x), wasm_i16x8_extmul_high_i8x16(q, x));
#endif
}

static inline int32_t hsum_i32x4(v128_t v)
{
    v = wasm_i32x4_add(v, wasm_i32x4_shuffle(v, v, 2, 3, 0, 1));
    v = wasm_i32x4_add(v, wasm_i32x4_shuffle(v, v, 1, 0, 3, 2));
    return wasm_i32x4_extract_lane(v, 0);
}

#define SPLAT_I16(v, j) wasm_i16x8_shuffle((v), (v), j, j, j, j, j, j, j, j)

/* unpack_q4_K_scales in one vector: u8 lanes 0-7 the scales, 8-15 the mins. */
static inline v128_t q4_K_scales(const uint8_t packed[12])
{
    /* reads 4 bytes past the 12: still inside the block (qh or qs follows) */
    const v128_t v = wasm_v128_load(packed);
    /* low bits: bytes 0-3 and 4-7 masked to six bits, the nibbles of bytes 8-11 */
    const v128_t t = wasm_i8x16_shuffle(v, v, 0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, 8, 9, 10, 11);
    const v128_t low = wasm_v128_or(
        wasm_v128_and(t, wasm_i8x16_make(63, 63, 63, 63, 15, 15, 15, 15, 63, 63, 63, 63, 0, 0, 0, 0)),
        wasm_v128_and(wasm_u16x8_shr(t, 4),
                      wasm_i8x16_make(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 15, 15, 15, 15)));
    /* top two bits of scales and mins 4-7: bits 6-7 of bytes 0-3 and 4-7 moved to 4-5 */
    const v128_t top = wasm_i8x16_shuffle(v, wasm_i8x16_splat(0), 16, 16, 16, 16, 0, 1, 2, 3, 16,
                                          16, 16, 16, 4, 5, 6, 7);
    return wasm_v128_or(low, wasm_v128_and(wasm_u16x8_shr(top, 2), wasm_i8x16_splat(0x30)));
}

/* The quants of sub-blocks 2k (lo0: values 0-15, lo1: 16-31) and 2k+1 (hi0, hi1) of a Q4_K or
 * Q5_K (qh not NULL) block as bytes 0..31: 32 bytes of nibbles and the fifth bits 2k, 2k+1 of
 * qh[0..31]. qh is reloaded for each pair: kept in registers across the pairs, it pushed the
 * loop's vectors out to the stack. */
typedef struct { v128_t lo0, lo1, hi0, hi1; } k4_quants;

static inline __attribute__((always_inline)) k4_quants k4_unpack(const uint8_t *qs,
                                                                  const uint8_t *qh, int k)
{
    const v128_t m4 = wasm_i8x16_splat(15);
    const v128_t q0 = wasm_v128_load(qs + 32 * k), q1 = wasm_v128_load(qs + 32 * k + 16);
    k4_quants q = { wasm_v128_and(q0, m4), wasm_v128_and(q1, m4),
                    wasm_v128_and(wasm_u16x8_shr(q0, 4), m4),
                    wasm_v128_and(wasm_u16x8_shr(q1, 4), m4) };
    if (qh) {
        /* bit 2k to bit 4 (value 16) for the low nibbles, bit 2k+1 for the high ones */
        const v128_t h0 = wasm_u16x8_shr(wasm_v128_load(qh), 2 * k);
        const v128_t h1 = wasm_u16x8_shr(wasm_v128_load(qh + 16), 2 * k);
        const v128_t b4 = wasm_i8x16_splat(16);
        q.lo0 = wasm_v128_or(q.lo0, wasm_v128_and(wasm_i16x8_shl(h0, 4), b4));
        q.lo1 = wasm_v128_or(q.lo1, wasm_v128_and(wasm_i16x8_shl(h1, 4), b4));
        q.hi0 = wasm_v128_or(q.hi0, wasm_v128_and(wasm_i16x8_shl(h0, 3), b4));
        q.hi1 = wasm_v128_or(q.hi1, wasm_v128_and(wasm_i16x8_shl(h1, 3), b4));
    }
    return q;
}

/* acc + a pair of sub-blocks times their 64 activations, scaled by s_lo and s_hi. Four products
 * per int16 lane: <= 4 * 31 * 127. */
static inline __attribute__((always_inline)) v128_t k4_pair(v128_t acc, k4_quants q,
                                                            const int8_t *xq, v128_t s_lo,
                                                            v128_t s_hi)
{
    const v128_t p_lo = wasm_i16x8_add(mul_pairs_i8x16(q.lo0, wasm_v128_load(xq)),
                                       mul_pairs_i8x16(q.lo1, wasm_v128_load(xq + 16)));
    const v128_t p_hi = wasm_i16x8_add(mul_pairs_i8x16(q.hi0, wasm_v128_load(xq + 32)),
                                       mul_pairs_i8x16(q.hi1, wasm_v128_load(xq + 48)));
    return wasm_i32x4_add(acc, wasm_i32x4_add(wasm_i32x4_dot_i16x8(p_lo, s_lo),
                                              wasm_i32x4_dot_i16x8(p_hi, s_hi)));
}

/* sum_j mn[j] * (bsums[2j] + bsums[2j+1]) in four lanes: sub-block j's min meets bsums 2j, 2j+1 */
static inline v128_t k4_mins(v128_t mn, const block_q8_K *x)
{
    return wasm_i32x4_add(
        wasm_i32x4_dot_i16x8(wasm_v128_load(x->bsums), wasm_i16x8_shuffle(mn, mn, 0, 0, 1, 1, 2, 2, 3, 3)),
        wasm_i32x4_dot_i16x8(wasm_v128_load(x->bsums + 8), wasm_i16x8_shuffle(mn, mn, 4, 4, 5, 5, 6, 6, 7, 7)));
}

/* One Q4_K (qh NULL) or Q5_K super-block: k4_block of the scalar twin. */
static inline __attribute__((always_inline)) float k4_block(ggml_half d, ggml_half dmin,
                                                            const uint8_t scales[12],
                                                            const uint8_t *qs, const uint8_t *qh,
                                                            const block_q8_K *x)
{
    const v128_t sm = q4_K_scales(scales);
    const v128_t sc = wasm_u16x8_extend_low_u8x16(sm);
    v128_t acc = wasm_i32x4_splat(0);
    acc = k4_pair(acc, k4_unpack(qs, qh, 0), x->qs, SPLAT_I16(sc, 0), SPLAT_I16(sc, 1));
    acc = k4_pair(acc, k4_unpack(qs, qh, 1), x->qs + 64, SPLAT_I16(sc, 2), SPLAT_I16(sc, 3));
    acc = k4_pair(acc, k4_unpack(qs, qh, 2), x->qs + 128, SPLAT_I16(sc, 4), SPLAT_I16(sc, 5));
    acc = k4_pair(acc, k4_unpack(qs, qh, 3), x->qs + 192, SPLAT_I16(sc, 6), SPLAT_I16(sc, 7));
    const v128_t msum = k4_mins(wasm_u16x8_extend_high_u8x16(sm), x);
    return fp16_to_fp32(d) * x->d * (float)hsum_i32x4(acc) -
           fp16_to_fp32(dmin) * x->d * (float)hsum_i32x4(msum);
}

float dot_q4_K_q8_K_simd(const block_q4_K *w, const block_q8_K *x, int n)
{
    float sum = 0.0f;
    for (int b = 0; b < n / QK_K; b++)
        sum += k4_block(w[b].d, w[b].dmin, w[b].scales, w[b].qs, NULL, &x[b]);
    return sum;
}

float dot_q5_K_q8_K_simd(const block_q5_K *w, const block_q8_K *x, int n)
{
    float sum = 0.0f;
    for (int b = 0; b < n / QK_K; b++)
        sum += k4_block(w[b].d, w[b].dmin, w[b].scales, w[b].qs, w[b].qh, &x[b]);
    return sum;
}

/* Quarter g (values 32g..32g+31) of the half-block (ql, qh) of a Q6_K block as bytes 0..63,
 * values 0-15 in v0 and 16-31 in v1: low nibbles of ql[0..31] (g = 0), ql[32..63] (1), high
 * nibbles of the same (2, 3); top bits 2g, 2g+1 of qh[0..31] moved to bits 4, 5. */
static inline __attribute__((always_inline)) void q6_K_unpack(const uint8_t *ql, const uint8_t *qh,
                                                              int g, v128_t *v0, v128_t *v1)
{
    const v128_t m4 = wasm_i8x16_splat(15), m30 = wasm_i8x16_splat(0x30);
    v128_t l0 = wasm_v128_load(ql + 32 * (g & 1)), l1 = wasm_v128_load(ql + 32 * (g & 1) + 16);
    v128_t h0 = wasm_v128_load(qh), h1 = wasm_v128_load(qh + 16);
    if (g >= 2) {
        l0 = wasm_u16x8_shr(l0, 4);
        l1 = wasm_u16x8_shr(l1, 4);
    }
    if (g == 3) {
        h0 = wasm_u16x8_shr(h0, 2);
        h1 = wasm_u16x8_shr(h1, 2);
    } else {
        h0 = wasm_i16x8_shl(h0, 4 - 2 * g);
        h1 = wasm_i16x8_shl(h1, 4 - 2 * g);
    }
    *v0 = wasm_v128_or(wasm_v128_and(l0, m4), wasm_v128_and(h0, m30));
    *v1 = wasm_v128_or(wasm_v128_and(l1, m4), wasm_v128_and(h1, m30));
}

/* acc + a quarter's unsigned quants (v0, v1) times its 32 activations, scaled per 16 */
static inline __attribute__((always_inline)) v128_t q6_K_quarter(v128_t acc, v128_t v0, v128_t v1,
                                                                 const int8_t *xq, v128_t s0,
                                                                 v128_t s1)
{
    const v128_t p0 = mul_pairs_i8x16(v0, wasm_v128_load(xq));
    const v128_t p1 = mul_pairs_i8x16(v1, wasm_v128_load(xq + 16));
    return wasm_i32x4_add(acc, wasm_i32x4_add(wasm_i32x4_dot_i16x8(p0, s0),
                                              wasm_i32x4_dot_i16x8(p1, s1)));
}

/* Values 128h..128h+127 (ql, qh, xq of the half), sc the half's eight scales as int16 */
static inline __attribute__((always_inline)) v128_t q6_K_half(v128_t acc, const uint8_t *ql,
                                                              const uint8_t *qh, const int8_t *xq,
                                                              v128_t sc)
{
    v128_t v0, v1;
    q6_K_unpack(ql, qh, 0, &v0, &v1);
    acc = q6_K_quarter(acc, v0, v1, xq, SPLAT_I16(sc, 0), SPLAT_I16(sc, 1));
    q6_K_unpack(ql, qh, 1, &v0, &v1);
    acc = q6_K_quarter(acc, v0, v1, xq + 32, SPLAT_I16(sc, 2), SPLAT_I16(sc, 3));
    q6_K_unpack(ql, qh, 2, &v0, &v1);
    acc = q6_K_quarter(acc, v0, v1, xq + 64, SPLAT_I16(sc, 4), SPLAT_I16(sc, 5));
    q6_K_unpack(ql, qh, 3, &v0, &v1);
    return q6_K_quarter(acc, v0, v1, xq + 96, SPLAT_I16(sc, 6), SPLAT_I16(sc, 7));
}

/* sum_j sc_j * bsums_j in four lanes: what the -32 of every quant takes back, times 32 */
static inline v128_t q6_K_offset(v128_t sc_lo, v128_t sc_hi, const block_q8_K *x)
{
    return wasm_i32x4_add(wasm_i32x4_dot_i16x8(wasm_v128_load(x->bsums), sc_lo),
                          wasm_i32x4_dot_i16x8(wasm_v128_load(x->bsums + 8), sc_hi));
}

/* The quants are taken unsigned (0..63) and the -32 comes back through the activation block
 * sums: sum sc*(q-32)*x = sum sc*q*x - 32 * sum_j sc_j*bsums_j. */
float dot_q6_K_q8_K_simd(const block_q6_K *w, const block_q8_K *x, int n)
{
    float sum = 0.0f;
    for (int b = 0; b < n / QK_K; b++) {
        const v128_t s8 = wasm_v128_load(w[b].scales);
        const v128_t sc_lo = wasm_i16x8_extend_low_i8x16(s8), sc_hi = wasm_i16x8_extend_high_i8x16(s8);
        v128_t acc = q6_K_half(wasm_i32x4_splat(0), w[b].ql, w[b].qh, x[b].qs, sc_lo);
        acc = q6_K_half(acc, w[b].ql + 64, w[b].qh + 32, x[b].qs + 128, sc_hi);
        const int32_t isum = hsum_i32x4(acc) - 32 * hsum_i32x4(q6_K_offset(sc_lo, sc_hi, &x[b]));
        sum += fp16_to_fp32(w[b].d) * x[b].d * (float)isum;
    }
    return sum;
}

/* Several tokens at once (dots_*): each block of weights is unpacked once and meets T tokens'
 * activations, T a constant so that the per-token accumulators stay in registers. Each token's
 * integer sums are those of the one-token kernel, and the float terms are its expressions, four
 * tokens to a vector, so the results are the same bit for bit. Groups of eight tokens: more
 * spill registers in V8, fewer leave unpacking a larger share of the work. */

static inline const block_q8_K *token_row(const block_q8_K *x, size_t x_stride, int t)
{
    return (const block_q8_K *)((const uint8_t *)x + (size_t)t * x_stride);
}

/* (sum of a's lanes, of b's, of c's, of d's) */
static inline v128_t hsum_i32x4_x4(v128_t a, v128_t b, v128_t c, v128_t d)
{
    const v128_t ab = wasm_i32x4_add(wasm_i32x4_shuffle(a, b, 0, 4, 1, 5), wasm_i32x4_shuffle(a, b, 2, 6, 3, 7));
    const v128_t cd = wasm_i32x4_add(wasm_i32x4_shuffle(c, d, 0, 4, 1, 5), wasm_i32x4_shuffle(c, d, 2, 6, 3, 7));
    return wasm_i32x4_add(wasm_i32x4_shuffle(ab, cd, 0, 1, 4, 5), wasm_i32x4_shuffle(ab, cd, 2, 3, 6, 7));
}

/* Tokens g..g+3 of T (the missing ones zero) of block b: their activation scales, their integer
 * sums (acc) and their second sums (k4_mins for Q4_K/Q5_K, q6_K_offset for Q6_K) in lanes. */
typedef struct { v128_t xd, isum, aux; } token_lanes;

static inline __attribute__((always_inline)) token_lanes lanes_of(const v128_t *acc, int g, int T,
                                                                  const block_q8_K *x,
                                                                  size_t x_stride, int b, int q6,
                                                                  v128_t m_lo, v128_t m_hi)
{
    v128_t a[4], m[4];
    float xd[4];
    for (int i = 0; i < 4; i++) {
        const int t = g + i;
        a[i] = m[i] = wasm_i32x4_splat(0);
        xd[i] = 0.0f;
        if (t < T) {
            const block_q8_K *xt = token_row(x, x_stride, t) + b;
            a[i] = acc[t];
            m[i] = q6 ? q6_K_offset(m_lo, m_hi, xt) : k4_mins(m_lo, xt);
            xd[i] = xt->d;
        }
    }
    const token_lanes l = { wasm_f32x4_make(xd[0], xd[1], xd[2], xd[3]),
                            hsum_i32x4_x4(a[0], a[1], a[2], a[3]),
                            hsum_i32x4_x4(m[0], m[1], m[2], m[3]) };
    return l;
}

static inline void store_tokens(float *out, const v128_t *sum, int T)
{
    float all[NTK_DOTS_TOKENS];
    wasm_v128_store(all, sum[0]);
    wasm_v128_store(all + 4, sum[1]);
    for (int t = 0; t < T; t++)
        out[t] = all[t];
}

/* acc[t] of T tokens + a Q4_K/Q5_K pair of sub-blocks times token t's activations */
static inline __attribute__((always_inline)) void k4_pair_tokens(v128_t *acc, int T, k4_quants q,
                                                                 const block_q8_K *x,
                                                                 size_t x_stride, int b, int k,
                                                                 v128_t s_lo, v128_t s_hi)
{
    for (int t = 0; t < T; t++)
        acc[t] = k4_pair(acc[t], q, token_row(x, x_stride, t)[b].qs + 64 * k, s_lo, s_hi);
}

/* T tokens against a row of Q4_K (qh_off 0) or Q5_K blocks of w_size bytes, each starting with
 * d, dmin and the packed scales, its nibbles at qs_off: k4_block's terms in lanes. */
static inline __attribute__((always_inline)) void k4_tokens(const uint8_t *w, size_t w_size,
                                                            size_t qs_off, size_t qh_off,
                                                            const block_q8_K *x, size_t x_stride,
                                                            int T, int n, float *out)
{
    v128_t sum[2] = { wasm_f32x4_splat(0.0f), wasm_f32x4_splat(0.0f) };
    for (int b = 0; b < n / QK_K; b++) {
        const uint8_t *blk = w + (size_t)b * w_size;
        const uint8_t *qs = blk + qs_off, *qh = qh_off ? blk + qh_off : NULL;
        const v128_t sm = q4_K_scales(blk + 4);
        const v128_t sc = wasm_u16x8_extend_low_u8x16(sm);
        v128_t acc[NTK_DOTS_TOKENS];
        for (int t = 0; t < T; t++)
            acc[t] = wasm_i32x4_splat(0);
        k4_pair_tokens(acc, T, k4_unpack(qs, qh, 0), x, x_stride, b, 0, SPLAT_I16(sc, 0), SPLAT_I16(sc, 1));
        k4_pair_tokens(acc, T, k4_unpack(qs, qh, 1), x, x_stride, b, 1, SPLAT_I16(sc, 2), SPLAT_I16(sc, 3));
        k4_pair_tokens(acc, T, k4_unpack(qs, qh, 2), x, x_stride, b, 2, SPLAT_I16(sc, 4), SPLAT_I16(sc, 5));
        k4_pair_tokens(acc, T, k4_unpack(qs, qh, 3), x, x_stride, b, 3, SPLAT_I16(sc, 6), SPLAT_I16(sc, 7));
        const ggml_half *dh = (const ggml_half *)blk;
        const v128_t d = wasm_f32x4_splat(fp16_to_fp32(dh[0]));
        const v128_t dmin = wasm_f32x4_splat(fp16_to_fp32(dh[1]));
        const v128_t mn = wasm_u16x8_extend_high_u8x16(sm);
        for (int g = 0; g < T; g += 4) {
            const token_lanes l = lanes_of(acc, g, T, x, x_stride, b, 0, mn, mn);
            const v128_t term = wasm_f32x4_sub(
                wasm_f32x4_mul(wasm_f32x4_mul(d, l.xd), wasm_f32x4_convert_i32x4(l.isum)),
                wasm_f32x4_mul(wasm_f32x4_mul(dmin, l.xd), wasm_f32x4_convert_i32x4(l.aux)));
            sum[g / 4] = wasm_f32x4_add(sum[g / 4], term);
        }
    }
    store_tokens(out, sum, T);
}

/* acc[t] of T tokens + quarter g of half h of a Q6_K block times token t's activations */
static inline __attribute__((always_inline)) void q6_K_quarter_tokens(v128_t *acc, int T,
                                                                      const block_q6_K *w,
                                                                      const block_q8_K *x,
                                                                      size_t x_stride, int b,
                                                                      int h, int g, v128_t s0,
                                                                      v128_t s1)
{
    v128_t v0, v1;
    q6_K_unpack(w->ql + 64 * h, w->qh + 32 * h, g, &v0, &v1);
    for (int t = 0; t < T; t++)
        acc[t] = q6_K_quarter(acc[t], v0, v1, token_row(x, x_stride, t)[b].qs + 128 * h + 32 * g, s0, s1);
}

static inline __attribute__((always_inline)) void q6_K_tokens(const block_q6_K *w,
                                                              const block_q8_K *x, size_t x_stride,
                                                              int T, int n, float *out)
{
    v128_t sum[2] = { wasm_f32x4_splat(0.0f), wasm_f32x4_splat(0.0f) };
    for (int b = 0; b < n / QK_K; b++) {
        const v128_t s8 = wasm_v128_load(w[b].scales);
        const v128_t lo = wasm_i16x8_extend_low_i8x16(s8), hi = wasm_i16x8_extend_high_i8x16(s8);
        v128_t acc[NTK_DOTS_TOKENS];
        for (int t = 0; t < T; t++)
            acc[t] = wasm_i32x4_splat(0);
        q6_K_quarter_tokens(acc, T, &w[b], x, x_stride, b, 0, 0, SPLAT_I16(lo, 0), SPLAT_I16(lo, 1));
        q6_K_quarter_tokens(acc, T, &w[b], x, x_stride, b, 0, 1, SPLAT_I16(lo, 2), SPLAT_I16(lo, 3));
        q6_K_quarter_tokens(acc, T, &w[b], x, x_stride, b, 0, 2, SPLAT_I16(lo, 4), SPLAT_I16(lo, 5));
        q6_K_quarter_tokens(acc, T, &w[b], x, x_stride, b, 0, 3, SPLAT_I16(lo, 6), SPLAT_I16(lo, 7));
        q6_K_quarter_tokens(acc, T, &w[b], x, x_stride, b, 1, 0, SPLAT_I16(hi, 0), SPLAT_I16(hi, 1));
        q6_K_quarter_tokens(acc, T, &w[b], x, x_stride, b, 1, 1, SPLAT_I16(hi, 2), SPLAT_I16(hi, 3));
        q6_K_quarter_tokens(acc, T, &w[b], x, x_stride, b, 1, 2, SPLAT_I16(hi, 4), SPLAT_I16(hi, 5));
        q6_K_quarter_tokens(acc, T, &w[b], x, x_stride, b, 1, 3, SPLAT_I16(hi, 6), SPLAT_I16(hi, 7));
        const v128_t d = wasm_f32x4_splat(fp16_to_fp32(w[b].d));
        for (int g = 0; g < T; g += 4) {
            const token_lanes l = lanes_of(acc, g, T, x, x_stride, b, 1, lo, hi);
            const v128_t isum = wasm_i32x4_sub(l.isum, wasm_i32x4_shl(l.aux, 5));
            sum[g / 4] = wasm_f32x4_add(sum[g / 4], wasm_f32x4_mul(wasm_f32x4_mul(d, l.xd),
                                                                   wasm_f32x4_convert_i32x4(isum)));
        }
    }
    store_tokens(out, sum, T);
}

enum { DOTS_Q4_K, DOTS_Q5_K, DOTS_Q6_K };

/* T tokens of one kind; a single token takes the one-token kernel, which is faster alone. */
static inline __attribute__((always_inline)) void k_tokens(int kind, const void *w,
                                                           const block_q8_K *x, size_t x_stride,
                                                           int T, int n, float *out)
{
    switch (kind) {
    case DOTS_Q4_K:
        if (T == 1) *out = dot_q4_K_q8_K_simd(w, x, n);
        else k4_tokens(w, sizeof(block_q4_K), offsetof(block_q4_K, qs), 0, x, x_stride, T, n, out);
        break;
    case DOTS_Q5_K:
        if (T == 1) *out = dot_q5_K_q8_K_simd(w, x, n);
        else k4_tokens(w, sizeof(block_q5_K), offsetof(block_q5_K, qs), offsetof(block_q5_K, qh), x,
                       x_stride, T, n, out);
        break;
    default:
        if (T == 1) *out = dot_q6_K_q8_K_simd(w, x, n);
        else q6_K_tokens(w, x, x_stride, T, n, out);
        break;
    }
}

/* n_tok tokens in groups of `group` (NTK_DOTS_TOKENS, or 4 for the relaxed build's Q6_K kernel,
 * which at 8 spills registers in V8 and ran 1.4x slower), then one of 4, 2 and 1 as needed */
static inline __attribute__((always_inline)) void k_dots(int kind, const void *w,
                                                         const block_q8_K *x, size_t x_stride,
                                                         int n_tok, int n, float *out)
{
    const int group = kind == DOTS_Q6_K && NTK_RELAXED ? 4 : NTK_DOTS_TOKENS;
    int t = 0;
    for (; t + group <= n_tok; t += group)
        k_tokens(kind, w, token_row(x, x_stride, t), x_stride, group, n, out + t);
    if (t + 4 <= n_tok) {
        k_tokens(kind, w, token_row(x, x_stride, t), x_stride, 4, n, out + t);
        t += 4;
    }
    if (t + 2 <= n_tok) {
        k_tokens(kind, w, token_row(x, x_stride, t), x_stride, 2, n, out + t);
        t += 2;
    }
    if (t < n_tok)
        k_tokens(kind, w, token_row(x, x_stride, t), x_stride, 1, n, out + t);
}

void dots_q4_K_q8_K_simd(const block_q4_K *w, const block_q8_K *x, size_t x_stride, int n_tok,
                         int n, float *out)
{
    k_dots(DOTS_Q4_K, w, x, x_stride, n_tok, n, out);
}

void dots_q5_K_q8_K_simd(const block_q5_K *w, const block_q8_K *x, size_t x_stride, int n_tok,
                         int n, float *out)
{
    k_dots(DOTS_Q5_K, w, x, x_stride, n_tok, n, out);
}

void dots_q6_K_q8_K_simd(const block_q6_K *w, const block_q8_K *x, size_t x_stride, int n_tok,
                         int n, float *out)
{
    k_dots(DOTS_Q6_K, w, x, x_stride, n_tok, n, out);
}

void axpy_f32_simd(float *y, float a, const float *x, int n)
{
    const v128_t va = wasm_f32x4_splat(a);
    int i = 0;
    for (; i + 16 <= n; i += 16)
        for (int u = i; u < i + 16; u += 4)
            wasm_v128_store(y + u, mul_add(wasm_v128_load(y + u), va, wasm_v128_load(x + u)));
    for (; i + 4 <= n; i += 4)
        wasm_v128_store(y + i, mul_add(wasm_v128_load(y + i), va, wasm_v128_load(x + i)));
    for (; i < n; i++)
        y[i] += a * x[i];
}

/* Rotation of four adjacent pairs x[0..7] by angles c[0..3], s[0..3], as two vectors.
 * Per pair (x0, x1): (x0*c - x1*s, x1*c + x0*s) = x*(c, c) + swap(x)*(-s, s), which rounds
 * exactly like the scalar formula (negation is exact and float addition commutes). */
static inline void rotate4(v128_t *r_lo, v128_t *r_hi, v128_t x_lo, v128_t x_hi, const float *c,
                           const float *s)
{
    const v128_t c4 = wasm_v128_load(c), s4 = wasm_v128_load(s);
    const v128_t neg_even = wasm_f32x4_make(-0.0f, 0.0f, -0.0f, 0.0f);
    const v128_t c_lo = wasm_i32x4_shuffle(c4, c4, 0, 0, 1, 1);
    const v128_t c_hi = wasm_i32x4_shuffle(c4, c4, 2, 2, 3, 3);
    const v128_t s_lo = wasm_v128_xor(wasm_i32x4_shuffle(s4, s4, 0, 0, 1, 1), neg_even);
    const v128_t s_hi = wasm_v128_xor(wasm_i32x4_shuffle(s4, s4, 2, 2, 3, 3), neg_even);
    *r_lo = wasm_f32x4_add(wasm_f32x4_mul(x_lo, c_lo),
                           wasm_f32x4_mul(wasm_i32x4_shuffle(x_lo, x_lo, 1, 0, 3, 2), s_lo));
    *r_hi = wasm_f32x4_add(wasm_f32x4_mul(x_hi, c_hi),
                           wasm_f32x4_mul(wasm_i32x4_shuffle(x_hi, x_hi, 1, 0, 3, 2), s_hi));
}

/* y = x turned by (c, s); y may be x. */
static void rotate_row(float *y, const float *x, const float *c, const float *s, int head_dim)
{
    const int half = head_dim / 2;
    int i = 0;
    for (; i + 4 <= half; i += 4) {
        v128_t r_lo, r_hi;
        rotate4(&r_lo, &r_hi, wasm_v128_load(x + 2 * i), wasm_v128_load(x + 2 * i + 4), c + i,
                s + i);
        wasm_v128_store(y + 2 * i, r_lo);
        wasm_v128_store(y + 2 * i + 4, r_hi);
    }
    for (; i < half; i++) {
        const float x0 = x[2 * i], x1 = x[2 * i + 1];
        y[2 * i] = x0 * c[i] - x1 * s[i];
        y[2 * i + 1] = x0 * s[i] + x1 * c[i];
    }
}

void rope_rotate_simd(float *x, const float *c, const float *s, int head_dim)
{
    rotate_row(x, x, c, s, head_dim);
}

/* Row j of a KV cache of the given type as floats, converted exactly as the scalar twin does:
 * the half conversions are exact (the cheap one only where all eight halves are normal), and
 * d * (float)q rounds once either way. */
static const float *kv_row(const void *base, int type, int j, int stride, int head_dim,
                           float *tmp)
{
    if (type == NTK_KV_F16) {
        const ggml_half *h = (const ggml_half *)base + (size_t)j * stride;
        int i = 0;
        for (; i + 8 <= head_dim; i += 8) {
            const v128_t h8 = wasm_v128_load(h + i);
            if (any_not_normal(half_exp_rank(h8))) {
                wasm_v128_store(tmp + i, half_any_to_f32x4(half_lo(h8)));
                wasm_v128_store(tmp + i + 4, half_any_to_f32x4(half_hi(h8)));
            } else {
                wasm_v128_store(tmp + i, half_normal_to_f32x4(half_lo(h8)));
                wasm_v128_store(tmp + i + 4, half_normal_to_f32x4(half_hi(h8)));
            }
        }
        for (; i < head_dim; i++)
            tmp[i] = fp16_to_fp32(h[i]);
        return tmp;
    }
    if (type == NTK_KV_Q8_0) {
        const block_q8_0 *b = (const block_q8_0 *)base + (size_t)j * (stride / QK8_0);
        for (int i = 0; i < head_dim / QK8_0; i++) {
            const v128_t d = wasm_f32x4_splat(fp16_to_fp32(b[i].d));
            float *y = tmp + i * QK8_0;
            for (int e = 0; e < QK8_0; e += 16) {
                const v128_t q16 = wasm_v128_load(b[i].qs + e);
                const v128_t lo = wasm_i16x8_extend_low_i8x16(q16);
                const v128_t hi = wasm_i16x8_extend_high_i8x16(q16);
                wasm_v128_store(y + e, wasm_f32x4_mul(d, wasm_f32x4_convert_i32x4(wasm_i32x4_extend_low_i16x8(lo))));
                wasm_v128_store(y + e + 4, wasm_f32x4_mul(d, wasm_f32x4_convert_i32x4(wasm_i32x4_extend_high_i16x8(lo))));
                wasm_v128_store(y + e + 8, wasm_f32x4_mul(d, wasm_f32x4_convert_i32x4(wasm_i32x4_extend_low_i16x8(hi))));
                wasm_v128_store(y + e + 12, wasm_f32x4_mul(d, wasm_f32x4_convert_i32x4(wasm_i32x4_extend_high_i16x8(hi))));
            }
        }
        return tmp;
    }
    return (const float *)base + (size_t)j * stride;
}

/* out += sum_i p[i] * v_i over n f32 rows. Sixteen output columns stay in four registers while
 * the rows stream past, so out is read and written once per chunk rather than once per row. */
static void accumulate_rows(float *out, const float *p, const float *v, int n, int stride,
                            int head_dim)
{
    int d = 0;
    for (; d + 16 <= head_dim; d += 16) {
        v128_t o0 = wasm_v128_load(out + d), o1 = wasm_v128_load(out + d + 4);
        v128_t o2 = wasm_v128_load(out + d + 8), o3 = wasm_v128_load(out + d + 12);
        const float *vj = v + d;
        for (int j = 0; j < n; j++, vj += stride) {
            const v128_t pj = wasm_f32x4_splat(p[j]);
            o0 = mul_add(o0, pj, wasm_v128_load(vj));
            o1 = mul_add(o1, pj, wasm_v128_load(vj + 4));
            o2 = mul_add(o2, pj, wasm_v128_load(vj + 8));
            o3 = mul_add(o3, pj, wasm_v128_load(vj + 12));
        }
        wasm_v128_store(out + d, o0);
        wasm_v128_store(out + d + 4, o1);
        wasm_v128_store(out + d + 8, o2);
        wasm_v128_store(out + d + 12, o3);
    }
    for (; d + 4 <= head_dim; d += 4) {
        v128_t o = wasm_v128_load(out + d);
        const float *vj = v + d;
        for (int j = 0; j < n; j++, vj += stride)
            o = mul_add(o, wasm_f32x4_splat(p[j]), wasm_v128_load(vj));
        wasm_v128_store(out + d, o);
    }
    for (; d < head_dim; d++) {
        float o = out[d];
        for (int j = 0; j < n; j++)
            o += p[j] * v[(size_t)j * stride + d];
        out[d] = o;
    }
}

static const float *rows_simd(const void *base, int type, int j0, int n, int stride,
                             int head_dim, const float *rot_cos, const float *rot_sin, float *buf,
                             int *row_stride)
{
    if (type == NTK_KV_F32 && !rot_cos) {
        *row_stride = stride;
        return (const float *)base + (size_t)j0 * stride;
    }
    *row_stride = head_dim;
    const size_t half = (size_t)head_dim / 2;
    for (int j = 0; j < n; j++) {
        float *y = buf + (size_t)j * head_dim;
        const float *x = kv_row(base, type, j0 + j, stride, head_dim, y);
        if (rot_cos)
            rotate_row(y, x, rot_cos + j * half, rot_sin + j * half, head_dim);
    }
    return buf;
}

/* Four keys per step share each load of q, and their four sums are reduced together. */
static void scores_simd(float *scores, const float *q, const float *k, int n, int row_stride,
                        int head_dim, float scale)
{
    int i = 0;
    for (; i + 4 <= n; i += 4) {
        const float *k0 = k + (size_t)i * row_stride, *k1 = k0 + row_stride;
        const float *k2 = k1 + row_stride, *k3 = k2 + row_stride;
        v128_t a0 = wasm_f32x4_splat(0.0f), a1 = a0, a2 = a0, a3 = a0;
        int d = 0;
        for (; d + 4 <= head_dim; d += 4) {
            const v128_t qd = wasm_v128_load(q + d);
            a0 = mul_add(a0, qd, wasm_v128_load(k0 + d));
            a1 = mul_add(a1, qd, wasm_v128_load(k1 + d));
            a2 = mul_add(a2, qd, wasm_v128_load(k2 + d));
            a3 = mul_add(a3, qd, wasm_v128_load(k3 + d));
        }
        /* transpose-add: lane j of the result is the sum of a_j's lanes */
        const v128_t s01 = wasm_f32x4_add(wasm_i32x4_shuffle(a0, a1, 0, 4, 1, 5),
                                          wasm_i32x4_shuffle(a0, a1, 2, 6, 3, 7));
        const v128_t s23 = wasm_f32x4_add(wasm_i32x4_shuffle(a2, a3, 0, 4, 1, 5),
                                          wasm_i32x4_shuffle(a2, a3, 2, 6, 3, 7));
        v128_t sum = wasm_f32x4_add(wasm_i32x4_shuffle(s01, s23, 0, 1, 4, 5),
                                    wasm_i32x4_shuffle(s01, s23, 2, 3, 6, 7));
        for (; d < head_dim; d++)
            sum = wasm_f32x4_add(sum, wasm_f32x4_mul(wasm_f32x4_splat(q[d]),
                                                     wasm_f32x4_make(k0[d], k1[d], k2[d], k3[d])));
        wasm_v128_store(scores + i, wasm_f32x4_mul(sum, wasm_f32x4_splat(scale)));
    }
    for (; i < n; i++)
        scores[i] = scale * dot_f32_simd(q, k + (size_t)i * row_stride, head_dim);
}

/* exp(x) for x <= 0 (a score minus the running max): 2^n * e^r with n = round(x/ln 2) and
 * |r| <= ln2/2, e^r by Cephes' degree-7 polynomial (1 + r + r^2 * p(r)), ln 2 split in two so
 * r is exact. x below -87.3 is clamped there (e^x < 2^-126 adds nothing next to the max's 1),
 * which keeps 2^n a normal float. NaN stays NaN. */
static inline v128_t exp_neg_f32x4(v128_t x)
{
    x = wasm_f32x4_max(x, wasm_f32x4_splat(-87.33654f));
    const v128_t n = wasm_f32x4_nearest(wasm_f32x4_mul(x, wasm_f32x4_splat(1.44269504088896341f)));
    v128_t r = wasm_f32x4_sub(x, wasm_f32x4_mul(n, wasm_f32x4_splat(0.693359375f)));
    r = wasm_f32x4_sub(r, wasm_f32x4_mul(n, wasm_f32x4_splat(-2.12194440e-4f)));
    v128_t p = wasm_f32x4_splat(1.9875691500e-4f);
    p = mul_add(wasm_f32x4_splat(1.3981999507e-3f), p, r);
    p = mul_add(wasm_f32x4_splat(8.3334519073e-3f), p, r);
    p = mul_add(wasm_f32x4_splat(4.1665795894e-2f), p, r);
    p = mul_add(wasm_f32x4_splat(1.6666665459e-1f), p, r);
    p = mul_add(wasm_f32x4_splat(5.0000001201e-1f), p, r);
    p = mul_add(wasm_f32x4_add(r, wasm_f32x4_splat(1.0f)), p, wasm_f32x4_mul(r, r));
    const v128_t pow2n = wasm_i32x4_shl(wasm_i32x4_add(wasm_i32x4_trunc_sat_f32x4(n), wasm_i32x4_splat(127)), 23);
    return wasm_f32x4_mul(p, pow2n);
}

float softmax_chunk_simd(float *scores, int n, float *max, float *sum)
{
    float m = *max;
    int j = 0;
    if (n >= 4) {
        v128_t m4 = wasm_f32x4_splat(m);
        for (; j + 4 <= n; j += 4)
            m4 = wasm_f32x4_max(m4, wasm_v128_load(scores + j));
        m4 = wasm_f32x4_max(m4, wasm_i32x4_shuffle(m4, m4, 2, 3, 0, 1));
        m4 = wasm_f32x4_max(m4, wasm_i32x4_shuffle(m4, m4, 1, 0, 3, 2));
        m = wasm_f32x4_extract_lane(m4, 0);
    }
    for (; j < n; j++)
        m = fmaxf(m, scores[j]);
    const float rescale = m > *max ? expf(*max - m) : 1.0f;
    const v128_t m4 = wasm_f32x4_splat(m);
    v128_t s4 = wasm_f32x4_splat(0.0f);
    j = 0;
    for (; j + 4 <= n; j += 4) {
        const v128_t e = exp_neg_f32x4(wasm_f32x4_sub(wasm_v128_load(scores + j), m4));
        wasm_v128_store(scores + j, e);
        s4 = wasm_f32x4_add(s4, e);
    }
    float s = *sum * rescale + hsum_f32x4(s4);
    for (; j < n; j++) {
        scores[j] = expf(scores[j] - m);
        s += scores[j];
    }
    *max = m;
    *sum = s;
    return rescale;
}

void attention_tile_simd(float *out, const float *q, int n_tok, int n_head, int q_stride,
                         const attn_kv *kv, int n_past, const attn_rope *rope, float scale,
                         float *scratch)
{
    static const attn_ops ops = { rows_simd, rope_rotate_simd, scores_simd, softmax_chunk_simd,
                                  accumulate_rows };
    attention_tile_run(&ops, out, q, n_tok, n_head, q_stride, kv, n_past, rope, scale, scratch);
}

#endif
