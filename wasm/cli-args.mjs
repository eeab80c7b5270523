// cli-args.mjs — the ntk-wasm command line as tables: the commands, and every flag once with its
// names, value, the commands that take it, and the engine option it sets. node:util's parseArgs
// reads argv by them, the values are checked by the rows of options.mjs (the engine's own ranges),
// and --help and `COMMAND --help` are written from them. cli.mjs runs the commands.
//
// A flag that sets an engine option (`option`) takes its type, range, default and meaning from
// the option's row; a flag of the CLI's own declares them here (type, min, max, values, default,
// help). A flag may have several rows when it means different things to different commands
// (--json, --seed, --ctx); within one command a name has one row.
import { existsSync } from 'node:fs';
import { parseArgs as parseArgv } from 'node:util';
import { NtkError } from './errors.mjs';
import { LOAD_OPTIONS, CHAT_OPTIONS, COUNT_MAX, checkOption, rangeText } from './options.mjs';
import { SHAPES, TYPES } from './synth.mjs';

export class UsageError extends Error {}

/**
 * The commands, in the order help lists them. args: the positional arguments in the usage line;
 * loads: false for one that loads no model (it takes none of the model's flags); own: it reads
 * its arguments itself (bench: bench/bench.mjs); hidden: help leaves it out (bench where bench/
 * is not there: the npm package).
 */
export const COMMANDS = {
  run: {
    args: '[MODEL]',
    about: 'Generate text after a prompt (-p or --prompt-tokens). Text goes to stdout, speed and context to stderr.',
  },
  chat: {
    args: '[MODEL]',
    about:
      "Talk to the model in the terminal (its chat template; InternLM2's if it has none). The answer " +
      'streams, then the context length and RoPE base. Ctrl-C stops an answer; Ctrl-C at the prompt, Ctrl-D or /exit quits; ' +
      '/reset starts a new conversation. Lines piped into stdin are taken as user turns, one a line.',
  },
  logits: {
    args: '[MODEL]',
    about:
      'One forward pass of the whole prompt (-p or --prompt-tokens); prints [{"pos","top":[[id,logit],...]}] as JSON for each position of --at.',
  },
  tokenize: { args: '[MODEL] TEXT', about: 'Token ids and pieces of TEXT.' },
  info: {
    args: '[MODEL]',
    about: 'Architecture, shapes, tensor types, trained context, RoPE base and scaling in force.',
  },
  perplexity: {
    args: '[MODEL]',
    about:
      'Perplexity by tests/fixtures/kjv-tiny/EVAL.md over --tokens or --file: W windows at ' +
      'floor(linspace(0, tokens - N, W)), each BOS + N-1 tokens in one forward pass; the mean NLL of the last 256 predicted ' +
      'tokens of each window, averaged.',
  },
  passkey: {
    args: '[MODEL]',
    about:
      'Passkey retrieval by EVAL.md: --len tokens of held-out filler (corpus lines 23146 on) hiding ' +
      '"The pass key is NNNNN. ...", then the question; a trial is right when the 5 greedy tokens are the 5 digits.',
  },
  synth: {
    args: '',
    loads: false,
    about:
      'Write an internlm2 GGUF with random weights (fixed seed) and the kjv-tiny vocabulary, for ' +
      'benchmarks at any shape: -o FILE and --shape, or --layers, --hidden, --heads, --ffn and --ctx. K-quant blocks hold random bits.',
  },
  bench: {
    args: '[--quick | --full] [--json] [...]',
    loads: false,
    own: true,
    hidden: !existsSync(new URL('../bench/bench.mjs', import.meta.url)),
    about:
      'Prefill and decode tokens/s, load MB/s and ' +
      'memory in Node and headless Chromium, against wllama (llama.cpp in WebAssembly) on the same files: bench/bench.mjs, which ' +
      'the npm package does not ship (run it from a clone of the repository; --help there lists options).',
  },
};

