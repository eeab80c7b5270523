/* test_sampler.c — checks src/sampler.c against independently computed expectations.
 * Build: gcc -std=c11 -O1 -g -fsanitize=address,undefined -Wall -Wextra -Isrc \
 *            src/sampler.c tests/c/test_sampler.c -lm -o /tmp/test_sampler
 * Prints one line per check and ends with "N passed, M failed"; exits 1 on any failure. */
#include <stddef.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sampler.h"

static int n_pass, n_fail;

static void check(int ok, const char *name, const char *detail) {
    if (ok) {
        n_pass++;
        printf("ok   %s\n", name);
    } else {
        n_fail++;
        printf("FAIL %s: %s\n", name, detail);
    }
}

/* The test's own generator, so expected data does not depend on the code under test. */
static uint32_t lcg_state = 12345;
static float lcg_uniform(float lo, float hi) {
    lcg_state = lcg_state * 1664525u + 1013904223u;
    return lo + (hi - lo) * (float)(lcg_state >> 8) / 16777216.0f;
}

static void random_logits(float *l, int n, float lo, float hi) {
    for (int i = 0; i < n; i++) l[i] = lcg_uniform(lo, hi);
}

static int ref_argmax(const float *l, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (l[i] > l[best]) best = i;
    return best;
}

/* softmax(l / t) in double, written separately from the sampler's float version. */
static void ref_softmax(const float *l, int n, double t, double *out) {
    double max = l[0], sum = 0.0;
    for (int i = 1; i < n; i++)
        if (l[i] > max) max = l[i];
    for (int i = 0; i < n; i++) sum += out[i] = exp((l[i] - max) / t);
    for (int i = 0; i < n; i++) out[i] /= sum;
}

static int make(sampler *s, const sampler_params *p, int n_vocab) {
    char err[128];
    if (sampler_init(s, p, n_vocab, err, sizeof err) == 0) return 1;
    printf("FAIL sampler_init unexpectedly rejected params: %s\n", err);
    n_fail++;
    return 0;
}

static void test_defaults(void) {
    sampler_params p;
    sampler_defaults(&p);
    check(p.temperature == 0.8f && p.top_k == 40 && p.top_p == 0.95f && p.min_p == 0.05f && p.repeat_penalty == 1.0f &&
              p.repeat_window == 64 && p.seed == 0,
          "defaults: temperature 0.8, top_k 40, top_p 0.95, min_p 0.05, penalty 1, window 64, seed 0",
          "a default field has an unexpected value");
}

/* The defaults with every stage off (greedy, no filters, no penalty): each test turns on the
 * stages it checks. */
static void stages_off(sampler_params *p) {
    sampler_defaults(p);
    p->temperature = 0.0f;
    p->top_k = 0;
    p->top_p = 1.0f;
    p->min_p = 0.0f;
}

static void test_greedy(void) {
    enum { N = 1000 };
    static float l[N];
    sampler_params p;
    stages_off(&p);
    sampler s;
    if (!make(&s, &p, N)) return;
    int ok = 1;
    for (int trial = 0; trial < 50 && ok; trial++) {
        random_logits(l, N, -10.0f, 10.0f);
        ok = sampler_sample(&s, l, NULL, 0) == ref_argmax(l, N);
    }
    check(ok, "greedy picks the argmax of random logits", "differs from reference argmax");

    for (int i = 0; i < N; i++) l[i] = 0.0f;
    l[300] = l[700] = l[500] = 5.0f;
    check(sampler_sample(&s, l, NULL, 0) == 300, "greedy breaks ties toward the lowest id",
          "did not pick id 300 among 300/500/700");

    l[100] = NAN;
    check(sampler_sample(&s, l, NULL, 0) == 300, "greedy ignores a NaN logit", "a NaN logit changed the choice");
    sampler_free(&s);
}

