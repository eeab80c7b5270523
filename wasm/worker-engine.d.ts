// Type declarations of 'ntk-wasm/worker' (wasm/worker-engine.mjs): the Engine API with the engine
// in a worker (a module Web Worker in browsers, a worker_threads Worker in Node), so that loading
// and generating never block the page or Node's main thread.

import type {
  ChatMessage, EngineEvents, GenerateItem, GenerateOptions, LoadOptions, Metadata, MetadataOptions,
  ModelInfo, ModelSource, TokenIds,
} from './index.js';

export { NtkError } from './index.js';
export type * from './index.js';

/**
 * An Engine in its own worker. Every Engine method is here and returns a promise (generate and
 * chat return async iterators, as Engine's do); on/off and the nCtx, base, nVocab and memoryBytes
 * getters are synchronous, current once the call that changed them has settled. Errors keep their
 * NtkError code. After dispose() (or if the worker dies) every call rejects with an NtkError ('STATE' or
 * 'RUNTIME').
 *
 * Sources cross to the worker: an ArrayBuffer, or a view spanning its whole buffer, is
 * transferred (the caller's buffer is detached); a view on part of a buffer is copied; a
 * ReadableStream or a Response's body is transferred; an async iterable is read through a
 * ReadableStream; a Blob or File is sent as it is (in Node, as a stream). In a browser a relative
 * URL string is resolved against the page, and chat() imports @huggingface/jinja from where the
 * page's import map puts it.
 */
export class WorkerEngine {
  private constructor();

  /** Start a worker and load a model in it; source and options as Engine.load. The worker is ended if the load fails. */
  static load(source: ModelSource, options?: LoadOptions): Promise<WorkerEngine>;

  /** Subscribe to 'scale' events (sent by the worker). Returns a function that unsubscribes. */
  on<K extends keyof EngineEvents>(event: K, listener: (event: EngineEvents[K]) => void): () => void;
  /** Unsubscribe a listener. */
  off<K extends keyof EngineEvents>(event: K, listener: (event: EngineEvents[K]) => void): void;

  /** Tokens in the context, as of the last settled call. */
  readonly nCtx: number;
  /** The RoPE base of the last evaluation, as of the last settled call. */
  readonly base: number;
  /** Vocabulary size. */
  readonly nVocab: number;
  /** Bytes of the worker engine's WebAssembly memory, as of the last settled call. */
  readonly memoryBytes: number;

  /** As Engine.info. */
  info(): Promise<ModelInfo>;
  /** As Engine.metadata. */
  metadata(options?: MetadataOptions): Promise<Metadata>;
  /** As Engine.tokenize. */
  tokenize(text: string, options?: { bos?: boolean }): Promise<number[]>;
  /** As Engine.detokenize (the ids are copied to the worker). */
  detokenize(ids: TokenIds): Promise<string>;
  /** As Engine.piece. */
  piece(id: number): Promise<string>;
  /** As Engine.isEndOfGeneration. */
  isEndOfGeneration(id: number): Promise<boolean>;
  /** As Engine.evaluate; rejects with NtkError 'STATE' while a generation is being consumed. */
  evaluate(ids: TokenIds, options?: { allLogits?: boolean }): Promise<Float32Array>;
  /**
   * As Engine.generate: a token is made only when the iterator asks for one, so the context holds
   * what was consumed; leaving the loop early ends the generation in the worker.
   */
  generate(prompt: string | TokenIds, options?: GenerateOptions): AsyncGenerator<GenerateItem, void, undefined>;
  /** As Engine.chat. */
  chat(messages: readonly ChatMessage[], options?: GenerateOptions): AsyncGenerator<GenerateItem, void, undefined>;
  /** As Engine.reset. */
  reset(): Promise<void>;
  /** Free the model and end the worker. Safe to call twice. */
  dispose(): Promise<void>;
}
