/* simd.h — the WebAssembly SIMD128 helpers that more than one kernel family uses, each defined
 * here once: float horizontal sum and multiply-add, half and bfloat16 lanes to float, the
 * rotation of adjacent pairs (rope_rotate and attention's keys), and the relaxed build's dot
 * import. A helper only one family needs stays in that family's *_simd.c. Included only by the
 * *_simd.c files, inside their __wasm_simd128__ guard.
 *
 * Loads use wasm_v128_load, which has no alignment requirement: GGUF blocks are only 2-byte
 * aligned. */
#ifndef NTK_KERNELS_SIMD_H
#define NTK_KERNELS_SIMD_H

#include <wasm_simd128.h>
#include "kernels.h"

#if defined(NTK_RELAXED_SIMD)
/* i16x8.relaxed_dot_i8x16_i7x16_s(x, q): q[2i]*x[2i] + q[2i+1]*x[2i+1] in int16 lanes, one
 * instruction (pmaddubsw on x86) where extending and multiplying take about nine. Emscripten
 * 3.1.6's clang cannot emit it, so the relaxed build calls this import and
 * scripts/relaxed-simd.mjs turns every call into the instruction once the module is linked. Its
 * result is only implementation-defined where q leaves the i7 range; the q operands it meets here
 * are 0..127 (unsigned quants, or Q8_0 activations split by sign), and no pair sum comes near
 * int16's limit. */
v128_t ntk_relaxed_dot_i8x16_i7x16_s(v128_t x, v128_t q) __attribute__((const));
#endif

static inline float hsum_f32x4(v128_t v) {
    v = wasm_f32x4_add(v, wasm_i32x4_shuffle(v, v, 2, 3, 0, 1));
    v = wasm_f32x4_add(v, wasm_i32x4_shuffle(v, v, 1, 0, 3, 2));
    return wasm_f32x4_extract_lane(v, 0);
}

/* acc + a * b */
static inline v128_t mul_add(v128_t acc, v128_t a, v128_t b) { return wasm_f32x4_add(acc, wasm_f32x4_mul(a, b)); }

/* Four 16-bit patterns in the high halves of 32-bit lanes, i.e. lanes of h << 16: this is how
 * half_lo/half_hi unpack eight of them, and the shift puts the sign bit where float's is. */
static inline v128_t half_lo(v128_t h8) {
    return wasm_i16x8_shuffle(wasm_i16x8_splat(0), h8, 0, 8, 1, 9, 2, 10, 3, 11);
}

static inline v128_t half_hi(v128_t h8) {
    return wasm_i16x8_shuffle(wasm_i16x8_splat(0), h8, 4, 12, 5, 13, 6, 14, 7, 15);
}

/* Normal halves (exponent 1..30), the common case: rebias the exponent (+112) with integer
 * ops. The arithmetic shift moves exponent:mantissa from the top of the lane to float's
 * place and smears the sign over bits 28..31, where the mask keeps only bit 31. */
static inline v128_t half_normal_to_f32x4(v128_t h_hi16) {
    const v128_t sign_em = wasm_v128_and(wasm_i32x4_shr(h_hi16, 3), wasm_i32x4_splat((int32_t)0x8fffe000));
    return wasm_i32x4_add(sign_em, wasm_i32x4_splat(112 << 23));
}

/* Exact for all 65536 halves. inf/NaN (exponent 31) need +224 to reach exponent 255, payload
 * kept. Subnormal halves go through an exact int->float conversion of their mantissa rather
 * than the common "multiply the float denormal by 2^112" trick, which would feed denormal
 * operands to the FPU (microcode-assist slow on x86) and rely on them not being flushed.
 * Compares are equalities: LLVM turns ordered compares on masked (non-negative) lanes into
 * unsigned ones, which x86 lacks. */
