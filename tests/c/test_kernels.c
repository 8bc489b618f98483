/* C-level test of every kernel entry of the C API (src/csoftmax.h), without Python: each entry,
 * for float32 and float64, on every instruction-set build this CPU runs (csm_isa_count /
 * csm_isa_supported / csm_set_isa), against a scalar long double reference written here, over
 * row lengths 1..70, 127, 128, 129, 1000 and 20000, strides (ldx > n, column layouts, per-row
 * offsets and steps), 1 and 2 threads (the two must give the same bits) and special values (-inf
 * entries, all -inf rows, +inf, NaN, huge and tiny magnitudes). Build and run: tests/c/run.sh
 * (natively) or .ci/c_tests (natively, then cross-compiled for aarch64 under qemu-aarch64).
 *
 * The semantics of special values are csoftmax/reference.py's (and _reference_stats.py,
 * _reference_decoding.py, and the formulas in src/csm_losses.h, csm_elementwise.h). The accuracy
 * bounds are the Python tests' own numbers; each is given below with the test it comes from.
 * Exits 1 on any failure, after printing the first failures of each kind and a table per
 * instruction set (checks, failures, largest error in units in the last place of the result's
 * type) and the closing line "test_kernels: N passed, M failed" (N, M: groups of checks, one per
 * instruction set, entry and dtype). */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "csoftmax.h"

typedef long double LD;
#define MAX_ISAS 8

/* ------------------------------------------------------------------------- bookkeeping */

enum {
    E_ROWS_SM,
    E_ROWS_LSM,
    E_ROWS_LSE,
    E_COLS_SM,
    E_COLS_LSM,
    E_COLS_LSE,
    E_FUSED_SM,
    E_FUSED_LSM,
    E_FUSED_LSE,
    E_CE,
    E_CE_TARGETS,
    E_SUM,
    E_STATS,
    E_FROM_STATS_SM,
    E_FROM_STATS_LSM,
    E_BWD,
    E_LOG_BWD,
    E_SIGMOID,
    E_LOG_SIGMOID,
    E_BCE,
    E_TOPK,
    E_SAMPLE,
    E_CONTROLS,
    NE
};
static const char *entry_name[NE] = {"csm_rows softmax",
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
                                     "ISA and thread controls"};

typedef struct {
    long checks, fails;
    double max_ulp;   /* largest |got - want| in units in the last place, over results in the
                       * normal range (below it the bounds are absolute) */
    double max_ratio; /* largest |got - want| / tolerance */
} tally;
static tally tallies[MAX_ISAS][2][NE];
static int cur_isa;   /* the build being checked */
static char ctx[256]; /* what is being checked, for failure messages */
static long printed[NE];

/* how a value is stored: the csm_storage kinds (F32, F64, F16, BF16) */
static LD round_to(int kind, LD v)
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

static const int kind_mant[4] = {23, 52, 10, 7}, kind_emin[4] = {-126, -1022, -14, -126};
static LD tiny_of(int kind) { return ldexpl(1, kind_emin[kind]); }
static LD eps_of(csm_dtype dt) { return dt == CSM_FLOAT32 ? 0x1p-23L : 0x1p-52L; }

/* one unit in the last place of `kind` at v (the subnormal spacing below the normal range) */
static LD ulp_of(int kind, LD v)
{
    int e = kind_emin[kind];
    if (isfinite(v) && v != 0) {
        frexpl(fabsl(v), &e);
        e = e - 1 < kind_emin[kind] ? kind_emin[kind] : e - 1;
    }
    return ldexpl(1, e - kind_mant[kind]);
}

static void note_failure(int entry, const char *why, ptrdiff_t i, LD got, LD want, LD tol)
{
    if (printed[entry]++ < 8)
        printf("FAIL %s [%s] %s: %s at %td: got %.21Lg, want %.21Lg (tolerance %.3Lg)\n",
               entry_name[entry], csm_isa_name(cur_isa), ctx, why, i, got, want, tol);
}

/* got (stored as `kind`) against the reference `want`: NaN where want is NaN, the same infinity
 * where want rounds to one in `kind`, else finite and within tol. */
static int check(int entry, csm_dtype dt, int kind, LD got, LD want, LD tol, ptrdiff_t i)
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
static int expect(int entry, csm_dtype dt, int ok, const char *what, ptrdiff_t i, LD got, LD want)
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
static LD close_tol(LD want, double rtol, double atol) { return atol + rtol * fabsl(want); }

/* ---------------------------------------------------------------------- data and memory */

static uint64_t rng_state;
static uint64_t next64(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static double unif(void) { return (double)(next64() >> 11) * 0x1p-53; }
static double normal(void)
{
    double u = unif(), v = unif();
    return sqrt(-2 * log(1 - u)) * cos(6.283185307179586 * v);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return p;
}

/* float16 / bfloat16 bits (round to nearest even from float; inputs only) and back */
static uint16_t to_half(int kind, float f)
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

static LD from_half(int kind, uint16_t h)
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

static size_t kind_size(int kind)
{
    return kind == CSM_STORE_F64 ? 8 : kind == CSM_STORE_F32 ? 4 : 2;
}

static LD get_k(int kind, const void *p, ptrdiff_t i)
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
static LD set_k(int kind, void *p, ptrdiff_t i, LD v)
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

#define KIND(dt) ((int)(dt)) /* CSM_FLOAT32 -> CSM_STORE_F32, CSM_FLOAT64 -> CSM_STORE_F64 */
static LD get(csm_dtype dt, const void *p, ptrdiff_t i) { return get_k(KIND(dt), p, i); }
static LD set(csm_dtype dt, void *p, ptrdiff_t i, LD v) { return set_k(KIND(dt), p, i, v); }
static size_t esz(csm_dtype dt) { return kind_size(KIND(dt)); }

/* Rows of logits: kinds 0..NSPECIAL-1 are special_rows() of tests/test_fast_vs_reference.py plus
 * tiny, subnormal and huge magnitudes, a half far below the other, and the logsumexp-near-0
 * rows of test_accuracy.py; the
 * others are random, drawn as test_accuracy.py's distributions (normal 1, normal 10, uniform
 * +-100, uniform +-1e4) with ~2% -inf entries that are never the max. */
enum { K_NEAR_ZERO = 22, NSPECIAL = 23, NKINDS = NSPECIAL + 4 };

static LD gen_value(csm_dtype dt, int kind, ptrdiff_t j, ptrdiff_t n)
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
static LD *gen_rows(csm_dtype dt, const int *kinds, ptrdiff_t nrows, ptrdiff_t n)
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

/* cls: 0 finite max, 1 NaN in the row, 2 +inf (no NaN), 3 no entry above -inf (or empty) */
typedef struct {
    int cls;
    LD max, logs, scale; /* logs = log(sum exp(x - max)), in log(k) + log1p(rest / k) form */
    LD ties, rest;
} rowref;

static rowref ref_row(const LD *x, ptrdiff_t n, ptrdiff_t step)
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
 * Results stored in float16 / bfloat16 (okind): within one unit in the last place of that type
 * of the exact value (test_half_precision.py's test_within_one_ulp_of_float64), and below the
 * compute dtype's normal range within its smallest normal (the rule above).
 * Rows with no finite max follow reference.py: NaN anywhere makes the row NaN; +inf makes
 * softmax and log_softmax NaN and logsumexp +inf; a row with nothing above -inf gives NaN and
 * logsumexp -inf. rr: ref_row(x, n, xstep), computed once per row. `excluded` (or NULL): the
 * entries where=False masks, exactly 0 / -inf. */
static void check_family(int entry, csm_op op, csm_dtype dt, int okind, const LD *x,
                         ptrdiff_t xstep, ptrdiff_t n, const rowref *rr, const LD *got,
                         ptrdiff_t gstep, const unsigned char *excluded, int near_zero)
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
            /* below the compute dtype's normal range expm flushes to 0 (csm_exp.h) */
            tol = want < tiny ? tiny : half ? ulp_of(okind, want) : rtol * want;
        } else {
            want = (v - r.max) - r.logs;
            tol = half ? fmaxl(ulp_of(okind, want), fabsl(want) < tiny ? tiny : 0)
                       : 4 * eps * fmaxl(fmaxl(r.scale, fabsl(want)), 1);
        }
        check(entry, dt, okind, g, want, tol, j);
    }
}

/* the same bits for the 2-thread result as for the 1-thread one */
static void expect_same_bits(int entry, csm_dtype dt, const void *a, const void *b, size_t bytes)
{
    expect(entry, dt, memcmp(a, b, bytes) == 0, "1 and 2 threads differ", 0, 0, 0);
}

/* the bytes past each row's n results (row stride ld) are untouched (still 0xA5) */
static void expect_untouched(int entry, csm_dtype dt, const unsigned char *out, ptrdiff_t nrows,
                             ptrdiff_t n, ptrdiff_t ld, size_t es)
{
    int ok = 1;
    for (ptrdiff_t r = 0; r < nrows; r++)
        for (size_t b = (size_t)n * es; b < (size_t)ld * es; b++)
            ok &= out[(size_t)r * ld * es + b] == 0xA5;
    expect(entry, dt, ok, "wrote past a row's end", 0, 0, 0);
}

static int n_isas;
#define FOR_EACH_ISA                                                                               \
    for (cur_isa = 0; cur_isa < n_isas; cur_isa++)                                                 \
        if (csm_isa_supported(cur_isa) && csm_set_isa(cur_isa) == 0)

