/* Template (see csm_types.h, csm_simd.h, csm_exp.h, csm_rows.h): fused softmax cross-entropy
 * forward + backward, one row at a time.
 *
 * One read of the logits row gives the max, one more the exps (stored straight into the gradient
 * row) with the sum below the max, and the gradient is finished in place: the loss and its
 * gradient cost about what softmax does. With C classes, class weights wc (1 when absent),
 * W = sum(wc), smoothing eps, L = log(sum exp(x - max)):
 *
 *   index target t, weight wt = wc[t]:
 *     loss = (1-eps) wt (L - (x_t - max)) + eps/C (W L - sum_c wc_c (x_c - max))
 *     grad = (1-eps) wt (p - onehot_t) + eps/C (W p - wc)            (times gscale)
 *   soft target q: coef = ((1-eps) q + eps/C) wc
 *     loss = sum(coef) L - sum_c coef_c (x_c - max)
 *     grad = sum(coef) p - coef
 *
 * L keeps the max's own terms apart (log1p form), and 1 - p_t = rest / S when t is the only max,
 * so tiny losses and their gradients keep relative accuracy ([0, -37] -> 8.5e-17, not 0).
 * A coefficient of exactly 0 times an infinite (x_c - max) counts as 0. */

/* rows with +inf or no finite max: loss and gradient are NaN (a NaN logit in a row with a
 * finite max makes the sums NaN, with the same result) */
static double CSM_FN(ce_special_row)(T *g, ptrdiff_t C)
{
    if (g) CSM_FN(fill)(g, C, (T)NAN);
    return NAN;
}

/* sum_c coef_c (x_c - max) (coef NULL: all 1), where coef_c == 0 contributes 0 even where
 * x_c = -inf */
static double CSM_FN(weighted_shift_sum)(const T *x, const T *coef, ptrdiff_t C, T max)
{
    VT acc = CSM_FN(vsplat)(0), mv = CSM_FN(vsplat)(max);
    VD wide = {0};
    int blocks = 0;
    for (ptrdiff_t i = 0; i < C; i += VL) {
        int rest = C - i < VL ? (int)(C - i) : VL;
        VT a = CSM_FN(vload_part)(x + i, rest, max);
        VT w = coef ? CSM_FN(vload_part)(coef + i, rest, 0) : CSM_FN(vsplat)(1);
        acc += (VT)((VI)(w * (a - mv)) & (w != 0));
        if (++blocks == FLUSH) {
            wide += CSM_FN(vwiden_sum)(acc);
            acc = CSM_FN(vsplat)(0);
            blocks = 0;
        }
    }
    return CSM_FN(hsum_d)(wide + CSM_FN(vwiden_sum)(acc));
}

/* What both target kinds need of a row: its max, S = sum of e (e = expm, stored into g when
 * given), the part of S below the max, and L = log(S / e_max), from three passes or from a long
 * row's blocks (csm_rows_long.h: e is then in each block's units until ce_scale). */
typedef struct {
    T max;
    double S, rest, L;
    int is_long;
    CSM_FN(long_row) lr;
} CSM_FN(ce_sums);

/* Returns 0 for a row with +inf or no finite max. */
static int CSM_FN(ce_row_sums)(const T *x, T *g, ptrdiff_t C, const T *next, CSM_FN(ce_sums) *cs)
{
    double ties, e_max;
    cs->is_long = CSM_FN(is_long_row)(C) && CSM_FN(long_row_sums)(x, g, C, 1, &cs->lr);
    if (cs->is_long) {
        cs->max = cs->lr.max;
        cs->rest = cs->lr.rest;
        ties = cs->lr.ties;
        e_max = cs->lr.e_max;
    } else {
        ptrdiff_t nt;
        cs->max = CSM_FN(row_max)(x, C);
        if (CSM_FN(row_is_special)(cs->max)) return 0;
        CSM_FN(shift) s = CSM_FN(make_shift)(CSM_FN(vsplat)(cs->max));
        cs->rest = CSM_FN(exp_sum_below_max)(x, g, NULL, C, cs->max, s, &nt, next);
        ties = (double)nt;
        e_max = (double)CSM_FN(expm)(CSM_FN(vsplat)(cs->max), s)[0];
    }
    cs->L = log(ties) + log1p(cs->rest / (ties * e_max));
    cs->S = ties * e_max + cs->rest;
    return 1;
}

