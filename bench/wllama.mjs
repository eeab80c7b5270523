// wllama.mjs — the anchor, on the bench page: wllama (llama.cpp compiled to WebAssembly, npm
// @wllama/wllama, served from node_modules) on the same GGUF file, one thread, CPU only.
const WLLAMA = '/node_modules/@wllama/wllama/esm';

/**
 * Load `url` and measure it. wllama's completion API takes text, not token ids: texts[n] is the
 * text of ntk's n-token prompt, which llama.cpp's tokenizer must turn into the same n tokens (BOS
 * included; checked on every request). The rates are llama.cpp's own timings (prompt_per_second,
 * predicted_per_second), from the best of `reps` requests, with the prompt cache off so that every
 * request evaluates its whole prompt. Returns the same shape as measureNtk.
 */
export async function measureWllama(url, { texts, prefill, decode, reps, arch, trainedCtx, verbose = false }) {
  const { Wllama } = await import(`${WLLAMA}/index.js`);
  const w = new Wllama({ default: `${WLLAMA}/wasm/wllama.wasm` }, { suppressNativeLog: !verbose });
  const t0 = performance.now();
  const blob = await (await fetch(url)).blob();
  // llama.cpp rounds the context down to a multiple of 256 and needs a free cell after the prompt;
  // its server caps a context at the trained length (kjv-tiny's is 512): the override lifts the cap
  // and changes nothing else here (no RoPE scaling reads it). llama.cpp wants the list of overrides
  // ended by one with an empty key, which wllama 3.13 does not add: the last entry is that end.
  const nCtx = 256 * Math.ceil((Math.max(...prefill, 16) + decode) / 256 + 1);
  const kv_overrides = nCtx > trainedCtx ? { [`${arch}.context_length`]: `int:${nCtx}`, '': 'int:0' } : undefined;
  await w.loadModel([blob], { n_threads: 1, n_gpu_layers: 0, n_parallel: 1, n_ctx: nCtx, kv_overrides });
  const row = { loadMs: performance.now() - t0, prefill: {}, threads: w.getNumThreads() };
  const request = async (n, maxTokens) => {
    const { timings: t } = await w.createCompletion({
      prompt: texts[n],
      max_tokens: maxTokens,
      temperature: 0,
      ignore_eos: true,
      cache_prompt: false,
    });
    if (t.prompt_n !== n) throw new Error(`wllama made ${t.prompt_n} tokens of the ${n}-token prompt`);
    if (t.predicted_n !== maxTokens) throw new Error(`wllama generated ${t.predicted_n} of ${maxTokens} tokens`);
    return t;
  };
  const bestOf = async (n, maxTokens, rate) => {
    let r = 0;
    for (let i = 0; i < reps; i++) r = Math.max(r, rate(await request(n, maxTokens)));
    return r;
  };
  try {
    await request(16, 1); // the first request runs baseline-compiled code (V8 tiers up hot functions)
    for (const n of prefill) row.prefill[n] = await bestOf(n, 1, (t) => t.prompt_per_second);
    if (decode > 0) row.decode = await bestOf(16, decode, (t) => t.predicted_per_second);
    return row;
  } finally {
    await w.exit();
  }
}
