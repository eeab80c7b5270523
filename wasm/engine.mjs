// engine.mjs — the JS face of the C engine (src/api.h): one Engine per model, each with its own
// WebAssembly instance, so disposing an engine returns all of its memory.
//
// Model bytes go through the engine's load window (loader.mjs reads into it): in the tensor-data
// section the window is the model's own memory, so a file lands in place with no JS copy. Every
// C status becomes an NtkError with a `code`.
import { NtkError } from './errors.mjs';
import { openSource, splitPartName, forgetCached } from './loader.mjs';
import { Listeners } from './events.mjs';
import { checkLoadOptions, checkGenerateOptions, checkChatOptions, checkMetadataOptions } from './options.mjs';
import { STATUS, ROPE_MODES, KV_TYPES } from './build/abi.mjs';
import { instantiate } from './platform.mjs';

export { NtkError, checkLoadOptions, checkGenerateOptions, checkChatOptions };

// The file of each build (options.mjs's BUILD_NAMES). 'relaxed' is 'simd' whose quantized kernels
// use relaxed SIMD (the same results bit for bit, in fewer instructions), for runtimes that
// validate it; 'auto' takes it where it can.
const BUILDS = { simd: 'ntk', relaxed: 'ntk-relaxed', scalar: 'ntk-scalar' };
// with pthreads: runs when threads > 1 and memory can be shared
const THREADED = { simd: 'ntk-mt', relaxed: 'ntk-mt-relaxed' };
// a module of one function: i16x8.relaxed_dot_i8x16_i7x16_s of two v128.const
const RELAXED_PROBE = new Uint8Array([
  0,
  97,
  115,
  109,
  1,
  0,
  0,
  0,
  1,
  5,
  1,
  96,
  0,
  1,
  123,
  3,
  2,
  1,
  0,
  10,
  43,
  1,
  41,
  0,
  253,
  12,
  ...new Array(16).fill(1),
  253,
  12,
  ...new Array(16).fill(1),
  253,
  146,
  2,
  11,
]);
const TEXT_CAP = 256;
const isNode = typeof process === 'object' && !!process.versions?.node;
const utf8 = new TextDecoder();
const utf8Encoder = new TextEncoder();
// Let timers, signals and I/O run between tokens.
const yieldToEventLoop = () => new Promise((r) => (globalThis.setImmediate ?? setTimeout)(r));
const argError = (msg) => new NtkError(msg, 'ARG');

// Threads need a SharedArrayBuffer: Node always has one, a browser only on a cross-origin
// isolated page (COOP/COEP) or in a worker of one.
const canShareMemory = () =>
  typeof SharedArrayBuffer === 'function' && (isNode || globalThis.crossOriginIsolated === true);

/** Whether this runtime runs relaxed SIMD (browsers since 2023; Node 20 behind --experimental-wasm-relaxed-simd). */
export const relaxedSimdSupported = () => WebAssembly.validate(RELAXED_PROBE);

/** The build that runs for these options, and with how many threads. */
function chooseBuild(build, threads) {
  const relaxed = relaxedSimdSupported();
  const b = build === 'auto' ? (relaxed ? 'relaxed' : 'simd') : build;
  if (b === 'relaxed' && !relaxed)
    throw new NtkError(
      'the relaxed build needs relaxed SIMD, which this runtime does not validate ' +
        '(Node 20 has it behind --experimental-wasm-relaxed-simd); build "auto" falls back to "simd"',
      'UNSUPPORTED',
    );
  // with 'auto', threads whose workers cannot start (a missing script, a page's policy) fall back to one thread
  return threads > 1 && THREADED[b] && canShareMemory()
    ? { name: THREADED[b], threads, fallback: build === 'auto' ? BUILDS[b] : undefined }
    : { name: BUILDS[b], threads: 1 };
}

function abortError(signal) {
  return signal.reason instanceof Error ? signal.reason : new DOMException('the operation was aborted', 'AbortError');
}

// Text held back while it could still be the start of a stop string.
function stopCut(text, stops) {
  let cut = -1;
  for (const s of stops) {
    const i = text.indexOf(s);
    if (i >= 0 && (cut < 0 || i < cut)) cut = i;
  }
  if (cut >= 0) return { emit: text.slice(0, cut), stopped: true, rest: '' };
  let keep = 0;
  for (const s of stops)
    for (let k = Math.min(s.length - 1, text.length); k > keep; k--)
      if (text.endsWith(s.slice(0, k))) {
        keep = k;
        break;
      }
  return { emit: text.slice(0, text.length - keep), stopped: false, rest: text.slice(text.length - keep) };
}