static void test_repeat_penalty(void) {
    sampler_params p;
    stages_off(&p);
    p.repeat_penalty = 1.1f;
    p.repeat_window = 3;
    sampler s;
    if (!make(&s, &p, 4)) return;
    char d[128];

    /* 2.0 / 1.1 = 1.818 < 1.9: dividing a positive logit flips the argmax. */
    float pos[4] = { 2.0f, 1.9f, 0.0f, -1.0f };
    int32_t h1[] = { 0 };
    int32_t got = sampler_sample(&s, pos, h1, 1);
    snprintf(d, sizeof d, "got %d, want 1", (int)got);
    check(got == 1, "penalty divides a positive logit and changes the argmax", d);

    /* -1.0 * 1.1 = -1.1 < -1.05: a negative logit must be multiplied, not divided. */
    float neg[4] = { -1.0f, -1.05f, -3.0f, -4.0f };
    got = sampler_sample(&s, neg, h1, 1);
    snprintf(d, sizeof d, "got %d, want 1", (int)got);
    check(got == 1, "penalty multiplies a negative logit and changes the argmax", d);

    /* Token 0 is the 4th-last entry, outside a window of 3. */
    int32_t h2[] = { 0, 3, 3, 3 };
    got = sampler_sample(&s, pos, h2, 4);
    snprintf(d, sizeof d, "got %d, want 0", (int)got);
    check(got == 0, "penalty is confined to the last repeat_window tokens", d);

    /* Applied once: 1.818 > 1.7 keeps 0; applied three times (1.503) would pick 1. */
    float close[4] = { 2.0f, 1.7f, 0.0f, 0.0f };
    int32_t h3[] = { 0, 0, 0 };
    got = sampler_sample(&s, close, h3, 3);
    snprintf(d, sizeof d, "got %d, want 0", (int)got);
    check(got == 0, "a token repeated in the window is penalised once", d);

    int32_t h4[] = { -1, 4, 1 << 30 };
    got = sampler_sample(&s, pos, h4, 3);
    snprintf(d, sizeof d, "got %d, want 0", (int)got);
    check(got == 0, "out-of-range history ids are ignored", d);
    sampler_free(&s);

    p.repeat_window = 0;
    if (!make(&s, &p, 4)) return;
    got = sampler_sample(&s, pos, h1, 1);
    check(got == 0, "repeat_window 0 disables the penalty", "token 0 was penalised");
    sampler_free(&s);
}

static void test_top_k_one_is_greedy(void) {
    enum { N = 500 };
    static float l[N];
    const float temps[] = { 0.05f, 1.0f, 10.0f, 1000.0f };
    int ok = 1;
    for (size_t t = 0; t < sizeof temps / sizeof temps[0]; t++) {
        sampler_params p;
        stages_off(&p);
        p.temperature = temps[t];
        p.top_k = 1;
        p.top_p = 0.5f;
        p.seed = t;
        sampler s;
        if (!make(&s, &p, N)) return;
        for (int trial = 0; trial < 40; trial++) {
            random_logits(l, N, -5.0f, 5.0f);
            if (trial % 2) l[N - 1] = l[ref_argmax(l, N)]; /* a tie the lowest id must win */
            if (sampler_sample(&s, l, NULL, 0) != ref_argmax(l, N)) ok = 0;
        }
        sampler_free(&s);
    }
    check(ok, "top_k=1 equals greedy at temperatures 0.05..1000", "a draw differed from argmax");
}

/* Draw `draws` tokens and compare each token's frequency with want[]; tokens with want 0
 * must never appear, and every token with want > 0 must appear at least once. */
static void check_frequencies(const char *name, const sampler_params *p, const float *l, int n, const double *want,
                              int draws, double tol) {
    sampler s;
    if (!make(&s, p, n)) return;
    int *count = calloc((size_t)n, sizeof *count);
    int out_of_range = 0;
    for (int i = 0; i < draws; i++) {
        int32_t t = sampler_sample(&s, l, NULL, 0);
        if (t < 0 || t >= n)
            out_of_range++;
        else
            count[t]++;
    }
    double max_diff = 0.0;
    int forbidden = -1, missing = -1;
    for (int i = 0; i < n; i++) {
        double f = (double)count[i] / draws;
        if (fabs(f - want[i]) > max_diff) max_diff = fabs(f - want[i]);
        if (want[i] == 0.0 && count[i] > 0) forbidden = i;
        if (want[i] > 0.0 && count[i] == 0) missing = i;
    }
    char d[160];
    snprintf(d, sizeof d,
             "max |freq - p| = %.4f (tol %.3f), forbidden id %d, missing id %d, "
             "%d out of range",
             max_diff, tol, forbidden, missing, out_of_range);
    char line[256];
    snprintf(line, sizeof line, "%s (%d draws, max |freq - p| = %.4f <= %.3f)", name, draws, max_diff, tol);
    check(max_diff <= tol && forbidden < 0 && missing < 0 && !out_of_range, line, d);
    free(count);
    sampler_free(&s);
}

