// Type-checked (not run) by tests/package.test.mjs against the installed package's declarations:
// `tsc --noEmit --strict` in a fresh project that installed the npm tarball. Every piece of the
// public API is used here as a user would.
import {
  Engine,
  NtkError,
  checkGenerateOptions,
  checkChatOptions,
  type ChatOptions,
  type ResolvedChatOptions,
  checkLoadOptions,
  type ChatMessage,
  type GenerateItem,
  type GenerateOptions,
  type LoadOptions,
  type LoadProgress,
  type Metadata,
  type MetadataValue,
  type ModelInfo,
  type ModelSource,
  type NtkErrorCode,
  type ResolvedGenerateOptions,
  type ResolvedLoadOptions,
  type RopeMode,
  type ScaleEvent,
} from 'ntk-wasm';
import type { WorkerEngine as WorkerEngineType } from 'ntk-wasm';
import { WorkerEngine, NtkError as WorkerNtkError } from 'ntk-wasm/worker';
import type { GenerateItem as ItemFromWorkerPath } from 'ntk-wasm/worker';
import pkg from 'ntk-wasm/package.json' with { type: 'json' };
import { bundledModelUrl } from 'ntk-wasm/models';

const pkgName: string = pkg.name;

const controller = new AbortController();
const progress: LoadProgress[] = [];
const loadOptions: LoadOptions = {
  ropeMode: 'cached',
  ropeFactor: 2,
  trainedCtx: 512,
  kvType: 'f32',
  threads: 2,
  build: 'simd',
  chunkSize: 1 << 16,
  onProgress: (p) => {
    const phase: 'header' | 'tensors' | 'ready' = p.phase;
    const total: number | undefined = p.total;
    progress.push({ loaded: p.loaded, total, phase, part: p.part, parts: p.parts });
  },
  signal: controller.signal,
  cache: false,
};
const resolvedLoad: ResolvedLoadOptions = checkLoadOptions(loadOptions);
const chunk: number = resolvedLoad.chunkSize;
checkLoadOptions();

// every kind of source
const bytes = new Uint8Array(16);
async function* chunks(): AsyncGenerator<Uint8Array> {
  yield bytes;
}
const sources: ModelSource[] = [
  'models/kjv-tiny-q8_0.gguf',
  new URL('https://example.com/model.gguf'),
  new Response(bytes),
  new Blob([bytes]),
  new Blob([bytes]).stream(),
  bytes.buffer,
  bytes,
  new DataView(bytes.buffer),
  chunks(),
  ['model-00001-of-00002.gguf', 'model-00002-of-00002.gguf'],
  [bytes, new Blob([bytes])],
];

const engine: Engine = await Engine.load(sources[0], loadOptions);
const bundled: Engine = await Engine.load(bundledModelUrl, { threads: 2 });
const bundledUrl: string = bundledModelUrl;
const info: ModelInfo = engine.info();
const arch: 'internlm2' | 'llama' = info.architecture;
const mode: RopeMode = info.rope.mode;
const fromFile: boolean = info.rope.fileFactor && info.rope.modeSource === 'file';
const q8: number | undefined = info.tensorTypes['Q8_0'];
const ids: number[] = [info.bos, info.eos, info.eot];
const shapes: number =
  info.nVocab +
  info.dim +
  info.nLayers +
  info.nHeads +
  info.nKvHeads +
  info.headDim +
  info.ffn +
  info.rmsEps +
  info.contextLength +
  info.nTensors +
  info.tensorBytes +
  info.ggufVersion +
  info.splits;
const simd: boolean = info.simd && info.addBos;
const threads: number = info.threads;

const meta: Metadata = engine.metadata({ maxArrayItems: 4 });
const template: MetadataValue = meta.metadata['tokenizer.chat_template'];
if (typeof template === 'object' && template !== null) console.log(template.array, template.length, template.head[0]);
for (const t of meta.tensors) console.log(t.name, t.type, t.shape.join('x'), t.bytes, t.part);

const unsubscribe: () => void = engine.on('scale', (e: ScaleEvent) => {
  console.log(e.nCtx, e.base, e.factor, e.mode, e.trainedCtx);
});
const listener = (e: ScaleEvent) => console.log(e.base);
engine.on('scale', listener);
engine.off('scale', listener);

