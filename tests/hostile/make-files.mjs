// make-files.mjs — the hostile model files of issue 12, made from the bundled kjv-tiny files (none
// is committed): each one an edit of a good file that llama.cpp's gguf.cpp refuses, or that once
// loaded into silent garbage, with the error the engine must give for it. The tests import
// hostileFiles(); run as a script it writes the files to a directory, to try them by hand:
//   node tests/hostile/make-files.mjs [outdir]      (default build/hostile; lists are NAME-0000i-of-0000N.gguf)

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseHeader, ggufBytes, kvRecord, tensorBytes, VALUE } from '../../wasm/gguf.mjs';
import { splitGGUF, splitName } from '../helpers.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const bundled = (type) => new Uint8Array(readFileSync(path.join(ROOT, 'models', `kjv-tiny-${type}.gguf`)));

/** A file as parts to edit: { version, alignment, kv: [{ key, bytes }], tensors: [{ name, dims, type, bytes }] }. */
export function unpack(buf) {
  const h = parseHeader(buf);
  const size = (t) =>
    tensorBytes(
      t.type,
      t.dims[0],
      t.dims.slice(1).reduce((a, b) => a * b, 1),
    );
  return {
    version: h.version,
    alignment: h.alignment,
    kv: h.kv.map((r) => ({ key: r.key, bytes: buf.subarray(r.start, r.end) })),
    tensors: h.tensors.map((t) => ({
      name: t.name,
      dims: t.dims,
      type: t.type,
      bytes: buf.subarray(h.dataOffset + t.offset, h.dataOffset + t.offset + size(t)),
    })),
  };
}

/** The file of unpack()'s parts, laid out as GGUF writers lay it. */
export const pack = ({ kv, ...rest }) => ggufBytes({ ...rest, kv: kv.map((r) => r.bytes) });

/** buf with metadata record `key` replaced by the records `by` (none: removed). */
const replaceKey = (buf, key, ...by) => {
  const f = unpack(buf);
  const at = f.kv.findIndex((r) => r.key === key);
  if (at < 0) throw new Error(`no key ${key}`);
  f.kv.splice(at, 1, ...by.map((bytes) => ({ key, bytes })));
  return pack(f);
};

/** buf with the data offsets of its tensor table rewritten: offsets(tensors) → new offsets. */
const withOffsets = (buf, offsets) => {
  const out = buf.slice(),
    { tensors } = parseHeader(out),
    dv = new DataView(out.buffer);
  offsets(tensors).forEach((o, i) => dv.setBigUint64(tensors[i].typeOffset + 4, BigInt(o), true));
  return out;
};

/** buf with the bytes of tensor `name` edited in place: edit(bytes of its data). */
const withData = (buf, name, edit) => {
  const out = buf.slice(),
    h = parseHeader(out),
    t = h.tensors.find((x) => x.name === name);
  edit(new DataView(out.buffer, h.dataOffset + t.offset));
  return out;
};