/* ------------------------------------------------------------------------ csm_rows */

static void test_rows(csm_dtype dt, ptrdiff_t n, int nrand)
{
    ptrdiff_t nrows = NSPECIAL + nrand, ldx = n + n % 3, ldo = n + 1;
    size_t es = esz(dt);
    int *kinds = xmalloc(sizeof(int) * (size_t)nrows);
    for (ptrdiff_t r = 0; r < nrows; r++) /* specials spread among the random rows */
        kinds[r] = r % 2 == 0 && r / 2 < NSPECIAL ? (int)(r / 2) : NSPECIAL + (int)(r % 4);
    /* every special kind once: the first NSPECIAL even rows are them when nrand >= NSPECIAL;
     * otherwise place the rest at the end */
    {
        int seen[NSPECIAL] = {0};
        for (ptrdiff_t r = 0; r < nrows; r++)
            if (kinds[r] < NSPECIAL) seen[kinds[r]] = 1;
        ptrdiff_t r = nrows - 1;
        for (int k = 0; k < NSPECIAL; k++)
            if (!seen[k]) {
                while (kinds[r] < NSPECIAL) r--;
                kinds[r] = k;
            }
    }
    LD *v = gen_rows(dt, kinds, nrows, n), *got = xmalloc(sizeof(LD) * (size_t)n);
    unsigned char *x = xmalloc((size_t)(nrows * ldx) * es);
    unsigned char *o1 = xmalloc((size_t)(nrows * ldo) * es),
                  *o2 = xmalloc((size_t)(nrows * ldo) * es);
    unsigned char *inpl = xmalloc((size_t)(nrows * ldx) * es);
    rowref *rr = xmalloc(sizeof(rowref) * (size_t)nrows);
    for (ptrdiff_t r = 0; r < nrows; r++) {
        rr[r] = ref_row(v + r * n, n, 1);
        for (ptrdiff_t j = 0; j < ldx; j++) set(dt, x, r * ldx + j, j < n ? v[r * n + j] : NAN);
    }
    FOR_EACH_ISA
    {
        for (int op = 0; op < 3; op++) {
            int entry = E_ROWS_SM + op;
            ptrdiff_t lo = op == CSM_LOGSUMEXP ? 2 : ldo, cnt = op == CSM_LOGSUMEXP ? 1 : n;
            memset(o1, 0xA5, (size_t)(nrows * ldo) * es);
            memset(o2, 0xA5, (size_t)(nrows * ldo) * es);
            csm_rows((csm_op)op, dt, x, o1, nrows, n, ldx, lo, 1);
            csm_rows((csm_op)op, dt, x, o2, nrows, n, ldx, lo, 2);
            for (ptrdiff_t r = 0; r < nrows; r++) {
                snprintf(ctx, sizeof ctx, "%s n=%td row %td (kind %d) ldx=%td",
                         dt ? "float64" : "float32", n, r, kinds[r], ldx);
                for (ptrdiff_t j = 0; j < cnt; j++) got[j] = get(dt, o1, r * lo + j);
                check_family(entry, (csm_op)op, dt, KIND(dt), v + r * n, 1, n, rr + r, got, 1, NULL,
                             kinds[r] == K_NEAR_ZERO);
            }
            snprintf(ctx, sizeof ctx, "%s n=%td", dt ? "float64" : "float32", n);
            expect_same_bits(entry, dt, o1, o2, (size_t)(nrows * lo) * es);
            expect_untouched(entry, dt, o1, nrows, cnt, lo, es);
            if (op != CSM_LOGSUMEXP) { /* in place: out == x (long rows may differ in bits) */
                memcpy(inpl, x, (size_t)(nrows * ldx) * es);
                csm_rows((csm_op)op, dt, inpl, inpl, nrows, n, ldx, ldx, 1);
                for (ptrdiff_t r = 0; r < nrows; r++) {
                    snprintf(ctx, sizeof ctx, "%s n=%td row %td (kind %d) in place",
                             dt ? "float64" : "float32", n, r, kinds[r]);
                    for (ptrdiff_t j = 0; j < n; j++) got[j] = get(dt, inpl, r * ldx + j);
                    check_family(entry, (csm_op)op, dt, KIND(dt), v + r * n, 1, n, rr + r, got, 1,
                                 NULL, 0);
                }
            }
        }
    }
    free(kinds), free(v), free(got), free(x), free(o1), free(o2), free(inpl), free(rr);
}

/* ------------------------------------------------------------------------ csm_cols */

static void test_cols(csm_dtype dt, ptrdiff_t nouter, ptrdiff_t nred, ptrdiff_t ninner, int seed)
{
    ptrdiff_t ncol = nouter * ninner, total = nouter * nred * ninner;
    size_t es = esz(dt);
    int *kinds = xmalloc(sizeof(int) * (size_t)ncol);
    for (ptrdiff_t c = 0; c < ncol; c++) kinds[c] = (int)((c * 5 + seed) % NKINDS);
    LD *v = gen_rows(dt, kinds, ncol, nred), *got = xmalloc(sizeof(LD) * (size_t)nred);
    unsigned char *x = xmalloc((size_t)total * es), *o1 = xmalloc((size_t)total * es);
    unsigned char *o2 = xmalloc((size_t)total * es);
    /* column (o, c) holds row o * ninner + c of v, down the middle axis */
    rowref *rr = xmalloc(sizeof(rowref) * (size_t)ncol);
    for (ptrdiff_t c = 0; c < ncol; c++) rr[c] = ref_row(v + c * nred, nred, 1);
    for (ptrdiff_t o = 0; o < nouter; o++)
        for (ptrdiff_t j = 0; j < nred; j++)
            for (ptrdiff_t c = 0; c < ninner; c++)
                set(dt, x, (o * nred + j) * ninner + c, v[(o * ninner + c) * nred + j]);
    FOR_EACH_ISA
    {
        for (int op = 0; op < 3; op++) {
            int entry = E_COLS_SM + op;
            ptrdiff_t size = op == CSM_LOGSUMEXP ? ncol : total;
            csm_cols((csm_op)op, dt, x, o1, nouter, nred, ninner, 1);
            csm_cols((csm_op)op, dt, x, o2, nouter, nred, ninner, 2);
            for (ptrdiff_t o = 0; o < nouter; o++)
                for (ptrdiff_t c = 0; c < ninner; c++) {
                    ptrdiff_t col = o * ninner + c;
                    snprintf(ctx, sizeof ctx, "%s (%td, %td, %td) column (%td, %td) kind %d",
                             dt ? "float64" : "float32", nouter, nred, ninner, o, c, kinds[col]);
                    if (op == CSM_LOGSUMEXP) got[0] = get(dt, o1, col);
                    else
                        for (ptrdiff_t j = 0; j < nred; j++)
                            got[j] = get(dt, o1, (o * nred + j) * ninner + c);
                    check_family(entry, (csm_op)op, dt, KIND(dt), v + col * nred, 1, nred, rr + col,
                                 got, 1, NULL, kinds[col] == K_NEAR_ZERO);
                }
            snprintf(ctx, sizeof ctx, "%s (%td, %td, %td)", dt ? "float64" : "float32", nouter,
                     nred, ninner);
            expect_same_bits(entry, dt, o1, o2, (size_t)size * es);
        }
    }
    free(kinds), free(v), free(got), free(x), free(o1), free(o2), free(rr);
}

/* ------------------------------------------------------------------- csm_rows_fused */

/* a * b and a + b rounded once to dt (in long double they would be rounded twice) */
static LD mul_t(csm_dtype dt, LD a, LD b)
{
    if (dt == CSM_FLOAT32) return (float)a * (float)b;
    return (double)a * (double)b;
}
static LD add_t(csm_dtype dt, LD a, LD b)
{
    if (dt == CSM_FLOAT32) return (float)a + (float)b;
    return (double)a + (double)b;
}

/* Layout variants: 0 plain rows (ldx > n), no scale, bias or where; 1 scale per row, one bias
 * row shared by every row (offset 0) with -inf entries, where= with one row all excluded; 2 the
 * transposed layout (a row's elements nrows apart) for input and output, a scalar scale, a
 * per-row bias broadcast along the row (step 0); 3 like 1 with x and out stored in float16;
 * 4 like 2 with bfloat16; 5 float16 input, float32 output, where=; 6 float32 input computed in
 * float64 (dtype=float64); 7 float16 in and out, nothing fused (csm_rows_half.h's own passes). */
