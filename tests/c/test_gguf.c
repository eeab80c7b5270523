/* test_gguf.c — the push parser: same result at every chunk size, every value type, and a
 * clear error (never a crash) for empty, foreign, truncated and corrupt files. */
#include "gguf.h"
#include "quant.h"
#include "testlib.h"

/* Parse buf in chunks of `chunk` bytes; allocates the data buffer at TABLE_READY. */
static gguf_status parse(gguf_ctx *g, const uint8_t *buf, size_t len, size_t chunk, void **data) {
    gguf_init(g);
    *data = NULL;
    size_t off = 0;
    while (off < len) {
        size_t n = len - off < chunk ? len - off : chunk, used;
        gguf_status st = gguf_push(g, buf + off, n, &used);
        if (st < 0) return st;
        off += used;
        if (st == GGUF_TABLE_READY) {
            *data = malloc(g->data_size ? g->data_size : 1);
            gguf_set_data(g, *data);
        }
    }
    return gguf_finish(g);
}

/* An integer key's value (gguf_read), or INT64_MIN when it is not one. */
static int64_t read_int(const gguf_ctx *g, const char *key) {
    gguf_value v;
    return gguf_read(g, key, GGUF_WANT_INT, &v, NULL, 0) == 1 ? v.i : INT64_MIN;
}

static void test_chunking(const char *path) {
    size_t len;
    uint8_t *file = tl_read_file(path, &len);
    gguf_ctx ref;
    void *ref_data;
    CHECK(parse(&ref, file, len, len, &ref_data) == GGUF_DONE, "%s whole: %s", path, gguf_error(&ref));
    const size_t chunks[] = { 1, 7, 4096, 1 << 20 };
    for (size_t c = 0; c < sizeof chunks / sizeof *chunks; c++) {
        if (chunks[c] == 1 && len > (16u << 20)) continue; /* byte-by-byte on the small files only */
        gguf_ctx g;
        void *data;
        gguf_status st = parse(&g, file, len, chunks[c], &data);
        CHECK(st == GGUF_DONE, "%s chunk %zu: %s", path, chunks[c], gguf_error(&g));
        CHECK(g.n_kv == ref.n_kv && g.n_tensors == ref.n_tensors && g.data_size == ref.data_size,
              "%s chunk %zu: table differs", path, chunks[c]);
        CHECK(st == GGUF_DONE && !memcmp(data, ref_data, (size_t)ref.data_size), "%s chunk %zu: tensor data differs",
              path, chunks[c]);
        CHECK(g.data_offset == ref.data_offset, "data offset");
        gguf_free(&g);
        free(data);
    }
    /* the data section is the file's tail: tensors land at their file offset */
    const gguf_tensor *t = gguf_find_tensor(&ref, "output_norm.weight");
    CHECK(t && !memcmp(t->data, file + ref.data_offset + t->offset, (size_t)t->nbytes), "tensor bytes in place");
    gguf_free(&ref);
    free(ref_data);
    free(file);
}

