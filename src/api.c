/* api.c — the exported C API; see api.h. Owns the pieces and maps their errors to statuses. */
#include "api.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "kernels.h"
#include "model.h"
#include "rope.h"
#include "sampler.h"
#include "threadpool.h"
#include "tokenizer.h"

#ifdef __EMSCRIPTEN__
#include <emscripten.h>
#include <emscripten/heap.h>
#include <malloc.h>
#define NTK_EXPORT EMSCRIPTEN_KEEPALIVE
#else
#define NTK_EXPORT
#endif

#define PREFILL_CHUNK 64            /* tokens per pass through the weights */
#define DATA_ALIGN 64

enum { LOAD_IDLE, LOAD_RUNNING, LOAD_FAILED, LOADED };

struct ntk_engine {
    char err[512];
    int state;
    /* one GGUF file, or the parts of a split model (gguf-split): metadata in parts[0], each
     * part's tensor data in its own block (part_data[i]), where the weights stay */
    gguf_ctx *parts;
    void **part_data;
    int n_parts, split_count;
    uint8_t *staging;               /* header bytes and padding pass through here */
    size_t staging_cap;
    uint8_t *window;
    size_t window_size;

    model m;
    tokenizer tok;
    kv_cache kv;
    scratch s;
    threadpool *pool;               /* NULL: one thread; outlives loads, like the settings */
    rope_config rope;
    int opt_mode;                   /* -1: model default */
    double opt_factor, opt_trained; /* 0: from the file / default */
    int64_t opt_refresh;            /* 0: every token */
    int64_t max_ctx;                /* 0: no cap */

    float *logits;
    int64_t logits_cap, logits_rows;
    sampler smp;
    detokenizer detok;
    char *info;
};

static int set_err(ntk_engine *e, int status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->err, sizeof e->err, fmt, ap);
    va_end(ap);
    return status;
}

NTK_EXPORT ntk_engine *ntk_new(void) {
    ntk_engine *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    e->opt_mode = -1;
    return e;
}

static gguf_ctx *current(ntk_engine *e) { return &e->parts[e->n_parts - 1]; }

static int add_part(ntk_engine *e) {
    gguf_ctx *p = realloc(e->parts, (size_t)(e->n_parts + 1) * sizeof *p);
    if (p) e->parts = p;
    void **d = realloc(e->part_data, (size_t)(e->n_parts + 1) * sizeof *d);
    if (d) e->part_data = d;
    if (!p || !d) return -1;
    gguf_init(&p[e->n_parts]);
    d[e->n_parts++] = NULL;
    return 0;
}

static void unload(ntk_engine *e) {
    for (int i = 0; i < e->n_parts; i++) {
        gguf_free(&e->parts[i]);
        free(e->part_data[i]);
    }
    free(e->parts);
    free(e->part_data);
    e->parts = NULL;
    e->part_data = NULL;
    e->n_parts = e->split_count = 0;
    free(e->staging);
    model_free(&e->m);
    tokenizer_free(&e->tok);
    kv_free(&e->kv);
    scratch_free(&e->s);
    sampler_free(&e->smp);
    free(e->logits);
    free(e->info);
    e->staging = NULL; e->staging_cap = 0; e->logits = NULL; e->logits_cap = 0;
    e->logits_rows = 0; e->info = NULL; e->window = NULL; e->window_size = 0;
    memset(&e->tok, 0, sizeof e->tok);
    e->state = LOAD_IDLE;
}

NTK_EXPORT void ntk_free(ntk_engine *e) {
    if (!e) return;
    unload(e);
    threadpool_free(e->pool);
    free(e);
}

NTK_EXPORT int ntk_set_threads(ntk_engine *e, int n) {
    if (e->state != LOAD_IDLE) return set_err(e, NTK_ERR_STATE, "the number of threads is set before a model is loaded");
    if (n < 1 || n > NTK_MAX_THREADS) return set_err(e, NTK_ERR_ARG, "threads must be in [1, %d], got %d", NTK_MAX_THREADS, n);
    threadpool_free(e->pool);
    e->pool = NULL;
#ifdef NTK_THREADS
    if (n > 1 && !(e->pool = threadpool_new(n))) return set_err(e, NTK_ERR_NOMEM, "%d threads cannot start", n);
#else
    if (n > 1) return set_err(e, NTK_ERR_UNSUPPORTED, "this build has no threads; the threaded one (ntk-mt) has");
#endif
    return NTK_OK;
}