const LOADING = Object.keys(COMMANDS).filter((c) => COMMANDS[c].loads !== false);
const SAMPLING = ['run', 'chat'];
const SYNTH = ['synth'];
const count = (min = 1) => ({ type: 'integer', min, max: COUNT_MAX });

/**
 * Every flag. long, short: its names; value: its placeholder in help (none: a switch); in: the
 * commands that take it; option: the engine option it sets (is: the value a switch sets it to);
 * type, min, max, values, valueDocs: how a flag of the CLI's own is checked (as an options.mjs
 * row; list: a comma-separated list of such values); default: its value when not given (per command: { run: 64, chat: 256 }); defaultText:
 * what help says the default is when the code that reads the value picks it; help: what it does
 * (for an engine option, instead of the option's doc); note: what the CLI adds to it.
 */
export const FLAGS = [
  { long: 'prompt', short: 'p', value: 'TEXT', in: ['run', 'logits'], help: 'the prompt, tokenized with BOS' },
  {
    long: 'prompt-tokens',
    value: 'FILE.json',
    in: ['run', 'logits'],
    help: 'the prompt as a JSON array of token ids, used as is (include BOS 1 if you want it)',
  },
  { long: 'n-predict', short: 'n', value: 'N', in: SAMPLING, option: 'maxTokens', default: { run: 64, chat: 256 } },
  { long: 'temp', value: 'T', in: SAMPLING, option: 'temperature' },
  { long: 'top-k', value: 'K', in: SAMPLING, option: 'topK' },
  { long: 'top-p', value: 'P', in: SAMPLING, option: 'topP' },
  { long: 'min-p', value: 'M', in: SAMPLING, option: 'minP' },
  { long: 'repeat-penalty', value: 'R', in: SAMPLING, option: 'repeatPenalty' },
  { long: 'repeat-window', value: 'W', in: SAMPLING, option: 'repeatWindow' },
  { long: 'seed', value: 'S', in: SAMPLING, option: 'seed' },
  { long: 'json', in: ['run'], help: 'one JSON object per token: {"id","text","nCtx","base"}' },
  { long: 'system', value: 'TEXT', in: ['chat'], help: 'a system message before the conversation' },
  {
    long: 'parse-special',
    in: ['chat'],
    option: 'parseSpecial',
    is: true,
    help: 'read control-token text you type (<|im_start|>) as the control tokens; without it, as plain text',
  },
  { long: 'at', value: 'POSITIONS', in: ['logits'], ...count(0), list: true, help: 'the positions to list: 0,31,99' },
  { long: 'top', value: 'K', in: ['logits'], ...count(), default: 10, help: 'logits listed per position' },
  { long: 'json', in: ['tokenize'], help: 'a JSON array of the ids, without BOS' },
  { long: 'json', in: ['info'], help: 'the info as JSON (then, with --all, {"metadata","tensors"})' },
  { long: 'all', in: ['info'], help: 'also every metadata key and every tensor (name, type, shape)' },
  {
    long: 'tokens',
    value: 'FILE.u16',
    in: ['perplexity'],
    help: 'the text as uint16 little-endian ids without BOS (as heldout_ids.u16)',
  },
  {
    long: 'file',
    value: 'TEXT',
    in: ['perplexity'],
    defaultText: "the held-out text the package ships (the corpus's New Testament)",
    help: 'the text as a text file, tokenized without BOS',
  },
  {
    long: 'ctx',
    value: 'N',
    in: ['perplexity'],
    ...count(2),
    help: 'the window length in tokens (BOS and at least one to predict)',
  },
  { long: 'windows', value: 'W', in: ['perplexity'], ...count(), default: 20, help: 'windows' },
  { long: 'json', in: ['perplexity'], help: 'print {"ctx","windows","nll","ppl"}' },
  { long: 'len', value: 'N', in: ['passkey'], ...count(2), help: 'the prompt length in tokens' },
  { long: 'trials', value: 'K', in: ['passkey'], ...count(), default: 20, help: 'samples' },
  {
    long: 'seed',
    value: 'S',
    in: ['passkey'],
    option: 'seed',
    defaultText: '1000 + N',
    help: 'random seed of the samples; the same for every RoPE setting',
  },
  {
    long: 'corpus',
    value: 'PATH',
    in: ['passkey'],
    defaultText: 'the held-out text the package ships',
    help: 'a whole kjv corpus (as tests/fixtures/corpus/kjv.txt), whose lines 23146 on are the held-out text',
  },
  { long: 'json', in: ['passkey'], help: 'print {"len","trials","correct","accuracy"}' },
  { long: 'output', short: 'o', value: 'FILE', in: SYNTH, help: 'the file to write' },
  {
    long: 'shape',
    value: 'NAME',
    in: SYNTH,
    type: 'enum',
    values: Object.keys(SHAPES),
    help: 'a whole shape, whose values the flags given override',
  },
  { long: 'layers', value: 'N', in: SYNTH, ...count(), help: 'layers' },
  { long: 'hidden', value: 'D', in: SYNTH, ...count(), help: 'embedding length, a multiple of 32 and of --heads' },
  { long: 'heads', value: 'H', in: SYNTH, ...count(), help: 'attention heads' },
  {
    long: 'kv-heads',
    value: 'K',
    in: SYNTH,
    ...count(),
    defaultText: '--heads',
    help: 'key/value heads, a divisor of --heads',
  },
  { long: 'ffn', value: 'F', in: SYNTH, ...count(), help: 'feed-forward length, a multiple of 32' },
  { long: 'ctx', value: 'L0', in: SYNTH, ...count(), help: 'trained context length' },
  {
    long: 'type',
    value: 'TYPE',
    in: SYNTH,
    type: 'enum',
    values: Object.keys(TYPES),
    defaultText: 'f32',
    help: 'weight type',
    valueDocs: {
      q4_k_m: "llama.cpp's mixture: Q6_K for output and for some attn_v and ffn_down",
      q5_k_m: 'the same with Q5_K',
    },
  },
  {
    long: 'dynamic-factor',
    value: 'A',
    in: SYNTH,
    type: 'number',
    min: 0,
    max: 1e6,
    defaultText: '2',
    help: 'the dynamic NTK factor written in the file; 0 writes none',
  },
  { long: 'theta', value: 'T', in: SYNTH, type: 'number', min: 1, max: 1e12, defaultText: '10000', help: 'RoPE base' },
  { long: 'seed', value: 'S', in: SYNTH, option: 'seed', defaultText: '1', help: 'random seed of the weights' },
  {
    long: 'model',
    short: 'm',
    value: 'PATH|URL',
    in: LOADING,
    defaultText: 'models/kjv-tiny-q8_0.gguf',
    help: 'the GGUF file (or give it as the first argument): a path or an http(s) URL; for a split model, part 1 (NAME-00001-of-0000N.gguf)',
  },
  { long: 'progress', in: LOADING, help: 'a load progress bar on stderr (on by default on a terminal)' },
  { long: 'rope-mode', value: 'MODE', in: LOADING, option: 'ropeMode' },
  { long: 'rope-factor', value: 'F', in: LOADING, option: 'ropeFactor' },
  { long: 'trained-ctx', value: 'N', in: LOADING, option: 'trainedCtx' },
  { long: 'rope-refresh', value: 'N', in: LOADING, option: 'ropeRefresh' },
  { long: 'kv-type', value: 'T', in: LOADING, option: 'kvType' },
  { long: 'max-context', value: 'N', in: LOADING, option: 'maxContext' },
  { long: 'threads', value: 'N', in: LOADING, option: 'threads' },
  {
    long: 'build',
    value: 'B',
    in: LOADING,
    option: 'build',
    note: 'Node 20 runs relaxed only as node --experimental-wasm-relaxed-simd',
  },
  { long: 'scalar', in: LOADING, option: 'build', is: 'scalar', help: 'the same as --build scalar' },
  {
    long: 'help',
    short: 'h',
    in: Object.keys(COMMANDS),
    help: "this text; after a command (ntk-wasm run --help), that command's options",
  },
];

