// node.mjs — the Node side of the bench: ntk-wasm's Engine in this process, and the memory and
// speed of a load in a fresh one.
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { Engine } from '../wasm/engine.mjs';
import { measureNtk } from './measure.mjs';

const ENGINE = new URL('../wasm/engine.mjs', import.meta.url).href;
const MB = 2 ** 20;

/** measureNtk in Node; ids: the prompt token ids, BOS first, at least as many as the longest prompt. */
export function measureNode(file, { ids, ...opts }) {
  return measureNtk(Engine, file, { ...opts, prompt: (n) => ids.slice(0, n) });
}

/**
 * Load `file` in a fresh process (after a warm-up load of `warm`, so that the wasm module and its
 * first memory are not counted): peak resident memory over the resident size just before the
 * load, and the load's MB/s. Returns { fileMB, peakMB, loadMBps } or { unsupported }.
 */
export function loadMemory(file, warm) {
  const script = `
    import { Engine } from ${JSON.stringify(ENGINE)};
    const w = await Engine.load(${JSON.stringify(warm)}); w.dispose();
    const before = process.memoryUsage().rss;
    let peak = before;
    const timer = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 1);
    const t0 = performance.now();
    try {
      await Engine.load(${JSON.stringify(file)});
    } catch (e) {
      if (e.code !== 'UNSUPPORTED') throw e;
      console.log(JSON.stringify({ unsupported: e.message }));
      process.exit(0);
    }
    const ms = performance.now() - t0;
    clearInterval(timer);
    peak = Math.max(peak, process.memoryUsage().rss, process.resourceUsage().maxRSS * 1024);
    console.log(JSON.stringify({ before, peak, ms }));`;
  const out = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' }));
  if (out.unsupported) return out;
  const fileMB = statSync(file).size / MB;
  return { fileMB, peakMB: (out.peak - out.before) / MB, loadMBps: fileMB / (out.ms / 1000) };
}