static void test_metadata(const char *path) {
    size_t len;
    uint8_t *file = tl_read_file(path, &len);
    gguf_ctx g;
    void *data;
    CHECK(parse(&g, file, len, 4096, &data) == GGUF_DONE, "parse %s", path);
    const char *s;
    size_t n;
    gguf_value v;
    CHECK(gguf_read(&g, "general.architecture", GGUF_WANT_STRING, &v, NULL, 0) == 1 && v.len == 9 &&
              !memcmp(v.s, "internlm2", 9),
          "architecture");
    CHECK(gguf_read(&g, "internlm2.context_length", GGUF_WANT_INT, &v, NULL, 0) == 1 && v.i == 512, "context_length");
    CHECK(gguf_read(&g, "internlm2.rope.freq_base", GGUF_WANT_NUMBER, &v, NULL, 0) == 1 && v.f == 10000.0, "freq_base");
    CHECK(gguf_read(&g, "internlm2.rope.dynamic_ntk.factor", GGUF_WANT_NUMBER, &v, NULL, 0) == 1 && v.f == 2.0,
          "dynamic_ntk.factor");
    CHECK(gguf_read(&g, "tokenizer.ggml.add_bos_token", GGUF_WANT_BOOL, &v, NULL, 0) == 1 && v.i == 1, "add_bos");
    CHECK(gguf_read(&g, "general.architecture", GGUF_WANT_INT, &v, NULL, 0) == -1, "a string is not an integer");
    CHECK(gguf_read(&g, "no.such.key", GGUF_WANT_INT, &v, NULL, 0) == 0 && !gguf_find(&g, "no.such.key"),
          "missing key");
    const gguf_kv *tok = gguf_find(&g, "tokenizer.ggml.tokens");
    CHECK(tok && tok->type == GGUF_ARRAY && tok->arr_type == GGUF_STRING && tok->n == 4096, "tokens array");
    s = tok ? gguf_arr_str(&g, tok, 3, &n) : NULL;
    CHECK(s && n == 12 && !memcmp(s, "<|im_start|>", 12), "tokens[3]");
    CHECK(tok && !gguf_arr_str(&g, tok, 4096, &n), "tokens[4096] out of range");
    const gguf_kv *types = gguf_find(&g, "tokenizer.ggml.token_type");
    CHECK(types && gguf_arr_i64(&g, types, 0) == 3 && gguf_arr_i64(&g, types, 4095) == 1, "token types");
    CHECK(g.alignment == 32, "default alignment");
    const gguf_tensor *t = gguf_find_tensor(&g, "blk.0.attn_k.weight");
    CHECK(t && t->n_dims == 2 && t->ne[0] == 256 && t->ne[1] == 128, "attn_k shape");
    gguf_free(&g);
    free(data);
    free(file);
}

/* A file with one key of every value type, arrays of each, alignment 64 and two tensors. */
static tl_buf all_types_file(void) {
    tl_buf w = { 0 };
    tl_header(&w, 2, 16);
    uint8_t u8 = 200;
    int8_t i8 = -100;
    uint16_t u16 = 60000;
    int16_t i16 = -30000;
    int32_t i32 = -2000000000;
    uint64_t u64 = 1ull << 40;
    int64_t i64 = -(1ll << 40);
    double f64 = 3.25;
    tl_str(&w, "t.u8");
    tl_u32(&w, GGUF_UINT8);
    tl_put(&w, &u8, 1);
    tl_str(&w, "t.i8");
    tl_u32(&w, GGUF_INT8);
    tl_put(&w, &i8, 1);
    tl_str(&w, "t.u16");
    tl_u32(&w, GGUF_UINT16);
    tl_put(&w, &u16, 2);
    tl_str(&w, "t.i16");
    tl_u32(&w, GGUF_INT16);
    tl_put(&w, &i16, 2);
    tl_kv_u32(&w, "t.u32", 4000000000u);
    tl_str(&w, "t.i32");
    tl_u32(&w, GGUF_INT32);
    tl_put(&w, &i32, 4);
    tl_kv_f32(&w, "t.f32", 1.5f);
    tl_str(&w, "t.bool");
    tl_u32(&w, GGUF_BOOL);
    tl_put(&w, "\1", 1);
    tl_kv_str(&w, "t.str", "hé");
    tl_str(&w, "t.u64");
    tl_u32(&w, GGUF_UINT64);
    tl_u64(&w, u64);
    tl_str(&w, "t.i64");
    tl_u32(&w, GGUF_INT64);
    tl_put(&w, &i64, 8);
    tl_str(&w, "t.u64big");
    tl_u32(&w, GGUF_UINT64);
    tl_u64(&w, 1ull << 63);
    tl_str(&w, "t.f64");
    tl_u32(&w, GGUF_FLOAT64);
    tl_put(&w, &f64, 8);
    tl_str(&w, "t.arr_i16");
    tl_u32(&w, GGUF_ARRAY);
    tl_u32(&w, GGUF_INT16);
    tl_u64(&w, 3);
    for (int16_t v = -1; v <= 1; v++) tl_put(&w, &v, 2);
    tl_str(&w, "t.arr_str");
    tl_u32(&w, GGUF_ARRAY);
    tl_u32(&w, GGUF_STRING);
    tl_u64(&w, 3);
    tl_str(&w, "a");
    tl_str(&w, "");
    tl_str(&w, "ccc");
    tl_kv_u32(&w, "general.alignment", 64);
    tl_str(&w, "a");
    tl_u32(&w, 1);
    tl_u64(&w, 32);
    tl_u32(&w, GGML_TYPE_Q8_0);
    tl_u64(&w, 0);
    tl_str(&w, "b");
    tl_u32(&w, 2);
    tl_u64(&w, 4);
    tl_u64(&w, 2);
    tl_u32(&w, GGML_TYPE_F32);
    tl_u64(&w, 64);
    tl_pad(&w, 64);
    for (int k = 0; k < 64 + 32; k++) {
        uint8_t v = (uint8_t)k;
        tl_put(&w, &v, 1);
    }
    return w;
}

