// Type declarations of ntk-wasm's JS API: what `import ... from 'ntk-wasm'` (wasm/engine.mjs) gives.
// The WorkerEngine (the same API run in a Web Worker or a Node worker_thread) is imported from the
// subpath 'ntk-wasm/worker' (wasm/worker-engine.mjs); its types are in worker-engine.d.ts and are
// re-exported here as types only.
//
// The declarations use the web platform's Blob, Response, ReadableStream, URL and AbortSignal: a
// project needs the "DOM" lib or @types/node (whose globals declare them) to compile against them.

/** The `code` of an NtkError. */
export type NtkErrorCode =
  /** a bad argument or option (also: a conversation the chat template refuses) */
  | 'ARG'
  /** a file that is not a valid GGUF model, a missing part of a split model, a chat template that does not parse */
  | 'FORMAT'
  /** a valid file the engine cannot run (architecture, tensor type), or @huggingface/jinja missing for chat */
  | 'UNSUPPORTED'
  /** out of memory (the WebAssembly memory is at most 4 GB) */
  | 'NOMEM'
  /** a call at the wrong time: the engine was disposed, a generation is already running */
  | 'STATE'
  /** the model bytes ended early */
  | 'TRUNCATED'
  /** a file or network read failed (no such file, HTTP status, a stream that errored) */
  | 'IO'
  /** the context cannot grow (its maxContext cap, or WebAssembly memory); nothing was lost: reset() and go on */
  | 'CONTEXT_FULL'
  /** the model computed non-finite logits (weights holding NaN or infinity; the context is as before), or any other failure */
  | 'RUNTIME';

/**
 * The one error class of the API. Every failure of the engine is an NtkError with a `code`; the
 * engine stays usable after one (except after dispose). An aborted load throws the signal's
 * reason (a DOMException named 'AbortError' when it has none), not an NtkError.
 */
export class NtkError extends Error {
  /** options is Error's own: { cause }. */
  constructor(message: string, code: NtkErrorCode, options?: { cause?: unknown });
  readonly name: 'NtkError';
  /** what kind of failure: see NtkErrorCode */
  code: NtkErrorCode;
}

/**
 * RoPE scaling past the trained context. 'consistent': dynamic NTK, every cached key rotated with
 * the current base; 'cached': dynamic NTK, keys keep the base of the call that wrote them (as
 * transformers); 'none': plain RoPE, never scaled.
 */
export type RopeMode = 'consistent' | 'cached' | 'none';

/** One source of model bytes. A string is a file path in Node (or an http(s)/file/data/blob URL), a URL everywhere else. */
export type ModelSourcePart =
  | string
  | URL
  | Response
  | ReadableStream<Uint8Array>
  | Blob
  | ArrayBuffer
  | ArrayBufferView
  | AsyncIterable<Uint8Array>;

/**
 * Where a model is read from: one source, or a list of the parts of a split model (llama.cpp's
 * gguf-split) in order. A path or URL named NAME-00001-of-0000N.gguf loads all N parts by itself.
 */
export type ModelSource = ModelSourcePart | readonly ModelSourcePart[];

/** Load progress, reported to LoadOptions.onProgress after every chunk and once at the end. */
export interface LoadProgress {
  /** bytes read so far, over all parts */
  loaded: number;
  /** bytes expected up to the end of the current part; undefined when the source does not tell (a stream, a compressed response) */
  total?: number;
  /** 'header': reading metadata and the tensor table; 'tensors': tensor data; 'ready': loaded (the last report) */
  phase: 'header' | 'tensors' | 'ready';
  /** the part being read, from 1 */
  part: number;
  /** the number of parts known so far (1 for a model that is not split) */
  parts: number;
}

