/* legacy_simd.c — WebAssembly SIMD128 twins of legacy_scalar.c: the dots of Q8_0, Q4_0, Q4_1,
 * Q5_0 and Q5_1 weights with Q8_0 or Q8_1 activations.
 *
 * Every block's integer sum is exact, as in the scalar twin; scaling and adding the blocks rounds
 * in another order, so the twins agree to float rounding. The relaxed build (NTK_RELAXED_SIMD)
 * forms the int8 products with relaxed_dot (simd.h): the same integers. */
#if defined(__wasm_simd128__)

#include "simd.h"

#if !defined(NTK_RELAXED_SIMD)
/* Exact int32 partial sums (four lanes) of 16 int8 products; the relaxed build forms them with
 * relaxed_dot instead, so it has no use for this. */
static inline v128_t dot_i8x16(v128_t a, v128_t b) {
    const v128_t lo = wasm_i32x4_dot_i16x8(wasm_i16x8_extend_low_i8x16(a), wasm_i16x8_extend_low_i8x16(b));
    const v128_t hi = wasm_i32x4_dot_i16x8(wasm_i16x8_extend_high_i8x16(a), wasm_i16x8_extend_high_i8x16(b));
    return wasm_i32x4_add(lo, hi);
}
#endif

/* dot_i8x16 of Q8_0 weights w (any int8) and activations x (-127..127, quantize_row_q8_0's
 * range). The relaxed build's relaxed_dot wants its unsigned operand under 128, so x is split into
 * x+ = max(x, 0) and x- = x+ - x, both 0..127, and w.x = w.x+ - w.x-: each int16 lane of the
 * difference is a true pair sum, |w[2i]*x[2i] + w[2i+1]*x[2i+1]| <= 2*128*127, so the wrapping
 * subtraction is exact. */
static inline v128_t q8_dot16(v128_t w, v128_t x) {
#if defined(NTK_RELAXED_SIMD)
    const v128_t xp = wasm_i8x16_max(x, wasm_i8x16_splat(0)), xm = wasm_i8x16_sub(xp, x);
    const v128_t pairs = wasm_i16x8_sub(ntk_relaxed_dot_i8x16_i7x16_s(w, xp), ntk_relaxed_dot_i8x16_i7x16_s(w, xm));
    return wasm_i32x4_dot_i16x8(pairs, wasm_i16x8_splat(1));
#else
    return dot_i8x16(w, x);
#endif
}

static inline v128_t q8_0_block(const block_q8_0 *w, const block_q8_0 *x) {
    return wasm_i32x4_add(q8_dot16(wasm_v128_load(w->qs), wasm_v128_load(x->qs)),
                          q8_dot16(wasm_v128_load(w->qs + 16), wasm_v128_load(x->qs + 16)));
}

/* sum (q[i] - offset) * x[i] over 32 unsigned quants (lo: values 0-15, hi: 16-31; q <= 31) and
 * activations xq[0..31], in four int32 lanes. The relaxed build multiplies the unsigned quants as
 * they are and takes offset * sum x back: int16 pair sums stay under 4*31*127 + 4*16*127. */
