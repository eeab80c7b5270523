// The npm package as a user gets it: `npm pack` holds exactly the files it should (and is small),
// and once the tarball is installed into a fresh project, the installed package loads its bundled
// model and generates the same greedy tokens as the repo, `npx ntk-wasm info` works, a chat works
// (@huggingface/jinja resolved from the installed dependencies), the Engine runs inside a Node
// worker_thread, WorkerEngine ('ntk-wasm/worker') works, and the TypeScript declarations compile
// under --strict with a realistic usage file and reject deliberate misuses (tests/types/).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, mkdir, readFile, rm, writeFile, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Engine } from '../wasm/engine.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const MAX_TARBALL = 15 * 1024 * 1024;
const PROMPT = 'In the beginning';

// Exactly what the tarball holds: the JS API and its declarations, the worker, the CLI, both
// wasm builds, the one bundled model, README and package.json.
const EXPECTED_FILES = [
  'README.md',
  'package.json',
  'models/kjv-tiny-q8_0.gguf',
  'wasm/chat.mjs',
  'wasm/cli.mjs',
  'wasm/cli-args.mjs',
  'wasm/engine.mjs',
  'wasm/errors.mjs',
  'wasm/events.mjs',
  'wasm/evaluate.mjs',
  'wasm/random.mjs',
  'wasm/gguf.mjs',
  'wasm/index.d.ts',
  'wasm/loader.mjs',
  'wasm/options.mjs',
  'wasm/protocol.mjs',
  'wasm/sandbox.mjs',
  'wasm/synth.mjs',
  'wasm/worker-engine.d.ts',
  'wasm/worker-engine.mjs',
  'wasm/worker.mjs',
  'wasm/build/package.json',
  'wasm/build/abi.mjs',
  'wasm/build/ntk.js',
  'wasm/build/ntk.mjs',
  'wasm/build/ntk.wasm',
  'wasm/build/ntk-scalar.js',
  'wasm/build/ntk-scalar.mjs',
  'wasm/build/ntk-scalar.wasm',
  'wasm/build/ntk-mt.js',
  'wasm/build/ntk-mt.mjs',
  'wasm/build/ntk-mt.wasm',
  'wasm/build/ntk-mt.worker.js',
  'wasm/build/ntk-relaxed.js',
  'wasm/build/ntk-relaxed.mjs',
  'wasm/build/ntk-relaxed.wasm',
  'wasm/build/ntk-mt-relaxed.js',
  'wasm/build/ntk-mt-relaxed.mjs',
  'wasm/build/ntk-mt-relaxed.wasm',
  'wasm/build/ntk-mt-relaxed.worker.js',
].sort();

// npm's own variables (set when this runs under `npm test`) must not steer the child npm runs.
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
Object.assign(env, { npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' });

function run(cmd, args, { cwd, allowFail = false } = {}) {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd, env, maxBuffer: 64 << 20, timeout: 120_000 }, (err, stdout, stderr) => {
      const r = { code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr };
      if (err && !allowFail) reject(new Error(`${cmd} ${args.join(' ')} failed (${err.code}):\n${stderr}\n${stdout}`));
      else resolve(r);
    });
  });
}

const node = (args, cwd) => run(process.execPath, args, { cwd });

let tmp, tarball, packed, project;

