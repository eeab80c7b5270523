/* gguf.c — GGUF push parser; see gguf.h for the contract.
 *
 * The header is appended to g->hdr as it arrives and parsed by a resumable state machine: each
 * step reads one primitive (u32, u64, a string) at g->pos and returns "need more" without
 * moving when the bytes are not there yet, so any chunking costs linear time. Tables grow as
 * items are parsed, so a lying count in a short file cannot make us allocate much. Names are
 * found through a sorted index (built once per table, which also finds a name given twice): a
 * sort has no worst case a file could aim at, as a hash's collisions would be. */
#include "gguf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "types.h"

enum {
    ST_MAGIC,
    ST_VERSION,
    ST_NTENSORS,
    ST_NKV,
    ST_KV_KEY,
    ST_KV_TYPE,
    ST_KV_VALUE,
    ST_ARR_TYPE,
    ST_ARR_COUNT,
    ST_ARR_ELEMS,
    ST_T_NAME,
    ST_T_NDIMS,
    ST_T_DIMS,
    ST_T_TYPE,
    ST_T_OFFSET,
    ST_TABLE_READY,
    ST_DATA,
    ST_DONE,
    ST_ERROR
};

#define MAX_ITEMS    (1u << 20) /* kv pairs or tensors */
#define MAX_NAME     65535u     /* key or tensor name bytes */
#define MAX_STRING   (1ull << 30)
#define MAX_ARRAY    (1ull << 31)
#define MAX_DIMS     4
#define GGUF_MAGIC   0x46554747u /* "GGUF" little-endian */
#define HEADER_SLICE 65536

static const uint8_t value_size[GGUF_TYPE_COUNT] = {
    [GGUF_UINT8] = 1,   [GGUF_INT8] = 1, [GGUF_UINT16] = 2, [GGUF_INT16] = 2, [GGUF_UINT32] = 4,  [GGUF_INT32] = 4,
    [GGUF_FLOAT32] = 4, [GGUF_BOOL] = 1, [GGUF_UINT64] = 8, [GGUF_INT64] = 8, [GGUF_FLOAT64] = 8,
};

static const char *const value_type_names[GGUF_TYPE_COUNT] = {
    "uint8", "int8",   "uint16", "int16",  "uint32", "int32",   "float32",
    "bool",  "string", "array",  "uint64", "int64",  "float64",
};

const char *gguf_type_name(uint32_t t) { return t < GGUF_TYPE_COUNT ? value_type_names[t] : "unknown"; }

static gguf_status fail(gguf_ctx *g, gguf_status st, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g->err, sizeof g->err, fmt, ap);
    va_end(ap);
    g->stage = ST_ERROR;
    g->status = st;
    return st;
}

void gguf_init(gguf_ctx *g) {
    memset(g, 0, sizeof *g);
    g->alignment = 32;
}

void gguf_free(gguf_ctx *g) {
    /* the tables may be partly filled: walk what was allocated (zeroed past the parsed items) */
    for (uint64_t i = 0; i < g->kv_cap; i++) {
        free((void *)g->kv[i].key);
        free(g->kv[i].str_offs);
    }
    for (uint64_t i = 0; i < g->t_cap; i++) free((void *)g->tensors[i].name);
    free(g->kv);
    free(g->tensors);
    free(g->hdr);
    free(g->kv_sorted);
    free(g->t_sorted);
    gguf_init(g);
}

const char *gguf_error(const gguf_ctx *g) { return g->err[0] ? g->err : "no error"; }

/* ---- primitive readers over the header buffer: 1 = read, 0 = need more ---- */

/* n is 64-bit: an array's byte count can pass 4 GiB, which a 32-bit size_t (wasm32) would wrap */
static int have(const gguf_ctx *g, uint64_t n) { return g->hdr_len - g->pos >= n; }

static int rd_u32(gguf_ctx *g, uint32_t *v) {
    if (!have(g, 4)) return 0;
    memcpy(v, g->hdr + g->pos, 4);
    g->pos += 4;
    return 1;
}

