// measure.mjs — one ntk-wasm measurement, the same in Node and on the bench page: load a model,
// time prefill of each prompt length and greedy decode after a short prompt. Plain JS with no
// Node imports, so the page imports it as it is.

/** Best (shortest) time of `reps` runs: the run least disturbed by other work on the machine. */
export async function best(reps, fn) {
  let t = Infinity;
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await fn();
    t = Math.min(t, performance.now() - t0);
  }
  return t;
}

const argmax = (v) => v.reduce((m, x, i) => (x > v[m] ? i : m), 0);

/**
 * Load `source` with Engine and measure it. prompt(n) gives n token ids (BOS first); prefill is a
 * list of lengths, decode the tokens to generate after prompt(16). Returns { loadMs, prefill:
 * { n: tokens/s }, decode: tokens/s } or { unsupported: message } when the engine refuses
 * the file's tensor types or the options (an older engine without threads, say).
 */
export async function measureNtk(Engine, source, { build = 'simd', threads = 1, prefill, decode, reps, prompt }) {
  const t0 = performance.now();
  let engine;
  try {
    // cache: false keeps a browser from copying the model into the Cache API (no effect in Node)
    engine = await Engine.load(source, { build, cache: false, ...(threads === 1 ? {} : { threads }) });
  } catch (e) {
    if (e?.code === 'UNSUPPORTED' || e?.code === 'ARG') return { unsupported: e.message };
    throw e;
  }
  const loadMs = performance.now() - t0;
  try {
    const row = { loadMs, prefill: {} };
    engine.evaluate(prompt(2)); // the first call runs baseline-compiled code (V8 tiers up hot functions)
    for (const n of prefill) {
      const ids = prompt(n);
      row.prefill[n] =
        (n /
          (await best(reps, () => {
            engine.reset();
            engine.evaluate(ids);
          }))) *
        1000;
    }
    if (decode > 0) {
      let ms = Infinity;
      for (let r = 0; r < reps; r++) {
        engine.reset();
        let logits = engine.evaluate(prompt(16));
        const t = performance.now();
        for (let i = 0; i < decode; i++) logits = engine.evaluate([argmax(logits)]);
        ms = Math.min(ms, performance.now() - t);
      }
      row.decode = (decode / ms) * 1000;
    }
    return row;
  } finally {
    engine.dispose();
  }
}
