#!/usr/bin/env node
// cli.mjs — the ntk-wasm command line: a thin layer over Engine (engine.mjs). The commands and
// their flags, the parsing of argv and the help texts are cli-args.mjs's tables; here each
// command runs.
import { existsSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Engine, NtkError } from './engine.mjs';
import {
  LOAD_OPTIONS,
  GENERATE_OPTIONS,
  CHAT_OPTIONS,
  checkLoadOptions,
  checkGenerateOptions,
  checkChatOptions,
} from './options.mjs';
import { synth } from './synth.mjs';
import { COMMANDS, UsageError, parseArgs, optionsFrom, usage, helpText, commandHelp } from './cli-args.mjs';

const DEFAULT_MODEL = fileURLToPath(new URL('../models/kjv-tiny-q8_0.gguf', import.meta.url));
const EXIT = { ok: 0, usage: 1, model: 2, runtime: 3 };

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

const loadOptions = (command, opts) => checkLoadOptions(optionsFrom(LOAD_OPTIONS, command, opts));
const samplingOptions = (command, opts, signal) =>
  checkGenerateOptions({ ...optionsFrom(GENERATE_OPTIONS, command, opts), signal });
const chatOptions = (opts, signal) => checkChatOptions({ ...optionsFrom(CHAT_OPTIONS, 'chat', opts), signal });

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
    const width = 30,
      frac = total ? loaded / total : 0,
      fill = Math.round(frac * width);
    const bar = total
      ? `[${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${(frac * 100).toFixed(0).padStart(3)}% `
      : '';
    const split = parts > 1 ? ` part ${part}/${parts}` : '';
    err(
      `\r${bar}${mb(loaded)}${total ? '/' + mb(total) : ''} MB ${rate.toFixed(0)} MB/s ${phase}${split}\x1b[K${phase === 'ready' ? '\n' : ''}`,
    );
  };
}