static int rd_u64(gguf_ctx *g, uint64_t *v) {
    if (!have(g, 8)) return 0;
    memcpy(v, g->hdr + g->pos, 8);
    g->pos += 8;
    return 1;
}

/* A string is a u64 length then bytes. Returns 1 and its start (the length field) when whole,
 * 0 when more bytes are needed, -1 when longer than max. */
static int rd_string(gguf_ctx *g, uint64_t max, size_t *start, uint64_t *len) {
    uint64_t n;
    if (!have(g, 8)) return 0;
    memcpy(&n, g->hdr + g->pos, 8);
    if (n > max) return -1;
    if (!have(g, 8 + (size_t)n)) return 0;
    *start = g->pos;
    *len = n;
    g->pos += 8 + (size_t)n;
    return 1;
}

static char *dup_name(const gguf_ctx *g, size_t start, uint64_t len) {
    char *s = malloc((size_t)len + 1);
    if (s) {
        memcpy(s, g->hdr + start + 8, (size_t)len);
        s[len] = 0;
    }
    return s;
}

/* Grow *arr (of elem bytes each) so index i fits; capacity doubles. */
static int grow(void **arr, uint64_t *cap, uint64_t i, size_t elem) {
    if (i < *cap) return 1;
    uint64_t ncap = *cap ? *cap * 2 : 16;
    while (ncap <= i) ncap *= 2;
    void *p = realloc(*arr, (size_t)ncap * elem);
    if (!p) return 0;
    memset((char *)p + *cap * elem, 0, (size_t)(ncap - *cap) * elem);
    *arr = p;
    *cap = ncap;
    return 1;
}

/* ---- names: a sorted index per table ---- */

struct gguf_name {
    const char *name;
    uint64_t item;
};

static int cmp_name(const void *a, const void *b) {
    const struct gguf_name *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->item > y->item) - (x->item < y->item);
}

/* Sort the n names (names[i] of each item) into *sorted. Returns 0, -1 when out of memory, or 1
 * when a name is given twice: then *first and *second are the items that have it. */
static int index_names(struct gguf_name **sorted, const void *items, size_t stride, size_t name_at, uint64_t n,
                       uint64_t *first, uint64_t *second) {
    if (!n) return 0;
    struct gguf_name *s = malloc((size_t)n * sizeof *s);
    if (!s) return -1;
    for (uint64_t i = 0; i < n; i++) {
        memcpy(&s[i].name, (const char *)items + i * stride + name_at, sizeof s[i].name);
        s[i].item = i;
    }
    qsort(s, (size_t)n, sizeof *s, cmp_name);
    *sorted = s;
    for (uint64_t i = 1; i < n; i++)
        if (!strcmp(s[i - 1].name, s[i].name)) {
            *first = s[i - 1].item;
            *second = s[i].item;
            return 1;
        }
    return 0;
}

