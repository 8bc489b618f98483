/* Template (see csm_types.h, csm_simd.h, csm_exp.h): softmax, log_softmax and logsumexp over
 * contiguous rows.
 *
 * Three passes per row (max; exp + sum; scale): while a row sits in L1/L2 the extra passes are
 * nearly free and each is a simple vector loop (XNNPACK's "three-pass with reloading"). Two
 * vectors per iteration keep two independent dependency chains in flight; the row tail goes
 * through the same code as a partial vector padded with -inf, which contributes exactly 0. */

/* Row max, NaN ignored. A NaN elsewhere in the row reaches the exp pass, where expm keeps it and
 * the sum (so every output) becomes NaN: no NaN test in the hot loop. */
static T CSM_FN(row_max)(const T *x, ptrdiff_t n)
{
    VT m0 = CSM_FN(vsplat)(-(T)INFINITY), m1 = m0;
    ptrdiff_t i = 0;
    for (; i + 2 * VL <= n; i += 2 * VL) {
        m0 = CSM_FN(vmax)(CSM_FN(vload)(x + i), m0);
        m1 = CSM_FN(vmax)(CSM_FN(vload)(x + i + VL), m1);
    }
    for (; i < n; i += VL)
        m0 = CSM_FN(vmax)(CSM_FN(vload_part)(x + i, n - i < VL ? (int)(n - i) : VL, -(T)INFINITY),
                          m0);
    return CSM_FN(hmax)(CSM_FN(vmax)(m0, m1));
}

static int CSM_FN(has_nan)(const T *x, ptrdiff_t n)
{
    for (ptrdiff_t i = 0; i < n; i++)
        if (x[i] != x[i]) return 1;
    return 0;
}

/* Prefetch the 2 * VL elements at p, one request per 64-byte line. */
static inline void CSM_FN(prefetch_block)(const T *p)
{
    __builtin_prefetch(p, 0, 3);
    if (2 * VL * sizeof(T) > 64) __builtin_prefetch(p + VL, 0, 3);
}

/* out[i] = expm(x[i]); returns the sum in double. out may equal x (every vector is loaded
 * before it is stored). When next is not NULL, a later row's input (next[0..n), see next_row)
 * is prefetched: this pass is compute-bound, so it hides the memory latency that row's max pass
 * would otherwise stall on. */
CSM_HOT double CSM_FN(exp_store_sum)(const T *x, T *out, ptrdiff_t n, CSM_FN(shift) s,
                                     const T *next)
{
    VT acc0 = CSM_FN(vsplat)(0), acc1 = acc0;
    VD wide = {0};
    ptrdiff_t i = 0, full = n - n % (2 * VL);
    while (i < full) {
        /* FLUSH iterations, then the flush: no counter in the loop */
        ptrdiff_t end = full - i > FLUSH * 2 * VL ? i + FLUSH * 2 * VL : full;
        for (; i < end; i += 2 * VL) {
            if (next) CSM_FN(prefetch_block)(next + i);
            VT e0 = CSM_FN(expm)(CSM_FN(vload)(x + i), s);
            VT e1 = CSM_FN(expm)(CSM_FN(vload)(x + i + VL), s);
            CSM_FN(vstore)(out + i, e0);
            CSM_FN(vstore)(out + i + VL, e1);
            acc0 += e0;
            acc1 += e1;
        }
        wide += CSM_FN(vwiden_sum)(acc0) + CSM_FN(vwiden_sum)(acc1);
        acc0 = acc1 = CSM_FN(vsplat)(0);
    }
    for (; i < n; i += VL) {
        int rest = n - i < VL ? (int)(n - i) : VL;
        VT e = CSM_FN(expm)(CSM_FN(vload_part)(x + i, rest, -(T)INFINITY), s);
        CSM_FN(vstore_part)(out + i, e, rest);
        acc0 += e;
    }
    return CSM_FN(hsum_d)(wide + CSM_FN(vwiden_sum)(acc0) + CSM_FN(vwiden_sum)(acc1));
}

