/* threadpool.c — see threadpool.h. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime under -std=c11 */
#include "threadpool.h"

#include <stddef.h>

#ifdef NTK_THREADS

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* How long an idle worker (or the caller waiting for the last tasks) watches before sleeping:
 * longer than the serial work between two products of a decode step, short enough that a
 * pool nobody uses gets its CPU back at once. */
#define SPIN_NS 50000
/* Threads pay only while each has a core. On a machine busy with other work the pool's threads
 * share what the scheduler grants them (with autogroup, one share per session whatever the
 * number of threads): a worker descheduled in the middle of a task holds the job up, and one
 * spinning burns time the working one needed. The sign is a caller that waits for the workers'
 * last tasks longer than STALL_NS beyond twice its own tasks' time: a worker that runs keeps
 * pace with the caller (a task it claims late, after waking, ends a task's time later), one
 * that is descheduled falls milliseconds behind. Then the caller runs the jobs of the next
 * CONTENDED_NS alone, as one thread would, and tries the workers again after. (Measured under
 * load: with STALL_NS at 200 us rather than 50, 2 threads decoded at 0.5-0.6x one instead of
 * 0.9-1.0x.) */
#define STALL_NS     50000
#define CONTENDED_NS 100000000

struct threadpool {
    int n_threads;
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t wake;     /* idle workers sleep here */
    pthread_cond_t finished; /* the caller sleeps here for the last tasks of a job */
    /* Even: job number gen/2 is published. Odd: the caller is rewriting the job fields, and
     * waits until no worker is `active` (inside the job protocol) before it does. Idle workers
     * poll gen: it has a cache line to itself, away from the counters every task bumps. */
    _Alignas(64) atomic_uint gen;
    atomic_int stop;
    _Atomic int64_t alone_until;        /* now_ns() before which the caller works alone */
    _Alignas(64) atomic_int next, done; /* the next task to claim; tasks finished */
    _Alignas(64) atomic_int active, sleepers, caller_sleeping;
    int n_tasks;
    task_fn fn;
    void *ctx;
};

typedef struct {
    threadpool *p;
    int thread;
} worker_arg;

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Spin on cond(p, arg) for SPIN_NS (the clock read once every 64 turns); 1 if it held. */
static int spin_until(int (*cond)(threadpool *, unsigned), threadpool *p, unsigned arg) {
    const int64_t t0 = now_ns();
    for (unsigned i = 1;; i++) {
        if (cond(p, arg)) return 1;
        if (i % 64 == 0 && now_ns() - t0 > SPIN_NS) return 0;
    }
}

static int job_after(threadpool *p, unsigned seen) {
    unsigned g = atomic_load(&p->gen);
    return (g != seen && !(g & 1)) || atomic_load(&p->stop);
}

static int job_done(threadpool *p, unsigned n_tasks) { return atomic_load(&p->done) == (int)n_tasks; }

/* Claim and run tasks until none is left; returns how many this thread ran. */
static int run_tasks(threadpool *p, int thread) {
    for (int ran = 0;; ran++) {
        int t = atomic_fetch_add(&p->next, 1);
        if (t >= p->n_tasks) return ran;
        p->fn(p->ctx, t, thread);
        if (atomic_fetch_add(&p->done, 1) + 1 == p->n_tasks && atomic_load(&p->caller_sleeping)) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->finished);
            pthread_mutex_unlock(&p->mu);
        }
    }
}