/* The item named name, or -1. */
static int64_t find_name(const struct gguf_name *sorted, uint64_t n, const char *name) {
    uint64_t lo = 0, hi = sorted ? n : 0;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        int c = strcmp(sorted[mid].name, name);
        if (!c) return (int64_t)sorted[mid].item;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* ---- the state machine ---- */

static gguf_status finish_table(gguf_ctx *g);

/* Parse as far as the buffered header allows. Returns NEED_MORE, TABLE_READY or an error. */
static gguf_status parse_header(gguf_ctx *g) {
    for (;;) {
        uint32_t u32;
        uint64_t u64, len;
        size_t start;
        int r;
        switch (g->stage) {
        case ST_MAGIC:
            if (!rd_u32(g, &u32)) return GGUF_NEED_MORE;
            if (u32 != GGUF_MAGIC) return fail(g, GGUF_ERR_FORMAT, "not a GGUF file (bad magic at byte 0)");
            g->stage = ST_VERSION;
            break;
        case ST_VERSION:
            if (!rd_u32(g, &g->version)) return GGUF_NEED_MORE;
            if (g->version != 2 && g->version != 3)
                return fail(g, GGUF_ERR_FORMAT, "GGUF version %u not supported (2 or 3)", g->version);
            g->stage = ST_NTENSORS;
            break;
        case ST_NTENSORS:
            if (!rd_u64(g, &u64)) return GGUF_NEED_MORE;
            if (u64 > MAX_ITEMS)
                return fail(g, GGUF_ERR_FORMAT, "implausible tensor count %llu", (unsigned long long)u64);
            g->n_tensors = u64;
            g->stage = ST_NKV;
            break;
        case ST_NKV:
            if (!rd_u64(g, &u64)) return GGUF_NEED_MORE;
            if (u64 > MAX_ITEMS)
                return fail(g, GGUF_ERR_FORMAT, "implausible metadata count %llu", (unsigned long long)u64);
            g->n_kv = u64;
            g->item = 0;
            g->stage = g->n_kv ? ST_KV_KEY : (g->n_tensors ? ST_T_NAME : ST_TABLE_READY);
            break;

        case ST_KV_KEY: {
            r = rd_string(g, MAX_NAME, &start, &len);
            if (r == 0) return GGUF_NEED_MORE;
            if (r < 0) return fail(g, GGUF_ERR_FORMAT, "metadata key %llu: name too long", (unsigned long long)g->item);
            if (!grow((void **)&g->kv, &g->kv_cap, g->item, sizeof *g->kv))
                return fail(g, GGUF_ERR_NOMEM, "out of memory reading metadata");
            gguf_kv *kv = &g->kv[g->item];
            if (!(kv->key = dup_name(g, start, len))) return fail(g, GGUF_ERR_NOMEM, "out of memory reading metadata");
            kv->n = 1;
            g->stage = ST_KV_TYPE;
            break;
        }
        case ST_KV_TYPE: {
            if (!rd_u32(g, &u32)) return GGUF_NEED_MORE;
            gguf_kv *kv = &g->kv[g->item];
            if (u32 >= GGUF_TYPE_COUNT)
                return fail(g, GGUF_ERR_FORMAT, "metadata '%s': unknown value type %u", kv->key, u32);
            kv->type = u32;
            g->stage = u32 == GGUF_ARRAY ? ST_ARR_TYPE : ST_KV_VALUE;
            break;
        }
        case ST_KV_VALUE: {
            gguf_kv *kv = &g->kv[g->item];
            kv->off = g->pos;
            if (kv->type == GGUF_STRING) {
                r = rd_string(g, MAX_STRING, &start, &len);
                if (r == 0) return GGUF_NEED_MORE;
                if (r < 0) return fail(g, GGUF_ERR_FORMAT, "metadata '%s': string too long", kv->key);
            } else {
                if (!have(g, value_size[kv->type])) return GGUF_NEED_MORE;
                g->pos += value_size[kv->type];
            }
            g->stage = ST_KV_KEY;
            goto next_kv;
        }
        case ST_ARR_TYPE: {
            if (!rd_u32(g, &u32)) return GGUF_NEED_MORE;
            gguf_kv *kv = &g->kv[g->item];
            if (u32 >= GGUF_TYPE_COUNT || u32 == GGUF_ARRAY)
                return fail(g, GGUF_ERR_FORMAT, "metadata '%s': bad array element type %u", kv->key, u32);
            kv->arr_type = u32;
            g->stage = ST_ARR_COUNT;
            break;
        }
        case ST_ARR_COUNT: {
            if (!rd_u64(g, &u64)) return GGUF_NEED_MORE;
            gguf_kv *kv = &g->kv[g->item];
            if (u64 > MAX_ARRAY)
                return fail(g, GGUF_ERR_FORMAT, "metadata '%s': implausible array length %llu", kv->key,
                            (unsigned long long)u64);
            kv->n = u64;
            kv->off = g->pos;
            g->sub = 0;
            g->str_cap = 0;
            g->stage = ST_ARR_ELEMS;
            break;
        }
        case ST_ARR_ELEMS: {
            gguf_kv *kv = &g->kv[g->item];
            if (kv->arr_type != GGUF_STRING) {
                uint64_t bytes = kv->n * value_size[kv->arr_type];
                if (!have(g, bytes)) return GGUF_NEED_MORE;
                g->pos += (size_t)bytes;
            } else {
                for (; g->sub < kv->n; g->sub++) {
                    r = rd_string(g, MAX_STRING, &start, &len);
                    if (r == 0) return GGUF_NEED_MORE;
                    if (r < 0)
                        return fail(g, GGUF_ERR_FORMAT, "metadata '%s'[%llu]: string too long", kv->key,
                                    (unsigned long long)g->sub);
                    if (!grow((void **)&kv->str_offs, &g->str_cap, g->sub, sizeof(size_t)))
                        return fail(g, GGUF_ERR_NOMEM, "out of memory reading metadata");
                    kv->str_offs[g->sub] = start;
                }
            }
            g->stage = ST_KV_KEY;
            goto next_kv;
        }

        case ST_T_NAME: {
            r = rd_string(g, MAX_NAME, &start, &len);
            if (r == 0) return GGUF_NEED_MORE;
            if (r < 0) return fail(g, GGUF_ERR_FORMAT, "tensor %llu: name too long", (unsigned long long)g->item);
            if (!grow((void **)&g->tensors, &g->t_cap, g->item, sizeof *g->tensors))
                return fail(g, GGUF_ERR_NOMEM, "out of memory reading tensor table");
            gguf_tensor *t = &g->tensors[g->item];
            if (!(t->name = dup_name(g, start, len)))
                return fail(g, GGUF_ERR_NOMEM, "out of memory reading tensor table");
            for (int d = 0; d < MAX_DIMS; d++) t->ne[d] = 1;
            g->stage = ST_T_NDIMS;
            break;
        }
        case ST_T_NDIMS: {
            gguf_tensor *t = &g->tensors[g->item];
            if (!rd_u32(g, &t->n_dims)) return GGUF_NEED_MORE;
            if (t->n_dims < 1 || t->n_dims > MAX_DIMS)
                return fail(g, GGUF_ERR_FORMAT, "tensor '%s': %u dimensions (1 to 4 allowed)", t->name, t->n_dims);
            g->sub = 0;
            g->stage = ST_T_DIMS;
            break;
        }
        case ST_T_DIMS: {
            gguf_tensor *t = &g->tensors[g->item];
            for (; g->sub < t->n_dims; g->sub++) {
                if (!rd_u64(g, &u64)) return GGUF_NEED_MORE;
                if (u64 == 0 || u64 > (1ull << 40))
                    return fail(g, GGUF_ERR_FORMAT, "tensor '%s': bad dimension %llu", t->name,
                                (unsigned long long)u64);
                t->ne[g->sub] = (int64_t)u64;
            }
            g->stage = ST_T_TYPE;
            break;
        }
        case ST_T_TYPE: {
            gguf_tensor *t = &g->tensors[g->item];
            if (!rd_u32(g, &t->type)) return GGUF_NEED_MORE;
            const ggml_type_traits *tr = ggml_type_info(t->type);
            if (!tr)
                return fail(g, GGUF_ERR_FORMAT, "tensor '%s' has type id %u, which ggml does not define", t->name,
                            t->type);
            if (!tr->block_size)
                return fail(g, GGUF_ERR_FORMAT, "tensor '%s' has type %s, which ggml has removed", t->name, tr->name);
            if (t->ne[0] % tr->block_size)
                return fail(g, GGUF_ERR_FORMAT, "tensor '%s': row of %lld is not a multiple of the %s block size %d",
                            t->name, (long long)t->ne[0], tr->name, tr->block_size);
            /* each factor is < 2^40; check the product before it can wrap */
            uint64_t rows = 1;
            for (int d = 1; d < MAX_DIMS; d++) {
                if (rows > (1ull << 50) / (uint64_t)t->ne[d])
                    return fail(g, GGUF_ERR_FORMAT, "tensor '%s' is impossibly large", t->name);
                rows *= (uint64_t)t->ne[d];
            }
            uint64_t row_bytes = (uint64_t)t->ne[0] / tr->block_size * tr->type_size;
            if (row_bytes && rows > (1ull << 50) / row_bytes)
                return fail(g, GGUF_ERR_FORMAT, "tensor '%s' is impossibly large", t->name);
            t->nbytes = rows * row_bytes;
            g->stage = ST_T_OFFSET;
            break;
        }
        case ST_T_OFFSET: {
            gguf_tensor *t = &g->tensors[g->item];
            if (!rd_u64(g, &t->offset)) return GGUF_NEED_MORE;
            if (t->offset > (1ull << 50))
                return fail(g, GGUF_ERR_FORMAT, "tensor '%s': offset %llu out of range", t->name,
                            (unsigned long long)t->offset);
            g->stage = ST_T_NAME;
            if (++g->item == g->n_tensors) return finish_table(g);
            break;
        }
        default:
            return fail(g, GGUF_ERR_STATE, "parser in an unexpected state");
        }
        continue;
    next_kv:
        if (++g->item == g->n_kv) {
            uint64_t a, b;
            int rc = index_names(&g->kv_sorted, g->kv, sizeof *g->kv, offsetof(gguf_kv, key), g->n_kv, &a, &b);
            if (rc < 0) return fail(g, GGUF_ERR_NOMEM, "out of memory reading metadata");
            if (rc) /* llama.cpp refuses it too: which of the two would count is anyone's guess */
                return fail(g, GGUF_ERR_FORMAT, "metadata key '%s' is given twice (entries %llu and %llu)",
                            g->kv[a].key, (unsigned long long)a, (unsigned long long)b);
            gguf_value align;
            char why[160];
            rc = gguf_read(g, "general.alignment", GGUF_WANT_INT, &align, why, sizeof why);
            if (rc < 0) return fail(g, GGUF_ERR_FORMAT, "%s", why);
            if (rc) {
                if (align.i <= 0 || align.i > 65536 || (align.i & (align.i - 1)))
                    return fail(g, GGUF_ERR_FORMAT, "general.alignment must be a power of two up to 65536");
                g->alignment = (uint32_t)align.i;
            }
            g->item = 0;
            if (!g->n_tensors) return finish_table(g);
            g->stage = ST_T_NAME;
        }
    }
}

/* The tensor table is in: names are unique, and the data is laid out as every GGUF writer lays it
 * and llama.cpp requires: tensor i at the sum of the sizes of the tensors before it, each padded
 * to the alignment. So no two tensors share bytes and there are no gaps (an offset far past the
 * data would otherwise make us allocate for it). */
static gguf_status finish_table(gguf_ctx *g) {
    uint64_t a, b;
    int rc =
        index_names(&g->t_sorted, g->tensors, sizeof *g->tensors, offsetof(gguf_tensor, name), g->n_tensors, &a, &b);
    if (rc < 0) return fail(g, GGUF_ERR_NOMEM, "out of memory reading tensor table");
    if (rc)
        return fail(g, GGUF_ERR_FORMAT, "tensor '%s' is listed twice (tensors %llu and %llu)", g->tensors[a].name,
                    (unsigned long long)a, (unsigned long long)b);
    uint64_t end = 0; /* where the next tensor must start; offsets are < 2^50, so no overflow */
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const gguf_tensor *t = &g->tensors[i];
        if (t->offset % g->alignment)
            return fail(g, GGUF_ERR_FORMAT, "tensor '%s': offset %llu is not aligned to %u", t->name,
                        (unsigned long long)t->offset, g->alignment);
        if (t->offset < end) {
            uint64_t j = 0; /* the earlier tensor whose bytes it starts in: they cover [0, end) */
            while (j + 1 < i && g->tensors[j + 1].offset <= t->offset) j++;
            return fail(g, GGUF_ERR_FORMAT, "tensor '%s' at data offset %llu overlaps tensor '%s' (%llu bytes at %llu)",
                        t->name, (unsigned long long)t->offset, g->tensors[j].name,
                        (unsigned long long)g->tensors[j].nbytes, (unsigned long long)g->tensors[j].offset);
        }
        if (t->offset > end)
            return fail(g, GGUF_ERR_FORMAT,
                        "tensor '%s' is at data offset %llu, where %llu was expected: GGUF puts each tensor right "
                        "after the one before it",
                        t->name, (unsigned long long)t->offset, (unsigned long long)end);
        g->data_size = t->offset + t->nbytes;
        end = (g->data_size + g->alignment - 1) / g->alignment * g->alignment;
    }
    g->data_offset = (g->pos + g->alignment - 1) / g->alignment * g->alignment;
    g->stage = ST_TABLE_READY;
    return GGUF_TABLE_READY;
}

