/* api.c — the exported C API of api.h but for loading (load.c) and the JSON answers (json.c):
 * engine lifetime, settings, tokens, evaluation and sampling. Each maps the errors of the pieces
 * it calls to statuses. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

int engine_error(ntk_engine *e, int status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->err, sizeof e->err, fmt, ap);
    va_end(ap);
    return status;
}

ntk_engine *ntk_new(void) {
    ntk_engine *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    e->opt_mode = -1;
    return e;
}

void ntk_free(ntk_engine *e) {
    if (!e) return;
    engine_unload(e);
    threadpool_free(e->pool);
    free(e);
}

int ntk_set_threads(ntk_engine *e, int n) {
    if (e->state != LOAD_IDLE)
        return engine_error(e, NTK_ERR_STATE, "the number of threads is set before a model is loaded");
    if (n < 1 || n > NTK_MAX_THREADS)
        return engine_error(e, NTK_ERR_ARG, "threads must be in [1, %d], got %d", NTK_MAX_THREADS, n);
    threadpool_free(e->pool);
    e->pool = NULL;
#ifdef NTK_THREADS
    if (n > 1 && !(e->pool = threadpool_new(n))) return engine_error(e, NTK_ERR_NOMEM, "%d threads cannot start", n);
#else
    if (n > 1) return engine_error(e, NTK_ERR_UNSUPPORTED, "this build has no threads; the threaded one (ntk-mt) has");
#endif
    return NTK_OK;
}

const char *ntk_error(const ntk_engine *e) { return e->err; }

/* The option, else dynamic NTK where the file names a factor, else the architecture's default. */
void engine_rope_resolve(ntk_engine *e) {
    const model_config *c = &e->m.c;
    e->rope.mode = e->opt_mode >= 0 ? (rope_mode)e->opt_mode : c->ntk_factor > 0 ? ROPE_CONSISTENT : c->arch->rope;
    e->rope.factor = e->opt_factor > 0 ? e->opt_factor : c->ntk_factor > 0 ? c->ntk_factor : 2.0;
    e->rope.trained_ctx = e->opt_trained > 0 ? (int64_t)e->opt_trained : c->ctx_train;
    e->rope.theta = c->rope_theta;
    e->rope.head_dim = c->head_dim;
    e->rope.refresh = e->opt_refresh > 0 ? e->opt_refresh : 1;
    e->kv.base = c->rope_theta;
}

/* ---- settings ---- */

#define NEED_MODEL(e) \
    if ((e)->state != LOADED) return engine_error(e, NTK_ERR_STATE, "no model is loaded")

int ntk_set_rope(ntk_engine *e, int mode, double factor, double trained_ctx, double refresh) {
    NEED_MODEL(e);
    if (mode < -1 || mode >= ROPE_MODE_COUNT)
        return engine_error(e, NTK_ERR_ARG, "rope mode must be %s, %s or %s", rope_mode_name(ROPE_CONSISTENT),
                            rope_mode_name(ROPE_CACHED), rope_mode_name(ROPE_NONE));
    if (factor != 0 && !(factor >= 1 && factor <= 1e6))
        return engine_error(e, NTK_ERR_ARG, "rope factor must be at least 1, got %g", factor);
    if (trained_ctx != 0 && !(trained_ctx >= 1 && trained_ctx <= 1e12))
        return engine_error(e, NTK_ERR_ARG, "trained context length must be positive, got %g", trained_ctx);
    if (!(refresh >= 0 && refresh <= INT32_MAX) || refresh != (double)(int64_t)refresh)
        return engine_error(e, NTK_ERR_ARG, "the RoPE refresh step must be a whole number of tokens, got %g", refresh);
    e->opt_mode = mode;
    e->opt_factor = factor;
    e->opt_trained = trained_ctx;
    e->opt_refresh = (int64_t)refresh;
    kv_clear(&e->kv);
    engine_rope_resolve(e);
    return NTK_OK;
}

