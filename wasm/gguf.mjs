// gguf.mjs — GGUF header reading and streaming writing in JS, for tools (synth) and tests. The
// engine itself parses with the C push parser; this side never holds tensor data it did not make.

import { GGML_TYPES } from './build/abi.mjs';

/** Where the key/value records start: after magic, version and the two counts. */
export const KV_START = 24;
export const VALUE = {
  UINT8: 0,
  INT8: 1,
  UINT16: 2,
  INT16: 3,
  UINT32: 4,
  INT32: 5,
  FLOAT32: 6,
  BOOL: 7,
  STRING: 8,
  ARRAY: 9,
  UINT64: 10,
  INT64: 11,
  FLOAT64: 12,
};
/** ggml's type ids by name (TYPE.Q4_K = 12), from the engine's type rows (src/types.c). */
export const TYPE = Object.fromEntries(GGML_TYPES.map((t) => [t.name, t.id]));
/** ggml's block of each type id: [values, bytes] (the K-quants' super-blocks hold 256 values). */
export const BLOCK = Object.fromEntries(
  GGML_TYPES.filter((t) => t.blockSize).map((t) => [t.id, [t.blockSize, t.typeBytes]]),
);
const SCALAR_SIZE = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
// DataView accessors of the scalar types (64-bit integers as BigInt)
const ACCESS = {
  [VALUE.UINT8]: 'Uint8',
  [VALUE.INT8]: 'Int8',
  [VALUE.UINT16]: 'Uint16',
  [VALUE.INT16]: 'Int16',
  [VALUE.UINT32]: 'Uint32',
  [VALUE.INT32]: 'Int32',
  [VALUE.FLOAT32]: 'Float32',
  [VALUE.BOOL]: 'Uint8',
  [VALUE.UINT64]: 'BigUint64',
  [VALUE.INT64]: 'BigInt64',
  [VALUE.FLOAT64]: 'Float64',
};
const enc = new TextEncoder(),
  dec = new TextDecoder();

/**
 * Parse a GGUF header (bytes up to at least the end of the tensor table):
 * { version, nKv, kv: [{ key, type, start, end, valueOffset }] (start/end: the whole record's
 *   bytes, from KV_START to kvEnd), tensors: [{ name, nameOffset, dims, type, typeOffset, offset }],
 *   kvEnd, tableEnd, dataOffset, alignment }. With { values: true } each kv also has its decoded
 * `value` (arrays as JS arrays, with `atype`; 64-bit integers as BigInt).
 */
export function parseHeader(buf, { values = false } = {}) {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let p = 0;
  const u32 = () => ((p += 4), dv.getUint32(p - 4, true));
  const u64 = () => ((p += 8), Number(dv.getBigUint64(p - 8, true)));
  const str = () => {
    const n = u64();
    p += n;
    return dec.decode(buf.subarray(p - n, p));
  };
  const scalar = (type) => {
    if (!(type in SCALAR_SIZE)) throw new Error(`GGUF value type ${type}`);
    const v = values ? dv[`get${ACCESS[type]}`](p, true) : undefined;
    p += SCALAR_SIZE[type];
    return v;
  };
  const value = (type) => (type === VALUE.STRING ? str() : scalar(type));
  if (dec.decode(buf.subarray(0, 4)) !== 'GGUF') throw new Error('not a GGUF file');
  p = 4;
  const version = u32(),
    nTensors = u64(),
    nKv = u64();
  const kv = [];
  let alignment = 32;
  for (let i = 0; i < nKv; i++) {
    const start = p,
      key = str(),
      type = u32(),
      valueOffset = p,
      entry = { key, type, start, valueOffset };
    if (type === VALUE.ARRAY) {
      const atype = u32(),
        n = u64();
      if (!values && atype !== VALUE.STRING && atype in SCALAR_SIZE) p += n * SCALAR_SIZE[atype];
      else {
        const items = [];
        for (let j = 0; j < n; j++) items.push(value(atype));
        if (values) entry.value = items;
      }
      entry.atype = atype;
    } else {
      entry.value = value(type);
    }
    entry.end = p;
    if (!values) delete entry.value;
    kv.push(entry);
    if (key === 'general.alignment') alignment = dv.getUint32(valueOffset, true);
  }
  const kvEnd = p,
    tensors = [];
  for (let i = 0; i < nTensors; i++) {
    const nameOffset = p + 8,
      name = str(),
      nDims = u32(),
      dims = [];
    for (let d = 0; d < nDims; d++) dims.push(u64());
    const typeOffset = p,
      type = u32(),
      offset = u64();
    tensors.push({ name, nameOffset, dims, type, typeOffset, offset });
  }
  return { version, nKv, kv, tensors, kvEnd, tableEnd: p, dataOffset: Math.ceil(p / alignment) * alignment, alignment };
}

// ---- writing ----

