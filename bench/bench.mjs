// bench.mjs — how fast ntk-wasm runs, against llama.cpp in the same browser. Prefill tokens/s
// (prompts of 128 and 512 tokens), decode tokens/s (greedy), load MB/s and peak memory, for the
// bundled tiny model and a synthetic InternLM2-1.8B-shaped model (random weights, written once
// into the cache directory by wasm/synth.mjs), in Node and in headless Chromium; the relaxed-SIMD
// and SIMD builds against the scalar build of the same C; and wllama (llama.cpp in WebAssembly) on the same files
// in the same Chromium, one thread, as the anchor. Ratios taken within one run are the figures to
// quote: the machine is shared and absolute times drift.
//
//   node bench/bench.mjs [--quick | --full] [--json] ...   (--help lists every option)
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { mkdir, rename } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import v8 from 'node:v8';
import { Engine, checkLoadOptions, relaxedSimdSupported } from '../wasm/engine.mjs';
import { synth } from '../wasm/synth.mjs';
import { parseHeader } from '../wasm/gguf.mjs';
import { measureNode, loadMemory } from './node.mjs';
import { measureLimits } from './limits.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const tiny = (type) => path.join(ROOT, 'models', `kjv-tiny-${type}.gguf`);

const HELP = `node bench/bench.mjs [options]     (also: make bench, npm run bench, ntk-wasm bench)

  --quick              (default) the tiny model with 128- and 512-token prompts and 64 decoded
                       tokens, the synthetic model with a 128-token prompt and 16 decoded tokens
  --full               the synthetic model as the tiny one (wllama's 512-token prefill of it
                       takes minutes per file)
  --tiny TYPES         kjv-tiny files to run (default q8_0,q4_0,q4_k_m; a type the engine
                       rejects prints "unsupported")
  --synth TYPES        synthetic-model types (default q4_0,q8_0,q4_k_m); --synth none skips it
  --shape NAME         the synthetic model's shape (default internlm2-1.8b; see ntk-wasm synth)
  --prefill LIST       prompt lengths, for both models (default: as --quick/--full say)
  --decode N           tokens to decode after a 16-token prompt, for both models
  --reps N             runs per tiny-model figure, the best one counts (default 3; synthetic: 1)
  --threads LIST       ntk-wasm thread counts (default 1,2; "n/a" where Engine refuses them)
  --synth-scalar       also run the scalar build on the synthetic model (slow)
  --no-node | --no-browser | --no-wllama | --no-limits   leave a part out (limits: the
                       memory-streaming and int8 dot-product microbenchmark, bench/limits.c)
  --cache-dir DIR      where synthetic models are written and kept (default bench/.cache)
  --json               one JSON object instead of the tables
`;

const OPTIONS = {
  quick: { type: 'boolean' },
  full: { type: 'boolean' },
  tiny: { type: 'string' },
  synth: { type: 'string' },
  shape: { type: 'string' },
  prefill: { type: 'string' },
  decode: { type: 'string' },
  reps: { type: 'string' },
  threads: { type: 'string' },
  'synth-scalar': { type: 'boolean' },
  'no-node': { type: 'boolean' },
  'no-browser': { type: 'boolean' },
  'no-wllama': { type: 'boolean' },
  'no-limits': { type: 'boolean' },
  'cache-dir': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
};

const list = (s) => (s ? s.split(',').filter(Boolean) : []);
function counts(name, s) {
  const v = list(s).map(Number);
  if (!v.length || !v.every((n) => Number.isInteger(n) && n >= 0))
    throw new Error(`--${name} must be a list of integers >= 0, got "${s}"`);
  return v;
}

