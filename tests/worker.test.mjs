// WorkerEngine (wasm/worker-engine.mjs) in Node's worker_threads: it gives what Engine on the main
// thread gives (greedy text, logits bit for bit, scale events past the trained length), NtkErrors
// keep their code across the boundary, a bad file rejects the load and leaves no worker thread
// behind, an AbortSignal stops a generation in the worker, and dispose ends the worker.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, createReadStream } from 'node:fs';
import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import {
  Engine,
  model,
  reference,
  fullLogits64,
  ropeBase,
  relDiff,
  collect,
  assertNtkError,
  FIXTURES,
  ROOT,
} from './helpers.mjs';
import { Worker } from 'node:worker_threads';
import { WorkerEngine } from '../wasm/worker-engine.mjs';
import { VERBS } from '../wasm/protocol.mjs';

const Q8 = model('q8_0');
const PROMPT = reference().prompts[1].first_line; // a fixture line, as text
const GREEDY = { maxTokens: 20, temperature: 0 };
const LONG = (() => {
  // 600 tokens: BOS, then the start of the held-out stream (past the trained 512)
  const b = readFileSync(path.join(FIXTURES, 'heldout_ids.u16'));
  const ids = new Uint16Array(b.buffer.slice(b.byteOffset, b.byteOffset + 599 * 2));
  return [1, ...ids];
})();

let main, tmp, baselineThreads;
const expected = {}; // what Engine on the main thread gives

// Each worker is a thread of this process: after a load fails or an engine is disposed, the
// count comes back to what it was (Linux's /proc; elsewhere this check is skipped).
function threads() {
  try {
    return Number(/^Threads:\s+(\d+)/m.exec(readFileSync('/proc/self/status', 'utf8'))[1]);
  } catch {
    return null;
  }
}

async function assertNoWorkerLeft(label) {
  if (baselineThreads === null) return;
  let n = threads();
  for (let i = 0; i < 40 && n > baselineThreads; i++) {
    await new Promise((r) => setTimeout(r, 50));
    n = threads();
  }
  assert.ok(n <= baselineThreads, `${label}: ${n} threads, ${baselineThreads} before: a worker was left behind`);
}

const strip = (items) => items.map(({ id, text, nCtx, base }) => ({ id, text, nCtx, base }));
const textOf = (items) => items.map((x) => x.text).join('');

before(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'ntk-worker-'));
  main = await Engine.load(Q8);
  expected.greedy = await collect(main.generate(PROMPT, GREEDY));
  main.reset();
  expected.logits = main.evaluate(fullLogits64().token_ids, { allLogits: true });
  // warm up: the first worker and file reads start threads that stay (libuv's pool)
  const w = await WorkerEngine.load(Q8);
  await w.dispose();
  baselineThreads = threads();
});

