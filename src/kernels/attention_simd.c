/* attention_simd.c — WebAssembly SIMD128 twins of attention_scalar.c: softmax_chunk and
 * attention_tile's kernels.
 *
 * Cache rows convert exactly as the scalar twin's and are turned with the same rounding
 * (rotate_row, simd.h); values are summed per column in index order, so the weighted sum
 * rounds as the scalar twin's does. Scores sum the dot in another order, and the exponential is
 * a polynomial: these agree with the scalar twin to float rounding. */
#if defined(__wasm_simd128__)

#include <math.h>
#include "simd.h"
#include "attention.h"

/* Row j of a KV cache of the given type as floats, converted exactly as the scalar twin does:
 * the half conversions are exact (the cheap one only where all eight halves are normal), and
 * d * (float)q rounds once either way. */
static const float *kv_row(const void *base, int type, int j, int stride, int head_dim, float *tmp) {
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
        for (; i < head_dim; i++) tmp[i] = fp16_to_fp32(h[i]);
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
                wasm_v128_store(y + e + 4,
                                wasm_f32x4_mul(d, wasm_f32x4_convert_i32x4(wasm_i32x4_extend_high_i16x8(lo))));
                wasm_v128_store(y + e + 8,
                                wasm_f32x4_mul(d, wasm_f32x4_convert_i32x4(wasm_i32x4_extend_low_i16x8(hi))));
                wasm_v128_store(y + e + 12,
                                wasm_f32x4_mul(d, wasm_f32x4_convert_i32x4(wasm_i32x4_extend_high_i16x8(hi))));
            }
        }
        return tmp;
    }
    return (const float *)base + (size_t)j * stride;
}

/* out += sum_i p[i] * v_i over n f32 rows. Sixteen output columns stay in four registers while
 * the rows stream past, so out is read and written once per chunk rather than once per row. */
static void accumulate_rows(float *out, const float *p, const float *v, int n, int stride, int head_dim) {
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
        for (int j = 0; j < n; j++, vj += stride) o = mul_add(o, wasm_f32x4_splat(p[j]), wasm_v128_load(vj));
        wasm_v128_store(out + d, o);
    }
    for (; d < head_dim; d++) {
        float o = out[d];
        for (int j = 0; j < n; j++) o += p[j] * v[(size_t)j * stride + d];
        out[d] = o;
    }
}

static const float *rows_simd(const void *base, int type, int j0, int n, int stride, int head_dim, const float *rot_cos,
                              const float *rot_sin, float *buf, int *row_stride) {
    if (type == NTK_KV_F32 && !rot_cos) {
        *row_stride = stride;
        return (const float *)base + (size_t)j0 * stride;
    }
    *row_stride = head_dim;
    const size_t half = (size_t)head_dim / 2;
    for (int j = 0; j < n; j++) {
        float *y = buf + (size_t)j * head_dim;
        const float *x = kv_row(base, type, j0 + j, stride, head_dim, y);
        if (rot_cos) rotate_row(y, x, rot_cos + j * half, rot_sin + j * half, head_dim);
    }
    return buf;
}

/* Four keys per step share each load of q, and their four sums are reduced together. */
static void scores_simd(float *scores, const float *q, const float *k, int n, int row_stride, int head_dim,
                        float scale) {
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
        const v128_t s01 =
            wasm_f32x4_add(wasm_i32x4_shuffle(a0, a1, 0, 4, 1, 5), wasm_i32x4_shuffle(a0, a1, 2, 6, 3, 7));
        const v128_t s23 =
            wasm_f32x4_add(wasm_i32x4_shuffle(a2, a3, 0, 4, 1, 5), wasm_i32x4_shuffle(a2, a3, 2, 6, 3, 7));
        v128_t sum = wasm_f32x4_add(wasm_i32x4_shuffle(s01, s23, 0, 1, 4, 5), wasm_i32x4_shuffle(s01, s23, 2, 3, 6, 7));
        for (; d < head_dim; d++)
            sum = wasm_f32x4_add(sum,
                                 wasm_f32x4_mul(wasm_f32x4_splat(q[d]), wasm_f32x4_make(k0[d], k1[d], k2[d], k3[d])));
        wasm_v128_store(scores + i, wasm_f32x4_mul(sum, wasm_f32x4_splat(scale)));
    }
    for (; i < n; i++) scores[i] = scale * dot_f32_simd(q, k + (size_t)i * row_stride, head_dim);
}

/* exp(x) for x <= 0 (a score minus the running max): 2^n * e^r with n = round(x/ln 2) and
 * |r| <= ln2/2, e^r by Cephes' degree-7 polynomial (1 + r + r^2 * p(r)), ln 2 split in two so
 * r is exact. x below -87.3 is clamped there (e^x < 2^-126 adds nothing next to the max's 1),
 * which keeps 2^n a normal float. NaN stays NaN. */
static inline v128_t exp_neg_f32x4(v128_t x) {
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

float softmax_chunk_simd(float *scores, int n, float *max, float *sum) {
    float m = *max;
    int j = 0;
    if (n >= 4) {
        v128_t m4 = wasm_f32x4_splat(m);
        for (; j + 4 <= n; j += 4) m4 = wasm_f32x4_max(m4, wasm_v128_load(scores + j));
        m4 = wasm_f32x4_max(m4, wasm_i32x4_shuffle(m4, m4, 2, 3, 0, 1));
        m4 = wasm_f32x4_max(m4, wasm_i32x4_shuffle(m4, m4, 1, 0, 3, 2));
        m = wasm_f32x4_extract_lane(m4, 0);
    }
    for (; j < n; j++) m = fmaxf(m, scores[j]);
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

void attention_tile_simd(float *out, const float *q, int n_tok, int n_head, int q_stride, const attn_kv *kv, int n_past,
                         const attn_rope *rope, float scale, float *scratch) {
    static const attn_ops ops = { rows_simd, rope_rotate_simd, scores_simd, softmax_chunk_simd, accumulate_rows };
    attention_tile_run(&ops, out, q, n_tok, n_head, q_stride, kv, n_past, rope, scale, scratch);
}

#endif
