/* test_attention.c — softmax_chunk and attention_tile (src/kernels/attention*.c). Over a grid of
 * contexts, GQA groups, head sizes, cache layouts and KV types, keys pre-rotated or rotated on
 * the fly: the scalar twin against float64, and with SIMD128 the SIMD twin against the scalar
 * one; each twin bit-identical on a typed cache and on the f32 cache of its decoded rows, and a
 * tile bit-identical to its tokens one at a time. With SIMD128, softmax_chunk's twins against
 * each other over score ranges up to underflow. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "twins.h"

/* One attention problem: a tile of n_tok tokens x n_head query heads after n_past cached
 * positions, keys and values in a strided cache of kv type `type`, and the consistent cache's
 * rotation tables. k and v always hold the float values the cache encodes (for f16 and q8_0 the
 * dequantized rows), so the float64 reference and the f32 kernel see what the typed one sees. */
typedef struct {
    int n_past, n_tok, n_head, head_dim, q_stride, kv_stride, type;
    float scale;
    float *q, *k, *v;
    void *kt, *vt; /* the cache in its type; k and v themselves for f32 */
    attn_rope rope;
} attn_case;

static const char *const kv_names[] = { "f32", "f16", "q8_0" };

/* Encode a float cache in type, then replace the floats by what the encoding decodes to. */
static void *kv_encode(float *x, int n_rows, int stride, int type) {
    const size_t n = (size_t)n_rows * stride;
    if (type == NTK_KV_F16) {
        ggml_half *h = tl_xmalloc(n * sizeof *h);
        for (size_t i = 0; i < n; i++) x[i] = fp16_to_fp32(h[i] = fp32_to_fp16(x[i]));
        return h;
    }
    if (type == NTK_KV_Q8_0) {
        block_q8_0 *b = tl_xmalloc(n / QK8_0 * sizeof *b);
        quantize_row_q8_0(x, b, (int64_t)n);
        dequantize_row(GGML_TYPE_Q8_0, b, x, (int64_t)n);
        return b;
    }
    return x;
}

static int attn_n_kv(const attn_case *t) { return t->n_past + t->n_tok; }

static void attn_free(attn_case *t) {
    if (t->type != NTK_KV_F32) free(t->kt), free(t->vt);
    free(t->q), free(t->k), free(t->v);
    free((void *)t->rope.start_cos), free((void *)t->rope.start_sin);
    free((void *)t->rope.step_cos), free((void *)t->rope.step_sin);
}

/* The grid of attention problems both test sections walk: contexts (one streaming-softmax
 * chunk, exactly one, one and a bit, many; tiles that start mid-chunk and span chunks), GQA
 * groups, head_dim, cache and query layouts, and score ranges from flat to "exp would overflow
 * without subtracting the max". */
static const int attn_past[] = { 0, 0, 16, NTK_ATTN_CHUNK - 1, NTK_ATTN_CHUNK, 300 };
static const int attn_tok[] = { 1, 17, 1, 2, 1, 70 };
#define N_ATTN_CTX ((int)(sizeof attn_past / sizeof *attn_past))
static const int attn_hd[] = { 64, 128 };
#define N_ATTN_VARIANTS 3

static void attn_case_at(attn_case *t, int i_ctx, int i_hd, int variant, int type) {
    const int hd = attn_hd[i_hd], half = hd / 2;
    const int n_head = 1 + variant % 2 * 3;
    int stride = variant == 0 ? hd : hd * (1 + variant) + 8 * variant;
    if (type == NTK_KV_Q8_0) stride = (stride + QK8_0 - 1) / QK8_0 * QK8_0;
    const float qrange = variant == 2 ? 12.0f : 1.0f;
    t->n_past = attn_past[i_ctx], t->n_tok = attn_tok[i_ctx], t->n_head = n_head;
    t->head_dim = hd, t->q_stride = n_head * hd + 4 * variant, t->kv_stride = stride;
    t->scale = variant == 2 ? 1.0f : (variant ? 4.0f : 1.0f) / sqrtf((float)hd);
    t->type = type;
    const int n_kv = attn_n_kv(t), chunks = (n_kv + NTK_ATTN_CHUNK - 1) / NTK_ATTN_CHUNK;
    const size_t cache = (size_t)n_kv * stride, nq = (size_t)t->n_tok * t->q_stride;
    t->q = tl_xmalloc(nq * sizeof *t->q);
    t->k = tl_xmalloc(cache * sizeof *t->k);
    t->v = tl_xmalloc(cache * sizeof *t->v);
    tl_fill(t->q, (int)nq, -qrange, qrange);
    tl_fill(t->k, (int)cache, -1.0f, 1.0f);
    tl_fill(t->v, (int)cache, -2.0f, 2.0f);
    t->kt = kv_encode(t->k, n_kv, stride, type);
    t->vt = kv_encode(t->v, n_kv, stride, type);
    float *sc = tl_xmalloc((size_t)chunks * half * sizeof *sc), *ss = tl_xmalloc((size_t)chunks * half * sizeof *ss);
    float *tc = tl_xmalloc((size_t)NTK_ATTN_CHUNK * half * sizeof *tc),
          *ts = tl_xmalloc((size_t)NTK_ATTN_CHUNK * half * sizeof *ts);
    rope_tables(sc, ss, chunks, 0, -NTK_ATTN_CHUNK, hd);
    rope_tables(tc, ts, NTK_ATTN_CHUNK, 0, 1, hd);
    t->rope = (attn_rope){ sc, ss, tc, ts };
}

