/* tokenizer.c — SentencePiece BPE encoding and streaming decoding over a GGUF vocab; see
 * tokenizer.h for the contract.
 *
 * Encoding is SentencePiece's bpe_model.cc algorithm: symbols in a doubly linked list, candidate
 * merges in a binary heap ordered by (score desc, left position asc), stale candidates detected
 * when popped by the lengths no longer adding up. Each merge pushes at most two candidates, so
 * a text costs O(n log n); when the vocab allows it, words go through the heap one at a time. */
#include "tokenizer.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SPACE_SYM     "\xE2\x96\x81" /* U+2581, SentencePiece's visible space */
#define SPACE_SYM_LEN 3
#define REPLACEMENT   "\xEF\xBF\xBD" /* U+FFFD */
/* Keeps ids, hash capacity and arena offsets far from int32/uint32 overflow; real vocabs are
 * below 300k. */
#define MAX_VOCAB (1 << 24)

enum {
    F_MERGE = 1,  /* a merge may produce it: SentencePiece's pieces_ map */
    F_TEXT = 2,   /* user-defined: matched in text, decoded as text */
    F_CONTROL = 4 /* F_TEXT by being a control piece: plain text in a plain range */
};

typedef struct {
    uint8_t first;
    uint32_t len;
    int32_t id;
} special;

typedef struct {
    int32_t *slots; /* piece -> id by open addressing; -1 = empty */
    uint32_t mask;
    uint8_t *flags;    /* F_* per id */
    char *arena;       /* every piece, NUL-terminated */
    special *specials; /* F_TEXT pieces by first byte, longest first */
    int32_t first_special[257];
    int32_t eos_piece; /* id of "</s>", or -1 */
    int has_unused, byte_fallback;
    int words_apart; /* no mergeable piece has "▁" after its start */
} tok_private;

static int fail(tokenizer *t, char *err, size_t errlen, const char *fmt, ...) {
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    tokenizer_free(t);
    return -1;
}

static uint32_t fnv1a(const char *s, size_t n) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h ^= (uint8_t)s[i];
        h *= 16777619u;
    }
    return h;
}

/* Lowest id whose piece is exactly s[0..n), or -1. */
static int32_t lookup(const tokenizer *t, const char *s, size_t n) {
    const tok_private *p = t->index;
    for (uint32_t i = fnv1a(s, n) & p->mask;; i = (i + 1) & p->mask) {
        int32_t id = p->slots[i];
        if (id < 0) return -1;
        if (t->piece_len[id] == n && !memcmp(t->pieces[id], s, n)) return id;
    }
}

