/* Internal: the table of one instruction set's kernels, filled by each build of csm_kernels.c
 * (csm_table_<isa>) and read by csm_dispatch.c and csm_planner.c. The softmax family's kinds are
 * indexed [storage][op] (rows) or [dtype][op]; the entries are untyped (csm_entries.h), so the
 * dispatcher has no per-type branches. */
#ifndef CSM_KERNEL_TABLE_H
#define CSM_KERNEL_TABLE_H
#include <stddef.h>
#include "csoftmax.h"

#define CSM_NUM_DTYPES 2

/* Row r's byte offset in operand p (x, o, b or w) of csm_call a: its offset array's entry, else
 * r times its stride. */
#define CSM_AT(a, p, r) ((a)->p##off ? (a)->p##off[r] : (r) * (a)->ld##p)

/* Rows r0..r1 of a call as a call of their own. */
static inline csm_call csm_call_part(const csm_call *c, ptrdiff_t r0, ptrdiff_t r1)
{
    csm_call p = *c;
    p.nrows = r1 - r0;
    if (p.xoff) p.xoff += r0;
    else p.x += r0 * p.ldx;
    if (p.ooff) p.ooff += r0;
    else p.out += r0 * p.ldo;
    if (p.scale) p.scale += r0 * p.sstep;
    if (p.bias && p.boff) p.boff += r0;
    else if (p.bias) p.bias += r0 * p.ldb;
    if (p.where && p.woff) p.woff += r0;
    else if (p.where) p.where += r0 * p.ldw;
    return p;
}

/* Rows r0..r1 of a call (csm_planner.c); returns 0, or -1 when out of memory. */
typedef int (*csm_call_fn)(const csm_call *c, ptrdiff_t r0, ptrdiff_t r1);

/* cols: (nouter, nred, ninner) reduced over the middle axis, the first ncols columns */
typedef void (*csm_pass_fn)(const void *x, void *out, ptrdiff_t a0, ptrdiff_t a1, ptrdiff_t a2,
                            ptrdiff_t a3);

typedef struct {
    /* [storage][op]: x and out stored alike, nothing fused. float32 and float64: the row kernels
     * (csm_rows.h), uniform strides only; float16 and bfloat16: the half kernels (csm_rows_half.h),
     * softmax and log_softmax in AVX-512 builds, NULL elsewhere */
    csm_call_fn rows[CSM_NUM_STORAGES][CSM_NUM_OPS];
    csm_pass_fn cols[CSM_NUM_DTYPES][CSM_NUM_OPS];
    /* [compute dtype][op]: z = x * scale + bias with where=, any storage (csm_rows_fused.h) */
    csm_call_fn fused[CSM_NUM_DTYPES][CSM_NUM_OPS];
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
    /* [dtype][0: top_k_softmax, 1: sample], rows r0..r1 (decode/csm_decode_rows.h) */
    int (*decode[CSM_NUM_DTYPES][2])(const csm_decode_args *a, ptrdiff_t r0, ptrdiff_t r1);
} csm_kernel_table;

/* csm_dispatch.c: the table of the instruction set in use, and the one threading scheme: [0, n)
 * in contiguous parts, one per thread, each given to part(ctx, r0, r1); nonzero if any part
 * returned nonzero. */
const csm_kernel_table *csm_table(void);
typedef int (*csm_part_fn)(const void *ctx, ptrdiff_t r0, ptrdiff_t r1);
int csm_split_rows(ptrdiff_t n, int nthreads, csm_part_fn part, const void *ctx);
#endif
