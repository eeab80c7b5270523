// Greedy 40-token continuations from the 1400-token prompts, one engine per RoPE semantics:
//   cached     vs reference.json prompts[i].continuations[0].cached (transformers float32),
//              and its top-5 also vs continuations.json continuations[i].cached (float64)
//   consistent vs continuations.json continuations[i].consistent (float64 decoder)
//   none       vs continuations.json continuations[i].none
// Per (prompt, mode): generate() with temperature 0 must give tokens[0:robust_steps]; a
// teacher-forced evaluate() loop (reference token fed back each step) must give the reference
// argmax and top-5 logits at every step, and the base of each step's call.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  Engine,
  model,
  reference,
  continuations,
  ropeBase,
  relDiff,
  assertTopClose,
  argmax,
  collect,
  Worst,
} from './helpers.mjs';

const MODES = ['cached', 'consistent', 'none'];
const engines = {};
const produced = {}; // produced[mode][i] = tokens generate() gave (for the cross-mode check)
const worst = new Worst();

before(async () => {
  for (const mode of MODES) engines[mode] = await Engine.load(model('f32'), { ropeMode: mode });
});
after(() => Object.values(engines).forEach((e) => e.dispose()));

/** The fixture continuation of prompt i in one mode: { promptIds, tokens, top5, robust }. */
function fixture(i, mode) {
  const c = continuations().continuations[i];
  const refPrompt = reference().prompts[c.reference_prompt];
  const refCont = refPrompt.continuations[c.reference_continuation];
  assert.deepEqual(c.prompt_ids, refCont.prompt_ids, 'fixture: the two files use the same prompt');
  if (mode === 'cached') {
    // transformers' run; its robust step count lives in continuations.json
    return {
      promptIds: refCont.prompt_ids,
      tokens: refCont.cached.tokens,
      top5: refCont.cached.top5,
      robust: c.reference_robust_steps.cached,
      bases: c.bases,
      tokensF64: c.cached.tokens,
      top5f64: c.cached.top5,
      robustF64: c.cached.robust_steps,
    };
  }
  const m = c[mode];
  return { promptIds: c.prompt_ids, tokens: m.tokens, top5: m.top5, robust: m.robust_steps, bases: c.bases };
}

const nConts = continuations().continuations.length;

test('modes load as asked', () => {
  for (const mode of MODES) {
    assert.equal(engines[mode].info().rope.mode, mode);
    assert.equal(engines[mode].info().rope.modeSource, 'option');
  }
});

for (let i = 0; i < nConts; i++) {
  for (const mode of MODES) {
    test(`prompt ${i}, ${mode}: greedy generate() tokens`, { concurrency: false }, async (t) => {
      const f = fixture(i, mode);
      const C = f.promptIds.length;
      assert.equal(C, 1400);
      const e = engines[mode];
      e.reset();
      const items = await collect(e.generate(f.promptIds, { maxTokens: f.tokens.length, temperature: 0 }));
      const ids = items.map((x) => x.id);
      (produced[mode] ??= {})[i] = ids;
      assert.deepEqual(ids.slice(0, f.robust), f.tokens.slice(0, f.robust), `tokens[0:${f.robust}]`);
      // the call that chose token s evaluated L = C + s tokens
      for (const [s, it] of items.entries()) {
        assert.equal(it.nCtx, C + s, `step ${s} nCtx`);
        const want = mode === 'none' ? 10000 : ropeBase(C + s);
        assert.ok(relDiff(it.base, want) <= 1e-9, `step ${s}: base ${it.base}, expected ${want}`);
      }
      if (mode !== 'none') {
        // and the fixture's own record of the bases used
        assert.ok(
          relDiff(items[0].base, f.bases.prefill) <= 1e-6,
          `prefill base ${items[0].base} vs ${f.bases.prefill}`,
        );
        assert.ok(relDiff(items.at(-1).base, f.bases.last_step_dynamic) <= 1e-6);
      } else {
        assert.equal(items.at(-1).base, f.bases.none);
      }
      t.diagnostic(
        `${f.robust} of ${f.robust} robust tokens equal; text ${JSON.stringify(
          items
            .map((x) => x.text)
            .join('')
            .slice(0, 60),
        )}…`,
      );
    });

    test(`prompt ${i}, ${mode}: teacher-forced top-5 logits at each step`, { concurrency: false }, (t) => {
      const f = fixture(i, mode);
      const e = engines[mode];
      e.reset();
      let logits = e.evaluate(f.promptIds);
      let w = { rel: 0 },
        w64 = { rel: 0 };
      for (let s = 0; s < f.tokens.length; s++) {
        if (s > 0) logits = e.evaluate([f.tokens[s - 1]]);
        assert.equal(e.nCtx, f.promptIds.length + s);
        if (s < f.robust) assert.equal(argmax(logits), f.tokens[s], `step ${s}: argmax`);
        const st = assertTopClose(logits, f.top5[s], `step ${s} top5`);
        if (st.rel > w.rel) w = { ...st, s };
        if (f.top5f64) {
          // cached is also in continuations.json (float64): same tokens, top-5 checked too
          if (s < f.robustF64) assert.equal(argmax(logits), f.tokensF64[s], `step ${s}: argmax vs float64`);
          const st64 = assertTopClose(logits, f.top5f64[s], `step ${s} top5 vs float64`);
          if (st64.rel > w64.rel) w64 = { ...st64, s };
        }
      }
      if (f.top5f64) worst.note('cached vs continuations.json top5', w64, `prompt ${i} step ${w64.s}`);
      worst.note(
        mode === 'cached' ? 'cached vs reference.json top5' : `${mode} vs continuations.json top5`,
        w,
        `prompt ${i} step ${w.s}`,
      );
      t.diagnostic(`worst top-5 rel ${w.rel.toExponential(3)} (max|Δ| ${w.maxAbs.toExponential(3)}) at step ${w.s}`);
    });
  }
}

/** Leading equal tokens of two lists. */
const leadingEqual = (a, b) => {
  let n = 0;
  while (n < a.length && n < b.length && a[n] === b[n]) n++;
  return n;
};

test('the three semantics part where the fixtures say they do', () => {
  for (let i = 0; i < nConts; i++) {
    const c = continuations().continuations[i];
    const expect = {
      'consistent/cached': c.leading_steps_equal.consistent_vs_reference_cached,
      'none/cached': c.leading_steps_equal.none_vs_reference_cached,
      'consistent/none': leadingEqual(c.consistent.tokens, c.none.tokens),
    };
    for (const [pair, n] of Object.entries(expect)) {
      const [a, b] = pair.split('/');
      assert.ok(produced[a]?.[i] && produced[b]?.[i], 'the generate tests ran');
      assert.ok(n < 40, `fixture: ${pair} differ in prompt ${i}`);
      assert.equal(leadingEqual(produced[a][i], produced[b][i]), n, `prompt ${i}: ${pair} leading equal tokens`);
    }
  }
});

test('summary: worst top-5 relative error per mode', (t) => {
  for (const line of worst.lines()) t.diagnostic(line);
});