/** The run's plan from the command line: which files, how many tokens, which parts. */
function plan(argv) {
  const { values: o } = parseArgs({ args: argv, options: OPTIONS, strict: true });
  if (o.quick && o.full) throw new Error('--quick or --full, not both');
  const prefill = o.prefill && counts('prefill', o.prefill);
  const decode = o.decode && counts('decode', o.decode)[0];
  if (prefill?.some((n) => n < 2)) throw new Error('--prefill lengths must be at least 2 (BOS and a token)');
  const reps = o.reps ? counts('reps', o.reps)[0] : 3;
  const groups = [
    {
      model: 'kjv-tiny',
      files: list(o.tiny ?? 'q8_0,q4_0,q4_k_m').map((type) => ({ type, file: tiny(type) })),
      prefill: prefill ?? [128, 512],
      decode: decode ?? 64,
      reps,
      builds: ['relaxed', 'simd', 'scalar'],
    },
  ];
  const shape = o.shape ?? 'internlm2-1.8b',
    cacheDir = path.resolve(o['cache-dir'] ?? path.join(ROOT, 'bench/.cache'));
  const synthTypes = o.synth === 'none' ? [] : list(o.synth ?? 'q4_0,q8_0,q4_k_m');
  if (synthTypes.length)
    groups.push({
      model: `synth-${shape}`,
      synthetic: true,
      files: synthTypes.map((type) => ({ type, file: path.join(cacheDir, `${shape}-${type}.gguf`) })),
      prefill: prefill ?? (o.full ? [128, 512] : [128]),
      decode: decode ?? (o.full ? 64 : 16),
      reps: o.reps ? reps : 1,
      builds: o['synth-scalar'] ? ['relaxed', 'simd', 'scalar'] : ['relaxed', 'simd'],
    });
  for (const g of groups)
    for (const f of g.files) if (!g.synthetic && !existsSync(f.file)) throw new Error(`no such model: ${f.file}`);
  return {
    o,
    groups,
    shape,
    cacheDir,
    threads: o.threads ? counts('threads', o.threads) : [1, 2],
    node: !o['no-node'],
    browser: !o['no-browser'],
    wllama: !o['no-browser'] && !o['no-wllama'],
  };
}

/** The synthetic model, written once: a .part file renamed when whole, so an interrupted run leaves nothing that looks done. */
async function ensureSynth(shape, type, file, say) {
  if (existsSync(file)) return;
  await mkdir(path.dirname(file), { recursive: true });
  say(`writing ${file} (once; kept for later runs)`);
  await synth(`${file}.part`, { shape, type });
  await rename(`${file}.part`, file);
}

// Whether this Engine takes a thread count: the option check says so before anything loads.
function threadsAccepted(threads) {
  try {
    checkLoadOptions({ threads });
    return true;
  } catch (e) {
    return e.message;
  }
}

/** Prompt token ids (BOS first, then held-out KJV text) and, for wllama, their text by length. */
async function prompts(lengths) {
  const b = readFileSync(path.join(ROOT, 'tests/fixtures/kjv-tiny/heldout_ids.u16'));
  const ids = [1, ...new Uint16Array(b.buffer, b.byteOffset, b.length / 2).subarray(0, Math.max(...lengths) - 1)];
  const engine = await Engine.load(tiny('q8_0'));
  try {
    return { ids, texts: Object.fromEntries(lengths.map((n) => [n, engine.detokenize(ids.slice(1, n))])) };
  } finally {
    engine.dispose();
  }
}

// A page that fails one measurement (out of memory, say) is one row's news, not the run's end.
const failed = (promise) => promise.catch((e) => ({ error: e.message.split('\n')[0] }));

/**
 * Run the bench with command-line arguments; prints the tables (or JSON) and returns the result.
 * An error in the arguments has `usage: true`.
 */
