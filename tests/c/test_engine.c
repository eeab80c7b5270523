#define _GNU_SOURCE
/* test_engine.c — the C API end to end on the real files, natively (scalar kernels, sanitizers):
 * logits of the 64-token fixture prompt at every position against transformers, the same logits
 * at every load chunk size, and clear errors that leave the engine usable. */
#include <math.h>

#include "api.h"
#include "gguf.h"
#include "testlib.h"

static const char *models = "models", *fixtures = "tests/fixtures/kjv-tiny";

/* Push the file through the load window in chunks of `chunk` bytes. */
static int load(ntk_engine *e, const uint8_t *buf, size_t len, size_t chunk) {
    int rc = ntk_load_begin(e);
    for (size_t off = 0; !rc && off < len;) {
        size_t want = len - off < chunk ? len - off : chunk;
        uint8_t *w = ntk_load_window(e, want);
        if (!w) return -100;
        size_t n = ntk_load_window_size(e);
        memcpy(w, buf + off, n);
        rc = ntk_load_commit(e, n);
        off += n;
    }
    return rc ? rc : ntk_load_end(e);
}

static ntk_engine *load_path(const char *name, size_t chunk) {
    size_t len;
    uint8_t *buf = tl_read_in(models, name, &len);
    ntk_engine *e = ntk_new();
    int rc = load(e, buf, len, chunk);
    CHECK(rc == NTK_OK, "load %s (chunk %zu): %s", name, chunk, ntk_error(e));
    free(buf);
    return e;
}

/* The 64 ids of full_logits_64.json ("token_ids": [...]). */
static int read_ids(int32_t *ids, int cap) {
    char path[512];
    size_t len;
    snprintf(path, sizeof path, "%s/full_logits_64.json", fixtures);
    char *js = (char *)tl_read_file(path, &len);
    js[len] = 0;
    char *p = strstr(js, "\"token_ids\"");
    int n = 0;
    if (p && (p = strchr(p, '['))) {
        p++;
        while (n < cap && *p != ']') {
            ids[n++] = (int32_t)strtol(p, &p, 10);
            while (*p == ',' || *p == ' ' || *p == '\n') p++;
        }
    }
    free(js);
    return n;
}

/* max |a-b| over each row, relative to the row's max |ref| */
static double worst_rel(const float *got, const float *ref, int rows, int n_vocab) {
    double worst = 0;
    for (int r = 0; r < rows; r++) {
        double mx = 0, d = 0;
        for (int i = 0; i < n_vocab; i++) {
            mx = fmax(mx, fabs(ref[r * n_vocab + i]));
            d = fmax(d, fabs(got[r * n_vocab + i] - ref[r * n_vocab + i]));
        }
        worst = fmax(worst, d / mx);
    }
    return worst;
}

static void test_full_logits(void) {
    int32_t ids[64];
    int n = read_ids(ids, 64);
    CHECK(n == 64, "fixture ids: %d", n);
    char path[512];
    size_t len;
    snprintf(path, sizeof path, "%s/full_logits_64.bin", fixtures);
    float *ref = (float *)tl_read_file(path, &len);
    const size_t chunks[] = { 7, 4096, 64u << 20 };
    for (size_t c = 0; c < sizeof chunks / sizeof *chunks; c++) {
        ntk_engine *e = load_path("kjv-tiny-f32.gguf", chunks[c]);
        int nv = ntk_n_vocab(e);
        CHECK(nv == 4096, "n_vocab");
        CHECK(ntk_eval(e, ids, n, 1) == NTK_OK, "eval: %s", ntk_error(e));
        double w = worst_rel(ntk_logits(e), ref, n, nv);
        CHECK(w <= 1e-3, "f32 all 64 positions (chunk %zu): worst %.2e of max|logit|", chunks[c], w);
        ntk_free(e);
    }
    free(ref);
}

/* Byte-by-byte loading gives bit-identical logits to a whole-file load. */
static void test_chunk_one(void) {
    int32_t ids[64];
    read_ids(ids, 64);
    ntk_engine *a = load_path("kjv-tiny-q4_0.gguf", 1), *b = load_path("kjv-tiny-q4_0.gguf", 1u << 30);
    CHECK(ntk_eval(a, ids, 16, 0) == NTK_OK && ntk_eval(b, ids, 16, 0) == NTK_OK, "eval");
    CHECK(!memcmp(ntk_logits(a), ntk_logits(b), 4096 * sizeof(float)), "1-byte chunks: same logits");
    ntk_free(a);
    ntk_free(b);
}

