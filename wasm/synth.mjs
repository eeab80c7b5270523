// synth.mjs — write a valid internlm2 GGUF of any shape with random weights (fixed seed) and the
// bundled kjv-tiny vocabulary, for benchmarks and memory tests without downloads. The file is
// written tensor by tensor, so its size is not bounded by memory.
import { open } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseHeader, writeGGUF, kvRecord, f32ToHalf as toHalf, VALUE, TYPE } from './gguf.mjs';
import { mulberry32 } from './random.mjs';

const VOCAB_FROM = fileURLToPath(new URL('../models/kjv-tiny-q8_0.gguf', import.meta.url));
const TYPES = { f32: TYPE.F32, f16: TYPE.F16, q8_0: TYPE.Q8_0, q4_0: TYPE.Q4_0 };
const CHUNK_ROWS_BYTES = 1 << 20;


// One row of floats in the file's type (ggml's reference quantizers for Q8_0 and Q4_0).
function encodeRow(type, x) {
  const n = x.length;
  if (type === TYPE.F32) return new Uint8Array(Float32Array.from(x).buffer);
  if (type === TYPE.F16) return new Uint8Array(Uint16Array.from(x, toHalf).buffer);
  const q8 = type === TYPE.Q8_0, bs = q8 ? 34 : 18, out = new Uint8Array(n / 32 * bs), dv = new DataView(out.buffer);
  for (let b = 0; b < n / 32; b++) {
    const blk = x.subarray(b * 32, b * 32 + 32);
    let amax = 0, max = 0;
    for (const v of blk) if (Math.abs(v) > amax) { amax = Math.abs(v); max = v; }
    const d = q8 ? amax / 127 : max / -8, id = d ? 1 / d : 0;
    dv.setUint16(b * bs, toHalf(d), true);
    for (let j = 0; j < (q8 ? 32 : 16); j++) {
      if (q8) dv.setInt8(b * bs + 2 + j, Math.round(blk[j] * id));
      else {
        const lo = Math.min(15, Math.trunc(blk[j] * id + 8.5)), hi = Math.min(15, Math.trunc(blk[j + 16] * id + 8.5));
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

/**
 * Write the model to `path`. shape: { layers, hidden, heads, kvHeads, ffn, ctx, type, dynamicFactor,
 * theta, seed }. dynamicFactor 0 writes no dynamic-NTK key. Returns the file size.
 */
export async function synth(path, { layers, hidden, heads, kvHeads = heads, ffn, ctx, type = 'f32', dynamicFactor = 2, theta = 10000, seed = 1 }) {
  const t = TYPES[type];
  if (t === undefined) throw new Error(`--type must be one of ${Object.keys(TYPES).join(', ')}`);
  for (const [k, v] of Object.entries({ layers, hidden, heads, kvHeads, ffn, ctx }))
    if (!Number.isInteger(v) || v < 1) throw new Error(`${k} must be a positive integer, got ${v}`);
  if (hidden % heads || heads % kvHeads || (hidden / heads) % 2 || hidden % 32 || ffn % 32)
    throw new Error('hidden must be a multiple of 32 and of heads, heads a multiple of kv-heads, ffn a multiple of 32');
  const vocab = await vocabRecords();
  const nVocab = 4096, headDim = hidden / heads, kvDim = kvHeads * headDim, next = mulberry32(seed);
  const A = 'internlm2';
  const kv = [
    kvRecord('general.architecture', VALUE.STRING, A),
    kvRecord('general.name', VALUE.STRING, `synth-${layers}x${hidden}-${type}`),
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
  const matrix = (name, cols, rows, scale = 1 / Math.sqrt(cols)) => ({ name, dims: [cols, rows], type: t, data: () => randomRows(t, cols, rows, scale, next) });
  const tensors = [
    matrix('token_embd.weight', hidden, nVocab, 1),
    { name: 'output_norm.weight', dims: [hidden], type: TYPE.F32, data: ones(hidden) },
    matrix('output.weight', hidden, nVocab),
  ];
  for (let l = 0; l < layers; l++)
    tensors.push(
      { name: `blk.${l}.attn_norm.weight`, dims: [hidden], type: TYPE.F32, data: ones(hidden) },
      matrix(`blk.${l}.attn_q.weight`, hidden, hidden),
      matrix(`blk.${l}.attn_k.weight`, hidden, kvDim),
      matrix(`blk.${l}.attn_v.weight`, hidden, kvDim),
      matrix(`blk.${l}.attn_output.weight`, hidden, hidden),
      { name: `blk.${l}.ffn_norm.weight`, dims: [hidden], type: TYPE.F32, data: ones(hidden) },
      matrix(`blk.${l}.ffn_gate.weight`, hidden, ffn),
      matrix(`blk.${l}.ffn_up.weight`, hidden, ffn),
      matrix(`blk.${l}.ffn_down.weight`, ffn, hidden),
    );
  const fh = await open(path, 'w');
  try {
    return await writeGGUF((b) => fh.write(b), { kv, tensors });
  } finally {
    await fh.close();
  }
}
