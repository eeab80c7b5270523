/* sampler.h — choose the next token from logits.
 *
 * Order (as llama.cpp's default chain): repetition penalty over the last `repeat_window` tokens
 * (positive logits divided by the penalty, negative multiplied), then greedy if temperature <= 0;
 * else top-k, temperature, softmax, top-p (smallest set with cumulative probability >= top_p),
 * min-p (drop tokens with p < min_p * p_max), renormalise and draw with a seeded xorshift RNG.
 * Same seed and same logits give the same token; the sampler owns no hidden global state. */
#ifndef NTK_SAMPLER_H
#define NTK_SAMPLER_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    float temperature;     /* <= 0: greedy */
    int32_t top_k;         /* <= 0: off */
    float top_p;           /* >= 1: off */
    float min_p;           /* <= 0: off */
    float repeat_penalty;  /* 1: off */
    int32_t repeat_window; /* tokens of history the penalty looks at */
    uint64_t seed;
} sampler_params;

typedef struct {
    sampler_params p;
    uint64_t rng;
    int32_t n_vocab;
    struct sampler_cand {
        int32_t id;
        float logit;
        float p;
    } * cand; /* scratch, n_vocab */
} sampler;

/* The product's defaults (the JS side reads them from wasm/build/abi.mjs): temperature 0.8,
 * top-k 40, top-p 0.95, min-p 0.05, no penalty (window 64), seed 0. */
void sampler_defaults(sampler_params *p);
/* Returns 0, or -1 with err set if a parameter is out of range or memory is short. */
int sampler_init(sampler *s, const sampler_params *p, int32_t n_vocab, char *err, size_t errlen);
void sampler_free(sampler *s);
/* logits: n_vocab floats (not modified). history: the last n_hist tokens of the context. */
int32_t sampler_sample(sampler *s, const float *logits, const int32_t *history, int64_t n_hist);
/* xorshift64*: next random float in [0,1) */
float sampler_rand(uint64_t *state);

#endif