class Bytes {
  #parts = [];
  get length() {
    return this.#parts.reduce((n, b) => n + b.length, 0);
  }
  raw(b) {
    this.#parts.push(b);
    return this;
  }
  u32(v) {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v, true);
    return this.raw(b);
  }
  u64(v) {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt(v), true);
    return this.raw(b);
  }
  f32(v) {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    return this.raw(b);
  }
  str(s) {
    const b = enc.encode(s);
    return this.u64(b.length).raw(b);
  }
  join() {
    const out = new Uint8Array(this.length);
    let p = 0;
    for (const b of this.#parts) {
      out.set(b, p);
      p += b.length;
    }
    return out;
  }
}

function putValue(b, type, value) {
  if (type === VALUE.STRING) return b.str(value);
  if (!(type in SCALAR_SIZE)) throw new Error(`GGUF value type ${type}`);
  const v = new DataView(new ArrayBuffer(SCALAR_SIZE[type]));
  v[`set${ACCESS[type]}`](0, type === VALUE.BOOL ? Number(value) : value, true);
  return b.raw(new Uint8Array(v.buffer));
}

/**
 * One metadata record as a file holds it: kvRecord('general.name', VALUE.STRING, 'x');
 * an array: kvRecord('tokenizer.ggml.scores', VALUE.ARRAY, [0.5, ...], VALUE.FLOAT32).
 * 64-bit integers are given as BigInt.
 */
export function kvRecord(key, type, value, atype) {
  const b = new Bytes().str(key).u32(type);
  if (type !== VALUE.ARRAY) return putValue(b, type, value).join();
  b.u32(atype).u64(value.length);
  for (const v of value) putValue(b, atype, v);
  return b.join();
}

/** IEEE half bits of a float, rounded to nearest even (flushed to zero below the normal range). */
export function f32ToHalf(x) {
  const f = new Float32Array([x]),
    b = new Uint32Array(f.buffer)[0];
  const sign = (b >>> 16) & 0x8000,
    exp = ((b >>> 23) & 0xff) - 127 + 15,
    mant = b & 0x7fffff;
  if (exp <= 0) return sign;
  if (exp >= 31) return sign | 0x7c00;
  let h = (exp << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && h & 1)) h++;
  return sign | h;
}

/** A float from IEEE half bits, exactly. */
export function halfToF32(h) {
  const s = h & 0x8000 ? -1 : 1,
    e = (h >> 10) & 31,
    m = h & 1023;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** Bytes of one tensor of `type` holding ne0 x rows values. */
export function tensorBytes(type, ne0, rows) {
  if (!BLOCK[type]) throw new Error(`tensor type ${type} has no size: ggml does not define it, or has removed it`);
  const [values, bytes] = BLOCK[type];
  return (ne0 / values) * bytes * rows;
}

/**
 * The bytes of a GGUF file, piece by piece: `kv` is a list of raw metadata records (kvRecord, or
 * records copied from another file); tensors are [{ name, dims, type, bytes }] or, to make data
 * only when it is written, [{ name, dims, type, data: () => Uint8Array | Iterable<Uint8Array> }].
 * Each tensor starts at the next multiple of alignment (the one the records' general.alignment
 * implies, else 32).
 */
export function* ggufChunks({ version = 3, kv, tensors, alignment = 32 }) {
  const align = (n) => Math.ceil(n / alignment) * alignment;
  const sizeOf = (t) =>
    t.bytes?.length ??
    tensorBytes(
      t.type,
      t.dims[0],
      t.dims.slice(1).reduce((a, b) => a * b, 1),
    );
  const head = new Bytes().u32(0x46554747).u32(version).u64(tensors.length).u64(kv.length);
  for (const r of kv) head.raw(r);
  let offset = 0;
  for (const t of tensors) {
    head.str(t.name).u32(t.dims.length);
    for (const d of t.dims) head.u64(d);
    head.u32(t.type).u64(offset);
    offset = align(offset + sizeOf(t));
  }
  const dataStart = align(head.length);
  yield head.join();
  yield new Uint8Array(dataStart - head.length);
  offset = 0;
  for (const t of tensors) {
    const data = t.bytes ?? t.data();
    let n = 0;
    for (const chunk of data instanceof Uint8Array ? [data] : data) {
      yield chunk;
      n += chunk.length;
    }
    if (n !== sizeOf(t)) throw new Error(`tensor ${t.name}: ${n} bytes of data, its shape needs ${sizeOf(t)}`);
    yield new Uint8Array(align(n) - n);
  }
}

/** Write a GGUF through `sink(bytes)` (may return a promise); returns the file size. */
export async function writeGGUF(sink, spec) {
  let n = 0;
  for (const chunk of ggufChunks(spec)) {
    if (chunk.length) await sink(chunk);
    n += chunk.length;
  }
  return n;
}

/** A GGUF file in memory (small files: tests, tools). */
export function ggufBytes(spec) {
  const chunks = [...ggufChunks(spec)];
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  chunks.reduce((p, c) => (out.set(c, p), p + c.length), 0);
  return out;
}
