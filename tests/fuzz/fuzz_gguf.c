/* fuzz_gguf.c — libFuzzer target for everything that reads an untrusted GGUF file: the push
 * parser (its duplicate-name and layout checks) with every metadata accessor (gguf_read as each
 * kind, on every key), then the engine's load (the checks between split parts, model binding,
 * tokenizer) and a first evaluation (whose non-finite logits must leave the context as it was).
 * tests/c/test_fuzz_regressions.c includes this file to replay saved inputs.
 *
 * Input: one byte c of options, then the file. c & 31 above 20 pushes the file whole; otherwise
 * chunk sizes are drawn from [1, 2^(c & 31)] by a generator seeded with c, so resuming the
 * parser at any byte boundary is fuzzed along with the bytes. Bit 5 asks the first evaluation
 * for every position's logits, bits 6-7 choose the RoPE mode (model default, consistent, cached,
 * none). The text tokenized ends with the input's last bytes. A split model (gguf-split) is its
 * parts one after the other: a part ends where the magic "GGUF" starts the next. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "gguf.h"

/* Bigger models are legitimate but only slow the fuzzer down: the parse stops at the table. */
#define FUZZ_MAX_DATA (64u << 20)
/* Elements over all tensors bound the work of one token and the KV cache; a quantized type holds
 * several elements a byte, so FUZZ_MAX_DATA alone does not. */
#define FUZZ_MAX_ELEMENTS   (1u << 20)
#define FUZZ_MAX_ELEMS_READ 8192
#define FUZZ_MAX_PARTS      8

typedef struct {
    uint32_t state;
    int whole;
    uint32_t mask;
} chunker;

static chunker chunker_new(uint8_t c) {
    unsigned shift = c & 31u;
    return (chunker){ .state = 0x9E3779B9u ^ c, .whole = shift > 20, .mask = shift > 20 ? 0 : (1u << shift) - 1 };
}

static size_t chunk_next(chunker *k, size_t left) {
    if (k->whole) return left;
    k->state ^= k->state << 13;
    k->state ^= k->state >> 17;
    k->state ^= k->state << 5;
    size_t n = 1 + (k->state & k->mask);
    return n < left ? n : left;
}

/* Reads every byte so that ASan sees any pointer or length the parser got wrong. */
static volatile uint8_t sink;

static void touch(const void *p, size_t n) {
    const uint8_t *b = p;
    uint8_t x = 0;
    for (size_t i = 0; i < n; i++) x ^= b[i];
    sink ^= x;
}

static void read_kv(const gguf_ctx *g, const gguf_kv *kv) {
    const char *s;
    size_t len;
    int64_t iv;
    double fv;
    touch(kv->key, strlen(kv->key) + 1);
    touch(gguf_type_name(kv->type), 1);
    if (gguf_find(g, kv->key) != kv) abort(); /* names are unique */
    for (int w = GGUF_WANT_INT; w <= GGUF_WANT_STRING_ARRAY; w++) {
        gguf_value v;
        char err[256];
        int rc = gguf_read(g, kv->key, (gguf_want)w, &v, err, sizeof err);
        if (rc == 0 || (rc > 0 && v.kv != kv)) abort();
        if (rc < 0) touch(err, strlen(err) + 1);
        if (rc > 0 && v.s) touch(v.s, v.len);
        if (rc > 0) sink ^= (uint8_t)v.i ^ (uint8_t)(v.f == v.f);
    }
    if (kv->type != GGUF_ARRAY) return;
    touch(gguf_type_name(kv->arr_type), 1);
    uint64_t n = kv->n < FUZZ_MAX_ELEMS_READ ? kv->n : FUZZ_MAX_ELEMS_READ;
    for (uint64_t i = 0; i < n; i++) {
        if ((s = gguf_arr_str(g, kv, i, &len))) touch(s, len);
        fv = gguf_arr_f64(g, kv, i);
        iv = gguf_arr_i64(g, kv, i);
        sink ^= (uint8_t)iv ^ (uint8_t)(fv == fv);
    }
    /* the last element and one past the end */
    if (kv->n && gguf_arr_str(g, kv, kv->n - 1, &len)) sink ^= 1;
    if (gguf_arr_str(g, kv, kv->n, &len) || gguf_arr_f64(g, kv, kv->n) != 0 || gguf_arr_i64(g, kv, kv->n) != 0) abort();
}

/* Every name is found, and the tensors' bytes neither overlap nor pass the data section. */
static void read_table(const gguf_ctx *g) {
    for (uint64_t i = 0; i < g->n_kv; i++) read_kv(g, &g->kv[i]);
    uint64_t end = 0;
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const gguf_tensor *t = &g->tensors[i];
        touch(t->name, strlen(t->name) + 1);
        if (gguf_find_tensor(g, t->name) != t || t->offset < end) abort();
        end = t->offset + t->nbytes;
    }
    if (end != g->data_size) abort();
}

