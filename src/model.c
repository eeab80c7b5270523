/* model.c — weights, KV cache and the forward pass; see model.h. */
#include "model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"

/* ---- binding ---- */

/* The integer {prefix}.{suffix}, in [lo, hi]; when absent, an error if required, else *out is
 * left as it is (the default). */
static int config_int(const gguf_ctx *g, const char *prefix, const char *suffix, int64_t lo, int64_t hi, int required,
                      int64_t *out, char *err, size_t errlen) {
    char key[96];
    gguf_value v;
    snprintf(key, sizeof key, "%s.%s", prefix, suffix);
    int rc = gguf_read(g, key, GGUF_WANT_INT, &v, err, errlen);
    if (rc < 0) return -2;
    if (!rc) {
        if (!required) return 0;
        snprintf(err, errlen, "missing metadata key %s", key);
        return -2;
    }
    if (v.i < lo || v.i > hi) {
        snprintf(err, errlen, "%s = %lld is out of range [%lld, %lld]", key, (long long)v.i, (long long)lo,
                 (long long)hi);
        return -2;
    }
    *out = v.i;
    return 0;
}

/* The number {prefix}.{suffix}, or def when absent. */
static int config_num(const gguf_ctx *g, const char *prefix, const char *suffix, double def, double *out, char *err,
                      size_t errlen) {
    char key[96];
    gguf_value v;
    snprintf(key, sizeof key, "%s.%s", prefix, suffix);
    int rc = gguf_read(g, key, GGUF_WANT_NUMBER, &v, err, errlen);
    *out = rc > 0 ? v.f : def;
    return rc < 0 ? -2 : 0;
}

typedef struct {
    const gguf_ctx *parts;
    int n_parts, partial;
} tensor_set;

static const gguf_tensor *find_tensor(const tensor_set *ts, const char *name) {
    for (int i = 0; i < ts->n_parts; i++) {
        const gguf_tensor *t = gguf_find_tensor(&ts->parts[i], name);
        if (t) return t;
    }
    return NULL;
}

/* A tensor that is absent: fine while parts are still to come, else an error. */
static int missing(const tensor_set *ts, const char *name, char *err, size_t errlen) {
    if (ts->partial) return 0;
    snprintf(err, errlen, "missing tensor %s", name);
    return -2;
}

/* A type the engine has no kernels for (gguf.c has sized it, so ggml defines it). */
static int unsupported_type(const gguf_tensor *t, const char *name, const char *runs, char *err, size_t errlen) {
    snprintf(err, errlen, "tensor %s has type %s, which this engine does not run (it runs %s)", name,
             ggml_type_info(t->type)->name, runs);
    return -1;
}

/* The kernels read weights as floats, halves and blocks that start with a half, and the data
 * buffer is 64-aligned: the offset must suit the type, which general.alignment 1 or 2 does not
 * ensure. */
static int check_aligned(const gguf_tensor *t, const char *name, char *err, size_t errlen) {
    const int need = ggml_type_info(t->type)->align;
    if (t->offset % need == 0) return 0;
    snprintf(err, errlen, "tensor %s is at data offset %llu, which is not aligned to the %d bytes its type needs", name,
             (unsigned long long)t->offset, need);
    return -2;
}

static int bind_tensor(const tensor_set *ts, const char *name, int64_t cols, int64_t rows, weight *w, char *err,
                       size_t errlen) {
    const gguf_tensor *t = find_tensor(ts, name);
    if (!t) return missing(ts, name, err, errlen);
    const ggml_type_traits *tr = ggml_type_info(t->type);
    if (!tr->dot) {
        char runs[160];
        ggml_types_run(runs, sizeof runs);
        return unsupported_type(t, name, runs, err, errlen);
    }
    if (t->ne[0] != cols || t->ne[1] != rows || t->ne[2] != 1 || t->ne[3] != 1) {
        snprintf(err, errlen, "tensor %s has shape [%lld, %lld], expected [%lld, %lld]", name, (long long)t->ne[0],
                 (long long)t->ne[1], (long long)cols, (long long)rows);
        return -2;
    }
    if (check_aligned(t, name, err, errlen)) return -2;
    w->type = t->type;
    w->rows = rows;
    w->cols = cols;
    w->row_bytes = (size_t)(cols / tr->block_size * tr->type_size);
    w->data = t->data;
    return 0;
}

