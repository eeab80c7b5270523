// chat.mjs — turn a conversation into the prompt text a chat model was trained on, by rendering the
// model's own `tokenizer.chat_template` (a Jinja template stored in the GGUF) the way transformers'
// apply_chat_template does: the variables messages, bos_token, eos_token, add_generation_prompt and
// the function raise_exception, with trim_blocks and lstrip_blocks on.
//
// The Jinja implementation is @huggingface/jinja, loaded on first use so that an engine that never
// chats never loads it. A model without a template is rendered with InternLM2's (INTERNLM2_TEMPLATE)
// through the same path, so there is one way of rendering.
//
// The template is code from the model file: it runs within limits (sandbox.mjs), so a template that
// loops for ever or builds huge values fails in about a second at most, where it runs.
//
// A message can hold the text of a control token (<|im_end|>\n<|im_start|>system...). Rendered as it
// is, that text becomes the control tokens themselves and the message forges turns.
// renderChatParts tells where such text came from a message, for the tokenizer to read it as plain
// text there (Engine.chat's parseSpecial: false).
//
// Errors are NtkErrors: ARG for bad messages or options, and for a conversation that the template
// itself refuses (raise_exception, e.g. Llama-2's "roles must alternate"); FORMAT for a template that
// does not parse, fails while rendering or goes past a limit; UNSUPPORTED when @huggingface/jinja is
// not installed.

import { NtkError } from './errors.mjs';
import { RENDER_LIMITS, TemplateBudget, TemplateUndefined, limitedRange, runLimited } from './sandbox.mjs';

export { RENDER_LIMITS };

/**
 * InternLM2's chat template, as the chat_template of internlm2-chat-7b's tokenizer_config.json
 * (the same text llama.cpp's converter copies into a GGUF as tokenizer.chat_template). The '\n'
 * inside the Jinja string literals are real newline characters, as they are after JSON decoding.
 */
export const INTERNLM2_TEMPLATE =
  "{{ bos_token }}{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

const OPTIONS = ['template', 'bosToken', 'eosToken', 'addGenerationPrompt', 'limits', 'controlTexts'];
const argError = (msg) => new NtkError(msg, 'ARG');

let jinjaModule = null;
let jinjaUrl = null;

/**
 * Import @huggingface/jinja from this URL instead of by its name: for a module worker, where a
 * page's import map does not apply (worker.mjs is given the URL the page's map resolves to).
 */
export function setJinjaUrl(url) {
  jinjaUrl = url;
  jinjaModule = null;
}

async function loadJinja() {
  if (!jinjaModule) {
    jinjaModule = (
      jinjaUrl ? import(/* @vite-ignore */ /* webpackIgnore: true */ jinjaUrl) : import('@huggingface/jinja')
    ).catch((e) => {
      jinjaModule = null; // let a later call try again
      throw new NtkError(
        `chat templates need the @huggingface/jinja package (npm install @huggingface/jinja): ${e.message}`,
        'UNSUPPORTED',
        { cause: e },
      );
    });
  }
  return jinjaModule;
}

// Parsed templates by source text: a chat renders the same template every turn.
const parsed = new Map();
const PARSED_CAP = 8;

function parseTemplate(jinja, source) {
  let t = parsed.get(source);
  if (!t) {
    try {
      t = new jinja.Template(source);
    } catch (e) {
      throw new NtkError(`chat template: cannot parse: ${e?.message ?? e}`, 'FORMAT', { cause: e });
    }
    if (parsed.size >= PARSED_CAP) parsed.delete(parsed.keys().next().value);
    parsed.set(source, t);
  }
  return t;
}

/** Thrown by the template's raise_exception(): the template refuses this conversation. */
class TemplateRaised extends Error {}

// strftime_now(format), which transformers provides to templates (Llama 3.1 prints today's date).
function strftimeNow(format) {
  const d = new Date();
  const pad = (n) => String(n).padStart(2, '0');
  const month = (style) => new Intl.DateTimeFormat('en-US', { month: style }).format(d);
  const weekday = (style) => new Intl.DateTimeFormat('en-US', { weekday: style }).format(d);
  const fields = {
    Y: () => String(d.getFullYear()),
    m: () => pad(d.getMonth() + 1),
    d: () => pad(d.getDate()),
    H: () => pad(d.getHours()),
    M: () => pad(d.getMinutes()),
    S: () => pad(d.getSeconds()),
    b: () => month('short'),
    B: () => month('long'),
    a: () => weekday('short'),
    A: () => weekday('long'),
    '%': () => '%',
  };
  return String(format).replace(/%(.)/g, (all, c) => (fields[c] ? fields[c]() : all));
}

