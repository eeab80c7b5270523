// app.mjs — the demo page: one WorkerEngine (the engine in a Web Worker, so the page never
// freezes), loaded from the bundled model, a URL or a file; chat or completion with streaming
// tokens; the Long document mode with the passkey preset; the live context panel.
//
// body[data-state] is 'loading', 'generating', 'preparing', 'comparing' or 'idle', and
// body[data-model] says whether a model is ready: the controls follow them, and so can a test.
import { WorkerEngine } from '../wasm/worker-engine.mjs';
import { BaseChart } from './chart.mjs';
import { samplingOptions, setSampling, loadOptions, LOAD_FIELDS } from './settings.mjs';
import { passkeyDocument, QUESTION } from './passkey.mjs';
import { megabytes, bytes, perSecond, rate, baseText, describeError } from './format.mjs';

const BUNDLED = new URL('../models/kjv-tiny-q8_0.gguf', import.meta.url).href;
const $ = (id) => document.getElementById(id);
const chart = new BaseChart($('chart'));

let engine = null; // the loaded WorkerEngine
let info = null; // its info()
let source = null; // what it was loaded from: reloaded when the RoPE settings change
let loading = null; // the AbortController of the load in progress
let generation = null; // the AbortController of the generation in progress
let task = null; // 'preparing' (a passkey document) or 'comparing' (RoPE modes), if one runs
let comparing = null; // the AbortController of a comparison
let messages = []; // the conversation, in chat format

// ---- page state ----

// The controls follow what is going on; called whenever that changes.
function refresh() {
  const state = loading ? 'loading' : generation ? 'generating' : (task ?? 'idle');
  document.body.dataset.state = state;
  document.body.dataset.model = engine ? 'ready' : 'none';
  const busy = state !== 'idle';
  for (const id of ['send', 'ask', 'compare', 'clear', 'passkey-make']) $(id).disabled = busy || !engine;
  for (const id of ['stop', 'stop-doc']) $(id).disabled = state !== 'generating';
  for (const id of LOAD_FIELDS) $(id).disabled = busy;
}

function status(text) {
  $('status').textContent = text;
}

function showError(e) {
  const { title, detail } = describeError(e);
  $('error-text').replaceChildren(Object.assign(document.createElement('strong'), { textContent: title }), ' ', detail);
  $('error').hidden = false;
  status(title);
}

$('error-close').addEventListener('click', () => ($('error').hidden = true));

// ---- loading ----

function showProgress({ loaded, total, phase }, t0) {
  const secs = (performance.now() - t0) / 1000;
  const speed = secs > 0 ? `${megabytes(loaded / secs)}/s` : '';
  $('progress').value = total ? loaded / total : 0;
  if (!total) $('progress').removeAttribute('value'); // indeterminate when the size is unknown
  $('progress-text').textContent = `${megabytes(loaded)}${total ? ` / ${megabytes(total)}` : ''} · ${speed} · ${phase}`;
}

/**
 * Load a model (a URL string or a File); the current one stays until the new one is ready.
 * Returns whether the new one is loaded.
 */
async function load(src, label) {
  loading?.abort();
  generation?.abort();
  const ctl = (loading = new AbortController());
  $('error').hidden = true;
  $('progress-box').hidden = false;
  $('progress-label').textContent = `Loading ${label}`;
  $('progress').value = 0;
  $('progress-text').textContent = '';
  refresh();
  status(`Loading ${label}…`);
  const t0 = performance.now();
  try {
    const next = await WorkerEngine.load(src, {
      ...loadOptions(),
      signal: ctl.signal,
      onProgress: (p) => showProgress(p, t0),
    });
    const old = engine;
    engine = next;
    source = { src, label };
    await old?.dispose();
    await ready(label, performance.now() - t0);
    return true;
  } catch (e) {
    if (loading !== ctl) return false; // another load took its place: that one speaks now
    if (e?.name === 'AbortError')
      status(`Loading ${label} cancelled.${engine ? ' The previous model is still loaded.' : ''}`);
    else showError(e);
    return false;
  } finally {
    if (loading === ctl) {
      loading = null;
      $('progress-box').hidden = true;
      refresh();
    }
  }
}

