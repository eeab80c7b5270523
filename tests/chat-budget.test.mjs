// The chat template is code from the model file: it renders within limits (wasm/sandbox.mjs). A
// template that loops for ever, builds huge values or reads attributes of undefined values is a
// FORMAT error naming the limit or the value, within 2 s, in renderChat, Engine and WorkerEngine, and
// the engine chats on after it. Real templates render as @huggingface/jinja renders them unlimited,
// and a 200-turn conversation takes a small part of every limit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as jinja from '@huggingface/jinja';
import { Engine, model, collect, assertNtkError, withMetadata, kvRecord, VALUE, ROOT } from './helpers.mjs';
import { WorkerEngine } from '../wasm/worker-engine.mjs';
import { renderChat, RENDER_LIMITS } from '../wasm/chat.mjs';
import { runLimited, limitedRange } from '../wasm/sandbox.mjs';

const REAL = JSON.parse(readFileSync(path.join(ROOT, 'tests/fixtures/chat-templates.json'), 'utf8')).templates;
const HI = [{ role: 'user', content: 'And God said' }];

// Templates that ran unbounded on main, and what stops each now.
const HOSTILE = {
  // range() built the whole list: Node died of "invalid size"
  'range(1e9)': ['{% for x in range(1000000000) %}a{% endfor %}', /\d+ items in a list/],
  // 10^10 steps: rendered for hours
  'nested range(100000) loops': [
    '{% for x in range(100000) %}{% for y in range(100000) %}a{% endfor %}{% endfor %}',
    /\d+ ms/,
  ],
  // an empty body still runs its loop
  'nested empty loops': ['{% for x in range(100000) %}{% for y in range(100000) %}{% endfor %}{% endfor %}', /\d+ ms/],
  // 3M special tokens: 22.6 s of render and tokenize
  '3M special tokens': [
    '{% for x in range(3000) %}{% for y in range(1000) %}<|im_start|>{% endfor %}{% endfor %}',
    /\d+ (ms|characters)/,
  ],
  // a list that holds itself twice doubles its printed size every step
  'shared lists': [
    '{% set a = [1] %}{% for i in range(60) %}{% set a = [a, a] %}{% endfor %}{{ a }}',
    /\d+ characters/,
  ],
  'concatenated lists': [
    '{% set a = [1] %}{% for i in range(60) %}{% set a = a + a %}{% endfor %}',
    /\d+ items in a list/,
  ],
  'doubled string': [
    "{% set s = 'ab' %}{% for i in range(60) %}{% set s = s + s %}{% endfor %}{{ s }}",
    /\d+ characters/,
  ],
  'namespace doubling': [
    '{% set ns = namespace(a=1) %}{% for i in range(60) %}{% set ns.a = [ns.a, ns.a] %}{% endfor %}{{ ns }}',
    /\d+ characters/,
  ],
};

// One call that makes a value far larger than its input (~1 GB before the checks).
const HALF_MEGA = "{% set ns = namespace(s='x') %}{% for i in range(19) %}{% set ns.s = ns.s + ns.s %}{% endfor %}";
const GROWTH = {
  's.replace': HALF_MEGA + "{{ ns.s.replace('', ns.s) }}",
  'replace kept for later': HALF_MEGA + "{% set r = ns.s.replace %}{{ r('x', ns.s) }}",
  '|replace': HALF_MEGA + "{{ ns.s|replace('x', ns.s) }}",
  '|join': HALF_MEGA + '{{ range(100000)|join(ns.s) }}',
  '|indent':
    "{% set ns = namespace(s='x\n') %}{% for i in range(18) %}{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s|indent(100000) }}",
  '|tojson(indent)':
    '{% set ns = namespace(a=[1]) %}{% for i in range(16) %}{% set ns.a = [ns.a] %}{% endfor %}{{ ns.a|tojson(indent=10000000) }}',
};

async function timedFormat(promise, re, label) {
  const t0 = performance.now();
  const err = await assertNtkError(promise, 'FORMAT', re, label);
  const ms = performance.now() - t0;
  assert.ok(ms < 2000, `${label}: ${ms.toFixed(0)} ms`);
  return err;
}

test('a template past its limits is a FORMAT error naming the limit, within 2 s', async () => {
  for (const [name, [template, re]] of Object.entries({
    ...HOSTILE,
    ...Object.fromEntries(Object.entries(GROWTH).map(([k, t]) => [k, [t, /\d+ characters/]])),
  }))
    await timedFormat(
      renderChat(HI, { template }),
      new RegExp(`^chat template: ran past its budget of ${re.source}$`),
      name,
    );
});

test('the limits can be set per render, and a message in the conversation grows them', async () => {
  const loop = '{% for i in range(1000) %}{{ i }}{% endfor %}';
  await assertNtkError(renderChat(HI, { template: loop, limits: { steps: 1000 } }), 'FORMAT', /budget of 1500 steps/);
  assert.equal((await renderChat(HI, { template: loop, limits: { steps: 5000 } })).length, 2890);
  await assertNtkError(
    renderChat(HI, { template: '{{ range(11)|length }}', limits: { items: 9 } }),
    'FORMAT',
    /10 items/,
  );
  await assertNtkError(renderChat(HI, { template: "{{ 'x' }}", limits: { chars: 0 } }), 'ARG', /limits\.chars must be/);
  // parsing is not limited: a template longer than the limit is refused before it is parsed
  // (1M characters of '{{ x }}' took 10 s to parse)
  await timedFormat(
    renderChat(HI, { template: '{{ x }}'.repeat(1 << 20) }),
    /^chat template: ran past its budget of 65536 characters of template \(it has 7340032\)$/,
    'a long template',
  );
  await assertNtkError(
    renderChat(HI, { template: 'abc', limits: { source: 2 } }),
    'FORMAT',
    /2 characters of template/,
  );
  await assertNtkError(renderChat(HI, { template: "{{ 'x' }}", limits: { time: 5 } }), 'ARG', /limits\.time must be/);
});

