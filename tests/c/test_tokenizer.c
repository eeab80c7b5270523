/* test_tokenizer.c — checks src/tokenizer.c against the SentencePiece fixture of kjv-tiny and
 * against small vocabs written here as GGUF files in memory.
 * Build: gcc -std=c11 -O1 -g -fsanitize=address,undefined -Wall -Wextra -Isrc src/gguf.c \
 *            src/quant.c src/tokenizer.c tests/c/test_tokenizer.c -lm -o /tmp/test_tokenizer
 * Usage: test_tokenizer [model.gguf [tokenizer.json [kjv.txt]]]
 * kjv.txt (the corpus the model was trained on) is optional: with it the held-out text, 1 MB,
 * must encode to heldout_ids.u16 (next to tokenizer.json); without it that check is skipped.
 * Prints one line per failing check and ends with "N passed, M failed"; exits 1 on failure. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arch.h"
#include "gguf.h"
#include "tokenizer.h"

static int n_pass, n_fail;

static int check(int ok, const char *fmt, ...) {
    if (ok) {
        n_pass++;
        return 1;
    }
    n_fail++;
    va_list ap;
    va_start(ap, fmt);
    printf("FAIL ");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    return 0;
}

/* ---- a strict JSON reader: enough for the fixture's objects, arrays, strings and numbers ---- */

enum { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

typedef struct jv {
    int type;
    double num;
    char *str; /* J_STR: UTF-8, NUL-terminated (len excludes the NUL) */
    size_t len;
    struct jv *items; /* J_ARR / J_OBJ values */
    char **keys;      /* J_OBJ */
    size_t n;
} jv;

typedef struct {
    const char *s, *end;
    const char *err;
} jparser;

static void jv_free(jv *v) {
    for (size_t i = 0; i < v->n; i++) {
        jv_free(&v->items[i]);
        if (v->keys) free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->str);
}

static void skip_ws(jparser *p) {
    while (p->s < p->end && (*p->s == ' ' || *p->s == '\t' || *p->s == '\n' || *p->s == '\r')) p->s++;
}

static int hex4(jparser *p, uint32_t *out) {
    *out = 0;
    for (int i = 0; i < 4; i++, p->s++) {
        if (p->s >= p->end) return 0;
        char c = *p->s;
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0) return 0;
        *out = *out * 16 + (uint32_t)d;
    }
    return 1;
}

