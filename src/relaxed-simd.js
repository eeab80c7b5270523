// relaxed-simd.js — an Emscripten JS library with the one import of the relaxed build's kernels
// (ntk_relaxed_dot_i8x16_i7x16_s, src/kernels/simd.h), so that it links. scripts/relaxed-simd.mjs
// then replaces every call of it by the instruction it stands for and drops the import, so this
// body never runs in a built module.
mergeInto(LibraryManager.library, {
  ntk_relaxed_dot_i8x16_i7x16_s: function () {
    abort('ntk_relaxed_dot_i8x16_i7x16_s: the module was not rewritten by scripts/relaxed-simd.mjs');
  },
});
