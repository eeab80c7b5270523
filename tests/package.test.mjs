// The npm package as a user gets it: `npm pack` holds exactly the files it should (and is small),
// and refuses to pack a tree that make cannot build; once the tarball is installed into a fresh
// project, the installed package loads its bundled model (ntk-wasm/models, and by its public path
// ntk-wasm/models/kjv-tiny-q8_0.gguf) and generates the same greedy tokens as the repo, the
// README's JS example runs as written, `npx ntk-wasm info` works, passkey and perplexity find the
// held-out text the package ships, --help offers no bench (not shipped), a chat works
// (@huggingface/jinja resolved from the installed dependencies), the Engine runs inside a Node
// worker_thread, WorkerEngine ('ntk-wasm/worker') works, and the TypeScript declarations compile
// under --strict with a realistic usage file and reject deliberate misuses (tests/types/).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, mkdir, readFile, readdir, rm, writeFile, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Engine } from '../wasm/engine.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const MAX_TARBALL = 15 * 1024 * 1024;
const PROMPT = 'In the beginning';

// Exactly what the tarball holds: the JS API and its declarations, the worker, the platform
// modules and the browser's thread worker, the CLI, the wasm builds with Node's and the web's glue,
// the held-out text, the one bundled model, README and package.json.
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
  'wasm/models.d.ts',
  'wasm/models.mjs',
  'wasm/options.mjs',
  'wasm/platform.mjs',
  'wasm/platform-node.mjs',
  'wasm/platform-web.mjs',
  'wasm/pthread-worker.mjs',
  'wasm/protocol.mjs',
  'wasm/sandbox.mjs',
  'wasm/synth.mjs',
  'wasm/worker-engine.d.ts',
  'wasm/worker-engine.mjs',
  'wasm/worker.mjs',
  'wasm/build/package.json',
  'wasm/build/abi.mjs',
  'wasm/build/kjv-heldout.txt',
  'wasm/build/ntk.js',
  'wasm/build/ntk.web.mjs',
  'wasm/build/ntk.wasm',
  'wasm/build/ntk-scalar.js',
  'wasm/build/ntk-scalar.web.mjs',
  'wasm/build/ntk-scalar.wasm',
  'wasm/build/ntk-mt.js',
  'wasm/build/ntk-mt.web.mjs',
  'wasm/build/ntk-mt.wasm',
  'wasm/build/ntk-mt.worker.js',
  'wasm/build/ntk-relaxed.js',
  'wasm/build/ntk-relaxed.web.mjs',
  'wasm/build/ntk-relaxed.wasm',
  'wasm/build/ntk-mt-relaxed.js',
  'wasm/build/ntk-mt-relaxed.web.mjs',
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
  // the JSON follows what prepack's make printed
  [packed] = JSON.parse(stdout.slice(stdout.search(/^\[/m)));
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
    for (const t of targets) {
      // a pattern (./models/*) must match a file
      const match = t.includes('*')
        ? [...files].some((f) => f.startsWith(strip(t).split('*')[0]))
        : files.has(strip(t));
      assert.ok(match, `exports["${sub}"] → ${t}`);
    }
  }
  for (const [from, to] of Object.entries(pkg.browser))
    assert.ok(files.has(strip(from)) && files.has(strip(to)), `browser: ${from} → ${to}`);
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
  await writeFile(
    join(project, 'bundled.mjs'),
    `
    import { Engine, NtkError } from 'ntk-wasm';
    import { bundledModelUrl } from 'ntk-wasm/models';
    import { fileURLToPath } from 'node:url';
    const e = await Engine.load(bundledModelUrl);
    const ids = [];
    for await (const t of e.generate(${JSON.stringify(PROMPT)}, { maxTokens: 5, temperature: 0 })) ids.push(t.id);
    const arch = e.info().architecture;
    e.dispose();
    console.log(JSON.stringify({
      model: fileURLToPath(bundledModelUrl),
      publicPath: import.meta.resolve('ntk-wasm/models/kjv-tiny-q8_0.gguf') === bundledModelUrl,
      ids, arch, ntkError: typeof NtkError,
    }));
  `,
  );
  const out = JSON.parse((await node(['bundled.mjs'], project)).stdout);
  assert.equal(out.model, join(project, 'node_modules/ntk-wasm/models/kjv-tiny-q8_0.gguf'));
  assert.equal(out.publicPath, true, 'ntk-wasm/models/kjv-tiny-q8_0.gguf resolves to the same file');
  assert.equal(out.arch, 'internlm2');
  assert.equal(out.ntkError, 'function');
  assert.equal(out.ids.length, 5);
  assert.deepEqual(out.ids, await repoGreedy());
});

test("the README's JS example runs as written in the project", async () => {
  const readme = await readFile(join(root, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## The JS API'));
  const example = section.match(/```js\n([\s\S]*?)```/)[1];
  await writeFile(join(project, 'readme-example.mjs'), example);
  const { stdout, stderr } = await node(['readme-example.mjs'], project);
  const e = await Engine.load(join(root, 'models/kjv-tiny-q8_0.gguf'));
  let text = '';
  for await (const t of e.generate('And it came to pass', { maxTokens: 64, temperature: 0 })) text += t.text;
  e.dispose();
  assert.equal(stdout, text);
  assert.match(stderr, /^RoPE base 10000 at \d+ tokens$/m);
});

test('passkey and perplexity run from the install on the held-out text it ships; --help offers no bench', async () => {
  const npx = (args) => run('npx', ['--no', 'ntk-wasm', ...args], { cwd: project, allowFail: true });
  const passkey = await npx(['passkey', '--len', '300', '--trials', '2', '--json']);
  assert.equal(passkey.code, 0, passkey.stderr);
  assert.deepEqual(Object.keys(JSON.parse(passkey.stdout)), ['len', 'trials', 'correct', 'accuracy']);
  const perplexity = await npx(['perplexity', '--ctx', '64', '--windows', '2', '--json']);
  assert.equal(perplexity.code, 0, perplexity.stderr);
  assert.ok(JSON.parse(perplexity.stdout).ppl > 1);
  assert.match(perplexity.stderr, /^\[310901 tokens in the stream/m, 'the New Testament, tokenized');
  const help = await npx(['--help']);
  assert.doesNotMatch(help.stdout, /ntk-wasm bench|synth and bench/);
  const bench = await npx(['bench']);
  assert.equal(bench.code, 1);
  assert.match(bench.stderr, /bench runs from a clone of the repository/);
});

test('npm pack refuses a tree that make cannot build (no wasm packed silently)', async () => {
  const unbuilt = join(tmp, 'unbuilt');
  await mkdir(unbuilt);
  for (const f of ['package.json', 'Makefile']) await copyFile(join(root, f), join(unbuilt, f));
  const r = await run('npm', ['pack', '--pack-destination', unbuilt], { cwd: unbuilt, allowFail: true });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /npm pack: the package needs the wasm builds of make all/);
  assert.deepEqual(
    (await readdir(unbuilt)).filter((f) => f.endsWith('.tgz')),
    [],
  );
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