static const float *attn_q(const attn_case *t, int tok, int h) {
    return t->q + (size_t)tok * t->q_stride + (size_t)h * t->head_dim;
}

/* The error of an output row is at most the error of its scores (relative to the largest
 * score's terms, S) times max|v|, plus rounding of the weighted sum itself: tol * max|v| * (1+S). */
static double attn_scale(const attn_case *t, int tok, int h) {
    const float *q = attn_q(t, tok, h);
    double S = 0, vmax = 0;
    for (int j = 0; j < t->n_past + tok + 1; j++) {
        const float *kj = t->k + (size_t)j * t->kv_stride;
        double sj = 0;
        for (int i = 0; i < t->head_dim; i++) {
            sj += fabs(q[i]) * (fabs(kj[i & ~1]) + fabs(kj[i | 1]));
            vmax = fmax(vmax, fabs(t->v[(size_t)j * t->kv_stride + i]));
        }
        S = fmax(S, fabs(t->scale) * sj);
    }
    return vmax * (1 + S);
}

/* Row (tok, h) in float64; with rotate, key j turned by j * theta_i, angles in double. */
static void attn_reference(const attn_case *t, int tok, int h, int rotate, double *out) {
    const int hd = t->head_dim, n_kv = t->n_past + tok + 1;
    const float *q = attn_q(t, tok, h);
    double *p = tl_xmalloc(n_kv * sizeof *p), max = -INFINITY, sum = 0;
    for (int j = 0; j < n_kv; j++) {
        const float *kj = t->k + (size_t)j * t->kv_stride;
        double dot = 0;
        for (int i = 0; i < hd / 2; i++) {
            double k0 = kj[2 * i], k1 = kj[2 * i + 1];
            if (rotate) {
                const double a = j * pow(10000.0, -2.0 * i / hd), c = cos(a), s = sin(a);
                const double r0 = k0 * c - k1 * s;
                k1 = k0 * s + k1 * c;
                k0 = r0;
            }
            dot += q[2 * i] * k0 + q[2 * i + 1] * k1;
        }
        p[j] = t->scale * dot;
        max = fmax(max, p[j]);
    }
    for (int j = 0; j < n_kv; j++) sum += p[j] = exp(p[j] - max);
    for (int i = 0; i < hd; i++) out[i] = 0;
    for (int j = 0; j < n_kv; j++)
        for (int i = 0; i < hd; i++) out[i] += p[j] / sum * t->v[(size_t)j * t->kv_stride + i];
    free(p);
}

typedef void attention_fn(float *out, const float *q, int n_tok, int n_head, int q_stride, const attn_kv *kv,
                          int n_past, const attn_rope *rope, float scale, float *scratch);

/* typed: read the cache in its type, else the f32 cache of its decoded values. Tokens
 * [tok0, tok0+n_tok) of the case as one tile; out is laid out like q. */
static void attn_run(const attn_case *t, attention_fn *fn, int typed, int rotate, int tok0, int n_tok, float *out) {
    const attn_kv kv = { typed ? t->kt : t->k, typed ? t->vt : t->v, typed ? t->type : NTK_KV_F32, t->kv_stride,
                         t->head_dim };
    float *scratch = tl_xmalloc(NTK_ATTN_SCRATCH(t->head_dim, n_tok * t->n_head) * sizeof *scratch);
    fn(out + (size_t)tok0 * t->q_stride, attn_q(t, tok0, 0), n_tok, t->n_head, t->q_stride, &kv, t->n_past + tok0,
       rotate ? &t->rope : NULL, t->scale, scratch);
    free(scratch);
}

static float *attn_out(const attn_case *t) { return tl_xmalloc((size_t)t->n_tok * t->q_stride * sizeof(float)); }

/* Largest |a - b| over the case's output rows, NaN as infinite, each row divided by its
 * attn_scale; b NULL: against the float64 reference. */
static double attn_err(const attn_case *t, const float *a, const float *b, int rotate) {
    double worst = 0, ref[128];
    for (int tok = 0; tok < t->n_tok; tok++)
        for (int h = 0; h < t->n_head; h++) {
            const size_t at = (size_t)tok * t->q_stride + (size_t)h * t->head_dim;
            if (!b) attn_reference(t, tok, h, rotate, ref);
            double err = 0;
            for (int i = 0; i < t->head_dim; i++)
                err = fmax(err, isnan(a[at + i]) ? INFINITY : fabs(a[at + i] - (b ? b[at + i] : ref[i])));
            worst = fmax(worst, err / attn_scale(t, tok, h));
        }
    return worst;
}

