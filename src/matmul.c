/* matmul.c — batched matrix products over the weight types; see matmul.h. */
#include "matmul.h"

#include "kernels.h"

#define ROW_TILE  16        /* rows of W kept hot while every token of the batch passes over them */
#define BAND_MACS (1 << 18) /* at most a few tens of microseconds of work a task */

/* An activation format is a row with a quantizer. xq holds one region for each, so matrices of
 * one call that pair with different formats (a mixture's Q4_K and Q8_0, say) each find x in
 * theirs. */
static int is_act(uint32_t t) { return ggml_type_info(t) && ggml_type_info(t)->from_float; }

/* Bytes of one row of cols values in an activation format, a partial block rounded up. */
static size_t act_row_bytes(uint32_t act, int64_t cols) {
    const ggml_type_traits *t = ggml_type_info(act);
    return (size_t)((cols + t->block_size - 1) / t->block_size) * (size_t)t->type_size;
}

size_t matmul_xq_bytes(int64_t n_tok, int64_t cols) {
    size_t all = 0;
    for (uint32_t a = 0; a < GGML_TYPE_COUNT; a++)
        if (is_act(a)) all += act_row_bytes(a, cols);
    return (size_t)n_tok * all;
}

/* Where x in format act starts in xq: after the regions of the formats before it. */
static uint8_t *act_region(void *xq, uint32_t act, int64_t n_tok, int64_t cols) {
    size_t off = 0;
    for (uint32_t a = 0; a < act; a++)
        if (is_act(a)) off += (size_t)n_tok * act_row_bytes(a, cols);
    return (uint8_t *)xq + off;
}

/* y[t * y_stride] = the dot of one row (of type tt) with token t's activations for
 * n_tok <= NTK_DOTS_TOKENS tokens: x as floats, or xq in the format of tt->act, xq_row bytes a
 * token. A type with dots meets all of them in one call, which unpacks each block of weights
 * once; the kernels' results are those of one token at a time, bit for bit. */
static void row_dots(const ggml_type_traits *tt, const weight *w, const uint8_t *row, const float *x, const uint8_t *xq,
                     size_t xq_row, int n_tok, float *y, int64_t y_stride) {
    float out[NTK_DOTS_TOKENS];
    const int n = (int)w->cols;
    if (tt->dots)
        tt->dots(row, xq, xq_row, n_tok, n, out);
    else
        for (int t = 0; t < n_tok; t++)
            out[t] = tt->dot(row, xq ? (const void *)(xq + t * xq_row) : x + t * w->cols, n);
    for (int t = 0; t < n_tok; t++) y[t * y_stride] = out[t];
}

typedef struct {
    const weight *const *w;
    float *const *y;
    const float *x;
    void *xq; /* x in each activation format the matrices take (act_region) */
    int64_t n_tok, rows_per_task;
    int first[MATMUL_MAX + 1]; /* task number of each matrix's first band, then the total */
} matmul_job;

/* One task: a band of rows of one matrix for every token. Each y element is one dot product,
 * whoever computes it, so the result does not depend on the number of threads. */
static void matmul_task(void *ctx, int task, int thread) {
    (void)thread;
    const matmul_job *j = ctx;
    int m = 0;
    while (task >= j->first[m + 1]) m++;
    const weight *w = j->w[m];
    const ggml_type_traits *tt = ggml_type_info(w->type);
    const uint32_t act = tt->act;
    const size_t xq_row = act == GGML_TYPE_F32 ? 0 : act_row_bytes(act, w->cols);
    const uint8_t *xq = xq_row ? act_region(j->xq, act, j->n_tok, w->cols) : NULL;
    const int64_t start = (task - j->first[m]) * j->rows_per_task, end = start + j->rows_per_task;
    const uint8_t *base = w->data;
    for (int64_t r0 = start; r0 < end && r0 < w->rows; r0 += ROW_TILE) {
        int64_t r1 = r0 + ROW_TILE < w->rows ? r0 + ROW_TILE : w->rows;
        for (int64_t t = 0; t < j->n_tok; t += NTK_DOTS_TOKENS) {
            const int n = j->n_tok - t < NTK_DOTS_TOKENS ? (int)(j->n_tok - t) : NTK_DOTS_TOKENS;
            const float *xt = j->x + t * w->cols;
            const uint8_t *xqt = xq ? xq + t * xq_row : NULL;
            for (int64_t r = r0; r < r1; r++)
                row_dots(tt, w, base + r * w->row_bytes, xt, xqt, xq_row, n, j->y[m] + t * w->rows + r, w->rows);
        }
    }
}

void matmul_many(threadpool *pool, int n, const weight *const w[], float *const y[], const float *x, int64_t n_tok,
                 void *xq) {
    const int64_t cols = w[0]->cols;
    int64_t tiles = 0;
    int done[GGML_TYPE_COUNT] = { 0 };
    for (int m = 0; m < n; m++) {
        tiles += (w[m]->rows + ROW_TILE - 1) / ROW_TILE;
        const uint32_t act = ggml_type_info(w[m]->type)->act;
        if (act == GGML_TYPE_F32 || done[act]) continue;
        done[act] = 1;
        uint8_t *region = act_region(xq, act, n_tok, cols);
        const size_t row = act_row_bytes(act, cols);
        for (int64_t t = 0; t < n_tok; t++) ggml_type_info(act)->from_float(x + t * cols, region + t * row, cols);
    }
    /* A few bands a thread, so that a thread slowed by other work is made up for by the rest, and
     * none of more than BAND_MACS products: a worker descheduled in the middle of a band holds the
     * whole job up until it runs again, which short bands make rare on a busy machine. */
    const int64_t bands = 4 * (int64_t)threadpool_size(pool), tile_macs = ROW_TILE * cols * n_tok;
    int64_t tiles_per_task = (tiles + bands - 1) / bands;
    if (tiles_per_task * tile_macs > BAND_MACS) tiles_per_task = BAND_MACS / tile_macs > 1 ? BAND_MACS / tile_macs : 1;
    matmul_job j = { w, y, x, xq, n_tok, tiles_per_task * ROW_TILE, { 0 } };
    for (int m = 0; m < n; m++)
        j.first[m + 1] = j.first[m] + (int)((w[m]->rows + j.rows_per_task - 1) / j.rows_per_task);
    parallel_for(pool, j.first[n], matmul_task, &j);
}

void matmul(threadpool *pool, const weight *w, const float *x, int64_t n_tok, float *y, void *xq) {
    matmul_many(pool, 1, &w, &y, x, n_tok, xq);
}

void weight_row(const weight *w, int64_t r, float *out) {
    dequantize_row(w->type, (const uint8_t *)w->data + r * w->row_bytes, out, w->cols);
}
