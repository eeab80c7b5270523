// Hostile model files (issue 12), made by tests/hostile/make-files.mjs: what llama.cpp refuses
// (a key or tensor given twice, tensor data that overlaps or leaves gaps), metadata of the wrong
// type, split parts that do not belong together, each a clear error naming the key or tensor; and
// weights that make non-finite logits, a RUNTIME error that leaves the context as it was. The CLI
// exits 2 for a bad file, 3 for a runtime failure, and names the tensor it stops at.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Engine, ROOT, model, assertNtkError, collect } from './helpers.mjs';
import { hostileFiles } from './hostile/make-files.mjs';

const FILES = hostileFiles();
const PROMPT = [1, 400, 500, 600]; // the positions of make-files.mjs's messages
const byName = (name) => FILES.find((f) => f.name === name);

for (const f of FILES.filter((x) => x.stage === 'load'))
  test(`${f.name} (${f.what}) → ${f.code}`, async () => {
    await assertNtkError(Engine.load(f.source), f.code, f.message, f.name);
  });

test('after the refused files, the good file loads and runs', async () => {
  const e = await Engine.load(model('q8_0'));
  assert.equal(e.evaluate(PROMPT).length, 4096);
  e.dispose();
});

for (const f of FILES.filter((x) => x.stage === 'evaluate'))
  test(`${f.name} (${f.what}) → ${f.code} from evaluate and generate; the context is kept`, async () => {
    const e = await Engine.load(f.source);
    try {
      await assertNtkError(() => e.evaluate(PROMPT), f.code, f.message, `${f.name}: evaluate`);
      assert.equal(e.nCtx, 0, 'the failed evaluation left nothing in the context');
      await assertNtkError(
        () => collect(e.generate(PROMPT, { maxTokens: 4, temperature: 0 })),
        f.code,
        f.message,
        `${f.name}: generate`,
      );
      assert.equal(e.nCtx, 0, 'nor did the failed generation');
      await assertNtkError(
        () => e.evaluate(PROMPT, { allLogits: true }),
        f.code,
        /at position 0$/,
        `${f.name}: every position's logits: the first is named`,
      );
    } finally {
      e.dispose();
    }
  });

// ---- the CLI ----

function cli(args) {
  return new Promise((resolve) =>
    execFile(process.execPath, [path.join(ROOT, 'wasm/cli.mjs'), ...args], (err, stdout, stderr) =>
      resolve({ code: err ? err.code : 0, stdout, stderr }),
    ),
  );
}

test('the CLI: a bad file exits 2 naming the tensor; non-finite logits exit 3', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'ntk-hostile-'));
  try {
    const cases = [
      ['offset-2^50', ['info'], 2],
      ['tensor-past-eof', ['info'], 2],
      ['duplicate-key', ['info'], 2],
      ['nan-output-norm', ['run', '-p', 'In the beginning', '-n', '4', '--temp', '0'], 3],
    ];
    for (const [name, [cmd, ...args], code] of cases) {
      const f = byName(name),
        file = path.join(dir, `${name}.gguf`);
      await writeFile(file, f.source);
      const r = await cli([cmd, file, ...args]);
      assert.equal(r.code, code, `${name}: exit ${r.code}, stderr ${r.stderr}`);
      assert.match(r.stderr, f.message, name);
      assert.doesNotMatch(r.stderr, /'\?'/, `${name}: a tensor named '?'`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
