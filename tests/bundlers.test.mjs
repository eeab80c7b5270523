// The package in an app, built by the bundlers people use, from the packed tarball (npm pack,
// installed into a fresh project): Vite and webpack with no configuration at all, esbuild with
// the README's commands, and Vite's dev server (which pre-bundles the dependency). Each app runs
// in Chromium on a cross-origin isolated page: Engine on the main thread and WorkerEngine, with one
// and two threads, load the bundled model (ntk-wasm/models) and give the text Node's Engine
// gives. Vite's build with its thread worker made unloadable (a 404) fails a named build within
// seconds and runs build auto on one thread.
//
// The bundlers are the repository's devDependencies, linked into the project's node_modules so
// that the README's `npx ...` lines find them there.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, mkdir, readdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Engine, collect, ROOT } from './helpers.mjs';
import { startServer } from '../scripts/serve.mjs';
import { launch, SKIP } from './browser/chromium.mjs';

const PROMPT = 'In the beginning';
const MAX_TOKENS = 12;
const BUNDLERS = ['vite', 'webpack', 'webpack-cli', 'esbuild'];
const RUNS = [
  ['main', 1],
  ['worker', 1],
  ['main', 2],
  ['worker', 2],
];

// The app: what a page of one's own does with the package, its runs reachable by the test.
const APP = `import { Engine } from 'ntk-wasm';
import { WorkerEngine } from 'ntk-wasm/worker';
import { bundledModelUrl } from 'ntk-wasm/models';

window.ntkApp = {
  async run({ kind, threads, build, prompt, maxTokens }) {
    let engine;
    try {
      engine = await (kind === 'worker' ? WorkerEngine : Engine).load(bundledModelUrl, { threads, ...(build && { build }) });
      let text = '';
      for await (const t of engine.generate(prompt, { maxTokens, temperature: 0 })) text += t.text;
      return { text, threads: (await engine.info()).threads };
    } catch (e) {
      return { error: { code: e.code, message: String(e.message ?? e) } };
    } finally {
      await engine?.dispose();
    }
  },
};
document.body.dataset.ready = 'true';
`;
const page = (script) => `<!doctype html>
<html><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>app</title>${script}</head><body></body></html>
`;

// npm's own variables (set when this runs under `npm test`) must not steer the child npm runs.
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
Object.assign(env, { npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' });

function sh(command, cwd) {
  const bin = path.join(cwd, 'node_modules/.bin');
  const options = { cwd, env: { ...env, PATH: `${bin}:${env.PATH}` }, maxBuffer: 64 << 20, timeout: 180_000 };
  return new Promise((resolve, reject) => {
    execFile('sh', ['-ec', command], options, (err, stdout, stderr) => {
      if (err) reject(new Error(`${command} failed (${err.code}):\n${stderr}\n${stdout}`));
      else resolve({ stdout, stderr });
    });
  });
}

/**
 * The README's commands: the line of a sh block that holds `marker`, or with whole the block
 * (continued lines joined). `npx x` runs the project's x (the linked bundler), as npx would.
 */
function readmeCommands(marker, { whole = false } = {}) {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const block = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]).find((b) => b.includes(marker));
  assert.ok(block, `README has a sh block with ${marker}`);
  const lines = block.replace(/\\\n\s*/g, '').split('\n');
  return (whole ? lines : lines.filter((l) => l.includes(marker))).join('\n').replace(/^npx /gm, '');
}

let tmp, project, browser, expected;
const servers = [];