/* Sum of expm(x[i]) over the elements not >= the max (NaN included, so it propagates), and the
 * count of elements equal to the max: keeping the max's own terms out of the sum lets log1p keep
 * relative accuracy when the rest is tiny (logsumexp([0, -40]) = 4.2e-18, not 0). When out is
 * not NULL every expm(x[i]) is stored there too (the fused cross-entropy needs both); when
 * shifted is, x[i] - max is (log_softmax: its output's first write then happens here, behind the
 * exps, instead of in a bare streaming pass). */
CSM_HOT double CSM_FN(exp_sum_below_max_body)(const T *x, T *out, T *shifted, ptrdiff_t n, T max,
                                              CSM_FN(shift) s, ptrdiff_t *n_max, const T *next)
{
    VT acc0 = CSM_FN(vsplat)(0), acc1 = acc0, mv = CSM_FN(vsplat)(max);
    CSM_FN(tie_count) ties = {0};
    VD wide = {0};
    ptrdiff_t i = 0, full = n - n % (2 * VL);
    while (i < full) {
        ptrdiff_t end = full - i > FLUSH * 2 * VL ? i + FLUSH * 2 * VL
                                                  : full; /* as exp_store_sum */
        for (; i < end; i += 2 * VL) {
            if (next) CSM_FN(prefetch_block)(next + i); /* as in exp_store_sum */
            VT a = CSM_FN(vload)(x + i), b = CSM_FN(vload)(x + i + VL);
            VT ea = CSM_FN(expm)(a, s), eb = CSM_FN(expm)(b, s);
            if (out) {
                CSM_FN(vstore)(out + i, ea);
                CSM_FN(vstore)(out + i + VL, eb);
            }
            if (shifted) {
                CSM_FN(vstore)(shifted + i, a - mv);
                CSM_FN(vstore)(shifted + i + VL, b - mv);
            }
            /* a <= max, so a >= max is a == max (false for NaN, whose exp is summed): one
             * compare serves both the sum below the max and the tie count */
            acc0 = CSM_FN(vadd_below)(acc0, ea, a, mv, &ties);
            acc1 = CSM_FN(vadd_below)(acc1, eb, b, mv, &ties);
        }
        wide += CSM_FN(vwiden_sum)(acc0) + CSM_FN(vwiden_sum)(acc1);
        acc0 = acc1 = CSM_FN(vsplat)(0);
    }
    for (; i < n; i += VL) {
        int rest = n - i < VL ? (int)(n - i) : VL;
        VT a = CSM_FN(vload_part)(x + i, rest, -(T)INFINITY);
        VT ea = CSM_FN(expm)(a, s);
        if (out) CSM_FN(vstore_part)(out + i, ea, rest);
        if (shifted) CSM_FN(vstore_part)(shifted + i, a - mv, rest);
        acc0 = CSM_FN(vadd_below)(acc0, ea, a, mv, &ties);
    }
    *n_max = CSM_FN(ties_total)(ties);
    return CSM_FN(hsum_d)(wide + CSM_FN(vwiden_sum)(acc0) + CSM_FN(vwiden_sum)(acc1));
}

CSM_SHARED double CSM_FN(exp_sum_below_max)(const T *x, T *out, T *shifted, ptrdiff_t n, T max,
                                            CSM_FN(shift) s, ptrdiff_t *n_max, const T *next)
{
    if (max < T_PIVOT_MIN && max > -T_PIVOT_MIN) {
        s.c = CSM_FN(vsplat)(0); /* known 0 here, so x - c folds away: one operation less */
        return CSM_FN(exp_sum_below_max_body)(x, out, shifted, n, max, s, n_max, next);
    }
    return CSM_FN(exp_sum_below_max_body)(x, out, shifted, n, max, s, n_max, next);
}

/* log(sum_i exp(x_i - max)) for a row whose max is finite; x_i - max into shifted if given. */
static double CSM_FN(log_sum_exp_shifted)(const T *x, T *shifted, ptrdiff_t n, T max, const T *next)
{
    CSM_FN(shift) s = CSM_FN(make_shift)(CSM_FN(vsplat)(max));
    ptrdiff_t ties;
    double rest = CSM_FN(exp_sum_below_max)(x, NULL, shifted, n, max, s, &ties, next);
    double e_max = (double)CSM_FN(expm)(CSM_FN(vsplat)(max), s)[0];
    /* sum = ties * e_max + rest, all in units of exp(c) 2^k */
    return log((double)ties) + log1p(rest / ((double)ties * e_max));
}

