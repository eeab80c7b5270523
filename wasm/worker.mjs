// worker.mjs — one Engine in a worker: a module Web Worker in browsers, a worker_threads worker in
// Node. worker-engine.mjs is its client; the protocol is small enough for any other.
//
// In:  { id, verb, args }
//   load [source, options]      options as Engine.load's, except: onProgress → progress: true
//                               (progress comes as { id, progress }), signal → signal: true (abort
//                               it with the abort verb), and jinja: the URL to import
//                               @huggingface/jinja from (a page's import map does not reach a
//                               worker). A source is as Engine.load takes it, or
//                               { $url: href } for a URL object, or { $response: { body, headers,
//                               url } } for a Response (whose body stream was transferred).
//   tokenize detokenize evaluate info metadata piece isEndOfGeneration reset state  [...Engine's args]
//   generate [prompt, options] / chat [messages, options]   options without signal
//   next [targetId]             the next item of a generate/chat (the request itself asks for the
//                               first one): the engine makes a token only when it is asked for one,
//                               as Engine's iterator does, so the context holds what was consumed
//   abort [targetId]            end a generate/chat (now, or at its next token) or a load
//   dispose []                  free the engine and end the worker
// Out: { id, result, state } | { id, error: { message, code, name }, state }
//      { id, item, state } ... then { id, done: true, state }        for generate and chat
//      { id, progress }                                               for load with progress
//      { event: 'scale', data, state }                                Engine's 'scale' events
// state is { nCtx, base, nVocab, memoryBytes } after the step (null before a model is loaded).
//
// Requests that touch the context or the detokenizer (load, evaluate, generate, chat, reset,
// detokenize) run one after another, a generate/chat holding its turn until it ends; the
// read-only ones (tokenize, info, metadata, piece, isEndOfGeneration, state) answer at once.
import { Engine, NtkError } from './engine.mjs';

const isNode = typeof process === 'object' && !!process.versions?.node;

let post, close;
if (isNode) {
  const { parentPort } = await import('node:worker_threads');
  if (!parentPort) throw new Error('worker.mjs runs as a worker (see worker-engine.mjs)');
  post = (msg, transfer) => parentPort.postMessage(msg, transfer);
  close = () => parentPort.close();
  parentPort.on('message', receive);
} else {
  post = (msg, transfer) => self.postMessage(msg, transfer);
  close = () => self.close();
  self.onmessage = (e) => receive(e.data);
}

let engine = null;
const controllers = new Map(); // id → AbortController of a load, generate or chat
const streams = new Map();     // id → the state of a generate or chat
let turn = Promise.resolve();   // the queue of requests that touch the context

const state = () => engine && { nCtx: engine.nCtx, base: engine.base, nVocab: engine.nVocab, memoryBytes: engine.memoryBytes };

function serializeError(e) {
  return { message: String(e?.message ?? e), code: e?.code, name: e?.name ?? 'Error' };
}

function reply(id, result, transfer) {
  post({ id, result, state: state() }, transfer);
}

function fail(id, e) {
  post({ id, error: serializeError(e), state: state() });
}

function needEngine() {
  if (!engine) throw new NtkError('no model is loaded in this worker', 'STATE');
  return engine;
}

function enqueue(task) {
  const run = turn.then(task);
  turn = run.catch(() => {});
  return run;
}

function reviveSource(src) {
  if (Array.isArray(src)) return src.map(reviveSource);
  if (src && typeof src === 'object' && !ArrayBuffer.isView(src) && !(src instanceof ArrayBuffer)) {
    if (typeof src.$url === 'string') return new URL(src.$url);
    if (src.$response) {
      const { body, headers, url } = src.$response;
      const res = new Response(body, { headers });
      if (url) Object.defineProperty(res, 'url', { value: url });
      return res;
    }
  }
  return src;
}

