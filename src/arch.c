/* arch.c — the architecture rows; see arch.h. */
#include "arch.h"

#include <stdio.h>
#include <string.h>

/* llama.cpp's converter gives InternLM2 the Llama tensor names (wqkv split into q, k and v). */
static const arch_tensors llama_names = {
    "token_embd.weight",      "output_norm.weight",     "output.weight",        "blk.%d.attn_norm.weight",
    "blk.%d.attn_q.weight",   "blk.%d.attn_k.weight",   "blk.%d.attn_v.weight", "blk.%d.attn_output.weight",
    "blk.%d.ffn_norm.weight", "blk.%d.ffn_gate.weight", "blk.%d.ffn_up.weight", "blk.%d.ffn_down.weight",
};

static const arch_info archs[] = {
    /* InternLM2 is trained for dynamic NTK (its HF config's rope_scaling "dynamic"), which
     * llama.cpp's converter drops: the engine assumes it (docs/DESIGN.md, Dynamic NTK). Its chat
     * format is ChatML. */
    { "internlm2", "internlm2", ROPE_CONSISTENT, "<|im_end|>", &llama_names },
    /* Llama files get plain RoPE; ChatML's end of turn stops the many llama-architecture
     * fine-tunes that chat in it. */
    { "llama", "llama", ROPE_NONE, "<|im_end|>", &llama_names },
};
#define N_ARCHS (sizeof archs / sizeof *archs)

const arch_info *arch_find(const char *name, size_t len) {
    for (size_t i = 0; i < N_ARCHS; i++)
        if (strlen(archs[i].name) == len && !memcmp(archs[i].name, name, len)) return &archs[i];
    return NULL;
}

void arch_names(char *out, size_t cap) {
    size_t len = 0;
    out[0] = 0;
    for (size_t i = 0; i < N_ARCHS && len < cap; i++)
        len += (size_t)snprintf(out + len, cap - len, "%s%s", i ? ", " : "", archs[i].name);
}
