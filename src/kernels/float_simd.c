/* float_simd.c — WebAssembly SIMD128 twins of float_scalar.c: dot_f32, dot_f16_f32,
 * dot_bf16_f32 and axpy_f32.
 *
 * The dots keep four independent vector accumulators so consecutive adds do not wait on each
 * other's latency; they therefore sum in a different order from the scalar twin and agree with
 * it to float rounding only. axpy does the scalar twin's operations per element and gives
 * identical results. Halves convert exactly (simd.h). */
#if defined(__wasm_simd128__)

#include "simd.h"

static inline float hsum4_f32x4(v128_t a, v128_t b, v128_t c, v128_t d) {
    return hsum_f32x4(wasm_f32x4_add(wasm_f32x4_add(a, b), wasm_f32x4_add(c, d)));
}

float dot_f32_simd(const float *a, const float *b, int n) {
    v128_t acc0 = wasm_f32x4_splat(0.0f), acc1 = acc0, acc2 = acc0, acc3 = acc0;
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        acc0 = mul_add(acc0, wasm_v128_load(a + i), wasm_v128_load(b + i));
        acc1 = mul_add(acc1, wasm_v128_load(a + i + 4), wasm_v128_load(b + i + 4));
        acc2 = mul_add(acc2, wasm_v128_load(a + i + 8), wasm_v128_load(b + i + 8));
        acc3 = mul_add(acc3, wasm_v128_load(a + i + 12), wasm_v128_load(b + i + 12));
    }
    for (; i + 4 <= n; i += 4) acc0 = mul_add(acc0, wasm_v128_load(a + i), wasm_v128_load(b + i));
    float sum = hsum4_f32x4(acc0, acc1, acc2, acc3);
    for (; i < n; i++) sum += a[i] * b[i];
    return sum;
}

/* Sixteen halves at a time. A chunk with any half that is not normal (zeros included) leaves
 * the inner loop for the exact conversion and comes back: with the exact path inside the
 * loop, its constants crowd V8's registers and the common case ran 1.3x slower. */
float dot_f16_f32_simd(const ggml_half *w, const float *x, int n) {
    v128_t acc0 = wasm_f32x4_splat(0.0f), acc1 = acc0, acc2 = acc0, acc3 = acc0;
    int i = 0;
    while (i + 16 <= n) {
        for (; i + 16 <= n; i += 16) {
            const v128_t h0 = wasm_v128_load(w + i), h1 = wasm_v128_load(w + i + 8);
            if (any_not_normal(wasm_u16x8_max(half_exp_rank(h0), half_exp_rank(h1)))) break;
            acc0 = mul_add(acc0, half_normal_to_f32x4(half_lo(h0)), wasm_v128_load(x + i));
            acc1 = mul_add(acc1, half_normal_to_f32x4(half_hi(h0)), wasm_v128_load(x + i + 4));
            acc2 = mul_add(acc2, half_normal_to_f32x4(half_lo(h1)), wasm_v128_load(x + i + 8));
            acc3 = mul_add(acc3, half_normal_to_f32x4(half_hi(h1)), wasm_v128_load(x + i + 12));
        }
        if (i + 16 > n) break;
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
    for (; i < n; i++) sum += fp16_to_fp32(w[i]) * x[i];
    return sum;
}

/* A bfloat16 is the top half of a float, so half_lo/half_hi alone convert it. */
float dot_bf16_f32_simd(const uint16_t *w, const float *x, int n) {
    v128_t acc0 = wasm_f32x4_splat(0.0f), acc1 = acc0, acc2 = acc0, acc3 = acc0;
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        const v128_t h0 = wasm_v128_load(w + i), h1 = wasm_v128_load(w + i + 8);
        acc0 = mul_add(acc0, half_lo(h0), wasm_v128_load(x + i));
        acc1 = mul_add(acc1, half_hi(h0), wasm_v128_load(x + i + 4));
        acc2 = mul_add(acc2, half_lo(h1), wasm_v128_load(x + i + 8));
        acc3 = mul_add(acc3, half_hi(h1), wasm_v128_load(x + i + 12));
    }
    for (; i + 4 <= n; i += 4) acc0 = mul_add(acc0, half_lo(wasm_v128_load64_zero(w + i)), wasm_v128_load(x + i));
    float sum = hsum4_f32x4(acc0, acc1, acc2, acc3);
    for (; i < n; i++) sum += bf16_to_fp32(w[i]) * x[i];
    return sum;
}

void axpy_f32_simd(float *y, float a, const float *x, int n) {
    const v128_t va = wasm_f32x4_splat(a);
    int i = 0;
    for (; i + 16 <= n; i += 16)
        for (int u = i; u < i + 16; u += 4)
            wasm_v128_store(y + u, mul_add(wasm_v128_load(y + u), va, wasm_v128_load(x + u)));
    for (; i + 4 <= n; i += 4) wasm_v128_store(y + i, mul_add(wasm_v128_load(y + i), va, wasm_v128_load(x + i)));
    for (; i < n; i++) y[i] += a * x[i];
}

#endif
