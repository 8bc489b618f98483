/* Template (see csm_types.h, csm_simd.h): the element function of every exp pass.
 *
 * expm(x) = exp(x - c) * 2^-k, exactly 0 below about 1.4x the smallest normal, the same in every
 * build: no subnormal ever leaves it and no underflow is raised, not even by -inf or masked tail
 * lanes (on Intel each costs a microcode assist of ~100+ cycles per instruction). The row's max is
 * subtracted in the exponent domain: (c, k) are chosen per row (make_shift) so that
 * exp(max - c) * 2^-k lies in [0.7, 1.42] (no overflow) while y = x - c stays exact for every x
 * that matters. Forming x - max in floating point instead costs up to |x - max| * eps of relative
 * error after exp (~4e-6 in float32), which this avoids.
 * exp(y) = 2^n * exp(r): Cody-Waite reduction r = y - n ln2, a polynomial for exp(r) on
 * |r| <= ln2/2, and 2^(n-k) applied to it: results with n - k <= 1 - BIAS are 0, the others are
 * at least 0.7 * 2^(2-BIAS), normal.
 *   AVX-512: vscalef, with the lanes at or below that bound (y_lo) masked to 0 (vscalef_above),
 *     so they are neither clamped nor scaled: one compare instead of the clamp.
 *   Elsewhere: 2^(n-k-1) built in the exponent bits times twice the polynomial (every
 *     coefficient doubled, so every step is exactly twice the plain one, and at least 1.41): the
 *     exponent field n - k - 1 + BIAS is 0 (a scale of +0, so an exact 0) at the clamp y_lo, and
 *     the smallest nonzero scale 2^(1-BIAS) already gives a normal result. */

typedef struct {
    VT c;    /* pivot subtracted in floating point (0, or the max when that is exact) */
    VT y_lo; /* y at or below this gives 0 (elsewhere: clamps -inf, keeps the reduction in range) */
#if CSM_AVX512
    VT magic_k; /* MAGIC + k: v - magic_k is n - k, exactly */
#else
    VU scale_bias; /* BIAS - 1 - k - bits(MAGIC): the bits of round(y log2e) into 2^(n-k-1) */
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
    /* above (k + 1.5 - BIAS) / log2e: n - k >= 2 - BIAS, or 1 - BIAS with exp(r) > 1.41 */
    (void)magic_bits;
    s.y_lo = (k + ((T)1.5 - (T)T_BIAS)) * (1 / T_LOG2E);
    s.magic_k = magic + k;
#else
    /* (k + 1 - BIAS - 0.4) / log2e rounds to n - k = 1 - BIAS: the exponent field 0, scale +0 */
    s.y_lo = (k + ((T)1 - (T)T_BIAS - (T)0.4)) * (1 / T_LOG2E);
    s.scale_bias = (VU)((IT)(T_BIAS - 1) - __builtin_convertvector(k, VI)) - magic_bits;
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

/* EXP_POLY_TIMES * exp(r) on |r| <= ln2/2: 1 where vscalef applies the scale, 2 where the scale
 * is built in the exponent bits (see the opening comment) */
#if CSM_AVX512
#define EXP_POLY_TIMES 1
#else
#define EXP_POLY_TIMES 2
#endif
static inline VT CSM_FN(exp_poly)(VT r)
{
#if defined(CSM_F32)
    /* Horner to the end, 6 FMAs (1 + r + r^2 q took 7 operations), accuracy measured unchanged */
    VT p = (EXP_POLY_TIMES * 0x1.6d10fcp-10f) * r + (EXP_POLY_TIMES * 0x1.120b62p-7f);
    p = p * r + (EXP_POLY_TIMES * 0x1.55551ap-5f);
    p = p * r + (EXP_POLY_TIMES * 0x1.5554dep-3f);
    p = p * r + (EXP_POLY_TIMES * 0.5f);
    p = p * r + (T)EXP_POLY_TIMES;
    return p * r + (T)EXP_POLY_TIMES;
#else
    /* Estrin's scheme: the float64 exp pass is bound by this chain's latency (9 dependent FMAs
     * with Horner), so pairs are evaluated in parallel: faster, same result to rounding */
    VT r2 = r * r, r4 = r2 * r2, r8 = r4 * r4;
    const T t = EXP_POLY_TIMES;
    VT p01 = t * 0x1.0000000000001p-1 + (t * 0x1.5555555555556p-3) * r;
    VT p23 = t * 0x1.5555555553d68p-5 + (t * 0x1.11111111109b5p-7) * r;
    VT p45 = t * 0x1.6c16c17889ef1p-10 + (t * 0x1.a01a01a7c2efep-13) * r;
    VT p67 = t * 0x1.a019b9149a41cp-16 + (t * 0x1.71de0db2f6b19p-19) * r;
    VT p8 = t * 0x1.28917c89a43a7p-22 + (t * 0x1.af389ecfc4b9cp-26) * r;
    VT q = (p01 + p23 * r2) + (p45 + p67 * r2) * r4 + p8 * r8;
    return t + t * r + r * r * q;
#endif
}

/* Requires x <= the max the shift was made from; NaN gives NaN. */
static inline VT CSM_FN(expm)(VT x, CSM_FN(shift) s)
{
#if CSM_AVX512
    VT y = x - s.c; /* lanes at or below y_lo (-inf too) are computed but masked to 0 */
#else
    VT y = CSM_FN(vmax)(s.y_lo, x - s.c); /* this operand order keeps a NaN y */
#endif
    VT v = y * T_LOG2E + T_MAGIC; /* low bits of v hold n = round(y log2e) */
    VT n = v - T_MAGIC;
    VT r = y - n * T_LN2_HI; /* exact (Cody-Waite) */
    r = r - n * T_LN2_LO;
#if CSM_AVX512
    return CSM_FN(vscalef_above)(CSM_FN(exp_poly)(r), v - s.magic_k, y, s.y_lo);
#else
    /* 2^(n-k-1): the exponent field n - k - 1 + BIAS is in [0, BIAS], and 0 (scale +0) exactly
     * at the clamp */
    VU scale_bits = ((VU)v + s.scale_bias) << T_MANT;
    return CSM_FN(exp_poly)(r) * (VT)scale_bits;
#endif
}

/* exp(y) for any y: no max to subtract, so the top is clamped where 2^n reaches 2^(BIAS+1) (the
 * result then overflows to +inf) and NaN is passed through. */
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
