/* Template (see csm_types.h): portable vectors of T, CSM_VEC_BYTES wide, through the GCC/Clang
 * vector extensions. The same source becomes AVX-512, AVX2 or SSE2 code depending only on the
 * build's flags and CSM_VEC_BYTES; unlike auto-vectorized loops, the vector code is guaranteed.
 * Intrinsics appear only here, where one instruction replaces a generic sequence (vmax). Like
 * csm_types.h, each inclusion first drops the previous type's macros. */

/* Where gcc's inlining choices cost speed, they are fixed (measured, each against the other):
 * CSM_HOT for exp_store_sum, which gcc moved out of line once it had a second caller (softmax
 * 15-19% slower); CSM_SHARED for exp_sum_below_max, whose loop spills its accumulators when it is
 * inlined into a caller that passes its output pointers at run time (log_softmax 7-11% slower,
 * cross-entropy up to 4x): one out-of-line copy serves every caller. */
#ifndef CSM_HOT
#define CSM_HOT static inline __attribute__((always_inline))
#define CSM_SHARED static __attribute__((noinline, noclone))
#endif

#undef VL
#undef VT
#undef VI
#undef VU
#undef VD
#undef VH
#undef BLOCK
#undef CSM_AVX512
#define VL (CSM_VEC_BYTES / (int)sizeof(T))   /* lanes per vector */
/* NB vectors: a chunk of the column kernels, and the rows of a short-row block (one per lane) */
#define BLOCK (NB * VL)
#define VT CSM_FN(vt)
#define VI CSM_FN(vi)
#define VU CSM_FN(vu)
typedef T VT __attribute__((vector_size(CSM_VEC_BYTES)));
typedef IT VI __attribute__((vector_size(CSM_VEC_BYTES)));
typedef UT VU __attribute__((vector_size(CSM_VEC_BYTES)));

static inline VT CSM_FN(vload)(const T *p) { VT v; memcpy(&v, p, sizeof v); return v; }
static inline void CSM_FN(vstore)(T *p, VT v) { memcpy(p, &v, sizeof v); }
static inline VT CSM_FN(vsplat)(T a) { VT v = {0}; return v + a; }

/* 1 in the AVX-512 build: its helpers below use intrinsics (masked tails, vscalef, reductions),
 * and the kernels take the paths that those make worth it */
#if CSM_VEC_BYTES == 64 && defined(__AVX512F__)
#define CSM_AVX512 1
#else
#define CSM_AVX512 0
#endif

/* The first `count` lanes from p, the rest `fill`: tails go through the same vector code. AVX-512
 * reads and writes them with one masked instruction (the lanes past count are never touched);
 * elsewhere they go through a buffer, element by element. */
static inline VT CSM_FN(vload_part)(const T *p, int count, T fill)
{
    if (count == VL) return CSM_FN(vload)(p);
#if CSM_AVX512 && defined(CSM_F32)
    return (VT)_mm512_mask_loadu_ps(_mm512_set1_ps(fill), (__mmask16)((1u << count) - 1), p);
#elif CSM_AVX512
    return (VT)_mm512_mask_loadu_pd(_mm512_set1_pd(fill), (__mmask8)((1u << count) - 1), p);
#else
    T buf[VL];
    for (int j = 0; j < VL; j++) buf[j] = j < count ? p[j] : fill;
    return CSM_FN(vload)(buf);
#endif
}

static inline void CSM_FN(vstore_part)(T *p, VT v, int count)
{
    if (count == VL) {
        CSM_FN(vstore)(p, v);
        return;
    }
#if CSM_AVX512 && defined(CSM_F32)
    _mm512_mask_storeu_ps(p, (__mmask16)((1u << count) - 1), (__m512)v);
#elif CSM_AVX512
    _mm512_mask_storeu_pd(p, (__mmask8)((1u << count) - 1), (__m512d)v);
#else
    T buf[VL];
    CSM_FN(vstore)(buf, v);
    for (int j = 0; j < count; j++) p[j] = buf[j];
#endif
}

/* mask lanes are all ones or all zeros (a comparison result) */
static inline VT CSM_FN(vselect)(VI mask, VT a, VT b)
{
    return (VT)(((VI)a & mask) | ((VI)b & ~mask));
}

/* |a|: the sign bit cleared (NaN stays NaN) */
static inline VT CSM_FN(vabs)(VT a)
{
    return (VT)((VU)a & ((UT)-1 >> 1));
}

/* a > b ? a : b per lane (b when either is NaN): exactly the x86 max instruction, used where
 * the build has one (the generic select costs two instructions) */
static inline VT CSM_FN(vmax)(VT a, VT b)
{
#if defined(CSM_F32) && CSM_AVX512
    return (VT)_mm512_max_ps((__m512)a, (__m512)b);
#elif defined(CSM_F64) && CSM_AVX512
    return (VT)_mm512_max_pd((__m512d)a, (__m512d)b);
#elif defined(CSM_F32) && CSM_VEC_BYTES == 32 && defined(__AVX__)
    return (VT)_mm256_max_ps((__m256)a, (__m256)b);
#elif defined(CSM_F64) && CSM_VEC_BYTES == 32 && defined(__AVX__)
    return (VT)_mm256_max_pd((__m256d)a, (__m256d)b);
#elif defined(CSM_F32) && CSM_VEC_BYTES == 16 && defined(__SSE2__)
    return (VT)_mm_max_ps((__m128)a, (__m128)b);
#elif defined(CSM_F64) && CSM_VEC_BYTES == 16 && defined(__SSE2__)
    return (VT)_mm_max_pd((__m128d)a, (__m128d)b);
#else
    return CSM_FN(vselect)(a > b, a, b);
#endif
}