test("attributes of undefined values are errors naming the value, as in transformers' jinja2 sandbox", async () => {
  // main rendered these as empty text, and the chat failed later with "no tokens to evaluate"
  await assertNtkError(
    renderChat(HI, { template: '{{ foo.bar.baz }}' }),
    'FORMAT',
    /'foo' is undefined \(reading \.bar\)/,
  );
  await assertNtkError(
    renderChat(HI, { template: "{{ messages[0].tool_calls['x'] }}" }),
    'FORMAT',
    /'messages\[0\]\.tool_calls' is undefined \(reading \[\.\.\.\]\)/,
  );
  // an undefined value itself prints as nothing and can be tested, as Jinja's Undefined
  assert.equal(
    await renderChat(HI, {
      template: '[{{ foo }}|{{ messages[0].tool_calls }}|{{ foo is defined }}|{{ (foo or "d") }}]',
    }),
    '[||false|d]',
  );
});

test('a render past its limits leaves nothing behind: the next render works', async () => {
  await assertNtkError(renderChat(HI, { template: HOSTILE['nested range(100000) loops'][0] }), 'FORMAT');
  assert.equal(await renderChat(HI, { template: '{{ messages[0].content }}' }), 'And God said');
});

// 200 turns (401 messages) of a user and an assistant.
const LONG = [
  ...Array.from({ length: 400 }, (_, i) => ({
    role: i % 2 ? 'assistant' : 'user',
    content: ` Turn ${i}: and the evening and the morning were the ${i}th day. `,
  })),
  { role: 'user', content: 'And the last?' },
];

test('real templates render a 200-turn conversation as @huggingface/jinja does, in a small part of the limits', async () => {
  const vars = { messages: LONG, bos_token: '<s>', eos_token: '</s>', add_generation_prompt: true };
  for (const [name, template] of Object.entries(REAL)) {
    const unlimited = new jinja.Template(template);
    // Llama 3.2's prints today's date through strftime_now: the library's own and ours agree on the day
    const expected = unlimited.render(vars);
    const t0 = performance.now();
    const got = await renderChat(LONG, { template, bosToken: '<s>', eosToken: '</s>' });
    const ms = performance.now() - t0;
    assert.equal(got, expected, name);
    assert.ok(ms < RENDER_LIMITS.ms / 2, `${name}: ${ms.toFixed(0)} ms`);
    // the steps of the same render, with the library's own globals
    const env = new jinja.Environment();
    const globals = { true: true, false: false, none: null, range: limitedRange(RENDER_LIMITS), strftime_now: String };
    for (const [k, v] of Object.entries({ ...vars, ...globals })) env.set(k, v);
    const { steps } = runLimited(jinja, unlimited.parsed, env);
    assert.ok(steps < RENDER_LIMITS.steps / 100, `${name}: ${steps} steps`);
  }
});

// ---- in the engines: the template comes from the model file ----

const withTemplate = (template) =>
  withMetadata(readFileSync(model('q8_0')), {
    'tokenizer.chat_template': kvRecord('tokenizer.chat_template', VALUE.STRING, template),
  });

for (const [kind, Kind] of [
  ['Engine', Engine],
  ['WorkerEngine', WorkerEngine],
]) {
  test(`${kind}: a file's hostile template is a FORMAT error within 2 s, and the engine chats on`, async () => {
    for (const name of ['range(1e9)', 'nested range(100000) loops', '3M special tokens']) {
      const [template, re] = HOSTILE[name];
      const e = await Kind.load(withTemplate(template + '{{ messages[0].content }}'));
      try {
        await timedFormat(collect(e.chat(HI, { maxTokens: 2 })), re, `${kind} ${name}`);
        // the same engine answers a generate and another chat that fails the same way
        assert.equal((await collect(e.generate('In the beginning', { maxTokens: 2, temperature: 0 }))).length, 2);
        await timedFormat(collect(e.chat(HI, { maxTokens: 2 })), re, `${kind} ${name}, again`);
      } finally {
        await e.dispose();
      }
    }
    const e = await Kind.load(withTemplate('{{ foo.bar.baz }}'));
    try {
      await assertNtkError(collect(e.chat(HI, { maxTokens: 2 })), 'FORMAT', /'foo' is undefined/);
    } finally {
      await e.dispose();
    }
  });
}

test('a template that renders no text is a FORMAT error saying so, not "no tokens to evaluate"', async () => {
  const e = await Engine.load(withTemplate('{{ foo }}'));
  try {
    await assertNtkError(collect(e.chat(HI, { maxTokens: 2 })), 'FORMAT', /the template rendered no text/);
  } finally {
    e.dispose();
  }
});