static void test_all_types(void) {
    tl_buf w = all_types_file();
    gguf_ctx g;
    void *data;
    CHECK(parse(&g, w.b, w.len, 1, &data) == GGUF_DONE, "all-types file: %s", gguf_error(&g));
    gguf_value v;
    size_t n;
    CHECK(read_int(&g, "t.u8") == 200, "u8");
    CHECK(read_int(&g, "t.i8") == -100, "i8");
    CHECK(read_int(&g, "t.u16") == 60000, "u16");
    CHECK(read_int(&g, "t.i16") == -30000, "i16");
    CHECK(read_int(&g, "t.u32") == 4000000000ll, "u32");
    CHECK(read_int(&g, "t.i32") == -2000000000ll, "i32");
    CHECK(gguf_read(&g, "t.f32", GGUF_WANT_NUMBER, &v, NULL, 0) == 1 && v.f == 1.5, "f32");
    CHECK(gguf_read(&g, "t.bool", GGUF_WANT_BOOL, &v, NULL, 0) == 1 && v.i == 1, "bool");
    CHECK(gguf_read(&g, "t.str", GGUF_WANT_STRING, &v, NULL, 0) == 1 && v.len == 3 && !memcmp(v.s, "hé", 3), "string");
    CHECK(read_int(&g, "t.u64") == (1ll << 40), "u64");
    CHECK(read_int(&g, "t.i64") == -(1ll << 40), "i64");
    CHECK(gguf_read(&g, "t.f64", GGUF_WANT_NUMBER, &v, NULL, 0) == 1 && v.f == 3.25, "f64");
    CHECK(gguf_read(&g, "t.u64", GGUF_WANT_NUMBER, &v, NULL, 0) == 1 && v.f == 0x1p40, "an integer is a number");
    CHECK(gguf_read(&g, "t.u64big", GGUF_WANT_NUMBER, &v, NULL, 0) == 1 && v.f == 0x1p63, "2^63 is a number");
    const gguf_kv *a = gguf_find(&g, "t.arr_i16");
    CHECK(a && a->n == 3 && gguf_arr_i64(&g, a, 0) == -1 && gguf_arr_i64(&g, a, 2) == 1, "int16 array");
    a = gguf_find(&g, "t.arr_str");
    CHECK(a && gguf_arr_str(&g, a, 1, &n) && n == 0 && gguf_arr_str(&g, a, 2, &n) && n == 3, "string array");
    CHECK(g.alignment == 64 && g.data_offset % 64 == 0, "general.alignment honoured");
    const gguf_tensor *t = gguf_find_tensor(&g, "b");
    CHECK(t && t->nbytes == 32 && ((uint8_t *)t->data)[0] == 64, "tensor b at its aligned offset");
    gguf_free(&g);
    free(data);
    free(w.b);
}

/* Types the engine does not run still parse, sized with ggml's block geometry (ggml.c
 * type_traits, ggml-common.h): a file of them is refused later, by name (model.c). */
static void test_sized_types(void) {
    const struct {
        uint32_t type;
        uint64_t bytes;
    } cases[] = {
        { 35 /* TQ2_0: 256 a block of 66 bytes */, 66 },
        { 20 /* IQ4_NL: 32, 18 */, 8 * 18 },
        { 39 /* MXFP4: 32, 17 */, 8 * 17 },
        { 24 /* I8 */, 256 },
        { 28 /* F64 */, 8 * 256 },
        { 41 /* Q1_0: 128, 18 */, 2 * 18 },
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        tl_buf w = { 0 };
        tl_header(&w, 1, 0);
        tl_str(&w, "w");
        tl_u32(&w, 1);
        tl_u64(&w, 256);
        tl_u32(&w, cases[c].type);
        tl_u64(&w, 0);
        tl_pad(&w, 32);
        for (uint64_t k = 0; k < cases[c].bytes; k++) tl_put(&w, "\0", 1);
        gguf_ctx g;
        void *data;
        gguf_status st = parse(&g, w.b, w.len, w.len, &data);
        CHECK(st == GGUF_DONE && g.tensors[0].nbytes == cases[c].bytes, "type %u: 256 values in %llu bytes: %s",
              cases[c].type, (unsigned long long)cases[c].bytes, gguf_error(&g));
        gguf_free(&g);
        free(data);
        free(w.b);
    }
}