static void *worker_main(void *arg) {
    threadpool *p = ((worker_arg *)arg)->p;
    const int thread = ((worker_arg *)arg)->thread;
    free(arg);
    unsigned seen = 0;
    for (;;) {
        if (!spin_until(job_after, p, seen)) {
            /* sleepers is counted before the check under the lock, and the caller reads it after
             * publishing: one of the two sees the other, so no wake-up is lost */
            pthread_mutex_lock(&p->mu);
            atomic_fetch_add(&p->sleepers, 1);
            while (!job_after(p, seen)) pthread_cond_wait(&p->wake, &p->mu);
            atomic_fetch_sub(&p->sleepers, 1);
            pthread_mutex_unlock(&p->mu);
        }
        if (atomic_load(&p->stop)) return NULL;
        /* announce, then look again: a job the caller started rewriting is left alone */
        atomic_fetch_add(&p->active, 1);
        unsigned g = atomic_load(&p->gen);
        if (g != seen && !(g & 1)) {
            run_tasks(p, thread);
            seen = g;
        }
        atomic_fetch_sub(&p->active, 1);
    }
}

threadpool *threadpool_new(int n_threads) {
    if (n_threads < 1) return NULL;
    threadpool *p = aligned_alloc(64, sizeof *p); /* the struct's cache lines */
    if (!p) return NULL;
    memset(p, 0, sizeof *p);
    p->threads = calloc((size_t)n_threads, sizeof *p->threads);
    if (!p->threads) {
        free(p);
        return NULL;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->finished, NULL);
    p->n_threads = 1;
    for (int i = 1; i < n_threads; i++) {
        worker_arg *a = malloc(sizeof *a);
        if (a) *a = (worker_arg){ p, i };
        if (!a || pthread_create(&p->threads[i], NULL, worker_main, a)) {
            free(a);
            threadpool_free(p);
            return NULL;
        }
        p->n_threads++;
    }
    return p;
}

void threadpool_free(threadpool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->stop, 1);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->n_threads; i++) pthread_join(p->threads[i], NULL);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->finished);
    pthread_mutex_destroy(&p->mu);
    free(p->threads);
    free(p);
}

int threadpool_size(const threadpool *p) { return p ? p->n_threads : 1; }

/* parallel_for with workers to share the job. */
static void run_job(threadpool *p, int n_tasks, task_fn fn, void *ctx) {
    if (now_ns() < atomic_load(&p->alone_until)) {
        for (int t = 0; t < n_tasks; t++) fn(ctx, t, 0);
        return;
    }
    unsigned g = atomic_load(&p->gen);
    atomic_store(&p->gen, g + 1);
    /* a worker late for the previous job may still be reading its fields */
    while (atomic_load(&p->active)) sched_yield();
    p->fn = fn;
    p->ctx = ctx;
    p->n_tasks = n_tasks;
    atomic_store(&p->next, 0);
    atomic_store(&p->done, 0);
    atomic_store(&p->gen, g + 2);
    if (atomic_load(&p->sleepers)) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->wake);
        pthread_mutex_unlock(&p->mu);
    }
    const int64_t t0 = now_ns();
    const int mine = run_tasks(p, 0);
    const int64_t t1 = now_ns();
    if (!spin_until(job_done, p, (unsigned)n_tasks)) {
        pthread_mutex_lock(&p->mu);
        atomic_store(&p->caller_sleeping, 1);
        while (!job_done(p, (unsigned)n_tasks)) pthread_cond_wait(&p->finished, &p->mu);
        atomic_store(&p->caller_sleeping, 0);
        pthread_mutex_unlock(&p->mu);
        const int64_t t2 = now_ns();
        if (t2 - t1 > STALL_NS + 2 * (t1 - t0) / (mine ? mine : 1)) atomic_store(&p->alone_until, t2 + CONTENDED_NS);
    }
}

#else /* no threads in this build: no pool, every job runs inline */

threadpool *threadpool_new(int n_threads) {
    (void)n_threads;
    return NULL;
}
void threadpool_free(threadpool *p) { (void)p; }
int threadpool_size(const threadpool *p) {
    (void)p;
    return 1;
}

#endif

void parallel_for(threadpool *p, int n_tasks, task_fn fn, void *ctx) {
    if (threadpool_size(p) == 1 || n_tasks <= 1) {
        for (int t = 0; t < n_tasks; t++) fn(ctx, t, 0);
        return;
    }
#ifdef NTK_THREADS
    run_job(p, n_tasks, fn, ctx);
#endif
}
