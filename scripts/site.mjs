#!/usr/bin/env node
// site.mjs — the demo page as a self-contained static folder (`make site` writes site/): the page
// (web/, with index.html at the top), every module and file it reaches (found by following the
// relative imports and `new URL(..., import.meta.url)` of the page, its workers and the engine:
// the engine's modules, the wasm builds, the bundled model, the passkey filler), and
// @huggingface/jinja for chat templates (vendor/jinja.mjs, where the page's import map points).
// Every URL in it is relative, so it works from any folder of any static server: with COOP/COEP
// headers the page runs threads, without them one (and says so).
//
//   node scripts/site.mjs [OUT]       # default site/; OUT is emptied first
import { copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
// where the page's graph starts: its module, its stylesheet
const ENTRIES = ['web/app.mjs', 'web/style.css'];
// relative specifiers of static and dynamic imports, and files named by new URL(..., import.meta.url)
const REFERENCES = [
  /\bfrom\s*'(\.{1,2}\/[^']+)'/g,
  /\bimport\s*\(\s*'(\.{1,2}\/[^']+)'\s*\)/g,
  /\bnew URL\(\s*'(\.{1,2}\/[^']+)',\s*import\.meta\.url\s*\)/g,
];
const JINJA = 'vendor/jinja.mjs';

/**
 * Every file the entries reach: [path in the site, path of its source], relative to the
 * repository. A module the package maps for browsers (package.json "browser": platform.mjs) is
 * the browser's one, as a bundler would take it.
 */
async function reachable(entries) {
  const { browser } = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8'));
  const found = new Map();
  const visit = async (file) => {
    if (found.has(file)) return;
    const source = (browser[`./${file}`] ?? file).replace(/^\.\//, '');
    found.set(file, source);
    if (!file.endsWith('.mjs')) return;
    // the code, not the comments (which may quote a form with a made-up name)
    const text = (await readFile(path.join(ROOT, source), 'utf8'))
      .split('\n')
      .filter((line) => !/^\s*(\/\/|\*|\/\*)/.test(line))
      .join('\n');
    for (const re of REFERENCES)
      for (const [, spec] of text.matchAll(re)) await visit(path.posix.join(path.posix.dirname(file), spec));
  };
  for (const e of entries) await visit(e);
  return [...found];
}

// web/index.html, moved to the top: its own files are under web/, jinja under vendor/.
function indexHtml(html) {
  const edits = [
    ['href="style.css"', 'href="web/style.css"'],
    ['src="app.mjs"', 'src="web/app.mjs"'],
    ['"../node_modules/@huggingface/jinja/dist/index.js"', `"./${JINJA}"`],
  ];
  for (const [from, to] of edits) {
    if (!html.includes(from)) throw new Error(`site: web/index.html no longer has ${from}`);
    html = html.replace(from, to);
  }
  return html;
}

export async function writeSite(out) {
  await rm(out, { recursive: true, force: true });
  const files = await reachable(ENTRIES);
  for (const [file, source] of files) {
    await mkdir(path.join(out, path.dirname(file)), { recursive: true });
    await copyFile(path.join(ROOT, source), path.join(out, file));
  }
  await mkdir(path.join(out, path.dirname(JINJA)), { recursive: true });
  await copyFile(fileURLToPath(import.meta.resolve('@huggingface/jinja')), path.join(out, JINJA));
  await writeFile(path.join(out, 'index.html'), indexHtml(await readFile(path.join(ROOT, 'web/index.html'), 'utf8')));
  // GitHub Pages: serve the folder as it is (no Jekyll)
  await writeFile(path.join(out, '.nojekyll'), '');
  return files.length + 3;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = path.resolve(process.argv[2] ?? path.join(ROOT, 'site'));
  const n = await writeSite(out);
  console.log(`site: ${n} files in ${out}`);
}
