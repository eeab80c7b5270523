/* json.c — the JSON answers of api.h: ntk_info_json (the model and the settings in force) and
 * ntk_metadata_json (every metadata key and tensor). Each is built in a growing string that
 * becomes the engine's answer, valid until the next one. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

/* Append to a growing string; returns 0 or -1 when out of memory. */
typedef struct {
    char *s;
    size_t len, cap;
} strbuf;

static int sb_printf(strbuf *b, const char *fmt, ...) {
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) return -1;
        if (b->s && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return 0;
        }
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
                 : ch < 0x20             ? sb_printf(b, "\\u%04x", ch)
                                         : sb_printf(b, "%c", ch);
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
        engine_error(e, NTK_ERR_NOMEM, "out of memory");
        return NULL;
    }
    free(e->info);
    e->info = b->s;
    return e->info;
}

const char *ntk_info_json(ntk_engine *e) {
    if (e->state != LOADED) {
        engine_error(e, NTK_ERR_STATE, "no model is loaded");
        return NULL;
    }
    const model_config *c = &e->m.c;
    strbuf b = { 0 };
    gguf_value name; /* empty unless a string */
    gguf_read(&e->parts[0], "general.name", GGUF_WANT_STRING, &name, NULL, 0);
    int types[GGML_TYPE_COUNT] = { 0 };
    uint64_t n_tensors = 0, tensor_bytes = 0;
    for (int p = 0; p < e->n_parts; p++) {
        const gguf_ctx *g = &e->parts[p];
        for (uint64_t i = 0; i < g->n_tensors; i++) types[g->tensors[i].type]++;
        n_tensors += g->n_tensors;
        tensor_bytes += g->data_size;
    }
    int bad = sb_printf(&b, "{\"name\":") || sb_json_str(&b, name.s ? name.s : "", name.len) ||
              sb_printf(&b,
                        ",\"architecture\":\"%s\",\"nVocab\":%d,\"dim\":%d,\"nLayers\":%d,\"nHeads\":%d,"
                        "\"nKvHeads\":%d,\"headDim\":%d,\"ffn\":%d,\"rmsEps\":%g,\"contextLength\":%lld,"
                        "\"nTensors\":%llu,\"tensorBytes\":%llu,\"ggufVersion\":%u,\"splits\":%d,\"simd\":%s,"
                        "\"relaxedSimd\":%s,\"threads\":%d,\"tensorTypes\":{",
                        c->arch->name, c->n_vocab, c->dim, c->n_layers, c->n_heads, c->n_kv_heads, c->head_dim, c->ffn,
                        (double)c->eps, (long long)c->ctx_train, (unsigned long long)n_tensors,
                        (unsigned long long)tensor_bytes, e->parts[0].version, e->n_parts, NTK_SIMD ? "true" : "false",
                        NTK_RELAXED ? "true" : "false", threadpool_size(e->pool));
    const char *sep = "";
    for (int t = 0; t < GGML_TYPE_COUNT && !bad; t++)
        if (types[t]) {
            bad = sb_printf(&b, "%s\"%s\":%d", sep, ggml_type_info((uint32_t)t)->name, types[t]);
            sep = ",";
        }
    const char *mode_src = e->opt_mode >= 0 ? "option" : c->ntk_factor > 0 ? "file" : "default";
    const char *factor_src = e->opt_factor > 0 ? "option" : c->ntk_factor > 0 ? "file" : "default";
    bad =
        bad ||
        sb_printf(&b,
                  "},\"rope\":{\"theta\":%.17g,\"mode\":\"%s\",\"modeSource\":\"%s\",\"factor\":%.17g,"
                  "\"factorSource\":\"%s\",\"trainedCtx\":%lld,\"refresh\":%lld,\"fileFactor\":%s},"
                  "\"bos\":%d,\"eos\":%d,\"eot\":%d,\"addBos\":%s,"
                  "\"kvType\":\"%s\",\"kvBytesPerToken\":%.0f,\"maxContext\":%lld,\"contextFit\":%lld,"
                  "\"contextFitByKvType\":{",
                  e->rope.theta, rope_mode_name(e->rope.mode), mode_src, e->rope.factor, factor_src,
                  (long long)e->rope.trained_ctx, (long long)e->rope.refresh, c->ntk_factor > 0 ? "true" : "false",
                  e->tok.bos, e->tok.eos, e->tok.eot, e->tok.add_bos ? "true" : "false", kv_type_name(e->kv.type),
                  kv_bytes_per_token(&e->m, e->kv.type), (long long)e->max_ctx, (long long)context_fit(e, e->kv.type));
    for (int t = 0; kv_type_name(t) && !bad; t++)
        bad = sb_printf(&b, "%s\"%s\":%lld", t ? "," : "", kv_type_name(t), (long long)context_fit(e, t));
    return keep_json(e, &b, bad || sb_printf(&b, "}}"));
}

/* JSON has no NaN or infinity (JSON.parse rejects them): null, as JSON.stringify writes them. */
static int sb_json_num(strbuf *b, double v) { return isfinite(v) ? sb_printf(b, "%.9g", v) : sb_printf(b, "null"); }

/* One metadata value as JSON; arrays as {"array": type, "length": n, "head": [first few]}. */
static int sb_value(strbuf *b, const gguf_ctx *g, const gguf_kv *kv, int max_items) {
    gguf_value v;
    switch (kv->type) {
    case GGUF_STRING:
        gguf_read_kv(g, kv, GGUF_WANT_STRING, &v, NULL, 0);
        return sb_json_str(b, v.s, v.len);
    case GGUF_BOOL:
        gguf_read_kv(g, kv, GGUF_WANT_BOOL, &v, NULL, 0);
        return sb_printf(b, "%s", v.i ? "true" : "false");
    case GGUF_FLOAT32:
    case GGUF_FLOAT64:
        gguf_read_kv(g, kv, GGUF_WANT_NUMBER, &v, NULL, 0);
        return sb_json_num(b, v.f);
    case GGUF_ARRAY: {
        int bad = sb_printf(b, "{\"array\":\"%s\",\"length\":%llu,\"head\":[", gguf_type_name(kv->arr_type),
                            (unsigned long long)kv->n);
        for (uint64_t i = 0; i < kv->n && i < (uint64_t)max_items && !bad; i++) {
            if (i) bad = sb_printf(b, ",");
            if (bad) break;
            if (kv->arr_type == GGUF_STRING) {
                size_t len;
                const char *str = gguf_arr_str(g, kv, i, &len);
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
        if (gguf_read_kv(g, kv, GGUF_WANT_INT, &v, NULL, 0) < 0) return sb_printf(b, "null"); /* a uint64 past int64 */
        return sb_printf(b, "%lld", (long long)v.i);
    }
}

/* Every metadata key of the model (all parts) and every tensor: {"metadata":{...},"tensors":[...]}. */
const char *ntk_metadata_json(ntk_engine *e, int max_array_items) {
    if (e->state != LOADED) {
        engine_error(e, NTK_ERR_STATE, "no model is loaded");
        return NULL;
    }
    strbuf b = { 0 };
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
            for (uint32_t d = 0; d < t->n_dims && !bad; d++)
                bad = sb_printf(&b, d ? ",%lld" : "%lld", (long long)t->ne[d]);
            bad = bad || sb_printf(&b, "],\"bytes\":%llu,\"part\":%d}", (unsigned long long)t->nbytes, p + 1);
            sep = ",";
        }
    return keep_json(e, &b, bad || sb_printf(&b, "]}"));
}
