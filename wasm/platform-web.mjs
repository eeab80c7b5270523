// platform-web.mjs — the web's side of platform.mjs, and what bundlers for the browser take in its
// place (package.json "browser"), so this module and everything it imports must stay free of
// Node: an engine's instance from the web glue of a build (wasm/build/<build>.web.mjs, linked
// for the web and workers only) and its wasm, and worker.mjs's port to the page.
//
// Every file is named by a static string, `import('./build/x.web.mjs')` or
// `new URL('./build/x.wasm', import.meta.url)`, the forms Vite, webpack and Rollup find, emit and
// rewrite. The threads of a threaded build run pthread-worker.mjs, a module worker each, started
// here (`new Worker(new URL(...), { type: 'module' })`, which bundlers build as a worker of its
// own) rather than by the glue; a thread worker that cannot start (its script 404s, a policy
// refuses it) fails the instance within seconds, or falls back to one thread where asked.
import { NtkError } from './errors.mjs';

const BUILDS = {
  ntk: { glue: () => import('./build/ntk.web.mjs'), wasm: () => new URL('./build/ntk.wasm', import.meta.url) },
  'ntk-scalar': {
    glue: () => import('./build/ntk-scalar.web.mjs'),
    wasm: () => new URL('./build/ntk-scalar.wasm', import.meta.url),
  },
  'ntk-relaxed': {
    glue: () => import('./build/ntk-relaxed.web.mjs'),
    wasm: () => new URL('./build/ntk-relaxed.wasm', import.meta.url),
  },
  'ntk-mt': {
    glue: () => import('./build/ntk-mt.web.mjs'),
    wasm: () => new URL('./build/ntk-mt.wasm', import.meta.url),
  },
  'ntk-mt-relaxed': {
    glue: () => import('./build/ntk-mt-relaxed.web.mjs'),
    wasm: () => new URL('./build/ntk-mt-relaxed.wasm', import.meta.url),
  },
};
// A thread worker answers 'ntk-ready' once its script runs; a healthy one does in well under a second.
const THREAD_START_MS = 15_000;

const runtimeError = (msg) => new NtkError(msg, 'RUNTIME');

// Each build's WebAssembly is fetched and compiled once per page (or worker); every instance
// shares the compiled module.
const compiled = new Map();

function compile(name) {
  if (!compiled.has(name)) {
    const url = BUILDS[name].wasm();
    const module = (async () => {
      let res;
      try {
        res = await fetch(url, { credentials: 'same-origin' });
      } catch (e) {
        throw new NtkError(`cannot fetch the engine's WebAssembly ${url}: ${e.message}`, 'IO');
      }
      if (!res.ok) throw new NtkError(`HTTP ${res.status} for the engine's WebAssembly ${url}`, 'IO');
      // streaming compilation needs the server to say application/wasm
      return res.headers.get('content-type')?.startsWith('application/wasm')
        ? WebAssembly.compileStreaming(res)
        : WebAssembly.compile(await res.arrayBuffer());
    })();
    compiled.set(name, module);
    module.catch(() => compiled.delete(name));
  }
  return compiled.get(name);
}

/**
 * count thread workers, each of which has answered 'ntk-ready'. Rejects, the workers ended, when
 * one fails to load or stays silent for THREAD_START_MS. Returns { workers, failed, unwatch }:
 * failed rejects if one of them fails later, until unwatch().
 */
async function startThreads(count) {
  const workers = [];
  let fail;
  const failed = new Promise((_, reject) => (fail = reject));
  failed.catch(() => {});
  const stop = (why) => {
    for (const w of workers) w.terminate();
    fail(runtimeError(`the threaded build's workers did not start: ${why}`));
  };
  const onError = (e) => {
    e.preventDefault();
    stop(e.message || 'the thread worker script (pthread-worker.mjs) failed to load');
  };
  const ready = Array.from({ length: count }, () => {
    const w = new Worker(new URL('./pthread-worker.mjs', import.meta.url), { type: 'module' });
    workers.push(w);
    w.addEventListener('error', onError);
    return new Promise((resolve) => (w.onmessage = (e) => e.data?.cmd === 'ntk-ready' && resolve()));
  });
  const timer = setTimeout(
    () => stop(`no answer from pthread-worker.mjs in ${THREAD_START_MS / 1000} s`),
    THREAD_START_MS,
  );
  try {
    await Promise.race([Promise.all(ready), failed]);
  } finally {
    clearTimeout(timer);
  }
  for (const w of workers) w.onmessage = null; // the glue's own handler comes next
  return { workers, failed, unwatch: () => workers.forEach((w) => w.removeEventListener('error', onError)) };
}

/**
 * A new instance of a build ({ name, threads, fallback }): { mod, threads }. threads > 1 needs
 * the thread workers; when they cannot start, `fallback` (a one-thread build) runs instead, with a
 * warning, or without one the load fails with that error.
 */
export async function instantiate({ name, threads, fallback }) {
  const starting = threads > 1 ? startThreads(threads - 1) : null;
  const [{ default: factory }, wasmModule, pool] = await Promise.all([
    BUILDS[name].glue(),
    compile(name),
    starting?.catch((e) => {
      if (!fallback) throw e;
      console.warn(`ntk-wasm: ${e.message}; running one thread (${fallback})`);
      return null;
    }),
  ]);
  if (starting && !pool) return instantiate({ name: fallback, threads: 1 });
  let failInstance;
  const instanceFailed = new Promise((_, reject) => (failInstance = reject));
  const moduleArg = {
    // the thread workers are the pool's, not the glue's (Emscripten's own would load its classic
    // worker.js by a URL no bundler sees); pthread-worker.mjs reads the build to run from the
    // main script's name, which the glue sends it
    ntkWorkers: 0,
    mainScriptUrlOrBlob: name,
    instantiateWasm(imports, receive) {
      WebAssembly.instantiate(wasmModule, imports).then((instance) => {
        if (pool) moduleArg.PThread.unusedWorkers.push(...pool.workers);
        receive(instance, wasmModule);
      }, failInstance);
      return {};
    },
  };
  try {
    const mod = await Promise.race([factory(moduleArg), instanceFailed, ...(pool ? [pool.failed] : [])]);
    return { mod, threads: pool ? threads : 1 };
  } catch (e) {
    for (const w of pool?.workers ?? []) w.terminate();
    throw e;
  } finally {
    pool?.unwatch();
  }
}

/** Inside worker.mjs: receive(message) for each message from the page; returns { post, close }. */
export function connect(receive) {
  self.onmessage = (e) => receive(e.data);
  return { post: (msg, transfer) => self.postMessage(msg, transfer), close: () => self.close() };
}

const nodeOnly = (what) => () => {
  throw new NtkError(`${what} needs Node; in a browser give a URL, a Blob or bytes`, 'UNSUPPORTED');
};

// platform-node.mjs's other two, which nothing calls in a browser (loader.mjs takes every string
// for a URL there; worker-engine.mjs starts a module Worker itself)
export const openFile = nodeOnly('reading a file by its path');
export const startWorker = nodeOnly('a worker_threads worker');
