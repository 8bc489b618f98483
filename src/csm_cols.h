/* Template (see csm_types.h): softmax, log_softmax and logsumexp over a strided axis.
 *
 * The data is a C-contiguous (nouter, nred, ninner) block reduced over the middle axis. Instead of
 * transposing, each pass walks the reduced axis and vectorizes across a block of CB adjacent
 * columns, which are contiguous in memory; every column keeps its own max, shift and sum. */

#define CB (4 * CSM_VEC_BYTES / (int)sizeof(T))

typedef struct {
    T max[CB], c[CB], k[CB], y_lo[CB];
    double acc[CB];     /* sum (softmax) or sum below the max (log-domain ops) */
    IT ties[CB];
    IT nan[CB];
} CSM_FN(colstate);

static void CSM_FN(cols_max)(const T *x, ptrdiff_t nred, ptrdiff_t ld, int w, CSM_FN(colstate) *st)
{
    int j;
    for (j = 0; j < w; j++) { st->max[j] = -(T)INFINITY; st->nan[j] = 0; }
    for (ptrdiff_t r = 0; r < nred; r++) {
        const T *row = x + r * ld;
        for (j = 0; j < w; j++) {
            T v = row[j];
            st->max[j] = v > st->max[j] ? v : st->max[j];
            st->nan[j] |= (IT)(v != v);
        }
    }
    for (j = 0; j < w; j++) {
        /* special columns get a harmless shift; their results are overwritten afterwards */
        T m = (st->max[j] < (T)INFINITY && st->max[j] > -(T)INFINITY) ? st->max[j] : 0;
        CSM_FN(shift) s = CSM_FN(make_shift)(m);
        st->c[j] = s.c; st->k[j] = s.k; st->y_lo[j] = s.y_lo;
        st->acc[j] = 0;
        st->ties[j] = 0;
    }
}

static int CSM_FN(col_is_special)(const CSM_FN(colstate) *st, int j)
{
    return st->nan[j] || !(st->max[j] < (T)INFINITY && st->max[j] > -(T)INFINITY);
}

/* Sum below the max and tie count per column, then log(sum exp(x - max)) per column into lse[]. */
static void CSM_FN(cols_log_sum)(const T *x, ptrdiff_t nred, ptrdiff_t ld, int w,
                                 CSM_FN(colstate) *st, double *lse)
{
    int j;
    for (ptrdiff_t r = 0; r < nred; r++) {
        const T *row = x + r * ld;
        for (j = 0; j < w; j++) {
            T v = row[j];
            T m = st->max[j] < (T)INFINITY ? st->max[j] : 0;  /* keeps special columns finite */
            T e = CSM_FN(expm)(v < m ? v : m, st->c[j], st->k[j], st->y_lo[j]);
            st->acc[j] += v < m ? (double)e : 0.0;
            st->ties[j] += (IT)(v == st->max[j]);
        }
    }
    for (j = 0; j < w; j++) {
        if (CSM_FN(col_is_special)(st, j)) { lse[j] = 0; continue; }
        double e_max = (double)CSM_FN(expm)(st->max[j], st->c[j], st->k[j], st->y_lo[j]);
        double t = (double)st->ties[j];
        lse[j] = log(t) + log1p(st->acc[j] / (t * e_max));
    }
}

static void CSM_FN(softmax_cols)(const T *x, T *out, ptrdiff_t nouter, ptrdiff_t nred, ptrdiff_t ninner)
{
    CSM_FN(colstate) st;
    for (ptrdiff_t o = 0; o < nouter; o++) {
        for (ptrdiff_t j0 = 0; j0 < ninner; j0 += CB) {
            const T *xb = x + o * nred * ninner + j0;
            T *ob = out + o * nred * ninner + j0;
            int j, w = (int)(ninner - j0 < CB ? ninner - j0 : CB);
            T inv[CB];
            CSM_FN(cols_max)(xb, nred, ninner, w, &st);
            for (ptrdiff_t r = 0; r < nred; r++) {
                const T *row = xb + r * ninner;
                T *orow = ob + r * ninner;
                for (j = 0; j < w; j++) {
                    T v = row[j];
                    T m = st.max[j] < (T)INFINITY ? st.max[j] : 0;
                    T e = CSM_FN(expm)(v < m ? v : m, st.c[j], st.k[j], st.y_lo[j]);
                    orow[j] = e;
                    st.acc[j] += (double)e;
                }
            }
            for (j = 0; j < w; j++)
                inv[j] = CSM_FN(col_is_special)(&st, j) ? (T)NAN : (T)(1.0 / st.acc[j]);
            for (ptrdiff_t r = 0; r < nred; r++) {
                T *orow = ob + r * ninner;
                for (j = 0; j < w; j++) orow[j] *= inv[j];
            }
        }
    }
}

static void CSM_FN(log_softmax_cols)(const T *x, T *out, ptrdiff_t nouter, ptrdiff_t nred,
                              ptrdiff_t ninner)
{
    CSM_FN(colstate) st;
    for (ptrdiff_t o = 0; o < nouter; o++) {
        for (ptrdiff_t j0 = 0; j0 < ninner; j0 += CB) {
            const T *xb = x + o * nred * ninner + j0;
            T *ob = out + o * nred * ninner + j0;
            int j, w = (int)(ninner - j0 < CB ? ninner - j0 : CB);
            double lse_d[CB];
            T lse[CB], max[CB];
            CSM_FN(cols_max)(xb, nred, ninner, w, &st);
            CSM_FN(cols_log_sum)(xb, nred, ninner, w, &st, lse_d);
            for (j = 0; j < w; j++) {
                int special = CSM_FN(col_is_special)(&st, j);
                lse[j] = special ? (T)NAN : (T)lse_d[j];
                max[j] = special ? 0 : st.max[j];
            }
            for (ptrdiff_t r = 0; r < nred; r++) {
                const T *row = xb + r * ninner;
                T *orow = ob + r * ninner;
                for (j = 0; j < w; j++) orow[j] = (row[j] - max[j]) - lse[j];
            }
        }
    }
}

/* out is (nouter, ninner), C-contiguous */
static void CSM_FN(logsumexp_cols)(const T *x, T *out, ptrdiff_t nouter, ptrdiff_t nred, ptrdiff_t ninner)
{
    CSM_FN(colstate) st;
    for (ptrdiff_t o = 0; o < nouter; o++) {
        for (ptrdiff_t j0 = 0; j0 < ninner; j0 += CB) {
            const T *xb = x + o * nred * ninner + j0;
            int j, w = (int)(ninner - j0 < CB ? ninner - j0 : CB);
            double lse[CB];
            CSM_FN(cols_max)(xb, nred, ninner, w, &st);
            CSM_FN(cols_log_sum)(xb, nred, ninner, w, &st, lse);
            for (j = 0; j < w; j++) {
                T m = st.max[j];
                out[o * ninner + j0 + j] = st.nan[j] ? (T)NAN
                    : !(m < (T)INFINITY && m > -(T)INFINITY) ? m
                    : (T)((double)m + lse[j]);
            }
        }
    }
}

#undef CB