async function ready(label, ms) {
  info = await engine.info();
  const meta = (await engine.metadata({ maxArrayItems: 0 })).metadata;
  const { rope } = info;
  const types = Object.entries(info.tensorTypes)
    .sort((a, b) => b[1] - a[1])
    .map(([t]) => t)
    .join('/');
  $('model-name').textContent =
    `${label}: ${info.name || info.architecture}, ${info.nLayers} layers × ${info.dim}, ${types}, ${megabytes(info.tensorBytes)} (loaded in ${(ms / 1000).toFixed(1)} s)`;
  // a chat model answers turns, a base model continues text. A template alone does not tell them
  // apart (llama.cpp's converter copies it into base models too, as in kjv-tiny): the name does.
  const chatModel =
    meta['tokenizer.chat_template'] && /chat|instruct/i.test(`${meta['general.name']} ${meta['general.finetune']}`);
  $('format').value = chatModel ? 'chat' : 'completion';
  showFormat();
  for (const e of document.querySelectorAll('.trained')) e.textContent = rope.trainedCtx;
  $('trained').textContent = rope.trainedCtx;
  $('rope-desc').textContent =
    `${rope.mode}${rope.mode === 'none' ? '' : `, factor ${rope.factor}`} (${rope.modeSource === rope.factorSource ? rope.modeSource : `${rope.modeSource}/${rope.factorSource}`})`;
  const threads = info.threads ?? 1;
  // threads need a cross-origin isolated page (COOP/COEP headers) and thread workers that start
  const why = !crossOriginIsolated
    ? ' · not cross-origin isolated (served without COOP/COEP), so one thread'
    : threads < loadOptions().threads
      ? ' · isolated, but the thread workers did not start'
      : ' · isolated';
  $('engine-desc').textContent =
    `${info.relaxedSimd ? 'SIMD128 + relaxed SIMD' : info.simd ? 'SIMD128' : 'scalar'} · ${threads} thread${threads > 1 ? 's' : ''}${why}`;
  chart.setModel({
    theta: rope.theta,
    factor: rope.factor,
    trainedCtx: rope.trainedCtx,
    headDim: info.headDim,
    mode: rope.mode,
  });
  engine.on('scale', (e) => {
    chart.add(e);
    $('base').textContent = baseText(e.base);
  });
  $('base').textContent = baseText(rope.theta);
  clearConversation();
  showContext();
  status(`Ready: ${label}.`);
}

$('load-bundled').addEventListener('click', () => load(BUNDLED, 'kjv-tiny-q8_0.gguf (bundled)'));
$('url-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const url = $('url').value.trim();
  if (url) load(new URL(url, document.baseURI).href, url.split('/').pop() || url);
});
$('file').addEventListener('change', () => {
  const file = $('file').files[0];
  if (file) load(file, file.name);
  $('file').value = ''; // the same file can be picked again
});
$('cancel-load').addEventListener('click', () => loading?.abort());
for (const id of LOAD_FIELDS) $(id).addEventListener('change', () => source && load(source.src, source.label));

// The worker died (it ran out of memory mid-call, say): its engine answers nothing any more.
function lost() {
  engine = null;
  source = null;
  $('model-name').textContent = 'No model loaded: the engine stopped.';
}

// ---- the live panel ----

function showContext() {
  if (!engine) return;
  const n = engine.nCtx,
    trained = info.rope.trainedCtx;
  $('n-ctx').textContent = n;
  chart.setContext(n);
  $('ctx-bar').style.width = `${Math.min(100, (n / (2 * trained)) * 100)}%`;
  $('ctx-bar').classList.toggle('past', n > trained);
  $('kv').textContent = `${bytes(n * info.kvBytesPerToken)} (${info.kvType})`;
  $('memory').textContent = bytes(engine.memoryBytes);
}

// ---- generating ----

/**
 * Stream one generation into `out` (an element); the context panel follows every token.
 * run(options) returns the engine's iterator. Returns the text, or null if it failed.
 */
