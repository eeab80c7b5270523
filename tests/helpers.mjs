// helpers.mjs — shared by the Node suites: fixture loading, the tolerance comparisons, the RoPE
// base formula, a small GGUF reader for building broken files, and a few engine conveniences.
// Every expected value comes from tests/fixtures/kjv-tiny (see its README), never from the engine.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import assert from 'node:assert/strict';
import { parseHeader, ggufBytes, kvRecord, halfToF32, VALUE, KV_START } from '../wasm/gguf.mjs';

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
export const baseFromInvFreq = (invFreq) => invFreq[1] ** -invFreq.length;

export const relDiff = (a, b) => Math.abs(a - b) / Math.abs(b);

export function argmax(v) {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
  return best;
}

/** max|got − ref| and the README scale max|ref|; rel = maxAbs / scale. */
export function diffStats(got, ref) {
  assert.equal(got.length, ref.length, 'vector lengths differ');
  let maxAbs = 0,
    scale = 0,
    at = -1;
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs(got[i] - ref[i]);
    if (!(d <= maxAbs)) {
      maxAbs = d;
      at = i;
    } // NaN lands here and stays the maximum
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
    assert.ok(
      d <= tol,
      `${label}: logit of id ${id} is ${row[id]}, reference ${l} (|Δ| ${d.toExponential(3)} > ${tol.toExponential(3)})`,
    );
    maxAbs = Math.max(maxAbs, d);
  }
  const k = top.length;
  const mine = topK(row, k).map(([, l]) => l);
  const theirs = top.map(([, l]) => l).sort((a, b) => b - a);
  for (let i = 0; i < k; i++) {
    const d = Math.abs(mine[i] - theirs[i]);
    assert.ok(
      d <= tol,
      `${label}: the engine's #${i + 1} logit is ${mine[i]}, the reference's ${theirs[i]} — another id entered the top ${k}?`,
    );
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
      ([k, s]) =>
        `${k}: worst rel ${s.rel.toExponential(3)} (max|Δ| ${s.maxAbs.toExponential(3)} / max|ref| ${s.scale.toFixed(3)}) at ${s.where}`,
    );
  }
}

// ---- a minimal GGUF reader (v2/v3, little-endian): just enough to find offsets for patching ----

/**
 * Offsets inside a GGUF file (wasm/gguf.mjs parseHeader, with kv keyed by name): { version, nKv,
 * kvEnd, tableEnd, dataOffset, alignment, kv: {key: {type, valueOffset}}, tensors: [{name,
 * nameOffset, type, typeOffset, dims, offset}] }. The key/value records start at KV_START.
 */
export { KV_START, kvRecord, VALUE, halfToF32 as halfToFloat };
/** A deterministic PRNG for random chunk sizes. */
export { mulberry32 as prng } from '../wasm/random.mjs';
export function readGGUF(buf) {
  const h = parseHeader(buf);
  return { ...h, kv: Object.fromEntries(h.kv.map((r) => [r.key, r])) };
}

/**
 * Rewrite a GGUF with its tensors passed through `convert(tensor, bytes) -> { type, bytes }`
 * (metadata copied as is, offsets recomputed): the way to build files of a weight type no bundled
 * model has, from the real weights.
 */
export function retypeGGUF(buf, convert) {
  const g = readGGUF(buf);
  const data = tensorData(buf, g);
  return ggufBytes({
    version: g.version,
    kv: kvRecordsOf(buf, g),
    alignment: g.alignment,
    tensors: g.tensors.map((t, i) => ({ name: t.name, dims: t.dims, ...convert(t, data[i]) })),
  });
}

/** The same GGUF with metadata records (kvRecord(...)) put in by key: replacing a key's record, or added. */
export function withMetadata(buf, records) {
  const g = readGGUF(buf);
  const data = tensorData(buf, g);
  const kept = Object.values(g.kv).filter((r) => !Object.hasOwn(records, r.key));
  return ggufBytes({
    version: g.version,
    kv: [...kept.map((r) => buf.subarray(r.start, r.end)), ...Object.values(records)],
    alignment: g.alignment,
    tensors: g.tensors.map((t, i) => ({ name: t.name, dims: t.dims, type: t.type, bytes: data[i] })),
  });
}

/** The raw metadata records of a file, to copy into another. */
const kvRecordsOf = (buf, g) => Object.values(g.kv).map((r) => buf.subarray(r.start, r.end));

/** Each tensor's bytes (a view into buf), up to the next tensor's offset (so with its padding). */
export function tensorData(buf, g = readGGUF(buf)) {
  return g.tensors.map((t, i) => {
    const end = i + 1 < g.tensors.length ? g.tensors[i + 1].offset : buf.length - g.dataOffset;
    return buf.subarray(g.dataOffset + t.offset, g.dataOffset + end);
  });
}

// ---- split models (llama.cpp's gguf-split) ----

