/* Template (see csm_types.h): portable vectors of T, CSM_VEC_BYTES wide, through the GCC/Clang
 * vector extensions. The same source becomes AVX-512, AVX2 or SSE2 code depending only on the
 * build's flags and CSM_VEC_BYTES; unlike auto-vectorized loops, the vector code is guaranteed.
 * The kernels are written in these vectors. Intrinsics appear only in small helpers with a
 * portable fallback, where one instruction replaces a generic sequence: here (masked loads and
 * stores, streaming stores, max, scalef, widening and horizontal sums), csm_half.h (row
 * conversions), decode/csm_decode_simd.h (compress, mask-register band split),
 * softmax/csm_rows_half.h (half loads, stores and exp) and softmax/csm_rows_fused.h (the where=
 * mask load). Like csm_types.h, each inclusion first drops the previous type's macros. */

/* Where gcc's inlining choices cost speed, they are fixed (measured, each against the other;
 * docs/PERFORMANCE.md): CSM_HOT for exp_store_sum, which gcc moved out of line once it had a
 * second caller; CSM_SHARED for exp_sum_below_max, whose loop spills its accumulators when it is
 * inlined into a caller that passes its output pointers at run time: one out-of-line copy serves
 * every caller. */
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
#undef VDL
#undef BLOCK
#undef CSM_AVX512
#undef CSM_MASKED_TAILS
#undef CSM_NEON
#define VL (CSM_VEC_BYTES / (int)sizeof(T)) /* lanes per vector */
/* NB vectors: a chunk of the column kernels, and the rows of a short-row block (one per lane) */
#define BLOCK (NB * VL)
#define VT CSM_FN(vt)
#define VI CSM_FN(vi)
#define VU CSM_FN(vu)
typedef T VT __attribute__((vector_size(CSM_VEC_BYTES)));
typedef IT VI __attribute__((vector_size(CSM_VEC_BYTES)));
typedef UT VU __attribute__((vector_size(CSM_VEC_BYTES)));

static inline VT CSM_FN(vload)(const T *p)
{
    VT v;
    memcpy(&v, p, sizeof v);
    return v;
}
static inline void CSM_FN(vstore)(T *p, VT v) { memcpy(p, &v, sizeof v); }
static inline VT CSM_FN(vsplat)(T a)
{
    VT v = {0};
    return v + a;
}

/* 1 in the AVX-512 build: its helpers below use intrinsics (masked tails, vscalef, reductions),
 * and the kernels take the paths that those make worth it */
#if CSM_VEC_BYTES == 64 && defined(__AVX512F__)
#define CSM_AVX512 1
#else
#define CSM_AVX512 0
#endif
/* 1 in the aarch64 build ("neon"): a few helpers below use its across-lane and pairwise
 * instructions, where the generic code extracts lanes one by one */
#if CSM_VEC_BYTES == 16 && defined(__aarch64__) && defined(__ARM_NEON)
#define CSM_NEON 1
#else
#define CSM_NEON 0
#endif
/* 1 where a row tail loads with one masked instruction (AVX-512, AVX2): the kernels then keep
 * short rows in registers (reg_rows and the groups that share it) */
#if CSM_AVX512 || (CSM_VEC_BYTES == 32 && defined(__AVX2__))
#define CSM_MASKED_TAILS 1
#else
#define CSM_MASKED_TAILS 0
#endif

/* The first `count` lanes from p, the rest `fill`: tails go through the same vector code. AVX-512
 * reads and writes them with one masked instruction (the lanes past count are never touched), AVX2
 * reads them so (vmaskmov, and a blend for the fill; its masked store is slow on some AMD cores,
 * so stores go through a buffer there); elsewhere both go through a buffer, element by element. */