/* Expect an error status whose message contains `needle`. */
static void expect_error(const char *what, const uint8_t *buf, size_t len, gguf_status want, const char *needle) {
    for (size_t chunk = 1; chunk <= len + 1; chunk = chunk * 13 + 1) {
        gguf_ctx g;
        void *data;
        gguf_status st = parse(&g, buf, len, chunk, &data);
        CHECK(st == want && strstr(gguf_error(&g), needle), "%s (chunk %zu): status %d, message '%s'", what, chunk, st,
              gguf_error(&g));
        gguf_free(&g);
        free(data);
        if (len == 0) break;
    }
}

static void test_bad_input(const char *path) {
    size_t len;
    uint8_t *file = tl_read_file(path, &len);
    expect_error("empty", file, 0, GGUF_ERR_TRUNCATED, "empty");
    expect_error("wrong magic", (const uint8_t *)"GGML\3\0\0\0", 8, GGUF_ERR_FORMAT, "not a GGUF");
    expect_error("pdf", (const uint8_t *)"%PDF-1.7\n", 9, GGUF_ERR_FORMAT, "not a GGUF");
    expect_error("version 1", (const uint8_t *)"GGUF\1\0\0\0", 8, GGUF_ERR_FORMAT, "version 1");
    expect_error("cut in header", file, 10, GGUF_ERR_TRUNCATED, "in the header");
    expect_error("cut in metadata", file, 1000, GGUF_ERR_TRUNCATED, "in the metadata");

    gguf_ctx g;
    void *data;
    parse(&g, file, len, len, &data);
    size_t table_end = (size_t)g.data_offset - 8, data_off = (size_t)g.data_offset;
    gguf_free(&g);
    free(data);
    expect_error("cut in tensor table", file, table_end - 20, GGUF_ERR_TRUNCATED, "in the tensor table");
    expect_error("cut in data", file, len - 100, GGUF_ERR_TRUNCATED, "in tensor data (tensor");

    /* corrupt fields of a real file: each must be named, not crash */
    uint8_t *bad = malloc(len);
    memcpy(bad, file, len);
    uint64_t huge = 1ull << 62;
    memcpy(bad + 24 + 8, &huge, 8); /* first key's string length: key "general.architecture" len at 24 */
    memcpy(bad + 24, &huge, 8);
    expect_error("huge key length", bad, data_off, GGUF_ERR_FORMAT, "name too long");
    memcpy(bad, file, len);
    uint32_t vt = 99;
    memcpy(bad + 24 + 8 + 20, &vt, 4);
    expect_error("unknown value type", bad, data_off, GGUF_ERR_FORMAT, "unknown value type 99");
    memcpy(bad, file, len);
    uint64_t many = 1ull << 40;
    memcpy(bad + 8, &many, 8);
    expect_error("implausible tensor count", bad, 64, GGUF_ERR_FORMAT, "implausible tensor count");
    free(bad);

    /* tensor table faults, on a small hand-made file */
    const struct {
        uint32_t ndims;
        uint64_t ne0;
        uint32_t type;
        uint64_t off;
        const char *msg;
    } cases[] = {
        { 5, 32, GGML_TYPE_F32, 0, "5 dimensions" },
        { 1, 32, 77, 0, "has type id 77, which ggml does not define" },
        { 1, 32, 4, 0, "has type Q4_2, which ggml has removed" },
        { 1, 32, 38, 0, "has type IQ4_NL_8_8, which ggml has removed" },
        { 1, 33, GGML_TYPE_Q8_0, 0, "not a multiple of the Q8_0 block size" },
        { 1, 32, GGML_TYPE_F32, 3, "not aligned" },
        { 1, 0, GGML_TYPE_F32, 0, "bad dimension 0" },
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        tl_buf w = { 0 };
        tl_header(&w, 1, 0);
        tl_str(&w, "w");
        tl_u32(&w, cases[c].ndims);
        for (uint32_t d = 0; d < cases[c].ndims; d++) tl_u64(&w, d ? 1 : cases[c].ne0);
        tl_u32(&w, cases[c].type);
        tl_u64(&w, cases[c].off);
        tl_pad(&w, 32);
        for (int k = 0; k < 256; k++) tl_put(&w, "\0", 1);
        expect_error(cases[c].msg, w.b, w.len, GGUF_ERR_FORMAT, cases[c].msg);
        free(w.b);
    }

    /* misuse: data before a buffer is set, push after an error */
    gguf_init(&g);
    size_t used;
    gguf_status st = gguf_push(&g, file, len, &used);
    CHECK(st == GGUF_TABLE_READY && used < len, "table ready mid-chunk");
    st = gguf_push(&g, file + used, len - used, &used);
    CHECK(st == GGUF_ERR_STATE, "data before gguf_set_data is refused");
    CHECK(gguf_push(&g, file, 1, &used) == GGUF_ERR_STATE, "push after error keeps failing");
    gguf_free(&g);
    free(file);
}

