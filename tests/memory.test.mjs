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
    execFile(
      process.execPath,
      ['--expose-gc', '--input-type=module', '-e', script],
      { maxBuffer: 1 << 20 },
      (err, stdout, stderr) => (err ? reject(new Error(stderr || err.message)) : resolve(JSON.parse(stdout))),
    ),
  );
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
      t.diagnostic(
        `${source}: file ${(size / MB).toFixed(0)} MB, process grew by ${(growth / MB).toFixed(0)} MB at most (peak RSS ${(Math.max(r.peak, r.maxRSS) / MB).toFixed(0)} MB)`,
      );
      assert.ok(
        growth < size + 64 * MB,
        `${source}: grew by ${(growth / MB).toFixed(0)} MB for a ${(size / MB).toFixed(0)} MB file`,
      );
      assert.ok(growth > size * 0.9, 'the weights are resident once (sanity of the measurement)');
      assert.equal(r.tokens.length, 2, 'the loaded model runs');
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a model too large for WebAssembly memory is refused from its tensor table', async () => {
  const { ggufChunks, kvRecord, parseHeader, VALUE, TYPE } = await import('../wasm/gguf.mjs');
  const { Engine } = await import('../wasm/engine.mjs');
  const { readFileSync } = await import('node:fs');
  // the real vocabulary, a 4-layer F32 model of hidden 16384 and FFN 65536: about 18 GB of weights
  const src = new Uint8Array(readFileSync(new URL('../models/kjv-tiny-q8_0.gguf', import.meta.url)));
  const vocab = parseHeader(src)
    .kv.filter((r) => r.key.startsWith('tokenizer.'))
    .map((r) => src.subarray(r.start, r.end));
  const [hidden, ffn, layers] = [16384, 65536, 4];
  const kv = [
    kvRecord('general.architecture', VALUE.STRING, 'internlm2'),
    ...Object.entries({
      block_count: layers,
      context_length: 4096,
      embedding_length: hidden,
      feed_forward_length: ffn,
      'attention.head_count': 128,
      'attention.head_count_kv': 128,
    }).map(([k, v]) => kvRecord(`internlm2.${k}`, VALUE.UINT32, v)),
    ...vocab,
  ];
  const m = (name, cols, rows) => ({
    name,
    dims: [cols, rows],
    type: TYPE.F32,
    data: () => {
      throw new Error('data must not be read');
    },
  });
  const n = (name) => ({
    name,
    dims: [hidden],
    type: TYPE.F32,
    data: () => {
      throw new Error('data must not be read');
    },
  });
  const tensors = [m('token_embd.weight', hidden, 4096), n('output_norm.weight'), m('output.weight', hidden, 4096)];
  for (let l = 0; l < layers; l++)
    tensors.push(
      n(`blk.${l}.attn_norm.weight`),
      m(`blk.${l}.attn_q.weight`, hidden, hidden),
      m(`blk.${l}.attn_k.weight`, hidden, hidden),
      m(`blk.${l}.attn_v.weight`, hidden, hidden),
      m(`blk.${l}.attn_output.weight`, hidden, hidden),
      n(`blk.${l}.ffn_norm.weight`),
      m(`blk.${l}.ffn_gate.weight`, hidden, ffn),
      m(`blk.${l}.ffn_up.weight`, hidden, ffn),
      m(`blk.${l}.ffn_down.weight`, ffn, hidden),
    );
  const chunks = ggufChunks({ kv, tensors });
  const header = chunks.next().value; // the header and tensor table only: no data follows
  await assert.rejects(Engine.load(header), (e) => {
    assert.equal(e.code, 'NOMEM');
    assert.match(e.message, /file too large for WebAssembly memory: its tensors need \d+\.\d MB/);
    return true;
  });
});

test('an aborted load returns its memory', { timeout: 120_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ntk-mem-'));
  try {
    const file = join(dir, 'big.gguf');
    await synth(file, { layers: 4, hidden: 1024, heads: 8, ffn: 2816, ctx: 512, type: 'f32' });
    const script = `
      import { Engine } from ${JSON.stringify(new URL('../wasm/engine.mjs', import.meta.url).href)};
      const rss = () => { globalThis.gc(); return process.memoryUsage().rss; };
      (await Engine.load(${JSON.stringify(new URL('../models/kjv-tiny-q4_0.gguf', import.meta.url).pathname)})).dispose();
      const before = rss();
      const after = [];
      for (let i = 0; i < 4; i++) {
        const ac = new AbortController();
        await Engine.load(${JSON.stringify(file)}, { signal: ac.signal, chunkSize: 1 << 20,
          onProgress: (p) => { if (p.loaded > 150 << 20) ac.abort(); } }).then(() => { throw new Error('loaded'); }, (e) => { if (e.name !== 'AbortError') throw e; });
        await new Promise((r) => setTimeout(r, 300));  // V8 returns a freed instance's memory shortly after a gc
        globalThis.gc();
        after.push(rss());
      }
      console.log(JSON.stringify({ before, after }));`;
    const r = await new Promise((resolve, reject) =>
      execFile(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], (err, stdout, stderr) =>
        err ? reject(new Error(stderr)) : resolve(JSON.parse(stdout)),
      ),
    );
    const grown = Math.max(...r.after) - r.before;
    t.diagnostic(
      `resident memory after each of four loads aborted at 150 MB: ${r.after.map((a) => `${a >= r.before ? '+' : ''}${((a - r.before) / MB).toFixed(0)} MB`).join(', ')}`,
    );
    // each aborted load had ~150 MB in place; none of it may stay
    assert.ok(grown < 64 * MB, `resident memory grew by ${(grown / MB).toFixed(0)} MB over four aborted loads`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