static void test_fused(csm_dtype dt, ptrdiff_t n, int variant)
{
    static const int xkinds[8] = {
        -1, -1, -1, CSM_STORE_F16, CSM_STORE_BF16, CSM_STORE_F16, CSM_STORE_F32, CSM_STORE_F16};
    static const int okinds[8] = {
        -1, -1, -1, CSM_STORE_F16, CSM_STORE_BF16, CSM_STORE_F32, -1, CSM_STORE_F16};
    int xkind = xkinds[variant] < 0 ? KIND(dt) : xkinds[variant];
    int okind = okinds[variant] < 0 ? KIND(dt) : okinds[variant];
    int transposed = variant == 2 || variant == 4,
        use_where = variant == 1 || variant == 3 || variant == 5;
    int use_scale = variant == 1 || variant == 2 || variant == 3, bias_kind = 0;
    if (variant == 1 || variant == 3) bias_kind = 1; /* one shared row */
    if (variant == 2 || variant == 4) bias_kind = 2; /* one value per row */
    ptrdiff_t nrand = 6, nrows = NSPECIAL + nrand, ldx = n + 3;
    size_t xs = kind_size(xkind), os = kind_size(okind), es = esz(dt);
    int *kinds = xmalloc(sizeof(int) * (size_t)nrows);
    for (ptrdiff_t r = 0; r < nrows; r++) kinds[r] = (int)((r + variant) % nrows);
    LD *v = gen_rows(dt, kinds, nrows, n);
    LD *z = xmalloc(sizeof(LD) * (size_t)(nrows * n)), *got = xmalloc(sizeof(LD) * (size_t)n);
    unsigned char *x = xmalloc((size_t)(nrows * ldx) * xs);
    unsigned char *o1 = xmalloc((size_t)(nrows * ldx) * os),
                  *o2 = xmalloc((size_t)(nrows * ldx) * os);
    unsigned char *where = xmalloc((size_t)(nrows * n)), *bias = xmalloc((size_t)(nrows * n) * es);
    ptrdiff_t *xoff = xmalloc(sizeof(ptrdiff_t) * (size_t)nrows),
              *ooff = xmalloc(sizeof(ptrdiff_t) * (size_t)nrows);
    ptrdiff_t *loff = xmalloc(sizeof(ptrdiff_t) * (size_t)nrows),
              *boff = xmalloc(sizeof(ptrdiff_t) * (size_t)nrows);
    ptrdiff_t *woff = xmalloc(sizeof(ptrdiff_t) * (size_t)nrows);
    double *scale = xmalloc(sizeof(double) * (size_t)nrows);
    csm_fused_args a;
    memset(&a, 0, sizeof a);
    for (ptrdiff_t r = 0; r < nrows; r++) {
        scale[r] = use_scale ? (variant == 2 ? 0.5 : 0.25 + unif()) : 1;
        xoff[r] = (transposed ? r : r * ldx) * (ptrdiff_t)xs;
        ooff[r] = (transposed ? r : r * ldx) * (ptrdiff_t)os;
        loff[r] = 2 * r * (ptrdiff_t)os;
        boff[r] = bias_kind == 1 ? 0 : r * (ptrdiff_t)es;
        woff[r] = r * n;
        for (ptrdiff_t j = 0; j < n; j++) {
            ptrdiff_t at = transposed ? j * nrows + r : r * ldx + j;
            LD xv = set_k(xkind, x, at, v[r * n + j]); /* the value as stored */
            LD zv = round_to(KIND(dt), xv);
            if (use_scale) zv = mul_t(dt, zv, scale[variant == 2 ? 0 : r]);
            if (bias_kind == 1 && r == 0) set(dt, bias, j, j % 7 == 3 ? -INFINITY : normal());
            if (bias_kind == 2 && j == 0) set(dt, bias, r, normal() * 2);
            if (bias_kind) zv = add_t(dt, zv, get(dt, bias, bias_kind == 1 ? j : r));
            where[r * n + j] = use_where ? (r != 3 && unif() > 0.1) : 1;
            z[r * n + j] = where[r * n + j] ? zv : -INFINITY;
        }
    }
    a.x = (const char *)x, a.xoff = xoff,
    a.xstep = transposed ? nrows * (ptrdiff_t)xs : (ptrdiff_t)xs;
    a.xkind = (csm_storage)xkind, a.okind = (csm_storage)okind;
    a.nrows = nrows, a.n = n;
    if (use_scale) a.scale = scale, a.sstep = variant == 2 ? 0 : 1;
    if (bias_kind)
        a.bias = (const char *)bias, a.boff = boff, a.bstep = bias_kind == 1 ? (ptrdiff_t)es : 0;
    if (use_where) a.where = where, a.woff = woff, a.wstep = 1;
    unsigned char *excl = xmalloc((size_t)n);
    rowref *rr = xmalloc(sizeof(rowref) * (size_t)nrows);
    for (ptrdiff_t r = 0; r < nrows; r++) rr[r] = ref_row(z + r * n, n, 1);
    FOR_EACH_ISA
    {
        for (int op = 0; op < 3; op++) {
            int entry = E_FUSED_SM + op, lse = op == CSM_LOGSUMEXP;
            a.ooff = lse ? loff : ooff;
            a.ostep = lse ? 0 : transposed ? nrows * (ptrdiff_t)os : (ptrdiff_t)os;
            a.out = (char *)o1;
            int rc1 = csm_rows_fused((csm_op)op, dt, &a, 1);
            a.out = (char *)o2;
            int rc2 = csm_rows_fused((csm_op)op, dt, &a, 2);
            snprintf(ctx, sizeof ctx, "%s variant %d n=%td", dt ? "float64" : "float32", variant,
                     n);
            expect(entry, dt, rc1 == 0 && rc2 == 0, "returned nonzero", 0, rc1, 0);
            for (ptrdiff_t r = 0; r < nrows; r++) {
                int none = 1;
                snprintf(ctx, sizeof ctx, "%s variant %d n=%td row %td (kind %d)",
                         dt ? "float64" : "float32", variant, n, r, kinds[r]);
                for (ptrdiff_t j = 0; j < n; j++) {
                    excl[j] = !where[r * n + j];
                    none &= excl[j];
                    if (!lse) {
                        ptrdiff_t at = transposed ? j * nrows + r : r * ldx + j;
                        got[j] = get_k(okind, o1, at);
                        expect(entry, dt, !memcmp(o1 + at * os, o2 + at * os, os),
                               "1 and 2 threads differ", j, got[j], get_k(okind, o2, at));
                    }
                }
                if (lse) {
                    got[0] = get_k(okind, o1, 2 * r);
                    expect(entry, dt, !memcmp(o1 + 2 * r * os, o2 + 2 * r * os, os),
                           "1 and 2 threads differ", 0, got[0], get_k(okind, o2, 2 * r));
                }
                if (use_where && none) { /* none selected: 0 / -inf / -inf, never NaN */
                    LD want = op == CSM_SOFTMAX ? 0 : -INFINITY;
                    for (ptrdiff_t j = 0; j < (lse ? 1 : n); j++)
                        check(entry, dt, okind, got[j], want, 0, j);
                    continue;
                }
                check_family(entry, (csm_op)op, dt, okind, z + r * n, 1, n, rr + r, got, 1,
                             use_where ? excl : NULL, 0);
            }
        }
    }
    free(kinds), free(v), free(z), free(got), free(x), free(o1), free(o2), free(where);
    free(bias), free(xoff), free(ooff), free(loff), free(boff), free(woff), free(scale), free(excl);
    free(rr);
}

/* --------------------------------------------------------------- csm_cross_entropy */

/* Rows of C logits with index targets (variant 0-2) or soft targets (3-4); every row kind of
 * csm_losses.h: random, one with -inf entries, the tiny loss [0, -37, ...] at its max, one
 * ignored, a NaN row, a +inf row, an all -inf row. Bounds from tests/test_cross_entropy.py:
 * loss rtol 1e-12 atol 1e-300 (float64, test_options_float64_value_and_grad), rtol 2e-6 atol
 * 1e-7 (float32, test_options_float32), float32 gradient rtol 1e-5 atol 1e-7 (the same); the
 * float64 gradient rtol 1e-12 atol 1e-15 (the Python test's bound is against finite differences,
 * so this one is the closed-form gradient bound of test_sigmoid_and_bce.py's test_bce_gradient). */