gguf_status gguf_push(gguf_ctx *g, const uint8_t *buf, size_t len, size_t *used) {
    *used = 0;
    if (g->stage == ST_ERROR) return (gguf_status)g->status;
    if (g->stage == ST_DONE) {
        *used = len;
        return GGUF_DONE;
    }
    if (g->stage == ST_TABLE_READY) return fail(g, GGUF_ERR_STATE, "tensor data pushed before a data buffer was set");

    /* Header bytes are taken in slices so that a big chunk (even the whole file) is copied into
     * the header buffer only up to a slice past the end of the tensor table. */
    while (g->stage < ST_TABLE_READY && *used < len) {
        size_t n = len - *used < HEADER_SLICE ? len - *used : HEADER_SLICE;
        if (g->hdr_len + n > g->hdr_cap) {
            size_t cap = g->hdr_cap ? g->hdr_cap : 4096;
            /* a 32-bit size_t would wrap doubling past 2 GiB: such a header is out of memory */
            while (cap < g->hdr_len + n && cap <= SIZE_MAX / 2) cap *= 2;
            if (cap < g->hdr_len + n) return fail(g, GGUF_ERR_NOMEM, "out of memory reading the header");
            uint8_t *p = realloc(g->hdr, cap);
            if (!p) return fail(g, GGUF_ERR_NOMEM, "out of memory reading the header");
            g->hdr = p;
            g->hdr_cap = cap;
        }
        memcpy(g->hdr + g->hdr_len, buf + *used, n);
        g->hdr_len += n;
        gguf_status st = parse_header(g);
        if (st < 0) return st;
        if (st == GGUF_TABLE_READY) {
            /* give back what lies past the table: it is padding and data */
            size_t extra = g->hdr_len - g->pos;
            g->hdr_len = g->pos;
            *used += n - extra;
            g->file_pos += n - extra;
            return st;
        }
        *used += n;
        g->file_pos += n;
    }
    if (g->stage < ST_TABLE_READY) return GGUF_NEED_MORE;

    /* ST_DATA: skip the padding before the data section, then copy into place */
    size_t i = *used;
    while (i < len && g->data_got < g->data_size) {
        if (g->file_pos < g->data_offset) {
            uint64_t skip = g->data_offset - g->file_pos;
            if (skip > len - i) skip = len - i;
            i += (size_t)skip;
            g->file_pos += skip;
            continue;
        }
        uint64_t n = g->data_size - g->data_got;
        if (n > len - i) n = len - i;
        if (g->data + g->data_got != buf + i) /* the caller may have written it in place */
            memcpy(g->data + g->data_got, buf + i, (size_t)n);
        g->data_got += n;
        g->file_pos += n;
        i += (size_t)n;
    }
    *used = len; /* bytes after the last tensor are not ours to judge */
    if (g->data_got == g->data_size) g->stage = ST_DONE;
    return g->stage == ST_DONE ? GGUF_DONE : GGUF_NEED_MORE;
}

