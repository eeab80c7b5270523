// Split models (llama.cpp's gguf-split: NAME-00001-of-0000N.gguf, each part a complete GGUF with
// its own tensors, part 1 holding the metadata): built here from the Q8_0 file by splitGGUF, they
// load from part 1's path (the other names derived), from a list of paths or of bytes, and from
// part 1's URL, with logits bit-identical to the whole file; every inconsistency between the parts
// is a clear NtkError, an unsupported tensor in a later part is reported from its tensor table
// (before its data is read), and a fresh load works after each failure.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, mkdir, writeFile, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { pathToFileURL } from 'node:url';
import path from 'node:path';
import { tensorBytes } from '../wasm/gguf.mjs';
import {
  Engine,
  model,
  fullLogits64,
  readGGUF,
  tensorData,
  retypeGGUF,
  splitGGUF,
  splitName,
  assertNtkError,
  assertBitIdentical,
  serve,
  sendBytes,
} from './helpers.mjs';

const Q8 = model('q8_0');
const WHOLE = readFileSync(Q8);
const NAME = 'kjv-tiny-q8_0';
const PROMPT = fullLogits64().token_ids.slice(0, 32);
const N_TENSORS = readGGUF(WHOLE).tensors.length; // 57
const MAX_TENSORS = 20; // 20 + 20 + 17

let base; // all 32 rows of logits of the whole file
let tmp, srv;
let parts, paths; // 3 parts, with their tensors
let lean, leanPaths; // --no-tensor-in-metadata: part 1 metadata only, then 3 parts of tensors

// Engine bug (src/api.c): on_table_ready and ntk_load_end pass &e->parts[0].g to model_bind as an
// array of gguf_ctx, but e->parts is an array of struct part { gguf_ctx g; void *data; }, so
// model.c find_tensor reads parts 2.. at the wrong stride: their tensors are not found ("missing
// tensor output_norm.weight") or garbage is read ("memory access out of bounds").

async function writeParts(dir, list, name = NAME) {
  await mkdir(dir, { recursive: true });
  const out = list.map((_, i) => path.join(dir, splitName(name, i, list.length)));
  await Promise.all(list.map((b, i) => writeFile(out[i], b)));
  return out;
}

async function loadAndEval(source, options) {
  const e = await Engine.load(source, options);
  try {
    return { logits: e.evaluate(PROMPT, { allLogits: true }), info: e.info() };
  } finally {
    e.dispose();
  }
}

async function freshLoadWorks(label) {
  const { logits, info } = await loadAndEval(paths[0]);
  assert.equal(info.splits, 3, `${label}: the fresh load after it`);
  assertBitIdentical(logits, base, `${label}: the fresh load after it`);
}

/** freshLoadWorks as a subtest of t. */
const thenFreshLoad = (t, label) => t.test('then a fresh load works', () => freshLoadWorks(label));

before(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'ntk-split-'));
  base = (await loadAndEval(Q8)).logits;
  parts = splitGGUF(WHOLE, { maxTensors: MAX_TENSORS });
  paths = await writeParts(path.join(tmp, 'three'), parts);
  lean = splitGGUF(WHOLE, { maxTensors: MAX_TENSORS, noTensorsInFirst: true });
  leanPaths = await writeParts(path.join(tmp, 'lean'), lean);
  // /split/<dir>/<file>: the files under tmp
  srv = await serve(async (req, res) => {
    const m = /^\/split\/(\w+)\/([\w.-]+)$/.exec(req.url.split('?')[0]);
    const bytes = m && (await readFile(path.join(tmp, m[1], m[2])).catch(() => null));
    if (!bytes) {
      res.writeHead(404);
      return res.end('not found');
    }
    sendBytes(res, bytes);
  });
});

