// The engine in a real browser: Debian's Chromium, headless, driven by playwright-core (see
// browser/chromium.mjs), on a page served from the repository by scripts/serve.mjs (COOP/COEP,
// no-store, a request log).
// WorkerEngine and Engine on the page give the text Node's Engine gives; the Cache API serves a
// second load with no request, cache: false and a corrupt entry go back to the server; a truncated
// file rejects with TRUNCATED; threads: 2 runs the threaded build, and falls back to one thread on
// a page that is not cross-origin isolated; Chromium, which validates relaxed SIMD, runs the
// relaxed build by default and gives a K-quant file's text Node's SIMD build gives; thread workers
// whose script 404s fail a named build within seconds and leave build auto one thread. A
// screenshot of the page lands in test-artifacts/browser.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Engine, reference, collect, ROOT } from './helpers.mjs';
import { startServer } from '../scripts/serve.mjs';
import { launch, artifact, SKIP } from './browser/chromium.mjs';

const MODEL = '/models/kjv-tiny-q8_0.gguf';
const K_MODEL = '/models/kjv-tiny-q4_k_m.gguf';
const TRUNCATED = '/test/kjv-tiny-q8_0-truncated.gguf';
const PROMPT = reference().prompts[1].first_line;
const MESSAGES = [{ role: 'user', content: 'Who made the heaven and the earth?' }];

let server, browser, page, pageErrors;
const expected = {}; // from Node's Engine
const size = readFileSync(path.join(ROOT, MODEL)).length;

const run = (args) => page.evaluate((a) => window.ntkTest.greedy(a), args);
const hits = () => server.count(MODEL);

function assertText(got, want, label) {
  assert.ok(!got.error, `${label}: ${got.error?.name} ${got.error?.code}: ${got.error?.message}`);
  assert.equal(got.text, want.text, `${label}: text`);
  assert.deepEqual(got.ids, want.ids, `${label}: ids`);
}

/**
 * Dedicated workers of the page that still run, once the ended ones are gone (terminate is not
 * instant). Chromium keeps the devtools entry of some ended workers that had thread workers of
 * their own (about half of them, whichever script starts the threads): such an entry answers no
 * evaluation and holds no memory, so a worker counts while it answers one.
 */
async function workersLeft() {
  const answers = (w) =>
    Promise.race([w.evaluate(() => true).catch(() => false), new Promise((r) => setTimeout(() => r(false), 1000))]);
  for (let i = 0; i < 40 && page.workers().length > 0; i++) await new Promise((r) => setTimeout(r, 50));
  return (await Promise.all(page.workers().map(answers))).filter(Boolean).length;
}

before(async () => {
  if (SKIP) return;
  const engine = await Engine.load(path.join(ROOT, MODEL));
  try {
    const items = await collect(engine.generate(PROMPT, { maxTokens: 20, temperature: 0 }));
    expected.greedy = { text: items.map((x) => x.text).join(''), ids: items.map((x) => x.id), nCtx: engine.nCtx };
    engine.reset();
    const chat = await collect(engine.chat(MESSAGES, { maxTokens: 8, temperature: 0 }));
    expected.chat = { text: chat.map((x) => x.text).join(''), ids: chat.map((x) => x.id) };
  } finally {
    engine.dispose();
  }
  const k = await Engine.load(path.join(ROOT, K_MODEL), { build: 'simd' });
  try {
    const items = await collect(k.generate(PROMPT, { maxTokens: 20, temperature: 0 }));
    expected.kquant = { text: items.map((x) => x.text).join(''), ids: items.map((x) => x.id) };
  } finally {
    k.dispose();
  }
  server = await startServer({
    root: ROOT,
    routes: { [TRUNCATED]: readFileSync(path.join(ROOT, MODEL)).subarray(0, 3_000_000) },
  });
  browser = await launch();
  ({ page, errors: pageErrors } = browser);
  await page.goto(server.url('/tests/browser/index.html'));
  await page.waitForFunction(() => window.ntkReady === true, null, { timeout: 15_000 });
});

after(async () => {
  await browser?.close();
  await server?.close();
});

test(
  '(a) WorkerEngine on the page loads the model by URL and gives the text Node gives',
  { skip: SKIP, timeout: 30_000 },
  async () => {
    assert.equal(await page.evaluate(() => crossOriginIsolated), true, 'COOP/COEP: the page is cross-origin isolated');
    assert.equal(hits(), 0);
    const got = await run({ kind: 'worker', source: MODEL, prompt: PROMPT });
    assertText(got, expected.greedy, 'worker');
    assert.equal(got.progress, size, 'progress reached the whole file');
    assert.equal(got.nCtx, expected.greedy.nCtx, 'nCtx after the generation');
    assert.equal(hits(), 1, 'one request for the model');
    // chat renders in the worker: the page's import map does not reach it, WorkerEngine passes the URL
    assertText(
      await run({ kind: 'worker', source: MODEL, prompt: MESSAGES, chat: true, maxTokens: 8 }),
      expected.chat,
      'worker chat',
    );
    assert.equal(hits(), 1, 'the first load was in the cache when it resolved (the loader waits for the put)');
    // an abort in the page stops the worker's generation after the item it came with
    const aborted = await run({ kind: 'worker', source: MODEL, prompt: PROMPT, maxTokens: 200, abortAfter: 3 });
    assert.deepEqual(aborted.ids, expected.greedy.ids.slice(0, 3));
    assert.equal(await workersLeft(), 0, 'dispose ended every worker');
  },
);

