/* Template (see ../core/csm_types.h): decoding's vector helpers over the portable vectors, with
 * AVX-512 forms where one instruction replaces a lane loop: any lane set, appending the lanes
 * that hit to a buffer (compress), and top_p_cutoff's split of a vector into a band. */

/* any lane of a comparison result set: one mask move or test where the ISA has one */
static inline int CSM_FN(vany)(VI m)
{
#if CSM_AVX512
    return _mm512_test_epi32_mask((__m512i)m, (__m512i)m) != 0;
#elif CSM_VEC_BYTES == 32 && defined(__AVX__)
    return !_mm256_testz_si256((__m256i)m, (__m256i)m);
#elif CSM_VEC_BYTES == 16 && defined(__SSE2__)
    return _mm_movemask_epi8((__m128i)m) != 0;
#else
    uint64_t w[CSM_VEC_BYTES / 8], o = 0;
    memcpy(w, &m, sizeof w);
    for (int j = 0; j < CSM_VEC_BYTES / 8; j++) o |= w[j];
    return o != 0;
#endif
}

/* Appends the first `rest` lanes of v where hit is set to buf[j..]; returns the new j. AVX-512
 * compresses them in a register (no branch per lane: the boundary digit's entries are spread
 * at random) and stores a whole vector, so buf needs VL elements of room past the end. Writing
 * in place (buf the source, j <= the lane read) is safe: the vector was loaded first. */
static inline ptrdiff_t CSM_FN(append_hits)(T *buf, ptrdiff_t j, VT v, VI hit, int rest)
{
#if CSM_AVX512 && defined(CSM_F32)
    __mmask16 k = _mm512_movepi32_mask((__m512i)hit) & (__mmask16)((1u << rest) - 1);
    _mm512_storeu_ps(buf + j, _mm512_maskz_compress_ps(k, (__m512)v));
    return j + __builtin_popcount(k);
#elif CSM_AVX512
    __mmask8 k = _mm512_movepi64_mask((__m512i)hit) & (__mmask8)((1u << rest) - 1);
    _mm512_storeu_pd(buf + j, _mm512_maskz_compress_pd(k, (__m512d)v));
    return j + __builtin_popcount(k);
#else
    for (int l = 0; l < rest; l++) {
        buf[j] = v[l];
        j += hit[l] != 0;
    }
    return j;
#endif
}

/* One vector of top_p_cutoff's band pass: of v's first `rest` lanes, those >= hi are added into
 * *top, those in [lo, hi) into *in and appended to buf[j..] (as append_hits); returns the new j.
 * AVX-512 keeps the lane sets in mask registers: through vector masks, gcc's code for the generic
 * form spent several times the instructions a vector on it. */
static inline ptrdiff_t CSM_FN(band_split)(T *buf, ptrdiff_t j, VT v, VT lo, VT hi, VT *top, VT *in,
                                           int rest)
{
#if CSM_AVX512 && defined(CSM_F32)
    __mmask16 live = (__mmask16)((1u << rest) - 1);
    __mmask16 kt = _mm512_mask_cmp_ps_mask(live, (__m512)v, (__m512)hi, _CMP_GE_OQ);
    __mmask16 ki = _mm512_mask_cmp_ps_mask(live & (__mmask16)~kt, (__m512)v, (__m512)lo,
                                           _CMP_GE_OQ);
    *top = (VT)_mm512_mask_add_ps((__m512)*top, kt, (__m512)*top, (__m512)v);
    *in = (VT)_mm512_mask_add_ps((__m512)*in, ki, (__m512)*in, (__m512)v);
    _mm512_storeu_ps(buf + j, _mm512_maskz_compress_ps(ki, (__m512)v));
    return j + __builtin_popcount(ki);
#elif CSM_AVX512
    __mmask8 live = (__mmask8)((1u << rest) - 1);
    __mmask8 kt = _mm512_mask_cmp_pd_mask(live, (__m512d)v, (__m512d)hi, _CMP_GE_OQ);
    __mmask8 ki = _mm512_mask_cmp_pd_mask(live & (__mmask8)~kt, (__m512d)v, (__m512d)lo,
                                          _CMP_GE_OQ);
    *top = (VT)_mm512_mask_add_pd((__m512d)*top, kt, (__m512d)*top, (__m512d)v);
    *in = (VT)_mm512_mask_add_pd((__m512d)*in, ki, (__m512d)*in, (__m512d)v);
    _mm512_storeu_pd(buf + j, _mm512_maskz_compress_pd(ki, (__m512d)v));
    return j + __builtin_popcount(ki);
#else
    VT zero = CSM_FN(vsplat)(0);
    VI t = v >= hi, b = (v >= lo) & ~t;
    *top += CSM_FN(vselect)(t, v, zero);
    *in += CSM_FN(vselect)(b, v, zero);
    /* a branch on whether it holds a band entry: vectors without one are most */
    return CSM_FN(vany)(b) ? CSM_FN(append_hits)(buf, j, v, b, rest) : j;
#endif
}
