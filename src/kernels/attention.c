/* attention.c — attention_tile_run, the loop both attention twins run (attention.h): keys and
 * values a chunk of NTK_ATTN_CHUNK at a time, each token's causal limit, the query turned once per
 * chunk for the consistent cache, and the streaming softmax's running max and sum, the output
 * rescaled whenever the max rises and divided by the sum at the end. The arithmetic is the ops'. */
#include <math.h>
#include "attention.h"

void attention_tile_run(const attn_ops *ops, float *out, const float *q, int n_tok, int n_head, int q_stride,
                        const attn_kv *kv, int n_past, const attn_rope *rope, float scale, float *scratch) {
    const int hd = kv->head_dim, half = hd / 2, n_rows = n_tok * n_head, n_kv = n_past + n_tok;
    float *kbuf = scratch, *vbuf = kbuf + NTK_ATTN_CHUNK * hd, *scores = vbuf + NTK_ATTN_CHUNK * hd;
    float *qrot = scores + NTK_ATTN_CHUNK, *run_max = qrot + hd, *run_sum = run_max + n_rows;
    for (int r = 0; r < n_rows; r++) {
        run_max[r] = -INFINITY;
        run_sum[r] = 0.0f;
    }
    for (int t = 0; t < n_tok; t++)
        for (int d = 0; d < n_head * hd; d++) out[(size_t)t * q_stride + d] = 0.0f;
    for (int j0 = 0; j0 < n_kv; j0 += NTK_ATTN_CHUNK) {
        const int n = n_kv - j0 < NTK_ATTN_CHUNK ? n_kv - j0 : NTK_ATTN_CHUNK;
        int ks, vs;
        const float *keys = ops->rows(kv->k, kv->type, j0, n, kv->stride, hd, rope ? rope->step_cos : NULL,
                                      rope ? rope->step_sin : NULL, kbuf, &ks);
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
                    for (int d = 0; d < hd; d++) qrot[d] = qr[d];
                    ops->rotate(qrot, rope->start_cos + c, rope->start_sin + c, hd);
                    qr = qrot;
                }
                ops->scores(scores, qr, keys, m, ks, hd, scale);
                const float rescale = ops->softmax(scores, m, &run_max[r], &run_sum[r]);
                if (rescale != 1.0f)
                    for (int d = 0; d < hd; d++) o[d] *= rescale;
                ops->accumulate(o, scores, vals, m, vs, hd);
            }
        }
    }
    for (int t = 0; t < n_tok; t++)
        for (int h = 0; h < n_head; h++) {
            const float inv = 1.0f / run_sum[t * n_head + h];
            float *o = out + (size_t)t * q_stride + (size_t)h * hd;
            for (int d = 0; d < hd; d++) o[d] *= inv;
        }
}
