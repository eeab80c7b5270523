// The public JS API beyond loading: scale events, stop strings, chat with a reused context,
// cancellation, metadata — each checked against an independent expectation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine, model, ropeBase, collect, assertNtkError } from './helpers.mjs';
import { readFileSync } from 'node:fs';
import { FIXTURES } from './helpers.mjs';
import { join } from 'node:path';

const heldout = new Uint16Array(readFileSync(join(FIXTURES, 'heldout_ids.u16')).buffer.slice(0));
const prompt = (n) => [1, ...heldout.subarray(0, n - 1)];
const engine = await Engine.load(model('q8_0'));

test('scale events: one per change of the base, each the dynamic NTK base of its context', async () => {
  engine.reset();
  const events = [];
  const off = engine.on('scale', (e) => events.push(e));
  const items = await collect(engine.generate(prompt(500), { maxTokens: 20, temperature: 0 }));
  off();
  // up to 512 the base stays theta (as after reset: no event); from 513 on every token moves it.
  // base(513) = 10040.325 in the fixtures' README
  assert.deepEqual(
    { ...events[0], base: Math.round(events[0].base * 1000) / 1000 },
    { nCtx: 513, base: 10040.325, factor: 2, mode: 'consistent', trainedCtx: 512, refresh: 1 },
  );
  const dynamic = events.filter((e) => e.nCtx > 512);
  assert.equal(dynamic.length, 500 + 19 - 512, 'an event for every context length past 512, none before');
  for (const e of events) {
    assert.ok(
      Math.abs(e.base - ropeBase(e.nCtx)) <= 1e-6 * e.base,
      `base at ${e.nCtx}: ${e.base} vs ${ropeBase(e.nCtx)}`,
    );
    assert.equal(e.mode, 'consistent');
    assert.equal(e.factor, 2);
    assert.equal(e.trainedCtx, 512);
  }
  assert.equal(events.at(-1).nCtx, items.at(-1).nCtx);
  // the listener is gone after off(); reset brings the base back to theta: one more event
  const after = [];
  engine.on('scale', (e) => after.push(e));
  engine.reset();
  assert.deepEqual(
    after.map((e) => e.base),
    [10000],
  );
});

test('ropeRefresh: the base moves every N tokens, to the base of L0 + the next multiple of N', async () => {
  const N = 64;
  const coarse = await Engine.load(model('q8_0'), { ropeRefresh: N });
  try {
    assert.equal(coarse.info().rope.refresh, N);
    const events = [];
    coarse.on('scale', (e) => events.push(e));
    const ids = prompt(700);
    coarse.evaluate(ids.slice(0, 500));
    for (let i = 500; i < 700; i++) coarse.evaluate([ids[i]]);
    // contexts 513..576 share base(576), 577..640 base(640), 641..700 base(704)
    assert.deepEqual(
      events.map((e) => e.nCtx),
      [500, 513, 577, 641],
    );
    for (const e of events.slice(1)) {
      const rounded = 512 + Math.ceil((e.nCtx - 512) / N) * N;
      assert.ok(
        Math.abs(e.base - ropeBase(rounded)) <= 1e-9 * e.base,
        `base at ${e.nCtx}: ${e.base} vs base(${rounded})`,
      );
      assert.equal(e.refresh, N);
    }
    // Contexts 513..576 all take base(576), so 576 tokens fed as 513 + 63 single tokens give
    // the logits of one 576-token call; moving the base every token, they do not.
    const split = async (e) => {
      e.reset();
      e.evaluate(ids.slice(0, 513));
      let last;
      for (let i = 513; i < 576; i++) last = e.evaluate([ids[i]]);
      e.reset();
      return { last, whole: e.evaluate(ids.slice(0, 576)) };
    };
    const c = await split(coarse),
      f = await split(engine);
    assert.deepEqual(c.last, c.whole, 'refresh 64: same logits however the tokens were split');
    assert.notDeepEqual(f.last, f.whole, 'refresh 1: the base moved between the calls');
  } finally {
    coarse.dispose();
  }
  for (const ropeRefresh of [0, 1.5, -64])
    await assertNtkError(Engine.load(model('q4_0'), { ropeRefresh }), 'ARG', /ropeRefresh/);
});

