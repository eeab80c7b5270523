#!/usr/bin/env node
// cli.mjs — the ntk-wasm command line: a thin layer over Engine (engine.mjs).
import { existsSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Engine, NtkError, checkGenerateOptions, checkLoadOptions } from './engine.mjs';

const DEFAULT_MODEL = fileURLToPath(new URL('../models/kjv-tiny-q8_0.gguf', import.meta.url));
const EXIT = { ok: 0, usage: 1, model: 2, runtime: 3 };

const HELP = `ntk-wasm — InternLM2/Llama GGUF inference in WebAssembly, with dynamic NTK RoPE

Usage:
  ntk-wasm run [MODEL] (-p TEXT | --prompt-tokens FILE.json) [options]
      Generate text after a prompt. Text goes to stdout, speed and context to stderr.
      -n, --n-predict N        tokens to generate (default 64)
      --temp T                 temperature; 0 is greedy (default 0.8)
      --top-k K                keep the K most likely tokens; 0 is off (default 40)
      --top-p P                nucleus sampling, (0, 1] (default 0.95)
      --min-p M                drop tokens below M x the top probability (default 0.05)
      --repeat-penalty R       penalise tokens of the last --repeat-window (default 1.0: off)
      --repeat-window W        tokens the penalty looks back over (default 64)
      --seed S                 random seed; the same seed gives the same text (default: random)
      --json                   one JSON object per token: {"id","text","nCtx","base"}
  ntk-wasm logits [MODEL] (--prompt-tokens FILE.json | -p TEXT) --at 0,31,99 [--top 10]
      One forward pass of the whole prompt; prints [{"pos","top":[[id,logit],...]}] as JSON.
  ntk-wasm tokenize [MODEL] TEXT [--json]
      Token ids and pieces (--json: a JSON array of ids, without BOS).
  ntk-wasm chat [MODEL] [sampling options as for run] [--system TEXT]
      Talk to the model in the terminal (its chat template; InternLM2's if it has none). The
      answer streams, then the context length and RoPE base. Ctrl-C stops an answer; Ctrl-C at
      the prompt, Ctrl-D or /exit quits; /reset starts a new conversation. Lines piped into
      stdin are taken as user turns, one a line.
  ntk-wasm info [MODEL] [--json] [--all]
      Architecture, shapes, tensor types, trained context, RoPE base and scaling in force;
      --all also lists every metadata key and every tensor (name, type, shape).
  ntk-wasm perplexity [MODEL] (--tokens FILE.u16 | --file TEXT) --ctx N [--windows W] [--json]
      Perplexity by tests/fixtures/kjv-tiny/EVAL.md: W windows (default 20) at
      floor(linspace(0, tokens - N, W)), each BOS + N-1 tokens in one forward pass; the mean NLL
      of the last 256 predicted tokens of each window, averaged. --tokens: uint16 little-endian
      ids without BOS (as heldout_ids.u16); --file: a text file, tokenized without BOS.
      --json: {"ctx","windows","nll","ppl"}.
  ntk-wasm passkey [MODEL] --len N [--trials K] [--seed S] [--corpus PATH] [--json]
      Passkey retrieval by EVAL.md: N tokens of held-out filler (corpus lines 23146 on, default
      tests/fixtures/corpus/kjv.txt) hiding "The pass key is NNNNN. ...", then the question; a
      trial is right when the 5 greedy tokens are the 5 digits. --trials default 20, --seed
      default 1000 + N. --json: {"len","trials","correct","accuracy"}.
  ntk-wasm synth -o FILE (--shape NAME | --layers N --hidden D --heads H --ffn F --ctx L0)
                 [--kv-heads K] [--type TYPE] [--dynamic-factor A] [--theta T] [--seed S]
      Write an internlm2 GGUF with random weights (fixed seed) and the kjv-tiny vocabulary, for
      benchmarks at any shape. --shape internlm2-1.8b, internlm2-7b or kjv-tiny gives every
      value of that model; the flags given override them. TYPE: f32 (default), f16, q8_0, q4_0,
      q4_k, q5_k, q6_k, or the mixtures q4_k_m, q5_k_m (llama.cpp's: Q6_K for output and some
      attn_v, ffn_down); K-quant blocks hold random bits. --dynamic-factor 0 writes no
      dynamic-NTK key.

  ntk-wasm bench [--quick | --full] [--json] [...]
      Prefill and decode tokens/s, load MB/s and memory in Node and headless Chromium, against
      wllama (llama.cpp in WebAssembly) on the same files: bench/bench.mjs, which the npm
      package does not ship (run it from a clone of the repository; --help there lists options).

Options of every command:
  -m, --model PATH|URL       the GGUF file (or give it as the first argument): a path or an
                             http(s) URL; for a split model, part 1 (NAME-00001-of-0000N.gguf);
                             default models/kjv-tiny-q8_0.gguf
  --progress                 show a load progress bar on stderr (on by default on a terminal)
  --rope-mode MODE           consistent (default for internlm2: every key rotated with the
                             current base), cached (keys keep the base they were written
                             with, as transformers), none (plain RoPE; default for llama)
  --rope-factor F            dynamic NTK factor >= 1 (default: the file's, else 2.0)
  --trained-ctx N            trained context length L0 (default: the file's context_length)
  --rope-refresh N           move the dynamic base every N tokens rather than every token
                             (past L0 the length is rounded up to L0 + a multiple of N)
  --kv-type T                KV cache elements: f32 (default), f16 or q8_0
  --max-context N            refuse to hold more than N tokens (default: memory is the limit)
  --threads N                threads that evaluate (default 1); the logits are the same
  --build B                  auto (default: relaxed where the runtime validates relaxed SIMD, else
                             simd), relaxed, simd, or scalar (no SIMD, for comparisons; one thread).
                             Node 20 runs relaxed only as node --experimental-wasm-relaxed-simd
  --scalar                   the same as --build scalar
  -h, --help                 this text

A prompt file is a JSON array of token ids, used as is (include BOS 1 if you want it).
Exit codes: 0 ok, 1 usage error, 2 model or file error, 3 runtime error.
`;