static inline __attribute__((always_inline)) v128_t quants_dot32(v128_t lo, v128_t hi, int offset, const int8_t *xq) {
    const v128_t x0 = wasm_v128_load(xq), x1 = wasm_v128_load(xq + 16);
#if defined(NTK_RELAXED_SIMD)
    v128_t p = wasm_i16x8_add(ntk_relaxed_dot_i8x16_i7x16_s(x0, lo), ntk_relaxed_dot_i8x16_i7x16_s(x1, hi));
    if (offset) {
        const v128_t o = wasm_i8x16_splat((int8_t)offset);
        p = wasm_i16x8_sub(p,
                           wasm_i16x8_add(ntk_relaxed_dot_i8x16_i7x16_s(x0, o), ntk_relaxed_dot_i8x16_i7x16_s(x1, o)));
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
static inline v128_t q4_0_block(const block_q4_0 *w, const block_q8_0 *x) {
    const v128_t packed = wasm_v128_load(w->qs), low4 = wasm_i8x16_splat(0x0f);
    return quants_dot32(wasm_v128_and(packed, low4), wasm_v128_and(wasm_u16x8_shr(packed, 4), low4), 8, x->qs);
}

/* Quantized dots work on pairs of blocks. Each block's integer sum is exact, as in the scalar
 * twin, and is folded into one vector holding (S0, S1, S0, S1), so converting, scaling and
 * accumulating cost one vector op per pair; the pair's four fp16 scales convert together.
 * Pairs rather than larger groups: V8 schedules all of an iteration's loads first, and four
 * blocks' worth (16 vectors) already spill registers. */
typedef struct {
    const uint8_t *w; /* first weight block; d at offset 0 of every block type */
    size_t w_size;    /* bytes per weight block */
    int q4;           /* block_q4_0 weights, else block_q8_0 */
    const block_q8_0 *x;
} qdot;

static inline v128_t block_sum(const qdot *q, int b) {
    const uint8_t *w = q->w + (size_t)b * q->w_size;
    return q->q4 ? q4_0_block((const block_q4_0 *)w, q->x + b) : q8_0_block((const block_q8_0 *)w, q->x + b);
}

/* Block b and, if count is 2, block b + 1 (else a zero block). */
static inline __attribute__((always_inline)) v128_t pair_sums(const qdot *q, int b, int count) {
    const v128_t s0 = block_sum(q, b);
    const v128_t s1 = count > 1 ? block_sum(q, b + 1) : wasm_i32x4_splat(0);
    /* t = (s0 lanes 0+2, s1 lanes 0+2, s0 lanes 1+3, s1 lanes 1+3) */
    const v128_t t = wasm_i32x4_add(wasm_i32x4_shuffle(s0, s1, 0, 4, 1, 5), wasm_i32x4_shuffle(s0, s1, 2, 6, 3, 7));
    /* |sum| <= 32 * 128 * 128 < 2^24: the conversion is exact */
    return wasm_f32x4_convert_i32x4(wasm_i32x4_add(t, wasm_i32x4_shuffle(t, t, 2, 3, 0, 1)));
}

/* Halves (dw0, dw1, dx0, dx1) in the low four 16-bit lanes. The other lanes, and dw1, dx1
 * when there is no second block, hold 1.0: a normal half, so they never force the exact
 * conversion, and harmless as a scale since a missing block's sum is zero. */
static inline __attribute__((always_inline)) v128_t pair_scales(const qdot *q, int b, int count) {
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
static inline __attribute__((always_inline)) v128_t pair_terms(const qdot *q, int b, int count, int exact) {
    const v128_t h = half_lo(pair_scales(q, b, count));
    const v128_t f = exact ? half_any_to_f32x4(h) : half_normal_to_f32x4(h);
    const v128_t d = wasm_f32x4_mul(f, wasm_i32x4_shuffle(f, f, 2, 3, 0, 1));
    return wasm_f32x4_mul(d, pair_sums(q, b, count));
}

/* Scales that are not normal halves (a zero scale, from an all-zero block, is enough) take
 * the exact conversion outside the inner loop: inside, its constants would crowd registers. */
static inline __attribute__((always_inline)) float dot_blocks(const qdot *q, int nb) {
    v128_t acc = wasm_f32x4_splat(0.0f);
    int b = 0;
    while (b + 2 <= nb) {
        for (; b + 2 <= nb; b += 2) {
            if (any_not_normal(half_exp_rank(pair_scales(q, b, 2)))) break;
            acc = wasm_f32x4_add(acc, pair_terms(q, b, 2, 0));
        }
        if (b + 2 > nb) break;
        acc = wasm_f32x4_add(acc, pair_terms(q, b, 2, 1));
        b += 2;
    }
    if (b < nb) acc = wasm_f32x4_add(acc, pair_terms(q, b, 1, 1));
    /* lanes 2, 3 repeat lanes 0, 1 */
    return wasm_f32x4_extract_lane(acc, 0) + wasm_f32x4_extract_lane(acc, 1);
}

float dot_q8_0_q8_0_simd(const block_q8_0 *w, const block_q8_0 *x, int n) {
    const qdot q = { (const uint8_t *)w, sizeof *w, 0, x };
    return dot_blocks(&q, n / QK8_0);
}

float dot_q4_0_q8_0_simd(const block_q4_0 *w, const block_q8_0 *x, int n) {
    const qdot q = { (const uint8_t *)w, sizeof *w, 1, x };
    return dot_blocks(&q, n / QK4_0);
}

/* Q4_1, Q5_0, Q5_1. Each block's integer sum is exact; it is scaled in its four lanes and the
 * lanes are added at the end, so the sum rounds in another order than the scalar twin's. */

/* Q5's fifth bits as 0x10 in the byte lanes of values 0-15 (lo) and 16-31 (hi): byte i/8 of qh
 * spread to lanes, each lane testing its bit. */
static inline void q5_high_bits(const uint8_t qh[4], v128_t *lo, v128_t *hi) {
    const v128_t v = wasm_v128_load32_splat(qh);
    const v128_t bit = wasm_i8x16_make(1, 2, 4, 8, 16, 32, 64, -128, 1, 2, 4, 8, 16, 32, 64, -128);
    const v128_t b01 = wasm_i8x16_shuffle(v, v, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
    const v128_t b23 = wasm_i8x16_shuffle(v, v, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    const v128_t b4 = wasm_i8x16_splat(0x10);
    *lo = wasm_v128_and(wasm_i8x16_eq(wasm_v128_and(b01, bit), bit), b4);
    *hi = wasm_v128_and(wasm_i8x16_eq(wasm_v128_and(b23, bit), bit), b4);
}

/* sum q*x of a Q4_1 (qh NULL), Q5_0 or Q5_1 block in four lanes, q minus offset */
static inline __attribute__((always_inline)) v128_t q4_q5_block(const uint8_t *qs, const uint8_t *qh, int offset,
                                                                const int8_t *xq) {
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
static inline v128_t scaled_block(v128_t acc, v128_t isum, float dw, float dx) {
    return mul_add(acc, wasm_f32x4_convert_i32x4(isum), wasm_f32x4_splat(dw * dx));
}

float dot_q4_1_q8_1_simd(const block_q4_1 *w, const block_q8_1 *x, int n) {
    v128_t acc = wasm_f32x4_splat(0.0f);
    float msum = 0.0f;
    for (int b = 0; b < n / QK8_0; b++) {
        acc = scaled_block(acc, q4_q5_block(w[b].qs, NULL, 0, x[b].qs), fp16_to_fp32(w[b].d), fp16_to_fp32(x[b].d));
        msum += fp16_to_fp32(w[b].m) * fp16_to_fp32(x[b].s);
    }
    return hsum_f32x4(acc) + msum;
}

float dot_q5_0_q8_0_simd(const block_q5_0 *w, const block_q8_0 *x, int n) {
    v128_t acc = wasm_f32x4_splat(0.0f);
    for (int b = 0; b < n / QK8_0; b++)
        acc = scaled_block(acc, q4_q5_block(w[b].qs, w[b].qh, 16, x[b].qs), fp16_to_fp32(w[b].d), fp16_to_fp32(x[b].d));
    return hsum_f32x4(acc);
}

float dot_q5_1_q8_1_simd(const block_q5_1 *w, const block_q8_1 *x, int n) {
    v128_t acc = wasm_f32x4_splat(0.0f);
    float msum = 0.0f;
    for (int b = 0; b < n / QK8_0; b++) {
        acc = scaled_block(acc, q4_q5_block(w[b].qs, w[b].qh, 0, x[b].qs), fp16_to_fp32(w[b].d), fp16_to_fp32(x[b].d));
        msum += fp16_to_fp32(w[b].m) * fp16_to_fp32(x[b].s);
    }
    return hsum_f32x4(acc) + msum;
}

#endif
