/* load.c — the load state machine of api.h (ntk_load_*): the window the caller writes into,
 * the GGUF push parser behind it, the parts of a split model and their checks, and the model,
 * tokenizer and context set up once the last part is in. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

#ifdef __EMSCRIPTEN__
#include <emscripten/heap.h>
#include <malloc.h>
#endif

#define PREFILL_CHUNK 64 /* tokens per pass through the weights */
#define DATA_ALIGN    64

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

void engine_unload(ntk_engine *e) {
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
    e->staging = NULL;
    e->staging_cap = 0;
    e->logits = NULL;
    e->logits_cap = 0;
    e->logits_rows = 0;
    e->info = NULL;
    e->window = NULL;
    e->window_size = 0;
    memset(&e->tok, 0, sizeof e->tok);
    e->state = LOAD_IDLE;
}

int ntk_load_begin(ntk_engine *e) {
    if (e->state == LOADED || e->state == LOAD_RUNNING)
        return engine_error(e, NTK_ERR_STATE,
                            "this engine already has a model; create another engine to load one more");
    engine_unload(e);
    if (add_part(e)) return engine_error(e, NTK_ERR_NOMEM, "out of memory");
    e->state = LOAD_RUNNING;
    e->err[0] = 0;
    return NTK_OK;
}

static int load_fail(ntk_engine *e, int status, const char *msg) {
    char copy[sizeof e->err];
    snprintf(copy, sizeof copy, "%s", msg);
    engine_unload(e);
    e->state = LOAD_FAILED;
    return engine_error(e, status, "%s", copy);
}

static int gguf_status_to_ntk(gguf_status st) {
    switch (st) {
    case GGUF_ERR_NOMEM:
        return NTK_ERR_NOMEM;
    case GGUF_ERR_TRUNCATED:
        return NTK_ERR_TRUNCATED;
    case GGUF_ERR_STATE:
        return NTK_ERR_STATE;
    default:
        return NTK_ERR_FORMAT;
    }
}

/* Bytes malloc can still hand out: what the heap can grow by plus what is free inside it (a KV
 * cache that failed to grow gives its memory back there), so a model that cannot fit is refused
 * from its tensor table instead of failing halfway through the download, and contextFit stays
 * true after a failed growth. */
uint64_t heap_room(void) {
#ifdef __EMSCRIPTEN__
    /* mallinfo's fields are int; wasm32's free bytes fit in 32 bits unsigned, past 2 GiB too */
    return (uint64_t)emscripten_get_heap_max() - (uint64_t)emscripten_get_heap_size() + (unsigned)mallinfo().fordblks;
#else
    return UINT64_MAX;
#endif
}

/* What gguf-split writes in every part (split.no, split.count, split.tensors.count: nothing else
 * of the model is in a later part); a whole file is part 0 of 1, with no tensor count. */
typedef struct {
    int64_t no, count, tensors;
} split_keys;

static int read_split_keys(const gguf_ctx *g, split_keys *k, char *err, size_t errlen) {
    gguf_value no, count, tensors;
    int has_no = gguf_read(g, "split.no", GGUF_WANT_INT, &no, err, errlen);
    int has_count = has_no < 0 ? -1 : gguf_read(g, "split.count", GGUF_WANT_INT, &count, err, errlen);
    int has_tensors = has_count < 0 ? -1 : gguf_read(g, "split.tensors.count", GGUF_WANT_INT, &tensors, err, errlen);
    if (has_tensors < 0) return -1;
    *k = (split_keys){ has_no ? no.i : 0, has_count ? count.i : 1, has_tensors ? tensors.i : -1 };
    if (has_no != has_count || k->count < 1 || k->count > 9999 || k->no < 0 || k->no >= k->count ||
        (has_tensors && tensors.i < 0)) {
        snprintf(err, errlen, "bad split.no / split.count / split.tensors.count metadata");
        return -1;
    }
    return 0;
}

/* A part's split.tensors.count as a message says it. */
static const char *tensor_count(int64_t n, char *buf, size_t cap) {
    if (n < 0) return "absent";
    snprintf(buf, cap, "%lld", (long long)n);
    return buf;
}

/* A tensor table is in: check the part belongs to the model and the model can run before
 * allocating the part's weights. */