int ntk_set_kv_type(ntk_engine *e, int type) {
    NEED_MODEL(e);
    if (e->kv.n) return engine_error(e, NTK_ERR_STATE, "the KV cache type can only change while the context is empty");
    char err[160];
    int rc = kv_set_type(&e->kv, &e->m, type, err, sizeof err);
    if (rc) return engine_error(e, rc == -2 ? NTK_ERR_ARG : NTK_ERR_UNSUPPORTED, "%s", err);
    engine_rope_resolve(e);
    return NTK_OK;
}

int ntk_set_max_context(ntk_engine *e, double n) {
    NEED_MODEL(e);
    if (!(n >= 0 && n <= INT32_MAX) || n != (double)(int64_t)n)
        return engine_error(e, NTK_ERR_ARG, "the context cap must be a whole number of tokens, got %g", n);
    if (n > 0 && (int64_t)n < e->kv.n)
        return engine_error(e, NTK_ERR_ARG, "the context already holds %lld tokens, more than a cap of %g",
                            (long long)e->kv.n, n);
    e->max_ctx = (int64_t)n;
    return NTK_OK;
}

int ntk_n_vocab(const ntk_engine *e) { return e->state == LOADED ? e->m.c.n_vocab : 0; }
double ntk_rope_base(const ntk_engine *e) { return e->state == LOADED ? e->kv.base : 0; }

/* ---- tokens ---- */

int ntk_tokenize(ntk_engine *e, const char *text, int len, int add_bos, const int32_t *plain, int n_plain, int32_t *ids,
                 int cap) {
    NEED_MODEL(e);
    if (len < 0 || cap < 0 || n_plain < 0) return engine_error(e, NTK_ERR_ARG, "negative length");
    for (int i = 0; i < 2 * n_plain; i++)
        if (plain[i] < (i ? plain[i - 1] : 0) || plain[i] > len)
            return engine_error(e, NTK_ERR_ARG, "plain ranges must be ascending, apart and within the %d bytes", len);
    int64_t n =
        tokenizer_encode(&e->tok, text, (size_t)len, add_bos, (const uint32_t *)plain, (size_t)n_plain, ids, cap);
    if (n < 0) return engine_error(e, NTK_ERR_NOMEM, "out of memory while tokenizing");
    if (n > INT32_MAX) return engine_error(e, NTK_ERR_ARG, "text too long");
    return (int)n;
}

int ntk_detok_reset(ntk_engine *e, int continues) {
    NEED_MODEL(e);
    detok_init(&e->detok);
    if (continues) e->detok.at_start = 0;
    return NTK_OK;
}

int ntk_detok_push(ntk_engine *e, int32_t id, char *out, int cap) {
    NEED_MODEL(e);
    int n = detok_push(&e->tok, &e->detok, id, out, cap < 0 ? 0 : (size_t)cap);
    if (n == -1) return engine_error(e, NTK_ERR_ARG, "token id %d is out of range [0, %d)", id, e->tok.n_vocab);
    if (n == -2) return engine_error(e, NTK_ERR_ARG, "output buffer of %d bytes is too small", cap);
    return n;
}

int ntk_detok_flush(ntk_engine *e, char *out, int cap) {
    NEED_MODEL(e);
    int n = detok_flush(&e->detok, out, cap < 0 ? 0 : (size_t)cap);
    return n == -2 ? engine_error(e, NTK_ERR_ARG, "output buffer of %d bytes is too small", cap) : n;
}

int ntk_is_eog(const ntk_engine *e, int32_t id) { return e->state == LOADED && tokenizer_is_eog(&e->tok, id); }

const char *ntk_token_piece(const ntk_engine *e, int32_t id) {
    if (e->state != LOADED || id < 0 || id >= e->tok.n_vocab) return NULL;
    return e->tok.pieces[id];
}

int ntk_token_is_control_text(const ntk_engine *e, int32_t id) {
    return e->state == LOADED && tokenizer_is_control_text(&e->tok, id);
}

/* ---- evaluation and sampling ---- */