/* RMSNorm weights are read as floats. */
static int bind_norm(const tensor_set *ts, const char *name, int64_t n, const float **out, char *err, size_t errlen) {
    const gguf_tensor *t = find_tensor(ts, name);
    if (!t) return missing(ts, name, err, errlen);
    if (t->type != GGML_TYPE_F32) return unsupported_type(t, name, "norms in F32", err, errlen);
    if (t->ne[0] != n || t->n_dims != 1) {
        snprintf(err, errlen, "tensor %s must hold %lld values", name, (long long)n);
        return -2;
    }
    if (check_aligned(t, name, err, errlen)) return -2;
    *out = t->data;
    return 0;
}

int model_bind(model *m, const gguf_ctx *parts, int n_parts, int partial, char *err, size_t errlen) {
    const gguf_ctx *g = &parts[0];
    const tensor_set ts = { parts, n_parts, partial };
    model_config *c = &m->c;
    gguf_value arch;
    int64_t v;
    int rc = gguf_read(g, "general.architecture", GGUF_WANT_STRING, &arch, err, errlen);
    if (rc <= 0) {
        if (!rc) snprintf(err, errlen, "missing metadata key general.architecture");
        return -2;
    }
    if (!(c->arch = arch_find(arch.s, arch.len))) {
        char names[64];
        arch_names(names, sizeof names);
        snprintf(err, errlen, "architecture '%.*s' is not supported (%s)", (int)(arch.len < 64 ? arch.len : 64), arch.s,
                 names);
        return -1;
    }
    const char *prefix = c->arch->prefix;
    const arch_tensors *names = c->arch->tensors;

#define KEY(suffix, lo, hi, dst)                                                     \
    if ((rc = config_int(g, prefix, suffix, lo, hi, 1, &v, err, errlen))) return rc; \
    dst = (int)v;
    KEY("embedding_length", 1, 1 << 16, c->dim)
    KEY("block_count", 1, 1024, c->n_layers)
    KEY("feed_forward_length", 1, 1 << 18, c->ffn)
    KEY("attention.head_count", 1, 1024, c->n_heads)
#undef KEY
    if ((rc = config_int(g, prefix, "context_length", 1, INT64_C(1) << 40, 1, &c->ctx_train, err, errlen))) return rc;
    v = c->n_heads; /* without the key, one KV head per query head */
    if ((rc = config_int(g, prefix, "attention.head_count_kv", 1, c->n_heads, 0, &v, err, errlen))) return rc;
    c->n_kv_heads = (int)v;
    if (c->dim % c->n_heads || c->n_heads % c->n_kv_heads) {
        snprintf(err, errlen, "heads (%d) must divide the embedding (%d) and be a multiple of the KV heads (%d)",
                 c->n_heads, c->dim, c->n_kv_heads);
        return -2;
    }
    c->head_dim = c->dim / c->n_heads;
    if (c->head_dim % 2 || c->head_dim > 1024 || c->dim % QK8_0 || c->ffn % QK8_0) {
        snprintf(err, errlen, "unsupported shape: head_dim %d, embedding %d, ffn %d", c->head_dim, c->dim, c->ffn);
        return -2;
    }

    double eps;
    if (config_num(g, prefix, "attention.layer_norm_rms_epsilon", 1e-5, &eps, err, errlen) ||
        config_num(g, prefix, "rope.freq_base", 10000.0, &c->rope_theta, err, errlen) ||
        config_num(g, prefix, "rope.dynamic_ntk.factor", 0.0, &c->ntk_factor, err, errlen))
        return -2;
    c->eps = (float)eps;
    if (!(c->eps > 0 && c->eps < 1) || !(c->rope_theta > 1 && isfinite(c->rope_theta)) ||
        (c->ntk_factor != 0 && !(c->ntk_factor >= 1 && c->ntk_factor < 1e6))) {
        snprintf(err, errlen, "bad RMSNorm epsilon, rope.freq_base or dynamic_ntk.factor");
        return -2;
    }

    /* the vocabulary fixes the embedding's rows; token_embd may be in a part still to come */
    gguf_value tokens;
    if ((rc = gguf_read(g, "tokenizer.ggml.tokens", GGUF_WANT_STRING_ARRAY, &tokens, err, errlen)) < 0) return -2;
    const gguf_tensor *emb = find_tensor(&ts, names->token_embd);
    if (!rc && !emb) return missing(&ts, names->token_embd, err, errlen);
    int64_t n_vocab = emb ? emb->ne[1] : (int64_t)tokens.kv->n;
    if (n_vocab < 1 || n_vocab > (1 << 24)) {
        snprintf(err, errlen, "vocabulary of %lld tokens is out of range", (long long)n_vocab);
        return -2;
    }
    c->n_vocab = (int)n_vocab;
    int64_t q_dim = (int64_t)c->n_heads * c->head_dim, kv_dim = (int64_t)c->n_kv_heads * c->head_dim;

    if ((rc = bind_tensor(&ts, names->token_embd, c->dim, c->n_vocab, &m->tok_embd, err, errlen))) return rc;
    if ((rc = bind_norm(&ts, names->output_norm, c->dim, &m->out_norm, err, errlen))) return rc;
    /* a file without an output head ties it to the embedding, once every part has been seen */
    c->tied_output = !partial && !find_tensor(&ts, names->output);
    if (c->tied_output)
        m->output = m->tok_embd;
    else if ((rc = bind_tensor(&ts, names->output, c->dim, c->n_vocab, &m->output, err, errlen)))
        return rc;
    if (!m->layers && !(m->layers = calloc((size_t)c->n_layers, sizeof *m->layers))) {
        snprintf(err, errlen, "out of memory");
        return -2;
    }
    for (int l = 0; l < c->n_layers; l++) {
        layer_weights *L = &m->layers[l];
        char name[64];
#define T(fmt, cols, rows, dst)          \
    snprintf(name, sizeof name, fmt, l); \
    if ((rc = bind_tensor(&ts, name, cols, rows, dst, err, errlen))) return rc;
#define N(fmt, dst)                      \
    snprintf(name, sizeof name, fmt, l); \
    if ((rc = bind_norm(&ts, name, c->dim, dst, err, errlen))) return rc;
        N(names->attn_norm, &L->attn_norm)
        T(names->attn_q, c->dim, q_dim, &L->wq)
        T(names->attn_k, c->dim, kv_dim, &L->wk)
        T(names->attn_v, c->dim, kv_dim, &L->wv)
        T(names->attn_output, q_dim, c->dim, &L->wo)
        N(names->ffn_norm, &L->ffn_norm)
        T(names->ffn_gate, c->dim, c->ffn, &L->w1)
        T(names->ffn_up, c->dim, c->ffn, &L->w3)
        T(names->ffn_down, c->ffn, c->dim, &L->w2)
#undef T
#undef N
    }
    return 0;
}

