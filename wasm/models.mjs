// models.mjs — the model the package ships (models/kjv-tiny-q8_0.gguf), by URL: a file: URL in
// Node, where a bundler emitted it in a bundled app, beside the package's files on an unbundled
// page. Engine.load and WorkerEngine.load take it as it is. A subpath of its own
// ('ntk-wasm/models'), so that an app that never names the model does not get 8 MB of it in its
// build (a bundler emits what `new URL(..., import.meta.url)` names wherever it is imported).
export const bundledModelUrl = new URL('../models/kjv-tiny-q8_0.gguf', import.meta.url).href;
