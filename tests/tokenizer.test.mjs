// Tokenizer vs SentencePiece: every case of fixtures/kjv-tiny/tokenizer.json, through the JS API.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Engine, model, tokenizerCases } from './helpers.mjs';

let engine;
before(async () => {
  engine = await Engine.load(model('q8_0'));
});
after(() => engine?.dispose());

const cases = tokenizerCases();

test('fixture has the 30 documented cases', () => {
  assert.equal(cases.length, 30);
});

for (const [i, c] of cases.entries()) {
  const name = `case ${i}: ${JSON.stringify(c.text.length > 40 ? c.text.slice(0, 40) + '…' : c.text)}`;
  test(name, () => {
    assert.deepEqual(engine.tokenize(c.text, { bos: false }), c.ids, 'ids without BOS');
    assert.deepEqual(engine.tokenize(c.text, { bos: true }), [1, ...c.ids], 'ids with BOS');
    assert.deepEqual(engine.tokenize(c.text), [1, ...c.ids], 'BOS is the default');
    assert.deepEqual(
      c.ids.map((id) => engine.piece(id)),
      c.pieces,
      'pieces of the ids',
    );
    assert.equal(engine.detokenize(c.ids), c.text, 'detokenize(reference ids)');
    assert.equal(engine.detokenize(engine.tokenize(c.text, { bos: false })), c.text, 'round trip without BOS');
    assert.equal(engine.detokenize(engine.tokenize(c.text)), c.text, 'round trip with BOS');
  });
}