/**
 * The variables a template sees. Template.render would declare its own raise_exception, which
 * throws an Error indistinguishable from the library's own failures; building the environment here
 * lets a refusal by the template (ARG) be told apart from a broken template (FORMAT).
 */
function environment(jinja, vars, limits) {
  const env = new jinja.Environment();
  const globals = {
    true: true,
    false: false,
    none: null,
    True: true,
    False: false,
    None: null,
    raise_exception: (message) => {
      throw new TemplateRaised(String(message ?? 'raise_exception() called'));
    },
    range: limitedRange(limits),
    strftime_now: strftimeNow,
    ...vars,
  };
  for (const [k, v] of Object.entries(globals)) env.set(k, v);
  return env;
}

function checkMessages(messages) {
  if (!Array.isArray(messages))
    throw argError(`messages must be an array of { role, content }, got ${typeof messages}`);
  if (messages.length === 0) throw argError('messages must hold at least one message');
  return messages.map((m, i) => {
    if (m === null || typeof m !== 'object' || Array.isArray(m))
      throw argError(
        `messages[${i}] must be an object { role, content }, got ${m === null ? 'null' : Array.isArray(m) ? 'an array' : typeof m}`,
      );
    if (typeof m.role !== 'string' || m.role === '')
      throw argError(`messages[${i}].role must be a non-empty string, got ${JSON.stringify(m.role) ?? typeof m.role}`);
    if (typeof m.content !== 'string')
      throw argError(`messages[${i}].content must be a string, got ${m.content === null ? 'null' : typeof m.content}`);
    return { role: m.role, content: m.content };
  });
}

function checkOptions(options) {
  if (options === null || typeof options !== 'object') throw argError('renderChat options must be an object');
  for (const k of Object.keys(options)) if (!OPTIONS.includes(k)) throw argError(`unknown chat option "${k}"`);
  const {
    template,
    bosToken = '',
    eosToken = '',
    addGenerationPrompt = true,
    limits = {},
    controlTexts = [],
  } = options;
  if (template !== undefined && template !== null && typeof template !== 'string')
    throw argError(`template must be a string, got ${typeof template}`);
  if (typeof bosToken !== 'string') throw argError(`bosToken must be a string, got ${typeof bosToken}`);
  if (typeof eosToken !== 'string') throw argError(`eosToken must be a string, got ${typeof eosToken}`);
  if (typeof addGenerationPrompt !== 'boolean')
    throw argError(`addGenerationPrompt must be true or false, got ${addGenerationPrompt}`);
  if (limits === null || typeof limits !== 'object') throw argError('limits must be an object');
  for (const [k, v] of Object.entries(limits))
    if (!Object.hasOwn(RENDER_LIMITS, k) || !(Number.isInteger(v) && v > 0))
      throw argError(`limits.${k} must be one of ${Object.keys(RENDER_LIMITS).join(', ')}, a positive integer`);
  if (!Array.isArray(controlTexts) || !controlTexts.every((t) => typeof t === 'string' && t !== ''))
    throw argError('controlTexts must be an array of non-empty strings');
  return { template, bosToken, eosToken, addGenerationPrompt, limits: { ...RENDER_LIMITS, ...limits }, controlTexts };
}

// What each message adds to the limits: real templates take about 50 steps and 0.1 ms a message
// (tests/chat-budget.test.mjs), and may print a message twice (its content and as JSON).
const PER_MESSAGE = { steps: 500, ms: 1 };

// Where control texts stand in for the messages while they render: private-use characters that no
// input holds. A template cannot make one otherwise (Jinja has no chr(), case mapping never gives
// one, and, being in the BMP, none is made of surrogate halves cut from other characters).
const PRIVATE_FIRST = 0xe000;
const PRIVATE_LAST = 0xf8ff;