static void test_cross_entropy(csm_dtype dt, ptrdiff_t C, int variant)
{
    const ptrdiff_t nrows = 12, ldx = C + 1, ldg = C + 2, ldq = C + 3;
    const long long IGN = -100;
    int soft = variant >= 3, weighted = variant == 1 || variant == 2 || variant == 3;
    double eps = variant == 1 || variant == 3 ? 0.3 : 0, gscale = variant == 1 ? 0.125 : 1;
    int with_grad = variant != 2;
    size_t es = esz(dt);
    LD *x = xmalloc(sizeof(LD) * (size_t)(nrows * C)),
       *q = xmalloc(sizeof(LD) * (size_t)(nrows * C));
    LD *wc = xmalloc(sizeof(LD) * (size_t)C);
    unsigned char *xb = xmalloc((size_t)(nrows * ldx) * es),
                  *qb = xmalloc((size_t)(nrows * ldq) * es);
    unsigned char *wb = xmalloc((size_t)C * es), *g1 = xmalloc((size_t)(nrows * ldg) * es);
    unsigned char *g2 = xmalloc((size_t)(nrows * ldg) * es);
    long long *target = xmalloc(sizeof(long long) * (size_t)nrows);
    double *l1 = xmalloc(sizeof(double) * (size_t)nrows),
           *l2 = xmalloc(sizeof(double) * (size_t)nrows);
    double W = 0;
    for (ptrdiff_t c = 0; c < C; c++) {
        wc[c] = weighted ? set(dt, wb, c, 0.5 + 1.5 * unif()) : 1;
        W += (double)wc[c];
    }
    for (ptrdiff_t r = 0; r < nrows; r++) {
        LD qs = 0;
        target[r] = (long long)(next64() % (uint64_t)C);
        for (ptrdiff_t c = 0; c < C; c++) {
            LD v = normal() * (r % 3 == 0 ? 10 : 3);
            if (r == 1) v = c == 0 ? 0 : -37; /* tiny loss, target at max */
            if (r == 2 && c % 4 == 1 && c != target[r]) v = -INFINITY;
            if (r == 4 && c == C / 2) v = NAN;
            if (r == 5 && c == C - 1) v = INFINITY;
            if (r == 6) v = -INFINITY;
            x[r * C + c] = set(dt, xb, r * ldx + c, v);
            q[r * C + c] = unif();
            qs += q[r * C + c];
        }
        for (ptrdiff_t c = 0; c < C; c++)
            q[r * C + c] = set(dt, qb, r * ldq + c, q[r * C + c] / qs);
        if (r == 1) target[r] = 0;
        if (r == 3 && !soft) target[r] = IGN;
    }
    csm_ce_args a;
    memset(&a, 0, sizeof a);
    a.x = xb, a.nrows = nrows, a.ncls = C, a.ldx = ldx, a.ignore_index = IGN;
    if (soft) a.prob = qb, a.ldq = ldq;
    else a.target = target;
    a.weight = weighted ? wb : NULL, a.weight_total = W, a.smoothing = eps, a.grad_scale = gscale;
    a.ldg = ldg;
    FOR_EACH_ISA
    {
        memset(g1, 0xA5, (size_t)(nrows * ldg) * es);
        memset(g2, 0xA5, (size_t)(nrows * ldg) * es);
        a.grad = with_grad ? g1 : NULL, a.loss = l1;
        int rc1 = csm_cross_entropy(dt, &a, 1);
        a.grad = with_grad ? g2 : NULL, a.loss = l2;
        int rc2 = csm_cross_entropy(dt, &a, 2);
        snprintf(ctx, sizeof ctx, "%s C=%td variant %d", dt ? "float64" : "float32", C, variant);
        expect(E_CE, dt, rc1 == 0 && rc2 == 0, "returned nonzero", 0, rc1, 0);
        expect_same_bits(E_CE, dt, l1, l2, sizeof(double) * (size_t)nrows);
        if (with_grad) expect_same_bits(E_CE, dt, g1, g2, (size_t)(nrows * ldg) * es);
        for (ptrdiff_t r = 0; r < nrows; r++) {
            const LD *xr = x + r * C, *qr = q + r * C;
            rowref rf = ref_row(xr, C, 1);
            LD loss, S = rf.ties + rf.rest, L = rf.logs, lrtol = dt ? 1e-12 : 2e-6,
                     latol = dt ? 1e-300 : 1e-7;
            /* (float32: the atol scaled by the largest class weight, as the gradient is a
             * difference of terms of that size: with C = 1 it is sum(coef) - coef, 0 exactly, and
             * float32 rounding leaves 1 ulp of coef, 1.19e-7 for coef = 1.3, above 1e-7) */
            LD grtol = dt ? 1e-12 : 1e-5, gatol = dt ? 1e-15 : 1e-7 * (weighted ? 2 : 1);
            ptrdiff_t t = target[r];
            snprintf(ctx, sizeof ctx, "%s C=%td variant %d row %td", dt ? "float64" : "float32", C,
                     variant, r);
            if (!soft && t == IGN) {
                check(E_CE, dt, CSM_STORE_F64, l1[r], 0, 0, r);
                for (ptrdiff_t c = 0; with_grad && c < C; c++)
                    check(E_CE, dt, KIND(dt), get(dt, g1, r * ldg + c), 0, 0, c);
                continue;
            }
            if (rf.cls) {
                check(E_CE, dt, CSM_STORE_F64, l1[r], NAN, 0, r);
                for (ptrdiff_t c = 0; with_grad && c < C; c++)
                    check(E_CE, dt, KIND(dt), get(dt, g1, r * ldg + c), NAN, 0, c);
                continue;
            }
            LD sumcoef = 0, shift = 0;
            if (soft) {
                for (ptrdiff_t c = 0; c < C; c++) {
                    LD coef = ((1 - eps) * qr[c] + eps / C) * wc[c];
                    sumcoef += coef;
                    if (coef != 0) shift += coef * (xr[c] - rf.max);
                }
                loss = sumcoef * L - shift;
            } else {
                for (ptrdiff_t c = 0; c < C; c++) shift += wc[c] * (xr[c] - rf.max);
                loss = (1 - eps) * wc[t] * (L - (xr[t] - rf.max));
                if (eps != 0) loss += eps / C * (W * L - shift);
            }
            check(E_CE, dt, CSM_STORE_F64, l1[r], loss, close_tol(loss, lrtol, latol), r);
            for (ptrdiff_t c = 0; with_grad && c < C; c++) {
                LD e = expl(xr[c] - rf.max), p = e / S, g;
                if (soft) g = sumcoef * p - ((1 - eps) * qr[c] + eps / C) * wc[c];
                else {
                    LD pm = p; /* p - onehot; 1 - p_t as the other terms' sum, no cancellation */
                    if (c == t) {
                        LD others = 0;
                        for (ptrdiff_t k = 0; k < C; k++)
                            if (k != t) others += expl(xr[k] - rf.max);
                        pm = -others / S;
                    }
                    g = (1 - eps) * wc[t] * pm + eps / C * (W * p - wc[c]);
                }
                g *= gscale;
                check(E_CE, dt, KIND(dt), get(dt, g1, r * ldg + c), g, close_tol(g, grtol, gatol),
                      c);
            }
        }
    }
    free(x), free(q), free(wc), free(xb), free(qb), free(wb), free(g1), free(g2), free(target);
    free(l1), free(l2);
}

/* csm_ce_check_targets and csm_sum: exact (integer logic, and a sum in index order) */
static void test_targets_and_sum(csm_dtype dt)
{
    long long t[5] = {0, 2, -100, 1, 2};
    unsigned char w[3 * 8];
    double d = -1, v[1000], s = 0;
    for (int c = 0; c < 3; c++) set(dt, w, c, c + 1);
    for (int i = 0; i < 1000; i++) v[i] = normal() * (i % 7 == 0 ? 1e10 : 1);
    for (int i = 0; i < 1000; i++) s += v[i];
    FOR_EACH_ISA
    {
        snprintf(ctx, sizeof ctx, "%s", dt ? "float64" : "float32");
        ptrdiff_t bad = csm_ce_check_targets(dt, t, 5, 3, -100, w, &d);
        expect(E_CE_TARGETS, dt, bad == -1 && d == 1 + 3 + 2 + 3, "weighted", bad, d, 9);
        bad = csm_ce_check_targets(dt, t, 5, 3, -100, NULL, &d);
        expect(E_CE_TARGETS, dt, bad == -1 && d == 4, "count", bad, d, 4);
        t[3] = 3;
        bad = csm_ce_check_targets(dt, t, 5, 3, -100, NULL, &d);
        expect(E_CE_TARGETS, dt, bad == 3, "out of range", bad, bad, 3);
        t[3] = -1;
        bad = csm_ce_check_targets(dt, t, 5, 3, -100, NULL, &d);
        expect(E_CE_TARGETS, dt, bad == 3, "negative", bad, bad, 3);
        t[3] = 1;
        double got = csm_sum(v, 1000);
        expect(E_SUM, dt, got == s, "index order", 0, got, s);
        expect(E_SUM, dt, csm_sum(v, 0) == 0, "empty", 0, csm_sum(v, 0), 0);
    }
}

/* ------------------------------------------------- csm_row_stats, csm_rows_from_stats */

/* The statistics of each row and of its two chunks [0, n/3) and [n/3, n), combined here as
 * csoftmax/_stats.py's combine_softmax_stats does; then each chunk normalized from the combined
 * statistics, checked as the whole row's softmax / log_softmax (test_accuracy.py's bounds), and
 * the cross-entropy gradient form out = softmax * scale - bias * wc. Bounds: max exact and
 * excess rtol 1e-6 / 1e-14 (test_softmax_stats.py, test_stats_fast_against_reference); the
 * gradient form rtol 64 eps atol 16 eps (test_cross_entropy_from_stats). */
static void combine(double ma, double ea, double mb, double eb, double *m, double *e)
{
    if (isnan(ea) || isnan(eb)) {
        *m = fmax(ma, mb), *e = NAN;
        return;
    }
    *m = fmax(ma, mb);
    if (*m == -INFINITY) {
        *e = -1;
        return;
    }
    if (*m == INFINITY) {
        *e = 0;
        return;
    }
    LD ties = (ma == *m) + (mb == *m), ex = ties - 1;
    ex += ma == *m ? (LD)ea : ma > -INFINITY ? (1 + (LD)ea) * expl((LD)ma - *m) : 0;
    ex += mb == *m ? (LD)eb : mb > -INFINITY ? (1 + (LD)eb) * expl((LD)mb - *m) : 0;
    *e = (double)ex;
}

