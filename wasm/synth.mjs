// synth.mjs — write a valid internlm2 GGUF of any shape with random weights (fixed seed) and the
// bundled kjv-tiny vocabulary, for benchmarks and memory tests without downloads. The file is
// written tensor by tensor, so its size is not bounded by memory.
import { open } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseHeader, writeGGUF, kvRecord, f32ToHalf as toHalf, VALUE, TYPE, BLOCK } from './gguf.mjs';
import { mulberry32 } from './random.mjs';

const VOCAB_FROM = fileURLToPath(new URL('../models/kjv-tiny-q8_0.gguf', import.meta.url));
const CHUNK_ROWS_BYTES = 1 << 20;

/** Named shapes: the InternLM2 family (docs/DESIGN.md, The network) and the bundled tiny model. */
export const SHAPES = {
  'internlm2-1.8b': { layers: 24, hidden: 2048, heads: 16, kvHeads: 8, ffn: 8192, ctx: 32768, theta: 1e6 },
  'internlm2-7b': { layers: 32, hidden: 4096, heads: 32, kvHeads: 8, ffn: 14336, ctx: 32768, theta: 1e6 },
  'kjv-tiny': { layers: 6, hidden: 256, heads: 4, kvHeads: 2, ffn: 1024, ctx: 512, theta: 10000 },
};

// llama.cpp's Q4_K_M / Q5_K_M rule (llama-quant.cpp): Q6_K for output, and for attn_v and ffn_down
// of the first and last eighth of the layers and every third layer between.
const useMoreBits = (l, n) =>
  l < Math.floor(n / 8) || l >= Math.floor((7 * n) / 8) || (l - Math.floor(n / 8)) % 3 === 2;
const mixture = (base) => (role, l, n) =>
  role === 'output' || ((role === 'attn_v' || role === 'ffn_down') && useMoreBits(l, n)) ? TYPE.Q6_K : base;
const uniform = (t) => () => t;
/** --type: the type of every matrix, by its role ('token_embd', 'output', 'attn_q', ...) and layer. */
export const TYPES = {
  f32: uniform(TYPE.F32),
  f16: uniform(TYPE.F16),
  q8_0: uniform(TYPE.Q8_0),
  q4_0: uniform(TYPE.Q4_0),
  q4_k: uniform(TYPE.Q4_K),
  q5_k: uniform(TYPE.Q5_K),
  q6_k: uniform(TYPE.Q6_K),
  q4_k_m: mixture(TYPE.Q4_K),
  q5_k_m: mixture(TYPE.Q5_K),
};
const K_QUANTS = [TYPE.Q4_K, TYPE.Q5_K, TYPE.Q6_K];

// One row of floats in the file's type (ggml's reference quantizers for Q8_0 and Q4_0).
function encodeRow(type, x) {
  const n = x.length;
  if (type === TYPE.F32) return new Uint8Array(Float32Array.from(x).buffer);
  if (type === TYPE.F16) return new Uint8Array(Uint16Array.from(x, toHalf).buffer);
  const q8 = type === TYPE.Q8_0,
    [qk, bs] = BLOCK[type],
    out = new Uint8Array((n / qk) * bs),
    dv = new DataView(out.buffer);
  for (let b = 0; b < n / qk; b++) {
    const blk = x.subarray(b * qk, b * qk + qk);
    let amax = 0,
      max = 0;
    for (const v of blk)
      if (Math.abs(v) > amax) {
        amax = Math.abs(v);
        max = v;
      }
    const d = q8 ? amax / 127 : max / -8,
      id = d ? 1 / d : 0;
    dv.setUint16(b * bs, toHalf(d), true);
    for (let j = 0; j < (q8 ? qk : qk / 2); j++) {
      if (q8) dv.setInt8(b * bs + 2 + j, Math.round(blk[j] * id));
      else {
        const lo = Math.min(15, Math.trunc(blk[j] * id + 8.5)),
          hi = Math.min(15, Math.trunc(blk[j + qk / 2] * id + 8.5));
        out[b * bs + 2 + j] = lo | (hi << 4);
      }
    }
  }
  return out;
}

