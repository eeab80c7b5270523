/* threadpool.h — a persistent pool of worker threads that run the tasks of one job at a time,
 * the calling thread working too.
 *
 * Only builds compiled with NTK_THREADS (pthreads: the wasm -pthread build, native tests) have
 * workers. Elsewhere, and with a NULL pool, parallel_for runs every task inline, so the engine
 * calls it the same way in every build.
 *
 * After a job the workers spin for a few tens of microseconds watching for the next one (the
 * matrix products of a decode step follow each other closely), then sleep on a condition
 * variable: a pool left idle does not burn CPU. Tasks are claimed one at a time from a shared
 * counter, so a worker that wakes late leaves its share to the others; and a caller kept
 * waiting by workers that other processes crowd out runs the jobs of the next moment alone
 * (threadpool.c), so a busy machine does not make the pool slower than one thread by much. */
#ifndef NTK_THREADPOOL_H
#define NTK_THREADPOOL_H

typedef struct threadpool threadpool;

/* Task `task` of a job, run on thread `thread` in [0, threadpool_size): 0 is the caller. */
typedef void (*task_fn)(void *ctx, int task, int thread);

/* A pool of n_threads threads counting the caller (n_threads - 1 workers). NULL when the build
 * has no threads (and n_threads > 1), out of memory, or a thread cannot start. */
threadpool *threadpool_new(int n_threads);
void threadpool_free(threadpool *p);
/* Threads that run a job, the caller included: 1 for a NULL pool. */
int threadpool_size(const threadpool *p);
/* Run fn(ctx, t, thread) for t in [0, n_tasks), each once, and return when all are done.
 * Not reentrant: one job at a time, from one calling thread. */
void parallel_for(threadpool *p, int n_tasks, task_fn fn, void *ctx);

#endif