/** Options of Engine.load (and WorkerEngine.load). Unknown keys are rejected (NtkError 'ARG'). */
export interface LoadOptions {
  /** RoPE scaling; default 'consistent' for internlm2 (or a file with {arch}.rope.dynamic_ntk.factor), 'none' for llama */
  ropeMode?: RopeMode;
  /** dynamic NTK factor a, in [1, 1e6]; default the file's dynamic_ntk.factor, else 2.0 */
  ropeFactor?: number;
  /** trained context length L0 (an integer in [1, 1e12]); default the file's {arch}.context_length */
  trainedCtx?: number;
  /**
   * tokens between moves of the dynamic base (an integer >= 1; default 1, every token): past L0
   * the length is rounded up to L0 + a multiple of it, so the base (and with it the 'scale'
   * events) changes every ropeRefresh tokens: a coarser step scales a little ahead
   */
  ropeRefresh?: number;
  /** cap on the tokens in context (an integer >= 1); default none: memory is the limit. Passing it is a CONTEXT_FULL error before anything is evaluated */
  maxContext?: number;
  /** element type of the KV cache: 'f32' (the default), 'f16' or 'q8_0' (head dimension a multiple of 32, else an UNSUPPORTED error) */
  kvType?: KvType;
  /**
   * threads that evaluate, an integer in [1, 64]; default 1. Above 1 the threaded build runs
   * (WebAssembly threads over a SharedArrayBuffer: always in Node, in a browser only when the
   * page is cross-origin isolated); otherwise, and with build 'scalar', one thread does, and
   * info().threads tells. In a browser whose thread workers cannot start (their script fails to
   * load), build 'auto' runs one thread with a console warning; a named build fails the load
   * (RUNTIME). Logits are bitwise the same for any number of threads.
   */
  threads?: number;
  /**
   * which build of the engine runs: 'simd' (WebAssembly SIMD128); 'relaxed' (the same, with the
   * quantized kernels' products in relaxed SIMD's i16x8.relaxed_dot_i8x16_i7x16_s: faster, and
   * the same logits bit for bit; an UNSUPPORTED error where the runtime does not validate relaxed
   * SIMD, as Node 20 without --experimental-wasm-relaxed-simd); 'scalar' (the same C without
   * SIMD, for comparisons); or 'auto' (the default): 'relaxed' where it can run, else 'simd'
   */
  build?: Build;
  /** bytes per read while loading, an integer in [1, 2^30]; default 1 MiB (1048576) */
  chunkSize?: number;
  /** called with the progress after every chunk read, and with phase 'ready' at the end */
  onProgress?: (progress: LoadProgress) => void;
  /** aborts the load: load() rejects with the signal's reason */
  signal?: AbortSignal;
  /**
   * browser: keep a model fetched from a URL in the Cache API (cache 'ntk-wasm-models') and read
   * it from there next time; false bypasses the cache. Default true; no effect in Node.
   */
  cache?: boolean;
}

/** a build of the engine (LoadOptions.build) */
export type Build = 'auto' | 'relaxed' | 'simd' | 'scalar';

/** element type of the KV cache */
export type KvType = 'f32' | 'f16' | 'q8_0';

/** LoadOptions with the defaults filled in, as checkLoadOptions returns them. */
export interface ResolvedLoadOptions {
  ropeMode: RopeMode | undefined;
  ropeFactor: number | undefined;
  trainedCtx: number | undefined;
  ropeRefresh: number | undefined;
  maxContext: number | undefined;
  kvType: KvType;
  threads: number;
  build: Build;
  chunkSize: number;
  onProgress: ((progress: LoadProgress) => void) | undefined;
  signal: AbortSignal | undefined;
  cache: boolean;
}

/** Options of generate() (and of chat(), which adds ChatOptions'). Unknown keys are rejected (NtkError 'ARG'). */
export interface GenerateOptions {
  /** tokens to generate at most, an integer >= 0; default 128 */
  maxTokens?: number;
  /** sampling temperature >= 0; 0 is greedy (always the most likely token); default 0.8 */
  temperature?: number;
  /** keep the K most likely tokens, an integer >= 0; 0 is off; default 40 */
  topK?: number;
  /** nucleus sampling: keep the smallest set of tokens whose probabilities add up to topP, in [1e-6, 1]; default 0.95 */
  topP?: number;
  /** drop tokens less likely than minP times the most likely one, in [0, 1]; default 0.05 */
  minP?: number;
  /** penalise tokens seen in the last repeatWindow tokens (positive logits divided by it, negative ones multiplied), > 0; 1.0 (the default) is off */
  repeatPenalty?: number;
  /** how many tokens repeatPenalty looks back over, an integer >= 0; default 64 */
  repeatWindow?: number;
  /** random seed, an integer in [0, 2^53 - 1]; the same seed gives the same text; default random */
  seed?: number;
  /**
   * stop strings: generation ends before the first occurrence of any (the stop text is not
   * yielded, even when it spans tokens); non-empty strings; default none
   */
  stop?: string | readonly string[];
  /** ends the generation when aborted: the iterator finishes after the current token, without an error */
  signal?: AbortSignal;
}

