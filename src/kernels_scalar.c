/* kernels_scalar.c — the specification of every kernel in kernels.h: one element at a time, in
 * index order, accumulating in float. The SIMD twins must agree with these up to the float
 * rounding of a different summation order. */
#include <math.h>
#include <stddef.h>
#include "kernels.h"

float dot_f32_scalar(const float *a, const float *b, int n)
{
    float sum = 0.0f;
    for (int i = 0; i < n; i++)
        sum += a[i] * b[i];
    return sum;
}

float dot_f16_f32_scalar(const ggml_half *w, const float *x, int n)
{
    float sum = 0.0f;
    for (int i = 0; i < n; i++)
        sum += fp16_to_fp32(w[i]) * x[i];
    return sum;
}

float dot_bf16_f32_scalar(const uint16_t *w, const float *x, int n)
{
    float sum = 0.0f;
    for (int i = 0; i < n; i++)
        sum += bf16_to_fp32(w[i]) * x[i];
    return sum;
}

/* Products of int8 are summed exactly in int32 (32 * 128 * 128 cannot overflow); only the
 * per-block scaling and the sum over blocks round. */
float dot_q8_0_q8_0_scalar(const block_q8_0 *w, const block_q8_0 *x, int n)
{
    float sum = 0.0f;
    for (int b = 0; b < n / QK8_0; b++) {
        int32_t isum = 0;
        for (int j = 0; j < QK8_0; j++)
            isum += w[b].qs[j] * x[b].qs[j];
        sum += fp16_to_fp32(w[b].d) * fp16_to_fp32(x[b].d) * (float)isum;
    }
    return sum;
}

float dot_q4_0_q8_0_scalar(const block_q4_0 *w, const block_q8_0 *x, int n)
{
    float sum = 0.0f;
    for (int b = 0; b < n / QK4_0; b++) {
        int32_t isum = 0;
        for (int j = 0; j < QK4_0 / 2; j++) {
            isum += ((w[b].qs[j] & 15) - 8) * x[b].qs[j];
            isum += ((w[b].qs[j] >> 4) - 8) * x[b].qs[j + QK4_0 / 2];
        }
        sum += fp16_to_fp32(w[b].d) * fp16_to_fp32(x[b].d) * (float)isum;
    }
    return sum;
}

/* A Q4_1 (qh NULL) or Q5_1 block: the offset m meets the activations' s = dx * sum(qx). */
static float q4_1_q5_1_block(ggml_half d, ggml_half m, const uint8_t *qs, const uint8_t *qh,
                             const block_q8_1 *x)
{
    int32_t isum = 0;
    for (int j = 0; j < QK8_0; j++)
        isum += q4_q5_quant(qs, qh, j) * x->qs[j];
    return fp16_to_fp32(d) * fp16_to_fp32(x->d) * (float)isum + fp16_to_fp32(m) * fp16_to_fp32(x->s);
}

float dot_q4_1_q8_1_scalar(const block_q4_1 *w, const block_q8_1 *x, int n)
{
    float sum = 0.0f;
    for (int b = 0; b < n / QK8_0; b++)
        sum += q4_1_q5_1_block(w[b].d, w[b].m, w[b].qs, NULL, &x[b]);
    return sum;
}

float dot_q5_1_q8_1_scalar(const block_q5_1 *w, const block_q8_1 *x, int n)
{
    float sum = 0.0f;
    for (int b = 0; b < n / QK8_0; b++)
        sum += q4_1_q5_1_block(w[b].d, w[b].m, w[b].qs, w[b].qh, &x[b]);
    return sum;
}

float dot_q5_0_q8_0_scalar(const block_q5_0 *w, const block_q8_0 *x, int n)
{
    float sum = 0.0f;
    for (int b = 0; b < n / QK8_0; b++) {
        int32_t isum = 0;
        for (int j = 0; j < QK8_0; j++)
            isum += (q4_q5_quant(w[b].qs, w[b].qh, j) - 16) * x[b].qs[j];
        sum += fp16_to_fp32(w[b].d) * fp16_to_fp32(x[b].d) * (float)isum;
    }
    return sum;
}

/* One Q4_K (qh NULL) or Q5_K super-block. Sub-block sums times their 6-bit scales stay exact
 * in int32 (8 * 63 * 32 * 31 * 127 < 2^31); a sub-block's min meets the sum of its activations,
 * which Q8_K carries in bsums. */