/* p * 2^e for integer-valued e, in one instruction where the build has it (AVX-512 vscalef, which
 * also gives the subnormals and the underflow to 0 and the overflow to inf); csm_exp.h builds
 * 2^e in the exponent bits elsewhere. */
#if CSM_AVX512
static inline VT CSM_FN(vscalef)(VT p, VT e)
{
#if defined(CSM_F32)
    return (VT)_mm512_scalef_ps((__m512)p, (__m512)e);
#else
    return (VT)_mm512_scalef_pd((__m512d)p, (__m512d)e);
#endif
}
#endif

/* the largest lane (a NaN lane may or may not win: callers treat a NaN max as a NaN row) */
static inline T CSM_FN(hmax)(VT v)
{
#if CSM_AVX512 && defined(CSM_F32)
    return _mm512_reduce_max_ps((__m512)v);
#elif CSM_AVX512
    return _mm512_reduce_max_pd((__m512d)v);
#else
    T m = v[0];
    for (int j = 1; j < VL; j++) m = v[j] > m ? v[j] : m;
    return m;
#endif
}

/* Wide (double) accumulation of T lanes: float32 partial sums are flushed into doubles often
 * enough that long rows keep ~1e-7 relative accuracy. */
#define VD CSM_FN(vd)
typedef double VD __attribute__((vector_size(CSM_VEC_BYTES)));
#if defined(CSM_F32)
#define VH CSM_FN(vh)
typedef float VH __attribute__((vector_size(CSM_VEC_BYTES / 2)));
/* lanes folded pairwise into doubles (the fold order does not matter to a sum); by shuffles,
 * not memcpy, which made gcc keep the accumulators on the stack */
static inline VD CSM_FN(vwiden_sum)(VT a)
{
#if CSM_VEC_BYTES == 64
    VH lo = __builtin_shufflevector(a, a, 0, 1, 2, 3, 4, 5, 6, 7);
    VH hi = __builtin_shufflevector(a, a, 8, 9, 10, 11, 12, 13, 14, 15);
#elif CSM_VEC_BYTES == 32
    VH lo = __builtin_shufflevector(a, a, 0, 1, 2, 3), hi = __builtin_shufflevector(a, a, 4, 5, 6, 7);
#else
    VH lo = __builtin_shufflevector(a, a, 0, 1), hi = __builtin_shufflevector(a, a, 2, 3);
#endif
    return __builtin_convertvector(lo, VD) + __builtin_convertvector(hi, VD);
}
#else
static inline VD CSM_FN(vwiden_sum)(VT a) { return a; }
#endif

static inline double CSM_FN(hsum_d)(VD v)
{
#if CSM_AVX512
    return _mm512_reduce_add_pd((__m512d)v);   /* a tree of shuffles and adds */
#else
    double s = 0;
    for (int j = 0; j < (int)(sizeof v / sizeof v[0]); j++) s += v[j];
    return s;
#endif
}

/* acc + e in the lanes where v is below mv (NaN counts as below, so it reaches the sum), the
 * lanes where v >= mv (v at the max) counted into *ties. AVX-512: a compare into a mask register,
 * a masked add and a scalar popcount, 2 vector operations instead of 5. */
#if CSM_AVX512
typedef ptrdiff_t CSM_FN(tie_count);
#else
typedef VI CSM_FN(tie_count);   /* -1 per tie in each lane */
#endif

static inline VT CSM_FN(vadd_below)(VT acc, VT e, VT v, VT mv, CSM_FN(tie_count) *ties)
{
#if CSM_AVX512 && defined(CSM_F32)
    __mmask16 at = _mm512_cmp_ps_mask((__m512)v, (__m512)mv, _CMP_GE_OQ);
    *ties += __builtin_popcount(at);
    return (VT)_mm512_mask_add_ps((__m512)acc, (__mmask16)~at, (__m512)acc, (__m512)e);
#elif CSM_AVX512
    __mmask8 at = _mm512_cmp_pd_mask((__m512d)v, (__m512d)mv, _CMP_GE_OQ);
    *ties += __builtin_popcount(at);
    return (VT)_mm512_mask_add_pd((__m512d)acc, (__mmask8)~at, (__m512d)acc, (__m512d)e);
#else
    VI at = v >= mv;
    *ties += at;
    return acc + (VT)((VI)e & ~at);
#endif
}

static inline ptrdiff_t CSM_FN(ties_total)(CSM_FN(tie_count) ties)
{
#if CSM_AVX512
    return ties;
#else
    ptrdiff_t count = 0;
    for (int j = 0; j < VL; j++) count -= ties[j];
    return count;
#endif
}
