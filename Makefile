# ntk-wasm — build the engine to WebAssembly, test it natively and in Node, benchmark it.
#   make demo       install what is missing, build, and generate text with the bundled tiny model
#   make            the five builds in wasm/build/ (ntk.js: SIMD128, ntk-scalar.js: the same code
#                   without SIMD, ntk-mt.js: with pthreads, ntk-relaxed.js and ntk-mt-relaxed.js:
#                   with relaxed SIMD) and wasm/build/abi.mjs (the C facts the JS side reads)
#   make test       the format check (make lint), C unit tests (native, ASan+UBSan; kernel twins
#                   in wasm) and the Node suites
#   make format     format the C (clang-format, .clang-format) and JS (prettier, .prettierrc.json)
#   make bench      prefill/decode speed in Node and Chromium against wllama, SIMD vs scalar,
#                   2 threads vs 1, load memory (BENCH_ARGS="--full", "--json", ...: see --help)
#   make serve      the demo page (web/) on http://127.0.0.1:8080/web/ (PORT=... to change it)
#   make site       the demo page as a static folder to host anywhere: site/ (scripts/site.mjs)
# These targets, make site and `make setup` first run scripts/setup.sh, which installs what is missing
# (Emscripten, gcc, Node from Debian; npm ci); any other, a plain `make` among them, does not.
# Emscripten 3.1.6 from Debian needs its JS optimizer's modules on NODE_PATH.
export NODE_PATH := /usr/share/nodejs$(if $(NODE_PATH),:$(NODE_PATH))

