/* rotate_simd.c — the WebAssembly SIMD128 twin of rotate_scalar.c. Four pairs a step (rotate_row,
 * simd.h, which attention's keys share); each element rounds exactly as in the scalar twin, so
 * the results are identical. */
#if defined(__wasm_simd128__)

#include "simd.h"

void rope_rotate_simd(float *x, const float *c, const float *s, int head_dim) { rotate_row(x, x, c, s, head_dim); }

#endif