static size_t put_utf8(char *o, uint32_t c) {
    if (c < 0x80) {
        o[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        o[0] = (char)(0xC0 | c >> 6);
        o[1] = (char)(0x80 | (c & 63));
        return 2;
    }
    if (c < 0x10000) {
        o[0] = (char)(0xE0 | c >> 12);
        o[1] = (char)(0x80 | (c >> 6 & 63));
        o[2] = (char)(0x80 | (c & 63));
        return 3;
    }
    o[0] = (char)(0xF0 | c >> 18);
    o[1] = (char)(0x80 | (c >> 12 & 63));
    o[2] = (char)(0x80 | (c >> 6 & 63));
    o[3] = (char)(0x80 | (c & 63));
    return 4;
}

/* At the opening quote. Escapes never grow the text, so the raw length bounds the output. */
static int parse_string(jparser *p, char **out, size_t *len) {
    const char *start = ++p->s;
    while (p->s < p->end && *p->s != '"') p->s += *p->s == '\\' ? 2 : 1;
    if (p->s >= p->end) {
        p->err = "unterminated string";
        return 0;
    }
    char *o = malloc((size_t)(p->s - start) + 1);
    if (!o) {
        p->err = "out of memory";
        return 0;
    }
    size_t n = 0;
    for (p->s = start; *p->s != '"';) {
        unsigned char c = (unsigned char)*p->s++;
        if (c < 0x20) {
            p->err = "control character in string";
            goto bad;
        }
        if (c != '\\') {
            o[n++] = (char)c;
            continue;
        }
        char e = *p->s++;
        const char *simple = strchr("\"\\/bfnrt", e);
        if (e && simple) {
            o[n++] = "\"\\/\b\f\n\r\t"[simple - "\"\\/bfnrt"];
            continue;
        }
        uint32_t u, lo;
        if (e != 'u' || !hex4(p, &u)) {
            p->err = "bad escape";
            goto bad;
        }
        if (u >= 0xDC00 && u <= 0xDFFF) {
            p->err = "lone low surrogate";
            goto bad;
        }
        if (u >= 0xD800 && u <= 0xDBFF) {
            if (p->end - p->s < 2 || p->s[0] != '\\' || p->s[1] != 'u') {
                p->err = "lone high surrogate";
                goto bad;
            }
            p->s += 2;
            if (!hex4(p, &lo) || lo < 0xDC00 || lo > 0xDFFF) {
                p->err = "bad surrogate pair";
                goto bad;
            }
            u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
        }
        n += put_utf8(o + n, u);
    }
    p->s++;
    o[n] = 0;
    *out = o;
    *len = n;
    return 1;
bad:
    free(o);
    return 0;
}

static int parse_value(jparser *p, jv *v, int depth);

static int parse_number(jparser *p, jv *v) {
    const char *s = p->s;
    if (s < p->end && *s == '-') s++;
    if (s >= p->end || *s < '0' || *s > '9') {
        p->err = "bad number";
        return 0;
    }
    if (*s == '0')
        s++;
    else
        while (s < p->end && *s >= '0' && *s <= '9') s++;
    if (s < p->end && *s == '.') {
        if (++s >= p->end || *s < '0' || *s > '9') {
            p->err = "bad fraction";
            return 0;
        }
        while (s < p->end && *s >= '0' && *s <= '9') s++;
    }
    if (s < p->end && (*s == 'e' || *s == 'E')) {
        if (++s < p->end && (*s == '+' || *s == '-')) s++;
        if (s >= p->end || *s < '0' || *s > '9') {
            p->err = "bad exponent";
            return 0;
        }
        while (s < p->end && *s >= '0' && *s <= '9') s++;
    }
    char tmp[64];
    if ((size_t)(s - p->s) >= sizeof tmp) {
        p->err = "number too long";
        return 0;
    }
    memcpy(tmp, p->s, (size_t)(s - p->s));
    tmp[s - p->s] = 0;
    v->type = J_NUM;
    v->num = strtod(tmp, NULL);
    p->s = s;
    return 1;
}

/* Arrays and objects: items separated by commas, an object's items preceded by "key":. */
static int parse_container(jparser *p, jv *v, int depth) {
    char close = *p->s == '[' ? ']' : '}';
    v->type = close == ']' ? J_ARR : J_OBJ;
    p->s++;
    skip_ws(p);
    if (p->s < p->end && *p->s == close) {
        p->s++;
        return 1;
    }
    for (size_t cap = 0;;) {
        if (v->n == cap) {
            cap = cap ? 2 * cap : 8;
            jv *items = realloc(v->items, cap * sizeof *items);
            if (items) v->items = items;
            char **keys = v->type == J_OBJ ? realloc(v->keys, cap * sizeof *keys) : NULL;
            if (keys) v->keys = keys;
            if (!items || (v->type == J_OBJ && !keys)) {
                p->err = "out of memory";
                return 0;
            }
        }
        jv *item = &v->items[v->n];
        memset(item, 0, sizeof *item);
        if (v->type == J_OBJ) {
            size_t klen;
            skip_ws(p);
            if (p->s >= p->end || *p->s != '"') {
                p->err = "expected a key";
                return 0;
            }
            if (!parse_string(p, &v->keys[v->n], &klen)) return 0;
            skip_ws(p);
            if (p->s >= p->end || *p->s != ':') {
                free(v->keys[v->n]);
                p->err = "expected ':'";
                return 0;
            }
            p->s++;
        }
        v->n++;
        if (!parse_value(p, item, depth + 1)) return 0;
        skip_ws(p);
        if (p->s < p->end && *p->s == ',') {
            p->s++;
            continue;
        }
        if (p->s < p->end && *p->s == close) {
            p->s++;
            return 1;
        }
        p->err = "expected ',' or a closing bracket";
        return 0;
    }
}

static int parse_value(jparser *p, jv *v, int depth) {
    skip_ws(p);
    if (depth > 64) {
        p->err = "nested too deeply";
        return 0;
    }
    if (p->s >= p->end) {
        p->err = "unexpected end";
        return 0;
    }
    size_t left = (size_t)(p->end - p->s);
    switch (*p->s) {
    case '{':
    case '[':
        return parse_container(p, v, depth);
    case '"':
        v->type = J_STR;
        return parse_string(p, &v->str, &v->len);
    case 't':
        if (left >= 4 && !memcmp(p->s, "true", 4)) {
            v->type = J_BOOL;
            v->num = 1;
            p->s += 4;
            return 1;
        }
        break;
    case 'f':
        if (left >= 5 && !memcmp(p->s, "false", 5)) {
            v->type = J_BOOL;
            p->s += 5;
            return 1;
        }
        break;
    case 'n':
        if (left >= 4 && !memcmp(p->s, "null", 4)) {
            v->type = J_NULL;
            p->s += 4;
            return 1;
        }
        break;
    default:
        return parse_number(p, v);
    }
    p->err = "unexpected token";
    return 0;
}

static int json_parse(const char *s, size_t len, jv *v, char *err, size_t errlen) {
    jparser p = { s, s + len, NULL };
    memset(v, 0, sizeof *v);
    if (parse_value(&p, v, 0)) {
        skip_ws(&p);
        if (p.s == p.end) return 1;
        p.err = "trailing characters";
    }
    snprintf(err, errlen, "%s at byte %ld", p.err, (long)(p.s - s));
    jv_free(v);
    return 0;
}

static const jv *jget(const jv *o, const char *key, int type) {
    if (o->type != J_OBJ) return NULL;
    for (size_t i = 0; i < o->n; i++)
        if (!strcmp(o->keys[i], key)) return o->items[i].type == type ? &o->items[i] : NULL;
    return NULL;
}

/* ---- helpers ---- */

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap);
    for (size_t got; b && (got = fread(b + n, 1, cap - n, f)) > 0;) {
        n += got;
        if (n == cap) {
            char *nb = realloc(b, cap *= 2);
            if (!nb) free(b);
            b = nb;
        }
    }
    fclose(f);
    *len = n;
    return b;
}

