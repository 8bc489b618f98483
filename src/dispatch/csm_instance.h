/* The kernel templates, in dependency order: csm_kernels.c includes this once per type (with
 * CSM_F32 or CSM_F64 defined), so the list is written once. Three templates are included where
 * they are used instead, between the functions they call and those that call them:
 * csm_rows.h includes csm_rows_long.h and csm_rows_lse.h, csm_rows_fused.h includes
 * csm_rows_half.h. csm_half.h is type-independent (its include guard keeps the second type's
 * inclusion empty). csm_types.h and csm_simd.h replace the previous type's macros; the other
 * templates #undef what they define, or define it once per build under a guard. */
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
#include "csm_decode_simd.h"
#include "csm_select.h"
#include "csm_exp_pass.h"
#include "csm_top_p.h"
#include "csm_draw.h"
#include "csm_decode_scratch.h"
#include "csm_sample_rows.h"
#include "csm_top_k_rows.h"
#include "csm_decode_rows.h"
#include "csm_entries.h"