gguf_status gguf_set_data(gguf_ctx *g, void *buf) {
    if (g->stage != ST_TABLE_READY) return fail(g, GGUF_ERR_STATE, "gguf_set_data before the tensor table was read");
    g->data = buf;
    for (uint64_t i = 0; i < g->n_tensors; i++) g->tensors[i].data = (uint8_t *)buf + g->tensors[i].offset;
    g->stage = g->data_size ? ST_DATA : ST_DONE;
    return g->stage == ST_DONE ? GGUF_DONE : GGUF_NEED_MORE;
}

gguf_status gguf_finish(gguf_ctx *g) {
    if (g->stage == ST_DONE) return GGUF_DONE;
    if (g->stage == ST_ERROR) return (gguf_status)g->status;
    const char *where = g->stage < ST_KV_KEY        ? "header"
                        : g->stage < ST_T_NAME      ? "metadata"
                        : g->stage < ST_TABLE_READY ? "tensor table"
                                                    : "tensor data";
    if (g->stage == ST_DATA && g->file_pos >= g->data_offset) {
        /* name the first tensor whose bytes did not all come (the file may stop in its padding) */
        uint64_t i = 0;
        while (g->tensors[i].offset + g->tensors[i].nbytes <= g->data_got) i++;
        const char *name = g->tensors[i].name;
        return fail(
            g, GGUF_ERR_TRUNCATED, "file truncated at byte %llu, in tensor data (tensor '%s'; %llu of %llu data bytes)",
            (unsigned long long)g->file_pos, name, (unsigned long long)g->data_got, (unsigned long long)g->data_size);
    }
    if (g->file_pos == 0) return fail(g, GGUF_ERR_TRUNCATED, "file is empty");
    return fail(g, GGUF_ERR_TRUNCATED, "file truncated at byte %llu, in the %s", (unsigned long long)g->file_pos,
                where);
}

