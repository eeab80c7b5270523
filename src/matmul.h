/* matmul.h — y = W·x for a batch of tokens, over any weight type the engine runs (types.h).
 *
 * W is rows×cols in its GGUF type (row r = the r-th contiguous row, cols = ne[0]); x holds n_tok
 * rows of cols floats; y gets n_tok rows of `rows` floats. Quantized W: x is rounded once per
 * call to the activation format the weight type's row names (Q8_0; Q8_1 for Q4_1 and Q5_1; Q8_K
 * for K-quants), into xq (room for matmul_xq_bytes(n_tok, cols)), and the products are integer.
 * Rows are walked in tiles with the tokens inside, so one tile of W serves every token of a
 * batched prefill while it is in cache. Bands of rows are shared among the threads of pool (NULL:
 * the caller alone); every thread computes a row the same way, so y does not depend on how many. */
#ifndef NTK_MATMUL_H
#define NTK_MATMUL_H

#include <stddef.h>
#include <stdint.h>
#include "threadpool.h"
#include "types.h"

typedef struct {
    uint32_t type; /* ggml_type, one with a dot kernel */
    int64_t rows, cols;
    const void *data;
    size_t row_bytes;
} weight;

/* Bytes of quantized activations matmul may need for n_tok rows of up to cols values, whatever
 * the weight types (a region for each activation format). */
size_t matmul_xq_bytes(int64_t n_tok, int64_t cols);
void matmul(threadpool *pool, const weight *w, const float *x, int64_t n_tok, float *y, void *xq);
/* y[i] = w[i]·x for n <= MATMUL_MAX matrices with the same cols (Q, K and V; gate and up): x is
 * quantized once per activation format and the pool makes one pass over all of them, so a decode
 * step waits for its threads fewer times. */
#define MATMUL_MAX 4
void matmul_many(threadpool *pool, int n, const weight *const w[], float *const y[], const float *x, int64_t n_tok,
                 void *xq);
/* Copy row r of W into out as floats (embedding lookup). */
void weight_row(const weight *w, int64_t r, float *out);

#endif
