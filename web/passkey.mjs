// passkey.mjs — the passkey document of the Long document mode, after EVAL.md's test (the CLI's
// `passkey`, wasm/evaluate.mjs): held-out King James text the tiny model never trained on, cut
// to a length in tokens, with "The pass key is NNNNN. Remember it. NNNNN is the pass key." on a
// line at a random place — at least `reach` tokens before the question when the length allows, so
// that answering means attending further back than the model was trained to (a needle near the
// end is found with plain RoPE too, as a short context would be). Unlike the CLI it builds text,
// not token ids, so that a person can read and edit the document; its length is therefore that of
// the text's tokens, near the target.
import { mulberry32 } from '../wasm/random.mjs';

// the held-out part of the corpus (the New Testament: tests/fixtures/corpus/README.md), as make
// cuts it for the package
const CORPUS = new URL('../wasm/build/kjv-heldout.txt', import.meta.url);
export const QUESTION = 'What is the pass key? The pass key is';

let heldOut = null;
async function heldOutLines() {
  if (!heldOut) {
    heldOut = fetch(CORPUS).then(async (res) => {
      if (!res.ok) throw new Error(`cannot fetch the filler text (${CORPUS.pathname}): HTTP ${res.status}`);
      return (await res.text()).split('\n').filter((l) => l.trim());
    });
    heldOut.catch(() => (heldOut = null));
  }
  return heldOut;
}

/**
 * A document of about `len` tokens (with the question after it) hiding a 5-digit key at least
 * `reach` tokens before the end where it can; engine is a (Worker)Engine, used to count tokens.
 * Returns { text, key }.
 */
export async function passkeyDocument(engine, len, { reach = 0, seed = Date.now() } = {}) {
  const random = mulberry32(seed);
  const key = Array.from({ length: 5 }, () => Math.floor(random() * 10)).join('');
  const needle = `The pass key is ${key}. Remember it. ${key} is the pass key.`;
  const fixed = (await engine.tokenize(`${needle}\n${QUESTION}`)).length;
  const fillLen = Math.max(0, len - fixed);
  const lines = await heldOutLines();
  const first = Math.floor(random() * lines.length);
  let filler = [];
  for (let n = Math.max(8, Math.ceil(fillLen / 8)); filler.length < fillLen && n < 4 * lines.length; n *= 2) {
    const text = Array.from({ length: n }, (_, i) => lines[(first + i) % lines.length]).join('\n');
    filler = await engine.tokenize(text, { bos: false });
  }
  const body = (await engine.detokenize(filler.slice(0, fillLen))).split('\n');
  // lines are of about equal length: the first lines.length × (fillLen − reach) / fillLen of them
  // lie at least `reach` tokens before the end
  const last = fillLen > reach ? Math.floor((body.length * (fillLen - reach)) / fillLen) : body.length;
  body.splice(Math.floor(random() * (last + 1)), 0, needle);
  return { text: body.join('\n'), key };
}