static inline VT CSM_FN(vload_part)(const T *p, int count, T fill)
{
    if (count == VL) return CSM_FN(vload)(p);
#if CSM_AVX512 && defined(CSM_F32)
    return (VT)_mm512_mask_loadu_ps(_mm512_set1_ps(fill), (__mmask16)((1u << count) - 1), p);
#elif CSM_AVX512
    return (VT)_mm512_mask_loadu_pd(_mm512_set1_pd(fill), (__mmask8)((1u << count) - 1), p);
#elif CSM_MASKED_TAILS && defined(CSM_F32)
    __m256i in = _mm256_cmpgt_epi32(_mm256_set1_epi32(count),
                                    _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    return (VT)_mm256_blendv_ps(_mm256_set1_ps(fill), _mm256_maskload_ps(p, in),
                                _mm256_castsi256_ps(in));
#elif CSM_MASKED_TAILS
    __m256i in = _mm256_cmpgt_epi64(_mm256_set1_epi64x(count), _mm256_setr_epi64x(0, 1, 2, 3));
    return (VT)_mm256_blendv_pd(_mm256_set1_pd(fill), _mm256_maskload_pd(p, in),
                                _mm256_castsi256_pd(in));
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

/* v to p (aligned to the vector) with a non-temporal store where the build has one: the line goes
 * to memory without being read first. The caller ends its streaming with vstream_fence. */
static inline void CSM_FN(vstream)(T *p, VT v)
{
#if CSM_AVX512 && defined(CSM_F32)
    _mm512_stream_ps(p, (__m512)v);
#elif CSM_AVX512
    _mm512_stream_pd(p, (__m512d)v);
#elif CSM_VEC_BYTES == 32 && defined(__AVX__) && defined(CSM_F32)
    _mm256_stream_ps(p, (__m256)v);
#elif CSM_VEC_BYTES == 32 && defined(__AVX__)
    _mm256_stream_pd(p, (__m256d)v);
#elif CSM_VEC_BYTES == 16 && defined(__SSE2__) && defined(CSM_F32)
    _mm_stream_ps(p, (__m128)v);
#elif CSM_VEC_BYTES == 16 && defined(__SSE2__)
    _mm_stream_pd(p, (__m128d)v);
#else
    CSM_FN(vstore)(p, v);
#endif
}

/* the streamed stores ordered before whatever follows them */
static inline void CSM_FN(vstream_fence)(void)
{
#if defined(__SSE2__)
    _mm_sfence();
#endif
}

/* mask lanes are all ones or all zeros (a comparison result) */
static inline VT CSM_FN(vselect)(VI mask, VT a, VT b)
{
    return (VT)(((VI)a & mask) | ((VI)b & ~mask));
}

/* 1 when some lane of a is not c (a NaN lane counts), in one compare and a mask test where the
 * build has them */
static inline int CSM_FN(vany_ne)(VT a, T c)
{
#if CSM_AVX512 && defined(CSM_F32)
    return _mm512_cmp_ps_mask((__m512)a, _mm512_set1_ps(c), _CMP_NEQ_UQ) != 0;
#elif CSM_AVX512
    return _mm512_cmp_pd_mask((__m512d)a, _mm512_set1_pd(c), _CMP_NEQ_UQ) != 0;
#elif defined(CSM_F32) && CSM_VEC_BYTES == 32 && defined(__AVX__)
    return _mm256_movemask_ps((__m256)(a != c)) != 0;
#elif defined(CSM_F64) && CSM_VEC_BYTES == 32 && defined(__AVX__)
    return _mm256_movemask_pd((__m256d)(a != c)) != 0;
#elif defined(CSM_F32) && CSM_VEC_BYTES == 16 && defined(__SSE2__)
    return _mm_movemask_ps((__m128)(a != c)) != 0;
#elif defined(CSM_F64) && CSM_VEC_BYTES == 16 && defined(__SSE2__)
    return _mm_movemask_pd((__m128d)(a != c)) != 0;
#else
    VI ne = a != c;
    int r = 0;
    for (int l = 0; l < VL; l++) r |= ne[l] != 0;
    return r;
#endif
}

/* |a|: the sign bit cleared (NaN stays NaN) */
static inline VT CSM_FN(vabs)(VT a) { return (VT)((VU)a & ((UT)-1 >> 1)); }

/* a > b ? a : b per lane (b when either is NaN): exactly the x86 max instruction, used where
 * the build has one (the generic select costs two instructions, on NEON a compare and a bit
 * select) */
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
#elif CSM_NEON && defined(CSM_F32)
    /* the same select, as an intrinsic: gcc then picks bit/bif and needs no register copy (the
     * max loop 11 -> 8 instructions per 2 vectors); NEON's fmax would return NaN for a NaN b */
    return (VT)vbslq_f32(vcgtq_f32((float32x4_t)a, (float32x4_t)b), (float32x4_t)a, (float32x4_t)b);
#elif CSM_NEON
    return (VT)vbslq_f64(vcgtq_f64((float64x2_t)a, (float64x2_t)b), (float64x2_t)a, (float64x2_t)b);
#else
    return CSM_FN(vselect)(a > b, a, b);
#endif
}

/* p * 2^e for integer-valued e in one instruction (AVX-512 vscalef, which also gives the
 * subnormals and the underflow to 0 and the overflow to inf): the half-precision exp.
 * vscalef_above: the same where y > lo or y is NaN, else exactly 0, with nothing computed (or
 * raised) in those lanes: csm_exp.h's expm, which so never underflows. */
#if CSM_AVX512
static inline VT CSM_FN(vscalef)(VT p, VT e)
{
#if defined(CSM_F32)
    return (VT)_mm512_scalef_ps((__m512)p, (__m512)e);
#else
    return (VT)_mm512_scalef_pd((__m512d)p, (__m512d)e);
#endif
}

static inline VT CSM_FN(vscalef_above)(VT p, VT e, VT y, VT lo)
{
#if defined(CSM_F32)
    __mmask16 keep = _mm512_cmp_ps_mask((__m512)y, (__m512)lo, _CMP_NLE_UQ);
    return (VT)_mm512_maskz_scalef_ps(keep, (__m512)p, (__m512)e);
#else
    __mmask8 keep = _mm512_cmp_pd_mask((__m512d)y, (__m512d)lo, _CMP_NLE_UQ);
    return (VT)_mm512_maskz_scalef_pd(keep, (__m512d)p, (__m512d)e);
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
#elif CSM_NEON && defined(CSM_F32)
    return vmaxnmvq_f32((float32x4_t)v); /* fmaxnmv: a NaN lane wins only if all are NaN */
#elif CSM_NEON
    return vmaxnmvq_f64((float64x2_t)v);
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
#if CSM_AVX512
    /* gcc widens a shufflevector half four lanes at a time (8 operations, not 3) */
    __m512 v = (__m512)a;
    return (VD)_mm512_add_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(v)),
                             _mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1)));
