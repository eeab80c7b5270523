// options.mjs — the options of Engine.load, generate/chat and metadata, each declared once as a
// row of a table: its type, range, default and meaning. checkLoadOptions, checkGenerateOptions,
// checkChatOptions and checkMetadataOptions are made from the tables, and the CLI checks its flags
// through the same rows (checkOption with the flag as the label), so a new option is one row.
//
// Ranges are the ones the C engine accepts (src/api.c, src/sampler.c), so a value these checks let
// through is never refused there with a vaguer message. Sampling defaults, RoPE modes, KV types
// and the thread limit come from the C sources (build/abi.mjs, generated at build time).
//
// No loader, no Node module: the page imports this without the engine.
import { NtkError } from './errors.mjs';
import { ROPE_MODES, KV_TYPES, MAX_THREADS, SAMPLING_DEFAULTS } from './build/abi.mjs';

/** The largest count C takes (an int32): shown as no bound at all in texts for people. */
export const COUNT_MAX = 2 ** 31 - 1;

/** The builds LoadOptions.build names ('auto' picks relaxed or simd). */
export const BUILD_NAMES = ['auto', 'simd', 'relaxed', 'scalar'];

// Row types: 'integer' and 'number' (min, max), 'enum' (values; valueDocs: what some of them
// mean), 'function', 'signal', 'strings' (a non-empty string or an array of them, resolved to the
// array), 'boolean' (true or false), 'flag' (anything; false turns it off). default is a value or a function that makes one;
// without it the option stays undefined and C picks (defaultText says what). doc is the meaning,
// for help texts.

/** Engine.load / WorkerEngine.load. */
export const LOAD_OPTIONS = {
  ropeMode: {
    type: 'enum',
    values: ROPE_MODES,
    defaultText: 'consistent for internlm2, none for llama',
    doc: 'RoPE past the trained context',
    valueDocs: {
      consistent: 'dynamic NTK, every cached key rotated with the current base',
      cached: 'dynamic NTK, keys keep the base they were written with, as transformers',
      none: 'plain RoPE',
    },
  },
  ropeFactor: { type: 'number', min: 1, max: 1e6, defaultText: "the file's, else 2.0", doc: 'dynamic NTK factor a' },
  trainedCtx: {
    type: 'integer',
    min: 1,
    max: 1e12,
    defaultText: "the file's context_length",
    doc: 'trained context length L0',
  },
  ropeRefresh: {
    type: 'integer',
    min: 1,
    max: COUNT_MAX,
    defaultText: '1, every token',
    doc: 'tokens between moves of the dynamic base; past L0 the length is rounded up to L0 + a multiple of it',
  },
  maxContext: {
    type: 'integer',
    min: 1,
    max: COUNT_MAX,
    defaultText: 'none: memory is the limit',
    doc: 'a cap on the tokens in context',
  },
  kvType: {
    type: 'enum',
    values: KV_TYPES,
    default: 'f32',
    doc: 'KV cache element type',
    valueDocs: { f16: 'half the memory', q8_0: '34/128 of it; a head dimension that is a multiple of 32' },
  },
  threads: {
    type: 'integer',
    min: 1,
    max: MAX_THREADS,
    default: 1,
    doc: 'threads that evaluate; the logits are the same for any number',
  },
  build: {
    type: 'enum',
    values: BUILD_NAMES,
    default: 'auto',
    doc: 'which build runs',
    valueDocs: {
      auto: 'relaxed where the runtime validates relaxed SIMD, else simd',
      simd: 'WebAssembly SIMD128',
      relaxed: 'SIMD128 and relaxed SIMD: faster, the same logits',
      scalar: 'no SIMD, for comparisons; one thread',
    },
  },
  chunkSize: { type: 'integer', min: 1, max: 2 ** 30, default: 1 << 20, doc: 'bytes per read while loading' },
  onProgress: { type: 'function', doc: 'called with { loaded, total, phase, part, parts } after every chunk' },
  signal: { type: 'signal', doc: 'aborts the load' },
  cache: { type: 'flag', default: true, doc: 'browser: keep a model fetched from a URL in the Cache API' },
};

/** generate() and chat(). */
export const GENERATE_OPTIONS = {
  maxTokens: { type: 'integer', min: 0, max: COUNT_MAX, default: 128, doc: 'tokens to generate' },
  temperature: {
    type: 'number',
    min: 0,
    max: 1e6,
    default: SAMPLING_DEFAULTS.temperature,
    doc: 'temperature; 0 is greedy',
  },
  topK: {
    type: 'integer',
    min: 0,
    max: COUNT_MAX,
    default: SAMPLING_DEFAULTS.topK,
    doc: 'keep the K most likely tokens; 0 is off',
  },
  // C reads it as a float32 and wants it above 0: far below 1e-6 it would round to 0, and 1e-6
  // already keeps the top token alone (for any vocabulary under a million)
  topP: {
    type: 'number',
    min: 1e-6,
    max: 1,
    default: SAMPLING_DEFAULTS.topP,
    doc: 'nucleus sampling: keep the most likely tokens up to this probability',
  },
  minP: {
    type: 'number',
    min: 0,
    max: 1,
    default: SAMPLING_DEFAULTS.minP,
    doc: 'drop tokens below this times the top probability',
  },
  repeatPenalty: {
    type: 'number',
    min: 1e-6,
    max: 1e6,
    default: SAMPLING_DEFAULTS.repeatPenalty,
    doc: 'penalty on tokens seen lately (positive logits divided by it, negative ones multiplied); 1 is off',
  },
  repeatWindow: {
    type: 'integer',
    min: 0,
    max: COUNT_MAX,
    default: SAMPLING_DEFAULTS.repeatWindow,
    doc: 'how many recent tokens the repeat penalty looks at',
  },
  seed: {
    type: 'integer',
    min: 0,
    max: Number.MAX_SAFE_INTEGER,
    default: () => Math.floor(Math.random() * 2 ** 32),
    defaultText: 'random',
    doc: 'random seed; the same seed gives the same text',
  },
  stop: { type: 'strings', default: () => [], doc: 'stop strings: generation ends before the first of them' },
  signal: { type: 'signal', doc: 'ends the generation' },
};

