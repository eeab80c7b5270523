// Weight types the bundled files lack or only approximate, built from the real weights: the
// engine on BF16 / F16 weights must give the logits it gives on F32 weights holding exactly the
// same values (only float summation order may differ), so the type's own kernels are tested
// without any rounding of the weights in the comparison.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Engine, model, retypeGGUF, halfToFloat, refRun, diffStats } from './helpers.mjs';

const F32 = 0, F16 = 1, BF16 = 30;
const PROMPT = refRun(0, 512).token_ids.slice(0, 200);

// F32 -> BF16 with round-to-nearest-even, as ggml's converter does
function toBF16(bytes) {
  const f = words(bytes, Uint32Array);
  const h = new Uint16Array(f.length);
  for (let i = 0; i < f.length; i++) h[i] = (f[i] + 0x7fff + ((f[i] >>> 16) & 1)) >>> 16;
  return new Uint8Array(h.buffer);
}
const bf16ToF32 = (bytes) => {
  const h = words(bytes, Uint16Array), f = new Uint32Array(h.length);
  for (let i = 0; i < h.length; i++) f[i] = h[i] << 16;
  return new Uint8Array(f.buffer);
};
const f16ToF32 = (bytes) => {
  const h = words(bytes, Uint16Array);
  return new Uint8Array(Float32Array.from(h, halfToFloat).buffer);
};
const matrices = (t) => t.dims.length === 2;
// an aligned copy of a tensor's bytes (Buffer#slice would share the whole file's memory)
function words(bytes, Type) {
  return new Type(new Uint8Array(bytes).buffer);
}

async function lastLogits(bytes) {
  const e = await Engine.load(bytes);
  try {
    return { logits: e.evaluate(PROMPT), info: e.info() };
  } finally {
    e.dispose();
  }
}

test('BF16 weights give the logits of the same values in F32', async () => {
  const f32 = readFileSync(model('f32'));
  const bf16 = retypeGGUF(f32, (t, b) => (matrices(t) ? { type: BF16, bytes: toBF16(b) } : { type: t.type, bytes: b }));
  const same = retypeGGUF(bf16, (t, b) => (t.type === BF16 ? { type: F32, bytes: bf16ToF32(b) } : { type: t.type, bytes: b }));
  const a = await lastLogits(bf16), b = await lastLogits(same);
  assert.deepEqual(a.info.tensorTypes, { F32: 13, BF16: 44 });
  const d = diffStats(a.logits, b.logits);
  console.log(`BF16 vs F32 of the same values: max|Δ| ${d.maxAbs.toExponential(2)}, rel ${d.rel.toExponential(2)}`);
  assert.ok(d.rel < 2e-5, `rel ${d.rel}`);
  // and the rounding to BF16 did change the model: the comparison is not F32 against itself
  const orig = await lastLogits(f32);
  assert.ok(diffStats(a.logits, orig.logits).maxAbs > 1e-3);
});

test('F16 weights give the logits of the same values in F32', async () => {
  const f16 = readFileSync(model('f16'));
  const same = retypeGGUF(f16, (t, b) => (t.type === F16 ? { type: F32, bytes: f16ToF32(b) } : { type: t.type, bytes: b }));
  const a = await lastLogits(f16), b = await lastLogits(same);
  assert.equal(b.info.tensorTypes.F16, undefined);
  const d = diffStats(a.logits, b.logits);
  console.log(`F16 vs F32 of the same values: max|Δ| ${d.maxAbs.toExponential(2)}, rel ${d.rel.toExponential(2)}`);
  assert.ok(d.rel < 2e-5, `rel ${d.rel}`);
});
