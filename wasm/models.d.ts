// Types of 'ntk-wasm/models' (wasm/models.mjs).

/** The URL of the model the package ships, kjv-tiny Q8_0 (a file: URL in Node); Engine.load and WorkerEngine.load take it. */
export declare const bundledModelUrl: string;
