// protocol.mjs — the verbs WorkerEngine (worker-engine.mjs) sends its worker (worker.mjs), one row
// each. Both sides are made from this table: WorkerEngine gets a method for every verb that is an
// Engine method, and the worker answers each by how the row says it runs, so a new Engine method
// reaches the worker by one row here.
//
// run:
//   'read'    an Engine method that leaves the context alone: answered at once with its result
//   'turn'    an Engine method that touches the context or the detokenizer: run after every call
//             before it that does (a generate/chat holds the turn until it ends); WorkerEngine
//             refuses it while one of its generations is being consumed, as Engine does
//   'stream'  generate/chat [input, options without signal]: items, each one made when `next`
//             asks for it (the request asks for the first), so the context holds what was consumed;
//             check: the options.mjs check of its options, run on the calling side too
//   'control' the worker's own:
//             load [source, options]: options as Engine.load's, except onProgress → progress: true,
//               signal → signal: true (abort it with abort), and jinja: the URL to import
//               @huggingface/jinja from (a page's import map does not reach a worker); a source as
//               Engine.load takes it, or { $url: href } for a URL object, or { $response: { body,
//               headers, url } } for a Response (whose body stream was transferred)
//             next [streamId]: the next item of a generate/chat
//             abort [requestId]: end a generate/chat (now, or at its next token) or a load
//             dispose []: free the engine, answer, end the worker
// transfer: the result is a Float32Array whose buffer is transferred, not copied.
//
// Messages in: { id, verb, args }. Out: { id, result, state } | { id, error: { message, code, name }, state };
// for a stream { id, item, state } ... then { id, done: true, state }; for a load with progress
// { id, progress }; and { event: 'scale', data, state } for Engine's 'scale' events. state is
// { nCtx, base, nVocab, memoryBytes } after the step (null before a model is loaded).
import { checkGenerateOptions, checkChatOptions } from './options.mjs';

export const VERBS = {
  tokenize: { run: 'read' },
  info: { run: 'read' },
  metadata: { run: 'read' },
  piece: { run: 'read' },
  isEndOfGeneration: { run: 'read' },
  detokenize: { run: 'turn' },
  evaluate: { run: 'turn', transfer: true },
  reset: { run: 'turn' },
  generate: { run: 'stream', check: checkGenerateOptions },
  chat: { run: 'stream', check: checkChatOptions },
  load: { run: 'control' },
  next: { run: 'control' },
  abort: { run: 'control' },
  dispose: { run: 'control' },
};

/** The row of a verb, or undefined for a name that is not one (nor an Object.prototype key). */
export const verbOf = (name) => (Object.hasOwn(VERBS, name) ? VERBS[name] : undefined);