void model_free(model *m) {
    free(m->layers);
    memset(m, 0, sizeof *m);
}

/* ---- KV cache ---- */

int kv_init(kv_cache *kv, const model *m) {
    memset(kv, 0, sizeof *kv);
    kv->n_layers = m->c.n_layers;
    kv->kv_dim = m->c.n_kv_heads * m->c.head_dim;
    kv->type = NTK_KV_F32;
    kv->row_bytes = (size_t)kv->kv_dim * sizeof(float);
    kv->k = calloc((size_t)kv->n_layers, sizeof *kv->k);
    kv->v = calloc((size_t)kv->n_layers, sizeof *kv->v);
    return kv->k && kv->v ? 0 : -1;
}

void kv_free(kv_cache *kv) {
    for (int l = 0; l < kv->n_layers && kv->k; l++) free(kv->k[l]);
    for (int l = 0; l < kv->n_layers && kv->v; l++) free(kv->v[l]);
    free(kv->k);
    free(kv->v);
    free(kv->tokens);
    free(kv->rot.start_cos);
    free(kv->rot.start_sin);
    free(kv->rot.step_cos);
    free(kv->rot.step_sin);
    memset(kv, 0, sizeof *kv);
}

void kv_clear(kv_cache *kv) {
    kv->n = 0;
    kv->rot.base = 0;
    kv->base = 0;
}