after(async () => {
  await srv?.close();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

// ---- the splitter itself ----

test('splitGGUF: the layout of gguf-split', () => {
  const g0 = readGGUF(WHOLE);
  const layouts = parts.map((p) => readGGUF(p));
  assert.equal(parts.length, 3);
  const wholeKeys = Object.keys(g0.kv);
  for (const [i, g] of layouts.entries()) {
    const keys = Object.keys(g.kv);
    assert.deepEqual(
      keys,
      [...(i === 0 ? wholeKeys : []), 'split.no', 'split.count', 'split.tensors.count'],
      `part ${i + 1}: keys`,
    );
    const dv = new DataView(parts[i].buffer, parts[i].byteOffset);
    assert.deepEqual(
      [g.kv['split.no'].type, g.kv['split.count'].type, g.kv['split.tensors.count'].type],
      [2, 2, 5],
      'u16, u16, i32',
    );
    assert.equal(dv.getUint16(g.kv['split.no'].valueOffset, true), i);
    assert.equal(dv.getUint16(g.kv['split.count'].valueOffset, true), 3);
    assert.equal(dv.getInt32(g.kv['split.tensors.count'].valueOffset, true), N_TENSORS);
    assert.equal(g.alignment, 32);
    assert.equal(g.dataOffset % 32, 0);
    assert.equal(g.tensors[0].offset, 0, `part ${i + 1}: offsets are relative to its own data`);
  }
  // every tensor once, in order, with its own bytes
  const names = layouts.flatMap((g) => g.tensors.map((t) => t.name));
  assert.deepEqual(
    names,
    g0.tensors.map((t) => t.name),
  );
  assert.deepEqual(
    layouts.map((g) => g.tensors.length),
    [20, 20, 17],
  );
  const want = tensorData(WHOLE, g0);
  const got = layouts.flatMap((g, i) => tensorData(parts[i], g));
  for (let i = 0; i < want.length; i++)
    assert.ok(Buffer.from(got[i]).equals(Buffer.from(want[i])), `tensor ${names[i]}: bytes differ`);
  assert.deepEqual(
    paths.map((p) => path.basename(p)),
    [1, 2, 3].map((k) => `${NAME}-0000${k}-of-00003.gguf`),
  );
  // --no-tensor-in-metadata: part 1 holds no tensors, and its file ends at the aligned data offset
  const l0 = readGGUF(lean[0]);
  assert.equal(lean.length, 4);
  assert.equal(l0.tensors.length, 0);
  assert.equal(lean[0].length, l0.dataOffset);
});

// ---- loading ----

test("from part 1's path (the other names derived): the whole file's logits, info().splits and nTensors", async () => {
  const events = [];
  const { logits, info } = await loadAndEval(paths[0], { onProgress: (p) => events.push(p) });
  assertBitIdentical(logits, base, 'part 1 path');
  assert.equal(info.splits, 3);
  assert.equal(info.nTensors, N_TENSORS);
  assert.deepEqual(info.tensorTypes, (await loadAndEval(Q8)).info.tensorTypes);
  // progress runs through the three parts to the sum of their sizes
  const sizes = parts.map((p) => p.length),
    total = sizes.reduce((a, b) => a + b, 0);
  assert.equal(events.at(-1).phase, 'ready');
  assert.equal(events.at(-1).loaded, total);
  assert.deepEqual([...new Set(events.map((e) => e.part))], [1, 2, 3]);
  assert.ok(
    events.filter((e) => e.part > 1).every((e) => e.parts === 3),
    'parts is 3 once part 1 is read',
  );
  for (let i = 1; i < events.length; i++)
    assert.ok(events[i].loaded >= events[i - 1].loaded, `event ${i}: loaded went down`);
});

test('from a list of paths, and from a list of bytes', async () => {
  for (const [label, src] of [
    ['paths', paths],
    ['Uint8Arrays', parts],
    ['ArrayBuffers', parts.map((p) => p.slice().buffer)],
  ]) {
    const { logits, info } = await loadAndEval(src);
    assertBitIdentical(logits, base, label);
    assert.equal(info.splits, 3, label);
    assert.equal(info.nTensors, N_TENSORS, label);
  }
});

test("from part 1's URL over HTTP: the other parts are fetched by their derived names", async () => {
  const from = srv.requests.length;
  const url = srv.url(`/split/three/${path.basename(paths[0])}`);
  const { logits, info } = await loadAndEval(url);
  assertBitIdentical(logits, base, 'part 1 URL');
  assert.equal(info.splits, 3);
  assert.deepEqual(
    srv.requests.slice(from),
    paths.map((p) => `/split/three/${path.basename(p)}`),
  );
  // a query string stays on every part's URL
  const q = await loadAndEval(`${url}?rev=main`);
  assertBitIdentical(q.logits, base, 'part 1 URL with a query');
  assert.ok(
    srv.requests.slice(-3).every((r) => r.endsWith('?rev=main')),
    srv.requests.slice(-3).join(' '),
  );
});

test("from part 1's file: URL", async (t) => {
  await t.test('as a URL object', async () => {
    const { logits, info } = await loadAndEval(pathToFileURL(paths[0]));
    assertBitIdentical(logits, base, 'part 1 file: URL');
    assert.equal(info.splits, 3);
  });
});

test('--no-tensor-in-metadata: a first part with no tensors', async () => {
  for (const [label, src] of [
    ['part 1 path', leanPaths[0]],
    ['list of bytes', lean],
  ]) {
    const { logits, info } = await loadAndEval(src);
    assertBitIdentical(logits, base, label);
    assert.equal(info.splits, 4, label);
    assert.equal(info.nTensors, N_TENSORS, label);
  }
});

// ---- inconsistent parts ----

test('a missing part file → IO naming the missing file; then a fresh load works', async (t) => {
  const dir = path.join(tmp, 'gap');
  const written = await writeParts(dir, parts);
  await rm(written[1]);
  const err = await assertNtkError(Engine.load(written[0]), 'IO', /no such file/, 'missing part 2');
  assert.ok(
    err.message.includes(path.basename(written[1])),
    `the message does not name ${path.basename(written[1])}: ${err.message}`,
  );
  // and over HTTP: the 404 names the part's URL
  const url = srv.url(`/split/gap/${path.basename(written[0])}`);
  const e2 = await assertNtkError(Engine.load(url), 'IO', /HTTP 404/, 'missing part 2 over HTTP');
  assert.ok(e2.message.includes(path.basename(written[1])), `the message does not name part 2: ${e2.message}`);
  await thenFreshLoad(t, 'a missing part');
});

test("parts in the wrong order in a list → FORMAT 'expected part 2'; then a fresh load works", async (t) => {
  for (const [label, src] of [
    ['paths', [paths[0], paths[2], paths[1]]],
    ['bytes', [parts[0], parts[2], parts[1]]],
  ])
    await assertNtkError(Engine.load(src), 'FORMAT', /expected part 2 of 3.*got part 3/, label);
  // the same part twice
  await assertNtkError(
    Engine.load([parts[0], parts[0], parts[2]]),
    'FORMAT',
    /expected part 2 of 3.*got part 1/,
    'part 1 twice',
  );
  await thenFreshLoad(t, 'wrong order');
});

test("loading from part 2 → FORMAT 'first part'; then a fresh load works", async (t) => {
  await assertNtkError(Engine.load(paths[1]), 'FORMAT', /first part/, 'part 2 path');
  await assertNtkError(Engine.load([parts[1], parts[2]]), 'FORMAT', /first part/, 'list from part 2');
  await thenFreshLoad(t, 'part 2 first');
});

test('a list one part short → FORMAT naming the missing part; then a fresh load works', async (t) => {
  const err = await assertNtkError(
    Engine.load([parts[0], parts[1]]),
    'FORMAT',
    /part 3 was not given/,
    'list of 2 of 3',
  );
  // the count in the message: "this model is split in 2 parts but part 3 was not given"
  await t.test('the message gives the number of parts', () => {
    assert.match(err.message, /split in 3 parts/);
  });
  await assertNtkError(Engine.load([paths[0]]), 'FORMAT', /part 2 was not given/, 'list of part 1 only');
  await thenFreshLoad(t, 'list short');
});

test('split.tensors.count wrong → FORMAT; then a fresh load works', async () => {
  for (const wrong of [N_TENSORS - 1, N_TENSORS + 1]) {
    // in every part, as gguf-split writes it (a part that differs from part 1 is from another split)
    const lying = parts.map((p) => {
      const b = p.slice();
      new DataView(b.buffer).setInt32(readGGUF(b).kv['split.tensors.count'].valueOffset, wrong, true);
      return b;
    });
    await assertNtkError(
      Engine.load(lying),
      'FORMAT',
      new RegExp(`split\\.tensors\\.count says ${wrong}\\b.*\\b${N_TENSORS}\\b`),
      `count ${wrong}`,
    );
  }
  await freshLoadWorks('split.tensors.count');
});

test('an unsupported tensor type in part 2 → UNSUPPORTED naming the tensor, before part 2 data is read', async () => {
  const victim = readGGUF(parts[1]).tensors.find((t) => t.dims.length === 2 && t.type === 8); // a Q8_0 matrix of part 2
  // written anew as Q8_1 (36 bytes a block, not 34), so the layout stays that of a GGUF writer
  const p1 = retypeGGUF(parts[1], (t, bytes) =>
    t.name === victim.name
      ? { type: 9, bytes: new Uint8Array(tensorBytes(9, t.dims[0], t.dims[1])) }
      : { type: t.type, bytes },
  );
  const g1 = readGGUF(p1);
  const re = new RegExp(`${victim.name.replace(/\./g, '\\.')}.*Q8_1`);
  // part 2 as an async iterable: its header and tensor table, then (if asked for) its data
  let dataAsked = false;
  async function* part2() {
    yield p1.subarray(0, g1.dataOffset);
    dataAsked = true;
    yield p1.subarray(g1.dataOffset);
  }
  const events = [];
  await assertNtkError(
    Engine.load([parts[0], part2(), parts[2]], { onProgress: (p) => events.push(p) }),
    'UNSUPPORTED',
    re,
    'Q8_1 in part 2',
  );
  assert.equal(dataAsked, false, "part 2's data was read");
  assert.ok(!events.some((e) => e.part === 2 && e.phase === 'tensors'), "a 'tensors' event for part 2");
  // from part 1's path, part 2 patched on disk
  const written = await writeParts(path.join(tmp, 'q81'), [parts[0], p1, parts[2]]);
  await assertNtkError(Engine.load(written[0]), 'UNSUPPORTED', re, 'Q8_1 in part 2, from the path');
  await freshLoadWorks('unsupported type');
});