class UsageError extends Error {}

// Option table: long name -> [short alias, kind]. Values are taken verbatim, so "-n -5"
// reaches the number check and gets a clear message.
const OPTIONS = {
  model: ['m', 'string'], prompt: ['p', 'string'], 'prompt-tokens': [null, 'string'],
  'n-predict': ['n', 'int'], temp: [null, 'number'], 'top-k': [null, 'int'], 'top-p': [null, 'number'],
  'min-p': [null, 'number'], 'repeat-penalty': [null, 'number'], 'repeat-window': [null, 'int'],
  seed: [null, 'int'], 'rope-mode': [null, 'string'], 'rope-factor': [null, 'number'],
  'trained-ctx': [null, 'int'], 'rope-refresh': [null, 'int'], 'kv-type': [null, 'string'],
  'max-context': [null, 'int'], at: [null, 'string'], top: [null, 'int'], json: [null, 'bool'],
  threads: [null, 'int'], build: [null, 'string'], scalar: [null, 'bool'], help: ['h', 'bool'], all: [null, 'bool'], progress: [null, 'bool'],
  system: [null, 'string'], output: ['o', 'string'], layers: [null, 'int'], hidden: [null, 'int'],
  heads: [null, 'int'], 'kv-heads': [null, 'int'], ffn: [null, 'int'], ctx: [null, 'int'], type: [null, 'string'],
  'dynamic-factor': [null, 'number'], shape: [null, 'string'], theta: [null, 'number'], tokens: [null, 'string'], file: [null, 'string'],
  windows: [null, 'int'], len: [null, 'int'], trials: [null, 'int'], corpus: [null, 'string'],
};
const SHORT = Object.fromEntries(Object.entries(OPTIONS).filter(([, [s]]) => s).map(([l, [s]]) => [s, l]));
const SAMPLING = ['n-predict', 'temp', 'top-k', 'top-p', 'min-p', 'repeat-penalty', 'repeat-window', 'seed'];
const COMMANDS = {
  run: ['prompt', 'prompt-tokens', ...SAMPLING, 'json'],
  chat: [...SAMPLING, 'system'],
  logits: ['prompt', 'prompt-tokens', 'at', 'top'],
  tokenize: ['json'],
  info: ['json', 'all'],
  perplexity: ['tokens', 'file', 'ctx', 'windows', 'json'],
  passkey: ['len', 'trials', 'seed', 'corpus', 'json'],
  bench: [],  // its options are bench/bench.mjs's own
  synth: ['output', 'shape', 'layers', 'hidden', 'heads', 'kv-heads', 'ffn', 'ctx', 'type', 'dynamic-factor', 'theta', 'seed'],
};
// options of every command that loads a model
const COMMON = ['model', 'rope-mode', 'rope-factor', 'trained-ctx', 'rope-refresh', 'kv-type', 'max-context', 'threads', 'build', 'scalar', 'progress', 'help'];

