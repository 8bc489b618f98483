/* Template: the untyped entry points of this type's kernels, one signature per kernel kind, so
 * that the per-ISA table (csm_kernel_table.h) indexes every kind by [storage or dtype][op]. Each
 * only casts and calls (gcc inlines the kernel into it: it has no other caller). */

/* rows r0..r1 of a call (csm_rows.h), x and out in T with uniform strides */
#define CSM_ROWS_ENTRY(kernel)                                                                     \
    static int CSM_FN(kernel##_entry)(const csm_call *c, ptrdiff_t r0, ptrdiff_t r1)               \
    {                                                                                              \
        CSM_FN(kernel)((const T *)(c->x + r0 * c->ldx), (T *)(c->out + r0 * c->ldo), r1 - r0,      \
                       c->n, c->ldx / (ptrdiff_t)sizeof(T), c->ldo / (ptrdiff_t)sizeof(T));        \
        return 0;                                                                                  \
    }
CSM_ROWS_ENTRY(softmax_rows)
CSM_ROWS_ENTRY(log_softmax_rows)
CSM_ROWS_ENTRY(logsumexp_rows)
#undef CSM_ROWS_ENTRY

#define CSM_PASS_ENTRY(kernel)                                                                     \
    static void CSM_FN(kernel##_entry)(const void *x, void *out, ptrdiff_t a, ptrdiff_t b,         \
                                       ptrdiff_t c, ptrdiff_t d)                                   \
    {                                                                                              \
        CSM_FN(kernel)((const T *)x, (T *)out, a, b, c, d);                                        \
    }
CSM_PASS_ENTRY(softmax_cols)
CSM_PASS_ENTRY(log_softmax_cols)
CSM_PASS_ENTRY(logsumexp_cols)
#undef CSM_PASS_ENTRY

/* fused (csm_rows_fused.h) and half (csm_rows_half.h, this build's float32 only): the op is a
 * constant in each */
#define CSM_CALL_ENTRY(name, kernel, op)                                                           \
    static int CSM_FN(name##_entry)(const csm_call *c, ptrdiff_t r0, ptrdiff_t r1)                 \
    {                                                                                              \
        csm_call part = csm_call_part(c, r0, r1);                                                  \
        return CSM_FN(kernel)(&part, op);                                                          \
    }
CSM_CALL_ENTRY(softmax_fused, fused_rows, CSM_SOFTMAX)
CSM_CALL_ENTRY(log_softmax_fused, fused_rows, CSM_LOG_SOFTMAX)
CSM_CALL_ENTRY(logsumexp_fused, fused_rows, CSM_LOGSUMEXP)
#if CSM_AVX512 && defined(CSM_F32)
CSM_CALL_ENTRY(softmax_half, half_rows, CSM_SOFTMAX)
CSM_CALL_ENTRY(log_softmax_half, half_rows, CSM_LOG_SOFTMAX)
#endif
#undef CSM_CALL_ENTRY

static int CSM_FN(cross_entropy_entry)(const csm_ce_args *a)
{
    T *coef = NULL;
    if (a->prob) {
        coef = (T *)malloc((size_t)(a->ncls > 0 ? a->ncls : 1) * sizeof(T));
        if (!coef) return -1;
    }
    CSM_FN(cross_entropy_rows)((const T *)a->x, a->nrows, a->ncls, a->ldx,
                               (const int64_t *)a->target, (int64_t)a->ignore_index,
                               (const T *)a->prob, a->ldq, (const T *)a->weight, a->weight_total,
                               a->smoothing, a->grad_scale, (T *)a->grad, a->ldg, a->loss, coef);
    free(coef);
    return 0;
}

/* partial statistics and normalization of chunks of rows (csm_stats.h) */
static void CSM_FN(stats_rows_entry)(const void *x, ptrdiff_t nrows, ptrdiff_t n, ptrdiff_t ldx,
                                     double *max, double *excess)
{
    CSM_FN(stats_rows)((const T *)x, nrows, n, ldx, max, excess);
}

#define CSM_FROM_STATS_ENTRY(name, log)                                                            \
    static void CSM_FN(name##_from_stats_entry)(                                                   \
        const void *x, void *out, ptrdiff_t nrows, ptrdiff_t n, ptrdiff_t ldx, ptrdiff_t ldo,      \
        const double *max, const double *excess, const double *scale, const double *bias,          \
        const void *wc)                                                                            \
    {                                                                                              \
        CSM_FN(from_stats_rows)((const T *)x, (T *)out, nrows, n, ldx, ldo, max, excess, scale,    \
                                bias, (const T *)wc, log);                                         \
    }
CSM_FROM_STATS_ENTRY(softmax, 0)
CSM_FROM_STATS_ENTRY(log_softmax, 1)
#undef CSM_FROM_STATS_ENTRY

#define CSM_BACKWARD_ENTRY(kernel)                                                                 \
    static void CSM_FN(kernel##_entry)(const void *g, const void *y, void *out, ptrdiff_t nrows,   \
                                       ptrdiff_t n)                                                \
    {                                                                                              \
        CSM_FN(kernel)((const T *)g, (const T *)y, (T *)out, nrows, n);                            \
    }
CSM_BACKWARD_ENTRY(softmax_backward_rows)
CSM_BACKWARD_ENTRY(log_softmax_backward_rows)
#undef CSM_BACKWARD_ENTRY

static void CSM_FN(sigmoid_entry)(const void *x, void *out, ptrdiff_t n)
{
    CSM_FN(sigmoid)((const T *)x, (T *)out, n);
}

static void CSM_FN(log_sigmoid_entry)(const void *x, void *out, ptrdiff_t n)
{
    CSM_FN(log_sigmoid)((const T *)x, (T *)out, n);
}

static double CSM_FN(binary_cross_entropy_entry)(const void *x, const void *t, const void *w,
                                                 ptrdiff_t n, double grad_scale, void *loss,
                                                 void *grad)
{
    return CSM_FN(binary_cross_entropy)((const T *)x, (const T *)t, (const T *)w, n, grad_scale,
                                        (T *)loss, (T *)grad);
}
