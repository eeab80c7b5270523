/* gguf.h — GGUF v2/v3 reader as a push parser.
 *
 * Feed the file in chunks of any size with gguf_push(); the parser keeps the header (metadata
 * and tensor table: small) and copies tensor data straight into the caller's buffer, so the
 * model is never held twice. Sequence:
 *   gguf_init(&g);
 *   while (bytes) { st = gguf_push(&g, chunk, n, &used);
 *                   if (st == GGUF_TABLE_READY) { check the table, gguf_set_data(&g, buf); push rest } }
 *   gguf_finish(&g)  -> GGUF_DONE, or an error saying where the file was cut short;
 *   gguf_free(&g).
 * Every value read from the file is validated (lengths, counts, types, offsets, overflow); on
 * error the status is negative and gguf_error() says what and at which byte. Metadata values are
 * read through accessors, never by casting into the buffer. */
#ifndef NTK_GGUF_H
#define NTK_GGUF_H

#include <stddef.h>
#include <stdint.h>

enum gguf_value_type {
    GGUF_UINT8 = 0,
    GGUF_INT8 = 1,
    GGUF_UINT16 = 2,
    GGUF_INT16 = 3,
    GGUF_UINT32 = 4,
    GGUF_INT32 = 5,
    GGUF_FLOAT32 = 6,
    GGUF_BOOL = 7,
    GGUF_STRING = 8,
    GGUF_ARRAY = 9,
    GGUF_UINT64 = 10,
    GGUF_INT64 = 11,
    GGUF_FLOAT64 = 12,
    GGUF_TYPE_COUNT = 13
};

typedef enum {
    GGUF_NEED_MORE = 0,   /* all input consumed, more expected */
    GGUF_TABLE_READY = 1, /* header and tensor table parsed; call gguf_set_data, push the rest */
    GGUF_DONE = 2,        /* every tensor byte received */
    GGUF_ERR_FORMAT = -1, /* not GGUF, or an invalid/inconsistent field */
    GGUF_ERR_NOMEM = -2,
    GGUF_ERR_TRUNCATED = -3,
    GGUF_ERR_STATE = -4 /* push after an error, or data before gguf_set_data */
} gguf_status;

typedef struct {
    const char *key;   /* NUL-terminated copy */
    uint32_t type;     /* gguf_value_type */
    uint32_t arr_type; /* element type if type == GGUF_ARRAY */
    uint64_t n;        /* element count if array, else 1 */
    size_t off;        /* offset of the value (array: first element) in the header buffer */
    size_t *str_offs;  /* string arrays: offset of each element's length field */
} gguf_kv;

typedef struct {
    const char *name; /* NUL-terminated copy */
    uint32_t type;    /* ggml_type */
    uint32_t n_dims;
    int64_t ne[4];   /* ne[0] is the contiguous (row) dimension; unused dims are 1 */
    uint64_t offset; /* from the start of the data section */
    uint64_t nbytes;
    void *data; /* into the caller's buffer after gguf_set_data */
} gguf_tensor;

typedef struct gguf_ctx {
    /* results */
    uint32_t version;
    uint64_t n_kv, n_tensors;
    gguf_kv *kv;
    gguf_tensor *tensors;
    uint32_t alignment;
    uint64_t data_offset; /* file offset of the data section */
    uint64_t data_size;   /* bytes of tensor data the caller must provide */
    /* parser state (private) */
    uint8_t *hdr;
    size_t hdr_len, hdr_cap, pos; /* header bytes received; parse cursor */
    int stage;
    uint64_t item, sub;              /* resumable position */
    uint64_t kv_cap, t_cap, str_cap; /* allocated lengths of the growing tables */
    uint64_t file_pos;               /* bytes consumed so far */
    uint8_t *data;
    uint64_t data_got;
    int status;
    char err[256];
} gguf_ctx;

void gguf_init(gguf_ctx *g);
void gguf_free(gguf_ctx *g); /* frees what the parser allocated; not the data buffer */
gguf_status gguf_push(gguf_ctx *g, const uint8_t *buf, size_t len, size_t *used);
/* Give the buffer of data_size bytes (aligned to 64) that tensor data is copied into. */
gguf_status gguf_set_data(gguf_ctx *g, void *buf);
/* End of input: GGUF_DONE if complete, else GGUF_ERR_TRUNCATED with the byte and phase. */
gguf_status gguf_finish(gguf_ctx *g);
const char *gguf_error(const gguf_ctx *g);

/* Metadata access. Lookups return NULL / the default when the key is missing or has another
 * type; integer getters accept any integer type whose value fits. */
const gguf_kv *gguf_find(const gguf_ctx *g, const char *key);
int gguf_get_str(const gguf_ctx *g, const char *key, const char **s, size_t *len);
int gguf_get_i64(const gguf_ctx *g, const char *key, int64_t *out);
int gguf_get_f64(const gguf_ctx *g, const char *key, double *out); /* float32/64 or integer */
int gguf_get_bool(const gguf_ctx *g, const char *key, int *out);
/* Array elements (kv->type == GGUF_ARRAY) */
const char *gguf_arr_str(const gguf_ctx *g, const gguf_kv *kv, uint64_t i, size_t *len);
double gguf_arr_f64(const gguf_ctx *g, const gguf_kv *kv, uint64_t i);
int64_t gguf_arr_i64(const gguf_ctx *g, const gguf_kv *kv, uint64_t i);

const gguf_tensor *gguf_find_tensor(const gguf_ctx *g, const char *name);
const char *gguf_type_name(uint32_t value_type);

#endif
