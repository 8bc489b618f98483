/* Template (see csm_rows.h, csm_exp.h): softmax over rows split into chunks (one chunk per Dask
 * task, Ray actor or MPI rank). Each chunk first gives its rows' partial statistics, then, once
 * those of every chunk are combined (csoftmax/_stats.py), each chunk is normalized in one pass: x
 * is read twice in all, as by the one-machine kernels.
 *
 * The statistics of a row are its max m and excess = sum(exp(x - m)) - 1, in double. The excess
 * form keeps what log1p needs: log_softmax and logsumexp keep relative accuracy near 0 (a row
 * [0 | -40] split in two still gives logsumexp 4.2e-18), which sum(exp(x - m)) = 1 + 4e-18 would
 * round away. The sums are those of the one-machine kernels (expm under the max's shift, float32
 * lanes flushed into doubles), moved from expm's units, exp(m - c) 2^-k, to exp(m) in double, so
 * no float32 rounding of exp(m) enters them. */

/* make_shift's k: the power of two the shift takes out (0 past the pivot, where c = max) */
static inline int CSM_FN(shift_k)(CSM_FN(shift) s)
{
#if CSM_AVX512
    return (int)(s.magic_k[0] - (T)T_MAGIC); /* MAGIC + k - MAGIC, exact */
#else
    const T magic = T_MAGIC;
    UT magic_bits;
    memcpy(&magic_bits, &magic, sizeof magic_bits);
    return (int)((IT)(T_BIAS - 1) - (IT)(UT)(s.scale_bias[0] + magic_bits));
#endif
}

/* exp(max - c) 2^-k in double, accurately: expm(x) / unit = exp(x - max). ln 2 split as in
 * csm_types.h's float64 constants, so max - k ln2 is exact (Sterbenz) before its last term. */
static double CSM_FN(shift_unit)(T max, CSM_FN(shift) s)
{
    if (!(max < T_PIVOT_MIN && max > -T_PIVOT_MIN)) return 1.0; /* c = max, k = 0 */
    double k = (double)CSM_FN(shift_k)(s);
    return exp(((double)max - k * 0x1.62e42fee00000p-1) - k * 0x1.a39ef35793c76p-33);
}

/* One row's max and excess. A row with no finite max: max as it is (-inf for an empty or all
 * -inf row, whose excess is -1: a sum of 0), excess NaN when the row holds a NaN. */
static void CSM_FN(stats_row)(const T *x, ptrdiff_t n, const T *next, double *max_out,
                              double *excess_out)
{
    T max = CSM_FN(row_max)(x, n);
    *max_out = (double)max;
    if (CSM_FN(row_is_special)(max)) {
        *excess_out = CSM_FN(has_nan)(x, n) ? NAN : max < 0 ? -1.0 : 0.0;
        return;
    }
    CSM_FN(shift) s = CSM_FN(make_shift)(CSM_FN(vsplat)(max));
    ptrdiff_t ties;
    double rest = CSM_FN(exp_sum_below_max)(x, NULL, NULL, n, max, s, &ties, next); /* NaN kept */
    *excess_out = (double)(ties - 1) + rest / CSM_FN(shift_unit)(max, s);
}

static void CSM_FN(stats_rows)(const T *x, ptrdiff_t nrows, ptrdiff_t n, ptrdiff_t ldx, double *max,
                               double *excess)
{
    for (ptrdiff_t r = 0; r < nrows; r++)
        CSM_FN(stats_row)(x + r * ldx, n, CSM_FN(next_row)(x, r, nrows, n, ldx), max + r,
                          excess + r);
}

/* out = expm(x) * inv, one pass */
CSM_HOT void CSM_FN(exp_scale)(const T *x, T *out, ptrdiff_t n, CSM_FN(shift) s, VT inv,
                               const int stream)
{
    ptrdiff_t i = 0;
    for (; i + 2 * VL <= n; i += 2 * VL) {
        VT e0 = CSM_FN(expm)(CSM_FN(vload)(x + i), s);
        VT e1 = CSM_FN(expm)(CSM_FN(vload)(x + i + VL), s);
        if (stream) { /* a large chunk's output, aligned: no read-for-ownership */
            CSM_FN(vstream)(out + i, e0 * inv);
            CSM_FN(vstream)(out + i + VL, e1 * inv);
        } else {
            CSM_FN(vstore)(out + i, e0 * inv);
            CSM_FN(vstore)(out + i + VL, e1 * inv);
        }
    }
    for (; i < n; i += VL) {
        int rest = n - i < VL ? (int)(n - i) : VL;
        VT e = CSM_FN(expm)(CSM_FN(vload_part)(x + i, rest, -(T)INFINITY), s);
        CSM_FN(vstore_part)(out + i, e * inv, rest);
    }
}

/* The whole row's statistics make its softmax NaN: +inf, no finite max, or a NaN somewhere */
static int CSM_FN(stats_special)(double max, double excess)
{
    return !(max < INFINITY && max > -INFINITY) || excess != excess;
}

/* softmax (log = 0) or log_softmax (log = 1) of a chunk's rows, given the statistics of the
 * whole rows (max must be at least every x of the row). softmax only: times scale[r] and minus
 * bias[r] * wc (wc NULL: 1) when scale is not NULL, for the cross-entropy gradient. */
static void CSM_FN(from_stats_rows)(const T *x, T *out, ptrdiff_t nrows, ptrdiff_t n, ptrdiff_t ldx,
                                    ptrdiff_t ldo, const double *max, const double *excess,
                                    const double *scale, const double *bias, const T *wc,
                                    const int log)
{
    /* plain softmax of a large chunk whose rows start aligned: streamed (STREAM_MIN_BYTES) */
    const int stream = !log && !bias && ((uintptr_t)out % CSM_VEC_BYTES) == 0 && ldo % VL == 0
        && nrows * n * (ptrdiff_t)sizeof(T) >= STREAM_MIN_BYTES;
    for (ptrdiff_t r = 0; r < nrows; r++) {
        const T *xr = x + r * ldx;
        T *o = out + r * ldo, m = (T)max[r];
        if (CSM_FN(stats_special)(max[r], excess[r])) {
            CSM_FN(fill)(o, n, (T)NAN);
        } else if (log) {
            CSM_FN(shift_log)(xr, o, n, m, (T)log1p(excess[r])); /* (x - max) - log(sum) */
        } else {
            CSM_FN(shift) s = CSM_FN(make_shift)(CSM_FN(vsplat)(m));
            double a = scale ? scale[r] : 1.0;
            VT inv = CSM_FN(vsplat)((T)(a / ((1.0 + excess[r]) * CSM_FN(shift_unit)(m, s))));
            if (m < T_PIVOT_MIN && m > -T_PIVOT_MIN) {
                s.c = CSM_FN(vsplat)(0); /* known 0 here, so x - c folds away */
                CSM_FN(exp_scale)(xr, o, n, s, inv, stream);
            } else {
                CSM_FN(exp_scale)(xr, o, n, s, inv, stream);
            }
            if (bias && bias[r] != 0) CSM_FN(axpb)(o, n, 1, (T)bias[r], wc); /* in cache */
        }
    }
    if (stream) CSM_FN(vstream_fence)();
}