/* Pushes a GGUF to the parser in small chunks up to the end of its tensor table. */
static int load_table(gguf_ctx *g, const uint8_t *buf, size_t len, size_t chunk) {
    gguf_init(g);
    for (size_t off = 0; off < len;) {
        size_t n = len - off < chunk ? len - off : chunk, used;
        gguf_status st = gguf_push(g, buf + off, n, &used);
        if (st == GGUF_TABLE_READY) return 0;
        if (st != GGUF_NEED_MORE) return -1;
        off += used;
    }
    return -1;
}

static int load_model(const char *path, tokenizer *t) {
    FILE *f = fopen(path, "rb");
    if (!check(f != NULL, "cannot open %s", path)) return -1;
    gguf_ctx g;
    gguf_init(&g);
    uint8_t buf[4096];
    gguf_status st = GGUF_NEED_MORE;
    for (size_t got; st == GGUF_NEED_MORE && (got = fread(buf, 1, sizeof buf, f)) > 0;) {
        size_t used;
        st = gguf_push(&g, buf, got, &used);
    }
    fclose(f);
    char err[256] = "";
    int rc = -1;
    if (check(st == GGUF_TABLE_READY, "%s: no tensor table (%s)", path, gguf_error(&g)))
        rc = tokenizer_load(t, &g, arch_find("internlm2", 9)->eot, err, sizeof err);
    check(st != GGUF_TABLE_READY || rc == 0, "tokenizer_load(%s): %s", path, err);
    gguf_free(&g); /* the tokenizer must own copies of everything */
    return rc;
}

static int valid_utf8(const char *s, size_t n) {
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        int k = u[i] < 0x80                    ? 1
                : u[i] >= 0xC2 && u[i] <= 0xDF ? 2
                : u[i] >= 0xE0 && u[i] <= 0xEF ? 3
                : u[i] >= 0xF0 && u[i] <= 0xF4 ? 4
                                               : 0;
        if (!k || i + (size_t)k > n) return 0;
        uint32_t c = k == 1 ? u[i] : (uint32_t)(u[i] & (0x7F >> k));
        for (int j = 1; j < k; j++) {
            if ((u[i + j] & 0xC0) != 0x80) return 0;
            c = c << 6 | (u[i + j] & 63);
        }
        if ((k == 3 && c < 0x800) || (k == 4 && (c < 0x10000 || c > 0x10FFFF)) || (c >= 0xD800 && c <= 0xDFFF))
            return 0;
        i += (size_t)k;
    }
    return 1;
}

static int32_t *encode_all(const tokenizer *t, const char *s, size_t len, int bos, int64_t *n) {
    *n = tokenizer_encode(t, s, len, bos, NULL, 0, NULL, 0);
    if (*n < 0) return NULL;
    int32_t *ids = malloc((size_t)(*n ? *n : 1) * sizeof *ids);
    if (ids && tokenizer_encode(t, s, len, bos, NULL, 0, ids, *n) != *n) {
        free(ids);
        return NULL;
    }
    return ids;
}

/* Decodes ids one at a time, checking every chunk is valid UTF-8; returns the text (malloc). */
static char *decode_all(const tokenizer *t, const int32_t *ids, int64_t n, size_t *len) {
    size_t cap = 64 * (size_t)(n + 1), pos = 0;
    char *out = malloc(cap);
    detokenizer d;
    detok_init(&d);
    for (int64_t i = 0; out && i < n; i++) {
        int k = detok_push(t, &d, ids[i], out + pos, 64);
        if (k < 0 || !valid_utf8(out + pos, (size_t)k)) {
            check(0, "detok_push(%d) returned %d or invalid UTF-8", ids[i], k);
            free(out);
            return NULL;
        }
        pos += (size_t)k;
    }
    if (!out) return NULL;
    pos += (size_t)detok_flush(&d, out + pos, 64);
    *len = pos;
    return out;
}

/* ---- the fixture ---- */

static void test_case(const tokenizer *t, const jv *c, size_t ci) {
    const jv *text = jget(c, "text", J_STR), *ids = jget(c, "ids", J_ARR), *pieces = jget(c, "pieces", J_ARR);
    if (!check(text && ids && pieces && ids->n == pieces->n, "case %zu: malformed fixture entry", ci)) return;
    int64_t n;
    int32_t *got = encode_all(t, text->str, text->len, 0, &n);
    if (!check(got != NULL, "case %zu: encode failed", ci)) return;
    int same = n == (int64_t)ids->n;
    for (int64_t i = 0; same && i < n; i++) same = ids->items[i].type == J_NUM && got[i] == (int32_t)ids->items[i].num;
    if (!same) {
        printf("     got:");
        for (int64_t i = 0; i < n; i++) printf(" %d", got[i]);
        printf("\n");
    }
    check(same, "case %zu (\"%s\"): ids differ from SentencePiece", ci, text->str);

    for (size_t i = 0; i < pieces->n && i < ids->n; i++) {
        int32_t id = (int32_t)ids->items[i].num;
        const jv *pc = &pieces->items[i];
        if (!check(id >= 0 && id < t->n_vocab && pc->type == J_STR && pc->len == t->piece_len[id] &&
                       !memcmp(pc->str, t->pieces[id], pc->len),
                   "case %zu: piece %zu of the fixture is not vocab piece %d", ci, i, id))
            break;
    }

    int64_t nb;
    int32_t *with_bos = encode_all(t, text->str, text->len, 1, &nb);
    check(with_bos && nb == n + 1 && with_bos[0] == 1 && !memcmp(with_bos + 1, got, (size_t)n * sizeof *got),
          "case %zu: add_bos does not give BOS 1 followed by the same ids", ci);

    if (n > 0) {
        int32_t sentinel[2] = { 0, -12345 };
        int64_t r = tokenizer_encode(t, text->str, text->len, 0, NULL, 0, sentinel, 1);
        check(r == n && sentinel[0] == got[0] && sentinel[1] == -12345,
              "case %zu: encode with cap 1 returned %lld or wrote past cap", ci, (long long)r);
    }

    size_t dl;
    char *dec = with_bos ? decode_all(t, with_bos, nb, &dl) : NULL;
    check(dec && dl == text->len && !memcmp(dec, text->str, dl), "case %zu: round trip gives \"%.*s\"", ci,
          dec ? (int)dl : 0, dec ? dec : "");
    free(dec);
    free(with_bos);
    free(got);
}

