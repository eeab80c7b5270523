/* rope.h — rotary position embedding with InternLM2's dynamic NTK scaling (docs/DESIGN.md,
 * Dynamic NTK).
 *
 *   base(L) = theta                                         if L <= L0 or mode is none
 *           = theta * ((a*L/L0) - (a-1)) ** (d/(d-2))       otherwise
 * L is the context length of a forward call (cached + new tokens), L0 the trained length, a the
 * factor, d the head dim. With a refresh step S > 1 the base moves only every S tokens: L past L0
 * is rounded up to L0 + a multiple of S (scaling a little ahead, never behind, and the same base
 * whichever way the tokens were split into calls). Pair i of a token at position p is rotated by p * base^(-2i/d).
 * Bases and angles are computed in double (angles reach 1e5 rad on long contexts, where float32
 * is off by 1e-2); only the final cos/sin are stored as float. */
#ifndef NTK_ROPE_H
#define NTK_ROPE_H

#include <stdint.h>

/* The values are those of ntk_set_rope's mode. */
typedef enum { ROPE_CONSISTENT = 0, ROPE_CACHED = 1, ROPE_NONE = 2, ROPE_MODE_COUNT } rope_mode;

typedef struct {
    rope_mode mode;
    double theta;        /* rope.freq_base */
    double factor;       /* a >= 1 */
    int64_t trained_ctx; /* L0 */
    int head_dim;        /* d */
    int64_t refresh;     /* S >= 1 */
} rope_config;

const char *rope_mode_name(rope_mode m);          /* NULL past the last mode */
int rope_mode_parse(const char *s, rope_mode *m); /* 1 if s names a mode */

double rope_base(const rope_config *rc, int64_t L);
/* inv_freq[i] = base^(-2i/d), i < d/2 */
void rope_inv_freq(double base, int head_dim, double *inv_freq);
/* cos/sin of positions p0, p0+step, .. (n of them) at base: row r (d/2 floats) is position
 * p0 + r*step. */
void rope_fill(double base, int head_dim, int64_t p0, int64_t step, int64_t n, float *cos_tab, float *sin_tab);

#endif