/* gguf_read against what each key holds: the value, absent, or an error naming key and type. */
static void test_typed_reads(void) {
    tl_buf w = all_types_file();
    gguf_ctx g;
    void *data;
    CHECK(parse(&g, w.b, w.len, w.len, &data) == GGUF_DONE, "all-types file: %s", gguf_error(&g));
    const struct {
        const char *key;
        gguf_want want;
        int rc;
        const char *msg;
    } cases[] = {
        { "t.str", GGUF_WANT_NUMBER, -1, "t.str has type string, expected a number" },
        { "t.str", GGUF_WANT_STRING_ARRAY, -1, "t.str has type string, expected an array of strings" },
        { "t.bool", GGUF_WANT_INT, -1, "t.bool has type bool, expected an integer" },
        { "t.bool", GGUF_WANT_NUMBER, -1, "t.bool has type bool, expected a number" },
        { "t.u8", GGUF_WANT_BOOL, -1, "t.u8 has type uint8, expected a bool" },
        { "t.f32", GGUF_WANT_INT, -1, "t.f32 has type float32, expected an integer" },
        { "t.u32", GGUF_WANT_STRING, -1, "t.u32 has type uint32, expected a string" },
        { "t.u64big", GGUF_WANT_INT, -1, "t.u64big = 9223372036854775808 (uint64) is too large for an integer" },
        { "t.arr_i16", GGUF_WANT_INT, -1, "t.arr_i16 has type array of int16, expected an integer" },
        { "t.arr_i16", GGUF_WANT_STRING_ARRAY, -1, "t.arr_i16 has type array of int16, expected an array of strings" },
        { "t.arr_str", GGUF_WANT_NUMBER_ARRAY, -1, "t.arr_str has type array of string, expected an array of numbers" },
        { "t.arr_str", GGUF_WANT_INT_ARRAY, -1, "t.arr_str has type array of string, expected an array of integers" },
        { "t.arr_i16", GGUF_WANT_INT_ARRAY, 1, "" },
        { "t.arr_i16", GGUF_WANT_NUMBER_ARRAY, 1, "" },
        { "t.arr_str", GGUF_WANT_STRING_ARRAY, 1, "" },
        { "t.i8", GGUF_WANT_NUMBER, 1, "" },
        { "no.such.key", GGUF_WANT_STRING, 0, "" },
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        gguf_value v;
        char err[160] = "";
        int rc = gguf_read(&g, cases[c].key, cases[c].want, &v, err, sizeof err);
        CHECK(rc == cases[c].rc && !strcmp(err, cases[c].msg), "%s as %s: %d '%s'", cases[c].key, cases[c].msg, rc,
              err);
        CHECK(rc != 1 || v.kv == gguf_find(&g, cases[c].key), "%s: the entry", cases[c].key);
    }
    gguf_free(&g);
    free(data);
    free(w.b);
}

/* Tensor i of a layout case: F32 of `values`, at data offset `off`. */
typedef struct {
    const char *name;
    uint32_t type;
    uint64_t values, off;
} layout_tensor;

