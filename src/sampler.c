/* sampler.c — repetition penalty, greedy / top-k / temperature / top-p / min-p, seeded draw.
 * See sampler.h for the order of the stages; everything here works in the caller's scratch
 * (s->cand) so sampling allocates nothing per token. */
#include <stddef.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "sampler.h"

typedef struct sampler_cand cand_t;

void sampler_defaults(sampler_params *p) {
    p->temperature = 0.8f;
    p->top_k = 40;
    p->top_p = 0.95f;
    p->min_p = 0.05f;
    p->repeat_penalty = 1.0f;
    p->repeat_window = 64;
    p->seed = 0;
}

/* splitmix64 spreads nearby seeds (0, 1, 2...) over the whole state space, so consecutive
 * seeds give unrelated streams and seed 0 does not become xorshift's stuck all-zero state. */
static uint64_t splitmix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

float sampler_rand(uint64_t *state) {
    uint64_t x = *state;
    /* Zero is xorshift's only fixed point; a caller-made state may hit it. */
    if (x == 0) x = 0x9E3779B97F4A7C15ull;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    /* 24 bits fill a float mantissa exactly, so the result is never rounded up to 1. */
    return (float)((x * 0x2545F4914F6CDD1Dull) >> 40) * (1.0f / 16777216.0f);
}

static int fail(char *err, size_t errlen, const char *msg, double got) {
    if (err && errlen) snprintf(err, errlen, "%s, got %g", msg, got);
    return -1;
}

int sampler_init(sampler *s, const sampler_params *p, int32_t n_vocab, char *err, size_t errlen) {
    s->cand = NULL;
    s->n_vocab = 0;
    s->rng = 0;
    if (err && errlen) err[0] = '\0';
    /* Negated comparisons so that NaN fails every range check. */
    if (!(p->temperature >= 0.0f) || !isfinite(p->temperature))
        return fail(err, errlen, "temperature must be finite and >= 0", p->temperature);
    if (p->top_k < 0) return fail(err, errlen, "top_k must be >= 0", p->top_k);
    if (!(p->top_p > 0.0f && p->top_p <= 1.0f)) return fail(err, errlen, "top_p must be in (0, 1]", p->top_p);
    if (!(p->min_p >= 0.0f && p->min_p <= 1.0f)) return fail(err, errlen, "min_p must be in [0, 1]", p->min_p);
    if (!(p->repeat_penalty > 0.0f) || !isfinite(p->repeat_penalty))
        return fail(err, errlen, "repeat_penalty must be finite and > 0", p->repeat_penalty);
    if (p->repeat_window < 0) return fail(err, errlen, "repeat_window must be >= 0", p->repeat_window);
    if (n_vocab <= 0) return fail(err, errlen, "n_vocab must be > 0", n_vocab);

    s->cand = calloc((size_t)n_vocab, sizeof *s->cand);
    if (!s->cand) {
        if (err && errlen) snprintf(err, errlen, "out of memory for %ld sampler candidates", (long)n_vocab);
        return -1;
    }
    s->p = *p;
    s->n_vocab = n_vocab;
    s->rng = splitmix64(p->seed);
    return 0;
}

void sampler_free(sampler *s) {
    free(s->cand);
    s->cand = NULL;
    s->n_vocab = 0;
}

/* The total order every stage agrees on: higher logit first, lower id on ties. Making ties
 * deterministic is what lets top_k=1 coincide with greedy and keeps results independent of
 * how the heap happens to shuffle equal logits. */
static int better(const cand_t *a, const cand_t *b) {
    return a->logit > b->logit || (a->logit == b->logit && a->id < b->id);
}

static size_t argmax(const cand_t *c, size_t n) {
    size_t best = 0;
    for (size_t i = 1; i < n; i++)
        if (better(&c[i], &c[best])) best = i;
    return best;
}

/* Sift for a heap whose root is the worst candidate (so the top k can be kept by evicting it). */
static void sift_down(cand_t *h, size_t n, size_t i) {
    for (;;) {
        size_t worst = i, l = 2 * i + 1, r = l + 1;
        if (l < n && better(&h[worst], &h[l])) worst = l;
        if (r < n && better(&h[worst], &h[r])) worst = r;
        if (worst == i) return;
        cand_t t = h[i];
        h[i] = h[worst];
        h[worst] = t;
        i = worst;
    }
}

