/* types.c — the row of every ggml type id; see types.h. Geometry of the types the engine does not
 * run is ggml's (ggml/src/ggml.c type_traits, ggml/src/ggml-common.h block structs). */
#include "types.h"

#include <stdio.h>

#include "kernels.h"
#include "quant.h"

/* The kernels take their own block types; the rows take one signature for every type. */
static float dot_f32_row(const void *w, const void *x, int n) { return dot_f32(w, x, n); }
static float dot_f16_row(const void *w, const void *x, int n) { return dot_f16_f32(w, x, n); }
static float dot_bf16_row(const void *w, const void *x, int n) { return dot_bf16_f32(w, x, n); }
static float dot_q4_0_row(const void *w, const void *x, int n) { return dot_q4_0_q8_0(w, x, n); }
static float dot_q4_1_row(const void *w, const void *x, int n) { return dot_q4_1_q8_1(w, x, n); }
static float dot_q5_0_row(const void *w, const void *x, int n) { return dot_q5_0_q8_0(w, x, n); }
static float dot_q5_1_row(const void *w, const void *x, int n) { return dot_q5_1_q8_1(w, x, n); }
static float dot_q8_0_row(const void *w, const void *x, int n) { return dot_q8_0_q8_0(w, x, n); }
static float dot_q4_K_row(const void *w, const void *x, int n) { return dot_q4_K_q8_K(w, x, n); }
static float dot_q5_K_row(const void *w, const void *x, int n) { return dot_q5_K_q8_K(w, x, n); }
static float dot_q6_K_row(const void *w, const void *x, int n) { return dot_q6_K_q8_K(w, x, n); }
#define DOTS_ROW(t)                                                                                           \
    static void dots_##t##_row(const void *w, const void *x, size_t x_stride, int n_tok, int n, float *out) { \
        dots_##t##_q8_K(w, x, x_stride, n_tok, n, out);                                                       \
    }
DOTS_ROW(q4_K)
DOTS_ROW(q5_K)
DOTS_ROW(q6_K)
static void quantize_q8_0_row(const float *x, void *y, int64_t k) { quantize_row_q8_0(x, y, k); }
static void quantize_q8_1_row(const float *x, void *y, int64_t k) { quantize_row_q8_1(x, y, k); }
static void quantize_q8_K_row(const float *x, void *y, int64_t k) { quantize_row_q8_K(x, y, k); }

/* A type with ggml's geometry only. */
#define KNOWN(T, bs, ts) [GGML_TYPE_##T] = { #T, bs, ts, 0, GGML_TYPE_F32, NULL, NULL, NULL, NULL }