static const char *const kv_type_names[] = { [NTK_KV_F32] = "f32", [NTK_KV_F16] = "f16", [NTK_KV_Q8_0] = "q8_0" };

const char *kv_type_name(int type) {
    return type >= 0 && type < (int)(sizeof kv_type_names / sizeof *kv_type_names) ? kv_type_names[type] : NULL;
}

static double kv_elem_bytes(int type) {
    return type == NTK_KV_F16    ? sizeof(ggml_half)
           : type == NTK_KV_Q8_0 ? (double)sizeof(block_q8_0) / QK8_0
                                 : sizeof(float);
}

int kv_set_type(kv_cache *kv, const model *m, int type, char *err, size_t errlen) {
    if (!kv_type_name(type)) {
        snprintf(err, errlen, "KV cache type must be %s, %s or %s", kv_type_name(NTK_KV_F32), kv_type_name(NTK_KV_F16),
                 kv_type_name(NTK_KV_Q8_0));
        return -2;
    }
    /* attention reads one head's row segment at a time, so each must be whole Q8_0 blocks */
    if (type == NTK_KV_Q8_0 && m->c.head_dim % QK8_0) {
        snprintf(err, errlen, "a q8_0 KV cache needs a head dimension that is a multiple of %d; this model's is %d",
                 QK8_0, m->c.head_dim);
        return -1;
    }
    for (int l = 0; l < kv->n_layers; l++) {
        free(kv->k[l]);
        free(kv->v[l]);
        kv->k[l] = kv->v[l] = NULL;
    }
    kv->type = type;
    kv->row_bytes = (size_t)(kv->kv_dim * kv_elem_bytes(type));
    kv->cap = 0;
    kv_clear(kv);
    return 0;
}

double kv_bytes_per_token(const model *m, int type) {
    /* K and V of every layer, the token id, and in consistent mode a cos/sin row a chunk */
    return 2.0 * m->c.n_layers * m->c.n_kv_heads * m->c.head_dim * kv_elem_bytes(type) + sizeof(int32_t) +
           (double)m->c.head_dim * sizeof(float) / NTK_ATTN_CHUNK;
}

static int grow_bytes(uint8_t **p, size_t n) {
    uint8_t *q = realloc(*p, n);
    if (!q) return -1;
    *p = q;
    return 0;
}

static int grow_floats(float **p, size_t n) {
    float *q = realloc(*p, n * sizeof(float));
    if (!q) return -1;
    *p = q;
    return 0;
}

/* Every buffer of the cache resized to cap positions; 0, or -1 when memory ran out. */
static int kv_resize(kv_cache *kv, int64_t cap) {
    int bad = 0;
    for (int l = 0; l < kv->n_layers; l++)
        bad = bad || grow_bytes(&kv->k[l], (size_t)cap * kv->row_bytes) ||
              grow_bytes(&kv->v[l], (size_t)cap * kv->row_bytes);
    int32_t *t = bad ? NULL : realloc(kv->tokens, (size_t)cap * sizeof *t);
    if (!t) return -1;
    kv->tokens = t;
    return 0;
}

/* A failed growth shrinks the buffers it had already grown back to the old capacity (realloc
 * keeps contents, and shrinking does not fail), so the memory it took is free again. */
static int kv_grow(kv_cache *kv, int64_t cap) {
    if (kv_resize(kv, cap)) {
        kv_resize(kv, kv->cap ? kv->cap : 1);
        return -1;
    }
    kv->cap = cap;
    return 0;
}

/* Make room for `need` positions. Capacity doubles, so a session copies the cache O(log n)
 * times; when doubling does not fit, exactly what is needed is tried, so the last tokens that
 * fit in memory are not refused for the doubling's sake. A failed step keeps the cache's
 * contents and gives back what it took. */
static int kv_reserve(kv_cache *kv, int64_t need) {
    if (need <= kv->cap) return 0;
    int64_t cap = kv->cap ? kv->cap : 256;
    while (cap < need) cap *= 2;
    return kv_grow(kv, cap) && kv_grow(kv, (need + 255) / 256 * 256) ? -1 : 0;
}

