/* kquant_simd.c — WebAssembly SIMD128 twins of kquant_scalar.c: the dots of Q4_K, Q5_K and
 * Q6_K weights with Q8_K activations, for one token (dot_*) and for several at once (dots_*).
 *
 * The integer work of a super-block is exact, as in the scalar twin, and ends in the same float
 * expression, so the two twins agree bit for bit. Products of weight and activation bytes fit in
 * int16 (|q*x| <= 63 * 127), so mul_pairs_i8x16 forms them two-at-a-time per lane and i32x4.dot
 * against a splat of the sub-block's scale both widens and scales them in one step. */
#if defined(__wasm_simd128__)

#include "simd.h"

/* Products of sixteen unsigned quants q (0..63) and activations x, summed in pairs into the eight
 * int16 lanes, |lane| <= 2 * 63 * 127: q[i]*x[i] + q[i+8]*x[i+8], or in the relaxed build
 * q[2i]*x[2i] + q[2i+1]*x[2i+1]. Callers only use the sum of all eight lanes (i32x4.dot against a
 * splat), which is the same integer either way. */
static inline v128_t mul_pairs_i8x16(v128_t q, v128_t x) {
#if defined(NTK_RELAXED_SIMD)
    return ntk_relaxed_dot_i8x16_i7x16_s(x, q);
#else
    return wasm_i16x8_add(wasm_i16x8_extmul_low_i8x16(q, x), wasm_i16x8_extmul_high_i8x16(q, x));
#endif
}

static inline int32_t hsum_i32x4(v128_t v) {
    v = wasm_i32x4_add(v, wasm_i32x4_shuffle(v, v, 2, 3, 0, 1));
    v = wasm_i32x4_add(v, wasm_i32x4_shuffle(v, v, 1, 0, 3, 2));
    return wasm_i32x4_extract_lane(v, 0);
}

#define SPLAT_I16(v, j) wasm_i16x8_shuffle((v), (v), j, j, j, j, j, j, j, j)

/* unpack_q4_K_scales in one vector: u8 lanes 0-7 the scales, 8-15 the mins. */
static inline v128_t q4_K_scales(const uint8_t packed[12]) {
    /* reads 4 bytes past the 12: still inside the block (qh or qs follows) */
    const v128_t v = wasm_v128_load(packed);
    /* low bits: bytes 0-3 and 4-7 masked to six bits, the nibbles of bytes 8-11 */
    const v128_t t = wasm_i8x16_shuffle(v, v, 0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, 8, 9, 10, 11);
    const v128_t low = wasm_v128_or(
        wasm_v128_and(t, wasm_i8x16_make(63, 63, 63, 63, 15, 15, 15, 15, 63, 63, 63, 63, 0, 0, 0, 0)),
        wasm_v128_and(wasm_u16x8_shr(t, 4), wasm_i8x16_make(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 15, 15, 15, 15)));
    /* top two bits of scales and mins 4-7: bits 6-7 of bytes 0-3 and 4-7 moved to 4-5 */
    const v128_t top =
        wasm_i8x16_shuffle(v, wasm_i8x16_splat(0), 16, 16, 16, 16, 0, 1, 2, 3, 16, 16, 16, 16, 4, 5, 6, 7);
    return wasm_v128_or(low, wasm_v128_and(wasm_u16x8_shr(top, 2), wasm_i8x16_splat(0x30)));
}

/* The quants of sub-blocks 2k (lo0: values 0-15, lo1: 16-31) and 2k+1 (hi0, hi1) of a Q4_K or
 * Q5_K (qh not NULL) block as bytes 0..31: 32 bytes of nibbles and the fifth bits 2k, 2k+1 of
 * qh[0..31]. qh is reloaded for each pair: kept in registers across the pairs, it pushed the
 * loop's vectors out to the stack. */
typedef struct {
    v128_t lo0, lo1, hi0, hi1;
} k4_quants;

