// bench.mjs — speed of the bundled tiny model in Node: prefill and decode tokens/s per weight
// type, SIMD build against the scalar build of the same C, the threaded build at each --threads
// count against one thread, and peak memory while loading.
// Ratios taken within one run are the figures to quote; absolute times on a shared machine drift.
// The engines of a type are measured in turns, rep after rep, so that each sees the same load.
//   node bench/bench.mjs [--types f32,q8_0,q4_0] [--prefill 128,512] [--decode 64] [--threads 1,2]
//                        [--reps 3] [--busy N] [--json]
// --busy N runs N other processes that spin on the CPU throughout: with more threads than free
// cores a pool that spun forever would collapse; one that sleeps should lose little.
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Engine } from '../wasm/engine.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = Object.fromEntries(process.argv.slice(2).map((a, i, all) => a.startsWith('--') ? [a.slice(2), all[i + 1]?.startsWith('--') ? true : all[i + 1] ?? true] : null).filter(Boolean));
const types = (args.types ?? 'f32,f16,q8_0,q4_0').split(',');
const prefillLens = (args.prefill ?? '128,512').split(',').map(Number);
const decodeLen = Number(args.decode ?? 64);
const threadCounts = String(args.threads ?? '1,2').split(',').map(Number);
const reps = Number(args.reps ?? 3);
const busy = Number(args.busy ?? 0);
const heldout = new Uint16Array(readFileSync(`${root}tests/fixtures/kjv-tiny/heldout_ids.u16`).buffer.slice(0));
const promptOf = (n) => [1, ...heldout.subarray(0, n - 1)];

const time = (fn) => {
  const t0 = performance.now();
  fn();
  return performance.now() - t0;
};

// ms of each measurement of one engine: prefill of each length, and a greedy decode of decodeLen
// tokens after a 16-token prompt
function measure(engine) {
  const out = {};
  for (const n of prefillLens) out[`prefill${n}`] = time(() => { engine.reset(); engine.evaluate(promptOf(n)); });
  engine.reset();
  let logits = engine.evaluate(promptOf(16));
  out[`decode${decodeLen}`] = time(() => {
    for (let i = 0; i < decodeLen; i++) {
      let arg = 0;
      for (let j = 1; j < logits.length; j++) if (logits[j] > logits[arg]) arg = j;
      logits = engine.evaluate([arg]);
    }
  });
  return out;
}

const configs = [...threadCounts.map((threads) => ({ build: 'simd', threads })), { build: 'scalar', threads: 1 }];
const label = ({ build, threads }) => (build === 'simd' ? `simd ${threads}t` : build);

// best of `reps` rounds per engine, the least disturbed by other work on the machine
async function speed(type) {
  const engines = [];
  for (const c of configs) engines.push(await Engine.load(`${root}models/kjv-tiny-${type}.gguf`, c));
  const best = engines.map(() => ({}));
  for (let r = 0; r < reps; r++)
    engines.forEach((e, i) => {
      for (const [k, ms] of Object.entries(measure(e))) best[i][k] = Math.min(best[i][k] ?? Infinity, ms);
    });
  return engines.map((e, i) => {
    const row = { type, build: configs[i].build, threads: e.info().threads };
    for (const n of prefillLens) row[`prefill${n}`] = (n / best[i][`prefill${n}`]) * 1000;
    row[`decode${decodeLen}`] = (decodeLen / best[i][`decode${decodeLen}`]) * 1000;
    e.dispose();
    return row;
  });
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

const spinners = Array.from({ length: busy }, () => spawn(process.execPath, ['-e', 'for (;;);'], { stdio: 'ignore' }));
const rows = [];
try {
  for (const type of types) rows.push(...(await speed(type)));
} finally {
  spinners.forEach((p) => p.kill());
}
const memory = types.map(loadMemory);

if (args.json) {
  console.log(JSON.stringify({ busy, speed: rows, memory }, null, 2));
} else {
  const cols = [...prefillLens.map((n) => `prefill${n}`), `decode${decodeLen}`];
  const line = (cells) => console.log(cells.map((c) => String(c).padStart(12)).join(''));
  console.log(`kjv-tiny, Node ${process.version}; tokens/s (best of ${reps}), ratios from this run` +
              `${busy ? `, with ${busy} other processes spinning` : ''}\n`);
  line(['type', 'build', ...cols]);
  for (const r of rows) line([r.type, label(r), ...cols.map((c) => r[c].toFixed(1))]);
  const ratio = (type, a, b, name) => {
    const [x, y] = [a, b].map((c) => rows.find((r) => r.type === type && label(r) === label(c)));
    line([type, name, ...cols.map((k) => (x[k] / y[k]).toFixed(2) + 'x')]);
  };
  for (const type of types) {
    ratio(type, configs[0], configs.at(-1), 'simd/scalar');
    for (const c of configs.slice(1, -1)) ratio(type, c, configs[0], `${c.threads}t/${configs[0].threads}t`);
  }
  console.log('\nloading: peak resident memory over the process before the load, against the file size');
  for (const m of memory)
    console.log(`${m.type.padStart(12)}  file ${m.fileMB.toFixed(1)} MB  peak +${m.peakOverBaseMB.toFixed(1)} MB  (${(m.peakOverBaseMB / m.fileMB).toFixed(2)}x)  ${m.loadMBps.toFixed(0)} MB/s`);
}
