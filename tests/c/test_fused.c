/* The C test program (see test_kernels.c, harness.h): csm_rows_fused (scale, bias, where=,
 * per-row offsets and steps, float16 / bfloat16 storage). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"

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
void test_fused(csm_dtype dt, ptrdiff_t n, int variant)
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
