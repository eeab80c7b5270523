// chromium.mjs — what the suites that drive a real browser (browser.test.mjs, web.test.mjs) share:
// Debian's Chromium, headless, through playwright-core, in a fresh profile; a log of the page's
// errors; the folder screenshots go to (test-artifacts/, git-ignored).
//
// Chromium comes from Debian (scripts/setup.sh installs it); CHROMIUM overrides its path and
// NTK_SKIP_BROWSER=1 skips these suites on a machine without one.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ROOT } from '../helpers.mjs';
import { CHROMIUM, CHROMIUM_ARGS as ARGS } from '../../scripts/chromium.mjs';

export const SKIP = process.env.NTK_SKIP_BROWSER === '1' ? 'NTK_SKIP_BROWSER=1' : false;

/**
 * Launch Chromium with a fresh profile. Returns { context, page, errors, close() }: errors
 * collects uncaught page errors and console errors as they happen.
 */
export async function launch({ viewport = { width: 1000, height: 700 } } = {}) {
  assert.ok(
    existsSync(CHROMIUM),
    `no Chromium at ${CHROMIUM}: scripts/setup.sh installs Debian's (apt-get install chromium)`,
  );
  const profile = await mkdtemp(path.join(tmpdir(), 'ntk-chromium-'));
  const { chromium } = await import('playwright-core');
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    viewport,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e?.stack ?? e)));
  page.on('console', (m) => m.type() === 'error' && errors.push(`console: ${m.text()}`));
  return {
    context,
    page,
    errors,
    close: async () => {
      await context.close().catch(() => {});
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/** The path of a screenshot (or other artifact) under test-artifacts/, the folder made if need be. */
export async function artifact(name) {
  const dir = path.join(ROOT, 'test-artifacts');
  await mkdir(dir, { recursive: true });
  return path.join(dir, name);
}
