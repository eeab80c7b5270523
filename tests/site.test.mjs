// The demo page as `make site` writes it (scripts/site.mjs, here into a temporary folder), with
// nothing of the repository around it: served by a plain static server (no COOP/COEP) from a
// subfolder, it opens with the bundled model, runs one thread and says why, gives Node's text and
// makes a passkey document from the site's own filler; served with COOP/COEP it runs a thread per
// core and renders a chat turn with the site's jinja; a site without the engine's worker script
// shows the error, and one whose modules cannot load says so: neither stays at "Starting…".
// Screenshots in test-artifacts/site-*.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Engine, collect, reference, ROOT } from './helpers.mjs';
import { startServer } from '../scripts/serve.mjs';
import { writeSite } from '../scripts/site.mjs';
import { launch, artifact, SKIP } from './browser/chromium.mjs';
import { demoPage, GREEDY } from './browser/demo.mjs';

const PROMPT = reference().prompts[1].first_line;
const SUB = '/some/sub/path/';

let site, browser, expected;
const servers = [];

async function serve(options) {
  const server = await startServer({ root: site, ...options });
  servers.push(server);
  return server;
}

/** A new tab on url; returns it with demoPage's steps. */
async function open(url) {
  const page = await browser.context.newPage();
  await page.goto(url);
  return { page, ...demoPage(page) };
}

before(async () => {
  if (SKIP) return;
  const engine = await Engine.load(path.join(ROOT, 'models/kjv-tiny-q8_0.gguf'));
  try {
    expected = (await collect(engine.generate(PROMPT, GREEDY))).map((x) => x.text).join('');
  } finally {
    engine.dispose();
  }
  site = await mkdtemp(path.join(tmpdir(), 'ntk-site-'));
  await writeSite(site);
  browser = await launch({ viewport: { width: 1280, height: 900 } });
});

after(async () => {
  await browser?.close();
  for (const s of servers) await s.close();
  if (site) await rm(site, { recursive: true, force: true });
});

test(
  'a plain static server, from a subfolder: one thread, said on the page; Node’s text; a passkey document',
  { skip: SKIP, timeout: 90_000 },
  async () => {
    const server = await serve({ isolate: false, mounts: { [SUB]: site } });
    const { page, text, waitStatus, generate, idle } = await open(server.url(SUB));
    await waitStatus(/^Ready/);
    assert.equal(await page.evaluate(() => crossOriginIsolated), false);
    assert.match(await text('#engine-desc'), /· 1 thread · not cross-origin isolated \(served without COOP\/COEP\)/);
    assert.equal(await generate(PROMPT), expected);
    await page.click('input[name="mode"][value="document"]');
    await page.click('#passkey-make');
    await waitStatus(/A pass key is hidden/);
    await idle();
    assert.match(await page.locator('#document').inputValue(), /The pass key is \d{5}\. Remember it\./);
    assert.ok(server.count(`${SUB}wasm/build/kjv-heldout.txt`) === 1, 'the filler came from the site');
    assert.ok(
      server.log.every((e) => e.path.startsWith(SUB)),
      'every request stayed in the subfolder',
    );
    await page.screenshot({ path: await artifact('site-plain.png'), fullPage: true });
    await page.close();
  },
);

test(
  'with COOP/COEP: a thread per core; a chat turn renders with the site’s jinja',
  { skip: SKIP, timeout: 60_000 },
  async () => {
    const server = await serve({});
    const { page, text, waitStatus, generate, idle } = await open(server.url('/'));
    await waitStatus(/^Ready/);
    const cores = await page.evaluate(() => navigator.hardwareConcurrency);
    assert.match(await text('#engine-desc'), new RegExp(`· ${cores} threads? · isolated$`));
    assert.equal(await generate(PROMPT), expected);
    await page.selectOption('#format', 'chat');
    await page.locator('#prompt').fill('Who made the heaven and the earth?');
    await page.click('#send');
    await page.waitForSelector('.turn.assistant');
    await idle();
    assert.equal(await page.locator('#error').isHidden(), true, await text('#error'));
    assert.equal(server.count('/vendor/jinja.mjs'), 1, 'the worker imported the site’s jinja');
    await page.screenshot({ path: await artifact('site-isolated.png'), fullPage: true });
    await page.close();
  },
);

test(
  "without the engine's worker script the page shows the error; without a module it says it cannot load",
  { skip: SKIP, timeout: 60_000 },
  async () => {
    const server = await serve({
      routes: { '/wasm/worker.mjs': null, '/broken/wasm/options.mjs': null },
      mounts: { '/broken/': site },
    });
    const noWorker = await open(server.url('/'));
    await noWorker.page.waitForSelector('#error:not([hidden])', { timeout: 15_000 });
    assert.match(await noWorker.text('#error'), /RUNTIME: the engine worker stopped/);
    assert.doesNotMatch(await noWorker.text('#status'), /Starting/);
    await noWorker.page.screenshot({ path: await artifact('site-no-worker.png'), fullPage: true });
    await noWorker.page.close();

    const noModule = await open(server.url('/broken/'));
    await noModule.waitStatus(/could not load its scripts/, 15_000);
    await noModule.page.close();
  },
);
