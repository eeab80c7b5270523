// The demo page (web/) in a real browser, driven as a person would: through its controls.
// It opens with the bundled model; greedy text equals Node's Engine on the same prompt; chat
// turns render the template in the worker; Stop (Esc) ends a generation; a truncated file shows
// an error and the page loads the good model after it; a slow load can be cancelled; the RoPE
// base chart gets points past the trained length (512 tokens); a dropped text becomes the
// document; the passkey question is compared across RoPE modes; every control has a label and is
// reached with Tab, and the page fits a 375 px screen. Screenshots of each state land in
// test-artifacts/web-*.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Engine, collect, reference, ROOT } from './helpers.mjs';
import { startServer } from '../scripts/serve.mjs';
import { launch, artifact, SKIP } from './browser/chromium.mjs';
import { demoPage, GREEDY } from './browser/demo.mjs';

const MODEL = path.join(ROOT, 'models/kjv-tiny-q8_0.gguf');
const SLOW = '/test/slow.gguf';
const PROMPT = reference().prompts[1].first_line;
const TRAINED = 512;

let server, browser, page, tmp;
let expected, promptTokens; // Node's Engine on PROMPT: the text, and the prompt's tokens

const shot = async (name, options) =>
  page.screenshot({ path: await artifact(`web-${name}.png`), fullPage: true, ...options });
let text, waitStatus, idle, setField, generate; // demoPage(page)'s steps

before(async () => {
  if (SKIP) return;
  const engine = await Engine.load(MODEL);
  try {
    expected = (await collect(engine.generate(PROMPT, GREEDY))).map((x) => x.text).join('');
    promptTokens = engine.tokenize(PROMPT).length;
  } finally {
    engine.dispose();
  }
  tmp = await mkdtemp(path.join(tmpdir(), 'ntk-web-'));
  const bytes = readFileSync(MODEL);
  await writeFile(path.join(tmp, 'truncated.gguf'), bytes.subarray(0, 3_000_000));
  // about 8 s for the whole file: long enough to see progress and cancel
  server = await startServer({ routes: { [SLOW]: { bytes, bytesPerSecond: 1_000_000 } } });
  browser = await launch({ viewport: { width: 1280, height: 900 } });
  page = browser.page;
  ({ text, waitStatus, idle, setField, generate } = demoPage(page));
  await page.goto(server.url('/web/'));
  await waitStatus(/^Ready/);
});

