// longctx.mjs — long-context benchmarks of issue 4 (not CI tests: they take minutes to hours).
//
//   node bench/longctx.mjs decode [--model M] [--ctx 4096,16384,32768] [--decode 8] [--reps 6] [--kv-type f32]
//     Decode ms/token of `consistent` against `cached` at each context length: both engines are
//     filled with the same held-out tokens, then decode in alternation (reps × decode tokens each,
//     best rep kept), so both see the same machine load. The ratio is the figure to quote.
//   node bench/longctx.mjs fill [--to 200000] [--marks 8192,16384,32768,65536,131072,200000] [--decode 16]
//     A one-layer synthetic model (ntk-wasm synth: hidden 64, one head of 64, ffn 128, L0 512)
//     filled to --to tokens in calls of 4096: elapsed time at each mark (it should grow as L²),
//     then decode tokens/s there, KV bytes in use and the process's resident memory.
// --json prints one JSON object instead of the table.
import { readFileSync, mkdirSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Engine } from '../wasm/engine.mjs';
import { synth } from '../wasm/synth.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const [command, ...rest] = process.argv.slice(2);
const args = Object.fromEntries(
  rest
    .map((a, i, all) =>
      a.startsWith('--') ? [a.slice(2), all[i + 1]?.startsWith('--') ? true : (all[i + 1] ?? true)] : null,
    )
    .filter(Boolean),
);
const list = (s) => String(s).split(',').map(Number);
const heldout = new Uint16Array(readFileSync(`${root}tests/fixtures/kjv-tiny/heldout_ids.u16`).buffer.slice(0));
// BOS, then held-out ids (wrapping round for contexts longer than the stream)
const tokens = (n) => Array.from({ length: n }, (_, i) => (i === 0 ? 1 : heldout[(i - 1) % heldout.length]));
const log = (...a) => console.error(...a);

// seconds to evaluate ids in calls of `step` tokens
function fill(engine, ids, step = 4096) {
  const t0 = performance.now();
  for (let i = 0; i < ids.length; i += step) engine.evaluate(ids.slice(i, i + step));
  return (performance.now() - t0) / 1000;
}

function decodeMs(engine, ids, n) {
  const t0 = performance.now();
  for (const id of ids.slice(0, n)) engine.evaluate([id]);
  return (performance.now() - t0) / n;
}

async function decode() {
  const model = args.model ?? `${root}models/kjv-tiny-q8_0.gguf`;
  const kvType = args['kv-type'] ?? 'f32',
    n = Number(args.decode ?? 8),
    reps = Number(args.reps ?? 6);
  const rows = [];
  for (const L of list(args.ctx ?? '4096,16384,32768')) {
    const ids = tokens(L + n * reps);
    const engines = {},
      prefill = {},
      best = {};
    for (const ropeMode of ['cached', 'consistent']) {
      engines[ropeMode] = await Engine.load(model, { ropeMode, kvType });
      prefill[ropeMode] = fill(engines[ropeMode], ids.slice(0, L));
      best[ropeMode] = Infinity;
      log(`${L}: ${ropeMode} prefill ${prefill[ropeMode].toFixed(1)} s`);
    }
    for (let r = 0; r < reps; r++)
      for (const mode of ['cached', 'consistent'])
        best[mode] = Math.min(best[mode], decodeMs(engines[mode], ids.slice(L + r * n), n));
    rows.push({
      ctx: L,
      kvType,
      prefillCachedS: prefill.cached,
      prefillConsistentS: prefill.consistent,
      decodeCachedMs: best.cached,
      decodeConsistentMs: best.consistent,
      ratio: best.consistent / best.cached,
    });
    log(JSON.stringify(rows.at(-1)));
    for (const e of Object.values(engines)) e.dispose();
  }
  if (args.json) return console.log(JSON.stringify({ model, rows }));
  console.log(
    `${model}, kv ${kvType}, Node ${process.version}, one thread; decode = best of ${reps} × ${n} tokens, alternating\n`,
  );
  console.log('context  prefill cached  prefill consistent  decode cached  decode consistent  consistent/cached');
  for (const r of rows)
    console.log(
      `${String(r.ctx).padStart(7)}  ${r.prefillCachedS.toFixed(1).padStart(12)} s  ${r.prefillConsistentS.toFixed(1).padStart(16)} s  ` +
        `${r.decodeCachedMs.toFixed(2).padStart(10)} ms  ${r.decodeConsistentMs.toFixed(2).padStart(14)} ms  ${r.ratio.toFixed(3).padStart(17)}`,
    );
}

async function fillBench() {
  const to = Number(args.to ?? 200000),
    marks = list(args.marks ?? '8192,16384,32768,65536,131072,200000').filter((m) => m <= to);
  const dir = `${root}bench/.cache`,
    file = `${dir}/synth-1layer-64.gguf`;
  mkdirSync(dir, { recursive: true });
  if (!existsSync(file))
    await synth(file, { layers: 1, hidden: 64, heads: 1, kvHeads: 1, ffn: 128, ctx: 512, type: 'f32' });
  const engine = await Engine.load(file, {
    ropeMode: args['rope-mode'] ?? 'consistent',
    kvType: args['kv-type'] ?? 'f32',
  });
  const fit = engine.info().contextFit;
  const seen = [];
  let next = 0;
  // calls of up to 4096 tokens, one ending on each mark
  const ids = tokens(to);
  const t0 = performance.now();
  for (let at = 0; at < to;) {
    const end = Math.min(to, at + 4096, marks[next] ?? Infinity);
    engine.evaluate(ids.slice(at, end));
    at = end;
    if (at === marks[next]) {
      seen.push({ ctx: at, seconds: (performance.now() - t0) / 1000 });
      log(JSON.stringify(seen.at(-1)));
      next++;
    }
  }
  const n = Number(args.decode ?? 16);
  const ms = decodeMs(engine, tokens(n + 1).slice(1), n);
  const info = engine.info();
  const out = {
    model: file,
    ropeMode: info.rope.mode,
    kvType: info.kvType,
    contextFit: fit,
    marks: seen,
    decodeAt: engine.nCtx,
    decodeTokPerS: 1000 / ms,
    kvBytes: info.kvBytesPerToken * engine.nCtx,
    rssBytes: process.memoryUsage().rss,
  };
  engine.dispose();
  if (args.json) return console.log(JSON.stringify(out));
  console.log(
    `one-layer synthetic model (hidden 64, 1 head, ffn 128), ${out.ropeMode}, kv ${out.kvType}; contextFit ${fit} tokens\n`,
  );
  console.log('context  fill time  time / (L/8192)^2');
  for (const m of seen)
    console.log(
      `${String(m.ctx).padStart(7)}  ${m.seconds.toFixed(1).padStart(7)} s  ${(m.seconds / (m.ctx / 8192) ** 2).toFixed(2).padStart(8)} s`,
    );
  console.log(
    `\ndecode at ${out.decodeAt} tokens: ${out.decodeTokPerS.toFixed(1)} tok/s; KV cache ${(out.kvBytes / 2 ** 20).toFixed(0)} MB; resident ${(out.rssBytes / 2 ** 20).toFixed(0)} MB`,
  );
}

if (command === 'decode') await decode();
else if (command === 'fill') await fillBench();
else {
  console.error('usage: node bench/longctx.mjs decode|fill [options] (see the comment at the top)');
  process.exit(1);
}
