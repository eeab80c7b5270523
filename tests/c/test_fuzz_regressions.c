/* test_fuzz_regressions.c — every input in tests/fuzz/regressions/ (files the fuzzer, or a
 * reading of the code, found a crash or sanitizer report with) replayed through the fuzz target
 * itself: the push parser with every accessor, then the engine's load, tokenizer and first
 * evaluation. Built with ASan/UBSan, so a regression aborts here. Each file is a fuzz input:
 * an options byte (chunking, logits, RoPE mode; see tests/fuzz/fuzz_gguf.c), then the GGUF. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>

#include "testlib.h"
#include "../fuzz/fuzz_gguf.c"

static int not_hidden(const struct dirent *d) { return d->d_name[0] != '.'; }

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "tests/fuzz/regressions";
    struct dirent **names;
    int n = scandir(dir, &names, not_hidden, alphasort);
    if (n < 0) {
        printf("cannot list %s\n", dir);
        return 2;
    }
    CHECK(n > 0, "no inputs in %s", dir);
    for (int i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
        size_t len;
        uint8_t *data = tl_read_file(path, &len);
        printf("replay %s (%zu bytes)\n", path, len);
        CHECK(LLVMFuzzerTestOneInput(data, len) == 0, "%s", path);
        free(data);
        free(names[i]);
    }
    free(names);
    return tl_summary();
}
