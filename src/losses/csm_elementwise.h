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
        if (++blocks == FLUSH) {
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
            CSM_FN(vstore_part)(out + r * n + i, yv * (CSM_FN(vload_part)(gr + i, rest, 0) - dot),
                                rest);
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

/* log_sigmoid(x) = min(x, 0) - log1p(exp(-|x|)): exact in both tails. x = -inf gives -inf,
 * +inf gives 0, NaN gives NaN (through the exp and the log1p). */
static inline VT CSM_FN(vlog_sigmoid)(VT x)
{
    VT lo = CSM_FN(vselect)(x < 0, x, CSM_FN(vsplat)(0));
    return lo - CSM_FN(vlog1p_finite)(CSM_FN(vexp_nonpos)(-CSM_FN(vabs)(x)));
}

static void CSM_FN(log_sigmoid)(const T *x, T *out, ptrdiff_t n)
{
    for (ptrdiff_t i = 0; i < n; i += VL) {
        int rest = n - i < VL ? (int)(n - i) : VL;
        CSM_FN(vstore_part)(out + i, CSM_FN(vlog_sigmoid)(CSM_FN(vload_part)(x + i, rest, 0)),
                            rest);
    }
}

/* Binary cross-entropy from logits, elementwise: loss = max(x,0) - x t + log1p(exp(-|x|)),
 * written as x (1-t) or -x t by the sign of x so that infinite logits give the limit (a zero
 * factor times inf counts as 0); a NaN logit gives itself. w (may be NULL) multiplies both, and a
 * zero weight times an infinite loss is 0. Per-element losses into loss_out (may be NULL); returns
 * their sum, accumulated in vectors flushed into doubles every 8 (as dot_wide);
 * grad = gscale w (sigmoid(x) - t). Everything per element is computed in T. */
static double CSM_FN(binary_cross_entropy)(const T *x, const T *t, const T *w, ptrdiff_t n,
                                           double gscale, T *loss_out, T *grad)
{
    const VT zero = CSM_FN(vsplat)(0);
    const VT gs = CSM_FN(vsplat)((T)gscale);
    IT idx[VL];
    VI lane; /* 0, 1, ..., VL - 1: masks the sum's tail lanes */
    for (int j = 0; j < VL; j++) idx[j] = j;
    memcpy(&lane, idx, sizeof lane);
    VT acc = zero;
    VD wide = {0};
    int blocks = 0;
    for (ptrdiff_t i = 0; i < n; i += VL) {
        int rest = n - i < VL ? (int)(n - i) : VL;
        VT v = CSM_FN(vload_part)(x + i, rest, 0), tv = CSM_FN(vload_part)(t + i, rest, 0);
        VT wv = w ? CSM_FN(vload_part)(w + i, rest, 0) : zero;
        VI pos = v >= 0;
        VT f = CSM_FN(vselect)(pos, 1 - tv, tv), ax = CSM_FN(vabs)(v);
        VT e = CSM_FN(vexp_nonpos)(-ax);
        VT lin = CSM_FN(vselect)(f == 0, zero, ax * f);
        VT l = CSM_FN(vselect)(v != v, v, lin + CSM_FN(vlog1p_finite)(e));
        if (w) l = CSM_FN(vselect)(wv == 0, zero, wv * l); /* a zero weight wins, even over NaN */
        if (loss_out) CSM_FN(vstore_part)(loss_out + i, l, rest);
        if (grad) {
            /* sigmoid(x) - t as (1 - t) - sigmoid(-|x|) for x >= 0: no 1 - 1 cancellation */
            VT s_neg = e / (1 + e);
            VT d = CSM_FN(vselect)(pos, f - s_neg, s_neg - f);
            CSM_FN(vstore_part)(grad + i, w ? gs * wv * d : gs * d, rest);
        }
        acc += rest == VL ? l : CSM_FN(vselect)(lane < rest, l, zero);
        if (++blocks == FLUSH) {
            wide += CSM_FN(vwiden_sum)(acc);
            acc = zero;
            blocks = 0;
        }
    }
    return CSM_FN(hsum_d)(wide + CSM_FN(vwiden_sum)(acc));
}
