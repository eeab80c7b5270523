/* kernels.h — the hot loops, each in two twins with the same signature:
 *   *_scalar  (src/kernels/<family>_scalar.c) plain C, the specification;
 *   *_simd    (src/kernels/<family>_simd.c)   WebAssembly SIMD128, the speed; only built with
 *             -msimd128, and with relaxed SIMD in the relaxed build (NTK_RELAXED_SIMD).
 * The unsuffixed names are what the engine calls: the SIMD twin when the build has SIMD128,
 * the scalar one otherwise (native builds, the scalar wasm build used for benchmark ratios).
 * Families: float (f32/f16/bf16 dots, axpy), legacy (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1 dots), kquant
 * (Q4_K, Q5_K, Q6_K dots), rotate (rope_rotate), attention (softmax_chunk, attention_tile; their
 * shared loop is src/kernels/attention.c). tests/c/kernels/test_<family>.c runs both twins on
 * random data and compares them.
 *
 * One header for all of them: the engine sees one list of kernels and one table of which twin
 * it calls. What a family's files share among themselves (attention's ops, the SIMD helpers)
 * is in headers under src/kernels/, which the engine does not include.
 *
 * Conventions: n is the length of a row in elements and a multiple of the weight type's block
 * (32, or 256 for K-quants); quantized dot products take weights in their block format and
 * activations already quantized (once per matrix product, as ggml does) to Q8_0, Q8_1 (for
 * Q4_1 and Q5_1) or Q8_K (for the K-quants), whose quants are -127..127 as quant.c makes them
 * (the relaxed build's Q8_0 kernel relies on it). */
#ifndef NTK_KERNELS_H
#define NTK_KERNELS_H

#include <stddef.h>
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
/* y[i] += a * x[i] */
NTK_KERNEL_TWINS(void, axpy_f32, (float *y, float a, const float *x, int n))
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
/* The same K-quant dots of one weight row with n_tok activation rows at once, bit for bit:
 * out[t] = dot_*_q8_K(w, x_t, n) where x_t starts x_stride bytes after x_{t-1}. The SIMD twin
 * unpacks each block of weights once for up to NTK_DOTS_TOKENS tokens, which is what makes a
 * prefill faster per token than a decode; the scalar twin is the loop over tokens. */
#define NTK_DOTS_TOKENS 8
NTK_KERNEL_TWINS(void, dots_q4_K_q8_K,
                 (const block_q4_K *w, const block_q8_K *x, size_t x_stride, int n_tok, int n, float *out))
NTK_KERNEL_TWINS(void, dots_q5_K_q8_K,
                 (const block_q5_K *w, const block_q8_K *x, size_t x_stride, int n_tok, int n, float *out))
NTK_KERNEL_TWINS(void, dots_q6_K_q8_K,
                 (const block_q6_K *w, const block_q8_K *x, size_t x_stride, int n_tok, int n, float *out))
/* x_t of a dots_* call */
static inline const block_q8_K *dots_token_row(const block_q8_K *x, size_t x_stride, int t) {
    return (const block_q8_K *)((const uint8_t *)x + (size_t)t * x_stride);
}
/* Rotate adjacent pairs (x[2i], x[2i+1]) of one head by the angle whose cos/sin are c[i], s[i]:
 * x'[2i] = x[2i]*c - x[2i+1]*s, x'[2i+1] = x[2i]*s + x[2i+1]*c; head_dim even. */
NTK_KERNEL_TWINS(void, rope_rotate, (float *x, const float *c, const float *s, int head_dim))
/* Element types of the KV cache (the values of ntk_set_kv_type). */
enum { NTK_KV_F32 = 0, NTK_KV_F16 = 1, NTK_KV_Q8_0 = 2 };

/* Keys scored per step of attention's streaming softmax: the scratch it needs is fixed however
 * long the context grows. */
#define NTK_ATTN_CHUNK 64

