// The threaded build (wasm/build/ntk-mt.*) against the single-thread SIMD build: logits bit for
// bit the same with 2 and 4 threads — every position of a fixture prompt past the trained 512
// tokens, in the consistent and the cached cache, then a greedy decode loop — and the same
// through WorkerEngine. The fallback to one thread, and the option's checks.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  Engine,
  model,
  refRun,
  promptAndDecode,
  assertSameRun,
  assertBitIdentical,
  assertNtkError,
} from './helpers.mjs';
import { WorkerEngine } from '../wasm/worker-engine.mjs';

const PROMPT = refRun(0, 1500).token_ids.slice(0, 600); // two 512s' worth of dynamic NTK past L0
const DECODE = 12;
const engines = [];
after(() => engines.forEach((e) => e.dispose()));

async function load(options) {
  const e = await Engine.load(model('f32'), options);
  engines.push(e);
  return e;
}

const run = (engine) => promptAndDecode(engine, PROMPT, DECODE);

for (const ropeMode of ['consistent', 'cached']) {
  test(`${ropeMode}: 2 and 4 threads give the logits of one, bit for bit (600-token prompt, ${DECODE} decode steps)`, async (t) => {
    const want = run(await load({ ropeMode }));
    for (const threads of [2, 4]) {
      const engine = await load({ ropeMode, threads });
      assert.equal(engine.info().threads, threads);
      const t0 = performance.now();
      assertSameRun(run(engine), want, `${ropeMode}, ${threads} threads`);
      t.diagnostic(`${threads} threads: ${(performance.now() - t0).toFixed(0)} ms`);
    }
  });
}

test('quantized weights and KV cache: 2 threads give the logits of one', async () => {
  const options = { kvType: 'q8_0' };
  const one = await Engine.load(model('q8_0'), options);
  const two = await Engine.load(model('q8_0'), { ...options, threads: 2 });
  engines.push(one, two);
  assertSameRun(run(two), run(one), 'q8_0 file, q8_0 cache');
});

test('WorkerEngine passes threads through', async () => {
  const w = await WorkerEngine.load(model('f32'), { threads: 2 });
  try {
    assert.equal((await w.info()).threads, 2);
    const want = (await load({})).evaluate(PROMPT.slice(0, 100), { allLogits: true });
    assertBitIdentical(await w.evaluate(PROMPT.slice(0, 100), { allLogits: true }), want, 'WorkerEngine, 2 threads');
  } finally {
    await w.dispose();
  }
});

test('one thread where the threaded build cannot run: the scalar build', async () => {
  const e = await load({ threads: 2, build: 'scalar' });
  assert.equal(e.info().threads, 1);
  assert.equal(e.info().simd, false);
  assert.equal((await load({})).info().threads, 1, 'the default is one thread');
});

test('threads must be an integer in [1, 64]', async () => {
  for (const threads of [0, 1.5, 65, '2', -1])
    await assertNtkError(() => Engine.load(model('f32'), { threads }), 'ARG', /threads/, `threads ${threads}`);
});
