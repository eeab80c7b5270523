// limits.mjs — build bench/limits.c with Emscripten (once, into the cache directory) and measure
// memory streaming (GB/s) and the int8 dot product (G multiply-adds/s) on one thread in Node.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { best } from './measure.mjs';

const SOURCE = fileURLToPath(new URL('limits.c', import.meta.url));
const STREAM_BYTES = 256 << 20,
  DOT_LEN = 1 << 20,
  DOT_CALLS = 16;

/** { streamGBps, dotGMACps }, or { error } when emcc is missing or fails. */
export async function measureLimits(cacheDir) {
  const wasm = path.join(cacheDir, 'limits.wasm');
  try {
    mkdirSync(cacheDir, { recursive: true });
    if (!existsSync(wasm) || statSync(wasm).mtimeMs < statSync(SOURCE).mtimeMs)
      execFileSync(
        'emcc',
        [
          '-O3',
          '-msimd128',
          SOURCE,
          '-o',
          wasm,
          '--no-entry',
          '-sSTANDALONE_WASM',
          '-sEXPORTED_FUNCTIONS=_stream_sum,_dot_i8',
          '-sALLOW_MEMORY_GROWTH=1',
        ],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
  } catch (e) {
    return {
      error: `emcc could not build ${SOURCE}: ${
        String(e.stderr ?? e.message)
          .trim()
          .split('\n')[0]
      }`,
    };
  }
  const { instance } = await WebAssembly.instantiate(readFileSync(wasm));
  const { memory, stream_sum: streamSum, dot_i8: dot } = instance.exports;
  const base = memory.buffer.byteLength;
  memory.grow(STREAM_BYTES / 65536);
  new Uint8Array(memory.buffer, base, STREAM_BYTES).fill(1);
  const streamMs = await best(5, () => streamSum(base, STREAM_BYTES / 16));
  const dotMs = await best(20, () => {
    for (let k = 0; k < DOT_CALLS; k++) dot(base, base + DOT_LEN, DOT_LEN);
  });
  return {
    streamGBps: STREAM_BYTES / 1e9 / (streamMs / 1000),
    dotGMACps: (DOT_CALLS * DOT_LEN) / 1e9 / (dotMs / 1000),
  };
}
