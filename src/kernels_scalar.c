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

/* q . rope(k) without writing the rotated key anywhere: the rotation is rope_rotate_scalar's,
 * term by term, so a key rotated here scores exactly as one rotated in place. */
static float dot_rotated(const float *q, const float *k, const float *c, const float *s,
                         int head_dim)
{
    float sum = 0.0f;
    for (int i = 0; i < head_dim / 2; i++) {
        const float k0 = k[2 * i], k1 = k[2 * i + 1];
        sum += q[2 * i] * (k0 * c[i] - k1 * s[i]);
        sum += q[2 * i + 1] * (k0 * s[i] + k1 * c[i]);
    }
    return sum;
}

float softmax_chunk(float *scores, int n, float *max, float *sum)
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

/* Row j of a KV cache of the given type as floats: f32 rows in place, others expanded into
 * tmp (head_dim floats). */
static const float *kv_row(const void *base, int type, int j, int stride, int head_dim,
                           float *tmp)
{
    if (type == NTK_KV_F16) {
        const ggml_half *h = (const ggml_half *)base + (size_t)j * stride;
        for (int i = 0; i < head_dim; i++)
            tmp[i] = fp16_to_fp32(h[i]);
        return tmp;
    }
    if (type == NTK_KV_Q8_0) {
        const block_q8_0 *b = (const block_q8_0 *)base + (size_t)j * (stride / QK8_0);
        for (int i = 0; i < head_dim / QK8_0; i++) {
            const float d = fp16_to_fp32(b[i].d);
            for (int e = 0; e < QK8_0; e++)
                tmp[i * QK8_0 + e] = d * b[i].qs[e];
        }
        return tmp;
    }
    return (const float *)base + (size_t)j * stride;
}

void attention_head_scalar(float *out, const float *q, const void *k, const void *v, int kv_type,
                           int n_kv, int kv_stride, int head_dim, const float *cos_tab,
                           const float *sin_tab, float scale, float *scratch)
{
    const size_t half = (size_t)head_dim / 2;
    float *scores = scratch, *row = scratch + NTK_ATTN_CHUNK;
    float max = -INFINITY, sum = 0.0f;
    for (int d = 0; d < head_dim; d++)
        out[d] = 0.0f;
    for (int j0 = 0; j0 < n_kv; j0 += NTK_ATTN_CHUNK) {
        const int n = n_kv - j0 < NTK_ATTN_CHUNK ? n_kv - j0 : NTK_ATTN_CHUNK;
        for (int i = 0; i < n; i++) {
            const int j = j0 + i;
            const float *kj = kv_row(k, kv_type, j, kv_stride, head_dim, row);
            const float dot = cos_tab ? dot_rotated(q, kj, cos_tab + j * half,
                                                    sin_tab + j * half, head_dim)
                                      : dot_f32_scalar(q, kj, head_dim);
            scores[i] = scale * dot;
        }
        const float rescale = softmax_chunk(scores, n, &max, &sum);
        if (rescale != 1.0f)
            for (int d = 0; d < head_dim; d++)
                out[d] *= rescale;
        for (int i = 0; i < n; i++)
            axpy_f32_scalar(out, scores[i], kv_row(v, kv_type, j0 + i, kv_stride, head_dim, row),
                            head_dim);
    }
    const float inv = 1.0f / sum;
    for (int d = 0; d < head_dim; d++)
        out[d] *= inv;
}