/* e of class c, read back from g, in the units of S */
static double CSM_FN(ce_exp_at)(const CSM_FN(ce_sums) *cs, const T *g, ptrdiff_t c)
{
    return cs->is_long ? CSM_FN(long_row_at)(&cs->lr, g, c) : (double)g[c];
}

/* g = a * e - b * w (w NULL: 1); frees what ce_row_sums took */
static void CSM_FN(ce_scale)(CSM_FN(ce_sums) *cs, T *g, ptrdiff_t C, T a, T b, const T *w)
{
    if (g && cs->is_long) CSM_FN(long_row_scale)(g, C, &cs->lr, a, b, w);
    else if (g) CSM_FN(axpb)(g, C, a, b, w);
    if (cs->is_long) CSM_FN(long_row_free)(&cs->lr);
}

/* What a row with index target t gives, from its sums (and e_t, its target's exp in the units of
 * S, when the gradient is wanted): the loss, and the gradient as a e - b wc with its target's
 * entry g_t apart */
typedef struct {
    double loss;
    T a, b, g_t;
} CSM_FN(ce_index_out);

/* inline: as a call it cost dozens of cycles a row in ce_index_reg_rows (every vector register
 * is caller-saved) */
CSM_HOT CSM_FN(ce_index_out)
    CSM_FN(ce_index_values)(const T *x, ptrdiff_t C, ptrdiff_t t, const T *wc, double W, double eps,
                            double gscale, const CSM_FN(ce_sums) *cs, double e_t)
{
    CSM_FN(ce_index_out) v;
    double S = cs->S, L = cs->L, rest = cs->rest;
    T max = cs->max;
    double wt = wc ? (double)wc[t] : 1.0, a = (1 - eps) * wt, sm = eps / (double)C;
    double xt = (double)x[t] - (double)max;
    v.loss = a == 0 ? 0 : a * (L - xt);
    if (eps > 0) { v.loss += sm * (W * L - CSM_FN(weighted_shift_sum)(x, wc, C, max)); }
    /* 1 - p_t without cancellation: when t is the only max the others sum to `rest` */
    double one_minus_pt = (x[t] == max && S - e_t <= rest * 1.0000001) ? rest / S : (S - e_t) / S;
    v.g_t = (T)(gscale * (-a * one_minus_pt + sm * (W * (e_t / S) - wt)));
    v.a = (T)(gscale * (a + sm * W) / S);
    v.b = (T)(gscale * sm);
    return v;
}

/* Loss and gradient of a row with index target t, from its sums (the exps in g) */
static double CSM_FN(ce_index_finish)(const T *x, ptrdiff_t C, ptrdiff_t t, const T *wc, double W,
                                      double eps, double gscale, T *g, CSM_FN(ce_sums) *cs)
{
    CSM_FN(ce_index_out) v = CSM_FN(ce_index_values)(x, C, t, wc, W, eps, gscale, cs,
                                                     g ? CSM_FN(ce_exp_at)(cs, g, t) : 0);
    CSM_FN(ce_scale)(cs, g, C, v.a, v.b, wc);
    if (g) g[t] = v.g_t;
    return v.loss;
}

static double CSM_FN(ce_index_row)(const T *x, ptrdiff_t C, ptrdiff_t t, const T *wc, double W,
                                   double eps, double gscale, T *g, const T *next)
{
    CSM_FN(ce_sums) cs;
    if (!CSM_FN(ce_row_sums)(x, g, C, next, &cs)) return CSM_FN(ce_special_row)(g, C);
    return CSM_FN(ce_index_finish)(x, C, t, wc, W, eps, gscale, g, &cs);
}

/* Index targets, rows neither short nor long: VL rows at a time, pass by pass, L for the group in
 * one vector, as csm_rows_lse.h does for log_softmax (a lane per row: the same bits whatever the
 * thread split). */
