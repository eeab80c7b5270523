/* testlib.h — what the C unit tests share: a check macro with a pass/fail tally that ends in the
 * "N passed, M failed" line, file reading, and a minimal GGUF writer for building good and
 * broken files in memory. Header-only: each test is one translation unit. */
#ifndef NTK_TESTLIB_H
#define NTK_TESTLIB_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tl_passed, tl_failed;

#define CHECK(cond, ...)                                                   \
    do {                                                                   \
        if (cond) tl_passed++;                                             \
        else {                                                             \
            tl_failed++;                                                   \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                    \
            printf(__VA_ARGS__);                                           \
            printf("\n");                                                  \
        }                                                                  \
    } while (0)

static inline int tl_summary(void) {
    printf("%d passed, %d failed\n", tl_passed, tl_failed);
    return tl_failed ? 1 : 0;
}

static inline uint8_t *tl_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) { printf("cannot open %s\n", path); exit(2); }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) { printf("cannot read %s\n", path); exit(2); }
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

/* ---- GGUF writer ---- */
typedef struct { uint8_t *b; size_t len, cap; } tl_buf;

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
static inline void tl_str(tl_buf *w, const char *s) { tl_u64(w, strlen(s)); tl_put(w, s, strlen(s)); }
static inline void tl_header(tl_buf *w, uint64_t n_tensors, uint64_t n_kv) {
    tl_u32(w, 0x46554747u);
    tl_u32(w, 3);
    tl_u64(w, n_tensors);
    tl_u64(w, n_kv);
}
static inline void tl_kv_str(tl_buf *w, const char *k, const char *v) { tl_str(w, k); tl_u32(w, 8); tl_str(w, v); }
static inline void tl_kv_u32(tl_buf *w, const char *k, uint32_t v) { tl_str(w, k); tl_u32(w, 4); tl_u32(w, v); }
static inline void tl_kv_f32(tl_buf *w, const char *k, float v) { tl_str(w, k); tl_u32(w, 6); tl_f32(w, v); }
static inline void tl_pad(tl_buf *w, size_t align) {
    static const uint8_t zero[64];
    while (w->len % align) tl_put(w, zero, 1);
}

#endif
