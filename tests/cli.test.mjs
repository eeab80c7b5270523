// The ntk-wasm CLI as a user runs it: outputs checked against the fixtures, and every bad input a
// clear message with the documented exit code (0 ok, 1 usage, 2 model/file, 3 runtime).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = join(root, 'wasm/cli.mjs');
const model = (name) => join(root, 'models', `kjv-tiny-${name}.gguf`);
const fixture = async (name) => JSON.parse(await readFile(join(root, 'tests/fixtures/kjv-tiny', name), 'utf8'));
const tmp = await mkdtemp(join(tmpdir(), 'ntk-cli-'));

function run(args) {
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, ...args], { maxBuffer: 64 << 20 }, (err, stdout, stderr) =>
      resolve({ code: err ? err.code : 0, stdout, stderr }));
  });
}

async function promptFile(name, ids) {
  const path = join(tmp, name);
  await writeFile(path, JSON.stringify(ids));
  return path;
}

test('--help lists every command and the exit codes', async () => {
  const r = await run(['--help']);
  assert.equal(r.code, 0);
  for (const s of ['run', 'logits', 'tokenize', 'info', '--rope-mode', '--prompt-tokens', 'Exit codes'])
    assert.ok(r.stdout.includes(s), `help mentions ${s}`);
});

test('run --json: greedy tokens, nCtx and base follow the references past the trained length', async () => {
  const ref = await fixture('reference.json');
  const cont = await fixture('continuations.json');
  const c = cont.continuations[0];
  const file = await promptFile('p0.json', c.prompt_ids);
  for (const [mode, want] of [['consistent', c.consistent.tokens], ['cached', ref.prompts[0].continuations[0].cached.tokens]]) {
    const r = await run(['run', model('f32'), '--prompt-tokens', file, '-n', '8', '--temp', '0', '--rope-mode', mode, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const items = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(items.map((t) => t.id), want.slice(0, 8), mode);
    assert.deepEqual(items.map((t) => t.nCtx), [...Array(8).keys()].map((i) => c.prompt_len + i));
    // base(1400) from the fixture's own record of the bases it used
    assert.ok(Math.abs(items[0].base - c.bases.prefill) / c.bases.prefill < 1e-9, `base ${items[0].base}`);
    assert.ok(items[7].base > items[0].base, 'the base grows with the context');
  }
});

test('run with a seed is reproducible, text starts with the prompt', async () => {
  const args = ['run', '-p', 'And it came to pass', '-n', '24', '--temp', '0.9', '--seed', '7'];
  const a = await run(args), b = await run(args);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(a.stdout, b.stdout);
  assert.ok(a.stdout.startsWith('And it came to pass'));
  assert.match(a.stderr, /decode 24 tokens/);
});

test('logits: top-10 lists at chosen positions match transformers', async () => {
  const ref = await fixture('reference.json');
  const run100 = ref.prompts[0].runs[0];
  const file = await promptFile('r100.json', run100.token_ids);
  const wanted = run100.top10.filter((t) => [0, 32, 99].includes(t.pos));
  const r = await run(['logits', model('f32'), '--prompt-tokens', file, '--at', '0,32,99', '--top', '10']);
  assert.equal(r.code, 0, r.stderr);
  const got = JSON.parse(r.stdout);
  assert.deepEqual(got.map((g) => g.pos), [0, 32, 99]);
  for (const [i, w] of wanted.entries()) {
    const tol = 1e-3 * Math.max(...w.top.map(([, l]) => Math.abs(l)));
    const byId = new Map(got[i].top.map(([id, l]) => [id, l]));
    for (const [id, logit] of w.top) {
      // a near tie may swap the 10th id with the 11th; every other id must be listed
      if (!byId.has(id)) { assert.ok(Math.abs(logit - w.top[9][1]) < tol, `id ${id} missing at pos ${w.pos}`); continue; }
      assert.ok(Math.abs(byId.get(id) - logit) <= tol, `pos ${w.pos} id ${id}: ${byId.get(id)} vs ${logit}`);
    }
  }
});

test('tokenize --json equals the SentencePiece ids', async () => {
  const { cases } = await fixture('tokenizer.json');
  for (const c of cases.slice(20)) {
    const r = await run(['tokenize', c.text, '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), c.ids, JSON.stringify(c.text));
  }
  const plain = await run(['tokenize', model('q4_0'), 'In the']);
  assert.match(plain.stdout, /^\d+\t"▁In"\n\d+\t"▁the"\n$/);
});

test('info says what RoPE scaling is in force and where it comes from', async () => {
  const a = await run(['info']);
  assert.equal(a.code, 0, a.stderr);
  assert.match(a.stdout, /architecture\s+internlm2/);
  assert.match(a.stdout, /dynamic NTK, consistent cache, factor 2 \(from the file\)/);
  const b = await run(['info', model('llama-q8_0'), '--json']);
  const info = JSON.parse(b.stdout);
  assert.equal(info.architecture, 'llama');
  assert.equal(info.rope.mode, 'none');
  assert.equal(info.rope.modeSource, 'default');
  const c = await run(['info', model('llama-q8_0'), '--rope-mode', 'cached', '--rope-factor', '3', '--json']);
  assert.deepEqual([JSON.parse(c.stdout).rope.mode, JSON.parse(c.stdout).rope.factor], ['cached', 3]);
});

test('bad input: clear message, documented exit code', async () => {
  const good = await readFile(model('q4_0'));
  const truncated = join(tmp, 'truncated.gguf');
  await writeFile(truncated, good.subarray(0, good.length - 4096));
  const empty = join(tmp, 'empty.gguf');
  await writeFile(empty, '');
  const text = join(tmp, 'notes.gguf');
  await writeFile(text, 'just some text, not a model\n');
  const badIds = await promptFile('bad-ids.json', [1, 2, 99999]);
  const notJson = join(tmp, 'not.json');
  await writeFile(notJson, '[1, 2,');
  const cases = [
    [['run', '-p', 'x', '-n', '-5'], 1, /maxTokens must be an integer/],
    [['run', '-p', 'x', '--bogus'], 1, /unknown option --bogus/],
    [['run'], 1, /a prompt is needed/],
    [['frobnicate'], 1, /unknown command/],
    [['run', '-p', 'x', '--rope-mode', 'dynamic'], 1, /ropeMode must be one of/],
    [['run', '-p', 'x', '--rope-factor', '0.5'], 1, /ropeFactor must be/],
    [['run', '-p', 'x', '--top-p', '1.5'], 1, /topP must be/],
    [['run', '-p', 'x', '-n', 'many'], 1, /must be an integer, got "many"/],
    [['logits', '-p', 'x'], 1, /--at POSITIONS is needed/],
    [['logits', '-p', 'In the beginning', '--at', '50'], 1, /outside the prompt/],
    [['run', '--prompt-tokens', notJson], 1, /prompt-tokens/],
    [['info', join(tmp, 'missing.gguf')], 2, /no such file/],
    [['info', empty], 2, /file is empty/],
    [['info', text], 2, /not a GGUF file/],
    [['info', truncated], 2, /truncated at byte \d+, in tensor data/],
    [['info', model('q4_k_m')], 2, /tensor \S+ has type Q\d_K/],
    [['run', '--prompt-tokens', badIds], 3, /token id 99999 .*out of range/],
  ];
  for (const [args, code, message] of cases) {
    const r = await run(args);
    assert.equal(r.code, code, `${args.join(' ')}: exit ${r.code}, stderr ${r.stderr}`);
    assert.match(r.stderr, message, args.join(' '));
    assert.doesNotMatch(r.stderr, /internal error|at .*\.mjs:\d+/, 'no stack trace for bad input');
  }
});
