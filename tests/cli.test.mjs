// The ntk-wasm CLI as a user runs it: outputs checked against the fixtures, and every bad input a
// clear message with the documented exit code (0 ok, 1 usage, 2 model/file, 3 runtime).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseHeader, halfToF32, tensorBytes, TYPE, BLOCK } from '../wasm/gguf.mjs';
import { COMMANDS, FLAGS, flagsOf, parseArgs, optionsFrom, UsageError } from '../wasm/cli-args.mjs';
import { LOAD_OPTIONS, GENERATE_OPTIONS, CHAT_OPTIONS } from '../wasm/options.mjs';

import { readGGUF } from './helpers.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = join(root, 'wasm/cli.mjs');
const model = (name) => join(root, 'models', `kjv-tiny-${name}.gguf`);
const fixture = async (name) => JSON.parse(await readFile(join(root, 'tests/fixtures/kjv-tiny', name), 'utf8'));
const tmp = await mkdtemp(join(tmpdir(), 'ntk-cli-'));

function run(args) {
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, ...args], { maxBuffer: 64 << 20 }, (err, stdout, stderr) =>
      resolve({ code: err ? err.code : 0, stdout, stderr }),
    );
  });
}

async function promptFile(name, ids) {
  const path = join(tmp, name);
  await writeFile(path, JSON.stringify(ids));
  return path;
}

test('--help lists every command and the exit codes', async () => {
  const r = await run(['--help']);
  assert.equal(r.code, 0);
  for (const s of ['run', 'logits', 'tokenize', 'info', '--rope-mode', '--prompt-tokens', 'Exit codes'])
    assert.ok(r.stdout.includes(s), `help mentions ${s}`);
});

test('--help lists every command and every flag of the table', async () => {
  const r = await run(['--help']);
  for (const c of Object.keys(COMMANDS)) assert.ok(r.stdout.includes(`  ntk-wasm ${c} `), `usage of ${c}`);
  for (const f of FLAGS) assert.ok(r.stdout.includes(`--${f.long}`), `--${f.long}`);
});

// The flags a help text lists, one a line: "  -n, --n-predict N ..."
const listedFlags = (help) =>
  [...help.matchAll(/^ {2}(?:-(\w), )?--([\w-]+)/gm)].map(([, short, long]) => `${short ?? ''}/${long}`).sort();

test("COMMAND --help (and -h, and help COMMAND): that command's usage and exactly its flags", async () => {
  for (const c of Object.keys(COMMANDS).filter((c) => !COMMANDS[c].own)) {
    const r = await run([c, '--help']);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.startsWith(`Usage: ntk-wasm ${c} `), r.stdout.split('\n')[0]);
    assert.deepEqual(
      listedFlags(r.stdout),
      flagsOf(c)
        .map((f) => `${f.short ?? ''}/${f.long}`)
        .sort(),
      c,
    );
  }
  const run1 = await run(['run', '--help']);
  assert.match(run1.stdout, /-n, --n-predict N +tokens to generate \(an integer >= 0; default 64\)/);
  assert.match(
    (await run(['chat', '--help'])).stdout,
    /-n, --n-predict N +tokens to generate \(an integer >= 0; default 256\)/,
  );
  assert.equal((await run(['run', '-h'])).stdout, run1.stdout);
  assert.equal((await run(['help', 'run'])).stdout, run1.stdout);
});

test("every flag takes its engine option's row; a bad value names the flag as typed", () => {
  const engineOptions = { ...LOAD_OPTIONS, ...CHAT_OPTIONS };
  for (const f of FLAGS)
    if (f.option) assert.ok(Object.hasOwn(engineOptions, f.option), `--${f.long} sets ${f.option}`);
  let checked = 0;
  for (const c of Object.keys(COMMANDS)) {
    for (const f of flagsOf(c)) {
      const row = f.option ? engineOptions[f.option] : f;
      if (!f.value || !row.type) continue;
      const bad = row.type === 'enum' ? 'bogus' : String(row.min - 1);
      for (const typed of [`--${f.long}`, ...(f.short ? [`-${f.short}`] : [])]) {
        for (const args of [[typed, bad], [`${typed}${typed.startsWith('--') ? '=' : ''}${bad}`]]) {
          assert.throws(
            () => parseArgs(c, args),
            (e) =>
              e instanceof UsageError &&
              e.message.startsWith(`${typed} must be `) &&
              e.message.endsWith(row.type === 'enum' ? `got "${bad}"` : `got ${bad}`),
            `${c} ${args.join(' ')}`,
          );
          checked++;
        }
      }
    }
  }
  assert.ok(checked > 50, `${checked} cases`);
});

