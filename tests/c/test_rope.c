/* test_rope.c — dynamic NTK base(L) against the reference values of the kjv-tiny fixtures and the
 * formula in long double; the factor and the trained length are honoured; cos/sin tables. */
#include <math.h>

#include "rope.h"
#include "testlib.h"

static int rel_close(double a, double b, double tol) { return fabs(a - b) <= tol * fabs(b); }

/* DESIGN.md §2.3, evaluated independently in long double */
static long double formula(long double theta, long double a, long double L, long double L0, long double d) {
    if (L <= L0) return theta;
    return theta * powl(a * L / L0 - (a - 1), d / (d - 2));
}

int main(void) {
    rope_config kjv = { ROPE_CONSISTENT, 10000.0, 2.0, 512, 64 };
    /* values printed in tests/fixtures/kjv-tiny/README.md (three decimals) */
    const struct { int64_t L; double base; } ref[] = {
        { 1, 10000.0 }, { 512, 10000.0 }, { 513, 10040.325 }, { 1024, 31082.237 }, { 1400, 46898.592 },
        { 1500, 51136.167 }, { 2960, 113970.238 }, { 3000, 115710.987 },
    };
    for (size_t i = 0; i < sizeof ref / sizeof *ref; i++) {
        double b = rope_base(&kjv, ref[i].L);
        CHECK(fabs(b - ref[i].base) <= 5e-4, "base(%lld) = %.6f, reference %.3f", (long long)ref[i].L, b, ref[i].base);
    }
    /* every mode but none scales; none never does */
    rope_config none = kjv, cached = kjv;
    none.mode = ROPE_NONE;
    cached.mode = ROPE_CACHED;
    CHECK(rope_base(&none, 3000) == 10000.0, "none keeps theta");
    CHECK(rope_base(&cached, 3000) == rope_base(&kjv, 3000), "cached scales like consistent");

    /* the factor and trained length are used, not hard-coded: chat-20b (3.0) and InternLM2.5-1M */
    rope_config f3 = { ROPE_CONSISTENT, 1e6, 3.0, 32768, 128 };
    rope_config m1 = { ROPE_CONSISTENT, 5e7, 2.5, 262144, 128 };
    for (int64_t L = 1; L <= 1048576; L = L * 3 + 1) {
        CHECK(rel_close(rope_base(&f3, L), (double)formula(1e6L, 3.0L, L, 32768, 128), 1e-12), "factor 3 at L=%lld", (long long)L);
        CHECK(rel_close(rope_base(&m1, L), (double)formula(5e7L, 2.5L, L, 262144, 128), 1e-12), "1M model at L=%lld", (long long)L);
    }
    CHECK(rope_base(&f3, 65536) != rope_base(&kjv, 65536), "factor changes the base");
    CHECK(rel_close(rope_base(&m1, 1048576), (double)formula(5e7L, 2.5L, 1048576, 262144, 128), 1e-12), "L = 2^20");

    /* inv_freq and the cos/sin table: float64 angles, even at long positions */
    double inv[64];
    rope_inv_freq(51136.167, 64, inv);
    CHECK(inv[0] == 1.0 && rel_close(inv[1], pow(51136.167, -2.0 / 64), 1e-15), "inv_freq");
    float c[3 * 32], s[3 * 32];
    int64_t p0 = 262141;
    rope_fill(m1.theta, 64, p0, 3, c, s);
    double worst = 0;
    for (int r = 0; r < 3; r++)
        for (int i = 0; i < 32; i++) {
            long double a = (long double)(p0 + r) * powl(5e7L, -2.0L * i / 64);
            worst = fmax(worst, fabs((double)(c[r * 32 + i] - (float)cosl(a))));
            worst = fmax(worst, fabs((double)(s[r * 32 + i] - (float)sinl(a))));
        }
    CHECK(worst <= 1e-6, "cos/sin at positions near 262144 within 1e-6 (got %g)", worst);

    rope_mode m;
    CHECK(rope_mode_parse("cached", &m) && m == ROPE_CACHED && !rope_mode_parse("dynamic", &m), "mode names");
    return tl_summary();
}