static void test_stats(csm_dtype dt, ptrdiff_t n)
{
    ptrdiff_t nrows = NKINDS + 2, ldx = n + 2, ldo = n + 1, c = n / 3;
    size_t es = esz(dt);
    int *kinds = xmalloc(sizeof(int) * (size_t)nrows);
    for (ptrdiff_t r = 0; r < nrows; r++) kinds[r] = (int)(r % NKINDS);
    LD *v = gen_rows(dt, kinds, nrows, n), *got = xmalloc(sizeof(LD) * (size_t)n);
    unsigned char *x = xmalloc((size_t)(nrows * ldx) * es),
                  *o = xmalloc((size_t)(nrows * ldo) * es);
    unsigned char *wcb = xmalloc((size_t)n * es);
    double *m1 = xmalloc(sizeof(double) * 6 * (size_t)nrows), *e1 = m1 + nrows, *ma = e1 + nrows;
    double *ea = ma + nrows, *mb = ea + nrows, *eb = mb + nrows;
    double *m2 = xmalloc(sizeof(double) * 6 * (size_t)nrows), *e2 = m2 + nrows, *mc = e2 + nrows;
    double *ec = mc + nrows, *scale = ec + nrows, *bias = scale + nrows;
    rowref *rr = xmalloc(sizeof(rowref) * (size_t)nrows);
    for (ptrdiff_t r = 0; r < nrows; r++) {
        rr[r] = ref_row(v + r * n, n, 1);
        for (ptrdiff_t j = 0; j < n; j++) set(dt, x, r * ldx + j, v[r * n + j]);
        scale[r] = 0.5 + unif(), bias[r] = normal();
    }
    for (ptrdiff_t j = 0; j < n; j++) set(dt, wcb, j, 0.5 + unif());
    LD eps = eps_of(dt), srtol = dt ? 1e-14 : 1e-6;
    FOR_EACH_ISA
    {
        csm_row_stats(dt, x, nrows, n, ldx, m1, e1, 1);
        csm_row_stats(dt, x, nrows, n, ldx, m2, e2, 2);
        snprintf(ctx, sizeof ctx, "%s n=%td", dt ? "float64" : "float32", n);
        expect_same_bits(E_STATS, dt, m1, m2, sizeof(double) * (size_t)nrows);
        expect_same_bits(E_STATS, dt, e1, e2, sizeof(double) * (size_t)nrows);
        for (ptrdiff_t r = 0; r < nrows; r++) {
            const LD *xr = v + r * n;
            LD mx = -INFINITY, ex;
            int nan = 0;
            for (ptrdiff_t j = 0; j < n; j++) {
                nan |= isnan(xr[j]);
                if (xr[j] > mx) mx = xr[j];
            }
            ex = nan              ? NAN
                : mx == -INFINITY ? -1
                : mx == INFINITY  ? 0
                                  : rr[r].ties - 1 + rr[r].rest;
            snprintf(ctx, sizeof ctx, "%s n=%td row %td (kind %d)", dt ? "float64" : "float32", n,
                     r, kinds[r]);
            check(E_STATS, dt, CSM_STORE_F64, m1[r], mx, 0, r);
            /* terms below the dtype's normal range are flushed to 0 (csm_exp.h): n of them at most
             * (test_accuracy.py's absolute bound below the normal range, per term) */
            check(E_STATS, dt, CSM_STORE_F64, e1[r], ex, srtol * fabsl(ex) + n * tiny_of(KIND(dt)),
                  r);
        }
        /* the two chunks (the first empty when n < 3) */
        csm_row_stats(dt, x, nrows, c, ldx, ma, ea, 1);
        csm_row_stats(dt, (char *)x + (size_t)c * es, nrows, n - c, ldx, mb, eb, 2);
        for (ptrdiff_t r = 0; r < nrows; r++) combine(ma[r], ea[r], mb[r], eb[r], mc + r, ec + r);
        for (int log = 0; log < 2; log++) {
            int entry = log ? E_FROM_STATS_LSM : E_FROM_STATS_SM;
            csm_op op = log ? CSM_LOG_SOFTMAX : CSM_SOFTMAX;
            csm_rows_from_stats(op, dt, x, o, nrows, c, ldx, ldo, mc, ec, NULL, NULL, NULL, 1);
            csm_rows_from_stats(op, dt, (char *)x + (size_t)c * es, (char *)o + (size_t)c * es,
                                nrows, n - c, ldx, ldo, mc, ec, NULL, NULL, NULL, 2);
            for (ptrdiff_t r = 0; r < nrows; r++) {
                snprintf(ctx, sizeof ctx, "%s n=%td split at %td row %td (kind %d)",
                         dt ? "float64" : "float32", n, c, r, kinds[r]);
                for (ptrdiff_t j = 0; j < n; j++) got[j] = get(dt, o, r * ldo + j);
                check_family(entry, op, dt, KIND(dt), v + r * n, 1, n, rr + r, got, 1, NULL, 0);
            }
        }
        /* softmax * scale - bias * wc from the whole rows' statistics, wc and bias optional */
        for (int form = 0; form < 2; form++) {
            csm_rows_from_stats(CSM_SOFTMAX, dt, x, o, nrows, n, ldx, ldo, m1, e1, scale,
                                form ? bias : NULL, form ? wcb : NULL, 1);
            for (ptrdiff_t r = 0; r < nrows; r++) {
                snprintf(ctx, sizeof ctx, "%s n=%td gradient form %d row %td (kind %d)",
                         dt ? "float64" : "float32", n, form, r, kinds[r]);
                for (ptrdiff_t j = 0; j < n; j++) {
                    LD xv = v[r * n + j],
                       p = rr[r].cls ? NAN : expl(xv - rr[r].max) / (rr[r].ties + rr[r].rest);
                    LD want = p * scale[r] - (form ? bias[r] * get(dt, wcb, j) : 0);
                    check(E_FROM_STATS_SM, dt, KIND(dt), get(dt, o, r * ldo + j), want,
                          close_tol(want, 64 * (double)eps, 16 * (double)eps), j);
                }
            }
        }
    }
    free(kinds), free(v), free(got), free(x), free(o), free(wcb), free(m1), free(m2), free(rr);
}

/* ------------------------------------------------------------ csm_softmax_backward */

/* g random, y a softmax (log = 0) or log_softmax (log = 1) output with -inf logits (0 / -inf
 * entries). Bound: rtol = atol = 1e-5 (float32), 1e-13 (float64), tests/test_softmax_backward.py
 * (test_dtypes_against_float64). */
static void test_backward(csm_dtype dt, ptrdiff_t n)
{
    const ptrdiff_t nrows = 5;
    size_t es = esz(dt), bytes = (size_t)(nrows * n) * es;
    LD *gv = xmalloc(sizeof(LD) * (size_t)(nrows * n)),
       *yv = xmalloc(sizeof(LD) * (size_t)(nrows * n));
    unsigned char *g = xmalloc(bytes), *y = xmalloc(bytes), *o1 = xmalloc(bytes),
                  *o2 = xmalloc(bytes);
    double tol = dt ? 1e-13 : 1e-5;
    for (int log = 0; log < 2; log++) {
        int entry = log ? E_LOG_BWD : E_BWD;
        for (ptrdiff_t r = 0; r < nrows; r++) {
            LD *xr = xmalloc(sizeof(LD) * (size_t)n);
            for (ptrdiff_t j = 0; j < n; j++) {
                xr[j] = normal() * (r + 1);
                if (r == 2 && j % 3 == 1 && n > 1) xr[j] = -INFINITY;
                gv[r * n + j] = set(dt, g, r * n + j, normal());
            }
            rowref rf = ref_row(xr, n, 1);
            for (ptrdiff_t j = 0; j < n; j++) {
                LD d = xr[j] - rf.max;
                yv[r * n + j] = set(dt, y, r * n + j,
                                    log ? d - rf.logs : expl(d) / (rf.ties + rf.rest));
            }
            free(xr);
        }
        FOR_EACH_ISA
        {
            csm_softmax_backward(dt, log, g, y, o1, nrows, n, 1);
            csm_softmax_backward(dt, log, g, y, o2, nrows, n, 2);
            snprintf(ctx, sizeof ctx, "%s n=%td", dt ? "float64" : "float32", n);
            expect_same_bits(entry, dt, o1, o2, bytes);
            for (ptrdiff_t r = 0; r < nrows; r++) {
                LD s = 0;
                for (ptrdiff_t j = 0; j < n; j++)
                    s += log ? gv[r * n + j] : gv[r * n + j] * yv[r * n + j];
                snprintf(ctx, sizeof ctx, "%s n=%td row %td", dt ? "float64" : "float32", n, r);
                for (ptrdiff_t j = 0; j < n; j++) {
                    LD gj = gv[r * n + j], yj = yv[r * n + j];
                    LD want = log ? gj - expl(yj) * s : yj * (gj - s);
                    check(entry, dt, KIND(dt), get(dt, o1, r * n + j), want,
                          close_tol(want, tol, tol), j);
                }
            }
        }
    }
    free(gv), free(yv), free(g), free(y), free(o1), free(o2);
}

/* ------------------------------------------------- csm_sigmoid, csm_binary_cross_entropy */

/* x: both tails, 0, +-inf, NaN, tiny and huge; below the normal range the absolute error
 * <= the smallest normal (test_accuracy.py's rule for softmax). */
static LD elementwise_x(ptrdiff_t j)
{
    static const double fixed[] = {0,   -0.0, INFINITY, -INFINITY, NAN,    1000, -1000, 40,
                                   -40, -80,  80,       1e-30,     -1e-30, 17.5, -17.5, 0.5};
    if (j % 5 == 0) return fixed[(j / 5) % 16];
    if (j % 5 == 1) return -40 + 80 * unif();
    return normal() * (j % 5 == 2 ? 1 : 10);
}

static LD below_normal(csm_dtype dt, LD want, LD tol)
{
    return fabsl(want) < tiny_of(KIND(dt)) && tol < tiny_of(KIND(dt)) ? tiny_of(KIND(dt)) : tol;
}