test(
  '(b) Cache API: a second load asks the server nothing; cache: false and corrupt entries refetch',
  { skip: SKIP, timeout: 30_000 },
  async () => {
    const entry = await page.evaluate((u) => window.ntkTest.waitCached(u), MODEL);
    assert.deepEqual(entry, { length: String(size), size }, 'the model is cached whole, with its length');

    let n = hits();
    assertText(await run({ kind: 'worker', source: MODEL, prompt: PROMPT }), expected.greedy, 'from the cache');
    assert.equal(hits(), n, 'a cached model made a request');

    assertText(
      await run({ kind: 'worker', source: MODEL, options: { cache: false }, prompt: PROMPT }),
      expected.greedy,
      'cache: false',
    );
    assert.equal(hits(), n + 1, 'cache: false did not reach the server');

    // a broken entry: a short body with the whole length recorded (the loader's length check), a
    // body of the right length that is not GGUF (FORMAT), a short body whose length says so
    // (TRUNCATED): each is dropped and the model fetched again, and the load succeeds
    for (const how of ['length', 'garbage', 'truncated']) {
      await page.evaluate(([u, h]) => window.ntkTest.corruptCache(u, h), [MODEL, how]);
      n = hits();
      assertText(
        await run({ kind: 'worker', source: MODEL, prompt: PROMPT }),
        expected.greedy,
        `corrupt entry (${how})`,
      );
      assert.equal(hits(), n + 1, `corrupt entry (${how}): the model was not fetched again`);
      await assertCacheRepaired(how);
    }
  },
);

// After a bad entry the cache holds the whole model again: the loader stores its refetch after a
// length mismatch, and Engine.load's retry after a parse error (FORMAT, TRUNCATED) refetches with
// cache 'reload', which stores it. The next load reads no network.
async function assertCacheRepaired(how) {
  const whole = { length: String(size), size };
  assert.deepEqual(await page.evaluate((u) => window.ntkTest.waitCached(u), MODEL), whole, `${how}: stored again`);
  const n = hits();
  assertText(await run({ kind: 'worker', source: MODEL, prompt: PROMPT }), expected.greedy, `${how}: the load after`);
  assert.equal(hits(), n, `${how}: requests of the load after`);
}

test(
  "(c) Engine on the page's main thread gives the same text, from the cache and from the server",
  { skip: SKIP, timeout: 30_000 },
  async () => {
    let n = hits();
    assertText(await run({ kind: 'main', source: MODEL, prompt: PROMPT }), expected.greedy, 'main thread, cached');
    assert.equal(hits(), n, 'Engine and WorkerEngine share the cache entry');
    assertText(
      await run({ kind: 'main', source: MODEL, options: { cache: false }, prompt: PROMPT }),
      expected.greedy,
      'main thread, cache: false',
    );
    assert.equal(hits(), n + 1);
    await page.evaluate(([u, h]) => window.ntkTest.corruptCache(u, h), [MODEL, 'garbage']);
    n = hits();
    assertText(
      await run({ kind: 'main', source: MODEL, prompt: PROMPT }),
      expected.greedy,
      'main thread, corrupt entry',
    );
    assert.equal(hits(), n + 1);
    await assertCacheRepaired('garbage');
    assertText(
      await run({ kind: 'main', source: MODEL, prompt: MESSAGES, chat: true, maxTokens: 8 }),
      expected.chat,
      'main thread chat',
    );
  },
);

test(
  '(d) a truncated file by URL rejects with TRUNCATED on the page; the next load works',
  { skip: SKIP, timeout: 30_000 },
  async () => {
    for (const kind of ['worker', 'main']) {
      const bad = await run({ kind, source: TRUNCATED, prompt: PROMPT });
      assert.ok(bad.error, `${kind}: the truncated file loaded`);
      assert.equal(bad.error.name, 'NtkError', `${kind}: ${bad.error.name}: ${bad.error.message}`);
      assert.equal(bad.error.code, 'TRUNCATED', `${kind}: ${bad.error.code}: ${bad.error.message}`);
      assert.match(bad.error.message, /truncated at byte 3000000/);
      assert.equal(
        await page.evaluate((u) => window.ntkTest.cached(u), TRUNCATED),
        null,
        `${kind}: a file that did not load is not cached`,
      );
      assertText(await run({ kind, source: MODEL, prompt: PROMPT }), expected.greedy, `${kind}: the load after`);
    }
    const missing = await run({ kind: 'worker', source: '/models/no-such-model.gguf', prompt: PROMPT });
    assert.equal(missing.error?.code, 'IO', `a 404: ${JSON.stringify(missing)}`);
    assert.match(missing.error.message, /HTTP 404/);
    assert.equal(await workersLeft(), 0, 'a failed load left a worker');
  },
);