const esc = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Every hostile file: [{ name, what, source, stage, code, message }]. source is bytes, or a list
 * of parts; stage 'load': Engine.load(source) fails with code and message; stage 'evaluate': it
 * loads, and evaluate(PROMPT) fails so (PROMPT: ids the message's position refers to).
 */
export function hostileFiles() {
  const q8 = bundled('q8_0'),
    f16 = bundled('f16');
  const { tensors } = parseHeader(q8);
  const last = tensors.at(-1).name;
  const files = [];
  const add = (name, what, source, code, message, stage = 'load') =>
    files.push({ name, what, source, stage, code, message });

  // ---- what llama.cpp's gguf.cpp refuses ----
  add(
    'duplicate-key',
    'internlm2.block_count twice, 2 then 6: the first won, and 2 of 6 layers ran',
    replaceKey(
      q8,
      'internlm2.block_count',
      kvRecord('internlm2.block_count', VALUE.UINT32, 2),
      kvRecord('internlm2.block_count', VALUE.UINT32, 6),
    ),
    'FORMAT',
    /metadata key 'internlm2\.block_count' is given twice/,
  );
  {
    const f = unpack(q8);
    const copy = f.tensors.find((t) => t.name === 'blk.0.attn_q.weight');
    f.tensors.push({ ...copy, bytes: new Uint8Array(copy.bytes.length) });
    add(
      'duplicate-tensor',
      'blk.0.attn_q.weight listed twice (the second copy all zeros): the first won',
      pack(f),
      'FORMAT',
      /tensor 'blk\.0\.attn_q\.weight' is listed twice/,
    );
  }
  add(
    'overlapping-tensors',
    "blk.0.attn_k.weight's data starts 64 bytes into blk.0.attn_q.weight's",
    withOffsets(q8, (ts) => {
      const q = ts.findIndex((t) => t.name === 'blk.0.attn_q.weight');
      return ts.map((t, i) => (i === q + 1 ? ts[q].offset + 64 : t.offset));
    }),
    'FORMAT',
    /tensor 'blk\.0\.attn_k\.weight' at data offset \d+ overlaps tensor 'blk\.0\.attn_q\.weight'/,
  );
  add(
    'all-zero-offsets',
    'every tensor at data offset 0: all of them read the same bytes',
    withOffsets(q8, (ts) => ts.map(() => 0)),
    'FORMAT',
    new RegExp(`tensor '${esc(tensors[1].name)}' at data offset 0 overlaps tensor '${esc(tensors[0].name)}'`),
  );
  add(
    'offset-2^50',
    `${last} at data offset 2^50: was NOMEM (exit 3), the engine asking for a petabyte`,
    withOffsets(q8, (ts) => ts.map((t, i) => (i === ts.length - 1 ? 2 ** 50 : t.offset))),
    'FORMAT',
    new RegExp(`tensor '${esc(last)}' is at data offset 1125899906842624, where \\d+ was expected`),
  );
  add(
    'tensor-past-eof',
    `${last} 64 MiB past the end of the file: was TRUNCATED in tensor '?'`,
    withOffsets(q8, (ts) => ts.map((t, i) => (i === ts.length - 1 ? t.offset + 2 ** 26 : t.offset))),
    'FORMAT',
    new RegExp(`tensor '${esc(last)}' is at data offset \\d+, where \\d+ was expected`),
  );

  // ---- metadata of the wrong type ----
  for (const [name, what, key, value, message] of [
    [
      'head-count-kv-array',
      'attention.head_count_kv an array: it took head_count, a stale variable',
      'internlm2.attention.head_count_kv',
      [VALUE.ARRAY, [2, 2], VALUE.UINT32],
      /internlm2\.attention\.head_count_kv has type array of uint32, expected an integer/,
    ],
    [
      'freq-base-string',
      'rope.freq_base the string "500000": ignored, theta stayed 10000',
      'internlm2.rope.freq_base',
      [VALUE.STRING, '500000'],
      /internlm2\.rope\.freq_base has type string, expected a number/,
    ],
    [
      'block-count-2^63',
      'block_count the uint64 2^63: called "missing"',
      'internlm2.block_count',
      [VALUE.UINT64, 2n ** 63n],
      /internlm2\.block_count = 9223372036854775808 \(uint64\) is too large for an integer/,
    ],
    [
      'bos-string',
      'tokenizer.ggml.bos_token_id the string "1"',
      'tokenizer.ggml.bos_token_id',
      [VALUE.STRING, '1'],
      /tokenizer\.ggml\.bos_token_id has type string, expected an integer/,
    ],
  ])
    add(name, what, replaceKey(q8, key, kvRecord(key, ...value)), 'FORMAT', message);
  {
    const f = unpack(q8);
    f.kv.push(
      { key: 'split.no', bytes: kvRecord('split.no', VALUE.FLOAT32, 0) },
      { key: 'split.count', bytes: kvRecord('split.count', VALUE.FLOAT32, 2) },
    );
    add(
      'split-count-float',
      'split.no and split.count as float32: read as absent, so a part loaded as a whole file',
      pack(f),
      'FORMAT',
      /split\.no has type float32, expected an integer/,
    );
  }

  // ---- weights that make non-finite logits (a NaN in a quantized matrix's activations becomes
  // finite garbage when they are quantized, as in ggml: it has to reach the logits another way) ----
  add(
    'nan-output-norm',
    'output_norm.weight[0] NaN: every token became id 0 with empty text',
    withData(f16, 'output_norm.weight', (dv) => dv.setFloat32(0, NaN, true)),
    'RUNTIME',
    /the model produced non-finite logits \(NaN or infinity\) at position 3/,
    'evaluate',
  );
  add(
    'nan-output-scale',
    "a NaN scale (f16 0x7E00) in output.weight's first Q8_0 block",
    withData(q8, 'output.weight', (dv) => dv.setUint16(0, 0x7e00, true)),
    'RUNTIME',
    /the model produced non-finite logits \(NaN or infinity\) at position 3/,
    'evaluate',
  );

  // ---- split models (gguf-split: part 1 has the metadata; every part split.no/count/tensors.count) ----
  const parts = splitGGUF(q8, { maxTensors: 20 });
  add(
    'split-extra-part',
    'a list of 4 for a model in 3 parts: the 4th was ignored',
    [...parts, parts[2]],
    'FORMAT',
    /the list has 4 parts, the model has 3/,
  );
  add('whole-and-extra', 'a whole file and one more', [q8, q8], 'FORMAT', /the list has 2 parts, the model has 1/);
  add(
    'split-other-count',
    "part 2 of a split whose split.tensors.count is 56: part 1's is 57",
    [parts[0], replaceKey(parts[1], 'split.tensors.count', kvRecord('split.tensors.count', VALUE.INT32, 56)), parts[2]],
    'FORMAT',
    /part 2 is from another split model: its split\.tensors\.count is 56, part 1's 57/,
  );
  {
    // without split.tensors.count (older gguf-split), a tensor of part 2 again in part 3
    const [p1, p2, p3] = parts.map((p) => {
      const f = unpack(p);
      f.kv = f.kv.filter((r) => r.key !== 'split.tensors.count');
      return f;
    });
    const twice = p2.tensors.at(-2);
    p3.tensors.unshift({ ...twice, bytes: new Uint8Array(twice.bytes.length) });
    add(
      'split-tensor-twice',
      `${twice.name} in part 2 and, all zeros, in part 3: the first won`,
      [p1, p2, p3].map(pack),
      'FORMAT',
      new RegExp(`tensor '${esc(twice.name)}' is in part 2 and in part 3`),
    );
  }
  return files;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = path.resolve(process.argv[2] ?? path.join(ROOT, 'build/hostile'));
  mkdirSync(out, { recursive: true });
  for (const f of hostileFiles()) {
    const list = Array.isArray(f.source) ? f.source : [f.source];
    list.forEach((b, i) =>
      writeFileSync(path.join(out, list.length > 1 ? splitName(f.name, i, list.length) : `${f.name}.gguf`), b),
    );
    console.log(`${f.name}: ${f.what} → ${f.code}`);
  }
}
