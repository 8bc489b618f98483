/* The C test program (see test_kernels.c, harness.h): csm_row_stats and csm_rows_from_stats
 * (rows split into chunks). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"

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

void test_stats(csm_dtype dt, ptrdiff_t n)
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
                /* subnormal inputs read as 0 (dispatch/csm_fpenv.h) */
                LD xj = fabsl(xr[j]) < tiny_of(KIND(dt)) ? 0 : xr[j];
                if (xj > mx) mx = xj;
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