/* ---- metadata access ---- */

const gguf_kv *gguf_find(const gguf_ctx *g, const char *key) {
    int64_t i = find_name(g->kv_sorted, g->n_kv, key);
    return i < 0 ? NULL : &g->kv[i];
}

const gguf_tensor *gguf_find_tensor(const gguf_ctx *g, const char *name) {
    int64_t i = find_name(g->t_sorted, g->n_tensors, name);
    return i < 0 ? NULL : &g->tensors[i];
}

static int is_int_type(uint32_t t) { return t <= GGUF_INT32 || t == GGUF_UINT64 || t == GGUF_INT64; }
static int is_num_type(uint32_t t) { return is_int_type(t) || t == GGUF_FLOAT32 || t == GGUF_FLOAT64; }

/* Read element i of a scalar value or numeric array at byte offset off: 1 for an integer that
 * fits int64 (*iv and *fv), 2 for a float or a uint64 past INT64_MAX (*fv), 0 for no number. */
static int read_num(const gguf_ctx *g, uint32_t type, size_t off, int64_t *iv, double *fv) {
    uint8_t b[8];
    memcpy(b, g->hdr + off, value_size[type]);
    int64_t i = 0;
    double f;
    switch (type) {
    case GGUF_UINT8:
    case GGUF_BOOL:
        i = b[0];
        break;
    case GGUF_INT8:
        i = (int8_t)b[0];
        break;
    case GGUF_UINT16: {
        uint16_t v;
        memcpy(&v, b, 2);
        i = v;
        break;
    }
    case GGUF_INT16: {
        int16_t v;
        memcpy(&v, b, 2);
        i = v;
        break;
    }
    case GGUF_UINT32: {
        uint32_t v;
        memcpy(&v, b, 4);
        i = v;
        break;
    }
    case GGUF_INT32: {
        int32_t v;
        memcpy(&v, b, 4);
        i = v;
        break;
    }
    case GGUF_INT64:
        memcpy(&i, b, 8);
        break;
    case GGUF_UINT64: {
        uint64_t v;
        memcpy(&v, b, 8);
        if (v > INT64_MAX) {
            *fv = (double)v;
            return 2;
        }
        i = (int64_t)v;
        break;
    }
    case GGUF_FLOAT32: {
        float v;
        memcpy(&v, b, 4);
        *fv = v;
        return 2;
    }
    case GGUF_FLOAT64:
        memcpy(&f, b, 8);
        *fv = f;
        return 2;
    default:
        return 0;
    }
    *iv = i;
    *fv = (double)i;
    return 1;
}

