// errors.mjs — the one error class of the JS API, in a module of its own so that engine.mjs and
// chat.mjs (which engine.mjs imports) can both use it without importing each other.
//
// code is one of: ARG (a bad argument), FORMAT (a bad model file or chat template), UNSUPPORTED,
// NOMEM, STATE, TRUNCATED, IO (a file or network read failed), CONTEXT_FULL (the context cannot
// grow: its cap or memory; nothing was lost, reset() and go on), RUNTIME (non-finite logits, a
// worker that died).

export class NtkError extends Error {
  /** options is Error's own ({ cause }). */
  constructor(message, code, options) {
    super(message, options);
    this.name = 'NtkError';
    this.code = code;
  }
}