static void CSM_FN(ce_index_group_rows)(const T *x, ptrdiff_t nrows, ptrdiff_t C, ptrdiff_t ldx,
                                        const int64_t *target, int64_t ignore_index, const T *wc,
                                        double W, double eps, double gscale, T *grad, ptrdiff_t ldg,
                                        double *loss)
{
    int step = CSM_FN(group_rows)(C);
    for (ptrdiff_t r0 = 0; r0 < nrows; r0 += step) {
        int g = nrows - r0 < step ? (int)(nrows - r0) : step, l;
        unsigned skip = 0; /* ignored rows */
        CSM_FN(lse_group) gs;
        T L[VL], e_max[VL];
        double rest[VL];
        CSM_FN(lse_group_init)(&gs);
        for (l = 0; l < g; l++) {
            T max;
            if (target[r0 + l] == ignore_index) skip |= 1u << l;
            else if (CSM_FN(row_is_special)(max = CSM_FN(row_max)(x + (r0 + l) * ldx, C)))
                gs.special |= 1u << l;
            else gs.max[l] = max;
        }
        for (l = 0; l < g; l++) {
            ptrdiff_t r = r0 + l, ties;
            if ((skip | gs.special) >> l & 1) continue;
            CSM_FN(shift) s = CSM_FN(make_shift)(CSM_FN(vsplat)(gs.max[l]));
            rest[l] = CSM_FN(exp_sum_below_max)(x + r * ldx, grad ? grad + r * ldg : NULL, NULL, C,
                                                gs.max[l], s, &ties,
                                                CSM_FN(next_row)(x, r + step, nrows, C, ldx));
            gs.rest[l] = (T)rest[l];
            gs.ties[l] = (T)ties;
        }
        CSM_FN(group_lse)(&gs, L, e_max);
        for (l = 0; l < g; l++) {
            ptrdiff_t r = r0 + l;
            const T *xr = x + r * ldx;
            T *gr = grad ? grad + r * ldg : NULL;
            if (skip >> l & 1) {
                loss[r] = 0;
                if (gr) CSM_FN(fill)(gr, C, 0);
            } else if (gs.special >> l & 1) {
                loss[r] = CSM_FN(ce_special_row)(gr, C);
            } else {
                CSM_FN(ce_sums) cs = {.max = gs.max[l],
                                      .rest = rest[l],
                                      .L = (double)L[l],
                                      .S = (double)gs.ties[l] * (double)e_max[l] + rest[l]};
                loss[r] = CSM_FN(ce_index_finish)(xr, C, (ptrdiff_t)target[r], wc, W, eps, gscale,
                                                  gr, &cs);
            }
        }
    }
}

/* Index targets, rows of NV vectors where tails are masked (AVX-512; NV a constant): VL rows at a
 * time as reg_rows does for softmax (maxima and sums reduced across lanes for the group, the exps
 * kept in whole vectors), L for the group as above. */
