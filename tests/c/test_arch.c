#define _GNU_SOURCE
/* test_arch.c — the architecture rows (arch.c) and what the engine takes from them: llama files
 * get plain RoPE and internlm2 files dynamic NTK when neither the file nor the user says
 * (docs/DESIGN.md, Dynamic NTK), both end a chat turn at <|im_end|>. */
#include "api.h"
#include "arch.h"
#include "testlib.h"

static const char *models = "models";

static void test_rows(void) {
    const arch_info *internlm2 = arch_find("internlm2", 9), *llama = arch_find("llama", 5);
    CHECK(internlm2 && internlm2->rope == ROPE_CONSISTENT && !strcmp(internlm2->prefix, "internlm2") &&
              !strcmp(internlm2->eot, "<|im_end|>"),
          "internlm2: dynamic NTK (consistent), keys internlm2.*, eot <|im_end|>");
    CHECK(llama && llama->rope == ROPE_NONE && !strcmp(llama->prefix, "llama") && !strcmp(llama->eot, "<|im_end|>"),
          "llama: plain RoPE, keys llama.*, eot <|im_end|>");
    CHECK(!arch_find("internlm", 8) && !arch_find("internlm2x", 10) && !arch_find("llama", 4), "names match whole");
    char buf[64];
    arch_names(buf, sizeof buf);
    CHECK(!strcmp(buf, "internlm2, llama"), "names: %s", buf);
    const arch_tensors *t = llama->tensors;
    CHECK(!strcmp(t->token_embd, "token_embd.weight") && !strcmp(t->output, "output.weight") &&
              !strcmp(t->ffn_down, "blk.%d.ffn_down.weight") && !strcmp(t->attn_q, "blk.%d.attn_q.weight"),
          "llama.cpp's tensor names");
}

/* The info JSON of a file loaded whole, or NULL (with a failed check) if it does not load. */
static const char *info_of(ntk_engine *e, const uint8_t *buf, size_t len) {
    int rc = ntk_load_begin(e);
    if (!rc) rc = ntk_load_bytes(e, buf, len);
    if (!rc) rc = ntk_load_end(e);
    CHECK(rc == NTK_OK, "load: %s", ntk_error(e));
    return rc ? NULL : ntk_info_json(e);
}

static void test_defaults_in_the_engine(void) {
    size_t len;
    uint8_t *file = tl_read_in(models, "kjv-tiny-llama-q8_0.gguf", &len);
    ntk_engine *e = ntk_new();
    const char *info = info_of(e, file, len);
    CHECK(info && strstr(info, "\"mode\":\"none\",\"modeSource\":\"default\""), "llama file: plain RoPE by default: %s",
          info);
    CHECK(info && strstr(info, "\"eot\":4,"), "llama file: <|im_end|> (4) ends a turn");
    ntk_free(e);
    free(file);

    /* the internlm2 file without its dynamic_ntk.factor key: the architecture decides */
    file = tl_read_in(models, "kjv-tiny-q8_0.gguf", &len);
    char *key = memmem(file, len, "internlm2.rope.dynamic_ntk.factor", 33);
    CHECK(key != NULL, "the file names its NTK factor");
    if (key) key[32] = 'R';
    e = ntk_new();
    info = info_of(e, file, len);
    CHECK(info && strstr(info, "\"mode\":\"consistent\",\"modeSource\":\"default\""),
          "internlm2 file: dynamic NTK by default: %s", info);
    CHECK(info && strstr(info, "\"eot\":4,"), "internlm2 file: <|im_end|> (4) ends a turn");
    ntk_free(e);
    free(file);
}

int main(int argc, char **argv) {
    if (argc > 1) models = argv[1];
    test_rows();
    test_defaults_in_the_engine();
    return tl_summary();
}
