/* The C test program (see test_kernels.c, harness.h): csm_top_k_softmax and csm_sample. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"

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
void test_top_k(csm_dtype dt, ptrdiff_t n, ptrdiff_t k)
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
void test_sample(csm_dtype dt, ptrdiff_t n)
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