int ntk_eval(ntk_engine *e, const int32_t *ids, int n, int all_logits) {
    NEED_MODEL(e);
    if (n <= 0) return engine_error(e, NTK_ERR_ARG, "no tokens to evaluate");
    if (e->max_ctx && e->kv.n + n > e->max_ctx)
        return engine_error(e, NTK_ERR_CONTEXT_FULL, "context full at %lld tokens: %d more would pass the cap of %lld",
                            (long long)e->kv.n, n, (long long)e->max_ctx);
    int64_t rows = all_logits ? n : 1, need = rows * e->m.c.n_vocab;
    if (need > e->logits_cap) {
        float *p = realloc(e->logits, (size_t)need * sizeof(float));
        if (!p) return engine_error(e, NTK_ERR_NOMEM, "out of memory for %lld rows of logits", (long long)rows);
        e->logits = p;
        e->logits_cap = need;
    }
    char err[256];
    const int64_t n0 = e->kv.n;
    const double base0 = e->kv.base;
    int rc = model_forward(&e->m, &e->rope, &e->kv, &e->s, ids, n, e->logits, all_logits, err, sizeof err);
    if (rc) return engine_error(e, rc == -1 ? NTK_ERR_ARG : NTK_ERR_CONTEXT_FULL, "%s", err);
    /* A sampler given NaNs picks token 0 forever: scan what is returned (a matrix product made
     * each of these values, so the scan costs nothing in comparison). */
    for (int64_t r = 0; r < rows; r++) {
        const float *row = e->logits + r * e->m.c.n_vocab;
        for (int i = 0; i < e->m.c.n_vocab; i++)
            if (!isfinite(row[i])) {
                e->kv.n = n0; /* the cache rows past it are overwritten by the next evaluation */
                e->kv.base = base0;
                e->logits_rows = 0;
                return engine_error(e, NTK_ERR_RUNTIME,
                                    "the model produced non-finite logits (NaN or infinity) at position %lld",
                                    (long long)(n0 + (all_logits ? r : n - 1)));
            }
    }
    e->logits_rows = rows;
    return NTK_OK;
}

const float *ntk_logits(const ntk_engine *e) { return e->logits_rows ? e->logits : NULL; }

int ntk_truncate(ntk_engine *e, double n) {
    NEED_MODEL(e);
    if (!(n >= 0 && n <= (double)e->kv.n) || n != (double)(int64_t)n)
        return engine_error(e, NTK_ERR_ARG, "cannot truncate a context of %lld tokens to %g", (long long)e->kv.n, n);
    /* keys of the kept positions are valid in every mode: consistent stores them before RoPE,
     * cached with the base they were written with, which a truncated context keeps */
    e->kv.n = (int64_t)n;
    e->logits_rows = 0;
    return NTK_OK;
}

int ntk_reset(ntk_engine *e) {
    NEED_MODEL(e);
    kv_clear(&e->kv);
    e->kv.base = e->rope.theta;
    e->logits_rows = 0;
    detok_init(&e->detok);
    return NTK_OK;
}

int ntk_sampler_set(ntk_engine *e, double temperature, int top_k, double top_p, double min_p, double repeat_penalty,
                    int repeat_window, double seed) {
    NEED_MODEL(e);
    if (!(seed >= 0 && seed < 18446744073709551616.0))
        return engine_error(e, NTK_ERR_ARG, "seed must be a non-negative integer");
    sampler_params p = {
        .temperature = (float)temperature,
        .top_k = top_k,
        .top_p = (float)top_p,
        .min_p = (float)min_p,
        .repeat_penalty = (float)repeat_penalty,
        .repeat_window = repeat_window,
        .seed = (uint64_t)seed,
    };
    sampler next;
    char err[256];
    if (sampler_init(&next, &p, e->m.c.n_vocab, err, sizeof err)) return engine_error(e, NTK_ERR_ARG, "%s", err);
    sampler_free(&e->smp);
    e->smp = next;
    return NTK_OK;
}

int ntk_sample(ntk_engine *e) {
    NEED_MODEL(e);
    if (!e->logits_rows) return engine_error(e, NTK_ERR_STATE, "nothing evaluated yet: no logits to sample from");
    const float *last = e->logits + (e->logits_rows - 1) * e->m.c.n_vocab;
    return sampler_sample(&e->smp, last, e->kv.tokens, e->kv.n);
}
