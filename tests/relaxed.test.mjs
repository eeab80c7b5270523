// The relaxed build (wasm/build/ntk-relaxed.*, ntk-mt-relaxed.*): its quantized kernels form the
// products of quants and activations with relaxed SIMD's i16x8.relaxed_dot_i8x16_i7x16_s, always
// with an unsigned operand under 128 (the quants of K-quants and the legacy 4- and 5-bit types;
// for Q8_0, the activations split into positive and negative parts), where its result is defined,
// so it must give the SIMD build's logits bit for bit: every position of a 600-token fixture
// prompt (past the trained 512) and a greedy decode loop, for the K-quant, Q4_0 and Q8_0 files,
// with one thread and two; their last logits also stay within the bounds tests/kquant.test.mjs
// and tests/quant.test.mjs set against the F32 reference. And the choice of build: 'auto'
// takes relaxed where the runtime validates it, falls back to simd where not, and 'relaxed' there
// is an UNSUPPORTED error.
//
// Node 20 validates relaxed SIMD only behind a V8 flag; this file's process turns it on (each test
// file runs in its own process) and a child process without it checks the fallback.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import v8 from 'node:v8';
import { Engine, model, refRun, refLastLogits, diffStats, promptAndDecode, assertSameRun, ROOT } from './helpers.mjs';
import { relaxedSimdSupported } from '../wasm/engine.mjs';

if (!relaxedSimdSupported()) v8.setFlagsFromString('--experimental-wasm-relaxed-simd');

const PROMPT = refRun(0, 1500).token_ids.slice(0, 600);
const DECODE = 8;
// tests/kquant.test.mjs: 2^(8-b) times Q8_0's largest error against the reference, b the main
// type's bits; tests/quant.test.mjs: twice Q4_0's and Q8_0's figures in models/kjv-tiny.md
const FILES = { q4_k_m: 3.92, q5_k_m: 1.96, q6_k: 0.98, q4_0: 6.0, q8_0: 0.49 };
const engines = [];
after(() => engines.forEach((e) => e.dispose()));

async function load(file, options) {
  const e = await Engine.load(model(file), options);
  engines.push(e);
  return e;
}

test('this runtime runs relaxed SIMD once the flag is on, and build "auto" then takes the relaxed build', async () => {
  assert.equal(relaxedSimdSupported(), true);
  const info = (await load('q4_k_m')).info();
  assert.equal(info.relaxedSimd, true);
  assert.equal(info.simd, true);
  assert.equal((await load('q4_k_m', { build: 'simd' })).info().relaxedSimd, false);
});

for (const [file, bound] of Object.entries(FILES)) {
  test(`${file}: the relaxed build gives the SIMD build's logits bit for bit, with 1 and 2 threads; last logits within ${bound} of the reference`, async (t) => {
    const want = promptAndDecode(await load(file, { build: 'simd' }), PROMPT, DECODE);
    let engine;
    for (const threads of [1, 2]) {
      engine = await load(file, { build: 'relaxed', threads });
      assert.equal(engine.info().threads, threads);
      assertSameRun(promptAndDecode(engine, PROMPT, DECODE), want, `${file}, ${threads} thread(s)`);
    }
    const ref = refRun(0, 512);
    engine.reset();
    const s = diffStats(engine.evaluate(ref.token_ids), refLastLogits(ref));
    t.diagnostic(`${file}: max|Δ| ${s.maxAbs.toFixed(3)} against the F32 reference at 512 tokens`);
    assert.ok(s.maxAbs <= bound, `${file}: max|Δ| ${s.maxAbs} exceeds ${bound}`);
  });
}

test('without relaxed SIMD (a Node 20 process without the flag): "auto" runs the SIMD build, "relaxed" is UNSUPPORTED', async () => {
  const script = `
    import { Engine, relaxedSimdSupported } from './wasm/engine.mjs';
    const out = { supported: relaxedSimdSupported() };
    const e = await Engine.load(${JSON.stringify(model('q4_k_m'))});
    out.auto = e.info().relaxedSimd;
    e.dispose();
    try { await Engine.load(${JSON.stringify(model('q4_k_m'))}, { build: 'relaxed' }); out.relaxed = 'loaded'; }
    catch (err) { out.relaxed = { code: err.code, message: err.message }; }
    const ok = await Engine.load(${JSON.stringify(model('q4_k_m'))}, { build: 'auto' });
    out.after = ok.evaluate([1, 2, 3]).length;
    console.log(JSON.stringify(out));`;
  const stdout = await new Promise((resolve, reject) =>
    execFile(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT }, (err, out, errOut) =>
      err ? reject(new Error(`${err.message}\n${errOut}`)) : resolve(out),
    ),
  );
  const out = JSON.parse(stdout);
  if (out.supported) return; // a runtime with relaxed SIMD on by default has no fallback to show
  assert.equal(out.auto, false, '"auto" fell back to the SIMD build');
  assert.equal(out.relaxed.code, 'UNSUPPORTED');
  assert.match(out.relaxed.message, /relaxed SIMD/);
  assert.ok(out.after > 0, 'an engine loads after the error');
});