static void test_fixture(const tokenizer *t, const char *path) {
    size_t len;
    char *s = read_file(path, &len);
    if (!check(s != NULL, "cannot read %s", path)) return;
    jv root;
    char err[128];
    if (check(json_parse(s, len, &root, err, sizeof err), "%s: %s", path, err)) {
        const jv *cases = jget(&root, "cases", J_ARR);
        if (check(cases && cases->n == 30, "%s: expected 30 cases", path))
            for (size_t i = 0; i < cases->n; i++) test_case(t, &cases->items[i], i);
        jv_free(&root);
    }
    free(s);
}

/* ---- streaming ---- */

static int push_str(const tokenizer *t, detokenizer *d, int32_t id, const char *want, const char *what) {
    char out[64];
    int k = detok_push(t, d, id, out, sizeof out);
    return check(k == (int)strlen(want) && !memcmp(out, want, (size_t)k), "%s: got %d bytes \"%.*s\", want \"%s\"",
                 what, k, k > 0 ? k : 0, out, want);
}

static void test_streaming(const tokenizer *t) {
    int32_t and_id = -1;
    for (int32_t i = 0; i < t->n_vocab; i++)
        if (!strcmp(t->pieces[i], "\xE2\x96\x81"
                                  "and"))
            and_id = i;
    if (!check(and_id >= 0 && t->byte_id[0xE2] >= 0, "vocab lacks \"▁and\" or byte pieces")) return;
    const int32_t *b = t->byte_id;
    detokenizer d;

    detok_init(&d);
    push_str(t, &d, t->bos, "", "BOS is invisible");
    push_str(t, &d, and_id, "and", "the first piece drops the dummy-prefix space even after BOS");
    push_str(t, &d, and_id, " and", "later pieces keep their space");
    push_str(t, &d, b[0xE2], "", "1st byte of a check mark is held");
    push_str(t, &d, b[0x9C], "", "2nd byte of a check mark is held");
    push_str(t, &d, b[0x93], "\xE2\x9C\x93", "3rd byte of a check mark releases it");
    push_str(t, &d, b[0xF0], "", "1st byte of an emoji");
    push_str(t, &d, b[0x9F], "", "2nd byte of an emoji");
    push_str(t, &d, b[0x99], "", "3rd byte of an emoji");
    char out[64];
    check(detok_push(t, &d, b[0x82], out, 3) == -2 && d.n_pending == 3,
          "cap 3 for a 4-byte char must give -2 and keep the state");
    push_str(t, &d, b[0x82], "\xF0\x9F\x99\x82", "4th byte releases the emoji");

    push_str(t, &d, b[0x80], "\xEF\xBF\xBD", "a stray continuation byte is U+FFFD");
    push_str(t, &d, b[0xE2], "", "a lead byte is held");
    push_str(t, &d, b[0x41],
             "\xEF\xBF\xBD"
             "A",
             "a lead byte followed by ASCII is U+FFFD then the ASCII");
    push_str(t, &d, b[0xE2], "", "a lead byte is held again");
    push_str(t, &d, and_id, "\xEF\xBF\xBD and", "a piece ends a byte run: U+FFFD for the held byte");
    push_str(t, &d, b[0xED], "", "ED is held");
    push_str(t, &d, b[0xA0], "\xEF\xBF\xBD\xEF\xBF\xBD", "ED A0 (a surrogate) is two U+FFFD");
    push_str(t, &d, b[0xC0], "\xEF\xBF\xBD", "C0 can never start a character");
    push_str(t, &d, b[0xF0], "", "F0 held before flush");
    push_str(t, &d, b[0x9F], "", "9F held before flush");
    check(detok_flush(&d, out, 5) == -2 && d.n_pending == 2, "flush with a small cap must give -2 and keep the state");
    int k = detok_flush(&d, out, sizeof out);
    check(k == 6 && !memcmp(out, "\xEF\xBF\xBD\xEF\xBF\xBD", 6), "flush of F0 9F must give two U+FFFD, got %d bytes",
          k);
    check(detok_flush(&d, out, sizeof out) == 0, "a second flush writes nothing");

    /* the check mark as the encoder produces it: the dummy prefix, then three byte tokens */
    int32_t ids[8];
    int64_t n = tokenizer_encode(t, "\xE2\x9C\x93", 3, 0, NULL, 0, ids, 8);
    if (check(n == 4 && ids[1] == b[0xE2] && ids[2] == b[0x9C] && ids[3] == b[0x93], "\"✓\" encodes to %lld ids",
              (long long)n)) {
        detok_init(&d);
        push_str(t, &d, ids[0], "", "encoded check mark: the dummy prefix");
        push_str(t, &d, ids[1], "", "encoded check mark: byte 1 held");
        push_str(t, &d, ids[2], "", "encoded check mark: byte 2 held");
        push_str(t, &d, ids[3], "\xE2\x9C\x93", "encoded check mark: byte 3 releases it");
    }

    detok_init(&d);
    push_str(t, &d, b[0x20], " ", "a leading byte token is not stripped");
    push_str(t, &d, and_id, " and", "after text, a piece keeps its space");

    check(detok_push(t, &d, -1, out, sizeof out) == -1, "id -1 must give -1");
    check(detok_push(t, &d, t->n_vocab, out, sizeof out) == -1, "id n_vocab must give -1");
    check(tokenizer_is_eog(t, t->eos) && tokenizer_is_eog(t, 2) && tokenizer_is_eog(t, 4),
          "</s> and <|im_end|> end generation");
    check(!tokenizer_is_eog(t, 1) && !tokenizer_is_eog(t, 3) && !tokenizer_is_eog(t, and_id) &&
              !tokenizer_is_eog(t, -1) && !tokenizer_is_eog(t, t->n_vocab),
          "other ids do not end generation");
    check(t->eot == 4 && t->eos == 4 && t->bos == 1 && t->unk == 0 && t->add_bos && t->add_space_prefix,
          "special ids/flags: eot %d eos %d bos %d unk %d", t->eot, t->eos, t->bos, t->unk);
}