NTK_EXPORT int ntk_threads(const ntk_engine *e) { return threadpool_size(e->pool); }

NTK_EXPORT const char *ntk_error(const ntk_engine *e) { return e->err; }

/* ---- loading ---- */

NTK_EXPORT int ntk_load_begin(ntk_engine *e) {
    if (e->state == LOADED || e->state == LOAD_RUNNING)
        return set_err(e, NTK_ERR_STATE, "this engine already has a model; create another engine to load one more");
    unload(e);
    if (add_part(e)) return set_err(e, NTK_ERR_NOMEM, "out of memory");
    e->state = LOAD_RUNNING;
    e->err[0] = 0;
    return NTK_OK;
}

static int load_fail(ntk_engine *e, int status, const char *msg) {
    char copy[sizeof e->err];
    snprintf(copy, sizeof copy, "%s", msg);
    unload(e);
    e->state = LOAD_FAILED;
    return set_err(e, status, "%s", copy);
}

static int gguf_status_to_ntk(gguf_status st) {
    switch (st) {
    case GGUF_ERR_NOMEM: return NTK_ERR_NOMEM;
    case GGUF_ERR_TRUNCATED: return NTK_ERR_TRUNCATED;
    case GGUF_ERR_STATE: return NTK_ERR_STATE;
    default: return NTK_ERR_FORMAT;
    }
}

/* Bytes malloc can still hand out: what the heap can grow by plus what is free inside it (a KV
 * cache that failed to grow gives its memory back there), so a model that cannot fit is refused
 * from its tensor table instead of failing halfway through the download, and contextFit stays
 * true after a failed growth. */
static uint64_t heap_room(void) {
#ifdef __EMSCRIPTEN__
    return (uint64_t)emscripten_get_heap_max() - (uint64_t)emscripten_get_heap_size() + (uint64_t)mallinfo().fordblks;
#else
    return UINT64_MAX;
#endif
}

/* split.no / split.count of a gguf-split part: 0 / 1 for a whole file. */
static int split_info(ntk_engine *e, const gguf_ctx *g, int64_t *no, int64_t *count) {
    *no = 0;
    *count = 1;
    int has_no = gguf_get_i64(g, "split.no", no), has_count = gguf_get_i64(g, "split.count", count);
    if (has_no != has_count || *count < 1 || *count > 9999 || *no < 0 || *no >= *count)
        return load_fail(e, NTK_ERR_FORMAT, "bad split.no / split.count metadata");
    return NTK_OK;
}

/* A tensor table is in: check the model can run before allocating the part's weights. */
static int on_table_ready(ntk_engine *e) {
    char err[256];
    gguf_ctx *g = current(e);
    int64_t no, count;
    int rc = split_info(e, g, &no, &count);
    if (rc) return rc;
    if (e->n_parts == 1) {
        if (no != 0) return load_fail(e, NTK_ERR_FORMAT, "this is not the first part of a split model: load from part 1");
        e->split_count = (int)count;
    } else if (no != e->n_parts - 1 || count != e->split_count) {
        snprintf(err, sizeof err, "expected part %d of %d of the split model, got part %lld of %lld",
                 e->n_parts, e->split_count, (long long)no + 1, (long long)count);
        return load_fail(e, NTK_ERR_FORMAT, err);
    }
    rc = model_bind(&e->m, e->parts, e->n_parts, e->n_parts < e->split_count, err, sizeof err);
    if (rc) return load_fail(e, rc == -1 ? NTK_ERR_UNSUPPORTED : NTK_ERR_FORMAT, err);
    uint64_t size = (g->data_size + DATA_ALIGN - 1) / DATA_ALIGN * DATA_ALIGN;
    if (size > heap_room()) {
        snprintf(err, sizeof err, "file too large for WebAssembly memory: its tensors need %.1f MB, and memory can grow by %.1f MB more (the limit is 4 GB)",
                 size / 1048576.0, heap_room() / 1048576.0);
        return load_fail(e, NTK_ERR_NOMEM, err);
    }
    void *data = size ? aligned_alloc(DATA_ALIGN, (size_t)size) : NULL;
    if (size && !data) {
        snprintf(err, sizeof err, "out of memory: the model's tensors need %.1f MB", size / 1048576.0);
        return load_fail(e, NTK_ERR_NOMEM, err);
    }
    e->part_data[e->n_parts - 1] = data;
    gguf_set_data(g, data);
    return NTK_OK;
}