/* Bounds: sigmoid rtol 1e-15 and log_sigmoid 1e-14 in float64, 1e-6 in float32
 * (tests/test_sigmoid_and_bce.py, test_sigmoid_values and test_log_sigmoid_values). */
static void test_sigmoid(csm_dtype dt, ptrdiff_t n)
{
    size_t es = esz(dt);
    LD *xv = xmalloc(sizeof(LD) * (size_t)n);
    unsigned char *x = xmalloc((size_t)n * es), *o = xmalloc((size_t)(n + 1) * es);
    for (ptrdiff_t j = 0; j < n; j++) xv[j] = set(dt, x, j, elementwise_x(j));
    for (int log = 0; log < 2; log++) {
        int entry = log ? E_LOG_SIGMOID : E_SIGMOID;
        double rtol = dt == CSM_FLOAT32 ? 1e-6 : log ? 1e-14 : 1e-15;
        FOR_EACH_ISA
        {
            memset(o, 0xA5, (size_t)(n + 1) * es);
            csm_sigmoid(dt, log, x, o, n);
            snprintf(ctx, sizeof ctx, "%s n=%td", dt ? "float64" : "float32", n);
            expect_untouched(entry, dt, o, 1, n, n + 1, es);
            for (ptrdiff_t j = 0; j < n; j++) {
                LD v = xv[j], e = expl(-fabsl(v)), want;
                if (log) want = isnan(v) ? NAN : (v < 0 ? v : 0) - log1pl(e);
                else want = isnan(v) ? NAN : v >= 0 ? 1 / (1 + e) : e / (1 + e);
                check(entry, dt, KIND(dt), get(dt, o, j), want,
                      below_normal(dt, want, rtol * fabsl(want)), j);
            }
        }
    }
    free(xv), free(x), free(o);
}

/* Bounds (tests/test_sigmoid_and_bce.py): loss rtol 1e-13 (float64), 2e-6 (float32,
 * test_bce_low_precision); gradient rtol 1e-12 atol 1e-15 (float64, the closed-form check), rtol
 * 2e-6 atol 2e-8 (float32, test_bce_low_precision); the returned sum with the loss's rtol. */
static void test_bce(csm_dtype dt, ptrdiff_t n)
{
    size_t es = esz(dt);
    LD *xv = xmalloc(sizeof(LD) * (size_t)n * 3), *tv = xv + n, *wv = tv + n;
    unsigned char *x = xmalloc((size_t)n * es * 3), *t = x + n * es, *w = t + n * es;
    unsigned char *loss = xmalloc((size_t)n * es), *grad = xmalloc((size_t)n * es);
    double lrtol = dt ? 1e-13 : 2e-6, grtol = dt ? 1e-12 : 2e-6, gatol = dt ? 1e-15 : 2e-8;
    const double gs = 0.5;
    for (ptrdiff_t j = 0; j < n; j++) {
        xv[j] = set(dt, x, j, elementwise_x(j));
        tv[j] = set(dt, t, j, j % 7 == 0 ? 0 : j % 7 == 1 ? 1 : unif());
        wv[j] = set(dt, w, j, j % 11 == 4 ? 0 : 2 * unif());
    }
    for (int variant = 0; variant < 3; variant++) { /* no weight; weight; weight, sum only */
        int weighted = variant > 0, outs = variant < 2;
        FOR_EACH_ISA
        {
            double sum = csm_binary_cross_entropy(dt, x, t, weighted ? w : NULL, n, gs,
                                                  outs ? loss : NULL, outs ? grad : NULL);
            LD want_sum = 0, abs_sum = 0;
            snprintf(ctx, sizeof ctx, "%s n=%td variant %d", dt ? "float64" : "float32", n,
                     variant);
            for (ptrdiff_t j = 0; j < n; j++) {
                LD v = xv[j], tj = tv[j], wj = weighted ? wv[j] : 1, e = expl(-fabsl(v));
                LD f = v >= 0 ? 1 - tj : tj, l, g;
                l = isnan(v) ? NAN : (f == 0 ? 0 : fabsl(v) * f) + log1pl(e);
                if (weighted) l = wj == 0 ? 0 : wj * l;
                g = isnan(v) ? NAN : gs * wj * ((v >= 0 ? 1 / (1 + e) : e / (1 + e)) - tj);
                want_sum += l;
                abs_sum += fabsl(l);
                if (!outs) continue;
                check(E_BCE, dt, KIND(dt), get(dt, loss, j), l,
                      below_normal(dt, l, lrtol * fabsl(l)), j);
                /* float32: the atol is the Python test's at its gradient factor gs w = 1/12 (a
                 * mean over 12 elements), scaled to this one's (the gradient is gs w times a
                 * difference of terms up to 1, (1 - t) - sigmoid(-|x|), each rounded to float32) */
                LD ga = dt ? gatol : gatol * 12 * gs * wj;
                check(E_BCE, dt, KIND(dt), get(dt, grad, j), g,
                      below_normal(dt, g, close_tol(g, grtol, (double)ga)), j);
            }
            check(E_BCE, dt, CSM_STORE_F64, sum, want_sum, lrtol * abs_sum, -1);
        }
    }
    free(xv), free(x), free(loss), free(grad);
}

/* ---------------------------------------------------- csm_top_k_softmax, csm_sample */

static const LD *sort_key;
static int by_key_desc(const void *pa, const void *pb)
{
    ptrdiff_t a = *(const ptrdiff_t *)pa, b = *(const ptrdiff_t *)pb;
    if (sort_key[a] != sort_key[b]) return sort_key[a] > sort_key[b] ? -1 : 1;
    return a < b ? -1 : 1; /* ties by lower index first */
}

/* status of a row (csoftmax.h): 1 NaN or +inf, 2 no finite entry, 3 max / temperature overflows */
static int row_status(csm_dtype dt, const LD *x, ptrdiff_t n, double inv_t)
{
    rowref r = ref_row(x, n, 1);
    if (r.cls == 1 || r.cls == 2) return 1;
    if (r.cls == 3) return 2;
    return isinf(round_to(KIND(dt), r.max * (LD)round_to(KIND(dt), inv_t))) ? 3 : 0;
}

/* Rows: random N(0, 3^2) logits and the status rows (NaN, +inf, all -inf, half -inf, all ties,
 * x near the dtype's max with temperature 0.8). Bounds (tests/test_decoding.py,
 * test_top_k_fast_equals_reference): indices equal; values rtol 2e-6 atol 2e-5 (float32), rtol
 * 1e-12 atol 1e-11 (float64). */
static void test_top_k(csm_dtype dt, ptrdiff_t n, ptrdiff_t k)
{
    static const int special[6] = {0, 4, 9, 11, 10, 13};
    const ptrdiff_t nrand = 9, nrows = nrand + 6, ldx = n + 1;
    const double inv_t = 1 / 0.8;
    size_t es = esz(dt);
    LD *xv = xmalloc(sizeof(LD) * (size_t)(nrows * n)),
       *ls = xmalloc(sizeof(LD) * (size_t)(nrows * n));
    ptrdiff_t *order = xmalloc(sizeof(ptrdiff_t) * (size_t)(nrows * n));
    unsigned char *x = xmalloc((size_t)(nrows * ldx) * es);
    unsigned char *v1 = xmalloc((size_t)(nrows * k) * es + 1),
                  *v2 = xmalloc((size_t)(nrows * k) * es + 1);
    long long *i1 = xmalloc(sizeof(long long) * (size_t)(nrows * k) + 1);
    long long *i2 = xmalloc(sizeof(long long) * (size_t)(nrows * k) + 1);
    signed char st1[16], st2[16];
    int want_st[16];
    for (ptrdiff_t r = 0; r < nrows; r++) {
        LD *xr = xv + r * n, *lr = ls + r * n, m = -INFINITY, s = 0;
        ptrdiff_t *o = order + r * n;
        for (ptrdiff_t j = 0; j < n; j++) {
            LD v = r < nrand ? normal() * 3 : gen_value(dt, special[r - nrand], j, n);
            if (r >= nrand && special[r - nrand] == 13)
                v = (dt ? 1e308 : 3e38) * (j == n / 2 ? 1 : 0.5);
            xr[j] = set(dt, x, r * ldx + j, v);
        }
        want_st[r] = row_status(dt, xr, n, inv_t);
        if (want_st[r]) continue;
        /* the reference: log-probabilities of z = x / temperature, and the first k of their
         * order (descending, ties by lower index) */
        for (ptrdiff_t j = 0; j < n; j++) m = fmaxl(m, xr[j] * (LD)inv_t);
        for (ptrdiff_t j = 0; j < n; j++) s += expl(xr[j] * (LD)inv_t - m);
        for (ptrdiff_t j = 0; j < n; j++) lr[j] = xr[j] * (LD)inv_t - m - logl(s), o[j] = j;
        sort_key = lr;
        for (ptrdiff_t j = 0; j < k; j++) {
            ptrdiff_t best = j;
            for (ptrdiff_t i = j + 1; i < n; i++)
                if (by_key_desc(o + i, o + best) < 0) best = i;
            ptrdiff_t tmp = o[j];
            o[j] = o[best], o[best] = tmp;
        }
    }
    for (int log = 0; log < 2; log++) {
        csm_decode_args a;
        memset(&a, 0, sizeof a);
        a.x = x, a.nrows = nrows, a.n = n, a.ldx = ldx, a.inv_temp = inv_t, a.k = k, a.top_p = 1;
        a.log = log;
        FOR_EACH_ISA
        {
            a.values = v1, a.indices = i1, a.status = st1;
            int rc1 = csm_top_k_softmax(dt, &a, 1);
            a.values = v2, a.indices = i2, a.status = st2;
            int rc2 = csm_top_k_softmax(dt, &a, 2);
            snprintf(ctx, sizeof ctx, "%s n=%td k=%td log=%d", dt ? "float64" : "float32", n, k,
                     log);
            expect(E_TOPK, dt, rc1 == 0 && rc2 == 0, "returned nonzero", 0, rc1, 0);
            expect_same_bits(E_TOPK, dt, st1, st2, (size_t)nrows);
            for (ptrdiff_t r = 0; r < nrows; r++) {
                const LD *lr = ls + r * n;
                const ptrdiff_t *o = order + r * n;
                snprintf(ctx, sizeof ctx, "%s n=%td k=%td log=%d row %td",
                         dt ? "float64" : "float32", n, k, log, r);
                if (!expect(E_TOPK, dt, st1[r] == want_st[r], "status", r, st1[r], want_st[r])
                    || want_st[r])
                    continue;
                expect(E_TOPK, dt,
                       !memcmp(v1 + (size_t)(r * k) * es, v2 + (size_t)(r * k) * es, (size_t)k * es)
                           && !memcmp(i1 + r * k, i2 + r * k, sizeof(long long) * (size_t)k),
                       "1 and 2 threads differ", r, 0, 0);
                for (ptrdiff_t j = 0; j < k; j++) {
                    LD want = log ? lr[o[j]] : expl(lr[o[j]]);
                    expect(E_TOPK, dt, i1[r * k + j] == o[j], "index", j, (LD)i1[r * k + j],
                           (LD)o[j]);
                    check(E_TOPK, dt, KIND(dt), get(dt, v1, r * k + j), want,
                          close_tol(want, dt ? 1e-12 : 2e-6, dt ? 1e-11 : 2e-5), j);
                }
            }
        }
    }
    free(xv), free(ls), free(order), free(x), free(v1), free(v2), free(i1), free(i2);
}