export async function runBench(argv, { say = (s) => process.stderr.write(s + '\n') } = {}) {
  let p;
  try {
    p = plan(argv);
  } catch (e) {
    throw Object.assign(e, { usage: true });
  }
  if (p.o.help) return process.stdout.write(HELP);
  // Node 20 runs the relaxed build only with this V8 flag; the bench is its own process
  const relaxedFlag = !relaxedSimdSupported();
  if (relaxedFlag) v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
  const { ids, texts } = await prompts([16, ...p.groups.flatMap((g) => g.prefill)]);
  for (const g of p.groups) if (g.synthetic) for (const f of g.files) await ensureSynth(p.shape, f.type, f.file, say);

  const limits = p.o['no-limits'] ? null : await measureLimits(p.cacheDir);
  const rows = [],
    memory = [];
  const ntkRows = async (env, run) => {
    for (const g of p.groups)
      for (const { type, file } of g.files)
        for (const build of g.builds)
          for (const threads of p.threads) {
            const base = { model: g.model, type, env, engine: 'ntk-wasm', build, threads };
            const accepted = threads === 1 || threadsAccepted(threads);
            if (accepted !== true) {
              rows.push({ ...base, na: accepted });
              continue;
            }
            say(`${env}: ntk-wasm ${g.model} ${type} ${build} ${threads} thread(s)`);
            rows.push({
              ...base,
              decodeN: g.decode,
              ...(await run(file, { build, threads, prefill: g.prefill, decode: g.decode, reps: g.reps, ids })),
            });
          }
  };
  if (p.node) {
    await ntkRows('node', measureNode);
    for (const g of p.groups)
      for (const { type, file } of g.files) {
        say(`node: load memory ${g.model} ${type}`);
        memory.push({ model: g.model, type, ...loadMemory(file, tiny('q4_0')) });
      }
  }
  let chromium = null;
  if (p.browser) {
    const { openBrowser } = await import('./browser.mjs');
    const browser = await openBrowser({ root: ROOT, cacheDir: p.cacheDir });
    chromium = browser.version;
    try {
      await ntkRows('chromium', (file, opts) => failed(browser.run('ntk', { url: browser.url(file), ...opts })));
      if (p.wllama)
        for (const g of p.groups)
          for (const { type, file } of g.files) {
            say(`chromium: wllama ${g.model} ${type}`);
            const { arch, trainedCtx } = fileInfo(file);
            const opts = { prefill: g.prefill, decode: g.decode, reps: g.reps, texts, arch, trainedCtx };
            rows.push({
              model: g.model,
              type,
              env: 'chromium',
              engine: 'wllama',
              build: 'simd',
              decodeN: g.decode,
              ...(await failed(browser.run('wllama', { url: browser.url(file), ...opts }))),
            });
          }
    } finally {
      await browser.close();
    }
  }
  for (const r of rows) {
    const { file } = p.groups.find((g) => g.model === r.model).files.find((x) => x.type === r.type);
    if (r.loadMs !== undefined) r.loadMBps = statSync(file).size / 2 ** 20 / (r.loadMs / 1000);
    if (r.decode) r.decodeGMACps = (fileInfo(file).macs * r.decode) / 1e9;
  }
  const result = {
    node: process.version,
    relaxedFlag,
    chromium,
    wllama: p.wllama ? wllamaVersion() : null,
    groups: p.groups.map(({ model, synthetic = false, prefill, decode, reps, files }) => ({
      model,
      synthetic,
      prefill,
      decode,
      reps,
      types: files.map((f) => f.type),
      files: files.map((f) => path.relative(ROOT, f.file)),
    })),
    limits,
    rows,
    memory,
    ratios: ratios(rows),
  };
  if (p.o.json) process.stdout.write(JSON.stringify(result, null, 2) + '\n');
  else process.stdout.write(report(result));
  return result;
}

/**
 * From a file's header: its architecture, trained context, and the multiply-adds of one token
 * through its weight matrices (token_embd is a lookup, not a product).
 */
function fileInfo(file) {
  const fd = openSync(file, 'r'),
    head = Buffer.alloc(8 << 20);
  try {
    readSync(fd, head, 0, head.length, 0);
  } finally {
    closeSync(fd);
  }
  const { kv, tensors } = parseHeader(new Uint8Array(head.buffer, head.byteOffset, head.length), { values: true });
  const arch = kv.find((r) => r.key === 'general.architecture').value;
  return {
    arch,
    trainedCtx: kv.find((r) => r.key === `${arch}.context_length`).value,
    macs: tensors
      .filter((t) => t.dims.length === 2 && t.name !== 'token_embd.weight')
      .reduce((n, t) => n + t.dims[0] * t.dims[1], 0),
  };
}

const wllamaVersion = () =>
  JSON.parse(readFileSync(path.join(ROOT, 'node_modules/@wllama/wllama/package.json'), 'utf8')).version;

// a/b of every figure two rows share
function over(a, b) {
  const out = {};
  for (const [n, v] of Object.entries(a.prefill)) if (b.prefill?.[n]) out[`prefill${n}`] = v / b.prefill[n];
  if (a.decode && b.decode) out.decode = a.decode / b.decode;
  return out;
}

/** Per file and place, one thread: each SIMD build against wllama (Chromium) and against the
 * scalar build, and relaxed against simd. */
function ratios(rows) {
  const ok = rows.filter((r) => r.prefill && (r.threads ?? 1) === 1);
  const find = (r, q) =>
    ok.find((x) => x.model === r.model && x.type === r.type && Object.entries(q).every(([k, v]) => x[k] === v));
  const out = [];
  for (const r of ok.filter((x) => x.engine === 'ntk-wasm' && x.build !== 'scalar')) {
    const w = r.env === 'chromium' && find(r, { engine: 'wllama' });
    if (w) out.push({ model: r.model, type: r.type, env: r.env, of: `${r.build}/wllama`, ...over(r, w) });
    const s = find(r, { engine: 'ntk-wasm', env: r.env, build: 'scalar' });
    if (s) out.push({ model: r.model, type: r.type, env: r.env, of: `${r.build}/scalar`, ...over(r, s) });
    const plain = r.build === 'relaxed' && find(r, { engine: 'ntk-wasm', env: r.env, build: 'simd' });
    if (plain) out.push({ model: r.model, type: r.type, env: r.env, of: 'relaxed/simd', ...over(r, plain) });
  }
  return out;
}