NTK_EXPORT uint8_t *ntk_load_window(ntk_engine *e, size_t want) {
    if (e->state != LOAD_RUNNING || want == 0) {
        if (e->state != LOAD_RUNNING) set_err(e, NTK_ERR_STATE, "no load in progress");
        e->window = NULL;
        e->window_size = 0;
        return NULL;
    }
    gguf_ctx *g = current(e);
    if (g->data && g->file_pos >= g->data_offset && g->data_got < g->data_size) {
        uint64_t room = g->data_size - g->data_got;
        e->window = g->data + g->data_got;
        e->window_size = room < want ? (size_t)room : want;
        return e->window;
    }
    if (g->data && g->file_pos < g->data_offset && g->data_offset - g->file_pos < want)
        want = (size_t)(g->data_offset - g->file_pos);  /* stop at the data so the next window is in place */
    if (want > e->staging_cap) {
        uint8_t *p = realloc(e->staging, want);
        if (!p) {
            set_err(e, NTK_ERR_NOMEM, "out of memory for a load chunk of %zu bytes", want);
            e->window = NULL;
            e->window_size = 0;
            return NULL;
        }
        e->staging = p;
        e->staging_cap = want;
    }
    e->window = e->staging;
    e->window_size = want;
    return e->window;
}

NTK_EXPORT size_t ntk_load_window_size(const ntk_engine *e) { return e->window_size; }

NTK_EXPORT int ntk_load_phase(const ntk_engine *e) {
    /* the data offset is known once the tensor table is parsed */
    return e->state == LOAD_RUNNING && e->parts[e->n_parts - 1].data_offset > 0;
}

NTK_EXPORT int ntk_load_commit(ntk_engine *e, size_t n) {
    if (e->state != LOAD_RUNNING) return set_err(e, NTK_ERR_STATE, "no load in progress");
    if (!e->window || n > e->window_size) return set_err(e, NTK_ERR_ARG, "commit of %zu bytes exceeds the load window", n);
    const uint8_t *p = e->window;
    e->window = NULL;
    e->window_size = 0;
    while (n > 0) {
        size_t used;
        gguf_status st = gguf_push(current(e), p, n, &used);
        if (st < 0) return load_fail(e, gguf_status_to_ntk(st), gguf_error(current(e)));
        p += used;
        n -= used;
        if (st == GGUF_TABLE_READY) {
            int rc = on_table_ready(e);
            if (rc) return rc;
        }
    }
    return NTK_OK;
}

NTK_EXPORT int ntk_load_bytes(ntk_engine *e, const uint8_t *buf, size_t len) {
    while (len > 0) {
        uint8_t *w = ntk_load_window(e, len);
        if (!w) return e->state == LOAD_FAILED || e->state == LOAD_IDLE ? NTK_ERR_STATE : NTK_ERR_NOMEM;
        size_t n = ntk_load_window_size(e);
        if (w != buf) memcpy(w, buf, n);
        int rc = ntk_load_commit(e, n);
        if (rc) return rc;
        buf += n;
        len -= n;
    }
    return NTK_OK;
}

static void rope_resolve(ntk_engine *e) {
    const model_config *c = &e->m.c;
    int dynamic_default = c->ntk_factor > 0 || !strcmp(c->arch, "internlm2");
    e->rope.mode = e->opt_mode >= 0 ? (rope_mode)e->opt_mode : dynamic_default ? ROPE_CONSISTENT : ROPE_NONE;
    e->rope.factor = e->opt_factor > 0 ? e->opt_factor : c->ntk_factor > 0 ? c->ntk_factor : 2.0;
    e->rope.trained_ctx = e->opt_trained > 0 ? (int64_t)e->opt_trained : c->ctx_train;
    e->rope.theta = c->rope_theta;
    e->rope.head_dim = c->head_dim;
    e->rope.refresh = e->opt_refresh > 0 ? e->opt_refresh : 1;
    e->kv.base = c->rope_theta;
}