/* Consistent mode: the attn_rope tables for a context of L tokens at base. A new base refills
 * them (the step rows and one row per chunk: a few thousand sin/cos even at 200K tokens); the
 * same base only appends chunk starts. */
static int rope_tables_reserve(attn_tables *t, double base, int64_t L, int head_dim) {
    const int64_t half = head_dim / 2, chunks = (L + NTK_ATTN_CHUNK - 1) / NTK_ATTN_CHUNK;
    if (!t->step_cos) {
        if (grow_floats(&t->step_cos, (size_t)(NTK_ATTN_CHUNK * half)) ||
            grow_floats(&t->step_sin, (size_t)(NTK_ATTN_CHUNK * half)))
            return -1;
    }
    if (chunks > t->cap) {
        int64_t cap = t->cap ? t->cap : 16;
        while (cap < chunks) cap *= 2;
        if (grow_floats(&t->start_cos, (size_t)(cap * half)) || grow_floats(&t->start_sin, (size_t)(cap * half)))
            return -1;
        t->cap = cap;
    }
    if (base != t->base) {
        rope_fill(base, head_dim, 0, 1, NTK_ATTN_CHUNK, t->step_cos, t->step_sin);
        t->n_start = 0;
        t->base = base;
    }
    if (t->n_start < chunks)
        rope_fill(base, head_dim, -t->n_start * NTK_ATTN_CHUNK, -NTK_ATTN_CHUNK, chunks - t->n_start,
                  t->start_cos + t->n_start * half, t->start_sin + t->n_start * half);
    t->n_start = chunks;
    return 0;
}

/* ---- scratch ---- */

int scratch_init(scratch *s, const model *m, int64_t n_tok, threadpool *pool) {
    const model_config *c = &m->c;
    memset(s, 0, sizeof *s);
    s->n_tok = n_tok;
    s->pool = pool;
    size_t dim = (size_t)c->dim, kvd = (size_t)c->n_kv_heads * c->head_dim, ffn = (size_t)c->ffn;
    size_t wide = ffn > dim ? ffn : dim, nt = (size_t)n_tok;
    s->x = malloc(nt * dim * sizeof(float));
    s->xn = malloc(nt * dim * sizeof(float));
    s->q = malloc(nt * dim * sizeof(float));
    s->k = malloc(nt * kvd * sizeof(float));
    s->v = malloc(nt * kvd * sizeof(float));
    s->att = malloc(nt * dim * sizeof(float));
    s->h1 = malloc(nt * wide * sizeof(float));
    s->h3 = malloc(nt * ffn * sizeof(float));
    s->cos_tab = malloc(nt * (size_t)c->head_dim / 2 * sizeof(float));
    s->sin_tab = malloc(nt * (size_t)c->head_dim / 2 * sizeof(float));
    s->xq = malloc(matmul_xq_bytes(n_tok, (int64_t)wide));
    s->attn_floats = NTK_ATTN_SCRATCH(c->head_dim, nt * (size_t)(c->n_heads / c->n_kv_heads));
    s->attn = malloc(s->attn_floats * (size_t)threadpool_size(pool) * sizeof(float));
    if (!s->attn || !s->x || !s->xn || !s->q || !s->k || !s->v || !s->att || !s->h1 || !s->h3 || !s->cos_tab ||
        !s->sin_tab || !s->xq) {
        scratch_free(s);
        return -1;
    }
    return 0;
}

void scratch_free(scratch *s) {
    free(s->x);
    free(s->xn);
    free(s->q);
    free(s->k);
    free(s->v);
    free(s->att);
    free(s->h1);
    free(s->h3);
    free(s->cos_tab);
    free(s->sin_tab);
    free(s->attn);
    free(s->xq);
    memset(s, 0, sizeof *s);
}

/* ---- forward ---- */

static void rmsnorm(float *out, const float *x, const float *w, int n, float eps) {
    double ss = 0;
    for (int i = 0; i < n; i++) ss += (double)x[i] * x[i];
    float r = (float)(1.0 / sqrt(ss / n + eps));
    for (int i = 0; i < n; i++) out[i] = x[i] * r * w[i];
}