/** GenerateOptions with the defaults filled in, as checkGenerateOptions returns them. */
export interface ResolvedGenerateOptions {
  maxTokens: number;
  temperature: number;
  topK: number;
  topP: number;
  minP: number;
  repeatPenalty: number;
  repeatWindow: number;
  seed: number;
  stop: string[];
  signal: AbortSignal | undefined;
}

/** Options of chat(): generate()'s and how the messages' text is tokenized. */
export interface ChatOptions extends GenerateOptions {
  /**
   * read control-token text in a message ('<|im_start|>') as the control tokens themselves, as
   * llama.cpp and transformers do; default false: as plain text, so a message cannot forge the
   * template's turns (the template's own markup is read as control tokens either way)
   */
  parseSpecial?: boolean;
}

/** ChatOptions with every default filled in (checkChatOptions). */
export interface ResolvedChatOptions extends ResolvedGenerateOptions {
  parseSpecial: boolean;
}

/** One generated token. */
export interface GenerateItem {
  /** the token id */
  id: number;
  /**
   * its text: pieces that end inside a UTF-8 character, and text that could be the start of a
   * stop string, are held back and come with a later token ('' until then); '' for an
   * end-of-generation token
   */
  text: string;
  /** tokens in context at the evaluation whose logits chose this token */
  nCtx: number;
  /** the RoPE base of that evaluation */
  base: number;
}

/** The 'scale' event: fired on the first evaluation and whenever the effective RoPE base changes after it (reset() included). */
export interface ScaleEvent {
  /** tokens in context */
  nCtx: number;
  /** RoPE base now in force: theta up to trainedCtx tokens, then theta·(a·L/L0 − (a−1))^(d/(d−2)) */
  base: number;
  /** the dynamic NTK factor a */
  factor: number;
  /** the RoPE mode in force */
  mode: RopeMode;
  /** the trained context length L0 */
  trainedCtx: number;
  /** tokens between moves of the base (LoadOptions.ropeRefresh) */
  refresh: number;
}

/** The events of Engine.on. */
export interface EngineEvents {
  scale: ScaleEvent;
}

/** Where a ModelInfo.rope setting came from: a load option, the file, or the built-in default. */
export type SettingSource = 'option' | 'file' | 'default';

/** What info() returns: the model's shapes and types, and the RoPE scaling in force. */
export interface ModelInfo {
  /** general.name ('' when the file has none) */
  name: string;
  /** general.architecture: 'internlm2' or 'llama' */
  architecture: 'internlm2' | 'llama';
  nVocab: number;
  /** embedding length */
  dim: number;
  nLayers: number;
  /** attention heads */
  nHeads: number;
  /** key/value heads (grouped-query attention when fewer than nHeads) */
  nKvHeads: number;
  headDim: number;
  /** feed-forward length */
  ffn: number;
  /** RMSNorm epsilon */
  rmsEps: number;
  /** the file's {arch}.context_length */
  contextLength: number;
  /** tensors over all parts */
  nTensors: number;
  /** bytes of tensor data over all parts */
  tensorBytes: number;
  /** GGUF version of the (first) file: 2 or 3 */
  ggufVersion: number;
  /** number of files the model was split in (1 if not split) */
  splits: number;
  /** whether this engine runs a SIMD build ('simd' or 'relaxed') */
  simd: boolean;
  /** whether it runs the relaxed build */
  relaxedSimd: boolean;
  /** threads evaluating: LoadOptions.threads, or 1 where the threaded build cannot run */
  threads: number;
  /** number of tensors of each type, by ggml type name ('F32', 'Q8_0', ...) */
  tensorTypes: Record<string, number>;
  rope: {
    /** the base theta ({arch}.rope.freq_base, default 10000) */
    theta: number;
    mode: RopeMode;
    modeSource: SettingSource;
    /** dynamic NTK factor a */
    factor: number;
    factorSource: SettingSource;
    /** trained context length L0 */
    trainedCtx: number;
    /** tokens between moves of the dynamic base (LoadOptions.ropeRefresh) */
    refresh: number;
    /** whether the file has {arch}.rope.dynamic_ntk.factor */
    fileFactor: boolean;
  };
  /** beginning-of-sequence token id */
  bos: number;
  /** end-of-sequence token id */
  eos: number;
  /** end-of-turn token id (<|im_end|>), -1 if the vocabulary has none */
  eot: number;
  /** the file's tokenizer.ggml.add_bos_token (tokenize() puts BOS first unless told { bos: false }, whatever this says) */
  addBos: boolean;
  /** element type of the KV cache (the kvType load option) */
  kvType: KvType;
  /** bytes one more token of context takes (the KV cache of every layer and its bookkeeping) */
  kvBytesPerToken: number;
  /** the maxContext cap, 0 for none */
  maxContext: number;
  /** about how many tokens of context fit in WebAssembly memory (and the cap), as of this call */
  contextFit: number;
  /** contextFit with each KV cache type (what kvType would buy); 0 for a type the model cannot use */
  contextFitByKvType: Record<KvType, number>;
}