NTK_EXPORT int ntk_load_end(ntk_engine *e) {
    if (e->state != LOAD_RUNNING) return set_err(e, NTK_ERR_STATE, "no load in progress");
    gguf_status st = gguf_finish(current(e));
    if (st != GGUF_DONE) {
        char msg[300];
        snprintf(msg, sizeof msg, "%s%s", gguf_error(current(e)), e->split_count > 1 ? " (of this split part)" : "");
        return load_fail(e, gguf_status_to_ntk(st), msg);
    }
    if (e->n_parts < e->split_count) {
        if (add_part(e)) return load_fail(e, NTK_ERR_NOMEM, "out of memory");
        return e->split_count - e->n_parts + 1;   /* parts still to push */
    }
    char err[256];
    int64_t n_tensors = 0, want;
    for (int i = 0; i < e->n_parts; i++) n_tensors += (int64_t)e->parts[i].n_tensors;
    if (gguf_get_i64(&e->parts[0], "split.tensors.count", &want) && want != n_tensors) {
        snprintf(err, sizeof err, "split.tensors.count says %lld tensors, the parts hold %lld", (long long)want, (long long)n_tensors);
        return load_fail(e, NTK_ERR_FORMAT, err);
    }
    int rc = model_bind(&e->m, e->parts, e->n_parts, 0, err, sizeof err);
    if (rc) return load_fail(e, rc == -1 ? NTK_ERR_UNSUPPORTED : NTK_ERR_FORMAT, err);
    if (tokenizer_load(&e->tok, &e->parts[0], err, sizeof err)) return load_fail(e, NTK_ERR_FORMAT, err);
    if (e->tok.n_vocab != e->m.c.n_vocab) {
        snprintf(err, sizeof err, "the vocabulary has %d tokens but token_embd.weight has %d rows", e->tok.n_vocab, e->m.c.n_vocab);
        return load_fail(e, NTK_ERR_FORMAT, err);
    }
    sampler_params sp;
    sampler_defaults(&sp);
    if (kv_init(&e->kv, &e->m) || scratch_init(&e->s, &e->m, PREFILL_CHUNK, e->pool) ||
        sampler_init(&e->smp, &sp, e->m.c.n_vocab, err, sizeof err))
        return load_fail(e, NTK_ERR_NOMEM, "out of memory setting up the context");
    free(e->staging);
    e->staging = NULL;
    e->staging_cap = 0;
    e->state = LOADED;
    rope_resolve(e);
    detok_init(&e->detok);
    return NTK_OK;
}

/* ---- settings and info ---- */

#define NEED_MODEL(e) \
    if ((e)->state != LOADED) return set_err(e, NTK_ERR_STATE, "no model is loaded")

NTK_EXPORT int ntk_set_rope(ntk_engine *e, int mode, double factor, double trained_ctx, double refresh) {
    NEED_MODEL(e);
    if (mode < -1 || mode > 2) return set_err(e, NTK_ERR_ARG, "rope mode must be consistent, cached or none");
    if (factor != 0 && !(factor >= 1 && factor <= 1e6))
        return set_err(e, NTK_ERR_ARG, "rope factor must be at least 1, got %g", factor);
    if (trained_ctx != 0 && !(trained_ctx >= 1 && trained_ctx <= 1e12))
        return set_err(e, NTK_ERR_ARG, "trained context length must be positive, got %g", trained_ctx);
    if (!(refresh >= 0 && refresh <= INT32_MAX) || refresh != (double)(int64_t)refresh)
        return set_err(e, NTK_ERR_ARG, "the RoPE refresh step must be a whole number of tokens, got %g", refresh);
    e->opt_mode = mode;
    e->opt_factor = factor;
    e->opt_trained = trained_ctx;
    e->opt_refresh = (int64_t)refresh;
    kv_clear(&e->kv);
    rope_resolve(e);
    return NTK_OK;
}

NTK_EXPORT int ntk_set_kv_type(ntk_engine *e, int type) {
    NEED_MODEL(e);
    if (e->kv.n) return set_err(e, NTK_ERR_STATE, "the KV cache type can only change while the context is empty");
    char err[160];
    int rc = kv_set_type(&e->kv, &e->m, type, err, sizeof err);
    if (rc) return set_err(e, rc == -2 ? NTK_ERR_ARG : NTK_ERR_UNSUPPORTED, "%s", err);
    rope_resolve(e);
    return NTK_OK;
}

