// make-seeds.mjs — the seed corpus of the GGUF fuzzer: the headers of the bundled models, and
// complete tiny models that load and run (the kjv-tiny vocabulary on a 1-layer, dim-32 network),
// so that mutations start from files that reach model binding, the tokenizer and evaluation.
//   node tests/fuzz/make-seeds.mjs [outdir]     (default build/fuzz/corpus)
// Every seed starts with the fuzz target's options byte (see tests/fuzz/fuzz_gguf.c).

import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MODELS = path.join(ROOT, 'models');
const OUT = path.resolve(process.argv[2] ?? path.join(ROOT, 'build/fuzz/corpus'));

const T = { U8: 0, I8: 1, U16: 2, I16: 3, U32: 4, I32: 5, F32: 6, BOOL: 7, STR: 8, ARR: 9, U64: 10, I64: 11, F64: 12 };
const SCALAR_BYTES = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
const GGML = { F32: 0, F16: 1, Q4_0: 2, Q8_0: 8, BF16: 30 };
// options byte: chunking (whole file, chunks of up to 4 KiB, up to 128 bytes, single bytes),
// logits of every position, RoPE mode
const WHOLE = 31, CHUNK_4K = 12, CHUNK_128 = 7, BYTEWISE = 0;
const ALL_LOGITS = 0x20, CONSISTENT = 0x40, CACHED = 0x80, NO_ROPE = 0xc0;

// ---- reading ----

function readGguf(buf) {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let p = 0;
  const u32 = () => ((p += 4), dv.getUint32(p - 4, true));
  const u64 = () => ((p += 8), Number(dv.getBigUint64(p - 8, true)));
  const str = () => {
    const n = u64();
    p += n;
    return buf.subarray(p - n, p).toString('utf8');
  };
  const scalar = (type) => {
    const at = p;
    p += SCALAR_BYTES[type];
    switch (type) {
      case T.U8: case T.BOOL: return dv.getUint8(at);
      case T.I8: return dv.getInt8(at);
      case T.U16: return dv.getUint16(at, true);
      case T.I16: return dv.getInt16(at, true);
      case T.U32: return dv.getUint32(at, true);
      case T.I32: return dv.getInt32(at, true);
      case T.F32: return dv.getFloat32(at, true);
      case T.U64: return dv.getBigUint64(at, true);
      case T.I64: return dv.getBigInt64(at, true);
      case T.F64: return dv.getFloat64(at, true);
      default: throw new Error(`GGUF value type ${type}`);
    }
  };
  if (buf.subarray(0, 4).toString('latin1') !== 'GGUF') throw new Error('not a GGUF file');
  p = 4;
  u32(); // version
  const nTensors = u64(), nKv = u64();
  const kv = [];
  for (let i = 0; i < nKv; i++) {
    const key = str(), type = u32();
    if (type === T.ARR) {
      const atype = u32(), n = u64(), items = [];
      for (let j = 0; j < n; j++) items.push(atype === T.STR ? str() : scalar(atype));
      kv.push({ key, type, atype, value: items });
    } else {
      kv.push({ key, type, value: type === T.STR ? str() : scalar(type) });
    }
  }
  for (let i = 0; i < nTensors; i++) {
    str();
    const nd = u32();
    p += 8 * nd + 4 + 8;
  }
  const align = Number(kv.find((e) => e.key === 'general.alignment')?.value ?? 32);
  return { kv, dataOffset: Math.ceil(p / align) * align };
}

// ---- writing ----

class Writer {
  constructor() { this.parts = []; this.len = 0; }
  bytes(b) { this.parts.push(b); this.len += b.length; }
  num(setter, size, v) {
    const b = Buffer.alloc(size);
    setter.call(b, v, 0);
    this.bytes(b);
  }
  u32(v) { this.num(Buffer.prototype.writeUInt32LE, 4, v); }
  u64(v) { this.num(Buffer.prototype.writeBigUInt64LE, 8, BigInt(v)); }
  str(s) { const b = Buffer.from(s, 'utf8'); this.u64(b.length); this.bytes(b); }
  scalar(type, v) {
    const b = Buffer.alloc(SCALAR_BYTES[type]);
    switch (type) {
      case T.U8: case T.BOOL: b.writeUInt8(Number(v)); break;
      case T.I8: b.writeInt8(v); break;
      case T.U16: b.writeUInt16LE(v); break;
      case T.I16: b.writeInt16LE(v); break;
      case T.U32: b.writeUInt32LE(v); break;
      case T.I32: b.writeInt32LE(v); break;
      case T.F32: b.writeFloatLE(v); break;
      case T.U64: b.writeBigUInt64LE(BigInt(v)); break;
      case T.I64: b.writeBigInt64LE(BigInt(v)); break;
      case T.F64: b.writeDoubleLE(v); break;
      default: throw new Error(`GGUF value type ${type}`);
    }
    this.bytes(b);
  }
  pad(align) { if (this.len % align) this.bytes(Buffer.alloc(align - (this.len % align))); }
  buffer() { return Buffer.concat(this.parts, this.len); }
}