test('parsing: a value may start with -, a negative number is an argument; defaults and engine options per command', () => {
  assert.equal(parseArgs('run', ['-p', '-x']).opts.prompt, '-x');
  assert.deepEqual(parseArgs('tokenize', ['-5']).positional, ['-5']);
  assert.deepEqual(parseArgs('tokenize', ['m.gguf', '-0.5', '--json']).positional, ['m.gguf', '-0.5']);
  assert.equal(parseArgs('run', []).opts['n-predict'], 64);
  assert.equal(parseArgs('chat', []).opts['n-predict'], 256);
  const { opts } = parseArgs('run', [
    '--temp',
    '0.5',
    '--build',
    'simd',
    '--scalar',
    '-n3',
    '--kv-type',
    'f16',
    '--json',
  ]);
  assert.deepEqual(optionsFrom(GENERATE_OPTIONS, 'run', opts), { maxTokens: 3, temperature: 0.5 });
  assert.deepEqual(
    optionsFrom(LOAD_OPTIONS, 'run', opts),
    { kvType: 'f16', build: 'scalar' },
    '--scalar wins over --build',
  );
  for (const [args, message] of [
    [['--bogus'], 'unknown option --bogus'],
    [['-z'], 'unknown option -z'],
    [['--system', 'x'], '--system is not an option of run'],
    [['-o', 'x'], '-o is not an option of run'],
    [['--json=1'], '--json takes no value'],
    [['--temp'], '--temp needs a value'],
  ])
    assert.throws(() => parseArgs('run', args), { message });
});