NTK_EXPORT int ntk_set_max_context(ntk_engine *e, double n) {
    NEED_MODEL(e);
    if (!(n >= 0 && n <= INT32_MAX) || n != (double)(int64_t)n)
        return set_err(e, NTK_ERR_ARG, "the context cap must be a whole number of tokens, got %g", n);
    if (n > 0 && (int64_t)n < e->kv.n)
        return set_err(e, NTK_ERR_ARG, "the context already holds %lld tokens, more than a cap of %g", (long long)e->kv.n, n);
    e->max_ctx = (int64_t)n;
    return NTK_OK;
}

/* Append to a growing string; returns 0 or -1 when out of memory. */
typedef struct { char *s; size_t len, cap; } strbuf;

static int sb_printf(strbuf *b, const char *fmt, ...) {
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) return -1;
        if (b->s && b->len + (size_t)n < b->cap) { b->len += (size_t)n; return 0; }
        size_t cap = b->cap ? b->cap * 2 : 1024;
        while (cap < b->len + (size_t)n + 1) cap *= 2;
        char *p = realloc(b->s, cap);
        if (!p) return -1;
        b->s = p;
        b->cap = cap;
    }
}

/* JSON string literal of s (len bytes) */
static int sb_json_str(strbuf *b, const char *s, size_t len) {
    if (sb_printf(b, "\"")) return -1;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        int rc = ch == '"' || ch == '\\' ? sb_printf(b, "\\%c", ch)
               : ch < 0x20 ? sb_printf(b, "\\u%04x", ch) : sb_printf(b, "%c", ch);
        if (rc) return -1;
    }
    return sb_printf(b, "\"");
}

/* Tokens that fit with a KV cache of type: the heap's room plus the cache there is now (which a
 * change of type would free), over the bytes a token takes; 0 if the model cannot use type. */
static int64_t context_fit(const ntk_engine *e, int type) {
    if (type == NTK_KV_Q8_0 && e->m.c.head_dim % QK8_0) return 0;
    double room = (double)heap_room() + (double)e->kv.cap * kv_bytes_per_token(&e->m, e->kv.type);
    int64_t fit = (int64_t)((room > 1e15 ? 1e15 : room) / kv_bytes_per_token(&e->m, type));
    return e->max_ctx && e->max_ctx < fit ? e->max_ctx : fit;
}

/* The JSON text just built becomes the engine's answer (valid until the next one), or NULL with
 * an error if building it ran out of memory. */
static const char *keep_json(ntk_engine *e, strbuf *b, int bad) {
    if (bad) {
        free(b->s);
        set_err(e, NTK_ERR_NOMEM, "out of memory");
        return NULL;
    }
    free(e->info);
    e->info = b->s;
    return e->info;
}

static const char *kv_type_name(int type) {
    return type == NTK_KV_F16 ? "f16" : type == NTK_KV_Q8_0 ? "q8_0" : "f32";
}

