// One forward call (prefill) of kjv-tiny-f32.gguf vs the transformers float32 fixtures:
// reference.json runs (last logits in logits.bin, top-10 lists, rope frequencies) and
// full_logits_64 (every position of a 64-token prompt). SIMD build for everything, the scalar
// build for the 512-token run of prompt 0 and the 64-token prompt.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  Engine,
  model,
  reference,
  refLastLogits,
  refRun,
  fullLogits64,
  ropeBase,
  baseFromInvFreq,
  relDiff,
  assertLogitsClose,
  assertTopClose,
  row,
  Worst,
} from './helpers.mjs';

const worst = new Worst();
const engines = {};
before(async () => {
  engines.simd = await Engine.load(model('f32'));
});
after(() => Object.values(engines).forEach((e) => e.dispose()));

/** All checks of one reference.json run on one engine; returns nothing, records the worst figures. */
function checkRun(t, engine, build, p, run) {
  const label = `${build} prompt ${p} L=${run.seq_len}`;
  engine.reset();
  const logits = engine.evaluate(run.token_ids, { allLogits: true });
  assert.equal(logits.length, run.seq_len * 4096);
  assert.equal(engine.nCtx, run.seq_len);

  const last = assertLogitsClose(row(logits, run.seq_len - 1), refLastLogits(run), `${label} last logits`);
  worst.note(`${build} logits.bin`, last, label);

  let topWorst = { rel: 0, maxAbs: 0, scale: 0 };
  for (const { pos, top } of run.top10) {
    const s = assertTopClose(row(logits, pos), top, `${label} top10 at position ${pos}`);
    if (s.rel > topWorst.rel) topWorst = { ...s, pos };
  }
  worst.note(`${build} reference.json top10`, topWorst, `${label} pos ${topWorst.pos}`);

  // The RoPE base of the call: theta up to 512 tokens, dynamic NTK past it.
  const implied = baseFromInvFreq(run.inv_freq_used);
  assert.ok(
    relDiff(engine.base, implied) <= 1e-6,
    `${label}: base ${engine.base}, transformers' inv_freq implies ${implied}`,
  );
  assert.ok(
    relDiff(engine.base, ropeBase(run.seq_len)) <= 1e-9,
    `${label}: base ${engine.base} vs formula ${ropeBase(run.seq_len)}`,
  );
  if (run.seq_len > 512) assert.ok(engine.base > 10000 * 5, `${label}: dynamic NTK did not raise the base`);
  assert.equal(engine.info().rope.mode, 'consistent');

  t.diagnostic(
    `${label}: last logits rel ${last.rel.toExponential(3)} (max|Δ| ${last.maxAbs.toExponential(3)}), ` +
      `top10 worst rel ${topWorst.rel.toExponential(3)} over ${run.top10.length} lists, base ${engine.base}`,
  );
}

test('the F32 file loads as internlm2 with dynamic NTK from the file', () => {
  const info = engines.simd.info();
  assert.equal(info.architecture, 'internlm2');
  assert.equal(info.rope.mode, 'consistent');
  const { rope } = reference();
  assert.equal(info.rope.factor, rope.factor);
  assert.equal(info.rope.theta, rope.theta);
  assert.equal(info.rope.trainedCtx, rope.max_position_embeddings);
  assert.equal(info.simd, true);
});

for (const [p, prompt] of reference().prompts.entries()) {
  for (const run of prompt.runs) {
    test(
      `simd: prompt ${p}, ${run.seq_len} tokens: last logits, top-10 lists, RoPE base`,
      { concurrency: false },
      (t) => {
        checkRun(t, engines.simd, 'simd', p, run);
      },
    );
  }
}

function checkFull64(t, engine, build) {
  const f = fullLogits64();
  assert.deepEqual(f.shape, [64, 4096]);
  assert.deepEqual(
    f.token_ids,
    reference().prompts[0].runs[0].token_ids.slice(0, 64),
    'fixture: first 64 ids of prompt 0',
  );
  engine.reset();
  const logits = engine.evaluate(f.token_ids, { allLogits: true });
  let w = { rel: 0 };
  for (let pos = 0; pos < 64; pos++) {
    const s = assertLogitsClose(row(logits, pos), row(f.logits, pos), `${build} full_logits_64 position ${pos}`);
    if (s.rel > w.rel) w = { ...s, pos };
  }
  worst.note(`${build} full_logits_64.bin`, w, `position ${w.pos}`);
  t.diagnostic(
    `${build} full_logits_64: worst rel ${w.rel.toExponential(3)} at position ${w.pos} (max|Δ| ${w.maxAbs.toExponential(3)})`,
  );
}

test('simd: full_logits_64, every position of one 64-token call', (t) => checkFull64(t, engines.simd, 'simd'));

test('scalar build: prompt 0, 512 tokens and full_logits_64', { concurrency: false }, async (t) => {
  engines.scalar = await Engine.load(model('f32'), { build: 'scalar' });
  assert.equal(engines.scalar.info().simd, false, 'the scalar build reports simd: false');
  checkRun(t, engines.scalar, 'scalar', 0, refRun(0, 512));
  checkFull64(t, engines.scalar, 'scalar');
});

test('summary: worst relative error per fixture file', (t) => {
  for (const line of worst.lines()) t.diagnostic(line);
});
