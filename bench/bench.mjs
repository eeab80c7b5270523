// bench.mjs — speed of the bundled tiny model in Node: prefill and decode tokens/s per weight
// type, SIMD build against the scalar build of the same C, and peak memory while loading.
// Ratios taken within one run are the figures to quote; absolute times on a shared machine drift.
//   node bench/bench.mjs [--types f32,q8_0,q4_k_m] [--prefill 128,512] [--decode 64] [--json]
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Engine } from '../wasm/engine.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = Object.fromEntries(process.argv.slice(2).map((a, i, all) => a.startsWith('--') ? [a.slice(2), all[i + 1]?.startsWith('--') ? true : all[i + 1] ?? true] : null).filter(Boolean));
const types = (args.types ?? 'f32,f16,q8_0,q4_0,q6_k,q5_k_m,q4_k_m').split(',');
const prefillLens = (args.prefill ?? '128,512').split(',').map(Number);
const decodeLen = Number(args.decode ?? 64);
const heldout = new Uint16Array(readFileSync(`${root}tests/fixtures/kjv-tiny/heldout_ids.u16`).buffer.slice(0));
const promptOf = (n) => [1, ...heldout.subarray(0, n - 1)];

// best of `reps` runs: the least disturbed by other work on the machine
function best(reps, fn) {
  let t = Infinity;
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    fn();
    t = Math.min(t, performance.now() - t0);
  }
  return t;
}

async function speed(type, build) {
  const engine = await Engine.load(`${root}models/kjv-tiny-${type}.gguf`, { build });
  const row = { type, build };
  for (const n of prefillLens) {
    const ids = promptOf(n);
    const ms = best(3, () => { engine.reset(); engine.evaluate(ids); });
    row[`prefill${n}`] = (n / ms) * 1000;
  }
  // decode: greedy tokens one at a time after a 16-token prompt
  const ms = best(2, () => {
    engine.reset();
    let logits = engine.evaluate(promptOf(16));
    for (let i = 0; i < decodeLen; i++) {
      let arg = 0;
      for (let j = 1; j < logits.length; j++) if (logits[j] > logits[arg]) arg = j;
      logits = engine.evaluate([arg]);
    }
  }) - best(2, () => { engine.reset(); engine.evaluate(promptOf(16)); });
  row[`decode${decodeLen}`] = (decodeLen / ms) * 1000;
  engine.dispose();
  return row;
}

// Peak resident memory of a fresh process loading the file, over its resident size just before.
function loadMemory(type) {
  const file = `${root}models/kjv-tiny-${type}.gguf`;
  const script = `
    import { Engine } from ${JSON.stringify(`${root}wasm/engine.mjs`)};
    const warm = await Engine.load(${JSON.stringify(`${root}models/kjv-tiny-q4_0.gguf`)}); warm.dispose();
    const before = process.memoryUsage().rss;
    let peak = before;
    const timer = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 1);
    const t0 = performance.now();
    const e = await Engine.load(${JSON.stringify(file)});
    const ms = performance.now() - t0;
    clearInterval(timer);
    peak = Math.max(peak, process.memoryUsage().rss, process.resourceUsage().maxRSS * 1024);
    console.log(JSON.stringify({ before, peak, ms }));`;
  const out = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' }));
  const size = statSync(file).size;
  return { type, fileMB: size / 2 ** 20, peakOverBaseMB: (out.peak - out.before) / 2 ** 20, loadMBps: size / 2 ** 20 / (out.ms / 1000) };
}

const rows = [];
for (const type of types) for (const build of ['simd', 'scalar']) rows.push(await speed(type, build));
const memory = types.map(loadMemory);

if (args.json) {
  console.log(JSON.stringify({ speed: rows, memory }, null, 2));
} else {
  const cols = [...prefillLens.map((n) => `prefill${n}`), `decode${decodeLen}`];
  console.log(`kjv-tiny, Node ${process.version}, one thread; tokens/s (best of 3), SIMD/scalar ratio from this run\n`);
  console.log(['type', 'build', ...cols].map((c) => c.padStart(12)).join(''));
  for (const r of rows) console.log([r.type, r.build, ...cols.map((c) => r[c].toFixed(1))].map((c) => String(c).padStart(12)).join(''));
  for (const type of types) {
    const [s, c] = ['simd', 'scalar'].map((b) => rows.find((r) => r.type === type && r.build === b));
    console.log([type, 'simd/scalar', ...cols.map((k) => (s[k] / c[k]).toFixed(2) + 'x')].map((c) => String(c).padStart(12)).join(''));
  }
  console.log('\nloading: peak resident memory over the process before the load, against the file size');
  for (const m of memory)
    console.log(`${m.type.padStart(12)}  file ${m.fileMB.toFixed(1)} MB  peak +${m.peakOverBaseMB.toFixed(1)} MB  (${(m.peakOverBaseMB / m.fileMB).toFixed(2)}x)  ${m.loadMBps.toFixed(0)} MB/s`);
}
