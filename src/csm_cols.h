/* Template (see csm_types.h, csm_simd.h, csm_exp.h): softmax, log_softmax and logsumexp over a
 * strided axis.
 *
 * The data is a C-contiguous (nouter, nred, ninner) block reduced over the middle axis. Instead
 * of transposing, each pass walks the reduced axis and works on VL adjacent columns at once,
 * which are contiguous in memory: every vector lane is one column with its own max, shift and
 * sum. Columns with NaN or no finite max get NaN (or the logsumexp rule) at the end; until then
 * their inputs are replaced by 0 so the shared vector code stays finite. */

#define COL_FLUSH 8

typedef struct {
    VT max;          /* the column maxima (0 in special columns) */
    VI special;      /* NaN, +inf or no finite max */
    VI nan;
    CSM_FN(shift) s;
} CSM_FN(colstate);

static inline VT CSM_FN(col_load)(const T *p, int w)
{
    return w == VL ? CSM_FN(vload)(p) : CSM_FN(vload_part)(p, w, -(T)INFINITY);
}

static CSM_FN(colstate) CSM_FN(cols_max)(const T *x, ptrdiff_t nred, ptrdiff_t ld, int w)
{
    CSM_FN(colstate) st;
    VT m = CSM_FN(vsplat)(-(T)INFINITY), inf = CSM_FN(vsplat)((T)INFINITY);
    VI nan = {0};
    for (ptrdiff_t r = 0; r < nred; r++) {
        VT a = CSM_FN(col_load)(x + r * ld, w);
        m = CSM_FN(vmax)(a, m);
        nan |= a != a;
    }
    st.nan = nan;
    st.special = nan | ~((m < inf) & (m > -inf));
    st.max = CSM_FN(vselect)(st.special, CSM_FN(vsplat)(0), m);
    st.s = CSM_FN(make_shift)(st.max);
    return st;
}

/* x with special columns zeroed: every lane then satisfies expm's x <= max, not NaN */
static inline VT CSM_FN(col_input)(const CSM_FN(colstate) *st, const T *p, int w)
{
    return CSM_FN(vselect)(st->special, CSM_FN(vsplat)(0), CSM_FN(col_load)(p, w));
}

/* Per column: log(sum exp(x - max)), with the max's own terms counted apart (log1p form). */
static void CSM_FN(cols_log_sum)(const T *x, ptrdiff_t nred, ptrdiff_t ld, int w,
                                 const CSM_FN(colstate) *st, double *lse)
{
    VT acc = CSM_FN(vsplat)(0);
    VI ties = {0};
    double wide[VL] = {0};
    int j, rows = 0;
    for (ptrdiff_t r = 0; r < nred; r++) {
        VT a = CSM_FN(col_input)(st, x + r * ld, w);
        acc += (VT)((VI)CSM_FN(expm)(a, st->s) & (a < st->max));
        ties -= a == st->max;
        if (++rows == COL_FLUSH) {
            for (j = 0; j < VL; j++) wide[j] += (double)acc[j];
            acc = CSM_FN(vsplat)(0);
            rows = 0;
        }
    }
    VT e_max = CSM_FN(expm)(st->max, st->s);
    for (j = 0; j < w; j++) {
        double t = (double)ties[j], rest = wide[j] + (double)acc[j];
        lse[j] = t > 0 ? log(t) + log1p(rest / (t * (double)e_max[j])) : 0;
    }
}

