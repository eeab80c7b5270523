// The bench runs end to end (Node part, tiny sizes) and its --json has the figures it promises;
// no figure is compared with a time: the machine is shared. bench/bench.mjs's browser part needs
// Chromium and minutes; `make bench` is where it runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './helpers.mjs';

function run(args) {
  return new Promise((resolve) => {
    execFile(process.execPath, args, { cwd: ROOT, maxBuffer: 16 << 20 }, (err, stdout, stderr) =>
      resolve({ code: err ? err.code : 0, stdout, stderr }),
    );
  });
}

const positive = (v, what) => assert.ok(typeof v === 'number' && v > 0 && Number.isFinite(v), `${what}: ${v}`);

test(
  'ntk-wasm bench --json --no-browser: every row measured, refused or n/a; a synthetic model written once into the cache',
  { timeout: 60_000 },
  async () => {
    const cache = await mkdtemp(join(tmpdir(), 'ntk-bench-'));
    try {
      const r = await run([
        'wasm/cli.mjs',
        'bench',
        '--json',
        '--no-browser',
        '--tiny',
        'q8_0,q4_k_m',
        '--synth',
        'q4_0',
        '--shape',
        'kjv-tiny',
        '--cache-dir',
        cache,
        '--prefill',
        '8',
        '--decode',
        '4',
        '--reps',
        '1',
        '--threads',
        '1,2',
      ]);
      assert.equal(r.code, 0, r.stderr);
      const res = JSON.parse(r.stdout);
      assert.equal(res.node, process.version);
      assert.equal(res.chromium, null);
      assert.deepEqual(
        res.groups.map((g) => [g.model, g.prefill, g.decode, g.reps]),
        [
          ['kjv-tiny', [8], 4, 1],
          ['synth-kjv-tiny', [8], 4, 1],
        ],
      );
      assert.ok(existsSync(join(cache, 'kjv-tiny-q4_0.gguf')), 'the synthetic model is kept in the cache directory');
      assert.ok(res.rows.every((row) => row.env === 'node' && row.engine === 'ntk-wasm'));
      // two tiny files in the relaxed, simd and scalar builds, the synthetic one in relaxed and simd;
      // 1 and 2 threads (Node 20 runs relaxed SIMD here: the bench turns its V8 flag on)
      assert.equal(res.rows.length, (2 * 3 + 2) * 2);
      for (const row of res.rows) {
        const what = `${row.model} ${row.type} ${row.build} ${row.threads}`;
        if (row.na !== undefined) {
          assert.equal(row.threads, 2, `${what}: only the thread count may be n/a`);
          assert.match(row.na, /threads/);
        } else if (row.unsupported !== undefined) {
          assert.equal(row.type, 'q4_k_m', `${what}: refused`);
          assert.match(row.unsupported, /Q4_K|Q6_K/);
        } else {
          positive(row.prefill['8'], `${what} prefill`);
          for (const k of ['decode', 'decodeGMACps', 'loadMs', 'loadMBps']) positive(row[k], `${what} ${k}`);
        }
      }
      const measured = res.rows.filter((row) => row.prefill);
      assert.ok(measured.some((row) => row.type === 'q8_0' && row.build === 'simd' && row.threads === 1));
      assert.ok(measured.some((row) => row.model === 'synth-kjv-tiny' && row.type === 'q4_0' && row.build === 'simd'));
      const ratio = res.ratios.find((x) => x.type === 'q8_0' && x.of === 'simd/scalar');
      positive(ratio?.prefill8, 'simd/scalar prefill');
      positive(ratio?.decode, 'simd/scalar decode');
      assert.ok(
        measured.some((row) => row.type === 'q4_k_m' && row.build === 'relaxed' && row.threads === 1),
        'the relaxed build ran',
      );
      positive(res.ratios.find((x) => x.type === 'q4_k_m' && x.of === 'relaxed/simd')?.decode, 'relaxed/simd decode');
      // the microbenchmark needs emcc, which `make` needs as well
      if (!res.limits.error) for (const k of ['streamGBps', 'dotGMACps']) positive(res.limits[k], `limits ${k}`);
      assert.deepEqual(
        res.memory.map((m) => m.type),
        ['q8_0', 'q4_k_m', 'q4_0'],
      );
      for (const m of res.memory.filter((x) => !x.unsupported)) {
        for (const k of ['fileMB', 'loadMBps']) positive(m[k], `memory ${m.type} ${k}`);
        assert.ok(m.peakMB >= 0, `memory ${m.type} peak ${m.peakMB}`);
      }
    } finally {
      await rm(cache, { recursive: true, force: true });
    }
  },
);

test('ntk-wasm bench: bad options are usage errors (exit 1)', async () => {
  for (const [args, message] of [
    [['--prefill', '1'], /at least 2/],
    [['--quick', '--full'], /not both/],
    [['--tiny', 'q9_9'], /no such model/],
    [['--bogus'], /bogus/],
  ]) {
    const r = await run(['wasm/cli.mjs', 'bench', ...args]);
    assert.equal(r.code, 1, `${args}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
});
