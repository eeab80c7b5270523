#!/usr/bin/env node
// relaxed-simd.mjs — turn a linked module's calls of the import ntk_relaxed_dot_i8x16_i7x16_s
// (declared in src/kernels/simd.h for the relaxed build) into the instruction
// i16x8.relaxed_dot_i8x16_i7x16_s, which Emscripten 3.1.6's clang cannot emit but Binaryen's
// assembler can: wasm-dis to text, the import found by its type (the only function import that
// takes two v128 and returns one; Emscripten renames imports), each call of it renamed, wasm-as
// back. Usage: node scripts/relaxed-simd.mjs module.wasm (rewritten in place).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const file = process.argv[2];
if (!file) throw new Error('usage: node scripts/relaxed-simd.mjs module.wasm');
const dir = mkdtempSync(path.join(tmpdir(), 'ntk-relaxed-'));
try {
  const wat = path.join(dir, 'module.wat');
  execFileSync('wasm-dis', [file, '-all', '-o', wat]);
  const text = readFileSync(wat, 'utf8');
  const imports = [
    ...text.matchAll(/^ *\(import "[^"]*" "[^"]*" \(func (\$\S+) \(param v128 v128\) \(result v128\)\)\)\n/gm),
  ];
  if (imports.length !== 1)
    throw new Error(`${file}: expected one imported function (v128, v128) -> v128, found ${imports.length}`);
  const [line, name] = imports[0];
  const call = new RegExp(`\\(call ${name.replace(/\$/g, '\\$')}$`, 'gm');
  const calls = text.match(call)?.length ?? 0;
  if (calls === 0) throw new Error(`${file}: ${name} is imported but never called`);
  const out = text.replace(line, '').replace(call, '(i16x8.dot_i8x16_i7x16_s');
  if (out.includes(name)) throw new Error(`${file}: ${name} is used other than by a direct call`);
  writeFileSync(wat, out);
  execFileSync('wasm-as', [wat, '-all', '-o', file]);
  console.log(`${path.basename(file)}: ${calls} calls of ${name} turned into i16x8.relaxed_dot_i8x16_i7x16_s`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