static const char *const wanted[] = {
    [GGUF_WANT_INT] = "an integer",
    [GGUF_WANT_NUMBER] = "a number",
    [GGUF_WANT_BOOL] = "a bool",
    [GGUF_WANT_STRING] = "a string",
    [GGUF_WANT_INT_ARRAY] = "an array of integers",
    [GGUF_WANT_NUMBER_ARRAY] = "an array of numbers",
    [GGUF_WANT_STRING_ARRAY] = "an array of strings",
};

int gguf_read_kv(const gguf_ctx *g, const gguf_kv *kv, gguf_want want, gguf_value *v, char *err, size_t errlen) {
    memset(v, 0, sizeof *v);
    v->kv = kv;
    const uint32_t t = kv->type, elem = kv->arr_type;
    int ok = 0;
    switch (want) {
    case GGUF_WANT_INT:
        ok = is_int_type(t) && read_num(g, t, kv->off, &v->i, &v->f) == 1;
        break;
    case GGUF_WANT_NUMBER:
        ok = is_num_type(t) && read_num(g, t, kv->off, &v->i, &v->f);
        break;
    case GGUF_WANT_BOOL:
        if ((ok = t == GGUF_BOOL)) v->i = g->hdr[kv->off] != 0;
        break;
    case GGUF_WANT_STRING:
        if ((ok = t == GGUF_STRING)) {
            uint64_t n;
            memcpy(&n, g->hdr + kv->off, 8);
            v->s = (const char *)g->hdr + kv->off + 8;
            v->len = (size_t)n;
        }
        break;
    case GGUF_WANT_INT_ARRAY:
        ok = t == GGUF_ARRAY && is_int_type(elem);
        break;
    case GGUF_WANT_NUMBER_ARRAY:
        ok = t == GGUF_ARRAY && is_num_type(elem);
        break;
    case GGUF_WANT_STRING_ARRAY:
        ok = t == GGUF_ARRAY && elem == GGUF_STRING;
        break;
    }
    if (ok) return 1;
    if (!err) return -1;
    if (want == GGUF_WANT_INT && t == GGUF_UINT64) {
        uint64_t u;
        memcpy(&u, g->hdr + kv->off, 8);
        snprintf(err, errlen, "%s = %llu (uint64) is too large for an integer", kv->key, (unsigned long long)u);
    } else if (t == GGUF_ARRAY) {
        snprintf(err, errlen, "%s has type array of %s, expected %s", kv->key, gguf_type_name(elem), wanted[want]);
    } else {
        snprintf(err, errlen, "%s has type %s, expected %s", kv->key, gguf_type_name(t), wanted[want]);
    }
    return -1;
}