static void CSM_FN(softmax_cols)(const T *x, T *out, ptrdiff_t nouter, ptrdiff_t nred,
                                 ptrdiff_t ninner)
{
    for (ptrdiff_t o = 0; o < nouter; o++) {
        for (ptrdiff_t j0 = 0; j0 < ninner; j0 += VL) {
            const T *xb = x + o * nred * ninner + j0;
            T *ob = out + o * nred * ninner + j0;
            int j, w = (int)(ninner - j0 < VL ? ninner - j0 : VL), rows = 0;
            CSM_FN(colstate) st = CSM_FN(cols_max)(xb, nred, ninner, w);
            VT acc = CSM_FN(vsplat)(0), inv;
            double wide[VL] = {0};
            for (ptrdiff_t r = 0; r < nred; r++) {
                VT e = CSM_FN(expm)(CSM_FN(col_input)(&st, xb + r * ninner, w), st.s);
                CSM_FN(vstore_part)(ob + r * ninner, e, w);
                acc += e;
                if (++rows == COL_FLUSH) {
                    for (j = 0; j < VL; j++) wide[j] += (double)acc[j];
                    acc = CSM_FN(vsplat)(0);
                    rows = 0;
                }
            }
            for (j = 0; j < VL; j++) inv[j] = (T)(1.0 / (wide[j] + (double)acc[j]));
            inv = CSM_FN(vselect)(st.special, CSM_FN(vsplat)((T)NAN), inv);
            for (ptrdiff_t r = 0; r < nred; r++) {
                T *p = ob + r * ninner;
                VT v = w == VL ? CSM_FN(vload)(p) : CSM_FN(vload_part)(p, w, 0);
                CSM_FN(vstore_part)(p, v * inv, w);
            }
        }
    }
}

static void CSM_FN(log_softmax_cols)(const T *x, T *out, ptrdiff_t nouter, ptrdiff_t nred,
                                     ptrdiff_t ninner)
{
    for (ptrdiff_t o = 0; o < nouter; o++) {
        for (ptrdiff_t j0 = 0; j0 < ninner; j0 += VL) {
            const T *xb = x + o * nred * ninner + j0;
            T *ob = out + o * nred * ninner + j0;
            int j, w = (int)(ninner - j0 < VL ? ninner - j0 : VL);
            double lse_d[VL] = {0};
            VT lse;
            CSM_FN(colstate) st = CSM_FN(cols_max)(xb, nred, ninner, w);
            CSM_FN(cols_log_sum)(xb, nred, ninner, w, &st, lse_d);
            for (j = 0; j < VL; j++) lse[j] = (T)lse_d[j];
            lse = CSM_FN(vselect)(st.special, CSM_FN(vsplat)((T)NAN), lse);
            for (ptrdiff_t r = 0; r < nred; r++) {
                VT a = CSM_FN(col_load)(xb + r * ninner, w);
                CSM_FN(vstore_part)(ob + r * ninner, (a - st.max) - lse, w);
            }
        }
    }
}

/* out is (nouter, ninner), C-contiguous */
static void CSM_FN(logsumexp_cols)(const T *x, T *out, ptrdiff_t nouter, ptrdiff_t nred,
                                   ptrdiff_t ninner)
{
    for (ptrdiff_t o = 0; o < nouter; o++) {
        for (ptrdiff_t j0 = 0; j0 < ninner; j0 += VL) {
            const T *xb = x + o * nred * ninner + j0;
            int j, w = (int)(ninner - j0 < VL ? ninner - j0 : VL);
            double lse[VL] = {0};
            CSM_FN(colstate) st = CSM_FN(cols_max)(xb, nred, ninner, w);
            CSM_FN(cols_log_sum)(xb, nred, ninner, w, &st, lse);
            for (j = 0; j < w; j++) {
                T *o_j = out + o * ninner + j0 + j;
                if (st.nan[j]) *o_j = (T)NAN;
                else if (st.special[j]) {
                    /* +inf, or -inf for an empty or all -inf column: recompute the raw max */
                    T m = -(T)INFINITY;
                    for (ptrdiff_t r = 0; r < nred; r++) m = xb[r * ninner + j] > m ? xb[r * ninner + j] : m;
                    *o_j = m;
                } else *o_j = (T)((double)st.max[j] + lse[j]);
            }
        }
    }
}

#undef COL_FLUSH
