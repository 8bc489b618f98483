/* Template: untyped entry points of the training kernels for the per-ISA table (csoftmax.h). */

static int CSM_FN(ce_entry)(const csm_ce_args *a)
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

static void CSM_FN(backward_entry)(int log, const void *g, const void *y, void *out,
                                   ptrdiff_t nrows, ptrdiff_t n)
{
    if (log)
        CSM_FN(log_softmax_backward_rows)((const T *)g, (const T *)y, (T *)out, nrows, n);
    else
        CSM_FN(softmax_backward_rows)((const T *)g, (const T *)y, (T *)out, nrows, n);
}

static void CSM_FN(sigmoid_entry)(int log, const void *x, void *out, ptrdiff_t n)
{
    if (log)
        CSM_FN(log_sigmoid)((const T *)x, (T *)out, n);
    else
        CSM_FN(sigmoid)((const T *)x, (T *)out, n);
}

static double CSM_FN(bce_entry)(const void *x, const void *t, const void *w, ptrdiff_t n,
                                double grad_scale, void *loss, void *grad)
{
    return CSM_FN(binary_cross_entropy)((const T *)x, (const T *)t, (const T *)w, n, grad_scale,
                                        (T *)loss, (T *)grad);
}