// Rows of uniform(-scale, scale) values, encoded, about 1 MB at a time.
function* randomRows(type, cols, rows, scale, next) {
  const x = new Float32Array(cols);
  const per = Math.max(1, Math.floor(CHUNK_ROWS_BYTES / (cols * 4)));
  for (let r = 0; r < rows; r += per) {
    const chunk = [];
    for (let k = r; k < Math.min(rows, r + per); k++) {
      for (let i = 0; i < cols; i++) x[i] = (next() * 2 - 1) * scale;
      chunk.push(encodeRow(type, x));
    }
    const out = new Uint8Array(chunk.reduce((n, c) => n + c.length, 0));
    chunk.reduce((p, c) => (out.set(c, p), p + c.length), 0);
    yield out;
  }
}

// K-quant super-blocks with random bits (every bit pattern of scales and quants is a valid block)
// and f16 super-block scales d (and dmin) chosen so that weights come out about +-scale: Q4_K/Q5_K
// give d*sc*q - dmin*m with 6-bit sc, m and q of 4/5 bits, Q6_K gives d*sc*(q - 32) with int8 sc.
// d stays in f16's normal range, which keeps it finite and nonzero in any reader.
const K_LAYOUT = {
  // [offset of d, offset of dmin or -1, scale / d]
  [TYPE.Q4_K]: [0, 2, 128],
  [TYPE.Q5_K]: [0, 2, 256],
  [TYPE.Q6_K]: [208, -1, 512],
};
function* randomKBlocks(type, cols, rows, scale, next) {
  const [values, bytes] = BLOCK[type],
    [dAt, dminAt, per] = K_LAYOUT[type];
  const blocks = (cols / values) * rows,
    perChunk = Math.floor(CHUNK_ROWS_BYTES / bytes);
  const qMid = type === TYPE.Q4_K ? 7.5 : 15.5;
  for (let b = 0; b < blocks; b += perChunk) {
    const n = Math.min(perChunk, blocks - b),
      out = new Uint8Array(n * bytes),
      dv = new DataView(out.buffer);
    const words = new Uint32Array(out.buffer, 0, out.length >> 2);
    for (let i = 0; i < words.length; i++) words[i] = next() * 4294967296;
    for (let k = 0; k < n; k++) {
      const d = Math.max(2 ** -14, (scale / per) * (0.75 + next() / 2));
      dv.setUint16(k * bytes + dAt, toHalf(d), true);
      // dmin centres d*sc*q - dmin*m on zero when sc and m are alike
      if (dminAt >= 0) dv.setUint16(k * bytes + dminAt, toHalf(d * qMid), true);
    }
    yield out;
  }
}

async function vocabRecords() {
  const fh = await open(VOCAB_FROM, 'r');
  try {
    const { buffer } = await fh.read(Buffer.alloc(4 << 20), 0, 4 << 20, 0);
    const h = parseHeader(new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.length));
    return h.kv.filter((r) => r.key.startsWith('tokenizer.')).map((r) => buffer.subarray(r.start, r.end));
  } finally {
    await fh.close();
  }
}

const defined = (o) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

/**
 * Write the model to `path`. options: { shape, layers, hidden, heads, kvHeads, ffn, ctx, type,
 * dynamicFactor, theta, seed }: a named shape (SHAPES) gives the values not given. dynamicFactor 0
 * writes no dynamic-NTK key. Returns the file size.
 */
