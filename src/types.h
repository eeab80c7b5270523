/* types.h — the ggml tensor types: one row per type id, the only place that knows them.
 *
 * Every id ggml defines has a row with its name and block geometry, so a file with any of them
 * parses and a type the engine cannot run is refused by name (ids ggml has removed keep their
 * name with block_size 0: they cannot be sized). A type the engine runs also has its kernels:
 * dot is the product of one weight row with one token's activations in the format `act`, dots
 * (where there is one) the same for up to NTK_DOTS_TOKENS tokens at once, bit for bit; to_float
 * expands a row. An activation format has from_float, which rounds floats to it. Adding a type
 * is a row here plus its kernels (kernels.h) and its block layout and expansion (quant.h). */
#ifndef NTK_TYPES_H
#define NTK_TYPES_H

#include <stddef.h>
#include <stdint.h>

/* ggml type ids as stored in GGUF tensor infos (ggml/include/ggml.h) */
enum ggml_type {
    GGML_TYPE_F32 = 0,
    GGML_TYPE_F16 = 1,
    GGML_TYPE_Q4_0 = 2,
    GGML_TYPE_Q4_1 = 3,
    GGML_TYPE_Q4_2 = 4,
    GGML_TYPE_Q4_3 = 5, /* removed from ggml */
    GGML_TYPE_Q5_0 = 6,
    GGML_TYPE_Q5_1 = 7,
    GGML_TYPE_Q8_0 = 8,
    GGML_TYPE_Q8_1 = 9,
    GGML_TYPE_Q2_K = 10,
    GGML_TYPE_Q3_K = 11,
    GGML_TYPE_Q4_K = 12,
    GGML_TYPE_Q5_K = 13,
    GGML_TYPE_Q6_K = 14,
    GGML_TYPE_Q8_K = 15,
    GGML_TYPE_IQ2_XXS = 16,
    GGML_TYPE_IQ2_XS = 17,
    GGML_TYPE_IQ3_XXS = 18,
    GGML_TYPE_IQ1_S = 19,
    GGML_TYPE_IQ4_NL = 20,
    GGML_TYPE_IQ3_S = 21,
    GGML_TYPE_IQ2_S = 22,
    GGML_TYPE_IQ4_XS = 23,
    GGML_TYPE_I8 = 24,
    GGML_TYPE_I16 = 25,
    GGML_TYPE_I32 = 26,
    GGML_TYPE_I64 = 27,
    GGML_TYPE_F64 = 28,
    GGML_TYPE_IQ1_M = 29,
    GGML_TYPE_BF16 = 30,
    GGML_TYPE_Q4_0_4_4 = 31,
    GGML_TYPE_Q4_0_4_8 = 32,
    GGML_TYPE_Q4_0_8_8 = 33, /* removed */
    GGML_TYPE_TQ1_0 = 34,
    GGML_TYPE_TQ2_0 = 35,
    GGML_TYPE_IQ4_NL_4_4 = 36,
    GGML_TYPE_IQ4_NL_4_8 = 37,
    GGML_TYPE_IQ4_NL_8_8 = 38, /* removed */
    GGML_TYPE_MXFP4 = 39,
    GGML_TYPE_NVFP4 = 40,
    GGML_TYPE_Q1_0 = 41,
    GGML_TYPE_COUNT = 42
};

typedef struct {
    const char *name; /* ggml's name of the id, upper case: "Q4_K" */
    int block_size;   /* values a block; 0: ggml has removed the type */
    int type_size;    /* bytes a block */
    int align;        /* bytes a row's start must be aligned to for the kernels to read it */
    uint32_t act;     /* the activation format dot takes; GGML_TYPE_F32: the floats as they are */
    /* w: a row of n values of this type; x: n activations in the format act */
    float (*dot)(const void *w, const void *x, int n); /* NULL: the engine cannot run it */
    /* out[t] = dot(w, x_t, n) for n_tok <= NTK_DOTS_TOKENS, x_t x_stride bytes after x_{t-1};
     * NULL: matmul calls dot once a token */
    void (*dots)(const void *w, const void *x, size_t x_stride, int n_tok, int n, float *out);
    void (*to_float)(const void *x, float *y, int64_t k);   /* NULL: cannot be expanded */
    void (*from_float)(const float *x, void *y, int64_t k); /* activation formats only */
} ggml_type_traits;

/* The row of a type id, or NULL for an id ggml does not define. */
const ggml_type_traits *ggml_type_info(uint32_t type);
/* The names of the types the engine runs, comma-separated ("F32, F16, ..."), into out. */
void ggml_types_run(char *out, size_t cap);
/* Expand one row of k values of `type` (k a multiple of its block size) into y. Returns 0, or -1
 * (nothing written) for a type that cannot be expanded. */
int dequantize_row(uint32_t type, const void *x, float *y, int64_t k);

#endif
