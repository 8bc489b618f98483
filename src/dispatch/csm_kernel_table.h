/* Internal: the table of one instruction set's kernels, filled by each build of csm_kernels.c
 * (csm_table_<isa>) and read by csm_dispatch.c. Every kind is indexed [dtype][op]; the entries
 * are untyped (csm_entries.h), so the dispatcher has no per-dtype branches. */
#ifndef CSM_KERNEL_TABLE_H
#define CSM_KERNEL_TABLE_H
#include <stddef.h>
#include "csoftmax.h"

#define CSM_NUM_DTYPES 2

/* rows: nrows rows of n, row r of x at x + r*a2 elements, of out at out + r*a3 (csm_rows);
 * cols: (nouter, nred, ninner) reduced over the middle axis, the first ncols columns (csm_cols) */
typedef void (*csm_pass_fn)(const void *x, void *out, ptrdiff_t a0, ptrdiff_t a1, ptrdiff_t a2,
                            ptrdiff_t a3);

typedef struct {
    csm_pass_fn rows[CSM_NUM_DTYPES][CSM_NUM_OPS];
    csm_pass_fn cols[CSM_NUM_DTYPES][CSM_NUM_OPS];
    /* z = x * scale + bias with where= (csm_rows_fused.h); returns -1 when out of memory */
    int (*fused[CSM_NUM_DTYPES][CSM_NUM_OPS])(const csm_fused_args *a);
    int (*cross_entropy[CSM_NUM_DTYPES])(const csm_ce_args *a);
    /* [dtype][0: softmax, 1: log_softmax] */
    void (*softmax_backward[CSM_NUM_DTYPES][2])(const void *g, const void *y, void *out,
                                                ptrdiff_t nrows, ptrdiff_t n);
    /* [dtype][0: sigmoid, 1: log_sigmoid] */
    void (*sigmoid[CSM_NUM_DTYPES][2])(const void *x, void *out, ptrdiff_t n);
    /* rows split into chunks (csm_stats.h): a chunk's statistics; [dtype][0: softmax, 1:
     * log_softmax] of a chunk from the whole rows' statistics */
    void (*stats[CSM_NUM_DTYPES])(const void *x, ptrdiff_t nrows, ptrdiff_t n, ptrdiff_t ldx,
                                  double *max, double *excess);
    void (*from_stats[CSM_NUM_DTYPES][2])(const void *x, void *out, ptrdiff_t nrows, ptrdiff_t n,
                                          ptrdiff_t ldx, ptrdiff_t ldo, const double *max,
                                          const double *excess, const double *scale,
                                          const double *bias, const void *wc);
    double (*binary_cross_entropy[CSM_NUM_DTYPES])(const void *x, const void *t, const void *w,
                                                   ptrdiff_t n, double grad_scale, void *loss,
                                                   void *grad);
    /* [dtype][0: top_k_softmax, 1: sample], rows r0..r1 (csm_decode.h) */
    int (*decode[CSM_NUM_DTYPES][2])(const csm_decode_args *a, ptrdiff_t r0, ptrdiff_t r1);
} csm_kernel_table;

#endif
