/* test_types.c — the type rows of types.c against ggml: every id ggml defines is named, with
 * ggml's block geometry (transcribed here from ggml/include/ggml.h, ggml/src/ggml.c type_traits
 * and ggml/src/ggml-common.h); the rows of the types the engine runs match their block structs
 * and have what matmul and the loader need of them. */
#include "kernels.h"
#include "testlib.h"
#include "types.h"

static const struct {
    uint32_t id;
    const char *name;
    int bs, ts;
} ggml[] = {
    { 0, "F32", 1, 4 },         { 1, "F16", 1, 2 },         { 2, "Q4_0", 32, 18 },      { 3, "Q4_1", 32, 20 },
    { 4, "Q4_2", 0, 0 },        { 5, "Q4_3", 0, 0 },        { 6, "Q5_0", 32, 22 },      { 7, "Q5_1", 32, 24 },
    { 8, "Q8_0", 32, 34 },      { 9, "Q8_1", 32, 36 },      { 10, "Q2_K", 256, 84 },    { 11, "Q3_K", 256, 110 },
    { 12, "Q4_K", 256, 144 },   { 13, "Q5_K", 256, 176 },   { 14, "Q6_K", 256, 210 },   { 15, "Q8_K", 256, 292 },
    { 16, "IQ2_XXS", 256, 66 }, { 17, "IQ2_XS", 256, 74 },  { 18, "IQ3_XXS", 256, 98 }, { 19, "IQ1_S", 256, 50 },
    { 20, "IQ4_NL", 32, 18 },   { 21, "IQ3_S", 256, 110 },  { 22, "IQ2_S", 256, 82 },   { 23, "IQ4_XS", 256, 136 },
    { 24, "I8", 1, 1 },         { 25, "I16", 1, 2 },        { 26, "I32", 1, 4 },        { 27, "I64", 1, 8 },
    { 28, "F64", 1, 8 },        { 29, "IQ1_M", 256, 56 },   { 30, "BF16", 1, 2 },       { 31, "Q4_0_4_4", 0, 0 },
    { 32, "Q4_0_4_8", 0, 0 },   { 33, "Q4_0_8_8", 0, 0 },   { 34, "TQ1_0", 256, 54 },   { 35, "TQ2_0", 256, 66 },
    { 36, "IQ4_NL_4_4", 0, 0 }, { 37, "IQ4_NL_4_8", 0, 0 }, { 38, "IQ4_NL_8_8", 0, 0 }, { 39, "MXFP4", 32, 17 },
    { 40, "NVFP4", 64, 36 },    { 41, "Q1_0", 128, 18 },
};
#define N_GGML (sizeof ggml / sizeof *ggml)

static void test_every_id_named(void) {
    CHECK(N_GGML == GGML_TYPE_COUNT, "ggml defines %d ids, the enum counts %d", (int)N_GGML, GGML_TYPE_COUNT);
    for (size_t i = 0; i < N_GGML; i++) {
        const ggml_type_traits *t = ggml_type_info(ggml[i].id);
        CHECK(t && !strcmp(t->name, ggml[i].name) && t->block_size == ggml[i].bs && t->type_size == ggml[i].ts,
              "type %u: %s, %d values in %d bytes (got %s, %d, %d)", ggml[i].id, ggml[i].name, ggml[i].bs, ggml[i].ts,
              t ? t->name : "NULL", t ? t->block_size : -1, t ? t->type_size : -1);
    }
    const uint32_t undefined[] = { GGML_TYPE_COUNT, 77, 1000, 0xffffffffu };
    for (size_t i = 0; i < sizeof undefined / sizeof *undefined; i++)
        CHECK(ggml_type_info(undefined[i]) == NULL, "id %u: no row", undefined[i]);
}