const OPTION_ROWS = { ...LOAD_OPTIONS, ...CHAT_OPTIONS };

/** The flags of a command. */
export const flagsOf = (command) => FLAGS.filter((f) => f.in.includes(command));

// The row a flag's value is checked by: its engine option's, or its own.
const checkRow = (flag) => (flag.option ? OPTION_ROWS[flag.option] : flag);
const isNumber = (row) => row.type === 'integer' || row.type === 'number';
const looksNumeric = (s) => s.trim() !== '' && !Number.isNaN(Number(s));

/**
 * Read a command's arguments: { opts, positional }, opts keyed by long name, numbers as numbers,
 * the defaults of the flags filled in. Errors name the flag as it was typed.
 */
export function parseArgs(command, argv) {
  const flags = flagsOf(command);
  const byName = new Map(flags.map((f) => [f.long, f]));
  // not strict: a value may start with '-' (-n -5 reaches the range check), and the messages are ours
  const { tokens } = parseArgv({
    args: argv,
    strict: false,
    allowPositionals: true,
    tokens: true,
    options: Object.fromEntries(
      flags.map((f) => [f.long, { type: f.value ? 'string' : 'boolean', ...(f.short ? { short: f.short } : {}) }]),
    ),
  });
  const opts = {},
    positional = [],
    taken = new Set();
  for (const t of tokens) {
    if (t.kind === 'positional') positional.push(t.value);
    if (t.kind !== 'option') continue;
    // a negative number is an argument (tokenize -5), however parseArgs split it into options
    if (looksNumeric(argv[t.index])) {
      if (!taken.has(t.index)) positional.push(argv[t.index]);
      taken.add(t.index);
      continue;
    }
    const flag = byName.get(t.name);
    if (!flag) {
      if (FLAGS.some((f) => f.long === t.name || f.short === t.name))
        throw new UsageError(`${t.rawName} is not an option of ${command}`);
      throw new UsageError(`unknown option ${t.rawName}`);
    }
    if (!flag.value) {
      if (t.value !== undefined) throw new UsageError(`${t.rawName} takes no value`);
      opts[flag.long] = true;
      continue;
    }
    if (t.value === undefined) throw new UsageError(`${t.rawName} needs a value`);
    const row = checkRow(flag);
    const values = (flag.list ? t.value.split(',') : [t.value]).map((s) =>
      isNumber(row) && looksNumeric(s) ? Number(s) : s,
    );
    if (row.type) for (const v of values) usage(() => checkOption(row, v, t.rawName));
    opts[flag.long] = flag.list ? values : values[0];
  }
  for (const f of flags) {
    const d = typeof f.default === 'object' ? f.default[command] : f.default;
    if (opts[f.long] === undefined && d !== undefined) opts[f.long] = d;
  }
  return { opts, positional };
}

