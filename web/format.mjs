// format.mjs — numbers and errors as the page shows them.

const MB = 1e6;

export const megabytes = (n) => `${(n / MB).toFixed(n < 10 * MB ? 1 : 0)} MB`;

export function bytes(n) {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} GB`;
  if (n >= MB) return megabytes(n);
  return n >= 1e3 ? `${Math.round(n / 1e3)} kB` : `${n} B`;
}

export const perSecond = (count, ms) => (ms > 0 ? (count * 1000) / ms : 0);

export const rate = (tokens, ms) => `${perSecond(tokens, ms).toFixed(1)} tok/s`;

export const baseText = (b) => (b >= 1e5 ? b.toExponential(3) : b.toFixed(b % 1 ? 1 : 0));

// What a person can do about each kind of failure (the engine's NtkError codes).
const HINTS = {
  TRUNCATED: 'The file ended early: is the download complete?',
  FORMAT: 'This is not a GGUF model the engine can read.',
  UNSUPPORTED: 'The engine cannot run this model (architecture or tensor type).',
  NOMEM: 'Out of memory: a WebAssembly instance holds at most 4 GB. Try a smaller or more quantized model.',
  CONTEXT_FULL: 'The context is full. Clear it (or shorten the document) and go on.',
  IO: 'The model could not be read: check the URL, or that the server allows this page to fetch it (CORS, CORP).',
  ARG: 'A setting is out of range.',
  RUNTIME: 'The engine stopped; load a model again.',
};

/** { title, detail } of an error for the alert box. */
export function describeError(e) {
  const code = e?.code;
  return {
    title: HINTS[code] ?? 'Something went wrong.',
    detail: `${code ? `${code}: ` : ''}${e?.message ?? e}`,
  };
}