static inline void CSM_FN(ce_index_reg_rows)(const T *x, ptrdiff_t nrows, ptrdiff_t C,
                                             ptrdiff_t ldx, const int64_t *target,
                                             int64_t ignore_index, const T *wc, double W,
                                             double eps, double gscale, T *grad, ptrdiff_t ldg,
                                             double *loss, const int NV)
{
    const int last = (int)(C - (NV - 1) * VL);
    for (ptrdiff_t r0 = 0; r0 < nrows; r0 += VL) {
        int g = nrows - r0 < VL ? (int)(nrows - r0) : VL, l, j;
        const T *xg = x + r0 * ldx;
        VT e[VL * REG_ROW_VECTORS], sum[VL];
        T L[VL], e_max[VL];
        double rest[VL];
        unsigned skip = 0; /* ignored rows */
        CSM_FN(lse_group) gs;
        CSM_FN(lse_group_init)(&gs);
        VT maxv = CSM_FN(group_max)(xg, g, C, ldx, NV, &gs.special);
        CSM_FN(shift) s = CSM_FN(make_shift)(maxv);
        int pivot_free = CSM_FN(pivot_free)(maxv);
        for (l = 0; l < VL; l++) {
            CSM_FN(tie_count) ties = {0};
            sum[l] = CSM_FN(vsplat)(0);
            if (l < g && target[r0 + l] == ignore_index) skip |= 1u << l;
            if (l >= g || (skip | gs.special) >> l & 1) continue;
            CSM_FN(shift) sl = CSM_FN(shift_lane)(&s, l);
            if (pivot_free) sl.c = CSM_FN(vsplat)(0); /* known 0 here, so x - c folds away */
            CSM_FN(prefetch_reg_row)(r0 + VL + l < nrows ? xg + (VL + l) * ldx : NULL,
                                     grad ? grad + (r0 + l) * ldg : NULL, NV);
            VT mv = CSM_FN(vsplat)(maxv[l]);
            for (j = 0; j < NV; j++) { /* at most REG_ROW_VECTORS <= FLUSH terms per lane */
                const T *p = xg + l * ldx + j * VL;
                VT v = j < NV - 1 ? CSM_FN(vload)(p) : CSM_FN(vload_part)(p, last, -(T)INFINITY);
                e[l * NV + j] = CSM_FN(expm)(v, sl);
                sum[l] = CSM_FN(vadd_below)(sum[l], e[l * NV + j], v, mv, &ties);
            }
            gs.ties[l] = (T)CSM_FN(ties_total)(ties);
        }
        CSM_FN(vstore)(gs.max, maxv);
        CSM_FN(vstore)(gs.rest, CSM_FN(sum_lanes)(sum, 0, rest));
        CSM_FN(group_lse)(&gs, L, e_max);
        for (l = 0; l < g; l++) {
            ptrdiff_t r = r0 + l, t = (ptrdiff_t)target[r];
            const T *xr = xg + l * ldx;
            T *gr = grad ? grad + r * ldg : NULL;
            if (skip >> l & 1) {
                loss[r] = 0;
                if (gr) CSM_FN(fill)(gr, C, 0);
                continue;
            }
            if (gs.special >> l & 1) {
                loss[r] = CSM_FN(ce_special_row)(gr, C);
                continue;
            }
            T e_t;
            memcpy(&e_t, (const T *)(e + l * NV) + t, sizeof e_t);
            CSM_FN(ce_sums) cs = {.max = gs.max[l],
                                  .rest = rest[l],
                                  .L = (double)L[l],
                                  .S = (double)gs.ties[l] * (double)e_max[l] + rest[l]};
            CSM_FN(ce_index_out) v = CSM_FN(ce_index_values)(xr, C, t, wc, W, eps, gscale, &cs,
                                                             (double)e_t);
            loss[r] = v.loss;
            if (!gr) continue;
            VT av = CSM_FN(vsplat)(v.a), bv = CSM_FN(vsplat)(v.b);
            for (j = 0; j < NV; j++) {
                int count = j < NV - 1 ? VL : last;
                VT w = wc ? CSM_FN(vload_part)(wc + j * VL, count, 0) : CSM_FN(vsplat)(1);
                CSM_FN(vstore_part)(gr + j * VL, e[l * NV + j] * av - bv * w, count);
            }
            gr[t] = v.g_t;
        }
    }
}

static double CSM_FN(ce_prob_row)(const T *x, const T *q, ptrdiff_t C, const T *wc, double eps,
                                  double gscale, T *g, T *coef, const T *next)
{
    CSM_FN(ce_sums) cs;
    if (!CSM_FN(ce_row_sums)(x, g, C, next, &cs)) return CSM_FN(ce_special_row)(g, C);
    double qsum = 0;
    T a = (T)(1 - eps), b = (T)(eps / (double)C);
    for (ptrdiff_t c = 0; c < C; c++) {
        coef[c] = (a * q[c] + b) * (wc ? wc[c] : 1);
        qsum += (double)coef[c];
    }
    double loss = qsum * cs.L - CSM_FN(weighted_shift_sum)(x, coef, C, cs.max);
    CSM_FN(ce_scale)(&cs, g, C, (T)(gscale * qsum / cs.S), (T)gscale, coef);
    return loss;
}

