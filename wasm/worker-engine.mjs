// worker-engine.mjs — the Engine API with the engine in a worker (worker.mjs), so that loading and
// generating never block the page (or Node's main thread).
//
//   const engine = await WorkerEngine.load('/models/model.gguf', { onProgress, signal });
//   for await (const { text } of engine.generate('In the beginning', { maxTokens: 64 })) ...
//   await engine.dispose();   // ends the worker
//
// Every Engine method is here, made from protocol.mjs's table, and returns a promise (generate and
// chat return async iterators, as Engine's do); on/off are as Engine's. nCtx, base, nVocab and
// memoryBytes are plain getters: the worker sends them with every answer, so they are current once
// the call that changed them has settled.
// NtkErrors cross with their code; an AbortSignal in the options aborts in the worker.
//
// Sources: as Engine.load, with these differences in transit: bytes (ArrayBuffer, or a view that
// spans its whole buffer) are transferred, so the caller's buffer is detached; a view on part of a
// buffer is copied; a Response's body stream and a ReadableStream are transferred (a Response
// becomes its body and its length headers); an async iterable is read through a ReadableStream;
// Blob and File are sent as they are (in Node, as a stream: it cannot clone a file-backed Blob).
// In a browser a URL string is resolved against the page, not the worker script, so the Cache API
// entry is the same one Engine on the page uses; and chat() in the worker imports
// @huggingface/jinja from where the page's import map puts it (an import map does not reach a
// worker).
//
// A generate/chat makes a token only when the iterator is asked for one, as Engine's does, so the
// context holds exactly what was consumed; breaking out of the loop ends it in the worker.
// In Node the worker holds the process open only while a call is pending.
import { NtkError } from './errors.mjs';
import { checkLoadOptions } from './options.mjs';
import { Listeners } from './events.mjs';
import { VERBS } from './protocol.mjs';
import { startWorker } from './platform.mjs';

export { NtkError };

const isNode = typeof process === 'object' && !!process.versions?.node;
const argError = (msg) => new NtkError(msg, 'ARG');

function abortError(signal) {
  return signal.reason instanceof Error ? signal.reason : new DOMException('the operation was aborted', 'AbortError');
}

function reviveError(e) {
  if (e?.name === 'NtkError') return new NtkError(e.message, e.code);
  if (e?.name === 'AbortError') return new DOMException(e.message, 'AbortError');
  const err = new Error(e?.message ?? String(e));
  if (e?.name) err.name = e.name;
  if (e?.code !== undefined) err.code = e.code;
  return err;
}

// A channel over either kind of worker: post, onMessage, onExit, ref/unref, terminate.
async function spawn() {
  if (isNode) return startWorker();
  const w = new Worker(new URL('./worker.mjs', import.meta.url), { type: 'module' });
  return {
    post: (msg, transfer) => w.postMessage(msg, transfer ?? []),
    listen(onMessage, onExit) {
      w.onmessage = (e) => onMessage(e.data);
      w.onerror = (e) => {
        e.preventDefault?.();
        onExit(new Error(e.message || 'the worker script failed to load or threw'));
      };
      w.onmessageerror = () => onExit(new Error('a message from the worker could not be read'));
    },
    ref() {},
    unref() {},
    terminate: async () => w.terminate(),
  };
}

// Where the page's import map puts @huggingface/jinja (chat templates): an import map does not
// apply inside a module worker, so the worker is told the URL. In a bundled app there is none
// (the worker's bundle has jinja): the destructuring leaves webpack nothing to resolve at build
// time (it makes resolve undefined), where a call of import.meta.resolve would fail the build.
function jinjaUrl() {
  if (isNode) return undefined;
  try {
    const { resolve } = import.meta;
    return resolve('@huggingface/jinja');
  } catch {
    return undefined;
  }
}

