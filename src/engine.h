/* engine.h — the engine handle behind api.h, shared by the files that implement the API: api.c
 * (settings, tokens, evaluation, sampling), load.c (the load state machine) and json.c (the
 * info and metadata renderers). Private: nothing outside src/ includes it. */
#ifndef NTK_ENGINE_H
#define NTK_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "api.h"
#include "gguf.h"
#include "model.h"
#include "rope.h"
#include "sampler.h"
#include "threadpool.h"
#include "tokenizer.h"

enum { LOAD_IDLE, LOAD_RUNNING, LOAD_FAILED, LOADED };

struct ntk_engine {
    char err[512];
    int state;
    /* one GGUF file, or the parts of a split model (gguf-split): metadata in parts[0], each
     * part's tensor data in its own block (part_data[i]), where the weights stay */
    gguf_ctx *parts;
    void **part_data;
    int n_parts, split_count;
    int64_t split_tensors; /* part 1's split.tensors.count, -1 without one */
    uint8_t *staging;      /* header bytes and padding pass through here */
    size_t staging_cap;
    uint8_t *window;
    size_t window_size;

    model m;
    tokenizer tok;
    kv_cache kv;
    scratch s;
    threadpool *pool; /* NULL: one thread; outlives loads, like the settings */
    rope_config rope;
    int opt_mode;                   /* -1: model default */
    double opt_factor, opt_trained; /* 0: from the file / default */
    int64_t opt_refresh;            /* 0: every token */
    int64_t max_ctx;                /* 0: no cap */

    float *logits;
    int64_t logits_cap, logits_rows;
    sampler smp;
    detokenizer detok;
    char *info; /* the last JSON answer */
};

/* Leave a message for ntk_error; returns status. */
int engine_error(ntk_engine *e, int status, const char *fmt, ...);
/* Drop the model and everything loaded with it; the settings stay (load.c). */
void engine_unload(ntk_engine *e);
/* The RoPE in force from the model's defaults and the options (api.c). */
void engine_rope_resolve(ntk_engine *e);
/* Bytes malloc can still hand out (load.c). */
uint64_t heap_room(void);

#endif