static int attn_same(const attn_case *t, const float *a, const float *b) {
    for (int tok = 0; tok < t->n_tok; tok++)
        if (!tl_same_floats(a + (size_t)tok * t->q_stride, b + (size_t)tok * t->q_stride, t->n_head * t->head_dim))
            return 0;
    return 1;
}

/* One twin over the grid: against `other` (NULL: float64) within 1e-5, a typed cache
 * bit-identical to the f32 cache of its decoded rows, and a tile bit-identical to its tokens
 * run one at a time (a row's result must not depend on which tile it was in). */
static void attention_checks(const char *name, attention_fn *fn, attention_fn *other, int reps) {
    for (int ty = NTK_KV_F32; ty <= NTK_KV_Q8_0; ty++)
        for (int rotate = 0; rotate < 2; rotate++) {
            char label[128];
            snprintf(label, sizeof label, "%s %s, %s keys, vs %s", name, kv_names[ty],
                     rotate ? "rotated on the fly" : "pre-rotated", other ? "scalar" : "float64");
            tl_errstat st = tl_errstat_new(label, 1e-5);
            int undecoded = 0, untiled = 0, cases = 0;
            for (int rep = 0; rep < reps; rep++)
                for (int c = 0; c < N_ATTN_CTX; c++)
                    for (int h = 0; h < 2; h++)
                        for (int var = 0; var < N_ATTN_VARIANTS; var++) {
                            attn_case t;
                            attn_case_at(&t, c, h, var, ty);
                            float *out = attn_out(&t), *out2 = attn_out(&t);
                            attn_run(&t, fn, 1, rotate, 0, t.n_tok, out);
                            if (other) attn_run(&t, other, 1, rotate, 0, t.n_tok, out2);
                            tl_errstat_add(&st, attn_err(&t, out, other ? out2 : NULL, rotate), 1);
                            attn_run(&t, fn, 0, rotate, 0, t.n_tok, out2);
                            undecoded += !attn_same(&t, out, out2);
                            for (int tok = 0; tok < t.n_tok; tok++) attn_run(&t, fn, 1, rotate, tok, 1, out2);
                            untiled += !attn_same(&t, out, out2);
                            cases++;
                            free(out), free(out2);
                            attn_free(&t);
                        }
            tl_errstat_report(&st);
            const char *keys = rotate ? "rotated" : "pre-rotated";
            CHECK(undecoded == 0,
                  "%s %s, %s keys: bit-identical to f32 on the decoded cache (%d "
                  "of %d cases differ)",
                  name, kv_names[ty], keys, undecoded, cases);
            CHECK(untiled == 0,
                  "%s %s, %s keys: a tile bit-identical to its tokens one at a time "
                  "(%d of %d cases differ)",
                  name, kv_names[ty], keys, untiled, cases);
        }
}

static void test_scalar_attention(void) { attention_checks("attention_tile_scalar", attention_tile_scalar, NULL, 1); }

#if NTK_SIMD

/* exp of every score minus the running max, over ranges up to "underflows to zero", and the
 * bookkeeping of the running max and sum across chunks. Below 2^-100 a weight adds nothing next
 * to the max's 1, and there the twins may differ absolutely (the SIMD one clamps at 2^-126). */
static void test_simd_softmax(void) {
    tl_errstat s_exp = tl_errstat_new("softmax_chunk_simd vs scalar, per weight / max(w, 2^-100)", 1e-6);
    tl_errstat s_sum = tl_errstat_new("softmax_chunk_simd vs scalar, running sum and rescale", 1e-6);
    float a[NTK_ATTN_CHUNK], b[NTK_ATTN_CHUNK];
    for (int trial = 0; trial < 2000; trial++) {
        const float range = trial % 4 == 0 ? 1.0f : trial % 4 == 1 ? 30.0f : trial % 4 == 2 ? 100.0f : 300.0f;
        float max1 = trial % 3 ? tl_frand(-range, range) : -INFINITY, max2 = max1;
        float sum1 = max1 == -INFINITY ? 0.0f : tl_frand(1.0f, 100.0f), sum2 = sum1;
        const int n = tl_irand(1, NTK_ATTN_CHUNK);
        tl_fill(a, n, -range, range);
        memcpy(b, a, n * sizeof *a);
        const float r1 = softmax_chunk_simd(a, n, &max1, &sum1);
        const float r2 = softmax_chunk_scalar(b, n, &max2, &sum2);
        for (int i = 0; i < n; i++) tl_errstat_add(&s_exp, fabs((double)a[i] - b[i]), fmax(b[i], 0x1p-100));
        tl_errstat_add(&s_sum, fabs((double)sum1 - sum2) + fabs((double)r1 - r2) + fabs((double)max1 - max2),
                       sum2 + r2);
    }
    tl_errstat_report(&s_exp);
    tl_errstat_report(&s_sum);
}

static void test_simd_attention(void) {
    attention_checks("attention_tile_simd", attention_tile_simd, attention_tile_scalar, 5);
}

#endif

int main(void) {
    test_scalar_attention();
#if NTK_SIMD
    test_simd_softmax();
    test_simd_attention();
#endif
    return tl_summary();
}