NTK_EXPORT const char *ntk_info_json(ntk_engine *e) {
    if (e->state != LOADED) {
        set_err(e, NTK_ERR_STATE, "no model is loaded");
        return NULL;
    }
    const model_config *c = &e->m.c;
    strbuf b = {0};
    const char *name = "";
    size_t name_len = 0;
    gguf_get_str(&e->parts[0], "general.name", &name, &name_len);
    int types[GGML_TYPE_COUNT] = {0};
    uint64_t n_tensors = 0, tensor_bytes = 0;
    for (int p = 0; p < e->n_parts; p++) {
        const gguf_ctx *g = &e->parts[p];
        for (uint64_t i = 0; i < g->n_tensors; i++) types[g->tensors[i].type]++;
        n_tensors += g->n_tensors;
        tensor_bytes += g->data_size;
    }
    int bad = sb_printf(&b, "{\"name\":") || sb_json_str(&b, name, name_len) ||
        sb_printf(&b, ",\"architecture\":\"%s\",\"nVocab\":%d,\"dim\":%d,\"nLayers\":%d,\"nHeads\":%d,"
                      "\"nKvHeads\":%d,\"headDim\":%d,\"ffn\":%d,\"rmsEps\":%g,\"contextLength\":%lld,"
                      "\"nTensors\":%llu,\"tensorBytes\":%llu,\"ggufVersion\":%u,\"splits\":%d,\"simd\":%s,\"relaxedSimd\":%s,\"threads\":%d,\"tensorTypes\":{",
                  c->arch, c->n_vocab, c->dim, c->n_layers, c->n_heads, c->n_kv_heads, c->head_dim, c->ffn,
                  (double)c->eps, (long long)c->ctx_train, (unsigned long long)n_tensors,
                  (unsigned long long)tensor_bytes, e->parts[0].version, e->n_parts, NTK_SIMD ? "true" : "false", NTK_RELAXED ? "true" : "false",
                  threadpool_size(e->pool));
    const char *sep = "";
    for (int t = 0; t < GGML_TYPE_COUNT && !bad; t++)
        if (types[t]) {
            bad = sb_printf(&b, "%s\"%s\":%d", sep, ggml_type_info((uint32_t)t)->name, types[t]);
            sep = ",";
        }
    const char *mode_src = e->opt_mode >= 0 ? "option" : c->ntk_factor > 0 ? "file" : "default";
    const char *factor_src = e->opt_factor > 0 ? "option" : c->ntk_factor > 0 ? "file" : "default";
    bad = bad || sb_printf(&b, "},\"rope\":{\"theta\":%.17g,\"mode\":\"%s\",\"modeSource\":\"%s\",\"factor\":%.17g,"
                               "\"factorSource\":\"%s\",\"trainedCtx\":%lld,\"refresh\":%lld,\"fileFactor\":%s},"
                               "\"bos\":%d,\"eos\":%d,\"eot\":%d,\"addBos\":%s,"
                               "\"kvType\":\"%s\",\"kvBytesPerToken\":%.0f,\"maxContext\":%lld,\"contextFit\":%lld,"
                               "\"contextFitByKvType\":{\"f32\":%lld,\"f16\":%lld,\"q8_0\":%lld}}",
                  e->rope.theta, rope_mode_name(e->rope.mode), mode_src, e->rope.factor, factor_src,
                  (long long)e->rope.trained_ctx, (long long)e->rope.refresh, c->ntk_factor > 0 ? "true" : "false",
                  e->tok.bos, e->tok.eos, e->tok.eot, e->tok.add_bos ? "true" : "false",
                  kv_type_name(e->kv.type), kv_bytes_per_token(&e->m, e->kv.type), (long long)e->max_ctx, (long long)context_fit(e, e->kv.type),
                  (long long)context_fit(e, NTK_KV_F32), (long long)context_fit(e, NTK_KV_F16), (long long)context_fit(e, NTK_KV_Q8_0));
    return keep_json(e, &b, bad);
}

/* JSON has no NaN or infinity (JSON.parse rejects them): null, as JSON.stringify writes them. */
static int sb_json_num(strbuf *b, double v) {
    return isfinite(v) ? sb_printf(b, "%.9g", v) : sb_printf(b, "null");
}

/* One metadata value as JSON; arrays as {"array": type, "length": n, "head": [first few]}. */
static int sb_value(strbuf *b, const gguf_ctx *g, const gguf_kv *kv, int max_items) {
    int64_t iv;
    double fv;
    const char *str;
    size_t len;
    switch (kv->type) {
    case GGUF_STRING:
        gguf_get_str(g, kv->key, &str, &len);
        return sb_json_str(b, str, len);
    case GGUF_BOOL: {
        int v = 0;
        gguf_get_bool(g, kv->key, &v);
        return sb_printf(b, "%s", v ? "true" : "false");
    }
    case GGUF_FLOAT32: case GGUF_FLOAT64:
        gguf_get_f64(g, kv->key, &fv);
        return sb_json_num(b, fv);
    case GGUF_ARRAY: {
        int bad = sb_printf(b, "{\"array\":\"%s\",\"length\":%llu,\"head\":[", gguf_type_name(kv->arr_type), (unsigned long long)kv->n);
        for (uint64_t i = 0; i < kv->n && i < (uint64_t)max_items && !bad; i++) {
            if (i) bad = sb_printf(b, ",");
            if (bad) break;
            if (kv->arr_type == GGUF_STRING) {
                str = gguf_arr_str(g, kv, i, &len);
                bad = sb_json_str(b, str, len);
            } else if (kv->arr_type == GGUF_FLOAT32 || kv->arr_type == GGUF_FLOAT64) {
                bad = sb_json_num(b, gguf_arr_f64(g, kv, i));
            } else {
                bad = sb_printf(b, "%lld", (long long)gguf_arr_i64(g, kv, i));
            }
        }
        return bad || sb_printf(b, "]}");
    }
    default:
        if (!gguf_get_i64(g, kv->key, &iv)) return sb_printf(b, "null");  /* a uint64 past int64 */
        return sb_printf(b, "%lld", (long long)iv);
    }
}