/* One KV head of one layer's cache: row j of k and v starts j*stride elements after row 0 and
 * holds head_dim elements of type (NTK_KV_*). For Q8_0, stride and head_dim are multiples of 32,
 * so a row is whole blocks. */
typedef struct {
    const void *k, *v;
    int type, stride, head_dim;
} attn_kv;

/* The consistent cache keeps keys before RoPE, and every call rotates all of them with its own
 * base. Rotations compose, so q.R(j)k = R(-j0)q . R(j-j0)k: each chunk of keys starting at j0
 * is turned by the same small angles j-j0 < NTK_ATTN_CHUNK, and the query once per chunk by
 * -j0. The tables (head_dim/2 floats a row, in rope_rotate's form) are then tiny: no row per
 * position, and refilled only when the base changes. */
typedef struct {
    const float *start_cos, *start_sin; /* row c: angle -(c * NTK_ATTN_CHUNK) */
    const float *step_cos, *step_sin;   /* row i: angle i, i < NTK_ATTN_CHUNK */
} attn_rope;

/* Floats of scratch attention_tile takes for a tile of `rows` query rows: a chunk of keys and
 * one of values as floats, a chunk of scores, a query, and each row's running max and sum. */
#define NTK_ATTN_SCRATCH(head_dim, rows) (2 * NTK_ATTN_CHUNK * (head_dim) + NTK_ATTN_CHUNK + (head_dim) + 2 * (rows))

/* Causal attention of a tile of queries that share one KV head: n_tok consecutive tokens, each
 * with n_head query heads (a GQA group), head h of token t at q + t*q_stride + h*head_dim (out
 * likewise). Token t sees keys [0, n_past + t + 1). rope NULL: keys are stored rotated, as are
 * the queries; otherwise keys are stored before RoPE and rotated on the fly (attn_rope).
 * out = softmax(scale * q.k_j) . v_j with a streaming softmax (running max and sum per row,
 * NTK_ATTN_CHUNK keys at a time), so memory does not grow with the context. Each chunk of keys
 * and values is expanded to float (F16/Q8_0 exactly as dequantize_row does) and rotated once
 * for the whole tile. scratch: NTK_ATTN_SCRATCH(head_dim, n_tok * n_head) floats. */
NTK_KERNEL_TWINS(void, attention_tile,
                 (float *out, const float *q, int n_tok, int n_head, int q_stride, const attn_kv *kv, int n_past,
                  const attn_rope *rope, float scale, float *scratch))

/* One chunk of attention's streaming softmax: raises *max to cover scores[0..n), replaces each
 * score by exp(score - *max), adds them to *sum (rescaled first) and returns the factor
 * exp(old max - new max) by which the caller must scale the output it has accumulated so far.
 * The SIMD twin's exp is a polynomial within a few ulp of expf's. */
NTK_KERNEL_TWINS(float, softmax_chunk, (float *scores, int n, float *max, float *sum))

#if defined(__wasm_simd128__)
#define NTK_KERNEL(name) name##_simd
#define NTK_SIMD         1
#else
#define NTK_KERNEL(name) name##_scalar
#define NTK_SIMD         0
#endif
/* The relaxed build (NTK_RELAXED_SIMD, see src/kernels/simd.h): SIMD twins that use relaxed SIMD */
#if defined(NTK_RELAXED_SIMD) && defined(__wasm_simd128__)
#define NTK_RELAXED 1
#else
#define NTK_RELAXED 0
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
#define dots_q4_K_q8_K NTK_KERNEL(dots_q4_K_q8_K)
#define dots_q5_K_q8_K NTK_KERNEL(dots_q5_K_q8_K)
#define dots_q6_K_q8_K NTK_KERNEL(dots_q6_K_q8_K)
#define axpy_f32       NTK_KERNEL(axpy_f32)
#define rope_rotate    NTK_KERNEL(rope_rotate)
#define attention_tile NTK_KERNEL(attention_tile)
#define softmax_chunk  NTK_KERNEL(softmax_chunk)

#endif