#else
#if CSM_VEC_BYTES == 32
    VH lo = __builtin_shufflevector(a, a, 0, 1, 2, 3),
       hi = __builtin_shufflevector(a, a, 4, 5, 6, 7);
#else
    VH lo = __builtin_shufflevector(a, a, 0, 1), hi = __builtin_shufflevector(a, a, 2, 3);
#endif
    return __builtin_convertvector(lo, VD) + __builtin_convertvector(hi, VD);
#endif
}
#else
static inline VD CSM_FN(vwiden_sum)(VT a) { return a; }
#endif

/* Lanes h VDL .. (h + 1) VDL - 1 of a as doubles (VDL doubles fill a VD: float32 has two such
 * parts, float64 one), and the inverse: VL / VDL of them rounded back into a VT. */
#define VDL (CSM_VEC_BYTES / 8)
static inline VD CSM_FN(vwiden_part)(VT a, int h)
{
#if defined(CSM_F64)
    (void)h;
    return a;
#elif CSM_AVX512
    __m512 v = (__m512)a;
    return (VD)_mm512_cvtps_pd(h ? _mm512_extractf32x8_ps(v, 1) : _mm512_castps512_ps256(v));
#elif CSM_VEC_BYTES == 32
    return h ? __builtin_convertvector(__builtin_shufflevector(a, a, 4, 5, 6, 7), VD)
             : __builtin_convertvector(__builtin_shufflevector(a, a, 0, 1, 2, 3), VD);
#else
    return h ? __builtin_convertvector(__builtin_shufflevector(a, a, 2, 3), VD)
             : __builtin_convertvector(__builtin_shufflevector(a, a, 0, 1), VD);
#endif
}

