// loader.mjs — every kind of model source, read as bytes into views the engine hands out.
//
// A reader is { total, name, fromCache, read(view) -> bytes written (0 at the end), close() }:
// the engine passes a view on its load window, so a file (Node) is read straight into WebAssembly
// memory and a stream is copied there chunk by chunk; nothing keeps the whole file in JS.
// Split models (llama.cpp's gguf-split, NAME-00001-of-0000N.gguf) are a list of such sources.
import { NtkError } from './errors.mjs';
import { openFile } from './platform.mjs';

const isNode = typeof process === 'object' && !!process.versions?.node;
const SPLIT_NAME = /^(.*)-(\d{5})-of-(\d{5})\.gguf$/;
const CACHE_NAME = 'ntk-wasm-models';

const ioError = (msg) => new NtkError(msg, 'IO');

/** Where part i (0-based) of a split model is, given part 1's path or URL; null if not split-named. */
export function splitPartName(first, i) {
  const s = String(first),
    q = s.search(/[?#]/),
    base = q < 0 ? s : s.slice(0, q),
    rest = q < 0 ? '' : s.slice(q);
  const m = SPLIT_NAME.exec(base);
  if (!m) return null;
  const pad = (n) => String(n).padStart(5, '0');
  return `${m[1]}-${pad(i + 1)}-of-${m[3]}.gguf${rest}`;
}

function isUrlString(s) {
  return /^(https?|blob|data|file):/i.test(s) || !isNode;
}

/**
 * Open one source; options: { signal, cache } (cache: false bypasses the browser Cache API,
 * 'reload' skips the cached copy but stores the new one). close(loaded) ends the read; a source
 * that did not load (loaded = false) is not left in the cache.
 */
export async function openSource(source, { signal, cache = true } = {}) {
  if (typeof source === 'string' && !isUrlString(source)) return openFile(source);
  if (isNode && (source instanceof URL || typeof source === 'string') && /^file:/i.test(String(source)))
    return openFile(new URL(source));
  if (typeof source === 'string' || source instanceof URL) return openUrl(String(source), { signal, cache });
  if (typeof Response !== 'undefined' && source instanceof Response)
    return responseReader(source, source.url || 'response');
  if (typeof Blob !== 'undefined' && source instanceof Blob)
    return streamReader(source.stream(), { total: source.size, name: source.name ?? 'blob' });
  if (typeof ReadableStream !== 'undefined' && source instanceof ReadableStream)
    return streamReader(source, { name: 'stream' });
  if (source instanceof ArrayBuffer) source = new Uint8Array(source);
  if (ArrayBuffer.isView(source))
    return bytesReader(new Uint8Array(source.buffer, source.byteOffset, source.byteLength));
  if (source && typeof source[Symbol.asyncIterator] === 'function') return iterableReader(source);
  throw new NtkError(
    'model source must be a path, URL, Response, ReadableStream, Blob, bytes or an async iterable of bytes',
    'ARG',
  );
}

async function fetchOk(url, signal) {
  let res;
  try {
    res = await fetch(url, { signal });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw ioError(`cannot fetch ${url}: ${e.cause?.message ?? e.message}`);
  }
  if (!res.ok) throw ioError(`HTTP ${res.status}${res.statusText ? ' ' + res.statusText : ''} for ${url}`);
  return res;
}

// Browser: a model fetched once is kept in the Cache API; the next load reads no network. An
// entry whose length is not the one recorded when it was stored is dropped and refetched; a
// file that does not load is not kept (close(false)); cache 'reload' refetches and stores anew
// (the engine's retry after a cached copy failed to parse).
async function openUrl(url, { signal, cache }) {
  const store = cache && typeof caches !== 'undefined' ? await caches.open(CACHE_NAME).catch(() => null) : null;
  if (store && cache !== 'reload') {
    const hit = await store.match(url);
    if (hit) {
      const blob = await hit.blob();
      if (String(blob.size) === hit.headers.get('x-ntk-length'))
        return { ...streamReader(blob.stream(), { total: blob.size, name: url }), fromCache: true };
      await store.delete(url);
    }
  }
  const res = await fetchOk(url, signal);
  const length = res.headers.get('content-length');
  if (store && res.body && length !== null && !res.headers.get('content-encoding')) {
    const [mine, theirs] = res.body.tee();
    const stored = store
      .put(
        url,
        new Response(theirs, { headers: { 'content-type': 'application/octet-stream', 'x-ntk-length': length } }),
      )
      .catch(() => store.delete(url).catch(() => {}));
    // a model read to its end is in the cache when close() returns: a worker ended right after
    // the load (WorkerEngine.dispose) would otherwise take the unfinished put with it
    const reader = streamReader(mine, { total: Number(length), name: url });
    let ended = false;
    return {
      ...reader,
      async read(view) {
        const n = await reader.read(view);
        if (n === 0 && view.length > 0) ended = true;
        return n;
      },
      async close(loaded = true) {
        await reader.close();
        if (ended) await stored;
        if (!loaded) await store.delete(url).catch(() => {});
      },
    };
  }
  return responseReader(res, url);
}

/** Drop a cached copy of url (it did not load). */
export async function forgetCached(url) {
  if (typeof caches === 'undefined') return;
  const store = await caches.open(CACHE_NAME).catch(() => null);
  await store?.delete(String(url));
}

function responseReader(res, name) {
  if (!res.body) throw ioError(`${name}: the response has no body`);
  const length = res.headers.get('content-length');
  return streamReader(res.body, {
    total: length === null || res.headers.get('content-encoding') ? undefined : Number(length),
    name,
  });
}

function bytesReader(bytes) {
  let pos = 0;
  return {
    total: bytes.length,
    name: 'bytes',
    fromCache: false,
    async read(view) {
      const n = Math.min(view.length, bytes.length - pos);
      view.set(bytes.subarray(pos, pos + n));
      pos += n;
      return n;
    },
    close: async () => {},
  };
}

// Chunks of any size from an iterator of Uint8Array, handed out in views of the engine's size.
function chunkReader(next, cancel, { total, name }) {
  let chunk = new Uint8Array(0),
    off = 0,
    done = false;
  return {
    total,
    name,
    fromCache: false,
    async read(view) {
      while (off === chunk.length && !done) {
        const r = await next();
        if (r.done) done = true;
        else if (!(r.value instanceof Uint8Array)) throw new NtkError(`${name}: chunks must be Uint8Array`, 'ARG');
        else [chunk, off] = [r.value, 0];
      }
      const n = Math.min(view.length, chunk.length - off);
      view.set(chunk.subarray(off, off + n));
      off += n;
      return n;
    },
    close: async () => {
      if (!done) await cancel();
    },
  };
}

function streamReader(stream, meta) {
  const reader = stream.getReader();
  return chunkReader(
    () =>
      reader.read().catch((e) => {
        if (e?.name === 'AbortError') throw e;
        throw ioError(
          `${meta.name}: read failed: ${e?.message ?? e}${e?.cause?.message ? ` (${e.cause.message})` : ''}`,
        );
      }),
    () => reader.cancel().catch(() => {}),
    meta,
  );
}

function iterableReader(iterable) {
  const it = iterable[Symbol.asyncIterator]();
  return chunkReader(
    () => it.next(),
    async () => {
      await it.return?.();
    },
    { name: 'iterable' },
  );
}