const tokens: number[] = engine.tokenize('In the beginning', { bos: false });
const text: string =
  engine.detokenize(tokens) +
  engine.detokenize(new Int32Array(tokens)) +
  engine.detokenize(new Set(tokens)) +
  engine.piece(tokens[0]);
const eog: boolean = engine.isEndOfGeneration(info.eos);
const logits: Float32Array = engine.evaluate(tokens);
const all: Float32Array = engine.evaluate(new Int32Array([1, 2]), { allLogits: true });
const counts: number = engine.nCtx + engine.base + engine.nVocab + engine.memoryBytes + logits.length + all.length;

const generateOptions: GenerateOptions = {
  maxTokens: 16,
  temperature: 0,
  topK: 40,
  topP: 0.95,
  minP: 0.05,
  repeatPenalty: 1.1,
  repeatWindow: 64,
  seed: 1,
  stop: ['\n\n', 'Amen'],
  signal: controller.signal,
};
const resolvedGen: ResolvedGenerateOptions = checkGenerateOptions(generateOptions);
const stops: string[] = resolvedGen.stop;
checkGenerateOptions({ stop: 'Amen' });

let out = '';
for await (const item of engine.generate('And it came to pass', generateOptions)) {
  const t: GenerateItem = item;
  out += t.text;
  console.log(t.id, t.nCtx, t.base);
}
for await (const { text } of engine.generate(tokens, { maxTokens: 2 })) out += text;
const it = engine.generate(new Int32Array(tokens));
const first = await it.next();
if (!first.done) console.log(first.value.id);
await it.return();

const conversation: ChatMessage[] = [
  { role: 'system', content: 'You are a scribe.' },
  { role: 'user', content: 'Who begat Enos?' },
];
for await (const { text } of engine.chat(conversation, { maxTokens: 8, temperature: 0 })) out += text;
const chatOptions: ChatOptions = { maxTokens: 8, parseSpecial: true };
const resolvedChat: ResolvedChatOptions = checkChatOptions(chatOptions);
const plain: number[] = engine.tokenize('<|im_start|>', { bos: false, special: false });
engine.reset();

try {
  await Engine.load('missing.gguf');
} catch (err) {
  if (err instanceof NtkError) {
    const code: NtkErrorCode = err.code;
    switch (code) {
      case 'ARG':
      case 'FORMAT':
      case 'UNSUPPORTED':
      case 'NOMEM':
      case 'STATE':
      case 'TRUNCATED':
      case 'IO':
      case 'RUNTIME':
        console.log(err.name, err.message, code);
    }
  }
}
const mine = new NtkError('made here', 'ARG', { cause: new Error('why') });
engine.dispose();

// the same API in a worker: promises everywhere
const worker: WorkerEngineType = await WorkerEngine.load(bytes.buffer, {
  onProgress: (p) => console.log(p.loaded),
  signal: controller.signal,
});
const winfo: ModelInfo = await worker.info();
const wmeta: Metadata = await worker.metadata();
const wtokens: number[] = await worker.tokenize('In the beginning');
const wtext: string = await worker.detokenize(wtokens);
const wpiece: string = await worker.piece(1);
const weog: boolean = await worker.isEndOfGeneration(2);
const wlogits: Float32Array = await worker.evaluate(wtokens, { allLogits: false });
const wstate: number = worker.nCtx + worker.base + worker.nVocab + worker.memoryBytes;
const off = worker.on('scale', (e) => console.log(e.base, e.mode));
off();
for await (const item of worker.generate('And', { maxTokens: 4, temperature: 0 })) {
  const t: ItemFromWorkerPath = item;
  out += t.text;
}
for await (const { text } of worker.chat(conversation)) out += text;
await worker.reset();
await worker.dispose();
const sameClass: boolean = WorkerNtkError === NtkError;

console.log(
  pkgName,
  chunk,
  arch,
  mode,
  fromFile,
  q8,
  ids,
  shapes,
  simd,
  threads,
  unsubscribe,
  text,
  eog,
  counts,
  stops,
  out,
  mine,
  winfo,
  wmeta,
  wtext,
  wpiece,
  weog,
  wlogits,
  wstate,
  sameClass,
  sources.length,
);
