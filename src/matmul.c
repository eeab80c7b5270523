/* matmul.c — batched matrix products over the weight types; see matmul.h. */
#include "matmul.h"

#include "kernels.h"

#define ROW_TILE 16  /* rows of W kept hot while every token of the batch passes over them */
#define BAND_MACS (1 << 18)  /* at most a few tens of microseconds of work a task */

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

static int takes_q8_0(uint32_t type) { return type == GGML_TYPE_Q8_0 || type == GGML_TYPE_Q4_0; }

typedef struct {
    const weight *const *w;
    float *const *y;
    const float *x;
    const block_q8_0 *xq;   /* x as Q8_0, for the quantized matrices */
    int64_t n_tok, rows_per_task;
    int first[MATMUL_MAX + 1];  /* task number of each matrix's first band, then the total */
} matmul_job;

/* One task: a band of rows of one matrix for every token. Each y element is one row_dot,
 * whoever computes it, so the result does not depend on the number of threads. */
static void matmul_task(void *ctx, int task, int thread) {
    (void)thread;
    const matmul_job *j = ctx;
    int m = 0;
    while (task >= j->first[m + 1]) m++;
    const weight *w = j->w[m];
    const block_q8_0 *q8 = takes_q8_0(w->type) ? j->xq : NULL;
    const int64_t nb = w->cols / QK8_0, start = (task - j->first[m]) * j->rows_per_task, end = start + j->rows_per_task;
    const uint8_t *base = w->data;
    for (int64_t r0 = start; r0 < end && r0 < w->rows; r0 += ROW_TILE) {
        int64_t r1 = r0 + ROW_TILE < w->rows ? r0 + ROW_TILE : w->rows;
        for (int64_t t = 0; t < j->n_tok; t++) {
            const float *xt = j->x + t * w->cols;
            const block_q8_0 *xq = q8 ? q8 + t * nb : NULL;
            for (int64_t r = r0; r < r1; r++) j->y[m][t * w->rows + r] = row_dot(w, base + r * w->row_bytes, xt, xq);
        }
    }
}

void matmul_many(threadpool *pool, int n, const weight *const w[], float *const y[], const float *x, int64_t n_tok,
                 block_q8_0 *q8) {
    const int64_t cols = w[0]->cols, nb = cols / QK8_0;
    int64_t tiles = 0, quantized = 0;
    for (int m = 0; m < n; m++) {
        tiles += (w[m]->rows + ROW_TILE - 1) / ROW_TILE;
        quantized |= takes_q8_0(w[m]->type);
    }
    if (quantized)
        for (int64_t t = 0; t < n_tok; t++) quantize_row_q8_0(x + t * cols, q8 + t * nb, cols);
    /* A few bands a thread, so that a thread slowed by other work is made up for by the rest, and
     * none of more than BAND_MACS products: a worker descheduled in the middle of a band holds the
     * whole job up until it runs again, which short bands make rare on a busy machine. */
    const int64_t bands = 4 * (int64_t)threadpool_size(pool), tile_macs = ROW_TILE * cols * n_tok;
    int64_t tiles_per_task = (tiles + bands - 1) / bands;
    if (tiles_per_task * tile_macs > BAND_MACS) tiles_per_task = BAND_MACS / tile_macs > 1 ? BAND_MACS / tile_macs : 1;
    matmul_job j = { w, y, x, q8, n_tok, tiles_per_task * ROW_TILE, { 0 } };
    for (int m = 0; m < n; m++) j.first[m + 1] = j.first[m] + (int)((w[m]->rows + j.rows_per_task - 1) / j.rows_per_task);
    parallel_for(pool, j.first[n], matmul_task, &j);
}

void matmul(threadpool *pool, const weight *w, const float *x, int64_t n_tok, float *y, block_q8_0 *q8) {
    matmul_many(pool, 1, &w, &y, x, n_tok, q8);
}

void weight_row(const weight *w, int64_t r, float *out) {
    dequantize_row(w->type, (const uint8_t *)w->data + r * w->row_bytes, out, w->cols);
}
