// The chat-template fuzzer (tests/fuzz/fuzz-template.mjs, make fuzz-template): the templates in
// tests/fuzz/template-regressions/ (the hostile templates and the fuzzer's findings, fixed)
// render as the fuzzer renders them with no finding, and a few seconds of fuzzing run clean.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ROOT } from './helpers.mjs';
import { renderOnce } from './fuzz/fuzz-template.mjs';
import { renderChatParts } from '../wasm/chat.mjs';

const DIR = path.join(ROOT, 'tests/fuzz/template-regressions');

test('the template regressions render without a finding', async () => {
  const files = readdirSync(DIR).filter((f) => f.endsWith('.jinja'));
  assert.ok(files.length >= 6, 'the regressions are there');
  for (const f of files)
    assert.equal(await renderOnce(readFileSync(path.join(DIR, f), 'utf8'), renderChatParts), undefined, f);
});

test('make fuzz-template runs: a few seconds of fuzzing, no finding', async () => {
  const out = mkdtempSync(path.join(tmpdir(), 'fuzz-template-'));
  try {
    const stdout = await new Promise((resolve, reject) =>
      execFile(
        process.execPath,
        [path.join(ROOT, 'tests/fuzz/fuzz-template.mjs'), '--seconds', '4', '--out', out],
        { timeout: 60_000 },
        (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stdout}${stderr}`)) : resolve(stdout)),
      ),
    );
    const m = /== fuzz-template: (\d+) executions .* findings 0/.exec(stdout);
    assert.ok(m && Number(m[1]) > 0, stdout);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