/* Keep only the ids in keep[] (by the reference's reasoning) and renormalise. */
static void restrict_to(double *prob, int n, const int *keep) {
    double sum = 0.0;
    for (int i = 0; i < n; i++) {
        if (!keep[i]) prob[i] = 0.0;
        sum += prob[i];
    }
    for (int i = 0; i < n; i++) prob[i] /= sum;
}

enum { SMALL = 8, DRAWS = 20000 };
/* Probabilities spread between ~0.01 and ~0.37 so both tails are exercised. */
static const float small_logits[SMALL] = { 1.0f, 2.5f, -0.5f, 0.3f, 2.0f, -1.5f, 1.4f, 0.0f };

static void test_softmax_frequencies(void) {
    double want[SMALL];
    sampler_params p;
    stages_off(&p);
    p.seed = 7;
    p.temperature = 1.0f;
    ref_softmax(small_logits, SMALL, 1.0, want);
    check_frequencies("temperature 1 frequencies match softmax", &p, small_logits, SMALL, want, DRAWS, 0.01);

    p.temperature = 0.5f;
    ref_softmax(small_logits, SMALL, 0.5, want);
    check_frequencies("temperature 0.5 frequencies match softmax(l/0.5)", &p, small_logits, SMALL, want, DRAWS, 0.01);

    p.temperature = 1.0f;
    p.top_k = 3;
    ref_softmax(small_logits, SMALL, 1.0, want);
    int keep_k[SMALL] = { 0 };
    keep_k[1] = keep_k[4] = keep_k[6] = 1; /* the three largest: 2.5, 2.0, 1.4 */
    restrict_to(want, SMALL, keep_k);
    check_frequencies("top_k 3 keeps the three largest, renormalised", &p, small_logits, SMALL, want, DRAWS, 0.01);
}

/* Allowed sets are derived from probabilities in double, with the cut-offs chosen away from
 * the boundary so float rounding in the sampler cannot legitimately disagree. */