static inline v128_t half_any_to_f32x4(v128_t h_hi16) {
    const v128_t rebias = wasm_i32x4_splat(112 << 23);
    const v128_t exp_field = wasm_v128_and(h_hi16, wasm_i32x4_splat(0x7c000000));
    const v128_t special = wasm_i32x4_eq(exp_field, wasm_i32x4_splat(0x7c000000));
    const v128_t subnormal = wasm_i32x4_eq(exp_field, wasm_i32x4_splat(0));
    const v128_t normal = wasm_i32x4_add(half_normal_to_f32x4(h_hi16), wasm_v128_and(special, rebias));
    /* mantissa << 13 with the sign cleared; mant * 2^-24 = (mant << 13) * 2^-37 */
    const v128_t em = wasm_u32x4_shr(wasm_v128_and(h_hi16, wasm_i32x4_splat(0x03ff0000)), 3);
    v128_t tiny = wasm_f32x4_mul(wasm_f32x4_convert_i32x4(em), wasm_f32x4_splat(0x1p-37f));
    tiny = wasm_v128_or(tiny, wasm_v128_and(h_hi16, wasm_i32x4_splat((int32_t)0x80000000)));
    return wasm_v128_bitselect(tiny, normal, subnormal);
}

/* Lanes of t = (exponent bits - 0x0400) mod 2^16 for eight halves: exponents 1..30 give
 * t <= 0x7400, exponents 0 (zero, subnormal) and 31 (inf, NaN) give t >= 0x7800. */
static inline v128_t half_exp_rank(v128_t h8) {
    return wasm_i16x8_sub(wasm_v128_and(h8, wasm_i16x8_splat(0x7c00)), wasm_i16x8_splat(0x0400));
}

/* Whether a half_exp_rank result (or a u16 max of several) has a non-normal lane. */
static inline int any_not_normal(v128_t rank) {
    return wasm_v128_any_true(wasm_u16x8_sub_sat(rank, wasm_i16x8_splat(0x7400)));
}

/* Rotation of four adjacent pairs x[0..7] by angles c[0..3], s[0..3], as two vectors.
 * Per pair (x0, x1): (x0*c - x1*s, x1*c + x0*s) = x*(c, c) + swap(x)*(-s, s), which rounds
 * exactly like the scalar formula (negation is exact and float addition commutes). */
static inline void rotate4(v128_t *r_lo, v128_t *r_hi, v128_t x_lo, v128_t x_hi, const float *c, const float *s) {
    const v128_t c4 = wasm_v128_load(c), s4 = wasm_v128_load(s);
    const v128_t neg_even = wasm_f32x4_make(-0.0f, 0.0f, -0.0f, 0.0f);
    const v128_t c_lo = wasm_i32x4_shuffle(c4, c4, 0, 0, 1, 1);
    const v128_t c_hi = wasm_i32x4_shuffle(c4, c4, 2, 2, 3, 3);
    const v128_t s_lo = wasm_v128_xor(wasm_i32x4_shuffle(s4, s4, 0, 0, 1, 1), neg_even);
    const v128_t s_hi = wasm_v128_xor(wasm_i32x4_shuffle(s4, s4, 2, 2, 3, 3), neg_even);
    *r_lo =
        wasm_f32x4_add(wasm_f32x4_mul(x_lo, c_lo), wasm_f32x4_mul(wasm_i32x4_shuffle(x_lo, x_lo, 1, 0, 3, 2), s_lo));
    *r_hi =
        wasm_f32x4_add(wasm_f32x4_mul(x_hi, c_hi), wasm_f32x4_mul(wasm_i32x4_shuffle(x_hi, x_hi, 1, 0, 3, 2), s_hi));
}

/* y = x turned by (c, s); y may be x. */
static inline void rotate_row(float *y, const float *x, const float *c, const float *s, int head_dim) {
    const int half = head_dim / 2;
    int i = 0;
    for (; i + 4 <= half; i += 4) {
        v128_t r_lo, r_hi;
        rotate4(&r_lo, &r_hi, wasm_v128_load(x + 2 * i), wasm_v128_load(x + 2 * i + 4), c + i, s + i);
        wasm_v128_store(y + 2 * i, r_lo);
        wasm_v128_store(y + 2 * i + 4, r_hi);
    }
    for (; i < half; i++) {
        const float x0 = x[2 * i], x1 = x[2 * i + 1];
        y[2 * i] = x0 * c[i] - x1 * s[i];
        y[2 * i + 1] = x0 * s[i] + x1 * c[i];
    }
}

#endif