/* Every metadata key of the model (all parts) and every tensor: {"metadata":{...},"tensors":[...]}. */
NTK_EXPORT const char *ntk_metadata_json(ntk_engine *e, int max_array_items) {
    if (e->state != LOADED) {
        set_err(e, NTK_ERR_STATE, "no model is loaded");
        return NULL;
    }
    strbuf b = {0};
    int bad = sb_printf(&b, "{\"metadata\":{");
    const char *sep = "";
    for (int p = 0; p < e->n_parts && !bad; p++)
        for (uint64_t i = 0; i < e->parts[p].n_kv && !bad; i++) {
            const gguf_kv *kv = &e->parts[p].kv[i];
            bad = sb_printf(&b, "%s", sep) || sb_json_str(&b, kv->key, strlen(kv->key)) || sb_printf(&b, ":") ||
                  sb_value(&b, &e->parts[p], kv, max_array_items < 0 ? 0 : max_array_items);
            sep = ",";
        }
    bad = bad || sb_printf(&b, "},\"tensors\":[");
    sep = "";
    for (int p = 0; p < e->n_parts && !bad; p++)
        for (uint64_t i = 0; i < e->parts[p].n_tensors && !bad; i++) {
            const gguf_tensor *t = &e->parts[p].tensors[i];
            bad = sb_printf(&b, "%s{\"name\":", sep) || sb_json_str(&b, t->name, strlen(t->name)) ||
                  sb_printf(&b, ",\"type\":\"%s\",\"shape\":[", ggml_type_info(t->type)->name);
            for (uint32_t d = 0; d < t->n_dims && !bad; d++) bad = sb_printf(&b, d ? ",%lld" : "%lld", (long long)t->ne[d]);
            bad = bad || sb_printf(&b, "],\"bytes\":%llu,\"part\":%d}", (unsigned long long)t->nbytes, p + 1);
            sep = ",";
        }
    return keep_json(e, &b, bad || sb_printf(&b, "]}"));
}

NTK_EXPORT int ntk_n_vocab(const ntk_engine *e) { return e->state == LOADED ? e->m.c.n_vocab : 0; }
NTK_EXPORT double ntk_n_ctx(const ntk_engine *e) { return e->state == LOADED ? (double)e->kv.n : 0; }
NTK_EXPORT double ntk_rope_base(const ntk_engine *e) { return e->state == LOADED ? e->kv.base : 0; }

/* ---- tokens ---- */

NTK_EXPORT int ntk_tokenize(ntk_engine *e, const char *text, int len, int add_bos, int32_t *ids, int cap) {
    NEED_MODEL(e);
    if (len < 0 || cap < 0) return set_err(e, NTK_ERR_ARG, "negative length");
    int64_t n = tokenizer_encode(&e->tok, text, (size_t)len, add_bos, ids, cap);
    if (n < 0) return set_err(e, NTK_ERR_NOMEM, "out of memory while tokenizing");
    if (n > INT32_MAX) return set_err(e, NTK_ERR_ARG, "text too long");
    return (int)n;
}

NTK_EXPORT int ntk_detok_reset(ntk_engine *e, int continues) {
    NEED_MODEL(e);
    detok_init(&e->detok);
    if (continues) e->detok.at_start = 0;
    return NTK_OK;
}

NTK_EXPORT int ntk_detok_push(ntk_engine *e, int32_t id, char *out, int cap) {
    NEED_MODEL(e);
    int n = detok_push(&e->tok, &e->detok, id, out, cap < 0 ? 0 : (size_t)cap);
    if (n == -1) return set_err(e, NTK_ERR_ARG, "token id %d is out of range [0, %d)", id, e->tok.n_vocab);
    if (n == -2) return set_err(e, NTK_ERR_ARG, "output buffer of %d bytes is too small", cap);
    return n;
}

