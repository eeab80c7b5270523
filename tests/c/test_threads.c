#define _GNU_SOURCE
/* test_threads.c — the thread pool natively (built with NTK_THREADS and -pthread): every task of
 * every job runs exactly once, on a valid thread, whether the workers are spinning or asleep;
 * and the engine's logits with 2 and 4 threads are bitwise those of one thread, for a prefill
 * of several chunks and a decode loop, in the consistent and cached caches. */
#include <stdatomic.h>
#include <time.h>

#include "api.h"
#include "testlib.h"
#include "threadpool.h"

static const char *models = "models";

typedef struct {
    atomic_int runs[1000], by_workers;
    int n_threads, bad_thread;
} tally;

static void count_task(void *ctx, int task, int thread) {
    tally *t = ctx;
    atomic_fetch_add(&t->runs[task], 1);
    if (thread > 0) atomic_fetch_add(&t->by_workers, 1);
    if (thread < 0 || thread >= t->n_threads) t->bad_thread = 1;
}

static void test_pool(int n_threads) {
    threadpool *p = threadpool_new(n_threads);
    CHECK(p && threadpool_size(p) == n_threads, "a pool of %d threads", n_threads);
    static tally t;
    int wrong = 0, by_workers = 0;
    for (int job = 0; job < 2000; job++) {
        int n_tasks = job % 7 == 0 ? 1000 : job % 13;
        memset(&t, 0, sizeof t);
        t.n_threads = n_threads;
        parallel_for(p, n_tasks, count_task, &t);
        for (int i = 0; i < n_tasks; i++) wrong += atomic_load(&t.runs[i]) != 1;
        by_workers += atomic_load(&t.by_workers);
        /* now and then a pause past the spin, so jobs also find the workers asleep */
        if (job % 100 == 0) nanosleep(&(struct timespec){ 0, 2000000 }, NULL);
    }
    CHECK(wrong == 0 && !t.bad_thread, "%d threads: %d tasks did not run exactly once", n_threads, wrong);
    CHECK(by_workers > 0, "%d threads: the workers ran no task", n_threads);
    threadpool_free(p);
}

static ntk_engine *load(const char *name, int threads) {
    size_t len;
    uint8_t *buf = tl_read_in(models, name, &len);
    ntk_engine *e = ntk_new();
    CHECK(ntk_set_threads(e, threads) == NTK_OK, "set %d threads: %s", threads, ntk_error(e));
    int rc = ntk_load_begin(e);
    if (!rc) rc = ntk_load_bytes(e, buf, len);
    if (!rc) rc = ntk_load_end(e);
    CHECK(rc == NTK_OK, "load %s: %s", name, ntk_error(e));
    char want[32];
    snprintf(want, sizeof want, "\"threads\":%d,", threads);
    CHECK(rc || strstr(ntk_info_json(e), want), "info says %s", want);
    free(buf);
    return e;
}

/* Logits of a 90-token prompt (two prefill chunks), then 4 greedy decode steps, appended. */
static float *run(ntk_engine *e, int mode, size_t *n_out) {
    ntk_set_rope(e, mode, 0, 60, 0); /* a trained length of 60: dynamic NTK in play */
    const int n_vocab = ntk_n_vocab(e), n_prompt = 90, n_decode = 4;
    float *out = malloc(sizeof(float) * (size_t)n_vocab * (n_prompt + n_decode));
    int32_t ids[90];
    for (int i = 0; i < n_prompt; i++) ids[i] = i == 0 ? 1 : 5 + (i * 37) % (n_vocab - 5);
    CHECK(ntk_eval(e, ids, n_prompt, 1) == NTK_OK, "prefill: %s", ntk_error(e));
    memcpy(out, ntk_logits(e), sizeof(float) * (size_t)n_vocab * n_prompt);
    for (int s = 0; s < n_decode; s++) {
        const float *l = ntk_logits(e) + (s ? 0 : (size_t)(n_prompt - 1) * n_vocab); /* the last row */
        int32_t next = 0;
        for (int i = 1; i < n_vocab; i++)
            if (l[i] > l[next]) next = i;
        CHECK(ntk_eval(e, &next, 1, 0) == NTK_OK, "decode: %s", ntk_error(e));
        memcpy(out + (size_t)n_vocab * (n_prompt + s), ntk_logits(e), sizeof(float) * (size_t)n_vocab);
    }
    *n_out = (size_t)n_vocab * (n_prompt + n_decode);
    return out;
}

static void test_bitwise(const char *name, int mode) {
    size_t n1, n;
    ntk_engine *one = load(name, 1);
    float *ref = run(one, mode, &n1);
    ntk_free(one);
    for (int threads = 2; threads <= 4; threads += 2) {
        ntk_engine *e = load(name, threads);
        float *got = run(e, mode, &n);
        CHECK(n == n1 && !memcmp(got, ref, n * sizeof *got), "%s, %s cache, %d threads: logits differ from one thread",
              name, mode ? "cached" : "consistent", threads);
        free(got);
        ntk_free(e);
    }
    free(ref);
}

int main(int argc, char **argv) {
    if (argc > 1) models = argv[1];
    setvbuf(stdout, NULL, _IONBF, 0); /* a failure's line before a sanitizer's report */
    test_pool(2);
    test_pool(4);
    CHECK(threadpool_size(NULL) == 1, "no pool is one thread");
    ntk_engine *e = ntk_new();
    CHECK(ntk_set_threads(e, 0) == NTK_ERR_ARG && ntk_set_threads(e, NTK_MAX_THREADS + 1) == NTK_ERR_ARG,
          "threads out of range");
    ntk_free(e);
    test_bitwise("kjv-tiny-f32.gguf", 0);
    test_bitwise("kjv-tiny-q8_0.gguf", 1);
    return tl_summary();
}
