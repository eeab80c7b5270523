// Tied embeddings: a file without output.weight takes token_embd.weight as its output head, as
// llama2.c's shared_weights does. Built here from the F32 file: the same model without
// output.weight, and the same model whose output.weight is a copy of token_embd.weight, must give
// the same logits bit for bit (and other logits than the file's own head gives), also when the
// tied file is split into parts, none of which has the head.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Engine, model, readGGUF, splitGGUF, assertBitIdentical } from './helpers.mjs';
import { ggufBytes, tensorBytes } from '../wasm/gguf.mjs';

const F32 = readFileSync(model('f32'));
const g = readGGUF(F32);
const tensors = g.tensors.map((t) => {
  const at = g.dataOffset + t.offset;
  return {
    name: t.name,
    dims: t.dims,
    type: t.type,
    bytes: F32.subarray(at, at + tensorBytes(t.type, t.dims[0], t.dims[1] ?? 1)),
  };
});
const embd = tensors.find((t) => t.name === 'token_embd.weight');
const rebuilt = (list) =>
  ggufBytes({
    version: g.version,
    alignment: g.alignment,
    tensors: list,
    kv: Object.values(g.kv).map((r) => F32.subarray(r.start, r.end)),
  });
const tied = rebuilt(tensors.filter((t) => t.name !== 'output.weight'));
const copied = rebuilt(tensors.map((t) => (t.name === 'output.weight' ? { ...t, bytes: embd.bytes } : t)));

async function logitsOf(source) {
  const e = await Engine.load(source);
  try {
    return e.evaluate(e.tokenize('And God said, Let there be light: and there was light.'), { allLogits: true });
  } finally {
    e.dispose();
  }
}

test('a file without output.weight ties its head to token_embd.weight', async () => {
  assert.equal(
    readGGUF(tied).tensors.some((t) => t.name === 'output.weight'),
    false,
    'the tied file has no head',
  );
  const [own, withCopy, withoutHead] = await Promise.all([logitsOf(F32), logitsOf(copied), logitsOf(tied)]);
  assertBitIdentical(withoutHead, withCopy, 'tied vs output.weight = token_embd.weight');
  assert.ok(
    own.some((v, i) => v !== withCopy[i]),
    "the file's own head gives other logits (the test is not vacuous)",
  );
});

test('a split file ties its head once every part is in', async () => {
  const parts = splitGGUF(tied, { maxTensors: 20 });
  assert.equal(parts.length, 3);
  assertBitIdentical(
    await logitsOf(parts),
    await logitsOf(copied),
    'split tied file vs output.weight = token_embd.weight',
  );
});
