/* tokenizer.h — SentencePiece BPE ("llama" tokenizer model in GGUF) and a streaming detokenizer.
 *
 * Encoding follows SentencePiece: the text gets a dummy prefix "▁" (if add_space_prefix) and
 * every space becomes "▁"; user-defined tokens (token_type 4, e.g. <|im_start|>) are matched
 * in the text as whole pieces; every other stretch is split into UTF-8 characters and the
 * adjacent pair whose merge is a vocab piece with the highest score is merged, repeatedly;
 * pieces left out of the vocab fall back to their bytes <0xNN>. <s>, </s>, <unk> written as
 * text are not matched.
 * Decoding maps "▁" to " ", <0xNN> to the byte, drops <s>-like control tokens, writes
 * user-defined ones as their text, and drops the space the dummy prefix added at the start
 * (unless the decoder is told it continues text: at_start = 0).
 * The streaming decoder holds back an incomplete UTF-8
 * sequence until its last byte arrives, so every chunk it returns is valid UTF-8. */
#ifndef NTK_TOKENIZER_H
#define NTK_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>
#include "gguf.h"

enum {
    TOKEN_NORMAL = 1,
    TOKEN_UNKNOWN = 2,
    TOKEN_CONTROL = 3,
    TOKEN_USER_DEFINED = 4,
    TOKEN_UNUSED = 5,
    TOKEN_BYTE = 6
};

typedef struct {
    int32_t n_vocab;
    char **pieces; /* NUL-terminated UTF-8 */
    uint32_t *piece_len;
    float *scores;
    uint8_t *types;
    int32_t bos, eos, eot, unk; /* eot: the end-of-turn piece if the vocab has it, else -1 */
    int add_bos, add_space_prefix;
    int32_t byte_id[256]; /* id of <0xNN>, -1 if missing */
    void *index;          /* private: piece -> id hash table */
} tokenizer;

/* Build from tokenizer.ggml.* metadata; eot is the piece that ends a chat turn (the
 * architecture's, arch.h), or NULL. Returns 0, or -1 with a message in err. */
int tokenizer_load(tokenizer *t, const gguf_ctx *g, const char *eot, char *err, size_t errlen);
void tokenizer_free(tokenizer *t);
/* Encode text (len bytes, need not be NUL-terminated). Writes up to cap ids, prepends BOS if
 * add_bos. Returns the number of ids the full encoding has (may exceed cap: call again with a
 * bigger buffer), or -1 on allocation failure.
 * plain: n_plain byte ranges [plain[2i], plain[2i + 1]) of text, ascending and apart, where
 * control pieces (tokenizer_is_control_text) are plain text: not matched there, nor made by a
 * merge that takes a byte of them. User-defined pieces are matched everywhere, as SentencePiece
 * matches them in any text. */
int64_t tokenizer_encode(const tokenizer *t, const char *text, size_t len, int add_bos, const uint32_t *plain,
                         size_t n_plain, int32_t *ids, int64_t cap);
/* 1 if id is a control piece matched where its text is written (<|im_start|>; not <s>). */
int tokenizer_is_control_text(const tokenizer *t, int32_t id);
int tokenizer_is_eog(const tokenizer *t, int32_t id); /* </s>, eos id or eot */

typedef struct {
    uint8_t pending[4];
    int n_pending;
    int at_start; /* no text emitted yet: drop the dummy-prefix space */
} detokenizer;

void detok_init(detokenizer *d);
/* Append the text of token id to out (cap bytes). Returns bytes written (valid UTF-8 only; an
 * incomplete sequence is kept for the next call), or -1 if id is out of range, -2 if cap is too
 * small (nothing written, state unchanged: retry with more room). */
int detok_push(const tokenizer *t, detokenizer *d, int32_t id, char *out, size_t cap);
/* Flush a trailing incomplete sequence as U+FFFD. Returns bytes written, or -2 if cap is too small. */
int detok_flush(detokenizer *d, char *out, size_t cap);

#endif