// UTF-8 of text, and ranges of it ([start, end) in UTF-16 units, ascending and apart) as byte
// offsets [start, end, ...] of that UTF-8.
function utf8WithRanges(text, ranges) {
  const parts = [];
  const offsets = [];
  let at = 0,
    bytes = 0;
  const take = (end) => {
    const part = utf8Encoder.encode(text.slice(at, end));
    parts.push(part);
    bytes += part.length;
    at = end;
  };
  for (const [start, end] of ranges) {
    take(start);
    offsets.push(bytes);
    take(end);
    offsets.push(bytes);
  }
  take(text.length);
  const out = new Uint8Array(bytes);
  let p = 0;
  for (const part of parts) {
    out.set(part, p);
    p += part.length;
  }
  return { bytes: out, ranges: offsets };
}

export class Engine {
  #m;
  #e;
  #text;
  #tokens = []; // the context: evaluated tokens, then #pending ones not evaluated yet
  #pending = [];
  #controls = null; // #controlTexts()
  #listeners = new Listeners();
  #lastScale = null;
  #busy = false;

  constructor(mod, handle) {
    this.#m = mod;
    this.#e = handle;
    this.#text = mod._malloc(TEXT_CAP);
  }

  /**
   * Load a GGUF model. source: a path (Node), URL, Response, ReadableStream, Blob/File, bytes,
   * an async iterable of bytes, or an array of these (the parts of a split model).
   * options: { ropeMode, ropeFactor, trainedCtx, ropeRefresh, maxContext, kvType, threads, build, chunkSize, onProgress,
   *            signal, cache }
   */
  static async load(source, options = {}) {
    const opts = checkLoadOptions(options);
    for (let attempt = 0; ; attempt++) {
      if (opts.signal?.aborted) throw abortError(opts.signal);
      const { mod, threads } = await instantiate(chooseBuild(opts.build, opts.threads));
      const handle = mod._ntk_new();
      if (!handle) throw new NtkError('out of memory creating the engine', 'NOMEM');
      const engine = new Engine(mod, handle);
      try {
        engine.#check(mod._ntk_set_threads(handle, threads));
        await engine.#stream(source, { ...opts, cache: opts.cache && (attempt === 0 || 'reload') });
        if ([opts.ropeMode, opts.ropeFactor, opts.trainedCtx, opts.ropeRefresh].some((v) => v !== undefined))
          engine.#check(
            mod._ntk_set_rope(
              handle,
              opts.ropeMode === undefined ? -1 : ROPE_MODES.indexOf(opts.ropeMode),
              opts.ropeFactor ?? 0,
              opts.trainedCtx ?? 0,
              opts.ropeRefresh ?? 0,
            ),
          );
        if (opts.maxContext !== undefined) engine.#check(mod._ntk_set_max_context(handle, opts.maxContext));
        engine.#check(mod._ntk_set_kv_type(handle, KV_TYPES.indexOf(opts.kvType)));
        opts.onProgress?.({ ...engine.#progress, phase: 'ready' });
        return engine;
      } catch (err) {
        engine.dispose();
        // a cached copy that does not parse is dropped and fetched again, once
        if (err.fromCache && attempt === 0 && ['FORMAT', 'TRUNCATED'].includes(err.code)) {
          await forgetCached(err.fromCache);
          continue;
        }
        throw err;
      }
    }
  }

  #progress = { loaded: 0, total: undefined, part: 1, parts: 1 };

  async #stream(source, { chunkSize, onProgress, signal, cache }) {
    const m = this.#m,
      e = this.#e;
    const list = Array.isArray(source) ? source : null;
    if (source === null || source === undefined || list?.length === 0)
      throw argError(
        'a model source is needed: a path, URL, Response, ReadableStream, Blob, bytes or an async iterable of bytes',
      );
    this.#check(m._ntk_load_begin(e));
    let loadedBefore = 0;
    for (let part = 0, remaining = 1; remaining > 0; part++) {
      const src = list ? list[part] : part === 0 ? source : splitPartName(source, part);
      if (src === undefined || src === null)
        throw new NtkError(
          `this model is split in ${part + remaining} parts but part ${part + 1} was not given: ` +
            'load it from the path or URL of part 1 (NAME-00001-of-0000N.gguf) or from a list of all parts',
          'FORMAT',
        );
      const reader = await openSource(src, { signal, cache });
      let loaded = false;
      try {
        for (let got = 0; ;) {
          if (signal?.aborted) throw abortError(signal);
          const ptr = m._ntk_load_window(e, chunkSize) >>> 0;
          if (!ptr) this.#check(-4);
          const n = await reader.read(m.HEAPU8.subarray(ptr, ptr + (m._ntk_load_window_size(e) >>> 0)));
          if (n === 0) break;
          // the phase these bytes belong to: a first chunk holding the whole header is 'header'
          const phase = m._ntk_load_phase(e) ? 'tensors' : 'header';
          this.#check(m._ntk_load_commit(e, n));
          got += n;
          this.#progress = {
            loaded: loadedBefore + got,
            total: reader.total === undefined ? undefined : loadedBefore + reader.total,
            part: part + 1,
            parts: Math.max(part + remaining, list?.length ?? 0),
          };
          onProgress?.({ ...this.#progress, phase });
        }
        loadedBefore = this.#progress.loaded;
        remaining = this.#check(m._ntk_load_end(e));
        loaded = true;
        // part 1 tells how many parts there are: a list with more is not this model's
        if (list && part === 0 && list.length > 1 + remaining)
          throw new NtkError(`the list has ${list.length} parts, the model has ${1 + remaining}`, 'FORMAT');
      } catch (err) {
        if (reader.fromCache && err instanceof NtkError) err.fromCache = String(src);
        throw err;
      } finally {
        await reader.close(loaded);
      }
    }
  }

  #check(status) {
    if (status >= 0) return status;
    const msg = this.#e ? this.#m.UTF8ToString(this.#m._ntk_error(this.#e)) : 'engine disposed';
    throw new NtkError(msg || 'unknown error', STATUS[status] ?? 'RUNTIME');
  }

