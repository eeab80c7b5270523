// Chat templates (wasm/chat.mjs): the kjv-tiny GGUF's own tokenizer.chat_template, the InternLM2
// fallback, a Llama-2-chat template with raise_exception, and the errors. Every expected prompt
// below is written out by hand from the model's documented format, never taken from the renderer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { model, readGGUF, assertNtkError } from './helpers.mjs';
import { renderChat, INTERNLM2_TEMPLATE } from '../wasm/chat.mjs';
import { NtkError } from '../wasm/errors.mjs';

/** A string-valued GGUF key of a file, read at the offset readGGUF reports. */
function ggufString(file, key) {
  const buf = readFileSync(file);
  const entry = readGGUF(buf).kv[key];
  assert.ok(entry, `${file} has no ${key}`);
  assert.equal(entry.type, 8, `${key} is not a string`);
  const n = Number(new DataView(buf.buffer, buf.byteOffset).getBigUint64(entry.valueOffset, true));
  return new TextDecoder('utf-8', { fatal: true }).decode(
    buf.subarray(entry.valueOffset + 8, entry.valueOffset + 8 + n),
  );
}

const TOKENS = { bosToken: '<s>', eosToken: '</s>' };

const CONVERSATION = [
  { role: 'user', content: 'Who made the heaven and the earth?' },
  { role: 'assistant', content: 'In the beginning God created the heaven and the earth.' },
  { role: 'user', content: 'And the light?' },
];

// InternLM2's format: BOS, then <|im_start|>{role}\n{content}<|im_end|>\n per message, then the
// header of the assistant's turn.
const CONVERSATION_PROMPT =
  '<s>' +
  '<|im_start|>user\nWho made the heaven and the earth?<|im_end|>\n' +
  '<|im_start|>assistant\nIn the beginning God created the heaven and the earth.<|im_end|>\n' +
  '<|im_start|>user\nAnd the light?<|im_end|>\n' +
  '<|im_start|>assistant\n';

const CONVERSATION_NO_HEADER =
  '<s>' +
  '<|im_start|>user\nWho made the heaven and the earth?<|im_end|>\n' +
  '<|im_start|>assistant\nIn the beginning God created the heaven and the earth.<|im_end|>\n' +
  '<|im_start|>user\nAnd the light?<|im_end|>\n';

// meta-llama/Llama-2-7b-chat-hf's tokenizer_config.json chat_template, as the Jinja text (String.raw
// keeps its '\n' escapes as Jinja sees them after JSON decoding).
const LLAMA2_TEMPLATE = String.raw`{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}{% for message in loop_messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\n' + system_message + '\n<</SYS>>\n\n' + message['content'] %}{% else %}{% set content = message['content'] %}{% endif %}{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}`;

test("the kjv-tiny GGUF files carry InternLM2's chat template, byte for byte", () => {
  for (const type of ['q8_0', 'f32', 'llama-q8_0'])
    assert.equal(ggufString(model(type), 'tokenizer.chat_template'), INTERNLM2_TEMPLATE, type);
});

test("the GGUF template renders a 3-message conversation in InternLM2's format", async () => {
  const template = ggufString(model('q8_0'), 'tokenizer.chat_template');
  assert.equal(await renderChat(CONVERSATION, { template, ...TOKENS }), CONVERSATION_PROMPT);
  assert.equal(await renderChat(CONVERSATION, { template, ...TOKENS, addGenerationPrompt: true }), CONVERSATION_PROMPT);
});

test('without a template the InternLM2 fallback renders the same prompt', async () => {
  for (const template of [undefined, null, '', '  \n '])
    assert.equal(
      await renderChat(CONVERSATION, { template, ...TOKENS }),
      CONVERSATION_PROMPT,
      JSON.stringify(template),
    );
  assert.equal(await renderChat(CONVERSATION, TOKENS), CONVERSATION_PROMPT, 'no template key');
});

test('addGenerationPrompt: false leaves out the assistant header', async () => {
  const template = ggufString(model('q8_0'), 'tokenizer.chat_template');
  assert.equal(
    await renderChat(CONVERSATION, { template, ...TOKENS, addGenerationPrompt: false }),
    CONVERSATION_NO_HEADER,
  );
  assert.equal(
    await renderChat(CONVERSATION, { ...TOKENS, addGenerationPrompt: false }),
    CONVERSATION_NO_HEADER,
    'fallback',
  );
});