/* Index targets, short rows (C <= SMALL_ROW_MAX): BLOCK rows at a time, one per vector lane, as
 * in csm_rows_small.h: the column kernels' per-lane max and shift, the exps kept transposed, then
 * each lane's loss and gradient row with the formulas of ce_index_row. */
static void CSM_FN(ce_index_small_rows)(const T *x, ptrdiff_t nrows, ptrdiff_t C, ptrdiff_t ldx,
                                        const int64_t *target, int64_t ignore_index, const T *wc,
                                        double W, double eps, double gscale, T *grad, ptrdiff_t ldg,
                                        double *loss)
{
    T buf[SMALL_ROW_MAX * BLOCK], ebuf[SMALL_ROW_MAX * BLOCK];
    double sm = eps / (double)C;
    for (ptrdiff_t r0 = 0; r0 < nrows; r0 += BLOCK) {
        int w = nrows - r0 < BLOCK ? (int)(nrows - r0) : BLOCK, v, l;
        CSM_FN(colstate) st;
        VT acc[NB];
        VI ties[NB];
        double wide[NB * VL] = {0};
        CSM_FN(gather_rows)(x + r0 * ldx, C, ldx, w, buf);
        CSM_FN(cols_max)(buf, C, BLOCK, BLOCK, &st);
        for (v = 0; v < NB; v++) {
            acc[v] = CSM_FN(vsplat)(0);
            ties[v] = (VI){0};
        }
        for (ptrdiff_t c = 0; c < C; c++) {
            if (c % FLUSH == 0) CSM_FN(flush_wide)(acc, wide, NB);
            for (v = 0; v < NB; v++) {
                VT a = CSM_FN(col_input)(&st, v, buf + c * BLOCK);
                VT e = CSM_FN(expm)(a, st.s[v]);
                CSM_FN(vstore)(ebuf + c * BLOCK + v * VL, e);
                acc[v] += (VT)((VI)e & (a < st.max[v]));
                ties[v] -= a == st.max[v];
            }
        }
        /* Per lane, vectorized: L = log(ties + rest / e_max) in the log1p form of
         * cols_log_sum, and S = sum of exps, both in units of e_max's scale. */
        T Ls[BLOCK], Ss[BLOCK], rests[BLOCK], scale[BLOCK] = {0}, bias[BLOCK] = {0}, g_t[BLOCK];
        for (v = 0; v < NB; v++) {
            VT rest, nt = __builtin_convertvector(ties[v], VT);
            VT e_max = CSM_FN(expm)(st.max[v], st.s[v]);
            rest = CSM_FN(wide_total)(wide + v * VL, acc[v], 0);
            CSM_FN(vstore)(Ls + v * VL, CSM_FN(vlog1p)((nt - 1) + rest / e_max));
            CSM_FN(vstore)(Ss + v * VL, nt * e_max + rest);
            CSM_FN(vstore)(rests + v * VL, rest);
        }
        for (l = 0; l < w; l++) { /* scale and bias stay 0 for ignored rows: zero gradient */
            ptrdiff_t r = r0 + l, t = (ptrdiff_t)target[r];
            const T *xr = x + r * ldx;
            if (target[r] == ignore_index) {
                loss[r] = 0;
                continue;
            }
            if (st.special[l / VL][l % VL]) {
                loss[r] = scale[l] = (T)NAN; /* NaN times any exp: the whole row is NaN */
                continue;
            }
            T max = st.max[l / VL][l % VL];
            double S = (double)Ss[l], L = (double)Ls[l], rest = (double)rests[l];
            double wt = wc ? (double)wc[t] : 1.0, a = (1 - eps) * wt;
            double lo = a == 0 ? 0 : a * (L - ((double)xr[t] - (double)max));
            if (eps > 0) lo += sm * (W * L - CSM_FN(weighted_shift_sum)(xr, wc, C, max));
            loss[r] = lo;
            if (grad) {
                double e_t = (double)ebuf[t * BLOCK + l];
                double one_minus_pt = (xr[t] == max && S - e_t <= rest * 1.0000001) ? rest / S
                                                                                    : (S - e_t) / S;
                scale[l] = (T)(gscale * (a + sm * W) / S);
                bias[l] = (T)(gscale * sm);
                /* the target's entry, written over after the vector pass below */
                g_t[l] = (T)(gscale * (-a * one_minus_pt + sm * (W * (e_t / S) - wt)));
            }
        }
        if (!grad) continue;
        /* grad = e * scale - bias * wc, a column (one class for BLOCK rows) per step */
        for (ptrdiff_t c = 0; c < C; c++) {
            VT wcv = CSM_FN(vsplat)(wc ? wc[c] : 1);
            for (v = 0; v < NB; v++)
                CSM_FN(vstore)(ebuf + c * BLOCK + v * VL,
                               CSM_FN(vload)(ebuf + c * BLOCK + v * VL)
                                       * CSM_FN(vload)(scale + v * VL)
                                   - CSM_FN(vload)(bias + v * VL) * wcv);
        }
        for (l = 0; l < w; l++)
            if (target[r0 + l] != ignore_index && !st.special[l / VL][l % VL])
                ebuf[(ptrdiff_t)target[r0 + l] * BLOCK + l] = g_t[l];
        CSM_FN(scatter_rows)(ebuf, C, grad + r0 * ldg, ldg, w);
    }
}