CC      ?= gcc
EMCC    ?= emcc
CSTD     = -std=c11 -Wall -Wextra -Werror=implicit-function-declaration
# The kernels (src/kernels/, a family a file pair) and the types' rows (types.c) that point to them.
KERNELS  = src/types.c src/quant.c $(wildcard src/kernels/*.c)
SRC      = src/gguf.c $(KERNELS) src/matmul.c src/rope.c src/arch.c src/model.c src/tokenizer.c \
           src/sampler.c src/threadpool.c src/load.c src/json.c src/api.c
HDR      = $(wildcard src/*.h src/kernels/*.h)
# The exports are the functions api.h declares (but its native-only block), and the allocator.
lparen  := (
EXPORTS  = $(shell sed -n '/^\#ifndef __EMSCRIPTEN__/,/^\#endif/d; s/^[a-z][^$(lparen)]*[ *]\(ntk_[a-z0-9_]*\)$(lparen).*/\1/p' src/api.h) \
           malloc free
comma    = ,
EMFLAGS  = -O3 -sMODULARIZE=1 -sEXPORT_NAME=createNtkModule -sALLOW_MEMORY_GROWTH=1 \
           -sMAXIMUM_MEMORY=4GB -sABORTING_MALLOC=0 -sFILESYSTEM=0 -sENVIRONMENT=node,web,worker \
           -sTOTAL_STACK=1MB -sNODEJS_CATCH_EXIT=0 -sNODEJS_CATCH_REJECTION=0 \
           -sEXPORTED_FUNCTIONS=$(subst $() ,$(comma),$(patsubst %,_%,$(EXPORTS))) \
           -sEXPORTED_RUNTIME_METHODS=UTF8ToString,stringToUTF8,lengthBytesUTF8
SANITIZE = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

# For the goals that install what is missing (above), every build waits for setup.
ifneq ($(filter demo test serve site bench,$(MAKECMDGOALS)),)
SETUP = setup
endif

# ntk: SIMD128; ntk-scalar: the same C without SIMD (for comparisons); ntk-mt: SIMD128 with
# pthreads; ntk-relaxed, ntk-mt-relaxed: the same with relaxed SIMD (below).
VARIANTS = ntk ntk-scalar ntk-mt ntk-relaxed ntk-mt-relaxed

.PHONY: all setup demo serve site test test-c test-js lint format bench clean
all: wasm/build/abi.mjs $(VARIANTS:%=wasm/build/%.js) $(VARIANTS:%=wasm/build/%.web.mjs) wasm/build/package.json \
     wasm/build/kjv-heldout.txt

# ---- the WebAssembly builds ----
# Each variant compiles every source into build/obj/<variant>/, so an edit recompiles one file per
# variant (and the files that include an edited header: the .d files say which).

# Threads: pthreads over a SharedArrayBuffer. The workers are made when the module is
# instantiated (a browser can only start one once the page yields to its event loop), as many as
# the engine asks for in Module.ntkWorkers; 3.1.6 also writes <variant>.worker.js, which each of
# them runs and which loads <variant>.js.
THREADS_CFLAGS  = -DNTK_THREADS -pthread
THREADS_LDFLAGS = -sUSE_PTHREADS=1 -sPTHREAD_POOL_SIZE=Module.ntkWorkers -sPTHREAD_POOL_SIZE_STRICT=2

# Relaxed SIMD: the quantized kernels' products of quants and activations in one
# i16x8.relaxed_dot_i8x16_i7x16_s per sixteen.
# clang 14 cannot emit it: the kernels call an import (NTK_RELAXED_SIMD; src/relaxed-simd.js lets
# it link) that scripts/relaxed-simd.mjs turns into the instruction after linking. Engines pick
# these builds where the runtime validates relaxed SIMD (wasm/engine.mjs).
RELAXED_CFLAGS  = -DNTK_RELAXED_SIMD
RELAXED_LDFLAGS = --js-library src/relaxed-simd.js
RELAXED_DEPS    = src/relaxed-simd.js scripts/relaxed-simd.mjs

CFLAGS_ntk             = -msimd128
CFLAGS_ntk-scalar      =
CFLAGS_ntk-mt          = -msimd128 $(THREADS_CFLAGS)
CFLAGS_ntk-relaxed     = -msimd128 $(RELAXED_CFLAGS)
CFLAGS_ntk-mt-relaxed  = -msimd128 $(RELAXED_CFLAGS) $(THREADS_CFLAGS)
LDFLAGS_ntk-mt         = $(THREADS_LDFLAGS)
LDFLAGS_ntk-relaxed    = $(RELAXED_LDFLAGS)
LDFLAGS_ntk-mt-relaxed = $(RELAXED_LDFLAGS) $(THREADS_LDFLAGS)
objects = $(patsubst src/%.c,build/obj/$(1)/%.o,$(SRC))
relaxed = $(findstring relaxed,$(1))

define wasm_variant
build/obj/$(1)/%.o: src/%.c Makefile | $$(SETUP)
	@mkdir -p $$(@D)
	$$(EMCC) $$(CSTD) -O3 $$(CFLAGS_$(1)) -MMD -MP -Isrc -c $$< -o $$@

wasm/build/$(1).js: $(call objects,$(1)) $(if $(call relaxed,$(1)),$$(RELAXED_DEPS)) Makefile | wasm/build/abi.mjs
	@mkdir -p $$(@D)
	$$(EMCC) $$(CFLAGS_$(1)) $$(EMFLAGS) $$(LDFLAGS_$(1)) $(call objects,$(1)) -o $$@
	$(if $(call relaxed,$(1)),node scripts/relaxed-simd.mjs $$(@:.js=.wasm))

wasm/build/$(1).web.mjs: wasm/build/$(1).js
	@mkdir -p build/web
	$$(EMCC) $$(CFLAGS_$(1)) $$(EMFLAGS) $$(WEB_LDFLAGS) $$(LDFLAGS_$(1)) $(call objects,$(1)) -o build/web/$(1).mjs
	$(if $(call relaxed,$(1)),node scripts/relaxed-simd.mjs build/web/$(1).wasm)
	cmp build/web/$(1).wasm wasm/build/$(1).wasm
	cp build/web/$(1).mjs $$@
endef
$(foreach v,$(VARIANTS),$(eval $(call wasm_variant,$(v))))
-include $(wildcard build/obj/*/*.d build/obj/*/*/*.d)

# Browsers and bundlers take <variant>.web.mjs (wasm/platform-web.mjs): the same objects linked
# again for the web and workers only, as an ES module, so that no Node branch (require of fs,
# path, worker_threads) is left for a bundler to trip on. The page instantiates the wasm of the
# first link (the second must be the same bytes: cmp), and makes the threads' workers itself
# (wasm/pthread-worker.mjs), so the second link's worker.js and wasm are not shipped.
# Node keeps the CommonJS .js.
WEB_LDFLAGS = -sENVIRONMENT=web,worker -sEXPORT_ES6=1 -sUSE_ES6_IMPORT_META=0

# The held-out part of the corpus (the New Testament: tests/fixtures/corpus/README.md), which the
# package ships for passkey and perplexity and the page uses as filler.
wasm/build/kjv-heldout.txt: tests/fixtures/corpus/kjv.txt
	@mkdir -p $(@D)
	tail -n +23146 $< > $@

# The C facts the JS side needs (status names, RoPE modes, KV types, sampling defaults, ggml
# types), printed by a native program linked with the engine.
build/obj/host/%.o: src/%.c Makefile | $(SETUP)
	@mkdir -p $(@D)
	$(CC) $(CSTD) -O1 -MMD -MP -Isrc -c $< -o $@

build/abi: scripts/abi.c $(call objects,host) | $(SETUP)
	$(CC) $(CSTD) -O1 -Isrc $^ -lm -o $@

wasm/build/abi.mjs: build/abi
	@mkdir -p $(@D)
	build/abi > $@.tmp && mv $@.tmp $@

setup:
	@scripts/setup.sh

demo: all
	node wasm/cli.mjs run -p "$(or $(PROMPT),And it came to pass)" -n 64 --seed 1

# COOP/COEP headers make the page cross-origin isolated, as a threaded build will need.
serve: all
	node scripts/serve.mjs

site: all
	node scripts/site.mjs site

# Emscripten's output is CommonJS; the package around it is ESM.
%/package.json:
	@mkdir -p $(@D)
	echo '{ "type": "commonjs" }' > $@

# ---- C unit tests ----
C_TESTS = build/test_gguf build/test_tokenizer build/test_sampler build/test_rope build/test_engine build/test_fuzz_regressions \
          build/test_threads build/test_types build/test_arch

build/test_%: tests/c/test_%.c $(SRC) $(HDR) | $(SETUP)
	@mkdir -p $(@D)
	$(CC) $(CSTD) $(SANITIZE) -Isrc -Itests/c $(SRC) $< -lm -o $@

# The pool and the forward pass with workers: the same C with NTK_THREADS and pthreads.
build/test_threads: tests/c/test_threads.c $(SRC) $(HDR) | $(SETUP)
	@mkdir -p $(@D)
	$(CC) $(CSTD) $(SANITIZE) -DNTK_THREADS -pthread -Isrc -Itests/c $(SRC) $< -lm -o $@

# The kernel tests (tests/c/kernels/, test_<family>.c and test_quant.c, one binary each) run
# natively (the scalar twins, with sanitizers) and in wasm, where the SIMD twins meet the scalar
# ones; those of the families whose SIMD twins use relaxed SIMD also in the relaxed build (the
# others build to the same code there, and their binaries would have no relaxed_dot to turn).
KERNEL_SRC    = $(KERNELS)
KERNEL_TESTS  = $(patsubst tests/c/kernels/%.c,%,$(wildcard tests/c/kernels/test_*.c))
RELAXED_TESTS = $(patsubst src/kernels/%_simd.c,test_%,$(shell grep -l NTK_RELAXED src/kernels/*_simd.c))
KERNEL_DEPS   = $(KERNEL_SRC) $(HDR) tests/c/testlib.h $(wildcard tests/c/kernels/*.h)

build/kernels/native/test_%: tests/c/kernels/test_%.c $(KERNEL_DEPS) | $(SETUP)
	@mkdir -p $(@D)
	$(CC) $(CSTD) $(SANITIZE) -Isrc -Itests/c $(KERNEL_SRC) $< -lm -o $@

build/kernels/simd/test_%.js: tests/c/kernels/test_%.c $(KERNEL_DEPS) build/package.json | $(SETUP)
	@mkdir -p $(@D)
	$(EMCC) $(CSTD) -O2 -msimd128 -sALLOW_MEMORY_GROWTH=1 -sSINGLE_FILE=1 -sENVIRONMENT=node -Isrc -Itests/c $(KERNEL_SRC) $< -o $@

# Node 20 validates relaxed SIMD only behind a V8 flag, set from inside the process (a Node that
# ships relaxed SIMD may no longer take it on the command line).
build/kernels/relaxed/test_%.js: tests/c/kernels/test_%.c $(KERNEL_DEPS) $(RELAXED_DEPS) build/package.json | $(SETUP)
	@mkdir -p $(@D)
	$(EMCC) $(CSTD) -O2 -msimd128 $(RELAXED_CFLAGS) $(RELAXED_LDFLAGS) -sALLOW_MEMORY_GROWTH=1 -sENVIRONMENT=node -sWASM_ASYNC_COMPILATION=0 -Isrc -Itests/c $(KERNEL_SRC) $< -o $@
	node scripts/relaxed-simd.mjs $(@:.js=.wasm)

test-c: $(C_TESTS) $(KERNEL_TESTS:%=build/kernels/native/%) $(KERNEL_TESTS:%=build/kernels/simd/%.js) \
        $(RELAXED_TESTS:%=build/kernels/relaxed/%.js)
	@set -e; for t in $(C_TESTS) $(KERNEL_TESTS:%=build/kernels/native/%); do echo "== $$t"; $$t; done
	@set -e; for t in $(KERNEL_TESTS); do \
	    echo "== build/kernels/simd/$$t.js (wasm SIMD128)"; node build/kernels/simd/$$t.js; done
	@set -e; for t in $(RELAXED_TESTS); do \
	    echo "== build/kernels/relaxed/$$t.js (wasm relaxed SIMD)"; \
	    node -e "require('v8').setFlagsFromString('--experimental-wasm-relaxed-simd'); require('./build/kernels/relaxed/$$t.js')"; done

test-js: all
	node --test --test-reporter=spec tests/

# One style for each language: what `make format` writes, `make lint` checks.
C_FORMAT  = $(wildcard src/*.[ch] src/kernels/*.[ch] tests/c/*.[ch] tests/c/kernels/*.[ch] tests/fuzz/*.c scripts/*.c bench/*.c)
JS_FORMAT = wasm web tests scripts bench src/relaxed-simd.js

format: | $(SETUP)
	clang-format -i $(C_FORMAT)
	npx prettier --log-level warn --write $(JS_FORMAT)

lint: | $(SETUP)
	clang-format --dry-run --Werror $(C_FORMAT)
	npx prettier --log-level warn --check $(JS_FORMAT)

test: lint test-c test-js

bench: all
	node bench/bench.mjs $(BENCH_ARGS)

clean:
	rm -rf build wasm/build site

# ---- fuzzing (tests/fuzz/) ----
#   make fuzz       libFuzzer + ASan/UBSan over the GGUF parser and the engine's load, tokenizer
#                   and first evaluation, for FUZZ_SECONDS; seeds are made from models/. New inputs
#                   accumulate in build/fuzz/corpus, crashing ones in build/fuzz/artifacts.
#   make fuzz-template  the chat-template path (tests/fuzz/fuzz-template.mjs): template text from the
#                   fuzzer, rendered within the limits, for FUZZ_SECONDS; corpus in
#                   build/fuzz-template/corpus, findings (crash, hang, escaped exception) in findings/.
# Once fixed, a crashing input goes to tests/fuzz/regressions/, which test_fuzz_regressions replays
# (a template: tests/fuzz/template-regressions/, which tests/chat-fuzz.test.mjs replays).
# FUZZ_ARGS passes libFuzzer options, e.g. FUZZ_ARGS="-fork=2 -ignore_crashes=1".
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 600
FUZZ_MAX_LEN ?= 1048576
FUZZ_ARGS    ?=
FUZZ_FLAGS    = -g -O1 -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

.PHONY: fuzz fuzz-setup fuzz-template
fuzz-template:
	node tests/fuzz/fuzz-template.mjs --seconds $(FUZZ_SECONDS) --out build/fuzz-template

fuzz-setup:
	@scripts/setup.sh fuzz

build/fuzz/fuzz_gguf: tests/fuzz/fuzz_gguf.c $(SRC) $(HDR) | fuzz-setup
	@mkdir -p $(@D)
	$(FUZZ_CC) $(CSTD) $(FUZZ_FLAGS) -Isrc $(SRC) $< -lm -o $@

build/fuzz/seeds.stamp: tests/fuzz/make-seeds.mjs $(wildcard models/kjv-tiny-*.gguf) wasm/build/abi.mjs | fuzz-setup
	node tests/fuzz/make-seeds.mjs build/fuzz/corpus
	@touch $@

# The pipe through tee hides the fuzzer's status; crashes are told by the artifacts it wrote.
fuzz: build/fuzz/fuzz_gguf build/fuzz/seeds.stamp
	@mkdir -p build/fuzz/artifacts && touch build/fuzz/run.start
	build/fuzz/fuzz_gguf -max_total_time=$(FUZZ_SECONDS) -max_len=$(FUZZ_MAX_LEN) -timeout=10 \
	    -dict=tests/fuzz/gguf.dict -artifact_prefix=build/fuzz/artifacts/ -print_final_stats=1 \
	    $(FUZZ_ARGS) build/fuzz/corpus 2>&1 | tee build/fuzz/fuzz.log
	@echo "== fuzz: $$(sed -n 's/^stat::number_of_executed_units: *//p' build/fuzz/fuzz.log | tail -1) executions;" \
	    "last status: $$(grep -E '^#[0-9]+' build/fuzz/fuzz.log | tail -1)"
	@found=$$(find build/fuzz/artifacts -type f -newer build/fuzz/run.start); \
	if [ -n "$$found" ]; then echo "== fuzz: crashes (replay with build/fuzz/fuzz_gguf FILE):"; echo "$$found"; exit 1; fi; \
	echo "== fuzz: no crashes"

# The replay includes the fuzz target; GCC's -fsanitize=undefined leaves out float-to-int
# overflow, which one of the regressions is about.
build/test_fuzz_regressions: tests/fuzz/fuzz_gguf.c
build/test_fuzz_regressions: SANITIZE += -fsanitize=float-cast-overflow -fno-sanitize-recover=float-cast-overflow
