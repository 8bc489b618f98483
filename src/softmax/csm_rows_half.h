/* Template (see csm_types.h, csm_simd.h, csm_exp.h, csm_half.h, csm_rows.h): softmax and
 * log_softmax of float16 or bfloat16 rows into the same storage, computed in float32, the
 * conversions done in the loads and stores of the three passes (AVX-512, float32 compute: other
 * builds, and rows shorter than csm_planner.c's HALF_*_ROW_MIN, take the block path of
 * csm_rows_fused.h).
 *
 * The block path converts each block into a float32 buffer and back, two passes more than float32
 * input needs. Here the max pass reads the half
 * row (vcvtph2ps, or a shift and a mask for bfloat16) and, for rows up to HALF_WIDEN_MAX_*, leaves
 * it widened in a float32 row buffer, where the exps, computed only to the half type's precision
 * (half_expm), replace it; the last pass rounds to nearest even on the way out. Longer rows are
 * read twice instead, or for softmax once under a guessed shift (half_softmax_guessed). So a
 * half row costs less than a float32 one (docs/PERFORMANCE.md), though float32 softmax is bound
 * by its exp's vector operations here, not by memory. The rounding differs from the block
 * path's in the last bit now and then, so a strided half array (block path) and a contiguous one
 * may differ by one ULP, each within one ULP of exact. */

/* Rows widened into float32 by the max pass (half_max): up to 32768 float16 values, 8192
 * bfloat16 ones, whose conversion is one shift or mask, not two micro-ops (beyond these lengths
 * the float32 buffer leaves the cache and widening loses: docs/PERFORMANCE.md). Softmax of longer
 * float16 rows, and of bfloat16 rows of any length, goes through half_softmax_guessed first. */
#ifndef HALF_WIDEN_MAX_F16
#define HALF_WIDEN_MAX_F16 32768
#endif
#ifndef HALF_WIDEN_MAX_BF16
#define HALF_WIDEN_MAX_BF16 8192
#endif

#if CSM_AVX512 && defined(CSM_F32)
/* count (1..VL) values from p widened to float32, the rest `fill` */
static inline VT CSM_FN(vload_half)(const uint16_t *p, int count, int bf16, T fill)
{
    __mmask16 k = (__mmask16)((1u << count) - 1);
    __m256i h = count == VL ? _mm256_loadu_si256((const __m256i *)p)
                            : _mm256_maskz_loadu_epi16(k, p);
    __m512 v = bf16 ? _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16))
                    : _mm512_cvtph_ps(h);
    return count == VL ? (VT)v : (VT)_mm512_mask_blend_ps(k, _mm512_set1_ps(fill), v);
}