/* nrows rows of C logits (row stride ldx); index targets `target` (ignored rows: loss 0, grad 0)
 * or soft targets `prob` (row stride ldq); per-row losses into loss[r]; gradient rows (stride
 * ldg) when grad != NULL; coef is scratch of C elements (soft targets only). */
static void CSM_FN(cross_entropy_rows)(const T *x, ptrdiff_t nrows, ptrdiff_t C, ptrdiff_t ldx,
                                       const int64_t *target, int64_t ignore_index, const T *prob,
                                       ptrdiff_t ldq, const T *wc, double W, double eps,
                                       double gscale, T *grad, ptrdiff_t ldg, double *loss, T *coef)
{
    if (!prob && CSM_FN(lse_reg_row_length)(C)) {
        switch ((int)((C + VL - 1) / VL)) {
#define CSM_REG_CASE(k)                                                                            \
    case k:                                                                                        \
        CSM_FN(ce_index_reg_rows)(x, nrows, C, ldx, target, ignore_index, wc, W, eps, gscale,      \
                                  grad, ldg, loss, k);                                             \
        break;
            /* clang-format reflows these calls differently on each run, so they are left alone */
            /* clang-format off */
            CSM_REG_CASE(1) CSM_REG_CASE(2) CSM_REG_CASE(3) CSM_REG_CASE(4)
            CSM_REG_CASE(5) CSM_REG_CASE(6) CSM_REG_CASE(7) CSM_REG_CASE(8)
            /* clang-format on */
#undef CSM_REG_CASE
        }
        return;
    }
    if (!prob && C <= SMALL_ROW_MAX && nrows > 1) {
        CSM_FN(ce_index_small_rows)(x, nrows, C, ldx, target, ignore_index, wc, W, eps, gscale,
                                    grad, ldg, loss);
        return;
    }
    if (!prob && !CSM_FN(is_long_row)(C)) {
        CSM_FN(ce_index_group_rows)(x, nrows, C, ldx, target, ignore_index, wc, W, eps, gscale,
                                    grad, ldg, loss);
        return;
    }
    for (ptrdiff_t r = 0; r < nrows; r++) {
        const T *xr = x + r * ldx, *next = CSM_FN(next_row)(x, r, nrows, C, ldx);
        T *gr = grad ? grad + r * ldg : NULL;
        if (prob) {
            loss[r] = CSM_FN(ce_prob_row)(xr, prob + r * ldq, C, wc, eps, gscale, gr, coef, next);
        } else if (target[r] == ignore_index) {
            loss[r] = 0;
            if (gr) CSM_FN(fill)(gr, C, 0);
        } else {
            loss[r] = CSM_FN(ce_index_row)(xr, C, (ptrdiff_t)target[r], wc, W, eps, gscale, gr,
                                           next);
        }
    }
}
