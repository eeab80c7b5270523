// Loading streams the file into its final place: a model of S bytes must not cost more than
// S + 64 MB of process memory. Measured on a generated 300 MB+ file, in a fresh process whose
// resident size is sampled through the load (and its kernel-recorded peak).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { synth } from '../wasm/synth.mjs';

const MB = 1048576;

function measureLoad(file, source) {
  const script = `
    import { Engine } from ${JSON.stringify(new URL('../wasm/engine.mjs', import.meta.url).href)};
    import { createReadStream } from 'node:fs';
    import { Readable } from 'node:stream';
    // instantiate once so the baseline holds the runtime, not the model
    (await Engine.load(${JSON.stringify(new URL('../models/kjv-tiny-q4_0.gguf', import.meta.url).pathname)})).dispose();
    globalThis.gc?.();
    const before = process.memoryUsage().rss;
    let peak = before;
    const timer = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 2);
    const source = ${JSON.stringify(source)} === 'stream' ? Readable.toWeb(createReadStream(${JSON.stringify(file)})) : ${JSON.stringify(file)};
    const e = await Engine.load(source, { onProgress: () => { peak = Math.max(peak, process.memoryUsage().rss); } });
    clearInterval(timer);
    const tokens = [];
    for await (const t of e.generate('In the beginning', { maxTokens: 2, temperature: 0 })) tokens.push(t.id);
    console.log(JSON.stringify({ before, peak, maxRSS: process.resourceUsage().maxRSS * 1024, tokens }));`;
  return new Promise((resolve, reject) =>
    execFile(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { maxBuffer: 1 << 20 }, (err, stdout, stderr) =>
      err ? reject(new Error(stderr || err.message)) : resolve(JSON.parse(stdout))));
}

test('peak memory while loading a 300 MB+ model stays under file size + 64 MB', { timeout: 240_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ntk-mem-'));
  try {
    const file = join(dir, 'big.gguf');
    await synth(file, { layers: 6, hidden: 1024, heads: 8, ffn: 2816, ctx: 512, type: 'f32' });
    const size = (await stat(file)).size;
    assert.ok(size > 300 * MB, `the test file is ${size} bytes`);
    for (const source of ['path', 'stream']) {
      const r = await measureLoad(file, source);
      const growth = Math.max(r.peak, r.maxRSS) - r.before;
      t.diagnostic(`${source}: file ${(size / MB).toFixed(0)} MB, process grew by ${(growth / MB).toFixed(0)} MB at most (peak RSS ${(Math.max(r.peak, r.maxRSS) / MB).toFixed(0)} MB)`);
      assert.ok(growth < size + 64 * MB, `${source}: grew by ${(growth / MB).toFixed(0)} MB for a ${(size / MB).toFixed(0)} MB file`);
      assert.ok(growth > size * 0.9, 'the weights are resident once (sanity of the measurement)');
      assert.equal(r.tokens.length, 2, 'the loaded model runs');
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