/** A GGUF file: kv as readGguf gives them, tensors [{ name, dims, type, data }]. */
function writeGguf(kv, tensors, { align = 32, version = 3 } = {}) {
  const w = new Writer();
  w.bytes(Buffer.from('GGUF', 'latin1'));
  w.u32(version);
  w.u64(tensors.length);
  w.u64(kv.length);
  for (const e of kv) {
    w.str(e.key);
    w.u32(e.type);
    if (e.type === T.ARR) {
      w.u32(e.atype);
      w.u64(e.value.length);
      for (const v of e.value) {
        if (e.atype === T.STR) w.str(v);
        else w.scalar(e.atype, v);
      }
    } else if (e.type === T.STR) {
      w.str(e.value);
    } else {
      w.scalar(e.type, e.value);
    }
  }
  let offset = 0;
  for (const t of tensors) {
    w.str(t.name);
    w.u32(t.dims.length);
    for (const d of t.dims) w.u64(d);
    w.u32(t.type);
    w.u64(offset);
    offset += Math.ceil(t.data.length / align) * align;
  }
  w.pad(align);
  for (const t of tensors) {
    w.bytes(t.data);
    w.pad(align);
  }
  return w.buffer();
}

// ---- tensor data: small deterministic weights, so the forward pass gives finite logits ----

let seed = 0x2545f491;
const rand = () => {
  seed ^= seed << 13; seed >>>= 0;
  seed ^= seed >>> 17;
  seed ^= seed << 5; seed >>>= 0;
  return seed / 4294967296;
};

const f32bits = (x) => { const b = Buffer.alloc(4); b.writeFloatLE(x); return b.readUInt32LE(); };

/** binary16 of a normal-range x, mantissa truncated (rounding does not matter for seeds). */
function half(x) {
  const u = f32bits(x), sign = (u >>> 16) & 0x8000, exp = ((u >>> 23) & 0xff) - 127 + 15;
  if (x === 0 || exp <= 0) return sign;
  return sign | (exp << 10) | ((u >>> 13) & 0x3ff);
}

function weights(type, cols, rows, scale) {
  const n = cols * rows;
  const value = () => (rand() * 2 - 1) * scale;
  switch (type) {
    case GGML.F32: { const b = Buffer.alloc(4 * n); for (let i = 0; i < n; i++) b.writeFloatLE(value(), 4 * i); return b; }
    case GGML.F16: { const b = Buffer.alloc(2 * n); for (let i = 0; i < n; i++) b.writeUInt16LE(half(value()), 2 * i); return b; }
    case GGML.BF16: { const b = Buffer.alloc(2 * n); for (let i = 0; i < n; i++) b.writeUInt16LE(f32bits(value()) >>> 16, 2 * i); return b; }
    case GGML.Q8_0: {
      const b = Buffer.alloc((n / 32) * 34);
      for (let k = 0; k < n / 32; k++) {
        b.writeUInt16LE(half(scale / 127), 34 * k);
        for (let j = 0; j < 32; j++) b.writeInt8(Math.floor(rand() * 255) - 127, 34 * k + 2 + j);
      }
      return b;
    }
    case GGML.Q4_0: {
      const b = Buffer.alloc((n / 32) * 18);
      for (let k = 0; k < n / 32; k++) {
        b.writeUInt16LE(half(scale / 8), 18 * k);
        for (let j = 0; j < 16; j++) b.writeUInt8(Math.floor(rand() * 256), 18 * k + 2 + j);
      }
      return b;
    }
    default: throw new Error(`ggml type ${type}`);
  }
}

const norm = (n) => {
  const b = Buffer.alloc(4 * n);
  for (let i = 0; i < n; i++) b.writeFloatLE(1 + (rand() - 0.5) * 0.1, 4 * i);
  return b;
};

/**
 * The metadata of `base` (a readGguf result) and the tensors of a small network: one layer of
 * `dim`, `heads` query and `kvHeads` KV heads, the first `vocab` tokens, a trained context of
 * `ctx`.
 */
