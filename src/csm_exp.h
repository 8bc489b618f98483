/* Template (see csm_types.h): the element function of every exp pass.
 *
 * csm_expm(x) = exp(x - c) * 2^-k, flushed to exactly 0 when that is below the smallest normal.
 * The row's max is subtracted in the exponent domain: (c, k) are chosen per row so that
 * exp(max - c) * 2^-k lies in [0.7, 1.42] (no overflow), while y = x - c is exact for every x
 * that matters. Forming x - max in floating point instead costs up to |x - max| * eps of
 * relative error after exp (~4e-6 in float32), which this avoids. */

typedef struct {
    T c;     /* pivot subtracted in floating point (0, or the max when that is exact) */
    T k;     /* integer (as T): power of two removed in the exponent */
    T y_lo;  /* y below this gives 0: clamps -inf and keeps the reduction in range */
} CSM_FN(shift);

static inline CSM_FN(shift) CSM_FN(make_shift)(T max)
{
    CSM_FN(shift) s;
    if (max >= T_PIVOT_MIN || max <= -T_PIVOT_MIN) {
        s.c = max;
        s.k = 0;
    } else {
        /* round to nearest; |max * log2e| < 2^22 here */
        s.c = 0;
        s.k = (max * T_LOG2E + T_MAGIC) - T_MAGIC;
    }
    /* (k - BIAS - 0.4) / log2e: rounds to the exponent -BIAS, whose scale bits are exactly 0 */
    s.y_lo = (s.k - (T)T_BIAS - (T)0.4) / T_LOG2E;
    return s;
}

static inline T CSM_FN(exp_poly)(T r)
{
#if defined(CSM_F32)
    T q = (((0x1.6d10fcp-10f * r + 0x1.120b62p-7f) * r + 0x1.55551ap-5f) * r + 0x1.5554dep-3f) * r
          + 0.5f;
#else
    T q = ((((((((0x1.af389ecfc4b9cp-26 * r + 0x1.28917c89a43a7p-22) * r + 0x1.71de0db2f6b19p-19) * r
          + 0x1.a019b9149a41cp-16) * r + 0x1.a01a01a7c2efep-13) * r + 0x1.6c16c17889ef1p-10) * r
          + 0x1.11111111109b5p-7) * r + 0x1.5555555553d68p-5) * r + 0x1.5555555555556p-3) * r
          + 0x1.0000000000001p-1;
#endif
    return 1 + r + r * r * q;
}

/* Branch-free so that gcc vectorizes the calling loops (checked with -fopt-info-vec).
 * Requires x <= max of the row and x not NaN (rows with NaN never get here). */
static inline T CSM_FN(expm)(T x, T c, T k, T y_lo)
{
    T y = x - c;
    y = y > y_lo ? y : y_lo;
    T v = (y * T_LOG2E - k) + T_MAGIC;   /* low bits of v hold n = round(y*log2e - k) */
    T n = v - T_MAGIC;
    T nk = n + k;                        /* small integer, exact */
    T r = y - nk * T_LN2_HI;             /* exact (Cody-Waite) */
    r = r - nk * T_LN2_LO;
    UT vb, sb;
    T scale;
    memcpy(&vb, &v, sizeof vb);
    /* bits(v) - bits(MAGIC) = n; 2^n has exponent field n + BIAS, which is 0 (scale = +0) at the
     * clamp. n <= 1 because x <= max. */
    {
        T magic = T_MAGIC;
        UT mb;
        memcpy(&mb, &magic, sizeof mb);
        sb = (vb - mb + (UT)T_BIAS) << T_MANT;
    }
    memcpy(&scale, &sb, sizeof scale);
    return CSM_FN(exp_poly)(r) * scale;
}