static void CSM_FN(fill)(T *out, ptrdiff_t n, T value)
{
    for (ptrdiff_t i = 0; i < n; i++) out[i] = value;
}

/* +inf (inf - inf) or no finite max (all -inf or NaN: 0/0): the whole row is NaN */
static int CSM_FN(row_is_special)(T max) { return !(max < (T)INFINITY && max > -(T)INFINITY); }

/* out[c] = a * out[c] - b * wc[c] (wc NULL: 1), vectorized */
static void CSM_FN(axpb)(T *g, ptrdiff_t C, T a, T b, const T *wc)
{
    VT av = CSM_FN(vsplat)(a), bv = CSM_FN(vsplat)(b);
    ptrdiff_t i = 0;
    for (; i + VL <= C; i += VL) {
        VT w = wc ? CSM_FN(vload)(wc + i) : CSM_FN(vsplat)(1);
        CSM_FN(vstore)(g + i, CSM_FN(vload)(g + i) * av - bv * w);
    }
    for (; i < C; i++) g[i] = g[i] * a - b * (wc ? wc[i] : 1);
}

#include "csm_rows_long.h"

/* exp_store_sum under the shift of a finite max, c = 0 folded when |max| is below the pivot */
CSM_HOT double CSM_FN(exp_store_sum_max)(const T *x, T *out, ptrdiff_t n, T max, const T *next)
{
    CSM_FN(shift) s = CSM_FN(make_shift)(CSM_FN(vsplat)(max));
    if (max < T_PIVOT_MIN && max > -T_PIVOT_MIN) {
        s.c = CSM_FN(vsplat)(0); /* known 0 here, so x - c folds away: one operation less */
        return CSM_FN(exp_store_sum)(x, out, n, s, next);
    }
    return CSM_FN(exp_store_sum)(x, out, n, s, next);
}

static void CSM_FN(softmax_row)(const T *x, T *out, ptrdiff_t n, const T *next)
{
    /* Not in place: the long-row path writes the exps of a row's blocks as it reads them, and
     * falls back to three passes over x for a row it cannot serve (no finite max, +inf, a block
     * past the pivot), which would then read those exps (and zeros for -inf blocks) as x. */
    if (out != x && CSM_FN(is_long_row)(n) && CSM_FN(softmax_long_row)(x, out, n)) return;
    T max = CSM_FN(row_max)(x, n);
    if (CSM_FN(row_is_special)(max)) {
        CSM_FN(fill)(out, n, (T)NAN);
        return;
    }
    double sum = CSM_FN(exp_store_sum_max)(x, out, n, max, next);
    VT inv = CSM_FN(vsplat)((T)(1.0 / sum));
    ptrdiff_t i = 0;
    for (; i + VL <= n; i += VL) CSM_FN(vstore)(out + i, CSM_FN(vload)(out + i) * inv);
    if (i < n) /* the tail as one partial vector (masked on AVX-512) */
        CSM_FN(vstore_part)(out + i, CSM_FN(vload_part)(out + i, (int)(n - i), 0) * inv,
                            (int)(n - i));
}

/* out = (x - max) - lse in this order: x - max is exact near the max and both terms have the
 * result's sign, so nothing cancels (PyTorch issue 11752). */
static void CSM_FN(shift_log)(const T *x, T *out, ptrdiff_t n, T max, T lse)
{
    VT mv = CSM_FN(vsplat)(max), lv = CSM_FN(vsplat)(lse);
    ptrdiff_t i = 0;
    for (; i + VL <= n; i += VL) CSM_FN(vstore)(out + i, (CSM_FN(vload)(x + i) - mv) - lv);
    if (i < n)
        CSM_FN(vstore_part)(out + i, (CSM_FN(vload_part)(x + i, (int)(n - i), 0) - mv) - lv,
                            (int)(n - i));
}

