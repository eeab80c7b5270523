// worker.mjs — one Engine in a worker: a module Web Worker in browsers, a worker_threads worker in
// Node. worker-engine.mjs is its client; protocol.mjs lists the verbs and the messages, small
// enough for any other client.
import { Engine, NtkError } from './engine.mjs';
import { verbOf } from './protocol.mjs';
import { connect } from './platform.mjs';

// the port is open before any message can arrive (no top-level await: a bundler may build this
// worker as a classic script)
let post, close;
Promise.resolve(connect(receive)).then((port) => ({ post, close } = port));

let engine = null;
const controllers = new Map(); // id → AbortController of a load, generate or chat
const streams = new Map(); // id → the state of a generate or chat
let turn = Promise.resolve(); // the queue of requests that touch the context

const state = () =>
  engine && { nCtx: engine.nCtx, base: engine.base, nVocab: engine.nVocab, memoryBytes: engine.memoryBytes };

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

function dispose(id) {
  engine?.dispose();
  engine = null;
  reply(id, undefined);
  close();
}

// the verbs the worker answers itself (protocol.mjs's 'control' ones)
const CONTROL = {
  load: async (id, args) => reply(id, await enqueue(() => load(id, args))),
  next: (id, [target]) => pull(streams.get(target)),
  abort: (id, [target]) => abort(target),
  dispose,
};

async function receive(msg) {
  const { id, verb, args = [] } = msg ?? {};
  try {
    const row = verbOf(verb);
    if (!row) throw new NtkError(`unknown verb "${verb}"`, 'ARG');
    if (row.run === 'control') return await CONTROL[verb](id, args);
    if (row.run === 'stream') return startStream(id, verb, args);
    if (row.run === 'read') return reply(id, needEngine()[verb](...args));
    const result = await enqueue(() => needEngine()[verb](...args));
    return reply(id, result, row.transfer ? [result.buffer] : undefined);
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
  enqueue(
    () =>
      new Promise((resolve) => {
        s.end = resolve;
        try {
          const e = needEngine();
          const opts = { ...(options ?? {}), signal: ctl.signal };
          s.it = e[verb](input, opts);
        } catch (err) {
          return finish(s, { error: serializeError(err) });
        }
        pull(s);
      }),
  );
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
    s.it
      .return()
      .catch(() => {})
      .finally(() => finish(s, { done: true }));
  }
}