/**
 * Split a GGUF as llama.cpp's gguf-split does: every part a complete GGUF listing only its own
 * tensors (offsets relative to its own data section); part 1 keeps all the metadata (and its
 * alignment) and adds split.no (u16 0), split.count (u16 N), split.tensors.count (i32 total);
 * later parts carry only those three keys (split.no their 0-based index) and the default
 * alignment 32. maxTensors per part, in file order; noTensorsInFirst (--no-tensor-in-metadata)
 * leaves part 1 with metadata only. Returns the parts as Uint8Arrays.
 */
export function splitGGUF(buf, { maxTensors, noTensorsInFirst = false } = {}) {
  const g = readGGUF(buf);
  assert.ok(!('split.count' in g.kv), 'the file is already split');
  assert.ok(Number.isInteger(maxTensors) && maxTensors > 0, 'maxTensors must be a positive integer');
  const data = tensorData(buf, g);
  const all = g.tensors.map((t, i) => ({ name: t.name, dims: t.dims, type: t.type, bytes: data[i] }));
  const groups = noTensorsInFirst ? [[]] : [];
  for (let i = 0; i < all.length; i += maxTensors) groups.push(all.slice(i, i + maxTensors));
  return groups.map((tensors, no) => {
    const split = [
      kvRecord('split.no', VALUE.UINT16, no),
      kvRecord('split.count', VALUE.UINT16, groups.length),
      kvRecord('split.tensors.count', VALUE.INT32, all.length),
    ];
    const first = no === 0;
    return ggufBytes({
      version: g.version,
      kv: first ? [...kvRecordsOf(buf, g), ...split] : split,
      alignment: first ? g.alignment : 32,
      tensors,
    });
  });
}

/** gguf-split's file name of part i (0-based) of n: NAME-00001-of-00003.gguf. */
export const splitName = (name, i, n) =>
  `${name}-${String(i + 1).padStart(5, '0')}-of-${String(n).padStart(5, '0')}.gguf`;

// ---- a local HTTP server ----

/**
 * Start a node:http server on 127.0.0.1 (an ephemeral port) with handler(req, res). Returns
 * { url(path), port, requests (paths asked for, in order), close() }; close() also ends
 * connections still open.
 */
export async function serve(handler) {
  const http = await import('node:http');
  const requests = [];
  const server = http.createServer((req, res) => {
    requests.push(req.url);
    handler(req, res);
  });
  await new Promise((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    port,
    requests,
    server,
    url: (p) => `http://127.0.0.1:${port}${p}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}

/**
 * Send bytes as a response body in pieces of `piece` bytes, with a Content-Length unless
 * length: false (then Node sends it chunked). delayMs between pieces; stopAt: destroy the
 * socket once that many bytes are out; onClose(sentBytes, finished) when the response closes.
 */
export function sendBytes(
  res,
  bytes,
  { length = true, piece = 1 << 16, delayMs = 0, stopAt = Infinity, onClose } = {},
) {
  const headers = { 'content-type': 'application/octet-stream' };
  if (length) headers['content-length'] = String(bytes.length);
  res.writeHead(200, headers);
  let sent = 0,
    closed = false;
  res.on('close', () => {
    closed = true;
    onClose?.(sent, res.writableFinished);
  });
  const next = () => {
    if (closed) return;
    if (sent >= stopAt) return void res.socket?.destroy();
    if (sent >= bytes.length) return void res.end();
    const n = Math.min(piece, bytes.length - sent, stopAt - sent);
    const ok = res.write(bytes.subarray(sent, sent + n));
    sent += n;
    const go = () => (delayMs ? setTimeout(next, delayMs) : setImmediate(next));
    if (ok) go();
    else res.once('drain', go);
  };
  next();
}

/** Every position's logits of a prompt (from a reset), then those of `decode` greedy steps from the last. */
export function promptAndDecode(engine, prompt, decode) {
  engine.reset();
  const prefill = engine.evaluate(prompt, { allLogits: true });
  const steps = [];
  let last = row(prefill, prompt.length - 1);
  for (let i = 0; i < decode; i++) steps.push((last = engine.evaluate([argmax(last)])));
  return { prefill, steps };
}

/** Assert two promptAndDecode runs are the same bit for bit. */
export function assertSameRun(got, want, label) {
  assertBitIdentical(got.prefill, want.prefill, `${label}: prefill`);
  got.steps.forEach((s, i) => assertBitIdentical(s, want.steps[i], `${label}: decode step ${i}`));
}

/** Assert two Float32Arrays are equal bit for bit (NaNs included). */
export function assertBitIdentical(got, want, label, nVocab = 4096) {
  assert.equal(got.length, want.length, `${label}: length`);
  const a = new Uint32Array(got.buffer, got.byteOffset, got.length);
  const b = new Uint32Array(want.buffer, want.byteOffset, want.length);
  for (let i = 0; i < a.length; i++)
    if (a[i] !== b[i])
      assert.fail(
        `${label}: logit ${i % nVocab} of position ${Math.floor(i / nVocab)} is ${got[i]}, baseline ${want[i]}`,
      );
}