static void CSM_FN(log_softmax_row)(const T *x, T *out, ptrdiff_t n, const T *next)
{
    T max;
    double L;
    if (CSM_FN(is_long_row)(n) && CSM_FN(log_sum_exp_long_row)(x, n, &max, &L)) {
        CSM_FN(shift_log)(x, out, n, max, (T)L); /* the second and last read of x */
        return;
    }
    max = CSM_FN(row_max)(x, n);
    if (CSM_FN(row_is_special)(max)) {
        CSM_FN(fill)(out, n, (T)NAN);
        return;
    }
    /* x - max goes into out behind the exps; the last pass subtracts lse */
    T lse = (T)CSM_FN(log_sum_exp_shifted)(x, out, n, max, next);
    VT lv = CSM_FN(vsplat)(lse);
    ptrdiff_t i = 0;
    for (; i + VL <= n; i += VL) CSM_FN(vstore)(out + i, CSM_FN(vload)(out + i) - lv);
    if (i < n)
        CSM_FN(vstore_part)(out + i, CSM_FN(vload_part)(out + i, (int)(n - i), 0) - lv,
                            (int)(n - i));
}

static T CSM_FN(logsumexp_row)(const T *x, ptrdiff_t n, const T *next)
{
    T max;
    double L;
    if (CSM_FN(is_long_row)(n) && CSM_FN(log_sum_exp_long_row)(x, n, &max, &L))
        return (T)((double)max + L);
    max = CSM_FN(row_max)(x, n);
    if (CSM_FN(row_is_special)(max)) /* +inf, or -inf (empty / all -inf), unless there is a NaN */
        return CSM_FN(has_nan)(x, n) ? (T)NAN : max;
    return (T)((double)max + CSM_FN(log_sum_exp_shifted)(x, NULL, n, max, next));
}

/* The row to prefetch while row r is computed: the one at least PREFETCH_AHEAD bytes ahead, so
 * short rows still give the memory system time. Only when the rows come from beyond L2 (in-cache
 * calls measured no gain, only the cost of the requests) and rows are at most 128 KB, so the
 * current row, its output and the next row stay within a 512 KB L2 (rows of 512 KB gained
 * nothing). */
static const T *CSM_FN(next_row)(const T *x, ptrdiff_t r, ptrdiff_t nrows, ptrdiff_t n,
                                 ptrdiff_t ldx)
{
    ptrdiff_t row_bytes = n * (ptrdiff_t)sizeof(T);
    if (row_bytes == 0 || row_bytes > ROW_L2_BYTES || nrows * row_bytes < PREFETCH_TOTAL_MIN)
        return NULL;
    ptrdiff_t ahead = r + (PREFETCH_AHEAD + row_bytes - 1) / row_bytes;
    return ahead < nrows ? x + ahead * ldx : NULL;
}

/* Row xr of n elements into v[0..NV) (the tail padded with -inf); returns its max */
static inline T CSM_FN(reg_load_max)(const T *xr, ptrdiff_t n, const int NV, VT *v)
{
    VT m;
    int j;
    for (j = 0; j < NV - 1; j++) v[j] = CSM_FN(vload)(xr + j * VL);
    v[NV - 1] = CSM_FN(vload_part)(xr + (NV - 1) * VL, (int)(n - (NV - 1) * VL), -(T)INFINITY);
    m = v[0];
    for (j = 1; j < NV; j++) m = CSM_FN(vmax)(v[j], m);
    return CSM_FN(hmax)(m);
}

/* Lane l: the sum of sum[l]'s lanes, in double, then its inverse when invert (a constant); rounded
 * to T. For VL vectors. The double sums into wide[0..VL) when it is not NULL. */
CSM_HOT VT CSM_FN(sum_lanes)(const VT *sum, const int invert, double *wide)
{
    VD d[VL];
    VT r;
    int l, h;
    for (l = 0; l < VL; l++) d[l] = CSM_FN(vwiden_sum)(sum[l]);
    for (h = 0; h < VL / VDL; h++) {
        VD t = CSM_FN(vsum_lanes)(d + h * VDL);
        if (wide) memcpy(wide + h * VDL, &t, sizeof t);
        if (invert) t = 1.0 / t;
        for (l = 0; l < VDL; l++) r[h * VDL + l] = (T)t[l];
    }
    return r;
}

/* The maxima of g rows of NV vectors (x, rows ldx apart) in lanes 0..g; lanes without a row, or
 * whose max is not finite, hold 0, the latter flagged in *special. */
