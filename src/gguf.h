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
 * Every value read from the file is validated (lengths, counts, types, offsets, overflow), and
 * what llama.cpp's gguf.cpp refuses is refused too: a key or tensor name given twice, and tensor
 * data that is not laid out as GGUF writers lay it (each tensor right after the one before it,
 * padded to the alignment: no overlaps, no gaps). On error the status is negative and
 * gguf_error() says what and at which byte. Metadata values are read through gguf_read, which
 * names the key and its type when it holds something else than the caller wants. */
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
    struct gguf_name *kv_sorted;     /* the keys by name, once all are read */
    struct gguf_name *t_sorted;      /* the tensors by name, once the table is read */
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

/* Lookups by name (hashed): keys once the metadata is read, tensors once the table is. */
const gguf_kv *gguf_find(const gguf_ctx *g, const char *key);
const gguf_tensor *gguf_find_tensor(const gguf_ctx *g, const char *name);

/* What a caller wants a metadata value to be. An integer is any integer type (not bool) whose
 * value fits in int64; a number any integer or float type. */
typedef enum {
    GGUF_WANT_INT,
    GGUF_WANT_NUMBER,
    GGUF_WANT_BOOL,
    GGUF_WANT_STRING,
    GGUF_WANT_INT_ARRAY,
    GGUF_WANT_NUMBER_ARRAY,
    GGUF_WANT_STRING_ARRAY
} gguf_want;

typedef struct {
    const gguf_kv *kv; /* the entry (arrays: read its elements with gguf_arr_*) */
    int64_t i;         /* INT; BOOL as 0 or 1 */
    double f;          /* NUMBER */
    const char *s;     /* STRING: len bytes, not NUL-terminated */
    size_t len;
} gguf_value;

/* The one way to read a metadata value: 1 with *v set when key holds what `want` asks for, 0
 * when the key is absent, -1 when it holds something else, with err (if not NULL) naming the key,
 * its type and what was wanted ("llama.rope.freq_base has type string, expected a number"). */
int gguf_read(const gguf_ctx *g, const char *key, gguf_want want, gguf_value *v, char *err, size_t errlen);
/* The same for an entry in hand (kv of g). */
int gguf_read_kv(const gguf_ctx *g, const gguf_kv *kv, gguf_want want, gguf_value *v, char *err, size_t errlen);

/* Array elements (kv->type == GGUF_ARRAY) */
const char *gguf_arr_str(const gguf_ctx *g, const gguf_kv *kv, uint64_t i, size_t *len);
double gguf_arr_f64(const gguf_ctx *g, const gguf_kv *kv, uint64_t i);
int64_t gguf_arr_i64(const gguf_ctx *g, const gguf_kv *kv, uint64_t i);
const char *gguf_type_name(uint32_t value_type);

#endif
