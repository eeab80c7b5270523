// chat.mjs — turn a conversation into the prompt text a chat model was trained on, by rendering the
// model's own `tokenizer.chat_template` (a Jinja template stored in the GGUF) the way transformers'
// apply_chat_template does: the variables messages, bos_token, eos_token, add_generation_prompt and
// the function raise_exception, with trim_blocks and lstrip_blocks on.
//
// The Jinja implementation is @huggingface/jinja, loaded on first use so that an engine that never
// chats never loads it. A model without a template is rendered with InternLM2's (INTERNLM2_TEMPLATE)
// through the same path, so there is one way of rendering.
//
// Errors are NtkErrors: ARG for bad messages or options, and for a conversation that the template
// itself refuses (raise_exception, e.g. Llama-2's "roles must alternate"); FORMAT for a template that
// does not parse or fails while rendering; UNSUPPORTED when @huggingface/jinja is not installed.

import { NtkError } from './errors.mjs';

/**
 * InternLM2's chat template, as the chat_template of internlm2-chat-7b's tokenizer_config.json
 * (the same text llama.cpp's converter copies into a GGUF as tokenizer.chat_template). The '\n'
 * inside the Jinja string literals are real newline characters, as they are after JSON decoding.
 */
export const INTERNLM2_TEMPLATE =
  "{{ bos_token }}{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

const OPTIONS = ['template', 'bosToken', 'eosToken', 'addGenerationPrompt'];
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

// Python's range() over integers.
function range(start, stop, step = 1) {
  if (stop === undefined) [start, stop] = [0, start];
  if (![start, stop, step].every(Number.isInteger)) throw new Error('range() arguments must be integers');
  if (step === 0) throw new Error('range() step must not be zero');
  const out = [];
  for (let i = start; step > 0 ? i < stop : i > stop; i += step) out.push(i);
  return out;
}

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
function environment(jinja, vars) {
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
    range,
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
  const { template, bosToken = '', eosToken = '', addGenerationPrompt = true } = options;
  if (template !== undefined && template !== null && typeof template !== 'string')
    throw argError(`template must be a string, got ${typeof template}`);
  if (typeof bosToken !== 'string') throw argError(`bosToken must be a string, got ${typeof bosToken}`);
  if (typeof eosToken !== 'string') throw argError(`eosToken must be a string, got ${typeof eosToken}`);
  if (typeof addGenerationPrompt !== 'boolean')
    throw argError(`addGenerationPrompt must be true or false, got ${addGenerationPrompt}`);
  return { template, bosToken, eosToken, addGenerationPrompt };
}

/**
 * Render a conversation with a chat template.
 *   messages: [{ role, content }, ...] (strings; only role and content reach the template)
 *   template: the model's tokenizer.chat_template; absent, null or blank: INTERNLM2_TEMPLATE
 *   bosToken, eosToken: the text of the model's BOS and EOS tokens (default '')
 *   addGenerationPrompt: end with the header of the assistant's turn (default true)
 * Returns the prompt text. Special-token text in it (e.g. '<s>', '<|im_start|>') is meant to be
 * tokenized as the special tokens themselves, and it already holds BOS if the template puts it there.
 */
export async function renderChat(messages, options = {}) {
  const msgs = checkMessages(messages);
  const { template, bosToken, eosToken, addGenerationPrompt } = checkOptions(options);
  const source = typeof template === 'string' && template.trim() !== '' ? template : INTERNLM2_TEMPLATE;
  const jinja = await loadJinja();
  const program = parseTemplate(jinja, source).parsed;
  const env = environment(jinja, {
    messages: msgs,
    bos_token: bosToken,
    eos_token: eosToken,
    add_generation_prompt: addGenerationPrompt,
  });
  try {
    return String(new jinja.Interpreter(env).run(program).value);
  } catch (e) {
    if (e instanceof TemplateRaised)
      throw new NtkError(`chat template: the template refuses these messages: ${e.message}`, 'ARG', { cause: e });
    throw new NtkError(`chat template: cannot render: ${e?.message ?? e}`, 'FORMAT', { cause: e });
  }
}