static float k4_block(ggml_half d, ggml_half dmin, const uint8_t scales[12], const uint8_t *qs,
                      const uint8_t *qh, const block_q8_K *x)
{
    uint8_t sc[8], mn[8];
    unpack_q4_K_scales(scales, sc, mn);
    int32_t isum = 0, msum = 0;
    for (int j = 0; j < 8; j++) {
        int32_t s = 0;
        for (int e = 32 * j; e < 32 * j + 32; e++)
            s += k4_quant(qs, qh, e) * x->qs[e];
        isum += sc[j] * s;
        msum += mn[j] * (x->bsums[2 * j] + x->bsums[2 * j + 1]);
    }
    return fp16_to_fp32(d) * x->d * (float)isum - fp16_to_fp32(dmin) * x->d * (float)msum;
}

float dot_q4_K_q8_K_scalar(const block_q4_K *w, const block_q8_K *x, int n)
{
    float sum = 0.0f;
    for (int b = 0; b < n / QK_K; b++)
        sum += k4_block(w[b].d, w[b].dmin, w[b].scales, w[b].qs, NULL, &x[b]);
    return sum;
}

float dot_q5_K_q8_K_scalar(const block_q5_K *w, const block_q8_K *x, int n)
{
    float sum = 0.0f;
    for (int b = 0; b < n / QK_K; b++)
        sum += k4_block(w[b].d, w[b].dmin, w[b].scales, w[b].qs, w[b].qh, &x[b]);
    return sum;
}

/* |isum| <= 16 * 128 * 16 * 32 * 127 < 2^31 */
float dot_q6_K_q8_K_scalar(const block_q6_K *w, const block_q8_K *x, int n)
{
    float sum = 0.0f;
    for (int b = 0; b < n / QK_K; b++) {
        int32_t isum = 0;
        for (int j = 0; j < QK_K / 16; j++) {
            int32_t s = 0;
            for (int e = 16 * j; e < 16 * j + 16; e++)
                s += q6_K_quant(&w[b], e) * x[b].qs[e];
            isum += w[b].scales[j] * s;
        }
        sum += fp16_to_fp32(w[b].d) * x[b].d * (float)isum;
    }
    return sum;
}

static const block_q8_K *token_row(const block_q8_K *x, size_t x_stride, int t)
{
    return (const block_q8_K *)((const uint8_t *)x + (size_t)t * x_stride);
}

void dots_q4_K_q8_K_scalar(const block_q4_K *w, const block_q8_K *x, size_t x_stride, int n_tok,
                           int n, float *out)
{
    for (int t = 0; t < n_tok; t++)
        out[t] = dot_q4_K_q8_K_scalar(w, token_row(x, x_stride, t), n);
}

void dots_q5_K_q8_K_scalar(const block_q5_K *w, const block_q8_K *x, size_t x_stride, int n_tok,
                           int n, float *out)
{
    for (int t = 0; t < n_tok; t++)
        out[t] = dot_q5_K_q8_K_scalar(w, token_row(x, x_stride, t), n);
}

void dots_q6_K_q8_K_scalar(const block_q6_K *w, const block_q8_K *x, size_t x_stride, int n_tok,
                           int n, float *out)
{
    for (int t = 0; t < n_tok; t++)
        out[t] = dot_q6_K_q8_K_scalar(w, token_row(x, x_stride, t), n);
}

void axpy_f32_scalar(float *y, float a, const float *x, int n)
{
    for (int i = 0; i < n; i++)
        y[i] += a * x[i];
}

void rope_rotate_scalar(float *x, const float *c, const float *s, int head_dim)
{
    for (int i = 0; i < head_dim / 2; i++) {
        const float x0 = x[2 * i], x1 = x[2 * i + 1];
        x[2 * i] = x0 * c[i] - x1 * s[i];
        x[2 * i + 1] = x0 * s[i] + x1 * c[i];
    }
}

float softmax_chunk_scalar(float *scores, int n, float *max, float *sum)
{
    /* subtracting the running max keeps expf in range however large the scores are */
    float m = *max;
    for (int j = 0; j < n; j++)
        m = fmaxf(m, scores[j]);
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

static const float *rows_scalar(const void *base, int type, int j0, int n, int stride,
                               int head_dim, const float *rot_cos, const float *rot_sin,
                               float *buf, int *row_stride)
{
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
            rope_rotate_scalar(y, rot_cos + (size_t)j * (head_dim / 2),
                               rot_sin + (size_t)j * (head_dim / 2), head_dim);
    }
    return buf;
}