static void test_top_p(void) {
    double prob[SMALL];
    int order[SMALL], keep[SMALL] = { 0 };
    ref_softmax(small_logits, SMALL, 1.0, prob);
    for (int i = 0; i < SMALL; i++) order[i] = i;
    for (int i = 1; i < SMALL; i++) /* insertion sort by descending probability */
        for (int j = i; j > 0 && prob[order[j]] > prob[order[j - 1]]; j--) {
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    const float top_p = 0.75f;
    double cum = 0.0;
    for (int i = 0; i < SMALL && cum < top_p; i++) {
        keep[order[i]] = 1;
        cum += prob[order[i]];
    }
    int n_keep = 0;
    for (int i = 0; i < SMALL; i++) n_keep += keep[i];
    restrict_to(prob, SMALL, keep);

    sampler_params p;
    stages_off(&p);
    p.temperature = 1.0f;
    p.top_p = top_p;
    p.seed = 11;
    char name[96];
    snprintf(name, sizeof name, "top_p 0.75 draws only the %d-token nucleus, renormalised", n_keep);
    check_frequencies(name, &p, small_logits, SMALL, prob, DRAWS, 0.01);

    /* A dominant token alone exceeds top_p: the nucleus is that single token. */
    float peaked[SMALL] = { 0.0f, 0.0f, 8.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f };
    double one[SMALL] = { 0, 0, 1, 0, 0, 0, 0, 0 };
    p.top_p = 0.5f;
    check_frequencies("top_p keeps at least the top token", &p, peaked, SMALL, one, 2000, 0.0);
}

static void test_min_p(void) {
    double prob[SMALL];
    int keep[SMALL];
    ref_softmax(small_logits, SMALL, 1.0, prob);
    double pmax = 0.0;
    for (int i = 0; i < SMALL; i++)
        if (prob[i] > pmax) pmax = prob[i];
    /* min_p 0.2 keeps p >= 0.2 * pmax, i.e. logit >= 2.5 + ln 0.2 = 0.89. */
    const float min_p = 0.2f;
    int n_keep = 0;
    for (int i = 0; i < SMALL; i++) n_keep += keep[i] = prob[i] >= min_p * pmax;
    restrict_to(prob, SMALL, keep);

    sampler_params p;
    stages_off(&p);
    p.temperature = 1.0f;
    p.min_p = min_p;
    p.seed = 13;
    char name[96];
    snprintf(name, sizeof name, "min_p 0.2 draws only the %d tokens with p >= 0.2 p_max", n_keep);
    check_frequencies(name, &p, small_logits, SMALL, prob, DRAWS, 0.01);

    /* top_p 0.9 and min_p 0.2 together: the intersection, here the min_p set. */
    p.top_p = 0.9f;
    check_frequencies("top_p 0.9 with min_p 0.2 draws from the intersection", &p, small_logits, SMALL, prob, DRAWS,
                      0.01);
}

static void draw_sequence(uint64_t seed, int32_t *out, int n) {
    enum { V = 256 };
    float l[V] = { 0 }; /* uniform: every token equally likely, so streams are easy to tell apart */
    sampler_params p;
    stages_off(&p);
    p.temperature = 1.0f;
    p.seed = seed;
    sampler s;
    if (!make(&s, &p, V)) return;
    for (int i = 0; i < n; i++) out[i] = sampler_sample(&s, l, NULL, 0);
    sampler_free(&s);
}

static void test_determinism(void) {
    enum { LEN = 200 };
    int32_t a[LEN], b[LEN], c[LEN], z[LEN];
    draw_sequence(42, a, LEN);
    draw_sequence(42, b, LEN);
    draw_sequence(43, c, LEN);
    draw_sequence(0, z, LEN);
    check(memcmp(a, b, sizeof a) == 0, "same seed gives the same sequence", "sequences differ");
    check(memcmp(a, c, sizeof a) != 0, "different seeds give different sequences",
          "seeds 42 and 43 produced identical sequences");
    int distinct = 0;
    for (int i = 1; i < LEN; i++) distinct += z[i] != z[0];
    check(distinct > 0, "seed 0 produces a non-degenerate stream", "seed 0 repeats one token");

    uint64_t st = 0;
    double mean = 0.0;
    int in_range = 1;
    for (int i = 0; i < 100000; i++) {
        float u = sampler_rand(&st);
        if (!(u >= 0.0f && u < 1.0f)) in_range = 0;
        mean += u;
    }
    mean /= 100000;
    char d[64];
    snprintf(d, sizeof d, "in range %d, mean %.4f", in_range, mean);
    check(in_range && fabs(mean - 0.5) < 0.005, "sampler_rand is in [0,1) with mean 0.5", d);
}

static void expect_reject(const char *name, const sampler_params *p, int n_vocab, const char *want_substr) {
    sampler s;
    char err[128] = "";
    int rc = sampler_init(&s, p, n_vocab, err, sizeof err);
    char line[200], d[200];
    snprintf(line, sizeof line, "rejects %s (\"%s\")", name, err);
    snprintf(d, sizeof d, "rc %d, err \"%s\", expected it to mention \"%s\"", rc, err, want_substr);
    check(rc == -1 && strstr(err, want_substr) != NULL, line, d);
    sampler_free(&s); /* must be safe after a failed init */
}

static void test_invalid_params(void) {
    sampler_params d, p;
    sampler_defaults(&d);

    p = d;
    p.top_p = 1.5f;
    expect_reject("top_p 1.5", &p, 10, "top_p must be in (0, 1], got 1.5");
    p = d;
    p.top_p = 0.0f;
    expect_reject("top_p 0", &p, 10, "top_p");
    p = d;
    p.temperature = -0.1f;
    expect_reject("negative temperature", &p, 10, "temperature");
    p = d;
    p.temperature = NAN;
    expect_reject("NaN temperature", &p, 10, "temperature");
    p = d;
    p.temperature = INFINITY;
    expect_reject("infinite temperature", &p, 10, "temperature");
    p = d;
    p.top_k = -1;
    expect_reject("negative top_k", &p, 10, "top_k");
    p = d;
    p.min_p = 1.5f;
    expect_reject("min_p 1.5", &p, 10, "min_p");
    p = d;
    p.min_p = NAN;
    expect_reject("NaN min_p", &p, 10, "min_p");
    p = d;
    p.repeat_penalty = 0.0f;
    expect_reject("repeat_penalty 0", &p, 10, "repeat_penalty");
    p = d;
    p.repeat_penalty = INFINITY;
    expect_reject("infinite repeat_penalty", &p, 10, "repeat_penalty");
    p = d;
    p.repeat_window = -1;
    expect_reject("negative repeat_window", &p, 10, "repeat_window");
    expect_reject("n_vocab 0", &d, 0, "n_vocab");
}

static void test_large_vocab(void) {
    enum { V = 92544 };
    float *l = malloc(V * sizeof *l), *pen = malloc(V * sizeof *pen);
    int32_t hist[64];
    random_logits(l, V, -15.0f, 15.0f);
    memcpy(pen, l, V * sizeof *l);
    /* Distinct ids (1409 * 63 < V), so each is penalised exactly once. */
    for (int i = 0; i < 64; i++) {
        hist[i] = i * 1409;
        pen[hist[i]] = pen[hist[i]] > 0 ? pen[hist[i]] / 1.1f : pen[hist[i]] * 1.1f;
    }

    struct {
        const char *name;
        float temp;
        int top_k;
        float top_p, min_p;
    } cfg[] = {
        { "greedy", 0.0f, 0, 1.0f, 0.0f },
        { "top_k 40, top_p 0.9, temperature 0.8", 0.8f, 40, 0.9f, 0.0f },
        { "top_p 0.95 over the full vocab", 1.0f, 0, 0.95f, 0.0f },
        { "min_p 0.05 over the full vocab", 1.0f, 0, 1.0f, 0.05f },
        { "plain temperature over the full vocab", 1.0f, 0, 1.0f, 0.0f },
    };
    for (size_t c = 0; c < sizeof cfg / sizeof cfg[0]; c++) {
        sampler_params p;
        stages_off(&p);
        p.temperature = cfg[c].temp;
        p.top_k = cfg[c].top_k;
        p.top_p = cfg[c].top_p;
        p.min_p = cfg[c].min_p;
        p.repeat_penalty = 1.1f;
        p.seed = 99;
        sampler s;
        if (!make(&s, &p, V)) break;
        int ok = 1;
        for (int draw = 0; draw < 20 && ok; draw++) {
            int32_t t = sampler_sample(&s, l, hist, 64);
            if (t < 0 || t >= V) {
                ok = 0;
            } else if (cfg[c].temp == 0.0f) {
                ok = t == ref_argmax(pen, V);
            } else if (cfg[c].top_k > 0) { /* t must rank in the top k of the penalised logits */
                int above = 0;
                for (int i = 0; i < V; i++) above += pen[i] > pen[t];
                if (above >= cfg[c].top_k) ok = 0;
            }
        }
        char name[128];
        snprintf(name, sizeof name, "n_vocab 92544 runs: %s", cfg[c].name);
        check(ok, name, "returned an id out of range, not the argmax, or outside the top k");
        sampler_free(&s);
    }
    free(l);
    free(pen);
}

int main(void) {
    test_defaults();
    test_greedy();
    test_repeat_penalty();
    test_top_k_one_is_greedy();
    test_softmax_frequencies();
    test_top_p();
    test_min_p();
    test_determinism();
    test_invalid_params();
    test_large_vocab();
    printf("%d passed, %d failed\n", n_pass, n_fail);
    return n_fail ? 1 : 0;
}
