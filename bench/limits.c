// limits.c — what one thread of this machine's WebAssembly can do at best, for scale beside the
// engine's rates: streaming memory through 128-bit loads, and an int8 dot product as the plain C
// loop compiles (clang vectorizes it with -msimd128). bench/limits.mjs builds and runs it.
#include <stddef.h>
#include <stdint.h>
#include <wasm_simd128.h>

// Sum of n 128-bit vectors: four independent accumulators, so the loads, not the adds, set the pace.
int32_t stream_sum(const v128_t *p, size_t n) {
    v128_t a = wasm_i32x4_splat(0), b = a, c = a, d = a;
    for (size_t i = 0; i + 4 <= n; i += 4) {
        a = wasm_i32x4_add(a, wasm_v128_load(p + i));
        b = wasm_i32x4_add(b, wasm_v128_load(p + i + 1));
        c = wasm_i32x4_add(c, wasm_v128_load(p + i + 2));
        d = wasm_i32x4_add(d, wasm_v128_load(p + i + 3));
    }
    a = wasm_i32x4_add(wasm_i32x4_add(a, b), wasm_i32x4_add(c, d));
    return wasm_i32x4_extract_lane(a, 0) + wasm_i32x4_extract_lane(a, 1) + wasm_i32x4_extract_lane(a, 2) +
           wasm_i32x4_extract_lane(a, 3);
}

int32_t dot_i8(const int8_t *a, const int8_t *b, size_t n) {
    int32_t s = 0;
    for (size_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}