/* One position's kv_dim floats into a cache row of the cache's type. */
static void kv_store(const kv_cache *kv, uint8_t *row, const float *x) {
    if (kv->type == NTK_KV_F16) {
        ggml_half *h = (ggml_half *)row;
        for (int i = 0; i < kv->kv_dim; i++) h[i] = fp32_to_fp16(x[i]);
    } else if (kv->type == NTK_KV_Q8_0) {
        quantize_row_q8_0(x, (block_q8_0 *)row, kv->kv_dim);
    } else {
        memcpy(row, x, kv->row_bytes);
    }
}

/* h1 = silu(h1) ⊙ h3 in bands: the exps are a few per cent of a prefill, too many to leave to
 * one thread. */
#define SWIGLU_TASKS 8
typedef struct {
    float *h1;
    const float *h3;
    int64_t n;
} swiglu_job;

static void swiglu_task(void *ctx, int task, int thread) {
    (void)thread;
    const swiglu_job *j = ctx;
    const int64_t end = (task + 1) * j->n / SWIGLU_TASKS;
    for (int64_t i = task * j->n / SWIGLU_TASKS; i < end; i++) {
        float a = j->h1[i];
        j->h1[i] = a / (1.0f + expf(-a)) * j->h3[i];
    }
}

/* Attention of one chunk, in units of (KV head, band of tokens): a query row's result does
 * not depend on the other rows of its tile (attention_tile), so any banding gives the same
 * bits; one band a head when single-threaded (each band expands the keys again), bands of
 * ATTN_BAND tokens otherwise. */
#define ATTN_BAND 8
typedef struct {
    scratch *s;
    const attn_kv *heads; /* per KV head */
    const attn_rope *rope;
    int64_t n, p0, band;
    int group, hd, dim;
    float scale;
} attention_job;

static void attention_task(void *ctx, int task, int thread) {
    const attention_job *j = ctx;
    const int64_t bands = (j->n + j->band - 1) / j->band, t0 = task % bands * j->band;
    const int64_t t1 = t0 + j->band < j->n ? t0 + j->band : j->n;
    const int g = (int)(task / bands);
    const size_t off = (size_t)t0 * j->dim + (size_t)g * j->group * j->hd;
    attention_tile(j->s->att + off, j->s->q + off, (int)(t1 - t0), j->group, j->dim, &j->heads[g], (int)(j->p0 + t0),
                   j->rope, j->scale, j->s->attn + (size_t)thread * j->s->attn_floats);
}

