/* The C test program (see test_kernels.c, harness.h): csm_cross_entropy, csm_ce_check_targets
 * and csm_sum, csm_softmax_backward, csm_sigmoid and csm_binary_cross_entropy. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"

/* --------------------------------------------------------------- csm_cross_entropy */

/* Rows of C logits with index targets (variant 0-2) or soft targets (3-4); every row kind of
 * csm_losses.h: random, one with -inf entries, the tiny loss [0, -37, ...] at its max, one
 * ignored, a NaN row, a +inf row, an all -inf row. Bounds from tests/test_cross_entropy.py:
 * loss rtol 1e-12 atol 1e-300 (float64, test_options_float64_value_and_grad), rtol 2e-6 atol
 * 1e-7 (float32, test_options_float32), float32 gradient rtol 1e-5 atol 1e-7 (the same); the
 * float64 gradient rtol 1e-12 atol 1e-15 (the Python test's bound is against finite differences,
 * so this one is the closed-form gradient bound of test_sigmoid_and_bce.py's test_bce_gradient). */
void test_cross_entropy(csm_dtype dt, ptrdiff_t C, int variant)
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
void test_targets_and_sum(csm_dtype dt)
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

/* ------------------------------------------------------------ csm_softmax_backward */

/* g random, y a softmax (log = 0) or log_softmax (log = 1) output with -inf logits (0 / -inf
 * entries). Bound: rtol = atol = 1e-5 (float32), 1e-13 (float64), tests/test_softmax_backward.py
 * (test_dtypes_against_float64). */
void test_backward(csm_dtype dt, ptrdiff_t n)
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
void test_sigmoid(csm_dtype dt, ptrdiff_t n)
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
void test_bce(csm_dtype dt, ptrdiff_t n)
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
