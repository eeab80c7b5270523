/* quant.h — ggml block formats used by real InternLM2 GGUF files, and conversions.
 *
 * Contract: block structs match ggml's byte layouts exactly (static_assert on each size);
 * weights are read in place from the GGUF data (never unaligned pointer casts of scalar
 * fields: every multi-byte field here is read through memcpy-safe helpers or is byte-aligned
 * inside a block that the loader guarantees 2-byte aligned).
 * dequantize_row_* expand k values (k a multiple of the block size) to float32;
 * quantize_row_q8_0 rounds activations to Q8_0 blocks the way ggml's reference does. */
#ifndef NTK_QUANT_H
#define NTK_QUANT_H

#include <assert.h>
#include <stddef.h>
#include <stdint.h>

/* ggml type ids as stored in GGUF tensor infos */
enum ggml_type {
    GGML_TYPE_F32 = 0, GGML_TYPE_F16 = 1, GGML_TYPE_Q4_0 = 2, GGML_TYPE_Q4_1 = 3,
    GGML_TYPE_Q5_0 = 6, GGML_TYPE_Q5_1 = 7, GGML_TYPE_Q8_0 = 8, GGML_TYPE_Q8_1 = 9,
    GGML_TYPE_Q2_K = 10, GGML_TYPE_Q3_K = 11, GGML_TYPE_Q4_K = 12, GGML_TYPE_Q5_K = 13,
    GGML_TYPE_Q6_K = 14, GGML_TYPE_Q8_K = 15, GGML_TYPE_BF16 = 30,
    GGML_TYPE_COUNT = 40
};

#define QK8_0 32
#define QK4_0 32

typedef uint16_t ggml_half; /* IEEE binary16 bits */

typedef struct {
    ggml_half d;       /* scale */
    int8_t qs[QK8_0];  /* value i = d * qs[i] */
} block_q8_0;
static_assert(sizeof(block_q8_0) == 34, "block_q8_0 is 34 bytes");

typedef struct {
    ggml_half d;            /* scale */
    uint8_t qs[QK4_0 / 2];  /* value i (i<16) = d*((qs[i]&15)-8), value i+16 = d*((qs[i]>>4)-8) */
} block_q4_0;
static_assert(sizeof(block_q4_0) == 18, "block_q4_0 is 18 bytes");

/* Block geometry of every ggml type a GGUF file may name (so the parser can size tensors the
 * engine cannot run and report them by name). Returns NULL for unknown ids. */
typedef struct { const char *name; int block_size; int type_size; } ggml_type_traits;
const ggml_type_traits *ggml_type_info(uint32_t type); /* NULL if unknown */

float fp16_to_fp32(ggml_half h);
ggml_half fp32_to_fp16(float f);   /* round to nearest even, as ggml */
float bf16_to_fp32(uint16_t h);

/* Expand one row of k weights of `type` (F32, F16, BF16, Q8_0, Q4_0) into y. Returns 0, or -1
 * (nothing written) for any other type. */
int dequantize_row(uint32_t type, const void *x, float *y, int64_t k);
/* Quantize k floats (k % 32 == 0) to Q8_0: d = max|x|/127, q = roundf(x * (1/d)), the
 * reciprocal first as ggml does (q = 0 when d = 0); d is stored rounded to fp16. */
void quantize_row_q8_0(const float *x, block_q8_0 *y, int64_t k);

#endif
