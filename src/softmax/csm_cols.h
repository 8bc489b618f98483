/* Template (see csm_types.h, csm_simd.h, csm_exp.h): softmax, log_softmax and logsumexp over a
 * strided axis.
 *
 * The data is a C-contiguous (nouter, nred, ninner) block reduced over the middle axis. Instead
 * of transposing, each pass walks the reduced axis and works on a chunk of up to NB vectors of
 * adjacent columns, contiguous in memory (whole cache lines per row visit): every vector lane is
 * one column with its own max, shift and sum. Columns with NaN or no finite max get NaN (or the
 * logsumexp rule) at the end; until then their inputs are replaced by 0 so the shared vector
 * code stays finite. */

typedef struct {
    int nb, wlast;  /* vectors in the chunk, lanes used in its last vector */
    VT max[NB];     /* the column maxima (0 in special columns) */
    VI special[NB]; /* NaN, +inf or no finite max */
    VI nan[NB];
    CSM_FN(shift) s[NB];
} CSM_FN(colstate);

static inline int CSM_FN(col_lanes)(const CSM_FN(colstate) *st, int v)
{
    return v == st->nb - 1 ? st->wlast : VL;
}

static inline VT CSM_FN(col_load)(const T *p, int w)
{
    return w == VL ? CSM_FN(vload)(p) : CSM_FN(vload_part)(p, w, -(T)INFINITY);
}

static inline void CSM_FN(cols_max)(const T *x, ptrdiff_t nred, ptrdiff_t ld, int width,
                                    CSM_FN(colstate) *st)
{
    VT inf = CSM_FN(vsplat)((T)INFINITY);
    int v, nb = st->nb = (width + VL - 1) / VL;
    st->wlast = width - (nb - 1) * VL;
    for (v = 0; v < nb; v++) {
        st->max[v] = -inf;
        st->nan[v] = (VI){0};
    }
    for (ptrdiff_t r = 0; r < nred; r++) {
        const T *row = x + r * ld;
        for (v = 0; v < nb; v++) {
            VT a = CSM_FN(col_load)(row + v * VL, CSM_FN(col_lanes)(st, v));
            st->max[v] = CSM_FN(vmax)(a, st->max[v]);
            st->nan[v] |= a != a;
        }
    }
    for (v = 0; v < nb; v++) {
        VT m = st->max[v];
        st->special[v] = st->nan[v] | ~((m < inf) & (m > -inf));
        st->max[v] = CSM_FN(vselect)(st->special[v], CSM_FN(vsplat)(0), m);
        st->s[v] = CSM_FN(make_shift)(st->max[v]);
    }
}

/* x with special columns zeroed: every lane then satisfies expm's x <= max, not NaN */
static inline VT CSM_FN(col_input)(const CSM_FN(colstate) *st, int v, const T *row)
{
    VT a = CSM_FN(col_load)(row + v * VL, CSM_FN(col_lanes)(st, v));
    return CSM_FN(vselect)(st->special[v], CSM_FN(vsplat)(0), a);
}

/* float partial sums per column into doubles (each lane adds at most FLUSH terms in T), lane by
 * lane in vectors */
static inline void CSM_FN(flush_wide)(VT *acc, double *wide, int nb)
{
    for (int v = 0; v < nb; v++) {
        for (int h = 0; h < VL / VDL; h++) {
            VD w;
            memcpy(&w, wide + v * VL + h * VDL, sizeof w);
            w += CSM_FN(vwiden_part)(acc[v], h);
            memcpy(wide + v * VL + h * VDL, &w, sizeof w);
        }
        acc[v] = CSM_FN(vsplat)(0);
    }
}

/* (T)(wide[j] + a[j]) per lane j, or (T)(1 / (wide[j] + a[j])) when invert */
static inline VT CSM_FN(wide_total)(const double *wide, VT a, const int invert)
{
    VD d[2];
    for (int h = 0; h < VL / VDL; h++) {
        memcpy(&d[h], wide + h * VDL, sizeof d[h]);
        d[h] += CSM_FN(vwiden_part)(a, h);
        if (invert) d[h] = 1.0 / d[h];
    }
    return CSM_FN(vnarrow)(d);
}

