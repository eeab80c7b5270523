/* matmul.c — batched matrix products over the weight types; see matmul.h. */
#include "matmul.h"

#include "kernels.h"

#define ROW_TILE 16  /* rows of W kept hot while every token of the batch passes over them */

int matmul_supported(uint32_t type) {
    switch (type) {
    case GGML_TYPE_F32: case GGML_TYPE_F16: case GGML_TYPE_BF16:
    case GGML_TYPE_Q8_0: case GGML_TYPE_Q4_0:
        return 1;
    default:
        return 0;
    }
}

static float row_dot(const weight *w, const uint8_t *row, const float *x, const block_q8_0 *xq) {
    int n = (int)w->cols;
    switch (w->type) {
    case GGML_TYPE_F32:  return dot_f32((const float *)row, x, n);
    case GGML_TYPE_F16:  return dot_f16_f32((const ggml_half *)row, x, n);
    case GGML_TYPE_BF16: return dot_bf16_f32((const uint16_t *)row, x, n);
    case GGML_TYPE_Q8_0: return dot_q8_0_q8_0((const block_q8_0 *)row, xq, n);
    case GGML_TYPE_Q4_0: return dot_q4_0_q8_0((const block_q4_0 *)row, xq, n);
    default: return 0.0f;  /* unreachable: the loader accepts only matmul_supported types */
    }
}

typedef struct {
    const weight *w;
    const float *x;
    const block_q8_0 *xq;   /* x as Q8_0 for quantized W, else NULL */
    int64_t n_tok, rows_per_task;
    float *y;
} matmul_job;

/* One task: a band of rows for every token. Each y element is one row_dot, whoever computes
 * it, so the result does not depend on the number of threads. */
static void matmul_task(void *ctx, int task, int thread) {
    (void)thread;
    const matmul_job *j = ctx;
    const weight *w = j->w;
    const int64_t nb = w->cols / QK8_0, end = (task + 1) * j->rows_per_task;
    const uint8_t *base = w->data;
    for (int64_t r0 = task * j->rows_per_task; r0 < end && r0 < w->rows; r0 += ROW_TILE) {
        int64_t r1 = r0 + ROW_TILE < w->rows ? r0 + ROW_TILE : w->rows;
        for (int64_t t = 0; t < j->n_tok; t++) {
            const float *xt = j->x + t * w->cols;
            const block_q8_0 *xq = j->xq ? j->xq + t * nb : NULL;
            for (int64_t r = r0; r < r1; r++) j->y[t * w->rows + r] = row_dot(w, base + r * w->row_bytes, xt, xq);
        }
    }
}

void matmul(threadpool *pool, const weight *w, const float *x, int64_t n_tok, float *y, block_q8_0 *q8) {
    int quantized = w->type == GGML_TYPE_Q8_0 || w->type == GGML_TYPE_Q4_0;
    int64_t nb = w->cols / QK8_0;
    if (quantized)
        for (int64_t t = 0; t < n_tok; t++) quantize_row_q8_0(x + t * w->cols, q8 + t * nb, w->cols);
    /* a few bands a thread, so that a thread slowed by other work is made up for by the rest */
    int64_t tiles = (w->rows + ROW_TILE - 1) / ROW_TILE, bands = 4 * (int64_t)threadpool_size(pool);
    int64_t tiles_per_task = (tiles + bands - 1) / bands;
    matmul_job j = { w, x, quantized ? q8 : NULL, n_tok, tiles_per_task * ROW_TILE, y };
    parallel_for(pool, (int)((tiles + tiles_per_task - 1) / tiles_per_task), matmul_task, &j);
}

void weight_row(const weight *w, int64_t r, float *out) {
    dequantize_row(w->type, (const uint8_t *)w->data + r * w->row_bytes, out, w->cols);
}
