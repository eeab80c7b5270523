// The evaluation commands (wasm/evaluate.mjs, `ntk-wasm perplexity` and `ntk-wasm passkey`)
// against tests/fixtures/kjv-tiny/EVAL.md: perplexity cells at 256 and 512 tokens with its 20
// windows, passkey retrieval at 512 tokens, and the CLI's JSON and usage errors.
// The longer cells (1024 and up) take minutes on a small machine: they are measured by hand (README).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { Engine, ROOT, FIXTURES, model } from './helpers.mjs';
import { perplexity, readU16, windowStarts, passkeyMinLength } from '../wasm/evaluate.mjs';

const cli = join(ROOT, 'wasm/cli.mjs');
const heldOutPath = join(FIXTURES, 'heldout_ids.u16');
const heldOut = readU16(heldOutPath);

function run(args) {
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, ...args], { maxBuffer: 16 << 20 }, (err, stdout, stderr) =>
      resolve({ code: err ? err.code : 0, stdout, stderr }),
    );
  });
}

const engine = await Engine.load(model('f32'));
test.after(() => engine.dispose());

test('heldout_ids.u16 is the stream EVAL.md describes', () => {
  assert.equal(heldOut.length, 310900);
});

test('window starts follow numpy: floor(linspace(0, N - L, W))', () => {
  const s = windowStarts(310900 - 256, 20);
  assert.equal(s.length, 20);
  assert.equal(s[0], 0);
  assert.equal(s[19], 310900 - 256);
  assert.equal(s[1], Math.floor(310644 / 19)); // 16349.68…
  assert.deepEqual(windowStarts(9, 4), [0, 3, 6, 9]);
  assert.deepEqual(windowStarts(10, 4), [0, 3, 6, 10]);
  assert.deepEqual(windowStarts(7, 1), [0]);
});

// EVAL.md (a): for L <= 512 every rope setting gives the same cell
for (const [ctx, ppl, nll] of [
  [256, 156.9, 5.056],
  [512, 123.1, 4.813],
]) {
  test(`perplexity at ${ctx} tokens, 20 windows: EVAL.md's ${ppl} (NLL ${nll}) within 1%`, () => {
    const r = perplexity(engine, heldOut, { ctx });
    assert.equal(r.windows, 20);
    assert.equal(r.windowNll.length, 20);
    assert.ok(Math.abs(r.ppl / ppl - 1) < 0.01, `ppl ${r.ppl} vs ${ppl}`);
    assert.ok(Math.abs(r.nll / nll - 1) < 0.01, `nll ${r.nll} vs ${nll}`);
    assert.equal(engine.nCtx, 0, 'the context is left empty');
  });
}

test('perplexity --json agrees with perplexity()', async () => {
  const r = await run([
    'perplexity',
    model('f32'),
    '--tokens',
    heldOutPath,
    '--ctx',
    '256',
    '--windows',
    '3',
    '--json',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const got = JSON.parse(r.stdout);
  assert.deepEqual(Object.keys(got), ['ctx', 'windows', 'nll', 'ppl']);
  const want = perplexity(engine, heldOut, { ctx: 256, windows: 3 });
  assert.equal(got.ctx, 256);
  assert.equal(got.windows, 3);
  assert.ok(Math.abs(got.nll - want.nll) < 1e-9, `${got.nll} vs ${want.nll}`);
  assert.ok(Math.abs(got.ppl - want.ppl) < 1e-6);
});

test('passkey --len 512, 10 trials: at least 9 right (EVAL.md: 50/50), well-formed JSON', async () => {
  const r = await run(['passkey', model('f32'), '--len', '512', '--trials', '10', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const got = JSON.parse(r.stdout);
  assert.deepEqual(Object.keys(got), ['len', 'trials', 'correct', 'accuracy']);
  assert.equal(got.len, 512);
  assert.equal(got.trials, 10);
  assert.ok(Number.isInteger(got.correct) && got.correct >= 9, `${got.correct}/10`);
  assert.equal(got.accuracy, got.correct / 10);
});

test('--help describes perplexity and passkey', async () => {
  const r = await run(['--help']);
  assert.equal(r.code, 0);
  for (const s of ['ntk-wasm perplexity', 'ntk-wasm passkey', '--tokens FILE.u16', '--windows', '--trials', '--corpus'])
    assert.ok(r.stdout.includes(s), `help mentions ${s}`);
});

test('bad evaluation options exit 1 with a clear message', async () => {
  const cases = [
    [['perplexity', model('f32'), '--tokens', heldOutPath, '--ctx', '0'], /--ctx must be an integer >= 2, got 0/],
    [['perplexity', model('f32'), '--tokens', heldOutPath, '--file', heldOutPath, '--ctx', '256'], /not both/],
    [['perplexity', model('f32'), '--tokens', heldOutPath], /needs --ctx/],
    [
      ['perplexity', model('f32'), '--tokens', heldOutPath, '--ctx', '256', '--windows', '0'],
      /--windows must be an integer >= 1, got 0/,
    ],
    [['passkey', model('f32'), '--len', '5'], new RegExp(`len 5 is too short.*${passkeyMinLength(engine)} tokens`)],
    [['passkey', model('f32')], /needs --len/],
    [['passkey', model('f32'), '--len', '512', '--ctx', '9'], /--ctx is not an option of passkey/],
  ];
  const results = await Promise.all(cases.map(([args]) => run(args)));
  for (const [i, r] of results.entries()) {
    assert.equal(r.code, 1, `${cases[i][0].join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, cases[i][1]);
    assert.equal(r.stdout, '');
  }
});

test('a missing --tokens file is a file error (exit 2)', async () => {
  const r = await run(['perplexity', model('f32'), '--tokens', '/nonexistent.u16', '--ctx', '256']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /no such file/);
});