CSM_HOT VT CSM_FN(group_max)(const T *x, int g, ptrdiff_t n, ptrdiff_t ldx, const int NV,
                             unsigned *special)
{
    const int last = (int)(n - (NV - 1) * VL); /* elements in the last vector */
    VT m[VL];
    int l, j;
    for (l = 0; l < VL; l++) {
        if (l >= g) {
            m[l] = CSM_FN(vsplat)(0);
            continue;
        }
        const T *xr = x + l * ldx;
        m[l] = CSM_FN(vload_part)(xr + (NV - 1) * VL, last, -(T)INFINITY);
        for (j = 0; j < NV - 1; j++) m[l] = CSM_FN(vmax)(CSM_FN(vload)(xr + j * VL), m[l]);
    }
    VT maxv = CSM_FN(vmax_lanes)(m);
    VI finite = (maxv < (T)INFINITY) & (maxv > -(T)INFINITY);
    *special = 0;
    for (l = 0; l < VL; l++) *special |= (unsigned)(finite[l] == 0) << l;
    return CSM_FN(vselect)(finite, maxv, CSM_FN(vsplat)(0));
}

/* 1 when no lane of maxv is past the floating-point pivot: every shift's c is then 0 */
static inline int CSM_FN(pivot_free)(VT maxv)
{
    return CSM_FN(hmax)(CSM_FN(vabs)(maxv)) < T_PIVOT_MIN;
}

/* Requests, a line per vector, for the row a group ahead (x, NULL past the last row) and for the
 * row about to be written (o, NULL when none): the register rows' passes are too short for the
 * hardware to fetch them in time, from L3 and from L2; rows of two vectors lose. */
static inline void CSM_FN(prefetch_reg_row)(const T *x, T *o, const int NV)
{
    if (NV <= 2) return;
    for (int j = 0; j < NV; j++) {
        if (x) __builtin_prefetch(x + j * VL, 0, 3);
        if (o) __builtin_prefetch(o + j * VL, 1, 3);
    }
}

/* Row l of a group: e = expm(x) into e (whole vectors) under the row's shift; returns the lane
 * sums */
static inline VT CSM_FN(reg_row_exps)(const T *xr, VT *e, ptrdiff_t n, const int NV,
                                      CSM_FN(shift) s)
{
    const int last = (int)(n - (NV - 1) * VL);
    VT sum = CSM_FN(vsplat)(0);
    for (int j = 0; j < NV; j++) { /* at most REG_ROW_VECTORS <= FLUSH terms per lane */
        e[j] = CSM_FN(expm)(j < NV - 1 ? CSM_FN(vload)(xr + j * VL)
                                       : CSM_FN(vload_part)(xr + j * VL, last, -(T)INFINITY),
                            s);
        sum += e[j];
    }
    return sum;
}

/* Softmax rows of at most REG_ROW_VECTORS vectors where tails are masked (AVX-512), VL rows at a
 * time, pass by pass: the rows' maxima and sums are reduced across lanes for the whole group at
 * once (group_max, sum_lanes; one horizontal reduction per row was a long dependent chain
 * per row), and each row gets its shift and 1 / sum back as a broadcast. NV, the row's vector
 * count, is a constant in each instance, so every loop below unrolls. Every row goes through the
 * same operations whatever its place in the group (the thread split gives the same bits). A row
 * whose max is not finite goes through softmax_row (its NaN and infinity rules). */