/* the index csoftmax/_reference_decoding.py's _sample_row draws, in long double */
static long long ref_sample(const LD *x, ptrdiff_t n, double inv_t, ptrdiff_t top_k, double top_p,
                            double min_p, double u, LD *p, ptrdiff_t *order, unsigned char *keep)
{
    ptrdiff_t j;
    if (inv_t == 0) {
        ptrdiff_t best = 0;
        for (j = 1; j < n; j++)
            if (x[j] > x[best]) best = j;
        return best;
    }
    LD m = -INFINITY, s = 0, pmax = 0, q = 0, cum = 0;
    for (j = 0; j < n; j++) p[j] = x[j] * (LD)inv_t, order[j] = j, keep[j] = 1;
    if (top_k > 0) {
        sort_key = p;
        qsort(order, (size_t)n, sizeof *order, by_key_desc);
        LD kth = p[order[top_k - 1]];
        for (j = 0; j < n; j++) keep[j] = p[j] >= kth;
    }
    for (j = 0; j < n; j++)
        if (keep[j]) m = fmaxl(m, p[j]);
    for (j = 0; j < n; j++) s += keep[j] ? expl(p[j] - m) : 0;
    for (j = 0; j < n; j++) p[j] = keep[j] ? expl(p[j] - m) / s : 0, pmax = fmaxl(pmax, p[j]);
    if (top_p < 1) { /* keep i when the mass strictly above p_i is < top_p */
        LD above = 0;
        for (j = 0; j < n; j++) order[j] = j;
        sort_key = p;
        qsort(order, (size_t)n, sizeof *order, by_key_desc);
        for (ptrdiff_t a = 0; a < n && p[order[a]] > 0;) {
            ptrdiff_t b = a;
            while (b < n && p[order[b]] == p[order[a]]) b++;
            for (ptrdiff_t c = a; c < b; c++) keep[order[c]] &= above < top_p;
            for (ptrdiff_t c = a; c < b; c++) above += p[order[c]];
            a = b;
        }
    }
    if (min_p > 0)
        for (j = 0; j < n; j++) keep[j] &= p[j] >= min_p * pmax;
    for (j = 0; j < n; j++) q += keep[j] ? p[j] : 0;
    long long last = -1;
    for (j = 0; j < n; j++) {
        if (!keep[j] || p[j] == 0) continue;
        last = j;
        cum += p[j] / q;
        if (cum > u) return j;
    }
    return last;
}

/* Options of tests/test_decoding.py's OPTIONS (temperature, top_k, top_p, min_p; top_k past n
 * means all). Bound (test_sample_fast_equals_reference): of the 12 rows of each case at most one
 * index differs from the reference (a uniform within rounding of a cumulative boundary). */
static void test_sample(csm_dtype dt, ptrdiff_t n)
{
    static const double opts[11][4] = {{1, 0, 1, 0},        {1, 50, 1, 0},  {1, 0, 0.9, 0},
                                       {1, 0, 1, 0.05},     {0, 0, 1, 0},   {0.8, 50, 0.95, 0},
                                       {1.7, 0, 0.3, 0.02}, {1, 3, 1, 0.5}, {1, 10000, 1, 0},
                                       {1, 2000, 0.9, 0},   {1, 0, 1.0, 0}};
    const ptrdiff_t nrows = 12, ldx = n + 2;
    size_t es = esz(dt);
    LD *xv = xmalloc(sizeof(LD) * (size_t)(nrows * n)), *p = xmalloc(sizeof(LD) * (size_t)n);
    ptrdiff_t *order = xmalloc(sizeof(ptrdiff_t) * (size_t)n);
    unsigned char *keep = xmalloc((size_t)n), *x = xmalloc((size_t)(nrows * ldx) * es);
    long long i1[12], i2[12], want[12];
    signed char st1[12], st2[12];
    double u[12];
    for (ptrdiff_t r = 0; r < nrows; r++) {
        u[r] = unif();
        for (ptrdiff_t j = 0; j < n; j++) xv[r * n + j] = set(dt, x, r * ldx + j, normal() * 3);
    }
    for (int o = 0; o < 11; o++) {
        csm_decode_args a;
        memset(&a, 0, sizeof a);
        ptrdiff_t k = (ptrdiff_t)opts[o][1] > n ? n : (ptrdiff_t)opts[o][1];
        a.x = x, a.nrows = nrows, a.n = n, a.ldx = ldx,
        a.inv_temp = opts[o][0] ? 1 / opts[o][0] : 0;
        a.k = k, a.top_p = opts[o][2], a.min_p = opts[o][3], a.u = u;
        for (ptrdiff_t r = 0; r < nrows; r++)
            want[r] = ref_sample(xv + r * n, n, a.inv_temp, k, a.top_p, a.min_p, u[r], p, order,
                                 keep);
        FOR_EACH_ISA
        {
            a.indices = i1, a.status = st1;
            int rc1 = csm_sample(dt, &a, 1);
            a.indices = i2, a.status = st2;
            int rc2 = csm_sample(dt, &a, 2);
            int differ = 0, bad_status = 0;
            snprintf(ctx, sizeof ctx, "%s n=%td options %d", dt ? "float64" : "float32", n, o);
            expect(E_SAMPLE, dt, rc1 == 0 && rc2 == 0, "returned nonzero", 0, rc1, 0);
            expect_same_bits(E_SAMPLE, dt, i1, i2, sizeof i1);
            for (ptrdiff_t r = 0; r < nrows; r++) {
                differ += i1[r] != want[r];
                bad_status += st1[r] != 0;
            }
            expect(E_SAMPLE, dt, bad_status == 0, "status", 0, bad_status, 0);
            expect(E_SAMPLE, dt, differ <= 1, "rows differing from the reference", 0, differ, 1);
        }
    }
    /* status rows: NaN, +inf, all -inf, and a row of one finite value among -inf */
    {
        static const int special[4] = {0, 4, 9, 11};
        signed char st[4];
        long long idx[4];
        double uu[4] = {0.3712345, 0.3712345, 0.3712345, 0.3712345}; /* on no boundary */
        for (ptrdiff_t r = 0; r < 4; r++)
            for (ptrdiff_t j = 0; j < n; j++)
                xv[r * n + j] = set(dt, x, r * ldx + j, gen_value(dt, special[r], j, n));
        csm_decode_args a;
        memset(&a, 0, sizeof a);
        a.x = x, a.nrows = 4, a.n = n, a.ldx = ldx, a.inv_temp = 1, a.top_p = 1, a.u = uu;
        a.indices = idx, a.status = st;
        FOR_EACH_ISA
        {
            csm_sample(dt, &a, 1);
            for (ptrdiff_t r = 0; r < 4; r++) {
                int ws = row_status(dt, xv + r * n, n, 1);
                snprintf(ctx, sizeof ctx, "%s n=%td status row %td", dt ? "float64" : "float32", n,
                         r);
                expect(E_SAMPLE, dt, st[r] == ws, "status", r, st[r], ws);
                if (ws == 0)
                    expect(E_SAMPLE, dt,
                           idx[r] == ref_sample(xv + r * n, n, 1, 0, 1, 0, uu[r], p, order, keep),
                           "index", r, (LD)idx[r], 0);
            }
        }
    }
    free(xv), free(p), free(order), free(keep), free(x);
}

