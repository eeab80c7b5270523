// pthread-worker.mjs — one thread of a threaded build in a browser: a module worker that
// platform-web.mjs starts for an engine, and that runs that engine's pthreads on its shared
// memory. It speaks the protocol of Emscripten 3.1.6's pthread runtime (the glue's PThread object)
// as the worker.js Emscripten writes beside the glue does ('load', then 'run', 'cancel',
// 'processThreadQueue'); being an ES module with static imports, it is what a bundler can build
// as a worker of its own, where Emscripten's classic worker.js, loaded through importScripts by a
// URL the bundler never sees, cannot be (and a small asset may be inlined as a data: URL, which
// cross-origin isolation refuses as a worker).
//
// It says 'ntk-ready' as soon as it runs, so that the page knows it loaded; the glue's 'load'
// names the build in urlOrBlob (the engine's mainScriptUrlOrBlob) and carries its compiled
// module and memory.
import simd from './build/ntk-mt.web.mjs';
import relaxed from './build/ntk-mt-relaxed.web.mjs';

const FACTORIES = { 'ntk-mt': simd, 'ntk-mt-relaxed': relaxed };

let Module = null;

function load({ urlOrBlob: build, wasmModule, wasmMemory }) {
  Module = {
    wasmModule,
    wasmMemory,
    buffer: wasmMemory.buffer,
    ENVIRONMENT_IS_PTHREAD: true,
    // the engine's compiled module, on the engine's memory
    instantiateWasm(imports, receive) {
      const instance = new WebAssembly.Instance(wasmModule, imports);
      receive(instance);
      return instance.exports;
    },
  };
  // the glue answers 'loaded' once its runtime is up
  FACTORIES[build](Module);
}

function run(d) {
  // this worker's clock, set to the main thread's
  Module.__performance_now_clock_drift = performance.now() - d.time;
  Module.__emscripten_thread_init(d.threadInfoStruct, 0, 0, 1);
  Module.establishStackSpace();
  Module.PThread.receiveObjectTransfer(d);
  Module.PThread.threadInit();
  try {
    const result = Module.invokeEntryPoint(d.start_routine, d.arg);
    if (Module.keepRuntimeAlive()) Module.PThread.setExitStatus(result);
    else Module.__emscripten_thread_exit(result);
  } catch (e) {
    // 'unwind': the thread lives on for asynchronous work; exit(): it ends; anything else crashed
    if (e === 'unwind') return;
    if (!(e instanceof Module.ExitStatus)) throw e;
    if (!Module.keepRuntimeAlive()) Module.__emscripten_thread_exit(e.status);
  }
}

const COMMANDS = {
  load,
  run,
  cancel: () => Module._pthread_self() && Module.__emscripten_thread_exit(-1),
  processThreadQueue: () => Module._pthread_self() && Module._emscripten_current_thread_process_queued_calls(),
};

self.onmessage = ({ data }) => {
  if (data.target === 'setimmediate') return;
  const command = COMMANDS[data.cmd];
  if (!command) return console.error(`pthread-worker.mjs: unknown command ${data.cmd}`);
  try {
    command(data);
  } catch (e) {
    Module?.__emscripten_thread_crashed?.();
    throw e;
  }
};

self.postMessage({ cmd: 'ntk-ready' });
