// helpers.mjs — shared by the Node suites: fixture loading, the tolerance comparisons, the RoPE
// base formula, a small GGUF reader for building broken files, and a few engine conveniences.
// Every expected value comes from tests/fixtures/kjv-tiny (see its README), never from the engine.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import assert from 'node:assert/strict';

export { Engine, NtkError } from '../wasm/engine.mjs';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const FIXTURES = path.join(ROOT, 'tests/fixtures/kjv-tiny');
export const MODELS = path.join(ROOT, 'models');
export const model = (type) => path.join(MODELS, `kjv-tiny-${type}.gguf`);

/** Relative tolerance of the fixtures README: |Δ| ≤ 1e-3 × max|reference logit|. */
export const REL_TOL = 1e-3;

const cache = new Map();
const once = (key, make) => {
  if (!cache.has(key)) cache.set(key, make());
  return cache.get(key);
};
const json = (name) => once(name, () => JSON.parse(readFileSync(path.join(FIXTURES, name), 'utf8')));
const f32file = (name) =>
  once(name, () => {
    const b = readFileSync(path.join(FIXTURES, name));
    return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  });

export const reference = () => json('reference.json');
export const continuations = () => json('continuations.json');
export const tokenizerCases = () => json('tokenizer.json').cases;
export const fullLogits64 = () => ({ ...json('full_logits_64.json'), logits: f32file('full_logits_64.bin') });

/** The reference last-position logits of one reference.json run (a view into logits.bin). */
export function refLastLogits(run) {
  const bin = f32file('logits.bin');
  const { offset_floats: off, count } = run.last_logits;
  assert.ok(off + count <= bin.length, 'logits.bin is shorter than reference.json says');
  return bin.subarray(off, off + count);
}

/** reference.json's run of the given length for prompt p. */
export function refRun(p, seqLen) {
  const run = reference().prompts[p].runs.find((r) => r.seq_len === seqLen);
  assert.ok(run, `reference.json prompt ${p} has no run of ${seqLen} tokens`);
  return run;
}

/** base(L) of the fixtures README, in double: dynamic NTK past the trained length L0. */
export function ropeBase(L, { theta = 10000, factor = 2, trainedCtx = 512, headDim = 64 } = {}) {
  if (L <= trainedCtx) return theta;
  return theta * ((factor * L) / trainedCtx - (factor - 1)) ** (headDim / (headDim - 2));
}

/** The base a list of inv_freq implies: inv_freq[1] = base^(-2/d), so base = inv_freq[1]^(-d/2). */
export const baseFromInvFreq = (invFreq) => invFreq[1] ** (-invFreq.length);

export const relDiff = (a, b) => Math.abs(a - b) / Math.abs(b);

export function argmax(v) {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
  return best;
}

/** max|got − ref| and the README scale max|ref|; rel = maxAbs / scale. */
export function diffStats(got, ref) {
  assert.equal(got.length, ref.length, 'vector lengths differ');
  let maxAbs = 0, scale = 0, at = -1;
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs(got[i] - ref[i]);
    if (!(d <= maxAbs)) { maxAbs = d; at = i; } // NaN lands here and stays the maximum
    scale = Math.max(scale, Math.abs(ref[i]));
  }
  return { maxAbs, scale, rel: maxAbs / scale, at };
}

/** Assert |got − ref| ≤ relTol × max|ref| over a whole vector; returns the stats. */
export function assertLogitsClose(got, ref, label, relTol = REL_TOL) {
  const s = diffStats(got, ref);
  assert.ok(
    s.maxAbs <= relTol * s.scale,
    `${label}: max|Δ| ${s.maxAbs.toExponential(3)} at id ${s.at} (got ${got[s.at]}, ref ${ref[s.at]}) ` +
      `exceeds ${relTol} × max|ref| = ${(relTol * s.scale).toExponential(3)}`,
  );
  return s;
}

