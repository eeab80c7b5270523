// engine.mjs — the JS face of the C engine (src/api.h): one Engine per model, each with its own
// WebAssembly instance, so disposing an engine returns all of its memory.
//
// Bytes are streamed into the engine through its load window: in the tensor-data section the
// window is the model's own memory, so a file is read straight into place (no JS copy of the
// model). Every C status becomes an NtkError with a `code`.

const BUILDS = { simd: 'ntk', scalar: 'ntk-scalar' };
const CODES = { [-1]: 'ARG', [-2]: 'FORMAT', [-3]: 'UNSUPPORTED', [-4]: 'NOMEM', [-5]: 'STATE', [-6]: 'TRUNCATED' };
const ROPE_MODES = ['consistent', 'cached', 'none'];
const DEFAULT_CHUNK = 1 << 20;
const TEXT_CAP = 256;
const isNode = typeof process === 'object' && !!process.versions?.node;
const utf8 = new TextDecoder();
// Let timers, signals and I/O run between tokens.
const yieldToEventLoop = () => new Promise((r) => (globalThis.setImmediate ?? setTimeout)(r));

export class NtkError extends Error {
  constructor(message, code) {
    super(message);
    this.name = 'NtkError';
    this.code = code;
  }
}

const argError = (msg) => new NtkError(msg, 'ARG');

async function instantiate(build) {
  const name = BUILDS[build];
  if (!isNode) throw new NtkError('this entry point runs in Node; the browser uses the worker build', 'STATE');
  const { createRequire } = await import('node:module');
  const { readFile } = await import('node:fs/promises');
  const require = createRequire(import.meta.url);
  const factory = require(`./build/${name}.js`);
  const wasmBinary = await readFile(new URL(`./build/${name}.wasm`, import.meta.url));
  return factory({ wasmBinary });
}

// lo may be exclusive: checkNumber('topP', v, 0, 1, { openLow: true }) accepts (0, 1].
function checkNumber(name, v, lo, hi, { integer = false, openLow = false } = {}) {
  if (v === undefined) return;
  const low = openLow ? v <= lo : v < lo;
  if (typeof v !== 'number' || Number.isNaN(v) || low || v > hi || (integer && !Number.isInteger(v)))
    throw argError(`${name} must be ${integer ? 'an integer' : 'a number'} in ${openLow ? '(' : '['}${lo}, ${hi}], got ${v}`);
}

// Yields Uint8Array chunks of a source: a path (Node), bytes, or an async iterable of bytes.
async function* chunksOf(source) {
  if (typeof source === 'string' || source instanceof URL) {
    const { open } = await import('node:fs/promises');
    const fh = await open(source, 'r').catch((e) => {
      throw new NtkError(`cannot open ${source}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`, 'FORMAT');
    });
    try {
      yield { fh, path: String(source) };
    } finally {
      await fh.close();
    }
    return;
  }
  if (source instanceof ArrayBuffer) source = new Uint8Array(source);
  if (ArrayBuffer.isView(source)) {
    yield new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
    return;
  }
  if (source && typeof source[Symbol.asyncIterator] === 'function') {
    for await (const c of source) yield c;
    return;
  }
  throw argError('model source must be a file path, bytes or an async iterable of bytes');
}

/** Validate Engine.load options and fill in defaults; throws NtkError('ARG'). */
export function checkLoadOptions(options = {}) {
  const { ropeMode, ropeFactor, trainedCtx, build = 'simd', chunkSize = DEFAULT_CHUNK } = options;
  if (ropeMode !== undefined && !ROPE_MODES.includes(ropeMode))
    throw argError(`ropeMode must be one of ${ROPE_MODES.join(', ')}, got ${ropeMode}`);
  if (!BUILDS[build]) throw argError(`build must be simd or scalar, got ${build}`);
  checkNumber('ropeFactor', ropeFactor, 1, 1e6);
  checkNumber('trainedCtx', trainedCtx, 1, 2 ** 40, { integer: true });
  checkNumber('chunkSize', chunkSize, 1, 2 ** 30, { integer: true });
  return { ropeMode, ropeFactor, trainedCtx, build, chunkSize };
}