/* Per column: log(sum exp(x - max)), with the max's own terms counted apart (log1p form). */
static inline void CSM_FN(cols_log_sum)(const T *x, ptrdiff_t nred, ptrdiff_t ld,
                                        const CSM_FN(colstate) *st, double *lse)
{
    VT acc[NB];
    VI ties[NB];
    double wide[NB * VL] = {0};
    int v, j, rows = 0, nb = st->nb;
    for (v = 0; v < nb; v++) {
        acc[v] = CSM_FN(vsplat)(0);
        ties[v] = (VI){0};
    }
    for (ptrdiff_t r = 0; r < nred; r++) {
        const T *row = x + r * ld;
        for (v = 0; v < nb; v++) {
            VT a = CSM_FN(col_input)(st, v, row);
            acc[v] += (VT)((VI)CSM_FN(expm)(a, st->s[v]) & (a < st->max[v]));
            ties[v] -= a == st->max[v];
        }
        if (++rows == FLUSH) {
            CSM_FN(flush_wide)(acc, wide, nb);
            rows = 0;
        }
    }
    for (v = 0; v < nb; v++) {
        /* log(ties + rest / e_max) = log1p((ties - 1) + rest / e_max): for one max that is
         * log1p(rest / e_max), accurate when the rest is tiny */
        VT rest = CSM_FN(wide_total)(wide + v * VL, acc[v], 0);
        VT t = __builtin_convertvector(-(-ties[v]), VT);
        VT l = CSM_FN(vlog1p)((t - 1) + rest / CSM_FN(expm)(st->max[v], st->s[v]));
        for (j = 0; j < VL; j++) lse[v * VL + j] = l[j];
    }
}

/* One chunk of `width` columns starting at x (row stride ld). */
static inline void CSM_FN(softmax_chunk)(const T *x, T *out, ptrdiff_t nred, ptrdiff_t ld,
                                         int width)
{
    CSM_FN(colstate) st;
    VT acc[NB], inv[NB];
    double wide[NB * VL] = {0};
    int v, rows = 0, nb;
    CSM_FN(cols_max)(x, nred, ld, width, &st);
    nb = st.nb;
    for (v = 0; v < nb; v++) acc[v] = CSM_FN(vsplat)(0);
    for (ptrdiff_t r = 0; r < nred; r++) {
        for (v = 0; v < nb; v++) {
            VT e = CSM_FN(expm)(CSM_FN(col_input)(&st, v, x + r * ld), st.s[v]);
            CSM_FN(vstore_part)(out + r * ld + v * VL, e, CSM_FN(col_lanes)(&st, v));
            acc[v] += e;
        }
        if (++rows == FLUSH) {
            CSM_FN(flush_wide)(acc, wide, nb);
            rows = 0;
        }
    }
    for (v = 0; v < nb; v++) {
        inv[v] = CSM_FN(wide_total)(wide + v * VL, acc[v], 1);
        inv[v] = CSM_FN(vselect)(st.special[v], CSM_FN(vsplat)((T)NAN), inv[v]);
    }
    for (ptrdiff_t r = 0; r < nred; r++) {
        for (v = 0; v < nb; v++) {
            T *p = out + r * ld + v * VL;
            int w = CSM_FN(col_lanes)(&st, v);
            VT e = w == VL ? CSM_FN(vload)(p) : CSM_FN(vload_part)(p, w, 0);
            CSM_FN(vstore_part)(p, e * inv[v], w);
        }
    }
}