/* ---- random valid UTF-8 round-trips (a literal U+2581 would come back as a space) ---- */

static void test_random_round_trips(const tokenizer *t) {
    static const char *const parts[] = {
        "a",
        "e",
        "th",
        "the",
        "Lord",
        " ",
        "  ",
        "\n",
        "\t",
        ".",
        ",",
        "0",
        "7",
        "<",
        ">",
        "<s>",
        "</s>",
        "<unk>",
        "<|im_start|>",
        "<|im_end|>",
        "<|im_",
        "\xC3\xA9",
        "\xE6\x97\xA5",
        "\xF0\x9F\x99\x82",
        "\xC2\xA0",
        "\xE2\x9C\x93",
        "<0x0A>",
        "\x7F",
        "\x01",
    };
    uint32_t rng = 12345;
    char text[512];
    int bad = 0;
    for (int iter = 0; iter < 500 && !bad; iter++) {
        size_t len = 0;
        rng = rng * 1664525u + 1013904223u;
        for (int k = (int)(rng >> 24) % 40; k > 0; k--) {
            rng = rng * 1664525u + 1013904223u;
            const char *p = parts[(rng >> 8) % (sizeof parts / sizeof *parts)];
            memcpy(text + len, p, strlen(p));
            len += strlen(p);
        }
        int64_t n;
        int32_t *ids = encode_all(t, text, len, iter & 1, &n);
        size_t dl;
        char *dec = ids ? decode_all(t, ids, n, &dl) : NULL;
        bad = !check(dec && dl == len && !memcmp(dec, text, len), "random text \"%.*s\" does not round-trip", (int)len,
                     text);
        free(dec);
        free(ids);
    }
}

/* ---- speed: a 1 MB text must encode well under a second ---- */

static void test_big(const tokenizer *t, const char *fixture) {
    size_t flen;
    char *s = read_file(fixture, &flen);
    jv root;
    char err[128];
    if (!s || !json_parse(s, flen, &root, err, sizeof err)) {
        free(s);
        return;
    }
    const jv *cases = jget(&root, "cases", J_ARR);
    size_t want = 1 << 20, len = 0, cap = want + 4096;
    char *big = malloc(cap);
    for (size_t i = 0; big && cases && cases->n && len < want; i = (i + 1) % cases->n) {
        const jv *text = jget(&cases->items[i], "text", J_STR);
        if (!text || text->len >= cap - len) break;
        memcpy(big + len, text->str, text->len);
        len += text->len;
        big[len++] = '\n';
    }
    if (!check(big && len >= want, "could not build a 1 MB text from %s", fixture)) len = 0;
    const char *kinds[] = { "fixture lines", "one letter", "spaces" };
    for (int kind = 0; len && kind < 3; kind++) {
        if (kind) memset(big, kind == 1 ? 'e' : ' ', len);
        clock_t t0 = clock();
        int64_t n;
        int32_t *ids = encode_all(t, big, len, 0, &n);
        double sec = (double)(clock() - t0) / CLOCKS_PER_SEC;
        check(ids && sec < 1.0, "1 MB of %s: encode took %.2f s", kinds[kind], sec);
        size_t dl;
        char *dec = ids ? decode_all(t, ids, n, &dl) : NULL;
        check(dec && dl == len && !memcmp(dec, big, len), "1 MB of %s does not round-trip", kinds[kind]);
        free(dec);
        free(ids);
    }
    free(big);
    jv_free(&root);
    free(s);
}

/* ---- the held-out corpus text, whose SentencePiece encoding is heldout_ids.u16 ---- */

