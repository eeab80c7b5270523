/* float_scalar.c — the specification of the float kernels: dot_f32, dot_f16_f32 (f16 weights),
 * dot_bf16_f32 (bf16 weights) and axpy_f32, one element at a time in index order, accumulating
 * in float. Halves and bfloat16 convert with quant.h's exact fp16_to_fp32 and bf16_to_fp32. */
#include "kernels.h"

float dot_f32_scalar(const float *a, const float *b, int n) {
    float sum = 0.0f;
    for (int i = 0; i < n; i++) sum += a[i] * b[i];
    return sum;
}

float dot_f16_f32_scalar(const ggml_half *w, const float *x, int n) {
    float sum = 0.0f;
    for (int i = 0; i < n; i++) sum += fp16_to_fp32(w[i]) * x[i];
    return sum;
}

float dot_bf16_f32_scalar(const uint16_t *w, const float *x, int n) {
    float sum = 0.0f;
    for (int i = 0; i < n; i++) sum += bf16_to_fp32(w[i]) * x[i];
    return sum;
}

void axpy_f32_scalar(float *y, float a, const float *x, int n) {
    for (int i = 0; i < n; i++) y[i] += a * x[i];
}
