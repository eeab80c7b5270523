// page.mjs — the browser side of tests/browser.test.mjs: Engine and WorkerEngine as a page uses
// them, a few steps the test drives through page.evaluate (window.ntkTest), and a log on the page.
import { Engine, NtkError } from '/wasm/engine.mjs';
import { WorkerEngine } from '/wasm/worker-engine.mjs';

const CACHE = 'ntk-wasm-models';
const logEl = document.getElementById('log');
const statusEl = document.getElementById('status');

function log(line, cls) {
  const div = document.createElement('div');
  div.textContent = line;
  if (cls) div.className = cls;
  logEl.append(div);
}

const errorOf = (e) => ({ name: e?.name, code: e?.code, message: String(e?.message ?? e) });
const absolute = (url) => new URL(url, document.baseURI).href;

/**
 * Load with Engine ('main') or WorkerEngine ('worker'), generate greedily (aborting after
 * abortAfter items if given), dispose. Returns { text, ids, nCtx, threads, relaxedSimd, progress, ms } or
 * { error }.
 */
async function greedy({ kind, source, options = {}, prompt, maxTokens = 20, chat = false, abortAfter }) {
  const Cls = kind === 'worker' ? WorkerEngine : Engine;
  const t0 = performance.now();
  let engine;
  try {
    let progress = 0;
    engine = await Cls.load(source, { ...options, onProgress: (p) => (progress = p.loaded) });
    const tLoad = performance.now() - t0;
    const items = [];
    const ac = new AbortController();
    const opts = { maxTokens, temperature: 0, signal: ac.signal };
    for await (const item of chat ? engine.chat(prompt, opts) : engine.generate(prompt, opts)) {
      items.push(item);
      if (items.length === abortAfter) ac.abort();
    }
    const text = items.map((x) => x.text).join('');
    const ms = performance.now() - t0;
    log(
      `${kind}${chat ? ' chat' : ''}: ${source} ${JSON.stringify(options)} → ${JSON.stringify(text)} (load ${tLoad.toFixed(0)} ms, total ${ms.toFixed(0)} ms)`,
    );
    const { threads, relaxedSimd } = await engine.info();
    return { text, ids: items.map((x) => x.id), nCtx: engine.nCtx, threads, relaxedSimd, progress, ms };
  } catch (e) {
    log(`${kind}: ${source} ${JSON.stringify(options)} → ${e.name} ${e.code ?? ''}: ${e.message}`, 'err');
    return { error: errorOf(e) };
  } finally {
    await engine?.dispose();
  }
}

/** The Cache API entry for a URL: null, or its x-ntk-length and size. */
async function cached(url) {
  const hit = await (await caches.open(CACHE)).match(absolute(url));
  if (!hit) return null;
  return { length: hit.headers.get('x-ntk-length'), size: (await hit.arrayBuffer()).byteLength };
}

/** Wait until the loader has written a URL's entry (it stores the body as the load reads it). */
async function waitCached(url, ms = 15_000) {
  for (const t0 = performance.now(); performance.now() - t0 < ms; await new Promise((r) => setTimeout(r, 25))) {
    const c = await cached(url);
    if (c && c.size === Number(c.length)) return c;
  }
  return null;
}

/**
 * Replace a URL's cache entry with a broken one: 'length' (the real bytes cut short, x-ntk-length
 * still the whole size), 'garbage' (as many bytes as the model, none of them GGUF, length right),
 * 'truncated' (the bytes cut short and the length saying so).
 */
async function corruptCache(url, how) {
  const store = await caches.open(CACHE);
  // the real bytes come from the good entry, so that making the broken one asks nothing of the server
  const good = await store.match(absolute(url));
  if (!good) throw new Error(`${url} is not cached`);
  const real = new Uint8Array(await good.arrayBuffer());
  let bytes, length;
  if (how === 'length') [bytes, length] = [real.subarray(0, 1 << 20), real.length];
  else if (how === 'garbage') [bytes, length] = [real.map((_, i) => (i * 2654435761) >>> 24), real.length];
  else if (how === 'truncated') [bytes, length] = [real.subarray(0, 3_000_000), 3_000_000];
  else throw new Error(`unknown corruption ${how}`);
  await store.put(
    absolute(url),
    new Response(bytes, { headers: { 'content-type': 'application/octet-stream', 'x-ntk-length': String(length) } }),
  );
  log(`cache: ${url} replaced by a ${how} entry (${bytes.length} bytes, x-ntk-length ${length})`);
}

function done(ok, line) {
  statusEl.textContent = line;
  statusEl.className = ok ? 'ok' : 'fail';
}

window.ntkTest = { greedy, cached, waitCached, corruptCache, log, done, NtkError };
statusEl.textContent = `ready: crossOriginIsolated ${crossOriginIsolated}, ${navigator.userAgent.match(/Chrom\S+/)?.[0] ?? navigator.userAgent}`;
window.ntkReady = true;