before(async () => {
  if (['ntk', 'ntk-scalar', 'ntk-mt'].some((b) => !existsSync(join(root, `wasm/build/${b}.wasm`)))) {
    const r = spawnSync('make', ['all'], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
    assert.equal(r.status, 0, 'make all');
  }
  tmp = await mkdtemp(join(tmpdir(), 'ntk-package-'));
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', tmp], { cwd: root });
  [packed] = JSON.parse(stdout.slice(stdout.indexOf('[')));
  tarball = join(tmp, packed.filename);

  project = join(tmp, 'project');
  await mkdir(project);
  await run('npm', ['init', '-y'], { cwd: project });
  await run('npm', ['install', tarball, '--no-audit', '--no-fund', '--prefer-offline'], { cwd: project });
});

after(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

test('the tarball holds exactly the package files and is under 15 MB', async () => {
  const files = packed.files.map((f) => f.path).sort();
  assert.deepEqual(files, EXPECTED_FILES);
  for (const f of files)
    assert.doesNotMatch(f, /^(tests|src|bench|scripts|web|build|node_modules)\/|fixtures|\.c$|\.h$/);
  assert.equal(packed.name, pkg.name);
  assert.ok(packed.size < MAX_TARBALL, `tarball is ${packed.size} bytes`);
  // the bundled model is the repo's, byte for byte
  const installed = await readFile(join(project, 'node_modules/ntk-wasm/models/kjv-tiny-q8_0.gguf'));
  assert.ok(installed.equals(await readFile(join(root, 'models/kjv-tiny-q8_0.gguf'))));
  console.log(
    `# ${packed.filename}: ${files.length} files, ${packed.size} bytes packed, ${packed.unpackedSize} unpacked`,
  );
});

test('package.json points types, exports and bin at files that are in the package', () => {
  const files = new Set(packed.files.map((f) => f.path));
  const strip = (p) => p.replace(/^\.\//, '');
  assert.ok(files.has(strip(pkg.types)));
  for (const [sub, target] of Object.entries(pkg.exports)) {
    const targets = typeof target === 'string' ? [target] : Object.values(target);
    for (const t of targets) assert.ok(files.has(strip(t)), `exports["${sub}"] → ${t}`);
  }
  assert.equal(Object.keys(pkg.exports['.'])[0], 'types', 'the types condition comes first');
  for (const bin of Object.values(pkg.bin)) assert.ok(files.has(strip(bin)));
});

async function repoGreedy() {
  const e = await Engine.load(join(root, 'models/kjv-tiny-q8_0.gguf'));
  try {
    const ids = [];
    for await (const t of e.generate(PROMPT, { maxTokens: 5, temperature: 0 })) ids.push(t.id);
    return ids;
  } finally {
    e.dispose();
  }
}

test("the installed package loads its bundled model and generates the repo's greedy tokens", async () => {
  const script = `
    import('ntk-wasm').then(async ({ Engine, NtkError }) => {
      const model = require.resolve('ntk-wasm/package.json').replace(/package\\.json$/, 'models/kjv-tiny-q8_0.gguf');
      const e = await Engine.load(model);
      const ids = [];
      for await (const t of e.generate(${JSON.stringify(PROMPT)}, { maxTokens: 5, temperature: 0 })) ids.push(t.id);
      const arch = e.info().architecture;
      e.dispose();
      console.log(JSON.stringify({ model, ids, arch, ntkError: typeof NtkError }));
    });`;
  const { stdout } = await node(['-e', script], project);
  const out = JSON.parse(stdout);
  assert.equal(out.model, join(project, 'node_modules/ntk-wasm/models/kjv-tiny-q8_0.gguf'));
  assert.equal(out.arch, 'internlm2');
  assert.equal(out.ntkError, 'function');
  assert.equal(out.ids.length, 5);
  assert.deepEqual(out.ids, await repoGreedy());
});

test('npx ntk-wasm info works in the project', async () => {
  const r = await run('npx', ['--no', 'ntk-wasm', 'info'], { cwd: project, allowFail: true });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^architecture\s+internlm2\b/m);
  const j = await run('npx', ['--no', 'ntk-wasm', 'info', '--json'], { cwd: project });
  assert.equal(JSON.parse(j.stdout).architecture, 'internlm2');
});

test('a chat works with @huggingface/jinja from the installed dependencies', async () => {
  assert.ok(
    existsSync(join(project, 'node_modules/@huggingface/jinja/package.json')),
    'jinja installed as a dependency',
  );
  const script = `
    import('ntk-wasm').then(async ({ Engine }) => {
      const e = await Engine.load(require.resolve('ntk-wasm/package.json').replace(/package\\.json$/, 'models/kjv-tiny-q8_0.gguf'));
      const messages = [{ role: 'user', content: 'Who begat Enos?' }];
      let text = '', n = 0;
      for await (const t of e.chat(messages, { maxTokens: 8, temperature: 0 })) { text += t.text; n++; }
      console.log(JSON.stringify({ text, n, nCtx: e.nCtx }));
      e.dispose();
    });`;
  const out = JSON.parse((await node(['-e', script], project)).stdout);
  assert.ok(out.n >= 1 && out.n <= 8, `tokens: ${out.n}`);
  assert.ok(out.nCtx > 10, 'the rendered conversation is in context');
});

test('the Engine runs inside a Node worker_thread of the project, and WorkerEngine from ntk-wasm/worker', async () => {
  const expected = await repoGreedy();
  await writeFile(
    join(project, 'in-thread.mjs'),
    `
    import { Worker, isMainThread, parentPort } from 'node:worker_threads';
    import { createRequire } from 'node:module';
    if (isMainThread) {
      const w = new Worker(new URL(import.meta.url));
      w.once('message', (ids) => { console.log(JSON.stringify(ids)); });
      w.once('error', (e) => { console.error(e); process.exitCode = 1; });
    } else {
      const { Engine } = await import('ntk-wasm');
      const model = createRequire(import.meta.url).resolve('ntk-wasm/package.json').replace(/package\\.json$/, 'models/kjv-tiny-q8_0.gguf');
      const e = await Engine.load(model);
      const ids = [];
      for await (const t of e.generate(${JSON.stringify(PROMPT)}, { maxTokens: 5, temperature: 0 })) ids.push(t.id);
      e.dispose();
      parentPort.postMessage(ids);
    }
  `,
  );
  assert.deepEqual(JSON.parse((await node(['in-thread.mjs'], project)).stdout), expected);

  await writeFile(
    join(project, 'worker-engine.mjs'),
    `
    import { WorkerEngine, NtkError } from 'ntk-wasm/worker';
    import { createRequire } from 'node:module';
    const model = createRequire(import.meta.url).resolve('ntk-wasm/package.json').replace(/package\\.json$/, 'models/kjv-tiny-q8_0.gguf');
    const w = await WorkerEngine.load(model);
    const ids = [];
    for await (const t of w.generate(${JSON.stringify(PROMPT)}, { maxTokens: 5, temperature: 0 })) ids.push(t.id);
    const arch = (await w.info()).architecture;
    await w.dispose();
    console.log(JSON.stringify({ ids, arch, ntkError: typeof NtkError }));
  `,
  );
  const out = JSON.parse((await node(['worker-engine.mjs'], project)).stdout);
  assert.deepEqual(out, { ids: expected, arch: 'internlm2', ntkError: 'function' });
});

// ---- TypeScript: the declarations, as the installed package gives them ----

const tsc = join(root, 'node_modules/typescript/bin/tsc');
const TSC_FLAGS = [
  '--noEmit',
  '--strict',
  '--target',
  'es2022',
  '--lib',
  'es2022,dom',
  '--types',
  '',
  '--pretty',
  'false',
];
const NODENEXT = ['--module', 'nodenext', '--moduleResolution', 'nodenext', '--resolveJsonModule'];

async function typesDir() {
  const dir = join(project, 'types');
  if (!existsSync(dir)) {
    await mkdir(dir);
    // the fixtures are ES modules, as the package is
    await writeFile(join(dir, 'package.json'), '{ "type": "module" }\n');
    for (const f of ['usage.ts', 'misuse.ts']) await copyFile(join(root, 'tests/types', f), join(dir, f));
  }
  return dir;
}

test('tsc --strict compiles a usage of every API piece against the installed types', async () => {
  assert.ok(existsSync(tsc), 'typescript is a devDependency: npm ci');
  const dir = await typesDir();
  const r = await run(process.execPath, [tsc, ...TSC_FLAGS, ...NODENEXT, 'usage.ts'], { cwd: dir, allowFail: true });
  assert.equal(r.code, 0, `usage.ts (nodenext):\n${r.stdout}${r.stderr}`);
  // bundlers resolve through the same "types" conditions
  const b = await run(
    process.execPath,
    [tsc, ...TSC_FLAGS, '--module', 'preserve', '--moduleResolution', 'bundler', '--resolveJsonModule', 'usage.ts'],
    { cwd: dir, allowFail: true },
  );
  assert.equal(b.code, 0, `usage.ts (bundler):\n${b.stdout}${b.stderr}`);
});

test('the types reject misuses: every @ts-expect-error line of misuse.ts is an error', async () => {
  const dir = await typesDir();
  const r = await run(process.execPath, [tsc, ...TSC_FLAGS, ...NODENEXT, 'misuse.ts'], { cwd: dir, allowFail: true });
  assert.equal(r.code, 0, `an unused @ts-expect-error means a misuse type-checks:\n${r.stdout}${r.stderr}`);

  // without the directives, the errors are exactly on the lines that had one
  const source = await readFile(join(dir, 'misuse.ts'), 'utf8');
  const lines = source.split('\n');
  const expected = [];
  const bare = lines.map((l, i) => {
    if (!/^\s*\/\/ @ts-expect-error/.test(l)) return l;
    expected.push(i + 2); // 1-based number of the line after the directive
    return '// (directive removed)';
  });
  assert.ok(expected.length >= 15, `misuse.ts has ${expected.length} directives`);
  await writeFile(join(dir, 'misuse-bare.ts'), bare.join('\n'));
  const b = await run(process.execPath, [tsc, ...TSC_FLAGS, ...NODENEXT, 'misuse-bare.ts'], {
    cwd: dir,
    allowFail: true,
  });
  assert.notEqual(b.code, 0, 'misuses without the directives fail to compile');
  const errorLines = [
    ...new Set([...b.stdout.matchAll(/^misuse-bare\.ts\((\d+),\d+\): error TS\d+/gm)].map((m) => Number(m[1]))),
  ];
  assert.deepEqual(
    errorLines.sort((x, y) => x - y),
    expected,
    b.stdout,
  );
});