NTK_EXPORT int ntk_detok_flush(ntk_engine *e, char *out, int cap) {
    NEED_MODEL(e);
    int n = detok_flush(&e->detok, out, cap < 0 ? 0 : (size_t)cap);
    return n == -2 ? set_err(e, NTK_ERR_ARG, "output buffer of %d bytes is too small", cap) : n;
}

NTK_EXPORT int ntk_is_eog(const ntk_engine *e, int32_t id) {
    return e->state == LOADED && tokenizer_is_eog(&e->tok, id);
}

NTK_EXPORT const char *ntk_token_piece(const ntk_engine *e, int32_t id) {
    if (e->state != LOADED || id < 0 || id >= e->tok.n_vocab) return NULL;
    return e->tok.pieces[id];
}

/* ---- evaluation and sampling ---- */

NTK_EXPORT int ntk_eval(ntk_engine *e, const int32_t *ids, int n, int all_logits) {
    NEED_MODEL(e);
    if (n <= 0) return set_err(e, NTK_ERR_ARG, "no tokens to evaluate");
    if (e->max_ctx && e->kv.n + n > e->max_ctx)
        return set_err(e, NTK_ERR_CONTEXT_FULL, "context full at %lld tokens: %d more would pass the cap of %lld",
                       (long long)e->kv.n, n, (long long)e->max_ctx);
    int64_t rows = all_logits ? n : 1, need = rows * e->m.c.n_vocab;
    if (need > e->logits_cap) {
        float *p = realloc(e->logits, (size_t)need * sizeof(float));
        if (!p) return set_err(e, NTK_ERR_NOMEM, "out of memory for %lld rows of logits", (long long)rows);
        e->logits = p;
        e->logits_cap = need;
    }
    char err[256];
    int rc = model_forward(&e->m, &e->rope, &e->kv, &e->s, ids, n, e->logits, all_logits, err, sizeof err);
    if (rc) return set_err(e, rc == -1 ? NTK_ERR_ARG : NTK_ERR_CONTEXT_FULL, "%s", err);
    e->logits_rows = rows;
    return NTK_OK;
}

NTK_EXPORT const float *ntk_logits(const ntk_engine *e) { return e->logits_rows ? e->logits : NULL; }

NTK_EXPORT int ntk_truncate(ntk_engine *e, double n) {
    NEED_MODEL(e);
    if (!(n >= 0 && n <= (double)e->kv.n) || n != (double)(int64_t)n)
        return set_err(e, NTK_ERR_ARG, "cannot truncate a context of %lld tokens to %g", (long long)e->kv.n, n);
    /* keys of the kept positions are valid in every mode: consistent stores them before RoPE,
     * cached with the base they were written with, which a truncated context keeps */
    e->kv.n = (int64_t)n;
    e->logits_rows = 0;
    return NTK_OK;
}

NTK_EXPORT int ntk_reset(ntk_engine *e) {
    NEED_MODEL(e);
    kv_clear(&e->kv);
    e->kv.base = e->rope.theta;
    e->logits_rows = 0;
    detok_init(&e->detok);
    return NTK_OK;
}

NTK_EXPORT int ntk_sampler_set(ntk_engine *e, double temperature, int top_k, double top_p, double min_p,
                               double repeat_penalty, int repeat_window, double seed) {
    NEED_MODEL(e);
    if (!(seed >= 0 && seed < 18446744073709551616.0)) return set_err(e, NTK_ERR_ARG, "seed must be a non-negative integer");
    sampler_params p = {
        .temperature = (float)temperature, .top_k = top_k, .top_p = (float)top_p, .min_p = (float)min_p,
        .repeat_penalty = (float)repeat_penalty, .repeat_window = repeat_window, .seed = (uint64_t)seed,
    };
    sampler next;
    char err[256];
    if (sampler_init(&next, &p, e->m.c.n_vocab, err, sizeof err)) return set_err(e, NTK_ERR_ARG, "%s", err);
    sampler_free(&e->smp);
    e->smp = next;
    return NTK_OK;
}

NTK_EXPORT int ntk_sample(ntk_engine *e) {
    NEED_MODEL(e);
    if (!e->logits_rows) return set_err(e, NTK_ERR_STATE, "nothing evaluated yet: no logits to sample from");
    const float *last = e->logits + (e->logits_rows - 1) * e->m.c.n_vocab;
    return sampler_sample(&e->smp, last, e->kv.tokens, e->kv.n);
}