function parseArgs(argv) {
  const opts = {}, positional = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    let name, value;
    if (a.startsWith('--') && a.length > 2) {
      [name, value] = a.slice(2).split(/=(.*)/s);
    } else if (a.startsWith('-') && a.length === 2 && SHORT[a[1]]) {
      name = SHORT[a[1]];
    } else if (a.startsWith('-') && a.length > 1 && Number.isNaN(Number(a))) {
      throw new UsageError(`unknown option ${a}`);
    } else {
      positional.push(a);
      continue;
    }
    const spec = OPTIONS[name];
    if (!spec) throw new UsageError(`unknown option --${name}`);
    if (spec[1] === 'bool') {
      if (value !== undefined) throw new UsageError(`--${name} takes no value`);
      opts[name] = true;
      continue;
    }
    if (value === undefined) {
      if (i + 1 >= argv.length) throw new UsageError(`--${name} needs a value`);
      value = argv[++i];
    }
    opts[name] = spec[1] === 'string' ? value : toNumber(name, value, spec[1] === 'int');
  }
  return { opts, positional };
}

function toNumber(name, s, integer) {
  const v = Number(s);
  if (s.trim() === '' || !Number.isFinite(v) || (integer && !Number.isInteger(v)))
    throw new UsageError(`--${name} must be ${integer ? 'an integer' : 'a number'}, got "${s}"`);
  return v;
}