  #alive() {
    if (!this.#e) throw new NtkError('engine has been disposed', 'STATE');
  }

  /** Subscribe to 'scale' events: { nCtx, base, factor, mode, trainedCtx, refresh }. Returns an unsubscribe function. */
  on(event, fn) {
    return this.#listeners.on(event, fn);
  }
  off(event, fn) {
    this.#listeners.off(event, fn);
  }

  // 'scale' fires on the first evaluation and whenever the effective base changes after it.
  #emitScale() {
    const base = this.base;
    if (this.#lastScale === base) return;
    this.#lastScale = base;
    const { rope } = this.info();
    const event = {
      nCtx: this.nCtx,
      base,
      factor: rope.factor,
      mode: rope.mode,
      trainedCtx: rope.trainedCtx,
      refresh: rope.refresh,
    };
    this.#listeners.emit('scale', event);
  }

  /**
   * Model shapes, types, the RoPE scaling and KV cache in force, and how much context fits now:
   * a new object each call, read from the engine then (a few microseconds).
   */
  info() {
    this.#alive();
    const p = this.#m._ntk_info_json(this.#e);
    if (!p) this.#check(-5);
    return JSON.parse(this.#m.UTF8ToString(p));
  }

  /** Every metadata key and tensor of the file: { metadata, tensors }. Arrays show their first maxArrayItems values. */
  metadata(options) {
    this.#alive();
    const { maxArrayItems } = checkMetadataOptions(options);
    const p = this.#m._ntk_metadata_json(this.#e, maxArrayItems);
    if (!p) this.#check(-5);
    return JSON.parse(this.#m.UTF8ToString(p));
  }

  /** Tokens in context and the RoPE base of the last evaluation. */
  get nCtx() {
    this.#alive();
    return this.#tokens.length;
  }
  get base() {
    this.#alive();
    return this.#m._ntk_rope_base(this.#e);
  }
  get nVocab() {
    this.#alive();
    return this.#m._ntk_n_vocab(this.#e);
  }
  /** Bytes of this engine's WebAssembly memory: the model, the KV cache and scratch, as grown so far (it never shrinks). */
  get memoryBytes() {
    this.#alive();
    return this.#m.HEAPU8.buffer.byteLength;
  }

  /**
   * Token ids of text (BOS first unless bos: false). Control-token text in it (<|im_start|>) is
   * read as those tokens, or with special: false as plain text.
   */
  tokenize(text, { bos = true, special = true } = {}) {
    this.#alive();
    if (typeof text !== 'string') throw argError('tokenize expects a string');
    const bytes = utf8Encoder.encode(text);
    return this.#tokenize(bytes, bos, special ? [] : [0, bytes.length]);
  }

  // Token ids of UTF-8 bytes; plain: [start, end, ...] byte ranges where control-token text is plain text.
  #tokenize(bytes, bos, plain) {
    const m = this.#m;
    const tp = m._malloc(bytes.length + 1);
    const pp = m._malloc(plain.length * 4 + 4);
    try {
      m.HEAPU8.set(bytes, tp >>> 0);
      new Int32Array(m.HEAPU8.buffer, pp >>> 0, plain.length).set(plain);
      let cap = bytes.length + 8;
      for (;;) {
        const ip = m._malloc(cap * 4);
        try {
          const n = this.#check(m._ntk_tokenize(this.#e, tp, bytes.length, bos ? 1 : 0, pp, plain.length / 2, ip, cap));
          if (n <= cap) return Array.from(new Int32Array(m.HEAPU8.buffer, ip >>> 0, n));
          cap = n;
        } finally {
          m._free(ip);
        }
      }
    } finally {
      m._free(pp);
      m._free(tp);
    }
  }

  // The texts the tokenizer reads as control tokens (<|im_start|>, ...), once per model.
  #controlTexts() {
    if (!this.#controls) {
      this.#controls = [];
      for (let id = 0; id < this.nVocab; id++)
        if (this.#m._ntk_token_is_control_text(this.#e, id)) this.#controls.push(this.piece(id));
    }
    return this.#controls;
  }

  /** Text of a token sequence (control tokens dropped, as SentencePiece decodes). */
  detokenize(ids) {
    this.#alive();
    this.#check(this.#m._ntk_detok_reset(this.#e, 0));
    let s = '';
    for (const id of ids) s += this.#detokPush(id);
    return s + this.#detokFlush();
  }

  #detokPush(id) {
    const n = this.#check(this.#m._ntk_detok_push(this.#e, id, this.#text, TEXT_CAP));
    return this.#utf8(n);
  }

