/* arch.h — the architectures the engine runs: one row each, the only place that knows what an
 * architecture name implies (its metadata keys, its default RoPE, how a chat turn ends, the
 * names of its tensors). Both are llama.cpp's decoder: the rows differ in their defaults. */
#ifndef NTK_ARCH_H
#define NTK_ARCH_H

#include <stddef.h>

#include "rope.h"

/* Tensor names as llama.cpp writes them; per-layer ones take the layer number (%d). */
typedef struct {
    const char *token_embd, *output_norm, *output;
    const char *attn_norm, *attn_q, *attn_k, *attn_v, *attn_output;
    const char *ffn_norm, *ffn_gate, *ffn_up, *ffn_down;
} arch_tensors;

typedef struct {
    const char *name;   /* general.architecture */
    const char *prefix; /* of its metadata keys: "{prefix}.context_length" */
    rope_mode rope;     /* RoPE when neither the file (dynamic_ntk.factor) nor the user says */
    const char *eot;    /* the piece that ends a chat turn, a stop besides eos if the vocab has it */
    const arch_tensors *tensors;
} arch_info;

/* The row of general.architecture (len bytes, not NUL-terminated), or NULL. */
const arch_info *arch_find(const char *name, size_t len);
/* The names of every architecture, comma-separated ("internlm2, llama"), into out. */
void arch_names(char *out, size_t cap);

#endif
