/* matmul.c — batched matrix products over the weight types; see matmul.h. */
#include "matmul.h"

#include "kernels.h"

#define ROW_TILE 16  /* rows of W kept hot while every token of the batch passes over them */

/* The activation format each supported weight type's kernel takes: F32 means the floats as they
 * are. Types left out (act 0 is F32, so `supported` marks the entries) cannot be multiplied. */
static const struct { int supported; uint32_t act; } kinds[GGML_TYPE_COUNT] = {
    [GGML_TYPE_F32]  = { 1, GGML_TYPE_F32 },
    [GGML_TYPE_F16]  = { 1, GGML_TYPE_F32 },
    [GGML_TYPE_BF16] = { 1, GGML_TYPE_F32 },
    [GGML_TYPE_Q8_0] = { 1, GGML_TYPE_Q8_0 },
    [GGML_TYPE_Q4_0] = { 1, GGML_TYPE_Q8_0 },
    [GGML_TYPE_Q4_1] = { 1, GGML_TYPE_Q8_1 },
    [GGML_TYPE_Q5_0] = { 1, GGML_TYPE_Q8_0 },
    [GGML_TYPE_Q5_1] = { 1, GGML_TYPE_Q8_1 },
    [GGML_TYPE_Q4_K] = { 1, GGML_TYPE_Q8_K },
    [GGML_TYPE_Q5_K] = { 1, GGML_TYPE_Q8_K },
    [GGML_TYPE_Q6_K] = { 1, GGML_TYPE_Q8_K },
};

int matmul_supported(uint32_t type) {
    return type < GGML_TYPE_COUNT && kinds[type].supported;
}

/* Bytes of one row of cols values in an activation format, a partial block rounded up. */
static size_t act_row_bytes(uint32_t act, int64_t cols) {
    const ggml_type_traits *t = ggml_type_info(act);
    return (size_t)((cols + t->block_size - 1) / t->block_size) * (size_t)t->type_size;
}

size_t matmul_xq_bytes(int64_t n_tok, int64_t cols) {
    size_t most = 0;
    for (uint32_t t = 0; t < GGML_TYPE_COUNT; t++) {
        size_t b = kinds[t].supported && kinds[t].act != GGML_TYPE_F32 ? act_row_bytes(kinds[t].act, cols) : 0;
        if (b > most) most = b;
    }
    return (size_t)n_tok * most;
}

static void quantize_activations(uint32_t act, const float *x, void *xq, int64_t cols) {
    switch (act) {
    case GGML_TYPE_Q8_0: quantize_row_q8_0(x, xq, cols); break;
    case GGML_TYPE_Q8_1: quantize_row_q8_1(x, xq, cols); break;
    default: quantize_row_q8_K(x, xq, cols); break;
    }
}

static float row_dot(const weight *w, const uint8_t *row, const float *x, const void *xq) {
    int n = (int)w->cols;
    switch (w->type) {
    case GGML_TYPE_F32:  return dot_f32((const float *)row, x, n);
    case GGML_TYPE_F16:  return dot_f16_f32((const ggml_half *)row, x, n);
    case GGML_TYPE_BF16: return dot_bf16_f32((const uint16_t *)row, x, n);
    case GGML_TYPE_Q8_0: return dot_q8_0_q8_0((const block_q8_0 *)row, xq, n);
    case GGML_TYPE_Q4_0: return dot_q4_0_q8_0((const block_q4_0 *)row, xq, n);
    case GGML_TYPE_Q4_1: return dot_q4_1_q8_1((const block_q4_1 *)row, xq, n);
    case GGML_TYPE_Q5_0: return dot_q5_0_q8_0((const block_q5_0 *)row, xq, n);
    case GGML_TYPE_Q5_1: return dot_q5_1_q8_1((const block_q5_1 *)row, xq, n);
    case GGML_TYPE_Q4_K: return dot_q4_K_q8_K((const block_q4_K *)row, xq, n);
    case GGML_TYPE_Q5_K: return dot_q5_K_q8_K((const block_q5_K *)row, xq, n);
    case GGML_TYPE_Q6_K: return dot_q6_K_q8_K((const block_q6_K *)row, xq, n);
    default: return 0.0f;  /* unreachable: the loader accepts only matmul_supported types */
    }
}

void matmul(const weight *w, const float *x, int64_t n_tok, float *y, void *xq) {
    uint32_t act = kinds[w->type].act;
    size_t xq_row = act == GGML_TYPE_F32 ? 0 : act_row_bytes(act, w->cols);
    if (xq_row)
        for (int64_t t = 0; t < n_tok; t++)
            quantize_activations(act, x + t * w->cols, (uint8_t *)xq + t * xq_row, w->cols);
    const uint8_t *base = w->data;
    for (int64_t r0 = 0; r0 < w->rows; r0 += ROW_TILE) {
        int64_t r1 = r0 + ROW_TILE < w->rows ? r0 + ROW_TILE : w->rows;
        for (int64_t t = 0; t < n_tok; t++) {
            const float *xt = x + t * w->cols;
            const uint8_t *xqt = (const uint8_t *)xq + t * xq_row;
            for (int64_t r = r0; r < r1; r++) y[t * w->rows + r] = row_dot(w, base + r * w->row_bytes, xt, xqt);
        }
    }
}

void weight_row(const weight *w, int64_t r, float *out) {
    dequantize_row(w->type, (const uint8_t *)w->data + r * w->row_bytes, out, w->cols);
}
