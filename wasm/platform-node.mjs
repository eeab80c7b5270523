// platform-node.mjs — Node's side of platform.mjs: an engine's instance from the CommonJS glue
// (wasm/build/<build>.js, its threads in worker_threads running Emscripten's <build>.worker.js), a
// file read straight into the engine's memory, the engine's worker thread (worker.mjs) and that
// worker's port to its parent. Only platform.mjs imports this module, and only in Node.
import { createRequire } from 'node:module';
import { open, readFile } from 'node:fs/promises';
import { Worker, parentPort } from 'node:worker_threads';
import { NtkError } from './errors.mjs';

const require = createRequire(import.meta.url);

/**
 * A new instance of a build ({ name, threads }): { mod, threads }. The workers of the threaded
 * build are made with the module, one fewer than the threads (the calling thread works too).
 */
export async function instantiate({ name, threads }) {
  // Emscripten's loader would fetch() the .wasm by path, which Node cannot: hand it the bytes.
  const factory = require(`./build/${name}.js`);
  const mod = await factory({
    wasmBinary: await readFile(new URL(`./build/${name}.wasm`, import.meta.url)),
    ...(threads > 1 ? { ntkWorkers: threads - 1 } : {}),
  });
  // the workers must not keep Node running once the program is done with its engines
  for (const w of mod.PThread?.unusedWorkers ?? []) w.unref();
  return { mod, threads };
}

const ioError = (msg) => new NtkError(msg, 'IO');

/** A reader (loader.mjs) of a file, by path or file: URL, that reads into the views it is given. */
export async function openFile(path) {
  const name = path instanceof URL ? path.pathname : path;
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    throw ioError(`cannot open ${name}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
  }
  const { size } = await fh.stat();
  let pos = 0;
  return {
    total: size,
    name,
    fromCache: false,
    async read(view) {
      const { bytesRead } = await fh.read(view, 0, view.length, pos).catch((e) => {
        throw ioError(`cannot read ${name}: ${e.code === 'EISDIR' ? 'it is a directory' : e.message}`);
      });
      pos += bytesRead;
      return bytesRead;
    },
    close: () => fh.close(),
  };
}

/** WorkerEngine's worker (worker.mjs) as a worker_threads Worker: the channel worker-engine.mjs speaks through. */
export function startWorker() {
  // the worker inherits Node's options, but --input-type (node --input-type=module -e ...) would
  // stop it from loading a module file
  const execArgv = process.execArgv.filter(
    (a, i, all) => !a.startsWith('--input-type') && all[i - 1] !== '--input-type',
  );
  const w = new Worker(new URL('./worker.mjs', import.meta.url), { execArgv });
  w.unref();
  return {
    post: (msg, transfer) => w.postMessage(msg, transfer),
    listen(onMessage, onExit) {
      w.on('message', onMessage);
      w.on('error', (e) => onExit(e));
      w.on('messageerror', (e) => onExit(e));
      w.on('exit', (code) => onExit(new Error(`the worker exited (code ${code})`)));
    },
    ref: () => w.ref(),
    unref: () => w.unref(),
    terminate: () => w.terminate(),
  };
}

/** Inside worker.mjs: receive(message) for each message from WorkerEngine; returns { post, close }. */
export function connect(receive) {
  if (!parentPort) throw new Error('worker.mjs runs as a worker (see worker-engine.mjs)');
  parentPort.on('message', receive);
  return { post: (msg, transfer) => parentPort.postMessage(msg, transfer), close: () => parentPort.close() };
}
