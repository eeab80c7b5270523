// The option tables of wasm/options.mjs. Generated from the tables, so a new row is covered by
// itself: each row's boundaries are accepted and the values just past them refused (NtkError ARG
// naming the option), its default filled in; and the C engine takes every boundary value the
// tables accept, so no value passes the JS check only to be refused in C with a vaguer message.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  LOAD_OPTIONS,
  GENERATE_OPTIONS,
  METADATA_OPTIONS,
  checkOptions,
  checkLoadOptions,
  checkGenerateOptions,
} from '../wasm/options.mjs';
import { Engine, model } from './helpers.mjs';

const TABLES = { load: LOAD_OPTIONS, generate: GENERATE_OPTIONS, metadata: METADATA_OPTIONS };
const rows = Object.entries(TABLES).flatMap(([kind, table]) =>
  Object.entries(table).map(([name, row]) => ({ kind, table, name, row })),
);
const isNumber = (row) => row.type === 'integer' || row.type === 'number';

// Values a row refuses: just past each bound, and what is not of its type.
function refused(row) {
  switch (row.type) {
    case 'integer':
      return [row.min - 1, row.max + 1, row.min + 0.5, NaN, String(row.min), null];
    case 'number': {
      const step = (v) => Math.max(Math.abs(v), 1) * 1e-9;
      return [row.min - step(row.min), row.max + step(row.max), NaN, String(row.max), null];
    }
    case 'enum':
      return ['bogus', row.values[0].toUpperCase(), 1, null];
    case 'function':
      return ['f', {}, null];
    case 'signal':
      return [{}, 'signal', null];
    case 'strings':
      return ['', [''], [1], 5, null];
    default:
      return [];
  }
}

function accepted(row) {
  switch (row.type) {
    case 'integer':
    case 'number':
      return [row.min, row.max];
    case 'enum':
      return row.values;
    case 'function':
      return [() => {}];
    case 'signal':
      return [new AbortController().signal];
    case 'strings':
      return ['a', ['a', 'bc']];
    default:
      return [true, false, 0, 'x'];
  }
}

test('every option: its bounds accepted, the values past them refused with its name', () => {
  for (const { kind, table, name, row } of rows) {
    for (const v of accepted(row))
      assert.doesNotThrow(() => checkOptions(table, { [name]: v }, kind), `${kind} ${name}: ${String(v)}`);
    for (const v of refused(row)) {
      assert.throws(
        () => checkOptions(table, { [name]: v }, kind),
        (e) => e.name === 'NtkError' && e.code === 'ARG' && e.message.startsWith(`${name} must be `),
        `${kind} ${name}: ${String(v)} is refused, naming it`,
      );
    }
  }
});

test('every option gets its default; given values come back resolved', () => {
  for (const [kind, table] of Object.entries(TABLES)) {
    const resolved = checkOptions(table, undefined, kind);
    assert.deepEqual(Object.keys(resolved), Object.keys(table), `${kind}: a key for every row`);
    for (const [name, row] of Object.entries(table)) {
      if (typeof row.default === 'function') continue;
      assert.equal(resolved[name], row.default, `${kind} ${name}`);
    }
  }
  const { seed, stop } = checkGenerateOptions({});
  assert.ok(Number.isInteger(seed) && seed >= 0 && seed < 2 ** 32, `a random seed: ${seed}`);
  assert.deepEqual(stop, []);
  assert.deepEqual(checkGenerateOptions({ stop: 'Amen' }).stop, ['Amen']);
  assert.equal(checkLoadOptions({ cache: 0 }).cache, true, 'only false turns the cache off');
  assert.equal(checkLoadOptions({ cache: false }).cache, false);
  assert.equal(checkLoadOptions({ kvType: undefined }).kvType, 'f32', 'undefined is the default');
});

test('unknown options and options that are not an object are refused', () => {
  for (const [kind, table] of Object.entries(TABLES)) {
    assert.throws(() => checkOptions(table, { bogus: 1 }, kind), {
      code: 'ARG',
      message: `unknown ${kind} option "bogus"`,
    });
    assert.throws(() => checkOptions(table, 5, kind), { code: 'ARG', message: `${kind} options must be an object` });
    assert.throws(() => checkOptions(table, null, kind), { code: 'ARG' });
  }
  // Object.prototype's keys are not options
  assert.throws(() => checkLoadOptions(JSON.parse('{"toString": 1}')), {
    code: 'ARG',
    message: 'unknown load option "toString"',
  });
});

test('values C refuses are refused by the tables first: trainedCtx 2^40, topP 1e-300', () => {
  assert.throws(() => checkLoadOptions({ trainedCtx: 2 ** 40 }), {
    code: 'ARG',
    message: /^trainedCtx must be an integer <= 1000000000000, got 1099511627776$/,
  });
  // a float32 of 1e-300 is 0, which the sampler refuses
  assert.throws(() => checkGenerateOptions({ topP: 1e-300 }), {
    code: 'ARG',
    message: /^topP must be a number in \[0\.000001, 1\], got 1e-300$/,
  });
});

// threads' bound is C's NTK_MAX_THREADS itself (build/abi.mjs), and 64 threads would start 63
// workers; a chunk of 2^30 bytes would allocate a 1 GB load window; neither is a set-up of C here.
const NOT_TO_C = ['threads', 'chunkSize'];

test('the C engine takes every boundary value of the load options', async () => {
  for (const [name, row] of Object.entries(LOAD_OPTIONS)) {
    if (!isNumber(row) || NOT_TO_C.includes(name)) continue;
    for (const v of [row.min, row.max]) {
      const e = await Engine.load(model('q4_0'), { [name]: v });
      try {
        assert.equal(e.evaluate([1]).length, e.nVocab, `${name}: ${v}`);
      } finally {
        e.dispose();
      }
    }
  }
});

test('the C engine takes every boundary value of the generate options', async () => {
  const e = await Engine.load(model('q4_0'));
  try {
    for (const [name, row] of Object.entries(GENERATE_OPTIONS)) {
      if (!isNumber(row)) continue;
      for (const v of [row.min, row.max]) {
        e.reset();
        // a token is made only when asked for, so maxTokens 2^31 - 1 costs one step
        const items = [];
        for await (const t of e.generate('In the beginning', { maxTokens: 2, [name]: v })) {
          items.push(t);
          break;
        }
        assert.equal(items.length, name === 'maxTokens' && v === 0 ? 0 : 1, `${name}: ${v}`);
      }
    }
  } finally {
    e.dispose();
  }
});
