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

void matmul(const weight *w, const float *x, int64_t n_tok, float *y, block_q8_0 *q8) {
    int quantized = w->type == GGML_TYPE_Q8_0 || w->type == GGML_TYPE_Q4_0;
    int64_t nb = w->cols / QK8_0;
    if (quantized)
        for (int64_t t = 0; t < n_tok; t++) quantize_row_q8_0(x + t * w->cols, q8 + t * nb, w->cols);
    const uint8_t *base = w->data;
    for (int64_t r0 = 0; r0 < w->rows; r0 += ROW_TILE) {
        int64_t r1 = r0 + ROW_TILE < w->rows ? r0 + ROW_TILE : w->rows;
        for (int64_t t = 0; t < n_tok; t++) {
            const float *xt = x + t * w->cols;
            const block_q8_0 *xq = quantized ? q8 + t * nb : NULL;
            for (int64_t r = r0; r < r1; r++) y[t * w->rows + r] = row_dot(w, base + r * w->row_bytes, xt, xq);
        }
    }
}

void weight_row(const weight *w, int64_t r, float *out) {
    dequantize_row(w->type, (const uint8_t *)w->data + r * w->row_bytes, out, w->cols);
}
