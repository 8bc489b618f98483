/* The kernels, compiled once per instruction set by setup.py (NumPy-style dispatch): the same
 * source with -mavx512f..., with -mavx2 -mfma, and with the baseline flags. CSM_ISA names the
 * build (function suffix) and CSM_VEC_BYTES its vector width. Each build is then instantiated for
 * float32 and float64 from the same templates. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include "csoftmax.h"
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#ifndef CSM_ISA
#define CSM_ISA baseline
#endif
#ifndef CSM_VEC_BYTES
#define CSM_VEC_BYTES 16
#endif

#define CSM_F32
#include "csm_types.h"
#include "csm_simd.h"
#include "csm_exp.h"
#include "csm_log.h"
#include "csm_cols.h"
#include "csm_rows_small.h"
#include "csm_rows.h"
#include "csm_losses.h"
#include "csm_elementwise.h"
#include "csm_entries.h"
#undef CSM_F32
#undef VL
#undef VT
#undef VI
#undef VU
#undef VD
#undef VH
#undef SMALL_ROW_MAX
#undef NB
#undef BLOCK
#undef COL_FLUSH

#define CSM_F64
#include "csm_types.h"
#include "csm_simd.h"
#include "csm_exp.h"
#include "csm_log.h"
#include "csm_cols.h"
#include "csm_rows_small.h"
#include "csm_rows.h"
#include "csm_losses.h"
#include "csm_elementwise.h"
#include "csm_entries.h"
#undef CSM_F64

/* This build's table, e.g. csm_table_avx512 */
#define CSM_NAME_(name, t, isa) csm_##name##_##t##_##isa
#define CSM_NAME__(name, t, isa) CSM_NAME_(name, t, isa)
#define CSM_NAME(name, t) CSM_NAME__(name, t, CSM_ISA)
#define CSM_TABLE_(isa) csm_table_##isa
#define CSM_TABLE(isa) CSM_TABLE_(isa)
const csm_kernel_table CSM_TABLE(CSM_ISA) = {
    {CSM_NAME(softmax_rows, f32), CSM_NAME(log_softmax_rows, f32), CSM_NAME(logsumexp_rows, f32)},
    {CSM_NAME(softmax_rows, f64), CSM_NAME(log_softmax_rows, f64), CSM_NAME(logsumexp_rows, f64)},
    {CSM_NAME(softmax_cols, f32), CSM_NAME(log_softmax_cols, f32), CSM_NAME(logsumexp_cols, f32)},
    {CSM_NAME(softmax_cols, f64), CSM_NAME(log_softmax_cols, f64), CSM_NAME(logsumexp_cols, f64)},
    {CSM_NAME(ce_entry, f32), CSM_NAME(ce_entry, f64)},
    {CSM_NAME(backward_entry, f32), CSM_NAME(backward_entry, f64)},
    {CSM_NAME(sigmoid_entry, f32), CSM_NAME(sigmoid_entry, f64)},
    {CSM_NAME(bce_entry, f32), CSM_NAME(bce_entry, f64)},
};