static void test_heldout(const tokenizer *t, const char *corpus, const char *fixture) {
    size_t clen, ilen, dir = strrchr(fixture, '/') ? (size_t)(strrchr(fixture, '/') - fixture + 1) : 0;
    char path[4096];
    snprintf(path, sizeof path, "%.*sheldout_ids.u16", (int)dir, fixture);
    char *text = read_file(corpus, &clen), *raw = read_file(path, &ilen);
    if (!text || !raw) {
        printf("skip held-out check: cannot read %s or %s\n", corpus, path);
        free(text);
        free(raw);
        return;
    }
    /* lines 23146-31102 (1-based) joined with '\n' */
    size_t a = 0, line = 1;
    while (a < clen && line < 23146) line += text[a++] == '\n';
    size_t b = a;
    while (b < clen && line <= 31102) line += text[b++] == '\n';
    if (b > a && text[b - 1] == '\n') b--;
    int64_t n;
    clock_t t0 = clock();
    int32_t *ids = encode_all(t, text + a, b - a, 0, &n);
    double sec = (double)(clock() - t0) / CLOCKS_PER_SEC;
    int64_t first = -1;
    for (int64_t i = 0; ids && first < 0 && i < n && i < (int64_t)(ilen / 2); i++)
        if (ids[i] != (uint8_t)raw[2 * i] + 256 * (uint8_t)raw[2 * i + 1]) first = i;
    check(ids && n == (int64_t)(ilen / 2) && first < 0,
          "held-out text (%zu bytes): %lld ids, %zu expected, first difference at %lld", b - a, (long long)n, ilen / 2,
          (long long)first);
    check(sec < 1.0, "held-out text: encode took %.2f s", sec);
    free(ids);
    free(raw);
    free(text);
}

/* ---- vocabs written here ---- */

typedef struct {
    uint8_t *b;
    size_t n, cap;
} wbuf;

static void w_bytes(wbuf *w, const void *p, size_t n) {
    if (w->n + n > w->cap) {
        while (w->n + n > w->cap) w->cap = w->cap ? 2 * w->cap : 1024;
        uint8_t *b = realloc(w->b, w->cap);
        if (!b) {
            perror("realloc");
            exit(2);
        }
        w->b = b;
    }
    memcpy(w->b + w->n, p, n);
    w->n += n;
}
static void w_u32(wbuf *w, uint32_t v) { w_bytes(w, &v, 4); }
static void w_u64(wbuf *w, uint64_t v) { w_bytes(w, &v, 8); }
static void w_str(wbuf *w, const char *s) {
    w_u64(w, strlen(s));
    w_bytes(w, s, strlen(s));
}
static void w_key(wbuf *w, const char *k, uint32_t type) {
    w_str(w, k);
    w_u32(w, type);
}

typedef struct {
    const char *model;
    const char *const *pieces;
    int n;
    const float *scores;
    int n_scores; /* -1: no scores key */
    const int32_t *types;
    int n_types; /* -1: no token_type key */
    int tokens_as_ints;
    int64_t bos;      /* -1: no key */
    int space_prefix; /* -1: no key; 2: written as uint32 */
} vocab_spec;

/* A GGUF v3 file with no tensors and the tokenizer keys spec describes. */
static wbuf write_vocab(const vocab_spec *v) {
    wbuf w = { 0 };
    uint64_t n_kv = 2 + (v->n_scores >= 0) + (v->n_types >= 0) + (v->bos >= 0) + (v->space_prefix >= 0);
    w_bytes(&w, "GGUF", 4);
    w_u32(&w, 3);
    w_u64(&w, 0);
    w_u64(&w, n_kv);
    w_key(&w, "tokenizer.ggml.model", GGUF_STRING);
    w_str(&w, v->model);
    w_key(&w, "tokenizer.ggml.tokens", GGUF_ARRAY);
    w_u32(&w, v->tokens_as_ints ? GGUF_INT32 : GGUF_STRING);
    w_u64(&w, (uint64_t)v->n);
    for (int i = 0; i < v->n; i++) {
        if (v->tokens_as_ints)
            w_u32(&w, (uint32_t)i);
        else
            w_str(&w, v->pieces[i]);
    }
    if (v->n_scores >= 0) {
        w_key(&w, "tokenizer.ggml.scores", GGUF_ARRAY);
        w_u32(&w, GGUF_FLOAT32);
        w_u64(&w, (uint64_t)v->n_scores);
        w_bytes(&w, v->scores, (size_t)v->n_scores * 4);
    }
    if (v->n_types >= 0) {
        w_key(&w, "tokenizer.ggml.token_type", GGUF_ARRAY);
        w_u32(&w, GGUF_INT32);
        w_u64(&w, (uint64_t)v->n_types);
        w_bytes(&w, v->types, (size_t)v->n_types * 4);
    }
    if (v->bos >= 0) {
        w_key(&w, "tokenizer.ggml.bos_token_id", GGUF_UINT32);
        w_u32(&w, (uint32_t)v->bos);
    }
    if (v->space_prefix >= 0) {
        w_key(&w, "tokenizer.ggml.add_space_prefix", v->space_prefix == 2 ? GGUF_UINT32 : GGUF_BOOL);
        if (v->space_prefix == 2)
            w_u32(&w, 1);
        else
            w_bytes(&w, &(uint8_t){ (uint8_t)v->space_prefix }, 1);
    }
    return w;
}