/**
 * A top-k list [[id, logit], ...] against an engine logits row, as the README says: the engine's
 * logits at the reference's ids, order not required; and, so that no other id can have crept in,
 * the engine's k highest logits (sorted) against the reference's (sorted). Tolerance relTol ×
 * max|logit in the list|. Returns { maxAbs, scale, rel }.
 */
export function assertTopClose(row, top, label, relTol = REL_TOL) {
  const scale = Math.max(...top.map(([, l]) => Math.abs(l)));
  const tol = relTol * scale;
  let maxAbs = 0;
  for (const [id, l] of top) {
    const d = Math.abs(row[id] - l);
    assert.ok(d <= tol, `${label}: logit of id ${id} is ${row[id]}, reference ${l} (|Δ| ${d.toExponential(3)} > ${tol.toExponential(3)})`);
    maxAbs = Math.max(maxAbs, d);
  }
  const k = top.length;
  const mine = topK(row, k).map(([, l]) => l);
  const theirs = top.map(([, l]) => l).sort((a, b) => b - a);
  for (let i = 0; i < k; i++) {
    const d = Math.abs(mine[i] - theirs[i]);
    assert.ok(d <= tol, `${label}: the engine's #${i + 1} logit is ${mine[i]}, the reference's ${theirs[i]} — another id entered the top ${k}?`);
  }
  return { maxAbs, scale, rel: maxAbs / scale };
}

/** The k highest [id, logit] of a row, highest first. */
export function topK(row, k) {
  const out = [];
  for (let i = 0; i < row.length; i++) {
    if (out.length < k || row[i] > out[out.length - 1][1]) {
      out.push([i, row[i]]);
      out.sort((a, b) => b[1] - a[1]);
      if (out.length > k) out.pop();
    }
  }
  return out;
}

/** Row r of an allLogits result. */
export const row = (logits, r, nVocab = 4096) => logits.subarray(r * nVocab, (r + 1) * nVocab);

/** Collect an async iterable (generate) into an array. */
export async function collect(iter) {
  const out = [];
  for await (const x of iter) out.push(x);
  return out;
}

/** Assert that a promise rejects (or a function throws) with an NtkError of this code whose message matches. */
export async function assertNtkError(fnOrPromise, code, messageRe, label = '') {
  let err;
  try {
    await (typeof fnOrPromise === 'function' ? fnOrPromise() : fnOrPromise);
  } catch (e) {
    err = e;
  }
  assert.ok(err, `${label}: expected an NtkError ${code}, but nothing was thrown`);
  assert.equal(err.name, 'NtkError', `${label}: expected an NtkError, got ${err?.stack ?? err}`);
  assert.equal(err.code, code, `${label}: code ${err.code} (${err.message}), expected ${code}`);
  if (messageRe) assert.match(err.message, messageRe, `${label}: unclear message`);
  return err;
}

/** Worst-figure bookkeeping for the closing diagnostics of a suite. */
export class Worst {
  #m = new Map();
  note(key, stats, where) {
    const cur = this.#m.get(key);
    if (!cur || stats.rel > cur.rel) this.#m.set(key, { ...stats, where });
  }
  lines() {
    return [...this.#m].map(
      ([k, s]) => `${k}: worst rel ${s.rel.toExponential(3)} (max|Δ| ${s.maxAbs.toExponential(3)} / max|ref| ${s.scale.toFixed(3)}) at ${s.where}`,
    );
  }
}

// ---- a minimal GGUF reader (v2/v3, little-endian): just enough to find offsets for patching ----

const SCALAR_SIZE = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };

/**
 * Offsets inside a GGUF file: { kvEnd, tableEnd, dataOffset, alignment, kv: {key: {type, valueOffset}},
 * tensors: [{name, nameOffset, type, typeOffset, dims, offset}] }.
 */
