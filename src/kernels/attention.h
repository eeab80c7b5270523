/* attention.h — what attention.c and the two attention twins share (not for the engine, which
 * calls attention_tile from kernels.h). The twins differ only in the kernels of attn_ops; the
 * loop around them, attention_tile_run, is one piece of code, so both twins chunk the keys,
 * limit them causally and keep the streaming softmax in exactly the same way. */
#ifndef NTK_KERNELS_ATTENTION_H
#define NTK_KERNELS_ATTENTION_H

#include "kernels.h"

typedef struct {
    /* Rows [j0, j0+n) of a cache as floats, row j0+i turned by the angle of (rot_cos, rot_sin)
     * row i when rot_cos is not NULL: in place when f32 and not rotated, else written to buf
     * (n rows of head_dim); *row_stride tells which. */
    const float *(*rows)(const void *base, int type, int j0, int n, int stride, int head_dim, const float *rot_cos,
                         const float *rot_sin, float *buf, int *row_stride);
    /* rope_rotate */
    void (*rotate)(float *x, const float *c, const float *s, int head_dim);
    /* scores[i] = scale * q.k_i over n rows of k */
    void (*scores)(float *scores, const float *q, const float *k, int n, int row_stride, int head_dim, float scale);
    /* softmax_chunk */
    float (*softmax)(float *scores, int n, float *max, float *sum);
    /* out += sum_i p[i] * v_i over n rows of v, each column summed in index order */
    void (*accumulate)(float *out, const float *p, const float *v, int n, int row_stride, int head_dim);
} attn_ops;

/* attention_tile (kernels.h) with the kernels of ops. */
void attention_tile_run(const attn_ops *ops, float *out, const float *q, int n_tok, int n_head, int q_stride,
                        const attn_kv *kv, int n_past, const attn_rope *rope, float scale, float *scratch);

#endif
