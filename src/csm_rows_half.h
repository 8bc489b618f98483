/* Template (see csm_types.h, csm_simd.h, csm_exp.h, csm_half.h, csm_rows.h): softmax and
 * log_softmax of float16 or bfloat16 rows into the same storage, computed in float32, the
 * conversions done in the loads and stores of the three passes (AVX-512, float32 compute; other
 * builds and types return 0 and take the block path of csm_rows_fused.h).
 *
 * The block path converts each block into a float32 buffer and back, two passes more than float32
 * input needs (64x1000 float16 softmax: 1.64x float32's time). Here the max and exp passes read
 * the half row (vcvtph2ps, or a shift for bfloat16), the exps wait in a float32 row buffer, and
 * the last pass rounds to nearest even on the way out. */

/* Rows of at most this many take the block path: in cache, its row kernels (groups, pairs)
 * gain more than the two conversion passes cost. Interleaved, time / float32 softmax's, block path
 * against this one: 64x1000 float16 log_softmax 1.38x / 1.58x, softmax 1.23x / 1.27x; 256x1000
 * 1.11x / 1.30x, 1.16x / 1.19x; 4096x100 log_softmax 194 / 311 us; 8x128256 softmax 1.45x / 1.22x,
 * bfloat16 1.53x / 1.22x. */
#ifndef HALF_ROW_MIN
#define HALF_ROW_MIN 16384
#endif

#if CSM_AVX512 && defined(CSM_F32)
/* count (1..VL) values from p widened to float32, the rest `fill` */
static inline VT CSM_FN(vload_half)(const uint16_t *p, int count, int bf16, T fill)
{
    __mmask16 k = (__mmask16)((1u << count) - 1);
    __m256i h = count == VL ? _mm256_loadu_si256((const __m256i *)p) : _mm256_maskz_loadu_epi16(k, p);
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

static inline int CSM_FN(half_count)(ptrdiff_t n, ptrdiff_t i)
{
    return n - i < VL ? (int)(n - i) : VL;
}

/* e[i] = expm(x[i]) for the half row x; returns the sum in double, in exp_store_sum's blocks */
CSM_HOT double CSM_FN(half_exp_store_sum)(const uint16_t *x, T *e, ptrdiff_t n, int bf16,
                                          CSM_FN(shift) s)
{
    VT acc = CSM_FN(vsplat)(0);
    VD wide = {0};
    int blocks = 0;
    for (ptrdiff_t i = 0; i < n; i += VL) {
        int count = CSM_FN(half_count)(n, i);
        VT v = CSM_FN(expm)(CSM_FN(vload_half)(x + i, count, bf16, -(T)INFINITY), s);
        CSM_FN(vstore)(e + i, v);   /* e has room for whole vectors */
        acc += v;
        if (++blocks == FLUSH) {
            wide += CSM_FN(vwiden_sum)(acc);
            acc = CSM_FN(vsplat)(0);
            blocks = 0;
        }
    }
    return CSM_FN(hsum_d)(wide + CSM_FN(vwiden_sum)(acc));
}

/* One row; 0 (nothing written) for a row whose max is not finite, which the caller gives to the
 * one-row rules. e: scratch for the row's exps, n rounded up to whole vectors. */
static int CSM_FN(half_row)(const uint16_t *x, uint16_t *o, ptrdiff_t n, int bf16, csm_op op,
                            T *e)
{
    VT m = CSM_FN(vsplat)(-(T)INFINITY);
    ptrdiff_t i;
    for (i = 0; i < n; i += VL)
        m = CSM_FN(vmax)(CSM_FN(vload_half)(x + i, CSM_FN(half_count)(n, i), bf16, -(T)INFINITY), m);
    T max = CSM_FN(hmax)(m);
    if (CSM_FN(row_is_special)(max)) return 0;
    VT mv = CSM_FN(vsplat)(max);
    CSM_FN(shift) s = CSM_FN(make_shift)(mv);
    if (op == CSM_SOFTMAX) {
        double sum;
        if (max < T_PIVOT_MIN && max > -T_PIVOT_MIN) {
            s.c = CSM_FN(vsplat)(0);   /* known 0 here, so x - c folds away */
            sum = CSM_FN(half_exp_store_sum)(x, e, n, bf16, s);
        } else {
            sum = CSM_FN(half_exp_store_sum)(x, e, n, bf16, s);
        }
        VT inv = CSM_FN(vsplat)((T)(1.0 / sum));
        for (i = 0; i < n; i += VL)
            CSM_FN(vstore_half)(o + i, CSM_FN(vload)(e + i) * inv, CSM_FN(half_count)(n, i), bf16);
        return 1;
    }
    /* log_softmax: the sum below the max and the ties, as exp_sum_below_max */
    VT acc = CSM_FN(vsplat)(0);
    VD wide = {0};
    CSM_FN(tie_count) ties = {0};
    int blocks = 0;
    for (i = 0; i < n; i += VL) {
        VT v = CSM_FN(vload_half)(x + i, CSM_FN(half_count)(n, i), bf16, -(T)INFINITY);
        acc = CSM_FN(vadd_below)(acc, CSM_FN(expm)(v, s), v, mv, &ties);
        if (++blocks == FLUSH) {
            wide += CSM_FN(vwiden_sum)(acc);
            acc = CSM_FN(vsplat)(0);
            blocks = 0;
        }
    }
    double rest = CSM_FN(hsum_d)(wide + CSM_FN(vwiden_sum)(acc));
    double count = (double)CSM_FN(ties_total)(ties), e_max = (double)CSM_FN(expm)(mv, s)[0];
    VT lv = CSM_FN(vsplat)((T)(log(count) + log1p(rest / (count * e_max))));
    for (i = 0; i < n; i += VL) {
        int k = CSM_FN(half_count)(n, i);
        CSM_FN(vstore_half)(o + i, (CSM_FN(vload_half)(x + i, k, bf16, 0) - mv) - lv, k, bf16);
    }
    return 1;
}
#endif

/* Softmax or log_softmax of half rows into the same storage with nothing fused: 1 when done here,
 * 0 when this build or call takes the block path, -1 when out of memory. */
static int CSM_FN(half_rows)(const csm_fused_args *a, csm_op op)
{
#if CSM_AVX512 && defined(CSM_F32)
    const int bf16 = a->xkind == CSM_STORE_BF16;
    if (op == CSM_LOGSUMEXP || (a->xkind != CSM_STORE_F16 && !bf16) || a->okind != a->xkind
        || a->xstep != 2 || a->ostep != 2 || a->scale || a->bias || a->where
        || a->n <= HALF_ROW_MIN)
        return 0;
    T *e = (T *)aligned_alloc(64, (size_t)((a->n + VL - 1) / VL * VL) * sizeof(T));
    if (!e) return -1;
    for (ptrdiff_t r = 0; r < a->nrows; r++) {
        const uint16_t *x = (const uint16_t *)(a->x + a->xoff[r]);
        uint16_t *o = (uint16_t *)(a->out + a->ooff[r]);
        if (CSM_FN(half_row)(x, o, a->n, bf16, op, e)) continue;
        /* NaN, +inf or no finite max: the one-row rules on the row in float32 */
        CSM_FN(load_row)(e, (const char *)x, 2, a->n, a->xkind);
        if (op == CSM_SOFTMAX) CSM_FN(softmax_row)(e, e, a->n, NULL);
        else CSM_FN(log_softmax_row)(e, e, a->n, NULL);
        CSM_FN(store_row)((char *)o, 2, e, a->n, a->okind);
    }
    free(e);
    return 1;
#else
    (void)a;
    (void)op;
    return 0;
#endif
}