static inline void CSM_FN(log_softmax_chunk)(const T *x, T *out, ptrdiff_t nred, ptrdiff_t ld,
                                             int width)
{
    CSM_FN(colstate) st;
    double lse_d[NB * VL];
    VT lse[NB];
    int v, j;
    CSM_FN(cols_max)(x, nred, ld, width, &st);
    CSM_FN(cols_log_sum)(x, nred, ld, &st, lse_d);
    for (v = 0; v < st.nb; v++) {
        for (j = 0; j < VL; j++) lse[v][j] = (T)lse_d[v * VL + j];
        lse[v] = CSM_FN(vselect)(st.special[v], CSM_FN(vsplat)((T)NAN), lse[v]);
    }
    for (ptrdiff_t r = 0; r < nred; r++) {
        for (v = 0; v < st.nb; v++) {
            int w = CSM_FN(col_lanes)(&st, v);
            VT a = CSM_FN(col_load)(x + r * ld + v * VL, w);
            CSM_FN(vstore_part)(out + r * ld + v * VL, (a - st.max[v]) - lse[v], w);
        }
    }
}

/* out[j] = logsumexp of column j of the chunk */
static inline void CSM_FN(logsumexp_chunk)(const T *x, T *out, ptrdiff_t nred, ptrdiff_t ld,
                                           int width)
{
    CSM_FN(colstate) st;
    double lse[NB * VL];
    CSM_FN(cols_max)(x, nred, ld, width, &st);
    CSM_FN(cols_log_sum)(x, nred, ld, &st, lse);
    for (int j = 0; j < width; j++) {
        int v = j / VL, l = j % VL;
        T m = st.max[v][l];
        if (st.nan[v][l]) {
            out[j] = (T)NAN;
        } else if (st.special[v][l]) {
            /* +inf, or -inf for an empty or all -inf column: the raw max */
            m = -(T)INFINITY;
            for (ptrdiff_t r = 0; r < nred; r++) m = x[r * ld + j] > m ? x[r * ld + j] : m;
            out[j] = m;
        } else {
            out[j] = (T)((double)m + lse[j]);
        }
    }
}

/* Full chunks with a constant width (so the vector loops unroll), then the remainder; columns
 * 0..ncols of each outer block (rows ninner apart). */
#define CSM_FOR_CHUNKS(CALL)                                                                       \
    for (ptrdiff_t o = 0; o < nouter; o++) {                                                       \
        ptrdiff_t j0 = 0;                                                                          \
        for (; j0 + NB * VL <= ncols; j0 += NB * VL) CALL(NB *VL);                                 \
        if (j0 < ncols) CALL((int)(ncols - j0));                                                   \
    }

static void CSM_FN(softmax_cols)(const T *x, T *out, ptrdiff_t nouter, ptrdiff_t nred,
                                 ptrdiff_t ninner, ptrdiff_t ncols)
{
#define CALL(w)                                                                                    \
    CSM_FN(softmax_chunk)(x + o * nred * ninner + j0, out + o * nred * ninner + j0, nred, ninner, w)
    CSM_FOR_CHUNKS(CALL)
#undef CALL
}

static void CSM_FN(log_softmax_cols)(const T *x, T *out, ptrdiff_t nouter, ptrdiff_t nred,
                                     ptrdiff_t ninner, ptrdiff_t ncols)
{
#define CALL(w)                                                                                    \
    CSM_FN(log_softmax_chunk)(x + o * nred * ninner + j0, out + o * nred * ninner + j0, nred,      \
                              ninner, w)
    CSM_FOR_CHUNKS(CALL)
#undef CALL
}

/* out is (nouter, ninner), C-contiguous (starting at the first column) */
static void CSM_FN(logsumexp_cols)(const T *x, T *out, ptrdiff_t nouter, ptrdiff_t nred,
                                   ptrdiff_t ninner, ptrdiff_t ncols)
{
#define CALL(w)                                                                                    \
    CSM_FN(logsumexp_chunk)(x + o * nred * ninner + j0, out + o * ninner + j0, nred, ninner, w)
    CSM_FOR_CHUNKS(CALL)
#undef CALL
}

#undef CSM_FOR_CHUNKS