/** Validate generate options and fill in defaults; throws NtkError('ARG'). */
export function checkGenerateOptions(options = {}) {
  const known = ['maxTokens', 'temperature', 'topK', 'topP', 'minP', 'repeatPenalty', 'repeatWindow', 'seed', 'signal'];
  for (const k of Object.keys(options)) if (!known.includes(k)) throw argError(`unknown generate option "${k}"`);
  const {
    maxTokens = 128, temperature = 0.8, topK = 40, topP = 0.95, minP = 0.05,
    repeatPenalty = 1.0, repeatWindow = 64, seed = Math.floor(Math.random() * 2 ** 32), signal,
  } = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
  checkNumber('maxTokens', maxTokens, 0, 2 ** 31 - 1, { integer: true });
  checkNumber('temperature', temperature, 0, 1e6);
  checkNumber('topK', topK, 0, 2 ** 31 - 1, { integer: true });
  checkNumber('topP', topP, 0, 1, { openLow: true });
  checkNumber('minP', minP, 0, 1);
  checkNumber('repeatPenalty', repeatPenalty, 1e-6, 1e6);
  checkNumber('repeatWindow', repeatWindow, 0, 2 ** 31 - 1, { integer: true });
  checkNumber('seed', seed, 0, Number.MAX_SAFE_INTEGER, { integer: true });
  return { maxTokens, temperature, topK, topP, minP, repeatPenalty, repeatWindow, seed, signal };
}

export class Engine {
  #m; #e; #text; #pending = []; #infoCache = null;

  constructor(mod, handle) {
    this.#m = mod;
    this.#e = handle;
    this.#text = mod._malloc(TEXT_CAP);
  }

  /** Load a GGUF model. options: { ropeMode, ropeFactor, trainedCtx, build, chunkSize } */
  static async load(source, options = {}) {
    const { ropeMode, ropeFactor, trainedCtx, build, chunkSize } = checkLoadOptions(options);
    const mod = await instantiate(build);
    const handle = mod._ntk_new();
    if (!handle) throw new NtkError('out of memory creating the engine', 'NOMEM');
    const engine = new Engine(mod, handle);
    try {
      await engine.#stream(source, chunkSize);
      if (ropeMode !== undefined || ropeFactor !== undefined || trainedCtx !== undefined)
        engine.#check(mod._ntk_set_rope(handle, ropeMode === undefined ? -1 : ROPE_MODES.indexOf(ropeMode), ropeFactor ?? 0, trainedCtx ?? 0));
    } catch (err) {
      engine.dispose();
      throw err;
    }
    return engine;
  }

