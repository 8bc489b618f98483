/* Template: the row drivers of top_k_softmax and sample, and their entry points for the kernel
 * table (csm_entries.h), over rows r0..r1 with this thread's scratch. */

/* rows r0..r1 of either function (which = 0: top_k_softmax, 1: sample); -1 when out of memory */
static int CSM_FN(decode_rows)(const csm_decode_args *a, int which, ptrdiff_t r0, ptrdiff_t r1)
{
    CSM_FN(decode_scratch) s;
    if (CSM_FN(scratch_get)(&s, a->n) != 0) return -1;
    const T *x = (const T *)a->x;
    for (ptrdiff_t r = r0; r < r1; r++) {
        const T *row = x + r * a->ldx, *next = r + 1 < r1 ? row + a->ldx : NULL;
        if (which)
            a->status[r] = (signed char)CSM_FN(sample_row)(row, a->n, a, a->u[r], &s,
                                                           a->indices + r, next);
        else
            a->status[r] = (signed char)CSM_FN(top_k_row)(
                row, a->n, a, &s, (T *)a->values + r * a->k, a->indices + r * a->k, next);
    }
    return 0;
}

static int CSM_FN(top_k_softmax_entry)(const csm_decode_args *a, ptrdiff_t r0, ptrdiff_t r1)
{
    return CSM_FN(decode_rows)(a, 0, r0, r1);
}

static int CSM_FN(sample_entry)(const csm_decode_args *a, ptrdiff_t r0, ptrdiff_t r1)
{
    return CSM_FN(decode_rows)(a, 1, r0, r1);
}
