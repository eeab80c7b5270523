// The K-quant files (made by ggml's own quantizer) through the real loader:
// - last logits of prompt 0 at 512 and 1500 tokens vs the F32 reference (logits.bin). Rounding
//   error grows with the quantization step, and a b-bit quant's step is about 2^(8-b) times an
//   8-bit one's; so each file is bounded by 2^(8-b) × Q8_0's error in models/kjv-tiny.md (0.245,
//   float64 from the Q8_0 file), b the bits of its main type: Q6_K 0.98, Q5_K_M 1.96, Q4_K_M 3.92
//   (Q4_0, also 16 steps, is 3.0 there);
// - against the engine on an F32 file holding the file's dequantized weights (dequantized here,
//   from ggml's block layouts): what is left is the rounding of activations to Q8_K, 8 bits as in
//   Q8_0 but with one scale per 256 values rather than 32, so bounded by twice Q8_0's whole error;
// - greedy 40-token continuations of the three 1400-token prompts against the float64 decoder's
//   (consistent mode), reported: a 4- to 6-bit model is not expected to repeat the F32 model's
//   text token for token;
// - a K-quant row whose length is not a multiple of 256 is a FORMAT error naming the tensor.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  Engine,
  NtkError,
  model,
  refRun,
  refLastLogits,
  diffStats,
  ropeBase,
  relDiff,
  retypeGGUF,
  readGGUF,
  halfToFloat,
  continuations,
  argmax,
} from './helpers.mjs';

const Q8_0_MAX_ABS = 0.245;
const F32 = 0,
  Q4_0 = 2,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14;
const FILES = {
  q6_k: { bits: 6, types: { F32: 13, Q6_K: 44 } },
  q5_k_m: { bits: 5, types: { F32: 13, Q5_K: 39, Q6_K: 5 } },
  q4_k_m: { bits: 4, types: { F32: 13, Q4_K: 39, Q6_K: 5 } },
};
const RUNS = [512, 1500];

const engines = new Map();
async function engine(file) {
  if (!engines.has(file)) engines.set(file, await Engine.load(model(file)));
  return engines.get(file);
}
after(() => [...engines.values()].forEach((e) => e.dispose()));

for (const [file, { bits, types }] of Object.entries(FILES)) {
  const bound = 2 ** (8 - bits) * Q8_0_MAX_ABS;
  test(
    `${file}: last logits of prompt 0 at ${RUNS.join(' and ')} tokens within ${bound.toFixed(2)} of logits.bin`,
    { concurrency: false },
    async (t) => {
      const e = await engine(file);
      assert.deepEqual(e.info().tensorTypes, types);
      for (const L of RUNS) {
        const run = refRun(0, L);
        e.reset();
        const s = diffStats(e.evaluate(run.token_ids), refLastLogits(run));
        t.diagnostic(`${file} L=${L}: max|Δ| ${s.maxAbs.toFixed(3)} vs the F32 reference (bound ${bound.toFixed(2)})`);
        assert.ok(s.maxAbs <= bound, `${file} L=${L}: max|Δ| ${s.maxAbs} at id ${s.at} exceeds ${bound}`);
        assert.ok(relDiff(e.base, ropeBase(L)) <= 1e-9, `${file} L=${L}: base ${e.base}`);
      }
    },
  );
}

// A prompt in one call goes through the kernels that unpack each weight block once for up to 8
// tokens (groups of 8, 4, 2 and 1 for 47 tokens); one token a call goes through the one-token
// kernels. Each dot must come out the same bit for bit, so the logits do.
for (const file of Object.keys(FILES)) {
  test(
    `${file}: logits of a 47-token prompt in one call equal those of its tokens one at a time, bit for bit`,
    { concurrency: false },
    async () => {
      const e = await engine(file);
      const ids = refRun(0, 512).token_ids.slice(0, 47);
      e.reset();
      const whole = e.evaluate(ids);
      e.reset();
      let last;
      for (const id of ids) last = e.evaluate([id]);
      assert.equal(whole.length, last.length);
      const differ = whole.findIndex((v, i) => !Object.is(v, last[i]));
      assert.equal(
        differ,
        -1,
        `${file}: logit ${differ} differs: ${whole[differ]} whole, ${last[differ]} one at a time`,
      );
    },
  );
}

// ---- ggml's dequantizers, restated from its block layouts ----

// Q4_K/Q5_K sub-block j's 6-bit scale and min from the 12 packed bytes
function scaleMin(j, q) {
  if (j < 4) return [q[j] & 63, q[j + 4] & 63];
  return [(q[j + 4] & 15) | ((q[j - 4] >> 6) << 4), (q[j + 4] >> 4) | ((q[j] >> 6) << 4)];
}