async function loadEngine(command, opts) {
  const onProgress = opts.progress || process.stderr.isTTY ? progressBar() : undefined;
  return Engine.load(opts.model ?? DEFAULT_MODEL, { ...loadOptions(command, opts), onProgress });
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
process.stdout.on('error', (e) => {
  if (e.code === 'EPIPE') process.exit(EXIT.ok);
  else throw e;
});
const err = (s) => process.stderr.write(s);

async function cmdRun(opts) {
  const ac = new AbortController();
  const gen = samplingOptions('run', opts, ac.signal);
  if (opts['prompt-tokens'] === undefined && opts.prompt === undefined) promptOf(null, opts);
  const engine = await loadEngine('run', opts);
  const prompt = promptOf(engine, opts);
  process.once('SIGINT', () => ac.abort());
  if (!opts.json) out(opts.prompt ?? engine.detokenize(prompt));
  const t0 = performance.now();
  let tFirst = 0,
    count = 0,
    last = null;
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
  err(
    `[prefill ${prefill} tokens ${((prefill / (tFirst - t0)) * 1000).toFixed(1)} tok/s, ` +
      `decode ${count} tokens ${decodeRate.toFixed(1)} tok/s, context ${last?.nCtx ?? prefill}, ` +
      `rope ${info.rope.mode} base ${(last?.base ?? info.rope.theta).toFixed(3)} (trained ${info.rope.trainedCtx}, factor ${info.rope.factor})]\n`,
  );
  engine.dispose();
}

async function cmdLogits(opts) {
  if (opts.at === undefined) throw new UsageError('--at POSITIONS is needed, e.g. --at 0,31,99');
  if (opts['prompt-tokens'] === undefined && opts.prompt === undefined) promptOf(null, opts);
  const engine = await loadEngine('logits', opts);
  const ids = promptOf(engine, opts);
  const { at } = opts;
  for (const p of at)
    if (p >= ids.length) throw new UsageError(`--at ${p} is outside the prompt's ${ids.length} positions`);
  const logits = engine.evaluate(ids, { allLogits: true });
  const nv = engine.nVocab;
  const result = at.map((pos) => {
    const row = logits.subarray(pos * nv, (pos + 1) * nv);
    const order = Array.from(row.keys())
      .sort((a, b) => row[b] - row[a] || a - b)
      .slice(0, opts.top);
    return { pos, top: order.map((id) => [id, row[id]]) };
  });
  out(JSON.stringify(result) + '\n');
  engine.dispose();
}

async function cmdTokenize(opts, positional) {
  if (positional.length !== 1) throw new UsageError('tokenize needs exactly one TEXT');
  const engine = await loadEngine('tokenize', opts);
  const ids = engine.tokenize(positional[0], { bos: false });
  out(
    opts.json ? JSON.stringify(ids) + '\n' : ids.map((id) => `${id}\t${JSON.stringify(engine.piece(id))}\n`).join(''),
  );
  engine.dispose();
}

async function cmdInfo(opts) {
  const engine = await loadEngine('info', opts);
  const i = engine.info();
  if (opts.json) {
    out(JSON.stringify(i, null, 2) + '\n');
  } else {
    const r = i.rope;
    const scaling =
      r.mode === 'none'
        ? 'none (plain RoPE at every length)'
        : `dynamic NTK, ${r.mode} cache, factor ${r.factor} (${r.factorSource === 'file' ? 'from the file' : r.factorSource === 'option' ? 'from the option' : 'default: the file has no dynamic_ntk.factor'})`;
    out(
      [
        `name           ${i.name}`,
        `architecture   ${i.architecture} (GGUF v${i.ggufVersion})`,
        `shape          ${i.nLayers} layers, embedding ${i.dim}, ${i.nHeads} heads / ${i.nKvHeads} KV heads of ${i.headDim}, FFN ${i.ffn}, vocab ${i.nVocab}`,
        `tensors        ${i.nTensors} (${(i.tensorBytes / 1048576).toFixed(1)} MB): ${Object.entries(i.tensorTypes)
          .map(([t, n]) => `${n} ${t}`)
          .join(', ')}`,
        `context        trained ${r.trainedCtx} tokens`,
        `rope           base ${r.theta} up to ${r.trainedCtx} tokens; beyond: ${scaling}`,
        `rope mode      ${r.mode} (${r.modeSource === 'option' ? 'from the option' : r.modeSource === 'file' ? 'the file asks for dynamic NTK' : `default for ${i.architecture}`})`,
        `tokens         bos ${i.bos}, eos ${i.eos}${i.eot >= 0 ? `, end-of-turn ${i.eot}` : ''}, add_bos ${i.addBos}`,
        `kernels        ${i.relaxedSimd ? 'WebAssembly SIMD128 and relaxed SIMD' : i.simd ? 'WebAssembly SIMD128' : 'scalar'}, ${i.threads} thread${i.threads > 1 ? 's' : ''}`,
        i.splits > 1 ? `split          ${i.splits} parts` : null,
      ]
        .filter(Boolean)
        .join('\n') + '\n',
    );
  }
  if (opts.all) {
    const { metadata, tensors } = engine.metadata({ maxArrayItems: opts.json ? 16 : 4 });
    if (opts.json) {
      out(JSON.stringify({ metadata, tensors }, null, 2) + '\n');
    } else {
      const show = (v) =>
        v && typeof v === 'object'
          ? `[${v.array} x ${v.length}] ${JSON.stringify(v.head)}${v.length > v.head.length ? ' ...' : ''}`
          : JSON.stringify(v);
      out(`\nmetadata (${Object.keys(metadata).length} keys)\n`);
      for (const [k, v] of Object.entries(metadata)) out(`  ${k.padEnd(44)} ${show(v).slice(0, 160)}\n`);
      out(`\ntensors (${tensors.length})\n`);
      for (const t of tensors)
        out(
          `  ${t.name.padEnd(32)} ${t.type.padEnd(6)} [${t.shape.join(', ')}]${t.part > 1 ? `  part ${t.part}` : ''}\n`,
        );
    }
  }
  engine.dispose();
}

async function cmdChat(opts) {
  const engine = await loadEngine('chat', opts);
  const interactive = process.stdin.isTTY;
  const rl = createInterface({
    input: process.stdin,
    output: process.stdout,
    terminal: interactive,
    prompt: interactive ? '> ' : '',
  });
  const system = opts.system === undefined ? [] : [{ role: 'system', content: opts.system }];
  let messages = [...system];
  let answering = null; // the AbortController of the answer being written
  const interrupt = () => {
    if (answering) answering.abort();
    else rl.close();
  };
  rl.on('SIGINT', interrupt);
  process.on('SIGINT', interrupt); // piped stdin: readline does not see Ctrl-C
  if (interactive)
    err(`chatting with ${engine.info().name}; Ctrl-C stops an answer, /reset starts over, /exit or Ctrl-D quits\n`);
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
    if (!text) {
      rl.prompt();
      continue;
    }
    messages.push({ role: 'user', content: text });
    answering = new AbortController();
    let answer = '';
    let last = null;
    for await (const t of engine.chat(messages, chatOptions(opts, answering.signal))) {
      out(t.text);
      answer += t.text;
      last = t;
    }
    const stopped = answering.signal.aborted;
    answering = null;
    messages.push({ role: 'assistant', content: answer });
    err(
      `\n[${stopped ? 'stopped; ' : ''}context ${engine.nCtx} tokens, rope ${engine.info().rope.mode} base ${(last?.base ?? engine.base).toFixed(1)}]\n`,
    );
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
  if (opts.tokens !== undefined && opts.file !== undefined) throw new UsageError('give --tokens or --file, not both');
  if (opts.ctx === undefined) throw new UsageError('perplexity needs --ctx N, the window length in tokens');
  const { windows } = opts;
  const { perplexity, readU16, HELDOUT_TEXT } = await import('./evaluate.mjs');
  const file = opts.file ?? HELDOUT_TEXT;
  let ids, text;
  try {
    if (opts.tokens !== undefined) ids = readU16(opts.tokens);
    else text = readFileSync(file, 'utf8');
  } catch (e) {
    if (e instanceof NtkError) throw e;
    throw new NtkError(`cannot read ${opts.tokens ?? file}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`, 'IO');
  }
  const engine = await loadEngine('perplexity', opts);
  if (text !== undefined) ids = engine.tokenize(text, { bos: false });
  const t0 = performance.now();
  const show = process.stderr.isTTY;
  const r = await usage(() =>
    perplexity(engine, ids, {
      ctx: opts.ctx,
      windows,
      onWindow: show
        ? ({ index, nll }) => err(`\rwindow ${index + 1}/${windows} nll ${nll.toFixed(4)}\x1b[K`)
        : undefined,
    }),
  );
  if (show) err('\r\x1b[K');
  const secs = (performance.now() - t0) / 1000;
  if (opts.json) out(JSON.stringify({ ctx: r.ctx, windows: r.windows, nll: r.nll, ppl: r.ppl }) + '\n');
  else
    out(
      `ctx ${r.ctx}  windows ${r.windows}  ${ropeSummary(engine)}  nll ${r.nll.toFixed(4)}  ppl ${r.ppl.toFixed(2)}\n`,
    );
  err(`[${ids.length} tokens in the stream, ${((r.ctx * r.windows) / secs).toFixed(0)} tok/s, ${secs.toFixed(1)} s]\n`);
  engine.dispose();
}

async function cmdPasskey(opts) {
  if (opts.len === undefined) throw new UsageError('passkey needs --len N, the prompt length in tokens');
  const { trials } = opts;
  const { passkey, readHeldOut, HELDOUT_TEXT } = await import('./evaluate.mjs');
  let heldOut;
  try {
    heldOut = readHeldOut(opts.corpus);
  } catch (e) {
    if (e instanceof NtkError) throw new UsageError(`--corpus: ${e.message}`);
    throw new NtkError(
      `cannot read the corpus ${opts.corpus ?? HELDOUT_TEXT}: ${e.code === 'ENOENT' ? 'no such file (give one with --corpus PATH)' : e.message}`,
      'IO',
    );
  }
  const engine = await loadEngine('passkey', opts);
  const t0 = performance.now();
  const show = process.stderr.isTTY;
  let right = 0;
  const r = await usage(() =>
    passkey(engine, {
      len: opts.len,
      trials,
      seed: opts.seed,
      heldOut,
      onTrial: show
        ? ({ index, ok }) => err(`\rtrial ${index + 1}/${trials}: ${(right += ok)} right\x1b[K`)
        : undefined,
    }),
  );
  if (show) err('\r\x1b[K');
  const secs = (performance.now() - t0) / 1000;
  if (opts.json) out(JSON.stringify({ len: r.len, trials: r.trials, correct: r.correct, accuracy: r.accuracy }) + '\n');
  else
    out(
      `len ${r.len}  trials ${r.trials}  ${ropeSummary(engine)}  correct ${r.correct}/${r.trials}  accuracy ${r.accuracy.toFixed(3)}\n`,
    );
  err(`[seed ${opts.seed ?? 1000 + opts.len}, ${secs.toFixed(1)} s]\n`);
  engine.dispose();
}

async function cmdSynth(opts) {
  if (!opts.output) throw new UsageError('synth needs -o FILE');
  if (opts.shape === undefined)
    for (const k of ['layers', 'hidden', 'heads', 'ffn', 'ctx'])
      if (opts[k] === undefined) throw new UsageError(`synth needs --shape NAME or --${k}`);
  const t0 = performance.now();
  let size;
  try {
    size = await synth(opts.output, {
      shape: opts.shape,
      layers: opts.layers,
      hidden: opts.hidden,
      heads: opts.heads,
      kvHeads: opts['kv-heads'],
      ffn: opts.ffn,
      ctx: opts.ctx,
      type: opts.type,
      dynamicFactor: opts['dynamic-factor'],
      theta: opts.theta,
      seed: opts.seed,
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
    throw new UsageError(
      'bench runs from a clone of the repository (the npm package has no bench/, Chromium or wllama): there, npm install and make bench',
    );
  const { runBench } = await import(bench.href);
  try {
    await runBench(argv);
  } catch (e) {
    throw e.usage ? new UsageError(e.message) : e;
  }
  return EXIT.ok;
}

const RUN = {
  run: cmdRun,
  chat: cmdChat,
  logits: cmdLogits,
  tokenize: cmdTokenize,
  info: cmdInfo,
  perplexity: cmdPerplexity,
  passkey: cmdPasskey,
  synth: cmdSynth,
  bench: cmdBench,
};
let helpHint = 'ntk-wasm --help';

async function main(argv) {
  const [command, ...rest] = argv;
  if (!command || command === '-h' || command === '--help' || (command === 'help' && !COMMANDS[rest[0]])) {
    out(helpText());
    return EXIT.ok;
  }
  if (command === 'help') {
    out(commandHelp(rest[0]));
    return EXIT.ok;
  }
  if (!COMMANDS[command]) throw new UsageError(`unknown command "${command}" (${Object.keys(COMMANDS).join(', ')})`);
  if (COMMANDS[command].own) return RUN[command](rest);
  helpHint = `ntk-wasm ${command} --help`;
  const { opts, positional } = parseArgs(command, rest);
  if (opts.help) {
    out(commandHelp(command));
    return EXIT.ok;
  }
  // MODEL may be the first positional argument (tokenize: MODEL TEXT or just TEXT)
  const loads = COMMANDS[command].loads !== false;
  const modelArgs = !loads ? 0 : command === 'tokenize' ? (positional.length === 2 ? 1 : 0) : positional.length;
  if (!loads && positional.length) throw new UsageError(`unexpected argument "${positional[0]}"`);
  if (modelArgs > 1) throw new UsageError(`unexpected argument "${positional[1]}"`);
  if (modelArgs === 1) {
    if (opts.model !== undefined) throw new UsageError('give the model once (-m PATH or as the first argument)');
    opts.model = positional.shift();
  }
  await RUN[command](opts, positional);
  return EXIT.ok;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    if (e instanceof UsageError) {
      err(`ntk-wasm: ${e.message}\nRun ${helpHint} for usage.\n`);
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