/* ------------------------------------------------------------------------- controls */

static void test_controls(void)
{
    int best = -1;
    for (int i = 0; i < n_isas; i++)
        if (csm_isa_supported(i) && best < 0) best = i;
    FOR_EACH_ISA
    {
        csm_dtype dt = CSM_FLOAT32;
        snprintf(ctx, sizeof ctx, "isa %d", cur_isa);
        expect(E_CONTROLS, dt, csm_get_isa() == cur_isa, "csm_get_isa", 0, csm_get_isa(), cur_isa);
        expect(E_CONTROLS, dt, csm_isa_name(cur_isa) != NULL, "csm_isa_name", 0, 0, 0);
        expect(E_CONTROLS, dt, csm_isa_supported(n_isas - 1), "the last set runs anywhere", 0, 0,
               0);
        expect(E_CONTROLS, dt,
               csm_set_isa(-1) == -1 && csm_set_isa(n_isas) == -1 && csm_isa_name(n_isas) == NULL
                   && csm_isa_supported(n_isas) == 0,
               "out of range", 0, 0, 0);
        expect(E_CONTROLS, dt, csm_get_isa() == cur_isa, "kept after a refused set", 0, 0, 0);
#if defined(__aarch64__)
        expect(E_CONTROLS, dt, n_isas == 1 && strcmp(csm_isa_name(0), "neon") == 0,
               "aarch64 reports one set, neon", 0, n_isas, 1);
#elif defined(__x86_64__)
        expect(E_CONTROLS, dt, strcmp(csm_isa_name(n_isas - 1), "baseline") == 0,
               "x86-64's last set is baseline", 0, 0, 0);
#endif
        /* CSOFTMAX_ISA: an unknown name is refused and the best set kept; a known one is taken */
        setenv("CSOFTMAX_ISA", "no-such-isa", 1);
        expect(E_CONTROLS, dt, csm_init_isa_from_env() == -1, "unknown CSOFTMAX_ISA", 0, 0, 0);
        setenv("CSOFTMAX_ISA", csm_isa_name(cur_isa), 1);
        expect(E_CONTROLS, dt, csm_init_isa_from_env() == 0 && csm_get_isa() == cur_isa,
               "CSOFTMAX_ISA", 0, csm_get_isa(), cur_isa);
        unsetenv("CSOFTMAX_ISA");
        /* threads: the process limit, the calling thread's override, the limit in force */
        csm_init_threads();
        int omp = csm_openmp_available();
        csm_set_num_threads(2);
        expect(E_CONTROLS, dt, csm_get_num_threads() == (omp ? 2 : 1), "num_threads", 0,
               csm_get_num_threads(), 2);
        csm_set_thread_override(3);
        expect(E_CONTROLS, dt, csm_get_thread_override() == 3 && csm_thread_limit() == 3,
               "override", 0, csm_thread_limit(), 3);
        csm_set_thread_override(0);
        expect(E_CONTROLS, dt, csm_thread_limit() == csm_get_num_threads(), "override cleared", 0,
               0, 0);
        csm_set_num_threads(0);
        expect(E_CONTROLS, dt, csm_get_num_threads() == 1 && csm_omp_max_threads() >= 1,
               "at least 1", 0, csm_get_num_threads(), 1);
    }
}

/* ----------------------------------------------------------------------------- main */

/* CPU seconds per group of tests, for the summary (where an emulated run spends its time) */
enum { T_ROWS, T_COLS, T_FUSED, T_LOSSES, T_STATS, T_ELEMENTWISE, T_DECODE, NT };
static const char *timer_name[NT] = {
    "rows", "cols", "fused", "cross-entropy", "stats", "backward/sigmoid/bce", "decoding"};
static double timers[NT];
#define TIMED(group, call)                                                                         \
    do {                                                                                           \
        clock_t t0_ = clock();                                                                     \
        call;                                                                                      \
        timers[group] += (double)(clock() - t0_) / CLOCKS_PER_SEC;                                 \
    } while (0)

int main(int argc, char **argv)
{
    /* 33000: a float32 row over ROW_L2_BYTES (csm_tuning.h), for csm_rows_long.h (float64 rows
     * are from 16385 elements on), and float16 rows over 16384 (csm_rows_half.h) */
    static const ptrdiff_t extra[] = {127, 128, 129, 1000, 20000, 33000};
    clock_t start = clock();
    time_t wall = time(NULL);
    int quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    rng_state = 20251129;
    n_isas = csm_isa_count();
    if (n_isas > MAX_ISAS) n_isas = MAX_ISAS;
    printf("test_kernels: instruction sets");
    for (int i = 0; i < n_isas; i++)
        printf(" %s (%s)", csm_isa_name(i), csm_isa_supported(i) ? "runs here" : "not on this CPU");
    printf("; OpenMP %s; long double has %d mantissa bits\n", csm_openmp_available() ? "on" : "off",
           LDBL_MANT_DIG);
    test_controls();
    for (int d = 0; d < 2; d++) {
        csm_dtype dt = (csm_dtype)d;
        ptrdiff_t lengths[90];
        int nl = 0;
        for (ptrdiff_t n = 1; n <= 70; n++) lengths[nl++] = n;
        for (int i = 0; i < 6; i++) lengths[nl++] = extra[i];
        for (int i = 0; i < nl; i++) {
            ptrdiff_t n = lengths[i];
            if (quick && n > 1000) continue;
            TIMED(T_ROWS, test_rows(dt, n, n <= 40 ? 70 : n <= 1000 ? 12 : 4));
            if (n == 33000) {
                if (dt == CSM_FLOAT32) TIMED(T_FUSED, test_fused(dt, n, 7));
                continue;
            }
            TIMED(T_STATS, test_stats(dt, n));
            TIMED(T_ELEMENTWISE, test_backward(dt, n); test_sigmoid(dt, n); test_bce(dt, n));
            for (int variant = 0; variant < 8; variant++) {
                if ((variant >= 3 && dt != CSM_FLOAT32 && variant != 6)
                    || (variant == 6 && dt != CSM_FLOAT64))
                    continue;
                if (n > 129 && n != 1000 && n != 20000) continue;
                /* 20000: the plain, transposed and float16 layouts only (time under emulation) */
                if (n == 20000 && variant != 0 && variant != 2 && variant != 3) continue;
                TIMED(T_FUSED, test_fused(dt, n, variant));
            }
        }
        static const ptrdiff_t reds[] = {1, 2, 3, 5, 8, 17, 33, 64, 127, 1000};
        static const ptrdiff_t inners[] = {1, 3, 16, 17, 70, 130};
        for (int i = 0; i < 10; i++)
            for (int j = 0; j < 6; j++) {
                if (reds[i] == 1000 && (inners[j] == 16 || inners[j] == 70)) continue;
                TIMED(T_COLS,
                      test_cols(dt, reds[i] * inners[j] < 4000 ? 3 : 1, reds[i], inners[j],
                                i * 6 + j));
            }
        static const ptrdiff_t classes[] = {1, 2, 3, 7, 16, 17, 33, 64, 100, 1000, 20000};
        for (int i = 0; i < 11; i++)
            for (int variant = 0; variant < 5; variant++) /* the longest: index and soft targets */
                if (classes[i] < 20000 || variant == 1 || variant == 3)
                    TIMED(T_LOSSES, test_cross_entropy(dt, classes[i], variant));
        test_targets_and_sum(dt);
        static const ptrdiff_t dn[] = {1, 7, 100, 3000, 20000};
        for (int i = 0; i < 5; i++) {
            ptrdiff_t n = dn[i];
            TIMED(T_DECODE, test_top_k(dt, n, 1); test_top_k(dt, n, n < 20 ? n : 20));
            if (n <= 100) TIMED(T_DECODE, test_top_k(dt, n, n));
            if (n <= 3000) TIMED(T_DECODE, test_sample(dt, n));
        }
    }
    /* the table and the closing line */
    long groups = 0, bad_groups = 0, checks = 0;
    for (int i = 0; i < n_isas; i++) {
        if (!csm_isa_supported(i)) continue;
        printf("\n%-30s %38s %38s\n", csm_isa_name(i), "float32: checks fails ulp err/tol",
               "float64: checks fails ulp err/tol");
        for (int e = 0; e < NE; e++) {
            printf("  %-28s", entry_name[e]);
            for (int d = 0; d < 2; d++) {
                tally *t = &tallies[i][d][e];
                printf(" %14ld %5ld %7.3g %7.3g", t->checks, t->fails, t->max_ulp, t->max_ratio);
                if (t->checks) groups++, bad_groups += t->fails > 0, checks += t->checks;
            }
            printf("\n");
        }
    }
    printf("\ntest_kernels: CPU seconds:");
    for (int g = 0; g < NT; g++)
        printf(" %s %.1f%s", timer_name[g], timers[g], g < NT - 1 ? "," : "\n");
    printf("test_kernels: %ld checks in %.1f s CPU, %ld s wall\n", checks,
           (double)(clock() - start) / CLOCKS_PER_SEC, (long)(time(NULL) - wall));
    printf("test_kernels: %ld passed, %ld failed\n", groups - bad_groups, bad_groups);
    return bad_groups ? 1 : 0;
}