/* Move the best k of c[0..n) to c[0..k), sorted best first, in O(n log k): a k-element heap
 * rooted at the worst kept candidate screens the rest, then heapsort orders what survived.
 * With k == n this is a plain heapsort, which top-p needs when top-k is off. */
static void partial_sort(cand_t *c, size_t n, size_t k) {
    for (size_t i = k / 2; i-- > 0;) sift_down(c, k, i);
    for (size_t i = k; i < n; i++) {
        if (better(&c[i], &c[0])) {
            c[0] = c[i];
            sift_down(c, k, 0);
        }
    }
    for (size_t end = k; end-- > 1;) {
        cand_t t = c[0];
        c[0] = c[end];
        c[end] = t;
        sift_down(c, end, 0);
    }
}

static void apply_repeat_penalty(cand_t *c, int32_t n_vocab, float penalty, int32_t window, const int32_t *history,
                                 int64_t n_hist) {
    if (penalty == 1.0f || window <= 0 || !history || n_hist <= 0) return;
    /* c[id].p is still unused here (zeroed by the copy), so it marks ids already penalised:
     * a token repeated in the window is penalised once, as in llama.cpp. */
    for (int64_t i = n_hist > window ? n_hist - window : 0; i < n_hist; i++) {
        int32_t id = history[i];
        if (id < 0 || id >= n_vocab || c[id].p != 0.0f) continue;
        c[id].p = 1.0f;
        if (c[id].logit > 0.0f)
            c[id].logit /= penalty;
        else
            c[id].logit *= penalty;
    }
}

int32_t sampler_sample(sampler *s, const float *logits, const int32_t *history, int64_t n_hist) {
    const sampler_params *p = &s->p;
    cand_t *c = s->cand;
    size_t n = (size_t)s->n_vocab;

    for (size_t i = 0; i < n; i++) {
        c[i].id = (int32_t)i;
        /* NaN would break the ordering that sorting and argmax rely on; treat it as masked. */
        c[i].logit = isnan(logits[i]) ? -INFINITY : logits[i];
        c[i].p = 0.0f;
    }
    apply_repeat_penalty(c, s->n_vocab, p->repeat_penalty, p->repeat_window, history, n_hist);

    if (p->temperature <= 0.0f) return c[argmax(c, n)].id;

    size_t k = p->top_k > 0 && (size_t)p->top_k < n ? (size_t)p->top_k : n;
    if (k < n || p->top_p < 1.0f) {
        partial_sort(c, n, k);
        n = k;
    }

    /* Once every logit is -inf, or one is +inf, the softmax is 0/0; the limit of the
     * distribution is then a point mass on the best candidate. */
    size_t best = argmax(c, n);
    float max = c[best].logit;
    if (!isfinite(max)) return c[best].id;

    /* Subtracting before dividing keeps a tiny temperature from overflowing l/T to inf. */
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) {
        c[i].p = expf((c[i].logit - max) / p->temperature);
        sum += c[i].p;
    }
    for (size_t i = 0; i < n; i++) c[i].p = (float)(c[i].p / sum);

    if (p->top_p < 1.0f) {
        double cum = 0.0;
        for (size_t i = 0; i < n; i++) {
            cum += c[i].p;
            if (cum >= p->top_p) {
                n = i + 1;
                break;
            }
        }
    }

    if (p->min_p > 0.0f) {
        /* The best candidate always passes (min_p <= 1), so at least one survives. */
        float threshold = p->min_p * c[best].p;
        size_t kept = 0;
        for (size_t i = 0; i < n; i++)
            if (c[i].p >= threshold) c[kept++] = c[i];
        n = kept;
    }

    /* Scaling u by the kept mass is the renormalisation, without a pass of divisions. */
    double total = 0.0;
    for (size_t i = 0; i < n; i++) total += c[i].p;
    double u = (double)sampler_rand(&s->rng) * total;
    double cum = 0.0;
    for (size_t i = 0; i + 1 < n; i++) {
        cum += c[i].p;
        if (u < cum) return c[i].id;
    }
    return c[n - 1].id;
}