before(async () => {
  if (SKIP) return;
  const engine = await Engine.load(path.join(ROOT, 'models/kjv-tiny-q8_0.gguf'));
  try {
    const items = await collect(engine.generate(PROMPT, { maxTokens: MAX_TOKENS, temperature: 0 }));
    expected = items.map((x) => x.text).join('');
  } finally {
    engine.dispose();
  }
  tmp = await mkdtemp(path.join(tmpdir(), 'ntk-bundlers-'));
  const { stdout } = await sh(`npm pack --json --pack-destination ${tmp}`, ROOT);
  const [packed] = JSON.parse(stdout.slice(stdout.search(/^\[/m)));
  project = path.join(tmp, 'app');
  await mkdir(path.join(project, 'src'), { recursive: true });
  await writeFile(path.join(project, 'package.json'), '{ "name": "app", "private": true, "type": "module" }\n');
  await sh(`npm install ${path.join(tmp, packed.filename)} --no-audit --no-fund --prefer-offline`, project);
  for (const name of BUNDLERS)
    await symlink(path.join(ROOT, 'node_modules', name), path.join(project, 'node_modules', name));
  await mkdir(path.join(project, 'node_modules/.bin'), { recursive: true });
  for (const [bin, target] of [
    ['vite', 'vite/bin/vite.js'],
    ['webpack', 'webpack-cli/bin/cli.js'],
    ['esbuild', 'esbuild/bin/esbuild'],
  ])
    await symlink(path.join('..', target), path.join(project, 'node_modules/.bin', bin));
  await writeFile(path.join(project, 'src/index.js'), APP);
  await writeFile(path.join(project, 'index.html'), page('<script type="module" src="/src/index.js"></script>'));
  browser = await launch();
});

after(async () => {
  await browser?.close();
  for (const s of servers) await s.close();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

/** A build's output folder, dist/ renamed for the bundler; the page written if the bundler writes none. */
async function takeDist(name, script) {
  const out = path.join(project, `dist-${name}`);
  await rename(path.join(project, 'dist'), out);
  if (script) await writeFile(path.join(out, 'index.html'), page(script));
  return out;
}

/** Open url in a new tab and run each of RUNS there; asserts the text of each. */
async function assertRuns(url, label) {
  const tab = await browser.context.newPage();
  try {
    await tab.goto(url);
    await tab.waitForFunction(() => document.body?.dataset.ready === 'true', null, { timeout: 30_000 });
    assert.equal(await tab.evaluate(() => crossOriginIsolated), true, `${label}: cross-origin isolated`);
    for (const [kind, threads] of RUNS) {
      const got = await tab.evaluate((a) => window.ntkApp.run(a), {
        kind,
        threads,
        prompt: PROMPT,
        maxTokens: MAX_TOKENS,
      });
      assert.ok(!got.error, `${label}, ${kind}, ${threads} thread(s): ${got.error?.code}: ${got.error?.message}`);
      assert.equal(got.text, expected, `${label}, ${kind}, ${threads} thread(s): the text`);
      assert.equal(got.threads, threads, `${label}, ${kind}: threads in use`);
    }
  } finally {
    await tab.close();
  }
}

async function serve(root, routes) {
  const server = await startServer({ root, routes });
  servers.push(server);
  return server;
}

test('Vite, no configuration: vite build', { skip: SKIP, timeout: 120_000 }, async () => {
  const { stdout, stderr } = await sh(readmeCommands('npx vite build'), project);
  assert.doesNotMatch(stdout + stderr, /warn|error/i);
  const out = await takeDist('vite');
  await assertRuns((await serve(out)).url('/'), 'vite build');
});

test(
  "Vite's build with its thread worker unloadable: a named build fails within seconds, build auto runs one thread",
  { skip: SKIP, timeout: 60_000 },
  async () => {
    const out = path.join(project, 'dist-vite');
    const [worker] = (await readdir(path.join(out, 'assets'))).filter((f) => /^pthread-worker.*\.js$/.test(f));
    assert.ok(worker, 'the thread worker is a file of its own, not inlined');
    const server = await serve(out, { [`/assets/${worker}`]: null });
    const tab = await browser.context.newPage();
    try {
      await tab.goto(server.url('/'));
      await tab.waitForFunction(() => document.body?.dataset.ready === 'true');
      for (const kind of ['main', 'worker']) {
        const t0 = Date.now();
        const run = (build) =>
          tab.evaluate((a) => window.ntkApp.run(a), { kind, threads: 2, build, prompt: PROMPT, maxTokens: MAX_TOKENS });
        const failed = await run('simd');
        assert.equal(failed.error?.code, 'RUNTIME', `${kind}: ${JSON.stringify(failed)}`);
        assert.match(failed.error.message, /workers did not start/);
        assert.ok(Date.now() - t0 < 5000, `${kind}: it took ${Date.now() - t0} ms to fail`);
        assert.deepEqual(await run(undefined), { text: expected, threads: 1 }, `${kind}: build auto`);
      }
    } finally {
      await tab.close();
    }
  },
);

test('webpack, no configuration: webpack --mode production', { skip: SKIP, timeout: 180_000 }, async () => {
  const { stdout } = await sh(readmeCommands('npx webpack'), project);
  // the one warning is the size of the model the app bundles
  const warnings = [...stdout.matchAll(/^WARNING in (.*)$/gm)].map((m) => m[1]);
  assert.deepEqual(warnings, ['asset size limit: The following asset(s) exceed the recommended size limit (244 KiB).']);
  assert.doesNotMatch(stdout, /^ERROR/m);
  const out = await takeDist('webpack', '<script defer src="main.js"></script>');
  await assertRuns((await serve(out)).url('/'), 'webpack');
});

test("esbuild, with the README's flags", { skip: SKIP, timeout: 120_000 }, async () => {
  await sh(readmeCommands('npx esbuild', { whole: true }), project);
  const out = await takeDist('esbuild', '<script type="module" src="app/index.mjs"></script>');
  const bundle = readFileSync(path.join(out, 'app/index.mjs'), 'utf8');
  assert.doesNotMatch(bundle, /node:|require\("(fs|path|worker_threads)"\)/, 'no Node module in the browser bundle');
  await assertRuns((await serve(out)).url('/'), 'esbuild');
});

test("Vite's dev server, which pre-bundles the package", { skip: SKIP, timeout: 120_000 }, async () => {
  const { createServer } = await import('vite');
  // the page's own headers (COOP/COEP for threads), as any host of it sets them
  const vite = await createServer({
    root: project,
    configFile: false,
    logLevel: 'silent',
    server: {
      host: '127.0.0.1',
      port: 0,
      headers: { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' },
    },
  });
  try {
    await vite.listen();
    await assertRuns(vite.resolvedUrls.local[0], 'vite dev');
    assert.ok(existsSync(path.join(project, 'node_modules/.vite/deps/ntk-wasm.js')), 'the package was pre-bundled');
  } finally {
    await vite.close();
  }
});