async function load(id, [source, options = {}]) {
  if (engine) throw new NtkError('this worker already holds a model: one engine per worker', 'STATE');
  const { progress, signal, jinja, ...rest } = options ?? {};
  const ctl = new AbortController();
  controllers.set(id, ctl);
  try {
    if (jinja) (await import('./chat.mjs')).setJinjaUrl(jinja);
    engine = await Engine.load(reviveSource(source), {
      ...rest,
      ...(signal ? { signal: ctl.signal } : {}),
      ...(progress ? { onProgress: (p) => post({ id, progress: p }) } : {}),
    });
  } finally {
    controllers.delete(id);
  }
  engine.on('scale', (data) => post({ event: 'scale', data, state: state() }));
  return state();
}

const READ_ONLY = {
  tokenize: (e, a) => e.tokenize(...a),
  info: (e) => e.info(),
  metadata: (e, a) => e.metadata(...a),
  piece: (e, a) => e.piece(...a),
  isEndOfGeneration: (e, a) => e.isEndOfGeneration(...a),
  state: () => state(),
};

const IN_TURN = {
  detokenize: (e, a) => e.detokenize(...a),
  reset: (e) => { e.reset(); },
  evaluate: (e, a) => e.evaluate(...a),
};

async function receive(msg) {
  const { id, verb, args = [] } = msg ?? {};
  try {
    if (verb === 'abort') return abort(args[0]);
    if (verb === 'next') return pull(streams.get(args[0]));
    if (verb === 'dispose') {
      engine?.dispose();
      engine = null;
      reply(id, undefined);
      close();
      return;
    }
    if (verb === 'load') return reply(id, await enqueue(() => load(id, args)));
    if (verb === 'generate' || verb === 'chat') return startStream(id, verb, args);
    if (READ_ONLY[verb]) return reply(id, READ_ONLY[verb](verb === 'state' ? engine : needEngine(), args));
    if (IN_TURN[verb]) {
      const result = await enqueue(() => IN_TURN[verb](needEngine(), args));
      // logits cross without a copy
      return reply(id, result, result instanceof Float32Array ? [result.buffer] : undefined);
    }
    throw new NtkError(`unknown verb "${verb}"`, 'ARG');
  } catch (e) {
    fail(id, e);
  }
}

// ---- generate and chat ----

function startStream(id, verb, [input, options = {}]) {
  const ctl = new AbortController();
  controllers.set(id, ctl);
  const s = { id, ctl, it: null, pulling: false, ending: false, closed: false, end: null };
  streams.set(id, s);
  enqueue(() => new Promise((resolve) => {
    s.end = resolve;
    try {
      const e = needEngine();
      const opts = { ...(options ?? {}), signal: ctl.signal };
      s.it = verb === 'chat' ? e.chat(input, opts) : e.generate(input, opts);
    } catch (err) {
      return finish(s, { error: serializeError(err) });
    }
    pull(s);
  }));
}

async function pull(s) {
  if (!s || s.closed || s.ending || s.pulling || !s.it) return;
  s.pulling = true;
  try {
    const r = await s.it.next();
    if (r.done) return finish(s, { done: true });
    if (s.ctl.signal.aborted) {
      await s.it.return();
      return finish(s, { done: true });
    }
    post({ id: s.id, item: r.value, state: state() });
  } catch (err) {
    finish(s, { error: serializeError(err) });
  } finally {
    s.pulling = false;
  }
}

function finish(s, msg) {
  if (s.closed) return;
  s.closed = true;
  streams.delete(s.id);
  controllers.delete(s.id);
  post({ id: s.id, ...msg, state: state() });
  s.end?.();
}

function abort(targetId) {
  const ctl = controllers.get(targetId);
  if (!ctl) return;
  ctl.abort();
  const s = streams.get(targetId);
  // a stream waiting for its next pull ends now; one making a token ends when it sees the signal
  if (s?.it && !s.pulling && !s.closed && !s.ending) {
    s.ending = true;
    s.it.return().catch(() => {}).finally(() => finish(s, { done: true }));
  }
}