/* First and last byte of each tensor: it lies inside the data buffer. */
static void touch_data(const gguf_ctx *g) {
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const gguf_tensor *t = &g->tensors[i];
        touch(t->data, 1);
        touch((const uint8_t *)t->data + t->nbytes - 1, 1);
    }
}

/* Sum of the tensors' element counts, saturating at the cap. */
static uint64_t tensor_elements(const gguf_ctx *g) {
    uint64_t total = 0;
    for (uint64_t i = 0; i < g->n_tensors && total <= FUZZ_MAX_ELEMENTS; i++) {
        const gguf_tensor *t = &g->tensors[i];
        uint64_t n = 1;
        for (int d = 0; d < 4 && n <= FUZZ_MAX_ELEMENTS; d++) n *= (uint64_t)t->ne[d];
        total += n;
    }
    return total;
}

typedef struct {
    uint64_t data_size, elements;
} parse_result;

static parse_result fuzz_parser(uint8_t mode, const uint8_t *buf, size_t len) {
    parse_result r = { 0, 0 };
    int table = 0;
    gguf_ctx g;
    gguf_init(&g);
    chunker k = chunker_new(mode);
    void *data = NULL;
    gguf_status st = GGUF_NEED_MORE;
    size_t off = 0;
    while (off < len) {
        size_t n = chunk_next(&k, len - off), used;
        st = gguf_push(&g, buf + off, n, &used);
        if (st < 0) break;
        if (used > n) abort();
        off += used;
        if (st == GGUF_TABLE_READY) {
            r = (parse_result){ g.data_size, tensor_elements(&g) };
            table = 1;
            read_table(&g);
            if (g.data_size > FUZZ_MAX_DATA) break;
            data = malloc(g.data_size ? (size_t)g.data_size : 1);
            if (!data) abort();
            st = gguf_set_data(&g, data);
        }
    }
    if (st >= 0 && (!table || g.data_size <= FUZZ_MAX_DATA)) {
        st = gguf_finish(&g);
        if (st == GGUF_DONE) touch_data(&g);
    }
    touch(gguf_error(&g), 1);
    gguf_free(&g);
    free(data);
    return r;
}

/* ---- a strict JSON checker: the engine's JSON goes to JSON.parse, which takes no NaN, no inf
 * and no raw control characters, whatever the file held ---- */

static int json_value(const char **p);

static void json_ws(const char **p) {
    while (**p == ' ' || **p == '\t' || **p == '\n' || **p == '\r') ++*p;
}

static int json_digits(const char **p) {
    const char *start = *p;
    while (**p >= '0' && **p <= '9') ++*p;
    return *p > start;
}

static int json_number(const char **p) {
    if (**p == '-') ++*p;
    if (**p == '0')
        ++*p;
    else if (!json_digits(p))
        return 0;
    if (**p == '.') {
        ++*p;
        if (!json_digits(p)) return 0;
    }
    if (**p == 'e' || **p == 'E') {
        ++*p;
        if (**p == '+' || **p == '-') ++*p;
        if (!json_digits(p)) return 0;
    }
    return 1;
}

static int json_string(const char **p) {
    if (**p != '"') return 0;
    for (++*p; **p != '"'; ++*p) {
        if ((unsigned char)**p < 0x20) return 0; /* the terminating NUL too */
        if (**p != '\\') continue;
        ++*p;
        if (**p == 'u') {
            for (int i = 1; i <= 4; i++)
                if (!(*p)[i] || !strchr("0123456789abcdefABCDEF", (*p)[i])) return 0;
            *p += 4;
        } else if (!**p || !strchr("\"\\/bfnrt", **p)) {
            return 0;
        }
    }
    ++*p;
    return 1;
}

/* The members of an object (keyed) or array, from its opening bracket. */
static int json_members(const char **p, char close, int keyed) {
    ++*p;
    json_ws(p);
    if (**p == close) {
        ++*p;
        return 1;
    }
    for (;;) {
        if (keyed) {
            if (!json_string(p)) return 0;
            json_ws(p);
            if (**p != ':') return 0;
            ++*p;
        }
        if (!json_value(p)) return 0;
        json_ws(p);
        if (**p == close) {
            ++*p;
            return 1;
        }
        if (**p != ',') return 0;
        ++*p;
        json_ws(p);
    }
}

static int json_word(const char **p, const char *w) {
    size_t n = strlen(w);
    if (strncmp(*p, w, n)) return 0;
    *p += n;
    return 1;
}

static int json_value(const char **p) {
    json_ws(p);
    switch (**p) {
    case '{':
        return json_members(p, '}', 1);
    case '[':
        return json_members(p, ']', 0);
    case '"':
        return json_string(p);
    case 't':
        return json_word(p, "true");
    case 'f':
        return json_word(p, "false");
    case 'n':
        return json_word(p, "null");
    default:
        return json_number(p);
    }
}

static void check_json(const char *what, const char *s) {
    const char *p = s;
    int ok = json_value(&p);
    json_ws(&p);
    if (ok && !*p) return;
    fprintf(stderr, "%s returned invalid JSON at byte %td: %.200s\n", what, p - s, p);
    abort();
}

