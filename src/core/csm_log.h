/* Template (see csm_types.h, csm_simd.h): vector log1p, for the per-lane log-sum-exp of the
 * column and short-row kernels (one row per lane), where a libm call per lane would cost more
 * than the exps.
 *
 * log1p(z) = log(u) + (z - (u - 1)) / u with u = 1 + z rounded (the second term restores what the
 * rounding of u lost, so tiny z keep full relative accuracy); log(u) = e ln2 + log(m) with
 * u = 2^e m, m in [sqrt(1/2), sqrt(2)), and log(m) = 2 atanh(f), f = (m - 1) / (m + 1),
 * |f| <= 0.172, by its Taylor series (truncation below 1e-8 in float32, 1e-17 in float64). */

/* z in (-1, inf), or NaN (giving NaN); vlog1p below also passes +inf through */
static inline VT CSM_FN(vlog1p_finite)(VT z)
{
    VT u = 1 + z;
    VT corr = (z - (u - 1)) / u;
    /* the split in integer steps: adding one_bits - lo_bits to u's bits carries into the exponent
     * field exactly when u's mantissa is above sqrt(2)'s (then m is the mantissa halved), and
     * adding lo_bits to the low bits rebuilds m. The same e and m, bit for bit, as splitting at
     * [1, 2) and halving m > sqrt(2), without the compare and select. */
    const T sqrt_half = (T)0.70710678118654752440;
    const UT mant_mask = ((UT)1 << T_MANT) - 1, one_bits = (UT)T_BIAS << T_MANT;
    UT lo_bits; /* just above sqrt(1/2) */
    memcpy(&lo_bits, &sqrt_half, sizeof lo_bits);
    lo_bits += 1;
    VU b = (VU)u + (one_bits - lo_bits);
    VI e = (VI)((b >> T_MANT) - (UT)T_BIAS);
    VT m = (VT)((b & mant_mask) + lo_bits);
    VT f = (m - 1) / (m + 1), f2 = f * f;
#if defined(CSM_F32)
    VT series = (((f2 * (T)(1.0 / 9) + (T)(1.0 / 7)) * f2 + (T)(1.0 / 5)) * f2 + (T)(1.0 / 3)) * f2;
#else
    VT series =
        (((((((((f2 * (1.0 / 21) + 1.0 / 19) * f2 + 1.0 / 17) * f2 + 1.0 / 15) * f2 + 1.0 / 13) * f2
             + 1.0 / 11)
                * f2
            + 1.0 / 9)
               * f2
           + 1.0 / 7)
              * f2
          + 1.0 / 5)
             * f2
         + 1.0 / 3)
        * f2;
#endif
    VT ef = __builtin_convertvector(e, VT);
    return (ef * T_LN2_HI + (2 * f + (2 * f * series + ef * T_LN2_LO))) + corr;
}

static inline VT CSM_FN(vlog1p)(VT z)
{
    /* z = +inf or NaN: pass through (u's exponent field would be read as a number) */
    return CSM_FN(vselect)(z < (T)INFINITY, CSM_FN(vlog1p_finite)(z), z);
}