test(
  '(e) threads: 2 runs the threaded build on the cross-origin isolated page, in a worker and on the main thread; one thread elsewhere',
  { skip: SKIP, timeout: 30_000 },
  async () => {
    for (const kind of ['worker', 'main']) {
      const got = await run({ kind, source: MODEL, options: { threads: 2 }, prompt: PROMPT });
      assertText(got, expected.greedy, `${kind}, 2 threads`);
      assert.equal(got.threads, 2, `${kind}: the threads in use`);
    }
    assert.equal(await workersLeft(), 0, "dispose ended the threads' workers");
    // a page that is not cross-origin isolated cannot share memory: one thread, the same text
    const plain = await browser.context.newPage();
    try {
      await plain.goto(server.url('/tests/browser/index.html?isolated=0'));
      await plain.waitForFunction(() => window.ntkReady === true, null, { timeout: 15_000 });
      assert.equal(await plain.evaluate(() => crossOriginIsolated), false);
      const got = await plain.evaluate((a) => window.ntkTest.greedy(a), {
        kind: 'main',
        source: MODEL,
        options: { threads: 2 },
        prompt: PROMPT,
      });
      assertText(got, expected.greedy, 'not isolated, threads: 2');
      assert.equal(got.threads, 1, 'not isolated: the single-thread build');
    } finally {
      await plain.close();
    }
  },
);

test(
  "(f) relaxed SIMD: Chromium runs the relaxed build by default, and a Q4_K_M file gives the text of Node's SIMD build, with 1 and 2 threads",
  { skip: SKIP, timeout: 30_000 },
  async () => {
    for (const [kind, threads] of [
      ['main', 1],
      ['worker', 2],
    ]) {
      const got = await run({ kind, source: K_MODEL, options: { threads }, prompt: PROMPT });
      assertText(got, expected.kquant, `${kind}, ${threads} thread(s)`);
      assert.equal(got.relaxedSimd, true, `${kind}: the relaxed build ran`);
      assert.equal(got.threads, threads);
    }
    const plain = await run({ kind: 'main', source: K_MODEL, options: { build: 'simd' }, prompt: PROMPT });
    assertText(plain, expected.kquant, 'build simd');
    assert.equal(plain.relaxedSimd, false);
  },
);

test(
  '(g) thread workers that cannot start (their script 404s): a named build fails within seconds, build auto runs one thread with a warning',
  { skip: SKIP, timeout: 30_000 },
  async () => {
    const broken = await startServer({ root: ROOT, routes: { '/wasm/pthread-worker.mjs': null } });
    const other = await browser.context.newPage();
    const warnings = [];
    other.on('console', (m) => m.type() === 'warning' && warnings.push(m.text()));
    try {
      await other.goto(broken.url('/tests/browser/index.html'));
      await other.waitForFunction(() => window.ntkReady === true, null, { timeout: 15_000 });
      for (const kind of ['main', 'worker']) {
        const t0 = Date.now();
        const failed = await other.evaluate((a) => window.ntkTest.greedy(a), {
          kind,
          source: MODEL,
          options: { threads: 2, build: 'simd' },
          prompt: PROMPT,
        });
        assert.equal(failed.error?.code, 'RUNTIME', `${kind}: ${JSON.stringify(failed)}`);
        assert.match(failed.error.message, /threaded build's workers did not start: .*pthread-worker\.mjs/);
        assert.ok(Date.now() - t0 < 5000, `${kind}: failed after ${Date.now() - t0} ms`);
        const auto = await other.evaluate((a) => window.ntkTest.greedy(a), {
          kind,
          source: MODEL,
          options: { threads: 2 },
          prompt: PROMPT,
        });
        assertText(auto, expected.greedy, `${kind}, build auto`);
        assert.equal(auto.threads, 1, `${kind}: one thread`);
      }
      assert.ok(broken.count('/wasm/pthread-worker.mjs') >= 4, 'the thread workers were asked for');
      assert.ok(
        warnings.some((w) => /workers did not start.*running one thread/.test(w)),
        `the warning: ${warnings.join(' | ')}`,
      );
    } finally {
      await other.close();
      await broken.close();
    }
  },
);

test(
  'the page ran without errors; screenshot in test-artifacts/browser.png',
  { skip: SKIP, timeout: 15_000 },
  async () => {
    const expectedErrors = pageErrors.filter((e) => !/status of 404/.test(e)); // the 404 of test (d)
    await page.evaluate(
      ([ok, line]) => window.ntkTest.done(ok, line),
      [expectedErrors.length === 0, `done: ${server.log.length} requests, ${hits()} for the model`],
    );
    await page.screenshot({ path: await artifact('browser.png'), fullPage: true });
    assert.deepEqual(expectedErrors, []);
  },
);
