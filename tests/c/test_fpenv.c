/* The C test program (see test_kernels.c, harness.h): no subnormal reaches or leaves a kernel
 * (dispatch/csm_fpenv.h, core/csm_exp.h), read from the floating-point status flags
 * (csm_fp_status), which every x86-64 CPU sets even where it does not stall on them (AMD); on
 * aarch64 only the underflow flag is read (FZ flushing an input is what it is set for).
 *
 * Typical rows (N(0, 16) logits, with or without a run of -inf entries, every row length, so
 * partial vectors and masked tails) raise neither the denormal nor the underflow flag, through
 * the planner (rows, columns, fused), the losses, the statistics and the elementwise kernels.
 * Extreme rows (subnormal inputs, exps at the flush limit, huge spreads) may underflow but never
 * read a denormal operand, and every entry leaves the caller's control bits as they were. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"

#define NROWS 5

/* row r of n: typical (kind 0, or 1 with the second half -inf) or extreme (kind 2) */
static void fill_row(csm_dtype dt, void *x, ptrdiff_t r, ptrdiff_t n, int kind)
{
    LD tiny = tiny_of(KIND(dt)), flush = logl(tiny);
    for (ptrdiff_t j = 0; j < n; j++) {
        LD v = 4 * normal();
        if (kind == 1 && j >= (n + 1) / 2) v = -INFINITY;
        if (kind == 2) {
            v = r == 0   ? tiny / 8 * (j % 3 - 1) /* subnormal inputs */
                : r == 1 ? (j ? flush + 3 * (2 * unif() - 1) : 0)
                : r == 2 ? (j ? flush + 0.2L : 0)
                : r == 3 ? (j ? -1e4L : 0)
                         : (j % 2 ? tiny * 0.75L : -tiny / 3);
        }
        set(dt, x, r * n + j, v);
    }
}

/* 1 when this thread computes subnormals again: the kernels' FTZ and DAZ are off after a call */
int fp_modes_restored(void)
{
    volatile float a = 0x1p-126f, h = 0.5f;
    volatile double b = 0x1p-1022, g = 0.5;
    return a * h > 0 && b * g > 0;
}

/* the flags the calls since the last read raised (then cleared) */
static void expect_flags(csm_dtype dt, int kind, const char *what)
{
    int flags = csm_fp_status(1);
    int bad = kind < 2 ? flags : flags & CSM_FP_DENORMAL;
    snprintf(ctx, sizeof ctx, "%s, %s rows", what,
             kind == 0       ? "typical"
                 : kind == 1 ? "masked"
                             : "extreme");
    expect(E_FPENV, dt, bad == 0,
           bad & CSM_FP_DENORMAL ? "a denormal operand reached a kernel instruction"
                                 : "a typical row raised the underflow flag",
           0, flags, 0);
}

void test_fp_environment(csm_dtype dt, ptrdiff_t n)
{
    size_t es = esz(dt);
    void *x = xmalloc(NROWS * n * es), *o = xmalloc(NROWS * n * es), *t = xmalloc(NROWS * n * es);
    double mx[NROWS], ex[NROWS];
    FOR_EACH_ISA
    {
        for (int kind = 0; kind < 3; kind++) {
            for (ptrdiff_t r = 0; r < NROWS; r++) fill_row(dt, x, r, n, kind);
            for (ptrdiff_t i = 0; i < NROWS * n; i++) set(dt, t, i, (i % 2) ? 1 : 0);
            double scale[NROWS] = {0.125, 0.125, 0.125, 0.125, 0.125};
            csm_fused_args a = {0};
            a.x = (const char *)x, a.xstep = (ptrdiff_t)es, a.xkind = (csm_storage)dt;
            a.out = (char *)o, a.ostep = (ptrdiff_t)es, a.okind = (csm_storage)dt;
            a.nrows = NROWS, a.n = n, a.scale = scale, a.sstep = 1;
            ptrdiff_t xoff[NROWS], ooff[NROWS];
            for (ptrdiff_t r = 0; r < NROWS; r++) xoff[r] = ooff[r] = r * n * (ptrdiff_t)es;
            a.xoff = xoff, a.ooff = ooff;
            csm_fp_status(1);
            for (int op = 0; op < 3; op++) {
                csm_rows((csm_op)op, dt, x, o, NROWS, n, n, op == CSM_LOGSUMEXP ? 1 : n, 1);
                expect_flags(dt, kind,
                             op == 0       ? "rows softmax"
                                 : op == 1 ? "rows log_softmax"
                                           : "rows logsumexp");
                csm_cols((csm_op)op, dt, x, o, 1, NROWS, n, 1);
                expect_flags(dt, kind, "cols");
                csm_rows_fused((csm_op)op, dt, &a, 1);
                expect_flags(dt, kind, "fused rows with a scale");
            }
            csm_row_stats(dt, x, NROWS, n, n, mx, ex, 1);
            csm_rows_from_stats(CSM_SOFTMAX, dt, x, o, NROWS, n, n, n, mx, ex, NULL, NULL, NULL, 1);
            expect_flags(dt, kind, "stats");
            csm_rows(CSM_SOFTMAX, dt, x, o, NROWS, n, n, n, 1);
            csm_fp_status(1);
            csm_softmax_backward(dt, 0, t, o, t, NROWS, n, 1);
            expect_flags(dt, kind, "softmax_backward");
            if (kind == 1) continue; /* the elementwise kernels take finite logits */
            for (int log = 0; log < 2; log++) {
                csm_sigmoid(dt, log, x, o, NROWS * n);
                expect_flags(dt, kind, log ? "log_sigmoid" : "sigmoid");
            }
            for (ptrdiff_t i = 0; i < NROWS * n; i++) set(dt, t, i, (i % 2) ? 1 : 0);
            csm_binary_cross_entropy(dt, x, t, NULL, NROWS * n, 1.0, o, NULL);
            expect_flags(dt, kind, "binary_cross_entropy");
        }
    }
    expect(E_FPENV, dt, fp_modes_restored(), "FTZ or DAZ left on after the calls", 0, 0, 0);
    free(x);
    free(o);
    free(t);
}