async function stream(run, out) {
  const ctl = (generation = new AbortController());
  $('error').hidden = true;
  refresh();
  status('Generating…');
  out.classList.add('streaming');
  const before = engine.nCtx,
    t0 = performance.now();
  const box = out.closest('.transcript');
  let text = '',
    first = null,
    tFirst = 0,
    count = 0;
  try {
    for await (const item of run({ ...samplingOptions(), signal: ctl.signal })) {
      if (!first) [first, tFirst] = [item, performance.now()];
      count++;
      text += item.text;
      out.textContent = text;
      if (box) box.scrollTop = box.scrollHeight; // the transcript follows the text as it grows
      showContext();
    }
    const tEnd = performance.now();
    if (first) {
      const prefilled = Math.max(1, first.nCtx - before);
      $('prefill').textContent = `${rate(prefilled, tFirst - t0)} · ${prefilled} tokens`;
      if (count > 1) $('decode').textContent = `${rate(count - 1, tEnd - tFirst)} · ${count - 1} tokens`;
    }
    status(
      `${ctl.signal.aborted ? 'Stopped' : 'Done'}: ${count} tokens${count > 1 ? `, ${perSecond(count - 1, tEnd - tFirst).toFixed(1)} tok/s` : ''}.`,
    );
    return text;
  } catch (e) {
    showError(e);
    if (e?.code === 'RUNTIME') lost();
    return null;
  } finally {
    out.classList.remove('streaming');
    generation = null;
    showContext();
    refresh();
  }
}

function turn(role, text) {
  const div = document.createElement('div');
  div.className = `turn ${role}`;
  div.dataset.role = role;
  div.textContent = text;
  $('transcript').append(div);
  return div;
}

function clearConversation() {
  messages = [];
  $('transcript').replaceChildren();
}

$('chat-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const prompt = $('prompt').value;
  if (!engine || !prompt.trim() || generation) return;
  const chat = $('format').value === 'chat';
  if (!chat) {
    // completion: the prompt and its continuation, each time from an empty context
    clearConversation();
    await engine.reset();
  }
  turn('user', prompt);
  const out = turn('assistant', '');
  out.setAttribute('aria-busy', 'true');
  $('prompt').value = '';
  const pending = [...messages, { role: 'user', content: prompt }];
  const text = await stream((opts) => (chat ? engine.chat(pending, opts) : engine.generate(prompt, opts)), out);
  out.removeAttribute('aria-busy');
  if (chat && text !== null) messages = [...pending, { role: 'assistant', content: text }];
});

$('prompt').addEventListener('keydown', (ev) => {
  if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) $('chat-form').requestSubmit();
});

function showFormat() {
  const chat = $('format').value === 'chat';
  $('send').textContent = chat ? 'Send' : 'Generate';
  $('prompt').placeholder = chat ? 'Ask something' : 'And it came to pass';
}

async function clearContext(why) {
  clearConversation();
  await engine?.reset();
  showContext();
  status(why);
}

$('clear').addEventListener('click', () => clearContext('Context cleared.'));
// a completion's transcript is not a conversation to continue, nor the other way round
$('format').addEventListener('change', () => {
  showFormat();
  clearContext(`Context cleared: ${$('format').selectedOptions[0].text} from here.`);
});

function stop() {
  comparing?.abort();
  generation?.abort();
}
for (const id of ['stop', 'stop-doc']) $(id).addEventListener('click', stop);
document.addEventListener('keydown', (ev) => ev.key === 'Escape' && generation && stop());

// ---- Long document ----

for (const radio of document.querySelectorAll('input[name="mode"]'))
  radio.addEventListener('change', () => {
    if (!radio.checked) return;
    $('chat-pane').hidden = radio.value !== 'chat';
    $('document-pane').hidden = radio.value !== 'document';
  });

function showMode(mode) {
  document.querySelector(`input[name="mode"][value="${mode}"]`).click();
}

const documentPrompt = () => `${$('document').value.trimEnd()}\n${$('question').value.trim()}`;

let counting = 0;
async function countDocument() {
  const mine = ++counting;
  if (!engine || !$('document').value) return void ($('doc-count').textContent = '');
  const n = (await engine.tokenize(documentPrompt())).length;
  if (mine !== counting) return;
  const trained = info.rope.trainedCtx;
  $('doc-count').textContent =
    `${n} tokens with the question: ${n > trained ? `${(n / trained).toFixed(1)}× the trained length` : 'within the trained length'}`;
}

let countTimer = 0;
for (const id of ['document', 'question'])
  $(id).addEventListener('input', () => {
    delete $('document').dataset.key; // an edited document is no longer the preset
    clearTimeout(countTimer);
    countTimer = setTimeout(countDocument, 300);
  });

$('passkey-len').addEventListener('input', () => ($('passkey-len-out').value = $('passkey-len').value));

