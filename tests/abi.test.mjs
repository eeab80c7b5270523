// wasm/build/abi.mjs, which make writes from the C sources (scripts/abi.c), against those
// sources read as text here (api.h's status list, the RoPE and KV enums, sampler_defaults) and
// against what the engine says at run time: the JS side and the C side name things alike.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import path from 'node:path';
import { STATUS, ROPE_MODES, KV_TYPES, MAX_THREADS, SAMPLING_DEFAULTS, GGML_TYPES } from '../wasm/build/abi.mjs';
import { Engine, model, ROOT } from './helpers.mjs';

const src = (name) => readFileSync(path.join(ROOT, 'src', name), 'utf8');
const cFiles = (dir) =>
  existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => /\.[ch]$/.test(f))
        .map((f) => path.join(dir, f))
    : [];
const allC = [...cFiles(path.join(ROOT, 'src')), ...cFiles(path.join(ROOT, 'src/kernels'))]
  .map((f) => readFileSync(f, 'utf8'))
  .join('\n');

test('STATUS: every error status api.h lists, and every one the engine returns', () => {
  const listed = Object.fromEntries(
    [...src('api.h').matchAll(/X\((\w+), (-\d+)\)/g)].map(([, name, value]) => [value, name]),
  );
  assert.ok(Object.keys(listed).length >= 7, 'api.h lists its statuses');
  assert.deepEqual(STATUS, listed);
  const used = new Set([...allC.matchAll(/NTK_ERR_([A-Z_]+)/g)].map((m) => m[1]));
  for (const name of used) assert.ok(Object.values(STATUS).includes(name), `NTK_ERR_${name} is in STATUS`);
});

test('ROPE_MODES and KV_TYPES: the C enums, in value order', () => {
  const enumNames = (prefix) =>
    [...allC.matchAll(new RegExp(`\\b${prefix}(\\w+) = (\\d+)`, 'g'))]
      .sort((a, b) => a[2] - b[2])
      .map((m) => m[1].toLowerCase());
  assert.deepEqual(ROPE_MODES, enumNames('ROPE_'));
  assert.deepEqual(KV_TYPES, enumNames('NTK_KV_'));
  assert.equal(MAX_THREADS, Number(/#define NTK_MAX_THREADS (\d+)/.exec(src('api.h'))[1]));
});

test('SAMPLING_DEFAULTS: sampler_defaults, field by field', () => {
  const body = /void sampler_defaults\(sampler_params \*p\)\s*\{([^}]*)\}/.exec(src('sampler.c'))[1];
  const fields = Object.fromEntries([...body.matchAll(/p->(\w+) = ([\d.]+)f?;/g)].map(([, k, v]) => [k, Number(v)]));
  const camel = (k) => k.replace(/_(\w)/g, (_, c) => c.toUpperCase());
  const want = Object.fromEntries(
    Object.entries(fields)
      .filter(([k]) => k !== 'seed')
      .map(([k, v]) => [camel(k), v]),
  );
  assert.deepEqual(Object.keys(SAMPLING_DEFAULTS).sort(), Object.keys(want).sort());
  // the C fields are floats: the JS numbers must be the same floats
  for (const [k, v] of Object.entries(want)) assert.equal(Math.fround(SAMPLING_DEFAULTS[k]), Math.fround(v), k);
  assert.equal(SAMPLING_DEFAULTS.temperature, 0.8, 'printed as the shortest decimal of the float');
});

test('GGML_TYPES: one row per id ggml defines, and the types of the bundled models run', async () => {
  assert.deepEqual(
    GGML_TYPES.map((t) => t.id),
    GGML_TYPES.map((_, i) => i),
  );
  assert.equal(new Set(GGML_TYPES.map((t) => t.name)).size, GGML_TYPES.length, 'names are unique');
  assert.deepEqual(
    GGML_TYPES.find((t) => t.name === 'Q6_K'),
    { id: 14, name: 'Q6_K', blockSize: 256, typeBytes: 210, runs: true },
  );
  assert.deepEqual(
    GGML_TYPES.find((t) => t.name === 'IQ4_NL'),
    { id: 20, name: 'IQ4_NL', blockSize: 32, typeBytes: 18, runs: false },
  );
  for (const t of GGML_TYPES) if (t.runs) assert.ok(t.blockSize > 0, `${t.name} runs and has a size`);
  for (const f of ['f16', 'q4_0', 'q4_k_m', 'q5_k_m', 'q6_k']) {
    const e = await Engine.load(model(f));
    for (const name of Object.keys(e.info().tensorTypes))
      assert.ok(GGML_TYPES.find((t) => t.name === name)?.runs, `${f}: ${name} is a type that runs`);
    e.dispose();
  }
});

test("the engine's info names RoPE modes and KV types as abi.mjs does", async () => {
  for (const kvType of KV_TYPES) {
    const e = await Engine.load(model('q8_0'), { kvType });
    const info = e.info();
    assert.equal(info.kvType, kvType);
    assert.deepEqual(Object.keys(info.contextFitByKvType), KV_TYPES);
    assert.ok(ROPE_MODES.includes(info.rope.mode), info.rope.mode);
    e.dispose();
  }
  for (const ropeMode of ROPE_MODES) {
    const e = await Engine.load(model('q8_0'), { ropeMode });
    assert.equal(e.info().rope.mode, ropeMode);
    e.dispose();
  }
});
