/* Template (see csm_types.h): portable vectors of T, CSM_VEC_BYTES wide, through the GCC/Clang
 * vector extensions. The same source becomes AVX-512, AVX2 or SSE2 code depending only on the
 * build's flags and CSM_VEC_BYTES, with no intrinsics; unlike auto-vectorized loops, the vector
 * code is guaranteed. */

#define VL (CSM_VEC_BYTES / (int)sizeof(T))   /* lanes per vector */
#define VT CSM_FN(vt)
#define VI CSM_FN(vi)
#define VU CSM_FN(vu)
typedef T VT __attribute__((vector_size(CSM_VEC_BYTES)));
typedef IT VI __attribute__((vector_size(CSM_VEC_BYTES)));
typedef UT VU __attribute__((vector_size(CSM_VEC_BYTES)));

static inline VT CSM_FN(vload)(const T *p) { VT v; memcpy(&v, p, sizeof v); return v; }
static inline void CSM_FN(vstore)(T *p, VT v) { memcpy(p, &v, sizeof v); }
static inline VT CSM_FN(vsplat)(T a) { VT v = {0}; return v + a; }

/* The first `count` lanes from p, the rest `fill`: tails go through the same vector code. */
static inline VT CSM_FN(vload_part)(const T *p, int count, T fill)
{
    T buf[VL];
    if (count == VL) return CSM_FN(vload)(p);
    for (int j = 0; j < VL; j++) buf[j] = j < count ? p[j] : fill;
    return CSM_FN(vload)(buf);
}

static inline void CSM_FN(vstore_part)(T *p, VT v, int count)
{
    T buf[VL];
    if (count == VL) {
        CSM_FN(vstore)(p, v);
        return;
    }
    CSM_FN(vstore)(buf, v);
    for (int j = 0; j < count; j++) p[j] = buf[j];
}

/* mask lanes are all ones or all zeros (a comparison result) */
static inline VT CSM_FN(vselect)(VI mask, VT a, VT b)
{
    return (VT)(((VI)a & mask) | ((VI)b & ~mask));
}

static inline VT CSM_FN(vmax)(VT a, VT b) { return CSM_FN(vselect)(a > b, a, b); }

static inline T CSM_FN(hmax)(VT v)
{
    T m = v[0];
    for (int j = 1; j < VL; j++) m = v[j] > m ? v[j] : m;
    return m;
}

static inline IT CSM_FN(hor)(VI v)
{
    IT s = 0;
    for (int j = 0; j < VL; j++) s |= v[j];
    return s;
}

/* Wide (double) accumulation of T lanes: float32 partial sums are flushed into doubles often
 * enough that long rows keep ~1e-7 relative accuracy. */
#define VD CSM_FN(vd)
typedef double VD __attribute__((vector_size(CSM_VEC_BYTES)));
#if defined(CSM_F32)
#define VH CSM_FN(vh)
typedef float VH __attribute__((vector_size(CSM_VEC_BYTES / 2)));
/* lanes folded pairwise into doubles (the fold order does not matter to a sum) */
static inline VD CSM_FN(vwiden_sum)(VT a)
{
    VH lo, hi;
    memcpy(&lo, &a, sizeof lo);
    memcpy(&hi, (const char *)&a + sizeof lo, sizeof hi);
    return __builtin_convertvector(lo, VD) + __builtin_convertvector(hi, VD);
}
#else
static inline VD CSM_FN(vwiden_sum)(VT a) { return a; }
#endif

static inline double CSM_FN(hsum_d)(VD v)
{
    double s = 0;
    for (int j = 0; j < (int)(sizeof v / sizeof v[0]); j++) s += v[j];
    return s;
}