typedef struct {
    const uint8_t *buf;
    size_t len;
} span;

static int push_part(ntk_engine *e, chunker *k, span part) {
    int rc = NTK_OK;
    for (size_t off = 0; rc == NTK_OK && off < part.len;) {
        uint8_t *w = ntk_load_window(e, chunk_next(k, part.len - off));
        if (!w) abort(); /* only a failed allocation may refuse a window here */
        size_t n = ntk_load_window_size(e);
        memcpy(w, part.buf + off, n);
        off += n;
        rc = ntk_load_commit(e, n);
    }
    return rc;
}

static void fuzz_engine(uint8_t mode, const span *parts, int n_parts, span text_tail, int may_eval) {
    ntk_engine *e = ntk_new();
    if (!e) abort();
    chunker k = chunker_new(mode);
    int rc = ntk_load_begin(e), loaded = 0;
    for (int p = 0; p < n_parts && rc == NTK_OK && !loaded; p++) {
        rc = push_part(e, &k, parts[p]);
        if (rc == NTK_OK) rc = ntk_load_end(e);
        if (rc == NTK_OK)
            loaded = 1;
        else if (rc > 0)
            rc = NTK_OK; /* parts still to come */
    }
    touch(ntk_error(e), 1);
    if (loaded) {
        static const char fixed[] = "In the beginning <|im_start|>God\n\xC3\xA9\xE2\x96\x81 caf\xFF!";
        char text[sizeof fixed + 16];
        size_t tail = text_tail.len < 16 ? text_tail.len : 16;
        memcpy(text, fixed, sizeof fixed - 1);
        memcpy(text + sizeof fixed - 1, text_tail.buf + text_tail.len - tail, tail);
        int32_t ids[64];
        int n = ntk_tokenize(e, text, (int)(sizeof fixed - 1 + tail), 1, NULL, 0, ids, 64);
        if (n < 0) abort();
        int vocab = ntk_n_vocab(e);
        int32_t pair[2] = { n > 0 ? ids[0] : 0, n > 1 ? ids[1] : vocab - 1 };
        char piece[256];
        for (int i = 0; i < n && i < 64; i++) {
            if (ids[i] < 0 || ids[i] >= vocab || !ntk_token_piece(e, ids[i])) abort();
            ntk_detok_push(e, ids[i], piece, sizeof piece); /* a long piece may not fit: fine */
            sink ^= (uint8_t)ntk_is_eog(e, ids[i]);
        }
        ntk_detok_flush(e, piece, sizeof piece);
        int all_logits = (mode >> 5) & 1;
        if (ntk_set_rope(e, (mode >> 6) - 1, 0, 0, 0) != NTK_OK) abort();
        /* non-finite logits are refused with the context as it was: it cannot be cut to one more */
        rc = may_eval ? ntk_eval(e, pair, 2, all_logits) : NTK_ERR_ARG;
        if (rc == NTK_ERR_RUNTIME && ntk_truncate(e, 1) != NTK_ERR_ARG) abort();
        if (rc == NTK_OK) {
            touch(ntk_logits(e), (all_logits ? 2 : 1) * (size_t)vocab * sizeof(float));
            sink ^= (uint8_t)ntk_sample(e);
            /* a continuation: cached keys, and a new base once past the trained length */
            rc = ntk_eval(e, pair, 1, 0);
            if (rc == NTK_OK) touch(ntk_logits(e), (size_t)vocab * sizeof(float));
            if (rc == NTK_ERR_RUNTIME && ntk_truncate(e, 3) != NTK_ERR_ARG) abort();
        }
        const char *json = ntk_info_json(e);
        if (json) check_json("ntk_info_json", json);
        if ((json = ntk_metadata_json(e, 4))) check_json("ntk_metadata_json", json);
    }
    ntk_free(e);
}

/* Length of the part at buf: up to the next magic, or all of it. */
static size_t part_len(const uint8_t *buf, size_t len) {
    for (size_t i = 4; i + 4 <= len; i++)
        if (!memcmp(buf + i, "GGUF", 4)) return i;
    return len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    uint8_t mode = data[0];
    span input = { data + 1, size - 1 }, parts[FUZZ_MAX_PARTS];
    int n_parts = 0;
    uint64_t data_size = 0, elements = 0;
    for (size_t off = 0; off < input.len && n_parts < FUZZ_MAX_PARTS;) {
        size_t n = n_parts == FUZZ_MAX_PARTS - 1 ? input.len - off : part_len(input.buf + off, input.len - off);
        parts[n_parts++] = (span){ input.buf + off, n };
        parse_result r = fuzz_parser(mode, input.buf + off, n);
        data_size += r.data_size < FUZZ_MAX_DATA ? r.data_size : FUZZ_MAX_DATA + 1;
        elements += r.elements;
        off += n;
    }
    if (data_size > FUZZ_MAX_DATA) return 0;
    fuzz_engine(mode, parts, n_parts, input, elements <= FUZZ_MAX_ELEMENTS);
    return 0;
}