function maskControlTexts(msgs, controlTexts, others) {
  // the tokenizer matches a control piece's '▁' against a space
  const escape = (t) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/▁/g, '[ ▁]');
  const byLength = [...new Set(controlTexts)].sort((a, b) => b.length - a.length);
  const re = new RegExp(byLength.map(escape).join('|'), 'g');
  const strings = msgs.flatMap((m) => [m.role, m.content]);
  if (byLength.length === 0 || !strings.some((s) => s.search(re) >= 0)) return null;
  const used = new Set();
  for (const s of [...strings, ...others, ...controlTexts])
    for (const c of s) if (c >= '\ue000' && c <= '\uf8ff') used.add(c);
  let next = PRIVATE_FIRST;
  const marks = new Map(); // placeholder → control text
  const placeholders = new Map(); // control text → placeholder
  const mark = (text) => {
    let p = placeholders.get(text);
    if (!p) {
      while (next <= PRIVATE_LAST && used.has(String.fromCharCode(next))) next++;
      if (next > PRIVATE_LAST)
        throw argError('the messages hold every private-use character: cannot tell their control texts apart');
      p = String.fromCharCode(next++);
      placeholders.set(text, p);
      marks.set(p, text);
    }
    return p;
  };
  const masked = msgs.map((m) => ({ role: m.role.replace(re, mark), content: m.content.replace(re, mark) }));
  return { masked, marks };
}

function renderError(e) {
  if (e instanceof TemplateRaised)
    return new NtkError(`chat template: the template refuses these messages: ${e.message}`, 'ARG', { cause: e });
  if (e instanceof TemplateBudget)
    return new NtkError(`chat template: ran past its budget of ${e.message}`, 'FORMAT', { cause: e });
  return new NtkError(`chat template: cannot render: ${e?.message ?? e}`, 'FORMAT', { cause: e });
}

/**
 * Render a conversation with a chat template, telling where control-token text came from the
 * messages. options: renderChat's, and
 *   controlTexts: the texts the tokenizer reads as control tokens ('<|im_start|>', ...)
 * Returns { text, plain }: text as renderChat's (but for what a template does with a message's
 * control text, see below), plain the [start, end) ranges of text (UTF-16 offsets) where such a
 * text came from a message's role or content, not from the template: to be read as plain text.
 * The template sees each such text in a message as one private-use character, which is put back
 * after the render: a template that looks for control text in a message does not find it.
 */
export async function renderChatParts(messages, options = {}) {
  const msgs = checkMessages(messages);
  const { template, bosToken, eosToken, addGenerationPrompt, limits, controlTexts } = checkOptions(options);
  const source = typeof template === 'string' && template.trim() !== '' ? template : INTERNLM2_TEMPLATE;
  if (source.length > limits.source)
    throw new NtkError(
      `chat template: ran past its budget of ${limits.source} characters of template (it has ${source.length})`,
      'FORMAT',
    );
  const masking = maskControlTexts(msgs, controlTexts, [source, bosToken, eosToken]);
  const jinja = await loadJinja();
  const program = parseTemplate(jinja, source).parsed;
  // a long conversation is the caller's doing, not the template's: the limits grow with it
  const inputChars = msgs.reduce((n, m) => n + m.role.length + m.content.length, 0);
  const n = msgs.length;
  const bounds = {
    steps: limits.steps + PER_MESSAGE.steps * n,
    ms: limits.ms + PER_MESSAGE.ms * n,
    chars: limits.chars + 2 * inputChars,
    items: limits.items + n,
    source: limits.source,
  };
  const env = environment(
    jinja,
    {
      messages: masking?.masked ?? msgs,
      bos_token: bosToken,
      eos_token: eosToken,
      add_generation_prompt: addGenerationPrompt,
    },
    bounds,
  );
  let text;
  try {
    text = runLimited(jinja, program, env, bounds).text;
  } catch (e) {
    throw renderError(e);
  }
  if (!masking) return { text, plain: [] };
  const plain = [];
  let out = '';
  let last = 0;
  for (let i = 0; i < text.length; i++) {
    const original = masking.marks.get(text[i]);
    if (original === undefined) continue;
    out += text.slice(last, i);
    plain.push([out.length, out.length + original.length]);
    out += original;
    last = i + 1;
  }
  return { text: out + text.slice(last), plain };
}

/**
 * Render a conversation with a chat template.
 *   messages: [{ role, content }, ...] (strings; only role and content reach the template)
 *   template: the model's tokenizer.chat_template; absent, null or blank: INTERNLM2_TEMPLATE
 *   bosToken, eosToken: the text of the model's BOS and EOS tokens (default '')
 *   addGenerationPrompt: end with the header of the assistant's turn (default true)
 *   limits: { steps, ms, chars, items, source }, any of them: RENDER_LIMITS otherwise; the first
 *     four grow with the conversation (per message 500 steps, 1 ms, twice its characters, 1 item)
 * Returns the prompt text. Special-token text in it (e.g. '<s>', '<|im_start|>') is meant to be
 * tokenized as the special tokens themselves, and it already holds BOS if the template puts it there.
 */
export async function renderChat(messages, options = {}) {
  return (await renderChatParts(messages, options)).text;
}