/** chat(): generate()'s options, and how the messages' text is tokenized. */
export const CHAT_OPTIONS = {
  ...GENERATE_OPTIONS,
  parseSpecial: {
    type: 'boolean',
    default: false,
    doc:
      'read control-token text in the messages (<|im_start|>) as the control tokens, as llama.cpp and transformers do; ' +
      "false: as plain text, so a message cannot forge the template's turns",
  },
};

/** metadata(). */
export const METADATA_OPTIONS = {
  maxArrayItems: { type: 'integer', min: 0, max: COUNT_MAX, default: 8, doc: 'values shown of each array' },
};

const argError = (msg) => new NtkError(msg, 'ARG');
const shown = (v) => (typeof v === 'string' ? JSON.stringify(v) : String(v));

/** The range of a number row in words: 'an integer >= 0', 'a number in [0, 1]'. */
export function rangeText(row) {
  const kind = row.type === 'integer' ? 'an integer' : 'a number';
  return row.max >= COUNT_MAX ? `${kind} >= ${row.min}` : `${kind} in [${row.min}, ${row.max}]`;
}

/** What a row takes, in words (for messages and help). */
export function valueText(row) {
  if (row.type === 'integer' || row.type === 'number') return rangeText(row);
  if (row.type === 'enum') return `one of ${row.values.join(', ')}`;
  return (
    {
      function: 'a function',
      signal: 'an AbortSignal',
      strings: 'a non-empty string or an array of them',
      boolean: 'true or false',
    }[row.type] ?? 'anything'
  );
}

/** Check one value against its row (undefined passes); label names it in the message. Throws NtkError ARG. */
export function checkOption(row, v, label) {
  if (v === undefined) return;
  let ok;
  switch (row.type) {
    case 'integer':
    case 'number':
      ok = typeof v === 'number' && v >= row.min && v <= row.max && (row.type === 'number' || Number.isInteger(v));
      // rangeText leaves out a maximum of COUNT_MAX or more: say it when it is the bound broken
      if (!ok && typeof v === 'number' && v > row.max && row.max >= COUNT_MAX)
        throw argError(
          `${label} must be ${row.type === 'integer' ? 'an integer' : 'a number'} <= ${row.max}, got ${v}`,
        );
      break;
    case 'enum':
      ok = row.values.includes(v);
      break;
    case 'function':
      ok = typeof v === 'function';
      break;
    case 'boolean':
      ok = typeof v === 'boolean';
      break;
    case 'signal':
      ok = typeof v?.aborted === 'boolean';
      break;
    case 'strings': {
      const all = typeof v === 'string' ? [v] : v;
      ok = Array.isArray(all) && all.every((s) => typeof s === 'string' && s.length > 0);
      break;
    }
    default:
      ok = true;
  }
  // a value that is not a number, a word or a name is not worth printing
  const got = ['integer', 'number', 'enum', 'boolean'].includes(row.type) ? `, got ${shown(v)}` : '';
  if (!ok) throw argError(`${label} must be ${valueText(row)}${got}`);
}

// The value an option takes: the given one (undefined: the default), in its resolved form.
function resolve(row, v) {
  if (v === undefined) return typeof row.default === 'function' ? row.default() : row.default;
  if (row.type === 'strings' && typeof v === 'string') return [v];
  if (row.type === 'flag') return v !== false;
  return v;
}

/** Check options against a table and fill in the defaults: every row gets a key. kind names the table in messages. */
export function checkOptions(table, options, kind) {
  if (options === undefined) options = {};
  if (options === null || typeof options !== 'object') throw argError(`${kind} options must be an object`);
  for (const k of Object.keys(options)) if (!Object.hasOwn(table, k)) throw argError(`unknown ${kind} option "${k}"`);
  const out = {};
  for (const [name, row] of Object.entries(table)) {
    checkOption(row, options[name], name);
    out[name] = resolve(row, options[name]);
  }
  return out;
}

/** Validate Engine.load options and fill in defaults; throws NtkError('ARG'). */
export const checkLoadOptions = (options) => checkOptions(LOAD_OPTIONS, options, 'load');
/** Validate generate options and fill in defaults (seed: a random one); throws NtkError('ARG'). */
export const checkGenerateOptions = (options) => checkOptions(GENERATE_OPTIONS, options, 'generate');
/** Validate chat options and fill in defaults; throws NtkError('ARG'). */
export const checkChatOptions = (options) => checkOptions(CHAT_OPTIONS, options, 'chat');
/** Validate metadata() options and fill in defaults; throws NtkError('ARG'). */
export const checkMetadataOptions = (options) => checkOptions(METADATA_OPTIONS, options, 'metadata');