function tinyParts(base, { type, dim = 32, ffn = 32, heads = 1, kvHeads = 1, vocab, ctx = 512 }) {
  const arch = base.kv.find((e) => e.key === 'general.architecture').value;
  const shape = {
    [`${arch}.embedding_length`]: dim, [`${arch}.block_count`]: 1, [`${arch}.feed_forward_length`]: ffn,
    [`${arch}.attention.head_count`]: heads, [`${arch}.attention.head_count_kv`]: kvHeads,
    [`${arch}.context_length`]: ctx,
  };
  const vocabArrays = new Set(['tokenizer.ggml.tokens', 'tokenizer.ggml.scores', 'tokenizer.ggml.token_type']);
  const kv = base.kv.map((e) => {
    if (e.key in shape) return { ...e, value: shape[e.key] };
    if (vocabArrays.has(e.key)) return { ...e, value: e.value.slice(0, vocab) };
    return e;
  });
  const headDim = dim / heads, kvDim = kvHeads * headDim;
  const mat = (name, cols, rows) => ({ name, dims: [cols, rows], type, data: weights(type, cols, rows, 0.5) });
  const vec = (name) => ({ name, dims: [dim], type: GGML.F32, data: norm(dim) });
  const tensors = [
    mat('token_embd.weight', dim, vocab),
    vec('blk.0.attn_norm.weight'),
    mat('blk.0.attn_q.weight', dim, dim),
    mat('blk.0.attn_k.weight', dim, kvDim),
    mat('blk.0.attn_v.weight', dim, kvDim),
    mat('blk.0.attn_output.weight', dim, dim),
    vec('blk.0.ffn_norm.weight'),
    mat('blk.0.ffn_gate.weight', dim, ffn),
    mat('blk.0.ffn_up.weight', dim, ffn),
    mat('blk.0.ffn_down.weight', ffn, dim),
    vec('output_norm.weight'),
    mat('output.weight', dim, vocab),
  ];
  return { kv, tensors };
}

const tinyModel = (base, shape) => {
  const { kv, tensors } = tinyParts(base, shape);
  return writeGguf(kv, tensors);
};

/** Replace the value (and type) of metadata entries: edits { key: { type?, atype?, value } }. */
const withKv = (kv, edits) => kv.map((e) => (e.key in edits ? { ...e, ...edits[e.key] } : e));

/** The tiny model as gguf-split writes it in two parts: metadata in the first, tensors shared. */
function splitModel(base, shape) {
  const { kv, tensors } = tinyParts(base, shape);
  const split = (no) => [
    { key: 'split.no', type: T.U16, value: no },
    { key: 'split.count', type: T.U16, value: 2 },
    { key: 'split.tensors.count', type: T.I32, value: tensors.length },
  ];
  const cut = Math.ceil(tensors.length / 2);
  return Buffer.concat([
    writeGguf([...kv, ...split(0)], tensors.slice(0, cut)),
    writeGguf(split(1), tensors.slice(cut)),
  ]);
}

/** No tensors; one value of every type and an array of every element type, for the accessors. */
function everyType() {
  const kv = [
    { key: 'u8', type: T.U8, value: 200 }, { key: 'i8', type: T.I8, value: -100 },
    { key: 'u16', type: T.U16, value: 60000 }, { key: 'i16', type: T.I16, value: -30000 },
    { key: 'u32', type: T.U32, value: 4000000000 }, { key: 'i32', type: T.I32, value: -2000000000 },
    { key: 'f32', type: T.F32, value: 1.5 }, { key: 'bool', type: T.BOOL, value: 1 },
    { key: 'str', type: T.STR, value: 'text \u2581' }, { key: 'u64', type: T.U64, value: 2n ** 63n + 1n },
    { key: 'i64', type: T.I64, value: -(2n ** 62n) }, { key: 'f64', type: T.F64, value: -2.25 },
    { key: 'general.alignment', type: T.U32, value: 64 },
  ];
  const samples = { [T.U8]: [1, 255], [T.I8]: [-1, 127], [T.U16]: [1, 65535], [T.I16]: [-1, 32767],
    [T.U32]: [1, 4294967295], [T.I32]: [-1, 2147483647], [T.F32]: [0.5, -1e30], [T.BOOL]: [0, 1],
    [T.STR]: ['', 'two'], [T.U64]: [1n, 2n ** 64n - 1n], [T.I64]: [-1n, 2n ** 63n - 1n], [T.F64]: [1e300, -0] };
  for (const [atype, value] of Object.entries(samples)) kv.push({ key: `arr.${atype}`, type: T.ARR, atype: Number(atype), value });
  kv.push({ key: 'arr.empty', type: T.ARR, atype: T.U32, value: [] });
  return writeGguf(kv, [], { align: 64 });
}

mkdirSync(OUT, { recursive: true });
const seeds = new Map();
const modes = [WHOLE, CHUNK_4K, CHUNK_128, BYTEWISE];
const files = readdirSync(MODELS).filter((f) => /^kjv-tiny-.*\.gguf$/.test(f)).sort();
files.forEach((f, i) => {
  const buf = readFileSync(path.join(MODELS, f));
  const { dataOffset } = readGguf(buf);
  seeds.set(`header-${f}`, [modes[i % modes.length], buf.subarray(0, dataOffset)]);
});