export async function synth(path, { shape, ...given }) {
  if (shape !== undefined && !SHAPES[shape])
    throw new Error(`--shape must be one of ${Object.keys(SHAPES).join(', ')}`);
  const o = { type: 'f32', dynamicFactor: 2, theta: 10000, seed: 1, ...SHAPES[shape], ...defined(given) };
  const { layers, hidden, heads, kvHeads = heads, ffn, ctx, type, dynamicFactor, theta, seed } = o;
  const typeOf = TYPES[type];
  if (typeOf === undefined) throw new Error(`--type must be one of ${Object.keys(TYPES).join(', ')}`);
  for (const [k, v] of Object.entries({ layers, hidden, heads, kvHeads, ffn, ctx }))
    if (!Number.isInteger(v) || v < 1) throw new Error(`${k} must be a positive integer, got ${v}`);
  if (hidden % heads || heads % kvHeads || (hidden / heads) % 2 || hidden % 32 || ffn % 32)
    throw new Error('hidden must be a multiple of 32 and of heads, heads a multiple of kv-heads, ffn a multiple of 32');
  // a K type makes every matrix a K-quant (the mixtures too)
  if (K_QUANTS.includes(typeOf('token_embd', -1, layers)) && (hidden % 256 || ffn % 256))
    throw new Error(`--type ${type}: hidden and ffn must be multiples of 256 (a K-quant super-block)`);
  const vocab = await vocabRecords();
  const nVocab = 4096,
    headDim = hidden / heads,
    kvDim = kvHeads * headDim,
    next = mulberry32(seed);
  const A = 'internlm2';
  const kv = [
    kvRecord('general.architecture', VALUE.STRING, A),
    kvRecord('general.name', VALUE.STRING, `synth-${shape ?? `${layers}x${hidden}`}-${type}`),
    kvRecord(`${A}.block_count`, VALUE.UINT32, layers),
    kvRecord(`${A}.context_length`, VALUE.UINT32, ctx),
    kvRecord(`${A}.embedding_length`, VALUE.UINT32, hidden),
    kvRecord(`${A}.feed_forward_length`, VALUE.UINT32, ffn),
    kvRecord(`${A}.attention.head_count`, VALUE.UINT32, heads),
    kvRecord(`${A}.attention.head_count_kv`, VALUE.UINT32, kvHeads),
    kvRecord(`${A}.rope.freq_base`, VALUE.FLOAT32, theta),
    kvRecord(`${A}.attention.layer_norm_rms_epsilon`, VALUE.FLOAT32, 1e-5),
    ...(dynamicFactor ? [kvRecord(`${A}.rope.dynamic_ntk.factor`, VALUE.FLOAT32, dynamicFactor)] : []),
    ...vocab,
  ];
  const ones = (n) => () => new Uint8Array(new Float32Array(n).fill(1).buffer);
  const norm = (name, n) => ({ name, dims: [n], type: TYPE.F32, data: ones(n) });
  const matrix = (role, l, cols, rows, scale = 1 / Math.sqrt(cols)) => {
    const t = typeOf(role, l, layers),
      rowsOf = K_QUANTS.includes(t) ? randomKBlocks : randomRows;
    return {
      name: l < 0 ? `${role}.weight` : `blk.${l}.${role}.weight`,
      dims: [cols, rows],
      type: t,
      data: () => rowsOf(t, cols, rows, scale, next),
    };
  };
  const tensors = [
    matrix('token_embd', -1, hidden, nVocab, 1),
    norm('output_norm.weight', hidden),
    matrix('output', -1, hidden, nVocab),
  ];
  for (let l = 0; l < layers; l++)
    tensors.push(
      norm(`blk.${l}.attn_norm.weight`, hidden),
      matrix('attn_q', l, hidden, hidden),
      matrix('attn_k', l, hidden, kvDim),
      matrix('attn_v', l, hidden, kvDim),
      matrix('attn_output', l, hidden, hidden),
      norm(`blk.${l}.ffn_norm.weight`, hidden),
      matrix('ffn_gate', l, hidden, ffn),
      matrix('ffn_up', l, hidden, ffn),
      matrix('ffn_down', l, ffn, hidden),
    );
  const fh = await open(path, 'w');
  try {
    return await writeGGUF((b) => fh.write(b), { kv, tensors });
  } finally {
    await fh.close();
  }
}