/** A metadata array: its element type, its length, and its first maxArrayItems values. */
export interface MetadataArray {
  /** GGUF element type: 'uint8', 'int32', 'float32', 'string', ... */
  array: string;
  length: number;
  head: Array<string | number | boolean>;
}

/** A metadata value; null for a uint64 too large for an int64. */
export type MetadataValue = string | number | boolean | null | MetadataArray;

/** One tensor of the file. */
export interface TensorInfo {
  name: string;
  /** ggml type name: 'F32', 'F16', 'BF16', 'Q8_0', 'Q4_0', 'Q4_K', ... */
  type: string;
  /** dimensions, innermost first (as GGUF stores them) */
  shape: number[];
  /** bytes of data */
  bytes: number;
  /** the part of a split model it is in, from 1 */
  part: number;
}

/** What metadata() returns: every key/value of the file (all parts) and every tensor. */
export interface Metadata {
  metadata: Record<string, MetadataValue>;
  tensors: TensorInfo[];
}

/** Options of metadata(). Unknown keys are rejected (NtkError 'ARG'). */
export interface MetadataOptions {
  /** values shown of each array, an integer >= 0; default 8 */
  maxArrayItems?: number;
}

/** One turn of a conversation. */
export interface ChatMessage {
  /** 'system', 'user', 'assistant', or any role the model's template knows */
  role: string;
  content: string;
}

/** Token ids: an array or a typed array of integers. */
export type TokenIds = readonly number[] | Int32Array | Uint32Array | Uint16Array;

/** T for an Engine, a promise of T for a WorkerEngine. */
export type Returns<T, Async extends boolean> = Async extends true ? Promise<T> : T;

/**
 * The methods Engine and WorkerEngine share: EngineMethods<false> runs on the calling thread and
 * returns values, EngineMethods<true> (WorkerEngine) returns promises of them. generate and chat
 * return async iterators in both.
 */
export interface EngineMethods<Async extends boolean> {
  /** Subscribe to 'scale' events. Returns a function that unsubscribes. */
  on<K extends keyof EngineEvents>(event: K, listener: (event: EngineEvents[K]) => void): () => void;
  /** Unsubscribe a listener. */
  off<K extends keyof EngineEvents>(event: K, listener: (event: EngineEvents[K]) => void): void;

  /** Model shapes, types, the RoPE scaling in force and how much context fits: a new object each call. */
  info(): Returns<ModelInfo, Async>;
  /** Every metadata key and tensor of the file; arrays show their first maxArrayItems (8) values. */
  metadata(options?: MetadataOptions): Returns<Metadata, Async>;

  /** Tokens in the context (WorkerEngine: as of the last settled call). */
  readonly nCtx: number;
  /** The RoPE base of the last evaluation (WorkerEngine: as of the last settled call). */
  readonly base: number;
  /** Vocabulary size. */
  readonly nVocab: number;
  /** Bytes of the engine's WebAssembly memory: the model, the KV cache and scratch, as grown so far (it never shrinks). */
  readonly memoryBytes: number;