static int load_spec(const vocab_spec *v, tokenizer *t, char *err, size_t errlen) {
    wbuf w = write_vocab(v);
    gguf_ctx g;
    int rc = load_table(&g, w.b, w.n, 7);
    snprintf(err, errlen, "gguf: %s", gguf_error(&g));
    if (rc == 0) rc = tokenizer_load(t, &g, arch_find("internlm2", 9)->eot, err, errlen);
    gguf_free(&g);
    free(w.b);
    return rc;
}

/* 0 <unk>, 1 <s>, 2 </s>: SentencePiece's own; 3 a control token that acts as user-defined;
 * 4 user-defined; 8 "ab" unused, so it may only be a step towards "▁ab". No byte pieces. */
static const char *const small_pieces[] = { "<unk>", "<s>", "</s>", "<|c|>",          "[U]", "\xE2\x96\x81",
                                            "a",     "b",   "ab",   "\342\226\201ab", "aa" };
static const float small_scores[] = { 0, 0, 0, 0, 0, -1, -2, -3, 10, 5, 1 };
static const int32_t small_types[] = { 2, 3, 3, 3, 4, 1, 1, 1, 5, 1, 1 };
#define SMALL_N 11

/* plain: NULL, or one byte range [plain[0], plain[1]) of text where control pieces are plain text */
static void expect_plain_ids(const tokenizer *t, const char *text, const uint32_t *plain, const int32_t *want,
                             int n_want, const char *what) {
    int32_t got[32];
    int64_t n = tokenizer_encode(t, text, strlen(text), 0, plain, plain ? 1 : 0, got, 32);
    int same = n == n_want;
    for (int i = 0; same && i < n; i++) same = got[i] == want[i];
    check(same, "%s: \"%s\" encodes to %lld ids [%d %d %d %d ...]", what, text, (long long)n, n > 0 ? got[0] : -1,
          n > 1 ? got[1] : -1, n > 2 ? got[2] : -1, n > 3 ? got[3] : -1);
}

static void expect_ids(const tokenizer *t, const char *text, const int32_t *want, int n_want, const char *what) {
    expect_plain_ids(t, text, NULL, want, n_want, what);
}

static void test_small_vocab(void) {
    vocab_spec v = { "llama", small_pieces, SMALL_N, small_scores, SMALL_N, small_types, SMALL_N, 0, -1, -1 };
    tokenizer t;
    char err[256];
    if (!check(load_spec(&v, &t, err, sizeof err) == 0, "small vocab: %s", err)) return;
    expect_ids(&t, "ab", (const int32_t[]){ 9 }, 1, "an unused piece is a step of a merge");
    expect_ids(&t, "xab", (const int32_t[]){ 5, 0, 6, 7 }, 4, "a final unused piece splits back");
    expect_ids(&t, "xyab", (const int32_t[]){ 5, 0, 6, 7 }, 4, "without byte pieces a run of unknowns is one unk");
    expect_ids(&t, "aaa", (const int32_t[]){ 5, 10, 6 }, 3, "equal scores merge leftmost first");
    expect_ids(&t, "a[U]b", (const int32_t[]){ 5, 6, 4, 7 }, 4, "a user-defined token is matched in text");
    expect_ids(&t, "a<|c|>", (const int32_t[]){ 5, 6, 3 }, 3, "a control token that is not <s>/</s>/<unk> is matched");
    expect_ids(&t, "</s>", (const int32_t[]){ 5, 0 }, 2, "</s> in text is not matched");
    /* a plain range: control pieces are plain text there (no byte pieces: one unk for the run),
     * user-defined ones are still matched, and text outside the range is read as ever */
    expect_plain_ids(&t, "a<|c|>", (const uint32_t[]){ 1, 6 }, (const int32_t[]){ 5, 6, 0 }, 3,
                     "a control token in a plain range is text");
    expect_plain_ids(&t, "<|c|><|c|>", (const uint32_t[]){ 5, 10 }, (const int32_t[]){ 5, 3, 0 }, 3,
                     "a control token before a plain range is matched");
    expect_plain_ids(&t, "<|c|>", (const uint32_t[]){ 4, 5 }, (const int32_t[]){ 5, 0 }, 2,
                     "a control token that ends in a plain range is text");
    expect_plain_ids(&t, "a[U]b", (const uint32_t[]){ 0, 5 }, (const int32_t[]){ 5, 6, 4, 7 }, 4,
                     "a user-defined token is matched in a plain range");
    check(tokenizer_is_control_text(&t, 3) && !tokenizer_is_control_text(&t, 4) && !tokenizer_is_control_text(&t, 1) &&
              !tokenizer_is_control_text(&t, 6) && !tokenizer_is_control_text(&t, -1) &&
              !tokenizer_is_control_text(&t, SMALL_N),
          "control texts: <|c|> only");
    check(t.bos == 1 && t.eos == 2 && t.unk == 0 && t.eot == -1 && tokenizer_is_eog(&t, 2) && !tokenizer_is_eog(&t, 3),
          "small vocab: default special ids");
    detokenizer d;
    detok_init(&d);
    char out[64];
    int k = detok_push(&t, &d, 3, out, sizeof out);
    check(k == 5 && !memcmp(out, "<|c|>", 5), "a user-defined control token decodes to its text");
    k = detok_push(&t, &d, 1, out, sizeof out);
    check(k == 0, "<s> decodes to nothing");
    tokenizer_free(&t);

    v.space_prefix = 0;
    if (!check(load_spec(&v, &t, err, sizeof err) == 0, "small vocab without space prefix: %s", err)) return;
    expect_ids(&t, "ab", (const int32_t[]){ 6, 7 }, 2, "no dummy prefix");
    expect_ids(&t, " ab", (const int32_t[]){ 9 }, 1, "no dummy prefix, explicit space");
    detok_init(&d);
    k = detok_push(&t, &d, 9, out, sizeof out);
    check(k == 3 && !memcmp(out, " ab", 3), "without the dummy prefix the first space is kept");
    tokenizer_free(&t);

    /* "aa" a control piece: matched in text, but in a plain range no merge may make it either */
    int32_t types[SMALL_N];
    memcpy(types, small_types, sizeof types);
    types[10] = TOKEN_CONTROL;
    v = (vocab_spec){ "llama", small_pieces, SMALL_N, small_scores, SMALL_N, types, SMALL_N, 0, -1, -1 };
    if (!check(load_spec(&v, &t, err, sizeof err) == 0, "small vocab with a control aa: %s", err)) return;
    expect_ids(&t, "aaa", (const int32_t[]){ 5, 10, 6 }, 3, "a control aa is matched");
    expect_plain_ids(&t, "aaa", (const uint32_t[]){ 0, 3 }, (const int32_t[]){ 5, 6, 6, 6 }, 4,
                     "a control aa is neither matched nor merged in a plain range");
    expect_plain_ids(&t, "aa a", (const uint32_t[]){ 3, 4 }, (const int32_t[]){ 5, 10, 5, 6 }, 4,
                     "a control aa outside the plain range is matched");
    tokenizer_free(&t);
}

