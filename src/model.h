/* model.h — the InternLM2 / Llama decoder: weights bound in place from a GGUF, a KV cache, and
 * the forward pass (batched over the tokens of a call).
 *
 * Network (pre-norm): x += Wo·Attn(RMSNorm(x)); x += W2(silu(W1·h) ⊙ W3·h), h = RMSNorm(x);
 * logits = Wout·RMSNorm(x), Wout the embedding itself in a file without an output head.
 * GQA: query head h uses KV head h / (n_heads / n_kv_heads).
 * Tensors follow llama.cpp's layout, with q/k rows permuted so RoPE rotates adjacent pairs.
 *
 * The base of a forward call is rope_base(L) with L = cached + new tokens; every query and new
 * key of the call uses it, however the call is split into chunks. Cache semantics (rope.h):
 * consistent keeps keys before RoPE and rotates all of them with the call's base; cached and
 * none store keys rotated. */
#ifndef NTK_MODEL_H
#define NTK_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "arch.h"
#include "gguf.h"
#include "kernels.h"
#include "matmul.h"
#include "rope.h"
#include "threadpool.h"

typedef struct {
    const arch_info *arch;
    int n_vocab, dim, n_layers, n_heads, n_kv_heads, head_dim, ffn;
    float eps; /* RMSNorm epsilon */
    double rope_theta;
    int64_t ctx_train; /* {arch}.context_length: the trained length L0 */
    double ntk_factor; /* {arch}.rope.dynamic_ntk.factor; 0 when the file has none */
    int tied_output;   /* no output.weight: the output head is token_embd (shared weights) */
} model_config;

typedef struct {
    const float *attn_norm; /* (dim) */
    weight wq;              /* (n_heads*head_dim rows, dim cols) */
    weight wk, wv;          /* (n_kv_heads*head_dim, dim) */
    weight wo;              /* (dim, n_heads*head_dim) */
    const float *ffn_norm;  /* (dim) */
    weight w1, w3;          /* gate, up: (ffn, dim) */
    weight w2;              /* down: (dim, ffn) */
} layer_weights;

typedef struct {
    model_config c;
    weight tok_embd;       /* (n_vocab, dim) */
    const float *out_norm; /* (dim) */
    weight output;         /* (n_vocab, dim); tok_embd when c.tied_output */
    layer_weights *layers; /* n_layers */
} model;

/* Read the config (from parts[0]) and bind every tensor (found in any part), checking names,
 * types and shapes. Call it when a tensor table is read (data pointers are still NULL: a check
 * before the big allocation) with partial = 1 while more parts of a split model are to come
 * (missing tensors are then not an error), and again with partial = 0 once all data is set.
 * Returns 0, or -1 (unsupported: arch/type) / -2 (bad file) with err. */
int model_bind(model *m, const gguf_ctx *parts, int n_parts, int partial, char *err, size_t errlen);
void model_free(model *m);

/* The rotations attention_tile needs for the consistent cache (attn_rope), for chunk starts
 * [0, n_start) at base. */
typedef struct {
    float *start_cos, *start_sin, *step_cos, *step_sin;
    int64_t n_start, cap;
    double base;
} attn_tables;

typedef struct {
    int64_t n;   /* tokens in context */
    int64_t cap; /* positions allocated */
    int n_layers, kv_dim;
    int type;         /* NTK_KV_* element type of k and v */
    size_t row_bytes; /* one position of one layer's k (or v) */
    uint8_t **k, **v; /* per layer: cap rows of kv_dim; k before RoPE when consistent */
    int32_t *tokens;  /* the context's token ids */
    double base;      /* RoPE base of the last forward call */
    attn_tables rot;  /* consistent mode: tables of attn_rope at rot.base */
} kv_cache;

int kv_init(kv_cache *kv, const model *m);
/* Empty the cache and store it as type (NTK_KV_*) from now on. -1 with err set if the model's
 * heads cannot be stored in that type, -2 for an unknown type; the cache is then unchanged. */
int kv_set_type(kv_cache *kv, const model *m, int type, char *err, size_t errlen);
/* Name of a KV cache element type (NTK_KV_*) as the API and info JSON spell it; NULL past the
 * last one. */
const char *kv_type_name(int type);
/* Memory one more token of context takes (KV cache of every layer and its bookkeeping). */
double kv_bytes_per_token(const model *m, int type);
void kv_free(kv_cache *kv);
void kv_clear(kv_cache *kv);

typedef struct {
    int64_t n_tok; /* chunk size the buffers hold */
    float *x, *xn, *q, *k, *v, *att, *h1, *h3, *cos_tab, *sin_tab;
    float *attn; /* attention_tile's scratch, attn_floats for each thread of pool */
    size_t attn_floats;
    void *xq;         /* activations quantized for a matmul (matmul_xq_bytes) */
    threadpool *pool; /* the engine's (not owned); NULL: one thread */
} scratch;

/* Buffers for chunks of n_tok tokens, computed by the threads of pool. */
int scratch_init(scratch *s, const model *m, int64_t n_tok, threadpool *pool);
void scratch_free(scratch *s);

/* Evaluate n tokens after the cached ones. logits gets the last position's n_vocab floats, or
 * n rows if all_logits. Matrix products and attention are shared among the threads of s->pool
 * in units that each compute the same thing whatever the thread, so the logits are bitwise the
 * same for any number of threads. On error (-1: bad argument, -2: the context cannot grow in memory)
 * nothing has changed: the context is as before and the engine can go on or reset. */
int model_forward(const model *m, const rope_config *rc, kv_cache *kv, scratch *s, const int32_t *ids, int64_t n,
                  float *logits, int all_logits, char *err, size_t errlen);

#endif