/* The rows of the types with kernels, from the block structs the kernels read. */
static void test_runnable_rows(void) {
    const struct {
        uint32_t id;
        size_t bytes, align;
        int values;
        uint32_t act;
        int dots;
    } runs[] = {
        { GGML_TYPE_F32, sizeof(float), _Alignof(float), 1, GGML_TYPE_F32, 0 },
        { GGML_TYPE_F16, sizeof(ggml_half), _Alignof(ggml_half), 1, GGML_TYPE_F32, 0 },
        { GGML_TYPE_BF16, sizeof(uint16_t), _Alignof(uint16_t), 1, GGML_TYPE_F32, 0 },
        { GGML_TYPE_Q4_0, sizeof(block_q4_0), _Alignof(block_q4_0), QK4_0, GGML_TYPE_Q8_0, 0 },
        { GGML_TYPE_Q4_1, sizeof(block_q4_1), _Alignof(block_q4_1), QK8_0, GGML_TYPE_Q8_1, 0 },
        { GGML_TYPE_Q5_0, sizeof(block_q5_0), _Alignof(block_q5_0), QK8_0, GGML_TYPE_Q8_0, 0 },
        { GGML_TYPE_Q5_1, sizeof(block_q5_1), _Alignof(block_q5_1), QK8_0, GGML_TYPE_Q8_1, 0 },
        { GGML_TYPE_Q8_0, sizeof(block_q8_0), _Alignof(block_q8_0), QK8_0, GGML_TYPE_Q8_0, 0 },
        { GGML_TYPE_Q4_K, sizeof(block_q4_K), _Alignof(block_q4_K), QK_K, GGML_TYPE_Q8_K, 1 },
        { GGML_TYPE_Q5_K, sizeof(block_q5_K), _Alignof(block_q5_K), QK_K, GGML_TYPE_Q8_K, 1 },
        { GGML_TYPE_Q6_K, sizeof(block_q6_K), _Alignof(block_q6_K), QK_K, GGML_TYPE_Q8_K, 1 },
    };
    int n_runs = 0;
    for (uint32_t id = 0; id < GGML_TYPE_COUNT; id++) n_runs += ggml_type_info(id)->dot != NULL;
    CHECK(n_runs == (int)(sizeof runs / sizeof *runs), "%d types have a dot kernel", n_runs);
    for (size_t i = 0; i < sizeof runs / sizeof *runs; i++) {
        const ggml_type_traits *t = ggml_type_info(runs[i].id);
        CHECK(t->dot && t->to_float && (size_t)t->type_size == runs[i].bytes && (size_t)t->align == runs[i].align &&
                  t->block_size == runs[i].values && t->act == runs[i].act && !!t->dots == runs[i].dots,
              "%s: dot, expansion, %d values in sizeof(block) = %zu bytes aligned to %zu, activations %s, %s", t->name,
              runs[i].values, runs[i].bytes, runs[i].align, ggml_type_info(runs[i].act)->name,
              runs[i].dots ? "several tokens a call" : "a token a call");
    }
    /* what matmul needs of the activation formats: a quantizer, and their own geometry */
    const struct {
        uint32_t id;
        size_t bytes;
        int values;
    } acts[] = {
        { GGML_TYPE_Q8_0, sizeof(block_q8_0), QK8_0 },
        { GGML_TYPE_Q8_1, sizeof(block_q8_1), QK8_0 },
        { GGML_TYPE_Q8_K, sizeof(block_q8_K), QK_K },
    };
    for (size_t i = 0; i < sizeof acts / sizeof *acts; i++) {
        const ggml_type_traits *t = ggml_type_info(acts[i].id);
        CHECK(t->from_float && t->to_float && (size_t)t->type_size == acts[i].bytes && t->block_size == acts[i].values,
              "%s: an activation format of %zu-byte blocks", t->name, acts[i].bytes);
    }
    char list[160];
    ggml_types_run(list, sizeof list);
    CHECK(!strcmp(list, "F32, F16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K, BF16"), "the types that run: %s",
          list);
}

/* dequantize_row goes through the rows: a type without an expansion writes nothing. */
static void test_dequantize_dispatch(void) {
    const float x[4] = { 1.5f, -2.0f, 0.25f, 3.0f };
    float y[4] = { 0 };
    CHECK(dequantize_row(GGML_TYPE_F32, x, y, 4) == 0 && !memcmp(x, y, sizeof x), "F32 row copied");
    y[0] = 42.0f;
    CHECK(dequantize_row(GGML_TYPE_TQ2_0, x, y, 4) == -1 && y[0] == 42.0f, "TQ2_0: -1, nothing written");
    CHECK(dequantize_row(GGML_TYPE_Q4_2, x, y, 4) == -1 && dequantize_row(77, x, y, 4) == -1,
          "removed and undefined ids: -1");
}

int main(void) {
    test_every_id_named();
    test_runnable_rows();
    test_dequantize_dispatch();
    return tl_summary();
}
