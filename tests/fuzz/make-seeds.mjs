// make-seeds.mjs — the seed corpus of the GGUF fuzzer: the headers of the bundled models, and
// complete tiny models that load and run (the kjv-tiny vocabulary on a 1-layer, dim-32 network),
// so that mutations start from files that reach model binding, the tokenizer and evaluation.
//   node tests/fuzz/make-seeds.mjs [outdir]     (default build/fuzz/corpus)
// Every seed starts with the fuzz target's options byte (see tests/fuzz/fuzz_gguf.c).

import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseHeader, ggufBytes, kvRecord, f32ToHalf, VALUE, TYPE } from '../../wasm/gguf.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MODELS = path.join(ROOT, 'models');
const OUT = path.resolve(process.argv[2] ?? path.join(ROOT, 'build/fuzz/corpus'));

// value type names of wasm/gguf.mjs's VALUE, short
const T = {
  U8: VALUE.UINT8,
  I8: VALUE.INT8,
  U16: VALUE.UINT16,
  I16: VALUE.INT16,
  U32: VALUE.UINT32,
  I32: VALUE.INT32,
  F32: VALUE.FLOAT32,
  BOOL: VALUE.BOOL,
  STR: VALUE.STRING,
  ARR: VALUE.ARRAY,
  U64: VALUE.UINT64,
  I64: VALUE.INT64,
  F64: VALUE.FLOAT64,
};
const GGML = TYPE;
// options byte: chunking (whole file, chunks of up to 4 KiB, up to 128 bytes, single bytes),
// logits of every position, RoPE mode
const WHOLE = 31,
  CHUNK_4K = 12,
  CHUNK_128 = 7,
  BYTEWISE = 0;
const ALL_LOGITS = 0x20,
  CONSISTENT = 0x40,
  CACHED = 0x80,
  NO_ROPE = 0xc0;

const readGguf = (buf) => parseHeader(buf, { values: true });

/** A GGUF file: kv as readGguf gives them ({ key, type, atype?, value }), tensors [{ name, dims, type, data }]. */
const writeGguf = (kv, tensors, { align = 32, version = 3 } = {}) =>
  Buffer.from(
    ggufBytes({
      version,
      alignment: align,
      kv: kv.map((e) => kvRecord(e.key, e.type, e.value, e.atype)),
      tensors: tensors.map((t) => ({ name: t.name, dims: t.dims, type: t.type, bytes: t.data })),
    }),
  );

// ---- tensor data: small deterministic weights, so the forward pass gives finite logits ----

let seed = 0x2545f491;
const rand = () => {
  seed ^= seed << 13;
  seed >>>= 0;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  seed >>>= 0;
  return seed / 4294967296;
};

const f32bits = (x) => {
  const b = Buffer.alloc(4);
  b.writeFloatLE(x);
  return b.readUInt32LE();
};

