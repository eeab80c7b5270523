/* kernels.h — the hot loops, each in two twins with the same signature:
 *   *_scalar  (kernels_scalar.c) plain C, the specification;
 *   *_simd    (kernels_simd.c)   WebAssembly SIMD128, the speed; only built with -msimd128.
 * The unsuffixed names are what the engine calls: the SIMD twin when the build has SIMD128,
 * the scalar one otherwise (native builds, the scalar wasm build used for benchmark ratios).
 * tests/c/test_kernels.c runs both twins on random data and compares them.
 *
 * Conventions: n is the length of a row in elements and a multiple of the weight type's block
 * (32, or 256 for K-quants); quantized dot products take weights in their block format and
 * activations already quantized (once per matrix product, as ggml does) to Q8_0, Q8_1 (for
 * Q4_1 and Q5_1) or Q8_K (for the K-quants). */
#ifndef NTK_KERNELS_H
#define NTK_KERNELS_H

#include <stdint.h>
#include "quant.h"

#define NTK_KERNEL_TWINS(ret, name, params) \
    ret name##_scalar params;               \
    ret name##_simd params;

/* sum_i a[i]*b[i] */
NTK_KERNEL_TWINS(float, dot_f32, (const float *a, const float *b, int n))
/* f16 weights x f32 activations */
NTK_KERNEL_TWINS(float, dot_f16_f32, (const ggml_half *w, const float *x, int n))
/* bf16 weights x f32 activations */
NTK_KERNEL_TWINS(float, dot_bf16_f32, (const uint16_t *w, const float *x, int n))
/* Q8_0 weights x Q8_0 activations: sum over blocks of dw*dx*sum(qw*qx), integer inner sums */
NTK_KERNEL_TWINS(float, dot_q8_0_q8_0, (const block_q8_0 *w, const block_q8_0 *x, int n))
/* Q4_0 weights x Q8_0 activations */
NTK_KERNEL_TWINS(float, dot_q4_0_q8_0, (const block_q4_0 *w, const block_q8_0 *x, int n))
/* Q4_1 and Q5_1 weights x Q8_1 activations, Q5_0 weights x Q8_0 activations */
NTK_KERNEL_TWINS(float, dot_q4_1_q8_1, (const block_q4_1 *w, const block_q8_1 *x, int n))
NTK_KERNEL_TWINS(float, dot_q5_0_q8_0, (const block_q5_0 *w, const block_q8_0 *x, int n))
NTK_KERNEL_TWINS(float, dot_q5_1_q8_1, (const block_q5_1 *w, const block_q8_1 *x, int n))
/* K-quant weights x Q8_K activations: per super-block, integer sums of sub-blocks weighted by
 * their integer scales, then one float scaling (two for Q4_K/Q5_K: scales and mins) */
NTK_KERNEL_TWINS(float, dot_q4_K_q8_K, (const block_q4_K *w, const block_q8_K *x, int n))
NTK_KERNEL_TWINS(float, dot_q5_K_q8_K, (const block_q5_K *w, const block_q8_K *x, int n))
NTK_KERNEL_TWINS(float, dot_q6_K_q8_K, (const block_q6_K *w, const block_q8_K *x, int n))
/* y[i] += a * x[i] */
NTK_KERNEL_TWINS(void, axpy_f32, (float *y, float a, const float *x, int n))
/* Rotate adjacent pairs (x[2i], x[2i+1]) of one head by the angle whose cos/sin are c[i], s[i]:
 * x'[2i] = x[2i]*c - x[2i+1]*s, x'[2i+1] = x[2i]*s + x[2i+1]*c; head_dim even. */
NTK_KERNEL_TWINS(void, rope_rotate, (float *x, const float *c, const float *s, int head_dim))
/* Element types of the KV cache (the values of ntk_set_kv_type). */
enum { NTK_KV_F32 = 0, NTK_KV_F16 = 1, NTK_KV_Q8_0 = 2 };

/* Keys scored per step of attention's streaming softmax: the scratch it needs is fixed however
 * long the context grows. */
#define NTK_ATTN_CHUNK 64
/* Floats of scratch attention_head takes: a chunk of scores and one key or value row. */
#define NTK_ATTN_SCRATCH(head_dim) (NTK_ATTN_CHUNK + (head_dim))

/* Attention of one query head over n_kv cached positions (causal masking is the caller's
 * choice of n_kv). k and v hold rows of kv_type (NTK_KV_*); row j starts kv_stride elements
 * after row j-1 (for Q8_0 both kv_stride and head_dim are multiples of 32, so a row is whole
 * blocks). If cos_tab is not NULL the keys are stored before RoPE and key j is rotated on the
 * fly with cos_tab/sin_tab + j*(head_dim/2) (the "consistent" dynamic NTK cache); if NULL the
 * keys are already rotated. out = softmax(scale * q.k_j) . v_j, the softmax a streaming one
 * (running max and sum, NTK_ATTN_CHUNK scores at a time). scratch: NTK_ATTN_SCRATCH(head_dim)
 * floats. F16 and Q8_0 rows are expanded to float exactly (as dequantize_row does) before use,
 * so every type scores like the f32 cache of its dequantized rows. */
NTK_KERNEL_TWINS(void, attention_head,
                 (float *out, const float *q, const void *k, const void *v, int kv_type,
                  int n_kv, int kv_stride, int head_dim, const float *cos_tab,
                  const float *sin_tab, float scale, float *scratch))

/* Shared by both attention twins (expf has no SIMD128 form): one chunk of the streaming
 * softmax. Raises *max to cover scores[0..n), replaces each score by exp(score - *max), adds
 * them to *sum (rescaled first) and returns the factor exp(old max - new max) by which the
 * caller must scale the output it has accumulated so far. */
float softmax_chunk(float *scores, int n, float *max, float *sum);

#if defined(__wasm_simd128__)
#define NTK_KERNEL(name) name##_simd
#define NTK_SIMD 1
#else
#define NTK_KERNEL(name) name##_scalar
#define NTK_SIMD 0
#endif

#define dot_f32        NTK_KERNEL(dot_f32)
#define dot_f16_f32    NTK_KERNEL(dot_f16_f32)
#define dot_bf16_f32   NTK_KERNEL(dot_bf16_f32)
#define dot_q8_0_q8_0  NTK_KERNEL(dot_q8_0_q8_0)
#define dot_q4_0_q8_0  NTK_KERNEL(dot_q4_0_q8_0)
#define dot_q4_1_q8_1  NTK_KERNEL(dot_q4_1_q8_1)
#define dot_q5_0_q8_0  NTK_KERNEL(dot_q5_0_q8_0)
#define dot_q5_1_q8_1  NTK_KERNEL(dot_q5_1_q8_1)
#define dot_q4_K_q8_K  NTK_KERNEL(dot_q4_K_q8_K)
#define dot_q5_K_q8_K  NTK_KERNEL(dot_q5_K_q8_K)
#define dot_q6_K_q8_K  NTK_KERNEL(dot_q6_K_q8_K)
#define axpy_f32       NTK_KERNEL(axpy_f32)
#define rope_rotate    NTK_KERNEL(rope_rotate)
#define attention_head NTK_KERNEL(attention_head)

#endif
