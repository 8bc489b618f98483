/* Template (see csm_types.h, csm_simd.h, csm_exp.h, csm_log.h, csm_rows.h): log_softmax and
 * logsumexp of rows that are not long (csm_rows_long.h), VL rows at a time, pass by pass.
 *
 * Every row's max; every row's sum below its max and count of ties (exp_sum_below_max's split,
 * which keeps logsumexp([0, -40]) = 4.2e-18); the group's log-sum-exps in one vector, a lane per
 * row; then the outputs. One row at a time, each pass waited on the previous pass's reduction and
 * each row ended in two libm calls: log_softmax took nearly twice softmax's time. Lanes never
 * mix, so a row's result does not depend on its group or on where a thread split the rows. */

typedef struct {
    T max[VL], rest[VL], ties[VL]; /* a lane per row: its max, sum below the max, count at it */
    unsigned special;              /* lanes whose max is not finite: the one-row rules */
} CSM_FN(lse_group);

/* Row xr's sum of expm below its max mv (as exp_sum_below_max) and its ties */
static inline VT CSM_FN(reg_sum_below)(const T *xr, ptrdiff_t n, const int NV, VT mv,
                                       CSM_FN(shift) s, CSM_FN(tie_count) *ties)
{
    const int last = (int)(n - (NV - 1) * VL);
    VT sum = CSM_FN(vsplat)(0);
    for (int j = 0; j < NV; j++) { /* at most REG_ROW_VECTORS <= FLUSH terms per lane */
        VT v = j < NV - 1 ? CSM_FN(vload)(xr + j * VL)
                          : CSM_FN(vload_part)(xr + j * VL, last, -(T)INFINITY);
        sum = CSM_FN(vadd_below)(sum, CSM_FN(expm)(v, s), v, mv, ties);
    }
    return sum;
}

/* Rows of NV vectors where tails are masked (AVX-512): the maxima and the sums reduced across
 * lanes for the whole group at once, as reg_rows does for softmax. */
CSM_HOT void CSM_FN(reg_group_sums)(const T *x, int g, int g_next, ptrdiff_t n, ptrdiff_t ldx,
                                    const int NV, CSM_FN(lse_group) *gs, T *out, ptrdiff_t ldo)
{
    VT sum[VL];
    VT maxv = CSM_FN(group_max)(x, g, n, ldx, NV, &gs->special);
    CSM_FN(shift) s = CSM_FN(make_shift)(maxv);
    int pivot_free = CSM_FN(pivot_free)(maxv);
    for (int l = 0; l < VL; l++) {
        CSM_FN(tie_count) ties = {0};
        sum[l] = CSM_FN(vsplat)(0);
        if (l >= g || gs->special >> l & 1) continue;
        CSM_FN(shift) sl = CSM_FN(shift_lane)(&s, l);
        VT mv = CSM_FN(vsplat)(maxv[l]);
        CSM_FN(prefetch_reg_row)(l < g_next ? x + (VL + l) * ldx : NULL, out ? out + l * ldo : NULL,
                                 NV);
        if (pivot_free) {
            sl.c = CSM_FN(vsplat)(0); /* known 0 here, so x - c folds away */
            sum[l] = CSM_FN(reg_sum_below)(x + l * ldx, n, NV, mv, sl, &ties);
        } else {
            sum[l] = CSM_FN(reg_sum_below)(x + l * ldx, n, NV, mv, sl, &ties);
        }
        gs->ties[l] = (T)CSM_FN(ties_total)(ties);
    }
    CSM_FN(vstore)(gs->max, maxv);
    CSM_FN(vstore)(gs->rest, CSM_FN(sum_lanes)(sum, 0, NULL));
}

/* Longer rows: all maxes first, then all sums, so no pass waits on its own row's reduction.
 * The sums prefetch the rows a group ahead (they come from memory in the max pass). With
 * shifted, x - max goes into shifted's rows (ldo apart) behind the exps: rows from memory
 * then take their output's first write there, not in a bare streaming pass. */
static void CSM_FN(group_sums)(const T *x, int g, ptrdiff_t n, ptrdiff_t ldx, CSM_FN(lse_group) *gs,
                               const T *const *next, T *shifted, ptrdiff_t ldo)
{
    int l;
    for (l = 0; l < g; l++) {
        T max = CSM_FN(row_max)(x + l * ldx, n);
        if (CSM_FN(row_is_special)(max)) gs->special |= 1u << l;
        else gs->max[l] = max;
    }
    for (l = 0; l < g; l++) {
        if (gs->special >> l & 1) continue;
        ptrdiff_t ties;
        CSM_FN(shift) s = CSM_FN(make_shift)(CSM_FN(vsplat)(gs->max[l]));
        gs->rest[l] = (T)CSM_FN(exp_sum_below_max)(x + l * ldx, NULL,
                                                   shifted ? shifted + l * ldo : NULL, n,
                                                   gs->max[l], s, &ties, next[l]);
        gs->ties[l] = (T)ties;
    }
}

