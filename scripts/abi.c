/* abi.c — print wasm/build/abi.mjs: the facts of the C engine the JS side codes against, read
 * from where the C keeps them (status names from api.h, RoPE modes from rope.c, KV cache types
 * from model.c, the sampling defaults from sampler.c, the ggml types from types.c), so the two
 * sides cannot drift apart. Built and run by make; its output is shipped, never edited. */
#include <stdio.h>
#include <stdlib.h>

#include "api.h"
#include "model.h"
#include "rope.h"
#include "sampler.h"
#include "types.h"

/* The shortest decimal that reads back as the same float (0.8f prints 0.8, not 0.800000011920929):
 * JS passes it on as a double, which the engine rounds to that float again. */
static void print_float(const char *key, float v, const char *sep) {
    char buf[32];
    for (int digits = 1; digits <= 9; digits++) {
        snprintf(buf, sizeof buf, "%.*g", digits, (double)v);
        if (strtof(buf, NULL) == v) break;
    }
    printf("%s: %s%s", key, buf, sep);
}

int main(void) {
    printf("// wasm/build/abi.mjs — written by make (scripts/abi.c) from the C sources: do not edit.\n\n");

    printf("/** Names of the statuses the C API returns (api.h), by value. */\nexport const STATUS = { ");
    const char *sep = "";
#define PRINT_STATUS(name, value) printf("%s'%d': '%s'", sep, value, #name), sep = ", ";
    NTK_ERRORS(PRINT_STATUS)
#undef PRINT_STATUS
    printf(" };\n");

    printf("/** RoPE modes (ntk_set_rope's mode is the index). */\nexport const ROPE_MODES = [");
    for (int m = 0; rope_mode_name((rope_mode)m); m++) printf("%s'%s'", m ? ", " : "", rope_mode_name((rope_mode)m));
    printf("];\n");

    printf("/** KV cache element types (ntk_set_kv_type's type is the index). */\nexport const KV_TYPES = [");
    for (int t = 0; kv_type_name(t); t++) printf("%s'%s'", t ? ", " : "", kv_type_name(t));
    printf("];\n");

    printf("/** Most threads ntk_set_threads takes. */\nexport const MAX_THREADS = %d;\n", NTK_MAX_THREADS);

    sampler_params p;
    sampler_defaults(&p);
    printf("/** The sampling defaults (sampler_defaults). */\nexport const SAMPLING_DEFAULTS = { ");
    print_float("temperature", p.temperature, ", ");
    printf("topK: %d, ", (int)p.top_k);
    print_float("topP", p.top_p, ", ");
    print_float("minP", p.min_p, ", ");
    print_float("repeatPenalty", p.repeat_penalty, ", ");
    printf("repeatWindow: %d };\n", (int)p.repeat_window);

    printf("/** Every ggml type id: its name, values and bytes a block (0 for removed types) and whether\n"
           " * the engine runs it. */\nexport const GGML_TYPES = [\n");
    for (uint32_t id = 0; id < GGML_TYPE_COUNT; id++) {
        const ggml_type_traits *t = ggml_type_info(id);
        if (t)
            printf("  { id: %u, name: '%s', blockSize: %d, typeBytes: %d, runs: %s },\n", id, t->name, t->block_size,
                   t->type_size, t->dot ? "true" : "false");
    }
    printf("];\n");
    return ferror(stdout) ? 1 : 0;
}