// Turn a source into what crosses to the worker; what is to be transferred goes into `transfer`.
function prepareSource(source, transfer) {
  if (Array.isArray(source)) return source.map((s) => prepareSource(s, transfer));
  if (typeof source === 'string') {
    if (isNode) return source;
    const base = globalThis.document?.baseURI ?? globalThis.location?.href;
    return base ? new URL(source, base).href : source;
  }
  if (source instanceof URL) return { $url: source.href };
  if (typeof Response !== 'undefined' && source instanceof Response) {
    const headers = {};
    for (const k of ['content-length', 'content-encoding', 'content-type']) {
      const v = source.headers.get(k);
      if (v !== null) headers[k] = v;
    }
    if (source.body) transfer.push(source.body);
    return { $response: { body: source.body, headers, url: source.url } };
  }
  if (typeof Blob !== 'undefined' && source instanceof Blob) {
    if (!isNode) return source;
    // Node cannot clone a file-backed Blob (fs.openAsBlob): send any Blob as a stream of its size
    const body = source.stream();
    transfer.push(body);
    return { $response: { body, headers: { 'content-length': String(source.size) }, url: source.name ?? 'blob' } };
  }
  if (typeof ReadableStream !== 'undefined' && source instanceof ReadableStream) {
    transfer.push(source);
    return source;
  }
  if (source instanceof ArrayBuffer) {
    transfer.push(source);
    return source;
  }
  if (ArrayBuffer.isView(source)) {
    const bytes = new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
    if (!(source.buffer instanceof ArrayBuffer)) return bytes; // shared memory is shared, not copied
    if (bytes.byteLength === source.buffer.byteLength) {
      transfer.push(source.buffer);
      return bytes;
    }
    const copy = bytes.slice(); // a clone of a view would copy its whole buffer
    transfer.push(copy.buffer);
    return copy;
  }
  if (source && typeof source[Symbol.asyncIterator] === 'function') {
    const it = source[Symbol.asyncIterator]();
    const stream = new ReadableStream({
      async pull(c) {
        const r = await it.next();
        if (r.done) c.close();
        else c.enqueue(r.value);
      },
      async cancel() {
        await it.return?.();
      },
    });
    transfer.push(stream);
    return stream;
  }
  return source; // the worker's loader says what is wrong with it
}

export class WorkerEngine {
  #ch;
  #seq = 0;
  #pending = new Map(); // id → a request { resolve, reject, onProgress } or a stream (see #stream)
  #holds = 0; // calls waiting for the worker: Node keeps the process open while > 0
  #listeners = new Listeners();
  #state = null;
  #dead = null; // the error every call gets once the engine is disposed or the worker died
  #busy = false;
  #farewell = null; // { id, done } of the dispose request, answered once the worker freed its engine

  constructor(channel, key) {
    if (key !== KEY) throw new TypeError('use WorkerEngine.load()');
    this.#ch = channel;
    channel.listen(
      (msg) => this.#receive(msg),
      (err) => this.#died(err),
    );
  }

  /**
   * Load a model in a new worker. source and options as Engine.load (see the header for how each
   * kind of source crosses). On any error the worker is ended before the promise rejects.
   */
  static async load(source, options = {}) {
    const opts = checkLoadOptions(options);
    if (opts.signal?.aborted) throw abortError(opts.signal);
    if (source === null || source === undefined || (Array.isArray(source) && source.length === 0))
      throw argError(
        'a model source is needed: a path, URL, Response, ReadableStream, Blob, bytes or an async iterable of bytes',
      );
    const engine = new WorkerEngine(await spawn(), KEY);
    try {
      await engine.#load(source, opts);
      return engine;
    } catch (err) {
      await engine.#end(new NtkError('engine has been disposed', 'STATE'));
      throw err;
    }
  }