after(async () => {
  main?.dispose();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

test('greedy text of a fixture prompt equals Engine on the main thread, item for item', async () => {
  const w = await WorkerEngine.load(Q8);
  try {
    assert.equal(w.nCtx, 0);
    assert.equal(w.nVocab, 4096);
    const items = await collect(w.generate(PROMPT, GREEDY));
    assert.equal(items.length, 20);
    assert.deepEqual(strip(items), strip(expected.greedy));
    assert.ok(textOf(items).length > 0, 'no text');
    assert.equal(w.nCtx, main.tokenize(PROMPT).length + 20, 'nCtx after the generation');
    // WebAssembly memory comes in 64 KiB pages and holds at least the model's tensors
    assert.ok(
      w.memoryBytes % 65536 === 0 && w.memoryBytes > (await w.info()).tensorBytes,
      `memoryBytes ${w.memoryBytes}`,
    );
    // a second generation after reset is the same again (the worker holds no stale state)
    await w.reset();
    assert.equal(w.nCtx, 0);
    assert.deepEqual(strip(await collect(w.generate(PROMPT, GREEDY))), strip(expected.greedy));
  } finally {
    await w.dispose();
  }
});

test('every method answers as Engine does; logits bit for bit', async () => {
  const w = await WorkerEngine.load(Q8);
  try {
    const ids = await w.tokenize(PROMPT);
    assert.deepEqual(ids, main.tokenize(PROMPT));
    assert.deepEqual(await w.tokenize(PROMPT, { bos: false }), main.tokenize(PROMPT, { bos: false }));
    assert.equal(await w.detokenize(ids), main.detokenize(ids));
    // contextFit is an estimate from the heap of each instance as of the call: its own check
    const { contextFit: fitW, contextFitByKvType: byW, ...infoW } = await w.info();
    const { contextFit: fitMain, contextFitByKvType: byMain, ...infoMain } = main.info();
    assert.deepEqual(infoW, infoMain);
    for (const [label, a, b] of [
      ['contextFit', fitW, fitMain],
      ...Object.keys(byMain).map((t) => [t, byW[t], byMain[t]]),
    ])
      assert.ok(Math.abs(a - b) < 0.01 * b, `${label}: ${a} vs ${b}`);
    assert.deepEqual(await w.metadata({ maxArrayItems: 2 }), main.metadata({ maxArrayItems: 2 }));
    assert.equal(await w.piece(1), main.piece(1));
    assert.equal(await w.isEndOfGeneration(4), true);
    assert.equal(await w.isEndOfGeneration(100), false);
    const logits = await w.evaluate(fullLogits64().token_ids, { allLogits: true });
    assert.ok(logits instanceof Float32Array);
    assert.equal(logits.length, expected.logits.length);
    assert.ok(
      Buffer.from(logits.buffer, logits.byteOffset, logits.byteLength).equals(
        Buffer.from(expected.logits.buffer, expected.logits.byteOffset, expected.logits.byteLength),
      ),
      'logits differ',
    );
    assert.equal(w.nCtx, 64);
    // chat: the template renders in the worker (@huggingface/jinja from node_modules)
    const messages = [{ role: 'user', content: 'Who made the heaven and the earth?' }];
    main.reset();
    await w.reset();
    const want = await collect(main.chat(messages, { maxTokens: 8, temperature: 0 }));
    assert.deepEqual(strip(await collect(w.chat(messages, { maxTokens: 8, temperature: 0 }))), strip(want));
  } finally {
    main.reset();
    await w.dispose();
  }
});

// ---- the verb table (wasm/protocol.mjs) ----

const METHOD_VERBS = Object.keys(VERBS).filter((v) => VERBS[v].run !== 'control');

test("the verbs that are methods are Engine's methods, all of them, and WorkerEngine's", () => {
  // on and off stay on the calling side; dispose is WorkerEngine's own, with the dispose control verb
  const engineMethods = Object.entries(Object.getOwnPropertyDescriptors(Engine.prototype))
    .filter(([name, d]) => typeof d.value === 'function' && !['constructor', 'on', 'off', 'dispose'].includes(name))
    .map(([name]) => name);
  assert.deepEqual([...METHOD_VERBS].sort(), engineMethods.sort(), 'every Engine method crosses to the worker');
  for (const verb of METHOD_VERBS) assert.equal(typeof WorkerEngine.prototype[verb], 'function', verb);
});

test('the worker answers every verb of the table, and refuses any other', async () => {
  const worker = new Worker(new URL('../wasm/worker.mjs', import.meta.url));
  const replies = new Map();
  let waiting = null;
  worker.on('message', (m) => {
    replies.set(m.id, m);
    if (waiting?.id === m.id) waiting.done(m);
  });
  let seq = 0;
  const ask = (verb, args = []) => {
    const id = ++seq;
    return new Promise((done) => {
      waiting = { id, done };
      worker.postMessage({ id, verb, args });
    });
  };
  const exited = new Promise((r) => worker.once('exit', r));
  try {
    for (const verb of ['frobnicate', 'toString', 'constructor', undefined])
      assert.match((await ask(verb)).error?.message ?? '', /unknown verb/, `${verb} is refused`);
    for (const [verb, { run }] of Object.entries(VERBS)) {
      if (verb === 'dispose') continue;
      if (verb === 'next' || verb === 'abort') {
        // no answer to these: an unknown verb would be answered with an error; info comes after
        worker.postMessage({ id: ++seq, verb, args: [12345] });
        const silent = seq;
        await ask('info');
        assert.equal(replies.has(silent), false, `${verb} is handled`);
        continue;
      }
      const reply = await ask(verb);
      // no model is loaded: every Engine method is refused for that, and load for its missing source
      assert.doesNotMatch(reply.error?.message ?? '', /unknown verb/, verb);
      assert.match(reply.error.message, run === 'control' ? /model source/ : /no model is loaded/, verb);
    }
    const bye = await ask('dispose');
    assert.equal(bye.error, undefined);
    await exited; // and it ends by itself
  } finally {
    await worker.terminate();
  }
});

test('WorkerEngine sends every verb of the table, and no other', async () => {
  // each method verb called as a user would
  const CALLS = {
    tokenize: (w) => w.tokenize('In'),
    info: (w) => w.info(),
    metadata: (w) => w.metadata(),
    piece: (w) => w.piece(1),
    isEndOfGeneration: (w) => w.isEndOfGeneration(2),
    detokenize: (w) => w.detokenize([1, 2]),
    evaluate: (w) => w.evaluate([1, 2]),
    reset: (w) => w.reset(),
    // leaving the loop after two items sends next, then abort
    generate: async (w) => {
      let n = 0;
      for await (const _ of w.generate('In', { maxTokens: 8 })) if (++n === 2) break;
    },
    chat: async (w) => {
      for await (const _ of w.chat([{ role: 'user', content: 'Hi' }], { maxTokens: 1 })) break;
    },
  };
  assert.deepEqual(Object.keys(CALLS).sort(), [...METHOD_VERBS].sort(), 'a call for every method verb');
  const sent = new Set();
  const post = Worker.prototype.postMessage;
  Worker.prototype.postMessage = function (msg, transfer) {
    sent.add(msg?.verb);
    return post.call(this, msg, transfer);
  };
  try {
    const w = await WorkerEngine.load(Q8, { onProgress: () => {}, signal: new AbortController().signal });
    for (const call of Object.values(CALLS)) await call(w);
    await w.dispose();
  } finally {
    Worker.prototype.postMessage = post;
  }
  assert.deepEqual([...sent].sort(), Object.keys(VERBS).sort());
});

test('NtkErrors keep their code and message across the boundary', async () => {
  const w = await WorkerEngine.load(Q8);
  try {
    const same = async (fnWorker, fnMain, label) => {
      let want;
      try {
        fnMain();
      } catch (e) {
        want = e;
      }
      assert.ok(want, `${label}: Engine did not throw`);
      const got = await assertNtkError(fnWorker, want.code, null, label);
      assert.equal(got.message, want.message, label);
    };
    await same(
      () => w.tokenize(42),
      () => main.tokenize(42),
      'tokenize(42)',
    );
    await same(
      () => w.piece(99999),
      () => main.piece(99999),
      'piece out of range',
    );
    await same(
      () => w.evaluate([1.5]),
      () => main.evaluate([1.5]),
      'evaluate([1.5])',
    );
    await assertNtkError(() => collect(w.generate(PROMPT, { topP: 0 })), 'ARG', /topP/, 'generate topP 0');
    await assertNtkError(
      () => collect(w.generate(PROMPT, { nope: 1 })),
      'ARG',
      /unknown generate option/,
      'unknown option',
    );
    await assertNtkError(
      () => collect(w.chat([{ role: 'user' }], { maxTokens: 2 })),
      'ARG',
      null,
      'chat without content',
    );
    await assertNtkError(() => w.metadata({ maxArrayItems: -1 }), 'ARG', /maxArrayItems/, 'metadata');
    // a generation being consumed refuses evaluate, as Engine's does
    const it = w.generate(PROMPT, { maxTokens: 5, temperature: 0 });
    await it.next();
    await assertNtkError(() => w.evaluate([1]), 'STATE', /generation is running/, 'evaluate during generate');
    await assertNtkError(() => collect(w.generate(PROMPT)), 'STATE', /already running/, 'two generations');
    await it.return();
    assert.equal(
      (await collect(w.generate(PROMPT, { maxTokens: 2, temperature: 0 }))).length,
      2,
      'works after the errors',
    );
  } finally {
    await w.dispose();
  }
});

test('scale events arrive past 512 tokens, as Engine sends them, before the items they concern', async () => {
  const w = await WorkerEngine.load(Q8);
  try {
    const log = [];
    w.on('scale', (e) => log.push({ scale: e }));
    const items = [];
    for await (const item of w.generate(LONG, { maxTokens: 8, temperature: 0 })) {
      log.push({ item });
      items.push(item);
    }
    const events = log.filter((x) => x.scale).map((x) => x.scale);
    assert.ok(events.length >= 1, 'no scale event');
    assert.ok(log[0].scale, 'the first scale event came after an item');
    assert.equal(events[0].nCtx, 600);
    assert.ok(relDiff(events[0].base, ropeBase(600)) < 1e-5, `base ${events[0].base}, README formula ${ropeBase(600)}`);
    for (const e of events) {
      assert.ok(e.nCtx > 512 && e.base > 10000, `event ${JSON.stringify(e)}`);
      assert.equal(e.mode, 'consistent');
      assert.equal(e.trainedCtx, 512);
    }
    // the same events and items as on the main thread
    const mainEvents = [];
    main.reset();
    const off = main.on('scale', (e) => mainEvents.push(e));
    const mainItems = await collect(main.generate(LONG, { maxTokens: 8, temperature: 0 }));
    off();
    main.reset();
    assert.deepEqual(events, mainEvents);
    assert.deepEqual(strip(items), strip(mainItems));
    assert.ok(w.base > 10000, `base getter ${w.base}`);
    // off() stops them; reset sends one (back to the trained base), as Engine's does
    const seen = [],
      gone = [];
    w.on('scale', (e) => seen.push(e));
    const fn = (e) => gone.push(e);
    w.on('scale', fn);
    w.off('scale', fn);
    const unsubscribe = w.on('scale', fn);
    unsubscribe();
    await w.reset();
    assert.deepEqual(
      seen.map((e) => [e.nCtx, e.base]),
      [[0, 10000]],
    );
    assert.equal(gone.length, 0, 'a listener removed with off() was called');
  } finally {
    await w.dispose();
  }
});

test('a truncated file rejects with TRUNCATED, leaves no worker, and the next load works', async () => {
  const whole = readFileSync(Q8);
  const cut = path.join(tmp, 'truncated.gguf');
  await writeFile(cut, whole.subarray(0, 3_000_000));
  await assertNtkError(WorkerEngine.load(cut), 'TRUNCATED', /truncated at byte 3000000/, 'path');
  await assertNoWorkerLeft('after a truncated path');
  await assertNtkError(WorkerEngine.load(whole.slice(0, 3_000_000)), 'TRUNCATED', /truncated/, 'bytes');
  await assertNtkError(WorkerEngine.load(path.join(tmp, 'missing.gguf')), 'IO', /no such file/, 'missing file');
  await assertNtkError(WorkerEngine.load(Q8, { nope: 1 }), 'ARG', /unknown load option/, 'bad option');
  await assertNtkError(
    WorkerEngine.load(() => {}),
    'ARG',
    /worker|model source/,
    'a function as source',
  );
  await assertNoWorkerLeft('after the failed loads');
  const w = await WorkerEngine.load(Q8);
  try {
    assert.deepEqual(strip(await collect(w.generate(PROMPT, GREEDY))), strip(expected.greedy));
  } finally {
    await w.dispose();
  }
});

test('an aborted load rejects with the abort reason and leaves no worker', async () => {
  const ac = new AbortController();
  const reason = new Error('stop loading');
  const p = WorkerEngine.load(Q8, {
    chunkSize: 1 << 16,
    signal: ac.signal,
    onProgress: (x) => x.loaded > 1e6 && ac.abort(reason),
  });
  await assert.rejects(p, (e) => e === reason);
  await assert.rejects(WorkerEngine.load(Q8, { signal: AbortSignal.abort() }), { name: 'AbortError' });
  await assertNoWorkerLeft('after the aborted loads');
});

test('every kind of source crosses to the worker and loads the same model', async () => {
  const bytes = readFileSync(Q8);
  const want = expected.logits.subarray(0, 4096 * 8);
  const ids = fullLogits64().token_ids.slice(0, 8);
  const sources = {
    'bytes (transferred)': () => readFileSync(Q8),
    'part of a buffer (copied)': () => {
      const b = new Uint8Array(bytes.length + 16);
      b.set(bytes, 8);
      return b.subarray(8, 8 + bytes.length);
    },
    ArrayBuffer: () => bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength),
    Blob: () => new Blob([bytes]),
    ReadableStream: () => Readable.toWeb(createReadStream(Q8)),
    'async iterable': () => createReadStream(Q8, { highWaterMark: 100_000 }),
    Response: () =>
      new Response(Readable.toWeb(createReadStream(Q8)), { headers: { 'content-length': String(bytes.length) } }),
    'file: URL': () => pathToFileURL(Q8),
    'a list of one part': () => [Q8],
  };
  for (const [kind, make] of Object.entries(sources)) {
    const source = make();
    let total;
    const w = await WorkerEngine.load(source, { onProgress: (p) => (total = p.total) });
    try {
      const got = await w.evaluate(ids, { allLogits: true });
      assert.ok(
        Buffer.from(got.buffer, got.byteOffset, got.byteLength).equals(
          Buffer.from(want.buffer, want.byteOffset, want.byteLength),
        ),
        `${kind}: logits differ`,
      );
      if (!/stream|iterable/i.test(kind)) assert.equal(total, bytes.length, `${kind}: progress total`);
      if (kind.startsWith('bytes')) assert.equal(source.length, 0, 'transferred bytes are detached');
    } finally {
      await w.dispose();
    }
  }
});

test('abort stops a generation in the worker; the engine then generates as before', async () => {
  const w = await WorkerEngine.load(Q8);
  try {
    // abort from inside the loop: no item after it, the context as Engine's after the same abort
    const ac = new AbortController();
    const items = [];
    for await (const item of w.generate(PROMPT, { maxTokens: 200, temperature: 0, signal: ac.signal })) {
      items.push(item);
      if (items.length === 5) ac.abort();
    }
    assert.equal(items.length, 5);
    assert.deepEqual(strip(items), strip(expected.greedy.slice(0, 5)));
    const mac = new AbortController();
    main.reset();
    let k = 0;
    for await (const _ of main.generate(PROMPT, { maxTokens: 200, temperature: 0, signal: mac.signal }))
      if (++k === 5) mac.abort();
    assert.equal(w.nCtx, main.nCtx, 'nCtx after the abort');
    // ...and the context goes on the same way
    const cont = { maxTokens: 10, temperature: 0 };
    assert.deepEqual(strip(await collect(w.generate(' and', cont))), strip(await collect(main.generate(' and', cont))));
    main.reset();

    // abort from a timer, while the worker is making tokens of a long generation
    await w.reset();
    const timer = new AbortController();
    let n = 0,
      t0;
    for await (const _ of w.generate(LONG, { maxTokens: 100_000, temperature: 0, signal: timer.signal })) {
      if (n++ === 0) {
        t0 = performance.now();
        setTimeout(() => timer.abort(), 50);
      }
    }
    assert.ok(n > 1 && n < 100_000, `${n} tokens`);
    assert.ok(performance.now() - t0 < 5_000, 'the abort took too long');

    // breaking out of the loop ends the generation too
    await w.reset();
    for await (const item of w.generate(PROMPT, { maxTokens: 200, temperature: 0 })) if (item.nCtx > 0) break;
    assert.equal(w.nCtx, main.tokenize(PROMPT).length + 1, 'one token consumed');

    // an already-aborted signal: the prompt is evaluated, no token is made (as Engine)
    await w.reset();
    assert.equal((await collect(w.generate(PROMPT, { temperature: 0, signal: AbortSignal.abort() }))).length, 0);

    await w.reset();
    assert.deepEqual(strip(await collect(w.generate(PROMPT, GREEDY))), strip(expected.greedy));
  } finally {
    main.reset();
    await w.dispose();
  }
});

test('dispose ends the worker: calls reject with STATE, and no handle keeps a process alive', async () => {
  const w = await WorkerEngine.load(Q8);
  await collect(w.generate(PROMPT, { maxTokens: 3, temperature: 0 }));
  const pending = assert.rejects(w.tokenize(PROMPT), { code: 'STATE' }); // in flight when disposed
  await w.dispose();
  await pending;
  await assertNtkError(() => w.tokenize('x'), 'STATE', /disposed/, 'tokenize after dispose');
  await assertNtkError(() => collect(w.generate('x')), 'STATE', /disposed/, 'generate after dispose');
  assert.throws(() => w.nCtx, { code: 'STATE' });
  await w.dispose(); // twice is fine
  await assertNoWorkerLeft('after dispose');

  // a process that loads, generates and disposes ends on its own, as does one that never disposes
  for (const dispose of [true, false]) {
    const script = `
      import { WorkerEngine } from ${JSON.stringify(pathToFileURL(path.join(ROOT, 'wasm/worker-engine.mjs')).href)};
      const w = await WorkerEngine.load(${JSON.stringify(Q8)});
      let text = '';
      for await (const t of w.generate('In the beginning', { maxTokens: 5, temperature: 0 })) text += t.text;
      ${dispose ? 'await w.dispose();' : ''}
      console.log(JSON.stringify(text));`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '',
      err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const t0 = performance.now();
    const code = await new Promise((resolve) => {
      const kill = setTimeout(() => child.kill('SIGKILL'), 20_000);
      child.on('exit', (c, sig) => {
        clearTimeout(kill);
        resolve(sig ?? c);
      });
    });
    assert.equal(code, 0, `dispose=${dispose}: the process did not end by itself (${code}); stderr: ${err}`);
    assert.ok(JSON.parse(out.trim()).length > 0, `dispose=${dispose}: no text (${out})`);
    assert.ok(performance.now() - t0 < 20_000);
  }
});