  async #stream(source, chunkSize) {
    const m = this.#m, e = this.#e;
    this.#check(m._ntk_load_begin(e));
    const windowFor = (want) => {
      const ptr = m._ntk_load_window(e, want) >>> 0;
      if (!ptr) this.#check(-4);
      return { ptr, size: m._ntk_load_window_size(e) >>> 0 };
    };
    for await (const chunk of chunksOf(source)) {
      if (chunk.fh) {
        // read the file straight into the engine's window
        for (let pos = 0; ; ) {
          const { ptr, size } = windowFor(chunkSize);
          const { bytesRead } = await chunk.fh.read(m.HEAPU8, ptr, size, pos).catch((e) => {
            throw new NtkError(`cannot read ${chunk.path}: ${e.code === 'EISDIR' ? 'it is a directory' : e.message}`, 'FORMAT');
          });
          if (bytesRead === 0) break;
          this.#check(m._ntk_load_commit(e, bytesRead));
          pos += bytesRead;
        }
        continue;
      }
      for (let off = 0; off < chunk.length; ) {
        const { ptr, size } = windowFor(Math.min(chunkSize, chunk.length - off));
        m.HEAPU8.set(chunk.subarray(off, off + size), ptr);
        this.#check(m._ntk_load_commit(e, size));
        off += size;
      }
    }
    this.#check(m._ntk_load_end(e));
  }

  #check(status) {
    if (status >= 0) return status;
    const msg = this.#e ? this.#m.UTF8ToString(this.#m._ntk_error(this.#e)) : 'engine disposed';
    throw new NtkError(msg || 'unknown error', CODES[status] ?? 'RUNTIME');
  }

  #alive() {
    if (!this.#e) throw new NtkError('engine has been disposed', 'STATE');
  }

  /** Model shapes, types, and the RoPE scaling in force. */
  info() {
    this.#alive();
    if (!this.#infoCache) {
      const p = this.#m._ntk_info_json(this.#e);
      if (!p) this.#check(-5);
      this.#infoCache = JSON.parse(this.#m.UTF8ToString(p));
    }
    return this.#infoCache;
  }

  /** Tokens in context and the RoPE base of the last evaluation. */
  get nCtx() { this.#alive(); return this.#m._ntk_n_ctx(this.#e) + this.#pending.length; }
  get base() { this.#alive(); return this.#m._ntk_rope_base(this.#e); }
  get nVocab() { this.#alive(); return this.#m._ntk_n_vocab(this.#e); }

  tokenize(text, { bos = true } = {}) {
    this.#alive();
    if (typeof text !== 'string') throw argError('tokenize expects a string');
    const m = this.#m;
    const len = m.lengthBytesUTF8(text);
    const tp = m._malloc(len + 1);
    try {
      m.stringToUTF8(text, tp, len + 1);
      let cap = len + 8;
      for (;;) {
        const ip = m._malloc(cap * 4);
        try {
          const n = this.#check(m._ntk_tokenize(this.#e, tp, len, bos ? 1 : 0, ip, cap));
          if (n <= cap) return Array.from(new Int32Array(m.HEAPU8.buffer, ip >>> 0, n));
          cap = n;
        } finally {
          m._free(ip);
        }
      }
    } finally {
      m._free(tp);
    }
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
    return n ? utf8.decode(this.#m.HEAPU8.subarray(this.#text >>> 0, (this.#text >>> 0) + n)) : '';
  }

  /** Text of one vocab piece as stored ("▁the", "<0x0A>"). */
  piece(id) {
    this.#alive();
    const p = this.#m._ntk_token_piece(this.#e, id);
    if (!p) throw argError(`token id ${id} is out of range [0, ${this.nVocab})`);
    return this.#m.UTF8ToString(p);
  }

  isEndOfGeneration(id) { this.#alive(); return !!this.#m._ntk_is_eog(this.#e, id); }

  /**
   * Evaluate tokens after the context. Returns the logits of the last position, or of every
   * position with { allLogits: true } (a Float32Array of n * nVocab).
   */
  evaluate(ids, { allLogits = false } = {}) {
    this.#alive();
    const all = [...this.#pending, ...ids];
    if (all.length === 0) throw argError('no tokens to evaluate');
    for (const id of all)
      if (!Number.isInteger(id)) throw argError(`token ids must be integers, got ${id}`);
    const m = this.#m;
    const p = m._malloc(all.length * 4);
    if (!p) this.#check(-4);
    try {
      new Int32Array(m.HEAPU8.buffer, p >>> 0, all.length).set(all);
      this.#check(m._ntk_eval(this.#e, p, all.length, allLogits ? 1 : 0));
    } finally {
      m._free(p);
    }
    this.#pending = [];
    const rows = allLogits ? all.length : 1;
    const lp = m._ntk_logits(this.#e) >>> 0;
    const out = new Float32Array(m.HEAPU8.buffer, lp, rows * this.nVocab).slice();
    return allLogits ? out.subarray((all.length - ids.length) * this.nVocab) : out;
  }

  /**
   * Generate tokens after `prompt` (a string, tokenized with BOS when the context is empty, or
   * an array of ids). Yields { id, text, nCtx, base } per token; nCtx and base are those of
   * the evaluation whose logits chose the token.
   * options: maxTokens, temperature (0 = greedy), topK, topP, minP, repeatPenalty,
   *          repeatWindow, seed, signal.
   */
  async *generate(prompt, options = {}) {
    this.#alive();
    const { maxTokens, temperature, topK, topP, minP, repeatPenalty, repeatWindow, seed, signal } = checkGenerateOptions(options);
    const ids = typeof prompt === 'string' ? this.tokenize(prompt, { bos: this.nCtx === 0 }) : prompt;
    if (!Array.isArray(ids) && !ArrayBuffer.isView(ids)) throw argError('prompt must be a string or an array of token ids');
    this.#check(this.#m._ntk_sampler_set(this.#e, temperature, topK, topP, minP, repeatPenalty, repeatWindow, seed));
    // a continuation keeps the space its first piece starts with
    this.#check(this.#m._ntk_detok_reset(this.#e, this.nCtx > 0 || ids.length > 1 ? 1 : 0));
    if (maxTokens === 0) return;
    this.evaluate(Array.from(ids));
    for (let i = 0; i < maxTokens; i++) {
      if (signal?.aborted) break;
      const id = this.#check(this.#m._ntk_sample(this.#e));
      const item = { id, text: '', nCtx: this.nCtx, base: this.base };
      if (this.isEndOfGeneration(id)) {
        item.text = this.#detokFlush();
        yield item;
        break;
      }
      item.text = this.#detokPush(id);
      if (i + 1 === maxTokens) item.text += this.#detokFlush();
      // the token joins the context now; it is evaluated lazily with whatever comes next
      this.#pending.push(id);
      yield item;
      if (i + 1 < maxTokens) this.evaluate([]);
      await yieldToEventLoop();
    }
  }

  /** Forget the context (the model stays loaded). */
  reset() {
    this.#alive();
    this.#pending = [];
    this.#check(this.#m._ntk_reset(this.#e));
  }

  dispose() {
    if (!this.#e) return;
    this.#m._free(this.#text);
    this.#m._ntk_free(this.#e);
    this.#e = 0;
  }
}
