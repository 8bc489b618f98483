/* Per-type template parameters: T and its constants. Included by csm_instance.h once per type,
 * after CSM_F32 or CSM_F64 is defined; every kernel template is written in terms of these names.
 * Each inclusion first drops the previous type's definitions. */
#include <stdint.h>

#undef T
#undef UT
#undef IT
#undef TSFX
#undef T_SIZE
#undef T_MANT
#undef T_BIAS
#undef T_MAGIC
#undef T_LOG2E
#undef T_LN2_HI
#undef T_LN2_LO
#undef T_PIVOT_MIN

#if defined(CSM_F32)
#define T float
#define UT uint32_t
#define IT int32_t
#define TSFX f32
#define T_SIZE 4 /* sizeof(T), for the preprocessor */
#define T_MANT 23
#define T_BIAS 127
#define T_MAGIC                                                                                    \
    12582912.0f /* 1.5 * 2^23: adding it rounds |t| < 2^22 to an integer in the low bits */
#define T_LOG2E 1.44269504088896341f
/* Cody-Waite split of ln 2: LN2_HI has 10 significant bits, so n * LN2_HI is exact for |n| < 2^14
 * and y - n * LN2_HI is exact (Sterbenz) even without FMA. */
#define T_LN2_HI 0.693359375f
#define T_LN2_LO -2.12194440e-4f
/* |max| >= 256 makes x - max exact (Sterbenz) for every x within 88.7 (exp's range) of the max. */
#define T_PIVOT_MIN 256.0f
#elif defined(CSM_F64)
#define T double
#define UT uint64_t
#define IT int64_t
#define TSFX f64
#define T_SIZE 8
#define T_MANT 52
#define T_BIAS 1023
#define T_MAGIC 6755399441055744.0 /* 1.5 * 2^52 */
#define T_LOG2E 1.4426950408889634074
/* LN2_HI has 32 significant bits: n * LN2_HI exact for |n| < 2^21. */
#define T_LN2_HI 0x1.62e42fee00000p-1
#define T_LN2_LO 0x1.a39ef35793c76p-33
#define T_PIVOT_MIN 2048.0
#else
#error "define CSM_F32 or CSM_F64 before including csm_types.h"
#endif

#define CSM_CAT_(a, b, c) a##_##b##_##c
#define CSM_CAT(a, b, c) CSM_CAT_(a, b, c)
/* csm_<name>_<type>_<isa>, e.g. csm_softmax_rows_f32_avx512 */
#define CSM_FN(name) CSM_CAT(csm_##name, TSFX, CSM_ISA)