static int on_table_ready(ntk_engine *e) {
    char err[256];
    gguf_ctx *g = current(e);
    split_keys k;
    if (read_split_keys(g, &k, err, sizeof err)) return load_fail(e, NTK_ERR_FORMAT, err);
    if (e->n_parts == 1) {
        if (k.no != 0)
            return load_fail(e, NTK_ERR_FORMAT, "this is not the first part of a split model: load from part 1");
        e->split_count = (int)k.count;
        e->split_tensors = k.tensors;
    } else {
        if (k.no != e->n_parts - 1 || k.count != e->split_count) {
            snprintf(err, sizeof err, "expected part %d of %d of the split model, got part %lld of %lld", e->n_parts,
                     e->split_count, (long long)k.no + 1, (long long)k.count);
            return load_fail(e, NTK_ERR_FORMAT, err);
        }
        if (k.tensors != e->split_tensors) {
            char mine[24], theirs[24];
            snprintf(err, sizeof err, "part %d is from another split model: its split.tensors.count is %s, part 1's %s",
                     e->n_parts, tensor_count(k.tensors, mine, sizeof mine),
                     tensor_count(e->split_tensors, theirs, sizeof theirs));
            return load_fail(e, NTK_ERR_FORMAT, err);
        }
        /* llama.cpp refuses a tensor in two parts: which copy would be used is anyone's guess */
        for (uint64_t i = 0; i < g->n_tensors; i++)
            for (int p = 0; p < e->n_parts - 1; p++)
                if (gguf_find_tensor(&e->parts[p], g->tensors[i].name)) {
                    snprintf(err, sizeof err, "tensor '%s' is in part %d and in part %d", g->tensors[i].name, p + 1,
                             e->n_parts);
                    return load_fail(e, NTK_ERR_FORMAT, err);
                }
    }
    int rc = model_bind(&e->m, e->parts, e->n_parts, e->n_parts < e->split_count, err, sizeof err);
    if (rc) return load_fail(e, rc == -1 ? NTK_ERR_UNSUPPORTED : NTK_ERR_FORMAT, err);
    uint64_t size = (g->data_size + DATA_ALIGN - 1) / DATA_ALIGN * DATA_ALIGN;
    if (size > heap_room()) {
        snprintf(err, sizeof err,
                 "file too large for WebAssembly memory: its tensors need %.1f MB, and memory can grow by %.1f MB more "
                 "(the limit is 4 GB)",
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

uint8_t *ntk_load_window(ntk_engine *e, size_t want) {
    if (e->state != LOAD_RUNNING || want == 0) {
        if (e->state != LOAD_RUNNING) engine_error(e, NTK_ERR_STATE, "no load in progress");
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
        want = (size_t)(g->data_offset - g->file_pos); /* stop at the data so the next window is in place */
    if (want > e->staging_cap) {
        uint8_t *p = realloc(e->staging, want);
        if (!p) {
            engine_error(e, NTK_ERR_NOMEM, "out of memory for a load chunk of %zu bytes", want);
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

size_t ntk_load_window_size(const ntk_engine *e) { return e->window_size; }

int ntk_load_phase(const ntk_engine *e) {
    /* the data offset is known once the tensor table is parsed */
    return e->state == LOAD_RUNNING && e->parts[e->n_parts - 1].data_offset > 0;
}

int ntk_load_commit(ntk_engine *e, size_t n) {
    if (e->state != LOAD_RUNNING) return engine_error(e, NTK_ERR_STATE, "no load in progress");
    if (!e->window || n > e->window_size)
        return engine_error(e, NTK_ERR_ARG, "commit of %zu bytes exceeds the load window", n);
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

#ifndef __EMSCRIPTEN__
int ntk_load_bytes(ntk_engine *e, const uint8_t *buf, size_t len) {
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
#endif

int ntk_load_end(ntk_engine *e) {
    if (e->state != LOAD_RUNNING) return engine_error(e, NTK_ERR_STATE, "no load in progress");
    gguf_status st = gguf_finish(current(e));
    if (st != GGUF_DONE) {
        char msg[300];
        snprintf(msg, sizeof msg, "%s%s", gguf_error(current(e)), e->split_count > 1 ? " (of this split part)" : "");
        return load_fail(e, gguf_status_to_ntk(st), msg);
    }
    if (e->n_parts < e->split_count) {
        if (add_part(e)) return load_fail(e, NTK_ERR_NOMEM, "out of memory");
        return e->split_count - e->n_parts + 1; /* parts still to push */
    }
    char err[256];
    int64_t n_tensors = 0;
    for (int i = 0; i < e->n_parts; i++) n_tensors += (int64_t)e->parts[i].n_tensors;
    if (e->split_tensors >= 0 && e->split_tensors != n_tensors) {
        snprintf(err, sizeof err, "split.tensors.count says %lld tensors, the parts hold %lld",
                 (long long)e->split_tensors, (long long)n_tensors);
        return load_fail(e, NTK_ERR_FORMAT, err);
    }
    int rc = model_bind(&e->m, e->parts, e->n_parts, 0, err, sizeof err);
    if (rc) return load_fail(e, rc == -1 ? NTK_ERR_UNSUPPORTED : NTK_ERR_FORMAT, err);
    if (tokenizer_load(&e->tok, &e->parts[0], e->m.c.arch->eot, err, sizeof err))
        return load_fail(e, NTK_ERR_FORMAT, err);
    if (e->tok.n_vocab != e->m.c.n_vocab) {
        snprintf(err, sizeof err, "the vocabulary has %d tokens but token_embd.weight has %d rows", e->tok.n_vocab,
                 e->m.c.n_vocab);
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
    engine_rope_resolve(e);
    detok_init(&e->detok);
    return NTK_OK;
}