test('stop strings end the text before them, even across token boundaries', async () => {
  engine.reset();
  const full = (await collect(engine.generate('And it came to pass', { maxTokens: 40, temperature: 0 })))
    .map((t) => t.text)
    .join('');
  // a stop string that starts inside one token and ends inside a later one
  const at = full.indexOf(' ', 20);
  const stop = full.slice(at - 2, at + 4);
  engine.reset();
  const items = await collect(
    engine.generate('And it came to pass', { maxTokens: 40, temperature: 0, stop: ['never appears', stop] }),
  );
  const text = items.map((t) => t.text).join('');
  assert.equal(text, full.slice(0, full.indexOf(stop)));
  assert.ok(items.length < 40, 'generation stopped early');
});

test('chat reuses the cached conversation and answers as a fresh engine would', async () => {
  const fresh = await Engine.load(model('q8_0'));
  try {
    engine.reset();
    const messages = [{ role: 'user', content: 'Who was Moses?' }];
    let first = '';
    for await (const t of engine.chat(messages, { maxTokens: 10, temperature: 0 })) first += t.text;
    messages.push({ role: 'assistant', content: first }, { role: 'user', content: 'And Aaron?' });
    const reused = await collect(engine.chat(messages, { maxTokens: 10, temperature: 0 }));
    const scratch = await collect(fresh.chat(messages, { maxTokens: 10, temperature: 0 }));
    assert.deepEqual(
      reused.map((t) => t.id),
      scratch.map((t) => t.id),
    );
    assert.deepEqual(
      reused.map((t) => t.nCtx),
      scratch.map((t) => t.nCtx),
    );
    // the prompt is BOS + the rendered template, tokenized with the chat tokens as single ids
    const ids = fresh.tokenize('<|im_start|>user\nWho was Moses?<|im_end|>\n<|im_start|>assistant\n', { bos: true });
    assert.deepEqual(ids.slice(0, 3), [1, 4024, 3]);
  } finally {
    fresh.dispose();
  }
});

test('end of generation: </s> and <|im_end|> (the file eos) end an answer', () => {
  assert.equal(engine.isEndOfGeneration(2), true);
  assert.equal(engine.isEndOfGeneration(4), true);
  assert.equal(engine.isEndOfGeneration(3), false);
});

test('abort mid-generation stops it; the engine goes on; one generation at a time', async () => {
  engine.reset();
  const ac = new AbortController();
  const got = [];
  for await (const t of engine.generate('In the beginning', { maxTokens: 1000, temperature: 0, signal: ac.signal })) {
    got.push(t);
    if (got.length === 5) ac.abort();
  }
  assert.equal(got.length, 5);
  const it = engine.generate('x', { maxTokens: 3 });
  await it.next();
  await assertNtkError(collect(engine.generate('y', { maxTokens: 1 })), 'STATE', /already running/);
  await assertNtkError(() => engine.evaluate([1]), 'STATE', /running/);
  await it.return();
  engine.reset();
  assert.equal((await collect(engine.generate('In the beginning', { maxTokens: 3, temperature: 0 }))).length, 3);
});

test('metadata lists every key and tensor of the file', () => {
  const { metadata, tensors } = engine.metadata({ maxArrayItems: 5 });
  assert.equal(metadata['general.architecture'], 'internlm2');
  assert.equal(metadata['internlm2.context_length'], 512);
  assert.deepEqual(metadata['tokenizer.ggml.tokens'], {
    array: 'string',
    length: 4096,
    head: ['<unk>', '<s>', '</s>', '<|im_start|>', '<|im_end|>'],
  });
  assert.equal(tensors.length, 57);
  assert.deepEqual(tensors.find((t) => t.name === 'token_embd.weight').shape, [256, 4096]);
});

test.after(() => engine.dispose());