  async #load(source, { onProgress, signal, ...rest }) {
    const transfer = [];
    const src = prepareSource(source, transfer);
    const wopts = { ...rest, progress: !!onProgress, signal: !!signal, jinja: jinjaUrl() };
    let id;
    const done = new Promise((resolve, reject) => {
      id = this.#send(
        'load',
        [src, wopts],
        {
          transfer,
          resolve,
          reject,
          onProgress: (p) => {
            try {
              onProgress(p);
            } catch (e) {
              // as in Engine.load, a throwing onProgress fails the load
              this.#ch.post({ verb: 'abort', args: [id] });
              reject(e);
            }
          },
        },
        (e) => argError(`cannot send the model source to the worker: ${e.message}`),
      );
    });
    if (!signal) return void (this.#state = await done);
    done.catch(() => {}); // when the abort wins, the worker is ended and this rejects unheard
    let onAbort;
    const aborted = new Promise((_, reject) => {
      onAbort = () => {
        this.#ch.post({ verb: 'abort', args: [id] });
        reject(abortError(signal));
      };
      signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      this.#state = await Promise.race([done, aborted]);
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  // Post a request; entry gets resolve/reject (or is a stream). Returns its id.
  #send(verb, args, entry, cloneError = (e) => argError(`cannot send this to the worker: ${e.message}`)) {
    const id = ++this.#seq;
    if (this.#dead) {
      entry.reject(this.#deadError());
      return id;
    }
    this.#pending.set(id, entry);
    if (!entry.stream) this.#hold();
    try {
      this.#post({ id, verb, args }, entry.transfer);
    } catch (e) {
      this.#settle(id, entry);
      entry.reject(cloneError(e));
    }
    return id;
  }

  #post(msg, transfer) {
    try {
      this.#ch.post(msg, transfer);
    } catch (e) {
      // Node refuses to transfer some buffers (its pool's): send those as copies
      const streams = transfer?.filter((t) => !(t instanceof ArrayBuffer));
      if (!transfer?.length || streams.length === transfer.length) throw e;
      this.#ch.post(msg, streams);
    }
  }

  #call(verb, ...args) {
    return new Promise((resolve, reject) => {
      if (this.#dead) return reject(this.#deadError());
      this.#send(verb, args, { resolve, reject });
    });
  }

  // a call that touches the context, refused while a generate/chat is being consumed (as Engine)
  #callInTurn(verb, ...args) {
    if (this.#busy && !this.#dead)
      return Promise.reject(new NtkError('a generation is running on this engine', 'STATE'));
    return this.#call(verb, ...args);
  }

  #hold() {
    if (this.#holds++ === 0) this.#ch.ref();
  }

  #release() {
    if (--this.#holds === 0) this.#ch.unref();
  }

  #settle(id, entry) {
    if (this.#pending.get(id) !== entry) return;
    this.#pending.delete(id);
    if (!entry.stream) this.#release();
  }

  #receive(msg) {
    if (this.#dead) {
      if (msg.id === this.#farewell?.id) this.#farewell.done();
      return;
    }
    if (msg.state) this.#state = msg.state;
    if (msg.event === 'scale') {
      this.#listeners.emit('scale', msg.data);
      return;
    }
    const entry = this.#pending.get(msg.id);
    if (!entry) return;
    if ('progress' in msg) return entry.onProgress?.(msg.progress);
    if (entry.stream) return entry.push(msg);
    this.#settle(msg.id, entry);
    if (msg.error) entry.reject(reviveError(msg.error));
    else entry.resolve(msg.result);
  }

  #died(err) {
    if (this.#dead) return void this.#farewell?.done(); // it ended without answering the dispose
    this.#fail(new NtkError(`the engine worker stopped: ${err?.message ?? err}`, 'RUNTIME', { cause: err }));
    this.#ch.terminate(); // a browser worker may live on after an uncaught error: it is of no use now
  }

  #fail(err) {
    this.#dead = err;
    const pending = [...this.#pending];
    this.#pending.clear();
    for (const [, entry] of pending) {
      if (entry.stream) entry.push({ error: err, local: true });
      else entry.reject(err);
    }
    if (this.#holds > 0) this.#ch.unref();
    this.#holds = 0;
    this.#listeners.clear();
  }

  async #end(err) {
    if (!this.#dead) this.#fail(err);
    await this.#ch.terminate();
  }

  // a fresh error per call, with the caller's stack
  #deadError() {
    return new NtkError(this.#dead.message, this.#dead.code, { cause: this.#dead.cause });
  }

  #alive() {
    if (this.#dead) throw this.#deadError();
  }

  // ---- the Engine API ----

  /** Subscribe to 'scale' events: { nCtx, base, factor, mode, trainedCtx, refresh }. Returns an unsubscribe function. */
  on(event, fn) {
    return this.#listeners.on(event, fn);
  }
  off(event, fn) {
    this.#listeners.off(event, fn);
  }

  get nCtx() {
    this.#alive();
    return this.#state.nCtx;
  }
  get base() {
    this.#alive();
    return this.#state.base;
  }
  get nVocab() {
    this.#alive();
    return this.#state.nVocab;
  }
  get memoryBytes() {
    this.#alive();
    return this.#state.memoryBytes;
  }

  // The Engine methods: one for each of protocol.mjs's 'read', 'turn' and 'stream' verbs.
  static {
    for (const [verb, { run }] of Object.entries(VERBS)) {
      const method = {
        read(...args) {
          return this.#call(verb, ...args);
        },
        turn(...args) {
          return this.#callInTurn(verb, ...args);
        },
        stream(input, options = {}) {
          return this.#stream(verb, input, options);
        },
      }[run];
      if (!method) continue;
      Object.defineProperty(method, 'name', { value: verb });
      Object.defineProperty(this.prototype, verb, { value: method, writable: true, configurable: true });
    }
  }

  async *#stream(verb, input, options) {
    this.#alive();
    const { signal } = VERBS[verb].check(options);
    if (this.#busy) throw new NtkError('a generation is already running on this engine', 'STATE');
    this.#busy = true;
    // messages from the worker queue up here until the consumer takes them
    const queue = [];
    let wake = null,
      ended = false,
      id,
      onAbort;
    const entry = {
      stream: true,
      push: (msg) => {
        queue.push(msg);
        if (msg.done || msg.error) {
          ended = true;
          this.#settle(id, entry);
        }
        wake?.();
      },
      reject: (err) => entry.push({ error: err, local: true }),
    };
    const next = async () => {
      while (queue.length === 0) {
        this.#hold();
        try {
          await new Promise((r) => (wake = r));
        } finally {
          wake = null;
          this.#release();
        }
      }
      return queue.shift();
    };
    try {
      const { signal: _, ...rest } = options;
      id = this.#send(verb, [input, rest], entry);
      if (signal) {
        onAbort = () => {
          if (!ended) this.#ch.post({ verb: 'abort', args: [id] });
        };
        if (signal.aborted) onAbort();
        else signal.addEventListener('abort', onAbort, { once: true });
      }
      for (;;) {
        const msg = await next();
        if (msg.error) throw msg.local ? msg.error : reviveError(msg.error);
        if (msg.done) return;
        // after an abort the worker ends the stream; an item already on its way is dropped
        if (signal?.aborted) continue;
        yield msg.item;
        if (!signal?.aborted && !this.#dead) this.#ch.post({ verb: 'next', args: [id] });
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
      if (!ended && !this.#dead) {
        // the consumer left early: end the generation in the worker and wait for it
        this.#ch.post({ verb: 'abort', args: [id] });
        while (!ended) await next();
      }
      this.#busy = false;
    }
  }

  /**
   * Free the model and end the worker; every call after it rejects with STATE. An idle worker
   * frees its engine and answers before it is ended; one still busy with a call is ended at once.
   */
  async dispose() {
    if (this.#dead?.code === 'STATE') return;
    const idle = !this.#dead && this.#pending.size === 0;
    if (!this.#dead) this.#fail(new NtkError('engine has been disposed', 'STATE'));
    if (idle) {
      await new Promise((done) => {
        this.#farewell = { id: ++this.#seq, done };
        this.#ch.ref(); // Node: the answer is awaited, so the process waits for it
        this.#ch.post({ id: this.#farewell.id, verb: 'dispose', args: [] });
      });
    }
    await this.#ch.terminate();
  }
}

const KEY = Symbol('WorkerEngine');