const fmt = (v, d = 1) => (v === undefined ? '' : v >= 100 ? v.toFixed(0) : v.toFixed(d));

export function report(res) {
  const lines = [],
    notes = [];
  const put = (cells, widths) =>
    lines.push(
      cells
        .map((c, i) => (i < 6 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i])))
        .join(' ')
        .trimEnd(),
    );
  lines.push(
    `Node ${res.node}${res.relaxedFlag ? ' (relaxed SIMD by --experimental-wasm-relaxed-simd)' : ''}${res.chromium ? `, ${res.chromium} headless` : ''}${res.wllama ? `, wllama ${res.wllama}` : ''}; tokens/s, best of the runs; one run's ratios are the figures to quote`,
  );
  for (const g of res.groups) {
    const cols = [...g.prefill.map((n) => `prefill ${n}`), `decode ${g.decode}`, 'GMAC/s', 'load MB/s'];
    const widths = [Math.max(16, g.model.length), 7, 9, 9, 7, 4, ...cols.map((c) => Math.max(9, c.length))];
    lines.push(
      '',
      `${g.model}${g.synthetic ? ' (random weights)' : ''}: prompts of ${g.prefill.join(' and ')} tokens, ${g.decode} decoded after 16, best of ${g.reps}`,
    );
    put(['model', 'type', 'env', 'engine', 'build', 'thr', ...cols], widths);
    // file by file: Node, then Chromium, then wllama in Chromium
    const order = (r) => [g.types.indexOf(r.type), r.env === 'node' ? 0 : 1, r.engine === 'wllama' ? 1 : 0];
    const rows = res.rows.filter((x) => x.model === g.model).map((r, i) => [order(r), i, r]);
    rows.sort(([a, i], [b, j]) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2] || i - j);
    for (const [, , r] of rows) {
      const head = [r.model, r.type, r.env, r.engine, r.build, r.threads ?? 1];
      const note = r.na ?? r.unsupported ?? r.error;
      if (note) {
        if (!notes.includes(note)) notes.push(note);
        put(
          [...head, `${r.na ? 'n/a' : r.unsupported ? 'unsupported' : 'failed'} [${notes.indexOf(note) + 1}]`],
          widths,
        );
      }
      // decode GMAC/s: multiply-adds of the weight matrices per token x tokens/s
      else
        put(
          [
            ...head,
            ...g.prefill.map((n) => fmt(r.prefill[n])),
            fmt(r.decode),
            fmt(r.decodeGMACps, 2),
            fmt(r.loadMBps, 0),
          ],
          widths,
        );
    }
  }
  notes.forEach((n, i) => lines.push(`[${i + 1}] ${n}`));
  const label = (r) => `${r.model} ${r.type}`.padEnd(Math.max(24, ...res.groups.map((g) => g.model.length + 8)));
  if (res.ratios.length) {
    lines.push('', 'ratios (same file, same place, one thread):');
    for (const r of res.ratios)
      lines.push(
        `  ${label(r)} ${r.env.padEnd(9)} ${r.of.padEnd(16)} ${Object.entries(r)
          .filter(([k]) => k.startsWith('prefill') || k === 'decode')
          .map(([k, v]) => `${k} ${v.toFixed(2)}x`)
          .join('  ')}`,
      );
  }
  if (res.memory.length) {
    lines.push('', 'loading in Node: peak resident memory over the process before the load, against the file size');
    for (const m of res.memory)
      lines.push(
        m.unsupported
          ? `  ${label(m)} unsupported`
          : `  ${label(m)} file ${m.fileMB.toFixed(1)} MB  peak +${m.peakMB.toFixed(1)} MB (${(m.peakMB / m.fileMB).toFixed(2)}x)  ${m.loadMBps.toFixed(0)} MB/s`,
      );
  }
  lines.push(
    '',
    'GMAC/s is the decode rate times the multiply-adds of one token through the weight matrices. For',
    'scale, issue 5: a WebAssembly SIMD loop streams memory at about 14 GB/s and a plain int8 dot-product',
    'loop reaches about 3.5 G multiply-adds/s on one thread.',
  );
  const l = res.limits;
  if (l)
    lines.push(
      l.error
        ? `Measured here: not run (${l.error}).`
        : `Measured here, this run (bench/limits.c, Node, one thread): ${l.streamGBps.toFixed(1)} GB/s streaming, ${l.dotGMACps.toFixed(2)} G int8 multiply-adds/s.`,
    );
  return lines.join('\n') + '\n';
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  runBench(process.argv.slice(2)).catch((e) => {
    process.stderr.write(`bench: ${e.usage ? e.message : e.stack}\n`);
    process.exitCode = e.usage ? 1 : 3;
  });
}
