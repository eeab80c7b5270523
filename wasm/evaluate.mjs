// evaluate.mjs — the two measurements of tests/fixtures/kjv-tiny/EVAL.md, on any Engine:
// perplexity over fixed windows of a token stream, and passkey retrieval in held-out filler.
// Used by the CLI (`ntk-wasm perplexity`, `ntk-wasm passkey`); importable from JS as well.
import { readFileSync } from 'node:fs';
import { mulberry32 } from './random.mjs';
import { fileURLToPath } from 'node:url';
import { NtkError } from './errors.mjs';

const argError = (msg) => new NtkError(msg, 'ARG');

/** Where the held-out part (the New Testament) of a kjv corpus (tests/fixtures/corpus/kjv.txt) starts. */
export const HELDOUT_FIRST_LINE = 23146;
/** That held-out part alone, as make cuts it from the fixture and the package ships it. */
export const HELDOUT_TEXT = fileURLToPath(new URL('./build/kjv-heldout.txt', import.meta.url));

/** A uint16 little-endian token file (as heldout_ids.u16) as a Uint16Array. */
export function readU16(path) {
  const b = readFileSync(path);
  if (b.byteLength % 2)
    throw new NtkError(`${path}: a .u16 file needs an even number of bytes, got ${b.byteLength}`, 'FORMAT');
  const ids = new Uint16Array(b.byteLength / 2);
  for (let i = 0; i < ids.length; i++) ids[i] = b.readUInt16LE(2 * i);
  return ids;
}

/**
 * The held-out lines of a text: of a whole kjv corpus from its line HELDOUT_FIRST_LINE (1-based)
 * to the end; without a path, every line of HELDOUT_TEXT.
 */
export function readHeldOut(path, firstLine = HELDOUT_FIRST_LINE) {
  if (path === undefined) [path, firstLine] = [HELDOUT_TEXT, 1];
  const lines = readFileSync(path, 'utf8').split('\n');
  if (lines.at(-1) === '') lines.pop();
  if (lines.length < firstLine)
    throw argError(`${path} has ${lines.length} lines; the held-out text starts at line ${firstLine}`);
  return lines.slice(firstLine - 1);
}

/** numpy's np.linspace(0, stop, num).astype(int64) for stop >= 0. */
export function windowStarts(stop, num) {
  if (num === 1) return [0];
  const step = stop / (num - 1);
  const starts = [];
  for (let i = 0; i < num; i++) starts.push(Math.trunc(i === num - 1 ? stop : i * step));
  return starts;
}

function checkInt(name, v, lo, hi = Number.MAX_SAFE_INTEGER) {
  if (!Number.isInteger(v) || v < lo || v > hi)
    throw argError(`${name} must be an integer in [${lo}, ${hi}], got ${v}`);
}

/** Mean NLL (float64 log-softmax) of `targets[j]` under logits rows `first + j`. */
function sumNll(logits, nv, first, targets) {
  let total = 0;
  for (let j = 0; j < targets.length; j++) {
    const row = logits.subarray((first + j) * nv, (first + j + 1) * nv);
    let max = -Infinity;
    for (let v = 0; v < nv; v++) if (row[v] > max) max = row[v];
    let s = 0;
    for (let v = 0; v < nv; v++) s += Math.exp(row[v] - max);
    total += max + Math.log(s) - row[targets[j]];
  }
  return total;
}

/**
 * Perplexity by EVAL.md's rule: W windows at starts = floor(linspace(0, N - ctx, W)), each
 * [BOS] + ids[s : s + ctx - 1], one full forward from an empty context; the mean NLL of the last
 * `lastN` (256) predicted tokens of each window, averaged over the windows.
 * ids: the token stream without BOS (an array or typed array). onWindow({ index, start, nll }) after each.
 * Returns { ctx, windows, nll, ppl, windowNll: [...] }.
 */
export function perplexity(engine, ids, { ctx, windows = 20, lastN = 256, bos, onWindow } = {}) {
  checkInt('ctx', ctx, 2);
  checkInt('windows', windows, 1);
  checkInt('lastN', lastN, 1);
  if (ids.length < ctx - 1)
    throw argError(`ctx ${ctx} needs at least ${ctx - 1} tokens of text, the stream has ${ids.length}`);
  const bosId = bos ?? engine.info().bos;
  const nv = engine.nVocab;
  // N - L as in EVAL.md; a stream of exactly L - 1 tokens still gives one full window
  const starts = windowStarts(Math.max(ids.length - ctx, 0), windows);
  const windowNll = [];
  for (const [index, s] of starts.entries()) {
    const win = [bosId, ...Array.from(ids.slice(s, s + ctx - 1))];
    engine.reset();
    const logits = engine.evaluate(win, { allLogits: true });
    const n = Math.min(lastN, ctx - 1); // predicted tokens scored
    const first = ctx - 1 - n; // row predicting win[first + 1]
    const nll = sumNll(logits, nv, first, win.slice(first + 1)) / n;
    windowNll.push(nll);
    onWindow?.({ index, start: s, nll });
  }
  engine.reset();
  const nll = windowNll.reduce((a, b) => a + b, 0) / windowNll.length;
  return { ctx, windows, nll, ppl: Math.exp(nll), windowNll };
}