test('a system message, and content that looks like Jinja is copied, not evaluated', async () => {
  const messages = [
    { role: 'system', content: 'Answer in the words of the King James Bible.' },
    { role: 'user', content: 'Line one\nline two {{ bos_token }} {% if %} <|im_end|>' },
  ];
  assert.equal(
    await renderChat(messages, TOKENS),
    '<s><|im_start|>system\nAnswer in the words of the King James Bible.<|im_end|>\n' +
      '<|im_start|>user\nLine one\nline two {{ bos_token }} {% if %} <|im_end|><|im_end|>\n' +
      '<|im_start|>assistant\n',
  );
});

test('bos and eos default to empty text', async () => {
  assert.equal(
    await renderChat([{ role: 'user', content: 'hi' }]),
    '<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n',
  );
});

test('a Llama-2-chat template renders [INST] turns with the system block and eos', async () => {
  assert.equal(
    await renderChat(CONVERSATION, { template: LLAMA2_TEMPLATE, ...TOKENS }),
    '<s>[INST] Who made the heaven and the earth? [/INST] In the beginning God created the heaven and the earth. </s>' +
      '<s>[INST] And the light? [/INST]',
  );
  const withSystem = [{ role: 'system', content: 'Be brief.' }, ...CONVERSATION];
  assert.equal(
    await renderChat(withSystem, { template: LLAMA2_TEMPLATE, ...TOKENS }),
    '<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nWho made the heaven and the earth? [/INST]' +
      ' In the beginning God created the heaven and the earth. </s><s>[INST] And the light? [/INST]',
  );
});

test('a conversation the template refuses (raise_exception) is an ARG error carrying its message', async () => {
  const bad = [
    { role: 'user', content: 'a' },
    { role: 'user', content: 'b' },
  ];
  const err = await assertNtkError(
    renderChat(bad, { template: LLAMA2_TEMPLATE, ...TOKENS }),
    'ARG',
    /^chat template: .*Conversation roles must alternate user\/assistant\/user\/assistant\/\.\.\.$/,
    'two user turns',
  );
  assert.ok(err instanceof NtkError, 'an NtkError of wasm/errors.mjs');
  await assertNtkError(
    renderChat([{ role: 'assistant', content: 'first' }], { template: LLAMA2_TEMPLATE, ...TOKENS }),
    'ARG',
    /roles must alternate/,
    'assistant first',
  );
});

test('a template that does not parse is a FORMAT error', async () => {
  const broken = [
    "{% for message in messages %}{{ message['content'] }}", // no endfor
    '{{ bos_token ',
    '{% if add_generation_prompt %}x{% endfor %}',
    '{{ 1 + }}',
    "{{ 'unterminated }}",
  ];
  for (const template of broken) {
    const err = await assertNtkError(
      renderChat(CONVERSATION, { template, ...TOKENS }),
      'FORMAT',
      /^chat template: cannot parse: \S/,
      template,
    );
    assert.ok(err instanceof NtkError);
  }
});

test('a template that fails while rendering is a FORMAT error', async () => {
  await assertNtkError(
    renderChat(CONVERSATION, { template: '{{ messages[0].content.no_such_method() }}', ...TOKENS }),
    'FORMAT',
    /^chat template: cannot render: \S/,
  );
  await assertNtkError(
    renderChat(CONVERSATION, { template: '{{ no_such_function(1) }}', ...TOKENS }),
    'FORMAT',
    /^chat template: cannot render: /,
  );
});

test('the variables and helpers transformers gives a template', async () => {
  const template =
    '{{ bos_token }}|{{ eos_token }}|{{ add_generation_prompt }}|{{ messages | length }}|' +
    "{% for i in range(messages | length) %}{{ i }}{{ messages[i].role[0] }}{% endfor %}|{{ strftime_now('%Y') | length }}";
  assert.equal(
    await renderChat(CONVERSATION, { template, ...TOKENS, addGenerationPrompt: false }),
    '<s>|</s>|false|3|0u1a2u|4',
  );
  // trim_blocks and lstrip_blocks, as transformers sets them
  const blocks = '{% for m in messages %}\n  {% if m.role == "user" %}\n{{ m.content }};\n  {% endif %}\n{% endfor %}';
  assert.equal(
    await renderChat(CONVERSATION, { template: blocks }),
    'Who made the heaven and the earth?;\nAnd the light?;\n',
  );
});