const internlm2 = readGguf(readFileSync(path.join(MODELS, 'kjv-tiny-q8_0.gguf')));
const llama = readGguf(readFileSync(path.join(MODELS, 'kjv-tiny-llama-q8_0.gguf')));
const tiny = [
  ['internlm2-q8_0.gguf', internlm2, { type: GGML.Q8_0, vocab: 4096 }, WHOLE],
  ['internlm2-q4_0.gguf', internlm2, { type: GGML.Q4_0, vocab: 4096 }, CHUNK_4K],
  ['internlm2-f16.gguf', internlm2, { type: GGML.F16, vocab: 4096 }, WHOLE | CACHED],
  ['llama-q8_0.gguf', llama, { type: GGML.Q8_0, vocab: 4096 }, CHUNK_128],
  // 512 tokens keep the specials, the 256 byte tokens and the first merges: small, fast seeds
  ['internlm2-gqa-q8_0-v512.gguf', internlm2, { type: GGML.Q8_0, heads: 2, kvHeads: 1, vocab: 512 }, WHOLE | ALL_LOGITS],
  ['internlm2-f32-v512.gguf', internlm2, { type: GGML.F32, vocab: 512 }, CHUNK_4K],
  ['llama-bf16-v512.gguf', llama, { type: GGML.BF16, vocab: 512 }, WHOLE | CONSISTENT],
  ['llama-q4_0-ffn64-v512.gguf', llama, { type: GGML.Q4_0, ffn: 64, heads: 2, kvHeads: 2, vocab: 512 }, CHUNK_128],
  // 8 tokens: the specials and three byte pieces, enough for bos/eos/unk; a file of a few KB
  ['internlm2-q8_0-v8.gguf', internlm2, { type: GGML.Q8_0, vocab: 8 }, WHOLE],
  // trained on 1 token: the evaluation of 2 goes past it, into dynamic NTK
  ['internlm2-q8_0-v8-ctx1.gguf', internlm2, { type: GGML.Q8_0, vocab: 8, ctx: 1 }, WHOLE | CONSISTENT],
  ['llama-f16-v8.gguf', llama, { type: GGML.F16, vocab: 8 }, CHUNK_128 | NO_ROPE | ALL_LOGITS],
];
for (const [name, base, shape, mode] of tiny) seeds.set(`tiny-${name}`, [mode, tinyModel(base, shape)]);

// the other value types the tokenizer accepts, and a version 2 file
{
  const { kv, tensors } = tinyParts(internlm2, { type: GGML.Q8_0, vocab: 8 });
  const arr = (key, atype, map = (v) => v) => ({ atype, value: kv.find((e) => e.key === key).value.map(map) });
  const wide = withKv(kv, {
    'tokenizer.ggml.scores': arr('tokenizer.ggml.scores', T.F64),
    'tokenizer.ggml.token_type': arr('tokenizer.ggml.token_type', T.I64, BigInt),
    'tokenizer.ggml.bos_token_id': { type: T.U64, value: 1n },
    'tokenizer.ggml.eos_token_id': { type: T.I16, value: 2 },
  });
  seeds.set('tiny-internlm2-q8_0-v8-wide-types-v2.gguf', [WHOLE, writeGguf(wide, tensors, { version: 2 })]);
  const aligned = [...kv, { key: 'general.alignment', type: T.U32, value: 64 }];
  seeds.set('tiny-internlm2-q8_0-v8-align64.gguf', [CHUNK_128, writeGguf(aligned, tensors, { align: 64 })]);
}
// no byte pieces (unknown text becomes <unk>) and some unused pieces (split back on output)
{
  const { kv, tensors } = tinyParts(llama, { type: GGML.Q4_0, vocab: 512 });
  const types = kv.find((e) => e.key === 'tokenizer.ggml.token_type').value;
  const edited = types.map((t, id) => (t === 6 ? 1 : t === 1 && id % 4 === 0 ? 5 : t));
  const unused = withKv(kv, { 'tokenizer.ggml.token_type': { value: edited } });
  seeds.set('tiny-llama-q4_0-v512-unused-no-bytes.gguf', [WHOLE | CACHED, writeGguf(unused, tensors)]);
}
seeds.set('tiny-internlm2-q8_0-v8-split.gguf', [CHUNK_4K, splitModel(internlm2, { type: GGML.Q8_0, vocab: 8 })]);
seeds.set('every-type.gguf', [CHUNK_128, everyType()]);

for (const [name, [mode, bytes]] of seeds) writeFileSync(path.join(OUT, name), Buffer.concat([Buffer.from([mode]), bytes]));
console.log(`make-seeds: ${seeds.size} seeds in ${path.relative(process.cwd(), OUT) || '.'}`);
