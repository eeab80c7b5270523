// browser.mjs — headless Chromium (Debian's, driven by playwright-core, as the browser tests do) on
// bench/page.html, served with the test server (scripts/serve.mjs: COOP/COEP, no-store)
// from the repository, the bench cache under /cache/ and wllama's assets from node_modules.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServer } from '../scripts/serve.mjs';
import { CHROMIUM, CHROMIUM_ARGS as ARGS } from '../scripts/chromium.mjs';

/**
 * Start the server and the browser. url(file) gives a file's URL (files under root or cacheDir);
 * run('ntk' | 'wllama', args) measures on the page; close() ends both.
 */
export async function openBrowser({ root, cacheDir }) {
  const server = await startServer({ root, mounts: { '/cache/': cacheDir } });
  const profile = await mkdtemp(path.join(tmpdir(), 'ntk-bench-chromium-'));
  let context;
  const close = async () => {
    await context?.close().catch(() => {});
    await server.close();
    await rm(profile, { recursive: true, force: true });
  };
  try {
    const { chromium } = await import('playwright-core');
    context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: ARGS });
    const page = context.pages()[0] ?? (await context.newPage());
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e?.stack ?? e)));
    await page.goto(server.url('/bench/page.html'));
    await page.waitForFunction(() => window.benchReady === true, null, { timeout: 30_000 });
    return {
      version: await page.evaluate(() => navigator.userAgent.match(/Chrom\S+/)?.[0] ?? navigator.userAgent),
      url: (file) => {
        const rel = path.relative(cacheDir, file);
        return rel.startsWith('..') ? '/' + path.relative(root, file) : '/cache/' + rel;
      },
      run: async (what, args) => {
        try {
          return await page.evaluate(([w, a]) => window.bench[w](a), [what, args]);
        } catch (e) {
          throw new Error(
            `${what} on the page: ${e.message}${errors.length ? `\npage errors:\n${errors.join('\n')}` : ''}`,
          );
        }
      },
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}
