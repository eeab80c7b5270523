// page.mjs — the browser side of bench/browser.mjs: ntk-wasm's Engine and wllama measured on the
// same page, one at a time, through window.bench (page.evaluate).
import { Engine } from '/wasm/engine.mjs';
import { measureNtk } from './measure.mjs';
import { measureWllama } from './wllama.mjs';

const logEl = document.getElementById('log');
const log = (line) => logEl.append(line + '\n');

async function ntk({ url, ids, ...opts }) {
  log(`ntk ${url} ${opts.build} ${opts.threads} thread(s)`);
  return measureNtk(Engine, url, { ...opts, prompt: (n) => ids.slice(0, n) });
}

async function wllama({ url, ...opts }) {
  log(`wllama ${url}`);
  return measureWllama(url, opts);
}

window.bench = { ntk, wllama };
log(
  `ready: crossOriginIsolated ${crossOriginIsolated}, ${navigator.userAgent.match(/Chrom\S+/)?.[0] ?? navigator.userAgent}`,
);
window.benchReady = true;