/** A tensor's blocks as float32 bytes, each product rounded to float as ggml's C does. */
function dequantize(type, bytes) {
  const f = Math.fround;
  const size = { [Q4_K]: 144, [Q5_K]: 176, [Q6_K]: 210 }[type];
  const nb = Math.floor(bytes.length / size); // tensorData includes the padding to the next tensor
  const out = new Float32Array(nb * 256);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const half = (o) => f(halfToFloat(dv.getUint16(o, true)));
  for (let i = 0; i < nb; i++) {
    const o = i * size,
      y = out.subarray(i * 256, (i + 1) * 256);
    if (type === Q6_K) {
      // ql[128], qh[64], int8 scales[16], d: per half of 128, value 32g + l from ql (nibble g >> 1
      // of byte 32(g & 1) + l) and bits 2g, 2g + 1 of qh[l]
      const d = half(o + 208);
      for (let h = 0; h < 2; h++) {
        for (let l = 0; l < 32; l++) {
          const qh = bytes[o + 128 + 32 * h + l];
          for (let g = 0; g < 4; g++) {
            const ql = (bytes[o + 64 * h + 32 * (g & 1) + l] >> (4 * (g >> 1))) & 15;
            const sc = dv.getInt8(o + 192 + 8 * h + 2 * g + (l >> 4));
            y[128 * h + 32 * g + l] = f(f(d * sc) * ((ql | (((qh >> (2 * g)) & 3) << 4)) - 32));
          }
        }
      }
      continue;
    }
    // d, dmin, scales[12], (Q5_K: qh[32]), qs[128]: sub-blocks 2j and 2j + 1 are the low and high
    // nibbles of qs[32j..32j+31], their fifth bits bits 2j and 2j + 1 of qh
    const d = half(o),
      dmin = half(o + 2),
      scales = bytes.subarray(o + 4, o + 16);
    const q5 = type === Q5_K,
      qh = bytes.subarray(o + 16, o + 48),
      qs = bytes.subarray(o + (q5 ? 48 : 16));
    for (let j = 0; j < 4; j++) {
      for (const k of [0, 1]) {
        const [sc, m] = scaleMin(2 * j + k, scales),
          dl = f(d * sc),
          ml = f(dmin * m);
        for (let l = 0; l < 32; l++) {
          const q = ((qs[32 * j + l] >> (4 * k)) & 15) + (q5 && qh[l] & (1 << (2 * j + k)) ? 16 : 0);
          y[64 * j + 32 * k + l] = f(f(dl * q) - ml);
        }
      }
    }
  }
  return new Uint8Array(out.buffer);
}

for (const file of Object.keys(FILES)) {
  const bound = 2 * Q8_0_MAX_ABS;
  test(
    `${file}: logits within ${bound} of the engine on F32 weights of the same values (activation rounding only)`,
    { concurrency: false },
    async (t) => {
      const same = retypeGGUF(readFileSync(model(file)), (tensor, bytes) => ({
        type: F32,
        bytes: tensor.type === F32 ? bytes : dequantize(tensor.type, bytes),
      }));
      const f32 = await Engine.load(same);
      try {
        assert.deepEqual(f32.info().tensorTypes, { F32: 57 });
        const e = await engine(file);
        for (const L of [200, 512]) {
          const ids = refRun(0, 512).token_ids.slice(0, L);
          e.reset();
          const s = diffStats(e.evaluate(ids), f32.evaluate(ids));
          t.diagnostic(`${file} L=${L}: max|Δ| ${s.maxAbs.toFixed(3)} vs F32 of its dequantized weights`);
          assert.ok(s.maxAbs <= bound, `${file} L=${L}: max|Δ| ${s.maxAbs} exceeds ${bound}`);
          f32.reset();
        }
      } finally {
        f32.dispose();
      }
    },
  );
}

for (const file of Object.keys(FILES)) {
  test(
    `${file}: greedy continuations of the 1400-token prompts vs the float64 decoder (reported)`,
    { concurrency: false },
    async (t) => {
      const e = await engine(file);
      for (const [i, c] of continuations().continuations.entries()) {
        const want = c.consistent.tokens;
        e.reset();
        let logits = e.evaluate(c.prompt_ids),
          agree = 0,
          firstDiff = -1;
        for (let s = 0; s < want.length; s++) {
          const id = argmax(logits);
          if (id === want[s]) agree++;
          else if (firstDiff < 0) firstDiff = s;
          logits = e.evaluate([id]);
        }
        t.diagnostic(
          `${file} prompt ${i}: ${agree}/${want.length} tokens agree` +
            (firstDiff < 0 ? '' : `, first difference at step ${firstDiff}`),
        );
      }
    },
  );
}

test('a K-quant tensor whose rows are not a multiple of 256 → FORMAT naming it', async () => {
  // blk.0.attn_k.weight of the Q4_0 file ([256, 128]) relabelled Q4_K with rows of 128
  const buf = Buffer.from(readFileSync(model('q4_0')));
  const t = readGGUF(buf).tensors.find((x) => x.name === 'blk.0.attn_k.weight');
  assert.equal(t.type, Q4_0);
  assert.deepEqual(t.dims, [256, 128]);
  buf.writeBigUInt64LE(128n, t.nameOffset + t.name.length + 4);
  buf.writeBigUInt64LE(256n, t.nameOffset + t.name.length + 12);
  buf.writeUInt32LE(Q4_K, t.typeOffset);
  await assert.rejects(Engine.load(buf), (err) => {
    assert.ok(err instanceof NtkError);
    assert.equal(err.code, 'FORMAT');
    assert.match(err.message, /blk\.0\.attn_k\.weight.*row of 128 is not a multiple of the Q4_K block size 256/);
    return true;
  });
});