static inline VT CSM_FN(vnarrow)(const VD *d)
{
#if defined(CSM_F64)
    return d[0];
#else
    VH lo = __builtin_convertvector(d[0], VH), hi = __builtin_convertvector(d[1], VH);
#if CSM_VEC_BYTES == 64
    return __builtin_shufflevector(lo, hi, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
#elif CSM_VEC_BYTES == 32
    return __builtin_shufflevector(lo, hi, 0, 1, 2, 3, 4, 5, 6, 7);
#else
    return __builtin_shufflevector(lo, hi, 0, 1, 2, 3);
#endif
#endif
}

static inline double CSM_FN(hsum_d)(VD v)
{
#if CSM_AVX512
    return _mm512_reduce_add_pd((__m512d)v); /* a tree of shuffles and adds */
#elif CSM_NEON
    return vaddvq_f64((float64x2_t)v); /* faddp: v[0] + v[1], as below */
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
typedef VI CSM_FN(tie_count);          /* -1 per tie in each lane */
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
#elif CSM_NEON && defined(CSM_F32)
    return -(ptrdiff_t)vaddvq_s32((int32x4_t)ties);
#elif CSM_NEON
    return -(ptrdiff_t)vaddvq_s64((int64x2_t)ties);
#else
    ptrdiff_t count = 0;
    for (int j = 0; j < VL; j++) count -= ties[j];
    return count;
#endif
}

/* Vectors of 8 lanes v[0..8) folded across lanes by OP (a function of two vectors): lane l of
 * the result is OP over v[l]'s lanes, in three levels of two shuffles and one OP per pair. The
 * shuffles are constants, so gcc picks in-lane and 128-bit-block shuffles where they serve (a
 * loop over levels with computed vpermt2 indices was slower). */
#ifndef CSM_FOLD8
#define CSM_ADD(a, b) ((a) + (b))
#define CSM_FOLD4(v, OP)                                                                           \
    ({                                                                                             \
        for (int k_ = 0; k_ < 2; k_++)                                                             \
            v[k_] = OP(__builtin_shufflevector(v[2 * k_], v[2 * k_ + 1], 0, 1, 4, 5),              \
                       __builtin_shufflevector(v[2 * k_], v[2 * k_ + 1], 2, 3, 6, 7));             \
        OP(__builtin_shufflevector(v[0], v[1], 0, 2, 4, 6),                                        \
           __builtin_shufflevector(v[0], v[1], 1, 3, 5, 7));                                       \
    })
#define CSM_FOLD8(v, OP)                                                                           \
    ({                                                                                             \
        for (int k_ = 0; k_ < 4; k_++)                                                             \
            v[k_] = OP(                                                                            \
                __builtin_shufflevector(v[2 * k_], v[2 * k_ + 1], 0, 1, 2, 3, 8, 9, 10, 11),       \
                __builtin_shufflevector(v[2 * k_], v[2 * k_ + 1], 4, 5, 6, 7, 12, 13, 14, 15));    \
        for (int k_ = 0; k_ < 2; k_++)                                                             \
            v[k_] = OP(                                                                            \
                __builtin_shufflevector(v[2 * k_], v[2 * k_ + 1], 0, 1, 4, 5, 8, 9, 12, 13),       \
                __builtin_shufflevector(v[2 * k_], v[2 * k_ + 1], 2, 3, 6, 7, 10, 11, 14, 15));    \
        OP(__builtin_shufflevector(v[0], v[1], 0, 2, 4, 6, 8, 10, 12, 14),                         \
           __builtin_shufflevector(v[0], v[1], 1, 3, 5, 7, 9, 11, 13, 15));                        \
    })
#endif

/* Lane l of the result is the max of v[l]'s lanes, for VL vectors at once. AVX-512: a transpose
 * folded into the reduction, log2(VL) levels of two shuffles and one max per pair of vectors
 * (about 3 operations per vector), where one horizontal max per vector (hmax) costs 2 log2(VL)
 * dependent operations. */
CSM_HOT VT CSM_FN(vmax_lanes)(VT *v)
{
#if CSM_VEC_BYTES / T_SIZE == 8
    return CSM_FOLD8(v, CSM_FN(vmax));
#elif CSM_VEC_BYTES / T_SIZE == 4
    return CSM_FOLD4(v, CSM_FN(vmax));
#elif CSM_NEON
    return (VT)vpmaxnmq_f64((float64x2_t)v[0], (float64x2_t)v[1]); /* fmaxnmp, as hmax */
#elif CSM_VEC_BYTES / T_SIZE != 16
    VT r;
    for (int k = 0; k < VL; k++) r[k] = CSM_FN(hmax)(v[k]);
    return r;
#else
    /* 16 lanes: the first level leaves 8 lanes per row, then as CSM_FOLD8 with lanes in pairs */
    int k;
    for (k = 0; k < 8; k++)
        v[k] = CSM_FN(vmax)(__builtin_shufflevector(v[2 * k], v[2 * k + 1], 0, 1, 2, 3, 4, 5, 6, 7,
                                                    16, 17, 18, 19, 20, 21, 22, 23),
                            __builtin_shufflevector(v[2 * k], v[2 * k + 1], 8, 9, 10, 11, 12, 13,
                                                    14, 15, 24, 25, 26, 27, 28, 29, 30, 31));
    for (k = 0; k < 4; k++)
        v[k] = CSM_FN(vmax)(__builtin_shufflevector(v[2 * k], v[2 * k + 1], 0, 1, 2, 3, 8, 9, 10,
                                                    11, 16, 17, 18, 19, 24, 25, 26, 27),
                            __builtin_shufflevector(v[2 * k], v[2 * k + 1], 4, 5, 6, 7, 12, 13, 14,
                                                    15, 20, 21, 22, 23, 28, 29, 30, 31));
    for (k = 0; k < 2; k++)
        v[k] = CSM_FN(vmax)(__builtin_shufflevector(v[2 * k], v[2 * k + 1], 0, 1, 4, 5, 8, 9, 12,
                                                    13, 16, 17, 20, 21, 24, 25, 28, 29),
                            __builtin_shufflevector(v[2 * k], v[2 * k + 1], 2, 3, 6, 7, 10, 11, 14,
                                                    15, 18, 19, 22, 23, 26, 27, 30, 31));
    return CSM_FN(vmax)(__builtin_shufflevector(v[0], v[1], 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20,
                                                22, 24, 26, 28, 30),
                        __builtin_shufflevector(v[0], v[1], 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21,
                                                23, 25, 27, 29, 31));
#endif
}

/* Lane l of the result is the sum of d[l]'s lanes, for as many vectors as VD has lanes (as
 * vmax_lanes). Every vector is added in the same order whatever its place. */
CSM_HOT VD CSM_FN(vsum_lanes)(VD *d)
{
#if CSM_VEC_BYTES == 64
    return CSM_FOLD8(d, CSM_ADD);
#elif CSM_VEC_BYTES == 32
    return CSM_FOLD4(d, CSM_ADD);
#elif CSM_NEON
    return (VD)vpaddq_f64((float64x2_t)d[0], (float64x2_t)d[1]);   /* faddp, as hsum_d */
#else
    VD r;
    for (int k = 0; k < (int)(sizeof r / sizeof r[0]); k++) r[k] = CSM_FN(hsum_d)(d[k]);
    return r;
#endif
}

#if CSM_MASKED_TAILS
/* v[0..VL) transposed in place (lane j of v[i] to lane i of v[j]): log2(VL) rounds of perfect
 * shuffles, v'[2k] and v'[2k+1] the lanes of v[k] and v[k + VL/2] interleaved, VL operations a
 * round. */
static inline void CSM_FN(vtranspose)(VT *v)
{
    for (int round = 1; round < VL; round *= 2) {
        VT t[VL];
        for (int k = 0; k < VL / 2; k++) {
#if CSM_VEC_BYTES / T_SIZE == 16
            t[2 * k] = __builtin_shufflevector(v[k], v[k + VL / 2], 0, 16, 1, 17, 2, 18, 3, 19, 4,
                                               20, 5, 21, 6, 22, 7, 23);
            t[2 * k + 1] = __builtin_shufflevector(v[k], v[k + VL / 2], 8, 24, 9, 25, 10, 26, 11,
                                                   27, 12, 28, 13, 29, 14, 30, 15, 31);
#elif CSM_VEC_BYTES / T_SIZE == 8
            t[2 * k] = __builtin_shufflevector(v[k], v[k + VL / 2], 0, 8, 1, 9, 2, 10, 3, 11);
            t[2 * k + 1] = __builtin_shufflevector(v[k], v[k + VL / 2], 4, 12, 5, 13, 6, 14, 7, 15);
#else
            t[2 * k] = __builtin_shufflevector(v[k], v[k + VL / 2], 0, 4, 1, 5);
            t[2 * k + 1] = __builtin_shufflevector(v[k], v[k + VL / 2], 2, 6, 3, 7);
#endif
        }
        for (int k = 0; k < VL; k++) v[k] = t[k];
    }
}
#endif
