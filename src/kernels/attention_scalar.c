/* attention_scalar.c — the specification of softmax_chunk and of attention_tile's kernels
 * (attention.h's attn_ops): cache rows expanded with dequantize_row and turned with
 * rope_rotate_scalar, scores by dot_f32_scalar, values summed by axpy_f32_scalar, the softmax's
 * exponentials by expf. */
#include <math.h>
#include "attention.h"

float softmax_chunk_scalar(float *scores, int n, float *max, float *sum) {
    /* subtracting the running max keeps expf in range however large the scores are */
    float m = *max;
    for (int j = 0; j < n; j++) m = fmaxf(m, scores[j]);
    const float rescale = m > *max ? expf(*max - m) : 1.0f;
    float s = *sum * rescale;
    for (int j = 0; j < n; j++) {
        scores[j] = expf(scores[j] - m);
        s += scores[j];
    }
    *max = m;
    *sum = s;
    return rescale;
}

static const float *rows_scalar(const void *base, int type, int j0, int n, int stride, int head_dim,
                                const float *rot_cos, const float *rot_sin, float *buf, int *row_stride) {
    if (type == NTK_KV_F32 && !rot_cos) {
        *row_stride = stride;
        return (const float *)base + (size_t)j0 * stride;
    }
    *row_stride = head_dim;
    const uint32_t ggml = type == NTK_KV_F16 ? GGML_TYPE_F16 : type == NTK_KV_Q8_0 ? GGML_TYPE_Q8_0 : GGML_TYPE_F32;
    const ggml_type_traits *t = ggml_type_info(ggml);
    for (int j = 0; j < n; j++) {
        float *y = buf + (size_t)j * head_dim;
        /* stride is in elements, a multiple of the block size (kernels.h) */
        const size_t row_bytes = (size_t)(j0 + j) * stride / t->block_size * t->type_size;
        dequantize_row(ggml, (const uint8_t *)base + row_bytes, y, head_dim);
        if (rot_cos)
            rope_rotate_scalar(y, rot_cos + (size_t)j * (head_dim / 2), rot_sin + (size_t)j * (head_dim / 2), head_dim);
    }
    return buf;
}

static void scores_scalar(float *scores, const float *q, const float *k, int n, int row_stride, int head_dim,
                          float scale) {
    for (int i = 0; i < n; i++) scores[i] = scale * dot_f32_scalar(q, k + (size_t)i * row_stride, head_dim);
}

static void accumulate_scalar(float *out, const float *p, const float *v, int n, int row_stride, int head_dim) {
    for (int i = 0; i < n; i++) axpy_f32_scalar(out, p[i], v + (size_t)i * row_stride, head_dim);
}

void attention_tile_scalar(float *out, const float *q, int n_tok, int n_head, int q_stride, const attn_kv *kv,
                           int n_past, const attn_rope *rope, float scale, float *scratch) {
    static const attn_ops ops = { rows_scalar, rope_rotate_scalar, scores_scalar, softmax_chunk_scalar,
                                  accumulate_scalar };
    attention_tile_run(&ops, out, q, n_tok, n_head, q_stride, kv, n_past, rope, scale, scratch);
}
