/* api.h — the exported C API: one engine handle, status codes, an error string.
 *
 * Every function returns NTK_OK (0) or a negative status and leaves a message for ntk_error();
 * none aborts on bad input, and after an error the engine is as it was before the call (a
 * failed load leaves no model). Lifecycle:
 *   e = ntk_new();  ntk_set_threads(e, n);  (optional)
 *   ntk_load_begin(e);  loop { p = ntk_load_window(e, want); write ntk_load_window_size(e)
 *                              bytes or fewer at p; ntk_load_commit(e, n); }  ntk_load_end(e);
 *   (a split model: ntk_load_end returns N > 0 while N parts are still to come; push the next
 *   part through the same window/commit loop and call ntk_load_end again)
 *   ntk_set_rope(e, mode, factor, trained_ctx, refresh); (optional; -1 / 0 keep the default)
 *   n = ntk_tokenize(e, text, len, add_bos, NULL, 0, ids, cap);
 *   ntk_eval(e, ids, n, all_logits);  ntk_logits(e);  id = ntk_sample(e);  ...
 *   ntk_free(e);
 * Loading writes tensor bytes straight into their final place: in the data section the load
 * window is the model's own memory, so there is no staging copy.
 * The functions declared here (outside the native-only block at the end) are what the
 * WebAssembly module exports: the Makefile reads their names from this file. */
#ifndef NTK_API_H
#define NTK_API_H

#include <stddef.h>
#include <stdint.h>

/* The error statuses, NTK_ERR_<name>, as one list: the JS side gets their names from
 * wasm/build/abi.mjs, which make writes from this list (scripts/abi.c). */
#define NTK_ERRORS(X)                                                                        \
    X(ARG, -1)         /* bad argument or option */                                          \
    X(FORMAT, -2)      /* not a valid GGUF / model file */                                   \
    X(UNSUPPORTED, -3) /* valid file, unsupported architecture or tensor type */             \
    X(NOMEM, -4)                                                                             \
    X(STATE, -5) /* call out of order (no model, load in progress, ...) */                   \
    X(TRUNCATED, -6)                                                                         \
    X(CONTEXT_FULL, -7) /* the context cannot grow (its cap, or memory); nothing was lost */ \
    X(RUNTIME, -8)      /* the model computed nonsense (non-finite logits); nothing was kept */

#define NTK_ERROR_ENUM(name, value) NTK_ERR_##name = value,
enum { NTK_OK = 0, NTK_ERRORS(NTK_ERROR_ENUM) };
#undef NTK_ERROR_ENUM

typedef struct ntk_engine ntk_engine;

ntk_engine *ntk_new(void);
void ntk_free(ntk_engine *e);
const char *ntk_error(const ntk_engine *e);

int ntk_load_begin(ntk_engine *e);
uint8_t *ntk_load_window(ntk_engine *e, size_t want);
size_t ntk_load_window_size(const ntk_engine *e);
int ntk_load_commit(ntk_engine *e, size_t n);
int ntk_load_end(ntk_engine *e); /* NTK_OK, a status, or the number of parts still to push */
/* 0 while the header and tensor table of the current part arrive, 1 once tensor data does. */
int ntk_load_phase(const ntk_engine *e);

/* Threads that evaluate (the caller and n - 1 workers), n in [1, NTK_MAX_THREADS]; before a
 * model is loaded (else NTK_ERR_STATE). n > 1 needs a build with threads (NTK_THREADS, the
 * wasm pthreads build), else NTK_ERR_UNSUPPORTED. Logits are bitwise the same for any n. */
#define NTK_MAX_THREADS 64
int ntk_set_threads(ntk_engine *e, int n);

/* mode: 0 consistent, 1 cached, 2 none, -1 the model's default; factor: >= 1, or 0 for the
 * file's / default; trained_ctx: > 0, or 0 for the file's; refresh: tokens between changes of
 * the dynamic base (rope.h), >= 1, or 0 for every token. Resets the context. */
int ntk_set_rope(ntk_engine *e, int mode, double factor, double trained_ctx, double refresh);
/* Cap the context at n tokens (0: no cap, only memory limits it); an evaluation that would pass
 * it is refused before anything is evaluated. */
int ntk_set_max_context(ntk_engine *e, double n);
/* Element type of the KV cache: 0 f32 (default), 1 f16, 2 q8_0 (head_dim a multiple of 32,
 * else NTK_ERR_UNSUPPORTED). Only while the context is empty (else NTK_ERR_STATE); the cache
 * is emptied and reallocated in the new type. */
int ntk_set_kv_type(ntk_engine *e, int type);
/* JSON object describing the model and the settings in force (owned by the engine). */
const char *ntk_info_json(ntk_engine *e);

/* {"metadata": {key: value}, "tensors": [{name, type, shape, bytes, part}]}; arrays show their
 * type, length and first max_array_items values. Owned by the engine, valid until the next call. */
const char *ntk_metadata_json(ntk_engine *e, int max_array_items);

int ntk_n_vocab(const ntk_engine *e);
double ntk_rope_base(const ntk_engine *e); /* base of the last evaluation (theta before any) */

/* Returns the number of ids (may exceed cap: nothing beyond cap is written) or a status.
 * Control tokens written in the text (<|im_start|>) are read as the tokens themselves, except
 * in the n_plain byte ranges [plain[2i], plain[2i + 1]) (ascending, apart, within the text):
 * there they are plain text, split into ordinary pieces (a chat message's own text). */
int ntk_tokenize(ntk_engine *e, const char *text, int len, int add_bos, const int32_t *plain, int n_plain, int32_t *ids,
                 int cap);
/* Streaming detokenizer: bytes of valid UTF-8 written, or a status. continues = 1 when the
 * tokens follow text already shown (a generation after its prompt): the first piece keeps
 * its leading space. */
int ntk_detok_reset(ntk_engine *e, int continues);
int ntk_detok_push(ntk_engine *e, int32_t id, char *out, int cap);
int ntk_detok_flush(ntk_engine *e, char *out, int cap);
int ntk_is_eog(const ntk_engine *e, int32_t id);
/* Text of one piece, as stored in the vocab (for listing tokens). */
const char *ntk_token_piece(const ntk_engine *e, int32_t id);
/* 1 if id is a control token read where its text is written (<|im_start|>, not <s>), else 0. */
int ntk_token_is_control_text(const ntk_engine *e, int32_t id);

/* Evaluate n tokens after the context; all_logits keeps every position's logits. Logits that
 * are not finite (NaN or infinity: weights or norms that hold them) are NTK_ERR_RUNTIME, naming
 * the first position that has them, and the context is left as it was before the call. */
int ntk_eval(ntk_engine *e, const int32_t *ids, int n, int all_logits);
const float *ntk_logits(const ntk_engine *e); /* last eval: 1 or n rows of n_vocab */
int ntk_reset(ntk_engine *e);
/* Keep the first n tokens of the context (to reuse a shared prefix). */
int ntk_truncate(ntk_engine *e, double n);

/* Until it is called, a model samples with sampler_defaults (sampler.h), seed 0. */
int ntk_sampler_set(ntk_engine *e, double temperature, int top_k, double top_p, double min_p, double repeat_penalty,
                    int repeat_window, double seed);
int ntk_sample(ntk_engine *e); /* next token id from the last logits, or a status */

#ifndef __EMSCRIPTEN__
/* Native programs (tests, fuzzing) only, not exported to WebAssembly: push a buffer through the
 * load window (copies once). */
int ntk_load_bytes(ntk_engine *e, const uint8_t *buf, size_t len);
#endif

#endif
