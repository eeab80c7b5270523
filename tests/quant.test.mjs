// The F16 / Q8_0 / Q4_0 files vs the F32 reference logits (logits.bin), with bounds of twice the
// float64-from-the-file figures in models/kjv-tiny.md, and the llama-labelled Q8_0 file vs the
// internlm2 Q8_0 file (same weights: equal logits up to 512 tokens; past it, plain RoPE).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Engine, model, refRun, refLastLogits, diffStats, ropeBase, relDiff } from './helpers.mjs';

// models/kjv-tiny.md: "differs from transformers' float32 logits by at most f16 8.1e-3, q8_0 0.245, q4_0 3.0"
const README_MAX_ABS = { f16: 8.1e-3, q8_0: 0.245, q4_0: 3.0 };
const TENSOR_TYPES = { f16: 'F16', q8_0: 'Q8_0', q4_0: 'Q4_0' };
const RUNS = [512, 1500];

const engines = new Map();
async function engine(file, options = {}) {
  const key = `${file} ${JSON.stringify(options)}`;
  if (!engines.has(key)) engines.set(key, await Engine.load(model(file), options));
  return engines.get(key);
}
after(() => [...engines.values()].forEach((e) => e.dispose()));

const memo = new Map();
/** Last logits of prompt 0's run of L tokens, from a reset context (memoized per engine). */
async function lastLogits(file, L, options = {}) {
  const key = `${file} ${JSON.stringify(options)} ${L}`;
  if (!memo.has(key)) {
    const e = await engine(file, options);
    e.reset();
    memo.set(key, { logits: e.evaluate(refRun(0, L).token_ids), base: e.base });
  }
  return memo.get(key);
}

for (const [type, readme] of Object.entries(README_MAX_ABS)) {
  test(
    `${type}: last logits of prompt 0 at ${RUNS.join(' and ')} tokens within 2 × ${readme} of logits.bin`,
    { concurrency: false },
    async (t) => {
      const e = await engine(type);
      const info = e.info();
      assert.equal(info.architecture, 'internlm2');
      assert.ok(
        info.tensorTypes[TENSOR_TYPES[type]] > 0,
        `${type} file has ${TENSOR_TYPES[type]} tensors: ${JSON.stringify(info.tensorTypes)}`,
      );
      assert.equal(info.rope.mode, 'consistent');
      for (const L of RUNS) {
        const run = refRun(0, L);
        const { logits, base } = await lastLogits(type, L);
        const s = diffStats(logits, refLastLogits(run));
        t.diagnostic(
          `${type} L=${L}: max|Δ| ${s.maxAbs.toExponential(3)} vs the F32 reference (bound ${2 * readme}), rel ${s.rel.toExponential(3)}, base ${base}`,
        );
        assert.ok(s.maxAbs <= 2 * readme, `${type} L=${L}: max|Δ| ${s.maxAbs} at id ${s.at} exceeds ${2 * readme}`);
        assert.ok(relDiff(base, ropeBase(L)) <= 1e-9, `${type} L=${L}: base ${base}`);
      }
    },
  );
}

test(
  'llama-labelled q8_0: plain RoPE by default, equal to the internlm2 q8_0 file',
  { concurrency: false },
  async (t) => {
    const llama = await engine('llama-q8_0');
    const info = llama.info();
    assert.equal(info.architecture, 'llama');
    assert.equal(info.rope.mode, 'none');
    assert.equal(info.rope.modeSource, 'default');
    assert.equal(info.rope.fileFactor, false);
    assert.ok(info.tensorTypes.Q8_0 > 0);

    // ≤ 512 tokens no base moves: the logits equal the internlm2 file's with keys stored rotated
    // (consistent mode rotates them in the attention pass, a different float path that Q8_0
    // activation rounding amplifies to ~0.1)
    const l512 = await lastLogits('llama-q8_0', 512);
    const q512 = await lastLogits('q8_0', 512, { ropeMode: 'cached' });
    const s512 = diffStats(l512.logits, q512.logits);
    const bitwise512 = l512.logits.every((v, i) => Object.is(v, q512.logits[i]));
    t.diagnostic(
      `L=512: llama vs internlm2 q8_0 max|Δ| ${s512.maxAbs} (${bitwise512 ? 'bit-identical' : 'not bit-identical'})`,
    );
    assert.ok(s512.maxAbs <= 1e-6, `L=512: llama vs internlm2 max|Δ| ${s512.maxAbs}`);
    assert.equal(l512.base, 10000);

    // past 512: plain RoPE, i.e. the internlm2 file with ropeMode 'none', and not dynamic NTK
    const l1500 = await lastLogits('llama-q8_0', 1500);
    const none1500 = await lastLogits('q8_0', 1500, { ropeMode: 'none' });
    const dyn1500 = await lastLogits('q8_0', 1500);
    const sNone = diffStats(l1500.logits, none1500.logits);
    const sDyn = diffStats(l1500.logits, dyn1500.logits);
    const bitwise1500 = l1500.logits.every((v, i) => Object.is(v, none1500.logits[i]));
    t.diagnostic(
      `L=1500: llama vs internlm2 q8_0 ropeMode none max|Δ| ${sNone.maxAbs} (${bitwise1500 ? 'bit-identical' : 'not bit-identical'}); ` +
        `vs internlm2 q8_0 dynamic NTK max|Δ| ${sDyn.maxAbs.toFixed(3)}`,
    );
    assert.ok(sNone.maxAbs <= 1e-6, `L=1500: llama vs internlm2 ropeMode none max|Δ| ${sNone.maxAbs}`);
    assert.ok(sDyn.maxAbs > 0.1, `L=1500: llama vs internlm2 consistent max|Δ| only ${sDyn.maxAbs}`);
    assert.equal(l1500.base, 10000);
    assert.equal(none1500.base, 10000);
  },
);