function weights(type, cols, rows, scale) {
  const n = cols * rows;
  const value = () => (rand() * 2 - 1) * scale;
  switch (type) {
    case GGML.F32: {
      const b = Buffer.alloc(4 * n);
      for (let i = 0; i < n; i++) b.writeFloatLE(value(), 4 * i);
      return b;
    }
    case GGML.F16: {
      const b = Buffer.alloc(2 * n);
      for (let i = 0; i < n; i++) b.writeUInt16LE(f32ToHalf(value()), 2 * i);
      return b;
    }
    case GGML.BF16: {
      const b = Buffer.alloc(2 * n);
      for (let i = 0; i < n; i++) b.writeUInt16LE(f32bits(value()) >>> 16, 2 * i);
      return b;
    }
    case GGML.Q8_0: {
      const b = Buffer.alloc((n / 32) * 34);
      for (let k = 0; k < n / 32; k++) {
        b.writeUInt16LE(f32ToHalf(scale / 127), 34 * k);
        for (let j = 0; j < 32; j++) b.writeInt8(Math.floor(rand() * 255) - 127, 34 * k + 2 + j);
      }
      return b;
    }
    case GGML.Q4_0: {
      const b = Buffer.alloc((n / 32) * 18);
      for (let k = 0; k < n / 32; k++) {
        b.writeUInt16LE(f32ToHalf(scale / 8), 18 * k);
        for (let j = 0; j < 16; j++) b.writeUInt8(Math.floor(rand() * 256), 18 * k + 2 + j);
      }
      return b;
    }
    default:
      throw new Error(`ggml type ${type}`);
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
    [`${arch}.embedding_length`]: dim,
    [`${arch}.block_count`]: 1,
    [`${arch}.feed_forward_length`]: ffn,
    [`${arch}.attention.head_count`]: heads,
    [`${arch}.attention.head_count_kv`]: kvHeads,
    [`${arch}.context_length`]: ctx,
  };
  const vocabArrays = new Set(['tokenizer.ggml.tokens', 'tokenizer.ggml.scores', 'tokenizer.ggml.token_type']);
  const kv = base.kv.map((e) => {
    if (e.key in shape) return { ...e, value: shape[e.key] };
    if (vocabArrays.has(e.key)) return { ...e, value: e.value.slice(0, vocab) };
    return e;
  });
  const headDim = dim / heads,
    kvDim = kvHeads * headDim;
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

/** The tiny model as gguf-split writes it in n parts: metadata in the first, tensors shared. */
function splitModel(base, shape, n = 2) {
  const { kv, tensors } = tinyParts(base, shape);
  const split = (no) => [
    { key: 'split.no', type: T.U16, value: no },
    { key: 'split.count', type: T.U16, value: n },
    { key: 'split.tensors.count', type: T.I32, value: tensors.length },
  ];
  const per = Math.ceil(tensors.length / n);
  return Buffer.concat(
    Array.from({ length: n }, (_, no) =>
      writeGguf([...(no ? [] : kv), ...split(no)], tensors.slice(no * per, (no + 1) * per)),
    ),
  );
}

/** No tensors; one value of every type and an array of every element type, for the accessors. */
function everyType() {
  const kv = [
    { key: 'u8', type: T.U8, value: 200 },
    { key: 'i8', type: T.I8, value: -100 },
    { key: 'u16', type: T.U16, value: 60000 },
    { key: 'i16', type: T.I16, value: -30000 },
    { key: 'u32', type: T.U32, value: 4000000000 },
    { key: 'i32', type: T.I32, value: -2000000000 },
    { key: 'f32', type: T.F32, value: 1.5 },
    { key: 'bool', type: T.BOOL, value: 1 },
    { key: 'str', type: T.STR, value: 'text \u2581' },
    { key: 'u64', type: T.U64, value: 2n ** 63n + 1n },
    { key: 'i64', type: T.I64, value: -(2n ** 62n) },
    { key: 'f64', type: T.F64, value: -2.25 },
    { key: 'general.alignment', type: T.U32, value: 64 },
  ];
  const samples = {
    [T.U8]: [1, 255],
    [T.I8]: [-1, 127],
    [T.U16]: [1, 65535],
    [T.I16]: [-1, 32767],
    [T.U32]: [1, 4294967295],
    [T.I32]: [-1, 2147483647],
    [T.F32]: [0.5, -1e30],
    [T.BOOL]: [0, 1],
    [T.STR]: ['', 'two'],
    [T.U64]: [1n, 2n ** 64n - 1n],
    [T.I64]: [-1n, 2n ** 63n - 1n],
    [T.F64]: [1e300, -0],
  };
  for (const [atype, value] of Object.entries(samples))
    kv.push({ key: `arr.${atype}`, type: T.ARR, atype: Number(atype), value });
  kv.push({ key: 'arr.empty', type: T.ARR, atype: T.U32, value: [] });
  return writeGguf(kv, [], { align: 64 });
}

mkdirSync(OUT, { recursive: true });
const seeds = new Map();
const modes = [WHOLE, CHUNK_4K, CHUNK_128, BYTEWISE];
const files = readdirSync(MODELS)
  .filter((f) => /^kjv-tiny-.*\.gguf$/.test(f))
  .sort();
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
  [
    'internlm2-gqa-q8_0-v512.gguf',
    internlm2,
    { type: GGML.Q8_0, heads: 2, kvHeads: 1, vocab: 512 },
    WHOLE | ALL_LOGITS,
  ],
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
seeds.set('tiny-llama-f16-v8-split3.gguf', [WHOLE, splitModel(llama, { type: GGML.F16, vocab: 8 }, 3)]);
// what the parser refuses since issue 12, one mutation away from loading: a key given twice, a
// key of another type; and weights that make non-finite logits
{
  const { kv, tensors } = tinyParts(internlm2, { type: GGML.Q8_0, vocab: 8 });
  const blocks = kv.find((e) => e.key === 'internlm2.block_count');
  seeds.set('tiny-internlm2-q8_0-v8-key-twice.gguf', [WHOLE, writeGguf([...kv, blocks], tensors)]);
  const typed = withKv(kv, { 'internlm2.rope.freq_base': { type: T.STR, value: '10000' } });
  seeds.set('tiny-internlm2-q8_0-v8-theta-string.gguf', [CHUNK_128, writeGguf(typed, tensors)]);
  const f16 = tinyParts(llama, { type: GGML.F16, vocab: 8 });
  f16.tensors.find((t) => t.name === 'output_norm.weight').data.writeFloatLE(NaN, 0);
  seeds.set('tiny-llama-f16-v8-nan-norm.gguf', [WHOLE | ALL_LOGITS, writeGguf(f16.kv, f16.tensors)]);
}
seeds.set('every-type.gguf', [CHUNK_128, everyType()]);

for (const [name, [mode, bytes]] of seeds)
  writeFileSync(path.join(OUT, name), Buffer.concat([Buffer.from([mode]), bytes]));
console.log(`make-seeds: ${seeds.size} seeds in ${path.relative(process.cwd(), OUT) || '.'}`);