test('run --json: greedy tokens, nCtx and base follow the references past the trained length', async () => {
  const ref = await fixture('reference.json');
  const cont = await fixture('continuations.json');
  const c = cont.continuations[0];
  const file = await promptFile('p0.json', c.prompt_ids);
  for (const [mode, want] of [
    ['consistent', c.consistent.tokens],
    ['cached', ref.prompts[0].continuations[0].cached.tokens],
  ]) {
    const r = await run([
      'run',
      model('f32'),
      '--prompt-tokens',
      file,
      '-n',
      '8',
      '--temp',
      '0',
      '--rope-mode',
      mode,
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const items = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      items.map((t) => t.id),
      want.slice(0, 8),
      mode,
    );
    assert.deepEqual(
      items.map((t) => t.nCtx),
      [...Array(8).keys()].map((i) => c.prompt_len + i),
    );
    // base(1400) from the fixture's own record of the bases it used
    assert.ok(Math.abs(items[0].base - c.bases.prefill) / c.bases.prefill < 1e-9, `base ${items[0].base}`);
    assert.ok(items[7].base > items[0].base, 'the base grows with the context');
  }
});

test('run with a seed is reproducible, text starts with the prompt', async () => {
  const args = ['run', '-p', 'And it came to pass', '-n', '24', '--temp', '0.9', '--seed', '7'];
  const a = await run(args),
    b = await run(args);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(a.stdout, b.stdout);
  assert.ok(a.stdout.startsWith('And it came to pass'));
  assert.match(a.stderr, /decode 24 tokens/);
});

test('logits: top-10 lists at chosen positions match transformers', async () => {
  const ref = await fixture('reference.json');
  const run100 = ref.prompts[0].runs[0];
  const file = await promptFile('r100.json', run100.token_ids);
  const wanted = run100.top10.filter((t) => [0, 32, 99].includes(t.pos));
  const r = await run(['logits', model('f32'), '--prompt-tokens', file, '--at', '0,32,99', '--top', '10']);
  assert.equal(r.code, 0, r.stderr);
  const got = JSON.parse(r.stdout);
  assert.deepEqual(
    got.map((g) => g.pos),
    [0, 32, 99],
  );
  for (const [i, w] of wanted.entries()) {
    const tol = 1e-3 * Math.max(...w.top.map(([, l]) => Math.abs(l)));
    const byId = new Map(got[i].top.map(([id, l]) => [id, l]));
    for (const [id, logit] of w.top) {
      // a near tie may swap the 10th id with the 11th; every other id must be listed
      if (!byId.has(id)) {
        assert.ok(Math.abs(logit - w.top[9][1]) < tol, `id ${id} missing at pos ${w.pos}`);
        continue;
      }
      assert.ok(Math.abs(byId.get(id) - logit) <= tol, `pos ${w.pos} id ${id}: ${byId.get(id)} vs ${logit}`);
    }
  }
});

test('tokenize --json equals the SentencePiece ids', async () => {
  const { cases } = await fixture('tokenizer.json');
  for (const c of cases.slice(20)) {
    const r = await run(['tokenize', c.text, '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), c.ids, JSON.stringify(c.text));
  }
  const plain = await run(['tokenize', model('q4_0'), 'In the']);
  assert.match(plain.stdout, /^\d+\t"▁In"\n\d+\t"▁the"\n$/);
});

test('info says what RoPE scaling is in force and where it comes from', async () => {
  const a = await run(['info']);
  assert.equal(a.code, 0, a.stderr);
  assert.match(a.stdout, /architecture\s+internlm2/);
  assert.match(a.stdout, /dynamic NTK, consistent cache, factor 2 \(from the file\)/);
  const b = await run(['info', model('llama-q8_0'), '--json']);
  const info = JSON.parse(b.stdout);
  assert.equal(info.architecture, 'llama');
  assert.equal(info.rope.mode, 'none');
  assert.equal(info.rope.modeSource, 'default');
  const c = await run(['info', model('llama-q8_0'), '--rope-mode', 'cached', '--rope-factor', '3', '--json']);
  assert.deepEqual([JSON.parse(c.stdout).rope.mode, JSON.parse(c.stdout).rope.factor], ['cached', 3]);
});

test('bad input: clear message, documented exit code', async () => {
  const good = await readFile(model('q4_0'));
  const truncated = join(tmp, 'truncated.gguf');
  await writeFile(truncated, good.subarray(0, good.length - 4096));
  const empty = join(tmp, 'empty.gguf');
  await writeFile(empty, '');
  const text = join(tmp, 'notes.gguf');
  await writeFile(text, 'just some text, not a model\n');
  const badIds = await promptFile('bad-ids.json', [1, 2, 99999]);
  const notJson = join(tmp, 'not.json');
  await writeFile(notJson, '[1, 2,');
  // a tensor type the engine does not run: output.weight relabelled Q8_1 (ggml type 9)
  const unsupported = join(tmp, 'q8_1.gguf');
  const relabelled = Buffer.from(good);
  relabelled.writeUInt32LE(9, readGGUF(good).tensors.find((t) => t.name === 'output.weight').typeOffset);
  await writeFile(unsupported, relabelled);
  const cases = [
    [['run', '-p', 'x', '-n', '-5'], 1, /-n must be an integer >= 0, got -5/],
    [['run', '-p', 'x', '--n-predict=-5'], 1, /--n-predict must be an integer >= 0, got -5/],
    [['run', '-p', 'x', '--bogus'], 1, /unknown option --bogus/],
    [['run'], 1, /a prompt is needed/],
    [['frobnicate'], 1, /unknown command/],
    [
      ['run', '-p', 'x', '--rope-mode', 'dynamic'],
      1,
      /--rope-mode must be one of consistent, cached, none, got "dynamic"/,
    ],
    [['run', '-p', 'x', '--rope-factor', '0.5'], 1, /--rope-factor must be a number in \[1, 1000000\], got 0\.5/],
    [['run', '-p', 'x', '--top-p', '1.5'], 1, /--top-p must be/],
    [['run', '-p', 'x', '-n', 'many'], 1, /-n must be an integer >= 0, got "many"/],
    [['logits', '-p', 'x'], 1, /--at POSITIONS is needed/],
    [['logits', '-p', 'In the beginning', '--at', '50'], 1, /outside the prompt/],
    [['run', '--prompt-tokens', notJson], 1, /prompt-tokens/],
    [['info', join(tmp, 'missing.gguf')], 2, /no such file/],
    [['info', empty], 2, /file is empty/],
    [['info', text], 2, /not a GGUF file/],
    [['info', truncated], 2, /truncated at byte \d+, in tensor data/],
    [['info', unsupported], 2, /tensor output\.weight has type Q8_1/],
    [['run', '--prompt-tokens', badIds], 3, /token id 99999 .*out of range/],
  ];
  for (const [args, code, message] of cases) {
    const r = await run(args);
    assert.equal(r.code, code, `${args.join(' ')}: exit ${r.code}, stderr ${r.stderr}`);
    assert.match(r.stderr, message, args.join(' '));
    assert.doesNotMatch(r.stderr, /internal error|at .*\.mjs:\d+/, 'no stack trace for bad input');
  }
});

test('chat: piped turns answer as Engine.chat does, and the context carries over', async () => {
  const { Engine } = await import('../wasm/engine.mjs');
  const e = await Engine.load(model('q8_0'));
  const turns = ['Who was Moses?', 'And Aaron?'];
  const messages = [];
  const want = [];
  for (const content of turns) {
    messages.push({ role: 'user', content });
    let answer = '';
    for await (const t of e.chat(messages, { maxTokens: 12, temperature: 0 })) answer += t.text;
    messages.push({ role: 'assistant', content: answer });
    want.push(answer);
  }
  e.dispose();
  const r = await new Promise((resolve) => {
    const child = execFile(process.execPath, [cli, 'chat', '--temp', '0', '-n', '12'], (err, stdout, stderr) =>
      resolve({ code: err ? err.code : 0, stdout, stderr }),
    );
    child.stdin.end(turns.join('\n') + '\n');
  });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, want.join(''));
  const contexts = [...r.stderr.matchAll(/context (\d+) tokens/g)].map((m) => Number(m[1]));
  assert.equal(contexts.length, 2);
  assert.ok(contexts[1] > contexts[0], 'the second turn sees the first');
});

test('chat: Ctrl-C stops the answer, not the program', async () => {
  const { spawn } = await import('node:child_process');
  const child = spawn(process.execPath, [cli, 'chat', '--temp', '0', '-n', '100000']);
  let stdout = '',
    stderr = '';
  child.stdout.on('data', (d) => {
    stdout += d;
  });
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  child.stdin.write('Tell me of Egypt\n');
  await new Promise((r) => child.stdout.once('data', r)); // the answer is streaming
  child.kill('SIGINT');
  await new Promise((r) => {
    const poll = setInterval(() => {
      if (/stopped; context/.test(stderr)) {
        clearInterval(poll);
        r();
      }
    }, 20);
  });
  child.stdin.end('/exit\n');
  const code = await new Promise((r) => child.on('exit', r));
  assert.equal(code, 0, stderr);
  assert.match(stderr, /\[stopped; context \d+ tokens/);
});

test('synth writes a model the engine loads; info --all lists every key and tensor', async () => {
  const file = join(tmp, 'synth.gguf');
  const s = await run([
    'synth',
    '-o',
    file,
    '--layers',
    '2',
    '--hidden',
    '64',
    '--heads',
    '2',
    '--ffn',
    '128',
    '--ctx',
    '256',
    '--type',
    'q8_0',
    '--dynamic-factor',
    '3',
  ]);
  assert.equal(s.code, 0, s.stderr);
  const r = await run(['info', file, '--all', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const [info, all] = r.stdout.split(/\n(?=\{\n  "metadata")/).map((j) => JSON.parse(j));
  assert.equal(info.nLayers, 2);
  assert.equal(info.rope.factor, 3);
  assert.equal(all.metadata['internlm2.rope.dynamic_ntk.factor'], 3);
  assert.equal(all.metadata['tokenizer.ggml.tokens'].length, 4096);
  assert.deepEqual(
    all.tensors.find((t) => t.name === 'blk.1.ffn_down.weight'),
    { name: 'blk.1.ffn_down.weight', type: 'Q8_0', shape: [128, 64], bytes: (128 / 32) * 34 * 64, part: 1 },
  );
  assert.equal(all.tensors.length, 3 + 2 * 9);
  const bad = await run([
    'synth',
    '-o',
    file,
    '--layers',
    '1',
    '--hidden',
    '60',
    '--heads',
    '7',
    '--ffn',
    '64',
    '--ctx',
    '256',
  ]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /multiple of 32/);
});

// A synth file's header with every value decoded, its tensors with their data, by name.
async function readSynth(file) {
  const bytes = new Uint8Array(await readFile(file));
  const h = parseHeader(bytes, { values: true });
  const meta = Object.fromEntries(h.kv.map((r) => [r.key, r.value]));
  const tensors = Object.fromEntries(
    h.tensors.map((t) => {
      const size = tensorBytes(
        t.type,
        t.dims[0],
        t.dims.slice(1).reduce((a, b) => a * b, 1),
      );
      return [t.name, { ...t, data: bytes.subarray(h.dataOffset + t.offset, h.dataOffset + t.offset + size) }];
    }),
  );
  return { meta, tensors };
}

// Every K-quant super-block of a tensor has finite, positive, modest f16 scales where ggml reads
// them: d (and dmin) at the start of Q4_K/Q5_K blocks, d at the end of Q6_K blocks.
function assertKBlocks(t) {
  const [, bytes] = BLOCK[t.type];
  assert.equal(t.data.length % bytes, 0, `${t.name}: whole blocks`);
  const at = t.type === TYPE.Q6_K ? [208] : [0, 2];
  const dv = new DataView(t.data.buffer, t.data.byteOffset, t.data.length);
  for (let b = 0; b < t.data.length; b += bytes)
    for (const o of at) {
      const d = halfToF32(dv.getUint16(b + o, true));
      assert.ok(Number.isFinite(d) && d >= 2 ** -14 && d < 1, `${t.name}: block ${b / bytes} scale at +${o} is ${d}`);
    }
}

test("synth --shape kjv-tiny --type q4_k_m: the tensor types and shapes of ggml's own Q4_K_M file, valid K blocks that the engine runs", async () => {
  const file = join(tmp, 'kjv-q4_k_m.gguf');
  const s = await run(['synth', '-o', file, '--shape', 'kjv-tiny', '--type', 'q4_k_m']);
  assert.equal(s.code, 0, s.stderr);
  const got = await readSynth(file),
    ggml = await readSynth(model('q4_k_m'));
  for (const k of [
    'block_count',
    'embedding_length',
    'feed_forward_length',
    'attention.head_count',
    'attention.head_count_kv',
    'context_length',
    'rope.freq_base',
  ])
    assert.equal(got.meta[`internlm2.${k}`], ggml.meta[`internlm2.${k}`], k);
  assert.deepEqual(got.meta['tokenizer.ggml.tokens'], ggml.meta['tokenizer.ggml.tokens']);
  const layout = (f) =>
    Object.values(f.tensors)
      .map((t) => [t.name, t.type, t.dims])
      .sort();
  assert.deepEqual(layout(got), layout(ggml));
  assert.deepEqual(
    Object.keys(got.tensors)
      .filter((n) => got.tensors[n].type === TYPE.Q6_K)
      .sort(),
    ['blk.2.attn_v.weight', 'blk.2.ffn_down.weight', 'blk.5.attn_v.weight', 'blk.5.ffn_down.weight', 'output.weight'],
  );
  for (const t of Object.values(got.tensors)) if (t.type !== TYPE.F32) assertKBlocks(t);
  // and the engine reads it: the types it reports, then tokens out of random weights
  const r = await run(['info', file, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const names = Object.fromEntries(Object.entries(TYPE).map(([k, v]) => [v, k]));
  const counts = {};
  for (const t of Object.values(got.tensors)) counts[names[t.type]] = (counts[names[t.type]] ?? 0) + 1;
  assert.deepEqual(JSON.parse(r.stdout).tensorTypes, counts);
  const g = await run(['run', file, '-p', 'And', '-n', '4', '--temp', '0', '--json']);
  assert.equal(g.code, 0, g.stderr);
  assert.equal(g.stdout.trim().split('\n').length, 4);
});

test("synth --shape: the shape's values unless a flag overrides them; q5_k and q6_k blocks; q4_0 runs", async () => {
  const seven = join(tmp, '7b.gguf');
  let s = await run([
    'synth',
    '-o',
    seven,
    '--shape',
    'internlm2-7b',
    '--layers',
    '1',
    '--hidden',
    '256',
    '--type',
    'q6_k',
  ]);
  assert.equal(s.code, 0, s.stderr);
  const f = await readSynth(seven);
  assert.deepEqual(
    [1, 256, 14336, 32, 8, 32768, 1e6, 2].map(String),
    [
      'block_count',
      'embedding_length',
      'feed_forward_length',
      'attention.head_count',
      'attention.head_count_kv',
      'context_length',
      'rope.freq_base',
      'rope.dynamic_ntk.factor',
    ].map((k) => String(f.meta[`internlm2.${k}`])),
  );
  assert.deepEqual(f.tensors['blk.0.ffn_down.weight'].dims, [14336, 256]);
  assert.deepEqual(f.tensors['blk.0.attn_k.weight'].dims, [256, (8 * 256) / 32]);
  for (const t of Object.values(f.tensors))
    if (t.dims.length === 2) {
      assert.equal(t.type, TYPE.Q6_K, t.name);
      assertKBlocks(t);
    }

  const five = join(tmp, 'q5_k.gguf');
  s = await run(['synth', '-o', five, '--shape', 'kjv-tiny', '--layers', '2', '--type', 'q5_k', '--seed', '3']);
  assert.equal(s.code, 0, s.stderr);
  for (const t of Object.values((await readSynth(five)).tensors))
    if (t.dims.length === 2) {
      assert.equal(t.type, TYPE.Q5_K, t.name);
      assertKBlocks(t);
    }

  const bad = await run([
    'synth',
    '-o',
    five,
    '--shape',
    'kjv-tiny',
    '--hidden',
    '288',
    '--heads',
    '4',
    '--kv-heads',
    '2',
    '--type',
    'q4_k',
  ]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /multiples of 256/);
  assert.match(
    (await run(['synth', '-o', five, '--shape', 'internlm2-20b'])).stderr,
    /--shape must be one of internlm2-1\.8b, internlm2-7b, kjv-tiny/,
  );

  const small = join(tmp, '1.8b.gguf');
  s = await run(['synth', '-o', small, '--shape', 'internlm2-1.8b', '--layers', '1', '--ffn', '512', '--type', 'q4_0']);
  assert.equal(s.code, 0, s.stderr);
  const r = await run(['info', small, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const info = JSON.parse(r.stdout);
  assert.deepEqual(
    [
      info.nLayers,
      info.dim,
      info.nHeads,
      info.nKvHeads,
      info.headDim,
      info.ffn,
      info.contextLength,
      info.rope.theta,
      info.nVocab,
    ],
    [1, 2048, 16, 8, 128, 512, 32768, 1e6, 4096],
  );
  assert.deepEqual(info.tensorTypes, { F32: 3, Q4_0: 9 });
  const gen = await run(['run', small, '-p', 'In the beginning', '-n', '4', '--temp', '0']);
  assert.equal(gen.code, 0, gen.stderr);
});

test('-m URL loads over HTTP with a progress bar; HTTP errors exit 2', async () => {
  const { createServer } = await import('node:http');
  const bytes = await readFile(model('q4_0'));
  const server = createServer((req, res) => {
    if (req.url !== '/m.gguf') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-length': bytes.length });
    res.end(bytes);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${server.address().port}`;
  try {
    const ok = await run([
      'run',
      '-m',
      `${base}/m.gguf`,
      '-p',
      'In the beginning',
      '-n',
      '4',
      '--temp',
      '0',
      '--progress',
    ]);
    assert.equal(ok.code, 0, ok.stderr);
    const local = await run(['run', model('q4_0'), '-p', 'In the beginning', '-n', '4', '--temp', '0']);
    assert.equal(ok.stdout, local.stdout);
    assert.match(ok.stderr, /100% 4\.9\/4\.9 MB .* ready/);
    const missing = await run(['info', '-m', `${base}/nope.gguf`]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /HTTP 404/);
  } finally {
    server.close();
  }
});
