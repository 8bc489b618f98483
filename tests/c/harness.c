/* The C test program's shared harness: see harness.h. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"

const char *entry_name[NE] = {"csm_rows softmax",
                              "csm_rows log_softmax",
                              "csm_rows logsumexp",
                              "csm_cols softmax",
                              "csm_cols log_softmax",
                              "csm_cols logsumexp",
                              "csm_rows_fused softmax",
                              "csm_rows_fused log_softmax",
                              "csm_rows_fused logsumexp",
                              "csm_cross_entropy",
                              "csm_ce_check_targets",
                              "csm_sum",
                              "csm_row_stats",
                              "csm_rows_from_stats softmax",
                              "csm_rows_from_stats log_softmax",
                              "csm_softmax_backward",
                              "csm_softmax_backward log",
                              "csm_sigmoid",
                              "csm_sigmoid log",
                              "csm_binary_cross_entropy",
                              "csm_top_k_softmax",
                              "csm_sample",
                              "ISA and thread controls",
                              "floating-point flags"};

tally tallies[MAX_ISAS][2][NE];
int cur_isa;
char ctx[256];
long printed[NE];
int n_isas;

/* how a value is stored: the csm_storage kinds (F32, F64, F16, BF16) */
LD round_to(int kind, LD v)
{
    if (isnan(v)) return v;
    switch (kind) {
    case CSM_STORE_F32:
        return (float)v;
    case CSM_STORE_F64:
        return (double)v;
    case CSM_STORE_F16:
        return fabsl(v) >= 65520 ? copysignl(INFINITY, v) : v;
    default:
        return fabsl(v) >= 0x1.FFp127L ? copysignl(INFINITY, v) : v;
    }
}

const int kind_mant[4] = {23, 52, 10, 7}, kind_emin[4] = {-126, -1022, -14, -126};
LD tiny_of(int kind) { return ldexpl(1, kind_emin[kind]); }
LD eps_of(csm_dtype dt) { return dt == CSM_FLOAT32 ? 0x1p-23L : 0x1p-52L; }

/* one unit in the last place of `kind` at v (the subnormal spacing below the normal range) */
LD ulp_of(int kind, LD v)
{
    int e = kind_emin[kind];
    if (isfinite(v) && v != 0) {
        frexpl(fabsl(v), &e);
        e = e - 1 < kind_emin[kind] ? kind_emin[kind] : e - 1;
    }
    return ldexpl(1, e - kind_mant[kind]);
}

void note_failure(int entry, const char *why, ptrdiff_t i, LD got, LD want, LD tol)
{
    if (printed[entry]++ < 8)
        printf("FAIL %s [%s] %s: %s at %td: got %.21Lg, want %.21Lg (tolerance %.3Lg)\n",
               entry_name[entry], csm_isa_name(cur_isa), ctx, why, i, got, want, tol);
}

/* got (stored as `kind`) against the reference `want`: NaN where want is NaN, the same infinity
 * where want rounds to one in `kind`, else finite and within tol. */
int check(int entry, csm_dtype dt, int kind, LD got, LD want, LD tol, ptrdiff_t i)
{
    tally *t = &tallies[cur_isa][dt][entry];
    LD wr = round_to(kind, want);
    int ok;
    t->checks++;
    if (isnan(want)) ok = isnan(got);
    else if (isinf(wr)) ok = got == wr;
    else if (!isfinite(got)) ok = 0;
    else {
        LD err = fabsl(got - want), u = err / ulp_of(kind, want);
        ok = err <= tol;
        if (fabsl(want) >= tiny_of(kind) && u > t->max_ulp) t->max_ulp = (double)u;
        if (tol > 0 && err / tol > t->max_ratio) t->max_ratio = (double)(err / tol);
    }
    if (!ok) {
        t->fails++;
        note_failure(entry, "value", i, got, want, tol);
    }
    return ok;
}

/* an exact expectation (an index, a status, the same bits) */
int expect(int entry, csm_dtype dt, int ok, const char *what, ptrdiff_t i, LD got, LD want)
{
    tally *t = &tallies[cur_isa][dt][entry];
    t->checks++;
    if (!ok) {
        t->fails++;
        note_failure(entry, what, i, got, want, 0);
    }
    return ok;
}

