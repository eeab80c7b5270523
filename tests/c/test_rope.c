/* test_rope.c — dynamic NTK base(L) against the reference values of the kjv-tiny fixtures and the
 * formula in long double; the factor and the trained length are honoured; cos/sin tables. */
#include <math.h>

#include "kernels.h"
#include "rope.h"
#include "testlib.h"

static int rel_close(double a, double b, double tol) { return fabs(a - b) <= tol * fabs(b); }

/* docs/DESIGN.md, Dynamic NTK, evaluated independently in long double */
static long double formula(long double theta, long double a, long double L, long double L0, long double d) {
    if (L <= L0) return theta;
    return theta * powl(a * L / L0 - (a - 1), d / (d - 2));
}

int main(void) {
    rope_config kjv = { ROPE_CONSISTENT, 10000.0, 2.0, 512, 64, 1 };
    /* values printed in tests/fixtures/kjv-tiny/README.md (three decimals) */
    const struct {
        int64_t L;
        double base;
    } ref[] = {
        { 1, 10000.0 },      { 512, 10000.0 },    { 513, 10040.325 },   { 1024, 31082.237 },
        { 1400, 46898.592 }, { 1500, 51136.167 }, { 2960, 113970.238 }, { 3000, 115710.987 },
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
    rope_config f3 = { ROPE_CONSISTENT, 1e6, 3.0, 32768, 128, 1 };
    rope_config m1 = { ROPE_CONSISTENT, 5e7, 2.5, 262144, 128, 1 };
    for (int64_t L = 1; L <= 1048576; L = L * 3 + 1) {
        CHECK(rel_close(rope_base(&f3, L), (double)formula(1e6L, 3.0L, L, 32768, 128), 1e-12), "factor 3 at L=%lld",
              (long long)L);
        CHECK(rel_close(rope_base(&m1, L), (double)formula(5e7L, 2.5L, L, 262144, 128), 1e-12), "1M model at L=%lld",
              (long long)L);
    }
    CHECK(rope_base(&f3, 65536) != rope_base(&kjv, 65536), "factor changes the base");
    CHECK(rel_close(rope_base(&m1, 1048576), (double)formula(5e7L, 2.5L, 1048576, 262144, 128), 1e-12), "L = 2^20");

    /* inv_freq and the cos/sin table: float64 angles, even at long positions */
    double inv[64];
    rope_inv_freq(51136.167, 64, inv);
    CHECK(inv[0] == 1.0 && rel_close(inv[1], pow(51136.167, -2.0 / 64), 1e-15), "inv_freq");
    float c[3 * 32], s[3 * 32];
    int64_t p0 = 262141;
    rope_fill(m1.theta, 64, p0, 1, 3, c, s);
    double worst = 0;
    for (int r = 0; r < 3; r++)
        for (int i = 0; i < 32; i++) {
            long double a = (long double)(p0 + r) * powl(5e7L, -2.0L * i / 64);
            worst = fmax(worst, fabs((double)(c[r * 32 + i] - (float)cosl(a))));
            worst = fmax(worst, fabs((double)(s[r * 32 + i] - (float)sinl(a))));
        }
    CHECK(worst <= 1e-6, "cos/sin at positions near 262144 within 1e-6 (got %g)", worst);

    /* the refresh step: the length rounded up to L0 + a multiple of it, never below L0 */
    rope_config step = kjv;
    step.refresh = 64;
    const int64_t lens[][2] = { { 100, 100 }, { 512, 512 }, { 513, 576 }, { 576, 576 }, { 577, 640 }, { 1500, 1536 } };
    for (size_t i = 0; i < sizeof lens / sizeof *lens; i++)
        CHECK(rope_base(&step, lens[i][0]) == rope_base(&kjv, lens[i][1]), "refresh 64: base(%lld) = exact base(%lld)",
              (long long)lens[i][0], (long long)lens[i][1]);

    /* The consistent cache scores R(m)q . R(p)k as R(-j0)R(m)q . R(p-j0)k with j0 the chunk start
     * of p (kernels.h, attn_rope), from three float tables: at positions up to 262,144 it must
     * match float64 within 1e-5 of |q||k|. */
    enum { D = 64, H = D / 2 };
    const double base = rope_base(&kjv, 262145);
    const int64_t at[][2] = {
        { 262144, 0 }, { 262144, 262143 }, { 262144, 200003 }, { 200000, 131137 }, { 70000, 69999 }
    };
    double worst_dot = 0;
    for (size_t t = 0; t < sizeof at / sizeof *at; t++) {
        const int64_t m = at[t][0], p = at[t][1], j0 = p / NTK_ATTN_CHUNK * NTK_ATTN_CHUNK;
        float q[D], k[D], qm[H * 2], cm[H], sm[H], cs[H], ss[H], cj[H], sj[H];
        for (int i = 0; i < D; i++) {
            q[i] = (float)sin(1.7 * i + t);
            k[i] = (float)cos(0.9 * i - t);
        }
        rope_fill(base, D, m, 1, 1, cm, sm);
        rope_fill(base, D, -j0, 1, 1, cs, ss);
        rope_fill(base, D, p - j0, 1, 1, cj, sj);
        for (int i = 0; i < D; i++) qm[i] = q[i];
        rope_rotate_scalar(qm, cm, sm, D);
        rope_rotate_scalar(qm, cs, ss, D);
        rope_rotate_scalar(k, cj, sj, D);
        double got = 0, want = 0, qq = 0, kk = 0, inv[H];
        rope_inv_freq(base, D, inv);
        for (int i = 0; i < D; i++) got += (double)qm[i] * k[i];
        for (int i = 0; i < H; i++) {
            /* float64 reference from the unrotated k: R(m)q . R(p)k = R(m-p)q . k */
            const double a = (double)(m - p) * inv[i], q0 = q[2 * i], q1 = q[2 * i + 1];
            const double k0 = cos(0.9 * 2 * i - t), k1 = cos(0.9 * (2 * i + 1) - t);
            want += (q0 * cos(a) - q1 * sin(a)) * (float)k0 + (q0 * sin(a) + q1 * cos(a)) * (float)k1;
            qq += q0 * q0 + q1 * q1;
            kk += (double)(float)k0 * (float)k0 + (double)(float)k1 * (float)k1;
        }
        worst_dot = fmax(worst_dot, fabs(got - want) / sqrt(qq * kk));
    }
    CHECK(worst_dot <= 1e-5,
          "chunked rotation of the consistent cache at positions up to 262144 vs float64: %.2e of |q||k|", worst_dot);

    rope_mode m;
    CHECK(rope_mode_parse("cached", &m) && m == ROPE_CACHED && !rope_mode_parse("dynamic", &m), "mode names");
    return tl_summary();
}