function readPromptTokens(path) {
  let ids;
  try {
    ids = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new UsageError(`--prompt-tokens ${path}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
  }
  if (!Array.isArray(ids) || ids.length === 0 || !ids.every(Number.isInteger))
    throw new UsageError(`--prompt-tokens ${path}: expected a non-empty JSON array of integer token ids`);
  return ids;
}

function loadOptions(opts) {
  return usage(() => checkLoadOptions({
    ropeMode: opts['rope-mode'], ropeFactor: opts['rope-factor'], trainedCtx: opts['trained-ctx'],
    ropeRefresh: opts['rope-refresh'], kvType: opts['kv-type'], maxContext: opts['max-context'],
    threads: opts.threads, build: opts.scalar ? 'scalar' : opts.build,
  }));
}

// Option errors found by the engine's checks are usage errors here (exit 1); check may be async.
function usage(check) {
  const asUsage = (e) => {
    throw e instanceof NtkError && e.code === 'ARG' ? new UsageError(e.message) : e;
  };
  try {
    const result = check();
    return result instanceof Promise ? result.catch(asUsage) : result;
  } catch (e) {
    return asUsage(e);
  }
}

// A progress bar on stderr: bytes, percent, speed and phase, redrawn in place.
function progressBar() {
  const t0 = performance.now();
  let last = 0;
  return ({ loaded, total, phase, part, parts }) => {
    const now = performance.now();
    if (phase !== 'ready' && now - last < 100) return;
    last = now;
    const mb = (n) => (n / 1048576).toFixed(1);
    const rate = loaded / 1048576 / Math.max((now - t0) / 1000, 1e-3);
    const width = 30, frac = total ? loaded / total : 0, fill = Math.round(frac * width);
    const bar = total ? `[${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${(frac * 100).toFixed(0).padStart(3)}% ` : '';
    const split = parts > 1 ? ` part ${part}/${parts}` : '';
    err(`\r${bar}${mb(loaded)}${total ? '/' + mb(total) : ''} MB ${rate.toFixed(0)} MB/s ${phase}${split}\x1b[K${phase === 'ready' ? '\n' : ''}`);
  };
}

async function loadEngine(opts) {
  const onProgress = opts.progress || process.stderr.isTTY ? progressBar() : undefined;
  return Engine.load(opts.model ?? DEFAULT_MODEL, { ...loadOptions(opts), onProgress });
}

function samplingOptions(opts, { signal, maxTokens }) {
  return usage(() => checkGenerateOptions({
    maxTokens: opts['n-predict'] ?? maxTokens,
    temperature: opts.temp, topK: opts['top-k'], topP: opts['top-p'], minP: opts['min-p'],
    repeatPenalty: opts['repeat-penalty'], repeatWindow: opts['repeat-window'], seed: opts.seed, signal,
  }));
}

function promptOf(engine, opts, required = true) {
  if (opts.prompt !== undefined && opts['prompt-tokens'] !== undefined)
    throw new UsageError('give -p TEXT or --prompt-tokens FILE, not both');
  if (opts['prompt-tokens'] !== undefined) return readPromptTokens(opts['prompt-tokens']);
  if (opts.prompt !== undefined) return engine.tokenize(opts.prompt);
  if (required) throw new UsageError('a prompt is needed: -p TEXT or --prompt-tokens FILE.json');
  return null;
}

const out = (s) => process.stdout.write(s);
// a reader that stops early (| head) is not an error
process.stdout.on('error', (e) => { if (e.code === 'EPIPE') process.exit(EXIT.ok); else throw e; });
const err = (s) => process.stderr.write(s);

async function cmdRun(opts) {
  const ac = new AbortController();
  const gen = samplingOptions(opts, { signal: ac.signal, maxTokens: 64 });
  if (opts['prompt-tokens'] === undefined && opts.prompt === undefined) promptOf(null, opts);
  const engine = await loadEngine(opts);
  const prompt = promptOf(engine, opts);
  process.once('SIGINT', () => ac.abort());
  if (!opts.json) out(opts.prompt ?? engine.detokenize(prompt));
  const t0 = performance.now();
  let tFirst = 0, count = 0, last = null;
  for await (const t of engine.generate(prompt, gen)) {
    if (count++ === 0) tFirst = performance.now();
    out(opts.json ? JSON.stringify({ id: t.id, text: t.text, nCtx: t.nCtx, base: t.base }) + '\n' : t.text);
    last = t;
  }
  const tEnd = performance.now();
  if (!opts.json) out('\n');
  const info = engine.info();
  const prefill = Array.isArray(prompt) ? prompt.length : 0;
  const decodeRate = count > 1 ? ((count - 1) / (tEnd - tFirst)) * 1000 : 0;
  err(`[prefill ${prefill} tokens ${(prefill / (tFirst - t0) * 1000).toFixed(1)} tok/s, ` +
      `decode ${count} tokens ${decodeRate.toFixed(1)} tok/s, context ${last?.nCtx ?? prefill}, ` +
      `rope ${info.rope.mode} base ${(last?.base ?? info.rope.theta).toFixed(3)} (trained ${info.rope.trainedCtx}, factor ${info.rope.factor})]\n`);
  engine.dispose();
}

async function cmdLogits(opts) {
  if (opts.at === undefined) throw new UsageError('--at POSITIONS is needed, e.g. --at 0,31,99');
  const at = opts.at.split(',').map((s) => toNumber('at', s, true));
  const top = opts.top ?? 10;
  if (top < 1) throw new UsageError(`--top must be at least 1, got ${top}`);
  if (opts['prompt-tokens'] === undefined && opts.prompt === undefined) promptOf(null, opts);
  const engine = await loadEngine(opts);
  const ids = promptOf(engine, opts);
  for (const p of at)
    if (p < 0 || p >= ids.length) throw new UsageError(`--at ${p} is outside the prompt's ${ids.length} positions`);
  const logits = engine.evaluate(ids, { allLogits: true });
  const nv = engine.nVocab;
  const result = at.map((pos) => {
    const row = logits.subarray(pos * nv, (pos + 1) * nv);
    const order = Array.from(row.keys()).sort((a, b) => row[b] - row[a] || a - b).slice(0, top);
    return { pos, top: order.map((id) => [id, row[id]]) };
  });
  out(JSON.stringify(result) + '\n');
  engine.dispose();
}

async function cmdTokenize(opts, positional) {
  if (positional.length !== 1) throw new UsageError('tokenize needs exactly one TEXT');
  const engine = await loadEngine(opts);
  const ids = engine.tokenize(positional[0], { bos: false });
  out(opts.json ? JSON.stringify(ids) + '\n' : ids.map((id) => `${id}\t${JSON.stringify(engine.piece(id))}\n`).join(''));
  engine.dispose();
}

async function cmdInfo(opts) {
  const engine = await loadEngine(opts);
  const i = engine.info();
  if (opts.json) {
    out(JSON.stringify(i, null, 2) + '\n');
  } else {
    const r = i.rope;
    const scaling = r.mode === 'none' ? 'none (plain RoPE at every length)'
      : `dynamic NTK, ${r.mode} cache, factor ${r.factor} (${r.factorSource === 'file' ? 'from the file' : r.factorSource === 'option' ? 'from the option' : 'default: the file has no dynamic_ntk.factor'})`;
    out([
      `name           ${i.name}`,
      `architecture   ${i.architecture} (GGUF v${i.ggufVersion})`,
      `shape          ${i.nLayers} layers, embedding ${i.dim}, ${i.nHeads} heads / ${i.nKvHeads} KV heads of ${i.headDim}, FFN ${i.ffn}, vocab ${i.nVocab}`,
      `tensors        ${i.nTensors} (${(i.tensorBytes / 1048576).toFixed(1)} MB): ${Object.entries(i.tensorTypes).map(([t, n]) => `${n} ${t}`).join(', ')}`,
      `context        trained ${r.trainedCtx} tokens`,
      `rope           base ${r.theta} up to ${r.trainedCtx} tokens; beyond: ${scaling}`,
      `rope mode      ${r.mode} (${r.modeSource === 'option' ? 'from the option' : r.modeSource === 'file' ? 'the file asks for dynamic NTK' : `default for ${i.architecture}`})`,
      `tokens         bos ${i.bos}, eos ${i.eos}${i.eot >= 0 ? `, end-of-turn ${i.eot}` : ''}, add_bos ${i.addBos}`,
      `kernels        ${i.relaxedSimd ? 'WebAssembly SIMD128 and relaxed SIMD' : i.simd ? 'WebAssembly SIMD128' : 'scalar'}, ${i.threads} thread${i.threads > 1 ? 's' : ''}`,
      i.splits > 1 ? `split          ${i.splits} parts` : null,
    ].filter(Boolean).join('\n') + '\n');
  }
  if (opts.all) {
    const { metadata, tensors } = engine.metadata({ maxArrayItems: opts.json ? 16 : 4 });
    if (opts.json) {
      out(JSON.stringify({ metadata, tensors }, null, 2) + '\n');
    } else {
      const show = (v) => (v && typeof v === 'object' ? `[${v.array} x ${v.length}] ${JSON.stringify(v.head)}${v.length > v.head.length ? ' ...' : ''}` : JSON.stringify(v));
      out(`\nmetadata (${Object.keys(metadata).length} keys)\n`);
      for (const [k, v] of Object.entries(metadata)) out(`  ${k.padEnd(44)} ${show(v).slice(0, 160)}\n`);
      out(`\ntensors (${tensors.length})\n`);
      for (const t of tensors) out(`  ${t.name.padEnd(32)} ${t.type.padEnd(6)} [${t.shape.join(', ')}]${t.part > 1 ? `  part ${t.part}` : ''}\n`);
    }
  }
  engine.dispose();
}

async function cmdChat(opts) {
  const engine = await loadEngine(opts);
  samplingOptions(opts, { maxTokens: 256 });  // check them before the first turn
  const interactive = process.stdin.isTTY;
  const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: interactive, prompt: interactive ? '> ' : '' });
  const system = opts.system === undefined ? [] : [{ role: 'system', content: opts.system }];
  let messages = [...system];
  let answering = null;  // the AbortController of the answer being written
  const interrupt = () => {
    if (answering) answering.abort();
    else rl.close();
  };
  rl.on('SIGINT', interrupt);
  process.on('SIGINT', interrupt);  // piped stdin: readline does not see Ctrl-C
  if (interactive) err(`chatting with ${engine.info().name}; Ctrl-C stops an answer, /reset starts over, /exit or Ctrl-D quits\n`);
  rl.prompt();
  for await (const line of rl) {
    const text = line.trim();
    if (text === '/exit') break;
    if (text === '/reset') {
      messages = [...system];
      engine.reset();
      rl.prompt();
      continue;
    }
    if (!text) { rl.prompt(); continue; }
    messages.push({ role: 'user', content: text });
    answering = new AbortController();
    let answer = '';
    let last = null;
    for await (const t of engine.chat(messages, samplingOptions(opts, { signal: answering.signal, maxTokens: 256 }))) {
      out(t.text);
      answer += t.text;
      last = t;
    }
    const stopped = answering.signal.aborted;
    answering = null;
    messages.push({ role: 'assistant', content: answer });
    err(`\n[${stopped ? 'stopped; ' : ''}context ${engine.nCtx} tokens, rope ${engine.info().rope.mode} base ${(last?.base ?? engine.base).toFixed(1)}]\n`);
    rl.prompt();
  }
  process.off('SIGINT', interrupt);
  rl.close();
  engine.dispose();
}


function ropeSummary(engine) {
  const r = engine.info().rope;
  return r.mode === 'none' ? 'rope none' : `rope ${r.mode} factor ${r.factor}`;
}

async function cmdPerplexity(opts) {
  if ((opts.tokens === undefined) === (opts.file === undefined))
    throw new UsageError(opts.tokens === undefined ? 'perplexity needs the text: --tokens FILE.u16 or --file TEXT' : 'give --tokens or --file, not both');
  if (opts.ctx === undefined) throw new UsageError('perplexity needs --ctx N, the window length in tokens');
  if (opts.ctx < 2) throw new UsageError(`--ctx must be at least 2 (BOS and one token to predict), got ${opts.ctx}`);
  const windows = opts.windows ?? 20;
  if (windows < 1) throw new UsageError(`--windows must be at least 1, got ${windows}`);
  const { perplexity, readU16 } = await import('./evaluate.mjs');
  let ids, text;
  try {
    if (opts.tokens !== undefined) ids = readU16(opts.tokens);
    else text = readFileSync(opts.file, 'utf8');
  } catch (e) {
    if (e instanceof NtkError) throw e;
    throw new NtkError(`cannot read ${opts.tokens ?? opts.file}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`, 'IO');
  }
  const engine = await loadEngine(opts);
  if (text !== undefined) ids = engine.tokenize(text, { bos: false });
  const t0 = performance.now();
  const show = process.stderr.isTTY;
  const r = await usage(() => perplexity(engine, ids, {
    ctx: opts.ctx, windows,
    onWindow: show ? ({ index, nll }) => err(`\rwindow ${index + 1}/${windows} nll ${nll.toFixed(4)}\x1b[K`) : undefined,
  }));
  if (show) err('\r\x1b[K');
  const secs = (performance.now() - t0) / 1000;
  if (opts.json) out(JSON.stringify({ ctx: r.ctx, windows: r.windows, nll: r.nll, ppl: r.ppl }) + '\n');
  else out(`ctx ${r.ctx}  windows ${r.windows}  ${ropeSummary(engine)}  nll ${r.nll.toFixed(4)}  ppl ${r.ppl.toFixed(2)}\n`);
  err(`[${ids.length} tokens in the stream, ${(r.ctx * r.windows / secs).toFixed(0)} tok/s, ${secs.toFixed(1)} s]\n`);
  engine.dispose();
}

async function cmdPasskey(opts) {
  if (opts.len === undefined) throw new UsageError('passkey needs --len N, the prompt length in tokens');
  const trials = opts.trials ?? 20;
  if (trials < 1) throw new UsageError(`--trials must be at least 1, got ${trials}`);
  if (opts.seed !== undefined && opts.seed < 0) throw new UsageError(`--seed must be >= 0, got ${opts.seed}`);
  const { passkey, readHeldOut, DEFAULT_CORPUS } = await import('./evaluate.mjs');
  let heldOut;
  try {
    heldOut = readHeldOut(opts.corpus ?? DEFAULT_CORPUS);
  } catch (e) {
    if (e instanceof NtkError) throw new UsageError(`--corpus: ${e.message}`);
    throw new NtkError(`cannot read the corpus ${opts.corpus ?? DEFAULT_CORPUS}: ${e.code === 'ENOENT' ? 'no such file (give one with --corpus PATH)' : e.message}`, 'IO');
  }
  const engine = await loadEngine(opts);
  const t0 = performance.now();
  const show = process.stderr.isTTY;
  let right = 0;
  const r = await usage(() => passkey(engine, {
    len: opts.len, trials, seed: opts.seed, heldOut,
    onTrial: show ? ({ index, ok }) => err(`\rtrial ${index + 1}/${trials}: ${(right += ok)} right\x1b[K`) : undefined,
  }));
  if (show) err('\r\x1b[K');
  const secs = (performance.now() - t0) / 1000;
  if (opts.json) out(JSON.stringify({ len: r.len, trials: r.trials, correct: r.correct, accuracy: r.accuracy }) + '\n');
  else out(`len ${r.len}  trials ${r.trials}  ${ropeSummary(engine)}  correct ${r.correct}/${r.trials}  accuracy ${r.accuracy.toFixed(3)}\n`);
  err(`[seed ${opts.seed ?? 1000 + opts.len}, ${secs.toFixed(1)} s]\n`);
  engine.dispose();
}

async function cmdSynth(opts) {
  if (!opts.output) throw new UsageError('synth needs -o FILE');
  if (opts.shape === undefined)
    for (const k of ['layers', 'hidden', 'heads', 'ffn', 'ctx']) if (opts[k] === undefined) throw new UsageError(`synth needs --shape NAME or --${k}`);
  const { synth } = await import('./synth.mjs');
  const t0 = performance.now();
  let size;
  try {
    size = await synth(opts.output, {
      shape: opts.shape, layers: opts.layers, hidden: opts.hidden, heads: opts.heads, kvHeads: opts['kv-heads'], ffn: opts.ffn,
      ctx: opts.ctx, type: opts.type, dynamicFactor: opts['dynamic-factor'], theta: opts.theta, seed: opts.seed,
    });
  } catch (e) {
    if (e.code) throw new NtkError(`cannot write ${opts.output}: ${e.message}`, 'IO');
    throw new UsageError(e.message);
  }
  err(`wrote ${opts.output}: ${(size / 1048576).toFixed(1)} MB in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
}

async function cmdBench(argv) {
  const bench = new URL('../bench/bench.mjs', import.meta.url);
  if (!existsSync(fileURLToPath(bench)))
    throw new UsageError('bench runs from a clone of the repository (the npm package has no bench/, Chromium or wllama): there, npm install and make bench');
  const { runBench } = await import(bench.href);
  try {
    await runBench(argv);
  } catch (e) {
    throw e.usage ? new UsageError(e.message) : e;
  }
  return EXIT.ok;
}

async function main(argv) {
  const [command, ...rest] = argv;
  if (!command || command === '-h' || command === '--help' || command === 'help') {
    out(HELP);
    return EXIT.ok;
  }
  if (!COMMANDS[command]) throw new UsageError(`unknown command "${command}" (${Object.keys(COMMANDS).join(', ')})`);
  if (command === 'bench') return cmdBench(rest);
  const { opts, positional } = parseArgs(rest);
  if (opts.help) {
    out(HELP);
    return EXIT.ok;
  }
  const allowed = [...COMMANDS[command], ...(command === 'synth' ? ['help'] : COMMON)];
  for (const k of Object.keys(opts)) if (!allowed.includes(k)) throw new UsageError(`--${k} is not an option of ${command}`);
  // MODEL may be the first positional argument (tokenize: MODEL TEXT or just TEXT)
  const modelArgs = command === 'tokenize' ? (positional.length === 2 ? 1 : 0) : command === 'synth' ? 0 : positional.length;
  if (command === 'synth' && positional.length) throw new UsageError(`unexpected argument "${positional[0]}"`);
  if (modelArgs > 1) throw new UsageError(`unexpected argument "${positional[1]}"`);
  if (modelArgs === 1) {
    if (opts.model !== undefined) throw new UsageError('give the model once (-m PATH or as the first argument)');
    opts.model = positional.shift();
  }
  const run = { run: cmdRun, chat: cmdChat, logits: cmdLogits, tokenize: cmdTokenize, info: cmdInfo, synth: cmdSynth,
                perplexity: cmdPerplexity, passkey: cmdPasskey }[command];
  await run(opts, positional);
  return EXIT.ok;
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (e) => {
    if (e instanceof UsageError) {
      err(`ntk-wasm: ${e.message}\nRun ntk-wasm --help for usage.\n`);
      process.exitCode = EXIT.usage;
    } else if (e instanceof NtkError) {
      const modelError = ['FORMAT', 'TRUNCATED', 'UNSUPPORTED', 'IO'].includes(e.code);
      err(`ntk-wasm: ${e.message}\n`);
      process.exitCode = modelError ? EXIT.model : EXIT.runtime;
    } else {
      err(`ntk-wasm: internal error: ${e.stack ?? e}\n`);
      process.exitCode = EXIT.runtime;
    }
  },
);