CSM_HOT void CSM_FN(reg_rows)(const T *x, T *out, ptrdiff_t nrows, ptrdiff_t n, ptrdiff_t ldx,
                              ptrdiff_t ldo, const int NV)
{
    const int last = (int)(n - (NV - 1) * VL); /* elements in the last vector */
    for (ptrdiff_t r0 = 0; r0 < nrows; r0 += VL) {
        int g = nrows - r0 < VL ? (int)(nrows - r0) : VL, l, j;
        const T *xg = x + r0 * ldx;
        T *og = out + r0 * ldo;
        /* the exps wait in whole vectors: reading a row back from out after a masked store
         * stalls on store forwarding */
        VT sum[VL], e[VL * REG_ROW_VECTORS];
        unsigned special; /* rows whose max is not finite */
        VT maxv = CSM_FN(group_max)(xg, g, n, ldx, NV, &special);
        CSM_FN(shift) s = CSM_FN(make_shift)(maxv);
        int pivot_free = CSM_FN(pivot_free)(maxv);
        for (l = 0; l < VL; l++) {
            sum[l] = CSM_FN(vsplat)(1);
            if (l >= g || special >> l & 1) continue;
            CSM_FN(shift) sl = CSM_FN(shift_lane)(&s, l);
            CSM_FN(prefetch_reg_row)(r0 + VL + l < nrows ? xg + (VL + l) * ldx : NULL, og + l * ldo,
                                     NV);
            if (pivot_free) {
                sl.c = CSM_FN(vsplat)(0); /* known 0 here, so x - c folds away */
                sum[l] = CSM_FN(reg_row_exps)(xg + l * ldx, e + l * NV, n, NV, sl);
            } else {
                sum[l] = CSM_FN(reg_row_exps)(xg + l * ldx, e + l * NV, n, NV, sl);
            }
        }
        VT inv = CSM_FN(sum_lanes)(sum, 1, NULL);
        for (l = 0; l < g; l++) {
            T *o = og + l * ldo;
            if (special >> l & 1) {
                CSM_FN(softmax_row)(xg + l * ldx, o, n, NULL);
                continue;
            }
            VT iv = CSM_FN(vsplat)(inv[l]);
            for (j = 0; j < NV - 1; j++) CSM_FN(vstore)(o + j * VL, e[l * NV + j] * iv);
            CSM_FN(vstore_part)(o + (NV - 1) * VL, e[l * NV + NV - 1] * iv, last);
        }
    }
}

/* One out-of-line copy per row length */
static void CSM_FN(softmax_reg_rows)(const T *x, T *out, ptrdiff_t nrows, ptrdiff_t n,
                                     ptrdiff_t ldx, ptrdiff_t ldo)
{
    switch ((int)((n + VL - 1) / VL)) {
#define CSM_REG_CASE(nv)                                                                           \
    case nv:                                                                                       \
        CSM_FN(reg_rows)(x, out, nrows, n, ldx, ldo, nv);                                          \
        break;
        /* clang-format reflows these calls differently on each run, so they are left alone */
        /* clang-format off */
        CSM_REG_CASE(1) CSM_REG_CASE(2) CSM_REG_CASE(3) CSM_REG_CASE(4)
        CSM_REG_CASE(5) CSM_REG_CASE(6) CSM_REG_CASE(7) CSM_REG_CASE(8)
        /* clang-format on */
#undef CSM_REG_CASE
    }
}

/* The softmax rows reg_rows serves, where tails are masked: up to REG_ROW_VECTORS vectors, from
 * two vectors (AVX-512 float32: from 13 elements); shorter rows are faster a row per lane
 * (csm_rows_small.h), as measured per ISA and type (docs/PERFORMANCE.md). */
static int CSM_FN(reg_row_length)(ptrdiff_t n)
{
    return CSM_MASKED_TAILS && n <= REG_ROW_VECTORS * VL
        && n >= (CSM_AVX512 && T_SIZE == 4 ? 13 : 2 * VL);
}

/* log_softmax and logsumexp: from 16 elements (AVX2: 24), where register rows overtake a row per
 * lane (docs/PERFORMANCE.md). */
static int CSM_FN(lse_reg_row_length)(ptrdiff_t n)
{
    return CSM_FN(reg_row_length)(n) && n >= (CSM_AVX512 ? 16 : 24);
}

#include "csm_rows_lse.h"

/* Two rows at once through the three passes: a medium row's passes are each too short for the
 * out-of-order core to overlap them (every pass waits on the last one's reduction), so a second,
 * independent row fills the wait. Each row keeps its own max, shift and sum, so the results are
 * those of softmax_row. */