int gguf_read(const gguf_ctx *g, const char *key, gguf_want want, gguf_value *v, char *err, size_t errlen) {
    const gguf_kv *kv = gguf_find(g, key);
    if (kv) return gguf_read_kv(g, kv, want, v, err, errlen);
    memset(v, 0, sizeof *v);
    return 0;
}

const char *gguf_arr_str(const gguf_ctx *g, const gguf_kv *kv, uint64_t i, size_t *len) {
    if (kv->type != GGUF_ARRAY || kv->arr_type != GGUF_STRING || i >= kv->n) return NULL;
    uint64_t n;
    memcpy(&n, g->hdr + kv->str_offs[i], 8);
    *len = (size_t)n;
    return (const char *)g->hdr + kv->str_offs[i] + 8;
}

double gguf_arr_f64(const gguf_ctx *g, const gguf_kv *kv, uint64_t i) {
    int64_t iv;
    double fv = 0;
    if (kv->type != GGUF_ARRAY || kv->arr_type == GGUF_STRING || i >= kv->n) return 0;
    read_num(g, kv->arr_type, kv->off + (size_t)i * value_size[kv->arr_type], &iv, &fv);
    return fv;
}

int64_t gguf_arr_i64(const gguf_ctx *g, const gguf_kv *kv, uint64_t i) {
    int64_t iv = 0;
    double fv;
    if (kv->type != GGUF_ARRAY || !is_int_type(kv->arr_type) || i >= kv->n) return 0;
    read_num(g, kv->arr_type, kv->off + (size_t)i * value_size[kv->arr_type], &iv, &fv);
    return iv;
}
