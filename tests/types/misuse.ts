// Misuses the declarations must reject: each line after a @ts-expect-error is a type error, so
// `tsc --noEmit --strict` passes only if every one of them is caught. tests/package.test.mjs also
// compiles this file with the directives removed and expects one error per directive.
import { Engine, NtkError, checkGenerateOptions, checkLoadOptions } from 'ntk-wasm';
import { WorkerEngine } from 'ntk-wasm/worker';
import { bundledModelUrl } from 'ntk-wasm/models';

const engine = await Engine.load('model.gguf');

// @ts-expect-error ropeMode is 'consistent' | 'cached' | 'none'
await Engine.load('model.gguf', { ropeMode: 'dynamic' });
// @ts-expect-error kvType is 'f32', 'f16' or 'q8_0'
checkLoadOptions({ kvType: 'q4_0' });
// @ts-expect-error threads is a number
checkLoadOptions({ threads: '4' });
// @ts-expect-error build is 'simd' | 'scalar'
checkLoadOptions({ build: 'gpu' });
// @ts-expect-error cache is a boolean
checkLoadOptions({ cache: 'no' });
// @ts-expect-error unknown load option
checkLoadOptions({ contextSize: 4096 });
// @ts-expect-error a number is not a model source
await Engine.load(42);
// @ts-expect-error maxTokens is a number
engine.generate('x', { maxTokens: '16' });
// @ts-expect-error stop is a string or strings
engine.generate('x', { stop: [1, 2] });
// @ts-expect-error unknown generate option (llama.cpp's name)
checkGenerateOptions({ nPredict: 16 });
// @ts-expect-error a prompt is a string or token ids
engine.generate({ text: 'x' });
// @ts-expect-error parseSpecial is chat's, not generate's
engine.generate('x', { parseSpecial: true });
// @ts-expect-error parseSpecial is a boolean
engine.chat([{ role: 'user', content: 'x' }], { parseSpecial: 'yes' });
// @ts-expect-error messages have role and content
engine.chat([{ user: 'hello' }]);
// @ts-expect-error the only event is 'scale'
engine.on('token', () => {});
// @ts-expect-error tokenize returns ids, not a string
const s: string = engine.tokenize('x');
// @ts-expect-error nCtx is read-only
engine.nCtx = 0;
// @ts-expect-error not a code
const code: NtkError['code'] = 'EIO';
// @ts-expect-error Engine is made by Engine.load
new Engine();
// @ts-expect-error WorkerEngine.info() returns a promise
const arch: string = (await WorkerEngine.load('model.gguf')).info().architecture;
const worker = await WorkerEngine.load('model.gguf');
// @ts-expect-error WorkerEngine.evaluate returns a promise of the logits
const logits: Float32Array = worker.evaluate([1, 2]);
// @ts-expect-error Engine.info() returns the info itself, not a promise
engine.info().then(() => {});
// @ts-expect-error the ids must cross to the worker: an array or a typed array, not any iterable
await worker.detokenize(new Set([1, 2]));
// @ts-expect-error WorkerEngine's nCtx is read-only too
worker.nCtx = 0;
// @ts-expect-error 'ntk-wasm' itself exports WorkerEngine as a type only
import('ntk-wasm').then((m) => m.WorkerEngine.load('model.gguf'));

console.log(s, code, arch, logits);
// @ts-expect-error bundledModelUrl is a string, not a function
bundledModelUrl();