static void CSM_FN(softmax_row_pair)(const T *x0, const T *x1, T *o0, T *o1, ptrdiff_t n,
                                     const T *next0, const T *next1)
{
    VT m0 = CSM_FN(vsplat)(-(T)INFINITY), m1 = m0;
    ptrdiff_t i = 0, full = n - n % VL;
    for (; i < full; i += VL) {
        m0 = CSM_FN(vmax)(CSM_FN(vload)(x0 + i), m0);
        m1 = CSM_FN(vmax)(CSM_FN(vload)(x1 + i), m1);
    }
    if (i < n) {
        m0 = CSM_FN(vmax)(CSM_FN(vload_part)(x0 + i, (int)(n - i), -(T)INFINITY), m0);
        m1 = CSM_FN(vmax)(CSM_FN(vload_part)(x1 + i, (int)(n - i), -(T)INFINITY), m1);
    }
    T max0 = CSM_FN(hmax)(m0), max1 = CSM_FN(hmax)(m1);
    if (CSM_FN(row_is_special)(max0) || CSM_FN(row_is_special)(max1)
        || !(max0 < T_PIVOT_MIN && max0 > -T_PIVOT_MIN && max1 < T_PIVOT_MIN
             && max1 > -T_PIVOT_MIN)) {
        CSM_FN(softmax_row)(x0, o0, n, next0); /* NaN rows, and the floating-point pivot */
        CSM_FN(softmax_row)(x1, o1, n, next1);
        return;
    }
    CSM_FN(shift) s0 = CSM_FN(make_shift)(CSM_FN(vsplat)(max0));
    CSM_FN(shift) s1 = CSM_FN(make_shift)(CSM_FN(vsplat)(max1));
    s0.c = s1.c = CSM_FN(vsplat)(0); /* |max| below the pivot: c is 0 and x - c folds away */
    /* each row's sum in exactly exp_store_sum's order (two accumulators, the same blocks, the
     * same tail), so a row gives the same bits alone or in a pair, whatever the thread split */
    VT a00 = CSM_FN(vsplat)(0), a01 = a00, a10 = a00, a11 = a00;
    VD wide0 = {0}, wide1 = {0};
    ptrdiff_t full2 = n - n % (2 * VL);
    i = 0;
    while (i < full2) {
        ptrdiff_t end = full2 - i > FLUSH * 2 * VL ? i + FLUSH * 2 * VL : full2;
        for (; i < end; i += 2 * VL) {
            if (next0) {
                CSM_FN(prefetch_block)(next0 + i);
                CSM_FN(prefetch_block)(next1 + i);
            }
            VT e00 = CSM_FN(expm)(CSM_FN(vload)(x0 + i), s0);
            VT e10 = CSM_FN(expm)(CSM_FN(vload)(x1 + i), s1);
            VT e01 = CSM_FN(expm)(CSM_FN(vload)(x0 + i + VL), s0);
            VT e11 = CSM_FN(expm)(CSM_FN(vload)(x1 + i + VL), s1);
            CSM_FN(vstore)(o0 + i, e00);
            CSM_FN(vstore)(o1 + i, e10);
            CSM_FN(vstore)(o0 + i + VL, e01);
            CSM_FN(vstore)(o1 + i + VL, e11);
            a00 += e00;
            a01 += e01;
            a10 += e10;
            a11 += e11;
        }
        wide0 += CSM_FN(vwiden_sum)(a00) + CSM_FN(vwiden_sum)(a01);
        wide1 += CSM_FN(vwiden_sum)(a10) + CSM_FN(vwiden_sum)(a11);
        a00 = a01 = a10 = a11 = CSM_FN(vsplat)(0);
    }
    for (; i < n; i += VL) {
        int rest = n - i < VL ? (int)(n - i) : VL;
        VT e0 = CSM_FN(expm)(CSM_FN(vload_part)(x0 + i, rest, -(T)INFINITY), s0);
        VT e1 = CSM_FN(expm)(CSM_FN(vload_part)(x1 + i, rest, -(T)INFINITY), s1);
        CSM_FN(vstore_part)(o0 + i, e0, rest);
        CSM_FN(vstore_part)(o1 + i, e1, rest);
        a00 += e0;
        a10 += e1;
    }
    double sum0 = CSM_FN(hsum_d)(wide0 + CSM_FN(vwiden_sum)(a00) + CSM_FN(vwiden_sum)(a01));
    double sum1 = CSM_FN(hsum_d)(wide1 + CSM_FN(vwiden_sum)(a10) + CSM_FN(vwiden_sum)(a11));
    VT inv0 = CSM_FN(vsplat)((T)(1.0 / sum0)), inv1 = CSM_FN(vsplat)((T)(1.0 / sum1));
    for (i = 0; i < full; i += VL) {
        CSM_FN(vstore)(o0 + i, CSM_FN(vload)(o0 + i) * inv0);
        CSM_FN(vstore)(o1 + i, CSM_FN(vload)(o1 + i) * inv1);
    }
    if (i < n) {
        int rest = (int)(n - i);
        CSM_FN(vstore_part)(o0 + i, CSM_FN(vload_part)(o0 + i, rest, 0) * inv0, rest);
        CSM_FN(vstore_part)(o1 + i, CSM_FN(vload_part)(o1 + i, rest, 0) * inv1, rest);
    }
}