/* One chunk of n tokens at positions p0.. with the call's base; the cache already has room. */
static void forward_chunk(const model *m, const rope_config *rc, kv_cache *kv, scratch *s, const int32_t *ids,
                          int64_t n, double base) {
    const model_config *c = &m->c;
    const int dim = c->dim, hd = c->head_dim, half = hd / 2, kvd = kv->kv_dim;
    const int group = c->n_heads / c->n_kv_heads;
    const int64_t p0 = kv->n;
    const int consistent = rc->mode == ROPE_CONSISTENT;
    const float scale = 1.0f / sqrtf((float)hd);

    const attn_rope rot = { kv->rot.start_cos, kv->rot.start_sin, kv->rot.step_cos, kv->rot.step_sin };
    const size_t kv_head_bytes = (size_t)(hd * kv_elem_bytes(kv->type));

    attn_kv heads[c->n_kv_heads];
    /* short bands for the reason matmul's are */
    const int64_t band = threadpool_size(s->pool) == 1 ? n : ATTN_BAND;
    attention_job att = { s, heads, consistent ? &rot : NULL, n, p0, band, group, hd, dim, scale };

    for (int64_t t = 0; t < n; t++) weight_row(&m->tok_embd, ids[t], s->x + t * dim);
    rope_fill(base, hd, p0, 1, n, s->cos_tab, s->sin_tab);

    for (int l = 0; l < c->n_layers; l++) {
        const layer_weights *L = &m->layers[l];
        /* attention: x += Wo · Attn(RMSNorm(x)) */
        for (int64_t t = 0; t < n; t++) rmsnorm(s->xn + t * dim, s->x + t * dim, L->attn_norm, dim, c->eps);
        matmul_many(s->pool, 3, (const weight *[]){ &L->wq, &L->wk, &L->wv }, (float *[]){ s->q, s->k, s->v }, s->xn, n,
                    s->xq);
        for (int64_t t = 0; t < n; t++) {
            for (int h = 0; h < c->n_heads; h++)
                rope_rotate(s->q + t * dim + h * hd, s->cos_tab + t * half, s->sin_tab + t * half, hd);
            if (!consistent)
                for (int h = 0; h < c->n_kv_heads; h++)
                    rope_rotate(s->k + t * kvd + h * hd, s->cos_tab + t * half, s->sin_tab + t * half, hd);
        }
        for (int64_t t = 0; t < n; t++) {
            kv_store(kv, kv->k[l] + (p0 + t) * kv->row_bytes, s->k + t * kvd);
            kv_store(kv, kv->v[l] + (p0 + t) * kv->row_bytes, s->v + t * kvd);
        }
        for (int g = 0; g < c->n_kv_heads; g++)
            heads[g] = (attn_kv){ kv->k[l] + g * kv_head_bytes, kv->v[l] + g * kv_head_bytes, kv->type, kvd, hd };
        parallel_for(s->pool, (int)(c->n_kv_heads * ((n + att.band - 1) / att.band)), attention_task, &att);
        matmul(s->pool, &L->wo, s->att, n, s->xn, s->xq);
        for (int64_t i = 0; i < n * dim; i++) s->x[i] += s->xn[i];

        /* feed-forward: x += W2(silu(W1·h) ⊙ W3·h), h = RMSNorm(x) */
        for (int64_t t = 0; t < n; t++) rmsnorm(s->xn + t * dim, s->x + t * dim, L->ffn_norm, dim, c->eps);
        matmul_many(s->pool, 2, (const weight *[]){ &L->w1, &L->w3 }, (float *[]){ s->h1, s->h3 }, s->xn, n, s->xq);
        parallel_for(s->pool, SWIGLU_TASKS, swiglu_task, &(swiglu_job){ s->h1, s->h3, n * c->ffn });
        matmul(s->pool, &L->w2, s->h1, n, s->xn, s->xq);
        for (int64_t i = 0; i < n * dim; i++) s->x[i] += s->xn[i];
    }
    memcpy(kv->tokens + p0, ids, (size_t)n * sizeof *ids);
    kv->n += n;
}

int model_forward(const model *m, const rope_config *rc, kv_cache *kv, scratch *s, const int32_t *ids, int64_t n,
                  float *logits, int all_logits, char *err, size_t errlen) {
    const model_config *c = &m->c;
    if (n <= 0) {
        snprintf(err, errlen, "no tokens to evaluate");
        return -1;
    }
    for (int64_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= c->n_vocab) {
            snprintf(err, errlen, "token id %d at index %lld is out of range [0, %d)", ids[i], (long long)i,
                     c->n_vocab);
            return -1;
        }
    int64_t L = kv->n + n;
    if (L > INT32_MAX) {
        snprintf(err, errlen, "context of %lld tokens is too long", (long long)L);
        return -1;
    }
    double base = rope_base(rc, L);
    if (kv_reserve(kv, L) || (rc->mode == ROPE_CONSISTENT && rope_tables_reserve(&kv->rot, base, L, c->head_dim))) {
        snprintf(err, errlen,
                 "context full at %lld tokens: memory cannot grow to hold %lld (%.1f KB of KV cache a token)",
                 (long long)kv->n, (long long)L, kv_bytes_per_token(m, kv->type) / 1024.0);
        return -2;
    }
    for (int64_t i = 0; i < n; i += s->n_tok) {
        int64_t nc = n - i < s->n_tok ? n - i : s->n_tok;
        forward_chunk(m, rc, kv, s, ids + i, nc, base);
        int64_t first = all_logits ? 0 : nc - 1;
        if (!all_logits && i + nc < n) continue;
        for (int64_t t = first; t < nc; t++)
            rmsnorm(s->xn + (t - first) * c->dim, s->x + t * c->dim, m->out_norm, c->dim, c->eps);
        matmul(s->pool, &m->output, s->xn, nc - first, all_logits ? logits + i * c->n_vocab : logits, s->xq);
    }
    kv->base = base;
    return 0;
}