/* numpy.testing.assert_allclose's bound, atol + rtol |want| */
LD close_tol(LD want, double rtol, double atol) { return atol + rtol * fabsl(want); }

/* ---------------------------------------------------------------------- data and memory */

uint64_t rng_state;
uint64_t next64(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
double unif(void) { return (double)(next64() >> 11) * 0x1p-53; }
double normal(void)
{
    double u = unif(), v = unif();
    return sqrt(-2 * log(1 - u)) * cos(6.283185307179586 * v);
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return p;
}

/* float16 / bfloat16 bits (round to nearest even from float; inputs only) and back */
uint16_t to_half(int kind, float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    if (kind == CSM_STORE_BF16) {
        if (isnan(f)) return (uint16_t)((u >> 16) | 0x40);
        return (uint16_t)((u + 0x7FFF + ((u >> 16) & 1)) >> 16);
    }
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
    if (isnan(f)) return sign | 0x7E00;
    float a = fabsf(f);
    if (a >= 65520.0f) return sign | 0x7C00;
    if (a < 0x1p-14f) return sign | (uint16_t)lrintf(a * 0x1p24f); /* subnormal (or 0) */
    int e;
    float m = frexpf(a, &e);        /* a = m 2^e, m in [.5, 1) */
    long q = lrintf(ldexpf(m, 11)); /* 11 significant bits */
    if (q == 2048) q = 1024, e++;
    if (e + 14 > 30) return sign | 0x7C00;
    return sign | (uint16_t)((e + 14) << 10) | (uint16_t)(q - 1024);
}

LD from_half(int kind, uint16_t h)
{
    if (kind == CSM_STORE_BF16) {
        uint32_t u = (uint32_t)h << 16;
        float f;
        memcpy(&f, &u, 4);
        return f;
    }
    int e = (h >> 10) & 31, m = h & 1023;
    LD v = e == 0 ? ldexpl(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexpl(1024 + m, e - 25);
    return (h & 0x8000) ? -v : v;
}

size_t kind_size(int kind) { return kind == CSM_STORE_F64 ? 8 : kind == CSM_STORE_F32 ? 4 : 2; }

LD get_k(int kind, const void *p, ptrdiff_t i)
{
    switch (kind) {
    case CSM_STORE_F32:
        return ((const float *)p)[i];
    case CSM_STORE_F64:
        return ((const double *)p)[i];
    default:
        return from_half(kind, ((const uint16_t *)p)[i]);
    }
}

/* stores v rounded to `kind`; returns the stored value */
LD set_k(int kind, void *p, ptrdiff_t i, LD v)
{
    switch (kind) {
    case CSM_STORE_F32:
        ((float *)p)[i] = (float)v;
        break;
    case CSM_STORE_F64:
        ((double *)p)[i] = (double)v;
        break;
    default:
        ((uint16_t *)p)[i] = to_half(kind, (float)v);
    }
    return get_k(kind, p, i);
}

LD get(csm_dtype dt, const void *p, ptrdiff_t i) { return get_k(KIND(dt), p, i); }
LD set(csm_dtype dt, void *p, ptrdiff_t i, LD v) { return set_k(KIND(dt), p, i, v); }
size_t esz(csm_dtype dt) { return kind_size(KIND(dt)); }

LD gen_value(csm_dtype dt, int kind, ptrdiff_t j, ptrdiff_t n)
{
    const LD big = dt == CSM_FLOAT32 ? 3e38L : 1e308L;
    LD base = n > 1 ? -3 + 5 * (LD)j / (LD)(n - 1) : -3;
    if (kind < 9) { /* NaN, +inf or -inf at the first, middle or last place */
        ptrdiff_t pos = kind / 3 == 0 ? 0 : kind / 3 == 1 ? n / 2 : n - 1;
        LD v = kind % 3 == 0 ? NAN : kind % 3 == 1 ? INFINITY : -INFINITY;
        return j == pos ? v : base;
    }
    switch (kind) {
    case 9:
        return -INFINITY; /* all -inf */
    case 10:
        return 0.25; /* all ties */
    case 11:
        return j % 2 == 0 ? -INFINITY : 0; /* half -inf */
    case 12:
        return j == n / 2 ? big : -big; /* x - max overflows */
    case 13:
        return big;
    case 14:
        return j % 3 == 0 ? 1e30 : -1e30;
    case 15:
        return j % 2 == 0 ? 1e4 : -1e4;
    case 16:
        return base - 1e4;
    case 17:
        return normal() * 1e-30; /* tiny */
    case 18:
        return normal() * (dt == CSM_FLOAT32 ? 1e-40 : 1e-310); /* subnormal */
    case 19:
        return normal() * 1e30; /* huge */
    case 20:
        return normal() * (dt == CSM_FLOAT32 ? 1e36 : 1e306);
    case 21: /* far below from the middle on: past the pivot (csm_types.h) from there */
        return j < n / 2 ? normal() * 3 : normal() - 3000;
    case K_NEAR_ZERO: /* one 0, the rest far below (test_logsumexp_relative_accuracy_near_zero) */
        return j == n / 3 ? 0 : -(20 + unif() * (dt == CSM_FLOAT32 ? 40 : 580));
    }
    switch ((kind - NSPECIAL) % 4) {
    case 0:
        return normal();
    case 1:
        return normal() * 10;
    case 2:
        return -100 + 200 * unif();
    default:
        return -1e4 + 2e4 * unif();
    }
}

/* nrows rows of n values (rounded to dt), row r of kind kinds[r] */
LD *gen_rows(csm_dtype dt, const int *kinds, ptrdiff_t nrows, ptrdiff_t n)
{
    LD *v = xmalloc(sizeof(LD) * (size_t)(nrows * n));
    for (ptrdiff_t r = 0; r < nrows; r++) {
        LD *row = v + r * n;
        ptrdiff_t arg = 0;
        for (ptrdiff_t j = 0; j < n; j++) {
            row[j] = round_to(KIND(dt), gen_value(dt, kinds[r], j, n));
            if (row[j] > row[arg]) arg = j;
        }
        if (kinds[r] >= NSPECIAL && n > 1)
            for (ptrdiff_t j = 0; j < n; j++)
                if (j != arg && unif() < 0.02) row[j] = -INFINITY;
    }
    return v;
}

/* ------------------------------------------------------- the softmax family's reference */

rowref ref_row(const LD *x, ptrdiff_t n, ptrdiff_t step)
{
    rowref r = {3, -INFINITY, 0, 0, 0, 0};
    int nan = 0, pinf = 0;
    for (ptrdiff_t j = 0; j < n; j++) {
        LD v = x[j * step];
        nan |= isnan(v);
        pinf |= v == INFINITY;
        if (v > r.max) r.max = v;
        if (isfinite(v) && fabsl(v) > r.scale) r.scale = fabsl(v);
    }
    if (nan) r.cls = 1;
    else if (pinf) r.cls = 2;
    else if (r.max > -INFINITY) r.cls = 0;
    if (r.cls) return r;
    for (ptrdiff_t j = 0; j < n; j++) {
        LD v = x[j * step];
        if (v == r.max) r.ties++;
        else r.rest += expl(v - r.max);
    }
    r.logs = logl(r.ties) + log1pl(r.rest / r.ties);
    return r;
}

/* Checks one row of softmax / log_softmax (n results got[j * gstep]) or logsumexp (got[0]) of
 * x[j * xstep] against the reference, with test_accuracy.py's bounds:
 *   float32 softmax: relative error <= 1e-6 where the value >= 1.2e-38, else absolute <= 1.2e-38;
 *   float64 softmax: relative error <= 2e-14 + 1e-16 sqrt(n) (the same absolute rule below it);
 *   exactly 0 for -inf logits in a row with a finite max (and log_softmax exactly -inf);
 *   log_softmax and logsumexp: absolute error <= 4 eps max(|x|, |result|, 1), |x| the largest
 *   finite magnitude in the row; logsumexp of a row whose max is 0 (near_zero): relative <= 8 eps.
 * Results stored in float16 / bfloat16 (okind): within one unit in the last place of that type of
 * the exact value (tests/half_precision/test_float16_bfloat16.py's
 * test_within_one_ulp_of_float64), and below the compute dtype's normal range within its smallest
 * normal (the rule above). Rows with no finite max follow csoftmax/reference/softmax_family.py:
 * NaN anywhere makes the row NaN; +inf makes softmax and log_softmax NaN and logsumexp +inf; a row
 * with nothing above -inf gives NaN and logsumexp -inf. rr: ref_row(x, n, xstep), computed once
 * per row. `excluded` (or NULL): the entries where=False masks, exactly 0 / -inf. */
void check_family(int entry, csm_op op, csm_dtype dt, int okind, const LD *x, ptrdiff_t xstep,
                  ptrdiff_t n, const rowref *rr, const LD *got, ptrdiff_t gstep,
                  const unsigned char *excluded, int near_zero)
{
    rowref r = *rr;
    LD eps = eps_of(dt), tiny = tiny_of(KIND(dt));
    int half = okind >= CSM_STORE_F16;
    if (op == CSM_LOGSUMEXP) {
        LD want = r.cls == 0 ? r.max + r.logs
            : r.cls == 1     ? NAN
            : r.cls == 2     ? INFINITY
                             : -INFINITY;
        LD tol = half   ? fmaxl(ulp_of(okind, want), fabsl(want) < tiny ? tiny : 0)
            : near_zero ? 8 * eps * fabsl(want)
                        : 4 * eps * fmaxl(fmaxl(r.scale, fabsl(want)), 1);
        check(entry, dt, okind, got[0], want, tol, 0);
        return;
    }
    LD rtol = dt == CSM_FLOAT32 ? 1e-6L : 2e-14L + 1e-16L * sqrtl((LD)n);
    for (ptrdiff_t j = 0; j < n; j++) {
        LD v = x[j * xstep], g = got[j * gstep], want, tol;
        if (excluded && excluded[j]) {
            check(entry, dt, okind, g, op == CSM_SOFTMAX ? 0 : -INFINITY, 0, j);
            continue;
        }
        if (r.cls) {
            check(entry, dt, okind, g, NAN, 0, j);
            continue;
        }
        if (v == -INFINITY) {
            check(entry, dt, okind, g, op == CSM_SOFTMAX ? 0 : -INFINITY, 0, j);
            continue;
        }
        if (op == CSM_SOFTMAX) {
            want = expl(v - r.max) / (r.ties + r.rest);
            /* expm is 0 below 1.42 times the smallest normal (csm_exp.h), which the division
             * by a sum of at least 0.7 (the max's own term) makes up to twice that */
            tol = want < 2 * tiny ? 2 * tiny : half ? ulp_of(okind, want) : rtol * want;
        } else {
            want = (v - r.max) - r.logs;
            tol = half ? fmaxl(ulp_of(okind, want), fabsl(want) < tiny ? tiny : 0)
                       : 4 * eps * fmaxl(fmaxl(r.scale, fabsl(want)), 1);
        }
        check(entry, dt, okind, g, want, tol, j);
    }
}

/* the same bits for the 2-thread result as for the 1-thread one */
void expect_same_bits(int entry, csm_dtype dt, const void *a, const void *b, size_t bytes)
{
    expect(entry, dt, memcmp(a, b, bytes) == 0, "1 and 2 threads differ", 0, 0, 0);
}

/* the bytes past each row's n results (row stride ld) are untouched (still 0xA5) */
void expect_untouched(int entry, csm_dtype dt, const unsigned char *out, ptrdiff_t nrows,
                      ptrdiff_t n, ptrdiff_t ld, size_t es)
{
    int ok = 1;
    for (ptrdiff_t r = 0; r < nrows; r++)
        for (size_t b = (size_t)n * es; b < (size_t)ld * es; b++)
            ok &= out[(size_t)r * ld * es + b] == 0xA5;
    expect(entry, dt, ok, "wrote past a row's end", 0, 0, 0);
}