after(async () => {
  await browser?.close();
  await server?.close();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

test('opens with the bundled model and generates the text Node gives', { skip: SKIP, timeout: 60_000 }, async () => {
  assert.equal(await page.evaluate(() => crossOriginIsolated), true, 'COOP/COEP: the page is cross-origin isolated');
  assert.equal(await page.evaluate(() => document.body.dataset.model), 'ready');
  assert.match(await text('#model-name'), /kjv-tiny.*loaded in/);
  assert.equal(await text('#trained'), String(TRAINED));
  // every core when the page is cross-origin isolated (shared memory allowed), else one thread
  assert.deepEqual(
    await page.evaluate(async () => {
      const { threadCount } = await import('/web/settings.mjs');
      return [threadCount(true, 8), threadCount(false, 8), threadCount(true, 1)];
    }),
    [8, 1, 1],
  );
  const cores = await page.evaluate(() => navigator.hardwareConcurrency);
  assert.match(await text('#engine-desc'), new RegExp(`SIMD128 \\+ relaxed SIMD · ${cores} threads? · isolated`));
  await shot('ready');
  assert.equal(await generate(PROMPT), expected);
  assert.match(await text('#prefill'), /tok\/s/);
  assert.match(await text('#decode'), /tok\/s · 19 tokens/);
  assert.match(await text('#memory'), /MB/);
  assert.equal(Number(await text('#n-ctx')) > 20, true);
  await shot('generated');
});

test(
  'chat format: the template renders in the worker, a second turn continues the context',
  { skip: SKIP, timeout: 60_000 },
  async () => {
    await page.selectOption('#format', 'chat');
    await setField('max-tokens', 8);
    for (const [i, message] of ['Who made the heaven and the earth?', 'And the sea?'].entries()) {
      await page.locator('#prompt').fill(message);
      await page.click('#send');
      await page.waitForFunction((n) => document.querySelectorAll('.turn.assistant').length === n, i + 1);
      await idle();
    }
    assert.deepEqual(await page.locator('.turn').evaluateAll((ts) => ts.map((t) => t.dataset.role)), [
      'user',
      'assistant',
      'user',
      'assistant',
    ]);
    assert.equal(await page.locator('#error').isHidden(), true, await text('#error'));
    assert.ok(Number(await text('#n-ctx')) > 30, 'the context holds both turns');
    await shot('chat');
    await page.click('#clear');
    await waitStatus(/cleared/);
    assert.equal(await text('#n-ctx'), '0');
  },
);

test('Stop (Esc) ends a long generation; the page goes on', { skip: SKIP, timeout: 60_000 }, async () => {
  await page.selectOption('#format', 'completion');
  await setField('max-tokens', 5000);
  await page.locator('#prompt').fill(PROMPT);
  await page.click('#send');
  await page.waitForFunction(() => document.querySelector('.turn.assistant.streaming')?.textContent.length > 20);
  assert.equal(await page.locator('#send').isDisabled(), true, 'one generation at a time');
  await page.keyboard.press('Escape');
  await idle();
  const [, tokens] = (await text('#status')).match(/^Stopped: (\d+) tokens/) ?? [];
  assert.ok(Number(tokens) > 0 && Number(tokens) < 5000, await text('#status'));
  assert.equal(await page.locator('#send').isEnabled(), true);
});

test('a truncated file shows the error; the good model loads after it', { skip: SKIP, timeout: 60_000 }, async () => {
  await page.setInputFiles('#file', path.join(tmp, 'truncated.gguf'));
  await page.waitForSelector('#error:not([hidden])');
  assert.match(await text('#error'), /TRUNCATED/);
  assert.match(await text('#error'), /ended early/);
  await idle();
  await shot('error');
  await page.click('#error-close');
  await page.click('#load-bundled');
  await waitStatus(/^Ready/);
  assert.equal(await page.locator('#error').isHidden(), true);
  assert.equal(await generate(PROMPT), expected);
});

test(
  'a context cap the generation runs into shows CONTEXT_FULL; without the cap the page goes on',
  { skip: SKIP, timeout: 90_000 },
  async () => {
    const setLoadField = async (id, value) => {
      await page.evaluate(() => {
        document.getElementById('max-context').closest('details').open = true;
      });
      await setField(id, value);
      await page.locator(`#${id}`).dispatchEvent('change');
      await waitStatus(/^Ready/);
    };
    // room for the prompt and 5 of the 20 tokens asked for
    await setLoadField('max-context', promptTokens + 5);
    await page.click('#clear');
    const partial = await generate(PROMPT);
    assert.ok(
      partial.length > 0 && expected.startsWith(partial),
      `the tokens that fit came out: ${JSON.stringify(partial)}`,
    );
    await page.waitForSelector('#error:not([hidden])');
    assert.match(await text('#error'), /context is full/);
    assert.match(await text('#error'), /CONTEXT_FULL/);
    await shot('context-full');
    await page.click('#error-close');
    await page.click('#clear');
    await setLoadField('max-context', '');
    assert.equal(await generate(PROMPT), expected);
  },
);

test(
  'a slow load shows its progress and can be cancelled; the page loads after it',
  { skip: SKIP, timeout: 60_000 },
  async () => {
    await setField('url', server.url(SLOW));
    await page.click('#url-form button[type=submit]');
    await page.waitForFunction(
      () => /MB \/ [\d.]+ MB · [\d.]+ MB\/s · tensors/.test(document.getElementById('progress-text').textContent),
      null,
      { timeout: 20_000 },
    );
    await shot('loading');
    await page.click('#cancel-load');
    await waitStatus(/cancelled/);
    assert.equal(await page.locator('#progress-box').isHidden(), true);
    assert.equal(await page.evaluate(() => document.body.dataset.model), 'ready', 'the previous model stays');
    await page.click('#load-bundled');
    await waitStatus(/^Ready/);
  },
);

test('a dropped text file becomes the document', { skip: SKIP, timeout: 30_000 }, async () => {
  await page.evaluate(() => {
    const data = new DataTransfer();
    data.items.add(
      new File(['In the beginning God created the heaven and the earth.'], 'genesis.txt', { type: 'text/plain' }),
    );
    document.body.dispatchEvent(new DragEvent('drop', { dataTransfer: data, bubbles: true, cancelable: true }));
  });
  await page.waitForFunction(
    () => /tokens with the question/.test(document.getElementById('doc-count').textContent),
    null,
    { timeout: 10_000 },
  );
  assert.equal(await page.locator('#document-pane').isVisible(), true, 'the Long document mode is shown');
  assert.equal(await page.locator('#document').inputValue(), 'In the beginning God created the heaven and the earth.');
  assert.match(await text('#doc-count'), /within the trained length/);
});

/** A passkey document of about len tokens; returns its token count (question included). */
async function passkeyDocument(len) {
  await page.click('input[name=mode][value=document]');
  await page.locator('#passkey-len').evaluate((el, v) => {
    el.value = String(v);
    el.dispatchEvent(new Event('input', { bubbles: true }));
  }, len);
  await page.locator('#doc-count').evaluate((el) => (el.textContent = ''));
  await page.click('#passkey-make');
  await page.waitForFunction(
    () => /tokens with the question/.test(document.getElementById('doc-count').textContent),
    null,
    { timeout: 30_000 },
  );
  return Number((await text('#doc-count')).match(/^(\d+) tokens/)[1]);
}

test(
  'the passkey document past the trained length puts points on the RoPE base chart',
  { skip: SKIP, timeout: 120_000 },
  async () => {
    const count = await passkeyDocument(704);
    assert.ok(count > TRAINED && Math.abs(count - 704) < 40, `document of ${count} tokens`);
    assert.equal(await page.locator('#temperature').inputValue(), '0', 'the preset samples greedily');
    await page.click('#ask');
    await page.waitForSelector('#answer .answer-text');
    await idle();
    const chartEl = page.locator('#chart');
    const chart = await chartEl.evaluate((el) => ({
      points: Number(el.dataset.points),
      maxCtx: Number(el.dataset.maxCtx),
      dots: el.querySelectorAll('circle').length,
    }));
    assert.ok(chart.points > 0 && chart.dots === chart.points, `chart: ${JSON.stringify(chart)}`);
    assert.ok(chart.maxCtx > TRAINED, `chart: ${JSON.stringify(chart)}`);
    const base = Number(await text('#base'));
    assert.ok(base > 10000, `the displayed base ${base}`);
    assert.match(await text('#answer'), /(Found|Missed) the pass key \d{5} at \d+ tokens with RoPE consistent/);
    await shot('passkey');
  },
);

test(
  'Compare RoPE modes asks the same question with none, cached and consistent',
  { skip: SKIP, timeout: 240_000 },
  async () => {
    const count = await passkeyDocument(2048);
    assert.ok(Math.abs(count - 2048) < 60, `document of ${count} tokens`);
    await page.click('#compare');
    await page.waitForSelector('table.compare');
    assert.match(await text('table.compare caption'), /the pass key is \d{5}/);
    await idle();
    const rows = await page
      .locator('table.compare tbody tr')
      .evaluateAll((trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
    assert.deepEqual(
      rows.map((r) => r[0]),
      ['none', 'cached', 'consistent'],
      JSON.stringify(rows),
    );
    for (const r of rows) assert.match(r[3], /^[✓✗]$/, JSON.stringify(r));
    // plain RoPE keeps theta; dynamic NTK has grown it (base(2048+) ≈ 7.3e4 for factor 2, L0 512, d 64)
    assert.match(rows[0][1], /^10000 \(\d+ tokens\)$/);
    for (const r of rows.slice(1)) assert.ok(Number(r[1].split(' ')[0]) > 7e4, JSON.stringify(r));
    assert.equal(await page.locator('#rope-mode').inputValue(), 'consistent', 'the last mode stays loaded');
    assert.match(await text('#rope-desc'), /^consistent, factor 2 \(option\/file\)/);
    assert.ok(Number(await page.locator('#chart').getAttribute('data-max-ctx')) > 2000);
    await shot('compare');
  },
);

test(
  'every control has a label and Tab reaches it; the page fits a 375 px screen',
  { skip: SKIP, timeout: 30_000 },
  async () => {
    await page.click('input[name=mode][value=chat]');
    await page.evaluate(() => document.activeElement?.blur());
    const reached = new Set();
    for (let i = 0; i < 40; i++) {
      await page.keyboard.press('Tab');
      reached.add(
        await page.evaluate(() => document.activeElement?.id || document.activeElement?.getAttribute('name')),
      );
    }
    for (const id of [
      'load-bundled',
      'file',
      'url',
      'mode',
      'format',
      'prompt',
      'send',
      'clear',
      'temperature',
      'max-tokens',
    ])
      assert.ok(reached.has(id), `Tab does not reach #${id}: ${[...reached].join(' ')}`);
    const unlabelled = await page.evaluate(() =>
      [...document.querySelectorAll('input, select, textarea, button')]
        .filter(
          (e) =>
            !(e.labels?.length || e.getAttribute('aria-label') || (e.tagName === 'BUTTON' && e.textContent.trim())),
        )
        .map((e) => e.id || e.outerHTML.slice(0, 60)),
    );
    assert.deepEqual(unlabelled, []);
    await page.setViewportSize({ width: 375, height: 812 });
    await page.click('input[name=mode][value=chat]');
    assert.ok(
      await page.evaluate(() => document.documentElement.scrollWidth <= 375),
      'no horizontal scrolling at 375 px',
    );
    await page.evaluate(() => scrollTo(0, 0));
    await shot('narrow', { fullPage: false });
    await shot('narrow-full');
    assert.deepEqual(browser.errors, [], 'errors on the page');
  },
);