/* v rounded to nearest even into count (1..VL) values at p (bfloat16: as csm_f32_to_bf16) */
static inline void CSM_FN(vstore_half)(uint16_t *p, VT v, int count, int bf16)
{
    __m256i h;
    if (bf16) {
        __m512i u = _mm512_castps_si512((__m512)v);
        __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
        __m512i r = _mm512_srli_epi32(
            _mm512_add_epi32(_mm512_add_epi32(u, _mm512_set1_epi32(0x7FFF)), lsb), 16);
        __mmask16 nan = _mm512_cmp_ps_mask((__m512)v, (__m512)v, _CMP_UNORD_Q);
        r = _mm512_mask_or_epi32(r, nan, _mm512_srli_epi32(u, 16), _mm512_set1_epi32(0x40));
        h = _mm512_cvtepi32_epi16(r);
    } else {
        h = _mm512_cvtps_ph((__m512)v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    }
    if (count == VL) _mm256_storeu_si256((__m256i *)p, h);
    else _mm256_mask_storeu_epi16(p, (__mmask16)((1u << count) - 1), h);
}

/* The row kernels below move 2 VL values at a time (one 512-bit load of halves) as two float32
 * vectors: float16 in order, bfloat16 as its even and its odd elements, which a shift and a mask
 * give (widening took two operations a vector), and which half_store2 puts back in place, so the
 * order never shows: the passes only reduce, or map element by element. */
#define HALF_PAIR (2 * VL)

/* count (1..HALF_PAIR) values from p, the rest `fill` (0 or -inf) */
static inline void CSM_FN(half_load2)(const uint16_t *p, int count, const int bf16, T fill, VT *lo,
                                      VT *hi)
{
    if (bf16) {
        __m512i w;
        if (count == HALF_PAIR) {
            w = _mm512_loadu_si512(p);
        } else {
            uint32_t bits;
            memcpy(&bits, &fill, sizeof bits);
            w = _mm512_mask_loadu_epi16(_mm512_set1_epi16((short)(bits >> 16)),
                                        (__mmask32)((1ull << count) - 1), p);
        }
        *lo = (VT)_mm512_slli_epi32(w, 16);
        *hi = (VT)_mm512_and_si512(w, _mm512_set1_epi32((int)0xFFFF0000u));
    } else {
        *lo = CSM_FN(vload_half)(p, count < VL ? count : VL, 0, fill);
        *hi = count > VL ? CSM_FN(vload_half)(p + VL, count - VL, 0, fill) : CSM_FN(vsplat)(fill);
    }
}

/* half_load2's inverse, rounding to nearest even; bfloat16 values must not be NaN (the kernels
 * give a NaN row to the one-row rules), which saves the two operations a vector that keep a NaN
 * a NaN */
static inline void CSM_FN(half_store2)(uint16_t *p, VT lo, VT hi, int count, const int bf16)
{
    if (bf16) {
        const __m512i one = _mm512_set1_epi32(1), half_ulp = _mm512_set1_epi32(0x7FFF);
        __m512i a = (__m512i)lo, b = (__m512i)hi;
        a = _mm512_add_epi32(_mm512_add_epi32(a, half_ulp),
                             _mm512_and_si512(_mm512_srli_epi32(a, 16), one));
        b = _mm512_add_epi32(_mm512_add_epi32(b, half_ulp),
                             _mm512_and_si512(_mm512_srli_epi32(b, 16), one));
        /* (b & 0xFFFF0000) | (a >> 16): the odd element in the high half, the even in the low */
        __m512i w = _mm512_ternarylogic_epi32(b, _mm512_srli_epi32(a, 16),
                                              _mm512_set1_epi32((int)0xFFFF0000u), 0xEC);
        if (count == HALF_PAIR) _mm512_storeu_si512(p, w);
        else _mm512_mask_storeu_epi16(p, (__mmask32)((1ull << count) - 1), w);
    } else {
        CSM_FN(vstore_half)(p, lo, count < VL ? count : VL, 0);
        if (count > VL) CSM_FN(vstore_half)(p + VL, hi, count - VL, 0);
    }
}

static inline int CSM_FN(half_count)(ptrdiff_t n, ptrdiff_t i)
{
    return n - i < HALF_PAIR ? (int)(n - i) : HALF_PAIR;
}

/* the pair at i of a row: from the half row x, the end filled with -inf, or from its widened
 * copy e when x is NULL (see half_max) */
static inline void CSM_FN(half_pair_at)(const uint16_t *x, const T *e, ptrdiff_t n, ptrdiff_t i,
                                        const int bf16, VT *lo, VT *hi)
{
    if (!x) {
        *lo = CSM_FN(vload)(e + i);
        *hi = CSM_FN(vload)(e + i + VL);
    } else if (n - i >= HALF_PAIR) {
        CSM_FN(half_load2)(x + i, HALF_PAIR, bf16, 0, lo, hi);
    } else {
        CSM_FN(half_load2)(x + i, (int)(n - i), bf16, -(T)INFINITY, lo, hi);
    }
}

/* The exps of a half row need only the half type's precision: each output is rounded to 11
 * (float16) or 8 (bfloat16) significant bits at the end. So exp(x - max) is 2^t, t = x log2e - k,
 * as 2^floor(t) * p(t - floor(t)) with one rounding of t (|x| < T_PIVOT_MIN: its error is below
 * 2^-17 of the result) and a degree-4 polynomial for 2^f on [0, 1) (relative error 2.7e-6,
 * 2^-18.5): 7 vector operations where float32's expm issues 12. An output's error before its
 * final rounding stays below 2^-16 of its value, well inside the one-ULP bound (float16's ULP is
 * >= 2^-11 of a value). Far from 0 (|max| >= T_PIVOT_MIN) the max is subtracted first, exactly
 * as expm does. */
typedef struct {
    VT c; /* subtracted before scaling: 0, or the max when it is large */
    VT k; /* round(max log2e) when c is 0 */
} CSM_FN(half_shift);

static inline CSM_FN(half_shift) CSM_FN(make_half_shift)(T max)
{
    CSM_FN(half_shift) s;
    int big = !(max < T_PIVOT_MIN && max > -T_PIVOT_MIN);
    s.c = CSM_FN(vsplat)(big ? max : 0);
    s.k = CSM_FN(vsplat)(big ? 0 : rintf(max * T_LOG2E));
    return s;
}

static inline VT CSM_FN(half_expm)(VT x, CSM_FN(half_shift) s, const int bf16)
{
    VT t = (x - s.c) * T_LOG2E - s.k;
    /* f = t - floor(t) in [0, 1), exact, and vscalef scales by 2^floor(t): no rounded copy of t
     * to subtract. -inf gives f = 0 and a scale of 2^-inf = 0, NaN stays NaN (the max pass may
     * skip one; the row is then NaN through the sum), so no clamp either: 7 operations, not 9 */
    VT f = (VT)_mm512_reduce_ps((__m512)t, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    /* minimax for 2^f on [0, 1] (Lawson); bfloat16 keeps 8 bits: degree 3 (relative error
     * 7.5e-5, 2^-13.7) is enough there, float16 takes degree 4 (2.7e-6, 2^-18.5) */
    VT p = bf16
        ? ((0x1.3f9620p-4f * f + 0x1.cefc40p-3f) * f + 0x1.64445ap-1f) * f + 0x1.fff630p-1f
        : (((0x1.bb7c70p-7f * f + 0x1.aa13fcp-5f) * f + 0x1.ee7990p-3f) * f + 0x1.62d166p-1f) * f
            + 0x1.00002cp+0f;
    return CSM_FN(vscalef)(p, t);
}

/* the shift of a max below T_PIVOT_MIN: c a known 0, so x - c folds away where inlined */
static inline CSM_FN(half_shift) CSM_FN(small_half_shift)(T max)
{
    CSM_FN(half_shift) s = {CSM_FN(vsplat)(0), CSM_FN(vsplat)(rintf(max * T_LOG2E))};
    return s;
}

/* softmax's last pass: o = e * inv, rounded to the half type */
static inline void CSM_FN(half_scale_store)(const T *e, uint16_t *o, ptrdiff_t n, T inv,
                                            const int bf16)
{
    VT v = CSM_FN(vsplat)(inv);
    for (ptrdiff_t i = 0; i < n; i += HALF_PAIR)
        CSM_FN(half_store2)(o + i, CSM_FN(vload)(e + i) * v, CSM_FN(vload)(e + i + VL) * v,
                            CSM_FN(half_count)(n, i), bf16);
}

/* The passes below take bf16 as a constant (half_row instantiates both) and run whole pairs, then
 * one masked tail: the load's type test and the tail test were two branches a vector. */

/* e[i] = half_expm of the row's i-th value, read from x, or from e itself when half_max widened
 * the row there (x NULL; padded with -inf to whole pairs, whose exps are 0); returns the sum in
 * double, in exp_store_sum's blocks. With max not NULL, the row's max (NaN skipped) goes there. */
CSM_HOT double CSM_FN(half_exp_store_sum)(const uint16_t *x, T *e, ptrdiff_t n, const int bf16,
                                          CSM_FN(half_shift) s, T *max)
{
    VT acc = CSM_FN(vsplat)(0), lo, hi, m0 = CSM_FN(vsplat)(-(T)INFINITY), m1 = m0;
    VD wide = {0};
    int blocks = 0;
    for (ptrdiff_t i = 0; i < n; i += HALF_PAIR) {
        CSM_FN(half_pair_at)(x, e, n, i, bf16, &lo, &hi);
        if (max) {
            m0 = CSM_FN(vmax)(lo, m0);
            m1 = CSM_FN(vmax)(hi, m1);
        }
        lo = CSM_FN(half_expm)(lo, s, bf16);
        hi = CSM_FN(half_expm)(hi, s, bf16);
        CSM_FN(vstore)(e + i, lo); /* e has room for whole pairs */
        CSM_FN(vstore)(e + i + VL, hi);
        acc += lo + hi;
        if ((blocks += 2) == FLUSH) {
            wide += CSM_FN(vwiden_sum)(acc);
            acc = CSM_FN(vsplat)(0);
            blocks = 0;
        }
    }
    if (max) *max = CSM_FN(hmax)(CSM_FN(vmax)(m0, m1));
    return CSM_FN(hsum_d)(wide + CSM_FN(vwiden_sum)(acc));
}

/* The row's max, and unless e is NULL the row widened into e (in half_load2's order, padded with
 * -inf to whole pairs), so the later passes read float32 and convert nothing: the widening is
 * done once instead of twice, and the store costs less than the second vcvtph2ps did.
 * Not for long rows (HALF_WIDEN_MAX_F16). Four chains, as vmax's latency would otherwise set
 * the pace. */
CSM_HOT T CSM_FN(half_max)(const uint16_t *x, T *e, ptrdiff_t n, const int bf16)
{
    VT m0 = CSM_FN(vsplat)(-(T)INFINITY), m1 = m0, m2 = m0, m3 = m0, a, b, c, d;
    ptrdiff_t i = 0;
    for (; i + 2 * HALF_PAIR <= n; i += 2 * HALF_PAIR) {
        CSM_FN(half_load2)(x + i, HALF_PAIR, bf16, 0, &a, &b);
        CSM_FN(half_load2)(x + i + HALF_PAIR, HALF_PAIR, bf16, 0, &c, &d);
        if (e) {
            CSM_FN(vstore)(e + i, a);
            CSM_FN(vstore)(e + i + VL, b);
            CSM_FN(vstore)(e + i + 2 * VL, c);
            CSM_FN(vstore)(e + i + 3 * VL, d);
        }
        m0 = CSM_FN(vmax)(a, m0);
        m1 = CSM_FN(vmax)(b, m1);
        m2 = CSM_FN(vmax)(c, m2);
        m3 = CSM_FN(vmax)(d, m3);
    }
    for (; i < n; i += HALF_PAIR) {
        CSM_FN(half_load2)(x + i, CSM_FN(half_count)(n, i), bf16, -(T)INFINITY, &a, &b);
        if (e) {
            CSM_FN(vstore)(e + i, a);
            CSM_FN(vstore)(e + i + VL, b);
        }
        m0 = CSM_FN(vmax)(a, m0);
        m1 = CSM_FN(vmax)(b, m1);
    }
    return CSM_FN(hmax)(CSM_FN(vmax)(CSM_FN(vmax)(m0, m1), CSM_FN(vmax)(m2, m3)));
}

/* Softmax of a row read once before the last pass, not twice: the exps are taken under the shift of
 * a guess g, the max of the row's first values, while the row's max m is taken alongside. g <= m,
 * so every exp that shows in a half result (x - m > -18) stays normal; m - g <= GUESS_SLACK
 * (csm_tuning.h) keeps the sum finite; |x| < T_PIVOT_MIN + GUESS_SLACK keeps t's error below 2^-16
 * of the result. 1 when done, 0 when g or m falls outside those bounds (or is NaN), the row then
 * taking three passes. */
CSM_HOT int CSM_FN(half_softmax_guessed)(const uint16_t *x, uint16_t *o, ptrdiff_t n,
                                         const int bf16, T *e)
{
    T g = CSM_FN(half_max)(x, NULL, n < 2 * HALF_PAIR ? n : 2 * HALF_PAIR, bf16), m;
    if (!(g > -T_PIVOT_MIN && g < T_PIVOT_MIN)) return 0;
    double sum = CSM_FN(half_exp_store_sum)(x, e, n, bf16, CSM_FN(small_half_shift)(g), &m);
    if (!(m - g <= GUESS_SLACK) || sum != sum) return 0;
    CSM_FN(half_scale_store)(e, o, n, (T)(1.0 / sum), bf16);
    return 1;
}

/* One row; 0 (nothing written) for a row whose max is not finite or whose result is NaN, which the
 * caller gives to the one-row rules. e: scratch for the row's exps, n rounded up to whole pairs. */
CSM_HOT int CSM_FN(half_row_of)(const uint16_t *x, uint16_t *o, ptrdiff_t n, const int bf16,
                                const int widen, csm_op op, T *e)
{
    ptrdiff_t i;
    VT lo, hi;
    const uint16_t *src = widen ? NULL : x;
    T max = CSM_FN(half_max)(x, src ? NULL : e, n, bf16);
    if (CSM_FN(row_is_special)(max)) return 0;
    VT mv = CSM_FN(vsplat)(max);
    CSM_FN(half_shift) s = CSM_FN(make_half_shift)(max);
    if (op == CSM_SOFTMAX) {
        double sum = max < T_PIVOT_MIN && max > -T_PIVOT_MIN
            ? CSM_FN(half_exp_store_sum)(src, e, n, bf16, CSM_FN(small_half_shift)(max), NULL)
            : CSM_FN(half_exp_store_sum)(src, e, n, bf16, s, NULL);
        if (sum != sum) return 0; /* a NaN the max pass skipped */
        CSM_FN(half_scale_store)(e, o, n, (T)(1.0 / sum), bf16);
        return 1;
    }
    /* log_softmax: the sum below the max and the ties, as exp_sum_below_max */
    VT acc = CSM_FN(vsplat)(0);
    VD wide = {0};
    CSM_FN(tie_count) ties = {0};
    int blocks = 0;
    for (i = 0; i < n; i += HALF_PAIR) {
        CSM_FN(half_pair_at)(src, e, n, i, bf16, &lo, &hi);
        acc = CSM_FN(vadd_below)(acc, CSM_FN(half_expm)(lo, s, bf16), lo, mv, &ties);
        acc = CSM_FN(vadd_below)(acc, CSM_FN(half_expm)(hi, s, bf16), hi, mv, &ties);
        if ((blocks += 2) == FLUSH) {
            wide += CSM_FN(vwiden_sum)(acc);
            acc = CSM_FN(vsplat)(0);
            blocks = 0;
        }
    }
    double rest = CSM_FN(hsum_d)(wide + CSM_FN(vwiden_sum)(acc));
    if (rest != rest) return 0;
    double count = (double)CSM_FN(ties_total)(ties),
           e_max = (double)CSM_FN(half_expm)(mv, s, bf16)[0];
    VT lv = CSM_FN(vsplat)((T)(log(count) + log1p(rest / (count * e_max))));
    for (i = 0; i < n; i += HALF_PAIR) {
        CSM_FN(half_pair_at)(src, e, n, i, bf16, &lo, &hi);
        CSM_FN(half_store2)(o + i, (lo - mv) - lv, (hi - mv) - lv, CSM_FN(half_count)(n, i), bf16);
    }
    return 1;
}

/* Softmax of two float16 rows widened by half_max, pass by pass in turn (max, max, exps, exps,
 * last, last): each row's reductions (its max, then its sum and 1 / sum) resolve behind the
 * other row's pass instead of stalling its own next one. 0, with
 * nothing written, when either row's max or sum asks for more than this (then each row goes
 * alone). */
CSM_HOT int CSM_FN(half_softmax_pair)(const uint16_t *x0, const uint16_t *x1, uint16_t *o0,
                                      uint16_t *o1, ptrdiff_t n, T *e0, T *e1)
{
    T m0 = CSM_FN(half_max)(x0, e0, n, 0), m1 = CSM_FN(half_max)(x1, e1, n, 0);
    if (!(m0 < T_PIVOT_MIN && m0 > -T_PIVOT_MIN && m1 < T_PIVOT_MIN && m1 > -T_PIVOT_MIN)) return 0;
    double sum0 = CSM_FN(half_exp_store_sum)(NULL, e0, n, 0, CSM_FN(small_half_shift)(m0), NULL);
    double sum1 = CSM_FN(half_exp_store_sum)(NULL, e1, n, 0, CSM_FN(small_half_shift)(m1), NULL);
    if (sum0 != sum0 || sum1 != sum1) return 0;
    CSM_FN(half_scale_store)(e0, o0, n, (T)(1.0 / sum0), 0);
    CSM_FN(half_scale_store)(e1, o1, n, (T)(1.0 / sum1), 0);
    return 1;
}

static int CSM_FN(half_row)(const uint16_t *x, uint16_t *o, ptrdiff_t n, int bf16, csm_op op, T *e)
{
    if (op == CSM_SOFTMAX && (bf16 || n > HALF_WIDEN_MAX_F16)
        && (bf16 ? CSM_FN(half_softmax_guessed)(x, o, n, 1, e)
                 : CSM_FN(half_softmax_guessed)(x, o, n, 0, e)))
        return 1;
    if (n <= (bf16 ? HALF_WIDEN_MAX_BF16 : HALF_WIDEN_MAX_F16))
        return bf16 ? CSM_FN(half_row_of)(x, o, n, 1, 1, op, e)
                    : CSM_FN(half_row_of)(x, o, n, 0, 1, op, e);
    return bf16 ? CSM_FN(half_row_of)(x, o, n, 1, 0, op, e)
                : CSM_FN(half_row_of)(x, o, n, 0, 0, op, e);
}

/* Softmax or log_softmax of half rows into the same storage with nothing fused (csm_planner.c
 * sends only those here, in AVX-512 builds): 0, or -1 when out of memory. */
static int CSM_FN(half_rows)(const csm_call *a, csm_op op)
{
    const int bf16 = a->xkind == CSM_STORE_BF16;
    const ptrdiff_t len = (a->n + HALF_PAIR - 1) / HALF_PAIR * HALF_PAIR;
    const int pairs = op == CSM_SOFTMAX && !bf16 && a->n <= HALF_WIDEN_MAX_F16;
    T *e = (T *)aligned_alloc(64, (size_t)(pairs ? 2 * len : len) * sizeof(T));
    if (!e) return -1;
    for (ptrdiff_t r = 0; r < a->nrows; r++) {
        const uint16_t *x = (const uint16_t *)(a->x + CSM_AT(a, x, r));
        uint16_t *o = (uint16_t *)(a->out + CSM_AT(a, o, r));
        if (pairs && r + 1 < a->nrows
            && CSM_FN(half_softmax_pair)(x, (const uint16_t *)(a->x + CSM_AT(a, x, r + 1)), o,
                                         (uint16_t *)(a->out + CSM_AT(a, o, r + 1)), a->n, e,
                                         e + len)) {
            r++;
            continue;
        }
        if (CSM_FN(half_row)(x, o, a->n, bf16, op, e)) continue;
        /* NaN, +inf or no finite max: the one-row rules on the row in float32 */
        CSM_FN(load_row)(e, (const char *)x, 2, a->n, a->xkind);
        if (op == CSM_SOFTMAX) CSM_FN(softmax_row)(e, e, a->n, NULL);
        else CSM_FN(log_softmax_row)(e, e, a->n, NULL);
        CSM_FN(store_row)((char *)o, 2, e, a->n, a->okind);
    }
    free(e);
    return 0;
}
#define CSM_HAVE_HALF_ROWS 1
#endif
#ifdef HALF_PAIR
#undef HALF_PAIR
#endif
