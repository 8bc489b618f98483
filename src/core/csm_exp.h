/* Template (see csm_types.h, csm_simd.h): the element function of every exp pass.
 *
 * expm(x) = exp(x - c) * 2^-k, flushed to exactly 0 below the smallest normal (AVX-512: below
 * half the smallest subnormal; vscalef gives the subnormals in between). The row's max is
 * subtracted in the exponent domain: (c, k) are chosen per row (make_shift) so that
 * exp(max - c) * 2^-k lies in [0.7, 1.42] (no overflow) while y = x - c stays exact for every x
 * that matters. Forming x - max in floating point instead costs up to |x - max| * eps of relative
 * error after exp (~4e-6 in float32), which this avoids.
 * exp(y) = 2^n * exp(r): Cody-Waite reduction r = y - n ln2, a polynomial for exp(r) on
 * |r| <= ln2/2, and 2^n built in the exponent bits. */

typedef struct {
    VT c;    /* pivot subtracted in floating point (0, or the max when that is exact) */
    VT y_lo; /* y at or below this gives 0: clamps -inf and keeps the reduction in range */
#if CSM_AVX512
    VT magic_k; /* MAGIC + k: v - magic_k is n - k, exactly */
#else
    VU scale_bias; /* BIAS - k - bits(MAGIC): turns the bits of round(y log2e) into 2^(n-k) */
#endif
} CSM_FN(shift);

/* max must be finite. */
static inline CSM_FN(shift) CSM_FN(make_shift)(VT max)
{
    CSM_FN(shift) s;
    VI big = (max >= T_PIVOT_MIN) | (max <= -T_PIVOT_MIN);
    VT zero = CSM_FN(vsplat)(0);
    VT k = CSM_FN(vselect)(big, zero, (max * T_LOG2E + T_MAGIC) - T_MAGIC); /* |.| < 2^22 */
    const T magic = T_MAGIC;
    UT magic_bits;
    memcpy(&magic_bits, &magic, sizeof magic_bits);
    s.c = CSM_FN(vselect)(big, max, zero);
#if CSM_AVX512
    /* at the clamp n - k = -(BIAS + MANT + 2): 2^(n-k) p < half the smallest subnormal, so 0 */
    (void)magic_bits;
    s.y_lo = (k - ((T)T_BIAS + (T)T_MANT + (T)2.4)) * (1 / T_LOG2E);
    s.magic_k = magic + k;
#else
    /* (k - BIAS - 0.4) / log2e rounds to the exponent -BIAS, whose scale bits are exactly 0 */
    s.y_lo = (k - ((T)T_BIAS + (T)0.4)) * (1 / T_LOG2E);
    s.scale_bias = (VU)((IT)T_BIAS - __builtin_convertvector(k, VI)) - magic_bits;
#endif
    return s;
}

/* lane l of a shift made from a vector of maxima, as if made from max[l] alone */
static inline CSM_FN(shift) CSM_FN(shift_lane)(const CSM_FN(shift) *s, int l)
{
    CSM_FN(shift) r;
    r.c = CSM_FN(vsplat)(s->c[l]);
    r.y_lo = CSM_FN(vsplat)(s->y_lo[l]);
#if CSM_AVX512
    r.magic_k = CSM_FN(vsplat)(s->magic_k[l]);
#else
    r.scale_bias = (VU){0} + s->scale_bias[l];
#endif
    return r;
}

static inline VT CSM_FN(exp_poly)(VT r)
{
#if defined(CSM_F32)
    /* Horner to the end, 6 FMAs (1 + r + r^2 q took 7 operations), accuracy measured unchanged */
    VT p = 0x1.6d10fcp-10f * r + 0x1.120b62p-7f;
    p = p * r + 0x1.55551ap-5f;
    p = p * r + 0x1.5554dep-3f;
    p = p * r + 0.5f;
    p = p * r + 1;
    return p * r + 1;
#else
    /* Estrin's scheme: the float64 exp pass is bound by this chain's latency (9 dependent FMAs
     * with Horner), so pairs are evaluated in parallel: faster, same result to rounding */
    VT r2 = r * r, r4 = r2 * r2, r8 = r4 * r4;
    VT p01 = 0x1.0000000000001p-1 + 0x1.5555555555556p-3 * r;
    VT p23 = 0x1.5555555553d68p-5 + 0x1.11111111109b5p-7 * r;
    VT p45 = 0x1.6c16c17889ef1p-10 + 0x1.a01a01a7c2efep-13 * r;
    VT p67 = 0x1.a019b9149a41cp-16 + 0x1.71de0db2f6b19p-19 * r;
    VT p8 = 0x1.28917c89a43a7p-22 + 0x1.af389ecfc4b9cp-26 * r;
    VT q = (p01 + p23 * r2) + (p45 + p67 * r2) * r4 + p8 * r8;
    return 1 + r + r * r * q;
#endif
}

/* Requires x <= the max the shift was made from; NaN gives NaN. */
static inline VT CSM_FN(expm)(VT x, CSM_FN(shift) s)
{
    VT y = CSM_FN(vmax)(s.y_lo, x - s.c); /* this operand order keeps a NaN y */
    VT v = y * T_LOG2E + T_MAGIC;         /* low bits of v hold n = round(y log2e) */
    VT n = v - T_MAGIC;
    VT r = y - n * T_LN2_HI; /* exact (Cody-Waite) */
    r = r - n * T_LN2_LO;
#if CSM_AVX512
    return CSM_FN(vscalef)(CSM_FN(exp_poly)(r), v - s.magic_k);
#else
    /* 2^(n-k): the exponent field n - k + BIAS is in [0, BIAS + 1], and 0 (scale +0) exactly at
     * the clamp */
    VU scale_bits = ((VU)v + s.scale_bias) << T_MANT;
    return CSM_FN(exp_poly)(r) * (VT)scale_bits;
#endif
}

/* exp(y) for any y: no max to subtract, so the top is clamped where 2^n reaches the infinity
 * exponent (the result is then +inf) and NaN is passed through. */
static inline VT CSM_FN(vexp)(VT y)
{
    CSM_FN(shift) s = CSM_FN(make_shift)(CSM_FN(vsplat)(0));
    VT hi = CSM_FN(vsplat)(((T)T_BIAS + (T)1.4) / T_LOG2E);
    VT e = CSM_FN(expm)(CSM_FN(vselect)(y < hi, y, hi), s);
    return CSM_FN(vselect)(y != y, y, e);
}

/* exp(y) for y <= 0 (e.g. exp(-|x|)): expm with the zero shift, which needs neither vexp's clamp at
 * the top nor its NaN select (a NaN y gives NaN through expm, not necessarily the same one). */
static inline VT CSM_FN(vexp_nonpos)(VT y)
{
    return CSM_FN(expm)(y, CSM_FN(make_shift)(CSM_FN(vsplat)(0)));
}