static void scores_scalar(float *scores, const float *q, const float *k, int n, int row_stride,
                          int head_dim, float scale)
{
    for (int i = 0; i < n; i++)
        scores[i] = scale * dot_f32_scalar(q, k + (size_t)i * row_stride, head_dim);
}

static void accumulate_scalar(float *out, const float *p, const float *v, int n, int row_stride,
                              int head_dim)
{
    for (int i = 0; i < n; i++)
        axpy_f32_scalar(out, p[i], v + (size_t)i * row_stride, head_dim);
}

void attention_tile_run(const attn_ops *ops, float *out, const float *q, int n_tok, int n_head,
                        int q_stride, const attn_kv *kv, int n_past, const attn_rope *rope,
                        float scale, float *scratch)
{
    const int hd = kv->head_dim, half = hd / 2, n_rows = n_tok * n_head, n_kv = n_past + n_tok;
    float *kbuf = scratch, *vbuf = kbuf + NTK_ATTN_CHUNK * hd, *scores = vbuf + NTK_ATTN_CHUNK * hd;
    float *qrot = scores + NTK_ATTN_CHUNK, *run_max = qrot + hd, *run_sum = run_max + n_rows;
    for (int r = 0; r < n_rows; r++) {
        run_max[r] = -INFINITY;
        run_sum[r] = 0.0f;
    }
    for (int t = 0; t < n_tok; t++)
        for (int d = 0; d < n_head * hd; d++)
            out[(size_t)t * q_stride + d] = 0.0f;
    for (int j0 = 0; j0 < n_kv; j0 += NTK_ATTN_CHUNK) {
        const int n = n_kv - j0 < NTK_ATTN_CHUNK ? n_kv - j0 : NTK_ATTN_CHUNK;
        int ks, vs;
        const float *keys = ops->rows(kv->k, kv->type, j0, n, kv->stride, hd,
                                      rope ? rope->step_cos : NULL, rope ? rope->step_sin : NULL,
                                      kbuf, &ks);
        const float *vals = ops->rows(kv->v, kv->type, j0, n, kv->stride, hd, NULL, NULL, vbuf, &vs);
        /* tokens before t = j0 - n_past see none of this chunk; rows of a token differ only in q */
        for (int t = j0 > n_past ? j0 - n_past : 0; t < n_tok; t++) {
            const int m = n_past + t + 1 - j0 < n ? n_past + t + 1 - j0 : n;
            for (int h = 0; h < n_head; h++) {
                const int r = t * n_head + h;
                const float *qr = q + (size_t)t * q_stride + (size_t)h * hd;
                float *o = out + (size_t)t * q_stride + (size_t)h * hd;
                if (rope) {
                    const size_t c = (size_t)(j0 / NTK_ATTN_CHUNK) * half;
                    for (int d = 0; d < hd; d++)
                        qrot[d] = qr[d];
                    ops->rotate(qrot, rope->start_cos + c, rope->start_sin + c, hd);
                    qr = qrot;
                }
                ops->scores(scores, qr, keys, m, ks, hd, scale);
                const float rescale = ops->softmax(scores, m, &run_max[r], &run_sum[r]);
                if (rescale != 1.0f)
                    for (int d = 0; d < hd; d++)
                        o[d] *= rescale;
                ops->accumulate(o, scores, vals, m, vs, hd);
            }
        }
    }
    for (int t = 0; t < n_tok; t++)
        for (int h = 0; h < n_head; h++) {
            const float inv = 1.0f / run_sum[t * n_head + h];
            float *o = out + (size_t)t * q_stride + (size_t)h * hd;
            for (int d = 0; d < hd; d++)
                o[d] *= inv;
        }
}

void attention_tile_scalar(float *out, const float *q, int n_tok, int n_head, int q_stride,
                           const attn_kv *kv, int n_past, const attn_rope *rope, float scale,
                           float *scratch)
{
    static const attn_ops ops = { rows_scalar, rope_rotate_scalar, scores_scalar, softmax_chunk_scalar,
                                  accumulate_scalar };
    attention_tile_run(&ops, out, q, n_tok, n_head, q_stride, kv, n_past, rope, scale, scratch);
}