export function readGGUF(buf) {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const dec = new TextDecoder();
  let p = 0;
  const u32 = () => ((p += 4), dv.getUint32(p - 4, true));
  const u64 = () => ((p += 8), Number(dv.getBigUint64(p - 8, true)));
  const str = () => {
    const n = u64();
    p += n;
    return dec.decode(buf.subarray(p - n, p));
  };
  const skipValue = (type) => {
    if (type === 8) return void str();
    if (type === 9) {
      const t = u32(), n = u64();
      for (let i = 0; i < n; i++) skipValue(t);
      return;
    }
    assert.ok(type in SCALAR_SIZE, `GGUF value type ${type}`);
    p += SCALAR_SIZE[type];
  };
  assert.equal(dec.decode(buf.subarray(0, 4)), 'GGUF');
  p = 4;
  const version = u32(), nTensors = u64(), nKv = u64();
  const kv = {};
  let alignment = 32;
  for (let i = 0; i < nKv; i++) {
    const key = str(), type = u32();
    kv[key] = { type, valueOffset: p };
    if (key === 'general.alignment') alignment = dv.getUint32(p, true);
    skipValue(type);
  }
  const kvEnd = p;
  const tensors = [];
  for (let i = 0; i < nTensors; i++) {
    const nameOffset = p + 8;
    const name = str(), nDims = u32(), dims = [];
    for (let d = 0; d < nDims; d++) dims.push(u64());
    const typeOffset = p, type = u32(), offset = u64();
    tensors.push({ name, nameOffset, type, typeOffset, dims, offset });
  }
  const tableEnd = p;
  const dataOffset = Math.ceil(tableEnd / alignment) * alignment;
  return { version, kv, kvEnd, tableEnd, dataOffset, alignment, tensors };
}

/** A deterministic PRNG (mulberry32) for random chunk sizes. */
export function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Rewrite a GGUF with its tensors passed through `convert(tensor, bytes) -> { type, bytes }`
 * (metadata copied as is, offsets recomputed): the way to build files of a weight type no bundled
 * model has, from the real weights.
 */
export function retypeGGUF(buf, convert) {
  const g = readGGUF(buf);
  const sizes = g.tensors.map((t, i) => {
    const end = i + 1 < g.tensors.length ? g.tensors[i + 1].offset : buf.length - g.dataOffset;
    return end - t.offset;
  });
  const align = (n) => Math.ceil(n / g.alignment) * g.alignment;
  const out = g.tensors.map((t, i) => convert(t, buf.subarray(g.dataOffset + t.offset, g.dataOffset + t.offset + sizes[i])));
  const enc = new TextEncoder();
  const table = [];
  let offset = 0;
  for (const [i, t] of g.tensors.entries()) {
    const name = enc.encode(t.name);
    const rec = new DataView(new ArrayBuffer(8 + name.length + 4 + 8 * t.dims.length + 4 + 8));
    let p = 0;
    rec.setBigUint64(p, BigInt(name.length), true); p += 8;
    new Uint8Array(rec.buffer).set(name, p); p += name.length;
    rec.setUint32(p, t.dims.length, true); p += 4;
    for (const d of t.dims) { rec.setBigUint64(p, BigInt(d), true); p += 8; }
    rec.setUint32(p, out[i].type, true); p += 4;
    rec.setBigUint64(p, BigInt(offset), true);
    table.push(new Uint8Array(rec.buffer));
    offset = align(offset + out[i].bytes.length);
  }
  const head = buf.subarray(0, g.kvEnd);
  const tableLen = table.reduce((n, r) => n + r.length, 0);
  const dataOffset = align(head.length + tableLen);
  const file = new Uint8Array(dataOffset + offset);
  file.set(head, 0);
  let p = head.length;
  for (const r of table) { file.set(r, p); p += r.length; }
  offset = 0;
  for (const o of out) { file.set(o.bytes, dataOffset + offset); offset = align(offset + o.bytes.length); }
  return file;
}

/** IEEE half bits -> float, exactly. */
export function halfToFloat(h) {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 31, m = h & 1023;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}