static const ggml_type_traits rows[GGML_TYPE_COUNT] = {
    [GGML_TYPE_F32] = { "F32", 1, sizeof(float), _Alignof(float), GGML_TYPE_F32, dot_f32_row, NULL, dequantize_row_f32,
                        NULL },
    [GGML_TYPE_F16] = { "F16", 1, sizeof(ggml_half), _Alignof(ggml_half), GGML_TYPE_F32, dot_f16_row, NULL,
                        dequantize_row_f16, NULL },
    [GGML_TYPE_Q4_0] = { "Q4_0", QK4_0, sizeof(block_q4_0), _Alignof(block_q4_0), GGML_TYPE_Q8_0, dot_q4_0_row, NULL,
                         dequantize_row_q4_0, NULL },
    [GGML_TYPE_Q4_1] = { "Q4_1", QK8_0, sizeof(block_q4_1), _Alignof(block_q4_1), GGML_TYPE_Q8_1, dot_q4_1_row, NULL,
                         dequantize_row_q4_1, NULL },
    KNOWN(Q4_2, 0, 0),
    KNOWN(Q4_3, 0, 0),
    [GGML_TYPE_Q5_0] = { "Q5_0", QK8_0, sizeof(block_q5_0), _Alignof(block_q5_0), GGML_TYPE_Q8_0, dot_q5_0_row, NULL,
                         dequantize_row_q5_0, NULL },
    [GGML_TYPE_Q5_1] = { "Q5_1", QK8_0, sizeof(block_q5_1), _Alignof(block_q5_1), GGML_TYPE_Q8_1, dot_q5_1_row, NULL,
                         dequantize_row_q5_1, NULL },
    [GGML_TYPE_Q8_0] = { "Q8_0", QK8_0, sizeof(block_q8_0), _Alignof(block_q8_0), GGML_TYPE_Q8_0, dot_q8_0_row, NULL,
                         dequantize_row_q8_0, quantize_q8_0_row },
    [GGML_TYPE_Q8_1] = { "Q8_1", QK8_0, sizeof(block_q8_1), _Alignof(block_q8_1), GGML_TYPE_F32, NULL, NULL,
                         dequantize_row_q8_1, quantize_q8_1_row },
    KNOWN(Q2_K, 256, 84),
    KNOWN(Q3_K, 256, 110),
    [GGML_TYPE_Q4_K] = { "Q4_K", QK_K, sizeof(block_q4_K), _Alignof(block_q4_K), GGML_TYPE_Q8_K, dot_q4_K_row,
                         dots_q4_K_row, dequantize_row_q4_K, NULL },
    [GGML_TYPE_Q5_K] = { "Q5_K", QK_K, sizeof(block_q5_K), _Alignof(block_q5_K), GGML_TYPE_Q8_K, dot_q5_K_row,
                         dots_q5_K_row, dequantize_row_q5_K, NULL },
    [GGML_TYPE_Q6_K] = { "Q6_K", QK_K, sizeof(block_q6_K), _Alignof(block_q6_K), GGML_TYPE_Q8_K, dot_q6_K_row,
                         dots_q6_K_row, dequantize_row_q6_K, NULL },
    [GGML_TYPE_Q8_K] = { "Q8_K", QK_K, sizeof(block_q8_K), _Alignof(block_q8_K), GGML_TYPE_F32, NULL, NULL,
                         dequantize_row_q8_K, quantize_q8_K_row },
    KNOWN(IQ2_XXS, 256, 66),
    KNOWN(IQ2_XS, 256, 74),
    KNOWN(IQ3_XXS, 256, 98),
    KNOWN(IQ1_S, 256, 50),
    KNOWN(IQ4_NL, 32, 18),
    KNOWN(IQ3_S, 256, 110),
    KNOWN(IQ2_S, 256, 82),
    KNOWN(IQ4_XS, 256, 136),
    KNOWN(I8, 1, 1),
    KNOWN(I16, 1, 2),
    KNOWN(I32, 1, 4),
    KNOWN(I64, 1, 8),
    KNOWN(F64, 1, 8),
    KNOWN(IQ1_M, 256, 56),
    [GGML_TYPE_BF16] = { "BF16", 1, sizeof(uint16_t), _Alignof(uint16_t), GGML_TYPE_F32, dot_bf16_row, NULL,
                         dequantize_row_bf16, NULL },
    KNOWN(Q4_0_4_4, 0, 0),
    KNOWN(Q4_0_4_8, 0, 0),
    KNOWN(Q4_0_8_8, 0, 0),
    KNOWN(TQ1_0, 256, 54),
    KNOWN(TQ2_0, 256, 66),
    KNOWN(IQ4_NL_4_4, 0, 0),
    KNOWN(IQ4_NL_4_8, 0, 0),
    KNOWN(IQ4_NL_8_8, 0, 0),
    KNOWN(MXFP4, 32, 17),
    KNOWN(NVFP4, 64, 36),
    KNOWN(Q1_0, 128, 18),
};

const ggml_type_traits *ggml_type_info(uint32_t type) {
    return type < GGML_TYPE_COUNT && rows[type].name ? &rows[type] : NULL;
}

void ggml_types_run(char *out, size_t cap) {
    size_t len = 0;
    out[0] = 0;
    for (int t = 0; t < GGML_TYPE_COUNT && len < cap; t++)
        if (rows[t].dot) len += (size_t)snprintf(out + len, cap - len, "%s%s", len ? ", " : "", rows[t].name);
}

int dequantize_row(uint32_t type, const void *x, float *y, int64_t k) {
    const ggml_type_traits *t = ggml_type_info(type);
    /* a status, not abort(): aborting would kill the whole WebAssembly instance */
    if (!t || !t->to_float) return -1;
    t->to_float(x, y, k);
    return 0;
}
