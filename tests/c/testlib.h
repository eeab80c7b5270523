/* testlib.h — what the C unit tests share: a check macro with a pass/fail tally that ends in the
 * "N passed, M failed" line, file reading, a minimal GGUF writer for building good and broken
 * files in memory, seeded random data, and errors checked against a tolerance over many trials.
 * Header-only: each test is one translation unit. */
#ifndef NTK_TESTLIB_H
#define NTK_TESTLIB_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tl_passed, tl_failed;

#define CHECK(cond, ...)                                \
    do {                                                \
        if (cond)                                       \
            tl_passed++;                                \
        else {                                          \
            tl_failed++;                                \
            printf("FAIL %s:%d: ", __FILE__, __LINE__); \
            printf(__VA_ARGS__);                        \
            printf("\n");                               \
        }                                               \
    } while (0)

static inline int tl_summary(void) {
    printf("%d passed, %d failed\n", tl_passed, tl_failed);
    return tl_failed ? 1 : 0;
}

static inline uint8_t *tl_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        printf("cannot open %s\n", path);
        exit(2);
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        printf("cannot read %s\n", path);
        exit(2);
    }
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* tl_read_file of dir/name */
static inline uint8_t *tl_read_in(const char *dir, const char *name, size_t *len) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return tl_read_file(path, len);
}

/* ---- random data: xorshift64 from a fixed seed, so a failure reproduces ---- */
static uint64_t tl_rng = 0x2545F4914F6CDD1Dull;

static inline uint64_t tl_rand_u64(void) {
    tl_rng ^= tl_rng << 13;
    tl_rng ^= tl_rng >> 7;
    tl_rng ^= tl_rng << 17;
    return tl_rng;
}

/* uniform in [lo, hi), 24 random bits */
static inline float tl_frand(float lo, float hi) { return lo + (hi - lo) * (float)(tl_rand_u64() >> 40) * 0x1p-24f; }

/* lo..hi inclusive */
static inline int tl_irand(int lo, int hi) { return lo + (int)(tl_rand_u64() % (uint64_t)(hi - lo + 1)); }

static inline void tl_fill(float *a, int n, float lo, float hi) {
    for (int i = 0; i < n; i++) a[i] = tl_frand(lo, hi);
}

static inline void tl_rand_bytes(void *p, size_t n) {
    for (size_t i = 0; i < n; i++) ((uint8_t *)p)[i] = (uint8_t)(tl_rand_u64() >> 56);
}

static inline void *tl_xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) {
        printf("out of memory\n");
        exit(2);
    }
    return p;
}

/* ---- floats bit for bit ---- */
static inline uint32_t tl_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static inline float tl_from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline int tl_same_floats(const float *a, const float *b, int n) {
    for (int i = 0; i < n; i++)
        if (tl_bits(a[i]) != tl_bits(b[i])) return 0;
    return 1;
}

/* ---- errors against a tolerance ----
 * One named property checked over many trials: err <= tol * scale on every one. The scale is
 * the magnitude of the terms that were summed (e.g. sum|a_i*b_i| for a dot product), not the
 * result, which can cancel to nearly zero. A failure reports the worst error in those units. */
typedef struct {
    const char *name;
    double tol;
    long trials, bad;
    double worst; /* max err / scale */
} tl_errstat;

static inline tl_errstat tl_errstat_new(const char *name, double tol) {
    tl_errstat s = { name, tol, 0, 0, 0.0 };
    return s;
}

static inline void tl_errstat_add(tl_errstat *s, double err, double scale) {
    const double r = scale > 0 ? err / scale : (err == 0 ? 0 : INFINITY);
    s->trials++;
    if (!(err <= s->tol * scale)) /* also catches NaN */
        s->bad++;
    if (isnan(r) || r > s->worst) s->worst = isnan(r) ? INFINITY : r;
}

static inline void tl_errstat_report(const tl_errstat *s) {
    CHECK(s->bad == 0, "%s: %ld trials, %ld over tolerance, worst %.2e (tol %.0e)", s->name, s->trials, s->bad,
          s->worst, s->tol);
}

/* sum a[i]*b[i] in double (exact for the products of two floats), and *mag = sum |a[i]*b[i]| */
static inline double tl_dot_ref(const float *a, const float *b, int n, double *mag) {
    double s = 0, m = 0;
    for (int i = 0; i < n; i++) {
        s += (double)a[i] * b[i];
        m += fabs((double)a[i] * b[i]);
    }
    *mag = m;
    return s;
}

/* ---- GGUF writer ---- */
typedef struct {
    uint8_t *b;
    size_t len, cap;
} tl_buf;

static inline void tl_put(tl_buf *w, const void *p, size_t n) {
    if (w->len + n > w->cap) {
        w->cap = (w->len + n) * 2 + 256;
        w->b = realloc(w->b, w->cap);
        if (!w->b) exit(2);
    }
    memcpy(w->b + w->len, p, n);
    w->len += n;
}
static inline void tl_u32(tl_buf *w, uint32_t v) { tl_put(w, &v, 4); }
static inline void tl_u64(tl_buf *w, uint64_t v) { tl_put(w, &v, 8); }
static inline void tl_f32(tl_buf *w, float v) { tl_put(w, &v, 4); }
static inline void tl_str(tl_buf *w, const char *s) {
    tl_u64(w, strlen(s));
    tl_put(w, s, strlen(s));
}
static inline void tl_header(tl_buf *w, uint64_t n_tensors, uint64_t n_kv) {
    tl_u32(w, 0x46554747u);
    tl_u32(w, 3);
    tl_u64(w, n_tensors);
    tl_u64(w, n_kv);
}
static inline void tl_kv_str(tl_buf *w, const char *k, const char *v) {
    tl_str(w, k);
    tl_u32(w, 8);
    tl_str(w, v);
}
static inline void tl_kv_u32(tl_buf *w, const char *k, uint32_t v) {
    tl_str(w, k);
    tl_u32(w, 4);
    tl_u32(w, v);
}
static inline void tl_kv_f32(tl_buf *w, const char *k, float v) {
    tl_str(w, k);
    tl_u32(w, 6);
    tl_f32(w, v);
}
static inline void tl_pad(tl_buf *w, size_t align) {
    static const uint8_t zero[64];
    while (w->len % align) tl_put(w, zero, 1);
}

#endif
