// The KV cache in f32, f16 and q8_0 (load option kvType): each against the reference logits of
// the 1500-token run of prompt 0 (f32 to the README tolerance, the narrower types to looser
// ones that bound their rounding), greedy continuations in consistent mode, the memory a token
// takes, and the option's checks.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  Engine,
  model,
  refRun,
  refLastLogits,
  assertLogitsClose,
  continuations,
  collect,
  assertNtkError,
} from './helpers.mjs';

const TYPES = ['f32', 'f16', 'q8_0'];
// |Δ| / max|reference logit| at 1500 tokens: f32 is the README's; f16 rounds every cached value
// to 11 bits, q8_0 to 8 bits per 32-value block
const REL_TOL = { f32: 1e-3, f16: 2e-2, q8_0: 1e-1 };
// greedy tokens of continuations.json prompt 0 (consistent) each type must reproduce
const MIN_MATCH = { f32: 10, f16: 10, q8_0: 10 };
// kjv-tiny: 6 layers, 2 KV heads of 64; K and V, then the token id and a cos/sin row a 64-token chunk
const ELEM_BYTES = { f32: 4, f16: 2, q8_0: 34 / 32 };
const BOOKKEEPING = 4 + (64 * 4) / 64;

const engines = {};
before(async () => {
  for (const kvType of TYPES) engines[kvType] = await Engine.load(model('f32'), { kvType });
});
after(() => Object.values(engines).forEach((e) => e.dispose()));

test('info() reports the KV type and the bytes a token takes in it', () => {
  for (const kvType of TYPES) {
    const info = engines[kvType].info();
    assert.equal(info.kvType, kvType);
    assert.equal(info.kvBytesPerToken, 2 * 6 * 128 * ELEM_BYTES[kvType] + BOOKKEEPING);
  }
});

for (const kvType of TYPES) {
  test(`${kvType}: last logits of the 1500-token run of prompt 0 vs the reference`, (t) => {
    const run = refRun(0, 1500);
    const e = engines[kvType];
    e.reset();
    const logits = e.evaluate(run.token_ids);
    const s = assertLogitsClose(logits, refLastLogits(run), `${kvType} L=1500`, REL_TOL[kvType]);
    t.diagnostic(`${kvType}: max|Δ| ${s.maxAbs.toExponential(3)} = ${s.rel.toExponential(3)} × max|ref|`);
  });
}

for (const kvType of TYPES) {
  test(`${kvType}: greedy continuation of continuations.json prompt 0, consistent`, async (t) => {
    const c = continuations().continuations[0];
    const e = engines[kvType];
    assert.equal(e.info().rope.mode, 'consistent');
    e.reset();
    const want = c.consistent.tokens;
    const items = await collect(e.generate(c.prompt_ids, { maxTokens: want.length, temperature: 0 }));
    const ids = items.map((x) => x.id);
    let same = 0;
    while (same < want.length && ids[same] === want[same]) same++;
    t.diagnostic(`${kvType}: first ${same} of ${want.length} tokens match`);
    assert.ok(same >= MIN_MATCH[kvType], `${kvType}: only the first ${same} tokens match`);
  });
}

test('a bad kvType is an ARG error', async () => {
  for (const kvType of ['q4_0', 'F16', 1, null])
    await assertNtkError(Engine.load(model('f32'), { kvType }), 'ARG', /kvType/);
});
