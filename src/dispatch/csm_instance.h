/* Every kernel template, in dependency order: csm_kernels.c includes this once per type (with
 * CSM_F32 or CSM_F64 defined), so the list is written once. csm_types.h and csm_simd.h replace
 * the previous type's macros; every other header #undefs what it defines. */
#include "csm_types.h"
#include "csm_simd.h"
#include "csm_exp.h"
#include "csm_log.h"
#include "csm_cols.h"
#include "csm_rows_small.h"
#include "csm_rows.h"
#include "csm_half.h"
#include "csm_rows_fused.h"
#include "csm_losses.h"
#include "csm_stats.h"
#include "csm_elementwise.h"
#include "csm_decode.h"
#include "csm_entries.h"
