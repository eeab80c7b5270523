// Loading: every way of feeding the bytes gives bit-identical logits; every broken file or bad
// option is a rejected promise with a clear message and the right NtkError code, and leaves
// nothing behind (a fresh load of the good file works); engine-level misuse is reported the
// same way and leaves the engine as it was.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, createReadStream } from 'node:fs';
import { mkdtemp, writeFile, rm, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { GGML_TYPES } from '../wasm/build/abi.mjs';
import { BLOCK, tensorBytes } from '../wasm/gguf.mjs';
import {
  Engine,
  model,
  fullLogits64,
  assertLogitsClose,
  row,
  readGGUF,
  retypeGGUF,
  prng,
  collect,
  assertNtkError,
  ROOT,
} from './helpers.mjs';

const F32 = model('f32');
const Q4 = model('q4_0');
const PROMPT = fullLogits64().token_ids; // 64 tokens, BOS first
let tmp;
const base = {}; // baseline logits (all 64 rows) per file, from a default load of the path

async function logitsOf(engine) {
  engine.reset();
  return engine.evaluate(PROMPT, { allLogits: true });
}

/** Load, evaluate the 64-token prompt, dispose. */
async function loadAndEval(source, options) {
  const e = await Engine.load(source, options);
  try {
    return await logitsOf(e);
  } finally {
    e.dispose();
  }
}

function assertBitIdentical(got, want, label) {
  assert.equal(got.length, want.length, `${label}: length`);
  const a = new Uint32Array(got.buffer, got.byteOffset, got.length);
  const b = new Uint32Array(want.buffer, want.byteOffset, want.length);
  for (let i = 0; i < a.length; i++)
    if (a[i] !== b[i])
      assert.fail(`${label}: logit ${i % 4096} of position ${Math.floor(i / 4096)} is ${got[i]}, baseline ${want[i]}`);
}

before(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'ntk-load-'));
  base.f32 = await loadAndEval(F32);
  base.q4 = await loadAndEval(Q4);
});
after(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

test('baseline: the default load of the F32 file matches full_logits_64', () => {
  const f = fullLogits64();
  for (let pos = 0; pos < 64; pos++) assertLogitsClose(row(base.f32, pos), row(f.logits, pos), `position ${pos}`);
});

// ---- chunked loading: bit-identical logits ----

/** An async iterable over buf in chunks whose sizes come from next(). */
async function* chunked(buf, next) {
  for (let off = 0; off < buf.length;) {
    const n = Math.min(next(off), buf.length - off);
    yield buf.subarray(off, off + n);
    off += n;
    if (off % 3 === 0) await new Promise((r) => setImmediate(r)); // a slow source now and then
  }
}

test(
  'F32 file: path with chunkSize 4096, whole file and > file; bytes; ArrayBuffer; chunkSize 7; streams',
  { concurrency: false },
  async (t) => {
    const bytes = readFileSync(F32);
    const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    const rnd = prng(12345);
    const cases = [
      ['path, chunkSize 4096', F32, { chunkSize: 4096 }],
      ['path, chunkSize = file size', F32, { chunkSize: bytes.length }],
      ['path, chunkSize > file size', F32, { chunkSize: bytes.length + 12345 }],
      ['Uint8Array, default chunkSize', new Uint8Array(bytes), undefined],
      [
        'Uint8Array view at an odd offset',
        new Uint8Array(Buffer.concat([Buffer.alloc(3), bytes]).buffer, 3, bytes.length),
        undefined,
      ],
      ['ArrayBuffer', ab, undefined],
      // a path with chunkSize 7 costs one fs read per 7 bytes (~4.6 M reads, minutes); bytes do not
      ['Uint8Array, chunkSize 7', bytes, { chunkSize: 7 }],
      // random chunk sizes from 1 byte to ~1 MB (log-uniform), so boundaries fall everywhere
      [
        'async iterable of random-sized chunks',
        chunked(bytes, () => Math.max(1, Math.floor(Math.exp(rnd() * Math.log(1 << 20))))),
        { chunkSize: 65536 },
      ],
      ['fs.createReadStream, highWaterMark 999', createReadStream(F32, { highWaterMark: 999 }), undefined],
    ];
    for (const [label, source, options] of cases) {
      const t0 = performance.now();
      assertBitIdentical(await loadAndEval(source, options), base.f32, label);
      t.diagnostic(`${label}: ${(performance.now() - t0).toFixed(0)} ms`);
    }
  },
);

test('Q4_0 file, chunkSize 1: every byte its own load window', { concurrency: false }, async (t) => {
  const bytes = readFileSync(Q4);
  let t0 = performance.now();
  assertBitIdentical(await loadAndEval(bytes, { chunkSize: 1 }), base.q4, 'Uint8Array, chunkSize 1');
  t.diagnostic(`Uint8Array, chunkSize 1 (${bytes.length} windows): ${(performance.now() - t0).toFixed(0)} ms`);
  // An async iterable of 1-byte chunks through the header, tensor table and into the data, then 1 MB.
  // (A path with chunkSize 1 reads the file one byte per fs call: ~3 minutes for 5 MB, not run here.)
  const { dataOffset } = readGGUF(bytes);
  t0 = performance.now();
  const src = chunked(bytes, (off) => (off < dataOffset + 4096 ? 1 : 1 << 20));
  assertBitIdentical(await loadAndEval(src), base.q4, 'async iterable, 1-byte chunks for the header');
  t.diagnostic(
    `async iterable, ${dataOffset + 4096} one-byte chunks then 1 MB: ${(performance.now() - t0).toFixed(0)} ms`,
  );
});

// ---- broken files ----

const q4 = readFileSync(Q4);
const layout = readGGUF(q4);

function patched(mutate) {
  const b = Buffer.from(q4);
  mutate(b);
  return b;
}

/** The Q4_0 file with one tensor's type id changed: written anew where ggml gives the type a size,
 * with zeros of it (so the layout stays that of a GGUF writer), else patched in place. */
const retyped = (name, type) =>
  BLOCK[type]
    ? Buffer.from(
        retypeGGUF(q4, (t, bytes) =>
          t.name === name
            ? {
                type,
                bytes: new Uint8Array(
                  tensorBytes(
                    type,
                    t.dims[0],
                    t.dims.slice(1).reduce((a, b) => a * b, 1),
                  ),
                ),
              }
            : { type: t.type, bytes },
        ),
      )
    : patched((b) => b.writeUInt32LE(type, layout.tensors.find((t) => t.name === name).typeOffset));
const RUNS = GGML_TYPES.filter((t) => t.runs)
  .map((t) => t.name)
  .join(', ');

const BROKEN = [
  ['empty file', () => Buffer.alloc(0), 'TRUNCATED', /empty/],
  [
    'wrong magic (a text file)',
    () => readFileSync(path.join(ROOT, 'models/kjv-tiny.md')),
    'FORMAT',
    /not a GGUF file|magic/i,
  ],
  ['GGUF magic, then nothing', () => q4.subarray(0, 4), 'TRUNCATED', /truncated/],
  ['truncated at 20 bytes (header)', () => q4.subarray(0, 20), 'TRUNCATED', /truncated.*\b20\b/],
  ['truncated at 60000 bytes (metadata)', () => q4.subarray(0, 60000), 'TRUNCATED', /truncated.*\b60000\b.*metadata/],
  [
    'truncated in the tensor table',
    () => q4.subarray(0, (layout.kvEnd + layout.tableEnd) >> 1),
    'TRUNCATED',
    /truncated.*tensor table/,
  ],
  [
    'truncated in the tensor data (size − 1000)',
    () => q4.subarray(0, q4.length - 1000),
    'TRUNCATED',
    /truncated.*tensor data/,
  ],
  ['truncated by one byte', () => q4.subarray(0, q4.length - 1), 'TRUNCATED', /truncated/],
  [
    'unknown architecture internlm9',
    () =>
      patched((b) => {
        let n = 0;
        for (let i = b.indexOf('internlm2'); i >= 0; i = b.indexOf('internlm2', i + 1), n++) b[i + 8] = 0x39; // '9'
        assert.ok(n > 1, 'fixture: the file names its architecture');
      }),
    'UNSUPPORTED',
    /internlm9/,
  ],
  [
    'output.weight with type 9 (Q8_1)',
    () =>
      patched((b) => {
        // the tensor table entry, found by reading the file ("output.weight" also ends "attn_output.weight")
        const t = layout.tensors.find((x) => x.name === 'output.weight');
        assert.equal(t.dims.length, 2);
        assert.equal(t.typeOffset, t.nameOffset + 13 + 4 + 16);
        b.writeUInt32LE(9, t.typeOffset);
      }),
    'UNSUPPORTED',
    /output\.weight.*Q8_1|Q8_1.*output\.weight/,
  ],
  // types ggml defines and the engine does not run: the table parses (ggml's block sizes), and the
  // message names tensor, type and the types that do run
  [
    'blk.0.attn_k.weight with type 35 (TQ2_0)',
    () => retyped('blk.0.attn_k.weight', 35),
    'UNSUPPORTED',
    new RegExp(
      `^tensor blk\\.0\\.attn_k\\.weight has type TQ2_0, which this engine does not run \\(it runs ${RUNS}\\)$`,
    ),
  ],
  [
    'blk.0.attn_norm.weight with type 26 (I32)',
    () => retyped('blk.0.attn_norm.weight', 26),
    'UNSUPPORTED',
    /^tensor blk\.0\.attn_norm\.weight has type I32, which this engine does not run \(it runs norms in F32\)$/,
  ],
  [
    'blk.0.attn_k.weight with type id 77',
    () => retyped('blk.0.attn_k.weight', 77),
    'FORMAT',
    /blk\.0\.attn_k\.weight' has type id 77, which ggml does not define/,
  ],
  [
    'blk.0.attn_k.weight with type id 4 (Q4_2)',
    () => retyped('blk.0.attn_k.weight', 4),
    'FORMAT',
    /blk\.0\.attn_k\.weight' has type Q4_2, which ggml has removed/,
  ],
];

for (const [label, make, code, re] of BROKEN) {
  test(
    `broken file: ${label} → ${code}, as a path and as bytes; then the good file loads`,
    { concurrency: false },
    async () => {
      const bytes = make();
      const file = path.join(tmp, label.replace(/[^a-z0-9]+/gi, '_') + '.gguf');
      await writeFile(file, bytes);
      await assertNtkError(Engine.load(file), code, re, `${label} (path)`);
      await assertNtkError(Engine.load(new Uint8Array(bytes)), code, re, `${label} (bytes)`);
      await assertNtkError(Engine.load(chunked(bytes, () => 4093)), code, re, `${label} (async iterable)`);
      assertBitIdentical(await loadAndEval(Q4), base.q4, `good file after ${label}`);
    },
  );
}

test('a nonexistent path → IO naming the path', async () => {
  const p = path.join(tmp, 'no-such-model.gguf');
  await assertNtkError(Engine.load(p), 'IO', /no such file/, 'nonexistent path');
  await assertNtkError(Engine.load(p), 'IO', new RegExp(p.replace(/[.\\/]/g, '\\$&')), 'nonexistent path');
  assertBitIdentical(await loadAndEval(Q4), base.q4, 'good file after a nonexistent path');
});

test('a directory as the path → NtkError', async () => {
  const d = path.join(tmp, 'a-directory.gguf');
  await mkdir(d, { recursive: true });
  const err = await Engine.load(d).then(
    () => null,
    (e) => e,
  );
  assert.ok(err, 'rejected');
  assert.equal(err.name, 'NtkError', `got ${err.name}: ${err.message}`);
});

test('bad options and sources → ARG naming the option; then the good file loads', async () => {
  const bad = [
    [{ ropeMode: 'dynamic' }, /ropeMode.*dynamic/],
    [{ ropeFactor: 0.5 }, /ropeFactor.*0\.5/],
    [{ ropeFactor: NaN }, /ropeFactor/],
    [{ build: 'avx' }, /build.*avx/],
    [{ trainedCtx: 0 }, /trainedCtx/],
    [{ trainedCtx: 512.5 }, /trainedCtx/],
    [{ chunkSize: 0 }, /chunkSize/],
    [{ chunkSize: 1.5 }, /chunkSize/],
  ];
  for (const [options, re] of bad) {
    await assertNtkError(Engine.load(Q4, options), 'ARG', re, JSON.stringify(options));
    assertBitIdentical(await loadAndEval(Q4), base.q4, `good file after ${JSON.stringify(options)}`);
  }
  for (const source of [42, null, undefined, {}, [42], []])
    await assertNtkError(Engine.load(source), 'ARG', /model source/, `source ${JSON.stringify(source)}`);
});

test('Engine.load adds no process-wide listeners (a disposed engine can be collected)', async () => {
  const before = process.listenerCount('uncaughtException') + process.listenerCount('unhandledRejection');
  (await Engine.load(Q4)).dispose();
  const afterCount = process.listenerCount('uncaughtException') + process.listenerCount('unhandledRejection');
  assert.equal(afterCount, before);
});

// ---- engine-level errors ----

test('evaluate with an out-of-range id → ARG naming it; the context is unchanged', { concurrency: false }, async () => {
  const e = await Engine.load(Q4);
  try {
    await assertNtkError(() => e.evaluate([5000]), 'ARG', /5000/, 'evaluate([5000])');
    await assertNtkError(() => e.evaluate([-1]), 'ARG', /-1/, 'evaluate([-1])');
    await assertNtkError(() => e.evaluate([1.5]), 'ARG', /1\.5/, 'evaluate([1.5])');
    await assertNtkError(() => e.evaluate(['7']), 'ARG', /integer/, "evaluate(['7'])");
    await assertNtkError(() => e.evaluate([]), 'ARG', /no tokens/, 'evaluate([])');
    assert.equal(e.nCtx, 0);
    assertBitIdentical(await logitsOf(e), base.q4, 'logits after the errors');

    // mid-context: a call with a bad id adds nothing, so the next call continues as if it never happened
    const a = PROMPT.slice(0, 32),
      b = PROMPT.slice(32);
    e.reset();
    e.evaluate(a);
    const clean = e.evaluate(b, { allLogits: true });
    e.reset();
    e.evaluate(a);
    await assertNtkError(() => e.evaluate([7, 9, 5000]), 'ARG', /5000/, 'evaluate([7, 9, 5000]) after 32 tokens');
    assert.equal(e.nCtx, 32, 'nCtx after the failed call');
    assertBitIdentical(e.evaluate(b, { allLogits: true }), clean, 'second half after a failed call');
  } finally {
    e.dispose();
  }
});

test('generate: bad options → ARG before anything is evaluated', async () => {
  const e = await Engine.load(Q4);
  try {
    const bad = [
      [{ maxTokens: -5 }, /maxTokens.*-5/],
      [{ maxTokens: 2.5 }, /maxTokens/],
      [{ maxTokens: '5' }, /maxTokens/],
      [{ temprature: 0.5 }, /temprature/],
      [{ temperature: -1 }, /temperature/],
      [{ temperature: NaN }, /temperature/],
      [{ topK: 1.5 }, /topK/],
      [{ topK: -1 }, /topK/],
      [{ topP: 0 }, /topP/],
      [{ topP: 1.5 }, /topP/],
      [{ minP: 2 }, /minP/],
      [{ repeatPenalty: 0 }, /repeatPenalty/],
      [{ repeatWindow: -1 }, /repeatWindow/],
      [{ seed: -1 }, /seed/],
      [{ seed: 1.5 }, /seed/],
    ];
    for (const [options, re] of bad) {
      await assertNtkError(
        collect(e.generate('In the beginning', { maxTokens: 3, ...options })),
        'ARG',
        re,
        JSON.stringify(options),
      );
      assert.equal(e.nCtx, 0, `nothing evaluated after ${JSON.stringify(options)}`);
    }
    await assertNtkError(collect(e.generate({ text: 'x' }, { maxTokens: 1 })), 'ARG', /prompt/, 'prompt object');
    // the engine still generates, and tokenize/detokenize report bad input as ARG
    const out = await collect(e.generate(PROMPT, { maxTokens: 3, temperature: 0 }));
    assert.equal(out.length, 3);
    await assertNtkError(() => e.tokenize(5), 'ARG', /string/, 'tokenize(5)');
    await assertNtkError(() => e.detokenize([4096]), 'ARG', /4096/, 'detokenize([4096])');
    await assertNtkError(() => e.piece(4096), 'ARG', /4096/, 'piece(4096)');
  } finally {
    e.dispose();
  }
});

test('use after dispose → STATE', async () => {
  const e = await Engine.load(Q4);
  e.evaluate([1, 2000]);
  e.dispose();
  e.dispose(); // twice is harmless
  const calls = {
    tokenize: () => e.tokenize('a'),
    detokenize: () => e.detokenize([1]),
    piece: () => e.piece(1),
    evaluate: () => e.evaluate([1]),
    reset: () => e.reset(),
    info: () => e.info(),
    nCtx: () => e.nCtx,
    base: () => e.base,
    nVocab: () => e.nVocab,
    isEndOfGeneration: () => e.isEndOfGeneration(4),
    generate: () => collect(e.generate('a', { maxTokens: 1 })),
  };
  for (const [name, f] of Object.entries(calls)) await assertNtkError(f, 'STATE', /dispos/, name);
});

test('the fuzzer regression inputs load or fail with an NtkError in the wasm build too', async () => {
  const { readdirSync } = await import('node:fs');
  const dir = path.join(ROOT, 'tests/fuzz/regressions');
  // a fuzz input is one control byte (chunking, RoPE mode) and then the file
  const fileOf = (name) => readFileSync(path.join(dir, name)).subarray(1);
  for (const name of readdirSync(dir)) {
    const outcome = await Engine.load(fileOf(name)).then(
      async (e) => {
        // whatever loads must also run and describe itself
        e.evaluate([1, 2]);
        JSON.stringify(e.info());
        e.metadata();
        e.dispose();
        return 'loaded';
      },
      (err) => {
        assert.equal(err.name, 'NtkError', `${name}: ${err.stack}`);
        return err.code;
      },
    );
    assert.ok(outcome, name);
  }
  // the array that claims more than 4 GiB must be refused, not wrapped on wasm32
  await assertNtkError(Engine.load(fileOf('gguf-array-over-4gib-wasm32.gguf')), 'TRUNCATED', /truncated/);
});