$('passkey-make').addEventListener('click', async () => {
  task = 'preparing';
  refresh();
  try {
    const { text, key } = await passkeyDocument(engine, Number($('passkey-len').value), {
      reach: info.rope.trainedCtx,
    });
    $('document').value = text;
    $('document').dataset.key = key;
    $('question').value = QUESTION;
    $('answer').replaceChildren();
    // retrieval is judged on the greedy answer, as EVAL.md does
    setSampling({ temperature: 0, maxTokens: 6 });
    status('A pass key is hidden in the document; sampling set to greedy, 6 tokens. Ask, or compare the RoPE modes.');
    await countDocument();
  } catch (e) {
    showError(e);
  } finally {
    task = null;
    refresh();
  }
});

/**
 * Ask the document's question from an empty context, the answer streaming into `out`. Returns
 * { text, key, found }: text null if it failed; found whether the answer starts with the
 * preset's pass key (undefined for a document of one's own).
 */
async function ask(out) {
  const key = $('document').dataset.key;
  const chat = $('format').value === 'chat';
  const prompt = documentPrompt();
  await engine.reset();
  const text = await stream(
    (opts) => (chat ? engine.chat([{ role: 'user', content: prompt }], opts) : engine.generate(prompt, opts)),
    out,
  );
  return { text, key, found: key && text !== null ? text.trim().startsWith(key) : undefined };
}

function verdict(el, { key, found }) {
  if (found === undefined) return;
  el.className = found ? 'ok' : 'bad';
  el.textContent = `${found ? '✓ Found' : '✗ Missed'} the pass key ${key} at ${engine.nCtx} tokens with RoPE ${info.rope.mode}.`;
}

$('doc-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  if (!engine || generation || !$('document').value.trim()) return;
  const out = Object.assign(document.createElement('p'), { className: 'answer-text' });
  const line = document.createElement('p');
  $('answer').replaceChildren(out, line);
  verdict(line, await ask(out));
});

// The same question under each RoPE mode, the model reloaded for each (the mode is a load
// option). Dynamic NTK last, so the chart ends showing its base.
$('compare').addEventListener('click', async () => {
  if (!source || !$('document').value.trim()) return;
  const ctl = (comparing = new AbortController());
  task = 'comparing';
  const table = document.createElement('table');
  table.className = 'compare';
  const key = $('document').dataset.key;
  table.createCaption().textContent = `The same question with each RoPE mode${key ? ` (the pass key is ${key})` : ''}`;
  const head = table.createTHead().insertRow();
  for (const h of ['RoPE', 'base at the end', 'answer', ''])
    head.append(Object.assign(document.createElement('th'), { textContent: h, scope: 'col' }));
  const body = table.createTBody();
  $('answer').replaceChildren(table);
  try {
    for (const mode of ['none', 'cached', 'consistent']) {
      $('rope-mode').value = mode;
      if (ctl.signal.aborted || !(await load(source.src, source.label)) || ctl.signal.aborted) break;
      const row = body.insertRow();
      row.insertCell().textContent = mode;
      const base = row.insertCell();
      const out = row.insertCell();
      const mark = row.insertCell();
      const result = await ask(out);
      if (result.text === null) break;
      base.textContent = `${baseText(engine.base)} (${engine.nCtx} tokens)`;
      if (result.found !== undefined) [mark.textContent, mark.className] = result.found ? ['✓', 'ok'] : ['✗', 'bad'];
    }
  } finally {
    comparing = null;
    task = null;
    refresh();
  }
});

// ---- drag and drop: a .gguf loads, a text becomes the document ----

const isModel = (file) =>
  /\.gguf$/i.test(file.name) || !(file.type.startsWith('text/') || /\.(txt|md)$/i.test(file.name));
let dragDepth = 0;
document.addEventListener('dragenter', (ev) => {
  if (!ev.dataTransfer?.types.includes('Files')) return;
  dragDepth++;
  $('drop-overlay').hidden = false;
});
document.addEventListener('dragleave', () => {
  if (--dragDepth <= 0) [dragDepth, $('drop-overlay').hidden] = [0, true];
});
document.addEventListener('dragover', (ev) => ev.preventDefault());
document.addEventListener('drop', async (ev) => {
  ev.preventDefault();
  [dragDepth, $('drop-overlay').hidden] = [0, true];
  const file = ev.dataTransfer?.files[0];
  if (!file) return;
  if (isModel(file)) return load(file, file.name);
  showMode('document');
  $('document').value = await file.text();
  delete $('document').dataset.key;
  countDocument();
});

// ---- start: the bundled model, unless the address says ?autoload=0 ----

refresh();
if (new URLSearchParams(location.search).get('autoload') === '0') status('Pick a model to start.');
else $('load-bundled').click();
