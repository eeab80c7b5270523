// Weight types the bundled files lack or only approximate, built from the real weights: the
// engine on BF16 / F16 weights must give the logits it gives on F32 weights holding exactly the
// same values (only float summation order may differ), so the type's own kernels are tested
// without any rounding of the weights in the comparison. Q4_1 / Q5_0 / Q5_1 weights (made here
// by ggml's reference quantizers) likewise, except that their products round the activations to
// 8 bits in blocks of 32 as a Q8_0 file's do: bounded by the Q8_0 file's whole error in
// models/kjv-tiny.md (0.245, weights and activations rounded).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Engine, model, retypeGGUF, halfToFloat, refRun, diffStats } from './helpers.mjs';
import { f32ToHalf } from '../wasm/gguf.mjs';

const F32 = 0,
  F16 = 1,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  BF16 = 30;
const PROMPT = refRun(0, 512).token_ids.slice(0, 200);

// F32 -> BF16 with round-to-nearest-even, as ggml's converter does
function toBF16(bytes) {
  const f = words(bytes, Uint32Array);
  const h = new Uint16Array(f.length);
  for (let i = 0; i < f.length; i++) h[i] = (f[i] + 0x7fff + ((f[i] >>> 16) & 1)) >>> 16;
  return new Uint8Array(h.buffer);
}
const bf16ToF32 = (bytes) => {
  const h = words(bytes, Uint16Array),
    f = new Uint32Array(h.length);
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
  const same = retypeGGUF(bf16, (t, b) =>
    t.type === BF16 ? { type: F32, bytes: bf16ToF32(b) } : { type: t.type, bytes: b },
  );
  const a = await lastLogits(bf16),
    b = await lastLogits(same);
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
  const same = retypeGGUF(f16, (t, b) =>
    t.type === F16 ? { type: F32, bytes: f16ToF32(b) } : { type: t.type, bytes: b },
  );
  const a = await lastLogits(f16),
    b = await lastLogits(same);
  assert.equal(b.info.tensorTypes.F16, undefined);
  const d = diffStats(a.logits, b.logits);
  console.log(`F16 vs F32 of the same values: max|Δ| ${d.maxAbs.toExponential(2)}, rel ${d.rel.toExponential(2)}`);
  assert.ok(d.rel < 2e-5, `rel ${d.rel}`);
});

// ---- Q4_1, Q5_0, Q5_1: ggml's reference quantizers and dequantizers, restated ----

const LEGACY = {
  [Q4_1]: { name: 'Q4_1', size: 20, m: true, q5: false },
  [Q5_0]: { name: 'Q5_0', size: 22, m: false, q5: true },
  [Q5_1]: { name: 'Q5_1', size: 24, m: true, q5: true },
};
const f = Math.fround;

/** Blocks of 32: d (and m), (qh as a little-endian uint32), 16 bytes of nibbles (value j low, j + 16 high). */
function quantizeLegacy(type, bytes) {
  const x = words(bytes, Float32Array),
    { size, m: hasM, q5 } = LEGACY[type];
  const out = new Uint8Array((x.length / 32) * size),
    dv = new DataView(out.buffer);
  for (let b = 0; b < x.length / 32; b++) {
    const v = x.subarray(32 * b, 32 * b + 32),
      o = b * size;
    let min = Infinity,
      max = -Infinity,
      amax = 0,
      signedMax = 0;
    for (const t of v) {
      min = Math.min(min, t);
      max = Math.max(max, t);
      if (Math.abs(t) > amax) {
        amax = Math.abs(t);
        signedMax = t;
      }
    }
    // type 1 (with m): q = round((x - min) / d), d = (max - min) / levels; Q5_0: d = max / -16
    const d = hasM ? f((max - min) / (q5 ? 31 : 15)) : f(signedMax / -16),
      id = d ? f(1 / d) : 0;
    dv.setUint16(o, f32ToHalf(d), true);
    if (hasM) dv.setUint16(o + 2, f32ToHalf(min), true);
    const qs = o + (hasM ? 4 : 2) + (q5 ? 4 : 0);
    let qh = 0;
    const level = (t) => (hasM ? Math.trunc(f(f(f(t - min) * id) + 0.5)) : Math.trunc(f(f(t * id) + 16.5)));
    for (let j = 0; j < 16; j++) {
      const q0 = Math.min(q5 ? 31 : 15, level(v[j])),
        q1 = Math.min(q5 ? 31 : 15, level(v[j + 16]));
      out[qs + j] = (q0 & 15) | ((q1 & 15) << 4);
      qh |= ((q0 >> 4) << j) | ((q1 >> 4) << (j + 16));
    }
    if (q5) dv.setUint32(o + (hasM ? 4 : 2), qh >>> 0, true);
  }
  return out;
}

function dequantizeLegacy(type, bytes) {
  const { size, m: hasM, q5 } = LEGACY[type],
    nb = Math.floor(bytes.length / size);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength),
    y = new Float32Array(nb * 32);
  for (let b = 0; b < nb; b++) {
    const o = b * size,
      d = f(halfToFloat(dv.getUint16(o, true))),
      m = hasM ? f(halfToFloat(dv.getUint16(o + 2, true))) : 0;
    const qh = q5 ? dv.getUint32(o + (hasM ? 4 : 2), true) : 0,
      qs = o + (hasM ? 4 : 2) + (q5 ? 4 : 0);
    for (let j = 0; j < 16; j++) {
      const q0 = (bytes[qs + j] & 15) | (((qh >>> j) & 1) << 4),
        q1 = (bytes[qs + j] >> 4) | (((qh >>> (j + 16)) & 1) << 4);
      const off = hasM ? 0 : 16;
      y[32 * b + j] = f(f((q0 - off) * d) + m);
      y[32 * b + j + 16] = f(f((q1 - off) * d) + m);
    }
  }
  return new Uint8Array(y.buffer);
}

for (const type of [Q4_1, Q5_0, Q5_1]) {
  const { name } = LEGACY[type];
  test(`${name} weights give the logits of the same values in F32, up to the rounding of activations`, async () => {
    const f32 = readFileSync(model('f32'));
    const q = retypeGGUF(f32, (t, b) =>
      matrices(t) ? { type, bytes: quantizeLegacy(type, b) } : { type: t.type, bytes: b },
    );
    const same = retypeGGUF(q, (t, b) =>
      t.type === type ? { type: F32, bytes: dequantizeLegacy(type, b) } : { type: t.type, bytes: b },
    );
    const a = await lastLogits(q),
      b = await lastLogits(same);
    assert.deepEqual(a.info.tensorTypes, { F32: 13, [name]: 44 });
    const d = diffStats(a.logits, b.logits);
    const orig = diffStats(a.logits, (await lastLogits(f32)).logits);
    console.log(
      `${name} vs F32 of the same values: max|Δ| ${d.maxAbs.toFixed(3)}; vs the F32 file ${orig.maxAbs.toFixed(3)}`,
    );
    assert.ok(d.maxAbs <= 0.245, `max|Δ| ${d.maxAbs}`);
  });
}