test('templates are not mixed up between calls', async () => {
  const a = await renderChat(CONVERSATION, { template: LLAMA2_TEMPLATE, ...TOKENS });
  assert.equal(await renderChat(CONVERSATION, TOKENS), CONVERSATION_PROMPT);
  assert.equal(await renderChat(CONVERSATION, { template: LLAMA2_TEMPLATE, ...TOKENS }), a);
  assert.equal(await renderChat(CONVERSATION, { template: '{{ messages[2].content }}' }), 'And the light?');
});

test('bad messages are ARG errors naming the problem', async () => {
  const cases = [
    [undefined, /messages must be an array/],
    ['hello', /messages must be an array/],
    [{ role: 'user', content: 'hi' }, /messages must be an array/],
    [[], /at least one message/],
    [[null], /messages\[0\] must be an object/],
    [['hi'], /messages\[0\] must be an object/],
    [[[]], /messages\[0\] must be an object/],
    [[{ content: 'hi' }], /messages\[0\]\.role must be a non-empty string/],
    [[{ role: '', content: 'hi' }], /messages\[0\]\.role must be a non-empty string/],
    [[{ role: 7, content: 'hi' }], /messages\[0\]\.role/],
    [[{ role: 'user' }], /messages\[0\]\.content must be a string/],
    [
      [
        { role: 'user', content: 'ok' },
        { role: 'user', content: null },
      ],
      /messages\[1\]\.content must be a string, got null/,
    ],
    [[{ role: 'user', content: ['a'] }], /messages\[0\]\.content must be a string/],
  ];
  for (const [messages, re] of cases) {
    const err = await assertNtkError(renderChat(messages, TOKENS), 'ARG', re, JSON.stringify(messages));
    assert.ok(err instanceof NtkError);
  }
});

test('bad options are ARG errors', async () => {
  const msgs = [{ role: 'user', content: 'hi' }];
  const cases = [
    [{ template: 42 }, /template must be a string/],
    [{ bosToken: 1 }, /bosToken must be a string/],
    [{ eosToken: null }, /eosToken must be a string/],
    [{ addGenerationPrompt: 'yes' }, /addGenerationPrompt must be true or false/],
    [{ add_generation_prompt: false }, /unknown chat option "add_generation_prompt"/],
    [null, /options must be an object/],
  ];
  for (const [options, re] of cases)
    await assertNtkError(renderChat(msgs, options), 'ARG', re, JSON.stringify(options));
});

test('@huggingface/jinja is loaded only when a chat is rendered; without it the error says what to install', () => {
  // A child Node whose module resolution refuses @huggingface/jinja: chat.mjs must still import.
  const hooks =
    "export async function resolve(s, c, next) { if (s === '@huggingface/jinja') " +
    "throw Object.assign(new Error('blocked ' + s), { code: 'ERR_MODULE_NOT_FOUND' }); return next(s, c); }";
  const register = `import { register } from 'node:module'; register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(hooks)}));`;
  const script = `
    const chat = await import(${JSON.stringify(new URL('../wasm/chat.mjs', import.meta.url).href)});
    const out = { imported: typeof chat.renderChat };
    for (let i = 0; i < 2; i++) {
      try { await chat.renderChat([{ role: 'user', content: 'x' }]); } catch (e) { out['try' + i] = [e.name, e.code, e.message]; }
    }
    console.log(JSON.stringify(out));`;
  const r = spawnSync(
    process.execPath,
    ['--import', `data:text/javascript,${encodeURIComponent(register)}`, '--input-type=module', '-e', script],
    {
      encoding: 'utf8',
    },
  );
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.imported, 'function', 'chat.mjs imports without @huggingface/jinja');
  for (const k of ['try0', 'try1']) {
    const [name, code, message] = out[k] ?? [];
    assert.equal(name, 'NtkError', k);
    assert.equal(code, 'UNSUPPORTED', k);
    assert.match(message, /npm install @huggingface\/jinja/, k);
  }
});