  /** Token ids of a text; bos (default true) puts the BOS token first. User-defined tokens written as text (InternLM2's '<|im_start|>') become those tokens, unless special: false (default true) makes control ones among them plain text; '<s>' never does. */
  tokenize(text: string, options?: { bos?: boolean; special?: boolean }): Returns<number[], Async>;
  /** Text of a token sequence (control tokens dropped, as SentencePiece decodes); a WorkerEngine copies the ids to its worker. */
  detokenize(ids: Async extends true ? TokenIds : Iterable<number>): Returns<string, Async>;
  /** Text of one vocab piece as stored ('▁the', '<0x0A>'); NtkError 'ARG' if out of range. */
  piece(id: number): Returns<string, Async>;
  /** Whether a token ends a generation (EOS, end-of-turn). */
  isEndOfGeneration(id: number): Returns<boolean, Async>;

  /**
   * Evaluate tokens after the context (they join it). Returns the logits of the last position
   * (nVocab values), or with { allLogits: true } of every position given (ids.length × nVocab).
   * NtkError 'STATE' while a generation of this engine is being consumed.
   */
  evaluate(ids: TokenIds, options?: { allLogits?: boolean }): Returns<Float32Array, Async>;

  /**
   * Generate tokens after the context. prompt: a string (tokenized with BOS when the context is
   * empty) or token ids, appended to the context. Yields one GenerateItem per token, each made
   * only when the loop asks for it; ends at an end-of-generation token, maxTokens, a stop string,
   * an aborted signal, or a break out of the loop. One generation at a time per engine (NtkError
   * 'STATE').
   */
  generate(prompt: string | TokenIds, options?: GenerateOptions): AsyncGenerator<GenerateItem, void, undefined>;

  /**
   * Render messages with the model's chat template (InternLM2's when the file has none; needs
   * @huggingface/jinja) and generate the assistant's answer as generate() does. Send the whole
   * conversation every turn: the part of it already in context is not evaluated again. A
   * template that does not parse, fails or runs past its limits (steps, about 1 s, the size of
   * its values): NtkError 'FORMAT'.
   */
  chat(messages: readonly ChatMessage[], options?: ChatOptions): AsyncGenerator<GenerateItem, void, undefined>;

  /** Forget the context (the model stays loaded). */
  reset(): Returns<void, Async>;
  /** Free the engine (WorkerEngine: and end its worker); later calls fail with NtkError 'STATE'. Safe to call twice. */
  dispose(): Returns<void, Async>;
}

/**
 * A loaded model, with its own WebAssembly instance and context (the tokens evaluated so far).
 * Runs on the calling thread; WorkerEngine ('ntk-wasm/worker') runs the same in a worker.
 */
export interface Engine extends EngineMethods<false> {}
export class Engine {
  private constructor();

  /**
   * Load a GGUF model (internlm2 or llama; tensors F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1,
   * Q4_K, Q5_K or Q6_K) from a path, URL, Response, ReadableStream, Blob/File, bytes, an async
   * iterable of byte chunks, or a list of the parts of a split model. The bytes are read chunk by
   * chunk into WebAssembly memory.
   */
  static load(source: ModelSource, options?: LoadOptions): Promise<Engine>;
}

/** Validate Engine.load options and fill in the defaults; throws NtkError 'ARG'. */
export function checkLoadOptions(options?: LoadOptions): ResolvedLoadOptions;

/** Whether this runtime validates relaxed SIMD, so that build 'auto' runs the relaxed build. */
export function relaxedSimdSupported(): boolean;

/** Validate generate() options and fill in the defaults (seed: a random one); throws NtkError 'ARG'. */
export function checkGenerateOptions(options?: GenerateOptions): ResolvedGenerateOptions;

/** Validate chat() options and fill in the defaults; throws NtkError 'ARG'. */
export function checkChatOptions(options?: ChatOptions): ResolvedChatOptions;

/**
 * WorkerEngine is not exported by 'ntk-wasm' itself: import it from 'ntk-wasm/worker'. Its type
 * is re-exported here for annotations only.
 */
export type { WorkerEngine } from './worker-engine.js';