/* lanes without a row get harmless values */
static void CSM_FN(lse_group_init)(CSM_FN(lse_group) *gs)
{
    for (int l = 0; l < VL; l++) {
        gs->max[l] = gs->rest[l] = 0;
        gs->ties[l] = 1;
    }
    gs->special = 0;
}

/* log(ties) + log1p(rest / (ties e_max)) per lane, e_max = expm(max) under the lane's own shift
 * (the sum is ties e_max + rest, in units of exp(c) 2^k); e_max too when asked */
static void CSM_FN(group_lse)(const CSM_FN(lse_group) *gs, T *lse, T *e_max_out)
{
    VT mv = CSM_FN(vload)(gs->max), t = CSM_FN(vload)(gs->ties);
    VT e_max = CSM_FN(expm)(mv, CSM_FN(make_shift)(mv));
    CSM_FN(vstore)(lse,
                   CSM_FN(vlog1p_finite)(t - 1)
                       + CSM_FN(vlog1p_finite)(CSM_FN(vload)(gs->rest) / (t * e_max)));
    if (e_max_out) CSM_FN(vstore)(e_max_out, e_max);
}

/* Rows per group where they are not in registers: VL, or as many as GROUP_BYTES holds (one row
 * at least). A group of 16 rows of 32000 floats (2 MB) was reread from L3 by every pass. */
static int CSM_FN(group_rows)(ptrdiff_t n)
{
    ptrdiff_t rows = n > 0 ? GROUP_BYTES / (n * (ptrdiff_t)sizeof(T)) : VL;
    return rows < 1 ? 1 : rows > VL ? VL : (int)rows;
}

/* log_softmax (out rows ldo apart) or logsumexp (out[r * ldo]) of nrows rows of n < long rows */
static void CSM_FN(lse_rows)(const T *x, T *out, ptrdiff_t nrows, ptrdiff_t n, ptrdiff_t ldx,
                             ptrdiff_t ldo, const csm_op op)
{
    int nv = CSM_MASKED_TAILS && n <= REG_ROW_VECTORS * VL ? (int)((n + VL - 1) / VL) : 0;
    int step = nv ? VL : CSM_FN(group_rows)(n);
    for (ptrdiff_t r0 = 0; r0 < nrows; r0 += step) {
        int g = nrows - r0 < step ? (int)(nrows - r0) : step, l;
        const T *xg = x + r0 * ldx;
        CSM_FN(lse_group) gs;
        T lse[VL], *shifted = NULL;
        CSM_FN(lse_group_init)(&gs);
        switch (nv) {
#define CSM_REG_CASE(k)                                                                            \
    case k:                                                                                        \
        CSM_FN(reg_group_sums)(xg, g, (int)(nrows - r0 - VL < VL ? nrows - r0 - VL : VL), n, ldx,  \
                               k, &gs, op == CSM_LOG_SOFTMAX ? out + r0 * ldo : NULL, ldo);        \
        break;
            /* clang-format reflows these calls differently on each run, so they are left alone */
            /* clang-format off */
            CSM_REG_CASE(1) CSM_REG_CASE(2) CSM_REG_CASE(3) CSM_REG_CASE(4)
            CSM_REG_CASE(5) CSM_REG_CASE(6) CSM_REG_CASE(7) CSM_REG_CASE(8)
            /* clang-format on */
#undef CSM_REG_CASE
                    default:
            {
                const T *next[VL] = {0};
                for (l = 0; l < g; l++) next[l] = CSM_FN(next_row)(x, r0 + step + l, nrows, n, ldx);
                shifted = op == CSM_LOG_SOFTMAX && next[0] ? out + r0 * ldo : NULL;
                CSM_FN(group_sums)(xg, g, n, ldx, &gs, next, shifted, ldo);
            }
        }
        CSM_FN(group_lse)(&gs, lse, NULL);
        for (l = 0; l < g; l++) {
            const T *xr = xg + l * ldx;
            T *o = out + (r0 + l) * ldo;
            if (gs.special >> l & 1) {
                if (op == CSM_LOG_SOFTMAX) CSM_FN(log_softmax_row)(xr, o, n, NULL);
                else *o = CSM_FN(logsumexp_row)(xr, n, NULL);
            } else if (op == CSM_LOG_SOFTMAX) { /* o - 0 is o: the same bits either way */
                CSM_FN(shift_log)(shifted ? o : xr, o, n, shifted ? 0 : gs.max[l], lse[l]);
            } else {
                *o = gs.max[l] + lse[l];
            }
        }
    }
}
