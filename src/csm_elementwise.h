/* Template (see csm_types.h, csm_simd.h, csm_exp.h, csm_rows.h): the backward passes of softmax
 * and log_softmax (rows), and the elementwise sigmoid family with binary cross-entropy. */

/* sum(a * b) (sum(a) when b is NULL), accumulated wide */
static double CSM_FN(dot_wide)(const T *a, const T *b, ptrdiff_t n)
{
    VT acc = CSM_FN(vsplat)(0);
    VD wide = {0};
    int blocks = 0;
    for (ptrdiff_t i = 0; i < n; i += VL) {
        int rest = n - i < VL ? (int)(n - i) : VL;
        VT v = CSM_FN(vload_part)(a + i, rest, 0);
        acc += b ? v * CSM_FN(vload_part)(b + i, rest, 0) : v;
        if (++blocks == 8) {
            wide += CSM_FN(vwiden_sum)(acc);
            acc = CSM_FN(vsplat)(0);
            blocks = 0;
        }
    }
    return CSM_FN(hsum_d)(wide + CSM_FN(vwiden_sum)(acc));
}

/* dx = y * (g - sum(g * y)) per row */
static void CSM_FN(softmax_backward_rows)(const T *g, const T *y, T *out, ptrdiff_t nrows,
                                          ptrdiff_t n)
{
    for (ptrdiff_t r = 0; r < nrows; r++) {
        const T *gr = g + r * n, *yr = y + r * n;
        VT dot = CSM_FN(vsplat)((T)CSM_FN(dot_wide)(gr, yr, n));
        for (ptrdiff_t i = 0; i < n; i += VL) {
            int rest = n - i < VL ? (int)(n - i) : VL;
            VT yv = CSM_FN(vload_part)(yr + i, rest, 0);
            CSM_FN(vstore_part)(out + r * n + i,
                                yv * (CSM_FN(vload_part)(gr + i, rest, 0) - dot), rest);
        }
    }
}

/* dx = g - exp(y) * sum(g) per row */
static void CSM_FN(log_softmax_backward_rows)(const T *g, const T *y, T *out, ptrdiff_t nrows,
                                              ptrdiff_t n)
{
    for (ptrdiff_t r = 0; r < nrows; r++) {
        const T *gr = g + r * n, *yr = y + r * n;
        VT sum = CSM_FN(vsplat)((T)CSM_FN(dot_wide)(gr, NULL, n));
        for (ptrdiff_t i = 0; i < n; i += VL) {
            int rest = n - i < VL ? (int)(n - i) : VL;
            VT p = CSM_FN(vexp)(CSM_FN(vload_part)(yr + i, rest, -(T)INFINITY));
            CSM_FN(vstore_part)(out + r * n + i, CSM_FN(vload_part)(gr + i, rest, 0) - p * sum,
                                rest);
        }
    }
}

/* sigmoid(x) = 1/(1+e) for x >= 0 and e/(1+e) for x < 0, with e = exp(-|x|) <= 1: no overflow,
 * and no 1 - tiny cancellation in either tail. */
static inline VT CSM_FN(vsigmoid)(VT x)
{
    VT ax = CSM_FN(vselect)(x < 0, -x, x);
    VT e = CSM_FN(vexp)(-ax);
    VT r = 1 / (1 + e);
    return CSM_FN(vselect)(x < 0, e * r, r);
}

static void CSM_FN(sigmoid)(const T *x, T *out, ptrdiff_t n)
{
    for (ptrdiff_t i = 0; i < n; i += VL) {
        int rest = n - i < VL ? (int)(n - i) : VL;
        CSM_FN(vstore_part)(out + i, CSM_FN(vsigmoid)(CSM_FN(vload_part)(x + i, rest, 0)), rest);
    }
}

/* log_sigmoid(x) = min(x, 0) - log1p(exp(-|x|)): exact in both tails */
static void CSM_FN(log_sigmoid)(const T *x, T *out, ptrdiff_t n)
{
    for (ptrdiff_t i = 0; i < n; i += VL) {
        int rest = n - i < VL ? (int)(n - i) : VL, j;
        VT v = CSM_FN(vload_part)(x + i, rest, 0);
        VT e = CSM_FN(vexp)(-CSM_FN(vselect)(v < 0, -v, v));
        T res[VL];
        for (j = 0; j < rest; j++)
            res[j] = (T)((v[j] < 0 ? (double)v[j] : 0.0) - log1p((double)e[j]));
        for (j = 0; j < rest; j++) out[i + j] = res[j];
    }
}

/* Binary cross-entropy from logits, elementwise: loss = max(x,0) - x t + log1p(exp(-|x|)),
 * written as x (1-t) or -x t by the sign of x so that infinite logits give the limit (a zero
 * factor times inf counts as 0). w (may be NULL) multiplies both. Per-element losses into
 * loss_out (may be NULL); returns their sum in double; grad = gscale w (sigmoid(x) - t). */
static double CSM_FN(binary_cross_entropy)(const T *x, const T *t, const T *w, ptrdiff_t n,
                                           double gscale, T *loss_out, T *grad)
{
    double total = 0;
    for (ptrdiff_t i = 0; i < n; i += VL) {
        int rest = n - i < VL ? (int)(n - i) : VL, j;
        VT v = CSM_FN(vload_part)(x + i, rest, 0);
        VT e = CSM_FN(vexp)(-CSM_FN(vselect)(v < 0, -v, v));
        for (j = 0; j < rest; j++) {
            double xv = (double)v[j], tv = (double)t[i + j], wv = w ? (double)w[i + j] : 1.0;
            double f = xv >= 0 ? 1 - tv : tv, ax = xv >= 0 ? xv : -xv;
            double lin = f == 0 ? 0 : ax * f;
            double l = lin + log1p((double)e[j]);
            if (xv != xv) l = xv;
            l = wv == 0 && l == INFINITY ? 0 : wv * l;
            if (loss_out) loss_out[i + j] = (T)l;
            total += l;
            /* sigmoid(x) - t as (1 - t) - sigmoid(-|x|) for x >= 0: no 1 - 1 cancellation */
            double s_neg = (double)e[j] / (1 + (double)e[j]);
            double d = xv >= 0 ? (1 - tv) - s_neg : s_neg - tv;
            if (grad) grad[i + j] = (T)(gscale * wv * d);
        }
    }
    return total;
}
