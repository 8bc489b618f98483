/* The kernels, compiled once per instruction set by setup.py (NumPy-style dispatch): the same
 * source with each build's flags. CSM_ISA names the build (function suffix) and CSM_VEC_BYTES
 * its vector width. Each build instantiates every template (csm_instance.h) for float32 and
 * float64 and exports its table, csm_table_<isa>. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include "csm_kernel_table.h"
#include "csm_tuning.h"
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#elif defined(__aarch64__)
#include <arm_neon.h>
#endif

#ifndef CSM_ISA
#define CSM_ISA baseline
#endif
#ifndef CSM_VEC_BYTES
#define CSM_VEC_BYTES 16
#endif

#define CSM_F32
#include "csm_instance.h"
#undef CSM_F32

#define CSM_F64
#include "csm_instance.h"
#undef CSM_F64

/* csm_<name>_<type>_<isa>, as CSM_FN names them */
#define CSM_NAME_(name, t, isa) csm_##name##_##t##_##isa
#define CSM_NAME__(name, t, isa) CSM_NAME_(name, t, isa)
#define CSM_NAME(name, t) CSM_NAME__(name, t, CSM_ISA)
#define CSM_TABLE_(isa) csm_table_##isa
#define CSM_TABLE(isa) CSM_TABLE_(isa)
/* one kind's entries for both dtypes */
#define CSM_BY_DTYPE(name)                                                                         \
    {                                                                                              \
        CSM_NAME(name, f32), CSM_NAME(name, f64)                                                   \
    }
#define CSM_OPS(kind, t)                                                                           \
    {                                                                                              \
        CSM_NAME(softmax_##kind##_entry, t), CSM_NAME(log_softmax_##kind##_entry, t),              \
            CSM_NAME(logsumexp_##kind##_entry, t)                                                  \
    }
#define CSM_PAIR(a, b, t)                                                                          \
    {                                                                                              \
        CSM_NAME(a, t), CSM_NAME(b, t)                                                             \
    }

/* float16 and bfloat16 rows: one entry each op reads the storage from the call */
#ifdef CSM_HAVE_HALF_ROWS
#define CSM_HALF_OPS                                                                               \
    {                                                                                              \
        CSM_NAME(softmax_half_entry, f32), CSM_NAME(log_softmax_half_entry, f32), NULL             \
    }
#else
#define CSM_HALF_OPS                                                                               \
    {                                                                                              \
        NULL, NULL, NULL                                                                           \
    }
#endif

const csm_kernel_table CSM_TABLE(CSM_ISA) = {
    .rows = {CSM_OPS(rows, f32), CSM_OPS(rows, f64), CSM_HALF_OPS, CSM_HALF_OPS},
    .cols = {CSM_OPS(cols, f32), CSM_OPS(cols, f64)},
    .fused = {CSM_OPS(fused, f32), CSM_OPS(fused, f64)},
    .cross_entropy = CSM_BY_DTYPE(cross_entropy_entry),
    .softmax_backward = {CSM_PAIR(softmax_backward_rows_entry, log_softmax_backward_rows_entry,
                                  f32),
                         CSM_PAIR(softmax_backward_rows_entry, log_softmax_backward_rows_entry,
                                  f64)},
    .sigmoid = {CSM_PAIR(sigmoid_entry, log_sigmoid_entry, f32),
                CSM_PAIR(sigmoid_entry, log_sigmoid_entry, f64)},
    .stats = CSM_BY_DTYPE(stats_rows_entry),
    .from_stats = {CSM_PAIR(softmax_from_stats_entry, log_softmax_from_stats_entry, f32),
                   CSM_PAIR(softmax_from_stats_entry, log_softmax_from_stats_entry, f64)},
    .binary_cross_entropy = CSM_BY_DTYPE(binary_cross_entropy_entry),
    .decode = {CSM_PAIR(top_k_softmax_entry, sample_entry, f32),
               CSM_PAIR(top_k_softmax_entry, sample_entry, f64)},
};