/* A file of the given keys (u32 values) and tensors; its data section holds `data_bytes`. */
static tl_buf layout_file(const char *const *keys, int n_keys, const layout_tensor *t, int n, size_t data_bytes) {
    tl_buf w = { 0 };
    tl_header(&w, (uint64_t)n, (uint64_t)n_keys);
    for (int k = 0; k < n_keys; k++) tl_kv_u32(&w, keys[k], (uint32_t)k);
    for (int i = 0; i < n; i++) {
        tl_str(&w, t[i].name);
        tl_u32(&w, 1);
        tl_u64(&w, t[i].values);
        tl_u32(&w, t[i].type);
        tl_u64(&w, t[i].off);
    }
    tl_pad(&w, 32);
    for (size_t k = 0; k < data_bytes; k++) tl_put(&w, "\x5a", 1);
    return w;
}

/* What llama.cpp's gguf.cpp refuses: a key or tensor name given twice, and tensor data laid out
 * otherwise than one tensor right after the other, each padded to the alignment. */
static void test_names_and_layout(void) {
    const char *one[] = { "a" }, *twice[] = { "a", "b", "a" };
    tl_buf w = layout_file(twice, 3, NULL, 0, 0);
    expect_error("a key twice", w.b, w.len, GGUF_ERR_FORMAT, "metadata key 'a' is given twice (entries 0 and 2)");
    free(w.b);

    const layout_tensor ok[] = { { "a", GGML_TYPE_Q8_0, 32, 0 }, { "b", GGML_TYPE_F32, 8, 64 } };
    w = layout_file(one, 1, ok, 2, 64 + 32);
    gguf_ctx g;
    void *data;
    CHECK(parse(&g, w.b, w.len, 7, &data) == GGUF_DONE && g.data_size == 96, "34 bytes padded to 64, then 32: %s",
          gguf_error(&g));
    CHECK(gguf_find_tensor(&g, "b") == &g.tensors[1] && !gguf_find_tensor(&g, "c"), "tensors by name");
    gguf_free(&g);
    free(data);
    /* the file stops in a's padding: the tensor not all there is b */
    expect_error("cut in padding", w.b, w.len - 32 - 30, GGUF_ERR_TRUNCATED, "(tensor 'b'; 34 of 96 data bytes)");
    free(w.b);

    const struct {
        layout_tensor t[3];
        const char *msg;
    } cases[] = {
        { { { "a", 0, 32, 0 }, { "b", 0, 8, 128 }, { "a", 0, 8, 160 } },
          "tensor 'a' is listed twice (tensors 0 and 2)" },
        { { { "a", 0, 32, 0 }, { "b", 0, 8, 64 }, { "c", 0, 8, 160 } },
          "tensor 'b' at data offset 64 overlaps tensor 'a' (128 bytes at 0)" },
        { { { "a", 0, 32, 0 }, { "b", 0, 8, 0 }, { "c", 0, 8, 0 } },
          "tensor 'b' at data offset 0 overlaps tensor 'a' (128 bytes at 0)" },
        { { { "a", 0, 32, 0 }, { "b", 0, 8, 128 }, { "c", 0, 8, 128 } },
          "tensor 'c' at data offset 128 overlaps tensor 'b' (32 bytes at 128)" },
        { { { "a", 0, 32, 0 }, { "b", 0, 8, 256 }, { "c", 0, 8, 288 } },
          "tensor 'b' is at data offset 256, where 128 was expected" },
        { { { "a", 0, 32, 32 }, { "b", 0, 8, 160 }, { "c", 0, 8, 192 } },
          "tensor 'a' is at data offset 32, where 0 was expected" },
        { { { "a", 0, 32, 0 }, { "b", 0, 8, 128 }, { "c", 0, 8, 1ull << 50 } },
          "tensor 'c' is at data offset 1125899906842624, where 160 was expected" },
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        w = layout_file(one, 1, cases[c].t, 3, 256);
        expect_error(cases[c].msg, w.b, w.len, GGUF_ERR_FORMAT, cases[c].msg);
        free(w.b);
    }
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "models";
    const char *names[] = { "kjv-tiny-q4_0.gguf", "kjv-tiny-q8_0.gguf", "kjv-tiny-f32.gguf", "kjv-tiny-q4_k_m.gguf" };
    char path[512];
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        test_chunking(path);
    }
    snprintf(path, sizeof path, "%s/kjv-tiny-q8_0.gguf", dir);
    test_metadata(path);
    test_all_types();
    test_sized_types();
    test_bad_input(path);
    test_typed_reads();
    test_names_and_layout();
    return tl_summary();
}