/* Entry points: nrows rows of n elements; row r of x starts at x + r*ldx (elements). On AVX-512
 * rows of up to REG_ROW_VECTORS vectors go to reg_rows (see reg_row_length); other short rows to
 * csm_rows_small.h, one row per vector lane; medium softmax rows in cache to softmax_row_pair. */
static void CSM_FN(softmax_rows)(const T *x, T *out, ptrdiff_t nrows, ptrdiff_t n, ptrdiff_t ldx,
                                 ptrdiff_t ldo)
{
    if (CSM_FN(reg_row_length)(n)) {
        CSM_FN(softmax_reg_rows)(x, out, nrows, n, ldx, ldo);
        return;
    }
    if (n <= SMALL_ROW_MAX && nrows > 1) {
        CSM_FN(small_rows)(CSM_FN(softmax_cols), x, out, nrows, n, ldx, ldo);
        return;
    }
    ptrdiff_t r = 0;
    /* not from memory, where the prefetched single-row path is faster */
    if (CSM_AVX512 && n <= PAIR_ROW_MAX && nrows * n * (ptrdiff_t)sizeof(T) <= PAIR_TOTAL_MAX)
        for (; r + 2 <= nrows; r += 2)
            CSM_FN(softmax_row_pair)(x + r * ldx, x + (r + 1) * ldx, out + r * ldo,
                                     out + (r + 1) * ldo, n, CSM_FN(next_row)(x, r, nrows, n, ldx),
                                     CSM_FN(next_row)(x, r + 1, nrows, n, ldx));
    for (; r < nrows; r++)
        CSM_FN(softmax_row)(x + r * ldx, out + r * ldo, n, CSM_FN(next_row)(x, r, nrows, n, ldx));
}

static void CSM_FN(log_softmax_rows)(const T *x, T *out, ptrdiff_t nrows, ptrdiff_t n,
                                     ptrdiff_t ldx, ptrdiff_t ldo)
{
    if (n <= SMALL_ROW_MAX && nrows > 1 && !CSM_FN(lse_reg_row_length)(n)) {
        CSM_FN(small_rows)(CSM_FN(log_softmax_cols), x, out, nrows, n, ldx, ldo);
        return;
    }
    if (!CSM_FN(is_long_row)(n)) {
        CSM_FN(lse_rows)(x, out, nrows, n, ldx, ldo, CSM_LOG_SOFTMAX);
        return;
    }
    for (ptrdiff_t r = 0; r < nrows; r++)
        CSM_FN(log_softmax_row)(x + r * ldx, out + r * ldo, n, NULL);
}

/* out[r * ldo] = logsumexp of row r */
static void CSM_FN(logsumexp_rows)(const T *x, T *out, ptrdiff_t nrows, ptrdiff_t n, ptrdiff_t ldx,
                                   ptrdiff_t ldo)
{
    if (n <= SMALL_ROW_MAX && nrows > 1 && !CSM_FN(lse_reg_row_length)(n)) {
        CSM_FN(logsumexp_small_rows)(x, out, nrows, n, ldx, ldo);
        return;
    }
    if (!CSM_FN(is_long_row)(n)) {
        CSM_FN(lse_rows)(x, out, nrows, n, ldx, ldo, CSM_LOGSUMEXP);
        return;
    }
    for (ptrdiff_t r = 0; r < nrows; r++)
        out[r * ldo] = CSM_FN(logsumexp_row)(x + r * ldx, n, NULL);
}
