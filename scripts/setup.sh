#!/usr/bin/env bash
# Install what the build and tests need and is missing: Emscripten, a C compiler and Node from
# Debian (as root, or through sudo), Chromium for the browser tests, then the npm dependencies
# (playwright-core among them). Quiet and quick when all is there.
# With the argument "fuzz", clang and libFuzzer as well.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v emcc >/dev/null || need+=(emscripten)
# wasm-dis and wasm-as rewrite the relaxed builds (scripts/relaxed-simd.mjs); Emscripten depends on it
command -v wasm-as >/dev/null || need+=(binaryen)
command -v gcc >/dev/null || need+=(gcc libc6-dev)
# make lint and make format: the C style (.clang-format)
command -v clang-format >/dev/null || need+=(clang-format)
command -v node >/dev/null || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)
# the browser tests (tests/browser.test.mjs) drive Debian's Chromium through playwright-core, an
# npm devDependency that downloads no browser of its own
command -v chromium >/dev/null || need+=(chromium)
# `setup.sh fuzz` (make fuzz) also wants clang and its libFuzzer runtime, which Debian's clang
# only recommends
if [ "${1:-}" = fuzz ]; then
  command -v clang >/dev/null || need+=(clang)
  command -v clang >/dev/null && [ -f "$(clang --print-runtime-dir)/libclang_rt.fuzzer-$(uname -m).a" ] ||
    need+=(libclang-rt-dev)
fi
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]} from Debian" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --silent
fi