static int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* The byte of a "<0xNN>" piece, or -1. */
static int byte_piece_value(const char *s, size_t n) {
    if (n != 6 || memcmp(s, "<0x", 3) || s[5] != '>') return -1;
    int hi = hex_digit(s[3]), lo = hex_digit(s[4]);
    return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

/* Length of the UTF-8 sequence a lead byte starts: 1 for ASCII, 2-4, or 0 if b cannot start
 * one (continuation byte, overlong lead C0/C1, or beyond U+10FFFF). */
static int seq_len(uint8_t b) {
    if (b < 0x80) return 1;
    if (b >= 0xC2 && b <= 0xDF) return 2;
    if (b >= 0xE0 && b <= 0xEF) return 3;
    if (b >= 0xF0 && b <= 0xF4) return 4;
    return 0;
}

/* Whether b may follow lead: the ranges that exclude overlongs, surrogates and > U+10FFFF. */
static int second_ok(uint8_t lead, uint8_t b) {
    uint8_t lo = lead == 0xE0 ? 0xA0 : lead == 0xF0 ? 0x90 : 0x80;
    uint8_t hi = lead == 0xED ? 0x9F : lead == 0xF4 ? 0x8F : 0xBF;
    return b >= lo && b <= hi;
}

/* Bytes of the character at s (n > 0 bytes left). An invalid byte is a character of its own, so
 * byte fallback keeps it (SentencePiece's normaliser would put U+FFFD in its place). */
static uint32_t char_len(const uint8_t *s, size_t n) {
    int need = seq_len(s[0]);
    if (need <= 1) return 1;
    if (n < (size_t)need || !second_ok(s[0], s[1])) return 1;
    for (int i = 2; i < need; i++)
        if ((s[i] & 0xC0) != 0x80) return 1;
    return (uint32_t)need;
}

/* SentencePiece matches its user-defined symbols (<|im_start|>, ...) in text but not its own
 * control symbols (<s>, </s>). GGUF files lose that distinction: llama.cpp's converter types
 * every token that tokenizer_config.json calls "special" as CONTROL, so InternLM2 files have
 * <|im_start|> as type 3 next to <s>. A control token therefore counts as user-defined unless it
 * is one of SentencePiece's own meta pieces: the bos or unk id, or named <s>, </s>, <unk>, <pad>. */
static int is_user_defined(const tokenizer *t, int32_t id) {
    static const char *const meta[] = { "<s>", "</s>", "<unk>", "<pad>" };
    if (t->types[id] == TOKEN_USER_DEFINED) return t->piece_len[id] > 0;
    if (t->types[id] != TOKEN_CONTROL || id == t->bos || id == t->unk || !t->piece_len[id]) return 0;
    for (size_t i = 0; i < sizeof meta / sizeof *meta; i++)
        if (t->piece_len[id] == strlen(meta[i]) && !memcmp(t->pieces[id], meta[i], strlen(meta[i]))) return 0;
    return 1;
}

static int cmp_special(const void *a, const void *b) {
    const special *x = a, *y = b;
    if (x->first != y->first) return x->first < y->first ? -1 : 1;
    if (x->len != y->len) return x->len > y->len ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* An optional id key: the default (if in range) when absent, an error when malformed. */
static int get_id(const gguf_ctx *g, const char *key, int32_t def, int32_t n, int32_t *out, char *err, size_t errlen) {
    gguf_value v;
    int rc = gguf_read(g, key, GGUF_WANT_INT, &v, err, errlen);
    if (rc < 0) return -1;
    if (!rc) {
        *out = def < n ? def : -1;
        return 0;
    }
    if (v.i < 0 || v.i >= n) {
        snprintf(err, errlen, "%s = %lld is outside the vocab of %d tokens", key, (long long)v.i, n);
        return -1;
    }
    *out = (int32_t)v.i;
    return 0;
}

static int get_flag(const gguf_ctx *g, const char *key, int def, int *out, char *err, size_t errlen) {
    gguf_value v;
    int rc = gguf_read(g, key, GGUF_WANT_BOOL, &v, err, errlen);
    *out = rc > 0 ? (int)v.i : def;
    return rc < 0 ? -1 : 0;
}

/* A required array of `want`; with n > 0, of n entries (one per token). */
static const gguf_kv *get_array(const gguf_ctx *g, const char *key, gguf_want want, uint64_t n, char *err,
                                size_t errlen) {
    gguf_value v;
    int rc = gguf_read(g, key, want, &v, err, errlen);
    if (!rc) snprintf(err, errlen, "%s is missing", key);
    if (rc <= 0) return NULL;
    if (n && v.kv->n != n) {
        snprintf(err, errlen, "%s has %llu entries but tokenizer.ggml.tokens has %llu", key,
                 (unsigned long long)v.kv->n, (unsigned long long)n);
        return NULL;
    }
    return v.kv;
}

int tokenizer_load(tokenizer *t, const gguf_ctx *g, const char *eot, char *err, size_t errlen) {
    char msg[256] = "";
    memset(t, 0, sizeof *t);
    memset(t->byte_id, 0xFF, sizeof t->byte_id);

    gguf_value model;
    int rc = gguf_read(g, "tokenizer.ggml.model", GGUF_WANT_STRING, &model, msg, sizeof msg);
    if (rc <= 0) return fail(t, err, errlen, "%s", rc ? msg : "tokenizer.ggml.model is missing");
    if (model.len != 5 || memcmp(model.s, "llama", 5))
        return fail(t, err, errlen, "tokenizer model %.*s not supported (only llama, SentencePiece)",
                    (int)(model.len > 64 ? 64 : model.len), model.s);

    const gguf_kv *tok = get_array(g, "tokenizer.ggml.tokens", GGUF_WANT_STRING_ARRAY, 0, msg, sizeof msg);
    if (!tok) return fail(t, err, errlen, "%s", msg);
    if (tok->n == 0 || tok->n > MAX_VOCAB)
        return fail(t, err, errlen, "tokenizer.ggml.tokens has %llu entries (expected 1 to %d)",
                    (unsigned long long)tok->n, MAX_VOCAB);
    int32_t n = (int32_t)tok->n;
    const gguf_kv *sc = get_array(g, "tokenizer.ggml.scores", GGUF_WANT_NUMBER_ARRAY, tok->n, msg, sizeof msg);
    const gguf_kv *ty =
        sc ? get_array(g, "tokenizer.ggml.token_type", GGUF_WANT_INT_ARRAY, tok->n, msg, sizeof msg) : NULL;
    if (!ty) return fail(t, err, errlen, "%s", msg);

    tok_private *p = calloc(1, sizeof *p);
    t->index = p;
    t->n_vocab = n;
    t->pieces = calloc((size_t)n, sizeof *t->pieces);
    t->piece_len = calloc((size_t)n, sizeof *t->piece_len);
    t->scores = calloc((size_t)n, sizeof *t->scores);
    t->types = calloc((size_t)n, sizeof *t->types);
    if (!p || !t->pieces || !t->piece_len || !t->scores || !t->types)
        return fail(t, err, errlen, "out of memory for a vocab of %d tokens", n);

    size_t total = 0;
    for (int32_t i = 0; i < n; i++) {
        size_t len;
        if (!gguf_arr_str(g, tok, (uint64_t)i, &len)) return fail(t, err, errlen, "token %d unreadable", i);
        if (len > UINT32_MAX / 4) return fail(t, err, errlen, "token %d is too long (%zu bytes)", i, len);
        total += len + 1;
    }
    p->arena = malloc(total);
    if (!p->arena) return fail(t, err, errlen, "out of memory for %zu bytes of vocab", total);

    char *dst = p->arena;
    for (int32_t i = 0; i < n; i++) {
        size_t len;
        const char *s = gguf_arr_str(g, tok, (uint64_t)i, &len);
        memcpy(dst, s, len);
        dst[len] = 0;
        t->pieces[i] = dst;
        t->piece_len[i] = (uint32_t)len;
        dst += len + 1;

        double score = gguf_arr_f64(g, sc, (uint64_t)i);
        if (isnan(score)) return fail(t, err, errlen, "token %d has a NaN score", i);
        t->scores[i] = (float)score;

        int64_t type = gguf_arr_i64(g, ty, (uint64_t)i);
        if (type < TOKEN_NORMAL || type > TOKEN_BYTE)
            return fail(t, err, errlen, "token %d has token_type %lld (expected 1 to 6)", i, (long long)type);
        t->types[i] = (uint8_t)type;
        if (type == TOKEN_BYTE) {
            int b = byte_piece_value(s, len);
            if (b < 0) return fail(t, err, errlen, "token %d has type byte but its piece is not <0xNN>", i);
            if (t->byte_id[b] < 0) t->byte_id[b] = i;
            p->byte_fallback = 1;
        }
        if (type == TOKEN_UNUSED) p->has_unused = 1;
    }

    if (get_id(g, "tokenizer.ggml.bos_token_id", 1, n, &t->bos, msg, sizeof msg) ||
        get_id(g, "tokenizer.ggml.eos_token_id", 2, n, &t->eos, msg, sizeof msg) ||
        get_id(g, "tokenizer.ggml.unknown_token_id", 0, n, &t->unk, msg, sizeof msg) ||
        get_flag(g, "tokenizer.ggml.add_bos_token", 1, &t->add_bos, msg, sizeof msg) ||
        get_flag(g, "tokenizer.ggml.add_space_prefix", 1, &t->add_space_prefix, msg, sizeof msg))
        return fail(t, err, errlen, "%s", msg);

    uint32_t cap = 16;
    while (cap < 2u * (uint32_t)n) cap *= 2;
    p->mask = cap - 1;
    p->slots = malloc(cap * sizeof *p->slots);
    p->flags = calloc((size_t)n, 1);
    if (!p->slots || !p->flags) return fail(t, err, errlen, "out of memory for the vocab index");
    memset(p->slots, 0xFF, cap * sizeof *p->slots);
    for (int32_t i = 0; i < n; i++) {
        uint32_t h = fnv1a(t->pieces[i], t->piece_len[i]) & p->mask;
        while (p->slots[h] >= 0 && !(t->piece_len[p->slots[h]] == t->piece_len[i] &&
                                     !memcmp(t->pieces[p->slots[h]], t->pieces[i], t->piece_len[i])))
            h = (h + 1) & p->mask;
        if (p->slots[h] < 0) p->slots[h] = i; /* a duplicate piece keeps its first id */
    }

    int32_t n_special = 0;
    /* SentencePiece resegments an unused piece by the last split proposed for it anywhere in
     * the text, which depends on the global merge order: keep that order if there are any */
    p->words_apart = !p->has_unused;
    for (int32_t i = 0; i < n; i++) {
        if (is_user_defined(t, i)) {
            p->flags[i] = F_TEXT | F_MERGE | (t->types[i] == TOKEN_CONTROL ? F_CONTROL : 0);
            n_special++;
        } else if (t->types[i] == TOKEN_NORMAL || t->types[i] == TOKEN_UNUSED) {
            p->flags[i] = F_MERGE;
        }
        for (uint32_t k = 1; p->flags[i] && k + SPACE_SYM_LEN <= t->piece_len[i]; k++)
            if (!memcmp(t->pieces[i] + k, SPACE_SYM, SPACE_SYM_LEN)) p->words_apart = 0;
    }
    p->specials = malloc((size_t)(n_special ? n_special : 1) * sizeof *p->specials);
    if (!p->specials) return fail(t, err, errlen, "out of memory for the vocab index");
    n_special = 0;
    for (int32_t i = 0; i < n; i++)
        if (p->flags[i] & F_TEXT) p->specials[n_special++] = (special){ (uint8_t)t->pieces[i][0], t->piece_len[i], i };
    qsort(p->specials, (size_t)n_special, sizeof *p->specials, cmp_special);
    for (int b = 0, k = 0; b <= 256; b++) {
        while (k < n_special && p->specials[k].first < b) k++;
        p->first_special[b] = k;
    }

    t->eot = eot ? lookup(t, eot, strlen(eot)) : -1;
    p->eos_piece = lookup(t, "</s>", 4);
    return 0;
}

void tokenizer_free(tokenizer *t) {
    tok_private *p = t->index;
    if (p) {
        free(p->slots);
        free(p->flags);
        free(p->arena);
        free(p->specials);
        free(p);
    }
    free(t->pieces);
    free(t->piece_len);
    free(t->scores);
    free(t->types);
    memset(t, 0, sizeof *t);
}

int tokenizer_is_control_text(const tokenizer *t, int32_t id) {
    const tok_private *p = t->index;
    return p && id >= 0 && id < t->n_vocab && (p->flags[id] & F_CONTROL);
}

int tokenizer_is_eog(const tokenizer *t, int32_t id) {
    const tok_private *p = t->index;
    if (!p || id < 0 || id >= t->n_vocab) return 0;
    return id == t->eos || id == t->eot || id == p->eos_piece;
}

/* ---- encoding ---- */

typedef struct {
    uint32_t start, len; /* bytes of the normalised text; len 0 once merged into its left */
    int32_t prev, next;
    int32_t id;     /* lookup of the bytes (any type), -1 if not a piece */
    uint8_t frozen; /* a user-defined match: never merged */
} symbol;

typedef struct {
    float score;
    int32_t left, right, id;
} candidate;

typedef struct {
    const tokenizer *t;
    const tok_private *p;
    char *text; /* normalised */
    symbol *sym;
    candidate *heap;
    size_t n_heap, cap_heap;
    uint32_t *rev; /* unused id -> left length of the last merge proposed for it */
    int32_t *ids;
    int64_t cap, n;
    int prev_unk;
    uint8_t *plain; /* per normalised byte: 1 in a plain range; NULL if there is none */
} encoder;

/* Whether bytes [start, start + len) of the normalised text take a byte of a plain range. */
static int in_plain(const encoder *e, uint32_t start, uint32_t len) {
    if (!e->plain) return 0;
    for (uint32_t i = 0; i < len; i++)
        if (e->plain[start + i]) return 1;
    return 0;
}

static int before(const candidate *a, const candidate *b) {
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

static int heap_push(encoder *e, candidate c) {
    if (e->n_heap == e->cap_heap) {
        size_t cap = e->cap_heap ? 2 * e->cap_heap : 256;
        if (cap > SIZE_MAX / sizeof *e->heap) return -1;
        candidate *h = realloc(e->heap, cap * sizeof *h);
        if (!h) return -1;
        e->heap = h;
        e->cap_heap = cap;
    }
    size_t i = e->n_heap++;
    while (i > 0 && before(&c, &e->heap[(i - 1) / 2])) {
        e->heap[i] = e->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    e->heap[i] = c;
    return 0;
}

static candidate heap_pop(encoder *e) {
    candidate top = e->heap[0], last = e->heap[--e->n_heap];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= e->n_heap) break;
        if (c + 1 < e->n_heap && before(&e->heap[c + 1], &e->heap[c])) c++;
        if (!before(&e->heap[c], &last)) break;
        e->heap[i] = e->heap[c];
        i = c;
    }
    if (e->n_heap) e->heap[i] = last;
    return top;
}

static int propose(encoder *e, int32_t left, int32_t right) {
    if (left < 0 || right < 0) return 0;
    const symbol *l = &e->sym[left], *r = &e->sym[right];
    if (l->frozen || r->frozen) return 0;
    int32_t id = lookup(e->t, e->text + l->start, l->len + r->len);
    if (id < 0 || !(e->p->flags[id] & F_MERGE)) return 0;
    if ((e->p->flags[id] & F_CONTROL) && in_plain(e, l->start, l->len + r->len)) return 0;
    /* SentencePiece remembers the split of the last proposal, merged or not, for resegmenting */
    if (e->rev && e->t->types[id] == TOKEN_UNUSED) e->rev[id] = l->len;
    return heap_push(e, (candidate){ e->t->scores[id], left, right, id });
}

static void emit(encoder *e, int32_t id) {
    if (e->n < e->cap) e->ids[e->n] = id;
    e->n++;
}

/* Output for one final symbol: unused pieces are split back into the pieces they were merged
 * from, unknown ones fall back to bytes, or without byte pieces to one unk per run. */
static void emit_symbol(encoder *e, uint32_t start, uint32_t len, int32_t id) {
    const tokenizer *t = e->t;
    if (id >= 0 && e->rev && t->types[id] == TOKEN_UNUSED && e->rev[id]) {
        uint32_t l = e->rev[id];
        emit_symbol(e, start, l, lookup(t, e->text + start, l));
        emit_symbol(e, start + l, len - l, lookup(t, e->text + start + l, len - l));
        return;
    }
    if (id >= 0 && t->types[id] != TOKEN_UNKNOWN) {
        emit(e, id);
        e->prev_unk = 0;
    } else if (e->p->byte_fallback) {
        for (uint32_t i = 0; i < len; i++) {
            int32_t b = t->byte_id[(uint8_t)e->text[start + i]];
            emit(e, b >= 0 ? b : t->unk);
        }
        e->prev_unk = 0;
    } else {
        if (!e->prev_unk) emit(e, t->unk);
        e->prev_unk = 1;
    }
}

static int32_t match_special(const encoder *e, uint32_t pos, uint32_t n) {
    uint8_t b = (uint8_t)e->text[pos];
    for (int32_t k = e->p->first_special[b]; k < e->p->first_special[b + 1]; k++) {
        const special *s = &e->p->specials[k];
        if (s->len <= n && !memcmp(e->t->pieces[s->id], e->text + pos, s->len) &&
            !((e->p->flags[s->id] & F_CONTROL) && in_plain(e, pos, s->len)))
            return k;
    }
    return -1;
}

static int encode_text(encoder *e, const char *text, size_t len, const uint32_t *plain, size_t n_plain) {
    const tokenizer *t = e->t;
    size_t spaces = 0;
    for (size_t i = 0; i < len; i++) spaces += text[i] == ' ';
    size_t prefix = t->add_space_prefix ? SPACE_SYM_LEN : 0;
    if (len > (INT32_MAX - prefix) / SPACE_SYM_LEN) return -1;
    uint32_t norm_len = (uint32_t)(prefix + len + 2 * spaces);

    char *norm = malloc(norm_len);
    if (!norm) return -1;
    e->text = norm;
    if (n_plain && !(e->plain = calloc(norm_len, 1))) return -1;
    char *w = norm;
    /* the dummy prefix belongs to the first byte's range */
    size_t r = 0;
    int first_plain = n_plain && plain[0] == 0 && plain[1] > 0;
    if (prefix) {
        if (first_plain) memset(e->plain, 1, SPACE_SYM_LEN);
        memcpy(w, SPACE_SYM, SPACE_SYM_LEN);
        w += SPACE_SYM_LEN;
    }
    for (size_t i = 0; i < len; i++) {
        while (r < n_plain && i >= plain[2 * r + 1]) r++;
        uint32_t n = text[i] == ' ' ? SPACE_SYM_LEN : 1;
        if (r < n_plain && i >= plain[2 * r]) memset(e->plain + (w - norm), 1, n);
        if (text[i] == ' ')
            memcpy(w, SPACE_SYM, SPACE_SYM_LEN);
        else
            *w = text[i];
        w += n;
    }

    /* characters bound the symbol count (a user-defined match spans at least one) */
    uint32_t n_chars = 0;
    for (uint32_t pos = 0; pos < norm_len; n_chars++) pos += char_len((const uint8_t *)norm + pos, norm_len - pos);
    size_t sym_bytes = (size_t)n_chars * sizeof *e->sym;
    if (sym_bytes / sizeof *e->sym != n_chars) return -1; /* size_t is 32 bits on wasm32 */
    e->sym = malloc(sym_bytes);
    if (e->p->has_unused) e->rev = calloc((size_t)t->n_vocab, sizeof *e->rev);
    if (!e->sym || (e->p->has_unused && !e->rev)) return -1;

    int32_t n_sym = 0;
    for (uint32_t pos = 0; pos < norm_len; n_sym++) {
        symbol *s = &e->sym[n_sym];
        int32_t k = match_special(e, pos, norm_len - pos);
        if (k >= 0) {
            s->len = e->p->specials[k].len;
            s->id = e->p->specials[k].id;
            s->frozen = 1;
        } else {
            s->len = char_len((const uint8_t *)norm + pos, norm_len - pos);
            s->id = lookup(t, norm + pos, s->len);
            s->frozen = 0;
        }
        s->start = pos;
        s->prev = n_sym - 1;
        s->next = pos + s->len < norm_len ? n_sym + 1 : -1;
        pos += s->len;
    }

    /* Words are merged one at a time when no merge can cross a word start: the same merges
     * happen, but the heap stays small and in cache. */
    for (int32_t a = 0, b; a < n_sym; a = b) {
        for (b = a + 1; b < n_sym; b++)
            if (e->p->words_apart && e->sym[b].len >= SPACE_SYM_LEN &&
                !memcmp(norm + e->sym[b].start, SPACE_SYM, SPACE_SYM_LEN))
                break;
        for (int32_t i = a; i + 1 < b; i++)
            if (propose(e, i, i + 1)) return -1;
        while (e->n_heap) {
            candidate c = heap_pop(e);
            symbol *l = &e->sym[c.left], *r = &e->sym[c.right];
            if (!l->len || !r->len || l->len + r->len != t->piece_len[c.id]) continue;
            l->len += r->len;
            l->id = c.id;
            l->next = r->next;
            if (r->next >= 0) e->sym[r->next].prev = c.left;
            r->len = 0;
            if (propose(e, l->prev, c.left) || propose(e, c.left, l->next)) return -1;
        }
    }

    for (int32_t i = 0; i >= 0 && i < n_sym; i = e->sym[i].next)
        emit_symbol(e, e->sym[i].start, e->sym[i].len, e->sym[i].id);
    return 0;
}

int64_t tokenizer_encode(const tokenizer *t, const char *text, size_t len, int add_bos, const uint32_t *plain,
                         size_t n_plain, int32_t *ids, int64_t cap) {
    encoder e = { .t = t, .p = t->index, .ids = ids, .cap = ids ? cap : 0 };
    if (add_bos && t->bos >= 0) emit(&e, t->bos);
    int rc = len ? encode_text(&e, text, len, plain, n_plain) : 0;
    free(e.text);
    free(e.plain);
    free(e.sym);
    free(e.heap);
    free(e.rev);
    return rc ? -1 : e.n;
}

/* ---- decoding ---- */

static void put(char *out, size_t *n, const void *s, size_t k) {
    if (out) memcpy(out + *n, s, k);
    *n += k;
}

/* A held sequence that can no longer complete: one U+FFFD per byte, as SentencePiece decodes. */
static void flush_pending(detokenizer *d, char *out, size_t *n) {
    for (int i = 0; i < d->n_pending; i++) put(out, n, REPLACEMENT, 3);
    d->n_pending = 0;
}

/* One output byte through a UTF-8 validator: a character leaves only when complete. */
static void feed(detokenizer *d, uint8_t b, char *out, size_t *n) {
    if (d->n_pending) {
        uint8_t lead = d->pending[0];
        if (d->n_pending == 1 ? second_ok(lead, b) : (b & 0xC0) == 0x80) {
            d->pending[d->n_pending++] = b;
            if (d->n_pending == seq_len(lead)) {
                put(out, n, d->pending, (size_t)d->n_pending);
                d->n_pending = 0;
            }
            return;
        }
        flush_pending(d, out, n);
    }
    if (b < 0x80) {
        put(out, n, &b, 1);
    } else if (seq_len(b) >= 2) {
        d->pending[0] = b;
        d->n_pending = 1;
    } else {
        put(out, n, REPLACEMENT, 3);
    }
}

/* Writes (or, with out NULL, counts) the text of id and advances d. */
static size_t render(const tokenizer *t, detokenizer *d, int32_t id, char *out) {
    const tok_private *p = t->index;
    size_t n = 0;
    if (t->types[id] == TOKEN_BYTE) {
        d->at_start = 0;
        feed(d, (uint8_t)byte_piece_value(t->pieces[id], t->piece_len[id]), out, &n);
        return n;
    }
    /* byte tokens form a run only up to the next other token, even an invisible one */
    flush_pending(d, out, &n);
    if (t->types[id] == TOKEN_CONTROL && !(p->flags[id] & F_TEXT)) return n;

    const char *s = t->pieces[id];
    size_t len = t->piece_len[id], i = 0;
    if (len && d->at_start) {
        if (t->add_space_prefix && len >= SPACE_SYM_LEN && !memcmp(s, SPACE_SYM, SPACE_SYM_LEN)) i = SPACE_SYM_LEN;
        d->at_start = 0;
    }
    while (i < len) {
        if (len - i >= SPACE_SYM_LEN && !memcmp(s + i, SPACE_SYM, SPACE_SYM_LEN)) {
            feed(d, ' ', out, &n);
            i += SPACE_SYM_LEN;
        } else {
            feed(d, (uint8_t)s[i++], out, &n);
        }
    }
    return n;
}

void detok_init(detokenizer *d) {
    memset(d, 0, sizeof *d);
    d->at_start = 1;
}

int detok_push(const tokenizer *t, detokenizer *d, int32_t id, char *out, size_t cap) {
    if (!t->index || id < 0 || id >= t->n_vocab) return -1;
    detokenizer trial = *d;
    size_t need = render(t, &trial, id, NULL);
    if (need > cap || need > INT_MAX) return -2;
    return (int)render(t, d, id, out);
}

int detok_flush(detokenizer *d, char *out, size_t cap) {
    size_t n = 0;
    if ((size_t)d->n_pending * 3 > cap) return -2;
    flush_pending(d, out, &n);
    return (int)n;
}
