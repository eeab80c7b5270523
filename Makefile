# ntk-wasm — build the engine to WebAssembly, test it natively and in Node, benchmark it.
#   make demo       install what is missing, build, and generate text with the bundled tiny model
#   make            wasm/build/ntk.js (SIMD128) and wasm/build/ntk-scalar.js (same code, no SIMD)
#   make test       C unit tests (native, ASan+UBSan; kernel twins in wasm) and the Node suites
#   make bench      prefill/decode speed, SIMD vs scalar, load memory
# Every target first runs scripts/setup.sh, which installs what is missing (Emscripten, gcc,
# Node from Debian; npm ci).
# Emscripten 3.1.6 from Debian needs its JS optimizer's modules on NODE_PATH.
export NODE_PATH := /usr/share/nodejs$(if $(NODE_PATH),:$(NODE_PATH))

CC      ?= gcc
EMCC    ?= emcc
CSTD     = -std=c11 -Wall -Wextra -Werror=implicit-function-declaration
SRC      = src/gguf.c src/quant.c src/kernels_scalar.c src/kernels_simd.c src/matmul.c src/rope.c \
           src/model.c src/tokenizer.c src/sampler.c src/api.c
HDR      = $(wildcard src/*.h)
EXPORTS  = ntk_new ntk_free ntk_error ntk_load_begin ntk_load_window ntk_load_window_size \
           ntk_load_commit ntk_load_end ntk_set_rope ntk_info_json ntk_n_vocab ntk_n_ctx \
           ntk_rope_base ntk_tokenize ntk_detok_reset ntk_detok_push ntk_detok_flush ntk_is_eog \
           ntk_token_piece ntk_eval ntk_logits ntk_reset ntk_sampler_set ntk_sample malloc free
comma    = ,
EMFLAGS  = -O3 -sMODULARIZE=1 -sEXPORT_NAME=createNtkModule -sALLOW_MEMORY_GROWTH=1 \
           -sMAXIMUM_MEMORY=4GB -sABORTING_MALLOC=0 -sFILESYSTEM=0 -sENVIRONMENT=node,web,worker \
           -sTOTAL_STACK=1MB -sNODEJS_CATCH_EXIT=0 -sNODEJS_CATCH_REJECTION=0 \
           -sEXPORTED_FUNCTIONS=$(subst $() ,$(comma),$(patsubst %,_%,$(EXPORTS))) \
           -sEXPORTED_RUNTIME_METHODS=UTF8ToString,stringToUTF8,lengthBytesUTF8
SANITIZE = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

.PHONY: all setup demo test test-c test-js bench clean
all: wasm/build/ntk.js wasm/build/ntk-scalar.js wasm/build/package.json

setup:
	@scripts/setup.sh

demo: all
	node wasm/cli.mjs run -p "$(or $(PROMPT),And it came to pass)" -n 64 --seed 1

# Emscripten's output is CommonJS; the package around it is ESM.
%/package.json:
	@mkdir -p $(@D)
	echo '{ "type": "commonjs" }' > $@

wasm/build/ntk.js: $(SRC) $(HDR) Makefile | setup
	@mkdir -p $(@D)
	$(EMCC) $(CSTD) -msimd128 $(EMFLAGS) -Isrc $(SRC) -o $@

wasm/build/ntk-scalar.js: $(SRC) $(HDR) Makefile | setup
	@mkdir -p $(@D)
	$(EMCC) $(CSTD) $(EMFLAGS) -Isrc $(SRC) -o $@

# ---- C unit tests ----
C_TESTS = build/test_gguf build/test_tokenizer build/test_sampler build/test_rope build/test_engine

build/test_%: tests/c/test_%.c $(SRC) $(HDR) | setup
	@mkdir -p $(@D)
	$(CC) $(CSTD) $(SANITIZE) -Isrc -Itests/c $(SRC) $< -lm -o $@

# The kernel twins only meet in a SIMD build: compile the test to wasm and run it in Node.
build/test_kernels.js: tests/c/test_kernels.c src/quant.c src/kernels_scalar.c src/kernels_simd.c $(HDR) build/package.json | setup
	@mkdir -p $(@D)
	$(EMCC) $(CSTD) -O2 -msimd128 -sALLOW_MEMORY_GROWTH=1 -sSINGLE_FILE=1 -sENVIRONMENT=node -Isrc src/quant.c src/kernels_scalar.c src/kernels_simd.c $< -o $@

build/test_kernels_native: tests/c/test_kernels.c src/quant.c src/kernels_scalar.c $(HDR) | setup
	@mkdir -p $(@D)
	$(CC) $(CSTD) $(SANITIZE) -Isrc src/quant.c src/kernels_scalar.c $< -lm -o $@

test-c: $(C_TESTS) build/test_kernels_native build/test_kernels.js
	@set -e; for t in $(C_TESTS) build/test_kernels_native; do echo "== $$t"; $$t; done
	@echo "== build/test_kernels.js (wasm SIMD vs scalar)"; node build/test_kernels.js

test-js: all
	node --test --test-reporter=spec tests/

test: test-c test-js

bench: all
	node bench/bench.mjs

clean:
	rm -rf build wasm/build