const argmax = (row) => {
  let best = 0;
  for (let v = 1; v < row.length; v++) if (row[v] > row[best]) best = v;
  return best;
};

/** The pieces of a passkey prompt for `key` (5 digits): needle ids, question ids (ending just before the first digit), answer ids. */
export function passkeyParts(engine, key) {
  const needle = engine.tokenize(`The pass key is ${key}. Remember it. ${key} is the pass key.`, { bos: false });
  const full = engine.tokenize(`What is the pass key? The pass key is ${key}.`, { bos: false });
  const digitIds = new Set([...'0123456789'].map((d) => engine.tokenize(d, { bos: false }).at(-1)));
  const cut = full.findIndex((id) => digitIds.has(id));
  if (cut < 0) throw new NtkError('the tokenizer does not give the pass key as digit tokens', 'UNSUPPORTED');
  return { needle, question: full.slice(0, cut), answer: full.slice(cut, cut + key.length), sampleTail: full.length };
}

/** The shortest --len a passkey sample can have: BOS + needle + question and answer (no filler). */
export function passkeyMinLength(engine) {
  const { needle, sampleTail } = passkeyParts(engine, '00000');
  return 1 + needle.length + sampleTail;
}

/**
 * Passkey retrieval as EVAL.md (b): each sample is `len` tokens: BOS + held-out filler (from a
 * random held-out line, truncated to fit) with the needle at a uniformly random token position,
 * then "What is the pass key? The pass key is NNNNN."; the prompt stops before the first digit and
 * 5 greedy tokens must be the 5 digits. Seeded (default 1000 + len): the same trials for
 * every rope setting. Options: { len, trials = 20, seed, corpus (the path of a whole kjv corpus;
 * default HELDOUT_TEXT), heldOut (lines), onTrial }.
 * Returns { len, trials, correct, accuracy, results: [{ key, pos, answer }] }.
 */
export function passkey(engine, { len, trials = 20, seed, corpus, heldOut, onTrial } = {}) {
  checkInt('len', len, 2);
  checkInt('trials', trials, 1);
  seed ??= 1000 + len;
  checkInt('seed', seed, 0);
  const minLen = passkeyMinLength(engine);
  if (len < minLen)
    throw argError(`len ${len} is too short for the pass key: a prompt needs at least ${minLen} tokens`);
  const lines = heldOut ?? readHeldOut(corpus);
  const random = mulberry32(seed);
  const bos = engine.info().bos;
  const results = [];
  let correct = 0;
  for (let t = 0; t < trials; t++) {
    let key = '';
    for (let i = 0; i < 5; i++) key += Math.floor(random() * 10);
    const { needle, question, answer, sampleTail } = passkeyParts(engine, key);
    const fillLen = len - 1 - needle.length - sampleTail;
    // filler: held-out text from a random line on, enough of it to cover fillLen tokens
    const line = Math.floor(random() * lines.length);
    let filler = [];
    for (let nLines = Math.max(8, Math.ceil(fillLen / 8)); ; nLines *= 2) {
      const text = lines.slice(line, line + nLines).join('\n');
      filler = fillLen > 0 ? engine.tokenize(text, { bos: false }) : [];
      if (filler.length >= fillLen || line + nLines >= lines.length) break;
    }
    if (filler.length < fillLen)
      // the end of the held-out text: wrap around to its start
      filler = filler.concat(engine.tokenize(lines.slice(0, Math.ceil(fillLen / 4)).join('\n'), { bos: false }));
    filler = filler.slice(0, fillLen);
    const pos = Math.floor(random() * (fillLen + 1));
    const prompt = [bos, ...filler.slice(0, pos), ...needle, ...filler.slice(pos), ...question];
    engine.reset();
    let logits = engine.evaluate(prompt);
    const got = [];
    for (let i = 0; i < answer.length; i++) {
      got.push(argmax(logits));
      if (i + 1 < answer.length) logits = engine.evaluate([got[i]]);
    }
    const ok = got.every((id, i) => id === answer[i]);
    if (ok) correct++;
    const text = engine.detokenize(got);
    results.push({ key, pos, answer: text, ok });
    onTrial?.({ index: t, key, pos, answer: text, ok });
  }
  engine.reset();
  return { len, trials, correct, accuracy: correct / trials, results };
}