/** The engine options a command's flags set, for a table of options.mjs. */
export function optionsFrom(table, command, opts) {
  const out = {};
  for (const f of flagsOf(command))
    if (f.option && Object.hasOwn(table, f.option) && opts[f.long] !== undefined) out[f.option] = f.is ?? opts[f.long];
  return out;
}

/** Run check; an NtkError ARG it throws (an option the engine refuses) becomes a usage error. check may be async. */
export function usage(check) {
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

// ---- help ----

const WIDTH = 100,
  FLAG_COLUMN = 29;

function wrap(text, indent, first = '') {
  const lines = [];
  let line = first.padEnd(indent);
  for (const word of text.split(' ')) {
    if (line.trim() && line.length + 1 + word.length > WIDTH) {
      lines.push(line.trimEnd());
      line = ' '.repeat(indent);
    }
    line += (line.trim() && line.length > indent ? ' ' : '') + word;
  }
  return [...lines, line.trimEnd()].join('\n');
}

// What help says of a flag: what it does (and its values), then what it takes and its default.
function flagText(flag, command) {
  const row = checkRow(flag);
  const option = flag.option && !flag.is ? OPTION_ROWS[flag.option] : null;
  let text = flag.help ?? option.doc;
  if (flag.value && row.type === 'enum')
    text += `: ${row.values.map((v) => (row.valueDocs?.[v] ? `${v} (${row.valueDocs[v]})` : v)).join(', ')}`;
  if (flag.note) text += `; ${flag.note}`;
  const own = typeof flag.default === 'object' ? flag.default[command] : flag.default;
  const d = own ?? flag.defaultText ?? option?.defaultText ?? option?.default;
  const facts = [
    flag.value && isNumber(row) ? `${flag.list ? 'comma-separated, each ' : ''}${rangeText(row)}` : '',
    d === undefined || typeof d === 'function' ? '' : `default ${d}`,
  ];
  return facts.some(Boolean) ? `${text} (${facts.filter(Boolean).join('; ')})` : text;
}

const flagName = (f) => `${f.short ? `-${f.short}, ` : ''}--${f.long}${f.value ? ` ${f.value}` : ''}`;
const flagLine = (f, command, indent) =>
  wrap(flagText(f, command), indent + FLAG_COLUMN, `${' '.repeat(indent)}${flagName(f)}`);
const commandLine = (c) =>
  `ntk-wasm ${c}${COMMANDS[c].args ? ` ${COMMANDS[c].args}` : ''}${COMMANDS[c].own ? '' : ' [options]'}`;
// the flags of every model-loading command, listed once at the end
const isCommon = (f) => LOADING.every((c) => f.in.includes(c));

const HEADER = 'ntk-wasm — InternLM2/Llama GGUF inference in WebAssembly, with dynamic NTK RoPE';
const FOOTER = 'Exit codes: 0 ok, 1 usage error, 2 model or file error, 3 runtime error.';

function commonSection() {
  return [
    `Options of every command that loads a model (all but ${Object.keys(COMMANDS)
      .filter((c) => !LOADING.includes(c) && !COMMANDS[c].hidden)
      .join(' and ')}):`,
    ...FLAGS.filter(isCommon).map((f) => flagLine(f, 'run', 2)),
  ].join('\n');
}

/** --help: every command with its own flags (a flag shared with a command above is named there), then the common ones. */
export function helpText() {
  const shown = new Set();
  const offered = Object.keys(COMMANDS).filter((c) => !COMMANDS[c].hidden);
  const sections = offered.map((c) => {
    const own = flagsOf(c).filter((f) => !isCommon(f) && f.long !== 'help');
    const earlier = own.filter((f) => shown.has(f));
    const lines = [
      `  ${commandLine(c)}`,
      wrap(COMMANDS[c].about, 6),
      ...own.filter((f) => !shown.has(f)).map((f) => flagLine(f, c, 6)),
    ];
    if (earlier.length)
      lines.push(wrap(`${earlier.map((f) => `--${f.long}`).join(', ')}: as for ${earlier[0].in[0]}`, 6));
    own.forEach((f) => shown.add(f));
    return lines.join('\n');
  });
  return [
    HEADER,
    '',
    'Usage:',
    ...sections,
    '',
    commonSection(),
    '',
    `Run ntk-wasm COMMAND --help for one command's options.`,
    FOOTER,
    '',
  ].join('\n');
}

/** COMMAND --help: its usage, what it does, its flags, then the common ones. */
export function commandHelp(command) {
  const loads = LOADING.includes(command);
  const own = flagsOf(command).filter((f) => !loads || !isCommon(f));
  return [
    `Usage: ${commandLine(command)}`,
    wrap(COMMANDS[command].about, 2),
    '',
    'Options:',
    ...own.map((f) => flagLine(f, command, 2)),
    '',
    ...(loads ? [commonSection(), ''] : []),
    FOOTER,
    '',
  ].join('\n');
}