static void test_errors(void) {
    int32_t ids[64];
    read_ids(ids, 64);
    ntk_engine *e = ntk_new();
    CHECK(ntk_eval(e, ids, 4, 0) == NTK_ERR_STATE && strstr(ntk_error(e), "no model"), "eval before load");
    ntk_free(e);

    e = load_path("kjv-tiny-q8_0.gguf", 1 << 20);
    CHECK(ntk_eval(e, ids, 8, 0) == NTK_OK, "eval");
    float first[4096];
    memcpy(first, ntk_logits(e), sizeof first);
    int32_t bad[3] = { 1, 4096, 5 };
    CHECK(ntk_eval(e, bad, 3, 0) == NTK_ERR_ARG && strstr(ntk_error(e), "token id 4096"), "out-of-range id: %s",
          ntk_error(e));
    CHECK(ntk_truncate(e, 9) == NTK_ERR_ARG && strstr(ntk_error(e), "context of 8 tokens"),
          "a rejected eval leaves the context alone: %s", ntk_error(e));
    bad[1] = -1;
    CHECK(ntk_eval(e, bad, 3, 0) == NTK_ERR_ARG, "negative id");
    CHECK(ntk_eval(e, ids, 0, 0) == NTK_ERR_ARG, "zero tokens");
    CHECK(ntk_set_rope(e, 7, 0, 0, 0) == NTK_ERR_ARG && ntk_set_rope(e, 0, 0.5, 0, 0) == NTK_ERR_ARG &&
              ntk_set_rope(e, 0, 0, 0, -1) == NTK_ERR_ARG && ntk_set_rope(e, 0, 0, 0, 2.5) == NTK_ERR_ARG,
          "bad rope options");
    CHECK(ntk_sampler_set(e, -1, 0, 1, 0, 1, 64, 0) == NTK_ERR_ARG, "negative temperature");
    CHECK(ntk_load_begin(e) == NTK_ERR_STATE, "second load into a loaded engine");
    ntk_reset(e);
    CHECK(ntk_eval(e, ids, 8, 0) == NTK_OK && !memcmp(first, ntk_logits(e), sizeof first),
          "usable after errors, same logits");
    CHECK(ntk_sample(e) >= 0, "sample");
    ntk_free(e);

    /* foreign and broken files */
    char path[512];
    size_t len;
    snprintf(path, sizeof path, "%s/kjv-tiny-q8_0.gguf", models);
    uint8_t *file = tl_read_file(path, &len);
    e = ntk_new();
    CHECK(load(e, file, 0, 4096) == NTK_ERR_TRUNCATED && strstr(ntk_error(e), "empty"), "empty file: %s", ntk_error(e));
    CHECK(load(e, (const uint8_t *)"PK\3\4zipfile...", 15, 4096) == NTK_ERR_FORMAT, "zip file");
    CHECK(load(e, file, len - 1000, 4096) == NTK_ERR_TRUNCATED && strstr(ntk_error(e), "truncated at byte"),
          "truncated: %s", ntk_error(e));
    uint8_t *arch = memmem(file, 200, "internlm2", 9);
    memcpy(arch, "internlm9", 9);
    CHECK(load(e, file, len, 4096) == NTK_ERR_UNSUPPORTED && strstr(ntk_error(e), "internlm9"), "architecture: %s",
          ntk_error(e));
    memcpy(arch, "internlm2", 9);
    /* the type field of output.weight, the last tensor (a new size for another one would break the
     * layout, which is refused first): Q8_1 is a ggml type this engine does not run */
    uint8_t *name = memmem(file, len, "\x0d\0\0\0\0\0\0\0output.weight", 8 + 13) + 8;
    uint32_t q8_1 = 9;
    memcpy(name + 13 + 4 + 16, &q8_1, 4);
    CHECK(load(e, file, len, 4096) == NTK_ERR_UNSUPPORTED && strstr(ntk_error(e), "output.weight") &&
              strstr(ntk_error(e), "Q8_1"),
          "tensor type: %s", ntk_error(e));
    uint32_t q8_0 = 8;
    memcpy(name + 13 + 4 + 16, &q8_0, 4);
    CHECK(load(e, file, len, 4096) == NTK_OK, "the same engine loads the good file after failures: %s", ntk_error(e));
    CHECK(ntk_eval(e, ids, 8, 0) == NTK_OK, "and runs it");
    free(file);
    ntk_free(e);
}

