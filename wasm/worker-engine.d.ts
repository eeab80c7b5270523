// Type declarations of 'ntk-wasm/worker' (wasm/worker-engine.mjs): the Engine API with the engine
// in a worker (a module Web Worker in browsers, a worker_threads Worker in Node), so that loading
// and generating never block the page or Node's main thread.

import type { EngineMethods, LoadOptions, ModelSource } from './index.js';

export { NtkError } from './index.js';
export type * from './index.js';

/**
 * An Engine in its own worker, with Engine's methods (EngineMethods<true>): each returns a
 * promise (generate and chat return async iterators, as Engine's do; leaving the loop early ends
 * the generation in the worker); on/off and the nCtx, base, nVocab and memoryBytes getters are
 * synchronous, current once the call that changed them has settled. Errors keep their NtkError
 * code. After dispose() (or if the worker dies) every call rejects with an NtkError ('STATE' or
 * 'RUNTIME').
 *
 * Sources cross to the worker: an ArrayBuffer, or a view spanning its whole buffer, is
 * transferred (the caller's buffer is detached); a view on part of a buffer is copied; a
 * ReadableStream or a Response's body is transferred; an async iterable is read through a
 * ReadableStream; a Blob or File is sent as it is (in Node, as a stream). In a browser a relative
 * URL string is resolved against the page, and chat() imports @huggingface/jinja from where the
 * page's import map puts it.
 */
export interface WorkerEngine extends EngineMethods<true> {}
export class WorkerEngine {
  private constructor();

  /** Start a worker and load a model in it; source and options as Engine.load. The worker is ended if the load fails. */
  static load(source: ModelSource, options?: LoadOptions): Promise<WorkerEngine>;
}