  #detokFlush() {
    return this.#utf8(this.#check(this.#m._ntk_detok_flush(this.#e, this.#text, TEXT_CAP)));
  }

  #utf8(n) {
    // a copy: TextDecoder refuses a view of the threaded build's SharedArrayBuffer
    return n ? utf8.decode(this.#m.HEAPU8.slice(this.#text >>> 0, (this.#text >>> 0) + n)) : '';
  }

  /** Text of one vocab piece as stored ("▁the", "<0x0A>"). */
  piece(id) {
    this.#alive();
    const p = this.#m._ntk_token_piece(this.#e, id);
    if (!p) throw argError(`token id ${id} is out of range [0, ${this.nVocab})`);
    return this.#m.UTF8ToString(p);
  }

  isEndOfGeneration(id) {
    this.#alive();
    return !!this.#m._ntk_is_eog(this.#e, id);
  }

  /**
   * Evaluate tokens after the context. Returns the logits of the last position, or of every
   * position with { allLogits: true } (a Float32Array of n * nVocab).
   */
  evaluate(ids, { allLogits = false } = {}) {
    this.#alive();
    if (this.#busy) throw new NtkError('a generation is running on this engine', 'STATE');
    return this.#evaluate(Array.from(ids ?? []), allLogits);
  }

  #evaluate(ids, allLogits) {
    const all = [...this.#pending, ...ids];
    if (all.length === 0) throw argError('no tokens to evaluate');
    for (const id of all) if (!Number.isInteger(id)) throw argError(`token ids must be integers, got ${id}`);
    const m = this.#m;
    const p = m._malloc(all.length * 4);
    if (!p) this.#check(-4);
    try {
      new Int32Array(m.HEAPU8.buffer, p >>> 0, all.length).set(all);
      this.#check(m._ntk_eval(this.#e, p, all.length, allLogits ? 1 : 0));
    } catch (err) {
      // generated tokens that cannot join a full context leave it: nCtx stays what the cache holds
      if (err.code === 'CONTEXT_FULL') {
        this.#tokens.length -= this.#pending.length;
        this.#pending = [];
      }
      throw err;
    } finally {
      m._free(p);
    }
    this.#pending = [];
    this.#tokens.push(...ids);
    this.#emitScale();
    const rows = allLogits ? all.length : 1;
    const lp = m._ntk_logits(this.#e) >>> 0;
    const out = new Float32Array(m.HEAPU8.buffer, lp, rows * this.nVocab).slice();
    return allLogits ? out.subarray((all.length - ids.length) * this.nVocab) : out;
  }

  // Make the context hold exactly `ids` and return the part still to evaluate: the longest common
  // prefix with what is cached is kept (a chat turn re-sends the whole conversation), at least one
  // token is left to evaluate so there are logits to sample from.
  #reuse(ids) {
    const evaluated = this.#tokens.length - this.#pending.length;
    let keep = 0;
    while (keep < evaluated && keep < ids.length - 1 && this.#tokens[keep] === ids[keep]) keep++;
    this.#check(this.#m._ntk_truncate(this.#e, keep));
    this.#tokens.length = keep;
    this.#pending = [];
    return ids.slice(keep);
  }

  /**
   * Generate tokens after `prompt` (a string, tokenized with BOS when the context is empty, or
   * an array of ids). Yields { id, text, nCtx, base } per token; nCtx and base are those of
   * the evaluation whose logits chose the token. See checkGenerateOptions for the options.
   */
  async *generate(prompt, options = {}) {
    this.#alive();
    const opts = checkGenerateOptions(options);
    const ids = typeof prompt === 'string' ? this.tokenize(prompt, { bos: this.nCtx === 0 }) : prompt;
    if (!Array.isArray(ids) && !ArrayBuffer.isView(ids))
      throw argError('prompt must be a string or an array of token ids');
    yield* this.#run(Array.from(ids), opts);
  }

  /**
   * Chat: render `messages` ([{ role, content }]) with the model's chat template (InternLM2's
   * when the file has none) and generate the assistant's answer, as generate() does. The cached
   * context is reused for the part of the conversation it already holds. Control-token text in a
   * message is plain text unless parseSpecial: true (checkChatOptions); the template's own markup
   * is always read as control tokens.
   */
  async *chat(messages, options = {}) {
    this.#alive();
    const { parseSpecial, ...opts } = checkChatOptions(options);
    const { renderChatParts } = await import('./chat.mjs');
    const meta = this.metadata({ maxArrayItems: 0 }).metadata;
    const { bos } = this.info();
    const bosToken = this.piece(bos);
    const { text, plain } = await renderChatParts(messages, {
      template: meta['tokenizer.chat_template'],
      bosToken,
      eosToken: this.piece(this.info().eos),
      addGenerationPrompt: true,
      controlTexts: parseSpecial ? [] : this.#controlTexts(),
    });
    if (text === '') throw new NtkError('chat template: the template rendered no text', 'FORMAT');
    // BOS written as text is not matched by the tokenizer (as SentencePiece): give it as an id
    const withBos = text.startsWith(bosToken);
    const cut = withBos ? bosToken.length : 0;
    const { bytes, ranges } = utf8WithRanges(
      text.slice(cut),
      plain.map(([start, end]) => [Math.max(0, start - cut), Math.max(0, end - cut)]),
    );
    const ids = this.#tokenize(bytes, withBos, ranges);
    yield* this.#run(this.#reuse(ids), opts);
  }

  async *#run(ids, { maxTokens, temperature, topK, topP, minP, repeatPenalty, repeatWindow, seed, stop, signal }) {
    if (this.#busy) throw new NtkError('a generation is already running on this engine', 'STATE');
    this.#busy = true;
    try {
      this.#check(this.#m._ntk_sampler_set(this.#e, temperature, topK, topP, minP, repeatPenalty, repeatWindow, seed));
      // a continuation keeps the space its first piece starts with
      this.#check(this.#m._ntk_detok_reset(this.#e, this.nCtx > 0 || ids.length > 1 ? 1 : 0));
      if (maxTokens === 0) return;
      this.#evaluate(ids, false);
      let held = '';
      for (let i = 0; i < maxTokens && !signal?.aborted; i++) {
        const id = this.#check(this.#m._ntk_sample(this.#e));
        const item = { id, text: '', nCtx: this.nCtx, base: this.base };
        const last = this.isEndOfGeneration(id) || i + 1 === maxTokens;
        if (!this.isEndOfGeneration(id)) {
          held += this.#detokPush(id);
          // the token joins the context now; it is evaluated with whatever comes next
          this.#pending.push(id);
          this.#tokens.push(id);
        }
        if (last) held += this.#detokFlush();
        const cut = stopCut(held, stop);
        item.text = cut.emit;
        held = cut.rest;
        yield item;
        if (last || cut.stopped) break;
        this.#evaluate([], false);
        await yieldToEventLoop();
      }
    } finally {
      this.#busy = false;
    }
  }

  /** Forget the context (the model stays loaded). */
  reset() {
    this.#alive();
    this.#pending = [];
    this.#tokens = [];
    this.#check(this.#m._ntk_reset(this.#e));
    this.#emitScale();
  }

  dispose() {
    if (!this.#e) return;
    this.#m._free(this.#text);
    this.#m._ntk_free(this.#e);
    // the threads have ended; their workers would otherwise wait in Emscripten's pool
    this.#m.PThread?.terminateAllThreads();
    this.#e = 0;
    // the instance (and its memory) goes with the last reference to it, even if this object lives on
    this.#m = null;
    this.#listeners.clear();
  }
}
