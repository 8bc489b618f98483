/* The C test program (see test_kernels.c, harness.h): csm_rows and csm_cols (softmax,
 * log_softmax and logsumexp over rows and over a strided axis). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"

/* ------------------------------------------------------------------------ csm_rows */

void test_rows(csm_dtype dt, ptrdiff_t n, int nrand)
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

void test_cols(csm_dtype dt, ptrdiff_t nouter, ptrdiff_t nred, ptrdiff_t ninner, int seed)
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