/* Where the data of tensor `name` is in the file (the header parsed with the push parser). */
static uint8_t *tensor_in_file(uint8_t *file, size_t len, const char *name) {
    gguf_ctx g;
    size_t used;
    gguf_init(&g);
    gguf_status st = gguf_push(&g, file, len, &used);
    const gguf_tensor *t = st == GGUF_TABLE_READY ? gguf_find_tensor(&g, name) : NULL;
    uint8_t *at = t ? file + g.data_offset + t->offset : NULL;
    gguf_free(&g);
    return at;
}

/* Weights that hold a NaN or an infinity make non-finite logits: RUNTIME naming the first
 * position that has them, and the context as it was, so that the next evaluation gives what a
 * fresh engine gives. (The F16 file: quantized activations of a Q8_0 file would turn a NaN into
 * finite garbage, as in ggml, before it reaches the logits.) */
static void test_non_finite(void) {
    int32_t ids[64];
    read_ids(ids, 64);
    size_t len;
    uint8_t *file = tl_read_in(models, "kjv-tiny-f16.gguf", &len);
    ntk_engine *ref = ntk_new();
    CHECK(load(ref, file, len, 1 << 20) == NTK_OK && ntk_eval(ref, ids, 3, 0) == NTK_OK, "reference");

    /* the embedding row of ids[2] starts with an infinity (f16 0x7C00) */
    uint8_t *row = tensor_in_file(file, len, "token_embd.weight") + (size_t)ids[2] * 256 * 2, was[2];
    memcpy(was, row, 2);
    memcpy(row, "\x00\x7c", 2);
    ntk_engine *e = ntk_new();
    CHECK(load(e, file, len, 1 << 20) == NTK_OK, "load with an infinite weight: %s", ntk_error(e));
    CHECK(ntk_eval(e, ids, 2, 0) == NTK_OK, "the first two tokens do not read that row: %s", ntk_error(e));
    CHECK(ntk_eval(e, ids + 2, 1, 0) == NTK_ERR_RUNTIME &&
              strstr(ntk_error(e), "non-finite logits (NaN or infinity) at position 2"),
          "its token: %s", ntk_error(e));
    CHECK(ntk_sample(e) == NTK_ERR_STATE, "no logits to sample from");
    CHECK(ntk_truncate(e, 3) == NTK_ERR_ARG && strstr(ntk_error(e), "context of 2 tokens"), "the context is as before");
    int32_t other = ids[2] == 5 ? 6 : 5, two[2] = { ids[0], ids[1] };
    CHECK(ntk_eval(e, &other, 1, 0) == NTK_OK, "and goes on: %s", ntk_error(e));
    CHECK(ntk_reset(ref) == NTK_OK && ntk_eval(ref, two, 2, 0) == NTK_OK && ntk_eval(ref, &other, 1, 0) == NTK_OK &&
              ntk_logits(e) && !memcmp(ntk_logits(e), ntk_logits(ref), 4096 * sizeof(float)),
          "with the logits of a context that never saw the failed token");
    ntk_reset(e);
    int32_t three[3] = { other, ids[2], other };
    CHECK(ntk_eval(e, three, 3, 1) == NTK_ERR_RUNTIME && strstr(ntk_error(e), "at position 1"),
          "every position's logits: the first bad one is named: %s", ntk_error(e));
    ntk_free(e);

    /* a NaN in the final norm: every position; the last one's logits are returned */
    memcpy(row, was, 2);
    float nan = NAN;
    memcpy(tensor_in_file(file, len, "output_norm.weight"), &nan, sizeof nan);
    e = ntk_new();
    CHECK(load(e, file, len, 1 << 20) == NTK_OK && ntk_eval(e, ids, 8, 0) == NTK_ERR_RUNTIME &&
              strstr(ntk_error(e), "at position 7"),
          "NaN in output_norm: %s", ntk_error(e));
    ntk_free(e);
    ntk_free(ref);
    free(file);
}

int main(int argc, char **argv) {
    if (argc > 1) models = argv[1];
    if (argc > 2) fixtures = argv[2];
    test_full_logits();
    test_chunk_one();
    test_errors();
    test_non_finite();
    return tl_summary();
}