static inline __attribute__((always_inline)) k4_quants k4_unpack(const uint8_t *qs, const uint8_t *qh, int k) {
    const v128_t m4 = wasm_i8x16_splat(15);
    const v128_t q0 = wasm_v128_load(qs + 32 * k), q1 = wasm_v128_load(qs + 32 * k + 16);
    k4_quants q = { wasm_v128_and(q0, m4), wasm_v128_and(q1, m4), wasm_v128_and(wasm_u16x8_shr(q0, 4), m4),
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
static inline __attribute__((always_inline)) v128_t k4_pair(v128_t acc, k4_quants q, const int8_t *xq, v128_t s_lo,
                                                            v128_t s_hi) {
    const v128_t p_lo =
        wasm_i16x8_add(mul_pairs_i8x16(q.lo0, wasm_v128_load(xq)), mul_pairs_i8x16(q.lo1, wasm_v128_load(xq + 16)));
    const v128_t p_hi = wasm_i16x8_add(mul_pairs_i8x16(q.hi0, wasm_v128_load(xq + 32)),
                                       mul_pairs_i8x16(q.hi1, wasm_v128_load(xq + 48)));
    return wasm_i32x4_add(acc, wasm_i32x4_add(wasm_i32x4_dot_i16x8(p_lo, s_lo), wasm_i32x4_dot_i16x8(p_hi, s_hi)));
}

/* sum_j mn[j] * (bsums[2j] + bsums[2j+1]) in four lanes: sub-block j's min meets bsums 2j, 2j+1 */
static inline v128_t k4_mins(v128_t mn, const block_q8_K *x) {
    return wasm_i32x4_add(
        wasm_i32x4_dot_i16x8(wasm_v128_load(x->bsums), wasm_i16x8_shuffle(mn, mn, 0, 0, 1, 1, 2, 2, 3, 3)),
        wasm_i32x4_dot_i16x8(wasm_v128_load(x->bsums + 8), wasm_i16x8_shuffle(mn, mn, 4, 4, 5, 5, 6, 6, 7, 7)));
}

/* One Q4_K (qh NULL) or Q5_K super-block: k4_block of the scalar twin. */
static inline __attribute__((always_inline)) float k4_block(ggml_half d, ggml_half dmin, const uint8_t scales[12],
                                                            const uint8_t *qs, const uint8_t *qh, const block_q8_K *x) {
    const v128_t sm = q4_K_scales(scales);
    const v128_t sc = wasm_u16x8_extend_low_u8x16(sm);
    v128_t acc = wasm_i32x4_splat(0);
    acc = k4_pair(acc, k4_unpack(qs, qh, 0), x->qs, SPLAT_I16(sc, 0), SPLAT_I16(sc, 1));
    acc = k4_pair(acc, k4_unpack(qs, qh, 1), x->qs + 64, SPLAT_I16(sc, 2), SPLAT_I16(sc, 3));
    acc = k4_pair(acc, k4_unpack(qs, qh, 2), x->qs + 128, SPLAT_I16(sc, 4), SPLAT_I16(sc, 5));
    acc = k4_pair(acc, k4_unpack(qs, qh, 3), x->qs + 192, SPLAT_I16(sc, 6), SPLAT_I16(sc, 7));
    const v128_t msum = k4_mins(wasm_u16x8_extend_high_u8x16(sm), x);
    return fp16_to_fp32(d) * x->d * (float)hsum_i32x4(acc) - fp16_to_fp32(dmin) * x->d * (float)hsum_i32x4(msum);
}

float dot_q4_K_q8_K_simd(const block_q4_K *w, const block_q8_K *x, int n) {
    float sum = 0.0f;
    for (int b = 0; b < n / QK_K; b++) sum += k4_block(w[b].d, w[b].dmin, w[b].scales, w[b].qs, NULL, &x[b]);
    return sum;
}

float dot_q5_K_q8_K_simd(const block_q5_K *w, const block_q8_K *x, int n) {
    float sum = 0.0f;
    for (int b = 0; b < n / QK_K; b++) sum += k4_block(w[b].d, w[b].dmin, w[b].scales, w[b].qs, w[b].qh, &x[b]);
    return sum;
}

/* Quarter g (values 32g..32g+31) of the half-block (ql, qh) of a Q6_K block as bytes 0..63,
 * values 0-15 in v0 and 16-31 in v1: low nibbles of ql[0..31] (g = 0), ql[32..63] (1), high
 * nibbles of the same (2, 3); top bits 2g, 2g+1 of qh[0..31] moved to bits 4, 5. */
static inline __attribute__((always_inline)) void q6_K_unpack(const uint8_t *ql, const uint8_t *qh, int g, v128_t *v0,
                                                              v128_t *v1) {
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
static inline __attribute__((always_inline)) v128_t q6_K_quarter(v128_t acc, v128_t v0, v128_t v1, const int8_t *xq,
                                                                 v128_t s0, v128_t s1) {
    const v128_t p0 = mul_pairs_i8x16(v0, wasm_v128_load(xq));
    const v128_t p1 = mul_pairs_i8x16(v1, wasm_v128_load(xq + 16));
    return wasm_i32x4_add(acc, wasm_i32x4_add(wasm_i32x4_dot_i16x8(p0, s0), wasm_i32x4_dot_i16x8(p1, s1)));
}

/* Values 128h..128h+127 (ql, qh, xq of the half), sc the half's eight scales as int16 */
static inline __attribute__((always_inline)) v128_t q6_K_half(v128_t acc, const uint8_t *ql, const uint8_t *qh,
                                                              const int8_t *xq, v128_t sc) {
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
static inline v128_t q6_K_offset(v128_t sc_lo, v128_t sc_hi, const block_q8_K *x) {
    return wasm_i32x4_add(wasm_i32x4_dot_i16x8(wasm_v128_load(x->bsums), sc_lo),
                          wasm_i32x4_dot_i16x8(wasm_v128_load(x->bsums + 8), sc_hi));
}

/* The quants are taken unsigned (0..63) and the -32 comes back through the activation block
 * sums: sum sc*(q-32)*x = sum sc*q*x - 32 * sum_j sc_j*bsums_j. */
float dot_q6_K_q8_K_simd(const block_q6_K *w, const block_q8_K *x, int n) {
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

/* (sum of a's lanes, of b's, of c's, of d's) */
static inline v128_t hsum_i32x4_x4(v128_t a, v128_t b, v128_t c, v128_t d) {
    const v128_t ab = wasm_i32x4_add(wasm_i32x4_shuffle(a, b, 0, 4, 1, 5), wasm_i32x4_shuffle(a, b, 2, 6, 3, 7));
    const v128_t cd = wasm_i32x4_add(wasm_i32x4_shuffle(c, d, 0, 4, 1, 5), wasm_i32x4_shuffle(c, d, 2, 6, 3, 7));
    return wasm_i32x4_add(wasm_i32x4_shuffle(ab, cd, 0, 1, 4, 5), wasm_i32x4_shuffle(ab, cd, 2, 3, 6, 7));
}

/* Tokens g..g+3 of T (the missing ones zero) of block b: their activation scales, their integer
 * sums (acc) and their second sums (k4_mins for Q4_K/Q5_K, q6_K_offset for Q6_K) in lanes. */
typedef struct {
    v128_t xd, isum, aux;
} token_lanes;

static inline __attribute__((always_inline)) token_lanes lanes_of(const v128_t *acc, int g, int T, const block_q8_K *x,
                                                                  size_t x_stride, int b, int q6, v128_t m_lo,
                                                                  v128_t m_hi) {
    v128_t a[4], m[4];
    float xd[4];
    for (int i = 0; i < 4; i++) {
        const int t = g + i;
        a[i] = m[i] = wasm_i32x4_splat(0);
        xd[i] = 0.0f;
        if (t < T) {
            const block_q8_K *xt = dots_token_row(x, x_stride, t) + b;
            a[i] = acc[t];
            m[i] = q6 ? q6_K_offset(m_lo, m_hi, xt) : k4_mins(m_lo, xt);
            xd[i] = xt->d;
        }
    }
    const token_lanes l = { wasm_f32x4_make(xd[0], xd[1], xd[2], xd[3]), hsum_i32x4_x4(a[0], a[1], a[2], a[3]),
                            hsum_i32x4_x4(m[0], m[1], m[2], m[3]) };
    return l;
}

static inline void store_tokens(float *out, const v128_t *sum, int T) {
    float all[NTK_DOTS_TOKENS];
    wasm_v128_store(all, sum[0]);
    wasm_v128_store(all + 4, sum[1]);
    for (int t = 0; t < T; t++) out[t] = all[t];
}

/* acc[t] of T tokens + a Q4_K/Q5_K pair of sub-blocks times token t's activations */
static inline __attribute__((always_inline)) void k4_pair_tokens(v128_t *acc, int T, k4_quants q, const block_q8_K *x,
                                                                 size_t x_stride, int b, int k, v128_t s_lo,
                                                                 v128_t s_hi) {
    for (int t = 0; t < T; t++) acc[t] = k4_pair(acc[t], q, dots_token_row(x, x_stride, t)[b].qs + 64 * k, s_lo, s_hi);
}

/* T tokens against a row of Q4_K (qh_off 0) or Q5_K blocks of w_size bytes, each starting with
 * d, dmin and the packed scales, its nibbles at qs_off: k4_block's terms in lanes. */
static inline __attribute__((always_inline)) void k4_tokens(const uint8_t *w, size_t w_size, size_t qs_off,
                                                            size_t qh_off, const block_q8_K *x, size_t x_stride, int T,
                                                            int n, float *out) {
    v128_t sum[2] = { wasm_f32x4_splat(0.0f), wasm_f32x4_splat(0.0f) };
    for (int b = 0; b < n / QK_K; b++) {
        const uint8_t *blk = w + (size_t)b * w_size;
        const uint8_t *qs = blk + qs_off, *qh = qh_off ? blk + qh_off : NULL;
        const v128_t sm = q4_K_scales(blk + 4);
        const v128_t sc = wasm_u16x8_extend_low_u8x16(sm);
        v128_t acc[NTK_DOTS_TOKENS];
        for (int t = 0; t < T; t++) acc[t] = wasm_i32x4_splat(0);
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
            const v128_t term =
                wasm_f32x4_sub(wasm_f32x4_mul(wasm_f32x4_mul(d, l.xd), wasm_f32x4_convert_i32x4(l.isum)),
                               wasm_f32x4_mul(wasm_f32x4_mul(dmin, l.xd), wasm_f32x4_convert_i32x4(l.aux)));
            sum[g / 4] = wasm_f32x4_add(sum[g / 4], term);
        }
    }
    store_tokens(out, sum, T);
}

/* acc[t] of T tokens + quarter g of half h of a Q6_K block times token t's activations */
static inline __attribute__((always_inline)) void q6_K_quarter_tokens(v128_t *acc, int T, const block_q6_K *w,
                                                                      const block_q8_K *x, size_t x_stride, int b,
                                                                      int h, int g, v128_t s0, v128_t s1) {
    v128_t v0, v1;
    q6_K_unpack(w->ql + 64 * h, w->qh + 32 * h, g, &v0, &v1);
    for (int t = 0; t < T; t++)
        acc[t] = q6_K_quarter(acc[t], v0, v1, dots_token_row(x, x_stride, t)[b].qs + 128 * h + 32 * g, s0, s1);
}

static inline __attribute__((always_inline)) void q6_K_tokens(const block_q6_K *w, const block_q8_K *x, size_t x_stride,
                                                              int T, int n, float *out) {
    v128_t sum[2] = { wasm_f32x4_splat(0.0f), wasm_f32x4_splat(0.0f) };
    for (int b = 0; b < n / QK_K; b++) {
        const v128_t s8 = wasm_v128_load(w[b].scales);
        const v128_t lo = wasm_i16x8_extend_low_i8x16(s8), hi = wasm_i16x8_extend_high_i8x16(s8);
        v128_t acc[NTK_DOTS_TOKENS];
        for (int t = 0; t < T; t++) acc[t] = wasm_i32x4_splat(0);
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
            sum[g / 4] =
                wasm_f32x4_add(sum[g / 4], wasm_f32x4_mul(wasm_f32x4_mul(d, l.xd), wasm_f32x4_convert_i32x4(isum)));
        }
    }
    store_tokens(out, sum, T);
}

enum { DOTS_Q4_K, DOTS_Q5_K, DOTS_Q6_K };

/* T tokens of one kind; a single token takes the one-token kernel, which is faster alone. */
static inline __attribute__((always_inline)) void k_tokens(int kind, const void *w, const block_q8_K *x,
                                                           size_t x_stride, int T, int n, float *out) {
    switch (kind) {
    case DOTS_Q4_K:
        if (T == 1)
            *out = dot_q4_K_q8_K_simd(w, x, n);
        else
            k4_tokens(w, sizeof(block_q4_K), offsetof(block_q4_K, qs), 0, x, x_stride, T, n, out);
        break;
    case DOTS_Q5_K:
        if (T == 1)
            *out = dot_q5_K_q8_K_simd(w, x, n);
        else
            k4_tokens(w, sizeof(block_q5_K), offsetof(block_q5_K, qs), offsetof(block_q5_K, qh), x, x_stride, T, n,
                      out);
        break;
    default:
        if (T == 1)
            *out = dot_q6_K_q8_K_simd(w, x, n);
        else
            q6_K_tokens(w, x, x_stride, T, n, out);
        break;
    }
}

/* n_tok tokens in groups of `group` (NTK_DOTS_TOKENS, or 4 for the relaxed build's Q6_K kernel,
 * which at 8 spills registers in V8 and ran 1.4x slower), then one of 4, 2 and 1 as needed */
static inline __attribute__((always_inline)) void k_dots(int kind, const void *w, const block_q8_K *x, size_t x_stride,
                                                         int n_tok, int n, float *out) {
    const int group = kind == DOTS_Q6_K && NTK_RELAXED ? 4 : NTK_DOTS_TOKENS;
    int t = 0;
    for (; t + group <= n_tok; t += group)
        k_tokens(kind, w, dots_token_row(x, x_stride, t), x_stride, group, n, out + t);
    if (t + 4 <= n_tok) {
        k_tokens(kind, w, dots_token_row(x, x_stride, t), x_stride, 4, n, out + t);
        t += 4;
    }
    if (t + 2 <= n_tok) {
        k_tokens(kind, w, dots_token_row(x, x_stride, t), x_stride, 2, n, out + t);
        t += 2;
    }
    if (t < n_tok) k_tokens(kind, w, dots_token_row(x, x_stride, t), x_stride, 1, n, out + t);
}

void dots_q4_K_q8_K_simd(const block_q4_K *w, const block_q8_K *x, size_t x_stride, int n_tok, int n, float *out) {
    k_dots(DOTS_Q4_K, w, x, x_stride, n_tok, n, out);
}

void dots_q5_K_q8_K_simd(const block_q5_K *w, const block_q8_K *x, size_t x_stride, int n_tok, int n, float *out) {
    k_dots(DOTS_Q5_K, w, x, x_stride, n_tok, n, out);
}

void dots_q6_K_q8_K_simd(const block_q6_K *w, const block_q8_K *x, size_t x_stride, int n_tok, int n, float *out) {
    k_dots(DOTS_Q6_K, w, x, x_stride, n_tok, n, out);
}

#endif