test('maxContext: past the cap is CONTEXT_FULL before anything is evaluated; reset and go on', async () => {
  const e = await Engine.load(model('q4_0'), { maxContext: 100 });
  try {
    const info = e.info();
    // 6 layers x 2 KV heads x 64 dims, K and V in f32; the token id; a cos/sin row of 64 floats a 64-token chunk
    assert.equal(info.kvBytesPerToken, 2 * 6 * 2 * 64 * 4 + 4 + (64 * 4) / 64);
    assert.equal(info.maxContext, 100);
    assert.equal(info.contextFit, 100);
    await assertNtkError(
      () => e.evaluate(prompt(101)),
      'CONTEXT_FULL',
      /context full at 0 tokens: 101 more would pass the cap of 100/,
    );
    assert.equal(e.nCtx, 0);
    const items = [];
    await assertNtkError(
      async () => {
        for await (const t of e.generate(prompt(90), { maxTokens: 50, temperature: 0 })) items.push(t);
      },
      'CONTEXT_FULL',
      /context full at 100 tokens/,
    );
    assert.equal(items.length, 11, 'tokens up to the cap were generated');
    assert.equal(e.nCtx, 100, 'the token yielded last, which did not fit, is not in the context');
    e.reset();
    assert.equal((await collect(e.generate(prompt(20), { maxTokens: 3, temperature: 0 }))).length, 3);
  } finally {
    e.dispose();
  }
  const free = await Engine.load(model('q4_0'));
  const fits = free.info();
  assert.ok(fits.contextFit > 200_000, `contextFit ${fits.contextFit}: the tiny model fits past 200K tokens in 4 GB`);
  // what another KV type would buy: the same memory over its bytes per token (6152, 3080, 1820)
  assert.equal(fits.contextFitByKvType.f32, fits.contextFit);
  const perToken = { f32: 6152, f16: 3080, q8_0: (2 * 6 * 128 * 34) / 32 + 8 };
  for (const t of ['f16', 'q8_0'])
    assert.ok(
      Math.abs(fits.contextFitByKvType[t] * perToken[t] - fits.contextFit * perToken.f32) <= perToken[t] * 2,
      `${t}: ${fits.contextFitByKvType[t]}`,
    );
  free.dispose();
  await assertNtkError(Engine.load(model('q4_0'), { maxContext: 0 }), 'ARG', /maxContext/);
});

test('info(): a new object at each call, with contextFit as of the call', async () => {
  const e = await Engine.load(model('q4_0'));
  try {
    const first = e.info(),
      second = e.info();
    assert.notEqual(first, second);
    assert.notEqual(first.rope, second.rope);
    first.rope.mode = 'changed by a caller';
    first.contextFit = 0;
    assert.equal(e.info().rope.mode, 'consistent');
    assert.equal(e.info().contextFit, second.contextFit);
    // the logits of every position of 1024 tokens stay in the engine (1024 x nVocab floats): the
    // room for context shrinks by about as many tokens as their bytes would hold
    e.evaluate(prompt(1024), { allLogits: true });
    const drop = second.contextFit - e.info().contextFit;
    const logitTokens = (1024 * e.nVocab * 4) / second.kvBytesPerToken;
    assert.ok(
      drop >= logitTokens * 0.5 && drop <= logitTokens * 1.5,
      `contextFit fell by ${drop} tokens, the logits take ${logitTokens}`,
    );
  } finally {
    e.dispose();
  }
});

// A call asking for more positions than 4 GB can hold, after 100 tokens: the KV cache's growth fails for real.
function failedGrowth(e, ids) {
  e.evaluate(ids.slice(0, 100));
  const huge = new Array(e.info().contextFit + 50_000).fill(100);
  assert.throws(
    () => e.evaluate(huge),
    (err) =>
      err.code === 'CONTEXT_FULL' &&
      new RegExp(`context full at 100 tokens: memory cannot grow to hold ${100 + huge.length}`).test(err.message),
  );
  assert.equal(e.nCtx, 100);
}

test('memory: a context WebAssembly memory cannot hold is CONTEXT_FULL; nothing is lost', async () => {
  const e = await Engine.load(model('q4_0'));
  try {
    const ids = prompt(120);
    failedGrowth(e, ids);
    // the context goes on exactly as if the failed call had not happened
    const next = e.evaluate(ids.slice(100));
    const fresh = await Engine.load(model('q4_0'));
    const want = fresh.evaluate(ids);
    fresh.dispose();
    assert.deepEqual(next, want);
  } finally {
    e.dispose();
  }
});

// Emscripten grows memory in steps of up to 96 MiB (its MEMORY_GROWTH_GEOMETRIC_CAP); the part of
// the last step the allocator has not reached yet is not counted as room.
const GROWTH_STEP = 96 * 2 ** 20;

test('memory: the failed growth gives its memory back', async () => {
  const e = await Engine.load(model('q4_0'));
  try {
    const memory = e.memoryBytes,
      before = e.info();
    failedGrowth(e, prompt(100));
    // it took memory (WebAssembly memory never shrinks) and gave it back: as much context fits as
    // before, but for the part of the last growth step the allocator has not reached
    assert.ok(e.memoryBytes - memory > GROWTH_STEP * 10, `memory grew from ${memory} to ${e.memoryBytes} bytes`);
    const after = e.info().contextFit;
    const slack = GROWTH_STEP / before.kvBytesPerToken + before.contextFit * 0.01;
    assert.ok(Math.abs(after - before.contextFit) <= slack, `contextFit ${before.contextFit} before, ${after} after`);
  } finally {
    e.dispose();
  }
});