static void expect_error(const vocab_spec *v, const char *substr, const char *what) {
    tokenizer t;
    char err[256] = "";
    int rc = load_spec(v, &t, err, sizeof err);
    check(rc == -1 && strstr(err, substr), "%s: want an error mentioning \"%s\", got %d \"%s\"", what, substr, rc, err);
    if (rc == 0) tokenizer_free(&t);
}

static void test_bad_vocabs(void) {
    static const char *const bad_byte[] = { "<unk>", "<0xZZ>" };
    static const float two_scores[] = { 0, 0 };
    static const int32_t byte_types[] = { 2, 6 }, bad_type[] = { 2, 7 };
    static const int32_t long_types[SMALL_N + 1] = { 2, 3, 3, 3, 4, 1, 1, 1, 5, 1, 1, 1 };
    const vocab_spec ok = { "llama", small_pieces, SMALL_N, small_scores, SMALL_N, small_types, SMALL_N, 0, -1, -1 };
    vocab_spec v;

    v = ok;
    v.model = "gpt2";
    expect_error(&v, "tokenizer model gpt2 not supported", "BPE (gpt2) model");
    v = ok;
    v.n_scores = SMALL_N - 1;
    expect_error(&v, "tokenizer.ggml.scores has 10 entries", "scores shorter than tokens");
    v = ok;
    v.types = long_types;
    v.n_types = SMALL_N + 1;
    expect_error(&v, "tokenizer.ggml.token_type has 12 entries", "token types longer than tokens");
    v = ok;
    v.n_types = -1;
    expect_error(&v, "tokenizer.ggml.token_type is missing", "no token types");
    v = ok;
    v.tokens_as_ints = 1;
    expect_error(&v, "tokenizer.ggml.tokens has type array of int32, expected an array of strings", "tokens of int32");
    v = ok;
    v.bos = SMALL_N;
    expect_error(&v, "bos_token_id = 11 is outside", "BOS out of range");
    v = ok;
    v.space_prefix = 2;
    expect_error(&v, "tokenizer.ggml.add_space_prefix has type uint32, expected a bool", "add_space_prefix of uint32");
    v = ok;
    v.pieces = bad_byte;
    v.n = v.n_scores = v.n_types = 2;
    v.scores = two_scores;
    v.types = byte_types;
    expect_error(&v, "not <0xNN>", "malformed byte piece");
    v.types = bad_type;
    expect_error(&v, "token_type 7", "token type out of range");
    v = ok;
    v.n = v.n_scores = v.n_types = 0;
    expect_error(&v, "0 entries", "empty vocab");
}

int main(int argc, char **argv) {
    const char *model = argc > 1 ? argv[1] : "models/kjv-tiny-q8_0.gguf";
    const char *fixture = argc > 2 ? argv[2] : "tests/fixtures/kjv-tiny/tokenizer.json";
    const char *corpus = argc > 3 ? argv[3] : "tests/fixtures/corpus/kjv.txt";
    tokenizer t;
    if (load_model(model, &t) == 0) {
        test_fixture(&t, fixture);
        test_streaming(&t);
        test_random_round_trips(&t);
        test_big(&t, fixture);
        test_heldout(&t, corpus, fixture);
        tokenizer_free(&t);
    }
    test_small_vocab();
    test_bad_vocabs();
    printf("%d passed, %d failed\n", n_pass, n_fail);
    return n_fail ? 1 : 0;
}
